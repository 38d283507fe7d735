//! The reusable list + watch state machine behind every Kubernetes wait.
//!
//! A [`Watcher`] keeps an up-to-date view of a filtered collection (`fieldSelector`,
//! `labelSelector`) without polling:
//!
//! 1. **List** the collection (or start from a resourceVersion the caller already has, e.g. from
//!    the answer to a create or delete) to learn a `resourceVersion`. A watcher given a
//!    [`WatchListSupport`] ([`Watcher::watch_list`]) instead starts with a **watch-list**
//!    request where the server offers it: the existing objects come as the first events of the
//!    stream, up to the bookmark annotated `k8s.io/initial-events-end`, and are reported as
//!    one [`Update::Listed`]; a server that refuses or ignores it is listed instead, and the
//!    refusal is remembered (see [`watchlist`](super::watchlist)).
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
use super::watchlist::{Refusal, WatchListSupport, INITIAL_EVENTS_GRACE, MAX_INITIAL_EVENTS};
use crate::deadline::{later, Deadline, Io};
use crate::error::{Error, Result};
use crate::op::{Exchange, ExchangeStep};
use crate::retry::{Jitter, Retry};
use crate::step::{Event, Operation, Request, Step};

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

pub use super::watch_target::{WatchTarget, DEFAULT_WATCH_TIMEOUT_SECONDS};

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
    /// Where the server's answer to watch-list is kept (`None`: always list first).
    watch_list: Option<WatchListSupport>,
    /// The exchange being opened is a watch-list request.
    opening_list: bool,
    /// The objects of a watch-list stream before its end bookmark (`Some` only then).
    initial: Option<Vec<T>>,
    /// The change that showed a watch-list request was served as a plain watch, to act on
    /// after the list its objects make.
    stashed: Option<WatchEvent<T>>,
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
            watch_list: None,
            opening_list: false,
            initial: None,
            stashed: None,
        }
    }

    /// Start with a watch-list request where `support` does not say the server refuses it, and
    /// keep what the server answers there (see the module docs).
    pub fn watch_list(mut self, support: &WatchListSupport) -> Self {
        self.watch_list = Some(support.clone());
        self
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

    /// Whether the request it is opening is a watch-list request (its first events are a list).
    pub fn opening_list(&self) -> bool {
        self.opening_list
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
        self.opening_list = false;
        self.initial = None;
        self.stashed = None;
        match self.resource_version.clone() {
            Some(rv) => {
                let (request, hold) = self.params.watch_request_within(&rv, self.deadline.left(now))?;
                // one attempt: a failed open is resumed by the watcher's own back-off, with a
                // `timeoutSeconds` recomputed from the time left
                Ok(State::Opening(Exchange::open(request, &self.retry).holding(hold).within(self.deadline).once()))
            }
            None if self.watch_list.as_ref().is_some_and(WatchListSupport::worth_trying) => {
                let (request, hold) = self.params.watch_list_request_within(self.deadline.left(now))?;
                self.opening_list = true;
                Ok(State::Opening(Exchange::open(request, &self.retry).holding(hold).within(self.deadline).once()))
            }
            None => self.list(),
        }
    }

    /// The server does not offer watch-list: remember it and list instead (at once: a refusal
    /// costs this one request, and the next watch of this server does not ask).
    fn refused(&mut self, why: Refusal) {
        tracing::debug!(what = %self.params.what, %why, "watch-list not offered; listing instead");
        if let Some(support) = &self.watch_list {
            support.learn(false);
        }
        self.initial = None;
        self.opening_list = false;
        self.resource_version = None;
        self.state = State::Start;
    }

    /// An event of a watch-list stream before its end bookmark.
    fn on_initial_event(&mut self, now: Instant, event: WatchEvent<T>) -> Option<WatchStep<T>> {
        match event {
            WatchEvent::Added(o) => {
                let items = self.initial.get_or_insert_with(Vec::new);
                if items.len() >= MAX_INITIAL_EVENTS {
                    let message = format!("more than {MAX_INITIAL_EVENTS} objects");
                    return Some(self.fail(Error::decode(self.params.what.clone(), message, b"")));
                }
                items.push(o);
                None
            }
            WatchEvent::Bookmark { resource_version, initial_events_end: true } => {
                if let Some(support) = &self.watch_list {
                    support.learn(true);
                }
                let items = self.initial.take().unwrap_or_default();
                self.resource_version = Some(resource_version);
                self.listed_at = Some(now);
                Some(WatchStep::Update(Update::Listed(items)))
            }
            WatchEvent::Error(status) => {
                self.refused(Refusal::ErrorEvent(status.code));
                None
            }
            // a change after objects: the server ignored the parameters, and the objects were
            // the snapshot its plain watch began with; the change is acted on after them
            event @ (WatchEvent::Modified(_) | WatchEvent::Deleted(_) | WatchEvent::Bookmark { .. })
                if self.initial.as_ref().is_some_and(|items| !items.is_empty()) =>
            {
                self.stashed = Some(event);
                Some(self.plain_watch(now))
            }
            WatchEvent::Modified(_) | WatchEvent::Deleted(_) | WatchEvent::Bookmark { .. } => {
                self.refused(Refusal::PlainWatch);
                None
            }
        }
    }

    /// The server ignored the watch-list parameters (before 1.27) and went silent or sent a
    /// change after sending objects: this is a plain watch without resourceVersion, whose first events were the
    /// objects that existed when it began (a consistent snapshot) and whose later events are
    /// changes after it. Its objects are the list (nothing between a list and a watch is lost),
    /// the watch goes on from the newest object's resourceVersion, and the server is remembered
    /// not to offer watch-list: later watchers list first.
    fn plain_watch(&mut self, now: Instant) -> WatchStep<T> {
        tracing::debug!(what = %self.params.what, why = %Refusal::PlainWatch, "watch-list not offered; its plain watch serves as list + watch");
        if let Some(support) = &self.watch_list {
            support.learn(false);
        }
        let items = self.initial.take().unwrap_or_default();
        let newest = items.iter().map(|o| o.resource_version()).max_by_key(|rv| rv.parse::<u64>().unwrap_or(0));
        self.resource_version = newest.filter(|rv| !rv.is_empty()).map(str::to_owned);
        self.listed_at = Some(now);
        WatchStep::Update(Update::Listed(items))
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
        self.initial = None;
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
        if self.initial.is_some() {
            return self.on_initial_event(now, event);
        }
        let update = match event {
            WatchEvent::Added(o) => Update::Added(o),
            WatchEvent::Modified(o) => Update::Modified(o),
            WatchEvent::Deleted(o) => Update::Deleted(o),
            WatchEvent::Bookmark { resource_version, .. } => {
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
                        let list = check(resp).and_then(|r| {
                            let mut list = parse_list::<T>(&self.params.what, r.body())?;
                            for (i, item) in list.items.iter_mut().enumerate() {
                                item.keep_raw(crate::Raw::list_item(r.body().clone(), i));
                            }
                            Ok(list)
                        });
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
                        if std::mem::take(&mut self.opening_list) {
                            self.initial = Some(Vec::new());
                        }
                        self.decoder = WatchDecoder::default();
                        self.healthy_since.get_or_insert(now);
                        self.opened_at = Some(now);
                        self.state = State::Streaming(Stream::default());
                    }
                    ExchangeStep::Done(Ok(resp))
                        if self.opening_list && matches!(resp.status().as_u16(), 400 | 422) =>
                    {
                        self.refused(Refusal::Rejected(resp.status().as_u16()));
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
                    if let Some(event) = self.stashed.take() {
                        if let Some(step) = self.on_event(now, event) {
                            return step;
                        }
                        continue;
                    }
                    match self.decoder.next_event_kept() {
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
                    } else if self.initial.is_some() && (stream.ended || stream.timed_out) {
                        if self.expired(now) {
                            return self.time_out();
                        }
                        // no end bookmark: the server ignored the parameters (a plain watch,
                        // which on 1.19 sends no bookmark). Silence after objects: they are the
                        // list; an end, or silence without any object (a hung server looks
                        // the same as an empty namespace): list
                        let got_objects = self.initial.as_ref().is_some_and(|items| !items.is_empty());
                        if stream.timed_out && got_objects {
                            self.state = State::Streaming(Stream::default());
                            return self.plain_watch(now);
                        }
                        self.refused(Refusal::PlainWatch);
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
                        let liveness = if self.initial.is_some() {
                            INITIAL_EVENTS_GRACE
                        } else {
                            Duration::from_secs(u64::from(self.params.timeout_seconds)) + READ_GRACE
                        };
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
#[path = "watcher_tests.rs"]
mod tests;
