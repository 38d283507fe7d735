//! The generic waits: [`wait_for`] a condition on any object, and [`delete_and_wait`] /
//! [`delete_then`] until an object is gone, each on a list + watch.

use super::crud::delete_request;
use super::params::DeleteParams;
use super::resource::Resource;
use crate::error::{ApiError, Error, Result};
use crate::k8s::gone::UntilGone;
use crate::k8s::watcher::{Update, Watcher};
use crate::k8s::{check, decode, Context};
use crate::op::Checked;
use crate::op::{Exchange, ExchangeStep};
use crate::step::{Event, Operation, Step};
use serde::Deserialize;
use std::convert::Infallible;
use std::time::{Duration, Instant};

/// What [`wait_for`] waits for on one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Await {
    /// The object is gone (a 404, or a `DELETED` event).
    Deleted,
    /// `status.conditions` holds this type with status `True` (`Established` for a CRD,
    /// `Available` for a Deployment, ...). A condition of type `NamesAccepted` with status
    /// `False` fails the wait (a CRD whose names clash with another).
    Condition(String),
}

/// Wait until one object is deleted or shows a condition: read it (GET), and unless it is
/// already there, watch it (`fieldSelector=metadata.name=...`) from the read's
/// `resourceVersion` with the [`Watcher`]: a watch the server ends, or
/// whose connection drops, is resumed from the last version seen (after a backoff when it
/// failed); a 410 lists the object again by name. An object deleted while waiting for a
/// condition is [`Error::NotFound`]. Fails with [`Error::Timeout`] after `timeout`.
///
/// ```
/// use std::time::Duration;
/// use clustermanager_core::k8s::{self, api::{self, Await, Resource}};
/// let op = api::wait_for(&k8s::Context::default(), &Resource::CRDS, None, "tfjobs.kubeflow.org",
///     Await::Condition("Established".into()), Duration::from_secs(60));
/// # let _ = op;
/// ```
pub fn wait_for(
    ctx: &Context,
    resource: &Resource,
    namespace: Option<&str>,
    name: &str,
    until: Await,
    timeout: Duration,
) -> WaitFor {
    WaitFor::new(ctx, resource, namespace, name, until, timeout)
}

/// Delete an object and wait until it is gone: `true` when it was deleted, `false` if it did
/// not exist. With `Foreground` propagation the object stays (with a `deletionTimestamp`) until
/// its dependents are deleted; the wait watches it until the `DELETED` event.
///
/// ```
/// use std::time::Duration;
/// use clustermanager_core::k8s::{self, api::{self, DeleteParams, Propagation, Resource}};
/// let op = api::delete_and_wait(&k8s::Context::default(), &Resource::JOBS, Some("ns"), "old",
///     &DeleteParams::propagation(Propagation::Foreground), Duration::from_secs(300));
/// # let _ = op;
/// ```
pub fn delete_and_wait(
    ctx: &Context,
    resource: &Resource,
    namespace: Option<&str>,
    name: &str,
    params: &DeleteParams,
    timeout: Duration,
) -> DeleteAndWait {
    delete_then(ctx, resource, namespace, name, params, true, timeout)
}

/// [`delete_and_wait`] when `wait`, else only the delete: `true` when it was deleted, `false`
/// if it did not exist.
///
/// ```
/// use std::time::Duration;
/// use clustermanager_core::k8s::{self, api::{self, DeleteParams, Resource}};
/// let op = api::delete_then(&k8s::Context::default(), &Resource::TFJOBS, Some("ns"), "mnist",
///     &DeleteParams::default(), false, Duration::from_secs(60));
/// # let _ = op;
/// ```
pub fn delete_then(
    ctx: &Context,
    resource: &Resource,
    namespace: Option<&str>,
    name: &str,
    params: &DeleteParams,
    wait: bool,
    timeout: Duration,
) -> DeleteAndWait {
    let op = resource.object_path(namespace, name).and_then(|p| delete_request(&p, params)).and_then(|req| {
        let watch =
            crate::k8s::watcher::WatchTarget::new(resource.list_path(namespace)?, format!("{name} to be deleted"))
                .fields(format!("metadata.name={name}"));
        Ok(UntilGone::new(req, &ctx.retry, watch, wait, Some(timeout)))
    });
    Checked::new(op)
}

