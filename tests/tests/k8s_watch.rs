//! The list + watch state machine, and the waits users take on it (`ClusterManager::wait_for_job`,
//! `wait_for_job_execution_status`), against recorded watch streams of kube-apiserver v1.19:
//! `acm-12-watch-pods-jobs`, `acm-13-watch-bookmarks`, `acm-14-watch-expired-410`,
//! `acm-15-watch-too-large-rv`, `acm-24-watch-foreground-delete`, `acm-26-job-with-node-agent`.
//!
//! The waits run through the facade over a [`RecordedServer`]: the namespace's shared
//! observation (a list of all its Jobs, or of its job pods, then a watch from the list's
//! resourceVersion) and each waiter's own looks (its Job, its pods) are answered by route from
//! the recorded bodies. The recorder watched one Job by `fieldSelector` or one Job's pods by
//! `labelSelector=job-name=<job>`; the facade lists and watches the whole namespace instead, so
//! those recorded bodies are served on its routes (a list holding the recorded objects, the
//! recorded events on the namespace's watch). The observation first asks for a watch-list,
//! which v1.19 ignores (answered as 1.19 answers a watch without resourceVersion: the existing
//! objects as ADDED events, no initial-events-end bookmark, then the end of the stream), so it
//! lists and watches as before. The [`Watcher`] itself is driven directly (scripted: our
//! requests, answered with the recorded response bytes).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap what they set up

mod k8s_support;

use std::time::Duration;

use clustermanager_core::deadline::Hold;
use clustermanager_core::k8s::object::Thin;
use clustermanager_core::k8s::watch::{WatchDecoder, WatchEvent};
use clustermanager_core::k8s::watcher::{Until, Update, WatchTarget, Watcher};
use clustermanager_core::{k8s, ClusterManager, Config, Error, Status};
use clustermanager_tests::recorded::RecordedServer;
use clustermanager_tests::transport::block_on;
use clustermanager_tests::{RecordedResponse, Replay, Split};
use k8s_support::*;
use proptest::prelude::*;

fn ctx() -> k8s::Context {
    k8s::Context::default()
}

/// The facade over `server`, as a program uses it.
fn manager(server: &RecordedServer) -> ClusterManager<RecordedServer> {
    let config = Config::kubernetes("https://127.0.0.1:6443").unwrap();
    block_on(ClusterManager::connect(server.clone(), &config, 7)).unwrap()
}

/// The collection of `ns`'s Jobs: the shared observation lists it (every Job of the namespace).
fn jobs(ns: &str) -> String {
    format!("/apis/batch/v1/namespaces/{ns}/jobs")
}

/// The shared watch of `ns`'s Jobs from resourceVersion `rv`.
fn jobs_watch(ns: &str, rv: &str) -> String {
    format!("/apis/batch/v1/namespaces/{ns}/jobs?resourceVersion={rv}")
}

/// The shared list of `ns`'s job pods (every pod with a `job-name` label).
fn job_pods(ns: &str) -> String {
    format!("/api/v1/namespaces/{ns}/pods?labelSelector=job-name")
}

/// The shared watch of `ns`'s job pods from resourceVersion `rv`.
fn job_pods_watch(ns: &str, rv: &str) -> String {
    format!("/api/v1/namespaces/{ns}/pods?resourceVersion={rv}")
}

/// An execution waiter's look at Job `job`'s pods (after reading the Job for its uid).
fn pods_of(ns: &str, job: &str) -> String {
    format!("/api/v1/namespaces/{ns}/pods?labelSelector=job-name={job}")
}

/// A Job's own path.
fn job(ns: &str, name: &str) -> String {
    format!("/apis/batch/v1/namespaces/{ns}/jobs/{name}")
}

/// The watch-list request the shared observation of `collection` (`jobs(ns)`, `job_pods(ns)`)
/// makes first.
fn watch_list_of(collection: &str) -> String {
    let path = collection.split('?').next().unwrap_or(collection);
    format!("{path}?sendInitialEvents=true")
}

