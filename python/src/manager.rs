//! `Manager`: the Rust facade's operations as Python awaitables, and the connect functions.

use std::time::{Duration, Instant};

use clustermanager_core::config::Config;
use clustermanager_core::k8s::api::{Resource, WatchParams};
use clustermanager_core::{
    ClusterManager, DeleteOptions, LogOptions, Orchestrator, ServiceDef, ServicePort, Status, WaitOptions, WorkloadKind,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyString};

use crate::aio::Exec;
use crate::convert;
use crate::errors::{type_error, value_error};
use crate::streams::{AsyncStream, Item};
use crate::{spawn, Conv};

/// A connected cluster manager (Kubernetes or Nomad, real or fake). Cheap to share: every
/// coroutine from one manager uses its connection pool, connection budget and shared waits.
#[pyclass(module = "clustermanager._native", frozen)]
pub(crate) struct Manager {
    pub(crate) cm: ClusterManager,
    /// The executor of the loop it was connected on, whose calls go over connections that loop
    /// drives (`crate::aio`); `None` for the fake cluster and loops that cannot watch sockets.
    pub(crate) home: Option<Exec>,
    /// How many requests its transport sent per side (`None` for the fake cluster).
    pub(crate) sides: Option<std::sync::Arc<crate::aio::Sides>>,
}

impl Manager {
    /// Run a call (see [`crate::call`]).
    fn spawn<'py, F, T>(&self, py: Python<'py>, fut: F, conv: Conv<T>) -> PyResult<Bound<'py, PyAny>>
    where
        F: std::future::Future<Output = clustermanager_core::Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        crate::call(py, self.home.as_ref(), fut, conv, false)
    }

    /// Run a wait (see [`crate::call`]).
    fn spawn_wait<'py, F, T>(&self, py: Python<'py>, fut: F, conv: Conv<T>) -> PyResult<Bound<'py, PyAny>>
    where
        F: std::future::Future<Output = clustermanager_core::Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        crate::call(py, self.home.as_ref(), fut, conv, true)
    }

    /// A stream of this manager as a Python async iterator.
    fn stream<S>(&self, stream: S, what: &'static str) -> AsyncStream
    where
        S: clustermanager_core::futures_core::Stream<Item = clustermanager_core::Result<Item>> + Send + 'static,
    {
        AsyncStream::new(stream, what, self.home.clone())
    }
}

fn opt_secs(param: &str, v: Option<f64>) -> PyResult<Option<Duration>> {
    match v {
        None => Ok(None),
        Some(s) => Duration::try_from_secs_f64(s)
            .map(Some)
            .map_err(|_| value_error(param, format!("{s} is not a duration in seconds (≥ 0)"))),
    }
}

fn kind(k: &str) -> PyResult<WorkloadKind> {
    match k {
        "deployment" | "Deployment" | "deploy" => Ok(WorkloadKind::Deployment),
        "statefulset" | "StatefulSet" => Ok(WorkloadKind::StatefulSet),
        other => Err(value_error("kind", format!("{other:?} is not `deployment` or `statefulset`"))),
    }
}

fn status(param: &str, s: &str) -> PyResult<Status> {
    match s {
        "Pending" | "pending" => Ok(Status::Pending),
        "Running" | "running" => Ok(Status::Running),
        "Succeeded" | "succeeded" => Ok(Status::Succeeded),
        "Failed" | "failed" => Ok(Status::Failed),
        other => Err(value_error(param, format!("{other:?} is not Pending, Running, Succeeded or Failed"))),
    }
}

