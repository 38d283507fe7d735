//! [`OwnedStream`]: a streaming operation driven over an owned transport, as a `'static`
//! [`futures_core::Stream`] — to move into `tokio::spawn`, `async_std::task::spawn` or
//! `smol::spawn`, to combine with `futures`/`futures-lite` stream adapters, or to keep in a
//! struct. The managers' log follow and watches return one.
//!
//! It holds a clone of the manager's transport (a shared handle: same connection pool,
//! connection budget and credentials), the operation, and the open response body while one is
//! open. Dropping it at any point — between items or in the middle of a read — drops the body
//! and so closes (or returns to the pool, for HTTP/2) the connection it was read from; no task
//! is left behind.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::driver::Run;
use crate::error::Result;
use crate::step::Operation;
use crate::transport::Transport;

type Next<T, O> = (T, Run<O, <T as Transport>::Body>, Option<Result<<O as Operation>::Item>>);
type Busy<T, O> = Pin<Box<dyn Future<Output = Next<T, O>> + Send>>;

enum State<T: Transport, O: Operation> {
    /// Between items: the transport and the operation.
    Idle(Box<(T, Run<O, T::Body>)>),
    /// Reading the next item (the future owns the transport and the operation meanwhile).
    Busy(Busy<T, O>),
    /// Ended (cleanly or with an error already yielded).
    Done,
}

/// A streaming operation over an owned transport: a [`futures_core::Stream`] of its items,
/// `Send + 'static`. Get one from [`ClusterManager::stream`](crate::ClusterManager::stream),
/// [`ClusterManager::get_execution_log_watch`](crate::ClusterManager::get_execution_log_watch)
/// or [`Api::watch`](crate::facade::handle::Api::watch).
///
/// Items are `Result<O::Item>`; an error ends the stream (the next poll answers `None`), as
/// does the operation's clean end. [`next`](OwnedStream::next) is the same without importing a
/// stream extension trait.
///
/// ```no_run
/// # use clustermanager_core::*;
/// # async fn demo(cm: ClusterManager) -> Result<()> {
/// // the stream owns what it needs: it can outlive `cm` and move into a spawned task
/// let mut lines = cm.get_execution_log_watch("batch", "hello-x7k2p", &LogOptions::default());
/// drop(cm);
/// let follow = async move {
///     while let Some(line) = lines.next().await {
///         match line {
///             Ok(line) => println!("{}", line.text),
///             Err(err) => eprintln!("log ended: {err}"),
///         }
///     }
/// };
/// fn spawnable<F: std::future::Future + Send + 'static>(_: F) {}
/// spawnable(follow);
/// # Ok(()) }
/// ```
pub struct OwnedStream<T: Transport, O: Operation> {
    state: State<T, O>,
}

impl<T: Transport, O: Operation> std::fmt::Debug for OwnedStream<T, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            State::Idle(_) => "idle",
            State::Busy(_) => "reading",
            State::Done => "done",
        };
        f.debug_struct("OwnedStream").field("state", &state).finish()
    }
}

impl<T, O> OwnedStream<T, O>
where
    T: Transport + 'static,
    O: Operation + Send + 'static,
    O::Item: Send,
    O::Output: Send,
{
    /// A stream of `op`'s items over `transport` (give it a clone of the manager's).
    pub fn new(transport: T, op: O) -> Self {
        OwnedStream { state: State::Idle(Box::new((transport, Run::new(op)))) }
    }

    /// The next item; `None` once the stream has ended. Cancel-safe: the read in progress
    /// lives in the stream, not in this future, so a `next()` dropped (a `select!` that took
    /// another branch, a timeout) loses nothing and the next call goes on where it stopped.
    pub async fn next(&mut self) -> Option<Result<O::Item>> {
        std::future::poll_fn(|cx| self.poll_item(cx)).await
    }

    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<O::Item>>> {
        loop {
            match std::mem::replace(&mut self.state, State::Done) {
                State::Done => return Poll::Ready(None),
                State::Idle(idle) => {
                    let (transport, mut run) = *idle;
                    if run.finished() {
                        return Poll::Ready(None);
                    }
                    self.state = State::Busy(Box::pin(async move {
                        let item = run.next(&transport).await;
                        (transport, run, item)
                    }));
                }
                State::Busy(mut busy) => match busy.as_mut().poll(cx) {
                    Poll::Pending => {
                        self.state = State::Busy(busy);
                        return Poll::Pending;
                    }
                    Poll::Ready((transport, run, item)) => {
                        if matches!(item, Some(Ok(_))) {
                            self.state = State::Idle(Box::new((transport, run)));
                        }
                        return Poll::Ready(item);
                    }
                },
            }
        }
    }
}

impl<T, O> futures_core::Stream for OwnedStream<T, O>
where
    T: Transport + 'static,
    O: Operation + Send + 'static,
    O::Item: Send,
    O::Output: Send,
{
    type Item = Result<O::Item>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_item(cx)
    }
}

impl<T, O> futures_core::FusedStream for OwnedStream<T, O>
where
    T: Transport + 'static,
    O: Operation + Send + 'static,
    O::Item: Send,
    O::Output: Send,
{
    fn is_terminated(&self) -> bool {
        matches!(self.state, State::Done)
    }
}
