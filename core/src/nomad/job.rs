//! Nomad: create_job, list_jobs, get_job, delete_job, cleanup_jobs. (Stub until implemented.)
#![allow(unused_variables, unused_imports)]
use super::Context;
use crate::error::Error;
use crate::model::*;
use crate::step::{Operation, Ready};
use std::convert::Infallible;
use std::time::Duration;

/// `create_job`. Not implemented yet.
pub fn create(
    ctx: &Context,
    namespace: &str,
    spec: &JobSpec,
) -> impl Operation<Output = Job, Item = Infallible> + Send + 'static {
    NotYet::<Job, Infallible>::new("create_job")
}

/// `list_jobs`. Not implemented yet.
pub fn list(ctx: &Context, namespace: &str) -> impl Operation<Output = Vec<Job>, Item = Infallible> + Send + 'static {
    NotYet::<Vec<Job>, Infallible>::new("list_jobs")
}

/// `get_job`. Not implemented yet.
pub fn get(
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> impl Operation<Output = Job, Item = Infallible> + Send + 'static {
    NotYet::<Job, Infallible>::new("get_job")
}

/// `delete_job`. Not implemented yet.
pub fn delete(
    ctx: &Context,
    namespace: &str,
    name: &str,
    options: DeleteOptions,
) -> impl Operation<Output = bool, Item = Infallible> + Send + 'static {
    NotYet::<bool, Infallible>::new("delete_job")
}

/// `cleanup_jobs`. Not implemented yet.
pub fn cleanup(
    ctx: &Context,
    namespace: &str,
) -> impl Operation<Output = Vec<String>, Item = Infallible> + Send + 'static {
    NotYet::<Vec<String>, Infallible>::new("cleanup_jobs")
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