/// The wait options from the keyword arguments; `on_progress` is called on the event loop
/// (`loop.call_soon_threadsafe`) with each progress event as a dict.
fn wait_options(
    py: Python<'_>,
    timeout: Option<f64>,
    startup_deadline: Option<f64>,
    stuck_deadline: Option<f64>,
    fail_fast: bool,
    on_progress: Option<Py<PyAny>>,
) -> PyResult<WaitOptions> {
    let mut options = WaitOptions::new()
        .timeout(opt_secs("timeout", timeout)?)
        .startup_deadline(opt_secs("startup_deadline", startup_deadline)?)
        .fail_fast(fail_fast);
    if let Some(s) = stuck_deadline {
        // a negative or infinite stuck deadline means "never give up on a stuck job"
        let deadline = if s.is_finite() && s >= 0.0 { Some(Duration::from_secs_f64(s)) } else { None };
        options = options.stuck_deadline(deadline);
    }
    if let Some(callback) = on_progress {
        if !callback.bind(py).is_callable() {
            return Err(type_error("on_progress", "a callable", callback.bind(py)));
        }
        let event_loop = pyo3_async_runtimes::get_running_loop(py)?.unbind();
        options = options.on_progress(move |p| {
            // `try_attach`: no callback while the interpreter shuts down
            Python::try_attach(|py| {
                if let Ok(event) = convert::progress(py, p) {
                    // a closed loop just drops the event
                    let _ = event_loop.bind(py).call_method1("call_soon_threadsafe", (callback.bind(py), event));
                }
            });
        });
    }
    Ok(options)
}

