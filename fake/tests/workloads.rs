//! Long-running workloads on both fakes: Deployments and StatefulSets (Nomad: service jobs),
//! their pods, scale and waits, the caller's Services, get_namespace and replace_job.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Duration;

use clustermanager_core::{
    Error, JobSpec, PodManagement, Port, Probe, ReasonKind, ServiceDef, ServicePort, ServiceSpec, StatefulOptions,
    Status, WaitOptions, WorkloadKind,
};
use clustermanager_fake::{block_on, FakeCluster, FakeOptions, KubernetesVersion};

const TWO_MINUTES: Option<Duration> = Some(Duration::from_secs(120));

fn web(replicas: u32) -> ServiceSpec {
    ServiceSpec::new(JobSpec::new("web").image("nginx:1.25").label("app", "web").command(["sleep", "3600"]))
        .replicas(replicas)
        .port(Port::tcp("http", 80))
}

#[test]
fn a_kubernetes_deployment_becomes_available_scales_and_goes_with_its_pods() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let cm = block_on(fake.cluster_manager()).unwrap();
        block_on(cm.create_namespace("shop")).unwrap();
        let created = block_on(cm.create_deploy("shop", &web(3))).unwrap();
        assert_eq!((created.replicas, created.ready, created.is_available), (3, 0, false));

        let before = fake.requests().len();
        let up = block_on(cm.deploy_wait_available("shop", "web", TWO_MINUTES)).unwrap();
        assert_eq!((up.ready, up.available, up.updated), (3, 3, 3));
        assert!(up.raw_status.contains("Available=True (MinimumReplicasAvailable)"), "{}", up.raw_status);
        let waited = &fake.requests()[before..];
        let (looks, watched): (Vec<&String>, Vec<&String>) =
            waited.iter().partition(|r| r.contains("/pods?") || r.ends_with("/deployments/web"));
        assert_eq!(watched.len(), 2, "a list and one watch, no polling: {waited:?}");
        // the rollout took a few seconds: one look at why no pod ran yet (the Deployment for its
        // selector, then its pods), no more once they started
        assert!(looks.len() <= 2, "{looks:?}");

        let pods = block_on(cm.list_deploy_pods("shop", "web")).unwrap();
        assert_eq!(pods.len(), 3);
        assert!(pods.iter().all(|p| p.status == Some(Status::Running) && p.id.starts_with("web-")), "{pods:?}");
        assert_eq!(block_on(cm.list_deploys("shop")).unwrap().len(), 1);

        block_on(cm.set_scale_deploy("shop", "web", 1)).unwrap();
        let one = block_on(cm.deploy_wait_available("shop", "web", TWO_MINUTES)).unwrap();
        assert_eq!(one.replicas, 1);
        assert_eq!(block_on(cm.list_deploy_pods("shop", "web")).unwrap().len(), 1);

        assert!(block_on(cm.delete_deploy("shop", "web", true, None)).unwrap());
        assert!(matches!(block_on(cm.get_deploy("shop", "web")), Err(Error::NotFound(_))));
        assert!(fake.executions("shop").is_empty(), "its pods went with it");
        assert!(!block_on(cm.delete_deploy("shop", "web", false, None)).unwrap(), "already gone");
    }
}

#[test]
fn a_kubernetes_statefulset_starts_its_pods_in_order_with_stable_names() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let cm = block_on(fake.cluster_manager()).unwrap();
        let spec = ServiceSpec::new(JobSpec::new("pg").image("postgres:13").label("app", "db")).replicas(3);
        block_on(cm.create_statefulset("default", &spec)).unwrap();
        let started = fake.elapsed();
        let up = block_on(cm.statefulset_wait_available("default", "pg", TWO_MINUTES)).unwrap();
        assert_eq!(up.ready, 3);
        // OrderedReady: each pod starts (one step) after the one before it runs
        assert!(fake.elapsed() - started >= Duration::from_secs(3), "{:?}", fake.elapsed() - started);
        let mut names: Vec<String> =
            block_on(cm.list_statefulset_pods("default", "pg")).unwrap().into_iter().map(|p| p.id).collect();
        names.sort();
        assert_eq!(names, ["pg-0", "pg-1", "pg-2"]);
        assert_eq!(block_on(cm.get_scale_statefulset("default", "pg")).unwrap().replicas, 3);
        block_on(cm.set_scale_statefulset("default", "pg", 2)).unwrap();
        block_on(cm.statefulset_wait_available("default", "pg", TWO_MINUTES)).unwrap();
        let mut names: Vec<String> =
            block_on(cm.list_statefulset_pods("default", "pg")).unwrap().into_iter().map(|p| p.id).collect();
        names.sort();
        assert_eq!(names, ["pg-0", "pg-1"], "the highest ordinal goes first");
    }
}

