//! On a terminal: the binary driven in a real pseudo-terminal shows a live status line (spinner,
//! the job, elapsed time, why it is stuck) and clears it; NO_COLOR keeps the line but drops the
//! colors. And Ctrl-C (SIGINT) while following stops following, says the job keeps running (or,
//! with --rm, that it is deleted) and exits 130.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{command, empty_home, BIN};

/// Everything the binary wrote to the terminal, run with `args` and the environment `vars`.
fn on_a_terminal(args: &[&str], vars: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_clear().env("HOME", empty_home()).env("TERM", "xterm").env("COLUMNS", "200");
    for (name, value) in vars {
        cmd.env(name, value);
    }
    let mut session = rexpect::session::spawn_command(cmd, Some(30_000)).unwrap();
    session.exp_eof().unwrap()
}

/// The erase-line sequence the status line is cleared with.
const CLEAR: &str = "\r\x1b[2K";

#[test]
fn the_live_status_line_appears_names_the_reason_and_is_cleared() {
    let args = ["--fake", "nomad", "run", "stuck", "--image", "busybox", "--driver", "podman", "--", "echo", "hi"];
    let screen = on_a_terminal(&args, &[]);
    // drawn: spinner, job, phase, elapsed time, then with the reason
    let drawn = screen.find("stuck: pending 0s").unwrap_or_else(|| panic!("no status line in {screen:?}"));
    // (rexpect reads the terminal as Latin-1: the spinner and the dash before the reason are
    // not matched)
    let reason = screen.find("no node has the podman driver").unwrap_or_else(|| panic!("no reason in {screen:?}"));
    assert!(drawn < reason);
    assert!(screen.contains("\x1b[36m"), "colored on a terminal: {screen:?}");
    // cleared before the error is printed, and never drawn again
    let error = screen.find("error:").unwrap();
    let cleared = screen[..error].rfind(CLEAR).unwrap();
    assert!(cleared > reason, "{screen:?}");
    assert!(!screen[error..].contains("pending"), "the status line came back: {screen:?}");
    assert!(screen[error..].contains("cannot run"), "{screen:?}");

    // a job that runs: its log lines print around the status line, which ends cleared
    let screen = on_a_terminal(
        &["--fake", "run", "ok", "--image", "busybox", "--", "sh", "-c", "echo one; sleep 3; echo two"],
        &[],
    );
    assert!(screen.contains("ok: running ok-"), "{screen:?}");
    let done = screen.find("job ok succeeded").unwrap_or_else(|| panic!("{screen:?}"));
    assert!(screen[..done].ends_with(CLEAR), "cleared just before the last line: {screen:?}");
    assert!(screen.contains("one\r\n") && screen.contains("two\r\n"), "{screen:?}");
}

#[test]
fn no_color_keeps_the_status_line_without_colors() {
    let args = ["--fake", "run", "ok", "--image", "busybox", "--", "echo", "hi"];
    let screen = on_a_terminal(&args, &[("NO_COLOR", "1")]);
    assert!(screen.contains("ok: pending 0s") && screen.contains(CLEAR), "{screen:?}");
    assert!(!screen.contains("\x1b[3") && !screen.contains("\x1b[1;"), "no colors: {screen:?}");
}

/// Start `args` (a job that waits for room forever: 64 CPUs on a 4-CPU fake node), wait until it
/// says it is stuck, send SIGINT; what it printed and its exit code.
fn interrupted(args: &[&str]) -> (i32, String) {
    let mut child = command(args, &[]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "ended before it was stuck: {seen}");
        seen.push_str(&line);
        if line.contains("pending:") {
            break;
        }
    }
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let code = child.wait().unwrap().code().unwrap_or(-1);
    (code, seen + &rest)
}

#[test]
fn ctrl_c_stops_following_and_says_the_job_keeps_running() {
    let big = ["--fake", "run", "big", "--image", "busybox", "--cpu", "64", "--", "echo", "hi"];
    let (code, stderr) = interrupted(&big);
    assert_eq!(code, 130, "{stderr}");
    assert!(stderr.contains("Insufficient cpu"), "{stderr}");
    assert!(stderr.contains("interrupted: stopped following; job big keeps running in namespace default"), "{stderr}");

    let mut with_rm = big.to_vec();
    with_rm.insert(3, "--rm");
    let (code, stderr) = interrupted(&with_rm);
    assert_eq!(code, 130, "{stderr}");
    assert!(stderr.contains("interrupted: stopped following; deleting job big (--rm)"), "{stderr}");
    assert!(stderr.contains("job big deleted (--rm)"), "{stderr}");
}
