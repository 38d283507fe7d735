//! The waits users call — `ClusterManager::wait_for_job` and `wait_for_job_execution_status` —
//! replayed against recorded Kubernetes servers (v1.19 and v1.36) and a recorded Nomad 1.1.2
//! agent: the shared observation of the namespace (list + watch, or the chain of blocking job-list
//! queries), the waiter's own reads and its looks at the job's executions, all answered
//! from the recorded responses by a [`RecordedServer`], with every stream cut as recorded, byte
//! by byte, and at every offset of its first events. These drive the same path as a program does
//! (the facade over a transport), not the standalone wait operations.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod k8s_support;

use std::time::Duration;

use clustermanager_core::{ClusterManager, Config, Error, Status};
use clustermanager_tests::recorded::RecordedServer;
use clustermanager_tests::transport::block_on;
use clustermanager_tests::{RecordedResponse, Scenario, Split};
use k8s_support::*;

fn manager(server: &RecordedServer) -> ClusterManager<RecordedServer> {
    let config = Config::kubernetes("https://127.0.0.1:6443").unwrap();
    block_on(ClusterManager::connect(server.clone(), &config, 7)).unwrap()
}

/// The cuts every replayed stream is served with: as recorded, byte by byte, in 7- and 100-byte
/// pieces, and cut once at each of the first 400 offsets.
fn splits() -> Vec<Split> {
    let mut out = vec![Split::AsRecorded, Split::Every(1), Split::Every(7), Split::Every(100)];
    out.extend((1..400).step_by(13).map(Split::At));
    out
}

fn k8s136(name: &str) -> Scenario {
    Scenario::load(&format!("k8s-1.36/{name}"))
}

/// What a v1.36 server over an etcd without progress requests (the recorded one) answers a
/// watch-list request: 200 and one ERROR event (acm-35 #2).
fn watch_list_refused_136() -> RecordedResponse {
    let s = k8s136("acm-35-watch-list-initial-events.json");
    let e = s.exchanges.iter().find(|e| e.request.path.contains("sendInitialEvents=true")).unwrap();
    assert!(e.response.body.contains("RequestWatchProgress is disabled"));
    e.response.clone()
}

/// What a v1.19 server answers a watch-list request: it ignores `sendInitialEvents` and
/// `resourceVersionMatch`, so it is a watch without resourceVersion (acm-13 #3 of the 1.19 set):
/// the existing objects as ADDED events (`objects`, each as recorded) and no bookmark, until
/// its `timeoutSeconds` end the stream.
fn watch_list_ignored_119(objects: &[String]) -> RecordedResponse {
    let lines: Vec<String> = objects.iter().map(|o| format!("{{\"type\":\"ADDED\",\"object\":{o}}}\n")).collect();
    let s = k8s("acm-13-watch-bookmarks.json");
    let recorded = s.exchange(3);
    assert!(!recorded.request.path.contains("resourceVersion="), "the recorded watch has no resourceVersion");
    assert_eq!(recorded.response.body, "", "and, in an empty namespace, no bookmark and no event");
    stream_response(&lines, true)
}

/// How many watch-list requests `server` was asked.
fn watch_lists(server: &RecordedServer) -> usize {
    server.requests().iter().filter(|r| r.contains("sendInitialEvents=true")).count()
}

