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

// Where other crates' docs link to this one when built alone (`cargo doc --no-deps`):
// without it their links to our items render as plain text.
#![doc(html_root_url = "https://docs.rs/clustermanager-async-std/0.1.0")]
// docs.rs builds with every feature and marks the feature-gated items.
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clustermanager_core::error::TransportErrorKind;
use clustermanager_core::transport::{Chunk, Opened};
use clustermanager_core::{BodyStream, Request, Response, Transport};
use http::Uri;
use http_body_util::{BodyExt, Full};

pub use clustermanager_core as core;
pub use clustermanager_core::config::{Auth, Identity, TlsConfig};
pub use clustermanager_core::{Config, Error, Result, ResultExt, Secret};
// What a caller names: the model (JobSpec, Job, Status, LogOptions, ...), the wait options and
// reasons, the erased transport and the escape hatch's handles and modules.
pub use clustermanager_core::{futures_core, OwnedStream};
pub use clustermanager_core::{k8s, nomad};
pub use clustermanager_core::{Api, KubernetesHandle, NomadHandle};
pub use clustermanager_core::{
    Condition, ConfigMap, Constraint, DeleteOptions, Driver, EnvFrom, EnvVar, Execution, Job, JobSpec, LogLine,
    LogOptions, Namespace, Node, Orchestrator, PodManagement, Port, Probe, ProbeCheck, PullPolicy, Scale, Service,
    ServiceDef, ServicePort, ServiceSpec, StatefulOptions, Status, TaskState, TaskTemplate, Volume, VolumeMount,
    VolumeSource, Workload, WorkloadKind,
};
pub use clustermanager_core::{Diagnosis, DynTransport, Progress, Reason, ReasonKind, RetryPolicy, WaitOptions};
/// The `http` crate core builds requests with (for `api::request` and the escape hatch).
pub use http;

mod auth;
mod io;
mod pool;
#[cfg(feature = "surf")]
mod surf;

#[cfg(feature = "surf")]
#[cfg_attr(docsrs, doc(cfg(feature = "surf")))]
pub use self::surf::{SurfBody, SurfTransport, DEFAULT_SURF_MAX_RESPONSE_BYTES};

pub use clustermanager_transport_common::auth::DEFAULT_TOKEN_FILE_REFRESH;
use clustermanager_transport_common::random_seed;
use clustermanager_transport_common::settings::Settings;
use clustermanager_transport_common::tls::ClientTls;
pub use clustermanager_transport_common::{env, StdEnvironment};

use auth::AsyncIo;
use clustermanager_core::deadline::Io;
pub use clustermanager_transport_common::budget::{Budget, Permit};
use clustermanager_transport_common::hyper_rustls::{body_error, request_error};
use futures_lite::future;
use pool::{expire, Conn, Ended, Pool};

/// The seed's API over async-std / smol: the manager over [`AsyncStdTransport`]. `.erase()`
/// turns it into [`clustermanager_core::ClusterManager`], the one type that managers of every
/// transport erase to.
pub type ClusterManager = clustermanager_core::ClusterManager<AsyncStdTransport>;

/// Connect to the cluster `config` describes: build an [`AsyncStdTransport`] and run the
/// orchestrator's connect step (for Nomad, reading `/v1/agent/self`). Retry jitter is seeded from
/// the process's randomness.
///
/// ```no_run
/// # async fn demo() -> clustermanager_async_std::Result<()> {
/// let config = clustermanager_async_std::Config::kubernetes("https://127.0.0.1:6443")?;
/// let cm = clustermanager_async_std::connect(&config).await?;
/// # let _ = cm; Ok(()) }
/// ```
pub async fn connect(config: &Config) -> Result<ClusterManager> {
    let transport = AsyncStdTransport::new(config)?;
    clustermanager_core::ClusterManager::connect(transport, config, random_seed()).await
}

