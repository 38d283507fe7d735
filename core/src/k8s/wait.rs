//! Kubernetes waits: `wait_for_job` and `wait_for_job_execution_status`, both event-driven
//! with the [`Watcher`] (list, then watch from the list's resourceVersion; resume on stream end,
//! back off on failures, re-list on 410), never by polling.
//!
//! - [`job`] lists Jobs with `fieldSelector=metadata.name=<name>` and watches them until the
//!   Job's unified status is terminal (`Succeeded` or `Failed`); returns the Job. A Job that does
//!   not exist, or is deleted while waiting, is [`Error::NotFound`].
//! - [`execution_status`] reads the Job (for its uid; a Job that does not exist is
//!   [`Error::NotFound`]), then lists pods with `labelSelector=job-name=<job>` and watches them
//!   until one pod *of that Job* (see [`PodObject::belongs_to`]: not the orphans of an earlier
//!   job of the same name) is in one of `statuses`; returns that pod as an [`Execution`] (the
//!   newest one when a list holds several). No pod yet is fine: the job controller creates them.
//!   The Job being deleted ends the wait with [`Error::NotFound`]: the Job is read again when
//!   one of its pods is `DELETED` (background propagation deletes them once the Job is gone)
//!   and before every resumed watch (orphaning deletes leave the pods, so no event says it; the
//!   server ends each watch after `timeoutSeconds`). A Job that is gone, carries a
//!   `deletionTimestamp` or has another uid (deleted and created again) was deleted.
//!
//! Both finish with [`Error::Timeout`] when `timeout` passes (`None` waits as long as it takes).

use std::convert::Infallible;
use std::time::{Duration, Instant};

use super::execution::{PodObject, JOB_NAME_LABEL};
use super::job::JobObject;
use super::watcher::{Until, Update, WatchTarget, Watcher};
use super::{name, Context};
use crate::deadline::{Deadline, Io};
use crate::error::{ApiError, Error, Result};
use crate::model::{Execution, Job, Status};
use crate::op::Checked;
use crate::op::{Exchange, ExchangeStep};
use crate::retry::Retry;
use crate::step::{Event, Operation, Request, Step};

pub(crate) fn job_not_found(namespace: &str, name: &str, while_waiting: bool) -> Error {
    let message = if while_waiting {
        format!("job {namespace}/{name} was deleted while waiting for it to finish")
    } else {
        format!("jobs.batch {name:?} not found in namespace {namespace:?}")
    };
    Error::NotFound(ApiError { status: 404, reason: Some("NotFound".into()), message, ..ApiError::default() })
}

/// The watch that [`job`] runs.
pub fn job_params(namespace: &str, name: &str) -> WatchTarget {
    WatchTarget::new(super::job::collection(namespace), format!("job {namespace}/{name} to finish"))
        .fields(format!("metadata.name={name}"))
}

/// The watch that [`execution_status`] runs.
pub fn execution_params(namespace: &str, job: &str, statuses: &[Status]) -> WatchTarget {
    WatchTarget::new(
        super::execution::collection(namespace),
        format!("an execution of job {namespace}/{job} to be {statuses:?}"),
    )
    .labels(format!("{JOB_NAME_LABEL}={job}"))
}

/// `wait_for_job`: wait until Job `name` has finished; returns it.
///
/// ```
/// use clustermanager_core::{k8s, Operation, Step};
/// let mut op = k8s::wait::job(&k8s::Context::default(), "acm-run", "printer", None);
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { panic!() };
/// assert_eq!(req.uri(), "/apis/batch/v1/namespaces/acm-run/jobs?fieldSelector=metadata.name%3Dprinter");
/// ```
pub fn job(
    ctx: &Context,
    namespace: &str,
    name: &str,
    timeout: Option<Duration>,
) -> impl Operation<Output = Job, Item = Infallible> + Send + 'static {
    let checked = name::label("namespace", namespace).and_then(|()| name::label("job name", name));
    let (ns, job_name) = (namespace.to_owned(), name.to_owned());
    let op = checked.map(|()| {
        let watcher = Watcher::<JobObject>::new(job_params(namespace, name), &ctx.retry, timeout);
        let judge = move |update: Update<JobObject>| -> Option<Result<Job>> {
            let job = match update {
                Update::Listed(items) => match items.into_iter().find(|j| j.metadata.name == job_name) {
                    Some(job) => job,
                    None => return Some(Err(job_not_found(&ns, &job_name, false))),
                },
                Update::Added(job) | Update::Modified(job) => job,
                Update::Deleted(_) => return Some(Err(job_not_found(&ns, &job_name, true))),
            };
            let job = job.into_job();
            job.status.is_some_and(Status::is_terminal).then_some(Ok(job))
        };
        Until::new(watcher, judge)
    });
    Checked::from(op)
}

