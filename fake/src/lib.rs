//! An in-process fake Kubernetes + Nomad cluster for clustermanager.
//!
//! [`FakeCluster`] holds the state of a fake kube-apiserver or Nomad agent; its
//! [`FakeTransport`] implements [`clustermanager_core::Transport`] directly (no sockets), so a
//! [`ClusterManager`] runs on it unchanged, on any async runtime or none (see [`block_on`]).
//! Answers copy the recorded servers' shapes (Kubernetes `Status` errors, Nomad plain-text errors
//! and `X-Nomad-Index`, watch event lines, framed logs).
//!
//! Time is **virtual** and deterministic: when every wait in progress (sleeps, watches and
//! blocking queries with nothing to report) has looked at the present, it jumps to the earliest
//! thing any of them waits for (a sleep's end, a pod starting, a job finishing, a timeout). A
//! single wait ends at once; concurrent waits see time pass in the order a real clock would. Jobs "run" a tiny interpretation of their command (see
//! [`script`]): `echo hello` logs `hello`, `exit 3` fails with exit code 3. A failed run is
//! retried as the servers retry it: a Kubernetes Job's pod is replaced after the job
//! controller's back-off (10 s, doubling, at most 6 min) while no more pods failed than its
//! `backoffLimit` allows; a Nomad task is restarted in its allocation after the restart policy's
//! delay while attempts are left (a job without a policy gets a batch job's defaults: 3
//! attempts, 15 s), then fails with the client's `Not Restarting` event.
//!
//! ```
//! use clustermanager_core::{DeleteOptions, JobSpec, LogOptions, Status};
//! use clustermanager_fake::{block_on, FakeCluster};
//!
//! let fake = FakeCluster::kubernetes();
//! let cm = block_on(fake.cluster_manager()).unwrap();
//! block_on(async {
//!     cm.create_namespace("demo").await?;
//!     let spec = JobSpec::new("hello").image("busybox").command(["sh", "-c", "echo hello"]);
//!     cm.create_job("demo", &spec).await?;
//!     let job = cm.wait_for_job("demo", "hello", None).await?;
//!     assert_eq!(job.status, Some(Status::Succeeded));
//!     let runs = cm.list_job_executions("demo", "hello").await?;
//!     let log = cm.get_execution_log("demo", &runs[0].id, &LogOptions::default()).await?;
//!     assert_eq!(log, "hello\n");
//!     cm.delete_job("demo", "hello", DeleteOptions { wait: true, purge: true }).await
//! })
//! .unwrap();
//! ```

mod clock;
pub mod faults;
mod http_util;
mod k8s;
mod nomad;
pub mod script;
mod sim;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clock::YieldOnce;
use clustermanager_core::deadline::Io;
use clustermanager_core::error::TransportErrorKind;
use clustermanager_core::transport::Opened;
use clustermanager_core::{BodyStream, Chunk, ClusterManager, Config, Error, Request, Response, Transport};

pub use faults::{Effect, Fault, IndexLie};
pub use k8s::{KubernetesVersion, NODE_NAME};

/// What a fake server answers to one request.
pub(crate) enum Reply<S> {
    /// A complete response.
    Full(Response),
    /// A 2xx head (its body ignored) and a body produced piece by piece.
    Stream(Response, S),
    /// A Nomad blocking query with nothing new: ask again once time passed (at most `wait`).
    Block(Duration),
}

/// The next piece of a streamed body.
pub(crate) enum StreamPoll {
    Data(Bytes),
    End,
    /// Nothing now; the stream ends by itself at this virtual time (`None`: when the state changes).
    Idle(Option<Duration>),
}

#[derive(Debug)]
enum Server {
    Kubernetes(k8s::Cluster),
    Nomad(nomad::Cluster),
}

#[derive(Debug)]
enum StreamState {
    /// A complete 2xx body handed out as one piece.
    Once(Option<Bytes>),
    Kubernetes(k8s::Stream),
    Nomad(nomad::Stream),
}

