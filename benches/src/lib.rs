//! Benchmarks of clustermanager (see `benches/` and `BENCHMARKS.md` at the repository root).
//!
//! This library holds what the benchmark targets share, so that they measure the same thing:
//!
//! - [`bodies`]: synthetic server bodies, generated in code, shaped like the recordings of a real
//!   kube-apiserver v1.19 and Nomad 1.1.2 (same fields, nesting, escapes and value lengths).
//! - [`floor`]: the floor of each body: `serde_json` into a minimal borrowed struct holding only
//!   the fields core returns (what no parser of that JSON can beat by much).
//! - [`suites`](mod@suites): for each body, the floor, the peers (k8s-openapi, `serde_json::Value`) and core,
//!   each as a [`Case`] returning how many items (pods, events, data bytes) it decoded, so that
//!   every case of a suite can be checked to do the same work.
//!
//! Targets: `decode` (criterion, time), `report` (one run: time ratios to the floor, peak heap
//! and allocations per call with a counting allocator, as markdown tables) and `waits`
//! (concurrent `wait_for_job` on the fake cluster).

// The bodies are generated here: a decoder failing on them is a bug to see at once.
#![allow(clippy::expect_used, clippy::unwrap_used)]
#![recursion_limit = "512"]

pub mod bodies;
pub mod floor;
pub mod suites;

pub use suites::{suites, Case, Suite};
