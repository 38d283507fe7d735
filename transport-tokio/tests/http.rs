//! HTTP behaviour of the tokio transport over real loopback sockets that the transport
//! conformance suite (`tests/tests/conformance.rs`, run against every transport) does not cover:
//! head deadlines of streams opened as blocking queries or follows, the response size limit,
//! retries driven end to end, `clustermanager_tokio::connect` against a server answering with a
//! recorded Kubernetes body, and Debug redaction of the transport and the manager. Streams,
//! truncation, timeouts, connection reuse and cancellation are conformance checks.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::result_large_err, missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clustermanager_core::deadline::{Hold, Io};
use clustermanager_core::error::TransportErrorKind;
use clustermanager_core::transport::{Chunk, Opened};
use clustermanager_core::Backend;
use clustermanager_core::{k8s, step, BodyStream, Call, Transport};
use clustermanager_tests::server::{write, Act, Handler, Reply, Server};
use clustermanager_tests::Scenario;
use clustermanager_tokio::{Auth, Config, Error, Secret, TlsConfig, TokioTransport};

fn get(path: &str) -> clustermanager_core::Request {
    step::request(http::Method::GET, path, None).unwrap()
}

fn plain(server: &Server) -> Config {
    Config::kubernetes(&server.http_url()).unwrap()
}

/// A server answering every request with `bytes` after `delay`, then keeping the connection.
fn late(delay: Duration, bytes: &'static [u8]) -> Server {
    Server::start(None, Arc::new(move |_| Reply::Script(vec![Act::Sleep(delay), write(bytes)])))
}

/// The response body of the first exchange of a recorded scenario.
fn recorded_body(fixture: &str) -> String {
    Scenario::load(fixture).exchange(0).response.body.clone()
}

#[tokio::test]
async fn cluster_manager_runs_a_call_end_to_end() {
    let nodes = recorded_body("k8s/acm-04-list-nodes-empty.json");
    let handler: Handler = Arc::new(move |req| {
        match req.target.as_str() {
        "/api/v1/nodes" => Reply::Full(200, nodes.clone()),
        _ => Reply::Full(403, r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"nodes is forbidden","reason":"Forbidden","code":403}"#.to_owned()),
    }
    });
    let server = Server::start(None, handler);
    let config = Config::kubernetes(&server.http_url()).unwrap().with_auth(Auth::Bearer(Secret::new("e2e")));
    let cm = clustermanager_tokio::connect(&config).await.unwrap();
    let Backend::Kubernetes(ctx) = cm.backend() else { panic!("expected Kubernetes") };

    let list_nodes = |path: &str| {
        Call::new(get(path), &ctx.retry, |resp| {
            let list: serde_json::Value = k8s::decode("NodeList", k8s::check(resp)?.body())?;
            Ok(list)
        })
    };
    let list = cm.run(list_nodes("/api/v1/nodes")).await.unwrap();
    assert_eq!(list["kind"], "NodeList");
    assert_eq!(list["metadata"]["resourceVersion"], "1229");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0));
    assert_eq!(server.seen.header(0, "authorization").as_deref(), Some("Bearer e2e"));
    assert!(server.seen.header(0, "user-agent").unwrap().starts_with("clustermanager/"));

    let err = cm.run(list_nodes("/api/v1/nodes?limit=1")).await.unwrap_err();
    assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
}

