//! create_job, get_job, list_jobs, delete_job, cleanup_jobs and the executions (pods) of jobs,
//! against the recorded kube-apiserver v1.19 (`acm-08-job-succeeds`, `acm-09-job-fails`,
//! `acm-10-pod-logs-errors`, `acm-11-job-delete-propagation`, `acm-12-watch-pods-jobs`,
//! `acm-18-errors`, `acm-24-watch-foreground-delete`, `acm-26-job-with-node-agent`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap what they set up

mod k8s_support;

use clustermanager_core::{k8s, DeleteOptions, Error, JobSpec, Status};
use clustermanager_tests::{Replay, Split};
use k8s_support::*;

fn ctx() -> k8s::Context {
    k8s::Context::default()
}

/// The spec that produces the recorded `printer` job of acm-26.
fn printer() -> JobSpec {
    JobSpec::new("printer")
        .image("busybox:1.32")
        .command(["/bin/sh", "-c"])
        .args(["for i in 1 2 3 4 5; do echo line $i $GREETING; sleep 0.5; done; echo done >&2"])
        .env("GREETING", "hello")
        .cpu_limit("500m")
        .mem_limit("128Mi")
        .label("app", "printer")
}

/// The recorded request body without what a JobSpec cannot express or we leave to the server:
/// the downward-API env var `POD_NAME` and explicit `requests` (Kubernetes defaults them to the
/// limits).
fn recorded_body_as_we_send_it(recorded: &str) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(recorded).unwrap();
    let c = &mut v["spec"]["template"]["spec"]["containers"][0];
    c["env"].as_array_mut().unwrap().retain(|e| e["name"] != "POD_NAME");
    c["resources"].as_object_mut().unwrap().remove("requests");
    v
}

#[test]
fn create_job_sends_the_recorded_job_shape_and_returns_the_created_job() {
    let s = k8s("acm-26-job-with-node-agent.json");
    let (job, _, t) =
        Replay::new(&s).exchanges([3]).ignore_bodies().run_full(k8s::job::create(&ctx(), "acm-run", &printer()));
    let job = job.unwrap();
    assert_eq!(sent_json(&t.bodies[0]), recorded_body_as_we_send_it(s.exchange(3).request.body.as_deref().unwrap()));
    assert_eq!((job.namespace.as_str(), job.name.as_str()), ("acm-run", "printer"));
    assert_eq!(job.status, Some(Status::Pending));
    assert_eq!(job.version, "1773");
    assert_eq!(job.labels.get("app").map(String::as_str), Some("printer"));
    assert!(!job.deleting);
}

#[test]
fn create_job_with_an_entrypoint_keeps_the_command_as_arguments() {
    let s = k8s("acm-26-job-with-node-agent.json");
    // the same container, described the seed's way: entrypoint + command
    let spec = JobSpec::new("failer")
        .image("busybox:1.32")
        .entrypoint(["/bin/sh"])
        .command(["-c", "echo about to fail; exit 3"])
        .env("GREETING", "hello")
        .cpu_limit("0.5")
        .mem_limit("134217728")
        .label("app", "failer");
    let (job, _, t) =
        Replay::new(&s).exchanges([9]).ignore_bodies().run_full(k8s::job::create(&ctx(), "acm-run", &spec));
    job.unwrap();
    let mut expected = recorded_body_as_we_send_it(s.exchange(9).request.body.as_deref().unwrap());
    // entrypoint becomes the container command, command + args its arguments
    expected["spec"]["template"]["spec"]["containers"][0]["command"] = serde_json::json!(["/bin/sh"]);
    expected["spec"]["template"]["spec"]["containers"][0]["args"] =
        serde_json::json!(["-c", "echo about to fail; exit 3"]);
    assert_eq!(sent_json(&t.bodies[0]), expected);
}

#[test]
fn create_job_errors_from_the_server_are_typed() {
    let s = k8s("acm-18-errors.json");
    let spec = JobSpec::new("x").image("busybox");
    let err =
        Replay::new(&s).exchanges([4]).ignore_bodies().run(k8s::job::create(&ctx(), "acm-errors", &spec)).unwrap_err();
    assert!(matches!(err, Error::Forbidden(_)), "no RBAC: {err:?}");
    let err =
        Replay::new(&s).exchanges([20]).ignore_bodies().run(k8s::job::create(&ctx(), "acm-errors", &spec)).unwrap_err();
    let Error::Invalid(api) = err else { panic!("expected Invalid, got {err:?}") };
    assert!(!api.causes.is_empty(), "the server's field causes are kept");
}

