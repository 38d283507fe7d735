//! The event loop's own executor and reactor: Rust futures polled on the asyncio loop's thread,
//! woken by the loop's socket readiness (`loop.add_reader` / `add_writer`).
//!
//! A call of a manager connected from a running loop is a [`Task`] of that loop's [`Exec`]: it is
//! polled at once, then whenever it is woken. A socket it waits on is watched by the loop itself
//! ([`Readiness`]), so the answer wakes the loop's thread directly: no tokio worker is woken to
//! send the request, and none to hand the answer back (see `aio/mod.rs` for what that saves).
//!
//! Everything here happens on the loop's thread except a wake-up. A task woken on the loop's
//! thread while the executor runs ([`Exec::turn`]) is polled before the turn ends; one woken
//! elsewhere (a tokio timer, a DNS lookup on the blocking pool) is queued and the loop is told
//! through its inbox (`bridge::Queue`), which runs a turn.
//!
//! A turn: apply the socket watches asked for (with the GIL), complete the finished calls' asyncio
//! futures (with the GIL), poll the ready tasks (without the GIL, in the tokio runtime's context:
//! timers and DNS are tokio's), again until nothing is left, at most [`POLLS_PER_TURN`] polls
//! (the rest in a later turn, so the loop's other callbacks run).
//!
//! A socket is watched from the first read (or write) that would block until the loop finds it
//! ready with no task waiting on it (the loop's watch is level-triggered: it would call again
//! and again), so a connection that is always read (hyper's, between answers too) is watched
//! once, not once per answer. A woken task tries its read or write again, and waits again only
//! if it would block. A watched socket is forgotten by the loop (`remove_reader`) before it is
//! closed, so a new socket given the same number never meets a stale registration.

use std::cell::Cell;
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Wake, Waker};

use pyo3::prelude::*;

use crate::bridge::{completion, drop_in_runtime, new_future, Completion, Queue};

/// The most tasks polled in one turn of the executor before the loop gets its thread back.
pub(crate) const POLLS_PER_TURN: usize = 1024;

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A socket as the loop's `add_reader` takes it: a file descriptor (a `SOCKET` on Windows, whose
/// selector loop watches sockets too; its default proactor loop watches none and gets no
/// executor).
#[cfg(unix)]
pub(crate) type RawFd = std::os::fd::RawFd;
/// A socket as the loop's `add_reader` takes it (see the Unix definition).
#[cfg(windows)]
pub(crate) type RawFd = std::os::windows::io::RawSocket;

thread_local! {
    /// The executor whose turn this thread is running (null: none).
    static RUNNING: Cell<*const Shared> = const { Cell::new(std::ptr::null()) };
    /// While a task is polled: whether it asked to move to a tokio worker ([`move_off_loop`]);
    /// `None` outside a task's poll.
    static MOVE_OFF: Cell<Option<bool>> = const { Cell::new(None) };
}

