//! Kubernetes: what the job waits (`ClusterManager::wait_for_job` and
//! `wait_for_job_execution_status`, through the shared observation of `k8s/shared.rs`) say when
//! their Job is not there: [`job_not_found`].

use crate::error::{ApiError, Error};

/// The [`Error::NotFound`] of a wait on Job `namespace/name`: it does not exist, or (when
/// `while_waiting`) it was deleted while the wait went on.
pub(crate) fn job_not_found(namespace: &str, name: &str, while_waiting: bool) -> Error {
    let message = if while_waiting {
        format!("job {namespace}/{name} was deleted while waiting for it to finish")
    } else {
        format!("jobs.batch {name:?} not found in namespace {namespace:?}")
    };
    Error::NotFound(ApiError { status: 404, reason: Some("NotFound".into()), message, ..ApiError::default() })
}
