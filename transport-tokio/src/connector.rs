//! The connector hyper-util's pooled client opens connections with: a unit of the connection
//! budget first, then TCP under the connect timeout (a [`Dial`]: tokio's sockets, or another
//! reactor's), then TLS (tokio-rustls) for `https`. Its errors carry the failed stage so the
//! transport can report `Connect` or `Tls`.
//!
//! ## The connection budget
//!
//! Each connection holds a unit of the transport's connection budget ([`Config::max_connections`]
//! units) from before its TCP connect until the connection itself (its IO object, owned by
//! hyper's connection task) is dropped: in flight, idle in the pool, or on its way back to the
//! pool, so never more than `max_connections` connections are open at once. A connect without a
//! free unit waits for one; it does not evict an idle connection, as none can be idle while it
//! waits: every request first holds a unit of the request budget (also `max_connections`), so
//! when all connection units are taken at least one connection serves no other request, and that
//! one is idle in the pool (the request's pool checkout takes it before connecting), on its way
//! back (hyper-util's checkout, which races the connect, gets it when it arrives), or closing
//! (its unit comes free). Idle connections beyond what is needed are closed by the pool (90 s
//! idle timeout, at most `max_connections` idle).
//!
//! When the checkout wins, hyper-util lets the started connect finish in the background (to pool
//! its connection). A background connect still waiting for a unit would wait until some
//! connection closes and then open one nobody asked for, so the wait is tied to its request:
//! [`wanting`] marks the request, and a connect whose request got its response head (or was
//! dropped) stops waiting for a unit. A connect that already has its unit completes and pools
//! its connection, within the budget.
//!
//! ## The first TLS connection
//!
//! Until the first TLS connection to the server is made, no other TLS connect starts: a cold
//! burst (hundreds of calls at start-up) would otherwise open one connection per request, up to
//! the budget, before anyone knew the server speaks HTTP/2 and one connection serves them all
//! (see `FirstConnect`).
//!
//! [`Config::max_connections`]: clustermanager_core::Config::max_connections

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use clustermanager_core::error::TransportErrorKind;
use clustermanager_core::Error;
use http::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use clustermanager_transport_common::budget::{Budget, Permit};
use clustermanager_transport_common::connect::{connect_timed_out, handshake_error, Target};
use clustermanager_transport_common::hyper_rustls::ConnectError;
use clustermanager_transport_common::tls::ClientTls;
use tokio::sync::watch;

tokio::task_local! {
    /// Set while a request asks hyper-util's client for a connection: closed once the request no
    /// longer needs one (see [`wanting`]).
    static WANTED: watch::Receiver<()>;
}

/// Run `request` (a hyper-util client request) so that the connects it starts stop waiting for a
/// unit of the connection budget once it finishes or is dropped: when its pool checkout won
/// meanwhile, such a connect was left to finish in the background for nobody.
pub(crate) async fn wanting<F: Future>(request: F) -> F::Output {
    let (_wanted, watch) = watch::channel(());
    WANTED.scope(watch, request).await
}

/// How a TCP connection is opened: with tokio's sockets ([`TokioDial`]), or with those of
/// another reactor that drives hyper's connections (the Python package's asyncio loop, say).
pub trait Dial: Clone + Send + Sync + 'static {
    /// An open TCP connection.
    type Tcp: AsyncRead + AsyncWrite + Send + Unpin + 'static;

    /// Open a TCP connection to `host` (a name or a bare IP address) and `port`, with Nagle off
    /// (small requests and stream frames should not wait). The connect timeout is the caller's.
    fn dial(&self, host: &str, port: u16) -> impl Future<Output = io::Result<Self::Tcp>> + Send;
}

/// TCP with tokio's sockets.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioDial;

impl Dial for TokioDial {
    type Tcp = TcpStream;

    async fn dial(&self, host: &str, port: u16) -> io::Result<TcpStream> {
        let tcp = TcpStream::connect((host, port)).await?;
        let _ = tcp.set_nodelay(true);
        Ok(tcp)
    }
}

