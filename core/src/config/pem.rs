//! PEM checks shared by the loaders: CA bundles and client identities are parsed with
//! `rustls-pki-types` when the config is built, so a garbage certificate or key fails here, naming
//! the setting, rather than at the first connection.
//!
//! Errors never quote the input: a key is a secret, and even a certificate file may hold one.

use base64::Engine as _;
use rustls_pki_types::pem::{PemObject, SectionKind};

use super::{Environment, Identity};
use crate::error::{Error, Result};
use crate::secret::Secret;

/// Every PEM section of `pem` that rustls understands, decoded. The error says why, without
/// quoting the text.
fn sections(pem: &[u8], key: &str, what: &str) -> Result<Vec<(SectionKind, Vec<u8>)>> {
    let mut out = Vec::new();
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(pem) {
        let section =
            section.map_err(|e| Error::config(key, format!("{what} is not valid PEM: {}", pem_problem(&e))))?;
        out.push(section);
    }
    Ok(out)
}

fn pem_problem(e: &rustls_pki_types::pem::Error) -> &'static str {
    use rustls_pki_types::pem::Error as E;
    match e {
        E::MissingSectionEnd { .. } => "a section has no END line",
        E::IllegalSectionStart { .. } => "a BEGIN line is malformed",
        E::Base64Decode(_) => "a section's body is not base64",
        E::NoItemsFound => "no PEM section found",
        E::SectionTooLarge => "a section is larger than 256 MB",
        _ => "unreadable PEM",
    }
}

fn label(kind: SectionKind) -> &'static str {
    match kind {
        SectionKind::Certificate => "CERTIFICATE",
        SectionKind::RsaPrivateKey => "RSA PRIVATE KEY",
        SectionKind::EcPrivateKey => "EC PRIVATE KEY",
        _ => "PRIVATE KEY",
    }
}

fn is_private_key(kind: SectionKind) -> bool {
    matches!(kind, SectionKind::PrivateKey | SectionKind::RsaPrivateKey | SectionKind::EcPrivateKey)
}

/// Encode one DER section as PEM (64-column base64 lines).
fn encode(kind: SectionKind, der: &[u8], out: &mut String) {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let name = label(kind);
    out.push_str("-----BEGIN ");
    out.push_str(name);
    out.push_str("-----\n");
    let mut rest = b64.as_str();
    while !rest.is_empty() {
        let (line, tail) = rest.split_at(rest.len().min(64));
        out.push_str(line);
        out.push('\n');
        rest = tail;
    }
    out.push_str("-----END ");
    out.push_str(name);
    out.push_str("-----\n");
}

/// Check that `pem` holds at least one certificate and return the certificates only, as PEM.
/// `key` names the setting in errors.
pub(crate) fn ca_bundle(pem: &[u8], key: &str) -> Result<Vec<u8>> {
    let mut out = String::new();
    let mut private = false;
    for (kind, der) in sections(pem, key, "the CA certificate")? {
        if kind == SectionKind::Certificate {
            encode(kind, &der, &mut out);
        } else if is_private_key(kind) {
            private = true;
        }
    }
    if out.is_empty() {
        let hint = if private { " (it holds a private key: wrong file?)" } else { "" };
        return Err(Error::config(key, format!("no PEM CERTIFICATE found in the CA{hint}")));
    }
    Ok(out.into_bytes())
}

/// Build a client [`Identity`] from a PEM certificate chain and a PEM private key. When `key_pem`
/// is `None`, the key is looked for in `cert_pem` (a file holding both). Both are checked and
/// re-encoded so that the certificate side holds no key material.
pub(crate) fn identity(cert_pem: &[u8], cert_key: &str, key_pem: Option<&[u8]>, key_key: &str) -> Result<Identity> {
    let mut certs = String::new();
    let mut key_in_cert = None;
    for (kind, der) in sections(cert_pem, cert_key, "the client certificate")? {
        if kind == SectionKind::Certificate {
            encode(kind, &der, &mut certs);
        } else if is_private_key(kind) && key_in_cert.is_none() {
            let mut k = String::new();
            encode(kind, &der, &mut k);
            key_in_cert = Some(k);
        }
    }
    if certs.is_empty() {
        return Err(Error::config(cert_key, "no PEM CERTIFICATE found in the client certificate"));
    }
    let key = match key_pem {
        Some(key_pem) => {
            let mut found = None;
            for (kind, der) in sections(key_pem, key_key, "the client key")? {
                if is_private_key(kind) {
                    let mut k = String::new();
                    encode(kind, &der, &mut k);
                    found = Some(k);
                    break;
                }
            }
            found.ok_or_else(|| {
                Error::config(key_key, "no PEM PRIVATE KEY (PKCS#8, RSA or EC) found in the client key")
            })?
        }
        None => key_in_cert.ok_or_else(|| {
            Error::config(key_key, "the client certificate has no private key with it and no key was given")
        })?,
    };
    Ok(Identity { cert_pem: certs.into_bytes(), key_pem: Secret::new(key) })
}

