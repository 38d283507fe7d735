//! The waits for a job to finish, and what they say while they wait: [`WaitOptions`] (timeout,
//! startup deadlines, progress), `wait_for_job` / `wait_for_job_with`, and `diagnose_job`, the
//! one look at why a job is not progressing that `get_job` and the waits share.
//!
//! A wait learns that its job finished from the namespace's shared observation (a watch, or a
//! chain of blocking queries: see [`crate::shared`]). Beside it, while no execution of the job
//! has started, it looks at why ([`Diagnosis`]): the pods of the job on Kubernetes, the latest
//! evaluation and the allocations on Nomad. Those looks are paced: the first after
//! [`FIRST_LOOK`], then doubling up to [`LOOK_MAX`] (back to [`FIRST_LOOK`] when the reason
//! changes), each bounded by the wait's deadline; they stop once an execution has started with
//! nothing wrong. A job that finishes within [`FIRST_LOOK`] costs no look at all.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::dispatch::k8s_namespace;
use super::{Backend, ClusterManager};
use crate::deadline::Deadline;
use crate::error::{Error, Result};
use crate::looks::{Limits, Looks};
use crate::model::{Execution, Job, Status};
use crate::op::within;
use crate::reason::{Diagnosis, Progress, Reason, ReasonKind};
use crate::shared::board::{Read, Want};
use crate::shared::observed::Observation;
use crate::shared::room::{first, Ended, First};
use crate::transport::Transport;
use crate::{k8s, nomad};

/// How long `deploy_wait_available` waits by default (the seed's 60 s).
pub const AVAILABLE_TIMEOUT: Duration = Duration::from_secs(60);
pub use crate::looks::{FIRST_LOOK, LOOK_MAX};
/// The default [`WaitOptions::stuck_deadline`].
pub const DEFAULT_STUCK_DEADLINE: Duration = Duration::from_secs(300);

type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// How a wait for a job waits. `WaitOptions::default()` is what [`ClusterManager::wait_for_job`]
/// uses with its timeout:
///
/// - **Permanent reasons end the wait at once** ([`fail_fast`](Self::fail_fast), on by default)
///   with [`Error::CannotRun`]: an invalid image name, a task configuration the driver rejects,
///   a driver no node offers (see [`Reason::permanent`]).
/// - **A job stuck for another reason** the server names (an image that cannot be pulled, a
///   missing ConfigMap, no node meeting its constraints, ...) ends the wait with
///   [`Error::CannotRun`] once no execution has started within
///   [`stuck_deadline`](Self::stuck_deadline), 5 minutes by default. Jobs that only wait for
///   room (not enough free CPU or memory, a quota used up) are not cut by it: batch work queues
///   for capacity, often for longer than minutes, and it will run when room frees up.
/// - **A strict startup deadline** ([`startup_deadline`](Self::startup_deadline), off by
///   default) ends the wait once no execution has started within it, whatever the reason
///   (Airflow's pod operator does this after 120 s).
///
/// The default is 5 minutes rather than Airflow's 120 s because a first pull of a large image on
/// a cold node takes minutes and is reported as progress, not as a failure; and it leaves out
/// capacity waits because the seed's users start hundreds of jobs on clusters that run tens at a
/// time. The seed waited silently; these waits also report every change
/// ([`on_progress`](Self::on_progress), and a `tracing` event at INFO).
#[derive(Clone)]
pub struct WaitOptions {
    timeout: Option<Duration>,
    startup_deadline: Option<Duration>,
    stuck_deadline: Option<Duration>,
    fail_fast: bool,
    progress: Option<ProgressFn>,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            timeout: None,
            startup_deadline: None,
            stuck_deadline: Some(DEFAULT_STUCK_DEADLINE),
            fail_fast: true,
            progress: None,
        }
    }
}

