//! The blocking-query primitive of Nomad's waits: [`Blocking`] follows one of a job's reads
//! with `?index=N&wait=W` queries, resumes a failed one after a back-off, backs off from a
//! server that answers early without progress, and ends with [`Error::Timeout`] at the caller's
//! deadline. `delete_job`'s wait (`job.rs`) and the service waits (`service.rs`) drive it; what
//! it reads is named through [`JobQuery`]. The shared job-list chain (`shared.rs`) takes its
//! index rule and resumable failures ([`take_index`], [`resumable`]).

use std::time::{Duration, Instant};

use super::query::{next_index, Query, MAX_WAIT};
use super::Context;
use crate::deadline::{later, Deadline, Hold};
use crate::error::{Error, Result, TransportErrorKind};
use crate::op::{answer, Next};
use crate::retry::Jitter;
use crate::step::Response;

/// The reads of one job that a [`Blocking`] follows.
pub(crate) trait JobQuery {
    /// The context (retry policy and jitter seed).
    fn ctx(&self) -> &Context;
    /// The query of `/v1/job/{id}{suffix}`.
    fn query(&self, suffix: &str) -> Query;
}

/// First back-off after a blocking read that came back early without progress (its index 0,
/// lower than or equal to the one it blocked on, before its `wait=` passed): a server or proxy
/// that ignores `index=` must not be read in a busy loop.
pub const STALL_BACKOFF_INITIAL: Duration = crate::retry::BLOCKING_STALL.initial;
/// Largest back-off between blocking reads that make no progress.
pub const STALL_BACKOFF_MAX: Duration = crate::retry::BLOCKING_STALL.max;

/// Following one of a job's reads with blocking queries: the index to block on and the
/// caller's deadline. Shared by `delete_job`'s wait and the service waits.
#[derive(Debug, Clone)]
pub(crate) struct Blocking {
    index: u64,
    deadline: Deadline,
    /// Blocking reads that failed in a row (for the back-off).
    failures: u32,
    /// Blocking reads in a row that came back early without a higher index.
    stalls: u32,
    /// When the last blocking read was issued, and the `wait=` it asked for.
    asked: Option<(Instant, Duration)>,
    /// Drawn from the context's seed at the first back-off.
    jitter: Option<Jitter>,
    /// The read (its path suffix) to re-issue once the back-off has passed.
    pending: Option<String>,
}

impl Blocking {
    /// Follow until `timeout` (measured from the first [`start`](Self::start); `None`: no limit).
    pub fn new(timeout: Option<Duration>) -> Self {
        Blocking {
            index: 0,
            deadline: Deadline::new(timeout),
            failures: 0,
            stalls: 0,
            asked: None,
            jitter: None,
            pending: None,
        }
    }

    /// Start the deadline clock (once; later calls do nothing).
    pub fn start(&mut self, now: Instant) {
        self.deadline.start(now);
    }

    /// The caller's deadline (for [`Machine::deadline`]).
    pub fn deadline(&self) -> Deadline {
        self.deadline
    }

    /// Forget the index, to follow another read (the next query reads at once).
    pub fn reset(&mut self) {
        self.index = 0;
        self.asked = None;
    }

    /// `exp` jittered: drawn uniformly from its upper half.
    fn jittered(&mut self, paths: &impl JobQuery, exp: Duration) -> Duration {
        let jitter = self.jitter.get_or_insert_with(|| Jitter::new(paths.ctx().retry.seed ^ 0x6e6f_6d61_6462_6c6b));
        jitter.upper_half(exp)
    }

    /// Take the answer to the read of `suffix` made through [`again`](Self::again): `Ok(Ok(resp))`
    /// for the machine to judge (any status, a 404 included), or, when a blocking read failed in a
    /// way worth resuming, `Ok(Err(Next::After(delay)))` for the machine to return: after the
    /// back-off the flow calls [`Machine::resume`], which calls [`resume`](Self::resume). Other
    /// failures, and failures of the first (non-blocking) read, are returned as errors;
    /// [`Error::Timeout`] saying `what` if the deadline passed.
    pub fn take<T>(
        &mut self,
        now: Instant,
        ans: Option<Result<Response>>,
        paths: &impl JobQuery,
        suffix: &str,
        what: impl FnOnce() -> String,
    ) -> Result<std::result::Result<Response, Next<T>>> {
        let ans = answer(ans);
        if self.index == 0 || !resumable(&ans) {
            self.failures = 0;
            return ans.map(Ok);
        }
        let left = next_wait(&self.deadline, now, what)?;
        self.failures = self.failures.saturating_add(1);
        let policy = &paths.ctx().retry.policy;
        let exp = policy.backoff().nth(self.failures);
        let delay = self.jittered(paths, exp).min(left);
        let failure = match &ans {
            Ok(resp) => format!("HTTP {}", resp.status()),
            Err(e) => e.to_string(),
        };
        tracing::debug!(path = %paths.query(suffix).path_and_query(), index = self.index, failures = self.failures, ?delay, %failure, "blocking query failed; resuming after a back-off");
        self.pending = Some(suffix.to_owned());
        Ok(Err(Next::After(later(now, delay))))
    }

    /// Whether the last read was a blocking one (it waited on an index).
    pub fn is_blocking(&self) -> bool {
        self.index != 0
    }

