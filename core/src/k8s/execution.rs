//! Kubernetes executions (the pods of Jobs): `list_jobs_executions`, `list_job_executions`,
//! `delete_execution`, and the pod → [`Execution`] mapping the waits use too.
//!
//! The job controller labels every pod it creates with `job-name=<job>`, so the pods of all
//! jobs are `labelSelector=job-name` (the label exists) and those of one job
//! `labelSelector=job-name=<job>`.
//!
//! That label names the job, not one incarnation of it: the pods of an earlier job of the same
//! name that was deleted without its pods (`delete_job` with `purge: false` orphans them) keep
//! it. So [`list`] (and the execution wait) first read the Job for its `uid` and keep only the
//! pods it controls ([`PodObject::belongs_to`]: a controller `ownerReference` with that uid, or
//! the `controller-uid` label the 1.19 job controller also puts on its pods). The pod query
//! stays `labelSelector=job-name=<job>` and the filtering is client-side: it works on every
//! version (1.27 renamed the label to `batch.kubernetes.io/controller-uid`; the ownerReference
//! never changed) and the server still does the bulk of the selection. A Job that does not
//! exist has no executions (an empty list, like Nomad's unknown job).
//!
//! Mapping: the pod phase maps one to one onto [`Status`] (`Unknown` → `Pending`) and stays in
//! `raw_status`; each entry of `status.containerStatuses` becomes a [`TaskState`] (`waiting`,
//! `running` or `terminated`, with exit code, reason and restart count; `failed` when
//! terminated with a non-zero code). A pod that has no container statuses yet (not scheduled)
//! lists its containers as `waiting`, with the reason of its `PodScheduled` condition if any
//! (`Unschedulable`).

use std::convert::Infallible;
use std::time::Instant;

use serde::Deserialize;

use super::object::{ObjectCondition, ObjectMeta, Thin, Versioned};
use super::{check, decode, name, Context};
use crate::error::{Error, Result};
use crate::model::{Execution, Status, TaskState};
use crate::op::{Call, Checked, Flow, Machine, Next};
use crate::raw::{Keeps, Raw};
use crate::step::{self, Operation, Response};

/// The label the job controller puts on the pods of a job.
pub const JOB_NAME_LABEL: &str = "job-name";
/// The label (up to Kubernetes 1.26) holding the uid of the Job that created the pod.
pub const CONTROLLER_UID_LABEL: &str = "controller-uid";

/// The collection path of pods in `namespace`.
pub fn collection(namespace: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/pods")
}

/// The lean pod object.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PodObject {
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// `spec`.
    #[serde(default)]
    pub spec: PodSpec,
    /// `status`.
    #[serde(default)]
    pub status: PodStatus,
}

/// Pod `spec` fields kept.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    /// Node the pod is bound to.
    #[serde(default)]
    pub node_name: Option<String>,
    /// Containers (names only).
    #[serde(default)]
    pub containers: Vec<NamedContainer>,
}

/// A container of the pod spec (name only).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NamedContainer {
    /// Name.
    #[serde(default)]
    pub name: String,
}

/// Pod `status` fields kept.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    /// `Pending`, `Running`, `Succeeded`, `Failed`, `Unknown`.
    #[serde(default)]
    pub phase: String,
    /// Container statuses.
    #[serde(default)]
    pub container_statuses: Vec<ContainerStatus>,
    /// Conditions (for the scheduling reason of a pending pod).
    #[serde(default)]
    pub conditions: Vec<ObjectCondition>,
}

/// One container's status.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStatus {
    /// Container name.
    #[serde(default)]
    pub name: String,
    /// Current state.
    #[serde(default)]
    pub state: ContainerState,
    /// Restarts.
    #[serde(default)]
    pub restart_count: u32,
}

/// A container state: exactly one of the three is set by the kubelet.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ContainerState {
    /// Waiting.
    #[serde(default)]
    pub waiting: Option<StateDetail>,
    /// Running.
    #[serde(default)]
    pub running: Option<StateDetail>,
    /// Terminated.
    #[serde(default)]
    pub terminated: Option<StateDetail>,
}

/// Details of a container state.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateDetail {
    /// Reason (`ContainerCreating`, `Completed`, `Error`, ...).
    #[serde(default)]
    pub reason: Option<String>,
    /// Exit code (terminated only).
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// Message (why an image cannot be pulled, which key is missing, ...).
    #[serde(default)]
    pub message: Option<String>,
}

impl Versioned for PodObject {
    fn resource_version(&self) -> &str {
        &self.metadata.resource_version
    }
}

/// The unified status of a pod phase.
pub fn status_of_phase(phase: &str) -> Status {
    match phase {
        "Running" => Status::Running,
        "Succeeded" => Status::Succeeded,
        "Failed" => Status::Failed,
        _ => Status::Pending,
    }
}

