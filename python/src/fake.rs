//! `FakeCluster`: the Rust in-process fake Kubernetes / Nomad cluster (`clustermanager-fake`),
//! with its virtual time and scripted faults, for Python tests.

use std::time::Duration;

use clustermanager_core::error::TransportErrorKind;
use clustermanager_fake::{FakeOptions, Fault, KubernetesVersion};
use pyo3::prelude::*;

use crate::errors::value_error;
use crate::manager::Manager;
use crate::spawn;

/// A fake cluster. Jobs "run" their command (`echo hi` logs `hi`, `exit 3` fails with exit
/// code 3) in virtual time, so waits return at once.
#[pyclass(module = "clustermanager._native", frozen)]
pub(crate) struct FakeCluster {
    inner: clustermanager_fake::FakeCluster,
}

fn options(
    step: Option<f64>,
    round_trip: Option<f64>,
    nomad_drivers: Option<Vec<String>>,
    missing_images: Option<Vec<String>>,
    seed: Option<u64>,
) -> PyResult<FakeOptions> {
    let mut o = FakeOptions::default();
    if let Some(s) = step {
        o.step = Duration::try_from_secs_f64(s).map_err(|_| value_error("step", format!("{s} is not a duration")))?;
    }
    if let Some(s) = round_trip {
        o.round_trip =
            Duration::try_from_secs_f64(s).map_err(|_| value_error("round_trip", format!("{s} is not a duration")))?;
    }
    if let Some(d) = nomad_drivers {
        o.nomad_drivers = d;
    }
    if let Some(m) = missing_images {
        o.missing_images = m;
    }
    if let Some(s) = seed {
        o.seed = s;
    }
    Ok(o)
}

#[pymethods]
impl FakeCluster {
    /// A fake Kubernetes cluster (one Ready node), behaving as kube-apiserver `version`:
    /// `"1.36"` (the default) or `"1.19"`.
    #[staticmethod]
    #[pyo3(signature = (step=None, round_trip=None, missing_images=None, seed=None, version=None))]
    fn kubernetes(
        step: Option<f64>,
        round_trip: Option<f64>,
        missing_images: Option<Vec<String>>,
        seed: Option<u64>,
        version: Option<&str>,
    ) -> PyResult<Self> {
        let mut o = options(step, round_trip, None, missing_images, seed)?;
        o.kubernetes = match version.map(|v| v.trim_start_matches('v')) {
            None | Some("1.36") => KubernetesVersion::V1_36,
            Some("1.19") => KubernetesVersion::V1_19,
            Some(other) => {
                return Err(value_error("version", format!("\"{other}\": the fake speaks \"1.36\" or \"1.19\"")))
            }
        };
        Ok(FakeCluster { inner: clustermanager_fake::FakeCluster::kubernetes_with(o) })
    }

    /// A fake Nomad agent (Nomad 1.1 behaviour; region `global`, datacenter `dc1`), its node
    /// offering `node_cpu_mhz` and `node_memory_mb` (default 4,000 MHz and 8,192 MB).
    #[staticmethod]
    #[pyo3(signature = (step=None, round_trip=None, nomad_drivers=None, seed=None, node_cpu_mhz=None, node_memory_mb=None))]
    fn nomad(
        step: Option<f64>,
        round_trip: Option<f64>,
        nomad_drivers: Option<Vec<String>>,
        seed: Option<u64>,
        node_cpu_mhz: Option<u64>,
        node_memory_mb: Option<u64>,
    ) -> PyResult<Self> {
        let mut o = options(step, round_trip, nomad_drivers, None, seed)?;
        o.nomad_node_cpu_mhz = node_cpu_mhz.unwrap_or(o.nomad_node_cpu_mhz);
        o.nomad_node_memory_mb = node_memory_mb.unwrap_or(o.nomad_node_memory_mb);
        Ok(FakeCluster { inner: clustermanager_fake::FakeCluster::nomad_with(o) })
    }

