//! Unit tests of the list + watch state machine (and its watch-list start).

use super::*;
use crate::deadline::Hold;
use crate::k8s::object::Thin;
use crate::k8s::watchlist::{WatchListSupport, INITIAL_EVENTS_GRACE};

#[test]
fn watch_request_carries_bookmarks_timeout_and_selectors() {
    let p = WatchTarget::new("/apis/batch/v1/namespaces/a/jobs", "job a/x").fields("metadata.name=x");
    let req = p.watch_request("42").map_err(|e| e.to_string());
    let Ok((req, hold)) = req else { panic!("{req:?}") };
    assert_eq!(hold, Hold::Server(Duration::from_secs(290)), "the transport learns the server's hold from the step");
    assert_eq!(req.uri().path(), "/apis/batch/v1/namespaces/a/jobs");
    assert_eq!(
        req.uri().query(),
        Some("watch=1&resourceVersion=42&allowWatchBookmarks=true&timeoutSeconds=290&fieldSelector=metadata.name%3Dx")
    );
    let list = p.list_request().map_err(|e| e.to_string());
    assert_eq!(
        list.map(|r| r.uri().to_string()).ok().as_deref(),
        Some("/apis/batch/v1/namespaces/a/jobs?fieldSelector=metadata.name%3Dx")
    );
}

fn response(status: u16, body: &str) -> Event {
    let resp = http::Response::builder().status(status).body(bytes::Bytes::from(body.to_owned()));
    Event::Response(resp.unwrap_or_default())
}

fn head() -> Event {
    Event::Head(http::Response::builder().status(200).body(()).unwrap_or_default().into_parts().0)
}

fn query_of(step: WatchStep<Thin>) -> String {
    match step {
        WatchStep::Send(r, _) | WatchStep::Open(r, _) => r.uri().query().unwrap_or_default().to_owned(),
        other => panic!("expected a request, got {other:?}"),
    }
}

