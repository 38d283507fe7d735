//! Time as data: a caller's [`Deadline`], and the [`Io`] contract each request step carries.
//!
//! Every wait measures its timeout from its first poll ([`Deadline::start`]) and then knows it
//! as an absolute instant ([`Deadline::at`]). Each request it sends carries that instant in its
//! step's [`Io`], with how long the server may legitimately hold the answer ([`Hold`]: a
//! blocking query's `wait=`, a watch's `timeoutSeconds`, a followed log) and which attempt it is.
//! A transport turns those fields into timers ([`Io::limit`]) and never reads the request's URI
//! to learn them. Backoffs are clamped to the deadline ([`Deadline::clamp`]) and the server-side
//! waits are shortened to it. All arithmetic saturates: a timeout past the clock's range
//! (`Duration::MAX`) means "no limit".

use std::time::{Duration, Instant};

/// `now + delay`, saturating: an instant past the clock's range is taken as a century from now
/// (or `now` itself on a clock that cannot reach that far), never a panic.
pub fn later(now: Instant, delay: Duration) -> Instant {
    now.checked_add(delay).or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 86_400))).unwrap_or(now)
}

/// The earlier (smaller) of two optional limits; `None` is no limit, so the other one wins.
pub(crate) fn earlier<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A deadline measured from the first [`start`](Deadline::start); no limit when the timeout is
/// `None` or lies past the clock's range.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deadline {
    timeout: Option<Duration>,
    at: Option<Instant>,
    started: bool,
}

impl Deadline {
    /// A deadline `timeout` after the first [`start`](Self::start) (`None`: no limit).
    pub fn new(timeout: Option<Duration>) -> Self {
        Deadline { timeout, at: None, started: false }
    }

    /// Start the clock (the first call counts; later calls do nothing).
    pub fn start(&mut self, now: Instant) {
        if !self.started {
            self.started = true;
            self.at = self.timeout.and_then(|t| now.checked_add(t));
        }
    }

    /// The timeout this deadline was made with.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The instant it passes (`None`: no limit, or not started yet).
    pub fn at(&self) -> Option<Instant> {
        self.at
    }

    /// The time left at `now` (`None`: no limit).
    pub fn left(&self, now: Instant) -> Option<Duration> {
        self.at.map(|at| at.saturating_duration_since(now))
    }

    /// Whether the deadline has passed at `now`.
    pub fn passed(&self, now: Instant) -> bool {
        self.at.is_some_and(|at| now >= at)
    }

    /// The [`Error::Timeout`](crate::Error::Timeout) of a wait for `what` that this deadline
    /// ended (`"{what} within {timeout:?}"`).
    pub fn timed_out(&self, what: &str) -> crate::Error {
        let within = self.timeout.map(|t| format!(" within {t:?}")).unwrap_or_default();
        crate::Error::Timeout { what: format!("{what}{within}") }
    }

    /// `delay`, shortened to the time left.
    pub fn clamp(&self, now: Instant, delay: Duration) -> Duration {
        self.left(now).map_or(delay, |left| delay.min(left))
    }

    /// `until`, brought forward to the deadline.
    pub fn clamp_until(&self, until: Instant) -> Instant {
        self.at.map_or(until, |at| until.min(at))
    }

    /// `io`, bounded by this deadline too (the earlier of the two is kept).
    pub fn bound(&self, io: Io) -> Io {
        io.within(self.at)
    }
}

/// How long a server may legitimately hold the answer to a request, beyond a transport's own
/// `request_timeout`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Hold {
    /// An ordinary request: answered within `request_timeout`.
    #[default]
    None,
    /// A blocking query (Nomad's `wait=`) or a watch (Kubernetes' `timeoutSeconds`): the server
    /// may hold the answer this long, plus the 1/16 jitter Nomad adds.
    Server(Duration),
    /// A followed log: its head may come only with the first byte of the log, so the head has
    /// no limit of its own, only the caller's deadline.
    Follow,
}

/// Slack past a server-side wait before its answer counts as late.
const HOLD_SLACK: Duration = Duration::from_secs(10);

impl Hold {
    /// The extra time the answer may take past `request_timeout`: zero for an ordinary
    /// request, the server's wait plus 1/16 jitter and 10 s of slack for a blocking query or a
    /// watch, `None` (no limit) for a follow.
    pub fn extra(&self) -> Option<Duration> {
        match self {
            Hold::None => Some(Duration::ZERO),
            Hold::Server(w) => Some(w.saturating_add(*w / 16).saturating_add(HOLD_SLACK)),
            Hold::Follow => None,
        }
    }
}

/// What a transport must honour for one request step, as data: the caller's deadline, how long
/// the server may hold the answer, and which attempt this is (for tracing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Io {
    /// The caller's deadline: the transport gives up on the request (with
    /// [`Error::Timeout`](crate::Error::Timeout)) when it passes, even when its own
    /// `request_timeout` is longer. `None`: no deadline.
    pub deadline: Option<Instant>,
    /// How long the server may hold the answer.
    pub hold: Hold,
    /// Which attempt this is: 1 for the first, counting the retries of the same request.
    pub attempt: u32,
}

