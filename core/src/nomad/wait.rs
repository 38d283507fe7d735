//! Nomad: wait_for_job, wait_for_job_execution_status — with blocking queries, never by
//! sleeping and polling.
//!
//! Each wait reads once at once, then re-issues the read with `?index=N&wait=W` where `N` is
//! the last `X-Nomad-Index` (reset to 0 if it goes backwards, 1 if the server says 0; see
//! [`next_index`]) and `W` is the caller's remaining time in whole milliseconds (`5s`,
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

use super::execution::{current_run, parse_stubs};
use super::flow::{answer, Flow, Machine, Next};
use super::job::{Fetch, JobBody, JobPaths};
use super::query::{index_of, next_index, MAX_WAIT};
use super::{decode, Context};
use crate::deadline::{later, Deadline, Hold};
use crate::error::{Error, Result, TransportErrorKind};
use crate::model::{Execution, Job, Status};
use crate::retry::{doubling, Jitter};
use crate::step::{Operation, Response};

/// First back-off after a blocking read that came back early without progress (its index 0,
/// lower than or equal to the one it blocked on, before its `wait=` passed): a server or proxy
/// that ignores `index=` must not be read in a busy loop.
pub const STALL_BACKOFF_INITIAL: Duration = Duration::from_secs(1);
/// Largest back-off between blocking reads that make no progress.
pub const STALL_BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Following one of a job's reads with blocking queries: the index to block on and the
/// caller's deadline. Shared by the waits here and by `delete_job`'s wait.
#[derive(Debug, Clone)]
pub(crate) struct Blocking {
    index: u64,
    deadline: Deadline,
    /// Blocking reads that failed in a row (for the back-off).
    failures: u32,
    /// Blocking reads in a row that came back early without a higher index.
    stalls: u32,
    /// When the last blocking read was issued, and the `wait=` it asked for.
    asked: Option<(Instant, Duration)>,
    /// Drawn from the context's seed at the first back-off.
    jitter: Option<Jitter>,
    /// The read (its path suffix) to re-issue once the back-off has passed.
    pending: Option<String>,
}

impl Blocking {
    /// Follow until `timeout` (measured from the first [`start`](Self::start); `None`: no limit).
    pub fn new(timeout: Option<Duration>) -> Self {
        Blocking {
            index: 0,
            deadline: Deadline::new(timeout),
            failures: 0,
            stalls: 0,
            asked: None,
            jitter: None,
            pending: None,
        }
    }

    /// Start the deadline clock (once; later calls do nothing).
    pub fn start(&mut self, now: Instant) {
        self.deadline.start(now);
    }

    /// The caller's deadline (for [`Machine::deadline`]).
    pub fn deadline(&self) -> Deadline {
        self.deadline
    }

    /// Forget the index, to follow another read (the next query reads at once).
    pub fn reset(&mut self) {
        self.index = 0;
        self.asked = None;
    }

    /// `exp` jittered: drawn uniformly from its upper half.
    fn jittered(&mut self, paths: &JobPaths, exp: Duration) -> Duration {
        let jitter = self.jitter.get_or_insert_with(|| Jitter::new(paths.ctx.retry.seed ^ 0x6e6f_6d61_6462_6c6b));
        exp.mul_f64(0.5 + 0.5 * jitter.next_f64())
    }

    /// Take the answer to the read of `suffix` made through [`again`](Self::again): `Ok(Ok(resp))`
    /// for the machine to judge (any status, a 404 included), or, when a blocking read failed in a
    /// way worth resuming, `Ok(Err(Next::After(delay)))` for the machine to return: after the
    /// back-off the flow calls [`Machine::resume`], which calls [`resume`](Self::resume). Other
    /// failures, and failures of the first (non-blocking) read, are returned as errors;
    /// [`Error::Timeout`] saying `what` if the deadline passed.
    pub fn take<T>(
        &mut self,
        now: Instant,
        ans: Option<Result<Response>>,
        paths: &JobPaths,
        suffix: &str,
        what: impl FnOnce() -> String,
    ) -> Result<std::result::Result<Response, Next<T>>> {
        let ans = answer(ans);
        if self.index == 0 || !resumable(&ans) {
            self.failures = 0;
            return ans.map(Ok);
        }
        let left = next_wait(&self.deadline, now, what)?;
        self.failures = self.failures.saturating_add(1);
        let policy = &paths.ctx.retry.policy;
        let exp = doubling(policy.initial_backoff, policy.max_backoff, self.failures);
        let delay = self.jittered(paths, exp).min(left);
        let failure = match &ans {
            Ok(resp) => format!("HTTP {}", resp.status()),
            Err(e) => e.to_string(),
        };
        tracing::debug!(path = %paths.query(suffix).path_and_query(), index = self.index, failures = self.failures, ?delay, %failure, "blocking query failed; resuming after a back-off");
        self.pending = Some(suffix.to_owned());
        Ok(Err(Next::After(later(now, delay))))
    }

    /// Whether the last read was a blocking one (it waited on an index).
    pub fn is_blocking(&self) -> bool {
        self.index != 0
    }

    /// `Ok` while the deadline has not passed, else [`Error::Timeout`] saying `what`.
    pub fn time_left(&self, now: Instant, what: impl FnOnce() -> String) -> Result<()> {
        next_wait(&self.deadline, now, what).map(drop)
    }

