//! Test support for clustermanager: load the conversations recorded from real Kubernetes and
//! Nomad servers (`tests/fixtures/`), and replay them against core's operations, checking that
//! each operation asks for what was recorded and feeding it what the server answered.
//!
//! ```no_run
//! use clustermanager_tests::{Scenario, Replay};
//! let scenario = Scenario::load("nomad/04-nodes-list.json");
//! let op = clustermanager_core::nomad::node::list(&Default::default());
//! let nodes = Replay::new(&scenario).exchanges([0]).run(op).unwrap();
//! ```

// Test support: a recording that cannot be read is a broken test setup, so panicking is right.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod capture;
pub mod kubeconfigs;
pub mod pki;
pub mod recorded;
pub mod server;
pub mod transport;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clustermanager_core::{Event, Operation, Step};
use serde::Deserialize;

/// One recorded scenario: a list of request/response exchanges with a real server.
#[derive(Debug, Clone, Deserialize)]
pub struct Scenario {
    /// `kubernetes v1.19` or `nomad 1.1.2`.
    pub server: String,
    /// What the scenario does.
    pub scenario: String,
    /// The exchanges, in recorded order.
    pub exchanges: Vec<Exchange>,
}

/// One request and its response.
#[derive(Debug, Clone, Deserialize)]
pub struct Exchange {
    /// What the client sent.
    pub request: RecordedRequest,
    /// What the server answered.
    pub response: RecordedResponse,
    /// The recorder's note, if any.
    #[serde(default)]
    pub comment: Option<String>,
}

/// A recorded request.
#[derive(Debug, Clone, Deserialize)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path with query.
    pub path: String,
    /// Headers the recorder kept.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Body text.
    #[serde(default)]
    pub body: Option<String>,
}

/// A piece of a streamed body as the client received it.
#[derive(Debug, Clone, Deserialize)]
pub struct RecordedChunk {
    /// Milliseconds since the request.
    pub t_ms: f64,
    /// The text.
    pub data: String,
}

/// A recorded response.
#[derive(Debug, Clone, Deserialize)]
pub struct RecordedResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers the recorder kept.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The exact body text.
    #[serde(default)]
    pub body: String,
    /// For streams: the body as it arrived.
    #[serde(default)]
    pub chunks: Option<Vec<RecordedChunk>>,
    /// For streams (Nomad): who ended it, `server` or `deadline`.
    #[serde(default)]
    pub ended: Option<String>,
    /// How long the server took to answer, in milliseconds, if recorded.
    #[serde(default)]
    pub elapsed_ms: Option<f64>,
}

/// The directory holding the recorded fixtures.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

impl Scenario {
    /// Load `tests/fixtures/<relative>` (`"k8s/acm-06-namespace-lifecycle.json"`). Panics with the
    /// path if it cannot (a test setup failure).
    pub fn load(relative: &str) -> Scenario {
        let path = fixtures_dir().join(relative);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("cannot parse {}: {e}", path.display()))
    }

    /// Exchange `i`.
    pub fn exchange(&self, i: usize) -> &Exchange {
        &self.exchanges[i]
    }

    /// Index of the first exchange whose request is `method` on exactly `path_and_query`.
    pub fn find(&self, method: &str, path_and_query: &str) -> Option<usize> {
        self.exchanges.iter().position(|e| e.request.method == method && e.request.path == path_and_query)
    }
}

impl RecordedResponse {
    /// A plain JSON response, for conversations a test scripts from recorded objects.
    pub fn json(status: u16, body: &str) -> RecordedResponse {
        RecordedResponse {
            status,
            headers: BTreeMap::from([("content-type".to_owned(), "application/json".to_owned())]),
            body: body.to_owned(),
            chunks: None,
            ended: None,
            elapsed_ms: None,
        }
    }

    /// A streamed 200 response made of these pieces (each a chunk). `server_ends`: whether the
    /// server closes it when the pieces are used up (else it stays silent, like a watch whose
    /// client hung up).
    pub fn stream(pieces: &[String], server_ends: bool) -> RecordedResponse {
        RecordedResponse {
            status: 200,
            headers: BTreeMap::from([
                ("content-type".to_owned(), "application/json".to_owned()),
                ("transfer-encoding".to_owned(), "chunked".to_owned()),
            ]),
            chunks: Some(pieces.iter().map(|p| RecordedChunk { t_ms: 0.0, data: p.clone() }).collect()),
            body: pieces.concat(),
            ended: if server_ends { None } else { Some("deadline".into()) },
            elapsed_ms: None,
        }
    }

