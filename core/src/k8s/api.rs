//! The generic Kubernetes API: any resource of any group and version, so that a caller is never
//! stuck when clustermanager has no dedicated operation for what they need.
//!
//! A [`Resource`] names a kind of object (`group`, `version`, `plural`, `namespaced`); the
//! operations here ([`list`], [`list_all`], [`get`], [`create`], [`replace`], [`patch`],
//! [`delete`], [`delete_and_wait`], [`wait_for`], [`watch`], and the raw [`request`] /
//! [`send`]) build the requests and parse the answers, generic over the object type: use a lean
//! struct of your own, `serde_json::Value`, or `Box<RawValue>` to keep the server's bytes as
//! they came.
//!
//! ```
//! use clustermanager_core::k8s::{self, api::{self, Resource}};
//! use clustermanager_core::{Operation, Step};
//! use serde_json::value::RawValue;
//!
//! let cronjobs = Resource::new("batch", "v1", "cronjobs", true);
//! let mut op = api::get::<Box<RawValue>>(&k8s::Context::default(), &cronjobs, Some("jobs"), "nightly");
//! let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
//! assert_eq!(req.uri().path(), "/apis/batch/v1/namespaces/jobs/cronjobs/nightly");
//! ```

use std::borrow::Cow;
use std::convert::Infallible;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::checked::Checked;
use super::object::{parse_list, ObjectList};
use super::watch::{WatchDecoder, WatchEvent};
use super::watcher::{UntilGone, Update, Watcher};
use super::{check, decode, Context};
use crate::call::{Call, Exchange, ExchangeStep};
use crate::deadline::{later, Hold};
use crate::error::{ApiError, Error, Result};
use crate::pages::Pages;
use crate::step::{Event, Operation, Request, Response, Step};

/// A kind of Kubernetes object, as the API paths name it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Resource {
    /// API group (`""` for the core group, `apps`, `batch`, `kubeflow.org`, ...).
    pub group: Cow<'static, str>,
    /// Version (`v1`, `v1beta1`, ...).
    pub version: Cow<'static, str>,
    /// Plural, lower-case resource name as in the path (`pods`, `cronjobs`, `tfjobs`).
    pub plural: Cow<'static, str>,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
}

const fn core_res(plural: &'static str, namespaced: bool) -> Resource {
    Resource { group: Cow::Borrowed(""), version: Cow::Borrowed("v1"), plural: Cow::Borrowed(plural), namespaced }
}

const fn group_res(group: &'static str, version: &'static str, plural: &'static str, namespaced: bool) -> Resource {
    Resource { group: Cow::Borrowed(group), version: Cow::Borrowed(version), plural: Cow::Borrowed(plural), namespaced }
}

impl Resource {
    /// Core `v1` Pods.
    pub const PODS: Resource = core_res("pods", true);
    /// Core `v1` ConfigMaps.
    pub const CONFIGMAPS: Resource = core_res("configmaps", true);
    /// Core `v1` Secrets.
    pub const SECRETS: Resource = core_res("secrets", true);
    /// Core `v1` Services.
    pub const SERVICES: Resource = core_res("services", true);
    /// Core `v1` Events.
    pub const EVENTS: Resource = core_res("events", true);
    /// Core `v1` ResourceQuotas.
    pub const RESOURCE_QUOTAS: Resource = core_res("resourcequotas", true);
    /// Core `v1` PersistentVolumeClaims.
    pub const PERSISTENT_VOLUME_CLAIMS: Resource = core_res("persistentvolumeclaims", true);
    /// Core `v1` Namespaces (cluster-scoped).
    pub const NAMESPACES: Resource = core_res("namespaces", false);
    /// Core `v1` Nodes (cluster-scoped).
    pub const NODES: Resource = core_res("nodes", false);
    /// `batch/v1` Jobs.
    pub const JOBS: Resource = group_res("batch", "v1", "jobs", true);
    /// `batch/v1` CronJobs (Kubernetes 1.21 and later; the only version since 1.25).
    pub const CRONJOBS: Resource = group_res("batch", "v1", "cronjobs", true);
    /// `batch/v1beta1` CronJobs: the only CronJob version Kubernetes 1.19 and 1.20 serve, removed
    /// in 1.25 (use [`CRONJOBS`](Self::CRONJOBS) there).
    pub const CRONJOBS_V1BETA1: Resource = group_res("batch", "v1beta1", "cronjobs", true);
    /// `apps/v1` Deployments.
    pub const DEPLOYMENTS: Resource = group_res("apps", "v1", "deployments", true);
    /// `apps/v1` ReplicaSets.
    pub const REPLICASETS: Resource = group_res("apps", "v1", "replicasets", true);
    /// `apps/v1` StatefulSets.
    pub const STATEFULSETS: Resource = group_res("apps", "v1", "statefulsets", true);
    /// `apiextensions.k8s.io/v1` CustomResourceDefinitions (cluster-scoped).
    pub const CRDS: Resource = group_res("apiextensions.k8s.io", "v1", "customresourcedefinitions", false);
    /// kubeflow `kubeflow.org/v1` TFJobs.
    pub const TFJOBS: Resource = group_res("kubeflow.org", "v1", "tfjobs", true);

