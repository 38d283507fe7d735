//! Configs from the environment: in-cluster service account, Nomad's variables, and `infer`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::result_large_err)] // tests: a panic is the failure report

mod support;
use support::{config_err, CA, CERT, KEY};

use clustermanager_core::config::{incluster, Auth, Config, MapEnvironment};
use clustermanager_core::{Error, Orchestrator};

fn pod() -> MapEnvironment {
    MapEnvironment::new()
        .with_var("KUBERNETES_SERVICE_HOST", "10.96.0.1")
        .with_var("KUBERNETES_SERVICE_PORT", "6443")
        .with_file(incluster::TOKEN_PATH, "eyJhbGciOiJSUzI1NiJ9.e30.sig\n")
        .with_file(incluster::CA_PATH, CA)
        .with_file(incluster::NAMESPACE_PATH, "jobs\n")
}

#[test]
fn in_cluster_reads_the_service_account() {
    let config = Config::in_cluster(&pod()).unwrap();
    assert_eq!(config.orchestrator, Orchestrator::Kubernetes);
    assert_eq!(config.server.as_str(), "https://10.96.0.1:6443/");
    assert_eq!(config.auth, Auth::TokenFile { path: incluster::TOKEN_PATH.into() });
    assert_eq!(String::from_utf8(config.tls.ca_pem[0].clone()).unwrap().trim(), CA.trim());
    assert_eq!(config.namespace.as_deref(), Some("jobs"));
    assert!(!config.tls.skip_verify);
}

#[test]
fn in_cluster_ipv6_host_is_bracketed() {
    let env = pod().with_var("KUBERNETES_SERVICE_HOST", "fd00:10:96::1");
    assert_eq!(Config::in_cluster(&env).unwrap().server.as_str(), "https://[fd00:10:96::1]:6443/");
}

#[test]
fn in_cluster_token_override_and_optional_files() {
    let mut env = pod().with_var("KUBERNETES_SERVICE_TOKEN", "override-token");
    assert_eq!(Config::in_cluster(&env).unwrap().auth, Auth::Bearer("override-token".into()));
    // no CA file: platform roots, as client-go; no namespace file: no default namespace
    env = MapEnvironment::new()
        .with_var("KUBERNETES_SERVICE_HOST", "10.96.0.1")
        .with_var("KUBERNETES_SERVICE_PORT", "443")
        .with_file(incluster::TOKEN_PATH, "t");
    let config = Config::in_cluster(&env).unwrap();
    assert!(config.tls.ca_pem.is_empty());
    assert_eq!(config.namespace, None);
}

#[test]
fn in_cluster_errors() {
    let (key, text) = config_err(Config::in_cluster(&MapEnvironment::new()));
    assert_eq!(key, "KUBERNETES_SERVICE_HOST");
    assert!(text.contains("not running inside a Kubernetes pod"), "{text}");
    let env = MapEnvironment::new().with_var("KUBERNETES_SERVICE_HOST", "10.96.0.1");
    assert_eq!(config_err(Config::in_cluster(&env)).0, "KUBERNETES_SERVICE_PORT");
    let env = pod().with_var("KUBERNETES_SERVICE_PORT", "https");
    assert_eq!(config_err(Config::in_cluster(&env)).0, "KUBERNETES_SERVICE_PORT");
    let env = MapEnvironment::new()
        .with_var("KUBERNETES_SERVICE_HOST", "10.96.0.1")
        .with_var("KUBERNETES_SERVICE_PORT", "443");
    let (key, text) = config_err(Config::in_cluster(&env));
    assert_eq!(key, incluster::TOKEN_PATH);
    assert!(text.contains("no such file"), "{text}");
    let env = pod().with_file(incluster::TOKEN_PATH, "  \n");
    assert_eq!(config_err(Config::in_cluster(&env)).0, incluster::TOKEN_PATH);
    let env = pod().with_file(incluster::CA_PATH, "not a certificate");
    assert_eq!(config_err(Config::in_cluster(&env)).0, incluster::CA_PATH);
}

