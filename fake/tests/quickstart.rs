//! The README quickstart, run through the real `ClusterManager` facade on both fakes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Duration;

use clustermanager_core::{ClusterManager, DeleteOptions, Error, JobSpec, LogOptions, Status};
use clustermanager_fake::{block_on, FakeCluster, FakeOptions, FakeTransport, KubernetesVersion};

const NAMESPACE: &str = "aiocluster-test";

async fn quickstart(
    cm: &ClusterManager<FakeTransport>,
    command: &str,
) -> Result<(clustermanager_core::Job, Vec<(clustermanager_core::Execution, String)>), Error> {
    assert!(!cm.get_nodes().await?.is_empty());
    cm.delete_namespace(NAMESPACE).await?;
    assert!(cm.create_namespace(NAMESPACE).await?);
    let spec =
        JobSpec::new("hello").image("busybox:1.36").command(["sh", "-c", command]).cpu_limit("100m").mem_limit("64Mi");
    cm.create_job(NAMESPACE, &spec).await?;
    let job = cm.wait_for_job(NAMESPACE, "hello", Some(Duration::from_secs(300))).await?;
    let mut runs = Vec::new();
    for execution in cm.list_job_executions(NAMESPACE, "hello").await? {
        let log = cm.get_execution_log(NAMESPACE, &execution.id, &LogOptions::default()).await?;
        runs.push((execution, log));
    }
    assert!(cm.delete_job(NAMESPACE, "hello", DeleteOptions { wait: true, purge: true }).await?);
    assert!(cm.delete_namespace(NAMESPACE).await?);
    Ok((job, runs))
}

fn run_on(
    fake: &FakeCluster,
    command: &str,
) -> (clustermanager_core::Job, Vec<(clustermanager_core::Execution, String)>) {
    let cm = block_on(fake.cluster_manager()).unwrap();
    match block_on(quickstart(&cm, command)) {
        Ok(out) => out,
        Err(e) => panic!("quickstart failed: {e}\nrequests:\n{}", fake.requests().join("\n")),
    }
}

#[test]
fn quickstart_succeeds_on_the_fake_kubernetes() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let (job, runs) = run_on(&fake, "echo hello from clustermanager");
        assert_eq!(job.status, Some(Status::Succeeded));
        assert_eq!(runs.len(), 1);
        assert!(runs[0].0.id.starts_with("hello-"));
        assert_eq!(runs[0].1, "hello from clustermanager\n");
        assert!(fake.executions(NAMESPACE).is_empty(), "purge removed the pods");
    }
}

#[test]
fn a_failing_job_is_reported_with_its_exit_code_on_kubernetes() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let (job, runs) = run_on(&fake, "echo about to fail; exit 3");
        assert_eq!(job.status, Some(Status::Failed));
        assert_eq!(runs[0].0.status, Some(Status::Failed));
        assert_eq!(runs[0].0.tasks[0].exit_code, Some(3));
        assert_eq!(runs[0].1, "about to fail\n");
    }
}

#[test]
fn quickstart_succeeds_on_the_fake_nomad() {
    let fake = FakeCluster::nomad();
    let (job, runs) = run_on(&fake, "echo hello from clustermanager");
    assert_eq!(job.status, Some(Status::Succeeded));
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].1, "hello from clustermanager\n");
    assert!(fake.executions(NAMESPACE).is_empty(), "purge removed the allocations");
}

#[test]
fn a_failing_job_is_reported_with_its_exit_code_on_nomad() {
    let fake = FakeCluster::nomad();
    let (job, runs) = run_on(&fake, "echo about to fail; exit 3");
    assert_eq!(job.status, Some(Status::Failed));
    assert_eq!(runs[0].0.status, Some(Status::Failed));
    assert_eq!(runs[0].0.tasks[0].exit_code, Some(3));
    assert_eq!(runs[0].1, "about to fail\n");
}

#[test]
fn nomad_waits_with_blocking_queries_not_sleeps() {
    let fake = FakeCluster::nomad();
    run_on(&fake, "sleep 60; echo late");
    let requests = fake.requests();
    let blocking = requests.iter().filter(|r| r.contains("index=")).count();
    assert!(blocking >= 1, "{requests:#?}");
    assert!(requests.len() < 40, "no polling loop: {requests:#?}");
    assert!(fake.elapsed() >= Duration::from_secs(61));
}

#[test]
fn runs_are_deterministic() {
    for version in KubernetesVersion::ALL {
        let (a, b) = (
            FakeCluster::kubernetes_with(FakeOptions::on(version)),
            FakeCluster::kubernetes_with(FakeOptions::on(version)),
        );
        let (_, runs_a) = run_on(&a, "echo same");
        let (_, runs_b) = run_on(&b, "echo same");
        assert_eq!(runs_a[0].0.id, runs_b[0].0.id, "same pod name");
        assert_eq!(a.requests(), b.requests());
        assert_eq!(a.elapsed(), b.elapsed());
    }
}

#[test]
fn the_fake_runs_on_a_multi_threaded_tokio_runtime_too() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
    let fake = FakeCluster::nomad();
    let job = rt.block_on(async {
        let cm = fake.cluster_manager().await?;
        cm.create_namespace("rt").await?;
        cm.create_job("rt", &JobSpec::new("t").command(["sh", "-c", "sleep 3600; echo late"])).await?;
        // A virtual hour passes at once.
        cm.wait_for_job("rt", "t", Some(Duration::from_secs(7200))).await
    });
    assert_eq!(job.unwrap().status, Some(Status::Succeeded));
    assert!(fake.elapsed() >= Duration::from_secs(3600));
}
