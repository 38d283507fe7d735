//! One request and its retries ([`Exchange`]), and the single-request operation built on it
//! ([`Call`]). Multi-step state machines hold an [`Exchange`] for each request they make.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::deadline::{later, Deadline, Hold, Io};
use crate::error::{Error, Result};
use crate::retry::{Decision, Failure, Jitter, Retry, RetryPolicy};
use crate::step::{Event, Operation, Request, Response, Step};

/// Copy a request (`http::Request` is not `Clone` because of its extensions, which core never
/// sets: what a transport must honour travels in the step's [`Io`]). The body is a [`Bytes`],
/// so this does not copy it.
pub fn copy_request(req: &Request) -> Request {
    let mut out = http::Request::new(req.body().clone());
    *out.method_mut() = req.method().clone();
    *out.uri_mut() = req.uri().clone();
    *out.version_mut() = req.version();
    *out.headers_mut() = req.headers().clone();
    out
}

/// What an [`Exchange`] wants next.
#[derive(Debug)]
pub enum ExchangeStep {
    /// Send (or, for a streaming exchange, open) this request, as its [`Io`] says.
    Send(Request, Io),
    /// Back off until this instant before the next attempt.
    WaitUntil(Instant),
    /// Finished: the response (for a streaming exchange whose status was 2xx, the head with an
    /// empty body: the stream is now open), or the failure that was not retried.
    Done(Result<Response>),
}

#[derive(Debug)]
enum State {
    Ready,
    InFlight,
    /// The attempt's outcome, judged at the next poll (whose `now` counts the attempt's own
    /// duration against the retry budget).
    Answered(Result<Response>),
    Finished,
}

/// One request with retries under a [`RetryPolicy`]. Statuses are not judged here beyond "is it
/// worth retrying": a 404 is a finished exchange, and the caller turns it into an error.
#[derive(Debug)]
pub struct Exchange {
    request: Request,
    streaming: bool,
    hold: Hold,
    policy: RetryPolicy,
    jitter: Jitter,
    attempt: u32,
    started: Option<Instant>,
    state: State,
    deadline: Deadline,
}