fn nomad_tls() -> MapEnvironment {
    MapEnvironment::new()
        .with_var("NOMAD_ADDR", "https://nomad.example:4646")
        .with_var("NOMAD_TOKEN", "nomad-acl-SECRET")
        .with_var("NOMAD_NAMESPACE", "batch")
        .with_var("NOMAD_REGION", "eu-west")
        .with_var("NOMAD_CACERT", "/etc/nomad/ca.pem")
        .with_var("NOMAD_CLIENT_CERT", "/etc/nomad/cli.pem")
        .with_var("NOMAD_CLIENT_KEY", "/etc/nomad/cli-key.pem")
        .with_var("NOMAD_TLS_SERVER_NAME", "server.global.nomad")
        .with_file("/etc/nomad/ca.pem", CA)
        .with_file("/etc/nomad/cli.pem", CERT)
        .with_file("/etc/nomad/cli-key.pem", KEY)
}

#[test]
fn nomad_env_every_variable() {
    let config = Config::from_nomad_env(&nomad_tls()).unwrap();
    assert_eq!(config.orchestrator, Orchestrator::Nomad);
    assert_eq!(config.server.as_str(), "https://nomad.example:4646/");
    assert_eq!(config.auth, Auth::NomadToken("nomad-acl-SECRET".into()));
    assert_eq!(config.namespace.as_deref(), Some("batch"));
    assert_eq!(config.region.as_deref(), Some("eu-west"));
    assert_eq!(config.tls.ca_pem.len(), 1);
    assert_eq!(config.tls.client_identity.unwrap().key_pem.expose().trim(), KEY.trim());
    assert_eq!(config.tls.server_name.as_deref(), Some("server.global.nomad"));
    assert!(!config.tls.skip_verify);
}

#[test]
fn nomad_env_defaults_and_forms() {
    let config = Config::from_nomad_env(&MapEnvironment::new()).unwrap();
    assert_eq!(config.server.as_str(), "http://127.0.0.1:4646/");
    assert_eq!(config.auth, Auth::None);
    let config = Config::from_nomad_env(&MapEnvironment::new().with_var("NOMAD_ADDR", "10.0.0.5:4646")).unwrap();
    assert_eq!(config.server.as_str(), "http://10.0.0.5:4646/");
    let config = Config::from_nomad_env(&MapEnvironment::new().with_var("NOMAD_ADDR", "")).unwrap();
    assert_eq!(config.server.as_str(), "http://127.0.0.1:4646/", "empty counts as unset");
    for (v, want) in [("1", true), ("true", true), ("T", true), ("0", false), ("False", false)] {
        let config = Config::from_nomad_env(&MapEnvironment::new().with_var("NOMAD_SKIP_VERIFY", v)).unwrap();
        assert_eq!(config.tls.skip_verify, want, "{v}");
    }
    let Auth::Basic { username, password } =
        Config::from_nomad_env(&MapEnvironment::new().with_var("NOMAD_HTTP_AUTH", "ops:pw")).unwrap().auth
    else {
        panic!()
    };
    assert_eq!((username.as_str(), password.expose()), ("ops", "pw"));
}

#[test]
fn nomad_env_errors() {
    let e = |env: MapEnvironment| config_err(Config::from_nomad_env(&env));
    assert_eq!(e(nomad_tls().with_var("NOMAD_CLIENT_KEY", "")).0, "NOMAD_CLIENT_KEY");
    assert_eq!(e(nomad_tls().with_var("NOMAD_CLIENT_CERT", "")).0, "NOMAD_CLIENT_CERT");
    assert_eq!(e(nomad_tls().with_var("NOMAD_CACERT", "/nope")).0, "NOMAD_CACERT");
    assert_eq!(e(nomad_tls().with_file("/etc/nomad/cli-key.pem", CERT)).0, "NOMAD_CLIENT_KEY");
    assert_eq!(e(MapEnvironment::new().with_var("NOMAD_SKIP_VERIFY", "maybe")).0, "NOMAD_SKIP_VERIFY");
    assert_eq!(e(MapEnvironment::new().with_var("NOMAD_CAPATH", "/etc/ssl/certs")).0, "NOMAD_CAPATH");
    assert_eq!(e(MapEnvironment::new().with_var("NOMAD_ADDR", "unix:///run/nomad.sock")).0, "NOMAD_ADDR");
    assert_eq!(e(MapEnvironment::new().with_var("NOMAD_ADDR", "ftp://x")).0, "NOMAD_ADDR");
    assert_eq!(e(nomad_tls().with_var("NOMAD_HTTP_AUTH", "a:b")).0, "NOMAD_HTTP_AUTH");
}

