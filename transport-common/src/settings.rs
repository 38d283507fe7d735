//! What every transport is built from and does to a request before it goes out, whatever its
//! runtime: the [`Config`], the TLS settings built from it ([`ClientTls`]), the credentials that
//! need I/O ([`DynamicAuth`] over the runtime's [`CredentialIo`]), and the budget of requests and
//! streams in flight ([`Budget`] of [`Config::max_connections`] units) and the size cap of a whole
//! response body. A request is made ready by
//! [`Settings::prepare`] (core's [`Config::prepare`]: the absolute URI from the configured server,
//! the static credentials and the user agent; then the token file's or exec plugin's
//! `Authorization`), its answer noted by [`Settings::answered`] (a 401 makes an exec plugin run
//! again), and its time limits computed by [`Settings::limits`].

use std::sync::Arc;
use std::time::Duration;

use clustermanager_core::config::Auth;
use clustermanager_core::deadline::Io;
use clustermanager_core::{Config, Request, Result};

use crate::auth::{CredentialIo, DynamicAuth, DEFAULT_TOKEN_FILE_REFRESH};
use crate::body::DEFAULT_MAX_RESPONSE_BYTES;
use crate::budget::Budget;
use crate::limits::Limits;
use crate::tls::ClientTls;

/// A transport's configuration, TLS settings, credential caches and request budget. Cheap to
/// clone: clones share the credential caches, the TLS settings and the budget.
pub struct Settings<R> {
    config: Arc<Config>,
    tls: Arc<ClientTls>,
    credentials: Arc<DynamicAuth<R>>,
    budget: Budget,
    /// The largest whole response body read into memory.
    max_response_bytes: usize,
}

impl<R> Clone for Settings<R> {
    fn clone(&self) -> Self {
        Settings {
            config: Arc::clone(&self.config),
            tls: Arc::clone(&self.tls),
            credentials: Arc::clone(&self.credentials),
            budget: self.budget.clone(),
            max_response_bytes: self.max_response_bytes,
        }
    }
}

impl<R> std::fmt::Debug for Settings<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings").field("config", &self.config).finish_non_exhaustive()
    }
}

impl<R: CredentialIo> Settings<R> {
    /// The settings of a transport for `config`, connecting with `tls` (built from `config`, with
    /// the ALPN offer the transport speaks): token files re-read every
    /// [`DEFAULT_TOKEN_FILE_REFRESH`], a budget of [`Config::max_connections`] requests and
    /// streams.
    pub fn new(config: &Config, tls: ClientTls) -> Self {
        Settings {
            config: Arc::new(config.clone()),
            tls: Arc::new(tls),
            credentials: Arc::new(DynamicAuth::new(&config.auth, DEFAULT_TOKEN_FILE_REFRESH)),
            budget: Budget::new(config.max_connections),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }

    /// Read whole response bodies of at most `max` bytes (default
    /// [`DEFAULT_MAX_RESPONSE_BYTES`]); streams are read piece by piece, not limited as a whole.
    pub fn set_max_response_bytes(&mut self, max: usize) {
        self.max_response_bytes = max;
    }

    /// The largest whole response body read into memory.
    pub fn max_response_bytes(&self) -> usize {
        self.max_response_bytes
    }

    /// Re-read a token file ([`Auth::TokenFile`]) when the last read is older than `refresh`.
    /// Resets the cache; changes nothing for other credentials.
    pub fn set_token_file_refresh(&mut self, refresh: Duration) {
        if let Auth::TokenFile { path } = &self.config.auth {
            self.credentials = Arc::new(DynamicAuth::new(&Auth::TokenFile { path: path.clone() }, refresh));
        }
    }

    /// The configuration the transport was built from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The TLS settings connections are made with (an exec plugin's client certificate lands
    /// here).
    pub fn tls(&self) -> &Arc<ClientTls> {
        &self.tls
    }

    /// The budget of requests and streams in flight.
    pub fn budget(&self) -> &Budget {
        &self.budget
    }

    /// The configured server's host, for error messages.
    pub fn host(&self) -> &str {
        self.config.server.host_str().unwrap_or("the server")
    }

    /// `request` (as core built it) ready to send: resolved against the configured server, with
    /// the static credentials and user agent ([`Config::prepare`]), then the dynamic
    /// `Authorization` (reading the token file or running the exec plugin when due).
    pub async fn prepare(&self, mut request: Request) -> Result<Request> {
        self.config.prepare(&mut request)?;
        self.credentials.apply(&self.tls, &mut request).await?;
        Ok(request)
    }

    /// Note the status the server answered with: like client-go, a refused (401) exec plugin
    /// credential is fetched again for the next request.
    pub async fn answered(&self, status: http::StatusCode) {
        if status == http::StatusCode::UNAUTHORIZED {
            self.credentials.refused().await;
        }
    }

    /// What `request`, sent now under `io`, may take (from the configured `request_timeout`).
    pub fn limits(&self, request: &Request, io: &Io) -> Limits {
        Limits::new(request, io, self.config.request_timeout)
    }
}
