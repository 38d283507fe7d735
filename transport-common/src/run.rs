//! The flow of one request, written once for every transport: [`send`] and [`open`] (core's
//! [`Transport::send`](clustermanager_core::Transport::send) and
//! [`open`](clustermanager_core::Transport::open)) and a streamed body ([`Streamed`]). A
//! transport supplies what differs ([`Exchange`]: how a ready request goes out and how its
//! answer's body is read, and its runtime's [`Timer`]); the order of the stages and their time
//! limits ([`Limits`](crate::limits::Limits)) are the same everywhere:
//!
//! 1. the request is made ready ([`Settings::prepare`]: server, credentials),
//! 2. it takes a unit of the budget of requests and streams (a stream keeps it until it ends),
//! 3. it is sent and its answer's status noted ([`Settings::answered`]),
//! 4. `send` reads the whole body (at most [`Settings::max_response_bytes`]); `open` streams a
//!    2xx body and reads any other whole.
//!
//! `send` does all of it within [`Limits::answer`](crate::limits::Limits::answer). `open` gets
//! credentials within [`Limits::credentials`](crate::limits::Limits::credentials), the head by
//! the [`Limits::answer`](crate::limits::Limits::answer) deadline (none of its own for a log
//! follow, whose head may only come with the log's first byte), and a non-2xx body by that same
//! deadline (for a follow: within [`Limits::rest`](crate::limits::Limits::rest) of the head).

use std::future::{poll_fn, Future};
use std::marker::PhantomData;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use clustermanager_core::deadline::Io;
use clustermanager_core::transport::{Chunk, Opened};
use clustermanager_core::{BodyStream, Request, Response, Result};
use hyper::body::Frame;

use crate::auth::CredentialIo;
use crate::body::too_large;
use crate::budget::Permit;
use crate::settings::Settings;

/// A runtime's timer.
pub trait Timer: Send + Sync + 'static {
    /// A future that finishes once `duration` has passed.
    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send;
}

/// `work`'s output, or `timed_out()` if `limit` passes first (no limit: `None`). The work is
/// polled first, so work that is ready when the limit passes still counts.
pub async fn within<Tm: Timer, T>(
    limit: Option<Duration>,
    work: impl Future<Output = T>,
    timed_out: impl FnOnce() -> T,
) -> T {
    let Some(limit) = limit else { return work.await };
    let (mut work, mut timer) = (pin!(work), pin!(Tm::sleep(limit)));
    let done = poll_fn(|cx| match work.as_mut().poll(cx) {
        Poll::Ready(out) => Poll::Ready(Some(out)),
        Poll::Pending => timer.as_mut().poll(cx).map(|()| None),
    });
    done.await.unwrap_or_else(timed_out)
}

/// What one transport does differently: send a ready request, read or stream its answer.
pub trait Exchange: Send + Sync {
    /// The runtime's timer.
    type Timer: Timer;
    /// The runtime's credential I/O.
    type Io: CredentialIo;
    /// An answer whose head is in and whose body is not read yet.
    type Head: Send;
    /// An open streamed body.
    type Body: BodyStream + 'static;

    /// The transport's settings (configuration, credentials, budget, size cap).
    fn settings(&self) -> &Settings<Self::Io>;

    /// Send `request` (ready: absolute URI, credentials) and wait for the answer's head.
    fn dispatch(&self, request: Request) -> impl Future<Output = Result<Self::Head>> + Send;

    /// The answer's status.
    fn status(head: &Self::Head) -> http::StatusCode;

    /// Read the whole body, at most [`Settings::max_response_bytes`].
    fn read_whole(&self, head: Self::Head) -> impl Future<Output = Result<Response>> + Send;

    /// Stream a 2xx body; `permit` (its unit of the budget) goes with it.
    fn stream(&self, head: Self::Head, permit: Permit) -> Result<Opened<Self::Body>>;
}

/// [`Transport::send`](clustermanager_core::Transport::send) over `x`: the whole answer within
/// [`Limits::answer`](crate::limits::Limits::answer).
pub async fn send<X: Exchange>(x: &X, request: Request, io: Io) -> Result<Response> {
    let settings = x.settings();
    let limits = settings.limits(&request, &io);
    let exchange = async {
        let request = settings.prepare(request).await?;
        let _permit = settings.budget().acquire().await;
        let head = x.dispatch(request).await?;
        settings.answered(X::status(&head)).await;
        x.read_whole(head).await
    };
    within::<X::Timer, _>(limits.answer(), exchange, || Err(limits.response_timed_out())).await
}

