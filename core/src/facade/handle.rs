//! Typed handles for the escape hatch, bound to a connected [`ClusterManager`]: its transport
//! and its own context (retry policy and jitter seed, default namespace, Nomad region and
//! namespace). [`ClusterManager::kubernetes`] gives a [`KubernetesHandle`] and its
//! [`Api`] over any resource (the operations of [`k8s::api`]); [`ClusterManager::nomad`]
//! gives a [`NomadHandle`] over any endpoint (the operations of [`nomad::api`]).
//!
//! Building operations with `k8s::Context::default()` by hand works too, but that context has
//! the default retry policy, not the one the manager was configured with; these handles use the
//! manager's.
//!
//! ```no_run
//! # use clustermanager_core::*;
//! # async fn demo(cm: &ClusterManager) -> Result<()> {
//! use clustermanager_core::k8s::api::{ListParams, Patch, Resource, WriteParams};
//!
//! // Every Deployment of `web`, then scale one down: one line each.
//! let deploys = cm.kubernetes()?.api::<serde_json::Value>(Resource::DEPLOYMENTS).namespaced("web");
//! for d in deploys.list(&ListParams::default()).await?.items {
//!     println!("{}", d["metadata"]["name"]);
//! }
//! let patch = Patch::merge(&serde_json::json!({"spec": {"replicas": 1}}))?;
//! deploys.patch("frontend", &patch, &WriteParams::default()).await?;
//! # Ok(()) }
//! ```

use std::marker::PhantomData;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;

use super::{unsupported_on, Backend, ClusterManager};
use crate::error::{Error, Result};
use crate::k8s::api::{self, DeleteParams, Deleted, ListParams, Patch, Resource, WatchParams, WriteParams};
use crate::k8s::object::ObjectList;
use crate::nomad::api::{QueryMeta, QueryOptions};
use crate::step::{Request, Response};
use crate::stream::OwnedStream;
use crate::transport::Transport;
use crate::{k8s, nomad};

impl<T: Transport> ClusterManager<T> {
    /// The Kubernetes escape hatch of this manager, with its retry policy and default
    /// namespace. [`Error::Unsupported`] when the manager talks to Nomad.
    ///
    /// ```no_run
    /// # use clustermanager_core::*;
    /// # async fn demo(cm: &ClusterManager) -> Result<()> {
    /// let version = cm.kubernetes()?.request(http::Method::GET, "/version", None).await?;
    /// println!("{}", String::from_utf8_lossy(version.body()));
    /// # Ok(()) }
    /// ```
    pub fn kubernetes(&self) -> Result<KubernetesHandle<'_, T>> {
        match &self.backend {
            Backend::Kubernetes(ctx) => Ok(KubernetesHandle { cm: self, ctx }),
            Backend::Nomad(_) => Err(unsupported_on(
                "kubernetes",
                "Nomad",
                "this manager talks to Nomad: use ClusterManager::nomad for its escape hatch",
            )),
        }
    }

    /// The Nomad escape hatch of this manager, with its retry policy, region and namespace.
    /// [`Error::Unsupported`] when the manager talks to Kubernetes.
    ///
    /// ```no_run
    /// # use clustermanager_core::*;
    /// # async fn demo(cm: &ClusterManager) -> Result<()> {
    /// use clustermanager_core::nomad::api::QueryOptions;
    /// let opts = QueryOptions { prefix: Some("acm-".into()), ..QueryOptions::default() };
    /// let (jobs, meta) = cm.nomad()?.get::<Vec<serde_json::Value>>("/v1/jobs", &opts).await?;
    /// println!("{} jobs at index {:?}", jobs.len(), meta.index);
    /// # Ok(()) }
    /// ```
    pub fn nomad(&self) -> Result<NomadHandle<'_, T>> {
        match &self.backend {
            Backend::Nomad(ctx) => Ok(NomadHandle { cm: self, ctx }),
            Backend::Kubernetes(_) => Err(unsupported_on(
                "nomad",
                "Kubernetes",
                "this manager talks to Kubernetes: use ClusterManager::kubernetes for its escape hatch",
            )),
        }
    }
}

