//! [`ClusterManager`]: the seed's API, written once over any [`Transport`], dispatching each call
//! to the Kubernetes or Nomad operation. The waits for a job are in [`waits`].

mod dispatch;
pub mod handle;
pub mod progress;
pub mod waits;
pub mod workloads;

use std::time::Duration;

use crate::config::Config;
use crate::driver::Driver;
use crate::erased::DynTransport;
use crate::error::{Error, Result};
use crate::model::*;
use crate::retry::Retry;
use crate::shared::Rooms;
use crate::step::BoxOperation;
use crate::step::Operation;
use crate::stream::OwnedStream;
use crate::transport::Transport;
use crate::{k8s, nomad};

/// Which orchestrator a [`ClusterManager`] talks to, with what its operations need to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// A Kubernetes apiserver.
    Kubernetes(k8s::Context),
    /// A Nomad agent (after the connect step learned its datacenters).
    Nomad(nomad::Context),
}

impl Backend {
    /// The table of this orchestrator's operations (see `dispatch.rs`).
    pub(crate) fn ops(&self) -> &dyn dispatch::Ops {
        match self {
            Backend::Kubernetes(c) => c,
            Backend::Nomad(c) => c,
        }
    }
}

/// The seed's API over one cluster: the same methods for Kubernetes and Nomad.
///
/// Get one from a transport crate (`clustermanager_tokio::connect(&config)`, or
/// `clustermanager_tokio::connect_infer()` to find the cluster as kubectl does), from the fake
/// cluster (`clustermanager_fake::FakeCluster::cluster_manager`), or build one over your own
/// [`Transport`] with [`ClusterManager::connect`].
///
/// Written without a type parameter, `ClusterManager` is the manager over a [`DynTransport`]:
/// one type for every transport, to name in a struct field or a function signature, and the one
/// that the transport crates re-export and their `connect` return.
/// [`erase`](ClusterManager::erase) turns a manager over a concrete transport into it (see
/// [`DynTransport`](crate::DynTransport)); `ClusterManager<TokioTransport>` and friends (from the
/// transports' `connect_typed`) stay available for code that wants the transport's own type.
///
/// ```
/// use clustermanager_core::{ClusterManager, Result};
///
/// /// How many jobs each namespace runs: works with the tokio, async-std and fake managers alike.
/// async fn report(cm: &ClusterManager, namespaces: &[&str]) -> Result<Vec<(String, usize)>> {
///     let mut counts = Vec::new();
///     for ns in namespaces {
///         counts.push((ns.to_string(), cm.running_jobs(ns).await?.len()));
///     }
///     Ok(counts)
/// }
/// ```
///
/// Cheap to clone when its transport is (every transport here is, and [`DynTransport`] always
/// is): clones share the connection pool, the connection budget and the credential caches, so
/// one manager can be handed to many tasks without an `Arc`.
#[derive(Clone)]
pub struct ClusterManager<T = DynTransport> {
    transport: T,
    backend: Backend,
    /// The shared observations of the waits in flight, by namespace.
    rooms: Rooms,
}

impl<T> std::fmt::Debug for ClusterManager<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterManager").field("backend", &self.backend).finish_non_exhaustive()
    }
}

/// A followed log: a `'static` [`futures_core::Stream`] of lines (or call
/// [`OwnedStream::next`] until it returns `None`).
pub type LogStream<T = DynTransport> = OwnedStream<T, BoxOperation<(), LogLine>>;

/// [`Error::Unsupported`]: `operation` is not offered on `orchestrator`, and `hint` says what to
/// use instead.
pub(crate) fn unsupported_on(operation: &'static str, orchestrator: &'static str, hint: &'static str) -> Error {
    Error::Unsupported { operation, orchestrator, hint }
}

