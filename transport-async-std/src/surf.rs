//! [`SurfTransport`]: the transport of every crate ([`HttpTransport`]: configuration,
//! credentials, budget, time limits, bodies) over a caller-supplied `surf::Client` (feature
//! `surf`; see the crate docs on why surf only so). What surf decides and this adapter cannot:
//! how connections are made and pooled, and the connect timeout (the whole request limit bounds
//! connecting too); [`Config::tls`] cannot be applied to a client this crate did not build, so
//! an `https` server with TLS settings is refused.
//!
//! Connections: without keep-alive (the client [`SurfTransport::new`] builds, and what
//! [`SurfTransport::over`] asks for), each connection belongs to one request or stream
//! and is closed before its unit of the budget is given back, so the budget of requests and
//! streams also bounds the TCP connections open at once by [`Config::max_connections`]. A
//! caller's keep-alive client pools connections itself (http-client's h1 pool keeps at most
//! `max_connections_per_host` per server address, idle ones included): give it
//! `surf::Config::set_max_connections_per_host(max_connections)` for the same bound.

use std::io;

use bytes::Bytes;
use clustermanager_core::error::TransportErrorKind;
use clustermanager_core::{Config, Error, Request, Response, Result};
use clustermanager_transport_common::body::DEFAULT_MAX_RESPONSE_BYTES;
use clustermanager_transport_common::connect::connect_failed;
use clustermanager_transport_common::hyper_rustls::{body_error, chain_message, closed_before_answer};
use clustermanager_transport_common::run::{self, Declared, Frames, HttpTransport, Streamed};
use clustermanager_transport_common::settings::Settings;
use clustermanager_transport_common::tls::ClientTls;
use futures_lite::AsyncReadExt;
use http::response::Parts;
use hyper::body::Frame;

use crate::pool::key;
use crate::AsyncStdRuntime;

/// The largest whole response body [`SurfTransport`] reads into memory by default: 512 MiB (the
/// tokio transport's default), far above any paginated list, so that a misdirected request (a
/// file server, an endless body) fails instead of exhausting memory. See
/// [`SurfTransport::with_max_response_bytes`](HttpTransport::with_max_response_bytes).
pub const DEFAULT_SURF_MAX_RESPONSE_BYTES: usize = DEFAULT_MAX_RESPONSE_BYTES;

/// How much one read of a streamed body takes at most.
const READ_BUFFER: usize = 16 * 1024;

/// How http-client's h1 pool (deadpool 0.7) reports a connection it could not make; the cause
/// (refused, unreachable) is only in the text.
const POOL_CONNECT_FAILED: &str = "error occured while creating a new object";

/// A [`Transport`](clustermanager_core::Transport) over a `surf::Client`: requests resolved
/// against [`Config::server`] with the configured credentials, under the configured time limits
/// and connection budget, sent through the client (and its middleware). The request flow, its
/// time limits and the builders are every transport's ([`HttpTransport`]); what is surf's is
/// the [`SurfClient`].
///
/// [`SurfTransport::new`] sends through a new surf client of this crate's plain-HTTP backend
/// (h1, no TLS): without a timeout of its own (this transport's limits apply), `TCP_NODELAY` on,
/// and without keep-alive: one connection per request or stream, closed when its response is
/// read or dropped. An `https` server then fails on the first request with a
/// [`TransportErrorKind::Connect`] error: use [`SurfTransport::over`] with a client that has a
/// TLS backend. [`SurfTransport::over`] sends through the caller's client:
///
/// - Set the client's own timeout (`surf::Config::set_timeout`) to `None` or past your longest
///   blocking query: this transport applies [`Config::request_timeout`] plus the query's wait
///   itself.
/// - Turn keep-alive off (`surf::Config::set_http_keep_alive(false)`): surf's h1 pool
///   (http-client 6) takes a connection back even when its response was not read to the end (a
///   stream dropped, a request past its time limit), and the next request on it then reads the
///   rest of the old response (`invalid HTTP version`). Watches and log follows are dropped
///   mid-body routinely.
///
/// Either fails with [`Error::Config`] for an `https` server with TLS settings in
/// [`Config::tls`] (CA, client certificate, skip-verify, server name): configure those in the
/// surf client and leave [`Config::tls`] at its default. For `http://` they are ignored, as by
/// every transport. This crate enables no TLS backend of surf's. Credentials over plain
/// `http://` are treated as the main transport treats them (a warning, naming no credential,
/// when the transport is built). Middleware in the client sees the requests with their
/// `Authorization` / `X-Nomad-Token` headers: do not install one that logs headers.
///
/// [`budget`](HttpTransport::budget) counts requests and streams, and so connections: each is
/// closed before its unit is given back ([`connections`](HttpTransport::connections) is the same
/// budget). Cheap to clone: clones share the client, the credential caches and the budget.
///
/// ```no_run
/// # fn main() -> clustermanager_async_std::Result<()> {
/// use clustermanager_async_std::{Config, SurfTransport};
///
/// let config = Config::nomad("http://127.0.0.1:4646")?;
/// let transport = SurfTransport::over(surf::Client::new(), &config)?;
/// futures_lite::future::block_on(async {
///     let cm = clustermanager_async_std::core::ClusterManager::connect(transport, &config, 7).await?;
///     println!("{:?}", cm.orchestrator());
///     Ok(())
/// })
/// # }
/// ```
///
/// ```
/// let config = clustermanager_async_std::Config::nomad("http://127.0.0.1:4646")?;
/// let transport = clustermanager_async_std::SurfTransport::new(&config)?;
/// # let _ = transport;
/// # Ok::<(), clustermanager_async_std::Error>(())
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "surf")))]
pub type SurfTransport = HttpTransport<SurfClient>;

