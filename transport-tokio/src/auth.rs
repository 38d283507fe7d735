//! What the transport takes from tokio besides sockets: its timer, and the I/O for credentials
//! (see `clustermanager_transport_common::auth`): token files read with tokio::fs, exec plugins
//! run with tokio::process (killed if the request is dropped while they run).

use std::process::Stdio;

use clustermanager_transport_common::auth::CredentialIo;
use clustermanager_transport_common::exec::{read_capped, Captured, Pipe, MAX_PLUGIN_STDERR, MAX_PLUGIN_STDOUT};
use clustermanager_transport_common::run::Timer;
use tokio::io::{AsyncRead, AsyncReadExt};

/// tokio's timer and credential I/O, as [`TokioTransport`](crate::TokioTransport) uses them.
#[derive(Debug)]
pub struct TokioRuntime;

impl Timer for TokioRuntime {
    fn sleep(duration: std::time::Duration) -> impl std::future::Future<Output = ()> + Send {
        tokio::time::sleep(duration)
    }
}

impl CredentialIo for TokioRuntime {
    async fn read_file(path: String) -> std::io::Result<Vec<u8>> {
        tokio::fs::read(path).await
    }

    async fn output(command: std::process::Command) -> std::io::Result<Captured> {
        let mut child = tokio::process::Command::from(command)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
        let (stdout, stderr) = tokio::try_join!(
            read_capped(stdout.map(ChildPipe), MAX_PLUGIN_STDOUT, true),
            read_capped(stderr.map(ChildPipe), MAX_PLUGIN_STDERR, false)
        )?;
        if stdout.is_cut() {
            // it printed more than any credential: do not wait for it to finish
            child.start_kill().ok();
        }
        let status = child.wait().await?;
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
