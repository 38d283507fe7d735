//! The std side of running a kubeconfig exec plugin: a runtime spawns it with its process API
//! (tokio::process, async-process) and hands it over as a [`Child`]; [`capture`] reads its
//! stdout and stderr at once through a [`Capped`] buffer each and waits for it, and
//! [`plugin_run`] turns what it collected into what core's
//! [`ExecState`](clustermanager_core::config::exec::ExecState) takes.
//!
//! The output is capped: stdout at [`MAX_PLUGIN_STDOUT`] (an `ExecCredential` is a few KiB; a
//! plugin that prints more is stopped and refused), stderr at [`MAX_PLUGIN_STDERR`] (kept for
//! the error message; the rest is read and dropped, so a chatty plugin does not block).

use std::future::{poll_fn, Future};
use std::io;
use std::pin::pin;
use std::process::ExitStatus;
use std::task::Poll;

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

/// A plugin process a runtime spawned (stdin null, stdout and stderr piped), killed by the
/// runtime if it is dropped while it runs.
pub trait Child: Send {
    /// Its stdout, read through the runtime.
    type Stdout: Pipe;
    /// Its stderr, read through the runtime.
    type Stderr: Pipe;

    /// Its output pipes (taken: none the second time).
    fn pipes(&mut self) -> (Option<Self::Stdout>, Option<Self::Stderr>);

    /// Have it killed, without waiting for it to exit.
    fn kill(&mut self);

    /// Wait for it to exit.
    fn wait(&mut self) -> impl Future<Output = io::Result<ExitStatus>> + Send;
}

/// Run `child` to its end and collect its output, both streams read at once, each into its
/// [`Capped`] buffer (stdout [`MAX_PLUGIN_STDOUT`], stderr [`MAX_PLUGIN_STDERR`]). When stdout
/// goes past its cap, it is read no further and the child is killed. Dropping the future drops
/// the child, which the runtime then kills.
pub async fn capture<C: Child>(mut child: C) -> io::Result<Captured> {
    let (stdout, stderr) = child.pipes();
    let stdout = read_capped(stdout, MAX_PLUGIN_STDOUT, true);
    let (stdout, stderr) = both(stdout, read_capped(stderr, MAX_PLUGIN_STDERR, false)).await?;
    if stdout.is_cut() {
        // it printed more than any credential: do not wait for it to finish
        child.kill();
    }
    let status = child.wait().await?;
    Ok(Captured { status, stdout, stderr })
}

/// The outputs of `a` and `b`, polled together; the first error ends both.
async fn both<A, B>(
    a: impl Future<Output = io::Result<A>>,
    b: impl Future<Output = io::Result<B>>,
) -> io::Result<(A, B)> {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut a_out, mut b_out) = (None, None);
    poll_fn(|cx| {
        // a finished future is not polled again
        if a_out.is_none() {
            if let Poll::Ready(out) = a.as_mut().poll(cx) {
                a_out = Some(out?);
            }
        }
        if b_out.is_none() {
            if let Poll::Ready(out) = b.as_mut().poll(cx) {
                b_out = Some(out?);
            }
        }
        match (a_out.take(), b_out.take()) {
            (Some(a), Some(b)) => Poll::Ready(Ok((a, b))),
            pending => {
                (a_out, b_out) = pending;
                Poll::Pending
            }
        }
    })
    .await
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

    /// A pipe that gives `total` bytes, a few at a time, then its end.
    struct Printed {
        total: usize,
    }

    impl Pipe for Printed {
        async fn read_some(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.total.min(buf.len()).min(1000);
            self.total -= n;
            Ok(n)
        }
    }

    /// A child that printed `stdout` and `stderr` bytes, noting whether it was killed.
    struct Fake {
        pipes: Option<(Printed, Printed)>,
        killed: bool,
    }

    impl Child for Fake {
        type Stdout = Printed;
        type Stderr = Printed;

        fn pipes(&mut self) -> (Option<Printed>, Option<Printed>) {
            self.pipes.take().map_or((None, None), |(out, err)| (Some(out), Some(err)))
        }

        fn kill(&mut self) {
            self.killed = true;
        }

        async fn wait(&mut self) -> io::Result<ExitStatus> {
            Ok(ExitStatus::from_raw(if self.killed { 9 } else { 0 }))
        }
    }

    fn run(stdout: usize, stderr: usize) -> io::Result<Captured> {
        let child = Fake { pipes: Some((Printed { total: stdout }, Printed { total: stderr })), killed: false };
        futures_lite::future::block_on(capture(child))
    }

    #[test]
    fn both_streams_are_read_and_capped_and_a_flood_on_stdout_kills_the_child() {
        let quiet = run(10, 20).unwrap_or_else(|e| panic!("{e}"));
        assert!(quiet.status.success());
        assert_eq!((quiet.stdout.buf.len(), quiet.stderr.buf.len()), (10, 20));
        // stderr past its cap is read to its end and dropped: the child is not killed for it
        let chatty = run(10, MAX_PLUGIN_STDERR + 5000).unwrap_or_else(|e| panic!("{e}"));
        assert!(chatty.status.success() && chatty.stderr.is_cut() && !chatty.stdout.is_cut());
        assert_eq!(chatty.stderr.buf.len(), MAX_PLUGIN_STDERR);
        let flood = run(MAX_PLUGIN_STDOUT + 5000, 0).unwrap_or_else(|e| panic!("{e}"));
        assert!(flood.stdout.is_cut() && !flood.status.success(), "killed");
    }
}