#[pymethods]
impl Manager {
    /// `"kubernetes"` or `"nomad"`.
    #[getter]
    fn orchestrator(&self) -> &'static str {
        match self.cm.orchestrator() {
            Orchestrator::Kubernetes => "kubernetes",
            Orchestrator::Nomad => "nomad",
        }
    }

    /// How many shared wait observations are running now (one per namespace with waits).
    #[getter]
    fn shared_observations(&self) -> usize {
        self.cm.shared_observations()
    }

    /// How many requests were sent over the event loop's own connections (`"loop"`: calls from
    /// the loop the manager was connected on) and over tokio's (`"tokio"`: calls from anywhere
    /// else), and how many calls moved to tokio to decode a large answer (`"moved_to_tokio"`);
    /// `None` for the fake cluster, which sends none.
    #[getter]
    fn requests_sent<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(sides) = &self.sides else { return Ok(None) };
        let d = PyDict::new(py);
        d.set_item("loop", sides.on_loop.load(std::sync::atomic::Ordering::Relaxed))?;
        d.set_item("tokio", sides.on_tokio.load(std::sync::atomic::Ordering::Relaxed))?;
        d.set_item("moved_to_tokio", sides.moved_to_tokio.load(std::sync::atomic::Ordering::Relaxed))?;
        Ok(Some(d))
    }

    fn __repr__(&self) -> String {
        format!("<clustermanager.Manager {}>", self.orchestrator())
    }

    fn create_namespace<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.create_namespace(&name).await }, convert::boolean)
    }

    fn delete_namespace<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.delete_namespace(&name).await }, convert::boolean)
    }

    fn get_namespace<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.get_namespace(&name).await }, convert::namespace)
    }

    fn get_nodes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.get_nodes().await }, convert::nodes)
    }

    fn define_quota<'py>(
        &self,
        py: Python<'py>,
        namespace: String,
        cpu_limit: String,
        mem_limit: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.define_quota(&namespace, &cpu_limit, &mem_limit).await }, convert::none)
    }

    /// `spec` is the JSON text of the job's keyword arguments (see `spec.rs`).
    fn create_job<'py>(&self, py: Python<'py>, namespace: String, spec: &str) -> PyResult<Bound<'py, PyAny>> {
        let spec = crate::spec::job_spec(spec)?;
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.create_job(&namespace, &spec).await }, convert::job)
    }

    fn replace_job<'py>(&self, py: Python<'py>, namespace: String, spec: &str) -> PyResult<Bound<'py, PyAny>> {
        let spec = crate::spec::job_spec(spec)?;
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.replace_job(&namespace, &spec).await }, convert::job)
    }

    fn list_jobs<'py>(&self, py: Python<'py>, namespace: String) -> PyResult<Bound<'py, PyAny>> {
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.list_jobs(&namespace).await }, convert::jobs)
    }

    fn get_job<'py>(&self, py: Python<'py>, namespace: String, name: String) -> PyResult<Bound<'py, PyAny>> {
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.get_job(&namespace, &name).await }, convert::job)
    }

    #[pyo3(signature = (namespace, name, wait=false, purge=true))]
    fn delete_job<'py>(
        &self,
        py: Python<'py>,
        namespace: String,
        name: String,
        wait: bool,
        purge: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let cm = self.cm.clone();
        self.spawn(
            py,
            async move { cm.delete_job(&namespace, &name, DeleteOptions { wait, purge }).await },
            convert::boolean,
        )
    }

    fn cleanup_jobs<'py>(&self, py: Python<'py>, namespace: String) -> PyResult<Bound<'py, PyAny>> {
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.cleanup_jobs(&namespace).await }, convert::count)
    }

    fn cleanup_finished_jobs<'py>(&self, py: Python<'py>, namespace: String) -> PyResult<Bound<'py, PyAny>> {
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.cleanup_finished_jobs(&namespace).await }, convert::strings)
    }

    fn waiting_jobs<'py>(&self, py: Python<'py>, namespace: String) -> PyResult<Bound<'py, PyAny>> {
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.waiting_jobs(&namespace).await }, convert::jobs)
    }

    fn running_jobs<'py>(&self, py: Python<'py>, namespace: String) -> PyResult<Bound<'py, PyAny>> {
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.running_jobs(&namespace).await }, convert::jobs)
    }

    #[pyo3(signature = (namespace, name, timeout=None, startup_deadline=None, stuck_deadline=None, fail_fast=true, on_progress=None))]
    #[allow(clippy::too_many_arguments)]
    fn wait_for_job<'py>(
        &self,
        py: Python<'py>,
        namespace: String,
        name: String,
        timeout: Option<f64>,
        startup_deadline: Option<f64>,
        stuck_deadline: Option<f64>,
        fail_fast: bool,
        on_progress: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = wait_options(py, timeout, startup_deadline, stuck_deadline, fail_fast, on_progress)?;
        let cm = self.cm.clone();
        self.spawn_wait(py, async move { cm.wait_for_job_with(&namespace, &name, &options).await }, convert::job)
    }

    /// The wait as an async iterator of progress events, ending with `{"event": "result", "job": ...}`.
    #[pyo3(signature = (namespace, name, timeout=None, startup_deadline=None, stuck_deadline=None, fail_fast=true))]
    #[allow(clippy::too_many_arguments)]
    fn wait_for_job_stream(
        &self,
        py: Python<'_>,
        namespace: String,
        name: String,
        timeout: Option<f64>,
        startup_deadline: Option<f64>,
        stuck_deadline: Option<f64>,
        fail_fast: bool,
    ) -> PyResult<AsyncStream> {
        let options = wait_options(py, timeout, startup_deadline, stuck_deadline, fail_fast, None)?;
        let stream = self.cm.wait_for_job_stream(&namespace, &name, &options);
        Ok(self.stream(MapStream::new(stream, |e| Item::Wait(Box::new(e))), "wait_for_job"))
    }

    fn diagnose_job<'py>(&self, py: Python<'py>, namespace: String, name: String) -> PyResult<Bound<'py, PyAny>> {
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.diagnose_job(&namespace, &name).await }, convert::diagnosis)
    }

    #[pyo3(signature = (namespace, job, statuses, timeout=None, startup_deadline=None, stuck_deadline=None, fail_fast=true, on_progress=None))]
    #[allow(clippy::too_many_arguments)]
    fn wait_for_job_execution_status<'py>(
        &self,
        py: Python<'py>,
        namespace: String,
        job: String,
        statuses: Vec<String>,
        timeout: Option<f64>,
        startup_deadline: Option<f64>,
        stuck_deadline: Option<f64>,
        fail_fast: bool,
        on_progress: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let statuses = statuses.iter().map(|s| status("statuses", s)).collect::<PyResult<Vec<_>>>()?;
        if statuses.is_empty() {
            return Err(value_error("statuses", "name at least one status to wait for"));
        }
        let options = wait_options(py, timeout, startup_deadline, stuck_deadline, fail_fast, on_progress)?;
        let cm = self.cm.clone();
        self.spawn_wait(
            py,
            async move { cm.wait_for_job_execution_status_with(&namespace, &job, &statuses, &options).await },
            convert::execution,
        )
    }

    fn list_jobs_executions<'py>(&self, py: Python<'py>, namespace: String) -> PyResult<Bound<'py, PyAny>> {
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.list_jobs_executions(&namespace).await }, convert::executions)
    }

    fn list_job_executions<'py>(&self, py: Python<'py>, namespace: String, job: String) -> PyResult<Bound<'py, PyAny>> {
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.list_job_executions(&namespace, &job).await }, convert::executions)
    }

    fn delete_execution<'py>(&self, py: Python<'py>, namespace: String, id: String) -> PyResult<Bound<'py, PyAny>> {
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.delete_execution(&namespace, &id).await }, convert::boolean)
    }

    #[pyo3(signature = (namespace, id, container=None, tail_lines=None, since_seconds=None, timestamps=false, previous=false, stderr=false))]
    #[allow(clippy::too_many_arguments)]
    fn get_execution_log<'py>(
        &self,
        py: Python<'py>,
        namespace: String,
        id: String,
        container: Option<String>,
        tail_lines: Option<u64>,
        since_seconds: Option<u64>,
        timestamps: bool,
        previous: bool,
        stderr: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options =
            LogOptions { container, tail_lines, since_seconds, timestamps, previous, stderr, ..LogOptions::default() };
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.get_execution_log(&namespace, &id, &options).await }, convert::text)
    }

    /// Follow a log: an async iterator of lines (without their newline).
    #[pyo3(signature = (namespace, id, container=None, tail_lines=None, since_seconds=None, timestamps=false, stderr=false))]
    #[allow(clippy::too_many_arguments)]
    fn get_execution_log_watch(
        &self,
        namespace: String,
        id: String,
        container: Option<String>,
        tail_lines: Option<u64>,
        since_seconds: Option<u64>,
        timestamps: bool,
        stderr: bool,
    ) -> AsyncStream {
        let options = LogOptions { container, tail_lines, since_seconds, timestamps, stderr, ..LogOptions::default() };
        let stream = self.cm.get_execution_log_watch(&namespace, &id, &options);
        self.stream(MapStream::new(stream, Item::Log), "log")
    }

    /// Watch Kubernetes objects (`resource`: `pods`, `jobs`, `deployments`, `statefulsets`,
    /// `configmaps`, `services`, `events`, `namespaces`, `nodes`): an async iterator of
    /// `{"type": "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR", "object": dict}` until the
    /// server ends the stream (after `timeout_seconds` when given).
    #[pyo3(signature = (resource, namespace=None, label_selector=None, field_selector=None, resource_version=None, timeout_seconds=None))]
    #[allow(clippy::too_many_arguments)]
    fn watch(
        &self,
        py: Python<'_>,
        resource: &str,
        namespace: Option<String>,
        label_selector: Option<String>,
        field_selector: Option<String>,
        resource_version: Option<String>,
        timeout_seconds: Option<u32>,
    ) -> PyResult<AsyncStream> {
        let res = match resource {
            "pods" => Resource::PODS,
            "jobs" => Resource::JOBS,
            "deployments" => Resource::DEPLOYMENTS,
            "statefulsets" => Resource::STATEFULSETS,
            "configmaps" => Resource::CONFIGMAPS,
            "services" => Resource::SERVICES,
            "events" => Resource::EVENTS,
            "namespaces" => Resource::NAMESPACES,
            "nodes" => Resource::NODES,
            other => return Err(value_error("resource", format!("{other:?} is not a resource this watch knows"))),
        };
        let k8s = self.cm.kubernetes().map_err(|e| crate::errors::to_pyerr(py, e))?;
        let api = k8s.api::<serde_json::Value>(res);
        let api = match namespace {
            Some(ns) => api.namespaced(ns),
            None => api.all(),
        };
        let params =
            WatchParams { label_selector, field_selector, resource_version, timeout_seconds, ..WatchParams::default() };
        Ok(self.stream(MapStream::new(api.watch(&params), Item::Watch), "watch"))
    }

    /// Nomad's event stream (`/v1/event/stream`): batches of events, from `index` on, of the
    /// `topics` given as Nomad spells them (`Job`, `Job:<job id>`, `*`).
    #[pyo3(signature = (topics=None, index=None, namespace=None, idle_timeout=None, until_index=None))]
    fn events(
        &self,
        py: Python<'_>,
        topics: Option<Vec<String>>,
        index: Option<u64>,
        namespace: Option<String>,
        idle_timeout: Option<f64>,
        until_index: Option<u64>,
    ) -> PyResult<AsyncStream> {
        use clustermanager_core::nomad::events::{EventQuery, Topic};
        let nomad = self.cm.nomad().map_err(|e| crate::errors::to_pyerr(py, e))?;
        let mut query = EventQuery::new();
        for topic in topics.unwrap_or_default() {
            if topic.is_empty() {
                return Err(value_error("topics", "a topic must not be empty"));
            }
            query = query.topic(Topic::parse(&topic));
        }
        if let Some(index) = index {
            query = query.index(index);
        }
        if let Some(ns) = namespace {
            query = query.namespace(ns);
        }
        if let Some(idle) = opt_secs("idle_timeout", idle_timeout)? {
            query = query.idle_timeout(idle);
        }
        if let Some(until) = until_index {
            query = query.until_index(until);
        }
        Ok(self.stream(MapStream::new(nomad.events(&query), Item::Events), "events"))
    }

    fn list_namespaces<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.list_namespaces().await }, convert::namespaces)
    }

    /// `spec`: JSON text of the workload's keyword arguments.
    fn create_workload<'py>(
        &self,
        py: Python<'py>,
        kind_: &str,
        namespace: String,
        spec: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let k = kind(kind_)?;
        let spec = crate::spec::service_spec(spec)?;
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.create_workload(k, &namespace, &spec).await }, convert::workload)
    }

    fn list_workloads<'py>(&self, py: Python<'py>, kind_: &str, namespace: String) -> PyResult<Bound<'py, PyAny>> {
        let k = kind(kind_)?;
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.list_workloads(k, &namespace).await }, convert::workloads)
    }

    fn get_workload<'py>(
        &self,
        py: Python<'py>,
        kind_: &str,
        namespace: String,
        name: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let k = kind(kind_)?;
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.get_workload(k, &namespace, &name).await }, convert::workload)
    }

    #[pyo3(signature = (kind_, namespace, name, wait=false, timeout=None))]
    fn delete_workload<'py>(
        &self,
        py: Python<'py>,
        kind_: &str,
        namespace: String,
        name: String,
        wait: bool,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let k = kind(kind_)?;
        let timeout = opt_secs("timeout", timeout)?;
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.delete_workload(k, &namespace, &name, wait, timeout).await }, convert::boolean)
    }

    #[pyo3(signature = (kind_, namespace, name, timeout=None))]
    fn wait_workload_available<'py>(
        &self,
        py: Python<'py>,
        kind_: &str,
        namespace: String,
        name: String,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let k = kind(kind_)?;
        let timeout = opt_secs("timeout", timeout)?;
        let cm = self.cm.clone();
        self.spawn_wait(
            py,
            async move { cm.wait_workload_available(k, &namespace, &name, timeout).await },
            convert::workload,
        )
    }

    fn list_workload_pods<'py>(
        &self,
        py: Python<'py>,
        kind_: &str,
        namespace: String,
        name: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let k = kind(kind_)?;
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.list_workload_pods(k, &namespace, &name).await }, convert::executions)
    }

    fn get_workload_scale<'py>(
        &self,
        py: Python<'py>,
        kind_: &str,
        namespace: String,
        name: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let k = kind(kind_)?;
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.get_workload_scale(k, &namespace, &name).await }, convert::scale)
    }

    fn set_workload_scale<'py>(
        &self,
        py: Python<'py>,
        kind_: &str,
        namespace: String,
        name: String,
        replicas: u32,
    ) -> PyResult<Bound<'py, PyAny>> {
        let k = kind(kind_)?;
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.set_workload_scale(k, &namespace, &name, replicas).await }, convert::scale)
    }

    fn get_config_maps<'py>(
        &self,
        py: Python<'py>,
        namespace: String,
        label_selector: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.get_config_maps(&namespace, &label_selector).await }, convert::config_maps)
    }

    fn install_tfjobs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.install_tfjobs().await }, convert::none)
    }

    /// `manifest`: the TFJob as JSON text.
    fn create_tfjob<'py>(&self, py: Python<'py>, namespace: String, manifest: &str) -> PyResult<Bound<'py, PyAny>> {
        let manifest: serde_json::Value =
            serde_json::from_str(manifest).map_err(|e| value_error("manifest", format!("not JSON: {e}")))?;
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.create_tfjob(&namespace, &manifest).await }, convert::json_value)
    }

    fn get_tfjob<'py>(&self, py: Python<'py>, namespace: String, name: String) -> PyResult<Bound<'py, PyAny>> {
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.get_tfjob(&namespace, &name).await }, convert::json_value)
    }

    #[pyo3(signature = (namespace, name, wait=false))]
    fn delete_tfjob<'py>(
        &self,
        py: Python<'py>,
        namespace: String,
        name: String,
        wait: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.delete_tfjob(&namespace, &name, wait).await }, convert::boolean)
    }

    fn list_tfjobs<'py>(&self, py: Python<'py>, namespace: String) -> PyResult<Bound<'py, PyAny>> {
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.list_tfjobs(&namespace).await }, convert::json_values)
    }

    /// `ports`: `(name, port, target_port)` tuples.
    #[pyo3(signature = (namespace, name, ports, selector, kind_=None, labels=None))]
    #[allow(clippy::too_many_arguments)]
    fn create_service<'py>(
        &self,
        py: Python<'py>,
        namespace: String,
        name: String,
        ports: Vec<(String, u16, u16)>,
        selector: std::collections::BTreeMap<String, String>,
        kind_: Option<String>,
        labels: Option<std::collections::BTreeMap<String, String>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut def = ServiceDef::new(name);
        for (k, v) in selector {
            def = def.select(k, v);
        }
        for (n, port, target) in ports {
            def = def.port(ServicePort::new(n, port, target));
        }
        if let Some(k) = kind_ {
            def = def.kind(k);
        }
        def.labels = labels.unwrap_or_default();
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.create_service(&namespace, &def).await }, convert::service)
    }

    fn get_service<'py>(&self, py: Python<'py>, namespace: String, name: String) -> PyResult<Bound<'py, PyAny>> {
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.get_service(&namespace, &name).await }, convert::service)
    }

    fn delete_service<'py>(&self, py: Python<'py>, namespace: String, name: String) -> PyResult<Bound<'py, PyAny>> {
        let cm = self.cm.clone();
        self.spawn(py, async move { cm.delete_service(&namespace, &name).await }, convert::boolean)
    }
}

