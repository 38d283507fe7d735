//! [`Checked`]: an operation whose input was validated when it was built. Invalid input (a bad
//! name, an unparsable quantity) is reported by the first poll, without sending anything.

use std::convert::Infallible;
use std::time::Instant;

use crate::error::Result;
use crate::step::{Event, Operation, Ready, Step};

/// An operation, or the error that prevented building it (reported without any request).
#[derive(Debug)]
pub enum Checked<O: Operation> {
    /// The operation.
    Run(O),
    /// Rejected input.
    Rejected(Ready<O::Output>),
}

impl<O: Operation> From<Result<O>> for Checked<O> {
    fn from(r: Result<O>) -> Self {
        match r {
            Ok(op) => Checked::Run(op),
            Err(e) => Checked::Rejected(Ready::new(Err(e))),
        }
    }
}

impl<O: Operation<Item = Infallible>> Operation for Checked<O> {
    type Output = O::Output;
    type Item = Infallible;
    fn poll(&mut self, now: Instant) -> Step<O::Output> {
        match self {
            Checked::Run(op) => op.poll(now),
            Checked::Rejected(r) => r.poll(now),
        }
    }
    fn handle(&mut self, event: Event) {
        match self {
            Checked::Run(op) => op.handle(event),
            Checked::Rejected(r) => r.handle(event),
        }
    }
}
