//! The combinators every operation is built from, on either orchestrator:
//! - [`Checked`]: *try-build*: an operation, or the error that kept it from being built
//!   (reported by the first poll, nothing sent);
//! - [`map_output`]: *map*: an operation whose result goes through a function
//!   ([`map_done`] is the same for one step, inside a hand-written `poll`);
//! - [`within`]: *deadline*: an operation bounded by a caller's [`Deadline`] (each request step
//!   carries it in its [`Io`](crate::deadline::Io), each back-off is clamped to it, and it ends
//!   with [`Error::Timeout`] once passed);
//! - [`and_then`]: *sequence*: one operation, then another built from its output;
//! - [`each`]: *each*: several operations in turn, every one's result kept;
//! - boxing is [`BoxOperation`](crate::step::BoxOperation).

use std::time::Instant;

use crate::deadline::Deadline;
use crate::error::{Error, Result};
use crate::step::{Event, Operation, Step};

/// An operation, or the error that prevented building it (reported without any request).
#[derive(Debug)]
pub struct Checked<O>(std::result::Result<O, Option<Error>>);

impl<O> Checked<O> {
    /// Run `op`, or fail with the error that prevented building it.
    pub fn new(op: Result<O>) -> Self {
        Checked(op.map_err(Some))
    }
}

impl<O> From<Result<O>> for Checked<O> {
    fn from(r: Result<O>) -> Self {
        Checked::new(r)
    }
}

impl<O: Operation> Operation for Checked<O> {
    type Output = O::Output;
    type Item = O::Item;
    fn poll(&mut self, now: Instant) -> Step<O::Output, O::Item> {
        match &mut self.0 {
            Ok(op) => op.poll(now),
            Err(e) => {
                Step::Done(Err(e.take().unwrap_or_else(|| Error::protocol("operation polled after it finished"))))
            }
        }
    }
    fn handle(&mut self, event: Event) {
        if let Ok(op) = &mut self.0 {
            op.handle(event);
        }
    }
}

/// `step` as it is, except that a final result goes through `f` (for operations that run
/// another one and shape its result).
pub fn map_done<T, U, I>(step: Step<T, I>, f: impl FnOnce(Result<T>) -> Result<U>) -> Step<U, I> {
    step.split().unwrap_or_else(|result| Step::Done(f(result)))
}

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
    F: FnMut(Result<O::Output>) -> Result<U>,
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
    F: FnMut(Result<O::Output>) -> Result<U>,
{
    type Output = U;
    type Item = O::Item;

    fn poll(&mut self, now: Instant) -> Step<U, O::Item> {
        map_done(self.op.poll(now), &mut self.f)
    }

    fn handle(&mut self, event: Event) {
        self.op.handle(event)
    }
}

/// `first`, then the operation `then` builds from its output (*sequence*): one operation that
/// finishes with the second one's result, or with the first one's error.
pub fn and_then<A, F, B>(first: A, then: F) -> AndThen<A, F, B>
where
    A: Operation<Item = std::convert::Infallible>,
    F: FnOnce(A::Output) -> B,
    B: Operation<Item = std::convert::Infallible>,
{
    AndThen::First(first, Some(then))
}

/// The operation of [`and_then`].
#[derive(Debug)]
pub enum AndThen<A, F, B> {
    /// Running the first operation.
    First(A, Option<F>),
    /// Running the second.
    Second(B),
}

impl<A, F, B> Operation for AndThen<A, F, B>
where
    A: Operation<Item = std::convert::Infallible>,
    F: FnOnce(A::Output) -> B,
    B: Operation<Item = std::convert::Infallible>,
{
    type Output = B::Output;
    type Item = std::convert::Infallible;

    fn poll(&mut self, now: Instant) -> Step<B::Output> {
        loop {
            match self {
                AndThen::Second(b) => return b.poll(now),
                AndThen::First(a, then) => match a.poll(now).split() {
                    Err(Ok(out)) => match then.take() {
                        Some(then) => *self = AndThen::Second(then(out)),
                        None => return Step::Done(Err(Error::protocol("operation polled after it finished"))),
                    },
                    Err(Err(e)) => return Step::Done(Err(e)),
                    Ok(step) => return step,
                },
            }
        }
    }

    fn handle(&mut self, event: Event) {
        match self {
            AndThen::First(a, _) => a.handle(event),
            AndThen::Second(b) => b.handle(event),
        }
    }
}

/// Each of `ops` in turn (*each*), finishing with every one's own result: a failed one does not
/// stop the others, so the caller decides which failures matter.
pub fn each<O: Operation<Item = std::convert::Infallible>>(ops: Vec<O>) -> Each<O> {
    Each { ops: ops.into_iter(), current: None, results: Vec::new() }
}

/// The operation of [`each`].
#[derive(Debug)]
pub struct Each<O: Operation> {
    ops: std::vec::IntoIter<O>,
    current: Option<O>,
    results: Vec<Result<O::Output>>,
}

impl<O: Operation<Item = std::convert::Infallible>> Operation for Each<O> {
    type Output = Vec<Result<O::Output>>;
    type Item = std::convert::Infallible;

    fn poll(&mut self, now: Instant) -> Step<Self::Output> {
        loop {
            if self.current.is_none() {
                match self.ops.next() {
                    Some(op) => self.current = Some(op),
                    None => return Step::Done(Ok(std::mem::take(&mut self.results))),
                }
            }
            let Some(op) = self.current.as_mut() else { continue };
            match op.poll(now).split() {
                Err(result) => {
                    self.results.push(result);
                    self.current = None;
                }
                Ok(step) => return step,
            }
        }
    }

    fn handle(&mut self, event: Event) {
        if let Some(op) = self.current.as_mut() {
            op.handle(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejected_input_is_reported_once_without_a_request() {
        let mut op: Checked<crate::step::Ready<u8>> =
            Checked::from(Err(Error::InvalidInput { field: "name".into(), problem: "is empty".into() }));
        let now = Instant::now();
        assert!(matches!(op.poll(now), Step::Done(Err(Error::InvalidInput { .. }))));
        assert!(matches!(op.poll(now), Step::Done(Err(Error::Protocol(_)))));
    }
}
