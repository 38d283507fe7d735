//! The retry policy: which failures are retried, how long to back off, and when to give up.
//!
//! What we follow and why:
//! - Like kube-rs, idempotent requests (GET, HEAD, PUT, DELETE, OPTIONS) are retried on
//!   connection failures and on 429, 502, 503 and 504, with exponential backoff (500 ms doubling
//!   to a 5 s cap by default) and **full jitter** (a uniform delay in `[0, backoff]`), so that many
//!   clients do not retry in lockstep.
//! - Like client-go, a `Retry-After` header (in seconds) is honoured, capped at
//!   [`RetryPolicy::max_retry_after`] so a misbehaving proxy cannot park us for an hour. The
//!   apiserver writes a `Status`'s `retryAfterSeconds` into that header, so the header is all
//!   [`Exchange`](crate::op::Exchange) reads.
//! - Non-idempotent requests (POST, PATCH) are retried only when the server cannot have acted on
//!   them: a connection that was never made, or a 429 (the server refused before doing anything).
//!   A 5xx on a write is returned to the caller, who knows whether repeating it is safe. This is
//!   stricter than Nomad's Go client (which retries writes on 501-510) because a repeated job
//!   registration or dispatch is not harmless.
//! - A plain 500 is never retried: both servers use it for validation errors.
//! - The total budget ([`RetryPolicy::max_elapsed`]) and attempt count bound the whole thing.
//!
//! [`RetryPolicy::decide`] is a pure function of its inputs, jitter included (from a seeded
//! generator), so it is unit-tested without a clock.
//!
//! **Every back-off of the library is named here**, by what it paces, as a [`Backoff`]: beside
//! the per-request policy above, [`WATCH_RESUME`] (a Kubernetes watch that broke or ended too
//! soon), [`BLOCKING_STALL`] (a Nomad blocking query answered early without progress),
//! [`WAITER_READ`] (a waiter's own read that failed in a way worth another, [`transient`]) and
//! [`LOOK`] (the looks at why a job has not started). Each doubles from its first delay to its
//! cap; the watch and blocking ones are jittered into their upper half, so that many clients do
//! not come back in lockstep.

use std::time::Duration;

use crate::error::{Error, TransportErrorKind};

/// How failed requests are retried. [`Default`] gives the policy described in the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts including the first (1 disables retries).
    pub max_attempts: u32,
    /// Backoff before the first retry; doubles each time.
    pub initial_backoff: Duration,
    /// Cap on the exponential backoff.
    pub max_backoff: Duration,
    /// Cap on a server's `Retry-After`.
    pub max_retry_after: Duration,
    /// No retry starts after this much time has passed since the first attempt.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
            max_elapsed: Duration::from_secs(60),
        }
    }
}

/// What went wrong with one attempt, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The server answered with this status (and maybe a `Retry-After`).
    Status {
        /// HTTP status.
        status: u16,
        /// The server's `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// The transport failed in this way.
    Transport(TransportErrorKind),
}

impl Failure {
    /// The failure an [`Error`] describes, if it is one that retrying might cure.
    pub fn of(error: &Error) -> Option<Failure> {
        match error {
            Error::Transport { kind, .. } => Some(Failure::Transport(*kind)),
            other => other.api().map(|a| Failure::Status { status: a.status, retry_after: a.retry_after }),
        }
    }
}

/// The verdict of [`RetryPolicy::decide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Wait this long, then send again.
    RetryAfter(Duration),
    /// Give up and report the failure.
    GiveUp,
}

/// The `n`-th (from 1) of a series of back-offs that starts at `initial` and doubles, never
/// beyond `max` (saturating: any `n` is fine).
pub fn doubling(initial: Duration, max: Duration, n: u32) -> Duration {
    initial.saturating_mul(1u32 << n.saturating_sub(1).min(16)).min(max)
}

/// A doubling back-off schedule (see the module docs for where each is used).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub initial: Duration,
    /// The cap.
    pub max: Duration,
}

