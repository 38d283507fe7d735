//! Nomad waits as users take them (`ClusterManager::wait_for_job`,
//! `wait_for_job_execution_status`), against recordings of Nomad 1.1.2: the job that turns dead
//! while a blocking query waits (08), an allocation blocking query that times out (08), the
//! failing job (09), unknown jobs (11), a job purged meanwhile (15) and the job list (16).
//!
//! The waits run through the facade over a [`RecordedServer`]. The recorder followed one job
//! with blocking reads of `/v1/job/<id>` (or its allocations); the facade follows the
//! namespace's job list with one chain of blocking queries instead (`/v1/jobs?index=N&wait=W`),
//! reads the job once when its stub says it is dead, and for an execution wait looks at the
//! job's allocations when it joins and whenever the stub's counts say one may be in a wanted
//! status. So the recorded list stubs of 16 (edited to the state 08's reads show at that index)
//! are served on the list route, with the recorded indexes, holds and failures; the recorded
//! job, summary and allocation bodies answer the reads.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Duration;

use clustermanager_core::deadline::Hold;
use clustermanager_core::error::TransportErrorKind::Io;
use clustermanager_core::nomad::{self, query::Query, Context};
use clustermanager_core::{Error, Status};
use clustermanager_tests::recorded::{RecordedServer, Reply};
use clustermanager_tests::transport::block_on;
use clustermanager_tests::{assert_request_matches, RecordedResponse, Scenario};

fn ctx() -> Context {
    Context { datacenters: vec!["dc1".into()], ..Context::default() }
}