/// acm-12 (v1.19): the Job `watched` goes ADDED, MODIFIED (active), MODIFIED (Complete),
/// DELETED. The watch-list request is answered as 1.19 answers a watch without
/// resourceVersion: the Job as ADDED, then the end of the stream (its timeoutSeconds) without
/// an initial-events-end bookmark; so the namespace is listed (the list holds the Job as
/// ADDED) and the watch from there brings the rest.
fn acm12(split: Split) -> RecordedServer {
    let s = k8s("acm-12-watch-pods-jobs.json");
    let stream = &s.exchange(1).response;
    let lines = event_lines(stream);
    let listed = json_response(200, &list_body("JobList", "batch/v1", "1342", &[event_object(&lines[0])]));
    let created = response(&s, 3);
    RecordedServer::new()
        .split(split)
        .on_watch(
            "/apis/batch/v1/namespaces/acm-watch/jobs?sendInitialEvents=true",
            vec![watch_list_ignored_119(&[event_object(&lines[0])])],
        )
        .on("GET", "/apis/batch/v1/namespaces/acm-watch/jobs", vec![listed])
        .on_watch(
            "/apis/batch/v1/namespaces/acm-watch/jobs?resourceVersion=1342",
            vec![stream_response(&events_after(stream, 1342), false)],
        )
        // the waiter's own read of its Job: as its create answered it
        .on("GET", "/apis/batch/v1/namespaces/acm-watch/jobs/watched", vec![created])
}

#[test]
fn wait_for_job_on_a_recorded_v1_19_server_returns_the_job_once_complete() {
    for split in splits() {
        let server = acm12(split);
        let cm = manager(&server);
        let job = block_on(cm.wait_for_job("acm-watch", "watched", Some(Duration::from_secs(60))))
            .unwrap_or_else(|e| panic!("{split:?}: {e}"));
        assert_eq!((job.status, job.raw_status.as_str(), job.succeeded), (Some(Status::Succeeded), "Complete", 1));
        let made = server.requests();
        assert!(made.iter().any(|r| r.contains("watch=1&resourceVersion=1342")), "{split:?}: {made:?}");
        assert_eq!(watch_lists(&server), 1, "asked once, then list + watch: {made:?}");
        assert!(server.elapsed() < Duration::from_secs(1), "event-driven: {:?}", server.elapsed());
    }
}

/// acm-24 (v1.19): the Job is deleted (foreground) while it is waited for: NotFound, saying so.
#[test]
fn wait_for_job_on_a_recorded_server_ends_not_found_when_the_job_is_deleted() {
    let s = k8s("acm-24-watch-foreground-delete.json");
    let stream = &s.exchange(1).response;
    let lines = event_lines(stream);
    let listed = json_response(200, &list_body("JobList", "batch/v1", "1625", &[event_object(&lines[0])]));
    let job = json_response(200, &event_object(&lines[0]));
    for split in [Split::AsRecorded, Split::Every(1)] {
        let server = RecordedServer::new()
            .split(split)
            .on_watch(
                "/apis/batch/v1/namespaces/acm-watch-fg/jobs?sendInitialEvents=true",
                vec![watch_list_ignored_119(&[event_object(&lines[0])])],
            )
            .on("GET", "/apis/batch/v1/namespaces/acm-watch-fg/jobs", vec![listed.clone()])
            .on_watch(
                "/apis/batch/v1/namespaces/acm-watch-fg/jobs",
                vec![stream_response(&events_after(stream, 1625), true)],
            )
            .on("GET", "/apis/batch/v1/namespaces/acm-watch-fg/jobs/fg", vec![job.clone(), not_found(&s)]);
        let cm = manager(&server);
        let err = block_on(cm.wait_for_job("acm-watch-fg", "fg", Some(Duration::from_secs(60)))).unwrap_err();
        assert!(matches!(err, Error::NotFound(_)), "{split:?}: {err:?}");
    }
}

/// A recorded 404 for a Job read.
fn not_found(_s: &Scenario) -> RecordedResponse {
    let s = k8s("acm-26-job-with-node-agent.json");
    response(&s, 13)
}

/// acm-27 (v1.36): a Job watched from before its creation runs to success; 1.36 writes
/// `SuccessCriteriaMet` before `Complete`, counts the pod in `uncountedTerminatedPods` first,
/// and carries `ready` and `terminating`. The wait finishes on `Complete` only.
#[test]
fn wait_for_job_on_a_recorded_v1_36_server_finishes_on_complete_not_before() {
    let s = k8s136("acm-27-job-succeeds-watched.json");
    for split in splits() {
        let server = job_wait_136(&s, "acm-job-ok", "hello", split);
        let cm = manager(&server);
        let job = block_on(cm.wait_for_job("acm-job-ok", "hello", Some(Duration::from_secs(60))))
            .unwrap_or_else(|e| panic!("{split:?}: {e}"));
        assert_eq!(
            (job.status, job.raw_status.as_str(), job.succeeded),
            (Some(Status::Succeeded), "Complete", 1),
            "{split:?}"
        );
        assert!(server.requests().iter().any(|r| r.contains("jobs?watch=1")), "learned from the watch");
    }
}

