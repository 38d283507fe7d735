//! rustls client configuration from a [`TlsConfig`]: trusted roots (the configured CA PEM, or the
//! operating system's trust store, or the bundled web roots when that store is empty or
//! unreadable), the client identity for mutual TLS (kept in memory only), the explicit dangerous
//! verifier behind `skip_verify`, and readable messages for handshake failures.

use std::sync::{Arc, Mutex, RwLock};

use clustermanager_core::config::{Auth, Identity, TlsConfig};
use clustermanager_core::error::TransportErrorKind;
use clustermanager_core::{Config, Error, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

#[cfg(not(any(feature = "ring", feature = "aws-lc-rs")))]
compile_error!("clustermanager needs a rustls crypto provider: enable the `ring` (default) or the `aws-lc-rs` feature");

/// The crypto provider every configuration here uses, chosen by the crate features: aws-lc-rs
/// when the `aws-lc-rs` feature is on, else ring (the default). No process-wide default is
/// installed or needed.
pub fn provider() -> Arc<CryptoProvider> {
    #[cfg(feature = "aws-lc-rs")]
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    let provider = rustls::crypto::ring::default_provider();
    Arc::new(provider)
}

/// ALPN offering HTTP/1.1 only.
pub const ALPN_HTTP1: &[&[u8]] = &[b"http/1.1"];
/// ALPN offering HTTP/2, then HTTP/1.1 (the server picks; kube-apiserver picks h2).
pub const ALPN_H2_HTTP1: &[&[u8]] = &[b"h2", b"http/1.1"];

/// Build the rustls client configuration, offering `alpn`. `identity` overrides the configured
/// client identity (an exec plugin's certificate).
pub fn client_config(tls: &TlsConfig, identity: Option<&Identity>, alpn: &[&[u8]]) -> Result<Arc<ClientConfig>> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config("tls", format!("no usable TLS protocol version: {e}")))?;
    let builder = if tls.skip_verify {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(NoVerification(provider())))
    } else {
        builder.with_root_certificates(root_store(&tls.ca_pem)?)
    };
    let mut config = match identity.or(tls.client_identity.as_ref()) {
        None => builder.with_no_client_auth(),
        Some(identity) => {
            let (chain, key) = parse_identity(identity)?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                Error::config(
                    "client-key",
                    format!("the client certificate and key cannot be used together: {e}; check that the key belongs to the certificate"),
                )
            })?
        }
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The trusted roots: every certificate in the configured CA PEM documents (and only those), or
/// the default roots (see [`default_roots`]) when none is configured.
fn root_store(ca_pem: &[Vec<u8>]) -> Result<RootCertStore> {
    if ca_pem.is_empty() {
        return Ok(default_roots());
    }
    let mut roots = RootCertStore::empty();
    for (i, pem) in ca_pem.iter().enumerate() {
        let mut found = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| Error::config("ca", format!("CA document {} is not valid PEM: {e}", i + 1)))?;
            roots.add(cert).map_err(|e| {
                Error::config("ca", format!("CA document {} holds a certificate rustls cannot use: {e}", i + 1))
            })?;
            found += 1;
        }
        if found == 0 {
            return Err(Error::config(
                "ca",
                format!(
                    "CA document {} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----); check ca / ca_file / certificate-authority",
                    i + 1
                ),
            ));
        }
    }
    Ok(roots)
}

/// The roots trusted when no CA is configured: the operating system's trust store (as curl and
/// client-go use it: the system bundle on Linux, honouring `SSL_CERT_FILE` / `SSL_CERT_DIR`, the
/// keychain on macOS, the certificate store on Windows), so a company CA installed on the machine
/// is trusted. When that store is empty or cannot be read, the bundled Mozilla roots
/// (webpki-roots), so a minimal container image without a CA bundle still reaches public servers.
///
/// Without the `native-roots` feature, only the bundled roots.
fn default_roots() -> RootCertStore {
    #[cfg(feature = "native-roots")]
    let system = {
        let native = rustls_native_certs::load_native_certs();
        for error in &native.errors {
            tracing::debug!(%error, "cannot read part of the operating system's trust store");
        }
        native.certs
    };
    #[cfg(not(feature = "native-roots"))]
    let system = Vec::new();
    roots_or_bundled(system)
}

