//! A job that cannot run says why: on both fakes, each stuck state ends `wait_for_job` with an
//! error naming the reason (at once when it is permanent, at the deadline otherwise), and a
//! timeout names the last reason seen.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::{Arc, Mutex};
use std::time::Duration;

use clustermanager_core::Backend;
use clustermanager_core::{k8s, DeleteOptions, Driver, Error, JobSpec, Progress, ReasonKind, Status, WaitOptions};
use clustermanager_fake::{block_on, FakeCluster, FakeOptions, KubernetesVersion};

const HOUR: Option<Duration> = Some(Duration::from_secs(3600));

fn cannot_run(result: Result<clustermanager_core::Job, Error>) -> clustermanager_core::Reason {
    match result {
        Err(Error::CannotRun { reason, .. }) => reason,
        other => panic!("expected CannotRun, got {other:?}"),
    }
}

#[test]
fn a_nomad_job_whose_driver_no_node_has_fails_at_once_naming_the_driver() {
    let fake = FakeCluster::nomad_with(FakeOptions {
        nomad_drivers: vec!["raw_exec".into(), "exec".into()],
        ..FakeOptions::default()
    });
    let cm = block_on(fake.cluster_manager()).unwrap();
    let spec = JobSpec::new("hello").image("busybox").command(["echo", "hi"]);
    block_on(cm.create_job("default", &spec)).unwrap();

    let job = block_on(cm.get_job("default", "hello")).unwrap();
    assert_eq!(job.status, Some(Status::Pending));
    let reason = job.pending_reason.expect("get_job says why the job is pending");
    assert_eq!(reason.kind, ReasonKind::MissingDriver);
    assert_eq!(
        reason.message,
        "no node has the docker driver (1 of 1 nodes filtered: missing drivers); 1 allocation(s) queued"
    );

    let started = fake.elapsed();
    let reason = cannot_run(block_on(cm.wait_for_job("default", "hello", HOUR)));
    assert_eq!(reason.kind, ReasonKind::MissingDriver);
    assert!(reason.permanent);
    assert!(fake.elapsed() - started < Duration::from_secs(5), "ended at once, not at the timeout");
}

#[test]
fn the_same_nomad_job_runs_with_a_driver_the_node_has() {
    let fake =
        FakeCluster::nomad_with(FakeOptions { nomad_drivers: vec!["raw_exec".into()], ..FakeOptions::default() });
    let cm = block_on(fake.cluster_manager()).unwrap();
    let spec = JobSpec::new("hello").driver(Driver::RawExec).command(["echo", "hi"]);
    block_on(cm.create_job("default", &spec)).unwrap();
    let job = block_on(cm.wait_for_job("default", "hello", HOUR)).unwrap();
    assert_eq!((job.status, job.pending_reason), (Some(Status::Succeeded), None));
}

#[test]
fn an_invalid_image_name_ends_the_wait_at_once() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let cm = block_on(fake.cluster_manager()).unwrap();
        block_on(cm.create_job("default", &JobSpec::new("hello").image("BusyBox").command(["true"]))).unwrap();
        let started = fake.elapsed();
        let reason = cannot_run(block_on(cm.wait_for_job("default", "hello", HOUR)));
        assert_eq!((reason.kind, reason.permanent), (ReasonKind::InvalidImage, true));
        assert!(reason.message.contains("repository name must be lowercase"), "{}", reason.message);
        assert!(fake.elapsed() - started < Duration::from_secs(5));
    }
}

