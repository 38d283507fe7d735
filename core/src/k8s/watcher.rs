//! The reusable list + watch state machine behind every Kubernetes wait.
//!
//! A [`Watcher`] keeps an up-to-date view of a filtered collection (`fieldSelector`,
//! `labelSelector`) without polling:
//!
//! 1. **List** the collection (or start from a resourceVersion the caller already has, e.g. from
//!    the answer to a create or delete) to learn a `resourceVersion`.
//! 2. **Watch** from it: `?watch=1&resourceVersion=RV&allowWatchBookmarks=true&timeoutSeconds=N`
//!    opened as a stream ([`Step::Open`]), read with [`Step::Read`]
//!    whose timeout ends at the caller's deadline; every chunk goes through a
//!    [`WatchDecoder`], so events may be cut anywhere.
//! 3. Every event and bookmark moves the remembered resourceVersion forward. When the server
//!    ends the stream (its `timeoutSeconds` passed) the watch is **resumed** from there at once
//!    (after a back-off if it ended within [`MIN_WATCH_LIFETIME`] of opening, whatever it
//!    delivered, so that a server ending every watch at once is not hammered);
//!    when the connection fails (transport error, a read that stays silent for longer than the
//!    server's timeout, a 5xx) it is resumed after a **backoff** of 800 ms doubling to 30 s, with
//!    jitter (each delay drawn uniformly from its upper half), reset after 2 minutes of health —
//!    what client-go and kube-rs do.
//! 4. A **410 Gone** (the resourceVersion was compacted away) — as an HTTP 410 to the watch
//!    request, or as an in-stream `ERROR` event with `code: 410` (the form kube-apiserver uses,
//!    see `acm-14`) — makes it **re-list**, and the caller gets the whole current state again
//!    ([`Update::Listed`]); after a back-off when the last list is less than
//!    [`MIN_RELIST_INTERVAL`] old, whatever events came between.
//! 5. The caller's deadline bounds everything: each request step carries it in its
//!    [`Io`], each watch's `timeoutSeconds` is shortened to it,
//!    back-offs are clamped to it, and when it passes the watcher finishes with
//!    [`Error::Timeout`].
//!
//! The caller decides what it waits for: [`Until`] runs a watcher with a judging closure as an
//! [`Operation`], and [`UntilGone`](super::gone::UntilGone) deletes an object and waits for its `DELETED` event.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use super::check;
use super::object::{parse_list, Versioned};
use super::watch::{WatchDecoder, WatchEvent};
use crate::deadline::{later, Deadline, Hold, Io};
use crate::error::{Error, Result};
use crate::op::{Exchange, ExchangeStep};
use crate::retry::{Jitter, Retry};
use crate::step::{self, Event, Operation, Request, Step};

/// Server-side `timeoutSeconds` of a watch request (kube-rs uses the same): below the 5 minute
/// idle timeouts of common load balancers.
pub const DEFAULT_WATCH_TIMEOUT_SECONDS: u32 = 290;
/// First backoff after a failed watch ([`WATCH_RESUME`](crate::retry::WATCH_RESUME)).
pub const BACKOFF_INITIAL: Duration = crate::retry::WATCH_RESUME.initial;
/// Largest backoff between failed watches.
pub const BACKOFF_MAX: Duration = crate::retry::WATCH_RESUME.max;
/// A watch that stayed healthy this long resets the backoff.
pub const BACKOFF_RESET: Duration = Duration::from_secs(120);
/// A read that stays silent this long past the server's `timeoutSeconds` means a dead connection.
pub const READ_GRACE: Duration = Duration::from_secs(30);
/// A watch stream that ends (cleanly or not) sooner than this after it opened is resumed only
/// after a back-off, whatever it delivered: a server or proxy that ends every watch at once must
/// not be hammered with watch requests.
pub const MIN_WATCH_LIFETIME: Duration = Duration::from_secs(1);
/// A 410 Gone this soon after a list is not cured by listing again at once: the re-list is backed
/// off, whatever events came between.
pub const MIN_RELIST_INTERVAL: Duration = BACKOFF_RESET;

fn encode_query(pairs: &[(&str, &str)]) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        ser.append_pair(k, v);
    }
    ser.finish()
}