    /// The response head as an `http::response::Parts`.
    pub fn parts(&self) -> http::response::Parts {
        let mut builder = http::Response::builder().status(self.status);
        for (k, v) in &self.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let (parts, ()) = builder.body(()).expect("recorded headers are valid").into_parts();
        parts
    }

    /// The whole response.
    pub fn to_http(&self) -> http::Response<Bytes> {
        http::Response::from_parts(self.parts(), Bytes::from(self.body.clone()))
    }

    /// The body's pieces as recorded (or the whole body as one piece).
    pub fn pieces(&self) -> Vec<Bytes> {
        match &self.chunks {
            Some(chunks) if !chunks.is_empty() => chunks.iter().map(|c| Bytes::from(c.data.clone())).collect(),
            _ if self.body.is_empty() => Vec::new(),
            _ => vec![Bytes::from(self.body.clone())],
        }
    }
}

/// How a stream's body is cut into chunks when it is replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// As recorded.
    AsRecorded,
    /// Into pieces of at most this many bytes (1 = byte by byte), regardless of UTF-8.
    Every(usize),
    /// The whole body in two pieces, cut at this byte offset.
    At(usize),
}

/// What the replayed server does when a stream's recorded body is used up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exhausted {
    /// As recorded: end the stream if the server ended it, else answer reads with a timeout
    /// (reads without a timeout then fail, since the real server kept quiet forever).
    AsRecorded,
    /// End the stream.
    End,
}

/// Replays a scenario against an operation, synchronously, with a virtual clock.
pub struct Replay<'s> {
    scenario: &'s Scenario,
    order: Vec<usize>,
    split: Split,
    exhausted: Exhausted,
    check_body: bool,
    latency: bool,
    allow_unused: bool,
}

/// What an operation did during a replay, for assertions.
#[derive(Debug, Default)]
pub struct Transcript {
    /// The requests it made (method, path and query).
    pub requests: Vec<(String, String)>,
    /// The request bodies it sent.
    pub bodies: Vec<Bytes>,
    /// What each request's step said the transport must honour (deadline, server hold,
    /// attempt), in the order of `requests`.
    pub ios: Vec<clustermanager_core::deadline::Io>,
    /// The waits it asked for (each `WaitUntil` as the time from the poll that asked).
    pub waits: Vec<Duration>,
    /// Virtual time that passed.
    pub elapsed: Duration,
}

/// Whether a query string made by core (`made`) holds the same pairs as a recorded one, whatever
/// their order. A watch's `timeoutSeconds` may be shorter than the recorded one (core shortens it
/// to the caller's time left; the server's answer does not depend on it), never longer.
pub fn same_query(made: Option<&str>, recorded: Option<&str>) -> bool {
    fn pairs(q: Option<&str>) -> (Vec<(String, String)>, Option<u64>) {
        let mut timeout = None;
        let mut v: Vec<(String, String)> = url::form_urlencoded::parse(q.unwrap_or("").as_bytes())
            .into_owned()
            .filter(|(k, v)| {
                if k == "timeoutSeconds" {
                    timeout = Some(v.parse().unwrap_or(u64::MAX));
                    return false;
                }
                true
            })
            .collect();
        v.sort();
        (v, timeout)
    }
    let (made, made_timeout) = pairs(made);
    let (recorded, recorded_timeout) = pairs(recorded);
    let timeout_ok = match (made_timeout, recorded_timeout) {
        (Some(m), Some(r)) => (1..=r).contains(&m),
        (m, r) => m == r,
    };
    made == recorded && timeout_ok
}