impl Server {
    fn advance(&mut self, now: Duration) {
        match self {
            Server::Kubernetes(c) => c.advance(now),
            Server::Nomad(c) => c.advance(now),
        }
    }
    fn next_due(&self) -> Option<Duration> {
        match self {
            Server::Kubernetes(c) => c.next_due(),
            Server::Nomad(c) => c.next_due(),
        }
    }
    fn handle(&mut self, req: &Request, now: Duration, expired: bool) -> Reply<StreamState> {
        match self {
            Server::Kubernetes(c) => match c.handle(req) {
                Reply::Full(r) => Reply::Full(r),
                Reply::Stream(h, s) => Reply::Stream(h, StreamState::Kubernetes(s)),
                Reply::Block(d) => Reply::Block(d),
            },
            Server::Nomad(c) => match c.handle(req, now, expired) {
                Reply::Full(r) => Reply::Full(r),
                Reply::Stream(h, s) => Reply::Stream(h, StreamState::Nomad(s)),
                Reply::Block(d) => Reply::Block(d),
            },
        }
    }
    fn poll_stream(&mut self, stream: &mut StreamState, now: Duration) -> StreamPoll {
        match (self, stream) {
            (_, StreamState::Once(body)) => body.take().map_or(StreamPoll::End, StreamPoll::Data),
            (Server::Kubernetes(c), StreamState::Kubernetes(s)) => c.poll_stream(s, now),
            (Server::Nomad(c), StreamState::Nomad(s)) => c.poll_stream(s, now),
            _ => StreamPoll::End,
        }
    }
}

#[derive(Debug)]
struct Shared {
    now: Duration,
    server: Server,
    faults: faults::Faults,
    requests: Vec<String>,
    /// When the server saw each of `requests`, in virtual time.
    request_times: Vec<Duration>,
    /// The client's `request_timeout`, as a real transport applies it (see [`FakeOptions`]).
    request_timeout: Option<Duration>,
    /// Virtual time each request costs before the server sees it.
    round_trip: Duration,
    /// Streams open now (each holds a connection), and the most ever open at once.
    open_streams: usize,
    peak_streams: usize,
    /// Response body bytes handed to clients (whole answers and stream pieces).
    bytes_sent: u64,
    /// Nomad: the agent's `limits.http_max_conns_per_client` (100); `None` for Kubernetes.
    max_conns: Option<usize>,
    /// The client-side waits in progress (a sleep, a parked blocking query, a stream read), by
    /// id: virtual time never jumps past the earliest of them (see [`clock`]).
    waits: BTreeMap<u64, clock::Wait>,
    wait_seq: u64,
    /// Bumped each time virtual time moves: a wait that has not looked since holds it.
    epoch: u64,
    /// Requests sent but not yet seen by the server: time does not move until they are.
    runnable: usize,
    /// Bumped each time the state is taken other than by a wait looking (a request answered, a
    /// wait ended, a test changing the cluster): a wait that looked since, at the same epoch,
    /// would see the same thing and does not look again (see [`clock::Waiter::poll`]).
    changes: u64,
}

/// How a scripted fault ends a streamed response (see [`Effect::CutStream`] and
/// [`Effect::EndStream`]).
#[derive(Debug, Clone)]
struct StreamCut {
    /// Pieces of the real stream still delivered.
    after: usize,
    /// `None`: break the connection; `Some(tail)`: send `tail` (if not empty), then end.
    end: Option<Bytes>,
}

/// `request` without the query parameters `names` (a server or proxy that ignores them).
fn without_params(request: &Request, names: &[&str]) -> Request {
    let mut out = clustermanager_core::op::copy_request(request);
    if let Some(query) = request.uri().query() {
        let kept: Vec<&str> =
            query.split('&').filter(|p| !names.iter().any(|n| p.split('=').next() == Some(*n))).collect();
        let uri = if kept.is_empty() {
            request.uri().path().to_owned()
        } else {
            format!("{}?{}", request.uri().path(), kept.join("&"))
        };
        if let Ok(uri) = uri.parse() {
            *out.uri_mut() = uri;
        }
    }
    out
}

/// What the server made of a request: the reply now, or a blocking query still waiting.
enum Answer {
    Now((Reply<StreamState>, Option<StreamCut>)),
    Parked(Parked),
}

/// A blocking query waiting in steps while other waits run (see [`Shared::resume`]).
struct Parked {
    req: Request,
    until: Duration,
    lie: Option<IndexLie>,
    repeat: Option<String>,
    blocked: Option<u64>,
}

/// How long a request asks the server to hold it, read as the server reads it: Nomad's `wait=`
/// or Kubernetes' `timeoutSeconds=` (`None` without either).
fn server_wait(query: &str) -> Option<Duration> {
    query.split('&').find_map(|pair| match pair.split_once('=')? {
        ("timeoutSeconds", v) => v.parse::<u64>().ok().map(Duration::from_secs),
        ("wait", v) => nomad::parse_go_duration(v),
        _ => None,
    })
}

/// The `index=` a Nomad request blocked on, if any.
fn blocked_on(request: &Request) -> Option<u64> {
    request.uri().query()?.split('&').find_map(|p| p.strip_prefix("index="))?.parse().ok()
}

impl Shared {
    fn advance_to(&mut self, t: Duration) {
        self.now = self.now.max(t);
        self.server.advance(self.now);
    }

