//! The Nomad side of the shared observation ([`crate::shared`]): one chain of blocking queries
//! on `/v1/jobs?namespace=…` serves every `wait_for_job` in that namespace. A list stub says
//! when a job is `dead`; the waiter then reads the job once ([`get`](super::job::get)) for the
//! full answer, as a single wait does. A waiter that joins while the chain runs reads its job
//! once to start from.
//!
//! The chain is paced like a single wait's: each query blocks on the last `X-Nomad-Index` for
//! up to the time until the earliest waiter's deadline (at least [`MIN_SHARED_WAIT`], at most
//! [`MAX_WAIT`]); an answer that comes back early without a higher index is followed only after
//! a back-off ([`STALL_BACKOFF_INITIAL`](super::wait::STALL_BACKOFF_INITIAL) doubling to
//! [`STALL_BACKOFF_MAX`](super::wait::STALL_BACKOFF_MAX)); a failure worth
//! resuming (dropped connection, 429, 5xx) is retried after the context's back-off, doubling.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use super::blocking::{resumable, take_index};
use super::job::{list_query, parse_job_list};
use super::query::{index_of, MAX_WAIT};
use super::Context;
use crate::deadline::{later, Deadline, Hold};
use crate::error::{Error, Result};
use crate::model::{Job, Status};
use crate::op::{Exchange, ExchangeStep};
use crate::retry::Jitter;
use crate::shared::board::{Change, Read};
use crate::shared::feed::{Feed, FeedStep};
use crate::shared::observed::{JobSeen, Jobs};
use crate::step::BoxOperation;
use crate::step::{Event, Response};

/// The shortest `wait=` of the chain's blocking queries: waiters whose deadlines come close
/// together do not each cost a query (the driver still ends each waiter at its deadline).
pub const MIN_SHARED_WAIT: Duration = Duration::from_secs(1);

/// What the board keeps of a list stub (or of a job read in full, `settled`).
fn seen(job: Job, settled: bool) -> JobSeen {
    let terminal = if settled { job.status.is_some_and(Status::is_terminal) } else { job.raw_status == "dead" };
    JobSeen { name: job.name.clone(), uid: String::new(), terminal, settled, job }
}

/// The shared feed of a namespace's jobs.
#[derive(Debug)]
pub struct JobsFeed {
    ctx: Context,
    namespace: String,
    index: u64,
    exchange: Option<Exchange>,
    /// When the blocking query in flight was sent, and the `wait=` it asked for.
    asked: Option<(Instant, Duration)>,
    failures: u32,
    stalls: u32,
    /// The back-off to take before the next query (after an early answer without progress).
    stall: Option<Duration>,
    jitter: Jitter,
}

impl JobsFeed {
    /// The feed of `namespace`'s jobs.
    pub fn new(ctx: &Context, namespace: &str) -> Self {
        JobsFeed {
            ctx: ctx.clone(),
            namespace: namespace.to_owned(),
            index: 0,
            exchange: None,
            asked: None,
            failures: 0,
            stalls: 0,
            stall: None,
            jitter: Jitter::new(ctx.retry.seed ^ 0x7368_6172_6564_6a62),
        }
    }

    fn jittered(&mut self, exp: Duration) -> Duration {
        self.jitter.upper_half(exp)
    }

    fn answer(&mut self, now: Instant, ans: Result<Response>) -> FeedStep<JobSeen> {
        if self.index != 0 && resumable(&ans) {
            self.failures = self.failures.saturating_add(1);
            let policy = &self.ctx.retry.policy;
            let exp = policy.backoff().nth(self.failures);
            tracing::debug!(namespace = %self.namespace, failures = self.failures, "shared job list query failed; resuming after a back-off");
            return FeedStep::WaitUntil(later(now, self.jittered(exp)));
        }
        let resp = match ans.and_then(super::check) {
            Ok(resp) => resp,
            Err(err) => return FeedStep::Failed(err),
        };
        self.failures = 0;
        let Some(answered) = index_of(resp.headers()) else {
            return FeedStep::Failed(Error::protocol(
                "Nomad's answer to /v1/jobs carried no X-Nomad-Index header, so it cannot be waited on with \
                 blocking queries; is a proxy between here and Nomad removing X-Nomad-* headers?",
            ));
        };
        let jobs = match parse_job_list(&self.ctx, &self.namespace, resp.body()) {
            Ok(jobs) => jobs,
            Err(err) => return FeedStep::Failed(err),
        };
        let early = self.asked.take().is_some_and(|(at, asked)| now.saturating_duration_since(at) < asked);
        if let Some(exp) = take_index(&mut self.index, &mut self.stalls, answered, early) {
            let delay = self.jittered(exp);
            tracing::debug!(namespace = %self.namespace, answered, stalls = self.stalls, ?delay, "shared job list query came back early without a higher index; backing off");
            self.stall = Some(delay);
        }
        FeedStep::Change(Change::Listed(jobs.into_iter().map(|j| seen(j, false)).collect()))
    }
}

