//! Pod logs against the recordings: acm-26 (a stand-in kubelet really ran the container and
//! served its log: whole log, tailLines, follow=true streamed while the job printed) and acm-10
//! (no kubelet: a pod not on a node answers 204, an unknown container 400, a missing pod 404).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod k8s_support;

use clustermanager_core::k8s::{self, Context};
use clustermanager_core::{Error, LogLine, LogOptions};
use clustermanager_tests::{Replay, Scenario, Split};

fn ctx() -> Context {
    Context::default()
}

fn texts(lines: &[LogLine]) -> Vec<&str> {
    lines.iter().map(|l| l.text.as_str()).collect()
}

const PRINTED: [&str; 6] = ["line 1 hello", "line 2 hello", "line 3 hello", "line 4 hello", "line 5 hello", "done"];

#[test]
fn whole_log_of_a_finished_pod() {
    let s = Scenario::load("k8s/acm-26-job-with-node-agent.json");
    let log =
        Replay::new(&s).exchanges([7]).run(k8s::log::get(&ctx(), "acm-run", "printer-vhpr6", &LogOptions::default()));
    assert_eq!(log.unwrap(), "line 1 hello\nline 2 hello\nline 3 hello\nline 4 hello\nline 5 hello\ndone\n");
}

#[test]
fn tail_lines_of_one_container() {
    let s = Scenario::load("k8s/acm-26-job-with-node-agent.json");
    let options = LogOptions { tail_lines: Some(2), container: Some("main".into()), ..LogOptions::default() };
    let log = Replay::new(&s).exchanges([8]).run(k8s::log::get(&ctx(), "acm-run", "printer-vhpr6", &options));
    assert_eq!(log.unwrap(), "line 5 hello\ndone\n");
}

#[test]
fn follow_yields_each_line_and_ends_when_the_container_exits() {
    let s = Scenario::load("k8s/acm-26-job-with-node-agent.json");
    let op = k8s::log::follow(&ctx(), "acm-run", "printer-vhpr6", &LogOptions::default());
    let (result, lines, transcript) = Replay::new(&s).exchanges([4]).run_full(op);
    result.unwrap();
    assert_eq!(texts(&lines), PRINTED);
    assert_eq!(
        transcript.requests,
        vec![("GET".into(), "/api/v1/namespaces/acm-run/pods/printer-vhpr6/log?follow=true".into())]
    );
}

#[test]
fn follow_split_at_every_byte_offset() {
    let s = Scenario::load("k8s/acm-26-job-with-node-agent.json");
    let body_len = s.exchange(4).response.body.len();
    for k in 0..=body_len {
        let op = k8s::log::follow(&ctx(), "acm-run", "printer-vhpr6", &LogOptions::default());
        let (result, lines, _) = Replay::new(&s).exchanges([4]).split(Split::At(k)).run_full(op);
        result.unwrap();
        assert_eq!(texts(&lines), PRINTED, "cut at {k}");
    }
    let op = k8s::log::follow(&ctx(), "acm-run", "printer-vhpr6", &LogOptions::default());
    let (result, lines, _) = Replay::new(&s).exchanges([4]).split(Split::Every(1)).run_full(op);
    result.unwrap();
    assert_eq!(texts(&lines), PRINTED);
}

/// The recorded stream, edited: CRLF line ends, multi-byte characters cut by the split, and a
/// last line without a newline (what a container that exits mid-line leaves). Invalid UTF-8 is
/// covered by core's unit tests (fixtures hold text).
#[test]
fn follow_trims_crlf_keeps_split_characters_and_yields_the_unterminated_last_line() {
    let mut s = Scenario::load("k8s/acm-26-job-with-node-agent.json");
    let body = "line 1 h\u{e9}llo\r\nbad \u{fffd} byte\nno newline at the end";
    let response = &mut s.exchanges[4].response;
    response.body = body.to_owned();
    response.chunks = None;
    for k in 0..=body.len() {
        let op = k8s::log::follow(&ctx(), "acm-run", "printer-vhpr6", &LogOptions::default());
        let (result, lines, _) = Replay::new(&s).exchanges([4]).split(Split::At(k)).run_full(op);
        result.unwrap();
        assert_eq!(texts(&lines), ["line 1 h\u{e9}llo", "bad \u{fffd} byte", "no newline at the end"], "cut at {k}");
    }
}

#[test]
fn log_of_a_pod_not_on_a_node_is_empty() {
    let s = Scenario::load("k8s/acm-10-pod-logs-errors.json");
    let log =
        Replay::new(&s).exchanges([1]).run(k8s::log::get(&ctx(), "acm-logs", "pending-pod", &LogOptions::default()));
    assert_eq!(log.unwrap(), "");
}

