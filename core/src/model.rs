//! The model: the lean, orchestrator-neutral types the [`ClusterManager`](crate::ClusterManager)
//! methods take and return for jobs, named from the crate root (the long-running workloads'
//! types are in `workload`, named from the root too). Each holds the fields the API promises;
//! the server's whole object it was read from is its `raw` field ([`Raw`](crate::Raw), the
//! seed's `_raw`: kept bytes decoded on demand), and any other endpoint is reachable through the
//! escape hatch ([`ClusterManager::kubernetes`](crate::ClusterManager::kubernetes),
//! [`ClusterManager::nomad`](crate::ClusterManager::nomad)).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::quantity::{Cpu, Memory};

/// Which orchestrator a config or client talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Orchestrator {
    /// A Kubernetes apiserver.
    Kubernetes,
    /// A HashiCorp Nomad agent.
    Nomad,
}

impl Orchestrator {
    /// `"Kubernetes"` or `"Nomad"`.
    pub fn name(self) -> &'static str {
        match self {
            Orchestrator::Kubernetes => "Kubernetes",
            Orchestrator::Nomad => "Nomad",
        }
    }
}

pub use crate::status::Status;

/// A cluster node.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Node {
    /// Unique id (Kubernetes: the node name; Nomad: the node ID).
    pub id: String,
    /// Name.
    pub name: String,
    /// Raw status (`Ready`/`NotReady`/`Unknown` on Kubernetes; `ready`/`down`/`initializing` on Nomad).
    pub status: String,
    /// Whether the node accepts work (Ready and schedulable / eligible).
    pub ready: bool,
    /// Nomad datacenter, or the Kubernetes `topology.kubernetes.io/zone` label.
    pub datacenter: Option<String>,
    /// Nomad scheduling eligibility (`eligible`/`ineligible`); Kubernetes `unschedulable` maps here.
    pub eligibility: Option<String>,
    /// Healthy task drivers (Nomad) — empty on Kubernetes.
    pub drivers: Vec<String>,
    /// Total CPU.
    pub cpu_capacity: Option<Cpu>,
    /// Total memory.
    pub memory_capacity: Option<Memory>,
    /// CPU available to work.
    pub cpu_allocatable: Option<Cpu>,
    /// Memory available to work.
    pub memory_allocatable: Option<Memory>,
    /// Labels (Kubernetes) or metadata (Nomad `Meta`).
    pub labels: BTreeMap<String, String>,
    /// The server's whole object this value was read from (the seed's `_raw`), decoded on
    /// demand; see [`Raw`](crate::Raw).
    pub raw: crate::raw::Raw,
}

/// A job condition (Kubernetes `status.conditions`); Nomad jobs have none.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Condition {
    /// `Complete`, `Failed`, `Suspended`, ...
    pub kind: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// Machine-readable reason (`BackoffLimitExceeded`, ...).
    pub reason: Option<String>,
    /// Human-readable message.
    pub message: Option<String>,
}