/// What kube-apiserver v1.19 answers a watch-list request: it ignores `sendInitialEvents`, so it
/// is a watch without resourceVersion (acm-13 #3): the objects that exist (here: those of the
/// recorded `listed` answer) as ADDED events, no bookmark, until its timeout ends the stream. The
/// watcher then lists and watches, as before watch-list.
fn ignored_by_v1_19(listed: &RecordedResponse) -> RecordedResponse {
    let list: serde_json::Value = serde_json::from_str(&listed.body).unwrap();
    let lines: Vec<String> = list["items"]
        .as_array()
        .map(|items| items.iter().map(|o| format!("{{\"type\":\"ADDED\",\"object\":{o}}}\n")).collect())
        .unwrap_or_default();
    stream_response(&lines, true)
}

/// How many requests `server` saw that contain `part`.
fn made(server: &RecordedServer, part: &str) -> usize {
    server.requests().iter().filter(|r| r.contains(part)).count()
}

/// acm-12's job stream: ADDED (1342), MODIFIED active (1345), MODIFIED Complete (1348), DELETED.
/// The namespace's list holds the Job as recorded ADDED (at 1342); the watch from there brings
/// what came after.
fn acm12_job_wait(split: Split) -> RecordedServer {
    let s = k8s("acm-12-watch-pods-jobs.json");
    let stream = &s.exchange(1).response;
    let lines = event_lines(stream);
    let listed = json_response(200, &list_body("JobList", "batch/v1", "1342", &[event_object(&lines[0])]));
    RecordedServer::new()
        .split(split)
        .on_watch(&watch_list_of(&jobs("acm-watch")), vec![ignored_by_v1_19(&listed)])
        .on("GET", &jobs("acm-watch"), vec![listed])
        .on_watch(&jobs_watch("acm-watch", "1342"), vec![stream_response(&events_after(stream, 1342), false)])
}

#[test]
fn wait_for_job_returns_the_job_once_complete() {
    for split in [Split::AsRecorded, Split::Every(1), Split::Every(100)] {
        let server = acm12_job_wait(split);
        let job = block_on(manager(&server).wait_for_job("acm-watch", "watched", None)).unwrap();
        assert_eq!((job.status, job.raw_status.as_str(), job.succeeded), (Some(Status::Succeeded), "Complete", 1));
        assert_eq!(job.version, "1348");
        // the server's Job as the event that ended the wait carried it
        let complete = event_lines(&k8s("acm-12-watch-pods-jobs.json").exchange(1).response)
            .into_iter()
            .find(|l| event_rv(l) == 1348)
            .unwrap();
        let recorded: serde_json::Value = serde_json::from_str(&event_object(&complete)).unwrap();
        assert_eq!(job.raw.to_value().unwrap(), recorded);
        assert!(server.sleeps().is_empty(), "event-driven, no sleeping: {:?}", server.sleeps());
        assert_eq!(made(&server, "sendInitialEvents=true"), 1, "asked once: {:?}", server.requests());
        assert_eq!(made(&server, "watch=1&resourceVersion="), 1, "{:?}", server.requests());
    }
}

#[test]
fn wait_for_a_job_that_is_already_finished_needs_only_the_list() {
    let s = k8s("acm-26-job-with-node-agent.json");
    let listed =
        json_response(200, &list_body("JobList", "batch/v1", "1790", &[response(&s, 10).body.trim_end().to_owned()]));
    let server = RecordedServer::new()
        .on_watch(&watch_list_of(&jobs("acm-run")), vec![ignored_by_v1_19(&listed)])
        .on("GET", &jobs("acm-run"), vec![listed])
        // how it ended: its pods (the Job for its uid, #10; its pods, #11: the failed pod)
        .on("GET", &job("acm-run", "failer"), vec![response(&s, 10)])
        .on("GET", &pods_of("acm-run", "failer"), vec![response(&s, 11)]);
    let job = block_on(manager(&server).wait_for_job("acm-run", "failer", None)).unwrap();
    assert_eq!(job.status, Some(Status::Failed));
    assert_eq!(job.exit_code, Some(3), "{job:?}");
    let recorded: serde_json::Value = serde_json::from_str(&response(&s, 10).body).unwrap();
    assert_eq!(job.raw.to_value().unwrap(), recorded, "the listed Job, as the server sent it");
    assert_eq!(made(&server, "watch=1&resourceVersion="), 0, "no watch after the list: {:?}", server.requests());
}

