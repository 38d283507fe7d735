//! The runtime-free driving of a shared observation: the waiters of one namespace share one
//! [`Feed`] and take turns driving it, over any [`Transport`].
//!
//! There is no background task. Each waiter waits for either its own outcome or the
//! observation's drive lock ([`async_lock::Mutex`], fair, runtime-free); whoever holds the lock
//! carries out the feed's steps, applies what they report to the [`Board`] and wakes the waiters
//! it decided, until its own wait is decided; then the next waiter in line takes over. The step
//! in flight and the open stream live in the observation, not in the driving waiter, so a waiter
//! dropped at any await leaves nothing broken: the next one re-sends the request it was sending
//! or goes on reading the stream. Every step is bounded by the earliest deadline among the
//! waiters (the read's end, the request's [`Io`] deadline, the
//! back-off), and that waiter is then woken with its timeout by whoever drives. When the last
//! waiter is gone the observation is dropped, its stream (and connection) with it.

use std::any::Any;
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Poll, Waker};
use std::time::Duration;

use super::board::{Board, Join, Outcome, Read, WaiterId, Want};
use super::feed::{Feed, FeedStep};
use super::observed::Observation;
use crate::deadline::{later, Deadline};
use crate::driver::{carry, Carried, Driver, IoStep};
use crate::error::{Error, Result};
use crate::model::Job;
use crate::step::BoxOperation;
use crate::transport::{BodyStream, Transport};

type Entry = Weak<dyn Any + Send + Sync>;

/// The shared observations of one manager, by namespace. Cheap to clone (clones share them).
#[derive(Clone, Default)]
pub struct Rooms {
    map: Arc<Mutex<HashMap<String, Entry>>>,
}

impl std::fmt::Debug for Rooms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rooms").field("live", &self.live()).finish()
    }
}

impl Rooms {
    /// How many shared observations are running (each holds at most one stream or request).
    pub fn live(&self) -> usize {
        self.map.lock().unwrap_or_else(PoisonError::into_inner).values().filter(|w| w.strong_count() > 0).count()
    }

    /// The observation `key`, started with `feed` if none is running (or the last one failed).
    pub(crate) fn room<B: BodyStream + 'static, O: Observation>(
        &self,
        key: &str,
        feed: impl FnOnce() -> Box<dyn Feed<Observed = O>>,
    ) -> Arc<Room<B, O>> {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(room) = map.get(key).and_then(Weak::upgrade).and_then(|r| r.downcast::<Room<B, O>>().ok()) {
            if !room.shared().dead {
                return room;
            }
        }
        if map.len() >= 16 {
            map.retain(|_, w| w.strong_count() > 0);
        }
        let room = Arc::new(Room {
            shared: Mutex::new(Shared { board: Board::new(), wakers: HashMap::new(), dead: false }),
            drive: async_lock::Mutex::new(Drive { feed: feed(), pending: None, stream: None }),
        });
        let entry: Arc<dyn Any + Send + Sync> = room.clone();
        map.insert(key.to_owned(), Arc::downgrade(&entry));
        room
    }
}

struct Shared<O: Observation> {
    board: Board<O>,
    wakers: HashMap<WaiterId, Waker>,
    /// The feed failed: no one drives it any more; new waiters start another observation.
    dead: bool,
}

impl<O: Observation> Shared<O> {
    fn wakers_of(&mut self, ids: Vec<WaiterId>) -> Vec<Waker> {
        ids.into_iter().filter_map(|id| self.wakers.remove(&id)).collect()
    }
}

struct Drive<B, O> {
    feed: Box<dyn Feed<Observed = O>>,
    /// The step being carried out: kept until its outcome is handed to the feed.
    pending: Option<IoStep>,
    stream: Option<B>,
}

/// One shared observation of `O`: its board and its feed.
pub(crate) struct Room<B, O: Observation> {
    shared: Mutex<Shared<O>>,
    drive: async_lock::Mutex<Drive<B, O>>,
}