impl Backoff {
    /// A schedule from `initial` doubling to `max`.
    pub const fn new(initial: Duration, max: Duration) -> Self {
        Backoff { initial, max }
    }

    /// The delay after `n` (from 1) failures in a row.
    pub fn nth(self, n: u32) -> Duration {
        doubling(self.initial, self.max, n)
    }

    /// [`nth`](Self::nth), drawn uniformly from its upper half.
    pub fn nth_jittered(self, n: u32, jitter: &mut Jitter) -> Duration {
        jitter.upper_half(self.nth(n))
    }
}

/// Resuming a Kubernetes watch that broke, or ended within a second of opening.
pub const WATCH_RESUME: Backoff = Backoff::new(Duration::from_millis(800), Duration::from_secs(30));
/// Following a Nomad blocking query that came back early without a higher index (a server or
/// proxy that ignores `index=` must not be read in a busy loop).
pub const BLOCKING_STALL: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
/// A waiter reading its own job again after a [`transient`] failure.
pub const WAITER_READ: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
/// The looks at why a job has not started: the first one second in, then doubling to 30 s
/// (also after a failed look).
pub const LOOK: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));

/// Whether a failure of a read that a wait repeats is worth repeating: the connection broke,
/// the transport gave up (before the caller's deadline), or the server was briefly unable to
/// answer (429, 500 from a proxy's 502–504). A TLS failure, a refusal or a bad request is not.
pub fn transient(err: &Error) -> bool {
    match err {
        Error::Transport { kind, .. } => *kind != TransportErrorKind::Tls,
        Error::Timeout { .. } | Error::TooManyRequests(_) => true,
        Error::Server(api) => matches!(api.status, 500 | 502..=504),
        _ => false,
    }
}

impl RetryPolicy {
    /// The policy's own back-off between retries of a request (also used by the Nomad blocking
    /// queries' resumption after a failure).
    pub fn backoff(&self) -> Backoff {
        Backoff::new(self.initial_backoff, self.max_backoff)
    }
}

/// Whether a method may be repeated without changing the outcome (RFC 9110 §9.2.2).
pub fn is_idempotent(method: &http::Method) -> bool {
    matches!(
        *method,
        http::Method::GET | http::Method::HEAD | http::Method::PUT | http::Method::DELETE | http::Method::OPTIONS
    )
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn never() -> Self {
        RetryPolicy { max_attempts: 1, ..RetryPolicy::default() }
    }

    /// Decide whether attempt number `attempt` (1 for the first) that failed with `failure` is
    /// retried. `elapsed` is the time since the first attempt started and `jitter` a uniform
    /// random number in `[0, 1)` from the caller's seeded generator.
    pub fn decide(
        &self,
        method: &http::Method,
        failure: Failure,
        attempt: u32,
        elapsed: Duration,
        jitter: f64,
    ) -> Decision {
        if attempt >= self.max_attempts {
            return Decision::GiveUp;
        }
        let idempotent = is_idempotent(method);
        let (retryable, retry_after) = match failure {
            Failure::Transport(TransportErrorKind::Connect) => (true, None),
            Failure::Transport(TransportErrorKind::Io | TransportErrorKind::Truncated) => (idempotent, None),
            Failure::Transport(_) => (false, None),
            Failure::Status { status: 429, retry_after } => (true, retry_after),
            Failure::Status { status: 502..=504, retry_after } => (idempotent, retry_after),
            Failure::Status { .. } => (false, None),
        };
        if !retryable {
            return Decision::GiveUp;
        }
        let delay = match retry_after {
            Some(asked) => asked.min(self.max_retry_after),
            None => doubling(self.initial_backoff, self.max_backoff, attempt).mul_f64(jitter.clamp(0.0, 1.0)),
        };
        if elapsed.saturating_add(delay) > self.max_elapsed {
            return Decision::GiveUp;
        }
        Decision::RetryAfter(delay)
    }
}

/// A small deterministic generator (SplitMix64) for jitter: seeded by the transport, so core
/// never reads a clock or an entropy source and replays are reproducible.
#[derive(Debug, Clone)]
pub struct Jitter(u64);