#[test]
fn a_deployment_whose_image_cannot_be_pulled_says_why_then_fails() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions {
            kubernetes: version,
            missing_images: vec!["example.com/nope:1".into()],
            ..FakeOptions::default()
        });
        let cm = block_on(fake.cluster_manager()).unwrap();
        let spec = ServiceSpec::new(JobSpec::new("web").image("example.com/nope:1"));
        block_on(cm.create_deploy("default", &spec)).unwrap();
        // the timeout names why no pod started
        match block_on(cm.deploy_wait_available("default", "web", Some(Duration::from_secs(30)))) {
            Err(Error::Timeout { what }) => assert!(what.contains("web") && what.contains("pulled"), "{what}"),
            other => panic!("expected a timeout, got {other:?}"),
        }
        // given longer, the stuck deadline (5 minutes, as for jobs) ends it, saying why
        let began = fake.elapsed();
        match block_on(cm.deploy_wait_available("default", "web", Some(Duration::from_secs(3600)))) {
            Err(Error::CannotRun { reason, .. }) => assert_eq!(reason.kind, ReasonKind::ImagePull, "{reason}"),
            other => panic!("expected CannotRun, got {other:?}"),
        }
        let took = fake.elapsed() - began;
        assert!(took >= Duration::from_secs(300) && took < Duration::from_secs(400), "{took:?}");
        // without the stuck deadline, the rollout's progress deadline (600 s) ends the wait saying so
        let options = WaitOptions::new().timeout(Some(Duration::from_secs(3600))).stuck_deadline(None);
        match block_on(cm.wait_workload_available_with(WorkloadKind::Deployment, "default", "web", &options)) {
            Err(Error::CannotRun { reason, .. }) => {
                assert_eq!(reason.kind, ReasonKind::DeploymentFailed);
                assert!(reason.message.contains("timed out progressing"), "{}", reason.message);
            }
            other => panic!("expected CannotRun, got {other:?}"),
        }
        assert!(fake.elapsed() >= Duration::from_secs(600) && fake.elapsed() < Duration::from_secs(1000));
    }
}

#[test]
fn a_deployment_or_nomad_service_that_can_never_run_fails_at_once() {
    for version in KubernetesVersion::ALL {
        // an image reference that is not valid: permanent, the wait ends at the first look
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let cm = block_on(fake.cluster_manager()).unwrap();
        block_on(cm.create_deploy("default", &ServiceSpec::new(JobSpec::new("bad").image("Not A Valid:Image"))))
            .unwrap();
        match block_on(cm.deploy_wait_available("default", "bad", Some(Duration::from_secs(600)))) {
            Err(Error::CannotRun { reason, .. }) => assert_eq!(reason.kind, ReasonKind::InvalidImage, "{reason}"),
            other => panic!("expected CannotRun, got {other:?}"),
        }
        assert!(fake.elapsed() < Duration::from_secs(60), "{:?}", fake.elapsed());
        // a Nomad service whose driver no node has
        let fake =
            FakeCluster::nomad_with(FakeOptions { nomad_drivers: vec!["exec".into()], ..FakeOptions::default() });
        let cm = block_on(fake.cluster_manager()).unwrap();
        let spec = ServiceSpec::new(JobSpec::new("svc").image("nginx").driver(clustermanager_core::Driver::Docker));
        block_on(cm.create_deploy("default", &spec)).unwrap();
        match block_on(cm.deploy_wait_available("default", "svc", Some(Duration::from_secs(600)))) {
            Err(Error::CannotRun { reason, .. }) => assert_eq!(reason.kind, ReasonKind::MissingDriver, "{reason}"),
            other => panic!("expected CannotRun, got {other:?}"),
        }
        assert!(fake.elapsed() < Duration::from_secs(60), "{:?}", fake.elapsed());
    }
}

