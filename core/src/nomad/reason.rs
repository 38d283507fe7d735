//! Nomad: why a job is not progressing, read from its evaluations (`FailedTGAllocs` of the
//! latest one the scheduler finished: filtered and exhausted nodes, quotas, queued allocations)
//! and from its allocations' task events (`Failed Validation`, `Driver Failure`, `Setup
//! Failure`, `Restarting`). See [`Reason`] for the types and the README for the table.

use std::collections::BTreeMap;
use std::convert::Infallible;

use serde::Deserialize;

use super::query::{encode_segment, job_id, Query};
use super::{check, decode, Context};
use crate::error::Result;
use crate::op::Call;
use crate::op::Checked;
use crate::reason::{Diagnosis, Reason, ReasonKind};
use crate::step::{Operation, Response};

/// An evaluation as `/v1/job/{id}/evaluations` lists it (the fields read here).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Evaluation {
    /// `pending`, `complete`, `blocked`, `failed`, `canceled`.
    #[serde(default)]
    pub status: String,
    /// Why the scheduler failed it (`failed`).
    #[serde(default)]
    pub status_description: String,
    /// What could not be placed, by task group.
    #[serde(rename = "FailedTGAllocs", default)]
    pub failed_tg_allocs: Option<BTreeMap<String, AllocMetric>>,
    /// Allocations still to place, by task group.
    #[serde(default)]
    pub queued_allocations: Option<BTreeMap<String, u64>>,
    /// Raft index of its creation: the newest is the latest.
    #[serde(default)]
    pub create_index: u64,
}

/// The scheduler's account of a task group it could not place.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocMetric {
    /// Nodes looked at.
    #[serde(default)]
    pub nodes_evaluated: u64,
    /// Nodes filtered out by constraints.
    #[serde(default)]
    pub nodes_filtered: u64,
    /// Ready nodes per datacenter.
    #[serde(default)]
    pub nodes_available: Option<BTreeMap<String, u64>>,
    /// Filtered nodes by the constraint that filtered them (`missing drivers`, ...).
    #[serde(default)]
    pub constraint_filtered: Option<BTreeMap<String, u64>>,
    /// Filtered nodes by node class.
    #[serde(default)]
    pub class_filtered: Option<BTreeMap<String, u64>>,
    /// Nodes without room.
    #[serde(default)]
    pub nodes_exhausted: u64,
    /// Exhausted nodes by the resource they lacked (`memory`, `cpu`, ...).
    #[serde(default)]
    pub dimension_exhausted: Option<BTreeMap<String, u64>>,
    /// Quotas that were exhausted.
    #[serde(default)]
    pub quota_exhausted: Option<Vec<String>>,
}

fn listed(map: &Option<BTreeMap<String, u64>>) -> String {
    map.iter().flatten().map(|(k, n)| format!("{k}: {n}")).collect::<Vec<_>>().join(", ")
}

