//! A recorded server: a [`Transport`] that answers each request with the recorded response its
//! route names, in whatever order the client asks, on a virtual clock.
//!
//! [`ReplayTransport`](crate::transport::ReplayTransport) serves a recording in order, which
//! fits an operation that makes one request after another. The facade's waits do not: a shared
//! observation lists and watches the namespace while each waiter reads its own job and looks at
//! its pods, interleaved however the waiters are scheduled. A [`RecordedServer`] is given routes
//! instead: method, path, whether the request is a watch, and query pairs it must carry, each
//! with the recorded responses it answers in turn (the last one again once they run out: the
//! state stays as recorded). A stream ends after its pieces when the server ended it, and stays
//! silent after them when the recorder's client hung up (`ended: deadline`). A watch route whose
//! streams have all been served answers a stream that stays silent: each read waits out its timeout on the virtual clock, so a wait that is
//! never told what it waits for ends at its deadline instead of spinning.
//!
//! A route may also be given [`Reply`]s: a response the server holds for a while (a blocking
//! query answered when its `wait=` passed), or a connection that breaks after a while. A request
//! whose [`Io`] deadline passes before its answer comes ends with [`Error::Timeout`] at that
//! deadline, as a transport's would. The server keeps what each request's step said the transport
//! must honour ([`ios`](RecordedServer::ios)) and every back-off taken
//! ([`sleeps`](RecordedServer::sleeps)).

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clustermanager_core::deadline::Io;
use clustermanager_core::error::TransportErrorKind;
use clustermanager_core::transport::Opened;
use clustermanager_core::{BodyStream, Chunk, Error, Request, Response, Transport};

use crate::{split_pieces, RecordedResponse, Split};

/// One answer of a route.
#[derive(Debug, Clone)]
pub enum Reply {
    /// The recorded response, at once (or after its recorded time, with
    /// [`recorded_latency`](RecordedServer::recorded_latency)).
    Recorded(RecordedResponse),
    /// The response after the server held the request this long (a blocking query).
    Held(RecordedResponse, Duration),
    /// The connection breaks after this long (a load balancer cutting a long poll).
    Fails(TransportErrorKind, Duration),
}

/// What a route answers.
#[derive(Debug, Clone)]
struct Route {
    method: String,
    path: String,
    watch: bool,
    /// Query pairs the request must carry (others are ignored).
    pairs: Vec<(String, String)>,
    answers: VecDeque<Reply>,
    last: Option<Reply>,
}

#[derive(Debug, Default)]
struct State {
    routes: Vec<Route>,
    made: Vec<String>,
    ios: Vec<Io>,
    sleeps: Vec<Duration>,
    elapsed: Duration,
    latency: bool,
    /// A silent stream's read yields to other tasks once before it times out.
    yielding: bool,
}

/// A server answering from recorded responses by route (see the module docs). Cheap to clone:
/// clones share the routes and the clock.
#[derive(Debug, Clone)]
pub struct RecordedServer {
    state: Arc<Mutex<State>>,
    start: Instant,
    split: Split,
}

impl Default for RecordedServer {
    fn default() -> Self {
        Self::new()
    }
}

impl RecordedServer {
    /// A server with no routes yet.
    pub fn new() -> Self {
        RecordedServer { state: Arc::default(), start: Instant::now(), split: Split::AsRecorded }
    }

    /// The facade over this server as a Nomad agent, connected as the recorded agent of
    /// `nomad/07-datacenter-discovery` answered (agent self, then nodes: datacenter `dc1`); the
    /// server is returned too, to read what it was asked.
    pub fn nomad_manager(self) -> (RecordedServer, clustermanager_core::ClusterManager<RecordedServer>) {
        let discovery = crate::Scenario::load("nomad/07-datacenter-discovery.json");
        let server = self.on("GET", "/v1/agent/self", vec![discovery.exchange(0).response.clone()]).on(
            "GET",
            "/v1/nodes",
            vec![discovery.exchange(1).response.clone()],
        );
        let config = clustermanager_core::Config::nomad("http://127.0.0.1:4646").expect("a constant URL parses");
        let connect = clustermanager_core::ClusterManager::connect(server.clone(), &config, 7);
        let cm = crate::transport::block_on(connect).expect("the recorded discovery connects");
        (server, cm)
    }

