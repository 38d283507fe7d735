//! The list + watch state machine and the waits built on it (wait_for_job,
//! wait_for_job_execution_status), against recorded watch streams of kube-apiserver v1.19:
//! `acm-12-watch-pods-jobs`, `acm-13-watch-bookmarks`, `acm-14-watch-expired-410`,
//! `acm-15-watch-too-large-rv`, `acm-24-watch-foreground-delete`, `acm-26-job-with-node-agent`.
//!
//! Our watches always carry `allowWatchBookmarks=true&timeoutSeconds=N` and a selector, which
//! the recorder's did not (except acm-13's), so most conversations here are scripted: our
//! requests, answered with the recorded response bytes (and recorded chunking where the stream is
//! replayed whole).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap what they set up

mod k8s_support;

use std::time::Duration;

use clustermanager_core::deadline::Hold;
use clustermanager_core::k8s::object::Thin;
use clustermanager_core::k8s::watch::{WatchDecoder, WatchEvent};
use clustermanager_core::k8s::watcher::{Until, Update, WatchTarget, Watcher};
use clustermanager_core::{k8s, Error, Status};
use clustermanager_tests::{Replay, Split};
use k8s_support::*;
use proptest::prelude::*;

fn ctx() -> k8s::Context {
    k8s::Context::default()
}

fn job_watch(ns: &str, name: &str, rv: &str) -> String {
    format!(
        "/apis/batch/v1/namespaces/{ns}/jobs?watch=1&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=290&fieldSelector=metadata.name%3D{name}"
    )
}

fn pod_watch(ns: &str, job: &str, rv: &str) -> String {
    format!(
        "/api/v1/namespaces/{ns}/pods?watch=1&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=290&labelSelector=job-name%3D{job}"
    )
}

/// acm-12's job stream: ADDED (1342), MODIFIED active (1345), MODIFIED Complete (1348), DELETED.
/// The wait lists the job first (a JobList holding the recorded ADDED object, at 1342) and
/// watches from there: the server sends what came after.
fn acm12_job_wait() -> clustermanager_tests::Scenario {
    let s = k8s("acm-12-watch-pods-jobs.json");
    let stream = &s.exchange(1).response;
    let lines = event_lines(stream);
    let listed = json_response(200, &list_body("JobList", "batch/v1", "1342", &[event_object(&lines[0])]));
    scripted(vec![
        exchange("GET", "/apis/batch/v1/namespaces/acm-watch/jobs?fieldSelector=metadata.name%3Dwatched", None, listed),
        exchange(
            "GET",
            &job_watch("acm-watch", "watched", "1342"),
            None,
            stream_response(&events_after(stream, 1342), false),
        ),
    ])
}

#[test]
fn wait_for_job_returns_the_job_once_complete() {
    let scenario = acm12_job_wait();
    for split in [Split::AsRecorded, Split::Every(1), Split::Every(100)] {
        let (job, _, t) =
            Replay::new(&scenario).split(split).run_full(k8s::wait::job(&ctx(), "acm-watch", "watched", None));
        let job = job.unwrap();
        assert_eq!((job.status, job.raw_status.as_str(), job.succeeded), (Some(Status::Succeeded), "Complete", 1));
        assert_eq!(job.version, "1348");
        assert!(t.waits.is_empty(), "event-driven, no sleeping");
    }
}

#[test]
fn wait_for_a_job_that_is_already_finished_needs_only_the_list() {
    let s = k8s("acm-26-job-with-node-agent.json");
    let listed =
        json_response(200, &list_body("JobList", "batch/v1", "1790", &[response(&s, 10).body.trim_end().to_owned()]));
    let scenario = scripted(vec![exchange(
        "GET",
        "/apis/batch/v1/namespaces/acm-run/jobs?fieldSelector=metadata.name%3Dfailer",
        None,
        listed,
    )]);
    let job = Replay::new(&scenario).run(k8s::wait::job(&ctx(), "acm-run", "failer", None)).unwrap();
    assert_eq!(job.status, Some(Status::Failed));
}

#[test]
fn wait_for_a_missing_job_is_not_found() {
    let s = k8s("acm-12-watch-pods-jobs.json");
    // the recorded empty JobList
    let scenario = scripted(vec![exchange(
        "GET",
        "/apis/batch/v1/namespaces/acm-watch/jobs?fieldSelector=metadata.name%3Dnope",
        None,
        response(&s, 0),
    )]);
    let err = Replay::new(&scenario).run(k8s::wait::job(&ctx(), "acm-watch", "nope", None)).unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
}

