//! The pod template every Kubernetes workload of ours carries (a Job's, a Deployment's, a
//! StatefulSet's): one container named [`CONTAINER`] built from a [`JobSpec`], plus what a
//! [`ServiceSpec`](crate::ServiceSpec) adds (ports, probes). Everything is checked before
//! anything is sent; options Kubernetes has no field for (Nomad constraints, datacenters,
//! templates, network modes other than `host`) are refused with [`Error::InvalidInput`] naming
//! what to use instead.
//!
//! | [`JobSpec`] | pod template field |
//! |---|---|
//! | `image`, `image_pull_policy`, `image_pull_secrets` | `image`, `imagePullPolicy`, `imagePullSecrets` |
//! | `entrypoint`, `command`, `args` | `command` / `args` (see [`super::job`]) |
//! | `cpu_limit`, `mem_limit`, `gpus` | `resources.limits` (`cpu`, `memory`, `nvidia.com/gpu`) |
//! | `cpu_request`, `mem_request` | `resources.requests` (when absent Kubernetes uses the limits) |
//! | `env`, `env_from`, `volumes`, `volume_mounts`, `working_dir` | `env`, `envFrom`, `volumes`, `volumeMounts`, `workingDir` |
//! | `labels`, `annotations` | the object's and the template's metadata |
//! | `privileged` | `securityContext.privileged` |
//! | `node_selector`, `service_account` | `nodeSelector`, `serviceAccountName` |
//! | `network_mode: "host"` | `hostNetwork: true` |
//! | `affinity`, `tolerations` | `affinity`, `tolerations` (JSON objects, sent unchanged) |
//! | `security_context` | the container's `securityContext` (a JSON object; `privileged` added) |

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::ser::SerializeMap;
use serde::Serialize;

use super::name;
use crate::error::{Error, Result};
use crate::model::{EnvFrom, JobSpec, Volume, VolumeSource};
use crate::quantity::{Cpu, Memory};
use crate::workload::{Port, Probe, ProbeCheck};

/// The name of the one container of our pods.
pub const CONTAINER: &str = "main";
/// The annotation naming the container `kubectl logs` uses when none is given: set on a pod
/// template whose container is not named [`CONTAINER`].
pub const DEFAULT_CONTAINER_ANNOTATION: &str = "kubectl.kubernetes.io/default-container";

/// An object's metadata as we send it.
#[derive(Serialize)]
pub(crate) struct ObjMeta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<&'a str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) labels: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) annotations: Cow<'a, BTreeMap<String, String>>,
}

/// A pod template.
#[derive(Serialize)]
pub(crate) struct Template<'a> {
    metadata: ObjMeta<'a>,
    spec: PodSpecBody<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PodSpecBody<'a> {
    restart_policy: &'static str,
    containers: [ContainerBody<'a>; 1],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    volumes: Vec<VolumeBody<'a>>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    image_pull_secrets: Vec<Named<'a>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    node_selector: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_account_name: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    host_network: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    affinity: Option<&'a serde_json::Value>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    tolerations: &'a [serde_json::Value],
}

#[derive(Serialize)]
struct Named<'a> {
    name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContainerBody<'a> {
    name: &'a str,
    image: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_pull_policy: Option<&'static str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    command: Vec<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    args: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    working_dir: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    env: &'a [crate::model::EnvVar],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    env_from: Vec<EnvFromBody<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resources: Option<ResourcesBody>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    volume_mounts: Vec<MountBody<'a>>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    ports: Vec<PortBody<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    readiness_probe: Option<ProbeBody<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    liveness_probe: Option<ProbeBody<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    security_context: Option<serde_json::Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PortBody<'a> {
    name: &'a str,
    container_port: u16,
    protocol: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProbeBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    http_get: Option<HttpGet<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tcp_socket: Option<TcpSocket>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exec: Option<ExecBody<'a>>,
    initial_delay_seconds: u32,
    period_seconds: u32,
    failure_threshold: u32,
    timeout_seconds: u32,
    success_threshold: u32,
}

#[derive(Serialize)]
struct HttpGet<'a> {
    path: &'a str,
    port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    scheme: Option<&'static str>,
}

#[derive(Serialize)]
struct TcpSocket {
    port: u16,
}

