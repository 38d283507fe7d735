//! [`Feed`]: the sans-IO source of one shared observation (a namespace's list + watch of Jobs,
//! or its chain of blocking job-list queries), driven like an [`Operation`](crate::Operation) by
//! whichever waiter holds the observation at the moment.

use std::time::Instant;

use super::board::Change;
use super::observed::Observation;
use crate::deadline::Io;
use crate::error::Error;
use crate::step::{Event, Request};

/// What a [`Feed`] wants next; it reports items `I`.
#[derive(Debug)]
pub enum FeedStep<I> {
    /// Send a request that lists the namespace's jobs (it covers every waiter that joined
    /// before: see [`Board::list_sent`](super::board::Board::list_sent)).
    List(Request, Io),
    /// Open a stream (a watch).
    Open(Request, Io),
    /// Open a stream whose first events list the namespace's jobs (a Kubernetes watch-list):
    /// like [`List`](Self::List) it covers every waiter that joined before.
    ListStream(Request, Io),
    /// Read the open stream, waiting for data until `until`.
    Read {
        /// When to stop waiting for data (`None`: never).
        until: Option<Instant>,
    },
    /// Back off until this instant.
    WaitUntil(Instant),
    /// Something changed; poll again for more.
    Change(Change<I>),
    /// The observation cannot go on (the server refused it); every waiter gets the error.
    Failed(Error),
}

/// The source of a shared observation. It runs as long as someone waits and has no deadline of
/// its own: the driver bounds each step by the earliest waiter's deadline (`horizon`).
pub trait Feed: Send {
    /// What it observes.
    type Observed: Observation;
    /// The next step. `horizon` is the earliest waiter's deadline (`None`: no waiter has one),
    /// for server-side waits (`wait=`) that should not outlast it.
    fn poll(&mut self, now: Instant, horizon: Option<Instant>) -> FeedStep<<Self::Observed as Observation>::Item>;
    /// The outcome of the last I/O step ([`FeedStep::List`], [`FeedStep::Open`],
    /// [`FeedStep::Read`]).
    fn handle(&mut self, event: Event);
}