/// Find the cluster as kubectl and the Nomad CLI do and connect to it, in one call:
/// [`Config::infer`] from the process environment ([`StdEnvironment`]: `KUBECONFIG` or
/// `~/.kube/config`, the in-cluster service account, `NOMAD_ADDR` and the other `NOMAD_*`
/// variables), then [`connect`]. When nothing is found the error lists what was tried and why
/// each did not apply; a source that is present but broken fails with its own error.
///
/// The manager is over this crate's transport; `.erase()` gives the one
/// [`clustermanager_core::ClusterManager`] type that any transport's manager erases to.
///
/// ```no_run
/// # async fn demo() -> clustermanager_async_std::Result<()> {
/// let cm = clustermanager_async_std::connect_infer().await?;
/// println!("{:?}", cm.orchestrator());
/// # Ok(()) }
/// ```
pub async fn connect_infer() -> Result<ClusterManager> {
    let config = Config::infer(&StdEnvironment)?;
    connect(&config).await
}

/// A [`Transport`] for async-std and smol: hyper 1 (HTTP/1.1 only — it offers no HTTP/2, unlike the
/// tokio transport — keep-alive connections reused from
/// a small pool) over async-net and futures-rustls, timers from async-io.
///
/// Cheap to clone: clones share the connection pool and the credential caches.
#[derive(Clone)]
pub struct AsyncStdTransport {
    /// The configuration, TLS settings, credential caches and the budget of requests and streams.
    settings: Settings<AsyncIo>,
    pool: Arc<Pool>,
}

impl std::fmt::Debug for AsyncStdTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncStdTransport").field("config", self.config()).finish_non_exhaustive()
    }
}

impl AsyncStdTransport {
    /// A transport for the server `config` describes. Checks the TLS settings (CA, client
    /// certificate and key) now, so a bad one fails here with a [`Error::Config`] naming it.
    /// Connections are made lazily, on the first request. Needs no runtime to build.
    ///
    /// ```
    /// let config = clustermanager_async_std::Config::nomad("http://127.0.0.1:4646")?;
    /// let transport = clustermanager_async_std::AsyncStdTransport::new(&config)?;
    /// # let _ = transport;
    /// # Ok::<(), clustermanager_async_std::Error>(())
    /// ```
    pub fn new(config: &Config) -> Result<Self> {
        let settings = Settings::new(config, ClientTls::new(config)?);
        let connections = Budget::new(config.max_connections);
        let pool = Pool::new(config.connect_timeout, Arc::clone(settings.tls()), connections);
        Ok(AsyncStdTransport { settings, pool: Arc::new(pool) })
    }

    /// The request budget: how many requests and streams are in flight now, and the most
    /// that ever were ([`Config::max_connections`] bounds both).
    pub fn budget(&self) -> &Budget {
        self.settings.budget()
    }

    /// The connection budget: how many TCP connections to the server are open now (in use or
    /// idle in the pool), and the most that ever were ([`Config::max_connections`] bounds both).
    pub fn connections(&self) -> &Budget {
        &self.pool.connections
    }

    /// Re-read a token file ([`Auth::TokenFile`]) when the last read is older than `refresh`
    /// (default [`DEFAULT_TOKEN_FILE_REFRESH`], 60 s). Resets the cache.
    pub fn with_token_file_refresh(mut self, refresh: Duration) -> Self {
        self.settings.set_token_file_refresh(refresh);
        self
    }

    /// The configuration this transport was built from.
    pub fn config(&self) -> &Config {
        self.settings.config()
    }

    /// Resolve the URI, add static and dynamic credentials, and convert the body. Returns the
    /// absolute target (for the connection) and the request in origin form with a `Host` header.
    async fn prepare(&self, request: Request) -> Result<(Uri, http::Request<Full<Bytes>>)> {
        let mut request = self.settings.prepare(request).await?;
        let target = request.uri().clone();
        let host = host_header(&target)?;
        request.headers_mut().entry(http::header::HOST).or_insert(host);
        let origin = target.path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
        *request.uri_mut() =
            origin.parse().map_err(|_| Error::protocol(format!("unusable request path {origin:?}")))?;
        Ok((target, request.map(Full::new)))
    }

