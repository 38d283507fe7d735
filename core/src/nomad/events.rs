//! Nomad's event stream (`/v1/event/stream`, Nomad ≥ 1.0) as a streaming operation yielding
//! typed [`EventBatch`]es.
//!
//! The body is one JSON document a line (`{"Index":90,"Events":[...]}`), with `{}` heartbeats at
//! once and then every 30 seconds; a document and its newline may arrive in separate chunks. The
//! server never ends the stream on its own in normal operation: the caller stops by dropping the
//! operation (or its driver), by asking to stop at an index ([`EventQuery::until_index`]) or after
//! a quiet spell ([`EventQuery::idle_timeout`]). The operation's output is the index of the last
//! batch seen: resume with [`EventQuery::index`] set to it plus one.
//!
//! ```
//! use clustermanager_core::nomad::{events::{self, EventQuery, Topic}, Context};
//! use clustermanager_core::{Event, Operation, Step};
//!
//! let query = EventQuery::new().topic(Topic::job()).topic(Topic::evaluation()).index(90);
//! let mut op = events::stream(&Context::default(), &query);
//! let now = std::time::Instant::now();
//! let Step::Open(req, _) = op.poll(now) else { unreachable!() };
//! assert_eq!(req.uri(), "/v1/event/stream?topic=Job&topic=Evaluation&index=90");
//! let (head, ()) = http::Response::new(()).into_parts();
//! op.handle(Event::Head(head));
//! assert!(matches!(op.poll(now), Step::Read { .. }));
//! op.handle(Event::Chunk("{}\n{\"Index\":90,\"Events\":[{\"Topic\":\"Job\",\"Type\":\"JobRegistered\",\"Key\":\"a\",\"Namespace\":\"default\",\"FilterKeys\":null,\"Index\":90,\"Payload\":{}}]}\n".into()));
//! let Step::Yield(batch) = op.poll(now) else { unreachable!() };
//! assert_eq!(batch.events[0].kind, "JobRegistered");
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::query::Query;
use super::{check, Context};
use crate::error::{Error, Result};
use crate::lines::{LineSplitter, DEFAULT_MAX_LINE};
use crate::op::{Exchange, ExchangeStep};
use crate::step::{Event as StepEvent, Operation, Step};

/// A topic to subscribe to, optionally narrowed to one key (a job ID, an evaluation ID, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topic {
    /// `Job` events (registered, deregistered, allocation updates of the job).
    Job {
        /// Only events whose key (the job ID) or filter keys match this.
        filter_key: Option<String>,
    },
    /// `Evaluation` events.
    Evaluation {
        /// Only events whose key (evaluation ID) or filter keys (job ID, ...) match this.
        filter_key: Option<String>,
    },
    /// `Allocation` events.
    Allocation {
        /// Only events whose key (allocation ID) or filter keys (job ID, ...) match this.
        filter_key: Option<String>,
    },
    /// `Deployment` events.
    Deployment {
        /// Only events whose key or filter keys match this.
        filter_key: Option<String>,
    },
    /// `Node` events.
    Node {
        /// Only events whose key (node ID) matches this.
        filter_key: Option<String>,
    },
    /// Every topic (`*`).
    All,
    /// Any other topic by name.
    Other {
        /// Topic name as Nomad spells it.
        name: String,
        /// Only events whose key or filter keys match this.
        filter_key: Option<String>,
    },
}

impl Topic {
    /// Every `Job` event.
    pub fn job() -> Topic {
        Topic::Job { filter_key: None }
    }
    /// Every `Evaluation` event.
    pub fn evaluation() -> Topic {
        Topic::Evaluation { filter_key: None }
    }
    /// Every `Allocation` event.
    pub fn allocation() -> Topic {
        Topic::Allocation { filter_key: None }
    }

