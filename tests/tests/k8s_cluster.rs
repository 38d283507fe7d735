//! get_nodes and define_quota against the recorded kube-apiserver v1.19
//! (`acm-04-list-nodes-empty`, `acm-26-job-with-node-agent`, `acm-07-resourcequota`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap what they set up

mod k8s_support;

use clustermanager_core::quantity::{Cpu, Memory};
use clustermanager_core::{k8s, Error};
use clustermanager_tests::Replay;
use k8s_support::*;

#[test]
fn a_control_plane_without_kubelets_has_no_nodes() {
    let s = k8s("acm-04-list-nodes-empty.json");
    let nodes = Replay::new(&s).exchanges([0]).run(k8s::node::list(&Default::default())).unwrap();
    assert!(nodes.is_empty());
}

#[test]
fn a_registered_node_is_ready_and_eligible_with_its_capacity() {
    let s = k8s("acm-26-job-with-node-agent.json");
    let nodes = Replay::new(&s).exchanges([0]).run(k8s::node::list(&Default::default())).unwrap();
    assert_eq!(nodes.len(), 1);
    let n = &nodes[0];
    assert_eq!((n.id.as_str(), n.name.as_str(), n.status.as_str()), ("fake-node-1", "fake-node-1", "Ready"));
    assert!(n.ready);
    assert_eq!(n.eligibility.as_deref(), Some("eligible"));
    assert_eq!(n.cpu_capacity, Some(Cpu(4000)));
    assert_eq!(n.cpu_allocatable, Some(Cpu(4000)));
    assert_eq!(n.memory_capacity, Some(Memory(8 << 30)));
    assert_eq!(n.memory_allocatable, Some(Memory(8 << 30)));
    assert_eq!(n.labels.get("type").map(String::as_str), Some("fake-kubelet"));
    assert_eq!(n.datacenter, None, "the node has no zone label");
    assert!(n.drivers.is_empty());
}

/// The recorded node, cordoned, NotReady and in a zone (edited copy of the acm-26 body).
#[test]
fn a_cordoned_not_ready_node_in_a_zone() {
    let s = k8s("acm-26-job-with-node-agent.json");
    let mut resp = response(&s, 0);
    resp.body = resp
        .body
        .replace(r#""spec":{}"#, r#""spec":{"unschedulable":true}"#)
        .replace(r#""type":"Ready","status":"True""#, r#""type":"Ready","status":"False""#)
        .replace(r#""type":"fake-kubelet""#, r#""type":"fake-kubelet","topology.kubernetes.io/zone":"eu-west-1a""#);
    let scenario = scripted(vec![exchange("GET", "/api/v1/nodes", None, resp)]);
    let nodes = Replay::new(&scenario).run(k8s::node::list(&Default::default())).unwrap();
    let n = &nodes[0];
    assert_eq!(n.status, "NotReady");
    assert!(!n.ready);
    assert_eq!(n.eligibility.as_deref(), Some("ineligible"));
    assert_eq!(n.datacenter.as_deref(), Some("eu-west-1a"));
}

#[test]
fn define_quota_creates_a_compute_resourcequota_with_canonical_limits() {
    let s = k8s("acm-07-resourcequota.json");
    // The recorder's quota also had requests.* and pods; ours holds what define_quota promises.
    let (out, _, t) = Replay::new(&s).exchanges([0]).ignore_bodies().run_full(k8s::quota::define(
        &Default::default(),
        "acm-quota",
        "4000m",
        "4096Mi",
    ));
    out.unwrap();
    assert_eq!(
        sent_json(&t.bodies[0]),
        serde_json::json!({
            "apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": {"name": "compute", "namespace": "acm-quota"},
            "spec": {"hard": {"limits.cpu": "4", "limits.memory": "4Gi"}},
        })
    );
}

/// A second define_quota: the POST answers 409 AlreadyExists (a Status shaped like the
/// recorded namespace 409 of acm-06), then a merge patch of just our keys answers the recorded
/// quota object (acm-07).
#[test]
fn define_quota_again_patches_the_existing_quota() {
    let s = k8s("acm-07-resourcequota.json");
    let exists = json_response(
        409,
        r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"resourcequotas \"compute\" already exists","reason":"AlreadyExists","details":{"name":"compute","kind":"resourcequotas"},"code":409}"#,
    );
    let scenario = scripted(vec![
        exchange("POST", "/api/v1/namespaces/acm-quota/resourcequotas", None, exists),
        exchange(
            "PATCH",
            "/api/v1/namespaces/acm-quota/resourcequotas/compute",
            Some(r#"{"spec":{"hard":{"limits.cpu":"1500m","limits.memory":"512M"}}}"#),
            response(&s, 1),
        ),
    ]);
    let (out, _, t) = Replay::new(&scenario).ignore_bodies().run_full(k8s::quota::define(
        &Default::default(),
        "acm-quota",
        "1.5",
        "512M",
    ));
    out.unwrap();
    assert_eq!(t.requests.len(), 2);
    assert_eq!(
        sent_json(&t.bodies[1]),
        serde_json::json!({"spec": {"hard": {"limits.cpu": "1500m", "limits.memory": "512M"}}})
    );
}

#[test]
fn define_quota_rejects_bad_quantities_before_sending() {
    let s = k8s("acm-07-resourcequota.json");
    for (cpu, mem, field) in [("lots", "1Gi", "cpu_limit"), ("1", "1Xi", "mem_limit"), ("1Gi", "1Gi", "cpu_limit")] {
        let err = Replay::new(&s)
            .exchanges([])
            .run(k8s::quota::define(&Default::default(), "acm-quota", cpu, mem))
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput { field: ref f, .. } if f == field), "{cpu} {mem}: {err:?}");
    }
}

/// The update after a 409 is a JSON merge patch (not a JSON patch or a strategic merge patch,
/// which ResourceQuota would accept differently).
#[test]
fn define_quota_update_is_a_merge_patch() {
    use clustermanager_core::{Event, Operation, Step};
    let s = k8s("acm-06-namespace-lifecycle.json");
    let mut op = k8s::quota::define(&Default::default(), "acm-quota", "2", "1Gi");
    let now = std::time::Instant::now();
    let Step::Send(post, _) = op.poll(now) else { panic!("expected the POST") };
    assert_eq!(post.method(), "POST");
    // a 409 AlreadyExists (the recorded acm-06 Status; only its reason matters here)
    op.handle(Event::Response(response(&s, 2).to_http()));
    let Step::Send(patch, _) = op.poll(now) else { panic!("expected the PATCH") };
    assert_eq!(patch.method(), "PATCH");
    assert_eq!(patch.uri().path(), "/api/v1/namespaces/acm-quota/resourcequotas/compute");
    assert_eq!(patch.headers()["content-type"], "application/merge-patch+json");
}
