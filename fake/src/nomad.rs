//! The fake Nomad agent (server + one client node in `dc1`, region `global`).
//!
//! Answers copy Nomad 1.1's shapes (see `tests/fixtures/nomad`): PascalCase JSON, an
//! `X-Nomad-Index` (plus `X-Nomad-KnownLeader`/`X-Nomad-LastContact` on reads), errors as plain
//! text (`job not found`, `1 error occurred:\n\t* Missing job datacenters\n\n`).
//!
//! Emulated:
//! - `/v1/agent/self`, `/v1/status/leader`, `/v1/regions`, `/v1/nodes`, `/v1/node/{id}`;
//! - namespaces (list, get, create, delete refused while non-terminal jobs remain);
//! - `POST /v1/jobs` registers a job (validation errors like Nomad's), creates an evaluation and
//!   one allocation per task group instance: `pending`, `running` after one step, then for batch
//!   jobs `complete` or `failed` (exit code from the command, see [`crate::script`]); service
//!   jobs keep running;
//! - `/v1/jobs` (`prefix`), `/v1/job/{id}` (+ `/summary`, `/allocations`, `/evaluations`,
//!   `/scale` GET and POST), `DELETE /v1/job/{id}` (stop; `purge=true` removes it), the
//!   allocation and evaluation endpoints, `/v1/allocation/{id}/stop`;
//! - blocking queries: `index`/`wait` answer once the resource's index passes `index` or after
//!   `wait` (default 5 min) of virtual time;
//! - `/v1/client/fs/logs/{alloc}`: plain or framed (`{"Data","File","Offset"}`), `origin`/
//!   `offset`, `follow=true` (the output as the task writes it, then the end of the stream once
//!   the task is dead);
//! - `/v1/event/stream` (topics `Job`, `Allocation`, `Evaluation`, with `Key` filters), ending
//!   when nothing more is scheduled instead of sending heartbeats forever.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

/// The one node's CPU (MHz) and memory (MB).
/// What the fake node offers by default (`FakeOptions::nomad_node_cpu_mhz` / `_memory_mb`).
pub(crate) const NODE_CPU_MHZ: u64 = 4000;
pub(crate) const NODE_MEMORY_MB: u64 = 8192;

use base64::Engine as _;
use bytes::Bytes;
use clustermanager_core::{Request, Response};
use serde_json::{json, Value};

use crate::http_util::{self, param};
use crate::script::Outcome;
use crate::sim::{self, Schedule};
use crate::{Reply, StreamPoll};

mod deployments;

/// The client node's ID.
const NODE_ID: &str = "f4ce0000-0000-4000-8000-000000000001";
const NODE_NAME: &str = "fake-node-1";
const DEFAULT_WAIT: Duration = Duration::from_secs(300);

#[derive(Debug)]
enum Action {
    Start(String),
    Finish(String),
    /// A failed task's restart delay passed: it starts again in its allocation.
    Restart(String),
    /// A service allocation ran its `MinHealthyTime`.
    Healthy(String),
    /// A deployment's progress deadline passed.
    DeploymentDeadline {
        ns: String,
        id: String,
        deployment: String,
    },
}

#[derive(Debug, Clone)]
struct JobRec {
    job: Value,
    create_index: u64,
    modify_index: u64,
    job_modify_index: u64,
    submit: Duration,
}

#[derive(Debug, Clone)]
struct AllocRec {
    id: String,
    namespace: String,
    job_id: String,
    eval_id: String,
    group: String,
    task: String,
    index_in_group: usize,
    job: Value,
    client_status: String,
    desired_status: String,
    task_state: Value,
    outcome: Outcome,
    create_index: u64,
    modify_index: u64,
    create_time: Duration,
    /// When the task started (virtual time).
    started: Option<Duration>,
    modify_time: Duration,
    /// Healthy for its deployment (ran `MinHealthyTime`).
    healthy: bool,
    /// What it holds of the node while pending or running: (CPU MHz, memory MB).
    asks: (u64, u64),
}

/// A task group's restart policy (batch jobs' defaults when the job gives none: 3 attempts,
/// 15 s apart, in 24 h).
struct RestartPolicy {
    attempts: u64,
    delay: Duration,
    interval: Duration,
}

impl RestartPolicy {
    fn of(job: &Value, group: &str) -> Self {
        let groups = job["TaskGroups"].as_array().map(Vec::as_slice).unwrap_or_default();
        let policy = groups.iter().find(|g| g["Name"] == group).map(|g| &g["RestartPolicy"]);
        let nanos = |v: &Value, default: u64| Duration::from_nanos(v.as_u64().unwrap_or(default));
        match policy.filter(|p| p.is_object()) {
            Some(p) => RestartPolicy {
                attempts: p["Attempts"].as_u64().unwrap_or(0),
                delay: nanos(&p["Delay"], 15_000_000_000),
                interval: nanos(&p["Interval"], 86_400_000_000_000),
            },
            None => {
                RestartPolicy { attempts: 3, delay: Duration::from_secs(15), interval: Duration::from_secs(86_400) }
            }
        }
    }
}

/// A duration as Go prints it (`24h0m0s`, `1m30s`, `15s`, `1.5s`), as Nomad's messages show them.
fn go_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let frac = d.subsec_nanos();
    let seconds = if frac == 0 {
        format!("{s}s")
    } else {
        let text = format!("{s}.{frac:09}");
        format!("{}s", text.trim_end_matches('0'))
    };
    match (h, m) {
        (0, 0) => seconds,
        (0, _) => format!("{m}m{seconds}"),
        _ => format!("{h}h{m}m{seconds}"),
    }
}

#[derive(Debug, Clone)]
struct EventRec {
    index: u64,
    topic: &'static str,
    kind: &'static str,
    key: String,
    namespace: String,
    payload: Value,
}

/// The fake Nomad agent's state.
#[derive(Debug)]
pub(crate) struct Cluster {
    index: u64,
    serial: u64,
    namespaces: BTreeMap<String, (String, u64, u64)>,
    jobs: BTreeMap<(String, String), JobRec>,
    allocs: BTreeMap<String, AllocRec>,
    /// The allocation IDs of each job, `(namespace, job)` (a job list reads every job's).
    allocs_by_job: HashMap<(String, String), Vec<String>>,
    evals: BTreeMap<String, Value>,
    scale_events: BTreeMap<(String, String), Vec<Value>>,
    events: Vec<EventRec>,
    schedule: Schedule<Action>,
    step: Duration,
    now: Duration,
    /// The task drivers the fake node offers (healthy).
    drivers: Vec<String>,
    /// What the fake node offers: (CPU MHz, memory MB).
    node_resources: (u64, u64),
    /// Allocations the scheduler could not place, by job: (group → count) for the summary's Queued.
    queued: BTreeMap<(String, String), BTreeMap<String, u64>>,
    /// Jobs with allocations queued for want of CPU or memory, and their blocked evaluation:
    /// retried when an allocation ends and frees what it used.
    blocked: BTreeMap<(String, String), String>,
    /// An allocation ended since the blocked jobs were last retried.
    freed: bool,
    /// The index of the last purge: the jobs table's index moves on a delete too (Nomad's job
    /// list answers `max(Index("jobs"), Index("job_summary"))`), which wakes blocking lists.
    jobs_purged_at: u64,
    /// The latest deployment of each service job, by (namespace, job).
    deployments: BTreeMap<(String, String), Value>,
}

/// An open streamed answer.
#[derive(Debug)]
pub(crate) enum Stream {
    Logs {
        alloc: String,
        stderr: bool,
        plain: bool,
        origin_end: bool,
        offset: usize,
        /// Bytes of the log already sent (`None` before the first read applies `origin`/`offset`).
        sent: Option<usize>,
    },
    Events {
        topics: Vec<(String, String)>,
        namespace: String,
        cursor: u64,
        queued: VecDeque<Bytes>,
    },
}

type Answer = Result<(u64, Value), Response>;