#[test]
fn following_a_pod_not_on_a_node_is_a_clear_error() {
    let s = Scenario::load("k8s/acm-10-pod-logs-errors.json");
    let options =
        LogOptions { container: Some("main".into()), tail_lines: Some(10), timestamps: true, ..LogOptions::default() };
    let op = k8s::log::follow(&ctx(), "acm-logs", "pending-pod", &options);
    let (result, lines, _) = Replay::new(&s).exchanges([2]).run_full(op);
    assert!(lines.is_empty());
    let err = result.unwrap_err();
    let Error::BadRequest(api) = &err else { panic!("expected BadRequest, got {err:?}") };
    assert_eq!(api.status, 204);
    assert!(api.message.contains("\"pending-pod\" is not on a node yet"), "{}", api.message);
    assert!(api.message.contains("wait until the execution is Running"), "{}", api.message);
}

#[test]
fn unknown_container_is_bad_request_with_the_server_message_and_a_hint() {
    let s = Scenario::load("k8s/acm-10-pod-logs-errors.json");
    let options = LogOptions { container: Some("nope".into()), ..LogOptions::default() };
    let err =
        Replay::new(&s).exchanges([3]).run(k8s::log::get(&ctx(), "acm-logs", "pending-pod", &options)).unwrap_err();
    let Error::BadRequest(api) = &err else { panic!("expected BadRequest, got {err:?}") };
    assert_eq!(api.status, 400);
    assert_eq!(api.reason.as_deref(), Some("BadRequest"));
    assert_eq!(
        api.message,
        "container nope is not valid for pod pending-pod (choose one of the pod's containers with LogOptions::container)"
    );
}

#[test]
fn log_of_a_missing_pod_is_not_found() {
    let s = Scenario::load("k8s/acm-10-pod-logs-errors.json");
    let err = Replay::new(&s)
        .exchanges([4])
        .run(k8s::log::get(&ctx(), "acm-logs", "missing", &LogOptions::default()))
        .unwrap_err();
    assert!(matches!(&err, Error::NotFound(a) if a.message == "pods \"missing\" not found"), "{err:?}");
}

/// Bad names are reported before any request (the replay has nothing to answer with).
#[test]
fn bad_names_are_rejected_before_any_request() {
    let none = Scenario { server: "none".into(), scenario: "no request may be made".into(), exchanges: vec![] };
    let opts = LogOptions::default();
    for (ns, pod, field) in [("Acm_Run", "printer-vhpr6", "namespace"), ("acm-run", "Printer/x", "execution id")] {
        let err = Replay::new(&none).run(k8s::log::get(&ctx(), ns, pod, &opts)).unwrap_err();
        assert!(matches!(&err, Error::InvalidInput { field: f, .. } if f == field), "{err:?}");
        let err = Replay::new(&none).run(k8s::log::follow(&ctx(), ns, pod, &opts)).unwrap_err();
        assert!(matches!(&err, Error::InvalidInput { field: f, .. } if f == field), "{err:?}");
    }
}

/// A pod on a node whose container has not started answers 400 with the kubelet's message (the
/// recordings have none: this Status is scripted in the apiserver's form, as acm-10's 400s). Both
/// the whole log and the followed one report it as a BadRequest that says what to do.
#[test]
fn a_container_waiting_to_start_is_a_clear_error() {
    use clustermanager_tests::{Exchange, RecordedRequest, RecordedResponse};
    let waiting = RecordedResponse::json(
        400,
        r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"container \"main\" in pod \"printer-vhpr6\" is waiting to start: ContainerCreating","reason":"BadRequest","code":400}"#,
    );
    let ex = |path: &str| Exchange {
        request: RecordedRequest { method: "GET".into(), path: path.into(), headers: Default::default(), body: None },
        response: waiting.clone(),
        comment: None,
    };
    let s = Scenario {
        server: "kubernetes v1.19".into(),
        scenario: "scripted".into(),
        exchanges: vec![
            ex("/api/v1/namespaces/acm-run/pods/printer-vhpr6/log"),
            ex("/api/v1/namespaces/acm-run/pods/printer-vhpr6/log?follow=true"),
        ],
    };
    let opts = LogOptions::default();
    let errs = [
        Replay::new(&s).exchanges([0]).run(k8s::log::get(&ctx(), "acm-run", "printer-vhpr6", &opts)).unwrap_err(),
        Replay::new(&s).exchanges([1]).run(k8s::log::follow(&ctx(), "acm-run", "printer-vhpr6", &opts)).unwrap_err(),
    ];
    for err in errs {
        let Error::BadRequest(api) = &err else { panic!("expected BadRequest, got {err:?}") };
        assert!(api.message.starts_with("container \"main\" in pod \"printer-vhpr6\" is waiting to start"));
        assert!(api.message.contains("wait until the execution is Running"), "{}", api.message);
    }
}

