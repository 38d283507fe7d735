//! Job and service specs from Python: the Python layer passes the keyword arguments as JSON text
//! (`json.dumps` of a dict), read here into a [`JobSpec`] / [`ServiceSpec`]. A key this does not
//! know, or a value of the wrong type, raises naming the parameter (`TypeError` for a type,
//! `ValueError` for a value).

use std::time::Duration;

use clustermanager_core::{
    Constraint, Driver, EnvFrom, JobSpec, PodManagement, Port, Probe, PullPolicy, ServiceSpec, StatefulOptions, Volume,
    VolumeMount, VolumeSource,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::PyErr;
use serde_json::{Map, Value};

type R<T> = Result<T, PyErr>;

fn type_err(param: &str, expected: &str, got: &Value) -> PyErr {
    let got = match got {
        Value::Null => "None",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    };
    PyTypeError::new_err(format!("parameter `{param}`: expected {expected}, got {got}"))
}

fn value_err(param: &str, problem: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("parameter `{param}`: {problem}"))
}

fn text(param: &str, v: &Value) -> R<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        // numbers are accepted where a quantity is asked for (`cpu_limit=2`), as the seed did
        Value::Number(n) => Ok(n.to_string()),
        other => Err(type_err(param, "a str", other)),
    }
}

fn strings(param: &str, v: &Value) -> R<Vec<String>> {
    match v {
        Value::Array(items) => items.iter().map(|i| text(param, i)).collect(),
        Value::String(s) => Ok(vec![s.clone()]),
        other => Err(type_err(param, "a list of str", other)),
    }
}

fn map(param: &str, v: &Value) -> R<Vec<(String, String)>> {
    match v {
        Value::Object(m) => m.iter().map(|(k, v)| Ok((k.clone(), text(&format!("{param}[{k:?}]"), v)?))).collect(),
        other => Err(type_err(param, "a dict of str to str", other)),
    }
}

fn uint(param: &str, v: &Value) -> R<u32> {
    match v.as_u64() {
        Some(n) => u32::try_from(n).map_err(|_| value_err(param, format!("{n} is too large"))),
        None => Err(match v {
            Value::Number(_) => value_err(param, format!("expected a whole number ≥ 0, got {v}")),
            other => type_err(param, "an int", other),
        }),
    }
}

fn boolean(param: &str, v: &Value) -> R<bool> {
    v.as_bool().ok_or_else(|| type_err(param, "a bool", v))
}

fn seconds(param: &str, v: &Value) -> R<Duration> {
    let s = v.as_f64().ok_or_else(|| type_err(param, "a number of seconds", v))?;
    Duration::try_from_secs_f64(s).map_err(|_| value_err(param, format!("{s} is not a duration in seconds")))
}

fn object<'a>(param: &str, v: &'a Value) -> R<&'a Map<String, Value>> {
    v.as_object().ok_or_else(|| type_err(param, "a dict", v))
}

/// The name inside `{"name": ...}` under `key` of `m`, if present.
fn inner_name(m: &Map<String, Value>, key: &str, name_key: &str) -> Option<String> {
    m.get(key)?.as_object()?.get(name_key)?.as_str().map(str::to_owned)
}

/// A volume: `{"name": .., "hostPath": {"path": ..}}` and the other Kubernetes sources
/// (`emptyDir`, `configMap`, `secret`, `persistentVolumeClaim`), as the seed passed them; any
/// other source is passed through as is.
fn volume(param: &str, v: &Value) -> R<Volume> {
    let m = object(param, v)?;
    let name = m.get("name").and_then(Value::as_str).ok_or_else(|| value_err(param, "each volume needs a `name`"))?;
    let source = if let Some(path) = inner_name(m, "hostPath", "path") {
        VolumeSource::HostPath { path }
    } else if m.contains_key("emptyDir") {
        VolumeSource::EmptyDir
    } else if let Some(name) = inner_name(m, "configMap", "name") {
        VolumeSource::ConfigMap { name }
    } else if let Some(name) = inner_name(m, "secret", "secretName") {
        VolumeSource::Secret { name }
    } else if let Some(name) = inner_name(m, "persistentVolumeClaim", "claimName") {
        VolumeSource::Claim { name }
    } else {
        let mut rest = m.clone();
        rest.remove("name");
        VolumeSource::Raw(Value::Object(rest))
    };
    Ok(Volume { name: name.to_owned(), source })
}