/// A stream with its items mapped (`futures` is not a dependency for one adapter).
pub(crate) struct MapStream<S, F> {
    inner: std::pin::Pin<Box<S>>,
    f: F,
}

impl<S, F> MapStream<S, F> {
    fn new(inner: S, f: F) -> Self {
        MapStream { inner: Box::pin(inner), f }
    }
}

impl<S, F, A, B> clustermanager_core::futures_core::Stream for MapStream<S, F>
where
    S: clustermanager_core::futures_core::Stream<Item = clustermanager_core::Result<A>>,
    F: Fn(A) -> B + Unpin,
{
    type Item = clustermanager_core::Result<B>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let this = &mut *self;
        this.inner.as_mut().poll_next(cx).map(|o| o.map(|r| r.map(&this.f)))
    }
}

/// The seed's configuration dictionary as key/value pairs: `str`, `bool`, `int`, `float` and
/// `None` values; anything else raises `TypeError` naming the key.
fn seed_entries(config: &Bound<'_, PyDict>) -> PyResult<Vec<(String, clustermanager_core::config::SeedValue)>> {
    use clustermanager_core::config::SeedValue;
    let mut entries = Vec::with_capacity(config.len());
    for (k, v) in config.iter() {
        let key = match k.cast::<PyString>() {
            Ok(s) => s.to_cow()?.into_owned(),
            Err(_) => return Err(type_error("config", "str keys", &k)),
        };
        let value = if v.is_none() {
            SeedValue::Null
        } else if let Ok(b) = v.cast::<PyBool>() {
            SeedValue::Bool(b.is_true())
        } else if v.cast::<PyInt>().is_ok() || v.cast::<PyFloat>().is_ok() {
            SeedValue::Number(v.str()?.to_cow()?.into_owned())
        } else if let Ok(s) = v.cast::<PyString>() {
            SeedValue::Text(s.to_cow()?.into_owned())
        } else {
            let got = v.get_type().name().map(|n| n.to_string()).unwrap_or_default();
            return Err(PyTypeError::new_err(format!(
                "config key `{key}`: expected a str, bool, number or None, got {got}"
            )));
        };
        entries.push((key, value));
    }
    Ok(entries)
}

