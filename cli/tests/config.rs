//! Which cluster the command uses, run as a subprocess with the environment of each case: nothing
//! configured (the embedded fake, said plainly), a kubeconfig that is there but broken (the
//! error naming the file, exit 125, never the fake), a working kubeconfig (that server, not the
//! fake).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod common;

use std::sync::Arc;

use clustermanager_tests::kubeconfigs::{self, BROKEN};
use clustermanager_tests::server::{temp_dir, Reply, Server};
use common::{run, run_with};

#[test]
fn with_nothing_configured_it_says_so_and_runs_on_the_fake() {
    let out = run(&["run", "hello", "--image", "busybox", "--", "echo", "hi"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "hi\n"), "{}", out.all());
    let first = out.stderr.lines().next().unwrap();
    assert!(
        first.contains("no cluster is configured") && first.contains("embedded fake Kubernetes cluster"),
        "{first}"
    );
}

#[test]
fn a_broken_kubeconfig_is_an_error_naming_the_file_never_the_fake() {
    let dir = temp_dir("cli-broken");
    for broken in &BROKEN {
        let path = kubeconfigs::write(&dir, broken);
        let path = path.to_string_lossy();
        let by_variable =
            run_with(&["run", "hello", "--image", "busybox", "--", "echo", "hi"], &[("KUBECONFIG", &path)], "");
        let by_option = run(&["--kubeconfig", &path, "ls"]);
        for out in [by_variable, by_option] {
            assert_eq!(out.code, 125, "{}: {}", broken.case, out.all());
            assert_eq!(out.stdout, "", "{}: nothing ran: {}", broken.case, out.all());
            assert_eq!(out.stderr.lines().count(), 1, "{}: one line: {}", broken.case, out.all());
            assert!(out.stderr.starts_with("error: bad configuration"), "{}: {}", broken.case, out.all());
            assert!(out.stderr.contains(broken.says), "{}: {}", broken.case, out.all());
            assert!(out.stderr.contains(&*path), "{}: names the file: {}", broken.case, out.all());
            assert!(!out.stderr.contains("fake"), "{}: never the fake: {}", broken.case, out.all());
        }
    }
}

#[test]
fn a_context_the_kubeconfig_lacks_is_an_error_too() {
    let dir = temp_dir("cli-context");
    let path = kubeconfigs::write(&dir, &BROKEN[0]);
    let out = run_with(&["--context", "staging", "nodes"], &[("KUBECONFIG", &path.to_string_lossy())], "");
    assert_eq!(out.code, 125, "{}", out.all());
    assert!(out.stderr.contains("context \"staging\" is not in the kubeconfig (contexts: dev)"), "{}", out.all());
}

#[test]
fn a_working_kubeconfig_is_used_and_no_fake_is_mentioned() {
    let body = r#"{"kind":"NodeList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[{"metadata":{"name":"node-from-the-server"},"status":{"conditions":[{"type":"Ready","status":"True"}]}}]}"#;
    let server = Server::start(None, Arc::new(move |_| Reply::Full(200, body.to_owned())));
    let dir = temp_dir("cli-working");
    let kubeconfig = dir.join("config");
    let yaml = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n  cluster:\n    server: {}\ncontexts:\n- name: c\n  context:\n    cluster: k\n    user: u\nusers:\n- name: u\n  user: {{}}\n",
        server.http_url()
    );
    std::fs::write(&kubeconfig, yaml).unwrap();
    let out = run_with(&["nodes", "-o", "json"], &[("KUBECONFIG", &kubeconfig.to_string_lossy())], "");
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(out.json()[0]["name"], "node-from-the-server", "{}", out.all());
    assert_eq!(out.stderr, "", "{}", out.all());
    assert_eq!(server.seen.count(), 1);

    // Nomad, asked for with --nomad, at an address where nothing listens: an error naming it
    let out = run_with(&["--nomad", "nodes"], &[("NOMAD_ADDR", "http://127.0.0.1:9")], "");
    assert_eq!(out.code, 125, "{}", out.all());
    assert!(out.stderr.contains("cannot connect to the Nomad agent at http://127.0.0.1:9/"), "{}", out.all());
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.all());
}
