//! Nomad: list_jobs_executions, list_job_executions, delete_execution. An execution is an
//! allocation: `ClientStatus` gives its unified status (see [`status`](super::status)), each
//! task state gives a [`TaskState`] whose exit code comes from the last `Terminated` event and
//! whose reason is the last event (`Type: DisplayMessage`).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Instant;

use serde::Deserialize;

use super::query::{encode_segment, job_name, resolve_namespace, Query};
use super::status::{allocation_status, rfc3339_from_nanos, AllocView};
use super::{check, decode, Context, NamespaceMode};
use crate::error::Result;
use crate::model::{Execution, TaskState};
use crate::op::Call;
use crate::op::{answer, Checked, Flow, Machine, Next};
use crate::raw::{Keeps, Raw};
use crate::step::{Operation, Response};

/// An allocation stub as `/v1/allocations` and `/v1/job/{id}/allocations` list them.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AllocStub {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "JobID", default)]
    pub job_id: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(rename = "NodeID", default)]
    pub node_id: String,
    /// The version of the job this allocation runs.
    #[serde(default)]
    pub job_version: u64,
    #[serde(default)]
    pub client_status: String,
    #[serde(default)]
    pub desired_status: String,
    /// Set on an allocation that replaces others (rescheduling).
    #[serde(default)]
    pub reschedule_tracker: Option<RescheduleTracker>,
    #[serde(default)]
    pub task_states: Option<BTreeMap<String, TaskStateBody>>,
    #[serde(default)]
    pub create_time: i64,
    #[serde(default)]
    pub modify_time: i64,
}

/// The allocations an allocation replaced when it was rescheduled.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RescheduleTracker {
    #[serde(default)]
    events: Option<Vec<RescheduleEvent>>,
}

