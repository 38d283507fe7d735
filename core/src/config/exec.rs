//! Kubeconfig exec credential plugins: the command to run (run by the transport, which does the
//! I/O) and the parsing of the `ExecCredential` it prints, with expiry.

use serde::Deserialize;

use super::Identity;
use crate::error::{Error, Result};
use crate::secret::Secret;

/// An exec credential plugin from a kubeconfig `user.exec`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecConfig {
    /// `client.authentication.k8s.io/v1` or `v1beta1`.
    pub api_version: String,
    /// The program.
    pub command: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Extra environment (values may be secrets: redacted in Debug).
    pub env: Vec<(String, Secret)>,
}

/// What an exec plugin printed: a token and/or a client certificate, and when they expire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecCredential {
    /// Bearer token, if the plugin gave one.
    pub token: Option<Secret>,
    /// Client certificate and key, if the plugin gave them.
    pub client_identity: Option<Identity>,
    /// Expiry as seconds since the Unix epoch; `None` never expires.
    pub expires_at_unix: Option<i64>,
}

impl ExecCredential {
    /// Whether the credential is still usable at `now_unix` (seconds since the epoch), keeping a
    /// margin of 10 s so a request does not leave with a token that expires on the way.
    pub fn is_fresh(&self, now_unix: i64) -> bool {
        self.expires_at_unix.is_none_or(|exp| now_unix + 10 < exp)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    status: Option<RawStatus>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawStatus {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    client_certificate_data: Option<String>,
    #[serde(default)]
    client_key_data: Option<String>,
    #[serde(default)]
    expiration_timestamp: Option<String>,
}

/// Parse the JSON an exec plugin printed on stdout. The output is never quoted in errors (it
/// holds the credential).
pub fn parse_exec_credential(output: &[u8]) -> Result<ExecCredential> {
    let raw: Raw = serde_json::from_slice(output).map_err(|e| {
        Error::config(
            "users[].user.exec",
            format!("the plugin's output is not an ExecCredential: {}", e.classify_name()),
        )
    })?;
    if raw.kind.as_deref() != Some("ExecCredential") {
        return Err(Error::config("users[].user.exec", "the plugin's output is not of kind ExecCredential"));
    }
    let status =
        raw.status.ok_or_else(|| Error::config("users[].user.exec", "the plugin's ExecCredential has no status"))?;
    let client_identity = match (status.client_certificate_data, status.client_key_data) {
        (Some(cert), Some(key)) => Some(Identity { cert_pem: cert.into_bytes(), key_pem: Secret::new(key) }),
        (None, None) => None,
        _ => {
            return Err(Error::config(
                "users[].user.exec",
                "the plugin gave clientCertificateData without clientKeyData (or the reverse)",
            ))
        }
    };
    let token = status.token.filter(|t| !t.is_empty()).map(Secret::new);
    if token.is_none() && client_identity.is_none() {
        return Err(Error::config(
            "users[].user.exec",
            "the plugin's ExecCredential has neither a token nor a client certificate",
        ));
    }
    let expires_at_unix = match status.expiration_timestamp {
        None => None,
        Some(ts) => Some(parse_rfc3339(&ts).ok_or_else(|| {
            Error::config("users[].user.exec", format!("expirationTimestamp {ts:?} is not an RFC 3339 time"))
        })?),
    };
    Ok(ExecCredential { token, client_identity, expires_at_unix })
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O error",
            serde_json::error::Category::Syntax => "invalid JSON",
            serde_json::error::Category::Data => "unexpected JSON shape",
            serde_json::error::Category::Eof => "truncated JSON",
        }
    }
}

/// Parse an RFC 3339 timestamp (`2026-11-26T01:02:03Z`, `...03.5+02:00`) into seconds since the
/// Unix epoch.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    // ASCII only, so the slices below are always on character boundaries.
    if !text.is_ascii()
        || b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |s: &str| s.parse::<i64>().ok();
    let (y, mo, d) = (num(&text[0..4])?, num(&text[5..7])?, num(&text[8..10])?);
    let (h, mi, s) = (num(&text[11..13])?, num(&text[14..16])?, num(&text[17..19])?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut rest = &text[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.find(|c: char| !c.is_ascii_digit()).unwrap_or(frac.len());
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && matches!(&rest[0..1], "+" | "-") && &rest[3..4] == ":" => {
            let sign = if &rest[0..1] == "-" { -1 } else { 1 };
            sign * (num(&rest[1..3])? * 3600 + num(&rest[4..6])? * 60)
        }
        _ => return None,
    };
    // days from civil (Howard Hinnant's algorithm)
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + s - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2026-11-25T20:42:26Z"), Some(1_795_639_346));
        assert_eq!(parse_rfc3339("2026-11-25T22:42:26.123+02:00"), Some(1_795_639_346));
        assert_eq!(parse_rfc3339("yesterday"), None);
        // A multi-byte character across a field boundary is refused, not a panic.
        assert_eq!(parse_rfc3339("2026-11-25T20:42:2\u{e9}Z"), None);
        assert_eq!(parse_rfc3339("2026-11-25T20:42:26+\u{e9}:00"), None);
    }

    proptest::proptest! {
        #[test]
        fn rfc3339_never_panics(text in "[0-9T:Z+.-]{0,30}|\\PC{0,30}|2026-11-25T20:42:\\PC{0,8}") {
            let _ = parse_rfc3339(&text);
        }
    }

    #[test]
    fn exec_credential_with_token_and_expiry() {
        let out = br#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{},"status":{"token":"s3cr3t","expirationTimestamp":"2026-11-25T20:42:26Z"}}"#;
        let cred = parse_exec_credential(out).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cred.token.as_ref().map(Secret::expose), Some("s3cr3t"));
        assert!(cred.is_fresh(1_795_639_346 - 60));
        assert!(!cred.is_fresh(1_795_639_346 - 5));
        assert!(!format!("{cred:?}").contains("s3cr3t"));
    }

    #[test]
    fn bad_output_never_echoes_the_secret() {
        let err = parse_exec_credential(
            br#"{"kind":"ExecCredential","status":{"token":"s3cr3t","expirationTimestamp":"nope"}}"#,
        );
        assert!(matches!(err, Err(Error::Config { .. })));
        let err = parse_exec_credential(b"token=s3cr3t").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(!err.contains("s3cr3t"), "{err}");
    }
}
