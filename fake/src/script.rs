//! What a fake container "runs": nothing is executed. A command is read as a tiny shell script
//! (`sh -c "echo hi; sleep 2; exit 3"`) and turned into a deterministic outcome: the log it
//! prints, its exit code and how long it runs in virtual time.
//!
//! Understood statements (separated by `;`, `&&`, `||` or newlines): `echo ARGS` (prints ARGS,
//! `$VAR`/`${VAR}` expanded from the job's environment), `printf` (like echo, without adding a
//! newline unless asked by `\n`), `sleep N` (adds N seconds), `exit N` (ends with code N), `true`,
//! `false` (exit 1). Anything else prints one line saying what would have run, so the log
//! still shows the command.

use std::collections::BTreeMap;
use std::time::Duration;

/// The outcome of running a command in the fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr (`echo ... >&2`).
    pub stderr: String,
    /// The exit code (0 = success).
    pub exit_code: i32,
    /// How long the command runs (virtual time), at least one second.
    pub duration: Duration,
    /// When output was written, relative to the start: `(offset, stdout length, stderr length)`
    /// after each write, in order (sleeps move the offset on).
    pub timeline: Vec<(Duration, usize, usize)>,
}

impl Outcome {
    /// The stdout (or stderr) written in the first `elapsed` of the run.
    pub fn output_until(&self, elapsed: Duration, stderr: bool) -> &str {
        let len = self.timeline.iter().take_while(|(at, _, _)| *at <= elapsed).last().map_or(0, |&(_, out, err)| {
            if stderr {
                err
            } else {
                out
            }
        });
        if stderr {
            &self.stderr[..len]
        } else {
            &self.stdout[..len]
        }
    }

    /// When the next write after `elapsed` happens, if any.
    pub fn next_write_after(&self, elapsed: Duration) -> Option<Duration> {
        self.timeline.iter().map(|(at, _, _)| *at).find(|at| *at > elapsed)
    }
}

/// Run `argv` (command followed by its arguments) in the fake, with `env` for `$VAR` expansion.
pub fn run(argv: &[String], env: &BTreeMap<String, String>) -> Outcome {
    let mut out = Outcome {
        stdout: String::new(),
        stderr: String::new(),
        exit_code: 0,
        duration: Duration::from_secs(1),
        timeline: Vec::new(),
    };
    let mut at = Duration::ZERO;
    let script = match argv {
        [sh, flag, script, ..] if is_shell(sh) && flag == "-c" => script.clone(),
        [] => return out,
        _ => argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" "),
    };
    for statement in statements(&script) {
        out.timeline.push((at, out.stdout.len(), out.stderr.len()));
        let mut words = words(statement, env);
        let to_stderr = words.iter().any(|w| w == ">&2" || w == "1>&2");
        words.retain(|w| !matches!(w.as_str(), ">&2" | "1>&2" | "2>&1" | ">/dev/null" | "2>/dev/null"));
        let Some(first) = words.first() else { continue };
        let sink = if to_stderr { &mut out.stderr } else { &mut out.stdout };
        match first.as_str() {
            "echo" => {
                let (newline, args) = match words.get(1).map(String::as_str) {
                    Some("-n") => (false, &words[2..]),
                    _ => (true, &words[1..]),
                };
                sink.push_str(&args.join(" "));
                if newline {
                    sink.push('\n');
                }
            }
            "printf" => sink.push_str(&words[1..].join(" ").replace("\\n", "\n")),
            "sleep" => {
                let secs = words.get(1).and_then(|s| s.trim_end_matches('s').parse::<f64>().ok()).unwrap_or(0.0);
                let pause = Duration::from_secs_f64(secs.clamp(0.0, 1e7));
                out.duration += pause;
                at += pause;
            }
            "true" | ":" => {}
            "false" => {
                out.exit_code = 1;
                break;
            }
            "exit" => {
                out.exit_code = words.get(1).and_then(|s| s.parse().ok()).unwrap_or(0);
                break;
            }
            _ => {
                out.stdout.push_str(&format!("[clustermanager-fake] would run: {}\n", statement.trim()));
            }
        }
    }
    out.timeline.push((at, out.stdout.len(), out.stderr.len()));
    out.timeline.dedup_by(|later, earlier| later.1 == earlier.1 && later.2 == earlier.2);
    out
}

