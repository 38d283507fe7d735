//! Nomad jobs against recordings of Nomad 1.1.2: create (08, 09, 10, 17, 23), get (09, 11,
//! 20), list (16, 17, 23), delete with and without purge / wait (11, 15, 17), cleanup (16, 17).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Instant;

use clustermanager_core::nomad::{self, Context, NamespaceMode};
use clustermanager_core::{DeleteOptions, Error, JobSpec, Operation, Status, Step};
use clustermanager_tests::{assert_request_matches, Exchange, Replay, Scenario};

fn ctx() -> Context {
    Context { datacenters: vec!["dc1".into()], ..Context::default() }
}

fn prefix_ctx() -> Context {
    Context { namespace_mode: NamespaceMode::Prefix, ..ctx() }
}

/// The spec the recorder registered as `name` running `/bin/sh -c script` (with the raw_exec
/// driver, named: without an image the default is the isolating exec). `Driver` at the crate
/// root is the task driver, not the operation driver.
fn recorded_spec(name: &str, script: &str) -> JobSpec {
    JobSpec::new(name)
        .driver(clustermanager_core::Driver::RawExec)
        .command(["/bin/sh", "-c"])
        .args([script])
        .cpu_limit("100m")
        .mem_limit("64Mi")
        .env("GREETING", "hello")
}

/// The body we send must equal the recorder's except for `LogConfig`: the recorder capped logs
/// at 2 files of 1 MB, we keep Nomad's default rotation (10 x 10 MB) so long logs stay readable.
/// And we add `"EnforceIndex": true, "JobModifyIndex": 0` next to `"Job"` (the recorder did
/// not): create only, an existing job of the same ID is refused, never updated.
fn assert_body_is_recorded_without_logconfig(sent: &[u8], ex: &Exchange) {
    let mut recorded: serde_json::Value = serde_json::from_str(ex.request.body.as_deref().unwrap()).unwrap();
    let task = &mut recorded["Job"]["TaskGroups"][0]["Tasks"][0];
    task.as_object_mut().unwrap().remove("LogConfig").expect("the recorder sent a LogConfig");
    assert!(recorded.get("EnforceIndex").is_none(), "the recorder did not enforce the index");
    recorded["EnforceIndex"] = serde_json::json!(true);
    recorded["JobModifyIndex"] = serde_json::json!(0);
    let sent: serde_json::Value = serde_json::from_slice(sent).unwrap();
    assert_eq!(sent, recorded);
}

/// An exchange derived from a recorded one, for a step the recorder did not take: same
/// response, another request line.
fn derived(from: &Exchange, method: &str, path: &str) -> Exchange {
    let mut ex = from.clone();
    ex.request.method = method.into();
    ex.request.path = path.into();
    ex.comment = Some(format!("derived from {} {}", from.request.method, from.request.path));
    ex
}

#[test]
fn create_registers_a_batch_job_and_reads_it_back() {
    let s = Scenario::load("nomad/08-batch-job-succeeds.json");
    let spec =
        recorded_spec("acm-ok", "echo \"$GREETING from acm-ok\"; echo 'a warning on stderr' >&2; sleep 2; echo done");
    // register, then the job (dead, index 14), its summary and its allocations
    let (job, _, t) =
        Replay::new(&s).exchanges([0, 4, 5, 6]).ignore_bodies().run_full(nomad::job::create(&ctx(), "", &spec));
    assert_body_is_recorded_without_logconfig(&t.bodies[0], s.exchange(0));
    let job = job.unwrap();
    assert_eq!(job.name, "acm-ok");
    assert_eq!(job.namespace, "default");
    assert_eq!(job.raw_status, "dead");
    assert_eq!(job.status, Some(Status::Succeeded));
    assert_eq!((job.active, job.succeeded, job.failed, job.pending), (0, 1, 0, 0));
    assert_eq!(job.version, "14");
    assert_eq!(job.start_time.as_deref(), Some("2026-11-25T20:36:04.785747131Z"));
    assert_eq!(job.completion_time.as_deref(), Some("2026-11-25T20:36:06.993397652Z"));
    assert!(!job.deleting);
}