/// The 400 a kube-apiserver 1.19 answers to a log request without a container for a pod that has
/// several (scripted in the apiserver's form; the recordings have no such pod).
fn must_choose() -> clustermanager_tests::RecordedResponse {
    k8s_support::json_response(
        400,
        r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"a container name must be specified for pod printer-vhpr6, choose one of: [node-agent main]","reason":"BadRequest","code":400}"#,
    )
}

/// acm-26's recorded pod (#6) with a `node-agent` sidecar before its `main` container, and
/// optionally the `kubectl.kubernetes.io/default-container` annotation.
fn two_container_pod(containers: &[&str], default: Option<&str>) -> clustermanager_tests::RecordedResponse {
    let s = Scenario::load("k8s/acm-26-job-with-node-agent.json");
    let mut pod: serde_json::Value = serde_json::from_str(&s.exchange(6).response.body).unwrap();
    let main = pod["spec"]["containers"][0].clone();
    pod["spec"]["containers"] = containers
        .iter()
        .map(|name| {
            let mut c = main.clone();
            c["name"] = (*name).into();
            c
        })
        .collect();
    if let Some(d) = default {
        pod["metadata"]["annotations"] = serde_json::json!({ "kubectl.kubernetes.io/default-container": d });
    }
    k8s_support::json_response(200, &pod.to_string())
}

const LOG: &str = "/api/v1/namespaces/acm-run/pods/printer-vhpr6/log";
const POD: &str = "/api/v1/namespaces/acm-run/pods/printer-vhpr6";

/// A pod with a sidecar: the log without a container is refused (400, scripted); the pod is read
/// and the log asked again for the container kubectl would choose — the annotated default, else
/// `main`, else the first — whose answer is the recorded log (acm-26 #7).
#[test]
fn log_of_a_pod_with_a_sidecar_is_the_default_containers() {
    use k8s_support::{exchange, scripted};
    let s = Scenario::load("k8s/acm-26-job-with-node-agent.json");
    let cases: [(&[&str], Option<&str>, &str); 4] = [
        (&["node-agent", "main"], None, "main"),
        (&["node-agent", "main"], Some("node-agent"), "node-agent"),
        (&["node-agent", "main"], Some("gone"), "main"),
        (&["node-agent", "worker"], None, "node-agent"),
    ];
    for (containers, default, chosen) in cases {
        let scenario = scripted(vec![
            exchange("GET", LOG, None, must_choose()),
            exchange("GET", POD, None, two_container_pod(containers, default)),
            exchange("GET", &format!("{LOG}?container={chosen}"), None, s.exchange(7).response.clone()),
        ]);
        let log = Replay::new(&scenario).run(k8s::log::get(&ctx(), "acm-run", "printer-vhpr6", &LogOptions::default()));
        assert_eq!(log.unwrap(), PRINTED.join("\n") + "\n", "{containers:?} {default:?}");
    }
}

/// The same for a followed log: the recorded stream (acm-26 #4) of the chosen container, cut
/// at every byte.
#[test]
fn following_a_pod_with_a_sidecar_follows_the_default_container() {
    use k8s_support::{exchange, scripted};
    let s = Scenario::load("k8s/acm-26-job-with-node-agent.json");
    let scenario = scripted(vec![
        exchange("GET", &format!("{LOG}?follow=true"), None, must_choose()),
        exchange("GET", POD, None, two_container_pod(&["node-agent", "main"], None)),
        exchange("GET", &format!("{LOG}?container=main&follow=true"), None, s.exchange(4).response.clone()),
    ]);
    let op = k8s::log::follow(&ctx(), "acm-run", "printer-vhpr6", &LogOptions::default());
    let (result, lines, t) = Replay::new(&scenario).split(Split::Every(1)).run_full(op);
    result.unwrap();
    assert_eq!(texts(&lines), PRINTED);
    assert_eq!(t.requests.len(), 3);
}

/// A caller who named a container gets the server's answer as it is: no second guess.
#[test]
fn a_named_container_is_not_second_guessed() {
    use k8s_support::{exchange, scripted};
    let scenario = scripted(vec![exchange("GET", &format!("{LOG}?container=main"), None, must_choose())]);
    let opts = LogOptions { container: Some("main".into()), ..LogOptions::default() };
    let err = Replay::new(&scenario).run(k8s::log::get(&ctx(), "acm-run", "printer-vhpr6", &opts)).unwrap_err();
    let Error::BadRequest(api) = &err else { panic!("{err:?}") };
    assert!(api.message.contains("LogOptions::container"), "{}", api.message);
}
