//! Long-running, replicated workloads: what to run ([`ServiceSpec`]), what it looks like once
//! running ([`Workload`]) and the network services in front of it ([`ServiceDef`], [`Service`]).
//!
//! One spec serves both orchestrators:
//!
//! | | Kubernetes | Nomad |
//! |---|---|---|
//! | [`ServiceSpec::task`] | the pod template's one container (what a [`JobSpec`] gives a Job) | the task group's one task |
//! | `replicas` | `spec.replicas` | the task group's `Count` |
//! | Deployment | `apps/v1` Deployment | a `service` job (restarts forever, reschedules, an `Update` stanza so every change is a Nomad deployment) |
//! | StatefulSet | `apps/v1` StatefulSet (`serviceName`, `podManagementPolicy`, `revisionHistoryLimit`) | the same `service` job: allocations are named `<job>.main[<index>]`, a stable ordinal; `OrderedReady`, a governing service and a history limit are refused ([`Error::Unsupported`](crate::Error::Unsupported)) |
//! | `ports` | `containerPort`s | the group network's dynamic ports mapped `To` the port (docker `ports`) |
//! | `readiness` / `liveness` | the container's probes | refused: Nomad checks run through Consul service checks |
//! | available | Deployment: condition `Available=True` and every replica updated and available for the current generation; StatefulSet: every replica ready at the current revision | the job's latest deployment is `successful` |
//! | executions | the pods the selector matches | the job's allocations |
//! | [`ServiceDef`] | a `v1` Service | refused: Nomad 1.1 registers services in Consul from the job |

use std::collections::BTreeMap;

use crate::model::JobSpec;

/// A replicated, long-running workload: one container (Kubernetes) or task (Nomad) described by
/// a [`JobSpec`], run `replicas` times and kept running.
///
/// ```
/// use clustermanager_core::{JobSpec, Port, Probe, ServiceSpec};
/// let web = ServiceSpec::new(JobSpec::new("web").image("nginx:1.25").label("app", "web"))
///     .replicas(3)
///     .port(Port::tcp("http", 80))
///     .readiness(Probe::http("/healthz", 80));
/// assert_eq!(web.replicas, 3);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSpec {
    /// What each replica runs (name, image, command, resources, env, volumes, labels, driver);
    /// its `backoff_limit` does not apply (replicas are restarted for as long as they run).
    pub task: JobSpec,
    /// How many replicas (default 1).
    pub replicas: u32,
    /// Ports the container listens on.
    pub ports: Vec<Port>,
    /// When a replica is ready to serve (Kubernetes `readinessProbe`).
    pub readiness: Option<Probe>,
    /// When a replica is to be restarted (Kubernetes `livenessProbe`).
    pub liveness: Option<Probe>,
    /// StatefulSet-only settings (ignored by Deployments).
    pub stateful: StatefulOptions,
}

impl ServiceSpec {
    /// A spec running `task` once; set the rest with the builder methods.
    pub fn new(task: JobSpec) -> Self {
        ServiceSpec {
            task,
            replicas: 1,
            ports: Vec::new(),
            readiness: None,
            liveness: None,
            stateful: StatefulOptions::default(),
        }
    }
    /// Set the replica count.
    pub fn replicas(mut self, replicas: u32) -> Self {
        self.replicas = replicas;
        self
    }
    /// Add a port.
    pub fn port(mut self, port: Port) -> Self {
        self.ports.push(port);
        self
    }
    /// Set the readiness check.
    pub fn readiness(mut self, probe: Probe) -> Self {
        self.readiness = Some(probe);
        self
    }
    /// Set the liveness check.
    pub fn liveness(mut self, probe: Probe) -> Self {
        self.liveness = Some(probe);
        self
    }
    /// Set the StatefulSet settings.
    pub fn stateful(mut self, options: StatefulOptions) -> Self {
        self.stateful = options;
        self
    }
}

/// A port a container listens on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// Its name (an IANA service name: lowercase letters, digits, `-`, at most 15 characters).
    pub name: String,
    /// The port number in the container.
    pub port: u16,
    /// `TCP` (default), `UDP` or `SCTP`.
    pub protocol: String,
}