/// Move the rest of the task being polled to a tokio worker, for work too long to do on the
/// loop's thread (decoding a large answer): the loop would be blocked meanwhile. Its result
/// comes back through the loop's inbox, as a call from another loop's does; its later requests
/// take tokio's connections. `false` (and nothing moves) outside a task of a loop's executor.
pub(crate) async fn move_off_loop() -> bool {
    let mut asked = false;
    std::future::poll_fn(move |cx| {
        if asked {
            return Poll::Ready(true);
        }
        if MOVE_OFF.get().is_none() {
            return Poll::Ready(false);
        }
        MOVE_OFF.set(Some(true));
        asked = true;
        // polled next on the worker it moves to; the wake is for safety's sake (a no-op then)
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One event loop's executor (see the module docs). Cheap to clone.
#[derive(Clone)]
pub(crate) struct Exec(Arc<Shared>);

struct Shared {
    /// A weak reference to the loop (`weakref.ref`): the executor does not keep it alive.
    event_loop: Py<PyAny>,
    /// Wakes the loop from another thread.
    inbox: Arc<Queue>,
    state: Mutex<State>,
    /// A turn was asked for through the inbox and has not started.
    due: AtomicBool,
    /// Every task not finished yet (and some that are: pruned as it grows), to end when the
    /// loop is gone.
    tasks: Mutex<Vec<Weak<Task>>>,
}

#[derive(Default)]
struct State {
    ready: VecDeque<Arc<Task>>,
    io: Vec<IoOp>,
    done: Vec<Completion>,
    /// The loop is gone or closed ([`Exec::shut_down`]): nothing will run here any more. Under
    /// the same lock as the queues, so nothing is queued after the shut-down emptied them.
    dead: bool,
}

/// A change to what the loop watches.
enum IoOp {
    /// Watch a socket one way (until the loop finds it ready with no task waiting).
    Watch { readiness: Arc<Readiness>, way: Way },
    /// Stop watching a socket the ways it is watched, then close it.
    Forget { fd: RawFd, ways: Vec<Way>, socket: Box<dyn Send> },
}

impl Exec {
    /// The executor of `event_loop` (running on this thread), whose inbox is `inbox`. When the
    /// loop is garbage-collected, the executor shuts down ([`Exec::shut_down`]).
    pub(crate) fn new(event_loop: &Bound<'_, PyAny>, inbox: Arc<Queue>) -> PyResult<Self> {
        let py = event_loop.py();
        let shared = Arc::new_cyclic(|me: &Weak<Shared>| {
            let gone = Bound::new(py, Gone { exec: me.clone() });
            let weak = gone.and_then(|gone| py.import("weakref")?.call_method1("ref", (event_loop, gone)));
            Shared {
                event_loop: weak.map_or_else(|_| py.None(), Bound::unbind),
                inbox,
                state: Mutex::new(State::default()),
                due: AtomicBool::new(false),
                tasks: Mutex::new(Vec::new()),
            }
        });
        if shared.event_loop.is_none(py) {
            return Err(pyo3::exceptions::PyRuntimeError::new_err("cannot take a weak reference to the event loop"));
        }
        Ok(Exec(shared))
    }

    /// The loop is gone: end every task (dropping its future closes its connections, giving
    /// back their units of the connection budget) and close the sockets waiting to be
    /// forgotten. Whatever is pushed later is discarded ([`Exec::push`]).
    pub(crate) fn shut_down(&self) {
        {
            let mut state = lock(&self.0.state);
            if std::mem::replace(&mut state.dead, true) {
                return;
            }
        }
        let _context = pyo3_async_runtimes::tokio::get_runtime().enter();
        let tasks = std::mem::take(&mut *lock(&self.0.tasks));
        for task in tasks.iter().filter_map(Weak::upgrade) {
            let future = lock(&task.future).take();
            // a future's drop that panics ends only itself
            let _ = catch_unwind(AssertUnwindSafe(move || drop(future)));
        }
        let state = std::mem::replace(&mut *lock(&self.0.state), State { dead: true, ..State::default() });
        discard(state);
    }

    /// Shut down if the loop is closed (or gone): a closed loop never runs again, so its
    /// connections would stay open, unread, holding their units of the budget.
    pub(crate) fn shut_down_if_closed(&self, py: Python<'_>) {
        if self.is_dead(py) {
            self.shut_down();
        }
    }

    /// The loop, while it exists.
    fn event_loop<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        self.0.event_loop.bind(py).call0().ok().filter(|l| !l.is_none())
    }

    /// Whether this is `event_loop`'s executor.
    pub(crate) fn serves(&self, event_loop: &Bound<'_, PyAny>) -> bool {
        self.event_loop(event_loop.py()).is_some_and(|l| l.is(event_loop))
    }

    /// Whether the loop is gone or closed.
    pub(crate) fn is_dead(&self, py: Python<'_>) -> bool {
        self.event_loop(py)
            .is_none_or(|l| l.call_method0(pyo3::intern!(py, "is_closed")).and_then(|c| c.is_truthy()).unwrap_or(false))
    }

    /// Whether the current thread is running this executor's turn (a task of it is being
    /// polled, or is being woken from its loop's thread).
    pub(crate) fn is_running_here(&self) -> bool {
        RUNNING.get() == Arc::as_ptr(&self.0)
    }

    /// Run `f`, then the turn it may have made work for, as this executor (on its loop's thread).
    pub(crate) fn turn(&self, py: Python<'_>, f: impl FnOnce(Python<'_>)) {
        /// Puts back the executor this thread was running, however the turn ends.
        struct Restore(*const Shared);
        impl Drop for Restore {
            fn drop(&mut self) {
                RUNNING.set(self.0);
            }
        }
        let _restore = Restore(RUNNING.replace(Arc::as_ptr(&self.0)));
        self.0.due.store(false, Ordering::Release);
        f(py);
        self.drain(py);
    }

    fn drain(&self, py: Python<'_>) {
        let mut polls = 0;
        loop {
            let (io, done, batch) = {
                let mut state = lock(&self.0.state);
                let take = state.ready.len().min(POLLS_PER_TURN - polls);
                let batch: Vec<Arc<Task>> = state.ready.drain(..take).collect();
                (std::mem::take(&mut state.io), std::mem::take(&mut state.done), batch)
            };
            if io.is_empty() && done.is_empty() && batch.is_empty() {
                return;
            }
            self.apply(py, io);
            for completion in done {
                // nothing here panics (conversions return errors); were one to, only its call
                // would be lost, not the rest of the turn
                if catch_unwind(AssertUnwindSafe(|| completion(py))).is_err() {
                    pyo3::exceptions::PyRuntimeError::new_err("a bug in clustermanager: a call's completion panicked")
                        .write_unraisable(py, None);
                }
            }
            if !batch.is_empty() {
                polls += batch.len();
                py.detach(|| {
                    let _context = pyo3_async_runtimes::tokio::get_runtime().enter();
                    for task in batch {
                        task.run();
                    }
                });
            }
            if polls >= POLLS_PER_TURN {
                // the loop's other callbacks run first; the rest in a later turn
                self.ask_for_turn();
                return;
            }
        }
    }

    /// Apply socket watches (with the GIL, on the loop's thread).
    fn apply(&self, py: Python<'_>, io: Vec<IoOp>) {
        if io.is_empty() {
            return;
        }
        let event_loop = self.event_loop(py);
        for op in io {
            match op {
                IoOp::Watch { readiness, way } => {
                    let watched = match &event_loop {
                        Some(l) => {
                            let callback = Ready { readiness: Arc::clone(&readiness), way };
                            Bound::new(py, callback).and_then(|cb| l.call_method1(way.add(py), (readiness.fd, cb)))
                        }
                        None => Err(pyo3::exceptions::PyRuntimeError::new_err("the event loop is gone")),
                    };
                    if let Err(err) = watched {
                        readiness.fail(way, format!("the event loop cannot watch the connection: {err}"));
                    }
                }
                IoOp::Forget { fd, ways, socket } => {
                    if let Some(l) = &event_loop {
                        // a closed loop refuses; it watches nothing any more anyway
                        for way in ways {
                            let _ = l.call_method1(way.remove(py), (fd,));
                        }
                    }
                    drop(socket);
                }
            }
        }
    }

    /// Make sure a turn runs soon: now if this thread is running one, else through the inbox.
    fn nudge(&self) {
        if !self.is_running_here() {
            self.ask_for_turn();
        }
    }

    fn ask_for_turn(&self) {
        if !self.0.due.swap(true, Ordering::AcqRel) {
            // weak: the inbox belongs to the executor, and may never be read (a loop that died)
            let exec = Arc::downgrade(&self.0);
            self.0.inbox.push(Box::new(move |py| {
                let Some(shared) = exec.upgrade() else { return };
                // The turn runs after the socket callbacks the loop found with the inbox's byte
                // (`call_soon`: at the end of the loop's queue), so a timer that fired while the
                // loop was busy does not end a request whose answer has come meanwhile.
                let soon = Exec(Arc::clone(&shared))
                    .event_loop(py)
                    .zip(Bound::new(py, TurnSoon { exec }).ok())
                    .map(|(l, turn)| l.call_method1(pyo3::intern!(py, "call_soon"), (turn,)));
                if !matches!(soon, Some(Ok(_))) {
                    Exec(shared).turn(py, |_| {});
                }
            }));
        }
    }

    fn push(&self, f: impl FnOnce(&mut State)) {
        let mut state = lock(&self.0.state);
        if state.dead {
            drop(state);
            let mut scratch = State::default();
            f(&mut scratch);
            discard(scratch);
            return;
        }
        f(&mut state);
        drop(state);
        self.nudge();
    }

    /// Run `future` as a task of this executor (hyper's connection tasks come here).
    pub(crate) fn spawn(&self, future: BoxFuture) -> Arc<Task> {
        let task = Arc::new(Task {
            future: Mutex::new(Some(future)),
            queued: AtomicBool::new(true),
            exec: Arc::downgrade(&self.0),
            moved: Mutex::new(None),
        });
        {
            let mut tasks = lock(&self.0.tasks);
            // pruned when it doubles: amortised O(1) per task
            if tasks.len() >= 64 && tasks.len().is_power_of_two() {
                tasks.retain(|t| t.strong_count() > 0);
            }
            tasks.push(Arc::downgrade(&task));
        }
        self.push(|state| state.ready.push_back(Arc::clone(&task)));
        task
    }

    /// Complete an asyncio future (with the GIL) in this turn, or the next.
    fn complete(&self, completion: Completion) {
        self.push(|state| state.done.push(completion));
    }

    /// Run `fut` as a task of this executor, for an asyncio future of its loop (which must be
    /// running on this thread) that gets what `finish` makes of its output. It is polled at once:
    /// a call answered at once returns a done future. Cancelling the asyncio future drops `fut`
    /// (closing the connections it held).
    pub(crate) fn call<'py, F, O, G>(&self, py: Python<'py>, fut: F, finish: G) -> PyResult<Bound<'py, PyAny>>
    where
        F: Future<Output = O> + Send + 'static,
        O: Send + 'static,
        G: FnOnce(Python<'_>, O) -> PyResult<Py<PyAny>> + Send + 'static,
    {
        let event_loop = self.event_loop(py).ok_or_else(|| {
            pyo3::exceptions::PyRuntimeError::new_err("the event loop this manager was connected on is gone")
        })?;
        let (future, cancel) = new_future(&event_loop)?;
        let (future_ref, cancel_ref) = (future.clone().unbind(), cancel.clone().unbind());
        let exec = self.clone();
        let body: BoxFuture = Box::pin(async move {
            let out = fut.await;
            exec.complete(completion(future_ref, cancel_ref, finish, out));
        });
        let mut task = None;
        self.turn(py, |_| task = Some(self.spawn(body)));
        if let Some(task) = task.as_ref().map(Arc::downgrade) {
            // a finished task is gone: nothing to cancel
            cancel.borrow().set(Box::new(move |py| {
                if let Some(task) = task.upgrade() {
                    task.cancel(py);
                }
            }));
        }
        Ok(future)
    }
}

/// What was pushed to an executor whose loop is gone: a socket to forget is closed (the loop
/// watches nothing any more), a wait for a socket fails, the rest is dropped.
fn discard(state: State) {
    for op in state.io {
        match op {
            IoOp::Watch { readiness, way } => readiness.fail(way, "the event loop is closed".to_owned()),
            IoOp::Forget { socket, .. } => drop(socket),
        }
    }
    drop((state.ready, state.done));
}

/// A turn the inbox asked for, run by the loop after what it already had queued.
#[pyclass]
struct TurnSoon {
    exec: Weak<Shared>,
}

#[pymethods]
impl TurnSoon {
    fn __call__(&self, py: Python<'_>) {
        if let Some(shared) = self.exec.upgrade() {
            Exec(shared).turn(py, |_| {});
        }
    }
}

/// The loop's weak reference callback: the loop was garbage-collected, the executor shuts down.
#[pyclass]
struct Gone {
    exec: Weak<Shared>,
}

#[pymethods]
impl Gone {
    fn __call__(&self, _reference: &Bound<'_, PyAny>) {
        if let Some(shared) = self.exec.upgrade() {
            Exec(shared).shut_down();
        }
    }
}

impl<F: Future<Output = ()> + Send + 'static> hyper::rt::Executor<F> for Exec {
    fn execute(&self, fut: F) {
        self.spawn(Box::pin(fut));
    }
}

