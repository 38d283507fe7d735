//! The single-request and paged operations on any [`Resource`]: list (one page, or every page
//! with [`list_all`]), get, create, replace, patch, delete, and the raw [`request`] / [`send`].

use super::params::{json_body, DeleteParams, ListParams, Patch, Propagation, Query, WriteParams};
use super::resource::{nonempty, Resource};
use crate::error::{Error, Result};
use crate::k8s::object::{parse_list, ObjectList};
use crate::k8s::{check, decode, Context};
use crate::op::Checked;
use crate::op::{Call, Flow, Machine, Next};
use crate::pages::Pages;
use crate::raw::Keeps;
use crate::step::{Operation, Request, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::convert::Infallible;
use std::marker::PhantomData;
use std::time::Instant;

/// Check a list answer and turn each of its items into a `U` (the lean views of the seed's
/// operations: jobs, pods, nodes).
pub fn parse_items<T: DeserializeOwned, U>(what: &str, resp: Response, into: impl FnMut(T) -> U) -> Result<Vec<U>> {
    let resp = check(resp)?;
    Ok(parse_list::<T>(what, resp.body())?.items.into_iter().map(into).collect())
}

/// As [`parse_items`] for the model's values: each keeps its item of the list body
/// (`raw`, the seed's `_raw`).
pub(crate) fn parse_kept<T: DeserializeOwned, U: Keeps>(
    what: &str,
    resp: Response,
    into: impl FnMut(T) -> U,
) -> Result<Vec<U>> {
    let body = resp.body().clone();
    Ok(crate::raw::list_items(parse_items(what, resp, into)?, &body))
}

pub(super) fn call<T, F>(
    ctx: &Context,
    req: Result<Request>,
    parse: F,
) -> impl Operation<Output = T, Item = Infallible> + Send + 'static
where
    F: FnOnce(Response) -> Result<T> + Send + 'static,
    T: 'static,
{
    let retry = ctx.retry.clone();
    Checked::new(req.map(|r| Call::new(r, &retry, parse)))
}

pub(super) fn typed<T: DeserializeOwned>(what: &'static str) -> impl FnOnce(Response) -> Result<T> + Send + 'static {
    move |resp| {
        let resp = check(resp)?;
        decode(what, resp.body())
    }
}

/// One page of objects. Follow [`ObjectList::continue_token`] with
/// [`ListParams::continue_from`], or use [`list_all`].
///
/// ```
/// use clustermanager_core::k8s::{self, api::{self, ListParams, Resource}};
/// use serde_json::value::RawValue;
/// let op = api::list::<Box<RawValue>>(&k8s::Context::default(), &Resource::CONFIGMAPS, Some("ns"),
///     &ListParams::default().labels("app=web").limit(50));
/// # let _ = op;
/// ```
pub fn list<T>(
    ctx: &Context,
    resource: &Resource,
    namespace: Option<&str>,
    params: &ListParams,
) -> impl Operation<Output = ObjectList<T>, Item = Infallible> + Send + 'static
where
    T: DeserializeOwned + Send + 'static,
{
    let req = resource
        .list_path(namespace)
        .and_then(|p| crate::step::request(http::Method::GET, &params.query().on(&p), None));
    call(ctx, req, |resp| {
        let resp = check(resp)?;
        parse_list("list", resp.body())
    })
}

/// How many times [`list_all`] starts over when a continue token expired (HTTP 410) before it
/// gives up with [`Error::Gone`].
pub const MAX_LIST_RESTARTS: u32 = 3;

pub use crate::pages::DEFAULT_MAX_PAGES;

/// Every object, page after page (`limit` from `params`, following `continue` tokens). When a
/// continue token expired between pages (HTTP 410, etcd compacted the snapshot) the list starts
/// over from the first page (from `params`' own continue token, if it had one), at most
/// [`MAX_LIST_RESTARTS`] times, then fails with [`Error::Gone`]; the result is always one
/// consistent snapshot. The returned list's `resource_version` is the snapshot's.
///
/// Pagination is bounded: a continue token the server already gave for this list (a broken
/// server or proxy that would make it loop forever) ends it with [`Error::Decode`], and so does
/// a list longer than [`DEFAULT_MAX_PAGES`] pages (see [`ListAll::max_pages`]).
///
/// ```
/// use clustermanager_core::k8s::{self, api::{self, ListParams, Resource}};
/// let op = api::list_all::<serde_json::Value>(&k8s::Context::default(), &Resource::PODS, None,
///     &ListParams::default().limit(500));
/// # let _ = op;
/// ```
pub fn list_all<T>(ctx: &Context, resource: &Resource, namespace: Option<&str>, params: &ListParams) -> ListAll<T>
where
    T: DeserializeOwned,
{
    let pages = ListPages {
        path: resource.list_path(namespace).map_err(Some),
        params: params.clone(),
        start_token: params.continue_token.clone(),
        items: Vec::new(),
        resource_version: None,
        restarts: 0,
        pages: Pages::default().starting_from(params.continue_token.as_deref()),
        _t: PhantomData,
    };
    Flow::new(pages, &ctx.retry)
}

/// The operation of [`list_all`]: its [`ListPages`] machine run by a [`Flow`].
pub type ListAll<T> = Flow<ListPages<T>>;

impl<T: DeserializeOwned> ListAll<T> {
    /// Read at most `pages` pages (at least 1; default [`DEFAULT_MAX_PAGES`]); a longer list
    /// fails with [`Error::Decode`] saying so.
    pub fn max_pages(mut self, pages: u32) -> Self {
        let machine = self.machine_mut();
        machine.pages = Pages::new(pages).starting_from(machine.start_token.as_deref());
        self
    }
}

/// The machine of [`list_all`]: one page after another, over again from the first when a
/// continue token expired.
#[derive(Debug)]
pub struct ListPages<T> {
    path: std::result::Result<String, Option<Error>>,
    params: ListParams,
    start_token: Option<String>,
    items: Vec<T>,
    resource_version: Option<String>,
    restarts: u32,
    /// The pages and continue tokens of the current snapshot.
    pages: Pages,
    _t: PhantomData<fn() -> T>,
}

impl<T> ListPages<T> {
    fn what(&self) -> String {
        match &self.path {
            Ok(p) => format!("list of {p}"),
            Err(_) => "list".to_owned(),
        }
    }
}

impl<T: DeserializeOwned> ListPages<T> {
    fn on_page(&mut self, resp: Response) -> Option<Result<ObjectList<T>>> {
        // a 410 on a token this list obtained itself: the snapshot was compacted away. (A 410 on
        // the caller's own starting token, or on a first page, is the caller's to handle.)
        let paging = self.params.continue_token.is_some() && self.params.continue_token != self.start_token;
        if resp.status().as_u16() == 410 && paging {
            let err = check(resp).err().unwrap_or_else(|| Error::protocol("410 was not an error"));
            if self.restarts >= MAX_LIST_RESTARTS {
                return Some(Err(err));
            }
            self.restarts += 1;
            tracing::debug!(restarts = self.restarts, error = %err, "continue token expired; listing again from the start");
            self.items.clear();
            self.resource_version = None;
            self.params.continue_token = self.start_token.clone();
            self.pages.restart();
            return None;
        }
        let page: ObjectList<T> = match check(resp).and_then(|r| parse_list("list page", r.body())) {
            Ok(p) => p,
            Err(e) => return Some(Err(e)),
        };
        self.items.extend(page.items);
        self.resource_version.get_or_insert(page.resource_version);
        match page.continue_token {
            Some(token) => {
                let what = self.what();
                if let Err(e) = self.pages.next(&what, &token, self.items.len()) {
                    return Some(Err(e));
                }
                self.params.continue_token = Some(token);
                None
            }
            None => Some(Ok(ObjectList {
                items: std::mem::take(&mut self.items),
                resource_version: self.resource_version.take().unwrap_or_default(),
                continue_token: None,
                remaining_item_count: None,
            })),
        }
    }
}

impl<T: DeserializeOwned> Machine for ListPages<T> {
    type Output = ObjectList<T>;

    fn step(&mut self, _now: Instant, answer: Option<Result<Response>>) -> Result<Next<ObjectList<T>>> {
        if let Some(answer) = answer {
            if let Some(result) = self.on_page(answer?) {
                return Ok(Next::Done(result));
            }
        }
        let path = match &mut self.path {
            Ok(p) => p,
            Err(e) => return Err(e.take().unwrap_or_else(|| Error::protocol("list polled after it finished"))),
        };
        Ok(Next::Send(crate::step::request(http::Method::GET, &self.params.query().on(path), None)?))
    }
}

pub(super) fn sub_path(
    resource: &Resource,
    namespace: Option<&str>,
    name: &str,
    subresource: Option<&str>,
) -> Result<String> {
    let p = resource.object_path(namespace, name)?;
    Ok(match subresource {
        Some(sub) => format!("{p}/{}", nonempty("subresource", sub)?),
        None => p,
    })
}

/// One object.
///
/// ```
/// use clustermanager_core::k8s::{self, api::{self, Resource}};
/// let op = api::get::<serde_json::Value>(&k8s::Context::default(), &Resource::NAMESPACES, None, "default");
/// # let _ = op;
/// ```
pub fn get<T>(
    ctx: &Context,
    resource: &Resource,
    namespace: Option<&str>,
    name: &str,
) -> impl Operation<Output = T, Item = Infallible> + Send + 'static
where
    T: DeserializeOwned + Send + 'static,
{
    let req = resource.object_path(namespace, name).and_then(|p| crate::step::request(http::Method::GET, &p, None));
    call(ctx, req, typed("object"))
}

/// Create an object (POST to the collection); returns what the server stored.
///
/// ```
/// use clustermanager_core::k8s::{self, api::{self, Resource, WriteParams}};
/// let cm = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}});
/// let op = api::create::<serde_json::Value, _>(&k8s::Context::default(), &Resource::CONFIGMAPS, Some("ns"),
///     &cm, &WriteParams::default());
/// # let _ = op;
/// ```
pub fn create<T, B>(
    ctx: &Context,
    resource: &Resource,
    namespace: Option<&str>,
    body: &B,
    params: &WriteParams,
) -> impl Operation<Output = T, Item = Infallible> + Send + 'static
where
    T: DeserializeOwned + Send + 'static,
    B: Serialize + ?Sized,
{
    let req = resource
        .list_path(namespace)
        .and_then(|p| crate::step::request(http::Method::POST, &params.query().on(&p), Some(json_body(body)?)));
    call(ctx, req, typed("created object"))
}

/// Replace an object (PUT), or with `subresource` `Some("scale")` / `Some("status")` one of its
/// subresources. Include `metadata.resourceVersion` to fail with [`Error::Conflict`] if someone
/// changed it since you read it.
///
/// ```
/// use clustermanager_core::k8s::{self, api::{self, Resource, WriteParams}};
/// let cm = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"v": "2"}});
/// let op = api::replace::<serde_json::Value, _>(&k8s::Context::default(), &Resource::CONFIGMAPS, Some("ns"), "cfg",
///     None, &cm, &WriteParams::default());
/// # let _ = op;
/// ```
pub fn replace<T, B>(
    ctx: &Context,
    resource: &Resource,
    namespace: Option<&str>,
    name: &str,
    subresource: Option<&str>,
    body: &B,
    params: &WriteParams,
) -> impl Operation<Output = T, Item = Infallible> + Send + 'static
where
    T: DeserializeOwned + Send + 'static,
    B: Serialize + ?Sized,
{
    let req = sub_path(resource, namespace, name, subresource)
        .and_then(|p| crate::step::request(http::Method::PUT, &params.query().on(&p), Some(json_body(body)?)));
    call(ctx, req, typed("replaced object"))
}

/// Build a PATCH request (exposed for the dedicated operations built on it).
pub fn patch_request(ctx: &Context, path: &str, patch: &Patch, params: &WriteParams) -> Result<Request> {
    let mut q = params.query();
    if let Patch::Apply { field_manager, force, .. } = patch {
        if params.field_manager.is_none() {
            q.push("fieldManager", field_manager.as_deref().unwrap_or(&ctx.field_manager));
        }
        if *force {
            q.push("force", "true");
        }
    }
    let mut req = crate::step::request(http::Method::PATCH, &q.on(path), Some(patch.body().to_vec()))?;
    req.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(patch.content_type()));
    Ok(req)
}

/// Patch an object (or, with `subresource` `Some("status")` / `Some("scale")`, one of its
/// subresources); returns the patched object.
///
/// ```
/// use clustermanager_core::k8s::{self, api::{self, Patch, Resource, WriteParams}};
/// let patch = Patch::merge(&serde_json::json!({"spec": {"suspend": true}})).unwrap();
/// let op = api::patch::<serde_json::Value>(&k8s::Context::default(), &Resource::CRONJOBS, Some("ns"),
///     "nightly", None, &patch, &WriteParams::default());
/// # let _ = op;
/// ```
pub fn patch<T>(
    ctx: &Context,
    resource: &Resource,
    namespace: Option<&str>,
    name: &str,
    subresource: Option<&str>,
    patch: &Patch,
    params: &WriteParams,
) -> impl Operation<Output = T, Item = Infallible> + Send + 'static
where
    T: DeserializeOwned + Send + 'static,
{
    let req = sub_path(resource, namespace, name, subresource).and_then(|p| patch_request(ctx, &p, patch, params));
    call(ctx, req, typed("patched object"))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeleteOptionsBody<'a> {
    kind: &'static str,
    api_version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    propagation_policy: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    preconditions: Option<Preconditions<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Preconditions<'a> {
    resource_version: &'a str,
}

/// The DELETE request for the object at `path` (with a `DeleteOptions` body when a propagation
/// policy or a precondition is set).
pub(crate) fn delete_request(path: &str, params: &DeleteParams) -> Result<Request> {
    let mut q = Query::new();
    q.push_opt("gracePeriodSeconds", params.grace_period_seconds.map(|s| s.to_string()).as_deref());
    if params.dry_run {
        q.push("dryRun", "All");
    }
    let body = if params.propagation.is_some() || params.precondition_resource_version.is_some() {
        Some(json_body(&DeleteOptionsBody {
            kind: "DeleteOptions",
            api_version: "v1",
            propagation_policy: params.propagation.map(Propagation::as_str),
            preconditions: params
                .precondition_resource_version
                .as_deref()
                .map(|rv| Preconditions { resource_version: rv }),
        })?)
    } else {
        None
    };
    crate::step::request(http::Method::DELETE, &q.on(path), body)
}

/// What a delete answered.
#[derive(Debug, Clone)]
pub struct Deleted {
    /// The object as it is now, when the server answered with it: it may still exist, marked
    /// with a `deletionTimestamp`, until finalizers and dependents are done. `None` when the
    /// server answered with a `Status` of success: the object is gone.
    pub object: Option<Box<RawValue>>,
    /// The returned object's `resourceVersion` (watch from here to see it go).
    pub resource_version: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KindAndMeta {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    metadata: Option<ObjectMetaLean>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ObjectMetaLean {
    #[serde(default)]
    resource_version: Option<String>,
}

fn parse_deleted(resp: Response) -> Result<Deleted> {
    let resp = check(resp)?;
    let head: KindAndMeta = decode("delete response", resp.body())?;
    if head.kind.as_deref() == Some("Status") {
        return Ok(Deleted { object: None, resource_version: None });
    }
    let raw: Box<RawValue> = decode("delete response", resp.body())?;
    Ok(Deleted { object: Some(raw), resource_version: head.metadata.and_then(|m| m.resource_version) })
}

/// Delete an object. Fails with [`Error::NotFound`] if it does not exist.
///
/// ```
/// use clustermanager_core::k8s::{self, api::{self, DeleteParams, Propagation, Resource}};
/// let op = api::delete(&k8s::Context::default(), &Resource::JOBS, Some("ns"), "old",
///     &DeleteParams::propagation(Propagation::Background));
/// # let _ = op;
/// ```
pub fn delete(
    ctx: &Context,
    resource: &Resource,
    namespace: Option<&str>,
    name: &str,
    params: &DeleteParams,
) -> impl Operation<Output = Deleted, Item = Infallible> + Send + 'static {
    let req = resource.object_path(namespace, name).and_then(|p| delete_request(&p, params));
    call(ctx, req, parse_deleted)
}

/// Send any request built with [`crate::step::request`] (or by hand: any method, path, headers
/// and body); a 2xx answer comes back whole, anything else as an [`Error`]. `Warning` headers
/// are logged through `tracing`.
///
/// ```
/// use clustermanager_core::k8s::{self, api};
/// let req = clustermanager_core::step::request(http::Method::GET, "/version", None).unwrap();
/// let op = api::send(&k8s::Context::default(), req);
/// # let _ = op;
/// ```
pub fn send(ctx: &Context, request: Request) -> impl Operation<Output = Response, Item = Infallible> + Send + 'static {
    call(ctx, Ok(request), check)
}

/// Send `method path_and_query` with an optional JSON body: discovery (`/api`, `/apis/batch`),
/// `/version`, health (`/healthz`, `/readyz?verbose`), or anything else. See [`send`].
///
/// ```
/// use clustermanager_core::k8s::{self, api};
/// let op = api::request(&k8s::Context::default(), http::Method::GET, "/readyz", None);
/// # let _ = op;
/// ```
pub fn request(
    ctx: &Context,
    method: http::Method,
    path_and_query: &str,
    body: Option<Vec<u8>>,
) -> impl Operation<Output = Response, Item = Infallible> + Send + 'static {
    call(ctx, crate::step::request(method, path_and_query, body), check)
}
