//! Rust futures as asyncio futures, with one task on the tokio runtime per call: the fake
//! cluster's calls, and a real cluster's calls made from a loop other than the one it was
//! connected on (those from that loop run on it: `crate::aio`). The loop's inbox is also how the
//! loop's own executor is woken from other threads.
//!
//! (`pyo3_async_runtimes::tokio::future_into_py` spawns two tasks per call and scopes task-local
//! event-loop state no operation here needs; this is the one hand-over the package's calls make,
//! measured in `python/benches/bench.py`.) The runtime itself is `pyo3_async_runtimes`'.
//!
//! **The way there.** A call is first polled on the loop's thread (`crate::spawn`); one still
//! pending then (it wrote its request and waits for the answer) is parked in its [`Handoff`],
//! whose waker spawns it where it is woken: for an answer, on the worker whose I/O driver saw it.
//! Spawning it at once woke a worker only to poll it again and find it still waiting.
//!
//! **The way back, without the GIL on a tokio thread.** A finished call does not attach to the
//! interpreter on the tokio worker (attaching a thread state there, taking the GIL from the
//! loop's thread and waking the loop with `call_soon_threadsafe` cost ~100 µs of CPU per call
//! over loopback): it puts its completion in its loop's [`Queue`] and, if the loop is not
//! already due to look, writes one byte to a socket the loop watches (`loop.add_reader`). The
//! loop, which holds the GIL anyway, reads the socket empty and completes every queued future in
//! one go ([`Inbox::drain`]), so a burst of calls finishing together costs one wake-up. A loop
//! that cannot watch a socket (Windows' proactor, a loop without `add_reader`) gets the
//! `call_soon_threadsafe` hand-over.
//!
//! No wake-up is lost: a completion is queued before the byte is written, and the loop clears
//! [`Queue::armed`] before it takes the queue, so whatever the loop does not take was queued
//! after the flag was cleared, and its pusher (or an earlier one) writes a byte.
//!
//! (A stall of 11–17 s of the 300-concurrent Nomad test, which got this hand-over reverted once,
//! was not here: it was the fake cluster's clock, whose spinning waits re-ran a parked blocking
//! query's whole answer under the lock the request everyone waited for needed; see
//! `clustermanager-fake`'s `clock::Waiter::poll`.)

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Wake;

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

/// Where a call's Rust future is: polled on the calling thread, parked until it is woken, or
/// spawned on the runtime (see [`Handoff`]).
enum Place {
    /// Being polled on the calling thread; `woken`: it was woken meanwhile.
    Polling { woken: bool },
    /// Polled once and pending: spawned by whatever wakes it (its I/O, a timer, another task).
    Parked(Pin<Box<dyn Future<Output = ()> + Send>>),
    /// On the runtime.
    Spawned(AbortHandle),
    /// Cancelled from Python: dropped, or aborted.
    Cancelled,
}

/// The waker of a call first polled on the calling thread, and its place afterwards.
///
/// A call that is pending after its first poll (it wrote its request and waits for the
/// answer) is not spawned at once: spawning from the loop's thread wakes a tokio worker only to
/// poll the future once more and find it still waiting. It is parked here, and the first wake-up
/// (the answer's readiness, from the runtime's I/O driver on a worker) spawns it right there;
/// one thread hand-over per call instead of two.
pub(crate) struct Handoff {
    place: Mutex<Place>,
}

impl Handoff {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Handoff { place: Mutex::new(Place::Polling { woken: false }) })
    }

    /// While polling on the calling thread: whether it was woken since the last look.
    pub(crate) fn take_woken(&self) -> bool {
        match &mut *self.place.lock().unwrap_or_else(PoisonError::into_inner) {
            Place::Polling { woken } => std::mem::take(woken),
            _ => false,
        }
    }

    /// After the poll on the calling thread: spawn `task` now if it was woken meanwhile, else
    /// park it until it is.
    fn park(&self, task: Pin<Box<dyn Future<Output = ()> + Send>>) {
        let mut place = self.place.lock().unwrap_or_else(PoisonError::into_inner);
        match &*place {
            Place::Polling { woken: true } => {
                *place = Place::Spawned(pyo3_async_runtimes::tokio::get_runtime().spawn(task).abort_handle());
            }
            Place::Polling { woken: false } => *place = Place::Parked(task),
            // cancelled before it was parked: dropped (after the lock)
            _ => {
                drop(place);
                drop_in_runtime(task);
            }
        }
    }

    /// Spawn `task` at once.
    fn spawned(task: Pin<Box<dyn Future<Output = ()> + Send>>) -> Arc<Self> {
        let handle = pyo3_async_runtimes::tokio::get_runtime().spawn(task).abort_handle();
        Arc::new(Handoff { place: Mutex::new(Place::Spawned(handle)) })
    }

    /// Drop a parked future, abort a spawned one.
    fn cancel(&self) {
        let old = std::mem::replace(&mut *self.place.lock().unwrap_or_else(PoisonError::into_inner), Place::Cancelled);
        match old {
            Place::Spawned(task) => task.abort(),
            Place::Parked(task) => drop_in_runtime(task),
            Place::Polling { .. } | Place::Cancelled => {}
        }
    }
}