/// A future run by an [`Exec`].
pub(crate) struct Task {
    /// `None` once it finished (or was cancelled).
    future: Mutex<Option<BoxFuture>>,
    /// In its executor's ready queue.
    queued: AtomicBool,
    exec: Weak<Shared>,
    /// Moved to a tokio worker ([`move_off_loop`]): its task there.
    moved: Mutex<Option<tokio::task::AbortHandle>>,
}

impl Task {
    /// Poll it once (on the loop's thread, in a turn, in the runtime's context). A panic ends
    /// it; one that asked to move ([`move_off_loop`]) goes on on a tokio worker.
    fn run(self: &Arc<Self>) {
        self.queued.store(false, Ordering::Release);
        let mut slot = lock(&self.future);
        let Some(future) = slot.as_mut() else { return };
        let waker = Waker::from(Arc::clone(self));
        let mut cx = Context::from_waker(&waker);
        MOVE_OFF.set(Some(false));
        let polled = catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut cx)));
        let move_off = MOVE_OFF.replace(None) == Some(true);
        match polled {
            Ok(Poll::Pending) if move_off => {
                if let Some(future) = slot.take() {
                    *lock(&self.moved) = Some(tokio::spawn(future).abort_handle());
                }
            }
            Ok(Poll::Pending) => {}
            _ => {
                let finished = slot.take();
                drop(slot);
                // a future's drop that panics ends only itself, not the turn
                let _ = catch_unwind(AssertUnwindSafe(move || drop(finished)));
            }
        }
    }

    /// Drop its future now (it is not being polled: this runs on the loop's thread, outside a
    /// turn), and apply what dropping it asked of the loop.
    fn cancel(&self, py: Python<'_>) {
        if let Some(moved) = lock(&self.moved).take() {
            moved.abort();
        }
        let future = lock(&self.future).take();
        if let Some(shared) = self.exec.upgrade() {
            Exec(shared).turn(py, |_| drop_in_runtime(future));
        }
    }
}