/// Connect with `config`: the transport's home is the loop running now (its calls from that loop
/// go over connections the loop drives), and the orchestrator's connect step runs from it.
fn connect_config<'py>(py: Python<'py>, config: clustermanager_core::Result<Config>) -> PyResult<Bound<'py, PyAny>> {
    let config = config.map_err(|e| crate::errors::to_pyerr(py, e))?;
    let home = crate::aio::home(py);
    let (transport, sides) =
        crate::aio::transport(&config, home.clone()).map_err(|e| crate::errors::to_pyerr(py, e))?;
    let connecting = {
        let home = home.clone();
        async move {
            let seed = clustermanager_transport_common::random_seed();
            let cm = ClusterManager::connect(transport, &config, seed).await?;
            Ok(Manager { cm: cm.erase(), home, sides: Some(sides) })
        }
    };
    crate::call(py, home.as_ref(), connecting, manager, false)
}

fn manager(py: Python<'_>, m: Manager) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, m)?.into_any())
}

/// Connect with the seed's configuration dictionary (`K8SContextManager(config)` /
/// `NomadContextManager(config)`; `orchestrator: "nomad"` for Nomad). A wrong key or value type
/// raises naming the key.
#[pyfunction]
pub(crate) fn connect_seed<'py>(py: Python<'py>, config: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let dict = config.cast::<PyDict>().map_err(|_| type_error("config", "a dict", config))?;
    let entries = seed_entries(dict)?;
    let env = clustermanager_tokio::StdEnvironment;
    connect_config(py, Config::from_seed_map(entries, &env))
}