    /// Any resource: `Resource::new("batch", "v1beta1", "cronjobs", true)`.
    pub fn new(
        group: impl Into<Cow<'static, str>>,
        version: impl Into<Cow<'static, str>>,
        plural: impl Into<Cow<'static, str>>,
        namespaced: bool,
    ) -> Self {
        Resource { group: group.into(), version: version.into(), plural: plural.into(), namespaced }
    }

    /// `apiVersion` of the objects (`v1`, `batch/v1`).
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `/api/v1` for the core group, `/apis/{group}/{version}` for the others.
    pub fn prefix(&self) -> String {
        if self.group.is_empty() {
            format!("/api/{}", segment(&self.version))
        } else {
            format!("/apis/{}/{}", segment(&self.group), segment(&self.version))
        }
    }

    /// The collection path: in `namespace`, or across all namespaces (and for cluster-scoped
    /// resources) when `None`.
    pub fn list_path(&self, namespace: Option<&str>) -> Result<String> {
        match (namespace, self.namespaced) {
            (Some(ns), true) => {
                Ok(format!("{}/namespaces/{}/{}", self.prefix(), nonempty("namespace", ns)?, segment(&self.plural)))
            }
            (Some(_), false) => Err(self.cluster_scoped()),
            (None, _) => Ok(format!("{}/{}", self.prefix(), segment(&self.plural))),
        }
    }

    /// The path of one object. Namespaced resources need a namespace; cluster-scoped ones
    /// refuse one.
    pub fn object_path(&self, namespace: Option<&str>, name: &str) -> Result<String> {
        let name = nonempty("name", name)?;
        match (namespace, self.namespaced) {
            (Some(_), true) | (None, false) => Ok(format!("{}/{}", self.list_path(namespace)?, name)),
            (None, true) => Err(Error::InvalidInput {
                field: "namespace".into(),
                problem: format!("{} are namespaced: give the namespace of {name:?}", self.plural),
            }),
            (Some(_), false) => Err(self.cluster_scoped()),
        }
    }

    fn cluster_scoped(&self) -> Error {
        Error::InvalidInput {
            field: "namespace".into(),
            problem: format!("{} are cluster-scoped: pass no namespace", self.plural),
        }
    }
}

pub use crate::encode::{query_value, segment};

fn nonempty(field: &str, value: &str) -> Result<String> {
    if value.is_empty() {
        Err(Error::InvalidInput { field: field.into(), problem: "must not be empty".into() })
    } else {
        Ok(segment(value))
    }
}

/// A query string under construction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query(String);

impl Query {
    /// An empty query.
    pub fn new() -> Self {
        Query(String::new())
    }

    /// Add `key=value` (the value percent-encoded).
    pub fn push(&mut self, key: &str, value: &str) -> &mut Self {
        self.0.push(if self.0.is_empty() { '?' } else { '&' });
        self.0.push_str(key);
        self.0.push('=');
        self.0.push_str(&query_value(value));
        self
    }

