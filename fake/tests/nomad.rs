//! The seed API on the fake Nomad agent, through the real facade.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Duration;

use clustermanager_core::{ClusterManager, DeleteOptions, Error, JobSpec, LogOptions, Status};
use clustermanager_fake::{block_on, FakeCluster, FakeOptions, FakeTransport, KubernetesVersion};

fn setup(ns: &str) -> (FakeCluster, ClusterManager<FakeTransport>) {
    let fake = FakeCluster::nomad();
    let cm = block_on(fake.cluster_manager()).unwrap();
    assert!(block_on(cm.create_namespace(ns)).unwrap());
    (fake, cm)
}

fn job(name: &str, script: &str) -> JobSpec {
    JobSpec::new(name).command(["/bin/sh", "-c", script])
}

#[test]
fn connect_learns_region_and_datacenter() {
    let fake = FakeCluster::nomad();
    let cm = block_on(fake.cluster_manager()).unwrap();
    let nodes = block_on(cm.get_nodes()).unwrap();
    assert_eq!(nodes.len(), 1);
    assert!(nodes[0].ready);
    assert_eq!(fake.requests()[0], "GET /v1/agent/self");
}

#[test]
fn namespaces_report_existing_and_missing() {
    let (_fake, cm) = setup("team");
    assert!(!block_on(cm.create_namespace("team")).unwrap());
    assert!(block_on(cm.delete_namespace("team")).unwrap());
    assert!(!block_on(cm.delete_namespace("team")).unwrap());
}

#[test]
fn jobs_list_get_and_cleanup() {
    let (_fake, cm) = setup("b");
    block_on(cm.create_job("b", &job("one", "echo 1"))).unwrap();
    block_on(cm.create_job("b", &job("two", "sleep 100; echo 2"))).unwrap();
    assert_eq!(block_on(cm.wait_for_job("b", "one", None)).unwrap().status, Some(Status::Succeeded));
    assert_eq!(block_on(cm.get_job("b", "two")).unwrap().status, Some(Status::Running));
    let names: Vec<String> = block_on(cm.list_jobs("b")).unwrap().into_iter().map(|j| j.name).collect();
    assert_eq!(names, ["one", "two"]);
    assert_eq!(block_on(cm.running_jobs("b")).unwrap().len(), 1);
    assert_eq!(block_on(cm.list_jobs_executions("b")).unwrap().len(), 2);
    let err = block_on(cm.get_job("b", "three")).unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    let cleaned = block_on(cm.cleanup_finished_jobs("b")).unwrap();
    assert_eq!(cleaned, ["one"], "only finished jobs are cleaned up");
    // the seed's cleanup_jobs: every job, the running one too; none is left
    assert_eq!(block_on(cm.cleanup_jobs("b")).unwrap(), 0);
    assert!(block_on(cm.list_jobs("b")).unwrap().is_empty());
}

#[test]
fn follow_a_log_and_stop_an_execution() {
    let (_fake, cm) = setup("l");
    block_on(cm.create_job("l", &job("talk", "echo a; echo b; sleep 5"))).unwrap();
    let alloc =
        block_on(cm.wait_for_job_execution_status("l", "talk", &[Status::Running], Some(Duration::from_secs(30))))
            .unwrap()
            .id;
    let lines: Vec<String> = block_on(async {
        let mut stream = cm.get_execution_log_watch("l", &alloc, &LogOptions::default());
        let mut out = Vec::new();
        while let Some(line) = stream.next().await {
            out.push(line.unwrap().text);
        }
        out
    });
    assert_eq!(lines, ["a", "b"]);
    block_on(cm.create_job("l", &job("stopme", "sleep 1000"))).unwrap();
    let alloc = block_on(cm.wait_for_job_execution_status("l", "stopme", &[Status::Running], None)).unwrap().id;
    assert!(block_on(cm.delete_execution("l", &alloc)).unwrap());
    let done = block_on(cm.wait_for_job("l", "stopme", Some(Duration::from_secs(60)))).unwrap();
    assert_ne!(done.status, Some(Status::Running));
}

#[test]
fn scale_a_running_job() {
    let (fake, cm) = setup("s");
    let spec = job("web", "sleep 1000");
    block_on(cm.create_job("s", &spec)).unwrap();
    let scale = block_on(cm.get_scale_deploy("s", "web")).unwrap();
    assert_eq!((scale.replicas, scale.desired), (0, 1), "asked for, not running yet");
    fake.advance(std::time::Duration::from_secs(2));
    assert_eq!(block_on(cm.get_scale_deploy("s", "web")).unwrap().replicas, 1);
    assert_eq!(block_on(cm.set_scale_deploy("s", "web", 3)).unwrap().desired, 3);
    assert_eq!(block_on(cm.list_job_executions("s", "web")).unwrap().len(), 3);
    block_on(cm.delete_job("s", "web", DeleteOptions { wait: true, purge: true })).unwrap();
    let err = block_on(cm.get_job("s", "web")).unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
}

#[test]
fn kubernetes_only_operations_are_unsupported() {
    let fake = FakeCluster::nomad();
    let cm = block_on(fake.cluster_manager()).unwrap();
    assert!(matches!(block_on(cm.get_config_maps("default", "")), Err(Error::Unsupported { .. })));
}

