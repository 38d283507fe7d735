//! Kubeconfig: every cluster and user form, contexts, errors, and KUBECONFIG merging.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::result_large_err)] // tests: a panic is the failure report

mod support;
use support::{b64, config_err, CA, CERT, KEY};

use clustermanager_core::config::{Auth, Config, Kubeconfig, MapEnvironment};

/// A kubeconfig with one context per user form.
fn full_kubeconfig() -> String {
    format!(
        r#"apiVersion: v1
kind: Config
preferences: {{}}
current-context: token
clusters:
- name: inline-ca
  cluster:
    server: https://10.0.0.1:6443
    certificate-authority-data: {ca}
    tls-server-name: kubernetes.default
- name: file-ca
  cluster:
    server: https://[fd00::1]:6443/prefix
    certificate-authority: certs/ca.pem
- name: insecure
  cluster:
    server: https://insecure.example:443
    insecure-skip-tls-verify: true
users:
- name: token
  user:
    token: kubeconfig-bearer-SECRET
- name: token-file
  user:
    tokenFile: tokens/sa
- name: cert-data
  user:
    client-certificate-data: {cert}
    client-key-data: {key}
- name: cert-files
  user:
    client-certificate: certs/client.crt
    client-key: /abs/client.key
- name: basic
  user:
    username: admin
    password: basic-SECRET
- name: exec
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: ./bin/get-token
      args: ["--cluster", "dev"]
      env:
      - name: PLUGIN_TOKEN
        value: exec-env-SECRET
      interactiveMode: Never
contexts:
- name: token
  context: {{cluster: inline-ca, user: token, namespace: batch}}
- name: token-file
  context: {{cluster: file-ca, user: token-file}}
- name: cert-data
  context: {{cluster: insecure, user: cert-data}}
- name: cert-files
  context: {{cluster: file-ca, user: cert-files}}
- name: basic
  context: {{cluster: insecure, user: basic}}
- name: exec
  context: {{cluster: insecure, user: exec}}
- name: anonymous
  context: {{cluster: insecure}}
"#,
        ca = b64(CA),
        cert = b64(CERT),
        key = b64(KEY)
    )
}

fn env() -> MapEnvironment {
    MapEnvironment::new()
        .with_var("KUBECONFIG", "/home/me/.kube/config")
        .with_file("/home/me/.kube/config", full_kubeconfig())
        .with_file("/home/me/.kube/certs/ca.pem", CA)
        .with_file("/home/me/.kube/certs/client.crt", CERT)
        .with_file("/abs/client.key", KEY)
}

fn context(name: &str) -> Config {
    let env = env();
    let kubeconfig = Kubeconfig::load(&env).unwrap();
    Config::from_kubeconfig(&kubeconfig, Some(name), &env).unwrap()
}

#[test]
fn current_context_with_token_inline_ca_and_namespace() {
    let config = Config::from_kubeconfig_env(None, &env()).unwrap();
    assert_eq!(config.server.as_str(), "https://10.0.0.1:6443/");
    assert_eq!(config.auth, Auth::Bearer("kubeconfig-bearer-SECRET".into()));
    assert_eq!(config.namespace.as_deref(), Some("batch"));
    assert_eq!(String::from_utf8(config.tls.ca_pem[0].clone()).unwrap().trim(), CA.trim());
    assert_eq!(config.tls.server_name.as_deref(), Some("kubernetes.default"));
    assert!(!config.tls.skip_verify);
}

#[test]
fn token_file_and_ca_file_resolve_against_the_kubeconfig_directory() {
    let config = context("token-file");
    assert_eq!(config.auth, Auth::TokenFile { path: "/home/me/.kube/tokens/sa".into() });
    assert_eq!(config.server.as_str(), "https://[fd00::1]:6443/prefix");
    assert_eq!(config.tls.ca_pem.len(), 1);
    assert_eq!(config.namespace, None);
}

#[test]
fn client_certificates_inline_and_from_files() {
    let config = context("cert-data");
    assert!(config.tls.skip_verify);
    assert_eq!(config.auth, Auth::None);
    let id = config.tls.client_identity.unwrap();
    assert_eq!(id.key_pem.expose().trim(), KEY.trim());

    let config = context("cert-files");
    let id = config.tls.client_identity.unwrap();
    assert_eq!(String::from_utf8(id.cert_pem).unwrap().trim(), CERT.trim());
    assert_eq!(id.key_pem.expose().trim(), KEY.trim());
}

#[test]
fn basic_exec_and_anonymous_users() {
    let Auth::Basic { username, password } = context("basic").auth else { panic!() };
    assert_eq!((username.as_str(), password.expose()), ("admin", "basic-SECRET"));

    let Auth::Exec(exec) = context("exec").auth else { panic!() };
    assert_eq!(exec.api_version, "client.authentication.k8s.io/v1beta1");
    assert_eq!(exec.command, "/home/me/.kube/./bin/get-token");
    assert_eq!(exec.args, ["--cluster", "dev"]);
    assert_eq!(exec.env.len(), 1);
    assert_eq!((exec.env[0].0.as_str(), exec.env[0].1.expose()), ("PLUGIN_TOKEN", "exec-env-SECRET"));

    assert_eq!(context("anonymous").auth, Auth::None);
}

