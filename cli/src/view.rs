//! What `-o json` and `-o yaml` print: the library's types as stable documents, and the text
//! table the others print.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use clustermanager_core::{Execution, Job, Namespace, Node, Reason, Status, Workload};
use serde::Serialize;

use crate::ui::age;

/// A job.
#[derive(Debug, Serialize)]
pub struct JobView {
    pub name: String,
    pub namespace: String,
    /// `Pending`, `Running`, `Succeeded`, `Failed` (`Unknown` when it cannot be told yet).
    pub status: String,
    /// The server's own word.
    pub raw_status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    pub active: u32,
    pub succeeded: u32,
    pub failed: u32,
    pub start_time: Option<String>,
    pub completion_time: Option<String>,
    /// Seconds since `start_time`, on the cluster's calendar.
    pub age_seconds: Option<u64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Why it has not started, or why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<ReasonView>,
    /// How many executions (pods, allocations) it has.
    pub execution_count: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub executions: Vec<ExecutionView>,
}

/// Why a job is stuck or failed.
#[derive(Debug, Serialize)]
pub struct ReasonView {
    /// `MissingDriver`, `InvalidImage`, `ImagePull`, `ResourcesExhausted`, ...
    pub kind: String,
    /// In plain words.
    pub message: String,
    /// Whether only changing the job or the cluster resolves it.
    pub permanent: bool,
    /// The server's own field and words.
    pub source: String,
}

impl From<&Reason> for ReasonView {
    fn from(r: &Reason) -> Self {
        ReasonView {
            kind: format!("{:?}", r.kind),
            message: r.message.clone(),
            permanent: r.permanent,
            source: r.source.clone(),
        }
    }
}

/// One execution (pod, allocation).
#[derive(Debug, Serialize)]
pub struct ExecutionView {
    pub id: String,
    pub job: String,
    pub status: String,
    pub raw_status: String,
    pub node: Option<String>,
    pub created: Option<String>,
    pub tasks: Vec<TaskView>,
}

/// A container or task of an execution.
#[derive(Debug, Serialize)]
pub struct TaskView {
    pub name: String,
    pub state: String,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
    pub restarts: u32,
}

impl From<&Execution> for ExecutionView {
    fn from(e: &Execution) -> Self {
        ExecutionView {
            id: e.id.clone(),
            job: e.job_name.clone(),
            status: status_word(e.status, &e.raw_status),
            raw_status: e.raw_status.clone(),
            node: e.node.clone(),
            created: e.created.clone(),
            tasks: e
                .tasks
                .iter()
                .map(|t| TaskView {
                    name: t.name.clone(),
                    state: t.state.clone(),
                    exit_code: t.exit_code,
                    reason: t.reason.clone(),
                    restarts: t.restarts,
                })
                .collect(),
        }
    }
}

impl JobView {
    /// `job` with its executions (all of them, or only counted when `detailed` is false), ages
    /// against `now`.
    pub fn new(job: &Job, executions: &[&Execution], detailed: bool, now: SystemTime) -> Self {
        JobView {
            name: job.name.clone(),
            namespace: job.namespace.clone(),
            status: status_word(job.status, &job.raw_status),
            raw_status: job.raw_status.clone(),
            exit_code: job.exit_code,
            active: job.active,
            succeeded: job.succeeded,
            failed: job.failed,
            start_time: job.start_time.clone(),
            completion_time: job.completion_time.clone(),
            age_seconds: since(job.start_time.as_deref(), now).map(|d| d.as_secs()),
            labels: job.labels.clone(),
            reason: job.pending_reason.as_ref().map(ReasonView::from),
            execution_count: executions.len(),
            executions: if detailed {
                executions.iter().map(|e| ExecutionView::from(*e)).collect()
            } else {
                Vec::new()
            },
        }
    }
}

/// A node.
#[derive(Debug, Serialize)]
pub struct NodeView {
    pub id: String,
    pub name: String,
    pub status: String,
    pub ready: bool,
    pub datacenter: Option<String>,
    pub drivers: Vec<String>,
    pub cpu_allocatable: Option<String>,
    pub memory_allocatable: Option<String>,
}

