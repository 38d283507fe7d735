//! Executions (allocations) and the unified status mapping against recordings of Nomad 1.1.2:
//! a completed allocation (08), a failed one with its exit code (09), one being stopped (15),
//! an unknown job (11), a dispatched child (20), and stopping an allocation.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Instant;

use clustermanager_core::nomad::{self, status, Context};
use clustermanager_core::{Error, Event, Operation, Status, Step};
use clustermanager_tests::recorded::RecordedServer;
use clustermanager_tests::transport::block_on;
use clustermanager_tests::{Exchange, Replay, Scenario};
use proptest::prelude::*;

fn ctx() -> Context {
    Context::default()
}

#[test]
fn a_completed_allocation_succeeded() {
    let s = Scenario::load("nomad/08-batch-job-succeeds.json");
    let execs = Replay::new(&s).exchanges([3]).run(nomad::execution::list(&ctx(), "", "acm-ok")).unwrap();
    assert_eq!(execs.len(), 1);
    let e = &execs[0];
    assert_eq!(e.id, "294e657f-3f0a-03f7-a46d-932b102c10ce");
    assert_eq!((e.job_name.as_str(), e.namespace.as_str()), ("acm-ok", "default"));
    assert_eq!((e.status, e.raw_status.as_str()), (Some(Status::Succeeded), "complete"));
    assert_eq!(e.node.as_deref(), Some("1a7c7f34-fbe7-dc91-2b6f-52de5ee26b58"));
    assert_eq!(e.created.as_deref(), Some("2026-11-25T20:36:04.788003276Z"));
    let t = &e.tasks[0];
    assert_eq!((t.name.as_str(), t.state.as_str(), t.exit_code, t.failed), ("main", "dead", Some(0), false));
    assert_eq!(t.reason.as_deref(), Some("Terminated: Exit Code: 0"));
}

#[test]
fn a_failed_allocation_has_its_exit_code_and_reason() {
    let s = Scenario::load("nomad/09-batch-job-fails.json");
    let execs = Replay::new(&s).exchanges([3]).run(nomad::execution::list(&ctx(), "", "acm-fail")).unwrap();
    let e = &execs[0];
    assert_eq!(e.status, Some(Status::Failed));
    let t = &e.tasks[0];
    assert_eq!((t.exit_code, t.failed, t.restarts), (Some(3), true, 0));
    assert_eq!(t.reason.as_deref(), Some("Not Restarting: Policy allows no restarts"));
}

#[test]
fn an_allocation_being_stopped_is_still_running() {
    let s = Scenario::load("nomad/15-job-stop-purge.json");
    let execs = Replay::new(&s).exchanges([3]).run(nomad::execution::list(&ctx(), "", "acm-stop")).unwrap();
    assert_eq!(execs[0].status, Some(Status::Running));
    assert_eq!(execs[0].tasks[0].exit_code, None);
    assert!(execs[0].tasks[0].reason.as_deref().unwrap_or("").starts_with("Killing"));
}

#[test]
fn an_unknown_job_has_no_executions() {
    let s = Scenario::load("nomad/11-not-found.json");
    let execs = Replay::new(&s).exchanges([1]).run(nomad::execution::list(&ctx(), "", "acm-does-not-exist")).unwrap();
    assert!(execs.is_empty());
}