    /// Answer a request, running blocking queries to their end in virtual time.
    fn answer(&mut self, req: &Request, io: Io, start: Instant) -> Result<Answer, Error> {
        let now = self.now;
        self.advance_to(now);
        self.request_times.push(now);
        self.requests.push(match req.uri().query() {
            Some(q) => format!("{} {}?{q}", req.method(), req.uri().path()),
            None => format!("{} {}", req.method(), req.uri().path()),
        });
        if !self.round_trip.is_zero() {
            self.advance_to(later(self.now, self.round_trip));
        }
        // the agent refuses a client's connection beyond its limit: each open stream holds one,
        // and this request needs one more
        if let Some(max) = self.max_conns.filter(|max| self.open_streams >= *max) {
            return Err(Error::transport(
                TransportErrorKind::Io,
                format!(
                    "clustermanager-fake: connection reset by peer (the Nomad agent allows {max} connections per \
                     client address, limits.http_max_conns_per_client, and {} streams hold them)",
                    self.open_streams
                ),
            ));
        }
        // what a real transport would wait for this request, at most
        let limit = io.limit(clustermanager_core::deadline::later(start, self.now), self.request_timeout);
        let sent = self.now;
        let timed_out = |limit: Duration| Error::Timeout {
            what: format!("clustermanager-fake: no answer to {} {} within {limit:?}", req.method(), req.uri().path()),
        };
        let (mut lie, mut repeat) = (None, None);
        // the index the client blocked on, before a lie strips it from the request
        let blocked = blocked_on(req);
        match self.faults.fire(req, false) {
            Some(Effect::Respond { status, body, retry_after }) => {
                let ct = if body.starts_with('{') { "application/json" } else { "text/plain; charset=utf-8" };
                let headers: Vec<(&str, String)> =
                    retry_after.map(|s| ("retry-after", s.to_string())).into_iter().collect();
                return Ok(Answer::Now((Reply::Full(http_util::response(status, ct, &headers, body)), None)));
            }
            Some(Effect::Drop(kind)) => {
                return Err(Error::transport(
                    kind,
                    format!("clustermanager-fake: scripted connection failure on {} {}", req.method(), req.uri()),
                ));
            }
            Some(Effect::Latency(d)) => match limit {
                Some(limit) if limit < d => {
                    self.advance_to(later(sent, limit));
                    return Err(timed_out(limit));
                }
                _ => self.advance_to(later(self.now, d)),
            },
            Some(Effect::Hang) => {
                let Some(limit) = limit else {
                    return Err(Error::protocol(format!(
                        "clustermanager-fake: {} {} is never answered and the client set no time limit: it would wait forever",
                        req.method(),
                        req.uri().path()
                    )));
                };
                self.advance_to(later(sent, limit));
                return Err(timed_out(limit));
            }
            Some(Effect::AfterQueryWait(status)) => {
                let wait = req.uri().query().and_then(server_wait).unwrap_or_default();
                if let Some(limit) = limit.filter(|l| *l < wait) {
                    self.advance_to(later(sent, limit));
                    return Err(timed_out(limit));
                }
                self.advance_to(later(sent, wait));
                let body = format!("{status} scripted: the proxy gave up waiting");
                return Ok(Answer::Now((Reply::Full(http_util::response(status, "text/plain", &[], body)), None)));
            }
            Some(Effect::Index(l)) => lie = Some(l),
            Some(Effect::RepeatContinue(token)) => repeat = Some(token),
            Some(Effect::CutStream(_) | Effect::EndStream { .. }) | None => {}
        }
        // a server ignoring `index=` (or serving the first page whatever `continue=` says)
        let stripped;
        let req = if lie.is_some() {
            stripped = without_params(req, &["index", "wait"]);
            &stripped
        } else if repeat.is_some() {
            stripped = without_params(req, &["continue"]);
            &stripped
        } else {
            req
        };
        let start = self.now;
        let reply = self.server.handle(req, self.now, false);
        if let Reply::Block(wait) = reply {
            // the client waits in virtual time, beside every other wait (see [`clock`])
            let req = clustermanager_core::op::copy_request(req);
            return Ok(Answer::Parked(Parked { req, until: later(start, wait), lie, repeat, blocked }));
        }
        Ok(Answer::Now(self.finish(req, reply, lie, repeat, blocked)))
    }

    /// A parked blocking query's answer, once it has one (`expire`: answer it now in any case).
    fn resume(
        &mut self,
        p: &Parked,
        expire: bool,
    ) -> Result<(Reply<StreamState>, Option<StreamCut>), Option<Duration>> {
        match self.server.handle(&p.req, self.now, expire || self.now >= p.until) {
            Reply::Block(_) => Err(Some(p.until)),
            reply => Ok(self.finish(&p.req, reply, p.lie, p.repeat.clone(), p.blocked)),
        }
    }

