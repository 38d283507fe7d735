//! Shared observation: concurrent waits on the same namespace share one observation of it (one
//! list + watch of its Jobs on Kubernetes, one chain of blocking job-list queries on Nomad)
//! instead of one each, so that a thousand waits hold one stream, not a thousand connections.
//!
//! - [`board`]: who waits for which job and what each is owed — pure state, tested by feeding it
//!   changes and asserting who is woken with what.
//! - [`observed`]: what an observation observes (jobs or executions), as typed items.
//! - [`feed`]: the [`Feed`](feed::Feed) trait, the sans-IO source of an observation
//!   (implemented by `k8s::shared` and `nomad::shared`).
//! - [`room`]: the runtime-free driving: waiters take turns carrying out the feed's steps over
//!   any [`Transport`](crate::Transport); no background task, nothing left running once the last
//!   waiter is gone.

pub mod board;
pub mod feed;
pub mod observed;
pub mod room;

pub use room::Rooms;
