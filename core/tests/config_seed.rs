//! The seed's configuration dictionary, key by key, as the seed's README writes it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::result_large_err)] // tests: a panic is the failure report

mod support;
use support::{b64, config_err, CA, CERT, KEY};

use clustermanager_core::config::{incluster, Auth, Config, MapEnvironment, SeedValue};
use clustermanager_core::{Orchestrator, Result};

fn json(text: &str) -> Result<Config> {
    Config::from_seed_json(text, &MapEnvironment::new())
}

#[test]
fn quickstart_certificate_data_with_skip_ssl() {
    // The README's quickstart: no `auth`, certificate and key as base64, skip_ssl True.
    let text = format!(
        r#"{{"certificate": "{}", "key": "{}", "endpoint": "localhost:6443", "skip_ssl": true}}"#,
        b64(CERT),
        b64(KEY)
    );
    let config = json(&text).unwrap();
    assert_eq!(config.orchestrator, Orchestrator::Kubernetes);
    // TLS settings make the default scheme https
    assert_eq!(config.server.as_str(), "https://localhost:6443/");
    assert!(config.tls.skip_verify);
    assert_eq!(config.auth, Auth::None);
    let id = config.tls.client_identity.unwrap();
    assert_eq!(String::from_utf8(id.cert_pem).unwrap().trim(), CERT.trim());
    assert_eq!(id.key_pem.expose().trim(), KEY.trim());
}