#[derive(Serialize)]
struct ExecBody<'a> {
    command: Vec<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResourcesBody {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    limits: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    requests: BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
enum EnvFromBody<'a> {
    ConfigMapRef { name: &'a str },
    SecretRef { name: &'a str },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MountBody<'a> {
    name: &'a str,
    mount_path: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    read_only: bool,
}

struct VolumeBody<'a>(&'a Volume);

impl Serialize for VolumeBody<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Named<'a> {
            name: &'a str,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Secret<'a> {
            secret_name: &'a str,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Claim<'a> {
            claim_name: &'a str,
        }
        #[derive(Serialize)]
        struct Path<'a> {
            path: &'a str,
        }
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("name", &self.0.name)?;
        match &self.0.source {
            VolumeSource::HostPath { path } => map.serialize_entry("hostPath", &Path { path })?,
            VolumeSource::EmptyDir => map.serialize_entry("emptyDir", &serde_json::Map::new())?,
            VolumeSource::ConfigMap { name } => map.serialize_entry("configMap", &Named { name })?,
            VolumeSource::Secret { name } => map.serialize_entry("secret", &Secret { secret_name: name })?,
            VolumeSource::Claim { name } => {
                map.serialize_entry("persistentVolumeClaim", &Claim { claim_name: name })?
            }
            VolumeSource::Raw(value) => {
                if let Some(obj) = value.as_object() {
                    for (k, v) in obj.iter().filter(|(k, _)| k.as_str() != "name") {
                        map.serialize_entry(k, v)?;
                    }
                }
            }
        }
        map.end()
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

pub(crate) fn field_error(field: impl Into<String>, problem: impl Into<String>) -> Error {
    Error::InvalidInput { field: field.into(), problem: problem.into() }
}

fn rename(err: Error, field: &str) -> Error {
    match err {
        Error::InvalidInput { problem, .. } => Error::InvalidInput { field: field.to_owned(), problem },
        other => other,
    }
}

/// What a workload adds to a job's container.
#[derive(Default, Clone, Copy)]
pub(crate) struct Extra<'a> {
    pub(crate) ports: &'a [Port],
    pub(crate) readiness: Option<&'a Probe>,
    pub(crate) liveness: Option<&'a Probe>,
}

/// The Nomad-only options of a spec, refused here with what to use instead.
fn refuse_nomad_only(spec: &JobSpec) -> Result<()> {
    if !spec.constraints.is_empty() {
        return Err(field_error("constraints", "Nomad constraints have no Kubernetes field; use node_selector"));
    }
    if !spec.datacenters.is_empty() {
        return Err(field_error("datacenters", "Kubernetes has no datacenters; use node_selector on a zone label"));
    }
    if !spec.templates.is_empty() {
        return Err(field_error("templates", "Kubernetes renders no templates; mount a ConfigMap volume instead"));
    }
    match spec.network_mode.as_deref() {
        None | Some("host") => Ok(()),
        Some(other) => Err(field_error(
            "network_mode",
            format!("{other:?} is a docker network mode Kubernetes does not offer; only \"host\" (hostNetwork) maps"),
        )),
    }
}

fn check_spec(spec: &JobSpec) -> Result<()> {
    refuse_nomad_only(spec)?;
    for (i, var) in spec.env.iter().enumerate() {
        if var.name.is_empty() || var.name.contains('=') || var.name.bytes().any(|b| b.is_ascii_whitespace()) {
            return Err(field_error(
                format!("env[{i}].name"),
                format!("{:?} is not a valid environment variable name (non-empty, no '=' or spaces)", var.name),
            ));
        }
    }
    for (i, source) in spec.env_from.iter().enumerate() {
        let (EnvFrom::ConfigMap(n) | EnvFrom::Secret(n)) = source;
        name::subdomain(&format!("env_from[{i}]"), n)?;
    }
    for (i, secret) in spec.image_pull_secrets.iter().enumerate() {
        name::subdomain(&format!("image_pull_secrets[{i}]"), secret)?;
    }
    if let Some(account) = &spec.service_account {
        name::subdomain("service_account", account)?;
    }
    if let Some(dir) = spec.working_dir.as_deref().filter(|d| !d.starts_with('/')) {
        return Err(field_error("working_dir", format!("{dir:?} must be an absolute path")));
    }
    for (i, volume) in spec.volumes.iter().enumerate() {
        name::label(&format!("volumes[{i}].name"), &volume.name)?;
        if spec.volumes[..i].iter().any(|v| v.name == volume.name) {
            return Err(field_error(format!("volumes[{i}].name"), format!("{:?} is declared twice", volume.name)));
        }
        match &volume.source {
            VolumeSource::ConfigMap { name: n }
            | VolumeSource::Secret { name: n }
            | VolumeSource::Claim { name: n } => name::subdomain(&format!("volumes[{i}].source"), n)?,
            VolumeSource::HostPath { path } if !path.starts_with('/') => {
                return Err(field_error(format!("volumes[{i}].source"), format!("host path {path:?} must be absolute")))
            }
            VolumeSource::Raw(v) if v.as_object().is_none_or(|o| o.is_empty()) => {
                return Err(field_error(
                    format!("volumes[{i}].source"),
                    "a raw volume source must be a JSON object such as {\"nfs\": {\"server\": ..., \"path\": ...}}",
                ))
            }
            _ => {}
        }
    }
    for (i, mount) in spec.volume_mounts.iter().enumerate() {
        if !spec.volumes.iter().any(|v| v.name == mount.name) {
            return Err(field_error(
                format!("volume_mounts[{i}].name"),
                format!("{:?} is not one of the job's volumes; add it with JobSpec::volume", mount.name),
            ));
        }
        if !mount.mount_path.starts_with('/') {
            return Err(field_error(
                format!("volume_mounts[{i}].mount_path"),
                format!("{:?} must be an absolute path", mount.mount_path),
            ));
        }
    }
    Ok(())
}

fn resources(spec: &JobSpec) -> Result<Option<ResourcesBody>> {
    let mut limits = BTreeMap::new();
    let mut requests = BTreeMap::new();
    if let Some(cpu) = &spec.cpu_limit {
        limits.insert("cpu", Cpu::parse(cpu).map_err(|e| rename(e, "cpu_limit"))?.to_quantity());
    }
    if let Some(mem) = &spec.mem_limit {
        limits.insert("memory", Memory::parse(mem).map_err(|e| rename(e, "mem_limit"))?.to_quantity());
    }
    if spec.gpus > 0 {
        limits.insert("nvidia.com/gpu", spec.gpus.to_string());
    }
    if let Some(cpu) = &spec.cpu_request {
        requests.insert("cpu", Cpu::parse(cpu).map_err(|e| rename(e, "cpu_request"))?.to_quantity());
    }
    if let Some(mem) = &spec.mem_request {
        requests.insert("memory", Memory::parse(mem).map_err(|e| rename(e, "mem_request"))?.to_quantity());
    }
    Ok((!limits.is_empty() || !requests.is_empty()).then_some(ResourcesBody { limits, requests }))
}

fn probe<'a>(field: &str, p: &'a Probe) -> Result<ProbeBody<'a>> {
    let mut body = ProbeBody {
        http_get: None,
        tcp_socket: None,
        exec: None,
        initial_delay_seconds: p.initial_delay_seconds,
        period_seconds: p.period_seconds.max(1),
        failure_threshold: p.failure_threshold.max(1),
        timeout_seconds: p.timeout_seconds.max(1),
        success_threshold: p.success_threshold.max(1),
    };
    if field == "liveness" && body.success_threshold != 1 {
        let problem =
            format!("{} consecutive successes: Kubernetes takes only 1 for a liveness probe", p.success_threshold);
        return Err(field_error("liveness.success_threshold", problem));
    }
    match &p.check {
        ProbeCheck::Http { path, port, https } if path.starts_with('/') => {
            body.http_get = Some(HttpGet { path, port: *port, scheme: https.then_some("HTTPS") })
        }
        ProbeCheck::Http { path, .. } => {
            return Err(field_error(field, format!("HTTP path {path:?} must start with '/'")));
        }
        ProbeCheck::Tcp { port } => body.tcp_socket = Some(TcpSocket { port: *port }),
        ProbeCheck::Exec { command } if !command.is_empty() => body.exec = Some(ExecBody { command: strs(command) }),
        ProbeCheck::Exec { .. } => return Err(field_error(field, "an exec check needs a command")),
    }
    Ok(body)
}

