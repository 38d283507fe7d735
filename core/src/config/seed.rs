//! The seed library's configuration dictionary (the Python `K8SContextManager(config)` /
//! `NomadContextManager(config)` argument), read from JSON, YAML or any key/value pairs.
//!
//! Keys, exactly as the seed documents them:
//!
//! | key | meaning |
//! |---|---|
//! | `auth` | `in_cluster`, `certificate`, `certificate_file`, `basic_auth`, `token` (or `none`). Absent: inferred from the keys present (`certificate` → certificate, `user`/`credentials` → basic auth, `token` → token; a token may come with a client certificate); with no credentials at all, `in_cluster` as in the seed when running in a pod (`KUBERNETES_SERVICE_HOST` set; `endpoint`, if given, still names the server), else `none` |
//! | `certificate`, `key` | `auth: certificate`: the client certificate and key as BASE64 of PEM (PEM as is is accepted too). `auth: certificate_file`: paths of PEM files; `key` is optional when the certificate file holds the key too |
//! | `user`, `credentials` | basic auth user name and password |
//! | `token` | bearer token (Kubernetes) or `X-Nomad-Token` secret id (Nomad). Decoded first when it is valid base64 of printable ASCII, as the seed decoded every token (a service-account Secret's `data.token` is base64 of the JWT); otherwise (a JWT, a bootstrap token `abcdef.0123…`, a Nomad UUID, a value that decodes to binary) used as is |
//! | `http_scheme` | `http` or `https`. Default `http`, except when the dictionary carries credentials for Kubernetes (token, basic auth, client certificate: the seed's Kubernetes caller used `https` unless told otherwise, and credentials must not travel in clear by accident) or TLS settings (`ca`, `ca_file`, `skip_ssl: true`) or `auth: in_cluster`: the default is then `https`. A transport warns when credentials would go over plain `http` |
//! | `endpoint` | `HOST:PORT` (a full `scheme://host:port` URL is accepted too). Required, except with `auth: in_cluster` |
//! | `skip_ssl` | `true`/`false` as a bool or a string (`"True"` too); default false |
//! | `ca` | CA certificate, BASE64 of PEM (PEM as is accepted). A value that is neither but names a file (it contains `/` or `\\`) is read as `ca_file`: the seed's own test helper passes kubeconfig's `certificate-authority` path here |
//! | `ca_file` | CA certificate file (PEM) |
//!
//! Extensions of ours, so the same dictionary describes a Nomad agent or a default namespace:
//!
//! | key | meaning |
//! |---|---|
//! | `orchestrator` | `kubernetes` (default, also `k8s`) or `nomad`. With `nomad`, `token` is sent as `X-Nomad-Token`, and `auth: in_cluster` is refused |
//! | `namespace` | default namespace (both orchestrators) |
//! | `region` | Nomad region (Nomad only) |
//! | `nomad_namespaces` | `native` (default: real Nomad namespaces, Nomad ≥ 1.0) or `prefix` (the seed's `{namespace}-{job}` job IDs, for servers without namespaces; see [`NamespaceMode`](crate::nomad::NamespaceMode)). Nomad only |
//!
//! `null` values count as absent. Unknown keys, bad base64, unreadable files, a certificate without
//! its key, an unknown `auth` mode and a missing required key are [`Error::Config`] errors naming
//! the key; secret values are never quoted.
//!
//! ```
//! use clustermanager_core::config::{Auth, Config, MapEnvironment};
//! let env = MapEnvironment::new();
//! let config = Config::from_seed_json(
//!     r#"{"auth": "basic_auth", "user": "admin", "credentials": "hunter2",
//!         "http_scheme": "https", "endpoint": "localhost:6443", "skip_ssl": "true"}"#,
//!     &env,
//! )?;
//! assert_eq!(config.server.as_str(), "https://localhost:6443/");
//! assert!(config.tls.skip_verify);
//! assert!(matches!(config.auth, Auth::Basic { ref username, .. } if username == "admin"));
//! # Ok::<(), clustermanager_core::Error>(())
//! ```

use std::collections::BTreeMap;

use serde::de::{Deserialize, Deserializer, Visitor};

use super::{json_problem, parse_server_url, pem, yaml_problem, Auth, Config, Environment};
use crate::error::{Error, Result};
use crate::model::Orchestrator;
use crate::secret::Secret;