#[test]
fn wait_for_a_missing_job_is_not_found() {
    let s = k8s("acm-12-watch-pods-jobs.json");
    // the recorded empty JobList
    let server = RecordedServer::new()
        .on_watch(&watch_list_of(&jobs("acm-watch")), vec![ignored_by_v1_19(&response(&s, 0))])
        .on("GET", &jobs("acm-watch"), vec![response(&s, 0)]);
    let err = block_on(manager(&server).wait_for_job("acm-watch", "nope", None)).unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    assert_eq!(server.requests().len(), 2, "the ignored watch-list, then the list says it: {:?}", server.requests());
}

/// acm-24: the job being waited for is deleted (foreground) before it finishes.
#[test]
fn wait_for_a_job_deleted_meanwhile_is_not_found() {
    let s = k8s("acm-24-watch-foreground-delete.json");
    let stream = &s.exchange(1).response;
    let lines = event_lines(stream);
    let listed = json_response(200, &list_body("JobList", "batch/v1", "1625", &[event_object(&lines[0])]));
    for split in [Split::AsRecorded, Split::Every(1)] {
        let server = RecordedServer::new()
            .split(split)
            .on_watch(&watch_list_of(&jobs("acm-watch-fg")), vec![ignored_by_v1_19(&listed)])
            .on("GET", &jobs("acm-watch-fg"), vec![listed.clone()])
            .on_watch(&jobs_watch("acm-watch-fg", "1625"), vec![stream_response(&events_after(stream, 1625), true)]);
        let err = block_on(manager(&server).wait_for_job("acm-watch-fg", "fg", None)).unwrap_err();
        assert!(matches!(err, Error::NotFound(_)) && err.to_string().contains("deleted while waiting"), "{err:?}");
    }
}

/// A stream that goes silent (the recorder closed acm-12's job watch itself) is a dead
/// connection once the server's timeoutSeconds plus a grace period passed: the watch backs off
/// (800 ms with jitter) and resumes from the last resourceVersion it saw.
#[test]
fn a_silent_watch_is_resumed_from_the_last_resource_version_after_a_backoff() {
    let s = k8s("acm-12-watch-pods-jobs.json");
    let lines = event_lines(&s.exchange(1).response);
    // the job exists (ADDED at 1342) in the list at 1342
    let listed = json_response(200, &list_body("JobList", "batch/v1", "1342", &[event_object(&lines[0])]));
    let server = RecordedServer::new()
        .split(Split::Every(1))
        .on_watch(&watch_list_of(&jobs("acm-watch")), vec![ignored_by_v1_19(&listed)])
        .on("GET", &jobs("acm-watch"), vec![listed])
        // first watch: only the "active" MODIFIED, then silence
        .on_watch(&jobs_watch("acm-watch", "1342"), vec![stream_response(&lines[1..2], false)])
        // resumed from 1345: the Complete MODIFIED
        .on_watch(&jobs_watch("acm-watch", "1345"), vec![stream_response(&lines[2..3], false)]);
    let job = block_on(manager(&server).wait_for_job("acm-watch", "watched", Some(Duration::from_secs(3600))));
    assert_eq!(job.unwrap().status, Some(Status::Succeeded));
    let waits = server.sleeps();
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert!(waits[0] >= Duration::from_millis(400) && waits[0] <= Duration::from_millis(800), "{waits:?}");
    assert_eq!(
        server.elapsed(),
        Duration::from_secs(320) + waits[0],
        "read timeout = 290 s + 30 s grace, then the backoff"
    );
}

