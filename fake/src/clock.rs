//! The fake's virtual clock, shared fairly between concurrent waits.
//!
//! Time moves only when every client-side wait in progress (a sleep, a parked blocking query,
//! a stream read) has looked at the present and no request is on its way to the server; it then
//! jumps to the earliest thing anyone waits for: the end of a sleep, of a blocking wait or read
//! limit, or the server's next scheduled change. So a one-second sleep racing a five-minute
//! blocking query ends after one virtual second, as it would on a real clock, while a single
//! wait still runs to its end at once.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use super::{later, Shared};

/// One client-side wait in progress.
#[derive(Debug)]
pub(crate) struct Wait {
    /// When it ends by itself (`None`: only when the server's state changes).
    at: Option<Duration>,
    /// The clock epoch it last looked at the present in.
    seen: u64,
}

/// What [`Shared::hop`] did.
enum Hop {
    Moved,
    /// Someone has not looked at the present yet, or a request is on its way.
    Wait,
    /// Everyone waits and nothing will ever happen.
    Never,
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// Move time to the next thing anyone waits for, once everyone waiting has seen the present.
    fn hop(&mut self) -> Hop {
        if self.runnable > 0 || self.waits.values().any(|w| w.seen != self.epoch) {
            return Hop::Wait;
        }
        // a change already due (scheduled by the last answer, at this very instant) happens now
        if self.server.next_due().is_some_and(|t| t <= self.now) {
            let now = self.now;
            self.advance_to(now);
            self.epoch += 1;
            return Hop::Moved;
        }
        let next = [self.server.next_due(), self.waits.values().filter_map(|w| w.at).min()].into_iter().flatten().min();
        match next {
            Some(t) if t > self.now => {
                self.advance_to(t);
                self.epoch += 1;
                Hop::Moved
            }
            Some(_) => Hop::Wait,
            None => Hop::Never,
        }
    }
}

/// A client-side wait registered with the clock while it is pending; deregistered when it ends
/// or is dropped.
pub(crate) struct Waiter {
    shared: Arc<Mutex<Shared>>,
    id: Option<u64>,
    /// What the last look saw (`Err(at)`), and the state it looked at: `Shared::changes`, the
    /// epoch and `never`.
    last: Option<(u64, u64, bool, Option<Duration>)>,
}

impl Waiter {
    pub(crate) fn new(shared: Arc<Mutex<Shared>>) -> Self {
        Waiter { shared, id: None, last: None }
    }

    /// Poll a wait: `check` answers `Ok` when it is over, or `Err(at)` with when it ends by
    /// itself; its `bool` says nothing will ever happen (answer `Ok` then).
    ///
    /// `check` runs again only when something may have changed since it last answered `Err`:
    /// time moved (the epoch), or the state was taken for anything but a look
    /// ([`Shared::changes`]: a request arrived, a wait ended, a test changed the cluster).
    ///
    /// Why: a wait that cannot let time move spins (see below), and each spin takes the lock
    /// every request needs to reach the server. Re-running `check` on each spin made a parked
    /// blocking query build its whole answer again (the job list of 300 Nomad jobs: ~2 ms,
    /// ten times that in a debug build) to find it still blocked, so the spinning waiter held
    /// the lock nearly all the time; the tokio worker carrying the requests the clock waited for
    /// sat in `lock_contended` and lost the lock again each time it was released (the spinner is
    /// re-polled at once), while its queued tasks could not be stolen (the spinner's worker never
    /// runs dry). Seen from Python: 300 concurrent create+wait on the fake Nomad stalled for
    /// seconds (release) to 11–17 s (debug) with ~40 requests in flight, one wait registered and
    /// the loop idle. A look that saw nothing new now costs a compare.
    pub(crate) fn poll<T>(
        &mut self,
        cx: &mut Context<'_>,
        mut check: impl FnMut(&mut Shared, bool) -> Result<T, Option<Duration>>,
    ) -> Poll<T> {
        let mut s = lock(&self.shared);
        let mut never = false;
        loop {
            let seen = match self.last {
                Some((changes, epoch, n, at)) if changes == s.changes && epoch == s.epoch && n == never => Err(at),
                _ => check(&mut s, never),
            };
            match seen {
                Ok(out) => {
                    if let Some(id) = self.id.take() {
                        s.waits.remove(&id);
                    }
                    // what it took (a stream's piece, a fault that fired) may change others' looks
                    s.changes = s.changes.wrapping_add(1);
                    return Poll::Ready(out);
                }
                Err(at) => {
                    self.last = Some((s.changes, s.epoch, never, at));
                    let id = match self.id {
                        Some(id) => id,
                        None => {
                            s.wait_seq += 1;
                            s.wait_seq
                        }
                    };
                    self.id = Some(id);
                    let seen = s.epoch;
                    s.waits.insert(id, Wait { at, seen });
                }
            }
            match s.hop() {
                Hop::Moved => {}
                Hop::Never if !never => never = true,
                Hop::Never | Hop::Wait => {
                    // the others run, then this looks again (a spin in virtual time, never a
                    // real wait: every fake wait is re-polled until time reaches it). The lock is
                    // let go and the thread yields first: what the clock waits for (a request
                    // on another worker, a call polled on a Python loop's thread) gets the lock
                    // and a CPU before this spins again (300 Nomad waits from Python: 1.0-1.1 s
                    // debug instead of 1.3-3.5 s).
                    drop(s);
                    std::thread::yield_now();
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
            }
        }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            lock(&self.shared).waits.remove(&id);
        }
    }
}