/// acm-24: the job being waited for is deleted (foreground) before it finishes.
#[test]
fn wait_for_a_job_deleted_meanwhile_is_not_found() {
    let s = k8s("acm-24-watch-foreground-delete.json");
    let stream = &s.exchange(1).response;
    let lines = event_lines(stream);
    let listed = json_response(200, &list_body("JobList", "batch/v1", "1625", &[event_object(&lines[0])]));
    let scenario = scripted(vec![
        exchange("GET", "/apis/batch/v1/namespaces/acm-watch-fg/jobs?fieldSelector=metadata.name%3Dfg", None, listed),
        exchange(
            "GET",
            &job_watch("acm-watch-fg", "fg", "1625"),
            None,
            stream_response(&events_after(stream, 1625), true),
        ),
    ]);
    let err = Replay::new(&scenario)
        .split(Split::Every(1))
        .run(k8s::wait::job(&ctx(), "acm-watch-fg", "fg", None))
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)) && err.to_string().contains("deleted while waiting"), "{err:?}");
}

/// A stream that goes silent (the recorder closed acm-12's job watch itself) is a dead
/// connection once the server's timeoutSeconds plus a grace period passed: the watch backs off
/// (800 ms with jitter) and resumes from the last resourceVersion it saw.
#[test]
fn a_silent_watch_is_resumed_from_the_last_resource_version_after_a_backoff() {
    let s = k8s("acm-12-watch-pods-jobs.json");
    let stream = &s.exchange(1).response;
    let lines = event_lines(stream);
    // the job exists (ADDED at 1342) in the list at 1342
    let listed = json_response(200, &list_body("JobList", "batch/v1", "1342", &[event_object(&lines[0])]));
    let scenario = scripted(vec![
        exchange("GET", "/apis/batch/v1/namespaces/acm-watch/jobs?fieldSelector=metadata.name%3Dwatched", None, listed),
        // first watch: only the "active" MODIFIED, then silence
        exchange("GET", &job_watch("acm-watch", "watched", "1342"), None, stream_response(&lines[1..2], false)),
        // resumed from 1345: the Complete MODIFIED
        exchange("GET", &job_watch("acm-watch", "watched", "1345"), None, stream_response(&lines[2..3], false)),
    ]);
    let (job, _, t) = Replay::new(&scenario).split(Split::Every(1)).run_full(k8s::wait::job(
        &ctx(),
        "acm-watch",
        "watched",
        Some(Duration::from_secs(3600)),
    ));
    assert_eq!(job.unwrap().status, Some(Status::Succeeded));
    assert_eq!(t.waits.len(), 1, "{:?}", t.waits);
    assert!(t.waits[0] >= Duration::from_millis(400) && t.waits[0] <= Duration::from_millis(800), "{:?}", t.waits);
    assert_eq!(t.elapsed, Duration::from_secs(320) + t.waits[0], "read timeout = 290 s + 30 s grace, then the backoff");
}

#[test]
fn wait_for_job_times_out_at_the_callers_deadline() {
    let scenario = {
        let s = k8s("acm-12-watch-pods-jobs.json");
        let lines = event_lines(&s.exchange(1).response);
        let listed = json_response(200, &list_body("JobList", "batch/v1", "1342", &[event_object(&lines[0])]));
        scripted(vec![
            exchange(
                "GET",
                "/apis/batch/v1/namespaces/acm-watch/jobs?fieldSelector=metadata.name%3Dwatched",
                None,
                listed,
            ),
            exchange("GET", &job_watch("acm-watch", "watched", "1342"), None, stream_response(&lines[1..2], false)),
        ])
    };
    let (out, _, t) =
        Replay::new(&scenario).run_full(k8s::wait::job(&ctx(), "acm-watch", "watched", Some(Duration::from_secs(5))));
    let err = out.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert_eq!(t.elapsed, Duration::from_secs(5));
    // what the transport must honour travels in each step: the list and the watch both carry
    // the caller's deadline, the watch the server's hold (its timeoutSeconds, cut to the 5 s left)
    let (list, watch) = (t.ios[0], t.ios[1]);
    assert_eq!(list.hold, Hold::None);
    assert_eq!(watch.hold, Hold::Server(Duration::from_secs(5)));
    assert!(list.deadline.is_some() && list.deadline == watch.deadline, "{list:?} {watch:?}");
    assert_eq!((list.attempt, watch.attempt), (1, 1));
}