#[test]
fn create_job_rejects_bad_names_before_sending() {
    let s = k8s("acm-26-job-with-node-agent.json");
    let bad = JobSpec::new("Printer_1").image("busybox");
    let err = Replay::new(&s).exchanges([]).run(k8s::job::create(&ctx(), "acm-run", &bad)).unwrap_err();
    assert!(matches!(err, Error::InvalidInput { ref field, .. } if field == "job name"), "{err:?}");
    let err = Replay::new(&s).exchanges([]).run(k8s::job::create(&ctx(), "acm run", &printer())).unwrap_err();
    assert!(matches!(err, Error::InvalidInput { ref field, .. } if field == "namespace"), "{err:?}");
}

#[test]
fn get_job_follows_a_job_from_pending_to_running_to_succeeded() {
    let s = k8s("acm-08-job-succeeds.json");
    let get = |i| Replay::new(&s).exchanges([i]).run(k8s::job::get(&ctx(), "acm-jobs", "hello-ok")).unwrap();
    let pending = get(1);
    assert_eq!((pending.status, pending.raw_status.as_str(), pending.active), (Some(Status::Pending), "Pending", 0));
    let running = get(5);
    assert_eq!((running.status, running.active), (Some(Status::Running), 1));
    assert!(running.start_time.is_some());
    let done = get(7);
    assert_eq!((done.status, done.raw_status.as_str(), done.succeeded), (Some(Status::Succeeded), "Complete", 1));
    assert_eq!(done.completion_time.as_deref(), Some("2026-11-25T20:42:20Z"));
    assert_eq!(done.conditions[0].kind, "Complete");
    assert_eq!(done.version, "1278");
}

#[test]
fn get_job_of_a_failed_job_keeps_the_reason() {
    let s = k8s("acm-09-job-fails.json");
    let job = Replay::new(&s).exchanges([7]).run(k8s::job::get(&ctx(), "acm-jobs-fail", "hello-fail")).unwrap();
    assert_eq!((job.status, job.raw_status.as_str(), job.failed), (Some(Status::Failed), "Failed", 1));
    assert_eq!(job.conditions[0].reason.as_deref(), Some("BackoffLimitExceeded"));
}

#[test]
fn get_job_that_does_not_exist_is_not_found() {
    let s = k8s("acm-18-errors.json");
    let err = Replay::new(&s).exchanges([6]).run(k8s::job::get(&ctx(), "acm-errors", "does-not-exist")).unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
}

#[test]
fn list_jobs_of_an_empty_namespace() {
    let s = k8s("acm-12-watch-pods-jobs.json");
    assert!(Replay::new(&s).exchanges([0]).run(k8s::job::list(&ctx(), "acm-watch")).unwrap().is_empty());
}

/// The recorder listed by label; the namespace held only that job, so the unfiltered list we
/// make has the same answer.
#[test]
fn list_jobs_returns_each_job_with_its_status() {
    let s = k8s("acm-08-job-succeeds.json");
    let scenario = scripted(vec![exchange("GET", "/apis/batch/v1/namespaces/acm-jobs/jobs", None, response(&s, 2))]);
    let jobs = Replay::new(&scenario).run(k8s::job::list(&ctx(), "acm-jobs")).unwrap();
    assert_eq!(jobs.len(), 1);
    // listed once the job controller had created its pod
    assert_eq!((jobs[0].name.as_str(), jobs[0].status, jobs[0].active), ("hello-ok", Some(Status::Running), 1));
}

#[test]
fn delete_job_with_purge_uses_background_propagation() {
    let s = k8s("acm-11-job-delete-propagation.json");
    let opts = DeleteOptions { purge: true, wait: false };
    // recorded body: {"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Background"}
    let out = Replay::new(&s).exchanges([1]).run(k8s::job::delete(&ctx(), "acm-jobs-del", "del-bg", opts));
    assert!(out.unwrap());
    let out = Replay::new(&s).exchanges([14]).run(k8s::job::delete(&ctx(), "acm-jobs-del", "nonexistent", opts));
    assert!(!out.unwrap(), "a job that does not exist is false");
}

