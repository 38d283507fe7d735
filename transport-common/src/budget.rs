//! The budgets both transports enforce, each of [`Config::max_connections`] units: one of
//! requests and open streams (a request beyond it waits, within its own time limit, for a unit
//! instead of asking for another connection; a stream holds its unit until it is dropped), and
//! one of TCP connections (each connection holds a unit for as long as it is open, idle in the
//! pool or not), so that never more than `max_connections` connections to the server are open at
//! once. Runtime-independent (async-lock's semaphore).
//!
//! [`Config::max_connections`]: clustermanager_core::Config::max_connections

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_lock::{Semaphore, SemaphoreGuardArc};

/// A budget of units (requests and streams, or connections); clones share it.
#[derive(Debug, Clone)]
pub struct Budget {
    permits: Arc<Semaphore>,
    max: usize,
    counts: Arc<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    in_use: AtomicUsize,
    peak: AtomicUsize,
}

/// One unit of the budget, given back when dropped.
#[derive(Debug)]
pub struct Permit {
    _guard: SemaphoreGuardArc,
    counts: Arc<Counts>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.counts.in_use.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Budget {
    /// A budget of `max` (at least 1) units at once.
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        Budget { permits: Arc::new(Semaphore::new(max)), max, counts: Arc::default() }
    }

    /// The budget's size.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Wait for a free unit (waiters are served in arrival order).
    pub async fn acquire(&self) -> Permit {
        let guard = self.permits.acquire_arc().await;
        self.count(guard)
    }

    /// A free unit if there is one now, without waiting.
    pub fn try_acquire(&self) -> Option<Permit> {
        self.permits.try_acquire_arc().map(|guard| self.count(guard))
    }

    fn count(&self, guard: SemaphoreGuardArc) -> Permit {
        let in_use = self.counts.in_use.fetch_add(1, Ordering::Relaxed) + 1;
        self.counts.peak.fetch_max(in_use, Ordering::Relaxed);
        Permit { _guard: guard, counts: Arc::clone(&self.counts) }
    }

    /// Units in use now (requests and streams in flight, or connections open).
    pub fn in_use(&self) -> usize {
        self.counts.in_use.load(Ordering::Relaxed)
    }

    /// The most units that were ever in use at once.
    pub fn peak(&self) -> usize {
        self.counts.peak.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_are_bounded_and_given_back() {
        let budget = Budget::new(2);
        let (a, b) = futures_lite::future::block_on(async { (budget.acquire().await, budget.acquire().await) });
        assert_eq!(budget.in_use(), 2);
        assert!(budget.try_acquire().is_none(), "a third waits");
        drop(a);
        assert_eq!(budget.in_use(), 1);
        let c = budget.try_acquire();
        assert!(c.is_some());
        assert_eq!(budget.in_use(), 2);
        drop((b, c));
        assert_eq!((budget.in_use(), budget.peak()), (0, 2));
    }
}