/// A value of the seed dictionary: the scalars a Python dict (or JSON / YAML) would hold.
#[derive(Clone, PartialEq, Eq)]
pub enum SeedValue {
    /// `None` / `null`: the key counts as absent.
    Null,
    /// A boolean (`skip_ssl: True`).
    Bool(bool),
    /// A number, as written.
    Number(String),
    /// A string.
    Text(String),
}

impl std::fmt::Debug for SeedValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // a Text may be a token or a key
        match self {
            SeedValue::Null => f.write_str("Null"),
            SeedValue::Bool(b) => write!(f, "Bool({b})"),
            SeedValue::Number(n) => write!(f, "Number({n})"),
            SeedValue::Text(t) => write!(f, "Text(<{} chars>)", t.chars().count()),
        }
    }
}

impl From<&str> for SeedValue {
    fn from(value: &str) -> Self {
        SeedValue::Text(value.to_owned())
    }
}

impl From<String> for SeedValue {
    fn from(value: String) -> Self {
        SeedValue::Text(value)
    }
}

impl From<bool> for SeedValue {
    fn from(value: bool) -> Self {
        SeedValue::Bool(value)
    }
}

impl<T: Into<SeedValue>> From<Option<T>> for SeedValue {
    fn from(value: Option<T>) -> Self {
        value.map_or(SeedValue::Null, Into::into)
    }
}

