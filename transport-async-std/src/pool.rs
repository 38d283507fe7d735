//! Connections: opening them (TCP under the connect timeout, then TLS for `https`), driving them
//! without spawning, and keeping idle keep-alive ones for reuse.
//!
//! async-std and smol programs bring their own executors, so this crate spawns nothing: a
//! connection's hyper dispatcher ([`Driver`]) is polled by whichever request or body currently
//! uses it, together with that request's own future. An idle pooled connection is not polled at
//! all; before reuse it is polled once, so one the server has closed meanwhile is noticed and
//! dropped. Dropping a request or a body drops its connection with it (an in-flight connection is
//! never returned to the pool).

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clustermanager_core::error::TransportErrorKind;
use clustermanager_core::{Error, Result};
use futures_lite::future;
use http::Uri;
use http_body_util::Full;
use hyper::client::conn::http1;

use crate::io::Stream;
use clustermanager_transport_common::tls::{self, ClientTls};

/// How long an idle connection is kept.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// How many idle connections are kept.
const MAX_IDLE: usize = 16;

/// A future that fails with `error(limit)` once `limit` has passed (async-io's timer), and never
/// finishes without a limit. Raced with [`future::or`] against the work it bounds, so the work's
/// future is stored once, inline (no wrapper that would double its size).
pub(crate) async fn expire<T, E>(
    limit: Option<Duration>,
    error: impl FnOnce(Duration) -> E,
) -> std::result::Result<T, E> {
    match limit {
        None => future::pending().await,
        Some(limit) => {
            async_io::Timer::after(limit).await;
            Err(error(limit))
        }
    }
}

/// hyper's half of a connection that must be polled for anything to move on it.
pub(crate) struct Driver {
    conn: Pin<Box<http1::Connection<Stream, Full<Bytes>>>>,
    ended: bool,
    /// The connection's failure, kept for the caller: hyper hands the request or body only a
    /// generic "channel closed" when the connection itself broke (e.g. a TLS alert).
    error: Option<hyper::Error>,
}

/// Why [`Driver::run`] returned without the future's output: the connection ended first.
pub(crate) struct Ended(pub(crate) Option<hyper::Error>);

impl Driver {
    /// Poll `fut` to completion while driving the connection. When the connection ends first
    /// (closed or failed) and `fut` still cannot finish, returns the connection's error.
    pub(crate) async fn run<F: Future>(&mut self, fut: F) -> std::result::Result<F::Output, Ended> {
        let mut fut = pin!(fut);
        future::poll_fn(|cx| {
            if let Poll::Ready(out) = fut.as_mut().poll(cx) {
                return Poll::Ready(Ok(out));
            }
            if self.ended {
                return Poll::Ready(Err(Ended(None)));
            }
            match self.conn.as_mut().poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(result) => {
                    self.ended = true;
                    self.error = result.err();
                    // The connection's end may be what `fut` was waiting for (an error handed to
                    // the response or body).
                    match fut.as_mut().poll(cx) {
                        Poll::Ready(out) => Poll::Ready(Ok(out)),
                        Poll::Pending => Poll::Ready(Err(Ended(self.error.take()))),
                    }
                }
            }
        })
        .await
    }

    /// The error the connection itself failed with, if it did (taken once).
    pub(crate) fn take_error(&mut self) -> Option<hyper::Error> {
        self.error.take()
    }

    /// Poll once without waiting: `false` when the connection has ended (e.g. the server closed
    /// an idle keep-alive connection).
    async fn still_open(&mut self) -> bool {
        if self.ended {
            return false;
        }
        if future::poll_once(self.conn.as_mut()).await.is_some() {
            self.ended = true;
        }
        !self.ended
    }
}

/// One HTTP/1.1 connection: the sending half and its driver.
pub(crate) struct Conn {
    pub(crate) sender: http1::SendRequest<Full<Bytes>>,
    pub(crate) driver: Driver,
    /// Whether it served a request before (a request that fails on it unsent may be retried on a
    /// fresh connection).
    pub(crate) reused: bool,
    key: String,
}

