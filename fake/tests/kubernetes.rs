//! The rest of the seed API on the fake Kubernetes cluster, through the real facade: listing,
//! execution waits and logs, quotas, scale, config maps, TFJobs, watches and their edge cases.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Duration;

use clustermanager_core::k8s::api::{self, Resource, WriteParams};
use clustermanager_core::Backend;
use clustermanager_core::{ClusterManager, DeleteOptions, Error, JobSpec, LogOptions, Status};
use clustermanager_fake::{block_on, FakeCluster, FakeOptions, FakeTransport, KubernetesVersion};
use serde_json::{json, Value};

fn setup(ns: &str, version: KubernetesVersion) -> (FakeCluster, ClusterManager<FakeTransport>) {
    let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
    let cm = block_on(fake.cluster_manager()).unwrap();
    assert!(block_on(cm.create_namespace(ns)).unwrap());
    (fake, cm)
}

fn ctx(cm: &ClusterManager<FakeTransport>) -> clustermanager_core::k8s::Context {
    match cm.backend() {
        Backend::Kubernetes(c) => c.clone(),
        Backend::Nomad(_) => unreachable!(),
    }
}

fn job(name: &str, script: &str) -> JobSpec {
    JobSpec::new(name).image("busybox:1.36").command(["sh", "-c", script])
}

#[test]
fn namespaces_report_existing_and_missing() {
    for version in KubernetesVersion::ALL {
        let (_fake, cm) = setup("ns", version);
        assert!(!block_on(cm.create_namespace("ns")).unwrap(), "already exists");
        assert!(block_on(cm.delete_namespace("ns")).unwrap());
        assert!(!block_on(cm.delete_namespace("ns")).unwrap(), "already gone");
        assert!(block_on(cm.create_namespace("ns")).unwrap(), "can be created again once gone");
    }
}

#[test]
fn a_named_container_runs_and_its_log_reads_without_naming_it() {
    for version in KubernetesVersion::ALL {
        let (_fake, cm) = setup("named", version);
        block_on(cm.create_job("named", &job("n", "echo from worker").container("worker"))).unwrap();
        let done = block_on(cm.wait_for_job("named", "n", Some(Duration::from_secs(60)))).unwrap();
        assert_eq!(done.status, Some(Status::Succeeded));
        let runs = block_on(cm.list_job_executions("named", "n")).unwrap();
        assert_eq!(runs[0].tasks[0].name, "worker", "{version:?}");
        let log = block_on(cm.get_execution_log("named", &runs[0].id, &LogOptions::default())).unwrap();
        assert_eq!(log, "from worker\n");
    }
}

#[test]
fn creating_in_a_missing_namespace_is_not_found() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let cm = block_on(fake.cluster_manager()).unwrap();
        let err = block_on(cm.create_job("nowhere", &job("j", "true"))).unwrap_err();
        assert!(matches!(err, Error::NotFound(_)), "{err:?}");
        let err = block_on(cm.get_job("default", "missing")).unwrap_err();
        assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    }
}

