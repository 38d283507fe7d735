//! Every exchange of acm-18 (401, 403, the 404 variants, 405, 406, 415, 400s, 422 with causes,
//! 409s, and the successes between them) replayed through the generic API, checking the exact
//! error variant and its status, reason, message and causes; then the 410 forms of acm-14 and
//! the 504 / Retry-After of acm-15.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Duration;

use clustermanager_core::k8s::api::{self, DeleteParams, ListParams, Resource, WatchParams, WriteParams};
use clustermanager_core::k8s::watch::WatchEvent;
use clustermanager_core::k8s::Context;
use clustermanager_core::retry::{Retry, RetryPolicy};
use clustermanager_core::{Error, Operation};
use clustermanager_tests::{Replay, Scenario};
use serde_json::value::RawValue;
use serde_json::Value;

fn ctx() -> Context {
    Context::default()
}

fn no_retry() -> Context {
    Context { retry: Retry { policy: RetryPolicy::never(), seed: 0 }, ..Context::default() }
}

fn kind(e: &Error) -> &'static str {
    match e {
        Error::NotFound(_) => "NotFound",
        Error::AlreadyExists(_) => "AlreadyExists",
        Error::Conflict(_) => "Conflict",
        Error::Unauthorized(_) => "Unauthorized",
        Error::Forbidden(_) => "Forbidden",
        Error::Invalid(_) => "Invalid",
        Error::BadRequest(_) => "BadRequest",
        Error::Gone(_) => "Gone",
        Error::TooManyRequests(_) => "TooManyRequests",
        Error::Server(_) => "Server",
        _ => "other",
    }
}

fn run<O: Operation>(s: &Scenario, i: usize, op: O) -> Result<O::Output, Error> {
    Replay::new(s).exchanges([i]).run(op)
}

fn unit<T>(r: Result<T, Error>) -> Result<(), Error> {
    r.map(|_| ())
}

fn request_body(s: &Scenario, i: usize) -> Value {
    serde_json::from_str(s.exchange(i).request.body.as_deref().unwrap()).unwrap()
}

/// The message as the recorded body says, read independently of core's parser.
fn recorded_message(s: &Scenario, i: usize) -> String {
    let body = &s.exchange(i).response.body;
    match serde_json::from_str::<Value>(body) {
        Ok(v) => v["message"].as_str().unwrap_or_default().to_owned(),
        Err(_) => body.trim().to_owned(),
    }
}

const NS: Option<&str> = Some("acm-errors");