/// The reason the scheduler gave for task group `group`; `drivers` names the drivers the
/// group's tasks use, when known (for the message).
pub fn of_metric(group: &str, m: &AllocMetric, queued: u64, drivers: &[String]) -> Reason {
    let source = |what: &str| format!("FailedTGAllocs[{group}].{what}");
    let queued = if queued > 0 { format!("; {queued} allocation(s) queued") } else { String::new() };
    if let Some(q) = m.quota_exhausted.as_ref().filter(|q| !q.is_empty()) {
        return Reason::new(
            ReasonKind::QuotaExhausted,
            format!("task group {group:?}: the namespace's quota is used up ({}){queued}", q.join(", ")),
            false,
            source("QuotaExhausted"),
        );
    }
    let available: u64 = m.nodes_available.iter().flatten().map(|(_, n)| *n).sum();
    if m.nodes_evaluated == 0 && available == 0 {
        let dcs = m.nodes_available.iter().flatten().map(|(d, _)| d.as_str()).collect::<Vec<_>>().join(", ");
        return Reason::new(
            ReasonKind::NoNodes,
            format!("task group {group:?}: no ready node in the job's datacenters ({dcs}){queued}"),
            false,
            source("NodesAvailable"),
        );
    }
    let filtered = m.constraint_filtered.iter().flatten().chain(m.class_filtered.iter().flatten());
    let missing_drivers = m.constraint_filtered.iter().flatten().find(|(k, _)| k.as_str() == "missing drivers");
    if let Some((_, &n)) = missing_drivers {
        let which = match drivers {
            [] => "the driver its tasks need".to_owned(),
            [one] => format!("the {one} driver"),
            many => format!("the {} drivers", many.join("/")),
        };
        // Every node looked at lacks it: nothing changes that but another node.
        let permanent = n >= m.nodes_evaluated && m.nodes_exhausted == 0;
        return Reason::new(
            ReasonKind::MissingDriver,
            format!("no node has {which} ({n} of {} nodes filtered: missing drivers){queued}", m.nodes_evaluated),
            permanent,
            source("ConstraintFiltered: missing drivers"),
        );
    }
    if m.nodes_filtered > 0 && m.nodes_filtered >= m.nodes_evaluated {
        let by: Vec<String> = filtered.map(|(k, n)| format!("{k}: {n}")).collect();
        return Reason::new(
            ReasonKind::ConstraintFiltered,
            format!(
                "task group {group:?}: no node meets the job's constraints ({} of {} nodes filtered: {}){queued}",
                m.nodes_filtered,
                m.nodes_evaluated,
                by.join(", ")
            ),
            false,
            source("ConstraintFiltered"),
        );
    }
    let dims = listed(&m.dimension_exhausted);
    Reason::new(
        ReasonKind::ResourcesExhausted,
        format!(
            "task group {group:?}: not enough free resources on any node ({} of {} nodes exhausted{}){queued}",
            m.nodes_exhausted,
            m.nodes_evaluated,
            if dims.is_empty() { String::new() } else { format!(": {dims}") }
        ),
        false,
        source("NodesExhausted"),
    )
}

/// The latest evaluation the scheduler finished (blocked and canceled ones are left out: a
/// blocked evaluation only waits for the cluster to change), and what it could not place.
pub fn of_evaluations(evals: &[Evaluation], drivers: &[String]) -> Option<Reason> {
    let latest = evals
        .iter()
        .filter(|e| !matches!(e.status.as_str(), "blocked" | "canceled" | "pending"))
        .max_by_key(|e| e.create_index)?;
    if latest.status == "failed" {
        return Some(Reason::new(
            ReasonKind::Unschedulable,
            format!("the scheduler failed to evaluate the job: {}", latest.status_description),
            false,
            "Evaluation.Status: failed",
        ));
    }
    let (group, metric) = latest.failed_tg_allocs.as_ref()?.iter().next()?;
    let queued = latest.queued_allocations.as_ref().and_then(|q| q.get(group)).copied().unwrap_or(0);
    Some(of_metric(group, metric, queued, drivers))
}

/// Whether a reason read from the evaluations needs the job's drivers to be named.
pub fn needs_drivers(reason: &Reason) -> bool {
    reason.kind == ReasonKind::MissingDriver
}

/// Parse `/v1/job/{id}/evaluations`.
pub fn parse_evaluations(resp: Response) -> Result<Vec<Evaluation>> {
    decode("Nomad evaluation list", check(resp)?.body())
}

