//! Hostile and broken servers, scripted on the fake: none drives a hot request loop from one
//! wait, and every wait returns within its deadline (+1 s) whatever the server does.
//!
//! Every request costs 1 ms of virtual time here (`round_trip`), so a client that re-requests
//! without pacing shows up as a rate of hundreds of requests per second instead of an endless
//! loop at one instant.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Duration;

use clustermanager_core::{Error, JobSpec, Status};
use clustermanager_fake::{block_on, FakeCluster, FakeOptions, Fault, IndexLie, KubernetesVersion};

/// At most this many requests per second from one wait, whatever the server does.
const MAX_RATE: f64 = 10.0;

fn options() -> FakeOptions {
    FakeOptions { round_trip: Duration::from_millis(1), ..FakeOptions::default() }
}

/// A cluster with a namespace `h` and a job `slow` that runs for ten minutes.
fn with_slow_job(fake: &FakeCluster) -> clustermanager_core::ClusterManager<clustermanager_fake::FakeTransport> {
    let cm = block_on(fake.cluster_manager()).unwrap();
    block_on(cm.create_namespace("h")).unwrap();
    let spec = JobSpec::new("slow").image("busybox").command(["sh", "-c", "sleep 600"]);
    block_on(cm.create_job("h", &spec)).unwrap();
    cm
}

/// Run `wait` and measure it: (its outcome, requests it made, virtual time it took).
fn measured<T>(fake: &FakeCluster, wait: impl std::future::Future<Output = T>) -> (T, usize, Duration) {
    let (before, t0) = (fake.requests().len(), fake.elapsed());
    let out = block_on(wait);
    (out, fake.requests().len() - before, fake.elapsed() - t0)
}

fn assert_paced(requests: usize, took: Duration, what: &str) {
    let rate = requests as f64 / took.as_secs_f64().max(1.0);
    assert!(rate <= MAX_RATE, "{what}: {requests} requests in {took:?} ({rate:.0}/s)");
}

fn assert_within(took: Duration, deadline: Duration, what: &str) {
    assert!(took <= deadline + Duration::from_secs(1), "{what}: returned after {took:?}, deadline {deadline:?}");
}

/// The wait ended with `Error::Timeout`, within its deadline + 1 s, at no more than
/// [`MAX_RATE`] requests per second.
fn assert_paced_timeout<T: std::fmt::Debug>(
    out: &Result<T, Error>,
    requests: usize,
    took: Duration,
    deadline: Duration,
    what: &str,
) {
    assert!(matches!(out, Err(Error::Timeout { .. })), "{what}: {out:?}");
    assert_paced(requests, took, what);
    assert_within(took, deadline, what);
}

fn job_event(fake: &FakeCluster, kind: &str) -> String {
    format!(
        concat!(
            r#"{{"type":"{}","object":{{"kind":"Job","apiVersion":"batch/v1","metadata":"#,
            r#"{{"name":"slow","namespace":"h","resourceVersion":"{}","uid":"u-1"}},"status":{{}}}}}}"#,
            "\n"
        ),
        kind,
        fake.version()
    )
}

const EXPIRED: &str = concat!(
    r#"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","#,
    r#""message":"too old resource version: 1 (2)","reason":"Expired","code":410}}"#,
    "\n"
);

#[test]
fn a_watch_that_ends_after_one_event_every_time_is_paced() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions { kubernetes: version, ..options() });
        let cm = with_slow_job(&fake);
        let event = job_event(&fake, "ADDED");
        fake.add_fault(
            Fault::end_stream_after(0).then_send(event).on("GET", "/apis/batch/v1/namespaces/h/jobs").always(),
        );
        let deadline = Duration::from_secs(60);
        let (out, requests, took) = measured(&fake, cm.wait_for_job("h", "slow", Some(deadline)));
        assert_paced_timeout(&out, requests, took, deadline, "one event per watch");
        assert!(requests >= 3, "the watch was resumed: {requests}");
    }
}

#[test]
fn a_watch_that_ends_at_once_with_nothing_is_paced() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions { kubernetes: version, ..options() });
        let cm = with_slow_job(&fake);
        fake.add_fault(Fault::end_stream_after(0).on("GET", "/apis/batch/v1/namespaces/h/jobs").always());
        let deadline = Duration::from_secs(60);
        let (out, requests, took) = measured(&fake, cm.wait_for_job("h", "slow", Some(deadline)));
        assert_paced_timeout(&out, requests, took, deadline, "empty watches");
    }
}

