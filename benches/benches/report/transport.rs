//! Transport overhead: sequential `get_job` round trips over loopback HTTP/1.1 (plain http,
//! keep-alive) to one [`loopback`](crate::loopback) server answering the recorded Complete Job
//! (`acm-08-job-succeeds`) for `GET /apis/batch/v1/namespaces/acm-jobs/jobs/hello-ok`.
//!
//! Clients, interleaved in rounds of `TRANSPORT_SECS` each (default 1 s, 3 rounds):
//! raw hyper (hyper-util's legacy client, body collected, not decoded: the floor), raw hyper
//! followed by core's own Job decoding of the body, and by k8s-openapi's (to tell decoding from
//! the rest), core's
//! `get_job` through `clustermanager_tokio` and `clustermanager_async_std` (request building,
//! transport, Job decoding; the managers `connect` returns, type-erased, and the tokio one also
//! typed, from `connect_typed`), and, with `--features kube`, kube-rs's `Api::<Job>::get` (k8s-openapi
//! decoding). The tokio clients run on one tokio current-thread runtime, the async-std one on
//! `async_io::block_on`; the server has a thread and runtime of its own.

use std::future::Future;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpStream;

use crate::fixtures::{k8s_job, K8sJob};
use crate::loopback::{respond, serve, Answer, Handler, Head};

struct JobServer {
    job: K8sJob,
    path: String,
}

impl Handler for JobServer {
    fn handle<'a>(&'a self, head: Head, conn: &'a mut TcpStream) -> Answer<'a> {
        Box::pin(async move {
            if head.path == self.path {
                respond(conn, 200, &[("content-type", "application/json")], self.job.complete.as_bytes()).await
            } else {
                eprintln!("transport server: unexpected {} {}", head.path, head.query);
                respond(conn, 404, &[("content-type", "application/json")], b"{}").await
            }
        })
    }
}

/// The latencies of one client, over all rounds.
struct Samples {
    name: &'static str,
    latencies: Vec<Duration>,
    busy: Duration,
}

