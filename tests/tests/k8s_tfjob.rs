//! kubeflow TFJobs against acm-19 (the TFJob v1 CRD created and Established, then TFJobs
//! created, read, listed, patched and deleted). The recording has no watch on the CRD or on a
//! TFJob; the tests of the watching paths add one, built from the objects the server returned
//! (each such test says so).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use clustermanager_core::k8s::api::{self, ListParams, Patch, Resource, WriteParams};
use clustermanager_core::k8s::{self, tfjob, Context};
use clustermanager_core::Error;
use clustermanager_tests::{Exchange, RecordedRequest, RecordedResponse, Replay, Scenario, Split};
use serde_json::Value;

fn ctx() -> Context {
    Context::default()
}

fn scenario() -> Scenario {
    Scenario::load("k8s/acm-19-crd-tfjob.json")
}

fn body_of(s: &Scenario, i: usize) -> Value {
    serde_json::from_str(s.exchange(i).request.body.as_deref().unwrap()).unwrap()
}

/// A watch exchange whose stream carries `events` (each a `(type, object JSON)`) and then ends.
fn watch_exchange(path: &str, events: &[(&str, &str)]) -> Exchange {
    let body: String =
        events.iter().map(|(t, o)| format!("{{\"type\":\"{t}\",\"object\":{}}}\n", o.trim_end())).collect();
    Exchange {
        request: RecordedRequest { method: "GET".into(), path: path.into(), headers: Default::default(), body: None },
        response: RecordedResponse::stream(&[body], true),
        comment: Some("built by the test from recorded objects".into()),
    }
}

const CRD_WATCH: &str = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions?watch=1&resourceVersion=1541&allowWatchBookmarks=true&timeoutSeconds=290&fieldSelector=metadata.name%3Dtfjobs.kubeflow.org";

#[test]
fn install_creates_the_crd_as_recorded_and_reads_it_until_established() {
    let s = scenario();
    let (result, _, transcript) = Replay::new(&s).exchanges([0, 1]).run_full(tfjob::install(&ctx()));
    result.unwrap();
    assert_eq!(
        transcript.requests,
        vec![
            ("POST".to_owned(), "/apis/apiextensions.k8s.io/v1/customresourcedefinitions".to_owned()),
            (
                "GET".to_owned(),
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/tfjobs.kubeflow.org".to_owned()
            ),
        ]
    );
    // the body sent is the recorded CRD (checked by the replay); its essentials:
    let crd = tfjob::crd();
    assert_eq!(
        crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
            ["x-kubernetes-preserve-unknown-fields"],
        true
    );
    assert_eq!(crd["spec"]["versions"][0]["subresources"]["status"], serde_json::json!({}));
}

/// The GET answers the state the create returned (no conditions yet, resourceVersion 1541); the
/// watch then delivers the Established CRD the recorded GET returned.
#[test]
fn install_watches_the_crd_until_established() {
    let mut s = scenario();
    let not_yet = s.exchanges[0].response.body.clone();
    let established = s.exchanges[1].response.body.clone();
    s.exchanges[1].response.body = not_yet;
    s.exchanges.push(watch_exchange(CRD_WATCH, &[("MODIFIED", &established)]));
    let watch = s.exchanges.len() - 1;
    let body_len = s.exchanges[watch].response.body.len();
    for k in 0..=body_len {
        let (result, _, transcript) =
            Replay::new(&s).exchanges([0, 1, watch]).split(Split::At(k)).run_full(tfjob::install(&ctx()));
        result.unwrap();
        assert_eq!(transcript.requests.len(), 3, "cut at {k}");
    }
    let (result, _, _) =
        Replay::new(&s).exchanges([0, 1, watch]).split(Split::Every(1)).run_full(tfjob::install(&ctx()));
    result.unwrap();
}