    /// Add `key=value` if there is a value.
    pub fn push_opt(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value {
            self.push(key, v);
        }
        self
    }

    /// `path` followed by the query.
    pub fn on(&self, path: &str) -> String {
        format!("{path}{}", self.0)
    }
}

/// Options of a list (and of the list half of a watch).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListParams {
    /// `labelSelector` (`app=x,tier in (a,b)`; see [`LabelSelector`](super::configmap::LabelSelector)).
    pub label_selector: Option<String>,
    /// `fieldSelector` (`metadata.name=x`).
    pub field_selector: Option<String>,
    /// Page size (`limit`); `None` asks for everything at once.
    pub limit: Option<u32>,
    /// `continue` token of the next page.
    pub continue_token: Option<String>,
    /// `resourceVersion` to list at.
    pub resource_version: Option<String>,
    /// `resourceVersionMatch` (`Exact`, `NotOlderThan`).
    pub resource_version_match: Option<String>,
}

impl ListParams {
    /// Set the label selector.
    pub fn labels(mut self, selector: impl Into<String>) -> Self {
        self.label_selector = Some(selector.into()).filter(|s| !s.is_empty());
        self
    }
    /// Set the field selector.
    pub fn fields(mut self, selector: impl Into<String>) -> Self {
        self.field_selector = Some(selector.into()).filter(|s| !s.is_empty());
        self
    }
    /// Set the page size.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }
    /// Set the continue token.
    pub fn continue_from(mut self, token: impl Into<String>) -> Self {
        self.continue_token = Some(token.into());
        self
    }
    /// Set the resource version (and how it must match).
    pub fn at(mut self, resource_version: impl Into<String>, matching: Option<&str>) -> Self {
        self.resource_version = Some(resource_version.into());
        self.resource_version_match = matching.map(str::to_owned);
        self
    }

    fn query(&self) -> Query {
        let mut q = Query::new();
        q.push_opt("labelSelector", self.label_selector.as_deref())
            .push_opt("fieldSelector", self.field_selector.as_deref())
            .push_opt("limit", self.limit.map(|l| l.to_string()).as_deref())
            .push_opt("continue", self.continue_token.as_deref())
            .push_opt("resourceVersion", self.resource_version.as_deref())
            .push_opt("resourceVersionMatch", self.resource_version_match.as_deref());
        q
    }
}

/// Check a list answer and turn each of its items into a `U` (the lean views of the seed's
/// operations: jobs, pods, nodes).
pub fn parse_items<T: DeserializeOwned, U>(what: &str, resp: Response, into: impl FnMut(T) -> U) -> Result<Vec<U>> {
    let resp = check(resp)?;
    Ok(parse_list::<T>(what, resp.body())?.items.into_iter().map(into).collect())
}

