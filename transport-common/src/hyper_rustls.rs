//! Runtime-independent pieces of a hyper + rustls transport: the time a blocking query may take
//! (`wait=` / `timeoutSeconds=`), whether a request follows a log, and how hyper and rustls
//! failures become [`Error`]s. Nothing here does I/O or names a runtime.

use std::time::Duration;

use clustermanager_core::deadline::TimeLimit;
use clustermanager_core::error::TransportErrorKind;
use clustermanager_core::{Error, Request};

use crate::tls;

/// The extra time a blocking query may legitimately take: Nomad's `wait=` or Kubernetes'
/// `timeoutSeconds=`, plus the 1/16 jitter Nomad adds and 10 s of slack. Zero without either.
pub fn query_wait(query: &str) -> Duration {
    let mut wait = None;
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "timeoutSeconds" => wait = value.parse::<u64>().ok().map(Duration::from_secs).or(wait),
            "wait" => wait = parse_go_duration(value).or(wait),
            _ => {}
        }
    }
    wait.map(|w| w.saturating_add(w / 16).saturating_add(Duration::from_secs(10))).unwrap_or_default()
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

/// The hyper error somewhere in `err`'s chain of sources.
pub fn find_hyper<'e>(err: &'e (dyn std::error::Error + 'static)) -> Option<&'e hyper::Error> {
    let mut source = Some(err);
    while let Some(e) = source {
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            return Some(h);
        }
        source = e.source();
    }
    None
}

/// The error a request that got no response becomes: a TLS failure after the handshake (a
/// refused client certificate shows up there with TLS 1.3), or an I/O failure.
pub fn request_error(err: &hyper::Error, host: &str) -> Error {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(tls_err) = as_rustls(e) {
            return tls::tls_error(tls_err, host);
        }
        source = e.source();
    }
    let mut message = chain_message(err);
    if err.is_incomplete_message() {
        message.push_str("; the server closed the connection before answering");
    }
    Error::transport(TransportErrorKind::Io, message)
}

/// The error a failed body read becomes: `Truncated` when the body stopped before its declared
/// end, `Tls` for a TLS failure, `Io` otherwise.
pub fn body_error(err: &hyper::Error) -> Error {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut truncated = err.is_incomplete_message();
    while let Some(e) = source {
        if let Some(tls_err) = as_rustls(e) {
            return tls::tls_error(tls_err, "the server");
        }
        if e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::UnexpectedEof) {
            truncated = true;
        }
        source = e.source();
    }
    if truncated {
        Error::transport(
            TransportErrorKind::Truncated,
            format!("the response body ended before its end: {}", chain_message(err)),
        )
    } else {
        Error::transport(TransportErrorKind::Io, format!("reading the response body failed: {}", chain_message(err)))
    }
}

/// The rustls error `e` is, or wraps as an I/O error (whose `source()` skips the wrapped error).
pub fn as_rustls<'e>(e: &'e (dyn std::error::Error + 'static)) -> Option<&'e rustls::Error> {
    e.downcast_ref::<rustls::Error>()
        .or_else(|| e.downcast_ref::<std::io::Error>()?.get_ref()?.downcast_ref::<rustls::Error>())
}

/// `error: cause: cause`, skipping causes whose text repeats their parent's.
pub fn chain_message(err: &(dyn std::error::Error + 'static)) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !message.ends_with(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = e.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

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
