//! Kubernetes: request builders, response parsers, state machines and stream decoders for every
//! operation, one module per kind of object. Nothing here does I/O.

use serde::de::DeserializeOwned;

use crate::error::{from_k8s_response, Error, Result};
use crate::retry::Retry;
use crate::step::Response;

pub mod api;
pub mod configmap;
pub mod execution;
pub mod gone;
pub mod job;
pub mod log;
pub mod name;
pub mod namespace;
pub mod node;
pub mod object;
pub mod pod_template;
pub mod quota;
pub mod reason;
pub mod scale;
pub mod service;
pub(crate) mod shared;
pub mod tfjob;
pub(crate) mod wait;
pub mod watch;
mod watch_target;
pub mod watcher;
pub mod watchlist;
pub mod workload;

/// What every Kubernetes operation needs to know besides its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// Retry policy and jitter seed.
    pub retry: Retry,
    /// Namespace used when a caller passes none (kubeconfig context, service account).
    pub default_namespace: String,
    /// `fieldManager` for server-side apply and writes.
    pub field_manager: String,
    /// Whether the server offers watch-list, once a shared observation has asked: kept for
    /// every clone of this context (of its manager), so a server that refuses is asked once.
    /// [`WatchListSupport::disabled`](watchlist::WatchListSupport::disabled) never asks.
    pub watch_list: watchlist::WatchListSupport,
}

impl Default for Context {
    fn default() -> Self {
        Context {
            retry: Retry::default(),
            default_namespace: "default".into(),
            field_manager: "clustermanager".into(),
            watch_list: watchlist::WatchListSupport::default(),
        }
    }
}

/// Pass a 2xx response through (surfacing any `Warning` headers through `tracing`), turn any
/// other status into an [`Error`].
pub fn check(resp: Response) -> Result<Response> {
    warn(resp.headers());
    if resp.status().is_success() {
        Ok(resp)
    } else {
        Err(from_k8s_response(resp.status().as_u16(), resp.headers(), resp.body()))
    }
}

/// Surface the `Warning` headers of an answer (`299 - "batch/v1beta1 CronJob is deprecated..."`)
/// through `tracing`; they never fail anything. [`check`] does this for whole answers; streams
/// call it on their head.
pub fn warn(headers: &http::HeaderMap) {
    for warning in headers.get_all(http::header::WARNING) {
        tracing::warn!(warning = %String::from_utf8_lossy(warning.as_bytes()), "Kubernetes API warning");
    }
}

/// Decode a JSON body, with a [`Error::Decode`] that quotes the start of the body.
pub fn decode<T: DeserializeOwned>(what: &str, body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| Error::decode(what, e, body))
}
