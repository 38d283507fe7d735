//! One-call connect (issue 12): `connect_infer()` on both transports finds the cluster in the
//! process environment as `Config::infer` does, and says what it tried when there is none.
//! Its own test binary, with one test, because it sets the process's environment.

use std::sync::Arc;

use clustermanager_tests::server::{temp_dir, Reply, Server};

const VARS: &[&str] = &["KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "NOMAD_ADDR"];

#[test]
fn connect_infer_uses_the_environment_and_explains_what_it_tried() {
    let home = temp_dir("connect-infer-home");
    for var in VARS {
        std::env::remove_var(var);
    }
    std::env::set_var("HOME", &home);

    // nothing configured: the same "what was tried" error as Config::infer, from both crates
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let err = rt.block_on(clustermanager_tokio::connect_infer()).unwrap_err().to_string();
    assert!(err.contains("KUBECONFIG") && err.contains("NOMAD_ADDR"), "{err}");
    let err = async_std::task::block_on(clustermanager_async_std::connect_infer()).unwrap_err().to_string();
    assert!(err.contains("KUBECONFIG") && err.contains("NOMAD_ADDR"), "{err}");

    // a kubeconfig: both connect to its server
    let body = r#"{"kind":"NodeList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[{"metadata":{"name":"n1"}}]}"#;
    let server = Server::start(None, Arc::new(move |_| Reply::Full(200, body.to_owned())));
    let kubeconfig = home.join("config");
    let yaml = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n  cluster:\n    server: {}\ncontexts:\n- name: c\n  context:\n    cluster: k\n    user: u\n    namespace: batch\nusers:\n- name: u\n  user: {{}}\n",
        server.http_url()
    );
    std::fs::write(&kubeconfig, yaml).unwrap();
    std::env::set_var("KUBECONFIG", &kubeconfig);

    let nodes = rt.block_on(async { clustermanager_tokio::connect_infer().await?.get_nodes().await }).unwrap();
    assert_eq!(nodes[0].name, "n1");
    let cm = async_std::task::block_on(clustermanager_async_std::connect_infer()).unwrap();
    assert_eq!(cm.orchestrator(), clustermanager_async_std::Orchestrator::Kubernetes);
    let nodes = async_std::task::block_on(cm.erase().get_nodes()).unwrap();
    assert_eq!(nodes[0].name, "n1");
    assert_eq!(server.seen.count(), 2);
}
