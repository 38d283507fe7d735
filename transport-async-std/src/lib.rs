//! # clustermanager-async-std
//!
//! Runs [`clustermanager_core`] inside async-std and smol programs, without tokio:
//! [`AsyncStdTransport`] implements [`Transport`] with hyper 1's HTTP/1.1 client over async-net
//! sockets and futures-rustls (rustls with ring), async-io timers, blocking's thread pool for
//! token files and async-process for exec plugins. [`connect`] gives a ready [`ClusterManager`].
//!
//! ```no_run
//! # fn main() -> clustermanager_async_std::Result<()> {
//! use clustermanager_async_std::{connect, Config};
//!
//! // Any executor works: async_std::task::block_on, smol::block_on, futures_lite::future::block_on...
//! futures_lite::future::block_on(async {
//!     let config = Config::nomad("http://127.0.0.1:4646")?;
//!     let cm = connect(&config).await?;
//!     println!("{:?}", cm.orchestrator());
//!     Ok(())
//! })
//! # }
//! ```
//!
//! It behaves like `clustermanager-tokio` (same configuration, credentials, timeouts and error
//! kinds). What differs is how connections live: this crate spawns no task, so a connection is
//! driven by the request or body that uses it (see the `pool` module), and finished keep-alive
//! connections wait, unpolled, in a small pool (16 idle at most, each kept 90 s) for reuse.
//!
//! [`Config::max_connections`] bounds both the requests and open streams in flight
//! ([`AsyncStdTransport::budget`]) and the TCP connections open at once, idle pooled ones
//! included ([`AsyncStdTransport::connections`]): a new connection beyond it first closes an idle
//! one.
//!
//! Dropping any future or body of this crate leaves nothing behind: the connection of an
//! unfinished request or body is closed, and an exec plugin still running is killed.
//!
//! ## Optional: over a `surf::Client` (feature `surf`)
//!
//! With the `surf` cargo feature (off by default), `SurfTransport` implements [`Transport`] over
//! a `surf::Client` the caller supplies, for programs that already use surf. surf is unmaintained
//! and its TLS backends are outdated, so this crate enables only surf's plain-HTTP h1 client: the
//! adapter is for plain-HTTP servers (a Nomad dev agent on loopback, say), or for TLS the caller
//! configured in the surf client themselves. Everything else is as with [`AsyncStdTransport`]:
//! the same [`Config`] (server, credentials, timeouts, connection budget), the same error kinds,
//! and credentials over plain `http://` are treated exactly as the main transport treats them.
//! Prefer [`AsyncStdTransport`] unless you need surf.
//!
//! [`Transport`]: clustermanager_core::Transport

// Where other crates' docs link to this one when built alone (`cargo doc --no-deps`):
// without it their links to our items render as plain text.
#![doc(html_root_url = "https://docs.rs/clustermanager-async-std/0.1.0")]
// docs.rs builds with every feature and marks the feature-gated items.
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::sync::Arc;

use clustermanager_core::{Request, Response};
use http::response::Parts;
use http::Uri;
use http_body_util::BodyExt;
use hyper::body::Incoming;

pub use clustermanager_core as core;
// What a caller names: the same from every transport crate.
pub use clustermanager_transport_common::names::*;
/// The `http` crate core builds requests with (for `api::request` and the escape hatch).
pub use http;

mod auth;
mod io;
mod pool;
#[cfg(feature = "surf")]
mod surf;

#[cfg(feature = "surf")]
#[cfg_attr(docsrs, doc(cfg(feature = "surf")))]
pub use self::surf::{SurfBody, SurfClient, SurfTransport, DEFAULT_SURF_MAX_RESPONSE_BYTES};

pub use auth::AsyncStdRuntime;
use clustermanager_transport_common::body::read_whole;
use clustermanager_transport_common::connect::Target;
use clustermanager_transport_common::hyper_rustls::{body_error, request_error, truncated_by_close};
pub use clustermanager_transport_common::run::HttpTransport;
use clustermanager_transport_common::run::{self, Frames, Streamed};
use clustermanager_transport_common::settings::Settings;

use pool::{Conn, Http1, Pool};

// connect, connect_typed and connect_infer: every transport crate's three, over its transport.
clustermanager_transport_common::connect_functions!(clustermanager_async_std, AsyncStdTransport);

/// A [`Transport`](clustermanager_core::Transport) for async-std and smol: hyper 1 (HTTP/1.1
/// only — it offers no HTTP/2, unlike the tokio transport — keep-alive connections reused from
/// a small pool) over async-net and futures-rustls, timers from async-io. The request flow, its
/// time limits and the builders are every transport's ([`HttpTransport`]); what is this
/// crate's is the [`AsyncStdClient`].
///
/// Cheap to clone: clones share the connection pool and the credential caches. Needs no
/// runtime to build.
///
/// ```
/// let config = clustermanager_async_std::Config::nomad("http://127.0.0.1:4646")?;
/// let transport = clustermanager_async_std::AsyncStdTransport::new(&config)?;
/// # let _ = transport;
/// # Ok::<(), clustermanager_async_std::Error>(())
/// ```
pub type AsyncStdTransport = HttpTransport<AsyncStdClient>;

