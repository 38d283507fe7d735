//! Nomad waits with blocking queries, against recordings of Nomad 1.1.2: the job read that
//! blocks on `?index=11&wait=5s` and returns when the job turns dead (08), an allocation
//! blocking query that times out (08), the failing job (09), unknown jobs (11), and a blocking
//! job list (16).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::{Duration, Instant};

use bytes::Bytes;
use clustermanager_core::deadline::Hold;
use clustermanager_core::nomad::{self, query::Query, Context};
use clustermanager_core::{Error, Event, Operation, Status, Step};
use clustermanager_tests::{assert_request_matches, Replay, Scenario};

fn ctx() -> Context {
    Context { datacenters: vec!["dc1".into()], ..Context::default() }
}

#[test]
fn wait_for_job_blocks_until_it_is_dead() {
    let s = Scenario::load("nomad/08-batch-job-succeeds.json");
    // running at index 11 (1), blocking read ?index=11&wait=5s answering dead at 14 after 2.25 s
    // (2), then the summary (5) and the allocations (3). The first read took 3 ms, so a
    // 5.003 s timeout leaves the 5 s the recorder waited.
    let op = nomad::wait::job(&ctx(), "", "acm-ok", Some(Duration::from_millis(5003)));
    let (job, _, t) = Replay::new(&s).exchanges([1, 2, 5, 3]).recorded_latency().run_full(op);
    let job = job.unwrap();
    assert_eq!(job.status, Some(Status::Succeeded));
    assert_eq!(job.succeeded, 1);
    assert_eq!(t.requests[1].1, "/v1/job/acm-ok?index=11&wait=5s");
    assert_eq!(t.ios[0].hold, Hold::None, "the first read does not block");
    assert_eq!(t.ios[1].hold, Hold::Server(Duration::from_secs(5)), "the step says how long the server may hold it");
    assert!(t.ios.iter().all(|io| io.deadline.is_some()), "every read carries the caller's deadline");
    assert!(t.waits.is_empty(), "no sleeping: {:?}", t.waits);
    assert!(t.elapsed > Duration::from_secs(2));
}

#[test]
fn wait_for_a_dead_job_answers_at_once() {
    let s = Scenario::load("nomad/09-batch-job-fails.json");
    let op = nomad::wait::job(&ctx(), "", "acm-fail", Some(Duration::from_secs(5)));
    let job = Replay::new(&s).exchanges([1, 2, 3]).run(op).unwrap();
    assert_eq!(job.status, Some(Status::Failed));
}

#[test]
fn waits_on_an_unknown_job_are_not_found() {
    let s = Scenario::load("nomad/11-not-found.json");
    let res = Replay::new(&s).exchanges([0]).run(nomad::wait::job(&ctx(), "", "acm-does-not-exist", None));
    assert!(matches!(res, Err(Error::NotFound(_))), "{res:?}");
    // Nomad lists no allocations for an unknown job ([] with 200, exchange 1): the wait reads
    // the job first instead of waiting forever.
    assert_eq!(s.exchange(1).response.body, "[]");
    let op = nomad::wait::execution_status(&ctx(), "", "acm-does-not-exist", &[Status::Running], None);
    let res = Replay::new(&s).exchanges([0]).run(op);
    assert!(matches!(res, Err(Error::NotFound(_))), "{res:?}");
}

#[test]
fn wait_for_execution_status_finds_the_finished_allocation() {
    let s = Scenario::load("nomad/08-batch-job-succeeds.json");
    let op = nomad::wait::execution_status(&ctx(), "", "acm-ok", &[Status::Succeeded, Status::Failed], None);
    let exec = Replay::new(&s).exchanges([4, 6]).run(op).unwrap();
    assert_eq!(exec.id, "294e657f-3f0a-03f7-a46d-932b102c10ce");
    assert_eq!(exec.status, Some(Status::Succeeded));
    assert_eq!(exec.tasks[0].exit_code, Some(0));
}