#[test]
fn an_image_that_cannot_be_pulled_ends_the_wait_at_the_stuck_deadline() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions {
            kubernetes: version,
            missing_images: vec!["example.com/nope:1".into()],
            ..FakeOptions::default()
        });
        let cm = block_on(fake.cluster_manager()).unwrap();
        block_on(cm.create_job("default", &JobSpec::new("hello").image("example.com/nope:1").command(["true"])))
            .unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let options = WaitOptions::new().timeout(HOUR).on_progress(move |p| log.lock().unwrap().push(p.clone()));
        let started = fake.elapsed();
        let reason = cannot_run(block_on(cm.wait_for_job_with("default", "hello", &options)));
        let took = fake.elapsed() - started;
        assert_eq!((reason.kind, reason.permanent), (ReasonKind::ImagePull, false));
        assert!(reason.message.contains("Back-off pulling image"), "{}", reason.message);
        assert!(took >= Duration::from_secs(300) && took < Duration::from_secs(335), "took {took:?}");
        // the caller saw the reason as it appeared, then as it changed (ErrImagePull → back-off)
        let stuck: Vec<String> = seen
            .lock()
            .unwrap()
            .iter()
            .filter_map(|p| match p {
                Progress::Stuck { reason, .. } => Some(reason.source.clone()),
                _ => None,
            })
            .collect();
        assert!(stuck.first().is_some_and(|s| s.ends_with("ErrImagePull")), "{stuck:?}");
        assert!(stuck.last().is_some_and(|s| s.ends_with("ImagePullBackOff")), "{stuck:?}");
    }
}

#[test]
fn an_unschedulable_pod_waits_for_room_and_the_timeout_names_why() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let cm = block_on(fake.cluster_manager()).unwrap();
        block_on(cm.create_job("default", &JobSpec::new("big").image("busybox").cpu_limit("64").command(["true"])))
            .unwrap();
        let job = block_on(cm.get_job("default", "big")).unwrap();
        assert_eq!(job.pending_reason.as_ref().map(|r| r.kind), Some(ReasonKind::ResourcesExhausted));

        // waiting for room is not cut by the stuck deadline: only the caller's timeout ends it
        let err = block_on(cm.wait_for_job("default", "big", Some(Duration::from_secs(400)))).unwrap_err();
        let Error::Timeout { what } = &err else { panic!("expected a timeout, got {err:?}") };
        assert!(what.contains("last reason: pod big-"), "{what}");
        assert!(what.contains("0/1 nodes are available: 1 Insufficient cpu."), "{what}");

        // a strict startup deadline ends it with the reason
        let options = WaitOptions::new().timeout(HOUR).startup_deadline(Some(Duration::from_secs(120)));
        let started = fake.elapsed();
        let reason = cannot_run(block_on(cm.wait_for_job_with("default", "big", &options)));
        assert_eq!(reason.kind, ReasonKind::ResourcesExhausted);
        let took = fake.elapsed() - started;
        assert!(took >= Duration::from_secs(120) && took < Duration::from_secs(125), "took {took:?}");
    }
}

#[test]
fn a_node_selector_no_node_matches_is_stuck_not_waiting_for_room() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let cm = block_on(fake.cluster_manager()).unwrap();
        let Backend::Kubernetes(ctx) = cm.backend() else { unreachable!() };
        let job = serde_json::json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "picky"},
            "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never", "nodeSelector": {"disk": "ssd"},
                "containers": [{"name": "main", "image": "busybox", "command": ["true"]}]}}}});
        let _: serde_json::Value = block_on(cm.run(k8s::api::create(
            ctx,
            &k8s::api::Resource::JOBS,
            Some("default"),
            &job,
            &Default::default(),
        )))
        .unwrap();
        let options = WaitOptions::new().timeout(HOUR).stuck_deadline(Some(Duration::from_secs(60)));
        let reason = cannot_run(block_on(cm.wait_for_job_with("default", "picky", &options)));
        assert_eq!(reason.kind, ReasonKind::ConstraintFiltered);
        assert!(reason.message.contains("didn't match node selector"), "{}", reason.message);
    }
}

