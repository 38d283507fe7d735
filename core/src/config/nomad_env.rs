//! A Nomad config from the environment variables the `nomad` CLI reads.
//!
//! | variable | meaning |
//! |---|---|
//! | `NOMAD_ADDR` | agent address; default `http://127.0.0.1:4646` (only in [`Config::from_nomad_env`]: [`Config::infer`] requires it). Without a scheme, `http://` |
//! | `NOMAD_TOKEN` | ACL secret id, sent as `X-Nomad-Token` |
//! | `NOMAD_HTTP_AUTH` | `user[:password]` for HTTP basic auth (a proxy in front of Nomad); cannot be combined with `NOMAD_TOKEN` here |
//! | `NOMAD_NAMESPACE` | default namespace |
//! | `NOMAD_REGION` | region |
//! | `NOMAD_CACERT` | CA certificate file (PEM) |
//! | `NOMAD_CAPATH` | a directory of CAs: not supported (core cannot list directories); use `NOMAD_CACERT` |
//! | `NOMAD_CLIENT_CERT`, `NOMAD_CLIENT_KEY` | client certificate and key files (PEM); one without the other is an error |
//! | `NOMAD_SKIP_VERIFY` | Go `strconv.ParseBool` forms: `1 t T TRUE true True 0 f F FALSE false False` |
//! | `NOMAD_TLS_SERVER_NAME` | name to verify the agent's certificate against |
//!
//! Empty variables count as unset, as in the CLI.

use super::{parse_server_url, pem, var, Auth, Config, Environment};
use crate::error::{Error, Result};
use crate::model::Orchestrator;
use crate::secret::Secret;

/// Where a Nomad dev agent listens.
pub const DEFAULT_ADDR: &str = "http://127.0.0.1:4646";

impl Config {
    /// A Nomad config from `NOMAD_*` environment variables (see the [module docs](self)).
    ///
    /// ```
    /// use clustermanager_core::config::{Auth, Config, MapEnvironment};
    /// let env = MapEnvironment::new()
    ///     .with_var("NOMAD_TOKEN", "00000000-secret")
    ///     .with_var("NOMAD_NAMESPACE", "batch")
    ///     .with_var("NOMAD_REGION", "eu");
    /// let config = Config::from_nomad_env(&env)?;
    /// assert_eq!(config.server.as_str(), "http://127.0.0.1:4646/");
    /// assert!(matches!(config.auth, Auth::NomadToken(_)));
    /// assert_eq!(config.region.as_deref(), Some("eu"));
    /// # Ok::<(), clustermanager_core::Error>(())
    /// ```
    pub fn from_nomad_env<E: Environment + ?Sized>(env: &E) -> Result<Config> {
        let addr = var(env, "NOMAD_ADDR").unwrap_or_else(|| DEFAULT_ADDR.to_owned());
        let addr = addr.trim();
        if addr.starts_with("unix://") {
            return Err(Error::config("NOMAD_ADDR", "unix sockets are not supported; give an http(s):// address"));
        }
        let url = if addr.contains("://") { addr.to_owned() } else { format!("http://{addr}") };
        let server = parse_server_url(&url, "NOMAD_ADDR")?;
        let mut config = Config::new(Orchestrator::Nomad, server.as_str())?;

        let token = var(env, "NOMAD_TOKEN");
        let http_auth = var(env, "NOMAD_HTTP_AUTH");
        config.auth = match (token, http_auth) {
            (Some(_), Some(_)) => {
                return Err(Error::config(
                    "NOMAD_HTTP_AUTH",
                    "cannot be used together with NOMAD_TOKEN here; unset one of them",
                ))
            }
            (Some(token), None) => Auth::NomadToken(Secret::new(token.trim())),
            (None, Some(auth)) => {
                let (user, password) = auth.split_once(':').unwrap_or((auth.as_str(), ""));
                Auth::Basic { username: user.to_owned(), password: Secret::new(password) }
            }
            (None, None) => Auth::None,
        };
        config.namespace = var(env, "NOMAD_NAMESPACE").map(|s| s.trim().to_owned());
        config.region = var(env, "NOMAD_REGION").map(|s| s.trim().to_owned());

        if let Some(path) = var(env, "NOMAD_CACERT") {
            let ca = pem::read_file(env, &path, "NOMAD_CACERT")?;
            config.tls.ca_pem.push(pem::ca_bundle(&ca, "NOMAD_CACERT")?);
        }
        if var(env, "NOMAD_CAPATH").is_some() {
            return Err(Error::config(
                "NOMAD_CAPATH",
                "a CA directory is not supported; concatenate the CAs into one file and set NOMAD_CACERT",
            ));
        }
        match (var(env, "NOMAD_CLIENT_CERT"), var(env, "NOMAD_CLIENT_KEY")) {
            (Some(cert_path), Some(key_path)) => {
                let cert = pem::read_file(env, &cert_path, "NOMAD_CLIENT_CERT")?;
                let key = pem::read_file(env, &key_path, "NOMAD_CLIENT_KEY")?;
                config.tls.client_identity =
                    Some(pem::identity(&cert, "NOMAD_CLIENT_CERT", Some(&key), "NOMAD_CLIENT_KEY")?);
            }
            (Some(_), None) => {
                return Err(Error::config("NOMAD_CLIENT_KEY", "is not set while NOMAD_CLIENT_CERT is; set both"))
            }
            (None, Some(_)) => {
                return Err(Error::config("NOMAD_CLIENT_CERT", "is not set while NOMAD_CLIENT_KEY is; set both"))
            }
            (None, None) => {}
        }
        if let Some(skip) = var(env, "NOMAD_SKIP_VERIFY") {
            config.tls.skip_verify = match skip.trim() {
                "1" | "t" | "T" | "TRUE" | "true" | "True" => true,
                "0" | "f" | "F" | "FALSE" | "false" | "False" => false,
                _ => return Err(Error::config("NOMAD_SKIP_VERIFY", "is not a boolean (use true or false)")),
            };
        }
        if let Some(name) = var(env, "NOMAD_TLS_SERVER_NAME") {
            config.tls.server_name = Some(name.trim().to_owned());
        }
        Ok(config)
    }
}
