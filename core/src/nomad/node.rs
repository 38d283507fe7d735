//! Nomad: get_nodes — `GET /v1/nodes`, then `GET /v1/node/{id}` for each node whose stub
//! carries no resources.
//!
//! The node list holds stubs: ID, Name, Datacenter, Status, SchedulingEligibility, Drain and
//! the Drivers with their health. Nomad 1.1 puts no resources in stubs (`NodeResources` is
//! only in the full node object), so each node is read once more for its capacities (one
//! request a node, under the same `node:read` ACL); a node gone in between keeps its stub's
//! fields without resources. CPU MHz become millicores at the node's own MHz a core (1000 when
//! it does not say). Node `Meta` is not in stubs, so `labels` stays empty.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Instant;

use serde::Deserialize;

use super::query::{encode_segment, Query};
use super::{check, decode, Context};
use crate::error::Result;
use crate::model::Node;
use crate::op::{Flow, Machine, Next};
use crate::quantity::{Cpu, Memory};
use crate::raw::{Keeps, Raw};
use crate::step::{Operation, Response};

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
            raw: crate::Raw::default(),
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

struct ListNodes {
    ctx: Context,
    /// Stubs still to complete with their node's resources, in list order (reversed).
    /// The stubs not looked at yet, last first, each with its place in the list.
    todo: Vec<(usize, NodeStub)>,
    /// The stub whose node is being read.
    current: Option<(usize, NodeStub)>,
    /// The list's body, which each node from a stub keeps as its `raw`.
    list: bytes::Bytes,
    nodes: Vec<Node>,
    listed: bool,
}

impl Machine for ListNodes {
    type Output = Vec<Node>;

    fn step(&mut self, _now: Instant, ans: Option<Result<Response>>) -> Result<Next<Self::Output>> {
        let Some(ans) = ans else {
            return Ok(Next::Send(Query::new(&self.ctx, "/v1/nodes").get()?));
        };
        let resp = ans?;
        if !self.listed {
            self.listed = true;
            let resp = check(resp)?;
            let stubs: Vec<NodeStub> = decode("Nomad node list", resp.body())?;
            self.todo = stubs.into_iter().enumerate().rev().collect();
            self.list = resp.into_body();
        } else if let Some((i, stub)) = self.current.take() {
            let node = if resp.status() == http::StatusCode::NOT_FOUND {
                Node::from(stub).keeping(Raw::element(self.list.clone(), i))
            } else {
                let resp = check(resp)?;
                let node = decode::<NodeStub>("Nomad node", resp.body())?;
                Node::from(node).keeping(Raw::whole(resp.into_body()))
            };
            self.nodes.push(node);
        }
        while let Some((i, stub)) = self.todo.pop() {
            if stub.node_resources.is_some() {
                self.nodes.push(Node::from(stub).keeping(Raw::element(self.list.clone(), i)));
                continue;
            }
            let req = Query::new(&self.ctx, format!("/v1/node/{}", encode_segment(&stub.id))).get()?;
            self.current = Some((i, stub));
            return Ok(Next::Send(req));
        }
        Ok(Next::Done(Ok(std::mem::take(&mut self.nodes))))
    }
}

/// `get_nodes`: every client node, with its resources. A node is `ready` when its status is
/// `ready`, it is eligible for scheduling and not draining; `drivers` lists the detected,
/// healthy ones. Reads `GET /v1/nodes`, then `GET /v1/node/{id}` for each node whose stub has
/// no resources (every node, on Nomad 1.1).
///
/// ```
/// use clustermanager_core::{nomad, Operation, Step};
/// let mut op = nomad::node::list(&nomad::Context::default());
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(req.uri(), "/v1/nodes");
/// ```
pub fn list(ctx: &Context) -> impl Operation<Output = Vec<Node>, Item = Infallible> + Send + 'static {
    let machine = ListNodes {
        ctx: ctx.clone(),
        todo: Vec::new(),
        current: None,
        list: bytes::Bytes::new(),
        nodes: Vec::new(),
        listed: false,
    };
    Flow::new(machine, &ctx.retry)
}
