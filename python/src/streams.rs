//! Owned Rust streams as Python async iterators: a followed log, a wait's progress, a
//! Kubernetes watch. `async for item in stream` drives the Rust stream one item at a time on the
//! tokio runtime; `await stream.aclose()` (or dropping the last reference) drops it, which closes
//! its connection. Cancelling an `__anext__` leaves the stream usable (the Rust `next()` is
//! cancel-safe).

use std::pin::Pin;
use std::sync::Arc;

use clustermanager_core::futures_core::Stream;
use clustermanager_core::k8s::watch::WatchEvent;
use clustermanager_core::{LogLine, WaitEvent};
use pyo3::exceptions::PyStopAsyncIteration;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use tokio::sync::Mutex;

use crate::aio::Exec;
use crate::{convert, errors, CatchPanic};

/// What a stream yields, before it is turned into Python objects (with the GIL).
pub(crate) enum Item {
    Log(LogLine),
    Wait(Box<WaitEvent>),
    Watch(WatchEvent<serde_json::Value>),
    Events(clustermanager_core::nomad::events::EventBatch),
}

type Inner = Pin<Box<dyn Stream<Item = clustermanager_core::Result<Item>> + Send>>;

/// An async iterator over a Rust stream (see the module docs).
#[pyclass(module = "clustermanager._native")]
pub(crate) struct AsyncStream {
    inner: Arc<Mutex<Option<Inner>>>,
    what: &'static str,
    /// Its manager's loop executor: steps taken from that loop run there (see `crate::aio`).
    home: Option<Exec>,
}

impl AsyncStream {
    pub(crate) fn new<S>(stream: S, what: &'static str, home: Option<Exec>) -> Self
    where
        S: Stream<Item = clustermanager_core::Result<Item>> + Send + 'static,
    {
        AsyncStream { inner: Arc::new(Mutex::new(Some(Box::pin(stream)))), what, home }
    }

    /// Run a step of the stream: on its manager's loop executor when that loop is running, else
    /// on the tokio runtime.
    fn step<'py, F, O, G>(&self, py: Python<'py>, fut: F, finish: G) -> PyResult<Bound<'py, PyAny>>
    where
        F: std::future::Future<Output = O> + Send + 'static,
        O: Send + 'static,
        G: FnOnce(Python<'_>, O) -> PyResult<Py<PyAny>> + Send + 'static,
    {
        match crate::aio::running_home(py, self.home.as_ref()) {
            Some(exec) => exec.call(py, fut, finish),
            None => crate::bridge::to_asyncio(py, fut, finish),
        }
    }
}

fn to_py(py: Python<'_>, item: Item) -> PyResult<Py<PyAny>> {
    match item {
        Item::Log(line) => Ok(line.text.into_pyobject(py)?.into_any().unbind()),
        Item::Wait(event) => match *event {
            WaitEvent::Progress(p) => Ok(convert::progress(py, &p)?.into_any().unbind()),
            WaitEvent::Finished(job) => {
                let d = PyDict::new(py);
                d.set_item("event", "result")?;
                d.set_item("job", convert::job_dict(py, &job)?)?;
                Ok(d.into_any().unbind())
            }
        },
        Item::Watch(event) => {
            let d = PyDict::new(py);
            let (kind, object) = match event {
                WatchEvent::Added(o) => ("ADDED", Some(o)),
                WatchEvent::Modified(o) => ("MODIFIED", Some(o)),
                WatchEvent::Deleted(o) => ("DELETED", Some(o)),
                WatchEvent::Bookmark { resource_version, .. } => {
                    d.set_item("resource_version", resource_version)?;
                    ("BOOKMARK", None)
                }
                WatchEvent::Error(status) => {
                    d.set_item("code", status.code)?;
                    let raw: serde_json::Value = serde_json::from_str(&status.raw).unwrap_or(serde_json::Value::Null);
                    ("ERROR", Some(raw))
                }
            };
            d.set_item("type", kind)?;
            match object {
                Some(o) => d.set_item("object", convert::json_value(py, o)?)?,
                None => d.set_item("object", py.None())?,
            }
            Ok(d.into_any().unbind())
        }
        Item::Events(batch) => {
            let events = pyo3::types::PyList::empty(py);
            for e in batch.events {
                let d = PyDict::new(py);
                d.set_item("topic", &e.topic)?;
                d.set_item("type", &e.kind)?;
                d.set_item("key", &e.key)?;
                d.set_item("namespace", &e.namespace)?;
                d.set_item("filter_keys", &e.filter_keys)?;
                d.set_item("index", e.index)?;
                let payload = serde_json::from_str(e.payload.get()).unwrap_or(serde_json::Value::Null);
                d.set_item("payload", convert::json_value(py, payload)?)?;
                events.append(d)?;
            }
            let d = PyDict::new(py);
            d.set_item("index", batch.index)?;
            d.set_item("events", events)?;
            Ok(d.into_any().unbind())
        }
    }
}

#[pymethods]
impl AsyncStream {
    fn __aiter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// The next item; `StopAsyncIteration` after the last (or after `aclose`).
    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        let next = CatchPanic::new(async move {
            let mut guard = inner.lock().await;
            let stream = guard.as_mut()?;
            let item = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await;
            if item.is_none() {
                // ended: drop it now (closing its connection), not when Python lets go
                *guard = None;
            }
            item
        });
        self.step(py, next, |py, next| match next {
            Ok(Some(Ok(item))) => to_py(py, item),
            Ok(Some(Err(err))) => Err(errors::to_pyerr(py, err)),
            Ok(None) => Err(PyStopAsyncIteration::new_err(())),
            Err(panic) => Err(errors::InternalError::new_err(format!("a bug in clustermanager (Rust panic): {panic}"))),
        })
    }

    /// Close the stream (and its connection) now. Later `__anext__` calls end the iteration.
    fn aclose<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        self.step(py, async move { inner.lock().await.take() }, |py, _| Ok(py.None()))
    }

    fn __repr__(&self) -> String {
        format!("<clustermanager stream: {}>", self.what)
    }
}