    /// The read of `suffix` from the current index (a blocking query when there is one), for at
    /// most the time left.
    fn read<T>(&mut self, now: Instant, paths: &JobPaths, suffix: &str, wait: Duration) -> Result<Next<T>> {
        let req = paths.query(suffix).blocking(self.index, wait).get()?;
        if self.index == 0 {
            self.asked = None;
            return Ok(Next::Send(req));
        }
        self.asked = Some((now, wait));
        Ok(Next::Blocking(req, Hold::Server(wait)))
    }

    /// Re-issue the blocking read [`take`](Self::take) or [`again`](Self::again) backed off
    /// from, from the index then current, for at most the time left ([`Error::Timeout`] saying
    /// `what` when none is).
    pub fn resume<T>(&mut self, now: Instant, paths: &JobPaths, what: impl FnOnce() -> String) -> Result<Next<T>> {
        let Some(suffix) = self.pending.take() else {
            return Err(Error::protocol("a blocking read was resumed with nothing to resume"));
        };
        let wait = next_wait(&self.deadline, now, what)?;
        self.read(now, paths, &suffix, wait)
    }

    /// The wait is not over: read `suffix` of the job again, blocking on the index after the
    /// one `answered` (the answer's `X-Nomad-Index`) for at most the time left, or
    /// [`Error::Timeout`] saying `what` when none is left. An answer without `X-Nomad-Index` is
    /// an [`Error::Protocol`]: blocking on a guessed index would answer at once, in a busy loop.
    ///
    /// A blocking read that came back before its `wait=` passed without a higher index (0, lower,
    /// or the same: a server or proxy ignoring `index=`) is followed only after a back-off of
    /// [`STALL_BACKOFF_INITIAL`] doubling to [`STALL_BACKOFF_MAX`], jittered, clamped to the
    /// deadline (`Next::After`, then [`resume`](Self::resume)).
    pub fn again<T>(
        &mut self,
        now: Instant,
        paths: &JobPaths,
        suffix: &str,
        answered: Option<u64>,
        what: impl FnOnce() -> String,
    ) -> Result<Next<T>> {
        let Some(answered) = answered else {
            // Without the index a blocking query cannot block: it would answer at once, again and
            // again. Nomad sends it on every read; something in between removed it.
            return Err(Error::protocol(format!(
                "Nomad's answer to {} carried no X-Nomad-Index header, so it cannot be waited on with \
                 blocking queries; is a proxy between here and Nomad removing X-Nomad-* headers?",
                paths.query(suffix).path_and_query()
            )));
        };
        let wait = next_wait(&self.deadline, now, what)?;
        let early = self.asked.is_some_and(|(at, asked)| now.saturating_duration_since(at) < asked);
        if let Some(exp) = take_index(&mut self.index, &mut self.stalls, answered, early) {
            let delay = self.jittered(paths, exp).min(wait);
            tracing::debug!(path = %paths.query(suffix).path_and_query(), answered, stalls = self.stalls, ?delay, "blocking query came back early without a higher index; backing off");
            self.pending = Some(suffix.to_owned());
            return Ok(Next::After(later(now, delay)));
        }
        self.read(now, paths, suffix, wait)
    }
}

/// Take the index a blocking read answered with into `index` (see [`next_index`]), counting
/// `stalls`: answers that came back `early` (before their `wait=` passed) without a higher index.
/// `Some(back-off)` (not yet jittered: [`STALL_BACKOFF_INITIAL`] doubling to
/// [`STALL_BACKOFF_MAX`]) when this one did: the next read must not follow at once.
pub(crate) fn take_index(index: &mut u64, stalls: &mut u32, answered: u64, early: bool) -> Option<Duration> {
    let stalled = *index != 0 && answered <= *index && early;
    if *index != 0 && answered > *index {
        *stalls = 0;
    }
    *index = next_index(*index, Some(answered));
    if !stalled {
        return None;
    }
    *stalls = stalls.saturating_add(1);
    Some(doubling(STALL_BACKOFF_INITIAL, STALL_BACKOFF_MAX, *stalls))
}

/// Whether a failed blocking read is worth re-issuing: the connection or the stream broke, the
/// transport gave up waiting, or the server was briefly unable to answer (no leader, overload).
/// TLS failures and the other statuses (404, 400, 403, ...) are answers, not accidents.
pub(crate) fn resumable(ans: &Result<Response>) -> bool {
    match ans {
        Ok(resp) => matches!(resp.status().as_u16(), 429 | 500 | 502..=504),
        Err(Error::Transport { kind, .. }) => *kind != TransportErrorKind::Tls,
        Err(Error::Timeout { .. }) => true,
        Err(_) => false,
    }
}

/// How long the next blocking query may wait (whole milliseconds, at most [`MAX_WAIT`], never
/// more than what is left: Nomad may still add up to wait/16), or [`Error::Timeout`] saying
/// `what` once the deadline has passed.
fn next_wait(deadline: &Deadline, now: Instant, what: impl FnOnce() -> String) -> Result<Duration> {
    let Some(remaining) = deadline.left(now) else { return Ok(MAX_WAIT) };
    if remaining.is_zero() {
        let timeout = deadline.timeout().unwrap_or_default();
        return Err(Error::Timeout { what: format!("{} after {timeout:?}", what()) });
    }
    let wait = Duration::from_millis(u64::try_from(remaining.as_millis()).unwrap_or(u64::MAX).max(1));
    Ok(wait.min(MAX_WAIT))
}

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
    crate::shared::map_output(Flow::new(machine, &ctx.retry), |found| {
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
