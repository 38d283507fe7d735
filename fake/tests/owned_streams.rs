//! Owned streams (issue 12): a followed log and a watch are `'static` values that outlive the
//! manager they came from, run on another thread's executor, implement `futures_core::Stream`,
//! and close their connection when dropped — also in the middle of a read.

#![allow(clippy::unwrap_used, missing_docs)]

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use clustermanager_core::futures_core::Stream;
use clustermanager_core::k8s::api::{Resource, WatchParams};
use clustermanager_core::{JobSpec, LogOptions, Status};
use clustermanager_fake::{block_on, FakeCluster, FakeOptions, KubernetesVersion};

fn spawnable<S: Stream + Send + 'static>(s: S) -> S {
    s
}

#[test]
fn a_log_stream_outlives_its_manager_and_runs_on_another_thread() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let cm = block_on(fake.cluster_manager()).unwrap().erase();
        block_on(cm.create_namespace("logs")).unwrap();
        let spec = JobSpec::new("p").image("busybox").command(["sh", "-c", "echo one; sleep 3; echo two"]);
        block_on(cm.create_job("logs", &spec)).unwrap();
        let run = block_on(cm.wait_for_job_execution_status("logs", "p", &[Status::Running], None)).unwrap();
        let mut log = spawnable(cm.get_execution_log_watch("logs", &run.id, &LogOptions::default()));
        drop(cm);
        let lines = std::thread::spawn(move || {
            block_on(async move {
                let mut out = Vec::new();
                while let Some(line) = log.next().await {
                    out.push(line.unwrap().text);
                }
                out
            })
        })
        .join()
        .unwrap();
        assert_eq!(lines, ["one", "two"]);
        assert_eq!(fake.open_streams(), 0);
    }
}

#[test]
fn dropping_a_stream_in_the_middle_of_a_read_closes_its_connection() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let cm = block_on(fake.cluster_manager()).unwrap();
        block_on(cm.create_namespace("w")).unwrap();
        let pods = cm.kubernetes().unwrap().api::<serde_json::Value>(Resource::PODS).namespaced("w");
        let mut watch = spawnable(pods.watch(&WatchParams { timeout_seconds: Some(600), ..WatchParams::default() }));
        // poll by hand until the watch is open and waiting for an event that will not come
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..100 {
            assert!(Pin::new(&mut watch).poll_next(&mut cx).is_pending());
            if fake.open_streams() == 1 {
                break;
            }
        }
        assert_eq!(fake.open_streams(), 1, "the watch is open");
        drop(watch);
        assert_eq!(fake.open_streams(), 0, "dropping the stream closed it");
    }
}

#[test]
fn a_next_cut_short_loses_nothing() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let cm = block_on(fake.cluster_manager()).unwrap();
        block_on(cm.create_namespace("c")).unwrap();
        let spec = JobSpec::new("p").image("busybox").command(["sh", "-c", "echo one; sleep 10; echo two"]);
        block_on(cm.create_job("c", &spec)).unwrap();
        let run = block_on(cm.wait_for_job_execution_status("c", "p", &[Status::Running], None)).unwrap();
        let mut log = cm.get_execution_log_watch("c", &run.id, &LogOptions::default());
        assert_eq!(block_on(log.next()).unwrap().unwrap().text, "one");
        // start waiting for the next line, then give up after 1 s (virtual time)
        let t = cm.transport().clone();
        let cut = block_on(async {
            let mut next = std::pin::pin!(log.next());
            let mut sleep = std::pin::pin!(clustermanager_core::Transport::sleep(&t, Duration::from_secs(1)));
            std::future::poll_fn(|cx| {
                if sleep.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                next.as_mut().poll(cx).map(Some)
            })
            .await
        });
        assert!(cut.is_none(), "the line comes after 10 s, not within 1 s");
        // the read goes on where it stopped: the line still comes, once
        assert_eq!(block_on(log.next()).unwrap().unwrap().text, "two");
        assert!(block_on(log.next()).is_none());
    }
}

#[test]
fn a_wait_as_a_stream_says_why_then_hands_over_the_job() {
    for version in KubernetesVersion::ALL {
        use clustermanager_core::{Progress, ReasonKind, WaitEvent, WaitOptions};
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let cm = block_on(fake.cluster_manager()).unwrap().erase();
        block_on(cm.create_namespace("s")).unwrap();
        // too big for the fake node: it stays unschedulable (waiting for room), so a startup
        // deadline ends the wait; the stream says why first, then the error
        let big = JobSpec::new("big").image("busybox").command(["sh", "-c", "echo hi"]).cpu_request("1000");
        block_on(cm.create_job("s", &big)).unwrap();
        let options = WaitOptions::new().startup_deadline(Some(Duration::from_secs(30)));
        let events: Vec<_> = block_on(async {
            let mut stream = spawnable(cm.wait_for_job_stream("s", "big", &options));
            let mut out = Vec::new();
            while let Some(e) = stream.next().await {
                out.push(e);
            }
            out
        });
        assert!(
            matches!(&events[0], Ok(WaitEvent::Progress(Progress::Stuck { reason, .. })) if reason.kind == ReasonKind::ResourcesExhausted),
            "{events:?}"
        );
        assert!(matches!(events.last(), Some(Err(clustermanager_core::Error::CannotRun { .. }))), "{events:?}");

        let ok = JobSpec::new("ok").image("busybox").command(["sh", "-c", "sleep 2"]);
        block_on(cm.create_job("s", &ok)).unwrap();
        let events: Vec<_> = block_on(async {
            let mut stream = cm.wait_for_job_stream("s", "ok", &WaitOptions::new());
            let mut out = Vec::new();
            while let Some(e) = stream.next().await {
                out.push(e.unwrap());
            }
            out
        });
        assert!(
            matches!(events.last(), Some(WaitEvent::Finished(job)) if job.status == Some(Status::Succeeded)),
            "{events:?}"
        );
        assert!(events.iter().any(|e| matches!(e, WaitEvent::Progress(Progress::Started { .. }))), "{events:?}");
    }
}
