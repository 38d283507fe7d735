//! Waits at scale: many concurrent `wait_for_job` calls on one namespace share one observation
//! of it, on both fakes, with every wait still answered as on its own.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Duration;

use clustermanager_core::{ClusterManager, Error, JobSpec, Status};
use clustermanager_fake::{block_on, FakeCluster, FakeOptions, FakeTransport, KubernetesVersion};

/// One thread for all the tasks of a test: they interleave only at the fake's answers.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().unwrap()
}

/// Run `n` concurrent waits (one task each, on one thread) for jobs `j0..jn`.
fn wait_all(
    cm: &ClusterManager<FakeTransport>,
    ns: &str,
    n: usize,
    timeout: Duration,
) -> Vec<Result<clustermanager_core::Job, Error>> {
    let rt = runtime();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..n {
            let (cm, ns) = (cm.clone(), ns.to_owned());
            tasks.push(tokio::spawn(async move { cm.wait_for_job(&ns, &format!("j{i}"), Some(timeout)).await }));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    })
}

/// Run `n` concurrent execution waits (one task each, on one thread) for jobs `j0..jn` to have
/// an execution in `status`; each answer with its job's name.
fn wait_executions(
    cm: &ClusterManager<FakeTransport>,
    ns: &str,
    n: usize,
    status: Status,
) -> Vec<Result<(String, clustermanager_core::Execution), Error>> {
    runtime().block_on(async {
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                let (cm, ns) = (cm.clone(), ns.to_owned());
                tokio::spawn(async move {
                    let job = format!("j{i}");
                    let timeout = Some(Duration::from_secs(3600));
                    cm.wait_for_job_execution_status(&ns, &job, &[status], timeout).await.map(|e| (job, e))
                })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    })
}

fn create_jobs(cm: &ClusterManager<FakeTransport>, ns: &str, n: usize, image: Option<&str>) {
    block_on(cm.create_namespace(ns)).unwrap();
    for i in 0..n {
        let spec = JobSpec::new(format!("j{i}")).command(["/bin/sh", "-c", &format!("sleep {}; echo {i}", 1 + i % 50)]);
        let spec = match image {
            Some(image) => spec.image(image),
            // Nomad: 10 MHz and 16 MB a job (Nomad's default ask is 100 MHz and 300 MB), so
            // that 300 run at once on the fake node (4,000 MHz, 8 GiB) and 1,000 on
            // `roomy_nomad`'s, as on agents with room for them. These tests check sharing;
            // queueing for room is in `stuck.rs`.
            None => spec.cpu_limit("10m").mem_limit("16Mi"),
        };
        block_on(cm.create_job(ns, &spec)).unwrap();
    }
}

/// A fake Nomad agent with room for a thousand of `create_jobs`' jobs at once.
fn roomy_nomad() -> FakeCluster {
    FakeCluster::nomad_with(FakeOptions {
        nomad_node_cpu_mhz: 16_000,
        nomad_node_memory_mb: 32 * 1024,
        ..FakeOptions::default()
    })
}

#[test]
fn a_thousand_kubernetes_waits_hold_one_watch() {
    for version in KubernetesVersion::ALL {
        const N: usize = 1000;
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let cm = block_on(fake.cluster_manager()).unwrap();
        create_jobs(&cm, "many", N, Some("busybox"));
        let before = fake.requests().len();
        let results = wait_all(&cm, "many", N, Duration::from_secs(3600));
        for (i, r) in results.iter().enumerate() {
            let job = r.as_ref().unwrap_or_else(|e| panic!("j{i}: {e}"));
            assert_eq!((job.name.as_str(), job.status), (format!("j{i}").as_str(), Some(Status::Succeeded)));
        }
        let requests = &fake.requests()[before..];
        let watches = requests.iter().filter(|r| r.contains("watch=")).count();
        let lists = requests.iter().filter(|r| r.ends_with("/namespaces/many/jobs")).count();
        assert!(fake.peak_streams() <= 2, "one watch at a time, not one per wait: {}", fake.peak_streams());
        let watch_lists = requests.iter().filter(|r| r.contains("sendInitialEvents=true")).count();
        match version {
            // 1.19 ignores the watch-list parameters: its plain watch starts with what exists
            // (then used as the list), or it is listed once
            KubernetesVersion::V1_19 => assert!(watch_lists == 1 && lists <= 1, "{watch_lists} {lists}"),
            // 1.36 streams the list on the watch: no list at all
            KubernetesVersion::V1_36 => assert_eq!((watch_lists, lists), (1, 0), "one watch-list for all the waits"),
        }
        assert!(watches <= 60, "the watch is resumed, not multiplied: {watches}");
        // each wait that joined the running watch read its job once, and once its job had not
        // finished after the first second, its pods once to learn that it started (no further
        // looks at a started job); none listed or watched itself
        let pod_lists = requests.iter().filter(|r| r.contains("/namespaces/many/pods?")).count();
        assert!(pod_lists <= N, "one look at most per wait: {pod_lists}");
        assert!(requests.len() <= N + pod_lists + watches + lists, "{} requests", requests.len());
        assert_eq!(cm.shared_observations(), 0, "nothing left running after the last wait");
        assert_eq!(fake.open_streams(), 0, "its stream closed with it");
    }
}