/// acm-26: the stand-in kubelet ran the pod; the read of the Job (for its uid: recorded later,
/// #5), the list to obtain a resourceVersion (empty) and the pod watch from it are the recorded
/// responses, chunked as recorded or byte by byte.
#[test]
fn wait_for_execution_status_follows_the_pod_through_its_phases() {
    let s = k8s("acm-26-job-with-node-agent.json");
    let scenario = scripted(vec![
        exchange("GET", "/apis/batch/v1/namespaces/acm-run/jobs/printer", None, response(&s, 5)),
        exchange("GET", "/api/v1/namespaces/acm-run/pods?labelSelector=job-name%3Dprinter", None, response(&s, 1)),
        exchange("GET", &pod_watch("acm-run", "printer", "1772"), None, response(&s, 2)),
    ]);
    for split in [Split::AsRecorded, Split::Every(1)] {
        let running = Replay::new(&scenario)
            .split(split)
            .run(k8s::wait::execution_status(&ctx(), "acm-run", "printer", &[Status::Running], None))
            .unwrap();
        assert_eq!(
            (running.id.as_str(), running.status, running.node.as_deref()),
            ("printer-vhpr6", Some(Status::Running), Some("fake-node-1"))
        );
        assert_eq!(running.tasks[0].state, "running");

        let done = Replay::new(&scenario)
            .split(split)
            .run(k8s::wait::execution_status(&ctx(), "acm-run", "printer", &[Status::Succeeded, Status::Failed], None))
            .unwrap();
        assert_eq!(done.status, Some(Status::Succeeded));
        assert_eq!((done.tasks[0].state.as_str(), done.tasks[0].exit_code), ("terminated", Some(0)));
    }
}

/// acm-12's pod stream: the pod goes straight from Pending to Succeeded, then is deleted.
#[test]
fn wait_for_execution_status_on_acm12() {
    let s = k8s("acm-12-watch-pods-jobs.json");
    let empty = k8s("acm-26-job-with-node-agent.json");
    let mut listed = response(&empty, 1);
    listed.body = listed.body.replace("acm-run", "acm-watch").replace("1772", "1341");
    let scenario = scripted(vec![
        // the Job as its create answered it (#3): the wait reads it for its uid
        exchange("GET", "/apis/batch/v1/namespaces/acm-watch/jobs/watched", None, response(&s, 3)),
        exchange("GET", "/api/v1/namespaces/acm-watch/pods?labelSelector=job-name%3Dwatched", None, listed),
        exchange("GET", &pod_watch("acm-watch", "watched", "1341"), None, response(&s, 2)),
    ]);
    let done = Replay::new(&scenario)
        .split(Split::Every(1))
        .run(k8s::wait::execution_status(&ctx(), "acm-watch", "watched", &[Status::Succeeded], None))
        .unwrap();
    assert_eq!((done.id.as_str(), done.status), ("watched-m7hns", Some(Status::Succeeded)));
}

/// The recorded pod of acm-26's `failer` job (#11), in phase `phase`; `orphan` makes it the pod
/// an earlier `failer` job (other uid) left behind when deleted with `purge: false` (the
/// garbage collector removed its ownerReferences; the `controller-uid` label stays).
fn failer_pod(phase: &str, orphan: bool, name: &str, created: &str) -> serde_json::Value {
    let s = k8s("acm-26-job-with-node-agent.json");
    let list: serde_json::Value = serde_json::from_str(&response(&s, 11).body).unwrap();
    let mut pod = list["items"][0].clone();
    pod["status"]["phase"] = phase.into();
    pod["metadata"]["name"] = name.into();
    pod["metadata"]["creationTimestamp"] = created.into();
    if orphan {
        pod["metadata"]["labels"]["controller-uid"] = "5b1f0c1e-0000-4000-8000-000000000001".into();
        pod["metadata"].as_object_mut().unwrap().remove("ownerReferences");
    }
    pod
}

fn pod_list(rv: &str, pods: &[serde_json::Value]) -> String {
    list_body("PodList", "v1", rv, &pods.iter().map(|p| p.to_string()).collect::<Vec<_>>())
}