/// Opens TCP (and TLS) connections, each under a unit of the connection budget. Cloned into the
/// pool; the TLS settings and the budget are shared so an exec plugin's fresh client certificate
/// applies to the next connections.
#[derive(Clone)]
pub(crate) struct Connector<D> {
    pub(crate) connect_timeout: Duration,
    pub(crate) tls: Arc<ClientTls>,
    /// One unit per open connection.
    pub(crate) connections: Budget,
    pub(crate) dial: D,
    /// Whether the first TLS connection was made (see [`FirstConnect`]).
    pub(crate) first: Arc<FirstConnect>,
}

/// Until the first TLS connection to the server is made, other TLS connects wait for it: only
/// its handshake tells whether the server speaks HTTP/2 (ALPN), and hyper-util's pool, not
/// knowing yet, starts a connect for every request of a burst (up to the whole budget).
///
/// - The wait for the first one counts against the connect timeout (the clock starts before
///   it): when its handshake stalls, the others fail with it, not one connect timeout later.
/// - When it speaks HTTP/2, the pool hands it to every waiting request (after hyper's own
///   HTTP/2 handshake) and their connects, no longer wanted once their answer comes, end
///   ([`wanting`]). One still wanted goes ahead only if that connection closes, or after
///   [`H2_WAIT_MAX`].
/// - When it speaks HTTP/1.1, or fails, the others go ahead at once, one handshake later than
///   they would have.
///
/// Plain `http` (HTTP/1.1 only) does not wait.
#[derive(Default)]
pub(crate) struct FirstConnect {
    /// The first connect has finished (made or failed): nobody waits for it any more.
    settled: AtomicBool,
    /// While the first connection, HTTP/2, is open: its sender goes with the connection.
    h2_open: std::sync::Mutex<Option<watch::Receiver<()>>>,
    gate: tokio::sync::Mutex<()>,
}

/// The longest a connect that waited for the first TLS connection, which speaks HTTP/2, waits
/// more for its request to be served over it before it connects after all (the request's own
/// deadline is usually shorter).
pub(crate) const H2_WAIT_MAX: Duration = Duration::from_secs(60);

/// How a connect came through the wait for the first TLS connection.
enum FirstTurn<'a> {
    /// No wait, or the first one finished: connect, within what is left of the connect timeout
    /// after waiting for the first one.
    GoAhead(Duration),
    /// This is the first one (the gate is held while it connects).
    First(tokio::sync::MutexGuard<'a, ()>),
    /// The first one did not finish within the connect timeout: this one times out with it.
    TimedOut,
}

impl<D: Dial> tower_service::Service<Uri> for Connector<D> {
    type Response = Conn;
    type Error = ConnectError;
    type Future = Pin<Box<dyn Future<Output = Result<Conn, ConnectError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let this = self.clone();
        // called while the request that starts the connect polls it (hyper-util connects lazily,
        // from the request's own future); without a mark, the unit wait is not cut short
        let wanted = WANTED.try_with(watch::Receiver::clone).ok();
        Box::pin(async move {
            let timed_out = || ConnectError(connect_timed_out(&authority(&uri), this.connect_timeout));
            let turn = this.first_tls(&uri, wanted.clone()).await?;
            let left = match turn {
                FirstTurn::GoAhead(left) => left,
                FirstTurn::First(_) => this.connect_timeout,
                FirstTurn::TimedOut => return Err(timed_out()),
            };
            let unit = this.unit(wanted).await?;
            let mut made = match tokio::time::timeout(left, this.connect(&uri, unit)).await {
                Ok(result) => result.map_err(ConnectError),
                Err(_) => Err(timed_out()),
            };
            if let FirstTurn::First(_gate) = turn {
                if let Some(conn) = made.as_mut().ok().filter(|conn| conn.h2) {
                    let (open, watched) = watch::channel(());
                    conn._h2_open = Some(open);
                    *this.first.h2_open.lock().unwrap_or_else(|p| p.into_inner()) = Some(watched);
                }
                this.first.settled.store(true, Ordering::Release);
            }
            made
        })
    }
}

