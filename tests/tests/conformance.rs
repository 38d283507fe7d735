//! Transport conformance: the same checks, over real loopback sockets, for every transport.
//!
//! Each `check_*` is generic over [`Transport`] (through [`Make`], which builds one from a
//! [`Config`]) and runs once per transport and executor: `clustermanager-tokio` in a tokio
//! runtime, `clustermanager-async-std` inside `async_std::task::block_on` and again inside
//! `smol::block_on`. The server is plain std threads (and rustls), so it favours no runtime.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::result_large_err, missing_docs)]

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clustermanager_async_std::AsyncStdTransport;
use clustermanager_core::config::exec::ExecConfig;
use clustermanager_core::config::{Auth, Identity, TlsConfig};
use clustermanager_core::deadline::{later, Hold, Io};
use clustermanager_core::error::TransportErrorKind;
use clustermanager_core::transport::{Chunk, Opened};
use clustermanager_core::ClusterManager;
use clustermanager_core::{step, BodyStream, Config, Error, Request, Secret, Transport};
use clustermanager_tests::capture::warnings;
use clustermanager_tests::pki::{ca, server_tls, Pki};
use clustermanager_tests::server::{ok_handler, temp_dir, write, Act, Handler, Reply, Server};
use clustermanager_tests::Scenario;
use clustermanager_tokio::TokioTransport;

/// Builds a transport of one kind.
trait Make: Transport + Sized + 'static {
    /// Distinguishes the transports' temporary files.
    const NAME: &'static str;
    fn make(config: &Config) -> clustermanager_core::Result<Self>;
    fn with_refresh(self, refresh: Duration) -> Self;
}

impl Make for TokioTransport {
    const NAME: &'static str = "tokio";
    fn make(config: &Config) -> clustermanager_core::Result<Self> {
        TokioTransport::new(config)
    }
    fn with_refresh(self, refresh: Duration) -> Self {
        self.with_token_file_refresh(refresh)
    }
}

impl Make for AsyncStdTransport {
    const NAME: &'static str = "async-std";
    fn make(config: &Config) -> clustermanager_core::Result<Self> {
        AsyncStdTransport::new(config)
    }
    fn with_refresh(self, refresh: Duration) -> Self {
        self.with_token_file_refresh(refresh)
    }
}

fn get(path: &str) -> Request {
    step::request(http::Method::GET, path, None).unwrap()
}

fn plain(server: &Server) -> Config {
    Config::kubernetes(&server.http_url()).unwrap()
}

fn tls_with_ca(pki: &Pki) -> TlsConfig {
    TlsConfig { ca_pem: vec![pki.ca.cert_pem()], ..TlsConfig::default() }
}

async fn send_ok<T: Transport>(transport: &T, path: &str) {
    send_ok_with(transport, path, Io::new()).await
}

/// [`send_ok`] with what the step would say: a deadline, a server hold.
async fn send_ok_with<T: Transport>(transport: &T, path: &str, io: Io) {
    let resp = transport.send(get(path), io).await.unwrap_or_else(|e| panic!("request failed: {e}"));
    assert_eq!(resp.status(), 200);
    assert_eq!(&resp.body()[..], b"ok");
}

fn assert_kind(err: &Error, want: TransportErrorKind) {
    assert!(matches!(err, Error::Transport { kind, .. } if *kind == want), "expected {want:?}, got {err:?}");
}

fn tls_message(err: &Error) -> &str {
    match err {
        Error::Transport { kind: TransportErrorKind::Tls, message } => message,
        other => panic!("expected a TLS error, got {other:?}"),
    }
}

/// Poll `cond` for up to 5 s (the server runs on its own threads).
async fn eventually<T: Transport>(transport: &T, cond: impl Fn() -> bool) -> bool {
    for _ in 0..100 {
        if cond() {
            return true;
        }
        transport.sleep(Duration::from_millis(50)).await;
    }
    cond()
}

// ---------------------------------------------------------------------------------------------
// HTTP

