//! Nomad: long-running workloads ([`ServiceSpec`]) as `service` jobs. What the seed called a
//! Deployment or a StatefulSet is one Nomad job of type `service` whose one task group `main`
//! runs `replicas` allocations, restarted and rescheduled for as long as the job runs, with an
//! update stanza checking task states (no Consul needed), so that each version of the job rolls
//! out as a Nomad *deployment*.
//!
//! - [`get`] reads the job (`/v1/job/{id}`: type, version, count, stop) and its latest
//!   deployment (`/v1/job/{id}/deployment`). **Available** means that deployment is
//!   `successful` for the job's current version and the job is not stopped; a job without any
//!   deployment (registered elsewhere without an update stanza) is available once the current
//!   version's running allocations reach the count (read from `/v1/job/{id}/allocations`).
//! - [`wait_available`] does the same reads and then follows the deployment with blocking
//!   queries (never polling) until it is available; a deployment that `failed` or was
//!   `cancelled` for the current version ends the wait with [`Error::CannotRun`] naming its
//!   description ("Failed due to progress deadline"), since it will not become successful
//!   without a change of the job.
//! - A job of type `batch` is not a workload: [`Error::InvalidInput`] saying so.
//! - StatefulSet settings Nomad has no equivalent of are refused before anything is sent
//!   (see [`check_spec`]).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::blocking::Blocking;
use super::execution::{current_run, parse_stubs};
use super::job::JobPaths;
use super::jobspec::JobKind;
use super::query::index_of;
use super::{decode, Context};
use crate::error::{Error, Result};
use crate::model::Job;
use crate::op::{answer, Flow, Machine, Next};
use crate::reason::{Reason, ReasonKind};
use crate::step::{Operation, Response};
use crate::workload::{PodManagement, ServiceSpec, Workload, WorkloadKind};

fn unsupported(operation: &'static str, hint: &'static str) -> Error {
    Error::Unsupported { operation, orchestrator: "Nomad", hint }
}

/// Refuse what a Nomad service job cannot do: readiness and liveness checks (Nomad checks
/// run as Consul service checks, which Nomad 1.1 needs a Consul agent for), a StatefulSet's
/// ordered start (`OrderedReady`: Nomad places a group's allocations in parallel), its
/// governing service (DNS names come from Consul) and its revision history limit (Nomad keeps
/// job versions by its own rules).
pub fn check_spec(kind: WorkloadKind, spec: &ServiceSpec) -> Result<()> {
    if spec.readiness.is_some() || spec.liveness.is_some() {
        return Err(unsupported(
            "readiness/liveness checks",
            "Nomad runs checks as Consul service checks; without them a replica is healthy once its task has \
             run for the update stanza's min_healthy_time (10 s): leave readiness and liveness unset",
        ));
    }
    if kind == WorkloadKind::StatefulSet {
        if spec.stateful.pod_management == Some(PodManagement::OrderedReady) {
            return Err(unsupported(
                "podManagementPolicy OrderedReady",
                "Nomad places a task group's allocations in parallel; use PodManagement::Parallel (or leave it \
                 unset): each allocation still has a stable ordinal name, <job>.main[<n>]",
            ));
        }
        if spec.stateful.service_name.is_some() {
            return Err(unsupported(
                "a StatefulSet's governing service",
                "Nomad 1.1 has no service DNS of its own (Consul gives it); leave service_name unset",
            ));
        }
        if spec.stateful.revision_history_limit.is_some() {
            return Err(unsupported(
                "revisionHistoryLimit",
                "Nomad keeps job versions under its own garbage collection; leave revision_history_limit unset",
            ));
        }
    }
    Ok(())
}

