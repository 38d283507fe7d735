//! Whatever the input, the loaders answer with a config or an error, never a panic: arbitrary
//! text as the seed's dictionary, a kubeconfig, an exec plugin's output, and arbitrary values
//! for every environment variable the loaders read.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::result_large_err)] // tests: a panic is the failure report

mod support;
use support::{b64, CERT};

use clustermanager_core::config::exec::parse_exec_credential;
use clustermanager_core::config::{incluster, Config, MapEnvironment};
use proptest::prelude::*;

/// Text that looks enough like the real thing to get past the first checks.
fn near_miss() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,80}",
        r#"\{"(auth|endpoint|http_scheme|skip_ssl|ca|token|certificate|key)": ("[^"\\]{0,20}"|true|1|null)\}"#,
        "(clusters|users|contexts|current-context): \\PC{0,40}",
        r#"\{"kind":"ExecCredential","status":\{"(token|expirationTimestamp|clientKeyData)":"[^"\\]{0,30}"\}\}"#,
    ]
}

proptest! {
    #[test]
    fn text_loaders_never_panic(text in near_miss()) {
        let env = MapEnvironment::new().with_file("/f", text.clone());
        let _ = Config::from_seed_json(&text, &env);
        let _ = Config::from_seed_yaml(&text, &env);
        let _ = Config::from_kubeconfig_yaml(&text, None, &env);
        let _ = Config::from_kubeconfig_yaml(&text, Some("x"), &env);
        let _ = parse_exec_credential(text.as_bytes());
    }

    #[test]
    fn environment_loaders_never_panic(value in "\\PC{0,40}", name in 0usize..14) {
        let names = [
            "NOMAD_ADDR", "NOMAD_TOKEN", "NOMAD_HTTP_AUTH", "NOMAD_NAMESPACE", "NOMAD_REGION", "NOMAD_CACERT",
            "NOMAD_CLIENT_CERT", "NOMAD_SKIP_VERIFY", "NOMAD_TLS_SERVER_NAME", "KUBERNETES_SERVICE_HOST",
            "KUBERNETES_SERVICE_PORT", incluster::TOKEN_ENV, "KUBECONFIG", "HOME",
        ];
        let env = MapEnvironment::new()
            .with_var("KUBERNETES_SERVICE_HOST", "10.0.0.1")
            .with_var("KUBERNETES_SERVICE_PORT", "443")
            .with_var(names[name], value.clone())
            .with_file(incluster::TOKEN_PATH, "t")
            .with_file(value.clone(), value.clone());
        let _ = Config::from_nomad_env(&env);
        let _ = Config::in_cluster(&env);
        let _ = Config::infer(&env);
        let _ = Config::from_kubeconfig_env(None, &env);
    }

    #[test]
    fn seed_values_never_panic(key in 0usize..11, value in "\\PC{0,40}") {
        let keys = ["auth", "certificate", "key", "user", "credentials", "token", "http_scheme", "endpoint", "skip_ssl", "ca", "ca_file"];
        let env = MapEnvironment::new();
        let _ = Config::from_seed_map([("endpoint", "h:1".to_owned()), (keys[key], value.clone())], &env);
        let _ = Config::from_seed_map([("auth", "certificate".to_owned()), ("certificate", b64(CERT)), ("key", value)], &env);
    }
}
