//! Nomad logs replayed against Nomad 1.1.2 recordings: `12-logs-finished-alloc` (plain, offsets,
//! framed), `13-logs-errors`, `14-logs-follow` (follow streams the server never closes) and
//! the allocation reads of `08-batch-job-succeeds` / `11-not-found` for the default task.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;

use clustermanager_core::deadline::Hold;
use clustermanager_core::error::TransportErrorKind;
use clustermanager_core::nomad::frames::{FileEvent, FrameDecoder};
use clustermanager_core::nomad::logs::{self, FollowOptions};
use clustermanager_core::nomad::{api, Context};
use clustermanager_core::{Error, Event, LogLine, LogOptions, Operation, Step};
use clustermanager_tests::{Exchange, Replay, Scenario, Split};

const ACM_OK_ALLOC: &str = "294e657f-3f0a-03f7-a46d-932b102c10ce";
const FOLLOW_ALLOC: &str = "593e2590-bcf9-e360-2a94-2b41ed5f4d72";

fn task(name: &str) -> LogOptions {
    LogOptions { container: Some(name.into()), ..LogOptions::default() }
}

fn ctx() -> Context {
    Context::default()
}

#[test]
fn plain_stdout_and_stderr_of_a_finished_alloc() {
    let s = Scenario::load("nomad/12-logs-finished-alloc.json");
    let out = Replay::new(&s).exchanges([0]).run(logs::get(&ctx(), "default", ACM_OK_ALLOC, &task("main"))).unwrap();
    assert_eq!(out, "hello from acm-ok\ndone\n");
    let stderr = LogOptions { stderr: true, ..task("main") };
    let out = Replay::new(&s).exchanges([1]).run(logs::get(&ctx(), "", ACM_OK_ALLOC, &stderr)).unwrap();
    assert_eq!(out, "a warning on stderr\n");
}

#[test]
fn offsets_from_the_end_and_from_the_start() {
    let s = Scenario::load("nomad/12-logs-finished-alloc.json");
    let last5 = LogOptions { offset: Some(5), from_end: true, ..task("main") };
    assert_eq!(
        Replay::new(&s).exchanges([2]).run(logs::get(&ctx(), "default", ACM_OK_ALLOC, &last5)).unwrap(),
        "done\n"
    );
    let skip6 = LogOptions { offset: Some(6), ..task("main") };
    assert_eq!(
        Replay::new(&s).exchanges([3]).run(logs::get(&ctx(), "default", ACM_OK_ALLOC, &skip6)).unwrap(),
        "from acm-ok\ndone\n"
    );
}

#[test]
fn framed_log_decodes_to_the_same_bytes() {
    let s = Scenario::load("nomad/12-logs-finished-alloc.json");
    let frames =
        Replay::new(&s).exchanges([4]).run(logs::get_framed(&ctx(), "default", ACM_OK_ALLOC, &task("main"))).unwrap();
    assert_eq!(frames.len(), 1);
    assert_eq!(&frames[0].data[..], b"hello from acm-ok\ndone\n");
    assert_eq!(frames[0].file, "alloc/logs/main.stdout.0");
    assert_eq!(frames[0].offset, 23);
    assert_eq!(frames[0].file_event, None);

    let last8 = LogOptions { stderr: true, offset: Some(8), from_end: true, ..task("main") };
    let frames = Replay::new(&s).exchanges([5]).run(logs::get_framed(&ctx(), "default", ACM_OK_ALLOC, &last8)).unwrap();
    assert_eq!(&frames[0].data[..], b" stderr\n");
    assert_eq!(frames[0].offset, 20);
}

/// Feed a recorded framed body to the decoder in two pieces cut at every offset.
fn decode_split_everywhere(body: &[u8]) -> Vec<Vec<u8>> {
    let decode = |pieces: &[&[u8]]| {
        let mut d = FrameDecoder::new();
        let mut out = Vec::new();
        for p in pieces {
            d.push(p);
            while let Some(f) = d.next_frame().unwrap() {
                out.push(f.data.to_vec());
            }
        }
        d.finish().unwrap();
        out
    };
    let whole = decode(&[body]);
    for k in 0..=body.len() {
        let (a, b) = body.split_at(k);
        assert_eq!(decode(&[a, b]), whole, "split at {k}");
    }
    whole
}