/// A mount: `{"name", "mountPath" | "mount_path", "readOnly" | "read_only"}`.
fn volume_mount(param: &str, v: &Value) -> R<VolumeMount> {
    let m = object(param, v)?;
    let get = |a: &str, b: &str| m.get(a).or_else(|| m.get(b));
    let name =
        get("name", "name").and_then(Value::as_str).ok_or_else(|| value_err(param, "each mount needs a `name`"))?;
    let path = get("mountPath", "mount_path")
        .and_then(Value::as_str)
        .ok_or_else(|| value_err(param, "each mount needs a `mountPath`"))?;
    let read_only = match get("readOnly", "read_only") {
        Some(v) => boolean(param, v)?,
        None => false,
    };
    Ok(VolumeMount { name: name.to_owned(), mount_path: path.to_owned(), read_only })
}

/// `{"configMapRef": {"name": ..}}` / `{"secretRef": {"name": ..}}` (Kubernetes' shape), or
/// `{"config_map": name}` / `{"secret": name}`.
fn env_from(param: &str, v: &Value) -> R<EnvFrom> {
    let m = object(param, v)?;
    if let Some(name) = inner_name(m, "configMapRef", "name") {
        return Ok(EnvFrom::ConfigMap(name));
    }
    if let Some(name) = inner_name(m, "secretRef", "name") {
        return Ok(EnvFrom::Secret(name));
    }
    if let Some(name) = m.get("config_map").and_then(Value::as_str) {
        return Ok(EnvFrom::ConfigMap(name.to_owned()));
    }
    if let Some(name) = m.get("secret").and_then(Value::as_str) {
        return Ok(EnvFrom::Secret(name.to_owned()));
    }
    Err(value_err(param, "each entry is {\"configMapRef\": {\"name\": ..}} or {\"secretRef\": {\"name\": ..}}"))
}

/// A Nomad constraint: `[attribute, operator, value]` or `{"attribute"|"LTarget", "operator"|"Operand", "value"|"RTarget"}`.
fn constraint(param: &str, v: &Value) -> R<Constraint> {
    match v {
        Value::Array(items) if items.len() == 3 => {
            Ok(Constraint::new(text(param, &items[0])?, text(param, &items[1])?, text(param, &items[2])?))
        }
        Value::Object(m) => {
            let get = |a: &str, b: &str| m.get(a).or_else(|| m.get(b)).and_then(Value::as_str).unwrap_or("").to_owned();
            Ok(Constraint::new(get("attribute", "LTarget"), get("operator", "Operand"), get("value", "RTarget")))
        }
        other => Err(type_err(param, "[attribute, operator, value] or a dict", other)),
    }
}

const JOB_KEYS: &[&str] = &[
    "name",
    "image",
    "command",
    "args",
    "entrypoint",
    "cpu_limit",
    "mem_limit",
    "cpu_request",
    "mem_request",
    "env",
    "labels",
    "annotations",
    "node_selector",
    "backoff_limit",
    "driver",
    "gpus",
    "image_pull_secrets",
    "image_pull_policy",
    "privileged",
    "active_deadline",
    "ttl_after_finished",
    "service_account",
    "working_dir",
    "constraints",
    "datacenters",
    "templates",
    "network_mode",
    "volumes",
    "volume_mounts",
    "env_from",
    "affinity",
    "tolerations",
    "security_context",
    "container",
];