impl Wake for Task {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(shared) = self.exec.upgrade() {
            Exec(shared).push(|state| state.ready.push_back(Arc::clone(self)));
        }
    }
}

/// Which way a socket is watched.
#[derive(Clone, Copy)]
pub(crate) enum Way {
    Read = 0,
    Write = 1,
}

impl Way {
    const BOTH: [Way; 2] = [Way::Read, Way::Write];

    /// The loop's method that starts watching this way.
    fn add(self, py: Python<'_>) -> &Bound<'_, pyo3::types::PyString> {
        match self {
            Way::Read => pyo3::intern!(py, "add_reader"),
            Way::Write => pyo3::intern!(py, "add_writer"),
        }
    }

    /// The loop's method that stops watching this way.
    fn remove(self, py: Python<'_>) -> &Bound<'_, pyo3::types::PyString> {
        match self {
            Way::Read => pyo3::intern!(py, "remove_reader"),
            Way::Write => pyo3::intern!(py, "remove_writer"),
        }
    }
}

/// A socket as the loop watches it: for each way, the task waiting and whether the loop watches.
pub(crate) struct Readiness {
    exec: Exec,
    fd: RawFd,
    ways: Mutex<[WayState; 2]>,
}

#[derive(Default)]
struct WayState {
    waker: Option<Waker>,
    /// A watch was asked for and has not fired.
    watched: bool,
    /// The watch fired since the last look.
    fired: bool,
    /// The loop could not watch: every wait fails with this.
    failed: Option<String>,
}

impl Readiness {
    /// The socket `fd`, watched through `exec`'s loop.
    pub(crate) fn new(exec: Exec, fd: RawFd) -> Arc<Self> {
        Arc::new(Readiness { exec, fd, ways: Mutex::new(Default::default()) })
    }

    /// After a read (or write) would block: ready once the loop saw the socket readable (or
    /// writable) since the last call, else the task waits for it (the socket is watched).
    pub(crate) fn poll_ready(self: &Arc<Self>, cx: &mut Context<'_>, way: Way) -> Poll<io::Result<()>> {
        let mut ways = lock(&self.ways);
        let state = &mut ways[way as usize];
        if let Some(failed) = &state.failed {
            return Poll::Ready(Err(io::Error::other(failed.clone())));
        }
        if std::mem::take(&mut state.fired) {
            return Poll::Ready(Ok(()));
        }
        if !state.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            state.waker = Some(cx.waker().clone());
        }
        if !std::mem::replace(&mut state.watched, true) {
            drop(ways);
            let watch = IoOp::Watch { readiness: Arc::clone(self), way };
            self.exec.push(|s| s.io.push(watch));
        }
        Poll::Pending
    }

    /// The loop saw the socket ready: wake the waiting task, and keep watching for it (the task
    /// waits again as soon as it has read what came); with no task waiting, stop watching (the
    /// loop's watch is level-triggered: it would call again and again). Returns whether the
    /// loop should stop watching.
    fn fire(&self, way: Way) -> bool {
        let (waker, stop) = {
            let mut ways = lock(&self.ways);
            let state = &mut ways[way as usize];
            state.fired = true;
            let waker = state.waker.take();
            let stop = waker.is_none();
            if stop {
                state.watched = false;
            }
            (waker, stop)
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        stop
    }

    /// The loop cannot watch the socket: every wait on it fails with `why`.
    fn fail(&self, way: Way, why: String) {
        let waker = {
            let mut ways = lock(&self.ways);
            let state = &mut ways[way as usize];
            state.watched = false;
            state.failed = Some(why);
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// The socket is being closed: the loop stops watching it first, then it is dropped.
    pub(crate) fn close(&self, socket: Box<dyn Send>) {
        let watched: Vec<Way> = {
            let mut ways = lock(&self.ways);
            let watched = Way::BOTH.into_iter().filter(|&w| ways[w as usize].watched).collect();
            *ways = Default::default();
            watched
        };
        if !watched.is_empty() {
            self.exec.push(|s| s.io.push(IoOp::Forget { fd: self.fd, ways: watched, socket }));
        }
    }
}

/// The loop's callback for a watched socket: it wakes the task waiting, in a turn of the
/// executor, and stops watching when no task waits.
#[pyclass]
struct Ready {
    readiness: Arc<Readiness>,
    way: Way,
}

#[pymethods]
impl Ready {
    fn __call__(&self, py: Python<'_>) {
        let exec = self.readiness.exec.clone();
        exec.turn(py, |py| {
            if self.readiness.fire(self.way) {
                if let Some(l) = exec.event_loop(py) {
                    let _ = l.call_method1(self.way.remove(py), (self.readiness.fd,));
                }
            }
        });
    }
}
