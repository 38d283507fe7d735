//! What a command shows, and where: the output (stdout: a job's log, tables, documents, or JSON
//! lines with `-o json`), human notes and errors (stderr), and on a terminal a live status line
//! on stderr (spinner, elapsed time, why the job is stuck) that is cleared when done.
//!
//! Escape codes go only to a stream that is a terminal (and colors only without `NO_COLOR`):
//! through a pipe every line is plain.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use clustermanager_core::{DynTransport, Progress, Reason, Transport, WaitOptions};
use serde_json::{json, Value};

use crate::args::Format;

/// The spinner's frames.
const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
/// Erase the current line of the terminal and go to its start.
const CLEAR_LINE: &str = "\r\x1b[2K";
/// How often the live line is redrawn while nothing else happens.
pub const TICK: Duration = Duration::from_millis(100);

/// The live status line's content.
#[derive(Debug, Clone)]
struct Status {
    /// The job.
    job: String,
    /// `pending`, `running hello-x7k2p`, `waiting`.
    phase: String,
    /// Why it is stuck, while it is.
    reason: Option<String>,
}

#[derive(Debug, Default)]
struct Live {
    status: Option<Status>,
    /// Whether the status line is on the screen now.
    drawn: bool,
    frame: usize,
    /// An execution started (said once, though several waits report it).
    started: bool,
}

/// The output of one command.
pub struct Ui {
    /// `-o`.
    pub format: Format,
    /// Whether stdout is a stream of events (run, wait, logs: JSON lines with `-o json`) rather
    /// than one document, beside which progress goes to stderr.
    streaming: bool,
    /// Whether stderr gets the live status line.
    live: bool,
    /// Whether stderr may be colored.
    color_err: bool,
    /// Whether stdout may be colored.
    color_out: bool,
    /// The cluster's clock (virtual on the embedded fake): elapsed times are measured on it
    /// (the system's before there is a cluster).
    clock: Option<DynTransport>,
    start: Instant,
    state: Mutex<Live>,
}

/// Whether `NO_COLOR` asks for no colors (set to anything but the empty string).
fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

fn dumb_terminal() -> bool {
    std::env::var("TERM").is_ok_and(|t| t == "dumb")
}

impl Ui {
    /// The output of a command in `format`, timing on `clock` (the cluster's) from now;
    /// `streaming` for a command whose stdout is a stream of events (see [`Ui::event`]).
    pub fn new(format: Format, clock: Option<DynTransport>, streaming: bool) -> Arc<Ui> {
        let err_tty = std::io::stderr().is_terminal() && !dumb_terminal();
        let out_tty = std::io::stdout().is_terminal() && !dumb_terminal();
        let start = clock.as_ref().map_or_else(Instant::now, Transport::now);
        Arc::new(Ui {
            format,
            streaming,
            live: err_tty && format == Format::Text,
            color_err: err_tty && !no_color(),
            color_out: out_tty && !no_color() && format == Format::Text,
            clock,
            start,
            state: Mutex::new(Live::default()),
        })
    }

    /// Whether `-o json`.
    pub fn json(&self) -> bool {
        self.format == Format::Json
    }

    /// Time since the command began, on the cluster's clock.
    pub fn elapsed(&self) -> Duration {
        let now = self.clock.as_ref().map_or_else(Instant::now, Transport::now);
        now.saturating_duration_since(self.start)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Live> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Run `write` with the live line off the screen, then draw it again.
    fn around_live(&self, write: impl FnOnce()) {
        let mut live = self.lock();
        self.erase(&mut live);
        write();
        self.draw(&mut live);
    }

    fn erase(&self, live: &mut Live) {
        if live.drawn {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "{CLEAR_LINE}");
            let _ = err.flush();
            live.drawn = false;
        }
    }