impl Port {
    /// A TCP port.
    pub fn tcp(name: impl Into<String>, port: u16) -> Self {
        Port { name: name.into(), port, protocol: "TCP".into() }
    }
}

/// A readiness or liveness check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// What it checks.
    pub check: ProbeCheck,
    /// Seconds before the first check (default 0).
    pub initial_delay_seconds: u32,
    /// Seconds between checks (default 10).
    pub period_seconds: u32,
    /// Consecutive failures that count as failed (default 3).
    pub failure_threshold: u32,
    /// Seconds a check may take (default 1).
    pub timeout_seconds: u32,
    /// Consecutive successes that count as passed after a failure (default 1; a liveness probe
    /// takes only 1, as Kubernetes requires).
    pub success_threshold: u32,
}

/// What a [`Probe`] checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeCheck {
    /// An HTTP GET answering 2xx or 3xx.
    Http {
        /// Path.
        path: String,
        /// Port.
        port: u16,
        /// Over TLS (Kubernetes `scheme: HTTPS`; the certificate is not verified).
        https: bool,
    },
    /// A TCP connection that opens.
    Tcp {
        /// Port.
        port: u16,
    },
    /// A command that exits 0.
    Exec {
        /// The command and its arguments.
        command: Vec<String>,
    },
}

impl Probe {
    fn of(check: ProbeCheck) -> Self {
        Probe {
            check,
            initial_delay_seconds: 0,
            period_seconds: 10,
            failure_threshold: 3,
            timeout_seconds: 1,
            success_threshold: 1,
        }
    }
    /// An HTTP GET of `path` on `port`.
    pub fn http(path: impl Into<String>, port: u16) -> Self {
        Probe::of(ProbeCheck::Http { path: path.into(), port, https: false })
    }
    /// An HTTPS GET of `path` on `port` (the certificate is not verified, as the kubelet does).
    pub fn https(path: impl Into<String>, port: u16) -> Self {
        Probe::of(ProbeCheck::Http { path: path.into(), port, https: true })
    }
    /// A TCP connection to `port`.
    pub fn tcp(port: u16) -> Self {
        Probe::of(ProbeCheck::Tcp { port })
    }
    /// A command run in the container.
    pub fn exec<I: IntoIterator<Item = S>, S: Into<String>>(command: I) -> Self {
        Probe::of(ProbeCheck::Exec { command: command.into_iter().map(Into::into).collect() })
    }
    /// Set the delay before the first check.
    pub fn initial_delay(mut self, seconds: u32) -> Self {
        self.initial_delay_seconds = seconds;
        self
    }
    /// Set the seconds between checks.
    pub fn period(mut self, seconds: u32) -> Self {
        self.period_seconds = seconds;
        self
    }
    /// Set how many consecutive failures count as failed.
    pub fn failure_threshold(mut self, failures: u32) -> Self {
        self.failure_threshold = failures;
        self
    }
    /// Set the seconds a check may take.
    pub fn timeout(mut self, seconds: u32) -> Self {
        self.timeout_seconds = seconds;
        self
    }
    /// Set how many consecutive successes count as passed after a failure (readiness only:
    /// Kubernetes takes only 1 for a liveness probe).
    pub fn success_threshold(mut self, successes: u32) -> Self {
        self.success_threshold = successes;
        self
    }
}

/// How a StatefulSet starts and stops its pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodManagement {
    /// One at a time, in ordinal order, each once the previous one is ready (Kubernetes'
    /// default).
    OrderedReady,
    /// All at once.
    Parallel,
}

/// StatefulSet-only settings (the seed's `serviceName`, `podManagementPolicy`,
/// `revisionHistoryLimit`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatefulOptions {
    /// The governing (headless) Service that gives the pods their DNS names; Kubernetes
    /// requires one: default the workload's name.
    pub service_name: Option<String>,
    /// Default: Kubernetes' `OrderedReady`; on Nomad only `Parallel` (or unset) is accepted.
    pub pod_management: Option<PodManagement>,
    /// How many old revisions to keep (Kubernetes default 10).
    pub revision_history_limit: Option<u32>,
}

