//! Connections: opening them (TCP under the connect timeout, then TLS for `https`), driving them
//! without spawning, and keeping idle keep-alive ones for reuse.
//!
//! async-std and smol programs bring their own executors, so this crate spawns nothing: a
//! connection's hyper dispatcher ([`Driver`]) is polled by whichever request or body currently
//! uses it, together with that request's own future. An idle pooled connection is not polled at
//! all; before reuse it is polled once, so one the server has closed meanwhile is noticed and
//! dropped. Dropping a request or a body drops its connection with it (an in-flight connection is
//! never returned to the pool).
//!
//! Every connection holds a unit of the connection budget ([`Config::max_connections`] units)
//! for as long as it is open, in use or idle, so never more than `max_connections` are open at
//! once. A new connection without a free unit first closes the oldest idle connection (an idle
//! one of another server, or one that became idle since the pool was looked at); only when none
//! is idle does it wait for a unit. That wait is short: every request holds a unit of the
//! request budget (also `max_connections`) before it asks for a connection, so when all
//! connection units are taken, one of the connections serves no other request and is idle (or
//! closing).
//!
//! [`Config::max_connections`]: clustermanager_core::Config::max_connections

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
use crate::AsyncStdRuntime;
use clustermanager_transport_common::budget::{Budget, Permit};
use clustermanager_transport_common::connect::{connect_timed_out, handshake_error, Target};
use clustermanager_transport_common::run::within;
use clustermanager_transport_common::tls::ClientTls;

/// How long an idle connection is kept.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// How many idle connections are kept.
const MAX_IDLE: usize = 16;

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
pub struct Conn {
    pub(crate) sender: http1::SendRequest<Full<Bytes>>,
    pub(crate) driver: Driver,
    /// Whether it served a request before (a request that fails on it unsent may be retried on a
    /// fresh connection).
    pub(crate) reused: bool,
    key: String,
    /// The connection's unit of the connection budget, given back when it is dropped (closed).
    _unit: Permit,
}

/// Opens connections (within the connection budget) and keeps idle ones.
pub(crate) struct Pool {
    pub(crate) connect_timeout: Duration,
    pub(crate) tls: Arc<ClientTls>,
    /// One unit per open connection, idle ones included.
    pub(crate) connections: Budget,
    idle: Mutex<Vec<(Instant, Conn)>>,
}

impl Pool {
    pub(crate) fn new(connect_timeout: Duration, tls: Arc<ClientTls>, connections: Budget) -> Self {
        Pool { connect_timeout, tls, connections, idle: Mutex::new(Vec::new()) }
    }

    /// A unit of the connection budget for a new connection: a free one, else the unit of the
    /// oldest idle connection (closed for it), else the next one given back.
    async fn unit(&self) -> Permit {
        loop {
            if let Some(unit) = self.connections.try_acquire() {
                return unit;
            }
            let oldest = {
                let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
                (!idle.is_empty()).then(|| idle.remove(0))
            };
            match oldest {
                // closing it gives its unit back; take it on the next turn
                Some(closed) => drop(closed),
                None => return self.connections.acquire().await,
            }
        }
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

    /// A new connection under a unit of the connection budget and the connect timeout (which
    /// starts once the unit is there).
    pub(crate) async fn connect(&self, uri: &Uri, pool_key: String) -> Result<Conn> {
        let unit = self.unit().await;
        let limit = self.connect_timeout;
        let timed_out = || Err(connect_timed_out(&key(uri), limit));
        let (sender, conn) = within::<AsyncStdRuntime, _>(Some(limit), self.connect_inner(uri), timed_out).await?;
        Ok(Conn {
            sender,
            driver: Driver { conn: Box::pin(conn), ended: false, error: None },
            reused: false,
            key: pool_key,
            _unit: unit,
        })
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::io::Read;
    use std::net::TcpListener;
    use std::sync::mpsc;

    use super::*;

    /// A listener that accepts one connection and reports when the client has closed it.
    fn listener() -> (Uri, mpsc::Receiver<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let uri: Uri = format!("http://{}/", listener.local_addr().unwrap()).parse().unwrap();
        let (closed, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let (mut tcp, _) = listener.accept().unwrap();
            // nothing is sent: a read returns 0 (or fails) once the client closes
            let _ = tcp.read(&mut [0u8; 64]);
            let _ = closed.send(());
        });
        (uri, rx)
    }

    #[test]
    fn a_connection_beyond_the_budget_closes_the_oldest_idle_one() {
        let config = clustermanager_core::Config::kubernetes("http://127.0.0.1:1").unwrap();
        let pool = Pool::new(Duration::from_secs(5), Arc::new(ClientTls::new(&config).unwrap()), Budget::new(1));
        let ((a, a_closed), (b, b_closed)) = (listener(), listener());
        futures_lite::future::block_on(async {
            let to_a = pool.connect(&a, key(&a)).await.unwrap();
            pool.put(to_a);
            assert_eq!(pool.connections.in_use(), 1, "an idle connection holds its unit");
            // another server (another pool key): the idle connection to `a` makes way
            let to_b = pool.connect(&b, key(&b)).await.unwrap();
            assert_eq!((pool.connections.in_use(), pool.connections.peak()), (1, 1));
            assert!(a_closed.recv_timeout(Duration::from_secs(5)).is_ok(), "the idle connection was closed");
            drop(to_b);
            assert_eq!(pool.connections.in_use(), 0);
            assert!(b_closed.recv_timeout(Duration::from_secs(5)).is_ok());
        });
    }
}
