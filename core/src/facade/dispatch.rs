//! The one table per orchestrator that [`ClusterManager`](super::ClusterManager) dispatches to:
//! [`Ops`], implemented for the Kubernetes and the Nomad context. Each entry builds the
//! orchestrator's operation for one facade method; an entry an orchestrator does not offer keeps
//! the trait's default, an [`Error::Unsupported`] with the hint its [`Ops::unsupported_hint`]
//! gives. The namespace a Kubernetes call works in (the caller's, else the configured default) is
//! resolved here, once ([`k8s_namespace`]); Nomad resolves its own inside each operation.
//!
//! Adding an operation on both orchestrators: write it in `k8s/` and `nomad/` (see
//! [`crate::op`] for the one pattern of each kind), add its entry here with both
//! implementations (or keep the default on the one that lacks it), and call it from the facade
//! in one line: `self.run(self.ops().name(args)).await`.

use std::convert::Infallible;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::model::{ConfigMap, DeleteOptions, Execution, Job, JobSpec, LogLine, LogOptions, Namespace, Node, Scale};
use crate::op::{and_then, each, map_output, Checked};
use crate::step::{BoxOperation, Ready};
use crate::workload::{Service, ServiceDef, ServiceSpec, Workload, WorkloadKind};
use crate::{k8s, nomad};

/// One facade call's operation.
pub(crate) type Op<T> = BoxOperation<T, Infallible>;

/// `op`, boxed.
fn boxed<O>(op: O) -> Op<O::Output>
where
    O: crate::step::Operation<Item = Infallible> + Send + 'static,
{
    Box::new(op)
}

/// What each facade method does on one orchestrator.
pub(crate) trait Ops: Send + Sync {
    /// The orchestrator's name, for [`Error::Unsupported`].
    fn orchestrator(&self) -> &'static str;