/// `wait_for_job_execution_status`: wait until a pod of Job `job` is in one of `statuses`;
/// returns it.
///
/// ```
/// use clustermanager_core::{k8s, Operation, Status, Step};
/// let mut op = k8s::wait::execution_status(&k8s::Context::default(), "acm-run", "printer", &[Status::Running], None);
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { panic!() };
/// assert_eq!(req.uri(), "/apis/batch/v1/namespaces/acm-run/jobs/printer");
/// ```
pub fn execution_status(
    ctx: &Context,
    namespace: &str,
    job: &str,
    statuses: &[Status],
    timeout: Option<Duration>,
) -> impl Operation<Output = Execution, Item = Infallible> + Send + 'static {
    let checked = name::label("namespace", namespace).and_then(|()| name::label("job name", job)).and_then(|()| {
        if statuses.is_empty() {
            Err(Error::InvalidInput {
                field: "statuses".into(),
                problem: "is empty: give the statuses to wait for (e.g. [Status::Running])".into(),
            })
        } else {
            Ok(())
        }
    });
    let op = checked.and_then(|()| super::execution::job_request(namespace, job)).map(|req| ExecutionWait {
        state: ExecState::Job(Box::new(Exchange::send(req, &ctx.retry).within(Deadline::new(timeout)))),
        deadline: Deadline::new(timeout),
        params: execution_params(namespace, job, statuses),
        namespace: namespace.to_owned(),
        job: job.to_owned(),
        wanted: statuses.to_vec(),
        retry: ctx.retry.clone(),
        uid: String::new(),
        fresh: true,
    });
    Checked::from(op)
}

enum ExecState {
    /// Reading the Job for its uid.
    Job(Box<Exchange>),
    /// Watching its pods.
    Watch(Box<Watcher<PodObject>>),
    /// Reading the Job again to learn whether it still exists; the watch (and the watch request
    /// it was about to open, if any) waits meanwhile.
    Recheck(Box<Exchange>, Box<Watcher<PodObject>>, Option<Box<(Request, Io)>>),
    Done,
}

/// The operation of [`execution_status`].
pub struct ExecutionWait {
    state: ExecState,
    params: WatchTarget,
    namespace: String,
    job: String,
    wanted: Vec<Status>,
    retry: Retry,
    /// The caller's deadline, from the first poll: it bounds the Job reads and the watch.
    deadline: Deadline,
    /// The Job's uid: only the pods it controls count.
    uid: String,
    /// The Job was read since the last watch was opened: the next open needs no re-read.
    fresh: bool,
}

impl std::fmt::Debug for ExecutionWait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutionWait").field("what", &self.params.what).field("uid", &self.uid).finish()
    }
}

impl ExecutionWait {
    fn finish(&mut self, result: Result<Execution>) -> Step<Execution> {
        self.state = ExecState::Done;
        Step::Done(result)
    }

    fn wanted(&self, pod: &PodObject) -> bool {
        pod.belongs_to(&self.uid) && self.wanted.contains(&super::execution::status_of_phase(&pod.status.phase))
    }

    /// Read the Job again (while the watch waits), then go on with `watcher` or finish.
    fn recheck(&mut self, watcher: Box<Watcher<PodObject>>, open: Option<(Request, Io)>) -> Option<Step<Execution>> {
        let req = match super::execution::job_request(&self.namespace, &self.job) {
            Ok(req) => req,
            Err(e) => return Some(self.finish(Err(e))),
        };
        tracing::debug!(what = %self.params.what, "checking that the job still exists");
        let exchange = Exchange::send(req, &self.retry).within(self.deadline);
        self.state = ExecState::Recheck(Box::new(exchange), watcher, open.map(Box::new));
        None
    }

    /// What an update of the pods means: `Some` to finish.
    fn judge(&mut self, update: Update<PodObject>) -> Option<Result<Execution>> {
        match update {
            // several (a job that retried, parallel pods): the newest one
            Update::Listed(pods) => pods
                .into_iter()
                .filter(|p| self.wanted(p))
                .max_by(|a, b| a.metadata.creation_timestamp.cmp(&b.metadata.creation_timestamp))
                .map(|p| Ok(p.into_execution())),
            Update::Added(pod) | Update::Modified(pod) if self.wanted(&pod) => Some(Ok(pod.into_execution())),
            Update::Added(_) | Update::Modified(_) | Update::Deleted(_) => None,
        }
    }
}

