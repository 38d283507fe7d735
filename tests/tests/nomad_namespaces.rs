//! Nomad namespaces against the recording of Nomad 1.1.2 (17): create, create again, delete
//! while a job is still running (refused), delete, delete again; and the prefix mode.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use clustermanager_core::nomad::{self, Context, NamespaceMode};
use clustermanager_core::Error;
use clustermanager_tests::{Replay, Scenario};

fn scenario() -> Scenario {
    Scenario::load("nomad/17-namespaces.json")
}

#[test]
fn create_reads_then_writes() {
    let s = scenario();
    // 13: GET /v1/namespace/acm-ns -> 404 "Namespace not found"; 1: POST /v1/namespace -> 200, empty body
    let op = nomad::namespace::create_with_description(&Context::default(), "acm-ns", "recorded by acm");
    let (created, _, t) = Replay::new(&s).exchanges([13, 1]).run_full(op);
    assert!(created.unwrap());
    assert_eq!(t.requests.len(), 2, "Nomad namespace writes are synchronous: nothing to wait for");
}

#[test]
fn create_of_an_existing_namespace_is_false() {
    let s = scenario();
    let created = Replay::new(&s).exchanges([2]).run(nomad::namespace::create(&Context::default(), "acm-ns"));
    assert!(!created.unwrap());
}

#[test]
fn delete_while_jobs_run_is_refused_with_the_servers_reason() {
    let s = scenario();
    let res = Replay::new(&s).exchanges([2, 10]).run(nomad::namespace::delete(&Context::default(), "acm-ns"));
    let Err(Error::Invalid(api)) = res else { panic!("expected Invalid, got {res:?}") };
    assert_eq!(api.status, 500);
    assert_eq!(api.causes[0].message, "namespace \"acm-ns\" has non-terminal jobs in regions: [global]");
}

#[test]
fn delete_then_delete_again() {
    let s = scenario();
    let deleted = Replay::new(&s).exchanges([2, 12]).run(nomad::namespace::delete(&Context::default(), "acm-ns"));
    assert!(deleted.unwrap());
    let again = Replay::new(&s).exchanges([13]).run(nomad::namespace::delete(&Context::default(), "acm-ns"));
    assert!(!again.unwrap());
}

#[test]
fn delete_of_an_unknown_namespace_is_false() {
    let s = Scenario::load("nomad/11-not-found.json");
    let deleted = Replay::new(&s).exchanges([6]).run(nomad::namespace::delete(&Context::default(), "acm-no-such-ns"));
    assert!(!deleted.unwrap());
}

#[test]
fn a_server_without_namespaces_is_unsupported() {
    // The namespace read answered like the unknown path of 11 (#7: 404, empty body), as a
    // server without the /v1/namespace endpoint does.
    let mut s = Scenario::load("nomad/11-not-found.json");
    s.exchanges[6].response = s.exchange(7).response.clone();
    let unsupported = |res: Result<bool, Error>| {
        assert!(
            matches!(res, Err(Error::Unsupported { hint, .. }) if hint.contains("NamespaceMode::Prefix")),
            "{res:?}"
        );
    };
    let ctx = Context::default();
    unsupported(Replay::new(&s).exchanges([6]).run(nomad::namespace::create(&ctx, "acm-no-such-ns")));
    unsupported(Replay::new(&s).exchanges([6]).run(nomad::namespace::delete(&ctx, "acm-no-such-ns")));
}

#[test]
fn bad_names_are_refused_before_sending() {
    let s = scenario();
    for bad in ["", "has space", "a/b", &"x".repeat(129)] {
        let res = Replay::new(&s).exchanges([]).run(nomad::namespace::create(&Context::default(), bad));
        assert!(matches!(res, Err(Error::InvalidInput { .. })), "{bad:?}: {res:?}");
    }
}

#[test]
fn prefix_mode_sends_nothing() {
    let s = scenario();
    let ctx = Context { namespace_mode: NamespaceMode::Prefix, ..Context::default() };
    assert!(Replay::new(&s).exchanges([]).run(nomad::namespace::create(&ctx, "acm")).unwrap());
    assert!(Replay::new(&s).exchanges([]).run(nomad::namespace::delete(&ctx, "acm")).unwrap());
}