/// What is surf's in a [`SurfTransport`]: the surf client requests go through (from a
/// `surf::Client`, for [`SurfTransport::over`]). The TLS settings of its transport are where an
/// exec plugin's client certificate lands, never used for a connection here: over `https`, a
/// request after the plugin handed out a certificate (which a surf client could not present)
/// fails with [`Error::Config`].
#[cfg_attr(docsrs, doc(cfg(feature = "surf")))]
pub struct SurfClient(::surf::Client);

impl SurfClient {
    /// The surf client requests go through.
    pub fn surf(&self) -> &::surf::Client {
        &self.0
    }
}

impl From<::surf::Client> for SurfClient {
    fn from(client: ::surf::Client) -> Self {
        SurfClient(client)
    }
}

impl run::Client for SurfClient {
    type Runtime = AsyncStdRuntime;
    type Unread = ::surf::Body;
    type Frames = Declared<SurfFrames>;
    const NAME: &'static str = "SurfTransport";

    /// Refuses TLS settings for an `https` server, which a surf client cannot be given.
    fn tls(config: &Config) -> Result<ClientTls> {
        if config.server.scheme() == "https" && config.tls != Default::default() {
            return Err(Error::config(
                "tls",
                "TLS settings (CA, client certificate, skip-verify, server name) cannot be applied to a \
                 caller-supplied surf client; configure TLS in the surf client and leave the TLS settings \
                 unset, or use AsyncStdTransport",
            ));
        }
        ClientTls::new(config)
    }

    /// The client [`SurfTransport::new`] builds: no timeout of its own, `TCP_NODELAY` on, no
    /// keep-alive.
    fn build(_: &Settings<AsyncStdRuntime>) -> Result<Self> {
        let surf_config = ::surf::Config::new().set_timeout(None).set_tcp_no_delay(true).set_http_keep_alive(false);
        // The error type depends on which surf backends the build enabled (none can fail for h1).
        let client: std::result::Result<::surf::Client, _> = surf_config.try_into();
        client.map(SurfClient).map_err(|e| Error::config("surf", format!("cannot build the surf client: {e}")))
    }

    /// Convert a ready request to surf's, send it through the client and convert the answer's
    /// head.
    async fn dispatch(&self, settings: &Settings<AsyncStdRuntime>, request: Request) -> Result<(Parts, ::surf::Body)> {
        if settings.config().server.scheme() == "https" && settings.tls().has_exec_identity() {
            return Err(Error::config(
                "exec",
                "the exec plugin returned a client certificate, which a caller-supplied surf client \
                 cannot present; use AsyncStdTransport, or a plugin that returns a token",
            ));
        }
        let target = key(request.uri());
        let mut response = self.0.send(to_surf(request)?).await.map_err(|e| request_error(&e, &target))?;
        Ok((head_of(&response)?, response.take_body()))
    }

    /// Read a whole response body into memory, at most `max_response_bytes`.
    async fn read_whole(&self, parts: Parts, body: ::surf::Body, max: usize) -> Result<Response> {
        let body = run::collect(SurfFrames::new(body), max, "SurfTransport::with_max_response_bytes").await?;
        Ok(Response::from_parts(parts, body))
    }

    fn stream(&self, body: ::surf::Body) -> Self::Frames {
        SurfFrames::new(body)
    }
}

