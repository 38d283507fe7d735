//! Concurrent `wait_for_job` on one namespace of the fake cluster (`clustermanager-fake`), as
//! `fake/tests/scale.rs` drives them: N jobs created, then N tasks on one tokio current-thread
//! runtime each waiting for its own job. Measured: the requests the waits made, the most streams
//! (connections) open at once, the peak heap of the whole wait phase, wall and virtual time.
//! Against the baseline the shared observation replaced, on the same fake: each wait running
//! its own watch (Kubernetes) or chain of blocking queries (Nomad), `wait_for_job` from a
//! manager of its own (`ClusterManager::from_parts`: managers share no observation).

use std::time::{Duration, Instant};

use clustermanager_core::{ClusterManager, JobSpec, Status};
use clustermanager_fake::{block_on, FakeCluster, FakeOptions, FakeTransport};

use crate::{bytes, measure_heap, Heap};

const TIMEOUT: Duration = Duration::from_secs(24 * 3600);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `wait_for_job`: concurrent waits share one observation of the namespace.
    Shared,
    /// Each wait observes on its own: `wait_for_job` from a manager of its own, as before sharing.
    OnePerWait,
}

fn create_jobs(cm: &ClusterManager<FakeTransport>, n: usize, kubernetes: bool) {
    block_on(cm.create_namespace("many")).unwrap();
    for i in 0..n {
        let spec = JobSpec::new(format!("j{i}")).command(["/bin/sh", "-c", &format!("sleep {}; echo {i}", 1 + i % 50)]);
        let spec = if kubernetes { spec.image("busybox") } else { spec };
        block_on(cm.create_job("many", &spec)).unwrap();
    }
}

struct Outcome {
    requests: usize,
    peak_streams: usize,
    heap: Heap,
    wall: Duration,
    virtual_time: Duration,
}

fn run(kubernetes: bool, mode: Mode, n: usize) -> Outcome {
    // Nomad: an agent with room for all N at once at Nomad's default ask (100 MHz, 300 MB a
    // job): the waits are measured, not the queue the fake node's default size would make.
    let room = u64::try_from(n).unwrap_or(u64::MAX);
    let fake = if kubernetes {
        FakeCluster::kubernetes()
    } else {
        FakeCluster::nomad_with(FakeOptions {
            nomad_node_cpu_mhz: room.saturating_mul(100).max(4000),
            nomad_node_memory_mb: room.saturating_mul(300).max(8192),
            ..FakeOptions::default()
        })
    };
    let cm = block_on(fake.cluster_manager()).unwrap();
    create_jobs(&cm, n, kubernetes);
    let before = fake.requests().len();
    let (t0, v0) = (Instant::now(), fake.elapsed());
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let (statuses, heap) = measure_heap(|| {
        rt.block_on(async {
            let tasks: Vec<_> = (0..n)
                .map(|i| {
                    let cm = cm.clone();
                    tokio::spawn(async move {
                        let name = format!("j{i}");
                        let job = match mode {
                            Mode::Shared => cm.wait_for_job("many", &name, Some(TIMEOUT)).await,
                            Mode::OnePerWait => {
                                let own = ClusterManager::from_parts(cm.transport().clone(), cm.backend().clone());
                                own.wait_for_job("many", &name, Some(TIMEOUT)).await
                            }
                        };
                        job.map(|j| j.status)
                    })
                })
                .collect();
            let mut statuses = Vec::with_capacity(n);
            for t in tasks {
                statuses.push(t.await.unwrap());
            }
            statuses
        })
    });
    let wall = t0.elapsed();
    for (i, s) in statuses.iter().enumerate() {
        assert!(matches!(s, Ok(Some(Status::Succeeded))), "j{i}: {s:?}");
    }
    Outcome {
        requests: fake.requests().len() - before,
        peak_streams: fake.peak_streams(),
        heap,
        wall,
        virtual_time: fake.elapsed() - v0,
    }
}

/// Print the table, for N = 1, 10, 100, ... up to `max`; the one-wait-each baseline up to 1,000.
pub fn report(max: usize) {
    println!("## Concurrent waits on one namespace (fake cluster; jobs of 1–50 s virtual time)\n");
    println!("| backend | waits | N | requests | per wait | peak open streams | peak heap | per wait | wall time | per wait | virtual time |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for kubernetes in [true, false] {
        let backend = if kubernetes { "Kubernetes" } else { "Nomad" };
        let mut n = 1;
        while n <= max {
            for mode in [Mode::Shared, Mode::OnePerWait] {
                if mode == Mode::OnePerWait && n > 1000 {
                    continue;
                }
                let o = run(kubernetes, mode, n);
                let mode = match mode {
                    Mode::Shared => "shared (`wait_for_job`)",
                    Mode::OnePerWait => "one observation each",
                };
                println!(
                    "| {backend} | {mode} | {n} | {} | {:.2} | {} | {} | {} | {:.0} ms | {:.0} µs | {:.0} s |",
                    o.requests,
                    o.requests as f64 / n as f64,
                    o.peak_streams,
                    bytes(o.heap.peak),
                    bytes(o.heap.peak / n),
                    o.wall.as_secs_f64() * 1e3,
                    o.wall.as_secs_f64() * 1e6 / n as f64,
                    o.virtual_time.as_secs_f64(),
                );
            }
            n *= 10;
        }
    }
    println!();
}
