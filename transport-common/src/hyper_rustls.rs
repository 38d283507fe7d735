//! Runtime-independent pieces of a hyper + rustls transport: how hyper and rustls failures
//! become [`Error`]s. Nothing here does I/O or names a runtime. (How long a request may take
//! comes from the step's [`Io`](clustermanager_core::deadline::Io), not from here.)

use clustermanager_core::error::TransportErrorKind;
use clustermanager_core::Error;

use crate::tls;

/// Why a connection could not be made, as an error a client library (hyper-util's pool) can
/// carry to the caller as a source of its own error; [`client_error`] finds it again.
#[derive(Debug)]
pub struct ConnectError(pub Error);

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ConnectError {}

/// The error a failed client request becomes: the connector's own error when it carried one
/// ([`ConnectError`]: Connect / Tls / Config), else what [`no_response`] makes of it, as a
/// `Connect` error when `connecting` (no connection was made) and an `Io` one otherwise.
pub fn client_error(err: &(dyn std::error::Error + 'static), host: &str, connecting: bool) -> Error {
    let mut source = Some(err);
    while let Some(e) = source {
        if let Some(ConnectError(inner)) = e.downcast_ref::<ConnectError>() {
            // a copy: the client only lends us its error by reference
            return match inner {
                Error::Transport { kind, message } => Error::transport(*kind, message.clone()),
                Error::Config { key, problem } => Error::config(key.clone(), problem.clone()),
                other => Error::transport(TransportErrorKind::Connect, other.to_string()),
            };
        }
        source = e.source();
    }
    let kind = if connecting { TransportErrorKind::Connect } else { TransportErrorKind::Io };
    no_response(err, host, kind)
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
    no_response(err, host, TransportErrorKind::Io)
}

/// The error a request that got no response becomes, from a client's error whose sources may
/// hold a rustls or hyper error: a TLS failure after the handshake (a refused client certificate
/// shows up there with TLS 1.3), else an error of `kind` with the whole chain's text (noting when
/// hyper saw the connection close before the response).
pub fn no_response(err: &(dyn std::error::Error + 'static), host: &str, kind: TransportErrorKind) -> Error {
    let mut source = Some(err);
    while let Some(e) = source {
        if let Some(tls_err) = as_rustls(e) {
            return tls::tls_error(tls_err, host);
        }
        source = e.source();
    }
    let mut message = chain_message(err);
    if find_hyper(err).is_some_and(|h| h.is_incomplete_message()) {
        message.push_str("; the server closed the connection before answering");
    }
    Error::transport(kind, message)
}

/// The error a failed body read becomes (from a hyper error, or an I/O error of a client that
/// reads bodies itself): `Truncated` when the body stopped before its declared end, `Tls` for a
/// TLS failure, `Io` otherwise.
pub fn body_error(err: &(dyn std::error::Error + 'static)) -> Error {
    let mut source = Some(err);
    let mut truncated = find_hyper(err).is_some_and(|h| h.is_incomplete_message());
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

/// A connection closed before any answer came.
pub fn closed_before_answer() -> Error {
    Error::transport(TransportErrorKind::Io, "the server closed the connection before answering")
}

/// A connection closed before the response body ended.
pub fn truncated_by_close() -> Error {
    Error::transport(TransportErrorKind::Truncated, "the connection closed before the response body ended")
}

/// A body declared `declared` bytes long (Content-Length) whose connection closed after `got`.
pub fn short_body(got: u64, declared: u64) -> Error {
    let closed = truncated_by_close();
    Error::transport(TransportErrorKind::Truncated, format!("{closed}: {got} of {declared} bytes arrived"))
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
