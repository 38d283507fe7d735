//! Kubernetes: install_tfjobs, create_tfjob, get_tfjob, delete_tfjob, list_tfjobs. (Stub until implemented.)
#![allow(unused_variables, unused_imports)]
use super::Context;
use crate::error::Error;
use crate::model::*;
use crate::step::{Operation, Ready};
use std::convert::Infallible;
use std::time::Duration;

/// `install_tfjobs`. Not implemented yet.
pub fn install(ctx: &Context) -> impl Operation<Output = (), Item = Infallible> + Send + 'static {
    NotYet::<(), Infallible>::new("install_tfjobs")
}

/// `create_tfjob`. Not implemented yet.
pub fn create(
    ctx: &Context,
    namespace: &str,
    tfjob: &serde_json::Value,
) -> impl Operation<Output = serde_json::Value, Item = Infallible> + Send + 'static {
    NotYet::<serde_json::Value, Infallible>::new("create_tfjob")
}

/// `get_tfjob`. Not implemented yet.
pub fn get(
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> impl Operation<Output = serde_json::Value, Item = Infallible> + Send + 'static {
    NotYet::<serde_json::Value, Infallible>::new("get_tfjob")
}

/// `delete_tfjob`. Not implemented yet.
pub fn delete(
    ctx: &Context,
    namespace: &str,
    name: &str,
    wait: bool,
) -> impl Operation<Output = bool, Item = Infallible> + Send + 'static {
    NotYet::<bool, Infallible>::new("delete_tfjob")
}

/// `list_tfjobs`. Not implemented yet.
pub fn list(
    ctx: &Context,
    namespace: &str,
) -> impl Operation<Output = Vec<serde_json::Value>, Item = Infallible> + Send + 'static {
    NotYet::<Vec<serde_json::Value>, Infallible>::new("list_tfjobs")
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