    /// A reply's faults applied: an index lie, a repeated continue token, a stream cut.
    fn finish(
        &mut self,
        req: &Request,
        mut reply: Reply<StreamState>,
        lie: Option<IndexLie>,
        repeat: Option<String>,
        blocked: Option<u64>,
    ) -> (Reply<StreamState>, Option<StreamCut>) {
        if let (Some(lie), Reply::Full(resp)) = (lie, &mut reply) {
            lie_about_index(resp, lie, blocked);
        }
        if let (Some(token), Reply::Full(resp)) = (repeat, &mut reply) {
            repeat_continue(resp, &token);
        }
        let cut = match &reply {
            Reply::Stream(..) => match self.faults.fire(req, true) {
                Some(Effect::CutStream(n)) => Some(StreamCut { after: n, end: None }),
                Some(Effect::EndStream { after, tail }) => Some(StreamCut { after, end: Some(Bytes::from(tail)) }),
                _ => None,
            },
            _ => None,
        };
        (reply, cut)
    }

    /// The next piece of `stream` if there is one by now (`never`: nothing will ever happen, so
    /// end it as a server-side timeout would); otherwise when it ends by itself.
    fn poll_piece(
        &mut self,
        stream: &mut StreamState,
        read_limit: Option<Duration>,
        never: bool,
    ) -> Result<Chunk, Option<Duration>> {
        match self.server.poll_stream(stream, self.now) {
            StreamPoll::Data(b) => Ok(Chunk::Data(b)),
            StreamPoll::End => Ok(Chunk::End),
            StreamPoll::Idle(_) if read_limit.is_some_and(|l| self.now >= l) => Ok(Chunk::TimedOut),
            StreamPoll::Idle(_) if never => Ok(Chunk::End),
            StreamPoll::Idle(until) => Err([until, read_limit].into_iter().flatten().min()),
        }
    }

