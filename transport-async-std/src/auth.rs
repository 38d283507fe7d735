//! Credentials that need I/O: a bearer token read from a file (re-read when it may have rotated)
//! and the token of a kubeconfig exec plugin (run again when it expires). Both are cached behind
//! an async mutex (async-lock) so concurrent requests read the file or run the plugin once. The
//! file is read on blocking's thread pool; the plugin runs under async-process. No tokio.

use std::process::Stdio;
use std::time::{Duration, Instant};

use async_lock::Mutex;
use clustermanager_core::config::exec::{plugin_env, ExecAuth, ExecConfig, ExecState};
use clustermanager_core::config::token_file::{self, TokenFile};
use clustermanager_core::Result;
use clustermanager_transport_common::exec::plugin_run;
use clustermanager_transport_common::now_unix;

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

/// An exec plugin: core's [`ExecState`] policy (freshness, error text, 401 invalidation) behind
/// an async mutex, with this runtime running the plugin.
pub(crate) struct ExecCache {
    state: Mutex<ExecState>,
}

impl ExecCache {
    pub(crate) fn new(config: ExecConfig) -> Self {
        ExecCache { state: Mutex::new(ExecState::new(config)) }
    }

    /// Forget the cached credential (the server refused it): the next request runs the plugin.
    pub(crate) async fn invalidate(&self) {
        self.state.lock().await.invalidate();
    }

    /// The plugin's credential, running it when there is none yet or it is no longer fresh. The
    /// child is killed if the request is dropped while it runs.
    pub(crate) async fn credential(&self) -> Result<ExecAuth> {
        let mut state = self.state.lock().await;
        if let Some(auth) = state.due(now_unix()) {
            return auth;
        }
        let config = state.config();
        let mut command = async_process::Command::new(&config.command);
        command
            .args(&config.args)
            .envs(plugin_env(config))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let output = command.output().await.map(plugin_run);
        state.update(output)
    }
}
