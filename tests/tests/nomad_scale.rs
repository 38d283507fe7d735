//! Task-group scaling replayed against `18-scale` (Nomad 1.1.2): service job `acm-scale` with one
//! group `main`, scaled to 2 first during its initial deployment (refused with 400, yet recorded
//! as an error scaling event) and then after it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use clustermanager_core::nomad::scale::{self, ScaleOptions};
use clustermanager_core::nomad::{api, Context};
use clustermanager_core::{Error, Scale};
use clustermanager_tests::{Replay, Scenario};

fn ctx() -> Context {
    Context::default()
}

fn recorder_options() -> ScaleOptions {
    ScaleOptions {
        message: Some("scale up by acm recorder".into()),
        meta: BTreeMap::from([("by".to_owned(), "acm".to_owned())]),
    }
}

#[test]
fn get_reads_the_only_group() {
    let s = Scenario::load("nomad/18-scale.json");
    let got = Replay::new(&s).exchanges([1]).run(scale::get(&ctx(), "default", "acm-scale")).unwrap();
    assert_eq!(got, Scale { name: "acm-scale/main".into(), replicas: 1, desired: 1, ..Scale::default() });
    let got = Replay::new(&s).exchanges([1]).run(scale::get(&ctx(), "", "acm-scale/main")).unwrap();
    assert_eq!(got.name, "acm-scale/main");
    // after the successful scale to 2
    let got = Replay::new(&s).exchanges([8]).run(scale::get(&ctx(), "default", "acm-scale")).unwrap();
    assert_eq!(got, Scale { name: "acm-scale/main".into(), replicas: 2, desired: 2, ..Scale::default() });
}

#[test]
fn get_of_a_missing_group_says_which_groups_exist() {
    let s = Scenario::load("nomad/18-scale.json");
    let err = Replay::new(&s).exchanges([1]).run(scale::get(&ctx(), "default", "acm-scale/nope")).unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { ref problem, .. } if problem.contains("\"nope\"") && problem.contains("main")),
        "{err:?}"
    );
}

#[test]
fn scaling_during_the_active_deployment_is_a_bad_request_with_a_hint() {
    let s = Scenario::load("nomad/18-scale.json");
    let op = scale::set_with(&ctx(), "default", "acm-scale/main", 2, recorder_options());
    let err = Replay::new(&s).exchanges([1, 2]).run(op).unwrap_err();
    let Error::BadRequest(api) = &err else { panic!("expected BadRequest, got {err:?}") };
    assert_eq!(api.status, 400);
    assert!(api.message.starts_with("job scaling blocked due to active deployment"));
    assert!(api.message.contains("may still have applied"), "{}", api.message);
    // ... and indeed the server kept an error scaling event for it (18 [4]).
    let (raw, meta) =
        Replay::new(&s).exchanges([4]).run(api::get_raw(&ctx(), "job/acm-scale/scale", &Default::default())).unwrap();
    assert!(raw.get().contains(r#""Message":"job scaling blocked due to active deployment","Error":true"#));
    assert_eq!(meta.index, Some(77));
}

#[test]
fn scaling_after_the_deployment_succeeds() {
    let s = Scenario::load("nomad/18-scale.json");
    let op = scale::set_with(&ctx(), "default", "acm-scale/main", 2, recorder_options());
    let got = Replay::new(&s).exchanges([4, 5]).run(op).unwrap();
    assert_eq!(
        got,
        Scale { name: "acm-scale/main".into(), replicas: 2, desired: 2, ..Scale::default() },
        "as read before the write"
    );
}

#[test]
fn scaling_without_a_group_reads_the_scale_first() {
    let s = Scenario::load("nomad/18-scale.json");
    let op = scale::set_with(&ctx(), "default", "acm-scale", 2, recorder_options());
    let (out, _, transcript) = Replay::new(&s).exchanges([4, 5]).run_full(op);
    assert_eq!(out.unwrap(), Scale { name: "acm-scale/main".into(), replicas: 2, desired: 2, ..Scale::default() });
    assert_eq!(
        transcript.requests,
        [
            ("GET".to_owned(), "/v1/job/acm-scale/scale".to_owned()),
            ("POST".to_owned(), "/v1/job/acm-scale/scale".to_owned())
        ]
    );
}

#[test]
fn unknown_group_and_negative_count_are_refused() {
    let s = Scenario::load("nomad/18-scale.json");
    // the read before the write already shows the job has no group "nope": refused before sending
    let err = Replay::new(&s).exchanges([1]).run(scale::set(&ctx(), "default", "acm-scale/nope", 2)).unwrap_err();
    assert!(matches!(err, Error::InvalidInput { ref problem, .. } if problem.contains("\"nope\"")), "{err:?}");
    // what the server says when asked anyway (the escape hatch sends what the recorder sent)
    let body = serde_json::json!({"Count": 2, "Target": {"Group": "nope"}});
    let op = api::write_json(&ctx(), http::Method::POST, "/v1/job/acm-scale/scale", &Default::default(), &body);
    let err = Replay::new(&s).exchanges([6]).run(op).unwrap_err();
    assert!(matches!(err, Error::BadRequest(ref a) if a.message.contains("does not exist in job")), "{err:?}");
    // A u32 cannot be negative; the escape hatch can send what the recorder sent.
    let body = serde_json::json!({"Count": -1, "Target": {"Group": "main"}});
    let op = api::write_json(&ctx(), http::Method::POST, "/v1/job/acm-scale/scale", &Default::default(), &body);
    let err = Replay::new(&s).exchanges([7]).run(op).unwrap_err();
    assert!(
        matches!(err, Error::BadRequest(ref a) if a.message == "scaling action count can't be negative"),
        "{err:?}"
    );
}

#[test]
fn deployment_and_versions_through_the_generic_api() {
    let s = Scenario::load("nomad/18-scale.json");
    let (raw, meta) = Replay::new(&s)
        .exchanges([3])
        .run(api::get_raw(&ctx(), "job/acm-scale/deployment", &Default::default()))
        .unwrap();
    assert!(raw.get().contains(r#""Status":"successful""#));
    assert_eq!((meta.index, meta.known_leader), (Some(77), Some(true)));
    #[derive(serde::Deserialize)]
    struct Versions {
        #[serde(rename = "Versions")]
        versions: Vec<serde::de::IgnoredAny>,
    }
    let (v, _) = Replay::new(&s)
        .exchanges([9])
        .run(api::get::<Versions>(&ctx(), "job/acm-scale/versions", &Default::default()))
        .unwrap();
    assert!(!v.versions.is_empty());
}
