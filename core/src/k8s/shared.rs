//! The Kubernetes side of the shared observation ([`crate::shared`]): one list + watch of a
//! namespace's Jobs (the [`Watcher`], with its resourceVersion resume, bookmarks, 410 re-list
//! and back-off) serves every `wait_for_job` in that namespace; a waiter that joins while it
//! runs reads its Job once with a GET. Likewise one list + watch of the namespace's job pods
//! ([`PodFeed`]) serves every `wait_for_job_execution_status`: each waiter looks at its Job and
//! its pods when it joins, and again only when a pod of its Job enters a wanted status or is
//! deleted. Both start with a watch-list request where the server offers it (the context's
//! [`WatchListSupport`](super::watchlist::WatchListSupport)), else with a list.

use std::convert::Infallible;
use std::time::Instant;

use super::execution::{job_request, status_of_phase, PodObject, CONTROLLER_UID_LABEL, JOB_NAME_LABEL};
use super::job::JobObject;
use super::watcher::{Update, WatchStep, WatchTarget, Watcher};
use super::Context;
use crate::deadline::Deadline;
use crate::error::{Error, Result};
use crate::model::Status;
use crate::op::Call;
use crate::shared::board::{Change, Read};
use crate::shared::feed::{Feed, FeedStep};
use crate::shared::observed::{ExecutionSeen, Executions, JobSeen, Jobs, Observation};
use crate::step::BoxOperation;
use crate::step::{Event, Response};

/// What the board keeps of a Job event.
pub fn seen(job: JobObject) -> JobSeen {
    let uid = job.metadata.uid.clone();
    let job = job.into_job();
    JobSeen {
        name: job.name.clone(),
        uid,
        terminal: job.status.is_some_and(crate::model::Status::is_terminal),
        settled: true,
        job,
    }
}

/// The watch of every Job of `namespace`.
pub fn jobs_params(namespace: &str) -> WatchTarget {
    WatchTarget::new(super::job::collection(namespace), format!("the jobs of namespace {namespace}"))
}

/// What a shared watch reports of one object, to the board.
pub trait Observed: serde::de::DeserializeOwned + super::object::Versioned + Send + 'static {
    /// The kind of observation its watch is.
    type Observation: Observation;
    /// What the board keeps of it.
    fn seen(self) -> <Self::Observation as Observation>::Item;
}

impl Observed for JobObject {
    type Observation = Jobs;
    fn seen(self) -> JobSeen {
        seen(self)
    }
}

impl Observed for PodObject {
    type Observation = Executions;
    fn seen(self) -> ExecutionSeen {
        pod_seen(self)
    }
}

/// A shared feed: a [`Watcher`] of a namespace's objects without a deadline of its own, each
/// event reported to the board as a [`Change`].
pub struct WatchFeed<T> {
    watcher: Watcher<T>,
}

/// The shared feed of a namespace's Jobs (`wait_for_job`).
pub type JobFeed = WatchFeed<JobObject>;
/// The shared feed of a namespace's job pods (`wait_for_job_execution_status`), for a board of
/// executions.
pub type PodFeed = WatchFeed<PodObject>;

impl<T: Observed> std::fmt::Debug for WatchFeed<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchFeed").field("resource_version", &self.watcher.resource_version()).finish()
    }
}

impl JobFeed {
    /// The feed of `namespace`'s Jobs.
    pub fn new(ctx: &Context, namespace: &str) -> Self {
        WatchFeed { watcher: Watcher::new(jobs_params(namespace), &ctx.retry, None).watch_list(&ctx.watch_list) }
    }
}

impl PodFeed {
    /// The feed of `namespace`'s job pods.
    pub fn new(ctx: &Context, namespace: &str) -> Self {
        WatchFeed { watcher: Watcher::new(pods_params(namespace), &ctx.retry, None).watch_list(&ctx.watch_list) }
    }
}

impl<T: Observed> Feed for WatchFeed<T> {
    type Observed = T::Observation;

