//! The generic Kubernetes API against the recordings: server-side apply (acm-20), the patch
//! content types (acm-23), deprecation warnings (acm-21), CronJob v1beta1 (acm-25), a watch
//! with bookmarks (acm-13), and raw requests for version, discovery and health (acm-01, 02, 03,
//! 22, and the exec refusal of acm-10).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::{Arc, Mutex};

use clustermanager_core::k8s::api::{
    self, DeleteParams, ListParams, Patch, Propagation, Resource, WatchParams, WriteParams,
};
use clustermanager_core::k8s::watch::WatchEvent;
use clustermanager_core::k8s::Context;
use clustermanager_core::{Error, Operation, Step};
use clustermanager_tests::capture::WarnCapture;
use clustermanager_tests::{Replay, Scenario, Split};
use serde_json::value::RawValue;
use serde_json::Value;

fn ctx() -> Context {
    Context::default()
}

fn request_body(s: &Scenario, i: usize) -> Value {
    serde_json::from_str(s.exchange(i).request.body.as_deref().unwrap()).unwrap()
}

/// The first request `op` makes carries the recorded `Content-Type` of exchange `i`.
fn assert_content_type<O: Operation>(mut op: O, s: &Scenario, i: usize) {
    let (Step::Send(req, _) | Step::Open(req, _)) = op.poll(std::time::Instant::now()) else {
        panic!("expected a request")
    };
    assert_eq!(
        req.headers().get("content-type").map(|v| v.to_str().unwrap()),
        s.exchange(i).request.headers.get("Content-Type").map(String::as_str),
        "content type of exchange {i}"
    );
}

const SSA: Option<&str> = Some("acm-ssa");

#[test]
fn server_side_apply_creates_reapplies_conflicts_and_forces() {
    let s = Scenario::load("k8s/acm-20-server-side-apply.json");
    let cms = Resource::CONFIGMAPS;
    let w = WriteParams::default();
    // YAML apply with an explicit manager creates the object
    let yaml = s.exchange(0).request.body.clone().unwrap();
    let patch = Patch::apply_yaml(yaml).field_manager("acm-client");
    assert_content_type(api::patch::<Value>(&ctx(), &cms, SSA, "applied", None, &patch, &w), &s, 0);
    let cm: Value =
        Replay::new(&s).exchanges([0]).run(api::patch(&ctx(), &cms, SSA, "applied", None, &patch, &w)).unwrap();
    assert_eq!(cm["data"]["key2"], "value2");
    // re-apply without key2, the manager taken from the context: key2 is removed
    let c = Context { field_manager: "acm-client".into(), ..ctx() };
    let patch = Patch::apply_yaml(s.exchange(1).request.body.clone().unwrap());
    let cm: Value = Replay::new(&s).exchanges([1]).run(api::patch(&c, &cms, SSA, "applied", None, &patch, &w)).unwrap();
    assert_eq!(cm["data"], serde_json::json!({"key1": "value1", "key3": "value3"}));
    // another manager applying a field acm-client owns: 409 with the conflicting field
    let other = Patch::apply(&request_body(&s, 2)).unwrap().field_manager("other-manager");
    let err = Replay::new(&s)
        .exchanges([2])
        .run(api::patch::<Value>(&ctx(), &cms, SSA, "applied", None, &other, &w))
        .unwrap_err();
    let Error::Conflict(a) = &err else { panic!("expected Conflict, got {err:?}") };
    assert_eq!(a.causes[0].reason.as_deref(), Some("FieldManagerConflict"));
    assert_eq!(a.causes[0].field.as_deref(), Some(".data.key1"));
    // force takes the field over
    let cm: Value =
        Replay::new(&s).exchanges([3]).run(api::patch(&ctx(), &cms, SSA, "applied", None, &other.force(), &w)).unwrap();
    assert_eq!(cm["data"]["key1"], "other");
    // invalid YAML: 400
    let bad = Patch::apply_yaml(s.exchange(5).request.body.clone().unwrap()).field_manager("acm-client");
    let err = Replay::new(&s)
        .exchanges([5])
        .run(api::patch::<Value>(&ctx(), &cms, SSA, "applied", None, &bad, &w))
        .unwrap_err();
    assert!(matches!(&err, Error::BadRequest(a) if a.message.starts_with("error decoding YAML")), "{err:?}");
    // read back: managedFields name both managers
    let cm: Value = Replay::new(&s).exchanges([6]).run(api::get(&ctx(), &cms, SSA, "applied")).unwrap();
    let managers: Vec<&str> =
        cm["metadata"]["managedFields"].as_array().unwrap().iter().filter_map(|m| m["manager"].as_str()).collect();
    assert_eq!(managers, ["acm-client", "other-manager"]);
}

