//! The Nomad event stream replayed against `19-event-stream` (Nomad 1.1.2): job `acm-events`
//! registered and purged while `/v1/event/stream?topic=Job&topic=Evaluation&index=90` was held
//! open for 8 s by the recorder; `{}` heartbeats and newlines arrive in their own chunks.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use clustermanager_core::nomad::events::{self, EventBatch, EventQuery, Topic};
use clustermanager_core::nomad::{api, Context};
use clustermanager_core::Error;
use clustermanager_tests::{Replay, Scenario, Split};
use serde::Deserialize;

fn query() -> EventQuery {
    EventQuery::new().topic(Topic::job()).topic(Topic::evaluation()).index(90).idle_timeout(Duration::from_secs(40))
}

/// What a batch says, comparable across runs.
fn summary(batches: &[EventBatch]) -> Vec<(u64, String, String, String, usize)> {
    batches
        .iter()
        .flat_map(|b| {
            b.events
                .iter()
                .map(move |e| (b.index, e.topic.clone(), e.kind.clone(), e.key.clone(), e.payload.get().len()))
        })
        .collect()
}

#[derive(Deserialize)]
struct JobPayload {
    #[serde(rename = "Job")]
    job: JobId,
}

#[derive(Deserialize)]
struct JobId {
    #[serde(rename = "ID")]
    id: String,
}

#[test]
fn register_and_purge_show_up_as_typed_batches() {
    let s = Scenario::load("nomad/19-event-stream.json");
    let (out, batches, transcript) =
        Replay::new(&s).exchanges([0]).run_full(events::stream(&Context::default(), &query()));
    assert_eq!(out.unwrap(), Some(96), "the last index, to resume from");
    let indexes: Vec<u64> = batches.iter().map(|b| b.index).collect();
    assert_eq!(indexes, [90, 90, 91, 92, 94, 95, 96]);
    let first = &batches[0].events[0];
    assert_eq!((first.topic.as_str(), first.kind.as_str(), first.key.as_str()), ("Job", "JobRegistered", "acm-events"));
    assert_eq!(first.namespace, "default");
    assert!(first.filter_keys.is_empty(), "FilterKeys null");
    assert_eq!(first.payload_as::<JobPayload>().unwrap().job.id, "acm-events");
    let eval = &batches[1].events[0];
    assert_eq!((eval.topic.as_str(), eval.kind.as_str()), ("Evaluation", "JobRegistered"));
    assert_eq!(eval.filter_keys, ["acm-events", ""]);
    let kinds: Vec<&str> = batches.iter().flat_map(|b| b.events.iter().map(|e| e.kind.as_str())).collect();
    assert!(kinds.contains(&"JobDeregistered"));
    // the stream was ended by the idle timeout, not by the server
    assert_eq!(transcript.elapsed, Duration::from_secs(40));
}

#[test]
fn every_split_gives_the_same_batches() {
    let s = Scenario::load("nomad/19-event-stream.json");
    let (_, reference, _) = Replay::new(&s).exchanges([0]).run_full(events::stream(&Context::default(), &query()));
    let reference = summary(&reference);
    let len = s.exchange(0).response.body.len();
    let mut splits: Vec<Split> = (0..=len).map(Split::At).collect();
    splits.push(Split::Every(1));
    for split in splits {
        let (out, batches, _) =
            Replay::new(&s).exchanges([0]).split(split).run_full(events::stream(&Context::default(), &query()));
        assert_eq!(out.unwrap(), Some(96), "{split:?}");
        assert_eq!(summary(&batches), reference, "{split:?}");
    }
}

#[test]
fn the_caller_can_stop_at_an_index() {
    let s = Scenario::load("nomad/19-event-stream.json");
    let q = query().until_index(91);
    let (out, batches, transcript) = Replay::new(&s).exchanges([0]).run_full(events::stream(&Context::default(), &q));
    assert_eq!(out.unwrap(), Some(91));
    assert_eq!(batches.iter().map(|b| b.index).collect::<Vec<_>>(), [90, 90, 91]);
    assert_eq!(transcript.elapsed, Duration::ZERO, "stopped without waiting");
}

#[test]
fn without_a_stop_rule_the_stream_is_read_forever() {
    // The recording has nothing after 3 s and the server never closes: an operation without an
    // idle timeout keeps reading, which the replay reports as a truncated stream.
    let s = Scenario::load("nomad/19-event-stream.json");
    let q = EventQuery::new().topic(Topic::job()).topic(Topic::evaluation()).index(90);
    let (out, batches, _) = Replay::new(&s).exchanges([0]).run_full(events::stream(&Context::default(), &q));
    assert_eq!(batches.len(), 7);
    assert!(matches!(out, Err(Error::Transport { .. })), "{out:?}");
}

#[test]
fn a_key_filter_with_no_events_only_sees_the_heartbeat() {
    let s = Scenario::load("nomad/19-event-stream.json");
    let q = EventQuery::new()
        .topic(Topic::Job { filter_key: Some("acm-no-such-job".into()) })
        .idle_timeout(Duration::from_secs(31));
    for split in [Split::AsRecorded, Split::Every(1)] {
        let (out, batches, _) =
            Replay::new(&s).exchanges([4]).split(split).run_full(events::stream(&Context::default(), &q));
        assert_eq!(out.unwrap(), None);
        assert!(batches.is_empty());
    }
}

#[test]
fn a_bad_index_is_a_bad_request() {
    // A typed query cannot send `index=abc`; the escape hatch can.
    let s = Scenario::load("nomad/19-event-stream.json");
    let op = api::get_raw(&Context::default(), "/v1/event/stream?index=abc", &api::QueryOptions::default());
    let err = Replay::new(&s).exchanges([3]).run(op).unwrap_err();
    assert!(matches!(err, Error::BadRequest(ref a) if a.message.contains("Unable to parse index")), "{err:?}");
}