#[test]
fn wait_for_execution_status_of_the_failing_job() {
    let s = Scenario::load("nomad/09-batch-job-fails.json");
    let op = nomad::wait::execution_status(&ctx(), "", "acm-fail", &[Status::Failed], Some(Duration::from_secs(1)));
    let exec = Replay::new(&s).exchanges([1, 3]).run(op).unwrap();
    assert_eq!(exec.status, Some(Status::Failed));
    assert_eq!(exec.tasks[0].exit_code, Some(3));
}

#[test]
fn wait_for_execution_status_times_out_after_a_blocking_query() {
    let s = Scenario::load("nomad/08-batch-job-succeeds.json");
    // The allocation is complete; waiting for Running blocks on ?index=14&wait=1s (11), which
    // answers the same index after 1.06 s: the caller's time is over. The two reads before it
    // took 1 ms each, so a 1.002 s timeout leaves the 1 s the recorder waited.
    let timeout = Some(Duration::from_millis(1002));
    let op = nomad::wait::execution_status(&ctx(), "", "acm-ok", &[Status::Running], timeout);
    let (res, _, t) = Replay::new(&s).exchanges([4, 6, 11]).recorded_latency().run_full(op);
    assert!(matches!(res, Err(Error::Timeout { .. })), "{res:?}");
    assert_eq!(t.requests[2].1, "/v1/job/acm-ok/allocations?index=14&wait=1s");
    assert!(t.waits.is_empty());
}

#[test]
fn empty_status_set_is_refused() {
    let s = Scenario::load("nomad/08-batch-job-succeeds.json");
    let res = Replay::new(&s).exchanges([]).run(nomad::wait::execution_status(&ctx(), "", "acm-ok", &[], None));
    assert!(matches!(res, Err(Error::InvalidInput { .. })), "{res:?}");
}

/// Drive `op` by hand, answering its requests with `answers` in turn; returns the requests.
fn drive<O: Operation>(mut op: O, answers: Vec<http::Response<Bytes>>) -> (Result<O::Output, Error>, Vec<String>) {
    let now = Instant::now();
    let mut answers = answers.into_iter();
    let mut asked = Vec::new();
    loop {
        match op.poll(now) {
            Step::Send(req, _) => {
                asked.push(req.uri().to_string());
                let resp = answers.next().unwrap_or_else(|| panic!("no answer left for {}", req.uri()));
                op.handle(Event::Response(resp));
            }
            Step::Done(result) => return (result, asked),
            _ => panic!("unexpected step"),
        }
    }
}

#[test]
fn an_index_that_goes_backwards_resets_to_zero_and_zero_becomes_one() {
    // Derived from 08: the running job (1) answered with indexes a restored server could give,
    // each blocking read answered after the wait it asked for (no early answer: no back-off).
    let s = Scenario::load("nomad/08-batch-job-succeeds.json");
    let with_index = |i: usize, index: &str, held: u64| {
        let mut r = s.exchange(i).response.clone();
        r.headers.insert("x-nomad-index".into(), index.into());
        Reply::Answer(r.to_http(), Duration::from_millis(held))
    };
    let replies = vec![
        with_index(1, "11", 0),      // first read
        with_index(1, "9", 300_000), // went backwards: read again at once, without index
        with_index(1, "0", 0),       // a zero index: block on 1, never on 0
        with_index(2, "14", 1000),   // dead
        with_index(5, "14", 0),
        with_index(3, "14", 0),
    ];
    let (job, asked, waits) = drive_clocked(nomad::wait::job(&ctx(), "", "acm-ok", None), replies);
    assert_eq!(job.unwrap().status, Some(Status::Succeeded));
    assert_eq!(
        asked[..4],
        ["/v1/job/acm-ok", "/v1/job/acm-ok?index=11&wait=300s", "/v1/job/acm-ok", "/v1/job/acm-ok?index=1&wait=300s"]
    );
    assert!(waits.is_empty(), "{waits:?}");
}