/// The typed patch always names a field manager; the recorded apply without one (422) is sent
/// raw to show what the server says.
#[test]
fn apply_without_field_manager_is_invalid() {
    let s = Scenario::load("k8s/acm-20-server-side-apply.json");
    let e = &s.exchange(4).request;
    let mut req =
        clustermanager_core::step::request(http::Method::PATCH, &e.path, e.body.clone().map(String::into_bytes))
            .unwrap();
    req.headers_mut().insert("content-type", "application/apply-patch+yaml".parse().unwrap());
    let err = Replay::new(&s).exchanges([4]).run(api::send(&ctx(), req)).unwrap_err();
    assert!(matches!(&err, Error::Invalid(a) if a.causes[0].field.as_deref() == Some("fieldManager")), "{err:?}");
}

#[test]
fn patch_forms_with_their_content_types() {
    let s = Scenario::load("k8s/acm-23-pod-status-patch-forms.json");
    let c = ctx();
    let pods = Resource::PODS;
    let ns = Some("acm-patch");
    let w = WriteParams::default();
    let pod: Value = Replay::new(&s).exchanges([0]).run(api::create(&c, &pods, ns, &request_body(&s, 0), &w)).unwrap();
    assert_eq!(pod["metadata"]["labels"], serde_json::json!({"a": "1"}));
    let cases: [(usize, Patch, Option<&str>); 6] = [
        (1, Patch::strategic(&request_body(&s, 1)).unwrap(), None),
        (2, Patch::merge(&request_body(&s, 2)).unwrap(), None),
        (3, Patch::json(&request_body(&s, 3)).unwrap(), None),
        (4, Patch::strategic(&request_body(&s, 4)).unwrap(), Some("status")),
        (5, Patch::strategic(&request_body(&s, 5)).unwrap(), None),
        (6, Patch::merge(&request_body(&s, 6)).unwrap(), None),
    ];
    let mut results = Vec::new();
    for (i, patch, sub) in &cases {
        assert_content_type(api::patch::<Value>(&c, &pods, ns, "p1", *sub, patch, &w), &s, *i);
        results.push(Replay::new(&s).exchanges([*i]).run(api::patch::<Value>(&c, &pods, ns, "p1", *sub, patch, &w)));
    }
    let ok = |k: usize| results[k].as_ref().unwrap();
    assert_eq!(ok(0)["metadata"]["labels"], serde_json::json!({"a": "1", "b": "2"}));
    assert_eq!(ok(1)["metadata"]["labels"], serde_json::json!({"b": "2"}), "null removes a key");
    assert_eq!(ok(2)["metadata"]["annotations"]["note"], "x");
    assert_eq!(ok(3)["status"]["phase"], "Running");
    assert_eq!(ok(4)["spec"]["containers"][0]["image"], "busybox:1.33");
    assert!(matches!(&results[5], Err(Error::Invalid(a)) if a.message.contains("pod updates may not change fields")));
    // a patch of a missing pod
    let patch = Patch::merge(&request_body(&s, 7)).unwrap();
    let err = Replay::new(&s)
        .exchanges([7])
        .run(api::patch::<Value>(&c, &pods, ns, "missing", None, &patch, &w))
        .unwrap_err();
    assert!(matches!(&err, Error::NotFound(a) if a.message == "pods \"missing\" not found"));
    // delete at once: the answer is the pod, marked for deletion
    let params = DeleteParams { grace_period_seconds: Some(0), ..DeleteParams::default() };
    let deleted = Replay::new(&s).exchanges([8]).run(api::delete(&c, &pods, ns, "p1", &params)).unwrap();
    assert_eq!(deleted.resource_version.as_deref(), Some("1575"));
    let object: Value = serde_json::from_str(deleted.object.unwrap().get()).unwrap();
    assert!(object["metadata"]["deletionTimestamp"].is_string());
}

