//! Wait latency: how long after the server writes a job's completion `wait_for_job` returns,
//! and what the client asked while it waited. One `clustermanager_tokio` manager (kept across
//! the waits, as a program would) waits `LATENCY_WAITS` times (default 50) in turn for a job
//! that is running when the wait begins and completes [`DELAY`] after the client began to
//! observe; the [`loopback`](crate::loopback) server plays the apiserver / the Nomad agent with
//! recorded bodies ([`fixtures`](crate::fixtures)):
//!
//! - **Kubernetes**: the Job list (the running Job), then a real watch stream (chunked) that
//!   sends the Complete Job as a `MODIFIED` event [`DELAY`] after the watch opened; GETs of the
//!   Job answer running or Complete accordingly.
//! - **Nomad**: `/v1/jobs?namespace=` (the running stub, `X-Nomad-Index: N`), then a blocking
//!   query on it (`index=N`) held [`DELAY`] and answered with the dead stub and index `N+1`;
//!   the job, its summary and its allocations answer running or dead accordingly. A blocking
//!   query at `N+1` is held until the client goes away.
//!
//! The latency runs from the moment just before the server writes the completion (event, or
//! blocking answer: one small write and flush) to the moment `wait_for_job` returned. Every request is logged as made before or after
//! that moment.

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clustermanager_core::Status;
use tokio::net::TcpStream;

use crate::fixtures::{k8s_job, nomad_job, K8sJob, NomadJob};
use crate::loopback::{chunk, hold, respond, serve, start_chunked, Answer, Handler, Head};

/// From the client's first observing request (the watch, the blocking query) to the completion.
/// Well under `FIRST_LOOK` (1 s), so the waits make no looks at why the job has not started.
pub const DELAY: Duration = Duration::from_millis(20);
const HOLD: Duration = Duration::from_secs(120);
const JSON: (&str, &str) = ("content-type", "application/json");

/// What the server saw of one wait.
#[derive(Default)]
struct Log {
    written: Option<Instant>,
    /// (kind of request, made after the completion was written)
    requests: Vec<(String, bool)>,
}

#[derive(Default)]
struct State {
    done: AtomicBool,
    /// Set by the request that writes the completion (only one does).
    completing: AtomicBool,
    /// Nomad: the index of this wait's running state (the dead state is one more).
    base: AtomicU64,
    log: Mutex<Log>,
}

impl State {
    fn note(&self, kind: impl Into<String>) {
        let mut log = self.log.lock().unwrap();
        let after = log.written.is_some();
        log.requests.push((kind.into(), after));
    }

    fn written(&self) {
        self.log.lock().unwrap().written = Some(Instant::now());
    }

    fn reset(&self, base: u64) {
        self.done.store(false, SeqCst);
        self.completing.store(false, SeqCst);
        self.base.store(base, SeqCst);
        *self.log.lock().unwrap() = Log::default();
    }

