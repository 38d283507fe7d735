//! The protocol between an operation and whatever drives it: [`Step`]s out, [`Event`]s in.
//!
//! An [`Operation`] is polled for its next [`Step`]; the driver carries the step out (send a
//! request, open a stream, read from it, wait) and hands the outcome back as an [`Event`]. The
//! operation never blocks and never touches the outside world, so the same operation runs on
//! tokio, on async-std, or against a recorded conversation in a test.

use std::convert::Infallible;
use std::time::Instant;

use bytes::Bytes;

pub use crate::deadline::{Hold, Io};
use crate::error::Error;

/// A request as core builds it. The URI holds only the path and query (`/api/v1/nodes`); the
/// transport resolves it against the configured server and adds authentication.
pub type Request = http::Request<Bytes>;
/// A complete response, as a transport hands it back.
pub type Response = http::Response<Bytes>;

/// What an operation wants done next. Every time in it is an absolute instant of the driver's
/// clock (the `now` it polls with), and everything the driver must honour for a request travels
/// in its [`Io`], never in the request's URI or extensions.
#[derive(Debug)]
pub enum Step<T, I = Infallible> {
    /// Send this request and hand back the whole response as [`Event::Response`] (or
    /// [`Event::Failed`] if no response could be had), within what its [`Io`] allows.
    Send(Request, Io),
    /// Open this request as a stream. The transport answers with [`Event::Head`] for a 2xx status
    /// (the body is then read with [`Step::Read`]), with [`Event::Response`] carrying the whole
    /// body for any other status, or with [`Event::Failed`]. Opening a stream closes any stream
    /// that was open. A stream stays open while the operation sends other requests.
    Open(Request, Io),
    /// Read the next piece of the open stream: answered with [`Event::Chunk`], [`Event::End`],
    /// [`Event::ReadTimeout`] when `until` passed with no data, or [`Event::Failed`].
    Read {
        /// When to stop waiting for data and answer [`Event::ReadTimeout`]; `None` waits forever.
        until: Option<Instant>,
    },
    /// Sleep until this instant, then poll again.
    WaitUntil(Instant),
    /// An item for the caller of a streaming operation; poll again afterwards.
    Yield(I),
    /// The operation is finished; do not poll it again.
    Done(Result<T, Error>),
}

impl<T, I> Step<T, I> {
    /// The step's result when it is [`Step::Done`] (`Err`), or the step itself, re-typed for an
    /// operation with another output (`Ok`): the one place a combinator passes an inner
    /// operation's I/O steps through.
    pub(crate) fn split<U>(self) -> std::result::Result<Step<U, I>, Result<T, Error>> {
        Ok(match self {
            Step::Done(result) => return Err(result),
            Step::Send(r, io) => Step::Send(r, io),
            Step::Open(r, io) => Step::Open(r, io),
            Step::Read { until } => Step::Read { until },
            Step::WaitUntil(at) => Step::WaitUntil(at),
            Step::Yield(item) => Step::Yield(item),
        })
    }
}

/// The outcome of a [`Step`], fed back to the operation with [`Operation::handle`].
#[derive(Debug)]
pub enum Event {
    /// The whole response to a [`Step::Send`] (or to a [`Step::Open`] that did not answer 2xx).
    Response(Response),
    /// The head of a 2xx response to a [`Step::Open`]; the body follows through [`Step::Read`].
    Head(http::response::Parts),
    /// A piece of the open stream's body, cut wherever the network cut it.
    Chunk(Bytes),
    /// The open stream ended cleanly.
    End,
    /// [`Step::Read`]'s `until` passed with no data.
    ReadTimeout,
    /// The step could not be carried out (connection refused, TLS failure, stream cut, ...).
    Failed(Error),
}

/// A unit of work against a server, as a state machine: poll it for a [`Step`], carry the step
/// out, feed the outcome back with [`handle`](Operation::handle), repeat until [`Step::Done`].
pub trait Operation {
    /// What the operation returns when done.
    type Output;
    /// What a streaming operation yields along the way ([`Infallible`] for the others).
    type Item;
    /// The next step. `now` is the driver's monotonic clock, read once per poll; operations that
    /// have deadlines measure them from the `now` of their first poll.
    fn poll(&mut self, now: Instant) -> Step<Self::Output, Self::Item>;
    /// The outcome of the last step.
    fn handle(&mut self, event: Event);
}

/// An operation that finishes at once with a value or an error: for answers that need no
/// request (an operation the orchestrator does not offer, or input rejected before sending).
#[derive(Debug)]
pub struct Ready<T>(Option<Result<T, Error>>);

impl<T> Ready<T> {
    /// An operation that finishes with `result` without sending anything.
    pub fn new(result: Result<T, Error>) -> Self {
        Ready(Some(result))
    }
}

impl<T> Operation for Ready<T> {
    type Output = T;
    type Item = Infallible;
    fn poll(&mut self, _now: Instant) -> Step<T> {
        match self.0.take() {
            Some(result) => Step::Done(result),
            None => Step::Done(Err(Error::protocol("operation polled after it finished"))),
        }
    }
    fn handle(&mut self, _event: Event) {}
}

/// Build a request with a path-and-query URI, `Accept: application/json` and, when a body is
/// given, `Content-Type: application/json`.
///
/// Paths are assembled from validated names and percent-encoded values; a URI the `http` crate
/// still refuses is reported as [`Error::InvalidInput`] rather than a panic.
pub fn request(method: http::Method, path_and_query: &str, body: Option<Vec<u8>>) -> Result<Request, Error> {
    let mut builder = http::Request::builder().method(method).uri(path_and_query);
    builder = builder.header(http::header::ACCEPT, "application/json");
    if body.is_some() {
        builder = builder.header(http::header::CONTENT_TYPE, "application/json");
    }
    builder.body(body.map(Bytes::from).unwrap_or_default()).map_err(|e| Error::InvalidInput {
        field: "path".into(),
        problem: format!("{path_and_query:?} is not a valid request URI: {e}"),
    })
}

/// A boxed operation, for APIs that return different operation types per orchestrator.
pub type BoxOperation<T, I> = Box<dyn Operation<Output = T, Item = I> + Send>;

impl<O: Operation + ?Sized> Operation for Box<O> {
    type Output = O::Output;
    type Item = O::Item;
    fn poll(&mut self, now: Instant) -> Step<O::Output, O::Item> {
        (**self).poll(now)
    }
    fn handle(&mut self, event: Event) {
        (**self).handle(event)
    }
}