#[test]
fn deprecation_warnings_surface_through_tracing_and_never_fail() {
    let s = Scenario::load("k8s/acm-21-deprecation-warnings.json");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let lists = tracing::subscriber::with_default(WarnCapture(seen.clone()), || {
        let c = ctx();
        let p = ListParams::default();
        vec![
            Replay::new(&s).exchanges([0]).run(api::list::<Box<RawValue>>(
                &c,
                &Resource::new("networking.k8s.io", "v1beta1", "ingresses", true),
                None,
                &p,
            )),
            Replay::new(&s).exchanges([1]).run(api::list::<Box<RawValue>>(
                &c,
                &Resource::new("extensions", "v1beta1", "ingresses", true),
                Some("default"),
                &p,
            )),
            Replay::new(&s).exchanges([2]).run(api::list::<Box<RawValue>>(
                &c,
                &Resource::new("apiextensions.k8s.io", "v1beta1", "customresourcedefinitions", false),
                None,
                &p,
            )),
            Replay::new(&s).exchanges([3]).run(api::list::<Box<RawValue>>(
                &c,
                &Resource::new("rbac.authorization.k8s.io", "v1beta1", "clusterroles", false),
                None,
                &p.clone().limit(1),
            )),
        ]
    });
    let lists: Vec<_> = lists.into_iter().map(Result::unwrap).collect();
    assert_eq!(lists[2].items.len(), 1, "the TFJob CRD, read through v1beta1");
    assert_eq!(lists[3].items.len(), 1);
    assert!(lists[3].continue_token.is_some());
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(seen[0].contains("networking.k8s.io/v1beta1 Ingress is deprecated in v1.19+"), "{}", seen[0]);
    assert!(seen[3].contains("use rbac.authorization.k8s.io/v1 ClusterRole"), "{}", seen[3]);
}

/// The same `Warning` header on the head of a watch stream (the wait's watcher) and of a
/// followed log is surfaced too: streams never pass through the whole-answer check.
#[test]
fn deprecation_warnings_on_stream_heads_surface_through_tracing() {
    use clustermanager_core::k8s::object::Thin;
    use clustermanager_core::k8s::watcher::{Until, Update, WatchTarget as Watched, Watcher};
    use clustermanager_tests::{Exchange, RecordedRequest, RecordedResponse};
    let s = Scenario::load("k8s/acm-21-deprecation-warnings.json");
    let warning = s.exchange(0).response.headers["warning"].clone();
    let with_warning = |path: &str, lines: &[&str]| {
        let mut response = RecordedResponse::stream(&lines.iter().map(|l| (*l).to_owned()).collect::<Vec<_>>(), true);
        response.headers.insert("warning".into(), warning.clone());
        Exchange {
            request: RecordedRequest {
                method: "GET".into(),
                path: path.into(),
                headers: Default::default(),
                body: None,
            },
            response,
            comment: Some("scripted: a recorded Warning header on a stream".into()),
        }
    };
    let scenario = Scenario {
        server: "kubernetes v1.19".into(),
        scenario: "scripted".into(),
        exchanges: vec![
            with_warning(
                "/apis/networking.k8s.io/v1beta1/namespaces/default/ingresses?watch=1&resourceVersion=7&allowWatchBookmarks=true&timeoutSeconds=290",
                &["{\"type\":\"ADDED\",\"object\":{\"kind\":\"Ingress\",\"metadata\":{\"name\":\"web\",\"resourceVersion\":\"8\"}}}\n"],
            ),
            with_warning("/api/v1/namespaces/default/pods/web-1/log?follow=true", &["hello\n"]),
        ],
    };
    let seen = Arc::new(Mutex::new(Vec::new()));
    tracing::subscriber::with_default(WarnCapture(seen.clone()), || {
        let params = Watched::new("/apis/networking.k8s.io/v1beta1/namespaces/default/ingresses", "ingresses");
        let watcher = Watcher::<Thin>::from_version(params, &ctx().retry, None, "7");
        let until = Until::new(watcher, |u: Update<Thin>| matches!(u, Update::Added(_)).then_some(Ok(())));
        Replay::new(&scenario).exchanges([0]).run(until).unwrap();
        let follow = clustermanager_core::k8s::log::follow(&ctx(), "default", "web-1", &Default::default());
        let (done, lines, _) = Replay::new(&scenario).exchanges([1]).run_full(follow);
        done.unwrap();
        assert_eq!(lines.len(), 1);
    });
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen.iter().all(|w| w.contains("Ingress is deprecated in v1.19+")), "{seen:?}");
}