/// batch/v1 Jobs orphan their pods when no policy is sent (acm-11 exchange 12); we always send
/// one, `Orphan` when not purging. The recorded answer (the Job with the orphan finalizer) is
/// replayed to our request.
/// `delete_job` with `options` (no wait) sends `policy` and reads acm-11's answer.
fn delete_sends(options: DeleteOptions, policy: &str) {
    let s = k8s("acm-11-job-delete-propagation.json");
    let body = format!(r#"{{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"{policy}"}}"#);
    let path = "/apis/batch/v1/namespaces/acm-jobs-del/jobs/del-default";
    let scenario = scripted(vec![exchange("DELETE", path, Some(&body), response(&s, 12))]);
    let out = Replay::new(&scenario).run(k8s::job::delete(&ctx(), "acm-jobs-del", "del-default", options));
    assert!(out.unwrap());
}

#[test]
fn delete_job_without_purge_orphans_the_pods_explicitly() {
    delete_sends(DeleteOptions { purge: false, wait: false }, "Orphan");
}

#[test]
fn delete_job_by_default_deletes_the_pods_too_as_the_seed_did() {
    delete_sends(DeleteOptions::default(), "Background");
}

/// Foreground delete and wait: the DELETE is recorded in acm-26 exactly as we send it; the
/// answer is the Job with `deletionTimestamp` and the `foregroundDeletion` finalizer. The watch
/// that follows is scripted from the acm-24 recording of the same kind of deletion: the DELETE
/// answer (resourceVersion 1625) and the job watch events after it (MODIFIED as pods go, then
/// DELETED).
#[test]
fn delete_job_with_purge_and_wait_watches_until_the_job_is_deleted() {
    let fg = k8s("acm-24-watch-foreground-delete.json");
    let events = events_after(&fg.exchange(1).response, 1625);
    assert_eq!(events.len(), 3, "MODIFIED, MODIFIED, DELETED after the delete's resourceVersion");
    let scenario = scripted(vec![
        exchange(
            "DELETE",
            "/apis/batch/v1/namespaces/acm-watch-fg/jobs/fg",
            Some(r#"{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Foreground"}"#),
            response(&fg, 3),
        ),
        exchange(
            "GET",
            "/apis/batch/v1/namespaces/acm-watch-fg/jobs?watch=1&resourceVersion=1625&allowWatchBookmarks=true&timeoutSeconds=290&fieldSelector=metadata.name%3Dfg",
            None,
            stream_response(&events, false),
        ),
    ]);
    let opts = DeleteOptions { purge: true, wait: true };
    for split in [Split::AsRecorded, Split::Every(1)] {
        let (out, _, t) =
            Replay::new(&scenario).split(split).run_full(k8s::job::delete(&ctx(), "acm-watch-fg", "fg", opts));
        assert!(out.unwrap());
        assert_eq!(t.requests.len(), 2);
    }
}

/// acm-11 exchange 8: a DELETE can answer `202 Accepted` with the object itself (here the Job,
/// held by a custom finalizer). That is a delete in progress: with `wait`, the Job is watched
/// from the answer's resourceVersion until its DELETED event (scripted with the recorded last
/// state of the Job, exchange 10, once the finalizer was removed).
#[test]
fn delete_job_answered_202_with_the_object_waits_for_the_deleted_event() {
    let s = k8s("acm-11-job-delete-propagation.json");
    let accepted = response(&s, 8);
    assert_eq!(accepted.status, 202);
    let rv: serde_json::Value = serde_json::from_str(&accepted.body).unwrap();
    let rv = rv["metadata"]["resourceVersion"].as_str().unwrap().to_owned();
    let last = response(&s, 10).body.trim_end().to_owned();
    let scenario = scripted(vec![
        exchange(
            "DELETE",
            "/apis/batch/v1/namespaces/acm-jobs-del/jobs/del-legacy",
            Some(r#"{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Foreground"}"#),
            accepted,
        ),
        exchange(
            "GET",
            &format!("/apis/batch/v1/namespaces/acm-jobs-del/jobs?watch=1&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=290&fieldSelector=metadata.name%3Ddel-legacy"),
            None,
            stream_response(&[format!("{{\"type\":\"DELETED\",\"object\":{last}}}\n")], false),
        ),
    ]);
    let opts = DeleteOptions { purge: true, wait: true };
    let (out, _, t) = Replay::new(&scenario).run_full(k8s::job::delete(&ctx(), "acm-jobs-del", "del-legacy", opts));
    assert!(out.unwrap());
    assert_eq!(t.requests.len(), 2);
}

/// acm-26 recorded the Foreground DELETE exactly as we send it, but polled afterwards instead of
/// watching; the watch is scripted with a DELETED event carrying the recorded last state.
#[test]
fn delete_job_foreground_request_matches_the_recording() {
    let mut s = k8s("acm-26-job-with-node-agent.json");
    let last = response(&s, 12).body.trim_end().to_owned();
    s.exchanges = vec![
        s.exchange(12).clone(),
        exchange(
            "GET",
            "/apis/batch/v1/namespaces/acm-run/jobs?watch=1&resourceVersion=1793&allowWatchBookmarks=true&timeoutSeconds=290&fieldSelector=metadata.name%3Dfailer",
            None,
            stream_response(&[format!("{{\"type\":\"DELETED\",\"object\":{last}}}\n")], false),
        ),
    ];
    let out =
        Replay::new(&s).run(k8s::job::delete(&ctx(), "acm-run", "failer", DeleteOptions { purge: true, wait: true }));
    assert!(out.unwrap());
}

#[test]
fn cleanup_jobs_deletes_the_finished_jobs_with_their_pods() {
    let run = k8s("acm-26-job-with-node-agent.json");
    let jobs = k8s("acm-08-job-succeeds.json");
    let del = k8s("acm-11-job-delete-propagation.json");
    // A list of the recorded Complete `printer` and Failed `failer` (acm-26) and a pending job
    // (acm-08); the DELETE answers are the recorded Background Status and a recorded 404.
    let items =
        [response(&run, 5).body, response(&run, 10).body, response(&jobs, 1).body].map(|b| b.trim_end().to_owned());
    let list = json_response(200, &list_body("JobList", "batch/v1", "1800", &items));
    let background = r#"{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Background"}"#;
    let scenario = scripted(vec![
        exchange("GET", "/apis/batch/v1/namespaces/acm-run/jobs", None, list),
        exchange("DELETE", "/apis/batch/v1/namespaces/acm-run/jobs/printer", Some(background), response(&del, 1)),
        exchange("DELETE", "/apis/batch/v1/namespaces/acm-run/jobs/failer", Some(background), response(&del, 14)),
    ]);
    let deleted = Replay::new(&scenario).run(k8s::job::cleanup(&ctx(), "acm-run")).unwrap();
    assert_eq!(deleted, ["printer"], "failer was already gone (404): not reported; hello-ok is still pending");
}

/// Each listing reads the Job first (for its uid), then its pods.
#[test]
fn executions_of_a_job_through_its_life() {
    let ok = k8s("acm-08-job-succeeds.json");
    let pending = Replay::new(&ok).exchanges([1, 3]).run(k8s::execution::list(&ctx(), "acm-jobs", "hello-ok")).unwrap();
    assert_eq!(pending.len(), 1);
    let p = &pending[0];
    assert_eq!((p.id.as_str(), p.job_name.as_str(), p.namespace.as_str()), ("hello-ok-mnnkx", "hello-ok", "acm-jobs"));
    assert_eq!((p.status, p.raw_status.as_str(), p.node.as_deref()), (Some(Status::Pending), "Pending", None));
    assert_eq!(p.tasks.len(), 1, "an unscheduled pod lists its container as waiting");
    assert_eq!((p.tasks[0].name.as_str(), p.tasks[0].state.as_str()), ("main", "waiting"));
    assert_eq!(p.created.as_deref(), Some("2026-11-25T20:42:19Z"));

    let done = Replay::new(&ok).exchanges([7, 8]).run(k8s::execution::list(&ctx(), "acm-jobs", "hello-ok")).unwrap();
    let t = &done[0].tasks[0];
    assert_eq!(done[0].status, Some(Status::Succeeded));
    assert_eq!(
        (t.state.as_str(), t.exit_code, t.reason.as_deref(), t.failed),
        ("terminated", Some(0), Some("Completed"), false)
    );

    let run = k8s("acm-26-job-with-node-agent.json");
    let failed = Replay::new(&run).exchanges([10, 11]).run(k8s::execution::list(&ctx(), "acm-run", "failer")).unwrap();
    let f = &failed[0];
    assert_eq!((f.status, f.node.as_deref()), (Some(Status::Failed), Some("fake-node-1")));
    assert_eq!((f.tasks[0].exit_code, f.tasks[0].failed, f.tasks[0].restarts), (Some(3), true, 0));
    // after the delete the Job is gone (404): no executions, without asking for pods
    let gone = Replay::new(&run).exchanges([13]).run(k8s::execution::list(&ctx(), "acm-run", "failer")).unwrap();
    assert!(gone.is_empty());
}

/// Scripted around acm-26's `failer` (the Job read #10, its recorded pod #11): the pod list also
/// holds the pod an earlier `failer` job left when deleted with `purge: false` (its own
/// `controller-uid`, no ownerReferences): not an execution of this Job.
#[test]
fn executions_of_a_job_exclude_the_orphans_of_an_earlier_job_of_the_same_name() {
    let s = k8s("acm-26-job-with-node-agent.json");
    let list: serde_json::Value = serde_json::from_str(&response(&s, 11).body).unwrap();
    let ours = list["items"][0].clone();
    let mut orphan = ours.clone();
    orphan["metadata"]["name"] = "failer-old01".into();
    orphan["metadata"]["labels"]["controller-uid"] = "5b1f0c1e-0000-4000-8000-000000000001".into();
    orphan["metadata"].as_object_mut().unwrap().remove("ownerReferences");
    orphan["status"]["phase"] = "Succeeded".into();
    let body = list_body("PodList", "v1", "1792", &[orphan.to_string(), ours.to_string()]);
    let scenario = scripted(vec![
        exchange("GET", "/apis/batch/v1/namespaces/acm-run/jobs/failer", None, response(&s, 10)),
        exchange(
            "GET",
            "/api/v1/namespaces/acm-run/pods?labelSelector=job-name%3Dfailer",
            None,
            json_response(200, &body),
        ),
    ]);
    let execs = Replay::new(&scenario).run(k8s::execution::list(&ctx(), "acm-run", "failer")).unwrap();
    let ids: Vec<&str> = execs.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["failer-knwwt"]);
}

/// The recorder listed every pod of the namespace (all belong to jobs); we ask for the pods
/// that carry a `job-name` label, which is the same set here.
#[test]
fn executions_of_all_jobs() {
    let s = k8s("acm-11-job-delete-propagation.json");
    let scenario = scripted(vec![exchange(
        "GET",
        "/api/v1/namespaces/acm-jobs-del/pods?labelSelector=job-name",
        None,
        response(&s, 0),
    )]);
    let pods = Replay::new(&scenario).run(k8s::execution::list_all(&ctx(), "acm-jobs-del")).unwrap();
    assert!(pods.len() >= 2);
    assert!(pods.iter().all(|p| !p.job_name.is_empty() && p.status == Some(Status::Pending)));
}

#[test]
fn delete_execution() {
    let s = k8s("acm-10-pod-logs-errors.json");
    assert!(Replay::new(&s).exchanges([6]).run(k8s::execution::delete(&ctx(), "acm-logs", "pending-pod")).unwrap());
    // a missing pod: the recorded 404 for pod "missing" of the same namespace
    let scenario =
        scripted(vec![exchange("DELETE", "/api/v1/namespaces/acm-logs/pods/missing", None, response(&s, 4))]);
    assert!(!Replay::new(&scenario).run(k8s::execution::delete(&ctx(), "acm-logs", "missing")).unwrap());
    let err = Replay::new(&s).exchanges([]).run(k8s::execution::delete(&ctx(), "acm-logs", "Bad Pod")).unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }));
}