#[test]
fn logs_appear_as_the_task_writes_them() {
    let (fake, cm) = setup("prog");
    block_on(cm.create_job("prog", &job("p", "echo first; sleep 10; echo second"))).unwrap();
    let alloc = block_on(cm.wait_for_job_execution_status("prog", "p", &[Status::Running], None)).unwrap().id;
    assert_eq!(block_on(cm.get_execution_log("prog", &alloc, &LogOptions::default())).unwrap(), "first\n");
    let started = fake.elapsed();
    let lines: Vec<(String, Duration)> = block_on(async {
        let mut stream = cm.get_execution_log_watch("prog", &alloc, &LogOptions::default());
        let mut out = Vec::new();
        while let Some(line) = stream.next().await {
            out.push((line.unwrap().text, fake.elapsed() - started));
        }
        out
    });
    assert_eq!(lines, [("first".to_string(), Duration::ZERO), ("second".to_string(), Duration::from_secs(10))]);
}

#[test]
fn a_second_create_of_a_name_is_refused_as_the_agent_refuses_it() {
    let fake = FakeCluster::nomad();
    let cm = block_on(fake.cluster_manager()).unwrap();
    block_on(cm.create_namespace("dup")).unwrap();
    let spec = JobSpec::new("twice").command(["sh", "-c", "sleep 30"]);
    block_on(cm.create_job("dup", &spec)).unwrap();
    let err = block_on(cm.create_job("dup", &spec)).unwrap_err();
    assert!(matches!(err, Error::AlreadyExists(ref a) if a.message.contains("Enforcing job modify index 0")), "{err}");
    // stopped but not purged: the job still exists in the agent's state
    block_on(cm.delete_job("dup", "twice", DeleteOptions { wait: true, purge: false })).unwrap();
    assert!(matches!(block_on(cm.create_job("dup", &spec)), Err(Error::AlreadyExists(_))));
    // purged (the default): the name is free again
    block_on(cm.delete_job("dup", "twice", DeleteOptions { wait: true, ..DeleteOptions::default() })).unwrap();
    block_on(cm.create_job("dup", &spec)).unwrap();
}

#[test]
fn the_agent_resets_connections_beyond_its_per_client_limit() {
    use clustermanager_core::transport::Opened;
    use clustermanager_core::Transport;
    let fake = FakeCluster::nomad();
    let transport = fake.transport();
    let open = || {
        let req = clustermanager_core::step::request(http::Method::GET, "/v1/event/stream?topic=Job", None).unwrap();
        block_on(transport.open(req, clustermanager_core::deadline::Io::new()))
    };
    let mut streams = Vec::new();
    for _ in 0..clustermanager_fake::NOMAD_MAX_CONNS_PER_CLIENT {
        match open().unwrap() {
            Opened::Stream(_, body) => streams.push(body),
            Opened::Complete(r) => panic!("not a stream: {}", r.status()),
        }
    }
    assert_eq!((fake.open_streams(), fake.peak_streams()), (100, 100));
    // the 101st connection (a stream or a plain request) is reset, as the real agent does
    assert!(matches!(open(), Err(Error::Transport { .. })));
    let get = clustermanager_core::step::request(http::Method::GET, "/v1/jobs", None).unwrap();
    assert!(matches!(
        block_on(transport.send(get, clustermanager_core::deadline::Io::new())),
        Err(Error::Transport { .. })
    ));
    streams.pop();
    assert!(open().is_ok(), "a closed stream frees its connection");
    drop(streams);
    assert_eq!(fake.open_streams(), 0, "every stream closed, the last one dropped as soon as it opened");
}

/// The seed's `None` answers, portably: a missing job is `None` with `found()`, and a quota
/// (a Nomad Enterprise feature) is skipped with `supported()` where the seed did nothing.
#[test]
fn seed_like_none_answers_on_both_orchestrators() {
    use clustermanager_core::ResultExt;
    for fake in [
        FakeCluster::kubernetes_with(FakeOptions::on(KubernetesVersion::V1_19)),
        FakeCluster::kubernetes(),
        FakeCluster::nomad(),
    ] {
        let cm = block_on(fake.cluster_manager()).unwrap();
        block_on(cm.create_namespace("q")).unwrap();
        assert!(block_on(cm.get_job("q", "missing")).found().unwrap().is_none());
        block_on(cm.create_job("q", &JobSpec::new("here").image("busybox").command(["echo", "hi"]))).unwrap();
        assert_eq!(block_on(cm.get_job("q", "here")).found().unwrap().map(|j| j.name).as_deref(), Some("here"));
        let quota = block_on(cm.define_quota("q", "2", "1Gi")).supported().unwrap();
        assert_eq!(quota.is_some(), fake.config().orchestrator == clustermanager_core::Orchestrator::Kubernetes);
        // other errors stay errors
        let timed_out: Result<u8, Error> = Err(Error::Timeout { what: "x".into() });
        assert!(matches!(timed_out.clone().found(), Err(Error::Timeout { .. })));
        assert!(matches!(timed_out.supported(), Err(Error::Timeout { .. })));
    }
}

#[test]
fn list_namespaces_shows_each_with_its_description() {
    let (_fake, cm) = setup("team-a");
    let namespaces = block_on(cm.list_namespaces()).unwrap();
    let names: Vec<&str> = namespaces.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["default", "team-a"]);
    assert_eq!(namespaces[0].description.as_deref(), Some("Default shared namespace"));
    assert!(namespaces.iter().all(|n| n.phase == "Active"));
}
