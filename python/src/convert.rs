//! Results to Python: each model type becomes a `dict` of its fields (the pure-Python layer wraps
//! them in typed classes). Statuses are their names (`"Succeeded"`), quantities numbers
//! (millicores, bytes), and the server's object text is under `raw` when it was read.

use clustermanager_core::{
    Condition, ConfigMap, Diagnosis, Execution, Job, Namespace, Node, Progress, Raw, Reason, Scale, Service, Status,
    TaskState, Workload,
};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

/// A `Status` as its name.
pub(crate) fn status(s: Option<Status>) -> Option<String> {
    s.map(|s| format!("{s:?}"))
}

pub(crate) fn reason<'py>(py: Python<'py>, r: &Reason) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("kind", format!("{:?}", r.kind))?;
    d.set_item("message", &r.message)?;
    d.set_item("permanent", r.permanent)?;
    d.set_item("source", &r.source)?;
    Ok(d)
}

fn opt_reason<'py>(py: Python<'py>, r: Option<&Reason>) -> PyResult<Option<Bound<'py, PyDict>>> {
    r.map(|r| reason(py, r)).transpose()
}

fn condition<'py>(py: Python<'py>, c: &Condition) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("kind", &c.kind)?;
    d.set_item("status", &c.status)?;
    d.set_item("reason", c.reason.as_deref())?;
    d.set_item("message", c.message.as_deref())?;
    Ok(d)
}

pub(crate) fn job_dict<'py>(py: Python<'py>, j: &Job) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("namespace", &j.namespace)?;
    d.set_item("name", &j.name)?;
    d.set_item("status", status(j.status))?;
    d.set_item("raw_status", &j.raw_status)?;
    d.set_item("active", j.active)?;
    d.set_item("succeeded", j.succeeded)?;
    d.set_item("failed", j.failed)?;
    d.set_item("pending", j.pending)?;
    d.set_item("start_time", j.start_time.as_deref())?;
    d.set_item("completion_time", j.completion_time.as_deref())?;
    let conditions = PyList::empty(py);
    for c in &j.conditions {
        conditions.append(condition(py, c)?)?;
    }
    d.set_item("conditions", conditions)?;
    d.set_item("labels", &j.labels)?;
    d.set_item("version", &j.version)?;
    d.set_item("deleting", j.deleting)?;
    d.set_item("pending_reason", opt_reason(py, j.pending_reason.as_ref())?)?;
    d.set_item("exit_code", j.exit_code)?;
    d.set_item("raw", raw_text(py, &j.raw)?)?;
    Ok(d)
}

fn task<'py>(py: Python<'py>, t: &TaskState) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", &t.name)?;
    d.set_item("state", &t.state)?;
    d.set_item("exit_code", t.exit_code)?;
    d.set_item("reason", t.reason.as_deref())?;
    d.set_item("failed", t.failed)?;
    d.set_item("restarts", t.restarts)?;
    Ok(d)
}

pub(crate) fn execution_dict<'py>(py: Python<'py>, e: &Execution) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("id", &e.id)?;
    d.set_item("job_name", &e.job_name)?;
    d.set_item("namespace", &e.namespace)?;
    d.set_item("status", status(e.status))?;
    d.set_item("raw_status", &e.raw_status)?;
    d.set_item("node", e.node.as_deref())?;
    let tasks = PyList::empty(py);
    for t in &e.tasks {
        tasks.append(task(py, t)?)?;
    }
    d.set_item("tasks", tasks)?;
    d.set_item("created", e.created.as_deref())?;
    d.set_item("raw", raw_text(py, &e.raw)?)?;
    Ok(d)
}

fn node_dict<'py>(py: Python<'py>, n: &Node) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("id", &n.id)?;
    d.set_item("name", &n.name)?;
    d.set_item("status", &n.status)?;
    d.set_item("ready", n.ready)?;
    d.set_item("datacenter", n.datacenter.as_deref())?;
    d.set_item("eligibility", n.eligibility.as_deref())?;
    d.set_item("drivers", &n.drivers)?;
    d.set_item("cpu_capacity", n.cpu_capacity.map(|c| c.millis()))?;
    d.set_item("memory_capacity", n.memory_capacity.map(|m| m.bytes()))?;
    d.set_item("cpu_allocatable", n.cpu_allocatable.map(|c| c.millis()))?;
    d.set_item("memory_allocatable", n.memory_allocatable.map(|m| m.bytes()))?;
    d.set_item("labels", &n.labels)?;
    d.set_item("raw", raw_text(py, &n.raw)?)?;
    Ok(d)
}

