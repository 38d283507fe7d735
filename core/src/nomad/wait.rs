//! Nomad: wait_for_job, wait_for_job_execution_status — with blocking queries, never by
//! sleeping and polling.
//!
//! Each wait reads once at once, then re-issues the read with `?index=N&wait=W` where `N` is
//! the last `X-Nomad-Index` (reset to 0 if it goes backwards, 1 if the server says 0; see
//! [`next_index`](super::query::next_index)) and `W` is the caller's remaining time in whole milliseconds (`5s`,
//! `4997ms`), at most five minutes. Nomad may answer up to `W/16` later than `W` (jitter). The server
//! answers as soon as the object changes, or with the same index when `W` passed. When the
//! caller's timeout has passed and the wait is not over: [`Error::Timeout`]. An answer without
//! `X-Nomad-Index` (a proxy stripping headers) ends the wait with [`Error::Protocol`] rather
//! than re-asking in a busy loop.
//!
//! A blocking read that fails after its retries in a way worth resuming (connection dropped or
//! reset, stream cut, transport timeout, 429, 500, 502–504) does not end the wait: the same
//! read is re-issued from the same index after a back-off (the context's retry back-off,
//! doubling, jittered), like the Kubernetes watcher resumes a dropped watch. Only the caller's
//! deadline bounds this: the exchange's own retry budget counts the time the server held the
//! blocking query, so one long poll cut by a load balancer would otherwise exhaust it.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use super::blocking::Blocking;
pub use super::blocking::{STALL_BACKOFF_INITIAL, STALL_BACKOFF_MAX};
use super::execution::{current_run, parse_stubs};
use super::job::{Fetch, JobBody, JobPaths};
use super::query::index_of;
use super::{decode, Context};
use crate::deadline::Deadline;
use crate::error::{Error, Result};
use crate::model::{Execution, Job, Status};
use crate::op::{answer, Flow, Machine, Next};
use crate::step::{Operation, Response};

enum JobStage {
    Read,
    Fetch(Box<Fetch>),
}

struct WaitJob {
    paths: JobPaths,
    blocking: Blocking,
    stage: JobStage,
}

impl Machine for WaitJob {
    type Output = Job;

    fn step(&mut self, now: Instant, ans: Option<Result<Response>>) -> Result<Next<Self::Output>> {
        self.blocking.start(now);
        let Some(ans) = ans else {
            return Ok(Next::Send(self.paths.get("")?));
        };
        if let JobStage::Fetch(fetch) = &mut self.stage {
            return fetch.on_answer(ans);
        }
        let id = &self.paths.id;
        let resp = match self.blocking.take(now, Some(ans), &self.paths, "", || job_waiting(id))? {
            Ok(resp) => self.paths.check(resp)?,
            Err(later) => return Ok(later),
        };
        let answered = index_of(resp.headers());
        let job: JobBody = decode("Nomad job", resp.body())?;
        if job.status == "dead" {
            let mut fetch = Box::new(Fetch::new(self.paths.clone()));
            let req = fetch.start_with(job)?;
            self.stage = JobStage::Fetch(fetch);
            return Ok(Next::Send(req));
        }
        let what = || format!("waiting for job {:?} to finish (it is {})", self.paths.id, job.status);
        self.blocking.again(now, &self.paths, "", answered, what)
    }

    fn resume(&mut self, now: Instant) -> Result<Next<Self::Output>> {
        let id = &self.paths.id;
        self.blocking.resume(now, &self.paths, || job_waiting(id))
    }

    fn deadline(&self) -> Deadline {
        self.blocking.deadline()
    }
}

fn job_waiting(id: &str) -> String {
    format!("waiting for job {id:?} to finish")
}

/// `wait_for_job`: wait until the job is finished (Nomad status `dead`, unified `Succeeded`
/// or `Failed`) and return it as [`get`](super::job::get) would. [`Error::NotFound`] if the job
/// does not exist, [`Error::Timeout`] when `timeout` passes first (`None`: wait as long as it
/// takes).
///
/// ```
/// use std::time::Duration;
/// use clustermanager_core::{nomad, Operation, Step};
/// let mut op = nomad::wait::job(&nomad::Context::default(), "", "acm-ok", Some(Duration::from_secs(5)));
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(req.uri(), "/v1/job/acm-ok");
/// ```
pub fn job(
    ctx: &Context,
    namespace: &str,
    name: &str,
    timeout: Option<Duration>,
) -> impl Operation<Output = Job, Item = Infallible> + Send + 'static {
    let machine =
        WaitJob { paths: JobPaths::new(ctx, namespace, name), blocking: Blocking::new(timeout), stage: JobStage::Read };
    Flow::new(machine, &ctx.retry)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExecStage {
    Start,
    Job,
    Allocations,
    /// Reading the job again after a blocking read of its allocations returned without a match.
    Recheck,
}

struct WaitExecution {
    paths: JobPaths,
    /// The job as read at the start: `(Version, Stop)`, to leave out earlier runs' allocations.
    job: (u64, bool),
    statuses: Vec<Status>,
    blocking: Blocking,
    stage: ExecStage,
    /// The index of the last allocations answer, while the job is read again.
    answered: Option<u64>,
    /// Read the job and its allocations once, without blocking: `None` when no execution is
    /// in a wanted status ([`execution_once`]).
    once: bool,
}

impl Machine for WaitExecution {
    type Output = Option<Execution>;