impl Cluster {
    pub(crate) fn new(step: Duration) -> Self {
        let mut namespaces = BTreeMap::new();
        namespaces.insert("default".to_owned(), ("Default shared namespace".to_owned(), 1, 1));
        Cluster {
            index: 10,
            serial: 0,
            namespaces,
            jobs: BTreeMap::new(),
            allocs: BTreeMap::new(),
            allocs_by_job: HashMap::new(),
            evals: BTreeMap::new(),
            scale_events: BTreeMap::new(),
            events: Vec::new(),
            schedule: Schedule::default(),
            step,
            now: Duration::ZERO,
            drivers: ["raw_exec", "exec", "docker"].map(str::to_owned).to_vec(),
            node_resources: (NODE_CPU_MHZ, NODE_MEMORY_MB),
            queued: BTreeMap::new(),
            blocked: BTreeMap::new(),
            freed: false,
            jobs_purged_at: 0,
            deployments: BTreeMap::new(),
        }
    }

    /// Offer only these task drivers on the fake node.
    pub(crate) fn set_drivers(&mut self, drivers: Vec<String>) {
        self.drivers = drivers;
    }

    /// Offer this much CPU (MHz) and memory (MB) on the fake node.
    pub(crate) fn set_node_resources(&mut self, cpu_mhz: u64, memory_mb: u64) {
        self.node_resources = (cpu_mhz, memory_mb);
    }

    pub(crate) fn index(&self) -> u64 {
        self.index
    }

    pub(crate) fn next_due(&self) -> Option<Duration> {
        self.schedule.next_due()
    }

    pub(crate) fn advance(&mut self, now: Duration) {
        self.now = self.now.max(now);
        while let Some((at, action)) = self.schedule.pop_due(self.now) {
            let saved = self.now;
            self.now = at;
            match action {
                Action::Start(id) => self.start_alloc(&id),
                Action::Finish(id) => self.finish_alloc(&id),
                Action::Restart(id) => self.restart_task(&id),
                Action::Healthy(id) => self.alloc_healthy(&id),
                Action::DeploymentDeadline { ns, id, deployment } => self.deployment_deadline(&ns, &id, &deployment),
            }
            self.retry_blocked();
            self.now = saved;
        }
    }

    fn bump(&mut self) -> u64 {
        self.index += 1;
        self.index
    }

    fn new_id(&mut self, what: &str) -> String {
        self.serial += 1;
        sim::uid(what, self.serial)
    }

    fn event(&mut self, topic: &'static str, kind: &'static str, key: &str, namespace: &str, payload: Value) {
        self.events.push(EventRec {
            index: self.index,
            topic,
            kind,
            key: key.into(),
            namespace: namespace.into(),
            payload,
        });
    }

    // ----- allocations' lives ---------------------------------------------------------------

    fn task_event(&self, kind: &str, display: &str, exit_code: i32) -> Value {
        json!({"Type": kind, "Time": sim::unix_nanos(self.now) as u64, "Message": "", "DisplayMessage": display, "Details": {}, "FailsTask": false, "ExitCode": exit_code, "Signal": 0})
    }

    fn start_alloc(&mut self, id: &str) {
        let Some(a) = self.allocs.get(id) else { return };
        if a.client_status != "pending" || a.desired_status != "run" {
            return;
        }
        let started = self.task_event("Started", "Task started by client", 0);
        let now = self.now;
        self.task_events(
            id,
            [started],
            Some(&|a: &mut AllocRec| {
                a.client_status = "running".into();
                a.task_state["State"] = "running".into();
                // kept across restarts, as the client keeps it
                if a.task_state["StartedAt"].is_null() {
                    a.task_state["StartedAt"] = sim::timestamp(now).into();
                }
                a.started = Some(now);
            }),
        );
        let Some(a) = self.allocs.get(id) else { return };
        let (batch, duration) = (a.job["Type"] == "batch", a.outcome.duration);
        if batch {
            self.schedule.at(self.now + duration, Action::Finish(id.to_owned()));
        } else {
            self.alloc_started(id);
        }
    }

    fn finish_alloc(&mut self, id: &str) {
        let Some(a) = self.allocs.get(id) else { return };
        if a.client_status != "running" {
            return;
        }
        let code = a.outcome.exit_code;
        if code == 0 {
            return self.end_alloc(id, "complete", 0);
        }
        // the client's restart policy: restart the task in place while attempts are left
        // (mode `fail`), else the task and its allocation fail
        let policy = RestartPolicy::of(&a.job, &a.group);
        let restarts = a.task_state["Restarts"].as_u64().unwrap_or(0);
        if restarts < policy.attempts {
            return self.restarting(id, code, policy.delay);
        }
        self.end_alloc(id, "failed", code);
        let reason = if policy.attempts == 0 {
            "Policy allows no restarts".to_owned()
        } else {
            format!(
                "Exceeded allowed attempts {} in interval {} and mode is \"fail\"",
                policy.attempts,
                go_duration(policy.interval)
            )
        };
        let mut not_restarting = self.task_event("Not Restarting", &reason, 0);
        not_restarting["FailsTask"] = true.into();
        not_restarting["RestartReason"] = reason.clone().into();
        not_restarting["Details"] = json!({"fails_task": "true", "restart_reason": reason});
        self.task_events(id, [not_restarting], None);
    }