impl std::fmt::Debug for WaitOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitOptions")
            .field("timeout", &self.timeout)
            .field("startup_deadline", &self.startup_deadline)
            .field("stuck_deadline", &self.stuck_deadline)
            .field("fail_fast", &self.fail_fast)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl WaitOptions {
    /// How long `deploy_wait_available` and the other workload waits wait by default (the
    /// seed's 60 s).
    pub const AVAILABLE_TIMEOUT: Duration = AVAILABLE_TIMEOUT;
    /// The first look at why a job is not progressing comes this long after the wait began (a
    /// job that finishes sooner costs no look at all).
    pub const FIRST_LOOK: Duration = FIRST_LOOK;
    /// The longest pause between two looks (they double from [`FIRST_LOOK`](Self::FIRST_LOOK)).
    pub const LOOK_MAX: Duration = LOOK_MAX;
    /// The default [`stuck_deadline`](Self::stuck_deadline).
    pub const DEFAULT_STUCK_DEADLINE: Duration = DEFAULT_STUCK_DEADLINE;

    /// The defaults (see the type's docs).
    pub fn new() -> Self {
        WaitOptions::default()
    }

    /// Give up with [`Error::Timeout`] (naming the last state and reason seen) after `timeout`;
    /// `None` waits as long as it takes.
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// End with [`Error::CannotRun`] when no execution has started within `deadline` of the
    /// wait's start, whatever the reason (`None`, the default: no such deadline).
    pub fn startup_deadline(mut self, deadline: Option<Duration>) -> Self {
        self.startup_deadline = deadline;
        self
    }

    /// End with [`Error::CannotRun`] when no execution has started within `deadline` and the
    /// server says the job is stuck for a reason other than waiting for room (default 5
    /// minutes; `None` turns it off).
    pub fn stuck_deadline(mut self, deadline: Option<Duration>) -> Self {
        self.stuck_deadline = deadline;
        self
    }

    /// Whether a permanent reason ends the wait at once (default `true`).
    pub fn fail_fast(mut self, fail_fast: bool) -> Self {
        self.fail_fast = fail_fast;
        self
    }

    /// Call `f` with each thing the wait sees happen (reasons, the first start, the end). It is
    /// called from the waiting task: keep it short (print, log, send on a channel).
    pub fn on_progress(mut self, f: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }

    /// Call the progress callback, if one is set.
    pub(crate) fn report(&self, p: &Progress) {
        if let Some(f) = &self.progress {
            f(p);
        }
    }

    /// The looks of a wait for `job` that began at `began`, under these options.
    fn looks(&self, job: &str, began: Instant) -> Looks {
        let limits = Limits {
            fail_fast: self.fail_fast,
            startup_deadline: self.startup_deadline,
            stuck_deadline: self.stuck_deadline,
        };
        Looks::new(job, limits, began)
    }
}

/// What a wait's looks look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subject {
    /// A batch job (its pods by `job-name`; on Nomad its evaluations and allocations).
    Job,
    /// A Deployment or StatefulSet (its pods by its selector, read from it at the first look;
    /// on Nomad the service job, as a job).
    Workload(crate::workload::WorkloadKind),
}

/// One wait's reporting of progress.
struct Reporter<'a> {
    namespace: &'a str,
    job: &'a str,
    progress: Option<&'a ProgressFn>,
}

impl Reporter<'_> {
    fn report(&self, p: Progress) {
        tracing::info!(namespace = %self.namespace, job = %self.job, progress = %p, "wait progress");
        if let Some(f) = self.progress {
            f(&p);
        }
    }
}

impl<T: Transport> ClusterManager<T> {
    /// Wait (watch / blocking queries, never polling) until the job has finished; returns it
    /// (also when it failed: `status` says so, and [`Job::pending_reason`] why, e.g. a
    /// Kubernetes backoff limit). [`Error::NotFound`] if the job does not exist or is deleted
    /// meanwhile; [`Error::Timeout`] after `timeout`, saying the last state and reason seen;
    /// [`Error::CannotRun`] when the job cannot start (see [`WaitOptions`]: this is
    /// [`wait_for_job_with`](Self::wait_for_job_with) with the default options).
    ///
    /// Concurrent waits on the same namespace (from this manager or its clones) share one
    /// observation of it: one list + watch of the namespace's Jobs on
    /// Kubernetes, one chain of blocking job-list queries on Nomad, however many jobs are waited
    /// for. A wait that joins a running observation reads its job once; a wait on its own costs
    /// what it did before (a list and a watch; Nomad: the blocking queries and one read of the
    /// finished job), plus the paced looks at why while its job has not started (module docs).
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport>(cm: &ClusterManager<T>) -> Result<()> {
    /// let job = cm.wait_for_job("batch", "hello", Some(Duration::from_secs(600))).await?;
    /// if job.status == Some(Status::Failed) {
    ///     eprintln!("{} failed: {}", job.name, job.raw_status);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn wait_for_job(&self, namespace: &str, name: &str, timeout: Option<Duration>) -> Result<Job> {
        self.wait_for_job_with(namespace, name, &WaitOptions::new().timeout(timeout)).await
    }