#[test]
fn three_hundred_nomad_jobs_created_and_waited_for_at_once_all_finish() {
    // the scenario: 300 tasks on one manager, each waiting for its 10-second job
    const N: usize = 300;
    let fake = FakeCluster::nomad();
    let cm = block_on(fake.cluster_manager()).unwrap();
    create_jobs(&cm, "many", N, None);
    let before = fake.requests().len();
    let results = wait_all(&cm, "many", N, Duration::from_secs(3600));
    assert!(
        results.iter().all(|r| matches!(r, Ok(j) if j.status == Some(Status::Succeeded))),
        "{:?}",
        results.iter().find(|r| r.is_err())
    );
    let requests = &fake.requests()[before..];
    let job_lists = requests.iter().filter(|r| r.starts_with("GET /v1/jobs?")).count();
    let own_blocking = requests.iter().filter(|r| r.starts_with("GET /v1/job/") && r.contains("index=")).count();
    assert_eq!(own_blocking, 0, "no wait ran its own blocking queries");
    assert!(job_lists <= 60, "one chain of blocking list queries: {job_lists}");
    assert_eq!(cm.shared_observations(), 0);
}

#[test]
fn waits_on_two_namespaces_have_one_observation_each_and_a_missing_job_is_not_found() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let cm = block_on(fake.cluster_manager()).unwrap();
        create_jobs(&cm, "a", 3, Some("busybox"));
        create_jobs(&cm, "b", 3, Some("busybox"));
        let rt = runtime();
        let (a, b, missing) = rt.block_on(async {
            let t = |ns: &'static str, job: &'static str| {
                let cm = cm.clone();
                tokio::spawn(async move { cm.wait_for_job(ns, job, Some(Duration::from_secs(600))).await })
            };
            let (a, b, m) = (t("a", "j2"), t("b", "j1"), t("a", "nope"));
            (a.await.unwrap(), b.await.unwrap(), m.await.unwrap())
        });
        assert_eq!(a.unwrap().status, Some(Status::Succeeded));
        assert_eq!(b.unwrap().status, Some(Status::Succeeded));
        assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
        let lists: Vec<_> = fake
            .requests()
            .into_iter()
            .filter(|r| r.starts_with("GET /apis/batch/v1/namespaces/") && r.ends_with("/jobs"))
            .collect();
        let watch_lists =
            fake.requests().into_iter().filter(|r| r.contains("/jobs?watch=1&sendInitialEvents=true")).count();
        match version {
            KubernetesVersion::V1_36 => assert_eq!((lists.len(), watch_lists), (0, 2), "one watch-list per namespace"),
            // both may ask before the first answer is known; later observations do not
            KubernetesVersion::V1_19 => {
                assert!(lists.len() <= 2, "{lists:?}");
                assert!((1..=2).contains(&watch_lists), "{watch_lists}");
            }
        }
    }
}

#[test]
fn waits_with_short_deadlines_time_out_on_time_while_the_others_go_on() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let cm = block_on(fake.cluster_manager()).unwrap();
        block_on(cm.create_namespace("t")).unwrap();
        let long = JobSpec::new("long").image("busybox").command(["sh", "-c", "sleep 100; echo done"]);
        block_on(cm.create_job("t", &long)).unwrap();
        let rt = runtime();
        let t0 = fake.elapsed();
        let (short, patient) = rt.block_on(async {
            let c = cm.clone();
            let short = tokio::spawn(async move { c.wait_for_job("t", "long", Some(Duration::from_secs(10))).await });
            let c = cm.clone();
            let patient =
                tokio::spawn(async move { c.wait_for_job("t", "long", Some(Duration::from_secs(600))).await });
            (short.await.unwrap(), patient.await.unwrap())
        });
        match short {
            Err(Error::Timeout { what }) => assert!(what.contains("last seen: Running"), "{what}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(patient.unwrap().status, Some(Status::Succeeded));
        let took = fake.elapsed() - t0;
        assert!(took >= Duration::from_secs(100) && took < Duration::from_secs(200), "{took:?}");
    }
}