/// Run `call` back to back for `secs`, adding to `s`.
async fn round<F, Fut>(s: &mut Samples, secs: Duration, mut call: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let start = Instant::now();
    while start.elapsed() < secs {
        let t = Instant::now();
        call().await;
        s.latencies.push(t.elapsed());
    }
    s.busy += start.elapsed();
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

/// Print the table.
pub fn report() {
    let job = k8s_job();
    let (ns, name) = (job.namespace, job.name);
    let path = format!("/apis/batch/v1/namespaces/{ns}/jobs/{name}");
    let body_len = job.complete.len();
    let addr = serve(JobServer { job, path: path.clone() });
    let url = format!("http://{addr}");
    let uri: http::Uri = format!("{url}{path}").parse().unwrap();
    let secs =
        Duration::from_secs_f64(std::env::var("TRANSPORT_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0));
    let rounds: usize = std::env::var("TRANSPORT_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let warm = Duration::from_millis(200);

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let hyper = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let config = clustermanager_tokio::Config::kubernetes(&url).unwrap();
    // what `connect` returns: the one (type-erased) ClusterManager; and the typed manager over the
    // TokioTransport itself (`connect_typed`), to tell the erasure's cost apart
    let tokio_cm = rt.block_on(clustermanager_tokio::connect(&config)).unwrap();
    let tokio_typed_cm = rt.block_on(clustermanager_tokio::connect_typed(&config)).unwrap();
    let async_std_cm = async_io::block_on(clustermanager_async_std::connect(&config)).unwrap();
    #[cfg(feature = "kube")]
    let kube_api = rt.block_on(async {
        let config = kube::Config::new(url.parse().unwrap());
        let client = kube::Client::try_from(config).unwrap();
        kube::Api::<k8s_openapi::api::batch::v1::Job>::namespaced(client, ns)
    });

    let raw_hyper = || {
        let req =
            http::Request::get(uri.clone()).header("accept", "application/json").body(Empty::<Bytes>::new()).unwrap();
        let fut = hyper.request(req);
        async move {
            let resp = fut.await.unwrap();
            assert_eq!(resp.status(), 200);
            let (parts, body) = resp.into_parts();
            let body = body.collect().await.unwrap().to_bytes();
            assert_eq!(body.len(), body_len);
            http::Response::from_parts(parts, body)
        }
    };
    // raw hyper, then core's decoding of the same body: what is left of core's overhead once
    // its Job decoding is paid for
    let raw_hyper_core_decode = || {
        let fut = raw_hyper();
        async move {
            let resp = fut.await;
            let j = clustermanager_core::k8s::job::parse_job(resp).unwrap();
            assert_eq!(j.succeeded, 1);
        }
    };
    // and k8s-openapi's decoding (what kube-rs decodes into)
    let raw_hyper_openapi_decode = || {
        let fut = raw_hyper();
        async move {
            let resp = fut.await;
            let j: k8s_openapi::api::batch::v1::Job = serde_json::from_slice(resp.body()).unwrap();
            assert_eq!(j.status.and_then(|s| s.succeeded), Some(1));
        }
    };
    let via_tokio = || async {
        let j = tokio_cm.get_job(ns, name).await.unwrap();
        assert_eq!(j.succeeded, 1);
    };
    let via_tokio_typed = || async {
        let j = tokio_typed_cm.get_job(ns, name).await.unwrap();
        assert_eq!(j.succeeded, 1);
    };
    let via_async_std = || async {
        let j = async_std_cm.get_job(ns, name).await.unwrap();
        assert_eq!(j.succeeded, 1);
    };
    #[cfg(feature = "kube")]
    let via_kube = || async {
        let j = kube_api.get(name).await.unwrap();
        assert_eq!(j.status.and_then(|s| s.succeeded), Some(1));
    };

    // a Vec because `--features kube` pushes a row
    #[cfg_attr(not(feature = "kube"), allow(clippy::useless_vec))]
    let mut all = vec![
        Samples { name: "raw hyper (hyper-util legacy client, body bytes)", latencies: vec![], busy: Duration::ZERO },
        Samples {
            name: "raw hyper + core's Job decoding (`k8s::job::parse_job`)",
            latencies: vec![],
            busy: Duration::ZERO,
        },
        Samples {
            name: "raw hyper + k8s-openapi `Job` decoding (serde_json)",
            latencies: vec![],
            busy: Duration::ZERO,
        },
        Samples { name: "core `get_job`, clustermanager-tokio (`connect`)", latencies: vec![], busy: Duration::ZERO },
        Samples { name: "core `get_job`, clustermanager-async-std", latencies: vec![], busy: Duration::ZERO },
        Samples {
            name: "core `get_job`, clustermanager-tokio typed (`connect_typed`)",
            latencies: vec![],
            busy: Duration::ZERO,
        },
    ];
    #[cfg(feature = "kube")]
    all.push(Samples {
        name: "kube-rs 5 `Api::<Job>::get` (k8s-openapi 0.29)",
        latencies: vec![],
        busy: Duration::ZERO,
    });

    for r in 0..=rounds {
        // round 0 warms every client up (connections, pools, lazy statics) and is dropped
        let (d, keep) = if r == 0 { (warm, false) } else { (secs, true) };
        let mut scratch: Vec<Samples> =
            all.iter().map(|s| Samples { name: s.name, latencies: vec![], busy: Duration::ZERO }).collect();
        rt.block_on(round(&mut scratch[0], d, || async {
            raw_hyper().await;
        }));
        rt.block_on(round(&mut scratch[1], d, raw_hyper_core_decode));
        rt.block_on(round(&mut scratch[2], d, raw_hyper_openapi_decode));
        rt.block_on(round(&mut scratch[3], d, via_tokio));
        async_io::block_on(round(&mut scratch[4], d, via_async_std));
        rt.block_on(round(&mut scratch[5], d, via_tokio_typed));
        #[cfg(feature = "kube")]
        rt.block_on(round(&mut scratch[6], d, via_kube));
        if keep {
            for (a, s) in all.iter_mut().zip(scratch) {
                a.latencies.extend(s.latencies);
                a.busy += s.busy;
            }
        }
    }

    println!(
        "## Transport overhead: sequential `get_job` over loopback HTTP/1.1 ({rounds} interleaved rounds of {:.1} s; ratio to raw hyper)\n",
        secs.as_secs_f64()
    );
    println!("Body: the recorded Complete Job `acm-jobs/hello-ok` ({body_len} bytes), one keep-alive connection.\n");
    println!("| client | round trips | per second | p50 | p99 | × hyper (time per round trip) | × hyper (p50) | × hyper (p99) |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let stats: Vec<(f64, Duration, Duration)> = all
        .iter_mut()
        .map(|s| {
            s.latencies.sort_unstable();
            let rps = s.latencies.len() as f64 / s.busy.as_secs_f64();
            (rps, percentile(&s.latencies, 0.5), percentile(&s.latencies, 0.99))
        })
        .collect();
    let (base_rps, base_p50, base_p99) = stats[0];
    for (s, (rps, p50, p99)) in all.iter().zip(&stats) {
        println!(
            "| {} | {} | {rps:.0} | {} | {} | {:.2}× | {:.2}× | {:.2}× |",
            s.name,
            s.latencies.len(),
            us(*p50),
            us(*p99),
            base_rps / rps,
            p50.as_secs_f64() / base_p50.as_secs_f64(),
            p99.as_secs_f64() / base_p99.as_secs_f64(),
        );
    }
    #[cfg(not(feature = "kube"))]
    println!("| kube-rs | — | — | — | — | — | — | (build with `--features kube`) |");
    println!();
}