/// Drop a future that was polled in the runtime's context, in it again (what it holds may need
/// the runtime to close: a connection's registration, a pool's clean-up).
pub(crate) fn drop_in_runtime<T>(value: T) {
    let _context = pyo3_async_runtimes::tokio::get_runtime().enter();
    drop(value);
}

impl Wake for Handoff {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut place = self.place.lock().unwrap_or_else(PoisonError::into_inner);
        match &mut *place {
            Place::Polling { woken } => *woken = true,
            Place::Parked(_) => {
                if let Place::Parked(task) = std::mem::replace(&mut *place, Place::Cancelled) {
                    // on a worker (the I/O driver's readiness): the task runs there next
                    *place = Place::Spawned(pyo3_async_runtimes::tokio::get_runtime().spawn(task).abort_handle());
                }
            }
            // spawned: the task's own waker has taken over; cancelled: nothing to do
            Place::Spawned(_) | Place::Cancelled => {}
        }
    }
}

/// What cancels a call's Rust side (run with the GIL, on the loop's thread).
pub(crate) type CancelAction = Box<dyn FnOnce(Python<'_>) + Send>;

/// The asyncio future's done callback: when the future was cancelled, cancel the call's Rust
/// side (drop its future, or abort its tokio task, which drops it and closes the connections it
/// held). Removed from the future when the call finishes.
#[pyclass]
pub(crate) struct OnCancel {
    action: Mutex<Option<CancelAction>>,
}

impl OnCancel {
    pub(crate) fn new() -> Self {
        OnCancel { action: Mutex::new(None) }
    }

    /// What cancelling does, once the call's Rust side exists.
    pub(crate) fn set(&self, action: CancelAction) {
        *self.action.lock().unwrap_or_else(PoisonError::into_inner) = Some(action);
    }
}

#[pymethods]
impl OnCancel {
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        if future.call_method0(pyo3::intern!(future.py(), "cancelled"))?.is_truthy()? {
            if let Some(action) = self.action.lock().unwrap_or_else(PoisonError::into_inner).take() {
                action(future.py());
            }
        }
        Ok(())
    }
}