/// Required node affinity is judged against the node's labels as the scheduler does: an
/// expression the node fails keeps the pod Unschedulable; one it meets runs.
#[test]
fn a_required_node_affinity_no_node_meets_is_stuck_and_one_it_meets_runs() {
    let on_os = |os: &str| {
        serde_json::json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "kubernetes.io/os", "operator": "In", "values": [os]}]}]}}})
    };
    let fake = FakeCluster::kubernetes();
    let cm = block_on(fake.cluster_manager()).unwrap();
    let job = |name: &str, os: &str| {
        let tolerate = serde_json::json!({"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"});
        JobSpec::new(name).image("busybox").command(["true"]).affinity(on_os(os)).toleration(tolerate)
    };
    block_on(cm.create_job("default", &job("on-windows", "windows"))).unwrap();
    let options = WaitOptions::new().timeout(HOUR).stuck_deadline(Some(Duration::from_secs(60)));
    let reason = cannot_run(block_on(cm.wait_for_job_with("default", "on-windows", &options)));
    assert_eq!(reason.kind, ReasonKind::ConstraintFiltered);
    block_on(cm.create_job("default", &job("on-linux", "linux"))).unwrap();
    let done = block_on(cm.wait_for_job("default", "on-linux", HOUR)).unwrap();
    assert_eq!(done.status, Some(Status::Succeeded));
    // the Job the wait returns keeps the server's object, as sent (from the watch event)
    let sent = done.raw.to_value().unwrap();
    assert_eq!(sent["spec"]["template"]["spec"]["tolerations"][0]["key"], "dedicated");
}

#[test]
fn a_job_past_its_backoff_limit_or_deadline_finishes_failed_and_says_why() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let cm = block_on(fake.cluster_manager()).unwrap();
        block_on(cm.create_job("default", &JobSpec::new("fails").image("busybox").command(["sh", "-c", "exit 3"])))
            .unwrap();
        let job = block_on(cm.wait_for_job("default", "fails", HOUR)).unwrap();
        assert_eq!(job.status, Some(Status::Failed));
        assert_eq!(job.pending_reason.map(|r| r.kind), Some(ReasonKind::BackoffLimitExceeded));

        let Backend::Kubernetes(ctx) = cm.backend() else { unreachable!() };
        let slow = serde_json::json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "slow"},
            "spec": {"backoffLimit": 0, "activeDeadlineSeconds": 5, "template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", "sleep 60"]}]}}}});
        let _: serde_json::Value = block_on(cm.run(k8s::api::create(
            ctx,
            &k8s::api::Resource::JOBS,
            Some("default"),
            &slow,
            &Default::default(),
        )))
        .unwrap();
        let job = block_on(cm.wait_for_job("default", "slow", HOUR)).unwrap();
        assert_eq!(job.status, Some(Status::Failed));
        let reason = job.pending_reason.unwrap();
        assert_eq!(reason.kind, ReasonKind::DeadlineExceeded);
        assert!(reason.message.contains("Job was active longer than specified deadline"), "{}", reason.message);
    }
}

#[test]
fn a_healthy_job_reports_its_start_and_end_and_stops_looking_once_started() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let cm = block_on(fake.cluster_manager()).unwrap();
        block_on(cm.create_job("default", &JobSpec::new("ok").image("busybox").command(["sh", "-c", "sleep 120"])))
            .unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let options = WaitOptions::new().timeout(HOUR).on_progress(move |p| log.lock().unwrap().push(p.clone()));
        let before = fake.requests().len();
        let job = block_on(cm.wait_for_job_with("default", "ok", &options)).unwrap();
        assert_eq!(job.status, Some(Status::Succeeded));
        let seen = seen.lock().unwrap();
        assert!(matches!(seen.first(), Some(Progress::Started { .. })), "{seen:?}");
        assert!(matches!(seen.last(), Some(Progress::Finished { status: Some(Status::Succeeded), .. })), "{seen:?}");
        // a two-minute job: the list, the watch, a few looks until it started, then none
        let pod_lists = fake.requests()[before..].iter().filter(|r| r.contains("/pods")).count();
        assert!(pod_lists <= 3, "{pod_lists} looks at the pods");
    }
}

