//! Nomad: what the waits (`ClusterManager::wait_for_job_execution_status`, through the shared
//! observation of `nomad/shared.rs`) read of one job besides the namespace's job list: one look at
//! its executions ([`execution_once`]); and the back-off from a blocking query that comes back
//! early without progress ([`STALL_BACKOFF_INITIAL`], [`STALL_BACKOFF_MAX`]), which the job-list
//! chain and `delete_job`'s wait take.

use std::convert::Infallible;
use std::time::Instant;

pub use super::blocking::{STALL_BACKOFF_INITIAL, STALL_BACKOFF_MAX};
use super::execution::{current_run, parse_stubs};
use super::job::{JobBody, JobPaths};
use super::{decode, Context};
use crate::error::{Error, Result};
use crate::model::{Execution, Status};
use crate::op::{answer, Flow, Machine, Next};
use crate::step::{Operation, Response};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Start,
    Job,
    Allocations,
}

/// The machine of [`execution_once`].
struct LookAtExecutions {
    paths: JobPaths,
    /// The job as read first: `(Version, Stop)`, to leave out earlier runs' allocations.
    job: (u64, bool),
    statuses: Vec<Status>,
    stage: Stage,
}

impl Machine for LookAtExecutions {
    type Output = Option<Execution>;

    fn step(&mut self, _now: Instant, ans: Option<Result<Response>>) -> Result<Next<Self::Output>> {
        match self.stage {
            Stage::Start => {
                if self.statuses.is_empty() {
                    return Err(Error::InvalidInput {
                        field: "statuses".into(),
                        problem: "give at least one status to wait for".into(),
                    });
                }
                self.stage = Stage::Job;
                // Nomad lists no allocations (`[]`, not 404) for an unknown job: check it exists.
                Ok(Next::Send(self.paths.get("")?))
            }
            Stage::Job => {
                let job: JobBody = decode("Nomad job", self.paths.check(answer(ans)?)?.body())?;
                self.job = (job.version, job.stop);
                self.stage = Stage::Allocations;
                Ok(Next::Send(self.paths.get("/allocations")?))
            }
            Stage::Allocations => {
                let resp = self.paths.check(answer(ans)?)?;
                let allocs = parse_stubs(resp.body())?;
                let found = current_run(self.job.0, self.job.1, &allocs)
                    .into_iter()
                    .map(|a| (a, a.to_execution(&self.paths.ctx, &self.paths.namespace)))
                    .filter(|(_, e)| e.status.is_some_and(|s| self.statuses.contains(&s)))
                    .max_by_key(|(a, _)| a.create_time);
                Ok(Next::Done(Ok(found.map(|(_, execution)| execution))))
            }
        }
    }
}

/// One look at the job's executions: the job (for [`Error::NotFound`] and its current version),
/// then its allocations, not blocking; the newest execution of the current run (a job
/// registered again under the same ID keeps its earlier versions' allocations) in one of
/// `statuses`, or `None`. A shared execution wait makes it when it joins and whenever the
/// namespace's job list says the job's counts changed.
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
    let machine = LookAtExecutions {
        paths: JobPaths::new(ctx, namespace, job),
        job: (0, false),
        statuses: statuses.to_vec(),
        stage: Stage::Start,
    };
    Flow::new(machine, &ctx.retry)
}
