//! Kubernetes namespaces: `create_namespace` and `delete_namespace`, both waiting (by watching,
//! never polling) until the namespace is usable or gone.
//!
//! - [`create`] POSTs the namespace. `409 AlreadyExists` is `Ok(false)` (the seed's meaning),
//!   unless the existing namespace is still being deleted (phase `Terminating`): then the caller
//!   gets a clear [`Error::Conflict`] rather than a `false` that would let them write into a
//!   namespace about to vanish (the apiserver answers such writes with `403 Forbidden ...
//!   because it is being terminated`, see `acm-06`). A namespace is `Active` as soon as it is
//!   created, so the usual create is one request; otherwise it watches it
//!   (`fieldSelector=metadata.name=<name>`, from the create's resourceVersion) until `Active`.
//! - [`delete`] DELETEs it (`404` is `Ok(false)`) and watches until its `DELETED` event: the
//!   namespace first passes through `Terminating` while its content is removed. A namespace
//!   that is already `Terminating` answers the DELETE with `409 Conflict` ("The system is
//!   ensuring all content is removed from this namespace"): it is then read and, being deleted,
//!   waited for the same way (`Ok(true)`) — see [`super::gone::UntilGone`].

use std::convert::Infallible;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::api::{self, DeleteParams, Resource};
use super::object::{ObjectMeta, Versioned};
use super::watcher::{Update, WatchTarget, Watcher};
use super::{check, decode, name, Context};
use crate::error::{ApiError, Error, Result};
use crate::model::Namespace;
use crate::op::{Checked, Flow, Machine, Next};
use crate::raw::{Keeps, Raw};
use crate::step::{self, Operation, Response};

/// How long [`create`] waits for a new namespace to become `Active` and [`delete`] for it to
/// be gone (content removal can take a while; finalizers that never finish would hang forever).
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(300);

const PATH: &str = "/api/v1/namespaces";

/// The lean namespace object.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NamespaceObject {
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// `status`.
    #[serde(default)]
    pub status: NamespaceStatus,
}

/// `status` of a namespace.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NamespaceStatus {
    /// `Active` or `Terminating`.
    #[serde(default)]
    pub phase: String,
}

impl Versioned for NamespaceObject {
    fn resource_version(&self) -> &str {
        &self.metadata.resource_version
    }
}

impl NamespaceObject {
    /// The orchestrator-neutral view.
    pub fn into_namespace(self) -> Namespace {
        Namespace { name: self.metadata.name, phase: self.status.phase, description: None, raw: crate::Raw::default() }
    }
}

fn params(name: &str) -> WatchTarget {
    WatchTarget::new(PATH, format!("namespace {name}")).fields(format!("metadata.name={name}"))
}

fn body(name: &str) -> Vec<u8> {
    serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}).to_string().into_bytes()
}

fn terminating(name: &str) -> Error {
    Error::Conflict(ApiError {
        status: 409,
        reason: Some("AlreadyExists".into()),
        message: format!(
            "namespace {name:?} exists but is being deleted (phase Terminating); wait until delete_namespace \
             returns, then create it again"
        ),
        ..ApiError::default()
    })
}

type ActiveWait =
    super::watcher::Until<NamespaceObject, Box<dyn FnMut(Update<NamespaceObject>) -> Option<Result<bool>> + Send>>;

#[derive(Debug, PartialEq, Eq)]
enum CreateStage {
    /// The POST is out.
    Post,
    /// It existed: the read that tells an existing namespace from one being deleted is out.
    Get,
}

/// The machine of [`create`]: POST; a namespace not yet Active is then watched until it is;
/// one that existed is read to tell it from one being deleted.
pub struct Create {
    name: String,
    ctx: Context,
    post: Option<step::Request>,
    stage: CreateStage,
}

impl std::fmt::Debug for Create {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("namespace::Create").field("name", &self.name).field("stage", &self.stage).finish()
    }
}

impl Create {
    fn active_wait(&self, resource_version: &str) -> ActiveWait {
        let name = self.name.clone();
        let watcher = Watcher::from_version(params(&self.name), &self.ctx.retry, Some(WAIT_TIMEOUT), resource_version);
        let judge = move |update: Update<NamespaceObject>| -> Option<Result<bool>> {
            match update {
                Update::Listed(items) => match items.into_iter().next() {
                    None => Some(Err(gone_while_waiting(&name))),
                    Some(ns) if ns.status.phase == "Active" => Some(Ok(true)),
                    Some(ns) if ns.status.phase == "Terminating" => Some(Err(terminating(&name))),
                    Some(_) => None,
                },
                Update::Added(ns) | Update::Modified(ns) => match ns.status.phase.as_str() {
                    "Active" => Some(Ok(true)),
                    "Terminating" => Some(Err(terminating(&name))),
                    _ => None,
                },
                Update::Deleted(_) => Some(Err(gone_while_waiting(&name))),
            }
        };
        super::watcher::Until::new(watcher, Box::new(judge) as Box<dyn FnMut(_) -> _ + Send>)
    }
}

fn gone_while_waiting(name: &str) -> Error {
    Error::NotFound(ApiError {
        status: 404,
        reason: Some("NotFound".into()),
        message: format!("namespace {name:?} was deleted while waiting for it to become Active"),
        ..ApiError::default()
    })
}

impl Machine for Create {
    type Output = bool;