/// A batch job.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Job {
    /// Namespace the job lives in.
    pub namespace: String,
    /// Name (Kubernetes `metadata.name`, Nomad job ID).
    pub name: String,
    /// Unified status; `None` when it cannot be told yet.
    pub status: Option<Status>,
    /// The server's own status value (Nomad `Status`, or the Kubernetes condition that decided).
    pub raw_status: String,
    /// Executions running now.
    pub active: u32,
    /// Executions that succeeded.
    pub succeeded: u32,
    /// Executions that failed.
    pub failed: u32,
    /// Executions waiting to start (Nomad summary `Queued + Starting`).
    pub pending: u32,
    /// Start time (RFC 3339), if known.
    pub start_time: Option<String>,
    /// Completion time (RFC 3339), if known.
    pub completion_time: Option<String>,
    /// Conditions (Kubernetes only).
    pub conditions: Vec<Condition>,
    /// Labels (Kubernetes) or `Meta` (Nomad).
    pub labels: BTreeMap<String, String>,
    /// Kubernetes `resourceVersion` or Nomad `ModifyIndex`, as text.
    pub version: String,
    /// Whether the job is being deleted (Kubernetes `deletionTimestamp`, Nomad `Stop`).
    pub deleting: bool,
    /// Why the job has no running or finished execution, or why it failed, when the server says
    /// (a blocked Nomad evaluation, an unschedulable pod, an image that cannot be pulled, a
    /// Kubernetes `Failed` condition, ...). `get_job` and the waits fill it in.
    pub pending_reason: Option<crate::reason::Reason>,
    /// How a finished job ended: the exit code of the failed container or task of its newest
    /// failed execution (a `Failed` job), 0 for a `Succeeded` one. `None` while it runs, or when no execution says (its pods were deleted, a Nomad task
    /// that never started). `get_job` and `wait_for_job` fill it in.
    pub exit_code: Option<i32>,
    /// The server's whole object this value was read from (the seed's `_raw`), decoded on
    /// demand; see [`Raw`](crate::Raw).
    pub raw: crate::raw::Raw,
}

/// The state of one container (Kubernetes) or task (Nomad) of an execution.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskState {
    /// Container or task name.
    pub name: String,
    /// `waiting`/`running`/`terminated` (Kubernetes) or `pending`/`running`/`dead` (Nomad).
    pub state: String,
    /// Exit code once terminated.
    pub exit_code: Option<i32>,
    /// Why it is in that state (`Completed`, `Error`, `ContainerCreating`, a Nomad event, ...).
    pub reason: Option<String>,
    /// Whether the task failed (Nomad `Failed`, or a non-zero exit code).
    pub failed: bool,
    /// Restart count.
    pub restarts: u32,
}

/// One execution of a job: a Kubernetes pod or a Nomad allocation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Execution {
    /// Pod name or allocation ID.
    pub id: String,
    /// The job it belongs to.
    pub job_name: String,
    /// Namespace.
    pub namespace: String,
    /// Unified status.
    pub status: Option<Status>,
    /// Pod phase or allocation `ClientStatus`.
    pub raw_status: String,
    /// Node it was placed on (Kubernetes node name, Nomad node ID), if any.
    pub node: Option<String>,
    /// Containers or tasks.
    pub tasks: Vec<TaskState>,
    /// Creation time (RFC 3339), if known.
    pub created: Option<String>,
    /// The server's whole object this value was read from (the seed's `_raw`), decoded on
    /// demand; see [`Raw`](crate::Raw).
    pub raw: crate::raw::Raw,
}

/// A namespace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Namespace {
    /// Name.
    pub name: String,
    /// `Active`/`Terminating` on Kubernetes; Nomad namespaces are always `Active`.
    pub phase: String,
    /// Description (Nomad) or none.
    pub description: Option<String>,
    /// The server's whole object this value was read from (the seed's `_raw`), decoded on
    /// demand; see [`Raw`](crate::Raw).
    pub raw: crate::raw::Raw,
}

/// An environment variable for a job's container/task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvVar {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
}

/// Where a volume's content comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum VolumeSource {
    /// A directory of the node (Kubernetes `hostPath`; Nomad docker bind mount / host volume).
    HostPath {
        /// Path on the node.
        path: String,
    },
    /// A scratch directory that lives as long as the execution.
    EmptyDir,
    /// A Kubernetes ConfigMap.
    ConfigMap {
        /// The ConfigMap's name.
        name: String,
    },
    /// A Kubernetes Secret.
    Secret {
        /// The Secret's name.
        name: String,
    },
    /// A PersistentVolumeClaim (Kubernetes) or a CSI/host volume by source name (Nomad).
    Claim {
        /// Claim (or Nomad volume source) name.
        name: String,
    },
    /// Any other Kubernetes volume source, as JSON (`{"nfs": {...}}`).
    Raw(serde_json::Value),
}

