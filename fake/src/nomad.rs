//! The fake Nomad agent.
use std::time::Duration;
use clustermanager_core::Request;
use crate::{Reply, StreamPoll};

#[derive(Debug)]
pub(crate) struct Cluster { index: u64 }
#[derive(Debug)]
pub(crate) struct Stream;
impl Cluster {
    pub(crate) fn new(_step: Duration) -> Self { Cluster { index: 1 } }
    pub(crate) fn advance(&mut self, _now: Duration) {}
    pub(crate) fn next_due(&self) -> Option<Duration> { None }
    pub(crate) fn index(&self) -> u64 { self.index }
    pub(crate) fn alloc_ids(&self, _ns: &str) -> Vec<String> { Vec::new() }
    pub(crate) fn set_alloc_status(&mut self, _id: &str, _s: &str, _c: i32) -> bool { false }
    pub(crate) fn handle(&mut self, _req: &Request, _now: Duration, _expired: bool) -> Reply<Stream> { Reply::Full(crate::http_util::response(404, "", &[], "")) }
    pub(crate) fn poll_stream(&mut self, _s: &mut Stream, _now: Duration) -> StreamPoll { StreamPoll::End }
}
