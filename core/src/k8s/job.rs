//! Kubernetes batch/v1 Jobs: `create_job`, `list_jobs`, `get_job`, `delete_job`, `cleanup_jobs`.
//!
//! **The Job a [`JobSpec`] becomes** (mirroring the recorded `acm-08`/`acm-26` bodies): one
//! container named [`CONTAINER`] with `restartPolicy: Never`, `backoffLimit` from the spec, the
//! spec's labels on both the Job and its pod template, `env`, `envFrom`, `volumes`,
//! `volumeMounts`, and `resources.limits` from the parsed CPU/memory quantities in canonical
//! form (requests are left to Kubernetes, which defaults them to the limits). Command
//! semantics: without an entrypoint, `command` overrides the image's entrypoint and `args` are
//! its arguments; with an `entrypoint` (the seed's meaning), the entrypoint becomes the
//! container `command` and `command` followed by `args` its arguments. Names are checked before
//! anything is sent.
//!
//! **Unified status** ([`Status`]): a `Complete` condition that is `True` → `Succeeded`; `Failed`
//! → `Failed`; otherwise `SuccessCriteriaMet` or `FailureTarget` (Kubernetes 1.26+: the outcome
//! is decided, the controller is still terminating or counting pods) → `Running`; `Suspended`
//! → `Pending`; otherwise `active > 0` → `Running`; else `Pending`. `raw_status` is the deciding
//! condition type (`Complete`, `Failed`, `SuccessCriteriaMet`, `FailureTarget`, `Suspended`)
//! or `Running`/`Pending`.
//!
//! **When a Job has finished**, whichever server version: when it has `Complete` or `Failed`.
//! A 1.36 server writes `SuccessCriteriaMet` (or `FailureTarget`) first, with the finished pod
//! still in `uncountedTerminatedPods` and other pods possibly still terminating (`terminating`,
//! `acm-31`), and adds `Complete` (`Failed`) with the same reason once no pod is left
//! terminating and the counts have moved (`acm-27`, `acm-28`). A wait does not end on the first:
//! the Job it returns then has its final counts, its `completionTime`, and both conditions in
//! [`Job::conditions`](crate::Job::conditions); a 1.19 server's Job has `Complete` alone.
//!
//! **Deletion** always sends a `propagationPolicy` (batch/v1 Jobs would otherwise orphan their
//! pods, see `acm-11`): `purge` → `Background`, or `Foreground` when also waiting, so that the
//! pods are gone when the wait returns; no `purge` → `Orphan`. With `wait`, it watches the Job
//! until its `DELETED` event.

use std::borrow::Cow;
use std::convert::Infallible;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::api::{self, DeleteParams, Propagation, Resource};
use super::object::{ObjectCondition, ObjectMeta, Versioned};
use super::pod_template::{self, field_error, Extra, ObjMeta, Template};
use super::{check, decode, name, Context};
use crate::error::{Error, Result};
use crate::model::{Condition, DeleteOptions, Job, JobSpec, Status};
use crate::op::{Call, Checked, Flow, Machine, Next};
use crate::raw::{Keeps, Raw};
use crate::step::{self, Operation, Response};

pub use super::pod_template::CONTAINER;

/// How long `delete_job` with `wait` waits for the Job (and, with `purge`, its pods) to be gone.
pub const DELETE_WAIT_TIMEOUT: Duration = Duration::from_secs(300);

/// The collection path of Jobs in `namespace`.
pub fn collection(namespace: &str) -> String {
    format!("/apis/batch/v1/namespaces/{namespace}/jobs")
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// The lean Job object.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct JobObject {
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// `status`.
    #[serde(default)]
    pub status: JobStatus,
    /// The server's bytes of it, when kept ([`Versioned::keep_raw`]).
    #[serde(skip)]
    pub raw: crate::Raw,
}