#[test]
fn context_cluster_and_user_errors_name_what_is_missing() {
    let env = env();
    let kubeconfig = Kubeconfig::load(&env).unwrap();
    let (key, text) = config_err(Config::from_kubeconfig(&kubeconfig, Some("prod"), &env));
    assert_eq!(key, "context");
    assert!(text.contains("\"prod\"") && text.contains("token-file"), "{text}");

    let yaml = r#"
contexts:
- name: a
  context: {cluster: gone, user: u}
- name: b
  context: {cluster: c, user: ghost}
- name: c
  context: {cluster: noserver}
clusters:
- name: c
  cluster: {server: "https://c:6443"}
- name: noserver
  cluster: {}
"#;
    let no_env = MapEnvironment::new();
    let (key, text) = config_err(Config::from_kubeconfig_yaml(yaml, None, &no_env));
    assert_eq!(key, "current-context", "{text}");
    let (key, text) = config_err(Config::from_kubeconfig_yaml(yaml, Some("a"), &no_env));
    assert_eq!(key, "contexts[a].context.cluster");
    assert!(text.contains("\"gone\""), "{text}");
    let (key, text) = config_err(Config::from_kubeconfig_yaml(yaml, Some("b"), &no_env));
    assert_eq!(key, "contexts[b].context.user");
    assert!(text.contains("\"ghost\""), "{text}");
    let (key, _) = config_err(Config::from_kubeconfig_yaml(yaml, Some("c"), &no_env));
    assert_eq!(key, "clusters[noserver].cluster.server");
}

#[test]
fn user_errors() {
    let base = |user: &str| {
        format!(
            "current-context: x\ncontexts: [{{name: x, context: {{cluster: c, user: u}}}}]\n\
             clusters: [{{name: c, cluster: {{server: 'https://c'}}}}]\nusers:\n- name: u\n  user:\n{user}"
        )
    };
    let env = MapEnvironment::new();
    let (key, text) = config_err(Config::from_kubeconfig_yaml(
        &base("    token: t-SECRET\n    username: a\n    password: p-SECRET\n"),
        None,
        &env,
    ));
    assert_eq!(key, "users[u].user");
    assert!(text.contains("more than one") && !text.contains("SECRET"), "{text}");
    let (key, text) =
        config_err(Config::from_kubeconfig_yaml(&base("    auth-provider: {name: gcp, config: {}}\n"), None, &env));
    assert_eq!(key, "users[u].user.auth-provider");
    assert!(text.contains("exec"), "{text}");
    let (key, _) = config_err(Config::from_kubeconfig_yaml(
        &base(&format!("    client-certificate-data: {}\n", b64(CERT))),
        None,
        &env,
    ));
    assert_eq!(key, "users[u].user.client-key");
    let (key, text) = config_err(Config::from_kubeconfig_yaml(
        &base(&format!("    client-certificate-data: {}\n    client-key-data: bm90IGEga2V5\n", b64(CERT))),
        None,
        &env,
    ));
    assert_eq!(key, "users[u].user.client-key-data", "{text}");
    let (key, text) = config_err(Config::from_kubeconfig_yaml(
        &base("    client-certificate: c.crt\n    client-key: k.key\n"),
        None,
        &env,
    ));
    assert_eq!(key, "users[u].user.client-certificate");
    assert!(text.contains("c.crt"), "{text}");
    let err = Kubeconfig::parse(&base("    exec: {command: aws}\n"), None).unwrap_err().to_string();
    assert!(err.contains("apiVersion"), "{err}");
    let err =
        Kubeconfig::parse(&base("    exec: {apiVersion: client.authentication.k8s.io/v1alpha1, command: a}\n"), None)
            .unwrap_err()
            .to_string();
    assert!(err.contains("not supported"), "{err}");
    // tokenFile wins over token, as in client-go
    let config = Config::from_kubeconfig_yaml(&base("    token: t\n    tokenFile: /var/t\n"), None, &env).unwrap();
    assert_eq!(config.auth, Auth::TokenFile { path: "/var/t".into() });
}

#[test]
fn yaml_errors_give_the_position_not_the_secret() {
    let err = Kubeconfig::parse("clusters:\n- name: c\n  cluster:\n    insecure-skip-tls-verify: SECRET-ish\n", None)
        .unwrap_err()
        .to_string();
    assert!(!err.contains("SECRET"), "{err}");
    assert!(err.contains("line 4"), "{err}");
    let err = Kubeconfig::parse("users: [ {name: u, user: {token: SECRET-token\n", None).unwrap_err().to_string();
    assert!(!err.contains("SECRET"), "{err}");
}

