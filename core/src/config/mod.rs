//! Connection settings for a Kubernetes or Nomad server, already resolved: where the server is,
//! how we authenticate, how TLS is checked.
//!
//! The loaders (the seed's dictionary, kubeconfig, in-cluster service account, Nomad's
//! environment variables, [`Config::infer`]) live in the submodules and take their inputs as
//! values — file contents and environment through [`Environment`] — so core reads nothing by
//! itself. Transports implement [`Environment`] over the real file system and process
//! environment.
//!
//! `Debug` of every type here redacts tokens, passwords and private keys.

use std::time::Duration;

use url::Url;

use crate::error::{Error, Result};
use crate::model::Orchestrator;
use crate::retry::RetryPolicy;
use crate::secret::Secret;
use crate::step::Request;

/// How requests authenticate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Auth {
    /// No credentials (or only a TLS client certificate, see [`TlsConfig::client_identity`]).
    #[default]
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(Secret),
    /// `Authorization: Basic base64(user:password)`.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: Secret,
    },
    /// A bearer token read from a file and re-read when it rotates (in-cluster service account,
    /// kubeconfig `tokenFile`). The transport reads the file; core never does.
    TokenFile {
        /// Path of the token file.
        path: String,
    },
    /// A token obtained by running a kubeconfig exec credential plugin (the transport runs it;
    /// [`exec`] parses its answer and tracks expiry).
    Exec(exec::ExecConfig),
    /// `X-Nomad-Token: <secret id>`.
    NomadToken(Secret),
}

/// A TLS client identity: certificate chain and private key, both PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    /// PEM certificate chain.
    pub cert_pem: Vec<u8>,
    /// PEM private key. Kept in memory only; never written to disk.
    pub key_pem: Secret,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("cert_pem", &format_args!("<{} bytes>", self.cert_pem.len()))
            .field("key_pem", &self.key_pem)
            .finish()
    }
}

/// How the server's certificate is checked, and what we present.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsConfig {
    /// PEM CA certificates to trust (in addition to none: when empty, the platform's web roots).
    pub ca_pem: Vec<Vec<u8>>,
    /// Client certificate and key for mutual TLS.
    pub client_identity: Option<Identity>,
    /// Skip verification of the server's certificate. Dangerous: anyone on the path can read
    /// and change the traffic. The transports log a warning when it is on.
    pub skip_verify: bool,
    /// Name to verify the server's certificate against, instead of the URL's host.
    pub server_name: Option<String>,
}

/// Everything needed to talk to one server.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Kubernetes or Nomad.
    pub orchestrator: Orchestrator,
    /// Base URL of the server (`https://127.0.0.1:6443`, `http://127.0.0.1:4646`). A path, if any,
    /// is a prefix for every request (for servers behind a proxy).
    pub server: Url,
    /// Authentication.
    pub auth: Auth,
    /// TLS settings (ignored for `http://`).
    pub tls: TlsConfig,
    /// Default namespace (kubeconfig context namespace, service account namespace,
    /// `NOMAD_NAMESPACE`).
    pub namespace: Option<String>,
    /// Nomad region (`NOMAD_REGION`); sent as `?region=` on every Nomad request when set.
    pub region: Option<String>,
    /// How long to wait for a connection (TCP + TLS).
    pub connect_timeout: Duration,
    /// How long to wait for a whole non-streaming response. Blocking queries and watches add
    /// their own wait time on top, so a long poll is never cut by this.
    pub request_timeout: Option<Duration>,
    /// Retry policy.
    pub retry: RetryPolicy,
}

impl Config {
    /// A config for the Kubernetes apiserver at `server` (`https://host:6443`), no auth yet.
    pub fn kubernetes(server: &str) -> Result<Self> {
        Self::new(Orchestrator::Kubernetes, server)
    }

    /// A config for the Nomad agent at `server` (`http://127.0.0.1:4646`), no auth yet.
    pub fn nomad(server: &str) -> Result<Self> {
        Self::new(Orchestrator::Nomad, server)
    }

    fn new(orchestrator: Orchestrator, server: &str) -> Result<Self> {
        let server = parse_server_url(server, "server")?;
        Ok(Config {
            orchestrator,
            server,
            auth: Auth::None,
            tls: TlsConfig::default(),
            namespace: None,
            region: None,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Some(Duration::from_secs(295)),
            retry: RetryPolicy::default(),
        })
    }

