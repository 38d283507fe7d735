//! The fake agent's deployments: every version of a `service` job whose task group has an
//! `Update` stanza rolls out as a deployment (`/v1/job/{id}/deployment` answers the latest).
//!
//! A deployment starts `running` ("Deployment is running") with `DesiredTotal` the group's
//! count; an allocation of that version becomes healthy once it has run `MinHealthyTime`
//! (health check `task_states`: no Consul), and when every desired allocation is healthy the
//! deployment is `successful` ("Deployment completed successfully"). One that has not
//! finished by its `ProgressDeadline` (no allocation placed, a driver missing) `failed`
//! ("Failed due to progress deadline"); a newer version cancels it ("Cancelled due to newer
//! version of job"). While one runs, scaling the job is refused as Nomad 1.1.2 refuses it.

use std::time::Duration;

use serde_json::{json, Value};

use super::{Action, Cluster};
use crate::sim;

/// Nomad's default `MinHealthyTime` (10 s) and `ProgressDeadline` (10 min).
const MIN_HEALTHY: Duration = Duration::from_secs(10);
const PROGRESS_DEADLINE: Duration = Duration::from_secs(600);

fn nanos(v: &Value, default: Duration) -> Duration {
    v.as_u64().map_or(default, Duration::from_nanos)
}

impl Cluster {
    /// The latest deployment of a job (`None`: never had one).
    pub(super) fn deployment(&self, ns: &str, id: &str) -> Option<&Value> {
        self.deployments.get(&(ns.to_owned(), id.to_owned()))
    }

    /// The index a blocking query on a job's deployment waits on.
    pub(super) fn deployment_index(&self, ns: &str, id: &str) -> u64 {
        self.deployment(ns, id).and_then(|d| d["ModifyIndex"].as_u64()).unwrap_or(1)
    }

    /// Whether a deployment of the job is running (scaling is refused then).
    pub(super) fn deployment_active(&self, ns: &str, id: &str) -> bool {
        self.deployment(ns, id).is_some_and(|d| d["Status"] == "running")
    }

    fn set_deployment(&mut self, ns: &str, id: &str, mut d: Value) {
        let index = self.bump();
        d["ModifyIndex"] = index.into();
        let payload = json!({"Deployment": d.clone()});
        self.deployments.insert((ns.to_owned(), id.to_owned()), d);
        self.event("Deployment", "DeploymentStatusUpdate", id, ns, payload);
    }

    /// A new version of a service job was registered or scaled: cancel the running deployment
    /// and start one for this version (when the group has an update stanza).
    pub(super) fn start_deployment(&mut self, ns: &str, id: &str) {
        let Some(job) = self.job(ns, id).map(|r| r.job.clone()) else { return };
        let Some(group) = job["TaskGroups"].get(0).cloned() else { return };
        if job["Type"] != "service" || group["Update"].is_null() {
            return;
        }
        if let Some(mut old) = self.deployment(ns, id).cloned().filter(|d| d["Status"] == "running") {
            old["Status"] = "cancelled".into();
            old["StatusDescription"] = "Cancelled due to newer version of job".into();
            self.set_deployment(ns, id, old);
        }
        let name = group["Name"].as_str().unwrap_or("main").to_owned();
        let version = job["Version"].as_u64().unwrap_or(0);
        let live: Vec<(String, bool)> = self
            .allocs_of(ns, id)
            .iter()
            .filter(|a| a.desired_status == "run" && matches!(a.client_status.as_str(), "pending" | "running"))
            .map(|a| (a.id.clone(), a.healthy))
            .collect();
        let healthy = live.iter().filter(|(_, h)| *h).count();
        let deadline = nanos(&group["Update"]["ProgressDeadline"], PROGRESS_DEADLINE);
        let deployment_id = self.new_id(&format!("{id}-deployment"));
        let index = self.index + 1;
        let d = json!({"ID": deployment_id, "Namespace": ns, "JobID": id, "JobVersion": version,
            "JobModifyIndex": job["JobModifyIndex"].clone(), "JobSpecModifyIndex": job["JobModifyIndex"].clone(),
            "JobCreateIndex": job["CreateIndex"].clone(), "IsMultiregion": false,
            "TaskGroups": {name: {"AutoRevert": false, "AutoPromote": false, "ProgressDeadline": deadline.as_nanos() as u64,
                "RequireProgressBy": sim::timestamp(self.now + deadline), "Promoted": false, "PlacedCanaries": null,
                "DesiredCanaries": 0, "DesiredTotal": group["Count"].as_u64().unwrap_or(1),
                "PlacedAllocs": live.len(), "HealthyAllocs": healthy, "UnhealthyAllocs": 0}},
            "Status": "running", "StatusDescription": "Deployment is running", "CreateIndex": index, "ModifyIndex": index});
        self.set_deployment(ns, id, d);
        self.check_deployment(ns, id);
        let at = self.now + deadline;
        self.schedule
            .at(at, Action::DeploymentDeadline { ns: ns.to_owned(), id: id.to_owned(), deployment: deployment_id });
        // allocations still to become healthy under it
        let min_healthy = nanos(&group["Update"]["MinHealthyTime"], MIN_HEALTHY);
        for (alloc, healthy) in live {
            if !healthy && self.allocs.get(&alloc).is_some_and(|a| a.client_status == "running") {
                self.schedule.at(self.now + min_healthy, Action::Healthy(alloc));
            }
        }
    }