    /// What to use instead of `operation`, which this orchestrator does not offer.
    fn unsupported_hint(&self, _operation: &'static str) -> &'static str {
        ""
    }

    fn create_namespace(&self, name: &str) -> Op<bool>;
    fn delete_namespace(&self, name: &str) -> Op<bool>;
    fn get_namespace(&self, name: &str) -> Op<Namespace>;
    fn list_namespaces(&self) -> Op<Vec<Namespace>>;
    fn get_nodes(&self) -> Op<Vec<Node>>;
    fn define_quota(&self, _namespace: &str, _cpu_limit: &str, _mem_limit: &str) -> Op<()> {
        unsupported(self.orchestrator(), self.unsupported_hint("define_quota"), "define_quota")
    }
    fn create_job(&self, namespace: &str, spec: &JobSpec) -> Op<Job>;
    fn list_jobs(&self, namespace: &str) -> Op<Vec<Job>>;
    fn get_job(&self, namespace: &str, name: &str) -> Op<Job>;
    fn delete_job(&self, namespace: &str, name: &str, options: DeleteOptions) -> Op<bool>;
    fn cleanup_jobs(&self, namespace: &str) -> Op<Vec<String>>;
    fn list_jobs_executions(&self, namespace: &str) -> Op<Vec<Execution>>;
    fn list_job_executions(&self, namespace: &str, job: &str) -> Op<Vec<Execution>>;
    fn delete_execution(&self, namespace: &str, id: &str) -> Op<bool>;
    fn get_execution_log(&self, namespace: &str, id: &str, options: &LogOptions) -> Op<String>;
    fn follow_execution_log(&self, namespace: &str, id: &str, options: &LogOptions) -> BoxOperation<(), LogLine>;
    fn get_scale_deploy(&self, namespace: &str, name: &str) -> Op<Scale>;
    fn set_scale_deploy(&self, namespace: &str, name: &str, replicas: u32) -> Op<Scale>;
    fn get_config_maps(&self, _namespace: &str, _label_selector: &str) -> Op<Vec<ConfigMap>> {
        unsupported(self.orchestrator(), self.unsupported_hint("get_config_maps"), "get_config_maps")
    }
    fn install_tfjobs(&self) -> Op<()> {
        unsupported(self.orchestrator(), self.unsupported_hint("install_tfjobs"), "install_tfjobs")
    }
    fn create_tfjob(&self, _namespace: &str, _tfjob: &serde_json::Value) -> Op<serde_json::Value> {
        unsupported(self.orchestrator(), self.unsupported_hint("create_tfjob"), "create_tfjob")
    }
    fn get_tfjob(&self, _namespace: &str, _name: &str) -> Op<serde_json::Value> {
        unsupported(self.orchestrator(), self.unsupported_hint("get_tfjob"), "get_tfjob")
    }
    fn delete_tfjob(&self, _namespace: &str, _name: &str, _wait: bool) -> Op<bool> {
        unsupported(self.orchestrator(), self.unsupported_hint("delete_tfjob"), "delete_tfjob")
    }
    fn list_tfjobs(&self, _namespace: &str) -> Op<Vec<serde_json::Value>> {
        unsupported(self.orchestrator(), self.unsupported_hint("list_tfjobs"), "list_tfjobs")
    }
    fn create_workload(&self, kind: WorkloadKind, namespace: &str, spec: &ServiceSpec) -> Op<Workload>;
    fn list_workloads(&self, kind: WorkloadKind, namespace: &str) -> Op<Vec<Workload>>;
    fn get_workload(&self, kind: WorkloadKind, namespace: &str, name: &str) -> Op<Workload>;
    fn delete_workload(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
        wait: bool,
        timeout: Option<Duration>,
    ) -> Op<bool>;
    fn list_workload_pods(&self, kind: WorkloadKind, namespace: &str, name: &str) -> Op<Vec<Execution>>;
    fn get_workload_scale(&self, kind: WorkloadKind, namespace: &str, name: &str) -> Op<Scale>;
    fn set_workload_scale(&self, kind: WorkloadKind, namespace: &str, name: &str, replicas: u32) -> Op<Scale>;
    fn create_service(&self, _namespace: &str, _def: &ServiceDef) -> Op<Service> {
        unsupported(self.orchestrator(), self.unsupported_hint("create_service"), "create_service")
    }
    fn get_service(&self, _namespace: &str, _name: &str) -> Op<Service> {
        unsupported(self.orchestrator(), self.unsupported_hint("get_service"), "get_service")
    }
    fn delete_service(&self, _namespace: &str, _name: &str) -> Op<bool> {
        unsupported(self.orchestrator(), self.unsupported_hint("delete_service"), "delete_service")
    }
}

/// The [`Error::Unsupported`] of `operation` on `orchestrator`, with `hint`, as an operation that
/// sends nothing.
fn unsupported<T: Send + 'static>(orchestrator: &'static str, hint: &'static str, operation: &'static str) -> Op<T> {
    boxed(Ready::new(Err(Error::Unsupported { operation, orchestrator, hint })))
}

/// The namespace a Kubernetes operation works in: the caller's, else the configured default
/// (kubeconfig context, service account).
pub(crate) fn k8s_namespace<'a>(ctx: &'a k8s::Context, namespace: &'a str) -> &'a str {
    if namespace.is_empty() {
        &ctx.default_namespace
    } else {
        namespace
    }
}