    fn host(&self) -> &str {
        self.settings.host()
    }

    /// Send a request and return its head, with the connection its body must be read through.
    /// A request that a reused keep-alive connection could not even start (the server had closed
    /// it) is sent again once on a fresh connection; one that was sent is never resent here.
    async fn request(&self, request: Request) -> Result<(http::Response<hyper::body::Incoming>, Conn, Permit)> {
        let (target, mut request) = self.prepare(request).await?;
        let permit = self.budget().acquire().await;
        let mut conn = self.pool.get(&target).await?;
        loop {
            let ready = match conn.driver.run(conn.sender.ready()).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(request_error(&conn.driver.take_error().unwrap_or(e), self.host())),
                Err(Ended(Some(e))) => Err(request_error(&e, self.host())),
                Err(Ended(None)) => Err(closed_before_answer()),
            };
            if let Err(err) = ready {
                if conn.reused {
                    // closed before its replacement opens: it holds a unit of the budget
                    drop(conn);
                    conn = Box::pin(self.pool.connect(&target, pool_key_of(&target))).await?;
                    continue;
                }
                return Err(err);
            }
            let response = match conn.driver.run(conn.sender.try_send_request(request)).await {
                Ok(Ok(response)) => response,
                Ok(Err(mut failed)) => match failed.take_message() {
                    Some(unsent) if conn.reused => {
                        request = unsent;
                        drop(conn);
                        conn = Box::pin(self.pool.connect(&target, pool_key_of(&target))).await?;
                        continue;
                    }
                    _ => {
                        let cause = conn.driver.take_error();
                        return Err(request_error(cause.as_ref().unwrap_or(failed.error()), self.host()));
                    }
                },
                Err(Ended(Some(e))) => return Err(request_error(&e, self.host())),
                Err(Ended(None)) => return Err(closed_before_answer()),
            };
            self.settings.answered(response.status()).await;
            return Ok((response, conn, permit));
        }
    }

    async fn send_inner(&self, request: Request) -> Result<Response> {
        let (response, conn, _permit) = self.request(request).await?;
        self.read_whole(response, conn).await
    }

    /// Read a whole response body (Content-Length or chunked) into memory, then keep the
    /// connection for reuse.
    async fn read_whole(&self, response: http::Response<hyper::body::Incoming>, mut conn: Conn) -> Result<Response> {
        let (parts, body) = response.into_parts();
        let bytes = match conn.driver.run(body.collect()).await {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(e)) => return Err(body_error(&conn.driver.take_error().unwrap_or(e))),
            Err(Ended(Some(e))) => return Err(body_error(&e)),
            Err(Ended(None)) => return Err(truncated_by_close()),
        };
        self.pool.put(conn);
        Ok(Response::from_parts(parts, bytes))
    }
}

/// `Host` for a request to `uri`: the host, with the port unless it is the scheme's default.
fn host_header(uri: &Uri) -> Result<http::HeaderValue> {
    let host = uri.host().ok_or_else(|| Error::config("server", format!("{uri} has no host")))?;
    let default_port = match uri.scheme_str() {
        Some("https") => 443,
        _ => 80,
    };
    let text = match uri.port_u16() {
        Some(port) if port != default_port => format!("{host}:{port}"),
        _ => host.to_owned(),
    };
    http::HeaderValue::from_str(&text).map_err(|_| Error::config("server", format!("{host:?} is not a valid host")))
}

fn pool_key_of(uri: &Uri) -> String {
    pool::key(uri)
}

pub(crate) fn closed_before_answer() -> Error {
    Error::transport(TransportErrorKind::Io, "the server closed the connection before answering")
}

