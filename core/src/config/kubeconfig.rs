//! Kubeconfig files (`~/.kube/config`, `$KUBECONFIG`): contexts, clusters and users, merged the
//! way kubectl merges several files.
//!
//! What is understood:
//! - clusters: `server`, `certificate-authority` (file) / `certificate-authority-data` (base64
//!   PEM, wins over the file), `insecure-skip-tls-verify` (refused together with a CA, as kubectl
//!   does), `tls-server-name`; `proxy-url` is refused (not supported yet) rather than ignored;
//! - users: `token`, `tokenFile` ([`Auth::TokenFile`], re-read by the transport; wins over `token`
//!   as in client-go), `client-certificate(-data)` / `client-key(-data)` (data wins over file),
//!   `username` / `password` (basic auth), `exec` (credential plugin, [`Auth::Exec`]). A user with
//!   more than one of token, basic auth and exec is refused, as kubectl does; a client certificate
//!   may go with any of them. `auth-provider` (removed from kubectl) is refused with a hint to use
//!   `exec`;
//! - contexts: `cluster`, `user`, `namespace`.
//!
//! Relative file paths (and an exec `command` with a `/` in it) resolve against the directory of
//! the kubeconfig file that mentions them, before files are merged.
//!
//! Merging (`KUBECONFIG=a:b:c`, `;` on Windows): for clusters, users and contexts the first file
//! that defines a name wins; `current-context` comes from the first file that sets it. Files of the
//! list that do not exist are skipped, as kubectl does; if none exists it is an error.
//!
//! ```
//! use clustermanager_core::config::{Auth, Config, Kubeconfig, MapEnvironment};
//! let yaml = r#"
//! apiVersion: v1
//! kind: Config
//! current-context: dev
//! clusters:
//! - name: dev
//!   cluster: {server: "https://10.0.0.1:6443", insecure-skip-tls-verify: true}
//! users:
//! - name: me
//!   user: {token: "very-secret"}
//! contexts:
//! - name: dev
//!   context: {cluster: dev, user: me, namespace: batch}
//! "#;
//! let env = MapEnvironment::new();
//! let kubeconfig = Kubeconfig::parse(yaml, None)?;
//! let config = Config::from_kubeconfig(&kubeconfig, None, &env)?;
//! assert_eq!(config.server.as_str(), "https://10.0.0.1:6443/");
//! assert_eq!(config.namespace.as_deref(), Some("batch"));
//! assert!(matches!(config.auth, Auth::Bearer(_)));
//! # Ok::<(), clustermanager_core::Error>(())
//! ```

use std::path::Path;

use serde::Deserialize;

use super::exec::ExecConfig;
use super::{parse_server_url, pem, var, yaml_problem, Auth, Config, Environment};
use crate::error::{Error, Result};
use crate::model::Orchestrator;
use crate::secret::Secret;

