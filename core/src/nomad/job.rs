//! Nomad: create_job, list_jobs, get_job, delete_job, cleanup_jobs.
//!
//! A job's unified status needs three reads (`/v1/job/{id}`, its `/summary` and its
//! `/allocations`); the mapping is in [`status`](super::status). Job IDs are percent-encoded in
//! paths (dispatched jobs have a `/` in their ID). In [`NamespaceMode::Prefix`] job IDs are
//! `{namespace}-{name}` and lists filter with `?prefix=`; the names returned drop the prefix.
//!
//! Nomad jobs have no start or completion time of their own: [`Job::start_time`] is the
//! job's `SubmitTime` and [`Job::completion_time`], once the job is finished, the last change
//! (`ModifyTime`) of its allocations. `version` is the job's `ModifyIndex`.
//!
//! A job registered again under the same ID keeps the allocations of its earlier versions (and
//! its summary counts them all): a job's status and counts come from the allocations of its
//! current run only — those of its current `Version` (for a stopped job, whose stop bumped the
//! version, those of the latest version that has any), without the allocations a reschedule
//! replaced.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::blocking::{Blocking, JobQuery};
use super::execution::{current_run, parse_stubs, AllocStub};
use super::query::{encode_segment, index_of, job_id, job_name, resolve_namespace, server_namespace, Query};
use super::status::{is_terminal_allocation, job_status, rfc3339_from_nanos, AllocView, Counts};
use super::{check, decode, Context, NamespaceMode};
use crate::error::{Error, Result};
use crate::model::{DeleteOptions, Job, JobSpec};
use crate::op::{answer, Flow, Machine, Next};
use crate::raw::{Keeps, Raw};
use crate::step::{Operation, Request, Response};

/// How long `delete_job` with `wait` waits for the job (and its allocations) to be gone: the
/// same bound as on Kubernetes ([`crate::k8s::job::DELETE_WAIT_TIMEOUT`], 5 minutes), so one
/// program behaves alike on both backends.
pub const DELETE_WAIT_TIMEOUT: Duration = crate::k8s::job::DELETE_WAIT_TIMEOUT;

/// The fields of a Nomad job (full object or list stub) that [`Job`] needs.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct JobBody {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub stop: bool,
    #[serde(default)]
    pub meta: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub submit_time: i64,
    #[serde(default)]
    pub modify_index: u64,
    /// The job's version (bumped by every change of its spec, stopping included).
    #[serde(default)]
    pub version: u64,
    /// Only in list stubs.
    #[serde(default)]
    pub job_summary: Option<SummaryBody>,
}