#[test]
fn a_kubernetes_job_without_room_in_its_quota_says_so_and_runs_once_the_quota_grows() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let cm = block_on(fake.cluster_manager()).unwrap();
        block_on(cm.create_namespace("team")).unwrap();
        block_on(cm.define_quota("team", "1", "1Gi")).unwrap();
        let spec =
            JobSpec::new("big").image("busybox").command(["sh", "-c", "echo done"]).cpu_limit("2").mem_limit("512Mi");
        block_on(cm.create_job("team", &spec)).unwrap();
        fake.advance(Duration::from_secs(2));

        // no pod at all: the job's FailedCreate event says why
        let reason = block_on(cm.get_job("team", "big")).unwrap().pending_reason.expect("a reason");
        assert_eq!((reason.kind, reason.permanent), (ReasonKind::QuotaExhausted, false));
        assert!(reason.message.contains("exceeded quota"), "{}", reason.message);
        // the seed's waiting_jobs: a job without any execution yet
        let waiting: Vec<String> = block_on(cm.waiting_jobs("team")).unwrap().into_iter().map(|j| j.name).collect();
        assert_eq!(waiting, ["big"]);
        assert!(block_on(cm.running_jobs("team")).unwrap().is_empty());

        // waiting for room is not cut by the stuck deadline, only by the startup deadline
        let strict = WaitOptions::new().timeout(HOUR).startup_deadline(Some(Duration::from_secs(400)));
        let reason = cannot_run(block_on(cm.wait_for_job_with("team", "big", &strict)));
        assert_eq!(reason.kind, ReasonKind::QuotaExhausted);

        // more room: the job controller's next try creates the pod
        block_on(cm.define_quota("team", "4", "4Gi")).unwrap();
        let job = block_on(cm.wait_for_job("team", "big", HOUR)).unwrap();
        assert_eq!(job.status, Some(Status::Succeeded));
    }
}

/// A Job with no pod (its quota is full) deleted while an execution wait goes on: no pod event
/// can tell the wait, so its next look at why nothing started reads the Job and finds it gone:
/// NotFound, not a wait to the timeout naming the quota.
#[test]
fn an_execution_wait_on_a_job_without_pods_ends_when_the_job_is_deleted() {
    use clustermanager_core::Transport;
    let fake = FakeCluster::kubernetes();
    let cm = block_on(fake.cluster_manager()).unwrap();
    block_on(cm.create_namespace("team")).unwrap();
    block_on(cm.define_quota("team", "1", "1Gi")).unwrap();
    let spec = JobSpec::new("big").image("busybox").command(["sleep", "5"]).cpu_limit("2").mem_limit("512Mi");
    block_on(cm.create_job("team", &spec)).unwrap();
    let started = fake.elapsed();
    let transport = fake.transport();
    let wait = cm.wait_for_job_execution_status("team", "big", &[Status::Running], HOUR);
    let delete = async {
        transport.sleep(Duration::from_secs(30)).await;
        cm.delete_job("team", "big", Default::default()).await
    };
    let (waited, deleted) = block_on(futures_lite::future::zip(wait, delete));
    assert!(deleted.unwrap());
    match waited {
        Err(Error::NotFound(e)) => assert!(e.message.contains("deleted while waiting"), "{}", e.message),
        other => panic!("{other:?}"),
    }
    let took = fake.elapsed() - started;
    // the next look comes within the longest pause between looks (30 s)
    assert!(took < Duration::from_secs(61), "took {took:?}");
}

/// The same on Nomad: a job larger than the node stays blocked (its evaluation says the node's
/// memory is exhausted, as Nomad 1.1 answers); purged while execution and job waits go on, both
/// end with NotFound at once: the purge moves the job list's index (as Nomad's jobs table index
/// does), which answers their blocking queries.
#[test]
fn nomad_waits_on_a_blocked_job_end_when_the_job_is_deregistered() {
    use clustermanager_core::Transport;
    let fake = FakeCluster::nomad();
    let cm = block_on(fake.cluster_manager()).unwrap();
    let spec = JobSpec::new("huge").image("busybox").command(["sleep", "5"]).mem_limit("64Gi");
    block_on(cm.create_job("default", &spec)).unwrap();
    let reason = block_on(cm.get_job("default", "huge")).unwrap().pending_reason.expect("a reason");
    assert!(reason.message.contains("memory"), "{reason:?}");
    let started = fake.elapsed();
    let transport = fake.transport();
    let patient = WaitOptions::new().timeout(HOUR).fail_fast(false);
    let executions = cm.wait_for_job_execution_status_with("default", "huge", &[Status::Running], &patient);
    let job = cm.wait_for_job_with("default", "huge", &patient);

    let delete = async {
        transport.sleep(Duration::from_secs(30)).await;
        cm.delete_job("default", "huge", Default::default()).await
    };
    let ((executions, job), deleted) =
        block_on(futures_lite::future::zip(futures_lite::future::zip(executions, job), delete));
    assert!(deleted.unwrap());
    assert!(matches!(executions, Err(Error::NotFound(_))), "{executions:?}");
    assert!(matches!(job, Err(Error::NotFound(_))), "{job:?}");
    let took = fake.elapsed() - started;
    assert!(took < Duration::from_secs(61), "took {took:?}");
}