fn call<T, F>(
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

fn typed<T: DeserializeOwned>(what: &'static str) -> impl FnOnce(Response) -> Result<T> + Send + 'static {
    move |resp| {
        let resp = check(resp)?;
        decode(what, resp.body())
    }
}

fn json_body<B: Serialize + ?Sized>(body: &B) -> Result<Vec<u8>> {
    serde_json::to_vec(body).map_err(|e| Error::InvalidInput {
        field: "body".into(),
        problem: format!("cannot be serialized as JSON: {e}"),
    })
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
    ListAll {
        retry: ctx.retry.clone(),
        path: resource.list_path(namespace).map_err(Some),
        params: params.clone(),
        start_token: params.continue_token.clone(),
        items: Vec::new(),
        resource_version: None,
        restarts: 0,
        exchange: None,
        pages: Pages::default().starting_from(params.continue_token.as_deref()),
        _t: PhantomData,
    }
}

/// The operation of [`list_all`].
#[derive(Debug)]
pub struct ListAll<T> {
    retry: crate::retry::Retry,
    path: std::result::Result<String, Option<Error>>,
    params: ListParams,
    start_token: Option<String>,
    items: Vec<T>,
    resource_version: Option<String>,
    restarts: u32,
    exchange: Option<Exchange>,
    /// The pages and continue tokens of the current snapshot.
    pages: Pages,
    _t: PhantomData<fn() -> T>,
}

impl<T> ListAll<T> {
    /// Read at most `pages` pages (at least 1; default [`DEFAULT_MAX_PAGES`]); a longer list
    /// fails with [`Error::Decode`] saying so.
    pub fn max_pages(mut self, pages: u32) -> Self {
        self.pages = Pages::new(pages).starting_from(self.start_token.as_deref());
        self
    }

    fn what(&self) -> String {
        match &self.path {
            Ok(p) => format!("list of {p}"),
            Err(_) => "list".to_owned(),
        }
    }
}

impl<T: DeserializeOwned> ListAll<T> {
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

impl<T: DeserializeOwned> Operation for ListAll<T> {
    type Output = ObjectList<T>;
    type Item = Infallible;

    fn poll(&mut self, now: Instant) -> Step<ObjectList<T>> {
        loop {
            let path = match &mut self.path {
                Ok(p) => p,
                Err(e) => return Step::Done(Err(e.take().unwrap_or_else(|| Error::protocol("polled after finish")))),
            };
            if self.exchange.is_none() {
                match crate::step::request(http::Method::GET, &self.params.query().on(path), None) {
                    Ok(req) => self.exchange = Some(Exchange::send(req, &self.retry)),
                    Err(e) => return Step::Done(Err(e)),
                }
            }
            let Some(exchange) = self.exchange.as_mut() else { continue };
            match exchange.poll(now) {
                ExchangeStep::Send(req, io) => return Step::Send(req, io),
                ExchangeStep::WaitUntil(at) => return Step::WaitUntil(at),
                ExchangeStep::Done(Err(e)) => return Step::Done(Err(e)),
                ExchangeStep::Done(Ok(resp)) => {
                    self.exchange = None;
                    if let Some(result) = self.on_page(resp) {
                        return Step::Done(result);
                    }
                }
            }
        }
    }

    fn handle(&mut self, event: Event) {
        if let Some(exchange) = self.exchange.as_mut() {
            exchange.handle(event);
        }
    }
}

fn sub_path(resource: &Resource, namespace: Option<&str>, name: &str, subresource: Option<&str>) -> Result<String> {
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

/// Options of a write (create, replace, patch).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteParams {
    /// `dryRun=All`: validate and admit, persist nothing.
    pub dry_run: bool,
    /// `fieldManager` (who owns the written fields).
    pub field_manager: Option<String>,
}

impl WriteParams {
    fn query(&self) -> Query {
        let mut q = Query::new();
        if self.dry_run {
            q.push("dryRun", "All");
        }
        q.push_opt("fieldManager", self.field_manager.as_deref());
        q
    }
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

/// A patch, in one of the four forms the apiserver accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Patch {
    /// RFC 7386 JSON merge patch (`application/merge-patch+json`): `null` removes a key, lists
    /// are replaced whole.
    Merge(Vec<u8>),
    /// Kubernetes strategic merge patch (`application/strategic-merge-patch+json`): lists merge
    /// by key. Built-in kinds only; custom resources answer 415.
    Strategic(Vec<u8>),
    /// RFC 6902 JSON patch (`application/json-patch+json`): a list of operations.
    Json(Vec<u8>),
    /// Server-side apply (`application/apply-patch+yaml`, JSON is valid YAML): the body is the
    /// whole intended configuration owned by `field_manager` (the context's when `None`);
    /// `force` takes over fields another manager owns instead of failing with a conflict.
    Apply {
        /// The configuration, as JSON or YAML.
        body: Vec<u8>,
        /// Who owns the applied fields.
        field_manager: Option<String>,
        /// Take conflicting fields over.
        force: bool,
    },
}

impl Patch {
    /// A merge patch from any serializable value.
    pub fn merge<B: Serialize + ?Sized>(body: &B) -> Result<Patch> {
        Ok(Patch::Merge(json_body(body)?))
    }
    /// A strategic merge patch from any serializable value.
    pub fn strategic<B: Serialize + ?Sized>(body: &B) -> Result<Patch> {
        Ok(Patch::Strategic(json_body(body)?))
    }
    /// A JSON patch from any serializable list of operations.
    pub fn json<B: Serialize + ?Sized>(ops: &B) -> Result<Patch> {
        Ok(Patch::Json(json_body(ops)?))
    }
    /// A server-side apply of a serializable configuration, owned by the context's field manager.
    pub fn apply<B: Serialize + ?Sized>(body: &B) -> Result<Patch> {
        Ok(Patch::Apply { body: json_body(body)?, field_manager: None, force: false })
    }
    /// A server-side apply of a YAML document.
    pub fn apply_yaml(yaml: impl Into<String>) -> Patch {
        Patch::Apply { body: yaml.into().into_bytes(), field_manager: None, force: false }
    }
    /// Set the field manager of an apply patch (no effect on the other forms).
    pub fn field_manager(mut self, manager: impl Into<String>) -> Patch {
        if let Patch::Apply { field_manager, .. } = &mut self {
            *field_manager = Some(manager.into());
        }
        self
    }
    /// Force an apply patch (no effect on the other forms).
    pub fn force(mut self) -> Patch {
        if let Patch::Apply { force, .. } = &mut self {
            *force = true;
        }
        self
    }

    /// The `Content-Type` of this form.
    pub fn content_type(&self) -> &'static str {
        match self {
            Patch::Merge(_) => "application/merge-patch+json",
            Patch::Strategic(_) => "application/strategic-merge-patch+json",
            Patch::Json(_) => "application/json-patch+json",
            Patch::Apply { .. } => "application/apply-patch+yaml",
        }
    }

    fn body(&self) -> &[u8] {
        match self {
            Patch::Merge(b) | Patch::Strategic(b) | Patch::Json(b) | Patch::Apply { body: b, .. } => b,
        }
    }
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

/// How a delete treats the objects the deleted one owns (pods of a job, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    /// Delete the dependents first; the object disappears last.
    Foreground,
    /// Delete the object now; the garbage collector deletes the dependents after.
    Background,
    /// Leave the dependents.
    Orphan,
}

impl Propagation {
    fn as_str(self) -> &'static str {
        match self {
            Propagation::Foreground => "Foreground",
            Propagation::Background => "Background",
            Propagation::Orphan => "Orphan",
        }
    }
}

/// Options of a delete. A `DeleteOptions` body is sent only when `propagation` or a
/// precondition is set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteParams {
    /// `propagationPolicy`.
    pub propagation: Option<Propagation>,
    /// `gracePeriodSeconds` (0 deletes at once).
    pub grace_period_seconds: Option<u32>,
    /// Delete only if the object is still at this `resourceVersion` (else [`Error::Conflict`]).
    pub precondition_resource_version: Option<String>,
    /// `dryRun=All`.
    pub dry_run: bool,
}

