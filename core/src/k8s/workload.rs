//! Kubernetes `apps/v1` Deployments and StatefulSets from a [`ServiceSpec`]: create, list, get,
//! delete, wait until available (watching, never polling), and the pod selector for their
//! executions.
//!
//! **The object a [`ServiceSpec`] becomes**: `spec.replicas`, a `selector.matchLabels` of the
//! spec's labels (or `app: <name>` when it has none, added to the labels too), and the pod
//! template of [`super::pod_template`] with `restartPolicy: Always`. A StatefulSet also gets
//! `serviceName` (default: its own name), `podManagementPolicy` and `revisionHistoryLimit`
//! when given.
//!
//! **Available** ([`Workload::is_available`]), for the current generation
//! (`status.observedGeneration >= metadata.generation`): a Deployment whose `Available`
//! condition is `True` and whose updated and available replicas both reach `spec.replicas`; a
//! StatefulSet whose ready replicas reach `spec.replicas` and whose `currentRevision` is its
//! `updateRevision` (v1.19 StatefulSets report no `availableReplicas`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::api::{self, DeleteParams, Propagation, Resource};
use super::object::{ObjectCondition, ObjectMeta, Versioned};
use super::pod_template::{self, Extra, ObjMeta, Template};
use super::watcher::{Until, Update, WatchTarget, Watcher};
use super::{check, decode, name, Context};
use crate::error::{ApiError, Error, Result};
use crate::op::Call;
use crate::op::Checked;
use crate::raw::{Keeps, Raw};
use crate::reason::{Reason, ReasonKind};
use crate::step::{self, Operation, Response};
use crate::workload::{PodManagement, ServiceSpec, Workload, WorkloadKind};

/// How long `delete_deploy` / `delete_statefulset` with `wait` wait for the object to be gone
/// (the seed's 60 s).
pub const DELETE_WAIT_TIMEOUT: Duration = Duration::from_secs(60);

/// The resource of a workload kind.
pub fn resource(kind: WorkloadKind) -> Resource {
    match kind {
        WorkloadKind::Deployment => Resource::DEPLOYMENTS,
        WorkloadKind::StatefulSet => Resource::STATEFULSETS,
    }
}

fn what(kind: WorkloadKind) -> &'static str {
    match kind {
        WorkloadKind::Deployment => "deployment name",
        WorkloadKind::StatefulSet => "statefulset name",
    }
}

// ---------------------------------------------------------------------------------------------
// The body

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WorkloadBody<'a> {
    api_version: &'static str,
    kind: &'static str,
    metadata: ObjMeta<'a>,
    spec: WorkloadSpecBody<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WorkloadSpecBody<'a> {
    replicas: u32,
    selector: Selector<'a>,
    template: Template<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pod_management_policy: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revision_history_limit: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Selector<'a> {
    match_labels: &'a BTreeMap<String, String>,
}

/// The labels a workload's pods carry and its selector matches: the spec's, or `app: <name>`.
pub fn selector_labels(spec: &ServiceSpec) -> BTreeMap<String, String> {
    if spec.task.labels.is_empty() {
        BTreeMap::from([("app".to_owned(), spec.task.name.clone())])
    } else {
        spec.task.labels.clone()
    }
}

/// Validate `spec` and build the `apps/v1` body of `kind` for it (see the module docs).
pub fn body(kind: WorkloadKind, spec: &ServiceSpec) -> Result<Vec<u8>> {
    name::label(what(kind), &spec.task.name)?;
    let labels = selector_labels(spec);
    let extra = Extra { ports: &spec.ports, readiness: spec.readiness.as_ref(), liveness: spec.liveness.as_ref() };
    let template = pod_template::template(&spec.task, extra, "Always", &labels)?;
    let stateful = kind == WorkloadKind::StatefulSet;
    let service_name = match (&spec.stateful.service_name, stateful) {
        (Some(service), true) => {
            name::label("stateful.service_name", service)?;
            Some(service.as_str())
        }
        (None, true) => Some(spec.task.name.as_str()),
        (_, false) => None,
    };
    let body = WorkloadBody {
        api_version: "apps/v1",
        kind: kind.name(),
        metadata: ObjMeta {
            name: Some(&spec.task.name),
            labels: &labels,
            annotations: Cow::Borrowed(&spec.task.annotations),
        },
        spec: WorkloadSpecBody {
            replicas: spec.replicas,
            selector: Selector { match_labels: &labels },
            template,
            service_name,
            pod_management_policy: spec.stateful.pod_management.filter(|_| stateful).map(|p| match p {
                PodManagement::OrderedReady => "OrderedReady",
                PodManagement::Parallel => "Parallel",
            }),
            revision_history_limit: spec.stateful.revision_history_limit.filter(|_| stateful),
        },
    };
    serde_json::to_vec(&body).map_err(|e| Error::protocol(format!("could not encode the {}: {e}", kind.name())))
}

