//! The std side of running a kubeconfig exec plugin: both runtimes' process APIs (tokio::process,
//! async-process) read the plugin's stdout and stderr through a [`Capped`] buffer each, and
//! [`plugin_run`] turns what they collected into what core's
//! [`ExecState`](clustermanager_core::config::exec::ExecState) takes.
//!
//! The output is capped: stdout at [`MAX_PLUGIN_STDOUT`] (an `ExecCredential` is a few KiB; a
//! plugin that prints more is stopped and refused), stderr at [`MAX_PLUGIN_STDERR`] (kept for
//! the error message; the rest is read and dropped, so a chatty plugin does not block).

use clustermanager_core::config::exec::PluginRun;
pub use clustermanager_core::config::exec::{MAX_PLUGIN_STDERR, MAX_PLUGIN_STDOUT};

/// What a runtime collected from a finished plugin process.
pub struct Captured {
    /// How it exited.
    pub status: std::process::ExitStatus,
    /// Its stdout (at most [`MAX_PLUGIN_STDOUT`] bytes).
    pub stdout: Capped,
    /// Its stderr (at most [`MAX_PLUGIN_STDERR`] bytes).
    pub stderr: Capped,
}

/// A buffer that keeps at most `max` bytes of a stream and notes whether more came.
pub struct Capped {
    buf: Vec<u8>,
    max: usize,
    cut: bool,
}

impl Capped {
    /// Keep at most `max` bytes.
    pub fn new(max: usize) -> Self {
        Capped { buf: Vec::new(), max, cut: false }
    }

    /// Add a piece read from the stream (the part beyond `max` is dropped).
    pub fn push(&mut self, piece: &[u8]) {
        let room = self.max.saturating_sub(self.buf.len());
        if piece.len() > room {
            self.cut = true;
        }
        self.buf.extend_from_slice(&piece[..piece.len().min(room)]);
    }

    /// Whether more than `max` bytes came.
    pub fn is_cut(&self) -> bool {
        self.cut
    }
}

/// One of a plugin's output pipes, as a runtime reads it.
pub trait Pipe: Send {
    /// Read some bytes into `buf` (0 at the end).
    fn read_some(&mut self, buf: &mut [u8]) -> impl std::future::Future<Output = std::io::Result<usize>> + Send;
}

/// Read `pipe` to its end into a buffer of at most `max` bytes; with `stop`, stop reading (and
/// so close the pipe) as soon as more came, else read on and drop the rest.
pub async fn read_capped<P: Pipe>(pipe: Option<P>, max: usize, stop: bool) -> std::io::Result<Capped> {
    let mut capped = Capped::new(max);
    let Some(mut pipe) = pipe else { return Ok(capped) };
    let mut piece = [0u8; 8192];
    loop {
        let n = pipe.read_some(&mut piece).await?;
        if n == 0 {
            return Ok(capped);
        }
        capped.push(&piece[..n]);
        if stop && capped.is_cut() {
            return Ok(capped);
        }
    }
}

/// A finished plugin process as core's exec policy sees it.
pub fn plugin_run(captured: Captured) -> PluginRun {
    PluginRun {
        success: captured.status.success(),
        status: captured.status.to_string(),
        stdout_cut: captured.stdout.cut,
        stdout: captured.stdout.buf,
        stderr: captured.stderr.buf,
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn capped(max: usize, pieces: &[&[u8]]) -> Capped {
        let mut c = Capped::new(max);
        for p in pieces {
            c.push(p);
        }
        c
    }

    #[test]
    fn exit_status_and_streams_carry_over() {
        let captured = Captured {
            status: std::process::ExitStatus::from_raw(3 << 8),
            stdout: capped(10, &[b"out"]),
            stderr: capped(10, &[b"err"]),
        };
        let run = plugin_run(captured);
        assert!(!run.success && !run.stdout_cut);
        assert_eq!(run.status, "exit status: 3");
        assert_eq!((run.stdout.as_slice(), run.stderr.as_slice()), (&b"out"[..], &b"err"[..]));
    }

    #[test]
    fn output_beyond_the_cap_is_dropped_and_noted() {
        let c = capped(5, &[b"abc", b"defgh", b"ij"]);
        assert!(c.is_cut());
        assert_eq!(c.buf, b"abcde");
        assert!(!capped(5, &[b"abc", b"de"]).is_cut());
    }
}