/// Decode base64 (standard or URL-safe alphabet, padding optional, whitespace ignored). The
/// error never quotes the value.
pub(crate) fn decode_base64(value: &str, key: &str) -> Result<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    let compact: String = value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let config = GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let standard = GeneralPurpose::new(&base64::alphabet::STANDARD, config);
    let url_safe = GeneralPurpose::new(&base64::alphabet::URL_SAFE, config);
    standard
        .decode(&compact)
        .or_else(|_| url_safe.decode(&compact))
        .map_err(|_| Error::config(key, "is not valid base64"))
}

/// PEM given either as is (`-----BEGIN ...`) or base64-encoded (the seed's and kubeconfig's
/// `*-data` form).
pub(crate) fn pem_or_base64(value: &str, key: &str) -> Result<Vec<u8>> {
    if value.trim_start().starts_with("-----BEGIN") {
        Ok(value.as_bytes().to_vec())
    } else {
        decode_base64(value, key)
    }
}

/// Read a file through `env`, with an error naming the setting and the path (paths are not
/// secrets; contents are never quoted).
pub(crate) fn read_file<E: Environment + ?Sized>(env: &E, path: &str, key: &str) -> Result<Vec<u8>> {
    env.read_file(path).map_err(|e| Error::config(key, format!("cannot read {path:?}: {}", io_problem(&e))))
}

/// A short description of an I/O error.
pub(crate) fn io_problem(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    const CERT: &str = include_str!("../../tests/data/test-client-cert.pem");
    const KEY: &str = include_str!("../../tests/data/test-client-key.pem");
    const RSA: &str = include_str!("../../tests/data/test-rsa-pkcs1-key.pem");

    #[test]
    fn identity_round_trips_and_separates_key_from_cert() {
        let both = format!("{CERT}{KEY}");
        let id = identity(both.as_bytes(), "certificate", None, "key").unwrap();
        assert_eq!(String::from_utf8(id.cert_pem.clone()).unwrap().trim(), CERT.trim());
        assert_eq!(id.key_pem.expose().trim(), KEY.trim());
        let id = identity(CERT.as_bytes(), "certificate", Some(RSA.as_bytes()), "key").unwrap();
        assert!(id.key_pem.expose().starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    }

    #[test]
    fn garbage_is_refused_naming_the_setting() {
        let err = identity(CERT.as_bytes(), "certificate", None, "key").unwrap_err();
        assert!(matches!(&err, Error::Config { key, .. } if key == "key"), "{err}");
        let err = identity(b"hello", "certificate", Some(KEY.as_bytes()), "key").unwrap_err();
        assert!(matches!(&err, Error::Config { key, .. } if key == "certificate"), "{err}");
        let broken = KEY.replace("-----END PRIVATE KEY-----", "");
        let err = identity(CERT.as_bytes(), "certificate", Some(broken.as_bytes()), "key").unwrap_err();
        assert!(err.to_string().contains("END"), "{err}");
        assert!(ca_bundle(KEY.as_bytes(), "ca").unwrap_err().to_string().contains("wrong file"));
        assert!(ca_bundle(CERT.as_bytes(), "ca").is_ok());
    }

    #[test]
    fn base64_forms() {
        assert_eq!(decode_base64("aGVsbG8=", "k").unwrap(), b"hello");
        assert_eq!(decode_base64("aGVs\nbG8", "k").unwrap(), b"hello");
        assert_eq!(decode_base64("-_8", "k").unwrap(), vec![0xfb, 0xff]);
        let err = decode_base64("not base64 TOPSECRET!!", "k").unwrap_err().to_string();
        assert!(!err.contains("TOPSECRET"), "{err}");
    }
}
