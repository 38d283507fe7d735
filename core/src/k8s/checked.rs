//! [`Checked`]: an operation whose input was validated when it was built. Invalid input (a bad
//! name, an unparsable quantity, a request that could not be built) is reported by the first
//! poll, without sending anything. [`map_done`] passes an inner operation's steps through while
//! turning its result into another.

use std::time::Instant;

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
    match step {
        Step::Done(result) => Step::Done(f(result)),
        Step::Send(r, io) => Step::Send(r, io),
        Step::Open(r, io) => Step::Open(r, io),
        Step::Read { until } => Step::Read { until },
        Step::WaitUntil(at) => Step::WaitUntil(at),
        Step::Yield(item) => Step::Yield(item),
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