#[test]
fn an_early_answer_without_a_higher_index_is_followed_only_after_a_backoff() {
    // A proxy that ignores `index=`: every read of 08's running job (1) comes back at once with
    // index 11, then 0, then lower, then 11 again. Each early answer without progress is followed
    // after a growing back-off, never at once.
    let s = Scenario::load("nomad/08-batch-job-succeeds.json");
    let with_index = |i: usize, index: &str| {
        let mut r = s.exchange(i).response.clone();
        r.headers.insert("x-nomad-index".into(), index.into());
        Reply::Answer(r.to_http(), Duration::ZERO)
    };
    let mut replies = vec![with_index(1, "11")];
    for index in ["11", "0", "11", "7", "11", "11"] {
        replies.push(with_index(1, index));
    }
    replies.extend([with_index(2, "14"), with_index(5, "14"), with_index(3, "14")]);
    let (job, asked, waits) = drive_clocked(nomad::wait::job(&ctx(), "", "acm-ok", None), replies);
    assert_eq!(job.unwrap().status, Some(Status::Succeeded));
    assert_eq!(asked.len(), 10, "{asked:#?}");
    assert!(waits.len() >= 4, "{waits:?}");
    assert!(waits[0] >= nomad::wait::STALL_BACKOFF_INITIAL / 2, "{waits:?}");
    assert!(waits.last() > waits.first(), "the back-off grows: {waits:?}");
}

#[test]
fn a_blocking_job_list_query_as_recorded() {
    let s = Scenario::load("nomad/16-job-list-prefix.json");
    let q = Query::new(&ctx(), "/v1/jobs").param("prefix", "acm-").blocking(48, Duration::from_secs(1));
    assert_request_matches(&q.get().unwrap(), &s.exchange(3).request, true);
    let jobs = nomad::job::parse_job_list(&ctx(), "", s.exchange(3).response.body.as_bytes()).unwrap();
    assert_eq!(jobs.len(), 2);
    assert_eq!(s.exchange(3).response.headers["x-nomad-index"], "48", "a timed-out blocking query keeps its index");
}

#[test]
fn a_long_timeout_blocks_at_most_five_minutes_at_a_time() {
    // Derived from 08: the running job (1), then still running after a blocking query.
    let s = Scenario::load("nomad/08-batch-job-succeeds.json");
    let answers = [
        s.exchange(1).response.to_http(),
        s.exchange(1).response.to_http(),
        s.exchange(2).response.to_http(),
        s.exchange(5).response.to_http(),
        s.exchange(3).response.to_http(),
    ];
    for timeout in [Some(Duration::from_secs(3600)), None] {
        // the unchanged index came back when its wait had passed: asked again at once
        let replies = answers.iter().enumerate().map(|(i, r)| {
            let held = if i == 1 { Duration::from_secs(300) } else { Duration::ZERO };
            Reply::Answer(r.clone(), held)
        });
        let (job, asked, waits) = drive_clocked(nomad::wait::job(&ctx(), "", "acm-ok", timeout), replies.collect());
        assert!(waits.is_empty(), "{waits:?}");
        assert_eq!(job.unwrap().status, Some(Status::Succeeded));
        assert_eq!(asked[1..3], ["/v1/job/acm-ok?index=11&wait=300s", "/v1/job/acm-ok?index=11&wait=300s"]);
    }
}

#[test]
fn an_answer_without_its_index_stops_the_wait_instead_of_spinning() {
    // 08's running job (1) as a proxy that strips X-Nomad-* headers would pass it on.
    let s = Scenario::load("nomad/08-batch-job-succeeds.json");
    let mut stripped = s.exchange(1).response.clone();
    stripped.headers.retain(|k, _| !k.starts_with("x-nomad-"));
    let (res, asked) = drive(nomad::wait::job(&ctx(), "", "acm-ok", None), vec![stripped.to_http()]);
    assert!(matches!(res, Err(Error::Protocol(ref m)) if m.contains("X-Nomad-Index")), "{res:?}");
    assert_eq!(asked, ["/v1/job/acm-ok"]);
}

