//! Connecting, whatever the runtime: a ready manager over a transport ([`manager`]), where an `http` or `https` URI points
//! ([`Target`]: scheme, host, port) and what a failed connect becomes (a refused or unreachable
//! TCP connect, the connect timeout, a failed TLS handshake). The transports' connectors do the
//! I/O with their runtime's sockets and timers.

use std::time::Duration;

use clustermanager_core::error::TransportErrorKind;
use clustermanager_core::{ClusterManager, Config, Error, Result, Transport};
use http::Uri;

use crate::tls;

/// The manager over the transport `build` makes for `config`, after the orchestrator's connect
/// step (for Nomad, reading `/v1/agent/self`); retry jitter is seeded from the process's
/// randomness. What every transport's `connect_typed` does.
pub async fn manager<T: Transport>(
    config: &Config,
    build: impl FnOnce(&Config) -> Result<T>,
) -> Result<ClusterManager<T>> {
    ClusterManager::connect(build(config)?, config, crate::random_seed()).await
}

/// [`manager`], erased to the one [`ClusterManager`] type: what every transport's `connect`
/// does.
pub async fn erased<T>(config: &Config, build: impl FnOnce(&Config) -> Result<T>) -> Result<ClusterManager>
where
    T: Transport + 'static,
{
    Ok(manager(config, build).await?.erase())
}

/// [`erased`] for the cluster [`Config::infer`] finds in the process environment
/// ([`StdEnvironment`](crate::StdEnvironment)): what every transport's `connect_infer` does.
pub async fn inferred<T>(build: impl FnOnce(&Config) -> Result<T>) -> Result<ClusterManager>
where
    T: Transport + 'static,
{
    erased(&Config::infer(&crate::StdEnvironment)?, build).await
}

/// A transport crate's `connect`, `connect_typed` and `connect_infer` over its transport type
/// (built by its `new`), with their docs: every transport crate offers these three, the same
/// over [`erased`], [`manager`] and [`inferred`]. `$krate` is the crate as code names it (for the
/// examples), `$transport` the transport type, both in scope where this is invoked, with the
/// crate's re-exports of [`names`](crate::names).
#[macro_export]
macro_rules! connect_functions {
    ($krate:ident, $transport:ident) => {
        #[doc = concat!("Connect to the cluster `config` describes: build a [`", stringify!($transport), "`] and run the orchestrator's")]
        /// connect step (for Nomad, reading `/v1/agent/self`). Retry jitter is seeded from the process's
        /// randomness. Returns the one [`ClusterManager`] type every transport's `connect` returns (the
        /// same as `clustermanager_core::ClusterManager`); [`connect_typed`] keeps the transport's type.
        ///
        /// ```no_run
        #[doc = concat!("# async fn demo() -> ", stringify!($krate), "::Result<()> {")]
        #[doc = concat!("use ", stringify!($krate), "::{ClusterManager, Config};")]
        ///
        /// let config = Config::kubernetes("https://127.0.0.1:6443")?;
        #[doc = concat!("let cm: ClusterManager = ", stringify!($krate), "::connect(&config).await?;")]
        /// # let _ = cm; Ok(()) }
        /// ```
        pub async fn connect(config: &Config) -> Result<ClusterManager> {
            $crate::connect::erased(config, $transport::new).await
        }

        #[doc = concat!("[`connect`], keeping the transport's type: a `ClusterManager<", stringify!($transport), ">`, whose")]
        #[doc = concat!("[`transport`](ClusterManager::transport) is the [`", stringify!($transport), "`] itself (its budgets, say).")]
        /// `.erase()` turns it into the [`ClusterManager`] that [`connect`] returns.
        ///
        /// ```no_run
        #[doc = concat!("# async fn demo() -> ", stringify!($krate), "::Result<()> {")]
        #[doc = concat!("use ", stringify!($krate), "::{ClusterManager, Config, ", stringify!($transport), "};")]
        ///
        /// let config = Config::nomad("http://127.0.0.1:4646")?;
        #[doc = concat!("let cm: ClusterManager<", stringify!($transport), "> = ", stringify!($krate), "::connect_typed(&config).await?;")]
        /// println!("{} requests in flight", cm.transport().budget().in_use());
        /// # Ok(()) }
        /// ```
        pub async fn connect_typed(config: &Config) -> Result<ClusterManager<$transport>> {
            $crate::connect::manager(config, $transport::new).await
        }

        /// Find the cluster as kubectl and the Nomad CLI do and connect to it, in one call:
        /// [`Config::infer`] from the process environment ([`StdEnvironment`]: `KUBECONFIG` or
        /// `~/.kube/config`, the in-cluster service account, `NOMAD_ADDR` and the other `NOMAD_*`
        /// variables), then [`connect`]. When nothing is found the error lists what was tried and why
        /// each did not apply; a source that is present but broken fails with its own error.
        ///
        /// ```no_run
        #[doc = concat!("# async fn demo() -> ", stringify!($krate), "::Result<()> {")]
        #[doc = concat!("let cm = ", stringify!($krate), "::connect_infer().await?;")]
        /// println!("{:?}", cm.orchestrator());
        /// # Ok(()) }
        /// ```
        pub async fn connect_infer() -> Result<ClusterManager> {
            $crate::connect::inferred($transport::new).await
        }
    };
}

