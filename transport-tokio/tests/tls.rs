//! Authentication and TLS over real loopback sockets: each auth mode's credential must arrive at
//! the server, each TLS setting must accept what it should and refuse what it should.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use clustermanager_core::config::exec::ExecConfig;
use clustermanager_core::error::TransportErrorKind;
use clustermanager_core::step;
use clustermanager_core::Transport;
use clustermanager_tokio::{Auth, Config, Error, Identity, Secret, TlsConfig, TokioTransport};
use common::{ok_handler, serve, server_tls, temp_dir, Pki};

fn get(path: &str) -> clustermanager_core::Request {
    step::request(http::Method::GET, path, None).unwrap()
}

fn tls_with_ca(pki: &Pki) -> TlsConfig {
    TlsConfig { ca_pem: vec![pki.ca.cert_pem()], ..TlsConfig::default() }
}

async fn send_ok(transport: &TokioTransport, path: &str) {
    let resp = transport.send(get(path)).await.unwrap_or_else(|e| panic!("request failed: {e}"));
    assert_eq!(resp.status(), 200);
    assert_eq!(&resp.body()[..], b"ok");
}

#[tokio::test]
async fn bearer_token_arrives_over_tls_with_the_configured_ca() {
    let pki = Pki::new();
    let server = serve(Some(server_tls(&pki.server, None)), ok_handler()).await;
    let config = Config::kubernetes(&server.https_url())
        .unwrap()
        .with_tls(tls_with_ca(&pki))
        .with_auth(Auth::Bearer(Secret::new("t0ken")));
    let transport = TokioTransport::new(&config).unwrap();
    send_ok(&transport, "/api/v1/nodes?limit=1").await;
    assert_eq!(server.seen.header(0, "authorization").as_deref(), Some("Bearer t0ken"));
    let requests = server.seen.requests.lock().unwrap();
    assert_eq!(requests[0].1, "/api/v1/nodes?limit=1");
}

#[tokio::test]
async fn basic_auth_header_arrives() {
    let pki = Pki::new();
    let server = serve(Some(server_tls(&pki.server, None)), ok_handler()).await;
    let config = Config::kubernetes(&server.https_url())
        .unwrap()
        .with_tls(tls_with_ca(&pki))
        .with_auth(Auth::Basic { username: "admin".into(), password: Secret::new("pa55") });
    let transport = TokioTransport::new(&config).unwrap();
    send_ok(&transport, "/version").await;
    // base64("admin:pa55")
    assert_eq!(server.seen.header(0, "authorization").as_deref(), Some("Basic YWRtaW46cGE1NQ=="));
}