/// `/v1/job/{id}/summary` (also embedded in list stubs).
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SummaryBody {
    #[serde(default)]
    pub summary: Option<BTreeMap<String, GroupSummary>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GroupSummary {
    #[serde(default)]
    queued: u32,
    #[serde(default)]
    complete: u32,
    #[serde(default)]
    failed: u32,
    #[serde(default)]
    running: u32,
    #[serde(default)]
    starting: u32,
    #[serde(default)]
    lost: u32,
}

impl SummaryBody {
    /// The counts summed over task groups.
    pub fn counts(&self) -> Counts {
        self.summary.iter().flatten().fold(Counts::default(), |c, (_, g)| Counts {
            queued: c.queued + g.queued,
            starting: c.starting + g.starting,
            running: c.running + g.running,
            complete: c.complete + g.complete,
            failed: c.failed + g.failed,
            lost: c.lost + g.lost,
        })
    }
}

/// Build the unified [`Job`] from what Nomad said. With `allocations`, the status and counts
/// come from the allocations of the job's current run ([`current_run`]): the summary counts
/// every version of a job registered again under the same ID. Without them (list stubs), or
/// when the current run has none (garbage-collected), from the summary.
pub(crate) fn build_job(
    ctx: &Context,
    namespace: &str,
    job: JobBody,
    summary: Option<&SummaryBody>,
    allocations: Option<&[AllocStub]>,
) -> Job {
    let summary_counts = summary.or(job.job_summary.as_ref()).map(SummaryBody::counts).unwrap_or_default();
    let current = allocations.map(|a| current_run(job.version, job.stop, a));
    let views: Option<Vec<AllocView<'_>>> = current.as_ref().map(|a| a.iter().map(|a| a.view()).collect());
    let counts = match &views {
        Some(views) if !views.is_empty() => {
            let count = |status: &str| {
                views.iter().filter(|a| a.client_status == status).count().try_into().unwrap_or(u32::MAX)
            };
            Counts {
                queued: summary_counts.queued,
                starting: count("pending"),
                running: count("running"),
                complete: count("complete"),
                failed: count("failed"),
                lost: count("lost"),
            }
        }
        _ => summary_counts,
    };
    let status = job_status(&job.status, &counts, views.as_deref());
    let completion_time = match (status, &current) {
        (Some(s), Some(allocs)) if s.is_terminal() => {
            allocs.iter().map(|a| a.modify_time).max().and_then(rfc3339_from_nanos)
        }
        _ => None,
    };
    let namespace = match ctx.namespace_mode {
        NamespaceMode::Native if !job.namespace.is_empty() => job.namespace,
        _ => resolve_namespace(ctx, namespace),
    };
    Job {
        raw: crate::Raw::default(),
        name: job_name(ctx, &namespace, &job.id),
        namespace,
        status,
        raw_status: job.status,
        active: counts.running,
        succeeded: counts.complete,
        failed: counts.failed + counts.lost,
        pending: counts.queued + counts.starting,
        start_time: rfc3339_from_nanos(job.submit_time),
        completion_time,
        conditions: Vec::new(),
        labels: job.meta.unwrap_or_default(),
        version: job.modify_index.to_string(),
        deleting: job.stop,
        pending_reason: None,
        exit_code: None,
    }
}

/// Add what we asked about to a 404, so "job not found" says which job.
fn about(err: Error, id: &str, namespace: &str) -> Error {
    match err {
        Error::NotFound(mut api) => {
            api.message = format!("{} (job {id:?} in namespace {namespace:?})", api.message);
            Error::NotFound(api)
        }
        other => other,
    }
}

impl JobQuery for JobPaths {
    fn ctx(&self) -> &Context {
        &self.ctx
    }

    fn query(&self, suffix: &str) -> Query {
        JobPaths::query(self, suffix)
    }
}

/// Paths of one job.
#[derive(Debug, Clone)]
pub(crate) struct JobPaths {
    pub ctx: Context,
    pub namespace: String,
    pub id: String,
}

impl JobPaths {
    pub fn new(ctx: &Context, namespace: &str, name: &str) -> Self {
        JobPaths { ctx: ctx.clone(), namespace: resolve_namespace(ctx, namespace), id: job_id(ctx, namespace, name) }
    }

    /// `/v1/job/{id}{suffix}` with the namespace (and region).
    pub fn query(&self, suffix: &str) -> Query {
        Query::new(&self.ctx, format!("/v1/job/{}{suffix}", encode_segment(&self.id)))
            .namespace(&self.ctx, &self.namespace)
    }

    pub fn get(&self, suffix: &str) -> Result<Request> {
        self.query(suffix).get()
    }

    /// Judge an answer about this job: 2xx passes, 404 says which job.
    pub fn check(&self, resp: Response) -> Result<Response> {
        check(resp).map_err(|e| about(e, &self.id, &self.namespace))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FetchStage {
    Job,
    Summary,
    Allocations,
}

/// Read a job, its summary and its allocations into a [`Job`]. Embedded by the waits.
pub(crate) struct Fetch {
    paths: JobPaths,
    stage: FetchStage,
    job: Option<JobBody>,
    /// The job's answer body, which the [`Job`] keeps as its `raw`.
    raw: Raw,
    summary: Option<SummaryBody>,
}

impl Fetch {
    pub fn new(paths: JobPaths) -> Self {
        Fetch { paths, stage: FetchStage::Job, job: None, raw: Raw::default(), summary: None }
    }

    /// The first request: read the job.
    pub fn start(&mut self) -> Result<Request> {
        self.stage = FetchStage::Job;
        self.paths.get("")
    }

    /// Start from a job already read: read its summary.
    pub fn start_with(&mut self, job: JobBody) -> Result<Request> {
        self.job = Some(job);
        self.stage = FetchStage::Summary;
        self.paths.get("/summary")
    }

    /// Feed an answer; the next request or the job.
    pub fn on_answer(&mut self, resp: Result<Response>) -> Result<Next<Job>> {
        let resp = self.paths.check(resp?)?;
        match self.stage {
            FetchStage::Job => {
                let job: JobBody = decode("Nomad job", resp.body())?;
                let request = self.start_with(job);
                self.raw = Raw::whole(resp.into_body());
                request.map(Next::Send)
            }
            FetchStage::Summary => {
                self.summary = Some(decode("Nomad job summary", resp.body())?);
                self.stage = FetchStage::Allocations;
                self.paths.get("/allocations").map(Next::Send)
            }
            FetchStage::Allocations => {
                let allocs = parse_stubs(resp.body())?;
                let job = self.job.take().ok_or_else(|| Error::protocol("job fetch finished twice"))?;
                let p = &self.paths;
                let job = build_job(&p.ctx, &p.namespace, job, self.summary.as_ref(), Some(&allocs));
                Ok(Next::Done(Ok(job.keeping(std::mem::take(&mut self.raw)))))
            }
        }
    }
}

struct Get {
    fetch: Fetch,
}

impl Machine for Get {
    type Output = Job;
    fn step(&mut self, _now: Instant, ans: Option<Result<Response>>) -> Result<Next<Job>> {
        match ans {
            None => self.fetch.start().map(Next::Send),
            Some(resp) => self.fetch.on_answer(resp),
        }
    }
}

/// `get_job`: the job with its unified status and counts. Reads `GET /v1/job/{id}`, then
/// `/summary` and `/allocations`; [`Error::NotFound`] when the job does not exist.
///
/// ```
/// use clustermanager_core::{nomad, Operation, Step};
/// let mut op = nomad::job::get(&nomad::Context::default(), "", "acm-param/dispatch-1795639013-f06b5802");
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(req.uri(), "/v1/job/acm-param%2Fdispatch-1795639013-f06b5802");
/// ```
pub fn get(
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> impl Operation<Output = Job, Item = Infallible> + Send + 'static {
    Flow::new(Get { fetch: Fetch::new(JobPaths::new(ctx, namespace, name)) }, &ctx.retry)
}

struct Create {
    paths: JobPaths,
    body: Option<Result<Vec<u8>>>,
    fetch: Option<Fetch>,
}

impl Machine for Create {
    type Output = Job;

    fn step(&mut self, _now: Instant, ans: Option<Result<Response>>) -> Result<Next<Self::Output>> {
        if let Some(fetch) = self.fetch.as_mut() {
            return fetch.on_answer(answer(ans));
        }
        match self.body.take() {
            Some(body) => {
                let q = Query::new(&self.paths.ctx, "/v1/jobs").namespace(&self.paths.ctx, &self.paths.namespace);
                Ok(Next::Send(q.post(Some(body?))?))
            }
            None => {
                check(answer(ans)?)
                    .map_err(|e| already_exists(missing_namespace(e, &self.paths.namespace), &self.paths))?;
                let mut fetch = Fetch::new(self.paths.clone());
                let req = fetch.start()?;
                self.fetch = Some(fetch);
                Ok(Next::Send(req))
            }
        }
    }
}

/// Nomad 1.1 answers a registration into a missing namespace with a plain 500
/// (`job "x" is in nonexistent namespace "y"`): report it as the missing thing it is.
fn missing_namespace(err: Error, namespace: &str) -> Error {
    match err {
        Error::Server(mut api) if api.message.contains("nonexistent namespace") => {
            api.message = format!("{}; create namespace {namespace:?} first", api.message);
            Error::NotFound(api)
        }
        other => other,
    }
}

/// The registration is sent with `EnforceIndex` and `JobModifyIndex: 0`; Nomad refuses it
/// when a job of the ID exists, with a plain 500 (or 400) `Enforcing job modify index 0: job
/// already exists`: [`Error::AlreadyExists`], as Kubernetes answers a second create.
fn already_exists(err: Error, paths: &JobPaths) -> Error {
    match err {
        Error::Server(mut api) | Error::BadRequest(mut api) | Error::Invalid(mut api)
            if api.message.contains("Enforcing job modify index") && api.message.contains("already exists") =>
        {
            api.message = format!(
                "{} (job {:?} in namespace {:?}; delete it first or choose another name)",
                api.message, paths.id, paths.namespace
            );
            Error::AlreadyExists(api)
        }
        other => other,
    }
}

/// `create_job`: register `spec` as a batch job (`POST /v1/jobs`, body from
/// [`jobspec::register_body`](super::jobspec::register_body), datacenters from the context),
/// then read it back as [`get`] does. The job ID is checked before anything is sent
/// ([`Error::InvalidInput`]); Nomad's validation failures (500 with a multi-error text) come
/// back as [`Error::Invalid`] with one cause per line, a missing namespace as
/// [`Error::NotFound`], a token without `submit-job` as [`Error::Forbidden`], and a job of the
/// same ID that already exists (even `dead`) as [`Error::AlreadyExists`]: the registration
/// enforces `JobModifyIndex` 0, so an existing job is never silently updated (as on
/// Kubernetes).
///
/// ```
/// use clustermanager_core::{nomad, JobSpec, Operation, Step};
/// let ctx = nomad::Context { datacenters: vec!["dc1".into()], ..Default::default() };
/// let spec = JobSpec::new("hello").command(["/bin/echo", "hello"]);
/// let mut op = nomad::job::create(&ctx, "", &spec);
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!((req.method().as_str(), req.uri().path()), ("POST", "/v1/jobs"));
/// ```
pub fn create(
    ctx: &Context,
    namespace: &str,
    spec: &JobSpec,
) -> impl Operation<Output = Job, Item = Infallible> + Send + 'static {
    let paths = JobPaths::new(ctx, namespace, &spec.name);
    let server_ns = server_namespace(ctx, namespace);
    let body = super::jobspec::register_body(&paths.id, server_ns.as_deref(), &ctx.datacenters, spec);
    Flow::new(Create { paths, body: Some(body), fetch: None }, &ctx.retry)
}

/// Register a job of ID `id` (as [`create`] does) with `body`, then read it back.
pub(crate) fn create_registered(
    ctx: &Context,
    namespace: &str,
    name: &str,
    body: Result<Vec<u8>>,
) -> impl Operation<Output = Job, Item = Infallible> + Send + 'static {
    Flow::new(Create { paths: JobPaths::new(ctx, namespace, name), body: Some(body), fetch: None }, &ctx.retry)
}

pub(crate) fn list_query(ctx: &Context, namespace: &str) -> Query {
    let q = Query::new(ctx, "/v1/jobs");
    match ctx.namespace_mode {
        NamespaceMode::Native => q.namespace(ctx, namespace),
        NamespaceMode::Prefix => q.param("prefix", format!("{}-", resolve_namespace(ctx, namespace))),
    }
}

/// Parse a job list body into jobs of `namespace` (counts and status from each stub's
/// `JobSummary`; allocations are not read for lists).
pub fn parse_job_list(ctx: &Context, namespace: &str, body: &[u8]) -> Result<Vec<Job>> {
    let stubs: Vec<JobBody> = decode("Nomad job list", body)?;
    Ok(stubs.into_iter().map(|j| build_job(ctx, namespace, j, None, None)).collect())
}

/// `list_jobs`: the jobs of a namespace (`GET /v1/jobs?namespace=`; `*` lists every
/// namespace). In [`NamespaceMode::Prefix`]: `GET /v1/jobs?prefix={namespace}-` (which also
/// matches a namespace named like `{namespace}-x`: the seed's scheme cannot tell them apart).
///
/// ```
/// use clustermanager_core::{nomad, Operation, Step};
/// let mut op = nomad::job::list(&nomad::Context::default(), "acm-ns");
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(req.uri(), "/v1/jobs?namespace=acm-ns");
/// ```
pub fn list(ctx: &Context, namespace: &str) -> impl Operation<Output = Vec<Job>, Item = Infallible> + Send + 'static {
    let (c, ns) = (ctx.clone(), namespace.to_owned());
    let req = list_query(ctx, namespace).get();
    crate::op::Checked::from(req.map(|req| {
        crate::op::Call::new(req, &ctx.retry, move |resp: Response| {
            let resp = check(resp)?;
            Ok(crate::raw::elements(parse_job_list(&c, &ns, resp.body())?, resp.body()))
        })
    }))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeleteStage {
    Start,
    Exists,
    Deregister,
    WaitJob,
    WaitAllocations,
}

struct Delete {
    paths: JobPaths,
    options: DeleteOptions,
    stage: DeleteStage,
    blocking: Blocking,
}

impl Delete {
    fn deregister(&self) -> Result<Request> {
        let q = self.paths.query("");
        let q = if self.options.purge { q.param("purge", "true") } else { q };
        q.delete()
    }
}

impl Machine for Delete {
    type Output = bool;

    fn step(&mut self, now: Instant, ans: Option<Result<Response>>) -> Result<Next<Self::Output>> {
        self.blocking.start(now);
        match self.stage {
            DeleteStage::Start => {
                self.stage = DeleteStage::Exists;
                Ok(Next::Send(self.paths.get("")?))
            }
            DeleteStage::Exists => {
                // Nomad answers 200 to deregistering an unknown job: read first to tell.
                let resp = answer(ans)?;
                if resp.status() == http::StatusCode::NOT_FOUND {
                    return Ok(Next::Done(Ok(false)));
                }
                self.paths.check(resp)?;
                self.stage = DeleteStage::Deregister;
                Ok(Next::Send(self.deregister()?))
            }
            DeleteStage::Deregister => {
                self.paths.check(answer(ans)?)?;
                if !self.options.wait {
                    return Ok(Next::Done(Ok(true)));
                }
                // Read at once (index 0): blocking on the write's index would hold until the
                // next change if the job is already gone.
                self.stage = DeleteStage::WaitJob;
                self.blocking.reset();
                Ok(Next::Send(self.paths.get("")?))
            }
            DeleteStage::WaitJob => {
                let id = &self.paths.id;
                let resp = match self.blocking.take(now, ans, &self.paths, "", || delete_waiting(id))? {
                    Ok(resp) => resp,
                    Err(later) => return Ok(later),
                };
                let answered = index_of(resp.headers());
                let gone = if resp.status() == http::StatusCode::NOT_FOUND {
                    true
                } else {
                    let job: JobBody = decode("Nomad job", self.paths.check(resp)?.body())?;
                    !self.options.purge && job.status == "dead"
                };
                if gone {
                    self.stage = DeleteStage::WaitAllocations;
                    self.blocking.reset();
                    return Ok(Next::Send(self.paths.get("/allocations")?));
                }
                self.blocking.again(now, &self.paths, "", answered, || delete_waiting(id))
            }
            DeleteStage::WaitAllocations => {
                let id = &self.paths.id;
                let resp = match self.blocking.take(now, ans, &self.paths, "/allocations", || delete_waiting(id))? {
                    Ok(resp) => self.paths.check(resp)?,
                    Err(later) => return Ok(later),
                };
                let answered = index_of(resp.headers());
                let allocs = parse_stubs(resp.body())?;
                if allocs.iter().all(|a| is_terminal_allocation(&a.client_status)) {
                    return Ok(Next::Done(Ok(true)));
                }
                self.blocking.again(now, &self.paths, "/allocations", answered, || delete_waiting(id))
            }
        }
    }

    fn resume(&mut self, now: Instant) -> Result<Next<Self::Output>> {
        let id = &self.paths.id;
        self.blocking.resume(now, &self.paths, || delete_waiting(id))
    }

    fn deadline(&self) -> crate::deadline::Deadline {
        self.blocking.deadline()
    }
}

fn delete_waiting(id: &str) -> String {
    format!("delete_job waiting for job {id:?} and its allocations to be gone")
}

/// `delete_job`: stop the job (`DELETE /v1/job/{id}`, with `purge` also `?purge=true` to
/// remove it from the state store). `false` if the job did not exist (read first: Nomad
/// answers 200 to deregistering an unknown job). With `wait`, blocking queries follow the job
/// until it is gone (purge) or `dead`, then its allocations until every one is terminal, for
/// at most [`DELETE_WAIT_TIMEOUT`] from the first poll ([`Error::Timeout`] after that).
///
/// ```
/// use clustermanager_core::{nomad, DeleteOptions, Operation, Step};
/// let opts = DeleteOptions { wait: true, purge: true };
/// let mut op = nomad::job::delete(&nomad::Context::default(), "", "acm-stop", opts);
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!((req.method().as_str(), req.uri().path()), ("GET", "/v1/job/acm-stop"));
/// ```
pub fn delete(
    ctx: &Context,
    namespace: &str,
    name: &str,
    options: DeleteOptions,
) -> impl Operation<Output = bool, Item = Infallible> + Send + 'static {
    delete_within(ctx, namespace, name, options, DELETE_WAIT_TIMEOUT)
}

