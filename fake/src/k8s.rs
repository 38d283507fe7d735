//! The fake kube-apiserver (with a built-in job controller and kubelet).
//!
//! Objects live in one store keyed by API collection, namespace and name, every write bumps the
//! cluster-wide `resourceVersion` and appends a watch event. Answers copy kube-apiserver v1.36's
//! shapes or, with [`KubernetesVersion::V1_19`], v1.19's (see `tests/fixtures/k8s-1.36` and
//! `tests/fixtures/k8s`; what differs is listed in `version.rs`): objects with `metadata.resourceVersion`/`uid` (and on 1.19 `selfLink`),
//! lists as `<Kind>List` whose items carry no `kind`, errors as `Status` objects, watches as
//! newline-separated `{"type","object"}` events ending when `timeoutSeconds` (virtual) passes.
//!
//! Behaviours emulated on top of storage:
//! - namespaces: `Active` on create; delete → `Terminating` (creates inside refused with 403),
//!   then after one step the namespace and everything in it are gone;
//! - one Ready node `fake-node-1`;
//! - batch/v1 Jobs: a pod `<job>-<5 chars>` (label `job-name`) is created at once (`Pending`),
//!   runs after one step (`Running`) and ends after the command's duration (see
//!   [`crate::script`]) as `Succeeded` or `Failed` with its exit code; the Job gets the
//!   `Complete` or `Failed` condition. Deleting a Job honours `propagationPolicy`
//!   (`Background`: pods go at once; `Foreground`: the Job is marked, its pods go, then it goes;
//!   `Orphan`: pods stay);
//! - pod logs as the command prints them (a `sleep` between two `echo`s spaces them in virtual
//!   time): `tailLines`, `timestamps`, `follow=true` (lines as they are printed, then the end
//!   once the pod finished);
//! - deployments' `/scale` subresource; CRDs become `Established`, after which their custom
//!   resources are served; merge, strategic (treated as merge) and JSON patches;
//! - `limit`/`continue` paging; `labelSelector` (`=`, `==`, `!=`, `in`, `notin`, exists, `!`);
//!   `fieldSelector` on `metadata.name`, `metadata.namespace`, `status.phase`, `spec.nodeName`;
//! - watches from a `resourceVersion` (410 `Expired` ERROR event below the compaction point set
//!   with [`crate::FakeCluster::compact`]); with `allowWatchBookmarks` one `BOOKMARK` a second
//!   before the timeout, as the watch cache sends.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use clustermanager_core::k8s::configmap::LabelSelector;
use clustermanager_core::{Request, Response};
use serde_json::{json, Map, Value};

use crate::http_util::{self, param};

mod apps;
mod quota;
mod version;
use crate::sim::{self, Schedule};
use crate::{Reply, StreamPoll};
pub use version::KubernetesVersion;

/// Default server-side watch timeout when the client sends no `timeoutSeconds`.
const DEFAULT_WATCH: Duration = Duration::from_secs(1800);

/// The kubelet's first image pull back-off.
const PULL_BACK_OFF: Duration = Duration::from_secs(10);
/// The job controller's first back-off before replacing a failed pod; it doubles with each
/// failure, up to [`JOB_BACK_OFF_MAX`].
const JOB_BACK_OFF: Duration = Duration::from_secs(10);
/// The job controller's longest back-off.
const JOB_BACK_OFF_MAX: Duration = Duration::from_secs(360);

/// The node every fake Kubernetes cluster has.
pub const NODE_NAME: &str = "fake-node-1";

type Key = (String, String, String); // (collection id "<prefix>/<resource>", namespace, name)

#[derive(Debug, Clone)]
struct WatchEvent {
    rv: u64,
    key: Key,
    kind: &'static str,
    object: Value,
}

#[derive(Debug)]
enum Action {
    StartPod {
        ns: String,
        pod: String,
    },
    FinishPod {
        ns: String,
        pod: String,
    },
    RemoveNamespace {
        name: String,
    },
    FinishForeground {
        ns: String,
        job: String,
    },
    FinishOrphan {
        ns: String,
        job: String,
    },
    CreatePod {
        ns: String,
        job: String,
    },
    /// The job controller replaces a Job's failed pod (within its `backoffLimit`), after its
    /// back-off.
    ReplacePod {
        ns: String,
        job: String,
    },
    EstablishCrd {
        name: String,
    },
    /// The kubelet backs off pulling an image it could not pull.
    PullBackOff {
        ns: String,
        pod: String,
    },
    /// A Job's `activeDeadlineSeconds` passed.
    JobDeadline {
        ns: String,
        job: String,
    },
    /// A Deployment or StatefulSet controller looks at its object (see [`apps`]).
    Reconcile {
        resource: String,
        ns: String,
        name: String,
    },
    /// The end of a foreground delete of a Deployment or StatefulSet.
    FinishWorkloadDelete {
        resource: String,
        ns: String,
        name: String,
    },
}

/// One resource type the server knows.
#[derive(Debug, Clone)]
struct ResourceType {
    prefix: String,
    resource: String,
    kind: String,
    namespaced: bool,
}

impl ResourceType {
    /// The collection's storage: one per resource, whichever version is asked for (CronJobs
    /// at `batch/v1beta1` are the same objects as at `batch/v1`).
    fn id(&self) -> String {
        match (self.prefix.as_str(), self.resource.as_str()) {
            ("/apis/batch/v1beta1", "cronjobs") => "/apis/batch/v1/cronjobs".to_owned(),
            (prefix, resource) => format!("{prefix}/{resource}"),
        }
    }
    fn api_version(&self) -> String {
        self.prefix.trim_start_matches("/apis/").trim_start_matches("/api/").to_owned()
    }
    fn group(&self) -> &str {
        self.prefix.strip_prefix("/apis/").and_then(|g| g.split('/').next()).unwrap_or("")
    }
    fn self_link(&self, ns: &str, name: &str) -> String {
        if self.namespaced {
            format!("{}/namespaces/{ns}/{}/{name}", self.prefix, self.resource)
        } else {
            format!("{}/{}/{name}", self.prefix, self.resource)
        }
    }
    /// `deployments.apps` as the apiserver names it in messages.
    fn qualified(&self) -> String {
        match self.group() {
            "" => self.resource.clone(),
            g => format!("{}.{g}", self.resource),
        }
    }
}

const BUILTIN: &[(&str, &str, &str, bool)] = &[
    ("/api/v1", "namespaces", "Namespace", false),
    ("/api/v1", "nodes", "Node", false),
    ("/api/v1", "pods", "Pod", true),
    ("/api/v1", "configmaps", "ConfigMap", true),
    ("/api/v1", "secrets", "Secret", true),
    ("/api/v1", "services", "Service", true),
    ("/api/v1", "serviceaccounts", "ServiceAccount", true),
    ("/api/v1", "resourcequotas", "ResourceQuota", true),
    ("/api/v1", "events", "Event", true),
    ("/apis/batch/v1", "jobs", "Job", true),
    ("/apis/batch/v1", "cronjobs", "CronJob", true),
    ("/apis/batch/v1beta1", "cronjobs", "CronJob", true),
    ("/apis/apps/v1", "deployments", "Deployment", true),
    ("/apis/apps/v1", "replicasets", "ReplicaSet", true),
    ("/apis/apps/v1", "statefulsets", "StatefulSet", true),
    ("/apis/apiextensions.k8s.io/v1", "customresourcedefinitions", "CustomResourceDefinition", false),
];

/// The fake Kubernetes cluster's state.
#[derive(Debug)]
pub(crate) struct Cluster {
    objects: BTreeMap<Key, Value>,
    events: Vec<WatchEvent>,
    rv: u64,
    compacted: u64,
    serial: u64,
    schedule: Schedule<Action>,
    outcomes: BTreeMap<(String, String), crate::script::Outcome>,
    /// When each pod's container started (virtual time).
    started: BTreeMap<(String, String), Duration>,
    step: Duration,
    now: Duration,
    /// Images the fake registry does not have.
    missing_images: Vec<String>,
    /// When each Deployment's current rollout began (for `progressDeadlineSeconds`).
    rollouts: BTreeMap<(String, String), Duration>,
    /// Which apiserver it behaves as.
    version: KubernetesVersion,
    /// Answer watch-list requests as a 1.34+ apiserver over an etcd without progress requests.
    watch_list_refused: bool,
    /// A pod on the node that requested CPU or memory ended or went since unschedulable pods were
    /// last retried.
    freed: bool,
    /// Jobs whose failed pod is to be replaced after its back-off ([`Action::ReplacePod`]).
    replacing: BTreeSet<(String, String)>,
}

/// An open streamed answer.
#[derive(Debug)]
pub(crate) enum Stream {
    Watch {
        collection: String,
        ns: Option<String>,
        labels: Selector,
        fields: Selector,
        cursor: u64,
        until: Duration,
        queued: VecDeque<Bytes>,
        /// When to send a `BOOKMARK` (one second before the timeout, if bookmarks were asked for).
        bookmark: Option<(Duration, String)>,
    },
    Log {
        ns: String,
        pod: String,
        tail: Option<usize>,
        timestamps: bool,
        /// Bytes of the log already sent (`None` before the first read applies `tailLines`).
        sent: Option<usize>,
    },
}

