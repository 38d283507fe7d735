//! Nomad: connect — read `/v1/agent/self` to learn the region and datacenters. (Stub.)
#![allow(unused_variables)]

use std::convert::Infallible;

use super::Context;
use crate::error::Error;
use crate::step::{Operation, Ready};

/// Connect: check the agent answers and learn its datacenter and region. Not implemented yet.
pub fn connect(ctx: Context) -> impl Operation<Output = Context, Item = Infallible> + Send + 'static {
    Ready::new(Err(Error::protocol("connect is not implemented yet")))
}