/// A watch the server ends before the CRD is Established is resumed from the last version seen.
#[test]
fn install_resumes_an_ended_watch() {
    let mut s = scenario();
    let not_yet = s.exchanges[0].response.body.clone();
    let established = s.exchanges[1].response.body.clone();
    s.exchanges[1].response.body = not_yet.clone();
    s.exchanges.push(watch_exchange(CRD_WATCH, &[]));
    s.exchanges.push(watch_exchange(CRD_WATCH, &[("MODIFIED", &established)]));
    let n = s.exchanges.len();
    let (result, _, transcript) = Replay::new(&s).exchanges([0, 1, n - 2, n - 1]).run_full(tfjob::install(&ctx()));
    result.unwrap();
    // a watch that ended at once without any event is resumed after a pause, not at once: the
    // watcher's first backoff, 800 ms with jitter in its upper half
    let ms = |n| std::time::Duration::from_millis(n);
    assert_eq!(transcript.waits.len(), 1, "{:?}", transcript.waits);
    assert!(transcript.waits[0] >= ms(400) && transcript.waits[0] <= ms(800), "{:?}", transcript.waits);
}

/// The create answer is already Established: no read, no watch.
#[test]
fn install_skips_the_wait_when_the_create_answer_is_established() {
    let mut s = scenario();
    s.exchanges[0].response.body = s.exchanges[1].response.body.clone();
    let (result, _, transcript) = Replay::new(&s).exchanges([0]).run_full(tfjob::install(&ctx()));
    result.unwrap();
    assert_eq!(transcript.requests.len(), 1);
}

/// Installing twice: the second create answers 409 AlreadyExists (the apiserver's Status for
/// this CRD), which is fine; the read finds it Established.
#[test]
fn install_accepts_an_existing_crd() {
    let mut s = scenario();
    let r = &mut s.exchanges[0].response;
    r.status = 409;
    r.body = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"customresourcedefinitions.apiextensions.k8s.io \"tfjobs.kubeflow.org\" already exists","reason":"AlreadyExists","details":{"name":"tfjobs.kubeflow.org","group":"apiextensions.k8s.io","kind":"customresourcedefinitions"},"code":409}
"#
    .into();
    Replay::new(&s).exchanges([0, 1]).run(tfjob::install(&ctx())).unwrap();
}

#[test]
fn create_get_and_list_tfjobs() {
    let s = scenario();
    let created = Replay::new(&s).exchanges([3]).run(tfjob::create(&ctx(), "acm-crd", &body_of(&s, 3))).unwrap();
    assert_eq!(created["metadata"]["name"], "mnist");
    assert_eq!(created["metadata"]["namespace"], "acm-crd");
    assert_eq!(created["spec"]["tfReplicaSpecs"]["PS"]["replicas"], 1);
    let got = Replay::new(&s).exchanges([4]).run(tfjob::get(&ctx(), "acm-crd", "mnist")).unwrap();
    assert_eq!(got["metadata"]["uid"], created["metadata"]["uid"]);
    let list = Replay::new(&s).exchanges([6]).run(tfjob::list(&ctx(), "acm-crd")).unwrap();
    let names: Vec<&str> = list.iter().filter_map(|j| j["metadata"]["name"].as_str()).collect();
    assert_eq!(names, ["mnist", "mnist-2"]);
}

#[test]
fn schema_violation_is_invalid_with_its_cause() {
    let s = scenario();
    let err = Replay::new(&s).exchanges([13]).run(tfjob::create(&ctx(), "acm-crd", &body_of(&s, 13))).unwrap_err();
    let Error::Invalid(api) = &err else { panic!("expected Invalid, got {err:?}") };
    assert_eq!(api.causes.len(), 1);
    assert_eq!(api.causes[0].field.as_deref(), Some("spec"));
    assert_eq!(api.causes[0].reason.as_deref(), Some("FieldValueInvalid"));
}

#[test]
fn delete_without_wait() {
    let s = scenario();
    assert!(Replay::new(&s).exchanges([14]).run(tfjob::delete(&ctx(), "acm-crd", "mnist", false)).unwrap());
}

