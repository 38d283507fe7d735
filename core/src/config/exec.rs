//! Kubeconfig exec credential plugins: the command to run (run by the transport, which does the
//! I/O) and the parsing of the `ExecCredential` it prints, with expiry.
//!
//! [`ExecState`] is the policy without the running, like [`TokenFile`](super::token_file::TokenFile)
//! for token files: the transport asks [`ExecState::due`] for a fresh cached credential, and when
//! there is none it runs the plugin with [`plugin_env`] and hands the outcome to
//! [`ExecState::update`]; after a 401 it calls [`ExecState::invalidate`].

use serde::Deserialize;

use super::{bearer_header, Identity};
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

/// The `apiVersion` told to a plugin whose config names none.
const DEFAULT_API_VERSION: &str = "client.authentication.k8s.io/v1";

/// Where plugin errors point in a kubeconfig.
const COMMAND_FIELD: &str = "users[].user.exec.command";

/// The environment a plugin runs with, in order: `KUBERNETES_EXEC_INFO` (the `ExecCredential`
/// request: its `apiVersion`, non-interactive), then the config's own `env` (values exposed: they
/// are for the child process only).
pub fn plugin_env(config: &ExecConfig) -> Vec<(String, String)> {
    let api_version = if config.api_version.is_empty() { DEFAULT_API_VERSION } else { config.api_version.as_str() };
    let info = serde_json::json!({
        "apiVersion": api_version,
        "kind": "ExecCredential",
        "spec": { "interactive": false },
    });
    let mut env = vec![("KUBERNETES_EXEC_INFO".to_owned(), info.to_string())];
    env.extend(config.env.iter().map(|(name, value)| (name.clone(), value.expose().to_owned())));
    env
}

/// The most a plugin may print on stdout: an `ExecCredential` is a few KiB; a plugin that prints
/// more is stopped and its output refused.
pub const MAX_PLUGIN_STDOUT: usize = 1 << 20;
/// The most of a plugin's stderr that is kept (for the error message when it fails); the rest is
/// read and dropped.
pub const MAX_PLUGIN_STDERR: usize = 64 << 10;

/// How a plugin run ended, as the transport saw it. No `Debug`: stdout holds the credential.
pub struct PluginRun {
    /// Whether it exited with status 0.
    pub success: bool,
    /// Its exit status in words (`exit status: 1`, `signal: 9 (SIGKILL)`), for errors.
    pub status: String,
    /// What it printed on stdout: the `ExecCredential` (at most [`MAX_PLUGIN_STDOUT`] bytes).
    pub stdout: Vec<u8>,
    /// It printed more than [`MAX_PLUGIN_STDOUT`] bytes on stdout (and was stopped).
    pub stdout_cut: bool,
    /// What it printed on stderr (an excerpt goes into the error when it fails).
    pub stderr: Vec<u8>,
}

/// What an exec plugin gives one request. No `Debug`: the header is a credential.
pub struct ExecAuth {
    /// `Authorization: Bearer` (a sensitive header value) when the plugin gave a token.
    pub header: Option<http::HeaderValue>,
    /// The client identity when the plugin gave a certificate.
    pub identity: Option<Identity>,
}

/// The cached state of one exec plugin: its config and the last credential it printed.
#[derive(Debug)]
pub struct ExecState {
    config: ExecConfig,
    cached: Option<ExecCredential>,
}

impl ExecState {
    /// The state of the plugin `config`, with no credential yet.
    pub fn new(config: ExecConfig) -> Self {
        ExecState { config, cached: None }
    }

    /// The plugin to run: command, arguments (its environment is [`plugin_env`]).
    pub fn config(&self) -> &ExecConfig {
        &self.config
    }

    /// The cached credential if it is still fresh at `now_unix` (seconds since the epoch, with
    /// [`ExecCredential::is_fresh`]'s margin); `None` means: run the plugin and call
    /// [`update`](Self::update). A cached token that is not a valid header value is an error.
    pub fn due(&self, now_unix: i64) -> Option<Result<ExecAuth>> {
        self.cached.as_ref().filter(|c| c.is_fresh(now_unix)).map(auth_of)
    }

    /// The outcome of running the plugin: the process could not start (`Err`), or it exited
    /// ([`PluginRun`]). A success is parsed and cached; a failure is a
    /// [`Error::Config`] naming the command, its exit status and the start of its stderr (never
    /// its stdout, which would hold the credential), and keeps whatever was cached.
    pub fn update(&mut self, run: std::io::Result<PluginRun>) -> Result<ExecAuth> {
        let output = run.map_err(|e| {
            Error::config(
                COMMAND_FIELD,
                format!(
                    "cannot run the credential plugin {:?}: {e}; install it or fix the command path",
                    self.config.command
                ),
            )
        })?;
        // first: a plugin stopped for printing too much did not exit by itself
        if output.stdout_cut {
            return Err(Error::config(
                COMMAND_FIELD,
                format!(
                    "the credential plugin {:?} printed more than {MAX_PLUGIN_STDOUT} bytes on stdout, where an \
                     ExecCredential of a few KiB belongs; it was stopped. Check that the command is a credential \
                     plugin (and that it logs to stderr)",
                    self.config.command
                ),
            ));
        }
        if !output.success {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let stderr: String = stderr.trim().chars().take(300).collect();
            return Err(Error::config(
                COMMAND_FIELD,
                format!("the credential plugin {:?} failed ({}): {stderr}", self.config.command, output.status),
            ));
        }
        let cred = parse_exec_credential(&output.stdout)?;
        let auth = auth_of(&cred);
        self.cached = Some(cred);
        auth
    }