/// The Job `status` fields kept.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobStatus {
    /// Conditions.
    #[serde(default)]
    pub conditions: Vec<ObjectCondition>,
    /// Start time.
    #[serde(default)]
    pub start_time: Option<String>,
    /// Completion time.
    #[serde(default)]
    pub completion_time: Option<String>,
    /// Running pods.
    #[serde(default)]
    pub active: u32,
    /// Succeeded pods.
    #[serde(default)]
    pub succeeded: u32,
    /// Failed pods.
    #[serde(default)]
    pub failed: u32,
}

impl Versioned for JobObject {
    fn resource_version(&self) -> &str {
        &self.metadata.resource_version
    }
    fn keep_raw(&mut self, raw: crate::Raw) {
        self.raw = raw;
    }
}

/// The unified status of a Job's `status` (see the module docs), with the raw value.
pub fn status_of(status: &JobStatus) -> (Status, &'static str) {
    let holds = |kind: &str| status.conditions.iter().any(|c| c.kind == kind && c.status == "True");
    if holds("Complete") {
        (Status::Succeeded, "Complete")
    } else if holds("Failed") {
        (Status::Failed, "Failed")
    } else if holds("FailureTarget") {
        (Status::Running, "FailureTarget")
    } else if holds("SuccessCriteriaMet") {
        (Status::Running, "SuccessCriteriaMet")
    } else if holds("Suspended") {
        (Status::Pending, "Suspended")
    } else if status.active > 0 {
        (Status::Running, "Running")
    } else {
        (Status::Pending, "Pending")
    }
}

impl JobObject {
    /// The orchestrator-neutral view.
    pub fn into_job(self) -> Job {
        let (status, raw) = status_of(&self.status);
        let pending_reason = super::reason::of_job_conditions(&self.status.conditions);
        Job {
            raw: self.raw,
            namespace: self.metadata.namespace,
            name: self.metadata.name,
            status: Some(status),
            raw_status: raw.to_owned(),
            active: self.status.active,
            succeeded: self.status.succeeded,
            failed: self.status.failed,
            pending: 0,
            start_time: self.status.start_time,
            completion_time: self.status.completion_time,
            conditions: self
                .status
                .conditions
                .into_iter()
                .map(|c| Condition { kind: c.kind, status: c.status, reason: c.reason, message: c.message })
                .collect(),
            labels: self.metadata.labels,
            version: self.metadata.resource_version,
            deleting: self.metadata.deletion_timestamp.is_some(),
            pending_reason,
            exit_code: None,
        }
    }
}

/// Parse a Job answer.
pub fn parse_job(resp: Response) -> Result<Job> {
    let resp = check(resp)?;
    let job = decode::<JobObject>("job", resp.body())?.into_job();
    Ok(job.keeping(Raw::whole(resp.into_body())))
}

/// Parse a `JobList` answer.
pub fn parse_list(resp: Response) -> Result<Vec<Job>> {
    super::api::parse_kept("job list", resp, JobObject::into_job)
}

// ---------------------------------------------------------------------------------------------
// The Job body

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JobBody<'a> {
    api_version: &'static str,
    kind: &'static str,
    metadata: ObjMeta<'a>,
    spec: JobSpecBody<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JobSpecBody<'a> {
    backoff_limit: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    active_deadline_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ttl_seconds_after_finished: Option<u64>,
    template: Template<'a>,
}

/// Whole seconds of `d`, at least 1 (a sub-second deadline would be 0: no deadline).
fn whole_seconds(d: Duration) -> u64 {
    d.as_secs().max(1)
}

/// Validate `spec` and build the batch/v1 Job body for it (see the module docs).
pub fn job_body(spec: &JobSpec) -> Result<Vec<u8>> {
    name::label("job name", &spec.name)?;
    let template = pod_template::template(spec, Extra::default(), "Never", &spec.labels)?;
    let body = JobBody {
        api_version: "batch/v1",
        kind: "Job",
        metadata: ObjMeta {
            name: Some(&spec.name),
            labels: &spec.labels,
            annotations: Cow::Borrowed(&spec.annotations),
        },
        spec: JobSpecBody {
            backoff_limit: spec.backoff_limit,
            active_deadline_seconds: spec.active_deadline.map(whole_seconds),
            ttl_seconds_after_finished: spec.ttl_after_finished.map(|d| d.as_secs()),
            template,
        },
    };
    serde_json::to_vec(&body).map_err(|e| field_error("job", format!("could not be serialized: {e}")))
}