impl Jitter {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Jitter(seed)
    }

    /// The next number, uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `d` drawn uniformly from its upper half (`[d/2, d)`): what every jittered back-off uses.
    pub fn upper_half(&mut self, d: Duration) -> Duration {
        d.mul_f64(0.5 + 0.5 * self.next_f64())
    }
}

/// A retry policy with the seed its jitter is drawn from; contexts carry one and every request
/// they build gets its own generator from it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Retry {
    /// The policy.
    pub policy: RetryPolicy,
    /// The jitter seed (a transport seeds it from its own randomness; tests use a constant).
    pub seed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    fn status(status: u16) -> Failure {
        Failure::Status { status, retry_after: None }
    }

    #[test]
    fn get_is_retried_on_503_with_jittered_exponential_backoff() {
        let p = RetryPolicy::default();
        assert_eq!(
            p.decide(&Method::GET, status(503), 1, Duration::ZERO, 0.5),
            Decision::RetryAfter(Duration::from_millis(250))
        );
        assert_eq!(
            p.decide(&Method::GET, status(503), 2, Duration::ZERO, 0.5),
            Decision::RetryAfter(Duration::from_millis(500))
        );
        // capped at max_backoff: attempt 5 would be 8 s
        let p = RetryPolicy { max_attempts: 10, ..p };
        assert_eq!(
            p.decide(&Method::GET, status(503), 5, Duration::ZERO, 0.5),
            Decision::RetryAfter(Duration::from_millis(2500))
        );
    }

    #[test]
    fn plain_500_and_4xx_are_never_retried() {
        let p = RetryPolicy::default();
        for s in [400, 401, 403, 404, 409, 410, 422, 500, 501] {
            assert_eq!(p.decide(&Method::GET, status(s), 1, Duration::ZERO, 0.5), Decision::GiveUp, "{s}");
        }
    }

    #[test]
    fn post_is_not_blindly_retried() {
        let p = RetryPolicy::default();
        assert_eq!(p.decide(&Method::POST, status(503), 1, Duration::ZERO, 0.5), Decision::GiveUp);
        assert_eq!(
            p.decide(&Method::POST, Failure::Transport(TransportErrorKind::Io), 1, Duration::ZERO, 0.5),
            Decision::GiveUp
        );
        // never sent: safe
        assert!(matches!(
            p.decide(&Method::POST, Failure::Transport(TransportErrorKind::Connect), 1, Duration::ZERO, 0.5),
            Decision::RetryAfter(_)
        ));
        // refused before acting: safe
        assert!(matches!(p.decide(&Method::POST, status(429), 1, Duration::ZERO, 0.5), Decision::RetryAfter(_)));
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let p = RetryPolicy::default();
        let f = Failure::Status { status: 429, retry_after: Some(Duration::from_secs(7)) };
        assert_eq!(p.decide(&Method::GET, f, 1, Duration::ZERO, 0.1), Decision::RetryAfter(Duration::from_secs(7)));
        let f = Failure::Status { status: 429, retry_after: Some(Duration::from_secs(3600)) };
        assert_eq!(p.decide(&Method::GET, f, 1, Duration::ZERO, 0.1), Decision::RetryAfter(Duration::from_secs(30)));
    }

    #[test]
    fn budget_and_attempts_bound_retries() {
        let p = RetryPolicy::default();
        assert_eq!(p.decide(&Method::GET, status(503), 5, Duration::ZERO, 0.5), Decision::GiveUp);
        assert_eq!(p.decide(&Method::GET, status(503), 1, Duration::from_secs(60), 0.5), Decision::GiveUp);
        assert_eq!(RetryPolicy::never().decide(&Method::GET, status(503), 1, Duration::ZERO, 0.5), Decision::GiveUp);
    }

    #[test]
    fn jitter_is_deterministic_and_in_range() {
        let mut a = Jitter::new(42);
        let mut b = Jitter::new(42);
        for _ in 0..1000 {
            let x = a.next_f64();
            assert_eq!(x, b.next_f64());
            assert!((0.0..1.0).contains(&x));
        }
    }
}
