//! Secrets never show: `Debug` of every config type and every auth variant, and the errors of
//! every loader fed a bad secret, are searched for a distinctive secret string.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::result_large_err)] // tests: a panic is the failure report

mod support;
use support::{b64, CERT, KEY};

use clustermanager_core::config::exec::{parse_exec_credential, ExecConfig};
use clustermanager_core::config::{incluster, Auth, Config, Identity, Kubeconfig, MapEnvironment, TlsConfig};
use clustermanager_core::Secret;
use proptest::prelude::*;

const SECRET: &str = "Zq7-DISTINCTIVE-SECRET-9xK";

/// The base64 body of the test key: what must not leak of a key.
fn key_body() -> String {
    KEY.lines().filter(|l| !l.starts_with("-----")).collect()
}

fn assert_hidden(what: &str, text: &str) {
    assert!(!text.contains(SECRET), "{what} shows the secret: {text}");
    let body = key_body();
    assert!(!text.contains(&body[..20]), "{what} shows the private key: {text}");
}

#[test]
fn debug_of_every_auth_variant_and_config_type() {
    let variants = [
        Auth::None,
        Auth::Bearer(SECRET.into()),
        Auth::Basic { username: "admin".into(), password: SECRET.into() },
        Auth::TokenFile { path: "/var/run/token".into() },
        Auth::Exec(ExecConfig {
            api_version: "client.authentication.k8s.io/v1".into(),
            command: "plugin".into(),
            args: vec![],
            env: vec![("TOKEN".into(), Secret::new(SECRET))],
        }),
        Auth::NomadToken(SECRET.into()),
    ];
    for auth in variants {
        assert_hidden("Auth", &format!("{auth:?}"));
        assert_hidden("Auth (pretty)", &format!("{auth:#?}"));
        let config = Config::kubernetes("https://k:6443").unwrap().with_auth(auth.clone());
        assert_hidden("Config", &format!("{config:?}"));
    }
    let identity = Identity::from_pem(CERT.as_bytes(), KEY.as_bytes()).unwrap();
    assert_hidden("Identity", &format!("{identity:?}"));
    let tls = TlsConfig { client_identity: Some(identity), ..TlsConfig::default() };
    assert_hidden("TlsConfig", &format!("{tls:?}"));
    let config = Config::nomad("http://n:4646")
        .unwrap()
        .with_token(SECRET)
        .with_client_identity(CERT, KEY)
        .unwrap()
        .with_basic_auth("u", SECRET);
    assert_hidden("Config with identity", &format!("{config:#?}"));

    let env = MapEnvironment::new().with_var("NOMAD_TOKEN", SECRET).with_file("/key", KEY);
    assert_hidden("MapEnvironment", &format!("{env:?}"));
    let cred =
        parse_exec_credential(format!(r#"{{"kind":"ExecCredential","status":{{"token":"{SECRET}"}}}}"#).as_bytes())
            .unwrap();
    assert_hidden("ExecCredential", &format!("{cred:?}"));
}

#[test]
fn kubeconfig_debug_hides_tokens_passwords_keys_and_exec_env() {
    let yaml = format!(
        "users:\n- name: a\n  user: {{token: {SECRET}}}\n- name: b\n  user: {{username: u, password: {SECRET}}}\n\
         - name: c\n  user: {{client-certificate-data: {}, client-key-data: {}}}\n\
         - name: d\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: x\n      \
         env: [{{name: T, value: {SECRET}}}]\n",
        b64(CERT),
        b64(KEY)
    );
    let k = Kubeconfig::parse(&yaml, None).unwrap();
    let debug = format!("{k:?}");
    assert!(!debug.contains(SECRET), "{debug}");
    assert!(!debug.contains(&b64(KEY)[..40]), "{debug}");
}

#[test]
fn loader_errors_never_quote_secrets() {
    let env = MapEnvironment::new();
    let mut errors = Vec::new();
    // seed: bad base64 key, non-PEM key, secret in a wrong-typed or unknown place
    for text in [
        format!(r#"{{"certificate": "{}", "key": "{SECRET}!!", "endpoint": "h:1"}}"#, b64(CERT)),
        format!(r#"{{"certificate": "{}", "key": "{}", "endpoint": "h:1"}}"#, b64(CERT), b64(SECRET)),
        format!(r#"{{"auth": "token", "token": "{SECRET}", "user": "u", "endpoint": "h:1"}}"#),
        format!(r#"{{"auth": "{SECRET}", "endpoint": "h:1"}}"#),
        format!(r#"{{"user": "u", "credentials": "{SECRET}", "endpoint": "h:1", "http_scheme": "gopher"}}"#),
        format!(r#"{{"token": ["{SECRET}"], "endpoint": "h:1"}}"#),
        format!(r#"{{"token": "{SECRET}", "endpoint": "h:1", "extra": 1}}"#),
        format!(r#"{{"token": "{SECRET}", "endpoint": "h:1""#),
    ] {
        errors.push(Config::from_seed_json(&text, &env).unwrap_err().to_string());
    }
    errors.push(Config::from_seed_yaml(&format!("token: {SECRET}\nendpoint: [h]\n"), &env).unwrap_err().to_string());
    errors.push(Config::from_seed_yaml(&format!("token: [{SECRET}\n"), &env).unwrap_err().to_string());
    // kubeconfig: a secret where a bool or a list is expected, a broken document, bad key data
    for yaml in [
        format!("clusters:\n- name: c\n  cluster: {{insecure-skip-tls-verify: {SECRET}}}\n"),
        format!("users:\n- name: u\n  user: {{token: [{SECRET}]}}\n"),
        format!("users:\n- name: u\n  user: {{password: {{{SECRET}: 1}}}}\n"),
        format!("users: [{{name: u, user: {{token: \"{SECRET}\n"),
        format!(
            "current-context: x\ncontexts: [{{name: x, context: {{cluster: c, user: u}}}}]\n\
             clusters: [{{name: c, cluster: {{server: 'https://c'}}}}]\n\
             users: [{{name: u, user: {{client-certificate-data: {}, client-key-data: {}}}}}]\n",
            b64(CERT),
            b64(&format!("-----BEGIN PRIVATE KEY-----\n{SECRET}\n-----END PRIVATE KEY-----\n"))
        ),
    ] {
        errors.push(Config::from_kubeconfig_yaml(&yaml, None, &env).unwrap_err().to_string());
    }
    // Nomad and in-cluster
    errors.push(
        Config::from_nomad_env(
            &MapEnvironment::new().with_var("NOMAD_TOKEN", SECRET).with_var("NOMAD_HTTP_AUTH", SECRET),
        )
        .unwrap_err()
        .to_string(),
    );
    errors.push(
        Config::in_cluster(
            &MapEnvironment::new()
                .with_var("KUBERNETES_SERVICE_HOST", "h")
                .with_var("KUBERNETES_SERVICE_PORT", "1")
                .with_file(incluster::TOKEN_PATH, SECRET)
                .with_file(incluster::CA_PATH, SECRET),
        )
        .unwrap_err()
        .to_string(),
    );
    // builders
    errors.push(Config::kubernetes("https://k").unwrap().with_client_identity(CERT, SECRET).unwrap_err().to_string());
    errors.push(Config::kubernetes("https://k").unwrap().with_ca_pem(SECRET).unwrap_err().to_string());
    for e in &errors {
        assert_hidden("error", e);
    }
    assert_eq!(errors.len(), 19);
}

proptest! {
    /// Whatever secret is put where a wrong value is, the error does not show it.
    #[test]
    fn no_error_quotes_an_arbitrary_secret(secret in "[A-Za-z0-9_+/=.-]{16,40}") {
        let env = MapEnvironment::new();
        let cases = [
            Config::from_seed_json(&format!(r#"{{"auth": "{secret}", "endpoint": "h:1"}}"#), &env),
            Config::from_seed_json(&format!(r#"{{"http_scheme": "{secret}", "endpoint": "h:1"}}"#), &env),
            Config::from_seed_json(&format!(r#"{{"skip_ssl": "{secret}", "endpoint": "h:1"}}"#), &env),
            Config::from_seed_json(&format!(r#"{{"certificate": "{secret}", "key": "{secret}", "endpoint": "h:1"}}"#), &env),
            Config::from_seed_json(&format!(r#"{{"ca": "{secret}", "endpoint": "h:1"}}"#), &env),
            Config::from_seed_json(&format!(r#"{{"token": "{secret}", "user": "{secret}", "credentials": "x", "endpoint": "h:1"}}"#), &env),
            Config::from_kubeconfig_yaml(&format!("clusters: [{{name: c, cluster: {{insecure-skip-tls-verify: \"{secret}\"}}}}]\n"), None, &env),
            Config::from_kubeconfig_yaml(&format!("users: [{{name: u, user: {{token: [\"{secret}\"]}}}}]\n"), None, &env),
            Config::from_nomad_env(&MapEnvironment::new().with_var("NOMAD_SKIP_VERIFY", secret.clone())),
        ];
        for case in cases {
            // some secrets happen to be valid base64 or PEM-less text: only errors matter here
            if let Err(e) = case {
                let text = e.to_string();
                prop_assert!(!text.contains(&secret), "{}", text);
            }
        }
    }
}

#[test]
fn credentials_in_a_server_url_are_refused_without_being_shown() {
    let env = MapEnvironment::new();
    let url = format!("https://admin:{SECRET}@10.0.0.1:6443");
    let errors = [
        Config::kubernetes(&url).unwrap_err(),
        Config::nomad(&url).unwrap_err(),
        Config::from_nomad_env(&MapEnvironment::new().with_var("NOMAD_ADDR", url.clone())).unwrap_err(),
        Config::from_seed_json(&format!(r#"{{"endpoint": "{url}"}}"#), &env).unwrap_err(),
        Config::from_seed_json(&format!(r#"{{"endpoint": "admin:{SECRET}@h:1"}}"#), &env).unwrap_err(),
        Config::from_kubeconfig_yaml(
            &format!(
                "current-context: c\ncontexts: [{{name: c, context: {{cluster: k, user: u}}}}]\n\
                 clusters: [{{name: k, cluster: {{server: \"{url}\"}}}}]\nusers: [{{name: u, user: {{}}}}]\n"
            ),
            None,
            &env,
        )
        .unwrap_err(),
        // An unparsable URL with credentials is not quoted with them either.
        Config::kubernetes(&format!("https://admin:{SECRET}@bad host:6443")).unwrap_err(),
    ];
    for err in errors {
        let text = err.to_string();
        assert!(matches!(err, clustermanager_core::Error::Config { .. }), "{err:?}");
        assert_hidden("a server URL error", &text);
        assert_hidden("a server URL error (Debug)", &format!("{err:?}"));
    }
    let text = Config::kubernetes(&url).unwrap_err().to_string();
    assert!(text.contains("credentials") && text.contains("basic auth"), "{text}");
}