/// acm-28 (v1.36): a Job whose pod fails runs into its backoff limit: `FailureTarget`, then
/// `Failed` (BackoffLimitExceeded). The wait ends with the job Failed.
#[test]
fn wait_for_job_on_a_recorded_v1_36_server_reports_a_failed_job() {
    let s = k8s136("acm-28-job-fails-watched.json");
    for split in [Split::AsRecorded, Split::Every(1), Split::Every(50)] {
        // how it ended: its pods (the recorded list holds the failed pod, exit code 3)
        let server = job_wait_136(&s, "acm-job-fail", "failer", split).on(
            "GET",
            "/api/v1/namespaces/acm-job-fail/pods?labelSelector=job-name=failer",
            vec![response(&s, 5)],
        );
        let cm = manager(&server);
        let job = block_on(cm.wait_for_job("acm-job-fail", "failer", Some(Duration::from_secs(120))))
            .unwrap_or_else(|e| panic!("{split:?}: {e}"));
        assert_eq!((job.status, job.raw_status.as_str()), (Some(Status::Failed), "Failed"), "{split:?}");
        assert!(job.failed >= 1, "{job:?}");
        assert_eq!(job.exit_code, Some(3), "the failed container's exit code, from the 1.36 pod shape");
        assert!(job.pending_reason.is_some(), "and why: {job:?}");
    }
}

/// acm-27 on a v1.36 server whose etcd has progress requests, which offers watch-list (the
/// recorded server could not: its etcd is too old, see acm-35). The stream is scripted from the
/// recorded one: the Job as its watch first saw it (ADDED), the initial-events-end bookmark at
/// that resourceVersion in 1.36's bookmark shape, then the recorded events after it. One
/// request serves the whole wait: no LIST, no second watch.
#[test]
fn wait_for_job_on_a_v1_36_server_offering_watch_list_makes_one_request() {
    let s = k8s136("acm-27-job-succeeds-watched.json");
    let stream = &s.exchanges.iter().find(|e| e.request.path.contains("/jobs?watch=1")).unwrap().response;
    let lines = event_lines(stream);
    let first = event_rv(&lines[0]);
    let mut events = vec![lines[0].clone(), initial_events_end(&first.to_string())];
    events.extend(events_after(stream, first));
    let created = s.exchanges.iter().find(|e| e.request.method == "POST").unwrap().response.clone();
    for split in splits() {
        let server = RecordedServer::new()
            .split(split)
            .on_watch(
                "/apis/batch/v1/namespaces/acm-job-ok/jobs?sendInitialEvents=true",
                vec![stream_response(&events, false)],
            )
            .on("GET", "/apis/batch/v1/namespaces/acm-job-ok/jobs/hello", vec![created.clone()]);
        let cm = manager(&server);
        let job = block_on(cm.wait_for_job("acm-job-ok", "hello", Some(Duration::from_secs(60))))
            .unwrap_or_else(|e| panic!("{split:?}: {e} after {:?}", server.requests()));
        assert_eq!((job.status, job.raw_status.as_str()), (Some(Status::Succeeded), "Complete"), "{split:?}");
        let made = server.requests();
        assert_eq!(watch_lists(&server), 1, "{made:?}");
        assert!(!made.iter().any(|r| r == "GET /apis/batch/v1/namespaces/acm-job-ok/jobs"), "no list: {made:?}");
        assert!(!made.iter().any(|r| r.contains("resourceVersion=")), "no second watch: {made:?}");
    }
}

