//! The cost of naming a `ClusterManager` without type parameters: the same requests through
//! the generic manager (`ClusterManager<FakeTransport>`) and through the erased one
//! (`ClusterManager`, over `DynTransport`), in the same run, over the in-process fake cluster so
//! that no network time hides the difference. Also the bare transport call, to isolate the
//! boxing from the fake's own work.

use std::hint::black_box;

use clustermanager_core::{ClusterManager, DynTransport, Transport};
use clustermanager_fake::{block_on, FakeCluster, FakeTransport};
use criterion::{criterion_group, criterion_main, Criterion};

fn nodes_request() -> Option<clustermanager_core::Request> {
    clustermanager_core::step::request(http::Method::GET, "/api/v1/nodes", None).ok()
}

fn erased(c: &mut Criterion) {
    let fake = FakeCluster::kubernetes();
    let Ok(generic) = block_on(fake.cluster_manager()) else {
        eprintln!("the fake cluster did not connect");
        return;
    };
    let erased: ClusterManager = generic.clone().erase();

    let mut group = c.benchmark_group("erased_vs_generic");
    group.bench_function("get_nodes/generic", |b| b.iter(|| black_box(block_on(generic.get_nodes()))));
    group.bench_function("get_nodes/erased", |b| b.iter(|| black_box(block_on(erased.get_nodes()))));

    let transport: FakeTransport = fake.transport();
    let dyn_transport = DynTransport::new(fake.transport());
    group.bench_function("transport_send/generic", |b| {
        b.iter(|| {
            nodes_request()
                .map(|req| black_box(block_on(transport.send(req, clustermanager_core::deadline::Io::new()))))
        })
    });
    group.bench_function("transport_send/erased", |b| {
        b.iter(|| {
            nodes_request()
                .map(|req| black_box(block_on(dyn_transport.send(req, clustermanager_core::deadline::Io::new()))))
        })
    });
    group.finish();
}

criterion_group!(benches, erased);
criterion_main!(benches);
