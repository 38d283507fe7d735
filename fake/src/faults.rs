//! Scripted faults: make the fake answer like a struggling server so a test can see the retry
//! policy, error mapping and watch resumption of clustermanager at work.
//!
//! A [`Fault`] is a matcher (method and path prefix; any when unset), an effect and a count.
//! Faults are checked in the order they were added; the first live one that matches a request
//! fires and its count goes down.
//!
//! ```
//! use clustermanager_fake::{FakeCluster, Fault};
//! let fake = FakeCluster::kubernetes();
//! // The next two job creations get a 503 with Retry-After: 1, then the server answers normally.
//! fake.add_fault(Fault::status(503, "").retry_after(1).on("POST", "/apis/batch/v1/").times(2));
//! ```
//!
//! Besides struggling servers, faults script the hostile and broken ones a client meets in the
//! field: a watch that ends after one event, every time ([`Fault::end_stream_after`] and
//! [`Fault::then_send`]), an in-stream `ERROR` 410 after an event, a Nomad index that is 0,
//! goes backwards or never moves while `index=` is ignored ([`Fault::nomad_index`]), a request
//! that is never answered ([`Fault::hang`]), a proxy that answers 504 when the blocking query's
//! `wait=` passes ([`Fault::after_query_wait`]), a list that repeats its `continue` token
//! ([`Fault::repeat_continue`]), and any status with any body (a 50 MB `Status`).

use std::time::Duration;

use clustermanager_core::error::TransportErrorKind;
use clustermanager_core::Request;

/// What a fault does to the request it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Answer with this status and body instead of the real answer (and `Retry-After` seconds).
    Respond {
        /// The HTTP status.
        status: u16,
        /// The body (sent as `text/plain`, or `application/json` when it starts with `{`).
        body: String,
        /// The `Retry-After` header, in seconds.
        retry_after: Option<u32>,
    },
    /// Fail the request at the transport level, as a refused (`Connect`) or broken (`Io`)
    /// connection.
    Drop(TransportErrorKind),
    /// Let a streamed response (watch, followed log, event stream) deliver this many pieces, then
    /// break the connection (`Io` error).
    CutStream(usize),
    /// Let a streamed response deliver this many pieces, then send `tail` (when not empty) and
    /// end cleanly.
    EndStream {
        /// Pieces of the real stream delivered first.
        after: usize,
        /// Bytes sent after them, just before the end (scripted events).
        tail: Vec<u8>,
    },
    /// Delay the answer by this much virtual time.
    Latency(Duration),
    /// Never answer: the client's own time limit (the step's `Io` deadline, else the fake's
    /// `request_timeout`) passes in virtual time and the request fails with a timeout.
    Hang,
    /// Answer a Nomad read at once, ignoring its `index=`, with this `X-Nomad-Index`.
    Index(IndexLie),
    /// Answer with `status` (a proxy's 504) only when the query's `wait=` / `timeoutSeconds=`
    /// has passed in virtual time.
    AfterQueryWait(u16),
    /// Answer a Kubernetes list with this `metadata.continue` token, whatever page it was.
    RepeatContinue(String),
}

/// What a Nomad server or proxy that ignores `index=` says in `X-Nomad-Index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexLie {
    /// Always `0`.
    Zero,
    /// One less than the index the client blocked on (the real index when it did not block).
    Backwards,
    /// The index the client blocked on (the real index when it did not block).
    Unchanged,
}

/// One scripted fault: see the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    method: Option<String>,
    path_prefix: String,
    /// Match the path exactly (any query), not as a prefix.
    exact: bool,
    effect: Effect,
    remaining: Option<u32>,
}

impl Fault {
    fn new(effect: Effect) -> Self {
        Fault { method: None, path_prefix: String::new(), exact: false, effect, remaining: Some(1) }
    }

    /// Answer `status` with `body` (once, on any request, until narrowed with [`Fault::on`] and
    /// [`Fault::times`]).
    pub fn status(status: u16, body: impl Into<String>) -> Self {
        Fault::new(Effect::Respond { status, body: body.into(), retry_after: None })
    }

    /// Fail at the transport level with `kind` (`Connect`: the request never left; `Io`: the
    /// connection broke).
    pub fn drop_connection(kind: TransportErrorKind) -> Self {
        Fault::new(Effect::Drop(kind))
    }

    /// Break a streamed response after `pieces` pieces (watch events, log lines, frames).
    pub fn cut_stream_after(pieces: usize) -> Self {
        Fault::new(Effect::CutStream(pieces))
    }

    /// Delay the answer by `delay` of virtual time.
    pub fn latency(delay: Duration) -> Self {
        Fault::new(Effect::Latency(delay))
    }

    /// End a streamed response cleanly after `pieces` pieces (0: at once, with nothing), as a
    /// server or proxy that ends every watch early does. Add scripted bytes before the end with
    /// [`then_send`](Self::then_send).
    pub fn end_stream_after(pieces: usize) -> Self {
        Fault::new(Effect::EndStream { after: pieces, tail: Vec::new() })
    }