/// Nomad places what fits beside what already runs: of three jobs asking 3 GiB each of the fake
/// node's 8 GiB, two run and the third waits, its evaluation blocked on memory (its pending
/// reason says so, not permanent) and its summary counting it queued. When the first ends, the
/// blocked evaluation runs again and places it; a wait on it (fail-fast on) waits until then.
#[test]
fn nomad_queues_a_job_the_node_has_no_room_left_for_and_runs_it_when_room_frees() {
    let fake = FakeCluster::nomad();
    let cm = block_on(fake.cluster_manager()).unwrap();
    for (name, secs) in [("first", 10), ("second", 30), ("third", 1)] {
        let spec = JobSpec::new(name).command(["/bin/sh", "-c", &format!("sleep {secs}")]).mem_limit("3Gi");
        block_on(cm.create_job("default", &spec)).unwrap();
    }
    let third = block_on(cm.get_job("default", "third")).unwrap();
    let reason = third.pending_reason.clone().expect("why the third waits");
    assert_eq!((reason.kind, reason.permanent), (ReasonKind::ResourcesExhausted, false), "{reason:?}");
    assert!(reason.message.contains("memory"), "{reason:?}");
    assert_eq!((third.active, third.pending), (0, 1), "queued, not placed: {third:?}");
    assert!(block_on(cm.list_job_executions("default", "third")).unwrap().is_empty());
    assert_eq!(block_on(cm.list_job_executions("default", "second")).unwrap().len(), 1);

    let started = fake.elapsed();
    let job = block_on(cm.wait_for_job("default", "third", HOUR)).unwrap();
    assert_eq!(job.status, Some(Status::Succeeded));
    let took = fake.elapsed() - started;
    // placed when the first ended (10 s), long before the second ends (30 s)
    assert!(took >= Duration::from_secs(10) && took < Duration::from_secs(20), "took {took:?}");
    let first = block_on(cm.get_job("default", "first")).unwrap();
    assert_eq!(first.status, Some(Status::Succeeded));

    // a queued job that is stopped counts nothing queued any more
    for name in ["fourth", "fifth"] {
        let spec = JobSpec::new(name).command(["sleep", "100"]).mem_limit("3Gi");
        block_on(cm.create_job("default", &spec)).unwrap();
    }
    assert_eq!(block_on(cm.get_job("default", "fifth")).unwrap().pending, 1);
    block_on(cm.delete_job("default", "fifth", DeleteOptions { wait: false, purge: false })).unwrap();
    assert_eq!(block_on(cm.get_job("default", "fifth")).unwrap().pending, 0);
}

/// The Kubernetes scheduler counts what the pods on the node request: of two Jobs asking 3 of
/// the fake node's 4 CPUs, the second's pod stays Pending (`Insufficient cpu`, not permanent)
/// until the first's pod ends; then it is scheduled, and a wait on it (fail-fast on) gets it.
#[test]
fn a_kubernetes_pod_without_room_is_scheduled_when_room_frees() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let cm = block_on(fake.cluster_manager()).unwrap();
        for (name, secs) in [("first", 10), ("second", 1)] {
            let spec =
                JobSpec::new(name).image("busybox").command(["sh", "-c", &format!("sleep {secs}")]).cpu_limit("3");
            block_on(cm.create_job("default", &spec)).unwrap();
        }
        let second = block_on(cm.get_job("default", "second")).unwrap();
        let reason = block_on(cm.diagnose_job("default", "second")).unwrap().reason.expect("why the second waits");
        assert_eq!(
            (reason.kind, reason.permanent),
            (ReasonKind::ResourcesExhausted, false),
            "{version:?} {reason:?} {second:?}"
        );
        assert!(reason.message.contains("Insufficient cpu"), "{reason:?}");

        let started = fake.elapsed();
        let job = block_on(cm.wait_for_job("default", "second", HOUR)).unwrap();
        assert_eq!(job.status, Some(Status::Succeeded), "{version:?}");
        let took = fake.elapsed() - started;
        // scheduled when the first's pod ended (10 s and its start), not before
        assert!(took >= Duration::from_secs(10) && took < Duration::from_secs(20), "{version:?} took {took:?}");
    }
}

