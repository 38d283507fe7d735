//! [`UntilGone`]: delete one object and, when asked to, watch it until its `DELETED` event (the
//! shape of `delete_namespace`, `delete_job` with a wait, and the generic
//! [`delete_and_wait`](super::api::delete_and_wait)).

use std::convert::Infallible;
use std::time::{Duration, Instant};

use super::object::{Thin, Versioned};
use super::watcher::{Update, WatchTarget, Watcher};
use super::{check, decode};
use crate::deadline::Deadline;
use crate::error::Error;
use crate::op::{Exchange, ExchangeStep};
use crate::retry::Retry;
use crate::step::{self, Event, Operation, Request, Step};

enum GoneState {
    Delete(Box<Exchange>),
    /// The delete answered 409 Conflict: read the object to see whether it is already being
    /// deleted (the error is returned if it is not).
    Inspect(Box<Exchange>, Option<Error>),
    Watch(Box<Watcher<Thin>>),
    Done,
}

/// Delete one object and, when asked to, wait (watching, from the resourceVersion of the
/// delete's answer) until its `DELETED` event. `Ok(false)` when it did not exist.
///
/// The answer to a delete is either the object (it still exists: finalizers, foreground
/// propagation, a namespace's content) or a `Status` (it is gone already).
///
/// An object that is already being deleted may answer a second delete with `409 Conflict`
/// (kube-apiserver 1.19 does so for a namespace in phase `Terminating`: "The system is ensuring
/// all content is removed from this namespace"). Then the object is read: if it carries a
/// `deletionTimestamp` the delete is under way and this waits for it like for its own delete
/// (`Ok(true)`); if it is gone by then, `Ok(true)` too; otherwise the conflict is returned.
pub struct UntilGone {
    state: GoneState,
    params: WatchTarget,
    retry: Retry,
    wait: bool,
    /// The caller's deadline when it waits: it bounds the delete, the read and the watch.
    deadline: Deadline,
}

impl std::fmt::Debug for UntilGone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UntilGone").field("what", &self.params.what).field("wait", &self.wait).finish()
    }
}

impl UntilGone {
    /// Send `delete`; when `wait`, then watch `params` (which must select only that object, e.g.
    /// `fieldSelector=metadata.name=x`) until it is gone or `timeout` passed.
    pub fn new(delete: Request, retry: &Retry, params: WatchTarget, wait: bool, timeout: Option<Duration>) -> Self {
        let deadline = Deadline::new(if wait { timeout } else { None });
        UntilGone {
            state: GoneState::Delete(Box::new(Exchange::send(delete, retry).within(deadline))),
            params,
            retry: retry.clone(),
            wait,
            deadline,
        }
    }
}

impl UntilGone {
    /// The object's own path (the delete request's path, without its query), to read it.
    fn inspect(&self, conflict: Error) -> std::result::Result<GoneState, Error> {
        let GoneState::Delete(ex) = &self.state else { return Err(conflict) };
        let path = ex.request().uri().path().to_owned();
        match step::request(http::Method::GET, &path, None) {
            Ok(get) => {
                Ok(GoneState::Inspect(Box::new(Exchange::send(get, &self.retry).within(self.deadline)), Some(conflict)))
            }
            Err(_) => Err(conflict),
        }
    }

    fn watch_from(&self, obj: &Thin) -> GoneState {
        let watcher = Watcher::within(self.params.clone(), &self.retry, self.deadline).resuming(obj.resource_version());
        GoneState::Watch(Box::new(watcher))
    }
}

impl Operation for UntilGone {
    type Output = bool;
    type Item = Infallible;

    fn poll(&mut self, now: Instant) -> Step<bool> {
        self.deadline.start(now);
        loop {
            match &mut self.state {
                GoneState::Done => return Step::Done(Err(Error::protocol("delete polled after it finished"))),
                GoneState::Inspect(ex, conflict) => match ex.poll(now) {
                    ExchangeStep::Send(req, io) => return Step::Send(req, io),
                    ExchangeStep::WaitUntil(at) => return Step::WaitUntil(at),
                    ExchangeStep::Done(result) => {
                        let conflict = conflict.take().unwrap_or_else(|| Error::protocol("delete conflict lost"));
                        let outcome =
                            result.and_then(check).and_then(|resp| decode::<Thin>(&self.params.what, resp.body()));
                        match outcome {
                            // deleted by whoever had started it, between our delete and our read
                            Err(Error::NotFound(_)) => {
                                self.state = GoneState::Done;
                                return Step::Done(Ok(true));
                            }
                            Ok(obj) if obj.metadata.deletion_timestamp.is_some() => {
                                tracing::debug!(what = %self.params.what, "already being deleted; waiting for it");
                                if !self.wait {
                                    self.state = GoneState::Done;
                                    return Step::Done(Ok(true));
                                }
                                self.state = self.watch_from(&obj);
                            }
                            // not being deleted (or unreadable): the conflict stands
                            Ok(_) | Err(_) => {
                                self.state = GoneState::Done;
                                return Step::Done(Err(conflict));
                            }
                        }
                    }
                },
                GoneState::Delete(ex) => match ex.poll(now) {
                    ExchangeStep::Send(req, io) => return Step::Send(req, io),
                    ExchangeStep::WaitUntil(at) => return Step::WaitUntil(at),
                    ExchangeStep::Done(result) => {
                        let outcome =
                            result.and_then(check).and_then(|resp| decode::<Thin>(&self.params.what, resp.body()));
                        match outcome {
                            Err(Error::NotFound(_)) => {
                                self.state = GoneState::Done;
                                return Step::Done(Ok(false));
                            }
                            Err(e @ Error::Conflict(_)) => match self.inspect(e) {
                                Ok(state) => self.state = state,
                                Err(e) => {
                                    self.state = GoneState::Done;
                                    return Step::Done(Err(e));
                                }
                            },
                            Err(e) => {
                                self.state = GoneState::Done;
                                return Step::Done(Err(e));
                            }
                            Ok(obj) if !self.wait || obj.kind == "Status" => {
                                self.state = GoneState::Done;
                                return Step::Done(Ok(true));
                            }
                            Ok(obj) => self.state = self.watch_from(&obj),
                        }
                    }
                },
                GoneState::Watch(w) => match w.poll(now).into_step() {
                    Ok(step) => {
                        if matches!(step, Step::Done(_)) {
                            self.state = GoneState::Done;
                        }
                        return step;
                    }
                    Err(Update::Deleted(_)) => {
                        self.state = GoneState::Done;
                        return Step::Done(Ok(true));
                    }
                    Err(Update::Listed(items)) if items.is_empty() => {
                        self.state = GoneState::Done;
                        return Step::Done(Ok(true));
                    }
                    Err(_) => {}
                },
            }
        }
    }

    fn handle(&mut self, event: Event) {
        match &mut self.state {
            GoneState::Delete(ex) | GoneState::Inspect(ex, _) => ex.handle(event),
            GoneState::Watch(w) => w.handle(event),
            GoneState::Done => {}
        }
    }
}
