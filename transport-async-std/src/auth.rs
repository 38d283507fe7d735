//! Credentials that need I/O: a bearer token read from a file (re-read when it may have rotated)
//! and the token of a kubeconfig exec plugin (run again when it expires). Both are cached behind
//! an async mutex (async-lock) so concurrent requests read the file or run the plugin once. The
//! file is read on blocking's thread pool; the plugin runs under async-process. No tokio.

use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_lock::Mutex;
use clustermanager_core::config::exec::{parse_exec_credential, ExecConfig, ExecCredential};
use clustermanager_core::config::token_file::{self, TokenFile};
use clustermanager_core::config::{bearer_header, Identity};
use clustermanager_core::{Error, Result};

/// How often a token file is read again by default: service-account tokens are rotated well
/// before they expire, and kubelet refreshes the file every few minutes.
pub const DEFAULT_TOKEN_FILE_REFRESH: Duration = token_file::DEFAULT_REFRESH;

/// A token file: core's [`TokenFile`] policy (refresh, keep the old token while the file is
/// mid-rotation) behind an async mutex, with this runtime doing the read.
pub(crate) struct TokenFileCache {
    state: Mutex<TokenFile>,
}

impl TokenFileCache {
    pub(crate) fn new(path: String, refresh: Duration) -> Self {
        TokenFileCache { state: Mutex::new(TokenFile::new(path, refresh)) }
    }

    /// The `Authorization` header, from the cache while it is younger than the refresh interval.
    pub(crate) async fn header(&self) -> Result<http::HeaderValue> {
        let mut state = self.state.lock().await;
        if let Some(value) = state.due(Instant::now()) {
            return Ok(value);
        }
        let path = state.path().to_owned();
        let read = blocking::unblock(move || std::fs::read(path)).await;
        state.update(Instant::now(), read)
    }
}

/// A cached exec plugin credential.
pub(crate) struct ExecCache {
    config: ExecConfig,
    cached: Mutex<Option<ExecCredential>>,
}

/// What an exec plugin gave for one request.
pub(crate) struct ExecAuth {
    /// `Authorization: Bearer` when it gave a token.
    pub(crate) header: Option<http::HeaderValue>,
    /// The client identity when it gave a certificate.
    pub(crate) identity: Option<Identity>,
}

impl ExecCache {
    pub(crate) fn new(config: ExecConfig) -> Self {
        ExecCache { config, cached: Mutex::new(None) }
    }

    /// Forget the cached credential (the server refused it): the next request runs the plugin.
    pub(crate) async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    /// The plugin's credential, running it when there is none yet or it is no longer fresh.
    pub(crate) async fn credential(&self) -> Result<ExecAuth> {
        let mut cached = self.cached.lock().await;
        let fresh = cached.as_ref().is_some_and(|c| c.is_fresh(now_unix()));
        if !fresh {
            *cached = Some(run_plugin(&self.config).await?);
        }
        let cred = cached.as_ref().ok_or_else(|| Error::protocol("exec credential missing after a run"))?;
        let header = cred.token.as_ref().map(bearer_header).transpose()?;
        Ok(ExecAuth { header, identity: cred.client_identity.clone() })
    }
}

fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Run the plugin with its environment and `KUBERNETES_EXEC_INFO`, and parse what it prints. The
/// child is killed if the request is dropped while it runs.
async fn run_plugin(config: &ExecConfig) -> Result<ExecCredential> {
    let api_version =
        if config.api_version.is_empty() { "client.authentication.k8s.io/v1" } else { config.api_version.as_str() };
    let info = serde_json::json!({
        "apiVersion": api_version,
        "kind": "ExecCredential",
        "spec": { "interactive": false },
    });
    let mut command = async_process::Command::new(&config.command);
    command
        .args(&config.args)
        .env("KUBERNETES_EXEC_INFO", info.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (name, value) in &config.env {
        command.env(name, value.expose());
    }
    let output = command.output().await.map_err(|e| {
        Error::config(
            "users[].user.exec.command",
            format!("cannot run the credential plugin {:?}: {e}; install it or fix the command path", config.command),
        )
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stderr: String = stderr.trim().chars().take(300).collect();
        return Err(Error::config(
            "users[].user.exec.command",
            format!("the credential plugin {:?} failed ({}): {stderr}", config.command, output.status),
        ));
    }
    parse_exec_credential(&output.stdout)
}