#[test]
fn kubernetes_services_are_created_read_and_deleted() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let cm = block_on(fake.cluster_manager()).unwrap();
        let def = ServiceDef::new("web").select("app", "web").port(ServicePort::new("http", 80, 8080));
        let svc = block_on(cm.create_service("default", &def)).unwrap();
        assert_eq!(svc.kind, "ClusterIP");
        assert!(svc.cluster_ip.is_some());
        assert_eq!((svc.ports[0].port, svc.ports[0].target_port), (80, 8080));
        let headless = ServiceDef::new("pg").kind("None").select("app", "db").port(ServicePort::new("pg", 5432, 5432));
        assert_eq!(block_on(cm.create_service("default", &headless)).unwrap().cluster_ip, None);
        assert!(matches!(block_on(cm.create_service("default", &def)), Err(Error::AlreadyExists(_))));
        assert_eq!(block_on(cm.get_service("default", "web")).unwrap().selector["app"], "web");
        assert!(block_on(cm.delete_service("default", "web")).unwrap());
        assert!(!block_on(cm.delete_service("default", "web")).unwrap());
        assert!(matches!(block_on(cm.get_service("default", "web")), Err(Error::NotFound(_))));
    }
}

#[test]
fn a_nomad_service_job_is_available_once_its_deployment_succeeds() {
    let fake = FakeCluster::nomad();
    let cm = block_on(fake.cluster_manager()).unwrap();
    let spec = ServiceSpec::new(JobSpec::new("web").image("nginx:1.25").command(["sleep", "3600"])).replicas(2);
    let created = block_on(cm.create_deploy("default", &spec)).unwrap();
    assert_eq!((created.replicas, created.is_available), (2, false));
    assert!(created.raw_status.starts_with("deployment running"), "{}", created.raw_status);

    let started = fake.elapsed();
    let before = fake.requests().len();
    let up = block_on(cm.deploy_wait_available("default", "web", TWO_MINUTES)).unwrap();
    assert_eq!((up.ready, up.replicas), (2, 2));
    assert_eq!(up.raw_status, "deployment successful: Deployment completed successfully");
    // healthy once the allocations ran min_healthy_time (10 s) after starting (one step)
    let took = fake.elapsed() - started;
    assert!(took >= Duration::from_secs(10) && took < Duration::from_secs(15), "{took:?}");
    let reads = &fake.requests()[before..];
    let (looks, blocking): (Vec<&String>, Vec<&String>) =
        reads.iter().partition(|r| r.ends_with("/evaluations") || r.ends_with("/allocations"));
    assert!(blocking.len() <= 3, "blocking queries, not polling: {reads:?}");
    assert!(blocking.iter().skip(2).all(|r| r.contains("index=")), "{reads:?}");
    assert!(looks.len() <= 2, "one look at why it had not started: {looks:?}");

    let pods = block_on(cm.list_deploy_pods("default", "web")).unwrap();
    assert_eq!(pods.len(), 2);
    assert!(pods.iter().all(|p| p.status == Some(Status::Running)));

    block_on(cm.set_scale_deploy("default", "web", 3)).unwrap();
    let three = block_on(cm.deploy_wait_available("default", "web", TWO_MINUTES)).unwrap();
    assert_eq!((three.replicas, three.ready), (3, 3));
    assert_eq!(block_on(cm.list_deploy_pods("default", "web")).unwrap().len(), 3);
    assert_eq!(block_on(cm.list_deploys("default")).unwrap().len(), 1);

    assert!(block_on(cm.delete_deploy("default", "web", true, Some(Duration::from_secs(30)))).unwrap());
    assert!(matches!(block_on(cm.get_deploy("default", "web")), Err(Error::NotFound(_))));
}