    /// A failed task with restart attempts left: it waits out the delay, pending again (and so
    /// its allocation), one restart more counted, then starts again ([`Action::Restart`]).
    fn restarting(&mut self, id: &str, code: i32, delay: Duration) {
        let terminated = self.task_event("Terminated", &format!("Exit Code: {code}"), code);
        let mut restarting = self.task_event("Restarting", &format!("Task restarting in {}", go_duration(delay)), 0);
        restarting["RestartReason"] = "Restart within policy".into();
        restarting["StartDelay"] = u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX).into();
        restarting["Details"] =
            json!({"restart_reason": "Restart within policy", "start_delay": delay.as_nanos().to_string()});
        let now = self.now;
        self.task_events(
            id,
            [terminated, restarting],
            Some(&|a: &mut AllocRec| {
                a.client_status = "pending".into();
                a.task_state["State"] = "pending".into();
                let restarts = a.task_state["Restarts"].as_u64().unwrap_or(0);
                a.task_state["Restarts"] = (restarts + 1).into();
                a.task_state["LastRestart"] = sim::timestamp(now).into();
            }),
        );
        self.schedule.at(self.now.saturating_add(delay), Action::Restart(id.to_owned()));
    }

    /// The restart delay passed: the task starts again (unless the allocation was stopped).
    fn restart_task(&mut self, id: &str) {
        let Some(a) = self.allocs.get(id) else { return };
        if a.client_status != "pending" || a.desired_status != "run" {
            return;
        }
        self.start_alloc(id);
    }

    /// Append `events` to an allocation's task events (changing it with `change` first), and
    /// publish the change.
    fn task_events<const N: usize>(&mut self, id: &str, events: [Value; N], change: Option<&dyn Fn(&mut AllocRec)>) {
        let index = self.bump();
        let now = self.now;
        let Some(a) = self.allocs.get_mut(id) else { return };
        if let Some(change) = change {
            change(a);
        }
        if let Some(list) = a.task_state["Events"].as_array_mut() {
            list.extend(events);
        }
        a.modify_index = index;
        a.modify_time = now;
        let (ns, job) = (a.namespace.clone(), a.job_id.clone());
        self.alloc_event(id);
        self.refresh_job(&ns, &job);
    }

    /// Stop a job's pending and running allocations, as the scheduler does when the job is
    /// stopped or replaced by a new version: desired `stop`, client `complete`.
    fn stop_live_allocs(&mut self, ns: &str, id: &str) {
        let live: Vec<String> = self
            .allocs_of(ns, id)
            .iter()
            .filter(|a| matches!(a.client_status.as_str(), "pending" | "running"))
            .map(|a| a.id.clone())
            .collect();
        for a in live {
            if let Some(rec) = self.allocs.get_mut(&a) {
                rec.desired_status = "stop".into();
            }
            self.end_alloc(&a, "complete", 0);
        }
    }

    /// Mark an allocation terminal with this client status and exit code.
    fn end_alloc(&mut self, id: &str, status: &str, code: i32) {
        let terminated = self.task_event("Terminated", &format!("Exit Code: {code}"), code);
        let Some(a) = self.allocs.get(id) else { return };
        self.freed |= matches!(a.client_status.as_str(), "pending" | "running");
        let now = sim::timestamp(self.now);
        self.task_events(
            id,
            [terminated],
            Some(&|a: &mut AllocRec| {
                a.client_status = status.into();
                a.task_state["State"] = "dead".into();
                a.task_state["Failed"] = (status == "failed").into();
                a.task_state["FinishedAt"] = now.clone().into();
                if a.task_state["StartedAt"].is_null() {
                    a.task_state["StartedAt"] = now.clone().into();
                }
            }),
        );
    }

    fn alloc_event(&mut self, id: &str) {
        if let Some(a) = self.allocs.get(id) {
            let (payload, ns) = (json!({"Allocation": alloc_json(a, true)}), a.namespace.clone());
            self.event("Allocation", "AllocationUpdated", id, &ns, payload);
        }
    }

    fn allocs_of(&self, ns: &str, job: &str) -> Vec<&AllocRec> {
        let ids = self.allocs_by_job.get(&(ns.to_owned(), job.to_owned()));
        let mut allocs: Vec<&AllocRec> = ids.into_iter().flatten().filter_map(|id| self.allocs.get(id)).collect();
        allocs.sort_by(|a, b| a.id.cmp(&b.id));
        allocs
    }

    /// Recompute a job's `Status` from its allocations.
    fn refresh_job(&mut self, ns: &str, job: &str) {
        let allocs = self.allocs_of(ns, job);
        let live = allocs.iter().any(|a| matches!(a.client_status.as_str(), "pending" | "running"));
        let running = allocs.iter().any(|a| a.client_status == "running");
        let Some(rec) = self.jobs.get(&(ns.to_owned(), job.to_owned())) else { return };
        let status = if live && running {
            "running"
        } else if live {
            "pending"
        } else if rec.job["Stop"] == true || !allocs.is_empty() {
            "dead"
        } else {
            "pending"
        };
        if rec.job["Status"] == status {
            return;
        }
        let index = self.bump();
        if let Some(rec) = self.jobs.get_mut(&(ns.to_owned(), job.to_owned())) {
            rec.job["Status"] = status.into();
            rec.modify_index = index;
            rec.job["ModifyIndex"] = index.into();
            let payload = json!({"Job": rec.job.clone()});
            self.event("Job", "JobRegistered", job, ns, payload);
        }
    }

    // ----- test helpers ----------------------------------------------------------------------

    pub(crate) fn alloc_ids(&self, ns: &str) -> Vec<String> {
        self.allocs.values().filter(|a| ns.is_empty() || a.namespace == ns).map(|a| a.id.clone()).collect()
    }

    pub(crate) fn set_alloc_status(&mut self, id: &str, status: &str, code: i32) -> bool {
        let Some(a) = self.allocs.get(id) else { return false };
        match status {
            "running" => {
                let (ns, job) = (a.namespace.clone(), a.job_id.clone());
                let index = self.bump();
                if let Some(a) = self.allocs.get_mut(id) {
                    a.client_status = "running".into();
                    a.task_state["State"] = "running".into();
                    a.modify_index = index;
                }
                self.alloc_event(id);
                self.refresh_job(&ns, &job);
            }
            "complete" | "failed" | "lost" => self.end_alloc(id, status, code),
            _ => {
                let index = self.bump();
                if let Some(a) = self.allocs.get_mut(id) {
                    a.client_status = status.into();
                    a.modify_index = index;
                }
            }
        }
        true
    }

    // ----- request handling ----------------------------------------------------------------------

    /// Answer one request; then the scheduler retries what waits for room, if a request freed
    /// some (a stop, a purge, a new version), as Nomad unblocks its blocked evaluations.
    pub(crate) fn handle(&mut self, req: &Request, now: Duration, expired: bool) -> Reply<Stream> {
        let reply = self.answer(req, now, expired);
        self.retry_blocked();
        reply
    }

    fn answer(&mut self, req: &Request, _now: Duration, expired: bool) -> Reply<Stream> {
        let query = http_util::query(req);
        let path = req.uri().path().to_owned();
        let segs: Vec<String> = path.trim_start_matches("/v1/").split('/').map(http_util::decode).collect();
        let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
        let method = req.method().as_str();
        let ns = match param(&query, "namespace") {
            Some(n) if !n.is_empty() => n.to_owned(),
            _ => "default".to_owned(),
        };
        // Blocking queries: wait while the resource's index has not passed `index`.
        let min_index = param(&query, "index").and_then(|i| i.parse::<u64>().ok());
        let result: Answer = match (method, segs.as_slice()) {
            ("GET", ["agent", "self"]) => return Reply::Full(http_util::json(200, &[], &self.agent_self(), false)),
            ("GET", ["status", "leader"]) => Ok((self.index, json!("127.0.0.1:4647"))),
            ("GET", ["regions"]) => Ok((self.index, json!(["global"]))),
            ("GET", ["nodes"]) => {
                let prefix = param(&query, "prefix").unwrap_or("");
                Ok((
                    9,
                    json!(if NODE_ID.starts_with(prefix) {
                        vec![node_stub(&self.drivers, self.node_resources)]
                    } else {
                        vec![]
                    }),
                ))
            }
            ("GET", ["node", id]) if *id == NODE_ID => Ok((9, node_stub(&self.drivers, self.node_resources))),
            ("GET", ["node", _]) => Err(text(404, "node not found", Some(9))),
            ("GET", ["namespaces"]) => {
                Ok((self.ns_index(), Value::Array(self.namespaces.keys().map(|n| self.namespace_json(n)).collect())))
            }
            ("GET", ["namespace", name]) => match self.namespaces.get(*name) {
                Some(_) => Ok((self.ns_index(), self.namespace_json(name))),
                None => Err(text(404, "Namespace not found", Some(self.ns_index()))),
            },
            ("POST" | "PUT", ["namespace"]) | ("POST" | "PUT", ["namespace", _]) => {
                return Reply::Full(self.upsert_namespace(req, segs.get(1).copied()))
            }
            ("DELETE", ["namespace", name]) => return Reply::Full(self.delete_namespace(name)),
            ("GET", ["jobs"]) => Ok(self.list_jobs(&ns, param(&query, "prefix").unwrap_or(""))),
            ("POST" | "PUT", ["jobs"]) => return Reply::Full(self.register(req, &ns)),
            ("DELETE", ["jobs"]) => Err(text(405, "Invalid method", None)),
            ("GET", ["job", id]) => {
                self.job(&ns, id).map(|r| (r.modify_index, r.job.clone())).ok_or_else(|| self.job_not_found())
            }
            ("GET", ["job", id, "summary"]) => {
                self.job(&ns, id).map(|r| (r.modify_index, self.summary(r))).ok_or_else(|| self.job_not_found())
            }
            ("GET", ["job", id, "allocations"]) => {
                let allocs = self.allocs_of(&ns, id);
                let index = allocs.iter().map(|a| a.modify_index).max().unwrap_or(1);
                Ok((index, Value::Array(allocs.iter().map(|a| alloc_json(a, false)).collect())))
            }
            ("GET", ["job", id, "evaluations"]) => {
                let evals: Vec<Value> = self
                    .evals
                    .values()
                    .filter(|e| e["JobID"] == *id && e["Namespace"] == ns.as_str())
                    .cloned()
                    .collect();
                let index = evals.iter().filter_map(|e| e["ModifyIndex"].as_u64()).max().unwrap_or(1);
                Ok((index, Value::Array(evals)))
            }
            ("GET", ["job", id, "scale"]) => {
                self.job(&ns, id).map(|r| (r.modify_index, self.scale_status(r))).ok_or_else(|| self.job_not_found())
            }
            ("POST" | "PUT", ["job", id, "scale"]) => return Reply::Full(self.scale(req, &ns, id)),
            ("GET", ["job", id, "deployment"]) => match self.job(&ns, id) {
                Some(_) => {
                    Ok((self.deployment_index(&ns, id), self.deployment(&ns, id).cloned().unwrap_or(Value::Null)))
                }
                None => Ok((self.deployment_index(&ns, id), Value::Null)),
            },
            ("DELETE", ["job", id]) => {
                return Reply::Full(self.deregister(&ns, id, param(&query, "purge") == Some("true")))
            }
            ("GET", ["allocations"]) => {
                let prefix = param(&query, "prefix").unwrap_or("");
                let all = ns == "*";
                let list: Vec<Value> = self
                    .allocs
                    .values()
                    .filter(|a| (all || a.namespace == ns) && a.id.starts_with(prefix))
                    .map(|a| alloc_json(a, false))
                    .collect();
                Ok((self.index, Value::Array(list)))
            }
            ("GET", ["allocation", id]) => self
                .allocs
                .get(*id)
                .map(|a| (a.modify_index, alloc_json(a, true)))
                .ok_or_else(|| text(404, "alloc not found", Some(self.index))),
            ("POST" | "PUT", ["allocation", id, "stop"]) => return Reply::Full(self.stop_alloc(id)),
            ("GET", ["evaluation", id]) => self
                .evals
                .get(*id)
                .map(|e| (e["ModifyIndex"].as_u64().unwrap_or(1), e.clone()))
                .ok_or_else(|| text(404, "eval not found", Some(self.index))),
            ("GET", ["client", "fs", "logs", alloc]) => return self.logs(alloc, &query),
            ("GET", ["event", "stream"]) => return self.event_stream(&query),
            _ => return Reply::Full(http_util::response(404, "", &[], "")),
        };
        match result {
            Ok((index, _)) if min_index.is_some_and(|m| index <= m) && !expired => {
                let wait = param(&query, "wait").and_then(parse_go_duration).unwrap_or(DEFAULT_WAIT);
                Reply::Block(wait)
            }
            Ok((index, body)) => Reply::Full(http_util::json(200, &read_headers(index), &body, false)),
            Err(resp) => Reply::Full(resp),
        }
    }

    fn job(&self, ns: &str, id: &str) -> Option<&JobRec> {
        self.jobs.get(&(ns.to_owned(), id.to_owned()))
    }

    fn job_not_found(&self) -> Response {
        text(404, "job not found", Some(self.index))
    }

    fn ns_index(&self) -> u64 {
        self.namespaces.values().map(|v| v.2).max().unwrap_or(1)
    }

    fn namespace_json(&self, name: &str) -> Value {
        let (desc, create, modify) = self.namespaces.get(name).cloned().unwrap_or_default();
        json!({"Name": name, "Description": desc, "Quota": "", "Hash": base64::engine::general_purpose::STANDARD.encode(sim::uid(name, create)), "CreateIndex": create, "ModifyIndex": modify})
    }

    fn agent_self(&self) -> Value {
        json!({
            "config": {"Region": "global", "Datacenter": "dc1", "NodeName": NODE_NAME, "Version": {"Version": "1.1.2", "VersionPrerelease": "", "VersionMetadata": ""}, "ACL": {"Enabled": false}, "Server": {"Enabled": true}, "Client": {"Enabled": true}},
            "member": {"Name": format!("{NODE_NAME}.global"), "Addr": "127.0.0.1", "Port": 4648, "Tags": {"region": "global", "dc": "dc1", "role": "nomad", "build": "1.1.2", "vsn": "1"}, "Status": "alive"},
            "stats": {"nomad": {"server": "true", "leader": "true", "known_regions": "1"}}
        })
    }

    fn upsert_namespace(&mut self, req: &Request, name_in_path: Option<&str>) -> Response {
        let body: Value = match serde_json::from_slice(req.body()) {
            Ok(v) => v,
            Err(e) => return text(400, &e.to_string(), None),
        };
        let name = body["Name"].as_str().or(name_in_path).unwrap_or("").to_owned();
        if name.is_empty() {
            return text(400, "Namespace name required", None);
        }
        let index = self.bump();
        let desc = body["Description"].as_str().unwrap_or("").to_owned();
        let create = self.namespaces.get(&name).map_or(index, |v| v.1);
        self.namespaces.insert(name, (desc, create, index));
        http_util::response(200, "", &[("x-nomad-index", index.to_string())], "")
    }

    fn delete_namespace(&mut self, name: &str) -> Response {
        if name == "default" {
            return text(500, "1 error occurred:\n\t* default namespace can not be deleted\n\n", None);
        }
        let busy = self.jobs.iter().any(|((ns, _), r)| ns == name && r.job["Status"] != "dead");
        if busy {
            return text(
                500,
                &format!("1 error occurred:\n\t* namespace \"{name}\" has non-terminal jobs in regions: [global]\n\n"),
                None,
            );
        }
        let index = self.bump();
        self.namespaces.remove(name);
        http_util::response(200, "", &[("x-nomad-index", index.to_string())], "")
    }

    fn list_jobs(&self, ns: &str, prefix: &str) -> (u64, Value) {
        let all = ns == "*";
        let list: Vec<Value> = self
            .jobs
            .iter()
            .filter(|((n, id), _)| (all || n == ns) && id.starts_with(prefix))
            .map(|(_, r)| {
                json!({"ID": r.job["ID"], "ParentID": "", "Name": r.job["Name"], "Namespace": r.job["Namespace"], "Datacenters": r.job["Datacenters"],
                    "Multiregion": null, "Type": r.job["Type"], "Priority": r.job["Priority"], "Periodic": false, "ParameterizedJob": false,
                    "Stop": r.job["Stop"], "Status": r.job["Status"], "StatusDescription": "", "JobSummary": self.summary(r),
                    "CreateIndex": r.create_index, "ModifyIndex": r.modify_index, "JobModifyIndex": r.job_modify_index,
                    "SubmitTime": sim::unix_nanos(r.submit) as u64})
            })
            .collect();
        let index = self.jobs.values().map(|r| r.modify_index).max().unwrap_or(1).max(self.jobs_purged_at);
        (index, Value::Array(list))
    }

    fn summary(&self, r: &JobRec) -> Value {
        let ns = r.job["Namespace"].as_str().unwrap_or("default");
        let id = r.job["ID"].as_str().unwrap_or("");
        let mut groups = serde_json::Map::new();
        for tg in r.job["TaskGroups"].as_array().into_iter().flatten() {
            let name = tg["Name"].as_str().unwrap_or("");
            let allocs: Vec<&AllocRec> = self.allocs_of(ns, id).into_iter().filter(|a| a.group == name).collect();
            let count = |s: &str| allocs.iter().filter(|a| a.client_status == s).count();
            let queued =
                self.queued.get(&(ns.to_owned(), id.to_owned())).and_then(|q| q.get(name)).copied().unwrap_or(0);
            groups.insert(
                name.into(),
                json!({"Queued": queued, "Complete": count("complete"), "Failed": count("failed"), "Running": count("running"), "Starting": count("pending"), "Lost": count("lost")}),
            );
        }
        json!({"JobID": id, "Namespace": ns, "Summary": groups, "Children": {"Pending": 0, "Running": 0, "Dead": 0}, "CreateIndex": r.create_index, "ModifyIndex": r.modify_index})
    }

    fn register(&mut self, req: &Request, query_ns: &str) -> Response {
        if req.body().is_empty() {
            return text(400, "Request body is empty", None);
        }
        let body: Value = match serde_json::from_slice(req.body()) {
            Ok(v) => v,
            Err(e) if e.is_eof() => return text(400, "unexpected EOF", None),
            Err(e) => return text(400, &e.to_string(), None),
        };
        let Some(job) = body.get("Job").filter(|j| j.is_object()) else {
            return text(400, "Job must be specified", None);
        };
        let mut job = job.clone();
        let id = match &job["ID"] {
            Value::String(id) => id.clone(),
            Value::Null => String::new(),
            other => {
                let kind = match other {
                    Value::Number(_) => "number",
                    Value::Bool(_) => "bool",
                    Value::Array(_) => "array",
                    _ => "object",
                };
                return text(
                    400,
                    &format!("json: cannot unmarshal {kind} into Go struct field Job.Job.ID of type string"),
                    None,
                );
            }
        };
        if id.is_empty() {
            return text(500, "1 error occurred:\n\t* Missing job ID\n\n", None);
        }
        let ns = job["Namespace"].as_str().filter(|n| !n.is_empty()).map_or_else(|| query_ns.to_owned(), str::to_owned);
        if !self.namespaces.contains_key(&ns) {
            return text(500, &format!("job \"{id}\" is in nonexistent namespace \"{ns}\""), None);
        }
        let mut problems = Vec::new();
        if job["Datacenters"].as_array().is_none_or(|d| d.is_empty()) {
            problems.push("Missing job datacenters".to_owned());
        }
        let kind = job["Type"].as_str().unwrap_or("service").to_owned();
        if !["batch", "service", "system", "sysbatch"].contains(&kind.as_str()) {
            problems.push(format!("Invalid job type: \"{kind}\""));
        }
        if job["TaskGroups"].as_array().is_none_or(|g| g.is_empty()) {
            problems.push("Missing job task groups".to_owned());
        }
        if !problems.is_empty() {
            let list: String = problems.iter().map(|p| format!("\t* {p}\n")).collect();
            return text(
                500,
                &format!("{} error{} occurred:\n{list}\n", problems.len(), if problems.len() == 1 { "" } else { "s" }),
                None,
            );
        }
        let previous = self.jobs.get(&(ns.clone(), id.clone())).cloned();
        // `EnforceIndex`: register only if the job's modify index is the one given (0: only if no
        // job of that ID exists), as nomad/job_endpoint.go does, answered as a plain-text 500
        if body["EnforceIndex"].as_bool() == Some(true) {
            let wanted = body["JobModifyIndex"].as_u64().unwrap_or(0);
            match &previous {
                Some(_) if wanted == 0 => {
                    return text(500, "Enforcing job modify index 0: job already exists", None);
                }
                Some(p) if p.job_modify_index != wanted => {
                    let message = format!(
                        "Enforcing job modify index {wanted}: job exists with conflicting job modify index: {}",
                        p.job_modify_index
                    );
                    return text(500, &message, None);
                }
                None if wanted != 0 => {
                    return text(500, &format!("Enforcing job modify index {wanted}: job does not exist"), None);
                }
                _ => {}
            }
        }
        let index = self.bump();
        let version = previous.as_ref().map_or(0, |p| p.job["Version"].as_u64().unwrap_or(0) + 1);
        for (k, v) in [
            ("Region", json!("global")),
            ("Namespace", json!(ns)),
            ("Name", job["Name"].as_str().map_or(json!(id), |n| json!(n))),
            ("Type", json!(kind)),
            ("Priority", job["Priority"].as_u64().map_or(json!(50), |p| json!(p))),
            ("Stop", json!(false)),
            ("Status", json!("pending")),
            ("StatusDescription", json!("")),
            ("Version", json!(version)),
            ("Stable", json!(false)),
            ("ParentID", json!("")),
            ("CreateIndex", json!(previous.as_ref().map_or(index, |p| p.create_index))),
            ("ModifyIndex", json!(index)),
            ("JobModifyIndex", json!(index)),
            ("SubmitTime", json!(sim::unix_nanos(self.now) as u64)),
        ] {
            job[k] = v;
        }
        // Stop the previous version's live allocations.
        if previous.is_some() {
            self.stop_live_allocs(&ns, &id);
        }
        let eval_id = self.new_id(&id);
        let rec = JobRec {
            job: job.clone(),
            create_index: previous.as_ref().map_or(index, |p| p.create_index),
            modify_index: index,
            job_modify_index: index,
            submit: self.now,
        };
        self.jobs.insert((ns.clone(), id.clone()), rec);
        self.event("Job", "JobRegistered", &id, &ns, json!({"Job": job.clone()}));
        let eval = json!({"ID": eval_id, "Namespace": ns, "Priority": job["Priority"], "Type": kind, "TriggeredBy": "job-register", "JobID": id,
            "JobModifyIndex": index, "Status": "complete", "QueuedAllocations": {}, "SnapshotIndex": index, "CreateIndex": index, "ModifyIndex": index + 1,
            "CreateTime": sim::unix_nanos(self.now) as u64, "ModifyTime": sim::unix_nanos(self.now) as u64});
        self.evals.insert(eval_id.clone(), eval.clone());
        self.event("Evaluation", "EvaluationUpdated", &eval_id, &ns, json!({"Evaluation": eval}));
        self.bump();
        self.place(&ns, &id, &eval_id);
        self.start_deployment(&ns, &id);
        http_util::json(
            200,
            &[("x-nomad-index", index.to_string())],
            &json!({"EvalID": eval_id, "EvalCreateIndex": index, "JobModifyIndex": index, "Warnings": "", "Index": index, "LastContact": 0, "KnownLeader": false}),
            false,
        )
    }

    /// Create the allocations the scheduler would place for the job's current version.
    fn place(&mut self, ns: &str, id: &str, eval_id: &str) {
        self.place_some(ns, id, eval_id, None);
    }

    /// What one allocation of task group `tg` holds of the node: (CPU MHz, memory MB), with
    /// Nomad's defaults (100 MHz, 300 MB) for a task that names none.
    fn group_asks(tg: &Value) -> (u64, u64) {
        let tasks = tg["Tasks"].as_array().map(Vec::as_slice).unwrap_or_default();
        let sum = |key: &str, default: u64| -> u64 {
            tasks.iter().map(|t| t["Resources"][key].as_u64().unwrap_or(default)).fold(0, u64::saturating_add)
        };
        (sum("CPU", 100), sum("MemoryMB", 300))
    }

    /// How many allocations asking `asks` fit on the node beside what `used` holds, and the
    /// dimension that runs out first (an ask of zero fits any number of times).
    fn room_for(&self, used: (u64, u64), asks: (u64, u64)) -> (usize, &'static str) {
        let room = |free: u64, ask: u64| {
            free.checked_div(ask).map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX))
        };
        let (node_cpu, node_mem) = self.node_resources;
        let by_mem = room(node_mem.saturating_sub(used.1), asks.1);
        let by_cpu = room(node_cpu.saturating_sub(used.0), asks.0);
        if by_mem <= by_cpu {
            (by_mem, "memory")
        } else {
            (by_cpu, "cpu")
        }
    }

    /// What the live allocations hold of the node: (CPU MHz, memory MB).
    fn used(&self) -> (u64, u64) {
        self.allocs
            .values()
            .filter(|a| a.desired_status == "run" && matches!(a.client_status.as_str(), "pending" | "running"))
            .fold((0, 0), |(c, m), a| (c.saturating_add(a.asks.0), m.saturating_add(a.asks.1)))
    }

    /// Place the job's allocations: every group's `Count`, or (`only`) a blocked evaluation's
    /// queued ones. As many as the node has room for are placed; the rest are queued, and the
    /// evaluation says why (a missing driver; the node's CPU or memory, too small or used up).
    fn place_some(&mut self, ns: &str, id: &str, eval_id: &str, only: Option<&BTreeMap<String, u64>>) {
        let Some(job) = self.job(ns, id).map(|r| r.job.clone()) else { return };
        let key = (ns.to_owned(), id.to_owned());
        self.queued.remove(&key);
        self.blocked.remove(&key);
        let mut failed = serde_json::Map::new();
        let mut queued = BTreeMap::new();
        let mut waits_for_room = false;
        for tg in job["TaskGroups"].as_array().cloned().unwrap_or_default() {
            let group = tg["Name"].as_str().unwrap_or("main").to_owned();
            let total = tg["Count"].as_u64().unwrap_or(1) as usize;
            let count = match only {
                None => total,
                Some(only) => match only.get(&group) {
                    Some(&n) => n as usize,
                    None => continue,
                },
            };
            if count == 0 {
                continue;
            }
            // the queued allocations of a group take the last indexes of its Count
            let first_index = total.saturating_sub(count);
            let task = &tg["Tasks"][0];
            let lacking = tg["Tasks"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|t| t["Driver"].as_str().is_some_and(|d| !self.drivers.iter().any(|o| o == d)));
            if lacking {
                // What Nomad 1.1.2's scheduler answers (recording 10, job acm-nodriver).
                failed.insert(group.clone(), json!({"NodesEvaluated": 1, "NodesFiltered": 1, "NodesAvailable": {"dc1": 1},
                    "ClassFiltered": null, "ConstraintFiltered": {"missing drivers": 1}, "NodesExhausted": 0, "ClassExhausted": null,
                    "DimensionExhausted": null, "QuotaExhausted": null, "ResourcesExhausted": null, "Scores": null, "ScoreMetaData": null,
                    "AllocationTime": 7801, "CoalescedFailures": count.saturating_sub(1)}));
                queued.insert(group.clone(), count as u64);
                continue;
            }
            // As many as fit beside what the live allocations hold; one larger than the node
            // never fits (and never will: it is not retried).
            let asks = Self::group_asks(&tg);
            let (room, dimension) = self.room_for(self.used(), asks);
            let fits = count.min(room);
            if fits < count {
                // What Nomad 1.1's scheduler answers when the node has no room (left).
                failed.insert(group.clone(), json!({"NodesEvaluated": 1, "NodesFiltered": 0, "NodesAvailable": {"dc1": 1},
                    "ClassFiltered": null, "ConstraintFiltered": null, "NodesExhausted": 1, "ClassExhausted": null,
                    "DimensionExhausted": {dimension: 1}, "QuotaExhausted": null, "ResourcesExhausted": null, "Scores": null,
                    "ScoreMetaData": null, "AllocationTime": 7801, "CoalescedFailures": (count - fits).saturating_sub(1)}));
                queued.insert(group.clone(), (count - fits) as u64);
                waits_for_room |= self.room_for((0, 0), asks).0 > 0;
            }
            let task_name = task["Name"].as_str().unwrap_or("main").to_owned();
            for i in first_index..first_index + fits {
                let alloc_id = self.new_id(&format!("{id}.{group}"));
                let index = self.bump();
                let mut env: BTreeMap<String, String> = task["Env"]
                    .as_object()
                    .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned())).collect())
                    .unwrap_or_default();
                env.insert("NOMAD_ALLOC_ID".into(), alloc_id.clone());
                env.insert("NOMAD_JOB_NAME".into(), id.to_owned());
                env.insert("NOMAD_TASK_NAME".into(), task_name.clone());
                // raw_exec/exec: `command` + `args`; docker: `entrypoint` (list) and/or `command` + `args`.
                let strings = |v: &Value| -> Vec<String> {
                    v.as_array().into_iter().flatten().filter_map(|a| a.as_str().map(str::to_owned)).collect()
                };
                let mut argv = strings(&task["Config"]["entrypoint"]);
                argv.extend(task["Config"]["command"].as_str().map(str::to_owned));
                argv.extend(
                    task["Config"]["args"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|a| a.as_str().map(str::to_owned)),
                );
                let outcome = crate::script::run(&argv, &env);
                let received = self.task_event("Received", "Task received by client", 0);
                let rec = AllocRec {
                    id: alloc_id.clone(),
                    namespace: ns.to_owned(),
                    job_id: id.to_owned(),
                    eval_id: eval_id.to_owned(),
                    group: group.clone(),
                    task: task_name.clone(),
                    index_in_group: i,
                    job: job.clone(),
                    client_status: "pending".into(),
                    desired_status: "run".into(),
                    task_state: json!({"State": "pending", "Failed": false, "Restarts": 0, "LastRestart": null, "StartedAt": null, "FinishedAt": null, "Events": [received], "TaskHandle": null}),
                    outcome,
                    create_index: index,
                    modify_index: index,
                    create_time: self.now,
                    started: None,
                    modify_time: self.now,
                    healthy: false,
                    asks,
                };
                self.allocs_by_job.entry((ns.to_owned(), id.to_owned())).or_default().push(alloc_id.clone());
                self.allocs.insert(alloc_id.clone(), rec);
                self.alloc_event(&alloc_id);
                self.schedule.at(self.now + self.step, Action::Start(alloc_id));
            }
        }
        if !failed.is_empty() {
            let blocked = self.block_eval(ns, id, eval_id, failed, &queued);
            if waits_for_room {
                self.blocked.insert(key.clone(), blocked);
            }
            self.queued.insert(key, queued);
        }
    }

    /// After allocations ended: each job waiting for room gets its blocked evaluation run
    /// again (oldest job first), placing what now fits; what still does not is blocked anew.
    fn retry_blocked(&mut self) {
        if !std::mem::take(&mut self.freed) || self.blocked.is_empty() {
            return;
        }
        let mut used = self.used();
        for ((ns, id), eval_id) in std::mem::take(&mut self.blocked) {
            let key = (ns.clone(), id.clone());
            let Some(job) = self.job(&ns, &id).filter(|r| r.job["Stop"] != true) else { continue };
            let Some(queued) = self.queued.get(&key).cloned() else { continue };
            // Nothing of it fits yet: it stays blocked as it is (Nomad would run the evaluation
            // again only to block it anew; the fake spares the churn).
            let fits_one = job.job["TaskGroups"].as_array().into_iter().flatten().any(|tg| {
                queued.contains_key(tg["Name"].as_str().unwrap_or("main"))
                    && self.room_for(used, Self::group_asks(tg)).0 > 0
            });
            if !fits_one {
                self.blocked.insert(key, eval_id);
                continue;
            }
            let index = self.bump();
            let Some(eval) = self.evals.get_mut(&eval_id) else { continue };
            eval["Status"] = "complete".into();
            eval["ModifyIndex"] = index.into();
            eval["ModifyTime"] = (sim::unix_nanos(self.now) as u64).into();
            let eval = eval.clone();
            self.event("Evaluation", "EvaluationUpdated", &eval_id, &ns, json!({"Evaluation": eval}));
            self.place_some(&ns, &id, &eval_id, Some(&queued));
            self.refresh_job(&ns, &id);
            used = self.used();
        }
    }

    /// The scheduler could not place every allocation: its evaluation says why, and a blocked
    /// evaluation (its ID returned) waits for the cluster to change: on the fake, for an
    /// allocation to end when room was lacking ([`Self::retry_blocked`]).
    fn block_eval(
        &mut self,
        ns: &str,
        id: &str,
        eval_id: &str,
        failed: serde_json::Map<String, Value>,
        queued: &BTreeMap<String, u64>,
    ) -> String {
        let blocked_id = self.new_id(&format!("{id}-blocked"));
        let index = self.bump();
        let Some(mut eval) = self.evals.get(eval_id).cloned() else { return blocked_id };
        eval["FailedTGAllocs"] = Value::Object(failed);
        eval["QueuedAllocations"] = json!(queued);
        eval["BlockedEval"] = blocked_id.clone().into();
        eval["ModifyIndex"] = index.into();
        let blocked = json!({"ID": blocked_id, "Namespace": ns, "Priority": eval["Priority"].clone(), "Type": eval["Type"].clone(),
            "TriggeredBy": "queued-allocs", "JobID": id, "JobModifyIndex": eval["JobModifyIndex"].clone(), "Status": "blocked",
            "PreviousEval": eval_id, "ClassEligibility": {}, "EscapedComputedClass": false, "QueuedAllocations": {},
            "SnapshotIndex": index, "CreateIndex": index, "ModifyIndex": index,
            "CreateTime": sim::unix_nanos(self.now) as u64, "ModifyTime": sim::unix_nanos(self.now) as u64});
        self.evals.insert(eval_id.to_owned(), eval.clone());
        self.event("Evaluation", "EvaluationUpdated", eval_id, ns, json!({"Evaluation": eval}));
        self.evals.insert(blocked_id.clone(), blocked.clone());
        self.event("Evaluation", "EvaluationUpdated", &blocked_id, ns, json!({"Evaluation": blocked}));
        if let Some(rec) = self.jobs.get_mut(&(ns.to_owned(), id.to_owned())) {
            rec.modify_index = index;
            rec.job["ModifyIndex"] = index.into();
        }
        blocked_id
    }

    fn deregister(&mut self, ns: &str, id: &str, purge: bool) -> Response {
        let eval_id = self.new_id(&format!("{id}-deregister"));
        let index = self.bump();
        if self.job(ns, id).is_some() {
            self.stop_live_allocs(ns, id);
            self.end_deployment(ns, id, purge);
            // nothing is queued for a stopped job any more; its blocked evaluation is cancelled
            let key = (ns.to_owned(), id.to_owned());
            self.queued.remove(&key);
            if let Some(blocked) = self.blocked.remove(&key) {
                if let Some(eval) = self.evals.get_mut(&blocked) {
                    eval["Status"] = "canceled".into();
                    eval["ModifyIndex"] = index.into();
                    let eval = eval.clone();
                    self.event("Evaluation", "EvaluationUpdated", &blocked, ns, json!({"Evaluation": eval}));
                }
            }
            if purge {
                self.jobs.remove(&(ns.to_owned(), id.to_owned()));
                for alloc in self.allocs_by_job.remove(&(ns.to_owned(), id.to_owned())).unwrap_or_default() {
                    self.allocs.remove(&alloc);
                }
                self.jobs_purged_at = self.bump();
                self.event("Job", "JobDeregistered", id, ns, json!({"Job": null}));
            } else if let Some(rec) = self.jobs.get_mut(&(ns.to_owned(), id.to_owned())) {
                rec.job["Stop"] = true.into();
                rec.job["Status"] = "dead".into();
                rec.modify_index = index;
                rec.job_modify_index = index;
                rec.job["ModifyIndex"] = index.into();
                let payload = json!({"Job": rec.job.clone()});
                self.event("Job", "JobDeregistered", id, ns, payload);
            }
        }
        http_util::json(
            200,
            &[("x-nomad-index", index.to_string())],
            &json!({"EvalID": eval_id, "EvalCreateIndex": index, "JobModifyIndex": index, "VolumeEvalID": "", "VolumeEvalIndex": 0, "Index": index, "LastContact": 0, "KnownLeader": false}),
            false,
        )
    }

    fn stop_alloc(&mut self, id: &str) -> Response {
        if !self.allocs.contains_key(id) {
            return text(404, "alloc not found", None);
        }
        if let Some(a) = self.allocs.get_mut(id) {
            a.desired_status = "stop".into();
        }
        if self.allocs.get(id).is_some_and(|a| matches!(a.client_status.as_str(), "pending" | "running")) {
            self.end_alloc(id, "complete", 0);
        }
        let eval_id = self.new_id(&format!("{id}-stop"));
        let index = self.bump();
        http_util::json(
            200,
            &[("x-nomad-index", index.to_string())],
            &json!({"EvalID": eval_id, "Index": index}),
            false,
        )
    }

    fn scale_status(&self, r: &JobRec) -> Value {
        let ns = r.job["Namespace"].as_str().unwrap_or("default").to_owned();
        let id = r.job["ID"].as_str().unwrap_or("").to_owned();
        let mut groups = serde_json::Map::new();
        for tg in r.job["TaskGroups"].as_array().into_iter().flatten() {
            let name = tg["Name"].as_str().unwrap_or("");
            let allocs: Vec<&AllocRec> =
                self.allocs_of(&ns, &id).into_iter().filter(|a| a.group == name && a.desired_status == "run").collect();
            let running = allocs.iter().filter(|a| a.client_status == "running").count();
            let events = self.scale_events.get(&(ns.clone(), id.clone())).cloned().filter(|e| !e.is_empty());
            groups.insert(name.into(), json!({"Desired": tg["Count"], "Placed": allocs.len(), "Running": running, "Healthy": running, "Unhealthy": 0, "Events": events}));
        }
        json!({"JobID": id, "Namespace": ns, "JobCreateIndex": r.create_index, "JobModifyIndex": r.job_modify_index, "JobStopped": r.job["Stop"], "TaskGroups": groups})
    }

    fn scale(&mut self, req: &Request, ns: &str, id: &str) -> Response {
        let body: Value = match serde_json::from_slice(req.body()) {
            Ok(v) => v,
            Err(e) => return text(400, &e.to_string(), None),
        };
        let Some(rec) = self.job(ns, id).cloned() else { return text(404, "job not found", None) };
        let group = body["Target"]["Group"].as_str().unwrap_or("").to_owned();
        let Some(gi) =
            rec.job["TaskGroups"].as_array().and_then(|gs| gs.iter().position(|g| g["Name"] == group.as_str()))
        else {
            return text(400, &format!("task group \"{group}\" specified for scaling does not exist in job"), None);
        };
        let count = match body["Count"].as_i64() {
            Some(c) if c < 0 => return text(400, "scaling action count can't be negative", None),
            other => other,
        };
        if count.is_some() && self.deployment_active(ns, id) {
            // Nomad 1.1.2 (recorded): refused while a deployment runs
            return text(400, "job scaling blocked due to active deployment", None);
        }
        let index = self.bump();
        let previous = rec.job["TaskGroups"][gi]["Count"].as_u64().unwrap_or(0);
        let event = json!({"Time": sim::unix_nanos(self.now) as u64, "Count": count, "PreviousCount": previous, "Message": body["Message"].as_str().unwrap_or(""),
            "Error": body["Error"].as_bool().unwrap_or(false), "Meta": body["Meta"].clone(), "EvalID": null, "CreateIndex": index});
        self.scale_events.entry((ns.to_owned(), id.to_owned())).or_default().insert(0, event);
        let mut eval_id = Value::Null;
        if let Some(c) = count {
            let c = c as u64;
            if let Some(r) = self.jobs.get_mut(&(ns.to_owned(), id.to_owned())) {
                r.job["TaskGroups"][gi]["Count"] = c.into();
                r.job["Version"] = (r.job["Version"].as_u64().unwrap_or(0) + 1).into();
                r.modify_index = index;
                r.job_modify_index = index;
            }
            let eid = self.new_id(&format!("{id}-scale"));
            eval_id = json!(eid);
            // Place or stop allocations to reach the new count.
            let live: Vec<(usize, String)> = self
                .allocs_of(ns, id)
                .iter()
                .filter(|a| {
                    a.group == group
                        && a.desired_status == "run"
                        && matches!(a.client_status.as_str(), "pending" | "running")
                })
                .map(|a| (a.index_in_group, a.id.clone()))
                .collect();
            if (live.len() as u64) > c {
                let mut sorted = live;
                sorted.sort();
                for (_, a) in sorted.into_iter().skip(c as usize) {
                    if let Some(rec) = self.allocs.get_mut(&a) {
                        rec.desired_status = "stop".into();
                    }
                    self.end_alloc(&a, "complete", 0);
                }
            } else if (live.len() as u64) < c {
                let missing = c - live.len() as u64;
                let job = self.job(ns, id).map(|r| r.job.clone()).unwrap_or(Value::Null);
                let mut one_group = job.clone();
                one_group["TaskGroups"] = json!([job["TaskGroups"][gi].clone()]);
                one_group["TaskGroups"][0]["Count"] = missing.into();
                if let Some(r) = self.jobs.get_mut(&(ns.to_owned(), id.to_owned())) {
                    r.job = one_group;
                }
                self.place(ns, id, &eid);
                if let Some(r) = self.jobs.get_mut(&(ns.to_owned(), id.to_owned())) {
                    r.job = job;
                }
            }
            // the allocations that stay are updated in place to the new version
            let current = self.job(ns, id).map(|r| r.job.clone());
            if let Some(current) = current {
                for a in self
                    .allocs
                    .values_mut()
                    .filter(|a| a.namespace == ns && a.job_id == id && a.desired_status == "run")
                {
                    a.job = current.clone();
                }
            }
            self.start_deployment(ns, id);
        }
        http_util::json(
            200,
            &[("x-nomad-index", index.to_string())],
            &json!({"EvalID": eval_id, "EvalCreateIndex": index, "JobModifyIndex": index, "Warnings": "", "Index": index, "LastContact": 0, "KnownLeader": true}),
            false,
        )
    }

    fn logs(&mut self, alloc: &str, query: &[(String, String)]) -> Reply<Stream> {
        let plain = param(query, "plain") == Some("true");
        let ct = if plain { "text/plain" } else { "application/json" };
        let Some(a) = self.allocs.get(alloc) else {
            return Reply::Full(http_util::response(404, ct, &[], format!("Unknown allocation \"{alloc}\"")));
        };
        let task = param(query, "task").unwrap_or("");
        if task.is_empty() {
            return Reply::Full(text(400, "must provide task name", None));
        }
        if task != a.task {
            return Reply::Full(http_util::response(400, ct, &[], format!("unknown task name \"{task}\"")));
        }
        let stderr = match param(query, "type") {
            Some("stdout") => false,
            Some("stderr") => true,
            _ => return Reply::Full(text(400, "must provide log type (stdout/stderr)", None)),
        };
        let origin_end = match param(query, "origin") {
            None | Some("start") => false,
            Some("end") => true,
            Some(_) => return Reply::Full(text(400, "origin must be start or end", None)),
        };
        let offset = param(query, "offset").and_then(|o| o.parse().ok()).unwrap_or(0);
        let stream = Stream::Logs { alloc: alloc.to_owned(), stderr, plain, origin_end, offset, sent: None };
        if param(query, "follow") == Some("true") {
            Reply::Stream(http_util::response(200, ct, &[], Bytes::new()), stream)
        } else {
            let body = self.log_piece(alloc, stderr, plain, origin_end, offset);
            Reply::Full(http_util::response(200, ct, &[], body))
        }
    }

    /// What the task has written to stdout (or stderr) by now, whether it has ended, and when it
    /// writes next. A restarted task's log holds every run's output, as the client appends each
    /// run to the same log file.
    fn visible_log(&self, alloc: &str, stderr: bool) -> Option<(Cow<'_, str>, bool, Option<Duration>)> {
        let a = self.allocs.get(alloc)?;
        let whole = a.outcome.output_until(a.outcome.duration, stderr);
        let (current, dead, next) = match (a.task_state["State"].as_str(), a.started) {
            (Some("dead"), Some(_)) => (whole, true, None),
            (Some("dead"), None) => ("", true, None),
            (Some("running"), Some(started)) => {
                let elapsed = self.now.saturating_sub(started);
                let next = a.outcome.next_write_after(elapsed).map(|d| started + d);
                (a.outcome.output_until(elapsed, stderr), false, next)
            }
            // not started yet, or waiting out a restart's delay
            _ => ("", false, None),
        };
        let earlier_runs = usize::try_from(a.task_state["Restarts"].as_u64().unwrap_or(0)).unwrap_or(0);
        let text =
            if earlier_runs == 0 { Cow::Borrowed(current) } else { Cow::Owned(whole.repeat(earlier_runs) + current) };
        Some((text, dead, next))
    }

    /// `bytes[start..]` of a log as the endpoint sends it: plain, or one `{"Data","File","Offset"}`
    /// frame (`{}` when there is nothing).
    fn frame(&self, alloc: &str, stderr: bool, plain: bool, text: &str, start: usize) -> Bytes {
        let data = &text.as_bytes()[start.min(text.len())..];
        if plain {
            return Bytes::copy_from_slice(data);
        }
        if data.is_empty() {
            return Bytes::from_static(b"{}");
        }
        let task = self.allocs.get(alloc).map_or("main", |a| a.task.as_str());
        let file = format!("alloc/logs/{task}.{}.0", if stderr { "stderr" } else { "stdout" });
        let frame =
            json!({"Data": base64::engine::general_purpose::STANDARD.encode(data), "File": file, "Offset": text.len()});
        Bytes::from(frame.to_string())
    }

    fn log_piece(&self, alloc: &str, stderr: bool, plain: bool, origin_end: bool, offset: usize) -> Bytes {
        let Some((text, _, _)) = self.visible_log(alloc, stderr) else { return Bytes::new() };
        let start = if origin_end { text.len().saturating_sub(offset) } else { offset.min(text.len()) };
        self.frame(alloc, stderr, plain, &text, start)
    }

    fn event_stream(&mut self, query: &[(String, String)]) -> Reply<Stream> {
        let start = match param(query, "index") {
            None => self.index,
            Some(i) => match i.parse::<u64>() {
                Ok(i) => i.saturating_sub(1),
                Err(e) => {
                    return Reply::Full(text(
                        400,
                        &format!("Unable to parse index: strconv.Atoi: parsing \"{i}\": {e}"),
                        None,
                    ))
                }
            },
        };
        let topics: Vec<(String, String)> = query
            .iter()
            .filter(|(k, _)| k == "topic")
            .map(|(_, v)| match v.split_once(':') {
                Some((t, k)) => (t.to_owned(), k.to_owned()),
                None => (v.clone(), "*".to_owned()),
            })
            .collect();
        let namespace = param(query, "namespace").unwrap_or("default").to_owned();
        let queued = VecDeque::from([Bytes::from_static(b"{}\n")]);
        Reply::Stream(
            http_util::response(200, "application/json", &[], Bytes::new()),
            Stream::Events { topics, namespace, cursor: start, queued },
        )
    }

    pub(crate) fn poll_stream(&mut self, stream: &mut Stream, _now: Duration) -> StreamPoll {
        match stream {
            Stream::Logs { alloc, stderr, plain, origin_end, offset, sent } => {
                let Some((text, dead, next)) = self.visible_log(alloc, *stderr) else { return StreamPoll::End };
                let start = *sent.get_or_insert(if *origin_end { text.len().saturating_sub(*offset) } else { *offset });
                if text.len() > start {
                    *sent = Some(text.len());
                    return StreamPoll::Data(self.frame(alloc, *stderr, *plain, &text, start));
                }
                if dead {
                    StreamPoll::End
                } else {
                    StreamPoll::Idle(next)
                }
            }
            Stream::Events { topics, namespace, cursor, queued } => {
                if let Some(b) = queued.pop_front() {
                    return StreamPoll::Data(b);
                }
                let matching = |e: &EventRec| {
                    (namespace.as_str() == "*" || e.namespace == *namespace)
                        && (topics.is_empty()
                            || topics.iter().any(|(t, k)| (t == "*" || t == e.topic) && (k == "*" || *k == e.key)))
                };
                let Some(index) = self.events.iter().find(|e| e.index > *cursor && matching(e)).map(|e| e.index) else {
                    *cursor = (*cursor).max(self.index);
                    return StreamPoll::Idle(None);
                };
                let events: Vec<Value> = self
                    .events
                    .iter()
                    .filter(|e| e.index == index && matching(e))
                    .map(|e| json!({"Topic": e.topic, "Type": e.kind, "Key": e.key, "Namespace": e.namespace, "FilterKeys": null, "Index": e.index, "Payload": e.payload}))
                    .collect();
                *cursor = index;
                let mut line = json!({"Index": index, "Events": events}).to_string();
                line.push('\n');
                StreamPoll::Data(Bytes::from(line))
            }
        }
    }
}