const SERVICE_KEYS: &[&str] =
    &["replicas", "ports", "readiness", "liveness", "service_name", "pod_management", "revision_history_limit"];

fn parse(json: &str) -> R<Map<String, Value>> {
    match serde_json::from_str::<Value>(json) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(PyTypeError::new_err("the spec must be a dict")),
        Err(e) => Err(PyValueError::new_err(format!("the spec is not valid JSON: {e}"))),
    }
}

fn job_from(m: &Map<String, Value>, extra: &[&str]) -> R<JobSpec> {
    if let Some(unknown) = m.keys().find(|k| !JOB_KEYS.contains(&k.as_str()) && !extra.contains(&k.as_str())) {
        return Err(PyTypeError::new_err(format!("unexpected keyword argument `{unknown}`")));
    }
    let name = match m.get("name") {
        Some(v) => text("name", v)?,
        None => return Err(PyTypeError::new_err("missing required argument `name`")),
    };
    if name.is_empty() {
        return Err(value_err("name", "must not be empty"));
    }
    let mut spec = JobSpec::new(name);
    for (key, v) in m {
        if v.is_null() {
            continue;
        }
        let k = key.as_str();
        match k {
            "image" => spec.image = Some(text(k, v)?),
            "command" => spec.command = strings(k, v)?,
            "args" => spec.args = strings(k, v)?,
            "entrypoint" => spec.entrypoint = strings(k, v)?,
            "cpu_limit" => spec.cpu_limit = Some(text(k, v)?),
            "mem_limit" => spec.mem_limit = Some(text(k, v)?),
            "cpu_request" => spec.cpu_request = Some(text(k, v)?),
            "mem_request" => spec.mem_request = Some(text(k, v)?),
            "env" => {
                for (name, value) in map(k, v)? {
                    spec = spec.env(name, value);
                }
            }
            "labels" => spec.labels = map(k, v)?.into_iter().collect(),
            "annotations" => spec.annotations = map(k, v)?.into_iter().collect(),
            "node_selector" => spec.node_selector = map(k, v)?.into_iter().collect(),
            "backoff_limit" => spec.backoff_limit = uint(k, v)?,
            "driver" => {
                spec.driver = Some(match text(k, v)?.as_str() {
                    "docker" => Driver::Docker,
                    "exec" => Driver::Exec,
                    "raw_exec" => Driver::RawExec,
                    other => Driver::Other(other.to_owned()),
                })
            }
            "gpus" => spec.gpus = uint(k, v)?,
            "image_pull_secrets" => spec.image_pull_secrets = strings(k, v)?,
            "image_pull_policy" => {
                spec.image_pull_policy = Some(match text(k, v)?.as_str() {
                    "Always" => PullPolicy::Always,
                    "IfNotPresent" => PullPolicy::IfNotPresent,
                    "Never" => PullPolicy::Never,
                    other => return Err(value_err(k, format!("{other:?} is not Always, IfNotPresent or Never"))),
                })
            }
            "privileged" => spec.privileged = boolean(k, v)?,
            "active_deadline" => spec.active_deadline = Some(seconds(k, v)?),
            "ttl_after_finished" => spec.ttl_after_finished = Some(seconds(k, v)?),
            "service_account" => spec.service_account = Some(text(k, v)?),
            "working_dir" => spec.working_dir = Some(text(k, v)?),
            "container" => spec.container = Some(text(k, v)?),
            "constraints" => {
                let items = v.as_array().ok_or_else(|| type_err(k, "a list", v))?;
                spec.constraints = items.iter().map(|c| constraint(k, c)).collect::<R<_>>()?;
            }
            "datacenters" => spec.datacenters = strings(k, v)?,
            "templates" => {
                let items = v.as_array().ok_or_else(|| type_err(k, "a list of dicts", v))?;
                for t in items {
                    let t = object(k, t)?;
                    let field = |a: &str, b: &str| {
                        t.get(a).or_else(|| t.get(b)).and_then(Value::as_str).unwrap_or("").to_owned()
                    };
                    spec = spec.template(field("data", "EmbeddedTmpl"), field("destination", "DestPath"));
                }
            }
            "network_mode" => spec.network_mode = Some(text(k, v)?),
            "volumes" => {
                let items = v.as_array().ok_or_else(|| type_err(k, "a list of dicts", v))?;
                spec.volumes = items.iter().map(|i| volume(k, i)).collect::<R<_>>()?;
            }
            "volume_mounts" => {
                let items = v.as_array().ok_or_else(|| type_err(k, "a list of dicts", v))?;
                spec.volume_mounts = items.iter().map(|i| volume_mount(k, i)).collect::<R<_>>()?;
            }
            "env_from" => {
                let items = v.as_array().ok_or_else(|| type_err(k, "a list of dicts", v))?;
                spec.env_from = items.iter().map(|i| env_from(k, i)).collect::<R<_>>()?;
            }
            // Kubernetes' own JSON, sent unchanged (the core checks the shape)
            "affinity" => spec.affinity = Some(Value::Object(object(k, v)?.clone())),
            "tolerations" => {
                let items = v.as_array().ok_or_else(|| type_err(k, "a list of dicts", v))?;
                spec.tolerations =
                    items.iter().map(|t| object(k, t).map(|o| Value::Object(o.clone()))).collect::<R<_>>()?;
            }
            "security_context" => spec.security_context = Some(Value::Object(object(k, v)?.clone())),
            _ => {}
        }
    }
    Ok(spec)
}

