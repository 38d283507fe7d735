//! Transport conformance for `SurfTransport` (clustermanager-async-std's `surf` feature): the
//! plain-HTTP checks of `conformance.rs`, over the same std-threads loopback server, through a
//! surf client with the plain-HTTP h1 backend. Each runs inside `async_std::task::block_on` and
//! again inside `smol::block_on`.
//!
//! Run with `cargo test -p clustermanager-tests --features surf --test surf_conformance`.

#![cfg(feature = "surf")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::result_large_err, missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clustermanager_async_std::SurfTransport;
use clustermanager_core::config::exec::ExecConfig;
use clustermanager_core::config::{Auth, TlsConfig};
use clustermanager_core::deadline::{Hold, Io};
use clustermanager_core::error::TransportErrorKind;
use clustermanager_core::transport::{Chunk, Opened};
use clustermanager_core::ClusterManager;
use clustermanager_core::{step, BodyStream, Config, Error, Request, Secret, Transport};
use clustermanager_tests::capture::warnings;
use clustermanager_tests::server::{ok_handler, temp_dir, write, Act, Handler, Reply, Server};
use clustermanager_tests::Scenario;

fn make(config: &Config) -> SurfTransport {
    SurfTransport::new(config).unwrap()
}

fn get(path: &str) -> Request {
    step::request(http::Method::GET, path, None).unwrap()
}

fn plain(server: &Server) -> Config {
    Config::kubernetes(&server.http_url()).unwrap()
}

async fn send_ok(transport: &SurfTransport, path: &str) {
    send_ok_with(transport, path, Io::new()).await
}

/// [`send_ok`] with what the step would say: a deadline, a server hold.
async fn send_ok_with(transport: &SurfTransport, path: &str, io: Io) {
    let resp = transport.send(get(path), io).await.unwrap_or_else(|e| panic!("request failed: {e}"));
    assert_eq!(resp.status(), 200);
    assert_eq!(&resp.body()[..], b"ok");
}

fn assert_kind(err: &Error, want: TransportErrorKind) {
    assert!(matches!(err, Error::Transport { kind, .. } if *kind == want), "expected {want:?}, got {err:?}");
}

async fn stream(transport: &SurfTransport, path: &str) -> clustermanager_async_std::SurfBody {
    stream_with(transport, path, Io::new()).await
}

