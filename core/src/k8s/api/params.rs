//! The parameters of the generic operations: the [`Query`] string builder, [`ListParams`],
//! [`WriteParams`], [`Patch`] (its forms and content types), [`DeleteParams`] with
//! [`Propagation`], and [`WatchParams`].

use crate::encode::query_value;
use crate::error::{Error, Result};
use serde::Serialize;

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
    /// `labelSelector` (`app=x,tier in (a,b)`; see [`LabelSelector`](crate::k8s::configmap::LabelSelector)).
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

    pub(super) fn query(&self) -> Query {
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

/// Options of a write (create, replace, patch).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteParams {
    /// `dryRun=All`: validate and admit, persist nothing.
    pub dry_run: bool,
    /// `fieldManager` (who owns the written fields).
    pub field_manager: Option<String>,
}

impl WriteParams {
    pub(super) fn query(&self) -> Query {
        let mut q = Query::new();
        if self.dry_run {
            q.push("dryRun", "All");
        }
        q.push_opt("fieldManager", self.field_manager.as_deref());
        q
    }
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

    pub(super) fn body(&self) -> &[u8] {
        match self {
            Patch::Merge(b) | Patch::Strategic(b) | Patch::Json(b) | Patch::Apply { body: b, .. } => b,
        }
    }
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
    pub(super) fn as_str(self) -> &'static str {
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
    /// A watch-list request (`sendInitialEvents=true&resourceVersionMatch=NotOlderThan`, with
    /// `resource_version` unset and `bookmarks` on): the server streams the existing objects as
    /// `ADDED` events, then a bookmark with
    /// [`initial_events_end`](crate::k8s::watch::WatchEvent::Bookmark), then the changes.
    /// Kubernetes 1.27+ with a recent etcd; older servers ignore it, 1.34+ with an old etcd
    /// answer one `ERROR` event (see [`Watcher`](crate::k8s::watcher::Watcher), which falls back).
    pub send_initial_events: bool,
}

impl WatchParams {
    /// A watch-list request: the existing objects, the end-of-initial-events bookmark, then the
    /// changes (see [`send_initial_events`](Self::send_initial_events)).
    ///
    /// ```
    /// use clustermanager_core::k8s::{self, api::{self, Resource, WatchParams}};
    /// use serde_json::value::RawValue;
    /// let params = WatchParams::watch_list();
    /// let mut op = api::watch::<Box<RawValue>>(&k8s::Context::default(), &Resource::JOBS, Some("ns"), &params);
    /// # use clustermanager_core::{Operation, Step};
    /// let Step::Open(req, _) = op.poll(std::time::Instant::now()) else { panic!() };
    /// assert_eq!(
    ///     req.uri().query(),
    ///     Some("watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true")
    /// );
    /// ```
    pub fn watch_list() -> Self {
        WatchParams { send_initial_events: true, bookmarks: true, ..WatchParams::default() }
    }

    /// Watch from `resource_version`.
    pub fn from_version(resource_version: impl Into<String>) -> Self {
        WatchParams { resource_version: Some(resource_version.into()), ..WatchParams::default() }
    }

    pub(super) fn query(&self) -> Query {
        let mut q = Query::new();
        q.push("watch", "1")
            .push_opt("labelSelector", self.label_selector.as_deref())
            .push_opt("fieldSelector", self.field_selector.as_deref());
        if self.send_initial_events {
            q.push("sendInitialEvents", "true").push("resourceVersionMatch", "NotOlderThan");
        }
        if self.bookmarks {
            q.push("allowWatchBookmarks", "true");
        }
        q.push_opt("timeoutSeconds", self.timeout_seconds.map(|t| t.to_string()).as_deref())
            .push_opt("resourceVersion", self.resource_version.as_deref());
        q
    }
}

pub(super) fn json_body<B: Serialize + ?Sized>(body: &B) -> Result<Vec<u8>> {
    serde_json::to_vec(body).map_err(|e| Error::InvalidInput {
        field: "body".into(),
        problem: format!("cannot be serialized as JSON: {e}"),
    })
}
