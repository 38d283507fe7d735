//! ACL behaviour replayed through the generic API against `23-acl` (a Nomad 1.1.2 agent with
//! `acl.enabled`). The `X-Nomad-Token` header is the transport's business (from the config), so
//! these tests check what the operations make of each answer, not the header.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use clustermanager_core::nomad::api::{self, QueryOptions};
use clustermanager_core::nomad::Context;
use clustermanager_core::Error;
use clustermanager_tests::{Replay, Scenario};
use serde::Deserialize;

fn ctx() -> Context {
    Context::default()
}

fn none() -> QueryOptions {
    QueryOptions::default()
}

fn jobs() -> impl clustermanager_core::Operation<Output = (Vec<serde_json::Value>, api::QueryMeta)> {
    api::get::<Vec<serde_json::Value>>(&ctx(), "/v1/jobs", &none())
}

#[derive(Deserialize)]
struct Token {
    #[serde(rename = "AccessorID")]
    accessor: String,
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "Policies")]
    policies: Option<Vec<String>>,
}

#[test]
fn without_a_token_reads_are_forbidden() {
    let s = Scenario::load("nomad/23-acl.json");
    for i in [0, 1] {
        let path = s.exchange(i).request.path.clone();
        let err = Replay::new(&s).exchanges([i]).run(api::get_raw(&ctx(), &path, &none())).unwrap_err();
        assert!(
            matches!(err, Error::Forbidden(ref a) if a.status == 403 && a.message == "Permission denied"),
            "{i}: {err:?}"
        );
    }
    // status/leader needs no token
    let (leader, _) = Replay::new(&s).exchanges([2]).run(api::get::<String>(&ctx(), "status/leader", &none())).unwrap();
    assert_eq!(leader, "127.0.0.1:5647");
}

#[test]
fn bootstrap_once() {
    let s = Scenario::load("nomad/23-acl.json");
    let op = || api::write(&ctx(), http::Method::POST, "acl/bootstrap", &none(), None);
    let (raw, meta) = Replay::new(&s).exchanges([3]).run(op()).unwrap();
    let token: Token = serde_json::from_str(raw.unwrap().get()).unwrap();
    assert_eq!(token.kind, "management");
    assert_eq!(meta.index, Some(11));
    let err = Replay::new(&s).exchanges([4]).run(op()).unwrap_err();
    assert!(matches!(err, Error::BadRequest(ref a) if a.message.starts_with("ACL bootstrap already done")), "{err:?}");
}

#[test]
fn unknown_token_is_forbidden_and_a_malformed_one_is_a_server_error() {
    let s = Scenario::load("nomad/23-acl.json");
    let err = Replay::new(&s).exchanges([5]).run(jobs()).unwrap_err();
    assert!(matches!(err, Error::Forbidden(ref a) if a.message == "ACL token not found"), "{err:?}");
    let err = Replay::new(&s).exchanges([6]).run(jobs()).unwrap_err();
    assert!(
        matches!(err, Error::Server(ref a) if a.status == 500 && a.message.contains("UUID must be 36 characters")),
        "{err:?}"
    );
    // nor does the message ever echo the token the transport sent
    assert!(!err.to_string().contains("not-a-uuid"));
    let err = Replay::new(&s).exchanges([9]).run(api::get_raw(&ctx(), "acl/token/self", &none())).unwrap_err();
    assert!(matches!(err, Error::Server(ref a) if a.message.ends_with("missing secret id")), "{err:?}");
}

