//! The connection budget both transports enforce: at most [`Config::max_connections`] requests
//! and open streams at once, so at most that many connections to the server. A request beyond
//! it waits (within its own time limit) for a permit instead of opening another connection; a
//! stream holds its permit until it is dropped. Runtime-independent (async-lock's semaphore).
//!
//! [`Config::max_connections`]: clustermanager_core::Config::max_connections

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_lock::{Semaphore, SemaphoreGuardArc};

/// A transport's connection budget; clones share it.
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
    /// A budget of `max` (at least 1) requests and streams at once.
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        Budget { permits: Arc::new(Semaphore::new(max)), max, counts: Arc::default() }
    }

    /// The budget's size.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Wait for a free unit (requests queue in arrival order).
    pub async fn acquire(&self) -> Permit {
        let guard = self.permits.acquire_arc().await;
        let in_use = self.counts.in_use.fetch_add(1, Ordering::Relaxed) + 1;
        self.counts.peak.fetch_max(in_use, Ordering::Relaxed);
        Permit { _guard: guard, counts: Arc::clone(&self.counts) }
    }

    /// Requests and streams in flight now.
    pub fn in_use(&self) -> usize {
        self.counts.in_use.load(Ordering::Relaxed)
    }

    /// The most requests and streams that were ever in flight at once.
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
        assert!(budget.permits.try_acquire().is_none(), "a third waits");
        drop(a);
        assert_eq!(budget.in_use(), 1);
        assert!(budget.permits.try_acquire().is_some());
        drop(b);
        assert_eq!((budget.in_use(), budget.peak()), (0, 2));
    }
}