#[test]
fn an_event_then_410_every_time_backs_off_the_relists() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions { kubernetes: version, ..options() });
        let cm = with_slow_job(&fake);
        let tail = format!("{}{EXPIRED}", job_event(&fake, "MODIFIED"));
        fake.add_fault(
            Fault::end_stream_after(0).then_send(tail).on("GET", "/apis/batch/v1/namespaces/h/jobs").always(),
        );
        let deadline = Duration::from_secs(60);
        let (out, requests, took) = measured(&fake, cm.wait_for_job("h", "slow", Some(deadline)));
        assert_paced_timeout(&out, requests, took, deadline, "event then 410");
        let lists =
            fake.requests().iter().filter(|r| r.contains("/namespaces/h/jobs") && !r.contains("watch=")).count();
        assert!(lists >= 2, "it listed again after the 410s: {lists}");
    }
}

#[test]
fn the_same_for_an_execution_wait() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions { kubernetes: version, ..options() });
        let cm = with_slow_job(&fake);
        fake.add_fault(Fault::end_stream_after(0).then_send(EXPIRED).on("GET", "/api/v1/namespaces/h/pods").always());
        let deadline = Duration::from_secs(30);
        let (out, requests, took) =
            measured(&fake, cm.wait_for_job_execution_status("h", "slow", &[Status::Succeeded], Some(deadline)));
        assert_paced_timeout(&out, requests, took, deadline, "pods: 410 every time");
    }
}

#[test]
fn nomad_indexes_that_do_not_move_never_cause_a_busy_loop() {
    for lie in [IndexLie::Zero, IndexLie::Backwards, IndexLie::Unchanged] {
        let fake = FakeCluster::nomad_with(options());
        let cm = with_slow_job(&fake);
        fake.add_fault(Fault::nomad_index(lie).on("GET", "/v1/job").always());
        let deadline = Duration::from_secs(60);
        let (out, requests, took) = measured(&fake, cm.wait_for_job("h", "slow", Some(deadline)));
        assert_paced_timeout(&out, requests, took, deadline, &format!("{lie:?} job reads"));

        let fake = FakeCluster::nomad_with(options());
        let cm = with_slow_job(&fake);
        fake.add_fault(Fault::nomad_index(lie).on("GET", "/v1/job").always());
        let wait = cm.wait_for_job_execution_status("h", "slow", &[Status::Succeeded], Some(deadline));
        let (out, requests, took) = measured(&fake, wait);
        assert_paced_timeout(&out, requests, took, deadline, &format!("{lie:?} allocation reads"));
    }
}

#[test]
fn a_list_that_is_never_answered_keeps_the_wait_deadline() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions { kubernetes: version, ..options() });
        let cm = with_slow_job(&fake);
        fake.add_fault(Fault::hang().on("GET", "/apis/batch/v1/namespaces/h/jobs").always());
        let deadline = Duration::from_secs(3);
        let (out, _, took) = measured(&fake, cm.wait_for_job("h", "slow", Some(deadline)));
        assert!(matches!(out, Err(Error::Timeout { ref what }) if what.contains("slow")), "{out:?}");
        assert_within(took, deadline, "list never answered");
    }
}

#[test]
fn a_watch_whose_head_never_comes_keeps_the_wait_deadline() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions { kubernetes: version, ..options() });
        let cm = with_slow_job(&fake);
        // the list is answered; every watch request hangs (faults only match the path, so let the
        // first request through)
        fake.add_fault(Fault::latency(Duration::ZERO).on("GET", "/apis/batch/v1/namespaces/h/jobs"));
        fake.add_fault(Fault::hang().on("GET", "/apis/batch/v1/namespaces/h/jobs").always());
        let deadline = Duration::from_secs(3);
        let (out, requests, took) = measured(&fake, cm.wait_for_job("h", "slow", Some(deadline)));
        assert!(matches!(out, Err(Error::Timeout { .. })), "{out:?}");
        assert!(requests >= 2, "a list, then a watch: {:?}", fake.requests());
        assert_within(took, deadline, "watch head never sent");
    }
}

#[test]
fn an_execution_wait_whose_requests_hang_keeps_its_deadline() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions { kubernetes: version, ..options() });
        let cm = with_slow_job(&fake);
        fake.add_fault(Fault::hang().on("GET", "/api/v1/namespaces/h/pods").always());
        let deadline = Duration::from_secs(3);
        let wait = cm.wait_for_job_execution_status("h", "slow", &[Status::Succeeded], Some(deadline));
        let (out, _, took) = measured(&fake, wait);
        assert!(matches!(out, Err(Error::Timeout { .. })), "{out:?}");
        assert_within(took, deadline, "pod list never answered");
    }
}

