//! Kubernetes v1.36 (`tests/fixtures/k8s-1.36`, recorded from a real kube-apiserver v1.36.2)
//! through the facade calls users make, beside the v1.19 replays of the other files: a job's
//! end and exit code, its executions and their logs, why a job cannot start (Pod Security, a
//! quota), the conditions 1.36 writes on the way (`SuccessCriteriaMet`, `FailureTarget`,
//! `PodFailurePolicy`, `FailedIndexes`, `SuccessPolicy`), CronJobs at `batch/v1`, and the
//! watch streams with their 1.36 shapes. Streams are cut as recorded and byte by byte.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod k8s_support;

use clustermanager_core::k8s::api::{self, Resource};
use clustermanager_core::k8s::job::JobObject;
use clustermanager_core::{ClusterManager, Config, Error, LogOptions, ReasonKind, Status};
use clustermanager_tests::recorded::RecordedServer;
use clustermanager_tests::transport::{block_on, ReplayTransport};
use clustermanager_tests::{RecordedResponse, Scenario};
use k8s_support::*;

fn k8s136(name: &str) -> Scenario {
    Scenario::load(&format!("k8s-1.36/{name}"))
}

fn config() -> Config {
    Config::kubernetes("https://127.0.0.1:6443").unwrap()
}

/// The recorded response to the first request of `scenario` whose method and path (with its
/// query) start with `method` and `path`.
fn answer(scenario: &Scenario, method: &str, path: &str) -> RecordedResponse {
    let e = scenario
        .exchanges
        .iter()
        .find(|e| e.request.method == method && e.request.path.starts_with(path))
        .unwrap_or_else(|| panic!("{} has no {method} {path}", scenario.scenario));
    e.response.clone()
}

/// acm-26 (v1.36, a stand-in kubelet ran the pods): the seed's program — get the job, list its
/// executions, read a log — on 1.36 shapes: the failed Job has `FailureTarget` and `Failed`
/// (BackoffLimitExceeded) and its pod both label sets; the exit code comes from the pod.
#[test]
fn get_job_list_executions_and_logs_on_v1_36() {
    let s = k8s136("acm-26-job-with-node-agent.json");
    // get_job (the Job, then how it ended: the Job and its pods again); list_job_executions
    let transport = ReplayTransport::new(&s, [10, 10, 11, 10, 11]);
    let cm = block_on(ClusterManager::connect(transport.clone(), &config(), 7)).unwrap();
    let job = block_on(cm.get_job("acm-run", "failer")).unwrap();
    assert_eq!((job.status, job.raw_status.as_str()), (Some(Status::Failed), "Failed"));
    let kinds: Vec<&str> = job.conditions.iter().map(|c| c.kind.as_str()).collect();
    assert_eq!(kinds, ["FailureTarget", "Failed"], "1.36 writes the target first; both stay");
    assert_eq!(job.exit_code, Some(3));
    assert_eq!(job.pending_reason.as_ref().map(|r| r.kind), Some(ReasonKind::BackoffLimitExceeded));
    let runs = block_on(cm.list_job_executions("acm-run", "failer")).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].status, runs[0].tasks[0].exit_code), (Some(Status::Failed), Some(3)));
    assert_eq!(transport.remaining(), 0);

    // the printer's whole log, and its last two lines
    let transport = ReplayTransport::new(&s, [7, 8]);
    let cm = block_on(ClusterManager::connect(transport.clone(), &config(), 7)).unwrap();
    let log = block_on(cm.get_execution_log("acm-run", "printer-4pzkl", &LogOptions::default())).unwrap();
    assert!(log.starts_with("line 1 hello\n") && log.ends_with("done\n"), "{log:?}");
    let tail = LogOptions { tail_lines: Some(2), container: Some("main".into()), ..LogOptions::default() };
    let last = block_on(cm.get_execution_log("acm-run", "printer-4pzkl", &tail)).unwrap();
    assert_eq!(last.lines().count(), 2, "{last:?}");
    assert_eq!(transport.remaining(), 0);
}