#[test]
fn cronjob_v1beta1_through_the_generic_api() {
    let s = Scenario::load("k8s/acm-25-cronjob-v1beta1.json");
    let c = ctx();
    let cron = Resource::CRONJOBS_V1BETA1;
    let ns = Some("acm-cron");
    let w = WriteParams::default();
    let created: Value =
        Replay::new(&s).exchanges([0]).run(api::create(&c, &cron, ns, &request_body(&s, 0), &w)).unwrap();
    assert_eq!(created["spec"]["schedule"], "0 3 * * *");
    let got: Value = Replay::new(&s).exchanges([1]).run(api::get(&c, &cron, ns, "nightly")).unwrap();
    assert_eq!(got["metadata"]["uid"], created["metadata"]["uid"]);
    let list =
        Replay::new(&s).exchanges([2]).run(api::list_all::<Value>(&c, &cron, ns, &ListParams::default())).unwrap();
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.resource_version, "1653");
    let suspend = Patch::merge(&serde_json::json!({"spec": {"suspend": true}})).unwrap();
    let patched: Value =
        Replay::new(&s).exchanges([3]).run(api::patch(&c, &cron, ns, "nightly", None, &suspend, &w)).unwrap();
    assert_eq!(patched["spec"]["suspend"], true);
    let err = Replay::new(&s)
        .exchanges([4])
        .run(api::create::<Value, _>(&c, &cron, ns, &request_body(&s, 4), &w))
        .unwrap_err();
    assert!(
        matches!(&err, Error::Invalid(a) if a.causes.first().and_then(|c| c.field.as_deref()) == Some("spec.schedule")),
        "{err:?}"
    );
    let alpha = Resource::new("batch", "v2alpha1", "cronjobs", true);
    let err =
        Replay::new(&s).exchanges([5]).run(api::list::<Value>(&c, &alpha, ns, &ListParams::default())).unwrap_err();
    assert!(matches!(err, Error::NotFound(_)));
    let deleted = Replay::new(&s)
        .exchanges([6])
        .run(api::delete(&c, &cron, ns, "nightly", &DeleteParams::propagation(Propagation::Background)))
        .unwrap();
    assert!(deleted.object.is_none());
}

