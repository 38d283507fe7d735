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

impl Identity {
    /// A client identity from a PEM certificate chain and a PEM private key (PKCS#8,
    /// `RSA PRIVATE KEY` or `EC PRIVATE KEY`). Both are parsed now, so garbage is refused here
    /// rather than at the first connection; errors name `certificate` or `key` and never quote
    /// the key.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Identity> {
        pem::identity(cert_pem, "certificate", Some(key_pem), "key")
    }

    /// A client identity from one PEM text holding both the certificate chain and the key.
    pub fn from_combined_pem(pem: &[u8]) -> Result<Identity> {
        pem::identity(pem, "certificate", None, "key")
    }
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
    /// PEM CA certificates to trust, and only these. When empty, the transport trusts the
    /// operating system's trust store (falling back to the bundled Mozilla web roots when that
    /// store is empty or unreadable).
    pub ca_pem: Vec<Vec<u8>>,
    /// Client certificate and key for mutual TLS.
    pub client_identity: Option<Identity>,
    /// Skip verification of the server's certificate. Dangerous: anyone on the path can read
    /// and change the traffic. The transports log a warning when it is on.
    pub skip_verify: bool,
    /// Name to verify the server's certificate against, instead of the URL's host.
    pub server_name: Option<String>,
}

/// The default connection budget ([`Config::max_connections`]).
pub const DEFAULT_MAX_CONNECTIONS: usize = 32;

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
    /// How long to wait for a whole non-streaming response, and for the head of a stream.
    /// Blocking queries and watches add their own wait time on top, so a long poll is never cut
    /// by this. A log follow (`follow=true`) waits for its head without this limit: the
    /// Kubernetes kubelet sends it only with the first byte of the log.
    pub request_timeout: Option<Duration>,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// The connection budget: at most this many requests and open streams at once (so at most
    /// this many connections to the server); more wait for a free one instead of opening more
    /// connections. Long-lived streams (watches, follows) count against it for as long as they
    /// are open. Default [`DEFAULT_MAX_CONNECTIONS`], well under a Nomad agent's 100 connections
    /// per client address (`limits.http_max_conns_per_client`).
    pub max_connections: usize,
    /// How the seed's namespaces map onto Nomad: real namespaces (the default), or the seed's
    /// old `{namespace}-{job}` ID prefixes for servers without namespaces (Nomad < 1.0).
    pub nomad_namespace_mode: crate::nomad::NamespaceMode,
    /// Send credentials over plain `http://` to a server that is not on loopback (default
    /// `false`: refused, see [`Config::check_plain_http`]). Set it only for a link you trust
    /// (a private network, a sidecar); [`with_plain_http_credentials`](Config::with_plain_http_credentials).
    pub plain_http_credentials: bool,
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
            max_connections: DEFAULT_MAX_CONNECTIONS,
            nomad_namespace_mode: crate::nomad::NamespaceMode::Native,
            plain_http_credentials: false,
        })
    }

    /// Allow credentials over plain `http://` to a server that is not on loopback (see
    /// [`Config::plain_http_credentials`]). Anyone on the network path can read them.
    pub fn with_plain_http_credentials(mut self, allow: bool) -> Self {
        self.plain_http_credentials = allow;
        self
    }

    /// Whether the server is on this machine (`127.0.0.0/8`, `::1`, `localhost`).
    pub fn server_is_loopback(&self) -> bool {
        match self.server.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => {
                d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost")
            }
            None => false,
        }
    }

    /// Credentials go over plain `http://` only to a loopback server or when asked for with
    /// [`with_plain_http_credentials`](Config::with_plain_http_credentials); otherwise this is
    /// an [`Error::Config`] saying so (the transports check it when they are built). The error
    /// names the server, never the credential.
    ///
    /// ```no_run
    /// use clustermanager_core::{Config, Secret};
    /// // 192.0.2.10: an address kept for documentation (RFC 5737)
    /// let remote = Config::nomad("http://192.0.2.10:4646").unwrap().with_token(Secret::new("acl"));
    /// assert!(remote.check_plain_http().is_err());
    /// assert!(remote.with_plain_http_credentials(true).check_plain_http().is_ok());
    /// let local = Config::nomad("http://127.0.0.1:4646").unwrap().with_token(Secret::new("acl"));
    /// assert!(local.check_plain_http().is_ok());
    /// ```
    pub fn check_plain_http(&self) -> Result<()> {
        if self.server.scheme() != "http" || matches!(self.auth, Auth::None) || self.plain_http_credentials {
            return Ok(());
        }
        if self.server_is_loopback() {
            return Ok(());
        }
        Err(Error::config(
            "server",
            format!(
                "refusing to send credentials over plain http to {}: anyone on the network path could read them; \
                 use an https:// server address, or, for a link you trust, Config::with_plain_http_credentials(true)",
                self.server
            ),
        ))
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

    /// Map the seed's namespaces onto Nomad job-ID prefixes (`{namespace}-{job}`), the seed's
    /// scheme for Nomad servers without namespaces, instead of real Nomad namespaces.
    pub fn with_nomad_prefix_namespaces(mut self) -> Self {
        self.nomad_namespace_mode = crate::nomad::NamespaceMode::Prefix;
        self
    }

    /// Set the default namespace.
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Authenticate with a token: `Authorization: Bearer` for Kubernetes, `X-Nomad-Token` for
    /// Nomad.
    ///
    /// ```
    /// use clustermanager_core::config::{Auth, Config};
    /// let config = Config::nomad("http://127.0.0.1:4646")?.with_token("a-secret-id").with_region("eu");
    /// assert!(matches!(config.auth, Auth::NomadToken(_)));
    /// assert!(!format!("{config:?}").contains("a-secret-id"));
    /// # Ok::<(), clustermanager_core::Error>(())
    /// ```
    pub fn with_token(mut self, token: impl Into<Secret>) -> Self {
        let token = token.into();
        self.auth = match self.orchestrator {
            Orchestrator::Kubernetes => Auth::Bearer(token),
            Orchestrator::Nomad => Auth::NomadToken(token),
        };
        self
    }

    /// Authenticate with a bearer token read from `path` by the transport, and re-read as it
    /// rotates.
    pub fn with_token_file(mut self, path: impl Into<String>) -> Self {
        self.auth = Auth::TokenFile { path: path.into() };
        self
    }

    /// Authenticate with HTTP basic auth.
    pub fn with_basic_auth(mut self, username: impl Into<String>, password: impl Into<Secret>) -> Self {
        self.auth = Auth::Basic { username: username.into(), password: password.into() };
        self
    }

    /// Trust the CA certificate(s) in `pem` (checked now: an error if it holds no certificate).
    pub fn with_ca_pem(mut self, pem: impl AsRef<[u8]>) -> Result<Self> {
        self.tls.ca_pem.push(pem::ca_bundle(pem.as_ref(), "ca")?);
        Ok(self)
    }

    /// Present this client certificate (PEM chain) and private key (PEM) for mutual TLS. Both are
    /// checked now.
    pub fn with_client_identity(mut self, cert_pem: impl AsRef<[u8]>, key_pem: impl AsRef<[u8]>) -> Result<Self> {
        self.tls.client_identity = Some(Identity::from_pem(cert_pem.as_ref(), key_pem.as_ref())?);
        Ok(self)
    }

    /// Skip verification of the server's certificate (dangerous, see [`TlsConfig::skip_verify`]).
    pub fn with_skip_verify(mut self, skip: bool) -> Self {
        self.tls.skip_verify = skip;
        self
    }

    /// Verify the server's certificate against `name` instead of the URL's host.
    pub fn with_tls_server_name(mut self, name: impl Into<String>) -> Self {
        self.tls.server_name = Some(name.into());
        self
    }

    /// Set the Nomad region sent with every request.
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Set how long to wait for a connection.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Set how long to wait for a whole non-streaming response (`None`: no limit).
    pub fn with_request_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Allow at most `connections` requests and open streams at once (at least 1; see
    /// [`Config::max_connections`]).
    pub fn with_max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections.max(1);
        self
    }

    /// Use this retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
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
///
/// Credentials in the URL (`https://user:password@host`) are refused: no transport would send
/// them, and the URL shows in `Debug` and errors. Give them as basic auth instead.
pub fn parse_server_url(text: &str, key: &str) -> Result<Url> {
    let text = text.trim();
    let with_scheme = if text.contains("://") { text.to_owned() } else { format!("https://{text}") };
    // Quote the text in errors only without a user-info part (it may hold a password). Cut at the
    // LAST '@': a password may itself contain '@', and hiding too much (an '@' in the path) only
    // shortens the message, while cutting at the first would show the rest of the password.
    let shown = match text.rsplit_once('@') {
        Some((_, host)) => format!("\"<credentials>@{host}\""),
        None => format!("{text:?}"),
    };
    let url = Url::parse(&with_scheme).map_err(|e| Error::config(key, format!("{shown} is not a server URL: {e}")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::config(
            key,
            format!(
                "{shown} holds credentials (user:password@): they would not be sent; give them as basic auth (user / credentials, username / password, NOMAD_HTTP_AUTH) instead"
            ),
        ));
    }
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::config(key, format!("scheme {:?} is not http or https", url.scheme())));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::config(key, format!("{shown} has no host")));
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

