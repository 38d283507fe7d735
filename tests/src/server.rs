//! A runtime-neutral HTTP/1.1 (and HTTPS) test server over real loopback sockets: plain std
//! sockets and threads, rustls on the server side (configured with [`crate::pki::server_tls`]). It
//! records what it received (connections, TLS handshakes, client certificates, request lines,
//! headers and bodies, connections closed by the client, how many were open at once) and answers
//! from a [`Handler`], either a whole response or a byte script (for chunked streams with pauses
//! and bodies cut short).
//!
//! Used by the transport conformance suite (`tests/tests/conformance.rs`, every transport) and by
//! the transports' own tests.
//!
//! ```
//! use clustermanager_tests::server::{ok_handler, Server};
//! use std::io::{Read, Write};
//! let server = Server::start(None, ok_handler());
//! let mut tcp = std::net::TcpStream::connect(server.addr).unwrap();
//! tcp.write_all(b"GET /version HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
//! let mut answer = [0u8; 12];
//! tcp.read_exact(&mut answer).unwrap();
//! assert_eq!(&answer, b"HTTP/1.1 200");
//! assert_eq!(server.seen.target(0).as_deref(), Some("/version"));
//! ```

// Test support: a server that cannot bind or a poisoned lock is a broken test setup.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::{ServerConfig, ServerConnection, StreamOwned};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The request target: path and query.
    pub target: String,
    /// The headers in order, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body (as announced by `content-length`).
    pub body: Vec<u8>,
}

impl SeenRequest {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    }
}

/// What a test server saw.
#[derive(Default)]
pub struct Seen {
    /// Accepted TCP connections.
    pub connections: AtomicUsize,
    /// Failed TLS handshakes.
    pub handshake_failures: AtomicUsize,
    /// TLS sessions where the client presented a certificate.
    pub client_certs: AtomicUsize,
    /// Connections the client closed (or that broke) while the server waited for a request.
    pub closed: AtomicUsize,
    /// Connections open now: accepted, and their end (closed by either side) not yet noticed.
    pub open: AtomicUsize,
    /// The most connections that were open at once (see [`Seen::peak_open`]).
    pub peak_open: AtomicUsize,
    /// Every request, in arrival order.
    pub requests: Mutex<Vec<SeenRequest>>,
}

impl Seen {
    /// Header `name` (lower case) of request `index`, if both exist.
    pub fn header(&self, index: usize, name: &str) -> Option<String> {
        self.requests.lock().unwrap().get(index)?.header(name)
    }
    /// The target of request `index`.
    pub fn target(&self, index: usize) -> Option<String> {
        self.requests.lock().unwrap().get(index).map(|r| r.target.clone())
    }
    /// How many requests arrived.
    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
    /// The most TCP connections that were open at once. A connection counts from its accept
    /// until the server notices its end. A client that closes one connection and then opens
    /// another could be seen with both open for a moment (the close is noticed on the old
    /// connection's thread, the accept on another), so before an accept that would raise the
    /// peak (after the first) the server gives ends already on their way [`SETTLE`] to be
    /// noticed.
    pub fn peak_open(&self) -> usize {
        self.peak_open.load(Ordering::SeqCst)
    }
}

/// How long the server waits, before an accept that would raise [`Seen::peak_open`], for
/// connections the client closed just before to be noticed as closed.
pub const SETTLE: Duration = Duration::from_millis(20);

/// Counts a connection as open while it lives.
struct OpenGuard(Arc<Seen>);

impl OpenGuard {
    fn new(seen: &Arc<Seen>) -> OpenGuard {
        let peak = seen.peak_open.load(Ordering::SeqCst);
        // (the first connection cannot overlap an earlier one: no wait)
        if peak > 0 && seen.open.load(Ordering::SeqCst) >= peak {
            std::thread::sleep(SETTLE);
        }
        let open = seen.open.fetch_add(1, Ordering::SeqCst) + 1;
        seen.peak_open.fetch_max(open, Ordering::SeqCst);
        OpenGuard(Arc::clone(seen))
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One step of a scripted answer.
pub enum Act {
    /// Write these bytes.
    Write(Vec<u8>),
    /// Pause.
    Sleep(Duration),
    /// Close the connection now.
    Close,
}

/// How the server answers one request.
pub enum Reply {
    /// A whole response with `content-length`.
    Full(u16, String),
    /// Raw bytes and pauses; afterwards the server waits for the next request on the connection
    /// unless the script closed it.
    Script(Vec<Act>),
}

/// Shorthand for [`Act::Write`].
pub fn write(bytes: &[u8]) -> Act {
    Act::Write(bytes.to_vec())
}

/// Answers each request the server reads.
pub type Handler = Arc<dyn Fn(&SeenRequest) -> Reply + Send + Sync>;

/// A handler answering `200 ok` to everything.
pub fn ok_handler() -> Handler {
    Arc::new(|_| Reply::Full(200, "ok".to_owned()))
}

/// A running server on 127.0.0.1; stops accepting when dropped.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// What it received so far.
    pub seen: Arc<Seen>,
    stop: Arc<AtomicBool>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

impl Server {
    /// Listen on `127.0.0.1:0` (over TLS when `tls` is given) and answer with `handler`, each
    /// connection on its own thread.
    pub fn start(tls: Option<Arc<ServerConfig>>, handler: Handler) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Seen::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (Arc::clone(&seen), Arc::clone(&stop));
        std::thread::spawn(move || {
            for tcp in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(tcp) = tcp else { continue };
                seen2.connections.fetch_add(1, Ordering::SeqCst);
                let guard = OpenGuard::new(&seen2);
                let (seen, handler, tls) = (Arc::clone(&seen2), Arc::clone(&handler), tls.clone());
                std::thread::spawn(move || {
                    serve_connection(tcp, tls, &handler, &seen);
                    drop(guard);
                });
            }
        });
        Server { addr, seen, stop }
    }