    /// [`wait_for_job`](Self::wait_for_job) with [`WaitOptions`]: deadlines for starting, and
    /// progress as it happens.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport>(cm: &ClusterManager<T>) -> Result<()> {
    /// let options = WaitOptions::new()
    ///     .timeout(Some(Duration::from_secs(600)))
    ///     .startup_deadline(Some(Duration::from_secs(120)))
    ///     .on_progress(|p| println!("{p}"));
    /// match cm.wait_for_job_with("batch", "hello", &options).await {
    ///     Ok(job) => println!("finished: {:?}", job.status),
    ///     Err(Error::CannotRun { reason, .. }) => eprintln!("cannot run: {reason}"),
    ///     Err(other) => return Err(other),
    /// }
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %name))]
    pub async fn wait_for_job_with(&self, namespace: &str, name: &str, options: &WaitOptions) -> Result<Job> {
        let (began, deadline) = self.started(options.timeout);
        let mut looks = options.looks(name, began);
        let ns = self.server_namespace(namespace);
        let reporter = Reporter { namespace: &ns, job: name, progress: options.progress.as_ref() };
        let ended = first(
            self.shared_wait(namespace, name, options.timeout),
            self.watch_reasons(Subject::Job, namespace, name, &mut looks, deadline, &reporter),
        )
        .await;
        let last_reason = looks.reason().cloned();
        match ended {
            First::B(err) => Err(err),
            First::A(ended) => match ended? {
                Ended::Finished(mut job) => {
                    if job.pending_reason.is_none() && job.status == Some(Status::Failed) {
                        job.pending_reason = last_reason;
                    }
                    let job = self.with_end(namespace, name, job).await;
                    reporter.report(Progress::Finished { job: name.to_owned(), status: job.status });
                    Ok(job)
                }
                Ended::Gone { existed } => Err(match &self.backend {
                    Backend::Kubernetes(_) => k8s::wait::job_not_found(&ns, name, existed),
                    Backend::Nomad(_) => nomad_job_gone(&ns, name, existed),
                }),
                Ended::TimedOut(last) => {
                    let what = match &self.backend {
                        Backend::Kubernetes(_) => format!("job {ns}/{name} to finish"),
                        Backend::Nomad(_) => format!("waiting for job {name:?} to finish"),
                    };
                    Err(wait_timed_out(&what, options.timeout, last, last_reason.as_ref()))
                }
                Ended::Found(_) => Err(Error::protocol("a job wait ended with an execution")),
            },
        }
    }

    /// [`wait_for_job_execution_status`](Self::wait_for_job_execution_status) with
    /// [`WaitOptions`]: while no execution has started, the same paced looks at why as
    /// [`wait_for_job_with`](Self::wait_for_job_with) (progress reported, a permanent reason or
    /// a passed startup/stuck deadline ends the wait with [`Error::CannotRun`], a timeout names
    /// the last reason seen).
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport>(cm: &ClusterManager<T>) -> Result<()> {
    /// let options = WaitOptions::new().timeout(Some(Duration::from_secs(300)));
    /// let run = cm.wait_for_job_execution_status_with("batch", "hello", &[Status::Running], &options).await?;
    /// println!("{} is running", run.id);
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %job))]
    pub async fn wait_for_job_execution_status_with(
        &self,
        namespace: &str,
        job: &str,
        statuses: &[Status],
        options: &WaitOptions,
    ) -> Result<Execution> {
        let ns = self.server_namespace(namespace);
        let wait = async {
            match &self.backend {
                Backend::Kubernetes(c) => self.shared_pod_wait(c, &ns, job, statuses, options.timeout).await,
                Backend::Nomad(c) => self.shared_execution_wait(c, namespace, job, statuses, options.timeout).await,
            }
        };
        self.with_looks(Subject::Job, namespace, job, options, options.timeout, wait).await
    }

    /// [`wait_workload_available`](Self::wait_workload_available) with [`WaitOptions`]: while no
    /// pod of the workload has started, the same paced looks at why as
    /// [`wait_for_job_with`](Self::wait_for_job_with) — on Kubernetes at the pods its selector
    /// matches, on Nomad at the service job's evaluations and allocations — so an image that
    /// can never be pulled or a driver no node has ends the wait with [`Error::CannotRun`] at
    /// once instead of at the rollout's progress deadline, progress is reported, and a timeout
    /// names the last reason. A timeout of `None` waits
    /// [`WaitOptions::AVAILABLE_TIMEOUT`].
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use clustermanager_core::*;
    /// # async fn demo(cm: &ClusterManager) -> Result<()> {
    /// let options = WaitOptions::new().timeout(Some(Duration::from_secs(300))).on_progress(|p| println!("{p}"));
    /// match cm.wait_workload_available_with(WorkloadKind::Deployment, "web", "frontend", &options).await {
    ///     Ok(d) => println!("{} available", d.name),
    ///     Err(Error::CannotRun { reason, .. }) => eprintln!("frontend cannot run: {reason}"),
    ///     Err(other) => return Err(other),
    /// }
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %name))]
    pub async fn wait_workload_available_with(
        &self,
        kind: crate::workload::WorkloadKind,
        namespace: &str,
        name: &str,
        options: &WaitOptions,
    ) -> Result<crate::workload::Workload> {
        let timeout = Some(options.timeout.unwrap_or(AVAILABLE_TIMEOUT));
        let ns = self.server_namespace(namespace);
        let wait = async {
            match &self.backend {
                Backend::Kubernetes(c) => self.run(k8s::workload::wait_available(c, kind, &ns, name, timeout)).await,
                Backend::Nomad(c) => self.run(nomad::service::wait_available(c, namespace, name, timeout)).await,
            }
        };
        self.with_looks(Subject::Workload(kind), namespace, name, options, timeout, wait).await
    }

    /// `wait` raced against the paced looks at why `name` has not started (see
    /// [`watch_reasons`](Self::watch_reasons)): whichever ends first; a timeout of `wait`
    /// names the last reason the looks saw.
    async fn with_looks<X>(
        &self,
        subject: Subject,
        namespace: &str,
        name: &str,
        options: &WaitOptions,
        timeout: Option<Duration>,
        wait: impl Future<Output = Result<X>>,
    ) -> Result<X> {
        let (began, deadline) = self.started(timeout);
        let mut looks = options.looks(name, began);
        let ns = self.server_namespace(namespace);
        let reporter = Reporter { namespace: &ns, job: name, progress: options.progress.as_ref() };
        let ended = first(wait, self.watch_reasons(subject, namespace, name, &mut looks, deadline, &reporter)).await;
        let last_reason = looks.reason().cloned();
        match ended {
            First::B(err) => Err(err),
            First::A(Err(Error::Timeout { what })) => {
                Err(Error::Timeout { what: with_last_reason(what, last_reason.as_ref()) })
            }
            First::A(result) => result,
        }
    }

    /// A wait's start and its deadline, started now.
    fn started(&self, timeout: Option<Duration>) -> (Instant, Deadline) {
        let mut deadline = Deadline::new(timeout);
        let began = self.transport.now();
        deadline.start(began);
        (began, deadline)
    }

    /// The namespace as the server names it (the default one for an empty name).
    fn server_namespace(&self, namespace: &str) -> String {
        match &self.backend {
            Backend::Kubernetes(c) => k8s_namespace(c, namespace).to_owned(),
            Backend::Nomad(c) => nomad::query::resolve_namespace(c, namespace),
        }
    }

    /// The shared-observation half of a wait: until the job finishes, goes or the time is up.
    async fn shared_wait(&self, namespace: &str, name: &str, timeout: Option<Duration>) -> Result<Ended> {
        match &self.backend {
            Backend::Kubernetes(c) => {
                let ns = k8s_namespace(c, namespace);
                k8s::name::label("namespace", ns)?;
                k8s::name::label("job name", name)?;
                let room =
                    self.rooms.room::<T::Body, _>(&format!("k8s/{ns}"), || Box::new(k8s::shared::JobFeed::new(c, ns)));
                room.wait(&self.transport, name, Want::Finish, timeout, |d| k8s::shared::read(c, ns, name, d)).await
            }
            Backend::Nomad(c) => {
                nomad::query::validate_job_id(name)?;
                let ns = nomad::query::resolve_namespace(c, namespace);
                let room = self.rooms.room::<T::Body, _>(&format!("nomad/{ns}"), || {
                    Box::new(nomad::shared::JobsFeed::new(c, namespace))
                });
                room.wait(&self.transport, name, Want::Finish, timeout, |d| nomad::shared::read(c, namespace, name, d))
                    .await
            }
        }
    }

    /// A Nomad execution wait on the namespace's shared job list: its counts (each stub's
    /// `JobSummary`) say when an execution may be in a wanted status, and only then does the
    /// waiter look at the job's allocations ([`nomad::wait::execution_once`]); the look that
    /// finds one ends the wait.
    async fn shared_execution_wait(
        &self,
        c: &nomad::Context,
        namespace: &str,
        job: &str,
        statuses: &[Status],
        timeout: Option<Duration>,
    ) -> Result<Execution> {
        nomad::query::validate_job_id(job)?;
        check_statuses(statuses)?;
        let ns = nomad::query::resolve_namespace(c, namespace);
        let room = self
            .rooms
            .room::<T::Body, _>(&format!("nomad/{ns}"), || Box::new(nomad::shared::JobsFeed::new(c, namespace)));
        let read = |d| nomad::shared::read_executions(c, namespace, job, statuses, d);
        let ended = self.executions_in(&room, job, statuses, timeout, read).await?;
        ended.map_err(|gone| match gone {
            Ended::Gone { existed } => nomad_job_gone(&ns, job, existed),
            _ => Error::Timeout { what: format!("waiting for an execution of job {job:?} in {statuses:?}") },
        })
    }

    /// A Kubernetes execution wait on the namespace's shared pod watch ([`k8s::shared::PodFeed`]):
    /// the waiter looks at its Job and pods ([`k8s::execution::look`]) when it joins, and again
    /// when a pod of its Job enters a wanted status or is deleted; the look that finds one ends
    /// the wait (the newest such pod).
    async fn shared_pod_wait(
        &self,
        c: &k8s::Context,
        ns: &str,
        job: &str,
        statuses: &[Status],
        timeout: Option<Duration>,
    ) -> Result<Execution> {
        k8s::name::label("namespace", ns)?;
        k8s::name::label("job name", job)?;
        check_statuses(statuses)?;
        let room =
            self.rooms.room::<T::Body, _>(&format!("k8s-pods/{ns}"), || Box::new(k8s::shared::PodFeed::new(c, ns)));
        let read = |d| k8s::shared::read_executions(c, ns, job, statuses, d);
        let ended = self.executions_in(&room, job, statuses, timeout, read).await?;
        ended.map_err(|gone| match gone {
            Ended::Gone { existed } => k8s::wait::job_not_found(ns, job, existed),
            _ => Error::Timeout { what: format!("an execution of job {ns}/{job} to be {statuses:?}") },
        })
    }

    /// An execution waiter in `room`: `Ok(Ok(execution))` once a look (`read`) found one,
    /// `Ok(Err(ended))` when the job went or the time is up.
    async fn executions_in<O: Observation>(
        &self,
        room: &crate::shared::room::Room<T::Body, O>,
        job: &str,
        statuses: &[Status],
        timeout: Option<Duration>,
        read: impl Fn(Deadline) -> crate::step::BoxOperation<Read<O::Item>, std::convert::Infallible>,
    ) -> Result<std::result::Result<Execution, Ended>> {
        let want = Want::Executions(statuses.to_vec());
        match room.wait(&self.transport, job, want, timeout, read).await? {
            Ended::Found(execution) => Ok(Ok(execution)),
            Ended::Finished(_) => Err(Error::protocol("the shared execution wait ended without an execution")),
            other => Ok(Err(other)),
        }
    }

    /// The other half: the paced looks at why the job has not started ([`Looks`]), until one
    /// ends the wait (returned as the error it ends with) or the job started with nothing wrong
    /// (then it waits for ever, and the shared half ends the wait).
    async fn watch_reasons(
        &self,
        subject: Subject,
        namespace: &str,
        name: &str,
        looks: &mut Looks,
        deadline: Deadline,
        reporter: &Reporter<'_>,
    ) -> Error {
        // a Kubernetes workload's pod selector, read from it at the first look
        let selector = Mutex::new(None::<String>);
        while let Some(at) = looks.next() {
            let now = self.transport.now();
            let pause = at.saturating_duration_since(now).max(Duration::from_millis(1));
            self.transport.sleep(deadline.clamp(now, pause)).await;
            if deadline.passed(self.transport.now()) {
                break;
            }
            let look = match subject {
                Subject::Job => self.diagnose_within(namespace, name, deadline).await,
                Subject::Workload(kind) => self.diagnose_workload(kind, namespace, name, &selector, deadline).await,
            };
            if let Err(gone @ Error::NotFound(_)) = look {
                // the job is gone (a look that finds no job ends the wait, as a deletion does)
                return gone;
            }
            let looked = looks.looked(self.transport.now(), look);
            for p in looked.progress {
                reporter.report(p);
            }
            if let Some(reason) = looked.cannot_run {
                return Error::CannotRun { job: format!("{}/{name}", reporter.namespace), reason };
            }
        }
        std::future::pending().await
    }

    /// One look at a workload: on Kubernetes its pods by its selector (the workload is read at
    /// the first look for it), on Nomad its service job as a job.
    async fn diagnose_workload(
        &self,
        kind: crate::workload::WorkloadKind,
        namespace: &str,
        name: &str,
        selector: &Mutex<Option<String>>,
        deadline: Deadline,
    ) -> Result<Diagnosis> {
        let Backend::Kubernetes(c) = &self.backend else {
            return self.diagnose_within(namespace, name, deadline).await;
        };
        let ns = k8s_namespace(c, namespace);
        let what = || format!("looking at why {name:?} is not available");
        let known = selector.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let pods = match known {
            Some(pods) => pods,
            None => {
                let workload = self.run(within(k8s::workload::get(c, kind, ns, name), deadline, what())).await?;
                let pods = k8s::workload::pod_selector(&workload)?;
                *selector.lock().unwrap_or_else(PoisonError::into_inner) = Some(pods.clone());
                pods
            }
        };
        self.run(within(k8s::reason::probe_selector(c, ns, &pods), deadline, what())).await
    }

    async fn diagnose_within(&self, namespace: &str, name: &str, deadline: Deadline) -> Result<Diagnosis> {
        let what = || format!("looking at why job {name:?} has not started");
        match &self.backend {
            Backend::Kubernetes(c) => {
                let ns = k8s_namespace(c, namespace);
                let mut d = self.run(within(k8s::reason::probe(c, ns, name), deadline, what())).await?;
                if d.reason.is_none() && d.executions == 0 {
                    // No pod at all, so no pod event will tell a waiter if the Job goes: is it
                    // still there? (A Job's events outlive it.)
                    let job = self.run(within(k8s::job::get(c, ns, name), deadline, what())).await;
                    if matches!(job, Err(Error::NotFound(_))) {
                        return Err(k8s::wait::job_not_found(ns, name, true));
                    }
                    // then the job controller's events say why (a quota, a LimitRange)
                    d.reason = self.run(within(k8s::reason::job_events(c, ns, name), deadline, what())).await?;
                }
                Ok(d)
            }
            Backend::Nomad(c) => {
                let evals = self.run(within(nomad::reason::evaluations(c, namespace, name), deadline, what())).await?;
                let mut placement = nomad::reason::of_evaluations(&evals, &[]);
                if placement.as_ref().is_some_and(nomad::reason::needs_drivers) {
                    let drivers =
                        self.run(within(nomad::reason::drivers(c, namespace, name), deadline, what())).await?;
                    placement = nomad::reason::of_evaluations(&evals, &drivers);
                }
                let mut d = self.run(within(nomad::reason::allocations(c, namespace, name), deadline, what())).await?;
                if placement.is_some() {
                    d.reason = placement;
                }
                Ok(d)
            }
        }
    }

    /// Why the job has no running or finished execution, if the server says, and whether any
    /// has started: one read of its pods (Kubernetes; and of the Job's events when it has no pod
    /// at all), or of its evaluations and allocations (Nomad; and of the job, to name a missing
    /// driver). `get_job` and the waits use it.
    ///
    /// ```no_run
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport>(cm: &ClusterManager<T>) -> Result<()> {
    /// if let Some(reason) = cm.diagnose_job("batch", "hello").await?.reason {
    ///     eprintln!("hello is stuck: {reason}");
    /// }
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %name))]
    pub async fn diagnose_job(&self, namespace: &str, name: &str) -> Result<Diagnosis> {
        self.diagnose_within(namespace, name, Deadline::new(None)).await
    }

    /// Fill in how a finished job ended ([`Job::exit_code`], and for a failed job without a
    /// reason, the failed task's): 0 for a succeeded job; for a failed one, read from its newest
    /// failed execution. A read that fails leaves them empty (`get_job` and the waits do not fail
    /// for it).
    pub(crate) async fn with_end(&self, namespace: &str, name: &str, mut job: Job) -> Job {
        let Some(status) = job.status.filter(|s| s.is_terminal()) else { return job };
        if job.exit_code.is_some() {
            return job;
        }
        if status == Status::Succeeded {
            // a succeeded execution's tasks exited 0 (Kubernetes `Complete`, Nomad `complete`):
            // no read, so a thousand successful waits cost no more than before
            job.exit_code = Some(0);
            return job;
        }
        let executions = match self.list_job_executions(namespace, name).await {
            Ok(executions) => executions,
            Err(err) => {
                tracing::debug!(job = %job.name, error = %err, "could not read how the job ended");
                return job;
            }
        };
        let Some(last) =
            executions.into_iter().filter(|e| e.status == Some(status)).max_by(|a, b| a.created.cmp(&b.created))
        else {
            return job;
        };
        let failed = status == Status::Failed;
        let task = last
            .tasks
            .iter()
            .find(|t| !failed || t.failed || t.exit_code.is_some_and(|c| c != 0))
            .or_else(|| last.tasks.first());
        let Some(task) = task else { return job };
        job.exit_code = task.exit_code;
        if failed && job.pending_reason.is_none() {
            let code = task.exit_code.map(|c| format!(" with exit code {c}")).unwrap_or_default();
            let why = task.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
            let message = format!("{} of execution {} failed{code}{why}", task.name, last.id);
            job.pending_reason = Some(Reason::new(ReasonKind::TaskFailed, message, true, "execution task state"));
        }
        job
    }

    /// Fill in `job.pending_reason` when it has not finished and no reason is known yet (a look
    /// that fails leaves it empty: `get_job` does not fail for it).
    pub(crate) async fn with_reason(&self, namespace: &str, name: &str, mut job: Job) -> Job {
        let looks = match job.status {
            Some(s) if s.is_terminal() => false,
            _ => match &self.backend {
                Backend::Kubernetes(_) => true,
                Backend::Nomad(_) => job.raw_status == "pending" || job.pending > 0,
            },
        };
        if looks && job.pending_reason.is_none() {
            match self.diagnose_job(namespace, name).await {
                Ok(d) => job.pending_reason = d.reason,
                Err(err) => tracing::debug!(job = %job.name, error = %err, "could not tell why the job is pending"),
            }
        }
        job
    }
}

