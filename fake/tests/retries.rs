//! A failing job is retried within its `backoff_limit` as the servers retry it: Kubernetes' job
//! controller replaces each failed pod after an exponential back-off (10 s, 20 s, ...) until
//! more pods failed than `backoffLimit` allows; a Nomad client restarts the failed task in its
//! allocation (the restart policy's attempts, 1 s apart) until the attempts are spent.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Duration;

use clustermanager_core::{ClusterManager, Execution, Job, JobSpec, LogOptions, Status};
use clustermanager_fake::{block_on, FakeCluster, FakeOptions, FakeTransport, KubernetesVersion};

const NS: &str = "retries";

/// Create `name` running `command` with `backoff_limit` retries and wait for it.
async fn run(cm: &ClusterManager<FakeTransport>, name: &str, command: &str, backoff_limit: u32) -> Job {
    cm.create_namespace(NS).await.unwrap();
    let spec = JobSpec::new(name).image("busybox:1.36").command(["sh", "-c", command]).backoff_limit(backoff_limit);
    cm.create_job(NS, &spec).await.unwrap();
    cm.wait_for_job(NS, name, Some(Duration::from_secs(600))).await.unwrap()
}

/// The task events of a Nomad execution's task `main`, as the server sent them.
fn task_events(run: &Execution) -> Vec<serde_json::Value> {
    run.raw.to_value().unwrap()["TaskStates"]["main"]["Events"].as_array().unwrap().clone()
}

#[test]
fn kubernetes_replaces_each_failed_pod_after_a_growing_back_off_until_the_limit() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let cm = block_on(fake.cluster_manager()).unwrap();
        let job = block_on(run(&cm, "flaky", "echo trying; exit 3", 2));
        assert_eq!(job.status, Some(Status::Failed), "{version:?}");
        assert_eq!(job.failed, 3, "the first pod and two replacements, {version:?}");
        let runs = block_on(cm.list_job_executions(NS, "flaky")).unwrap();
        assert_eq!(runs.len(), 3);
        assert!(runs.iter().all(|r| r.status == Some(Status::Failed) && r.tasks[0].exit_code == Some(3)));
        // 10 s then 20 s of back-off between the three runs
        assert!(fake.elapsed() >= Duration::from_secs(30), "{:?}", fake.elapsed());
        assert!(fake.elapsed() < Duration::from_secs(90), "{:?}", fake.elapsed());
    }
}

#[test]
fn kubernetes_fails_at_the_first_failure_with_no_retries_and_runs_a_success_once() {
    let fake = FakeCluster::kubernetes();
    let cm = block_on(fake.cluster_manager()).unwrap();
    let failed = block_on(run(&cm, "once", "exit 1", 0));
    assert_eq!((failed.status, failed.failed), (Some(Status::Failed), 1));
    assert!(fake.elapsed() < Duration::from_secs(10), "no back-off: {:?}", fake.elapsed());
    let ok = block_on(run(&cm, "fine", "echo ok", 4));
    assert_eq!((ok.status, ok.succeeded, ok.failed), (Some(Status::Succeeded), 1, 0));
    assert_eq!(block_on(cm.list_job_executions(NS, "fine")).unwrap().len(), 1);
}

#[test]
fn nomad_restarts_the_failed_task_in_its_allocation_until_the_attempts_are_spent() {
    let fake = FakeCluster::nomad();
    let cm = block_on(fake.cluster_manager()).unwrap();
    let job = block_on(run(&cm, "flaky", "echo trying; exit 3", 2));
    assert_eq!(job.status, Some(Status::Failed));
    let runs = block_on(cm.list_job_executions(NS, "flaky")).unwrap();
    assert_eq!(runs.len(), 1, "restarted in place: one allocation");
    assert_eq!(runs[0].status, Some(Status::Failed));
    assert_eq!((runs[0].tasks[0].restarts, runs[0].tasks[0].exit_code), (2, Some(3)));
    let events = task_events(&runs[0]);
    let kinds: Vec<&str> = events.iter().map(|e| e["Type"].as_str().unwrap()).collect();
    let count = |kind: &str| kinds.iter().filter(|k| **k == kind).count();
    assert_eq!((count("Started"), count("Terminated"), count("Restarting")), (3, 3, 2), "{kinds:?}");
    assert_eq!(kinds.last().copied(), Some("Not Restarting"));
    let last = events.last().unwrap();
    assert_eq!(last["DisplayMessage"], "Exceeded allowed attempts 2 in interval 24h0m0s and mode is \"fail\"");
    assert_eq!(last["FailsTask"], true);
    // the task's log holds every run, as the client appends each run to the same file
    let log = block_on(cm.get_execution_log(NS, &runs[0].id, &LogOptions::default())).unwrap();
    assert_eq!(log, "trying\ntrying\ntrying\n");
}

#[test]
fn nomad_without_restart_attempts_says_the_policy_allows_none() {
    let fake = FakeCluster::nomad();
    let cm = block_on(fake.cluster_manager()).unwrap();
    let job = block_on(run(&cm, "once", "exit 1", 0));
    assert_eq!(job.status, Some(Status::Failed));
    let runs = block_on(cm.list_job_executions(NS, "once")).unwrap();
    let events = task_events(&runs[0]);
    assert_eq!(events.last().unwrap()["DisplayMessage"], "Policy allows no restarts");
    assert_eq!(runs[0].tasks[0].restarts, 0);
}