impl Operation for ExecutionWait {
    type Output = Execution;
    type Item = Infallible;

    fn poll(&mut self, now: Instant) -> Step<Execution> {
        // the Job read's exchange starts its copy of the deadline at the same first poll
        self.deadline.start(now);
        loop {
            match &mut self.state {
                ExecState::Done => return Step::Done(Err(Error::protocol("wait polled after it finished"))),
                ExecState::Job(ex) => match ex.poll(now) {
                    ExchangeStep::Send(req, io) => return Step::Send(req, io),
                    ExchangeStep::WaitUntil(at) => return Step::WaitUntil(at),
                    ExchangeStep::Done(result) => match super::execution::job_uid(result) {
                        Ok(Some(uid)) => {
                            self.uid = uid;
                            // the deadline counts from the first poll, the Job read included
                            let watcher = Watcher::within(self.params.clone(), &self.retry, self.deadline);
                            self.state = ExecState::Watch(Box::new(watcher));
                        }
                        Ok(None) => {
                            let err = job_not_found(&self.namespace, &self.job, false);
                            return self.finish(Err(err));
                        }
                        Err(e) => return self.finish(Err(e)),
                    },
                },
                ExecState::Watch(w) => match w.poll(now).into_step() {
                    // a resumed (or re-listed and re-opened) watch: has the Job gone meanwhile?
                    Ok(Step::Open(req, io)) if !self.fresh => {
                        let ExecState::Watch(w) = std::mem::replace(&mut self.state, ExecState::Done) else {
                            return self.finish(Err(Error::protocol("execution wait lost its watch")));
                        };
                        if let Some(step) = self.recheck(w, Some((req, io))) {
                            return step;
                        }
                    }
                    Ok(step) => {
                        match step {
                            Step::Done(_) => self.state = ExecState::Done,
                            Step::Open(..) => self.fresh = false,
                            _ => {}
                        }
                        return step;
                    }
                    Err(Update::Deleted(pod)) if pod.belongs_to(&self.uid) => {
                        let ExecState::Watch(w) = std::mem::replace(&mut self.state, ExecState::Done) else {
                            return self.finish(Err(Error::protocol("execution wait lost its watch")));
                        };
                        if let Some(step) = self.recheck(w, None) {
                            return step;
                        }
                    }
                    Err(update) => {
                        if let Some(result) = self.judge(update) {
                            return self.finish(result);
                        }
                    }
                },
                ExecState::Recheck(ex, _, _) => match ex.poll(now) {
                    ExchangeStep::Send(req, io) => return Step::Send(req, io),
                    ExchangeStep::WaitUntil(at) => return Step::WaitUntil(at),
                    ExchangeStep::Done(result) => {
                        let ExecState::Recheck(_, watcher, open) = std::mem::replace(&mut self.state, ExecState::Done)
                        else {
                            return self.finish(Err(Error::protocol("execution wait lost its watch")));
                        };
                        if self.deadline.passed(now) {
                            let err = self.deadline.timed_out(&self.params.what);
                            return self.finish(Err(err));
                        }
                        match super::execution::job_meta(result) {
                            Ok(Some(job)) if job.uid == self.uid && job.deletion_timestamp.is_none() => {}
                            Ok(_) => {
                                let err = job_not_found(&self.namespace, &self.job, true);
                                return self.finish(Err(err));
                            }
                            // could not tell (the server is briefly unavailable): go on watching
                            Err(e) if super::watcher::resumable(&e) => {
                                tracing::debug!(error = %e, "could not read the job; watching on");
                            }
                            Err(e) => return self.finish(Err(e)),
                        }
                        self.state = ExecState::Watch(watcher);
                        if let Some(open) = open {
                            self.fresh = false;
                            let (req, io) = *open;
                            return Step::Open(req, self.deadline.bound(io));
                        }
                        self.fresh = true;
                    }
                },
            }
        }
    }

    fn handle(&mut self, event: Event) {
        match &mut self.state {
            ExecState::Job(ex) | ExecState::Recheck(ex, _, _) => ex.handle(event),
            ExecState::Watch(w) => w.handle(event),
            ExecState::Done => {}
        }
    }
}
