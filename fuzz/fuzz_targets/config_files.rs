//! What users and plugins hand us: kubeconfig YAML, the seed's configuration dictionary (JSON
//! and YAML), an exec plugin's ExecCredential, RFC 3339 timestamps.
#![no_main]

use clustermanager_core::config::exec::{parse_exec_credential, parse_rfc3339};
use clustermanager_core::config::kubeconfig::Kubeconfig;
use clustermanager_core::config::{Config, MapEnvironment};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_exec_credential(data);
    let Ok(text) = std::str::from_utf8(data) else { return };
    let env = MapEnvironment::new().with_var("HOME", "/home/fuzz");
    let _ = Kubeconfig::parse(text, Some("/home/fuzz/.kube"));
    let _ = Config::from_kubeconfig_yaml(text, None, &env);
    let _ = Config::from_seed_json(text, &env);
    let _ = Config::from_seed_yaml(text, &env);
    let _ = parse_rfc3339(text);
});