#[test]
fn a_nomad_blocking_read_that_is_never_answered_keeps_the_wait_deadline() {
    for defaults in [true, false] {
        let opts = if defaults {
            options()
        } else {
            FakeOptions { request_timeout: Some(Duration::from_secs(5)), ..options() }
        };
        let fake = FakeCluster::nomad_with(opts);
        let cm = with_slow_job(&fake);
        // the first read is answered, every blocking one hangs
        fake.add_fault(Fault::latency(Duration::ZERO).on("GET", "/v1/job"));
        fake.add_fault(Fault::hang().on("GET", "/v1/job").always());
        let deadline = Duration::from_secs(3);
        let (out, _, took) = measured(&fake, cm.wait_for_job("h", "slow", Some(deadline)));
        assert!(matches!(out, Err(Error::Timeout { .. })), "{out:?}");
        assert_within(took, deadline, "blocking read never answered");
    }
}

#[test]
fn a_proxy_answering_504_when_wait_passes_does_not_stretch_the_wait() {
    let fake = FakeCluster::nomad_with(options());
    let cm = with_slow_job(&fake);
    fake.add_fault(Fault::latency(Duration::ZERO).on("GET", "/v1/job"));
    fake.add_fault(Fault::after_query_wait(504).on("GET", "/v1/job").always());
    let deadline = Duration::from_secs(4);
    let (out, requests, took) = measured(&fake, cm.wait_for_job("h", "slow", Some(deadline)));
    assert_paced_timeout(&out, requests, took, deadline, "504 at wait=");
}

#[test]
fn a_blocking_read_refused_with_504_is_resumed_with_the_time_then_left() {
    let fake = FakeCluster::nomad_with(options());
    let cm = with_slow_job(&fake);
    fake.add_fault(Fault::latency(Duration::ZERO).on("GET", "/v1/job"));
    fake.add_fault(Fault::status(504, "gateway timeout").on("GET", "/v1/job").times(3));
    let deadline = Duration::from_secs(10);
    let (out, requests, took) = measured(&fake, cm.wait_for_job("h", "slow", Some(deadline)));
    assert_paced_timeout(&out, requests, took, deadline, "504s");
    let waits: Vec<String> = fake.requests().iter().filter(|r| r.contains("wait=")).cloned().collect();
    assert!(waits.len() >= 4, "{waits:?}");
    let wait_of = |r: &String| r.rsplit("wait=").next().unwrap_or_default().to_owned();
    assert!(waits.windows(2).all(|w| wait_of(&w[0]) != wait_of(&w[1])), "a retry re-sent a stale wait: {waits:?}");
}

#[test]
fn unlimited_waits_against_a_hanging_server_end_with_the_transport_timeout() {
    // no caller deadline: each request is still bounded by the request timeout, and the wait
    // resumes after a back-off instead of spinning
    let fake = FakeCluster::nomad_with(FakeOptions { request_timeout: Some(Duration::from_secs(5)), ..options() });
    let cm = with_slow_job(&fake);
    fake.add_fault(Fault::latency(Duration::ZERO).on("GET", "/v1/job"));
    fake.add_fault(Fault::hang().on("GET", "/v1/job").times(20));
    let (out, requests, took) = measured(&fake, cm.wait_for_job("h", "slow", None));
    assert_eq!(out.unwrap().status, Some(Status::Succeeded));
    assert_paced(requests, took, "hanging reads without a deadline");
}

fn huge_status(code: u16, reason: &str) -> String {
    format!(
        r#"{{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Failure","message":"{}","reason":"{reason}","code":{code}}}"#,
        "m".repeat(8 << 20)
    )
}

#[test]
fn a_huge_status_becomes_a_short_error() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions { kubernetes: version, ..options() });
        let cm = with_slow_job(&fake);
        fake.add_fault(Fault::status(403, huge_status(403, "Forbidden")).on("GET", "/apis/batch/v1/namespaces/h/jobs"));
        let err = block_on(cm.wait_for_job("h", "slow", Some(Duration::from_secs(10)))).unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)), "{:.200}", err.to_string());
        assert!(err.to_string().len() < 8192, "{}", err.to_string().len());
        assert!(format!("{err:?}").len() < 8192);
        assert!(err.to_string().contains("bytes cut"));
    }
}