#[test]
fn an_execution_wait_also_ends_at_once_on_a_permanent_reason() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let cm = block_on(fake.cluster_manager()).unwrap();
        block_on(cm.create_job("default", &JobSpec::new("bad").image("Busy Box").command(["true"]))).unwrap();
        let started = fake.elapsed();
        let result = block_on(cm.wait_for_job_execution_status("default", "bad", &[Status::Running], HOUR));
        match result {
            Err(Error::CannotRun { reason, .. }) => assert_eq!(reason.kind, ReasonKind::InvalidImage),
            other => panic!("expected CannotRun, got {other:?}"),
        }
        assert!(fake.elapsed() - started < Duration::from_secs(5), "{:?}", fake.elapsed() - started);

        let fake =
            FakeCluster::nomad_with(FakeOptions { nomad_drivers: vec!["exec".into()], ..FakeOptions::default() });
        let cm = block_on(fake.cluster_manager()).unwrap();
        block_on(cm.create_job("default", &JobSpec::new("hello").image("busybox").command(["true"]))).unwrap();
        let result = block_on(cm.wait_for_job_execution_status("default", "hello", &[Status::Running], HOUR));
        assert!(
            matches!(result, Err(Error::CannotRun { ref reason, .. }) if reason.kind == ReasonKind::MissingDriver),
            "{result:?}"
        );
    }
}

/// Pod Security admission (1.36): in a namespace enforcing `baseline`, a privileged Job is
/// created but its pods are refused; the wait ends at once with `CannotRun` naming Pod
/// Security in the apiserver's words. A 1.19 server has no Pod Security admission: it runs.
#[test]
fn a_job_refused_by_pod_security_cannot_run_on_1_36_and_runs_on_1_19() {
    use clustermanager_core::k8s::api::{self, Resource, WriteParams};
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let cm = block_on(fake.cluster_manager()).unwrap();
        let Backend::Kubernetes(ctx) = cm.backend() else { panic!("kubernetes") };
        let ns = serde_json::json!({"metadata": {"name": "psa", "labels": {"pod-security.kubernetes.io/enforce": "baseline"}}});
        let _: serde_json::Value =
            block_on(cm.run(api::create(ctx, &Resource::NAMESPACES, None, &ns, &WriteParams::default()))).unwrap();
        let spec = JobSpec::new("root").image("busybox").command(["sh", "-c", "echo hi"]).privileged(true);
        block_on(cm.create_job("psa", &spec)).unwrap();
        let started = fake.elapsed();
        let result = block_on(cm.wait_for_job("psa", "root", HOUR));
        match version {
            KubernetesVersion::V1_36 => {
                let reason = cannot_run(result);
                assert_eq!((reason.kind, reason.permanent), (ReasonKind::AdmissionRefused, true));
                assert!(reason.message.starts_with("Pod Security admission refuses its pod"), "{}", reason.message);
                assert!(
                    reason.message.contains("violates PodSecurity \"baseline:latest\": privileged (container \"main\""),
                    "{}",
                    reason.message
                );
                assert!(fake.elapsed() - started < Duration::from_secs(60), "at once: {:?}", fake.elapsed() - started);
            }
            KubernetesVersion::V1_19 => assert_eq!(result.unwrap().status, Some(Status::Succeeded)),
        }
    }
}