/// Run exchange `i` of acm-18 with the generic-API call that made it.
fn replay_18(s: &Scenario, i: usize) -> Result<(), Error> {
    let c = ctx();
    let w = WriteParams::default();
    let raw = |method: &str| {
        let e = &s.exchange(i).request;
        let mut req = clustermanager_core::step::request(
            method.parse().unwrap(),
            &e.path,
            e.body.as_ref().map(|b| b.clone().into_bytes()),
        )
        .unwrap();
        for (k, v) in &e.headers {
            if k != "Authorization" {
                req.headers_mut().insert(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
            }
        }
        unit(run(s, i, api::send(&c, req)))
    };
    let foos = |group: &'static str, version: &'static str| Resource::new(group, version, "foos", true);
    match i {
        0..=2 => unit(run(s, i, api::list::<Box<RawValue>>(&c, &Resource::NAMESPACES, None, &ListParams::default()))),
        3 => unit(run(s, i, api::get::<Box<RawValue>>(&c, &Resource::PODS, NS, "x"))),
        4 | 20 | 21 => {
            let w = WriteParams { dry_run: i == 21, ..WriteParams::default() };
            unit(run(s, i, api::create::<Value, _>(&c, &Resource::JOBS, NS, &request_body(s, i), &w)))
        }
        5 => unit(run(s, i, api::get::<Value>(&c, &Resource::CONFIGMAPS, NS, "does-not-exist"))),
        6 => unit(run(s, i, api::get::<Value>(&c, &Resource::JOBS, NS, "does-not-exist"))),
        7 => unit(run(s, i, api::list::<Value>(&c, &foos("", "v1"), NS, &ListParams::default()))),
        8 => unit(run(s, i, api::list::<Value>(&c, &foos("batch", "v1"), NS, &ListParams::default()))),
        9 => unit(run(s, i, api::list::<Value>(&c, &foos("nope.example.com", "v1"), NS, &ListParams::default()))),
        10 => unit(run(
            s,
            i,
            api::list::<Value>(&c, &Resource::new("batch", "v9", "jobs", true), NS, &ListParams::default()),
        )),
        // requests the typed operations would never make: sent raw, headers as recorded
        11 | 14 | 16 => raw("POST"),
        12 => raw("GET"),
        13 => raw("PATCH"),
        15 | 18 | 19 | 23 => {
            unit(run(s, i, api::create::<Value, _>(&c, &Resource::CONFIGMAPS, NS, &request_body(s, i), &w)))
        }
        17 => unit(run(s, i, api::create::<Value, _>(&c, &Resource::PODS, NS, &request_body(s, i), &w))),
        22 => unit(run(s, i, api::get::<Value>(&c, &Resource::JOBS, NS, "dry"))),
        24..=27 => {
            let name = if i == 26 { "cfg2" } else { "cfg" };
            let r =
                run(s, i, api::replace::<Value, _>(&c, &Resource::CONFIGMAPS, NS, name, None, &request_body(s, i), &w));
            if let Ok(cm) = &r {
                assert_eq!(cm["data"]["v"], if i == 24 { "2" } else { "4" });
            }
            unit(r)
        }
        28 => {
            let p = DeleteParams { precondition_resource_version: Some("1".into()), ..DeleteParams::default() };
            unit(run(s, i, api::delete(&c, &Resource::CONFIGMAPS, NS, "cfg", &p)))
        }
        29 => {
            let deleted = run(s, i, api::delete(&c, &Resource::CONFIGMAPS, NS, "cfg", &DeleteParams::default()))?;
            assert!(deleted.object.is_none(), "a Status answer means gone");
            Ok(())
        }
        _ => panic!("exchange {i} has no call"),
    }
}

#[test]
fn every_exchange_of_acm_18_maps_to_the_exact_error() {
    let s = Scenario::load("k8s/acm-18-errors.json");
    // (exchange, variant, status, reason, a piece of the message)
    let errors: &[(usize, &str, u16, Option<&str>, &str)] = &[
        (0, "Unauthorized", 401, Some("Unauthorized"), "Unauthorized"),
        (1, "Forbidden", 403, Some("Forbidden"), "User \"system:anonymous\" cannot list resource \"namespaces\""),
        (2, "Forbidden", 403, Some("Forbidden"), "User \"nobody\" cannot list resource \"namespaces\""),
        (3, "Forbidden", 403, Some("Forbidden"), "cannot get resource \"pods\""),
        (4, "Forbidden", 403, Some("Forbidden"), "cannot create resource \"jobs\" in API group \"batch\""),
        (5, "NotFound", 404, Some("NotFound"), "configmaps \"does-not-exist\" not found"),
        (6, "NotFound", 404, Some("NotFound"), "jobs.batch \"does-not-exist\" not found"),
        (7, "NotFound", 404, Some("NotFound"), "the server could not find the requested resource"),
        (8, "NotFound", 404, Some("NotFound"), "the server could not find the requested resource"),
        (9, "NotFound", 404, None, "404 page not found"),
        (10, "NotFound", 404, Some("NotFound"), "the server could not find the requested resource"),
        (11, "BadRequest", 405, Some("MethodNotAllowed"), "does not allow this method"),
        (12, "BadRequest", 406, Some("NotAcceptable"), "406: Not Acceptable"),
        (13, "BadRequest", 415, Some("UnsupportedMediaType"), "415: Unsupported Media Type"),
        (14, "BadRequest", 400, Some("BadRequest"), "unexpected end of JSON input"),
        (15, "BadRequest", 400, Some("BadRequest"), "cannot be handled as a ConfigMap"),
        (16, "BadRequest", 415, Some("UnsupportedMediaType"), "accepted media types include: application/json"),
        (17, "BadRequest", 400, Some("BadRequest"), "cannot be handled as a Pod"),
        (18, "BadRequest", 400, Some("BadRequest"), "does not match the namespace sent on the request"),
        (19, "Invalid", 422, Some("Invalid"), "ConfigMap \"Bad_Name\" is invalid"),
        (20, "Invalid", 422, Some("Invalid"), "Job.batch \"no-containers\" is invalid"),
        (22, "NotFound", 404, Some("NotFound"), "jobs.batch \"dry\" not found"),
        (25, "Conflict", 409, Some("Conflict"), "the object has been modified"),
        (26, "BadRequest", 400, Some("BadRequest"), "does not match the name on the URL (cfg2)"),
        (28, "Conflict", 409, Some("Conflict"), "the ResourceVersion in the precondition (1) does not match"),
    ];
    let successes = [21, 23, 24, 27, 29];
    assert_eq!(errors.len() + successes.len(), s.exchanges.len(), "every exchange is covered");
    for &(i, variant, status, reason, piece) in errors {
        let err = replay_18(&s, i).expect_err(&format!("exchange {i} should fail"));
        assert_eq!(kind(&err), variant, "exchange {i}: {err:?}");
        let api = err.api().unwrap();
        assert_eq!(api.status, status, "exchange {i}");
        assert_eq!(api.reason.as_deref(), reason, "exchange {i}");
        assert_eq!(api.message, recorded_message(&s, i), "exchange {i}");
        assert!(api.message.contains(piece), "exchange {i}: {:?}", api.message);
        assert_eq!(api.retry_after, None, "exchange {i}");
        let expected_causes = match i {
            19 => 1,
            20 => 2,
            _ => 0,
        };
        assert_eq!(api.causes.len(), expected_causes, "exchange {i}");
    }
    for i in successes {
        replay_18(&s, i).unwrap_or_else(|e| panic!("exchange {i} should succeed: {e:?}"));
    }
}

#[test]
fn invalid_errors_carry_their_causes() {
    let s = Scenario::load("k8s/acm-18-errors.json");
    let Err(Error::Invalid(api)) = replay_18(&s, 19) else { panic!("expected Invalid") };
    assert_eq!(api.causes[0].field.as_deref(), Some("metadata.name"));
    assert_eq!(api.causes[0].reason.as_deref(), Some("FieldValueInvalid"));
    assert!(api.causes[0].message.starts_with("Invalid value: \"Bad_Name\": a DNS-1123 subdomain"));
    let Err(Error::Invalid(api)) = replay_18(&s, 20) else { panic!("expected Invalid") };
    let causes: Vec<(Option<&str>, Option<&str>, &str)> =
        api.causes.iter().map(|c| (c.reason.as_deref(), c.field.as_deref(), c.message.as_str())).collect();
    assert_eq!(
        causes,
        [
            (Some("FieldValueRequired"), Some("spec.template.spec.containers"), "Required value"),
            (
                Some("FieldValueNotSupported"),
                Some("spec.template.spec.restartPolicy"),
                "Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""
            ),
        ]
    );
}

#[test]
fn gone_forms_of_acm_14() {
    let s = Scenario::load("k8s/acm-14-watch-expired-410.json");
    let c = ctx();
    // a list page with an expired continue token: 410 Expired with a fresh continue token
    let params = ListParams::default()
        .limit(2)
        .continue_from("eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTM5OSwic3RhcnQiOiJjbS0xXHUwMDAwIn0");
    let err =
        run(&s, 1, api::list::<Box<RawValue>>(&c, &Resource::CONFIGMAPS, Some("acm-expired"), &params)).unwrap_err();
    let Error::Gone(a) = &err else { panic!("expected Gone, got {err:?}") };
    assert_eq!((a.status, a.reason.as_deref()), (410, Some("Expired")));
    assert_eq!(
        a.continue_token.as_deref(),
        Some("eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6LTEsInN0YXJ0IjoiY20tMVx1MDAwMCJ9")
    );
    // an exact list at a compacted version: 410 without a token
    let params = ListParams::default().at("1399", Some("Exact")).limit(2);
    let err =
        run(&s, 2, api::list::<Box<RawValue>>(&c, &Resource::CONFIGMAPS, Some("acm-expired"), &params)).unwrap_err();
    assert!(
        matches!(&err, Error::Gone(a) if a.continue_token.is_none() && a.message == "The resourceVersion for the provided list is too old.")
    );
    // a watch from too old a version: HTTP 200, then one ERROR event holding the 410
    let widgets = Resource::new("acm.example.com", "v1", "widgets", true);
    for (i, params) in
        [(6, WatchParams::from_version("1399")), (7, WatchParams { bookmarks: true, ..WatchParams::from_version("1") })]
    {
        let (result, events, _) = Replay::new(&s).exchanges([i]).run_full(api::watch::<Box<RawValue>>(
            &c,
            &widgets,
            Some("acm-expired"),
            &params,
        ));
        result.unwrap();
        let [WatchEvent::Error(status)] = &events[..] else { panic!("expected one ERROR event, got {events:?}") };
        assert_eq!(status.code, 410);
        let err = status.to_error();
        assert!(
            matches!(&err, Error::Gone(a) if a.reason.as_deref() == Some("Expired") && a.message.starts_with("too old resource version")),
            "{err:?}"
        );
    }
    // a non-numeric resourceVersion: the watch is refused with a 500
    let err = Replay::new(&s)
        .exchanges([8])
        .run(api::watch::<Box<RawValue>>(
            &c,
            &Resource::CONFIGMAPS,
            Some("acm-expired"),
            &WatchParams::from_version("abc"),
        ))
        .unwrap_err();
    assert!(matches!(&err, Error::Server(a) if a.status == 500 && a.message.contains("strconv.ParseUint")), "{err:?}");
}

#[test]
fn too_large_resource_version_is_a_server_error_with_retry_after() {
    let s = Scenario::load("k8s/acm-15-watch-too-large-rv.json");
    let params = ListParams::default().at("999999999", Some("NotOlderThan"));
    let op = api::list::<Box<RawValue>>(&no_retry(), &Resource::CONFIGMAPS, Some("default"), &params);
    let err = run(&s, 0, op).unwrap_err();
    let Error::Server(a) = &err else { panic!("expected Server, got {err:?}") };
    assert_eq!((a.status, a.reason.as_deref()), (504, Some("Timeout")));
    assert_eq!(a.retry_after, Some(Duration::from_secs(1)));
    assert_eq!(a.causes[0].reason.as_deref(), Some("ResourceVersionTooLarge"));
    assert_eq!(a.message, "Timeout: Too large resource version: 999999999, current: 1637");

    // with the default policy the GET is retried after the 1 s the server asked for
    let params = ListParams { resource_version: Some("999999999".into()), ..ListParams::default() };
    let op = api::list::<Box<RawValue>>(&ctx(), &Resource::CONFIGMAPS, Some("default"), &params);
    let (result, _, transcript) = Replay::new(&s).exchanges([1; 8]).allow_unused().run_full(op);
    assert!(matches!(result, Err(Error::Server(ref a)) if a.retry_after == Some(Duration::from_secs(1))));
    assert!(transcript.requests.len() > 1);
    assert_eq!(transcript.waits.len(), transcript.requests.len() - 1);
    assert!(transcript.waits.iter().all(|w| *w == Duration::from_secs(1)), "{:?}", transcript.waits);

    // an exact list at a future version: etcd's 500
    let params = ListParams::default().at("999999999", Some("Exact"));
    let err = run(&s, 2, api::list::<Box<RawValue>>(&no_retry(), &Resource::CONFIGMAPS, Some("default"), &params))
        .unwrap_err();
    assert!(matches!(&err, Error::Server(a) if a.status == 500 && a.reason.is_none()), "{err:?}");
    // resourceVersionMatch without resourceVersion: 422 with its cause
    let params = ListParams { resource_version_match: Some("Exact".into()), ..ListParams::default() };
    let err =
        run(&s, 3, api::list::<Box<RawValue>>(&ctx(), &Resource::CONFIGMAPS, Some("default"), &params)).unwrap_err();
    assert!(
        matches!(&err, Error::Invalid(a) if a.causes[0].field.as_deref() == Some("resourceVersionMatch")),
        "{err:?}"
    );
    // a watch from a future version just idles until timeoutSeconds, then ends without events
    let params = WatchParams { timeout_seconds: Some(3), ..WatchParams::from_version("999999999") };
    let (result, events, _) = Replay::new(&s).exchanges([4]).run_full(api::watch::<Box<RawValue>>(
        &ctx(),
        &Resource::CONFIGMAPS,
        Some("default"),
        &params,
    ));
    result.unwrap();
    assert!(events.is_empty());
}
