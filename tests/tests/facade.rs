//! The seed's API through the `ClusterManager` facade, over a transport that answers from the
//! recordings: the same program runs on Kubernetes and on Nomad, only the config differs.

use clustermanager_core::Backend;
use clustermanager_core::{k8s, ClusterManager, Config, Error, ReasonKind, Status, Transport};
use clustermanager_tests::transport::{block_on, ReplayTransport};
use clustermanager_tests::Scenario;

/// What the program learns about a finished job.
#[derive(Debug, PartialEq)]
struct Report {
    nodes_ready: usize,
    job_status: Option<Status>,
    /// How the job ended, as the job itself says (issue 22: no execution reading needed).
    job_exit_code: Option<i32>,
    failed_because: Option<ReasonKind>,
    executions: Vec<(Option<Status>, Option<i32>)>,
}

/// One program, written once against the facade.
async fn report<T: Transport>(cm: &ClusterManager<T>, namespace: &str, job: &str) -> Result<Report, Error> {
    let nodes = cm.get_nodes().await?;
    let job = cm.get_job(namespace, job).await?;
    let executions = cm.list_job_executions(namespace, &job.name).await?;
    Ok(Report {
        nodes_ready: nodes.iter().filter(|n| n.ready).count(),
        job_status: job.status,
        job_exit_code: job.exit_code,
        failed_because: job.pending_reason.as_ref().map(|r| r.kind),
        executions: executions.iter().map(|e| (e.status, e.tasks.first().and_then(|t| t.exit_code))).collect(),
    })
}

#[test]
fn the_same_program_reports_a_failed_job_on_kubernetes_and_on_nomad() {
    let mut expected = Report {
        nodes_ready: 1,
        job_status: Some(Status::Failed),
        job_exit_code: Some(3),
        failed_because: Some(ReasonKind::BackoffLimitExceeded),
        executions: vec![(Some(Status::Failed), Some(3))],
    };

    // Kubernetes v1.19: the `failer` job of acm-26 exits 3.
    let k8s = Scenario::load("k8s/acm-26-job-with-node-agent.json");
    // get_job (the Job, then how it ended: the Job and its pods again); list_job_executions
    let transport = ReplayTransport::new(&k8s, [0, 10, 10, 11, 10, 11]);
    let config = Config::kubernetes("https://127.0.0.1:6443").unwrap();
    let cm = block_on(ClusterManager::connect(transport.clone(), &config, 7)).unwrap();
    assert_eq!(block_on(report(&cm, "acm-run", "failer")).unwrap(), expected);
    assert_eq!(transport.remaining(), 0);

    // Nomad 1.1.2: connect learns the datacenter, then the same calls; `acm-fail` exits 3, and
    // the failed task is the reason (a Nomad job has no condition of its own to say why).
    expected.failed_because = Some(ReasonKind::TaskFailed);
    let discovery = Scenario::load("nomad/07-datacenter-discovery.json");
    let nodes = Scenario::load("nomad/04-nodes-list.json");
    let node = Scenario::load("nomad/05-node-detail.json");
    let fails = Scenario::load("nomad/09-batch-job-fails.json");
    let transport =
        ReplayTransport::chain(&[(&discovery, &[0, 1]), (&nodes, &[0]), (&node, &[0]), (&fails, &[1, 2, 3, 3, 3])]);
    let config = Config::nomad("http://127.0.0.1:4646").unwrap();
    let cm = block_on(ClusterManager::connect(transport.clone(), &config, 7)).unwrap();
    let Backend::Nomad(ctx) = cm.backend() else { panic!("a Nomad backend") };
    assert_eq!(ctx.datacenters, vec!["dc1".to_owned()]);
    assert_eq!(block_on(report(&cm, "default", "acm-fail")).unwrap(), expected);
    assert_eq!(transport.remaining(), 0);
}

#[test]
fn nomad_connect_fails_clearly_when_the_agent_is_not_nomad() {
    // /v1/regions answers a JSON array, not an agent description.
    let regions = Scenario::load("nomad/06-regions.json");
    let transport = ReplayTransport::chain(&[]).with_response_of(&regions, 0);
    let config = Config::nomad("http://127.0.0.1:4646").unwrap();
    let err = block_on(ClusterManager::connect(transport, &config, 7)).unwrap_err();
    assert!(matches!(err, Error::Config { ref key, .. } if key == "NOMAD_ADDR"), "{err}");
}

#[test]
fn operations_nomad_does_not_offer_are_unsupported_not_silent() {
    let config = Config::nomad("http://127.0.0.1:4646").unwrap();
    let discovery = Scenario::load("nomad/07-datacenter-discovery.json");
    let cm = block_on(ClusterManager::connect(ReplayTransport::new(&discovery, [0, 1]), &config, 7)).unwrap();
    for err in [
        block_on(cm.define_quota("default", "1", "1Gi")).unwrap_err(),
        block_on(cm.get_config_maps("default", "")).unwrap_err(),
        block_on(cm.install_tfjobs()).unwrap_err(),
        block_on(cm.list_tfjobs("default")).unwrap_err(),
    ] {
        assert!(matches!(err, Error::Unsupported { orchestrator: "Nomad", .. }), "{err}");
    }
}

#[test]
fn kubernetes_names_are_checked_before_any_request() {
    let empty = Scenario::load("k8s/acm-04-list-nodes-empty.json");
    let transport = ReplayTransport::new(&empty, []);
    let cm = ClusterManager::from_parts(transport.clone(), Backend::Kubernetes(k8s::Context::default()));
    let err = block_on(cm.create_namespace("Not_A_Name")).unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    assert!(transport.requests().is_empty());
}

#[test]
fn nomad_prefix_namespaces_are_a_config_choice() {
    // The seed's scheme for Nomad servers without namespaces: jobs of namespace `acm` are the
    // jobs whose ID starts with `acm-`, and their names come back without the prefix.
    let discovery = Scenario::load("nomad/07-datacenter-discovery.json");
    let list = Scenario::load("nomad/16-job-list-prefix.json");
    let transport = ReplayTransport::chain(&[(&discovery, &[0, 1]), (&list, &[0])]);
    let config = Config::nomad("http://127.0.0.1:4646").unwrap().with_nomad_prefix_namespaces();
    let cm = block_on(ClusterManager::connect(transport.clone(), &config, 7)).unwrap();
    let names: Vec<String> = block_on(cm.list_jobs("acm")).unwrap().into_iter().map(|j| j.name).collect();
    assert!(names.contains(&"fail".to_owned()) && names.contains(&"ok".to_owned()), "{names:?}");
    assert_eq!(transport.remaining(), 0);
}