/// Scripted around acm-26's `failer`: the Job read (#10, its uid) and a pod list holding the
/// Succeeded orphan of an earlier `failer` job and the new Job's Pending pod: the wait does not
/// return the orphan but waits for the new pod, which then fails (a MODIFIED event).
#[test]
fn wait_for_execution_status_ignores_the_orphans_of_an_earlier_job_of_the_same_name() {
    let s = k8s("acm-26-job-with-node-agent.json");
    let orphan = failer_pod("Succeeded", true, "failer-old01", "2026-11-25T20:40:00Z");
    let pending = failer_pod("Pending", false, "failer-knwwt", "2026-11-25T20:49:19Z");
    let failed = failer_pod("Failed", false, "failer-knwwt", "2026-11-25T20:49:19Z");
    let events = vec![format!("{{\"type\":\"MODIFIED\",\"object\":{failed}}}\n")];
    let scenario = scripted(vec![
        exchange("GET", "/apis/batch/v1/namespaces/acm-run/jobs/failer", None, response(&s, 10)),
        exchange(
            "GET",
            "/api/v1/namespaces/acm-run/pods?labelSelector=job-name%3Dfailer",
            None,
            json_response(200, &pod_list("1789", &[orphan, pending])),
        ),
        exchange("GET", &pod_watch("acm-run", "failer", "1789"), None, stream_response(&events, false)),
    ]);
    let done = Replay::new(&scenario)
        .split(Split::Every(1))
        .run(k8s::wait::execution_status(&ctx(), "acm-run", "failer", &[Status::Succeeded, Status::Failed], None))
        .unwrap();
    assert_eq!((done.id.as_str(), done.status), ("failer-knwwt", Some(Status::Failed)), "not the orphan");
}

/// Two finished pods of the same Job in the list (a job that retried): the newest one.
#[test]
fn wait_for_execution_status_prefers_the_newest_pod_of_the_list() {
    let s = k8s("acm-26-job-with-node-agent.json");
    let first = failer_pod("Failed", false, "failer-aaaaa", "2026-11-25T20:49:19Z");
    let retry = failer_pod("Failed", false, "failer-bbbbb", "2026-11-25T20:49:41Z");
    let scenario = scripted(vec![
        exchange("GET", "/apis/batch/v1/namespaces/acm-run/jobs/failer", None, response(&s, 10)),
        exchange(
            "GET",
            "/api/v1/namespaces/acm-run/pods?labelSelector=job-name%3Dfailer",
            None,
            json_response(200, &pod_list("1795", &[retry, first])),
        ),
    ]);
    let done = Replay::new(&scenario)
        .run(k8s::wait::execution_status(&ctx(), "acm-run", "failer", &[Status::Failed], None))
        .unwrap();
    assert_eq!(done.id, "failer-bbbbb");
}

/// Waiting on a Job that does not exist (acm-26 #13, the 404 after its delete): NotFound at once.
#[test]
fn wait_for_execution_status_of_a_missing_job_is_not_found() {
    let s = k8s("acm-26-job-with-node-agent.json");
    let err = Replay::new(&s)
        .exchanges([13])
        .run(k8s::wait::execution_status(&ctx(), "acm-run", "failer", &[Status::Failed], None))
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
}

/// The Job is deleted while its pod runs (acm-26 recorded `failer`'s delete, #12, and the 404
/// that followed, #13): the garbage collector deletes the pod (a DELETED event, scripted from the
/// recorded pod), the wait reads the Job again and ends with NotFound instead of waiting forever.
#[test]
fn wait_for_execution_status_ends_when_the_job_is_deleted() {
    let s = k8s("acm-26-job-with-node-agent.json");
    let running = failer_pod("Running", false, "failer-knwwt", "2026-11-25T20:49:19Z");
    let events = vec![format!("{{\"type\":\"DELETED\",\"object\":{running}}}\n")];
    let scenario = scripted(vec![
        exchange("GET", "/apis/batch/v1/namespaces/acm-run/jobs/failer", None, response(&s, 10)),
        exchange(
            "GET",
            "/api/v1/namespaces/acm-run/pods?labelSelector=job-name%3Dfailer",
            None,
            json_response(200, &pod_list("1789", &[running])),
        ),
        exchange("GET", &pod_watch("acm-run", "failer", "1789"), None, stream_response(&events, false)),
        exchange("GET", "/apis/batch/v1/namespaces/acm-run/jobs/failer", None, response(&s, 13)),
    ]);
    for split in [Split::AsRecorded, Split::Every(1)] {
        let err = Replay::new(&scenario)
            .split(split)
            .run(k8s::wait::execution_status(&ctx(), "acm-run", "failer", &[Status::Succeeded], None))
            .unwrap_err();
        assert!(matches!(&err, Error::NotFound(a) if a.message.contains("deleted while waiting")), "{err:?}");
    }
}

