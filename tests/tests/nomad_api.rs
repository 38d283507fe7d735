//! The generic Nomad escape hatch (`nomad::api`) replayed against Nomad 1.1.2 recordings:
//! agent and status endpoints (02, 03, 06), a parameterized job dispatch whose child IDs contain
//! `/` (20), the allocation filesystem (21), job parse/validate/plan (22) and a list through the
//! paginating operation (16).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use clustermanager_core::nomad::api::{self, QueryOptions};
use clustermanager_core::nomad::{logs, Context};
use clustermanager_core::{Error, LogOptions};
use clustermanager_tests::{Replay, Scenario};
use serde::Deserialize;

fn ctx() -> Context {
    Context::default()
}

fn none() -> QueryOptions {
    QueryOptions::default()
}

#[derive(Deserialize)]
struct Members {
    #[serde(rename = "ServerDC")]
    server_dc: String,
    #[serde(rename = "Members")]
    members: Vec<Member>,
}

#[derive(Deserialize)]
struct Member {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Status")]
    status: String,
}

#[test]
fn agent_members_servers_and_health() {
    let s = Scenario::load("nomad/02-agent-members.json");
    let (m, meta) =
        Replay::new(&s).exchanges([0]).run(api::get::<Members>(&ctx(), "/v1/agent/members", &none())).unwrap();
    assert_eq!(m.server_dc, "dc1");
    assert_eq!((m.members[0].name.as_str(), m.members[0].status.as_str()), ("node-1.global", "alive"));
    assert_eq!(meta, api::QueryMeta::default(), "agent endpoints carry no index headers");
    let (servers, _) =
        Replay::new(&s).exchanges([1]).run(api::get::<Vec<String>>(&ctx(), "agent/servers", &none())).unwrap();
    assert_eq!(servers, ["127.0.0.1:4647"]);
    let (health, _) = Replay::new(&s).exchanges([2]).run(api::get_raw(&ctx(), "agent/health", &none())).unwrap();
    assert_eq!(health.get(), r#"{"client":{"message":"ok","ok":true},"server":{"message":"ok","ok":true}}"#);
}

#[test]
fn status_leader_and_peers() {
    let s = Scenario::load("nomad/03-status-leader.json");
    let (leader, _) = Replay::new(&s).exchanges([0]).run(api::get::<String>(&ctx(), "status/leader", &none())).unwrap();
    assert_eq!(leader, "127.0.0.1:4647");
    let (peers, _) =
        Replay::new(&s).exchanges([1]).run(api::get::<Vec<String>>(&ctx(), "status/peers", &none())).unwrap();
    assert_eq!(peers, ["127.0.0.1:4647"]);
}

#[test]
fn regions_plain_and_pretty() {
    let s = Scenario::load("nomad/06-regions.json");
    let (regions, _) = Replay::new(&s).exchanges([0]).run(api::get::<Vec<String>>(&ctx(), "regions", &none())).unwrap();
    assert_eq!(regions, ["global"]);
    let pretty = none().param("pretty", "true");
    let (regions, _) = Replay::new(&s).exchanges([1]).run(api::get::<Vec<String>>(&ctx(), "regions", &pretty)).unwrap();
    assert_eq!(regions, ["global"]);
    let (leader, _) = Replay::new(&s).exchanges([2]).run(api::get::<String>(&ctx(), "status/leader", &pretty)).unwrap();
    assert_eq!(leader, "127.0.0.1:4647");
}

#[derive(Deserialize)]
struct Dispatched {
    #[serde(rename = "DispatchedJobID")]
    id: String,
    #[serde(rename = "Index")]
    index: u64,
}

#[derive(Deserialize)]
struct JobStub {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "ParentID")]
    parent: String,
}

