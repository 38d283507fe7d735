//! rustls client configuration from a [`TlsConfig`]: trusted roots (the configured CA PEM, or the
//! web roots), the client identity for mutual TLS (kept in memory only), the explicit dangerous
//! verifier behind `skip_verify`, and readable messages for handshake failures.

use std::sync::Arc;

use clustermanager_core::config::{Identity, TlsConfig};
use clustermanager_core::error::TransportErrorKind;
use clustermanager_core::{Error, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// The crypto provider every configuration here uses (ring; no process-wide default needed).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Build the rustls client configuration. `identity` overrides the configured client identity
/// (an exec plugin's certificate).
pub fn client_config(tls: &TlsConfig, identity: Option<&Identity>) -> Result<Arc<ClientConfig>> {
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
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The trusted roots: every certificate in the configured CA PEM documents, or the web roots when
/// none is configured.
fn root_store(ca_pem: &[Vec<u8>]) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    if ca_pem.is_empty() {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        return Ok(roots);
    }
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
