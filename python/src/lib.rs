//! `clustermanager._native`: the Python extension module behind the `clustermanager` package.
//!
//! It exposes the Rust facade ([`clustermanager_core::ClusterManager`], type-erased so a real
//! cluster and the in-process fake are one type) to asyncio: every operation returns an awaitable
//! (the GIL is not held while Rust works). A real cluster's manager runs the calls made from the
//! loop it was connected on as tasks of that loop, over connections the loop watches itself
//! (`aio`); the fake cluster's calls, and calls from any other loop or thread, run on a tokio
//! runtime and come back through the loop's inbox (`bridge`). Results come back as plain
//! dictionaries that the pure-Python layer (`clustermanager/__init__.py`) turns into typed
//! classes, and every [`clustermanager_core::Error`] kind is raised as its own exception class
//! under `ClusterManagerError`. No Rust panic reaches Python: each future and each stream step
//! runs under `catch_unwind` and a panic becomes `InternalError`.
//!
//! This crate is built with maturin (`scripts/test` does it) and tested from Python
//! (`python/tests`), not by `cargo test`.

mod aio;
mod bridge;
mod convert;
mod errors;
mod fake;
mod manager;
mod spec;
mod streams;

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

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

/// The most polls [`spawn`] makes on the calling thread before handing a future to the runtime.
const INLINE_POLLS: u32 = 64;

/// The outcome of a Rust future, as Python sees it.
fn outcome<T>(
    py: Python<'_>,
    out: Result<clustermanager_core::Result<T>, String>,
    conv: fn(Python<'_>, T) -> PyResult<Py<PyAny>>,
) -> PyResult<Py<PyAny>> {
    match out {
        Ok(Ok(value)) => conv(py, value),
        Ok(Err(err)) => Err(errors::to_pyerr(py, err)),
        Err(panic) => Err(errors::InternalError::new_err(format!("a bug in clustermanager (Rust panic): {panic}"))),
    }
}

/// What turns a call's value into a Python object.
pub(crate) type Conv<T> = fn(Python<'_>, T) -> PyResult<Py<PyAny>>;

/// Run a call of a manager whose home is `home` (see [`aio`]): on the home loop's executor when
/// that loop is the one running (the call's connections are the loop's), else as [`spawn`]
/// (`wait`: straight to the runtime, without a first poll here: a wait lasts, and its first
/// polls may have much to do) runs it.
pub(crate) fn call<'py, F, T>(
    py: Python<'py>,
    home: Option<&aio::Exec>,
    fut: F,
    conv: Conv<T>,
    wait: bool,
) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = clustermanager_core::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    match aio::running_home(py, home) {
        Some(exec) => exec.call(py, CatchPanic::new(fut), move |py, out| outcome(py, out, conv)),
        None => run(py, fut, conv, !wait),
    }
}

/// Run `fut` as a Python awaitable; its value is turned into a Python object by `conv` (with the
/// GIL, once the Rust work is done).
///
/// The future is first polled right here, inside the tokio runtime's context and without the GIL
/// (a poll never waits: it does what can be done now, such as writing a request; it is polled
/// again only while it wakes itself, at most [`INLINE_POLLS`] times). When that finishes it (the
/// fake cluster answers at once) the answer is returned as an already-done awaitable, with no
/// thread hand-over. Otherwise the awaitable is an asyncio future, and the Rust future is parked
/// until what it waits for wakes it, which spawns it on the runtime right there (a worker, for
/// I/O): no worker is woken just to find it still waiting ([`bridge::Handoff`]). Cancelling the
/// awaitable drops the Rust future (closing the connections it held).
pub(crate) fn spawn<'py, F, T>(
    py: Python<'py>,
    fut: F,
    conv: fn(Python<'_>, T) -> PyResult<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = clustermanager_core::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    run(py, fut, conv, true)
}

fn run<'py, F, T>(
    py: Python<'py>,
    fut: F,
    conv: fn(Python<'_>, T) -> PyResult<Py<PyAny>>,
    inline: bool,
) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = clustermanager_core::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let mut fut = CatchPanic::new(fut);
    if !inline {
        return bridge::to_asyncio(py, fut, move |py, out| outcome(py, out, conv));
    }
    let runtime = pyo3_async_runtimes::tokio::get_runtime();
    let handoff = bridge::Handoff::new();
    let first = py.detach(|| {
        let _context = runtime.enter();
        let waker = Waker::from(handoff.clone());
        let mut cx = Context::from_waker(&waker);
        // Poll again only while the future woke itself during the poll (it has more to do now,
        // as the fake cluster's futures do); a future waiting for I/O or a timer goes to the
        // runtime at its first `Pending`. Bounded: never more than INLINE_POLLS polls here.
        let mut polls = 0;
        loop {
            polls += 1;
            match Pin::new(&mut fut).poll(&mut cx) {
                Poll::Ready(out) => break Poll::Ready(out),
                Poll::Pending if polls < INLINE_POLLS && handoff.take_woken() => continue,
                Poll::Pending => break Poll::Pending,
            }
        }
    });
    if let Poll::Ready(out) = first {
        let done = Done { result: Some(outcome(py, out, conv)) };
        return Ok(Bound::new(py, done)?.into_any());
    }
    bridge::to_asyncio_polled(py, fut, move |py, out| outcome(py, out, conv), handoff)
}

/// An awaitable that is already done: `await` gives its value (or raises its error) at once.
#[pyclass(module = "clustermanager._native")]
pub(crate) struct Done {
    result: Option<PyResult<Py<PyAny>>>,
}

#[pymethods]
impl Done {
    fn __await__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self) -> PyResult<Py<PyAny>> {
        match self.result.take() {
            Some(Ok(value)) => Err(pyo3::exceptions::PyStopIteration::new_err((value,))),
            Some(Err(err)) => Err(err),
            None => Err(pyo3::exceptions::PyRuntimeError::new_err("cannot reuse an already awaited result")),
        }
    }

    fn __repr__(&self) -> &'static str {
        "<clustermanager result (done)>"
    }
}

/// The extension module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    m.add_class::<manager::Manager>()?;
    m.add_class::<fake::FakeCluster>()?;
    m.add_class::<streams::AsyncStream>()?;
    m.add_class::<Done>()?;
    m.add_class::<convert::RawObject>()?;
    m.add_function(wrap_pyfunction!(manager::connect_seed, m)?)?;
    m.add_function(wrap_pyfunction!(manager::connect_infer, m)?)?;
    m.add_function(wrap_pyfunction!(manager::connect_kubeconfig, m)?)?;
    m.add_function(wrap_pyfunction!(manager::bench_rust_calls, m)?)?;
    m.add_function(wrap_pyfunction!(manager::bench_handover, m)?)?;
    m.add("PROBE_KEYS", spec::PROBE_KEYS)?;
    m.add("HTTP_GET_KEYS", spec::HTTP_GET_KEYS)?;
    Ok(())
}