/// A [`JobSpec`] from the JSON text of the keyword arguments.
pub(crate) fn job_spec(json: &str) -> R<JobSpec> {
    job_from(&parse(json)?, &[])
}

/// A [`ServiceSpec`] (Deployment / StatefulSet / Nomad service job) from JSON text: the job keys
/// plus `replicas`, `ports`, `service_name`, `pod_management`, `revision_history_limit`.
pub(crate) fn service_spec(json: &str) -> R<ServiceSpec> {
    let m = parse(json)?;
    let task = job_from(&m, SERVICE_KEYS)?;
    let mut spec = ServiceSpec::new(task);
    let mut stateful = StatefulOptions::default();
    for (key, v) in &m {
        if v.is_null() {
            continue;
        }
        let k = key.as_str();
        match k {
            "replicas" => spec.replicas = uint(k, v)?,
            "ports" => {
                let items = v.as_array().ok_or_else(|| type_err(k, "a list", v))?;
                for (i, p) in items.iter().enumerate() {
                    let port = match p {
                        Value::Number(_) => Port::tcp(format!("p{i}"), port_number(k, p)?),
                        Value::Object(o) => {
                            let number = o
                                .get("port")
                                .or_else(|| o.get("containerPort"))
                                .ok_or_else(|| value_err(k, "each port needs `port` (or `containerPort`)"))?;
                            let mut port = Port::tcp(
                                o.get("name").and_then(Value::as_str).map_or_else(|| format!("p{i}"), str::to_owned),
                                port_number(k, number)?,
                            );
                            if let Some(proto) = o.get("protocol").and_then(Value::as_str) {
                                port.protocol = proto.to_owned();
                            }
                            port
                        }
                        other => return Err(type_err(k, "an int or a dict", other)),
                    };
                    spec = spec.port(port);
                }
            }
            "readiness" => spec.readiness = Some(probe(k, v)?),
            "liveness" => spec.liveness = Some(probe(k, v)?),
            "service_name" => stateful.service_name = Some(text(k, v)?),
            "pod_management" => {
                stateful.pod_management = Some(match text(k, v)?.as_str() {
                    "OrderedReady" => PodManagement::OrderedReady,
                    "Parallel" => PodManagement::Parallel,
                    other => return Err(value_err(k, format!("{other:?} is not OrderedReady or Parallel"))),
                })
            }
            "revision_history_limit" => stateful.revision_history_limit = Some(uint(k, v)?),
            _ => {}
        }
    }
    Ok(spec.stateful(stateful))
}

