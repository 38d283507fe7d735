//! The fake apiserver's Deployment and StatefulSet controllers (and Service defaults).
//!
//! - A Deployment keeps `spec.replicas` pods named `<name>-<hash>-<5 chars>` (labels: the
//!   template's plus `pod-template-hash`; owner: a ReplicaSet, which the fake does not store);
//!   a StatefulSet pods `<name>-0`, `<name>-1`, ... (label `statefulset.kubernetes.io/pod-name`),
//!   created one at a time once the previous one runs (`OrderedReady`, the default) or all at
//!   once (`Parallel`). Pods start like a Job's but keep running (`restartPolicy: Always`); the
//!   stuck states of [`Cluster::stuck_pod`] apply to them too.
//! - Status as the controllers report it: `observedGeneration`, `replicas`, `readyReplicas`,
//!   `updatedReplicas`, `availableReplicas` and the `Available`/`Progressing` conditions
//!   (Deployment), `currentReplicas`, `currentRevision`/`updateRevision` (StatefulSet).
//! - Create validates what the apiserver validates first: a selector that matches the
//!   template's labels (422 `Invalid`). A StatefulSet's `serviceName` is not enforced by the
//!   apiserver (only kubectl's client-side schema check wants it), so it is not here either.
//! - Deleting removes the pods (`Background`, the default for apps/v1) or, `Foreground`, marks
//!   the object, removes its pods, then the object.
//! - A Service gets a `clusterIP` (unless headless), `type: ClusterIP` by default, each port's
//!   `protocol` (TCP) and `targetPort` (the port).

use std::time::Duration;

use serde_json::{json, Value};

use super::{Action, Cluster, ResourceType, NODE_NAME};
use crate::sim;

/// The label a StatefulSet's pods carry with their own name.
const STS_POD_NAME: &str = "statefulset.kubernetes.io/pod-name";

impl Cluster {
    pub(super) fn apps_rt(&self, resource: &str) -> Option<ResourceType> {
        self.builtin("/apis/apps/v1", resource)
    }

    /// Validate and default a new Deployment or StatefulSet; schedules its controller.
    pub(super) fn create_workload(&mut self, rt: &ResourceType, obj: &mut Value) -> Result<(), String> {
        let name = obj["metadata"]["name"].as_str().unwrap_or("").to_owned();
        let selector = obj["spec"]["selector"]["matchLabels"].as_object().cloned().unwrap_or_default();
        let labels = obj["spec"]["template"]["metadata"]["labels"].as_object().cloned().unwrap_or_default();
        if selector.is_empty() {
            return Err(format!(
                "{} \"{name}\" is invalid: spec.selector: Invalid value: v1.LabelSelector{{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}}: empty selector is invalid for deployment",
                rt.kind
            ));
        }
        if selector.iter().any(|(k, v)| labels.get(k) != Some(v)) {
            return Err(format!(
                "{} \"{name}\" is invalid: spec.template.metadata.labels: Invalid value: {}: `selector` does not match template `labels`",
                rt.kind,
                Value::Object(labels)
            ));
        }
        let replicas = obj["spec"]["replicas"].as_u64().unwrap_or(1);
        obj["spec"]["replicas"] = replicas.into();
        obj["metadata"]["generation"] = 1.into();
        if rt.resource == "statefulsets" && obj["spec"]["podManagementPolicy"].is_null() {
            obj["spec"]["podManagementPolicy"] = "OrderedReady".into();
        }
        obj["status"] = json!({"replicas": 0});
        let ns = obj["metadata"]["namespace"].as_str().unwrap_or("default").to_owned();
        if rt.resource == "deployments" && obj["spec"]["progressDeadlineSeconds"].is_null() {
            obj["spec"]["progressDeadlineSeconds"] = 600.into();
        }
        self.rollout_started(&rt.resource, &ns, &name, obj);
        self.schedule.at(self.now, Action::Reconcile { resource: rt.resource.clone(), ns, name });
        Ok(())
    }