/// A named volume a job can mount.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Volume {
    /// Name, referred to by [`VolumeMount::name`].
    pub name: String,
    /// Content.
    pub source: VolumeSource,
}

/// Where a [`Volume`] appears inside the container/task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeMount {
    /// The volume's name.
    pub name: String,
    /// Mount path in the container.
    pub mount_path: String,
    /// Mount read-only.
    pub read_only: bool,
}

/// Environment taken from a whole ConfigMap or Secret (Kubernetes `envFrom`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EnvFrom {
    /// All keys of a ConfigMap.
    ConfigMap(String),
    /// All keys of a Secret.
    Secret(String),
}

/// Nomad task driver for a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Driver {
    /// `docker` (needs an image).
    Docker,
    /// `exec` (isolated command).
    Exec,
    /// `raw_exec` (command without isolation).
    RawExec,
    /// Any other driver by name (`podman`, `java`, ...), with `config` from the spec's image and command.
    Other(String),
}

impl Driver {
    /// The driver to run a command with on these Nomad nodes: `docker` when a ready node has it
    /// healthy, otherwise the isolating `exec`, otherwise `raw_exec`; `None` when no ready node
    /// offers any of them. With the reason in words, for a user to see.
    ///
    /// ```
    /// use clustermanager_core::{Driver, Node};
    /// let node = Node { ready: true, drivers: vec!["exec".into(), "raw_exec".into()], ..Node::default() };
    /// let (driver, why) = Driver::offered_by(&[node]).unwrap();
    /// assert_eq!(driver, Driver::Exec);
    /// assert!(why.contains("no ready node has docker"));
    /// ```
    pub fn offered_by(nodes: &[Node]) -> Option<(Driver, String)> {
        let ready: Vec<&Node> = nodes.iter().filter(|n| n.ready).collect();
        let has = |d: &str| ready.iter().filter(|n| n.drivers.iter().any(|x| x == d)).count();
        let total = ready.len();
        if has("docker") > 0 {
            return Some((Driver::Docker, format!("{} of {total} ready nodes have docker", has("docker"))));
        }
        if has("exec") > 0 {
            return Some((Driver::Exec, format!("no ready node has docker; {} of {total} have exec", has("exec"))));
        }
        if has("raw_exec") > 0 {
            return Some((
                Driver::RawExec,
                format!(
                    "no ready node has docker or exec; {} of {total} have raw_exec (no isolation)",
                    has("raw_exec")
                ),
            ));
        }
        None
    }
}