fn port_number(param: &str, v: &Value) -> R<u16> {
    let n = uint(param, v)?;
    u16::try_from(n).map_err(|_| value_err(param, format!("{n} is not a port number")))
}

/// The keys of a probe dict [`probe`] takes (`_native.PROBE_KEYS`: the seed layer keeps these
/// and drops the rest with a warning).
pub(crate) const PROBE_KEYS: [&str; 8] = [
    "httpGet",
    "tcpSocket",
    "exec",
    "initialDelaySeconds",
    "periodSeconds",
    "failureThreshold",
    "timeoutSeconds",
    "successThreshold",
];

/// The keys of a probe's `httpGet` [`probe`] takes (`_native.HTTP_GET_KEYS`).
pub(crate) const HTTP_GET_KEYS: [&str; 3] = ["path", "port", "scheme"];

/// A probe in Kubernetes' form: one of `httpGet` (`path`, `port`, `scheme` `HTTP` or `HTTPS`),
/// `tcpSocket` (`port`) or `exec` (`command`), with `initialDelaySeconds`, `periodSeconds`,
/// `failureThreshold`, `timeoutSeconds` and `successThreshold`.
fn probe(param: &str, v: &Value) -> R<Probe> {
    let o = object(param, v)?;
    if let Some(other) = o.keys().find(|k| !PROBE_KEYS.contains(&k.as_str())) {
        return Err(value_err(param, format!("`{other}` is not offered (only {})", PROBE_KEYS.join(", "))));
    }
    let port = |check: &Map<String, Value>| match check.get("port") {
        Some(p) => port_number(param, p),
        None => Err(value_err(param, "the check needs a `port`")),
    };
    let mut probe = match (o.get("httpGet"), o.get("tcpSocket"), o.get("exec")) {
        (Some(http), None, None) => {
            let http = object(param, http)?;
            if let Some(other) = http.keys().find(|k| !HTTP_GET_KEYS.contains(&k.as_str())) {
                let only = HTTP_GET_KEYS.join(", ");
                return Err(value_err(param, format!("`httpGet.{other}` is not offered (only {only})")));
            }
            let path = http.get("path").map(|p| text(param, p)).transpose()?.unwrap_or_else(|| "/".to_owned());
            match http.get("scheme").map(|s| text(param, s)).transpose()?.as_deref() {
                None | Some("HTTP") => Probe::http(path, port(http)?),
                Some("HTTPS") => Probe::https(path, port(http)?),
                Some(other) => return Err(value_err(param, format!("scheme {other:?} is not HTTP or HTTPS"))),
            }
        }
        (None, Some(tcp), None) => Probe::tcp(port(object(param, tcp)?)?),
        (None, None, Some(exec)) => match object(param, exec)?.get("command") {
            Some(command) => Probe::exec(strings(param, command)?),
            None => return Err(value_err(param, "`exec` needs a `command`")),
        },
        _ => return Err(value_err(param, "needs exactly one of `httpGet`, `tcpSocket` or `exec`")),
    };
    if let Some(s) = o.get("initialDelaySeconds") {
        probe.initial_delay_seconds = uint(param, s)?;
    }
    if let Some(s) = o.get("periodSeconds") {
        probe.period_seconds = uint(param, s)?;
    }
    if let Some(s) = o.get("failureThreshold") {
        probe.failure_threshold = uint(param, s)?;
    }
    if let Some(s) = o.get("timeoutSeconds") {
        probe.timeout_seconds = uint(param, s)?;
    }
    if let Some(s) = o.get("successThreshold") {
        probe.success_threshold = uint(param, s)?;
    }
    Ok(probe)
}