/// Whether an environment variable is set to something (an empty value counts as unset, as in
/// kubectl and the Nomad CLI).
pub(crate) fn var<E: Environment + ?Sized>(env: &E, name: &str) -> Option<String> {
    env.var(name).filter(|v| !v.trim().is_empty())
}

/// Describe a YAML error without quoting the input (which may hold secrets): the position and,
/// for data errors, what was expected.
pub(crate) fn yaml_problem(e: &serde_saphyr::Error) -> String {
    let inner = e.without_snippet();
    let text = match inner {
        serde_saphyr::Error::Message { msg, .. } => serde_message(msg),
        other => {
            let rendered = other.to_string();
            serde_message(rendered.lines().next().unwrap_or("malformed YAML"))
        }
    };
    match e.location() {
        Some(loc) if !text.contains(" line ") => format!("{text} at line {} column {}", loc.line(), loc.column()),
        _ => text,
    }
}

/// Describe a JSON error without quoting the input.
pub(crate) fn json_problem(e: &serde_json::Error) -> String {
    let text = serde_message(&e.to_string());
    if text.contains(" line ") {
        text
    } else {
        format!("{text} at line {} column {}", e.line(), e.column())
    }
}

/// Keep a serde message only where it cannot quote a value: `invalid type: string "x", expected
/// y` becomes `unexpected value, expected y`.
fn serde_message(msg: &str) -> String {
    if msg.starts_with("invalid type") || msg.starts_with("invalid value") || msg.starts_with("invalid length") {
        match msg.find(", expected ") {
            Some(i) => format!("unexpected value{}", &msg[i..]),
            None => "unexpected value".to_owned(),
        }
    } else if msg.contains('"') || msg.contains('\'') {
        // a free-form message quoting something: keep only the part before the quote
        let cut = msg.find(['"', '\'']).unwrap_or(msg.len());
        format!("{}...", msg[..cut].trim_end())
    } else {
        msg.to_owned()
    }
}