impl Feed for JobsFeed {
    type Observed = Jobs;

    fn poll(&mut self, now: Instant, horizon: Option<Instant>) -> FeedStep<JobSeen> {
        if let Some(delay) = self.stall.take() {
            return FeedStep::WaitUntil(later(now, delay));
        }
        if self.exchange.is_none() {
            let query = list_query(&self.ctx, &self.namespace);
            let (query, wait) = if self.index == 0 {
                (query, None)
            } else {
                let left = horizon.map(|h| h.saturating_duration_since(now));
                let wait = left.map_or(MAX_WAIT, |h| h.clamp(MIN_SHARED_WAIT, MAX_WAIT));
                (query.blocking(self.index, wait), Some(wait))
            };
            let req = match query.get() {
                Ok(req) => req,
                Err(err) => return FeedStep::Failed(err),
            };
            self.asked = wait.map(|w| (now, w));
            let exchange = Exchange::send(req, &self.ctx.retry).holding(wait.map_or(Hold::None, Hold::Server));
            // the first read retries as any read; the blocking ones are resumed above instead
            self.exchange = Some(if self.index == 0 { exchange } else { exchange.once() });
        }
        let Some(exchange) = self.exchange.as_mut() else {
            return FeedStep::Failed(Error::protocol("shared job list feed lost its request"));
        };
        match exchange.poll(now) {
            ExchangeStep::Send(req, io) => FeedStep::List(req, io),
            ExchangeStep::WaitUntil(at) => FeedStep::WaitUntil(at),
            ExchangeStep::Done(ans) => {
                self.exchange = None;
                self.answer(now, ans)
            }
        }
    }

    fn handle(&mut self, event: Event) {
        if let Some(exchange) = self.exchange.as_mut() {
            exchange.handle(event);
        }
    }
}

/// A waiter's read of job `name` ([`get`](super::job::get), as `get_job`): [`Read::Gone`] when
/// it does not exist.
pub fn read(ctx: &Context, namespace: &str, name: &str, deadline: Deadline) -> BoxOperation<Read<JobSeen>, Infallible> {
    let get = super::job::get(ctx, namespace, name);
    let what = format!("reading job {name:?}");
    Box::new(crate::op::map_output(crate::op::within(get, deadline, what), |out| match out {
        Ok(job) => Ok(Read::Job(seen(job, true))),
        Err(Error::NotFound(_)) => Ok(Read::Gone),
        Err(err) => Err(err),
    }))
}

/// An execution waiter's read ([`Want::Executions`](crate::shared::board::Want)): one
/// [`execution_once`](super::wait::execution_once) look at job `name`'s executions. `None` when
/// the job does not exist; else the execution in `statuses` it found, if any.
pub fn read_executions(
    ctx: &Context,
    namespace: &str,
    name: &str,
    statuses: &[Status],
    deadline: Deadline,
) -> BoxOperation<Read<JobSeen>, Infallible> {
    let look = super::wait::execution_once(ctx, namespace, name, statuses);
    let what = format!("looking at the executions of job {name:?}");
    Box::new(crate::op::map_output(crate::op::within(look, deadline, what), move |out| match out {
        Ok(execution) => Ok(Read::Executions { uid: String::new(), found: execution }),
        Err(Error::NotFound(_)) => Ok(Read::Gone),
        Err(err) => Err(err),
    }))
}
