//! A caller's deadline, and the time limit each request made for it carries.
//!
//! Every wait measures its timeout from its first poll ([`Deadline::start`]). Each request it
//! sends then carries the time left as a [`TimeLimit`] (an `http` request extension), which
//! every transport honours on top of its own `request_timeout`: a server that never answers
//! cannot hold a wait past its deadline. Backoffs are clamped to the time left
//! ([`Deadline::clamp`]) and the server-side waits (`timeoutSeconds=`, `wait=`) are shortened to
//! it. All arithmetic saturates: a timeout past the clock's range (`Duration::MAX`) means "no
//! limit".

use std::time::{Duration, Instant};

use crate::step::Request;

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

    /// Attach the time left at `now` to `request` as its [`TimeLimit`] (nothing without a limit).
    pub fn limit(&self, now: Instant, request: &mut Request) {
        if let Some(left) = self.left(now) {
            TimeLimit::set(request, left);
        }
    }
}

/// How long the operation that sent a request can still use its answer: a transport gives up on
/// the request (with [`Error::Timeout`](crate::Error::Timeout)) when it passes, even when its own
/// `request_timeout` is longer. Carried as an extension of the [`Request`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeLimit(pub Duration);

impl TimeLimit {
    /// Set `request`'s time limit to `limit` (a shorter one already set is kept).
    pub fn set(request: &mut Request, limit: Duration) {
        let limit = match request.extensions().get::<TimeLimit>() {
            Some(TimeLimit(old)) => limit.min(*old),
            None => limit,
        };
        request.extensions_mut().insert(TimeLimit(limit));
    }

    /// `request`'s time limit, if its operation set one.
    pub fn of(request: &Request) -> Option<Duration> {
        request.extensions().get::<TimeLimit>().map(|t| t.0)
    }

    /// The transport's own limit (`None`: none) capped by `request`'s time limit.
    pub fn cap(request: &Request, transport_limit: Option<Duration>) -> Option<Duration> {
        match (transport_limit, TimeLimit::of(request)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// The time a blocking query asks the server to hold it: Nomad's `wait=` or Kubernetes'
/// `timeoutSeconds=` (`None` without either).
pub fn server_wait(query: &str) -> Option<Duration> {
    let mut wait = None;
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "timeoutSeconds" => wait = value.parse::<u64>().ok().map(Duration::from_secs).or(wait),
            "wait" => wait = parse_go_duration(value).or(wait),
            _ => {}
        }
    }
    wait
}

/// The extra time a blocking query may legitimately take: its [`server_wait`], plus the 1/16
/// jitter Nomad adds and 10 s of slack. Zero without either.
pub fn query_wait(query: &str) -> Duration {
    server_wait(query).map(|w| w.saturating_add(w / 16).saturating_add(Duration::from_secs(10))).unwrap_or_default()
}

/// How long `request` may take to be answered: `request_timeout` plus the query's wait
/// ([`query_wait`]), capped by the time limit its operation set (the caller's deadline, see
/// [`TimeLimit`]). `None`: no limit. A log follow (`follow=true`) has no head limit of its own
/// (its head may only come with the first byte of the log), only its operation's.
pub fn request_limit(request: &Request, request_timeout: Option<Duration>) -> Option<Duration> {
    let query = request.uri().query();
    let own = if query.is_some_and(is_follow) {
        None
    } else {
        let wait = query.map(query_wait).unwrap_or_default();
        request_timeout.map(|t| t.saturating_add(wait))
    };
    TimeLimit::cap(request, own)
}

/// Parse a Go duration (`5m`, `1m30s`, `300ms`, `1.5h`); a bare number is taken as seconds.
pub fn parse_go_duration(text: &str) -> Option<Duration> {
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let mut rest = text;
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" | "%C2%B5s" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * scale;
    }
    Duration::try_from_secs_f64(total).ok()
}

/// Whether `query` asks to follow a log (`follow=true`, or `follow=1`): a stream that may stay
/// silent, head included, for as long as the followed program prints nothing.
pub fn is_follow(query: &str) -> bool {
    query.split('&').any(|pair| matches!(pair, "follow=true" | "follow=1"))
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
    fn a_request_keeps_the_shortest_limit_and_caps_the_transport() {
        let mut req = http::Request::new(bytes::Bytes::new());
        assert_eq!(TimeLimit::cap(&req, Some(Duration::from_secs(295))), Some(Duration::from_secs(295)));
        TimeLimit::set(&mut req, Duration::from_secs(3));
        TimeLimit::set(&mut req, Duration::from_secs(10));
        assert_eq!(TimeLimit::of(&req), Some(Duration::from_secs(3)));
        assert_eq!(TimeLimit::cap(&req, Some(Duration::from_secs(295))), Some(Duration::from_secs(3)));
        assert_eq!(TimeLimit::cap(&req, None), Some(Duration::from_secs(3)));
    }

    #[test]
    fn follows_are_recognised_by_their_query() {
        assert!(is_follow("container=main&follow=true&tailLines=10"));
        assert!(is_follow("follow=1"));
        assert!(!is_follow("follow=false&tailLines=10"));
        assert!(!is_follow("watch=1&timeoutSeconds=290"));
        assert!(!is_follow("unfollow=true"));
    }

    #[test]
    fn waits_of_blocking_queries() {
        assert_eq!(query_wait("limit=10"), Duration::ZERO);
        assert_eq!(query_wait("index=5&wait=5m"), Duration::from_secs(300 + 18 + 10) + Duration::from_millis(750));
        assert_eq!(query_wait("watch=1&timeoutSeconds=160"), Duration::from_secs(160 + 10 + 10));
        assert_eq!(parse_go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("300ms"), Some(Duration::from_millis(300)));
        assert_eq!(parse_go_duration("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("soon"), None);
        assert_eq!(parse_go_duration("5x"), None);
    }
}
