//! The real process environment and file system as a [`clustermanager_core::config::Environment`],
//! so core's config loaders (kubeconfig, in-cluster, `NOMAD_*`, [`Config::infer`]) can run in a
//! program.
//!
//! ```no_run
//! use clustermanager_core::Config;
//! # use clustermanager_transport_common::StdEnvironment;
//! let config = Config::infer(&StdEnvironment)?;
//! # Ok::<(), clustermanager_core::Error>(())
//! ```
//!
//! Reads are blocking (`std::fs`): configs are loaded once, before the runtime does any work, and
//! the files are small. Token files named by `Auth::TokenFile` are re-read by the transport, not
//! through this.
//!
//! [`Config::infer`]: clustermanager_core::Config::infer

use clustermanager_core::config::Environment;

/// The process environment (`std::env::var`) and file system (`std::fs::read`).
#[derive(Debug, Clone, Copy, Default)]
pub struct StdEnvironment;

impl Environment for StdEnvironment {
    /// The variable's value; unset or not valid Unicode reads as `None`.
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn read_file(&self, path: &str) -> std::io::Result<Vec<u8>> {
        std::fs::read(path)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn reads_files_and_reports_missing_ones() {
        let dir = std::env::temp_dir().join(format!("clustermanager-env-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token");
        std::fs::write(&path, b"abc").unwrap();
        let env = StdEnvironment;
        assert_eq!(env.read_file(path.to_str().unwrap()).unwrap(), b"abc");
        let missing = dir.join("missing");
        assert_eq!(env.read_file(missing.to_str().unwrap()).unwrap_err().kind(), std::io::ErrorKind::NotFound);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(env.var("PATH").is_some());
        assert_eq!(env.var("CLUSTERMANAGER_SURELY_UNSET_VARIABLE"), None);
    }
}