fn percent_decode(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 3 <= bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn executions_of_a_dispatched_job() {
    // The recorder sent the child's ID with a raw '/' (Nomad accepts both); we encode it.
    let s = Scenario::load("nomad/20-dispatch.json");
    let id = "acm-param/dispatch-1795639013-f06b5802";
    let mut op = nomad::execution::list(&ctx(), "", id);
    let Step::Send(req, _) = op.poll(Instant::now()) else { panic!("expected a request") };
    assert_eq!(req.uri().path(), "/v1/job/acm-param%2Fdispatch-1795639013-f06b5802/allocations");
    assert_eq!(percent_decode(req.uri().path()), s.exchange(6).request.path);
    op.handle(Event::Response(s.exchange(6).response.to_http()));
    let Step::Done(Ok(execs)) = op.poll(Instant::now()) else { panic!("expected executions") };
    assert_eq!(execs[0].job_name, id);
    assert_eq!(execs[0].status, Some(Status::Succeeded));
}

#[test]
fn stopping_an_unknown_allocation_is_false() {
    let s = Scenario::load("nomad/11-not-found.json");
    let op = nomad::execution::delete(&ctx(), "", "00000000-0000-0000-0000-000000000000");
    assert!(!Replay::new(&s).exchanges([3]).run(op).unwrap());
}

#[test]
fn stopping_an_allocation() {
    // 8: the allocation exists. The stop itself was not recorded: its answer is derived from the
    // shape of the recorded write answers (EvalID + Index), on the path Nomad documents.
    let mut s = Scenario::load("nomad/08-batch-job-succeeds.json");
    let mut stop: Exchange = s.exchange(0).clone();
    stop.request.method = "POST".into();
    stop.request.path = "/v1/allocation/294e657f-3f0a-03f7-a46d-932b102c10ce/stop".into();
    stop.request.body = None;
    stop.response.body = r#"{"EvalID":"50ccca62-9d8a-f5ea-b99b-f7e68248374d","Index":15}"#.into();
    s.exchanges.push(stop);
    let last = s.exchanges.len() - 1;
    let op = nomad::execution::delete(&ctx(), "", "294e657f-3f0a-03f7-a46d-932b102c10ce");
    assert!(Replay::new(&s).exchanges([8, last]).run(op).unwrap());
}

#[test]
fn list_all_parses_allocation_stubs() {
    // /v1/allocations was not recorded; its stubs have the shape of the job allocation list.
    let s = Scenario::load("nomad/09-batch-job-fails.json");
    let execs = nomad::execution::parse_executions(&ctx(), "", s.exchange(3).response.body.as_bytes()).unwrap();
    assert_eq!(execs[0].job_name, "acm-fail");
    let mut op = nomad::execution::list_all(&ctx(), "");
    let Step::Send(req, _) = op.poll(Instant::now()) else { panic!("expected a request") };
    assert_eq!(req.uri(), "/v1/allocations");
}

#[test]
fn job_statuses_across_recordings() {
    let cases = [
        (
            "nomad/16-job-list-prefix.json",
            0,
            vec![("acm-fail", Some(Status::Failed)), ("acm-ok", Some(Status::Succeeded))],
        ),
        ("nomad/17-namespaces.json", 6, vec![("acm-ns-job", Some(Status::Running))]),
        (
            "nomad/20-dispatch.json",
            7,
            vec![
                ("acm-param", Some(Status::Running)),
                ("acm-param/dispatch-1795639013-f06b5802", Some(Status::Succeeded)),
            ],
        ),
    ];
    for (file, i, want) in cases {
        let s = Scenario::load(file);
        let jobs = nomad::job::parse_job_list(&ctx(), "", s.exchange(i).response.body.as_bytes()).unwrap();
        let got: Vec<_> = jobs.iter().map(|j| (j.name.as_str(), j.status)).collect();
        assert_eq!(got, want, "{file} #{i}");
    }
}

#[test]
fn errors_keep_the_servers_plain_text() {
    // 404 with an empty body (unknown path) and with text; 405; 400.
    let nf = Scenario::load("nomad/11-not-found.json");
    let invalid = Scenario::load("nomad/10-invalid-job-specs.json");
    let err = |ex: &Exchange| {
        let r = ex.response.to_http();
        nomad::check(r).unwrap_err()
    };
    assert!(matches!(err(nf.exchange(7)), Error::NotFound(ref a) if a.message == "Not Found"));
    assert!(matches!(err(nf.exchange(3)), Error::NotFound(ref a) if a.message == "alloc not found"));
    assert!(matches!(err(invalid.exchange(13)), Error::BadRequest(ref a) if a.message == "Invalid method"));
    assert!(matches!(err(invalid.exchange(4)), Error::BadRequest(ref a) if a.message == "unexpected EOF"));
    let Error::Invalid(api) = err(invalid.exchange(3)) else { panic!("validation 500 is Invalid") };
    assert_eq!(api.causes[0].message, "Invalid job type: \"cron\"");
}

const CLIENT: [&str; 6] = ["pending", "running", "complete", "failed", "lost", "unknown"];

proptest! {
    /// Whatever client status the recorded failed allocation of 09 reports, the execution's
    /// status is the documented mapping of it.
    #[test]
    fn execution_status_follows_client_status(c in 0..CLIENT.len()) {
        let s = Scenario::load("nomad/09-batch-job-fails.json");
        let body = s.exchange(3).response.body.replacen("\"ClientStatus\":\"failed\"", &format!("\"ClientStatus\":\"{}\"", CLIENT[c]), 1);
        let execs = nomad::execution::parse_executions(&ctx(), "", body.as_bytes()).unwrap();
        prop_assert_eq!(execs[0].status, status::allocation_status(status::AllocView { client_status: CLIENT[c], desired_status: "run" }));
        prop_assert_eq!(execs[0].raw_status.as_str(), CLIENT[c]);
    }

    /// A job list stub's status depends only on its Status and summary counts: a dead job with a
    /// failure is Failed, whatever else the summary says.
    #[test]
    fn dead_stub_with_failures_is_failed(complete in 0u32..3, failed in 1u32..3) {
        let s = Scenario::load("nomad/16-job-list-prefix.json");
        let body = s.exchange(1).response.body
            .replacen("\"Complete\":1", &format!("\"Complete\":{complete}"), 1)
            .replacen("\"Failed\":0", &format!("\"Failed\":{failed}"), 1);
        let jobs = nomad::job::parse_job_list(&ctx(), "", body.as_bytes()).unwrap();
        prop_assert_eq!(jobs[0].status, Some(Status::Failed));
        prop_assert_eq!(jobs[0].failed, failed);
    }
}

/// `acm-fail` registered again (version 1) after its failed run (version 0), and succeeding
/// this time: Nomad keeps the failed version-0 allocation and its summary counts both runs.
/// Derived from the recorded bodies of 09 (the failed run) and 08 (a successful allocation):
/// the job's `Version` is 1, the summary also counts the success, and the allocation list holds
/// the old failed allocation (`JobVersion` 0, newer `CreateTime` than the successful one, so
/// picking by time would pick it) and the new successful one (`JobVersion` 1).
fn reregistered() -> Scenario {
    let mut s = Scenario::load("nomad/09-batch-job-fails.json");
    let ok = Scenario::load("nomad/08-batch-job-succeeds.json");
    let job = &mut s.exchanges[1].response.body;
    assert!(job.contains("\"Version\":0,"));
    *job = job.replacen("\"Version\":0,", "\"Version\":1,", 1);
    let summary = &mut s.exchanges[2].response.body;
    assert!(summary.contains("\"Complete\":0"));
    *summary = summary.replacen("\"Complete\":0", "\"Complete\":1", 1);
    let old: Vec<serde_json::Value> = serde_json::from_str(&s.exchanges[3].response.body).unwrap();
    let mut new: Vec<serde_json::Value> = serde_json::from_str(&ok.exchange(6).response.body).unwrap();
    assert_eq!(old[0]["JobVersion"], 0);
    new[0]["JobID"] = "acm-fail".into();
    new[0]["JobVersion"] = 1.into();
    assert!(old[0]["CreateTime"].as_i64() > new[0]["CreateTime"].as_i64());
    let both: Vec<_> = new.into_iter().chain(old).collect();
    s.exchanges[3].response.body = serde_json::to_string(&both).unwrap();
    s
}

#[test]
fn a_job_registered_again_is_judged_by_its_current_version() {
    let s = reregistered();
    let job = Replay::new(&s).exchanges([1, 2, 3]).run(nomad::job::get(&ctx(), "", "acm-fail")).unwrap();
    assert_eq!(job.status, Some(Status::Succeeded));
    assert_eq!((job.succeeded, job.failed), (1, 0));
    // Its summary alone (a list stub) cannot tell the runs apart.
    let summary = s.exchange(2).response.body.as_bytes();
    let counts: serde_json::Value = serde_json::from_slice(summary).unwrap();
    assert_eq!(counts["Summary"]["main"]["Failed"], 1);
}

/// `wait_for_job_execution_status` through the facade (its first look at the job and its
/// allocations answers it): the old failed run's allocation is newer, but not of this run.
#[test]
fn waiting_for_an_execution_ignores_earlier_versions() {
    let s = reregistered();
    let server = RecordedServer::new().on("GET", "/v1/job/acm-fail", vec![s.exchange(1).response.clone()]).on(
        "GET",
        "/v1/job/acm-fail/allocations",
        vec![s.exchange(3).response.clone()],
    );
    let (_, cm) = server.nomad_manager();
    let wanted = [Status::Succeeded, Status::Failed];
    let execution = block_on(cm.wait_for_job_execution_status("default", "acm-fail", &wanted, None)).unwrap();
    assert_eq!(execution.status, Some(Status::Succeeded));
    assert_eq!(execution.id, "294e657f-3f0a-03f7-a46d-932b102c10ce");
}

#[test]
fn a_stopped_job_is_judged_by_the_allocations_its_stop_ended() {
    // 15: stopping bumped the job to version 1; its allocation (version 0) is being stopped.
    let s = Scenario::load("nomad/15-job-stop-purge.json");
    let job = nomad::job::get(&ctx(), "", "acm-stop");
    let mut summary = s.exchange(3).clone();
    summary.request.path = "/v1/job/acm-stop/summary".into();
    summary.response.body =
        r#"{"JobID":"acm-stop","Namespace":"default","Summary":{"main":{"Queued":0,"Complete":0,"Failed":0,"Running":1,"Starting":0,"Lost":0}},"Children":{"Pending":0,"Running":0,"Dead":0},"CreateIndex":40,"ModifyIndex":42}"#.into();
    let mut s = s;
    s.exchanges.push(summary);
    let last = s.exchanges.len() - 1;
    let job = Replay::new(&s).exchanges([2, last, 3]).run(job).unwrap();
    assert!(job.deleting);
    assert_eq!((job.status, job.active), (Some(Status::Failed), 1));
}

/// 15 [3]: `acm-stop`'s allocation after the job was stopped (`DesiredStatus: stop`, task being
/// killed). Still `running` it is Running; once the kill is over the client reports it
/// `complete` (edited here, the recording ends before): a stopped run is Failed, as the job
/// whose allocation it is, and the raw status stays `complete`.
#[test]
fn a_stopped_allocation_that_completed_is_failed_not_succeeded() {
    let s = Scenario::load("nomad/15-job-stop-purge.json");
    let body = &s.exchange(3).response.body;
    let execs = nomad::execution::parse_executions(&ctx(), "", body.as_bytes()).unwrap();
    assert_eq!((execs[0].status, execs[0].raw_status.as_str()), (Some(Status::Running), "running"));

    let completed = body.replacen(r#""ClientStatus":"running""#, r#""ClientStatus":"complete""#, 1);
    assert_ne!(&completed, body);
    let execs = nomad::execution::parse_executions(&ctx(), "", completed.as_bytes()).unwrap();
    assert_eq!((execs[0].status, execs[0].raw_status.as_str()), (Some(Status::Failed), "complete"));
    // evicted (node drained) likewise; only a `run` allocation that completed succeeded
    let evicted = completed.replacen(r#""DesiredStatus":"stop""#, r#""DesiredStatus":"evict""#, 1);
    let execs = nomad::execution::parse_executions(&ctx(), "", evicted.as_bytes()).unwrap();
    assert_eq!(execs[0].status, Some(Status::Failed));
    let kept = completed.replacen(r#""DesiredStatus":"stop""#, r#""DesiredStatus":"run""#, 1);
    let execs = nomad::execution::parse_executions(&ctx(), "", kept.as_bytes()).unwrap();
    assert_eq!(execs[0].status, Some(Status::Succeeded));
}