/// An allocation as `/v1/allocation/{id}` (`full`: with its job) or as a list stub: the two
/// carry different field sets on a real agent.
fn alloc_json(a: &AllocRec, full: bool) -> Value {
    let mut v = json!({
        "ID": a.id, "EvalID": a.eval_id, "Name": format!("{}.{}[{}]", a.job_id, a.group, a.index_in_group), "Namespace": a.namespace,
        "NodeID": NODE_ID, "NodeName": NODE_NAME, "JobID": a.job_id, "TaskGroup": a.group, "DesiredStatus": a.desired_status,
        "ClientStatus": a.client_status,
        "ClientDescription": match a.client_status.as_str() { "complete" => "All tasks have completed", "failed" => "Failed tasks", "running" => "Tasks are running", _ => "No tasks have started" },
        "TaskStates": {a.task.clone(): a.task_state.clone()},
        "CreateIndex": a.create_index, "ModifyIndex": a.modify_index,
        "CreateTime": sim::unix_nanos(a.create_time) as u64, "ModifyTime": sim::unix_nanos(a.modify_time) as u64
    });
    if a.healthy {
        v["DeploymentStatus"] = json!({"Healthy": true, "Canary": false, "ModifyIndex": a.modify_index});
    }
    if full {
        v["Job"] = a.job.clone();
        v["AllocModifyIndex"] = a.create_index.into();
    } else {
        v["JobType"] = a.job["Type"].clone();
        v["JobVersion"] = a.job["Version"].clone();
        v["DesiredDescription"] = "".into();
    }
    v
}