/// The terminal conditions of every 1.36 Job recording, and what the Job reads as: a wait ends
/// on `Complete`/`Failed` only; `SuccessCriteriaMet`/`FailureTarget` alone mean "decided, pods
/// still terminating" and read as Running.
#[test]
fn v1_36_conditions_read_as_the_job_module_documents() {
    // recording, path prefix of its Job reads, status, raw status, reason
    type Case<'a> = (&'a str, &'a str, Option<Status>, &'a str, Option<ReasonKind>);
    let cases: [Case<'_>; 5] = [
        (
            "acm-08-job-succeeds.json",
            "/apis/batch/v1/namespaces/acm-jobs/jobs/hello-ok",
            Some(Status::Succeeded),
            "Complete",
            None,
        ),
        (
            "acm-09-job-fails.json",
            "/apis/batch/v1/namespaces/",
            Some(Status::Failed),
            "Failed",
            Some(ReasonKind::BackoffLimitExceeded),
        ),
        (
            "acm-29-job-pod-failure-policy.json",
            "/apis/batch/v1/namespaces/",
            Some(Status::Failed),
            "Failed",
            Some(ReasonKind::TaskFailed),
        ),
        (
            "acm-30-job-backoff-limit-per-index.json",
            "/apis/batch/v1/namespaces/",
            Some(Status::Failed),
            "Failed",
            Some(ReasonKind::BackoffLimitExceeded),
        ),
        ("acm-31-job-success-policy.json", "/apis/batch/v1/namespaces/", Some(Status::Succeeded), "Complete", None),
    ];
    for (file, prefix, status, raw, reason) in cases {
        let s = k8s136(file);
        // the last read of a Job in the recording: how it ended
        let last = s
            .exchanges
            .iter()
            .rfind(|e| {
                e.request.method == "GET"
                    && e.request.path.starts_with(prefix)
                    && e.response.status == 200
                    && e.response.body.starts_with("{\"kind\":\"Job\"")
            })
            .unwrap_or_else(|| panic!("{file}: a Job read"));
        let job: JobObject = serde_json::from_str(&last.response.body).unwrap();
        let job = job.into_job();
        assert_eq!((job.status, job.raw_status.as_str()), (status, raw), "{file}");
        assert_eq!(job.pending_reason.as_ref().map(|r| r.kind), reason, "{file}: {:?}", job.pending_reason);
        let kinds: Vec<&str> = job.conditions.iter().map(|c| c.kind.as_str()).collect();
        assert!(
            kinds.contains(&"SuccessCriteriaMet") || kinds.contains(&"FailureTarget"),
            "{file}: the decided condition stays beside the terminal one: {kinds:?}"
        );
    }
    // acm-27's watch: the Job with SuccessCriteriaMet but not yet Complete is still running
    let s = k8s136("acm-27-job-succeeds-watched.json");
    let stream = answer(&s, "GET", "/apis/batch/v1/namespaces/acm-job-ok/jobs?watch=1");
    let decided = event_lines(&stream)
        .into_iter()
        .find(|l| l.contains("SuccessCriteriaMet") && !l.contains("\"Complete\""))
        .unwrap();
    let job: JobObject = serde_json::from_str(&event_object(&decided)).unwrap();
    let job = job.into_job();
    assert_eq!((job.status, job.raw_status.as_str()), (Some(Status::Running), "SuccessCriteriaMet"));
}

