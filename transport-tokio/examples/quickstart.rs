//! The README quickstart: recreate a namespace, run a batch job in it, wait for it (event-driven),
//! print its log, clean up. The same program runs on Kubernetes and on Nomad; only the config
//! (found by `Config::infer`: kubeconfig, in-cluster service account, or `NOMAD_ADDR`) differs.
//!
//! ```sh
//! cargo run -p clustermanager-tokio --example quickstart
//! ```

use std::time::Duration;

use clustermanager_tokio::core::{Config, DeleteOptions, Error, JobSpec, LogOptions};
use clustermanager_tokio::StdEnvironment;

const NAMESPACE: &str = "aiocluster-test";

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let config = match Config::infer(&StdEnvironment) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("No cluster is configured, so the quickstart has nothing to run against.\n\n{err}\n");
            eprintln!("Point it at a cluster with one of:");
            eprintln!("  KUBECONFIG=/path/to/kubeconfig   (or ~/.kube/config; `kubectl config current-context` picks the context)");
            eprintln!("  NOMAD_ADDR=http://127.0.0.1:4646 (e.g. `nomad agent -dev`; NOMAD_TOKEN for ACLs)");
            return std::process::ExitCode::from(2);
        }
    };
    match run(&config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("quickstart failed: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(config: &Config) -> Result<(), Error> {
    println!("connecting to {} at {}", config.orchestrator.name(), config.server);
    let cm = clustermanager_tokio::connect(config).await?;

    for node in cm.get_nodes().await? {
        println!("node {} ({}): ready={}", node.name, node.status, node.ready);
    }

    cm.delete_namespace(NAMESPACE).await?;
    cm.create_namespace(NAMESPACE).await?;

    let spec = JobSpec::new("hello")
        .image("busybox:1.36")
        .command(["sh", "-c", "echo hello from clustermanager"])
        .cpu_limit("100m")
        .mem_limit("64Mi");
    cm.create_job(NAMESPACE, &spec).await?;

    let job = cm.wait_for_job(NAMESPACE, "hello", Some(Duration::from_secs(300))).await?;
    println!("job {} finished: {:?} ({})", job.name, job.status, job.raw_status);

    for execution in cm.list_job_executions(NAMESPACE, "hello").await? {
        let log = cm.get_execution_log(NAMESPACE, &execution.id, &LogOptions::default()).await?;
        println!("--- log of {} ---\n{}", execution.id, log.trim_end());
    }

    cm.delete_job(NAMESPACE, "hello", DeleteOptions { wait: true, purge: true }).await?;
    cm.delete_namespace(NAMESPACE).await?;
    Ok(())
}