/// Everything needed to create a batch job, built with [`JobSpec::new`] and its setters.
///
/// ```
/// use clustermanager_core::JobSpec;
/// let spec = JobSpec::new("hello")
///     .image("busybox:1.36")
///     .command(["sh", "-c"])
///     .args(["echo hello"])
///     .cpu_limit("500m")
///     .mem_limit("256Mi")
///     .env("GREETING", "hi");
/// assert_eq!(spec.name, "hello");
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobSpec {
    /// Job name (validated as an RFC 1123 label on Kubernetes).
    pub name: String,
    /// Container image (Kubernetes; Nomad `docker` driver).
    pub image: Option<String>,
    /// Command: overrides the image's entrypoint (Kubernetes `command`).
    pub command: Vec<String>,
    /// Arguments (Kubernetes `args`).
    pub args: Vec<String>,
    /// CPU limit as a Kubernetes quantity (`"500m"`, `"1.5"`); Nomad gets MHz from it.
    pub cpu_limit: Option<String>,
    /// Memory limit as a Kubernetes quantity (`"256Mi"`, `"1G"`); Nomad gets MB from it.
    pub mem_limit: Option<String>,
    /// Environment variables.
    pub env: Vec<EnvVar>,
    /// Volumes.
    pub volumes: Vec<Volume>,
    /// Volume mounts.
    pub volume_mounts: Vec<VolumeMount>,
    /// Environment from ConfigMaps/Secrets (Kubernetes only).
    pub env_from: Vec<EnvFrom>,
    /// Entrypoint: with an image, replaces the image's entrypoint while `command` stays the
    /// arguments (the seed's meaning); Nomad docker `entrypoint`.
    pub entrypoint: Vec<String>,
    /// Retries before the job counts as failed (Kubernetes `backoffLimit`, Nomad restart
    /// attempts). Default 0: a failed execution fails the job.
    pub backoff_limit: u32,
    /// Labels (Kubernetes) or `Meta` (Nomad).
    pub labels: BTreeMap<String, String>,
    /// Nomad driver; inferred when `None` (`docker` with an image, else the isolating `exec`;
    /// `raw_exec` only when chosen).
    pub driver: Option<Driver>,
    /// Annotations (Kubernetes, on the object and its pods) or more `Meta` (Nomad).
    pub annotations: BTreeMap<String, String>,
    /// CPU request (a Kubernetes quantity), distinct from the limit. Nomad reserves CPU: its
    /// `CPU` is the request when given, else the limit.
    pub cpu_request: Option<String>,
    /// Memory request (a Kubernetes quantity), distinct from the limit. Nomad: `MemoryMB` is
    /// the request and `MemoryMaxMB` the limit when both are given.
    pub mem_request: Option<String>,
    /// NVIDIA GPUs (Kubernetes `nvidia.com/gpu` limit; Nomad `device "nvidia/gpu"` count).
    pub gpus: u32,
    /// Secrets holding registry credentials (Kubernetes `imagePullSecrets`; not offered on
    /// Nomad, whose docker driver takes credentials in the job: refused there).
    pub image_pull_secrets: Vec<String>,
    /// When to pull the image (Kubernetes `imagePullPolicy`; Nomad docker `force_pull` for
    /// `Always`, refused for `Never`).
    pub image_pull_policy: Option<PullPolicy>,
    /// Run the container privileged (Kubernetes `securityContext.privileged`; Nomad docker
    /// `privileged`, which the client must allow).
    pub privileged: bool,
    /// Only on nodes with these labels (Kubernetes `nodeSelector`; Nomad constraints
    /// `${meta.<key>} = <value>` on the node's metadata).
    pub node_selector: BTreeMap<String, String>,
    /// Fail the job when it ran this long (Kubernetes `activeDeadlineSeconds`; refused on Nomad
    /// 1.1, which has no run-time limit for batch jobs).
    pub active_deadline: Option<std::time::Duration>,
    /// Delete the finished job after this long (Kubernetes `ttlSecondsAfterFinished`, needs
    /// the TTL controller, alpha and off by default before 1.21; refused on Nomad, whose
    /// garbage collection is server configuration).
    pub ttl_after_finished: Option<std::time::Duration>,
    /// The pods' service account (Kubernetes `serviceAccountName`; refused on Nomad).
    pub service_account: Option<String>,
    /// The command's working directory (Kubernetes `workingDir`; Nomad docker `work_dir`,
    /// refused for other drivers).
    pub working_dir: Option<String>,
    /// Nomad placement constraints (refused on Kubernetes: use `node_selector`).
    pub constraints: Vec<Constraint>,
    /// Nomad datacenters (default: every datacenter of the agent's region; refused on
    /// Kubernetes).
    pub datacenters: Vec<String>,
    /// Nomad templates rendered into the task's directory (refused on Kubernetes: use a
    /// ConfigMap volume).
    pub templates: Vec<TaskTemplate>,
    /// Nomad docker `network_mode` (`host`, `bridge`, ...). On Kubernetes `host` means
    /// `hostNetwork: true`; other modes are refused.
    pub network_mode: Option<String>,
    /// The pods' `affinity`, as Kubernetes takes it (a JSON object: `nodeAffinity`,
    /// `podAffinity`, `podAntiAffinity`); sent unchanged, checked by the server. Refused on
    /// Nomad: use `constraints`.
    pub affinity: Option<serde_json::Value>,
    /// The pods' `tolerations`, as Kubernetes takes them (JSON objects: `key`, `operator`,
    /// `value`, `effect`, `tolerationSeconds`), so they may run on tainted nodes; sent unchanged.
    /// Refused on Nomad, which has no taints.
    pub tolerations: Vec<serde_json::Value>,
    /// The container's `securityContext`, as Kubernetes takes it (a JSON object: `runAsUser`,
    /// `capabilities`, ...); `privileged` is added to it when set. Refused on Nomad: use
    /// `privileged` or the driver's own options.
    pub security_context: Option<serde_json::Value>,
    /// The container's name (Kubernetes; default `main`), an RFC 1123 label. Another name is
    /// also set as the pod's default container (`kubectl.kubernetes.io/default-container`), so
    /// logs of a pod with injected sidecars still read it. Refused on Nomad, whose task is
    /// always named after the job's group.
    pub container: Option<String>,
}