/// `wait`'s output, or an error once the connect's request no longer wants a connection (its
/// mark `wanted` is dropped: it got its answer over another connection, or was dropped itself).
async fn unwanted_ends<T>(
    wanted: Option<watch::Receiver<()>>,
    wait: impl Future<Output = T>,
) -> Result<T, ConnectError> {
    let Some(mut wanted) = wanted else {
        return Ok(wait.await);
    };
    tokio::select! {
        biased;
        out = wait => Ok(out),
        // never sent to: returns once the request's mark is dropped
        _ = wanted.changed() => Err(ConnectError(Error::transport(
            TransportErrorKind::Connect,
            "a pooled connection served the request this connection was for",
        ))),
    }
}

fn authority(uri: &Uri) -> String {
    uri.authority().map(|a| a.as_str().to_owned()).unwrap_or_else(|| uri.to_string())
}

impl<D: Dial> Connector<D> {
    /// A unit of the connection budget, waiting for one while the connect's request wants it.
    async fn unit(&self, wanted: Option<watch::Receiver<()>>) -> Result<Permit, ConnectError> {
        unwanted_ends(wanted, self.connections.acquire()).await
    }

    /// For a TLS connect before the first TLS connection was made: the first one's turn (held
    /// while it connects), or a wait for it to finish (within the connect timeout) and, when it
    /// speaks HTTP/2, for the pool to hand it out; cut short (an error) when the connect's
    /// request no longer wants a connection. See [`FirstConnect`].
    async fn first_tls(&self, uri: &Uri, wanted: Option<watch::Receiver<()>>) -> Result<FirstTurn<'_>, ConnectError> {
        if uri.scheme_str() != Some("https") || self.first.settled.load(Ordering::Acquire) {
            return Ok(FirstTurn::GoAhead(self.connect_timeout));
        }
        let started = tokio::time::Instant::now();
        let gate = unwanted_ends(wanted.clone(), self.first.gate.lock());
        let Ok(turn) = tokio::time::timeout(self.connect_timeout, gate).await else {
            return Ok(FirstTurn::TimedOut);
        };
        let turn = turn?;
        if !self.first.settled.load(Ordering::Acquire) {
            return Ok(FirstTurn::First(turn));
        }
        drop(turn);
        let left = self.connect_timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Ok(FirstTurn::TimedOut);
        }
        let h2_open = self.first.h2_open.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(mut open) = h2_open {
            // never sent to: returns once the connection is gone
            let closed = async move { while open.changed().await.is_ok() {} };
            let _ = unwanted_ends(wanted, tokio::time::timeout(H2_WAIT_MAX, closed)).await?;
            // served by neither: connect afresh (that wait was not the connect's)
            return Ok(FirstTurn::GoAhead(self.connect_timeout));
        }
        Ok(FirstTurn::GoAhead(left))
    }

    async fn connect(&self, uri: &Uri, unit: Permit) -> Result<Conn, Error> {
        let target = Target::of(uri)?;
        let tcp = self.dial.dial(target.bare_host(), target.port).await.map_err(|e| target.tcp_failed(&e))?;
        let host = target.host;
        if !target.https {
            return Ok(Conn { io: TokioIo::new(Box::new(tcp)), h2: false, _unit: unit, _h2_open: None });
        }
        let (name, config) = self.tls.for_host(host)?;
        let stream = TlsConnector::from(config).connect(name, tcp).await.map_err(|e| handshake_error(&e, host))?;
        // the server picked HTTP/2 from our ALPN offer: hyper multiplexes this connection
        let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
        Ok(Conn { io: TokioIo::new(Box::new(stream)), h2, _unit: unit, _h2_open: None })
    }
}

/// A plain or TLS stream.
trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}

impl<S: AsyncRead + AsyncWrite + Send + Unpin> Stream for S {}

/// One connection as hyper sees it, and whether TLS negotiated HTTP/2 on it.
pub(crate) struct Conn {
    io: TokioIo<Box<dyn Stream>>,
    h2: bool,
    /// The connection's unit of the connection budget, given back when hyper drops it.
    _unit: Permit,
    /// For the first TLS connection, when it speaks HTTP/2: dropped with it, which tells the
    /// connects waiting for it that it is gone (see [`FirstConnect`]).
    _h2_open: Option<watch::Sender<()>>,
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        if self.h2 {
            Connected::new().negotiated_h2()
        } else {
            Connected::new()
        }
    }
}

impl hyper::rt::Read for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }
}