fn ports(ports: &[Port]) -> Result<Vec<PortBody<'_>>> {
    let mut out = Vec::with_capacity(ports.len());
    for (i, p) in ports.iter().enumerate() {
        let ok = !p.name.is_empty()
            && p.name.len() <= 15
            && p.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && p.name.bytes().any(|b| b.is_ascii_lowercase());
        if !ok {
            return Err(field_error(
                format!("ports[{i}].name"),
                format!("{:?} is not a port name: 1-15 lowercase letters, digits or '-', with a letter", p.name),
            ));
        }
        if p.port == 0 {
            return Err(field_error(format!("ports[{i}].port"), "must be 1-65535"));
        }
        if !matches!(p.protocol.as_str(), "TCP" | "UDP" | "SCTP") {
            return Err(field_error(format!("ports[{i}].protocol"), "must be TCP, UDP or SCTP"));
        }
        if ports[..i].iter().any(|q| q.name == p.name) {
            return Err(field_error(format!("ports[{i}].name"), format!("{:?} is declared twice", p.name)));
        }
        out.push(PortBody { name: &p.name, container_port: p.port, protocol: &p.protocol });
    }
    Ok(out)
}

/// The image of `spec`, which Kubernetes needs.
pub(crate) fn image(spec: &JobSpec) -> Result<&str> {
    match spec.image.as_deref().map(str::trim) {
        Some(image) if !image.is_empty() => Ok(image),
        _ => Err(field_error(
            "image",
            "a Kubernetes workload needs a container image (JobSpec::image); commands run inside it",
        )),
    }
}