/// What a [`Watcher`] follows: a collection path, its filters, the server-side timeout of each
/// watch request and what it is waited for (for errors). The options of one raw watch request
/// are [`api::WatchParams`](super::api::WatchParams).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchTarget {
    /// Collection path (`/api/v1/namespaces/acm/pods`).
    pub path: String,
    /// `fieldSelector` (`metadata.name=x`).
    pub field_selector: Option<String>,
    /// `labelSelector` (`job-name=x`).
    pub label_selector: Option<String>,
    /// Server-side `timeoutSeconds` of each watch request.
    pub timeout_seconds: u32,
    /// Ask for bookmarks (`allowWatchBookmarks=true`).
    pub bookmarks: bool,
    /// What is being waited for, for error messages (`job acm-run/printer`).
    pub what: String,
}

impl WatchTarget {
    /// Watch the collection at `path`; `what` names it in errors.
    pub fn new(path: impl Into<String>, what: impl Into<String>) -> Self {
        WatchTarget {
            path: path.into(),
            field_selector: None,
            label_selector: None,
            timeout_seconds: DEFAULT_WATCH_TIMEOUT_SECONDS,
            bookmarks: true,
            what: what.into(),
        }
    }

    /// Only objects matching this field selector.
    pub fn fields(mut self, selector: impl Into<String>) -> Self {
        self.field_selector = Some(selector.into());
        self
    }

    /// Only objects matching this label selector.
    pub fn labels(mut self, selector: impl Into<String>) -> Self {
        self.label_selector = Some(selector.into());
        self
    }

    /// Server-side timeout of each watch request.
    pub fn timeout_seconds(mut self, seconds: u32) -> Self {
        self.timeout_seconds = seconds;
        self
    }

    fn selectors(&self) -> Vec<(&str, &str)> {
        let mut pairs = Vec::new();
        if let Some(f) = &self.field_selector {
            pairs.push(("fieldSelector", f.as_str()));
        }
        if let Some(l) = &self.label_selector {
            pairs.push(("labelSelector", l.as_str()));
        }
        pairs
    }

    /// The list request (`GET path?fieldSelector=..&labelSelector=..`).
    pub fn list_request(&self) -> Result<Request> {
        let pairs = self.selectors();
        let uri = if pairs.is_empty() { self.path.clone() } else { format!("{}?{}", self.path, encode_query(&pairs)) };
        step::request(http::Method::GET, &uri, None)
    }

    /// The watch request from `resource_version`, and how long the server holds it.
    pub fn watch_request(&self, resource_version: &str) -> Result<(Request, Hold)> {
        self.watch_request_within(resource_version, None)
    }

    /// The watch request from `resource_version`, its `timeoutSeconds` shortened to `left` (the
    /// caller's time left, rounded up to a whole second) when that is shorter, and the
    /// [`Hold`] (that many seconds) its exchange carries.
    pub fn watch_request_within(&self, resource_version: &str, left: Option<Duration>) -> Result<(Request, Hold)> {
        let seconds = match left {
            Some(left) => {
                let whole = left.as_secs().saturating_add(u64::from(left.subsec_nanos() > 0)).max(1);
                u32::try_from(whole).unwrap_or(u32::MAX).min(self.timeout_seconds)
            }
            None => self.timeout_seconds,
        };
        let timeout = seconds.to_string();
        let mut pairs = vec![("watch", "1"), ("resourceVersion", resource_version)];
        if self.bookmarks {
            pairs.push(("allowWatchBookmarks", "true"));
        }
        pairs.push(("timeoutSeconds", timeout.as_str()));
        pairs.extend(self.selectors());
        let request = step::request(http::Method::GET, &format!("{}?{}", self.path, encode_query(&pairs)), None)?;
        Ok((request, Hold::Server(Duration::from_secs(u64::from(seconds)))))
    }
}

/// What the watched collection did.
#[derive(Debug, Clone, PartialEq)]
pub enum Update<T> {
    /// The whole current state: after the initial list, and again after a re-list (410).
    Listed(Vec<T>),
    /// An object appeared.
    Added(T),
    /// An object changed.
    Modified(T),
    /// An object was deleted (its last state).
    Deleted(T),
}