#[test]
fn jobs_move_from_waiting_to_running_to_done() {
    for version in KubernetesVersion::ALL {
        let (fake, cm) = setup("life", version);
        block_on(cm.create_job("life", &job("a", "sleep 10; echo a"))).unwrap();
        block_on(cm.create_job("life", &job("b", "echo b"))).unwrap();
        // As on a real cluster the Jobs get their pods at once; Pending pods make a job neither
        // waiting (no execution at all) nor running (an execution running), as in the seed.
        assert!(block_on(cm.waiting_jobs("life")).unwrap().is_empty());
        assert!(block_on(cm.running_jobs("life")).unwrap().is_empty());
        assert_eq!(
            block_on(cm.list_jobs("life")).unwrap().iter().filter(|j| j.status == Some(Status::Running)).count(),
            2
        );
        fake.advance(Duration::from_secs(1));
        assert_eq!(block_on(cm.running_jobs("life")).unwrap().len(), 2);
        fake.advance(Duration::from_secs(2));
        let running = block_on(cm.running_jobs("life")).unwrap();
        assert_eq!(running.iter().map(|j| j.name.as_str()).collect::<Vec<_>>(), ["a"], "b finished");
        let exec =
            block_on(cm.wait_for_job_execution_status("life", "a", &[Status::Running], Some(Duration::from_secs(60))))
                .unwrap();
        assert_eq!(exec.status, Some(Status::Running));
        let done = block_on(cm.wait_for_job("life", "a", None)).unwrap();
        assert_eq!(done.status, Some(Status::Succeeded));
        let jobs = block_on(cm.list_jobs("life")).unwrap();
        assert_eq!(jobs.iter().map(|j| j.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(block_on(cm.list_jobs_executions("life")).unwrap().len(), 2);
        let mut cleaned = block_on(cm.cleanup_finished_jobs("life")).unwrap();
        cleaned.sort();
        assert_eq!(cleaned, ["a", "b"]);
        assert!(block_on(cm.list_jobs("life")).unwrap().is_empty());
        // the seed's cleanup_jobs deletes every job, running ones too, and says how many are left
        block_on(cm.create_job("life", &job("c", "sleep 100"))).unwrap();
        block_on(cm.create_job("life", &job("d", "echo d"))).unwrap();
        assert_eq!(block_on(cm.cleanup_jobs("life")).unwrap(), 0);
        assert!(block_on(cm.list_jobs("life")).unwrap().is_empty());
        assert!(block_on(cm.list_jobs_executions("life")).unwrap().is_empty(), "their pods went with them");
    }
}

#[test]
fn wait_for_job_times_out_in_virtual_time() {
    for version in KubernetesVersion::ALL {
        let (fake, cm) = setup("slow", version);
        block_on(cm.create_job("slow", &job("forever", "sleep 100000"))).unwrap();
        let wall = std::time::Instant::now();
        let err = block_on(cm.wait_for_job("slow", "forever", Some(Duration::from_secs(30)))).unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
        assert!(fake.elapsed() >= Duration::from_secs(30));
        assert!(wall.elapsed() < Duration::from_secs(2));
    }
}

#[test]
fn a_test_can_force_an_execution_outcome() {
    for version in KubernetesVersion::ALL {
        let (fake, cm) = setup("forced", version);
        block_on(cm.create_job("forced", &job("j", "echo fine"))).unwrap();
        let pod = fake.executions("forced").pop().unwrap();
        assert!(fake.set_execution_status("forced", &pod, "Failed", 137));
        let done = block_on(cm.wait_for_job("forced", "j", None)).unwrap();
        assert_eq!(done.status, Some(Status::Failed));
        let runs = block_on(cm.list_job_executions("forced", "j")).unwrap();
        assert_eq!(runs[0].tasks[0].exit_code, Some(137));
    }
}

#[test]
fn logs_tail_follow_and_pending_errors() {
    for version in KubernetesVersion::ALL {
        let (_fake, cm) = setup("logs", version);
        block_on(cm.create_job("logs", &job("p", "echo one; echo two; echo three"))).unwrap();
        let pod = block_on(cm.list_job_executions("logs", "p")).unwrap().remove(0).id;
        let err = block_on(cm.get_execution_log("logs", &pod, &LogOptions::default())).unwrap_err();
        assert!(matches!(err, Error::BadRequest(_)), "a pending container has no log yet: {err:?}");
        block_on(cm.wait_for_job_execution_status("logs", "p", &[Status::Running], None)).unwrap();
        let lines: Vec<String> = block_on(async {
            let mut stream = cm.get_execution_log_watch("logs", &pod, &LogOptions::default());
            let mut out = Vec::new();
            while let Some(line) = stream.next().await {
                out.push(line.unwrap().text);
            }
            out
        });
        assert_eq!(lines, ["one", "two", "three"]);
        let tail =
            block_on(cm.get_execution_log("logs", &pod, &LogOptions { tail_lines: Some(1), ..LogOptions::default() }))
                .unwrap();
        assert_eq!(tail, "three\n");
        assert!(block_on(cm.delete_execution("logs", &pod)).unwrap());
        assert!(!block_on(cm.delete_execution("logs", &pod)).unwrap());
    }
}

#[test]
fn delete_propagation_policies() {
    for version in KubernetesVersion::ALL {
        let (fake, cm) = setup("prop", version);
        block_on(cm.create_job("prop", &job("orphan", "true"))).unwrap();
        block_on(cm.create_job("prop", &job("fg", "true"))).unwrap();
        block_on(cm.delete_job("prop", "orphan", DeleteOptions { wait: true, purge: false })).unwrap();
        assert_eq!(fake.executions("prop").len(), 2, "Orphan keeps the pod");
        block_on(cm.delete_job("prop", "fg", DeleteOptions { wait: true, purge: true })).unwrap();
        let left = fake.executions("prop");
        assert_eq!(left.len(), 1, "Foreground removed fg's pod: {left:?}");
        assert!(left[0].starts_with("orphan-"));
    }
}

#[test]
fn quota_scale_and_config_maps() {
    for version in KubernetesVersion::ALL {
        let (_fake, cm) = setup("misc", version);
        block_on(cm.define_quota("misc", "2", "4Gi")).unwrap();
        let c = ctx(&cm);
        let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}});
        let _: Value =
            block_on(cm.run(api::create(&c, &Resource::DEPLOYMENTS, Some("misc"), &deploy, &WriteParams::default())))
                .unwrap();
        assert_eq!(block_on(cm.get_scale_deploy("misc", "web")).unwrap().replicas, 1);
        assert_eq!(block_on(cm.set_scale_deploy("misc", "web", 3)).unwrap().desired, 3);
        assert_eq!(block_on(cm.get_scale_deploy("misc", "web")).unwrap().replicas, 3);
        for i in 0..25 {
            let parity = if i % 2 == 0 { "even" } else { "odd" };
            let cm_obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("cm-{i:02}"), "labels": {"parity": parity}}, "data": {"i": i.to_string()}});
            let _: Value = block_on(cm.run(api::create(
                &c,
                &Resource::CONFIGMAPS,
                Some("misc"),
                &cm_obj,
                &WriteParams::default(),
            )))
            .unwrap();
        }
        let even = block_on(cm.get_config_maps("misc", "parity=even")).unwrap();
        assert_eq!(even.len(), 13);
        assert_eq!(block_on(cm.get_config_maps("misc", "")).unwrap().len(), 25);
        assert_eq!(block_on(cm.get_config_maps("misc", "parity in (odd)")).unwrap().len(), 12);
    }
}