/// What a scripted server does with one request: answer it (after holding it this long), or
/// fail the connection after this long.
enum Reply {
    Answer(http::Response<Bytes>, Duration),
    Fail(clustermanager_core::error::TransportErrorKind, Duration),
}

/// Drive `op` with a clock: each request gets the next reply; back-offs pass on the clock.
/// Returns the outcome, the requests and the back-offs.
fn drive_clocked<O: Operation>(
    mut op: O,
    replies: Vec<Reply>,
) -> (Result<O::Output, Error>, Vec<String>, Vec<Duration>) {
    let mut now = Instant::now();
    let mut replies = replies.into_iter();
    let (mut asked, mut waits) = (Vec::new(), Vec::new());
    loop {
        match op.poll(now) {
            Step::Send(req, _) => {
                asked.push(req.uri().to_string());
                match replies.next().unwrap_or_else(|| panic!("no reply left for {}", req.uri())) {
                    Reply::Answer(resp, held) => {
                        now += held;
                        op.handle(Event::Response(resp));
                    }
                    Reply::Fail(kind, after) => {
                        now += after;
                        op.handle(Event::Failed(Error::transport(kind, "connection reset by peer")));
                    }
                }
            }
            Step::WaitUntil(at) => {
                waits.push(at.saturating_duration_since(now));
                now = now.max(at);
            }
            Step::Done(result) => return (result, asked, waits),
            _ => panic!("unexpected step"),
        }
    }
}

use clustermanager_core::error::TransportErrorKind::Io;

#[test]
fn a_blocking_query_cut_after_a_long_poll_is_resumed_from_the_same_index() {
    // 08 [1] (running at 11); the blocking read ?index=11 is held 90 s, then a load balancer
    // resets the connection (scripted: longer than the retry budget of 60 s, so the exchange
    // gives up at once); the wait backs off and asks again from index 11, answered by 08 [2]
    // (dead at 14), then the summary (5) and allocations (3).
    let s = Scenario::load("nomad/08-batch-job-succeeds.json");
    let answer = |i: usize| Reply::Answer(s.exchange(i).response.to_http(), Duration::ZERO);
    let replies = vec![answer(1), Reply::Fail(Io, Duration::from_secs(90)), answer(2), answer(5), answer(3)];
    let (job, asked, waits) = drive_clocked(nomad::wait::job(&ctx(), "", "acm-ok", None), replies);
    assert_eq!(job.unwrap().status, Some(Status::Succeeded));
    assert_eq!(asked[1..3], ["/v1/job/acm-ok?index=11&wait=300s", "/v1/job/acm-ok?index=11&wait=300s"]);
    assert_eq!(waits.len(), 1, "one back-off before the query is asked again");
    assert!(waits[0] <= Context::default().retry.policy.initial_backoff, "{waits:?}");
}

#[test]
fn a_blocking_query_failing_with_a_server_error_is_resumed_within_the_deadline() {
    // 08: the allocations of acm-ok (6, complete at 14) while waiting for Running; the blocking
    // read ?index=14 answers a scripted 500 "No cluster leader" (a leader election) three
    // times, then the recorded timeout of the blocking query (11), until the caller's 10 s are
    // over: a Timeout, not the 500.
    let s = Scenario::load("nomad/08-batch-job-succeeds.json");
    let no_leader = || {
        Reply::Answer(
            http::Response::builder().status(500).body(Bytes::from("No cluster leader")).unwrap(),
            Duration::ZERO,
        )
    };
    let replies = vec![
        Reply::Answer(s.exchange(4).response.to_http(), Duration::ZERO),
        Reply::Answer(s.exchange(6).response.to_http(), Duration::ZERO),
        no_leader(),
        no_leader(),
        no_leader(),
        Reply::Answer(s.exchange(11).response.to_http(), Duration::from_secs(60)),
    ];
    let op = nomad::wait::execution_status(&ctx(), "", "acm-ok", &[Status::Running], Some(Duration::from_secs(10)));
    let (res, asked, waits) = drive_clocked(op, replies);
    assert!(matches!(res, Err(Error::Timeout { .. })), "{res:?}");
    assert!(asked[2..].iter().all(|a| a.starts_with("/v1/job/acm-ok/allocations?index=14&wait=")), "{asked:?}");
    assert_eq!(waits.len(), 3);
    assert!(waits[0] < waits[2], "the back-off grows: {waits:?}");
}