/// A pod deleted while its Job lives on (`delete_execution`): the Job read again (#10) still
/// exists with the same uid, so the wait goes on and sees the replacement pod fail.
#[test]
fn wait_for_execution_status_survives_a_deleted_pod_of_a_live_job() {
    let s = k8s("acm-26-job-with-node-agent.json");
    let running = failer_pod("Running", false, "failer-knwwt", "2026-11-25T20:49:19Z");
    let replaced = failer_pod("Failed", false, "failer-zq7xk", "2026-11-25T20:49:30Z");
    let events = vec![
        format!("{{\"type\":\"DELETED\",\"object\":{running}}}\n"),
        format!("{{\"type\":\"ADDED\",\"object\":{replaced}}}\n"),
    ];
    let scenario = scripted(vec![
        exchange("GET", "/apis/batch/v1/namespaces/acm-run/jobs/failer", None, response(&s, 10)),
        exchange(
            "GET",
            "/api/v1/namespaces/acm-run/pods?labelSelector=job-name%3Dfailer",
            None,
            json_response(200, &pod_list("1789", &[running])),
        ),
        exchange("GET", &pod_watch("acm-run", "failer", "1789"), None, stream_response(&events, false)),
        exchange("GET", "/apis/batch/v1/namespaces/acm-run/jobs/failer", None, response(&s, 10)),
    ]);
    let done = Replay::new(&scenario)
        .split(Split::Every(1))
        .run(k8s::wait::execution_status(&ctx(), "acm-run", "failer", &[Status::Failed], None))
        .unwrap();
    assert_eq!(done.id, "failer-zq7xk");
}

/// A Job deleted with `purge: false` leaves its pods: no event tells. When the server ends the
/// watch (its timeoutSeconds), the wait reads the Job before watching again; gone (#13): NotFound.
#[test]
fn wait_for_execution_status_notices_an_orphaning_delete_when_the_watch_resumes() {
    let s = k8s("acm-26-job-with-node-agent.json");
    let pending = failer_pod("Pending", false, "failer-knwwt", "2026-11-25T20:49:19Z");
    let mut running = failer_pod("Running", false, "failer-knwwt", "2026-11-25T20:49:19Z");
    running["metadata"]["resourceVersion"] = "1790".into();
    let events = vec![format!("{{\"type\":\"MODIFIED\",\"object\":{running}}}\n")];
    let scenario = scripted(vec![
        exchange("GET", "/apis/batch/v1/namespaces/acm-run/jobs/failer", None, response(&s, 10)),
        exchange(
            "GET",
            "/api/v1/namespaces/acm-run/pods?labelSelector=job-name%3Dfailer",
            None,
            json_response(200, &pod_list("1789", &[pending])),
        ),
        exchange("GET", &pod_watch("acm-run", "failer", "1789"), None, stream_response(&events, true)),
        exchange("GET", "/apis/batch/v1/namespaces/acm-run/jobs/failer", None, response(&s, 13)),
    ]);
    let (out, _, t) = Replay::new(&scenario).run_full(k8s::wait::execution_status(
        &ctx(),
        "acm-run",
        "failer",
        &[Status::Succeeded],
        None,
    ));
    let err = out.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    assert_eq!(t.requests.len(), 4, "job, pods, watch (ended by the server), job again (404)");
}

#[test]
fn wait_for_execution_status_needs_statuses() {
    let s = k8s("acm-26-job-with-node-agent.json");
    let err = Replay::new(&s)
        .exchanges([])
        .run(k8s::wait::execution_status(&ctx(), "acm-run", "printer", &[], None))
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { ref field, .. } if field == "statuses"));
}

/// What a generic [`Until`] saw: every update, until it had seen `n` of them.
fn collect(n: usize) -> impl FnMut(Update<Thin>) -> Option<clustermanager_core::Result<Vec<String>>> {
    let mut seen = Vec::new();
    move |u| {
        seen.push(match u {
            Update::Listed(items) => format!("listed {}", items.len()),
            Update::Added(o) => format!("added {}@{}", o.metadata.name, o.metadata.resource_version),
            Update::Modified(o) => format!("modified {}@{}", o.metadata.name, o.metadata.resource_version),
            Update::Deleted(o) => format!("deleted {}@{}", o.metadata.name, o.metadata.resource_version),
        });
        (seen.len() >= n).then(|| Ok(std::mem::take(&mut seen)))
    }
}