/// The caller's deadline ends the wait, with the last state seen. The shared watch serves every
/// waiter of the namespace, so it asks the server for its full timeoutSeconds; the caller's
/// deadline travels in each step and ends the read.
#[test]
fn wait_for_job_times_out_at_the_callers_deadline() {
    let s = k8s("acm-12-watch-pods-jobs.json");
    let lines = event_lines(&s.exchange(1).response);
    let listed = json_response(200, &list_body("JobList", "batch/v1", "1342", &[event_object(&lines[0])]));
    let server = RecordedServer::new()
        .on_watch(&watch_list_of(&jobs("acm-watch")), vec![ignored_by_v1_19(&listed)])
        .on("GET", &jobs("acm-watch"), vec![listed])
        .on_watch(&jobs_watch("acm-watch", "1342"), vec![stream_response(&lines[1..2], false)]);
    let err =
        block_on(manager(&server).wait_for_job("acm-watch", "watched", Some(Duration::from_secs(5)))).unwrap_err();
    let Error::Timeout { what } = &err else { panic!("{err:?}") };
    assert!(what.contains("last seen: Running, 1 active"), "{what}");
    assert_eq!(server.elapsed(), Duration::from_secs(5));
    // what the transport must honour travels in each step: the list and the watch both carry
    // the caller's deadline, the watch the server's hold (its timeoutSeconds)
    let ios = server.ios();
    assert_eq!(ios[0].hold, Hold::Server(Duration::from_secs(290)), "the watch-list request is a watch");
    let (list, watch) = (ios[1], ios[2]);
    assert_eq!(list.hold, Hold::None);
    assert_eq!(watch.hold, Hold::Server(Duration::from_secs(290)));
    assert!(list.deadline.is_some() && list.deadline == watch.deadline, "{list:?} {watch:?}");
    assert_eq!((list.attempt, watch.attempt), (1, 1));
}

/// A stream that ends in the middle of an event (a proxy cut it; here acm-12's Complete event
/// cut in half) is resumed, after a backoff, from the last complete event's resourceVersion.
#[test]
fn a_watch_cut_in_the_middle_of_an_event_is_resumed() {
    let s = k8s("acm-12-watch-pods-jobs.json");
    let lines = event_lines(&s.exchange(1).response);
    let listed = json_response(200, &list_body("JobList", "batch/v1", "1342", &[event_object(&lines[0])]));
    let half = lines[2][..lines[2].len() / 2].to_owned();
    for split in [Split::AsRecorded, Split::Every(1)] {
        let server = RecordedServer::new()
            .split(split)
            .on_watch(&watch_list_of(&jobs("acm-watch")), vec![ignored_by_v1_19(&listed)])
            .on("GET", &jobs("acm-watch"), vec![listed.clone()])
            .on_watch(&jobs_watch("acm-watch", "1342"), vec![stream_response(&[lines[1].clone(), half.clone()], true)])
            .on_watch(&jobs_watch("acm-watch", "1345"), vec![stream_response(&lines[2..3], false)]);
        let job = block_on(manager(&server).wait_for_job("acm-watch", "watched", None));
        assert_eq!(job.unwrap().status, Some(Status::Succeeded));
        assert_eq!((server.requests().len(), server.sleeps().len()), (4, 1), "{:?}", server.requests());
    }
}

/// The pod list of a look (or of the shared list) holding the pod of event line `line`.
fn pods_at(line: &str) -> RecordedResponse {
    json_response(200, &list_body("PodList", "v1", &event_rv(line).to_string(), &[event_object(line)]))
}

/// The last line of a recorded pod stream whose pod is in `phase`.
fn line_in_phase<'l>(lines: &'l [String], phase: &str) -> &'l str {
    lines
        .iter()
        .rfind(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["object"]["status"]["phase"] == phase
        })
        .unwrap_or_else(|| panic!("the recorded pod stream holds a {phase} pod"))
}