#[test]
fn certificate_mode_checks_both_halves() {
    let ok = Config::from_seed_map(
        [
            ("auth", "certificate".to_owned()),
            ("endpoint", "k8s:6443".to_owned()),
            ("http_scheme", "https".to_owned()),
            ("certificate", b64(CERT)),
            ("key", b64(KEY)),
        ],
        &MapEnvironment::new(),
    )
    .unwrap();
    assert!(ok.tls.client_identity.is_some());

    let (key, _) =
        config_err(json(&format!(r#"{{"auth": "certificate", "endpoint": "k:1", "certificate": "{}"}}"#, b64(CERT))));
    assert_eq!(key, "key");
    let (key, text) = config_err(json(&format!(
        r#"{{"auth": "certificate", "endpoint": "k:1", "certificate": "{}", "key": "%%%not-base64%%%"}}"#,
        b64(CERT)
    )));
    assert_eq!(key, "key");
    assert!(text.contains("base64") && !text.contains("not-base64"), "{text}");
    // valid base64 of something that is not PEM
    let (key, text) = config_err(json(&format!(
        r#"{{"auth": "certificate", "endpoint": "k:1", "certificate": "{}", "key": "{}"}}"#,
        b64("just some text"),
        b64(KEY)
    )));
    assert_eq!(key, "certificate", "{text}");
    // a certificate where the key should be
    let (key, _) = config_err(json(&format!(
        r#"{{"auth": "certificate", "endpoint": "k:1", "certificate": "{}", "key": "{}"}}"#,
        b64(CERT),
        b64(CERT)
    )));
    assert_eq!(key, "key");
}

#[test]
fn certificate_file_mode_reads_files_and_key_is_optional_when_bundled() {
    let env = MapEnvironment::new()
        .with_file("/certs/client.crt", CERT)
        .with_file("/certs/client.key", KEY)
        .with_file("/certs/both.pem", format!("{CERT}{KEY}"));
    let config = Config::from_seed_json(
        r#"{"auth": "certificate_file", "certificate": "/certs/client.crt", "key": "/certs/client.key",
            "endpoint": "10.0.0.1:6443", "http_scheme": "https"}"#,
        &env,
    )
    .unwrap();
    assert_eq!(config.tls.client_identity.unwrap().key_pem.expose().trim(), KEY.trim());

    let config =
        Config::from_seed_yaml("auth: certificate_file\ncertificate: /certs/both.pem\nendpoint: 10.0.0.1:6443\n", &env)
            .unwrap();
    let id = config.tls.client_identity.unwrap();
    assert_eq!(id.key_pem.expose().trim(), KEY.trim());
    assert!(!String::from_utf8(id.cert_pem).unwrap().contains("PRIVATE KEY"));

    let (key, text) = config_err(Config::from_seed_yaml(
        "auth: certificate_file\ncertificate: /certs/client.crt\nendpoint: 10.0.0.1:6443\n",
        &env,
    ));
    assert_eq!(key, "key", "{text}");
    let (key, text) = config_err(Config::from_seed_yaml(
        "auth: certificate_file\ncertificate: /nope.crt\nkey: /certs/client.key\nendpoint: h:1\n",
        &env,
    ));
    assert_eq!(key, "certificate");
    assert!(text.contains("/nope.crt") && text.contains("no such file"), "{text}");
}

#[test]
fn basic_auth() {
    let config = json(r#"{"auth": "basic_auth", "user": "admin", "credentials": "pw", "endpoint": "h:8080"}"#).unwrap();
    assert_eq!(config.server.as_str(), "https://h:8080/", "credentials go over https unless told otherwise");
    let told = json(r#"{"user": "admin", "credentials": "pw", "endpoint": "h:8080", "http_scheme": "http"}"#).unwrap();
    assert_eq!(told.server.as_str(), "http://h:8080/", "an explicit http_scheme is obeyed");
    let Auth::Basic { username, password } = &config.auth else { panic!("{:?}", config.auth) };
    assert_eq!((username.as_str(), password.expose()), ("admin", "pw"));
    // inferred from the keys
    assert!(matches!(
        json(r#"{"user": "a", "credentials": "b", "endpoint": "h:1"}"#).unwrap().auth,
        Auth::Basic { .. }
    ));
    let (key, _) = config_err(json(r#"{"auth": "basic_auth", "user": "admin", "endpoint": "h:1"}"#));
    assert_eq!(key, "credentials");
}

#[test]
fn token_as_is_or_base64_of_a_jwt() {
    let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJl";
    let config = json(&format!(r#"{{"auth": "token", "token": "{jwt}", "endpoint": "h:1"}}"#)).unwrap();
    assert_eq!(config.auth, Auth::Bearer(jwt.into()));
    // copied from a service-account Secret's data.token
    let config = json(&format!(r#"{{"token": "{}", "endpoint": "h:1"}}"#, b64(jwt))).unwrap();
    assert_eq!(config.auth, Auth::Bearer(jwt.into()));
    // an opaque token stays as is even if it happens to be base64 (of binary bytes)
    let config = json(r#"{"token": "abcd", "endpoint": "h:1"}"#).unwrap();
    assert_eq!(config.auth, Auth::Bearer("abcd".into()));
    let hex = "0123456789abcdef0123456789abcdef";
    assert_eq!(json(&format!(r#"{{"token": "{hex}", "endpoint": "h:1"}}"#)).unwrap().auth, Auth::Bearer(hex.into()));
    // the seed base64-decoded every token: an encoded opaque token is decoded too
    let config = json(&format!(r#"{{"token": "{}", "endpoint": "h:1"}}"#, b64("s3cr3t-opaque-token"))).unwrap();
    assert_eq!(config.auth, Auth::Bearer("s3cr3t-opaque-token".into()));
    assert_eq!(config.server.scheme(), "https", "a token goes over https unless told otherwise");
    // a bootstrap token (with its dot) is never base64
    let config = json(r#"{"token": "abcdef.0123456789abcdef", "endpoint": "h:1"}"#).unwrap();
    assert_eq!(config.auth, Auth::Bearer("abcdef.0123456789abcdef".into()));
    // a token with a client certificate, as kubeconfig allows
    let config =
        json(&format!(r#"{{"token": "t", "certificate": "{}", "key": "{}", "endpoint": "h:1"}}"#, b64(CERT), b64(KEY)))
            .unwrap();
    assert_eq!(config.auth, Auth::Bearer("t".into()));
    assert!(config.tls.client_identity.is_some());
    let (key, _) = config_err(json(r#"{"auth": "token", "endpoint": "h:1"}"#));
    assert_eq!(key, "token");
}

#[test]
fn scheme_endpoint_and_skip_ssl() {
    assert_eq!(json(r#"{"endpoint": "h:1"}"#).unwrap().server.as_str(), "http://h:1/");
    assert_eq!(json(r#"{"endpoint": "h:1", "http_scheme": "HTTPS"}"#).unwrap().server.as_str(), "https://h:1/");
    assert_eq!(json(r#"{"endpoint": "https://h:1"}"#).unwrap().server.as_str(), "https://h:1/");
    assert_eq!(json(r#"{"endpoint": "[::1]:6443"}"#).unwrap().server.as_str(), "http://[::1]:6443/");
    let (key, _) = config_err(json(r#"{"endpoint": "h:1", "http_scheme": "ftp"}"#));
    assert_eq!(key, "http_scheme");
    let (key, _) = config_err(json(r#"{"endpoint": "http://h:1", "http_scheme": "https"}"#));
    assert_eq!(key, "http_scheme");
    let (key, _) = config_err(json(r#"{"auth": "token", "token": "t"}"#));
    assert_eq!(key, "endpoint");
    let (key, _) = config_err(json(r#"{"endpoint": ""}"#));
    assert_eq!(key, "endpoint");

    for (v, want) in [("true", true), ("\"true\"", true), ("\"True\"", true), ("false", false), ("\"false\"", false)] {
        let config = json(&format!(r#"{{"endpoint": "h:1", "skip_ssl": {v}}}"#)).unwrap();
        assert_eq!(config.tls.skip_verify, want, "{v}");
    }
    for v in ["\"yes\"", "1", "\"\""] {
        let (key, _) = config_err(json(&format!(r#"{{"endpoint": "h:1", "skip_ssl": {v}}}"#)));
        assert_eq!(key, "skip_ssl", "{v}");
    }
    // YAML booleans are booleans
    let config = Config::from_seed_yaml("endpoint: h:1\nskip_ssl: true\n", &MapEnvironment::new()).unwrap();
    assert!(config.tls.skip_verify);
}

#[test]
fn ca_inline_or_file() {
    let config = json(&format!(r#"{{"endpoint": "h:1", "ca": "{}"}}"#, b64(CA))).unwrap();
    assert_eq!(config.server.scheme(), "https");
    assert_eq!(String::from_utf8(config.tls.ca_pem[0].clone()).unwrap().trim(), CA.trim());
    let env = MapEnvironment::new().with_file("/etc/ca.pem", CA);
    let config = Config::from_seed_json(r#"{"endpoint": "h:1", "ca_file": "/etc/ca.pem"}"#, &env).unwrap();
    assert_eq!(config.tls.ca_pem.len(), 1);
    let (key, _) = config_err(json(&format!(r#"{{"endpoint": "h:1", "ca": "{}"}}"#, b64("garbage"))));
    assert_eq!(key, "ca");
    let (key, _) = config_err(json(r#"{"endpoint": "h:1", "ca_file": "/missing.pem"}"#));
    assert_eq!(key, "ca_file");
    let (key, _) = config_err(Config::from_seed_json(
        &format!(r#"{{"endpoint": "h:1", "ca_file": "/etc/ca.pem", "ca": "{}"}}"#, b64(CA)),
        &env,
    ));
    assert_eq!(key, "ca_file");
    // the seed's own test helper passes kubeconfig's `certificate-authority` path as `ca`
    let minikube = r#"{"endpoint": "h:1", "auth": "certificate_file", "certificate": "/etc/cert.pem",
        "key": "/etc/key.pem", "http_scheme": "https", "skip_ssl": "false", "ca": "/etc/ca.pem"}"#;
    let env = env.with_file("/etc/cert.pem", CERT).with_file("/etc/key.pem", KEY);
    let config = Config::from_seed_json(minikube, &env).unwrap();
    assert_eq!(String::from_utf8(config.tls.ca_pem[0].clone()).unwrap().trim(), CA.trim());
    let (key, text) = config_err(Config::from_seed_json(r#"{"endpoint": "h:1", "ca": "/missing/ca.crt"}"#, &env));
    assert_eq!(key, "ca");
    assert!(text.contains("base64") && text.contains("no such file") && !text.contains("missing"), "{text}");
}

#[test]
fn unknown_modes_keys_and_shapes_are_refused() {
    let (key, text) = config_err(json(r#"{"auth": "kerberos", "endpoint": "h:1"}"#));
    assert_eq!(key, "auth");
    assert!(text.contains("certificate_file") && text.contains("basic_auth"), "{text}");
    let (key, _) = config_err(json(r#"{"endpoint": "h:1", "skip_sll": true}"#));
    assert_eq!(key, "skip_sll");
    let (key, _) = config_err(json(r#"{"auth": "token", "token": "t", "user": "u", "endpoint": "h:1"}"#));
    assert_eq!(key, "user", "keys of another mode are mistakes");
    let (key, _) = config_err(json(r#"{"token": "t", "user": "u", "credentials": "p", "endpoint": "h:1"}"#));
    assert_eq!(key, "auth", "ambiguous without `auth`");
    let (key, _) = config_err(json(r#"{"endpoint": 6443}"#));
    assert_eq!(key, "endpoint");
    let (key, _) = config_err(json(r#"["endpoint"]"#));
    assert_eq!(key, "seed");
    let (key, _) = config_err(json(r#"{"endpoint": {"host": "h"}}"#));
    assert_eq!(key, "seed");
    // null counts as absent, as Python's None
    assert_eq!(json(r#"{"endpoint": "h:1", "certificate": null, "ca": null}"#).unwrap().auth, Auth::None);
}

#[test]
fn in_cluster_mode_uses_the_service_account_and_lets_the_ca_be_overridden() {
    let env = MapEnvironment::new()
        .with_var("KUBERNETES_SERVICE_HOST", "10.96.0.1")
        .with_var("KUBERNETES_SERVICE_PORT", "443")
        .with_file(incluster::TOKEN_PATH, "tok")
        .with_file(incluster::CA_PATH, CA)
        .with_file("/my/ca.pem", CERT);
    let config = Config::from_seed_json(r#"{"auth": "in_cluster"}"#, &env).unwrap();
    assert_eq!(config.server.as_str(), "https://10.96.0.1/");
    assert_eq!(config.auth, Auth::TokenFile { path: incluster::TOKEN_PATH.into() });
    assert_eq!(String::from_utf8(config.tls.ca_pem[0].clone()).unwrap().trim(), CA.trim());

    let config = Config::from_seed_json(r#"{"auth": "in_cluster", "ca_file": "/my/ca.pem"}"#, &env).unwrap();
    assert_eq!(config.tls.ca_pem.len(), 1);
    assert_eq!(String::from_utf8(config.tls.ca_pem[0].clone()).unwrap().trim(), CERT.trim());

    let config = Config::from_seed_json(r#"{"auth": "in_cluster", "http_scheme": "http"}"#, &env).unwrap();
    assert_eq!(config.server.as_str(), "http://10.96.0.1:443/");
    let config = Config::from_seed_json(r#"{"auth": "in_cluster", "endpoint": "kubernetes:8443"}"#, &env).unwrap();
    assert_eq!(config.server.as_str(), "https://kubernetes:8443/");

    let (key, text) = config_err(Config::from_seed_json(r#"{"auth": "in_cluster"}"#, &MapEnvironment::new()));
    assert_eq!(key, "KUBERNETES_SERVICE_HOST");
    assert!(text.contains("not running inside"), "{text}");
    let (key, _) = config_err(Config::from_seed_json(r#"{"auth": "in_cluster", "token": "t"}"#, &env));
    assert_eq!(key, "token");
}

#[test]
fn no_auth_and_no_credentials_means_in_cluster_inside_a_pod_as_in_the_seed() {
    let pod = MapEnvironment::new()
        .with_var("KUBERNETES_SERVICE_HOST", "10.96.0.1")
        .with_var("KUBERNETES_SERVICE_PORT", "443")
        .with_file(incluster::TOKEN_PATH, "tok")
        .with_file(incluster::CA_PATH, CA);
    let config = Config::from_seed_json(r#"{}"#, &pod).unwrap();
    assert_eq!(config.auth, Auth::TokenFile { path: incluster::TOKEN_PATH.into() });
    assert_eq!(config.server.as_str(), "https://10.96.0.1/");
    let config = Config::from_seed_json(r#"{"endpoint": "kubernetes:8443"}"#, &pod).unwrap();
    assert_eq!(config.auth, Auth::TokenFile { path: incluster::TOKEN_PATH.into() });
    assert_eq!(config.server.as_str(), "https://kubernetes:8443/", "in-cluster means TLS");
    // outside a pod there is no service account: no credentials (a kubectl proxy)
    let config = Config::from_seed_json(r#"{"endpoint": "localhost:8001"}"#, &MapEnvironment::new()).unwrap();
    assert_eq!(config.auth, Auth::None);
    // Nomad has no in-cluster mode
    let config = Config::from_seed_json(r#"{"orchestrator": "nomad", "endpoint": "localhost:4646"}"#, &pod).unwrap();
    assert_eq!(config.auth, Auth::None);
}

#[test]
fn nomad_through_the_same_dictionary() {
    let config = Config::from_seed_yaml(
        "orchestrator: nomad\nendpoint: 127.0.0.1:4646\ntoken: secret-id\nnamespace: batch\nregion: eu\n",
        &MapEnvironment::new(),
    )
    .unwrap();
    assert_eq!(config.orchestrator, Orchestrator::Nomad);
    assert_eq!(config.server.as_str(), "http://127.0.0.1:4646/");
    assert_eq!(config.auth, Auth::NomadToken("secret-id".into()));
    assert_eq!(config.namespace.as_deref(), Some("batch"));
    assert_eq!(config.region.as_deref(), Some("eu"));

    let (key, _) = config_err(json(r#"{"orchestrator": "nomad", "auth": "in_cluster"}"#));
    assert_eq!(key, "auth");
    let (key, _) = config_err(json(r#"{"orchestrator": "swarm", "endpoint": "h:1"}"#));
    assert_eq!(key, "orchestrator");
    let (key, _) = config_err(json(r#"{"endpoint": "h:1", "region": "eu"}"#));
    assert_eq!(key, "region", "region is a Nomad setting");
    let (key, _) = config_err(json(r#"{"endpoint": "h:1", "nomad_namespaces": "prefix"}"#));
    assert_eq!(key, "nomad_namespaces", "a Nomad setting too");
    let prefix = json(r#"{"orchestrator": "nomad", "endpoint": "h:4646", "nomad_namespaces": "prefix"}"#).unwrap();
    assert_eq!(prefix.nomad_namespace_mode, clustermanager_core::nomad::NamespaceMode::Prefix);
    let (key, _) = config_err(json(r#"{"orchestrator": "nomad", "endpoint": "h:4646", "nomad_namespaces": "fake"}"#));
    assert_eq!(key, "nomad_namespaces");
}

#[test]
fn map_values_convert() {
    let config = Config::from_seed_map(
        [
            ("endpoint", SeedValue::from("h:1")),
            ("skip_ssl", SeedValue::from(true)),
            ("ca", SeedValue::from(None::<String>)),
        ],
        &MapEnvironment::new(),
    )
    .unwrap();
    assert!(config.tls.skip_verify);
    assert_eq!(format!("{:?}", SeedValue::from("hunter2")), "Text(<7 chars>)");
}
