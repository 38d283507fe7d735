//! Kubernetes executions (the pods of Jobs): `list_jobs_executions`, `list_job_executions`,
//! `delete_execution`, and the pod → [`Execution`] mapping the waits use too.
//!
//! The job controller labels every pod it creates with `job-name=<job>`, so the pods of all
//! jobs are `labelSelector=job-name` (the label exists) and those of one job
//! `labelSelector=job-name=<job>`.
//!
//! Mapping: the pod phase maps one to one onto [`Status`] (`Unknown` → `Pending`) and stays in
//! `raw_status`; each entry of `status.containerStatuses` becomes a [`TaskState`] (`waiting`,
//! `running` or `terminated`, with exit code, reason and restart count; `failed` when
//! terminated with a non-zero code). A pod that has no container statuses yet (not scheduled)
//! lists its containers as `waiting`, with the reason of its `PodScheduled` condition if any
//! (`Unschedulable`).

use std::convert::Infallible;

use serde::Deserialize;

use super::checked::Checked;
use super::watcher::{ObjectCondition, ObjectMeta, Versioned};
use super::{check, decode, name, Context};
use crate::call::Call;
use crate::error::{Error, Result};
use crate::model::{Execution, Status, TaskState};
use crate::step::{self, Operation, Response};

/// The label the job controller puts on the pods of a job.
pub const JOB_NAME_LABEL: &str = "job-name";

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
    super::api::parse_items("pod list", resp, PodObject::into_execution)
}

/// Parse a Pod answer.
pub fn parse_pod(resp: Response) -> Result<Execution> {
    let resp = check(resp)?;
    decode::<PodObject>("pod", resp.body()).map(PodObject::into_execution)
}

fn list_request(namespace: &str, selector: &str) -> Result<step::Request> {
    let query = url::form_urlencoded::Serializer::new(String::new()).append_pair("labelSelector", selector).finish();
    step::request(http::Method::GET, &format!("{}?{query}", collection(namespace)), None)
}

/// `list_jobs_executions`: the pods of every Job of `namespace`.
///
/// ```
/// use clustermanager_core::{k8s, Operation, Step};
/// let mut op = k8s::execution::list_all(&k8s::Context::default(), "acm-run");
/// let Step::Send(req) = op.poll(std::time::Instant::now()) else { panic!() };
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

/// `list_job_executions`: the pods of Job `job`.
///
/// ```
/// use clustermanager_core::{k8s, Operation, Step};
/// let mut op = k8s::execution::list(&k8s::Context::default(), "acm-run", "failer");
/// let Step::Send(req) = op.poll(std::time::Instant::now()) else { panic!() };
/// assert_eq!(req.uri(), "/api/v1/namespaces/acm-run/pods?labelSelector=job-name%3Dfailer");
/// ```
pub fn list(
    ctx: &Context,
    namespace: &str,
    job: &str,
) -> impl Operation<Output = Vec<Execution>, Item = Infallible> + Send + 'static {
    let op = name::label("namespace", namespace)
        .and_then(|()| name::label("job name", job))
        .and_then(|()| list_request(namespace, &format!("{JOB_NAME_LABEL}={job}")))
        .map(|req| Call::new(req, &ctx.retry, parse_list));
    Checked::from(op)
}

/// `delete_execution`: delete pod `id`; `Ok(false)` if it did not exist. (The job controller
/// replaces a deleted pod of an unfinished job, within its backoff limit.)
///
/// ```
/// use clustermanager_core::{k8s, Operation, Step};
/// let mut op = k8s::execution::delete(&k8s::Context::default(), "acm-logs", "pending-pod");
/// let Step::Send(req) = op.poll(std::time::Instant::now()) else { panic!() };
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