    /// The topic a `topic=` value names (the inverse of [`render`](Topic::render)): `Job`,
    /// `Job:acm-ok`, `*`; a name Nomad may add later is [`Topic::Other`].
    ///
    /// ```
    /// use clustermanager_core::nomad::events::Topic;
    /// assert_eq!(Topic::parse("Job:acm-ok"), Topic::Job { filter_key: Some("acm-ok".into()) });
    /// assert_eq!(Topic::parse("*"), Topic::All);
    /// assert_eq!(Topic::parse("Service").render(), "Service");
    /// ```
    pub fn parse(text: &str) -> Topic {
        let (name, filter_key) = match text.split_once(':') {
            Some((name, key)) => (name, Some(key.to_owned()).filter(|k| !k.is_empty() && k != "*")),
            None => (text, None),
        };
        match name {
            "*" => Topic::All,
            "Job" => Topic::Job { filter_key },
            "Evaluation" => Topic::Evaluation { filter_key },
            "Allocation" => Topic::Allocation { filter_key },
            "Deployment" => Topic::Deployment { filter_key },
            "Node" => Topic::Node { filter_key },
            other => Topic::Other { name: other.to_owned(), filter_key },
        }
    }

    /// The `topic=` value: `Job`, `Job:acm-ok`, `*`.
    pub fn render(&self) -> String {
        let (name, key) = match self {
            Topic::Job { filter_key } => ("Job", filter_key),
            Topic::Evaluation { filter_key } => ("Evaluation", filter_key),
            Topic::Allocation { filter_key } => ("Allocation", filter_key),
            Topic::Deployment { filter_key } => ("Deployment", filter_key),
            Topic::Node { filter_key } => ("Node", filter_key),
            Topic::All => return "*".to_owned(),
            Topic::Other { name, filter_key } => (name.as_str(), filter_key),
        };
        match key {
            Some(k) => format!("{name}:{k}"),
            None => name.to_owned(),
        }
    }
}

/// What to subscribe to and when to stop; built with [`EventQuery::new`] and its setters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventQuery {
    /// Topics (none: the server sends every topic).
    pub topics: Vec<Topic>,
    /// Start from this index (events still in the server's buffer from there on).
    pub index: Option<u64>,
    /// Namespace (`*` for all); `None` takes the context's.
    pub namespace: Option<String>,
    /// End cleanly when nothing (not even a heartbeat) arrived for this long. Nomad sends a
    /// heartbeat every 30 s, so a value above that only fires on a dead connection.
    pub idle_timeout: Option<Duration>,
    /// End cleanly once a batch with at least this index was yielded.
    pub until_index: Option<u64>,
    /// Longest accepted line (default [`DEFAULT_MAX_LINE`]).
    pub max_line: usize,
}

impl Default for EventQuery {
    fn default() -> Self {
        EventQuery::new()
    }
}

impl EventQuery {
    /// Every topic from now on, until the caller stops.
    pub fn new() -> Self {
        EventQuery {
            topics: Vec::new(),
            index: None,
            namespace: None,
            idle_timeout: None,
            until_index: None,
            max_line: DEFAULT_MAX_LINE,
        }
    }
    /// Add a topic.
    pub fn topic(mut self, topic: Topic) -> Self {
        self.topics.push(topic);
        self
    }
    /// Start from this index.
    pub fn index(mut self, index: u64) -> Self {
        self.index = Some(index);
        self
    }
    /// Namespace to watch (`*` for all).
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }
    /// End after this long without data.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }
    /// End once a batch at or past this index was yielded.
    pub fn until_index(mut self, index: u64) -> Self {
        self.until_index = Some(index);
        self
    }

    fn path_and_query(&self, ctx: &Context) -> String {
        let q = self.topics.iter().fold(Query::new(ctx, "/v1/event/stream"), |q, t| q.param("topic", t.render()));
        q.param_opt("index", self.index.map(|i| i.to_string()))
            .namespace(ctx, self.namespace.as_deref().unwrap_or_default())
            .path_and_query()
    }
}