/// The bookmark that ends a watch-list's initial events, as a 1.36 apiserver writes it
/// (a bookmark's object holds kind, apiVersion and metadata only; acm-13 #1 of the 1.36 set).
fn initial_events_end(rv: &str) -> String {
    format!(
        "{{\"type\":\"BOOKMARK\",\"object\":{{\"kind\":\"Job\",\"apiVersion\":\"batch/v1\",\"metadata\":{{\"resourceVersion\":\"{rv}\",\"annotations\":{{\"k8s.io/initial-events-end\":\"true\"}}}}}}}}\n"
    )
}

/// The refusal is remembered per manager (and its clones): the second wait on the recorded
/// 1.36 server (old etcd) lists at once, without asking again.
#[test]
fn a_refused_watch_list_is_asked_once_per_manager() {
    let s = k8s136("acm-27-job-succeeds-watched.json");
    let stream = &s.exchanges.iter().find(|e| e.request.path.contains("/jobs?watch=1")).unwrap().response;
    let lines = event_lines(stream);
    let complete = lines.iter().rfind(|l| l.contains("\"type\":\"Complete\"")).unwrap();
    let listed_complete = json_response(
        200,
        &list_body("JobList", "batch/v1", &event_rv(complete).to_string(), &[event_object(complete)]),
    );
    let first = event_rv(&lines[0]);
    let listed = json_response(200, &list_body("JobList", "batch/v1", &first.to_string(), &[event_object(&lines[0])]));
    let created = s.exchanges.iter().find(|e| e.request.method == "POST").unwrap().response.clone();
    let server = RecordedServer::new()
        .on_watch("/apis/batch/v1/namespaces/acm-job-ok/jobs?sendInitialEvents=true", vec![watch_list_refused_136()])
        .on("GET", "/apis/batch/v1/namespaces/acm-job-ok/jobs", vec![listed, listed_complete])
        .on_watch(
            &format!("/apis/batch/v1/namespaces/acm-job-ok/jobs?resourceVersion={first}"),
            vec![stream_response(&events_after(stream, first), false)],
        )
        .on("GET", "/apis/batch/v1/namespaces/acm-job-ok/jobs/hello", vec![created]);
    let cm = manager(&server);
    block_on(cm.wait_for_job("acm-job-ok", "hello", Some(Duration::from_secs(60)))).unwrap();
    let again = cm.clone();
    let job = block_on(again.wait_for_job("acm-job-ok", "hello", Some(Duration::from_secs(60)))).unwrap();
    assert_eq!(job.status, Some(Status::Succeeded));
    assert_eq!(watch_lists(&server), 1, "{:?}", server.requests());
}

/// A v1.36 recording's job wait, as a program that created the Job and then waits sees it: the
/// namespace's list holds the Job as its watch first saw it (ADDED); the watch from there brings
/// what the recorded stream carried after; the waiter's read of its Job gets the create's answer.
fn job_wait_136(s: &Scenario, ns: &str, name: &str, split: Split) -> RecordedServer {
    let stream = &s.exchanges.iter().find(|e| e.request.path.contains("/jobs?watch=1")).unwrap().response;
    let lines = event_lines(stream);
    let first = event_rv(&lines[0]);
    let listed = json_response(200, &list_body("JobList", "batch/v1", &first.to_string(), &[event_object(&lines[0])]));
    let created = s.exchanges.iter().find(|e| e.request.method == "POST").unwrap().response.clone();
    RecordedServer::new()
        .split(split)
        .on_watch(
            &format!("/apis/batch/v1/namespaces/{ns}/jobs?sendInitialEvents=true"),
            vec![watch_list_refused_136()],
        )
        .on("GET", &format!("/apis/batch/v1/namespaces/{ns}/jobs"), vec![listed])
        .on_watch(
            &format!("/apis/batch/v1/namespaces/{ns}/jobs?resourceVersion={first}"),
            vec![stream_response(&events_after(stream, first), false)],
        )
        .on("GET", &format!("/apis/batch/v1/namespaces/{ns}/jobs/{name}"), vec![created])
}

