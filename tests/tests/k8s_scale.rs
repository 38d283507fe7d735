//! Deployment scale against acm-17 (apps/v1 Deployment `web`: GET /scale, PATCH /scale 1 -> 3,
//! PUT /scale with and without a stale resourceVersion, JSON patch, delete).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use clustermanager_core::k8s::api::{self, Patch, Resource, WriteParams};
use clustermanager_core::k8s::{self, Context};
use clustermanager_core::{Error, Scale};
use clustermanager_tests::{Replay, Scenario};
use serde_json::Value;

fn ctx() -> Context {
    Context::default()
}

fn scenario() -> Scenario {
    Scenario::load("k8s/acm-17-deployment-scale.json")
}

#[test]
fn get_scale_reads_the_current_replicas_as_the_seed_did_and_the_desired_ones() {
    let s = scenario();
    let scale = Replay::new(&s).exchanges([1]).run(k8s::scale::get(&ctx(), "acm-deploy", "web")).unwrap();
    // the seed's get_scale_deploy returned status.replicas (0 here: the kubelet-less recording)
    assert_eq!(scale, Scale { name: "web".into(), replicas: 0, desired: 1, ..Scale::default() });
}

#[test]
fn set_scale_sends_a_merge_patch_and_returns_the_new_scale() {
    let s = scenario();
    let (scale, _, transcript) =
        Replay::new(&s).exchanges([2]).run_full(k8s::scale::set(&ctx(), "acm-deploy", "web", 3));
    assert_eq!(scale.unwrap(), Scale { name: "web".into(), replicas: 0, desired: 3, ..Scale::default() });
    assert_eq!(&transcript.bodies[0][..], br#"{"spec":{"replicas":3}}"#);
    // and a read afterwards sees it
    let scale = Replay::new(&s).exchanges([3]).run(k8s::scale::get(&ctx(), "acm-deploy", "web")).unwrap();
    assert_eq!(scale.desired, 3);
}

#[test]
fn set_scale_uses_the_merge_patch_content_type() {
    use clustermanager_core::{Operation, Step};
    let mut op = k8s::scale::set(&ctx(), "acm-deploy", "web", 3);
    let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { panic!("expected a request") };
    assert_eq!(req.headers()["content-type"], "application/merge-patch+json");
    let s = scenario();
    let recorded = &s.exchange(2).request;
    assert_eq!(recorded.headers["Content-Type"], "application/merge-patch+json");
}

/// No scale of a missing Deployment was recorded; this answer is the apiserver's 404 Status for
/// deployments (shape as in acm-18), for name "gone".
#[test]
fn scale_of_a_missing_deployment_is_not_found() {
    let mut s = scenario();
    s.exchanges[1].request.path = "/apis/apps/v1/namespaces/acm-deploy/deployments/gone/scale".into();
    let r = &mut s.exchanges[1].response;
    r.status = 404;
    r.body = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"deployments.apps \"gone\" not found","reason":"NotFound","details":{"name":"gone","group":"apps","kind":"deployments"},"code":404}
"#
    .into();
    let err = Replay::new(&s).exchanges([1]).run(k8s::scale::get(&ctx(), "acm-deploy", "gone")).unwrap_err();
    assert!(matches!(&err, Error::NotFound(a) if a.message == "deployments.apps \"gone\" not found"), "{err:?}");
}

#[test]
fn put_scale_with_a_stale_resource_version_conflicts() {
    let s = scenario();
    let body: Value = serde_json::from_str(s.exchange(4).request.body.as_deref().unwrap()).unwrap();
    let deploys = Resource::DEPLOYMENTS;
    let put = |ex: usize| {
        Replay::new(&s).exchanges([ex]).run(api::replace::<Value, _>(
            &ctx(),
            &deploys,
            Some("acm-deploy"),
            "web",
            Some("scale"),
            &body,
            &WriteParams::default(),
        ))
    };
    assert_eq!(put(4).unwrap()["spec"]["replicas"], 2);
    let err = put(5).unwrap_err();
    let Error::Conflict(api) = &err else { panic!("expected Conflict, got {err:?}") };
    assert_eq!(api.reason.as_deref(), Some("Conflict"));
    assert!(api.message.contains("the object has been modified"));
}

#[test]
fn json_patch_of_the_deployment_and_a_failing_test_op() {
    let s = scenario();
    let patch = Patch::json(&serde_json::json!([{"op": "replace", "path": "/spec/replicas", "value": 0}])).unwrap();
    let deploy: Value = Replay::new(&s)
        .exchanges([8])
        .run(api::patch(
            &ctx(),
            &Resource::DEPLOYMENTS,
            Some("acm-deploy"),
            "web",
            None,
            &patch,
            &WriteParams::default(),
        ))
        .unwrap();
    assert_eq!(deploy["spec"]["replicas"], 0);
    let test = Patch::json(&serde_json::json!([{"op": "test", "path": "/spec/replicas", "value": 42}])).unwrap();
    let err = Replay::new(&s)
        .exchanges([9])
        .run(api::patch::<Value>(
            &ctx(),
            &Resource::DEPLOYMENTS,
            Some("acm-deploy"),
            "web",
            None,
            &test,
            &WriteParams::default(),
        ))
        .unwrap_err();
    assert!(matches!(&err, Error::Invalid(a) if a.status == 422), "{err:?}");
}

/// Bad names are reported before any request (the replay has nothing to answer with).
#[test]
fn bad_names_are_rejected_before_any_request() {
    let none = Scenario { server: "none".into(), scenario: "no request may be made".into(), exchanges: vec![] };
    let err = Replay::new(&none).run(k8s::scale::get(&ctx(), "Acm Deploy", "web")).unwrap_err();
    assert!(matches!(&err, Error::InvalidInput { field, .. } if field == "namespace"), "{err:?}");
    let err = Replay::new(&none).run(k8s::scale::set(&ctx(), "acm-deploy", "web/../x", 2)).unwrap_err();
    assert!(matches!(&err, Error::InvalidInput { field, .. } if field == "deployment name"), "{err:?}");
}