/// acm-13 replayed exactly as recorded (list, then the watch with allowWatchBookmarks and
/// timeoutSeconds=5): the ADDED reaches the caller, the bookmarks do not; when the server ends
/// the stream the watch is resumed at once from the bookmark's resourceVersion (scripted: that
/// watch stays silent until the caller's deadline).
#[test]
fn bookmarks_move_the_resource_version_and_a_finished_watch_is_resumed() {
    let mut s = k8s("acm-13-watch-bookmarks.json");
    let resumed = "/api/v1/namespaces/acm-bookmark/configmaps?watch=1&resourceVersion=1382&allowWatchBookmarks=true&timeoutSeconds=5";
    s.exchanges.truncate(2);
    s.exchanges.push(exchange("GET", resumed, None, stream_response(&[], false)));
    let params = WatchTarget::new("/api/v1/namespaces/acm-bookmark/configmaps", "configmaps").timeout_seconds(5);
    // a deadline shorter than timeoutSeconds + the read grace: the silent watch ends in a timeout
    let watcher = Watcher::<Thin>::new(params, &ctx().retry, Some(Duration::from_secs(20)));
    let mut seen = Vec::new();
    let op = Until::new(watcher, |u: Update<Thin>| {
        seen.push(format!("{u:?}").split('(').next().unwrap_or_default().to_owned());
        None::<clustermanager_core::Result<()>>
    });
    let (out, _, t) = Replay::new(&s).split(Split::Every(1)).run_full(op);
    assert!(matches!(out, Err(Error::Timeout { .. })), "{out:?}");
    assert_eq!(seen, ["Listed", "Added"]);
    assert_eq!(t.requests.len(), 3);
    assert!(t.waits.is_empty(), "a watch the server ended normally is resumed without backoff");
}

/// Only bookmarks (the recorded acm-13 BOOKMARK lines, resourceVersion 1382) on a watch from
/// 1378: the resumed watch must start from 1382.
#[test]
fn a_watch_with_only_bookmarks_resumes_from_the_bookmark() {
    let s = k8s("acm-13-watch-bookmarks.json");
    let lines = event_lines(&s.exchange(1).response);
    let base = "/api/v1/namespaces/acm-bookmark/configmaps?watch=1&allowWatchBookmarks=true&timeoutSeconds=5";
    let scenario = scripted(vec![
        exchange("GET", "/api/v1/namespaces/acm-bookmark/configmaps", None, response(&s, 0)),
        exchange("GET", &format!("{base}&resourceVersion=1378"), None, stream_response(&lines[1..], true)),
        exchange("GET", &format!("{base}&resourceVersion=1382"), None, stream_response(&lines[..1], false)),
    ]);
    let params = WatchTarget::new("/api/v1/namespaces/acm-bookmark/configmaps", "configmaps").timeout_seconds(5);
    let op = Until::new(Watcher::<Thin>::new(params, &ctx().retry, None), collect(2));
    let seen = Replay::new(&scenario).split(Split::Every(1)).run(op).unwrap();
    assert_eq!(seen, ["listed 0", "added bm@1382"]);
}

fn widget_params() -> WatchTarget {
    WatchTarget::new("/apis/acm.example.com/v1/namespaces/acm-expired/widgets", "widgets")
}

fn widget_list() -> clustermanager_tests::RecordedResponse {
    let s = k8s("acm-14-watch-expired-410.json");
    json_response(
        200,
        &list_body("WidgetList", "acm.example.com/v1", "1416", &[response(&s, 5).body.trim_end().to_owned()]),
    )
}

/// acm-14: a watch from a compacted resourceVersion answers HTTP 200 and one ERROR event whose
/// Status has code 410; the watcher lists again (a list holding the recorded widget) and goes on
/// watching from the list's resourceVersion.
#[test]
fn an_expired_watch_in_stream_410_relists() {
    let s = k8s("acm-14-watch-expired-410.json");
    let watch = |rv: &str| {
        format!("/apis/acm.example.com/v1/namespaces/acm-expired/widgets?watch=1&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=290")
    };
    let scenario = scripted(vec![
        exchange("GET", &watch("1399"), None, response(&s, 6)),
        exchange("GET", "/apis/acm.example.com/v1/namespaces/acm-expired/widgets", None, widget_list()),
        exchange("GET", &watch("1416"), None, stream_response(&[], false)),
    ]);
    let watcher = Watcher::<Thin>::from_version(widget_params(), &ctx().retry, Some(Duration::from_secs(10)), "1399");
    let mut lists = 0;
    let op = Until::new(watcher, |u: Update<Thin>| {
        if let Update::Listed(items) = u {
            lists += 1;
            assert_eq!(items[0].metadata.name, "w1");
        }
        None::<clustermanager_core::Result<()>>
    });
    let (out, _, t) = Replay::new(&scenario).split(Split::Every(1)).run_full(op);
    assert!(matches!(out, Err(Error::Timeout { .. })), "{out:?}");
    assert_eq!(lists, 1);
    assert_eq!(t.requests.len(), 3, "watch (410 in stream), list, watch from the list's version");
    assert!(t.waits.is_empty());
}

