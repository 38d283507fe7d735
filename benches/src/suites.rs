//! The benchmark suites: one body each, with its floor, its peers and core's decoder, every case
//! returning the number of items it decoded (pods, events, data bytes) so the cases of a suite
//! can be checked to do the same work.

use std::hint::black_box;

use base64::Engine as _;
use bytes::Bytes;
use clustermanager_core::k8s::execution::PodObject;
use clustermanager_core::k8s::watch::{WatchDecoder, WatchEvent};
use clustermanager_core::lines::{LineSplitter, DEFAULT_MAX_LINE};
use clustermanager_core::nomad::frames::FrameDecoder;

use crate::{bodies, floor};

/// Chunk sizes the stream decoders are fed with.
pub const CHUNKS: [usize; 2] = [1024, 64 * 1024];

/// What a case stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The floor every ratio is taken against.
    Floor,
    /// What other clients decode into (k8s-openapi, `serde_json::Value`).
    Peer,
    /// clustermanager-core.
    Core,
}

/// A decoder run over a whole body.
pub type Run = Box<dyn Fn(&Bytes) -> usize + Send + Sync>;

/// One way of decoding a suite's body.
pub struct Case {
    /// Short name (`floor`, `k8s-openapi`, `core 1 KiB chunks`, ...).
    pub name: String,
    /// What it stands for.
    pub role: Role,
    /// Decodes the whole body once; returns how many items it decoded.
    pub run: Run,
}

impl Case {
    fn new(name: impl Into<String>, role: Role, run: impl Fn(&Bytes) -> usize + Send + Sync + 'static) -> Self {
        Case { name: name.into(), role, run: Box::new(run) }
    }
}

/// A body and the ways of decoding it.
pub struct Suite {
    /// Short name, also the criterion group.
    pub name: &'static str,
    /// What the body is.
    pub description: String,
    /// The body.
    pub body: Bytes,
    /// How many items every case must decode.
    pub items: usize,
    /// What an item is (`pod`, `event`, `data byte`).
    pub unit: &'static str,
    /// The longest frame or line of a stream (0 for whole bodies).
    pub longest: usize,
    /// The cases, the floor first.
    pub cases: Vec<Case>,
}

/// How big the bodies are.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Pods in the PodList.
    pub pods: usize,
    /// Allocations in the Nomad allocation list.
    pub allocs: usize,
    /// Pod events in the watch stream.
    pub watch_events: usize,
    /// Bytes of log text in the framed log.
    pub log_bytes: usize,
    /// Lines (batches) of the Nomad event stream.
    pub nomad_events: usize,
}

impl Sizes {
    /// The sizes of the issue: 5,000 pods, 5,000 allocations, 2,000 watch events, 8 MiB of log,
    /// 5,000 Nomad event batches.
    pub const FULL: Sizes =
        Sizes { pods: 5000, allocs: 5000, watch_events: 2000, log_bytes: 8 << 20, nomad_events: 5000 };
    /// Small bodies, for the tests that check the cases agree.
    pub const SMALL: Sizes = Sizes { pods: 7, allocs: 7, watch_events: 230, log_bytes: 200_000, nomad_events: 23 };
}

fn lines(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = body;
    std::iter::from_fn(move || loop {
        if rest.is_empty() {
            return None;
        }
        let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
        let line = &rest[..end];
        rest = &rest[(end + 1).min(rest.len())..];
        if !line.is_empty() {
            return Some(line);
        }
    })
}

fn longest_line(body: &[u8]) -> usize {
    lines(body).map(<[u8]>::len).max().unwrap_or(0)
}

/// The suites, with bodies of the given sizes.
pub fn suites(sizes: Sizes) -> Vec<Suite> {
    vec![
        pod_list(sizes.pods),
        alloc_list(sizes.allocs),
        watch(sizes.watch_events),
        framed_logs(sizes.log_bytes),
        events(sizes.nomad_events),
    ]
}