    /// Authenticate with `auth`.
    pub fn with_auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// Use these TLS settings.
    pub fn with_tls(mut self, tls: TlsConfig) -> Self {
        self.tls = tls;
        self
    }

    /// Set the default namespace.
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// The full URI for a request built by core (path and query only), under [`Config::server`].
    pub fn resolve(&self, path_and_query: &http::uri::PathAndQuery) -> Result<http::Uri> {
        let base = self.server.as_str().trim_end_matches('/');
        format!("{base}{}", path_and_query.as_str())
            .parse::<http::Uri>()
            .map_err(|e| Error::config("server", format!("cannot join {base:?} and {path_and_query}: {e}")))
    }

    /// Make a request built by core ready to send: absolute URI, the static authentication
    /// header (bearer, basic or Nomad token; file and exec tokens are added by the transport,
    /// which reads them) and a user agent. Headers the request already has are kept.
    pub fn prepare(&self, request: &mut Request) -> Result<()> {
        let pq = request.uri().path_and_query().cloned().ok_or_else(|| Error::protocol("request without a path"))?;
        *request.uri_mut() = self.resolve(&pq)?;
        let headers = request.headers_mut();
        headers
            .entry(http::header::USER_AGENT)
            .or_insert(http::HeaderValue::from_static(concat!("clustermanager/", env!("CARGO_PKG_VERSION"))));
        match &self.auth {
            Auth::Bearer(token) => {
                if !headers.contains_key(http::header::AUTHORIZATION) {
                    headers.insert(http::header::AUTHORIZATION, bearer_header(token)?);
                }
            }
            Auth::Basic { username, password } => {
                if !headers.contains_key(http::header::AUTHORIZATION) {
                    headers.insert(http::header::AUTHORIZATION, basic_header(username, password)?);
                }
            }
            Auth::NomadToken(token) => {
                if !headers.contains_key("x-nomad-token") {
                    let mut v = http::HeaderValue::from_str(token.expose()).map_err(|_| {
                        Error::config("token", "the Nomad token contains characters not allowed in a header")
                    })?;
                    v.set_sensitive(true);
                    headers.insert("x-nomad-token", v);
                }
            }
            Auth::None | Auth::TokenFile { .. } | Auth::Exec(_) => {}
        }
        Ok(())
    }
}

/// `Authorization: Bearer <token>` as a sensitive header value.
pub fn bearer_header(token: &Secret) -> Result<http::HeaderValue> {
    let mut v = http::HeaderValue::from_str(&format!("Bearer {}", token.expose().trim()))
        .map_err(|_| Error::config("token", "the token contains characters not allowed in a header"))?;
    v.set_sensitive(true);
    Ok(v)
}

/// `Authorization: Basic ...` as a sensitive header value.
pub fn basic_header(username: &str, password: &Secret) -> Result<http::HeaderValue> {
    use base64::Engine as _;
    let raw = format!("{username}:{}", password.expose());
    let mut v =
        http::HeaderValue::from_str(&format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw)))
            .map_err(|_| Error::config("user", "the user name contains characters not allowed in a header"))?;
    v.set_sensitive(true);
    Ok(v)
}

/// Parse a server URL: `http(s)://host[:port][/prefix]`, or `host:port` (taken as https).
pub fn parse_server_url(text: &str, key: &str) -> Result<Url> {
    let text = text.trim();
    let with_scheme = if text.contains("://") { text.to_owned() } else { format!("https://{text}") };
    let url = Url::parse(&with_scheme).map_err(|e| Error::config(key, format!("{text:?} is not a server URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::config(key, format!("scheme {:?} is not http or https", url.scheme())));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::config(key, format!("{text:?} has no host")));
    }
    Ok(url)
}

/// Where loaders get file contents and environment variables from. The transports implement
/// it over the real file system and process environment; tests over maps.
pub trait Environment {
    /// The value of environment variable `name`, if set.
    fn var(&self, name: &str) -> Option<String>;
    /// The contents of the file at `path`.
    fn read_file(&self, path: &str) -> std::io::Result<Vec<u8>>;
}

pub mod exec;
