//! create_namespace / delete_namespace against the recorded kube-apiserver v1.19
//! (`acm-06-namespace-lifecycle`, `acm-05-list-namespaces`, `acm-14-watch-expired-410`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap what they set up

mod k8s_support;

use clustermanager_core::{k8s, Error};
use clustermanager_tests::{Replay, Split};
use k8s_support::*;

const NS: &str = "acm-ns-lifecycle";

#[test]
fn creating_a_namespace_that_is_active_at_once_takes_one_request() {
    let s = k8s("acm-06-namespace-lifecycle.json");
    // The recorder labelled its namespace; we send the bare namespace, checked below.
    let (out, _, t) =
        Replay::new(&s).exchanges([0]).ignore_bodies().run_full(k8s::namespace::create(&Default::default(), NS));
    assert!(out.unwrap(), "a new namespace is reported as created");
    assert_eq!(t.requests, [("POST".to_owned(), "/api/v1/namespaces".to_owned())]);
    assert_eq!(
        sent_json(&t.bodies[0]),
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    );
}

#[test]
fn creating_an_existing_active_namespace_is_false() {
    let s = k8s("acm-06-namespace-lifecycle.json");
    // 409 AlreadyExists, then a read shows it Active.
    let out = Replay::new(&s).exchanges([2, 1]).ignore_bodies().run(k8s::namespace::create(&Default::default(), NS));
    assert!(!out.unwrap());
}

#[test]
fn creating_a_namespace_that_is_still_terminating_is_a_clear_error() {
    let s = k8s("acm-06-namespace-lifecycle.json");
    // 409 AlreadyExists, then a read shows it Terminating (recorded right after its delete).
    let err = Replay::new(&s)
        .exchanges([2, 5])
        .ignore_bodies()
        .run(k8s::namespace::create(&Default::default(), NS))
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("Terminating") && text.contains("delete_namespace"), "{text}");
}

#[test]
fn bad_namespace_names_are_rejected_before_any_request() {
    let s = k8s("acm-06-namespace-lifecycle.json");
    for bad in ["Upper", "under_score", "-dash", "", &"x".repeat(64)] {
        let err = Replay::new(&s).exchanges([]).run(k8s::namespace::create(&Default::default(), bad)).unwrap_err();
        assert!(matches!(err, Error::InvalidInput { ref field, .. } if field == "namespace"), "{bad}: {err:?}");
        let err = Replay::new(&s).exchanges([]).run(k8s::namespace::delete(&Default::default(), bad)).unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{bad}: {err:?}");
    }
}

#[test]
fn deleting_a_missing_namespace_is_false() {
    let s = k8s("acm-06-namespace-lifecycle.json");
    let out = Replay::new(&s).exchanges([7]).run(k8s::namespace::delete(&Default::default(), NS));
    assert!(!out.unwrap());
}

fn watch_path(rv: &str) -> String {
    format!(
        "/api/v1/namespaces?watch=1&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=290&fieldSelector=metadata.name%3D{NS}"
    )
}