/// Assert that a request made by core matches the recorded one: method, path, query pairs (in
/// any order) and, when `check_body`, a JSON-equivalent body (or, when the recorded body is not
/// JSON, the same text).
pub fn assert_request_matches(req: &http::Request<Bytes>, rec: &RecordedRequest, check_body: bool) {
    assert_eq!(req.method().as_str(), rec.method, "method of request to {}", rec.path);
    let (rec_path, rec_query) = match rec.path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rec.path.as_str(), None),
    };
    assert_eq!(req.uri().path(), rec_path, "path");
    assert!(
        same_query(req.uri().query(), rec_query),
        "query of {} {}: made {:?}, recorded {:?}",
        rec.method,
        rec_path,
        req.uri().query(),
        rec_query
    );
    if check_body {
        match rec.body.as_deref() {
            None | Some("") => {
                assert!(req.body().is_empty(), "expected no body, sent {:?}", String::from_utf8_lossy(req.body()))
            }
            // YAML (server-side apply), truncated JSON or plain text: compare byte for byte
            Some(text) if serde_json::from_str::<serde_json::Value>(text).is_err() => {
                assert_eq!(String::from_utf8_lossy(req.body()), text, "non-JSON body of {} {}", rec.method, rec.path);
            }
            Some(text) => {
                let recorded: serde_json::Value = serde_json::from_str(text).expect("recorded body is JSON");
                let sent: serde_json::Value = serde_json::from_slice(req.body()).unwrap_or_else(|e| {
                    panic!("sent body is not JSON ({e}): {:?}", String::from_utf8_lossy(req.body()))
                });
                assert_eq!(sent, recorded, "body of {} {}", rec.method, rec.path);
            }
        }
    }
}

impl<'s> Replay<'s> {
    /// Replay every exchange of `scenario`, in order.
    pub fn new(scenario: &'s Scenario) -> Self {
        Replay {
            scenario,
            order: (0..scenario.exchanges.len()).collect(),
            split: Split::AsRecorded,
            exhausted: Exhausted::AsRecorded,
            check_body: true,
            latency: false,
            allow_unused: false,
        }
    }

    /// Replay only these exchanges, in this order (requests the operation makes must match them
    /// one by one).
    pub fn exchanges(mut self, order: impl IntoIterator<Item = usize>) -> Self {
        self.order = order.into_iter().collect();
        self
    }

    /// Cut streamed bodies this way.
    pub fn split(mut self, split: Split) -> Self {
        self.split = split;
        self
    }

    /// What happens when a stream's recorded body is used up.
    pub fn exhausted(mut self, exhausted: Exhausted) -> Self {
        self.exhausted = exhausted;
        self
    }

    /// Do not compare request bodies (when the recorder's client sent a differently shaped but
    /// equivalent body); method, path and query are still checked.
    pub fn ignore_bodies(mut self) -> Self {
        self.check_body = false;
        self
    }

    /// Let each sent request take the virtual time the server took to answer it (`elapsed_ms`),
    /// so that deadlines (blocking queries that time out, caller timeouts) play out as recorded.
    pub fn recorded_latency(mut self) -> Self {
        self.latency = true;
        self
    }

    /// Let the operation finish before it has used every exchange given to
    /// [`exchanges`](Self::exchanges) (a spare supply, e.g. for retries whose number the test
    /// does not fix). Without this, finishing early fails the test: a request the recording
    /// says was made was not.
    pub fn allow_unused(mut self) -> Self {
        self.allow_unused = true;
        self
    }

    /// Run `op` to its end against the recording; returns its output.
    pub fn run<O: Operation>(self, op: O) -> Result<O::Output, clustermanager_core::Error> {
        self.run_full(op).0
    }

