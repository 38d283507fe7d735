//! # clustermanager-tokio
//!
//! Runs [`clustermanager_core`] on tokio: [`TokioTransport`] implements
//! [`Transport`](clustermanager_core::Transport) with a pooled hyper 1 client (hyper-util's legacy
//! client; HTTP/2 over TLS when the server offers it, else HTTP/1.1) over TCP and rustls (ring),
//! within a connection budget ([`Config::max_connections`]), and supplies the credentials that need I/O
//! (token files, exec plugins). [`connect`] gives a ready [`ClusterManager`].
//!
//! ```no_run
//! # async fn demo() -> clustermanager_tokio::Result<()> {
//! use clustermanager_tokio::{connect, Config};
//!
//! let config = Config::nomad("http://127.0.0.1:4646")?;
//! let cm = connect(&config).await?;
//! println!("{:?}", cm.orchestrator());
//! # Ok(()) }
//! ```
//!
//! Dropping any future or body of this crate leaves nothing behind: no task of ours outlives
//! it, an in-flight request's connection is closed, and an exec plugin still running is killed.
//! Only hyper-util's pool keeps idle keep-alive connections (closed after 90 s idle).
//!
//! [`Config::max_connections`] bounds both the requests and open streams in flight
//! ([`TokioTransport::budget`]) and the TCP connections open at once, idle pooled ones included
//! ([`TokioTransport::connections`]): a request that finds no idle connection while the
//! connection budget is spent waits for a connection to come back to the pool or to close.
//!
//! ## One manager type for your code
//!
//! [`ClusterManager`] is one type, the same whether imported from this crate, from
//! `clustermanager_async_std` or from [`clustermanager_core`]: the manager over a
//! [`DynTransport`], which [`connect`] returns (the fake cluster's manager turns into it with
//! `.erase()`). Code that names it runs on any transport. It is a cheap clone (shared pool,
//! budget and waits) that moves into spawned tasks. [`connect_typed`] gives the manager over the
//! [`TokioTransport`] itself, `ClusterManager<TokioTransport>`. Here, 50 jobs at once, tested on
//! the fake cluster:
//!
//! ```
//! use clustermanager_tokio::{ClusterManager, JobSpec, Result, Status};
//!
//! /// Runs `n` jobs at once and counts those that succeeded.
//! async fn run_batch(cm: &ClusterManager, namespace: &str, n: usize) -> Result<usize> {
//!     let mut tasks = Vec::new();
//!     for i in 0..n {
//!         let (cm, namespace) = (cm.clone(), namespace.to_owned());
//!         tasks.push(tokio::spawn(async move {
//!             let name = format!("job-{i}");
//!             let spec = JobSpec::new(&name).image("busybox").command(["sh", "-c", "echo hi"]);
//!             cm.create_job(&namespace, &spec).await?;
//!             cm.wait_for_job(&namespace, &name, None).await
//!         }));
//!     }
//!     let mut succeeded = 0;
//!     for task in tasks {
//!         let job = task.await.expect("the job task panicked")?;
//!         succeeded += usize::from(job.status == Some(Status::Succeeded));
//!     }
//!     Ok(succeeded)
//! }
//!
//! # fn main() -> Result<()> {
//! # let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
//! # rt.block_on(async {
//! // in a program: `let cm = clustermanager_tokio::connect_infer().await?;`
//! let fake = clustermanager_fake::FakeCluster::kubernetes();
//! let cm = fake.cluster_manager().await?.erase();
//! cm.create_namespace("batch").await?;
//! assert_eq!(run_batch(&cm, "batch", 50).await?, 50);
//! # Ok(()) })
//! # }
//! ```
//!
//! Streams are owned: a followed log (like a watch or the Nomad event stream) is a `'static`
//! [`Stream`](clustermanager_core::futures_core::Stream) holding a clone of the transport, so it moves into a spawned task
//! that prints the job's output while the caller waits for the job:
//!
//! ```
//! use clustermanager_core::{ClusterManager, JobSpec, LogOptions, Result, Status};
//!
//! /// Runs a job, printing its log as it comes; returns the lines.
//! async fn run_and_follow(cm: &ClusterManager, namespace: &str, spec: &JobSpec) -> Result<Vec<String>> {
//!     cm.create_job(namespace, spec).await?;
//!     let run = cm.wait_for_job_execution_status(namespace, &spec.name, &[Status::Running], None).await?;
//!     let mut log = cm.get_execution_log_watch(namespace, &run.id, &LogOptions::default());
//!     let printer = tokio::spawn(async move {
//!         let mut lines = Vec::new();
//!         while let Some(line) = log.next().await {
//!             let line = line?;
//!             println!("{}", line.text);
//!             lines.push(line.text);
//!         }
//!         Ok::<_, clustermanager_core::Error>(lines)
//!     });
//!     cm.wait_for_job(namespace, &spec.name, None).await?;
//!     printer.await.map_err(|e| clustermanager_core::Error::protocol(format!("log task: {e}")))?
//! }
//!
//! # fn main() -> Result<()> {
//! # let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
//! # rt.block_on(async {
//! let fake = clustermanager_fake::FakeCluster::kubernetes();
//! let cm = fake.cluster_manager().await?.erase();
//! cm.create_namespace("batch").await?;
//! let spec = JobSpec::new("printer").image("busybox").command(["sh", "-c", "echo one; sleep 5; echo two"]);
//! assert_eq!(run_and_follow(&cm, "batch", &spec).await?, ["one", "two"]);
//! # Ok(()) })
//! # }
//! ```
//!
//! The escape hatch is one line, with the manager's own retry policy: here, list the
//! Deployments of a namespace and label each one (on the fake cluster; in a program,
//! `let cm = clustermanager_tokio::connect_infer().await?;`):
//!
//! ```
//! use clustermanager_core::k8s::api::{ListParams, Patch, Resource, WriteParams};
//! use clustermanager_core::{ClusterManager, JobSpec, Result, ServiceSpec};
//!
//! /// Labels every Deployment of `namespace` with `team=<team>`; returns their names.
//! async fn label_deployments(cm: &ClusterManager, namespace: &str, team: &str) -> Result<Vec<String>> {
//!     let deploys = cm.kubernetes()?.api::<serde_json::Value>(Resource::DEPLOYMENTS).namespaced(namespace);
//!     let patch = Patch::merge(&serde_json::json!({ "metadata": { "labels": { "team": team } } }))?;
//!     let mut names = Vec::new();
//!     for d in deploys.list(&ListParams::default()).await?.items {
//!         let name = d["metadata"]["name"].as_str().unwrap_or_default().to_owned();
//!         deploys.patch(&name, &patch, &WriteParams::default()).await?;
//!         names.push(name);
//!     }
//!     Ok(names)
//! }
//!
//! # fn main() -> Result<()> {
//! # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
//! # rt.block_on(async {
//! let fake = clustermanager_fake::FakeCluster::kubernetes();
//! let cm = fake.cluster_manager().await?.erase();
//! cm.create_namespace("web").await?;
//! cm.create_deploy("web", &ServiceSpec::new(JobSpec::new("frontend").image("nginx")).replicas(2)).await?;
//! assert_eq!(label_deployments(&cm, "web", "payments").await?, ["frontend"]);
//! let labelled = cm.kubernetes()?.api::<serde_json::Value>(Resource::DEPLOYMENTS).namespaced("web").get("frontend").await?;
//! assert_eq!(labelled["metadata"]["labels"]["team"], "payments");
//! # Ok(()) })
//! # }
//! ```