/// acm-33 (v1.36): a Job whose pod violates the namespace's enforced Pod Security level is
/// created, but the job controller's pod creates are refused. What the waits diagnose (and
/// `get_job` reports) is a permanent reason naming Pod Security in the server's words (the
/// recorded FailedCreate event): a wait ends at once with `CannotRun` on it (on the fake:
/// `fake/tests/stuck.rs`). The Job has no pod (an empty pod list, scripted: the recorder did not
/// list them), so its events are read.
#[test]
fn a_job_refused_by_pod_security_cannot_run_on_the_recording() {
    let s = k8s136("acm-33-pod-security-admission.json");
    let job = answer(&s, "GET", "/apis/batch/v1/namespaces/acm-psa/jobs/privileged");
    let empty_pods = json_response(200, &list_body("PodList", "v1", "7283", &[]));
    let server = RecordedServer::new()
        .on("GET", "/apis/batch/v1/namespaces/acm-psa/jobs/privileged", vec![job])
        .on("GET", "/api/v1/namespaces/acm-psa/pods?labelSelector=job-name=privileged", vec![empty_pods])
        .on("GET", "/api/v1/namespaces/acm-psa/events", vec![answer(&s, "GET", "/api/v1/namespaces/acm-psa/events")]);
    let cm = block_on(ClusterManager::connect(server.clone(), &config(), 7)).unwrap();
    let job = block_on(cm.get_job("acm-psa", "privileged")).unwrap();
    assert_eq!(job.status, Some(Status::Pending));
    let reason = job.pending_reason.unwrap_or_else(|| panic!("a reason after {:?}", server.requests()));
    assert_eq!((reason.kind, reason.permanent), (ReasonKind::AdmissionRefused, true));
    assert!(reason.message.starts_with("Pod Security admission refuses its pod"), "{}", reason.message);
    assert!(reason.message.contains("violates PodSecurity \"restricted:latest\""), "{}", reason.message);
    assert_eq!(reason.source, "Event FailedCreate: Warning");
    let err = Error::CannotRun { job: "acm-psa/privileged".into(), reason };
    assert!(err.to_string().contains("Pod Security"), "{err}");
}

/// acm-34 (v1.36): a quota leaves room for two of the Job's pods; the third is refused with
/// 1.36's words. Waiting for room is not permanent: the wait goes on to its timeout and names
/// the quota.
#[test]
fn a_job_over_its_quota_waits_for_room_on_the_recording() {
    let s = k8s136("acm-34-resourcequota-exceeded.json");
    let events = answer(&s, "GET", "/api/v1/namespaces/acm-quota-exceeded/events");
    let list: serde_json::Value = serde_json::from_str(&events.body).unwrap();
    let reason = clustermanager_core::k8s::reason::of_job_events(
        &serde_json::from_value::<Vec<clustermanager_core::k8s::reason::EventObject>>(list["items"].clone()).unwrap(),
    )
    .unwrap();
    assert_eq!((reason.kind, reason.permanent), (ReasonKind::QuotaExhausted, false));
    assert!(reason.message.contains("exceeded quota: compute, requested: requests.cpu=100m"), "{}", reason.message);
}

/// acm-25 (v1.36): CronJobs are served at `batch/v1` only: discovery picks it, and the recorded
/// v1beta1 request is a 404. On the v1.19 recording's `/apis/batch/v1` (Jobs only) it picks
/// v1beta1.
#[test]
fn cronjobs_at_batch_v1_where_served_v1beta1_where_not() {
    let s136 = k8s136("acm-03-apis-discovery.json");
    let s119 = k8s("acm-03-apis-discovery.json");
    for (s, expected) in [(&s136, Resource::CRONJOBS), (&s119, Resource::CRONJOBS_V1BETA1)] {
        let i = s.exchanges.iter().position(|e| e.request.path == "/apis/batch/v1").unwrap();
        let transport = ReplayTransport::new(s, [i]);
        let cm = block_on(ClusterManager::connect(transport.clone(), &config(), 7)).unwrap();
        let found = block_on(cm.run(api::cronjobs(&clustermanager_core::k8s::Context::default()))).unwrap();
        assert_eq!(found, expected, "{}", s.server);
    }
    let s = k8s136("acm-25-cronjob-v1.json");
    assert!(s.exchanges.iter().any(|e| e.request.path.contains("/apis/batch/v1beta1/") && e.response.status == 404));
}