#[tokio::test]
async fn ca_pem_document_with_several_certificates_is_fully_trusted() {
    // What `ca` (base64-decoded) or `ca_file` yield: a PEM bundle; the signing CA is not first.
    let pki = Pki::new();
    let other = common::ca("unrelated CA");
    let mut bundle = other.cert_pem();
    bundle.extend_from_slice(&pki.ca.cert_pem());
    let server = serve(Some(server_tls(&pki.server, None)), ok_handler()).await;
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
async fn client_certificate_is_required_and_accepted() {
    let pki = Pki::new();
    let server = serve(Some(server_tls(&pki.server, Some(&pki.ca))), ok_handler()).await;

    // Without a certificate the server refuses the handshake.
    let config = Config::kubernetes(&server.https_url()).unwrap().with_tls(tls_with_ca(&pki));
    let err = TokioTransport::new(&config).unwrap().send(get("/version")).await.unwrap_err();
    match &err {
        Error::Transport { kind: TransportErrorKind::Tls, message } => {
            assert!(message.contains("client certificate"), "{message}");
        }
        other => panic!("expected a TLS error, got {other:?}"),
    }
    assert_eq!(server.seen.count(), 0);
    assert!(server.seen.handshake_failures.load(Ordering::SeqCst) >= 1);

    // With one it succeeds.
    let identity = Identity { cert_pem: pki.client.cert_pem(), key_pem: Secret::new(pki.client.key_pem()) };
    let tls = TlsConfig { client_identity: Some(identity), ..tls_with_ca(&pki) };
    let config = Config::kubernetes(&server.https_url()).unwrap().with_tls(tls);
    send_ok(&TokioTransport::new(&config).unwrap(), "/version").await;
    assert_eq!(server.seen.client_certs.load(Ordering::SeqCst), 1);
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

#[tokio::test]
async fn skip_verify_accepts_a_self_signed_server() {
    let cert = Pki::self_signed();
    let server = serve(Some(server_tls(&cert, None)), ok_handler()).await;
    // Verified normally, the unknown self-signed certificate is refused...
    let verified = Config::kubernetes(&server.https_url()).unwrap();
    let err = TokioTransport::new(&verified).unwrap().send(get("/version")).await.unwrap_err();
    assert!(matches!(err, Error::Transport { kind: TransportErrorKind::Tls, .. }), "{err:?}");
    // ...and accepted with skip_verify.
    let config = verified.with_tls(TlsConfig { skip_verify: true, ..TlsConfig::default() });
    send_ok(&TokioTransport::new(&config).unwrap(), "/version").await;
}

#[tokio::test]
async fn a_wrong_ca_is_refused_with_a_clear_message() {
    let pki = Pki::new();
    let wrong = common::ca("someone else's CA");
    let server = serve(Some(server_tls(&pki.server, None)), ok_handler()).await;
    let config = Config::kubernetes(&server.https_url())
        .unwrap()
        .with_tls(TlsConfig { ca_pem: vec![wrong.cert_pem()], ..TlsConfig::default() });
    let err = TokioTransport::new(&config).unwrap().send(get("/version")).await.unwrap_err();
    match &err {
        Error::Transport { kind: TransportErrorKind::Tls, message } => {
            assert!(message.contains("unknown CA"), "{message}");
            assert!(message.contains("certificate-authority"), "{message}");
        }
        other => panic!("expected a TLS error, got {other:?}"),
    }
    assert_eq!(server.seen.count(), 0);
}

#[tokio::test]
async fn server_name_override_is_verified_instead_of_the_host() {
    let pki = Pki::new();
    let server = serve(Some(server_tls(&pki.server, None)), ok_handler()).await;
    let url = format!("https://127.0.0.1:{}", server.addr.port());
    // The certificate is not valid for "example.com": overriding to it must fail...
    let bad = TlsConfig { server_name: Some("example.com".into()), ..tls_with_ca(&pki) };
    let err = TokioTransport::new(&Config::kubernetes(&url).unwrap().with_tls(bad))
        .unwrap()
        .send(get("/version"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Transport { kind: TransportErrorKind::Tls, message } if message.contains("not valid for that name")),
        "{err:?}"
    );
    // ...and overriding to "localhost" works.
    let good = TlsConfig { server_name: Some("localhost".into()), ..tls_with_ca(&pki) };
    send_ok(&TokioTransport::new(&Config::kubernetes(&url).unwrap().with_tls(good)).unwrap(), "/version").await;
}

#[tokio::test]
async fn token_file_is_cached_then_reread_after_rotation() {
    let pki = Pki::new();
    let server = serve(Some(server_tls(&pki.server, None)), ok_handler()).await;
    let dir = temp_dir("token-file");
    let path = dir.join("token");
    std::fs::write(&path, "first\n").unwrap();
    let config = Config::kubernetes(&server.https_url())
        .unwrap()
        .with_tls(tls_with_ca(&pki))
        .with_auth(Auth::TokenFile { path: path.to_string_lossy().into_owned() });

    // A long refresh interval keeps the cached token across a rewrite.
    let cached = TokioTransport::new(&config).unwrap().with_token_file_refresh(Duration::from_secs(3600));
    send_ok(&cached, "/version").await;
    std::fs::write(&path, "second\n").unwrap();
    send_ok(&cached, "/version").await;
    assert_eq!(server.seen.header(0, "authorization").as_deref(), Some("Bearer first"));
    assert_eq!(server.seen.header(1, "authorization").as_deref(), Some("Bearer first"));

    // A short one picks up the rotated token.
    let rotating = TokioTransport::new(&config).unwrap().with_token_file_refresh(Duration::from_millis(50));
    send_ok(&rotating, "/version").await;
    std::fs::write(&path, "third\n").unwrap();
    tokio::time::sleep(Duration::from_millis(80)).await;
    send_ok(&rotating, "/version").await;
    assert_eq!(server.seen.header(2, "authorization").as_deref(), Some("Bearer second"));
    assert_eq!(server.seen.header(3, "authorization").as_deref(), Some("Bearer third"));

    // A file caught mid-rotation (missing, empty) keeps the token read before...
    std::fs::remove_file(&path).unwrap();
    tokio::time::sleep(Duration::from_millis(80)).await;
    send_ok(&rotating, "/version").await;
    std::fs::write(&path, "").unwrap();
    send_ok(&rotating, "/version").await;
    assert_eq!(server.seen.header(4, "authorization").as_deref(), Some("Bearer third"));
    assert_eq!(server.seen.header(5, "authorization").as_deref(), Some("Bearer third"));
    // ...and the next good read is used at once.
    std::fs::write(&path, "fourth\n").unwrap();
    send_ok(&rotating, "/version").await;
    assert_eq!(server.seen.header(6, "authorization").as_deref(), Some("Bearer fourth"));

    // Without a token read before, a missing file is a Config error naming the path.
    std::fs::remove_file(&path).unwrap();
    let fresh = TokioTransport::new(&config).unwrap();
    let err = fresh.send(get("/version")).await.unwrap_err();
    assert!(
        matches!(&err, Error::Config { key, problem } if key == "tokenFile" && problem.contains("token")),
        "{err:?}"
    );
}

/// Write a plugin script that checks `KUBERNETES_EXEC_INFO`, counts its runs, and prints the
/// credential in `credential.json`.
fn exec_plugin(name: &str, credential: &serde_json::Value) -> (ExecConfig, std::path::PathBuf) {
    let dir = temp_dir(name);
    std::fs::write(dir.join("credential.json"), credential.to_string()).unwrap();
    let script = dir.join("plugin.sh");
    std::fs::write(
        &script,
        r#"set -e
case "$KUBERNETES_EXEC_INFO" in *'"kind":"ExecCredential"'*) ;; *) echo "no exec info" >&2; exit 3;; esac
echo run >> "$PLUGIN_DIR/runs"
sed "s/@TOKEN@/$PLUGIN_TOKEN/" "$PLUGIN_DIR/credential.json"
"#,
    )
    .unwrap();
    // Run through /bin/sh: no executable bit, no "text file busy" race with other tests' forks.
    let exec = ExecConfig {
        api_version: "client.authentication.k8s.io/v1".into(),
        command: "/bin/sh".into(),
        args: vec![script.to_string_lossy().into_owned()],
        env: vec![
            ("PLUGIN_DIR".into(), Secret::new(dir.to_string_lossy().into_owned())),
            ("PLUGIN_TOKEN".into(), Secret::new("from-plugin")),
        ],
    };
    (exec, dir)
}

