//! What a caller names, the same from every transport crate (each re-exports this module's
//! items at its root): core's one [`ClusterManager`] (what every `connect` returns), its
//! configuration, errors and model (JobSpec, Job, Status,
//! LogOptions, ...), the wait options and reasons, the erased transport, the escape hatch's
//! handles and modules, and the credential and budget items every transport shares.

pub use clustermanager_core::config::{Auth, Identity, TlsConfig};
pub use clustermanager_core::{futures_core, k8s, nomad, OwnedStream};
pub use clustermanager_core::{Api, KubernetesHandle, NomadHandle};
pub use clustermanager_core::{ClusterManager, Config, Error, Result, ResultExt, Secret};
pub use clustermanager_core::{
    Condition, ConfigMap, Constraint, DeleteOptions, Driver, EnvFrom, EnvVar, Execution, Job, JobSpec, LogLine,
    LogOptions, Namespace, Node, Orchestrator, PodManagement, Port, Probe, ProbeCheck, PullPolicy, Scale, Service,
    ServiceDef, ServicePort, ServiceSpec, StatefulOptions, Status, TaskState, TaskTemplate, Volume, VolumeMount,
    VolumeSource, Workload, WorkloadKind,
};
pub use clustermanager_core::{Diagnosis, DynTransport, Progress, Reason, ReasonKind, RetryPolicy, WaitOptions};

pub use crate::auth::DEFAULT_TOKEN_FILE_REFRESH;
pub use crate::body::DEFAULT_MAX_RESPONSE_BYTES;
pub use crate::budget::{Budget, Permit};
pub use crate::{env, StdEnvironment};