#[test]
fn create_of_a_failing_job_reads_it_failed() {
    let s = Scenario::load("nomad/09-batch-job-fails.json");
    let spec = recorded_spec("acm-fail", "echo about to fail; echo failing >&2; exit 3");
    let (job, _, t) =
        Replay::new(&s).exchanges([0, 1, 2, 3]).ignore_bodies().run_full(nomad::job::create(&ctx(), "", &spec));
    assert_body_is_recorded_without_logconfig(&t.bodies[0], s.exchange(0));
    let job = job.unwrap();
    assert_eq!(job.status, Some(Status::Failed));
    assert_eq!((job.succeeded, job.failed), (0, 1));
}

#[test]
fn create_without_datacenters_is_invalid_with_the_servers_cause() {
    let s = Scenario::load("nomad/10-invalid-job-specs.json");
    let spec = recorded_spec("acm-invalid-nodc", "true");
    let (res, _, t) =
        Replay::new(&s).exchanges([0]).ignore_bodies().run_full(nomad::job::create(&Context::default(), "", &spec));
    assert_body_is_recorded_without_logconfig(&t.bodies[0], s.exchange(0));
    let Err(Error::Invalid(api)) = res else { panic!("expected Invalid, got {res:?}") };
    assert_eq!(api.status, 500);
    assert_eq!(api.causes.len(), 1);
    assert_eq!(api.causes[0].message, "Missing job datacenters");
}

#[test]
fn create_in_a_missing_namespace_is_not_found() {
    let s = Scenario::load("nomad/17-namespaces.json");
    let spec = recorded_spec("acm-in-missing-ns", "true");
    let (res, _, t) =
        Replay::new(&s).exchanges([4]).ignore_bodies().run_full(nomad::job::create(&ctx(), "acm-missing", &spec));
    assert_body_is_recorded_without_logconfig(&t.bodies[0], s.exchange(4));
    let Err(Error::NotFound(api)) = res else { panic!("expected NotFound, got {res:?}") };
    assert!(api.message.contains("nonexistent namespace \"acm-missing\""), "{}", api.message);
    assert!(api.message.contains("create namespace"), "{}", api.message);
}

#[test]
fn create_denied_by_acl_is_forbidden_and_the_op_sends_no_token() {
    let s = Scenario::load("nomad/23-acl.json");
    let spec = recorded_spec("acm-acl-denied", "true");
    let mut op = nomad::job::create(&ctx(), "", &spec);
    let Step::Send(req, _) = op.poll(Instant::now()) else { panic!("expected a request") };
    // The recorded request carried X-Nomad-Token: the transport adds it, never the operation.
    assert!(s.exchange(15).request.headers.contains_key("X-Nomad-Token"));
    assert!(req.headers().get("x-nomad-token").is_none());
    assert_request_matches(&req, &s.exchange(15).request, false);

    let (res, _, t) = Replay::new(&s).exchanges([15]).ignore_bodies().run_full(nomad::job::create(&ctx(), "", &spec));
    assert_body_is_recorded_without_logconfig(&t.bodies[0], s.exchange(15));
    let Err(Error::Forbidden(api)) = res else { panic!("expected Forbidden, got {res:?}") };
    assert_eq!(api.message, "Permission denied");
}

#[test]
fn create_refuses_bad_job_ids_before_sending() {
    let s = Scenario::load("nomad/08-batch-job-succeeds.json");
    for bad in ["", "has space", &"x".repeat(129)] {
        let res =
            Replay::new(&s).exchanges([]).run(nomad::job::create(&ctx(), "", &JobSpec::new(bad).command(["true"])));
        assert!(matches!(res, Err(Error::InvalidInput { .. })), "{bad:?}: {res:?}");
    }
}