/// Whether the pod of watch event `line` is in `phase`.
fn in_phase(line: &str, phase: &str) -> bool {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    v["object"]["status"]["phase"] == phase
}

/// A pod list holding the pod of watch event `line` (the one in `phase`), at its version.
fn pod_list(line: Option<&String>, phase: &str) -> RecordedResponse {
    let line = line.unwrap_or_else(|| panic!("the recorded pod stream holds a {phase} pod"));
    json_response(200, &list_body("PodList", "v1", &event_rv(line).to_string(), &[event_object(line)]))
}

/// acm-26 (v1.19, a stand-in kubelet ran the pod): the execution wait watches the namespace's job
/// pods and looks at its Job and pods when the watch says there may be what it waits for. The
/// pod lists the looks read are made of the pod objects the recorded watch carried at that point.
#[test]
fn wait_for_job_execution_status_on_a_recorded_server_follows_the_pod_to_running_and_success() {
    let s = k8s("acm-26-job-with-node-agent.json");
    let stream = &s.exchange(2).response;
    let lines = event_lines(stream);
    let pods_at = |phase: &str| pod_list(lines.iter().rfind(|l| in_phase(l, phase)), phase);
    let empty = response(&s, 1);
    for (wanted, phase) in [(Status::Running, "Running"), (Status::Succeeded, "Succeeded")] {
        for split in [Split::AsRecorded, Split::Every(1), Split::Every(64)] {
            let server = RecordedServer::new()
                .split(split)
                // the shared observation of the namespace's job pods: 1.19 ignores watch-list
                .on_watch("/api/v1/namespaces/acm-run/pods?sendInitialEvents=true", vec![watch_list_ignored_119(&[])])
                .on("GET", "/api/v1/namespaces/acm-run/pods?labelSelector=job-name", vec![empty.clone()])
                .on_watch("/api/v1/namespaces/acm-run/pods?resourceVersion=1772", vec![stream.clone()])
                // the waiter's looks: its Job (for its uid), then its pods — none yet, then the pod
                .on("GET", "/apis/batch/v1/namespaces/acm-run/jobs/printer", vec![response(&s, 5)])
                .on(
                    "GET",
                    "/api/v1/namespaces/acm-run/pods?labelSelector=job-name=printer",
                    vec![empty.clone(), pods_at(phase)],
                );
            let cm = manager(&server);
            let execution = block_on(cm.wait_for_job_execution_status(
                "acm-run",
                "printer",
                &[wanted],
                Some(Duration::from_secs(60)),
            ))
            .unwrap_or_else(|e| panic!("{wanted:?} {split:?}: {e} after {:?}", server.requests()));
            assert_eq!((execution.id.as_str(), execution.status), ("printer-vhpr6", Some(wanted)), "{split:?}");
            // the pods were looked at again only because the shared pod watch said so
            let made = server.requests();
            let looks = made.iter().filter(|r| r.contains("pods?labelSelector=job-name%3Dprinter")).count();
            assert!(looks >= 2, "{made:?}");
            assert!(made.iter().any(|r| r.contains("pods?watch=1&resourceVersion=1772")), "{made:?}");
        }
    }
}