// Where other crates' docs link to this one when built alone (`cargo doc --no-deps`):
// without it their links to our items render as plain text.
#![doc(html_root_url = "https://docs.rs/clustermanager-tokio/0.1.0")]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use clustermanager_core::{Request, Response};
use http::response::Parts;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

pub use clustermanager_core as core;
// What a caller names: the same from every transport crate.
pub use clustermanager_transport_common::names::*;
/// The `http` crate core builds requests with (for `api::request` and the escape hatch).
pub use http;

mod auth;
mod connector;

pub use auth::TokioRuntime;
use clustermanager_transport_common::body::read_whole;
use clustermanager_transport_common::hyper_rustls::client_error;
pub use clustermanager_transport_common::run::HttpTransport;
use clustermanager_transport_common::run::{self, HyperFrames, Streamed};
use clustermanager_transport_common::settings::Settings;
use clustermanager_transport_common::tls::{self, ClientTls};

use connector::{wanting, Connector};
pub use connector::{Dial, TokioDial};

// connect, connect_typed and connect_infer: every transport crate's three, over its transport.
clustermanager_transport_common::connect_functions!(clustermanager_tokio, TokioTransport);

/// A [`Transport`](clustermanager_core::Transport) over tokio, hyper and rustls: HTTP/2 when a
/// TLS server picks it from the ALPN offer (`h2`, then `http/1.1`; kube-apiserver picks h2),
/// every request and watch then multiplexed over one connection; HTTP/1.1 with pooled keep-alive connections otherwise (and
/// always for plain `http://`, e.g. a Nomad dev agent). The request flow, its time limits and
/// the builders are every transport's ([`HttpTransport`]); what is tokio's is the [`TokioClient`].
///
/// Cheap to clone: clones share the connection pool and the credential caches. Must be used
/// within a tokio runtime only when requests are made; building is sync.
///
/// ```
/// let config = clustermanager_tokio::Config::nomad("http://127.0.0.1:4646")?;
/// let transport = clustermanager_tokio::TokioTransport::new(&config)?;
/// # let _ = transport;
/// # Ok::<(), clustermanager_tokio::Error>(())
/// ```
pub type TokioTransport = HttpTransport<TokioClient>;