/// When a container image is pulled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    /// Every time a container starts.
    Always,
    /// Only when the node does not have it.
    IfNotPresent,
    /// Never: the node must have it.
    Never,
}

impl PullPolicy {
    /// The Kubernetes value.
    pub fn name(self) -> &'static str {
        match self {
            PullPolicy::Always => "Always",
            PullPolicy::IfNotPresent => "IfNotPresent",
            PullPolicy::Never => "Never",
        }
    }
}

/// A Nomad placement constraint (`LTarget Operand RTarget`), e.g. `${attr.kernel.name} = linux`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    /// The attribute, e.g. `${attr.kernel.name}` or `${meta.rack}`.
    pub attribute: String,
    /// `=`, `!=`, `>`, `>=`, `<`, `<=`, `regexp`, `set_contains`, `version`, `distinct_hosts`, ...
    pub operator: String,
    /// The value.
    pub value: String,
}

impl Constraint {
    /// `attribute operator value`.
    pub fn new(attribute: impl Into<String>, operator: impl Into<String>, value: impl Into<String>) -> Self {
        Constraint { attribute: attribute.into(), operator: operator.into(), value: value.into() }
    }
}

/// A Nomad template: `data` rendered to `destination` (relative to the task directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskTemplate {
    /// The template text (consul-template syntax).
    pub data: String,
    /// Where the rendered file goes, e.g. `local/config.yml`.
    pub destination: String,
}