impl DeleteParams {
    /// Delete with this propagation policy.
    pub fn propagation(propagation: Propagation) -> Self {
        DeleteParams { propagation: Some(propagation), ..DeleteParams::default() }
    }
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

/// Options of a watch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchParams {
    /// Start after this `resourceVersion` (from a list, or the last event seen). `None` starts
    /// with synthetic `ADDED` events for every existing object.
    pub resource_version: Option<String>,
    /// `labelSelector`.
    pub label_selector: Option<String>,
    /// `fieldSelector`.
    pub field_selector: Option<String>,
    /// `allowWatchBookmarks=true`.
    pub bookmarks: bool,
    /// `timeoutSeconds`: the server ends the stream after this long.
    pub timeout_seconds: Option<u32>,
}

impl WatchParams {
    /// Watch from `resource_version`.
    pub fn from_version(resource_version: impl Into<String>) -> Self {
        WatchParams { resource_version: Some(resource_version.into()), ..WatchParams::default() }
    }

    fn query(&self) -> Query {
        let mut q = Query::new();
        q.push("watch", "1")
            .push_opt("labelSelector", self.label_selector.as_deref())
            .push_opt("fieldSelector", self.field_selector.as_deref());
        if self.bookmarks {
            q.push("allowWatchBookmarks", "true");
        }
        q.push_opt("timeoutSeconds", self.timeout_seconds.map(|t| t.to_string()).as_deref())
            .push_opt("resourceVersion", self.resource_version.as_deref());
        q
    }
}