/// A connection that drops in the middle of a watch (the transport reports a failure) is
/// resumed after a backoff from the last resourceVersion seen, without listing again.
#[test]
fn a_dropped_connection_resumes_from_the_last_resource_version() {
    let params = WatchTarget::new("/api/v1/namespaces/a/pods", "pods").labels("job-name=x");
    let mut w: Watcher<Thin> = Watcher::new(params, &Retry::default(), Some(Duration::from_secs(600)));
    let now = Instant::now();
    assert!(!query_of(w.poll(now)).contains("watch"), "lists first");
    w.handle(response(200, r#"{"kind":"PodList","metadata":{"resourceVersion":"100"},"items":[]}"#));
    assert!(matches!(w.poll(now), WatchStep::Update(Update::Listed(items)) if items.is_empty()));
    assert!(query_of(w.poll(now)).contains("resourceVersion=100"));
    w.handle(head());
    assert!(matches!(w.poll(now), WatchStep::Read { until: Some(_) }));
    w.handle(Event::Chunk(bytes::Bytes::from_static(
        b"{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"x-1\",\"resourceVersion\":\"105\"}}}\n{\"type\":\"MODI",
    )));
    assert!(matches!(w.poll(now), WatchStep::Update(Update::Added(p)) if p.metadata.name == "x-1"));
    assert!(matches!(w.poll(now), WatchStep::Read { .. }));
    w.handle(Event::Failed(Error::transport(crate::error::TransportErrorKind::Truncated, "connection reset")));
    let WatchStep::WaitUntil(at) = w.poll(now) else { panic!("expected a backoff") };
    let d = at.saturating_duration_since(now);
    assert!(d >= BACKOFF_INITIAL / 2 && d <= BACKOFF_INITIAL, "{d:?}");
    let q = query_of(w.poll(now + d));
    assert!(q.contains("watch=1") && q.contains("resourceVersion=105"), "{q}");
    assert_eq!(w.resource_version(), Some("105"));
}

#[test]
fn backoff_grows_to_the_cap_with_jitter_in_the_upper_half() {
    let mut w: Watcher<Thin> = Watcher::new(WatchTarget::new("/x", "x"), &Retry::default(), None);
    let now = Instant::now();
    w.last_now = Some(now);
    let mut delays = Vec::new();
    for _ in 0..10 {
        w.backoff(false);
        let State::Backoff { delay: Some(d), .. } = w.state else { panic!("no backoff") };
        delays.push(d);
    }
    assert!(delays[0] >= BACKOFF_INITIAL / 2 && delays[0] <= BACKOFF_INITIAL, "{delays:?}");
    assert!(delays[9] >= BACKOFF_MAX / 2 && delays[9] <= BACKOFF_MAX, "{delays:?}");
    // two minutes of health reset it
    w.healthy_since = Some(now);
    w.last_now = Some(now + BACKOFF_RESET);
    w.backoff(false);
    let State::Backoff { delay: Some(d), .. } = w.state else { panic!("no backoff") };
    assert!(d <= BACKOFF_INITIAL, "{d:?}");
}

fn watch_list_watcher(support: &WatchListSupport) -> Watcher<Thin> {
    let params = WatchTarget::new("/apis/batch/v1/namespaces/a/jobs", "the jobs of namespace a");
    Watcher::new(params, &Retry::default(), Some(Duration::from_secs(600))).watch_list(support)
}

fn chunk(text: &str) -> Event {
    Event::Chunk(bytes::Bytes::from(text.to_owned()))
}

const ADDED_1: &str =
    "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Job\",\"metadata\":{\"name\":\"j1\",\"resourceVersion\":\"11\"}}}\n";
const ADDED_2: &str =
    "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Job\",\"metadata\":{\"name\":\"j2\",\"resourceVersion\":\"12\"}}}\n";
const END: &str = "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Job\",\"metadata\":{\"resourceVersion\":\"20\",\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}}}}\n";
const REFUSAL: &str = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"a watch stream was requested by the client but the required storage feature RequestWatchProgress is disabled\",\"reason\":\"InternalError\",\"code\":500}}\n";

/// A server that offers watch-list: one request, the objects before the end bookmark are the
/// list, the stream goes on with changes from the bookmark's resourceVersion.
#[test]
fn watch_list_streams_the_list_then_the_changes_on_one_request() {
    let support = WatchListSupport::default();
    let mut w = watch_list_watcher(&support);
    let now = Instant::now();
    let q = query_of(w.poll(now));
    assert_eq!(
        q,
        "watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=290"
    );
    w.handle(head());
    let WatchStep::Read { until: Some(until) } = w.poll(now) else { panic!("reads the stream") };
    assert_eq!(until, now + INITIAL_EVENTS_GRACE, "the initial events may not stall");
    w.handle(chunk(&format!("{ADDED_1}{ADDED_2}{}", &END[..30])));
    assert!(matches!(w.poll(now), WatchStep::Read { .. }), "nothing reported before the end bookmark");
    w.handle(chunk(&END[30..]));
    let WatchStep::Update(Update::Listed(items)) = w.poll(now) else { panic!("the list") };
    assert_eq!(items.iter().map(|j| j.metadata.name.as_str()).collect::<Vec<_>>(), ["j1", "j2"]);
    assert_eq!((w.resource_version(), support.offered()), (Some("20"), Some(true)));
    let WatchStep::Read { until: Some(until) } = w.poll(now) else { panic!("reads on") };
    assert!(until > now + INITIAL_EVENTS_GRACE, "then the usual liveness");
    w.handle(chunk("{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Job\",\"metadata\":{\"name\":\"j1\",\"resourceVersion\":\"21\"}}}\n"));
    assert!(matches!(w.poll(now), WatchStep::Update(Update::Modified(j)) if j.metadata.name == "j1"));
    w.handle(Event::End);
    let later = now + Duration::from_secs(200);
    let q = query_of(w.poll(later));
    assert!(q.starts_with("watch=1&resourceVersion=21"), "resumed as a plain watch: {q}");
    let mut w2 = watch_list_watcher(&support);
    assert!(query_of(w2.poll(now)).contains("sendInitialEvents=true"), "an offering server is asked again");
}

/// 1.34+ over an old etcd (acm-35): 200 and one ERROR event. The watcher lists instead, at
/// once, and the next watcher of the same server lists without asking.
#[test]
fn an_error_event_falls_back_to_list_and_watch_and_is_remembered() {
    let support = WatchListSupport::default();
    let mut w = watch_list_watcher(&support);
    let now = Instant::now();
    assert!(query_of(w.poll(now)).contains("sendInitialEvents=true"));
    w.handle(head());
    assert!(matches!(w.poll(now), WatchStep::Read { .. }));
    w.handle(chunk(REFUSAL));
    w.handle(Event::End);
    assert_eq!(query_of(w.poll(now)), "", "lists at once: no back-off for a refusal");
    assert_eq!(support.offered(), Some(false));
    w.handle(response(200, r#"{"kind":"JobList","metadata":{"resourceVersion":"30"},"items":[]}"#));
    assert!(matches!(w.poll(now), WatchStep::Update(Update::Listed(items)) if items.is_empty()));
    assert!(query_of(w.poll(now)).starts_with("watch=1&resourceVersion=30"));
    let mut w2 = watch_list_watcher(&support);
    assert_eq!(query_of(w2.poll(now)), "", "the refusal cost one request, not one per watch");
}

/// A server that validates the parameters otherwise: 422 (or 400) to the request.
#[test]
fn a_422_falls_back_to_list_and_watch() {
    let support = WatchListSupport::default();
    let mut w = watch_list_watcher(&support);
    let now = Instant::now();
    assert!(query_of(w.poll(now)).contains("sendInitialEvents=true"));
    w.handle(response(
        422,
        r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan","reason":"Invalid","code":422}"#,
    ));
    assert_eq!(query_of(w.poll(now)), "");
    assert_eq!(support.offered(), Some(false));
}

/// A server that ignores the parameters (1.19): a plain watch without resourceVersion, its
/// existing objects as ADDED events, then changes, and no bookmark. Silence past the grace, a
/// MODIFIED event or a plain bookmark after objects: they are the list and the watch goes on
/// (nothing between a list and a watch can be lost). The stream's end, or a change or silence
/// without any object before it: list. Either way the server is remembered not to offer
/// watch-list.
#[test]
fn a_server_ignoring_the_parameters_is_used_or_listed() {
    let now = Instant::now();
    let later = now + INITIAL_EVENTS_GRACE;
    for sign in ["silence", "silence, nothing", "end", "modified", "modified, nothing", "plain bookmark"] {
        let support = WatchListSupport::default();
        let mut w = watch_list_watcher(&support);
        assert!(query_of(w.poll(now)).contains("sendInitialEvents=true"));
        w.handle(head());
        assert!(matches!(w.poll(now), WatchStep::Read { .. }));
        if !sign.ends_with("nothing") {
            w.handle(chunk(ADDED_1));
        }
        match sign {
            "modified" | "modified, nothing" => w.handle(chunk(&ADDED_2.replace("ADDED", "MODIFIED"))),
            "plain bookmark" => w.handle(chunk(
                "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Job\",\"metadata\":{\"resourceVersion\":\"20\"}}}\n",
            )),
            _ => {
                assert!(matches!(w.poll(now), WatchStep::Read { .. }));
                w.handle(if sign == "end" { Event::End } else { Event::ReadTimeout });
            }
        }
        if matches!(sign, "silence" | "modified" | "plain bookmark") {
            let step = w.poll(later);
            assert!(
                matches!(&step, WatchStep::Update(Update::Listed(items)) if items.len() == 1 && items[0].metadata.name == "j1"),
                "{sign}: {step:?}"
            );
            match sign {
                "silence" => {
                    assert!(matches!(w.poll(later), WatchStep::Read { .. }), "reads on");
                    assert_eq!(w.resource_version(), Some("11"), "resumes after the newest object");
                }
                "modified" => {
                    let step = w.poll(later);
                    assert!(
                        matches!(&step, WatchStep::Update(Update::Modified(j)) if j.metadata.name == "j2"),
                        "{step:?}"
                    );
                }
                _ => {
                    assert!(matches!(w.poll(later), WatchStep::Read { .. }), "reads on");
                    assert_eq!(w.resource_version(), Some("20"), "from the bookmark");
                }
            }
        } else {
            assert_eq!(query_of(w.poll(later)), "", "{sign}: lists");
        }
        assert_eq!(support.offered(), Some(false), "{sign}");
        let mut next = watch_list_watcher(&support);
        assert_eq!(query_of(next.poll(later)), "", "{sign}: the next watcher lists");
    }
}

/// A watcher without a [`WatchListSupport`] lists first, as before watch-list.
#[test]
fn a_watcher_without_watch_list_lists_first() {
    let mut w: Watcher<Thin> = Watcher::new(WatchTarget::new("/x", "x"), &Retry::default(), None);
    assert_eq!(query_of(w.poll(Instant::now())), "");
    let mut d = watch_list_watcher(&WatchListSupport::disabled());
    assert_eq!(query_of(d.poll(Instant::now())), "");
}