/// The streams: owned, `'static` values (they hold a clone of the transport), so they need a
/// transport that is `Clone + 'static`, as every transport here is.
impl<T: Transport + Clone + 'static> ClusterManager<T> {
    /// Drive a streaming operation as an owned [`futures_core::Stream`] of its items. As for
    /// [`run`](Self::run), build it from the manager's own context.
    ///
    /// ```no_run
    /// # use clustermanager_core::*;
    /// # async fn demo(cm: &ClusterManager) -> Result<()> {
    /// use clustermanager_core::nomad::events::{self, EventQuery, Topic};
    /// let ctx = cm.nomad()?.context();
    /// let query = EventQuery::new().topic(Topic::Job { filter_key: None });
    /// let mut batches = cm.stream(events::stream(ctx, &query));
    /// while let Some(batch) = batches.next().await {
    ///     println!("index {}", batch?.index);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stream<O>(&self, op: O) -> OwnedStream<T, O>
    where
        O: Operation + Send + 'static,
        O::Item: Send,
        O::Output: Send,
    {
        OwnedStream::new(self.transport.clone(), op)
    }

    /// Follow the log of an execution, line by line, until it ends or the caller drops the stream.
    /// The stream is owned (`Send + 'static`, a [`futures_core::Stream`]): move it into a
    /// spawned task; dropping it closes its connection.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use clustermanager_core::*;
    /// # async fn demo(cm: &ClusterManager) -> Result<()> {
    /// let mut lines = cm.get_execution_log_watch("batch", "hello-x7k2p", &LogOptions::default());
    /// while let Some(line) = lines.next().await {
    ///     println!("{}", line?.text);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn get_execution_log_watch(&self, namespace: &str, id: &str, options: &LogOptions) -> LogStream<T> {
        let op = self.backend.ops().follow_execution_log(namespace, id, options);
        OwnedStream::new(self.transport.clone(), op)
    }
}

impl<T: Transport> ClusterManager<T> {
    /// A manager over `transport` for the cluster `config` describes. For Nomad this runs the
    /// connect step (reads `/v1/agent/self`, learns the region and datacenters) and fails if
    /// the agent does not answer. `seed` seeds retry jitter.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport>(transport: T) -> Result<()> {
    /// let config = Config::nomad("http://127.0.0.1:4646")?;
    /// let cm = ClusterManager::connect(transport, &config, 42).await?;
    /// println!("{:?}", cm.orchestrator());
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn connect(transport: T, config: &Config, seed: u64) -> Result<Self> {
        let retry = Retry { policy: config.retry.clone(), seed };
        let backend = match config.orchestrator {
            Orchestrator::Kubernetes => Backend::Kubernetes(k8s::Context {
                retry,
                default_namespace: config.namespace.clone().unwrap_or_else(|| "default".into()),
                ..k8s::Context::default()
            }),
            Orchestrator::Nomad => {
                let ctx = nomad::Context {
                    retry,
                    region: config.region.clone(),
                    namespace: config.namespace.clone(),
                    namespace_mode: config.nomad_namespace_mode,
                    ..nomad::Context::default()
                };
                Backend::Nomad(Driver::new(&transport, nomad::connect::connect(ctx)).finish().await?)
            }
        };
        Ok(ClusterManager { transport, backend, rooms: Rooms::default() })
    }

    /// A manager from parts, without any connect step (tests, custom setups).
    pub fn from_parts(transport: T, backend: Backend) -> Self {
        ClusterManager { transport, backend, rooms: Rooms::default() }
    }