#[test]
fn get_reads_job_summary_and_allocations() {
    let s = Scenario::load("nomad/09-batch-job-fails.json");
    let job = Replay::new(&s).exchanges([1, 2, 3]).run(nomad::job::get(&ctx(), "", "acm-fail")).unwrap();
    assert_eq!(job.name, "acm-fail");
    assert_eq!(job.raw_status, "dead");
    assert_eq!(job.status, Some(Status::Failed));
    assert_eq!(job.failed, 1);
}

#[test]
fn get_of_an_unknown_job_is_not_found_naming_it() {
    let s = Scenario::load("nomad/11-not-found.json");
    let res = Replay::new(&s).exchanges([0]).run(nomad::job::get(&ctx(), "", "acm-does-not-exist"));
    let Err(Error::NotFound(api)) = res else { panic!("expected NotFound, got {res:?}") };
    assert!(api.message.starts_with("job not found"), "{}", api.message);
    assert!(api.message.contains("acm-does-not-exist"));
}

#[test]
fn get_of_a_job_in_another_namespace_needs_the_namespace() {
    let s = Scenario::load("nomad/17-namespaces.json");
    // Without ?namespace= the job is a 404 (exchange 8).
    let res = Replay::new(&s).exchanges([8]).run(nomad::job::get(&ctx(), "", "acm-ns-job"));
    assert!(matches!(res, Err(Error::NotFound(_))), "{res:?}");
    // With it, the first read is exchange 9.
    let mut op = nomad::job::get(&ctx(), "acm-ns", "acm-ns-job");
    let Step::Send(req, _) = op.poll(Instant::now()) else { panic!("expected a request") };
    assert_request_matches(&req, &s.exchange(9).request, true);
}

#[test]
fn dispatched_job_ids_are_percent_encoded() {
    let s = Scenario::load("nomad/20-dispatch.json");
    let id = "acm-param/dispatch-1795639013-f06b5802";
    let mut op = nomad::job::get(&ctx(), "", id);
    let Step::Send(req, _) = op.poll(Instant::now()) else { panic!("expected a request") };
    assert_eq!(s.exchange(5).request.path, "/v1/job/acm-param%2Fdispatch-1795639013-f06b5802");
    assert_request_matches(&req, &s.exchange(5).request, true);
}

#[test]
fn list_in_a_namespace() {
    let s = Scenario::load("nomad/17-namespaces.json");
    let jobs = Replay::new(&s).exchanges([6]).run(nomad::job::list(&ctx(), "acm-ns")).unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!((jobs[0].name.as_str(), jobs[0].namespace.as_str()), ("acm-ns-job", "acm-ns"));
    assert_eq!(jobs[0].status, Some(Status::Running));
    assert_eq!(jobs[0].active, 1);
}

#[test]
fn list_in_prefix_mode_filters_by_prefix_and_drops_it_from_names() {
    let s = Scenario::load("nomad/16-job-list-prefix.json");
    let jobs = Replay::new(&s).exchanges([0]).run(nomad::job::list(&prefix_ctx(), "acm")).unwrap();
    let got: Vec<_> = jobs.iter().map(|j| (j.name.as_str(), j.namespace.as_str(), j.status)).collect();
    assert_eq!(got, [("fail", "acm", Some(Status::Failed)), ("ok", "acm", Some(Status::Succeeded))]);
    assert_eq!((jobs[0].failed, jobs[1].succeeded), (1, 1));
}

#[test]
fn list_of_a_parameterized_job_and_its_dispatched_child() {
    // Recorded as ?prefix=acm-param (no seed namespace maps to that query): parse the answer.
    let s = Scenario::load("nomad/20-dispatch.json");
    let jobs = nomad::job::parse_job_list(&ctx(), "", s.exchange(7).response.body.as_bytes()).unwrap();
    let got: Vec<_> = jobs.iter().map(|j| (j.name.as_str(), j.raw_status.as_str(), j.status)).collect();
    assert_eq!(
        got,
        [
            ("acm-param", "running", Some(Status::Running)),
            ("acm-param/dispatch-1795639013-f06b5802", "dead", Some(Status::Succeeded)),
        ]
    );
}

