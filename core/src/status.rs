//! The unified [`Status`] of jobs and executions on both orchestrators (re-exported from
//! [`model`](crate::model)).

use serde::{Deserialize, Serialize};

/// The unified status of a job or of one execution of it.
///
/// Kubernetes: a Job with a `Complete` condition is `Succeeded`, with `Failed` is `Failed`, with
/// active pods `Running`, else `Pending`; a pod's phase maps one to one (`Unknown` → `Pending`).
/// Nomad: `pending` → `Pending`, `running` → `Running`, `dead` → `Succeeded` when every
/// allocation completed and `Failed` when any failed or was lost; allocation client statuses
/// `complete` → `Succeeded`, `failed`/`lost` → `Failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Status {
    /// Accepted but not started (not scheduled, image pulling, blocked evaluation, ...).
    Pending,
    /// At least one execution is running.
    Running,
    /// Finished successfully.
    Succeeded,
    /// Finished with a failure.
    Failed,
}

impl Status {
    /// Whether the status is final (`Succeeded` or `Failed`).
    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Succeeded | Status::Failed)
    }
}