    fn draw(&self, live: &mut Live) {
        let Some(status) = live.status.as_ref().filter(|_| self.live) else { return };
        let frame = FRAMES[live.frame % FRAMES.len()];
        let mut line = format!("{frame} {}: {} {}", status.job, status.phase, age(self.elapsed()));
        if let Some(reason) = &status.reason {
            line.push_str(" — ");
            line.push_str(reason);
        }
        // one row of the terminal: a line that wraps could not be erased
        let width = std::env::var("COLUMNS").ok().and_then(|c| c.parse::<usize>().ok()).unwrap_or(80).max(20);
        if line.chars().count() >= width {
            line = line.chars().take(width - 2).collect::<String>() + "…";
        }
        let line = if self.color_err { format!("\x1b[36m{line}\x1b[0m") } else { line };
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "{CLEAR_LINE}{line}");
        let _ = err.flush();
        live.drawn = true;
    }

    /// Show the live status line for `job` (on a terminal; nothing otherwise).
    pub fn status(&self, job: &str, phase: impl Into<String>) {
        let mut live = self.lock();
        let reason = live.status.as_ref().and_then(|s| s.reason.clone());
        live.status = Some(Status { job: job.to_owned(), phase: phase.into(), reason });
        self.draw(&mut live);
    }

    /// Redraw the live line with the spinner's next frame.
    pub fn tick(&self) {
        let mut live = self.lock();
        live.frame += 1;
        if live.status.is_some() {
            self.draw(&mut live);
        }
    }

    /// Take the live status line off the screen for good.
    pub fn clear_status(&self) {
        let mut live = self.lock();
        self.erase(&mut live);
        live.status = None;
    }

    /// Keep the live line's spinner and elapsed time moving until the returned handle is
    /// aborted (nothing on a stream that is not a terminal).
    fn ticker(self: &Arc<Self>) -> Option<tokio::task::JoinHandle<()>> {
        if !self.live {
            return None;
        }
        let ui = Arc::clone(self);
        Some(tokio::spawn(async move {
            let mut interval = tokio::time::interval(TICK);
            loop {
                interval.tick().await;
                ui.tick();
            }
        }))
    }

    /// Run `work` with the live status line showing `job` in `phase` (spinner and elapsed time
    /// moving, progress updating it), then take the line off the screen.
    pub async fn live<F: std::future::Future>(self: &Arc<Self>, job: &str, phase: &str, work: F) -> F::Output {
        self.status(job, phase);
        let ticker = self.ticker();
        let out = work.await;
        if let Some(ticker) = ticker {
            ticker.abort();
        }
        self.clear_status();
        out
    }

    /// `options` reporting their progress here.
    pub fn reporting(self: &Arc<Self>, options: WaitOptions) -> WaitOptions {
        let sink = Arc::clone(self);
        options.on_progress(move |p| sink.progress(p))
    }

    /// A line of the command's output (a job's log line, a table row) on stdout.
    pub fn out(&self, line: &str) {
        self.around_live(|| {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        });
    }

    /// With `-o json` on a streaming command, a JSON value on one line of stdout, with
    /// `elapsed_ms` on the cluster's clock added to objects; nothing otherwise.
    pub fn event(&self, mut value: Value) {
        if !self.json() || !self.streaming {
            return;
        }
        if let Value::Object(map) = &mut value {
            map.insert("elapsed_ms".into(), json!(u64::try_from(self.elapsed().as_millis()).unwrap_or(u64::MAX)));
        }
        self.out(&value.to_string());
    }

    /// A note for people on stderr (what happened, what to do next).
    pub fn note(&self, line: &str) {
        self.around_live(|| {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{line}");
        });
    }

    /// The one line of an error, on stderr.
    pub fn error(&self, message: &str) {
        let prefix = if self.color_err { "\x1b[1;31merror:\x1b[0m" } else { "error:" };
        self.note(&format!("{prefix} {message}"));
    }

    /// A status word for stdout, colored on a terminal.
    pub fn paint_status(&self, word: &str) -> String {
        if !self.color_out {
            return word.to_owned();
        }
        let code = match word {
            "Succeeded" | "Active" | "Ready" | "ready" | "available" => "32",
            "Failed" | "NotReady" | "down" => "31",
            "Pending" | "Terminating" => "33",
            _ => return word.to_owned(),
        };
        format!("\x1b[{code}m{word}\x1b[0m")
    }

    /// What a wait saw happen to `job`: the live line's reason, a line on stderr (text), an
    /// event (JSON). The end is left to the caller, which says it once.
    pub fn progress(&self, progress: &Progress) {
        let mut live = self.lock();
        let (job, phase, reason, kind) = match progress {
            Progress::Stuck { job, reason } => (job, None, Some(reason.message.clone()), "stuck"),
            Progress::Unstuck { job } => (job, None, None, "unstuck"),
            Progress::Started { job } if !live.started => {
                live.started = true;
                (job, Some("running"), None, "started")
            }
            _ => return,
        };
        if let Some(status) = live.status.as_mut() {
            status.reason = reason;
            if let Some(phase) = phase {
                status.phase = phase.to_owned();
            }
        }
        drop(live);
        match self.format {
            Format::Json if self.streaming => {
                let mut event = json!({"event": "progress", "kind": kind, "job": job});
                if let Progress::Stuck { reason, .. } = progress {
                    event["reason"] = reason_json(reason);
                }
                self.event(event);
            }
            _ if self.live => self.around_live(|| {}),
            _ => self.note(&progress.to_string()),
        }
    }
}

/// A reason as JSON.
pub fn reason_json(reason: &Reason) -> Value {
    json!({
        "kind": format!("{:?}", reason.kind),
        "message": reason.message,
        "permanent": reason.permanent,
        "source": reason.source,
    })
}

/// A duration as people read an age or an elapsed time: `4s`, `3m12s`, `2h5m`, `3d`.
pub fn age(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=119 => format!("{s}s"),
        120..=599 => format!("{}m{}s", s / 60, s % 60),
        600..=7199 => format!("{}m", s / 60),
        7200..=172_799 => format!("{}h{}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_kubectl() {
        assert_eq!(age(Duration::from_secs(4)), "4s");
        assert_eq!(age(Duration::from_secs(192)), "3m12s");
        assert_eq!(age(Duration::from_secs(1800)), "30m");
        assert_eq!(age(Duration::from_secs(7500)), "2h5m");
        assert_eq!(age(Duration::from_secs(3 * 86_400 + 5)), "3d");
    }
}