#[test]
fn acl_errors_through_list() {
    let s = Scenario::load("nomad/23-acl.json");
    let no_token = Replay::new(&s).exchanges([0]).run(nomad::job::list(&ctx(), ""));
    assert!(matches!(no_token, Err(Error::Forbidden(ref a)) if a.message == "Permission denied"), "{no_token:?}");
    let unknown = Replay::new(&s).exchanges([5]).run(nomad::job::list(&ctx(), ""));
    assert!(matches!(unknown, Err(Error::Forbidden(ref a)) if a.message == "ACL token not found"), "{unknown:?}");
    let not_uuid = Replay::new(&s).exchanges([6]).run(nomad::job::list(&ctx(), ""));
    assert!(
        matches!(not_uuid, Err(Error::Server(ref a)) if a.message.contains("UUID must be 36 characters")),
        "{not_uuid:?}"
    );
    let ok = Replay::new(&s).exchanges([7]).run(nomad::job::list(&ctx(), "")).unwrap();
    assert!(ok.is_empty());
}

#[test]
fn delete_of_an_unknown_job_is_false_although_nomad_answers_200() {
    let s = Scenario::load("nomad/11-not-found.json");
    // Nomad would accept the deregistration (exchange 9), so the op reads first.
    assert_eq!(s.exchange(9).response.status, 200);
    let opts = DeleteOptions { wait: true, purge: true };
    let deleted = Replay::new(&s).exchanges([0]).run(nomad::job::delete(&ctx(), "", "acm-does-not-exist", opts));
    assert!(!deleted.unwrap());
}

#[test]
fn delete_stops_or_purges() {
    let s = Scenario::load("nomad/15-job-stop-purge.json");
    let stop = DeleteOptions { wait: false, purge: false };
    let (res, _, t) = Replay::new(&s).exchanges([2, 1]).run_full(nomad::job::delete(&ctx(), "", "acm-stop", stop));
    assert!(res.unwrap());
    assert_eq!(t.requests[1], ("DELETE".to_string(), "/v1/job/acm-stop".to_string()));
    let purge = DeleteOptions { wait: false, purge: true };
    let (res, _, t) = Replay::new(&s).exchanges([2, 4]).run_full(nomad::job::delete(&ctx(), "", "acm-stop", purge));
    assert!(res.unwrap());
    assert_eq!(t.requests[1], ("DELETE".to_string(), "/v1/job/acm-stop?purge=true".to_string()));
}

/// The recorder stopped reading once the stopped allocation was still `running` with desired
/// status `stop` (exchange 3, index 47). The last answer here is derived from it: the same
/// allocation as Nomad reports it once the kill finished (`complete`, task `dead`), answering
/// the blocking query on index 47 with index 49.
fn with_allocation_finished(s: &Scenario) -> (Scenario, usize) {
    let mut s = s.clone();
    let mut ex = derived(s.exchange(3), "GET", "/v1/job/acm-stop/allocations?index=47&wait=300s");
    ex.response.body = ex
        .response
        .body
        .replacen("\"ClientStatus\":\"running\"", "\"ClientStatus\":\"complete\"", 1)
        .replacen("\"State\":\"running\"", "\"State\":\"dead\"", 1);
    assert!(ex.response.body.contains("\"ClientStatus\":\"complete\""));
    ex.response.headers.insert("x-nomad-index".into(), "49".into());
    s.exchanges.push(ex);
    let last = s.exchanges.len() - 1;
    (s, last)
}