    fn poll(&mut self, now: Instant, _horizon: Option<Instant>) -> FeedStep<<T::Observation as Observation>::Item> {
        match self.watcher.poll(now) {
            WatchStep::Send(req, io) => FeedStep::List(req, io),
            WatchStep::Open(req, io) if self.watcher.opening_list() => FeedStep::ListStream(req, io),
            WatchStep::Open(req, io) => FeedStep::Open(req, io),
            WatchStep::Read { until } => FeedStep::Read { until },
            WatchStep::WaitUntil(at) => FeedStep::WaitUntil(at),
            WatchStep::Update(Update::Listed(items)) => {
                FeedStep::Change(Change::Listed(items.into_iter().map(T::seen).collect()))
            }
            WatchStep::Update(Update::Added(o) | Update::Modified(o)) => {
                let seen = o.seen();
                // an object that is there but gone for its waiters (an orphaned pod) is deleted
                FeedStep::Change(if T::Observation::gone(&seen) {
                    Change::Deleted(seen)
                } else {
                    Change::Upserted(seen)
                })
            }
            WatchStep::Update(Update::Deleted(o)) => FeedStep::Change(Change::Deleted(o.seen())),
            WatchStep::Failed(err) => FeedStep::Failed(err),
        }
    }

    fn handle(&mut self, event: Event) {
        self.watcher.handle(event)
    }
}

/// A joining waiter's read of Job `name` ([`Read::Gone`] when it does not exist).
pub fn read(ctx: &Context, namespace: &str, name: &str, deadline: Deadline) -> BoxOperation<Read<JobSeen>, Infallible> {
    let what = format!("reading job {namespace}/{name}");
    match job_request(namespace, name) {
        Ok(req) => Box::new(crate::op::within(Call::new(req, &ctx.retry, parse_read), deadline, what)),
        Err(err) => Box::new(crate::step::Ready::new(Err(err))),
    }
}

fn parse_read(resp: Response) -> Result<Read<JobSeen>> {
    match super::check(resp) {
        Ok(resp) => Ok(Read::Job(seen(super::decode::<JobObject>("job", resp.body())?))),
        Err(Error::NotFound(_)) => Ok(Read::Gone),
        Err(err) => Err(err),
    }
}

/// What a board of executions ([`Board::of_executions`](crate::shared::board::Board::of_executions))
/// keeps of a pod event: named after its job (`job-name` label), with the uid of the Job that
/// controls it (its controller reference, or the `controller-uid` label an orphaned pod keeps;
/// `-` for neither, which matches no Job), and its phase as the job's counts (one pod in one
/// status). A pod with that label but no controller reference was orphaned: its Job was deleted
/// with propagationPolicy=Orphan (the garbage collector strips the references).
pub fn pod_seen(pod: PodObject) -> ExecutionSeen {
    let meta = pod.metadata;
    let controller = meta.owner_references.iter().find(|o| o.controller == Some(true)).map(|o| o.uid.clone());
    let label = meta.labels.get(CONTROLLER_UID_LABEL).cloned();
    let orphaned = controller.is_none() && label.is_some();
    let uid = controller.or(label).unwrap_or_else(|| "-".to_owned());
    let job = meta.labels.get(JOB_NAME_LABEL).cloned().unwrap_or_default();
    ExecutionSeen { job, job_uid: uid, status: status_of_phase(&pod.status.phase), orphaned }
}

/// The watch of every pod of `namespace` that belongs to a Job (`labelSelector=job-name`).
pub fn pods_params(namespace: &str) -> WatchTarget {
    WatchTarget::new(super::execution::collection(namespace), format!("the job pods of namespace {namespace}"))
        .labels(JOB_NAME_LABEL)
}

/// An execution waiter's look ([`execution::look`](super::execution::look)): [`Read::Gone`]
/// when Job `name` does not exist or is being deleted; else the Job's uid and, when one of its
/// pods is in `statuses`, the newest such pod.
pub fn read_executions(
    ctx: &Context,
    namespace: &str,
    name: &str,
    statuses: &[Status],
    deadline: Deadline,
) -> BoxOperation<Read<ExecutionSeen>, Infallible> {
    let look = super::execution::look(ctx, namespace, name);
    let what = format!("looking at the pods of job {namespace}/{name}");
    let statuses = statuses.to_vec();
    Box::new(crate::op::map_output(crate::op::within(look, deadline, what), move |out| {
        let Some((meta, pods)) = out? else { return Ok(Read::Gone) };
        if meta.deletion_timestamp.is_some() {
            return Ok(Read::Gone);
        }
        let newest = pods
            .into_iter()
            .filter(|p| p.status.is_some_and(|s| statuses.contains(&s)))
            .max_by(|a, b| a.created.cmp(&b.created));
        Ok(Read::Executions { uid: meta.uid, found: newest })
    }))
}