impl ContainerStatus {
    fn into_task(self) -> TaskState {
        let (state, detail) = match self.state {
            ContainerState { terminated: Some(d), .. } => ("terminated", d),
            ContainerState { running: Some(d), .. } => ("running", d),
            ContainerState { waiting: Some(d), .. } => ("waiting", d),
            _ => ("waiting", StateDetail::default()),
        };
        TaskState {
            name: self.name,
            state: state.to_owned(),
            failed: state == "terminated" && detail.exit_code.is_some_and(|c| c != 0),
            exit_code: detail.exit_code,
            reason: detail.reason,
            restarts: self.restart_count,
        }
    }
}

impl PodObject {
    /// Whether the Job with uid `job_uid` controls this pod (its controller ownerReference, or
    /// the `controller-uid` label): false for the orphans of an earlier job of the same name.
    pub fn belongs_to(&self, job_uid: &str) -> bool {
        !job_uid.is_empty()
            && (self.metadata.owner_references.iter().any(|o| o.controller == Some(true) && o.uid == job_uid)
                || self.metadata.labels.get(CONTROLLER_UID_LABEL).is_some_and(|u| u == job_uid))
    }

    /// The orchestrator-neutral view.
    pub fn into_execution(self) -> Execution {
        let PodObject { metadata, spec, status } = self;
        let tasks = if status.container_statuses.is_empty() {
            let reason = status
                .conditions
                .iter()
                .find(|c| c.kind == "PodScheduled" && c.status != "True")
                .and_then(|c| c.reason.clone());
            spec.containers
                .into_iter()
                .map(|c| TaskState {
                    name: c.name,
                    state: "waiting".into(),
                    reason: reason.clone(),
                    ..TaskState::default()
                })
                .collect()
        } else {
            status.container_statuses.into_iter().map(ContainerStatus::into_task).collect()
        };
        Execution {
            raw: crate::Raw::default(),
            id: metadata.name,
            job_name: metadata.labels.get(JOB_NAME_LABEL).cloned().unwrap_or_default(),
            namespace: metadata.namespace,
            status: Some(status_of_phase(&status.phase)),
            raw_status: status.phase,
            node: spec.node_name.filter(|n| !n.is_empty()),
            tasks,
            created: metadata.creation_timestamp,
        }
    }
}

/// Parse a `PodList` answer.
pub fn parse_list(resp: Response) -> Result<Vec<Execution>> {
    super::api::parse_kept("pod list", resp, PodObject::into_execution)
}

/// Parse a Pod answer.
pub fn parse_pod(resp: Response) -> Result<Execution> {
    let resp = check(resp)?;
    let pod = decode::<PodObject>("pod", resp.body())?.into_execution();
    Ok(pod.keeping(Raw::whole(resp.into_body())))
}

pub(crate) fn list_request(namespace: &str, selector: &str) -> Result<step::Request> {
    let query = url::form_urlencoded::Serializer::new(String::new()).append_pair("labelSelector", selector).finish();
    step::request(http::Method::GET, &format!("{}?{query}", collection(namespace)), None)
}

/// `list_jobs_executions`: the pods of every Job of `namespace`.
///
/// ```
/// use clustermanager_core::{k8s, Operation, Step};
/// let mut op = k8s::execution::list_all(&k8s::Context::default(), "acm-run");
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { panic!() };
/// assert_eq!(req.uri(), "/api/v1/namespaces/acm-run/pods?labelSelector=job-name");
/// ```
pub fn list_all(
    ctx: &Context,
    namespace: &str,
) -> impl Operation<Output = Vec<Execution>, Item = Infallible> + Send + 'static {
    let op = name::label("namespace", namespace)
        .and_then(|()| list_request(namespace, JOB_NAME_LABEL))
        .map(|req| Call::new(req, &ctx.retry, parse_list));
    Checked::from(op)
}

/// The request that reads Job `job` (for its uid).
pub fn job_request(namespace: &str, job: &str) -> Result<step::Request> {
    step::request(http::Method::GET, &super::api::Resource::JOBS.object_path(Some(namespace), job)?, None)
}