/// How a shared wait ended, other than with an error.
#[derive(Debug)]
pub(crate) enum Ended {
    /// The job finished.
    Finished(Job),
    /// An execution waiter's look found an execution in a wanted status.
    Found(crate::model::Execution),
    /// The job does not exist, or was deleted while waiting (`existed`).
    Gone { existed: bool },
    /// The deadline passed; the last state seen.
    TimedOut(Option<Job>),
}

struct Leave<'r, B, O: Observation> {
    room: &'r Room<B, O>,
    id: WaiterId,
}

impl<B, O: Observation> Drop for Leave<'_, B, O> {
    fn drop(&mut self) {
        let mut s = self.room.shared();
        s.board.leave(self.id);
        s.wakers.remove(&self.id);
    }
}

/// Which of two futures finished first, with its output.
pub(crate) enum First<A, B> {
    /// The first one.
    A(A),
    /// The second one.
    B(B),
}

/// Whichever of `a` and `b` is ready first (`a` when both are).
pub(crate) async fn first<A: Future, B: Future>(a: A, b: B) -> First<A::Output, B::Output> {
    let (mut a, mut b) = (pin!(a), pin!(b));
    poll_fn(|cx| {
        if let Poll::Ready(x) = a.as_mut().poll(cx) {
            return Poll::Ready(First::A(x));
        }
        if let Poll::Ready(y) = b.as_mut().poll(cx) {
            return Poll::Ready(First::B(y));
        }
        Poll::Pending
    })
    .await
}

/// A waiter's own read, tried again after a back-off ([`WAITER_READ`](crate::retry::WAITER_READ),
/// clamped to the deadline) while it fails in a way worth it ([`transient`](crate::retry::transient)).
/// `Ok(None)` once the deadline has passed.
async fn read_resuming<T: Transport, I>(
    transport: &T,
    read: &impl Fn(Deadline) -> BoxOperation<Read<I>, Infallible>,
    deadline: Deadline,
) -> Result<Option<Read<I>>> {
    let mut failures = 0u32;
    loop {
        let err = match Driver::new(transport, read(deadline)).finish().await {
            Ok(seen) => return Ok(Some(seen)),
            Err(err) => err,
        };
        let now = transport.now();
        if deadline.passed(now) {
            return Ok(None);
        }
        if !crate::retry::transient(&err) {
            return Err(err);
        }
        failures = failures.saturating_add(1);
        let delay = crate::retry::WAITER_READ.nth(failures);
        tracing::debug!(error = %err, failures, ?delay, "a waiter's read failed; reading again after a back-off");
        let until = deadline.clamp_until(later(now, delay));
        transport.sleep(until.saturating_duration_since(now)).await;
    }
}

impl<B, O: Observation> Room<B, O> {
    fn shared(&self) -> MutexGuard<'_, Shared<O>> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Let `decide` change the board, then wake the waiters it decided (after unlocking).
    fn settle(&self, decide: impl FnOnce(&mut Shared<O>) -> Vec<WaiterId>) {
        let wakers = {
            let mut s = self.shared();
            let woken = decide(&mut s);
            s.wakers_of(woken)
        };
        for w in wakers {
            w.wake();
        }
    }
}

