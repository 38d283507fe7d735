//! The README quickstart: recreate a namespace, run a batch job in it, wait for it (event-driven,
//! printing its progress), print its log, clean up. The same program runs on Kubernetes and on Nomad; only the config
//! (found by `Config::infer`: kubeconfig, in-cluster service account, or `NOMAD_ADDR`) differs.
//! With no cluster configured at all it runs on the embedded fake cluster (`clustermanager-fake`;
//! `QUICKSTART_FAKE=nomad` picks the fake Nomad agent). A configuration that is there but broken
//! (a kubeconfig that is not YAML, names a context it lacks or a server that is not a URL) is an
//! error naming the file and what is wrong, and the quickstart exits non-zero: it never stands in
//! the fake for a cluster you meant to use.
//!
//! ```sh
//! cargo run -p clustermanager-tokio --example quickstart
//! RUST_LOG=clustermanager=debug cargo run -p clustermanager-tokio --example quickstart  # with spans
//! ```
//!
//! `RUST_LOG` sets what `tracing-subscriber` prints (default: warnings only; `clustermanager=info`
//! adds the wait progress, which the quickstart also prints itself), and with `clustermanager=debug` one span per operation (`create_job{namespace=… object=hello}`)
//! and per request (`request{method=GET path=/… attempt=1}` with its status and time).

use std::time::Duration;

use clustermanager_fake::FakeCluster;
use clustermanager_tokio::core::{
    ClusterManager, Config, DeleteOptions, Driver, Error, JobSpec, LogOptions, Orchestrator, Transport, WaitOptions,
};
use clustermanager_tokio::StdEnvironment;

const NAMESPACE: &str = "aiocluster-test";

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("clustermanager=warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_target(false).init();
    let result = match Config::infer(&StdEnvironment) {
        Ok(config) => match clustermanager_tokio::connect(&config).await {
            Ok(cm) => run(&cm, &format!("{} at {}", config.orchestrator.name(), config.server)).await,
            Err(err) => Err(err),
        },
        // Only when nothing at all is configured; a broken configuration is an error (below).
        Err(Error::NotConfigured { .. }) => {
            let fake = match std::env::var("QUICKSTART_FAKE").as_deref() {
                Ok("nomad") => FakeCluster::nomad(),
                _ => FakeCluster::kubernetes(),
            };
            println!(
                "No cluster is configured, so the quickstart runs on the embedded fake {} cluster \
                 (set KUBECONFIG or NOMAD_ADDR to run it on a real one).",
                fake.config().orchestrator.name(),
            );
            match fake.cluster_manager().await {
                Ok(cm) => run(&cm, &format!("the embedded fake {} cluster", fake.config().orchestrator.name())).await,
                Err(err) => Err(err),
            }
        }
        Err(err) => Err(err),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("quickstart failed: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The quickstart itself, over any transport (a real cluster or the fake).
async fn run<T: Transport>(cm: &ClusterManager<T>, target: &str) -> Result<(), Error> {
    println!("connected to {target}");

    let nodes = cm.get_nodes().await?;
    for node in &nodes {
        println!("node {} ({}): ready={} drivers={:?}", node.name, node.status, node.ready, node.drivers);
    }

    cm.delete_namespace(NAMESPACE).await?;
    cm.create_namespace(NAMESPACE).await?;

    let mut spec = JobSpec::new("hello")
        .command(["sh", "-c", "echo hello from clustermanager"])
        .cpu_limit("100m")
        .mem_limit("64Mi");
    spec = match cm.orchestrator() {
        Orchestrator::Kubernetes => spec.image("busybox:1.36"),
        // on Nomad: a driver the agent's nodes offer (a dev agent often has no docker)
        Orchestrator::Nomad => match Driver::offered_by(&nodes) {
            Some((Driver::Docker, why)) => {
                println!("task driver: docker ({why})");
                spec.image("busybox:1.36").driver(Driver::Docker)
            }
            Some((driver, why)) => {
                println!("task driver: {driver:?} ({why})");
                spec.driver(driver)
            }
            None => {
                return Err(Error::Unsupported {
                    operation: "the quickstart",
                    orchestrator: "Nomad",
                    hint: "no ready node offers the docker, exec or raw_exec driver; enable one in the client config",
                })
            }
        },
    };
    cm.create_job(NAMESPACE, &spec).await?;

    // print what the wait sees as it happens ("pending: no node has the docker driver", "an
    // execution started", ...), and give up if nothing started within 2 minutes
    let options = WaitOptions::new()
        .timeout(Some(Duration::from_secs(300)))
        .startup_deadline(Some(Duration::from_secs(120)))
        .on_progress(|progress| println!("wait: {progress}"));
    let job = cm.wait_for_job_with(NAMESPACE, "hello", &options).await?;
    println!("job {} finished: {:?} ({})", job.name, job.status, job.raw_status);

    for execution in cm.list_job_executions(NAMESPACE, "hello").await? {
        let log = cm.get_execution_log(NAMESPACE, &execution.id, &LogOptions::default()).await?;
        println!("--- log of {} ---\n{}", execution.id, log.trim_end());
    }

    cm.delete_job(NAMESPACE, "hello", DeleteOptions { wait: true, purge: true }).await?;
    cm.delete_namespace(NAMESPACE).await?;
    Ok(())
}
