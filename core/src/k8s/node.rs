//! Kubernetes nodes: `get_nodes` (`GET /api/v1/nodes`), parsed into lean [`Node`]s.
//!
//! Mapping: `status` is the `Ready` condition (`Ready`, `NotReady`, or `Unknown` when the
//! condition is unknown or missing); `eligibility` is `ineligible` when `spec.unschedulable`
//! (cordoned), else `eligible`; `ready` needs both. Capacity and allocatable CPU and memory are
//! parsed with [`crate::quantity`] (a value that does not parse is left out rather than failing
//! the whole list). The datacenter is the `topology.kubernetes.io/zone` label (or its deprecated
//! `failure-domain.beta.kubernetes.io/zone` form).

use std::collections::BTreeMap;
use std::convert::Infallible;

use serde::Deserialize;

use super::Context;
use crate::error::Result;
use crate::model::Node;
use crate::op::Call;
use crate::quantity::{Cpu, Memory};
use crate::step::{self, Operation, Response};

/// The zone label.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
/// The zone label before Kubernetes 1.17.
pub const LEGACY_ZONE_LABEL: &str = "failure-domain.beta.kubernetes.io/zone";

#[derive(Deserialize)]
struct NodeObject {
    metadata: NodeMeta,
    #[serde(default)]
    spec: NodeSpec,
    #[serde(default)]
    status: NodeStatus,
}

#[derive(Deserialize)]
struct NodeMeta {
    name: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
struct NodeSpec {
    #[serde(default)]
    unschedulable: bool,
}

#[derive(Deserialize, Default)]
struct NodeStatus {
    #[serde(default)]
    capacity: Resources,
    #[serde(default)]
    allocatable: Resources,
    #[serde(default)]
    conditions: Vec<NodeCondition>,
}

#[derive(Deserialize, Default)]
struct Resources {
    #[serde(default)]
    cpu: Option<String>,
    #[serde(default)]
    memory: Option<String>,
}

#[derive(Deserialize)]
struct NodeCondition {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    status: String,
}

impl NodeObject {
    fn into_node(self) -> Node {
        let ready_condition = self.status.conditions.iter().find(|c| c.kind == "Ready").map(|c| c.status.as_str());
        let status = match ready_condition {
            Some("True") => "Ready",
            Some("False") => "NotReady",
            _ => "Unknown",
        };
        let schedulable = !self.spec.unschedulable;
        let labels = self.metadata.labels;
        let datacenter = labels.get(ZONE_LABEL).or_else(|| labels.get(LEGACY_ZONE_LABEL)).cloned();
        let cpu = |q: &Option<String>| q.as_deref().and_then(|q| Cpu::parse(q).ok());
        let mem = |q: &Option<String>| q.as_deref().and_then(|q| Memory::parse(q).ok());
        Node {
            raw: crate::Raw::default(),
            id: self.metadata.name.clone(),
            name: self.metadata.name,
            status: status.to_owned(),
            ready: status == "Ready" && schedulable,
            datacenter,
            eligibility: Some(if schedulable { "eligible" } else { "ineligible" }.to_owned()),
            drivers: Vec::new(),
            cpu_capacity: cpu(&self.status.capacity.cpu),
            memory_capacity: mem(&self.status.capacity.memory),
            cpu_allocatable: cpu(&self.status.allocatable.cpu),
            memory_allocatable: mem(&self.status.allocatable.memory),
            labels,
        }
    }
}

/// Parse a `NodeList` answer.
pub fn parse_list(resp: Response) -> Result<Vec<Node>> {
    super::api::parse_kept("node list", resp, NodeObject::into_node)
}

/// `get_nodes`: every node of the cluster.
///
/// ```
/// use clustermanager_core::{k8s, Operation, Step};
/// let mut op = k8s::node::list(&k8s::Context::default());
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { panic!() };
/// assert_eq!(req.uri(), "/api/v1/nodes");
/// ```
pub fn list(ctx: &Context) -> impl Operation<Output = Vec<Node>, Item = Infallible> + Send + 'static {
    let req = step::request(http::Method::GET, "/api/v1/nodes", None);
    crate::op::Checked::from(req.map(|req| Call::new(req, &ctx.retry, parse_list)))
}
