//! A runtime-neutral HTTP/1.1 (and HTTPS) test server for the transport conformance suite: plain
//! std sockets and threads, rustls on the server side, a PKI from rcgen. It records what it
//! received (connections, TLS handshakes, client certificates, request lines and headers, closed
//! connections) and answers from a handler, either a whole response or a byte script (for
//! chunked streams with pauses and bodies cut short).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection, StreamOwned};

/// A certificate and its key.
pub struct Issued {
    pub cert: rcgen::Certificate,
    pub key: KeyPair,
}

impl Issued {
    pub fn cert_pem(&self) -> Vec<u8> {
        self.cert.pem().into_bytes()
    }
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }
    fn der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }
    fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.serialize_der()))
    }
}

/// A CA that signed a server certificate (localhost, 127.0.0.1) and a client certificate.
pub struct Pki {
    pub ca: Issued,
    pub server: Issued,
    pub client: Issued,
}

fn dn(name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    dn
}

pub fn ca(name: &str) -> Issued {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = dn(name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Issued { cert, key }
}

fn leaf(ca: &Issued, names: &[&str], usage: ExtendedKeyUsagePurpose, cn: &str) -> Issued {
    let mut params = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name = dn(cn);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.cert, &ca.key).unwrap();
    Issued { cert, key }
}

impl Pki {
    pub fn new() -> Pki {
        let ca = ca("conformance test CA");
        let server = leaf(&ca, &["localhost", "127.0.0.1"], ExtendedKeyUsagePurpose::ServerAuth, "localhost");
        let client = leaf(&ca, &[], ExtendedKeyUsagePurpose::ClientAuth, "test-user");
        Pki { ca, server, client }
    }

    /// A self-signed server certificate (no CA), for skip-verify.
    pub fn self_signed() -> Issued {
        let mut params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        params.distinguished_name = dn("self-signed");
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Issued { cert, key }
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS server config presenting `server`, requiring a client certificate signed by
/// `client_ca` when given.
pub fn server_tls(server: &Issued, client_ca: Option<&Issued>) -> Arc<ServerConfig> {
    let builder = ServerConfig::builder_with_provider(provider()).with_safe_default_protocol_versions().unwrap();
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            roots.add(ca.der()).unwrap();
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider()).build().unwrap();
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(vec![server.der()], server.key_der()).unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    pub method: String,
    pub target: String,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl SeenRequest {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    }
}

/// What a test server saw.
#[derive(Default)]
pub struct Seen {
    pub connections: AtomicUsize,
    pub handshake_failures: AtomicUsize,
    pub client_certs: AtomicUsize,
    /// Connections the client closed (or that broke) while the server waited for a request.
    pub closed: AtomicUsize,
    pub requests: Mutex<Vec<SeenRequest>>,
}

impl Seen {
    pub fn header(&self, index: usize, name: &str) -> Option<String> {
        self.requests.lock().unwrap().get(index)?.header(name)
    }
    pub fn target(&self, index: usize) -> Option<String> {
        self.requests.lock().unwrap().get(index).map(|r| r.target.clone())
    }
    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

/// One step of a scripted answer.
pub enum Act {
    Write(Vec<u8>),
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

pub fn write(bytes: &[u8]) -> Act {
    Act::Write(bytes.to_vec())
}

pub type Handler = Arc<dyn Fn(&SeenRequest) -> Reply + Send + Sync>;

pub fn ok_handler() -> Handler {
    Arc::new(|_| Reply::Full(200, "ok".to_owned()))
}

/// A running server on 127.0.0.1; stops accepting when dropped.
pub struct Server {
    pub addr: SocketAddr,
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
                let (seen, handler, tls) = (Arc::clone(&seen2), Arc::clone(&handler), tls.clone());
                std::thread::spawn(move || serve_connection(tcp, tls, &handler, &seen));
            }
        });
        Server { addr, seen, stop }
    }

    pub fn https_url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }
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
/// (the same check runs once per transport and executor, in parallel).
pub fn temp_dir(name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("cm-conformance-{}-{n}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
