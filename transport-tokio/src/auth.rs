//! The I/O tokio does for credentials (see `clustermanager_transport_common::auth`): token
//! files read with tokio::fs, exec plugins run with tokio::process (killed if the request is
//! dropped while they run).

use std::time::Duration;

use clustermanager_core::config::token_file;
use clustermanager_transport_common::auth::{CredentialIo, DynamicAuth};

/// How often a token file is read again by default: service-account tokens are rotated well
/// before they expire, and kubelet refreshes the file every few minutes.
pub const DEFAULT_TOKEN_FILE_REFRESH: Duration = token_file::DEFAULT_REFRESH;

/// Credential I/O on tokio.
pub(crate) struct TokioIo;

impl CredentialIo for TokioIo {
    async fn read_file(path: String) -> std::io::Result<Vec<u8>> {
        tokio::fs::read(path).await
    }

    async fn output(command: std::process::Command) -> std::io::Result<std::process::Output> {
        tokio::process::Command::from(command).kill_on_drop(true).output().await
    }
}

/// The dynamic credentials of a tokio transport.
pub(crate) type Dynamic = DynamicAuth<TokioIo>;