impl<'de> Deserialize<'de> for SeedValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SeedValue;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string, a boolean, a number or null")
            }
            fn visit_bool<E>(self, v: bool) -> std::result::Result<SeedValue, E> {
                Ok(SeedValue::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> std::result::Result<SeedValue, E> {
                Ok(SeedValue::Number(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> std::result::Result<SeedValue, E> {
                Ok(SeedValue::Number(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> std::result::Result<SeedValue, E> {
                Ok(SeedValue::Number(v.to_string()))
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<SeedValue, E> {
                Ok(SeedValue::Text(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> std::result::Result<SeedValue, E> {
                Ok(SeedValue::Text(v))
            }
            fn visit_none<E>(self) -> std::result::Result<SeedValue, E> {
                Ok(SeedValue::Null)
            }
            fn visit_unit<E>(self) -> std::result::Result<SeedValue, E> {
                Ok(SeedValue::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> std::result::Result<SeedValue, D::Error> {
                SeedValue::deserialize(d)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// Keys this loader knows.
pub const KEYS: &[&str] = &[
    "auth",
    "certificate",
    "key",
    "user",
    "credentials",
    "token",
    "http_scheme",
    "endpoint",
    "skip_ssl",
    "ca",
    "ca_file",
    "orchestrator",
    "namespace",
    "region",
    "nomad_namespaces",
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    InCluster,
    Certificate,
    CertificateFile,
    BasicAuth,
    Token,
    None,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::InCluster => "in_cluster",
            Mode::Certificate => "certificate",
            Mode::CertificateFile => "certificate_file",
            Mode::BasicAuth => "basic_auth",
            Mode::Token => "token",
            Mode::None => "none",
        }
    }

    /// The credential keys this mode uses.
    fn keys(self) -> &'static [&'static str] {
        match self {
            Mode::Certificate | Mode::CertificateFile => &["certificate", "key"],
            Mode::BasicAuth => &["user", "credentials"],
            Mode::Token => &["token"],
            Mode::InCluster | Mode::None => &[],
        }
    }
}

const CREDENTIAL_KEYS: &[&str] = &["certificate", "key", "user", "credentials", "token"];

struct Seed {
    map: BTreeMap<String, SeedValue>,
}

impl Seed {
    fn has(&self, key: &str) -> bool {
        !matches!(self.map.get(key), None | Some(SeedValue::Null))
    }

    /// A string value; a bool or number where a string is expected is an error.
    fn text(&self, key: &str) -> Result<Option<&str>> {
        match self.map.get(key) {
            None | Some(SeedValue::Null) => Ok(None),
            Some(SeedValue::Text(t)) => Ok(Some(t.as_str())),
            Some(SeedValue::Bool(_)) => Err(Error::config(key, "must be a string, not a boolean")),
            Some(SeedValue::Number(_)) => Err(Error::config(
                key,
                "must be a string, not a number (quote it in YAML: a number loses leading zeros)",
            )),
        }
    }

    fn required(&self, key: &str, why: &str) -> Result<&str> {
        match self.text(key)? {
            Some(t) if !t.trim().is_empty() => Ok(t),
            Some(_) => Err(Error::config(key, format!("is empty; {why}"))),
            None => Err(Error::config(key, format!("is missing; {why}"))),
        }
    }
}

impl Config {
    /// Read the seed's dictionary written as a JSON object.
    pub fn from_seed_json<E: Environment + ?Sized>(text: &str, env: &E) -> Result<Config> {
        let map: BTreeMap<String, SeedValue> = serde_json::from_str(text)
            .map_err(|e| Error::config("seed", format!("not a JSON object of settings: {}", json_problem(&e))))?;
        Self::from_seed(Seed { map }, env)
    }

    /// Read the seed's dictionary written as a YAML mapping.
    pub fn from_seed_yaml<E: Environment + ?Sized>(text: &str, env: &E) -> Result<Config> {
        let map: BTreeMap<String, SeedValue> = serde_saphyr::from_str(text)
            .map_err(|e| Error::config("seed", format!("not a YAML mapping of settings: {}", yaml_problem(&e))))?;
        Self::from_seed(Seed { map }, env)
    }

    /// Read the seed's dictionary from key/value pairs (a later duplicate key wins).
    ///
    /// ```
    /// use clustermanager_core::config::{Auth, Config, MapEnvironment};
    /// let config = Config::from_seed_map(
    ///     [("orchestrator", "nomad"), ("endpoint", "127.0.0.1:4646"), ("token", "secret-id")],
    ///     &MapEnvironment::new(),
    /// )?;
    /// assert_eq!(config.server.as_str(), "http://127.0.0.1:4646/");
    /// assert!(matches!(config.auth, Auth::NomadToken(_)));
    /// # Ok::<(), clustermanager_core::Error>(())
    /// ```
    pub fn from_seed_map<I, K, V, E>(entries: I, env: &E) -> Result<Config>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<SeedValue>,
        E: Environment + ?Sized,
    {
        let map = entries.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        Self::from_seed(Seed { map }, env)
    }

    fn from_seed<E: Environment + ?Sized>(seed: Seed, env: &E) -> Result<Config> {
        if let Some(unknown) = seed.map.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(Error::config(
                unknown.clone(),
                format!("is not a setting of the seed dictionary (known: {})", KEYS.join(", ")),
            ));
        }
        let orchestrator = match seed.text("orchestrator")?.map(|s| s.trim().to_ascii_lowercase()) {
            None => Orchestrator::Kubernetes,
            Some(o) if o == "kubernetes" || o == "k8s" => Orchestrator::Kubernetes,
            Some(o) if o == "nomad" => Orchestrator::Nomad,
            Some(_) => return Err(Error::config("orchestrator", "must be `kubernetes` or `nomad`")),
        };
        let mode = match seed.text("auth")? {
            Some(a) => Some(match a.trim() {
                "in_cluster" => Mode::InCluster,
                "certificate" => Mode::Certificate,
                "certificate_file" => Mode::CertificateFile,
                "basic_auth" => Mode::BasicAuth,
                "token" => Mode::Token,
                "none" => Mode::None,
                _ => {
                    return Err(Error::config(
                        "auth",
                        "unknown mode: use in_cluster, certificate, certificate_file, basic_auth, token or none",
                    ))
                }
            }),
            None => None,
        };
        if let Some(mode) = mode {
            if let Some(stray) = CREDENTIAL_KEYS.iter().find(|k| seed.has(k) && !mode.keys().contains(k)) {
                return Err(Error::config(
                    *stray,
                    format!("is not used with `auth: {}`; remove it or change `auth`", mode.name()),
                ));
            }
        }
        if orchestrator == Orchestrator::Nomad {
            if mode == Some(Mode::InCluster) {
                return Err(Error::config(
                    "auth",
                    "in_cluster is a Kubernetes service account; for Nomad give `endpoint` and `token`",
                ));
            }
        } else if let Some(key) = ["region", "nomad_namespaces"].into_iter().find(|k| seed.has(k)) {
            return Err(Error::config(key, "is a Nomad setting; add `orchestrator: nomad`"));
        }

        let skip_ssl = match seed.map.get("skip_ssl") {
            None | Some(SeedValue::Null) => None,
            Some(SeedValue::Bool(b)) => Some(*b),
            Some(SeedValue::Text(t)) if t.trim().eq_ignore_ascii_case("true") => Some(true),
            Some(SeedValue::Text(t)) if t.trim().eq_ignore_ascii_case("false") => Some(false),
            Some(_) => return Err(Error::config("skip_ssl", "must be true or false (a boolean or a string)")),
        };
        if seed.has("ca") && seed.has("ca_file") {
            return Err(Error::config("ca_file", "give either `ca` or `ca_file`, not both"));
        }
        // `auth` absent: from the keys present; with no credentials at all, in-cluster (the
        // seed's default) when this runs in a pod, else none (a kubectl proxy, a dev server)
        let mode = match mode {
            Some(mode) => Some(mode),
            None => match infer_mode(&seed)? {
                Mode::None
                    if orchestrator == Orchestrator::Kubernetes
                        && env.var("KUBERNETES_SERVICE_HOST").is_some_and(|h| !h.trim().is_empty()) =>
                {
                    Some(Mode::InCluster)
                }
                other => Some(other),
            },
        };
        // credentials only travel over TLS unless `http_scheme: http` says otherwise: the seed's
        // Kubernetes caller used https unless told otherwise
        let credentials =
            matches!(mode, Some(Mode::Certificate | Mode::CertificateFile | Mode::BasicAuth | Mode::Token));
        let tls_hint = seed.has("certificate")
            || seed.has("ca")
            || seed.has("ca_file")
            || skip_ssl == Some(true)
            || (credentials && orchestrator == Orchestrator::Kubernetes);

        // Where: in-cluster gives its own server, the others need `endpoint`.
        let mut config = if mode == Some(Mode::InCluster) {
            Config::in_cluster(env)?
        } else {
            let endpoint = seed.required("endpoint", "give the server as HOST:PORT")?;
            let scheme = scheme(&seed, if tls_hint { "https" } else { "http" })?;
            let url = seed_url(endpoint, scheme, seed.has("http_scheme"))?;
            let server = parse_server_url(&url, "endpoint")?;
            Config::new(orchestrator, server.as_str())?
        };
        if mode == Some(Mode::InCluster) && seed.has("endpoint") {
            let scheme = scheme(&seed, "https")?;
            let url = seed_url(seed.required("endpoint", "give the server as HOST:PORT")?, scheme, true)?;
            config.server = parse_server_url(&url, "endpoint")?;
        } else if mode == Some(Mode::InCluster) && seed.has("http_scheme") {
            let scheme = scheme(&seed, "https")?;
            // keep the service port even where it is the old scheme's default (443)
            let host = config.server.host_str().unwrap_or_default().to_owned();
            let port = config.server.port_or_known_default().unwrap_or(443);
            config.server = parse_server_url(&format!("{scheme}://{host}:{port}"), "http_scheme")?;
        }

        // Who.
        let Some(mode) = mode else { return Err(Error::protocol("seed auth mode was not decided")) };
        match mode {
            Mode::InCluster | Mode::None => {}
            Mode::Certificate => {
                let cert = seed.required("certificate", "give the client certificate as base64 of PEM")?;
                let key = seed.required("key", "give the client key as base64 of PEM with `certificate`")?;
                let cert = pem::pem_or_base64(cert, "certificate")?;
                let key = pem::pem_or_base64(key, "key")?;
                config.tls.client_identity = Some(pem::identity(&cert, "certificate", Some(&key), "key")?);
            }
            Mode::CertificateFile => {
                let cert_path = seed.required("certificate", "give the path of the client certificate PEM file")?;
                let cert = pem::read_file(env, cert_path, "certificate")?;
                let key = match seed.text("key")? {
                    Some(path) if !path.trim().is_empty() => Some(pem::read_file(env, path, "key")?),
                    _ => None,
                };
                config.tls.client_identity = Some(pem::identity(&cert, "certificate", key.as_deref(), "key")?);
            }
            Mode::BasicAuth => {
                let user = seed.required("user", "basic auth needs `user` and `credentials`")?;
                let password = seed.required("credentials", "basic auth needs `user` and `credentials`")?;
                config.auth = Auth::Basic { username: user.to_owned(), password: Secret::new(password) };
            }
            Mode::Token => {
                let token = seed.required("token", "give the token")?;
                config = config.with_token(token_value(token));
            }
        }
        // Inferred: a token may come with a client certificate (as in kubeconfig).
        if seed.map.get("auth").is_none_or(|v| *v == SeedValue::Null) && mode == Mode::Certificate {
            if let Some(token) = seed.text("token")? {
                config = config.with_token(token_value(token));
            }
        }

        // How TLS is checked.
        if let Some(ca) = seed.text("ca")? {
            let pem = match pem::pem_or_base64(ca, "ca") {
                Ok(pem) => pem,
                // a path (no base64 of PEM holds a `\`, nor decodes to PEM with a `/` and a `.`)
                // (the value is not quoted: it may be key material pasted in the wrong place)
                Err(_) if ca.contains(['/', '\\']) => env.read_file(ca).map_err(|read| {
                    let read = pem::io_problem(&read);
                    Error::config("ca", format!("is neither base64 of PEM nor the path of a readable file ({read})"))
                })?,
                Err(err) => return Err(err),
            };
            config.tls.ca_pem = vec![pem::ca_bundle(&pem, "ca")?];
        }
        if let Some(path) = seed.text("ca_file")? {
            let pem = pem::read_file(env, path, "ca_file")?;
            config.tls.ca_pem = vec![pem::ca_bundle(&pem, "ca_file")?];
        }
        if let Some(skip) = skip_ssl {
            config.tls.skip_verify = skip;
        }
        if let Some(ns) = seed.text("namespace")? {
            config.namespace = Some(ns.to_owned());
        }
        if let Some(region) = seed.text("region")? {
            config.region = Some(region.to_owned());
        }
        match seed.text("nomad_namespaces")? {
            None | Some("native") => {}
            Some("prefix") => config = config.with_nomad_prefix_namespaces(),
            Some(other) => {
                return Err(Error::config("nomad_namespaces", format!("{other:?} is not `native` or `prefix`")))
            }
        }
        Ok(config)
    }
}

fn scheme<'a>(seed: &'a Seed, default: &'a str) -> Result<&'a str> {
    match seed.text("http_scheme")? {
        None => Ok(default),
        Some(s) if s.trim().eq_ignore_ascii_case("http") => Ok("http"),
        Some(s) if s.trim().eq_ignore_ascii_case("https") => Ok("https"),
        Some(_) => Err(Error::config("http_scheme", "must be http or https")),
    }
}

/// `scheme://endpoint`, or the endpoint itself when it is already a URL (then an explicit
/// `http_scheme` must agree with it).
fn seed_url(endpoint: &str, scheme: &str, scheme_given: bool) -> Result<String> {
    let endpoint = endpoint.trim();
    match endpoint.split_once("://") {
        Some((s, _)) if scheme_given && !s.eq_ignore_ascii_case(scheme) => Err(Error::config(
            "http_scheme",
            format!("is {scheme} but `endpoint` starts with {s}://; give HOST:PORT in `endpoint`"),
        )),
        Some(_) => Ok(endpoint.to_owned()),
        None => Ok(format!("{scheme}://{endpoint}")),
    }
}

/// The seed's order when `auth` is absent: certificate, then basic auth, then token.
fn infer_mode(seed: &Seed) -> Result<Mode> {
    let basic = seed.has("user") || seed.has("credentials");
    if seed.has("certificate") || seed.has("key") {
        if basic {
            return Err(Error::config(
                "auth",
                "both a client certificate and `user`/`credentials` are given; set `auth` to say which to use",
            ));
        }
        return Ok(Mode::Certificate);
    }
    if basic {
        if seed.has("token") {
            return Err(Error::config(
                "auth",
                "both `token` and `user`/`credentials` are given; set `auth` to say which to use",
            ));
        }
        return Ok(Mode::BasicAuth);
    }
    if seed.has("token") {
        return Ok(Mode::Token);
    }
    Ok(Mode::None)
}

/// The token as given, or decoded when it is valid base64 of printable ASCII (the seed
/// base64-decoded every token: a service-account Secret's `data.token`, which the seed's README
/// invites copying, is base64 of the JWT, and so is any opaque token a seed user encoded). A JWT
/// (`eyJ...`, with dots) or a bootstrap token (`abcdef.0123...`) is never valid base64 and is
/// sent as given; so is a value whose decoding is binary.
fn token_value(token: &str) -> Secret {
    let token = token.trim();
    if let Ok(decoded) = pem::decode_base64(token, "token") {
        let printable = !decoded.is_empty() && decoded.iter().all(|b| (0x21..=0x7e).contains(b) || *b == b'\n');
        if let (true, Ok(text)) = (printable, String::from_utf8(decoded)) {
            return Secret::new(text.trim());
        }
    }
    Secret::new(token)
}