/// The Kubernetes escape hatch of a [`ClusterManager`] (from [`ClusterManager::kubernetes`]):
/// typed [`Api`]s over any resource and raw requests, all with the manager's context.
pub struct KubernetesHandle<'a, T = crate::DynTransport> {
    cm: &'a ClusterManager<T>,
    ctx: &'a k8s::Context,
}

impl<T> Clone for KubernetesHandle<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for KubernetesHandle<'_, T> {}

impl<T> std::fmt::Debug for KubernetesHandle<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubernetesHandle").field("ctx", self.ctx).finish_non_exhaustive()
    }
}

impl<'a, T: Transport> KubernetesHandle<'a, T> {
    /// The manager's Kubernetes context (retry policy, default namespace, field manager), for
    /// building [`k8s`] operations by hand and running them with [`ClusterManager::run`].
    pub fn context(&self) -> &'a k8s::Context {
        self.ctx
    }

    /// Objects of `resource`, decoded into `K` (a lean struct of your own, `serde_json::Value`,
    /// or `Box<RawValue>` for the server's bytes as they came). Cluster-scoped resources are
    /// ready to use; a namespaced one lists across every namespace until you pick one with
    /// [`Api::namespaced`] or [`Api::default_namespaced`].
    pub fn api<K>(self, resource: Resource) -> Api<'a, K, T>
    where
        K: DeserializeOwned + Send + 'static,
    {
        Api { cm: self.cm, ctx: self.ctx, resource, namespace: None, _k: PhantomData }
    }

    /// Send `method path_and_query` with an optional JSON body (discovery, `/version`,
    /// `/readyz`, anything else): see [`k8s::api::request`].
    pub async fn request(&self, method: http::Method, path_and_query: &str, body: Option<Vec<u8>>) -> Result<Response> {
        self.cm.run(api::request(self.ctx, method, path_and_query, body)).await
    }

    /// Send any request built by hand: see [`k8s::api::send`].
    pub async fn send(&self, request: Request) -> Result<Response> {
        self.cm.run(api::send(self.ctx, request)).await
    }
}

/// The objects of one Kubernetes resource, in one namespace or all of them, over a
/// [`ClusterManager`] (from [`KubernetesHandle::api`]). Each method runs one operation of
/// [`k8s::api`] with the manager's context.
pub struct Api<'a, K, T = crate::DynTransport> {
    cm: &'a ClusterManager<T>,
    ctx: &'a k8s::Context,
    resource: Resource,
    namespace: Option<String>,
    _k: PhantomData<fn() -> K>,
}

impl<K, T> Clone for Api<'_, K, T> {
    fn clone(&self) -> Self {
        Api {
            cm: self.cm,
            ctx: self.ctx,
            resource: self.resource.clone(),
            namespace: self.namespace.clone(),
            _k: PhantomData,
        }
    }
}

impl<K, T> std::fmt::Debug for Api<'_, K, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").field("resource", &self.resource).field("namespace", &self.namespace).finish()
    }
}