/// The events committed at one Raft index.
#[derive(Debug, Deserialize)]
pub struct EventBatch {
    /// The Raft index.
    #[serde(rename = "Index")]
    pub index: u64,
    /// The events.
    #[serde(rename = "Events", default, deserialize_with = "null_as_default")]
    pub events: Vec<Event>,
}

/// One event.
#[derive(Debug, Deserialize)]
pub struct Event {
    /// `Job`, `Evaluation`, `Allocation`, `Deployment`, `Node`, ...
    #[serde(rename = "Topic")]
    pub topic: String,
    /// What happened (`JobRegistered`, `PlanResult`, `EvaluationUpdated`, `JobDeregistered`, ...).
    #[serde(rename = "Type")]
    pub kind: String,
    /// The object's key (job ID, evaluation ID, ...).
    #[serde(rename = "Key", default)]
    pub key: String,
    /// The object's namespace.
    #[serde(rename = "Namespace", default)]
    pub namespace: String,
    /// Further keys the event matches in a topic filter (the job ID of an evaluation, ...).
    #[serde(rename = "FilterKeys", default, deserialize_with = "null_as_default")]
    pub filter_keys: Vec<String>,
    /// The Raft index of the event.
    #[serde(rename = "Index", default)]
    pub index: u64,
    /// The payload (`{"Job": {...}}`, `{"Evaluation": {...}}`), raw; see [`Event::payload_as`].
    #[serde(rename = "Payload")]
    pub payload: Box<RawValue>,
}

impl Event {
    /// Decode the payload into a type of the caller's choosing.
    pub fn payload_as<T: DeserializeOwned>(&self) -> Result<T> {
        let text = self.payload.get();
        serde_json::from_str(text).map_err(|e| Error::decode("Nomad event payload", e, text.as_bytes()))
    }
}

fn null_as_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Parse one line of the stream; `None` for a heartbeat or a blank line.
pub fn parse_line(line: &[u8]) -> Result<Option<EventBatch>> {
    let trimmed = line.trim_ascii();
    if trimmed.is_empty() || trimmed == b"{}" {
        return Ok(None);
    }
    serde_json::from_slice(trimmed).map(Some).map_err(|e| Error::decode("Nomad event stream line", e, trimmed))
}

#[derive(Debug)]
enum Phase {
    Opening(Box<Exchange>),
    Streaming,
    Finished,
}

/// The event stream operation returned by [`stream`].
#[derive(Debug)]
pub struct EventStream {
    phase: Phase,
    splitter: LineSplitter,
    queue: VecDeque<EventBatch>,
    error: Option<Error>,
    /// The stream ended (cleanly or by the stop rules); output once the queue is drained.
    ended: bool,
    idle_timeout: Option<Duration>,
    until_index: Option<u64>,
    last_index: Option<u64>,
}

/// Subscribe to the event stream. Items are [`EventBatch`]es (heartbeats are skipped); the
/// output is the index of the last batch yielded (`None` if there was none).
///
/// ```
/// use std::time::Duration;
/// use clustermanager_core::nomad::{events::{self, EventQuery, Topic}, Context};
/// use clustermanager_core::{Operation, Step};
/// let query = EventQuery::new()
///     .topic(Topic::Job { filter_key: Some("acm-ok".into()) })
///     .namespace("*")
///     .idle_timeout(Duration::from_secs(60));
/// let mut op = events::stream(&Context::default(), &query);
/// let Step::Open(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(req.uri(), "/v1/event/stream?topic=Job%3Aacm-ok&namespace=*");
/// ```
pub fn stream(ctx: &Context, query: &EventQuery) -> EventStream {
    let uri = query.path_and_query(ctx);
    let (phase, error) = match crate::step::request(http::Method::GET, &uri, None) {
        Ok(req) => (Phase::Opening(Box::new(Exchange::open(req, &ctx.retry))), None),
        Err(e) => (Phase::Finished, Some(e)),
    };
    EventStream {
        phase,
        splitter: LineSplitter::new("Nomad event stream", query.max_line),
        queue: VecDeque::new(),
        error,
        ended: false,
        idle_timeout: query.idle_timeout,
        until_index: query.until_index,
        last_index: None,
    }
}