/// [`Transport::sleep`](clustermanager_core::Transport::sleep) on the virtual clock.
pub(crate) struct Sleep {
    waiter: Waiter,
    until: Duration,
}

impl Sleep {
    pub(crate) fn new(shared: Arc<Mutex<Shared>>, duration: Duration) -> Self {
        let until = later(lock(&shared).now, duration);
        Sleep { waiter: Waiter::new(shared), until }
    }
}

impl Future for Sleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let until = this.until;
        this.waiter.poll(cx, |s, _| if s.now >= until { Ok(()) } else { Err(Some(until)) })
    }
}

/// A request on its way to the server: time waits for it to arrive.
pub(crate) struct InFlight {
    shared: Option<Arc<Mutex<Shared>>>,
}

impl InFlight {
    pub(crate) fn new(shared: &Arc<Mutex<Shared>>) -> Self {
        lock(shared).runnable += 1;
        InFlight { shared: Some(shared.clone()) }
    }

    /// The request reached the server (whose state `s` is).
    pub(crate) fn arrived(mut self, s: &mut Shared) {
        self.shared = None;
        s.runnable = s.runnable.saturating_sub(1);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.take() {
            let mut s = lock(&shared);
            s.runnable = s.runnable.saturating_sub(1);
        }
    }
}

/// Lets the other tasks of the runtime run once before an answer, as real I/O would: without
/// it, concurrent waits on the fake would never overlap (every answer is ready at once).
pub(crate) struct YieldOnce(pub(crate) bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::task::{Context, Waker};
    use std::time::Duration;

    use super::{InFlight, Waiter};
    use crate::FakeCluster;

    /// A wait spinning while a request is on its way looks again only after a change: re-running
    /// its check on every spin (a parked blocking query builds its whole answer) held the clock's
    /// lock so much that the worker carrying that request could hardly take it (the Python
    /// package's 300 concurrent Nomad waits stalled for seconds).
    #[test]
    fn a_spinning_wait_looks_again_only_after_a_change() {
        let cluster = FakeCluster::nomad();
        let in_flight = InFlight::new(&cluster.shared);
        let mut waiter = Waiter::new(cluster.shared.clone());
        let looks = Cell::new(0);
        let poll = |waiter: &mut Waiter| {
            let mut cx = Context::from_waker(Waker::noop());
            waiter.poll(&mut cx, |_, _| -> Result<(), _> {
                looks.set(looks.get() + 1);
                Err(Some(Duration::from_secs(60)))
            })
        };
        for _ in 0..100 {
            assert!(poll(&mut waiter).is_pending(), "time waits for the request on its way");
        }
        assert_eq!(looks.get(), 1, "nothing changed: one look");
        // the request reaches the server, whose state may have changed: the wait looks again
        in_flight.arrived(&mut cluster.lock());
        let _ = poll(&mut waiter);
        assert!(looks.get() > 1, "the wait did not look at a change");
        // time moved to the wait's end (a new epoch): it looked, and is still pending by our check
        assert!(cluster.elapsed() >= Duration::from_secs(60));
        let seen = looks.get();
        let _ = poll(&mut waiter);
        let _ = poll(&mut waiter);
        // reading the time (every deadline check does) is no change
        let _ = cluster.elapsed();
        let _ = poll(&mut waiter);
        assert!(looks.get() <= seen + 1, "looked {} times without a change", looks.get() - seen);
        // a test changing the cluster from outside is a change
        cluster.advance(Duration::ZERO);
        let before = looks.get();
        let _ = poll(&mut waiter);
        assert!(looks.get() > before, "the wait did not look at an outside change");
    }
}