// ---------------------------------------------------------------------------------------------
// Operations

/// `create_job`: create a batch/v1 Job from `spec` in `namespace`; returns it as created.
///
/// ```
/// use clustermanager_core::{k8s, Error, JobSpec, Operation, Step};
/// let spec = JobSpec::new("hello").image("busybox:1.36").command(["sh", "-c"]).args(["echo hi"]);
/// let mut op = k8s::job::create(&k8s::Context::default(), "acm-jobs", &spec);
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { panic!() };
/// assert_eq!(req.uri().path(), "/apis/batch/v1/namespaces/acm-jobs/jobs");
///
/// let bad = JobSpec::new("Hello_World").image("busybox");
/// let mut op = k8s::job::create(&k8s::Context::default(), "acm-jobs", &bad);
/// assert!(matches!(op.poll(std::time::Instant::now()), Step::Done(Err(Error::InvalidInput { .. }))));
/// ```
pub fn create(
    ctx: &Context,
    namespace: &str,
    spec: &JobSpec,
) -> impl Operation<Output = Job, Item = Infallible> + Send + 'static {
    let op = name::label("namespace", namespace)
        .and_then(|()| job_body(spec))
        .and_then(|body| step::request(http::Method::POST, &collection(namespace), Some(body)))
        .map(|req| Call::new(req, &ctx.retry, parse_job));
    Checked::from(op)
}

/// `list_jobs`: every Job of `namespace`.
///
/// ```
/// use clustermanager_core::{k8s, Operation, Step};
/// let mut op = k8s::job::list(&k8s::Context::default(), "acm-jobs");
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { panic!() };
/// assert_eq!(req.uri(), "/apis/batch/v1/namespaces/acm-jobs/jobs");
/// ```
pub fn list(ctx: &Context, namespace: &str) -> impl Operation<Output = Vec<Job>, Item = Infallible> + Send + 'static {
    let op = name::label("namespace", namespace)
        .and_then(|()| step::request(http::Method::GET, &collection(namespace), None))
        .map(|req| Call::new(req, &ctx.retry, parse_list));
    Checked::from(op)
}

/// `get_job`: one Job ([`Error::NotFound`] if it does not exist).
///
/// ```
/// use clustermanager_core::{k8s, Operation, Step};
/// let mut op = k8s::job::get(&k8s::Context::default(), "acm-jobs", "hello-ok");
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { panic!() };
/// assert_eq!(req.uri(), "/apis/batch/v1/namespaces/acm-jobs/jobs/hello-ok");
/// ```
pub fn get(
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> impl Operation<Output = Job, Item = Infallible> + Send + 'static {
    let op = name::label("namespace", namespace)
        .and_then(|()| name::label("job name", name))
        .and_then(|()| step::request(http::Method::GET, &format!("{}/{name}", collection(namespace)), None))
        .map(|req| Call::new(req, &ctx.retry, parse_job));
    Checked::from(op)
}

/// The `propagationPolicy` `delete_job` sends for these options (see the module docs).
pub fn propagation(options: DeleteOptions) -> Propagation {
    match (options.purge, options.wait) {
        (true, true) => Propagation::Foreground,
        (true, false) => Propagation::Background,
        (false, _) => Propagation::Orphan,
    }
}

fn delete_request(namespace: &str, name: &str, propagation: Propagation) -> Result<step::Request> {
    let path = Resource::JOBS.object_path(Some(namespace), name)?;
    api::delete_request(&path, &DeleteParams::propagation(propagation))
}