/// The given system certificates as a root store, or the bundled web roots when none is usable.
fn roots_or_bundled(system: Vec<CertificateDer<'static>>) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    let (_, unusable) = roots.add_parsable_certificates(system);
    if unusable > 0 {
        tracing::debug!(unusable, "skipped certificates of the operating system's trust store that rustls cannot use");
    }
    if roots.is_empty() {
        tracing::debug!("the operating system's trust store is empty or unreadable; trusting the bundled web roots");
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    roots
}

/// The certificate chain and private key of a client identity, parsed from PEM in memory.
fn parse_identity(identity: &Identity) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let chain = CertificateDer::pem_slice_iter(&identity.cert_pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::config("client-certificate", format!("the client certificate is not valid PEM: {e}")))?;
    if chain.is_empty() {
        return Err(Error::config(
            "client-certificate",
            "the client certificate holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)",
        ));
    }
    // The key's parse error never quotes the key.
    let key = PrivateKeyDer::from_pem_slice(identity.key_pem.expose().as_bytes()).map_err(|_| {
        Error::config(
            "client-key",
            "the client key holds no PEM private key (expected PKCS#8, PKCS#1 RSA or SEC1 EC in PEM)",
        )
    })?;
    Ok((chain, key))
}

/// The name to check the server's certificate against: the configured override or the URL host.
pub fn server_name(tls: &TlsConfig, host: &str) -> Result<ServerName<'static>> {
    let name = tls.server_name.as_deref().unwrap_or(host);
    let name = name.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(name.to_owned())
        .map_err(|_| Error::config("tls-server-name", format!("{name:?} is neither a DNS name nor an IP address")))
}

/// Accepts any server certificate (still checking the handshake signatures, so the session keys
/// belong to whoever holds the presented key). Only ever built when `skip_verify` is set.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A [`Error::Transport`] of kind `Tls` explaining what went wrong in words a user can act on.
pub fn tls_error(err: &rustls::Error, host: &str) -> Error {
    use rustls::{AlertDescription as A, CertificateError as C};
    let what = match err {
        rustls::Error::InvalidCertificate(C::UnknownIssuer) => format!(
            "the certificate of {host} is signed by an unknown CA; set the CA (ca / ca_file / certificate-authority) to the one that signed the server's certificate"
        ),
        rustls::Error::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => format!(
            "the certificate of {host} is not valid for that name; connect by a name the certificate lists, or set the TLS server name (tls-server-name)"
        ),
        rustls::Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
            format!("the certificate of {host} has expired; renew it on the server (or check this machine's clock)")
        }
        rustls::Error::InvalidCertificate(C::NotValidYet | C::NotValidYetContext { .. }) => {
            format!("the certificate of {host} is not valid yet; check this machine's clock")
        }
        rustls::Error::AlertReceived(A::CertificateRequired) => format!(
            "{host} requires a client certificate; configure one (client-certificate / client-key) or a token"
        ),
        rustls::Error::AlertReceived(
            A::BadCertificate | A::UnknownCA | A::CertificateUnknown | A::UnsupportedCertificate | A::AccessDenied,
        ) => format!(
            "{host} refused our client certificate ({err}); check that it is signed by a CA the server trusts and not expired"
        ),
        rustls::Error::NoApplicationProtocol => {
            format!("{host} does not speak HTTP/1.1 over TLS (no common ALPN protocol)")
        }
        other => format!("TLS with {host} failed: {other}"),
    };
    Error::transport(TransportErrorKind::Tls, what)
}

