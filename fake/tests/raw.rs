//! Every model value the seed exposed `_raw` for keeps the server's whole object, on both
//! orchestrators: jobs (get and list), executions, nodes, namespaces, workloads and scales.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use clustermanager_core::{JobSpec, Raw, ServiceSpec};
use clustermanager_fake::{block_on, FakeCluster, FakeOptions, KubernetesVersion};
use serde_json::Value;

fn value(raw: &Raw) -> Value {
    assert!(!raw.is_empty(), "nothing kept");
    raw.to_value().unwrap()
}

fn check(fake: FakeCluster, name_of: fn(&Value) -> &Value) {
    let cm = block_on(fake.cluster_manager()).unwrap();
    block_on(cm.create_namespace("acm-raw")).unwrap();
    let spec = JobSpec::new("printer").image("busybox:1.36").command(["sh", "-c", "echo hi"]);
    block_on(cm.create_job("acm-raw", &spec)).unwrap();
    let job = block_on(cm.wait_for_job("acm-raw", "printer", None)).unwrap();
    let got = block_on(cm.get_job("acm-raw", "printer")).unwrap();
    assert_eq!(name_of(&value(&got.raw)), "printer");
    assert_eq!(got, job, "raw takes no part in equality");
    let listed = block_on(cm.list_jobs("acm-raw")).unwrap();
    assert_eq!(name_of(&value(&listed[0].raw)), "printer");
    let executions = block_on(cm.list_job_executions("acm-raw", "printer")).unwrap();
    assert!(value(&executions[0].raw).is_object());
    let nodes = block_on(cm.get_nodes()).unwrap();
    assert!(value(&nodes[0].raw).is_object());
    let service = ServiceSpec::new(JobSpec::new("web").image("nginx:1.27").command(["nginx"])).replicas(2);
    block_on(cm.create_deploy("acm-raw", &service)).unwrap();
    let deploy = block_on(cm.get_deploy("acm-raw", "web")).unwrap();
    assert_eq!(name_of(&value(&deploy.raw)), "web");
    let scale = block_on(cm.get_scale_deploy("acm-raw", "web")).unwrap();
    assert!(value(&scale.raw).is_object());
    let ns = block_on(cm.get_namespace("acm-raw")).unwrap();
    assert!(value(&ns.raw).is_object());
    // Debug never prints the object (it may hold secrets)
    assert!(!format!("{got:?}").contains("busybox"), "{got:?}");
}

#[test]
fn kubernetes_values_keep_their_objects() {
    for version in KubernetesVersion::ALL {
        check(FakeCluster::kubernetes_with(FakeOptions::on(version)), |v| &v["metadata"]["name"]);
    }
}

#[test]
fn nomad_values_keep_their_objects() {
    check(FakeCluster::nomad(), |v| &v["ID"]);
}
