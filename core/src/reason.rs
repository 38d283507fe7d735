//! Why a job is not progressing: the typed [`Reason`] a wait, [`Job::pending_reason`] and
//! [`Error::CannotRun`](crate::Error::CannotRun) carry, in words a user can act on.
//!
//! The orchestrator-specific readings live beside their APIs (`k8s::reason`, `nomad::reason`);
//! the table of which server state gives which reason, and which are permanent, is in the
//! README ("Why a job is stuck").
//!
//! [`Job::pending_reason`]: crate::model::Job::pending_reason

use std::fmt;

/// What kind of obstacle keeps a job from running or finishing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReasonKind {
    /// No node offers the task driver the job needs (Nomad `ConstraintFiltered: missing drivers`).
    MissingDriver,
    /// Nodes exist but none meets the job's constraints, node selector, affinity or taints.
    ConstraintFiltered,
    /// Not enough CPU, memory or another resource free on any node (Nomad `NodesExhausted` /
    /// `DimensionExhausted`, Kubernetes `Insufficient cpu`).
    ResourcesExhausted,
    /// A resource quota of the namespace is used up (Nomad `QuotaExhausted`).
    QuotaExhausted,
    /// No node is there to run it (no node in the job's datacenters, or none ready).
    NoNodes,
    /// The scheduler cannot place it for another reason (Kubernetes `Unschedulable`).
    Unschedulable,
    /// The image cannot be pulled (yet): `ErrImagePull`, `ImagePullBackOff`.
    ImagePull,
    /// The image name is not valid, or the image is absent and may not be pulled
    /// (`InvalidImageName`, `ErrImageNeverPull`).
    InvalidImage,
    /// The container cannot be created from its configuration (`CreateContainerConfigError`:
    /// a missing ConfigMap, Secret or key; `CreateContainerError`, `RunContainerError`).
    ContainerConfig,
    /// The task keeps failing and being restarted (`CrashLoopBackOff`, Nomad `Restarting`).
    CrashLoop,
    /// The task driver failed to start the task (Nomad `Driver Failure`).
    DriverFailure,
    /// The task's configuration was rejected by its driver (Nomad `Failed Validation`).
    InvalidTaskConfig,
    /// Preparing the task failed (Nomad `Setup Failure`, `Failed Artifact Download`).
    SetupFailure,
    /// A container or task of the job exited with a failure (a non-zero exit code, or a Nomad
    /// task that failed): the reason a finished job failed when the server gives no other.
    TaskFailed,
    /// The job failed too many times (Kubernetes `BackoffLimitExceeded`).
    BackoffLimitExceeded,
    /// The job ran longer than its active deadline (Kubernetes `DeadlineExceeded`).
    DeadlineExceeded,
    /// No execution started within the wait's startup deadline, and the server gave no reason.
    NotStarted,
    /// An admission check of the apiserver refuses the job's pods: Pod Security
    /// (`violates PodSecurity "restricted:latest"`), an admission webhook, a LimitRange. Only
    /// changing the job (or the namespace's policy) resolves it.
    AdmissionRefused,
    /// A rollout of a long-running workload failed (Nomad deployment `failed`/`cancelled`,
    /// Kubernetes `Progressing=False`: `ProgressDeadlineExceeded`).
    DeploymentFailed,
}

/// Why a job has no running or finished execution (or why it failed), as the server tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// What kind of obstacle it is.
    pub kind: ReasonKind,
    /// What it is and what to do, in plain words ("no node has the docker driver (1 of 1 nodes
    /// filtered: missing drivers)").
    pub message: String,
    /// Whether it cannot resolve without changing the job (or the cluster): a wait ends at once
    /// with [`Error::CannotRun`](crate::Error::CannotRun) on it.
    pub permanent: bool,
    /// The server's own words: the field and value this was read from
    /// (`"FailedTGAllocs.ConstraintFiltered: missing drivers"`, `"waiting: ImagePullBackOff"`).
    pub source: String,
}

impl Reason {
    /// A reason (its message and source capped at [`MAX_MESSAGE`](crate::text::MAX_MESSAGE) bytes).
    pub fn new(kind: ReasonKind, message: impl Into<String>, permanent: bool, source: impl Into<String>) -> Self {
        let cap = |s: String| crate::text::cap(s, crate::text::MAX_MESSAGE);
        Reason { kind, message: cap(message.into()), permanent, source: cap(source.into()) }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// What a look at a job's evaluations / pods found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnosis {
    /// Why it is not progressing, if the server says.
    pub reason: Option<Reason>,
    /// Whether any execution has started (a container or task ran, or is running).
    pub started: bool,
    /// How many executions (pods, allocations) exist: none means the controller could not
    /// create any, which only its events say (a Kubernetes quota, a LimitRange).
    pub executions: usize,
}

/// One thing a wait saw happen, reported to [`WaitOptions::on_progress`](crate::WaitOptions::on_progress)
/// and as a `tracing` event at INFO. A job's status transitions are [`Started`](Self::Started)
/// (pending → running) and [`Finished`](Self::Finished); while it has not started, each reason
/// the server gives, as it appears and changes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Progress {
    /// A reason the job is not progressing appeared or changed.
    Stuck {
        /// The job.
        job: String,
        /// Why.
        reason: Reason,
    },
    /// The reason went away (the job got past it).
    Unstuck {
        /// The job.
        job: String,
    },
    /// The first execution started.
    Started {
        /// The job.
        job: String,
    },
    /// The job finished.
    Finished {
        /// The job.
        job: String,
        /// Its final status.
        status: Option<crate::status::Status>,
    },
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Progress::Stuck { job, reason } => write!(f, "{job}: pending: {reason}"),
            Progress::Unstuck { job } => write!(f, "{job}: no longer stuck"),
            Progress::Started { job } => write!(f, "{job}: an execution started"),
            Progress::Finished { job, status } => write!(f, "{job}: finished ({status:?})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_as_their_message_and_are_capped() {
        let r = Reason::new(ReasonKind::ImagePull, "x".repeat(100_000), false, "waiting: ErrImagePull");
        assert!(r.message.len() <= crate::text::MAX_MESSAGE + 32);
        let r = Reason::new(ReasonKind::MissingDriver, "no node has the docker driver", true, "s");
        assert_eq!(r.to_string(), "no node has the docker driver");
        let p = Progress::Stuck { job: "hello".into(), reason: r };
        assert_eq!(p.to_string(), "hello: pending: no node has the docker driver");
    }
}
