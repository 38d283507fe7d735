//! HTTP/2 to a TLS server that offers it (as kube-apiserver does): the tokio transport
//! multiplexes every request and stream over one connection; HTTP/1.1 stays the fallback.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clustermanager_core::config::TlsConfig;
use clustermanager_core::error::TransportErrorKind;
use clustermanager_core::transport::{Chunk, Opened};
use clustermanager_core::{step, BodyStream, Config, Transport};
use clustermanager_tests::pki::{server_tls, Pki};
use clustermanager_tokio::TokioTransport;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame};

/// A body that sends one event line, then stays open (a watch with nothing more to say).
struct Held {
    sent: bool,
}

impl Body for Held {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.sent {
            return Poll::Pending;
        }
        self.sent = true;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"{\"type\":\"BOOKMARK\"}\n")))))
    }
}

type AnyBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// An h2-only TLS server on loopback; counts TCP connections.
async fn h2_server(pki: &Pki, alpn: &[&[u8]]) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let mut tls = (*server_tls(&pki.server, None)).clone();
    tls.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&connections);
    let h2 = alpn.first() == Some(&b"h2".as_slice());
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            counted.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let service = hyper::service::service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                    let version = format!("{:?}", req.version());
                    let body: AnyBody = if req.uri().path() == "/stream" {
                        Held { sent: false }.boxed()
                    } else {
                        // `/slow`: an answer that takes longer than a connect is willing to wait idly
                        let pause = if req.uri().path() == "/slow" { 1500 } else { 100 };
                        tokio::time::sleep(Duration::from_millis(pause)).await;
                        Full::new(Bytes::from(version)).boxed()
                    };
                    Ok::<_, Infallible>(hyper::Response::new(body))
                });
                let io = hyper_util::rt::TokioIo::new(tls);
                if h2 {
                    let builder = hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new());
                    let _ = builder.serve_connection(io, service).await;
                } else {
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
                }
            });
        }
    });
    (addr, connections)
}

fn transport(pki: &Pki, addr: std::net::SocketAddr) -> TokioTransport {
    let config = Config::kubernetes(&format!("https://localhost:{}", addr.port()))
        .unwrap()
        .with_tls(TlsConfig { ca_pem: vec![pki.ca.cert_pem()], ..TlsConfig::default() });
    TokioTransport::new(&config).unwrap()
}

fn get(path: &str) -> clustermanager_core::Request {
    step::request(http::Method::GET, path, None).unwrap()
}

#[test]
fn requests_and_streams_share_one_http2_connection() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let pki = Pki::new();
        let (addr, connections) = h2_server(&pki, &[b"h2"]).await;
        let transport = transport(&pki, addr);
        // open watches first: they stay open while the requests go
        let mut streams = Vec::new();
        for _ in 0..5 {
            match transport.open(get("/stream"), clustermanager_core::deadline::Io::new()).await.unwrap() {
                Opened::Stream(_, mut body) => {
                    assert!(matches!(body.next_chunk(Some(Duration::from_secs(5))).await, Chunk::Data(_)));
                    streams.push(body);
                }
                Opened::Complete(r) => panic!("not a stream: {}", r.status()),
            }
        }
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let t = transport.clone();
            tasks.push(tokio::spawn(async move {
                t.send(get("/version"), clustermanager_core::deadline::Io::new()).await.unwrap()
            }));
        }
        for task in tasks {
            let resp = task.await.unwrap();
            assert_eq!(resp.status(), 200);
            assert_eq!(&resp.body()[..], b"HTTP/2.0");
        }
        assert!(started.elapsed() < Duration::from_millis(1500), "multiplexed, not one after another");
        assert_eq!(connections.load(Ordering::SeqCst), 1, "every request and stream over one connection");
        // the connection budget counts the one connection, not the requests on it
        assert_eq!((transport.connections().in_use(), transport.connections().peak()), (1, 1));
        drop(streams);
    });
}

#[test]
fn a_tls_server_without_http2_is_spoken_to_in_http1() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let pki = Pki::new();
        let (addr, _) = h2_server(&pki, &[b"http/1.1"]).await;
        let resp = transport(&pki, addr).send(get("/version"), clustermanager_core::deadline::Io::new()).await.unwrap();
        assert_eq!(&resp.body()[..], b"HTTP/1.1");
    });
}