/// `delete_job`: delete a Job; `Ok(false)` if it did not exist. See the module docs for the
/// propagation policy and the wait.
///
/// ```
/// use clustermanager_core::{k8s, DeleteOptions, Operation, Step};
/// let opts = DeleteOptions { wait: true, purge: true };
/// let mut op = k8s::job::delete(&k8s::Context::default(), "acm-run", "failer", opts);
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { panic!() };
/// assert_eq!(req.method(), "DELETE");
/// assert!(std::str::from_utf8(req.body()).unwrap().contains("Foreground"));
/// ```
pub fn delete(
    ctx: &Context,
    namespace: &str,
    name: &str,
    options: DeleteOptions,
) -> impl Operation<Output = bool, Item = Infallible> + Send + 'static {
    let params = DeleteParams::propagation(propagation(options));
    let op = name::label("namespace", namespace).and_then(|()| name::label("job name", name)).map(|()| {
        api::delete_then(ctx, &Resource::JOBS, Some(namespace), name, &params, options.wait, DELETE_WAIT_TIMEOUT)
    });
    Checked::from(op)
}

/// The machine of [`cleanup`]: list, then delete each finished Job in turn.
#[derive(Debug)]
pub struct Cleanup {
    namespace: String,
    list: Option<step::Request>,
    listed: bool,
    todo: std::vec::IntoIter<String>,
    current: Option<String>,
    deleted: Vec<String>,
}

impl Machine for Cleanup {
    type Output = Vec<String>;

    fn step(&mut self, _now: Instant, answer: Option<Result<Response>>) -> Result<Next<Vec<String>>> {
        let Some(answer) = answer else {
            return Ok(Next::Send(self.list.take().ok_or_else(|| Error::protocol("cleanup_jobs list lost"))?));
        };
        if !self.listed {
            self.listed = true;
            let jobs = answer.and_then(parse_list)?;
            let finished: Vec<String> = jobs
                .into_iter()
                .filter(|j| !j.deleting && j.status.is_some_and(Status::is_terminal))
                .map(|j| j.name)
                .collect();
            self.todo = finished.into_iter();
        } else {
            match answer.and_then(check) {
                Ok(_) => self.deleted.extend(self.current.take()),
                // deleted by someone else meanwhile: not ours to report
                Err(Error::NotFound(_)) => self.current = None,
                Err(e) => return Err(e),
            }
        }
        match self.todo.next() {
            Some(name) => {
                let req = delete_request(&self.namespace, &name, Propagation::Background)?;
                self.current = Some(name);
                Ok(Next::Send(req))
            }
            None => Ok(Next::Done(Ok(std::mem::take(&mut self.deleted)))),
        }
    }
}