/// The other form: the watch request itself answered HTTP 410 (the recorded 410 Expired Status
/// body of acm-14's Exact list). Same outcome: list again.
#[test]
fn an_expired_watch_http_410_relists() {
    let s = k8s("acm-14-watch-expired-410.json");
    let watch = "/apis/acm.example.com/v1/namespaces/acm-expired/widgets?watch=1&resourceVersion=1399&allowWatchBookmarks=true&timeoutSeconds=290";
    let scenario = scripted(vec![
        exchange("GET", watch, None, response(&s, 2)),
        exchange("GET", "/apis/acm.example.com/v1/namespaces/acm-expired/widgets", None, widget_list()),
    ]);
    let watcher = Watcher::<Thin>::from_version(widget_params(), &ctx().retry, None, "1399");
    let seen = Replay::new(&scenario).run(Until::new(watcher, collect(1))).unwrap();
    assert_eq!(seen, ["listed 1"]);
}

/// A 410 right after a fresh list is not cured by listing again at once: back off first.
#[test]
fn repeated_410_after_a_fresh_list_backs_off() {
    let s = k8s("acm-14-watch-expired-410.json");
    let watch = |rv: &str| {
        format!("/apis/acm.example.com/v1/namespaces/acm-expired/widgets?watch=1&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=290")
    };
    let scenario = scripted(vec![
        exchange("GET", "/apis/acm.example.com/v1/namespaces/acm-expired/widgets", None, widget_list()),
        exchange("GET", &watch("1416"), None, response(&s, 6)),
        exchange("GET", "/apis/acm.example.com/v1/namespaces/acm-expired/widgets", None, widget_list()),
    ]);
    let watcher = Watcher::<Thin>::new(widget_params(), &ctx().retry, None);
    let (seen, _, t) = Replay::new(&scenario).run_full(Until::new(watcher, collect(2)));
    assert_eq!(seen.unwrap(), ["listed 1", "listed 1"]);
    assert_eq!(t.waits.len(), 1, "one backoff between the 410 and the second list");
}

/// acm-14: a non-numeric resourceVersion is a 500 from the server: not something to retry.
#[test]
fn a_watch_the_server_refuses_is_an_error() {
    let s = k8s("acm-14-watch-expired-410.json");
    let watch = "/api/v1/namespaces/acm-expired/configmaps?watch=1&resourceVersion=abc&allowWatchBookmarks=true&timeoutSeconds=290";
    let scenario = scripted(vec![exchange("GET", watch, None, response(&s, 8))]);
    let params = WatchTarget::new("/api/v1/namespaces/acm-expired/configmaps", "configmaps");
    let watcher = Watcher::<Thin>::from_version(params, &ctx().retry, None, "abc");
    let err = Replay::new(&scenario).run(Until::new(watcher, collect(1))).unwrap_err();
    assert!(matches!(err, Error::Server(_)), "{err:?}");
}

/// acm-15: a watch from a future resourceVersion is accepted and ends at timeoutSeconds with no
/// event. A stream that ends at once with nothing in it is resumed only after a backoff.
#[test]
fn an_empty_watch_that_ends_at_once_is_resumed_after_a_backoff() {
    let s = k8s("acm-15-watch-too-large-rv.json");
    let watch = "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=999999999&allowWatchBookmarks=true&timeoutSeconds=3";
    // the recorded stream lasted its 3 s; here the server ends it at once
    let mut at_once = response(&s, 4);
    at_once.elapsed_ms = Some(0.0);
    let scenario = scripted(vec![exchange("GET", watch, None, at_once.clone()), exchange("GET", watch, None, at_once)]);
    let params = WatchTarget::new("/api/v1/namespaces/default/configmaps", "configmaps").timeout_seconds(3);
    let watcher = Watcher::<Thin>::from_version(params, &ctx().retry, Some(Duration::from_millis(1500)), "999999999");
    let (out, _, t) = Replay::new(&scenario).run_full(Until::new(watcher, collect(1)));
    assert!(matches!(out, Err(Error::Timeout { .. })), "{out:?}");
    assert_eq!(t.requests.len(), 2, "{:?}", t.requests);
    assert!(!t.waits.is_empty() && t.waits[0] >= Duration::from_millis(400));
}

