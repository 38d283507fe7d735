//! `clustermanager._native`: the Python extension module behind the `clustermanager` package.
//!
//! It exposes the Rust facade ([`clustermanager_core::ClusterManager`], type-erased so a real
//! cluster and the in-process fake are one type) to asyncio: every operation returns an awaitable
//! driven on a tokio runtime (the GIL is not held while Rust works), results come back as plain
//! dictionaries that the pure-Python layer (`clustermanager/__init__.py`) turns into typed
//! classes, and every [`clustermanager_core::Error`] kind is raised as its own exception class
//! under `ClusterManagerError`. No Rust panic reaches Python: each future and each stream step
//! runs under `catch_unwind` and a panic becomes `InternalError`.
//!
//! This crate is built with maturin (`scripts/test` does it) and tested from Python
//! (`python/tests`), not by `cargo test`.

mod convert;
mod errors;
mod fake;
mod manager;
mod spec;
mod streams;

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use pyo3::prelude::*;

/// A future that turns a panic of the future it wraps into an error value, so that no Rust panic
/// ever unwinds into Python.
pub(crate) struct CatchPanic<F> {
    inner: Pin<Box<F>>,
}

impl<F> CatchPanic<F> {
    pub(crate) fn new(inner: F) -> Self {
        CatchPanic { inner: Box::pin(inner) }
    }
}

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.inner.as_mut();
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(value)) => Poll::Ready(Ok(value)),
            Err(payload) => Poll::Ready(Err(panic_message(payload.as_ref()))),
        }
    }
}

/// The text of a panic's payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a Rust panic without a message".to_owned()
    }
}

/// Run `fut` on the tokio runtime as a Python awaitable; its value is turned into a Python object
/// by `conv` (with the GIL, once the Rust work is done). Cancelling the awaitable drops `fut`
/// (closing the connections it held).
pub(crate) fn spawn<'py, F, T>(
    py: Python<'py>,
    fut: F,
    conv: fn(Python<'_>, T) -> PyResult<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = clustermanager_core::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    pyo3_async_runtimes::tokio::future_into_py(py, async move {
        let out = CatchPanic::new(fut).await;
        Python::attach(|py| match out {
            Ok(Ok(value)) => conv(py, value),
            Ok(Err(err)) => Err(errors::to_pyerr(py, err)),
            Err(panic) => Err(errors::InternalError::new_err(format!("a bug in clustermanager (Rust panic): {panic}"))),
        })
    })
}

/// The extension module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    m.add_class::<manager::Manager>()?;
    m.add_class::<fake::FakeCluster>()?;
    m.add_class::<streams::AsyncStream>()?;
    m.add_function(wrap_pyfunction!(manager::connect_seed, m)?)?;
    m.add_function(wrap_pyfunction!(manager::connect_infer, m)?)?;
    m.add_function(wrap_pyfunction!(manager::connect_kubeconfig, m)?)?;
    m.add_function(wrap_pyfunction!(manager::bench_rust_calls, m)?)?;
    Ok(())
}