/// The [`Error::Timeout`] of a wait for `what`, with the last state seen of the job.
fn wait_timed_out(what: &str, timeout: Option<Duration>, last: Option<Job>, reason: Option<&Reason>) -> Error {
    let within = timeout.map(|t| format!(" within {t:?}")).unwrap_or_default();
    let last = match last {
        Some(job) => format!(
            " (last seen: {}, {} active, {} succeeded, {} failed)",
            job.raw_status, job.active, job.succeeded, job.failed
        ),
        None => String::new(),
    };
    Error::Timeout { what: with_last_reason(format!("{what}{within}{last}"), reason) }
}

/// An execution wait needs at least one status to wait for.
fn check_statuses(statuses: &[Status]) -> Result<()> {
    if statuses.is_empty() {
        return Err(Error::InvalidInput {
            field: "statuses".into(),
            problem: "is empty: give the statuses to wait for (e.g. [Status::Running])".into(),
        });
    }
    Ok(())
}

/// A timeout's text with the last reason seen, capped.
fn with_last_reason(what: String, reason: Option<&Reason>) -> String {
    let what = match reason {
        Some(r) => format!("{what}; last reason: {r}"),
        None => what,
    };
    crate::error::cap(what, crate::error::MAX_MESSAGE)
}

/// A Nomad job that is not there (or was purged while waiting for it).
fn nomad_job_gone(namespace: &str, name: &str, existed: bool) -> Error {
    let message = if existed {
        format!("job {name:?} in namespace {namespace:?} was purged while waiting for it")
    } else {
        format!("job not found (job {name:?} in namespace {namespace:?})")
    };
    Error::NotFound(crate::error::ApiError { status: 404, message, ..crate::error::ApiError::default() })
}
