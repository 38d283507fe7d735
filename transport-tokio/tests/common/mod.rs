//! Test fixtures over real loopback sockets: a PKI generated with rcgen (CA, server certificate
//! for localhost / 127.0.0.1, client certificate), an HTTP(S) server built on hyper that records
//! what it received, and raw TCP responders for byte-exact behaviours.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::net::TcpListener;

/// A certificate and its key, DER and PEM.
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
    pub fn der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }
    pub fn key_der(&self) -> PrivateKeyDer<'static> {
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
        let ca = ca("clustermanager test CA");
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

/// What a test server saw.
#[derive(Default)]
pub struct Seen {
    /// Accepted TCP connections.
    pub connections: AtomicUsize,
    /// Failed TLS handshakes.
    pub handshake_failures: AtomicUsize,
    /// TLS sessions where the client presented a certificate.
    pub client_certs: AtomicUsize,
    /// Each request's method, path-and-query and headers.
    pub requests: Mutex<Vec<(http::Method, String, http::HeaderMap)>>,
}

impl Seen {
    pub fn header(&self, index: usize, name: &str) -> Option<String> {
        let requests = self.requests.lock().unwrap();
        requests.get(index)?.2.get(name).map(|v| v.to_str().unwrap().to_owned())
    }
    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

/// Answers a request: status, content type and body.
pub type Handler = Arc<dyn Fn(&http::Method, &str) -> (u16, String) + Send + Sync>;

/// A running HTTP(S) server on 127.0.0.1; stops when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub seen: Arc<Seen>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    pub fn https_url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }
    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.addr.port())
    }
}

/// A server answering `200 ok` to everything.
pub fn ok_handler() -> Handler {
    Arc::new(|_, _| (200, "ok".to_owned()))
}

/// Serve HTTP/1.1 on 127.0.0.1:0, over TLS when `tls` is given.
pub async fn serve(tls: Option<Arc<ServerConfig>>, handler: Handler) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let seen2 = Arc::clone(&seen);
    let task = tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            seen2.connections.fetch_add(1, Ordering::SeqCst);
            let seen = Arc::clone(&seen2);
            let handler = Arc::clone(&handler);
            let tls = tls.clone();
            connections.spawn(async move {
                let service = {
                    let seen = Arc::clone(&seen);
                    service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let pq = req.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
                        let (status, body) = handler(req.method(), &pq);
                        seen.requests.lock().unwrap().push((req.method().clone(), pq, req.headers().clone()));
                        let resp = http::Response::builder()
                            .status(status)
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from(body)))
                            .unwrap();
                        async move { Ok::<_, Infallible>(resp) }
                    })
                };
                let builder = hyper::server::conn::http1::Builder::new();
                match tls {
                    None => {
                        let _ = builder.serve_connection(TokioIo::new(tcp), service).await;
                    }
                    Some(config) => match tokio_rustls::TlsAcceptor::from(config).accept(tcp).await {
                        Ok(stream) => {
                            if stream.get_ref().1.peer_certificates().is_some_and(|c| !c.is_empty()) {
                                seen.client_certs.fetch_add(1, Ordering::SeqCst);
                            }
                            let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                        }
                        Err(_) => {
                            seen.handshake_failures.fetch_add(1, Ordering::SeqCst);
                        }
                    },
                }
            });
        }
    });
    TestServer { addr, seen, task }
}

/// A fresh directory for a test's files.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cm-tokio-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