#[test]
fn the_same_waits_one_observation_each_would_hold_a_stream_per_wait() {
    for version in KubernetesVersion::ALL {
        // the baseline the shared observation replaces, measured on the same fake: each wait from a
        // manager of its own (managers share nothing), so each runs the one-waiter observation
        const N: usize = 200;
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let cm = block_on(fake.cluster_manager()).unwrap();
        create_jobs(&cm, "own", N, Some("busybox"));
        let rt = runtime();
        rt.block_on(async {
            let tasks: Vec<_> = (0..N)
                .map(|i| {
                    let own = ClusterManager::from_parts(cm.transport().clone(), cm.backend().clone());
                    tokio::spawn(async move {
                        own.wait_for_job("own", &format!("j{i}"), Some(Duration::from_secs(3600))).await
                    })
                })
                .collect();
            for t in tasks {
                assert_eq!(t.await.unwrap().unwrap().status, Some(Status::Succeeded));
            }
        });
        assert!(fake.peak_streams() >= N / 2, "one watch per wait: {} at the peak", fake.peak_streams());
    }
}

#[test]
fn dropping_the_waiter_that_drives_the_watch_leaves_the_others_undisturbed() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let cm = block_on(fake.cluster_manager()).unwrap();
        create_jobs(&cm, "d", 6, Some("busybox"));
        let long = JobSpec::new("long").image("busybox").command(["sh", "-c", "sleep 100000"]);
        block_on(cm.create_job("d", &long)).unwrap();
        let rt = runtime();
        rt.block_on(async {
            let tasks: Vec<_> = ["long", "j0", "j1", "j2", "j3", "j4", "j5"]
                .into_iter()
                .map(|name| {
                    let cm = cm.clone();
                    let timeout = (name != "long").then_some(Duration::from_secs(600));
                    tokio::spawn(async move { cm.wait_for_job("d", name, timeout).await })
                })
                .collect();
            // let the first waiter take the watch and the others join, then drop it mid-wait
            for _ in 0..3 {
                tokio::task::yield_now().await;
            }
            let mut tasks = tasks.into_iter();
            let first = tasks.next().unwrap();
            first.abort();
            assert!(first.await.unwrap_err().is_cancelled());
            for (i, t) in tasks.enumerate() {
                let job = t.await.unwrap().unwrap_or_else(|e| panic!("j{i}: {e}"));
                assert_eq!(job.status, Some(Status::Succeeded));
            }
        });
        assert_eq!(cm.shared_observations(), 0);
        assert_eq!(fake.open_streams(), 0);
        let watches =
            fake.requests().iter().filter(|r| r.contains("/namespaces/d/jobs") && r.contains("watch=")).count();
        // the watch is renewed as the server ends it (minutes apart on the virtual clock), no faster
        let minutes = fake.elapsed().as_secs() / 60;
        assert!(watches as u64 <= minutes / 4 + 5, "{watches} watches in {minutes} min");
    }
}

#[test]
fn a_thousand_nomad_execution_waits_share_the_job_list_and_look_only_when_it_says_so() {
    const N: usize = 1000;
    let fake = roomy_nomad();
    let cm = block_on(fake.cluster_manager()).unwrap();
    create_jobs(&cm, "runs", N, None);
    let before = fake.requests().len();
    let results = wait_executions(&cm, "runs", N, Status::Running);
    for r in &results {
        let (job, execution) = r.as_ref().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(execution.job_name, *job);
        assert_eq!(execution.status, Some(Status::Running), "{execution:?}");
    }
    let requests = &fake.requests()[before..];
    let own_blocking = requests.iter().filter(|r| r.starts_with("GET /v1/job/") && r.contains("index=")).count();
    let job_lists = requests.iter().filter(|r| r.starts_with("GET /v1/jobs?")).count();
    let looks = requests.iter().filter(|r| r.starts_with("GET /v1/job/") && r.contains("/allocations")).count();
    assert_eq!(own_blocking, 0, "no wait ran its own blocking queries");
    assert!(job_lists <= 60, "one chain of blocking list queries: {job_lists}");
    // each wait looks at its allocations when the list says one may run (and, having joined
    // the running chain, reads its job once first): a few looks each, not a poll
    eprintln!("{N} execution waits: {job_lists} job list queries, {looks} looks at allocations, {} requests in all, peak {} connections", requests.len(), fake.peak_streams());
    assert!(looks <= 3 * N, "{looks} looks at allocations for {N} waits");
    assert!(fake.peak_streams() <= 16, "peak connections {}", fake.peak_streams());
    assert_eq!(cm.shared_observations(), 0);
}

