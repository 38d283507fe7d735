//! Decoding recorded server bodies: core's incremental decoders against the raw serde_json floor,
//! measured in the same run so the numbers compare as ratios.
//!
//! - `watch/*`: a Kubernetes watch stream of 2,000 real-shaped pod events (built from the pod in
//!   `acm-12-watch-pods-jobs.json`, ~7 KB each), fed in 16 KiB chunks.
//! - `pod_list/*`: a PodList of 5,000 real-shaped pods (the pod of `acm-26-job-with-node-agent.json`
//!   with distinct names, ~24 MB), decoded whole: k8s-openapi's `List<Pod>` (what kube-rs users
//!   get), `serde_json::Value`, and core's lean `Execution`s (what `list_job_executions` returns).
//! - `framed_logs/*`: 8 MiB of log text as Nomad framed JSON (64 KiB frames of base64, as the
//!   agent sends them), fed in 16 KiB chunks.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use base64::Engine as _;
use clustermanager_core::k8s::watch::{WatchDecoder, WatchEvent};
use clustermanager_core::nomad::frames::FrameDecoder;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::value::RawValue;

const CHUNK: usize = 16 * 1024;

fn fixture(path: &str) -> serde_json::Value {
    let full = format!("{}/../tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(full).unwrap()).unwrap()
}

/// 2,000 pod watch events, each a real recorded pod with its own name.
fn watch_stream() -> Vec<u8> {
    let scenario = fixture("k8s/acm-12-watch-pods-jobs.json");
    let body = scenario["exchanges"][2]["response"]["body"].as_str().unwrap();
    let first = body.lines().next().unwrap();
    let mut out = Vec::new();
    for i in 0..2000 {
        out.extend_from_slice(first.replace("watched-m7hns", &format!("watched-{i:05}")).as_bytes());
        out.push(b'\n');
    }
    out
}

/// 8 MiB of log lines as 64 KiB framed JSON frames.
fn framed_logs() -> Vec<u8> {
    let mut text = Vec::new();
    let mut n = 0;
    while text.len() < 8 << 20 {
        text.extend_from_slice(format!("line {n}: the quick brown fox jumps over the lazy dog\n").as_bytes());
        n += 1;
    }
    let mut out = Vec::new();
    let mut offset = 0;
    for piece in text.chunks(48 * 1024) {
        offset += piece.len();
        let data = base64::engine::general_purpose::STANDARD.encode(piece);
        out.extend_from_slice(
            format!(r#"{{"Data":"{data}","File":"alloc/logs/main.stdout.0","Offset":{offset}}}"#).as_bytes(),
        );
        out.extend_from_slice(b"{}");
    }
    out
}

#[derive(serde::Deserialize)]
struct LeanPod<'a> {
    #[serde(borrow)]
    metadata: LeanMeta<'a>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeanMeta<'a> {
    #[serde(borrow)]
    name: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    resource_version: std::borrow::Cow<'a, str>,
}

fn bench_watch(c: &mut Criterion) {
    let stream = watch_stream();
    let mut group = c.benchmark_group("watch");
    group.throughput(Throughput::Bytes(stream.len() as u64));
    group.sample_size(20);
    group.bench_function("floor_serde_json_value_per_line", |b| {
        b.iter(|| {
            let mut n = 0;
            for line in stream.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                let v: serde_json::Value = serde_json::from_slice(line).unwrap();
                n += v["object"]["metadata"]["name"].as_str().map_or(0, str::len);
            }
            black_box(n)
        })
    });
    group.bench_function("core_watch_decoder_raw_objects", |b| {
        b.iter(|| {
            let mut d = WatchDecoder::<Box<RawValue>>::default();
            let mut n = 0;
            for chunk in stream.chunks(CHUNK) {
                d.push(chunk);
                while let Some(ev) = d.next_event().unwrap() {
                    if let WatchEvent::Added(obj) = ev {
                        n += obj.get().len();
                    }
                }
            }
            black_box(n)
        })
    });
    group.bench_function("core_line_framing_then_lean_borrowed_parse", |b| {
        b.iter(|| {
            let mut lines = clustermanager_core::lines::LineSplitter::new("bench", 1 << 24);
            let mut n = 0;
            for chunk in stream.chunks(CHUNK) {
                lines.push(chunk);
                while let Some(line) = lines.next_line().unwrap() {
                    #[derive(serde::Deserialize)]
                    struct Ev<'a> {
                        #[serde(borrow)]
                        object: LeanPod<'a>,
                    }
                    let ev: Ev<'_> = serde_json::from_slice(&line).unwrap();
                    n += ev.object.metadata.name.len() + ev.object.metadata.resource_version.len();
                }
            }
            black_box(n)
        })
    });
    group.finish();
}

/// A PodList body of 5,000 pods.
fn pod_list() -> Vec<u8> {
    let scenario = fixture("k8s/acm-26-job-with-node-agent.json");
    let pod = scenario["exchanges"][6]["response"]["body"].as_str().unwrap().trim_end();
    let mut out = br#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":["#.to_vec();
    for i in 0..5000 {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(pod.replace("printer-vhpr6", &format!("printer-{i:05}")).as_bytes());
    }
    out.extend_from_slice(b"]}");
    out
}

fn bench_pod_list(c: &mut Criterion) {
    let body = bytes::Bytes::from(pod_list());
    let mut group = c.benchmark_group("pod_list");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.sample_size(10);
    group.bench_function("k8s_openapi_list_pod", |b| {
        b.iter(|| {
            let list: k8s_openapi::List<k8s_openapi::api::core::v1::Pod> = serde_json::from_slice(&body).unwrap();
            black_box(list.items.len())
        })
    });
    group.bench_function("serde_json_value", |b| {
        b.iter(|| {
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            black_box(v["items"].as_array().map(Vec::len))
        })
    });
    group.bench_function("core_lean_executions", |b| {
        b.iter(|| {
            let resp = http::Response::new(body.clone());
            let executions = clustermanager_core::k8s::execution::parse_list(resp).unwrap();
            black_box(executions.len())
        })
    });
    group.finish();
}

fn bench_framed_logs(c: &mut Criterion) {
    let body = framed_logs();
    let mut group = c.benchmark_group("framed_logs");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.sample_size(20);
    group.bench_function("floor_serde_json_stream_value_plus_base64", |b| {
        b.iter(|| {
            let mut n = 0;
            for v in serde_json::Deserializer::from_slice(&body).into_iter::<serde_json::Value>() {
                let v = v.unwrap();
                if let Some(data) = v.get("Data").and_then(|d| d.as_str()) {
                    n += base64::engine::general_purpose::STANDARD.decode(data).unwrap().len();
                }
            }
            black_box(n)
        })
    });
    group.bench_function("core_frame_decoder_16k_chunks", |b| {
        b.iter(|| {
            let mut d = FrameDecoder::new();
            let mut n = 0;
            for chunk in body.chunks(CHUNK) {
                d.push(chunk);
                while let Some(frame) = d.next_frame().unwrap() {
                    n += frame.data.len();
                }
            }
            black_box(n)
        })
    });
    group.finish();
}

criterion_group!(benches, bench_watch, bench_pod_list, bench_framed_logs);
criterion_main!(benches);