/// The operation of [`delete_and_wait`].
pub type DeleteAndWait = Checked<UntilGone>;

#[derive(Debug, Deserialize)]
struct Conditioned {
    #[serde(default)]
    metadata: crate::k8s::object::ObjectMeta,
    #[serde(default)]
    status: Option<ConditionsOnly>,
}

impl crate::k8s::object::Versioned for Conditioned {
    fn resource_version(&self) -> &str {
        &self.metadata.resource_version
    }
}

#[derive(Debug, Deserialize, Default)]
struct ConditionsOnly {
    #[serde(default)]
    conditions: Option<Vec<crate::k8s::object::ObjectCondition>>,
}

/// Whether the object's `status.conditions` hold `wanted` with status `True`; a `NamesAccepted`
/// condition with status `False` (a CRD whose names clash with another) is [`Error::Conflict`].
fn condition_holds(name: &str, object: &Conditioned, wanted: &str) -> Result<bool> {
    let conditions = object.status.as_ref().and_then(|s| s.conditions.as_deref()).unwrap_or_default();
    if let Some(c) = conditions.iter().find(|c| c.kind == "NamesAccepted" && c.status == "False") {
        return Err(Error::Conflict(ApiError {
            status: 409,
            reason: c.reason.clone(),
            message: format!(
                "{name} was not accepted: {}",
                c.message.as_deref().unwrap_or("its names clash with another resource")
            ),
            ..ApiError::default()
        }));
    }
    Ok(conditions.iter().any(|c| c.kind == wanted && c.status == "True"))
}

/// Whether the object in `body` shows condition `wanted` (see [`Await::Condition`]): for an
/// operation that already has the object, e.g. from the answer to its create.
pub fn shows_condition(body: &[u8], wanted: &str) -> Result<bool> {
    let object: Conditioned = decode("object", body)?;
    condition_holds(&object.metadata.name, &object, wanted)
}

#[derive(Debug)]
enum WaitPhase {
    Start,
    Get(Box<Exchange>),
    Watch(Box<Watcher<Conditioned>>),
    Failed(Option<Error>),
    Done,
}

/// The operation of [`wait_for`] (and the waiting half of [`delete_and_wait`]): a read of the
/// object, then a [`Watcher`] on it (`fieldSelector=metadata.name=...`) from the read's
/// resourceVersion, which resumes ended or dropped watches from the last version seen, backs
/// off on failures and lists again on 410.
#[derive(Debug)]
pub struct WaitFor {
    retry: crate::retry::Retry,
    object_path: String,
    params: crate::k8s::watcher::WatchTarget,
    name: String,
    until: Await,
    deadline: crate::deadline::Deadline,
    resource_version: Option<String>,
    phase: WaitPhase,
}

impl WaitFor {
    fn new(
        ctx: &Context,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        until: Await,
        timeout: Duration,
    ) -> WaitFor {
        let paths = resource.object_path(namespace, name).and_then(|o| Ok((o, resource.list_path(namespace)?)));
        let (object_path, list_path, phase) = match paths {
            Ok((o, l)) => (o, l, WaitPhase::Start),
            Err(e) => (String::new(), String::new(), WaitPhase::Failed(Some(e))),
        };
        let what = match &until {
            Await::Deleted => format!("{name} to be deleted"),
            Await::Condition(c) => format!("{name} to be {c}"),
        };
        WaitFor {
            retry: ctx.retry.clone(),
            object_path,
            params: crate::k8s::watcher::WatchTarget::new(list_path, what).fields(format!("metadata.name={name}")),
            name: name.to_owned(),
            until,
            deadline: crate::deadline::Deadline::new(Some(timeout)),
            resource_version: None,
            phase,
        }
    }

    /// Whether `object` satisfies the wait.
    fn judge(&self, object: &Conditioned) -> Result<bool> {
        match &self.until {
            Await::Condition(wanted) => condition_holds(&self.name, object, wanted),
            Await::Deleted => Ok(false),
        }
    }

    fn timed_out(&self) -> Error {
        Error::Timeout {
            what: format!("{} (waited {:?})", self.params.what, self.deadline.timeout().unwrap_or_default()),
        }
    }

