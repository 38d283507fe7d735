//! The Kubernetes side of the shared observation ([`crate::shared`]): one list + watch of a
//! namespace's Jobs (the [`Watcher`], with its resourceVersion resume, bookmarks, 410 re-list
//! and back-off) serves every `wait_for_job` in that namespace; a waiter that joins while it
//! runs reads its Job once with a GET.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use super::execution::job_request;
use super::job::JobObject;
use super::watcher::{Update, WatchParams, WatchStep, Watcher};
use super::Context;
use crate::call::Call;
use crate::deadline::Deadline;
use crate::error::{Error, Result};
use crate::shared::board::{Change, Seen};
use crate::shared::feed::{Feed, FeedStep};
use crate::step::{Event, Response};
use crate::transport::BoxOperation;

/// What the board keeps of a Job event.
pub fn seen(job: JobObject) -> Seen {
    let uid = job.metadata.uid.clone();
    let job = job.into_job();
    Seen {
        name: job.name.clone(),
        uid,
        terminal: job.status.is_some_and(crate::model::Status::is_terminal),
        settled: true,
        job,
    }
}

/// The watch of every Job of `namespace`.
pub fn jobs_params(namespace: &str) -> WatchParams {
    WatchParams::new(super::job::collection(namespace), format!("the jobs of namespace {namespace}"))
}

/// The shared feed of `namespace`'s Jobs: a [`Watcher`] without a deadline of its own.
pub struct JobFeed {
    watcher: Watcher<JobObject>,
}

impl std::fmt::Debug for JobFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobFeed").field("resource_version", &self.watcher.resource_version()).finish()
    }
}

impl JobFeed {
    /// The feed of `namespace`'s Jobs.
    pub fn new(ctx: &Context, namespace: &str) -> Self {
        JobFeed { watcher: Watcher::new(jobs_params(namespace), &ctx.retry, None) }
    }
}

impl Feed for JobFeed {
    fn poll(&mut self, now: Instant, _horizon: Option<Duration>) -> FeedStep {
        match self.watcher.poll(now) {
            WatchStep::Send(req) => FeedStep::List(req),
            WatchStep::Open(req) => FeedStep::Open(req),
            WatchStep::Read { timeout } => FeedStep::Read { timeout },
            WatchStep::Wait(d) => FeedStep::Wait(d),
            WatchStep::Update(Update::Listed(items)) => {
                FeedStep::Change(Change::Listed(items.into_iter().map(seen).collect()))
            }
            WatchStep::Update(Update::Added(job) | Update::Modified(job)) => {
                FeedStep::Change(Change::Upserted(seen(job)))
            }
            WatchStep::Update(Update::Deleted(job)) => FeedStep::Change(Change::Deleted(seen(job))),
            WatchStep::Failed(err) => FeedStep::Failed(err),
        }
    }

    fn handle(&mut self, event: Event) {
        self.watcher.handle(event)
    }
}

/// A joining waiter's read of Job `name`: `None` when it does not exist.
pub fn read(ctx: &Context, namespace: &str, name: &str, deadline: Deadline) -> BoxOperation<Option<Seen>, Infallible> {
    let what = format!("reading job {namespace}/{name}");
    match job_request(namespace, name) {
        Ok(req) => Box::new(crate::shared::within(Call::new(req, &ctx.retry, parse_read), deadline, what)),
        Err(err) => Box::new(crate::step::Ready::new(Err(err))),
    }
}

fn parse_read(resp: Response) -> Result<Option<Seen>> {
    match super::check(resp) {
        Ok(resp) => Ok(Some(seen(super::decode::<JobObject>("job", resp.body())?))),
        Err(Error::NotFound(_)) => Ok(None),
        Err(err) => Err(err),
    }
}
