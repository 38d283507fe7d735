//! A throwaway PKI for tests over real loopback sockets, generated with rcgen: a CA, a server
//! certificate for `localhost` / `127.0.0.1` and a client certificate signed by it, self-signed
//! certificates, and the rustls server configuration presenting them.
//!
//! ```
//! use clustermanager_tests::pki::{server_tls, Pki};
//! let pki = Pki::new();
//! let config = server_tls(&pki.server, Some(&pki.ca)); // requires a client certificate
//! assert_eq!(config.alpn_protocols, [b"http/1.1".to_vec()]);
//! ```

// Test support: a certificate that cannot be generated is a broken test setup.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

/// A certificate and its key.
pub struct Issued {
    /// The certificate.
    pub cert: rcgen::Certificate,
    /// Its private key.
    pub key: KeyPair,
}

impl Issued {
    /// The certificate, PEM.
    pub fn cert_pem(&self) -> Vec<u8> {
        self.cert.pem().into_bytes()
    }
    /// The private key, PKCS#8 PEM.
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }
    /// The certificate, DER.
    pub fn der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }
    /// The private key, PKCS#8 DER.
    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.serialize_der()))
    }
}

/// A CA that signed a server certificate (localhost, 127.0.0.1) and a client certificate.
pub struct Pki {
    /// The CA (self-signed).
    pub ca: Issued,
    /// A server certificate for `localhost` and `127.0.0.1`.
    pub server: Issued,
    /// A client certificate (CN `test-user`).
    pub client: Issued,
}

fn dn(name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    dn
}

/// A fresh self-signed CA called `name`.
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
    /// A fresh CA with its server and client certificates.
    #[allow(clippy::new_without_default)]
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