    fn deleted_meanwhile(&self) -> Error {
        Error::NotFound(ApiError {
            status: 404,
            reason: Some("NotFound".into()),
            message: format!("{} was deleted while waiting for it", self.name),
            ..ApiError::default()
        })
    }

    /// What an update of the watched object means: `Some` result to finish with.
    fn on_update(&self, update: Update<Conditioned>) -> Option<Result<bool>> {
        let object = match update {
            Update::Listed(items) => match items.into_iter().find(|o| o.metadata.name == self.name) {
                Some(o) => o,
                None if self.until == Await::Deleted => return Some(Ok(true)),
                None => return Some(Err(self.deleted_meanwhile())),
            },
            Update::Added(o) | Update::Modified(o) => o,
            Update::Deleted(_) if self.until == Await::Deleted => return Some(Ok(true)),
            Update::Deleted(_) => return Some(Err(self.deleted_meanwhile())),
        };
        match self.judge(&object) {
            Ok(false) => None,
            done => Some(done),
        }
    }

    fn watch(&self) -> WaitPhase {
        let rv = self.resource_version.as_deref().unwrap_or_default();
        WaitPhase::Watch(Box::new(Watcher::within(self.params.clone(), &self.retry, self.deadline).resuming(rv)))
    }
}

impl Operation for WaitFor {
    type Output = bool;
    type Item = Infallible;

    fn poll(&mut self, now: Instant) -> Step<bool> {
        // Saturating: a timeout past the clock's range (`Duration::MAX`) is as good as none.
        self.deadline.start(now);
        loop {
            match &mut self.phase {
                WaitPhase::Failed(e) => {
                    let e = e.take().unwrap_or_else(|| Error::protocol("wait polled after it finished"));
                    self.phase = WaitPhase::Done;
                    return Step::Done(Err(e));
                }
                WaitPhase::Done => return Step::Done(Err(Error::protocol("wait polled after it finished"))),
                WaitPhase::Start if self.resource_version.is_some() => self.phase = self.watch(),
                WaitPhase::Start => match crate::step::request(http::Method::GET, &self.object_path, None) {
                    Ok(r) => {
                        self.phase = WaitPhase::Get(Box::new(Exchange::send(r, &self.retry).within(self.deadline)))
                    }
                    Err(e) => self.phase = WaitPhase::Failed(Some(e)),
                },
                WaitPhase::Get(ex) => match ex.poll(now) {
                    ExchangeStep::Send(r, io) => return Step::Send(r, io),
                    ExchangeStep::WaitUntil(at) => return Step::WaitUntil(at),
                    ExchangeStep::Done(Err(e)) => self.phase = WaitPhase::Failed(Some(e)),
                    ExchangeStep::Done(Ok(resp)) => {
                        if resp.status() == http::StatusCode::NOT_FOUND && self.until == Await::Deleted {
                            self.phase = WaitPhase::Done;
                            return Step::Done(Ok(true));
                        }
                        let object = check(resp).and_then(|r| decode::<Conditioned>("watched object", r.body()));
                        match object.and_then(|o| Ok((self.judge(&o)?, o.metadata.resource_version))) {
                            Ok((true, _)) => {
                                self.phase = WaitPhase::Done;
                                return Step::Done(Ok(true));
                            }
                            Ok((false, rv)) => {
                                self.resource_version = Some(rv);
                                self.phase = self.watch();
                            }
                            Err(e) => self.phase = WaitPhase::Failed(Some(e)),
                        }
                    }
                },
                WaitPhase::Watch(w) => match w.poll(now).into_step() {
                    Ok(Step::Done(Err(Error::Timeout { .. }))) => {
                        self.phase = WaitPhase::Failed(Some(self.timed_out()))
                    }
                    Ok(step) => {
                        if matches!(step, Step::Done(_)) {
                            self.phase = WaitPhase::Done;
                        }
                        return step;
                    }
                    Err(update) => {
                        if let Some(result) = self.on_update(update) {
                            self.phase = WaitPhase::Done;
                            return Step::Done(result);
                        }
                    }
                },
            }
        }
    }

    fn handle(&mut self, event: Event) {
        match &mut self.phase {
            WaitPhase::Get(ex) => ex.handle(event),
            WaitPhase::Watch(w) => w.handle(event),
            WaitPhase::Start | WaitPhase::Failed(_) | WaitPhase::Done => {}
        }
    }
}