impl Ops for k8s::Context {
    fn orchestrator(&self) -> &'static str {
        "Kubernetes"
    }

    fn create_namespace(&self, name: &str) -> Op<bool> {
        boxed(k8s::namespace::create(self, name))
    }
    fn delete_namespace(&self, name: &str) -> Op<bool> {
        boxed(k8s::namespace::delete(self, name))
    }
    fn get_namespace(&self, name: &str) -> Op<Namespace> {
        boxed(k8s::namespace::get(self, name))
    }
    fn list_namespaces(&self) -> Op<Vec<Namespace>> {
        boxed(k8s::namespace::list(self))
    }
    fn get_nodes(&self) -> Op<Vec<Node>> {
        boxed(k8s::node::list(self))
    }
    fn define_quota(&self, namespace: &str, cpu_limit: &str, mem_limit: &str) -> Op<()> {
        boxed(k8s::quota::define(self, k8s_namespace(self, namespace), cpu_limit, mem_limit))
    }
    fn create_job(&self, namespace: &str, spec: &JobSpec) -> Op<Job> {
        boxed(k8s::job::create(self, k8s_namespace(self, namespace), spec))
    }
    fn list_jobs(&self, namespace: &str) -> Op<Vec<Job>> {
        boxed(k8s::job::list(self, k8s_namespace(self, namespace)))
    }
    fn get_job(&self, namespace: &str, name: &str) -> Op<Job> {
        boxed(k8s::job::get(self, k8s_namespace(self, namespace), name))
    }
    fn delete_job(&self, namespace: &str, name: &str, options: DeleteOptions) -> Op<bool> {
        boxed(k8s::job::delete(self, k8s_namespace(self, namespace), name, options))
    }
    fn cleanup_jobs(&self, namespace: &str) -> Op<Vec<String>> {
        boxed(k8s::job::cleanup(self, k8s_namespace(self, namespace)))
    }
    fn list_jobs_executions(&self, namespace: &str) -> Op<Vec<Execution>> {
        boxed(k8s::execution::list_all(self, k8s_namespace(self, namespace)))
    }
    fn list_job_executions(&self, namespace: &str, job: &str) -> Op<Vec<Execution>> {
        boxed(k8s::execution::list(self, k8s_namespace(self, namespace), job))
    }
    fn delete_execution(&self, namespace: &str, id: &str) -> Op<bool> {
        boxed(k8s::execution::delete(self, k8s_namespace(self, namespace), id))
    }
    fn get_execution_log(&self, namespace: &str, id: &str, options: &LogOptions) -> Op<String> {
        boxed(k8s::log::get(self, k8s_namespace(self, namespace), id, options))
    }
    fn follow_execution_log(&self, namespace: &str, id: &str, options: &LogOptions) -> BoxOperation<(), LogLine> {
        Box::new(k8s::log::follow(self, k8s_namespace(self, namespace), id, options))
    }
    fn get_scale_deploy(&self, namespace: &str, name: &str) -> Op<Scale> {
        boxed(k8s::scale::get(self, k8s_namespace(self, namespace), name))
    }
    fn set_scale_deploy(&self, namespace: &str, name: &str, replicas: u32) -> Op<Scale> {
        boxed(k8s::scale::set(self, k8s_namespace(self, namespace), name, replicas))
    }
    fn get_config_maps(&self, namespace: &str, label_selector: &str) -> Op<Vec<ConfigMap>> {
        boxed(k8s::configmap::list(self, k8s_namespace(self, namespace), label_selector))
    }
    fn install_tfjobs(&self) -> Op<()> {
        boxed(k8s::tfjob::install(self))
    }
    fn create_tfjob(&self, namespace: &str, tfjob: &serde_json::Value) -> Op<serde_json::Value> {
        boxed(k8s::tfjob::create(self, k8s_namespace(self, namespace), tfjob))
    }
    fn get_tfjob(&self, namespace: &str, name: &str) -> Op<serde_json::Value> {
        boxed(k8s::tfjob::get(self, k8s_namespace(self, namespace), name))
    }
    fn delete_tfjob(&self, namespace: &str, name: &str, wait: bool) -> Op<bool> {
        boxed(k8s::tfjob::delete(self, k8s_namespace(self, namespace), name, wait))
    }
    fn list_tfjobs(&self, namespace: &str) -> Op<Vec<serde_json::Value>> {
        boxed(k8s::tfjob::list(self, k8s_namespace(self, namespace)))
    }
    fn create_workload(&self, kind: WorkloadKind, namespace: &str, spec: &ServiceSpec) -> Op<Workload> {
        boxed(k8s::workload::create(self, kind, k8s_namespace(self, namespace), spec))
    }
    fn list_workloads(&self, kind: WorkloadKind, namespace: &str) -> Op<Vec<Workload>> {
        boxed(k8s::workload::list(self, kind, k8s_namespace(self, namespace)))
    }
    fn get_workload(&self, kind: WorkloadKind, namespace: &str, name: &str) -> Op<Workload> {
        boxed(k8s::workload::get(self, kind, k8s_namespace(self, namespace), name))
    }
    fn delete_workload(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
        wait: bool,
        timeout: Option<Duration>,
    ) -> Op<bool> {
        boxed(k8s::workload::delete(self, kind, k8s_namespace(self, namespace), name, wait, timeout))
    }
    /// The workload, then the pods its selector matches.
    fn list_workload_pods(&self, kind: WorkloadKind, namespace: &str, name: &str) -> Op<Vec<Execution>> {
        let (ctx, ns) = (self.clone(), k8s_namespace(self, namespace).to_owned());
        boxed(and_then(k8s::workload::get(self, kind, &ns, name), move |workload: Workload| {
            Checked::from(k8s::workload::pod_selector(&workload).map(|s| k8s::workload::pods(&ctx, &ns, &s)))
        }))
    }
    fn get_workload_scale(&self, kind: WorkloadKind, namespace: &str, name: &str) -> Op<Scale> {
        boxed(k8s::scale::get_of(self, kind, k8s_namespace(self, namespace), name))
    }
    fn set_workload_scale(&self, kind: WorkloadKind, namespace: &str, name: &str, replicas: u32) -> Op<Scale> {
        boxed(k8s::scale::set_of(self, kind, k8s_namespace(self, namespace), name, replicas))
    }
    fn create_service(&self, namespace: &str, def: &ServiceDef) -> Op<Service> {
        boxed(k8s::service::create(self, k8s_namespace(self, namespace), def))
    }
    fn get_service(&self, namespace: &str, name: &str) -> Op<Service> {
        boxed(k8s::service::get(self, k8s_namespace(self, namespace), name))
    }
    fn delete_service(&self, namespace: &str, name: &str) -> Op<bool> {
        boxed(k8s::service::delete(self, k8s_namespace(self, namespace), name))
    }
}