#[test]
fn tfjobs_after_the_crd_is_established() {
    for version in KubernetesVersion::ALL {
        let (_fake, cm) = setup("tf", version);
        block_on(cm.install_tfjobs()).unwrap();
        let tfjob = json!({"apiVersion": "kubeflow.org/v1", "kind": "TFJob", "metadata": {"name": "mnist"},
            "spec": {"tfReplicaSpecs": {"Worker": {"replicas": 1, "template": {"spec": {"containers": [{"name": "tensorflow", "image": "tf"}]}}}}}});
        let created = block_on(cm.create_tfjob("tf", &tfjob)).unwrap();
        assert_eq!(created["metadata"]["name"], "mnist");
        assert_eq!(block_on(cm.get_tfjob("tf", "mnist")).unwrap()["spec"], tfjob["spec"]);
        assert_eq!(block_on(cm.list_tfjobs("tf")).unwrap().len(), 1);
        assert!(block_on(cm.delete_tfjob("tf", "mnist", true)).unwrap());
        assert!(block_on(cm.list_tfjobs("tf")).unwrap().is_empty());
    }
}

#[test]
fn a_compacted_watch_is_relisted() {
    for version in KubernetesVersion::ALL {
        let (fake, cm) = setup("gone", version);
        block_on(cm.create_job("gone", &job("j", "sleep 5"))).unwrap();
        // Every watch from an older resourceVersion now gets a 410 Expired ERROR event.
        fake.compact();
        let done = block_on(cm.wait_for_job("gone", "j", Some(Duration::from_secs(60)))).unwrap();
        assert_eq!(done.status, Some(Status::Succeeded));
    }
}

#[test]
fn logs_appear_as_the_command_prints_them() {
    for version in KubernetesVersion::ALL {
        let (fake, cm) = setup("prog", version);
        block_on(cm.create_job("prog", &job("p", "echo first; sleep 10; echo second"))).unwrap();
        let pod = block_on(cm.wait_for_job_execution_status("prog", "p", &[Status::Running], None)).unwrap().id;
        assert_eq!(block_on(cm.get_execution_log("prog", &pod, &LogOptions::default())).unwrap(), "first\n");
        let started = fake.elapsed();
        let lines: Vec<(String, Duration)> = block_on(async {
            let mut stream = cm.get_execution_log_watch("prog", &pod, &LogOptions::default());
            let mut out = Vec::new();
            while let Some(line) = stream.next().await {
                out.push((line.unwrap().text, fake.elapsed() - started));
            }
            out
        });
        assert_eq!(lines, [("first".to_string(), Duration::ZERO), ("second".to_string(), Duration::from_secs(10))]);
        let stamped =
            block_on(cm.get_execution_log("prog", &pod, &LogOptions { timestamps: true, ..LogOptions::default() }))
                .unwrap();
        assert!(stamped.lines().all(|l| l.starts_with("2026-") && l.contains(".000000000Z ")), "{stamped}");
    }
}