fn workload_dict<'py>(py: Python<'py>, w: &Workload) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", &w.name)?;
    d.set_item("namespace", &w.namespace)?;
    d.set_item("uid", &w.uid)?;
    d.set_item("replicas", w.replicas)?;
    d.set_item("ready", w.ready)?;
    d.set_item("available", w.available)?;
    d.set_item("updated", w.updated)?;
    d.set_item("is_available", w.is_available)?;
    d.set_item("deleting", w.deleting)?;
    d.set_item("raw_status", &w.raw_status)?;
    d.set_item("labels", &w.labels)?;
    d.set_item("selector", &w.selector)?;
    d.set_item("raw", raw_text(py, &w.raw)?)?;
    Ok(d)
}

/// The server's object this value was read from, kept undecoded: `None` when none was read.
fn raw_text(py: Python<'_>, raw: &Raw) -> PyResult<Option<Py<RawObject>>> {
    if raw.is_empty() {
        return Ok(None);
    }
    Py::new(py, RawObject { raw: raw.clone() }).map(Some)
}

/// The server's JSON for one object, found in the kept answer only when asked for (`text()`):
/// listing 1,000 jobs costs no JSON text until a caller looks at one's `raw`.
#[pyclass(module = "clustermanager._native", frozen)]
pub(crate) struct RawObject {
    raw: Raw,
}

#[pymethods]
impl RawObject {
    /// The object's JSON text as the server sent it.
    fn text(&self, py: Python<'_>) -> PyResult<String> {
        self.raw.json().map(str::to_owned).map_err(|e| crate::errors::to_pyerr(py, e))
    }

    fn __repr__(&self) -> &'static str {
        "<clustermanager raw object>"
    }
}

fn list<'py, T>(
    py: Python<'py>,
    items: &[T],
    f: fn(Python<'py>, &T) -> PyResult<Bound<'py, PyDict>>,
) -> PyResult<Py<PyAny>> {
    let out = PyList::empty(py);
    for item in items {
        out.append(f(py, item)?)?;
    }
    Ok(out.into_any().unbind())
}

pub(crate) fn job(py: Python<'_>, j: Job) -> PyResult<Py<PyAny>> {
    Ok(job_dict(py, &j)?.into_any().unbind())
}

pub(crate) fn jobs(py: Python<'_>, v: Vec<Job>) -> PyResult<Py<PyAny>> {
    list(py, &v, job_dict)
}

pub(crate) fn execution(py: Python<'_>, e: Execution) -> PyResult<Py<PyAny>> {
    Ok(execution_dict(py, &e)?.into_any().unbind())
}

pub(crate) fn executions(py: Python<'_>, v: Vec<Execution>) -> PyResult<Py<PyAny>> {
    list(py, &v, execution_dict)
}

pub(crate) fn nodes(py: Python<'_>, v: Vec<Node>) -> PyResult<Py<PyAny>> {
    list(py, &v, node_dict)
}

pub(crate) fn workload(py: Python<'_>, w: Workload) -> PyResult<Py<PyAny>> {
    Ok(workload_dict(py, &w)?.into_any().unbind())
}

pub(crate) fn workloads(py: Python<'_>, v: Vec<Workload>) -> PyResult<Py<PyAny>> {
    list(py, &v, workload_dict)
}

pub(crate) fn scale(py: Python<'_>, s: Scale) -> PyResult<Py<PyAny>> {
    let d = PyDict::new(py);
    d.set_item("name", &s.name)?;
    d.set_item("replicas", s.replicas)?;
    d.set_item("desired", s.desired)?;
    d.set_item("raw", raw_text(py, &s.raw)?)?;
    Ok(d.into_any().unbind())
}

fn namespace_dict<'py>(py: Python<'py>, n: &Namespace) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", &n.name)?;
    d.set_item("phase", &n.phase)?;
    d.set_item("description", n.description.as_deref())?;
    d.set_item("raw", raw_text(py, &n.raw)?)?;
    Ok(d)
}

pub(crate) fn namespace(py: Python<'_>, n: Namespace) -> PyResult<Py<PyAny>> {
    Ok(namespace_dict(py, &n)?.into_any().unbind())
}