/// [`Transport::open`](clustermanager_core::Transport::open) over `x` (see the module docs for
/// its time limits).
pub async fn open<X: Exchange>(x: &X, request: Request, io: Io) -> Result<Opened<X::Body>> {
    let settings = x.settings();
    let limits = settings.limits(&request, &io);
    let prepare = settings.prepare(request);
    let request = within::<X::Timer, _>(limits.credentials(), prepare, || Err(limits.credentials_timed_out())).await?;
    let dispatch = async {
        let permit = settings.budget().acquire().await;
        let head = x.dispatch(request).await?;
        settings.answered(X::status(&head)).await;
        Ok((permit, head))
    };
    let head_limit = limits.left(limits.answer());
    let (permit, head) = within::<X::Timer, _>(head_limit, dispatch, || Err(limits.head_timed_out())).await?;
    if X::status(&head).is_success() {
        return x.stream(head, permit);
    }
    let body_limit = match limits.answer() {
        Some(answer) => limits.left(Some(answer)),
        None => limits.rest(),
    };
    let read = x.read_whole(head);
    within::<X::Timer, _>(body_limit, read, || Err(limits.error_body_timed_out())).await.map(Opened::Complete)
}

/// The data of `frames` to the body's end, at most `max` bytes ([`too_large`] naming `setter`
/// past that): a whole body read through a transport's [`Frames`].
pub async fn collect<F: Frames>(mut frames: F, max: usize, setter: &str) -> Result<Bytes> {
    let mut body = Vec::new();
    while let Some(frame) = frames.frame().await {
        let Ok(data) = frame?.into_data() else { continue };
        if data.len() > max.saturating_sub(body.len()) {
            return Err(too_large(max, setter));
        }
        body.extend_from_slice(&data);
    }
    frames.finished(true);
    Ok(Bytes::from(body))
}

/// Where a streamed body's frames come from.
pub trait Frames: Send {
    /// The next frame: `None` at the body's end, or the error reading it failed with.
    fn frame(&mut self) -> impl Future<Output = Option<Result<Frame<Bytes>>>> + Send;

    /// The body was read to its end (`clean`) or failed: keep or close its connection.
    fn finished(&mut self, clean: bool) {
        let _ = clean;
    }
}

/// A streamed body of any transport: the data of its frames (empty ones and trailers skipped),
/// each read within its own timeout. Its unit of the budget is given back when it ends, fails or
/// is dropped.
pub struct Streamed<F, Tm> {
    frames: F,
    done: bool,
    permit: Option<Permit>,
    timer: PhantomData<fn() -> Tm>,
}

impl<F, Tm> std::fmt::Debug for Streamed<F, Tm> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streamed").field("done", &self.done).finish_non_exhaustive()
    }
}

impl<F: Frames, Tm: Timer> Streamed<F, Tm> {
    /// A body read from `frames`, holding `permit`.
    pub fn new(frames: F, permit: Permit) -> Self {
        Streamed { frames, done: false, permit: Some(permit), timer: PhantomData }
    }

    /// The next piece of the body, waiting at most `timeout` (see
    /// [`BodyStream::next_chunk`]). A read cut short by the timeout loses nothing.
    pub async fn next_chunk(&mut self, timeout: Option<Duration>) -> Chunk {
        if self.done {
            return Chunk::End;
        }
        let frames = &mut self.frames;
        let read = async {
            loop {
                match frames.frame().await {
                    None => return Chunk::End,
                    Some(Ok(frame)) => match frame.into_data() {
                        Ok(data) if !data.is_empty() => return Chunk::Data(data),
                        // Empty data frames and trailers carry nothing for us.
                        _ => continue,
                    },
                    Some(Err(err)) => return Chunk::Failed(err),
                }
            }
        };
        let chunk = within::<Tm, _>(timeout, read, || Chunk::TimedOut).await;
        if let Chunk::End | Chunk::Failed(_) = &chunk {
            self.done = true;
            self.frames.finished(matches!(chunk, Chunk::End));
            self.permit = None;
        }
        chunk
    }
}

impl<F: Frames, Tm: Timer> BodyStream for Streamed<F, Tm> {
    fn next_chunk(&mut self, timeout: Option<Duration>) -> impl Future<Output = Chunk> + Send {
        Streamed::next_chunk(self, timeout)
    }
}
