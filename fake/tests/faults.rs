//! Scripted faults make clustermanager's retry policy and stream resumption visible.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Duration;

use clustermanager_core::error::TransportErrorKind;
use clustermanager_core::{DeleteOptions, Error, JobSpec};
use clustermanager_fake::{block_on, FakeCluster, FakeOptions, Fault, KubernetesVersion};

#[test]
fn a_503_with_retry_after_is_retried_then_succeeds() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let cm = block_on(fake.cluster_manager()).unwrap();
        fake.add_fault(Fault::status(503, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"etcd is busy\",\"reason\":\"ServiceUnavailable\",\"code\":503}").retry_after(2).on("GET", "/api/v1/nodes"));
        let before = fake.elapsed();
        let nodes = block_on(cm.get_nodes()).unwrap();
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes[0].name, "fake-node-1");
        let gets: Vec<_> = fake.requests().into_iter().filter(|r| r.starts_with("GET /api/v1/nodes")).collect();
        assert_eq!(gets.len(), 2, "one refused, one retried");
        assert!(fake.elapsed() - before >= Duration::from_secs(2), "the retry waited for Retry-After");
        assert_eq!(fake.pending_faults(), 0);
    }
}

#[test]
fn a_503_on_a_write_is_returned_not_repeated() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let cm = block_on(fake.cluster_manager()).unwrap();
        block_on(cm.create_namespace("w")).unwrap();
        fake.add_fault(Fault::status(503, "upstream busy").on("POST", "/apis/batch/v1/"));
        let spec = JobSpec::new("once").image("busybox").command(["true"]);
        let err = block_on(cm.create_job("w", &spec)).unwrap_err();
        assert!(matches!(err, Error::Server { .. }), "{err:?}");
        assert_eq!(fake.requests().iter().filter(|r| r.starts_with("POST /apis/batch/v1/")).count(), 1);
    }
}

#[test]
fn a_refused_connection_is_retried_even_for_a_write() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let cm = block_on(fake.cluster_manager()).unwrap();
        fake.add_fault(Fault::drop_connection(TransportErrorKind::Connect).on("POST", "/api/v1/namespaces").times(2));
        assert!(block_on(cm.create_namespace("retried")).unwrap());
        assert_eq!(fake.requests().iter().filter(|r| r.starts_with("POST /api/v1/namespaces")).count(), 3);
    }
}

#[test]
fn a_cut_watch_is_resumed_and_the_wait_still_ends() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let cm = block_on(fake.cluster_manager()).unwrap();
        block_on(cm.create_namespace("cut")).unwrap();
        let spec = JobSpec::new("slow").image("busybox").command(["sh", "-c", "sleep 30; echo done"]);
        block_on(cm.create_job("cut", &spec)).unwrap();
        fake.add_fault(Fault::cut_stream_after(0).on("GET", "/apis/batch/v1/namespaces/cut/jobs"));
        let job = block_on(cm.wait_for_job("cut", "slow", Some(Duration::from_secs(300)))).unwrap();
        assert_eq!(job.status, Some(clustermanager_core::Status::Succeeded));
        assert!(fake.elapsed() >= Duration::from_secs(31), "the job ran its 30 s of virtual time");
        let watches = fake.requests().iter().filter(|r| r.contains("/jobs?") && r.contains("watch=")).count();
        assert!(watches >= 2, "the cut watch was resumed: {:#?}", fake.requests());
        assert_eq!(fake.pending_faults(), 0);
        block_on(cm.delete_job("cut", "slow", DeleteOptions::default())).unwrap();
    }
}

#[test]
fn latency_advances_virtual_time_only() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let cm = block_on(fake.cluster_manager()).unwrap();
        fake.add_fault(Fault::latency(Duration::from_secs(10)).always());
        let wall = std::time::Instant::now();
        block_on(cm.get_nodes()).unwrap();
        assert!(fake.elapsed() >= Duration::from_secs(10));
        assert!(wall.elapsed() < Duration::from_secs(2));
    }
}
