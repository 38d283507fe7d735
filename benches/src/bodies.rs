//! Synthetic server bodies, generated in code (nothing is read from disk), shaped like the
//! recordings in `tests/fixtures`: the pod of `k8s/acm-26-job-with-node-agent.json` (with its
//! `managedFields`, whose keys hold escaped quotes), the allocation stubs of
//! `nomad/08-batch-job-succeeds.json`, the framed log of `nomad/14-logs-follow.json` and the
//! event stream of `nomad/19-event-stream.json`. Values vary per item (names, uids, versions,
//! states) so nothing is decoded from a cache of identical strings.

use base64::Engine as _;
use serde_json::{json, Value};

/// A Job's pod as kube-apiserver v1.19 returns it (~4.8 KB). `i` makes its name, uid and
/// resourceVersion distinct; the container state cycles through terminated, running and
/// waiting.
pub fn pod(i: usize) -> Value {
    let job_uid = format!("64ace374-6832-428a-89a0-{:012x}", i / 4);
    let uid = format!("69344ce3-6604-406a-bf80-{i:012x}");
    let name = format!("printer-{i:05}");
    let exit_code = i32::from(i.is_multiple_of(7));
    let reason = if exit_code == 0 { "Completed" } else { "Error" };
    let state = match i % 3 {
        0 => json!({"terminated": {"exitCode": exit_code, "reason": reason,
            "startedAt": "2026-11-25T20:49:10Z", "finishedAt": "2026-11-25T20:49:13Z", "containerID": "docker://0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"}}),
        1 => json!({"running": {"startedAt": "2026-11-25T20:49:10Z"}}),
        _ => json!({"waiting": {"reason": "ContainerCreating"}}),
    };
    let phase = match i % 3 {
        0 if i.is_multiple_of(7) => "Failed",
        0 => "Succeeded",
        1 => "Running",
        _ => "Pending",
    };
    json!({
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {
            "name": name, "generateName": "printer-", "namespace": "acm-run",
            "selfLink": format!("/api/v1/namespaces/acm-run/pods/{name}"),
            "uid": uid, "resourceVersion": (1779 + i).to_string(), "creationTimestamp": "2026-11-25T20:49:10Z",
            "labels": {"app": "printer", "controller-uid": job_uid, "job-name": "printer"},
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "printer", "uid": job_uid,
                "controller": true, "blockOwnerDeletion": true}],
            "managedFields": [
                {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1", "time": "2026-11-25T20:49:10Z",
                 "fieldsType": "FieldsV1", "fieldsV1": {
                    "f:metadata": {"f:generateName": {}, "f:labels": {".": {}, "f:app": {}, "f:controller-uid": {}, "f:job-name": {}},
                        "f:ownerReferences": {".": {}, format!("k:{{\"uid\":\"{job_uid}\"}}"): {".": {}, "f:apiVersion": {},
                            "f:blockOwnerDeletion": {}, "f:controller": {}, "f:kind": {}, "f:name": {}, "f:uid": {}}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"main\"}": {".": {}, "f:args": {}, "f:command": {},
                        "f:env": {".": {}, "k:{\"name\":\"GREETING\"}": {".": {}, "f:name": {}, "f:value": {}},
                            "k:{\"name\":\"POD_NAME\"}": {".": {}, "f:name": {}, "f:valueFrom": {".": {}, "f:fieldRef": {".": {}, "f:apiVersion": {}, "f:fieldPath": {}}}}},
                        "f:image": {}, "f:imagePullPolicy": {}, "f:name": {},
                        "f:resources": {".": {}, "f:limits": {".": {}, "f:cpu": {}, "f:memory": {}}, "f:requests": {".": {}, "f:cpu": {}, "f:memory": {}}},
                        "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {}}},
                        "f:dnsPolicy": {}, "f:enableServiceLinks": {}, "f:restartPolicy": {}, "f:schedulerName": {}, "f:securityContext": {},
                        "f:terminationGracePeriodSeconds": {}}}},
                {"manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": "2026-11-25T20:49:13Z",
                 "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {
                    "f:conditions": {"k:{\"type\":\"ContainersReady\"}": {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:reason": {}, "f:status": {}, "f:type": {}},
                        "k:{\"type\":\"Ready\"}": {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:reason": {}, "f:status": {}, "f:type": {}}},
                    "f:containerStatuses": {}, "f:hostIP": {}, "f:phase": {}, "f:podIP": {},
                    "f:podIPs": {".": {}, "k:{\"ip\":\"10.244.0.17\"}": {".": {}, "f:ip": {}}}, "f:startTime": {}}}}
            ]
        },
        "spec": {
            "volumes": [{"name": "default-token-bpdcj", "secret": {"secretName": "default-token-bpdcj", "defaultMode": 420}}],
            "containers": [{"name": "main", "image": "busybox:1.32", "command": ["/bin/sh", "-c"],
                "args": [format!("for i in 1 2 3 4 5; do echo line $i $GREETING {i}; sleep 0.5; done; echo done \u{3e}\u{26}2")],
                "env": [{"name": "GREETING", "value": "hello"},
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}],
                "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "100m", "memory": "64Mi"}},
                "volumeMounts": [{"name": "default-token-bpdcj", "readOnly": true, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}],
            "restartPolicy": "Never", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default", "serviceAccount": "default", "nodeName": format!("node-{}", i % 16),
            "securityContext": {}, "schedulerName": "default-scheduler",
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
            "priority": 0, "enableServiceLinks": true, "preemptionPolicy": "PreemptLowerPriority"
        },
        "status": {
            "phase": phase,
            "conditions": [
                {"type": "Ready", "status": "False", "lastProbeTime": null, "lastTransitionTime": "2026-11-25T20:49:13Z", "reason": "PodCompleted"},
                {"type": "ContainersReady", "status": "False", "lastProbeTime": null, "lastTransitionTime": "2026-11-25T20:49:13Z", "reason": "PodCompleted"},
                {"type": "Initialized", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2026-11-25T20:49:10Z"},
                {"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2026-11-25T20:49:10Z"}],
            "hostIP": "172.18.0.2", "podIP": "10.244.0.17", "podIPs": [{"ip": "10.244.0.17"}], "startTime": "2026-11-25T20:49:10Z",
            "containerStatuses": [{"name": "main", "state": state, "lastState": {}, "ready": false, "restartCount": i % 3,
                "image": "busybox:1.32", "imageID": "docker-pullable://busybox@sha256:bde48e1751173b709090c2539fdf12d6ba64e88ec7a4301591227ce925f3c678",
                "containerID": "docker://0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0", "started": false}],
            "qosClass": "Burstable"
        }
    })
}

/// A `PodList` of `n` pods ([`pod`]), as `GET /api/v1/namespaces/{ns}/pods` returns it.
pub fn pod_list(n: usize) -> Vec<u8> {
    let mut out = br#"{"kind":"PodList","apiVersion":"v1","metadata":{"selfLink":"/api/v1/namespaces/acm-run/pods","resourceVersion":"99999"},"items":["#.to_vec();
    for i in 0..n {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(pod(i).to_string().as_bytes());
    }
    out.extend_from_slice(b"]}\n");
    out
}

/// A watch stream of `n` pod events (`{"type":"MODIFIED","object":{pod}}`, one a line), with a
/// bookmark every 100 events.
pub fn watch_stream(n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        let kind = if i % 10 == 0 { "ADDED" } else { "MODIFIED" };
        out.extend_from_slice(json!({"type": kind, "object": pod(i)}).to_string().as_bytes());
        out.push(b'\n');
        if i % 100 == 99 {
            let rv = (1779 + i).to_string();
            out.extend_from_slice(
                json!({"type": "BOOKMARK", "object": {"kind": "Pod", "apiVersion": "v1", "metadata": {"resourceVersion": rv}}})
                    .to_string()
                    .as_bytes(),
            );
            out.push(b'\n');
        }
    }
    out
}

fn task_event(kind: &str, time: u64, message: &str, display: &str, details: Value) -> Value {
    json!({"Type": kind, "Time": time, "Message": message, "DisplayMessage": display, "Details": details,
        "FailsTask": false, "RestartReason": "", "SetupError": "", "DriverError": "", "ExitCode": 0, "Signal": 0,
        "KillTimeout": 0, "KillError": "", "KillReason": "", "StartDelay": 0, "DownloadError": "", "ValidationError": "",
        "DiskLimit": 0, "FailedSibling": "", "VaultError": "", "TaskSignalReason": "", "TaskSignal": "",
        "DriverMessage": "", "GenericSource": ""})
}

/// An allocation stub as Nomad 1.1.2 lists it (`/v1/job/{id}/allocations`, ~3 KB): one task
/// with the four events of a finished run (the last one's exit code cycles).
pub fn alloc(i: usize) -> Value {
    let t = 1_795_638_964_788_003_276u64 + i as u64 * 1_000_000;
    let code = i.is_multiple_of(5);
    let (client, failed) = if code { ("failed", true) } else { ("complete", false) };
    let exit = if code { "1" } else { "0" };
    let description = if code { "Failed tasks" } else { "All tasks have completed" };
    json!({
        "ID": format!("294e657f-3f0a-03f7-a46d-{i:012x}"), "EvalID": format!("50ccca62-9d8a-f5ea-b99b-{i:012x}"),
        "Name": format!("acm-ok-{}.main[{}]", i / 10, i % 10), "Namespace": "default",
        "NodeID": format!("1a7c7f34-fbe7-dc91-2b6f-{:012x}", i % 16), "NodeName": format!("node-{}", i % 16),
        "JobID": format!("acm-ok-{}", i / 10), "JobType": "batch", "JobVersion": 0, "TaskGroup": "main",
        "AllocatedResources": null, "DesiredStatus": "run", "DesiredDescription": "",
        "ClientStatus": client, "ClientDescription": description,
        "DesiredTransition": {"Migrate": null, "Reschedule": null, "ForceReschedule": null},
        "TaskStates": {"main": {"State": "dead", "Failed": failed, "Restarts": 0, "LastRestart": null,
            "StartedAt": "2026-11-25T20:36:04.826001018Z", "FinishedAt": "2026-11-25T20:36:06.839813037Z",
            "Events": [
                task_event("Received", t + 5_000_000, "", "Task received by client", json!({})),
                task_event("Task Setup", t + 6_000_000, "Building Task Directory", "Building Task Directory",
                    json!({"message": "Building Task Directory"})),
                task_event("Started", t + 37_000_000, "", "Task started by client", json!({})),
                task_event("Terminated", t + 2_041_000_000, "", &format!("Exit Code: {exit}"),
                    json!({"exit_code": exit, "signal": "0", "oom_killed": "false"})),
            ],
            "TaskHandle": null}},
        "DeploymentStatus": null, "FollowupEvalID": "", "RescheduleTracker": null, "PreemptedAllocations": null,
        "PreemptedByAllocation": "", "CreateIndex": 11 + i, "ModifyIndex": 14 + i, "CreateTime": t, "ModifyTime": t + 2_205_000_000u64
    })
}

/// An allocation list of `n` stubs ([`alloc`]).
pub fn alloc_list(n: usize) -> Vec<u8> {
    let mut out = b"[".to_vec();
    for i in 0..n {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(alloc(i).to_string().as_bytes());
    }
    out.extend_from_slice(b"]");
    out
}

/// Nomad's frame size: a frame carries at most 64 KiB of file data.
pub const FRAME_DATA: usize = 64 * 1024;

/// `size` bytes of log text as a Nomad framed stream: frames of at most [`FRAME_DATA`] bytes of
/// base64 data with `File` and `Offset`, a `{}` heartbeat after every frame, and a
/// `file truncated` event frame halfway through.
pub fn framed_logs(size: usize) -> Vec<u8> {
    let mut text = Vec::new();
    let mut n = 0;
    while text.len() < size {
        text.extend_from_slice(
            format!("2026-11-25T20:49:{:02}Z line {n}: the quick brown fox jumps over the lazy dog\n", n % 60)
                .as_bytes(),
        );
        n += 1;
    }
    text.truncate(size);
    let mut out = Vec::new();
    let mut offset = 0;
    let pieces = text.len().div_ceil(FRAME_DATA);
    for (k, piece) in text.chunks(FRAME_DATA).enumerate() {
        if k == pieces / 2 {
            offset = 0;
            out.extend_from_slice(br#"{"File":"alloc/logs/main.stdout.0","FileEvent":"file truncated","Offset":0}"#);
        }
        offset += piece.len();
        let data = base64::engine::general_purpose::STANDARD.encode(piece);
        out.extend_from_slice(
            format!(r#"{{"Data":"{data}","File":"alloc/logs/main.stdout.0","Offset":{offset}}}"#).as_bytes(),
        );
        out.extend_from_slice(b"{}");
    }
    out
}

fn job_payload(i: usize) -> Value {
    let restart = json!({"Attempts": 0, "Interval": 86_400_000_000_000u64, "Delay": 1_000_000_000u64, "Mode": "fail"});
    json!({"Job": {"Stop": false, "Region": "global", "Namespace": "default", "ID": format!("acm-events-{i}"), "ParentID": "",
        "Name": format!("acm-events-{i}"), "Type": "batch", "Priority": 50, "AllAtOnce": false, "Datacenters": ["dc1"],
        "Constraints": null, "Affinities": null, "Spreads": null,
        "TaskGroups": [{"Name": "main", "Count": 1, "Update": null, "Migrate": null, "Constraints": null, "Scaling": null,
            "RestartPolicy": restart,
            "Tasks": [{"Name": "main", "Driver": "raw_exec", "User": "",
                "Config": {"command": "/bin/sh", "args": ["-c", format!("echo event {i}; sleep 1")]}, "Env": {"GREETING": "hello"},
                "Services": null, "Vault": null, "Templates": null, "Constraints": null, "Affinities": null,
                "Resources": {"CPU": 100, "Cores": 0, "MemoryMB": 64, "MemoryMaxMB": 0, "DiskMB": 0, "IOPS": 0, "Networks": null, "Devices": null},
                "RestartPolicy": restart, "DispatchPayload": null, "Lifecycle": null, "Meta": null, "KillTimeout": 5_000_000_000u64,
                "LogConfig": {"MaxFiles": 2, "MaxFileSizeMB": 1}, "Artifacts": null, "Leader": false, "ShutdownDelay": 0,
                "VolumeMounts": null, "ScalingPolicies": null, "KillSignal": "", "Kind": "", "CSIPluginConfig": null}],
            "EphemeralDisk": {"Sticky": false, "SizeMB": 300, "Migrate": false}, "Meta": null,
            "ReschedulePolicy": {"Attempts": 0, "Interval": 86_400_000_000_000u64, "Delay": 5_000_000_000u64, "DelayFunction": "constant",
                "MaxDelay": 0, "Unlimited": false},
            "Affinities": null, "Spreads": null, "Networks": null, "Consul": {"Namespace": ""}, "Services": null, "Volumes": null,
            "ShutdownDelay": null, "StopAfterClientDisconnect": null}],
        "Update": {"Stagger": 0, "MaxParallel": 0, "HealthCheck": "", "MinHealthyTime": 0, "HealthyDeadline": 0,
            "ProgressDeadline": 0, "AutoRevert": false, "AutoPromote": false, "Canary": 0},
        "Multiregion": null, "Periodic": null, "ParameterizedJob": null, "Dispatched": false, "Payload": null, "Meta": null,
        "ConsulToken": "", "ConsulNamespace": "", "VaultToken": "", "VaultNamespace": "", "NomadTokenID": "",
        "Status": "pending", "StatusDescription": "", "Stable": false, "Version": 0, "SubmitTime": 1_795_639_004_489_514_047u64,
        "CreateIndex": 90 + i, "ModifyIndex": 90 + i, "JobModifyIndex": 90 + i}})
}

const EVAL_TYPES: [&str; 4] = ["", "JobRegistered", "PlanResult", "EvaluationUpdated"];
const EVAL_STATUS: [&str; 4] = ["", "pending", "pending", "complete"];

/// A Nomad event stream of `n` batches (one JSON object a line): for each job in turn a
/// `JobRegistered` event with the whole job, then evaluation events (`JobRegistered`,
/// `PlanResult`, `EvaluationUpdated`), with a `{}` heartbeat line every 10 batches.
pub fn event_stream(n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        let job = i / 4;
        let index = 90 + i;
        let eval_id = format!("51fe3d85-2a32-09f6-97d6-{job:012x}");
        let event = match i % 4 {
            0 => {
                json!({"Topic": "Job", "Type": "JobRegistered", "Key": format!("acm-events-{job}"), "Namespace": "default",
                "FilterKeys": null, "Index": index, "Payload": job_payload(job)})
            }
            k => json!({"Topic": "Evaluation", "Type": EVAL_TYPES[k],
                "Key": eval_id, "Namespace": "default", "FilterKeys": [format!("acm-events-{job}"), ""], "Index": index,
                "Payload": {"Evaluation": {"ID": eval_id, "Namespace": "default", "Priority": 50, "Type": "batch",
                    "TriggeredBy": "job-register", "JobID": format!("acm-events-{job}"), "JobModifyIndex": index,
                    "Status": EVAL_STATUS[k], "CreateIndex": index, "ModifyIndex": index,
                    "CreateTime": 1_795_639_004_489_514_047u64, "ModifyTime": 1_795_639_004_489_514_047u64}}}),
        };
        out.extend_from_slice(json!({"Index": index, "Events": [event]}).to_string().as_bytes());
        out.push(b'\n');
        if i % 10 == 9 {
            out.extend_from_slice(b"{}\n");
        }
    }
    out
}