    /// A silent stream's read gives other tasks of the same caller a turn before it times out,
    /// as a real socket's would (by default it times out at once, on the virtual clock): what a
    /// wait's paced looks beside its observation need to run.
    pub fn yielding_on_silence(self) -> Self {
        self.lock().yielding = true;
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn route(self, method: &str, path_and_pairs: &str, watch: bool, answers: Vec<Reply>) -> Self {
        let (path, query) = path_and_pairs.split_once('?').unwrap_or((path_and_pairs, ""));
        let pairs = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        let route = Route {
            method: method.to_owned(),
            path: path.to_owned(),
            watch,
            pairs,
            answers: answers.into(),
            last: None,
        };
        self.lock().routes.push(route);
        self
    }

    /// Answer requests (not watches) of `method` to `path` (with the query pairs written after
    /// a `?`, if any: `/api/v1/namespaces/ns/pods?labelSelector=job-name=x`) with `answers` in
    /// turn, the last one again once they run out.
    pub fn on(self, method: &str, path: &str, answers: Vec<RecordedResponse>) -> Self {
        self.route(method, path, false, answers.into_iter().map(Reply::Recorded).collect())
    }

    /// [`on`](Self::on), with replies that may be held or fail.
    pub fn on_replies(self, method: &str, path: &str, replies: Vec<Reply>) -> Self {
        self.route(method, path, false, replies)
    }

    /// Answer watches of `path` (with the query pairs after a `?` it must carry) with the
    /// recorded streams `answers` in turn, then with a silent stream.
    pub fn on_watch(self, path: &str, answers: Vec<RecordedResponse>) -> Self {
        self.route("GET", path, true, answers.into_iter().map(Reply::Recorded).collect())
    }

    /// Let each recorded response take the time the server took to answer it (`elapsed_ms`).
    pub fn recorded_latency(self) -> Self {
        self.lock().latency = true;
        self
    }

    /// Cut every stream as `split` says (byte by byte, at one offset, as recorded).
    pub fn split(mut self, split: Split) -> Self {
        self.split = split;
        self
    }

    /// The requests made so far (`METHOD path?query`).
    pub fn requests(&self) -> Vec<String> {
        self.lock().made.clone()
    }

    /// What each request's step said the transport must honour (deadline, server hold,
    /// attempt), in the order of [`requests`](Self::requests).
    pub fn ios(&self) -> Vec<Io> {
        self.lock().ios.clone()
    }

    /// The back-offs taken (each sleep on the virtual clock).
    pub fn sleeps(&self) -> Vec<Duration> {
        self.lock().sleeps.clone()
    }

    /// Virtual time that passed.
    pub fn elapsed(&self) -> Duration {
        self.lock().elapsed
    }

    /// The answer to `req` once the time it takes has passed on the virtual clock (cut at the
    /// request's deadline: a timeout), or `None` for a watch whose streams all were served.
    fn answer(&self, req: &Request, io: Io) -> Option<Result<RecordedResponse, Error>> {
        let reply = self.reply(req, io)?;
        let (outcome, took) = match reply {
            Reply::Recorded(r) => {
                let took = match self.lock().latency {
                    true => Duration::from_secs_f64(r.elapsed_ms.unwrap_or(0.0).max(0.0) / 1000.0),
                    false => Duration::ZERO,
                };
                (Ok(r), took)
            }
            Reply::Held(r, held) => (Ok(r), held),
            Reply::Fails(kind, after) => {
                (Err(Error::transport(kind, "recorded server: connection reset by peer")), after)
            }
        };
        let mut st = self.lock();
        let now = self.start + st.elapsed;
        if let Some(deadline) = io.deadline.filter(|d| now + took > *d) {
            st.elapsed = deadline.saturating_duration_since(self.start).max(st.elapsed);
            let what = format!("{} {} (the request's deadline passed)", req.method(), req.uri());
            return Some(Err(Error::Timeout { what }));
        }
        st.elapsed += took;
        Some(outcome)
    }

    /// The reply of the route `req` takes, or `None` for a watch whose streams all were served.
    fn reply(&self, req: &Request, io: Io) -> Option<Reply> {
        let mut st = self.lock();
        st.made.push(match req.uri().query() {
            Some(q) => format!("{} {}?{q}", req.method(), req.uri().path()),
            None => format!("{} {}", req.method(), req.uri().path()),
        });
        st.ios.push(io);
        let query: Vec<(String, String)> =
            url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()).into_owned().collect();
        let watch = query.iter().any(|(k, v)| k == "watch" && matches!(v.as_str(), "1" | "true"));
        let index = st.routes.iter().position(|r| {
            r.method == req.method().as_str()
                && r.path == req.uri().path()
                && r.watch == watch
                && r.pairs.iter().all(|p| query.contains(p))
        });
        let Some(index) = index else {
            panic!("the recorded server has no route for {} {}", req.method(), req.uri());
        };
        let route = &mut st.routes[index];
        match route.answers.pop_front() {
            Some(answer) => {
                route.last = Some(answer.clone());
                Some(answer)
            }
            None if route.watch => None,
            None => route.last.clone(),
        }
    }
}