/// Opens connections and keeps idle ones.
pub(crate) struct Pool {
    pub(crate) connect_timeout: Duration,
    pub(crate) tls: Arc<ClientTls>,
    idle: Mutex<Vec<(Instant, Conn)>>,
}

impl Pool {
    pub(crate) fn new(connect_timeout: Duration, tls: Arc<ClientTls>) -> Self {
        Pool { connect_timeout, tls, idle: Mutex::new(Vec::new()) }
    }

    /// An idle connection to `uri`'s server that is still open, or a new one.
    pub(crate) async fn get(&self, uri: &Uri) -> Result<Conn> {
        let wanted = key(uri);
        loop {
            let candidate = {
                let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
                idle.retain(|(since, _)| since.elapsed() < IDLE_TIMEOUT);
                idle.iter().rposition(|(_, c)| c.key == wanted).map(|i| idle.swap_remove(i).1)
            };
            let Some(mut conn) = candidate else { break };
            if conn.driver.still_open().await && !conn.sender.is_closed() {
                conn.reused = true;
                return Ok(conn);
            }
        }
        Box::pin(self.connect(uri, wanted)).await
    }

    /// Keep a connection whose last exchange finished cleanly (checked again before reuse).
    pub(crate) fn put(&self, conn: Conn) {
        if conn.driver.ended || conn.sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.retain(|(since, _)| since.elapsed() < IDLE_TIMEOUT);
        if idle.len() >= MAX_IDLE {
            idle.remove(0);
        }
        idle.push((Instant::now(), conn));
    }

    /// A new connection under the connect timeout.
    pub(crate) async fn connect(&self, uri: &Uri, pool_key: String) -> Result<Conn> {
        let limit = self.connect_timeout;
        let timed_out = |limit: Duration| {
            Error::transport(
                TransportErrorKind::Connect,
                format!(
                    "no connection to {} within {limit:?} (connect_timeout); check the server address and that it is reachable",
                    key(uri)
                ),
            )
        };
        let (sender, conn) = future::or(self.connect_inner(uri), expire(Some(limit), timed_out)).await?;
        Ok(Conn {
            sender,
            driver: Driver { conn: Box::pin(conn), ended: false, error: None },
            reused: false,
            key: pool_key,
        })
    }

    async fn connect_inner(
        &self,
        uri: &Uri,
    ) -> Result<(http1::SendRequest<Full<Bytes>>, http1::Connection<Stream, Full<Bytes>>)> {
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            other => return Err(Error::config("server", format!("scheme {other:?} is not http or https"))),
        };
        let host = uri.host().ok_or_else(|| Error::config("server", format!("{uri} has no host")))?;
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let bare_host = host.trim_start_matches('[').trim_end_matches(']');
        let tcp = async_net::TcpStream::connect((bare_host, port)).await.map_err(|e| {
            Error::transport(
                TransportErrorKind::Connect,
                format!("cannot connect to {host}:{port}: {e}; check the server address and that the server runs"),
            )
        })?;
        // Small requests and stream frames should not wait for Nagle.
        let _ = tcp.set_nodelay(true);
        let stream = if https {
            let (name, config) = self.tls.for_host(host)?;
            let tls_stream = futures_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .map_err(|e| handshake_error(&e, host))?;
            Stream::tls(tls_stream)
        } else {
            Stream::plain(tcp)
        };
        http1::Builder::new().handshake(stream).await.map_err(|e| {
            Error::transport(TransportErrorKind::Connect, format!("starting HTTP/1.1 with {host}:{port} failed: {e}"))
        })
    }
}

/// `scheme://host:port` of a request, the pool's key.
pub(crate) fn key(uri: &Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("http");
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
    let authority = authority.rsplit_once('@').map(|(_, a)| a).unwrap_or(authority);
    format!("{scheme}://{authority}")
}

fn handshake_error(err: &std::io::Error, host: &str) -> Error {
    match err.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(tls_err) => tls::tls_error(tls_err, host),
        None => Error::transport(
            TransportErrorKind::Tls,
            format!("the TLS handshake with {host} failed: {err}; is the server speaking TLS on that port?"),
        ),
    }
}