/// acm-26: the stand-in kubelet ran the pod. The shared pod list is the recorded empty one
/// (#1, at 1772) and its watch the recorded pod stream (#2), chunked as recorded or byte by
/// byte; the waiter reads its Job (for its uid: recorded later, #5) and looks at its pods when it
/// joins (none yet) and when the watch says one of its pods may be in a wanted status: that look
/// answers the pod the recorded stream carried at that point.
#[test]
fn wait_for_execution_status_follows_the_pod_through_its_phases() {
    let s = k8s("acm-26-job-with-node-agent.json");
    let lines = event_lines(&s.exchange(2).response);
    let server = |split: Split, phase: &str| {
        RecordedServer::new()
            .split(split)
            .on_watch(&watch_list_of(&job_pods("acm-run")), vec![ignored_by_v1_19(&response(&s, 1))])
            .on("GET", &job_pods("acm-run"), vec![response(&s, 1)])
            .on_watch(&job_pods_watch("acm-run", "1772"), vec![response(&s, 2)])
            .on("GET", &job("acm-run", "printer"), vec![response(&s, 5)])
            .on("GET", &pods_of("acm-run", "printer"), vec![response(&s, 1), pods_at(line_in_phase(&lines, phase))])
    };
    for split in [Split::AsRecorded, Split::Every(1)] {
        let cm = manager(&server(split, "Running"));
        let running =
            block_on(cm.wait_for_job_execution_status("acm-run", "printer", &[Status::Running], None)).unwrap();
        assert_eq!(
            (running.id.as_str(), running.status, running.node.as_deref()),
            ("printer-vhpr6", Some(Status::Running), Some("fake-node-1"))
        );
        assert_eq!(running.tasks[0].state, "running");

        let cm = manager(&server(split, "Succeeded"));
        let wanted = [Status::Succeeded, Status::Failed];
        let done = block_on(cm.wait_for_job_execution_status("acm-run", "printer", &wanted, None)).unwrap();
        assert_eq!(done.status, Some(Status::Succeeded));
        assert_eq!((done.tasks[0].state.as_str(), done.tasks[0].exit_code), ("terminated", Some(0)));
    }
}