    /// With [`end_stream_after`](Self::end_stream_after): send `bytes` (e.g. a watch event line:
    /// an `ADDED` object, an `ERROR` 410 `Status`) just before the stream ends.
    pub fn then_send(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        if let Effect::EndStream { tail, .. } = &mut self.effect {
            *tail = bytes.into();
        }
        self
    }

    /// Never answer the request (its head never comes): it fails when the client's time limit
    /// passes in virtual time.
    pub fn hang() -> Self {
        Fault::new(Effect::Hang)
    }

    /// Answer Nomad reads at once, as if `index=` were not there, with `X-Nomad-Index` set as
    /// `lie` says.
    pub fn nomad_index(lie: IndexLie) -> Self {
        Fault::new(Effect::Index(lie))
    }

    /// Answer `status` once the query's `wait=` (or `timeoutSeconds=`) has passed, as a proxy
    /// with a shorter idle timeout than the blocking query does.
    pub fn after_query_wait(status: u16) -> Self {
        Fault::new(Effect::AfterQueryWait(status))
    }

    /// Answer lists with `metadata.continue` set to `token`, page after page.
    pub fn repeat_continue(token: impl Into<String>) -> Self {
        Fault::new(Effect::RepeatContinue(token.into()))
    }

    /// Add a `Retry-After: seconds` header to a [`Fault::status`] answer.
    pub fn retry_after(mut self, seconds: u32) -> Self {
        if let Effect::Respond { retry_after, .. } = &mut self.effect {
            *retry_after = Some(seconds);
        }
        self
    }

    /// Only requests with this method (`"GET"`, ...; empty for any) whose path starts with
    /// `path_prefix`.
    pub fn on(mut self, method: &str, path_prefix: &str) -> Self {
        self.method = (!method.is_empty()).then(|| method.to_ascii_uppercase());
        self.path_prefix = path_prefix.to_owned();
        self
    }

    /// Only requests with this method (empty for any) to exactly this path, whatever their
    /// query: a collection's list and watch (`/api/v1/namespaces/h/pods`) but not its objects.
    pub fn on_path(mut self, method: &str, path: &str) -> Self {
        self = self.on(method, path);
        self.exact = true;
        self
    }

    /// Fire for the next `n` matching requests (default 1).
    pub fn times(mut self, n: u32) -> Self {
        self.remaining = Some(n);
        self
    }

    /// Fire for every matching request, forever.
    pub fn always(mut self) -> Self {
        self.remaining = None;
        self
    }

    fn matches(&self, request: &Request) -> bool {
        self.remaining != Some(0)
            && self.method.as_deref().is_none_or(|m| m == request.method().as_str())
            && if self.exact {
                request.uri().path() == self.path_prefix
            } else {
                request.uri().path().starts_with(&self.path_prefix)
            }
    }
}

/// The faults waiting to fire.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    list: Vec<Fault>,
}

impl Faults {
    pub(crate) fn add(&mut self, fault: Fault) {
        self.list.push(fault);
    }

    /// The effect to apply to `request`, if a fault fires for it. Stream cuts only fire for
    /// requests answered with a stream (`streaming`), every other fault only before answering.
    pub(crate) fn fire(&mut self, request: &Request, streaming: bool) -> Option<Effect> {
        let fault = self.list.iter_mut().find(|f| {
            f.matches(request) && matches!(f.effect, Effect::CutStream(_) | Effect::EndStream { .. }) == streaming
        })?;
        if let Some(n) = fault.remaining.as_mut() {
            *n -= 1;
        }
        let effect = fault.effect.clone();
        self.list.retain(|f| f.remaining != Some(0));
        Some(effect)
    }

    #[cfg(test)]
    fn fire_plain(&mut self, request: &Request) -> Option<Effect> {
        self.fire(request, false)
    }

    pub(crate) fn pending(&self) -> usize {
        self.list.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, path: &str) -> Request {
        http::Request::builder().method(method).uri(path).body(bytes::Bytes::new()).unwrap_or_default()
    }

    #[test]
    fn faults_fire_on_matching_requests_the_given_number_of_times() {
        let mut faults = Faults::default();
        faults.add(Fault::status(503, "busy").on("post", "/apis/").times(2));
        assert_eq!(faults.fire_plain(&req("GET", "/apis/batch/v1/jobs")), None);
        assert!(matches!(
            faults.fire_plain(&req("POST", "/apis/batch/v1/jobs")),
            Some(Effect::Respond { status: 503, .. })
        ));
        assert!(faults.fire_plain(&req("POST", "/apis/batch/v1/jobs")).is_some());
        assert_eq!(faults.fire_plain(&req("POST", "/apis/batch/v1/jobs")), None);
        assert_eq!(faults.pending(), 0);
    }
}