#[test]
fn dispatch_then_read_the_child_whose_id_holds_a_slash() {
    let s = Scenario::load("nomad/20-dispatch.json");
    // register the parameterized job (a parameterized job gets no evaluation) and read it back
    let (raw, _) = Replay::new(&s)
        .exchanges([0])
        .run(api::write_json(&ctx(), http::Method::POST, "jobs", &none(), &recorded_body(&s, 0)))
        .unwrap();
    assert!(raw.unwrap().get().contains(r#""EvalID":"""#));
    let (parent, _) = Replay::new(&s).exchanges([1]).run(api::get_raw(&ctx(), "job/acm-param", &none())).unwrap();
    assert!(parent.get().contains(r#""ParameterizedJob":{"#));

    let body = serde_json::json!({"Payload": "aGVsbG8gcGF5bG9hZAo=", "Meta": {"who": "acm"}});
    let dispatch =
        api::write_json(&ctx(), http::Method::POST, &api::path(&["job", "acm-param", "dispatch"]), &none(), &body);
    let (raw, meta) = Replay::new(&s).exchanges([2]).run(dispatch).unwrap();
    let d: Dispatched = serde_json::from_str(raw.expect("dispatch answers a body").get()).unwrap();
    assert_eq!(d.id, "acm-param/dispatch-1795639013-f06b5802");
    assert_eq!((d.index, meta.index), (99, Some(99)));

    // The child's ID as one percent-encoded segment (20 [5])...
    let (child, meta) =
        Replay::new(&s).exchanges([5]).run(api::get::<JobStub>(&ctx(), &api::path(&["job", &d.id]), &none())).unwrap();
    assert_eq!((child.id.as_str(), child.parent.as_str()), (d.id.as_str(), "acm-param"));
    assert_eq!(meta.index, Some(102));
    // ... or with its raw '/' (20 [6]): Nomad routes both.
    let allocs_path = format!("/v1/job/{}/allocations", d.id);
    let (allocs, _) =
        Replay::new(&s).exchanges([6]).run(api::get::<Vec<serde_json::Value>>(&ctx(), &allocs_path, &none())).unwrap();
    assert_eq!(allocs.len(), 1);
    let alloc = allocs[0]["ID"].as_str().unwrap().to_owned();

    let list = api::list_all::<JobStub>(&ctx(), "jobs", &QueryOptions { prefix: Some("acm-param".into()), ..none() });
    let (jobs, _) = Replay::new(&s).exchanges([7]).run(list).unwrap();
    assert_eq!(jobs.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(), ["acm-param", d.id.as_str()]);

    let (summary, _) =
        Replay::new(&s).exchanges([8]).run(api::get_raw(&ctx(), "job/acm-param/summary", &none())).unwrap();
    assert!(summary.get().contains(r#""Children":{"Pending":0,"Running":0,"Dead":1}"#));

    let options = LogOptions { container: Some("main".into()), ..LogOptions::default() };
    let out = Replay::new(&s).exchanges([9]).run(logs::get(&ctx(), "default", &alloc, &options)).unwrap();
    assert_eq!(out, "who=acm\nhello payload\n");
}

#[test]
fn dispatch_errors_are_server_errors() {
    let s = Scenario::load("nomad/20-dispatch.json");
    let cases = [
        (3, "acm-param", serde_json::json!({"Meta": {"color": "red"}}), "required meta keys"),
        (4, "acm-ok", serde_json::json!({"Meta": {"who": "acm"}}), "is not a parameterized job"),
    ];
    for (i, job, body, expected) in cases {
        let op = api::write_json(&ctx(), http::Method::POST, &format!("job/{job}/dispatch"), &none(), &body);
        let err = Replay::new(&s).exchanges([i]).run(op).unwrap_err();
        assert!(matches!(err, Error::Server(ref a) if a.status == 500 && a.message.contains(expected)), "{i}: {err:?}");
    }
}

#[derive(Debug, Deserialize, PartialEq)]
struct FileInfo {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "IsDir")]
    is_dir: bool,
    #[serde(rename = "Size")]
    size: u64,
}

#[test]
fn allocation_filesystem_ls_stat_cat_readat() {
    let s = Scenario::load("nomad/21-client-fs.json");
    let alloc = "294e657f-3f0a-03f7-a46d-932b102c10ce";
    let at = |p: &str| none().param("path", p);
    let (files, _) = Replay::new(&s)
        .exchanges([0])
        .run(api::get::<Vec<FileInfo>>(&ctx(), &api::path(&["client", "fs", "ls", alloc]), &at("/alloc/logs")))
        .unwrap();
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, [".main.stderr.fifo", ".main.stdout.fifo", "main.stderr.0", "main.stdout.0"]);
    let stdout = "/alloc/logs/main.stdout.0";
    let (stat, _) = Replay::new(&s)
        .exchanges([1])
        .run(api::get::<FileInfo>(&ctx(), &api::path(&["client", "fs", "stat", alloc]), &at(stdout)))
        .unwrap();
    assert_eq!(stat, FileInfo { name: "main.stdout.0".into(), is_dir: false, size: 23 });
    let (text, _) = Replay::new(&s)
        .exchanges([2])
        .run(api::get_bytes(&ctx(), &api::path(&["client", "fs", "cat", alloc]), &at(stdout)))
        .unwrap();
    assert_eq!(&text[..], b"hello from acm-ok\ndone\n");
    let window = at(stdout).param("offset", "0").param("limit", "5");
    let (text, _) = Replay::new(&s)
        .exchanges([3])
        .run(api::get_bytes(&ctx(), &api::path(&["client", "fs", "readat", alloc]), &window))
        .unwrap();
    assert_eq!(&text[..], b"hello");
    let err = Replay::new(&s)
        .exchanges([4])
        .run(api::get::<Vec<FileInfo>>(&ctx(), &api::path(&["client", "fs", "ls", alloc]), &at("/nope")))
        .unwrap_err();
    assert!(matches!(err, Error::Server(ref a) if a.message.contains("no such file or directory")), "{err:?}");
    let (stats, _) = Replay::new(&s)
        .exchanges([5])
        .run(api::get_raw(&ctx(), &format!("client/allocation/{alloc}/stats"), &none()))
        .unwrap();
    assert!(stats.get().starts_with(r#"{"ResourceUsage""#));
    let (host, _) = Replay::new(&s).exchanges([6]).run(api::get_raw(&ctx(), "client/stats", &none())).unwrap();
    assert!(host.get().contains("AllocDirStats"));
}

/// The body the recorder sent, as the caller of the escape hatch would build it.
fn recorded_body(s: &Scenario, i: usize) -> serde_json::Value {
    serde_json::from_str(s.exchange(i).request.body.as_deref().unwrap()).unwrap()
}

#[test]
fn parse_validate_and_plan() {
    let s = Scenario::load("nomad/22-job-parse-validate-plan.json");
    let post = |path: &str, i: usize| {
        api::write_json(&ctx(), http::Method::POST, path, &QueryOptions::default(), &recorded_body(&s, i))
    };

    let (job, _) = Replay::new(&s).exchanges([0]).run(post("jobs/parse", 0)).unwrap();
    let job: JobStub = serde_json::from_str(job.unwrap().get()).unwrap();
    assert_eq!(job.id, "acm-hcl");
    let err = Replay::new(&s).exchanges([1]).run(post("jobs/parse", 1)).unwrap_err();
    assert!(matches!(err, Error::BadRequest(ref a) if a.message.starts_with("input.hcl:1,10-10")), "{err:?}");

    let (v, _) = Replay::new(&s).exchanges([2]).run(post("validate/job", 2)).unwrap();
    assert!(v.unwrap().get().contains(r#""DriverConfigValidated":true"#));

    let (plan, meta) = Replay::new(&s).exchanges([3]).run(post("job/acm-plan/plan", 3)).unwrap();
    assert!(plan.unwrap().get().contains(r#""Place":1"#));
    assert_eq!(meta.index, Some(0));
    let err = Replay::new(&s).exchanges([4]).run(post("job/acm-plan/plan", 4)).unwrap_err();
    assert!(matches!(err, Error::BadRequest(ref a) if a.message == "Job ID does not match"), "{err:?}");
}

#[test]
fn unpaginated_server_lists_in_one_page() {
    // Nomad 1.1.2 predates pagination: no X-Nomad-NextToken, so one request is the whole list.
    let s = Scenario::load("nomad/16-job-list-prefix.json");
    let opts = QueryOptions { prefix: Some("acm-".into()), ..none() };
    let (jobs, transcript) = {
        let (out, _, t) = Replay::new(&s).exchanges([0]).run_full(api::list_all::<JobStub>(&ctx(), "/v1/jobs", &opts));
        (out.unwrap(), t)
    };
    assert_eq!(jobs.0.len(), 2);
    assert_eq!(transcript.requests.len(), 1);
    assert_eq!(jobs.1.index, Some(48));
    // a blocking list query: index and wait rendered the way Nomad parses them
    let blocking = QueryOptions { index: Some(48), wait: Some(std::time::Duration::from_secs(1)), ..opts };
    let (same, meta) = Replay::new(&s).exchanges([3]).run(api::get::<Vec<JobStub>>(&ctx(), "jobs", &blocking)).unwrap();
    assert_eq!(same.len(), 2);
    assert_eq!(meta.index, Some(48), "a timed-out blocking query answers the same index");
}