/// acm-26 on v1.36: the same execution wait on 1.36 shapes (both label sets, the job-tracking
/// finalizer held until the controller counted the pod, then released in one more MODIFIED).
/// The recorded server (old etcd) refuses the pod watch-list with its ERROR event: one request,
/// then list + watch as on 1.19.
#[test]
fn wait_for_job_execution_status_on_a_recorded_v1_36_server_follows_the_pod() {
    let s = k8s136("acm-26-job-with-node-agent.json");
    let stream = &s.exchange(2).response;
    let lines = event_lines(stream);
    let pods_at = |phase: &str| pod_list(lines.iter().find(|l| in_phase(l, phase)), phase);
    let empty = response(&s, 1);
    for (wanted, phase) in [(Status::Running, "Running"), (Status::Succeeded, "Succeeded")] {
        for split in [Split::AsRecorded, Split::Every(1)] {
            let server = RecordedServer::new()
                .split(split)
                .on_watch("/api/v1/namespaces/acm-run/pods?sendInitialEvents=true", vec![watch_list_refused_136()])
                .on("GET", "/api/v1/namespaces/acm-run/pods?labelSelector=job-name", vec![empty.clone()])
                .on_watch("/api/v1/namespaces/acm-run/pods?resourceVersion=7002", vec![stream.clone()])
                .on("GET", "/apis/batch/v1/namespaces/acm-run/jobs/printer", vec![response(&s, 5)])
                .on(
                    "GET",
                    "/api/v1/namespaces/acm-run/pods?labelSelector=job-name=printer",
                    vec![empty.clone(), pods_at(phase)],
                );
            let cm = manager(&server);
            let execution = block_on(cm.wait_for_job_execution_status(
                "acm-run",
                "printer",
                &[wanted],
                Some(Duration::from_secs(60)),
            ))
            .unwrap_or_else(|e| panic!("{wanted:?} {split:?}: {e} after {:?}", server.requests()));
            assert_eq!((execution.id.as_str(), execution.status), ("printer-4pzkl", Some(wanted)), "{split:?}");
            assert_eq!(watch_lists(&server), 1, "{:?}", server.requests());
        }
    }
}

