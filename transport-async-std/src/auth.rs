//! The I/O async-std and smol programs get for credentials (see
//! `clustermanager_transport_common::auth`): token files read on blocking's thread pool, exec
//! plugins run under async-process (killed if the request is dropped while they run). No tokio.

use std::time::Duration;

use clustermanager_core::config::token_file;
use clustermanager_transport_common::auth::{CredentialIo, DynamicAuth};

/// How often a token file is read again by default: service-account tokens are rotated well
/// before they expire, and kubelet refreshes the file every few minutes.
pub const DEFAULT_TOKEN_FILE_REFRESH: Duration = token_file::DEFAULT_REFRESH;

/// Credential I/O without tokio.
pub(crate) struct AsyncIo;

impl CredentialIo for AsyncIo {
    async fn read_file(path: String) -> std::io::Result<Vec<u8>> {
        blocking::unblock(move || std::fs::read(path)).await
    }

    async fn output(command: std::process::Command) -> std::io::Result<std::process::Output> {
        async_process::Command::from(command).kill_on_drop(true).output().await
    }
}

/// The dynamic credentials of an async-std transport.
pub(crate) type Dynamic = DynamicAuth<AsyncIo>;