/// acm-12's pod stream: the pod goes straight from Pending to Succeeded, then is deleted.
#[test]
fn wait_for_execution_status_on_acm12() {
    let s = k8s("acm-12-watch-pods-jobs.json");
    let lines = event_lines(&s.exchange(2).response);
    let empty = k8s("acm-26-job-with-node-agent.json");
    let mut listed = response(&empty, 1);
    listed.body = listed.body.replace("acm-run", "acm-watch").replace("1772", "1341");
    let server = RecordedServer::new()
        .split(Split::Every(1))
        .on_watch(&watch_list_of(&job_pods("acm-watch")), vec![ignored_by_v1_19(&listed)])
        .on("GET", &job_pods("acm-watch"), vec![listed.clone()])
        .on_watch(&job_pods_watch("acm-watch", "1341"), vec![response(&s, 2)])
        // the Job as its create answered it (#3): the waiter reads it for its uid
        .on("GET", &job("acm-watch", "watched"), vec![response(&s, 3)])
        .on("GET", &pods_of("acm-watch", "watched"), vec![listed, pods_at(line_in_phase(&lines, "Succeeded"))]);
    let cm = manager(&server);
    let done = block_on(cm.wait_for_job_execution_status("acm-watch", "watched", &[Status::Succeeded], None)).unwrap();
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

/// `pod` as its Job's deletion with `propagationPolicy=Orphan` leaves it: the garbage collector
/// strips its ownerReferences, the `controller-uid` label of the deleted Job stays.
fn orphaned(mut pod: serde_json::Value, rv: &str) -> serde_json::Value {
    pod["metadata"].as_object_mut().unwrap().remove("ownerReferences");
    pod["metadata"]["resourceVersion"] = rv.into();
    pod
}

/// A pod list at `rv` holding `pods`.
fn pods(rv: &str, pods: &[&serde_json::Value]) -> RecordedResponse {
    json_response(200, &list_body("PodList", "v1", rv, &pods.iter().map(|p| p.to_string()).collect::<Vec<_>>()))
}

fn event(kind: &str, pod: &serde_json::Value) -> String {
    format!("{{\"type\":\"{kind}\",\"object\":{pod}}}\n")
}

/// acm-26's `failer` in namespace `acm-run`, waited for by execution: the shared pod list
/// (`listed`), its watch (`events`, ended by the server when `ends`), the waiter's reads of the
/// Job (`job_reads` of acm-26's responses, in turn) and its looks at the pods (`looks`, in turn).
fn failer_server(
    listed: RecordedResponse,
    events: &[String],
    ends: bool,
    job_reads: &[usize],
    looks: Vec<RecordedResponse>,
) -> RecordedServer {
    let s = k8s("acm-26-job-with-node-agent.json");
    RecordedServer::new()
        .split(Split::Every(1))
        .on_watch(&watch_list_of(&job_pods("acm-run")), vec![ignored_by_v1_19(&listed)])
        .on("GET", &job_pods("acm-run"), vec![listed])
        .on_watch(&job_pods_watch("acm-run", "1789"), vec![stream_response(events, ends)])
        // resumed from a later version: nothing more happens
        .on_watch("/api/v1/namespaces/acm-run/pods", vec![])
        .on("GET", &job("acm-run", "failer"), job_reads.iter().map(|&i| response(&s, i)).collect())
        .on("GET", &pods_of("acm-run", "failer"), looks)
}

/// Scripted around acm-26's `failer`: the Job read (#10, its uid) and a pod list holding the
/// Succeeded orphan of an earlier `failer` job and the new Job's Pending pod: the wait does not
/// return the orphan but waits for the new pod, which then fails (a MODIFIED event).
#[test]
fn wait_for_execution_status_ignores_the_orphans_of_an_earlier_job_of_the_same_name() {
    let orphan = failer_pod("Succeeded", true, "failer-old01", "2026-11-25T20:40:00Z");
    let pending = failer_pod("Pending", false, "failer-knwwt", "2026-11-25T20:49:19Z");
    let failed = failer_pod("Failed", false, "failer-knwwt", "2026-11-25T20:49:19Z");
    let before = pods("1789", &[&orphan, &pending]);
    let after = pods("1790", &[&orphan, &failed]);
    let server = failer_server(before.clone(), &[event("MODIFIED", &failed)], false, &[10], vec![before, after]);
    let wanted = [Status::Succeeded, Status::Failed];
    let done = block_on(manager(&server).wait_for_job_execution_status("acm-run", "failer", &wanted, None)).unwrap();
    assert_eq!((done.id.as_str(), done.status), ("failer-knwwt", Some(Status::Failed)), "not the orphan");
    assert_eq!(made(&server, "labelSelector=job-name%3Dfailer"), 2, "looked when joining and when it failed");
}

/// Two finished pods of the same Job in the list (a job that retried): the newest one.
#[test]
fn wait_for_execution_status_prefers_the_newest_pod_of_the_list() {
    let s = k8s("acm-26-job-with-node-agent.json");
    let first = failer_pod("Failed", false, "failer-aaaaa", "2026-11-25T20:49:19Z");
    let retry = failer_pod("Failed", false, "failer-bbbbb", "2026-11-25T20:49:41Z");
    let server = RecordedServer::new().on("GET", &job("acm-run", "failer"), vec![response(&s, 10)]).on(
        "GET",
        &pods_of("acm-run", "failer"),
        vec![pods("1795", &[&retry, &first])],
    );
    let done =
        block_on(manager(&server).wait_for_job_execution_status("acm-run", "failer", &[Status::Failed], None)).unwrap();
    assert_eq!(done.id, "failer-bbbbb");
    assert_eq!(server.requests().len(), 2, "the waiter's first look found it: {:?}", server.requests());
}

/// Waiting on a Job that does not exist (acm-26 #13, the 404 after its delete): NotFound at once.
#[test]
fn wait_for_execution_status_of_a_missing_job_is_not_found() {
    let s = k8s("acm-26-job-with-node-agent.json");
    let server = RecordedServer::new().on("GET", &job("acm-run", "failer"), vec![response(&s, 13)]);
    let err = block_on(manager(&server).wait_for_job_execution_status("acm-run", "failer", &[Status::Failed], None))
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    assert_eq!(server.requests().len(), 1, "{:?}", server.requests());
}

/// The Job is deleted while its pod runs (acm-26 recorded `failer`'s delete, #12, and the 404
/// that followed, #13): the garbage collector deletes the pod (a DELETED event, scripted from the
/// recorded pod), the wait reads the Job again and ends with NotFound instead of waiting forever.
#[test]
fn wait_for_execution_status_ends_when_the_job_is_deleted() {
    let running = failer_pod("Running", false, "failer-knwwt", "2026-11-25T20:49:19Z");
    let listed = pods("1789", &[&running]);
    for split in [Split::AsRecorded, Split::Every(1)] {
        let server =
            failer_server(listed.clone(), &[event("DELETED", &running)], false, &[10, 13], vec![listed.clone()])
                .split(split);
        let err =
            block_on(manager(&server).wait_for_job_execution_status("acm-run", "failer", &[Status::Succeeded], None))
                .unwrap_err();
        assert!(matches!(&err, Error::NotFound(a) if a.message.contains("deleted while waiting")), "{err:?}");
    }
}

/// A pod deleted while its Job lives on (`delete_execution`): the Job read again (#10) still
/// exists with the same uid, so the wait goes on (no pod for a moment) and sees the replacement
/// pod fail.
#[test]
fn wait_for_execution_status_survives_a_deleted_pod_of_a_live_job() {
    let running = failer_pod("Running", false, "failer-knwwt", "2026-11-25T20:49:19Z");
    let replaced = failer_pod("Failed", false, "failer-zq7xk", "2026-11-25T20:49:30Z");
    let events = [event("DELETED", &running), event("ADDED", &replaced)];
    let looks = vec![pods("1789", &[&running]), pods("1790", &[]), pods("1791", &[&replaced])];
    let server = failer_server(pods("1789", &[&running]), &events, false, &[10], looks);
    let done =
        block_on(manager(&server).wait_for_job_execution_status("acm-run", "failer", &[Status::Failed], None)).unwrap();
    assert_eq!(done.id, "failer-zq7xk");
    assert_eq!(made(&server, "/jobs/failer"), 3, "read when joining, after the deletion, after the new pod");
}

/// A Job deleted with `purge: false` (propagationPolicy=Orphan) leaves its pods; the garbage
/// collector strips their ownerReferences (a MODIFIED event), which says the Job is gone for
/// them: the wait looks, the Job is gone (#13): NotFound.
#[test]
fn wait_for_execution_status_notices_an_orphaning_delete() {
    let pending = failer_pod("Pending", false, "failer-knwwt", "2026-11-25T20:49:19Z");
    let events = [event("MODIFIED", &orphaned(pending.clone(), "1790"))];
    let server = failer_server(pods("1789", &[&pending]), &events, false, &[10, 13], vec![pods("1789", &[&pending])]);
    let err = block_on(manager(&server).wait_for_job_execution_status("acm-run", "failer", &[Status::Succeeded], None))
        .unwrap_err();
    assert!(matches!(&err, Error::NotFound(a) if a.message.contains("deleted while waiting")), "{err:?}");
}

/// The pod watch of acm-26's `failer` that the server ends after the Running pod (1790), then
/// `resumed`: what the watch resumed from 1790 answers; `relisted`: the pod lists after the
/// first (a relist, when the resumed watch is expired).
fn failer_resumed(
    resumed: RecordedResponse,
    relisted: Vec<RecordedResponse>,
    looks: Vec<RecordedResponse>,
) -> RecordedServer {
    let s = k8s("acm-26-job-with-node-agent.json");
    let pending = failer_pod("Pending", false, "failer-knwwt", "2026-11-25T20:49:19Z");
    let mut running = failer_pod("Running", false, "failer-knwwt", "2026-11-25T20:49:19Z");
    running["metadata"]["resourceVersion"] = "1790".into();
    let listed = pods("1789", &[&pending]);
    let mut lists = vec![listed.clone()];
    lists.extend(relisted);
    RecordedServer::new()
        .split(Split::Every(1))
        .on_watch(&watch_list_of(&job_pods("acm-run")), vec![ignored_by_v1_19(&listed)])
        .on("GET", &job_pods("acm-run"), lists)
        .on_watch(&job_pods_watch("acm-run", "1789"), vec![stream_response(&[event("MODIFIED", &running)], true)])
        .on_watch(&job_pods_watch("acm-run", "1790"), vec![resumed])
        // from a later version: nothing more happens
        .on_watch("/api/v1/namespaces/acm-run/pods", vec![])
        .on("GET", &job("acm-run", "failer"), vec![response(&s, 10), response(&s, 13)])
        .on("GET", &pods_of("acm-run", "failer"), looks)
}

/// The server ends the pod watch; the Job is deleted with `propagationPolicy=Orphan` meanwhile.
/// The watch resumed from the last version brings what happened since, the garbage collector's
/// MODIFIED included (Kubernetes delivers every event after the version a watch starts from, or
/// answers 410): the waiter looks, the Job is gone: NotFound.
#[test]
fn wait_for_execution_status_notices_an_orphaning_delete_when_the_watch_resumes() {
    let pending = failer_pod("Pending", false, "failer-knwwt", "2026-11-25T20:49:19Z");
    let resumed = stream_response(&[event("MODIFIED", &orphaned(pending.clone(), "1791"))], false);
    let server = failer_resumed(resumed, vec![], vec![pods("1789", &[&pending])]);
    let timeout = Some(Duration::from_secs(3600));
    let err =
        block_on(manager(&server).wait_for_job_execution_status("acm-run", "failer", &[Status::Succeeded], timeout))
            .unwrap_err();
    assert!(matches!(&err, Error::NotFound(a) if a.message.contains("deleted while waiting")), "{err:?}");
}

/// The same, but the resumed watch is too old (acm-14's recorded ERROR event with Status 410):
/// the events in between are lost, and the relist shows the pod orphaned (no controller
/// reference, the deleted Job's `controller-uid` label kept). For its waiter that is the pod's
/// deletion: it looks, the Job is gone: NotFound.
#[test]
fn wait_for_execution_status_notices_an_orphaning_delete_in_a_relist() {
    let expired = response(&k8s("acm-14-watch-expired-410.json"), 6);
    let pending = failer_pod("Pending", false, "failer-knwwt", "2026-11-25T20:49:19Z");
    let relisted = pods("1795", &[&orphaned(pending.clone(), "1791")]);
    let server = failer_resumed(expired, vec![relisted], vec![pods("1789", &[&pending])]);
    let timeout = Some(Duration::from_secs(3600));
    let err =
        block_on(manager(&server).wait_for_job_execution_status("acm-run", "failer", &[Status::Succeeded], timeout))
            .unwrap_err();
    assert!(matches!(&err, Error::NotFound(a) if a.message.contains("deleted while waiting")), "{err:?}");
    assert_eq!(made(&server, "/jobs/failer"), 2, "read when joining, and after the relist: {:?}", server.requests());
}

#[test]
fn wait_for_execution_status_needs_statuses() {
    let server = RecordedServer::new();
    let err = block_on(manager(&server).wait_for_job_execution_status("acm-run", "printer", &[], None)).unwrap_err();
    assert!(matches!(err, Error::InvalidInput { ref field, .. } if field == "statuses"), "{err:?}");
    assert!(server.requests().is_empty());
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