    fn step(&mut self, _now: Instant, answer: Option<Result<Response>>) -> Result<Next<bool>> {
        let Some(answer) = answer else {
            return Ok(Next::Send(self.post.take().ok_or_else(|| Error::protocol("create_namespace request lost"))?));
        };
        let ns = answer.and_then(check).and_then(|r| decode::<NamespaceObject>("namespace", r.body()));
        match self.stage {
            CreateStage::Post => match ns {
                Ok(ns) if ns.status.phase == "Active" => Ok(Next::Done(Ok(true))),
                Ok(ns) => Ok(Next::Then(Box::new(self.active_wait(&ns.metadata.resource_version)))),
                Err(Error::AlreadyExists(_)) => {
                    self.stage = CreateStage::Get;
                    Ok(Next::Send(step::request(http::Method::GET, &format!("{PATH}/{}", self.name), None)?))
                }
                Err(e) => Err(e),
            },
            CreateStage::Get => match ns {
                Ok(ns) if ns.status.phase == "Terminating" => Err(terminating(&self.name)),
                Ok(_) => Ok(Next::Done(Ok(false))),
                // deleted between our create and our read: it was terminating
                Err(Error::NotFound(_)) => Err(terminating(&self.name)),
                Err(e) => Err(e),
            },
        }
    }
}

/// `create_namespace`: create `name` and wait until it is `Active`. `Ok(false)` if it existed.
///
/// ```
/// use clustermanager_core::{k8s, Event, Operation, Step};
/// let mut op = k8s::namespace::create(&k8s::Context::default(), "team-a");
/// let now = std::time::Instant::now();
/// let Step::Send(req, _) = op.poll(now) else { panic!() };
/// assert_eq!((req.method().as_str(), req.uri().path()), ("POST", "/api/v1/namespaces"));
/// let body = r#"{"kind":"Namespace","metadata":{"name":"team-a","resourceVersion":"7"},"status":{"phase":"Active"}}"#;
/// op.handle(Event::Response(http::Response::builder().status(201).body(body.into()).unwrap()));
/// assert!(matches!(op.poll(now), Step::Done(Ok(true))));
/// ```
pub fn create(ctx: &Context, name: &str) -> impl Operation<Output = bool, Item = Infallible> + Send + 'static {
    let op = name::label("namespace", name)
        .and_then(|()| step::request(http::Method::POST, PATH, Some(body(name))))
        .map(|req| {
            let create = Create { name: name.to_owned(), ctx: ctx.clone(), post: Some(req), stage: CreateStage::Post };
            Flow::new(create, &ctx.retry)
        });
    Checked::from(op)
}

/// `delete_namespace`: delete `name` and wait until it is gone. `Ok(false)` if it did not exist.
///
/// ```
/// use clustermanager_core::{k8s, Event, Operation, Step};
/// let mut op = k8s::namespace::delete(&k8s::Context::default(), "team-a");
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { panic!() };
/// assert_eq!((req.method().as_str(), req.uri().path()), ("DELETE", "/api/v1/namespaces/team-a"));
/// ```
pub fn delete(ctx: &Context, name: &str) -> impl Operation<Output = bool, Item = Infallible> + Send + 'static {
    let op = name::label("namespace", name).map(|()| {
        api::delete_then(ctx, &Resource::NAMESPACES, None, name, &DeleteParams::default(), true, WAIT_TIMEOUT)
    });
    Checked::from(op)
}

/// `list_namespaces`: every namespace of the cluster (`GET /api/v1/namespaces`).
///
/// ```
/// use clustermanager_core::{k8s, Event, Operation, Step};
/// let mut op = k8s::namespace::list(&k8s::Context::default());
/// let now = std::time::Instant::now();
/// let Step::Send(req, _) = op.poll(now) else { panic!() };
/// assert_eq!(req.uri(), "/api/v1/namespaces");
/// let body = r#"{"kind":"NamespaceList","metadata":{"resourceVersion":"9"},"items":[{"metadata":{"name":"default"},"status":{"phase":"Active"}}]}"#;
/// op.handle(Event::Response(http::Response::builder().status(200).body(body.into()).unwrap()));
/// let Step::Done(Ok(namespaces)) = op.poll(now) else { panic!() };
/// assert_eq!((namespaces[0].name.as_str(), namespaces[0].phase.as_str()), ("default", "Active"));
/// ```
pub fn list(ctx: &Context) -> impl Operation<Output = Vec<Namespace>, Item = Infallible> + Send + 'static {
    let req = step::request(http::Method::GET, PATH, None);
    Checked::from(req.map(|req| {
        crate::op::Call::new(req, &ctx.retry, |resp| {
            api::parse_kept("namespace list", resp, NamespaceObject::into_namespace)
        })
    }))
}

/// `get_namespace`: one namespace ([`Error::NotFound`] if it does not exist).
///
/// ```
/// use clustermanager_core::{k8s, Operation, Step};
/// let mut op = k8s::namespace::get(&k8s::Context::default(), "team-a");
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { panic!() };
/// assert_eq!(req.uri().path(), "/api/v1/namespaces/team-a");
/// ```
pub fn get(ctx: &Context, name: &str) -> impl Operation<Output = Namespace, Item = Infallible> + Send + 'static {
    let op = name::label("namespace", name)
        .and_then(|()| step::request(http::Method::GET, &format!("{PATH}/{name}"), None))
        .map(|req| {
            crate::op::Call::new(req, &ctx.retry, |resp| {
                let resp = check(resp)?;
                let ns = decode::<NamespaceObject>("namespace", resp.body())?.into_namespace();
                Ok(ns.keeping(Raw::whole(resp.into_body())))
            })
        });
    Checked::from(op)
}