#[test]
fn the_first_read_failing_is_reported_not_resumed() {
    // Only a blocking read (one that waited on an index) is resumed: a first read that fails
    // after its retries is the caller's to see.
    let replies = vec![Reply::Fail(Io, Duration::from_secs(61))];
    let (res, asked, _) = drive_clocked(nomad::wait::job(&ctx(), "", "acm-ok", None), replies);
    assert!(matches!(res, Err(Error::Transport { .. })), "{res:?}");
    assert_eq!(asked, ["/v1/job/acm-ok"]);
}

/// `from` answering `path` instead (a blocking read the recorder did not make with these
/// parameters), with `X-Nomad-Index: index`.
fn derived(from: &clustermanager_tests::Exchange, path: &str, index: &str) -> clustermanager_tests::Exchange {
    let mut ex = from.clone();
    ex.request.path = path.into();
    ex.response.headers.insert("x-nomad-index".into(), index.into());
    ex.comment = Some(format!("derived from {} {}", from.request.method, from.request.path));
    ex
}

#[test]
fn an_execution_wait_ends_with_not_found_when_the_job_is_purged_meanwhile() {
    // 15: waiting for acm-stop to succeed: the job (2, stopped), its allocation being killed
    // (3, index 47); the job is purged (4) and the blocking read ?index=47 returns the
    // allocation complete at 49 (derived from 3): killed, so Failed, no match. The job is read
    // again: 404 `job not found` (5), and the wait ends instead of blocking forever.
    let mut s = Scenario::load("nomad/15-job-stop-purge.json");
    let mut done = derived(s.exchange(3), "/v1/job/acm-stop/allocations?index=47&wait=300s", "49");
    done.response.body = done.response.body.replacen(r#""ClientStatus":"running""#, r#""ClientStatus":"complete""#, 1);
    s.exchanges.push(done);
    let op = nomad::wait::execution_status(&ctx(), "", "acm-stop", &[Status::Succeeded], None);
    let (res, _, t) = Replay::new(&s).exchanges([2, 3, 7, 5]).run_full(op);
    assert!(matches!(res, Err(Error::NotFound(ref a)) if a.message.contains("acm-stop")), "{res:?}");
    assert_eq!(t.requests[3].1, "/v1/job/acm-stop");
}

#[test]
fn an_execution_wait_reads_the_job_again_and_blocks_on() {
    // 08: waiting for acm-ok to run: the job (4), its allocations (6, complete at 14); the
    // blocking read ?index=14 comes back at 14 (its wait passed; derived from 11), the job is
    // still there (4), so it blocks again, and this time the allocation is running (derived).
    let mut s = Scenario::load("nomad/08-batch-job-succeeds.json");
    let blocking = "/v1/job/acm-ok/allocations?index=14&wait=300s";
    s.exchanges.push(derived(s.exchange(11), blocking, "14"));
    let mut running = derived(s.exchange(11), blocking, "15");
    running.response.body =
        running.response.body.replacen(r#""ClientStatus":"complete""#, r#""ClientStatus":"running""#, 1);
    s.exchanges.push(running);
    let op = nomad::wait::execution_status(&ctx(), "", "acm-ok", &[Status::Running], None);
    let (res, _, t) = Replay::new(&s).exchanges([4, 6, 12, 4, 13]).run_full(op);
    assert_eq!(res.unwrap().status, Some(Status::Running));
    assert_eq!(t.requests[3].1, "/v1/job/acm-ok");
}
