//! Raw streams from the fake servers: Kubernetes watches and the Nomad event stream, read
//! through the `Transport` the way core's driver reads them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Duration;

use bytes::Bytes;
use clustermanager_core::transport::Opened;
use clustermanager_core::{BodyStream, Chunk, Transport};
use clustermanager_fake::{block_on, FakeCluster, FakeOptions, FakeTransport, KubernetesVersion};
use serde_json::Value;

fn request(method: &str, uri: &str, body: &str) -> clustermanager_core::Request {
    let mut b = http::Request::builder().method(method).uri(uri);
    if method == "PATCH" {
        b = b.header("content-type", "application/merge-patch+json");
    }
    b.body(Bytes::from(body.to_owned())).unwrap()
}

fn send(t: &FakeTransport, method: &str, uri: &str, body: &str) -> Value {
    let resp = block_on(t.send(request(method, uri, body), clustermanager_core::deadline::Io::new())).unwrap();
    assert!(resp.status().is_success(), "{method} {uri}: {}", String::from_utf8_lossy(resp.body()));
    serde_json::from_slice(resp.body()).unwrap_or(Value::Null)
}

/// Open `uri` and read it to its end, one JSON document per line.
fn read_lines(t: &FakeTransport, uri: &str, timeout: Option<Duration>) -> (Vec<Value>, bool) {
    let Opened::Stream(_, mut body) =
        block_on(t.open(request("GET", uri, ""), clustermanager_core::deadline::Io::new())).unwrap()
    else {
        panic!("not a stream")
    };
    let mut text = Vec::new();
    let timed_out = loop {
        match block_on(body.next_chunk(timeout)) {
            Chunk::Data(b) => text.extend_from_slice(&b),
            Chunk::End => break false,
            Chunk::TimedOut => break true,
            Chunk::Failed(e) => panic!("{e}"),
        }
    };
    let lines = String::from_utf8(text).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (lines, timed_out)
}

#[test]
fn a_kubernetes_watch_streams_changes_after_its_version_then_ends_at_its_timeout() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let t = fake.transport();
        send(&t, "POST", "/api/v1/namespaces", r#"{"metadata":{"name":"w"}}"#);
        let list = send(&t, "GET", "/api/v1/namespaces/w/configmaps", "");
        let rv = list["metadata"]["resourceVersion"].as_str().unwrap().to_owned();
        send(&t, "POST", "/api/v1/namespaces/w/configmaps", r#"{"metadata":{"name":"a","labels":{"x":"1"}}}"#);
        send(&t, "POST", "/api/v1/namespaces/w/configmaps", r#"{"metadata":{"name":"b"}}"#);
        send(&t, "PATCH", "/api/v1/namespaces/w/configmaps/a", r#"{"data":{"k":"v"}}"#);
        send(&t, "DELETE", "/api/v1/namespaces/w/configmaps/a", "");
        let before = fake.elapsed();
        let (events, timed_out) = read_lines(
            &t,
            &format!("/api/v1/namespaces/w/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=30&labelSelector=x"),
            None,
        );
        assert!(!timed_out);
        let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["ADDED", "MODIFIED", "DELETED"]);
        assert_eq!(events[1]["object"]["data"]["k"], "v");
        assert_eq!(fake.elapsed() - before, Duration::from_secs(30), "the watch ended at its timeoutSeconds");
        // With bookmarks asked for, one arrives a second before the timeout, carrying the current version.
        let (events, _) = read_lines(&t, &format!("/api/v1/namespaces/w/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=5&allowWatchBookmarks=true&labelSelector=nope"), None);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["type"], "BOOKMARK");
        assert_eq!(events[0]["object"]["kind"], "ConfigMap");
        assert_eq!(events[0]["object"]["metadata"]["resourceVersion"], fake.version().to_string());
        // A read timeout shorter than the watch reports TimedOut with the stream still open.
        let (events, timed_out) = read_lines(
            &t,
            &format!("/api/v1/namespaces/w/configmaps?watch=1&resourceVersion={}", fake.version()),
            Some(Duration::from_secs(5)),
        );
        assert!(events.is_empty() && timed_out);
    }
}

#[test]
fn the_nomad_event_stream_reports_a_job_lifecycle() {
    let fake = FakeCluster::nomad();
    let t = fake.transport();
    let job = r#"{"Job":{"ID":"ev","Type":"batch","Datacenters":["dc1"],"TaskGroups":[{"Name":"main","Count":1,"Tasks":[{"Name":"main","Driver":"raw_exec","Config":{"command":"/bin/sh","args":["-c","echo hi"]}}]}]}}"#;
    let reg = send(&t, "POST", "/v1/jobs", job);
    let index = reg["Index"].as_u64().unwrap();
    let (frames, _) = read_lines(&t, &format!("/v1/event/stream?topic=Job:ev&topic=Allocation&index={index}"), None);
    assert_eq!(frames[0], serde_json::json!({}), "a heartbeat first, as Nomad sends");
    let events: Vec<(String, String)> = frames[1..]
        .iter()
        .flat_map(|f| f["Events"].as_array().unwrap().iter())
        .map(|e| (e["Topic"].as_str().unwrap().to_owned(), e["Type"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(events.first().map(|e| e.1.as_str()), Some("JobRegistered"));
    assert!(events.iter().any(|e| e.0 == "Allocation"));
    let allocs = send(&t, "GET", "/v1/job/ev/allocations", "");
    assert_eq!(allocs[0]["ClientStatus"], "complete", "the stream ran until nothing more was scheduled");
    let bad =
        block_on(t.open(request("GET", "/v1/event/stream?index=abc", ""), clustermanager_core::deadline::Io::new()))
            .unwrap();
    let Opened::Complete(resp) = bad else { panic!("expected an error answer") };
    assert_eq!(resp.status().as_u16(), 400);
}

#[test]
fn a_nomad_blocking_query_returns_when_the_index_moves_or_the_wait_ends() {
    let fake = FakeCluster::nomad();
    let t = fake.transport();
    let job = r#"{"Job":{"ID":"bq","Type":"batch","Datacenters":["dc1"],"TaskGroups":[{"Name":"main","Count":1,"Tasks":[{"Name":"main","Driver":"raw_exec","Config":{"command":"/bin/sh","args":["-c","sleep 20"]}}]}]}}"#;
    send(&t, "POST", "/v1/jobs", job);
    let first = block_on(t.send(request("GET", "/v1/job/bq", ""), clustermanager_core::deadline::Io::new())).unwrap();
    let index: u64 = first.headers()["x-nomad-index"].to_str().unwrap().parse().unwrap();
    let before = fake.elapsed();
    let next = block_on(t.send(
        request("GET", &format!("/v1/job/bq?index={index}&wait=60s"), ""),
        clustermanager_core::deadline::Io::new(),
    ))
    .unwrap();
    let moved: u64 = next.headers()["x-nomad-index"].to_str().unwrap().parse().unwrap();
    assert!(moved > index);
    assert_eq!(fake.elapsed() - before, Duration::from_secs(1), "answered when the allocation started");
    let done = block_on(t.send(
        request("GET", &format!("/v1/job/bq?index={moved}&wait=5s"), ""),
        clustermanager_core::deadline::Io::new(),
    ))
    .unwrap();
    assert_eq!(done.headers()["x-nomad-index"].to_str().unwrap(), moved.to_string(), "the wait ran out first");
    assert_eq!(fake.elapsed() - before, Duration::from_secs(6));
}
