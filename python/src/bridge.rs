//! Rust futures as asyncio futures, with one task on the tokio runtime per call.
//!
//! (`pyo3_async_runtimes::tokio::future_into_py` spawns two tasks per call and scopes task-local
//! event-loop state no operation here needs; this is the one hand-over the package's calls make,
//! measured in `python/benches/bench.py`.) The runtime itself is `pyo3_async_runtimes`'.
//!
//! **The way back without the GIL.** A finished call does not take the GIL on the tokio thread
//! (attaching a thread state there and waking the loop through `call_soon_threadsafe` cost
//! ~100 µs of CPU per call): it puts its completion in its loop's [`Inbox`] and writes one byte to
//! a socket the loop watches (`add_reader`); the loop, which holds the GIL anyway, drains the
//! inbox and completes the futures. A loop without `add_reader` (Windows' proactor) gets the
//! `call_soon_threadsafe` hand-over.

use std::future::Future;
use std::sync::{Arc, Mutex};

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

/// A finished call, to complete on its loop's thread (with the GIL).
type Completion = Box<dyn FnOnce(Python<'_>) + Send>;

/// The finished calls of one event loop, and the socket that wakes it for them.
struct Queue {
    done: Mutex<Vec<Completion>>,
    #[cfg(unix)]
    wake: std::os::unix::net::UnixStream,
}

impl Queue {
    fn push(&self, completion: Completion) {
        self.done.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(completion);
        #[cfg(unix)]
        {
            use std::io::Write;
            // non-blocking: a full socket already has a drain coming
            let _ = (&self.wake).write(&[1]);
        }
    }
}

/// The reader side of a loop's [`Queue`], registered with `loop.add_reader`.
#[pyclass]
struct Inbox {
    queue: Arc<Queue>,
    #[cfg(unix)]
    reader: std::os::unix::net::UnixStream,
}

#[pymethods]
impl Inbox {
    /// Empty the socket, then complete every finished call.
    fn drain(&self, py: Python<'_>) {
        #[cfg(unix)]
        {
            use std::io::Read;
            let mut buf = [0u8; 256];
            while matches!((&self.reader).read(&mut buf), Ok(n) if n > 0) {}
        }
        let done = std::mem::take(&mut *self.queue.done.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        for completion in done {
            completion(py);
        }
    }
}

/// The loops with an inbox: a weak reference to each, and its queue. Entries of loops that are
/// gone are dropped when a new inbox is made.
static INBOXES: Mutex<Vec<(Py<PyAny>, Arc<Queue>)>> = Mutex::new(Vec::new());

/// The queue of `event_loop`, made and registered with it on first use; `None` when the loop
/// cannot watch a socket (then the caller hands over with `call_soon_threadsafe`).
#[cfg(unix)]
fn queue_of(event_loop: &Bound<'_, PyAny>) -> Option<Arc<Queue>> {
    let py = event_loop.py();
    let mut inboxes = INBOXES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let live = |weak: &Py<PyAny>| weak.bind(py).call0().ok().filter(|l| !l.is_none());
    if let Some((_, queue)) = inboxes.iter().find(|(weak, _)| live(weak).is_some_and(|l| l.is(event_loop))) {
        return Some(queue.clone());
    }
    inboxes.retain(|(weak, _)| live(weak).is_some());
    let (reader, wake) = std::os::unix::net::UnixStream::pair().ok()?;
    reader.set_nonblocking(true).ok()?;
    wake.set_nonblocking(true).ok()?;
    let fd = std::os::fd::AsRawFd::as_raw_fd(&reader);
    let queue = Arc::new(Queue { done: Mutex::new(Vec::new()), wake });
    let inbox = Bound::new(py, Inbox { queue: queue.clone(), reader }).ok()?;
    let drain = inbox.getattr(pyo3::intern!(py, "drain")).ok()?;
    event_loop.call_method1(pyo3::intern!(py, "add_reader"), (fd, drain)).ok()?;
    let weak = py.import("weakref").ok()?.call_method1("ref", (event_loop,)).ok()?;
    inboxes.push((weak.unbind(), queue.clone()));
    Some(queue)
}

#[cfg(not(unix))]
fn queue_of(_event_loop: &Bound<'_, PyAny>) -> Option<Arc<Queue>> {
    None
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
    let queue = queue_of(&event_loop);
    let (loop_ref, future_ref) = (event_loop.unbind(), future.clone().unbind());
    let task = pyo3_async_runtimes::tokio::get_runtime().spawn(async move {
        let out = fut.await;
        if let Some(queue) = queue {
            queue.push(Box::new(move |py| {
                let (ok, value) = match finish(py, out) {
                    Ok(value) => (true, value.into_bound(py)),
                    Err(err) => (false, err.into_value(py).into_bound(py).into_any()),
                };
                if let Err(err) = complete(future_ref.bind(py), ok, value) {
                    err.write_unraisable(py, None);
                }
            }));
            return;
        }
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