/// Core's request as surf's: method, absolute URL, headers (values must be ASCII, which surf
/// requires), body.
fn to_surf(request: Request) -> Result<::surf::Request> {
    use ::surf::http::headers::{HeaderName, HeaderValue};
    let (parts, body) = request.into_parts();
    let method: ::surf::http::Method = parts
        .method
        .as_str()
        .parse()
        .map_err(|_| Error::protocol(format!("surf cannot send the method {}", parts.method)))?;
    let uri = parts.uri.to_string();
    let url = ::surf::Url::parse(&uri).map_err(|e| Error::protocol(format!("unusable request URL {uri:?}: {e}")))?;
    let mut out = ::surf::Request::new(method, url);
    for (name, value) in &parts.headers {
        let header = HeaderName::from_bytes(name.as_str().as_bytes().to_vec())
            .map_err(|_| Error::protocol(format!("surf cannot send the header name {name}")))?;
        // Never quote the value: it may be a credential.
        let value = HeaderValue::from_bytes(value.as_bytes().to_vec())
            .map_err(|_| Error::protocol(format!("surf cannot send the header {name}: its value is not ASCII")))?;
        out.append_header(header, value);
    }
    if !body.is_empty() {
        // After the headers: surf only sets a content type when the request has none.
        out.set_body(::surf::Body::from_bytes(body.to_vec()));
    }
    Ok(out)
}

/// surf's response head as an `http` one.
fn head_of(response: &::surf::Response) -> Result<Parts> {
    let status = http::StatusCode::from_u16(u16::from(response.status()))
        .map_err(|_| Error::protocol(format!("the response status {} is not valid", response.status())))?;
    let (mut parts, ()) = http::Response::new(()).into_parts();
    parts.status = status;
    for (surf_name, values) in response.iter() {
        let Ok(name) = http::HeaderName::from_bytes(surf_name.as_str().as_bytes()) else {
            tracing::debug!(header = %surf_name, "skipped a response header name http cannot represent");
            continue;
        };
        for value in values {
            match http::HeaderValue::from_bytes(value.as_str().as_bytes()) {
                Ok(value) => {
                    parts.headers.append(name.clone(), value);
                }
                // async-h1 makes up a `date` (when the server sent none) holding a line break.
                // Name only: a response header may hold a session cookie.
                Err(_) => tracing::debug!(header = %name, "skipped a response header value http cannot represent"),
            }
        }
    }
    Ok(parts)
}

/// The error a request that got no response becomes: `Connect` when no connection could be made
/// (the request was not sent), `Io` otherwise.
fn request_error(err: &::surf::Error, target: &str) -> Error {
    let message = chain_message(AsRef::<dyn std::error::Error>::as_ref(err));
    let connect = match err.downcast_ref::<io::Error>() {
        Some(io_err) => matches!(
            io_err.kind(),
            io::ErrorKind::ConnectionRefused
                | io::ErrorKind::AddrNotAvailable
                | io::ErrorKind::NetworkUnreachable
                | io::ErrorKind::HostUnreachable
        ),
        None => message.to_ascii_lowercase().contains(POOL_CONNECT_FAILED),
    };
    if connect {
        return connect_failed(target, &message);
    }
    if err.status() == ::surf::StatusCode::BadRequest && message.contains("invalid url scheme") {
        return Error::transport(
            TransportErrorKind::Connect,
            format!(
                "the surf client cannot reach {target}: {message}; for https, give SurfTransport::over a surf \
                 client with a TLS backend"
            ),
        );
    }
    if err.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::UnexpectedEof) {
        let closed = closed_before_answer();
        return Error::transport(TransportErrorKind::Io, format!("{target}: {closed}"));
    }
    Error::transport(TransportErrorKind::Io, format!("the request to {target} failed: {message}"))
}

/// The open body of a response streamed through surf. Dropping it drops surf's body: without
/// keep-alive that closes the connection; a keep-alive h1 client would take the connection back
/// unfinished (see [`SurfTransport`]).
#[cfg_attr(docsrs, doc(cfg(feature = "surf")))]
pub type SurfBody = Streamed<Declared<SurfFrames>, AsyncStdRuntime>;

/// A surf body read piece by piece (the body of a [`SurfBody`], held to its Content-Length).
pub struct SurfFrames {
    body: ::surf::Body,
    /// Where a read lands before it is copied out as [`Bytes`].
    buffer: Box<[u8]>,
}

impl SurfFrames {
    fn new(body: ::surf::Body) -> Declared<Self> {
        let declared = body.len().map(|len| len as u64);
        Declared::new(SurfFrames { body, buffer: vec![0; READ_BUFFER].into_boxed_slice() }, declared)
    }
}

impl Frames for SurfFrames {
    // A read that has not finished has taken nothing: stopping at a timeout loses no bytes.
    async fn frame(&mut self) -> Option<Result<Frame<Bytes>>> {
        match self.body.read(&mut self.buffer).await {
            Ok(0) => None,
            Ok(n) => Some(Ok(Frame::data(Bytes::copy_from_slice(&self.buffer[..n])))),
            Err(e) => Some(Err(body_error(&e))),
        }
    }

    fn finished(&mut self, _clean: bool) {
        // the connection (without keep-alive) closes before its unit is given back
        self.body = ::surf::Body::empty();
    }
}