/// [`delete`], waiting (with `options.wait`) at most `timeout` instead of
/// [`DELETE_WAIT_TIMEOUT`] (for `delete_deploy`'s and `delete_statefulset`'s timeout).
///
/// ```
/// use std::time::Duration;
/// use clustermanager_core::{nomad, DeleteOptions};
/// let opts = DeleteOptions { wait: true, purge: true };
/// let op = nomad::job::delete_within(&nomad::Context::default(), "", "web", opts, Duration::from_secs(30));
/// # let _ = op;
/// ```
pub fn delete_within(
    ctx: &Context,
    namespace: &str,
    name: &str,
    options: DeleteOptions,
    timeout: Duration,
) -> impl Operation<Output = bool, Item = Infallible> + Send + 'static {
    let machine = Delete {
        paths: JobPaths::new(ctx, namespace, name),
        options,
        stage: DeleteStage::Start,
        blocking: Blocking::new(Some(timeout)),
    };
    Flow::new(machine, &ctx.retry)
}

struct Cleanup {
    ctx: Context,
    namespace: String,
    listed: bool,
    todo: Vec<(String, String)>,
    purged: Vec<String>,
    current: Option<String>,
}

impl Cleanup {
    fn next_purge(&mut self) -> Result<Next<Vec<String>>> {
        match self.todo.pop() {
            None => Ok(Next::Done(Ok(std::mem::take(&mut self.purged)))),
            Some((ns, id)) => {
                let q = Query::new(&self.ctx, format!("/v1/job/{}", encode_segment(&id)))
                    .namespace(&self.ctx, &ns)
                    .param("purge", "true");
                self.current = Some(job_name(&self.ctx, &ns, &id));
                Ok(Next::Send(q.delete()?))
            }
        }
    }
}

