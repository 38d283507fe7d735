//! HTTP behaviour over real loopback sockets: streamed bodies and read timeouts, truncation,
//! connect and request timeouts (and the blocking-query allowance), connection reuse,
//! cancellation (dropping a request or a body closes its connection), and a `ClusterManager`
//! end to end against a server answering with a recorded Kubernetes body.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::result_large_err, missing_docs)]

mod common;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clustermanager_core::error::TransportErrorKind;
use clustermanager_core::facade::Backend;
use clustermanager_core::transport::{Chunk, Opened};
use clustermanager_core::{k8s, step, BodyStream, Call, Transport};
use clustermanager_tokio::{Auth, Config, Error, Secret, TlsConfig, TokioTransport};
use common::{ok_handler, serve, Handler};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

fn get(path: &str) -> clustermanager_core::Request {
    step::request(http::Method::GET, path, None).unwrap()
}

/// A raw TCP server running `f` for every accepted connection.
async fn raw_server<F, Fut>(f: F) -> (SocketAddr, tokio::task::JoinHandle<()>)
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(f(tcp));
        }
    });
    (addr, task)
}

/// Read a request head (up to the blank line).
async fn read_head(tcp: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if tcp.read(&mut byte).await.unwrap() == 0 {
            break;
        }
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

/// Wait until the peer closes the connection (read returns 0 or fails).
async fn wait_closed(tcp: &mut TcpStream) {
    let mut buf = [0u8; 256];
    loop {
        match tcp.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => continue,
        }
    }
}

fn plain(addr: SocketAddr) -> Config {
    Config::kubernetes(&format!("http://{addr}")).unwrap()
}

#[tokio::test]
async fn chunked_stream_arrives_through_open_with_read_timeouts_between_chunks() {
    let (addr, _server) = raw_server(|mut tcp| async move {
        read_head(&mut tcp).await;
        tcp.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
            .await
            .unwrap();
        tcp.write_all(b"6\r\n{\"a\":1\r\n").await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        tcp.write_all(b"2\r\n}\n\r\n0\r\n\r\n").await.unwrap();
        wait_closed(&mut tcp).await;
    })
    .await;
    // The request timeout is far shorter than the stream: it must not apply to streams.
    let mut config = plain(addr);
    config.request_timeout = Some(Duration::from_millis(100));
    let transport = TokioTransport::new(&config).unwrap();
    let Opened::Stream(parts, mut body) = transport.open(get("/api/v1/pods?watch=1")).await.unwrap() else {
        panic!("expected a stream");
    };
    assert_eq!(parts.status, 200);
    let (mut data, mut timeouts) = (Vec::new(), 0);
    loop {
        match body.next_chunk(Some(Duration::from_millis(100))).await {
            Chunk::Data(bytes) => data.extend_from_slice(&bytes),
            Chunk::TimedOut => timeouts += 1,
            Chunk::End => break,
            Chunk::Failed(err) => panic!("stream failed: {err}"),
        }
    }
    assert_eq!(data, b"{\"a\":1}\n");
    assert!(timeouts >= 1, "a 500 ms pause read with 100 ms timeouts must time out, saw {timeouts}");
    assert!(matches!(body.next_chunk(None).await, Chunk::End));
}

#[tokio::test]
async fn a_stream_cut_mid_chunk_fails_as_truncated() {
    let (addr, _server) = raw_server(|mut tcp| async move {
        read_head(&mut tcp).await;
        tcp.write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\na\r\nhel").await.unwrap();
        // Closing now leaves the chunk unfinished.
    })
    .await;
    let transport = TokioTransport::new(&plain(addr)).unwrap();
    let Opened::Stream(_, mut body) = transport.open(get("/stream")).await.unwrap() else {
        panic!("expected a stream")
    };
    let mut last = body.next_chunk(Some(Duration::from_secs(5))).await;
    while let Chunk::Data(_) = last {
        last = body.next_chunk(Some(Duration::from_secs(5))).await;
    }
    match last {
        Chunk::Failed(Error::Transport { kind: TransportErrorKind::Truncated, .. }) => {}
        other => panic!("expected a truncated stream, got {other:?}"),
    }
}