#[test]
fn kubectl_view_shapes_parse() {
    // `kubectl config view` of an empty config, and an empty file
    let k = Kubeconfig::parse("apiVersion: v1\nclusters: null\ncontexts: null\ncurrent-context: \"\"\nkind: Config\npreferences: {}\nusers: null\n", None).unwrap();
    assert!(k.is_empty());
    assert!(Kubeconfig::parse("", None).unwrap().is_empty());
    // JSON is YAML
    let k = Kubeconfig::parse(
        r#"{"current-context": "a", "contexts": [{"name": "a", "context": {"cluster": "c"}}]}"#,
        None,
    )
    .unwrap();
    assert_eq!(k.current_context(), Some("a"));
    assert_eq!(k.context_names().collect::<Vec<_>>(), ["a"]);
}

#[test]
fn kubeconfig_merge_first_file_wins() {
    let first = "current-context: \"\"\nclusters:\n- name: shared\n  cluster: {server: 'https://first:6443'}\n\
                 contexts:\n- name: a\n  context: {cluster: shared, namespace: from-first}\n";
    let second = "current-context: b\nclusters:\n- name: shared\n  cluster: {server: 'https://second:6443'}\n\
                  - name: only-second\n  cluster: {server: 'https://only:6443'}\n\
                  contexts:\n- name: a\n  context: {cluster: only-second}\n- name: b\n  context: {cluster: shared}\n";
    let third = "current-context: c\n";
    let env = MapEnvironment::new()
        .with_var("KUBECONFIG", "/k/first:/k/missing::/k/second:/k/third")
        .with_file("/k/first", first)
        .with_file("/k/second", second)
        .with_file("/k/third", third);
    let k = Kubeconfig::load(&env).unwrap();
    assert_eq!(k.current_context(), Some("b"), "current-context from the first file that sets it");
    let b = Config::from_kubeconfig(&k, None, &env).unwrap();
    assert_eq!(b.server.as_str(), "https://first:6443/", "cluster `shared` from the first file");
    let a = Config::from_kubeconfig(&k, Some("a"), &env).unwrap();
    assert_eq!(a.namespace.as_deref(), Some("from-first"));
    assert_eq!(a.server.as_str(), "https://first:6443/");

    let env = MapEnvironment::new().with_var("KUBECONFIG", "/k/none:/k/nothing");
    let err = Kubeconfig::load(&env).unwrap_err().to_string();
    assert!(err.contains("/k/none") && err.contains("/k/nothing"), "{err}");
}

#[test]
fn default_location_is_home_kube_config() {
    let env = MapEnvironment::new()
        .with_var("HOME", "/home/me")
        .with_file("/home/me/.kube/config", full_kubeconfig())
        .with_file("/home/me/.kube/certs/ca.pem", CA);
    let config = Config::from_kubeconfig_env(Some("token-file"), &env).unwrap();
    assert_eq!(config.auth, Auth::TokenFile { path: "/home/me/.kube/tokens/sa".into() });
    let (key, text) = config_err(Config::from_kubeconfig_env(None, &MapEnvironment::new().with_var("HOME", "/h")));
    assert_eq!(key, "KUBECONFIG");
    assert!(text.contains("/h/.kube/config"), "{text}");
}

#[test]
fn cluster_settings_kubectl_refuses_are_refused() {
    let env = MapEnvironment::new();
    let with_cluster = |cluster: &str| {
        format!(
            "current-context: x\ncontexts: [{{name: x, context: {{cluster: c}}}}]\nclusters:\n- name: c\n  cluster:\n    \
             server: https://c:6443\n{cluster}"
        )
    };
    let (key, _) = config_err(Config::from_kubeconfig_yaml(
        &with_cluster(&format!("    insecure-skip-tls-verify: true\n    certificate-authority-data: {}\n", b64(CA))),
        None,
        &env,
    ));
    assert_eq!(key, "clusters[c].cluster.insecure-skip-tls-verify");
    let (key, _) =
        config_err(Config::from_kubeconfig_yaml(&with_cluster("    proxy-url: http://proxy:3128\n"), None, &env));
    assert_eq!(key, "clusters[c].cluster.proxy-url");
    let (key, _) = config_err(Config::from_kubeconfig_yaml(
        &with_cluster(&format!("    certificate-authority-data: {}\n", b64(KEY))),
        None,
        &env,
    ));
    assert_eq!(key, "clusters[c].cluster.certificate-authority-data");
    let (key, _) = config_err(Config::from_kubeconfig_yaml(
        &with_cluster("    certificate-authority: /etc/k8s/ca.pem\n"),
        None,
        &env,
    ));
    assert_eq!(key, "clusters[c].cluster.certificate-authority");
}