/// acm-25 re-recorded on a v1.36 apiserver: CronJobs exist only at batch/v1 (v1beta1 was
/// removed in 1.25 and answers 404); the same generic operations work there with
/// `Resource::CRONJOBS`.
#[test]
fn cronjob_v1_through_the_generic_api_on_kubernetes_1_36() {
    let s = Scenario::load("k8s-1.36/acm-25-cronjob-v1.json");
    let c = ctx();
    let cron = Resource::CRONJOBS;
    let ns = Some("acm-cron");
    let w = WriteParams::default();
    let created: Value =
        Replay::new(&s).exchanges([1]).run(api::create(&c, &cron, ns, &request_body(&s, 1), &w)).unwrap();
    assert_eq!(
        (created["apiVersion"].as_str(), created["spec"]["timeZone"].as_str()),
        (Some("batch/v1"), Some("Etc/UTC"))
    );
    let got: Value = Replay::new(&s).exchanges([2]).run(api::get(&c, &cron, ns, "nightly")).unwrap();
    assert_eq!(got["metadata"]["uid"], created["metadata"]["uid"]);
    let list =
        Replay::new(&s).exchanges([3]).run(api::list_all::<Value>(&c, &cron, ns, &ListParams::default())).unwrap();
    assert_eq!(list.items.len(), 2, "every-minute and nightly");
    let suspend = Patch::merge(&serde_json::json!({"spec": {"suspend": true}})).unwrap();
    let patched: Value =
        Replay::new(&s).exchanges([4]).run(api::patch(&c, &cron, ns, "nightly", None, &suspend, &w)).unwrap();
    assert_eq!(patched["spec"]["suspend"], true);
    for (i, field) in [(5, "spec.schedule"), (6, "spec.timeZone")] {
        let err = Replay::new(&s)
            .exchanges([i])
            .run(api::create::<Value, _>(&c, &cron, ns, &request_body(&s, i), &w))
            .unwrap_err();
        assert!(
            matches!(&err, Error::Invalid(a) if a.causes.first().and_then(|c| c.field.as_deref()) == Some(field)),
            "{err:?}"
        );
    }
    // the version a 1.19 server served is gone: a plain NotFound, as for any unserved version
    let old = Resource::CRONJOBS_V1BETA1;
    let err = Replay::new(&s).exchanges([7]).run(api::list::<Value>(&c, &old, ns, &ListParams::default())).unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    let deleted = Replay::new(&s)
        .exchanges([13])
        .run(api::delete(&c, &cron, ns, "nightly", &DeleteParams::propagation(Propagation::Background)))
        .unwrap();
    assert!(deleted.object.is_none());
}

#[derive(Debug, serde::Deserialize, PartialEq)]
struct NamedObject {
    metadata: Meta,
}

#[derive(Debug, serde::Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Meta {
    name: String,
    resource_version: String,
}