fn node_stub(drivers: &[String], (cpu_mhz, memory_mb): (u64, u64)) -> Value {
    let drivers: serde_json::Map<String, Value> = drivers
        .iter()
        .map(|d| {
            let attr = format!("driver.{d}");
            (d.clone(), json!({"Attributes": {attr: "true"}, "Detected": true, "Healthy": true, "HealthDescription": "Healthy"}))
        })
        .collect();
    json!({"Address": "127.0.0.1", "ID": NODE_ID, "Datacenter": "dc1", "Name": NODE_NAME, "NodeClass": "", "Version": "1.1.2", "Drain": false,
        "SchedulingEligibility": "eligible", "Status": "ready", "StatusDescription": "", "Drivers": drivers,
        "HostVolumes": null, "NodeResources": {"Cpu": {"CpuShares": cpu_mhz}, "Memory": {"MemoryMB": memory_mb}, "Disk": {"DiskMB": 51200}},
        "ReservedResources": null, "LastDrain": null, "CreateIndex": 7, "ModifyIndex": 9})
}

fn read_headers(index: u64) -> Vec<(&'static str, String)> {
    vec![
        ("x-nomad-index", index.max(1).to_string()),
        ("x-nomad-knownleader", "true".into()),
        ("x-nomad-lastcontact", "0".into()),
    ]
}

/// A plain-text error, with the read headers when `index` is given.
fn text(status: u16, message: &str, index: Option<u64>) -> Response {
    let headers = index.map(read_headers).unwrap_or_default();
    http_util::response(status, "text/plain; charset=utf-8", &headers, message.to_owned())
}

/// Go duration strings as Nomad's `wait` takes them: `5s`, `300ms`, `1m`, `1m30s`.
pub(crate) fn parse_go_duration(text: &str) -> Option<Duration> {
    let (mut total, mut rest) = (0f64, text);
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let value: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += value * unit;
        rest = &rest[unit_end..];
    }
    Some(Duration::from_secs_f64(total.min(1e9)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("5s"), Some(Duration::from_secs(5)));
        assert_eq!(parse_go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_go_duration("soon"), None);
    }
}