#[test]
fn delete_with_wait_follows_the_job_then_its_allocations() {
    let s = Scenario::load("nomad/15-job-stop-purge.json");
    let (s, finished) = with_allocation_finished(&s);
    // stop: exists (2), deregister (1), job dead with Stop=true (2), alloc still running (3),
    // blocking query on the allocations until it finished
    let stop = DeleteOptions { wait: true, purge: false };
    let (res, _, t) =
        Replay::new(&s).exchanges([2, 1, 2, 3, finished]).run_full(nomad::job::delete(&ctx(), "", "acm-stop", stop));
    assert!(res.unwrap());
    assert!(t.waits.is_empty(), "blocking queries, no sleeping: {:?}", t.waits);
    // purge: exists (2), purge (4), job gone (5: 404), allocations (3), then as above
    let purge = DeleteOptions { wait: true, purge: true };
    let res = Replay::new(&s).exchanges([2, 4, 5, 3, finished]).run(nomad::job::delete(&ctx(), "", "acm-stop", purge));
    assert!(res.unwrap());
}

#[test]
fn delete_in_a_namespace_purges_there() {
    let s = Scenario::load("nomad/17-namespaces.json");
    let purge = DeleteOptions { wait: false, purge: true };
    let res = Replay::new(&s).exchanges([9, 11]).run(nomad::job::delete(&ctx(), "acm-ns", "acm-ns-job", purge));
    assert!(res.unwrap());
}

#[test]
fn cleanup_leaves_running_jobs_alone() {
    let s = Scenario::load("nomad/17-namespaces.json");
    let purged = Replay::new(&s).exchanges([6]).run(nomad::job::cleanup(&ctx(), "acm-ns")).unwrap();
    assert!(purged.is_empty());
}

#[test]
fn cleanup_purges_dead_jobs() {
    let s = Scenario::load("nomad/16-job-list-prefix.json");
    let purge = Scenario::load("nomad/15-job-stop-purge.json");
    // The recorder listed acm-fail and acm-ok (both dead) but purged neither; the purge answers
    // are derived from 15's purge of acm-stop.
    let mut s = s.clone();
    s.exchanges.push(derived(purge.exchange(4), "DELETE", "/v1/job/acm-fail?purge=true"));
    s.exchanges.push(derived(purge.exchange(4), "DELETE", "/v1/job/acm-ok?purge=true"));
    let n = s.exchanges.len();
    let purged = Replay::new(&s).exchanges([0, n - 2, n - 1]).run(nomad::job::cleanup(&prefix_ctx(), "acm")).unwrap();
    assert_eq!(purged, ["fail", "ok"]);
}

#[test]
fn prefix_mode_through_the_facade() {
    // The seed's `{namespace}-` scheme is an explicit choice of the Nomad context; a manager
    // built from it runs every seed method in that mode.
    use clustermanager_core::Backend;
    use clustermanager_core::ClusterManager;
    use clustermanager_tests::transport::{block_on, ReplayTransport};
    let s = Scenario::load("nomad/16-job-list-prefix.json");
    let transport = ReplayTransport::chain(&[(&s, &[0, 0])]);
    let cm = ClusterManager::from_parts(transport.clone(), Backend::Nomad(prefix_ctx()));
    let running: Vec<_> =
        block_on(cm.list_jobs("acm")).unwrap().into_iter().filter(|j| j.status == Some(Status::Running)).collect();
    assert!(running.is_empty());
    let jobs = block_on(cm.list_jobs("acm")).unwrap();
    let names: Vec<_> = jobs.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names, ["fail", "ok"]);
    assert_eq!(transport.remaining(), 0);
}