/// 16's recorded list stub of `acm-ok` (dead, one allocation complete) as the job list answers
/// at `index`: job `id` with Nomad status `status`, `running` allocations running and
/// `complete` complete.
fn stub(id: &str, status: &str, running: u32, complete: u32, index: u64) -> RecordedResponse {
    let mut r = Scenario::load("nomad/16-job-list-prefix.json").exchange(1).response.clone();
    assert!(r.body.contains(r#""Complete":1,"Failed":0,"Running":0"#) && r.body.contains(r#""Status":"dead""#));
    r.body = r
        .body
        .replace(r#""Status":"dead""#, &format!(r#""Status":"{status}""#))
        .replace(
            r#""Complete":1,"Failed":0,"Running":0"#,
            &format!(r#""Complete":{complete},"Failed":0,"Running":{running}"#),
        )
        .replace("acm-ok", id);
    r.headers.insert("x-nomad-index".into(), index.to_string());
    r.elapsed_ms = None;
    r
}

/// `r` with the recorded time `ms` the server took.
fn took(mut r: RecordedResponse, ms: f64) -> RecordedResponse {
    r.elapsed_ms = Some(ms);
    r
}

/// `r`, answered at once.
fn now(r: RecordedResponse) -> Reply {
    Reply::Recorded(r)
}

/// `r`, answered after the server held the request `secs` seconds.
fn held(r: RecordedResponse, secs: u64) -> Reply {
    Reply::Held(r, Duration::from_secs(secs))
}

/// 08's reads of the finished `acm-ok` (job, summary, allocations at index 14): what the
/// waiter reads once the job list says it is dead.
fn acm_ok_finished(server: RecordedServer) -> RecordedServer {
    let s = Scenario::load("nomad/08-batch-job-succeeds.json");
    server
        .on("GET", "/v1/job/acm-ok", vec![s.exchange(4).response.clone()])
        .on("GET", "/v1/job/acm-ok/summary", vec![s.exchange(5).response.clone()])
        .on("GET", "/v1/job/acm-ok/allocations", vec![s.exchange(3).response.clone()])
}

/// The job-list queries `server` saw (the first at once, the others blocking).
fn lists(server: &RecordedServer) -> Vec<String> {
    server.requests().into_iter().filter(|r| r.starts_with("GET /v1/jobs")).collect()
}

/// A job wait on `acm-ok` whose job list answers `replies` in turn.
fn wait_acm_ok(
    replies: Vec<Reply>,
    timeout: Option<Duration>,
) -> (Result<clustermanager_core::Job, Error>, RecordedServer) {
    let (server, cm) = acm_ok_finished(RecordedServer::new().on_replies("GET", "/v1/jobs", replies)).nomad_manager();
    (block_on(cm.wait_for_job("default", "acm-ok", timeout)), server)
}

#[test]
fn wait_for_job_blocks_until_it_is_dead() {
    // 08: running at index 11 (its first read took 3 ms), then dead at 14 after 2.25 s, as the
    // blocking read ?index=11&wait=5s answered. A 5.003 s timeout leaves the 5 s the recorder
    // waited.
    let s = Scenario::load("nomad/08-batch-job-succeeds.json");
    let running = took(stub("acm-ok", "running", 1, 0, 11), s.exchange(1).response.elapsed_ms.unwrap());
    let dead = took(stub("acm-ok", "dead", 0, 1, 14), s.exchange(2).response.elapsed_ms.unwrap());
    let list = RecordedServer::new().recorded_latency().on("GET", "/v1/jobs", vec![running, dead]);
    let (server, cm) = acm_ok_finished(list).nomad_manager();
    let before = server.requests().len();
    let job = block_on(cm.wait_for_job("default", "acm-ok", Some(Duration::from_millis(5003)))).unwrap();
    assert_eq!(job.status, Some(Status::Succeeded));
    assert_eq!(job.succeeded, 1);
    let lists = lists(&server);
    assert_eq!(lists.len(), 2, "{lists:?}");
    assert!(lists[1].contains("index=11&wait=5s"), "{lists:?}");
    let ios = &server.ios()[before..];
    assert_eq!(ios[0].hold, Hold::None, "the first list does not block");
    assert_eq!(ios[1].hold, Hold::Server(Duration::from_secs(5)), "the step says how long the server may hold it");
    assert!(ios.iter().all(|io| io.deadline.is_some()), "every request carries the caller's deadline: {ios:?}");
    assert!(server.sleeps().is_empty(), "no sleeping: {:?}", server.sleeps());
    assert!(server.elapsed() > Duration::from_secs(2));
}

#[test]
fn wait_for_a_dead_job_answers_at_once() {
    // 16's list holds acm-fail dead; the waiter reads it (09: job, summary, allocations)
    let s09 = Scenario::load("nomad/09-batch-job-fails.json");
    let s16 = Scenario::load("nomad/16-job-list-prefix.json");
    let server = RecordedServer::new()
        .on("GET", "/v1/jobs", vec![s16.exchange(0).response.clone()])
        .on("GET", "/v1/job/acm-fail", vec![s09.exchange(1).response.clone()])
        .on("GET", "/v1/job/acm-fail/summary", vec![s09.exchange(2).response.clone()])
        .on("GET", "/v1/job/acm-fail/allocations", vec![s09.exchange(3).response.clone()]);
    let (server, cm) = server.nomad_manager();
    let job = block_on(cm.wait_for_job("default", "acm-fail", Some(Duration::from_secs(5)))).unwrap();
    assert_eq!(job.status, Some(Status::Failed));
    assert_eq!(lists(&server).len(), 1, "no blocking query: {:?}", server.requests());
}

#[test]
fn waits_on_an_unknown_job_are_not_found() {
    let s11 = Scenario::load("nomad/11-not-found.json");
    let s16 = Scenario::load("nomad/16-job-list-prefix.json");
    // the job wait: the namespace's list does not hold it
    let (server, cm) =
        RecordedServer::new().on("GET", "/v1/jobs", vec![s16.exchange(0).response.clone()]).nomad_manager();
    let res = block_on(cm.wait_for_job("default", "acm-does-not-exist", None));
    assert!(matches!(res, Err(Error::NotFound(_))), "{res:?}");
    assert_eq!(lists(&server).len(), 1);
    // Nomad lists no allocations for an unknown job ([] with 200, exchange 1): the execution
    // wait reads the job first instead of waiting forever.
    assert_eq!(s11.exchange(1).response.body, "[]");
    let server = RecordedServer::new().on("GET", "/v1/job/acm-does-not-exist", vec![s11.exchange(0).response.clone()]);
    let (_, cm) = server.nomad_manager();
    let res = block_on(cm.wait_for_job_execution_status("default", "acm-does-not-exist", &[Status::Running], None));
    assert!(matches!(res, Err(Error::NotFound(_))), "{res:?}");
}

/// An execution wait on job `id` of recording `s`: its job read answers `job`, its allocations
/// `allocations` in turn, and the namespace's job list `list` in turn.
fn execution_server(
    s: &Scenario,
    id: &str,
    job: usize,
    allocations: Vec<RecordedResponse>,
    list: Vec<Reply>,
) -> RecordedServer {
    RecordedServer::new()
        .on("GET", &format!("/v1/job/{id}"), vec![s.exchange(job).response.clone()])
        .on("GET", &format!("/v1/job/{id}/allocations"), allocations)
        .on_replies("GET", "/v1/jobs", list)
}

#[test]
fn wait_for_execution_status_finds_the_finished_allocation() {
    let s = Scenario::load("nomad/08-batch-job-succeeds.json");
    let (server, cm) = execution_server(&s, "acm-ok", 4, vec![s.exchange(6).response.clone()], vec![]).nomad_manager();
    let wanted = [Status::Succeeded, Status::Failed];
    let exec = block_on(cm.wait_for_job_execution_status("default", "acm-ok", &wanted, None)).unwrap();
    assert_eq!(exec.id, "294e657f-3f0a-03f7-a46d-932b102c10ce");
    assert_eq!(exec.status, Some(Status::Succeeded));
    assert_eq!(exec.tasks[0].exit_code, Some(0));
    assert!(lists(&server).is_empty(), "the first look found it");
}

#[test]
fn wait_for_execution_status_of_the_failing_job() {
    let s = Scenario::load("nomad/09-batch-job-fails.json");
    let (_, cm) = execution_server(&s, "acm-fail", 1, vec![s.exchange(3).response.clone()], vec![]).nomad_manager();
    let timeout = Some(Duration::from_secs(1));
    let exec = block_on(cm.wait_for_job_execution_status("default", "acm-fail", &[Status::Failed], timeout)).unwrap();
    assert_eq!(exec.status, Some(Status::Failed));
    assert_eq!(exec.tasks[0].exit_code, Some(3));
}

#[test]
fn wait_for_execution_status_times_out_after_a_blocking_query() {
    // The allocation is complete; waiting for Running blocks on the job list ?index=14&wait=1s,
    // which answers the same index after 1.06 s (as 08's blocking read of the allocations did):
    // the caller's time is over. The two reads before it took 1 ms each, so a 1.002 s timeout
    // leaves the 1 s the recorder waited.
    let s = Scenario::load("nomad/08-batch-job-succeeds.json");
    let dead = stub("acm-ok", "dead", 0, 1, 14);
    let later = took(dead.clone(), s.exchange(11).response.elapsed_ms.unwrap());
    let server = execution_server(&s, "acm-ok", 4, vec![s.exchange(6).response.clone()], vec![now(dead), now(later)])
        .recorded_latency();
    let (server, cm) = server.nomad_manager();
    let timeout = Some(Duration::from_millis(1002));
    let res = block_on(cm.wait_for_job_execution_status("default", "acm-ok", &[Status::Running], timeout));
    assert!(matches!(res, Err(Error::Timeout { .. })), "{res:?}");
    let lists = lists(&server);
    assert_eq!(lists.len(), 2, "{lists:?}");
    assert!(lists[1].contains("index=14&wait=1s"), "{lists:?}");
    assert!(server.sleeps().is_empty(), "{:?}", server.sleeps());
}

#[test]
fn empty_status_set_is_refused() {
    let (server, cm) = RecordedServer::new().nomad_manager();
    let before = server.requests().len();
    let res = block_on(cm.wait_for_job_execution_status("default", "acm-ok", &[], None));
    assert!(matches!(res, Err(Error::InvalidInput { .. })), "{res:?}");
    assert_eq!(server.requests().len(), before);
}

#[test]
fn an_index_that_goes_backwards_resets_to_zero_and_zero_becomes_one() {
    // 08's running job listed with indexes a restored server could give, each blocking query
    // answered after the wait it asked for (no early answer: no back-off).
    let replies = vec![
        now(stub("acm-ok", "running", 1, 0, 11)),      // first list
        held(stub("acm-ok", "running", 1, 0, 9), 300), // went backwards: list again at once, without index
        now(stub("acm-ok", "running", 1, 0, 0)),       // a zero index: block on 1, never on 0
        held(stub("acm-ok", "dead", 0, 1, 14), 1),     // dead
    ];
    let (job, server) = wait_acm_ok(replies, None);
    assert_eq!(job.unwrap().status, Some(Status::Succeeded));
    let lists = lists(&server);
    assert!(!lists[0].contains("index="), "{lists:?}");
    assert!(lists[1].contains("index=11&wait=300s"), "{lists:?}");
    assert!(!lists[2].contains("index="), "{lists:?}");
    assert!(lists[3].contains("index=1&wait=300s"), "{lists:?}");
    assert!(server.sleeps().is_empty(), "{:?}", server.sleeps());
}

#[test]
fn an_early_answer_without_a_higher_index_is_followed_only_after_a_backoff() {
    // A proxy that ignores `index=`: every list of 08's running job comes back at once with
    // index 11, then 0, then lower, then 11 again. Each early answer without progress is
    // followed after a growing back-off, never at once.
    let mut replies = vec![now(stub("acm-ok", "running", 1, 0, 11))];
    for index in [11, 0, 11, 7, 11, 11] {
        replies.push(now(stub("acm-ok", "running", 1, 0, index)));
    }
    replies.push(now(stub("acm-ok", "dead", 0, 1, 14)));
    let (job, server) = wait_acm_ok(replies, None);
    assert_eq!(job.unwrap().status, Some(Status::Succeeded));
    assert_eq!(lists(&server).len(), 8, "{:#?}", lists(&server));
    let waits = server.sleeps();
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
    // 08's running job, still running after a blocking query that waited its 300 s, then dead.
    for timeout in [Some(Duration::from_secs(3600)), None] {
        let replies = vec![
            now(stub("acm-ok", "running", 1, 0, 11)),
            // the unchanged index came back when its wait had passed: asked again at once
            held(stub("acm-ok", "running", 1, 0, 11), 300),
            now(stub("acm-ok", "dead", 0, 1, 14)),
        ];
        let (job, server) = wait_acm_ok(replies, timeout);
        assert_eq!(job.unwrap().status, Some(Status::Succeeded));
        assert!(server.sleeps().is_empty(), "{:?}", server.sleeps());
        let lists = lists(&server);
        assert!(lists[1..3].iter().all(|l| l.contains("index=11&wait=300s")), "{lists:?}");
    }
}

#[test]
fn an_answer_without_its_index_stops_the_wait_instead_of_spinning() {
    // 08's running job listed as a proxy that strips X-Nomad-* headers would pass it on.
    let mut stripped = stub("acm-ok", "running", 1, 0, 11);
    stripped.headers.retain(|k, _| !k.starts_with("x-nomad-"));
    let (res, server) = wait_acm_ok(vec![now(stripped)], None);
    assert!(matches!(res, Err(Error::Protocol(ref m)) if m.contains("X-Nomad-Index")), "{res:?}");
    assert_eq!(lists(&server).len(), 1);
}

#[test]
fn a_blocking_query_cut_after_a_long_poll_is_resumed_from_the_same_index() {
    // Running at 11; the blocking query ?index=11 is held 90 s, then a load balancer resets the
    // connection (longer than the retry budget of 60 s, so the request gives up at once); the
    // wait backs off and asks again from index 11, answered dead at 14.
    let replies = vec![
        now(stub("acm-ok", "running", 1, 0, 11)),
        Reply::Fails(Io, Duration::from_secs(90)),
        now(stub("acm-ok", "dead", 0, 1, 14)),
    ];
    let (job, server) = wait_acm_ok(replies, None);
    assert_eq!(job.unwrap().status, Some(Status::Succeeded));
    let lists = lists(&server);
    assert!(lists[1..3].iter().all(|l| l.contains("index=11&wait=300s")), "{lists:?}");
    let waits = server.sleeps();
    assert_eq!(waits.len(), 1, "one back-off before the query is asked again: {waits:?}");
    assert!(waits[0] <= Context::default().retry.policy.initial_backoff, "{waits:?}");
}

#[test]
fn a_blocking_query_failing_with_a_server_error_is_resumed_within_the_deadline() {
    // 08: acm-ok's allocations (6, complete at 14) while waiting for Running; the blocking list
    // ?index=14 answers a scripted 500 "No cluster leader" (a leader election) three times,
    // then is held past the caller's 10 s: a Timeout, not the 500.
    let s = Scenario::load("nomad/08-batch-job-succeeds.json");
    let no_leader = || now(RecordedResponse::json(500, "No cluster leader"));
    let dead = || stub("acm-ok", "dead", 0, 1, 14);
    let list = vec![now(dead()), no_leader(), no_leader(), no_leader(), held(dead(), 60)];
    let (server, cm) = execution_server(&s, "acm-ok", 4, vec![s.exchange(6).response.clone()], list).nomad_manager();
    let timeout = Some(Duration::from_secs(10));
    let res = block_on(cm.wait_for_job_execution_status("default", "acm-ok", &[Status::Running], timeout));
    assert!(matches!(res, Err(Error::Timeout { .. })), "{res:?}");
    let lists = lists(&server);
    assert_eq!(lists.len(), 5, "{lists:?}");
    assert!(lists[1..].iter().all(|l| l.contains("index=14&wait=")), "{lists:?}");
    let waits = server.sleeps();
    assert_eq!(waits.len(), 3, "{waits:?}");
    assert!(waits[0] < waits[2], "the back-off grows: {waits:?}");
}

#[test]
fn the_first_read_failing_is_reported_not_resumed() {
    // Only a blocking query (one that waited on an index) is resumed: a first list that fails
    // after its retries is the caller's to see.
    let (res, server) = wait_acm_ok(vec![Reply::Fails(Io, Duration::from_secs(61))], None);
    assert!(matches!(res, Err(Error::Transport { .. })), "{res:?}");
    assert_eq!(lists(&server).len(), 1);
}

#[test]
fn an_execution_wait_ends_with_not_found_when_the_job_is_purged_meanwhile() {
    // 15: waiting for acm-stop to succeed: the job (2, stopped), its allocation being killed
    // (3, index 47): no match. The job list shows it running at 47; then the job is purged (4)
    // and the blocking query ?index=47 answers a list without it (16's empty list, at 49): the
    // wait ends with NotFound instead of blocking forever.
    let s = Scenario::load("nomad/15-job-stop-purge.json");
    let mut empty = Scenario::load("nomad/16-job-list-prefix.json").exchange(2).response.clone();
    empty.headers.insert("x-nomad-index".into(), "49".into());
    let list = vec![now(stub("acm-stop", "running", 1, 0, 47)), now(empty)];
    let (server, cm) = execution_server(&s, "acm-stop", 2, vec![s.exchange(3).response.clone()], list).nomad_manager();
    let res = block_on(cm.wait_for_job_execution_status("default", "acm-stop", &[Status::Succeeded], None));
    assert!(matches!(res, Err(Error::NotFound(ref a)) if a.message.contains("acm-stop")), "{res:?}");
    assert!(lists(&server)[1].contains("index=47"), "{:?}", lists(&server));
}

#[test]
fn an_execution_wait_looks_again_when_the_counts_change_and_blocks_on() {
    // 08: waiting for acm-ok to run: the job (4), its allocations (6, complete at 14): no match.
    // The blocking list ?index=14 comes back at 14 when its wait passed (no change: no look),
    // then at 15 with one allocation running: the waiter looks again, and this time the
    // allocation is running (edited from 6).
    let s = Scenario::load("nomad/08-batch-job-succeeds.json");
    let complete = s.exchange(6).response.clone();
    let mut running = complete.clone();
    running.body = running.body.replacen(r#""ClientStatus":"complete""#, r#""ClientStatus":"running""#, 1);
    assert_ne!(running.body, complete.body);
    let list = vec![
        now(stub("acm-ok", "dead", 0, 1, 14)),
        held(stub("acm-ok", "dead", 0, 1, 14), 300),
        now(stub("acm-ok", "running", 1, 0, 15)),
    ];
    let (server, cm) = execution_server(&s, "acm-ok", 4, vec![complete, running], list).nomad_manager();
    let res = block_on(cm.wait_for_job_execution_status("default", "acm-ok", &[Status::Running], None));
    assert_eq!(res.unwrap().status, Some(Status::Running));
    let reads = server.requests().iter().filter(|r| *r == "GET /v1/job/acm-ok").count();
    assert_eq!(reads, 2, "looked when joining and when one ran: {:?}", server.requests());
    assert_eq!(lists(&server).len(), 3);
}
