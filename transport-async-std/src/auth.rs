//! The timer and the I/O async-std and smol programs get for credentials (see
//! `clustermanager_transport_common::auth`): token files read on blocking's thread pool, exec
//! plugins run under async-process (killed if the request is dropped while they run). No tokio.

use std::process::Stdio;

use clustermanager_transport_common::auth::CredentialIo;
use clustermanager_transport_common::exec::{read_capped, Captured, Pipe, MAX_PLUGIN_STDERR, MAX_PLUGIN_STDOUT};
use clustermanager_transport_common::run::Timer;
use futures_lite::{future, AsyncRead, AsyncReadExt};

/// async-io's timer and the credential I/O without tokio, as
/// [`AsyncStdTransport`](crate::AsyncStdTransport) uses them.
#[derive(Debug)]
pub struct AsyncStdRuntime;

impl Timer for AsyncStdRuntime {
    async fn sleep(duration: std::time::Duration) {
        async_io::Timer::after(duration).await;
    }
}

impl CredentialIo for AsyncStdRuntime {
    async fn read_file(path: String) -> std::io::Result<Vec<u8>> {
        blocking::unblock(move || std::fs::read(path)).await
    }

    async fn output(command: std::process::Command) -> std::io::Result<Captured> {
        let mut child = async_process::Command::from(command)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
        let both = future::try_zip(
            read_capped(stdout.map(ChildPipe), MAX_PLUGIN_STDOUT, true),
            read_capped(stderr.map(ChildPipe), MAX_PLUGIN_STDERR, false),
        );
        let (stdout, stderr) = both.await?;
        if stdout.is_cut() {
            // it printed more than any credential: do not wait for it to finish
            child.kill().ok();
        }
        let status = child.status().await?;
        Ok(Captured { status, stdout, stderr })
    }
}

/// A child's pipe, read through the runtime.
struct ChildPipe<R>(R);

impl<R: AsyncRead + Unpin + Send> Pipe for ChildPipe<R> {
    async fn read_some(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf).await
    }
}