    /// An allocation of a service job started: it becomes healthy after `MinHealthyTime`.
    pub(super) fn alloc_started(&mut self, alloc: &str) {
        let Some(a) = self.allocs.get(alloc) else { return };
        if a.job["Type"] != "service" {
            return;
        }
        let min_healthy = nanos(&a.job["TaskGroups"][0]["Update"]["MinHealthyTime"], MIN_HEALTHY);
        if !a.job["TaskGroups"][0]["Update"].is_null() {
            self.schedule.at(self.now + min_healthy, Action::Healthy(alloc.to_owned()));
        }
    }

    /// `MinHealthyTime` passed for a running allocation: healthy, counted by its deployment.
    pub(super) fn alloc_healthy(&mut self, alloc: &str) {
        let Some(a) = self.allocs.get_mut(alloc) else { return };
        if a.client_status != "running" || a.healthy {
            return;
        }
        a.healthy = true;
        let (ns, id) = (a.namespace.clone(), a.job_id.clone());
        let index = self.bump();
        if let Some(a) = self.allocs.get_mut(alloc) {
            a.modify_index = index;
        }
        self.alloc_event(alloc);
        self.check_deployment(&ns, &id);
    }

    /// Count the healthy allocations of the running deployment; successful once all are.
    fn check_deployment(&mut self, ns: &str, id: &str) {
        let Some(mut d) = self.deployment(ns, id).cloned().filter(|d| d["Status"] == "running") else { return };
        let healthy = self
            .allocs_of(ns, id)
            .iter()
            .filter(|a| a.healthy && a.desired_status == "run" && a.client_status == "running")
            .count() as u64;
        let placed = self
            .allocs_of(ns, id)
            .iter()
            .filter(|a| a.desired_status == "run" && matches!(a.client_status.as_str(), "pending" | "running"))
            .count() as u64;
        let Some(group) = d["TaskGroups"].as_object_mut().and_then(|g| g.values_mut().next()) else { return };
        let desired = group["DesiredTotal"].as_u64().unwrap_or(0);
        let changed = group["HealthyAllocs"] != healthy || group["PlacedAllocs"] != placed;
        group["HealthyAllocs"] = healthy.into();
        group["PlacedAllocs"] = placed.into();
        if healthy >= desired {
            d["Status"] = "successful".into();
            d["StatusDescription"] = "Deployment completed successfully".into();
            if let Some(rec) = self.jobs.get_mut(&(ns.to_owned(), id.to_owned())) {
                rec.job["Stable"] = true.into();
            }
        } else if !changed {
            return;
        }
        self.set_deployment(ns, id, d);
    }

    /// A deployment's progress deadline passed: failed, if it is still running.
    pub(super) fn deployment_deadline(&mut self, ns: &str, id: &str, deployment: &str) {
        let Some(mut d) = self.deployment(ns, id).cloned() else { return };
        if d["ID"] != deployment || d["Status"] != "running" {
            return;
        }
        d["Status"] = "failed".into();
        d["StatusDescription"] = "Failed due to progress deadline".into();
        self.set_deployment(ns, id, d);
    }

    /// The job was stopped or purged: its running deployment ends.
    pub(super) fn end_deployment(&mut self, ns: &str, id: &str, purged: bool) {
        if purged {
            self.deployments.remove(&(ns.to_owned(), id.to_owned()));
            return;
        }
        if let Some(mut d) = self.deployment(ns, id).cloned().filter(|d| d["Status"] == "running") {
            d["Status"] = "cancelled".into();
            d["StatusDescription"] = "Cancelled because job is stopped".into();
            self.set_deployment(ns, id, d);
        }
    }
}