#[test]
fn a_nomad_deployment_that_cannot_place_says_so_at_once_or_fails_at_its_progress_deadline() {
    let fake = FakeCluster::nomad_with(FakeOptions {
        nomad_drivers: vec!["raw_exec".into(), "exec".into()],
        ..FakeOptions::default()
    });
    let cm = block_on(fake.cluster_manager()).unwrap();
    let spec = ServiceSpec::new(JobSpec::new("web").image("nginx:1.25"));
    block_on(cm.create_deploy("default", &spec)).unwrap();
    // no node has docker: the first look says so
    match block_on(cm.deploy_wait_available("default", "web", Some(Duration::from_secs(3600)))) {
        Err(Error::CannotRun { job, reason }) => {
            assert_eq!(job, "default/web");
            assert_eq!(reason.kind, ReasonKind::MissingDriver, "{reason}");
        }
        other => panic!("expected CannotRun, got {other:?}"),
    }
    assert!(fake.elapsed() < Duration::from_secs(60), "{:?}", fake.elapsed());
    // told not to stop for it, the deployment's progress deadline ends the wait
    let options = WaitOptions::new().timeout(Some(Duration::from_secs(3600))).fail_fast(false).stuck_deadline(None);
    match block_on(cm.wait_workload_available_with(WorkloadKind::Deployment, "default", "web", &options)) {
        Err(Error::CannotRun { job, reason }) => {
            assert_eq!(job, "default/web");
            assert!(reason.message.contains("Failed due to progress deadline"), "{}", reason.message);
        }
        other => panic!("expected CannotRun, got {other:?}"),
    }
    assert!(fake.elapsed() >= Duration::from_secs(600));
}

#[test]
fn what_nomad_has_no_equivalent_for_is_refused_saying_what_to_do() {
    let fake = FakeCluster::nomad();
    let cm = block_on(fake.cluster_manager()).unwrap();
    let ordered = ServiceSpec::new(JobSpec::new("pg").image("postgres:13"))
        .stateful(StatefulOptions { pod_management: Some(PodManagement::OrderedReady), ..Default::default() });
    assert!(matches!(block_on(cm.create_statefulset("default", &ordered)), Err(Error::Unsupported { .. })));
    let probed = web(1).readiness(Probe::http("/healthz", 80));
    assert!(matches!(block_on(cm.create_deploy("default", &probed)), Err(Error::Unsupported { .. })));
    let def = ServiceDef::new("web").port(ServicePort::new("http", 80, 80));
    match block_on(cm.create_service("default", &def)) {
        Err(Error::Unsupported { hint, .. }) => assert!(hint.contains("Consul"), "{hint}"),
        other => panic!("{other:?}"),
    }
    assert!(fake.requests().iter().all(|r| !r.starts_with("POST /v1/jobs")), "nothing was registered");
    // a parallel StatefulSet maps to a service job with stable allocation names
    let parallel = ServiceSpec::new(JobSpec::new("pg").image("postgres:13").command(["sleep", "3600"]))
        .replicas(2)
        .stateful(StatefulOptions { pod_management: Some(PodManagement::Parallel), ..Default::default() });
    block_on(cm.create_statefulset("default", &parallel)).unwrap();
    assert_eq!(block_on(cm.statefulset_wait_available("default", "pg", TWO_MINUTES)).unwrap().ready, 2);
}

#[test]
fn get_namespace_and_replace_job_on_both() {
    for fake in [
        FakeCluster::kubernetes_with(FakeOptions::on(KubernetesVersion::V1_19)),
        FakeCluster::kubernetes(),
        FakeCluster::nomad(),
    ] {
        let cm = block_on(fake.cluster_manager()).unwrap();
        assert_eq!(block_on(cm.get_namespace("default")).unwrap().phase, "Active");
        assert!(matches!(block_on(cm.get_namespace("nope")), Err(Error::NotFound(_))));
        let spec = JobSpec::new("hello").image("busybox").command(["echo", "hi"]);
        block_on(cm.create_job("default", &spec)).unwrap();
        assert!(matches!(block_on(cm.create_job("default", &spec)), Err(Error::AlreadyExists(_))));
        let again = block_on(cm.replace_job("default", &spec)).unwrap();
        assert_eq!(again.name, "hello");
        assert_eq!(block_on(cm.wait_for_job("default", "hello", TWO_MINUTES)).unwrap().status, Some(Status::Succeeded));
    }
}
