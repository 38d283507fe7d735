//! Decoding time, with criterion: for every body of [`clustermanager_benches::suites`], the floor
//! (serde_json into a minimal borrowed struct), the peers (k8s-openapi, `serde_json::Value`) and
//! core's decoder (the streams fed in 1 KiB and 64 KiB chunks), in the same run so the numbers
//! compare as ratios. See BENCHMARKS.md; `--bench report` prints the ratios directly.

#![allow(missing_docs)]

use clustermanager_benches::suites::{suites, Sizes};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn bench_decode(c: &mut Criterion) {
    for suite in suites(Sizes::FULL) {
        let mut group = c.benchmark_group(suite.name);
        group.throughput(Throughput::Bytes(suite.body.len() as u64));
        group.sample_size(10);
        for case in &suite.cases {
            group.bench_function(case.name.as_str(), |b| b.iter(|| (case.run)(&suite.body)));
        }
        group.finish();
    }
}

criterion_group!(benches, bench_decode);
criterion_main!(benches);