// ---------------------------------------------------------------------------------------------
// The lean object

/// The fields of a Deployment or StatefulSet the workload operations read.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WorkloadObject {
    /// `kind`, when the server says (not in list items).
    #[serde(default)]
    pub kind: String,
    /// Metadata.
    #[serde(default)]
    pub metadata: WorkloadMeta,
    /// `spec`.
    #[serde(default)]
    pub spec: WorkloadSpec,
    /// `status`.
    #[serde(default)]
    pub status: WorkloadStatus,
    /// The server's bytes of it, when kept ([`Versioned::keep_raw`]).
    #[serde(skip)]
    pub raw: crate::Raw,
}

/// [`ObjectMeta`] plus `generation`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WorkloadMeta {
    /// The common fields.
    #[serde(flatten)]
    pub common: ObjectMeta,
    /// `metadata.generation`.
    #[serde(default)]
    pub generation: Option<u64>,
}

/// `spec` fields read.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WorkloadSpec {
    /// `spec.replicas` (default 1).
    #[serde(default)]
    pub replicas: Option<u32>,
    /// `spec.selector`.
    #[serde(default)]
    pub selector: LabelSelectorBody,
}

/// A `selector`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelectorBody {
    /// `matchLabels`.
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
}

/// `status` fields read (Deployments and StatefulSets).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadStatus {
    /// `observedGeneration`.
    #[serde(default)]
    pub observed_generation: Option<u64>,
    /// `readyReplicas`.
    #[serde(default)]
    pub ready_replicas: Option<u32>,
    /// `availableReplicas` (Deployments).
    #[serde(default)]
    pub available_replicas: Option<u32>,
    /// `updatedReplicas`.
    #[serde(default)]
    pub updated_replicas: Option<u32>,
    /// `currentRevision` (StatefulSets).
    #[serde(default)]
    pub current_revision: Option<String>,
    /// `updateRevision` (StatefulSets).
    #[serde(default)]
    pub update_revision: Option<String>,
    /// `conditions`.
    #[serde(default)]
    pub conditions: Vec<ObjectCondition>,
}

impl Versioned for WorkloadObject {
    fn resource_version(&self) -> &str {
        &self.metadata.common.resource_version
    }
    fn keep_raw(&mut self, raw: crate::Raw) {
        self.raw = raw;
    }
}

