//! Without a configured CA the transport trusts the operating system's trust store (here pointed
//! at a test CA through `SSL_CERT_FILE`, which the system store honours on Unix), and a
//! configured CA replaces that store instead of adding to it.
//!
//! One test in its own binary: it sets a process environment variable.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use clustermanager_core::error::TransportErrorKind;
use clustermanager_core::{step, Transport};
use clustermanager_tests::pki::{ca, server_tls, Pki};
use clustermanager_tests::server::{ok_handler, temp_dir, Server};
use clustermanager_tokio::{Config, Error, TlsConfig, TokioTransport};

#[cfg(unix)]
#[tokio::test]
async fn the_system_trust_store_is_used_when_no_ca_is_configured() {
    let pki = Pki::new();
    let dir = temp_dir("system-roots");
    let bundle = dir.join("ca-bundle.pem");
    std::fs::write(&bundle, pki.ca.cert_pem()).unwrap();
    // Before any transport reads it; nothing else in this binary touches the environment.
    std::env::set_var("SSL_CERT_FILE", &bundle);
    std::env::remove_var("SSL_CERT_DIR");

    let server = Server::start(Some(server_tls(&pki.server, None)), ok_handler());
    let get = || step::request(http::Method::GET, "/version", None).unwrap();

    // No CA configured: the test CA in the system store signs the server's certificate.
    let config = Config::kubernetes(&server.https_url()).unwrap();
    let resp = TokioTransport::new(&config)
        .unwrap()
        .send(get(), clustermanager_core::deadline::Io::new())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resp.status(), 200);

    // A configured CA replaces the system store: the server is no longer trusted.
    let other = ca("someone else's CA");
    let config = config.with_tls(TlsConfig { ca_pem: vec![other.cert_pem()], ..TlsConfig::default() });
    let err =
        TokioTransport::new(&config).unwrap().send(get(), clustermanager_core::deadline::Io::new()).await.unwrap_err();
    assert!(
        matches!(&err, Error::Transport { kind: TransportErrorKind::Tls, message } if message.contains("unknown CA")),
        "{err:?}"
    );
    assert_eq!(server.seen.count(), 1);
}
