//! One `tracing` span per request: every request the driver (and a shared observation) sends
//! runs inside a `request` span at DEBUG with its method, its path (never the query, which may
//! carry a token a caller put there, and never a header), which attempt it is (from the step's
//! [`Io`]: 1, then 2, ... for the retries of one request), and, once answered, its status
//! and how long it took by the transport's clock. The operations of
//! [`ClusterManager`](crate::ClusterManager) each run in a span of their own, named after the
//! method, with the namespace and object they act on; the request spans are its children.
//!
//! Nothing here is printed unless the program installs a subscriber, e.g.
//! `tracing_subscriber::fmt().with_env_filter("clustermanager=debug")` (the quickstart does,
//! from `RUST_LOG`).

use std::time::Instant;

use tracing::field::Empty;
use tracing::Instrument;

use crate::deadline::Io;
use crate::error::Result;
use crate::step::{Request, Response};
use crate::transport::{Opened, Transport};

fn span(request: &Request, attempt: u32, kind: &'static str) -> tracing::Span {
    tracing::debug_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        kind,
        attempt,
        status = Empty,
        ms = Empty,
    )
}

fn record<X>(span: &tracing::Span, began: Instant, now: Instant, result: &Result<X>, status: Option<u16>) {
    let ms = now.saturating_duration_since(began).as_secs_f64() * 1000.0;
    span.record("ms", ms);
    match (result, status) {
        (Ok(_), Some(status)) => {
            span.record("status", status);
            tracing::debug!(parent: span, status, ms, "answered");
        }
        (Ok(_), None) => {}
        (Err(err), _) => tracing::debug!(parent: span, error = %err, ms, "failed"),
    }
}

/// `transport.send(request)` inside its request span.
pub(crate) async fn send<T: Transport + ?Sized>(transport: &T, request: Request, io: Io) -> Result<Response> {
    let span = span(&request, io.attempt, "send");
    if span.is_disabled() {
        // no subscriber wants it: no clock reads, no records
        return transport.send(request, io).await;
    }
    let began = transport.now();
    let result = transport.send(request, io).instrument(span.clone()).await;
    let status = result.as_ref().ok().map(|r| r.status().as_u16());
    record(&span, began, transport.now(), &result, status);
    result
}

/// `transport.open(request)` inside its request span (the status is the head's; the body
/// streams on after the span closed).
pub(crate) async fn open<T: Transport + ?Sized>(transport: &T, request: Request, io: Io) -> Result<Opened<T::Body>> {
    let span = span(&request, io.attempt, "open");
    if span.is_disabled() {
        return transport.open(request, io).await;
    }
    let began = transport.now();
    let result = transport.open(request, io).instrument(span.clone()).await;
    let status = match &result {
        Ok(Opened::Stream(parts, _)) => Some(parts.status.as_u16()),
        Ok(Opened::Complete(r)) => Some(r.status().as_u16()),
        Err(_) => None,
    };
    record(&span, began, transport.now(), &result, status);
    result
}