/// Creating a job in a namespace that is being deleted: the apiserver answers 403 with a
/// `NamespaceTerminating` cause (the recorded acm-06 answer to a write into the terminating
/// namespace, replayed to our job POST). The error says so.
#[test]
fn create_job_in_a_terminating_namespace_says_so() {
    let s = k8s("acm-06-namespace-lifecycle.json");
    let scenario =
        scripted(vec![exchange("POST", "/apis/batch/v1/namespaces/acm-ns-lifecycle/jobs", None, response(&s, 4))]);
    let err = Replay::new(&scenario)
        .ignore_bodies()
        .run(k8s::job::create(&ctx(), "acm-ns-lifecycle", &printer()))
        .unwrap_err();
    let Error::Forbidden(ref api) = err else { panic!("expected Forbidden, got {err:?}") };
    assert_eq!(api.causes[0].reason.as_deref(), Some("NamespaceTerminating"));
    assert!(err.to_string().contains("being terminated"), "{err}");
}

/// The seed's `_raw`: the whole server object behind a lean `Job`, from a get and from a list.
#[test]
fn a_job_keeps_the_servers_whole_object() {
    let s = k8s("acm-08-job-succeeds.json");
    let done = Replay::new(&s).exchanges([7]).run(k8s::job::get(&ctx(), "acm-jobs", "hello-ok")).unwrap();
    let raw = done.raw.to_value().unwrap();
    assert_eq!(raw["spec"]["template"]["spec"]["containers"][0]["image"], "busybox:1.32");
    assert_eq!(raw["metadata"]["uid"], "3e3a6090-1bd8-4719-b058-86303c78fa94");
    let scenario = scripted(vec![exchange("GET", "/apis/batch/v1/namespaces/acm-jobs/jobs", None, response(&s, 2))]);
    let jobs = Replay::new(&scenario).run(k8s::job::list(&ctx(), "acm-jobs")).unwrap();
    let item: serde_json::Value = jobs[0].raw.parse().unwrap();
    assert_eq!(item["kind"], serde_json::Value::Null, "a list item, not the list: {item}");
    assert_eq!(item["metadata"]["name"], "hello-ok");
}