impl JobSpec {
    /// A spec for a job named `name`; set the rest with the builder methods.
    pub fn new(name: impl Into<String>) -> Self {
        JobSpec { name: name.into(), ..JobSpec::default() }
    }
    /// Set the image.
    pub fn image(mut self, image: impl Into<String>) -> Self {
        self.image = Some(image.into());
        self
    }
    /// Set the command.
    pub fn command<I: IntoIterator<Item = S>, S: Into<String>>(mut self, command: I) -> Self {
        self.command = command.into_iter().map(Into::into).collect();
        self
    }
    /// Set the arguments.
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }
    /// Set the entrypoint.
    pub fn entrypoint<I: IntoIterator<Item = S>, S: Into<String>>(mut self, entrypoint: I) -> Self {
        self.entrypoint = entrypoint.into_iter().map(Into::into).collect();
        self
    }
    /// Set the CPU limit (a Kubernetes quantity).
    pub fn cpu_limit(mut self, cpu: impl Into<String>) -> Self {
        self.cpu_limit = Some(cpu.into());
        self
    }
    /// Set the memory limit (a Kubernetes quantity).
    pub fn mem_limit(mut self, mem: impl Into<String>) -> Self {
        self.mem_limit = Some(mem.into());
        self
    }
    /// Add an environment variable.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push(EnvVar { name: name.into(), value: value.into() });
        self
    }
    /// Add a volume.
    pub fn volume(mut self, volume: Volume) -> Self {
        self.volumes.push(volume);
        self
    }
    /// Add a volume mount.
    pub fn volume_mount(mut self, mount: VolumeMount) -> Self {
        self.volume_mounts.push(mount);
        self
    }
    /// Add an `envFrom` source.
    pub fn env_from(mut self, source: EnvFrom) -> Self {
        self.env_from.push(source);
        self
    }
    /// Set the backoff limit.
    pub fn backoff_limit(mut self, limit: u32) -> Self {
        self.backoff_limit = limit;
        self
    }
    /// Add a label.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }
    /// Choose the Nomad driver.
    pub fn driver(mut self, driver: Driver) -> Self {
        self.driver = Some(driver);
        self
    }
    /// Add an annotation.
    pub fn annotation(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.annotations.insert(key.into(), value.into());
        self
    }
    /// Set the CPU request (a Kubernetes quantity).
    pub fn cpu_request(mut self, cpu: impl Into<String>) -> Self {
        self.cpu_request = Some(cpu.into());
        self
    }
    /// Set the memory request (a Kubernetes quantity).
    pub fn mem_request(mut self, mem: impl Into<String>) -> Self {
        self.mem_request = Some(mem.into());
        self
    }
    /// Ask for NVIDIA GPUs.
    pub fn gpus(mut self, count: u32) -> Self {
        self.gpus = count;
        self
    }
    /// Add an image pull secret.
    pub fn image_pull_secret(mut self, name: impl Into<String>) -> Self {
        self.image_pull_secrets.push(name.into());
        self
    }
    /// Set the image pull policy.
    pub fn image_pull_policy(mut self, policy: PullPolicy) -> Self {
        self.image_pull_policy = Some(policy);
        self
    }
    /// Run privileged.
    pub fn privileged(mut self, privileged: bool) -> Self {
        self.privileged = privileged;
        self
    }
    /// Only on nodes with this label (Nomad: node meta).
    pub fn node_selector(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.node_selector.insert(key.into(), value.into());
        self
    }
    /// Set the active deadline.
    pub fn active_deadline(mut self, deadline: std::time::Duration) -> Self {
        self.active_deadline = Some(deadline);
        self
    }
    /// Set the TTL after the job finished.
    pub fn ttl_after_finished(mut self, ttl: std::time::Duration) -> Self {
        self.ttl_after_finished = Some(ttl);
        self
    }
    /// Set the service account.
    pub fn service_account(mut self, name: impl Into<String>) -> Self {
        self.service_account = Some(name.into());
        self
    }
    /// Set the working directory.
    pub fn working_dir(mut self, dir: impl Into<String>) -> Self {
        self.working_dir = Some(dir.into());
        self
    }
    /// Add a Nomad constraint.
    pub fn constraint(mut self, constraint: Constraint) -> Self {
        self.constraints.push(constraint);
        self
    }
    /// Add a Nomad datacenter.
    pub fn datacenter(mut self, dc: impl Into<String>) -> Self {
        self.datacenters.push(dc.into());
        self
    }
    /// Add a Nomad template.
    pub fn template(mut self, data: impl Into<String>, destination: impl Into<String>) -> Self {
        self.templates.push(TaskTemplate { data: data.into(), destination: destination.into() });
        self
    }
    /// Set the docker network mode.
    pub fn network_mode(mut self, mode: impl Into<String>) -> Self {
        self.network_mode = Some(mode.into());
        self
    }
    /// Set the pods' Kubernetes `affinity` (a JSON object).
    pub fn affinity(mut self, affinity: serde_json::Value) -> Self {
        self.affinity = Some(affinity);
        self
    }
    /// Add a Kubernetes toleration (a JSON object), e.g.
    /// `json!({"key": "gpu", "operator": "Exists", "effect": "NoSchedule"})`.
    pub fn toleration(mut self, toleration: serde_json::Value) -> Self {
        self.tolerations.push(toleration);
        self
    }
    /// Set the container's Kubernetes `securityContext` (a JSON object).
    pub fn security_context(mut self, context: serde_json::Value) -> Self {
        self.security_context = Some(context);
        self
    }
    /// Name the container (Kubernetes; default `main`).
    pub fn container(mut self, name: impl Into<String>) -> Self {
        self.container = Some(name.into());
        self
    }
}