/// Where a request's absolute URI points.
#[derive(Debug, Clone, Copy)]
pub struct Target<'u> {
    /// `https` (TLS), else plain `http`.
    pub https: bool,
    /// The host as the URI writes it (an IPv6 address in brackets): for TLS and messages.
    pub host: &'u str,
    /// The port, or the scheme's default (443, 80).
    pub port: u16,
}

impl<'u> Target<'u> {
    /// Where `uri` points; [`Error::Config`] (key `server`) for a scheme other than `http` and
    /// `https`, or no host.
    pub fn of(uri: &'u Uri) -> Result<Self> {
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            other => return Err(Error::config("server", format!("scheme {other:?} is not http or https"))),
        };
        let host = uri.host().ok_or_else(|| Error::config("server", format!("{uri} has no host")))?;
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        Ok(Target { https, host, port })
    }

    /// The host without an IPv6 address's brackets, to open a socket to.
    pub fn bare_host(&self) -> &'u str {
        self.host.trim_start_matches('[').trim_end_matches(']')
    }

    /// The `Host` header of a request to the target: the host, with the port unless it is the
    /// scheme's default.
    pub fn host_header(&self) -> Result<http::HeaderValue> {
        let Target { https, host, port } = *self;
        let text = if port == if https { 443 } else { 80 } { host.to_owned() } else { format!("{host}:{port}") };
        http::HeaderValue::from_str(&text).map_err(|_| Error::config("server", format!("{host:?} is not a valid host")))
    }

    /// The TCP connect to the target failed with `err`.
    pub fn tcp_failed(&self, err: &std::io::Error) -> Error {
        let Target { host, port, .. } = self;
        connect_failed(&format!("{host}:{port}"), err)
    }
}

/// No connection to `server` (as the transport names it) could be made: `cause` says why.
pub fn connect_failed(server: &str, cause: &dyn std::fmt::Display) -> Error {
    Error::transport(
        TransportErrorKind::Connect,
        format!("cannot connect to {server}: {cause}; check the server address and that the server runs"),
    )
}

/// No connection to `server` (as the transport names it) within the connect timeout `limit`.
pub fn connect_timed_out(server: &str, limit: Duration) -> Error {
    Error::transport(
        TransportErrorKind::Connect,
        format!(
            "no connection to {server} within {limit:?} (connect_timeout); check the server address and that it is reachable"
        ),
    )
}

/// The error a failed TLS handshake with `host` becomes: rustls's own error when the I/O error
/// carries one (see [`tls::tls_error`]), else a `Tls` error asking whether the server speaks TLS.
pub fn handshake_error(err: &std::io::Error, host: &str) -> Error {
    match err.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(tls_err) => tls::tls_error(tls_err, host),
        None => Error::transport(
            TransportErrorKind::Tls,
            format!("the TLS handshake with {host} failed: {err}; is the server speaking TLS on that port?"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_defaults_to_the_scheme_s_and_ipv6_brackets_come_off_for_the_socket() {
        let uri: Uri = "https://[::1]/api".parse().unwrap_or_default();
        let target = Target::of(&uri).map(|t| (t.https, t.host, t.port, t.bare_host()));
        assert_eq!(target.ok(), Some((true, "[::1]", 443, "::1")));
        let uri: Uri = "http://[::1]:8080/".parse().unwrap_or_default();
        let host = Target::of(&uri).and_then(|t| t.host_header()).ok();
        assert_eq!(host.as_ref().and_then(|h| h.to_str().ok()), Some("[::1]:8080"));
        let uri: Uri = "https://example.com:443/".parse().unwrap_or_default();
        let host = Target::of(&uri).and_then(|t| t.host_header()).ok();
        assert_eq!(host.as_ref().and_then(|h| h.to_str().ok()), Some("example.com"), "the default port is left out");
        let uri: Uri = "ftp://example.com/".parse().unwrap_or_default();
        assert!(matches!(Target::of(&uri), Err(Error::Config { .. })));
    }
}
