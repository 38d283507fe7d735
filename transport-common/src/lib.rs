//! # clustermanager-transport-common
//!
//! The runtime-independent pieces that `clustermanager-tokio` and `clustermanager-async-std`
//! share, written once: the rustls client configuration built from a
//! [`TlsConfig`](clustermanager_core::config::TlsConfig) (CA bundle, client identity, explicit
//! skip-verify, server-name override) with clear TLS error messages ([`tls`]), and
//! [`StdEnvironment`], the process environment and file system as core's config loaders see them,
//! and the hyper/rustls glue both runtimes need ([`hyper_rustls`]: blocking-query allowances,
//! log-follow detection, error mapping), and the wall clock and randomness handed to core
//! ([`clock`]: [`now_unix`], [`random_seed`]), and an exec plugin's run, its output read under
//! caps, as core sees it ([`exec`]), and the token-file and exec-plugin credential caches over
//! a runtime's I/O ([`auth`]), and the connection budget ([`budget`]) with the idle connections
//! a spawn-free transport keeps within it ([`pool`]); reading a whole response body under a
//! size cap ([`body`]); where a connection goes and how a failed connect reads ([`connect`]);
//! what a transport is built from and does to each request before it goes out ([`settings`]),
//! and what a request may take ([`limits`]); the flow of one request and a streamed body,
//! written once over what each transport does differently ([`run`]); and the names every
//! transport crate re-exports ([`names`]).

// Where other crates' docs link to this one when built alone (`cargo doc --no-deps`):
// without it their links to our items render as plain text.
#![doc(html_root_url = "https://docs.rs/clustermanager-transport-common/0.1.0")]

pub mod auth;
pub mod body;
pub mod budget;
pub mod clock;
pub mod connect;
pub mod env;
pub mod exec;
pub mod hyper_rustls;
pub mod limits;
pub mod names;
pub mod pool;
pub mod run;
pub mod settings;
pub mod tls;

pub use clock::{now_unix, random_seed};
pub use env::StdEnvironment;