/// Check `spec` and build its pod template with `restart_policy`, carrying `labels` (which must
/// include the owner's selector) and the spec's annotations.
pub(crate) fn template<'a>(
    spec: &'a JobSpec,
    extra: Extra<'a>,
    restart_policy: &'static str,
    labels: &'a BTreeMap<String, String>,
) -> Result<Template<'a>> {
    let image = image(spec)?;
    check_spec(spec)?;
    check_pass_through(spec)?;
    let (command, args) = if spec.entrypoint.is_empty() {
        (strs(&spec.command), strs(&spec.args))
    } else {
        (strs(&spec.entrypoint), spec.command.iter().chain(&spec.args).map(String::as_str).collect())
    };
    let name = match spec.container.as_deref() {
        Some(name) => {
            name::label("container", name)?;
            name
        }
        None => CONTAINER,
    };
    // another name than ours: the pod says which container is its own (sidecars may join it)
    let annotations = if name == CONTAINER {
        Cow::Borrowed(&spec.annotations)
    } else {
        let mut annotations = spec.annotations.clone();
        annotations.entry(DEFAULT_CONTAINER_ANNOTATION.to_owned()).or_insert_with(|| name.to_owned());
        Cow::Owned(annotations)
    };
    let container = ContainerBody {
        name,
        image,
        image_pull_policy: spec.image_pull_policy.map(|p| p.name()),
        command,
        args,
        working_dir: spec.working_dir.as_deref(),
        env: &spec.env,
        env_from: spec
            .env_from
            .iter()
            .map(|e| match e {
                EnvFrom::ConfigMap(name) => EnvFromBody::ConfigMapRef { name },
                EnvFrom::Secret(name) => EnvFromBody::SecretRef { name },
            })
            .collect(),
        resources: resources(spec)?,
        volume_mounts: spec
            .volume_mounts
            .iter()
            .map(|m| MountBody { name: &m.name, mount_path: &m.mount_path, read_only: m.read_only })
            .collect(),
        ports: ports(extra.ports)?,
        readiness_probe: extra.readiness.map(|p| probe("readiness", p)).transpose()?,
        liveness_probe: extra.liveness.map(|p| probe("liveness", p)).transpose()?,
        security_context: security_context(spec),
    };
    Ok(Template {
        metadata: ObjMeta { name: None, labels, annotations },
        spec: PodSpecBody {
            restart_policy,
            containers: [container],
            volumes: spec.volumes.iter().map(VolumeBody).collect(),
            image_pull_secrets: spec.image_pull_secrets.iter().map(|name| Named { name }).collect(),
            node_selector: &spec.node_selector,
            service_account_name: spec.service_account.as_deref(),
            host_network: spec.network_mode.as_deref() == Some("host"),
            affinity: spec.affinity.as_ref(),
            tolerations: &spec.tolerations,
        },
    })
}

/// The container's `securityContext`: the spec's, with `privileged: true` added when set.
fn security_context(spec: &JobSpec) -> Option<serde_json::Value> {
    let mut context = spec.security_context.clone();
    if spec.privileged {
        let object = context.get_or_insert_with(|| serde_json::Value::Object(Default::default()));
        if let Some(map) = object.as_object_mut() {
            map.insert("privileged".to_owned(), serde_json::Value::Bool(true));
        }
    }
    context
}

/// The pass-through JSON of `spec` has the shape Kubernetes takes: objects (the server checks
/// their fields).
fn check_pass_through(spec: &JobSpec) -> Result<()> {
    let not_object = |v: &serde_json::Value| !v.is_object();
    if spec.affinity.as_ref().is_some_and(not_object) {
        return Err(field_error("affinity", "must be a JSON object (nodeAffinity, podAffinity, podAntiAffinity)"));
    }
    if let Some(i) = spec.tolerations.iter().position(not_object) {
        return Err(field_error(
            "tolerations",
            format!("toleration {i} must be a JSON object (key, operator, value, effect, tolerationSeconds)"),
        ));
    }
    if spec.security_context.as_ref().is_some_and(not_object) {
        return Err(field_error("security_context", "must be a JSON object (runAsUser, capabilities, ...)"));
    }
    Ok(())
}
