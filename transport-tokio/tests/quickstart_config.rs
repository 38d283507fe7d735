//! The quickstart example, run as a subprocess (so the environment it reads is its own, never
//! this process's): with nothing configured it says so and runs on the embedded fake cluster;
//! with a kubeconfig that is there but broken it exits non-zero with the error naming the file
//! and what is wrong, and never runs on the fake.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::path::PathBuf;
use std::process::{Command, Output};

use clustermanager_tests::kubeconfigs::{self, BROKEN};
use clustermanager_tests::server::temp_dir;

/// The quickstart binary `cargo test` builds beside this test (`target/<profile>/examples/`;
/// `cargo test` builds the examples unless a `--test` filter leaves them out). Not built here:
/// a cargo run inside a test would fight the outer one over the build directory.
fn quickstart() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let binary = profile_dir.join("examples").join(format!("quickstart{}", std::env::consts::EXE_SUFFIX));
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart.rs");
    let modified = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    assert!(
        modified(&binary).is_some() && modified(&binary) >= modified(&source),
        "{} is missing or older than its source: run `cargo test -p clustermanager-tokio` (which builds the \
         examples) or `cargo build -p clustermanager-tokio --example quickstart` first",
        binary.display()
    );
    binary
}

/// Run the quickstart with only `vars` set (and `HOME` an empty directory: no `~/.kube/config`).
fn run(vars: &[(&str, &str)]) -> Output {
    let home = temp_dir("quickstart-home");
    let mut command = Command::new(quickstart());
    command.env_clear().env("HOME", &home).env("RUST_LOG", "off");
    for (name, value) in vars {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn with_nothing_configured_it_says_so_and_runs_on_the_fake() {
    let out = run(&[]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("No cluster is configured, so the quickstart runs on the embedded fake Kubernetes"),
        "{stdout}"
    );
    assert!(stdout.contains("hello from clustermanager"), "{stdout}");
}

#[test]
fn a_broken_kubeconfig_is_an_error_naming_the_file_never_the_fake() {
    let dir = temp_dir("quickstart-broken");
    for broken in &BROKEN {
        let path = kubeconfigs::write(&dir, broken);
        let path_text = path.to_string_lossy();
        let out = run(&[("KUBECONFIG", &path_text)]);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(1), "{}: {stdout}\n{stderr}", broken.case);
        assert!(stderr.contains(broken.says), "{}: {stderr}", broken.case);
        assert!(stderr.contains(&*path_text), "{}: the error names the file: {stderr}", broken.case);
        assert!(!stdout.contains("fake") && !stderr.contains("fake"), "{}: ran on the fake: {stdout}", broken.case);
        assert!(!stdout.contains("connected to"), "{}: {stdout}", broken.case);
    }
}