/// A finished call, to complete on its loop's thread (with the GIL).
pub(crate) type Completion = Box<dyn FnOnce(Python<'_>) + Send>;

/// The finished calls of one event loop, and the socket that wakes it for them.
pub(crate) struct Queue {
    done: Mutex<Vec<Completion>>,
    /// A byte was written that the loop has not read yet: later completions need not write.
    armed: AtomicBool,
    /// A datagram socket, not a stream: sending to a loop that is gone fails with an error, no
    /// `SIGPIPE` (which an embedding program may not ignore).
    #[cfg(unix)]
    wake: std::os::unix::net::UnixDatagram,
}

impl Queue {
    /// Queue a completion and make sure the loop will look. Never blocks: the socket is
    /// non-blocking, and a full one already has a drain coming; any other failure means the
    /// loop's side is gone (its loop closed), and nobody waits for the completion any more.
    pub(crate) fn push(&self, completion: Completion) {
        self.done.lock().unwrap_or_else(PoisonError::into_inner).push(completion);
        if !self.armed.swap(true, Ordering::AcqRel) {
            #[cfg(unix)]
            while let Err(err) = self.wake.send(&[1]) {
                if err.kind() != std::io::ErrorKind::Interrupted {
                    break;
                }
            }
        }
    }
}

/// The loop's side of a [`Queue`]: `drain` is registered with `loop.add_reader`.
#[pyclass]
struct Inbox {
    queue: Arc<Queue>,
    #[cfg(unix)]
    reader: std::os::unix::net::UnixDatagram,
}

#[pymethods]
impl Inbox {
    /// Empty the socket, then complete every finished call (in the order they finished).
    fn drain(&self, py: Python<'_>) {
        #[cfg(unix)]
        {
            // One datagram a wake-up (`armed`): one read, no second one to find it empty. Were
            // there more, the socket stays readable and the loop calls again.
            let mut buf = [0u8; 8];
            let _ = self.reader.recv(&mut buf);
        }
        // cleared before taking: a completion queued after the take finds it clear and writes
        self.queue.armed.store(false, Ordering::Release);
        let done = std::mem::take(&mut *self.queue.done.lock().unwrap_or_else(PoisonError::into_inner));
        for completion in done {
            completion(py);
        }
    }
}

/// How a finished call gets back to its loop.
#[derive(Clone)]
enum Back {
    /// Through the loop's inbox.
    Inbox(Arc<Queue>),
    /// `call_soon_threadsafe`, with the GIL taken on the tokio thread.
    Threadsafe,
}

thread_local! {
    /// The loops this thread ran calls from: a weak reference to each, and how calls get back
    /// to it. Most threads run one loop, so the lookup is one weak-reference call; entries of
    /// loops that are gone are dropped when a loop is added.
    static BACKS: RefCell<Vec<(Py<PyAny>, Back)>> = const { RefCell::new(Vec::new()) };
}

/// How calls from `event_loop` (running on this thread) get back to it; on the loop's first
/// call, its inbox is made and registered with `add_reader`.
fn back_of(event_loop: &Bound<'_, PyAny>) -> Back {
    let py = event_loop.py();
    let known = BACKS.with_borrow(|backs| {
        backs.iter().find(|(weak, _)| weak.bind(py).call0().is_ok_and(|l| l.is(event_loop))).map(|(_, b)| b.clone())
    });
    if let Some(back) = known {
        return back;
    }
    let back = new_inbox(event_loop).map_or(Back::Threadsafe, Back::Inbox);
    if let Ok(weak) = py.import("weakref").and_then(|m| m.call_method1("ref", (event_loop,))) {
        // the drop of the entries of dead loops happens outside the borrow (it runs no Python
        // code that could come back here, but a Py's drop is better not done under a borrow)
        let dead = BACKS.with_borrow_mut(|backs| {
            let (live, dead): (Vec<_>, Vec<_>) = std::mem::take(backs)
                .into_iter()
                .partition(|(weak, _)| weak.bind(py).call0().is_ok_and(|l| !l.is_none()));
            *backs = live;
            backs.push((weak.unbind(), back.clone()));
            dead
        });
        drop(dead);
    }
    back
}

/// The inbox of `event_loop` (running on this thread): what wakes it from other threads, made
/// on first use; `None` for a loop that cannot watch a socket.
pub(crate) fn inbox_of(event_loop: &Bound<'_, PyAny>) -> Option<Arc<Queue>> {
    match back_of(event_loop) {
        Back::Inbox(queue) => Some(queue),
        Back::Threadsafe => None,
    }
}

/// A new inbox registered with `event_loop`; `None` when it cannot watch a socket.
#[cfg(unix)]
fn new_inbox(event_loop: &Bound<'_, PyAny>) -> Option<Arc<Queue>> {
    let py = event_loop.py();
    let (reader, wake) = std::os::unix::net::UnixDatagram::pair().ok()?;
    reader.set_nonblocking(true).ok()?;
    wake.set_nonblocking(true).ok()?;
    let fd = std::os::fd::AsRawFd::as_raw_fd(&reader);
    let queue = Arc::new(Queue { done: Mutex::new(Vec::new()), armed: AtomicBool::new(false), wake });
    let inbox = Bound::new(py, Inbox { queue: queue.clone(), reader }).ok()?;
    let drain = inbox.getattr(pyo3::intern!(py, "drain")).ok()?;
    // NotImplementedError on a proactor loop: the caller falls back to call_soon_threadsafe
    event_loop.call_method1(pyo3::intern!(py, "add_reader"), (fd, drain)).ok()?;
    Some(queue)
}

#[cfg(not(unix))]
fn new_inbox(_event_loop: &Bound<'_, PyAny>) -> Option<Arc<Queue>> {
    None
}

/// Run `fut` on the tokio runtime; the returned asyncio future (of the running loop) gets what
/// `finish` makes of its output, with the GIL, on the loop's thread when the loop has an inbox
/// (see the module docs). Cancelling the asyncio future aborts the task, which drops `fut`.
pub(crate) fn to_asyncio<'py, F, O, G>(py: Python<'py>, fut: F, finish: G) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = O> + Send + 'static,
    O: Send + 'static,
    G: FnOnce(Python<'_>, O) -> PyResult<Py<PyAny>> + Send + 'static,
{
    hand_over(py, fut, finish, None)
}

/// [`to_asyncio`] for a future already polled on this thread with `handoff`'s waker: it is
/// parked until woken, not spawned at once (see [`Handoff`]).
pub(crate) fn to_asyncio_polled<'py, F, O, G>(
    py: Python<'py>,
    fut: F,
    finish: G,
    handoff: Arc<Handoff>,
) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = O> + Send + 'static,
    O: Send + 'static,
    G: FnOnce(Python<'_>, O) -> PyResult<Py<PyAny>> + Send + 'static,
{
    hand_over(py, fut, finish, Some(handoff))
}

fn hand_over<'py, F, O, G>(
    py: Python<'py>,
    fut: F,
    finish: G,
    polled: Option<Arc<Handoff>>,
) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = O> + Send + 'static,
    O: Send + 'static,
    G: FnOnce(Python<'_>, O) -> PyResult<Py<PyAny>> + Send + 'static,
{
    let event_loop = pyo3_async_runtimes::get_running_loop(py)?;
    let (future, canceller) = new_future(&event_loop)?;
    let future_ref = future.clone().unbind();
    let task: Pin<Box<dyn Future<Output = ()> + Send>> = match back_of(&event_loop) {
        Back::Inbox(queue) => {
            let canceller_ref = canceller.clone().unbind();
            Box::pin(async move {
                let out = fut.await;
                queue.push(completion(future_ref, canceller_ref, finish, out));
            })
        }
        Back::Threadsafe => {
            let loop_ref = event_loop.unbind();
            Box::pin(async move {
                let out = fut.await;
                // `try_attach`: while the interpreter shuts down there is no one left to tell
                Python::try_attach(move |py| {
                    let (ok, value) = outcome_of(py, finish, out);
                    let complete = wrap_pyfunction!(complete, py)?;
                    // a closed loop: nobody waits for this any more
                    let _ = loop_ref.bind(py).call_method1(
                        pyo3::intern!(py, "call_soon_threadsafe"),
                        (complete, future_ref.bind(py), ok, value),
                    );
                    Ok::<(), PyErr>(())
                });
            })
        }
    };
    let handoff = match polled {
        Some(handoff) => {
            handoff.park(task);
            handoff
        }
        None => Handoff::spawned(task),
    };
    canceller.borrow().set(Box::new(move |_| handoff.cancel()));
    Ok(future)
}

/// A new asyncio future of `event_loop`, with an [`OnCancel`] done callback (its action is set
/// once the call's Rust side exists).
pub(crate) fn new_future<'py>(event_loop: &Bound<'py, PyAny>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, OnCancel>)> {
    let py = event_loop.py();
    let future = event_loop.call_method0(pyo3::intern!(py, "create_future"))?;
    let cancel = Bound::new(py, OnCancel::new())?;
    future.call_method1(pyo3::intern!(py, "add_done_callback"), (cancel.clone(),))?;
    Ok((future, cancel))
}