#[test]
fn delete_with_wait_is_bounded_like_on_kubernetes() {
    // 15: exists (2), deregister (1), dead with Stop=true (2), its allocation still running (3);
    // then (scripted) every blocking read of the allocations is held until its wait passes and
    // answers the same running allocation: after DELETE_WAIT_TIMEOUT the wait is a Timeout.
    assert_eq!(nomad::job::DELETE_WAIT_TIMEOUT, clustermanager_core::k8s::job::DELETE_WAIT_TIMEOUT);
    let s = Scenario::load("nomad/15-job-stop-purge.json");
    let stop = DeleteOptions { wait: true, purge: false };
    let mut op = nomad::job::delete(&ctx(), "", "acm-stop", stop);
    let start = Instant::now();
    let mut now = start;
    let mut asked = Vec::new();
    let res = loop {
        match op.poll(now) {
            Step::Send(req, _) => {
                let i = match asked.len() {
                    0 | 2 => 2,
                    1 => 1,
                    _ => 3,
                };
                if asked.len() >= 4 {
                    let wait = req.uri().query().and_then(|q| q.split("wait=").nth(1)).unwrap().to_owned();
                    let held = if let Some(ms) = wait.strip_suffix("ms") {
                        std::time::Duration::from_millis(ms.parse().unwrap())
                    } else {
                        std::time::Duration::from_secs(wait.trim_end_matches('s').parse().unwrap())
                    };
                    now += held;
                }
                asked.push(req.uri().to_string());
                op.handle(clustermanager_core::Event::Response(s.exchange(i).response.to_http()));
            }
            Step::Done(res) => break res,
            _ => panic!("unexpected step"),
        }
    };
    assert!(matches!(res, Err(Error::Timeout { ref what }) if what.contains("acm-stop")), "{res:?}");
    assert_eq!(now.duration_since(start), nomad::job::DELETE_WAIT_TIMEOUT);
    assert_eq!(asked[4], "/v1/job/acm-stop/allocations?index=47&wait=300s");
}

#[test]
fn create_over_an_existing_job_is_already_exists() {
    // Scripted (no recording of it): 08's registration of acm-ok sent again while acm-ok
    // exists; Nomad 1.1 refuses an enforced index 0 with a plain-text 500 (the RPC error
    // `Enforcing job modify index 0: job already exists`, from nomad/job_endpoint.go).
    let s = Scenario::load("nomad/08-batch-job-succeeds.json");
    let spec =
        recorded_spec("acm-ok", "echo \"$GREETING from acm-ok\"; echo 'a warning on stderr' >&2; sleep 2; echo done");
    let mut refused = s.exchange(0).clone();
    refused.response.status = 500;
    refused.response.headers.retain(|k, _| !k.starts_with("x-nomad-"));
    refused.response.headers.insert("content-type".into(), "text/plain; charset=utf-8".into());
    refused.response.body = "Enforcing job modify index 0: job already exists".into();
    let mut s2 = s.clone();
    s2.exchanges.push(refused);
    let last = s2.exchanges.len() - 1;
    let (res, _, t) =
        Replay::new(&s2).exchanges([last]).ignore_bodies().run_full(nomad::job::create(&ctx(), "", &spec));
    assert_body_is_recorded_without_logconfig(&t.bodies[0], s.exchange(0));
    let Err(Error::AlreadyExists(api)) = res else { panic!("expected AlreadyExists, got {res:?}") };
    assert_eq!(api.status, 500);
    assert!(api.message.starts_with("Enforcing job modify index 0: job already exists"), "{}", api.message);
    assert!(api.message.contains("\"acm-ok\""), "{}", api.message);
}

/// The seed's `_raw`: the job's own answer (not the summary or allocations read after it), and
/// each list stub's element of the list.
#[test]
fn a_job_keeps_the_servers_whole_object() {
    let s = Scenario::load("nomad/09-batch-job-fails.json");
    let job = Replay::new(&s).exchanges([1, 2, 3]).run(nomad::job::get(&ctx(), "", "acm-fail")).unwrap();
    let raw = job.raw.to_value().unwrap();
    assert_eq!(raw["TaskGroups"][0]["Tasks"][0]["Driver"], "raw_exec");
    let s = Scenario::load("nomad/16-job-list-prefix.json");
    let jobs = Replay::new(&s).exchanges([0]).run(nomad::job::list(&prefix_ctx(), "acm")).unwrap();
    let ids: Vec<_> = jobs.iter().map(|j| j.raw.to_value().unwrap()["ID"].clone()).collect();
    assert_eq!(ids, ["acm-fail", "acm-ok"]);
}
