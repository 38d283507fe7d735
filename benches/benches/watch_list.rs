//! Watch-list against list + watch, on the fake cluster as kube-apiserver v1.36 (which offers
//! watch-list) and as v1.19 (which ignores it): the first `wait_for_job` on a namespace of
//! 1,000 jobs, i.e. the start of the shared observation of its Jobs. Printed once (a markdown
//! table on stdout): the requests and response bytes that start made; then timed by criterion.
//!
//! `cargo bench -p clustermanager-benches --bench watch_list`
//!
//! The three clients: the default manager on v1.36 (watch-list: one request whose first
//! events are the namespace's Jobs), a manager told not to ask (`WatchListSupport::disabled`:
//! list, then watch, as before watch-list) on the same v1.36 server, and the default manager on
//! v1.19 (asks, is ignored: the plain watch's first events serve as the list, or it lists).

use std::hint::black_box;
use std::time::Duration;

use clustermanager_core::k8s::watchlist::WatchListSupport;
use clustermanager_core::{Backend, ClusterManager, JobSpec, Status};
use clustermanager_fake::{block_on, FakeCluster, FakeOptions, FakeTransport, KubernetesVersion};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

/// Jobs in the namespace besides the one waited for.
const JOBS: usize = 1000;

#[derive(Debug, Clone, Copy)]
enum Client {
    WatchList,
    ListWatch,
    Ignored119,
}

impl Client {
    fn name(self) -> &'static str {
        match self {
            Client::WatchList => "v1.36, watch-list",
            Client::ListWatch => "v1.36, list + watch",
            Client::Ignored119 => "v1.19, watch-list ignored",
        }
    }
}

/// A cluster with `JOBS` long-running jobs and one short one, `probe`, in namespace `many`,
/// and a manager of it as `client` says.
fn setup(client: Client) -> Option<(FakeCluster, ClusterManager<FakeTransport>)> {
    let version = match client {
        Client::Ignored119 => KubernetesVersion::V1_19,
        _ => KubernetesVersion::V1_36,
    };
    let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
    let cm = block_on(fake.cluster_manager()).ok()?;
    let cm = match (client, cm.backend().clone()) {
        (Client::ListWatch, Backend::Kubernetes(ctx)) => ClusterManager::from_parts(
            fake.transport(),
            Backend::Kubernetes(clustermanager_core::k8s::Context { watch_list: WatchListSupport::disabled(), ..ctx }),
        ),
        _ => cm,
    };
    block_on(cm.create_namespace("many")).ok()?;
    for i in 0..JOBS {
        let spec = JobSpec::new(format!("j{i}")).image("busybox").command(["sh", "-c", "sleep 3600"]);
        block_on(cm.create_job("many", &spec)).ok()?;
    }
    let probe = JobSpec::new("probe").image("busybox").command(["sh", "-c", "echo hi"]);
    block_on(cm.create_job("many", &probe)).ok()?;
    Some((fake, cm))
}

/// The wait for `probe`: (requests, response bytes) it cost.
fn first_wait(fake: &FakeCluster, cm: &ClusterManager<FakeTransport>) -> (usize, u64) {
    let (requests, bytes) = (fake.requests().len(), fake.bytes_sent());
    let job = block_on(cm.wait_for_job("many", "probe", Some(Duration::from_secs(600))));
    assert!(matches!(job, Ok(ref j) if j.status == Some(Status::Succeeded)), "{job:?}");
    (fake.requests().len() - requests, fake.bytes_sent() - bytes)
}

fn table() {
    println!("\n| first wait on a namespace of {JOBS} jobs | requests | of which lists | response bytes |");
    println!("|---|---:|---:|---:|");
    for client in [Client::WatchList, Client::ListWatch, Client::Ignored119] {
        let Some((fake, cm)) = setup(client) else { continue };
        let before = fake.requests().len();
        let (requests, bytes) = first_wait(&fake, &cm);
        let lists = fake.requests()[before..].iter().filter(|r| r.ends_with("/namespaces/many/jobs")).count();
        println!("| {} | {requests} | {lists} | {bytes} |", client.name());
    }
    println!();
}

fn watch_list(c: &mut Criterion) {
    table();
    let mut group = c.benchmark_group("first_wait_on_1000_jobs");
    group.sample_size(10);
    for client in [Client::WatchList, Client::ListWatch, Client::Ignored119] {
        group.bench_function(client.name(), |b| {
            b.iter_batched(
                || setup(client),
                |ready| ready.map(|(fake, cm)| black_box(first_wait(&fake, &cm))),
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, watch_list);
criterion_main!(benches);