#[derive(Debug, Deserialize)]
struct RescheduleEvent {
    #[serde(rename = "PrevAllocID", default)]
    prev_alloc_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TaskStateBody {
    #[serde(default)]
    state: String,
    #[serde(default)]
    failed: bool,
    #[serde(default)]
    restarts: u32,
    #[serde(default)]
    events: Option<Vec<TaskEvent>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TaskEvent {
    #[serde(rename = "Type", default)]
    kind: String,
    #[serde(default)]
    display_message: String,
    #[serde(default)]
    exit_code: i32,
    #[serde(default)]
    details: Option<BTreeMap<String, String>>,
}

impl AllocStub {
    /// What the job status mapping needs.
    pub fn view(&self) -> AllocView<'_> {
        AllocView { client_status: &self.client_status, desired_status: &self.desired_status }
    }

    /// The IDs of the allocations this one replaced (rescheduling).
    pub fn replaced(&self) -> impl Iterator<Item = &str> {
        self.reschedule_tracker.iter().flat_map(|t| t.events.iter().flatten()).map(|e| e.prev_alloc_id.as_str())
    }

    /// The unified execution.
    pub fn to_execution(&self, ctx: &Context, namespace: &str) -> Execution {
        let tasks = self
            .task_states
            .iter()
            .flatten()
            .map(|(name, ts)| {
                let events = ts.events.as_deref().unwrap_or(&[]);
                let exit_code = events.iter().rev().find(|e| e.kind == "Terminated").map(|e| {
                    e.details
                        .as_ref()
                        .and_then(|d| d.get("exit_code"))
                        .and_then(|c| c.parse::<i32>().ok())
                        .unwrap_or(e.exit_code)
                });
                let reason = events.last().map(|e| {
                    if e.display_message.is_empty() || e.display_message == e.kind {
                        e.kind.clone()
                    } else {
                        format!("{}: {}", e.kind, e.display_message)
                    }
                });
                TaskState {
                    name: name.clone(),
                    state: ts.state.clone(),
                    exit_code,
                    reason,
                    failed: ts.failed || exit_code.is_some_and(|c| c != 0),
                    restarts: ts.restarts,
                }
            })
            .collect();
        let namespace = match ctx.namespace_mode {
            NamespaceMode::Native if !self.namespace.is_empty() => self.namespace.clone(),
            _ => resolve_namespace(ctx, namespace),
        };
        Execution {
            raw: crate::Raw::default(),
            id: self.id.clone(),
            job_name: job_name(ctx, &namespace, &self.job_id),
            namespace,
            status: allocation_status(self.view()),
            raw_status: self.client_status.clone(),
            node: Some(self.node_id.clone()).filter(|n| !n.is_empty()),
            tasks,
            created: rfc3339_from_nanos(self.create_time),
        }
    }
}

/// The allocations of a job's current run: those of version `version` or later (a job
/// registered again under the same ID keeps the allocations of its earlier versions), except
/// for a stopped job (`stopped`: stopping bumps the version and places nothing), whose current
/// run is the latest version that has allocations; in both cases without the allocations a
/// reschedule replaced (their outcome is superseded by the replacement's).
pub(crate) fn current_run(version: u64, stopped: bool, allocs: &[AllocStub]) -> Vec<&AllocStub> {
    let latest = allocs.iter().map(|a| a.job_version).max();
    let floor = match latest {
        Some(latest) if stopped => latest.min(version),
        _ => version,
    };
    let replaced: std::collections::BTreeSet<&str> = allocs.iter().flat_map(AllocStub::replaced).collect();
    allocs.iter().filter(|a| a.job_version >= floor && !replaced.contains(a.id.as_str())).collect()
}

/// Parse an allocation list body.
pub(crate) fn parse_stubs(body: &[u8]) -> Result<Vec<AllocStub>> {
    decode("Nomad allocation list", body)
}

/// Parse an allocation list body into executions of `namespace`.
pub fn parse_executions(ctx: &Context, namespace: &str, body: &[u8]) -> Result<Vec<Execution>> {
    Ok(parse_stubs(body)?.iter().map(|a| a.to_execution(ctx, namespace)).collect())
}

/// `list_jobs_executions`: every allocation in the namespace (`GET /v1/allocations`). In
/// [`NamespaceMode::Prefix`] the allocations of jobs outside the `{namespace}-` prefix are left
/// out.
///
/// ```
/// use clustermanager_core::{nomad, Operation, Step};
/// let mut op = nomad::execution::list_all(&nomad::Context::default(), "acm-ns");
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(req.uri(), "/v1/allocations?namespace=acm-ns");
/// ```
pub fn list_all(
    ctx: &Context,
    namespace: &str,
) -> impl Operation<Output = Vec<Execution>, Item = Infallible> + Send + 'static {
    let (c, ns) = (ctx.clone(), namespace.to_owned());
    let req = Query::new(ctx, "/v1/allocations").namespace(ctx, namespace).get();
    Checked::from(req.map(|req| {
        Call::new(req, &ctx.retry, move |resp: Response| {
            let resp = check(resp)?;
            let stubs = parse_stubs(resp.body())?;
            let prefix = format!("{}-", resolve_namespace(&c, &ns));
            Ok(stubs
                .iter()
                .enumerate()
                .filter(|(_, a)| c.namespace_mode == NamespaceMode::Native || a.job_id.starts_with(&prefix))
                .map(|(i, a)| a.to_execution(&c, &ns).keeping(Raw::element(resp.body().clone(), i)))
                .collect())
        })
    }))
}

/// `list_job_executions`: the allocations of one job (`GET /v1/job/{id}/allocations`). Nomad
/// answers `[]` for a job that does not exist, and so does this.
///
/// ```
/// use clustermanager_core::{nomad, Operation, Step};
/// let mut op = nomad::execution::list(&nomad::Context::default(), "", "acm-ok");
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(req.uri(), "/v1/job/acm-ok/allocations");
/// ```
pub fn list(
    ctx: &Context,
    namespace: &str,
    job: &str,
) -> impl Operation<Output = Vec<Execution>, Item = Infallible> + Send + 'static {
    let (c, ns) = (ctx.clone(), namespace.to_owned());
    let id = super::query::job_id(ctx, namespace, job);
    let req = Query::new(ctx, format!("/v1/job/{}/allocations", encode_segment(&id))).namespace(ctx, namespace).get();
    Checked::from(req.map(|req| {
        Call::new(req, &ctx.retry, move |resp: Response| {
            let resp = check(resp)?;
            Ok(crate::raw::elements(parse_executions(&c, &ns, resp.body())?, resp.body()))
        })
    }))
}