impl<B: BodyStream + 'static, O: Observation> Room<B, O> {
    /// Wait for what `want` says of job `name` until `timeout` passes. `read` reads the job
    /// once (bounded by the deadline it is given): for a waiter that joins a running
    /// observation, and when the feed saw the job finish without the full answer (for
    /// [`Want::Executions`]: whenever the feed's counts say there may be one).
    pub(crate) async fn wait<T>(
        &self,
        transport: &T,
        name: &str,
        want: Want,
        timeout: Option<Duration>,
        read: impl Fn(Deadline) -> BoxOperation<Read<O::Item>, Infallible>,
    ) -> Result<Ended>
    where
        T: Transport<Body = B>,
    {
        let mut deadline = Deadline::new(timeout);
        deadline.start(transport.now());
        let (id, join) = self.shared().board.join_wanting(name, deadline, want);
        let _leave = Leave { room: self, id };
        // The waiter's own read of its job, taken by the board; `false` once the deadline passed.
        let read_into_board = || async {
            let Some(seen) = read_resuming(transport, &read, deadline).await? else { return Ok(false) };
            self.shared().board.read(id, seen);
            Ok::<_, Error>(true)
        };
        let timed_out = || Ok(Ended::TimedOut(self.shared().board.last_seen(id).cloned()));
        // an execution waiter always looks first: its job's executions may all be there already
        let look_first = join == Join::Read || matches!(self.shared().board.want_of(id), Some(Want::Executions(_)));
        if look_first && !read_into_board().await? {
            return timed_out();
        }
        loop {
            let outcome = self.shared().board.take(id);
            match outcome {
                Some(Outcome::Finished(job)) => return Ok(Ended::Finished(job)),
                Some(Outcome::Found(execution)) => return Ok(Ended::Found(execution)),
                Some(Outcome::Gone { existed }) => return Ok(Ended::Gone { existed }),
                Some(Outcome::Failed(err)) => return Err(err),
                Some(Outcome::TimedOut) => return timed_out(),
                Some(Outcome::Check) => {
                    if !read_into_board().await? {
                        return timed_out();
                    }
                    continue;
                }
                None => {}
            }
            if deadline.passed(transport.now()) {
                return timed_out();
            }
            let notified = poll_fn(|cx| {
                let mut s = self.shared();
                if s.board.decided(id) || s.dead {
                    s.wakers.remove(&id);
                    Poll::Ready(())
                } else {
                    s.wakers.insert(id, cx.waker().clone());
                    Poll::Pending
                }
            });
            match first(notified, self.drive.lock()).await {
                First::A(()) => continue,
                First::B(mut drive) => self.lead(transport, &mut drive, id).await,
            }
        }
    }

    /// Drive the feed until waiter `id` is decided (or the feed failed).
    async fn lead<T>(&self, transport: &T, drive: &mut Drive<B, O>, id: WaiterId)
    where
        T: Transport<Body = B>,
    {
        loop {
            let now = transport.now();
            self.settle(|s| s.board.expire(now));
            let (horizon, done) = {
                let s = self.shared();
                (s.board.horizon(), s.dead || s.board.decided(id))
            };
            if done {
                return;
            }
            let Some(pending) = drive.pending.as_ref().map(IoStep::copy) else {
                let next = match drive.feed.poll(now, horizon) {
                    FeedStep::List(req, io) => {
                        self.shared().board.list_sent();
                        IoStep::Send(req, io)
                    }
                    FeedStep::Open(req, io) => IoStep::Open(req, io),
                    FeedStep::ListStream(req, io) => {
                        self.shared().board.list_sent();
                        IoStep::Open(req, io)
                    }
                    FeedStep::Read { until } => IoStep::Read(until),
                    FeedStep::WaitUntil(at) => IoStep::WaitUntil(at),
                    FeedStep::Change(change) => {
                        self.settle(|s| s.board.apply(change));
                        continue;
                    }
                    FeedStep::Failed(err) => {
                        tracing::debug!(error = %err, "shared observation failed; its waiters get the error");
                        self.settle(|s| {
                            s.dead = true;
                            s.board.fail(&err)
                        });
                        return;
                    }
                };
                drive.pending = Some(next);
                continue;
            };
            // Each step is bounded by the earliest waiter's deadline; a step it cuts short is
            // kept, to be carried out again by whoever drives next.
            let event = match carry(transport, pending, &mut drive.stream, horizon).await {
                Carried::Cut => continue,
                Carried::Slept => {
                    drive.pending = None;
                    continue;
                }
                Carried::Event(event) => event,
            };
            drive.pending = None;
            drive.feed.handle(event);
        }
    }
}