    /// A Deployment's rollout (re)starts: its progress deadline runs from now.
    fn rollout_started(&mut self, resource: &str, ns: &str, name: &str, obj: &Value) {
        if resource != "deployments" {
            return;
        }
        self.rollouts.insert((ns.to_owned(), name.to_owned()), self.now);
        let deadline = Duration::from_secs(obj["spec"]["progressDeadlineSeconds"].as_u64().unwrap_or(600));
        let action = Action::Reconcile { resource: resource.to_owned(), ns: ns.to_owned(), name: name.to_owned() };
        self.schedule.at(self.now + deadline, action);
    }

    /// Default a new Service as the apiserver does.
    pub(super) fn create_service(&mut self, obj: &mut Value) {
        let spec = &mut obj["spec"];
        if spec["type"].is_null() {
            spec["type"] = "ClusterIP".into();
        }
        if spec["clusterIP"].is_null() && spec["type"].as_str().is_none_or(|t| t != "ExternalName") {
            // 10.96.0.0/12, as kubeadm's default service range
            let n = self.serial + 10;
            spec["clusterIP"] = format!("10.96.{}.{}", (n / 250) % 250, n % 250 + 1).into();
        }
        if let Some(ports) = spec["ports"].as_array_mut() {
            for p in ports.iter_mut() {
                if p["protocol"].is_null() {
                    p["protocol"] = "TCP".into();
                }
                if p["targetPort"].is_null() {
                    p["targetPort"] = p["port"].clone();
                }
            }
        }
        if matches!(obj["spec"]["type"].as_str(), Some("NodePort" | "LoadBalancer")) {
            let serial = self.serial;
            if let Some(ports) = obj["spec"]["ports"].as_array_mut() {
                for (i, p) in ports.iter_mut().enumerate() {
                    if p["nodePort"].is_null() {
                        p["nodePort"] = (30000 + (serial * 7 + i as u64) % 2768).into();
                    }
                }
            }
        }
        obj["status"] = json!({"loadBalancer": {}});
    }

    /// The pods a workload owns (by the uid in their owner reference), sorted by name.
    fn owned_pods(&self, ns: &str, uid: &Value) -> Vec<(String, Value)> {
        let Some(pods) = self.pods_rt() else { return Vec::new() };
        let id = pods.id();
        let mut out: Vec<(String, Value)> = self
            .objects
            .iter()
            .filter(|((c, n, _), o)| {
                *c == id && n == ns && o["metadata"]["labels"]["clustermanager-fake/owner-uid"] == *uid
            })
            .map(|((_, _, name), o)| (name.clone(), o.clone()))
            .collect();
        out.sort_by_key(|a| natural(&a.0));
        out
    }