pub(crate) fn truncated_by_close() -> Error {
    Error::transport(TransportErrorKind::Truncated, "the connection closed before the response body ended")
}

impl Transport for AsyncStdTransport {
    type Body = AsyncStdBody;

    async fn send(&self, request: Request, io: Io) -> Result<Response> {
        let limits = self.settings.limits(&request, &io);
        future::or(self.send_inner(request), expire(limits.answer(), |_| limits.response_timed_out())).await
    }

    /// Like the tokio transport: the head must come within `request_timeout` plus the time the
    /// server may hold it, capped by the caller's deadline (all from the step's [`Io`]) — except
    /// for a log follow,
    /// whose head may only come with the first byte of the log; a 2xx stream then has no overall
    /// limit, only each read's own timeout.
    async fn open(&self, request: Request, io: Io) -> Result<Opened<AsyncStdBody>> {
        let limits = self.settings.limits(&request, &io);
        let head = expire(limits.answer(), |_| limits.head_timed_out());
        let (response, conn, permit) = future::or(self.request(request), head).await?;
        if response.status().is_success() {
            let (parts, body) = response.into_parts();
            let body = AsyncStdBody {
                body,
                conn: Some(conn),
                pool: Arc::clone(&self.pool),
                done: false,
                permit: Some(permit),
            };
            return Ok(Opened::Stream(parts, body));
        }
        // An error body is short; do not let a stalled one hang the caller.
        let read =
            future::or(self.read_whole(response, conn), expire(limits.rest(), |_| limits.error_body_timed_out()));
        read.await.map(Opened::Complete)
    }

    async fn sleep(&self, duration: Duration) {
        async_io::Timer::after(duration).await;
    }

    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// The open body of a streamed response, holding its connection. A body read to its end gives
/// the connection back to the pool; dropping an unfinished one closes it.
pub struct AsyncStdBody {
    body: hyper::body::Incoming,
    conn: Option<Conn>,
    pool: Arc<Pool>,
    done: bool,
    /// The stream's unit of the connection budget: given back when the stream ends or is dropped.
    permit: Option<Permit>,
}

impl std::fmt::Debug for AsyncStdBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncStdBody").field("done", &self.done).finish_non_exhaustive()
    }
}

impl BodyStream for AsyncStdBody {
    async fn next_chunk(&mut self, limit: Option<Duration>) -> Chunk {
        if self.done {
            return Chunk::End;
        }
        let AsyncStdBody { body, conn, .. } = self;
        let Some(active) = conn.as_mut() else {
            self.done = true;
            return Chunk::Failed(truncated_by_close());
        };
        // Every future below only polls (hyper's body channel, the connection): stopping at the
        // deadline loses nothing, the next call carries on.
        let read = async {
            loop {
                match active.driver.run(body.frame()).await {
                    Ok(None) => return Ok(Chunk::End),
                    Ok(Some(Ok(frame))) => match frame.into_data() {
                        Ok(data) if !data.is_empty() => return Ok(Chunk::Data(data)),
                        // Empty data frames and trailers carry nothing for us.
                        _ => continue,
                    },
                    Ok(Some(Err(e))) => {
                        return Ok(Chunk::Failed(body_error(&active.driver.take_error().unwrap_or(e))));
                    }
                    Err(Ended(Some(e))) => return Ok(Chunk::Failed(body_error(&e))),
                    Err(Ended(None)) => return Ok(Chunk::Failed(truncated_by_close())),
                }
            }
        };
        let chunk = future::or(read, expire(limit, |_| Chunk::TimedOut)).await.unwrap_or_else(|timed_out| timed_out);
        match &chunk {
            Chunk::End => {
                self.done = true;
                if let Some(conn) = self.conn.take() {
                    self.pool.put(conn);
                }
                self.permit = None;
            }
            Chunk::Failed(_) => {
                self.done = true;
                self.conn = None;
            }
            Chunk::Data(_) | Chunk::TimedOut => {}
        }
        chunk
    }
}