/// Find the cluster as kubectl and the Nomad CLI do (`KUBECONFIG` / `~/.kube/config`, the
/// in-cluster service account, `NOMAD_ADDR`) and connect.
#[pyfunction]
pub(crate) fn connect_infer(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    connect_config(py, Config::infer(&clustermanager_tokio::StdEnvironment))
}

/// Connect with a kubeconfig file's context (`None`: its current context), from `KUBECONFIG` /
/// `~/.kube/config`.
#[pyfunction]
#[pyo3(signature = (context=None))]
pub(crate) fn connect_kubeconfig(py: Python<'_>, context: Option<String>) -> PyResult<Bound<'_, PyAny>> {
    connect_config(py, Config::from_kubeconfig_env(context.as_deref(), &clustermanager_tokio::StdEnvironment))
}

/// For the benchmark: run `op` (`get_nodes` or `get_job`) `n` times one after another in Rust
/// alone, on the same runtime and manager the Python calls use, and return the seconds it took.
#[pyfunction]
#[pyo3(signature = (m, op, n, namespace=String::new(), name=String::new()))]
pub(crate) fn bench_rust_calls<'py>(
    py: Python<'py>,
    m: &Manager,
    op: String,
    n: u32,
    namespace: String,
    name: String,
) -> PyResult<Bound<'py, PyAny>> {
    if op != "get_nodes" && op != "get_job" && op != "handover" {
        return Err(PyValueError::new_err("parameter `op`: `get_nodes`, `get_job` or `handover`"));
    }
    let cm = m.cm.clone();
    spawn(
        py,
        async move {
            let start = Instant::now();
            for _ in 0..n {
                if op == "handover" {
                    handover().await;
                } else if op == "get_nodes" {
                    cm.get_nodes().await?;
                } else {
                    cm.get_job(&namespace, &name).await?;
                }
            }
            Ok(start.elapsed().as_secs_f64())
        },
        |py, s: f64| Ok(s.into_pyobject(py)?.into_any().unbind()),
    )
}

/// For the benchmark: the hand-over alone. A future that another task on the runtime completes
/// (a oneshot sent from a spawned task): called from Python, it goes to the runtime and back
/// through the loop's inbox as an operation waiting for its answer does, without any I/O.
async fn handover() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = tx.send(());
    });
    let _ = rx.await;
}

/// For the benchmark: one [`handover`] as a Python awaitable (see `benches/bench.py`).
#[pyfunction]
pub(crate) fn bench_handover(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    spawn(
        py,
        async {
            handover().await;
            Ok(())
        },
        |py, ()| Ok(py.None()),
    )
}