async fn check_plain_get<T: Make>() {
    let server = Server::start(None, Arc::new(|_| Reply::Full(200, r#"{"kind":"Status"}"#.to_owned())));
    let transport = T::make(&plain(&server)).unwrap();
    let resp = transport.send(get("/api/v1/nodes?limit=10"), Io::new()).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(&resp.body()[..], br#"{"kind":"Status"}"#);
    let seen = server.seen.requests.lock().unwrap()[0].clone();
    assert_eq!((seen.method.as_str(), seen.target.as_str()), ("GET", "/api/v1/nodes?limit=10"));
    assert_eq!(seen.header("host"), Some(format!("127.0.0.1:{}", server.addr.port())));
    assert!(seen.header("user-agent").unwrap().starts_with("clustermanager/"));
}

async fn check_post_body_arrives<T: Make>() {
    let server = Server::start(None, Arc::new(|_| Reply::Full(201, "{}".to_owned())));
    let transport = T::make(&plain(&server)).unwrap();
    let body = br#"{"kind":"Job","metadata":{"name":"x"}}"#.to_vec();
    let request =
        step::request(http::Method::POST, "/apis/batch/v1/namespaces/default/jobs", Some(body.clone())).unwrap();
    let resp = transport.send(request, Io::new()).await.unwrap();
    assert_eq!(resp.status(), 201);
    let seen = server.seen.requests.lock().unwrap()[0].clone();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.header("content-length"), Some(body.len().to_string()));
    assert_eq!(seen.body, body);
}

async fn check_keep_alive_reuses_the_connection<T: Make>() {
    let server = Server::start(None, ok_handler());
    let transport = T::make(&plain(&server)).unwrap();
    for _ in 0..3 {
        send_ok(&transport, "/version").await;
    }
    assert_eq!(server.seen.count(), 3);
    assert_eq!(server.seen.connections.load(Ordering::SeqCst), 1, "keep-alive connection not reused");
}

async fn check_concurrent_requests_share_the_transport<T: Make>() {
    let handler: Handler = Arc::new(|req| {
        Reply::Script(vec![
            Act::Sleep(Duration::from_millis(100)),
            Act::Write(
                format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{}", req.target.len(), req.target).into_bytes(),
            ),
        ])
    });
    let server = Server::start(None, handler);
    let transport = T::make(&plain(&server)).unwrap();
    let one = |path: &'static str| {
        let transport = &transport;
        async move {
            let resp = transport.send(get(path), Io::new()).await.unwrap();
            assert_eq!(&resp.body()[..], path.as_bytes(), "each answer reaches its own request");
        }
    };
    let started = Instant::now();
    futures_lite::future::zip(
        futures_lite::future::zip(one("/a"), one("/b")),
        futures_lite::future::zip(one("/c"), one("/d")),
    )
    .await;
    // In parallel on separate connections, not one after another.
    assert!(started.elapsed() < Duration::from_millis(390), "took {:?}", started.elapsed());
    assert_eq!(server.seen.connections.load(Ordering::SeqCst), 4);
    // Afterwards the idle connections are reused.
    for path in ["/e", "/f", "/g", "/h"] {
        one(path).await;
    }
    assert_eq!(server.seen.connections.load(Ordering::SeqCst), 4);
}

async fn check_server_closing_an_idle_connection_is_survived<T: Make>() {
    // Every answer is followed by a close: the pooled connection is dead when reused.
    let handler: Handler = Arc::new(|_| {
        Reply::Script(vec![
            write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"),
            Act::Sleep(Duration::from_millis(20)),
            Act::Close,
        ])
    });
    let server = Server::start(None, handler);
    let transport = T::make(&plain(&server)).unwrap();
    send_ok(&transport, "/version").await;
    transport.sleep(Duration::from_millis(100)).await;
    send_ok(&transport, "/version").await;
    assert_eq!(server.seen.count(), 2);
    assert_eq!(server.seen.connections.load(Ordering::SeqCst), 2);
}

async fn check_chunked_stream_with_read_timeouts<T: Make>() {
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
    let transport = T::make(&config).unwrap();
    let Opened::Stream(parts, mut body) = transport.open(get("/api/v1/pods?watch=1"), Io::new()).await.unwrap() else {
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

async fn check_truncated_bodies<T: Make>() {
    let handler: Handler = Arc::new(|req| {
        let head: &[u8] = if req.target == "/chunked" {
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\na\r\nhel"
        } else {
            b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhel"
        };
        Reply::Script(vec![write(head), Act::Sleep(Duration::from_millis(50)), Act::Close])
    });
    let server = Server::start(None, handler);
    let transport = T::make(&plain(&server)).unwrap();
    // A whole-body read of a short Content-Length body.
    let err = transport.send(get("/length"), Io::new()).await.unwrap_err();
    assert_kind(&err, TransportErrorKind::Truncated);
    // A stream cut mid-body, Content-Length and chunked.
    for path in ["/length", "/chunked"] {
        let Opened::Stream(_, mut body) = transport.open(get(path), Io::new()).await.unwrap() else {
            panic!("expected a stream")
        };
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

async fn check_connection_refused_is_connect<T: Make>() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = Config::kubernetes(&format!("http://127.0.0.1:{port}")).unwrap();
    let err = T::make(&config).unwrap().send(get("/version"), Io::new()).await.unwrap_err();
    assert_kind(&err, TransportErrorKind::Connect);
    assert!(err.to_string().contains(&port.to_string()), "{err}");
}

async fn check_connect_timeout_is_connect<T: Make>() {
    // A listener that accepts TCP but never answers the TLS handshake: connecting (TCP and TLS)
    // cannot finish within the connect timeout.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = std::thread::spawn(move || listener.accept().map(|(tcp, _)| tcp));
    let mut config = Config::kubernetes(&format!("https://localhost:{port}")).unwrap();
    config.connect_timeout = Duration::from_millis(300);
    let started = Instant::now();
    let err = T::make(&config).unwrap().send(get("/version"), Io::new()).await.unwrap_err();
    assert_kind(&err, TransportErrorKind::Connect);
    assert!(err.to_string().contains("connect_timeout"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    drop(silent.join().unwrap());
}

async fn check_request_timeout_and_blocking_query_allowance<T: Make>() {
    let handler: Handler = Arc::new(|_| {
        Reply::Script(vec![
            Act::Sleep(Duration::from_millis(600)),
            write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"),
        ])
    });
    let server = Server::start(None, handler);
    let mut config = Config::nomad(&server.http_url()).unwrap();
    config.request_timeout = Some(Duration::from_millis(150));
    let transport = T::make(&config).unwrap();
    let err = transport.send(get("/v1/jobs"), Io::new()).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    // A blocking query may take its wait on top of the request timeout...
    let held = Io::new().holding(Hold::Server(Duration::from_secs(1)));
    send_ok_with(&transport, "/v1/jobs?index=5&wait=1s", held).await;
    // ...and so may a Kubernetes list with timeoutSeconds: the step says so, not the query.
    send_ok_with(&transport, "/api/v1/pods?timeoutSeconds=1", held).await;
    let err = transport.send(get("/v1/jobs?index=5&wait=1s"), Io::new()).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "the transport never reads wait= from the URI: {err:?}");
    // A caller's deadline is shorter still.
    let limited = held.until(Instant::now() + Duration::from_millis(100));
    let err = transport.send(get("/v1/jobs?index=5&wait=1s"), limited).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
}

async fn check_stream_head_deadline_spares_log_follows<T: Make>() {
    // The head comes 600 ms late: too late for a watch under a 150 ms request timeout, but a
    // followed log's head may only come with the first line the program prints.
    let handler: Handler = Arc::new(|_| {
        Reply::Script(vec![
            Act::Sleep(Duration::from_millis(600)),
            write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n6\r\nhello\n\r\n0\r\n\r\n"),
        ])
    });
    let server = Server::start(None, handler);
    let mut config = plain(&server);
    config.request_timeout = Some(Duration::from_millis(150));
    let transport = T::make(&config).unwrap();
    let err = transport
        .open(get("/api/v1/namespaces/x/pods?watch=1"), Io::new())
        .await
        .err()
        .expect("the watch head is late");
    assert!(
        matches!(&err, Error::Timeout { what } if what.contains("response head") && what.contains("150ms")),
        "{err:?}"
    );
    match transport
        .open(get("/api/v1/namespaces/x/pods/y/log?follow=true"), Io::new().holding(Hold::Follow))
        .await
        .unwrap()
    {
        Opened::Stream(parts, mut body) => {
            assert_eq!(parts.status, 200);
            assert!(
                matches!(body.next_chunk(Some(Duration::from_secs(5))).await, Chunk::Data(d) if &d[..] == b"hello\n")
            );
        }
        Opened::Complete(resp) => panic!("expected a stream, got {}", resp.status()),
    }
}

async fn check_error_status_of_a_stream_is_complete<T: Make>() {
    let handler: Handler = Arc::new(|_| Reply::Full(404, r#"{"kind":"Status","code":404}"#.to_owned()));
    let server = Server::start(None, handler);
    let transport = T::make(&plain(&server)).unwrap();
    match transport.open(get("/api/v1/namespaces/x/pods/y/log?follow=true"), Io::new()).await.unwrap() {
        Opened::Complete(resp) => {
            assert_eq!(resp.status(), 404);
            assert_eq!(&resp.body()[..], br#"{"kind":"Status","code":404}"#);
        }
        Opened::Stream(..) => panic!("a 404 must arrive complete"),
    }
}

async fn check_dropped_stream_closes_its_connection<T: Make>() {
    let handler: Handler =
        Arc::new(|_| Reply::Script(vec![write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\none\r\n")]));
    let server = Server::start(None, handler);
    let transport = T::make(&plain(&server)).unwrap();
    let Opened::Stream(_, mut body) = transport.open(get("/watch"), Io::new()).await.unwrap() else {
        panic!("expected a stream")
    };
    assert!(matches!(body.next_chunk(Some(Duration::from_secs(5))).await, Chunk::Data(d) if &d[..] == b"one"));
    assert_eq!(server.seen.closed.load(Ordering::SeqCst), 0);
    drop(body);
    let seen = Arc::clone(&server.seen);
    assert!(
        eventually(&transport, || seen.closed.load(Ordering::SeqCst) == 1).await,
        "the connection of a dropped stream must be closed"
    );
}

async fn check_dropped_request_closes_its_connection<T: Make>() {
    let handler: Handler = Arc::new(|_| {
        Reply::Script(vec![
            Act::Sleep(Duration::from_millis(300)),
            write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"),
        ])
    });
    let server = Server::start(None, handler);
    let transport = T::make(&plain(&server)).unwrap();
    // Give up on the request while the server is still thinking.
    let gave_up = futures_lite::future::or(async { transport.send(get("/slow"), Io::new()).await.is_ok() }, async {
        transport.sleep(Duration::from_millis(50)).await;
        false
    })
    .await;
    assert!(!gave_up);
    let seen = Arc::clone(&server.seen);
    assert!(
        eventually(&transport, || seen.closed.load(Ordering::SeqCst) == 1).await,
        "the connection of a dropped request must be closed, not kept"
    );
    // The next request opens a new connection and succeeds.
    send_ok(&transport, "/again").await;
    assert_eq!(server.seen.connections.load(Ordering::SeqCst), 2);
}

// ---------------------------------------------------------------------------------------------
// Credentials

async fn check_static_credentials<T: Make>() {
    let server = Server::start(None, ok_handler());
    let bearer = plain(&server).with_auth(Auth::Bearer(Secret::new("t0ken")));
    send_ok(&T::make(&bearer).unwrap(), "/version").await;
    let basic = plain(&server).with_auth(Auth::Basic { username: "admin".into(), password: Secret::new("pa55") });
    send_ok(&T::make(&basic).unwrap(), "/version").await;
    let nomad = Config::nomad(&server.http_url()).unwrap().with_auth(Auth::NomadToken(Secret::new("acl-secret")));
    send_ok(&T::make(&nomad).unwrap(), "/v1/jobs").await;

    assert_eq!(server.seen.header(0, "authorization").as_deref(), Some("Bearer t0ken"));
    // base64("admin:pa55")
    assert_eq!(server.seen.header(1, "authorization").as_deref(), Some("Basic YWRtaW46cGE1NQ=="));
    assert_eq!(server.seen.header(2, "x-nomad-token").as_deref(), Some("acl-secret"));
    assert_eq!(server.seen.header(2, "authorization"), None);
}

async fn check_token_file_cached_then_reread<T: Make>() {
    let server = Server::start(None, ok_handler());
    let dir = temp_dir(&format!("{}-token", T::NAME));
    let path = dir.join("token");
    std::fs::write(&path, "first\n").unwrap();
    let config = plain(&server).with_auth(Auth::TokenFile { path: path.to_string_lossy().into_owned() });

    // The default refresh (60 s) keeps the cached token across a rewrite.
    let cached = T::make(&config).unwrap();
    send_ok(&cached, "/version").await;
    std::fs::write(&path, "second\n").unwrap();
    send_ok(&cached, "/version").await;
    // A short refresh picks up the rotated token.
    let rotating = T::make(&config).unwrap().with_refresh(Duration::from_millis(50));
    send_ok(&rotating, "/version").await;
    std::fs::write(&path, "third\n").unwrap();
    rotating.sleep(Duration::from_millis(80)).await;
    send_ok(&rotating, "/version").await;
    let auth = |i| server.seen.header(i, "authorization");
    assert_eq!(
        [auth(0), auth(1), auth(2), auth(3)].map(Option::unwrap),
        ["Bearer first", "Bearer first", "Bearer second", "Bearer third"]
    );
    // A file caught mid-rotation (missing) keeps the token read before, like client-go...
    std::fs::remove_file(&path).unwrap();
    rotating.sleep(Duration::from_millis(80)).await;
    send_ok(&rotating, "/version").await;
    // ...and so does an empty one...
    std::fs::write(&path, "").unwrap();
    send_ok(&rotating, "/version").await;
    assert_eq!(server.seen.header(4, "authorization").as_deref(), Some("Bearer third"));
    assert_eq!(server.seen.header(5, "authorization").as_deref(), Some("Bearer third"));
    // ...while the next good read is used at once...
    std::fs::write(&path, "fourth\n").unwrap();
    send_ok(&rotating, "/version").await;
    assert_eq!(server.seen.header(6, "authorization").as_deref(), Some("Bearer fourth"));
    // ...but a file that was never readable is a Config error naming the token file.
    std::fs::remove_file(&path).unwrap();
    let fresh = T::make(&config).unwrap();
    let err = fresh.send(get("/version"), Io::new()).await.unwrap_err();
    assert!(
        matches!(&err, Error::Config { key, problem } if key == "tokenFile" && problem.contains("token")),
        "{err:?}"
    );
}

/// A credential plugin (run through /bin/sh) that counts its runs and prints `credential`.
fn exec_plugin(dir: &std::path::Path, credential: &serde_json::Value) -> ExecConfig {
    std::fs::write(dir.join("credential.json"), credential.to_string()).unwrap();
    let script = dir.join("plugin.sh");
    std::fs::write(
        &script,
        r#"set -e
case "$KUBERNETES_EXEC_INFO" in *'"kind":"ExecCredential"'*) ;; *) echo "no exec info" >&2; exit 3;; esac
echo run >> "$PLUGIN_DIR/runs"
cat "$PLUGIN_DIR/credential.json"
"#,
    )
    .unwrap();
    ExecConfig {
        api_version: "client.authentication.k8s.io/v1".into(),
        command: "/bin/sh".into(),
        args: vec![script.to_string_lossy().into_owned()],
        env: vec![("PLUGIN_DIR".into(), Secret::new(dir.to_string_lossy().into_owned()))],
    }
}

async fn check_exec_plugin_token_is_cached_and_failures_explained<T: Make>() {
    let server = Server::start(None, ok_handler());
    let dir = temp_dir(&format!("{}-exec", T::NAME));
    let cred = serde_json::json!({"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1",
        "status": {"token": "from-plugin", "expirationTimestamp": "2100-01-01T00:00:00Z"}});
    let exec = exec_plugin(&dir, &cred);
    let transport = T::make(&plain(&server).with_auth(Auth::Exec(exec.clone()))).unwrap();
    send_ok(&transport, "/version").await;
    send_ok(&transport, "/version").await;
    assert_eq!(server.seen.header(1, "authorization").as_deref(), Some("Bearer from-plugin"));
    let runs = std::fs::read_to_string(dir.join("runs")).unwrap();
    assert_eq!(runs.lines().count(), 1, "a fresh credential is cached");

    // An already expired credential is fetched again for every request.
    let expired_dir = temp_dir(&format!("{}-exec-expired", T::NAME));
    let expired = serde_json::json!({"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1",
        "status": {"token": "from-plugin", "expirationTimestamp": "2000-01-01T00:00:00Z"}});
    let transport = T::make(&plain(&server).with_auth(Auth::Exec(exec_plugin(&expired_dir, &expired)))).unwrap();
    send_ok(&transport, "/version").await;
    send_ok(&transport, "/version").await;
    let runs = std::fs::read_to_string(expired_dir.join("runs")).unwrap();
    assert_eq!(runs.lines().count(), 2, "an expired credential is not reused");

    let failing =
        ExecConfig { args: vec!["-c".into(), "echo 'login required' >&2; exit 1".into()], env: Vec::new(), ..exec };
    let transport = T::make(&plain(&server).with_auth(Auth::Exec(failing))).unwrap();
    let err = transport.send(get("/version"), Io::new()).await.unwrap_err();
    assert!(matches!(&err, Error::Config { problem, .. } if problem.contains("login required")), "{err:?}");
}

/// All of `futures`, polled together; their outputs in order.
async fn join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
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

async fn check_the_connection_budget_queues_requests_and_streams<T: Make>() {
    // every answer takes 50 ms; a stream (`/stream`) sends its head, then stays open until the
    // client drops it
    let handler: Handler = Arc::new(|req| {
        if req.target.starts_with("/stream") {
            return Reply::Script(vec![
                write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n"),
                Act::Sleep(Duration::from_secs(30)),
            ]);
        }
        Reply::Script(vec![
            Act::Sleep(Duration::from_millis(50)),
            Act::Write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_vec()),
        ])
    });
    let server = Server::start(None, handler);
    let transport = T::make(&plain(&server).with_max_connections(4)).unwrap();
    // 40 at once: they queue for the 4 connections instead of opening 40
    let sends = (0..40).map(|_| transport.send(get("/version"), Io::new()));
    for resp in join_all(sends).await {
        assert_eq!(resp.unwrap().status(), 200);
    }
    assert!(server.seen.connections.load(Ordering::SeqCst) <= 4, "{:?}", server.seen.connections);
    // an open stream holds its unit until it is dropped: with 3 streams open, one request at a
    // time still gets through; with 4, a request waits (here: past its time limit)
    let mut streams = Vec::new();
    for _ in 0..3 {
        match transport.open(get("/stream"), Io::new()).await.unwrap() {
            Opened::Stream(_, body) => streams.push(body),
            Opened::Complete(r) => panic!("not a stream: {}", r.status()),
        }
    }
    assert_eq!(transport.send(get("/version"), Io::new()).await.unwrap().status(), 200);
    match transport.open(get("/stream"), Io::new()).await.unwrap() {
        Opened::Stream(_, body) => streams.push(body),
        Opened::Complete(r) => panic!("not a stream: {}", r.status()),
    }
    let waiting = Io::new().until(Instant::now() + Duration::from_millis(300));
    let err = transport.send(get("/version"), waiting).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    streams.pop();
    assert_eq!(transport.send(get("/version"), Io::new()).await.unwrap().status(), 200);
}

/// `max_connections` bounds the TCP connections the transport holds open at once, pooled idle
/// ones included (the server counts them), not only the requests in flight.
async fn check_open_connections_stay_within_max_connections<T: Make>() {
    // `/slow`: the head at once, the body 30 ms later (the connection stays busy until the body
    // is read); `/stream`: a chunked stream with a heartbeat every 50 ms (so the server notices
    // soon when the client closes it); anything else: `ok` after 10 ms
    let handler: Handler = Arc::new(|req| {
        if req.target.starts_with("/stream") {
            let mut script = vec![write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n")];
            for _ in 0..600 {
                script.extend([Act::Sleep(Duration::from_millis(50)), write(b"1\r\n\n\r\n")]);
            }
            return Reply::Script(script);
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
    let transport = T::make(&plain(&server).with_max_connections(4)).unwrap();
    let burst = || {
        let sends = (0..12).map(|i| transport.send(get(if i % 2 == 0 { "/slow" } else { "/fast" }), Io::new()));
        async move {
            for resp in join_all(sends).await {
                let resp = resp.unwrap_or_else(|e| panic!("a call failed: {e}"));
                assert_eq!((resp.status().as_u16(), &resp.body()[..]), (200, &b"ok"[..]));
            }
        }
    };
    // 12 calls at once, six times: the idle connections of one burst serve the next
    for _ in 0..6 {
        burst().await;
    }
    // two streams hold two connections; 12 more calls share the other two
    let mut streams = Vec::new();
    for _ in 0..2 {
        match transport.open(get("/stream"), Io::new()).await.unwrap() {
            Opened::Stream(_, body) => streams.push(body),
            Opened::Complete(r) => panic!("not a stream: {}", r.status()),
        }
    }
    burst().await;
    let seen = Arc::clone(&server.seen);
    let before = seen.open.load(Ordering::SeqCst);
    drop(streams);
    // the server notices the closed streams at their next heartbeat
    assert!(eventually(&transport, || seen.open.load(Ordering::SeqCst) + 2 <= before).await, "streams not closed");
    burst().await;
    assert_eq!(server.seen.count(), 12 * 8 + 2);
    let (peak, accepted) = (server.seen.peak_open(), server.seen.connections.load(Ordering::SeqCst));
    assert!(peak <= 4, "{peak} connections open at once (of {accepted} accepted) with max_connections = 4");
}

async fn check_credentials_over_plain_http_only_to_loopback_or_when_asked<T: Make>() {
    let server = Server::start(None, ok_handler());
    // loopback: the credential stays on this machine
    let (made, warned) = warnings(|| T::make(&plain(&server).with_auth(Auth::Bearer(Secret::new("t0ken")))));
    made.unwrap();
    assert!(warned.is_empty(), "{warned:?}");
    // off loopback (0.0.0.0 stands for any other address; nothing is sent): refused, unless asked
    let remote = Config::kubernetes("http://0.0.0.0:8080").unwrap().with_auth(Auth::Bearer(Secret::new("t0ken")));
    let err = T::make(&remote).err().expect("refused");
    assert!(
        matches!(&err, Error::Config { key, problem } if key == "server" && problem.contains("with_plain_http_credentials")),
        "{err:?}"
    );
    assert!(!err.to_string().contains("t0ken"), "the error never holds the credential");
    let (made, warned) = warnings(|| T::make(&remote.clone().with_plain_http_credentials(true)));
    made.unwrap();
    assert!(warned.iter().any(|w| w.contains("plain http")), "asked for, and still warned: {warned:?}");
    assert!(!warned.iter().any(|w| w.contains("t0ken")), "the warning never holds the credential");
    // no credentials: nothing to refuse
    T::make(&Config::kubernetes("http://0.0.0.0:8080").unwrap()).unwrap();
}

async fn check_an_unlimited_request_timeout_means_no_limit<T: Make>() {
    let server = Server::start(None, ok_handler());
    let config = plain(&server).with_request_timeout(Some(Duration::MAX));
    let transport = T::make(&config).unwrap();
    send_ok(&transport, "/version").await;
    // with a blocking query's wait on top, and a stream
    send_ok_with(&transport, "/v1/jobs?index=5&wait=5m", Io::new().holding(Hold::Server(Duration::from_secs(300))))
        .await;
    assert!(transport.open(get("/version"), Io::new()).await.is_ok());
    // and a deadline as far as the clock goes on the request itself
    let unlimited = Io::new().until(later(Instant::now(), Duration::MAX));
    assert_eq!(transport.send(get("/version"), unlimited).await.unwrap().status(), 200);
}

async fn check_exec_plugin_output_is_capped<T: Make>() {
    let server = Server::start(None, ok_handler());
    let dir = temp_dir(&format!("{}-exec-chatty", T::NAME));
    let cred = serde_json::json!({"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1",
        "status": {"token": "from-plugin"}});
    let exec = exec_plugin(&dir, &cred);
    // prints for ever on stdout: stopped at the cap, refused, no credential sent
    let endless = ExecConfig { args: vec!["-c".into(), "yes s3cr3t".into()], env: Vec::new(), ..exec.clone() };
    let transport = T::make(&plain(&server).with_auth(Auth::Exec(endless))).unwrap();
    let err = transport.send(get("/version"), Io::new()).await.unwrap_err();
    assert!(matches!(&err, Error::Config { problem, .. } if problem.contains("more than")), "{err:?}");
    assert!(!err.to_string().contains("s3cr3t"));
    // 10 MB of stderr chatter before its credential: read and dropped, the credential is used
    let chatty = ExecConfig {
        args: vec!["-c".into(), format!("head -c 10000000 /dev/zero >&2; cat {}", dir.join("cred.json").display())],
        env: Vec::new(),
        ..exec
    };
    std::fs::write(dir.join("cred.json"), cred.to_string()).unwrap();
    let transport = T::make(&plain(&server).with_auth(Auth::Exec(chatty))).unwrap();
    send_ok(&transport, "/version").await;
    assert_eq!(server.seen.header(0, "authorization").as_deref(), Some("Bearer from-plugin"));
}

async fn check_exec_plugin_runs_again_after_a_401<T: Make>() {
    // The first request is refused, later ones accepted.
    let calls = Arc::new(AtomicUsize::new(0));
    let handler: Handler = Arc::new(move |_| {
        if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            Reply::Full(401, r#"{"kind":"Status","code":401,"reason":"Unauthorized"}"#.to_owned())
        } else {
            Reply::Full(200, "ok".to_owned())
        }
    });
    let server = Server::start(None, handler);
    let dir = temp_dir(&format!("{}-exec-401", T::NAME));
    // No expiry: without the 401 the credential would be cached forever.
    let cred = serde_json::json!({"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1",
        "status": {"token": "from-plugin"}});
    let transport = T::make(&plain(&server).with_auth(Auth::Exec(exec_plugin(&dir, &cred)))).unwrap();
    assert_eq!(transport.send(get("/version"), Io::new()).await.unwrap().status(), 401);
    send_ok(&transport, "/version").await;
    send_ok(&transport, "/version").await;
    let runs = std::fs::read_to_string(dir.join("runs")).unwrap();
    assert_eq!(runs.lines().count(), 2, "a refused credential is fetched again, once");
}

async fn check_exec_plugin_client_certificate_is_presented<T: Make>() {
    let pki = Pki::new();
    let server = Server::start(Some(server_tls(&pki.server, Some(&pki.ca))), ok_handler());
    let dir = temp_dir(&format!("{}-exec-cert", T::NAME));
    let cred = serde_json::json!({"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1",
        "status": {"clientCertificateData": String::from_utf8(pki.client.cert_pem()).unwrap(),
                   "clientKeyData": pki.client.key_pem()}});
    let config = Config::kubernetes(&server.https_url())
        .unwrap()
        .with_tls(tls_with_ca(&pki))
        .with_auth(Auth::Exec(exec_plugin(&dir, &cred)));
    send_ok(&T::make(&config).unwrap(), "/version").await;
    assert_eq!(server.seen.client_certs.load(Ordering::SeqCst), 1);
    assert_eq!(server.seen.header(0, "authorization"), None);
    let runs = std::fs::read_to_string(dir.join("runs")).unwrap();
    assert_eq!(runs.lines().count(), 1, "one handshake, one plugin run");
}

// ---------------------------------------------------------------------------------------------
// TLS

async fn check_tls_with_the_configured_ca<T: Make>() {
    let pki = Pki::new();
    let server = Server::start(Some(server_tls(&pki.server, None)), ok_handler());
    let config = Config::kubernetes(&server.https_url())
        .unwrap()
        .with_tls(tls_with_ca(&pki))
        .with_auth(Auth::Bearer(Secret::new("over-tls")));
    send_ok(&T::make(&config).unwrap(), "/api/v1/nodes?limit=1").await;
    assert_eq!(server.seen.header(0, "authorization").as_deref(), Some("Bearer over-tls"));
    assert_eq!(server.seen.target(0).as_deref(), Some("/api/v1/nodes?limit=1"));
}

async fn check_wrong_ca_is_a_tls_error<T: Make>() {
    let pki = Pki::new();
    let server = Server::start(Some(server_tls(&pki.server, None)), ok_handler());
    let wrong = ca("someone else's CA");
    let config = Config::kubernetes(&server.https_url())
        .unwrap()
        .with_tls(TlsConfig { ca_pem: vec![wrong.cert_pem()], ..TlsConfig::default() });
    let err = T::make(&config).unwrap().send(get("/version"), Io::new()).await.unwrap_err();
    let message = tls_message(&err);
    assert!(message.contains("unknown CA") && message.contains("certificate-authority"), "{message}");
    assert_eq!(server.seen.count(), 0);
}

async fn check_mutual_tls_is_required_and_accepted<T: Make>() {
    let pki = Pki::new();
    let server = Server::start(Some(server_tls(&pki.server, Some(&pki.ca))), ok_handler());
    let without = Config::kubernetes(&server.https_url()).unwrap().with_tls(tls_with_ca(&pki));
    let err = T::make(&without).unwrap().send(get("/version"), Io::new()).await.unwrap_err();
    assert!(tls_message(&err).contains("client certificate"), "{err}");
    assert_eq!(server.seen.count(), 0);
    // the server thread records the failed handshake just after the client has seen it fail
    let recorded = Instant::now();
    while server.seen.handshake_failures.load(Ordering::SeqCst) == 0 && recorded.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(server.seen.handshake_failures.load(Ordering::SeqCst) >= 1);

    let identity = Identity { cert_pem: pki.client.cert_pem(), key_pem: Secret::new(pki.client.key_pem()) };
    let with = without.with_tls(TlsConfig { client_identity: Some(identity), ..tls_with_ca(&pki) });
    send_ok(&T::make(&with).unwrap(), "/version").await;
    assert_eq!(server.seen.client_certs.load(Ordering::SeqCst), 1);
}

async fn check_skip_verify_accepts_a_self_signed_server<T: Make>() {
    let cert = Pki::self_signed();
    let server = Server::start(Some(server_tls(&cert, None)), ok_handler());
    let verified = Config::kubernetes(&server.https_url()).unwrap();
    let err = T::make(&verified).unwrap().send(get("/version"), Io::new()).await.unwrap_err();
    assert_kind(&err, TransportErrorKind::Tls);
    let skip = verified.with_tls(TlsConfig { skip_verify: true, ..TlsConfig::default() });
    send_ok(&T::make(&skip).unwrap(), "/version").await;
}

async fn check_server_name_override<T: Make>() {
    let pki = Pki::new();
    let server = Server::start(Some(server_tls(&pki.server, None)), ok_handler());
    let url = format!("https://127.0.0.1:{}", server.addr.port());
    let bad = TlsConfig { server_name: Some("example.com".into()), ..tls_with_ca(&pki) };
    let err = T::make(&Config::kubernetes(&url).unwrap().with_tls(bad))
        .unwrap()
        .send(get("/version"), Io::new())
        .await
        .unwrap_err();
    assert!(tls_message(&err).contains("not valid for that name"), "{err}");
    let good = TlsConfig { server_name: Some("localhost".into()), ..tls_with_ca(&pki) };
    send_ok(&T::make(&Config::kubernetes(&url).unwrap().with_tls(good)).unwrap(), "/version").await;
}

async fn check_plain_http_port_is_a_tls_error<T: Make>() {
    let server = Server::start(None, ok_handler());
    let config = Config::kubernetes(&format!("https://localhost:{}", server.addr.port()))
        .unwrap()
        .with_tls(TlsConfig { skip_verify: true, ..TlsConfig::default() });
    let err = T::make(&config).unwrap().send(get("/version"), Io::new()).await.unwrap_err();
    assert_kind(&err, TransportErrorKind::Tls);
}

// ---------------------------------------------------------------------------------------------
// End to end

async fn check_cluster_manager_get_nodes<T: Make>() {
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
    let cm = ClusterManager::connect(T::make(&config).unwrap(), &config, 7).await.unwrap();
    let nodes = cm.get_nodes().await.unwrap();
    assert!(nodes.is_empty(), "{nodes:?}");
    assert!(calls.load(Ordering::SeqCst) >= 1);
    let first = server.seen.requests.lock().unwrap()[0].clone();
    assert!(first.target.starts_with("/api/v1/nodes"), "{first:?}");
    assert_eq!(first.header("authorization").as_deref(), Some("Bearer e2e"));
}

// ---------------------------------------------------------------------------------------------
// Runners

fn tokio_block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
}

macro_rules! conformance {
    ($module:ident, $transport:ty, $block_on:path) => {
        mod $module {
            use super::*;

            conformance!(@tests $transport, $block_on,
                plain_get => check_plain_get,
                post_body_arrives => check_post_body_arrives,
                keep_alive_reuses_the_connection => check_keep_alive_reuses_the_connection,
                concurrent_requests_share_the_transport => check_concurrent_requests_share_the_transport,
                server_closing_an_idle_connection_is_survived => check_server_closing_an_idle_connection_is_survived,
                chunked_stream_with_read_timeouts => check_chunked_stream_with_read_timeouts,
                truncated_bodies => check_truncated_bodies,
                connection_refused_is_connect => check_connection_refused_is_connect,
                connect_timeout_is_connect => check_connect_timeout_is_connect,
                request_timeout_and_blocking_query_allowance => check_request_timeout_and_blocking_query_allowance,
                error_status_of_a_stream_is_complete => check_error_status_of_a_stream_is_complete,
                stream_head_deadline_spares_log_follows => check_stream_head_deadline_spares_log_follows,
                dropped_stream_closes_its_connection => check_dropped_stream_closes_its_connection,
                dropped_request_closes_its_connection => check_dropped_request_closes_its_connection,
                static_credentials => check_static_credentials,
                token_file_cached_then_reread => check_token_file_cached_then_reread,
                exec_plugin_token_is_cached_and_failures_explained => check_exec_plugin_token_is_cached_and_failures_explained,
                exec_plugin_runs_again_after_a_401 => check_exec_plugin_runs_again_after_a_401,
                exec_plugin_output_is_capped => check_exec_plugin_output_is_capped,
                an_unlimited_request_timeout_means_no_limit => check_an_unlimited_request_timeout_means_no_limit,
                credentials_over_plain_http_only_to_loopback_or_when_asked => check_credentials_over_plain_http_only_to_loopback_or_when_asked,
                the_connection_budget_queues_requests_and_streams => check_the_connection_budget_queues_requests_and_streams,
                open_connections_stay_within_max_connections => check_open_connections_stay_within_max_connections,
                exec_plugin_client_certificate_is_presented => check_exec_plugin_client_certificate_is_presented,
                tls_with_the_configured_ca => check_tls_with_the_configured_ca,
                wrong_ca_is_a_tls_error => check_wrong_ca_is_a_tls_error,
                mutual_tls_is_required_and_accepted => check_mutual_tls_is_required_and_accepted,
                skip_verify_accepts_a_self_signed_server => check_skip_verify_accepts_a_self_signed_server,
                server_name_override => check_server_name_override,
                plain_http_port_is_a_tls_error => check_plain_http_port_is_a_tls_error,
                cluster_manager_get_nodes => check_cluster_manager_get_nodes,
            );
        }
    };
    (@tests $transport:ty, $block_on:path, $($name:ident => $check:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $block_on($check::<$transport>())
            }
        )*
    };
}

conformance!(tokio_transport, TokioTransport, tokio_block_on);

/// hyper-util's pool hands a finished connection back on a task of its own: on worker threads
/// that races the next request (which then opened another connection), so the connection bound
/// is also checked there.
fn tokio_multi_thread_block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap().block_on(future)
}

mod tokio_transport_multi_thread {
    use super::*;

    conformance!(@tests TokioTransport, tokio_multi_thread_block_on,
        open_connections_stay_within_max_connections => check_open_connections_stay_within_max_connections,
        the_connection_budget_queues_requests_and_streams => check_the_connection_budget_queues_requests_and_streams,
    );
}
conformance!(async_std_transport, AsyncStdTransport, async_std::task::block_on);
conformance!(async_std_transport_in_smol, AsyncStdTransport, smol::block_on);