    fn take(&self) -> Log {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

fn closed() -> io::Error {
    io::Error::other("stream held to its end; close")
}

struct K8sServer {
    job: K8sJob,
    collection: String,
    object: String,
    list_running: String,
    list_complete: String,
    event: String,
    state: Arc<State>,
}

impl K8sServer {
    fn new(job: K8sJob, state: Arc<State>) -> Self {
        let collection = format!("/apis/batch/v1/namespaces/{}/jobs", job.namespace);
        let object = format!("{collection}/{}", job.name);
        let rv = |body: &str| -> String {
            let v: serde_json::Value = serde_json::from_str(body).unwrap();
            v["metadata"]["resourceVersion"].as_str().unwrap().to_owned()
        };
        let list = |item: &str, rv: &str| {
            format!(
                r#"{{"kind":"JobList","apiVersion":"batch/v1","metadata":{{"selfLink":"{collection}","resourceVersion":"{rv}"}},"items":[{}]}}"#,
                item.trim_end().replacen(r#"{"kind":"Job","apiVersion":"batch/v1","#, "{", 1)
            ) + "\n"
        };
        let list_running = list(&job.running, &rv(&job.running));
        let list_complete = list(&job.complete, &rv(&job.complete));
        let event = format!(r#"{{"type":"MODIFIED","object":{}}}"#, job.complete.trim_end()) + "\n";
        K8sServer { job, collection, object, list_running, list_complete, event, state }
    }
}

impl Handler for K8sServer {
    fn handle<'a>(&'a self, head: Head, conn: &'a mut TcpStream) -> Answer<'a> {
        Box::pin(async move {
            let s = &self.state;
            let done = s.done.load(SeqCst);
            if head.path == self.collection && head.param("watch") == Some("1") {
                s.note("watch");
                start_chunked(conn, &[JSON]).await?;
                if !s.completing.swap(true, SeqCst) {
                    tokio::time::sleep(DELAY).await;
                    s.done.store(true, SeqCst);
                    // noted before the write: the client may see the event and return before
                    // this thread runs again
                    s.written();
                    chunk(conn, self.event.as_bytes()).await?;
                }
                hold(conn, HOLD).await;
                Err(closed())
            } else if head.path == self.collection {
                s.note("list");
                let body = if done { &self.list_complete } else { &self.list_running };
                respond(conn, 200, &[JSON], body.as_bytes()).await
            } else if head.path == self.object {
                s.note("get job");
                let body = if done { &self.job.complete } else { &self.job.running };
                respond(conn, 200, &[JSON], body.as_bytes()).await
            } else {
                s.note(format!("other: {}", head.path));
                respond(
                    conn,
                    404,
                    &[JSON],
                    br#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}"#,
                )
                .await
            }
        })
    }
}

struct NomadServer {
    job: NomadJob,
    state: Arc<State>,
}

impl Handler for NomadServer {
    fn handle<'a>(&'a self, head: Head, conn: &'a mut TcpStream) -> Answer<'a> {
        Box::pin(async move {
            let s = &self.state;
            let base = s.base.load(SeqCst);
            let done = s.done.load(SeqCst);
            let index = (base + u64::from(done)).to_string();
            let headers = [JSON, ("x-nomad-index", index.as_str()), ("x-nomad-knownleader", "true")];
            let j = &self.job;
            let pick = |running: &'a String, dead: &'a String| if done { dead } else { running };
            let job_path = format!("/v1/job/{}", j.id);
            if head.path == "/v1/agent/self" {
                s.note("agent self");
                respond(conn, 200, &[JSON], j.agent_self.as_bytes()).await
            } else if head.path == "/v1/jobs" {
                let asked: Option<u64> = head.param("index").and_then(|i| i.parse().ok());
                match asked {
                    None => {
                        s.note("list jobs");
                        respond(conn, 200, &headers, pick(&j.list_running, &j.list_dead).as_bytes()).await
                    }
                    Some(i) if i == base && !s.completing.swap(true, SeqCst) => {
                        s.note("blocking list query");
                        tokio::time::sleep(DELAY).await;
                        s.done.store(true, SeqCst);
                        let index = (base + 1).to_string();
                        let headers = [JSON, ("x-nomad-index", index.as_str()), ("x-nomad-knownleader", "true")];
                        s.written(); // before the write, as for the Kubernetes event
                        respond(conn, 200, &headers, j.list_dead.as_bytes()).await
                    }
                    Some(i) if i < base => {
                        // a query of an earlier wait, arriving late: nobody reads its answer
                        hold(conn, HOLD).await;
                        Err(closed())
                    }
                    Some(_) => {
                        s.note("blocking list query (held: nothing changes)");
                        hold(conn, HOLD).await;
                        Err(closed())
                    }
                }
            } else if head.path == job_path {
                s.note("read job");
                respond(conn, 200, &headers, pick(&j.job_running, &j.job_dead).as_bytes()).await
            } else if head.path == format!("{job_path}/summary") {
                s.note("read job summary");
                respond(conn, 200, &headers, pick(&j.summary_running, &j.summary_dead).as_bytes()).await
            } else if head.path == format!("{job_path}/allocations") {
                s.note("read job allocations");
                respond(conn, 200, &headers, pick(&j.allocations_running, &j.allocations_dead).as_bytes()).await
            } else {
                s.note(format!("other: {}", head.path));
                respond(conn, 404, &[("content-type", "text/plain")], b"not found").await
            }
        })
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn counts(logs: &[Log], after: bool) -> String {
    let mut by: BTreeMap<&str, usize> = BTreeMap::new();
    for log in logs {
        for (kind, a) in &log.requests {
            if *a == after {
                *by.entry(kind).or_default() += 1;
            }
        }
    }
    let n = logs.len() as f64;
    let parts: Vec<String> = by.iter().map(|(k, c)| format!("{k} {:.2}", *c as f64 / n)).collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

/// Requests before the completion beyond the first list, watch / blocking query and job read
/// of each wait: what a polling wait would add.
fn polling(logs: &[Log], setup: &[&str]) -> usize {
    logs.iter()
        .map(|log| {
            let mut seen: Vec<&str> = Vec::new();
            log.requests
                .iter()
                .filter(|(kind, after)| {
                    if *after {
                        return false;
                    }
                    let first = setup.contains(&kind.as_str()) && !seen.contains(&kind.as_str());
                    seen.push(kind);
                    !first
                })
                .count()
        })
        .sum()
}

/// Print the table.
pub fn report() {
    let waits: usize = std::env::var("LATENCY_WAITS").ok().and_then(|s| s.parse().ok()).unwrap_or(50);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    println!("## Wait latency over loopback: server writes the completion → `wait_for_job` returns ({waits} waits, clustermanager-tokio)\n");
    println!(
        "The job is running when each wait begins and completes {} ms after the client began to observe it (recorded bodies, see `benches/benches/report/latency.rs`).\n",
        DELAY.as_millis()
    );
    println!("| backend | what signals the completion | p50 | p99 | max | requests per wait before the completion | after it (per wait) | polling requests (all waits) |");
    println!("|---|---|---:|---:|---:|---|---|---:|");
    for kubernetes in [true, false] {
        let state = Arc::new(State::default());
        let (addr, ns, name) = if kubernetes {
            let job = k8s_job();
            let (ns, name) = (job.namespace, job.name);
            (serve(K8sServer::new(job, state.clone())), ns, name)
        } else {
            let job = nomad_job();
            let (ns, name) = (job.namespace, job.id);
            (serve(NomadServer { job, state: state.clone() }), ns, name)
        };
        let url = format!("http://{addr}");
        let config = if kubernetes {
            clustermanager_tokio::Config::kubernetes(&url).unwrap()
        } else {
            clustermanager_tokio::Config::nomad(&url).unwrap()
        };
        state.reset(100);
        let cm = rt.block_on(clustermanager_tokio::connect(&config)).unwrap();
        let mut latencies = Vec::with_capacity(waits);
        let mut logs = Vec::with_capacity(waits);
        for i in 0..=waits {
            state.reset(100 + 10 * i as u64);
            let job = rt.block_on(cm.wait_for_job(ns, name, Some(Duration::from_secs(30)))).unwrap();
            let returned = Instant::now();
            assert_eq!(job.status, Some(Status::Succeeded));
            let log = state.take();
            let written = log.written.expect("the wait returned before the server wrote the completion");
            if i > 0 {
                // wait 0 warms the connection pool up
                latencies.push(returned - written);
                logs.push(log);
            }
        }
        latencies.sort_unstable();
        let (backend, signal, setup): (_, _, &[&str]) = if kubernetes {
            ("Kubernetes", "`MODIFIED` event on the Job watch", &["list", "watch", "get job"])
        } else {
            (
                "Nomad",
                "blocking `/v1/jobs` query answered with a higher `X-Nomad-Index`",
                &["list jobs", "blocking list query", "read job", "read job summary", "read job allocations"],
            )
        };
        println!(
            "| {backend} | {signal} | {} | {} | {} | {} | {} | {} |",
            us(percentile(&latencies, 0.5)),
            us(percentile(&latencies, 0.99)),
            us(latencies[latencies.len() - 1]),
            counts(&logs, false),
            counts(&logs, true),
            polling(&logs, setup),
        );
    }
    println!();
}
