//! The [`Transport`] trait a runtime implements: send a request, open a stream and read it,
//! sleep, tell the time. Transports only move bytes; the
//! [`Driver`](crate::driver::Driver) that runs an [`Operation`](crate::Operation) over one is
//! written once, in `driver.rs`.

use std::future::Future;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::deadline::Io;
use crate::error::{Error, Result};
use crate::step::{Request, Response};

/// The outcome of [`Transport::open`].
#[derive(Debug)]
pub enum Opened<B> {
    /// A 2xx head; the body is read from the stream.
    Stream(http::response::Parts, B),
    /// Any other status, with the whole (error) body already read.
    Complete(Response),
}

/// One read from an open stream.
#[derive(Debug)]
pub enum Chunk {
    /// Some bytes, cut wherever the network cut them.
    Data(Bytes),
    /// The body ended cleanly.
    End,
    /// The read timeout passed with no data; the stream is still open.
    TimedOut,
    /// The stream broke.
    Failed(Error),
}

/// An open response body.
pub trait BodyStream: Send {
    /// The next piece of the body, waiting at most `timeout` (forever when `None`). Dropping the
    /// stream closes it.
    fn next_chunk(&mut self, timeout: Option<Duration>) -> impl Future<Output = Chunk> + Send;
}

/// What a runtime provides: send requests, open streams, sleep, tell the time. Requests come
/// with a path-and-query URI; the transport resolves them against the configured server and
/// adds authentication and TLS (see [`crate::config::Config`]).
pub trait Transport: Send + Sync {
    /// The open body of a streamed response (owned: a shared observation keeps it between the
    /// waiters that drive it).
    type Body: BodyStream + 'static;
    /// Send a request and read the whole response. A non-2xx status is a response, not an error;
    /// an error is a failure to get any response. The whole response is bounded by
    /// [`Io::limit`]: [`Config::request_timeout`](crate::config::Config::request_timeout) plus
    /// the time the server may hold it ([`io.hold`](Io::hold)), and never past
    /// [`io.deadline`](Io::deadline) (the caller's), failing with [`Error::Timeout`]. The
    /// transport learns all of this from `io`, never from the request's URI.
    fn send(&self, request: Request, io: Io) -> impl Future<Output = Result<Response>> + Send;
    /// Send a request and return its head with the body still streaming (for 2xx). The head
    /// (and a non-2xx body) is bounded like [`send`](Transport::send)'s response (a follow's
    /// head only by the deadline); a 2xx body has no overall limit, only each
    /// [`BodyStream::next_chunk`]'s timeout.
    fn open(&self, request: Request, io: Io) -> impl Future<Output = Result<Opened<Self::Body>>> + Send;
    /// Sleep.
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send;
    /// The runtime's monotonic clock.
    fn now(&self) -> Instant;
}