/// An [`Environment`] over maps, for tests and for programs that gather their settings
/// themselves. Files not in the map read as `NotFound`.
///
/// ```
/// use clustermanager_core::config::{Config, MapEnvironment};
/// let env = MapEnvironment::new()
///     .with_var("NOMAD_ADDR", "http://10.0.0.1:4646")
///     .with_file("/etc/nomad/ca.pem", b"...".to_vec());
/// let config = Config::from_nomad_env(&env)?;
/// assert_eq!(config.server.as_str(), "http://10.0.0.1:4646/");
/// # Ok::<(), clustermanager_core::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct MapEnvironment {
    vars: std::collections::BTreeMap<String, String>,
    files: std::collections::BTreeMap<String, Vec<u8>>,
}

impl MapEnvironment {
    /// An empty environment: no variables, no files.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set environment variable `name`.
    pub fn with_var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }

    /// Put a file at `path`.
    pub fn with_file(mut self, path: impl Into<String>, contents: impl Into<Vec<u8>>) -> Self {
        self.files.insert(path.into(), contents.into());
        self
    }

    /// Set environment variable `name` in place.
    pub fn set_var(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.vars.insert(name.into(), value.into());
    }

    /// Put a file at `path` in place.
    pub fn set_file(&mut self, path: impl Into<String>, contents: impl Into<Vec<u8>>) {
        self.files.insert(path.into(), contents.into());
    }
}

impl std::fmt::Debug for MapEnvironment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // values may be secrets: show names only
        f.debug_struct("MapEnvironment")
            .field("vars", &self.vars.keys().collect::<Vec<_>>())
            .field("files", &self.files.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Environment for MapEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }

    fn read_file(&self, path: &str) -> std::io::Result<Vec<u8>> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, format!("{path}: no such file")))
    }
}

pub mod exec;
pub mod incluster;
pub mod infer;
pub mod kubeconfig;
pub mod nomad_env;
mod pem;
pub mod seed;
pub mod token_file;

pub use kubeconfig::Kubeconfig;
pub use seed::SeedValue;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_with_at_signs_never_shows_in_the_error() {
        for url in [
            "https://admin:s3cr@tP4ss@nomad.example:4646",
            "admin:s3cr@tP4ss@nomad.example:4646",
            "https://admin:s3cr@tP4ss@",
        ] {
            let err = parse_server_url(url, "server").unwrap_err();
            let text = err.to_string();
            assert!(!text.contains("s3cr") && !text.contains("tP4ss"), "{url}: {text}");
            assert!(!text.contains("admin"), "{url}: {text}");
        }
        let text = parse_server_url("https://admin:s3cr@tP4ss@nomad.example:4646", "server").unwrap_err().to_string();
        assert!(text.contains("nomad.example:4646"), "the host still shows: {text}");
    }
}
