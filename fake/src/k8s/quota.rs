//! The fake apiserver's ResourceQuota admission, and the events the job controller records.
//!
//! A pod created in a namespace with a ResourceQuota whose `spec.hard` limits `limits.cpu`,
//! `limits.memory`, `requests.cpu`, `requests.memory` or `pods` is refused when it would take the
//! namespace's running and pending pods past them, with the apiserver's words (`exceeded quota:
//! <name>, requested: ..., used: ..., limited: ...`), or when it does not declare a quota'd
//! resource (`failed quota: <name>: must specify limits.cpu`). The job controller then records a
//! `FailedCreate` Warning event on the Job and tries again later (10 s, doubling to 6 min), so
//! the Job waits until room frees up, as on a real cluster.

use std::time::Duration;

use clustermanager_core::quantity::{Cpu, Memory};
use serde_json::{json, Value};

use super::{Action, Cluster};
use crate::sim;

/// The job controller's longest back-off between pod creations it was refused.
const CREATE_BACKOFF_MAX: Duration = Duration::from_secs(360);

/// A pod's total of `resource` (`limits.cpu`, `requests.memory`, ...; millicores or bytes);
/// `None` when a container does not declare it (requests default to limits).
fn total(pod: &Value, resource: &str) -> Option<u128> {
    let (kind, what) = resource.split_once('.')?;
    let mut sum = 0u128;
    for c in pod["spec"]["containers"].as_array()? {
        let r = &c["resources"];
        let q = match kind {
            "requests" => r["requests"][what].as_str().or_else(|| r["limits"][what].as_str()),
            _ => r["limits"][what].as_str(),
        }?;
        sum += match what {
            "cpu" => u128::from(Cpu::parse(q).ok()?.millis()),
            _ => u128::from(Memory::parse(q).ok()?.bytes()),
        };
    }
    Some(sum)
}

fn hard(value: &Value, resource: &str) -> Option<u128> {
    let q = value.as_str()?;
    match resource.rsplit('.').next()? {
        "cpu" => Cpu::parse(q).ok().map(|c| u128::from(c.millis())),
        "memory" => Memory::parse(q).ok().map(|m| u128::from(m.bytes())),
        _ => q.parse().ok(),
    }
}

fn show(resource: &str, amount: u128) -> String {
    match resource.rsplit('.').next() {
        Some("cpu") if amount.is_multiple_of(1000) => format!("{}", amount / 1000),
        Some("cpu") => format!("{amount}m"),
        Some("memory") => format!("{amount}"),
        _ => amount.to_string(),
    }
}

impl Cluster {
    /// Whether the namespace's quotas admit `pod`; the apiserver's refusal otherwise.
    pub(super) fn admit_pod(&self, ns: &str, pod_name: &str, pod: &Value) -> Result<(), String> {
        let (Some(quotas), Some(pods)) = (self.builtin("/api/v1", "resourcequotas"), self.pods_rt()) else {
            return Ok(());
        };
        let (qid, pid) = (quotas.id(), pods.id());
        let live: Vec<&Value> = self
            .objects
            .iter()
            .filter(|((c, n, _), p)| {
                *c == pid && n == ns && matches!(p["status"]["phase"].as_str(), Some("Pending" | "Running"))
            })
            .map(|(_, p)| p)
            .collect();
        for ((_, _, qname), quota) in self.objects.iter().filter(|((c, n, _), _)| *c == qid && n == ns) {
            let Some(limits) = quota["spec"]["hard"].as_object() else { continue };
            let mut requested = Vec::new();
            let mut used = Vec::new();
            let mut limited = Vec::new();
            for (resource, value) in limits {
                let Some(max) = hard(value, resource) else { continue };
                let (want, now) = if resource == "pods" {
                    (1, live.len() as u128)
                } else {
                    let Some(want) = total(pod, resource) else {
                        return Err(format!(
                            "pods \"{pod_name}\" is forbidden: failed quota: {qname}: must specify {resource}"
                        ));
                    };
                    (want, live.iter().filter_map(|p| total(p, resource)).sum())
                };
                if now + want > max {
                    requested.push(format!("{resource}={}", show(resource, want)));
                    used.push(format!("{resource}={}", show(resource, now)));
                    limited.push(format!("{resource}={}", value.as_str().unwrap_or("")));
                }
            }
            if !requested.is_empty() {
                return Err(format!(
                    "pods \"{pod_name}\" is forbidden: exceeded quota: {qname}, requested: {}, used: {}, limited: {}",
                    requested.join(","),
                    used.join(","),
                    limited.join(",")
                ));
            }
        }
        Ok(())
    }

    /// The job controller could not create a pod: a `FailedCreate` event on the Job, and
    /// another try after a back-off.
    pub(super) fn refused_pod(&mut self, job: &Value, message: &str) {
        let Some(events) = self.builtin("/api/v1", "events") else { return };
        let ns = job["metadata"]["namespace"].as_str().unwrap_or("default").to_owned();
        let name = job["metadata"]["name"].as_str().unwrap_or("").to_owned();
        let event_name = format!("{name}.fake-failed-create");
        let now = sim::timestamp(self.now);
        let (count, first) = match self.get(&events, &ns, &event_name) {
            Some(e) => (e["count"].as_u64().unwrap_or(1) + 1, e["firstTimestamp"].clone()),
            None => (1, now.clone().into()),
        };
        let event = json!({
            "metadata": {"name": event_name},
            "involvedObject": {"kind": "Job", "namespace": ns, "name": name, "uid": job["metadata"]["uid"].clone(), "apiVersion": "batch/v1",
                "resourceVersion": job["metadata"]["resourceVersion"].clone()},
            "reason": "FailedCreate", "message": format!("Error creating: {message}"),
            "source": {"component": "job-controller"}, "firstTimestamp": first, "lastTimestamp": now,
            "count": count, "type": "Warning", "eventTime": null, "reportingComponent": "", "reportingInstance": ""
        });
        if count == 1 {
            self.insert(&events, &ns, &event_name, event);
        } else {
            let mut event = event;
            if let Some(old) = self.get(&events, &ns, &event_name) {
                event["metadata"] = old["metadata"].clone();
            }
            self.update(&events, &ns, &event_name, event);
        }
        let backoff = Duration::from_secs(10).saturating_mul(1 << (count.min(6) - 1) as u32).min(CREATE_BACKOFF_MAX);
        self.schedule.at(self.now + backoff, Action::CreatePod { ns, job: name });
    }
}