impl WorkloadObject {
    /// The unified [`Workload`] of this object, of `kind`.
    pub fn into_workload(self, kind: WorkloadKind) -> Workload {
        let replicas = self.spec.replicas.unwrap_or(1);
        let s = &self.status;
        let current = match (self.metadata.generation, s.observed_generation) {
            (Some(generation), Some(observed)) => observed >= generation,
            (None, _) => true,
            (Some(_), None) => false,
        };
        let ready = s.ready_replicas.unwrap_or(0);
        let updated = s.updated_replicas.unwrap_or(0);
        let condition = |kind: &str| s.conditions.iter().find(|c| c.kind == kind);
        let (available, is_available, raw_status) = match kind {
            WorkloadKind::Deployment => {
                let available = s.available_replicas.unwrap_or(0);
                let up = condition("Available").is_some_and(|c| c.status == "True");
                let raw = s
                    .conditions
                    .iter()
                    .map(|c| {
                        format!(
                            "{}={}{}",
                            c.kind,
                            c.status,
                            c.reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                (available, current && up && updated >= replicas && available >= replicas, raw)
            }
            WorkloadKind::StatefulSet => {
                let revised = s.current_revision.is_some() && s.current_revision == s.update_revision;
                let raw = format!("{ready}/{replicas} ready");
                (ready, current && ready >= replicas && (revised || replicas == 0), raw)
            }
        };
        let deleting = self.metadata.common.deletion_timestamp.is_some();
        let meta = self.metadata.common;
        Workload {
            raw: self.raw,
            name: meta.name,
            namespace: meta.namespace,
            uid: meta.uid,
            replicas,
            ready,
            available,
            updated,
            is_available: is_available && !deleting,
            deleting,
            raw_status: if deleting { "Deleting".into() } else { raw_status },
            labels: meta.labels,
            selector: self.spec.selector.match_labels,
        }
    }
}

fn parse_one(kind: WorkloadKind) -> impl FnMut(Response) -> Result<Workload> + Send + 'static {
    move |resp| {
        let resp = check(resp)?;
        let workload = decode::<WorkloadObject>(kind.name(), resp.body())?.into_workload(kind);
        Ok(workload.keeping(Raw::whole(resp.into_body())))
    }
}

fn parse_many(kind: WorkloadKind) -> impl FnMut(Response) -> Result<Vec<Workload>> + Send + 'static {
    move |resp| api::parse_kept(&format!("{} list", kind.name()), resp, |o: WorkloadObject| o.into_workload(kind))
}

fn not_found(kind: WorkloadKind, namespace: &str, name: &str, while_waiting: bool) -> Error {
    let plural = match kind {
        WorkloadKind::Deployment => "deployments.apps",
        WorkloadKind::StatefulSet => "statefulsets.apps",
    };
    let message = if while_waiting {
        format!("{} {namespace}/{name} was deleted while waiting for it to be available", kind.name())
    } else {
        format!("{plural} {name:?} not found")
    };
    Error::NotFound(ApiError { status: 404, reason: Some("NotFound".into()), message, ..ApiError::default() })
}

// ---------------------------------------------------------------------------------------------
// Operations

/// `create_deploy` / `create_statefulset`: create a workload of `kind` from `spec`.
///
/// ```
/// use clustermanager_core::{k8s, JobSpec, Operation, ServiceSpec, Step, WorkloadKind};
/// let spec = ServiceSpec::new(JobSpec::new("web").image("nginx:1.25")).replicas(2);
/// let mut op = k8s::workload::create(&k8s::Context::default(), WorkloadKind::Deployment, "shop", &spec);
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { panic!() };
/// assert_eq!(req.uri().path(), "/apis/apps/v1/namespaces/shop/deployments");
/// ```
pub fn create(
    ctx: &Context,
    kind: WorkloadKind,
    namespace: &str,
    spec: &ServiceSpec,
) -> impl Operation<Output = Workload, Item = Infallible> + Send + 'static {
    let op = name::label("namespace", namespace)
        .and_then(|()| body(kind, spec))
        .and_then(|body| step::request(http::Method::POST, &resource(kind).list_path(Some(namespace))?, Some(body)))
        .map(|req| Call::new(req, &ctx.retry, parse_one(kind)));
    Checked::from(op)
}

/// `list_deploys` / `list_statefulsets`.
pub fn list(
    ctx: &Context,
    kind: WorkloadKind,
    namespace: &str,
) -> impl Operation<Output = Vec<Workload>, Item = Infallible> + Send + 'static {
    let op = name::label("namespace", namespace)
        .and_then(|()| step::request(http::Method::GET, &resource(kind).list_path(Some(namespace))?, None))
        .map(|req| Call::new(req, &ctx.retry, parse_many(kind)));
    Checked::from(op)
}

/// `get_deploy` / `get_statefulset` ([`Error::NotFound`] when it does not exist).
///
/// ```
/// use clustermanager_core::{k8s, Operation, Step, WorkloadKind};
/// let mut op = k8s::workload::get(&k8s::Context::default(), WorkloadKind::StatefulSet, "db", "pg");
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { panic!() };
/// assert_eq!(req.uri().path(), "/apis/apps/v1/namespaces/db/statefulsets/pg");
/// ```
pub fn get(
    ctx: &Context,
    kind: WorkloadKind,
    namespace: &str,
    name: &str,
) -> impl Operation<Output = Workload, Item = Infallible> + Send + 'static {
    let op = name::label("namespace", namespace)
        .and_then(|()| name::label(what(kind), name))
        .and_then(|()| step::request(http::Method::GET, &resource(kind).object_path(Some(namespace), name)?, None))
        .map(|req| Call::new(req, &ctx.retry, parse_one(kind)));
    Checked::from(op)
}

/// `delete_deploy` / `delete_statefulset`: delete with its pods (propagation `Background`, or
/// `Foreground` when waiting so that the pods are gone when it returns); `Ok(false)` if it did
/// not exist.
pub fn delete(
    ctx: &Context,
    kind: WorkloadKind,
    namespace: &str,
    name: &str,
    wait: bool,
    timeout: Option<Duration>,
) -> impl Operation<Output = bool, Item = Infallible> + Send + 'static {
    let propagation = if wait { Propagation::Foreground } else { Propagation::Background };
    let params = DeleteParams::propagation(propagation);
    let timeout = timeout.unwrap_or(DELETE_WAIT_TIMEOUT);
    let op = name::label("namespace", namespace)
        .and_then(|()| name::label(what(kind), name))
        .map(|()| api::delete_then(ctx, &resource(kind), Some(namespace), name, &params, wait, timeout));
    Checked::from(op)
}