/// Read job `job`'s evaluations (`GET /v1/job/{id}/evaluations`).
///
/// ```
/// use clustermanager_core::{nomad, Operation, Step};
/// let mut op = nomad::reason::evaluations(&nomad::Context::default(), "", "acm-nodriver");
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(req.uri(), "/v1/job/acm-nodriver/evaluations");
/// ```
pub fn evaluations(
    ctx: &Context,
    namespace: &str,
    job: &str,
) -> impl Operation<Output = Vec<Evaluation>, Item = Infallible> + Send + 'static {
    let id = job_id(ctx, namespace, job);
    let req = Query::new(ctx, format!("/v1/job/{}/evaluations", encode_segment(&id))).namespace(ctx, namespace).get();
    Checked::from(req.map(|req| Call::new(req, &ctx.retry, parse_evaluations)))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AllocLean {
    #[serde(default)]
    client_status: String,
    #[serde(default)]
    task_states: Option<BTreeMap<String, TaskLean>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TaskLean {
    #[serde(default)]
    restarts: u32,
    #[serde(default)]
    events: Option<Vec<EventLean>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EventLean {
    #[serde(rename = "Type", default)]
    kind: String,
    #[serde(default)]
    display_message: String,
    #[serde(default)]
    driver_error: String,
    #[serde(default)]
    validation_error: String,
    #[serde(default)]
    setup_error: String,
}

/// What a job's allocations say (`/v1/job/{id}/allocations`): the reason of the last telling
/// task event of an allocation, and whether any task has started.
pub fn of_allocations(body: &[u8]) -> Result<Diagnosis> {
    let allocs: Vec<AllocLean> = decode("Nomad allocation list", body)?;
    let mut diagnosis = Diagnosis { executions: allocs.len(), ..Diagnosis::default() };
    for a in &allocs {
        for (task, ts) in a.task_states.iter().flatten() {
            let events = ts.events.as_deref().unwrap_or(&[]);
            if events.iter().any(|e| e.kind == "Started") || matches!(a.client_status.as_str(), "running" | "complete")
            {
                diagnosis.started = true;
            }
            if diagnosis.reason.is_some() || a.client_status == "complete" {
                continue;
            }
            let telling = events.iter().rev().find(|e| {
                matches!(
                    e.kind.as_str(),
                    "Failed Validation"
                        | "Driver Failure"
                        | "Setup Failure"
                        | "Failed Artifact Download"
                        | "Restarting"
                )
            });
            let Some(e) = telling else { continue };
            let detail = [&e.validation_error, &e.driver_error, &e.setup_error, &e.display_message]
                .into_iter()
                .find(|s| !s.is_empty())
                .map(|s| s.trim().replace("\n\t", " ").replace('\n', " "))
                .unwrap_or_default();
            let (kind, what, permanent) = match e.kind.as_str() {
                "Failed Validation" => {
                    (ReasonKind::InvalidTaskConfig, "its driver rejected the task's configuration", true)
                }
                "Driver Failure" => (ReasonKind::DriverFailure, "its driver failed to start it", false),
                "Restarting" => (ReasonKind::CrashLoop, "it keeps failing and is restarted", false),
                _ => (ReasonKind::SetupFailure, "preparing it failed", false),
            };
            let restarts = if ts.restarts > 0 { format!(" after {} restart(s)", ts.restarts) } else { String::new() };
            diagnosis.reason = Some(Reason::new(
                kind,
                format!("task {task:?}: {what}{restarts}: {detail}"),
                permanent,
                format!("TaskStates[{task}].Events: {}", e.kind),
            ));
        }
    }
    Ok(diagnosis)
}

/// Read job `job`'s allocations and what they say ([`of_allocations`]).
pub fn allocations(
    ctx: &Context,
    namespace: &str,
    job: &str,
) -> impl Operation<Output = Diagnosis, Item = Infallible> + Send + 'static {
    let id = job_id(ctx, namespace, job);
    let req = Query::new(ctx, format!("/v1/job/{}/allocations", encode_segment(&id))).namespace(ctx, namespace).get();
    Checked::from(req.map(|req| Call::new(req, &ctx.retry, |resp: Response| of_allocations(check(resp)?.body()))))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct JobDrivers {
    #[serde(default)]
    task_groups: Option<Vec<GroupDrivers>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GroupDrivers {
    #[serde(default)]
    tasks: Option<Vec<TaskDriver>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TaskDriver {
    #[serde(default)]
    driver: String,
}

/// Read job `job` for the drivers its tasks use (to name a missing one).
pub fn drivers(
    ctx: &Context,
    namespace: &str,
    job: &str,
) -> impl Operation<Output = Vec<String>, Item = Infallible> + Send + 'static {
    let id = job_id(ctx, namespace, job);
    let req = Query::new(ctx, format!("/v1/job/{}", encode_segment(&id))).namespace(ctx, namespace).get();
    Checked::from(req.map(|req| {
        Call::new(req, &ctx.retry, |resp: Response| {
            let job: JobDrivers = decode("Nomad job", check(resp)?.body())?;
            let mut out: Vec<String> = Vec::new();
            for t in job.task_groups.iter().flatten().flat_map(|g| g.tasks.iter().flatten()) {
                if !t.driver.is_empty() && !out.contains(&t.driver) {
                    out.push(t.driver.clone());
                }
            }
            Ok(out)
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The evaluation Nomad 1.1.2 answered for a job whose driver no node has (recording
    /// nomad-1.1.2/10-invalid-job-specs, job acm-nodriver).
    const NODRIVER_EVAL: &str = r#"{"ID":"8515a400-be35-e170-ebd9-7f65cc38ce5d","Namespace":"default","Priority":50,"Type":"batch","TriggeredBy":"job-register","JobID":"acm-nodriver","JobModifyIndex":22,"Status":"complete","BlockedEval":"f49c6ba5-af06-db08-1868-142315af8147","FailedTGAllocs":{"main":{"NodesEvaluated":1,"NodesFiltered":1,"NodesAvailable":{"dc1":1},"ClassFiltered":null,"ConstraintFiltered":{"missing drivers":1},"NodesExhausted":0,"ClassExhausted":null,"DimensionExhausted":null,"QuotaExhausted":null,"ResourcesExhausted":null,"Scores":null,"ScoreMetaData":null,"AllocationTime":7801,"CoalescedFailures":0}},"QueuedAllocations":{"main":1},"SnapshotIndex":22,"CreateIndex":22,"ModifyIndex":24,"CreateTime":1795638974512226133,"ModifyTime":1795638974513970299}"#;

    #[test]
    fn a_missing_driver_is_named_and_permanent() {
        let eval: Evaluation = serde_json::from_str(NODRIVER_EVAL).unwrap();
        let blocked = Evaluation { status: "blocked".into(), create_index: 23, ..Evaluation::default() };
        let r = of_evaluations(&[eval, blocked], &["docker".into()]).unwrap();
        assert_eq!(r.kind, ReasonKind::MissingDriver);
        assert!(r.permanent);
        assert_eq!(
            r.message,
            "no node has the docker driver (1 of 1 nodes filtered: missing drivers); 1 allocation(s) queued"
        );
    }

    #[test]
    fn exhausted_nodes_say_which_resource_and_are_not_permanent() {
        let e: Evaluation = serde_json::from_str(
            r#"{"Status":"complete","CreateIndex":5,"FailedTGAllocs":{"main":{"NodesEvaluated":2,"NodesFiltered":0,"NodesAvailable":{"dc1":2},"NodesExhausted":2,"DimensionExhausted":{"memory":2}}}}"#,
        )
        .unwrap();
        let r = of_evaluations(&[e], &[]).unwrap();
        assert_eq!((r.kind, r.permanent), (ReasonKind::ResourcesExhausted, false));
        assert!(r.message.contains("2 of 2 nodes exhausted: memory: 2"), "{}", r.message);
    }

    #[test]
    fn a_later_placed_evaluation_clears_the_reason() {
        let old: Evaluation = serde_json::from_str(NODRIVER_EVAL).unwrap();
        let placed = Evaluation { status: "complete".into(), create_index: 30, ..Evaluation::default() };
        assert!(of_evaluations(&[old, placed], &[]).is_none());
    }

    #[test]
    fn a_failed_validation_is_permanent_and_says_what_the_driver_said() {
        let body = br#"[{"ClientStatus":"failed","TaskStates":{"main":{"State":"dead","Failed":true,"Restarts":0,"Events":[
            {"Type":"Received","DisplayMessage":"Task received by client"},
            {"Type":"Failed Validation","DisplayMessage":"2 errors occurred:\n\t* failed to parse config: \n\t* Invalid label: No argument or block type is named \"bogus_key\".\n\n","ValidationError":"2 errors occurred:\n\t* failed to parse config: \n\t* Invalid label: No argument or block type is named \"bogus_key\".\n\n"},
            {"Type":"Not Restarting","DisplayMessage":"Policy allows no restarts"}]}}}]"#;
        let d = of_allocations(body).unwrap();
        let r = d.reason.unwrap();
        assert_eq!((r.kind, r.permanent), (ReasonKind::InvalidTaskConfig, true));
        assert!(r.message.contains("bogus_key"), "{}", r.message);
        assert!(!d.started);
    }
}
