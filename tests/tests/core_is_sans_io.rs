//! The house rule, enforced: `clustermanager-core` does no I/O. Its sources never name the file
//! system, the network, the environment, threads, processes or the clock, and its dependency tree
//! holds no async runtime or HTTP client.

#![allow(clippy::expect_used)] // test setup failures should panic

use std::path::{Path, PathBuf};
use std::process::Command;

fn core_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("core")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("core/src is readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

const FORBIDDEN: &[&str] = &[
    "std::fs",
    "std::net",
    "std::env",
    "std::process",
    "std::thread",
    "Instant::now",
    "SystemTime::now",
    "tokio",
    "hyper",
    "async_std",
    "surf::",
    "reqwest",
    "mio::",
];

#[test]
fn core_sources_name_no_io() {
    let mut files = Vec::new();
    rust_files(&core_dir().join("src"), &mut files);
    assert!(files.len() > 10, "found core's sources");
    // Files that are a `#[cfg(test)]` module of their parent (`#[cfg(test)] #[path = "x_tests.rs"]
    // mod tests;`) are unit tests as a whole: they may use a clock.
    let mut test_files = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("source is readable");
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        for pair in lines.windows(2) {
            if let ("#[cfg(test)]", Some(rest)) = (pair[0], pair[1].strip_prefix("#[path = \"")) {
                if let (Some(name), Some(dir)) = (rest.split('"').next(), file.parent()) {
                    test_files.push(dir.join(name));
                }
            }
        }
    }
    let mut hits = Vec::new();
    let mut scanned = 0;
    for file in files.iter().filter(|f| !test_files.contains(f)) {
        let text = std::fs::read_to_string(file).expect("source is readable");
        // Depth of braces inside a `#[cfg(test)]` item being skipped (None: not skipping).
        let mut test_item: Option<(bool, i64)> = None;
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            // Unit tests (`#[cfg(test)]` items) may use a clock; the code after them may not.
            if code.starts_with("#[cfg(test)]") {
                test_item = Some((false, 0));
                continue;
            }
            if let Some((opened, depth)) = test_item.as_mut() {
                *depth += code.matches('{').count() as i64 - code.matches('}').count() as i64;
                *opened |= code.contains('{');
                if *opened && *depth <= 0 || !*opened && code.ends_with(';') {
                    test_item = None;
                }
                continue;
            }
            // Comments and doc examples may talk about I/O; code may not.
            if code.starts_with("//") {
                continue;
            }
            scanned += 1;
            // `use std::{fs, ...}` names a module without `std::fs`.
            let grouped = code.split_once("std::{").map(|(_, group)| group).unwrap_or_default();
            let in_group =
                |module: &&str| grouped.split(|c: char| !c.is_alphanumeric() && c != '_').any(|w| w == *module);
            if FORBIDDEN.iter().any(|word| code.contains(word))
                || ["fs", "net", "env", "process", "thread"].iter().any(in_group)
            {
                hits.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(scanned > 5000, "scanned {scanned} lines of code: the test-item skipping stopped early");
    assert!(hits.is_empty(), "core must not do I/O; found:\n{}", hits.join("\n"));
}

#[test]
fn core_dependency_tree_has_no_runtime() {
    let cargo = env!("CARGO");
    let out = Command::new(cargo)
        .args(["tree", "-p", "clustermanager-core", "-e", "normal", "--prefix", "none", "--offline"])
        .current_dir(core_dir())
        .output()
        .expect("cargo tree runs");
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    let tree = String::from_utf8_lossy(&out.stdout);
    let crates: Vec<&str> = tree.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(crates.contains(&"clustermanager-core"), "tree lists core itself:\n{tree}");
    for banned in [
        "tokio",
        "hyper",
        "hyper-util",
        "async-std",
        "async-io",
        "surf",
        "reqwest",
        "mio",
        "smol",
        "async-executor",
        "async-global-executor",
        "polling",
        "socket2",
        "futures-rustls",
        "rustls",
    ] {
        assert!(!crates.contains(&banned), "core depends on {banned}:\n{tree}");
    }
}