#[test]
fn an_empty_namespace_means_the_configured_default_as_on_nomad() {
    for fake in [
        FakeCluster::kubernetes_with(FakeOptions::on(KubernetesVersion::V1_19)),
        FakeCluster::kubernetes(),
        FakeCluster::nomad(),
    ] {
        let config = fake.config().with_namespace("batch");
        let cm = block_on(clustermanager_core::ClusterManager::connect(fake.transport(), &config, 7)).unwrap();
        block_on(cm.create_namespace("batch")).unwrap();
        let spec = JobSpec::new("dflt").image("busybox").command(["true"]);
        block_on(cm.create_job("", &spec)).unwrap();
        let job = block_on(cm.wait_for_job("", "dflt", Some(Duration::from_secs(60)))).unwrap();
        assert_eq!(job.status, Some(clustermanager_core::Status::Succeeded), "{:?}", fake.config().orchestrator);
        assert_eq!(block_on(cm.get_job("batch", "dflt")).unwrap().name, "dflt");
    }
}

#[test]
fn a_manager_clones_cheaply_and_its_clones_share_the_cluster() {
    for version in KubernetesVersion::ALL {
        fn shareable<T: Clone + Send + Sync + 'static>(_: &T) {}
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let cm = block_on(fake.cluster_manager()).unwrap();
        shareable(&cm);
        block_on(cm.create_namespace("shared")).unwrap();
        let workers: Vec<_> = (0..4)
            .map(|i| {
                let cm = cm.clone();
                std::thread::spawn(move || {
                    let spec = JobSpec::new(format!("w{i}")).image("busybox").command(["true"]);
                    block_on(cm.create_job("shared", &spec)).map(|_| ())
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap().unwrap();
        }
        assert_eq!(block_on(cm.list_jobs("shared")).unwrap().len(), 4, "the clones created in the same cluster");
    }
}

/// CronJobs live at `batch/v1` on 1.36 (the only version since Kubernetes 1.25) and at
/// `batch/v1beta1` on 1.19 (v1 came in 1.21): each server 404s the version it does not serve,
/// as recorded (acm-25 of each set), and the object comes back at the version asked for.
#[test]
fn cronjobs_are_served_at_the_version_the_server_has() {
    for version in KubernetesVersion::ALL {
        let (_fake, cm) = setup("cron", version);
        let c = ctx(&cm);
        let ns = Some("cron");
        let (served, gone) = match version {
            KubernetesVersion::V1_19 => (Resource::CRONJOBS_V1BETA1, Resource::CRONJOBS),
            KubernetesVersion::V1_36 => (Resource::CRONJOBS, Resource::CRONJOBS_V1BETA1),
        };
        let api_version = format!("batch/{}", served.version);
        let cron = json!({"apiVersion": api_version, "kind": "CronJob", "metadata": {"name": "nightly"},
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "main", "image": "busybox:1.36"}]}}}}}});
        let created: Value = block_on(cm.run(api::create(&c, &served, ns, &cron, &WriteParams::default()))).unwrap();
        assert_eq!(created["apiVersion"], api_version.as_str());
        let listed = block_on(cm.run(api::list_all::<Value>(&c, &served, ns, &api::ListParams::default()))).unwrap();
        assert_eq!(listed.items.len(), 1);
        let err = block_on(cm.run(api::get::<Value>(&c, &gone, ns, "nightly"))).unwrap_err();
        assert!(matches!(err, Error::NotFound(_)), "{version:?}: {err:?}");
        let err = block_on(cm.run(api::get::<Value>(&c, &served, ns, "missing"))).unwrap_err();
        assert!(matches!(err, Error::NotFound(_)), "{err:?}");
        let found = block_on(cm.run(api::cronjobs(&c))).unwrap();
        assert_eq!(found, served, "{version:?}: discovery picks the version the server serves");
    }
}

