//! # clustermanager-core
//!
//! The sans-IO protocol core of clustermanager: it builds the HTTP requests for every Kubernetes
//! and Nomad operation, parses the responses, runs multi-step operations as state machines and
//! decodes streams incrementally. It never does I/O itself: no sockets, files, environment, clock
//! or async runtime. A transport crate (`clustermanager-tokio`, `clustermanager-async-std`) or a
//! test harness drives the [`Operation`]s and feeds them what the server said.
//!
//! ```
//! use clustermanager_core::{Event, Operation, Step};
//! use clustermanager_core::k8s;
//!
//! // Build the operation: it knows nothing about sockets.
//! let mut op = k8s::node::list(&k8s::Context::default());
//! let now = std::time::Instant::now();
//! let Step::Send(request, _) = op.poll(now) else { unreachable!() };
//! assert_eq!(request.uri().path(), "/api/v1/nodes");
//!
//! // Feed it what a server answered.
//! let body = r#"{"kind":"NodeList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[]}"#;
//! let response = http::Response::builder().status(200).body(body.into()).unwrap();
//! op.handle(Event::Response(response));
//! let Step::Done(Ok(nodes)) = op.poll(now) else { unreachable!() };
//! assert!(nodes.is_empty());
//! ```
//!
//! ## Where things are
//!
//! | module | what it holds |
//! |---|---|
//! | [`step`] | the protocol: [`Step`] out (each request with its [`Io`](deadline::Io), every time an absolute instant), [`Event`] in, the [`Operation`] trait, [`Ready`], [`BoxOperation`](step::BoxOperation) |
//! | [`deadline`] | time as data: a caller's [`Deadline`](deadline::Deadline), the [`Io`](deadline::Io) contract and [`Hold`](deadline::Hold) of each request step |
//! | [`op`] | the operation toolkit, one pattern per kind of operation (see its table): [`Call`], [`Exchange`], `Machine`/`Flow`, the combinators |
//! | [`transport`], [`driver`] | what a runtime implements ([`Transport`], [`BodyStream`]) and the one driver that runs any operation over it |
//! | [`k8s`], [`nomad`] | every operation of each orchestrator, one module per kind of object; `k8s::object` and `nomad::blocking` hold the wire types and primitives they share; `k8s::api` and `nomad::api` are the escape hatch |
//! | [`config`] | [`Config`] and what feeds it: kubeconfig, in-cluster, the seed's dictionaries, Nomad's environment, exec plugins, PEM |
//! | [`error`] | the one [`Error`] with the kinds a caller matches |
//! | [`retry`] | the retry policy (which failures, which back-off) every request follows |
//! | (private) `model` | the lean types the facade takes and returns ([`Job`], [`JobSpec`], [`Execution`], ...), all named from the root |
//! | (private) `facade` | [`ClusterManager`]: the seed's API written once; `facade/dispatch.rs` is the one table per orchestrator it dispatches to; the waits and their progress |
//! | (private) `shared` | the shared observation behind every job and execution wait (a wait on its own is its one-waiter case; `k8s::wait` and `nomad::wait` hold only what its waiters read and say): the board of waiters, the feed, the runtime-free driving |
//!
//! To add an operation on both orchestrators: write it in `k8s/` and `nomad/` with the pattern
//! [`op`] names for its kind, add its entry to the table in `facade/dispatch.rs` (an
//! orchestrator that lacks it keeps the `Unsupported` default), and add the one-line facade
//! method that runs it.

// Where other crates' docs link to this one when built alone (`cargo doc --no-deps`):
// without it their links to our items render as plain text.
#![doc(html_root_url = "https://docs.rs/clustermanager-core/0.1.0")]

pub mod config;
pub mod deadline;
pub mod driver;
pub mod encode;
mod erased;
pub mod error;
mod facade;
pub mod k8s;
pub mod lines;
mod looks;
mod model;
pub mod nomad;
pub mod op;
mod pages;
pub mod quantity;
mod raw;
mod reason;
pub mod retry;
mod secret;
mod shared;
mod status;
pub mod step;
mod stream;
mod text;
mod trace;
pub mod transport;
mod workload;

pub use config::Config;
pub use erased::{DynBody, DynTransport};
pub use error::{ApiError, Error, Result, ResultExt};
pub use facade::handle::{Api, KubernetesHandle, NomadHandle};
pub use facade::progress::{WaitEvent, WaitStream};
pub use facade::waits::WaitOptions;
pub use facade::Backend;
pub use facade::{ClusterManager, LogStream};
/// The `futures-core` crate whose [`Stream`](futures_core::Stream) trait the owned streams
/// ([`OwnedStream`]) implement.
pub use futures_core;
/// The `http` crate core builds requests with (for `k8s::api::request`, `nomad::api::write` and
/// the handles of the escape hatch).
pub use http;
pub use model::*;
pub use op::{Call, Exchange, ExchangeStep};
pub use raw::Raw;
pub use reason::{Diagnosis, Progress, Reason, ReasonKind};
pub use retry::RetryPolicy;
pub use secret::Secret;
pub use step::{Event, Operation, Ready, Request, Response, Step};
pub use stream::OwnedStream;
pub use workload::*;
// The operation driver is `OperationDriver` at the root (also `driver::Driver`), so that `Driver`
// is the Nomad task driver of a `JobSpec` (`model::Driver`), reachable by its plain name.
pub use driver::Driver as OperationDriver;
pub use transport::{BodyStream, Chunk, Transport};
