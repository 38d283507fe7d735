//! Rust futures as asyncio futures, with one task on the tokio runtime per call.
//!
//! (`pyo3_async_runtimes::tokio::future_into_py` spawns two tasks per call and scopes task-local
//! event-loop state no operation here needs; this is the one hand-over the package's calls make,
//! measured in `python/benches/bench.py`.) The runtime itself is `pyo3_async_runtimes`'.

use std::future::Future;
use std::sync::Mutex;

use pyo3::prelude::*;
use tokio::task::AbortHandle;

/// Completes an asyncio future on its loop's thread, unless it was cancelled meanwhile.
#[pyfunction]
fn complete(future: &Bound<'_, PyAny>, ok: bool, value: Bound<'_, PyAny>) -> PyResult<()> {
    if future.call_method0(pyo3::intern!(future.py(), "done"))?.is_truthy()? {
        return Ok(());
    }
    let method =
        if ok { pyo3::intern!(future.py(), "set_result") } else { pyo3::intern!(future.py(), "set_exception") };
    future.call_method1(method, (value,))?;
    Ok(())
}

/// The asyncio future's done callback: when it was cancelled, abort the tokio task, which drops
/// the Rust future (and closes the connections it held).
#[pyclass]
struct Canceller {
    task: Mutex<Option<AbortHandle>>,
}

#[pymethods]
impl Canceller {
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        if future.call_method0(pyo3::intern!(future.py(), "cancelled"))?.is_truthy()? {
            if let Some(task) = self.task.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
                task.abort();
            }
        }
        Ok(())
    }
}

/// Run `fut` on the tokio runtime; the returned asyncio future (of the running loop) gets what
/// `finish` makes of its output, with the GIL. Cancelling the asyncio future aborts the task.
pub(crate) fn to_asyncio<'py, F, O, G>(py: Python<'py>, fut: F, finish: G) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = O> + Send + 'static,
    O: Send + 'static,
    G: FnOnce(Python<'_>, O) -> PyResult<Py<PyAny>> + Send + 'static,
{
    let event_loop = pyo3_async_runtimes::get_running_loop(py)?;
    let future = event_loop.call_method0(pyo3::intern!(py, "create_future"))?;
    let canceller = Bound::new(py, Canceller { task: Mutex::new(None) })?;
    future.call_method1(pyo3::intern!(py, "add_done_callback"), (canceller.clone(),))?;
    let (loop_ref, future_ref) = (event_loop.unbind(), future.clone().unbind());
    let task = pyo3_async_runtimes::tokio::get_runtime().spawn(async move {
        let out = fut.await;
        // `try_attach`: while the interpreter shuts down there is no one left to tell
        Python::try_attach(move |py| {
            let (ok, value) = match finish(py, out) {
                Ok(value) => (true, value.into_bound(py)),
                Err(err) => (false, err.into_value(py).into_bound(py).into_any()),
            };
            let complete = wrap_pyfunction!(complete, py)?;
            // a closed loop: nobody waits for this any more
            let _ = loop_ref
                .bind(py)
                .call_method1(pyo3::intern!(py, "call_soon_threadsafe"), (complete, future_ref.bind(py), ok, value));
            Ok::<(), PyErr>(())
        });
    });
    *canceller.borrow().task.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(task.abort_handle());
    Ok(future)
}