fn seed_for(seed: u64, req: &Request) -> u64 {
    // FNV-1a over the path, mixed with the context seed: each request gets its own sequence.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in req.uri().path().as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

impl Exchange {
    /// An exchange that sends `request` and waits for the whole response.
    pub fn send(request: Request, retry: &Retry) -> Self {
        Self::new(request, retry, false)
    }

    /// An exchange that opens `request` as a stream.
    pub fn open(request: Request, retry: &Retry) -> Self {
        Self::new(request, retry, true)
    }

    fn new(request: Request, retry: &Retry, streaming: bool) -> Self {
        let jitter = Jitter::new(seed_for(retry.seed, &request));
        Exchange {
            request,
            streaming,
            hold: Hold::None,
            policy: retry.policy.clone(),
            jitter,
            attempt: 0,
            started: None,
            state: State::Ready,
            deadline: Deadline::default(),
        }
    }

    /// Bound every attempt by the caller's `deadline` (started at the first poll if it was not
    /// yet): each request step carries it in its [`Io`], and no retry is scheduled whose back-off would
    /// end past the deadline (the last failure is returned instead).
    pub fn within(mut self, deadline: Deadline) -> Self {
        self.deadline = deadline;
        self
    }

    /// The server may hold the answer as `hold` says (a blocking query's `wait=`, a watch's
    /// `timeoutSeconds`, a followed log): carried in each attempt's [`Io`].
    pub fn holding(mut self, hold: Hold) -> Self {
        self.hold = hold;
        self
    }

    /// Send the request once, without retries: for requests whose owner resumes failures itself
    /// with a fresh request (a blocking query re-sent with a recomputed `wait=`, a watch resumed
    /// from its last resourceVersion).
    pub fn once(mut self) -> Self {
        self.policy.max_attempts = 1;
        self
    }

    /// The request this exchange sends.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// Whether the exchange opens a stream.
    pub fn is_streaming(&self) -> bool {
        self.streaming
    }

    /// The next thing to do.
    pub fn poll(&mut self, now: Instant) -> ExchangeStep {
        match std::mem::replace(&mut self.state, State::InFlight) {
            State::Ready => {
                self.started.get_or_insert(now);
                self.deadline.start(now);
                self.attempt = self.attempt.saturating_add(1);
                let io = Io::new().holding(self.hold).attempt(self.attempt);
                ExchangeStep::Send(copy_request(&self.request), self.deadline.bound(io))
            }
            State::Answered(outcome) => match self.retry_delay(&outcome, now) {
                Some(delay) => {
                    self.state = State::Ready;
                    ExchangeStep::WaitUntil(later(now, delay))
                }
                None => {
                    self.state = State::Finished;
                    ExchangeStep::Done(outcome)
                }
            },
            State::InFlight => {
                ExchangeStep::Done(Err(Error::protocol("exchange polled while its request was in flight")))
            }
            State::Finished => {
                self.state = State::Finished;
                ExchangeStep::Done(Err(Error::protocol("exchange polled after it finished")))
            }
        }
    }

    /// The outcome of the last [`ExchangeStep::Send`].
    pub fn handle(&mut self, event: Event) {
        let outcome: Result<Response> = match event {
            Event::Response(resp) => Ok(resp),
            Event::Head(parts) if self.streaming => Ok(http::Response::from_parts(parts, Bytes::new())),
            Event::Failed(err) => Err(err),
            other => Err(Error::protocol(format!("unexpected event for a request: {other:?}"))),
        };
        self.state = State::Answered(outcome);
    }

    /// How long to back off before another attempt, if `outcome` is a failure worth retrying.
    fn retry_delay(&mut self, outcome: &Result<Response>, now: Instant) -> Option<Duration> {
        let failure = match outcome {
            Ok(resp) if !resp.status().is_success() => Failure::Status {
                status: resp.status().as_u16(),
                retry_after: crate::error::retry_after(resp.headers()),
            },
            Ok(_) => return None,
            Err(err) => Failure::of(err)?,
        };
        let elapsed = self.started.map(|start| now.saturating_duration_since(start)).unwrap_or_default();
        let jitter = self.jitter.next_f64();
        match self.policy.decide(self.request.method(), failure, self.attempt, elapsed, jitter) {
            Decision::RetryAfter(delay) if self.deadline.left(now).is_some_and(|left| delay >= left) => {
                tracing::debug!(method = %self.request.method(), path = self.request.uri().path(), attempt = self.attempt, ?delay, ?failure, "not retrying: the back-off would end past the caller's deadline");
                None
            }
            Decision::RetryAfter(delay) => {
                tracing::debug!(method = %self.request.method(), path = self.request.uri().path(), attempt = self.attempt, ?delay, ?failure, "retrying");
                Some(delay)
            }
            Decision::GiveUp => None,
        }
    }
}

/// A single-request operation: send (with retries), then parse the response with `F`.
#[derive(Debug)]
pub struct Call<F> {
    exchange: Exchange,
    parse: Option<F>,
}

impl<T, F> Call<F>
where
    F: FnOnce(Response) -> Result<T>,
{
    /// An operation that sends `request` and parses the answer with `parse` (which also turns
    /// error statuses into errors).
    pub fn new(request: Request, retry: &Retry, parse: F) -> Self {
        Call { exchange: Exchange::send(request, retry), parse: Some(parse) }
    }

    /// The request this call sends.
    pub fn request(&self) -> &Request {
        self.exchange.request()
    }

    /// The server may hold the answer as `hold` says (a blocking query).
    pub fn holding(mut self, hold: Hold) -> Self {
        self.exchange = self.exchange.holding(hold);
        self
    }
}

impl<T, F> Operation for Call<F>
where
    F: FnOnce(Response) -> Result<T>,
{
    type Output = T;
    type Item = Infallible;

    fn poll(&mut self, now: Instant) -> Step<T> {
        match self.exchange.poll(now) {
            ExchangeStep::Send(req, io) => Step::Send(req, io),
            ExchangeStep::WaitUntil(at) => Step::WaitUntil(at),
            ExchangeStep::Done(result) => Step::Done(match (result, self.parse.take()) {
                (Ok(resp), Some(parse)) => parse(resp),
                (Err(err), _) => Err(err),
                (Ok(_), None) => Err(Error::protocol("call polled after it finished")),
            }),
        }
    }

    fn handle(&mut self, event: Event) {
        self.exchange.handle(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::TransportErrorKind;

    fn get(path: &str) -> Request {
        crate::step::request(http::Method::GET, path, None).unwrap_or_else(|_| http::Request::new(Bytes::new()))
    }

    fn status_of(resp: Response) -> Result<u16> {
        Ok(resp.status().as_u16())
    }

    #[test]
    fn retries_503_then_returns_success() {
        let now = Instant::now();
        let mut call = Call::new(get("/x"), &Retry::default(), status_of);
        assert!(matches!(call.poll(now), Step::Send(..)));
        call.handle(Event::Response(http::Response::builder().status(503).body(Bytes::new()).unwrap_or_default()));
        assert!(matches!(call.poll(now), Step::WaitUntil(_)));
        assert!(matches!(call.poll(now), Step::Send(..)));
        call.handle(Event::Response(http::Response::new(Bytes::new())));
        assert!(matches!(call.poll(now), Step::Done(Ok(200))));
    }

    #[test]
    fn the_retry_budget_counts_the_time_the_attempt_itself_took() {
        let start = Instant::now();
        let policy = RetryPolicy { max_elapsed: Duration::from_secs(10), ..RetryPolicy::default() };
        let retry = Retry { policy, seed: 1 };
        let unavailable = || http::Response::builder().status(503).body(Bytes::new()).unwrap_or_default();
        // Answered quickly: retried.
        let mut call = Call::new(get("/x"), &retry, status_of);
        assert!(matches!(call.poll(start), Step::Send(..)));
        call.handle(Event::Response(unavailable()));
        assert!(matches!(call.poll(start + Duration::from_secs(1)), Step::WaitUntil(_)));
        // Answered after the whole budget: given up, with the server's answer.
        let mut call = Call::new(get("/x"), &retry, status_of);
        assert!(matches!(call.poll(start), Step::Send(..)));
        call.handle(Event::Response(unavailable()));
        assert!(matches!(call.poll(start + Duration::from_secs(11)), Step::Done(Ok(503))));
    }

    #[test]
    fn post_connection_reset_is_reported() {
        let now = Instant::now();
        let req = crate::step::request(http::Method::POST, "/x", Some(b"{}".to_vec())).unwrap_or_default();
        let mut call = Call::new(req, &Retry::default(), status_of);
        assert!(matches!(call.poll(now), Step::Send(..)));
        call.handle(Event::Failed(Error::transport(TransportErrorKind::Io, "reset")));
        assert!(matches!(call.poll(now), Step::Done(Err(Error::Transport { .. }))));
    }
}