/// The TLS side of one transport, shared by all its connections: the configured settings and the
/// rustls configuration new connections use, which changes when an exec plugin hands out a new
/// client certificate.
pub struct ClientTls {
    settings: TlsConfig,
    current: RwLock<Arc<ClientConfig>>,
    /// The exec plugin's client identity currently in `current`.
    exec_identity: Mutex<Option<Identity>>,
    /// The application protocols offered.
    alpn: &'static [&'static [u8]],
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl ClientTls {
    /// The TLS side of a transport to `config.server`. Checks the CA and client certificate now
    /// (a bad one is a [`Error::Config`] naming it), refuses credentials over plain `http://`
    /// to a server off loopback unless the config asks for it ([`Config::check_plain_http`]),
    /// and warns once when verification is off for an `https` server.
    pub fn new(config: &Config) -> Result<Self> {
        Self::offering(config, ALPN_HTTP1)
    }

    /// Like [`new`](Self::new), offering the application protocols `alpn` (e.g.
    /// [`ALPN_H2_HTTP1`]); the transport must speak whichever the server picks.
    pub fn offering(config: &Config, alpn: &'static [&'static [u8]]) -> Result<Self> {
        config.check_plain_http()?;
        if config.server.scheme() == "http" && !matches!(config.auth, Auth::None) && !config.server_is_loopback() {
            tracing::warn!(
                server = %config.server,
                "credentials will be sent over plain http, as asked for (with_plain_http_credentials): \
                 anyone on the network path can read them"
            );
        }
        if config.tls.skip_verify && config.server.scheme() == "https" {
            tracing::warn!(
                server = %config.server,
                "TLS verification of the server's certificate is OFF (skip_verify / insecure-skip-tls-verify): \
                 anyone on the network path can read and change this traffic, including credentials"
            );
        }
        let current = client_config(&config.tls, None, alpn)?;
        Ok(ClientTls {
            settings: config.tls.clone(),
            current: RwLock::new(current),
            exec_identity: Mutex::new(None),
            alpn,
        })
    }

    /// What a new TLS connection to `host` needs: the name to verify and the client configuration.
    pub fn for_host(&self, host: &str) -> Result<(ServerName<'static>, Arc<ClientConfig>)> {
        let name = server_name(&self.settings, host)?;
        let config = Arc::clone(&self.current.read().unwrap_or_else(|p| p.into_inner()));
        Ok((name, config))
    }

    /// Whether an exec plugin's client certificate is in the configuration for new connections
    /// (for a client that makes its TLS connections itself and could not present it).
    pub fn has_exec_identity(&self) -> bool {
        self.exec_identity.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    /// Put an exec plugin's client certificate into the configuration for new connections (a
    /// no-op when it is the one already there).
    pub fn use_exec_identity(&self, identity: Identity) -> Result<()> {
        let mut current = self.exec_identity.lock().unwrap_or_else(|p| p.into_inner());
        if current.as_ref() == Some(&identity) {
            return Ok(());
        }
        let config = client_config(&self.settings, Some(&identity), self.alpn)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = config;
        *current = Some(identity);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn ca_pem(name: &str) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        params.self_signed(&key).unwrap().pem().into_bytes()
    }

    #[test]
    fn default_roots_are_not_empty_on_this_machine() {
        let roots = root_store(&[]).unwrap();
        assert!(!roots.is_empty());
        // Whatever the machine has, the system store is what is read first.
        let system = rustls_native_certs::load_native_certs().certs;
        if !system.is_empty() {
            let mut expected = RootCertStore::empty();
            expected.add_parsable_certificates(system);
            assert_eq!(roots.len(), expected.len(), "the system store, not the bundled roots");
        }
    }

    #[test]
    fn an_empty_system_store_falls_back_to_the_bundled_roots() {
        assert_eq!(roots_or_bundled(Vec::new()).len(), webpki_roots::TLS_SERVER_ROOTS.len());
        // Unusable system certificates count as none.
        let garbage = CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x00]);
        assert_eq!(roots_or_bundled(vec![garbage]).len(), webpki_roots::TLS_SERVER_ROOTS.len());
    }

    #[test]
    fn a_configured_ca_replaces_the_default_roots() {
        assert_eq!(root_store(&[ca_pem("one")]).unwrap().len(), 1);
        let mut two = ca_pem("two");
        two.extend(ca_pem("three"));
        assert_eq!(root_store(&[ca_pem("one"), two]).unwrap().len(), 3);
    }

    fn identity(name: &str) -> Identity {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap().self_signed(&key).unwrap();
        Identity { cert_pem: cert.pem().into_bytes(), key_pem: key.serialize_pem().into() }
    }

    #[test]
    fn client_tls_swaps_the_config_only_for_a_new_exec_identity() {
        let config = Config::kubernetes("https://127.0.0.1:6443").unwrap();
        let tls = ClientTls::new(&config).unwrap();
        let (_, first) = tls.for_host("127.0.0.1").unwrap();
        let alice = identity("alice");
        assert!(!tls.has_exec_identity());
        tls.use_exec_identity(alice.clone()).unwrap();
        assert!(tls.has_exec_identity());
        let (_, second) = tls.for_host("127.0.0.1").unwrap();
        assert!(!Arc::ptr_eq(&first, &second), "a new identity gives new connections a new config");
        tls.use_exec_identity(alice).unwrap();
        let (_, third) = tls.for_host("127.0.0.1").unwrap();
        assert!(Arc::ptr_eq(&second, &third), "the same identity again changes nothing");
    }

    #[test]
    fn client_tls_refuses_a_broken_exec_identity_and_keeps_the_config() {
        let config = Config::kubernetes("https://127.0.0.1:6443").unwrap();
        let tls = ClientTls::new(&config).unwrap();
        let (_, before) = tls.for_host("localhost").unwrap();
        let broken = Identity { cert_pem: b"not a certificate".to_vec(), key_pem: "not a key".into() };
        assert!(tls.use_exec_identity(broken).is_err());
        assert!(!tls.has_exec_identity());
        let (_, after) = tls.for_host("localhost").unwrap();
        assert!(Arc::ptr_eq(&before, &after));
        assert!(!format!("{tls:?}").contains("not a key"));
    }
}