pub(crate) fn namespaces(py: Python<'_>, v: Vec<Namespace>) -> PyResult<Py<PyAny>> {
    list(py, &v, namespace_dict)
}

fn config_map_dict<'py>(py: Python<'py>, c: &ConfigMap) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("namespace", &c.namespace)?;
    d.set_item("name", &c.name)?;
    d.set_item("labels", &c.labels)?;
    d.set_item("data", &c.data)?;
    Ok(d)
}

pub(crate) fn config_maps(py: Python<'_>, v: Vec<ConfigMap>) -> PyResult<Py<PyAny>> {
    list(py, &v, config_map_dict)
}

pub(crate) fn service(py: Python<'_>, s: Service) -> PyResult<Py<PyAny>> {
    let d = PyDict::new(py);
    d.set_item("name", &s.name)?;
    d.set_item("namespace", &s.namespace)?;
    d.set_item("kind", &s.kind)?;
    d.set_item("cluster_ip", s.cluster_ip.as_deref())?;
    let ports = PyList::empty(py);
    for p in &s.ports {
        let pd = PyDict::new(py);
        pd.set_item("name", &p.name)?;
        pd.set_item("port", p.port)?;
        pd.set_item("target_port", p.target_port)?;
        pd.set_item("protocol", &p.protocol)?;
        pd.set_item("node_port", p.node_port)?;
        ports.append(pd)?;
    }
    d.set_item("ports", ports)?;
    d.set_item("selector", &s.selector)?;
    d.set_item("labels", &s.labels)?;
    Ok(d.into_any().unbind())
}

pub(crate) fn diagnosis(py: Python<'_>, g: Diagnosis) -> PyResult<Py<PyAny>> {
    let d = PyDict::new(py);
    d.set_item("reason", opt_reason(py, g.reason.as_ref())?)?;
    d.set_item("started", g.started)?;
    d.set_item("executions", g.executions)?;
    Ok(d.into_any().unbind())
}

/// A wait's progress event: `{"event": "stuck" | "unstuck" | "started" | "finished", "job", ...}`.
pub(crate) fn progress<'py>(py: Python<'py>, p: &Progress) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    match p {
        Progress::Stuck { job, reason: r } => {
            d.set_item("event", "stuck")?;
            d.set_item("job", job)?;
            d.set_item("reason", reason(py, r)?)?;
        }
        Progress::Unstuck { job } => {
            d.set_item("event", "unstuck")?;
            d.set_item("job", job)?;
        }
        Progress::Started { job } => {
            d.set_item("event", "started")?;
            d.set_item("job", job)?;
        }
        Progress::Finished { job, status: s } => {
            d.set_item("event", "finished")?;
            d.set_item("job", job)?;
            d.set_item("status", status(*s))?;
        }
        other => {
            d.set_item("event", "other")?;
            d.set_item("text", other.to_string())?;
        }
    }
    d.set_item("text", p.to_string())?;
    Ok(d)
}

pub(crate) fn boolean(py: Python<'_>, b: bool) -> PyResult<Py<PyAny>> {
    Ok(pyo3::types::PyBool::new(py, b).to_owned().into_any().unbind())
}

pub(crate) fn none(py: Python<'_>, _: ()) -> PyResult<Py<PyAny>> {
    Ok(py.None())
}

pub(crate) fn count(py: Python<'_>, n: usize) -> PyResult<Py<PyAny>> {
    Ok(n.into_pyobject(py)?.into_any().unbind())
}

pub(crate) fn strings(py: Python<'_>, v: Vec<String>) -> PyResult<Py<PyAny>> {
    Ok(PyList::new(py, v)?.into_any().unbind())
}

pub(crate) fn text(py: Python<'_>, s: String) -> PyResult<Py<PyAny>> {
    Ok(s.into_pyobject(py)?.into_any().unbind())
}

/// A JSON value as Python objects (through the `json` module: exact for every JSON value).
pub(crate) fn json_value(py: Python<'_>, v: serde_json::Value) -> PyResult<Py<PyAny>> {
    let text = v.to_string();
    let json = py.import("json")?;
    Ok(json.call_method1("loads", (text,))?.unbind())
}

pub(crate) fn json_values(py: Python<'_>, v: Vec<serde_json::Value>) -> PyResult<Py<PyAny>> {
    json_value(py, serde_json::Value::Array(v))
}
