//! TCP connections the event loop drives: a non-blocking socket whose waits are the loop's
//! socket watches ([`Readiness`]), as tokio's `AsyncRead` / `AsyncWrite` (what hyper and
//! tokio-rustls read and write through), and [`LoopDial`], which opens them.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use clustermanager_tokio::Dial;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::exec::{Exec, Readiness, Way};

/// The most one read takes from the socket (what is zeroed before it; see `poll_read`).
const READ_AT_ONCE: usize = 64 * 1024;

/// A connected (or connecting) TCP socket, driven by the loop of its [`Exec`]. Dropping it has
/// the loop stop watching it, then closes it.
pub(crate) struct LoopTcp {
    socket: Option<mio::net::TcpStream>,
    readiness: Arc<Readiness>,
}

impl LoopTcp {
    fn new(socket: mio::net::TcpStream, exec: Exec) -> Self {
        #[cfg(unix)]
        let fd = std::os::fd::AsRawFd::as_raw_fd(&socket);
        #[cfg(windows)]
        let fd = std::os::windows::io::AsRawSocket::as_raw_socket(&socket);
        let readiness = Readiness::new(exec, fd);
        LoopTcp { socket: Some(socket), readiness }
    }

    fn socket(&self) -> io::Result<&mio::net::TcpStream> {
        self.socket.as_ref().ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }

    /// Run `op` on the socket until it does not block; while it would, wait for the loop to see
    /// the socket ready `way`.
    fn poll_op<T>(
        &self,
        cx: &mut Context<'_>,
        way: Way,
        mut op: impl FnMut(&mio::net::TcpStream) -> io::Result<T>,
    ) -> Poll<io::Result<T>> {
        loop {
            match op(self.socket()?) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => match self.readiness.poll_ready(cx, way) {
                    Poll::Ready(Ok(())) => continue,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                },
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return Poll::Ready(other),
            }
        }
    }

    /// Wait until a connect started on the socket finished; its error if it failed.
    async fn connected(&self) -> io::Result<()> {
        std::future::poll_fn(|cx| {
            self.poll_op(cx, Way::Write, |s| {
                if let Some(err) = s.take_error()? {
                    return Err(err);
                }
                match s.peer_addr() {
                    Ok(_) => Ok(()),
                    // not connected yet: the watch fired early (or before the connect began)
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => Err(io::ErrorKind::WouldBlock.into()),
                    Err(e) => Err(e),
                }
            })
        })
        .await
    }
}

impl Drop for LoopTcp {
    fn drop(&mut self) {
        if let Some(socket) = self.socket.take() {
            self.readiness.close(Box::new(socket));
        }
    }
}

impl AsyncRead for LoopTcp {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        // Safe code reads into initialised memory only, and the buffer hyper lends is fresh
        // (uninitialised) at each read: zero at most READ_AT_ONCE of it, not all it has spare.
        let unfilled = buf.initialize_unfilled_to(buf.remaining().min(READ_AT_ONCE));
        let n = match self.poll_op(cx, Way::Read, |mut s| s.read(unfilled)) {
            Poll::Ready(Ok(n)) => n,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        };
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for LoopTcp {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_op(cx, Way::Write, |mut s| s.write(buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_op(cx, Way::Write, |mut s| s.write_vectored(bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.socket()?.shutdown(std::net::Shutdown::Write) {
            Err(e) if e.kind() != io::ErrorKind::NotConnected => Poll::Ready(Err(e)),
            _ => Poll::Ready(Ok(())),
        }
    }
}

/// Opens [`LoopTcp`] connections for one loop's executor: a host name is looked up on tokio's
/// blocking pool (an IP address is used as it is), each address is tried in turn, and the
/// connect's wait is the loop's.
#[derive(Clone)]
pub(crate) struct LoopDial(pub(crate) Exec);

impl Dial for LoopDial {
    type Tcp = LoopTcp;

    async fn dial(&self, host: &str, port: u16) -> io::Result<LoopTcp> {
        let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((host, port)).await?.collect(),
        };
        let mut last = None;
        for addr in addrs {
            match self.connect(addr).await {
                Ok(tcp) => return Ok(tcp),
                Err(err) => last = Some(err),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address"))))
    }
}

impl LoopDial {
    async fn connect(&self, addr: SocketAddr) -> io::Result<LoopTcp> {
        let socket = mio::net::TcpStream::connect(addr)?;
        let tcp = LoopTcp::new(socket, self.0.clone());
        tcp.connected().await?;
        // Small requests and stream frames should not wait for Nagle.
        let _ = tcp.socket()?.set_nodelay(true);
        Ok(tcp)
    }
}
