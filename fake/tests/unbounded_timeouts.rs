//! A timeout of `Duration::MAX` means "no limit": every wait on both orchestrators must take it
//! without panicking on `Instant + Duration` overflow, and still end when the job ends.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Duration;

use clustermanager_core::{JobSpec, Status};
use clustermanager_fake::{block_on, FakeCluster, FakeOptions, KubernetesVersion};

fn job(name: &str) -> JobSpec {
    JobSpec::new(name).image("busybox:1.36").command(["sh", "-c", "sleep 5; echo done"])
}

fn waits_take_duration_max(fake: FakeCluster) {
    let cm = block_on(fake.cluster_manager()).unwrap();
    assert!(block_on(cm.create_namespace("inf")).unwrap());
    block_on(cm.create_job("inf", &job("forever"))).unwrap();
    let exec =
        block_on(cm.wait_for_job_execution_status("inf", "forever", &[Status::Running], Some(Duration::MAX))).unwrap();
    assert_eq!(exec.status, Some(Status::Running));
    let done = block_on(cm.wait_for_job("inf", "forever", Some(Duration::MAX))).unwrap();
    assert_eq!(done.status, Some(Status::Succeeded));
}

#[test]
fn kubernetes_waits_take_duration_max() {
    for version in KubernetesVersion::ALL {
        waits_take_duration_max(FakeCluster::kubernetes_with(FakeOptions::on(version)));
    }
}

#[test]
fn nomad_waits_take_duration_max() {
    waits_take_duration_max(FakeCluster::nomad());
}