const KUBECONFIG: &str = "current-context: k\ncontexts: [{name: k, context: {cluster: c}}]\n\
                          clusters: [{name: c, cluster: {server: 'https://kube:6443'}}]\n";

#[test]
fn infer_prefers_kubeconfig_then_in_cluster_then_nomad() {
    let everything = pod()
        .with_var("NOMAD_ADDR", "http://nomad:4646")
        .with_var("HOME", "/home/me")
        .with_file("/home/me/.kube/config", KUBECONFIG);
    assert_eq!(Config::infer(&everything).unwrap().server.as_str(), "https://kube:6443/");
    let explicit = everything.clone().with_var("KUBECONFIG", "/other").with_file(
        "/other",
        "current-context: o\ncontexts: [{name: o, context: {cluster: c}}]\nclusters: [{name: c, cluster: {server: 'https://other'}}]\n",
    );
    assert_eq!(Config::infer(&explicit).unwrap().server.as_str(), "https://other/");

    let no_kubeconfig = pod().with_var("NOMAD_ADDR", "http://nomad:4646").with_var("HOME", "/home/me");
    assert_eq!(Config::infer(&no_kubeconfig).unwrap().server.as_str(), "https://10.96.0.1:6443/");

    let nomad_only = MapEnvironment::new().with_var("NOMAD_ADDR", "http://nomad:4646").with_var("NOMAD_TOKEN", "t");
    let config = Config::infer(&nomad_only).unwrap();
    assert_eq!(config.orchestrator, Orchestrator::Nomad);
    assert_eq!(config.auth, Auth::NomadToken("t".into()));
}

#[test]
fn infer_reports_what_it_tried() {
    // nothing configured is its own error (a program may fall back on it), saying what was tried
    let not_configured = |r: Result<Config, Error>| match r {
        Err(e @ Error::NotConfigured { .. }) => e.to_string(),
        other => panic!("expected NotConfigured, got {other:?}"),
    };
    let text = not_configured(Config::infer(&MapEnvironment::new().with_var("HOME", "/home/me")));
    for needle in ["/home/me/.kube/config", "KUBERNETES_SERVICE_HOST", "NOMAD_ADDR"] {
        assert!(text.contains(needle), "{needle} missing from {text}");
    }
    // NOMAD_TOKEN alone does not make a Nomad config: the address is required
    let text = not_configured(Config::infer(&MapEnvironment::new().with_var("NOMAD_TOKEN", "nomad-SECRET")));
    assert!(!text.contains("nomad-SECRET"), "{text}");
}

#[test]
fn infer_stops_at_a_broken_source() {
    // a kubeconfig that is there but wrong is reported, not silently replaced by Nomad
    let env = MapEnvironment::new()
        .with_var("HOME", "/home/me")
        .with_file("/home/me/.kube/config", "current-context: missing\n")
        .with_var("NOMAD_ADDR", "http://nomad:4646");
    let (key, text) = config_err(Config::infer(&env));
    assert_eq!(key, "current-context");
    assert!(text.contains("\"missing\""), "{text}");
    let env = MapEnvironment::new().with_var("KUBERNETES_SERVICE_HOST", "10.0.0.1");
    assert_eq!(config_err(Config::infer(&env)).0, "KUBERNETES_SERVICE_PORT");
}
