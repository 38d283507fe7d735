//! The seed's long-running workloads on [`ClusterManager`]: Deployments and StatefulSets
//! (Nomad: `service` jobs, see [`crate::nomad::service`]), their pods, scale and waits; the
//! caller's Services; `get_namespace` and `list_namespaces`; and `create_job`'s `delete=True`
//! ([`replace_job`]).
//!
//! Each seed method (`create_deploy`, `create_statefulset`, ...) is the kind-generic method
//! (`create_workload(WorkloadKind::Deployment, ...)`) with its kind fixed.
//!
//! [`replace_job`]: ClusterManager::replace_job

use std::time::Duration;

use super::ClusterManager;
use crate::error::Result;
use crate::model::{DeleteOptions, Execution, Job, JobSpec, Namespace, Scale};
use crate::transport::Transport;
use crate::workload::{Service, ServiceDef, ServiceSpec, Workload, WorkloadKind};

impl<T: Transport> ClusterManager<T> {
    /// A namespace ([`Error::NotFound`](crate::Error::NotFound) if it does not exist).
    ///
    /// ```no_run
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport>(cm: &ClusterManager<T>) -> Result<()> {
    /// println!("{}", cm.get_namespace("batch").await?.phase);
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all, fields(object = %name))]
    pub async fn get_namespace(&self, name: &str) -> Result<Namespace> {
        self.run(self.backend.ops().get_namespace(name)).await
    }

    /// Every namespace of the cluster (Kubernetes: with its phase; Nomad: `Active`, with its
    /// description). A Nomad server without namespaces ([`NamespaceMode::Prefix`]) keeps no
    /// list of them: [`Error::Unsupported`](crate::Error::Unsupported).
    ///
    /// [`NamespaceMode::Prefix`]: crate::nomad::NamespaceMode::Prefix
    ///
    /// ```no_run
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport>(cm: &ClusterManager<T>) -> Result<()> {
    /// for ns in cm.list_namespaces().await? {
    ///     println!("{} {}", ns.name, ns.phase);
    /// }
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn list_namespaces(&self) -> Result<Vec<Namespace>> {
        self.run(self.backend.ops().list_namespaces()).await
    }

    /// The seed's `create_job(..., delete=True)`: delete a job of the same name if there is one
    /// (with its executions, waiting until it is gone), then create `spec`.
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %spec.name))]
    pub async fn replace_job(&self, namespace: &str, spec: &JobSpec) -> Result<Job> {
        self.delete_job(namespace, &spec.name, DeleteOptions { wait: true, purge: true }).await?;
        self.create_job(namespace, spec).await
    }

    /// Create a workload of `kind` from `spec` and return it as the server now has it.
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %spec.task.name))]
    pub async fn create_workload(&self, kind: WorkloadKind, namespace: &str, spec: &ServiceSpec) -> Result<Workload> {
        self.run(self.backend.ops().create_workload(kind, namespace, spec)).await
    }

    /// The workloads of `kind` in `namespace`. On Nomad: its `service` jobs (one read each).
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace))]
    pub async fn list_workloads(&self, kind: WorkloadKind, namespace: &str) -> Result<Vec<Workload>> {
        self.run(self.backend.ops().list_workloads(kind, namespace)).await
    }

    /// One workload ([`Error::NotFound`](crate::Error::NotFound) if it does not exist).
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %name))]
    pub async fn get_workload(&self, kind: WorkloadKind, namespace: &str, name: &str) -> Result<Workload> {
        self.run(self.backend.ops().get_workload(kind, namespace, name)).await
    }

    /// Delete a workload with its pods (Nomad: stop and purge the job); with `wait`, until it
    /// is gone, at most `timeout` (`None`: the seed's 60 s). `false` if it did not exist.
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %name))]
    pub async fn delete_workload(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
        wait: bool,
        timeout: Option<Duration>,
    ) -> Result<bool> {
        self.run(self.backend.ops().delete_workload(kind, namespace, name, wait, timeout)).await
    }

    /// Wait (watching; on Nomad with blocking queries) until the workload is available: every
    /// replica of its current version ready (see [`Workload::is_available`]). `None` waits
    /// [`WaitOptions::AVAILABLE_TIMEOUT`](super::waits::WaitOptions::AVAILABLE_TIMEOUT) (the seed's 60 s). [`Error::Timeout`](crate::Error::Timeout) after
    /// it (naming the last reason seen); [`Error::CannotRun`](crate::Error::CannotRun) when a
    /// Nomad deployment failed, a Kubernetes rollout passed its progress deadline, or the looks
    /// at why no pod started found a permanent reason (see
    /// [`wait_workload_available_with`](Self::wait_workload_available_with)).
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %name))]
    pub async fn wait_workload_available(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
        timeout: Option<Duration>,
    ) -> Result<Workload> {
        self.wait_workload_available_with(kind, namespace, name, &super::waits::WaitOptions::new().timeout(timeout))
            .await
    }

    /// The executions of a workload: the pods its selector matches (Kubernetes), the job's
    /// allocations of its current version (Nomad).
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %name))]
    pub async fn list_workload_pods(&self, kind: WorkloadKind, namespace: &str, name: &str) -> Result<Vec<Execution>> {
        self.run(self.backend.ops().list_workload_pods(kind, namespace, name)).await
    }

    /// The scale of a workload of `kind`.
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %name))]
    pub async fn get_workload_scale(&self, kind: WorkloadKind, namespace: &str, name: &str) -> Result<Scale> {
        self.run(self.backend.ops().get_workload_scale(kind, namespace, name)).await
    }

    /// Change the scale of a workload of `kind`.
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %name))]
    pub async fn set_workload_scale(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
        replicas: u32,
    ) -> Result<Scale> {
        self.run(self.backend.ops().set_workload_scale(kind, namespace, name, replicas)).await
    }

    /// The seed's `create_deploy`: create a Deployment (Nomad: a service job).
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport>(cm: &ClusterManager<T>) -> Result<()> {
    /// let spec = ServiceSpec::new(JobSpec::new("web").image("nginx:1.25").label("app", "web")).replicas(2);
    /// cm.create_deploy("shop", &spec).await?;
    /// let web = cm.deploy_wait_available("shop", "web", Some(Duration::from_secs(120))).await?;
    /// println!("{}/{} ready", web.ready, web.replicas);
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %spec.task.name))]
    pub async fn create_deploy(&self, namespace: &str, spec: &ServiceSpec) -> Result<Workload> {
        self.create_workload(WorkloadKind::Deployment, namespace, spec).await
    }

    /// The seed's `list_deploys`.
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace))]
    pub async fn list_deploys(&self, namespace: &str) -> Result<Vec<Workload>> {
        self.list_workloads(WorkloadKind::Deployment, namespace).await
    }

    /// The seed's `get_deploy`.
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %name))]
    pub async fn get_deploy(&self, namespace: &str, name: &str) -> Result<Workload> {
        self.get_workload(WorkloadKind::Deployment, namespace, name).await
    }

    /// The seed's `delete_deploy(namespace, name, wait, timeout=60)`: `timeout` `None` is the
    /// seed's 60 s.
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %name))]
    pub async fn delete_deploy(
        &self,
        namespace: &str,
        name: &str,
        wait: bool,
        timeout: Option<Duration>,
    ) -> Result<bool> {
        self.delete_workload(WorkloadKind::Deployment, namespace, name, wait, timeout).await
    }

    /// The seed's `deploy_wait_available`.
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %name))]
    pub async fn deploy_wait_available(
        &self,
        namespace: &str,
        name: &str,
        timeout: Option<Duration>,
    ) -> Result<Workload> {
        self.wait_workload_available(WorkloadKind::Deployment, namespace, name, timeout).await
    }

    /// The seed's `list_deploy_pods`.
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %name))]
    pub async fn list_deploy_pods(&self, namespace: &str, name: &str) -> Result<Vec<Execution>> {
        self.list_workload_pods(WorkloadKind::Deployment, namespace, name).await
    }

    /// The seed's `create_statefulset` (Nomad: a service job, with the refusals of
    /// [`nomad::service::check_spec`](crate::nomad::service::check_spec)).
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %spec.task.name))]
    pub async fn create_statefulset(&self, namespace: &str, spec: &ServiceSpec) -> Result<Workload> {
        self.create_workload(WorkloadKind::StatefulSet, namespace, spec).await
    }

    /// The seed's `list_statefulsets`.
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace))]
    pub async fn list_statefulsets(&self, namespace: &str) -> Result<Vec<Workload>> {
        self.list_workloads(WorkloadKind::StatefulSet, namespace).await
    }

    /// The seed's `get_statefulset`.
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %name))]
    pub async fn get_statefulset(&self, namespace: &str, name: &str) -> Result<Workload> {
        self.get_workload(WorkloadKind::StatefulSet, namespace, name).await
    }

    /// The seed's `delete_statefulset(namespace, name, wait, timeout=60)`: `timeout` `None` is
    /// the seed's 60 s.
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %name))]
    pub async fn delete_statefulset(
        &self,
        namespace: &str,
        name: &str,
        wait: bool,
        timeout: Option<Duration>,
    ) -> Result<bool> {
        self.delete_workload(WorkloadKind::StatefulSet, namespace, name, wait, timeout).await
    }

    /// The seed's `statefulset_wait_available`.
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %name))]
    pub async fn statefulset_wait_available(
        &self,
        namespace: &str,
        name: &str,
        timeout: Option<Duration>,
    ) -> Result<Workload> {
        self.wait_workload_available(WorkloadKind::StatefulSet, namespace, name, timeout).await
    }

    /// The seed's `list_statefulset_pods`.
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %name))]
    pub async fn list_statefulset_pods(&self, namespace: &str, name: &str) -> Result<Vec<Execution>> {
        self.list_workload_pods(WorkloadKind::StatefulSet, namespace, name).await
    }

    /// The seed's `get_scale_statefulset`.
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %name))]
    pub async fn get_scale_statefulset(&self, namespace: &str, name: &str) -> Result<Scale> {
        self.get_workload_scale(WorkloadKind::StatefulSet, namespace, name).await
    }

    /// The seed's `set_scale_statefulset`.
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %name))]
    pub async fn set_scale_statefulset(&self, namespace: &str, name: &str, replicas: u32) -> Result<Scale> {
        self.set_workload_scale(WorkloadKind::StatefulSet, namespace, name, replicas).await
    }

    /// The seed's `create_service` (Kubernetes; [`Error::Unsupported`](crate::Error::Unsupported)
    /// on Nomad, saying what to use instead).
    ///
    /// ```no_run
    /// # use clustermanager_core::*;
    /// # async fn demo<T: Transport>(cm: &ClusterManager<T>) -> Result<()> {
    /// let def = ServiceDef::new("web").select("app", "web").port(ServicePort::new("http", 80, 8080));
    /// let svc = cm.create_service("shop", &def).await?;
    /// println!("{:?}", svc.cluster_ip);
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace))]
    pub async fn create_service(&self, namespace: &str, def: &ServiceDef) -> Result<Service> {
        self.run(self.backend.ops().create_service(namespace, def)).await
    }

    /// The seed's `get_service`.
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %name))]
    pub async fn get_service(&self, namespace: &str, name: &str) -> Result<Service> {
        self.run(self.backend.ops().get_service(namespace, name)).await
    }

    /// The seed's `delete_service`; `false` if it did not exist.
    #[tracing::instrument(level = "debug", skip_all, fields(namespace = %namespace, object = %name))]
    pub async fn delete_service(&self, namespace: &str, name: &str) -> Result<bool> {
        self.run(self.backend.ops().delete_service(namespace, name)).await
    }
}