/// The body of a stream a [`RecordedServer`] serves.
#[derive(Debug)]
pub struct RecordedBody {
    pieces: VecDeque<Bytes>,
    /// After its pieces: end (the server ended the stream) or stay silent.
    ends: bool,
    server: RecordedServer,
}

impl BodyStream for RecordedBody {
    fn next_chunk(&mut self, timeout: Option<Duration>) -> impl Future<Output = Chunk> + Send {
        let mut yields = false;
        let chunk = match self.pieces.pop_front() {
            Some(p) => Chunk::Data(p),
            None if self.ends => Chunk::End,
            None => match timeout {
                Some(t) => {
                    let mut st = self.server.lock();
                    st.elapsed += t;
                    yields = st.yielding;
                    Chunk::TimedOut
                }
                None => Chunk::Failed(Error::transport(
                    clustermanager_core::error::TransportErrorKind::Truncated,
                    "recorded server: a silent stream read without a timeout would wait forever",
                )),
            },
        };
        YieldOnce { value: Some(chunk), yields }
    }
}

/// A value, after giving the caller's other tasks one turn when `yields`.
struct YieldOnce<T> {
    value: Option<T>,
    yields: bool,
}

impl<T: Unpin> Future for YieldOnce<T> {
    type Output = T;

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<T> {
        if std::mem::take(&mut self.yields) {
            cx.waker().wake_by_ref();
            return std::task::Poll::Pending;
        }
        match self.value.take() {
            Some(v) => std::task::Poll::Ready(v),
            // polled again after it finished: never ready again
            None => std::task::Poll::Pending,
        }
    }
}

impl Transport for RecordedServer {
    type Body = RecordedBody;

    fn send(&self, request: Request, io: Io) -> impl Future<Output = Result<Response, Error>> + Send {
        let answer = self.answer(&request, io).unwrap_or_else(|| {
            Err(Error::protocol(format!(
                "recorded server: {} {} was sent, not opened",
                request.method(),
                request.uri()
            )))
        });
        std::future::ready(answer.map(|a| a.to_http()))
    }

    fn open(&self, request: Request, io: Io) -> impl Future<Output = Result<Opened<RecordedBody>, Error>> + Send {
        let out = match self.answer(&request, io) {
            Some(Ok(answer)) if (200..300).contains(&answer.status) => {
                let pieces = split_pieces(answer.pieces(), self.split);
                // a stream the recorder's client hung up on stays silent after its pieces
                let ends = answer.ended.as_deref() != Some("deadline");
                let body = RecordedBody { pieces: pieces.into(), ends, server: self.clone() };
                Ok(Opened::Stream(answer.parts(), body))
            }
            Some(Ok(answer)) => Ok(Opened::Complete(answer.to_http())),
            Some(Err(err)) => Err(err),
            None => {
                let head = http::Response::builder().status(200).body(()).unwrap_or_default().into_parts().0;
                Ok(Opened::Stream(head, RecordedBody { pieces: VecDeque::new(), ends: false, server: self.clone() }))
            }
        };
        std::future::ready(out)
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        let mut st = self.lock();
        st.elapsed += duration;
        st.sleeps.push(duration);
        std::future::ready(())
    }

    fn now(&self) -> Instant {
        self.start + self.lock().elapsed
    }
}
