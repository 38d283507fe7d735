//! What the transport takes from tokio besides sockets: its timer, and the I/O for credentials
//! (see `clustermanager_transport_common::auth`): token files read with tokio::fs, exec plugins
//! run with tokio::process (killed if the request is dropped while they run).

use std::process::{ExitStatus, Stdio};

use clustermanager_transport_common::auth::CredentialIo;
use clustermanager_transport_common::exec::{Child, Pipe};
use clustermanager_transport_common::run::Timer;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{ChildStderr, ChildStdout};

/// tokio's timer and credential I/O, as [`TokioTransport`](crate::TokioTransport) uses them.
#[derive(Debug)]
pub struct TokioRuntime;

impl Timer for TokioRuntime {
    fn sleep(duration: std::time::Duration) -> impl std::future::Future<Output = ()> + Send {
        tokio::time::sleep(duration)
    }
}

impl CredentialIo for TokioRuntime {
    type Plugin = Plugin;

    async fn read_file(path: String) -> std::io::Result<Vec<u8>> {
        tokio::fs::read(path).await
    }

    fn spawn(command: std::process::Command) -> std::io::Result<Plugin> {
        let mut command = tokio::process::Command::from(command);
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        command.spawn().map(Plugin)
    }
}

/// An exec plugin running under tokio::process.
pub struct Plugin(tokio::process::Child);

impl Child for Plugin {
    type Stdout = ChildPipe<ChildStdout>;
    type Stderr = ChildPipe<ChildStderr>;

    fn pipes(&mut self) -> (Option<Self::Stdout>, Option<Self::Stderr>) {
        (self.0.stdout.take().map(ChildPipe), self.0.stderr.take().map(ChildPipe))
    }

    fn kill(&mut self) {
        self.0.start_kill().ok();
    }

    async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        self.0.wait().await
    }
}

/// A child's pipe, read through the runtime.
pub struct ChildPipe<R>(R);

impl<R: AsyncRead + Unpin + Send> Pipe for ChildPipe<R> {
    async fn read_some(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf).await
    }
}