/// The metadata of the Job in this answer to [`job_request`]; `Ok(None)` when the Job does not
/// exist.
pub fn job_meta(resp: Result<Response>) -> Result<Option<ObjectMeta>> {
    match resp.and_then(check) {
        Ok(resp) => {
            let job = decode::<Thin>("job", resp.body())?;
            if job.metadata.uid.is_empty() {
                return Err(Error::protocol("the Job read back has no metadata.uid"));
            }
            Ok(Some(job.metadata))
        }
        Err(Error::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The request that lists the pods labelled with Job `job`'s name.
pub fn pods_request(namespace: &str, job: &str) -> Result<step::Request> {
    list_request(namespace, &format!("{JOB_NAME_LABEL}={job}"))
}

/// `list_job_executions`: the pods of Job `job`. Reads the Job first and keeps only the pods
/// it controls (see the module docs); a Job that does not exist has none.
///
/// ```
/// use clustermanager_core::{k8s, Operation, Step};
/// let mut op = k8s::execution::list(&k8s::Context::default(), "acm-run", "failer");
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { panic!() };
/// assert_eq!(req.uri(), "/apis/batch/v1/namespaces/acm-run/jobs/failer");
/// ```
pub fn list(
    ctx: &Context,
    namespace: &str,
    job: &str,
) -> impl Operation<Output = Vec<Execution>, Item = Infallible> + Send + 'static {
    crate::op::map_output(job_pods(ctx, namespace, job), |out| Ok(out?.map(|(_, pods)| pods).unwrap_or_default()))
}

/// One look at Job `job` and its executions: the Job's metadata and the pods it controls, or
/// `None` when the Job does not exist. A shared execution wait makes it when it joins and
/// whenever the namespace's pod watch says there may be what it waits for.
///
/// ```
/// use clustermanager_core::{k8s, Operation, Step};
/// let mut op = k8s::execution::look(&k8s::Context::default(), "acm-run", "printer");
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { panic!() };
/// assert_eq!(req.uri(), "/apis/batch/v1/namespaces/acm-run/jobs/printer");
/// ```
pub fn look(
    ctx: &Context,
    namespace: &str,
    job: &str,
) -> impl Operation<Output = Option<(ObjectMeta, Vec<Execution>)>, Item = Infallible> + Send + 'static {
    job_pods(ctx, namespace, job)
}

fn job_pods(ctx: &Context, namespace: &str, job: &str) -> Checked<Flow<JobPods>> {
    let op = name::label("namespace", namespace)
        .and_then(|()| name::label("job name", job))
        .and_then(|()| Ok((job_request(namespace, job)?, pods_request(namespace, job)?)))
        .map(|(job, pods)| Flow::new(JobPods { job: Some(job), pods: Some(pods), meta: None }, &ctx.retry));
    Checked::from(op)
}

/// The machine of [`list`] and [`look`]: read the Job, then list the pods it controls.
#[derive(Debug)]
pub struct JobPods {
    job: Option<step::Request>,
    pods: Option<step::Request>,
    /// The Job's metadata, once read.
    meta: Option<ObjectMeta>,
}

impl Machine for JobPods {
    type Output = Option<(ObjectMeta, Vec<Execution>)>;

    fn step(&mut self, _now: Instant, answer: Option<Result<Response>>) -> Result<Next<Self::Output>> {
        let Some(answer) = answer else {
            let job = self.job.take().ok_or_else(|| Error::protocol("job read lost"))?;
            return Ok(Next::Send(job));
        };
        match self.meta.take() {
            None => match job_meta(answer)? {
                None => Ok(Next::Done(Ok(None))),
                Some(meta) => {
                    self.meta = Some(meta);
                    let pods = self.pods.take().ok_or_else(|| Error::protocol("pod list request lost"))?;
                    Ok(Next::Send(pods))
                }
            },
            Some(meta) => {
                let answer = answer?;
                let body = answer.body().clone();
                let pods = super::api::parse_items("pod list", answer, |pod: PodObject| {
                    pod.belongs_to(&meta.uid).then(|| pod.into_execution())
                })?;
                // each pod keeps its own item of the list: the index before the filter
                let pods = pods.into_iter().enumerate();
                let pods = pods.filter_map(|(i, pod)| Some(pod?.keeping(Raw::list_item(body.clone(), i))));
                Ok(Next::Done(Ok(Some((meta, pods.collect())))))
            }
        }
    }
}

/// `delete_execution`: delete pod `id`; `Ok(false)` if it did not exist. (The job controller
/// replaces a deleted pod of an unfinished job, within its backoff limit.)
///
/// ```
/// use clustermanager_core::{k8s, Operation, Step};
/// let mut op = k8s::execution::delete(&k8s::Context::default(), "acm-logs", "pending-pod");
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { panic!() };
/// assert_eq!((req.method().as_str(), req.uri().path()), ("DELETE", "/api/v1/namespaces/acm-logs/pods/pending-pod"));
/// ```
pub fn delete(
    ctx: &Context,
    namespace: &str,
    id: &str,
) -> impl Operation<Output = bool, Item = Infallible> + Send + 'static {
    let op = name::label("namespace", namespace)
        .and_then(|()| name::subdomain("execution id", id))
        .and_then(|()| step::request(http::Method::DELETE, &format!("{}/{id}", collection(namespace)), None))
        .map(|req| {
            Call::new(req, &ctx.retry, |resp| match check(resp) {
                Ok(_) => Ok(true),
                Err(Error::NotFound(_)) => Ok(false),
                Err(e) => Err(e),
            })
        });
    Checked::from(op)
}