async fn stream_with(transport: &SurfTransport, path: &str, io: Io) -> clustermanager_async_std::SurfBody {
    match transport.open(get(path), io).await.unwrap() {
        Opened::Stream(parts, body) => {
            assert_eq!(parts.status, 200);
            body
        }
        Opened::Complete(resp) => panic!("expected a stream, got {}", resp.status()),
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP

async fn check_plain_get() {
    let server = Server::start(None, Arc::new(|_| Reply::Full(200, r#"{"kind":"Status"}"#.to_owned())));
    let transport = make(&plain(&server));
    let resp = transport.send(get("/api/v1/nodes?limit=10"), Io::new()).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(&resp.body()[..], br#"{"kind":"Status"}"#);
    let seen = server.seen.requests.lock().unwrap()[0].clone();
    assert_eq!((seen.method.as_str(), seen.target.as_str()), ("GET", "/api/v1/nodes?limit=10"));
    assert_eq!(seen.header("host"), Some(format!("127.0.0.1:{}", server.addr.port())));
    assert!(seen.header("user-agent").unwrap().starts_with("clustermanager/"));
}

async fn check_post_body_arrives() {
    let server = Server::start(None, Arc::new(|_| Reply::Full(201, "{}".to_owned())));
    let transport = make(&plain(&server));
    let body = br#"{"kind":"Job","metadata":{"name":"x"}}"#.to_vec();
    let request =
        step::request(http::Method::POST, "/apis/batch/v1/namespaces/default/jobs", Some(body.clone())).unwrap();
    let resp = transport.send(request, Io::new()).await.unwrap();
    assert_eq!(resp.status(), 201);
    let seen = server.seen.requests.lock().unwrap()[0].clone();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.header("content-length"), Some(body.len().to_string()));
    assert_eq!(seen.header("content-type").as_deref(), Some("application/json"));
    assert_eq!(seen.body, body);
}

async fn check_one_connection_per_request() {
    // The default client has no keep-alive (surf's h1 pool would reuse a connection whose
    // response was not read to the end): each request has its own connection, closed after.
    let server = Server::start(None, ok_handler());
    let transport = make(&plain(&server));
    for _ in 0..3 {
        send_ok(&transport, "/version").await;
    }
    assert_eq!(server.seen.count(), 3);
    assert_eq!(server.seen.connections.load(Ordering::SeqCst), 3);
}

/// Poll `cond` for up to 5 s (the server runs on its own threads).
async fn eventually(transport: &SurfTransport, cond: impl Fn() -> bool) -> bool {
    for _ in 0..100 {
        if cond() {
            return true;
        }
        transport.sleep(Duration::from_millis(50)).await;
    }
    cond()
}

async fn check_error_status_is_a_response_with_its_body() {
    let handler: Handler = Arc::new(|_| Reply::Full(404, r#"{"kind":"Status","code":404}"#.to_owned()));
    let server = Server::start(None, handler);
    let transport = make(&plain(&server));
    let resp = transport.send(get("/api/v1/namespaces/x"), Io::new()).await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(&resp.body()[..], br#"{"kind":"Status","code":404}"#);
    // and a stream's error status arrives complete
    match transport
        .open(get("/api/v1/namespaces/x/pods/y/log?follow=true"), Io::new().holding(Hold::Follow))
        .await
        .unwrap()
    {
        Opened::Complete(resp) => {
            assert_eq!(resp.status(), 404);
            assert_eq!(&resp.body()[..], br#"{"kind":"Status","code":404}"#);
        }
        Opened::Stream(..) => panic!("a 404 must arrive complete"),
    }
}

async fn check_chunked_stream_in_pieces_with_read_timeouts() {
    let handler: Handler = Arc::new(|_| {
        Reply::Script(vec![
            write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"),
            write(b"6\r\n{\"a\":1\r\n"),
            Act::Sleep(Duration::from_millis(500)),
            write(b"2\r\n}\n\r\n0\r\n\r\n"),
        ])
    });
    let server = Server::start(None, handler);
    // The request timeout is far shorter than the stream: it must not apply to streams.
    let mut config = plain(&server);
    config.request_timeout = Some(Duration::from_millis(100));
    let transport = make(&config);
    let mut body = stream(&transport, "/api/v1/pods?watch=1").await;
    let (mut data, mut pieces, mut timeouts) = (Vec::new(), 0, 0);
    loop {
        match body.next_chunk(Some(Duration::from_millis(100))).await {
            Chunk::Data(bytes) => {
                pieces += 1;
                data.extend_from_slice(&bytes)
            }
            Chunk::TimedOut => timeouts += 1,
            Chunk::End => break,
            Chunk::Failed(err) => panic!("stream failed: {err}"),
        }
    }
    assert_eq!(data, b"{\"a\":1}\n");
    assert!(pieces >= 2, "the two chunks, 500 ms apart, cannot arrive as one piece");
    assert!(timeouts >= 1, "a 500 ms pause read with 100 ms timeouts must time out, saw {timeouts}");
    assert!(matches!(body.next_chunk(None).await, Chunk::End));
}

async fn check_stalled_stream_times_out_and_stays_open() {
    let handler: Handler = Arc::new(|_| {
        Reply::Script(vec![
            write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\none\r\n"),
            Act::Sleep(Duration::from_millis(400)),
            write(b"3\r\ntwo\r\n0\r\n\r\n"),
        ])
    });
    let server = Server::start(None, handler);
    let transport = make(&plain(&server));
    let mut body = stream(&transport, "/watch").await;
    assert!(matches!(body.next_chunk(Some(Duration::from_secs(5))).await, Chunk::Data(d) if &d[..] == b"one"));
    let started = Instant::now();
    assert!(matches!(body.next_chunk(Some(Duration::from_millis(100))).await, Chunk::TimedOut));
    assert!(started.elapsed() < Duration::from_millis(350), "took {:?}", started.elapsed());
    // nothing was lost by the timed-out read
    assert!(matches!(body.next_chunk(Some(Duration::from_secs(5))).await, Chunk::Data(d) if &d[..] == b"two"));
    assert!(matches!(body.next_chunk(Some(Duration::from_secs(5))).await, Chunk::End));
}

async fn check_truncated_bodies() {
    let handler: Handler = Arc::new(|req| {
        let head: &[u8] = if req.target == "/chunked" {
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\na\r\nhel"
        } else {
            b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhel"
        };
        Reply::Script(vec![write(head), Act::Sleep(Duration::from_millis(50)), Act::Close])
    });
    let server = Server::start(None, handler);
    let transport = make(&plain(&server));
    let err = transport.send(get("/length"), Io::new()).await.unwrap_err();
    assert_kind(&err, TransportErrorKind::Truncated);
    for path in ["/length", "/chunked"] {
        let mut body = stream(&transport, path).await;
        let failed = loop {
            match body.next_chunk(Some(Duration::from_secs(5))).await {
                Chunk::Data(_) => continue,
                Chunk::Failed(err) => break err,
                other => panic!("{path}: expected a failure, got {other:?}"),
            }
        };
        assert_kind(&failed, TransportErrorKind::Truncated);
        assert!(matches!(body.next_chunk(None).await, Chunk::End), "a failed body reads as ended");
    }
}

async fn check_connection_refused_is_connect() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = Config::kubernetes(&format!("http://127.0.0.1:{port}")).unwrap();
    let err = make(&config).send(get("/version"), Io::new()).await.unwrap_err();
    assert_kind(&err, TransportErrorKind::Connect);
    assert!(err.to_string().contains(&port.to_string()), "{err}");
}

async fn check_request_timeout_and_blocking_query_allowance() {
    let handler: Handler = Arc::new(|_| {
        Reply::Script(vec![
            Act::Sleep(Duration::from_millis(600)),
            write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"),
        ])
    });
    let server = Server::start(None, handler);
    let mut config = Config::nomad(&server.http_url()).unwrap();
    config.request_timeout = Some(Duration::from_millis(150));
    let transport = make(&config);
    let started = Instant::now();
    let err = transport.send(get("/v1/jobs"), Io::new()).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_millis(500), "took {:?}", started.elapsed());
    // A blocking query may take its wait on top of the request timeout...
    let held = Io::new().holding(Hold::Server(Duration::from_secs(1)));
    send_ok_with(&transport, "/v1/jobs?index=5&wait=1s", held).await;
    // ...and so may a Kubernetes list with timeoutSeconds: the step says so, not the query.
    send_ok_with(&transport, "/api/v1/pods?timeoutSeconds=1", held).await;
    assert!(matches!(transport.send(get("/v1/jobs?index=5&wait=1s"), Io::new()).await, Err(Error::Timeout { .. })));
    // A caller's deadline is shorter still.
    let limited = held.until(Instant::now() + Duration::from_millis(100));
    assert!(matches!(transport.send(get("/v1/jobs?index=5&wait=1s"), limited).await, Err(Error::Timeout { .. })));
}

async fn check_stream_head_deadline_spares_log_follows() {
    let handler: Handler = Arc::new(|_| {
        Reply::Script(vec![
            Act::Sleep(Duration::from_millis(600)),
            write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n6\r\nhello\n\r\n0\r\n\r\n"),
        ])
    });
    let server = Server::start(None, handler);
    let mut config = plain(&server);
    config.request_timeout = Some(Duration::from_millis(150));
    let transport = make(&config);
    let err =
        transport.open(get("/api/v1/namespaces/x/pods?watch=1"), Io::new()).await.expect_err("the watch head is late");
    assert!(
        matches!(&err, Error::Timeout { what } if what.contains("response head") && what.contains("150ms")),
        "{err:?}"
    );
    let mut body =
        stream_with(&transport, "/api/v1/namespaces/x/pods/y/log?follow=true", Io::new().holding(Hold::Follow)).await;
    assert!(matches!(body.next_chunk(Some(Duration::from_secs(5))).await, Chunk::Data(d) if &d[..] == b"hello\n"));
}

async fn check_response_too_large_is_capped() {
    let handler: Handler = Arc::new(|req| {
        if req.target == "/chunked" {
            // no declared length: 3 chunks of 10 bytes
            let mut script = vec![write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")];
            script.extend((0..3).map(|_| write(b"a\r\n0123456789\r\n")));
            script.push(write(b"0\r\n\r\n"));
            Reply::Script(script)
        } else {
            Reply::Full(200, "x".repeat(2000))
        }
    });
    let server = Server::start(None, handler);
    let transport = make(&plain(&server)).with_max_response_bytes(1000);
    // declared too large: refused before reading
    let err = transport.send(get("/big"), Io::new()).await.unwrap_err();
    assert!(matches!(&err, Error::Decode { .. }) && err.to_string().contains("1000 bytes"), "{err:?}");
    // found too large while reading
    let transport = transport.with_max_response_bytes(25);
    let err = transport.send(get("/chunked"), Io::new()).await.unwrap_err();
    assert!(matches!(&err, Error::Decode { .. }), "{err:?}");
    // exactly at the limit is fine
    let resp = transport.with_max_response_bytes(30).send(get("/chunked"), Io::new()).await.unwrap();
    assert_eq!(resp.body().len(), 30);
    // a stream is not limited as a whole
    let mut body = stream(&make(&plain(&server)).with_max_response_bytes(5), "/chunked").await;
    let mut total = 0;
    loop {
        match body.next_chunk(Some(Duration::from_secs(5))).await {
            Chunk::Data(d) => total += d.len(),
            Chunk::End => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(total, 30);
}

async fn check_the_connection_budget_bounds_streams() {
    let handler: Handler = Arc::new(|req| {
        if req.target.starts_with("/stream") {
            return Reply::Script(vec![
                write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n"),
                Act::Sleep(Duration::from_secs(30)),
            ]);
        }
        Reply::Full(200, "ok".to_owned())
    });
    let server = Server::start(None, handler);
    let transport = make(&plain(&server).with_max_connections(2));
    let first = stream(&transport, "/stream").await;
    let _second = stream(&transport, "/stream").await;
    assert_eq!(transport.budget().in_use(), 2);
    // with both units held by streams, a request waits (here: past its time limit)
    let waiting = Io::new().until(Instant::now() + Duration::from_millis(300));
    assert!(matches!(transport.send(get("/version"), waiting).await, Err(Error::Timeout { .. })));
    drop(first);
    assert_eq!(transport.budget().in_use(), 1);
    send_ok(&transport, "/version").await;
    assert!(transport.budget().peak() <= 2);
}

/// Poll every future to completion, together.
async fn join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut futures: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *output = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// As in `conformance.rs`: at most `max_connections` TCP connections open at once (the server
/// counts them). Without keep-alive every call opens and closes its own connection; a stream read
/// to its end closes its connection too, even while its body is kept.
async fn check_open_connections_stay_within_max_connections() {
    // `/ended`: a chunked stream that ends at once (the server then waits for another request on
    // the connection); `/slow`: the head at once, the body 30 ms later; else `ok` after 10 ms
    let handler: Handler = Arc::new(|req| {
        if req.target.starts_with("/ended") {
            return Reply::Script(vec![write(
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
            )]);
        }
        if req.target.starts_with("/slow") {
            return Reply::Script(vec![
                write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"),
                Act::Sleep(Duration::from_millis(30)),
                write(b"ok"),
            ]);
        }
        Reply::Script(vec![
            Act::Sleep(Duration::from_millis(10)),
            write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"),
        ])
    });
    let server = Server::start(None, handler);
    let transport = make(&plain(&server).with_max_connections(4));
    let burst = || {
        let sends = (0..12).map(|i| transport.send(get(if i % 2 == 0 { "/slow" } else { "/fast" }), Io::new()));
        async move {
            for resp in join_all(sends).await {
                let resp = resp.unwrap_or_else(|e| panic!("a call failed: {e}"));
                assert_eq!((resp.status().as_u16(), &resp.body()[..]), (200, &b"ok"[..]));
            }
        }
    };
    for _ in 0..3 {
        burst().await;
    }
    // two streams read to their end and kept: their connections are closed all the same
    let mut ended = Vec::new();
    for _ in 0..2 {
        let mut body = stream(&transport, "/ended").await;
        assert!(matches!(body.next_chunk(Some(Duration::from_secs(5))).await, Chunk::Data(_)));
        assert!(matches!(body.next_chunk(Some(Duration::from_secs(5))).await, Chunk::End));
        ended.push(body);
    }
    let seen = Arc::clone(&server.seen);
    assert!(
        eventually(&transport, || seen.open.load(Ordering::SeqCst) == 0).await,
        "the connections of ended streams stay open: {} open, with max_connections = 4 (a burst would make it {})",
        seen.open.load(Ordering::SeqCst),
        seen.open.load(Ordering::SeqCst) + 4,
    );
    burst().await;
    drop(ended);
    assert_eq!(server.seen.count(), 12 * 4 + 2);
    let (peak, accepted) = (server.seen.peak_open(), server.seen.connections.load(Ordering::SeqCst));
    assert!(peak <= 4, "{peak} connections open at once (of {accepted} accepted) with max_connections = 4");
}

async fn check_dropped_stream_then_a_request() {
    // A stream dropped mid-body: the next request must still get its own answer (surf's h1 pool
    // decides what happens to the connection; it must not hand the rest of the stream to it).
    let handler: Handler = Arc::new(|req| {
        if req.target == "/watch" {
            Reply::Script(vec![
                write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\none\r\n"),
                Act::Sleep(Duration::from_millis(200)),
                // then the server waits for another request on the connection: it sees the close
                write(b"3\r\ntwo\r\n"),
            ])
        } else {
            Reply::Full(200, "ok".to_owned())
        }
    });
    let server = Server::start(None, handler);
    let transport = make(&plain(&server));
    let mut body = stream(&transport, "/watch").await;
    assert!(matches!(body.next_chunk(Some(Duration::from_secs(5))).await, Chunk::Data(d) if &d[..] == b"one"));
    drop(body);
    let seen = Arc::clone(&server.seen);
    assert!(
        eventually(&transport, || seen.closed.load(Ordering::SeqCst) == 1).await,
        "the connection of a dropped stream must be closed"
    );
    send_ok(&transport, "/version").await;
    assert_eq!(server.seen.target(1).as_deref(), Some("/version"));
}

async fn check_server_closing_an_idle_connection_is_survived() {
    let handler: Handler = Arc::new(|_| {
        Reply::Script(vec![
            write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"),
            Act::Sleep(Duration::from_millis(20)),
            Act::Close,
        ])
    });
    let server = Server::start(None, handler);
    let transport = make(&plain(&server));
    send_ok(&transport, "/version").await;
    transport.sleep(Duration::from_millis(100)).await;
    send_ok(&transport, "/version").await;
    assert_eq!(server.seen.count(), 2);
}

// ---------------------------------------------------------------------------------------------
// Credentials

async fn check_static_credentials() {
    let server = Server::start(None, ok_handler());
    let bearer = plain(&server).with_auth(Auth::Bearer(Secret::new("t0ken")));
    send_ok(&make(&bearer), "/version").await;
    let basic = plain(&server).with_auth(Auth::Basic { username: "admin".into(), password: Secret::new("pa55") });
    send_ok(&make(&basic), "/version").await;
    let nomad = Config::nomad(&server.http_url()).unwrap().with_auth(Auth::NomadToken(Secret::new("acl-secret")));
    send_ok(&make(&nomad), "/v1/jobs").await;

    assert_eq!(server.seen.header(0, "authorization").as_deref(), Some("Bearer t0ken"));
    assert_eq!(server.seen.header(1, "authorization").as_deref(), Some("Basic YWRtaW46cGE1NQ=="));
    assert_eq!(server.seen.header(2, "x-nomad-token").as_deref(), Some("acl-secret"));
    assert_eq!(server.seen.header(2, "authorization"), None);
}

async fn check_token_file_is_read_and_reread() {
    let server = Server::start(None, ok_handler());
    let dir = temp_dir("surf-token");
    let path = dir.join("token");
    std::fs::write(&path, "first\n").unwrap();
    let config = plain(&server).with_auth(Auth::TokenFile { path: path.to_string_lossy().into_owned() });
    let transport = make(&config).with_token_file_refresh(Duration::from_millis(50));
    send_ok(&transport, "/version").await;
    std::fs::write(&path, "second\n").unwrap();
    transport.sleep(Duration::from_millis(80)).await;
    send_ok(&transport, "/version").await;
    assert_eq!(server.seen.header(0, "authorization").as_deref(), Some("Bearer first"));
    assert_eq!(server.seen.header(1, "authorization").as_deref(), Some("Bearer second"));
}

async fn check_credentials_over_plain_http_only_to_loopback_or_when_asked() {
    // As the main transport does: loopback is fine; off loopback (0.0.0.0 stands for any other
    // address; nothing is sent) refused unless asked for, never quoting the credential.
    let server = Server::start(None, ok_handler());
    let (made, warned) = warnings(|| SurfTransport::new(&plain(&server).with_auth(Auth::Bearer(Secret::new("t0ken")))));
    let transport = made.unwrap();
    assert!(warned.is_empty(), "{warned:?}");
    assert!(!format!("{transport:?}").contains("t0ken"), "Debug never holds the credential");
    let remote = Config::kubernetes("http://0.0.0.0:8080").unwrap().with_auth(Auth::Bearer(Secret::new("t0ken")));
    let err = SurfTransport::new(&remote).expect_err("refused");
    assert!(matches!(&err, Error::Config { key, .. } if key == "server"), "{err:?}");
    assert!(!err.to_string().contains("t0ken"));
    let (made, warned) = warnings(|| SurfTransport::new(&remote.clone().with_plain_http_credentials(true)));
    made.unwrap();
    assert!(warned.iter().any(|w| w.contains("plain http")), "{warned:?}");
}

async fn check_https_needs_tls_in_the_surf_client() {
    // TLS settings cannot be applied to a caller's surf client: refused when building.
    let tls = TlsConfig { skip_verify: true, ..TlsConfig::default() };
    let config = Config::kubernetes("https://127.0.0.1:6443").unwrap().with_tls(tls);
    let err = SurfTransport::new(&config).unwrap_err();
    assert!(matches!(&err, Error::Config { key, .. } if key == "tls"), "{err:?}");
    // this crate's surf client has no TLS backend: a Connect error saying so, nothing sent
    let server = Server::start(None, ok_handler());
    let config = Config::kubernetes(&format!("https://127.0.0.1:{}", server.addr.port()))
        .unwrap()
        .with_auth(Auth::Bearer(Secret::new("never-sent")));
    let err = make(&config).send(get("/version"), Io::new()).await.unwrap_err();
    assert_kind(&err, TransportErrorKind::Connect);
    assert!(err.to_string().contains("TLS backend") && !err.to_string().contains("never-sent"), "{err}");
    assert_eq!(server.seen.count(), 0);
}

async fn check_exec_plugin_certificate_over_https_is_refused() {
    // An exec plugin's client certificate cannot be presented through a caller's surf client:
    // refused before anything is sent (a token from the plugin is used, see below).
    let pki = clustermanager_tests::pki::Pki::new();
    let dir = temp_dir("surf-exec-cert");
    let cred = serde_json::json!({"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1",
        "status": {"clientCertificateData": String::from_utf8(pki.client.cert_pem()).unwrap(),
                   "clientKeyData": pki.client.key_pem()}});
    std::fs::write(dir.join("cred.json"), cred.to_string()).unwrap();
    let exec = ExecConfig {
        api_version: "client.authentication.k8s.io/v1".into(),
        command: "/bin/sh".into(),
        args: vec!["-c".into(), format!("cat {}", dir.join("cred.json").display())],
        env: Vec::new(),
    };
    let server = Server::start(None, ok_handler());
    let https = Config::kubernetes(&format!("https://127.0.0.1:{}", server.addr.port()))
        .unwrap()
        .with_auth(Auth::Exec(exec.clone()));
    let err = make(&https).send(get("/version"), Io::new()).await.unwrap_err();
    assert!(matches!(&err, Error::Config { key, .. } if key == "exec"), "{err:?}");
    assert!(!err.to_string().contains("PRIVATE KEY"), "{err}");
    assert_eq!(server.seen.count(), 0);
    // a plugin token over plain http is sent
    let token = serde_json::json!({"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1",
        "status": {"token": "from-plugin"}});
    std::fs::write(dir.join("cred.json"), token.to_string()).unwrap();
    send_ok(&make(&plain(&server).with_auth(Auth::Exec(exec))), "/version").await;
    assert_eq!(server.seen.header(0, "authorization").as_deref(), Some("Bearer from-plugin"));
}

// ---------------------------------------------------------------------------------------------
// End to end

async fn check_cluster_manager_get_nodes() {
    let scenario = Scenario::load("k8s/acm-04-list-nodes-empty.json");
    let recorded = scenario.exchanges[0].clone();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let handler: Handler = Arc::new(move |req| {
        counter.fetch_add(1, Ordering::SeqCst);
        if req.target.starts_with(&recorded.request.path) && req.method == recorded.request.method {
            Reply::Full(recorded.response.status, recorded.response.body.clone())
        } else {
            Reply::Full(404, r#"{"kind":"Status","status":"Failure","reason":"NotFound","code":404}"#.to_owned())
        }
    });
    let server = Server::start(None, handler);
    let config = plain(&server).with_auth(Auth::Bearer(Secret::new("e2e")));
    let cm = ClusterManager::connect(make(&config), &config, 7).await.unwrap();
    let nodes = cm.get_nodes().await.unwrap();
    assert!(nodes.is_empty(), "{nodes:?}");
    assert!(calls.load(Ordering::SeqCst) >= 1);
    let first = server.seen.requests.lock().unwrap()[0].clone();
    assert!(first.target.starts_with("/api/v1/nodes"), "{first:?}");
    assert_eq!(first.header("authorization").as_deref(), Some("Bearer e2e"));
}

// ---------------------------------------------------------------------------------------------
// Runners

macro_rules! conformance {
    ($module:ident, $block_on:path) => {
        mod $module {
            use super::*;

            conformance!(@tests $block_on,
                plain_get => check_plain_get,
                post_body_arrives => check_post_body_arrives,
                one_connection_per_request => check_one_connection_per_request,
                error_status_is_a_response_with_its_body => check_error_status_is_a_response_with_its_body,
                chunked_stream_in_pieces_with_read_timeouts => check_chunked_stream_in_pieces_with_read_timeouts,
                stalled_stream_times_out_and_stays_open => check_stalled_stream_times_out_and_stays_open,
                truncated_bodies => check_truncated_bodies,
                connection_refused_is_connect => check_connection_refused_is_connect,
                request_timeout_and_blocking_query_allowance => check_request_timeout_and_blocking_query_allowance,
                stream_head_deadline_spares_log_follows => check_stream_head_deadline_spares_log_follows,
                response_too_large_is_capped => check_response_too_large_is_capped,
                the_connection_budget_bounds_streams => check_the_connection_budget_bounds_streams,
                open_connections_stay_within_max_connections => check_open_connections_stay_within_max_connections,
                dropped_stream_then_a_request => check_dropped_stream_then_a_request,
                server_closing_an_idle_connection_is_survived => check_server_closing_an_idle_connection_is_survived,
                static_credentials => check_static_credentials,
                token_file_is_read_and_reread => check_token_file_is_read_and_reread,
                credentials_over_plain_http_only_to_loopback_or_when_asked => check_credentials_over_plain_http_only_to_loopback_or_when_asked,
                https_needs_tls_in_the_surf_client => check_https_needs_tls_in_the_surf_client,
                exec_plugin_certificate_over_https_is_refused => check_exec_plugin_certificate_over_https_is_refused,
                cluster_manager_get_nodes => check_cluster_manager_get_nodes,
            );
        }
    };
    (@tests $block_on:path, $($name:ident => $check:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $block_on($check())
            }
        )*
    };
}

conformance!(surf_in_async_std, async_std::task::block_on);
conformance!(surf_in_smol, smol::block_on);