/// The recorder polled with GETs until 404; we watch. The DELETE answer is recorded (the
/// namespace in phase Terminating, resourceVersion 1235); the watch stream is scripted from the
/// recorded Terminating object: a MODIFIED once the namespace controller emptied
/// `spec.finalizers`, then its DELETED event.
#[test]
fn deleting_a_namespace_waits_through_terminating_until_deleted() {
    let s = k8s("acm-06-namespace-lifecycle.json");
    let terminating = response(&s, 3).body.trim_end().to_owned();
    let finalized = terminating.replace(r#""spec":{"finalizers":["kubernetes"]}"#, r#""spec":{}"#);
    assert_ne!(finalized, terminating);
    let events = vec![
        format!("{{\"type\":\"MODIFIED\",\"object\":{finalized}}}\n"),
        format!("{{\"type\":\"DELETED\",\"object\":{finalized}}}\n"),
    ];
    let scenario = scripted(vec![
        exchange("DELETE", &format!("/api/v1/namespaces/{NS}"), None, response(&s, 3)),
        exchange("GET", &watch_path("1235"), None, stream_response(&events, false)),
    ]);
    for split in [Split::AsRecorded, Split::Every(1), Split::Every(7)] {
        let (out, _, t) = Replay::new(&scenario).split(split).run_full(k8s::namespace::delete(&Default::default(), NS));
        assert!(out.unwrap(), "{split:?}");
        assert_eq!(t.requests.len(), 2);
        assert!(t.waits.is_empty(), "no sleeping: {:?}", t.waits);
    }
}

/// The 409 a kube-apiserver 1.19 answers to a second DELETE of a namespace that is already
/// Terminating (scripted: acm-06 did not record a second delete before the namespace was gone).
fn conflict_terminating() -> clustermanager_tests::RecordedResponse {
    json_response(
        409,
        &format!(
            r#"{{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Failure","message":"Operation cannot be fulfilled on namespaces \"{NS}\": The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system.","reason":"Conflict","details":{{"name":"{NS}","kind":"namespaces"}},"code":409}}"#
        ),
    )
}

/// Deleting a namespace someone else is already deleting: the 409 (scripted) makes it read the
/// namespace (the recorded Terminating namespace, acm-06 #5, resourceVersion 1235) and wait for
/// its DELETED event from there, like for its own delete.
#[test]
fn deleting_a_namespace_that_is_already_terminating_waits_until_deleted() {
    let s = k8s("acm-06-namespace-lifecycle.json");
    let terminating = response(&s, 5).body.trim_end().to_owned();
    let events = vec![format!("{{\"type\":\"DELETED\",\"object\":{terminating}}}\n")];
    let scenario = scripted(vec![
        exchange("DELETE", &format!("/api/v1/namespaces/{NS}"), None, conflict_terminating()),
        exchange("GET", &format!("/api/v1/namespaces/{NS}"), None, response(&s, 5)),
        exchange("GET", &watch_path("1235"), None, stream_response(&events, false)),
    ]);
    for split in [Split::AsRecorded, Split::Every(1)] {
        let (out, _, t) = Replay::new(&scenario).split(split).run_full(k8s::namespace::delete(&Default::default(), NS));
        assert!(out.unwrap(), "{split:?}");
        assert_eq!(t.requests.len(), 3, "delete (409), read (Terminating), watch until DELETED");
    }
}

/// The 409 then a read that finds the namespace gone already (acm-06 #6, 404): deleted.
#[test]
fn deleting_a_namespace_whose_termination_just_finished_is_true() {
    let s = k8s("acm-06-namespace-lifecycle.json");
    let scenario = scripted(vec![
        exchange("DELETE", &format!("/api/v1/namespaces/{NS}"), None, conflict_terminating()),
        exchange("GET", &format!("/api/v1/namespaces/{NS}"), None, response(&s, 6)),
    ]);
    assert!(Replay::new(&scenario).run(k8s::namespace::delete(&Default::default(), NS)).unwrap());
}

/// A 409 on an object that is not being deleted (the recorded Active namespace, acm-06 #1) is
/// the caller's conflict: returned as it is.
#[test]
fn a_delete_conflict_on_an_object_not_being_deleted_is_returned() {
    let s = k8s("acm-06-namespace-lifecycle.json");
    let scenario = scripted(vec![
        exchange("DELETE", &format!("/api/v1/namespaces/{NS}"), None, conflict_terminating()),
        exchange("GET", &format!("/api/v1/namespaces/{NS}"), None, response(&s, 1)),
    ]);
    let err = Replay::new(&scenario).run(k8s::namespace::delete(&Default::default(), NS)).unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
}

/// A watch whose resourceVersion is too old gets one ERROR event with a 410 Expired Status
/// (bytes recorded in acm-14); the wait then lists again, and an empty list means gone (bytes of
/// the recorded empty NamespaceList in acm-05).
#[test]
fn deleting_a_namespace_relists_after_an_expired_watch() {
    let s = k8s("acm-06-namespace-lifecycle.json");
    let expired = k8s("acm-14-watch-expired-410.json");
    let empty = k8s("acm-05-list-namespaces.json");
    let scenario = scripted(vec![
        exchange("DELETE", &format!("/api/v1/namespaces/{NS}"), None, response(&s, 3)),
        exchange("GET", &watch_path("1235"), None, response(&expired, 6)),
        exchange("GET", &format!("/api/v1/namespaces?fieldSelector=metadata.name%3D{NS}"), None, response(&empty, 1)),
    ]);
    let (out, _, t) =
        Replay::new(&scenario).split(Split::Every(1)).run_full(k8s::namespace::delete(&Default::default(), NS));
    assert!(out.unwrap());
    assert_eq!(t.requests.len(), 3, "delete, watch (410), re-list");
}

/// A create answer that is not yet Active (the recorded acm-06 answer with its phase removed):
/// the wait watches the namespace from the create's resourceVersion (1230) until a MODIFIED
/// event shows it Active (the recorded Active object).
#[test]
fn creating_a_namespace_not_yet_active_watches_until_active() {
    let s = k8s("acm-06-namespace-lifecycle.json");
    let mut created = response(&s, 0);
    let active = created.body.trim_end().to_owned();
    created.body = active.replace(r#","status":{"phase":"Active"}"#, "");
    assert_ne!(created.body, active);
    let scenario = scripted(vec![
        exchange("POST", "/api/v1/namespaces", None, created),
        exchange(
            "GET",
            &watch_path("1230"),
            None,
            stream_response(&[format!("{{\"type\":\"MODIFIED\",\"object\":{active}}}\n")], false),
        ),
    ]);
    let (out, _, t) = Replay::new(&scenario)
        .ignore_bodies()
        .split(Split::Every(1))
        .run_full(k8s::namespace::create(&Default::default(), NS));
    assert!(out.unwrap());
    assert_eq!(t.requests.len(), 2);
}