/// Deleting it again: the apiserver's 404 for this TFJob (the recorded GET's answer) means
/// "did not exist".
#[test]
fn delete_of_a_missing_tfjob_is_false() {
    let mut s = scenario();
    s.exchanges[16].request.method = "DELETE".into();
    assert!(!Replay::new(&s).exchanges([16]).run(tfjob::delete(&ctx(), "acm-crd", "mnist", false)).unwrap());
}

/// Foreground delete returns the TFJob with a deletionTimestamp and the foregroundDeletion
/// finalizer; the wait watches it from that version until DELETED (event built from that object).
#[test]
fn delete_with_wait_watches_until_deleted() {
    let mut s = scenario();
    let last = s.exchanges[15].response.body.clone();
    s.exchanges.push(watch_exchange(
        "/apis/kubeflow.org/v1/namespaces/acm-crd/tfjobs?watch=1&resourceVersion=1553&allowWatchBookmarks=true&timeoutSeconds=290&fieldSelector=metadata.name%3Dmnist-2",
        &[("MODIFIED", &last), ("DELETED", &last)],
    ));
    let watch = s.exchanges.len() - 1;
    let (result, _, transcript) = Replay::new(&s)
        .exchanges([15, watch])
        .split(Split::Every(1))
        .run_full(tfjob::delete(&ctx(), "acm-crd", "mnist-2", true));
    assert!(result.unwrap());
    assert_eq!(transcript.requests.len(), 2);
}

/// The watch of a foreground delete answers acm-14's in-stream `ERROR` 410 (resourceVersion too
/// old): the wait lists the TFJob again by name, finds none, and reports it deleted.
#[test]
fn delete_with_wait_relists_after_an_expired_watch() {
    let mut s = scenario();
    let expired = Scenario::load("k8s/acm-14-watch-expired-410.json").exchange(6).response.clone();
    s.exchanges.push(Exchange {
        request: RecordedRequest {
            method: "GET".into(),
            path: "/apis/kubeflow.org/v1/namespaces/acm-crd/tfjobs?watch=1&resourceVersion=1553&allowWatchBookmarks=true&timeoutSeconds=290&fieldSelector=metadata.name%3Dmnist-2".into(),
            headers: Default::default(),
            body: None,
        },
        response: expired,
        comment: Some("acm-14's expired watch answer".into()),
    });
    s.exchanges.push(Exchange {
        request: RecordedRequest {
            method: "GET".into(),
            path: "/apis/kubeflow.org/v1/namespaces/acm-crd/tfjobs?fieldSelector=metadata.name%3Dmnist-2".into(),
            headers: Default::default(),
            body: None,
        },
        response: RecordedResponse::json(
            200,
            r#"{"apiVersion":"kubeflow.org/v1","items":[],"kind":"TFJobList","metadata":{"resourceVersion":"1560"}}"#,
        ),
        comment: Some("the list by name after the TFJob is gone".into()),
    });
    let n = s.exchanges.len();
    let (result, _, transcript) = Replay::new(&s)
        .exchanges([15, n - 2, n - 1])
        .split(Split::Every(1))
        .run_full(tfjob::delete(&ctx(), "acm-crd", "mnist-2", true));
    assert!(result.unwrap());
    assert_eq!(transcript.requests.len(), 3);
    assert!(transcript.waits.is_empty(), "an expired watch is listed again at once");
}