    /// `"kubernetes"` or `"nomad"`.
    #[getter]
    fn orchestrator(&self) -> &'static str {
        match self.inner.config().orchestrator {
            clustermanager_core::Orchestrator::Kubernetes => "kubernetes",
            clustermanager_core::Orchestrator::Nomad => "nomad",
        }
    }

    /// Connect a manager to this cluster (for Nomad this reads `/v1/agent/self`); on Nomad,
    /// `prefix_namespaces` maps namespaces onto `{namespace}-{job}` job IDs, as the seed did.
    #[pyo3(signature = (prefix_namespaces=false))]
    fn connect<'py>(&self, py: Python<'py>, prefix_namespaces: bool) -> PyResult<Bound<'py, PyAny>> {
        let fake = self.inner.clone();
        let connect = async move {
            let mut config = fake.config();
            if prefix_namespaces {
                config = config.with_nomad_prefix_namespaces();
            }
            Ok(Manager { cm: fake.cluster_manager_with(&config).await?.erase(), home: None, sides: None })
        };
        spawn(py, connect, |py, m| Ok(Py::new(py, m)?.into_any()))
    }

    /// Script a fault: an HTTP `status` answer (with `body`, `retry_after` seconds), a dropped
    /// connection (`drop="connect" | "tls" | "io" | "truncated"`), `latency` seconds, or `hang`;
    /// on requests whose method and path start as `on=("GET", "/api/v1/nodes")`; `times` times
    /// (default once; `times=None` with `always=True` for every request).
    #[pyo3(signature = (status=None, body="", retry_after=None, drop=None, latency=None, hang=false, on=None, times=None, always=false))]
    #[allow(clippy::too_many_arguments)]
    fn add_fault(
        &self,
        status: Option<u16>,
        body: &str,
        retry_after: Option<u32>,
        drop: Option<&str>,
        latency: Option<f64>,
        hang: bool,
        on: Option<(String, String)>,
        times: Option<u32>,
        always: bool,
    ) -> PyResult<()> {
        let chosen = [status.is_some(), drop.is_some(), latency.is_some(), hang].iter().filter(|b| **b).count();
        if chosen != 1 {
            return Err(value_error("status", "give exactly one of status, drop, latency, hang"));
        }
        let mut fault = if let Some(s) = status {
            Fault::status(s, body)
        } else if let Some(d) = drop {
            let kind = match d {
                "connect" => TransportErrorKind::Connect,
                "tls" => TransportErrorKind::Tls,
                "io" => TransportErrorKind::Io,
                "truncated" => TransportErrorKind::Truncated,
                other => return Err(value_error("drop", format!("{other:?} is not connect, tls, io or truncated"))),
            };
            Fault::drop_connection(kind)
        } else if let Some(l) = latency {
            Fault::latency(Duration::try_from_secs_f64(l).map_err(|_| value_error("latency", "not a duration"))?)
        } else {
            Fault::hang()
        };
        if let Some(r) = retry_after {
            fault = fault.retry_after(r);
        }
        if let Some((method, path)) = on {
            fault = fault.on(&method, &path);
        }
        if always {
            fault = fault.always();
        } else if let Some(n) = times {
            fault = fault.times(n);
        }
        self.inner.add_fault(fault);
        Ok(())
    }

    /// How many scripted faults have not fired yet.
    #[getter]
    fn pending_faults(&self) -> usize {
        self.inner.pending_faults()
    }

    /// Streams (watches, follows) open now.
    #[getter]
    fn open_streams(&self) -> usize {
        self.inner.open_streams()
    }

    /// The most streams open at once (plus the request answered meanwhile): the most
    /// connections the client held.
    #[getter]
    fn peak_streams(&self) -> usize {
        self.inner.peak_streams()
    }

    /// Every request received so far, as `METHOD path?query`.
    fn requests(&self) -> Vec<String> {
        self.inner.requests()
    }

    /// Virtual seconds elapsed since the cluster was created.
    #[getter]
    fn elapsed(&self) -> f64 {
        self.inner.elapsed().as_secs_f64()
    }

    /// Let `seconds` of virtual time pass.
    fn advance(&self, seconds: f64) -> PyResult<()> {
        let d = Duration::try_from_secs_f64(seconds).map_err(|_| value_error("seconds", "not a duration"))?;
        self.inner.advance(d);
        Ok(())
    }

    /// The pod names (Kubernetes) or allocation IDs (Nomad) of a namespace.
    fn executions(&self, namespace: &str) -> Vec<String> {
        self.inner.executions(namespace)
    }

    /// Force an execution's status (`Running`, `Succeeded`, `Failed`; Nomad: `running`,
    /// `complete`, `failed`) with an exit code. `False` if there is no such execution.
    #[pyo3(signature = (namespace, id, status, exit_code=0))]
    fn set_execution_status(&self, namespace: &str, id: &str, status: &str, exit_code: i32) -> bool {
        self.inner.set_execution_status(namespace, id, status, exit_code)
    }

    fn __repr__(&self) -> String {
        format!("<clustermanager.fake.FakeCluster {}>", self.orchestrator())
    }
}