/// Nomad 1.1.2, 08 + 16: `acm-ok` runs (index 11), then is dead (complete). The namespace's job
/// list is followed with blocking queries: the first list shows the job running — its stub made
/// from the recorded dead stub of 16 with the running counts and index of 08's first read — and
/// the blocking query answers the recorded dead stub; the waiter then reads the job once for the
/// full answer (08's job, summary and allocations at index 14).
#[test]
fn nomad_wait_for_job_on_a_recorded_agent_follows_the_job_list_to_dead() {
    let s08 = Scenario::load("nomad/08-batch-job-succeeds.json");
    let s16 = Scenario::load("nomad/16-job-list-prefix.json");
    let dead = s16.exchange(1).response.clone();
    let mut running = dead.clone();
    running.body = running
        .body
        .replace(r#""Status":"dead""#, r#""Status":"running""#)
        .replace(r#""Complete":1,"Failed":0,"Running":0"#, r#""Complete":0,"Failed":0,"Running":1"#)
        .replace(r#""ModifyIndex":14"#, r#""ModifyIndex":11"#);
    running.headers.insert("x-nomad-index".into(), "11".into());
    assert_ne!(running.body, dead.body, "the running stub differs from the recorded dead one");
    let server = RecordedServer::new()
        .on("GET", "/v1/jobs", vec![running, dead])
        .on("GET", "/v1/job/acm-ok", vec![s08.exchange(4).response.clone()])
        .on("GET", "/v1/job/acm-ok/summary", vec![s08.exchange(5).response.clone()])
        .on("GET", "/v1/job/acm-ok/allocations", vec![s08.exchange(6).response.clone()]);
    let (server, cm) = server.nomad_manager();
    let job = block_on(cm.wait_for_job("default", "acm-ok", Some(Duration::from_secs(60)))).unwrap();
    assert_eq!((job.status, job.raw_status.as_str(), job.succeeded), (Some(Status::Succeeded), "dead", 1));
    let made = server.requests();
    let blocking = made.iter().filter(|r| r.starts_with("GET /v1/jobs") && r.contains("index=11")).count();
    assert_eq!(blocking, 1, "one blocking query from the first list's index: {made:?}");
    assert!(server.elapsed() < Duration::from_secs(1), "no sleeping: {:?}", server.elapsed());
}

/// The Nomad execution wait on the same recorded agent: it looks at the job's allocations when it
/// joins, and the recorded allocation of 08 (complete, exit code 0) is what it waited for.
#[test]
fn nomad_wait_for_job_execution_status_on_a_recorded_agent_returns_the_allocation() {
    let s08 = Scenario::load("nomad/08-batch-job-succeeds.json");
    let s16 = Scenario::load("nomad/16-job-list-prefix.json");
    let server = RecordedServer::new()
        .on("GET", "/v1/jobs", vec![s16.exchange(1).response.clone()])
        .on("GET", "/v1/job/acm-ok", vec![s08.exchange(4).response.clone()])
        .on("GET", "/v1/job/acm-ok/summary", vec![s08.exchange(5).response.clone()])
        .on("GET", "/v1/job/acm-ok/allocations", vec![s08.exchange(6).response.clone()])
        .on("GET", "/v1/allocation/294e657f-3f0a-03f7-a46d-932b102c10ce", vec![s08.exchange(8).response.clone()]);
    let (server, cm) = server.nomad_manager();
    let wait =
        cm.wait_for_job_execution_status("default", "acm-ok", &[Status::Succeeded], Some(Duration::from_secs(60)));
    let execution = block_on(wait).unwrap_or_else(|e| panic!("{e} after {:?}", server.requests()));
    assert_eq!(execution.id, "294e657f-3f0a-03f7-a46d-932b102c10ce");
    assert_eq!((execution.status, execution.tasks[0].exit_code), (Some(Status::Succeeded), Some(0)));
}

/// acm-33 (v1.36): the job controller's pod creates are refused by Pod Security admission (the
/// recorded FailedCreate Warning event). `wait_for_job` ends at once with `CannotRun` naming Pod
/// Security in the server's words: its first look (one second in) finds no pod, reads the Job
/// (still there: no pod event would tell of its deletion) and the Job's events. The Job never changes, so its watch stays silent (each read yields, as a socket
/// would, so that the look beside it runs).
#[test]
fn wait_for_job_on_a_recorded_v1_36_server_ends_when_pod_security_refuses_its_pods() {
    let s = k8s136("acm-33-pod-security-admission.json");
    let read = s.exchanges.iter().find(|e| e.request.method == "GET" && e.request.path.ends_with("/jobs/privileged"));
    let job = read.unwrap().response.clone();
    let job_object: serde_json::Value = serde_json::from_str(&job.body).unwrap();
    let rv = job_object["metadata"]["resourceVersion"].as_str().unwrap().to_owned();
    let listed = json_response(200, &list_body("JobList", "batch/v1", &rv, std::slice::from_ref(&job.body)));
    let events = s.exchanges.iter().find(|e| e.request.path.contains("/events?")).unwrap().response.clone();
    let no_pods = json_response(200, &list_body("PodList", "v1", &rv, &[]));
    let server = RecordedServer::new()
        .yielding_on_silence()
        .on_watch("/apis/batch/v1/namespaces/acm-psa/jobs?sendInitialEvents=true", vec![watch_list_refused_136()])
        .on("GET", "/apis/batch/v1/namespaces/acm-psa/jobs", vec![listed])
        .on_watch(
            &format!("/apis/batch/v1/namespaces/acm-psa/jobs?resourceVersion={rv}"),
            vec![stream_response(&[], false)],
        )
        .on("GET", "/api/v1/namespaces/acm-psa/pods?labelSelector=job-name=privileged", vec![no_pods])
        .on("GET", "/apis/batch/v1/namespaces/acm-psa/jobs/privileged", vec![job])
        .on("GET", "/api/v1/namespaces/acm-psa/events", vec![events]);
    let err =
        block_on(manager(&server).wait_for_job("acm-psa", "privileged", Some(Duration::from_secs(600)))).unwrap_err();
    let Error::CannotRun { reason, .. } = &err else { panic!("{err:?} after {:?}", server.requests()) };
    assert_eq!(reason.kind, clustermanager_core::ReasonKind::AdmissionRefused, "{reason:?}");
    assert!(reason.permanent);
    assert!(reason.message.contains("violates PodSecurity"), "{}", reason.message);
    assert!(err.to_string().contains("Pod Security"), "{err}");
}