/// `cleanup_jobs`: delete every finished (Succeeded or Failed) Job of `namespace` with its pods
/// (propagation `Background`); returns the names deleted.
///
/// ```
/// use clustermanager_core::{k8s, Operation, Step};
/// let mut op = k8s::job::cleanup(&k8s::Context::default(), "acm-run");
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { panic!() };
/// assert_eq!(req.uri(), "/apis/batch/v1/namespaces/acm-run/jobs");
/// ```
pub fn cleanup(
    ctx: &Context,
    namespace: &str,
) -> impl Operation<Output = Vec<String>, Item = Infallible> + Send + 'static {
    let op = name::label("namespace", namespace)
        .and_then(|()| step::request(http::Method::GET, &collection(namespace), None))
        .map(|req| {
            let cleanup = Cleanup {
                namespace: namespace.to_owned(),
                list: Some(req),
                listed: false,
                todo: Vec::new().into_iter(),
                current: None,
                deleted: Vec::new(),
            };
            Flow::new(cleanup, &ctx.retry)
        });
    Checked::from(op)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EnvFrom, Volume, VolumeMount, VolumeSource};

    fn body_of(spec: &JobSpec) -> serde_json::Value {
        let bytes = job_body(spec).map_err(|e| e.to_string());
        let Ok(bytes) = bytes else { panic!("{bytes:?}") };
        serde_json::from_slice(&bytes).unwrap_or_default()
    }

    #[test]
    fn entrypoint_takes_command_and_args_as_arguments() {
        let spec = JobSpec::new("x").image("img").entrypoint(["/bin/tool"]).command(["run"]).args(["--fast"]);
        let b = body_of(&spec);
        let c = &b["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["command"], serde_json::json!(["/bin/tool"]));
        assert_eq!(c["args"], serde_json::json!(["run", "--fast"]));
    }

    #[test]
    fn volumes_mounts_env_from_and_canonical_limits() {
        let spec = JobSpec::new("x")
            .image("img")
            .cpu_limit("0.5")
            .mem_limit("1073741824")
            .env_from(EnvFrom::Secret("creds".into()))
            .volume(Volume { name: "data".into(), source: VolumeSource::Claim { name: "pvc-1".into() } })
            .volume(Volume { name: "scratch".into(), source: VolumeSource::EmptyDir })
            .volume(Volume {
                name: "nfs".into(),
                source: VolumeSource::Raw(serde_json::json!({"nfs": {"server": "s", "path": "/x"}})),
            })
            .volume_mount(VolumeMount { name: "data".into(), mount_path: "/data".into(), read_only: true });
        let b = body_of(&spec);
        let pod = &b["spec"]["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Never");
        assert_eq!(pod["containers"][0]["resources"]["limits"], serde_json::json!({"cpu": "500m", "memory": "1Gi"}));
        assert_eq!(pod["containers"][0]["envFrom"], serde_json::json!([{"secretRef": {"name": "creds"}}]));
        assert_eq!(
            pod["containers"][0]["volumeMounts"],
            serde_json::json!([{"name": "data", "mountPath": "/data", "readOnly": true}])
        );
        assert_eq!(
            pod["volumes"],
            serde_json::json!([
                {"name": "data", "persistentVolumeClaim": {"claimName": "pvc-1"}},
                {"name": "scratch", "emptyDir": {}},
                {"name": "nfs", "nfs": {"server": "s", "path": "/x"}},
            ])
        );
    }

    #[test]
    fn bad_specs_are_rejected_naming_the_field() {
        let cases = [
            (JobSpec::new("ok"), "image"),
            (JobSpec::new("Bad").image("i"), "job name"),
            (JobSpec::new("ok").image("i").cpu_limit("lots"), "cpu_limit"),
            (JobSpec::new("ok").image("i").mem_limit("-1"), "mem_limit"),
            (JobSpec::new("ok").image("i").env("A=B", "c"), "env[0].name"),
            (
                JobSpec::new("ok").image("i").volume_mount(VolumeMount {
                    name: "nope".into(),
                    mount_path: "/x".into(),
                    read_only: false,
                }),
                "volume_mounts[0].name",
            ),
        ];
        for (spec, field) in cases {
            match job_body(&spec) {
                Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_full_create_options_land_in_their_kubernetes_fields() {
        use crate::model::PullPolicy;
        let spec = JobSpec::new("train")
            .image("registry.example/train:3")
            .cpu_request("500m")
            .cpu_limit("2")
            .mem_request("1Gi")
            .mem_limit("4Gi")
            .gpus(2)
            .image_pull_secret("regcred")
            .image_pull_policy(PullPolicy::Always)
            .privileged(true)
            .annotation("team", "ml")
            .node_selector("disk", "ssd")
            .active_deadline(Duration::from_secs(3600))
            .ttl_after_finished(Duration::from_secs(600))
            .service_account("trainer")
            .working_dir("/work")
            .network_mode("host");
        let b = body_of(&spec);
        let (job, pod) = (&b["spec"], &b["spec"]["template"]["spec"]);
        let c = &pod["containers"][0];
        assert_eq!(c["resources"]["requests"], serde_json::json!({"cpu": "500m", "memory": "1Gi"}));
        assert_eq!(c["resources"]["limits"], serde_json::json!({"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "2"}));
        assert_eq!((c["imagePullPolicy"].as_str(), c["workingDir"].as_str()), (Some("Always"), Some("/work")));
        assert_eq!(c["securityContext"]["privileged"], true);
        assert_eq!(pod["imagePullSecrets"][0]["name"], "regcred");
        assert_eq!(pod["nodeSelector"]["disk"], "ssd");
        assert_eq!(pod["serviceAccountName"], "trainer");
        assert_eq!(pod["hostNetwork"], true);
        assert_eq!(
            (job["activeDeadlineSeconds"].as_u64(), job["ttlSecondsAfterFinished"].as_u64()),
            (Some(3600), Some(600))
        );
        assert_eq!(b["metadata"]["annotations"]["team"], "ml");
        assert_eq!(b["spec"]["template"]["metadata"]["annotations"]["team"], "ml");
    }

    #[test]
    fn affinity_tolerations_and_security_context_are_sent_as_given() {
        use serde_json::json;
        let affinity = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]}}});
        let gpu = json!({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"});
        let spec = JobSpec::new("train")
            .image("registry.example/train:3")
            .affinity(affinity.clone())
            .toleration(gpu.clone())
            .security_context(json!({"runAsUser": 1000}))
            .privileged(true);
        let b = body_of(&spec);
        let pod = &b["spec"]["template"]["spec"];
        assert_eq!((&pod["affinity"], &pod["tolerations"]), (&affinity, &json!([gpu])));
        assert_eq!(pod["containers"][0]["securityContext"], json!({"runAsUser": 1000, "privileged": true}));
        for (spec, field) in [
            (JobSpec::new("x").image("busybox").affinity(json!(["zone"])), "affinity"),
            (JobSpec::new("x").image("busybox").toleration(json!("gpu")), "tolerations"),
            (JobSpec::new("x").image("busybox").security_context(json!(1000)), "security_context"),
        ] {
            match job_body(&spec) {
                Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_named_container_is_also_the_pods_default_container() {
        let plain = body_of(&JobSpec::new("x").image("busybox"));
        assert_eq!(plain["spec"]["template"]["spec"]["containers"][0]["name"], "main");
        assert!(plain["spec"]["template"]["metadata"].get("annotations").is_none(), "{plain}");
        let named = body_of(&JobSpec::new("x").image("busybox").container("worker").annotation("team", "ml"));
        let template = &named["spec"]["template"];
        assert_eq!(template["spec"]["containers"][0]["name"], "worker");
        assert_eq!(template["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"], "worker");
        assert_eq!(template["metadata"]["annotations"]["team"], "ml");
        // the Job's own annotations are the spec's only
        assert!(named["metadata"]["annotations"].get("kubectl.kubernetes.io/default-container").is_none());
        match job_body(&JobSpec::new("x").image("busybox").container("Not_A_Label")) {
            Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "container"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn nomad_only_options_are_refused_naming_the_kubernetes_way() {
        let base = || JobSpec::new("x").image("busybox");
        for (spec, field) in [
            (base().constraint(crate::model::Constraint::new("${attr.kernel.name}", "=", "linux")), "constraints"),
            (base().datacenter("dc2"), "datacenters"),
            (base().template("{{ key \"x\" }}", "local/x"), "templates"),
            (base().network_mode("bridge"), "network_mode"),
        ] {
            match job_body(&spec) {
                Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn propagation_policies() {
        assert_eq!(propagation(DeleteOptions { wait: true, purge: true }), Propagation::Foreground);
        assert_eq!(propagation(DeleteOptions { wait: false, purge: true }), Propagation::Background);
        assert_eq!(propagation(DeleteOptions { wait: true, purge: false }), Propagation::Orphan);
        assert_eq!(propagation(DeleteOptions::default()), Propagation::Background, "the seed purged by default");
    }
}