impl Default for Io {
    fn default() -> Self {
        Io { deadline: None, hold: Hold::None, attempt: 1 }
    }
}

impl Io {
    /// An ordinary first attempt with no deadline.
    pub fn new() -> Self {
        Io::default()
    }

    /// With the deadline `at`.
    pub fn until(mut self, at: Instant) -> Self {
        self.deadline = Some(at);
        self
    }

    /// Bounded by `deadline` too: the earlier of the two is kept (`None` changes nothing).
    pub fn within(mut self, deadline: Option<Instant>) -> Self {
        self.deadline = earlier(self.deadline, deadline);
        self
    }

    /// With the server hold `hold`.
    pub fn holding(mut self, hold: Hold) -> Self {
        self.hold = hold;
        self
    }

    /// As attempt number `attempt`.
    pub fn attempt(mut self, attempt: u32) -> Self {
        self.attempt = attempt;
        self
    }

    /// The time left at `now` before the deadline (`None`: no deadline).
    pub fn left(&self, now: Instant) -> Option<Duration> {
        self.deadline.map(|at| at.saturating_duration_since(now))
    }

    /// `limit` (`None`: none) capped by the time left before the deadline.
    pub fn cap(&self, now: Instant, limit: Option<Duration>) -> Option<Duration> {
        earlier(limit, self.left(now))
    }

    /// How long the request may take to be answered (for a stream: its head), from `now`:
    /// `request_timeout` plus the [`Hold`]'s extra time, capped by the deadline. `None`: no
    /// limit. A follow has no head limit of its own, only the deadline.
    pub fn limit(&self, now: Instant, request_timeout: Option<Duration>) -> Option<Duration> {
        let own = match self.hold.extra() {
            Some(extra) => request_timeout.map(|t| t.saturating_add(extra)),
            None => None,
        };
        self.cap(now, own)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_timeout_and_a_huge_timeout_are_both_no_limit() {
        let now = Instant::now();
        for timeout in [None, Some(Duration::MAX)] {
            let mut d = Deadline::new(timeout);
            d.start(now);
            assert_eq!(d.left(now), None);
            assert!(!d.passed(now + Duration::from_secs(86_400)));
            assert_eq!(d.clamp(now, Duration::from_secs(30)), Duration::from_secs(30));
        }
    }

    #[test]
    fn the_clock_starts_once_and_clamps_to_the_time_left() {
        let now = Instant::now();
        let mut d = Deadline::new(Some(Duration::from_secs(3)));
        d.start(now);
        d.start(now + Duration::from_secs(2));
        assert_eq!(d.left(now + Duration::from_secs(1)), Some(Duration::from_secs(2)));
        assert_eq!(d.clamp(now + Duration::from_secs(2), Duration::from_secs(30)), Duration::from_secs(1));
        assert!(d.passed(now + Duration::from_secs(3)));
        assert_eq!(d.left(now + Duration::from_secs(9)), Some(Duration::ZERO));
    }

    #[test]
    fn an_io_keeps_the_earliest_deadline_and_caps_the_transport() {
        let now = Instant::now();
        let io = Io::new().until(now + Duration::from_secs(10)).within(Some(now + Duration::from_secs(3)));
        assert_eq!(io.deadline, Some(now + Duration::from_secs(3)));
        assert_eq!(io.within(None).deadline, Some(now + Duration::from_secs(3)));
        assert_eq!(io.limit(now, Some(Duration::from_secs(295))), Some(Duration::from_secs(3)));
        assert_eq!(io.limit(now, None), Some(Duration::from_secs(3)));
        assert_eq!(Io::new().limit(now, Some(Duration::from_secs(295))), Some(Duration::from_secs(295)));
        assert_eq!(Io::new().limit(now, None), None);
        let far = Io::new().until(later(now, Duration::MAX));
        assert!(far.limit(now, None).is_some_and(|d| d > Duration::from_secs(86_400 * 365)));
    }

    #[test]
    fn holds_of_blocking_queries_watches_and_follows() {
        let now = Instant::now();
        let t = Some(Duration::from_secs(30));
        let blocking = Io::new().holding(Hold::Server(Duration::from_secs(300)));
        assert_eq!(blocking.limit(now, t), Some(Duration::from_secs(30 + 300 + 18 + 10) + Duration::from_millis(750)));
        let watch = Io::new().holding(Hold::Server(Duration::from_secs(160)));
        assert_eq!(watch.limit(now, t), Some(Duration::from_secs(30 + 160 + 10 + 10)));
        let follow = Io::new().holding(Hold::Follow);
        assert_eq!(follow.limit(now, t), None);
        assert_eq!(follow.until(now + Duration::from_secs(2)).limit(now, t), Some(Duration::from_secs(2)));
    }
}