fn decode_all(pieces: &[&[u8]]) -> Vec<String> {
    let mut d = WatchDecoder::<Thin>::default();
    let mut out = Vec::new();
    let drain = |d: &mut WatchDecoder<Thin>, out: &mut Vec<String>| {
        while let Some(ev) = d.next_event().unwrap() {
            out.push(match ev {
                WatchEvent::Added(o) => format!("ADDED {}@{}", o.metadata.name, o.metadata.resource_version),
                WatchEvent::Modified(o) => format!("MODIFIED {}@{}", o.metadata.name, o.metadata.resource_version),
                WatchEvent::Deleted(o) => format!("DELETED {}@{}", o.metadata.name, o.metadata.resource_version),
                WatchEvent::Bookmark { resource_version, .. } => format!("BOOKMARK {resource_version}"),
                WatchEvent::Error(st) => format!("ERROR {}", st.code),
            });
        }
    };
    for p in pieces {
        d.push(p);
        drain(&mut d, &mut out);
    }
    assert!(d.finish().unwrap().is_none());
    out
}

/// acm-12's pod stream (15 KB, events cut across chunks as recorded) split in two at every byte
/// offset decodes to the same four events.
#[test]
fn acm12_pod_stream_split_at_every_offset_yields_the_same_events() {
    let s = k8s("acm-12-watch-pods-jobs.json");
    let body = s.exchange(2).response.body.as_bytes();
    let whole = decode_all(&[body]);
    assert_eq!(
        whole,
        [
            "ADDED watched-m7hns@1343",
            "MODIFIED watched-m7hns@1346",
            "MODIFIED watched-m7hns@1363",
            "DELETED watched-m7hns@1364"
        ]
    );
    for k in 0..=body.len() {
        assert_eq!(decode_all(&[&body[..k], &body[k..]]), whole, "split at {k}");
    }
}

proptest! {
    /// acm-12's job stream cut at any set of offsets decodes to the same events.
    #[test]
    fn acm12_job_stream_cut_anywhere(mut cuts in proptest::collection::vec(0usize..10_061, 0..40)) {
        let s = k8s("acm-12-watch-pods-jobs.json");
        let body = s.exchange(1).response.body.as_bytes();
        cuts.iter_mut().for_each(|c| *c = (*c).min(body.len()));
        cuts.sort_unstable();
        let mut pieces = Vec::new();
        let mut start = 0;
        for c in cuts {
            pieces.push(&body[start..c]);
            start = c;
        }
        pieces.push(&body[start..]);
        let expected = ["ADDED watched@1342", "MODIFIED watched@1345", "MODIFIED watched@1348", "DELETED watched@1362"];
        prop_assert_eq!(decode_all(&pieces), expected);
    }
}

/// A stream that ends in the middle of an event (a proxy cut it; here acm-12's Complete event
/// cut in half) is resumed, after a backoff, from the last complete event's resourceVersion.
#[test]
fn a_watch_cut_in_the_middle_of_an_event_is_resumed() {
    let s = k8s("acm-12-watch-pods-jobs.json");
    let lines = event_lines(&s.exchange(1).response);
    let listed = json_response(200, &list_body("JobList", "batch/v1", "1342", &[event_object(&lines[0])]));
    let half = lines[2][..lines[2].len() / 2].to_owned();
    let scenario = scripted(vec![
        exchange("GET", "/apis/batch/v1/namespaces/acm-watch/jobs?fieldSelector=metadata.name%3Dwatched", None, listed),
        exchange(
            "GET",
            &job_watch("acm-watch", "watched", "1342"),
            None,
            stream_response(&[lines[1].clone(), half], true),
        ),
        exchange("GET", &job_watch("acm-watch", "watched", "1345"), None, stream_response(&lines[2..3], false)),
    ]);
    for split in [Split::AsRecorded, Split::Every(1)] {
        let (job, _, t) =
            Replay::new(&scenario).split(split).run_full(k8s::wait::job(&ctx(), "acm-watch", "watched", None));
        assert_eq!(job.unwrap().status, Some(Status::Succeeded));
        assert_eq!((t.requests.len(), t.waits.len()), (3, 1));
    }
}