enum DeleteState {
    Start,
    Read,
    Stop,
}

struct DeleteAlloc {
    ctx: Context,
    namespace: String,
    id: String,
    state: DeleteState,
}

impl Machine for DeleteAlloc {
    type Output = bool;

    fn step(&mut self, _now: Instant, ans: Option<Result<Response>>) -> Result<Next<Self::Output>> {
        let base = format!("/v1/allocation/{}", encode_segment(&self.id));
        match self.state {
            DeleteState::Start => {
                self.state = DeleteState::Read;
                Ok(Next::Send(Query::new(&self.ctx, base).namespace(&self.ctx, &self.namespace).get()?))
            }
            DeleteState::Read => {
                let resp = answer(ans)?;
                if resp.status() == http::StatusCode::NOT_FOUND {
                    return Ok(Next::Done(Ok(false)));
                }
                check(resp)?;
                self.state = DeleteState::Stop;
                let q = Query::new(&self.ctx, format!("{base}/stop")).namespace(&self.ctx, &self.namespace);
                Ok(Next::Send(q.post(None)?))
            }
            DeleteState::Stop => {
                let resp = answer(ans)?;
                if resp.status() == http::StatusCode::NOT_FOUND {
                    return Ok(Next::Done(Ok(false)));
                }
                check(resp)?;
                Ok(Next::Done(Ok(true)))
            }
        }
    }
}

/// `delete_execution`: stop an allocation (`POST /v1/allocation/{id}/stop`). `false` when the
/// allocation does not exist (read first: `GET /v1/allocation/{id}` answers 404). The
/// scheduler replaces a stopped allocation only if its job still wants it (a service job); a
/// batch allocation stopped this way counts as stopped, not failed.
///
/// ```
/// use clustermanager_core::{nomad, Operation, Step};
/// let mut op = nomad::execution::delete(&nomad::Context::default(), "", "294e657f-3f0a-03f7-a46d-932b102c10ce");
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(req.uri(), "/v1/allocation/294e657f-3f0a-03f7-a46d-932b102c10ce");
/// ```
pub fn delete(
    ctx: &Context,
    namespace: &str,
    id: &str,
) -> impl Operation<Output = bool, Item = Infallible> + Send + 'static {
    let machine =
        DeleteAlloc { ctx: ctx.clone(), namespace: namespace.to_owned(), id: id.to_owned(), state: DeleteState::Start };
    Flow::new(machine, &ctx.retry)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    fn ids(v: &[&AllocStub]) -> Vec<String> {
        v.iter().map(|a| a.id.clone()).collect()
    }

    #[test]
    fn current_run_leaves_out_earlier_versions_and_replaced_allocations() {
        let allocs = parse_stubs(
            br#"[{"ID":"a","JobVersion":0,"ClientStatus":"failed"},
                {"ID":"b","JobVersion":1,"ClientStatus":"failed"},
                {"ID":"c","JobVersion":1,"ClientStatus":"complete","RescheduleTracker":{"Events":[{"PrevAllocID":"b"}]}}]"#,
        )
        .unwrap();
        assert_eq!(ids(&current_run(1, false, &allocs)), ["c"]);
        assert_eq!(ids(&current_run(0, false, &allocs)), ["a", "c"]);
        // Stopped at version 2: the latest version with allocations is the run the stop ended.
        assert_eq!(ids(&current_run(2, true, &allocs)), ["c"]);
        // Not stopped, nothing placed for version 2 yet.
        assert!(current_run(2, false, &allocs).is_empty());
    }
}