    fn step(&mut self, now: Instant, ans: Option<Result<Response>>) -> Result<Next<Self::Output>> {
        self.blocking.start(now);
        match self.stage {
            ExecStage::Start => {
                if self.statuses.is_empty() {
                    return Err(Error::InvalidInput {
                        field: "statuses".into(),
                        problem: "give at least one status to wait for".into(),
                    });
                }
                self.stage = ExecStage::Job;
                // Nomad lists no allocations (`[]`, not 404) for an unknown job: check it exists.
                Ok(Next::Send(self.paths.get("")?))
            }
            ExecStage::Job => {
                let job: JobBody = decode("Nomad job", self.paths.check(answer(ans)?)?.body())?;
                self.job = (job.version, job.stop);
                self.stage = ExecStage::Allocations;
                Ok(Next::Send(self.paths.get("/allocations")?))
            }
            ExecStage::Allocations => {
                let (id, statuses) = (&self.paths.id, &self.statuses);
                let resp = match self
                    .blocking
                    .take(now, ans, &self.paths, "/allocations", || execution_waiting(id, statuses))?
                {
                    Ok(resp) => self.paths.check(resp)?,
                    Err(later) => return Ok(later),
                };
                let answered = index_of(resp.headers());
                let allocs = parse_stubs(resp.body())?;
                let found = current_run(self.job.0, self.job.1, &allocs)
                    .into_iter()
                    .map(|a| (a, a.to_execution(&self.paths.ctx, &self.paths.namespace)))
                    .filter(|(_, e)| e.status.is_some_and(|s| self.statuses.contains(&s)))
                    .max_by_key(|(a, _)| a.create_time);
                if let Some((_, execution)) = found {
                    return Ok(Next::Done(Ok(Some(execution))));
                }
                if self.once {
                    return Ok(Next::Done(Ok(None)));
                }
                if self.blocking.is_blocking() {
                    // A blocking read came back (something changed, or its wait passed) without
                    // a match: is the job still there? A purged job's allocation list does not
                    // say (it is `[]` for an unknown job), and may never change again.
                    self.blocking.time_left(now, || execution_waiting(id, statuses))?;
                    self.answered = answered;
                    self.stage = ExecStage::Recheck;
                    return Ok(Next::Send(self.paths.get("")?));
                }
                self.blocking.again(now, &self.paths, "/allocations", answered, || execution_waiting(id, statuses))
            }
            ExecStage::Recheck => {
                // Gone (purged): NotFound naming the job.
                self.paths.check(answer(ans)?)?;
                self.stage = ExecStage::Allocations;
                let (id, statuses) = (&self.paths.id, &self.statuses);
                self.blocking.again(now, &self.paths, "/allocations", self.answered, || execution_waiting(id, statuses))
            }
        }
    }

    fn resume(&mut self, now: Instant) -> Result<Next<Self::Output>> {
        let (id, statuses) = (&self.paths.id, &self.statuses);
        self.blocking.resume(now, &self.paths, || execution_waiting(id, statuses))
    }

    fn deadline(&self) -> Deadline {
        self.blocking.deadline()
    }
}

fn execution_waiting(id: &str, statuses: &[Status]) -> String {
    format!("waiting for an execution of job {id:?} in {statuses:?}")
}

/// `wait_for_job_execution_status`: wait until an execution (allocation) of the job has one of
/// `statuses`, and return it (the newest if several do). Only the executions of the job's
/// current run count (a job registered again under the same ID keeps its earlier versions'
/// allocations; see [`job`](super::job)). Checks first that the job exists
/// ([`Error::NotFound`]), then follows `/v1/job/{id}/allocations` with blocking queries; each
/// time one comes back without a match the job is read again, and a job purged meanwhile ends
/// the wait with [`Error::NotFound`]. [`Error::Timeout`] when `timeout` passes first.
///
/// ```
/// use std::time::Duration;
/// use clustermanager_core::{nomad, Operation, Status, Step};
/// let mut op = nomad::wait::execution_status(&nomad::Context::default(), "", "acm-ok", &[Status::Running], None);
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(req.uri(), "/v1/job/acm-ok");
/// ```
pub fn execution_status(
    ctx: &Context,
    namespace: &str,
    job: &str,
    statuses: &[Status],
    timeout: Option<Duration>,
) -> impl Operation<Output = Execution, Item = Infallible> + Send + 'static {
    let machine = WaitExecution {
        paths: JobPaths::new(ctx, namespace, job),
        job: (0, false),
        statuses: statuses.to_vec(),
        blocking: Blocking::new(timeout),
        stage: ExecStage::Start,
        answered: None,
        once: false,
    };
    crate::op::map_output(Flow::new(machine, &ctx.retry), |found| {
        found?.ok_or_else(|| Error::protocol("the execution wait ended without an execution"))
    })
}

/// One look at the job's executions, as [`execution_status`] makes first: the job (for
/// [`Error::NotFound`] and its current version), then its allocations, not blocking; the newest
/// execution of the current run in one of `statuses`, or `None`. A shared execution wait makes
/// it whenever the namespace's job list says the job's counts changed.
///
/// ```
/// use clustermanager_core::{nomad, Operation, Status, Step};
/// let mut op = nomad::wait::execution_once(&nomad::Context::default(), "", "acm-ok", &[Status::Running]);
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(req.uri(), "/v1/job/acm-ok");
/// ```
pub fn execution_once(
    ctx: &Context,
    namespace: &str,
    job: &str,
    statuses: &[Status],
) -> impl Operation<Output = Option<Execution>, Item = Infallible> + Send + 'static {
    let machine = WaitExecution {
        paths: JobPaths::new(ctx, namespace, job),
        job: (0, false),
        statuses: statuses.to_vec(),
        blocking: Blocking::new(None),
        stage: ExecStage::Start,
        answered: None,
        once: true,
    };
    Flow::new(machine, &ctx.retry)
}