    /// Forget the cached credential (the server refused it): the next request runs the plugin.
    pub fn invalidate(&mut self) {
        self.cached = None;
    }
}

fn auth_of(cred: &ExecCredential) -> Result<ExecAuth> {
    let header = cred.token.as_ref().map(bearer_header).transpose()?;
    Ok(ExecAuth { header, identity: cred.client_identity.clone() })
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

    /// A plugin run that exited with `code` after printing `stdout` and `stderr`.
    fn exited(code: i32, stdout: &str, stderr: &str) -> std::io::Result<PluginRun> {
        Ok(PluginRun {
            success: code == 0,
            status: format!("exit status: {code}"),
            stdout: stdout.as_bytes().to_vec(),
            stdout_cut: false,
            stderr: stderr.as_bytes().to_vec(),
        })
    }

    #[test]
    fn a_plugin_that_printed_too_much_is_refused_without_its_output() {
        let mut state = ExecState::new(ExecConfig { command: "chatty".into(), ..ExecConfig::default() });
        let run = PluginRun {
            success: true,
            status: "exit status: 0".into(),
            stdout: b"s3cr3t".repeat(10),
            stdout_cut: true,
            stderr: Vec::new(),
        };
        let err = state.update(Ok(run)).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("more than") && !err.contains("s3cr3t"), "{err}");
    }

    const EXPIRING: &str =
        r#"{"kind":"ExecCredential","status":{"token":"s3cr3t","expirationTimestamp":"2026-11-25T20:42:26Z"}}"#;
    const EXPIRY: i64 = 1_795_639_346;

    fn bearer(auth: &ExecAuth) -> Option<&[u8]> {
        auth.header.as_ref().map(http::HeaderValue::as_bytes)
    }

    #[test]
    fn exec_state_runs_once_then_serves_the_cache_until_expiry() {
        let mut state = ExecState::new(ExecConfig { command: "plugin".into(), ..ExecConfig::default() });
        assert!(state.due(EXPIRY - 600).is_none(), "nothing cached: the plugin must run");
        let auth = state.update(exited(0, EXPIRING, "")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bearer(&auth), Some(&b"Bearer s3cr3t"[..]));
        let cached = state.due(EXPIRY - 600).map(|r| r.unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(cached.as_ref().and_then(bearer), Some(&b"Bearer s3cr3t"[..]));
        assert!(state.due(EXPIRY - 5).is_none(), "within the margin of expiry: run again");
        assert!(state.due(EXPIRY + 1).is_none(), "expired: run again");
    }

    #[test]
    fn exec_state_without_expiry_stays_fresh_until_a_401() {
        let mut state = ExecState::new(ExecConfig::default());
        let out = r#"{"kind":"ExecCredential","status":{"token":"forever"}}"#;
        state.update(exited(0, out, "")).unwrap_or_else(|e| panic!("{e}"));
        assert!(state.due(i64::MAX / 2).is_some());
        state.invalidate();
        assert!(state.due(0).is_none(), "after a 401 the plugin must run again");
    }

    #[test]
    fn exec_state_failure_quotes_stderr_not_stdout_and_keeps_the_cache() {
        let mut state = ExecState::new(ExecConfig { command: "aws-iam".into(), ..ExecConfig::default() });
        state.update(exited(0, EXPIRING, "")).unwrap_or_else(|e| panic!("{e}"));
        let err = state.update(exited(1, r#"{"status":{"token":"l3aked"}}"#, "  no SSO session\n"));
        let text = err.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains("aws-iam") && text.contains("no SSO session"), "{text}");
        assert!(!text.contains("l3aked") && !text.contains("s3cr3t"), "{text}");
        assert!(state.due(EXPIRY - 600).is_some(), "a failed run keeps the fresh credential");
        let long = "x".repeat(1000);
        let text = state.update(exited(2, "", &long)).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(text.len() < 500, "stderr is cut to an excerpt: {text}");
    }

    #[test]
    fn exec_state_plugin_that_cannot_start_says_what_to_do() {
        let mut state = ExecState::new(ExecConfig { command: "/no/such/plugin".into(), ..ExecConfig::default() });
        let err = state.update(Err(std::io::Error::from(std::io::ErrorKind::NotFound)));
        assert!(matches!(&err, Err(Error::Config { .. })));
        let text = err.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains("/no/such/plugin") && text.contains("install it"), "{text}");
        assert!(state.due(0).is_none());
    }

    #[test]
    fn plugin_env_tells_the_api_version_then_the_configs_env() {
        let config = ExecConfig {
            api_version: "client.authentication.k8s.io/v1beta1".into(),
            env: vec![("AWS_PROFILE".into(), Secret::new("dev"))],
            ..ExecConfig::default()
        };
        let env = plugin_env(&config);
        assert_eq!(env.len(), 2);
        assert_eq!(env[0].0, "KUBERNETES_EXEC_INFO");
        let info: serde_json::Value = serde_json::from_str(&env[0].1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(info["apiVersion"], "client.authentication.k8s.io/v1beta1");
        assert_eq!(info["kind"], "ExecCredential");
        assert_eq!(info["spec"]["interactive"], false);
        assert_eq!(env[1], ("AWS_PROFILE".to_owned(), "dev".to_owned()));
        let default = plugin_env(&ExecConfig::default());
        assert!(default[0].1.contains("client.authentication.k8s.io/v1\""), "{}", default[0].1);
    }
}