    /// The read of `suffix` from the current index (a blocking query when there is one), for at
    /// most the time left.
    fn read<T>(&mut self, now: Instant, paths: &impl JobQuery, suffix: &str, wait: Duration) -> Result<Next<T>> {
        let req = paths.query(suffix).blocking(self.index, wait).get()?;
        if self.index == 0 {
            self.asked = None;
            return Ok(Next::Send(req));
        }
        self.asked = Some((now, wait));
        Ok(Next::Blocking(req, Hold::Server(wait)))
    }

    /// Re-issue the blocking read [`take`](Self::take) or [`again`](Self::again) backed off
    /// from, from the index then current, for at most the time left ([`Error::Timeout`] saying
    /// `what` when none is).
    pub fn resume<T>(&mut self, now: Instant, paths: &impl JobQuery, what: impl FnOnce() -> String) -> Result<Next<T>> {
        let Some(suffix) = self.pending.take() else {
            return Err(Error::protocol("a blocking read was resumed with nothing to resume"));
        };
        let wait = next_wait(&self.deadline, now, what)?;
        self.read(now, paths, &suffix, wait)
    }

    /// The wait is not over: read `suffix` of the job again, blocking on the index after the
    /// one `answered` (the answer's `X-Nomad-Index`) for at most the time left, or
    /// [`Error::Timeout`] saying `what` when none is left. An answer without `X-Nomad-Index` is
    /// an [`Error::Protocol`]: blocking on a guessed index would answer at once, in a busy loop.
    ///
    /// A blocking read that came back before its `wait=` passed without a higher index (0, lower,
    /// or the same: a server or proxy ignoring `index=`) is followed only after a back-off of
    /// [`STALL_BACKOFF_INITIAL`] doubling to [`STALL_BACKOFF_MAX`], jittered, clamped to the
    /// deadline (`Next::After`, then [`resume`](Self::resume)).
    pub fn again<T>(
        &mut self,
        now: Instant,
        paths: &impl JobQuery,
        suffix: &str,
        answered: Option<u64>,
        what: impl FnOnce() -> String,
    ) -> Result<Next<T>> {
        let Some(answered) = answered else {
            // Without the index a blocking query cannot block: it would answer at once, again and
            // again. Nomad sends it on every read; something in between removed it.
            return Err(Error::protocol(format!(
                "Nomad's answer to {} carried no X-Nomad-Index header, so it cannot be waited on with \
                 blocking queries; is a proxy between here and Nomad removing X-Nomad-* headers?",
                paths.query(suffix).path_and_query()
            )));
        };
        let wait = next_wait(&self.deadline, now, what)?;
        let early = self.asked.is_some_and(|(at, asked)| now.saturating_duration_since(at) < asked);
        if let Some(exp) = take_index(&mut self.index, &mut self.stalls, answered, early) {
            let delay = self.jittered(paths, exp).min(wait);
            tracing::debug!(path = %paths.query(suffix).path_and_query(), answered, stalls = self.stalls, ?delay, "blocking query came back early without a higher index; backing off");
            self.pending = Some(suffix.to_owned());
            return Ok(Next::After(later(now, delay)));
        }
        self.read(now, paths, suffix, wait)
    }
}

/// Take the index a blocking read answered with into `index` (see [`next_index`]), counting
/// `stalls`: answers that came back `early` (before their `wait=` passed) without a higher index.
/// `Some(back-off)` (not yet jittered: [`STALL_BACKOFF_INITIAL`] doubling to
/// [`STALL_BACKOFF_MAX`]) when this one did: the next read must not follow at once.
pub(crate) fn take_index(index: &mut u64, stalls: &mut u32, answered: u64, early: bool) -> Option<Duration> {
    let stalled = *index != 0 && answered <= *index && early;
    if *index != 0 && answered > *index {
        *stalls = 0;
    }
    *index = next_index(*index, Some(answered));
    if !stalled {
        return None;
    }
    *stalls = stalls.saturating_add(1);
    Some(crate::retry::BLOCKING_STALL.nth(*stalls))
}

/// Whether a failed blocking read is worth re-issuing: the connection or the stream broke, the
/// transport gave up waiting, or the server was briefly unable to answer (no leader, overload).
/// TLS failures and the other statuses (404, 400, 403, ...) are answers, not accidents.
pub(crate) fn resumable(ans: &Result<Response>) -> bool {
    match ans {
        Ok(resp) => matches!(resp.status().as_u16(), 429 | 500 | 502..=504),
        Err(Error::Transport { kind, .. }) => *kind != TransportErrorKind::Tls,
        Err(Error::Timeout { .. }) => true,
        Err(_) => false,
    }
}

/// How long the next blocking query may wait (whole milliseconds, at most [`MAX_WAIT`], never
/// more than what is left: Nomad may still add up to wait/16), or [`Error::Timeout`] saying
/// `what` once the deadline has passed.
fn next_wait(deadline: &Deadline, now: Instant, what: impl FnOnce() -> String) -> Result<Duration> {
    let Some(remaining) = deadline.left(now) else { return Ok(MAX_WAIT) };
    if remaining.is_zero() {
        let timeout = deadline.timeout().unwrap_or_default();
        return Err(Error::Timeout { what: format!("{} after {timeout:?}", what()) });
    }
    let wait = Duration::from_millis(u64::try_from(remaining.as_millis()).unwrap_or(u64::MAX).max(1));
    Ok(wait.min(MAX_WAIT))
}