/// How [`delete_job`](crate::ClusterManager::delete_job) deletes. The default is the seed's:
/// `purge: true` (the executions go too, and on Nomad the name can be used again at once),
/// `wait: false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeleteOptions {
    /// Wait until the job (and, with `purge`, its executions) are gone.
    pub wait: bool,
    /// Also delete the executions (Kubernetes propagation Foreground/Background rather than
    /// Orphan) and, on Nomad, purge the job from the state store (`?purge=true`).
    pub purge: bool,
}

impl Default for DeleteOptions {
    fn default() -> Self {
        DeleteOptions { wait: false, purge: true }
    }
}

/// Options of a log request. Fields an orchestrator does not know are ignored there (and say so).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogOptions {
    /// Container (Kubernetes) or task (Nomad); defaults to the only/first one.
    pub container: Option<String>,
    /// Only the last N lines (Kubernetes `tailLines`).
    pub tail_lines: Option<u64>,
    /// Only lines newer than this many seconds (Kubernetes `sinceSeconds`).
    pub since_seconds: Option<u64>,
    /// Prefix each line with its timestamp (Kubernetes).
    pub timestamps: bool,
    /// Logs of the previous, terminated container instance (Kubernetes).
    pub previous: bool,
    /// Read stderr instead of stdout (Nomad; Kubernetes interleaves both).
    pub stderr: bool,
    /// Start this many bytes from the start (or, with `from_end`, from the end) of the log (Nomad).
    pub offset: Option<u64>,
    /// Count `offset` from the end (Nomad `origin=end`).
    pub from_end: bool,
}

/// The scale of a deployment (Kubernetes) or task group (Nomad).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scale {
    /// Deployment name or `job/group`.
    pub name: String,
    /// The replicas there are now: Kubernetes' `status.replicas` (0 when the server leaves it
    /// out), Nomad's running count. The number the seed's `get_scale_deploy` returned.
    pub replicas: u32,
    /// The replicas asked for: `spec.replicas`, Nomad's desired count (after a
    /// `set_scale_deploy`: the count just set).
    pub desired: u32,
    /// The server's whole object this value was read from (the seed's `_raw`), decoded on
    /// demand; see [`Raw`](crate::Raw).
    pub raw: crate::raw::Raw,
}

/// A ConfigMap's name and data.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigMap {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Data.
    pub data: BTreeMap<String, String>,
}

/// A log line (or piece of output) from a followed log stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// The text, without its trailing newline. Invalid UTF-8 is replaced by U+FFFD.
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(ready: bool, drivers: &[&str]) -> Node {
        Node { ready, drivers: drivers.iter().map(|d| (*d).to_owned()).collect(), ..Node::default() }
    }

    #[test]
    fn the_offered_driver_prefers_isolation_and_only_counts_ready_nodes() {
        let pick = |nodes: &[Node]| Driver::offered_by(nodes).map(|(d, _)| d);
        assert_eq!(pick(&[node(true, &["raw_exec", "docker"])]), Some(Driver::Docker));
        assert_eq!(pick(&[node(false, &["docker"]), node(true, &["exec", "raw_exec"])]), Some(Driver::Exec));
        let (driver, why) = Driver::offered_by(&[node(true, &["raw_exec"])]).unwrap_or((Driver::Docker, String::new()));
        assert_eq!(driver, Driver::RawExec);
        assert!(why.contains("no isolation"), "{why}");
        assert_eq!(pick(&[node(false, &["docker"]), node(true, &["java"])]), None);
        assert_eq!(pick(&[]), None);
    }
}