fn runs(dir: &std::path::Path) -> usize {
    std::fs::read_to_string(dir.join("runs")).map(|s| s.lines().count()).unwrap_or(0)
}

#[tokio::test]
async fn exec_plugin_token_is_sent_and_cached_until_expiry() {
    let pki = Pki::new();
    let server = serve(Some(server_tls(&pki.server, None)), ok_handler()).await;
    let cred = |expiry: &str| {
        serde_json::json!({"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1",
            "status": {"token": "@TOKEN@", "expirationTimestamp": expiry}})
    };

    // Valid for years: the plugin runs once for two requests.
    let (exec, dir) = exec_plugin("exec-fresh", &cred("2100-01-01T00:00:00Z"));
    let config =
        Config::kubernetes(&server.https_url()).unwrap().with_tls(tls_with_ca(&pki)).with_auth(Auth::Exec(exec));
    let transport = TokioTransport::new(&config).unwrap();
    send_ok(&transport, "/version").await;
    send_ok(&transport, "/version").await;
    assert_eq!(server.seen.header(0, "authorization").as_deref(), Some("Bearer from-plugin"));
    assert_eq!(server.seen.header(1, "authorization").as_deref(), Some("Bearer from-plugin"));
    assert_eq!(runs(&dir), 1);

    // Already expired: the plugin runs for every request.
    let (exec, dir) = exec_plugin("exec-expired", &cred("2000-01-01T00:00:00Z"));
    let config =
        Config::kubernetes(&server.https_url()).unwrap().with_tls(tls_with_ca(&pki)).with_auth(Auth::Exec(exec));
    let transport = TokioTransport::new(&config).unwrap();
    send_ok(&transport, "/version").await;
    send_ok(&transport, "/version").await;
    assert_eq!(runs(&dir), 2);
}

