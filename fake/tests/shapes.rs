//! The fake answers in the recorded servers' shapes: recorded requests from
//! `tests/fixtures/{k8s,nomad}` are sent to the fake, and its answers are compared with the
//! recorded ones: same status, same error bodies byte for byte, and JSON objects that use only
//! field names the real server used (the fake may omit fields, never invent them).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use bytes::Bytes;
use clustermanager_core::{Response, Transport};
use clustermanager_fake::{block_on, FakeCluster, FakeOptions, KubernetesVersion};
use serde_json::Value;

/// The recording of Kubernetes scenario `file` from the server `version` stands for.
fn k8s(version: KubernetesVersion, file: &str) -> String {
    match version {
        KubernetesVersion::V1_19 => format!("k8s/{file}"),
        KubernetesVersion::V1_36 => format!("k8s-1.36/{file}"),
    }
}

fn exchanges(file: &str) -> Vec<Value> {
    let path = format!("{}/../tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let v: Value = serde_json::from_str(&text).unwrap();
    v["exchanges"].as_array().unwrap().clone()
}

/// Send exchange `ex`'s recorded request (path possibly rewritten) to the fake.
fn send(fake: &FakeCluster, ex: &Value, path: Option<&str>) -> Response {
    let req = &ex["request"];
    let mut builder = http::Request::builder()
        .method(req["method"].as_str().unwrap())
        .uri(path.unwrap_or(req["path"].as_str().unwrap()));
    if let Some(ct) = req["headers"]["Content-Type"].as_str() {
        builder = builder.header("content-type", ct);
    }
    let body = req["body"].as_str().map(|b| Bytes::from(b.to_owned())).unwrap_or_default();
    block_on(fake.transport().send(builder.body(body).unwrap(), clustermanager_core::deadline::Io::new())).unwrap()
}

fn recorded_status(ex: &Value) -> u16 {
    ex["response"]["status"].as_u64().unwrap() as u16
}

fn recorded_body(ex: &Value) -> &str {
    ex["response"]["body"].as_str().unwrap()
}

fn text(resp: &Response) -> &str {
    std::str::from_utf8(resp.body()).unwrap()
}

/// Every field name in `fake` also appears at the same place in `real`.
fn assert_same_shape(fake: &Value, real: &Value, at: &str) {
    match (fake, real) {
        (Value::Object(f), Value::Object(r)) => {
            for (k, v) in f {
                let Some(rv) = r.get(k) else {
                    // Maps keyed by user data (labels, task names, ...) are not field names.
                    if [
                        "labels",
                        "Summary",
                        "TaskStates",
                        "TaskGroups",
                        "data",
                        "capacity",
                        "allocatable",
                        "Tags",
                        "Env",
                        "Config",
                    ]
                    .iter()
                    .any(|m| at.ends_with(m))
                    {
                        continue;
                    }
                    panic!(
                        "{at}.{k} is not a field the real server sends (it sends {:?})",
                        r.keys().collect::<Vec<_>>()
                    );
                };
                assert_same_shape(v, rv, &format!("{at}.{k}"));
            }
        }
        (Value::Array(f), Value::Array(r)) if !f.is_empty() && !r.is_empty() => {
            assert_same_shape(&f[0], &r[0], &format!("{at}[0]"))
        }
        _ => {}
    }
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

#[test]
fn kubernetes_namespace_lifecycle_matches_the_recording() {
    for version in KubernetesVersion::ALL {
        let ex = exchanges(&k8s(version, "acm-06-namespace-lifecycle.json"));
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        for i in [0, 1, 2, 3, 4, 5] {
            let resp = send(&fake, &ex[i], None);
            assert_eq!(resp.status().as_u16(), recorded_status(&ex[i]), "exchange {i}: {}", text(&resp));
            if resp.status().is_success() {
                assert_same_shape(&json_of(resp.body()), &json_of(recorded_body(&ex[i]).as_bytes()), "$");
            } else {
                assert_eq!(text(&resp), recorded_body(&ex[i]), "exchange {i}");
            }
        }
        fake.advance(std::time::Duration::from_secs(5));
        for i in [6, 7, 8] {
            let resp = send(&fake, &ex[i], None);
            assert_eq!(resp.status().as_u16(), recorded_status(&ex[i]));
            assert_eq!(text(&resp), recorded_body(&ex[i]), "exchange {i}");
        }
    }
}

#[test]
fn kubernetes_job_and_pod_shapes_match_the_recording() {
    for version in KubernetesVersion::ALL {
        let ex = exchanges(&k8s(version, "acm-08-job-succeeds.json"));
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let ns = serde_json::json!({"metadata": {"name": "acm-jobs"}}).to_string();
        let req = http::Request::builder().method("POST").uri("/api/v1/namespaces").body(Bytes::from(ns)).unwrap();
        block_on(fake.transport().send(req, clustermanager_core::deadline::Io::new())).unwrap();
        // the 1.36 recorder gated the pods (spec.schedulingGates) to keep them from its stand-in
        // kubelet; the fake has no scheduling gates: send the Job without them
        let mut create = ex[0].clone();
        let body = create["request"]["body"].as_str().unwrap().to_owned();
        let mut job: Value = serde_json::from_str(&body).unwrap();
        if let Some(spec) = job["spec"]["template"]["spec"].as_object_mut() {
            spec.remove("schedulingGates");
        }
        create["request"]["body"] = Value::String(job.to_string());
        let created = send(&fake, &create, None);
        assert_eq!(created.status().as_u16(), 201);
        assert_same_shape(&json_of(created.body()), &json_of(recorded_body(&ex[0]).as_bytes()), "$");
        fake.advance(std::time::Duration::from_secs(5));
        let job = send(&fake, &ex[7], None);
        assert_same_shape(&json_of(job.body()), &json_of(recorded_body(&ex[7]).as_bytes()), "$");
        // The recorded list caught the job still running: compare the list, and its item with the
        // recorded finished job.
        let mut list = json_of(send(&fake, &ex[2], None).body());
        let item = list["items"][0].take();
        assert_same_shape(&list, &json_of(recorded_body(&ex[2]).as_bytes()), "$");
        assert_same_shape(&item, &json_of(recorded_body(&ex[7]).as_bytes()), "$.items[0]");
        // Pods as a node runs them (acm-26 had a stand-in kubelet; acm-08's pods were never bound).
        let bound = exchanges(&k8s(version, "acm-26-job-with-node-agent.json"));
        let pods = send(&fake, &ex[8], None);
        let pod = &json_of(pods.body())["items"][0];
        assert_same_shape(pod, &json_of(recorded_body(&bound[6]).as_bytes()), "$");
        let job = json_of(send(&fake, &ex[7], None).body());
        let conditions = job["status"]["conditions"].as_array().unwrap();
        let kinds: Vec<&str> = conditions.iter().filter_map(|c| c["type"].as_str()).collect();
        match version {
            KubernetesVersion::V1_19 => assert_eq!(kinds, ["Complete"]),
            KubernetesVersion::V1_36 => assert_eq!(kinds, ["SuccessCriteriaMet", "Complete"], "as acm-27 recorded"),
        }
        assert_eq!(job["status"]["succeeded"], 1);
        let pods = json_of(send(&fake, &ex[8], None).body());
        assert_eq!(pods["items"][0]["status"]["phase"], "Succeeded");
        assert_eq!(pods["items"][0]["metadata"]["labels"]["job-name"], "hello-ok");
        assert_eq!(pods["items"][0]["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"], 0);
    }
}

#[test]
fn kubernetes_watch_of_a_compacted_version_is_an_expired_error_event() {
    for version in KubernetesVersion::ALL {
        let ex = exchanges(&k8s(version, "acm-14-watch-expired-410.json"));
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        fake.compact();
        let resp = send(
            &fake,
            &ex[3],
            Some("/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=1&allowWatchBookmarks=true"),
        );
        assert_eq!(resp.status().as_u16(), 200);
        let event = json_of(resp.body());
        assert_eq!(event["type"], "ERROR");
        assert_eq!(event["object"]["code"], 410);
        assert_eq!(event["object"]["reason"], "Expired");
        let abc = ex.iter().find(|e| e["request"]["path"].as_str().unwrap().ends_with("resourceVersion=abc")).unwrap();
        let bad = send(&fake, abc, Some("/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=abc"));
        assert_eq!(bad.status().as_u16(), 500);
        assert_eq!(text(&bad), recorded_body(abc));
    }
}

#[test]
fn nomad_not_found_answers_match_the_recording() {
    let ex = exchanges("nomad/11-not-found.json");
    let fake = FakeCluster::nomad();
    for (i, e) in ex.iter().enumerate() {
        let resp = send(&fake, e, None);
        assert_eq!(resp.status().as_u16(), recorded_status(e), "exchange {i}: {}", text(&resp));
        if resp.status().is_success() {
            assert_same_shape(&json_of(resp.body()), &json_of(recorded_body(e).as_bytes()), "$");
        } else {
            assert_eq!(text(&resp), recorded_body(e), "exchange {i}");
            let ct = e["response"]["headers"]["content-type"].as_str();
            assert_eq!(resp.headers().get("content-type").and_then(|v| v.to_str().ok()), ct, "exchange {i}");
            assert_eq!(
                resp.headers().contains_key("x-nomad-index"),
                e["response"]["headers"]["x-nomad-index"].is_string(),
                "exchange {i}"
            );
        }
    }
}

#[test]
fn nomad_job_validation_errors_match_the_recording() {
    let ex = exchanges("nomad/10-invalid-job-specs.json");
    let fake = FakeCluster::nomad();
    for i in [0, 2, 3, 4, 5, 6, 7, 13] {
        let resp = send(&fake, &ex[i], None);
        assert_eq!(resp.status().as_u16(), recorded_status(&ex[i]), "exchange {i}: {}", text(&resp));
        assert_eq!(text(&resp), recorded_body(&ex[i]), "exchange {i}");
    }
}

#[test]
fn nomad_batch_job_shapes_match_the_recording() {
    let ex = exchanges("nomad/08-batch-job-succeeds.json");
    let fake = FakeCluster::nomad();
    let registered = send(&fake, &ex[0], None);
    assert_same_shape(&json_of(registered.body()), &json_of(recorded_body(&ex[0]).as_bytes()), "$");
    assert!(registered.headers().contains_key("x-nomad-index"));
    fake.advance(std::time::Duration::from_secs(10));
    for i in [1, 3, 5, 7] {
        let resp = send(&fake, &ex[i], None);
        assert_eq!(resp.status().as_u16(), 200, "exchange {i}");
        assert_same_shape(&json_of(resp.body()), &json_of(recorded_body(&ex[i]).as_bytes()), "$");
    }
    let allocs = json_of(send(&fake, &ex[3], None).body());
    assert_eq!(allocs[0]["ClientStatus"], "complete");
    let id = allocs[0]["ID"].as_str().unwrap();
    let alloc = send(&fake, &ex[8], Some(&format!("/v1/allocation/{id}")));
    assert_same_shape(&json_of(alloc.body()), &json_of(recorded_body(&ex[8]).as_bytes()), "$");
    // The recorded task printed "hello from acm-ok", a stderr line, then "done".
    let logs = exchanges("nomad/12-logs-finished-alloc.json");
    for (i, expected) in [(0, "hello from acm-ok\ndone\n"), (1, "a warning on stderr\n"), (2, "done\n")] {
        let path = logs[i]["request"]["path"].as_str().unwrap().replace("294e657f-3f0a-03f7-a46d-932b102c10ce", id);
        let resp = send(&fake, &logs[i], Some(&path));
        assert_eq!(text(&resp), expected, "log exchange {i}");
    }
    let framed = send(
        &fake,
        &logs[4],
        Some(&logs[4]["request"]["path"].as_str().unwrap().replace("294e657f-3f0a-03f7-a46d-932b102c10ce", id)),
    );
    assert_eq!(text(&framed), recorded_body(&logs[4]), "framed log");
}