/// The open body of a streamed response, holding its connection. A body read to its end gives
/// the connection back to the pool; dropping an unfinished one closes it.
pub type AsyncStdBody = Streamed<ConnFrames, AsyncStdRuntime>;

/// What is this crate's in [`AsyncStdTransport`]: HTTP/1.1 connections, driven by the requests
/// and bodies that use them (no task is spawned), and a small pool of idle ones, within the
/// connection budget (see [`AsyncStdTransport::connections`]).
pub struct AsyncStdClient {
    pool: Arc<Pool>,
}

impl run::Client for AsyncStdClient {
    type Runtime = AsyncStdRuntime;
    type Unread = (Incoming, Conn);
    type Frames = ConnFrames;
    const NAME: &'static str = "AsyncStdTransport";

    fn build(settings: &Settings<AsyncStdRuntime>) -> Result<Self> {
        let config = settings.config();
        let connections = Budget::new(config.max_connections);
        let pool = Pool::new(config.connect_timeout, Arc::clone(settings.tls()), connections);
        Ok(AsyncStdClient { pool: Arc::new(pool) })
    }

    fn connections<'a>(&'a self, _: &'a Settings<AsyncStdRuntime>) -> &'a Budget {
        self.pool.idle.connections()
    }

    /// Send a ready request and return its head, with the connection its body must be read
    /// through. A request that a reused keep-alive connection could not even start (the server
    /// had closed it) is sent again once on a fresh connection; one that was sent is never
    /// resent here.
    async fn dispatch(&self, settings: &Settings<AsyncStdRuntime>, request: Request) -> Result<(Parts, Self::Unread)> {
        let (target, request) = origin_form(request)?;
        let mut request = request.map(http_body_util::Full::new);
        let (pool, host) = (&self.pool, settings.host());
        let mut conn = pool.get(&target).await?;
        loop {
            let reused = conn.reused;
            let Http1 { sender, driver } = &mut *conn;
            let unsent = match driver.run(sender.ready()).await {
                Ok(Ok(())) => match driver.run(sender.try_send_request(request)).await {
                    Ok(Ok(response)) => {
                        let (parts, body) = response.into_parts();
                        return Ok((parts, (body, conn)));
                    }
                    Ok(Err(mut failed)) => match failed.take_message() {
                        Some(unsent) if reused => unsent,
                        _ => return Err(request_error(driver.take_error().as_ref().unwrap_or(failed.error()), host)),
                    },
                    Err(ended) => return Err(ended.request_error(host)),
                },
                _ if reused => request,
                Ok(Err(e)) => return Err(request_error(&driver.take_error().unwrap_or(e), host)),
                Err(ended) => return Err(ended.request_error(host)),
            };
            // the server had closed the reused connection: once more on a fresh one, this one closed
            // before its replacement opens (it holds a unit of the budget)
            request = unsent;
            drop(conn);
            conn = Box::pin(pool.connect(&target)).await?;
        }
    }

    /// Read a whole response body (Content-Length or chunked) into memory, then keep the
    /// connection for reuse.
    async fn read_whole(&self, parts: Parts, (body, mut conn): Self::Unread, max: usize) -> Result<Response> {
        let read = read_whole(parts, body, max, "AsyncStdTransport::with_max_response_bytes");
        let response = match conn.driver.run(read).await {
            Ok(read) => read.map_err(|e| conn.driver.take_error().map_or(e, |cause| body_error(&cause)))?,
            Err(ended) => return Err(ended.body_error()),
        };
        self.pool.idle.put(conn);
        Ok(response)
    }

    fn stream(&self, (body, conn): Self::Unread) -> ConnFrames {
        ConnFrames { body, conn: Some(conn), pool: Arc::clone(&self.pool) }
    }
}

/// The absolute target of a ready request (for the connection) and the request in origin form
/// with a `Host` header.
fn origin_form(mut request: Request) -> Result<(Uri, Request)> {
    let target = request.uri().clone();
    let host = Target::of(&target)?.host_header()?;
    request.headers_mut().entry(http::header::HOST).or_insert(host);
    let origin = target.path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
    *request.uri_mut() = origin.parse().map_err(|_| Error::protocol(format!("unusable request path {origin:?}")))?;
    Ok((target, request))
}

/// The frames of a body, read through (and driving) its connection: the body of an
/// [`AsyncStdBody`].
pub struct ConnFrames {
    body: Incoming,
    conn: Option<Conn>,
    pool: Arc<Pool>,
}

impl Frames for ConnFrames {
    // Every future here only polls (hyper's body channel, the connection): stopping at a
    // timeout loses nothing, the next call carries on.
    async fn frame(&mut self) -> Option<Result<hyper::body::Frame<bytes::Bytes>>> {
        let Some(conn) = self.conn.as_mut() else { return Some(Err(truncated_by_close())) };
        match conn.driver.run(self.body.frame()).await {
            Ok(frame) => frame.map(|f| f.map_err(|e| body_error(&conn.driver.take_error().unwrap_or(e)))),
            Err(ended) => Some(Err(ended.body_error())),
        }
    }

    fn finished(&mut self, clean: bool) {
        match self.conn.take() {
            Some(conn) if clean => self.pool.idle.put(conn),
            _ => {}
        }
    }
}