#[test]
fn watch_with_bookmarks_from_a_list_version_split_at_every_byte() {
    let s = Scenario::load("k8s/acm-13-watch-bookmarks.json");
    let c = ctx();
    let ns = Some("acm-bookmark");
    let list = Replay::new(&s)
        .exchanges([0])
        .run(api::list::<Box<RawValue>>(&c, &Resource::CONFIGMAPS, ns, &ListParams::default()))
        .unwrap();
    assert_eq!(list.resource_version, "1378");
    let params =
        WatchParams { bookmarks: true, timeout_seconds: Some(5), ..WatchParams::from_version(list.resource_version) };
    let expect = |events: &[WatchEvent<NamedObject>]| {
        assert_eq!(events.len(), 3, "{events:?}");
        assert!(
            matches!(&events[0], WatchEvent::Added(o) if o.metadata.name == "bm" && o.metadata.resource_version == "1382")
        );
        assert!(events[1..]
            .iter()
            .all(|e| matches!(e, WatchEvent::Bookmark { resource_version, initial_events_end: false } if resource_version == "1382")));
    };
    let (result, events, _) =
        Replay::new(&s).exchanges([1]).run_full(api::watch::<NamedObject>(&c, &Resource::CONFIGMAPS, ns, &params));
    result.unwrap();
    expect(&events);
    let len = s.exchange(1).response.body.len();
    for k in 0..=len {
        let (result, events, _) = Replay::new(&s)
            .exchanges([1])
            .split(Split::At(k))
            .run_full(api::watch::<NamedObject>(&c, &Resource::CONFIGMAPS, ns, &params));
        result.unwrap();
        expect(&events);
    }
    // raw objects keep the server's bytes
    let (result, events, _) = Replay::new(&s)
        .exchanges([1])
        .split(Split::Every(1))
        .run_full(api::watch::<Box<RawValue>>(&c, &Resource::CONFIGMAPS, ns, &params));
    result.unwrap();
    let WatchEvent::Added(raw) = &events[0] else { panic!("expected ADDED") };
    assert!(raw.get().starts_with(r#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"bm""#));
}

fn get_raw(s: &Scenario, i: usize) -> http::Response<bytes::Bytes> {
    let e = &s.exchange(i).request;
    let mut req = clustermanager_core::step::request(http::Method::GET, &e.path, None).unwrap();
    if let Some(accept) = e.headers.get("Accept") {
        req.headers_mut().insert("accept", accept.parse().unwrap());
    }
    Replay::new(s).exchanges([i]).run(api::send(&ctx(), req)).unwrap()
}

#[test]
fn version_discovery_and_health_are_raw_gets() {
    let s = Scenario::load("k8s/acm-01-version.json");
    let resp = Replay::new(&s).exchanges([0]).run(api::request(&ctx(), http::Method::GET, "/version", None)).unwrap();
    let v: Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(
        (v["major"].as_str(), v["minor"].as_str(), v["gitVersion"].as_str()),
        (Some("1"), Some("19"), Some("v1.19.0"))
    );

    let s = Scenario::load("k8s/acm-02-api-discovery.json");
    let api: Value = serde_json::from_slice(get_raw(&s, 0).body()).unwrap();
    assert_eq!(api["versions"], serde_json::json!(["v1"]));
    let v1: Value = serde_json::from_slice(get_raw(&s, 1).body()).unwrap();
    assert!(v1["resources"].as_array().unwrap().iter().any(|r| r["name"] == "configmaps" && r["namespaced"] == true));

    let s = Scenario::load("k8s/acm-03-apis-discovery.json");
    let groups: Value = serde_json::from_slice(get_raw(&s, 0).body()).unwrap();
    assert!(groups["groups"].as_array().unwrap().iter().any(|g| g["name"] == "batch"));
    let batch: Value = serde_json::from_slice(get_raw(&s, 1).body()).unwrap();
    assert_eq!(batch["preferredVersion"]["groupVersion"], "batch/v1");
    let batch_v1: Value = serde_json::from_slice(get_raw(&s, 2).body()).unwrap();
    assert_eq!(batch_v1["resources"][0]["name"], "jobs");
    let apps_v1: Value = serde_json::from_slice(get_raw(&s, 3).body()).unwrap();
    assert!(apps_v1["resources"].as_array().unwrap().iter().any(|r| r["name"] == "deployments/scale"));

    let s = Scenario::load("k8s/acm-22-health-and-table.json");
    for i in [0, 1, 3] {
        assert_eq!(&get_raw(&s, i).body()[..], b"ok", "exchange {i}");
    }
    assert!(std::str::from_utf8(get_raw(&s, 2).body()).unwrap().contains("[+]etcd ok"));
    let table: Value = serde_json::from_slice(get_raw(&s, 4).body()).unwrap();
    assert_eq!(table["kind"], "Table");
    let partial: Value = serde_json::from_slice(get_raw(&s, 5).body()).unwrap();
    assert_eq!(partial["kind"], "PartialObjectMetadata");
    let yaml = get_raw(&s, 6);
    assert_eq!(yaml.headers()["content-type"], "application/yaml");
    assert!(yaml.body().starts_with(b"apiVersion: v1\nkind: Namespace\n"));
}

#[test]
fn exec_without_an_upgrade_is_refused_with_the_server_message() {
    let s = Scenario::load("k8s/acm-10-pod-logs-errors.json");
    let path = &s.exchange(5).request.path;
    let err = Replay::new(&s).exchanges([5]).run(api::request(&ctx(), http::Method::POST, path, None)).unwrap_err();
    assert!(
        matches!(&err, Error::BadRequest(a) if a.message == "pod pending-pod does not have a host assigned"),
        "{err:?}"
    );
}
