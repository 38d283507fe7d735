//! Nomad: connect — read `/v1/agent/self` to check the agent answers and learn its region and
//! datacenter, then `/v1/nodes` to learn the datacenters of the client nodes (new jobs may run
//! in any of them).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Instant;

use serde::Deserialize;

use super::query::Query;
use super::{check, Context};
use crate::error::{Error, Result};
use crate::op::{answer, Flow, Machine, Next};
use crate::step::{Operation, Response};

const HINT: &str = "is NOMAD_ADDR right, and is a Nomad agent listening there?";

#[derive(Deserialize)]
struct AgentSelf {
    #[serde(default)]
    config: Option<AgentConfig>,
    #[serde(default)]
    member: Option<Member>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AgentConfig {
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    datacenter: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Member {
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NodeDc {
    #[serde(default)]
    datacenter: String,
}

/// What `/v1/agent/self` says about where the agent runs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AgentInfo {
    /// `config.Region`, else `member.Tags.region`.
    pub region: Option<String>,
    /// `config.Datacenter`, else `member.Tags.dc`.
    pub datacenter: Option<String>,
}

/// Parse the body of `/v1/agent/self`. A body that is not an agent's self description is a
/// [`Error::Config`] pointing at `NOMAD_ADDR`.
///
/// ```
/// use clustermanager_core::nomad::connect::parse_agent_self;
/// let info = parse_agent_self(br#"{"config":{"Region":"global","Datacenter":"dc1"},"member":{"Tags":{}}}"#).unwrap();
/// assert_eq!(info.datacenter.as_deref(), Some("dc1"));
/// assert!(parse_agent_self(b"<html>hello</html>").is_err());
/// ```
pub fn parse_agent_self(body: &[u8]) -> Result<AgentInfo> {
    let not_agent = |why: String| {
        Error::config(
            "NOMAD_ADDR",
            format!(
                "/v1/agent/self did not answer like a Nomad agent ({why}; body starts {:?}); {HINT}",
                crate::error::excerpt(body)
            ),
        )
    };
    let parsed: AgentSelf = serde_json::from_slice(body).map_err(|e| not_agent(e.to_string()))?;
    if parsed.config.is_none() && parsed.member.is_none() {
        return Err(not_agent("no `config` nor `member`".into()));
    }
    let (cfg_region, cfg_dc) = parsed.config.map(|c| (c.region, c.datacenter)).unwrap_or_default();
    let mut tags = parsed.member.map(|m| m.tags).unwrap_or_default();
    let nonempty = |s: Option<String>| s.filter(|s| !s.is_empty());
    Ok(AgentInfo {
        region: nonempty(cfg_region).or_else(|| nonempty(tags.remove("region"))),
        datacenter: nonempty(cfg_dc).or_else(|| nonempty(tags.remove("dc"))),
    })
}

enum State {
    Start,
    AgentSelf,
    Nodes,
}

struct Connect {
    ctx: Option<Context>,
    state: State,
}

impl Connect {
    fn ctx(&mut self) -> Result<Context> {
        self.ctx.take().ok_or_else(|| Error::protocol("connect finished twice"))
    }

    fn on_agent_self(&mut self, resp: Result<Response>) -> Result<Next<Context>> {
        let resp = resp.map_err(|e| match e {
            Error::Transport { kind, message } => {
                Error::Transport { kind, message: format!("could not reach the Nomad agent: {message}; {HINT}") }
            }
            other => other,
        })?;
        if resp.status() == http::StatusCode::NOT_FOUND {
            return Err(Error::config(
                "NOMAD_ADDR",
                format!("the server answered 404 to /v1/agent/self: it is not a Nomad agent; {HINT}"),
            ));
        }
        let resp = check(resp)?;
        let info = parse_agent_self(resp.body())?;
        let ctx = self.ctx.as_mut().ok_or_else(|| Error::protocol("connect finished twice"))?;
        // Ask the agent about its nodes in the region the caller chose, if any (the agent's own
        // region otherwise, without naming it).
        let nodes = Query::new(ctx, "/v1/nodes").get()?;
        ctx.agent_region = info.region;
        if let Some(dc) = info.datacenter {
            if !ctx.datacenters.contains(&dc) {
                ctx.datacenters.insert(0, dc);
            }
        }
        self.state = State::Nodes;
        Ok(Next::Send(nodes))
    }

    fn on_nodes(&mut self, resp: Result<Response>) -> Result<Context> {
        let mut ctx = self.ctx()?;
        // The node list is a refinement: without node:read (ACL) keep the agent's datacenter.
        let nodes = match resp.and_then(check) {
            Ok(resp) => serde_json::from_slice::<Vec<NodeDc>>(resp.body()).unwrap_or_default(),
            Err(err) => {
                tracing::debug!(%err, "could not list nodes; using the agent's datacenter only");
                Vec::new()
            }
        };
        let mut extra: Vec<String> =
            nodes.into_iter().map(|n| n.datacenter).filter(|d| !d.is_empty() && !ctx.datacenters.contains(d)).collect();
        extra.sort();
        extra.dedup();
        ctx.datacenters.extend(extra);
        Ok(ctx)
    }
}

impl Machine for Connect {
    type Output = Context;
    fn step(&mut self, _now: Instant, ans: Option<Result<Response>>) -> Result<Next<Context>> {
        match self.state {
            State::Start => {
                self.state = State::AgentSelf;
                match self.ctx.as_ref() {
                    Some(ctx) => Query::new(ctx, "/v1/agent/self").get().map(Next::Send),
                    None => Err(Error::protocol("connect finished twice")),
                }
            }
            State::AgentSelf => self.on_agent_self(answer(ans)),
            State::Nodes => self.on_nodes(answer(ans)).map(|c| Next::Done(Ok(c))),
        }
    }
}

/// Connect: check the agent answers (`GET /v1/agent/self`), learn its region (kept if the
/// context already names one) and datacenter, then add the datacenters of the client nodes
/// (`GET /v1/nodes`; skipped quietly when the token may not read nodes). Fails with a hint
/// about `NOMAD_ADDR` when nothing answers or what answers is not a Nomad agent.
///
/// ```no_run
/// # async fn demo(transport: impl clustermanager_core::Transport) -> clustermanager_core::Result<()> {
/// use clustermanager_core::{nomad, OperationDriver};
/// let ctx = OperationDriver::new(&transport, nomad::connect::connect(nomad::Context::default())).finish().await?;
/// println!("jobs will run in {:?}", ctx.datacenters);
/// # Ok(()) }
/// ```
pub fn connect(ctx: Context) -> impl Operation<Output = Context, Item = Infallible> + Send + 'static {
    let retry = ctx.retry.clone();
    Flow::new(Connect { ctx: Some(ctx), state: State::Start }, &retry)
}