const TFJOB: &str = "TFJob is a Kubernetes (kubeflow) resource";
const NO_SERVICES: &str = "Nomad 1.1 registers services in Consul from a job's service stanza; \
reach a Nomad service job's replicas through its allocations' ports (list_deploy_pods) or run Consul";

impl Ops for nomad::Context {
    fn orchestrator(&self) -> &'static str {
        "Nomad"
    }

    fn unsupported_hint(&self, operation: &'static str) -> &'static str {
        match operation {
            "define_quota" => "resource quotas are a Nomad Enterprise feature",
            "get_config_maps" => {
                "Nomad 1.1 has no config maps (Nomad 1.4+ variables are the closest equivalent; use the nomad::api escape hatch)"
            }
            "install_tfjobs" | "create_tfjob" | "get_tfjob" | "delete_tfjob" | "list_tfjobs" => TFJOB,
            "create_service" | "get_service" | "delete_service" => NO_SERVICES,
            _ => "",
        }
    }

    fn create_namespace(&self, name: &str) -> Op<bool> {
        boxed(nomad::namespace::create(self, name))
    }
    fn delete_namespace(&self, name: &str) -> Op<bool> {
        boxed(nomad::namespace::delete(self, name))
    }
    fn get_namespace(&self, name: &str) -> Op<Namespace> {
        boxed(nomad::namespace::get(self, name))
    }
    fn list_namespaces(&self) -> Op<Vec<Namespace>> {
        boxed(nomad::namespace::list(self))
    }
    fn get_nodes(&self) -> Op<Vec<Node>> {
        boxed(nomad::node::list(self))
    }
    fn create_job(&self, namespace: &str, spec: &JobSpec) -> Op<Job> {
        boxed(nomad::job::create(self, namespace, spec))
    }
    fn list_jobs(&self, namespace: &str) -> Op<Vec<Job>> {
        boxed(nomad::job::list(self, namespace))
    }
    fn get_job(&self, namespace: &str, name: &str) -> Op<Job> {
        boxed(nomad::job::get(self, namespace, name))
    }
    fn delete_job(&self, namespace: &str, name: &str, options: DeleteOptions) -> Op<bool> {
        boxed(nomad::job::delete(self, namespace, name, options))
    }
    fn cleanup_jobs(&self, namespace: &str) -> Op<Vec<String>> {
        boxed(nomad::job::cleanup(self, namespace))
    }
    fn list_jobs_executions(&self, namespace: &str) -> Op<Vec<Execution>> {
        boxed(nomad::execution::list_all(self, namespace))
    }
    fn list_job_executions(&self, namespace: &str, job: &str) -> Op<Vec<Execution>> {
        boxed(nomad::execution::list(self, namespace, job))
    }
    fn delete_execution(&self, namespace: &str, id: &str) -> Op<bool> {
        boxed(nomad::execution::delete(self, namespace, id))
    }
    fn get_execution_log(&self, namespace: &str, id: &str, options: &LogOptions) -> Op<String> {
        boxed(nomad::logs::get(self, namespace, id, options))
    }
    fn follow_execution_log(&self, namespace: &str, id: &str, options: &LogOptions) -> BoxOperation<(), LogLine> {
        Box::new(nomad::logs::follow(self, namespace, id, options))
    }
    fn get_scale_deploy(&self, namespace: &str, name: &str) -> Op<Scale> {
        boxed(nomad::scale::get(self, namespace, name))
    }
    fn set_scale_deploy(&self, namespace: &str, name: &str, replicas: u32) -> Op<Scale> {
        boxed(nomad::scale::set(self, namespace, name, replicas))
    }
    /// The service job, then its state read back as a [`Workload`].
    fn create_workload(&self, kind: WorkloadKind, namespace: &str, spec: &ServiceSpec) -> Op<Workload> {
        let (ctx, ns, name) = (self.clone(), namespace.to_owned(), spec.task.name.clone());
        boxed(and_then(nomad::service::create(self, kind, namespace, spec), move |_| {
            nomad::service::get(&ctx, &ns, &name)
        }))
    }
    /// The namespace's `service` jobs, one read each (a job purged between the list and its
    /// read is left out).
    fn list_workloads(&self, _kind: WorkloadKind, namespace: &str) -> Op<Vec<Workload>> {
        let (ctx, ns) = (self.clone(), namespace.to_owned());
        let reads = move |names: Vec<String>| {
            let ops: Vec<Op<Workload>> = names.iter().map(|n| boxed(nomad::service::get(&ctx, &ns, n))).collect();
            map_output(each(ops), |results: Result<Vec<Result<Workload>>>| {
                results?
                    .into_iter()
                    .filter(|r| !matches!(r, Err(Error::NotFound(_))))
                    .collect::<Result<Vec<Workload>>>()
            })
        };
        boxed(and_then(nomad::service::names(self, namespace), reads))
    }
    fn get_workload(&self, _kind: WorkloadKind, namespace: &str, name: &str) -> Op<Workload> {
        boxed(nomad::service::get(self, namespace, name))
    }
    /// Stop and purge the service job, waiting as long as on Kubernetes.
    fn delete_workload(
        &self,
        _kind: WorkloadKind,
        namespace: &str,
        name: &str,
        wait: bool,
        timeout: Option<Duration>,
    ) -> Op<bool> {
        let timeout = timeout.unwrap_or(k8s::workload::DELETE_WAIT_TIMEOUT);
        boxed(nomad::job::delete_within(self, namespace, name, DeleteOptions { wait, purge: true }, timeout))
    }
    fn list_workload_pods(&self, _kind: WorkloadKind, namespace: &str, name: &str) -> Op<Vec<Execution>> {
        boxed(nomad::execution::list(self, namespace, name))
    }
    fn get_workload_scale(&self, _kind: WorkloadKind, namespace: &str, name: &str) -> Op<Scale> {
        boxed(nomad::scale::get(self, namespace, name))
    }
    fn set_workload_scale(&self, _kind: WorkloadKind, namespace: &str, name: &str, replicas: u32) -> Op<Scale> {
        boxed(nomad::scale::set(self, namespace, name, replicas))
    }
}
