//! [`Config::infer`]: find a server the way the usual tools do, trying in order
//!
//! 1. a kubeconfig: `KUBECONFIG`, else `~/.kube/config` (`HOME`), its current context;
//! 2. the in-cluster service account (`KUBERNETES_SERVICE_HOST`);
//! 3. Nomad's environment, when `NOMAD_ADDR` is set.
//!
//! A source that is absent (variable unset, file missing) passes to the next; a source that is
//! present but wrong (bad YAML, unknown context, unreadable CA...) stops the search with its
//! own error ([`Error::Config`], naming the file or variable and what is wrong), so a broken
//! kubeconfig is never silently replaced by another server. When nothing is found, the error is
//! [`Error::NotConfigured`], listing what was tried and why each did not apply: the one outcome
//! after which a program may fall back to something else (the quickstart and the
//! `clustermanager` command use the embedded fake cluster then, and only then).

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
    /// // nothing configured: a distinct error, after which falling back is fine
    /// let err = Config::infer(&MapEnvironment::new()).unwrap_err();
    /// assert!(matches!(err, clustermanager_core::Error::NotConfigured { .. }));
    /// assert!(err.to_string().contains("KUBECONFIG") && err.to_string().contains("NOMAD_ADDR"));
    ///
    /// // configured but broken: the error names the file and what is wrong
    /// let env = MapEnvironment::new().with_var("KUBECONFIG", "/etc/kube.yaml").with_file("/etc/kube.yaml", "[not yaml");
    /// let err = Config::infer(&env).unwrap_err();
    /// assert!(matches!(&err, clustermanager_core::Error::Config { key, .. } if key == "/etc/kube.yaml"), "{err}");
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

        Err(Error::NotConfigured { tried })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MapEnvironment;

    const PATH: &str = "/home/me/broken.yaml";

    fn kubeconfig(current_context: &str, server: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: {current_context}\nclusters:\n- name: k\n  cluster:\n    server: {server}\ncontexts:\n- name: dev\n  context:\n    cluster: k\n    user: u\nusers:\n- name: u\n  user: {{}}\n"
        )
    }

    /// What `infer` says with `KUBECONFIG` (and, to be sure it is never used instead,
    /// `NOMAD_ADDR`) set, the file holding `text`.
    fn infer_with(text: &str) -> Error {
        let env = MapEnvironment::new()
            .with_var("KUBECONFIG", PATH)
            .with_var("NOMAD_ADDR", "http://127.0.0.1:4646")
            .with_file(PATH, text.as_bytes().to_vec());
        match Config::infer(&env) {
            Ok(config) => panic!("a broken kubeconfig was accepted: {config:?}"),
            Err(err) => err,
        }
    }

    fn config_error(err: &Error) -> (&str, &str) {
        match err {
            Error::Config { key, problem } => (key, problem),
            other => panic!("expected Error::Config, got {other:?}"),
        }
    }

    #[test]
    fn nothing_configured_is_its_own_error_listing_what_was_tried() {
        let env = MapEnvironment::new().with_var("HOME", "/home/me");
        let Err(Error::NotConfigured { tried }) = Config::infer(&env) else { panic!("expected NotConfigured") };
        assert_eq!(tried.len(), 3, "{tried:?}");
        assert!(tried[0].contains("/home/me/.kube/config does not exist"), "{tried:?}");
        let text = Error::NotConfigured { tried }.to_string();
        assert!(text.contains("Set KUBECONFIG") && text.contains("NOMAD_ADDR"), "{text}");
    }

    #[test]
    fn a_current_context_the_file_does_not_have_is_a_config_error_naming_the_file() {
        let err = infer_with(&kubeconfig("prod", "https://10.0.0.1:6443"));
        let (key, problem) = config_error(&err);
        assert_eq!(key, "current-context");
        assert!(problem.contains("\"prod\" is not in the kubeconfig (contexts: dev)"), "{problem}");
        assert!(problem.contains(PATH), "{problem}");
    }

    #[test]
    fn a_server_that_is_not_a_url_is_a_config_error_naming_the_file() {
        let err = infer_with(&kubeconfig("dev", "not a url"));
        let (key, problem) = config_error(&err);
        assert_eq!(key, "clusters[k].cluster.server");
        assert!(problem.contains("\"not a url\" is not a server URL"), "{problem}");
        assert!(problem.contains(PATH), "{problem}");
    }

    #[test]
    fn a_file_that_is_not_yaml_is_a_config_error_naming_the_file() {
        for text in ["{{{ not: yaml", "just some words\n", "- a\n- list\n"] {
            let err = infer_with(text);
            let (key, problem) = config_error(&err);
            assert_eq!(key, PATH, "{text:?}");
            assert!(problem.starts_with("not a valid kubeconfig"), "{text:?}: {problem}");
        }
    }

    #[test]
    fn a_broken_default_kubeconfig_is_an_error_too() {
        let env = MapEnvironment::new()
            .with_var("HOME", "/home/me")
            .with_file("/home/me/.kube/config", kubeconfig("prod", "https://10.0.0.1:6443").into_bytes());
        let err = Config::infer(&env).unwrap_err();
        let (_, problem) = config_error(&err);
        assert!(problem.contains("/home/me/.kube/config"), "{problem}");
    }
}
