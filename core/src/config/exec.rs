//! Kubeconfig exec credential plugins: the command to run (run by the transport) and the
//! parsing of the `ExecCredential` it prints, with expiry.

use crate::secret::Secret;

/// An exec credential plugin from a kubeconfig `user.exec`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecConfig {
    /// `client.authentication.k8s.io/v1` or `v1beta1`.
    pub api_version: String,
    /// The program.
    pub command: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Extra environment (values may be secrets: redacted in Debug).
    pub env: Vec<(String, Secret)>,
}