/// What a [`Watcher`] wants next: the I/O steps of [`Step`], an update for its owner, or its end.
#[derive(Debug)]
pub enum WatchStep<T> {
    /// Send a request (a list).
    Send(Request, Io),
    /// Open a stream (a watch).
    Open(Request, Io),
    /// Read the open stream.
    Read {
        /// Until the caller's deadline, or the server's timeout plus [`READ_GRACE`].
        until: Option<Instant>,
    },
    /// Back off until this instant.
    WaitUntil(Instant),
    /// Something changed; poll again for more.
    Update(Update<T>),
    /// The watch cannot go on: the deadline passed ([`Error::Timeout`]) or the server refused.
    Failed(Error),
}

impl<T> WatchStep<T> {
    /// The [`Step`] an operation returns for this watch step, or the update for it to judge.
    pub fn into_step<O, I>(self) -> std::result::Result<Step<O, I>, Update<T>> {
        match self {
            WatchStep::Send(r, io) => Ok(Step::Send(r, io)),
            WatchStep::Open(r, io) => Ok(Step::Open(r, io)),
            WatchStep::Read { until } => Ok(Step::Read { until }),
            WatchStep::WaitUntil(at) => Ok(Step::WaitUntil(at)),
            WatchStep::Failed(e) => Ok(Step::Done(Err(e))),
            WatchStep::Update(u) => Err(u),
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Stream {
    ended: bool,
    timed_out: bool,
    failed: bool,
}

#[derive(Debug)]
enum State {
    Start,
    Listing(Exchange),
    Opening(Exchange),
    Streaming(Stream),
    Backoff { relist: bool, delay: Option<Duration> },
    Done,
}

/// The list + watch state machine (see the module docs). Drive it with [`Watcher::poll`] and
/// [`Watcher::handle`], like an [`Operation`].
#[derive(Debug)]
pub struct Watcher<T> {
    params: WatchTarget,
    retry: Retry,
    deadline: Deadline,
    resource_version: Option<String>,
    state: State,
    decoder: WatchDecoder<T>,
    failures: u32,
    healthy_since: Option<Instant>,
    opened_at: Option<Instant>,
    /// When the last list was answered: a 410 within [`MIN_RELIST_INTERVAL`] of it is backed off.
    listed_at: Option<Instant>,
    jitter: Jitter,
    last_now: Option<Instant>,
    /// A driver fed an event that makes no sense in the current state.
    broken: Option<Error>,
}

impl<T: DeserializeOwned + Versioned> Watcher<T> {
    /// A watcher that lists first, then watches. `timeout` bounds the whole wait.
    pub fn new(params: WatchTarget, retry: &Retry, timeout: Option<Duration>) -> Self {
        Self::within(params, retry, Deadline::new(timeout))
    }

    /// A watcher that lists first, then watches, until `deadline` (started at the first poll
    /// unless already started: a caller that read something first shares its deadline).
    pub fn within(params: WatchTarget, retry: &Retry, deadline: Deadline) -> Self {
        let mut h: u64 = retry.seed ^ 0x5741_5443_4845_5221;
        for b in params.path.as_bytes() {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01B3);
        }
        Watcher {
            params,
            retry: retry.clone(),
            deadline,
            resource_version: None,
            state: State::Start,
            decoder: WatchDecoder::default(),
            failures: 0,
            healthy_since: None,
            opened_at: None,
            listed_at: None,
            jitter: Jitter::new(h),
            last_now: None,
            broken: None,
        }
    }

    /// A watcher that starts watching from `resource_version` (from an object the caller just
    /// created, read or deleted) without listing first.
    pub fn from_version(params: WatchTarget, retry: &Retry, timeout: Option<Duration>, resource_version: &str) -> Self {
        Self::new(params, retry, timeout).resuming(resource_version)
    }

    /// Start watching from `resource_version` (when not empty) without listing first.
    pub fn resuming(mut self, resource_version: &str) -> Self {
        if !resource_version.is_empty() {
            self.resource_version = Some(resource_version.to_owned());
        }
        self
    }

    /// The last resourceVersion seen (from the list, an event or a bookmark).
    pub fn resource_version(&self) -> Option<&str> {
        self.resource_version.as_deref()
    }

    fn expired(&self, now: Instant) -> bool {
        self.deadline.passed(now)
    }

    /// Finish with the caller's [`Error::Timeout`].
    fn time_out(&mut self) -> WatchStep<T> {
        let err = self.deadline.timed_out(&self.params.what);
        self.fail(err)
    }

    fn fail(&mut self, err: Error) -> WatchStep<T> {
        self.state = State::Done;
        WatchStep::Failed(err)
    }

    fn list(&mut self) -> Result<State> {
        Ok(State::Listing(Exchange::send(self.params.list_request()?, &self.retry).within(self.deadline)))
    }

    fn open(&mut self, now: Instant) -> Result<State> {
        match self.resource_version.clone() {
            Some(rv) => {
                let (request, hold) = self.params.watch_request_within(&rv, self.deadline.left(now))?;
                // one attempt: a failed open is resumed by the watcher's own back-off, with a
                // `timeoutSeconds` recomputed from the time left
                Ok(State::Opening(Exchange::open(request, &self.retry).holding(hold).within(self.deadline).once()))
            }
            None => self.list(),
        }
    }

    /// A 410 Gone: list again, at once unless the last list was recent (then after a back-off:
    /// a server that expires every fresh resourceVersion must not be hammered).
    fn gone(&mut self, now: Instant) {
        if self.listed_at.is_some_and(|t| now.saturating_duration_since(t) < MIN_RELIST_INTERVAL) {
            self.backoff(true);
        } else {
            self.resource_version = None;
            self.state = State::Start;
        }
    }

    /// Schedule a resume (or re-list) after a failure, with backoff.
    fn backoff(&mut self, relist: bool) {
        let now = self.last_now;
        if let (Some(since), Some(now)) = (self.healthy_since, now) {
            if now.saturating_duration_since(since) >= BACKOFF_RESET {
                self.failures = 0;
            }
        }
        self.healthy_since = None;
        self.failures = self.failures.saturating_add(1);
        let delay = crate::retry::WATCH_RESUME.nth_jittered(self.failures, &mut self.jitter);
        tracing::debug!(what = %self.params.what, failures = self.failures, ?delay, "watch interrupted; backing off");
        self.state = State::Backoff { relist, delay: Some(delay) };
    }

    /// Back off until `until`, clamped to the deadline (the next poll then times out).
    fn wait(&mut self, now: Instant, until: Instant) -> WatchStep<T> {
        if self.expired(now) {
            return self.time_out();
        }
        WatchStep::WaitUntil(self.deadline.clamp_until(until))
    }

    /// A failed list or watch request: resumed after a back-off when worth it, else the end
    /// (a timeout once the deadline has passed, whatever the transport said).
    fn failed(&mut self, now: Instant, err: Error, relist: bool) -> Option<WatchStep<T>> {
        if self.expired(now) {
            return Some(self.time_out());
        }
        if resumable(&err) {
            self.backoff(relist);
            None
        } else {
            Some(self.fail(err))
        }
    }

    /// Act on one decoded event: `Some` step for the caller, `None` to go on.
    fn on_event(&mut self, now: Instant, event: WatchEvent<T>) -> Option<WatchStep<T>> {
        let update = match event {
            WatchEvent::Added(o) => Update::Added(o),
            WatchEvent::Modified(o) => Update::Modified(o),
            WatchEvent::Deleted(o) => Update::Deleted(o),
            WatchEvent::Bookmark { resource_version } => {
                self.resource_version = Some(resource_version);
                return None;
            }
            WatchEvent::Error(status) if status.code == 410 => {
                tracing::debug!(what = %self.params.what, "watch resourceVersion expired; listing again");
                self.gone(now);
                return None;
            }
            WatchEvent::Error(status) if status.code >= 500 || status.code == 429 => {
                self.backoff(false);
                return None;
            }
            WatchEvent::Error(status) => return Some(self.fail(status.to_error())),
        };
        let (Update::Added(o) | Update::Modified(o) | Update::Deleted(o)) = &update else {
            return None;
        };
        let rv = o.resource_version();
        if !rv.is_empty() {
            self.resource_version = Some(rv.to_owned());
        }
        Some(WatchStep::Update(update))
    }

    /// The next step.
    pub fn poll(&mut self, now: Instant) -> WatchStep<T> {
        self.last_now = Some(now);
        // `Duration::MAX` (or any timeout past the clock's range) means "no limit".
        self.deadline.start(now);
        if let Some(err) = self.broken.take() {
            return self.fail(err);
        }
        loop {
            match &mut self.state {
                State::Done => return WatchStep::Failed(Error::protocol("watcher polled after it finished")),
                State::Start => match self.open(now) {
                    Ok(s) => self.state = s,
                    Err(e) => return self.fail(e),
                },
                State::Backoff { relist, delay } => {
                    let relist = *relist;
                    if let Some(d) = delay.take() {
                        return self.wait(now, later(now, d));
                    }
                    if self.expired(now) {
                        return self.time_out();
                    }
                    if relist {
                        self.resource_version = None;
                    }
                    self.state = State::Start;
                }
                State::Listing(ex) => match ex.poll(now) {
                    ExchangeStep::Send(req, _) if self.expired(now) => {
                        drop(req);
                        return self.time_out();
                    }
                    ExchangeStep::Send(req, io) => return WatchStep::Send(req, io),
                    ExchangeStep::WaitUntil(at) => return self.wait(now, at),
                    ExchangeStep::Done(Ok(resp)) => {
                        let list = check(resp).and_then(|r| parse_list::<T>(&self.params.what, r.body()));
                        match list {
                            Ok(list) => {
                                self.resource_version = Some(list.resource_version);
                                self.listed_at = Some(now);
                                self.state = State::Start;
                                return WatchStep::Update(Update::Listed(list.items));
                            }
                            Err(e) => return self.fail(e),
                        }
                    }
                    ExchangeStep::Done(Err(e)) => {
                        if let Some(step) = self.failed(now, e, true) {
                            return step;
                        }
                    }
                },
                State::Opening(ex) => match ex.poll(now) {
                    ExchangeStep::Send(req, _) if self.expired(now) => {
                        drop(req);
                        return self.time_out();
                    }
                    ExchangeStep::Send(req, io) => return WatchStep::Open(req, io),
                    ExchangeStep::WaitUntil(at) => return self.wait(now, at),
                    ExchangeStep::Done(Ok(resp)) if resp.status().is_success() => {
                        super::warn(resp.headers());
                        self.decoder = WatchDecoder::default();
                        self.healthy_since.get_or_insert(now);
                        self.opened_at = Some(now);
                        self.state = State::Streaming(Stream::default());
                    }
                    ExchangeStep::Done(Ok(resp)) if resp.status() == http::StatusCode::GONE => {
                        tracing::debug!(what = %self.params.what, "watch answered 410 Gone; listing again");
                        self.gone(now);
                    }
                    ExchangeStep::Done(Ok(resp)) => {
                        let err = match check(resp) {
                            Err(e) => e,
                            Ok(_) => Error::protocol("watch answered neither success nor failure"),
                        };
                        if let Some(step) = self.failed(now, err, false) {
                            return step;
                        }
                    }
                    ExchangeStep::Done(Err(e)) => {
                        if let Some(step) = self.failed(now, e, false) {
                            return step;
                        }
                    }
                },
                State::Streaming(stream) => {
                    let stream = *stream;
                    match self.decoder.next_event() {
                        Ok(Some(event)) => {
                            if let Some(step) = self.on_event(now, event) {
                                return step;
                            }
                            continue;
                        }
                        Ok(None) => {}
                        Err(e) => return self.fail(e),
                    }
                    if stream.failed {
                        self.backoff(false);
                    } else if stream.ended {
                        // an event without its newline at the very end is still an event
                        let last = match self.decoder.finish() {
                            Ok(last) => last,
                            // cut in the middle of an event (a proxy gave up): resume from the last one
                            Err(e) if resumable(&e) => {
                                self.backoff(false);
                                continue;
                            }
                            Err(e) => return self.fail(e),
                        };
                        let step = last.and_then(|event| self.on_event(now, event));
                        if matches!(self.state, State::Streaming(_)) {
                            let quick =
                                self.opened_at.is_some_and(|t| now.saturating_duration_since(t) < MIN_WATCH_LIFETIME);
                            if quick {
                                // a server that ends every watch at once (with or without an
                                // event) must not be hammered: resume after a back-off
                                self.backoff(false);
                            } else {
                                self.state = State::Start;
                            }
                        }
                        if let Some(step) = step {
                            return step;
                        }
                    } else if stream.timed_out {
                        if self.expired(now) {
                            return self.time_out();
                        }
                        tracing::debug!(what = %self.params.what, "watch stream went silent; reconnecting");
                        self.backoff(false);
                    } else if self.expired(now) {
                        return self.time_out();
                    } else {
                        let liveness = Duration::from_secs(u64::from(self.params.timeout_seconds)) + READ_GRACE;
                        return WatchStep::Read { until: Some(self.deadline.clamp_until(later(now, liveness))) };
                    }
                }
            }
        }
    }

    /// The outcome of the last step.
    pub fn handle(&mut self, event: Event) {
        match &mut self.state {
            State::Listing(ex) | State::Opening(ex) => ex.handle(event),
            State::Streaming(s) => match event {
                Event::Chunk(bytes) => self.decoder.push(&bytes),
                Event::End => s.ended = true,
                Event::ReadTimeout => s.timed_out = true,
                Event::Failed(err) => {
                    tracing::debug!(what = %self.params.what, error = %err, "watch stream failed");
                    s.failed = true;
                }
                other => {
                    self.broken = Some(Error::protocol(format!("unexpected event while watching: {other:?}")));
                }
            },
            State::Start | State::Backoff { .. } | State::Done => {}
        }
    }
}

/// Whether a failure to list or watch is worth resuming after a backoff.
pub(crate) fn resumable(err: &Error) -> bool {
    match err {
        Error::Transport { .. } | Error::TooManyRequests(_) => true,
        Error::Server(api) => matches!(api.status, 502..=504),
        _ => false,
    }
}

/// An [`Operation`] that runs a [`Watcher`] until `judge` decides: the closure sees every
/// [`Update`] and returns `Some(result)` to finish.
pub struct Until<T, F> {
    watcher: Watcher<T>,
    judge: F,
    done: bool,
}

impl<T, F> std::fmt::Debug for Until<T, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Until").field("what", &self.watcher.params.what).field("done", &self.done).finish()
    }
}

