//! The timer and the I/O async-std and smol programs get for credentials (see
//! `clustermanager_transport_common::auth`): token files read on blocking's thread pool, exec
//! plugins run under async-process (killed if the request is dropped while they run). No tokio.

use std::process::{ExitStatus, Stdio};

use async_process::{ChildStderr, ChildStdout};
use clustermanager_transport_common::auth::CredentialIo;
use clustermanager_transport_common::exec::{Child, Pipe};
use clustermanager_transport_common::run::Timer;
use futures_lite::{AsyncRead, AsyncReadExt};

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
    type Plugin = Plugin;

    async fn read_file(path: String) -> std::io::Result<Vec<u8>> {
        blocking::unblock(move || std::fs::read(path)).await
    }

    fn spawn(command: std::process::Command) -> std::io::Result<Plugin> {
        let mut command = async_process::Command::from(command);
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        command.spawn().map(Plugin)
    }
}

/// An exec plugin running under async-process.
pub struct Plugin(async_process::Child);

impl Child for Plugin {
    type Stdout = ChildPipe<ChildStdout>;
    type Stderr = ChildPipe<ChildStderr>;

    fn pipes(&mut self) -> (Option<Self::Stdout>, Option<Self::Stderr>) {
        (self.0.stdout.take().map(ChildPipe), self.0.stderr.take().map(ChildPipe))
    }

    fn kill(&mut self) {
        self.0.kill().ok();
    }

    async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        self.0.status().await
    }
}

/// A child's pipe, read through the runtime.
pub struct ChildPipe<R>(R);

impl<R: AsyncRead + Unpin + Send> Pipe for ChildPipe<R> {
    async fn read_some(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf).await
    }
}
