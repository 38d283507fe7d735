//! The state-machine helper for multi-request operations on either orchestrator: a [`Machine`]
//! says which request to send next given the previous answer, and [`Flow`] runs each request
//! as an [`Exchange`] (with the context's retries, bounded by the machine's deadline) and turns
//! the whole into an [`Operation`].

use std::convert::Infallible;
use std::time::Instant;

use super::call::{Exchange, ExchangeStep};
use crate::deadline::{Deadline, Hold};
use crate::error::{Error, Result};
use crate::retry::Retry;
use crate::step::{BoxOperation, Event, Operation, Request, Response, Step};

/// What a [`Machine`] wants next.
pub enum Next<T> {
    /// Send this request (retried under the context's policy) and call back with the answer.
    Send(Request),
    /// Send this blocking query once, without retries, and call back with the answer: the
    /// machine resumes a failed one itself, with a `wait=` recomputed from the time left (see
    /// `blocking::Blocking`). The [`Hold`] is how long the server may hold it (its `wait=`).
    Blocking(Request, Hold),
    /// Back off until this instant, then call [`Machine::resume`] for what to do next (a blocking query
    /// that failed after its retries is re-issued this way; see `blocking::Blocking`).
    After(Instant),
    /// Finish with what this operation returns, running it to its end (a watch until a
    /// condition after a create, the log request after the pod read that chose its container):
    /// the flow forwards its steps.
    Then(BoxOperation<T, Infallible>),
    /// Finished.
    Done(Result<T>),
}

impl<T: std::fmt::Debug> std::fmt::Debug for Next<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Next::Send(r) => f.debug_tuple("Send").field(r).finish(),
            Next::Blocking(r, h) => f.debug_tuple("Blocking").field(r).field(h).finish(),
            Next::After(at) => f.debug_tuple("After").field(at).finish(),
            Next::Then(_) => f.write_str("Then(..)"),
            Next::Done(r) => f.debug_tuple("Done").field(r).finish(),
        }
    }
}

/// A multi-request operation as a pure state machine.
pub trait Machine {
    /// What it returns.
    type Output;
    /// Called first with `None`, then with the outcome of each request it asked for: the
    /// response whatever its status (the machine judges it), or the transport failure that
    /// was not retried. `now` is the driver's clock, for deadlines. An `Err` finishes the
    /// operation with that error (so machines can use `?`).
    fn step(&mut self, now: Instant, answer: Option<Result<Response>>) -> Result<Next<Self::Output>>;

    /// Called when the back-off a [`Next::After`] asked for has passed. Machines that never
    /// back off keep this default.
    fn resume(&mut self, _now: Instant) -> Result<Next<Self::Output>> {
        Err(Error::protocol("operation resumed but it never backs off"))
    }

    /// The caller's deadline, which bounds every request sent for it (see
    /// [`Exchange::within`]). Machines without one keep this default (no limit).
    fn deadline(&self) -> Deadline {
        Deadline::default()
    }
}

/// Runs a [`Machine`] as an [`Operation`].
pub struct Flow<M: Machine> {
    machine: M,
    retry: Retry,
    exchange: Option<Exchange>,
    /// The operation a [`Next::Then`] handed over to.
    then: Option<BoxOperation<M::Output, Infallible>>,
    started: bool,
    /// A [`Next::After`] back-off was handed out: the next poll resumes the machine.
    backing_off: bool,
    finished: bool,
}

impl<M: Machine + std::fmt::Debug> std::fmt::Debug for Flow<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flow")
            .field("machine", &self.machine)
            .field("in_flight", &self.exchange.is_some())
            .field("handed_over", &self.then.is_some())
            .field("finished", &self.finished)
            .finish()
    }
}

impl<M: Machine> Flow<M> {
    /// An operation driving `machine`, retrying each request under `retry`.
    pub fn new(machine: M, retry: &Retry) -> Self {
        Flow {
            machine,
            retry: retry.clone(),
            exchange: None,
            then: None,
            started: false,
            backing_off: false,
            finished: false,
        }
    }

    /// The machine, to adjust it before the first poll.
    pub(crate) fn machine_mut(&mut self) -> &mut M {
        &mut self.machine
    }

    fn advance(&mut self, next: Result<Next<M::Output>>) -> Option<Step<M::Output, Infallible>> {
        match next.unwrap_or_else(|e| Next::Done(Err(e))) {
            Next::Send(req) => {
                self.exchange = Some(Exchange::send(req, &self.retry).within(self.machine.deadline()));
                None
            }
            Next::Blocking(req, hold) => {
                self.exchange =
                    Some(Exchange::send(req, &self.retry).holding(hold).within(self.machine.deadline()).once());
                None
            }
            Next::After(until) => {
                self.backing_off = true;
                Some(Step::WaitUntil(until))
            }
            Next::Then(op) => {
                self.then = Some(op);
                None
            }
            Next::Done(result) => {
                self.finished = true;
                Some(Step::Done(result))
            }
        }
    }
}

impl<M: Machine> Operation for Flow<M> {
    type Output = M::Output;
    type Item = Infallible;

    fn poll(&mut self, now: Instant) -> Step<M::Output> {
        loop {
            if self.finished {
                return Step::Done(Err(Error::protocol("operation polled after it finished")));
            }
            if !self.started {
                self.started = true;
                let next = self.machine.step(now, None);
                if let Some(step) = self.advance(next) {
                    return step;
                }
                continue;
            }
            if let Some(then) = self.then.as_mut() {
                let step = then.poll(now);
                if matches!(step, Step::Done(_)) {
                    self.then = None;
                    self.finished = true;
                }
                return step;
            }
            if std::mem::take(&mut self.backing_off) {
                let next = self.machine.resume(now);
                if let Some(step) = self.advance(next) {
                    return step;
                }
                continue;
            }
            let Some(exchange) = self.exchange.as_mut() else {
                return Step::Done(Err(Error::protocol("operation has nothing in flight")));
            };
            match exchange.poll(now) {
                ExchangeStep::Send(req, io) => return Step::Send(req, io),
                ExchangeStep::WaitUntil(at) => return Step::WaitUntil(at),
                ExchangeStep::Done(result) => {
                    self.exchange = None;
                    let next = self.machine.step(now, Some(result));
                    if let Some(step) = self.advance(next) {
                        return step;
                    }
                }
            }
        }
    }

    fn handle(&mut self, event: Event) {
        if let Some(then) = self.then.as_mut() {
            then.handle(event);
        } else if let Some(exchange) = self.exchange.as_mut() {
            exchange.handle(event);
        }
    }
}

/// The answer a machine was called back with, or a protocol error if it was called without one.
pub fn answer(answer: Option<Result<Response>>) -> Result<Response> {
    answer.unwrap_or_else(|| Err(Error::protocol("machine called back without an answer")))
}