    /// The next piece of `stream`, advancing virtual time while nothing happens (a response read
    /// to its end at once).
    fn next_piece(&mut self, stream: &mut StreamState, timeout: Option<Duration>) -> Chunk {
        let read_limit = timeout.map(|t| later(self.now, t));
        loop {
            match self.server.poll_stream(stream, self.now) {
                StreamPoll::Data(b) => return Chunk::Data(b),
                StreamPoll::End => return Chunk::End,
                StreamPoll::Idle(until) => {
                    let next = self.server.next_due();
                    let target = [next, until, read_limit].into_iter().flatten().min();
                    match target {
                        // Nothing will ever happen: end the stream as a server-side timeout would.
                        None => return Chunk::End,
                        Some(t) => {
                            let timed_out =
                                Some(t) == read_limit && next.is_none_or(|n| n > t) && until.is_none_or(|u| u > t);
                            self.advance_to(t);
                            if timed_out {
                                return Chunk::TimedOut;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Tunables of a fake cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeOptions {
    /// Virtual time between a job's phases (created → running → ...); the command's own
    /// duration (1 s plus its `sleep`s) comes on top. Default 1 s.
    pub step: Duration,
    /// Seed for retry jitter of the [`ClusterManager`] built by [`FakeCluster::cluster_manager`].
    pub seed: u64,
    /// The client's request timeout, as the real transports apply it (on top of the time the
    /// step's `Io` says the server may hold the request, capped by its deadline): a request the server never answers
    /// ([`Fault::hang`]) fails after it. Default: [`Config`]'s default, 295 s.
    pub request_timeout: Option<Duration>,
    /// Virtual time every request costs (a loopback round trip). Default zero; a small value
    /// (1 ms) turns a client's hot request loop into a measurable request rate instead of an
    /// endless loop at one instant.
    pub round_trip: Duration,
    /// The task drivers the fake Nomad node offers. Default `raw_exec`, `exec`, `docker`; a job
    /// whose task needs another one is not placed: its evaluation says `missing drivers` and a
    /// blocked evaluation waits, as on a real agent.
    pub nomad_drivers: Vec<String>,
    /// The CPU (MHz) the fake Nomad node offers. Default 4,000. Allocations are placed while
    /// what they ask (Nomad's default: 100 MHz and 300 MB a task) fits beside the live ones;
    /// the rest are queued, their evaluation blocked (`NodesExhausted`, `DimensionExhausted`)
    /// until an allocation ends and frees room, as on a real agent.
    pub nomad_node_cpu_mhz: u64,
    /// The memory (MB) the fake Nomad node offers. Default 8,192 (see
    /// [`nomad_node_cpu_mhz`](Self::nomad_node_cpu_mhz)).
    pub nomad_node_memory_mb: u64,
    /// Images the fake Kubernetes registry does not have: their pods stay `Pending` with
    /// `ErrImagePull`, then `ImagePullBackOff`, as the kubelet reports them.
    pub missing_images: Vec<String>,
    /// Which kube-apiserver the fake Kubernetes cluster behaves as: v1.36 (the default) or
    /// v1.19 (conditions, status fields, labels, finalizer, CronJob versions, Pod Security,
    /// watch-list; see [`KubernetesVersion`]).
    pub kubernetes: KubernetesVersion,
    /// On v1.36, answer watch-list requests as an apiserver whose etcd lacks progress requests
    /// does: 200 and one `ERROR` event (500), as recorded in `acm-35`. Default `false`.
    pub watch_list_refused: bool,
}

impl FakeOptions {
    /// The default options for a fake Kubernetes cluster of `version`.
    ///
    /// ```
    /// use clustermanager_fake::{FakeCluster, FakeOptions, KubernetesVersion};
    /// let old = FakeCluster::kubernetes_with(FakeOptions::on(KubernetesVersion::V1_19));
    /// # let _ = old;
    /// ```
    pub fn on(version: KubernetesVersion) -> Self {
        FakeOptions { kubernetes: version, ..FakeOptions::default() }
    }
}

impl Default for FakeOptions {
    fn default() -> Self {
        FakeOptions {
            step: Duration::from_secs(1),
            seed: 7,
            request_timeout: Some(Duration::from_secs(295)),
            round_trip: Duration::ZERO,
            nomad_drivers: ["raw_exec", "exec", "docker"].map(str::to_owned).to_vec(),
            nomad_node_cpu_mhz: nomad::NODE_CPU_MHZ,
            nomad_node_memory_mb: nomad::NODE_MEMORY_MB,
            missing_images: Vec::new(),
            kubernetes: KubernetesVersion::default(),
            watch_list_refused: false,
        }
    }
}

/// A fake cluster: shared state behind cheap clones. Build one with [`FakeCluster::kubernetes`]
/// or [`FakeCluster::nomad`], then use [`FakeCluster::cluster_manager`] (or
/// [`FakeCluster::transport`] + [`FakeCluster::config`]).
#[derive(Debug, Clone)]
pub struct FakeCluster {
    shared: Arc<Mutex<Shared>>,
    start: Instant,
    options: FakeOptions,
    kubernetes: bool,
}

impl FakeCluster {
    /// A fake Kubernetes cluster (kube-apiserver v1.36 behaviour, see [`FakeOptions::kubernetes`]; one Ready node
    /// [`NODE_NAME`], namespaces `default` and `kube-system`).
    pub fn kubernetes() -> Self {
        Self::kubernetes_with(FakeOptions::default())
    }

    /// A fake Kubernetes cluster with these options.
    pub fn kubernetes_with(options: FakeOptions) -> Self {
        let mut cluster = k8s::Cluster::new(options.step, options.kubernetes);
        cluster.set_watch_list_refused(options.watch_list_refused);
        cluster.set_missing_images(options.missing_images.clone());
        Self::new(Server::Kubernetes(cluster), options, true)
    }

    /// A fake Nomad agent (Nomad 1.1 behaviour; region `global`, datacenter `dc1`, one ready
    /// client node).
    pub fn nomad() -> Self {
        Self::nomad_with(FakeOptions::default())
    }

    /// A fake Nomad agent with these options.
    pub fn nomad_with(options: FakeOptions) -> Self {
        let mut cluster = nomad::Cluster::new(options.step);
        cluster.set_drivers(options.nomad_drivers.clone());
        cluster.set_node_resources(options.nomad_node_cpu_mhz, options.nomad_node_memory_mb);
        Self::new(Server::Nomad(cluster), options, false)
    }

    fn new(server: Server, options: FakeOptions, kubernetes: bool) -> Self {
        let shared = Shared {
            now: Duration::ZERO,
            server,
            faults: faults::Faults::default(),
            requests: Vec::new(),
            request_times: Vec::new(),
            request_timeout: options.request_timeout,
            round_trip: options.round_trip,
            open_streams: 0,
            waits: BTreeMap::new(),
            wait_seq: 0,
            epoch: 0,
            runnable: 0,
            changes: 0,
            peak_streams: 0,
            bytes_sent: 0,
            max_conns: (!kubernetes).then_some(NOMAD_MAX_CONNS_PER_CLIENT),
        };
        FakeCluster { shared: Arc::new(Mutex::new(shared)), start: Instant::now(), options, kubernetes }
    }

    /// The state, to change it (or anything that may change what the waits would see).
    fn lock(&self) -> MutexGuard<'_, Shared> {
        let mut s = self.peek();
        s.changes = s.changes.wrapping_add(1);
        s
    }

    /// The state, only to read it: the waits' looks stay valid. (Reading the time, which every
    /// deadline check does, must not make every parked query build its answer again.)
    fn peek(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The state with everything due by now applied (what the next request would see).
    fn settled(&self) -> MutexGuard<'_, Shared> {
        let mut s = self.lock();
        let now = s.now;
        s.advance_to(now);
        s
    }

    /// A transport into this cluster (clones share the cluster).
    pub fn transport(&self) -> FakeTransport {
        FakeTransport { cluster: self.clone() }
    }

    /// A [`Config`] for this cluster: a loopback placeholder URL (nothing listens there; the
    /// fake transport ignores it) and the orchestrator.
    pub fn config(&self) -> Config {
        let config = if self.kubernetes {
            Config::kubernetes("https://127.0.0.1:6443")
        } else {
            Config::nomad("http://127.0.0.1:4646")
        };
        // Both URLs are constants that parse; fall back to the other constructor just in case.
        config.unwrap_or_else(|_| unreachable_config()).with_request_timeout(self.options.request_timeout)
    }

    /// A [`ClusterManager`] over this cluster, connected (for Nomad this reads `/v1/agent/self`).
    pub async fn cluster_manager(&self) -> Result<ClusterManager<FakeTransport>, Error> {
        self.cluster_manager_with(&self.config()).await
    }

    /// [`cluster_manager`](Self::cluster_manager) with another configuration: [`config`](Self::config)
    /// changed, say [`Config::with_nomad_prefix_namespaces`].
    pub async fn cluster_manager_with(&self, config: &Config) -> Result<ClusterManager<FakeTransport>, Error> {
        ClusterManager::connect(self.transport(), config, self.options.seed).await
    }

    /// Add a scripted fault (see [`Fault`]).
    pub fn add_fault(&self, fault: Fault) {
        self.lock().faults.add(fault);
    }

    /// How many scripted faults have not fired yet.
    pub fn pending_faults(&self) -> usize {
        self.peek().faults.pending()
    }

    /// Streams (watches, follows, event streams) open now: each holds a connection of its own.
    pub fn open_streams(&self) -> usize {
        self.peek().open_streams
    }

    /// Response body bytes the server has sent so far (whole answers and stream pieces; heads
    /// not counted): what a client read.
    pub fn bytes_sent(&self) -> u64 {
        self.peek().bytes_sent
    }

    /// The most streams that were open at once (plus the request answered meanwhile, the most
    /// connections a client held).
    pub fn peak_streams(&self) -> usize {
        self.peek().peak_streams
    }

    /// Every request received so far, as `METHOD path?query`.
    pub fn requests(&self) -> Vec<String> {
        self.peek().requests.clone()
    }

    /// The most requests the server received within any one second of virtual time (a
    /// sliding window), from the `since`-th request on: how hard a client pressed it at its peak.
    pub fn peak_requests_per_second(&self, since: usize) -> usize {
        let s = self.peek();
        let times = s.request_times.get(since..).unwrap_or_default();
        let mut peak = 0;
        let mut start = 0;
        for (end, t) in times.iter().enumerate() {
            while t.saturating_sub(times[start]) >= Duration::from_secs(1) {
                start += 1;
            }
            peak = peak.max(end + 1 - start);
        }
        peak
    }

    /// Virtual time elapsed since the cluster was created.
    pub fn elapsed(&self) -> Duration {
        self.peek().now
    }

    /// The fake's calendar now: its time zero is 2026-01-01T00:00:00Z, and the timestamps it
    /// writes on objects (`creationTimestamp`, `startTime`, Nomad's `SubmitTime`) count from
    /// there in virtual time. Ages of its objects are measured against this, not the system
    /// clock.
    pub fn wall_clock(&self) -> std::time::SystemTime {
        std::time::UNIX_EPOCH + Duration::from_secs(sim::EPOCH_SECS) + self.elapsed()
    }

    /// Let `duration` of virtual time pass (jobs progress).
    pub fn advance(&self, duration: Duration) {
        let mut s = self.lock();
        let t = later(s.now, duration);
        s.advance_to(t);
    }

    /// Kubernetes: forget the watch history up to now, so watches from an older
    /// `resourceVersion` get `410 Expired`. No effect on Nomad.
    pub fn compact(&self) {
        if let Server::Kubernetes(c) = &mut self.lock().server {
            c.compact();
        }
    }

    /// Kubernetes: the current `resourceVersion`; Nomad: the current Raft index.
    pub fn version(&self) -> u64 {
        match &self.settled().server {
            Server::Kubernetes(c) => c.resource_version(),
            Server::Nomad(c) => c.index(),
        }
    }

    /// Kubernetes: the pods of `namespace` (all namespaces when empty). Nomad: the allocation
    /// IDs of jobs in that namespace.
    pub fn executions(&self, namespace: &str) -> Vec<String> {
        match &self.settled().server {
            Server::Kubernetes(c) => c.pod_names(namespace),
            Server::Nomad(c) => c.alloc_ids(namespace),
        }
    }

    /// Force the phase of an execution, as the node would report it: Kubernetes pod phases
    /// (`Pending`, `Running`, `Succeeded`, `Failed`) or Nomad client statuses (`pending`,
    /// `running`, `complete`, `failed`), with the exit code for finished ones. `false` if there
    /// is no such execution.
    pub fn set_execution_status(&self, namespace: &str, id: &str, status: &str, exit_code: i32) -> bool {
        match &mut self.settled().server {
            Server::Kubernetes(c) => c.set_pod_phase(namespace, id, status, exit_code),
            Server::Nomad(c) => c.set_alloc_status(id, status, exit_code),
        }
    }
}

#[cold]
fn unreachable_config() -> Config {
    // `Config::kubernetes` only fails on a malformed URL, and ours are constants.
    match Config::kubernetes("http://127.0.0.1") {
        Ok(c) => c,
        Err(e) => panic!("clustermanager-fake: placeholder URL rejected: {e}"),
    }
}

/// The [`Transport`] into a [`FakeCluster`]. Never waits on anything real: a pending future it
/// returns wakes itself at once, to look again after the other tasks ran (and virtual time moved).
#[derive(Debug, Clone)]
pub struct FakeTransport {
    cluster: FakeCluster,
}

impl FakeTransport {
    /// The cluster behind this transport.
    pub fn cluster(&self) -> &FakeCluster {
        &self.cluster
    }
}

/// A Nomad agent's default `limits.http_max_conns_per_client`: connections beyond it are reset.
pub const NOMAD_MAX_CONNS_PER_CLIENT: usize = 100;

/// The open body of a streamed fake response. Holds one of the client's connections until it
/// ends or is dropped.
#[derive(Debug)]
pub struct FakeBody {
    shared: Arc<Mutex<Shared>>,
    state: Option<StreamState>,
    cut: Option<StreamCut>,
    /// Still counted in `Shared::open_streams`.
    counted: bool,
}

impl Shared {
    /// A stream opened: it holds a connection.
    fn stream_opened(&mut self) {
        self.open_streams += 1;
        self.peak_streams = self.peak_streams.max(self.open_streams);
    }
}

impl FakeBody {
    /// The stream ended or broke: its connection is free again.
    fn release(&mut self) {
        if std::mem::take(&mut self.counted) {
            let mut s = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
            s.open_streams = s.open_streams.saturating_sub(1);
        }
    }
}

impl Drop for FakeBody {
    fn drop(&mut self) {
        self.release();
    }
}

impl BodyStream for FakeBody {
    async fn next_chunk(&mut self, timeout: Option<Duration>) -> Chunk {
        YieldOnce(false).await;
        let chunk = match (self.state.as_mut(), self.cut.as_mut()) {
            (None, _) => Chunk::End,
            (Some(_), Some(StreamCut { after: 0, end })) => match end.as_mut() {
                None => {
                    self.state = None;
                    Chunk::Failed(Error::transport(TransportErrorKind::Io, "clustermanager-fake: scripted stream cut"))
                }
                // the scripted bytes, then the end
                Some(tail) if !tail.is_empty() => Chunk::Data(std::mem::take(tail)),
                Some(_) => {
                    self.state = None;
                    Chunk::End
                }
            },
            (Some(state), cut) => {
                let now = self.shared.lock().unwrap_or_else(PoisonError::into_inner).now;
                let read_limit = timeout.map(|t| later(now, t));
                let mut waiter = clock::Waiter::new(self.shared.clone());
                let chunk =
                    std::future::poll_fn(|cx| waiter.poll(cx, |s, never| s.poll_piece(state, read_limit, never))).await;
                if let (Chunk::Data(_), Some(cut)) = (&chunk, cut) {
                    cut.after -= 1;
                }
                chunk
            }
        };
        if let Chunk::Data(b) = &chunk {
            self.shared.lock().unwrap_or_else(PoisonError::into_inner).bytes_sent += b.len() as u64;
        }
        if matches!(chunk, Chunk::End | Chunk::Failed(_)) {
            self.release();
        }
        chunk
    }
}

impl Transport for FakeTransport {
    type Body = FakeBody;

    async fn send(&self, request: Request, io: Io) -> Result<Response, Error> {
        let (reply, cut) = self.reply(request, io).await?;
        let mut s = self.cluster.lock();
        match reply {
            Reply::Full(resp) => {
                s.bytes_sent += resp.body().len() as u64;
                Ok(resp)
            }
            Reply::Block(_) => Err(Error::protocol("clustermanager-fake: blocking query did not finish")),
            Reply::Stream(head, mut state) => {
                // Collect the whole stream (as a client reading to the end would).
                let mut body = Vec::new();
                let mut pieces = 0;
                loop {
                    if let Some(cut) = cut.as_ref().filter(|c| c.after == pieces) {
                        if let Some(tail) = &cut.end {
                            body.extend_from_slice(tail);
                        }
                        break;
                    }
                    match s.next_piece(&mut state, None) {
                        Chunk::Data(b) => {
                            body.extend_from_slice(&b);
                            pieces += 1;
                        }
                        _ => break,
                    }
                }
                let (parts, _) = head.into_parts();
                s.bytes_sent += body.len() as u64;
                Ok(http::Response::from_parts(parts, Bytes::from(body)))
            }
        }
    }

    async fn open(&self, request: Request, io: Io) -> Result<Opened<FakeBody>, Error> {
        let (reply, cut) = self.reply(request, io).await?;
        let mut s = self.cluster.lock();
        let shared = self.cluster.shared.clone();
        match reply {
            Reply::Full(resp) if resp.status().is_success() => {
                let (parts, body) = resp.into_parts();
                let state = (!body.is_empty()).then(|| StreamState::Once(Some(body)));
                s.stream_opened();
                Ok(Opened::Stream(parts, FakeBody { shared, state, cut, counted: true }))
            }
            Reply::Full(resp) => {
                s.bytes_sent += resp.body().len() as u64;
                Ok(Opened::Complete(resp))
            }
            Reply::Block(_) => Err(Error::protocol("clustermanager-fake: blocking query did not finish")),
            Reply::Stream(head, state) => {
                let (parts, _) = head.into_parts();
                s.stream_opened();
                Ok(Opened::Stream(parts, FakeBody { shared, state: Some(state), cut, counted: true }))
            }
        }
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        clock::Sleep::new(self.cluster.shared.clone(), duration)
    }

    fn now(&self) -> Instant {
        self.cluster.start + self.cluster.peek().now
    }
}

impl FakeTransport {
    /// The server's reply to `request`: sent (other tasks run meanwhile, as over real I/O), then
    /// answered, a blocking query once it has something to say or its wait is over.
    async fn reply(&self, request: Request, io: Io) -> Result<(Reply<StreamState>, Option<StreamCut>), Error> {
        let shared = &self.cluster.shared;
        let in_flight = clock::InFlight::new(shared);
        YieldOnce(false).await;
        let answer = {
            let mut s = self.cluster.lock();
            in_flight.arrived(&mut s);
            s.answer(&request, io, self.cluster.start)?
        };
        match answer {
            Answer::Now(reply) => Ok(reply),
            Answer::Parked(p) => {
                let mut waiter = clock::Waiter::new(shared.clone());
                Ok(std::future::poll_fn(|cx| waiter.poll(cx, |s, expire| s.resume(&p, expire))).await)
            }
        }
    }
}

/// Run a future that only awaits fake transports (everything a [`ClusterManager`] over a
/// [`FakeTransport`] does) to its end, without an async runtime.
///
/// # Panics
/// If the future waits on something else (a real timer, a channel) and so never completes.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1_000_000 {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
    panic!("clustermanager-fake::block_on: the future waits on something other than a fake transport");
}

/// `t + d` on the virtual clock, saturating: `Duration::MAX` (no limit) never overflows.
fn later(t: Duration, d: Duration) -> Duration {
    t.saturating_add(d)
}

/// Set `X-Nomad-Index` as a server ignoring `index=` would (`blocked`: the index asked for).
fn lie_about_index(resp: &mut Response, lie: IndexLie, blocked: Option<u64>) {
    let real = resp.headers().get("x-nomad-index").and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let index = match (lie, blocked) {
        (IndexLie::Zero, _) => Some(0),
        (IndexLie::Backwards, Some(b)) => Some(b.saturating_sub(1)),
        (IndexLie::Unchanged, Some(b)) => Some(b),
        (_, None) => real,
    };
    if let Some(index) = index {
        resp.headers_mut().insert("x-nomad-index", http::HeaderValue::from(index));
    }
}

/// Set a Kubernetes list's `metadata.continue` to `token`.
fn repeat_continue(resp: &mut Response, token: &str) {
    let Ok(mut list) = serde_json::from_slice::<serde_json::Value>(resp.body()) else { return };
    if list.get("items").is_none() {
        return;
    }
    if let Some(meta) = list.get_mut("metadata").and_then(serde_json::Value::as_object_mut) {
        meta.insert("continue".into(), token.into());
    }
    if let Ok(body) = serde_json::to_vec(&list) {
        *resp.body_mut() = Bytes::from(body);
    }
}