    /// This manager over a [`DynTransport`]: the one type `ClusterManager` names without type
    /// parameters. Cheap (one `Arc` for the transport); the erased manager shares the transport
    /// (pool, budget, credential caches) and the shared observations of waits with `self`'s
    /// clones. Erasing an erased manager does not box again.
    ///
    /// (A `From` conversion cannot be offered: `impl<T> From<ClusterManager<T>> for
    /// ClusterManager` overlaps with the standard `From<T> for T` when `T` is `DynTransport`.)
    ///
    /// ```
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport + 'static>(cm: ClusterManager<T>) -> Result<()> {
    /// let cm: ClusterManager = cm.erase();
    /// let nodes = cm.get_nodes().await?;
    /// # Ok(()) }
    /// ```
    pub fn erase(self) -> ClusterManager
    where
        T: 'static,
    {
        ClusterManager { transport: DynTransport::new(self.transport), backend: self.backend, rooms: self.rooms }
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The orchestrator and its context.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// How many shared observations (one per namespace with waits in flight) are running now.
    /// Each holds at most one stream or request, whatever the number of waiters.
    pub fn shared_observations(&self) -> usize {
        self.rooms.live()
    }

    /// Which orchestrator this manager talks to.
    pub fn orchestrator(&self) -> Orchestrator {
        match self.backend {
            Backend::Kubernetes(_) => Orchestrator::Kubernetes,
            Backend::Nomad(_) => Orchestrator::Nomad,
        }
    }

    /// Run any operation (the escape hatch: [`k8s::api`], [`nomad::api`], ...) to its end.
    ///
    /// Build the operation from the manager's own context ([`KubernetesHandle::context`],
    /// [`NomadHandle::context`]), not from `k8s::Context::default()`, which has the default
    /// retry policy instead of the configured one. The typed handles ([`kubernetes`],
    /// [`nomad`]) do that for the common operations.
    ///
    /// [`KubernetesHandle::context`]: handle::KubernetesHandle::context
    /// [`NomadHandle::context`]: handle::NomadHandle::context
    /// [`kubernetes`]: ClusterManager::kubernetes
    /// [`nomad`]: ClusterManager::nomad
    ///
    /// ```no_run
    /// # use clustermanager_core::*;
    /// # async fn demo(cm: &ClusterManager) -> Result<()> {
    /// use clustermanager_core::k8s::api::{self, Resource};
    /// let ctx = cm.kubernetes()?.context();
    /// let pod: Box<serde_json::value::RawValue> = cm.run(api::get(ctx, &Resource::PODS, Some("batch"), "hello-x7k2p")).await?;
    /// # Ok(()) }
    /// ```
    pub async fn run<O: Operation>(&self, op: O) -> Result<O::Output> {
        Driver::new(&self.transport, op).finish().await
    }

    /// Create a namespace and wait until it is usable. `false` if it already existed.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport>(cm: &ClusterManager<T>) -> Result<()> {
    /// if cm.create_namespace("batch").await? {
    ///     println!("created");
    /// }
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all, fields(object = %name))]
    pub async fn create_namespace(&self, name: &str) -> Result<bool> {
        self.run(self.backend.ops().create_namespace(name)).await
    }

    /// Delete a namespace and wait until it is gone. `false` if it did not exist.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport>(cm: &ClusterManager<T>) -> Result<()> {
    /// let existed = cm.delete_namespace("batch").await?;
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all, fields(object = %name))]
    pub async fn delete_namespace(&self, name: &str) -> Result<bool> {
        self.run(self.backend.ops().delete_namespace(name)).await
    }

    /// The cluster's nodes.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport>(cm: &ClusterManager<T>) -> Result<()> {
    /// for node in cm.get_nodes().await? {
    ///     println!("{} ready={} cpu={:?}", node.name, node.ready, node.cpu_capacity);
    /// }
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn get_nodes(&self) -> Result<Vec<Node>> {
        self.run(self.backend.ops().get_nodes()).await
    }

    /// Limit the CPU and memory a namespace may use (Kubernetes ResourceQuota). Nomad quotas
    /// are an Enterprise feature: [`Error::Unsupported`].
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport>(cm: &ClusterManager<T>) -> Result<()> {
    /// cm.define_quota("batch", "4", "8Gi").await?;
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace))]
    pub async fn define_quota(&self, namespace: &str, cpu_limit: &str, mem_limit: &str) -> Result<()> {
        self.run(self.backend.ops().define_quota(namespace, cpu_limit, mem_limit)).await
    }

    /// Create a batch job.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport>(cm: &ClusterManager<T>) -> Result<()> {
    /// let spec = JobSpec::new("hello").image("busybox:1.36").command(["echo", "hello"]).cpu_limit("500m").mem_limit("64Mi");
    /// let job = cm.create_job("batch", &spec).await?;
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %spec.name))]
    pub async fn create_job(&self, namespace: &str, spec: &JobSpec) -> Result<Job> {
        self.run(self.backend.ops().create_job(namespace, spec)).await
    }

    /// The jobs of a namespace.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport>(cm: &ClusterManager<T>) -> Result<()> {
    /// for job in cm.list_jobs("batch").await? {
    ///     println!("{}: {:?}", job.name, job.status);
    /// }
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace))]
    pub async fn list_jobs(&self, namespace: &str) -> Result<Vec<Job>> {
        self.run(self.backend.ops().list_jobs(namespace)).await
    }

    /// One job with its unified status, and, while it has not finished, why it is pending when
    /// the server says ([`Job::pending_reason`]; one more read: its pods on Kubernetes, its
    /// evaluations and allocations on Nomad, see [`diagnose_job`](Self::diagnose_job)).
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport>(cm: &ClusterManager<T>) -> Result<()> {
    /// let job = cm.get_job("batch", "hello").await?;
    /// assert!(job.status.is_some());
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %name))]
    pub async fn get_job(&self, namespace: &str, name: &str) -> Result<Job> {
        let job = self.run(self.backend.ops().get_job(namespace, name)).await?;
        let job = self.with_end(namespace, name, job).await;
        Ok(self.with_reason(namespace, name, job).await)
    }

    /// Delete a job (with its executions when `options.purge`), waiting when `options.wait`.
    /// `false` if it did not exist.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport>(cm: &ClusterManager<T>) -> Result<()> {
    /// let existed = cm.delete_job("batch", "hello", DeleteOptions { wait: true, purge: true }).await?;
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %name))]
    pub async fn delete_job(&self, namespace: &str, name: &str, options: DeleteOptions) -> Result<bool> {
        self.run(self.backend.ops().delete_job(namespace, name, options)).await
    }

    /// The seed's `cleanup_jobs`: delete every job of the namespace (finished or not, with its
    /// executions), waiting until each is gone, then return how many jobs are left (0 unless
    /// someone created one meanwhile). To remove only finished jobs, see
    /// [`cleanup_finished_jobs`](Self::cleanup_finished_jobs).
    ///
    /// ```no_run
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport>(cm: &ClusterManager<T>) -> Result<()> {
    /// assert_eq!(cm.cleanup_jobs("batch").await?, 0);
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace))]
    pub async fn cleanup_jobs(&self, namespace: &str) -> Result<usize> {
        for job in self.list_jobs(namespace).await? {
            self.delete_job(namespace, &job.name, DeleteOptions { wait: true, purge: true }).await?;
        }
        Ok(self.list_jobs(namespace).await?.len())
    }

    /// Delete every *finished* job of a namespace (with its executions, without waiting);
    /// returns their names. Running and pending jobs are left alone.
    ///
    /// ```no_run
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport>(cm: &ClusterManager<T>) -> Result<()> {
    /// let removed = cm.cleanup_finished_jobs("batch").await?;
    /// println!("removed {removed:?}");
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace))]
    pub async fn cleanup_finished_jobs(&self, namespace: &str) -> Result<Vec<String>> {
        self.run(self.backend.ops().cleanup_jobs(namespace)).await
    }

    /// The seed's `waiting_jobs`: the jobs that have no execution at all yet (no pod, no
    /// allocation). A job whose pod exists but is still pending (unschedulable, pulling its
    /// image) is neither waiting nor running here, as in the seed; filter
    /// [`list_jobs`](Self::list_jobs) on [`Job::status`] for the server's own view.
    ///
    /// ```no_run
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport>(cm: &ClusterManager<T>) -> Result<()> {
    /// let names: Vec<String> = cm.waiting_jobs("batch").await?.into_iter().map(|j| j.name).collect();
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace))]
    pub async fn waiting_jobs(&self, namespace: &str) -> Result<Vec<Job>> {
        let (jobs, executions) = self.jobs_and_executions(namespace).await?;
        Ok(jobs.into_iter().filter(|j| !executions.iter().any(|e| e.job_name == j.name)).collect())
    }

    /// The seed's `running_jobs`: the jobs with an execution running now (a pod in phase
    /// `Running`, an allocation `running`).
    ///
    /// ```no_run
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport>(cm: &ClusterManager<T>) -> Result<()> {
    /// let running = cm.running_jobs("batch").await?;
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace))]
    pub async fn running_jobs(&self, namespace: &str) -> Result<Vec<Job>> {
        let (jobs, executions) = self.jobs_and_executions(namespace).await?;
        let running = |j: &Job| executions.iter().any(|e| e.job_name == j.name && e.status == Some(Status::Running));
        Ok(jobs.into_iter().filter(running).collect())
    }

    /// The namespace's jobs and all their executions.
    async fn jobs_and_executions(&self, namespace: &str) -> Result<(Vec<Job>, Vec<Execution>)> {
        let jobs = self.list_jobs(namespace).await?;
        let executions = if jobs.is_empty() { Vec::new() } else { self.list_jobs_executions(namespace).await? };
        Ok((jobs, executions))
    }

    /// Wait until an execution of the job reaches one of `statuses`; returns it. While none has
    /// started it looks at why, as [`wait_for_job`](Self::wait_for_job) does: a permanent
    /// reason (an invalid image, a missing Nomad driver) ends it with [`Error::CannotRun`], and
    /// a timeout names the last reason (this is
    /// [`wait_for_job_execution_status_with`](Self::wait_for_job_execution_status_with) with the
    /// default [`WaitOptions`](waits::WaitOptions)).
    ///
    /// Concurrent execution waits on one namespace share one observation of it: one list + watch of its job pods on Kubernetes, the chain of blocking
    /// job-list queries `wait_for_job` uses on Nomad (each stub's `JobSummary` counts its
    /// allocations by status). Each wait looks at its job's executions when it starts (the job,
    /// then its pods / allocations: what a wait on its own read first) and again only when the
    /// observation says one of them may be in a wanted status (or, on Kubernetes, a pod of its
    /// job was deleted, or orphaned by its Job's deletion). A job that does not exist, or is
    /// deleted while waiting, is [`Error::NotFound`].
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport>(cm: &ClusterManager<T>) -> Result<()> {
    /// let running = cm
    ///     .wait_for_job_execution_status("batch", "hello", &[Status::Running, Status::Succeeded, Status::Failed], None)
    ///     .await?;
    /// println!("{} is {:?}", running.id, running.status);
    /// # Ok(()) }
    /// ```
    pub async fn wait_for_job_execution_status(
        &self,
        namespace: &str,
        job: &str,
        statuses: &[Status],
        timeout: Option<Duration>,
    ) -> Result<Execution> {
        let options = waits::WaitOptions::new().timeout(timeout);
        self.wait_for_job_execution_status_with(namespace, job, statuses, &options).await
    }

    /// Every execution of every job in the namespace.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport>(cm: &ClusterManager<T>) -> Result<()> {
    /// let all = cm.list_jobs_executions("batch").await?;
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace))]
    pub async fn list_jobs_executions(&self, namespace: &str) -> Result<Vec<Execution>> {
        self.run(self.backend.ops().list_jobs_executions(namespace)).await
    }

    /// The executions of one job.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport>(cm: &ClusterManager<T>) -> Result<()> {
    /// for e in cm.list_job_executions("batch", "hello").await? {
    ///     println!("{} on {:?}: {:?}", e.id, e.node, e.status);
    /// }
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %job))]
    pub async fn list_job_executions(&self, namespace: &str, job: &str) -> Result<Vec<Execution>> {
        self.run(self.backend.ops().list_job_executions(namespace, job)).await
    }

    /// Delete (Kubernetes) or stop (Nomad) one execution. `false` if it did not exist.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport>(cm: &ClusterManager<T>) -> Result<()> {
    /// let existed = cm.delete_execution("batch", "hello-x7k2p").await?;
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %id))]
    pub async fn delete_execution(&self, namespace: &str, id: &str) -> Result<bool> {
        self.run(self.backend.ops().delete_execution(namespace, id)).await
    }

    /// The log of an execution so far.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport>(cm: &ClusterManager<T>) -> Result<()> {
    /// let log = cm.get_execution_log("batch", "hello-x7k2p", &LogOptions { tail_lines: Some(100), ..LogOptions::default() }).await?;
    /// print!("{log}");
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %id))]
    pub async fn get_execution_log(&self, namespace: &str, id: &str, options: &LogOptions) -> Result<String> {
        self.run(self.backend.ops().get_execution_log(namespace, id, options)).await
    }

    /// The scale of a Deployment (Kubernetes) or of a job's task group (Nomad, `name` = job ID
    /// or `job/group`): [`Scale::replicas`] is how many there are now (`status.replicas`, the
    /// number the seed's `get_scale_deploy` returned), [`Scale::desired`] how many are asked for.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport>(cm: &ClusterManager<T>) -> Result<()> {
    /// let scale = cm.get_scale_deploy("web", "frontend").await?;
    /// println!("{} replicas", scale.replicas);
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %name))]
    pub async fn get_scale_deploy(&self, namespace: &str, name: &str) -> Result<Scale> {
        self.run(self.backend.ops().get_scale_deploy(namespace, name)).await
    }

    /// Change the scale of a Deployment or task group; returns the scale as the change left it
    /// ([`Scale::desired`] the count set, [`Scale::replicas`] how many there were). The seed
    /// returned the patched object; its `spec.replicas` is `desired` here.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport>(cm: &ClusterManager<T>) -> Result<()> {
    /// cm.set_scale_deploy("web", "frontend", 3).await?;
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %name))]
    pub async fn set_scale_deploy(&self, namespace: &str, name: &str, replicas: u32) -> Result<Scale> {
        self.run(self.backend.ops().set_scale_deploy(namespace, name, replicas)).await
    }

    /// ConfigMaps matching a label selector (`app=x,tier in (a,b)`; empty for all).
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport>(cm: &ClusterManager<T>) -> Result<()> {
    /// let maps = cm.get_config_maps("batch", "app=hello,tier in (a,b)").await?;
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace))]
    pub async fn get_config_maps(&self, namespace: &str, label_selector: &str) -> Result<Vec<ConfigMap>> {
        self.run(self.backend.ops().get_config_maps(namespace, label_selector)).await
    }

    /// Install the kubeflow TFJob CRD (`tfjobs.kubeflow.org`, v1) and wait until it is Established.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport>(cm: &ClusterManager<T>) -> Result<()> {
    /// cm.install_tfjobs().await?;
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn install_tfjobs(&self) -> Result<()> {
        self.run(self.backend.ops().install_tfjobs()).await
    }

    /// Create a TFJob from its JSON manifest.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport>(cm: &ClusterManager<T>) -> Result<()> {
    /// let tfjob = serde_json::json!({
    ///     "apiVersion": "kubeflow.org/v1", "kind": "TFJob",
    ///     "metadata": {"name": "mnist"},
    ///     "spec": {"tfReplicaSpecs": {"Worker": {"replicas": 1, "template": {"spec": {"containers": [{"name": "tensorflow", "image": "tf:2"}]}}}}}
    /// });
    /// cm.create_tfjob("ml", &tfjob).await?;
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace))]
    pub async fn create_tfjob(&self, namespace: &str, tfjob: &serde_json::Value) -> Result<serde_json::Value> {
        self.run(self.backend.ops().create_tfjob(namespace, tfjob)).await
    }

    /// A TFJob.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport>(cm: &ClusterManager<T>) -> Result<()> {
    /// let tfjob = cm.get_tfjob("ml", "mnist").await?;
    /// println!("{}", tfjob["status"]);
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %name))]
    pub async fn get_tfjob(&self, namespace: &str, name: &str) -> Result<serde_json::Value> {
        self.run(self.backend.ops().get_tfjob(namespace, name)).await
    }

    /// Delete a TFJob, waiting until it is gone when `wait`. `false` if it did not exist.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport>(cm: &ClusterManager<T>) -> Result<()> {
    /// cm.delete_tfjob("ml", "mnist", true).await?;
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %name))]
    pub async fn delete_tfjob(&self, namespace: &str, name: &str, wait: bool) -> Result<bool> {
        self.run(self.backend.ops().delete_tfjob(namespace, name, wait)).await
    }

    /// The TFJobs of a namespace.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport>(cm: &ClusterManager<T>) -> Result<()> {
    /// let all = cm.list_tfjobs("ml").await?;
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace))]
    pub async fn list_tfjobs(&self, namespace: &str) -> Result<Vec<serde_json::Value>> {
        self.run(self.backend.ops().list_tfjobs(namespace)).await
    }
}
