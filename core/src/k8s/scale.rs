//! Kubernetes: get_scale_deploy, set_scale_deploy. (Stub until implemented.)
#![allow(unused_variables, unused_imports)]
use super::Context;
use crate::error::Error;
use crate::model::*;
use crate::step::{Operation, Ready};
use std::convert::Infallible;
use std::time::Duration;

/// `get_scale_deploy`. Not implemented yet.
pub fn get(
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> impl Operation<Output = Scale, Item = Infallible> + Send + 'static {
    NotYet::<Scale, Infallible>::new("get_scale_deploy")
}

/// `set_scale_deploy`. Not implemented yet.
pub fn set(
    ctx: &Context,
    namespace: &str,
    name: &str,
    replicas: u32,
) -> impl Operation<Output = Scale, Item = Infallible> + Send + 'static {
    NotYet::<Scale, Infallible>::new("set_scale_deploy")
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