impl<'a, K, T> Api<'a, K, T>
where
    K: DeserializeOwned + Send + 'static,
    T: Transport,
{
    /// The objects of `namespace` (for a namespaced resource).
    pub fn namespaced(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// The objects of the manager's default namespace (kubeconfig context, service account,
    /// [`Config::namespace`](crate::Config::namespace)).
    pub fn default_namespaced(mut self) -> Self {
        self.namespace = Some(self.ctx.default_namespace.clone());
        self
    }

    /// Every namespace (lists and watches only; a single object needs its namespace).
    pub fn all(mut self) -> Self {
        self.namespace = None;
        self
    }

    /// The resource.
    pub fn resource(&self) -> &Resource {
        &self.resource
    }

    /// The namespace, if one was chosen.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    fn ns(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// One page of objects: see [`k8s::api::list`].
    pub async fn list(&self, params: &ListParams) -> Result<ObjectList<K>> {
        self.cm.run(api::list(self.ctx, &self.resource, self.ns(), params)).await
    }

    /// Every object, page after page, as one consistent snapshot: see [`k8s::api::list_all`].
    pub async fn list_all(&self, params: &ListParams) -> Result<ObjectList<K>> {
        self.cm.run(api::list_all(self.ctx, &self.resource, self.ns(), params)).await
    }

    /// One object; [`Error::NotFound`] if there is none: see [`k8s::api::get`].
    pub async fn get(&self, name: &str) -> Result<K> {
        self.cm.run(api::get(self.ctx, &self.resource, self.ns(), name)).await
    }

    /// One object, or `None` if there is none.
    pub async fn get_opt(&self, name: &str) -> Result<Option<K>> {
        match self.get(name).await {
            Ok(object) => Ok(Some(object)),
            Err(Error::NotFound(_)) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Create an object; returns what the server stored: see [`k8s::api::create`].
    pub async fn create<B: Serialize + ?Sized>(&self, object: &B, params: &WriteParams) -> Result<K> {
        self.cm.run(api::create(self.ctx, &self.resource, self.ns(), object, params)).await
    }

    /// Replace an object (include `metadata.resourceVersion` to fail with [`Error::Conflict`]
    /// if it changed since you read it): see [`k8s::api::replace`].
    pub async fn replace<B: Serialize + ?Sized>(&self, name: &str, object: &B, params: &WriteParams) -> Result<K> {
        self.cm.run(api::replace(self.ctx, &self.resource, self.ns(), name, None, object, params)).await
    }

    /// Replace a subresource of an object (`scale`, `status`).
    pub async fn replace_subresource<B: Serialize + ?Sized>(
        &self,
        name: &str,
        subresource: &str,
        object: &B,
        params: &WriteParams,
    ) -> Result<K> {
        self.cm.run(api::replace(self.ctx, &self.resource, self.ns(), name, Some(subresource), object, params)).await
    }

    /// Patch an object: see [`k8s::api::patch`].
    pub async fn patch(&self, name: &str, patch: &Patch, params: &WriteParams) -> Result<K> {
        self.cm.run(api::patch(self.ctx, &self.resource, self.ns(), name, None, patch, params)).await
    }

    /// Patch a subresource of an object (`scale`, `status`).
    pub async fn patch_subresource(
        &self,
        name: &str,
        subresource: &str,
        patch: &Patch,
        params: &WriteParams,
    ) -> Result<K> {
        self.cm.run(api::patch(self.ctx, &self.resource, self.ns(), name, Some(subresource), patch, params)).await
    }

    /// Delete an object; [`Error::NotFound`] if there is none: see [`k8s::api::delete`].
    pub async fn delete(&self, name: &str, params: &DeleteParams) -> Result<Deleted> {
        self.cm.run(api::delete(self.ctx, &self.resource, self.ns(), name, params)).await
    }
}

/// The streams of the Kubernetes handle: owned, so they need a transport that is
/// `Clone + 'static` (every transport here is).
impl<K, T> Api<'_, K, T>
where
    K: DeserializeOwned + Send + 'static,
    T: Transport + Clone + 'static,
{
    /// Watch the objects: an owned [`futures_core::Stream`] of [`WatchEvent`](k8s::watch::WatchEvent)s until
    /// the server ends the stream (see [`k8s::api::watch`]; it does not resume by itself). The
    /// stream holds a clone of the manager's transport: move it into a spawned task.
    ///
    /// ```no_run
    /// # use clustermanager_core::*;
    /// # async fn demo(cm: &ClusterManager) -> Result<()> {
    /// use clustermanager_core::k8s::api::{Resource, WatchParams};
    /// use clustermanager_core::k8s::watch::WatchEvent;
    /// let pods = cm.kubernetes()?.api::<serde_json::Value>(Resource::PODS).namespaced("batch");
    /// let mut events = pods.watch(&WatchParams { timeout_seconds: Some(60), ..WatchParams::default() });
    /// while let Some(event) = events.next().await {
    ///     if let WatchEvent::Added(pod) | WatchEvent::Modified(pod) = event? {
    ///         println!("{}", pod["status"]["phase"]);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn watch(&self, params: &WatchParams) -> OwnedStream<T, api::Watch<K>> {
        self.cm.stream(api::watch(self.ctx, &self.resource, self.ns(), params))
    }
}

/// The Nomad escape hatch of a [`ClusterManager`] (from [`ClusterManager::nomad`]): reads,
/// writes and paginated lists of any endpoint with [`QueryOptions`], all with the manager's
/// context (retry policy, region, namespace). Paths are as on the wire (`/v1/jobs`) or without
/// the `/v1/` prefix; build them from untrusted names with [`nomad::api::path`].
pub struct NomadHandle<'a, T = crate::DynTransport> {
    cm: &'a ClusterManager<T>,
    ctx: &'a nomad::Context,
}

impl<T> Clone for NomadHandle<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for NomadHandle<'_, T> {}

impl<T> std::fmt::Debug for NomadHandle<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NomadHandle").field("ctx", self.ctx).finish_non_exhaustive()
    }
}