/// What a Job and its pod look like as each version writes them: on 1.36 the pod carries both
/// label sets and the job-tracking finalizer until the controller counted it, the Job gets
/// `SuccessCriteriaMet` before `Complete` (a watch sees both writes), defaulted spec fields and
/// `ready`/`terminating`/`uncountedTerminatedPods`; on 1.19 none of that.
#[test]
fn job_and_pod_shapes_follow_the_version() {
    for version in KubernetesVersion::ALL {
        let (fake, cm) = setup("shape", version);
        let c = ctx(&cm);
        block_on(cm.create_job("shape", &job("s", "sleep 5; echo done"))).unwrap();
        fake.advance(Duration::from_secs(2));
        let pods: Value =
            block_on(cm.run(api::list_all::<Value>(&c, &Resource::PODS, Some("shape"), &api::ListParams::default())))
                .map(|l| Value::Array(l.items))
                .unwrap();
        let pod = &pods[0];
        let current = version == KubernetesVersion::V1_36;
        assert_eq!(pod["metadata"]["labels"]["job-name"], "s");
        assert_eq!(pod["metadata"]["labels"]["batch.kubernetes.io/job-name"].is_string(), current, "{version:?}");
        assert_eq!(pod["metadata"]["finalizers"][0].as_str() == Some("batch.kubernetes.io/job-tracking"), current);
        assert_eq!(pod["metadata"]["selfLink"].is_string(), !current, "selfLink is gone on 1.36");
        let job: Value = block_on(cm.run(api::get(&c, &Resource::JOBS, Some("shape"), "s"))).unwrap();
        assert_eq!(job["spec"]["podReplacementPolicy"].as_str() == Some("TerminatingOrFailed"), current);
        assert_eq!(job["status"]["ready"].as_u64() == Some(1), current, "{version:?}: {}", job["status"]);
        let done = block_on(cm.wait_for_job("shape", "s", Some(Duration::from_secs(600)))).unwrap();
        let kinds: Vec<&str> = done.conditions.iter().map(|c| c.kind.as_str()).collect();
        let expected: &[&str] = if current { &["SuccessCriteriaMet", "Complete"] } else { &["Complete"] };
        assert_eq!(kinds, expected, "{version:?}");
        assert_eq!((done.status, done.succeeded, done.raw_status.as_str()), (Some(Status::Succeeded), 1, "Complete"));
        let pods = block_on(cm.list_job_executions("shape", "s")).unwrap();
        assert_eq!(pods[0].status, Some(Status::Succeeded));
        let pod: Value = block_on(cm.run(api::get(&c, &Resource::PODS, Some("shape"), &pods[0].id))).unwrap();
        assert!(pod["metadata"]["finalizers"].is_null(), "the controller released it: {}", pod["metadata"]);
    }
}

/// The fake as a 1.36 apiserver over an old etcd (acm-35): a watch-list request gets one
/// ERROR event; the wait lists instead, and later observations of the manager do not ask again.
#[test]
fn a_refused_watch_list_falls_back_to_list_and_watch_once_per_manager() {
    let fake = FakeCluster::kubernetes_with(FakeOptions { watch_list_refused: true, ..FakeOptions::default() });
    let cm = block_on(fake.cluster_manager()).unwrap();
    for ns in ["one", "two"] {
        assert!(block_on(cm.create_namespace(ns)).unwrap());
        block_on(cm.create_job(ns, &job("j", "echo hi"))).unwrap();
        let done = block_on(cm.wait_for_job(ns, "j", Some(Duration::from_secs(600)))).unwrap();
        assert_eq!(done.status, Some(Status::Succeeded));
    }
    let made = fake.requests();
    let watch_lists = made.iter().filter(|r| r.contains("sendInitialEvents=true")).count();
    let lists = made.iter().filter(|r| r.ends_with("/jobs") && r.starts_with("GET")).count();
    assert_eq!((watch_lists, lists), (1, 2), "{made:#?}");
    // and a manager of a cluster that offers it lists nothing
    let (fake, cm) = setup("three", KubernetesVersion::V1_36);
    block_on(cm.create_job("three", &job("j", "echo hi"))).unwrap();
    block_on(cm.wait_for_job("three", "j", Some(Duration::from_secs(600)))).unwrap();
    let made = fake.requests();
    assert!(!made.iter().any(|r| r.ends_with("/jobs") && r.starts_with("GET")), "{made:#?}");
    assert_eq!(made.iter().filter(|r| r.contains("sendInitialEvents=true")).count(), 1);
}

#[test]
fn list_namespaces_shows_each_with_its_phase() {
    for version in KubernetesVersion::ALL {
        let (_fake, cm) = setup("team-a", version);
        let names: Vec<(String, String)> =
            block_on(cm.list_namespaces()).unwrap().into_iter().map(|n| (n.name, n.phase)).collect();
        assert!(names.contains(&("default".into(), "Active".into())), "{names:?}");
        assert!(names.contains(&("team-a".into(), "Active".into())), "{names:?}");
        assert!(block_on(cm.delete_namespace("team-a")).unwrap());
        let names: Vec<String> = block_on(cm.list_namespaces()).unwrap().into_iter().map(|n| n.name).collect();
        assert!(!names.contains(&"team-a".to_owned()), "{names:?}");
    }
}