/// `n` requests for `/version` at once, from a cold transport; their bodies.
async fn burst(transport: &TokioTransport, n: usize) -> Vec<Vec<u8>> {
    let mut tasks = Vec::new();
    for _ in 0..n {
        let t = transport.clone();
        tasks.push(tokio::spawn(async move {
            t.send(get("/version"), clustermanager_core::deadline::Io::new()).await.unwrap()
        }));
    }
    let mut bodies = Vec::new();
    for task in tasks {
        bodies.push(task.await.unwrap().body().to_vec());
    }
    bodies
}

#[test]
fn a_cold_burst_waits_for_the_first_handshake_and_shares_its_http2_connection() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let pki = Pki::new();
        let (addr, connections) = h2_server(&pki, &[b"h2"]).await;
        let transport = transport(&pki, addr);
        // no request has gone yet: the pool cannot know the server speaks HTTP/2
        let bodies = burst(&transport, 100).await;
        assert!(bodies.iter().all(|b| b == b"HTTP/2.0"));
        assert_eq!(connections.load(Ordering::SeqCst), 1, "one handshake, then every request shares it");
        assert_eq!(transport.connections().peak(), 1);
    });
}

#[test]
fn a_cold_burst_of_slow_answers_still_shares_the_first_http2_connection() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let pki = Pki::new();
        let (addr, connections) = h2_server(&pki, &[b"h2"]).await;
        let transport = transport(&pki, addr);
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let t = transport.clone();
            tasks.push(tokio::spawn(
                async move { t.send(get("/slow"), clustermanager_core::deadline::Io::new()).await },
            ));
        }
        for task in tasks {
            assert_eq!(&task.await.unwrap().unwrap().body()[..], b"HTTP/2.0");
        }
        // the waiting connects wait for as long as the first connection is open, not a fixed grace
        assert_eq!(connections.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn a_cold_burst_to_an_http1_tls_server_opens_its_connections_after_the_first_handshake() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let pki = Pki::new();
        let (addr, connections) = h2_server(&pki, &[b"http/1.1"]).await;
        let transport = transport(&pki, addr);
        let bodies = burst(&transport, 10).await;
        assert!(bodies.iter().all(|b| b == b"HTTP/1.1"));
        // one connection per request in flight (each answer takes 100 ms), within the budget
        let opened = connections.load(Ordering::SeqCst);
        assert!((2..=10).contains(&opened), "{opened} connections");
    });
}

#[test]
fn a_cold_burst_whose_first_handshake_fails_fails_every_request_without_waiting_on_each_other() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let pki = Pki::new();
        let (addr, _) = h2_server(&pki, &[b"h2"]).await;
        // trusts another CA: every handshake fails
        let config = Config::kubernetes(&format!("https://localhost:{}", addr.port()))
            .unwrap()
            .with_tls(TlsConfig { ca_pem: vec![Pki::new().ca.cert_pem()], ..TlsConfig::default() });
        let transport = TokioTransport::new(&config).unwrap();
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let t = transport.clone();
            tasks.push(tokio::spawn(
                async move { t.send(get("/version"), clustermanager_core::deadline::Io::new()).await },
            ));
        }
        for task in tasks {
            let err = task.await.unwrap().unwrap_err();
            assert!(
                matches!(err, clustermanager_core::Error::Transport { kind: TransportErrorKind::Tls, .. }),
                "{err}"
            );
        }
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    });
}

#[test]
fn a_first_handshake_that_stalls_holds_the_others_no_longer_than_the_connect_timeout() {
    // a server that accepts TCP and never answers the TLS handshake
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for tcp in listener.incoming().take(8) {
            held.push(tcp);
        }
        std::thread::sleep(Duration::from_secs(60));
    });
    // virtual time: the runtime jumps to the next timer when it has nothing else to do
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
    rt.block_on(async {
        let mut config = Config::kubernetes(&format!("https://localhost:{}", addr.port())).unwrap();
        config.connect_timeout = Duration::from_secs(10);
        let transport = TokioTransport::new(&config).unwrap();
        let started = tokio::time::Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..3 {
            let t = transport.clone();
            tasks.push(tokio::spawn(async move {
                let result = t.send(get("/version"), clustermanager_core::deadline::Io::new()).await;
                (result, started.elapsed())
            }));
        }
        for task in tasks {
            let (result, elapsed) = task.await.unwrap();
            let err = result.unwrap_err();
            assert!(
                matches!(err, clustermanager_core::Error::Transport { kind: TransportErrorKind::Connect, .. }),
                "{err}"
            );
            // the first one's connect timeout, not one more for each that waited for it
            assert!(elapsed <= Duration::from_secs(11), "{elapsed:?}");
        }
    });
}
