//! What a shared observation observes, as typed items: [`Jobs`] (a Kubernetes Job watch, the
//! Nomad job list, whose stubs also count each job's allocations by status) or [`Executions`]
//! (a Kubernetes watch of the namespace's job pods). The [`Board`](super::board::Board) is
//! generic over it: what an item says, and what a missing or deleted item means, comes from here.

use std::fmt;

use crate::model::{Job, Status};

/// Execution counts of a job: [pending, running, succeeded, failed].
pub type Counts = [u32; 4];

/// The counts with one execution in `status`.
pub fn one_in(status: Status) -> Counts {
    let mut counts = [0; 4];
    counts[index(status)] = 1;
    counts
}

/// The place of `status` in [`Counts`].
pub fn index(status: Status) -> usize {
    match status {
        Status::Pending => 0,
        Status::Running => 1,
        Status::Succeeded => 2,
        Status::Failed => 3,
    }
}

/// A kind of shared observation: the items its feed reports.
pub trait Observation: Send + Sync + 'static {
    /// What the feed reports of one observed thing.
    type Item: Clone + fmt::Debug + PartialEq + Send + 'static;
    /// Whether a list that covers a waiter and lacks its job's name means the job does not
    /// exist (a list of jobs does; a list of pods without one only means no pod yet).
    const ABSENT_IS_GONE: bool;
    /// Whether the deletion of the item a waiter is bound to ends its wait with "gone" (a job
    /// deleted); otherwise the waiter looks again (a pod deleted: its job may still be there).
    const DELETION_IS_GONE: bool;
    /// The name of the job the item belongs to (the job's own name for a job).
    fn name(item: &Self::Item) -> &str;
    /// The uid of that job (empty where the orchestrator has none: Nomad follows the ID).
    fn uid(item: &Self::Item) -> &str;
    /// The executions the item shows in each status.
    fn counts(item: &Self::Item) -> Counts;
    /// The job, when the item is one (what a wait for the job to finish looks at).
    fn job(item: &Self::Item) -> Option<&JobSeen>;
    /// Whether the item, though present, says its job is gone for its waiters (a pod orphaned
    /// by its Job's deletion): for them it counts as the item's deletion, in an event or a list.
    fn gone(item: &Self::Item) -> bool;
}

/// What a feed saw of one job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSeen {
    /// The job's name.
    pub name: String,
    /// Its uid (Kubernetes `metadata.uid`); empty where the orchestrator has none to tell two
    /// jobs of the same name apart (Nomad follows the job ID).
    pub uid: String,
    /// Whether the job has finished.
    pub terminal: bool,
    /// Whether `job` is what the wait returns (a Kubernetes watch event carries the whole Job);
    /// when not (a Nomad list stub), a finished job is read once more for the full answer.
    pub settled: bool,
    /// The job as seen.
    pub job: Job,
}

/// What a feed saw of one execution of a job (a Kubernetes pod).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionSeen {
    /// The name of its job.
    pub job: String,
    /// The uid of its job (the controller owner's).
    pub job_uid: String,
    /// Its unified status.
    pub status: Status,
    /// Whether it was orphaned: its Job was deleted with `propagationPolicy=Orphan` (the garbage
    /// collector strips the pod's controller reference; the Job's `controller-uid` label stays).
    pub orphaned: bool,
}

/// Observing jobs.
#[derive(Debug)]
pub enum Jobs {}

/// Observing executions.
#[derive(Debug)]
pub enum Executions {}

impl Observation for Jobs {
    type Item = JobSeen;
    const ABSENT_IS_GONE: bool = true;
    const DELETION_IS_GONE: bool = true;

    fn name(item: &JobSeen) -> &str {
        &item.name
    }

    fn uid(item: &JobSeen) -> &str {
        &item.uid
    }

    fn counts(item: &JobSeen) -> Counts {
        let job = &item.job;
        [job.pending, job.active, job.succeeded, job.failed]
    }

    fn job(item: &JobSeen) -> Option<&JobSeen> {
        Some(item)
    }

    fn gone(_: &JobSeen) -> bool {
        false
    }
}

impl Observation for Executions {
    type Item = ExecutionSeen;
    const ABSENT_IS_GONE: bool = false;
    const DELETION_IS_GONE: bool = false;

    fn name(item: &ExecutionSeen) -> &str {
        &item.job
    }

    fn uid(item: &ExecutionSeen) -> &str {
        &item.job_uid
    }

    fn counts(item: &ExecutionSeen) -> Counts {
        one_in(item.status)
    }

    fn job(_: &ExecutionSeen) -> Option<&JobSeen> {
        None
    }

    fn gone(item: &ExecutionSeen) -> bool {
        item.orphaned
    }
}