#[test]
fn recorded_framed_bodies_decode_identically_at_every_split() {
    let s = Scenario::load("nomad/12-logs-finished-alloc.json");
    assert_eq!(
        decode_split_everywhere(s.exchange(4).response.body.as_bytes()),
        [b"hello from acm-ok\ndone\n".to_vec()]
    );
    assert_eq!(decode_split_everywhere(s.exchange(5).response.body.as_bytes()), [b" stderr\n".to_vec()]);
    let f = Scenario::load("nomad/14-logs-follow.json");
    let frames = decode_split_everywhere(f.exchange(2).response.body.as_bytes());
    assert_eq!(frames.len(), 9, "9 data frames, the 7 heartbeats skipped");
}

/// A scenario made of exchanges recorded in different files against the same agent.
fn combined(parts: &[(&str, usize)]) -> Scenario {
    let mut exchanges: Vec<Exchange> = Vec::new();
    let mut server = String::new();
    for (file, i) in parts {
        let s = Scenario::load(file);
        server.clone_from(&s.server);
        exchanges.push(s.exchange(*i).clone());
    }
    Scenario { server, scenario: "combined".into(), exchanges }
}

#[test]
fn without_a_task_name_the_allocation_is_read_for_its_task() {
    // 08 [8] is the allocation detail of the acm-ok alloc whose log 12 [0] holds.
    let s = combined(&[("nomad/08-batch-job-succeeds.json", 8), ("nomad/12-logs-finished-alloc.json", 0)]);
    let (out, _, transcript) =
        Replay::new(&s).run_full(logs::get(&ctx(), "default", ACM_OK_ALLOC, &LogOptions::default()));
    assert_eq!(out.unwrap(), "hello from acm-ok\ndone\n");
    assert_eq!(transcript.requests[0].1, format!("/v1/allocation/{ACM_OK_ALLOC}"));
}

#[test]
fn unknown_task_and_unknown_alloc_errors() {
    let s = Scenario::load("nomad/13-logs-errors.json");
    let err = Replay::new(&s)
        .exchanges([0])
        .run(logs::get(&ctx(), "default", ACM_OK_ALLOC, &task("nosuchtask")))
        .unwrap_err();
    assert!(
        matches!(err, Error::BadRequest(ref a) if a.status == 400 && a.message.contains("unknown task name")),
        "{err:?}"
    );

    let zero = "00000000-0000-0000-0000-000000000000";
    let err = Replay::new(&s).exchanges([1]).run(logs::get(&ctx(), "default", zero, &task("main"))).unwrap_err();
    assert!(matches!(err, Error::NotFound(ref a) if a.message.contains("Unknown allocation")), "{err:?}");
    let err = Replay::new(&s).exchanges([2]).run(logs::get_framed(&ctx(), "default", zero, &task("main"))).unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");

    // Without a task name the allocation read answers first: 11 [3] `alloc not found`.
    let nf = Scenario::load("nomad/11-not-found.json");
    let err =
        Replay::new(&nf).exchanges([3]).run(logs::get(&ctx(), "default", zero, &LogOptions::default())).unwrap_err();
    assert!(matches!(err, Error::NotFound(ref a) if a.message == "alloc not found"), "{err:?}");
}

#[test]
fn malformed_log_requests_are_bad_requests_through_the_generic_api() {
    // The typed operations cannot send these (the type is an enum, the task always set, the
    // origin derived); the escape hatch can, and gets the server's 400s.
    let s = Scenario::load("nomad/13-logs-errors.json");
    for (i, expected) in
        [(3, "must provide log type"), (4, "must provide task name"), (5, "origin must be start or end")]
    {
        let path = &s.exchange(i).request.path;
        let op = api::get_bytes(&ctx(), path, &api::QueryOptions::default());
        let err = Replay::new(&s).exchanges([i]).run(op).unwrap_err();
        assert!(matches!(err, Error::BadRequest(ref a) if a.message.contains(expected)), "{i}: {err:?}");
    }
}

