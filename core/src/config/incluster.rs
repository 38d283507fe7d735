//! Running inside a Kubernetes pod: the apiserver address from `KUBERNETES_SERVICE_HOST` /
//! `KUBERNETES_SERVICE_PORT`, the CA, token and namespace from the service account directory.
//!
//! The token is not read here: the config says [`Auth::TokenFile`] and the transport reads the
//! file (again when it rotates: projected service-account tokens expire within the hour). The
//! seed's `KUBERNETES_SERVICE_TOKEN` variable, when set, overrides it with a static bearer token.

use super::{pem, var, Auth, Config, Environment};
use crate::error::{Error, Result};
use crate::model::Orchestrator;
use crate::secret::Secret;

/// The service account directory mounted into pods.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The service account token file.
pub const TOKEN_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";
/// The apiserver's CA certificate.
pub const CA_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
/// The pod's namespace.
pub const NAMESPACE_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
/// Environment variable overriding the token (from the seed).
pub const TOKEN_ENV: &str = "KUBERNETES_SERVICE_TOKEN";

impl Config {
    /// The in-cluster config of a pod.
    ///
    /// - server: `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT` (an IPv6 host is
    ///   bracketed); both variables are required, else the error says we are not in a pod;
    /// - CA: [`CA_PATH`] (when the file is missing, as client-go does, the platform roots are
    ///   used; when present it must be a PEM certificate);
    /// - auth: `KUBERNETES_SERVICE_TOKEN` as a static bearer token if set, else
    ///   [`Auth::TokenFile`] on [`TOKEN_PATH`], which must exist now;
    /// - namespace: [`NAMESPACE_PATH`] when present.
    ///
    /// ```
    /// use clustermanager_core::config::{incluster, Auth, Config, MapEnvironment};
    /// let env = MapEnvironment::new()
    ///     .with_var("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    ///     .with_var("KUBERNETES_SERVICE_PORT", "443")
    ///     .with_file(incluster::TOKEN_PATH, "eyJhbGciOi...")
    ///     .with_file(incluster::NAMESPACE_PATH, "batch\n");
    /// let config = Config::in_cluster(&env)?;
    /// assert_eq!(config.server.as_str(), "https://10.96.0.1/");
    /// assert_eq!(config.namespace.as_deref(), Some("batch"));
    /// assert_eq!(config.auth, Auth::TokenFile { path: incluster::TOKEN_PATH.into() });
    /// # Ok::<(), clustermanager_core::Error>(())
    /// ```
    pub fn in_cluster<E: Environment + ?Sized>(env: &E) -> Result<Config> {
        let host = var(env, "KUBERNETES_SERVICE_HOST").ok_or_else(|| {
            Error::config(
                "KUBERNETES_SERVICE_HOST",
                "is not set: not running inside a Kubernetes pod (in-cluster config needs KUBERNETES_SERVICE_HOST \
                 and KUBERNETES_SERVICE_PORT)",
            )
        })?;
        let port = var(env, "KUBERNETES_SERVICE_PORT").ok_or_else(|| {
            Error::config(
                "KUBERNETES_SERVICE_PORT",
                "is not set while KUBERNETES_SERVICE_HOST is: not a complete in-cluster environment",
            )
        })?;
        let (host, port) = (host.trim(), port.trim());
        if port.parse::<u16>().is_err() {
            return Err(Error::config("KUBERNETES_SERVICE_PORT", format!("{port:?} is not a port number")));
        }
        let host = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host.to_owned() };
        let server = super::parse_server_url(&format!("https://{host}:{port}"), "KUBERNETES_SERVICE_HOST")?;
        let mut config = Config::new(Orchestrator::Kubernetes, server.as_str())?;

        match env.read_file(CA_PATH) {
            Ok(pem) => config.tls.ca_pem.push(pem::ca_bundle(&pem, CA_PATH)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(
                    "{CA_PATH} not found: the apiserver's certificate is checked against the platform roots"
                );
            }
            Err(e) => return Err(Error::config(CA_PATH, format!("cannot read it: {}", pem::io_problem(&e)))),
        }

        config.auth = match var(env, TOKEN_ENV) {
            Some(token) => Auth::Bearer(Secret::new(token.trim())),
            None => {
                // Check now that the token is there; the transport reads it for each use.
                let token = env.read_file(TOKEN_PATH).map_err(|e| {
                    Error::config(
                        TOKEN_PATH,
                        format!(
                            "cannot read the service account token: {} (is automountServiceAccountToken off?)",
                            pem::io_problem(&e)
                        ),
                    )
                })?;
                if token.iter().all(u8::is_ascii_whitespace) {
                    return Err(Error::config(TOKEN_PATH, "the service account token file is empty"));
                }
                Auth::TokenFile { path: TOKEN_PATH.to_owned() }
            }
        };

        match env.read_file(NAMESPACE_PATH) {
            Ok(ns) => {
                let ns = String::from_utf8_lossy(&ns).trim().to_owned();
                if !ns.is_empty() {
                    config.namespace = Some(ns);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::config(NAMESPACE_PATH, format!("cannot read it: {}", pem::io_problem(&e)))),
        }
        Ok(config)
    }
}

/// Whether the in-cluster variables are present (used by [`Config::infer`]).
pub(crate) fn detected<E: Environment + ?Sized>(env: &E) -> bool {
    var(env, "KUBERNETES_SERVICE_HOST").is_some()
}
