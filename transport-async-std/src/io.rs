//! The byte stream under one connection (plain TCP from async-net, or futures-rustls over it) and
//! the adapter that lets hyper 1 drive a futures-io stream: hyper's own `rt::Read` / `rt::Write`
//! traits implemented over `futures_io::AsyncRead` / `AsyncWrite`.
//!
//! The adapter is ours (a few lines) rather than `smol-hyper`'s: that crate has had one release
//! since 2024 and fills hyper's buffer with `unsafe`, while this workspace forbids unsafe code, so
//! reads go through a small owned buffer (one extra copy of each read, negligible next to TLS).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_net::TcpStream;
use futures_lite::io::{AsyncRead, AsyncWrite};
use futures_rustls::client::TlsStream;

/// How much one read may take from the socket into the adapter's buffer.
const READ_BUFFER: usize = 16 * 1024;

/// A plain or TLS stream, as hyper sees it.
pub(crate) struct Stream {
    inner: Inner,
    /// Where a read lands before being copied into hyper's (possibly uninitialised) buffer.
    buffer: Box<[u8]>,
}

enum Inner {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    pub(crate) fn plain(tcp: TcpStream) -> Self {
        Stream { inner: Inner::Plain(tcp), buffer: vec![0; READ_BUFFER].into_boxed_slice() }
    }

    pub(crate) fn tls(tls: TlsStream<TcpStream>) -> Self {
        Stream { inner: Inner::Tls(Box::new(tls)), buffer: vec![0; READ_BUFFER].into_boxed_slice() }
    }

    fn io(&mut self) -> Pin<&mut (dyn Io + Send + Unpin)> {
        match &mut self.inner {
            Inner::Plain(s) => Pin::new(s),
            Inner::Tls(s) => Pin::new(s.as_mut()),
        }
    }
}

/// Both halves of a futures-io stream.
trait Io: AsyncRead + AsyncWrite {}

impl<T: AsyncRead + AsyncWrite> Io for T {}

impl hyper::rt::Read for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let want = buf.remaining().min(this.buffer.len());
        if want == 0 {
            return Poll::Ready(Ok(()));
        }
        // Split the borrow: the buffer is read into while the stream is borrowed.
        let mut buffer = std::mem::take(&mut this.buffer);
        let result = this.io().poll_read(cx, &mut buffer[..want]);
        let result = match result {
            Poll::Ready(Ok(n)) => {
                buf.put_slice(&buffer[..n]);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        };
        this.buffer = buffer;
        result
    }
}

impl hyper::rt::Write for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.get_mut().io().poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().io().poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().io().poll_close(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().io().poll_write_vectored(cx, bufs)
    }
}