/// The completion (run on the loop's thread) that gives `future` what `finish` makes of `out`
/// (unless it was cancelled meanwhile), its `cancel` callback removed first.
pub(crate) fn completion<O, G>(future: Py<PyAny>, cancel: Py<OnCancel>, finish: G, out: O) -> Completion
where
    O: Send + 'static,
    G: FnOnce(Python<'_>, O) -> PyResult<Py<PyAny>> + Send + 'static,
{
    Box::new(move |py| {
        let (ok, value) = outcome_of(py, finish, out);
        let future = future.bind(py);
        // Finished: nothing left to cancel. Removed before completing, so asyncio does not
        // schedule a call of it (a handle and a turn of the loop per call).
        let removed = future.call_method1(pyo3::intern!(py, "remove_done_callback"), (cancel,));
        if let Err(err) = removed.and_then(|_| complete(future, ok, value)) {
            err.write_unraisable(py, None);
        }
    })
}

/// What `finish` makes of `out`: `(true, value)` or `(false, exception)`.
fn outcome_of<'py, O, G>(py: Python<'py>, finish: G, out: O) -> (bool, Bound<'py, PyAny>)
where
    G: FnOnce(Python<'_>, O) -> PyResult<Py<PyAny>>,
{
    match finish(py, out) {
        Ok(value) => (true, value.into_bound(py)),
        Err(err) => (false, err.into_value(py).into_bound(py).into_any()),
    }
}