/// Extra time, past `timeoutSeconds`, a watch read waits before it counts as stalled.
const WATCH_READ_GRACE: Duration = Duration::from_secs(30);

/// Watch a collection: yields each [`WatchEvent`] (bookmarks and `ERROR` events included, as
/// they came) until the server ends the stream; then finishes with `Ok(())`. It does not
/// resume: to keep watching, start another watch from the last `resourceVersion` seen, and
/// list again after an `ERROR` 410.
///
/// ```
/// use clustermanager_core::k8s::{self, api::{self, Resource, WatchParams}};
/// use serde_json::value::RawValue;
/// let params = WatchParams { bookmarks: true, timeout_seconds: Some(60), ..WatchParams::from_version("1378") };
/// let op = api::watch::<Box<RawValue>>(&k8s::Context::default(), &Resource::CONFIGMAPS, Some("ns"), &params);
/// # let _ = op;
/// ```
pub fn watch<T>(ctx: &Context, resource: &Resource, namespace: Option<&str>, params: &WatchParams) -> Watch<T>
where
    T: DeserializeOwned,
{
    let req = resource
        .list_path(namespace)
        .and_then(|p| crate::step::request(http::Method::GET, &params.query().on(&p), None));
    let timeout = params.timeout_seconds.map(|s| Duration::from_secs(u64::from(s)) + WATCH_READ_GRACE);
    Watch {
        state: match req {
            Ok(r) => {
                let hold =
                    params.timeout_seconds.map_or(Hold::None, |s| Hold::Server(Duration::from_secs(u64::from(s))));
                WatchState::Opening(Box::new(Exchange::open(r, &ctx.retry).holding(hold)))
            }
            Err(e) => WatchState::Failed(Some(e)),
        },
        decoder: WatchDecoder::default(),
        read_timeout: timeout,
    }
}

#[derive(Debug)]
enum WatchState {
    Opening(Box<Exchange>),
    Streaming { ended: bool },
    Failed(Option<Error>),
    Finished,
}

/// The streaming operation of [`watch`].
#[derive(Debug)]
pub struct Watch<T> {
    state: WatchState,
    decoder: WatchDecoder<T>,
    read_timeout: Option<Duration>,
}

impl<T: DeserializeOwned> Operation for Watch<T> {
    type Output = ();
    type Item = WatchEvent<T>;

    fn poll(&mut self, now: Instant) -> Step<(), WatchEvent<T>> {
        match &mut self.state {
            WatchState::Opening(exchange) => match exchange.poll(now) {
                ExchangeStep::Send(req, io) => Step::Open(req, io),
                ExchangeStep::WaitUntil(at) => Step::WaitUntil(at),
                ExchangeStep::Done(Err(e)) => self.fail(e),
                ExchangeStep::Done(Ok(resp)) => match check(resp) {
                    Ok(_) => {
                        self.state = WatchState::Streaming { ended: false };
                        Step::Read { until: self.read_timeout.map(|t| later(now, t)) }
                    }
                    Err(e) => self.fail(e),
                },
            },
            WatchState::Streaming { ended } => {
                let ended = *ended;
                match self.decoder.next_event() {
                    Ok(Some(ev)) => return Step::Yield(ev),
                    Ok(None) => {}
                    Err(e) => return self.fail(e),
                }
                if !ended {
                    return Step::Read { until: self.read_timeout.map(|t| later(now, t)) };
                }
                match self.decoder.finish() {
                    Ok(Some(ev)) => Step::Yield(ev),
                    Ok(None) => {
                        self.state = WatchState::Finished;
                        Step::Done(Ok(()))
                    }
                    Err(e) => self.fail(e),
                }
            }
            WatchState::Failed(e) => {
                let e = e.take().unwrap_or_else(|| Error::protocol("watch polled after it finished"));
                self.fail(e)
            }
            WatchState::Finished => Step::Done(Err(Error::protocol("watch polled after it finished"))),
        }
    }

