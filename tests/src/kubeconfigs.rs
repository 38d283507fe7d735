//! Kubeconfigs that are there but broken, for the programs that must tell "nothing configured"
//! (then they may fall back to the embedded fake cluster) from "configured but wrong" (then they
//! must fail with an error naming the file and what is wrong): the quickstart
//! (`transport-tokio/tests/quickstart_config.rs`) and the `clustermanager` command
//! (`cli/tests/config.rs`) run as subprocesses with `KUBECONFIG` pointing at each.

use std::path::{Path, PathBuf};

/// One broken kubeconfig.
#[derive(Debug, Clone, Copy)]
pub struct Broken {
    /// What is wrong with it, for test names and messages.
    pub case: &'static str,
    /// The file's contents.
    pub text: &'static str,
    /// What the error must say (besides the file's path).
    pub says: &'static str,
}

/// The three ways a kubeconfig that is there can be broken that issue 24 names: a
/// `current-context` the file does not define, a server that is not a URL, a file that is not
/// YAML at all.
pub const BROKEN: [Broken; 3] = [
    Broken {
        case: "current-context that does not exist",
        text: "apiVersion: v1\nkind: Config\ncurrent-context: prod\nclusters:\n- name: k\n  cluster:\n    server: https://127.0.0.1:6443\ncontexts:\n- name: dev\n  context:\n    cluster: k\n    user: u\nusers:\n- name: u\n  user: {}\n",
        says: "context \"prod\" is not in the kubeconfig",
    },
    Broken {
        case: "server that is not a url",
        text: "apiVersion: v1\nkind: Config\ncurrent-context: dev\nclusters:\n- name: k\n  cluster:\n    server: not a url\ncontexts:\n- name: dev\n  context:\n    cluster: k\n    user: u\nusers:\n- name: u\n  user: {}\n",
        says: "\"not a url\" is not a server URL",
    },
    Broken { case: "not yaml", text: "{{{ this is : not [ yaml\n", says: "not a valid kubeconfig" },
];

/// Write `broken` as `config` in a fresh directory under `dir`; returns its path.
pub fn write(dir: &Path, broken: &Broken) -> PathBuf {
    let path = dir.join(broken.case.replace(' ', "-")).join("config");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, broken.text).unwrap();
    path
}