fn texts(lines: &[LogLine]) -> Vec<&str> {
    lines.iter().map(|l| l.text.as_str()).collect()
}

const FOLLOWED: [&str; 9] =
    ["line 1", "line 2", "line 3", "line 4", "line 5", "line 6", "line 7", "line 8", "finished"];

/// Follow with `options` against stream exchange `stream` then the allocation read 14 [5]
/// (complete), with the body cut in two at every offset, byte by byte and as recorded.
fn follow_everywhere(stream: usize, options: &LogOptions, follow: &FollowOptions) {
    let s = Scenario::load("nomad/14-logs-follow.json");
    let len = s.exchange(stream).response.body.len();
    let mut splits: Vec<Split> = (0..=len).map(Split::At).collect();
    splits.push(Split::Every(1));
    splits.push(Split::AsRecorded);
    for split in splits {
        let op = logs::follow_with(&ctx(), "default", FOLLOW_ALLOC, options, follow.clone());
        let (out, lines, transcript) = Replay::new(&s).exchanges([stream, 5]).split(split).run_full(op);
        out.unwrap_or_else(|e| panic!("{split:?}: {e}"));
        assert_eq!(texts(&lines), FOLLOWED, "{split:?}");
        assert_eq!(transcript.requests.len(), 2, "one stream, one allocation check");
        assert_eq!(transcript.ios[0].hold, Hold::Follow, "a follow's head may come with its first byte");
        assert_eq!(transcript.ios[1].hold, Hold::None);
    }
}

#[test]
fn framed_follow_ends_when_the_allocation_is_complete() {
    // 14 [2]: framed frames with `{}` heartbeats; the server held the stream open until the
    // recorder's 8 s deadline although the task ended at ~3.8 s.
    let from_start = LogOptions { offset: Some(0), ..task("main") };
    follow_everywhere(2, &from_start, &FollowOptions::default());
}

#[test]
fn plain_follow_ends_when_the_allocation_is_complete() {
    let plain = FollowOptions { plain: true, ..FollowOptions::default() };
    let from_start = LogOptions { offset: Some(0), ..task("main") };
    follow_everywhere(1, &from_start, &plain);
    // 14 [3]: no origin; the whole log arrived in one chunk.
    follow_everywhere(3, &task("main"), &plain);
}

#[test]
fn framed_follow_from_the_end_on_a_dead_task() {
    // 14 [4]: origin=end&offset=0 on the finished task (Nomad 1.1.2 still sent the whole file).
    let from_end = LogOptions { offset: Some(0), from_end: true, ..task("main") };
    follow_everywhere(4, &from_end, &FollowOptions::default());
}

#[test]
fn follow_without_a_task_reads_the_allocation_first_and_again_to_stop() {
    let s = Scenario::load("nomad/14-logs-follow.json");
    let options = LogOptions { offset: Some(0), ..LogOptions::default() };
    let (out, lines, transcript) =
        Replay::new(&s).exchanges([5, 2, 5]).run_full(logs::follow(&ctx(), "default", FOLLOW_ALLOC, &options));
    out.unwrap();
    assert_eq!(texts(&lines), FOLLOWED);
    let paths: Vec<&str> = transcript.requests.iter().map(|(_, p)| p.split('?').next().unwrap_or("")).collect();
    assert_eq!(
        paths,
        [
            format!("/v1/allocation/{FOLLOW_ALLOC}"),
            format!("/v1/client/fs/logs/{FOLLOW_ALLOC}"),
            format!("/v1/allocation/{FOLLOW_ALLOC}")
        ]
    );
}

