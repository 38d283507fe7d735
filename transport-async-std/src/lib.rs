//! # clustermanager-async-std
//!
//! The async-std / smol transport for clustermanager: it will run the same sans-IO operations as
//! `clustermanager-tokio` over async-io, hyper 1 and futures-rustls. It is a placeholder until its
//! own issue lands; today it only re-exports the core so the workspace layout is final.

pub use clustermanager_core as core;