/// `create_deploy` / `create_statefulset`: register `spec` as a `service` job (refused with
/// [`Error::AlreadyExists`] when the ID is taken, like `create_job`), then read the job back.
///
/// ```
/// use clustermanager_core::{nomad, JobSpec, Operation, ServiceSpec, Step, WorkloadKind};
/// let ctx = nomad::Context { datacenters: vec!["dc1".into()], ..Default::default() };
/// let spec = ServiceSpec::new(JobSpec::new("web").image("nginx:1.25")).replicas(2);
/// let mut op = nomad::service::create(&ctx, WorkloadKind::Deployment, "", &spec);
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert!(std::str::from_utf8(req.body()).unwrap().contains(r#""Type":"service""#));
/// ```
pub fn create(
    ctx: &Context,
    kind: WorkloadKind,
    namespace: &str,
    spec: &ServiceSpec,
) -> impl Operation<Output = Job, Item = Infallible> + Send + 'static {
    let id = super::query::job_id(ctx, namespace, &spec.task.name);
    let server_ns = super::query::server_namespace(ctx, namespace);
    let body = check_spec(kind, spec).and_then(|()| {
        let kind = JobKind::Service { count: spec.replicas, ports: &spec.ports };
        super::jobspec::register(&id, server_ns.as_deref(), &ctx.datacenters, &spec.task, kind)
    });
    super::job::create_registered(ctx, namespace, &spec.task.name, body)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct JobObject {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "Type", default)]
    kind: String,
    #[serde(default)]
    version: u64,
    #[serde(default)]
    stop: bool,
    #[serde(default)]
    status: String,
    #[serde(default)]
    meta: Option<BTreeMap<String, String>>,
    #[serde(default)]
    task_groups: Option<Vec<GroupObject>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GroupObject {
    #[serde(default)]
    count: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Deployment {
    #[serde(default)]
    job_version: u64,
    #[serde(default)]
    status: String,
    #[serde(default)]
    status_description: String,
    #[serde(default)]
    task_groups: Option<BTreeMap<String, DeploymentGroup>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct DeploymentGroup {
    #[serde(default)]
    placed_allocs: u32,
    #[serde(default)]
    healthy_allocs: u32,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Job,
    Deployment,
    Allocations,
}

/// Reads a service job and its deployment (or allocations) into a [`Workload`]; with `wait`,
/// follows the deployment until it is available.
struct Read {
    paths: JobPaths,
    wait: bool,
    blocking: Blocking,
    stage: Stage,
    job: Option<JobObject>,
    /// The job's answer body: the workload's `raw`.
    job_body: crate::Raw,
}

impl Read {
    fn workload(&self, job: &JobObject, ready: u32, updated: u32, available: bool, raw: String) -> Workload {
        let replicas = job.task_groups.iter().flatten().map(|g| g.count).sum();
        Workload {
            raw: self.job_body.clone(),
            name: super::query::job_name(&self.paths.ctx, &self.paths.namespace, &job.id),
            namespace: self.paths.namespace.clone(),
            uid: job.id.clone(),
            replicas,
            ready,
            available: ready,
            updated,
            is_available: available && !job.stop,
            deleting: job.stop,
            raw_status: raw,
            labels: job.meta.clone().unwrap_or_default(),
            selector: BTreeMap::new(),
        }
    }

    fn waiting(&self) -> String {
        format!("waiting for service job {:?} to be available", self.paths.id)
    }
}

impl Machine for Read {
    type Output = Workload;

    fn step(&mut self, now: Instant, ans: Option<Result<Response>>) -> Result<Next<Workload>> {
        self.blocking.start(now);
        let Some(ans) = ans else {
            return Ok(Next::Send(self.paths.get("")?));
        };
        match self.stage {
            Stage::Job => {
                let resp = self.paths.check(answer(Some(ans))?)?;
                let job: JobObject = decode("Nomad job", resp.body())?;
                self.job_body = crate::Raw::whole(resp.into_body());
                if job.kind != "service" {
                    return Err(Error::InvalidInput {
                        field: "name".into(),
                        problem: format!(
                            "Nomad job {:?} is a {} job, not a long-running service (use get_job)",
                            job.id, job.kind
                        ),
                    });
                }
                self.job = Some(job);
                self.stage = Stage::Deployment;
                Ok(Next::Send(self.paths.get("/deployment")?))
            }
            Stage::Deployment => {
                let what = self.waiting();
                let resp = match self.blocking.take(now, Some(ans), &self.paths, "/deployment", || what)? {
                    Ok(resp) => self.paths.check(resp)?,
                    Err(later) => return Ok(later),
                };
                let answered = index_of(resp.headers());
                // `null` when the job has no deployment
                let deployment: Option<Deployment> = decode("Nomad deployment", resp.body())?;
                let Some(job) = self.job.as_ref() else { return Err(Error::protocol("service read lost its job")) };
                let Some(d) = deployment.filter(|d| d.job_version >= job.version) else {
                    if self.blocking.is_blocking() {
                        // still none for this version: keep following
                        let what = self.waiting();
                        return self.blocking.again(now, &self.paths, "/deployment", answered, || what);
                    }
                    self.stage = Stage::Allocations;
                    return Ok(Next::Send(self.paths.get("/allocations")?));
                };
                let groups = d.task_groups.unwrap_or_default();
                let healthy = groups.values().map(|g| g.healthy_allocs).sum();
                let placed = groups.values().map(|g| g.placed_allocs).sum();
                let raw = format!("deployment {}: {}", d.status, d.status_description);
                let workload = self.workload(job, healthy, placed, d.status == "successful", raw);
                if !self.wait || workload.is_available {
                    return Ok(Next::Done(Ok(workload)));
                }
                if matches!(d.status.as_str(), "failed" | "cancelled") {
                    return Err(Error::CannotRun {
                        job: format!(
                            "{}/{}",
                            super::query::resolve_namespace(&self.paths.ctx, &self.paths.namespace),
                            workload.name
                        ),
                        reason: Reason::new(
                            ReasonKind::DeploymentFailed,
                            format!(
                                "the deployment of version {} {}: {}",
                                d.job_version, d.status, d.status_description
                            ),
                            true,
                            "Deployment.Status",
                        ),
                    });
                }
                let what = self.waiting();
                self.blocking.again(now, &self.paths, "/deployment", answered, || what)
            }
            Stage::Allocations => {
                let resp = self.paths.check(answer(Some(ans))?)?;
                let answered = index_of(resp.headers());
                let allocs = parse_stubs(resp.body())?;
                let Some(job) = self.job.as_ref() else { return Err(Error::protocol("service read lost its job")) };
                let current = current_run(job.version, job.stop, &allocs);
                let running: u32 =
                    current.iter().filter(|a| a.client_status == "running").count().try_into().unwrap_or(u32::MAX);
                let all: u32 = current.len().try_into().unwrap_or(u32::MAX);
                let mut workload = self.workload(job, running, all, false, format!("{} (no deployment)", job.status));
                workload.is_available = !job.stop && running >= workload.replicas;
                if !self.wait || workload.is_available {
                    return Ok(Next::Done(Ok(workload)));
                }
                // follow the deployment read from here (it appears with the job's next version)
                self.stage = Stage::Deployment;
                let what = self.waiting();
                self.blocking.again(now, &self.paths, "/deployment", answered, || what)
            }
        }
    }

    fn resume(&mut self, now: Instant) -> Result<Next<Workload>> {
        let what = self.waiting();
        self.blocking.resume(now, &self.paths, || what)
    }

    fn deadline(&self) -> crate::deadline::Deadline {
        self.blocking.deadline()
    }
}

/// `get_deploy` / `get_statefulset` on Nomad: the service job `name` as a [`Workload`]
/// ([`Error::NotFound`] when it does not exist).
///
/// ```
/// use clustermanager_core::{nomad, Operation, Step};
/// let mut op = nomad::service::get(&nomad::Context::default(), "", "web");
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(req.uri(), "/v1/job/web");
/// ```
pub fn get(
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> impl Operation<Output = Workload, Item = Infallible> + Send + 'static {
    let machine = Read {
        paths: JobPaths::new(ctx, namespace, name),
        wait: false,
        blocking: Blocking::new(None),
        stage: Stage::Job,
        job: None,
        job_body: crate::Raw::default(),
    };
    Flow::new(machine, &ctx.retry)
}

/// `deploy_wait_available` / `statefulset_wait_available` on Nomad (module docs);
/// [`Error::Timeout`] after `timeout`.
pub fn wait_available(
    ctx: &Context,
    namespace: &str,
    name: &str,
    timeout: Option<Duration>,
) -> impl Operation<Output = Workload, Item = Infallible> + Send + 'static {
    let machine = Read {
        paths: JobPaths::new(ctx, namespace, name),
        wait: true,
        blocking: Blocking::new(timeout),
        stage: Stage::Job,
        job: None,
        job_body: crate::Raw::default(),
    };
    Flow::new(machine, &ctx.retry)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Stub {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "Type", default)]
    kind: String,
}

/// `list_deploys` / `list_statefulsets` on Nomad, first step: the names of the namespace's
/// `service` jobs (`GET /v1/jobs`); read each with [`get`].
///
/// ```
/// use clustermanager_core::{nomad, Operation, Step};
/// let mut op = nomad::service::names(&nomad::Context::default(), "shop");
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(req.uri(), "/v1/jobs?namespace=shop");
/// ```
pub fn names(
    ctx: &Context,
    namespace: &str,
) -> impl Operation<Output = Vec<String>, Item = Infallible> + Send + 'static {
    let (c, ns) = (ctx.clone(), namespace.to_owned());
    let req = super::job::list_query(ctx, namespace).get();
    crate::op::Checked::from(req.map(|req| {
        crate::op::Call::new(req, &ctx.retry, move |resp: Response| {
            let stubs: Vec<Stub> = decode("Nomad job list", super::check(resp)?.body())?;
            Ok(stubs
                .into_iter()
                .filter(|s| s.kind == "service")
                .map(|s| super::query::job_name(&c, &super::query::resolve_namespace(&c, &ns), &s.id))
                .collect())
        })
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;
    use crate::model::JobSpec;
    use crate::workload::{Probe, StatefulOptions};

    #[test]
    fn what_nomad_cannot_do_is_refused_with_what_to_do_instead() {
        let task = || JobSpec::new("pg").image("postgres:13");
        let probe = ServiceSpec::new(task()).readiness(Probe::tcp(5432));
        assert!(matches!(check_spec(WorkloadKind::Deployment, &probe), Err(Error::Unsupported { .. })));
        let ordered = ServiceSpec::new(task())
            .stateful(StatefulOptions { pod_management: Some(PodManagement::OrderedReady), ..Default::default() });
        assert!(matches!(check_spec(WorkloadKind::StatefulSet, &ordered), Err(Error::Unsupported { .. })));
        assert!(check_spec(WorkloadKind::Deployment, &ordered).is_ok(), "deployments ignore stateful settings");
        let parallel = ServiceSpec::new(task())
            .stateful(StatefulOptions { pod_management: Some(PodManagement::Parallel), ..Default::default() });
        assert!(check_spec(WorkloadKind::StatefulSet, &parallel).is_ok());
    }
}