    /// `https://localhost:<port>` (the name the test server certificate is valid for).
    pub fn https_url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }
    /// `http://127.0.0.1:<port>`.
    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.addr.port())
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

fn serve_connection(tcp: TcpStream, tls: Option<Arc<ServerConfig>>, handler: &Handler, seen: &Seen) {
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let _ = tcp.set_nodelay(true);
    let mut io: Box<dyn ReadWrite> = match tls {
        None => Box::new(tcp),
        Some(config) => {
            let mut tcp = tcp;
            let mut conn = ServerConnection::new(config).unwrap();
            while conn.is_handshaking() {
                if conn.complete_io(&mut tcp).is_err() {
                    let _ = conn.write_tls(&mut tcp);
                    seen.handshake_failures.fetch_add(1, Ordering::SeqCst);
                    return;
                }
            }
            if conn.peer_certificates().is_some_and(|c| !c.is_empty()) {
                seen.client_certs.fetch_add(1, Ordering::SeqCst);
            }
            Box::new(StreamOwned::new(conn, tcp))
        }
    };
    let mut pending = Vec::new();
    loop {
        let request = match read_request(&mut io, &mut pending) {
            Ok(request) => request,
            Err(Garbage) => {
                // Not HTTP (e.g. a TLS ClientHello on the plain port): answer 400 and close.
                let _ = io.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                return;
            }
            Err(Closed) => {
                seen.closed.fetch_add(1, Ordering::SeqCst);
                return;
            }
        };
        seen.requests.lock().unwrap().push(request.clone());
        match handler(&request) {
            Reply::Full(status, body) => {
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                if io
                    .write_all(head.as_bytes())
                    .and_then(|_| io.write_all(body.as_bytes()))
                    .and_then(|_| io.flush())
                    .is_err()
                {
                    return;
                }
            }
            Reply::Script(acts) => {
                for act in acts {
                    match act {
                        Act::Write(bytes) => {
                            if io.write_all(&bytes).and_then(|_| io.flush()).is_err() {
                                return;
                            }
                        }
                        Act::Sleep(d) => std::thread::sleep(d),
                        Act::Close => return,
                    }
                }
            }
        }
    }
}

/// Why no request was read.
enum NoRequest {
    /// End of stream or a read error.
    Closed,
    /// Bytes that are not an HTTP/1.1 request.
    Garbage,
}

use NoRequest::{Closed, Garbage};

/// Read one request head (and skip its body).
fn read_request(io: &mut Box<dyn ReadWrite>, pending: &mut Vec<u8>) -> Result<SeenRequest, NoRequest> {
    let end = loop {
        if pending.first().is_some_and(|b| !b.is_ascii_uppercase()) {
            return Err(Garbage);
        }
        if let Some(i) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut buf = [0u8; 4096];
        match io.read(&mut buf) {
            Ok(0) | Err(_) => return Err(Closed),
            Ok(n) => pending.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8(pending.drain(..end).collect()).map_err(|_| Garbage)?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next().ok_or(Garbage)?.split(' ');
    let (method, target) = (first.next().ok_or(Garbage)?.to_owned(), first.next().ok_or(Garbage)?.to_owned());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize =
        headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    while pending.len() < length {
        let mut buf = [0u8; 4096];
        match io.read(&mut buf) {
            Ok(0) | Err(_) => return Err(Closed),
            Ok(n) => pending.extend_from_slice(&buf[..n]),
        }
    }
    let body = pending.drain(..length).collect();
    Ok(SeenRequest { method, target, headers, body })
}

/// A fresh directory for a test's files, never shared with another test running at the same time
/// (even the same test run once per transport and executor, in parallel).
pub fn temp_dir(name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("cm-test-{}-{n}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