impl Cluster {
    pub(crate) fn new(step: Duration, version: KubernetesVersion) -> Self {
        let mut c = Cluster {
            objects: BTreeMap::new(),
            events: Vec::new(),
            rv: 1000,
            compacted: 0,
            serial: 0,
            schedule: Schedule::default(),
            outcomes: BTreeMap::new(),
            started: BTreeMap::new(),
            step,
            now: Duration::ZERO,
            missing_images: Vec::new(),
            rollouts: BTreeMap::new(),
            version,
            watch_list_refused: false,
            freed: false,
            replacing: BTreeSet::new(),
        };
        let node = json!({
            "metadata": {"name": NODE_NAME, "labels": {"kubernetes.io/arch": "amd64", "kubernetes.io/hostname": NODE_NAME, "kubernetes.io/os": "linux", "type": "fake-kubelet"}},
            "spec": {},
            "status": {
                "capacity": {"cpu": "4", "ephemeral-storage": "50Gi", "memory": "8Gi", "pods": "110"},
                "allocatable": {"cpu": "4", "ephemeral-storage": "50Gi", "memory": "8Gi", "pods": "110"},
                "conditions": [
                    {"type": "Ready", "status": "True", "lastHeartbeatTime": sim::timestamp(Duration::ZERO), "lastTransitionTime": sim::timestamp(Duration::ZERO), "reason": "KubeletReady", "message": "fake kubelet is posting ready status"},
                    {"type": "MemoryPressure", "status": "False", "lastHeartbeatTime": sim::timestamp(Duration::ZERO), "lastTransitionTime": sim::timestamp(Duration::ZERO), "reason": "KubeletHasSufficientMemory"}
                ],
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                "nodeInfo": {"osImage": "clustermanager-fake", "containerRuntimeVersion": "fake://1.0", "kubeletVersion": "v1.19.0", "kubeProxyVersion": "v1.19.0", "operatingSystem": "linux", "architecture": "amd64"}
            }
        });
        let active = |name: &str| {
            let mut ns = json!({"spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
            if version.current() {
                ns["metadata"] = json!({"labels": {"kubernetes.io/metadata.name": name}});
            }
            ns
        };
        for (name, obj) in [("default", active("default")), ("kube-system", active("kube-system")), (NODE_NAME, node)] {
            let res = if name == NODE_NAME { "nodes" } else { "namespaces" };
            if let Some(rt) = c.builtin("/api/v1", res) {
                let _ = c.insert(&rt, "", name, obj);
            }
        }
        c
    }

    /// Answer watch-list requests with the `ERROR` event of a 1.34+ apiserver whose etcd lacks
    /// progress requests (`acm-35`).
    pub(crate) fn set_watch_list_refused(&mut self, refused: bool) {
        self.watch_list_refused = refused;
    }

    /// Images the fake registry does not have (their pulls fail).
    pub(crate) fn set_missing_images(&mut self, images: Vec<String>) {
        self.missing_images = images;
    }

    pub(crate) fn next_due(&self) -> Option<Duration> {
        self.schedule.next_due()
    }

    pub(crate) fn compact(&mut self) {
        self.compacted = self.rv;
    }

    /// Run every scheduled action due by `now`.
    pub(crate) fn advance(&mut self, now: Duration) {
        self.now = self.now.max(now);
        while let Some((at, action)) = self.schedule.pop_due(self.now) {
            let saved = self.now;
            self.now = at;
            self.run_action(action);
            self.retry_unschedulable();
            self.now = saved;
        }
    }

    // ----- storage -------------------------------------------------------------------------

    fn builtin(&self, prefix: &str, resource: &str) -> Option<ResourceType> {
        let version = self.version;
        BUILTIN.iter().find(|(p, r, _, _)| *p == prefix && *r == resource && version.serves(p, r)).map(
            |(p, r, k, n)| ResourceType {
                prefix: (*p).into(),
                resource: (*r).into(),
                kind: (*k).into(),
                namespaced: *n,
            },
        )
    }

    /// A built-in type or one defined by an Established CRD.
    fn resource_type(&self, prefix: &str, resource: &str) -> Option<ResourceType> {
        if let Some(rt) = self.builtin(prefix, resource) {
            return Some(rt);
        }
        let crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
        self.objects.range((crds.to_owned(), String::new(), String::new())..).take_while(|(k, _)| k.0 == crds).find_map(
            |(_, crd)| {
                let spec = &crd["spec"];
                let established = crd["status"]["conditions"]
                    .as_array()
                    .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Established" && c["status"] == "True"));
                let group = spec["group"].as_str()?;
                let served = spec["versions"].as_array()?.iter().any(|v| {
                    format!("/apis/{group}/{}", v["name"].as_str().unwrap_or("")) == prefix && v["served"] != false
                });
                (established && served && spec["names"]["plural"] == resource).then(|| ResourceType {
                    prefix: prefix.to_owned(),
                    resource: resource.to_owned(),
                    kind: spec["names"]["kind"].as_str().unwrap_or("Unknown").to_owned(),
                    namespaced: spec["scope"] != "Cluster",
                })
            },
        )
    }

    fn known_prefix(&self, prefix: &str) -> bool {
        BUILTIN.iter().any(|(p, r, ..)| *p == prefix && self.version.serves(p, r))
            || self.objects.iter().any(|(k, crd)| {
                k.0 == "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
                    && crd["spec"]["versions"].as_array().is_some_and(|vs| {
                        vs.iter().any(|v| {
                            format!(
                                "/apis/{}/{}",
                                crd["spec"]["group"].as_str().unwrap_or(""),
                                v["name"].as_str().unwrap_or("")
                            ) == prefix
                        })
                    })
            })
    }

    /// Discovery of one group version (`GET /apis/batch/v1`): the built-in resources it serves.
    fn resource_list(&self, prefix: &str) -> Value {
        let resources: Vec<Value> = BUILTIN
            .iter()
            .filter(|(p, r, ..)| *p == prefix && self.version.serves(p, r))
            .map(|(_, r, k, n)| json!({"name": r, "singularName": "", "namespaced": n, "kind": k, "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}))
            .collect();
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": prefix.trim_start_matches("/apis/").trim_start_matches("/api/"), "resources": resources})
    }

    fn record(&mut self, rt: &ResourceType, ns: &str, name: &str, kind: &'static str, object: &Value) {
        self.events.push(WatchEvent {
            rv: self.rv,
            key: (rt.id(), ns.into(), name.into()),
            kind,
            object: object.clone(),
        });
    }

    /// Store a new object, filling the metadata the apiserver sets.
    fn insert(&mut self, rt: &ResourceType, ns: &str, name: &str, mut obj: Value) -> Value {
        self.rv += 1;
        self.serial += 1;
        let map = ensure_object(&mut obj);
        map.insert("kind".into(), Value::String(rt.kind.clone()));
        map.insert("apiVersion".into(), Value::String(rt.api_version()));
        let meta = ensure_object(map.entry("metadata").or_insert_with(|| json!({})));
        meta.insert("name".into(), name.into());
        if rt.namespaced {
            meta.insert("namespace".into(), ns.into());
        }
        if !self.version.current() {
            meta.insert("selfLink".into(), rt.self_link(ns, name).into());
        }
        meta.insert("uid".into(), sim::uid(name, self.serial).into());
        meta.insert("resourceVersion".into(), self.rv.to_string().into());
        meta.insert("creationTimestamp".into(), sim::timestamp(self.now).into());
        self.record(rt, ns, name, "ADDED", &obj);
        self.objects.insert((rt.id(), ns.into(), name.into()), obj.clone());
        obj
    }

    /// Store a changed object under a new resourceVersion.
    fn update(&mut self, rt: &ResourceType, ns: &str, name: &str, mut obj: Value) -> Value {
        self.rv += 1;
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("resourceVersion".into(), self.rv.to_string().into());
        }
        self.record(rt, ns, name, "MODIFIED", &obj);
        self.objects.insert((rt.id(), ns.into(), name.into()), obj.clone());
        obj
    }

    /// Remove an object; returns it as last stored (so a watch from its resourceVersion sees the
    /// `DELETED` event, which carries the deletion's resourceVersion).
    fn remove(&mut self, rt: &ResourceType, ns: &str, name: &str) -> Option<Value> {
        let obj = self.objects.remove(&(rt.id(), ns.into(), name.into()))?;
        self.rv += 1;
        let mut gone = obj.clone();
        if let Some(meta) = gone.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("resourceVersion".into(), self.rv.to_string().into());
        }
        self.record(rt, ns, name, "DELETED", &gone);
        if rt.resource == "pods" {
            self.freed |= holds_room(&gone) && pod_requests(&gone) != (0, 0);
            self.outcomes.remove(&(ns.to_owned(), name.to_owned()));
            self.started.remove(&(ns.to_owned(), name.to_owned()));
        }
        Some(obj)
    }

    fn get(&self, rt: &ResourceType, ns: &str, name: &str) -> Option<&Value> {
        self.objects.get(&(rt.id(), ns.into(), name.into()))
    }

    fn pods_rt(&self) -> Option<ResourceType> {
        self.builtin("/api/v1", "pods")
    }
    fn jobs_rt(&self) -> Option<ResourceType> {
        self.builtin("/apis/batch/v1", "jobs")
    }

    // ----- the job controller and kubelet -------------------------------------------------------

    fn run_action(&mut self, action: Action) {
        match action {
            Action::StartPod { ns, pod } => {
                let Some(rt) = self.pods_rt() else { return };
                let Some(mut obj) = self.get(&rt, &ns, &pod).cloned() else { return };
                if obj["status"]["phase"] != "Pending" {
                    return;
                }
                let now = sim::timestamp(self.now);
                obj["status"] = json!({
                    "phase": "Running",
                    "conditions": [{"type": "Ready", "status": "True", "lastProbeTime": null, "lastTransitionTime": now}],
                    "hostIP": "127.0.0.1", "podIP": "10.0.0.1", "startTime": obj["status"]["startTime"].clone(),
                    "containerStatuses": [{"name": container_name(&obj), "state": {"running": {"startedAt": now}}, "lastState": {}, "ready": true, "restartCount": 0, "image": obj["spec"]["containers"][0]["image"].clone(), "imageID": "", "started": true}]
                });
                let owner = self.workload_of(&obj);
                self.update(&rt, &ns, &pod, obj);
                self.started.insert((ns.clone(), pod.clone()), self.now);
                if let Some((resource, name)) = owner {
                    // restartPolicy Always: a workload's pod keeps running; its controller
                    // counts it ready
                    self.reconcile(&resource, &ns, &name);
                    return;
                }
                if self.version.current() {
                    // the job controller counts the pod ready
                    self.sync_job_of(&ns, &pod);
                }
                let duration = self.outcomes.get(&(ns.clone(), pod.clone())).map_or(self.step, |o| o.duration);
                self.schedule.at(self.now + duration, Action::FinishPod { ns, pod });
            }
            Action::FinishPod { ns, pod } => {
                let Some(rt) = self.pods_rt() else { return };
                let Some(mut obj) = self.get(&rt, &ns, &pod).cloned() else { return };
                if obj["status"]["phase"] != "Running" {
                    return;
                }
                let code = self.outcomes.get(&(ns.clone(), pod.clone())).map_or(0, |o| o.exit_code);
                let now = sim::timestamp(self.now);
                let started = obj["status"]["containerStatuses"][0]["state"]["running"]["startedAt"].clone();
                let (phase, reason) = if code == 0 { ("Succeeded", "Completed") } else { ("Failed", "Error") };
                obj["status"]["phase"] = phase.into();
                obj["status"]["conditions"] = json!([{"type": "Ready", "status": "False", "lastProbeTime": null, "lastTransitionTime": now, "reason": "PodCompleted"}]);
                obj["status"]["containerStatuses"][0]["state"] = json!({"terminated": {"exitCode": code, "reason": reason, "startedAt": started, "finishedAt": now}});
                obj["status"]["containerStatuses"][0]["ready"] = false.into();
                obj["status"]["containerStatuses"][0]["started"] = false.into();
                // what it requested is free again (nothing to retry for a pod that requested none)
                self.freed |= pod_requests(&obj) != (0, 0);
                self.update(&rt, &ns, &pod, obj);
                self.sync_job_of(&ns, &pod);
            }
            Action::RemoveNamespace { name } => {
                let keys: Vec<Key> = self.objects.keys().filter(|k| k.1 == name).cloned().collect();
                for (id, ns, n) in keys {
                    if let Some(rt) = self.rt_by_id(&id) {
                        self.remove(&rt, &ns, &n);
                    }
                }
                if let Some(rt) = self.builtin("/api/v1", "namespaces") {
                    self.remove(&rt, "", &name);
                }
            }
            Action::FinishForeground { ns, job } => {
                let (Some(jobs), Some(pods)) = (self.jobs_rt(), self.pods_rt()) else { return };
                for pod in self.pods_of(&ns, &job) {
                    self.remove(&pods, &ns, &pod);
                }
                self.remove(&jobs, &ns, &job);
            }
            Action::FinishOrphan { ns, job } => {
                let (Some(jobs), Some(pods)) = (self.jobs_rt(), self.pods_rt()) else { return };
                for pod in self.pods_of(&ns, &job) {
                    if let Some(mut p) = self.get(&pods, &ns, &pod).cloned() {
                        if let Some(m) = p["metadata"].as_object_mut() {
                            m.remove("ownerReferences");
                        }
                        self.update(&pods, &ns, &pod, p);
                    }
                }
                self.remove(&jobs, &ns, &job);
            }
            Action::CreatePod { ns, job } => {
                let Some(jobs) = self.jobs_rt() else { return };
                if let Some(obj) = self.get(&jobs, &ns, &job).cloned() {
                    if obj["metadata"]["deletionTimestamp"].is_null() {
                        self.start_job(&obj);
                    }
                }
            }
            Action::ReplacePod { ns, job } => {
                self.replacing.remove(&(ns.clone(), job.clone()));
                let Some(jobs) = self.jobs_rt() else { return };
                if let Some(obj) = self.get(&jobs, &ns, &job).cloned() {
                    if obj["metadata"]["deletionTimestamp"].is_null() && !obj["status"]["conditions"].is_array() {
                        self.start_job(&obj);
                    }
                }
            }
            Action::PullBackOff { ns, pod } => {
                let Some(rt) = self.pods_rt() else { return };
                let Some(mut obj) = self.get(&rt, &ns, &pod).cloned() else { return };
                let image = obj["spec"]["containers"][0]["image"].as_str().unwrap_or("").to_owned();
                obj["status"]["containerStatuses"][0]["state"] = json!({"waiting": {"reason": "ImagePullBackOff", "message": format!("Back-off pulling image \"{image}\"")}});
                self.update(&rt, &ns, &pod, obj);
            }
            Action::JobDeadline { ns, job } => self.job_deadline(&ns, &job),
            Action::Reconcile { resource, ns, name } => self.reconcile(&resource, &ns, &name),
            Action::FinishWorkloadDelete { resource, ns, name } => self.finish_workload_delete(&resource, &ns, &name),
            Action::EstablishCrd { name } => {
                let Some(rt) = self.builtin("/apis/apiextensions.k8s.io/v1", "customresourcedefinitions") else {
                    return;
                };
                let Some(mut crd) = self.get(&rt, "", &name).cloned() else { return };
                let now = sim::timestamp(self.now);
                crd["status"] = json!({
                    "conditions": [
                        {"type": "NamesAccepted", "status": "True", "lastTransitionTime": now, "reason": "NoConflicts", "message": "no conflicts found"},
                        {"type": "Established", "status": "True", "lastTransitionTime": now, "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"}
                    ],
                    "acceptedNames": crd["spec"]["names"].clone(),
                    "storedVersions": [crd["spec"]["versions"][0]["name"].clone()]
                });
                self.update(&rt, "", &name, crd);
            }
        }
    }

    fn rt_by_id(&self, id: &str) -> Option<ResourceType> {
        let (prefix, resource) = id.rsplit_once('/')?;
        self.resource_type(prefix, resource).or_else(|| {
            // A custom resource whose CRD is already gone: still removable.
            Some(ResourceType {
                prefix: prefix.into(),
                resource: resource.into(),
                kind: String::new(),
                namespaced: true,
            })
        })
    }

    fn pods_of(&self, ns: &str, job: &str) -> Vec<String> {
        self.objects
            .iter()
            .filter(|(k, v)| k.0 == "/api/v1/pods" && k.1 == ns && v["metadata"]["labels"]["job-name"] == job)
            .map(|(k, _)| k.2.clone())
            .collect()
    }

    /// Bring the status of the Job owning `pod` in line with its pods.
    fn sync_job_of(&mut self, ns: &str, pod: &str) {
        let (Some(jobs), Some(pods)) = (self.jobs_rt(), self.pods_rt()) else { return };
        let Some(job) =
            self.get(&pods, ns, pod).and_then(|p| p["metadata"]["labels"]["job-name"].as_str()).map(str::to_owned)
        else {
            return;
        };
        let Some(mut obj) = self.get(&jobs, ns, &job).cloned() else { return };
        if obj["status"]["conditions"].is_array() {
            return; // already finished
        }
        let phases: Vec<String> = self
            .pods_of(ns, &job)
            .iter()
            .filter_map(|p| self.get(&pods, ns, p).and_then(|o| o["status"]["phase"].as_str()).map(str::to_owned))
            .collect();
        let count = |p: &str| phases.iter().filter(|x| x.as_str() == p).count();
        let (succeeded, failed, running) = (count("Succeeded"), count("Failed"), count("Running"));
        let active = phases.len() - succeeded - failed;
        let status = ensure_object(&mut obj["status"]);
        for (key, n) in [("active", active), ("succeeded", succeeded), ("failed", failed)] {
            if n > 0 {
                status.insert(key.into(), n.into());
            } else {
                status.remove(key);
            }
        }
        if self.version.current() {
            status.insert("ready".into(), running.into());
        }
        let status = status.clone();
        // the API server defaults backoffLimit to 6
        let limit = obj["spec"]["backoffLimit"].as_u64().map_or(6, |l| usize::try_from(l).unwrap_or(usize::MAX));
        let outcome = if failed > limit {
            Some(Some(("BackoffLimitExceeded", "Job has reached the specified backoff limit")))
        } else if succeeded > 0 {
            Some(None)
        } else {
            None
        };
        match outcome {
            None => {
                obj["status"] = Value::Object(status);
                self.update(&jobs, ns, &job, obj);
                // a pod failed within the back-off limit and none runs: the job controller
                // creates a new one after an exponential back-off (10 s, 20 s, 40 s, ... at
                // most 6 min)
                let key = (ns.to_owned(), job.clone());
                if failed > 0 && active == 0 && !self.replacing.contains(&key) {
                    let shift = u32::try_from(failed - 1).unwrap_or(u32::MAX).min(6);
                    let back_off = (JOB_BACK_OFF * (1 << shift)).min(JOB_BACK_OFF_MAX);
                    self.replacing.insert(key);
                    self.schedule.at(self.now.saturating_add(back_off), Action::ReplacePod { ns: ns.to_owned(), job });
                }
            }
            Some(failure) => self.finish_job(ns, &job, obj, &status, failure),
        }
    }

    /// Write a finished Job's status (on 1.36 in two writes, releasing its finished pods'
    /// tracking finalizer between them, as the job controller does).
    fn finish_job(
        &mut self,
        ns: &str,
        job: &str,
        mut obj: Value,
        status: &Map<String, Value>,
        failure: Option<(&str, &str)>,
    ) {
        let (Some(jobs), Some(pods)) = (self.jobs_rt(), self.pods_rt()) else { return };
        let finished: Vec<String> = self
            .pods_of(ns, job)
            .into_iter()
            .filter(|p| {
                self.get(&pods, ns, p)
                    .is_some_and(|o| matches!(o["status"]["phase"].as_str(), Some("Succeeded" | "Failed")))
            })
            .collect();
        let uids: Vec<Value> =
            finished.iter().filter_map(|p| self.get(&pods, ns, p).map(|o| o["metadata"]["uid"].clone())).collect();
        let writes = self.job_finish_statuses(status, failure, &uids);
        let last = writes.len();
        for (i, write) in writes.into_iter().enumerate() {
            obj["status"] = Value::Object(write);
            obj = self.update(&jobs, ns, job, obj);
            if i + 1 < last {
                self.release_tracking(ns, &finished);
            }
        }
    }

    /// The job controller counted these pods: their tracking finalizer goes (1.36).
    fn release_tracking(&mut self, ns: &str, pods: &[String]) {
        let Some(rt) = self.pods_rt() else { return };
        for pod in pods {
            let Some(mut obj) = self.get(&rt, ns, pod).cloned() else { continue };
            let Some(meta) = obj["metadata"].as_object_mut() else { continue };
            if meta.remove("finalizers").is_some() {
                self.update(&rt, ns, pod, obj);
            }
        }
    }

    /// What the job controller does when a Job is created: one pod, scheduled to run.
    fn start_job(&mut self, job: &Value) {
        let Some(pods) = self.pods_rt() else { return };
        let ns = job["metadata"]["namespace"].as_str().unwrap_or("default").to_owned();
        let name = job["metadata"]["name"].as_str().unwrap_or("job").to_owned();
        let uid = job["metadata"]["uid"].clone();
        let pod_name = format!("{name}-{}", sim::name_suffix(&name, self.serial));
        let mut template = job["spec"]["template"].clone();
        let mut labels = template["metadata"]["labels"].as_object().cloned().unwrap_or_default();
        let mut extra = json!({});
        self.job_pod_metadata(&mut labels, &mut extra, &uid, &name);
        let mut spec = template["spec"].take();
        if spec.is_null() {
            spec = json!({});
        }
        spec["nodeName"] = NODE_NAME.into();
        let pod = json!({
            "metadata": {
                "generateName": format!("{name}-"),
                "labels": labels,
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": uid, "controller": true, "blockOwnerDeletion": true}]
            },
            "spec": spec,
            "status": self.bound_pending_status(
                container_name(&json!({"spec": job["spec"]["template"]["spec"].clone()})).into(),
                job["spec"]["template"]["spec"]["containers"][0]["image"].clone(),
            ),
        });
        let mut pod = pod;
        if let Some(finalizers) = extra.get("finalizers") {
            pod["metadata"]["finalizers"] = finalizers.clone();
        }
        // the first try starts the Job (and its active deadline); a refused one is tried again
        let first = job["status"]["startTime"].is_null();
        if first {
            if let Some(secs) = job["spec"]["activeDeadlineSeconds"].as_u64() {
                let at = self.now.saturating_add(Duration::from_secs(secs));
                self.schedule.at(at, Action::JobDeadline { ns: ns.clone(), job: name.clone() });
            }
        }
        let start_time = if first { sim::timestamp(self.now).into() } else { job["status"]["startTime"].clone() };
        let admitted = self.pod_security(&ns, &pod_name, &pod).and_then(|()| self.admit_pod(&ns, &pod_name, &pod));
        if let Err(message) = &admitted {
            self.refused_pod(job, message);
        } else {
            let stuck = self.stuck_pod(&mut pod);
            self.insert(&pods, &ns, &pod_name, pod);
            self.schedule_pod(&ns, &pod_name, stuck);
        }
        if let Some(jobs) = self.jobs_rt() {
            if let Some(mut j) = self.get(&jobs, &ns, &name).cloned() {
                let mut status = self.job_started_status(start_time, admitted.is_ok());
                // a replacement pod: the failed ones stay counted
                if let Some(failed) = j["status"].get("failed").filter(|n| !n.is_null()) {
                    status["failed"] = failed.clone();
                }
                j["status"] = status;
                if j["status"] != job["status"] {
                    self.update(&jobs, &ns, &name, j);
                }
            }
        }
    }

    /// The status of a pod just bound to the node: Pending, scheduled, its container (`name`,
    /// `image`) being created.
    pub(super) fn bound_pending_status(&self, name: Value, image: Value) -> Value {
        let now = sim::timestamp(self.now);
        json!({"phase": "Pending", "startTime": now, "conditions": [{"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now}],
            "containerStatuses": [{"name": name, "state": {"waiting": {"reason": "ContainerCreating"}}, "lastState": {}, "ready": false, "restartCount": 0,
                "image": image, "imageID": "", "started": false}]})
    }

    /// What the kubelet does next with a new pod (its outcome noted for when it runs).
    fn schedule_pod(&mut self, ns: &str, pod_name: &str, stuck: Stuck) {
        let Some(pods) = self.pods_rt() else { return };
        if let Some(pod) = self.get(&pods, ns, pod_name) {
            let outcome = outcome_of(pod);
            self.outcomes.insert((ns.to_owned(), pod_name.to_owned()), outcome);
        }
        let (ns, pod) = (ns.to_owned(), pod_name.to_owned());
        match stuck {
            Stuck::No => self.schedule.at(self.now + self.step, Action::StartPod { ns, pod }),
            // the kubelet reports the failed pull, then backs off (first back-off 10 s)
            Stuck::Pulling => self.schedule.at(self.now + PULL_BACK_OFF, Action::PullBackOff { ns, pod }),
            Stuck::Yes => {}
        }
    }

    /// After a pod bound to the node ended or went: the pods left unschedulable for want of
    /// CPU or memory are scheduled again, oldest first, each that now fits bound to the node
    /// and started as a new pod is (the scheduler retries unschedulable pods on such changes).
    fn retry_unschedulable(&mut self) {
        if !std::mem::take(&mut self.freed) {
            return;
        }
        let Some(pods) = self.pods_rt() else { return };
        let id = pods.id();
        let mut waiting: Vec<(String, String, String)> = self
            .objects
            .range((id.clone(), String::new(), String::new())..)
            .take_while(|(k, _)| k.0 == id)
            .filter(|(_, pod)| {
                pod["status"]["phase"] == "Pending"
                    && pod["spec"]["nodeName"].is_null()
                    && pod["metadata"]["deletionTimestamp"].is_null()
                    && pod["status"]["conditions"].as_array().is_some_and(|cs| {
                        cs.iter().any(|c| {
                            c["type"] == "PodScheduled"
                                && c["reason"] == "Unschedulable"
                                && c["message"].as_str().is_some_and(|m| m.contains("Insufficient"))
                        })
                    })
            })
            .map(|((_, ns, name), pod)| {
                (pod["metadata"]["creationTimestamp"].as_str().unwrap_or("").to_owned(), ns.clone(), name.clone())
            })
            .collect();
        waiting.sort();
        for (_, ns, name) in waiting {
            let Some(mut pod) = self.get(&pods, &ns, &name).cloned() else { continue };
            pod["spec"]["nodeName"] = NODE_NAME.into();
            pod["status"] =
                self.bound_pending_status(container_name(&pod).into(), pod["spec"]["containers"][0]["image"].clone());
            let stuck = self.stuck_pod(&mut pod);
            if pod["spec"]["nodeName"].is_null() {
                continue; // still no room: left as it was
            }
            self.update(&pods, &ns, &name, pod);
            self.schedule_pod(&ns, &name, stuck);
        }
    }

    /// What the pods bound to the node and not finished request of it: (CPU millicores,
    /// memory bytes). The scheduler counts them against what the node can allocate.
    fn node_used(&self) -> (u128, u128) {
        let Some(pods) = self.pods_rt() else { return (0, 0) };
        let id = pods.id();
        self.objects
            .range((id.clone(), String::new(), String::new())..)
            .take_while(|(k, _)| k.0 == id)
            .filter(|(_, pod)| holds_room(pod))
            .map(|(_, pod)| pod_requests(pod))
            .fold((0, 0), |(c, m), (pc, pm)| (c.saturating_add(pc), m.saturating_add(pm)))
    }

    /// What the scheduler and the kubelet make of a new pod: unschedulable when its requests
    /// do not fit beside those of the pods already on the node, or its nodeSelector matches no
    /// node; an image name that does not parse, or one the registry lacks, keeps its container
    /// waiting. Sets the pod's status.
    fn stuck_pod(&self, pod: &mut Value) -> Stuck {
        let now = sim::timestamp(self.now);
        let containers = pod["spec"]["containers"].as_array().cloned().unwrap_or_default();
        let (wanted_cpu, wanted_memory) = pod_requests(pod);
        let (used_cpu, used_memory) = if wanted_cpu == 0 && wanted_memory == 0 { (0, 0) } else { self.node_used() };
        let mut short = Vec::new();
        if wanted_cpu.saturating_add(used_cpu) > u128::from(NODE_CPU_MILLIS) {
            short.push("1 Insufficient cpu");
        }
        if wanted_memory.saturating_add(used_memory) > u128::from(NODE_MEMORY_BYTES) {
            short.push("1 Insufficient memory");
        }
        let labels = self.node_labels();
        let selector_misses = pod["spec"]["nodeSelector"]
            .as_object()
            .is_some_and(|sel| sel.iter().any(|(k, v)| labels.get(k) != Some(v)))
            || !required_node_affinity_matches(&pod["spec"]["affinity"], &labels);
        if selector_misses {
            short.push("1 node(s) didn't match node selector");
        }
        if !short.is_empty() {
            if let Some(spec) = pod["spec"].as_object_mut() {
                spec.remove("nodeName");
            }
            pod["status"] = json!({"phase": "Pending", "qosClass": "Burstable", "conditions": [{"type": "PodScheduled", "status": "False",
                "lastProbeTime": null, "lastTransitionTime": now, "reason": "Unschedulable",
                "message": format!("0/1 nodes are available: {}.", short.join(", "))}]});
            return Stuck::Yes;
        }
        let image = containers.first().and_then(|c| c["image"].as_str()).unwrap_or("").to_owned();
        let waiting = if let Some(problem) = image_reference_problem(&image) {
            Some((
                json!({"reason": "InvalidImageName", "message": format!("Failed to apply default image tag \"{image}\": couldn't parse image reference \"{image}\": invalid reference format{problem}")}),
                Stuck::Yes,
            ))
        } else if self.missing_images.contains(&image) {
            let repo = image.split(':').next().unwrap_or(&image);
            Some((
                json!({"reason": "ErrImagePull", "message": format!("rpc error: code = Unknown desc = Error response from daemon: pull access denied for {repo}, repository does not exist or may require 'docker login': denied: requested access to the resource is denied")}),
                Stuck::Pulling,
            ))
        } else {
            None
        };
        match waiting {
            Some((state, stuck)) => {
                pod["status"]["containerStatuses"][0]["state"] = json!({"waiting": state});
                stuck
            }
            None => Stuck::No,
        }
    }

    fn node_labels(&self) -> Map<String, Value> {
        self.objects
            .iter()
            .find(|(k, _)| k.0 == "/api/v1/nodes" && k.2 == NODE_NAME)
            .and_then(|(_, v)| v["metadata"]["labels"].as_object().cloned())
            .unwrap_or_default()
    }

    /// The job controller at a Job's active deadline: its active pods are deleted and it fails.
    fn job_deadline(&mut self, ns: &str, job: &str) {
        let (Some(jobs), Some(pods)) = (self.jobs_rt(), self.pods_rt()) else { return };
        let Some(mut obj) = self.get(&jobs, ns, job).cloned() else { return };
        if obj["status"]["conditions"].is_array() {
            return; // already finished
        }
        let mut killed = 0u64;
        for pod in self.pods_of(ns, job) {
            let phase = self.get(&pods, ns, &pod).map(|p| p["status"]["phase"].clone());
            if matches!(phase.as_ref().and_then(Value::as_str), Some("Pending" | "Running")) {
                self.remove(&pods, ns, &pod);
                killed += 1;
            }
        }
        let status = ensure_object(&mut obj["status"]);
        status.remove("active");
        let failed = status.get("failed").and_then(Value::as_u64).unwrap_or(0) + killed;
        status.insert("failed".into(), failed.into());
        let status = status.clone();
        let failure = Some(("DeadlineExceeded", "Job was active longer than specified deadline"));
        self.finish_job(ns, job, obj, &status, failure);
    }

    // ----- inspection helpers for tests ------------------------------------------------------

    /// Force a pod's phase (and exit code for `Succeeded`/`Failed`), as a kubelet would report.
    pub(crate) fn set_pod_phase(&mut self, ns: &str, pod: &str, phase: &str, exit_code: i32) -> bool {
        let Some(rt) = self.pods_rt() else { return false };
        let Some(mut obj) = self.get(&rt, ns, pod).cloned() else { return false };
        let now = sim::timestamp(self.now);
        obj["status"]["phase"] = phase.into();
        obj["status"]["containerStatuses"][0]["state"] = match phase {
            "Succeeded" | "Failed" => {
                json!({"terminated": {"exitCode": exit_code, "reason": if exit_code == 0 { "Completed" } else { "Error" }, "startedAt": now, "finishedAt": now}})
            }
            "Running" => json!({"running": {"startedAt": now}}),
            _ => json!({"waiting": {"reason": "ContainerCreating"}}),
        };
        self.update(&rt, ns, pod, obj);
        self.sync_job_of(ns, pod);
        true
    }

    /// The names of the pods in `ns` (all when `ns` is empty).
    pub(crate) fn pod_names(&self, ns: &str) -> Vec<String> {
        self.objects
            .keys()
            .filter(|k| k.0 == "/api/v1/pods" && (ns.is_empty() || k.1 == ns))
            .map(|k| k.2.clone())
            .collect()
    }

    pub(crate) fn resource_version(&self) -> u64 {
        self.rv
    }

    // ----- request handling ----------------------------------------------------------------------

    /// Answer one request; then the scheduler retries the pods that found no room, if the
    /// request freed some (a deleted pod, Job or namespace).
    pub(crate) fn handle(&mut self, req: &Request) -> Reply<Stream> {
        let reply = self.answer(req);
        self.retry_unschedulable();
        reply
    }

    fn answer(&mut self, req: &Request) -> Reply<Stream> {
        let path = req.uri().path().to_owned();
        let query = http_util::query(req);
        match path.as_str() {
            "/version" => return Reply::Full(http_util::json(200, &[], &self.version.version_json(), true)),
            "/healthz" | "/livez" | "/readyz" => {
                return Reply::Full(http_util::response(200, "text/plain; charset=utf-8", &[], "ok"))
            }
            "/api" => {
                return Reply::Full(http_util::json(
                    200,
                    &[],
                    &json!({"kind": "APIVersions", "versions": ["v1"]}),
                    true,
                ))
            }
            _ => {}
        }
        let segs: Vec<String> = path.trim_matches('/').split('/').map(http_util::decode).collect();
        let (prefix, rest) = match segs.first().map(String::as_str) {
            Some("api") if segs.len() >= 2 => (format!("/api/{}", segs[1]), &segs[2..]),
            Some("apis") if segs.len() >= 3 => (format!("/apis/{}/{}", segs[1], segs[2]), &segs[3..]),
            _ => {
                return Reply::Full(http_util::response(404, "text/plain; charset=utf-8", &[], "404 page not found\n"))
            }
        };
        if !self.known_prefix(&prefix) {
            return Reply::Full(http_util::response(404, "text/plain; charset=utf-8", &[], "404 page not found\n"));
        }
        if rest.is_empty() && req.method() == http::Method::GET {
            return Reply::Full(http_util::json(200, &[], &self.resource_list(&prefix), true));
        }
        // Split into (namespace, resource, name, subresource).
        let (ns, res, name, sub) = match rest {
            [r] => (None, r.clone(), None, None),
            [n, ns, r, tail @ ..]
                if n == "namespaces" && self.resource_type(&prefix, r).is_some_and(|t| t.namespaced) =>
            {
                (Some(ns.clone()), r.clone(), tail.first().cloned(), tail.get(1).cloned())
            }
            [r, name, tail @ ..] => (None, r.clone(), Some(name.clone()), tail.first().cloned()),
            _ => return Reply::Full(not_found_resource()),
        };
        let Some(rt) = self.resource_type(&prefix, &res) else { return Reply::Full(not_found_resource()) };
        let ns_str = if rt.namespaced { ns.clone().unwrap_or_default() } else { String::new() };
        let method = req.method().as_str();
        let body = req.body();
        let result = match (method, name, sub.as_deref()) {
            ("GET", None, _) if matches!(param(&query, "watch"), Some("1" | "true")) => {
                return self.watch(&rt, ns, &query)
            }
            ("GET", None, _) => self.list(&rt, ns.as_deref(), &query),
            ("POST", None, _) => self.create(&rt, &ns_str, body),
            ("DELETE", None, _) => self.delete_collection(&rt, &ns_str, &query),
            ("GET", Some(n), None) => {
                self.get(&rt, &ns_str, &n).cloned().map(|o| (200, o)).ok_or_else(|| not_found(&rt, &n))
            }
            ("GET", Some(n), Some("log")) if rt.resource == "pods" => return self.log(&ns_str, &n, &query),
            ("GET", Some(n), Some("status")) => {
                self.get(&rt, &ns_str, &n).cloned().map(|o| (200, o)).ok_or_else(|| not_found(&rt, &n))
            }
            ("GET", Some(n), Some("scale")) if matches!(rt.resource.as_str(), "deployments" | "statefulsets") => {
                self.scale(&rt, &ns_str, &n, None)
            }
            ("PATCH" | "PUT", Some(n), Some("scale"))
                if matches!(rt.resource.as_str(), "deployments" | "statefulsets") =>
            {
                self.scale(&rt, &ns_str, &n, Some(req))
            }
            ("PATCH", Some(n), None | Some("status")) => self.patch(&rt, &ns_str, &n, req),
            ("PUT", Some(n), None | Some("status")) => self.replace(&rt, &ns_str, &n, body),
            ("DELETE", Some(n), None) => self.delete(&rt, &ns_str, &n, body),
            _ => Err(status(
                405,
                "MethodNotAllowed",
                &format!("the server does not allow this method on the requested resource ({method})"),
                json!({}),
            )),
        };
        Reply::Full(match result {
            Ok((code, mut obj)) => {
                // one storage, several versions (CronJobs at batch/v1 and v1beta1): the object
                // comes back at the version asked for, as the apiserver converts it
                if obj.get("kind").and_then(Value::as_str) == Some(rt.kind.as_str()) && obj.get("apiVersion").is_some()
                {
                    obj["apiVersion"] = Value::String(rt.api_version());
                }
                http_util::json(code, &[], &obj, true)
            }
            Err(resp) => resp,
        })
    }

    fn namespace_state(&self, ns: &str) -> Option<bool> {
        let rt = self.builtin("/api/v1", "namespaces")?;
        self.get(&rt, "", ns).map(|o| o["status"]["phase"] == "Terminating")
    }

    fn create(&mut self, rt: &ResourceType, ns: &str, body: &Bytes) -> Result<(u16, Value), Response> {
        let mut obj: Value = serde_json::from_slice(body)
            .map_err(|e| status(400, "BadRequest", &format!("the object provided is unrecognized: {e}"), json!({})))?;
        if !obj.is_object() {
            return Err(status(400, "BadRequest", "the object provided is unrecognized", json!({})));
        }
        let mut name = obj["metadata"]["name"].as_str().unwrap_or("").to_owned();
        if name.is_empty() {
            match obj["metadata"]["generateName"].as_str() {
                Some(g) => name = format!("{g}{}", sim::name_suffix(g, self.serial + 1)),
                None => {
                    return Err(status(
                        422,
                        "Invalid",
                        &format!(
                            "{} \"\" is invalid: metadata.name: Required value: name or generateName is required",
                            rt.kind
                        ),
                        json!({"kind": rt.kind}),
                    ));
                }
            }
        }
        if !valid_name(&name) {
            return Err(status(422, "Invalid", &format!("{} \"{name}\" is invalid: metadata.name: Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character", rt.kind), json!({"name": name, "kind": rt.kind})));
        }
        if rt.namespaced {
            match self.namespace_state(ns) {
                None => return Err(not_found_named("namespaces", ns)),
                Some(true) => {
                    return Err(status(403, "Forbidden", &format!("{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated", rt.resource), json!({"name": name, "kind": rt.resource, "causes": [{"reason": "NamespaceTerminating", "message": format!("namespace {ns} is being terminated"), "field": "metadata.namespace"}]})));
                }
                Some(false) => {}
            }
        }
        if self.get(rt, ns, &name).is_some() {
            let mut details = json!({"name": name, "kind": rt.resource});
            if !rt.group().is_empty() {
                details["group"] = rt.group().into();
            }
            return Err(status(
                409,
                "AlreadyExists",
                &format!("{} \"{name}\" already exists", rt.qualified()),
                details,
            ));
        }
        match rt.resource.as_str() {
            "namespaces" => {
                if self.version.current() {
                    ensure_object(&mut obj["metadata"]["labels"])
                        .insert("kubernetes.io/metadata.name".into(), name.clone().into());
                }
                obj["spec"] = json!({"finalizers": ["kubernetes"]});
                obj["status"] = json!({"phase": "Active"});
            }
            "jobs" => {
                self.job_defaults(&mut obj["spec"]);
                obj["status"] = json!({});
            }
            "pods" if self.version.current() => {
                // Pod Security admission refuses a violating pod created directly
                if let Err(message) = self.pod_security(ns, &name, &obj) {
                    return Err(status(403, "Forbidden", &message, json!({"name": name, "kind": "pods"})));
                }
            }
            "deployments" | "statefulsets" => {
                obj["metadata"]["namespace"] = ns.into();
                self.create_workload(rt, &mut obj).map_err(|message| {
                    status(422, "Invalid", &message, json!({"name": name, "group": "apps", "kind": rt.kind}))
                })?;
            }
            "services" => self.create_service(&mut obj),
            "customresourcedefinitions" => {
                obj["status"] =
                    json!({"conditions": [], "acceptedNames": {"plural": "", "kind": ""}, "storedVersions": []});
                self.schedule.at(self.now, Action::EstablishCrd { name: name.clone() });
            }
            _ => {}
        }
        let created = self.insert(rt, ns, &name, obj);
        if rt.resource == "jobs" {
            // The job controller reacts right after the create was answered.
            self.schedule.at(self.now, Action::CreatePod { ns: ns.to_owned(), job: name.clone() });
        }
        Ok((201, created))
    }

    fn list(&self, rt: &ResourceType, ns: Option<&str>, query: &[(String, String)]) -> Result<(u16, Value), Response> {
        let labels = Selector::labels(param(query, "labelSelector").unwrap_or(""))?;
        let fields = Selector::fields(param(query, "fieldSelector").unwrap_or(""))?;
        let limit = param(query, "limit").and_then(|l| l.parse::<usize>().ok()).filter(|&l| l > 0);
        let start = match param(query, "continue") {
            Some(token) if !token.is_empty() => Some(decode_continue(token)?),
            _ => None,
        };
        let id = rt.id();
        let matching: Vec<&Value> = self
            .objects
            .iter()
            .filter(|(k, v)| {
                k.0 == id
                    && ns.is_none_or(|n| k.1 == n)
                    && start.as_ref().is_none_or(|s| (k.1.as_str(), k.2.as_str()) > (s.0.as_str(), s.1.as_str()))
                    && labels.matches_labels(v)
                    && fields.matches_fields(v)
            })
            .map(|(_, v)| v)
            .collect();
        let take = limit.unwrap_or(usize::MAX).min(matching.len());
        let items: Vec<Value> = matching[..take]
            .iter()
            .map(|v| {
                let mut item = (*v).clone();
                if let Some(m) = item.as_object_mut() {
                    m.remove("kind");
                    m.remove("apiVersion");
                }
                item
            })
            .collect();
        let self_link = match ns {
            Some(n) => format!("{}/namespaces/{n}/{}", rt.prefix, rt.resource),
            None => format!("{}/{}", rt.prefix, rt.resource),
        };
        let mut meta = if self.version.current() {
            json!({"resourceVersion": self.rv.to_string()})
        } else {
            json!({"selfLink": self_link, "resourceVersion": self.rv.to_string()})
        };
        if take < matching.len() {
            let last = &matching[take - 1]["metadata"];
            let key = format!("{}/{}", last["namespace"].as_str().unwrap_or(""), last["name"].as_str().unwrap_or(""));
            meta["continue"] = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(json!({"v": "meta.k8s.io/v1", "rv": self.rv, "start": key}).to_string())
                .into();
            if labels.is_empty() && fields.is_empty() {
                meta["remainingItemCount"] = (matching.len() - take).into();
            }
        }
        Ok((
            200,
            json!({"kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(), "metadata": meta, "items": items}),
        ))
    }

    fn watch(&mut self, rt: &ResourceType, ns: Option<String>, query: &[(String, String)]) -> Reply<Stream> {
        let bad = |resp| Reply::Full(resp);
        let labels = match Selector::labels(param(query, "labelSelector").unwrap_or("")) {
            Ok(s) => s,
            Err(r) => return bad(r),
        };
        let fields = match Selector::fields(param(query, "fieldSelector").unwrap_or("")) {
            Ok(s) => s,
            Err(r) => return bad(r),
        };
        let timeout = param(query, "timeoutSeconds")
            .and_then(|t| t.parse::<u64>().ok())
            .map_or(DEFAULT_WATCH, Duration::from_secs);
        let mut queued = VecDeque::new();
        let bookmarks = matches!(param(query, "allowWatchBookmarks"), Some("true" | "1"));
        let send_initial = matches!(param(query, "sendInitialEvents"), Some("true" | "1"));
        let rv_text = param(query, "resourceVersion").unwrap_or("");
        // 1.36 (WatchList on by default since 1.34): sendInitialEvents, or no resourceVersion,
        // with bookmarks is a watch-list request; 1.19 ignores the parameters
        let watch_list = self.version.current() && bookmarks && (send_initial || matches!(rv_text, "" | "0"));
        if self.version.current() && send_initial && param(query, "resourceVersionMatch") != Some("NotOlderThan") {
            return bad(status(
                422,
                "Invalid",
                "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                json!({"group": "meta.k8s.io", "kind": "ListOptions", "causes": [{"reason": "FieldValueForbidden", "message": "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan", "field": "resourceVersionMatch"}]}),
            ));
        }
        // a watch the server refuses after its 200: one ERROR event, then the end of the stream
        let refused = |status: Value, ns, labels, fields| {
            Reply::Stream(
                http_util::response(200, "application/json", &[], Bytes::new()),
                Stream::Watch {
                    collection: rt.id(),
                    ns,
                    labels,
                    fields,
                    cursor: u64::MAX,
                    until: Duration::ZERO,
                    queued: VecDeque::from([event_line("ERROR", &status)]),
                    bookmark: None,
                },
            )
        };
        if watch_list && self.watch_list_refused {
            let status = status_value(500, "InternalError", "a watch stream was requested by the client but the required storage feature RequestWatchProgress is disabled", None);
            return refused(status, ns, labels, fields);
        }
        let rv_text = if watch_list { "" } else { rv_text };
        let cursor = match rv_text {
            "" | "0" => {
                // Start with the current state, as ADDED events.
                let id = rt.id();
                for (k, v) in &self.objects {
                    if k.0 == id
                        && ns.as_deref().is_none_or(|n| k.1 == n)
                        && labels.matches_labels(v)
                        && fields.matches_fields(v)
                    {
                        queued.push_back(event_line("ADDED", v));
                    }
                }
                if watch_list {
                    queued.push_back(Bytes::from(format!(
                        "{{\"type\":\"BOOKMARK\",\"object\":{{\"kind\":\"{}\",\"apiVersion\":\"{}\",\"metadata\":{{\"resourceVersion\":\"{}\",\"annotations\":{{\"k8s.io/initial-events-end\":\"true\"}}}}}}}}\n",
                        rt.kind,
                        rt.api_version(),
                        self.rv
                    )));
                }
                self.rv
            }
            text => match text.parse::<u64>() {
                Ok(rv) if rv < self.compacted => {
                    let status =
                        status_value(410, "Expired", &format!("too old resource version: {rv} ({})", self.rv), None);
                    return refused(status, ns, labels, fields);
                }
                Ok(rv) => rv,
                Err(_) => {
                    return bad(status(500, "", &format!("resourceVersion: Invalid value: \"{text}\": strconv.ParseUint: parsing \"{text}\": invalid syntax"), Value::Null));
                }
            },
        };
        // Like the watch cache, send a bookmark shortly before the timeout (not when the watch
        // started without a resourceVersion: those are served from etcd).
        let from_cache = watch_list || param(query, "resourceVersion").is_some_and(|v| !v.is_empty());
        let bookmark = (from_cache && bookmarks).then(|| {
            let at = self.now + timeout.saturating_sub(Duration::from_secs(1));
            (at, format!("{{\"kind\":\"{}\",\"apiVersion\":\"{}\"", rt.kind, rt.api_version()))
        });
        Reply::Stream(
            http_util::response(200, "application/json", &[], Bytes::new()),
            Stream::Watch {
                collection: rt.id(),
                ns,
                labels,
                fields,
                cursor,
                until: self.now + timeout,
                queued,
                bookmark,
            },
        )
    }

    pub(crate) fn poll_stream(&mut self, stream: &mut Stream, now: Duration) -> StreamPoll {
        match stream {
            Stream::Watch { collection, ns, labels, fields, cursor, until, queued, bookmark } => {
                if let Some(line) = queued.pop_front() {
                    return StreamPoll::Data(line);
                }
                if now >= *until {
                    return StreamPoll::End;
                }
                let next = self.events.iter().find(|e| {
                    e.rv > *cursor
                        && &e.key.0 == collection
                        && ns.as_deref().is_none_or(|n| e.key.1 == n)
                        && labels.matches_labels(&e.object)
                        && fields.matches_fields(&e.object)
                });
                match next {
                    Some(e) => {
                        *cursor = e.rv;
                        StreamPoll::Data(event_line(e.kind, &e.object))
                    }
                    None => {
                        *cursor = (*cursor).max(self.rv);
                        match bookmark.take() {
                            Some((at, head)) if now >= at => {
                                // 1.36's bookmark metadata holds only the resourceVersion
                                let extra = if self.version.current() { "" } else { ",\"creationTimestamp\":null" };
                                let line = format!(
                                    "{{\"type\":\"BOOKMARK\",\"object\":{head},\"metadata\":{{\"resourceVersion\":\"{}\"{extra}}}}}}}\n",
                                    self.rv
                                );
                                StreamPoll::Data(Bytes::from(line))
                            }
                            Some((at, head)) => {
                                *bookmark = Some((at, head));
                                StreamPoll::Idle(Some(at))
                            }
                            None => StreamPoll::Idle(Some(*until)),
                        }
                    }
                }
            }
            Stream::Log { ns, pod, tail, timestamps, sent } => {
                let Some((text, terminal, next)) = self.visible_log(ns, pod, *timestamps) else {
                    return StreamPoll::End;
                };
                let start = *sent.get_or_insert_with(|| text.len() - tail_lines(&text, *tail).len());
                if text.len() > start {
                    *sent = Some(text.len());
                    return StreamPoll::Data(Bytes::copy_from_slice(&text.as_bytes()[start..]));
                }
                if terminal {
                    StreamPoll::End
                } else {
                    StreamPoll::Idle(next)
                }
            }
        }
    }

    /// What the pod's container has printed by now (with RFC 3339 timestamps when asked),
    /// whether it has ended, and when it prints next.
    fn visible_log(&self, ns: &str, pod: &str, timestamps: bool) -> Option<(String, bool, Option<Duration>)> {
        let rt = self.pods_rt()?;
        let obj = self.get(&rt, ns, pod)?;
        let key = (ns.to_owned(), pod.to_owned());
        let terminal = matches!(obj["status"]["phase"].as_str(), Some("Succeeded" | "Failed"));
        let (Some(outcome), Some(&started)) = (self.outcomes.get(&key), self.started.get(&key)) else {
            return Some((String::new(), terminal, None));
        };
        let elapsed = if terminal { outcome.duration } else { self.now.saturating_sub(started) };
        let text = outcome.output_until(elapsed, false);
        let next = if terminal { None } else { outcome.next_write_after(elapsed).map(|d| started + d) };
        if !timestamps {
            return Some((text.to_owned(), terminal, next));
        }
        // Prefix each line with when it was written, as the kubelet does.
        let mut out = String::new();
        let mut pos = 0;
        for line in text.split_inclusive('\n') {
            pos += line.len();
            let at = outcome.timeline.iter().find(|(_, len, _)| *len >= pos).map_or(Duration::ZERO, |(at, _, _)| *at);
            let stamp = sim::timestamp(started + at);
            out.push_str(&format!("{}.000000000Z {line}", stamp.trim_end_matches('Z')));
        }
        Some((out, terminal, next))
    }

    fn log(&mut self, ns: &str, pod: &str, query: &[(String, String)]) -> Reply<Stream> {
        let Some(rt) = self.pods_rt() else { return Reply::Full(not_found_resource()) };
        let Some(obj) = self.get(&rt, ns, pod) else { return Reply::Full(not_found_named("pods", pod)) };
        let container = container_name(obj);
        if let Some(c) = param(query, "container") {
            if c != container {
                return Reply::Full(status(
                    400,
                    "BadRequest",
                    &format!("container {c} is not valid for pod {pod}"),
                    Value::Null,
                ));
            }
        }
        let phase = obj["status"]["phase"].as_str().unwrap_or("Pending").to_owned();
        if phase == "Pending" {
            return Reply::Full(status(
                400,
                "BadRequest",
                &format!("container \"{container}\" in pod \"{pod}\" is waiting to start: ContainerCreating"),
                Value::Null,
            ));
        }
        if param(query, "previous") == Some("true") {
            return Reply::Full(status(
                400,
                "BadRequest",
                &format!("previous terminated container \"{container}\" in pod \"{pod}\" not found"),
                Value::Null,
            ));
        }
        let tail = param(query, "tailLines").and_then(|t| t.parse::<usize>().ok());
        let timestamps = param(query, "timestamps") == Some("true");
        if param(query, "follow") == Some("true") {
            return Reply::Stream(
                http_util::response(200, "text/plain", &[], Bytes::new()),
                Stream::Log { ns: ns.into(), pod: pod.into(), tail, timestamps, sent: None },
            );
        }
        let text = self.visible_log(ns, pod, timestamps).map(|(t, _, _)| tail_lines(&t, tail)).unwrap_or_default();
        Reply::Full(http_util::response(200, "text/plain", &[], text))
    }

    fn scale(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        change: Option<&Request>,
    ) -> Result<(u16, Value), Response> {
        let mut obj = self.get(rt, ns, name).cloned().ok_or_else(|| not_found(rt, name))?;
        if let Some(req) = change {
            let current = scale_of(&obj, rt, ns, name);
            let patched = if req.method() == http::Method::PUT {
                let new: Value = serde_json::from_slice(req.body())
                    .map_err(|e| status(400, "BadRequest", &e.to_string(), json!({})))?;
                if let Some(rv) = new["metadata"]["resourceVersion"].as_str() {
                    if rv != obj["metadata"]["resourceVersion"].as_str().unwrap_or("") {
                        return Err(conflict(rt, name));
                    }
                }
                new
            } else {
                apply_patch(current, req)?
            };
            let replicas = patched["spec"]["replicas"].as_u64().unwrap_or(0);
            obj["spec"]["replicas"] = replicas.into();
            let generation = obj["metadata"]["generation"].as_u64().unwrap_or(1) + 1;
            obj["metadata"]["generation"] = generation.into();
            obj = self.update(rt, ns, name, obj);
            self.workload_changed(rt, ns, name);
        }
        Ok((200, scale_of(&obj, rt, ns, name)))
    }

    fn patch(&mut self, rt: &ResourceType, ns: &str, name: &str, req: &Request) -> Result<(u16, Value), Response> {
        let obj = self.get(rt, ns, name).cloned().ok_or_else(|| not_found(rt, name))?;
        let mut patched = apply_patch(obj.clone(), req)?;
        patched["metadata"] = user_metadata(&obj["metadata"], &patched["metadata"]);
        patched["kind"] = obj["kind"].clone();
        patched["apiVersion"] = obj["apiVersion"].clone();
        bump_generation(rt, &obj, &mut patched);
        let out = self.update(rt, ns, name, patched);
        if rt.resource == "pods" {
            self.sync_job_of(ns, name);
        }
        self.workload_changed(rt, ns, name);
        Ok((200, out))
    }

    fn replace(&mut self, rt: &ResourceType, ns: &str, name: &str, body: &Bytes) -> Result<(u16, Value), Response> {
        let obj = self.get(rt, ns, name).cloned().ok_or_else(|| not_found(rt, name))?;
        let mut new: Value =
            serde_json::from_slice(body).map_err(|e| status(400, "BadRequest", &e.to_string(), json!({})))?;
        if let Some(rv) = new["metadata"]["resourceVersion"].as_str() {
            if rv != obj["metadata"]["resourceVersion"].as_str().unwrap_or("") {
                return Err(conflict(rt, name));
            }
        }
        new["metadata"] = user_metadata(&obj["metadata"], &new["metadata"]);
        new["kind"] = obj["kind"].clone();
        new["apiVersion"] = obj["apiVersion"].clone();
        bump_generation(rt, &obj, &mut new);
        let out = self.update(rt, ns, name, new);
        self.workload_changed(rt, ns, name);
        Ok((200, out))
    }

    fn delete(&mut self, rt: &ResourceType, ns: &str, name: &str, body: &Bytes) -> Result<(u16, Value), Response> {
        let obj = self.get(rt, ns, name).cloned().ok_or_else(|| not_found(rt, name))?;
        let options: Value =
            if body.is_empty() { json!({}) } else { serde_json::from_slice(body).unwrap_or_else(|_| json!({})) };
        let now = sim::timestamp(self.now);
        match rt.resource.as_str() {
            "namespaces" => {
                if obj["status"]["phase"] == "Terminating" {
                    return Ok((200, obj));
                }
                let mut obj = obj;
                obj["metadata"]["deletionTimestamp"] = now.into();
                obj["status"]["phase"] = "Terminating".into();
                let out = self.update(rt, "", name, obj);
                self.schedule.at(self.now + self.step, Action::RemoveNamespace { name: name.into() });
                Ok((200, out))
            }
            "jobs" => {
                // batch/v1 Jobs default to orphaning their pods.
                let policy = options["propagationPolicy"].as_str().unwrap_or("Orphan");
                match policy {
                    "Foreground" | "Orphan" => {
                        let mut obj = obj;
                        if !obj["metadata"]["deletionTimestamp"].is_null() {
                            return Ok((200, obj));
                        }
                        let finalizer = if policy == "Orphan" { "orphan" } else { "foregroundDeletion" };
                        obj["metadata"]["deletionTimestamp"] = now.into();
                        obj["metadata"]["deletionGracePeriodSeconds"] = 0.into();
                        obj["metadata"]["finalizers"] = json!([finalizer]);
                        let out = self.update(rt, ns, name, obj);
                        let action = if policy == "Orphan" {
                            Action::FinishOrphan { ns: ns.into(), job: name.into() }
                        } else {
                            Action::FinishForeground { ns: ns.into(), job: name.into() }
                        };
                        // The garbage collector finishes the deletion a moment later.
                        self.schedule.at(self.now + self.step / 2, action);
                        Ok((200, out))
                    }
                    "Background" => {
                        let removed = self.remove(rt, ns, name).unwrap_or(obj);
                        if let Some(prt) = self.pods_rt() {
                            for pod in self.pods_of(ns, name) {
                                self.remove(&prt, ns, &pod);
                            }
                        }
                        Ok((200, success(rt, name, &removed)))
                    }
                    other => Err(status(
                        422,
                        "Invalid",
                        &format!("DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""),
                        json!({"kind": "DeleteOptions", "group": "meta.k8s.io", "causes": [{"reason": "FieldValueNotSupported", "message": format!("Unsupported value: \"{other}\""), "field": "propagationPolicy"}]}),
                    )),
                }
            }
            "deployments" | "statefulsets" => {
                // apps/v1 objects default to background deletion of their pods
                let policy = options["propagationPolicy"].as_str().unwrap_or("Background").to_owned();
                Ok((200, self.delete_workload(rt, ns, name, &policy)))
            }
            "pods" | "customresourcedefinitions" => {
                let owner = self.workload_of(&obj);
                if let Some((resource, owner_name)) = owner {
                    // its controller replaces it
                    self.schedule.at(self.now, Action::Reconcile { resource, ns: ns.into(), name: owner_name });
                }
                let mut out = self.remove(rt, ns, name).unwrap_or(obj);
                out["metadata"]["deletionTimestamp"] = now.into();
                out["metadata"]["deletionGracePeriodSeconds"] = 0.into();
                if rt.resource == "pods" {
                    self.sync_job_of(ns, name);
                }
                Ok((200, out))
            }
            _ => {
                let removed = self.remove(rt, ns, name).unwrap_or(obj);
                Ok((200, success(rt, name, &removed)))
            }
        }
    }

    fn delete_collection(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        query: &[(String, String)],
    ) -> Result<(u16, Value), Response> {
        let (code, list) = self.list(rt, Some(ns).filter(|n| !n.is_empty()), query)?;
        if let Some(items) = list["items"].as_array() {
            for item in items {
                if let Some(name) = item["metadata"]["name"].as_str() {
                    self.remove(rt, ns, name);
                }
            }
        }
        Ok((code, list))
    }
}

// ----- helpers -----------------------------------------------------------------------------------

/// Whether a new pod will start, stay stuck, or first fail to pull its image.
enum Stuck {
    No,
    Yes,
    Pulling,
}

/// The fake node's CPU (4 cores) and memory (8 GiB), as its status reports them.
const NODE_CPU_MILLIS: u64 = 4000;
const NODE_MEMORY_BYTES: u64 = 8 << 30;

/// Why the kubelet could not parse an image reference (after "invalid reference format"),
/// or `None` when it can.
fn image_reference_problem(image: &str) -> Option<&'static str> {
    let repo = image.split('@').next().unwrap_or(image);
    let repo = match repo.rsplit_once(':') {
        Some((r, tag)) if !tag.contains('/') => r,
        _ => repo,
    };
    if repo.chars().any(|c| c.is_ascii_uppercase()) {
        Some(": repository name must be lowercase")
    } else if image.is_empty()
        || image.chars().any(|c| c.is_whitespace())
        || image.ends_with(':')
        || repo.ends_with('/')
    {
        Some("")
    } else {
        None
    }
}

/// A change of a workload's `spec` is a new generation (its status is the controller's).
fn bump_generation(rt: &ResourceType, old: &Value, new: &mut Value) {
    if matches!(rt.resource.as_str(), "deployments" | "statefulsets") && old["spec"] != new["spec"] {
        let generation = old["metadata"]["generation"].as_u64().unwrap_or(1) + 1;
        new["metadata"]["generation"] = generation.into();
    }
}

fn ensure_object(value: &mut Value) -> &mut Map<String, Value> {
    if !value.is_object() {
        *value = Value::Object(Map::new());
    }
    match value {
        Value::Object(m) => m,
        _ => unreachable!("just made an object"),
    }
}

/// What a pod requests of its node: (CPU millicores, memory bytes), the sum over its
/// containers of each one's request (its limit where it sets no request).
fn pod_requests(pod: &Value) -> (u128, u128) {
    let containers = pod["spec"]["containers"].as_array().map(Vec::as_slice).unwrap_or_default();
    let sum = |key: &str| -> u128 {
        containers
            .iter()
            .filter_map(|c| {
                let r = &c["resources"];
                let q = r["requests"][key].as_str().or_else(|| r["limits"][key].as_str())?;
                match key {
                    "cpu" => clustermanager_core::quantity::Cpu::parse(q).ok().map(|c| u128::from(c.millis())),
                    _ => clustermanager_core::quantity::Memory::parse(q).ok().map(|m| u128::from(m.bytes())),
                }
            })
            .fold(0, u128::saturating_add)
    };
    (sum("cpu"), sum("memory"))
}

/// Whether a pod holds room on the node: bound to it and not finished.
fn holds_room(pod: &Value) -> bool {
    !pod["spec"]["nodeName"].is_null() && !matches!(pod["status"]["phase"].as_str(), Some("Succeeded" | "Failed"))
}

fn container_name(pod: &Value) -> String {
    pod["spec"]["containers"][0]["name"].as_str().unwrap_or("main").to_owned()
}

/// What the pod's first container would do.
fn outcome_of(pod: &Value) -> crate::script::Outcome {
    let c = &pod["spec"]["containers"][0];
    let strings = |v: &Value| {
        v.as_array()
            .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let mut argv = strings(&c["command"]);
    argv.extend(strings(&c["args"]));
    let mut env = BTreeMap::new();
    env.insert("HOSTNAME".to_owned(), pod["metadata"]["name"].as_str().unwrap_or("").to_owned());
    for e in c["env"].as_array().into_iter().flatten() {
        let name = e["name"].as_str().unwrap_or("").to_owned();
        let value = match e["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
            Some("metadata.name") => pod["metadata"]["name"].as_str().unwrap_or("").to_owned(),
            Some("metadata.namespace") => pod["metadata"]["namespace"].as_str().unwrap_or("").to_owned(),
            _ => e["value"].as_str().unwrap_or("").to_owned(),
        };
        env.insert(name, value);
    }
    crate::script::run(&argv, &env)
}

fn tail_lines(text: &str, tail: Option<usize>) -> String {
    match tail {
        None => text.to_owned(),
        Some(n) => {
            let lines: Vec<&str> = text.split_inclusive('\n').collect();
            lines[lines.len().saturating_sub(n)..].concat()
        }
    }
}

fn scale_of(obj: &Value, rt: &ResourceType, ns: &str, name: &str) -> Value {
    let selector = obj["spec"]["selector"]["matchLabels"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect::<Vec<_>>().join(","))
        .unwrap_or_default();
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": name, "namespace": ns, "selfLink": format!("{}/scale", rt.self_link(ns, name)), "uid": obj["metadata"]["uid"].clone(),
            "resourceVersion": obj["metadata"]["resourceVersion"].clone(), "creationTimestamp": obj["metadata"]["creationTimestamp"].clone()},
        "spec": {"replicas": obj["spec"]["replicas"].clone()},
        "status": {"replicas": obj["status"]["replicas"].clone(), "selector": selector}
    })
}

fn apply_patch(mut target: Value, req: &Request) -> Result<Value, Response> {
    let content_type = req.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let patch: Value = serde_json::from_slice(req.body())
        .map_err(|e| status(400, "BadRequest", &format!("error decoding patch: {e}"), json!({})))?;
    if content_type.starts_with("application/json-patch+json") {
        let invalid =
            || status(422, "Invalid", "the server rejected our request due to an error in our request", json!({}));
        for op in patch.as_array().ok_or_else(invalid)? {
            let path = op["path"].as_str().ok_or_else(invalid)?;
            match op["op"].as_str() {
                Some("replace" | "add") => {
                    let (parent, last) = path.rsplit_once('/').ok_or_else(invalid)?;
                    let obj = target.pointer_mut(parent).and_then(Value::as_object_mut).ok_or_else(invalid)?;
                    obj.insert(last.replace("~1", "/").replace("~0", "~"), op["value"].clone());
                }
                Some("remove") => {
                    let (parent, last) = path.rsplit_once('/').ok_or_else(invalid)?;
                    target
                        .pointer_mut(parent)
                        .and_then(Value::as_object_mut)
                        .and_then(|o| o.remove(last))
                        .ok_or_else(invalid)?;
                }
                Some("test") => {
                    if target.pointer(path) != Some(&op["value"]) {
                        return Err(invalid());
                    }
                }
                _ => return Err(invalid()),
            }
        }
        Ok(target)
    } else if content_type.starts_with("application/merge-patch+json")
        || content_type.starts_with("application/strategic-merge-patch+json")
    {
        merge(&mut target, &patch);
        Ok(target)
    } else {
        Err(status(415, "UnsupportedMediaType", &format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got {content_type:?})"), json!({})))
    }
}

/// The metadata a PATCH or PUT leaves: what the client may change (labels, annotations,
/// finalizers, owner references) from `new`, everything the server owns (name, uid,
/// resourceVersion, generation, timestamps, ...) from `old`, as the apiserver does.
fn user_metadata(old: &Value, new: &Value) -> Value {
    let mut out = old.clone();
    let o = ensure_object(&mut out);
    for key in ["labels", "annotations", "finalizers", "ownerReferences"] {
        match new.get(key) {
            Some(v) if !v.is_null() => {
                o.insert(key.to_owned(), v.clone());
            }
            _ => {
                o.remove(key);
            }
        }
    }
    out
}

/// RFC 7386 JSON merge patch.
fn merge(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            let t = ensure_object(target);
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

fn event_line(kind: &str, object: &Value) -> Bytes {
    let mut line = json!({"type": kind, "object": object}).to_string();
    line.push('\n');
    Bytes::from(line)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
}

/// A failure `Status`, its fields in the apiserver's order.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusBody<'a> {
    kind: &'static str,
    api_version: &'static str,
    metadata: Map<String, Value>,
    status: &'static str,
    message: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<Details>,
    code: u16,
}

/// `Status.details`, its fields in the apiserver's order.
#[derive(serde::Serialize)]
struct Details {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    causes: Option<Vec<Cause>>,
}

/// One of `Status.details.causes`, its fields in the apiserver's order.
#[derive(serde::Serialize)]
struct Cause {
    reason: Value,
    message: Value,
    field: Value,
}

fn status_body(code: u16, reason: &str, message: &str, details: Option<Value>) -> String {
    let details = details.map(|mut d| Details {
        name: d.get_mut("name").map(Value::take),
        group: d.get_mut("group").map(Value::take),
        kind: d.get_mut("kind").map(Value::take),
        causes: d.get_mut("causes").and_then(Value::as_array_mut).map(|cs| {
            cs.iter_mut()
                .map(|c| Cause { reason: c["reason"].take(), message: c["message"].take(), field: c["field"].take() })
                .collect()
        }),
    });
    let body = StatusBody {
        kind: "Status",
        api_version: "v1",
        metadata: Map::new(),
        status: "Failure",
        message,
        reason,
        details,
        code,
    };
    serde_json::to_string(&body).unwrap_or_default()
}

fn status_value(code: u16, reason: &str, message: &str, details: Option<Value>) -> Value {
    serde_json::from_str(&status_body(code, reason, message, details)).unwrap_or(Value::Null)
}

/// A `Status` error response.
fn status(code: u16, reason: &str, message: &str, details: Value) -> Response {
    let details = (!details.is_null()).then_some(details);
    let mut body = status_body(code, reason, message, details);
    body.push('\n');
    http_util::response(code, "application/json", &[], body)
}

/// The `Status` a delete that took effect at once answers with.
fn success(rt: &ResourceType, name: &str, removed: &Value) -> Value {
    let mut details = json!({"name": name, "kind": rt.resource, "uid": removed["metadata"]["uid"].clone()});
    if !rt.group().is_empty() {
        details["group"] = rt.group().into();
    }
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}

fn not_found(rt: &ResourceType, name: &str) -> Response {
    let mut details = json!({"name": name, "kind": rt.resource});
    if !rt.group().is_empty() {
        details["group"] = rt.group().into();
    }
    status(404, "NotFound", &format!("{} \"{name}\" not found", rt.qualified()), details)
}

fn not_found_named(resource: &str, name: &str) -> Response {
    status(404, "NotFound", &format!("{resource} \"{name}\" not found"), json!({"name": name, "kind": resource}))
}

fn not_found_resource() -> Response {
    status(404, "NotFound", "the server could not find the requested resource", json!({}))
}

fn conflict(rt: &ResourceType, name: &str) -> Response {
    let mut details = json!({"name": name, "kind": rt.resource});
    if !rt.group().is_empty() {
        details["group"] = rt.group().into();
    }
    status(409, "Conflict", &format!("Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again", rt.qualified()), details)
}

fn decode_continue(token: &str) -> Result<(String, String), Response> {
    let bad = || {
        status(
            400,
            "BadRequest",
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
            json!({}),
        )
    };
    let bytes =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.trim_end_matches('=')).map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let start = v["start"].as_str().ok_or_else(bad)?;
    let (ns, name) = start.split_once('/').ok_or_else(bad)?;
    Ok((ns.to_owned(), name.to_owned()))
}

// ----- selectors ---------------------------------------------------------------------------------

/// A parsed label or field selector (all requirements must hold): core's [`LabelSelector`], so
/// the fake accepts exactly the label selectors core's parser accepts.
#[derive(Debug, Clone, Default)]
pub(crate) struct Selector(LabelSelector);

/// The fields a field selector may name.
const SELECTABLE_FIELDS: [&str; 8] = [
    "metadata.name",
    "metadata.namespace",
    "status.phase",
    "spec.nodeName",
    "involvedObject.kind",
    "involvedObject.name",
    "involvedObject.uid",
    "reason",
];

impl Selector {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn labels(text: &str) -> Result<Selector, Response> {
        LabelSelector::parse(text).map(Selector).map_err(|e| {
            let problem = match e {
                clustermanager_core::Error::InvalidInput { problem, .. } => problem,
                other => other.to_string(),
            };
            status(400, "BadRequest", &format!("unable to parse requirement: {problem}"), json!({}))
        })
    }

    /// Field selectors: `field=value`, `field==value` or `field!=value` terms joined by commas
    /// (values are not label values: any text but `,`).
    fn fields(text: &str) -> Result<Selector, Response> {
        let mut sel = LabelSelector::new();
        for term in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (key, value, equal) = if let Some((k, v)) = term.split_once("!=") {
                (k, v, false)
            } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                (k, v, true)
            } else {
                return Err(status(400, "BadRequest", &format!("invalid field selector: {text}"), json!({})));
            };
            let (key, value) = (key.trim(), value.trim());
            if !SELECTABLE_FIELDS.contains(&key) {
                return Err(status(
                    400,
                    "BadRequest",
                    &format!("\"{key}\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""),
                    json!({}),
                ));
            }
            sel = if equal { sel.eq(key, value) } else { sel.ne(key, value) };
        }
        Ok(Selector(sel))
    }

    fn matches_labels(&self, obj: &Value) -> bool {
        let labels = &obj["metadata"]["labels"];
        self.0.matches_by(|k| labels[k].as_str())
    }

    fn matches_fields(&self, obj: &Value) -> bool {
        self.0.matches_by(|k| {
            let v = match k {
                "metadata.name" => &obj["metadata"]["name"],
                "metadata.namespace" => &obj["metadata"]["namespace"],
                "status.phase" => &obj["status"]["phase"],
                "involvedObject.kind" => &obj["involvedObject"]["kind"],
                "involvedObject.name" => &obj["involvedObject"]["name"],
                "involvedObject.uid" => &obj["involvedObject"]["uid"],
                "reason" => &obj["reason"],
                _ => &obj["spec"]["nodeName"],
            };
            Some(v.as_str().unwrap_or(""))
        })
    }
}

/// Whether the one node's `labels` satisfy a pod's required node affinity
/// (`nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution`: any of its terms, each term
/// all of its label expressions), as the scheduler judges it; no such affinity matches.
fn required_node_affinity_matches(affinity: &Value, labels: &serde_json::Map<String, Value>) -> bool {
    let required = &affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"];
    let Some(terms) = required["nodeSelectorTerms"].as_array() else { return true };
    terms.iter().any(|term| {
        let expressions = term["matchExpressions"].as_array().map(Vec::as_slice).unwrap_or_default();
        expressions.iter().all(|e| {
            let value = e["key"].as_str().and_then(|k| labels.get(k)).and_then(Value::as_str);
            let values: Vec<&str> =
                e["values"].as_array().map(|v| v.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
            match e["operator"].as_str() {
                Some("In") => value.is_some_and(|v| values.contains(&v)),
                Some("NotIn") => value.is_none_or(|v| !values.contains(&v)),
                Some("Exists") => value.is_some(),
                Some("DoesNotExist") => value.is_none(),
                // Gt / Lt compare integers
                Some(op @ ("Gt" | "Lt")) => {
                    let have = value.and_then(|v| v.parse::<i64>().ok());
                    let want = values.first().and_then(|v| v.parse::<i64>().ok());
                    match (have, want) {
                        (Some(h), Some(w)) if op == "Gt" => h > w,
                        (Some(h), Some(w)) => h < w,
                        _ => false,
                    }
                }
                _ => false,
            }
        })
    })
}
