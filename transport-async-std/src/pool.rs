//! Connections: opening them (TCP under the connect timeout, then TLS for `https`), driving them
//! without spawning, and keeping idle keep-alive ones for reuse (in transport-common's
//! [`pool`](clustermanager_transport_common::pool), within the connection budget).
//!
//! async-std and smol programs bring their own executors, so this crate spawns nothing: a
//! connection's hyper dispatcher ([`Driver`]) is polled by whichever request or body currently
//! uses it, together with that request's own future. An idle pooled connection is not polled at
//! all; before reuse it is polled once, so one the server has closed meanwhile is noticed and
//! dropped. Dropping a request or a body drops its connection with it (an in-flight connection is
//! never returned to the pool).
//!
//! A new connection without a free unit of the connection budget closes the oldest idle one, and
//! only when none is idle waits for a unit. That wait is short: every request holds a unit of the
//! request budget (also [`Config::max_connections`]) before it asks for a connection, so when all
//! connection units are taken, one of the connections serves no other request and is idle (or
//! closing).
//!
//! [`Config::max_connections`]: clustermanager_core::Config::max_connections

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use clustermanager_core::error::TransportErrorKind;
use clustermanager_core::{Error, Result};
use futures_lite::future;
use http::Uri;
use http_body_util::Full;
use hyper::client::conn::http1;

use crate::io::Stream;
use crate::AsyncStdRuntime;
use clustermanager_transport_common::budget::Budget;
use clustermanager_transport_common::connect::{connect_timed_out, handshake_error, Target};
use clustermanager_transport_common::hyper_rustls::{
    body_error, closed_before_answer, request_error, truncated_by_close,
};
use clustermanager_transport_common::pool::{self, Pooled, Reusable};
use clustermanager_transport_common::run::within;
use clustermanager_transport_common::tls::ClientTls;

/// hyper's half of a connection that must be polled for anything to move on it.
pub(crate) struct Driver {
    conn: Pin<Box<http1::Connection<Stream, Full<Bytes>>>>,
    ended: bool,
    /// The connection's failure, kept for the caller: hyper hands the request or body only a
    /// generic "channel closed" when the connection itself broke (e.g. a TLS alert).
    error: Option<hyper::Error>,
}

/// Why [`Driver::run`] returned without the future's output: the connection ended first.
pub(crate) struct Ended(Option<hyper::Error>);

impl Ended {
    /// What a request whose connection ended before the answer's head fails with.
    pub(crate) fn request_error(self, host: &str) -> Error {
        self.0.map_or_else(closed_before_answer, |e| request_error(&e, host))
    }

    /// What a body whose connection ended before the body did fails with.
    pub(crate) fn body_error(self) -> Error {
        self.0.map_or_else(truncated_by_close, |e| body_error(&e))
    }
}

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
pub struct Http1 {
    pub(crate) sender: http1::SendRequest<Full<Bytes>>,
    pub(crate) driver: Driver,
}

impl Reusable for Http1 {
    async fn still_open(&mut self) -> bool {
        self.driver.still_open().await && !self.sender.is_closed()
    }

    fn is_closed(&self) -> bool {
        self.driver.ended || self.sender.is_closed()
    }
}

/// A connection with its unit of the connection budget.
pub type Conn = Pooled<Http1>;

/// Opens connections (within the connection budget) and keeps idle ones.
pub(crate) struct Pool {
    pub(crate) connect_timeout: Duration,
    pub(crate) tls: Arc<ClientTls>,
    /// The connection budget and the idle connections.
    pub(crate) idle: pool::Pool<Http1>,
}

impl Pool {
    pub(crate) fn new(connect_timeout: Duration, tls: Arc<ClientTls>, connections: Budget) -> Self {
        Pool { connect_timeout, tls, idle: pool::Pool::new(connections) }
    }

    /// An idle connection to `uri`'s server that is still open, or a new one.
    pub(crate) async fn get(&self, uri: &Uri) -> Result<Conn> {
        match self.idle.take(&key(uri)).await {
            Some(conn) => Ok(conn),
            None => Box::pin(self.connect(uri)).await,
        }
    }

    /// A new connection under a unit of the connection budget and the connect timeout (which
    /// starts once the unit is there).
    pub(crate) async fn connect(&self, uri: &Uri) -> Result<Conn> {
        let unit = self.idle.unit().await;
        let limit = self.connect_timeout;
        let timed_out = || Err(connect_timed_out(&key(uri), limit));
        let (sender, conn) = within::<AsyncStdRuntime, _>(Some(limit), self.connect_inner(uri), timed_out).await?;
        let driver = Driver { conn: Box::pin(conn), ended: false, error: None };
        Ok(Pooled::new(Http1 { sender, driver }, key(uri), unit))
    }

    async fn connect_inner(
        &self,
        uri: &Uri,
    ) -> Result<(http1::SendRequest<Full<Bytes>>, http1::Connection<Stream, Full<Bytes>>)> {
        let target = Target::of(uri)?;
        let (host, port) = (target.host, target.port);
        let tcp = async_net::TcpStream::connect((target.bare_host(), port)).await.map_err(|e| target.tcp_failed(&e))?;
        // Small requests and stream frames should not wait for Nagle.
        let _ = tcp.set_nodelay(true);
        let stream = if target.https {
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