#[test]
fn generic_api_on_tfjobs_patch_forms_status_and_lists() {
    let s = scenario();
    let c = ctx();
    let tf = Resource::TFJOBS;
    // discovery of the new group
    let resp =
        Replay::new(&s).exchanges([2]).run(api::request(&c, http::Method::GET, "/apis/kubeflow.org/v1", None)).unwrap();
    assert!(std::str::from_utf8(resp.body()).unwrap().contains("\"tfjobs/status\""));
    // merge patch
    let patch = Patch::merge(&body_of(&s, 9)).unwrap();
    let patched: Value = Replay::new(&s)
        .exchanges([9])
        .run(api::patch(&c, &tf, Some("acm-crd"), "mnist", None, &patch, &WriteParams::default()))
        .unwrap();
    assert_eq!(patched["spec"]["tfReplicaSpecs"]["Worker"]["replicas"], 3);
    // strategic merge patch is not for custom resources: 415
    let patch = Patch::strategic(&body_of(&s, 10)).unwrap();
    let err = Replay::new(&s)
        .exchanges([10])
        .run(api::patch::<Value>(&c, &tf, Some("acm-crd"), "mnist", None, &patch, &WriteParams::default()))
        .unwrap_err();
    assert!(
        matches!(&err, Error::BadRequest(a) if a.status == 415 && a.reason.as_deref() == Some("UnsupportedMediaType")),
        "{err:?}"
    );
    // status subresource
    let patch = Patch::merge(&body_of(&s, 11)).unwrap();
    let with_status: Value = Replay::new(&s)
        .exchanges([11])
        .run(api::patch(&c, &tf, Some("acm-crd"), "mnist", Some("status"), &patch, &WriteParams::default()))
        .unwrap();
    assert_eq!(with_status["status"]["replicaStatuses"]["Worker"]["active"], 3);
    // one page by label, with a continue token
    let page = Replay::new(&s)
        .exchanges([7])
        .run(api::list::<Value>(&c, &tf, Some("acm-crd"), &ListParams::default().labels("app=mnist").limit(1)))
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert!(page.continue_token.is_some());
    // across all namespaces (empty continue token means no more pages)
    let all =
        Replay::new(&s).exchanges([8]).run(api::list_all::<Value>(&c, &tf, None, &ListParams::default())).unwrap();
    assert_eq!(all.items.len(), 2);
    assert_eq!(all.resource_version, "1549");
    // and the tfjobs helper gets the recorded 404 after the delete
    let err = Replay::new(&s).exchanges([16]).run(k8s::tfjob::get(&c, "acm-crd", "mnist")).unwrap_err();
    assert!(matches!(err, Error::NotFound(_)));
}

/// A CRD that never becomes Established (the watch stays silent): the install gives up after
/// its timeout, measured on the replay's virtual clock.
#[test]
fn install_times_out_when_the_crd_is_never_established() {
    let mut s = scenario();
    s.exchanges[1].response.body = s.exchanges[0].response.body.clone();
    let mut silent = watch_exchange(CRD_WATCH, &[]);
    silent.comment = Some("silent watch, ended by client".into());
    s.exchanges.push(silent);
    let n = s.exchanges.len();
    let (result, _, transcript) = Replay::new(&s).exchanges([0, 1, n - 1]).run_full(tfjob::install(&ctx()));
    let err = result.unwrap_err();
    assert!(
        matches!(&err, Error::Timeout { what } if what.contains("tfjobs.kubeflow.org to be Established")),
        "{err:?}"
    );
    assert_eq!(transcript.elapsed, tfjob::INSTALL_TIMEOUT);
}

/// Bad names are reported before any request (the replay has nothing to answer with).
#[test]
fn bad_names_are_rejected_before_any_request() {
    let none = Scenario { server: "none".into(), scenario: "no request may be made".into(), exchanges: vec![] };
    let field_of = |e: Error| match e {
        Error::InvalidInput { field, .. } => field,
        other => panic!("{other:?}"),
    };
    let tfjob = serde_json::json!({"apiVersion": "kubeflow.org/v1", "kind": "TFJob", "metadata": {"name": "x"}});
    assert_eq!(field_of(Replay::new(&none).run(tfjob::create(&ctx(), "Acm", &tfjob)).unwrap_err()), "namespace");
    assert_eq!(field_of(Replay::new(&none).run(tfjob::get(&ctx(), "acm-crd", "Mnist")).unwrap_err()), "tfjob name");
    assert_eq!(field_of(Replay::new(&none).run(tfjob::delete(&ctx(), "acm-crd", "", true)).unwrap_err()), "tfjob name");
    assert_eq!(field_of(Replay::new(&none).run(tfjob::list(&ctx(), "acm crd")).unwrap_err()), "namespace");
}