#[test]
fn a_huge_error_event_in_a_watch_becomes_a_short_error() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions { kubernetes: version, ..options() });
        let cm = with_slow_job(&fake);
        let event = format!("{{\"type\":\"ERROR\",\"object\":{}}}\n", huge_status(403, "Forbidden"));
        fake.add_fault(Fault::end_stream_after(0).then_send(event).on("GET", "/apis/batch/v1/namespaces/h/jobs"));
        let err = block_on(cm.wait_for_job("h", "slow", Some(Duration::from_secs(10)))).unwrap_err();
        assert!(err.to_string().len() < 8192, "{}", err.to_string().len());
        assert!(format!("{err:?}").len() < 8192);
    }
}

#[test]
fn a_list_that_repeats_its_continue_token_ends_with_an_error() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions { kubernetes: version, ..options() });
        let cm = block_on(fake.cluster_manager()).unwrap();
        block_on(cm.create_namespace("h")).unwrap();
        fake.add_fault(Fault::repeat_continue("again").on("GET", "/api/v1/namespaces/h/configmaps").always());
        let (out, requests, _) = measured(&fake, cm.get_config_maps("h", ""));
        let err = out.unwrap_err();
        assert!(matches!(err, Error::Decode { ref message, .. } if message.contains("already given")), "{err}");
        assert_eq!(requests, 2, "{:?}", fake.requests());
    }
}

/// At most this many requests within any one second from one wait whose server refuses it with
/// 503 forever (a sliding window over the fake's virtual clock).
const MAX_PEAK_PER_SECOND: usize = 5;

/// A server that answers 503 to everything a wait reads, for ever: the wait ends at its deadline
/// (or with the server's error once its retries are spent), and at no point sends more than
/// [`MAX_PEAK_PER_SECOND`] requests within a second — the retry back-offs, the watch resumption
/// and the diagnosis looks together, not each alone.
#[test]
fn a_wait_refused_with_503_forever_is_retried_at_a_bounded_peak_rate() {
    for version in KubernetesVersion::ALL {
        let k8s = || {
            let fake = FakeCluster::kubernetes_with(FakeOptions { kubernetes: version, ..options() });
            let cm = with_slow_job(&fake);
            fake.add_fault(Fault::status(503, "overloaded").on("GET", "/apis/batch/v1/namespaces/h").always());
            fake.add_fault(Fault::status(503, "overloaded").on("GET", "/api/v1/namespaces/h").always());
            (fake, cm)
        };
        let nomad = || {
            let fake = FakeCluster::nomad_with(options());
            let cm = with_slow_job(&fake);
            fake.add_fault(Fault::status(503, "No cluster leader").on("GET", "/v1/").always());
            (fake, cm)
        };
        // only the collections a wait lists and watches (or blocks on) refuse; the job itself reads
        let k8s_lists = || {
            let fake = FakeCluster::kubernetes_with(FakeOptions { kubernetes: version, ..options() });
            let cm = with_slow_job(&fake);
            fake.add_fault(
                Fault::status(503, "overloaded").on_path("GET", "/apis/batch/v1/namespaces/h/jobs").always(),
            );
            fake.add_fault(Fault::status(503, "overloaded").on_path("GET", "/api/v1/namespaces/h/pods").always());
            (fake, cm)
        };
        let nomad_lists = || {
            let fake = FakeCluster::nomad_with(options());
            let cm = with_slow_job(&fake);
            fake.add_fault(Fault::status(503, "No cluster leader").on_path("GET", "/v1/jobs").always());
            (fake, cm)
        };
        let cases = [
            ("kubernetes", k8s()),
            ("nomad", nomad()),
            ("kubernetes lists", k8s_lists()),
            ("nomad lists", nomad_lists()),
        ];
        for (name, (fake, cm)) in cases {
            let since = fake.requests().len();
            let deadline = Duration::from_secs(60);
            let (out, requests, took) = measured(&fake, cm.wait_for_job("h", "slow", Some(deadline)));
            assert!(out.is_err(), "{name}: {out:?}");
            assert_within(took, deadline, name);
            let peak = fake.peak_requests_per_second(since);
            assert!(peak <= MAX_PEAK_PER_SECOND, "{name}: {peak} requests within one second ({requests} in {took:?})");
            assert!(requests >= 2, "{name}: retried at all: {requests}");
        }
    }
}
