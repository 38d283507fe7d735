//! Credentials that need I/O, whatever the runtime: a bearer token read from a file (re-read when
//! it may have rotated, core's [`TokenFile`] policy) and the credential of a kubeconfig exec plugin
//! (run again when it expires or is refused, core's [`ExecState`] policy). Each is cached behind an
//! async mutex (async-lock, runtime-independent) so concurrent requests read the file or run the
//! plugin once. The transport supplies only the I/O, through [`CredentialIo`].

use std::future::Future;
use std::marker::PhantomData;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use async_lock::Mutex;
use clustermanager_core::config::exec::{plugin_env, ExecAuth, ExecConfig, ExecState};
use clustermanager_core::config::token_file::{self, TokenFile};
use clustermanager_core::config::Auth;
use clustermanager_core::Result;

use crate::exec::{capture, plugin_run, Child};
use crate::now_unix;
use crate::tls::ClientTls;

/// How often a token file is read again by default: service-account tokens are rotated well
/// before they expire, and kubelet refreshes the file every few minutes.
pub const DEFAULT_TOKEN_FILE_REFRESH: Duration = token_file::DEFAULT_REFRESH;

/// The I/O a runtime does for credentials.
pub trait CredentialIo: Send + Sync + 'static {
    /// An exec plugin running under the runtime's process API.
    type Plugin: Child;

    /// Read the whole file at `path` without blocking the executor.
    fn read_file(path: String) -> impl Future<Output = std::io::Result<Vec<u8>>> + Send;

    /// Spawn `command` with stdin null and stdout and stderr piped, to be killed if the returned
    /// [`Child`] is dropped while it runs; [`capture`] reads its output and waits for it.
    fn spawn(command: Command) -> std::io::Result<Self::Plugin>;
}

/// The command for an exec plugin: its program, arguments and [`plugin_env`], stdin null, stdout
/// and stderr piped.
pub fn plugin_command(config: &ExecConfig) -> Command {
    let mut command = Command::new(&config.command);
    command
        .args(&config.args)
        .envs(plugin_env(config))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// A token file: core's [`TokenFile`] policy behind an async mutex, with `R` doing the read.
struct TokenFileCache<R> {
    state: Mutex<TokenFile>,
    io: PhantomData<fn() -> R>,
}

impl<R: CredentialIo> TokenFileCache<R> {
    /// The `Authorization` header, from the cache while it is younger than the refresh interval.
    async fn header(&self) -> Result<http::HeaderValue> {
        let mut state = self.state.lock().await;
        if let Some(value) = state.due(Instant::now()) {
            return Ok(value);
        }
        let read = R::read_file(state.path().to_owned()).await;
        state.update(Instant::now(), read)
    }
}

/// An exec plugin: core's [`ExecState`] policy behind an async mutex, with `R` running it.
struct ExecCache<R> {
    state: Mutex<ExecState>,
    io: PhantomData<fn() -> R>,
}

impl<R: CredentialIo> ExecCache<R> {
    /// The plugin's credential, running it when there is none yet or it is no longer fresh.
    async fn credential(&self) -> Result<ExecAuth> {
        let mut state = self.state.lock().await;
        if let Some(auth) = state.due(now_unix()) {
            return auth;
        }
        let run = async { capture(R::spawn(plugin_command(state.config()))?).await };
        let output = run.await.map(plugin_run);
        state.update(output)
    }
}

/// The credentials a transport reads or computes itself, for one [`Auth`]; the static ones
/// (token, basic) are added by core's `Config::prepare`.
pub struct DynamicAuth<R> {
    kind: Kind<R>,
}

enum Kind<R> {
    None,
    TokenFile(TokenFileCache<R>),
    Exec(ExecCache<R>),
}

impl<R> std::fmt::Debug for DynamicAuth<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.kind {
            Kind::None => "none",
            Kind::TokenFile(_) => "token file",
            Kind::Exec(_) => "exec plugin",
        };
        f.debug_struct("DynamicAuth").field("kind", &kind).finish_non_exhaustive()
    }
}

impl<R: CredentialIo> DynamicAuth<R> {
    /// The dynamic part of `auth`: a token file re-read every `token_file_refresh`, an exec
    /// plugin, or nothing.
    pub fn new(auth: &Auth, token_file_refresh: Duration) -> Self {
        let kind = match auth {
            Auth::TokenFile { path } => Kind::TokenFile(TokenFileCache {
                state: Mutex::new(TokenFile::new(path.clone(), token_file_refresh)),
                io: PhantomData,
            }),
            Auth::Exec(exec) => {
                Kind::Exec(ExecCache { state: Mutex::new(ExecState::new(exec.clone())), io: PhantomData })
            }
            _ => Kind::None,
        };
        DynamicAuth { kind }
    }

    /// The `Authorization` header to add (reading the file or running the plugin when due). An
    /// exec plugin's client certificate goes into `tls` for new connections.
    pub async fn header(&self, tls: &ClientTls) -> Result<Option<http::HeaderValue>> {
        match &self.kind {
            Kind::None => Ok(None),
            // Boxed: rarely-taken paths whose futures would otherwise inflate every request's.
            Kind::TokenFile(cache) => Ok(Some(Box::pin(cache.header()).await?)),
            Kind::Exec(cache) => {
                let cred = Box::pin(cache.credential()).await?;
                if let Some(identity) = cred.identity {
                    tls.use_exec_identity(identity)?;
                }
                Ok(cred.header)
            }
        }
    }

    /// Add the dynamic `Authorization` header to `request` unless it already has one.
    pub async fn apply<B>(&self, tls: &ClientTls, request: &mut http::Request<B>) -> Result<()> {
        if let Some(value) = self.header(tls).await? {
            request.headers_mut().entry(http::header::AUTHORIZATION).or_insert(value);
        }
        Ok(())
    }

    /// The server answered 401: like client-go, a refused plugin credential is fetched again
    /// for the next request (the retry policy or the caller decides whether to resend this one).
    pub async fn refused(&self) {
        if let Kind::Exec(cache) = &self.kind {
            cache.state.lock().await.invalidate();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn plugin_command_has_args_and_exec_info() {
        let config = ExecConfig {
            command: "gke-auth".into(),
            args: vec!["--get".into()],
            env: vec![("A".into(), "b".into())],
            ..ExecConfig::default()
        };
        let command = plugin_command(&config);
        assert_eq!(command.get_program(), "gke-auth");
        assert_eq!(command.get_args().collect::<Vec<_>>(), ["--get"]);
        let names: Vec<_> = command.get_envs().map(|(k, _)| k.to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["A", "KUBERNETES_EXEC_INFO"]);
    }
}