fn pod_list(n: usize) -> Suite {
    let body = Bytes::from(bodies::pod_list(n));
    Suite {
        name: "pod_list",
        description: format!("PodList of {n} pods ({:.1} MB), whole body", body.len() as f64 / 1e6),
        body,
        items: n,
        unit: "pod",
        longest: 0,
        cases: vec![
            Case::new("floor (borrowed struct)", Role::Floor, |b| {
                let list: floor::PodList<'_> = serde_json::from_slice(b).expect("floor pod list");
                black_box(&list);
                list.items.len()
            }),
            Case::new("k8s-openapi List<Pod>", Role::Peer, |b| {
                let list: k8s_openapi::List<k8s_openapi::api::core::v1::Pod> =
                    serde_json::from_slice(b).expect("k8s-openapi pod list");
                black_box(&list);
                list.items.len()
            }),
            Case::new("serde_json::Value", Role::Peer, |b| {
                let v: serde_json::Value = serde_json::from_slice(b).expect("Value");
                black_box(&v);
                v["items"].as_array().map_or(0, Vec::len)
            }),
            Case::new("core Vec<Execution>", Role::Core, |b| {
                let executions = clustermanager_core::k8s::execution::parse_list(http::Response::new(b.clone()))
                    .expect("core pod list");
                black_box(&executions);
                executions.len()
            }),
        ],
    }
}

fn alloc_list(n: usize) -> Suite {
    let body = Bytes::from(bodies::alloc_list(n));
    let ctx = clustermanager_core::nomad::Context::default();
    Suite {
        name: "alloc_list",
        description: format!(
            "Nomad allocation list of {n} allocations ({:.1} MB), whole body",
            body.len() as f64 / 1e6
        ),
        body,
        items: n,
        unit: "allocation",
        longest: 0,
        cases: vec![
            Case::new("floor (borrowed struct)", Role::Floor, |b| {
                let list: Vec<floor::Alloc<'_>> = serde_json::from_slice(b).expect("floor allocs");
                black_box(&list);
                list.len()
            }),
            Case::new("serde_json::Value", Role::Peer, |b| {
                let v: serde_json::Value = serde_json::from_slice(b).expect("Value");
                black_box(&v);
                v.as_array().map_or(0, Vec::len)
            }),
            Case::new("core Vec<Execution>", Role::Core, move |b| {
                let executions =
                    clustermanager_core::nomad::execution::parse_executions(&ctx, "default", b).expect("core allocs");
                black_box(&executions);
                executions.len()
            }),
        ],
    }
}

fn watch(n: usize) -> Suite {
    let body = Bytes::from(bodies::watch_stream(n));
    let events = lines(&body).count();
    let longest = longest_line(&body);
    let mut cases = vec![
        Case::new("floor (per line, borrowed struct)", Role::Floor, |b| {
            lines(b)
                .map(|line| {
                    let ev: floor::WatchEvent<'_> = serde_json::from_slice(line).expect("floor watch event");
                    black_box(&ev);
                })
                .count()
        }),
        Case::new("k8s-openapi WatchEvent<Pod> per line", Role::Peer, |b| {
            use k8s_openapi::apimachinery::pkg::apis::meta::v1::WatchEvent as KWatch;
            lines(b)
                .map(|line| {
                    let ev: KWatch<k8s_openapi::api::core::v1::Pod> =
                        serde_json::from_slice(line).expect("k8s-openapi watch event");
                    black_box(&ev);
                })
                .count()
        }),
        Case::new("serde_json::Value per line", Role::Peer, |b| {
            lines(b)
                .map(|line| {
                    let v: serde_json::Value = serde_json::from_slice(line).expect("Value");
                    black_box(&v);
                })
                .count()
        }),
    ];
    for chunk in CHUNKS {
        cases.push(Case::new(
            format!("core WatchDecoder<PodObject>, {} KiB chunks", chunk / 1024),
            Role::Core,
            move |b| {
                let mut d = WatchDecoder::<PodObject>::default();
                let mut n = 0;
                for piece in b.chunks(chunk) {
                    d.push(piece);
                    while let Some(ev) = d.next_event().expect("core watch event") {
                        if let WatchEvent::Error(e) = &ev {
                            panic!("{e:?}");
                        }
                        black_box(&ev);
                        n += 1;
                    }
                }
                n + usize::from(d.finish().expect("watch end").is_some())
            },
        ));
    }
    Suite {
        name: "watch",
        description: format!(
            "Kubernetes watch stream: {n} pod events and {} bookmarks ({:.1} MB)",
            events - n,
            body.len() as f64 / 1e6
        ),
        body,
        items: events,
        unit: "event",
        longest,
        cases,
    }
}