fn is_shell(program: &str) -> bool {
    matches!(program.rsplit('/').next(), Some("sh" | "bash" | "ash" | "dash" | "zsh"))
}

fn quote(arg: &str) -> String {
    if arg.is_empty() || arg.contains(|c: char| c.is_whitespace() || ";&|'\"$".contains(c)) {
        format!("'{}'", arg.replace('\'', "'\\''"))
    } else {
        arg.to_owned()
    }
}

/// Splits a script on `;`, `&&`, `||` and newlines outside quotes.
fn statements(script: &str) -> Vec<&str> {
    let bytes = script.as_bytes();
    let (mut out, mut start, mut i, mut quote) = (Vec::new(), 0, 0, None::<u8>);
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'\'' || b == b'"' => quote = Some(b),
            None if b == b';' || b == b'\n' => {
                out.push(&script[start..i]);
                start = i + 1;
            }
            None if (b == b'&' || b == b'|') && bytes.get(i + 1) == Some(&b) => {
                out.push(&script[start..i]);
                start = i + 2;
                i += 1;
            }
            None => {}
        }
        i += 1;
    }
    out.push(&script[start..]);
    out
}

/// Splits a statement into words, honouring quotes and expanding `$VAR` outside single quotes.
fn words(statement: &str, env: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = statement.chars().peekable();
    let mut quote = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, c) if c.is_whitespace() => {
                if let Some(w) = word.take() {
                    out.push(w);
                }
            }
            (q, '$') if q != Some('\'') => {
                let braced = chars.peek() == Some(&'{');
                if braced {
                    chars.next();
                }
                let mut name = String::new();
                while let Some(&n) = chars.peek() {
                    if n.is_ascii_alphanumeric() || n == '_' {
                        name.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                if braced && chars.peek() == Some(&'}') {
                    chars.next();
                }
                let w = word.get_or_insert_with(String::new);
                if name.is_empty() {
                    w.push('$');
                } else if let Some(v) = env.get(&name) {
                    w.push_str(v);
                }
            }
            (_, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    if let Some(w) = word {
        out.push(w);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn echo_prints_and_succeeds() {
        let out = run(&argv(&["sh", "-c", "echo hello from clustermanager"]), &BTreeMap::new());
        assert_eq!(
            Outcome { timeline: Vec::new(), ..out },
            Outcome {
                timeline: Vec::new(),
                stdout: "hello from clustermanager\n".into(),
                stderr: String::new(),
                exit_code: 0,
                duration: Duration::from_secs(1)
            }
        );
        assert_eq!(run(&argv(&["echo", "hello"]), &BTreeMap::new()).stdout, "hello\n");
    }

    #[test]
    fn exit_codes_sleeps_and_variables() {
        let env = BTreeMap::from([("WHO".to_string(), "pod-x".to_string())]);
        let out =
            run(&argv(&["/bin/sh", "-c", "echo \"hi $WHO\"; sleep 3 && echo 'no $WHO'; exit 3; echo never"]), &env);
        assert_eq!(out.stdout, "hi pod-x\nno $WHO\n");
        assert_eq!(out.exit_code, 3);
        assert_eq!(out.duration, Duration::from_secs(4));
        assert_eq!(out.output_until(Duration::ZERO, false), "hi pod-x\n");
        assert_eq!(out.next_write_after(Duration::ZERO), Some(Duration::from_secs(3)));
        assert_eq!(out.output_until(Duration::from_secs(3), false), "hi pod-x\nno $WHO\n");
        assert_eq!(run(&argv(&["sh", "-c", "false"]), &env).exit_code, 1);
        let out = run(&argv(&["sh", "-c", "echo 'a warning' >&2; echo done"]), &env);
        assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("done\n", "a warning\n"));
    }

    #[test]
    fn unknown_commands_are_described() {
        let out = run(&argv(&["python", "train.py"]), &BTreeMap::new());
        assert_eq!(out.stdout, "[clustermanager-fake] would run: python train.py\n");
        assert_eq!(out.exit_code, 0);
    }
}