/// A parsed (and possibly merged) kubeconfig. Secrets inside are redacted in `Debug`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kubeconfig {
    current_context: Option<String>,
    clusters: Vec<(String, Cluster)>,
    users: Vec<(String, User)>,
    contexts: Vec<(String, Context)>,
    /// Where it came from, for error messages.
    sources: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Cluster {
    server: Option<String>,
    ca_file: Option<String>,
    ca_data: Option<String>,
    insecure: bool,
    tls_server_name: Option<String>,
    proxy_url: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct User {
    token: Option<Secret>,
    token_file: Option<String>,
    cert_file: Option<String>,
    cert_data: Option<String>,
    key_file: Option<String>,
    key_data: Option<Secret>,
    username: Option<String>,
    password: Option<Secret>,
    exec: Option<ExecConfig>,
    auth_provider: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Context {
    cluster: String,
    user: String,
    namespace: Option<String>,
}

// ---- the file as written ---------------------------------------------------------------------

#[derive(Deserialize, Default)]
struct RawKubeconfig {
    #[serde(default, rename = "current-context")]
    current_context: Option<String>,
    #[serde(default)]
    clusters: Option<Vec<RawNamed<RawCluster>>>,
    #[serde(default)]
    users: Option<Vec<RawNamed<RawUser>>>,
    #[serde(default)]
    contexts: Option<Vec<RawNamed<RawContext>>>,
}

#[derive(Deserialize)]
struct RawNamed<T> {
    name: String,
    #[serde(default, alias = "cluster", alias = "user", alias = "context")]
    item: Option<T>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct RawCluster {
    #[serde(default)]
    server: Option<String>,
    #[serde(default)]
    certificate_authority: Option<String>,
    #[serde(default)]
    certificate_authority_data: Option<String>,
    #[serde(default)]
    insecure_skip_tls_verify: Option<bool>,
    #[serde(default)]
    tls_server_name: Option<String>,
    #[serde(default)]
    proxy_url: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct RawUser {
    #[serde(default)]
    token: Option<String>,
    #[serde(default, rename = "tokenFile")]
    token_file: Option<String>,
    #[serde(default)]
    client_certificate: Option<String>,
    #[serde(default)]
    client_certificate_data: Option<String>,
    #[serde(default)]
    client_key: Option<String>,
    #[serde(default)]
    client_key_data: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    exec: Option<RawExec>,
    #[serde(default)]
    auth_provider: Option<RawAuthProvider>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawExec {
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    command: Option<String>,
    #[serde(default)]
    args: Option<Vec<String>>,
    #[serde(default)]
    env: Option<Vec<RawEnvVar>>,
}

#[derive(Deserialize)]
struct RawEnvVar {
    name: String,
    #[serde(default)]
    value: Option<String>,
}

#[derive(Deserialize)]
struct RawAuthProvider {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawContext {
    #[serde(default)]
    cluster: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

/// `path` made absolute against `dir` when it is relative (pure path arithmetic, no I/O).
fn resolve(path: Option<String>, dir: Option<&str>) -> Option<String> {
    let path = non_empty(path)?;
    match dir {
        Some(dir) if Path::new(&path).is_relative() => Some(Path::new(dir).join(&path).to_string_lossy().into_owned()),
        _ => Some(path),
    }
}

/// The directory holding `path` (`.` when it has none).
fn parent_dir(path: &str) -> String {
    match Path::new(path).parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_string_lossy().into_owned(),
        _ => ".".to_owned(),
    }
}

impl Kubeconfig {
    /// Parse one kubeconfig from its YAML text. Relative paths in it resolve against `dir` (the
    /// directory of the file it came from); with `None` they stay as written.
    pub fn parse(text: &str, dir: Option<&str>) -> Result<Kubeconfig> {
        Self::parse_named(text, dir, "kubeconfig")
    }

    /// Parse the kubeconfig file at `path` from its contents (relative paths resolve against the
    /// file's directory; errors name the file).
    pub fn parse_file(text: &str, path: &str) -> Result<Kubeconfig> {
        Self::parse_named(text, Some(&parent_dir(path)), path)
    }

    fn parse_named(text: &str, dir: Option<&str>, source: &str) -> Result<Kubeconfig> {
        let raw: RawKubeconfig = if text.trim().is_empty() {
            RawKubeconfig::default()
        } else {
            serde_saphyr::from_str(text)
                .map_err(|e| Error::config(source, format!("not a valid kubeconfig: {}", yaml_problem(&e))))?
        };
        let mut out = Kubeconfig {
            current_context: non_empty(raw.current_context),
            sources: vec![source.to_owned()],
            ..Kubeconfig::default()
        };
        for named in raw.clusters.unwrap_or_default() {
            let c = named.item.unwrap_or_default();
            push_first(
                &mut out.clusters,
                named.name,
                Cluster {
                    server: non_empty(c.server),
                    ca_file: resolve(c.certificate_authority, dir),
                    ca_data: non_empty(c.certificate_authority_data),
                    insecure: c.insecure_skip_tls_verify.unwrap_or(false),
                    tls_server_name: non_empty(c.tls_server_name),
                    proxy_url: non_empty(c.proxy_url).is_some(),
                },
            );
        }
        for named in raw.users.unwrap_or_default() {
            let u = named.item.unwrap_or_default();
            let exec = match u.exec {
                None => None,
                Some(e) => Some(exec_config(e, dir, &named.name)?),
            };
            push_first(
                &mut out.users,
                named.name,
                User {
                    token: non_empty(u.token).map(Secret::new),
                    token_file: resolve(u.token_file, dir),
                    cert_file: resolve(u.client_certificate, dir),
                    cert_data: non_empty(u.client_certificate_data),
                    key_file: resolve(u.client_key, dir),
                    key_data: non_empty(u.client_key_data).map(Secret::new),
                    username: non_empty(u.username),
                    password: u.password.map(Secret::new),
                    exec,
                    auth_provider: u.auth_provider.map(|p| p.name.unwrap_or_default()),
                },
            );
        }
        for named in raw.contexts.unwrap_or_default() {
            let c = named.item.unwrap_or_default();
            push_first(
                &mut out.contexts,
                named.name,
                Context {
                    cluster: c.cluster.unwrap_or_default(),
                    user: c.user.unwrap_or_default(),
                    namespace: non_empty(c.namespace),
                },
            );
        }
        Ok(out)
    }

    /// Merge `later` into `self` with kubectl's rules: entries `self` already has win;
    /// `current-context` is kept from `self` when set.
    pub fn merge(mut self, later: Kubeconfig) -> Kubeconfig {
        if self.current_context.is_none() {
            self.current_context = later.current_context;
        }
        for (name, c) in later.clusters {
            push_first(&mut self.clusters, name, c);
        }
        for (name, u) in later.users {
            push_first(&mut self.users, name, u);
        }
        for (name, c) in later.contexts {
            push_first(&mut self.contexts, name, c);
        }
        self.sources.extend(later.sources);
        self
    }

    /// Load the kubeconfig kubectl would: the files of `KUBECONFIG` merged, or
    /// `$HOME/.kube/config` (`%USERPROFILE%` on Windows) when `KUBECONFIG` is unset.
    pub fn load<E: Environment + ?Sized>(env: &E) -> Result<Kubeconfig> {
        match var(env, "KUBECONFIG") {
            Some(list) => {
                let sep = if cfg!(windows) { ';' } else { ':' };
                let mut merged: Option<Kubeconfig> = None;
                let mut missing = Vec::new();
                for path in list.split(sep).map(str::trim).filter(|p| !p.is_empty()) {
                    let text = match env.read_file(path) {
                        Ok(bytes) => bytes,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                            missing.push(path);
                            continue;
                        }
                        Err(e) => {
                            return Err(Error::config(
                                "KUBECONFIG",
                                format!("cannot read {path:?}: {}", pem::io_problem(&e)),
                            ))
                        }
                    };
                    let text = String::from_utf8(text)
                        .map_err(|_| Error::config("KUBECONFIG", format!("{path:?} is not UTF-8 text")))?;
                    let one = Kubeconfig::parse_file(&text, path)?;
                    merged = Some(match merged {
                        None => one,
                        Some(m) => m.merge(one),
                    });
                }
                merged.ok_or_else(|| {
                    Error::config("KUBECONFIG", format!("none of its files exists (looked for {})", missing.join(", ")))
                })
            }
            None => {
                let path = default_path(env).ok_or_else(|| {
                    Error::config("KUBECONFIG", "is not set, and neither is HOME to find ~/.kube/config")
                })?;
                let bytes = pem::read_file(env, &path, "KUBECONFIG")?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| Error::config("KUBECONFIG", format!("{path:?} is not UTF-8")))?;
                Kubeconfig::parse_file(&text, &path)
            }
        }
    }

    /// The `current-context`, if any.
    pub fn current_context(&self) -> Option<&str> {
        self.current_context.as_deref()
    }

    /// The names of the contexts, in file order.
    pub fn context_names(&self) -> impl Iterator<Item = &str> {
        self.contexts.iter().map(|(n, _)| n.as_str())
    }

    /// `err` with the files this kubeconfig came from named in it: a [`Error::Config`] whose
    /// problem does not name them already gets ` (in <files>)`. A kubeconfig parsed from text
    /// ([`Kubeconfig::parse`]) has no file to name.
    fn naming_files(&self, err: Error) -> Error {
        let files: Vec<&str> = self.sources.iter().map(String::as_str).filter(|s| *s != "kubeconfig").collect();
        match err {
            Error::Config { key, problem } if !files.is_empty() && !files.iter().any(|f| problem.contains(f)) => {
                Error::config(key, format!("{problem} (in {})", files.join(", ")))
            }
            other => other,
        }
    }

    /// Whether this kubeconfig defines nothing at all.
    pub fn is_empty(&self) -> bool {
        self.current_context.is_none() && self.clusters.is_empty() && self.users.is_empty() && self.contexts.is_empty()
    }
}

/// `~/.kube/config` from `HOME` (or `USERPROFILE`).
pub(crate) fn default_path<E: Environment + ?Sized>(env: &E) -> Option<String> {
    let home = var(env, "HOME").or_else(|| var(env, "USERPROFILE"))?;
    Some(Path::new(&home).join(".kube").join("config").to_string_lossy().into_owned())
}

fn push_first<T>(list: &mut Vec<(String, T)>, name: String, item: T) {
    if !list.iter().any(|(n, _)| *n == name) {
        list.push((name, item));
    }
}

fn exec_config(raw: RawExec, dir: Option<&str>, user: &str) -> Result<ExecConfig> {
    let key = format!("users[{user}].user.exec");
    let command = non_empty(raw.command).ok_or_else(|| Error::config(&key, "has no `command`"))?;
    // client-go: a relative command with a path separator is relative to the kubeconfig's
    // directory; a bare name is looked up in PATH.
    let command = if command.contains('/') || command.contains(std::path::MAIN_SEPARATOR) {
        resolve(Some(command), dir).unwrap_or_default()
    } else {
        command
    };
    let api_version = non_empty(raw.api_version)
        .ok_or_else(|| Error::config(&key, "has no `apiVersion` (use client.authentication.k8s.io/v1 or v1beta1)"))?;
    if !matches!(api_version.as_str(), "client.authentication.k8s.io/v1" | "client.authentication.k8s.io/v1beta1") {
        return Err(Error::config(
            &key,
            format!("apiVersion {api_version:?} is not supported (use client.authentication.k8s.io/v1 or v1beta1)"),
        ));
    }
    Ok(ExecConfig {
        api_version,
        command,
        args: raw.args.unwrap_or_default(),
        env: raw
            .env
            .unwrap_or_default()
            .into_iter()
            .map(|v| (v.name, Secret::new(v.value.unwrap_or_default())))
            .collect(),
    })
}

impl Config {
    /// The config of `context` (or the current context) of a kubeconfig. Files it names (CA,
    /// client certificate and key) are read through `env`; token files are left to the
    /// transport ([`Auth::TokenFile`]).
    ///
    /// A [`Error::Config`] from here names the kubeconfig file(s) it was read from (unless its
    /// problem already does), so a user knows which file to fix.
    pub fn from_kubeconfig<E: Environment + ?Sized>(
        kubeconfig: &Kubeconfig,
        context: Option<&str>,
        env: &E,
    ) -> Result<Config> {
        Self::from_kubeconfig_unnamed(kubeconfig, context, env).map_err(|err| kubeconfig.naming_files(err))
    }

    fn from_kubeconfig_unnamed<E: Environment + ?Sized>(
        kubeconfig: &Kubeconfig,
        context: Option<&str>,
        env: &E,
    ) -> Result<Config> {
        let name = match context {
            Some(name) => name,
            None => kubeconfig.current_context.as_deref().ok_or_else(|| {
                Error::config(
                    "current-context",
                    format!(
                        "is not set in {} and no context was asked for (contexts: {})",
                        kubeconfig.sources.join(", "),
                        list(kubeconfig.context_names())
                    ),
                )
            })?,
        };
        let ctx_key = if context.is_some() { "context" } else { "current-context" };
        let ctx = find(&kubeconfig.contexts, name).ok_or_else(|| {
            Error::config(
                ctx_key,
                format!("context {name:?} is not in the kubeconfig (contexts: {})", list(kubeconfig.context_names())),
            )
        })?;
        if ctx.cluster.is_empty() {
            return Err(Error::config(format!("contexts[{name}].context.cluster"), "is not set"));
        }
        let cluster = find(&kubeconfig.clusters, &ctx.cluster).ok_or_else(|| {
            Error::config(
                format!("contexts[{name}].context.cluster"),
                format!(
                    "cluster {:?} is not defined (clusters: {})",
                    ctx.cluster,
                    list(kubeconfig.clusters.iter().map(|(n, _)| n.as_str()))
                ),
            )
        })?;
        let cluster_key = format!("clusters[{}].cluster", ctx.cluster);
        let server =
            cluster.server.as_deref().ok_or_else(|| Error::config(format!("{cluster_key}.server"), "is not set"))?;
        let server = parse_server_url(server, &format!("{cluster_key}.server"))?;
        if cluster.proxy_url {
            return Err(Error::config(
                format!("{cluster_key}.proxy-url"),
                "connecting through a proxy is not supported yet; remove proxy-url or reach the server directly",
            ));
        }
        if cluster.insecure && (cluster.ca_data.is_some() || cluster.ca_file.is_some()) {
            // kubectl refuses this combination too
            return Err(Error::config(
                format!("{cluster_key}.insecure-skip-tls-verify"),
                "cannot be combined with a certificate authority: remove one of them",
            ));
        }
        let mut config = Config::new(Orchestrator::Kubernetes, server.as_str())?;
        config.namespace = ctx.namespace.clone();

        // TLS
        if let Some(data) = &cluster.ca_data {
            let key = format!("{cluster_key}.certificate-authority-data");
            config.tls.ca_pem.push(pem::ca_bundle(&pem::pem_or_base64(data, &key)?, &key)?);
        } else if let Some(path) = &cluster.ca_file {
            let key = format!("{cluster_key}.certificate-authority");
            config.tls.ca_pem.push(pem::ca_bundle(&pem::read_file(env, path, &key)?, &key)?);
        }
        config.tls.skip_verify = cluster.insecure;
        config.tls.server_name = cluster.tls_server_name.clone();

        // Credentials
        if ctx.user.is_empty() {
            return Ok(config);
        }
        let user = find(&kubeconfig.users, &ctx.user).ok_or_else(|| {
            Error::config(
                format!("contexts[{name}].context.user"),
                format!(
                    "user {:?} is not defined (users: {})",
                    ctx.user,
                    list(kubeconfig.users.iter().map(|(n, _)| n.as_str()))
                ),
            )
        })?;
        let user_key = format!("users[{}].user", ctx.user);
        if let Some(provider) = &user.auth_provider {
            return Err(Error::config(
                format!("{user_key}.auth-provider"),
                format!(
                    "auth-provider {provider:?} is not supported (kubectl removed it); use an exec credential plugin \
                     (for example kubelogin or gke-gcloud-auth-plugin)"
                ),
            ));
        }
        let token = user.token.is_some() || user.token_file.is_some();
        let basic = user.username.is_some() || user.password.is_some();
        let methods: Vec<&str> = [(token, "token"), (basic, "basic auth"), (user.exec.is_some(), "exec")]
            .into_iter()
            .filter_map(|(on, n)| on.then_some(n))
            .collect();
        if methods.len() > 1 {
            return Err(Error::config(
                user_key,
                format!("more than one authentication method ({}); only one is allowed", methods.join(", ")),
            ));
        }
        config.auth = if let Some(path) = &user.token_file {
            Auth::TokenFile { path: path.clone() }
        } else if let Some(token) = &user.token {
            Auth::Bearer(token.clone())
        } else if basic {
            let username = user
                .username
                .clone()
                .ok_or_else(|| Error::config(format!("{user_key}.username"), "is not set while password is"))?;
            Auth::Basic { username, password: user.password.clone().unwrap_or_default() }
        } else if let Some(exec) = &user.exec {
            Auth::Exec(exec.clone())
        } else {
            Auth::None
        };

        let cert = match (&user.cert_data, &user.cert_file) {
            (Some(data), _) => {
                let key = format!("{user_key}.client-certificate-data");
                Some((pem::pem_or_base64(data, &key)?, key))
            }
            (None, Some(path)) => {
                let key = format!("{user_key}.client-certificate");
                Some((pem::read_file(env, path, &key)?, key))
            }
            (None, None) => None,
        };
        let key = match (&user.key_data, &user.key_file) {
            (Some(data), _) => {
                let key = format!("{user_key}.client-key-data");
                Some((pem::pem_or_base64(data.expose(), &key)?, key))
            }
            (None, Some(path)) => {
                let key = format!("{user_key}.client-key");
                Some((pem::read_file(env, path, &key)?, key))
            }
            (None, None) => None,
        };
        config.tls.client_identity = match (cert, key) {
            (Some((cert, cert_key)), Some((key, key_key))) => {
                Some(pem::identity(&cert, &cert_key, Some(&key), &key_key)?)
            }
            (Some(_), None) => {
                return Err(Error::config(
                    format!("{user_key}.client-key"),
                    "is not set while a client certificate is; give client-key or client-key-data",
                ))
            }
            (None, Some(_)) => {
                return Err(Error::config(
                    format!("{user_key}.client-certificate"),
                    "is not set while a client key is; give client-certificate or client-certificate-data",
                ))
            }
            (None, None) => None,
        };
        Ok(config)
    }

    /// The config of `context` (or the current one) of a kubeconfig given as YAML text.
    /// Relative paths in it are used as written.
    pub fn from_kubeconfig_yaml<E: Environment + ?Sized>(text: &str, context: Option<&str>, env: &E) -> Result<Config> {
        Self::from_kubeconfig(&Kubeconfig::parse(text, None)?, context, env)
    }

    /// The config of `context` (or the current one) of the kubeconfig kubectl would use
    /// ([`Kubeconfig::load`]: `KUBECONFIG`, else `~/.kube/config`).
    pub fn from_kubeconfig_env<E: Environment + ?Sized>(context: Option<&str>, env: &E) -> Result<Config> {
        Self::from_kubeconfig(&Kubeconfig::load(env)?, context, env)
    }
}

fn find<'a, T>(list: &'a [(String, T)], name: &str) -> Option<&'a T> {
    list.iter().find(|(n, _)| n == name).map(|(_, t)| t)
}

fn list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}