/// The watch that [`wait_available`] runs.
pub fn wait_params(kind: WorkloadKind, namespace: &str, name: &str) -> Result<WatchTarget> {
    Ok(WatchTarget::new(
        resource(kind).list_path(Some(namespace))?,
        format!("{} {namespace}/{name} to be available", kind.name()),
    )
    .fields(format!("metadata.name={name}")))
}

/// `deploy_wait_available` / `statefulset_wait_available`: watch the workload until it is
/// available (module docs); returns it. [`Error::NotFound`] when it does not exist or is
/// deleted meanwhile; [`Error::Timeout`] after `timeout`; [`Error::CannotRun`] when a
/// Deployment's rollout exceeded its `progressDeadlineSeconds` (`Progressing=False`,
/// `ProgressDeadlineExceeded`).
///
/// ```
/// use clustermanager_core::{k8s, Operation, Step, WorkloadKind};
/// let mut op = k8s::workload::wait_available(&k8s::Context::default(), WorkloadKind::Deployment, "shop", "web", None);
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { panic!() };
/// assert_eq!(req.uri(), "/apis/apps/v1/namespaces/shop/deployments?fieldSelector=metadata.name%3Dweb");
/// ```
pub fn wait_available(
    ctx: &Context,
    kind: WorkloadKind,
    namespace: &str,
    name: &str,
    timeout: Option<Duration>,
) -> impl Operation<Output = Workload, Item = Infallible> + Send + 'static {
    let (ns, wanted) = (namespace.to_owned(), name.to_owned());
    let op = name::label("namespace", namespace)
        .and_then(|()| name::label(what(kind), name))
        .and_then(|()| wait_params(kind, namespace, name))
        .map(|params| {
            let watcher = Watcher::<WorkloadObject>::new(params, &ctx.retry, timeout);
            Until::new(watcher, move |update: Update<WorkloadObject>| -> Option<Result<Workload>> {
                let object = match update {
                    Update::Listed(items) => match items.into_iter().find(|o| o.metadata.common.name == wanted) {
                        Some(o) => o,
                        None => return Some(Err(not_found(kind, &ns, &wanted, false))),
                    },
                    Update::Added(o) | Update::Modified(o) => o,
                    Update::Deleted(_) => return Some(Err(not_found(kind, &ns, &wanted, true))),
                };
                let stalled = object
                    .status
                    .conditions
                    .iter()
                    .find(|c| c.kind == "Progressing" && c.status == "False")
                    .filter(|c| c.reason.as_deref() == Some("ProgressDeadlineExceeded"))
                    .map(|c| c.message.clone().unwrap_or_default());
                let workload = object.into_workload(kind);
                if workload.is_available {
                    return Some(Ok(workload));
                }
                // the rollout gave up (progressDeadlineSeconds): it will not become available
                // without a change
                stalled.map(|message| {
                    Err(Error::CannotRun {
                        job: format!("{}/{}", workload.namespace, workload.name),
                        reason: Reason::new(
                            ReasonKind::DeploymentFailed,
                            format!("the rollout made no progress within its deadline: {message}"),
                            true,
                            "Progressing=False: ProgressDeadlineExceeded",
                        ),
                    })
                })
            })
        });
    Checked::from(op)
}

/// The label selector (`k=v,k2=v2`) of a workload's pods, from its `matchLabels`.
pub fn pod_selector(workload: &Workload) -> Result<String> {
    if workload.selector.is_empty() {
        return Err(Error::protocol(format!("{} has no selector.matchLabels to find its pods by", workload.name)));
    }
    Ok(workload.selector.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","))
}