#[test]
fn a_nomad_execution_wait_for_a_missing_job_is_not_found_and_a_finished_one_is_found() {
    let fake = FakeCluster::nomad();
    let cm = block_on(fake.cluster_manager()).unwrap();
    create_jobs(&cm, "one", 1, None);
    let err = block_on(cm.wait_for_job_execution_status("one", "nope", &[Status::Running], None)).unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    let done = block_on(cm.wait_for_job_execution_status("one", "j0", &[Status::Succeeded], None)).unwrap();
    assert_eq!(done.status, Some(Status::Succeeded));
    let timeout =
        block_on(cm.wait_for_job_execution_status("one", "j0", &[Status::Failed], Some(Duration::from_secs(30))))
            .unwrap_err();
    assert!(matches!(&timeout, Error::Timeout { what } if what.contains("Failed")), "{timeout:?}");
}

#[test]
fn a_thousand_kubernetes_execution_waits_share_one_pod_watch() {
    for version in KubernetesVersion::ALL {
        const N: usize = 1000;
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let cm = block_on(fake.cluster_manager()).unwrap();
        create_jobs(&cm, "pods", N, Some("busybox"));
        let before = fake.requests().len();
        let results = wait_executions(&cm, "pods", N, Status::Succeeded);
        for r in &results {
            let (job, execution) = r.as_ref().unwrap_or_else(|e| panic!("{e}"));
            assert_eq!((&execution.job_name, execution.status), (job, Some(Status::Succeeded)));
        }
        let requests = &fake.requests()[before..];
        let pod_watches =
            requests.iter().filter(|r| r.contains("/namespaces/pods/pods?") && r.contains("watch=")).count();
        let own_watches =
            requests.iter().filter(|r| r.contains("labelSelector=job-name%3D") && r.contains("watch=")).count();
        let looks = requests.iter().filter(|r| r.contains("/namespaces/pods/pods?labelSelector=job-name%3D")).count();
        eprintln!(
            "{N} execution waits: {pod_watches} pod watches, {looks} pod lists of one job, {} requests in all, peak {} streams",
            requests.len(),
            fake.peak_streams()
        );
        assert_eq!(own_watches, 0, "no wait watched its own pods");
        assert!(pod_watches <= 60, "one watch, resumed: {pod_watches}");
        assert!(fake.peak_streams() <= 2, "one watch at a time, not one per wait: {}", fake.peak_streams());
        // each wait looks when it joins and when its pod succeeds (plus the why-look after 1 s)
        assert!(looks <= 3 * N, "{looks} looks for {N} waits");
        assert_eq!(cm.shared_observations(), 0);
        assert_eq!(fake.open_streams(), 0);
    }
}

/// On every version: an execution wait on a job that sleeps 10 minutes, the job deleted 5 s in
/// (`purge`: with its pods; else `propagationPolicy=Orphan`: the pod stays, its owner reference
/// goes). The wait ends with what the deletion made of it, long before the job would have ended.
fn execution_wait_when_the_job_is_deleted(purge: bool) {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let cm = block_on(fake.cluster_manager()).unwrap();
        block_on(cm.create_namespace("del")).unwrap();
        let spec = JobSpec::new("doomed").image("busybox").command(["sh", "-c", "sleep 600"]);
        block_on(cm.create_job("del", &spec)).unwrap();
        let rt = runtime();
        let err = rt.block_on(async {
            let waiter = {
                let cm = cm.clone();
                tokio::spawn(async move {
                    cm.wait_for_job_execution_status(
                        "del",
                        "doomed",
                        &[Status::Succeeded],
                        Some(Duration::from_secs(3600)),
                    )
                    .await
                })
            };
            clustermanager_core::Transport::sleep(cm.transport(), Duration::from_secs(5)).await;
            cm.delete_job("del", "doomed", clustermanager_core::DeleteOptions { wait: false, purge }).await.unwrap();
            waiter.await.unwrap().unwrap_err()
        });
        assert!(matches!(err, Error::NotFound(_)), "{version:?} {err:?} {:#?}", fake.requests());
        assert!(fake.elapsed() < Duration::from_secs(600), "ended when the job went: {:?}", fake.elapsed());
    }
}

#[test]
fn a_kubernetes_execution_wait_ends_not_found_when_its_job_is_deleted() {
    execution_wait_when_the_job_is_deleted(true);
}

#[test]
fn a_kubernetes_execution_wait_ends_not_found_when_its_job_is_deleted_leaving_its_pods() {
    execution_wait_when_the_job_is_deleted(false);
}