impl<'a, T: Transport> NomadHandle<'a, T> {
    /// The manager's Nomad context (retry policy, region, namespace, datacenters), for building
    /// [`nomad`] operations by hand and running them with [`ClusterManager::run`].
    pub fn context(&self) -> &'a nomad::Context {
        self.ctx
    }

    /// Read `path` and decode its JSON answer (a blocking query with `opts.index`): see
    /// [`nomad::api::get`].
    pub async fn get<V: DeserializeOwned + Send + 'static>(
        &self,
        path: &str,
        opts: &QueryOptions,
    ) -> Result<(V, QueryMeta)> {
        self.cm.run(nomad::api::get(self.ctx, path, opts)).await
    }

    /// Read `path`, keeping its JSON answer raw: see [`nomad::api::get_raw`].
    pub async fn get_raw(&self, path: &str, opts: &QueryOptions) -> Result<(Box<RawValue>, QueryMeta)> {
        self.cm.run(nomad::api::get_raw(self.ctx, path, opts)).await
    }

    /// Read `path` as bytes (answers that are not JSON): see [`nomad::api::get_bytes`].
    pub async fn get_bytes(&self, path: &str, opts: &QueryOptions) -> Result<(Bytes, QueryMeta)> {
        self.cm.run(nomad::api::get_bytes(self.ctx, path, opts)).await
    }

    /// Every page of the list at `path`: see [`nomad::api::list_all`].
    pub async fn list_all<V: DeserializeOwned + Send + 'static>(
        &self,
        path: &str,
        opts: &QueryOptions,
    ) -> Result<(Vec<V>, QueryMeta)> {
        self.cm.run(nomad::api::list_all(self.ctx, path, opts)).await
    }

    /// Send an already encoded body (or none) with `method`: see [`nomad::api::write()`].
    pub async fn write(
        &self,
        method: http::Method,
        path: &str,
        opts: &QueryOptions,
        body: Option<Vec<u8>>,
    ) -> Result<(Option<Box<RawValue>>, QueryMeta)> {
        self.cm.run(nomad::api::write(self.ctx, method, path, opts, body)).await
    }

    /// Send `body` as JSON with `method`: see [`nomad::api::write_json`].
    pub async fn write_json<B: Serialize + ?Sized>(
        &self,
        method: http::Method,
        path: &str,
        opts: &QueryOptions,
        body: &B,
    ) -> Result<(Option<Box<RawValue>>, QueryMeta)> {
        self.cm.run(nomad::api::write_json(self.ctx, method, path, opts, body)).await
    }
}

/// The streams of the Nomad handle: owned, so they need a transport that is `Clone + 'static`.
impl<T: Transport + Clone + 'static> NomadHandle<'_, T> {
    /// Subscribe to the event stream (`/v1/event/stream`, see [`nomad::events::stream`]) as an
    /// owned [`futures_core::Stream`] of [`EventBatch`](nomad::events::EventBatch)es, with the
    /// manager's context (retry policy, region, namespace).
    ///
    /// ```no_run
    /// # use clustermanager_core::*;
    /// # async fn demo(cm: &ClusterManager) -> Result<()> {
    /// use clustermanager_core::nomad::events::{EventQuery, Topic};
    /// let mut batches = cm.nomad()?.events(&EventQuery::new().topic(Topic::Job { filter_key: None }));
    /// let task = async move {
    ///     while let Some(Ok(batch)) = batches.next().await {
    ///         println!("index {}: {} events", batch.index, batch.events.len());
    ///     }
    /// };
    /// # fn spawnable<F: std::future::Future + Send + 'static>(_: F) {}
    /// spawnable(task);
    /// # Ok(()) }
    /// ```
    pub fn events(&self, query: &nomad::events::EventQuery) -> OwnedStream<T, nomad::events::EventStream> {
        self.cm.stream(nomad::events::stream(self.ctx, query))
    }
}
