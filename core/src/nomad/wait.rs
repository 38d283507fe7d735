//! Nomad: wait_for_job, wait_for_job_execution_status. (Stub until implemented.)
#![allow(unused_variables, unused_imports)]
use super::Context;
use crate::error::Error;
use crate::model::*;
use crate::step::{Operation, Ready};
use std::convert::Infallible;
use std::time::Duration;

/// `wait_for_job`. Not implemented yet.
pub fn job(
    ctx: &Context,
    namespace: &str,
    name: &str,
    timeout: Option<Duration>,
) -> impl Operation<Output = Job, Item = Infallible> + Send + 'static {
    NotYet::<Job, Infallible>::new("wait_for_job")
}

/// `wait_for_job_execution_status`. Not implemented yet.
pub fn execution_status(
    ctx: &Context,
    namespace: &str,
    job: &str,
    statuses: &[Status],
    timeout: Option<Duration>,
) -> impl Operation<Output = Execution, Item = Infallible> + Send + 'static {
    NotYet::<Execution, Infallible>::new("wait_for_job_execution_status")
}

struct NotYet<T, I>(Option<&'static str>, std::marker::PhantomData<fn() -> (T, I)>);
impl<T, I> NotYet<T, I> {
    fn new(op: &'static str) -> Self {
        NotYet(Some(op), std::marker::PhantomData)
    }
}
impl<T, I> Operation for NotYet<T, I> {
    type Output = T;
    type Item = I;
    fn poll(&mut self, _now: std::time::Instant) -> crate::step::Step<T, I> {
        crate::step::Step::Done(Err(Error::protocol(format!(
            "{} is not implemented yet",
            self.0.take().unwrap_or("operation")
        ))))
    }
    fn handle(&mut self, _event: crate::step::Event) {}
}
