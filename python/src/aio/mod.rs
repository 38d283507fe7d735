//! Connections the asyncio event loop drives itself, for the managers the package connects.
//!
//! Over tokio alone, a call that waits for a server crosses threads twice: the loop's thread
//! hands the request to a tokio worker (waking it), and the worker hands the answer back (waking
//! the loop). On a small machine those two wake-ups cost more than everything else Python adds.
//! Here the loop's thread writes the request itself and the loop watches the socket
//! (`add_reader`), so the answer wakes the loop directly, as it wakes a tokio worker for a Rust
//! caller: the call crosses no thread. What stays tokio's: timers, DNS lookups and credential
//! I/O (their rare wake-ups come back through the loop's inbox), the decoding of an answer of
//! 256 KiB or more (the call moves to a worker rather than stall the loop:
//! [`exec::move_off_loop`]), and every call not polled by the loop the manager was connected on.
//!
//! - [`exec`]: the loop's executor and reactor (tasks, socket watches, the turn).
//! - [`socket`]: TCP sockets the loop drives, and how they are opened.
//! - [`client`]: the transport's client, choosing the loop's connections or tokio's per call.

pub(crate) mod client;
pub(crate) mod exec;
pub(crate) mod socket;

use std::cell::RefCell;

use pyo3::prelude::*;

pub(crate) use client::{transport, Sides};
pub(crate) use exec::Exec;

thread_local! {
    /// The executors of the loops run on this thread.
    static EXECS: RefCell<Vec<Exec>> = const { RefCell::new(Vec::new()) };
}

/// `home` when its loop is the one running on this thread: a call from there runs on it.
/// Otherwise `None`, and a home whose loop is closed is shut down first (its connections close
/// rather than linger unread).
pub(crate) fn running_home<'a>(py: Python<'_>, home: Option<&'a Exec>) -> Option<&'a Exec> {
    let exec = home?;
    if pyo3_async_runtimes::get_running_loop(py).is_ok_and(|l| exec.serves(&l)) {
        return Some(exec);
    }
    exec.shut_down_if_closed(py);
    None
}

/// The executor of the loop running on this thread, made on first use; `None` when no loop runs
/// or it cannot watch sockets (Windows' proactor loop): its managers use tokio's sockets.
pub(crate) fn home(py: Python<'_>) -> Option<Exec> {
    let event_loop = pyo3_async_runtimes::get_running_loop(py).ok()?;
    if let Some(exec) = EXECS.with_borrow(|execs| execs.iter().find(|e| e.serves(&event_loop)).cloned()) {
        return Some(exec);
    }
    let exec = Exec::new(&event_loop, crate::bridge::inbox_of(&event_loop)?).ok()?;
    // executors of loops that are gone are dropped here (outside the borrow)
    let dead = EXECS.with_borrow_mut(|execs| {
        let (dead, live): (Vec<_>, Vec<_>) = std::mem::take(execs).into_iter().partition(|e| e.is_dead(py));
        *execs = live;
        execs.push(exec.clone());
        dead
    });
    for exec in dead {
        exec.shut_down();
    }
    Some(exec)
}
