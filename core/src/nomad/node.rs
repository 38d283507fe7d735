//! Nomad: get_nodes — `GET /v1/nodes`.
//!
//! The node list holds stubs: ID, Name, Datacenter, Status, SchedulingEligibility, Drain and
//! the Drivers with their health. Nomad 1.1 puts no resources in stubs (`NodeResources` is
//! only in `/v1/node/{id}`), so capacities are filled only when the stub carries
//! `NodeResources` (newer servers with `?resources=true`); CPU MHz become millicores at 1000
//! MHz a core. Node `Meta` is not in stubs either, so `labels` stays empty.

use std::collections::BTreeMap;
use std::convert::Infallible;

use serde::Deserialize;

use super::flow::Either;
use super::query::Query;
use super::{check, decode, Context};
use crate::call::Call;
use crate::error::Result;
use crate::model::Node;
use crate::quantity::{Cpu, Memory};
use crate::step::Operation;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NodeStub {
    #[serde(rename = "ID")]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    datacenter: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    scheduling_eligibility: String,
    #[serde(default)]
    drain: bool,
    #[serde(default)]
    drivers: Option<BTreeMap<String, DriverInfo>>,
    #[serde(default)]
    node_resources: Option<NodeResources>,
    #[serde(default)]
    reserved_resources: Option<NodeResources>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DriverInfo {
    #[serde(default)]
    detected: bool,
    #[serde(default)]
    healthy: bool,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct NodeResources {
    #[serde(default)]
    cpu: Option<CpuRes>,
    #[serde(default)]
    memory: Option<MemRes>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CpuRes {
    #[serde(default)]
    cpu_shares: u64,
    #[serde(default)]
    total_cpu_cores: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MemRes {
    #[serde(rename = "MemoryMB", default)]
    memory_mb: u64,
}

fn cpu_of(r: Option<&NodeResources>) -> Option<u64> {
    r.and_then(|r| r.cpu.as_ref()).map(|c| c.cpu_shares)
}

fn mem_of(r: Option<&NodeResources>) -> Option<u64> {
    r.and_then(|r| r.memory.as_ref()).map(|m| m.memory_mb)
}

impl From<NodeStub> for Node {
    fn from(n: NodeStub) -> Node {
        let ready = n.status == "ready" && n.scheduling_eligibility == "eligible" && !n.drain;
        let drivers = n
            .drivers
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, d)| d.detected && d.healthy)
            .map(|(name, _)| name)
            .collect();
        let cap_cpu = cpu_of(n.node_resources.as_ref());
        let cap_mem = mem_of(n.node_resources.as_ref());
        let res_cpu = cpu_of(n.reserved_resources.as_ref()).unwrap_or(0);
        let res_mem = mem_of(n.reserved_resources.as_ref()).unwrap_or(0);
        // MHz of one core: measured when the node says how many cores it has, else assumed.
        let per_core = n
            .node_resources
            .as_ref()
            .and_then(|r| r.cpu.as_ref())
            .filter(|c| c.total_cpu_cores > 0 && c.cpu_shares > 0)
            .map_or(super::jobspec::MHZ_PER_CORE, |c| c.cpu_shares.div_ceil(c.total_cpu_cores));
        let mhz = |v: u64| Cpu(v.saturating_mul(1000) / per_core);
        let mb = |v: u64| Memory(v.saturating_mul(1 << 20));
        Node {
            id: n.id,
            name: n.name,
            status: n.status,
            ready,
            datacenter: Some(n.datacenter).filter(|d| !d.is_empty()),
            eligibility: Some(n.scheduling_eligibility).filter(|e| !e.is_empty()),
            drivers,
            cpu_capacity: cap_cpu.map(mhz),
            memory_capacity: cap_mem.map(mb),
            cpu_allocatable: cap_cpu.map(|c| mhz(c.saturating_sub(res_cpu))),
            memory_allocatable: cap_mem.map(|m| mb(m.saturating_sub(res_mem))),
            labels: BTreeMap::new(),
        }
    }
}

/// Parse the body of `GET /v1/nodes`.
pub fn parse_nodes(body: &[u8]) -> Result<Vec<Node>> {
    let stubs: Vec<NodeStub> = decode("Nomad node list", body)?;
    Ok(stubs.into_iter().map(Node::from).collect())
}

/// `get_nodes`: every client node. A node is `ready` when its status is `ready`, it is
/// eligible for scheduling and not draining; `drivers` lists the detected, healthy ones.
///
/// ```
/// use clustermanager_core::{nomad, Operation, Step};
/// let mut op = nomad::node::list(&nomad::Context::default());
/// let Step::Send(req) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(req.uri(), "/v1/nodes");
/// ```
pub fn list(ctx: &Context) -> impl Operation<Output = Vec<Node>, Item = Infallible> + Send + 'static {
    let op = Query::new(ctx, "/v1/nodes")
        .get()
        .map(|req| Call::new(req, &ctx.retry, |resp| parse_nodes(check(resp)?.body())));
    Either::from(op)
}