impl Machine for Cleanup {
    type Output = Vec<String>;

    fn step(&mut self, _now: Instant, ans: Option<Result<Response>>) -> Result<Next<Self::Output>> {
        let Some(ans) = ans else {
            return Ok(Next::Send(list_query(&self.ctx, &self.namespace).get()?));
        };
        let resp = check(ans?)?;
        if !self.listed {
            self.listed = true;
            let stubs: Vec<JobBody> = decode("Nomad job list", resp.body())?;
            let mut todo: Vec<(String, String)> = stubs
                .into_iter()
                .filter(|j| j.status == "dead")
                .map(|j| {
                    let ns = match self.ctx.namespace_mode {
                        NamespaceMode::Native if !j.namespace.is_empty() => j.namespace,
                        _ => resolve_namespace(&self.ctx, &self.namespace),
                    };
                    (ns, j.id)
                })
                .collect();
            todo.reverse();
            self.todo = todo;
        } else if let Some(name) = self.current.take() {
            self.purged.push(name);
        }
        self.next_purge()
    }
}

/// `cleanup_jobs`: purge every finished (`dead`) job of the namespace
/// (`DELETE /v1/job/{id}?purge=true` each, in list order) and return their names. Running and
/// pending jobs are left alone. Stops at the first error.
///
/// ```
/// use clustermanager_core::{nomad, Operation, Step};
/// let mut op = nomad::job::cleanup(&nomad::Context::default(), "acm-ns");
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(req.uri(), "/v1/jobs?namespace=acm-ns");
/// ```
pub fn cleanup(
    ctx: &Context,
    namespace: &str,
) -> impl Operation<Output = Vec<String>, Item = Infallible> + Send + 'static {
    let machine = Cleanup {
        ctx: ctx.clone(),
        namespace: namespace.to_owned(),
        listed: false,
        todo: Vec::new(),
        purged: Vec::new(),
        current: None,
    };
    Flow::new(machine, &ctx.retry)
}
