//! Running the built `clustermanager` binary as a subprocess, with an environment of its own
//! (nothing from this process: no KUBECONFIG, NOMAD_ADDR or ~/.kube/config unless a test sets it).

#![allow(dead_code)] // each test binary uses some of these

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_clustermanager");

/// The two embedded fakes.
pub const FAKES: [&str; 2] = ["kubernetes", "nomad"];

/// What a run printed and how it ended.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Both streams, for assertion messages.
    pub fn all(&self) -> String {
        format!("exit {}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }

    /// The stdout lines parsed as JSON (each must parse).
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}\n{}", self.all())))
            .collect()
    }

    /// The stdout as one JSON document.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not one JSON document ({e})\n{}", self.all()))
    }
}

/// An empty home directory (no `~/.kube/config`).
pub fn empty_home() -> PathBuf {
    clustermanager_tests::server::temp_dir("cli-home")
}

/// The command with a clean environment: `HOME` an empty directory, plus `vars`.
pub fn command(args: &[&str], vars: &[(&str, &str)]) -> Command {
    let mut command = Command::new(BIN);
    command.args(args).env_clear().env("HOME", empty_home());
    for (name, value) in vars {
        command.env(name, value);
    }
    command
}

/// Run with `args`, standard input `stdin`, the environment `vars`; through pipes.
pub fn run_with(args: &[&str], vars: &[(&str, &str)], stdin: &str) -> Out {
    let mut child =
        command(args, vars).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let out = Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    };
    assert!(
        !out.stdout.contains('\x1b') && !out.stderr.contains('\x1b'),
        "escape codes through a pipe:\n{}",
        out.all()
    );
    out
}

/// Run with `args` and nothing else.
pub fn run(args: &[&str]) -> Out {
    run_with(args, &[], "")
}

/// Run `lines` as a script on the embedded fake `fake`.
pub fn script(fake: &str, lines: &str) -> Out {
    run_with(&["--fake", fake, "script"], &[], lines)
}
