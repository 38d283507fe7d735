//! Kubernetes: define_quota. (Stub until implemented.)
#![allow(unused_variables, unused_imports)]
use super::Context;
use crate::error::Error;
use crate::model::*;
use crate::step::{Operation, Ready};
use std::convert::Infallible;
use std::time::Duration;

/// `define_quota`. Not implemented yet.
pub fn define(
    ctx: &Context,
    namespace: &str,
    cpu_limit: &str,
    mem_limit: &str,
) -> impl Operation<Output = (), Item = Infallible> + Send + 'static {
    NotYet::<(), Infallible>::new("define_quota")
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
