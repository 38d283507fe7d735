//! What a request may take, computed once from the step's [`Io`] and [`Config::request_timeout`]
//! when a transport is handed the request, with the texts of the timeouts it ends in. Every
//! transport applies the same rules (in one place: [`HttpTransport`](crate::run::HttpTransport)):
//!
//! - [`send`](clustermanager_core::Transport::send): the whole response within
//!   [`Limits::answer`] (`request_timeout` plus the time the server may hold the request, capped by
//!   the caller's deadline; see [`Io::limit`]);
//! - [`open`](clustermanager_core::Transport::open): the response head within the same
//!   [`Limits::answer`], which for a log follow has no limit of its own (only the caller's
//!   deadline); the error body of a non-2xx answer by the same deadline (what is
//!   [`left`](Limits::left) of [`Limits::answer`]), for a follow within [`Limits::rest`]
//!   (`request_timeout` capped by the deadline, see [`Io::cap`]) of its head; credentials
//!   within [`Limits::credentials`], the longer of the two.
//!
//! Only durations are computed here: each runtime's timer waits them out.
//!
//! [`Config::request_timeout`]: clustermanager_core::Config::request_timeout

use std::time::{Duration, Instant};

use clustermanager_core::deadline::Io;
use clustermanager_core::{Error, Request};

/// How long one request may take, and how its timeouts read. `None` means no limit.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The request's method and URI, for the timeouts' texts (`METHOD /path`, no query: it may
    /// be long). Cloning them counts references; the text is made only for an error.
    method: http::Method,
    uri: http::Uri,
    /// A sent request's whole response, an opened stream's head.
    answer: Option<Duration>,
    /// The rest: an opened stream's error body (and, with `answer`, its credentials).
    rest: Option<Duration>,
    /// When the limits were computed (when the transport was handed the request).
    since: Instant,
}

impl Limits {
    /// The limits of `request`, sent now under `io`, for a transport whose configured
    /// [`request_timeout`](clustermanager_core::Config::request_timeout) is `request_timeout`.
    pub fn new(request: &Request, io: &Io, request_timeout: Option<Duration>) -> Self {
        let now = Instant::now();
        Limits {
            method: request.method().clone(),
            uri: request.uri().clone(),
            answer: io.limit(now, request_timeout),
            rest: io.cap(now, request_timeout),
            since: now,
        }
    }

    /// What is left now of `limit`, counted from when the transport was handed the request
    /// (`None`: no limit). For a stage that follows others under the same deadline.
    pub fn left(&self, limit: Option<Duration>) -> Option<Duration> {
        limit.map(|limit| limit.saturating_sub(self.since.elapsed()))
    }

    /// How long a sent request may take to be answered in whole, or an opened stream to send
    /// its head: `request_timeout` plus the time the server may hold it, capped by the caller's
    /// deadline (no limit of its own for a log follow).
    pub fn answer(&self) -> Option<Duration> {
        self.answer
    }

    /// How long the error body of an opened stream may take: `request_timeout`, capped by the
    /// caller's deadline.
    pub fn rest(&self) -> Option<Duration> {
        self.rest
    }

    /// How long fetching credentials (token file, exec plugin) for an opened stream may take:
    /// the longer of [`answer`](Limits::answer) and [`rest`](Limits::rest), so a follow still
    /// gets at least `request_timeout`.
    pub fn credentials(&self) -> Option<Duration> {
        self.answer.max(self.rest)
    }

    /// A sent request's whole response did not come within [`answer`](Limits::answer).
    pub fn response_timed_out(&self) -> Error {
        Error::Timeout {
            what: format!(
                "no complete response to {} {} within {:?} (request_timeout plus the query's wait)",
                self.method,
                self.uri.path(),
                self.answer.unwrap_or_default()
            ),
        }
    }

    /// An opened stream's head did not come within [`answer`](Limits::answer).
    pub fn head_timed_out(&self) -> Error {
        self.stream_timed_out("response head", self.answer)
    }

    /// An opened stream's credentials were not there within [`credentials`](Limits::credentials).
    pub fn credentials_timed_out(&self) -> Error {
        self.stream_timed_out("credentials", self.credentials())
    }

    /// An opened stream's (non-2xx) error body did not come within [`rest`](Limits::rest).
    pub fn error_body_timed_out(&self) -> Error {
        self.stream_timed_out("error body", self.rest)
    }

    fn stream_timed_out(&self, stage: &str, limit: Option<Duration>) -> Error {
        Error::Timeout {
            what: format!(
                "no {stage} for the stream {} {} within {:?} (request_timeout plus the query's wait)",
                self.method,
                self.uri.path(),
                limit.unwrap_or_default()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clustermanager_core::deadline::Hold;

    fn get(path: &str) -> Request {
        let mut request = Request::default();
        *request.uri_mut() = path.parse().unwrap_or_default();
        request
    }

    #[test]
    fn a_follow_has_no_head_limit_but_its_credentials_and_error_body_have_one() {
        let timeout = Some(Duration::from_secs(30));
        let follow = Limits::new(&get("/log"), &Io::new().holding(Hold::Follow), timeout);
        assert_eq!((follow.answer(), follow.rest(), follow.credentials()), (None, timeout, timeout));
        let plain = Limits::new(&get("/x"), &Io::new(), timeout);
        assert_eq!((plain.answer(), plain.rest(), plain.credentials()), (timeout, timeout, timeout));
    }

    #[test]
    fn the_texts_name_the_request_and_the_limit() {
        let limits = Limits::new(&get("/v1/jobs?prefix=a"), &Io::new(), Some(Duration::from_millis(150)));
        let Error::Timeout { what } = limits.head_timed_out() else { unreachable!() };
        assert_eq!(
            what,
            "no response head for the stream GET /v1/jobs within 150ms (request_timeout plus the query's wait)"
        );
        let Error::Timeout { what } = limits.response_timed_out() else { unreachable!() };
        assert!(what.starts_with("no complete response to GET /v1/jobs within 150ms"), "{what}");
        let Error::Timeout { what } = limits.error_body_timed_out() else { unreachable!() };
        assert!(what.starts_with("no error body for the stream GET /v1/jobs"), "{what}");
    }
}