/// The open body of a streamed response. Dropping it closes the connection (an unfinished body
/// cannot be reused).
pub type TokioBody = Streamed<HyperFrames, TokioRuntime>;

/// What is tokio's in [`TokioTransport`]: hyper-util's pooled client over a connector (TCP,
/// then rustls for `https`) within the connection budget (see [`TokioTransport::connections`]).
pub type TokioClient = HyperClient<TokioDial>;

/// hyper-util's pooled client (HTTP/2 where a TLS server offers it, else HTTP/1.1) over a
/// connector that opens TCP with `D` then rustls for `https`, within a connection budget, its
/// connections driven by the executor it was built with. [`TokioClient`] is the one over tokio's
/// sockets and tasks; another reactor (the Python package's asyncio loop) plugs in its own
/// [`Dial`] and executor and gets the same pooling, budget, timeouts and errors.
pub struct HyperClient<D: Dial = TokioDial> {
    client: Client<Connector<D>, Full<Bytes>>,
    /// At most `config.max_connections` connections open at once (shared with the connector).
    connections: Budget,
}

/// A task hyper's connections are driven by, as the executor of a [`HyperClient`] takes it.
pub type ConnectionTask = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

impl<D: Dial> HyperClient<D> {
    /// A client for `settings` (its TLS settings and connect timeout) opening TCP with `dial`,
    /// its connections' tasks run by `executor`, each connection holding a unit of `connections`
    /// while it is open. Needs a tokio runtime's context when used (its pool's and requests'
    /// timers are tokio's), not to be built.
    pub fn new<E>(settings: &Settings<TokioRuntime>, dial: D, executor: E, connections: Budget) -> Self
    where
        E: hyper::rt::Executor<ConnectionTask> + Send + Sync + Clone + 'static,
    {
        let config = settings.config();
        let connector = Connector {
            connect_timeout: config.connect_timeout,
            tls: Arc::clone(settings.tls()),
            connections: connections.clone(),
            dial,
            first: Arc::default(),
        };
        let client = Client::builder(executor)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(config.max_connections)
            .build(connector);
        HyperClient { client, connections }
    }

    /// The connection budget: connections open now (idle pooled ones included) and at most.
    pub fn connection_budget(&self) -> &Budget {
        &self.connections
    }

    /// Send `request` (ready: absolute URI, credentials) and wait for the answer's head; `host`
    /// names the server in errors.
    pub async fn send(&self, host: &str, request: Request) -> Result<(Parts, Incoming)> {
        let request = wanting(self.client.request(request.map(Full::new)));
        let response = request.await.map_err(|e| client_error(&e, host, e.is_connect()))?;
        Ok(response.into_parts())
    }
}

impl run::Client for TokioClient {
    type Runtime = TokioRuntime;
    type Unread = hyper::body::Incoming;
    type Frames = HyperFrames;
    const NAME: &'static str = "TokioTransport";

    /// HTTP/2 where the server offers it over TLS (kube-apiserver does): every request and watch
    /// multiplexed over one connection; HTTP/1.1 otherwise and for plain http.
    fn tls(config: &Config) -> Result<ClientTls> {
        ClientTls::offering(config, tls::ALPN_H2_HTTP1)
    }

    fn build(settings: &Settings<TokioRuntime>) -> Result<Self> {
        let connections = Budget::new(settings.config().max_connections);
        Ok(HyperClient::new(settings, TokioDial, TokioExecutor::new(), connections))
    }

    fn connections<'a>(&'a self, _: &'a Settings<TokioRuntime>) -> &'a Budget {
        &self.connections
    }

    async fn dispatch(&self, settings: &Settings<TokioRuntime>, request: Request) -> Result<(Parts, Incoming)> {
        self.send(settings.host(), request).await
    }

    async fn read_whole(&self, parts: Parts, body: Incoming, max: usize) -> Result<Response> {
        read_whole(parts, body, max, "TokioTransport::with_max_response_bytes").await
    }

    fn stream(&self, body: Incoming) -> HyperFrames {
        HyperFrames(body)
    }
}

/// The README's code, compiled as doc tests so the quickstart shown to newcomers stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