impl From<&Node> for NodeView {
    fn from(n: &Node) -> Self {
        NodeView {
            id: n.id.clone(),
            name: n.name.clone(),
            status: n.status.clone(),
            ready: n.ready,
            datacenter: n.datacenter.clone(),
            drivers: n.drivers.clone(),
            cpu_allocatable: n.cpu_allocatable.or(n.cpu_capacity).map(|c| c.to_quantity()),
            memory_allocatable: n.memory_allocatable.or(n.memory_capacity).map(|m| m.to_quantity()),
        }
    }
}

/// A namespace.
#[derive(Debug, Serialize)]
pub struct NamespaceView {
    pub name: String,
    pub phase: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl From<&Namespace> for NamespaceView {
    fn from(n: &Namespace) -> Self {
        NamespaceView { name: n.name.clone(), phase: n.phase.clone(), description: n.description.clone() }
    }
}

/// A Deployment (Nomad: a service job).
#[derive(Debug, Serialize)]
pub struct WorkloadView {
    pub name: String,
    pub namespace: String,
    pub replicas: u32,
    pub ready: u32,
    pub available: u32,
    pub updated: u32,
    pub is_available: bool,
    pub raw_status: String,
}

impl From<&Workload> for WorkloadView {
    fn from(w: &Workload) -> Self {
        WorkloadView {
            name: w.name.clone(),
            namespace: w.namespace.clone(),
            replicas: w.replicas,
            ready: w.ready,
            available: w.available,
            updated: w.updated,
            is_available: w.is_available,
            raw_status: w.raw_status.clone(),
        }
    }
}

/// The unified status as a word (`Unknown` when it cannot be told; then the server's word
/// is in `raw_status`).
pub fn status_word(status: Option<Status>, raw: &str) -> String {
    match status {
        Some(s) => format!("{s:?}"),
        None if raw.is_empty() => "Unknown".into(),
        None => raw.to_owned(),
    }
}

/// How long ago the RFC 3339 time `at` was, on `now`'s calendar.
pub fn since(at: Option<&str>, now: SystemTime) -> Option<Duration> {
    // core's reader of the exec plugins' RFC 3339 expiry times
    let at = clustermanager_core::config::exec::parse_rfc3339(at?)?;
    let now = now.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(now.saturating_sub(u64::try_from(at).ok()?)))
}

/// `at`'s age for a table (`-` when unknown).
pub fn age_of(at: Option<&str>, now: SystemTime) -> String {
    since(at, now).map_or_else(|| "-".into(), age)
}

/// Rows as a table with aligned columns (the last column is not padded).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> Vec<String> {
    let width = |i: usize| {
        rows.iter().map(|r| r.get(i).map_or(0, |c| visible_len(c))).chain([header[i].len()]).max().unwrap_or(0)
    };
    let widths: Vec<usize> = (0..header.len()).map(width).collect();
    let line = |cells: Vec<String>| {
        let last = cells.len().saturating_sub(1);
        let mut out = String::new();
        for (i, cell) in cells.into_iter().enumerate() {
            let pad = widths[i].saturating_sub(visible_len(&cell));
            out.push_str(&cell);
            if i < last {
                out.push_str(&" ".repeat(pad + 3));
            }
        }
        out
    };
    std::iter::once(line(header.iter().map(|h| (*h).to_owned()).collect()))
        .chain(rows.iter().cloned().map(line))
        .collect()
}

/// The width of `text` on a terminal, leaving out color codes.
fn visible_len(text: &str) -> usize {
    let mut len = 0;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            len += 1;
        }
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_count_on_the_clusters_calendar() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_605);
        assert_eq!(since(Some("2026-01-01T00:00:00Z"), now), Some(Duration::from_secs(5)));
        assert_eq!(age_of(Some("2026-01-01T01:00:00+01:00"), now), "5s");
        assert_eq!(age_of(Some("yesterday"), now), "-");
        assert_eq!(age_of(None, now), "-");
    }

    #[test]
    fn tables_align_columns_ignoring_colors() {
        let rows = vec![
            vec!["a".into(), "\x1b[32mok\x1b[0m".into(), "x".into()],
            vec!["long".into(), "no".into(), "y".into()],
        ];
        let lines = table(&["NAME", "ST", "Z"], &rows);
        assert_eq!(lines[0], "NAME   ST   Z");
        assert_eq!(lines[1], "a      \x1b[32mok\x1b[0m   x");
        assert_eq!(lines[2], "long   no   y");
    }
}