    /// Bring a workload's pods to `spec.replicas` and its status up to date.
    pub(super) fn reconcile(&mut self, resource: &str, ns: &str, name: &str) {
        let (Some(rt), Some(pods_rt)) = (self.apps_rt(resource), self.pods_rt()) else { return };
        let Some(obj) = self.get(&rt, ns, name).cloned() else { return };
        if !obj["metadata"]["deletionTimestamp"].is_null() {
            return;
        }
        let uid = obj["metadata"]["uid"].clone();
        let desired = obj["spec"]["replicas"].as_u64().unwrap_or(1) as usize;
        let stateful = resource == "statefulsets";
        let ordered = stateful && obj["spec"]["podManagementPolicy"] != "Parallel";
        let hash = sim::name_suffix(&format!("{name}-template"), 1).repeat(2);
        let mut pods = self.owned_pods(ns, &uid);
        // too many: remove the highest ordinals (StatefulSet) or the newest (Deployment)
        while pods.len() > desired {
            let Some((pod, _)) = pods.pop() else { break };
            self.remove(&pods_rt, ns, &pod);
        }
        let running = |p: &Value| p["status"]["phase"] == "Running";
        if stateful {
            for i in 0..desired {
                let pod_name = format!("{name}-{i}");
                if pods.iter().any(|(n, _)| *n == pod_name) {
                    continue;
                }
                if ordered && !pods.iter().all(|(_, p)| running(p)) {
                    break; // the next one once the ones before it run
                }
                let created = self.create_owned_pod(&obj, &pods_rt, ns, &pod_name, &uid, "StatefulSet", &hash);
                pods.push((pod_name, created));
                if ordered {
                    break;
                }
            }
        } else {
            while pods.len() < desired {
                let pod_name = format!("{name}-{hash}-{}", sim::name_suffix(name, self.serial + 1));
                let created = self.create_owned_pod(&obj, &pods_rt, ns, &pod_name, &uid, "ReplicaSet", &hash);
                pods.push((pod_name, created));
            }
        }
        let ready = pods.iter().filter(|(_, p)| running(p)).count();
        let generation = obj["metadata"]["generation"].clone();
        let now = sim::timestamp(self.now);
        let mut updated = obj.clone();
        updated["status"] = if stateful {
            let revision = format!("{name}-{hash}");
            json!({"observedGeneration": generation, "replicas": pods.len(), "readyReplicas": ready, "currentReplicas": pods.len(),
                "updatedReplicas": pods.len(), "currentRevision": revision, "updateRevision": revision, "collisionCount": 0})
        } else {
            let available = ready >= desired;
            let (status, reason, message) = if available {
                ("True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
            } else {
                ("False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")
            };
            let deadline = Duration::from_secs(obj["spec"]["progressDeadlineSeconds"].as_u64().unwrap_or(600));
            let since = self.rollouts.get(&(ns.to_owned(), name.to_owned())).copied().unwrap_or_default();
            let timed_out = !available && self.now.saturating_sub(since) >= deadline;
            let (progressing, progress, progress_message) = if available {
                ("True", "NewReplicaSetAvailable", format!("ReplicaSet \"{name}-{hash}\" has successfully progressed."))
            } else if timed_out {
                (
                    "False",
                    "ProgressDeadlineExceeded",
                    format!("ReplicaSet \"{name}-{hash}\" has timed out progressing."),
                )
            } else {
                ("True", "ReplicaSetUpdated", format!("ReplicaSet \"{name}-{hash}\" is progressing."))
            };
            json!({"observedGeneration": generation, "replicas": pods.len(), "updatedReplicas": pods.len(), "readyReplicas": ready,
            "availableReplicas": ready, "unavailableReplicas": pods.len().saturating_sub(ready),
            "conditions": [
                {"type": "Available", "status": status, "lastUpdateTime": now, "lastTransitionTime": now, "reason": reason, "message": message},
                {"type": "Progressing", "status": progressing, "lastUpdateTime": now, "lastTransitionTime": now, "reason": progress,
                 "message": progress_message}
            ]})
        };
        // the controllers leave out zero counts
        if let Some(map) = updated["status"].as_object_mut() {
            map.retain(|_, v| v.as_u64() != Some(0));
        }
        if updated["status"] != obj["status"] {
            self.update(&rt, ns, name, updated);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn create_owned_pod(
        &mut self,
        owner: &Value,
        pods_rt: &ResourceType,
        ns: &str,
        pod_name: &str,
        uid: &Value,
        owner_kind: &str,
        hash: &str,
    ) -> Value {
        let name = owner["metadata"]["name"].as_str().unwrap_or("");
        let template = &owner["spec"]["template"];
        let mut labels = template["metadata"]["labels"].as_object().cloned().unwrap_or_default();
        labels.insert("clustermanager-fake/owner-uid".into(), uid.clone());
        if owner_kind == "StatefulSet" {
            labels.insert(STS_POD_NAME.into(), pod_name.into());
            labels.insert("controller-revision-hash".into(), format!("{name}-{hash}").into());
        } else {
            labels.insert("pod-template-hash".into(), hash.into());
        }
        let mut spec = template["spec"].clone();
        if spec.is_null() {
            spec = json!({});
        }
        spec["nodeName"] = NODE_NAME.into();
        let owner_name = if owner_kind == "StatefulSet" { name.to_owned() } else { format!("{name}-{hash}") };
        let mut pod = json!({
            "metadata": {"labels": labels, "annotations": template["metadata"]["annotations"].clone(),
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": owner_kind, "name": owner_name, "uid": uid, "controller": true, "blockOwnerDeletion": true}]},
            "spec": spec,
            "status": self.bound_pending_status(
                template["spec"]["containers"][0]["name"].clone(),
                template["spec"]["containers"][0]["image"].clone(),
            ),
        });
        if pod["metadata"]["annotations"].is_null() {
            if let Some(m) = pod["metadata"].as_object_mut() {
                m.remove("annotations");
            }
        }
        let stuck = self.stuck_pod(&mut pod);
        let created = self.insert(pods_rt, ns, pod_name, pod);
        self.schedule_pod(ns, pod_name, stuck);
        created
    }

    /// Whether a pod belongs to a workload (and so keeps running): its owner, to reconcile.
    pub(super) fn workload_of(&self, pod: &Value) -> Option<(String, String)> {
        let owner = pod["metadata"]["ownerReferences"].as_array()?.first()?;
        let resource = match owner["kind"].as_str()? {
            "ReplicaSet" => "deployments",
            "StatefulSet" => "statefulsets",
            _ => return None,
        };
        let uid = pod["metadata"]["labels"]["clustermanager-fake/owner-uid"].as_str()?;
        let ns = pod["metadata"]["namespace"].as_str()?;
        let rt = self.apps_rt(resource)?;
        let id = rt.id();
        self.objects
            .iter()
            .find(|((c, n, _), o)| *c == id && n == ns && o["metadata"]["uid"] == uid)
            .map(|((_, _, name), _)| (resource.to_owned(), name.clone()))
    }

    /// A workload's spec changed (scale, replace, patch): a new generation, then reconcile.
    pub(super) fn workload_changed(&mut self, rt: &ResourceType, ns: &str, name: &str) {
        if matches!(rt.resource.as_str(), "deployments" | "statefulsets") {
            if let Some(obj) = self.get(rt, ns, name).cloned() {
                self.rollout_started(&rt.resource, ns, name, &obj);
            }
            self.schedule
                .at(self.now, Action::Reconcile { resource: rt.resource.clone(), ns: ns.into(), name: name.into() });
        }
    }

    /// Delete a workload: `Background` (default) removes it and its pods; `Foreground` marks it,
    /// then removes its pods and it; `Orphan` leaves the pods.
    pub(super) fn delete_workload(&mut self, rt: &ResourceType, ns: &str, name: &str, policy: &str) -> Value {
        let Some(mut obj) = self.get(rt, ns, name).cloned() else { return Value::Null };
        let uid = obj["metadata"]["uid"].clone();
        let Some(pods_rt) = self.pods_rt() else { return obj };
        if policy == "Foreground" {
            if obj["metadata"]["deletionTimestamp"].is_null() {
                obj["metadata"]["deletionTimestamp"] = sim::timestamp(self.now).into();
                obj["metadata"]["deletionGracePeriodSeconds"] = 0.into();
                obj["metadata"]["finalizers"] = json!(["foregroundDeletion"]);
                obj = self.update(rt, ns, name, obj);
                let action =
                    Action::FinishWorkloadDelete { resource: rt.resource.clone(), ns: ns.into(), name: name.into() };
                self.schedule.at(self.now + self.step / 2, action);
            }
            return obj;
        }
        let removed = self.remove(rt, ns, name).unwrap_or(obj);
        if policy != "Orphan" {
            for (pod, _) in self.owned_pods(ns, &uid) {
                self.remove(&pods_rt, ns, &pod);
            }
        }
        super::success(rt, name, &removed)
    }

    /// The garbage collector's end of a foreground delete.
    pub(super) fn finish_workload_delete(&mut self, resource: &str, ns: &str, name: &str) {
        let (Some(rt), Some(pods_rt)) = (self.apps_rt(resource), self.pods_rt()) else { return };
        let Some(obj) = self.get(&rt, ns, name).cloned() else { return };
        for (pod, _) in self.owned_pods(ns, &obj["metadata"]["uid"]) {
            self.remove(&pods_rt, ns, &pod);
        }
        self.remove(&rt, ns, name);
    }
}

/// Names compared with their trailing number as a number (`web-10` after `web-9`).
fn natural(name: &str) -> (String, u64) {
    match name.rsplit_once('-') {
        Some((base, n)) if n.bytes().all(|b| b.is_ascii_digit()) && !n.is_empty() => {
            (base.to_owned(), n.parse().unwrap_or(u64::MAX))
        }
        _ => (name.to_owned(), 0),
    }
}
