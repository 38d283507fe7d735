//! Idle keep-alive connections kept for reuse within the connection budget, whatever the runtime
//! and however a connection is driven: a transport that pools its own connections (the async-std
//! one, which spawns no task) opens them and says how to tell whether one is still usable
//! ([`Reusable`]); the bookkeeping is here.
//!
//! Every connection holds a unit of the connection budget ([`Config::max_connections`] units)
//! for as long as it is open, in use or idle ([`Pooled`]), so never more than `max_connections`
//! are open at once. A new connection without a free unit first closes the oldest idle
//! connection (an idle one of another server, or one that became idle since the pool was looked
//! at); only when none is idle does it wait for a unit ([`Pool::unit`]). At most [`MAX_IDLE`]
//! connections are kept idle, each for at most [`IDLE_TIMEOUT`].
//!
//! [`Config::max_connections`]: clustermanager_core::Config::max_connections

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::budget::{Budget, Permit};

/// How long an idle connection is kept.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// How many idle connections are kept.
pub const MAX_IDLE: usize = 16;

/// What the pool asks of a connection.
pub trait Reusable: Send {
    /// Whether it can take another request, found out without waiting (a connection the server
    /// closed while it was idle is noticed here): checked before an idle connection is reused.
    fn still_open(&mut self) -> impl Future<Output = bool> + Send;

    /// Whether it has ended or can send nothing more (then it is not kept).
    fn is_closed(&self) -> bool;
}

/// A connection to one server (its pool key) holding its unit of the connection budget, given
/// back when it is dropped (closed). Derefs to the connection.
pub struct Pooled<C> {
    conn: C,
    /// Whether it served a request before (a request that fails on it unsent may be retried on
    /// a fresh connection).
    pub reused: bool,
    key: String,
    _unit: Permit,
}

impl<C> Pooled<C> {
    /// A new connection to the server `key` names, holding `unit`.
    pub fn new(conn: C, key: String, unit: Permit) -> Self {
        Pooled { conn, reused: false, key, _unit: unit }
    }
}

impl<C> Deref for Pooled<C> {
    type Target = C;

    fn deref(&self) -> &C {
        &self.conn
    }
}

impl<C> DerefMut for Pooled<C> {
    fn deref_mut(&mut self) -> &mut C {
        &mut self.conn
    }
}

/// The connection budget and the idle connections (oldest first).
pub struct Pool<C> {
    connections: Budget,
    idle: Mutex<Vec<(Instant, Pooled<C>)>>,
}

impl<C: Reusable> Pool<C> {
    /// A pool within `connections` (one unit per open connection, idle ones included).
    pub fn new(connections: Budget) -> Self {
        Pool { connections, idle: Mutex::new(Vec::new()) }
    }

    /// The connection budget.
    pub fn connections(&self) -> &Budget {
        &self.connections
    }

    /// A unit of the connection budget for a new connection: a free one, else the unit of the
    /// oldest idle connection (closed for it), else the next one given back.
    pub async fn unit(&self) -> Permit {
        loop {
            if let Some(unit) = self.connections.try_acquire() {
                return unit;
            }
            let oldest = {
                let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
                (!idle.is_empty()).then(|| idle.remove(0))
            };
            match oldest {
                // closing it gives its unit back; take it on the next turn
                Some(closed) => drop(closed),
                None => return self.connections.acquire().await,
            }
        }
    }

    /// An idle connection to the server `key` names that is still open (marked reused), if
    /// there is one. Those found closed are dropped.
    pub async fn take(&self, key: &str) -> Option<Pooled<C>> {
        loop {
            let mut conn = {
                let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
                idle.retain(|(since, _)| since.elapsed() < IDLE_TIMEOUT);
                let found = idle.iter().rposition(|(_, c)| c.key == key);
                found.map(|i| idle.swap_remove(i).1)?
            };
            if conn.conn.still_open().await {
                conn.reused = true;
                return Some(conn);
            }
        }
    }

    /// Keep a connection whose last exchange finished cleanly (checked again before reuse); one
    /// that is closed is dropped, and the oldest idle one makes way when [`MAX_IDLE`] are kept.
    pub fn put(&self, conn: Pooled<C>) {
        if conn.conn.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.retain(|(since, _)| since.elapsed() < IDLE_TIMEOUT);
        if idle.len() >= MAX_IDLE {
            idle.remove(0);
        }
        idle.push((Instant::now(), conn));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    /// A connection that notes when it is closed (dropped).
    struct Fake {
        open: bool,
        closed: Arc<AtomicBool>,
    }

    impl Drop for Fake {
        fn drop(&mut self) {
            self.closed.store(true, Ordering::SeqCst);
        }
    }

    impl Reusable for Fake {
        async fn still_open(&mut self) -> bool {
            self.open
        }

        fn is_closed(&self) -> bool {
            !self.open
        }
    }

    fn connect(pool: &Pool<Fake>, key: &str, open: bool) -> (Pooled<Fake>, Arc<AtomicBool>) {
        let closed = Arc::new(AtomicBool::new(false));
        let unit = futures_lite::future::block_on(pool.unit());
        (Pooled::new(Fake { open, closed: Arc::clone(&closed) }, key.to_owned(), unit), closed)
    }

    #[test]
    fn a_connection_beyond_the_budget_closes_the_oldest_idle_one() {
        let pool = Pool::new(Budget::new(1));
        let (to_a, a_closed) = connect(&pool, "http://a", true);
        pool.put(to_a);
        assert_eq!(pool.connections().in_use(), 1, "an idle connection holds its unit");
        // another server: the idle connection to `a` makes way
        let (to_b, b_closed) = connect(&pool, "http://b", true);
        assert_eq!((pool.connections().in_use(), pool.connections().peak()), (1, 1));
        assert!(a_closed.load(Ordering::SeqCst), "the idle connection was closed");
        drop(to_b);
        assert_eq!(pool.connections().in_use(), 0);
        assert!(b_closed.load(Ordering::SeqCst));
    }

    #[test]
    fn only_open_connections_to_the_same_server_are_reused() {
        let pool = Pool::new(Budget::new(4));
        let (to_a, _) = connect(&pool, "http://a", true);
        assert!(!to_a.reused);
        pool.put(to_a);
        // a closed connection is not kept
        let (closed, _) = connect(&pool, "http://a", false);
        pool.put(closed);
        futures_lite::future::block_on(async {
            assert!(pool.take("http://b").await.is_none());
            let again = pool.take("http://a").await;
            assert!(again.as_ref().is_some_and(|c| c.reused));
            assert!(pool.take("http://a").await.is_none(), "only one was kept");
            // closed while idle: dropped when looked at
            let (to_c, c_closed) = connect(&pool, "http://c", true);
            pool.put(to_c);
            if let Some((_, idle)) = pool.idle.lock().unwrap_or_else(|p| p.into_inner()).last_mut() {
                idle.open = false;
            }
            assert!(pool.take("http://c").await.is_none());
            assert!(c_closed.load(Ordering::SeqCst));
        });
    }
}
