//! Shared observation: concurrent waits on the same namespace share one observation of it (one
//! list + watch of its Jobs on Kubernetes, one chain of blocking job-list queries on Nomad)
//! instead of one each, so that a thousand waits hold one stream, not a thousand connections.
//!
//! - [`board`]: who waits for which job and what each is owed — pure state, tested by feeding it
//!   changes and asserting who is woken with what.
//! - [`feed`]: the [`Feed`](feed::Feed) trait, the sans-IO source of an observation
//!   (implemented by `k8s::shared` and `nomad::shared`).
//! - [`room`]: the runtime-free driving: waiters take turns carrying out the feed's steps over
//!   any [`Transport`](crate::Transport); no background task, nothing left running once the last
//!   waiter is gone.
//!
//! [`within`] bounds any operation by a caller's deadline (the waiters' own reads).

pub mod board;
pub mod feed;
pub mod room;

use std::time::Instant;

use crate::deadline::Deadline;
use crate::step::{Event, Operation, Step};

pub use room::Rooms;

/// `op`, bounded by `deadline` (started at the first poll if it was not yet): each request
/// step's [`Io`](crate::deadline::Io) carries it, each back-off is clamped to it, and a step asked for once it has passed ends the operation with
/// [`Error::Timeout`](crate::Error::Timeout) saying `what`.
pub fn within<O: Operation>(op: O, deadline: Deadline, what: impl Into<String>) -> Within<O> {
    Within { op, deadline, what: what.into() }
}

/// The operation of [`within`].
#[derive(Debug)]
pub struct Within<O> {
    op: O,
    deadline: Deadline,
    what: String,
}

impl<O: Operation> Operation for Within<O> {
    type Output = O::Output;
    type Item = O::Item;

    fn poll(&mut self, now: Instant) -> Step<O::Output, O::Item> {
        self.deadline.start(now);
        match self.op.poll(now) {
            Step::Send(..) | Step::Open(..) | Step::WaitUntil(_) if self.deadline.passed(now) => {
                Step::Done(Err(self.deadline.timed_out(&self.what)))
            }
            Step::Send(req, io) => Step::Send(req, self.deadline.bound(io)),
            Step::Open(req, io) => Step::Open(req, self.deadline.bound(io)),
            Step::WaitUntil(at) => Step::WaitUntil(self.deadline.clamp_until(at)),
            other => other,
        }
    }

    fn handle(&mut self, event: Event) {
        self.op.handle(event)
    }
}

/// `op` with its output passed through `f`.
pub fn map_output<O, F, U>(op: O, f: F) -> MapOutput<O, F>
where
    O: Operation,
    F: FnMut(crate::Result<O::Output>) -> crate::Result<U>,
{
    MapOutput { op, f }
}

/// The operation of [`map_output`].
#[derive(Debug)]
pub struct MapOutput<O, F> {
    op: O,
    f: F,
}

impl<O, F, U> Operation for MapOutput<O, F>
where
    O: Operation,
    F: FnMut(crate::Result<O::Output>) -> crate::Result<U>,
{
    type Output = U;
    type Item = O::Item;

    fn poll(&mut self, now: Instant) -> Step<U, O::Item> {
        match self.op.poll(now) {
            Step::Done(out) => Step::Done((self.f)(out)),
            Step::Send(r, io) => Step::Send(r, io),
            Step::Open(r, io) => Step::Open(r, io),
            Step::Read { until } => Step::Read { until },
            Step::WaitUntil(at) => Step::WaitUntil(at),
            Step::Yield(i) => Step::Yield(i),
        }
    }

    fn handle(&mut self, event: Event) {
        self.op.handle(event)
    }
}