/// Which kind of workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadKind {
    /// A Kubernetes Deployment, or a Nomad service job.
    Deployment,
    /// A Kubernetes StatefulSet, or a Nomad service job.
    StatefulSet,
}

impl WorkloadKind {
    /// The Kubernetes kind name.
    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
        }
    }
}

/// A Deployment, StatefulSet or Nomad service job as it is now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Workload {
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Kubernetes uid or Nomad job ID.
    pub uid: String,
    /// Replicas asked for.
    pub replicas: u32,
    /// Replicas ready (Nomad: allocations running and healthy).
    pub ready: u32,
    /// Replicas available (ready long enough; Nomad: healthy in the latest deployment).
    pub available: u32,
    /// Replicas running the current spec.
    pub updated: u32,
    /// Whether every replica asked for is available on the current spec (what the
    /// `*_wait_available` waits for).
    pub is_available: bool,
    /// Whether it is being deleted.
    pub deleting: bool,
    /// What the server says, in its words (the conditions' reasons, the deployment's status).
    pub raw_status: String,
    /// Labels (Nomad: `Meta`).
    pub labels: BTreeMap<String, String>,
    /// The labels that select its pods (Kubernetes); empty on Nomad.
    pub selector: BTreeMap<String, String>,
    /// The server's whole object this value was read from (the seed's `_raw`), decoded on
    /// demand; see [`Raw`](crate::Raw).
    pub raw: crate::raw::Raw,
}

/// A network Service to create (Kubernetes `v1` Service).
///
/// ```
/// use clustermanager_core::{ServiceDef, ServicePort};
/// let svc = ServiceDef::new("web").select("app", "web").port(ServicePort::new("http", 80, 8080));
/// assert_eq!(svc.kind, "ClusterIP");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceDef {
    /// Name.
    pub name: String,
    /// The pods it sends traffic to, by label.
    pub selector: BTreeMap<String, String>,
    /// Its ports.
    pub ports: Vec<ServicePort>,
    /// `ClusterIP` (default), `NodePort`, `LoadBalancer`, or `None` for a headless service
    /// (`clusterIP: None`, what a StatefulSet's governing service is).
    pub kind: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

impl ServiceDef {
    /// A `ClusterIP` service named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        ServiceDef {
            name: name.into(),
            selector: BTreeMap::new(),
            ports: Vec::new(),
            kind: "ClusterIP".into(),
            labels: BTreeMap::new(),
        }
    }
    /// Select pods with this label.
    pub fn select(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.selector.insert(key.into(), value.into());
        self
    }
    /// Add a port.
    pub fn port(mut self, port: ServicePort) -> Self {
        self.ports.push(port);
        self
    }
    /// Set the type (`ClusterIP`, `NodePort`, `LoadBalancer`, `None` for headless).
    pub fn kind(mut self, kind: impl Into<String>) -> Self {
        self.kind = kind.into();
        self
    }
    /// Add a label.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }
}

/// A port of a [`ServiceDef`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePort {
    /// Name (required when there are several).
    pub name: String,
    /// The port the service listens on.
    pub port: u16,
    /// The pods' port it forwards to.
    pub target_port: u16,
    /// `TCP` (default), `UDP`, `SCTP`.
    pub protocol: String,
    /// With `NodePort`/`LoadBalancer`: the node port (30000-32767), `None` to let the server
    /// choose.
    pub node_port: Option<u16>,
}

impl ServicePort {
    /// A TCP port `port` forwarding to the pods' `target_port`.
    pub fn new(name: impl Into<String>, port: u16, target_port: u16) -> Self {
        ServicePort { name: name.into(), port, target_port, protocol: "TCP".into(), node_port: None }
    }
}

/// A Service as the server holds it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Service {
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Type (`ClusterIP`, `NodePort`, `LoadBalancer`, `ExternalName`).
    pub kind: String,
    /// The cluster IP the server assigned (`None` for a headless service).
    pub cluster_ip: Option<String>,
    /// Ports: (name, port, target port, node port).
    pub ports: Vec<ServicePort>,
    /// Selector.
    pub selector: BTreeMap<String, String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}