    /// Run `op` to its end; returns its output, the items it yielded and the transcript.
    /// Panics if it makes a request that was not recorded next, makes more requests than were
    /// recorded, or (unless [`allow_unused`](Self::allow_unused)) finishes before making them all.
    pub fn run_full<O: Operation>(
        self,
        mut op: O,
    ) -> (Result<O::Output, clustermanager_core::Error>, Vec<O::Item>, Transcript) {
        let start = Instant::now();
        let mut elapsed = Duration::ZERO;
        let mut next = 0usize;
        let mut items = Vec::new();
        let mut transcript = Transcript::default();
        // the open stream: remaining pieces, and whether the server ends it
        let mut stream: Option<(std::collections::VecDeque<Bytes>, bool)> = None;
        // when the server ends the open stream, in virtual time: as long after its opening as
        // recorded (a watch the server ends after its `timeoutSeconds` lasted that long)
        let mut stream_ends_at = Duration::ZERO;
        for _ in 0..1_000_000 {
            match op.poll(start + elapsed) {
                Step::Send(req, _) | Step::Open(req, _) if next >= self.order.len() => {
                    panic!("operation made a request beyond the recording: {} {}", req.method(), req.uri())
                }
                Step::Send(req, io) => {
                    let ex = &self.scenario.exchanges[self.order[next]];
                    next += 1;
                    assert_request_matches(&req, &ex.request, self.check_body);
                    transcript.requests.push((req.method().to_string(), req.uri().to_string()));
                    transcript.ios.push(io);
                    transcript.bodies.push(req.body().clone());
                    if self.latency {
                        let ms = ex.response.elapsed_ms.unwrap_or(0.0).max(0.0);
                        elapsed += Duration::from_secs_f64(ms / 1000.0);
                    }
                    op.handle(Event::Response(ex.response.to_http()));
                }
                Step::Open(req, io) => {
                    let ex = &self.scenario.exchanges[self.order[next]];
                    next += 1;
                    assert_request_matches(&req, &ex.request, self.check_body);
                    transcript.requests.push((req.method().to_string(), req.uri().to_string()));
                    transcript.ios.push(io);
                    transcript.bodies.push(req.body().clone());
                    if (200..300).contains(&ex.response.status) {
                        let pieces = split_pieces(ex.response.pieces(), self.split);
                        let server_ends = match self.exhausted {
                            Exhausted::End => true,
                            Exhausted::AsRecorded => {
                                ex.response.ended.as_deref() != Some("deadline") && !is_client_ended(ex)
                            }
                        };
                        stream = Some((pieces.into(), server_ends));
                        let lasted = Duration::from_secs_f64(ex.response.elapsed_ms.unwrap_or(0.0).max(0.0) / 1000.0);
                        stream_ends_at = elapsed.saturating_add(lasted);
                        op.handle(Event::Head(ex.response.parts()));
                    } else {
                        stream = None;
                        op.handle(Event::Response(ex.response.to_http()));
                    }
                }
                Step::Read { until } => {
                    let timeout = until.map(|u| u.saturating_duration_since(start + elapsed));
                    let event = match stream.as_mut() {
                        None => {
                            Event::Failed(clustermanager_core::Error::protocol("replay: read without an open stream"))
                        }
                        Some((pieces, server_ends)) => match pieces.pop_front() {
                            Some(piece) => Event::Chunk(piece),
                            None if *server_ends => {
                                stream = None;
                                elapsed = elapsed.max(stream_ends_at);
                                Event::End
                            }
                            None => match timeout {
                                Some(t) => {
                                    elapsed += t;
                                    Event::ReadTimeout
                                }
                                None => {
                                    stream = None;
                                    Event::Failed(clustermanager_core::Error::transport(
                                        clustermanager_core::error::TransportErrorKind::Truncated,
                                        "replay: the recorded stream has no more data and the operation would wait forever",
                                    ))
                                }
                            },
                        },
                    };
                    op.handle(event);
                }
                Step::WaitUntil(at) => {
                    let d = at.saturating_duration_since(start + elapsed);
                    transcript.waits.push(d);
                    elapsed += d;
                }
                Step::Yield(item) => items.push(item),
                Step::Done(result) => {
                    transcript.elapsed = elapsed;
                    assert!(
                        self.allow_unused || next == self.order.len(),
                        "operation finished after {next} of the {} requests it was to make (exchanges {:?} of {:?}); result: {:?}",
                        self.order.len(),
                        self.order,
                        self.scenario.scenario,
                        result.as_ref().err()
                    );
                    return (result, items, transcript);
                }
            }
        }
        panic!("operation did not finish within a million steps");
    }
}

/// Whether the recorder noted that the client closed this stream (Kubernetes watch files say
/// "ended by client" in the comment).
fn is_client_ended(ex: &Exchange) -> bool {
    ex.comment.as_deref().is_some_and(|c| c.contains("ended by client"))
}

pub(crate) fn split_pieces(pieces: Vec<Bytes>, split: Split) -> Vec<Bytes> {
    let whole = || -> Bytes {
        let mut all = Vec::new();
        for p in &pieces {
            all.extend_from_slice(p);
        }
        Bytes::from(all)
    };
    match split {
        Split::AsRecorded => pieces,
        Split::Every(n) => {
            let all = whole();
            all.chunks(n.max(1)).map(Bytes::copy_from_slice).collect()
        }
        Split::At(k) => {
            let all = whole();
            let k = k.min(all.len());
            [all.slice(..k), all.slice(k..)].into_iter().filter(|b| !b.is_empty()).collect()
        }
    }
}
