//! [`Config::infer`]: find a server the way the usual tools do, trying in order
//!
//! 1. a kubeconfig: `KUBECONFIG`, else `~/.kube/config` (`HOME`), its current context;
//! 2. the in-cluster service account (`KUBERNETES_SERVICE_HOST`);
//! 3. Nomad's environment, when `NOMAD_ADDR` is set.
//!
//! A source that is absent (variable unset, file missing) passes to the next; a source that is
//! present but wrong (bad YAML, unknown context, unreadable CA...) stops the search with its
//! own error, so a broken kubeconfig is never silently replaced by another server. When nothing
//! is found, the error lists what was tried and why each did not apply.

use super::{incluster, kubeconfig, var, Config, Environment, Kubeconfig};
use crate::error::{Error, Result};

impl Config {
    /// Find the configuration from the environment (see the [module docs](self)).
    ///
    /// ```
    /// use clustermanager_core::config::{Config, MapEnvironment};
    /// let env = MapEnvironment::new().with_var("NOMAD_ADDR", "http://10.0.0.9:4646");
    /// let config = Config::infer(&env)?;
    /// assert_eq!(config.orchestrator, clustermanager_core::Orchestrator::Nomad);
    ///
    /// let err = Config::infer(&MapEnvironment::new()).unwrap_err().to_string();
    /// assert!(err.contains("KUBECONFIG") && err.contains("NOMAD_ADDR"));
    /// # Ok::<(), clustermanager_core::Error>(())
    /// ```
    pub fn infer<E: Environment + ?Sized>(env: &E) -> Result<Config> {
        let mut tried = Vec::new();

        // 1. kubeconfig
        match kubeconfig_absent(env) {
            None => {
                let kubeconfig = Kubeconfig::load(env)?;
                return Config::from_kubeconfig(&kubeconfig, None, env);
            }
            Some(why) => tried.push(why),
        }

        // 2. in-cluster
        if incluster::detected(env) {
            return Config::in_cluster(env);
        }
        tried.push("in-cluster service account: KUBERNETES_SERVICE_HOST is not set (not in a pod)".to_owned());

        // 3. Nomad
        if var(env, "NOMAD_ADDR").is_some() {
            return Config::from_nomad_env(env);
        }
        tried.push("Nomad: NOMAD_ADDR is not set".to_owned());

        Err(Error::config(
            "config",
            format!(
                "no Kubernetes or Nomad server found; tried {}. Set KUBECONFIG, run inside a pod, or set NOMAD_ADDR",
                tried.join("; ")
            ),
        ))
    }
}

/// `None` when a kubeconfig is there to load; else why not.
fn kubeconfig_absent<E: Environment + ?Sized>(env: &E) -> Option<String> {
    if var(env, "KUBECONFIG").is_some() {
        return None;
    }
    let Some(path) = kubeconfig::default_path(env) else {
        return Some("kubeconfig: KUBECONFIG is not set and HOME is not set".to_owned());
    };
    match env.read_file(&path) {
        Ok(_) => None,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Some(format!("kubeconfig: KUBECONFIG is not set and {path} does not exist"))
        }
        // present but unreadable: let the loader report it
        Err(_) => None,
    }
}