    fn handle(&mut self, event: Event) {
        match (&mut self.state, event) {
            (WatchState::Opening(exchange), event) => exchange.handle(event),
            (WatchState::Streaming { .. }, Event::Chunk(bytes)) => self.decoder.push(&bytes),
            (WatchState::Streaming { ended }, Event::End) => *ended = true,
            (WatchState::Streaming { .. }, Event::ReadTimeout) => {
                self.state = WatchState::Failed(Some(Error::Timeout {
                    what: "the watch stream: no data, not even the server's end of stream, within timeoutSeconds plus 30 s"
                        .into(),
                }))
            }
            (WatchState::Streaming { .. }, Event::Failed(e)) => self.state = WatchState::Failed(Some(e)),
            (_, other) => {
                self.state = WatchState::Failed(Some(Error::protocol(format!("unexpected event for a watch: {other:?}"))))
            }
        }
    }
}

impl<T> Watch<T> {
    fn fail(&mut self, e: Error) -> Step<(), WatchEvent<T>> {
        self.state = WatchState::Finished;
        Step::Done(Err(e))
    }
}

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
        let watch = super::watcher::WatchParams::new(resource.list_path(namespace)?, format!("{name} to be deleted"))
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
    metadata: super::object::ObjectMeta,
    #[serde(default)]
    status: Option<ConditionsOnly>,
}

impl super::object::Versioned for Conditioned {
    fn resource_version(&self) -> &str {
        &self.metadata.resource_version
    }
}

#[derive(Debug, Deserialize, Default)]
struct ConditionsOnly {
    #[serde(default)]
    conditions: Option<Vec<super::object::ObjectCondition>>,
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
    params: super::watcher::WatchParams,
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
            params: super::watcher::WatchParams::new(list_path, what).fields(format!("metadata.name={name}")),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_for_core_group_and_crds() {
        assert_eq!(Resource::PODS.object_path(Some("ns"), "p").ok().as_deref(), Some("/api/v1/namespaces/ns/pods/p"));
        assert_eq!(Resource::TFJOBS.list_path(None).ok().as_deref(), Some("/apis/kubeflow.org/v1/tfjobs"));
        assert_eq!(
            Resource::CRDS.object_path(None, "tfjobs.kubeflow.org").ok().as_deref(),
            Some("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/tfjobs.kubeflow.org")
        );
        assert!(matches!(Resource::PODS.object_path(None, "p"), Err(Error::InvalidInput { .. })));
        assert!(matches!(Resource::NODES.list_path(Some("ns")), Err(Error::InvalidInput { .. })));
        assert!(matches!(Resource::PODS.object_path(Some("ns"), ""), Err(Error::InvalidInput { .. })));
    }

    #[test]
    fn names_cannot_escape_their_segment() {
        assert_eq!(
            Resource::PODS.object_path(Some("ns"), "../x?y").ok().as_deref(),
            Some("/api/v1/namespaces/ns/pods/..%2Fx%3Fy")
        );
    }

    proptest::proptest! {
        #[test]
        fn segments_round_trip_and_never_hold_delimiters(s in ".{0,40}") {
            let enc = segment(&s);
            proptest::prop_assert!(!enc.contains(['/', '?', '#', '&', '=', '+', ' ']));
            proptest::prop_assert_eq!(percent_encoding::percent_decode_str(&enc).collect::<Vec<u8>>(), s.as_bytes().to_vec());
        }

        #[test]
        fn query_values_round_trip(s in ".{0,40}") {
            let q = format!("k={}", query_value(&s));
            let pairs: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes()).into_owned().collect();
            proptest::prop_assert_eq!(pairs, vec![("k".to_owned(), s)]);
        }
    }

    #[test]
    fn query_values_are_encoded() {
        let mut q = Query::new();
        q.push("labelSelector", "a=b,c in (d)");
        assert_eq!(q.on("/x"), "/x?labelSelector=a%3Db%2Cc%20in%20%28d%29");
    }
}
