//! TLS settings of the tokio transport over real loopback sockets that the transport conformance
//! suite (`tests/tests/conformance.rs`, run against every transport, which checks each auth mode
//! and each TLS setting) does not cover: CA bundles, refused CA and key documents, and settings
//! loaded as a user writes them (the seed's dictionary, a kubeconfig) with files read from disk
//! through `StdEnvironment`, then used for a real handshake.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::atomic::Ordering;

use clustermanager_core::error::TransportErrorKind;
use clustermanager_core::step;
use clustermanager_core::Transport;
use clustermanager_tests::pki::{ca, server_tls, Pki};
use clustermanager_tests::server::{ok_handler, temp_dir, Server};
use clustermanager_tokio::{Config, Error, Identity, Secret, TlsConfig, TokioTransport};

fn get(path: &str) -> clustermanager_core::Request {
    step::request(http::Method::GET, path, None).unwrap()
}

fn tls_with_ca(pki: &Pki) -> TlsConfig {
    TlsConfig { ca_pem: vec![pki.ca.cert_pem()], ..TlsConfig::default() }
}

async fn send_ok(transport: &TokioTransport, path: &str) {
    let resp = transport
        .send(get(path), clustermanager_core::deadline::Io::new())
        .await
        .unwrap_or_else(|e| panic!("request failed: {e}"));
    assert_eq!(resp.status(), 200);
    assert_eq!(&resp.body()[..], b"ok");
}

#[tokio::test]
async fn ca_pem_document_with_several_certificates_is_fully_trusted() {
    // What `ca` (base64-decoded) or `ca_file` yield: a PEM bundle; the signing CA is not first.
    let pki = Pki::new();
    let other = ca("unrelated CA");
    let mut bundle = other.cert_pem();
    bundle.extend_from_slice(&pki.ca.cert_pem());
    let server = Server::start(Some(server_tls(&pki.server, None)), ok_handler());
    let config = Config::kubernetes(&server.https_url())
        .unwrap()
        .with_tls(TlsConfig { ca_pem: vec![bundle], ..TlsConfig::default() });
    send_ok(&TokioTransport::new(&config).unwrap(), "/version").await;
}

#[tokio::test]
async fn a_ca_document_without_certificates_is_a_config_error() {
    let config = Config::kubernetes("https://127.0.0.1:1")
        .unwrap()
        .with_tls(TlsConfig { ca_pem: vec![b"not a certificate".to_vec()], ..TlsConfig::default() });
    match TokioTransport::new(&config) {
        Err(Error::Config { key, problem }) => {
            assert_eq!(key, "ca");
            assert!(problem.contains("no PEM certificate"), "{problem}");
        }
        other => panic!("expected a Config error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_key_that_is_not_pem_is_a_config_error_without_the_key() {
    let pki = Pki::new();
    let identity = Identity { cert_pem: pki.client.cert_pem(), key_pem: Secret::new("s3cr3t-key-material") };
    let config = Config::kubernetes("https://127.0.0.1:1")
        .unwrap()
        .with_tls(TlsConfig { client_identity: Some(identity), ..tls_with_ca(&pki) });
    let err = TokioTransport::new(&config).unwrap_err();
    assert!(matches!(&err, Error::Config { key, .. } if key == "client-key"), "{err:?}");
    assert!(!err.to_string().contains("s3cr3t"), "{err}");
}

// The loaders and the transport together: settings written as a user writes them (the seed's
// dictionary, a kubeconfig), files read from disk through `StdEnvironment`, and a real handshake.

fn b64(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

#[tokio::test]
async fn seed_dictionary_token_with_ca_file_from_disk() {
    let pki = Pki::new();
    let server = Server::start(Some(server_tls(&pki.server, None)), ok_handler());
    let dir = temp_dir("seed-ca-file");
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, pki.ca.cert_pem()).unwrap();
    let seed = serde_json::json!({
        "auth": "token", "token": "seed-t0ken", "endpoint": format!("localhost:{}", server.addr.port()),
        "ca_file": ca_file.to_string_lossy(),
    });
    let config = Config::from_seed_json(&seed.to_string(), &clustermanager_tokio::StdEnvironment).unwrap();
    send_ok(&TokioTransport::new(&config).unwrap(), "/version").await;
    assert_eq!(server.seen.header(0, "authorization").as_deref(), Some("Bearer seed-t0ken"));

    // The same dictionary with another CA's file is refused at the handshake.
    std::fs::write(&ca_file, ca("another CA").cert_pem()).unwrap();
    let config = Config::from_seed_json(&seed.to_string(), &clustermanager_tokio::StdEnvironment).unwrap();
    let err = TokioTransport::new(&config)
        .unwrap()
        .send(get("/version"), clustermanager_core::deadline::Io::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport { kind: TransportErrorKind::Tls, .. }), "{err:?}");
}

#[tokio::test]
async fn seed_dictionary_certificate_mode_with_base64_ca_does_mutual_tls() {
    let pki = Pki::new();
    let server = Server::start(Some(server_tls(&pki.server, Some(&pki.ca))), ok_handler());
    let seed = serde_json::json!({
        "auth": "certificate", "http_scheme": "https", "endpoint": format!("localhost:{}", server.addr.port()),
        "certificate": b64(&pki.client.cert_pem()), "key": b64(pki.client.key_pem().as_bytes()),
        "ca": b64(&pki.ca.cert_pem()),
    });
    let config = Config::from_seed_json(&seed.to_string(), &clustermanager_tokio::StdEnvironment).unwrap();
    send_ok(&TokioTransport::new(&config).unwrap(), "/version").await;
    assert_eq!(server.seen.client_certs.load(Ordering::SeqCst), 1);
    assert_eq!(server.seen.header(0, "authorization"), None);
}

#[tokio::test]
async fn kubeconfig_files_with_client_certificate_and_ca_paths_do_mutual_tls() {
    let pki = Pki::new();
    let server = Server::start(Some(server_tls(&pki.server, Some(&pki.ca))), ok_handler());
    let dir = temp_dir("kubeconfig-files");
    std::fs::write(dir.join("ca.crt"), pki.ca.cert_pem()).unwrap();
    std::fs::write(dir.join("client.crt"), pki.client.cert_pem()).unwrap();
    std::fs::write(dir.join("client.key"), pki.client.key_pem()).unwrap();
    // Relative paths resolve against the kubeconfig's directory, as in kubectl.
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: test\n\
         clusters: [{{name: c, cluster: {{server: \"https://127.0.0.1:{port}\", certificate-authority: ca.crt, tls-server-name: localhost}}}}]\n\
         users: [{{name: u, user: {{client-certificate: client.crt, client-key: client.key}}}}]\n\
         contexts: [{{name: test, context: {{cluster: c, user: u, namespace: jobs}}}}]\n",
        port = server.addr.port()
    );
    let path = dir.join("config");
    std::fs::write(&path, kubeconfig).unwrap();
    struct KubeconfigEnv(String);
    impl clustermanager_core::config::Environment for KubeconfigEnv {
        fn var(&self, name: &str) -> Option<String> {
            (name == "KUBECONFIG").then(|| self.0.clone())
        }
        fn read_file(&self, path: &str) -> std::io::Result<Vec<u8>> {
            std::fs::read(path)
        }
    }
    let config = Config::from_kubeconfig_env(None, &KubeconfigEnv(path.to_string_lossy().into_owned())).unwrap();
    assert_eq!(config.namespace.as_deref(), Some("jobs"));
    send_ok(&TokioTransport::new(&config).unwrap(), "/version").await;
    assert_eq!(server.seen.client_certs.load(Ordering::SeqCst), 1);
}
