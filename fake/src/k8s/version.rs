//! What the fake apiserver does differently as v1.19 and as v1.36 (see
//! `tests/fixtures/k8s-1.36/README.md` of the workspace for the recorded differences):
//!
//! | | v1.19 | v1.36 |
//! |---|---|---|
//! | `/version` | v1.19.0 | v1.36.2 |
//! | `metadata.selfLink` | on objects and lists | gone |
//! | CronJobs | `batch/v1beta1` only | `batch/v1` only |
//! | Job spec defaults | parallelism, completions, backoffLimit | also completionMode, suspend, podReplacementPolicy, manualSelector |
//! | Job pods | labels `job-name`, `controller-uid` | also `batch.kubernetes.io/job-name`, `batch.kubernetes.io/controller-uid`; finalizer `batch.kubernetes.io/job-tracking` until counted |
//! | Job status | `Complete` / `Failed` | `ready`, `terminating`, `uncountedTerminatedPods`; `SuccessCriteriaMet` / `FailureTarget` first (the pod in `uncountedTerminatedPods`), then `Complete` / `Failed` with the same reason |
//! | `ttlSecondsAfterFinished` | dropped (controller off) | kept |
//! | Pod Security admission | none | namespace label `pod-security.kubernetes.io/enforce` (`baseline`, `restricted`) refuses violating pods |
//! | watch without resourceVersion | `ADDED` for what exists, no bookmark | watch-list when bookmarks are allowed: `ADDED`…, the `k8s.io/initial-events-end` bookmark; `sendInitialEvents` without `resourceVersionMatch=NotOlderThan` is 422 |
//! | bookmark object | `metadata.resourceVersion`, `creationTimestamp: null` | `metadata.resourceVersion` only |

use serde_json::{json, Map, Value};

use super::Cluster;

/// Which kube-apiserver the fake behaves as (`FakeOptions::kubernetes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KubernetesVersion {
    /// Kubernetes v1.19 (2020), as `tests/fixtures/k8s` recorded it.
    V1_19,
    /// Kubernetes v1.36, as `tests/fixtures/k8s-1.36` recorded it (the default).
    #[default]
    V1_36,
}

impl KubernetesVersion {
    /// Every version the fake speaks, oldest first (for tests that run on each).
    pub const ALL: [KubernetesVersion; 2] = [KubernetesVersion::V1_19, KubernetesVersion::V1_36];

    /// Whether this is the current behaviour (1.36).
    pub fn current(self) -> bool {
        self == KubernetesVersion::V1_36
    }

    /// `/version`'s answer.
    pub(crate) fn version_json(self) -> Value {
        match self {
            KubernetesVersion::V1_19 => {
                json!({"major": "1", "minor": "19", "gitVersion": "v1.19.0", "platform": "linux/amd64"})
            }
            KubernetesVersion::V1_36 => {
                json!({"major": "1", "minor": "36", "emulationMajor": "1", "emulationMinor": "36",
                "minCompatibilityMajor": "1", "minCompatibilityMinor": "35", "gitVersion": "v1.36.2", "platform": "linux/amd64"})
            }
        }
    }

    /// Whether the version serves `resource` at `prefix` (CronJobs moved from v1beta1 to v1).
    pub(crate) fn serves(self, prefix: &str, resource: &str) -> bool {
        match (prefix, resource) {
            ("/apis/batch/v1beta1", _) => !self.current(),
            ("/apis/batch/v1", "cronjobs") => self.current(),
            _ => true,
        }
    }
}

/// The label that makes Pod Security admission enforce a level on a namespace's pods.
pub(crate) const ENFORCE_LABEL: &str = "pod-security.kubernetes.io/enforce";
/// The finalizer a 1.36 Job's pods carry until the controller counted them.
pub(crate) const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";

impl Cluster {
    /// Fill the spec fields a Job gets on create.
    pub(super) fn job_defaults(&self, spec: &mut Value) {
        if !self.version.current() {
            // v1.19 ships the TTL-after-finished controller disabled: the field is dropped.
            if let Some(m) = spec.as_object_mut() {
                m.remove("ttlSecondsAfterFinished");
            }
        }
        let mut defaults = vec![("parallelism", json!(1)), ("completions", json!(1)), ("backoffLimit", json!(6))];
        if self.version.current() {
            defaults.extend([
                ("completionMode", json!("NonIndexed")),
                ("suspend", json!(false)),
                ("podReplacementPolicy", json!("TerminatingOrFailed")),
                ("manualSelector", json!(false)),
            ]);
        }
        for (k, v) in defaults {
            if spec[k].is_null() {
                spec[k] = v;
            }
        }
    }

    /// The labels (and on 1.36 the finalizer) the job controller puts on a Job's pod.
    pub(super) fn job_pod_metadata(&self, labels: &mut Map<String, Value>, meta: &mut Value, uid: &Value, job: &str) {
        labels.insert("controller-uid".into(), uid.clone());
        labels.insert("job-name".into(), job.into());
        if self.version.current() {
            labels.insert("batch.kubernetes.io/controller-uid".into(), uid.clone());
            labels.insert("batch.kubernetes.io/job-name".into(), job.into());
            meta["finalizers"] = json!([TRACKING_FINALIZER]);
        }
    }

    /// The status a Job has once its controller made a pod (or was refused one).
    pub(super) fn job_started_status(&self, start_time: Value, active: bool) -> Value {
        let mut status = json!({"startTime": start_time});
        if active {
            status["active"] = 1.into();
        }
        if self.version.current() {
            status["ready"] = 0.into();
            status["terminating"] = 0.into();
            status["uncountedTerminatedPods"] = json!({});
        }
        status
    }