#[tokio::test]
async fn open_head_timeout_allows_a_blocking_query_wait() {
    // The head comes after 600 ms: too late for a 200 ms request timeout alone, in time with
    // the wait the query asks for.
    let server =
        late(Duration::from_millis(600), b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
    let mut config = Config::nomad(&server.http_url()).unwrap();
    config.request_timeout = Some(Duration::from_millis(200));
    let transport = TokioTransport::new(&config).unwrap();
    let Opened::Stream(parts, mut body) = transport
        .open(get("/v1/event/stream?index=3&wait=1s"), Io::new().holding(Hold::Server(Duration::from_secs(1))))
        .await
        .unwrap()
    else {
        panic!("expected a stream")
    };
    assert_eq!(parts.status, 200);
    assert!(matches!(body.next_chunk(Some(Duration::from_secs(5))).await, Chunk::Data(d) if &d[..] == b"{}"));
}

#[tokio::test]
async fn a_follow_waits_for_a_head_held_past_the_request_timeout() {
    // Like the kubelet behind the apiserver: a silent container's log sends its head only with
    // the first log byte, here 600 ms later, past a 200 ms request timeout. A plain GET of the
    // same log (no follow) still gives up.
    let server =
        late(Duration::from_millis(600), b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n6\r\nhello\n\r\n");
    let mut config = plain(&server);
    config.request_timeout = Some(Duration::from_millis(200));
    let transport = TokioTransport::new(&config).unwrap();
    let follow = Io::new().holding(Hold::Follow);
    let opened = transport.open(get("/api/v1/namespaces/x/pods/y/log?container=main&follow=true"), follow).await;
    let Opened::Stream(parts, mut body) = opened.unwrap_or_else(|e| panic!("{e}")) else { panic!("expected a stream") };
    assert_eq!(parts.status, 200);
    assert!(matches!(body.next_chunk(Some(Duration::from_secs(5))).await, Chunk::Data(d) if &d[..] == b"hello\n"));

    let err = transport.open(get("/api/v1/namespaces/x/pods/y/log?container=main"), Io::new()).await.unwrap_err();
    assert!(matches!(&err, Error::Timeout { what } if what.contains("response head")), "{err:?}");
}

#[tokio::test]
async fn a_follow_still_has_the_connect_timeout_and_an_error_body_deadline() {
    // Accepts TCP and never answers the ClientHello.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = std::thread::spawn(move || listener.accept().map(|(tcp, _)| tcp));
    let mut config = Config::nomad(&format!("https://localhost:{port}")).unwrap();
    config.connect_timeout = Duration::from_millis(200);
    config.request_timeout = None;
    let follow = "/v1/client/fs/logs/5b1c?task=main&type=stdout&follow=true&origin=start&offset=0";
    let started = Instant::now();
    let transport = TokioTransport::new(&config).unwrap();
    let opened =
        tokio::time::timeout(Duration::from_secs(5), transport.open(get(follow), Io::new().holding(Hold::Follow)))
            .await;
    let err = opened.expect("the connect timeout must end it").unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    assert!(matches!(&err, Error::Transport { kind: TransportErrorKind::Connect, .. }), "{err:?}");
    drop(silent.join().unwrap());

    // An error head comes, its body never does: the request timeout runs from the head.
    let server = late(Duration::ZERO, b"HTTP/1.1 404 Not Found\r\ncontent-length: 40\r\n\r\nalloc not");
    let mut config = Config::nomad(&server.http_url()).unwrap();
    config.request_timeout = Some(Duration::from_millis(200));
    let transport = TokioTransport::new(&config).unwrap();
    let opened =
        tokio::time::timeout(Duration::from_secs(5), transport.open(get(follow), Io::new().holding(Hold::Follow)))
            .await;
    let err = opened.expect("the error body must have a deadline").unwrap_err();
    assert!(matches!(&err, Error::Timeout { what } if what.contains("error body")), "{err:?}");
}

/// A server answering the `n`th request (from 0, over all connections) with `answer(n)`.
fn counting_server(answer: fn(usize) -> &'static str) -> Server {
    let calls = AtomicUsize::new(0);
    Server::start(
        None,
        Arc::new(move |_| Reply::Script(vec![write(answer(calls.fetch_add(1, Ordering::SeqCst)).as_bytes())])),
    )
}

/// Method and target of every request `server` saw.
fn request_lines(server: &Server) -> Vec<String> {
    server.seen.requests.lock().unwrap().iter().map(|r| format!("{} {}", r.method, r.target)).collect()
}

const UNAVAILABLE_RETRY_AFTER_1: &str =
    "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\nretry-after: 1\r\ncontent-length: 11\r\n\r\nunavailable";

#[tokio::test]
async fn the_driver_retries_a_503_after_the_servers_retry_after() {
    let nodes = recorded_body("k8s/acm-04-list-nodes-empty.json");
    static NODES: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NODES.get_or_init(|| {
        format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{nodes}", nodes.len())
    });
    let server = counting_server(|n| if n == 0 { UNAVAILABLE_RETRY_AFTER_1 } else { NODES.get().unwrap() });
    let cm = clustermanager_tokio::connect(&plain(&server)).await.unwrap();
    let Backend::Kubernetes(ctx) = cm.backend() else { panic!("expected Kubernetes") };
    let started = Instant::now();
    let list = cm
        .run(Call::new(get("/api/v1/nodes"), &ctx.retry, |resp| {
            k8s::decode::<serde_json::Value>("NodeList", k8s::check(resp)?.body())
        }))
        .await
        .unwrap();
    assert_eq!(list["kind"], "NodeList");
    assert_eq!(request_lines(&server), ["GET /api/v1/nodes", "GET /api/v1/nodes"]);
    // The policy's own first backoff is at most 500 ms: waiting a second is the server's word.
    assert!(started.elapsed() >= Duration::from_secs(1), "retried after {:?}", started.elapsed());
}

#[tokio::test]
async fn the_driver_does_not_repeat_a_post_answered_503() {
    let server = counting_server(|_| UNAVAILABLE_RETRY_AFTER_1);
    let cm = clustermanager_tokio::connect(&plain(&server)).await.unwrap();
    let Backend::Kubernetes(ctx) = cm.backend() else { panic!("expected Kubernetes") };
    let post = step::request(http::Method::POST, "/apis/batch/v1/namespaces/x/jobs", Some(b"{}".to_vec())).unwrap();
    let err = cm.run(Call::new(post, &ctx.retry, |resp| k8s::check(resp).map(|_| ()))).await.unwrap_err();
    assert!(matches!(err, Error::Server(_)), "{err:?}");
    assert_eq!(request_lines(&server), ["POST /apis/batch/v1/namespaces/x/jobs"]);
}

#[tokio::test]
async fn debug_of_the_transport_and_the_manager_shows_no_secret() {
    // Answers Nomad's connect step with the recorded agent; anything else with 200.
    let agent = recorded_body("nomad/01-agent-self.json");
    let server = Server::start(
        None,
        Arc::new(move |req| {
            Reply::Full(200, if req.target.starts_with("/v1/agent/self") { agent.clone() } else { "ok".into() })
        }),
    );
    let pki = clustermanager_tests::pki::Pki::new();
    let key_pem = pki.client.key_pem();
    let key_body: String = key_pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let identity =
        clustermanager_tokio::Identity { cert_pem: pki.client.cert_pem(), key_pem: Secret::new(key_pem.clone()) };
    let kubernetes = Config::kubernetes(&server.http_url()).unwrap();
    let configs = [
        kubernetes.clone().with_auth(Auth::Bearer(Secret::new("TOKEN-Zq7-DISTINCTIVE"))),
        kubernetes.clone().with_basic_auth("admin", "PASSWORD-Zq7-DISTINCTIVE"),
        kubernetes.with_tls(TlsConfig { client_identity: Some(identity), ..TlsConfig::default() }),
        Config::nomad(&server.http_url()).unwrap().with_token("NOMAD-Zq7-DISTINCTIVE"),
    ];
    for config in configs {
        let transport = TokioTransport::new(&config).unwrap();
        let cm = clustermanager_tokio::connect(&config).await.unwrap();
        for text in [format!("{transport:?}"), format!("{transport:#?}"), format!("{cm:?}"), format!("{cm:#?}")] {
            assert!(!text.contains("Zq7-DISTINCTIVE") && !text.contains(&key_body[..24]), "{text}");
        }
        // The redacted Debug still says what is configured.
        let text = format!("{transport:?}");
        assert!(text.contains(&server.addr.port().to_string()) && text.contains("<redacted>"), "{text}");
    }
}

#[tokio::test]
async fn a_whole_response_larger_than_the_limit_fails_instead_of_filling_memory() {
    // Declared too large: refused before reading.
    let server = late(Duration::ZERO, b"HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\n");
    let transport = TokioTransport::new(&plain(&server)).unwrap().with_max_response_bytes(1000);
    let err = transport.send(get("/big"), Io::new()).await.unwrap_err();
    assert!(matches!(&err, Error::Decode { message, .. } if message.contains("larger than 1000 bytes")), "{err:?}");

    // Chunked and far past the limit (256 KiB of 256-byte chunks): stopped at the limit.
    let chunk: Vec<u8> = [&b"100\r\n"[..], &[b'x'; 256], b"\r\n"].concat();
    let handler: Handler = Arc::new(move |_| {
        let mut acts = vec![write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")];
        acts.extend((0..1024).map(|_| Act::Write(chunk.clone())));
        Reply::Script(acts)
    });
    let server = Server::start(None, handler);
    let mut config = plain(&server);
    config.request_timeout = Some(Duration::from_secs(20));
    let transport = TokioTransport::new(&config).unwrap().with_max_response_bytes(64 * 1024);
    let err = transport.send(get("/endless"), Io::new()).await.unwrap_err();
    assert!(matches!(&err, Error::Decode { message, .. } if message.contains("larger than 65536 bytes")), "{err:?}");

    // Within the limit, all is read; an open stream is not limited as a whole.
    let handler: Handler = Arc::new(|_| Reply::Full(200, "y".repeat(5000)));
    let server = Server::start(None, handler);
    let transport =
        TokioTransport::new(&Config::kubernetes(&server.http_url()).unwrap()).unwrap().with_max_response_bytes(5000);
    assert_eq!(transport.send(get("/fits"), Io::new()).await.unwrap().body().len(), 5000);
    let transport = transport.with_max_response_bytes(10);
    let Opened::Stream(_, mut body) = transport.open(get("/stream"), Io::new()).await.unwrap() else {
        panic!("expected a stream")
    };
    let mut total = 0;
    while let Chunk::Data(d) = body.next_chunk(Some(Duration::from_secs(5))).await {
        total += d.len();
    }
    assert_eq!(total, 5000);
}

/// The shape that exceeded the bound against a real Nomad agent (1,000 tasks, 45 connections
/// with `max_connections` = 32): many spawned tasks on worker threads, each finished connection
/// racing the next request on its way back to hyper-util's pool. The transport's own count and
/// the server's agree that at most `max_connections` connections were ever open, and nothing
/// connects once the calls are done (no connect left waiting for a unit in the background).
#[test]
fn spawned_calls_on_worker_threads_hold_at_most_max_connections() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        // the head at once, the body a little later: the connection is busy until it is read
        let handler: Handler = Arc::new(|_| {
            Reply::Script(vec![
                write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"),
                Act::Sleep(Duration::from_millis(5)),
                write(b"ok"),
            ])
        });
        let server = Server::start(None, handler);
        let transport = TokioTransport::new(&plain(&server).with_max_connections(4)).unwrap();
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                let t = transport.clone();
                tokio::spawn(async move { t.send(get("/v1/job/x"), Io::new()).await })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap().status(), 200);
        }
        let accepted = server.seen.connections.load(Ordering::SeqCst);
        assert!(transport.connections().peak() <= 4, "{} connections open at once", transport.connections().peak());
        assert!(
            server.seen.peak_open() <= 4,
            "the server saw {} at once ({accepted} accepted)",
            server.seen.peak_open()
        );
        // dropping the transport closes the idle connections; a connect still waiting for a
        // unit in the background would get one now and connect
        let connections = transport.connections().clone();
        drop(transport);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(server.seen.connections.load(Ordering::SeqCst), accepted, "a connect was left behind");
        assert_eq!(connections.in_use(), 0, "every connection closed");
    });
}
