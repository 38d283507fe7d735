//! Connecting to Nomad against recordings of Nomad 1.1.2: agent self (01, 07), node datacenters
//! (07), an ACL agent refusing an anonymous caller (23), and things that are not Nomad agents.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::{Duration, Instant};

use bytes::Bytes;
use clustermanager_core::error::TransportErrorKind;
use clustermanager_core::nomad::{self, connect::parse_agent_self, Context};
use clustermanager_core::{Error, Event, Operation, Step};
use clustermanager_tests::{Replay, Scenario};

#[test]
fn agent_self_gives_region_and_datacenter() {
    let s = Scenario::load("nomad/01-agent-self.json");
    let info = parse_agent_self(s.exchange(0).response.body.as_bytes()).unwrap();
    assert_eq!(info.region.as_deref(), Some("global"));
    assert_eq!(info.datacenter.as_deref(), Some("dc1"));
}

#[test]
fn connect_learns_region_and_datacenters() {
    let s = Scenario::load("nomad/07-datacenter-discovery.json");
    let ctx = Replay::new(&s).exchanges([0, 1]).run(nomad::connect::connect(Context::default())).unwrap();
    assert_eq!(ctx.agent_region.as_deref(), Some("global"));
    // The learned region is not sent: requests go to the agent's own region, as recorded.
    assert_eq!(ctx.region, None);
    assert_eq!(ctx.datacenters, ["dc1"]);
}

/// Drive `op` by hand, answering each request with what `answer` says.
#[allow(clippy::result_large_err)] // the crate's one Error type, as the ops return it
fn drive<O: Operation>(mut op: O, mut answer: impl FnMut(&http::Request<Bytes>) -> Event) -> Result<O::Output, Error> {
    let start = Instant::now();
    let mut elapsed = Duration::ZERO;
    loop {
        match op.poll(start + elapsed) {
            Step::Send(req, _) => {
                let ev = answer(&req);
                op.handle(ev);
            }
            Step::WaitUntil(at) => elapsed += at.saturating_duration_since(start + elapsed),
            Step::Done(result) => return result,
            _ => panic!("unexpected step"),
        }
    }
}

#[test]
fn a_region_the_user_set_is_kept() {
    let s = Scenario::load("nomad/07-datacenter-discovery.json");
    let ctx = Context { region: Some("eu".into()), ..Context::default() };
    let mut i = 0;
    let ctx = drive(nomad::connect::connect(ctx), |req| {
        assert!(req.uri().query().unwrap_or("").contains("region=eu"), "{}", req.uri());
        i += 1;
        Event::Response(s.exchange(i - 1).response.to_http())
    })
    .unwrap();
    assert_eq!(ctx.region.as_deref(), Some("eu"));
    assert_eq!(ctx.datacenters, ["dc1"]);
}

#[test]
fn an_acl_agent_refuses_anonymous_callers() {
    let s = Scenario::load("nomad/23-acl.json");
    let res = Replay::new(&s).exchanges([1]).run(nomad::connect::connect(Context::default()));
    assert!(matches!(res, Err(Error::Forbidden(ref a)) if a.message == "Permission denied"), "{res:?}");
}

#[test]
fn a_server_that_is_not_nomad_is_a_config_error() {
    // An unknown path on a Nomad agent answers 404 with an empty body (11, exchange 7): so does
    // any HTTP server that is not a Nomad agent when asked for /v1/agent/self.
    let not_found = Scenario::load("nomad/11-not-found.json").exchange(7).response.to_http();
    let mut once = Some(not_found);
    let res = drive(nomad::connect::connect(Context::default()), |_| Event::Response(once.take().unwrap()));
    assert!(
        matches!(res, Err(Error::Config { ref key, ref problem }) if key == "NOMAD_ADDR" && problem.contains("is NOMAD_ADDR right")),
        "{res:?}"
    );

    // JSON that is not an agent (the regions list of 06).
    let regions = Scenario::load("nomad/06-regions.json").exchange(0).response.to_http();
    let mut once = Some(regions);
    let res = drive(nomad::connect::connect(Context::default()), |_| Event::Response(once.take().unwrap()));
    assert!(matches!(res, Err(Error::Config { ref key, .. }) if key == "NOMAD_ADDR"), "{res:?}");
}

#[test]
fn an_agent_that_does_not_answer_says_where_to_look() {
    let res = drive(nomad::connect::connect(Context::default()), |_| {
        Event::Failed(Error::transport(TransportErrorKind::Connect, "connection refused"))
    });
    match res {
        Err(Error::Transport { message, .. }) => assert!(message.contains("is NOMAD_ADDR right"), "{message}"),
        other => panic!("expected a transport error, got {other:?}"),
    }
}

#[test]
fn without_node_read_the_agents_datacenter_is_enough() {
    let s = Scenario::load("nomad/07-datacenter-discovery.json");
    let denied = Scenario::load("nomad/23-acl.json").exchange(16).response.to_http(); // 403
    let mut answers = vec![s.exchange(0).response.to_http(), denied].into_iter();
    let ctx = drive(nomad::connect::connect(Context::default()), |_| Event::Response(answers.next().unwrap())).unwrap();
    assert_eq!(ctx.datacenters, ["dc1"]);
}