    /// The conditions of a finished Job, and on 1.36 the status write before them: the pod in
    /// `uncountedTerminatedPods` with `SuccessCriteriaMet` or `FailureTarget`. Returns the
    /// statuses to write in turn.
    pub(super) fn job_finish_statuses(
        &self,
        status: &Map<String, Value>,
        failed: Option<(&str, &str)>,
        pod_uids: &[Value],
    ) -> Vec<Map<String, Value>> {
        let now = crate::sim::timestamp(self.now);
        let (final_kind, target_kind, reason, message) = match failed {
            Some((reason, message)) => ("Failed", "FailureTarget", reason, message),
            None => {
                ("Complete", "SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods")
            }
        };
        let mut last = status.clone();
        if !self.version.current() {
            let condition = match failed {
                Some(_) => {
                    json!({"type": final_kind, "status": "True", "lastProbeTime": now, "lastTransitionTime": now, "reason": reason, "message": message})
                }
                None => json!({"type": final_kind, "status": "True", "lastProbeTime": now, "lastTransitionTime": now}),
            };
            last.insert("conditions".into(), json!([condition]));
            if failed.is_none() {
                last.insert("completionTime".into(), now.into());
            }
            return vec![last];
        }
        let target = json!({"type": target_kind, "status": "True", "lastProbeTime": now, "lastTransitionTime": now, "reason": reason, "message": message});
        let done = json!({"type": final_kind, "status": "True", "lastProbeTime": now, "lastTransitionTime": now, "reason": reason, "message": message});
        let mut first = status.clone();
        // the counts move in the second write; the first lists the pods as uncounted
        for key in ["succeeded", "failed"] {
            if let Some(old) = first.get(key).cloned() {
                let n = old.as_u64().unwrap_or(0).saturating_sub(pod_uids.len() as u64);
                if n > 0 {
                    first.insert(key.into(), n.into());
                } else {
                    first.remove(key);
                }
            }
        }
        let uncounted = if failed.is_some() { json!({"failed": pod_uids}) } else { json!({"succeeded": pod_uids}) };
        first.insert("uncountedTerminatedPods".into(), uncounted);
        first.insert("conditions".into(), json!([target.clone()]));
        for m in [&mut first, &mut last] {
            m.insert("ready".into(), 0.into());
            m.insert("terminating".into(), 0.into());
            m.remove("active");
        }
        last.insert("uncountedTerminatedPods".into(), json!({}));
        last.insert("conditions".into(), json!([target, done]));
        if failed.is_none() {
            last.insert("completionTime".into(), now.into());
        }
        vec![first, last]
    }

    /// Pod Security admission (1.36): the apiserver's refusal of `pod` in namespace `ns`, when
    /// the namespace enforces a level the pod violates.
    pub(super) fn pod_security(&self, ns: &str, pod_name: &str, pod: &Value) -> Result<(), String> {
        if !self.version.current() {
            return Ok(());
        }
        let level = self
            .builtin("/api/v1", "namespaces")
            .and_then(|rt| self.get(&rt, "", ns))
            .and_then(|n| n["metadata"]["labels"][ENFORCE_LABEL].as_str().map(str::to_owned));
        let Some(level) = level.filter(|l| l == "baseline" || l == "restricted") else { return Ok(()) };
        let containers = pod["spec"]["containers"].as_array().cloned().unwrap_or_default();
        let mut problems = Vec::new();
        let privileged: Vec<String> = containers
            .iter()
            .filter(|c| c["securityContext"]["privileged"] == true)
            .map(|c| format!("{:?}", c["name"].as_str().unwrap_or("")))
            .collect();
        if !privileged.is_empty() {
            problems.push(format!(
                "privileged (container {} must not set securityContext.privileged=true)",
                privileged.join(", ")
            ));
        }
        if level == "restricted" {
            let lacking = |test: &dyn Fn(&Value) -> bool| -> Vec<String> {
                containers
                    .iter()
                    .filter(|c| !test(c))
                    .map(|c| format!("{:?}", c["name"].as_str().unwrap_or("")))
                    .collect()
            };
            let checks: [(&str, &str, Vec<String>); 4] = [
                (
                    "allowPrivilegeEscalation != false",
                    "must set securityContext.allowPrivilegeEscalation=false",
                    lacking(&|c| c["securityContext"]["allowPrivilegeEscalation"] == false),
                ),
                (
                    "unrestricted capabilities",
                    "must set securityContext.capabilities.drop=[\"ALL\"]",
                    lacking(&|c| {
                        c["securityContext"]["capabilities"]["drop"]
                            .as_array()
                            .is_some_and(|d| d.iter().any(|x| x == "ALL"))
                    }),
                ),
                (
                    "runAsNonRoot != true",
                    "must set securityContext.runAsNonRoot=true",
                    lacking(&|c| {
                        c["securityContext"]["runAsNonRoot"] == true
                            || pod["spec"]["securityContext"]["runAsNonRoot"] == true
                    }),
                ),
                (
                    "seccompProfile",
                    "must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"",
                    lacking(&|c| {
                        !c["securityContext"]["seccompProfile"]["type"].is_null()
                            || !pod["spec"]["securityContext"]["seccompProfile"]["type"].is_null()
                    }),
                ),
            ];
            for (check, fix, names) in checks {
                if !names.is_empty() {
                    let who = if names.len() == 1 { "container" } else { "containers" };
                    problems.push(format!("{check} ({who} {} {fix})", names.join(", ")));
                }
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        Err(format!(
            "pods \"{pod_name}\" is forbidden: violates PodSecurity \"{level}:latest\": {}",
            problems.join(", ")
        ))
    }
}