/// `list_deploy_pods` / `list_statefulset_pods`, second step: the pods matching `selector`.
pub fn pods(
    ctx: &Context,
    namespace: &str,
    selector: &str,
) -> impl Operation<Output = Vec<crate::model::Execution>, Item = Infallible> + Send + 'static {
    let op = name::label("namespace", namespace)
        .and_then(|()| super::execution::list_request(namespace, selector))
        .map(|req| Call::new(req, &ctx.retry, super::execution::parse_list));
    Checked::from(op)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;
    use crate::model::JobSpec;
    use crate::workload::{Port, Probe, StatefulOptions};

    fn json(kind: WorkloadKind, spec: &ServiceSpec) -> serde_json::Value {
        serde_json::from_slice(&body(kind, spec).unwrap()).unwrap()
    }

    #[test]
    fn a_deployment_selects_its_pods_by_the_spec_labels_or_its_name() {
        let spec = ServiceSpec::new(JobSpec::new("web").image("nginx:1.25")).replicas(3).port(Port::tcp("http", 80));
        let d = json(WorkloadKind::Deployment, &spec);
        assert_eq!(d["kind"], "Deployment");
        assert_eq!(d["spec"]["replicas"], 3);
        assert_eq!(d["spec"]["selector"]["matchLabels"]["app"], "web");
        assert_eq!(d["spec"]["template"]["metadata"]["labels"]["app"], "web");
        assert_eq!(d["spec"]["template"]["spec"]["restartPolicy"], "Always");
        assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"], 80);
        assert!(d["spec"].get("serviceName").is_none());
    }

    #[test]
    fn a_statefulset_has_a_governing_service_and_its_policies() {
        let spec = ServiceSpec::new(JobSpec::new("pg").image("postgres:13").label("app", "db"))
            .readiness(Probe::tcp(5432))
            .stateful(StatefulOptions {
                service_name: None,
                pod_management: Some(PodManagement::Parallel),
                revision_history_limit: Some(2),
            });
        let s = json(WorkloadKind::StatefulSet, &spec);
        assert_eq!(s["spec"]["serviceName"], "pg");
        assert_eq!(s["spec"]["podManagementPolicy"], "Parallel");
        assert_eq!(s["spec"]["revisionHistoryLimit"], 2);
        assert_eq!(s["spec"]["selector"]["matchLabels"]["app"], "db");
        assert_eq!(s["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["tcpSocket"]["port"], 5432);
    }

    #[test]
    fn a_probe_carries_its_scheme_timeout_and_thresholds_and_a_liveness_probe_takes_one_success() {
        let readiness = Probe::https("/ready", 8443).period(5).timeout(3).success_threshold(2).failure_threshold(4);
        let spec = ServiceSpec::new(JobSpec::new("web").image("nginx:1.25"))
            .readiness(readiness)
            .liveness(Probe::http("/live", 8080).initial_delay(7));
        let d = json(WorkloadKind::Deployment, &spec);
        let container = &d["spec"]["template"]["spec"]["containers"][0];
        let ready = &container["readinessProbe"];
        assert_eq!(ready["httpGet"], serde_json::json!({"path": "/ready", "port": 8443, "scheme": "HTTPS"}));
        assert_eq!((ready["periodSeconds"].as_u64(), ready["timeoutSeconds"].as_u64()), (Some(5), Some(3)));
        assert_eq!((ready["successThreshold"].as_u64(), ready["failureThreshold"].as_u64()), (Some(2), Some(4)));
        let live = &container["livenessProbe"];
        assert_eq!(live["httpGet"], serde_json::json!({"path": "/live", "port": 8080}), "plain HTTP: no scheme");
        assert_eq!((live["initialDelaySeconds"].as_u64(), live["timeoutSeconds"].as_u64()), (Some(7), Some(1)));
        assert_eq!(live["successThreshold"].as_u64(), Some(1));
        // Kubernetes refuses a liveness probe with another success threshold: refused before sending
        let refused =
            ServiceSpec::new(JobSpec::new("web").image("nginx:1.25")).liveness(Probe::tcp(80).success_threshold(2));
        match body(WorkloadKind::Deployment, &refused) {
            Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "liveness.success_threshold"),
            other => panic!("{other:?}"),
        }
    }

    fn object(text: &str) -> WorkloadObject {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn available_means_every_replica_of_the_current_generation() {
        let rolling = object(
            r#"{"metadata":{"name":"web","generation":2},"spec":{"replicas":2},
            "status":{"observedGeneration":1,"updatedReplicas":2,"availableReplicas":2,
            "conditions":[{"type":"Available","status":"True","reason":"MinimumReplicasAvailable"}]}}"#,
        );
        assert!(!rolling.into_workload(WorkloadKind::Deployment).is_available, "generation 2 not observed yet");
        let done = object(
            r#"{"metadata":{"name":"web","generation":2},"spec":{"replicas":2},
            "status":{"observedGeneration":2,"updatedReplicas":2,"availableReplicas":2,"readyReplicas":2,
            "conditions":[{"type":"Available","status":"True","reason":"MinimumReplicasAvailable"}]}}"#,
        );
        let w = done.into_workload(WorkloadKind::Deployment);
        assert!(w.is_available);
        assert_eq!(w.raw_status, "Available=True (MinimumReplicasAvailable)");
        let sts = object(
            r#"{"metadata":{"name":"pg","generation":1},"spec":{"replicas":3},
            "status":{"observedGeneration":1,"readyReplicas":2,"currentRevision":"pg-1","updateRevision":"pg-1"}}"#,
        );
        assert!(!sts.into_workload(WorkloadKind::StatefulSet).is_available);
    }
}