fn base64_len(data: &str) -> usize {
    base64::engine::general_purpose::STANDARD.decode(data).expect("base64").len()
}

fn framed_logs(size: usize) -> Suite {
    let body = Bytes::from(bodies::framed_logs(size));
    let mut cases = vec![
        Case::new("floor (whole body, borrowed struct + base64)", Role::Floor, |b| {
            let mut n = 0;
            for frame in serde_json::Deserializer::from_slice(b).into_iter::<floor::Frame<'_>>() {
                let frame = frame.expect("floor frame");
                black_box(&frame);
                n += frame.data.as_deref().map_or(0, base64_len);
            }
            n
        }),
        Case::new("serde_json::Value + base64 (whole body)", Role::Peer, |b| {
            let mut n = 0;
            for v in serde_json::Deserializer::from_slice(b).into_iter::<serde_json::Value>() {
                let v = v.expect("Value frame");
                n += v.get("Data").and_then(|d| d.as_str()).map_or(0, base64_len);
            }
            n
        }),
    ];
    for chunk in CHUNKS {
        cases.push(Case::new(format!("core FrameDecoder, {} KiB chunks", chunk / 1024), Role::Core, move |b| {
            let mut d = FrameDecoder::new();
            let mut n = 0;
            for piece in b.chunks(chunk) {
                d.push(piece);
                while let Some(frame) = d.next_frame().expect("core frame") {
                    black_box(&frame);
                    n += frame.data.len();
                }
            }
            d.finish().expect("framed end");
            n
        }));
    }
    // The longest frame: the body is `{...}{}{...}{}`, and no `}` occurs inside a frame.
    let longest = body.split(|&c| c == b'}').map(|f| f.len() + 1).max().unwrap_or(0);
    Suite {
        name: "framed_logs",
        description: format!(
            "Nomad framed log: {:.1} MiB of log text in 64 KiB frames ({:.1} MB of JSON)",
            size as f64 / f64::from(1 << 20),
            body.len() as f64 / 1e6
        ),
        body,
        items: size,
        unit: "data byte",
        longest,
        cases,
    }
}

fn events(n: usize) -> Suite {
    let body = Bytes::from(bodies::event_stream(n));
    let longest = longest_line(&body);
    let mut cases = vec![
        Case::new("floor (per line, borrowed struct)", Role::Floor, |b| {
            let mut count = 0;
            for line in lines(b) {
                if line == b"{}" {
                    continue;
                }
                let batch: floor::EventBatch<'_> = serde_json::from_slice(line).expect("floor event");
                black_box(&batch);
                count += batch.events.map_or(0, |e| e.len());
            }
            count
        }),
        Case::new("serde_json::Value per line", Role::Peer, |b| {
            lines(b)
                .map(|line| {
                    let v: serde_json::Value = serde_json::from_slice(line).expect("Value");
                    v.get("Events").and_then(|e| e.as_array()).map_or(0, Vec::len)
                })
                .sum()
        }),
    ];
    for chunk in CHUNKS {
        cases.push(Case::new(
            format!("core LineSplitter + events::parse_line, {} KiB chunks", chunk / 1024),
            Role::Core,
            move |b| {
                let mut lines = LineSplitter::new("Nomad event stream", DEFAULT_MAX_LINE);
                let mut count = 0;
                for piece in b.chunks(chunk) {
                    lines.push(piece);
                    while let Some(line) = lines.next_line().expect("line") {
                        if let Some(batch) = clustermanager_core::nomad::events::parse_line(&line).expect("core event")
                        {
                            black_box(&batch);
                            count += batch.events.len();
                        }
                    }
                }
                count
            },
        ));
    }
    Suite {
        name: "events",
        description: format!(
            "Nomad event stream: {n} batches of one event (Job with its whole job, Evaluation), `{{}}` heartbeats ({:.1} MB)",
            body.len() as f64 / 1e6
        ),
        body,
        items: n,
        unit: "event",
        longest,
        cases,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_decodes_every_item() {
        for suite in suites(Sizes::SMALL) {
            assert_eq!(suite.cases[0].role, Role::Floor, "{}", suite.name);
            for case in &suite.cases {
                assert_eq!((case.run)(&suite.body), suite.items, "{}: {}", suite.name, case.name);
            }
        }
    }
}