/// 14 with the allocation's first check edited to `running`: the follow keeps reading and checks
/// again at the next quiet spell.
#[test]
fn a_running_allocation_keeps_the_follow_open() {
    let mut s = Scenario::load("nomad/14-logs-follow.json");
    let mut running = s.exchange(5).clone();
    running.response.body =
        running.response.body.replacen(r#""ClientStatus":"complete""#, r#""ClientStatus":"running""#, 1);
    assert_ne!(running.response.body, s.exchange(5).response.body);
    s.exchanges.push(running);
    let running_idx = s.exchanges.len() - 1;
    let options = LogOptions { offset: Some(0), ..task("main") };
    let (out, lines, transcript) =
        Replay::new(&s).exchanges([2, running_idx, 5]).run_full(logs::follow(&ctx(), "", FOLLOW_ALLOC, &options));
    out.unwrap();
    assert_eq!(texts(&lines), FOLLOWED);
    assert_eq!(transcript.requests.len(), 3);
    // two quiet reads of 2 s each, then one drain read of 1 s
    assert_eq!(transcript.elapsed, std::time::Duration::from_secs(5));
}

fn synthetic(stream_body: &str, alloc_status: u16, alloc_body: &str, server_ends: bool) -> Scenario {
    synthetic_chunks(&[stream_body], alloc_status, alloc_body, server_ends)
}

/// A hand-made conversation shaped like the recordings, for edge cases the recorder could not
/// provoke on demand.
fn synthetic_chunks(chunks: &[&str], alloc_status: u16, alloc_body: &str, server_ends: bool) -> Scenario {
    let stream_body = chunks.concat();
    let chunks: Vec<serde_json::Value> = chunks.iter().map(|c| serde_json::json!({"t_ms": 0, "data": c})).collect();
    let text = serde_json::json!({
        "server": "synthetic (shaped like nomad 1.1.2)",
        "scenario": "follow edge cases",
        "exchanges": [
            {"request": {"method": "GET", "path": "/v1/client/fs/logs/a1?task=main&type=stdout&follow=true"},
             "response": {"status": 200, "headers": {"content-type": "application/json"}, "body": stream_body,
                          "chunks": chunks,
                          "ended": if server_ends { "server" } else { "deadline" }}},
            {"request": {"method": "GET", "path": "/v1/allocation/a1"},
             "response": {"status": alloc_status, "headers": {}, "body": alloc_body}}
        ]
    });
    serde_json::from_value(text).unwrap()
}

#[test]
fn file_deleted_checks_the_allocation_and_a_gone_allocation_ends_the_follow() {
    let body = concat!(
        r#"{"Data":"b25lCnBhcnQ=","File":"alloc/logs/main.stdout.0","Offset":8}"#,
        r#"{"File":"alloc/logs/main.stdout.0","FileEvent":"file deleted","Offset":8}"#,
        r#"{"Data":"bmV2ZXIK","File":"alloc/logs/main.stdout.1","Offset":6}"#
    );
    let s = synthetic(body, 404, "alloc not found", false);
    for k in 0..=body.len() {
        let op = logs::follow(&ctx(), "", "a1", &task("main"));
        let (out, lines, transcript) = Replay::new(&s).split(Split::At(k)).run_full(op);
        out.unwrap();
        // The partial line is flushed at the deletion; the check runs before the next read, so
        // what follows in the same chunk is still delivered.
        assert_eq!(texts(&lines)[..2], ["one", "part"], "split {k}");
        assert_eq!(transcript.requests.len(), 2);
    }
    // the decoder reports the event itself
    let mut d = FrameDecoder::new();
    d.push(body.as_bytes());
    d.next_frame().unwrap();
    assert_eq!(d.next_frame().unwrap().unwrap().file_event, Some(FileEvent::Deleted));
}

#[test]
fn a_stream_cut_inside_a_frame_is_a_truncation_error() {
    let s = synthetic(r#"{"Data":"b25lCg==","File":"f","Offset":4}{"Data":"dHdv"#, 200, "{}", true);
    let (out, lines, _) = Replay::new(&s).exchanges([0]).run_full(logs::follow(&ctx(), "", "a1", &task("main")));
    assert_eq!(texts(&lines), ["one"]);
    assert!(matches!(out, Err(Error::Transport { kind: TransportErrorKind::Truncated, .. })), "{out:?}");
}

#[test]
fn a_frame_over_the_limit_is_a_decode_error() {
    let big = format!(r#"{{"Data":"{}","File":"f","Offset":3000}}"#, "QUFB".repeat(1000));
    let s = synthetic(&big, 200, "{}", true);
    let follow = FollowOptions { max_frame: 1024, ..FollowOptions::default() };
    let (out, lines, _) = Replay::new(&s).exchanges([0]).split(Split::Every(7)).run_full(logs::follow_with(
        &ctx(),
        "",
        "a1",
        &task("main"),
        follow,
    ));
    assert!(lines.is_empty());
    assert!(matches!(out, Err(Error::Decode { ref message, .. }) if message.contains("limit")), "{out:?}");
}

#[test]
fn the_last_partial_line_is_flushed_when_the_allocation_is_done() {
    // "one\ntwo" without a final newline
    let body = r#"{"Data":"b25lCnR3bw==","File":"alloc/logs/main.stdout.0","Offset":7}{}"#;
    let s = synthetic(body, 200, r#"{"ClientStatus":"failed"}"#, false);
    for k in 0..=body.len() {
        let op = logs::follow(&ctx(), "", "a1", &task("main"));
        let (out, lines, _) = Replay::new(&s).split(Split::At(k)).run_full(op);
        out.unwrap();
        assert_eq!(texts(&lines), ["one", "two"], "split {k}");
    }
}

#[test]
fn after_the_allocation_ended_one_heartbeat_does_not_end_the_drain() {
    // The deletion makes the follow check the allocation at once; it is complete. One heartbeat
    // says nothing (Nomad sends one every second even while data is queued): the data after it
    // is still read, and the quiet read that follows ends the follow.
    let s = synthetic_chunks(
        &[
            r#"{"Data":"YQo=","File":"alloc/logs/main.stdout.0","Offset":2}"#,
            r#"{"File":"alloc/logs/main.stdout.0","FileEvent":"file deleted","Offset":2}"#,
            "{}",
            r#"{"Data":"bGF0ZQo=","File":"alloc/logs/main.stdout.1","Offset":5}"#,
        ],
        200,
        r#"{"ClientStatus":"complete"}"#,
        false,
    );
    let (out, lines, transcript) = Replay::new(&s).run_full(logs::follow(&ctx(), "", "a1", &task("main")));
    out.unwrap();
    assert_eq!(texts(&lines), ["a", "late"]);
    assert_eq!(transcript.requests.len(), 2);
    assert_eq!(transcript.elapsed, FollowOptions::default().drain_timeout);
}

/// Standard base64 (with padding), for hand-made frames.
fn b64(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for group in data.chunks(3) {
        let n = group.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= group.len() { char::from(ABC[(n >> (18 - 6 * i) & 63) as usize]) } else { '=' });
        }
    }
    out
}

/// A data frame shaped like those of 14 [2].
fn data_frame(text: &str, offset: usize) -> String {
    format!(r#"{{"Data":"{}","File":"alloc/logs/main.stdout.0","Offset":{offset}}}"#, b64(text.as_bytes()))
}

/// Drive a follow by hand with a clock (scripted: the replay harness does not let time pass
/// between chunks). `read(n)` answers the n-th read with an event and how long it took (`None`:
/// the read times out after its timeout); `check(n)` answers the n-th allocation check.
/// Returns the outcome, the lines and the number of checks.
fn drive(
    mut op: impl Operation<Output = (), Item = LogLine>,
    mut read: impl FnMut(usize) -> Option<(Event, Duration)>,
    mut check: impl FnMut(usize) -> Event,
) -> (Result<(), Error>, Vec<String>, usize) {
    let mut now = Instant::now();
    let (mut reads, mut checks, mut lines) = (0, 0, Vec::new());
    for _ in 0..100_000 {
        match op.poll(now) {
            Step::Open(req, _) => {
                assert!(req.uri().path().starts_with("/v1/client/fs/logs/"));
                op.handle(Event::Head(http::Response::builder().status(200).body(()).unwrap().into_parts().0));
            }
            Step::Read { until } => {
                reads += 1;
                match read(reads) {
                    Some((event, took)) => {
                        now += took;
                        op.handle(event);
                    }
                    None => {
                        now = now.max(until.expect("a follow always reads with a timeout"));
                        op.handle(Event::ReadTimeout);
                    }
                }
            }
            Step::Send(req, _) => {
                assert!(req.uri().path().starts_with("/v1/allocation/"), "{}", req.uri());
                checks += 1;
                op.handle(check(checks));
            }
            Step::WaitUntil(at) => now = now.max(at),
            Step::Yield(line) => lines.push(line.text),
            Step::Done(out) => return (out, lines, checks),
        }
    }
    panic!("the follow did not end");
}

fn recorded_response(s: &Scenario, i: usize) -> Event {
    Event::Response(s.exchange(i).response.to_http())
}

#[test]
fn a_long_backlog_still_arriving_after_the_allocation_ended_is_read_whole() {
    // Scripted stream shaped like 14 [2] (one data frame, then the `{}` heartbeat Nomad sends
    // every second even while data is queued), 40 s long; the allocation check is answered with
    // 14 [5] (`complete`) from the first check on.
    let s = Scenario::load("nomad/14-logs-follow.json");
    let total = 40;
    let op = logs::follow(&ctx(), "default", FOLLOW_ALLOC, &LogOptions { offset: Some(0), ..task("main") });
    let (out, lines, checks) = drive(
        op,
        |n| {
            (n <= total).then(|| {
                let chunk = data_frame(&format!("line {n}\n"), n) + "{}";
                (Event::Chunk(Bytes::from(chunk)), Duration::from_secs(1))
            })
        },
        |_| recorded_response(&s, 5),
    );
    out.unwrap();
    let expected: Vec<String> = (1..=total).map(|n| format!("line {n}")).collect();
    assert_eq!(lines, expected);
    assert!(checks >= 1);
}

#[test]
fn after_the_allocation_ended_two_heartbeats_without_data_end_the_follow() {
    // Scripted: once the check said `complete`, the server keeps sending heartbeats only; the
    // second one with no data since ends the follow without waiting for a quiet read.
    let s = Scenario::load("nomad/14-logs-follow.json");
    let op = logs::follow(&ctx(), "default", FOLLOW_ALLOC, &task("main"));
    let mut fed = 0;
    let (out, lines, _) = drive(
        op,
        |n| match n {
            1 => Some((Event::Chunk(Bytes::from(data_frame("last\n", 5))), Duration::ZERO)),
            2 => None, // quiet: the allocation is checked
            _ => {
                fed += 1;
                assert!(fed <= 2, "read on after two heartbeats without data");
                Some((Event::Chunk(Bytes::from_static(b"{}")), Duration::from_secs(1)))
            }
        },
        |_| recorded_response(&s, 5),
    );
    out.unwrap();
    assert_eq!(lines, ["last"]);
    assert_eq!(fed, 2);
}

#[test]
fn a_failed_allocation_check_does_not_end_a_healthy_follow() {
    // Scripted: the first check is answered with a 500 (the agent could not reach the servers);
    // the stream goes on and its lines still arrive; the next check (14 [5], complete) ends it.
    let s = Scenario::load("nomad/14-logs-follow.json");
    let op = logs::follow(&ctx(), "default", FOLLOW_ALLOC, &task("main"));
    let (out, lines, checks) = drive(
        op,
        |n| match n {
            1 => Some((Event::Chunk(Bytes::from(data_frame("one\n", 4))), Duration::ZERO)),
            3 => Some((Event::Chunk(Bytes::from(data_frame("two\n", 8) + "{}")), Duration::from_secs(1))),
            _ => None,
        },
        |n| match n {
            1 => Event::Response(
                http::Response::builder()
                    .status(500)
                    .body(Bytes::from_static(b"rpc error: No cluster leader"))
                    .unwrap(),
            ),
            _ => recorded_response(&s, 5),
        },
    );
    out.unwrap();
    assert_eq!(lines, ["one", "two"]);
    assert_eq!(checks, 2);
}