#[tokio::test]
async fn a_body_shorter_than_its_content_length_is_truncated() {
    let (addr, _server) = raw_server(|mut tcp| async move {
        read_head(&mut tcp).await;
        tcp.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello").await.unwrap();
    })
    .await;
    let err = TokioTransport::new(&plain(addr)).unwrap().send(get("/short")).await.unwrap_err();
    assert!(matches!(err, Error::Transport { kind: TransportErrorKind::Truncated, .. }), "{err:?}");
}

#[tokio::test]
async fn open_of_an_error_status_returns_the_whole_response() {
    let handler: Handler = Arc::new(|_, _| (404, r#"{"kind":"Status","reason":"NotFound"}"#.to_owned()));
    let server = serve(None, handler).await;
    let transport = TokioTransport::new(&Config::kubernetes(&server.http_url()).unwrap()).unwrap();
    match transport.open(get("/api/v1/namespaces/x/pods/y/log?follow=true")).await.unwrap() {
        Opened::Complete(resp) => {
            assert_eq!(resp.status(), 404);
            assert_eq!(&resp.body()[..], br#"{"kind":"Status","reason":"NotFound"}"#);
        }
        Opened::Stream(..) => panic!("a 404 is not a stream"),
    }
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = TokioTransport::new(&plain(addr)).unwrap().send(get("/version")).await.unwrap_err();
    assert!(matches!(err, Error::Transport { kind: TransportErrorKind::Connect, .. }), "{err:?}");
}

#[tokio::test]
async fn the_connect_timeout_covers_a_stalled_tls_handshake() {
    // Accepts TCP and never answers the ClientHello.
    let (addr, _server) = raw_server(|mut tcp| async move { wait_closed(&mut tcp).await }).await;
    let mut config = Config::kubernetes(&format!("https://localhost:{}", addr.port())).unwrap();
    config.connect_timeout = Duration::from_millis(200);
    let started = Instant::now();
    let err = TokioTransport::new(&config).unwrap().send(get("/version")).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    match err {
        Error::Transport { kind: TransportErrorKind::Connect, message } => {
            assert!(message.contains("connect_timeout"), "{message}")
        }
        other => panic!("expected a Connect error, got {other:?}"),
    }
}

#[tokio::test]
async fn the_request_timeout_is_extended_by_a_blocking_query_wait() {
    let (addr, _server) = raw_server(|mut tcp| async move {
        loop {
            if read_head(&mut tcp).await.is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(600)).await;
            if tcp.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await.is_err() {
                return;
            }
        }
    })
    .await;
    let mut config = Config::nomad(&format!("http://{addr}")).unwrap();
    config.request_timeout = Some(Duration::from_millis(200));
    let transport = TokioTransport::new(&config).unwrap();
    let err = transport.send(get("/v1/jobs")).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    // A Nomad blocking query with wait=1s may take that long (plus slack)...
    let resp = transport.send(get("/v1/jobs?index=5&wait=1s")).await.unwrap();
    assert_eq!(&resp.body()[..], b"ok");
    // ...and so may a Kubernetes watch-style timeoutSeconds.
    let resp = transport.send(get("/api/v1/pods?timeoutSeconds=1")).await.unwrap();
    assert_eq!(&resp.body()[..], b"ok");
}

#[tokio::test]
async fn connections_are_kept_alive_and_reused() {
    let server = serve(None, ok_handler()).await;
    let transport = TokioTransport::new(&Config::kubernetes(&server.http_url()).unwrap()).unwrap();
    for _ in 0..3 {
        assert_eq!(&transport.send(get("/version")).await.unwrap().body()[..], b"ok");
    }
    assert_eq!(server.seen.count(), 3);
    assert_eq!(server.seen.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn dropping_a_pending_request_closes_its_connection() {
    let (received_tx, mut received) = mpsc::unbounded_channel();
    let (closed_tx, mut closed) = mpsc::unbounded_channel();
    let (addr, _server) = raw_server(move |mut tcp| {
        let (received_tx, closed_tx) = (received_tx.clone(), closed_tx.clone());
        async move {
            read_head(&mut tcp).await;
            received_tx.send(()).unwrap();
            // Never answer; report when the client goes away.
            wait_closed(&mut tcp).await;
            closed_tx.send(()).unwrap();
        }
    })
    .await;
    let mut config = plain(addr);
    config.request_timeout = None;
    let transport = TokioTransport::new(&config).unwrap();
    tokio::select! {
        result = transport.send(get("/never")) => panic!("the server never answers, got {result:?}"),
        _ = received.recv() => {}
    }
    // The send future is dropped here.
    tokio::time::timeout(Duration::from_secs(5), closed.recv())
        .await
        .expect("the connection of a dropped request must be closed");
}

#[tokio::test]
async fn dropping_an_open_body_closes_its_connection() {
    let (closed_tx, mut closed) = mpsc::unbounded_channel();
    let (addr, _server) = raw_server(move |mut tcp| {
        let closed_tx = closed_tx.clone();
        async move {
            read_head(&mut tcp).await;
            tcp.write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\none\r\n").await.unwrap();
            wait_closed(&mut tcp).await;
            closed_tx.send(()).unwrap();
        }
    })
    .await;
    let transport = TokioTransport::new(&plain(addr)).unwrap();
    let Opened::Stream(_, mut body) = transport.open(get("/watch")).await.unwrap() else { panic!("expected a stream") };
    assert!(matches!(body.next_chunk(Some(Duration::from_secs(5))).await, Chunk::Data(d) if &d[..] == b"one"));
    drop(body);
    tokio::time::timeout(Duration::from_secs(5), closed.recv())
        .await
        .expect("the connection of a dropped stream must be closed");
}

/// The response body of the first exchange of a recorded scenario.
fn recorded_body(fixture: &str) -> String {
    let path = format!("{}/../tests/fixtures/{fixture}", env!("CARGO_MANIFEST_DIR"));
    let scenario: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    scenario["exchanges"][0]["response"]["body"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn cluster_manager_runs_a_call_end_to_end() {
    let nodes = recorded_body("k8s/acm-04-list-nodes-empty.json");
    let handler: Handler = Arc::new(move |_, path| {
        match path {
        "/api/v1/nodes" => (200, nodes.clone()),
        _ => (403, r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"nodes is forbidden","reason":"Forbidden","code":403}"#.to_owned()),
    }
    });
    let server = serve(None, handler).await;
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
async fn https_is_refused_on_plain_http_ports_as_a_tls_error() {
    let server = serve(None, ok_handler()).await;
    let config = Config::kubernetes(&format!("https://localhost:{}", server.addr.port()))
        .unwrap()
        .with_tls(TlsConfig { skip_verify: true, ..TlsConfig::default() });
    let err = TokioTransport::new(&config).unwrap().send(get("/version")).await.unwrap_err();
    assert!(matches!(err, Error::Transport { kind: TransportErrorKind::Tls, .. }), "{err:?}");
}

#[tokio::test]
async fn open_gives_up_on_a_head_that_never_comes() {
    let (addr, _server) = raw_server(|mut tcp| async move {
        read_head(&mut tcp).await;
        // Takes the request, never answers.
        wait_closed(&mut tcp).await;
    })
    .await;
    let mut config = plain(addr);
    config.request_timeout = Some(Duration::from_millis(200));
    let transport = TokioTransport::new(&config).unwrap();
    let started = Instant::now();
    let opened = tokio::time::timeout(Duration::from_secs(5), transport.open(get("/api/v1/pods?watch=1"))).await;
    let err = opened.expect("open must give up by itself").unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    match err {
        Error::Timeout { what } => assert!(what.contains("response head") && what.contains("200ms"), "{what}"),
        other => panic!("expected a Timeout, got {other:?}"),
    }
}

#[tokio::test]
async fn open_head_timeout_allows_a_blocking_query_wait() {
    // The head comes after 600 ms: too late for a 200 ms request timeout alone, in time with
    // the wait the query asks for.
    let (addr, _server) = raw_server(|mut tcp| async move {
        read_head(&mut tcp).await;
        tokio::time::sleep(Duration::from_millis(600)).await;
        let _ = tcp.write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n").await;
        wait_closed(&mut tcp).await;
    })
    .await;
    let mut config = Config::nomad(&format!("http://{addr}")).unwrap();
    config.request_timeout = Some(Duration::from_millis(200));
    let transport = TokioTransport::new(&config).unwrap();
    let Opened::Stream(parts, mut body) = transport.open(get("/v1/event/stream?index=3&wait=1s")).await.unwrap() else {
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
    let (addr, _server) = raw_server(|mut tcp| async move {
        read_head(&mut tcp).await;
        tokio::time::sleep(Duration::from_millis(600)).await;
        let _ = tcp.write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n6\r\nhello\n\r\n").await;
        wait_closed(&mut tcp).await;
    })
    .await;
    let mut config = plain(addr);
    config.request_timeout = Some(Duration::from_millis(200));
    let transport = TokioTransport::new(&config).unwrap();
    let opened = transport.open(get("/api/v1/namespaces/x/pods/y/log?container=main&follow=true")).await;
    let Opened::Stream(parts, mut body) = opened.unwrap_or_else(|e| panic!("{e}")) else { panic!("expected a stream") };
    assert_eq!(parts.status, 200);
    assert!(matches!(body.next_chunk(Some(Duration::from_secs(5))).await, Chunk::Data(d) if &d[..] == b"hello\n"));

    let err = transport.open(get("/api/v1/namespaces/x/pods/y/log?container=main")).await.unwrap_err();
    assert!(matches!(&err, Error::Timeout { what } if what.contains("response head")), "{err:?}");
}

#[tokio::test]
async fn a_follow_still_has_the_connect_timeout_and_an_error_body_deadline() {
    // Accepts TCP and never answers the ClientHello.
    let (addr, _server) = raw_server(|mut tcp| async move { wait_closed(&mut tcp).await }).await;
    let mut config = Config::nomad(&format!("https://localhost:{}", addr.port())).unwrap();
    config.connect_timeout = Duration::from_millis(200);
    config.request_timeout = None;
    let follow = "/v1/client/fs/logs/5b1c?task=main&type=stdout&follow=true&origin=start&offset=0";
    let started = Instant::now();
    let transport = TokioTransport::new(&config).unwrap();
    let opened = tokio::time::timeout(Duration::from_secs(5), transport.open(get(follow))).await;
    let err = opened.expect("the connect timeout must end it").unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    assert!(matches!(&err, Error::Transport { kind: TransportErrorKind::Connect, .. }), "{err:?}");

    // An error head comes, its body never does: the request timeout runs from the head.
    let (addr, _server) = raw_server(|mut tcp| async move {
        read_head(&mut tcp).await;
        let _ = tcp.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 40\r\n\r\nalloc not").await;
        wait_closed(&mut tcp).await;
    })
    .await;
    let mut config = Config::nomad(&format!("http://{addr}")).unwrap();
    config.request_timeout = Some(Duration::from_millis(200));
    let transport = TokioTransport::new(&config).unwrap();
    let opened = tokio::time::timeout(Duration::from_secs(5), transport.open(get(follow))).await;
    let err = opened.expect("the error body must have a deadline").unwrap_err();
    assert!(matches!(&err, Error::Timeout { what } if what.contains("error body")), "{err:?}");
}

/// A keep-alive raw server answering the `n`th request (from 0, over all connections) with
/// `answer(n)`; returns the request lines it saw.
async fn counting_server(
    answer: fn(usize) -> &'static str,
) -> (SocketAddr, Arc<std::sync::Mutex<Vec<String>>>, tokio::task::JoinHandle<()>) {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen2 = Arc::clone(&seen);
    let (addr, task) = raw_server(move |mut tcp| {
        let seen = Arc::clone(&seen2);
        async move {
            loop {
                let head = read_head(&mut tcp).await;
                if head.is_empty() {
                    return;
                }
                // Bodies here are tiny and announced with content-length.
                let len = head
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(0);
                let mut body = vec![0; len];
                tcp.read_exact(&mut body).await.unwrap();
                let n = {
                    let mut seen = seen.lock().unwrap();
                    seen.push(head.lines().next().unwrap_or_default().to_owned());
                    seen.len() - 1
                };
                if tcp.write_all(answer(n).as_bytes()).await.is_err() {
                    return;
                }
            }
        }
    })
    .await;
    (addr, seen, task)
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
    let (addr, seen, _server) =
        counting_server(|n| if n == 0 { UNAVAILABLE_RETRY_AFTER_1 } else { NODES.get().unwrap() }).await;
    let cm = clustermanager_tokio::connect(&plain(addr)).await.unwrap();
    let Backend::Kubernetes(ctx) = cm.backend() else { panic!("expected Kubernetes") };
    let started = Instant::now();
    let list = cm
        .run(Call::new(get("/api/v1/nodes"), &ctx.retry, |resp| {
            k8s::decode::<serde_json::Value>("NodeList", k8s::check(resp)?.body())
        }))
        .await
        .unwrap();
    assert_eq!(list["kind"], "NodeList");
    assert_eq!(*seen.lock().unwrap(), ["GET /api/v1/nodes HTTP/1.1", "GET /api/v1/nodes HTTP/1.1"]);
    // The policy's own first backoff is at most 500 ms: waiting a second is the server's word.
    assert!(started.elapsed() >= Duration::from_secs(1), "retried after {:?}", started.elapsed());
}

#[tokio::test]
async fn the_driver_does_not_repeat_a_post_answered_503() {
    let (addr, seen, _server) = counting_server(|_| UNAVAILABLE_RETRY_AFTER_1).await;
    let cm = clustermanager_tokio::connect(&plain(addr)).await.unwrap();
    let Backend::Kubernetes(ctx) = cm.backend() else { panic!("expected Kubernetes") };
    let post = step::request(http::Method::POST, "/apis/batch/v1/namespaces/x/jobs", Some(b"{}".to_vec())).unwrap();
    let err = cm.run(Call::new(post, &ctx.retry, |resp| k8s::check(resp).map(|_| ()))).await.unwrap_err();
    assert!(matches!(err, Error::Server(_)), "{err:?}");
    assert_eq!(*seen.lock().unwrap(), ["POST /apis/batch/v1/namespaces/x/jobs HTTP/1.1"]);
}

#[tokio::test]
async fn debug_of_the_transport_and_the_manager_shows_no_secret() {
    // Answers Nomad's connect step with the recorded agent; anything else with 200.
    let agent = recorded_body("nomad/01-agent-self.json");
    let server = serve(
        None,
        Arc::new(
            move |_, path| if path.starts_with("/v1/agent/self") { (200, agent.clone()) } else { (200, "ok".into()) },
        ),
    )
    .await;
    let pki = common::Pki::new();
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
    let (addr, _server) = raw_server(|mut tcp| async move {
        read_head(&mut tcp).await;
        let _ = tcp.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\n").await;
        wait_closed(&mut tcp).await;
    })
    .await;
    let transport = TokioTransport::new(&plain(addr)).unwrap().with_max_response_bytes(1000);
    let err = transport.send(get("/big")).await.unwrap_err();
    assert!(matches!(&err, Error::Decode { message, .. } if message.contains("larger than 1000 bytes")), "{err:?}");

    // Chunked and endless: stopped at the limit.
    let (addr, _server) = raw_server(|mut tcp| async move {
        read_head(&mut tcp).await;
        let _ = tcp.write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").await;
        while tcp.write_all(b"100\r\n").await.is_ok() && tcp.write_all(&[b'x'; 256]).await.is_ok() {
            if tcp.write_all(b"\r\n").await.is_err() {
                break;
            }
        }
    })
    .await;
    let mut config = plain(addr);
    config.request_timeout = Some(Duration::from_secs(20));
    let transport = TokioTransport::new(&config).unwrap().with_max_response_bytes(64 * 1024);
    let err = transport.send(get("/endless")).await.unwrap_err();
    assert!(matches!(&err, Error::Decode { message, .. } if message.contains("larger than 65536 bytes")), "{err:?}");

    // Within the limit, all is read; an open stream is not limited as a whole.
    let handler: Handler = Arc::new(|_, _| (200, "y".repeat(5000)));
    let server = serve(None, handler).await;
    let transport =
        TokioTransport::new(&Config::kubernetes(&server.http_url()).unwrap()).unwrap().with_max_response_bytes(5000);
    assert_eq!(transport.send(get("/fits")).await.unwrap().body().len(), 5000);
    let transport = transport.with_max_response_bytes(10);
    let Opened::Stream(_, mut body) = transport.open(get("/stream")).await.unwrap() else {
        panic!("expected a stream")
    };
    let mut total = 0;
    while let Chunk::Data(d) = body.next_chunk(Some(Duration::from_secs(5))).await {
        total += d.len();
    }
    assert_eq!(total, 5000);
}
