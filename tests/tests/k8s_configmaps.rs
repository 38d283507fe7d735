//! ConfigMap lists against acm-16 (26 configmaps read in pages of 10 following continue tokens,
//! label and field selectors, bad selectors) and acm-14 (a continue token that expired: 410).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use clustermanager_core::k8s::api::{self, ListParams, Resource};
use clustermanager_core::k8s::configmap::{self, LabelSelector};
use clustermanager_core::k8s::Context;
use clustermanager_core::Error;
use clustermanager_tests::{Replay, Scenario};
use serde_json::value::RawValue;

fn ctx() -> Context {
    Context::default()
}

fn names(cms: &[clustermanager_core::ConfigMap]) -> Vec<&str> {
    cms.iter().map(|c| c.name.as_str()).collect()
}

#[test]
fn list_follows_continue_tokens_across_three_pages() {
    let s = Scenario::load("k8s/acm-16-pagination.json");
    let op = configmap::list_with(&ctx(), "acm-paging", &ListParams::default().limit(10));
    let (cms, _, transcript) = Replay::new(&s).exchanges([1, 2, 3]).run_full(op);
    let cms = cms.unwrap();
    assert_eq!(cms.len(), 26);
    let expected: Vec<String> = (0..26).map(|i| format!("cm-{i:02}")).collect();
    assert_eq!(names(&cms), expected.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(transcript.requests.len(), 3);
    let first = &cms[0];
    assert_eq!(first.namespace, "acm-paging");
    assert_eq!(first.data.get("index").map(String::as_str), Some("0"));
    assert_eq!(first.labels.get("acm/parity").map(String::as_str), Some("even"));
}

#[test]
fn set_based_selector_from_the_builder_one_page() {
    let s = Scenario::load("k8s/acm-16-pagination.json");
    let selector = LabelSelector::new().eq("acm/parity", "even").is_in("acm/set", ["page"]).build().unwrap();
    let params = ListParams::default().labels(selector).limit(5);
    let page = Replay::new(&s)
        .exchanges([4])
        .run(api::list::<Box<RawValue>>(&ctx(), &Resource::CONFIGMAPS, Some("acm-paging"), &params))
        .unwrap();
    assert_eq!(page.items.len(), 5);
    assert_eq!(page.resource_version, "1467");
    assert_eq!(
        page.continue_token.as_deref(),
        Some("eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTQ2Nywic3RhcnQiOiJjbS0wOFx1MDAwMCJ9")
    );
    assert_eq!(page.remaining_item_count, None);
}

#[test]
fn inequality_selector_without_paging() {
    let s = Scenario::load("k8s/acm-16-pagination.json");
    let selector = LabelSelector::new().ne("acm/parity", "even").build().unwrap();
    let cms = Replay::new(&s)
        .exchanges([5])
        .run(configmap::list_with(&ctx(), "acm-paging", &ListParams::default().labels(selector)))
        .unwrap();
    assert_eq!(cms.len(), 13);
    assert!(cms.iter().all(|c| c.labels["acm/parity"] == "odd"));
}

#[test]
fn field_selector() {
    let s = Scenario::load("k8s/acm-16-pagination.json");
    let cms = Replay::new(&s)
        .exchanges([6])
        .run(configmap::list_with(&ctx(), "acm-paging", &ListParams::default().fields("metadata.name=cm-03")))
        .unwrap();
    assert_eq!(names(&cms), ["cm-03"]);
}

#[test]
fn malformed_selectors_are_bad_requests_with_the_server_message() {
    let s = Scenario::load("k8s/acm-16-pagination.json");
    // passed as given: the server judges it
    let err = Replay::new(&s)
        .exchanges([7])
        .run(configmap::list_with(&ctx(), "acm-paging", &ListParams::default().labels("acm/parity in (even")))
        .unwrap_err();
    assert!(
        matches!(&err, Error::BadRequest(a) if a.message == "unable to parse requirement: found '', expected: ',' or ')'"),
        "{err:?}"
    );
    let err = Replay::new(&s)
        .exchanges([8])
        .run(configmap::list_with(&ctx(), "acm-paging", &ListParams::default().fields("data.index=3")))
        .unwrap_err();
    assert!(matches!(&err, Error::BadRequest(a) if a.message.contains("is not a known field selector")), "{err:?}");
}

#[test]
fn facade_list_asks_for_pages_of_500() {
    let mut s = Scenario::load("k8s/acm-16-pagination.json");
    // the recorder asked for 100 at a time; the facade asks for 500 (same answer: 13 left)
    s.exchanges[10].request.path = "/api/v1/namespaces/acm-paging/configmaps?limit=500".into();
    let cms = Replay::new(&s).exchanges([10]).run(configmap::list(&ctx(), "acm-paging", "")).unwrap();
    assert_eq!(cms.len(), 13);
    let recorded = Replay::new(&s)
        .exchanges([1, 2, 3])
        .run(configmap::list_with(&ctx(), "acm-paging", &ListParams::default().limit(10)))
        .unwrap();
    assert_eq!(recorded.len(), 26);
}

#[test]
fn expired_continue_token_restarts_a_bounded_number_of_times_then_is_gone() {
    let s = Scenario::load("k8s/acm-14-watch-expired-410.json");
    let op = configmap::list_with(&ctx(), "acm-expired", &ListParams::default().limit(2));
    // first page, 410, and again: 1 + MAX_LIST_RESTARTS attempts
    let order: Vec<usize> = (0..=api::MAX_LIST_RESTARTS).flat_map(|_| [0, 1]).collect();
    let (result, _, transcript) = Replay::new(&s).exchanges(order.clone()).run_full(op);
    assert_eq!(transcript.requests.len(), order.len());
    let err = result.unwrap_err();
    let Error::Gone(api) = &err else { panic!("expected Gone, got {err:?}") };
    assert_eq!(api.status, 410);
    assert_eq!(api.reason.as_deref(), Some("Expired"));
    assert!(api.message.starts_with("The provided continue parameter is too old"));
    assert_eq!(
        api.continue_token.as_deref(),
        Some("eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6LTEsInN0YXJ0IjoiY20tMVx1MDAwMCJ9")
    );
}

/// After the 410 the list starts over; the fresh first page here is the recorded first page
/// with its continue token removed (as if the namespace then held only those two).
#[test]
fn expired_continue_token_restarts_from_the_first_page() {
    let mut s = Scenario::load("k8s/acm-14-watch-expired-410.json");
    let mut fresh = s.exchanges[0].clone();
    let mut body: serde_json::Value = serde_json::from_str(&fresh.response.body).unwrap();
    body["metadata"].as_object_mut().unwrap().remove("continue");
    body["metadata"].as_object_mut().unwrap().remove("remainingItemCount");
    fresh.response.body = body.to_string();
    s.exchanges.push(fresh);
    let fresh_index = s.exchanges.len() - 1;
    let op = configmap::list_with(&ctx(), "acm-expired", &ListParams::default().limit(2));
    let cms = Replay::new(&s).exchanges([0, 1, fresh_index]).run(op).unwrap();
    // the items of the abandoned first page are not kept twice
    assert_eq!(names(&cms), ["cm-0", "cm-1"]);
}

#[test]
fn list_at_a_compacted_resource_version_is_gone_without_restart() {
    let s = Scenario::load("k8s/acm-14-watch-expired-410.json");
    let params = ListParams::default().at("1399", Some("Exact")).limit(2);
    let err = Replay::new(&s).exchanges([2]).run(configmap::list_with(&ctx(), "acm-expired", &params)).unwrap_err();
    assert!(
        matches!(&err, Error::Gone(a) if a.reason.as_deref() == Some("Expired") && a.message == "The resourceVersion for the provided list is too old."),
        "{err:?}"
    );
}

#[test]
fn an_expired_token_given_by_the_caller_is_gone_at_once() {
    let s = Scenario::load("k8s/acm-14-watch-expired-410.json");
    let token = "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTM5OSwic3RhcnQiOiJjbS0xXHUwMDAwIn0";
    let op = configmap::list_with(&ctx(), "acm-expired", &ListParams::default().limit(2).continue_from(token));
    let (result, _, transcript) = Replay::new(&s).exchanges([1]).run_full(op);
    assert!(matches!(result, Err(Error::Gone(ref a)) if a.continue_token.is_some()), "{result:?}");
    assert_eq!(transcript.requests.len(), 1);
}

/// A bad namespace is reported before any request (the replay has nothing to answer with).
#[test]
fn a_bad_namespace_is_rejected_before_any_request() {
    let none = Scenario { server: "none".into(), scenario: "no request may be made".into(), exchanges: vec![] };
    let err = Replay::new(&none).run(configmap::list(&ctx(), "acm_paging", "")).unwrap_err();
    assert!(matches!(&err, Error::InvalidInput { field, .. } if field == "namespace"), "{err:?}");
}