#[test]
fn management_token_reads_and_writes() {
    let s = Scenario::load("nomad/23-acl.json");
    let (list, meta) = Replay::new(&s).exchanges([7]).run(jobs()).unwrap();
    assert!(list.is_empty());
    assert_eq!((meta.index, meta.known_leader), (Some(0), Some(true)));

    let (raw, _) = Replay::new(&s).exchanges([8]).run(api::get_raw(&ctx(), "acl/token/self", &none())).unwrap();
    let me: Token = serde_json::from_str(raw.get()).unwrap();
    assert_eq!((me.accessor.as_str(), me.kind.as_str()), ("f40d9dec-1e39-db1d-e2d7-80abb1644d69", "management"));

    let policy = serde_json::json!({
        "Name": "acm-readonly",
        "Description": "read only",
        "Rules": "namespace \"default\" {\n  policy = \"read\"\n}\nnode {\n  policy = \"read\"\n}\n"
    });
    let op =
        api::write_json(&ctx(), http::Method::POST, &api::path(&["acl", "policy", "acm-readonly"]), &none(), &policy);
    let (body, meta) = Replay::new(&s).exchanges([10]).run(op).unwrap();
    assert!(body.is_none(), "policy writes answer an empty body");
    assert_eq!(meta.index, Some(12));

    let (policies, _) = Replay::new(&s)
        .exchanges([11])
        .run(api::list_all::<serde_json::Value>(&ctx(), "acl/policies", &none()))
        .unwrap();
    assert_eq!(policies[0]["Name"], "acm-readonly");
    let (one, _) =
        Replay::new(&s).exchanges([12]).run(api::get_raw(&ctx(), "acl/policy/acm-readonly", &none())).unwrap();
    assert!(one.get().contains(r#""Capabilities":["list-jobs","read-job""#));

    let token =
        serde_json::json!({"Name": "acm-reader", "Type": "client", "Policies": ["acm-readonly"], "Global": false});
    let (raw, _) = Replay::new(&s)
        .exchanges([13])
        .run(api::write_json(&ctx(), http::Method::POST, "acl/token", &none(), &token))
        .unwrap();
    let reader: Token = serde_json::from_str(raw.unwrap().get()).unwrap();
    assert_eq!(reader.policies.as_deref(), Some(&["acm-readonly".to_owned()][..]));
}

#[test]
fn a_read_only_token_reads_but_cannot_register() {
    let s = Scenario::load("nomad/23-acl.json");
    let (list, _) = Replay::new(&s).exchanges([14]).run(jobs()).unwrap();
    assert!(list.is_empty());
    let body: serde_json::Value = serde_json::from_str(s.exchange(15).request.body.as_deref().unwrap()).unwrap();
    let err = Replay::new(&s)
        .exchanges([15])
        .run(api::write_json(&ctx(), http::Method::POST, "jobs", &none(), &body))
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden(ref a) if a.message == "Permission denied"), "{err:?}");
    let err = Replay::new(&s).exchanges([16]).run(api::get_raw(&ctx(), "acl/tokens", &none())).unwrap_err();
    assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
}

#[test]
fn management_token_registers_reads_and_purges() {
    let s = Scenario::load("nomad/23-acl.json");
    let body: serde_json::Value = serde_json::from_str(s.exchange(17).request.body.as_deref().unwrap()).unwrap();
    let (raw, meta) = Replay::new(&s)
        .exchanges([17])
        .run(api::write_json(&ctx(), http::Method::POST, "jobs", &none(), &body))
        .unwrap();
    assert!(raw.unwrap().get().contains(r#""EvalID":"9e9e347b-86df-39c4-7aea-f2912945d327""#));
    assert_eq!(meta.index, Some(14));
    let (job, _) = Replay::new(&s).exchanges([18]).run(api::get_raw(&ctx(), "job/acm-acl-ok", &none())).unwrap();
    assert!(job.get().contains(r#""ID":"acm-acl-ok""#));
    let (tokens, _) =
        Replay::new(&s).exchanges([19]).run(api::get::<Vec<Token>>(&ctx(), "acl/tokens", &none())).unwrap();
    assert!(tokens.iter().any(|t| t.accessor == "425360a7-c470-0d05-da88-8d673177a46b"));
    let purge = none().param("purge", "true");
    let (raw, meta) = Replay::new(&s)
        .exchanges([20])
        .run(api::write(&ctx(), http::Method::DELETE, "job/acm-acl-ok", &purge, None))
        .unwrap();
    assert!(raw.is_some());
    assert_eq!(meta.index, Some(17));
}
