//! HashiCorp Nomad: request builders, response parsers, state machines and stream decoders for
//! every operation, one module per kind of object. Nothing here does I/O.

use serde::de::DeserializeOwned;

use crate::error::{from_nomad_response, Error, Result};
use crate::retry::Retry;
use crate::step::Response;

pub mod api;
mod blocking;
pub mod connect;
pub mod events;
pub mod execution;
pub mod frames;
pub mod job;
pub mod jobspec;
pub mod logs;
pub mod namespace;
pub mod node;
pub mod query;
pub mod reason;
pub mod scale;
pub mod service;
pub(crate) mod shared;
pub mod status;
pub mod wait;

/// How seed namespaces map onto Nomad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NamespaceMode {
    /// Real Nomad namespaces (`/v1/namespace`, `?namespace=`; Nomad ≥ 1.0).
    #[default]
    Native,
    /// The seed's scheme for servers without namespaces: job IDs are prefixed `{namespace}-`.
    Prefix,
}

/// What every Nomad operation needs to know besides its arguments; [`connect`] fills in the
/// datacenters and region from the agent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Context {
    /// Retry policy and jitter seed.
    pub retry: Retry,
    /// Region sent as `?region=`: only when the caller chose one (`NOMAD_REGION`), so requests
    /// otherwise go to the agent's own region, as Nomad's CLI does.
    pub region: Option<String>,
    /// The agent's own region, learned by [`connect`](connect::connect) (informational).
    pub agent_region: Option<String>,
    /// Default namespace (when a caller passes an empty one).
    pub namespace: Option<String>,
    /// Datacenters new jobs may run in (learned from the agent).
    pub datacenters: Vec<String>,
    /// How namespaces are mapped.
    pub namespace_mode: NamespaceMode,
}

/// Pass a 2xx response through, turn any other status into an [`Error`].
pub fn check(resp: Response) -> Result<Response> {
    if resp.status().is_success() {
        Ok(resp)
    } else {
        Err(from_nomad_response(resp.status().as_u16(), resp.headers(), resp.body()))
    }
}

/// Decode a JSON body, with a [`Error::Decode`] that quotes the start of the body.
pub fn decode<T: DeserializeOwned>(what: &str, body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| Error::decode(what, e, body))
}