impl EventStream {
    fn drain_lines(&mut self) {
        loop {
            match self.splitter.next_line() {
                Ok(Some(line)) => self.take_line(&line),
                Ok(None) => return,
                Err(e) => {
                    self.error = Some(e);
                    return;
                }
            }
            if self.error.is_some() {
                return;
            }
        }
    }

    fn take_line(&mut self, line: &[u8]) {
        match parse_line(line) {
            Ok(Some(batch)) => self.queue.push_back(batch),
            Ok(None) => {}
            Err(e) => self.error = Some(e),
        }
    }
}

impl Operation for EventStream {
    type Output = Option<u64>;
    type Item = EventBatch;

    fn poll(&mut self, now: Instant) -> Step<Option<u64>, EventBatch> {
        if let Some(batch) = self.queue.pop_front() {
            self.last_index = Some(batch.index);
            if self.until_index.is_some_and(|until| batch.index >= until) {
                self.ended = true;
                self.queue.clear();
            }
            return Step::Yield(batch);
        }
        if let Some(err) = self.error.take() {
            self.phase = Phase::Finished;
            return Step::Done(Err(err));
        }
        if self.ended {
            self.phase = Phase::Finished;
            return Step::Done(Ok(self.last_index));
        }
        match &mut self.phase {
            Phase::Opening(exchange) => match exchange.poll(now) {
                ExchangeStep::Send(req, io) => Step::Open(req, io),
                ExchangeStep::WaitUntil(at) => Step::WaitUntil(at),
                ExchangeStep::Done(result) => match result.and_then(check) {
                    Ok(_) => {
                        self.phase = Phase::Streaming;
                        Step::Read { until: self.idle_timeout.map(|t| crate::deadline::later(now, t)) }
                    }
                    Err(e) => {
                        self.phase = Phase::Finished;
                        Step::Done(Err(e))
                    }
                },
            },
            Phase::Streaming => Step::Read { until: self.idle_timeout.map(|t| crate::deadline::later(now, t)) },
            Phase::Finished => Step::Done(Err(Error::protocol("event stream polled after it finished"))),
        }
    }

    fn handle(&mut self, event: StepEvent) {
        match (&mut self.phase, event) {
            (Phase::Opening(exchange), event) => exchange.handle(event),
            (Phase::Streaming, StepEvent::Chunk(bytes)) => {
                self.splitter.push(&bytes);
                self.drain_lines();
            }
            (Phase::Streaming, StepEvent::End) => {
                // A last document without its newline still counts.
                if let Some(rest) = self.splitter.finish() {
                    self.take_line(&rest);
                }
                self.ended = true;
            }
            (Phase::Streaming, StepEvent::ReadTimeout) => self.ended = true,
            (Phase::Streaming, StepEvent::Failed(e)) => self.error = Some(e),
            (_, other) => {
                self.error = Some(Error::protocol(format!("unexpected event for the Nomad event stream: {other:?}")))
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn topics_render() {
        let q = EventQuery::new()
            .topic(Topic::Job { filter_key: Some("acm-no-such-job".into()) })
            .topic(Topic::All)
            .namespace("*");
        assert_eq!(
            q.path_and_query(&Context::default()),
            "/v1/event/stream?topic=Job%3Aacm-no-such-job&topic=*&namespace=*"
        );
        assert_eq!(EventQuery::new().path_and_query(&Context::default()), "/v1/event/stream");
    }

    #[test]
    fn heartbeats_and_blank_lines_are_skipped() {
        assert!(parse_line(b"{}").unwrap().is_none());
        assert!(parse_line(b"  \r").unwrap().is_none());
        assert!(matches!(parse_line(b"{\"Index\":"), Err(Error::Decode { .. })));
        let b = parse_line(br#"{"Index":3,"Events":null}"#).unwrap().unwrap();
        assert_eq!((b.index, b.events.len()), (3, 0));
    }
}