#[tokio::test]
async fn exec_plugin_failure_is_a_config_error_with_its_stderr() {
    let (mut exec, _dir) = exec_plugin("exec-fails", &serde_json::json!({}));
    exec.env.clear();
    exec.args.clear();
    exec.args.extend(["-c".to_owned(), "echo 'login required' >&2; exit 1".to_owned()]);
    let config = Config::kubernetes("https://127.0.0.1:1").unwrap().with_auth(Auth::Exec(exec));
    let err = TokioTransport::new(&config).unwrap().send(get("/version")).await.unwrap_err();
    assert!(matches!(&err, Error::Config { problem, .. } if problem.contains("login required")), "{err:?}");
}

#[tokio::test]
async fn exec_plugin_client_certificate_is_presented() {
    let pki = Pki::new();
    let server = serve(Some(server_tls(&pki.server, Some(&pki.ca))), ok_handler()).await;
    let cred = serde_json::json!({"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1",
        "status": {"clientCertificateData": String::from_utf8(pki.client.cert_pem()).unwrap(),
                   "clientKeyData": pki.client.key_pem()}});
    let (exec, dir) = exec_plugin("exec-cert", &cred);
    let config =
        Config::kubernetes(&server.https_url()).unwrap().with_tls(tls_with_ca(&pki)).with_auth(Auth::Exec(exec));
    send_ok(&TokioTransport::new(&config).unwrap(), "/version").await;
    assert_eq!(server.seen.client_certs.load(Ordering::SeqCst), 1);
    assert_eq!(server.seen.header(0, "authorization"), None);
    assert_eq!(runs(&dir), 1);
}

#[tokio::test]
async fn nomad_token_header_arrives() {
    let server = serve(None, ok_handler()).await;
    let config = Config::nomad(&server.http_url()).unwrap().with_auth(Auth::NomadToken(Secret::new("acl-secret")));
    send_ok(&TokioTransport::new(&config).unwrap(), "/v1/jobs").await;
    assert_eq!(server.seen.header(0, "x-nomad-token").as_deref(), Some("acl-secret"));
    assert_eq!(server.seen.header(0, "authorization"), None);
}

#[tokio::test]
async fn exec_plugin_runs_again_after_the_server_refuses_its_token() {
    let pki = Pki::new();
    // The first request is refused, later ones accepted.
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let handler: common::Handler = std::sync::Arc::new(move |_, _| {
        if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            (401, r#"{"kind":"Status","code":401,"reason":"Unauthorized"}"#.to_owned())
        } else {
            (200, "ok".to_owned())
        }
    });
    let server = serve(Some(server_tls(&pki.server, None)), handler).await;
    // No expiry: without the 401 the credential would be cached forever.
    let cred = serde_json::json!({"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1",
        "status": {"token": "@TOKEN@"}});
    let (exec, dir) = exec_plugin("exec-401", &cred);
    let config =
        Config::kubernetes(&server.https_url()).unwrap().with_tls(tls_with_ca(&pki)).with_auth(Auth::Exec(exec));
    let transport = TokioTransport::new(&config).unwrap();
    assert_eq!(transport.send(get("/version")).await.unwrap().status(), 401);
    send_ok(&transport, "/version").await;
    send_ok(&transport, "/version").await;
    assert_eq!(runs(&dir), 2);
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
    let server = serve(Some(server_tls(&pki.server, None)), ok_handler()).await;
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
    std::fs::write(&ca_file, common::ca("another CA").cert_pem()).unwrap();
    let config = Config::from_seed_json(&seed.to_string(), &clustermanager_tokio::StdEnvironment).unwrap();
    let err = TokioTransport::new(&config).unwrap().send(get("/version")).await.unwrap_err();
    assert!(matches!(err, Error::Transport { kind: TransportErrorKind::Tls, .. }), "{err:?}");
}

#[tokio::test]
async fn seed_dictionary_certificate_mode_with_base64_ca_does_mutual_tls() {
    let pki = Pki::new();
    let server = serve(Some(server_tls(&pki.server, Some(&pki.ca))), ok_handler()).await;
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
    let server = serve(Some(server_tls(&pki.server, Some(&pki.ca))), ok_handler()).await;
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