impl<T, O, F> Until<T, F>
where
    T: DeserializeOwned + Versioned,
    F: FnMut(Update<T>) -> Option<Result<O>>,
{
    /// Watch with `watcher` until `judge` returns a result.
    pub fn new(watcher: Watcher<T>, judge: F) -> Self {
        Until { watcher, judge, done: false }
    }
}

impl<T, O, F> Operation for Until<T, F>
where
    T: DeserializeOwned + Versioned,
    F: FnMut(Update<T>) -> Option<Result<O>>,
{
    type Output = O;
    type Item = Infallible;

    fn poll(&mut self, now: Instant) -> Step<O> {
        if self.done {
            return Step::Done(Err(Error::protocol("wait polled after it finished")));
        }
        loop {
            match self.watcher.poll(now).into_step() {
                Ok(step) => {
                    self.done = matches!(step, Step::Done(_));
                    return step;
                }
                Err(update) => {
                    if let Some(result) = (self.judge)(update) {
                        self.done = true;
                        return Step::Done(result);
                    }
                }
            }
        }
    }

    fn handle(&mut self, event: Event) {
        self.watcher.handle(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::object::Thin;

    #[test]
    fn watch_request_carries_bookmarks_timeout_and_selectors() {
        let p = WatchTarget::new("/apis/batch/v1/namespaces/a/jobs", "job a/x").fields("metadata.name=x");
        let req = p.watch_request("42").map_err(|e| e.to_string());
        let Ok((req, hold)) = req else { panic!("{req:?}") };
        assert_eq!(
            hold,
            Hold::Server(Duration::from_secs(290)),
            "the transport learns the server's hold from the step"
        );
        assert_eq!(req.uri().path(), "/apis/batch/v1/namespaces/a/jobs");
        assert_eq!(
            req.uri().query(),
            Some("watch=1&resourceVersion=42&allowWatchBookmarks=true&timeoutSeconds=290&fieldSelector=metadata.name%3Dx")
        );
        let list = p.list_request().map_err(|e| e.to_string());
        assert_eq!(
            list.map(|r| r.uri().to_string()).ok().as_deref(),
            Some("/apis/batch/v1/namespaces/a/jobs?fieldSelector=metadata.name%3Dx")
        );
    }

    fn response(status: u16, body: &str) -> Event {
        let resp = http::Response::builder().status(status).body(bytes::Bytes::from(body.to_owned()));
        Event::Response(resp.unwrap_or_default())
    }

    fn head() -> Event {
        Event::Head(http::Response::builder().status(200).body(()).unwrap_or_default().into_parts().0)
    }

    fn query_of(step: WatchStep<Thin>) -> String {
        match step {
            WatchStep::Send(r, _) | WatchStep::Open(r, _) => r.uri().query().unwrap_or_default().to_owned(),
            other => panic!("expected a request, got {other:?}"),
        }
    }

    /// A connection that drops in the middle of a watch (the transport reports a failure) is
    /// resumed after a backoff from the last resourceVersion seen, without listing again.
    #[test]
    fn a_dropped_connection_resumes_from_the_last_resource_version() {
        let params = WatchTarget::new("/api/v1/namespaces/a/pods", "pods").labels("job-name=x");
        let mut w: Watcher<Thin> = Watcher::new(params, &Retry::default(), Some(Duration::from_secs(600)));
        let now = Instant::now();
        assert!(!query_of(w.poll(now)).contains("watch"), "lists first");
        w.handle(response(200, r#"{"kind":"PodList","metadata":{"resourceVersion":"100"},"items":[]}"#));
        assert!(matches!(w.poll(now), WatchStep::Update(Update::Listed(items)) if items.is_empty()));
        assert!(query_of(w.poll(now)).contains("resourceVersion=100"));
        w.handle(head());
        assert!(matches!(w.poll(now), WatchStep::Read { until: Some(_) }));
        w.handle(Event::Chunk(bytes::Bytes::from_static(
            b"{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"x-1\",\"resourceVersion\":\"105\"}}}\n{\"type\":\"MODI",
        )));
        assert!(matches!(w.poll(now), WatchStep::Update(Update::Added(p)) if p.metadata.name == "x-1"));
        assert!(matches!(w.poll(now), WatchStep::Read { .. }));
        w.handle(Event::Failed(Error::transport(crate::error::TransportErrorKind::Truncated, "connection reset")));
        let WatchStep::WaitUntil(at) = w.poll(now) else { panic!("expected a backoff") };
        let d = at.saturating_duration_since(now);
        assert!(d >= BACKOFF_INITIAL / 2 && d <= BACKOFF_INITIAL, "{d:?}");
        let q = query_of(w.poll(now + d));
        assert!(q.contains("watch=1") && q.contains("resourceVersion=105"), "{q}");
        assert_eq!(w.resource_version(), Some("105"));
    }

    #[test]
    fn backoff_grows_to_the_cap_with_jitter_in_the_upper_half() {
        let mut w: Watcher<Thin> = Watcher::new(WatchTarget::new("/x", "x"), &Retry::default(), None);
        let now = Instant::now();
        w.last_now = Some(now);
        let mut delays = Vec::new();
        for _ in 0..10 {
            w.backoff(false);
            let State::Backoff { delay: Some(d), .. } = w.state else { panic!("no backoff") };
            delays.push(d);
        }
        assert!(delays[0] >= BACKOFF_INITIAL / 2 && delays[0] <= BACKOFF_INITIAL, "{delays:?}");
        assert!(delays[9] >= BACKOFF_MAX / 2 && delays[9] <= BACKOFF_MAX, "{delays:?}");
        // two minutes of health reset it
        w.healthy_since = Some(now);
        w.last_now = Some(now + BACKOFF_RESET);
        w.backoff(false);
        let State::Backoff { delay: Some(d), .. } = w.state else { panic!("no backoff") };
        assert!(d <= BACKOFF_INITIAL, "{d:?}");
    }
}
