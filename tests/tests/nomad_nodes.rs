//! Nomad nodes against recordings of Nomad 1.1.2: the node list (04, 07) and, for resources,
//! the full node object (05) read for each node.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use clustermanager_core::nomad::{self, Context};
use clustermanager_core::quantity::{Cpu, Memory};
use clustermanager_tests::{Replay, Scenario};

/// 04's node list, then 05's read of that node.
fn list_then_detail(list: &str) -> Scenario {
    let mut s = Scenario::load(list);
    s.exchanges.push(Scenario::load("nomad/05-node-detail.json").exchange(0).clone());
    s
}

#[test]
fn node_list_gives_the_ready_dev_node_and_its_healthy_drivers() {
    let s = list_then_detail("nomad/04-nodes-list.json");
    let detail = s.exchanges.len() - 1;
    let nodes = Replay::new(&s).exchanges([0, detail]).run(nomad::node::list(&Context::default())).unwrap();
    assert_eq!(nodes.len(), 1);
    let n = &nodes[0];
    assert_eq!(n.id, "1a7c7f34-fbe7-dc91-2b6f-52de5ee26b58");
    assert_eq!(n.name, "node-1");
    assert_eq!(n.status, "ready");
    assert!(n.ready);
    assert_eq!(n.datacenter.as_deref(), Some("dc1"));
    assert_eq!(n.eligibility.as_deref(), Some("eligible"));
    // docker ("Failed to connect to docker daemon") and qemu are not detected
    assert_eq!(n.drivers, ["exec", "java", "mock_driver", "raw_exec"]);
    // stubs carry no resources in 1.1: they come from the node read (5192 MHz over 2 cores)
    assert_eq!((n.cpu_capacity, n.memory_capacity), (Some(Cpu(2000)), Some(Memory(24105 << 20))));
    // the stub alone has none
    let stubs = nomad::node::parse_nodes(s.exchange(0).response.body.as_bytes()).unwrap();
    assert_eq!((stubs[0].cpu_capacity, stubs[0].memory_capacity), (None, None));
}

#[test]
fn a_node_gone_before_its_read_keeps_its_stub() {
    let mut s = list_then_detail("nomad/04-nodes-list.json");
    let nf = Scenario::load("nomad/11-not-found.json");
    let last = s.exchanges.len() - 1;
    s.exchanges[last].response = nf.exchange(5).response.clone();
    let nodes = Replay::new(&s).exchanges([0, last]).run(nomad::node::list(&Context::default())).unwrap();
    assert_eq!((nodes[0].name.as_str(), nodes[0].cpu_capacity), ("node-1", None));
}

#[test]
fn node_list_of_07_is_the_same_node() {
    let s = list_then_detail("nomad/07-datacenter-discovery.json");
    let nodes = Replay::new(&s).exchanges([1, 2]).run(nomad::node::list(&Context::default())).unwrap();
    assert_eq!(nodes[0].name, "node-1");
}

#[test]
fn resources_are_read_when_the_object_has_them() {
    let s = Scenario::load("nomad/05-node-detail.json");
    let body = format!("[{}]", s.exchange(0).response.body);
    let nodes = nomad::node::parse_nodes(body.as_bytes()).unwrap();
    let n = &nodes[0];
    // 5192 MHz over 2 cores, 24105 MB, nothing reserved
    assert_eq!(n.cpu_capacity, Some(Cpu(2000)));
    assert_eq!(n.cpu_allocatable, Some(Cpu(2000)));
    assert_eq!(n.memory_capacity, Some(Memory(24105 << 20)));
    assert_eq!(n.memory_allocatable, n.memory_capacity);
}
