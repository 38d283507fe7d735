//! Helpers shared by the `k8s_*` replay tests: building *scripted* conversations out of the
//! recorded Kubernetes responses when a recording does not hold the exact request sequence that
//! core makes (a watch with other query parameters, a list with a selector the recorder did not
//! use). The response bytes always come from the fixtures; only the requests, and where noted
//! the choice of which recorded events a stream carries, are scripted.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;

use clustermanager_tests::{Exchange, RecordedRequest, RecordedResponse, Scenario};

/// Load a Kubernetes fixture.
pub fn k8s(name: &str) -> Scenario {
    Scenario::load(&format!("k8s/{name}"))
}

/// The recorded response of exchange `i` of `scenario`.
pub fn response(scenario: &Scenario, i: usize) -> RecordedResponse {
    scenario.exchange(i).response.clone()
}

/// A scripted exchange: our request, a (recorded) response.
pub fn exchange(method: &str, path: &str, body: Option<&str>, response: RecordedResponse) -> Exchange {
    Exchange {
        request: RecordedRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            headers: BTreeMap::new(),
            body: body.map(str::to_owned),
        },
        response,
        comment: Some("scripted from recorded responses".into()),
    }
}

/// A scenario made of scripted exchanges.
pub fn scripted(exchanges: Vec<Exchange>) -> Scenario {
    Scenario { server: "kubernetes v1.19".into(), scenario: "scripted".into(), exchanges }
}

/// A plain JSON response.
pub fn json_response(status: u16, body: &str) -> RecordedResponse {
    RecordedResponse::json(status, body)
}

/// A watch stream response made of these event lines (each must end with `\n`). `server_ends`:
/// whether the server closes it when the lines are used up (else it stays silent).
pub fn stream_response(lines: &[String], server_ends: bool) -> RecordedResponse {
    RecordedResponse::stream(lines, server_ends)
}

/// The event lines (with their `\n`) of a recorded watch response.
pub fn event_lines(resp: &RecordedResponse) -> Vec<String> {
    resp.body.split_inclusive('\n').filter(|l| !l.trim().is_empty()).map(str::to_owned).collect()
}

/// The resourceVersion of the object of an event line.
pub fn event_rv(line: &str) -> u64 {
    let v: serde_json::Value = serde_json::from_str(line).expect("recorded event is JSON");
    v["object"]["metadata"]["resourceVersion"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// The events of a recorded watch response that a watch from `rv` would deliver (those after
/// it): the server never repeats what a resourceVersion already covers.
pub fn events_after(resp: &RecordedResponse, rv: u64) -> Vec<String> {
    event_lines(resp).into_iter().filter(|l| event_rv(l) > rv).collect()
}

/// The object (as JSON text) of event line `line`.
pub fn event_object(line: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(line).expect("recorded event is JSON");
    v["object"].to_string()
}

/// A `<kind>List` body at resourceVersion `rv` holding these recorded objects.
pub fn list_body(kind: &str, api_version: &str, rv: &str, items: &[String]) -> String {
    format!(
        r#"{{"kind":"{kind}","apiVersion":"{api_version}","metadata":{{"resourceVersion":"{rv}"}},"items":[{}]}}"#,
        items.join(",")
    ) + "\n"
}

/// The JSON of a request body the operation sent.
pub fn sent_json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).expect("sent body is JSON")
}
