//! A [`JobSpec`] as the body of Nomad's `POST /v1/jobs`: one batch job, one task group
//! `main` (count 1) and one task `main`, registered with `"EnforceIndex": true,
//! "JobModifyIndex": 0` (next to `"Job"`): create only, never update a job of the same ID.
//!
//! - Driver: [`JobSpec::driver`], else `docker` when an image is given, else `exec` (isolated;
//!   `raw_exec`, which runs on the host unisolated, only when asked for).
//! - `docker`: `image`; the entrypoint is [`JobSpec::entrypoint`] when given (then `command`
//!   and `args` are its arguments, the seed's meaning), else `command` (as Kubernetes'
//!   `command` replaces the image's entrypoint) with `args` as its arguments.
//! - `exec` / `raw_exec` / other drivers: `command` is the first word of entrypoint + command +
//!   args, `args` the rest (plus `image` for other drivers when given).
//! - Restart policy: `Attempts` = [`JobSpec::backoff_limit`] within 24 h, 1 s apart, mode
//!   `fail`; reschedule policy: no attempts, not unlimited. So a failed batch job fails instead of
//!   being retried forever.
//! - Resources: a quantity with a unit or a fraction is converted: CPU in MHz at 1000 MHz a core
//!   ([`Cpu::to_mhz`]: `"500m"` → 500 MHz, `"1.5"` → 1500 MHz; whole cores are written
//!   `"2000m"`), memory in MB ([`Memory::to_nomad_mb`]: `"256Mi"` → 256). A bare whole number
//!   means what the seed sent Nomad unchanged: CPU in MHz (`"500"` → 500 MHz) and memory in MB
//!   (`"256"` → 256 MB), never cores or bytes, so a seed user's numbers are not 1000× off.
//!   Omitted when not given (Nomad's defaults apply).
//! - Labels become job `Meta`; env vars the task `Env`.
//! - Volumes: a `HostPath` volume becomes a docker bind (`volumes = ["/host:/ctr(:ro)"]`), an
//!   `EmptyDir` a docker `tmpfs` mount, a `Claim` a Nomad host volume (group `Volumes` + task
//!   `VolumeMounts`, docker and exec). Anything a driver cannot mount is refused with
//!   [`Error::InvalidInput`], as are `env_from` sources (Kubernetes only).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::{Driver, JobSpec, VolumeSource};
use crate::quantity::{Cpu, Memory};

/// MHz assumed for one core when converting CPU quantities.
pub const MHZ_PER_CORE: u64 = 1000;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Register<'a> {
    job: JobBody<'a>,
    /// With `JobModifyIndex: 0`: register only if no job of this ID exists (Nomad answers
    /// `Enforcing job modify index 0: job already exists` otherwise), so `create_job` never
    /// silently updates an existing job.
    enforce_index: bool,
    job_modify_index: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct JobBody<'a> {
    #[serde(rename = "ID")]
    id: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'a str>,
    #[serde(rename = "Type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    datacenters: &'a [String],
    task_groups: [Group<'a>; 1],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    meta: BTreeMap<&'a str, &'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    constraints: Vec<ConstraintBody<'a>>,
}

#[derive(Serialize)]
struct ConstraintBody<'a> {
    #[serde(rename = "LTarget")]
    left: std::borrow::Cow<'a, str>,
    #[serde(rename = "RTarget")]
    right: &'a str,
    #[serde(rename = "Operand")]
    operand: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Update {
    max_parallel: u32,
    health_check: &'static str,
    min_healthy_time: u64,
    healthy_deadline: u64,
    progress_deadline: u64,
    auto_revert: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Network<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    dynamic_ports: Vec<PortBody<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reserved_ports: Vec<PortBody<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PortBody<'a> {
    label: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<u16>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Group<'a> {
    name: &'static str,
    count: u32,
    tasks: [Task<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    restart_policy: Option<RestartPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reschedule_policy: Option<ReschedulePolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    update: Option<Update>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    networks: Vec<Network<'a>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    volumes: BTreeMap<&'a str, HostVolume<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RestartPolicy {
    attempts: u32,
    mode: &'static str,
    interval: u64,
    delay: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ReschedulePolicy {
    attempts: u32,
    unlimited: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct HostVolume<'a> {
    #[serde(rename = "Type")]
    kind: &'static str,
    source: &'a str,
    read_only: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Task<'a> {
    name: &'static str,
    driver: &'a str,
    config: TaskConfig<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resources: Option<Resources>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    env: BTreeMap<&'a str, &'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    volume_mounts: Vec<VolumeMountBody<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    templates: Vec<TemplateBody<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TemplateBody<'a> {
    embedded_tmpl: &'a str,
    dest_path: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct VolumeMountBody<'a> {
    volume: &'a str,
    destination: &'a str,
    read_only: bool,
}

#[derive(Serialize)]
struct TaskConfig<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    entrypoint: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    args: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    volumes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    mounts: Vec<DockerMount<'a>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    privileged: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    force_pull: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    network_mode: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    work_dir: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ports: Vec<&'a str>,
}

#[derive(Serialize)]
struct DockerMount<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    target: &'a str,
    readonly: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Resources {
    #[serde(rename = "CPU", skip_serializing_if = "Option::is_none")]
    cpu: Option<u64>,
    #[serde(rename = "MemoryMB", skip_serializing_if = "Option::is_none")]
    memory_mb: Option<u64>,
    #[serde(rename = "MemoryMaxMB", skip_serializing_if = "Option::is_none")]
    memory_max_mb: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    devices: Vec<Device>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Device {
    name: &'static str,
    count: u32,
}

/// What kind of Nomad job a spec becomes.
#[derive(Debug, Clone, Copy)]
pub enum JobKind<'a> {
    /// A `batch` job run once (`create_job`).
    Batch,
    /// A `service` job with `count` allocations kept running, ports, and an update stanza
    /// whose health is task states (no Consul needed): every change is a deployment.
    Service {
        /// Allocations.
        count: u32,
        /// Ports the task listens on.
        ports: &'a [crate::workload::Port],
    },
}

/// Nomad's default update stanza timings (ns): a new allocation must run 10 s to count as
/// healthy, within 5 min; a deployment fails when no allocation became healthy for 10 min.
const MIN_HEALTHY_NS: u64 = 10_000_000_000;
const HEALTHY_DEADLINE_NS: u64 = 300_000_000_000;
const PROGRESS_DEADLINE_NS: u64 = 600_000_000_000;

/// Kubernetes-only options of a spec, refused on Nomad with what to do instead.
fn refuse_kubernetes_only(spec: &JobSpec, docker: bool, driver: &str) -> Result<()> {
    let refuse = |field: &str, why: &str| Err(invalid(field, why));
    if !spec.image_pull_secrets.is_empty() {
        return refuse(
            "image_pull_secrets",
            "Nomad has no Secrets to pull with; configure registry auth in the Nomad client (docker plugin auth)",
        );
    }
    if spec.active_deadline.is_some() {
        return refuse(
            "active_deadline",
            "Nomad 1.1 has no run-time limit for batch jobs; bound the command itself (timeout 600 ...)",
        );
    }
    if spec.ttl_after_finished.is_some() {
        return refuse("ttl_after_finished", "Nomad collects finished jobs by server configuration (job_gc_threshold); delete the job with purge instead");
    }
    if spec.service_account.is_some() {
        return refuse(
            "service_account",
            "Nomad has no service accounts; give the task a token through its environment",
        );
    }
    if spec.affinity.is_some() {
        return refuse("affinity", "Nomad places with constraints (JobSpec::constraints), not Kubernetes affinity");
    }
    if !spec.tolerations.is_empty() {
        return refuse("tolerations", "Nomad nodes have no taints to tolerate; place with constraints instead");
    }
    if spec.security_context.is_some() {
        return refuse(
            "security_context",
            "Nomad has no securityContext; use privileged (docker) or the driver's own user and capability options",
        );
    }
    if spec.container.is_some() {
        return refuse(
            "container",
            "a Nomad task is named by the library (logs find it by that name); leave the container name unset",
        );
    }
    if spec.image_pull_policy == Some(crate::model::PullPolicy::Never) {
        return refuse("image_pull_policy", "the docker driver always pulls a missing image; Never is not offered");
    }
    if !docker {
        let docker_only = [
            ("privileged", spec.privileged),
            ("image_pull_policy", spec.image_pull_policy.is_some()),
            ("network_mode", spec.network_mode.is_some()),
            ("working_dir", spec.working_dir.is_some()),
        ];
        if let Some((field, _)) = docker_only.iter().find(|(_, set)| *set) {
            return Err(invalid(field, format!("is a docker driver option; the {driver} driver does not offer it")));
        }
    }
    Ok(())
}

/// The Nomad driver name for `spec`: the chosen one, else `docker` with an image, else `exec`
/// (isolated: a chroot, resource limits, its own user). Never `raw_exec` unless asked for with
/// [`Driver::RawExec`]: it runs the command on the host without any isolation.
pub fn driver_name(spec: &JobSpec) -> &str {
    match &spec.driver {
        Some(Driver::Docker) => "docker",
        Some(Driver::Exec) => "exec",
        Some(Driver::RawExec) => "raw_exec",
        Some(Driver::Other(name)) => name.as_str(),
        None if spec.image.is_some() => "docker",
        None => "exec",
    }
}

fn invalid(field: &str, problem: impl Into<String>) -> Error {
    Error::InvalidInput { field: field.into(), problem: problem.into() }
}

/// The JSON body of `POST /v1/jobs` registering `spec` as the batch job `id` in `namespace`
/// (`None`: the server's default) across `datacenters` (empty: let the server refuse it with
/// "Missing job datacenters").
///
/// ```
/// use clustermanager_core::JobSpec;
/// use clustermanager_core::nomad::jobspec::register_body;
/// let spec = JobSpec::new("hello").command(["/bin/echo", "hi"]).cpu_limit("100m").mem_limit("64Mi");
/// let body = register_body("hello", None, &["dc1".to_string()], &spec).unwrap();
/// let text = String::from_utf8(body).unwrap();
/// assert!(text.contains(r#""Driver":"exec""#));
/// assert!(text.contains(r#""Resources":{"CPU":100,"MemoryMB":64}"#));
/// ```
pub fn register_body(id: &str, namespace: Option<&str>, datacenters: &[String], spec: &JobSpec) -> Result<Vec<u8>> {
    register(id, namespace, datacenters, spec, JobKind::Batch)
}

/// The JSON body of `POST /v1/jobs` registering `spec` as a job of `kind` (see
/// [`register_body`]); `spec.datacenters`, when given, replace `datacenters`.
pub fn register(
    id: &str,
    namespace: Option<&str>,
    datacenters: &[String],
    spec: &JobSpec,
    kind: JobKind<'_>,
) -> Result<Vec<u8>> {
    super::query::validate_job_id(id)?;
    if !spec.env_from.is_empty() {
        return Err(invalid(
            "env_from",
            "Nomad has no ConfigMaps or Secrets to take environment from; pass the variables with env",
        ));
    }
    let driver = driver_name(spec);
    let docker = driver == "docker";
    refuse_kubernetes_only(spec, docker, driver)?;
    let mut config = TaskConfig {
        image: None,
        command: None,
        entrypoint: Vec::new(),
        args: Vec::new(),
        volumes: Vec::new(),
        mounts: Vec::new(),
        privileged: spec.privileged,
        force_pull: spec.image_pull_policy == Some(crate::model::PullPolicy::Always),
        network_mode: spec.network_mode.as_deref(),
        work_dir: spec.working_dir.as_deref(),
        ports: Vec::new(),
    };
    if docker {
        let image = spec.image.as_deref().filter(|i| !i.is_empty()).ok_or_else(|| {
            invalid("image", "the docker driver needs an image; give one, or choose exec / raw_exec with a command")
        })?;
        config.image = Some(image);
        if spec.entrypoint.is_empty() {
            config.entrypoint = spec.command.iter().map(String::as_str).collect();
            config.args = spec.args.iter().map(String::as_str).collect();
        } else {
            config.entrypoint = spec.entrypoint.iter().map(String::as_str).collect();
            config.args = spec.command.iter().chain(&spec.args).map(String::as_str).collect();
        }
    } else {
        let mut argv = spec.entrypoint.iter().chain(&spec.command).chain(&spec.args).map(String::as_str);
        let command = argv.next().ok_or_else(|| {
            invalid(
                "command",
                format!("the {driver} driver needs a command to run; give command (or an image for docker)"),
            )
        })?;
        config.command = Some(command);
        config.args = argv.collect();
        if !matches!(driver, "exec" | "raw_exec") {
            config.image = spec.image.as_deref();
        }
    }

    let mut group_volumes = BTreeMap::new();
    let mut volume_mounts = Vec::new();
    for mount in &spec.volume_mounts {
        let volume = spec.volumes.iter().find(|v| v.name == mount.name).ok_or_else(|| {
            invalid("volume_mounts", format!("mount of {:?} names no volume; add a volume with that name", mount.name))
        })?;
        match (&volume.source, driver) {
            (VolumeSource::HostPath { path }, "docker") => {
                let mut bind = format!("{path}:{}", mount.mount_path);
                if mount.read_only {
                    bind.push_str(":ro");
                }
                config.volumes.push(bind);
            }
            (VolumeSource::EmptyDir, "docker") => {
                config.mounts.push(DockerMount { kind: "tmpfs", target: &mount.mount_path, readonly: mount.read_only });
            }
            (VolumeSource::Claim { name }, "docker" | "exec") => {
                group_volumes.insert(
                    volume.name.as_str(),
                    HostVolume { kind: "host", source: name.as_str(), read_only: mount.read_only },
                );
                volume_mounts.push(VolumeMountBody {
                    volume: &volume.name,
                    destination: &mount.mount_path,
                    read_only: mount.read_only,
                });
            }
            (source, _) => {
                return Err(invalid(
                    "volumes",
                    format!(
                        "the {driver} driver cannot mount volume {:?} ({}); Nomad mounts host paths and scratch \
                         directories with docker, and host volumes (Claim) with docker or exec",
                        volume.name,
                        source_kind(source)
                    ),
                ))
            }
        }
    }

    // Nomad reserves what it is given: the request when there is one, else the limit; memory
    // above the request up to the limit is MemoryMaxMB (oversubscription, Nomad 1.1+)
    let cpu = spec.cpu_request.as_deref().or(spec.cpu_limit.as_deref()).map(nomad_cpu).transpose()?;
    let mem_limit = spec.mem_limit.as_deref().map(nomad_memory).transpose()?;
    let (memory_mb, memory_max_mb) = match spec.mem_request.as_deref().map(nomad_memory).transpose()? {
        Some(request) => (Some(request), mem_limit.filter(|l| *l > request)),
        None => (mem_limit, None),
    };
    let devices: Vec<Device> =
        (spec.gpus > 0).then_some(Device { name: "nvidia/gpu", count: spec.gpus }).into_iter().collect();
    let resources = (cpu.is_some() || memory_mb.is_some() || !devices.is_empty()).then_some(Resources {
        cpu,
        memory_mb,
        memory_max_mb,
        devices,
    });

    let mut constraints = Vec::new();
    for (i, c) in spec.constraints.iter().enumerate() {
        if c.attribute.is_empty() || c.operator.is_empty() {
            return Err(invalid(&format!("constraints[{i}]"), "needs an attribute and an operator"));
        }
        constraints.push(ConstraintBody { left: c.attribute.as_str().into(), right: &c.value, operand: &c.operator });
    }
    for (key, value) in &spec.node_selector {
        constraints.push(ConstraintBody { left: format!("${{meta.{key}}}").into(), right: value, operand: "=" });
    }
    let mut templates = Vec::new();
    for (i, t) in spec.templates.iter().enumerate() {
        if t.destination.is_empty() || t.destination.starts_with('/') || t.destination.contains("..") {
            return Err(invalid(
                &format!("templates[{i}].destination"),
                format!("{:?} must be a path inside the task directory, e.g. local/app.conf", t.destination),
            ));
        }
        templates.push(TemplateBody { embedded_tmpl: &t.data, dest_path: &t.destination });
    }
    let mut meta: BTreeMap<&str, &str> = spec.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    meta.extend(spec.annotations.iter().map(|(k, v)| (k.as_str(), v.as_str())));

    let (job_type, count, restart_policy, reschedule_policy, update, networks) = match kind {
        JobKind::Batch => (
            "batch",
            1,
            Some(RestartPolicy {
                attempts: spec.backoff_limit,
                mode: "fail",
                interval: 24 * 3600 * 1_000_000_000,
                delay: 1_000_000_000,
            }),
            Some(ReschedulePolicy { attempts: 0, unlimited: false }),
            None,
            Vec::new(),
        ),
        JobKind::Service { count, ports } => {
            let mut network = Network { dynamic_ports: Vec::new(), reserved_ports: Vec::new() };
            for (i, p) in ports.iter().enumerate() {
                if p.name.is_empty() || !p.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
                    return Err(invalid(&format!("ports[{i}].name"), format!("{:?} is not a port label", p.name)));
                }
                if docker {
                    // a host port chosen by Nomad, forwarded to the container's port
                    network.dynamic_ports.push(PortBody { label: &p.name, value: None, to: Some(p.port) });
                    config.ports.push(&p.name);
                } else {
                    // without docker the task listens on the host: reserve that very port
                    network.reserved_ports.push(PortBody { label: &p.name, value: Some(p.port), to: None });
                }
            }
            let networks = if ports.is_empty() { Vec::new() } else { vec![network] };
            let update = Update {
                max_parallel: 1,
                health_check: "task_states",
                min_healthy_time: MIN_HEALTHY_NS,
                healthy_deadline: HEALTHY_DEADLINE_NS,
                progress_deadline: PROGRESS_DEADLINE_NS,
                auto_revert: false,
            };
            // restart and reschedule: the server's service defaults (restart in place, then
            // reschedule elsewhere without limit)
            ("service", count, None, None, Some(update), networks)
        }
    };
    let datacenters = if spec.datacenters.is_empty() { datacenters } else { &spec.datacenters };

    let body = Register {
        job: JobBody {
            id,
            name: id,
            namespace,
            kind: job_type,
            datacenters,
            task_groups: [Group {
                name: "main",
                count,
                tasks: [Task {
                    name: "main",
                    driver,
                    config,
                    resources,
                    env: spec.env.iter().map(|e| (e.name.as_str(), e.value.as_str())).collect(),
                    volume_mounts,
                    templates,
                }],
                restart_policy,
                reschedule_policy,
                update,
                networks,
                volumes: group_volumes,
            }],
            meta,
            constraints,
        },
        enforce_index: true,
        job_modify_index: 0,
    };
    serde_json::to_vec(&body).map_err(|e| Error::protocol(format!("could not encode the job: {e}")))
}

/// A bare whole number (no unit, no fraction, no exponent): the seed's Nomad numbers.
fn bare_number(text: &str) -> Option<u64> {
    let t = text.trim();
    (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())).then(|| t.parse().ok()).flatten()
}

/// Nomad `CPU` (MHz) of a `cpu_limit`: a bare number is MHz (the seed's meaning), a quantity with
/// a unit (`500m`, `1.5`) is converted at [`MHZ_PER_CORE`].
fn nomad_cpu(text: &str) -> Result<u64> {
    match bare_number(text) {
        Some(mhz) => Ok(mhz.max(1)),
        None => Ok(Cpu::parse(text)?.to_mhz(MHZ_PER_CORE)),
    }
}

/// Nomad `MemoryMB` of a `mem_limit`: a bare number is MB (the seed's meaning), a quantity with a
/// unit (`256Mi`, `1G`) is converted.
fn nomad_memory(text: &str) -> Result<u64> {
    match bare_number(text) {
        Some(mb) => Ok(mb.max(1)),
        None => Ok(Memory::parse(text)?.to_nomad_mb()),
    }
}

fn source_kind(source: &VolumeSource) -> &'static str {
    match source {
        VolumeSource::HostPath { .. } => "a host path",
        VolumeSource::EmptyDir => "a scratch directory",
        VolumeSource::ConfigMap { .. } => "a ConfigMap, which Nomad does not have",
        VolumeSource::Secret { .. } => "a Kubernetes Secret, which Nomad does not have",
        VolumeSource::Claim { .. } => "a volume claim",
        _ => "a Kubernetes-only volume source",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;
    use crate::model::{Volume, VolumeMount};

    fn json(body: &[u8]) -> serde_json::Value {
        serde_json::from_slice(body).unwrap()
    }

    #[test]
    fn without_an_image_or_a_driver_the_command_runs_isolated() {
        let body = json(&register_body("x", None, &[], &JobSpec::new("x").command(["/bin/true"])).unwrap());
        assert_eq!(body["Job"]["TaskGroups"][0]["Tasks"][0]["Driver"], "exec", "never raw_exec unasked");
        let raw = JobSpec::new("x").command(["/bin/true"]).driver(Driver::RawExec);
        let body = json(&register_body("x", None, &[], &raw).unwrap());
        assert_eq!(body["Job"]["TaskGroups"][0]["Tasks"][0]["Driver"], "raw_exec");
    }

    #[test]
    fn bare_numbers_mean_what_the_seed_sent_nomad() {
        let resources = |cpu: &str, mem: &str| {
            let spec = JobSpec::new("x").command(["a"]).cpu_limit(cpu).mem_limit(mem);
            let body = json(&register_body("x", None, &[], &spec).unwrap());
            let r = &body["Job"]["TaskGroups"][0]["Tasks"][0]["Resources"];
            (r["CPU"].as_u64().unwrap(), r["MemoryMB"].as_u64().unwrap())
        };
        // the seed passed cpu_limit as MHz and mem_limit as MB unchanged
        assert_eq!(resources("500", "256"), (500, 256));
        // quantities with units (or fractions) are converted
        assert_eq!(resources("500m", "256Mi"), (500, 256));
        assert_eq!(resources("1.5", "1Gi"), (1500, 1024));
        assert_eq!(resources("2000m", "512M"), (2000, 489));
    }

    #[test]
    fn docker_with_entrypoint_and_volumes() {
        let spec = JobSpec::new("x")
            .image("busybox:1.36")
            .entrypoint(["/bin/sh"])
            .command(["-c"])
            .args(["echo hi"])
            .label("team", "a")
            .volume(Volume { name: "data".into(), source: VolumeSource::HostPath { path: "/srv".into() } })
            .volume_mount(VolumeMount { name: "data".into(), mount_path: "/data".into(), read_only: true })
            .volume(Volume { name: "tmp".into(), source: VolumeSource::EmptyDir })
            .volume_mount(VolumeMount { name: "tmp".into(), mount_path: "/tmp".into(), read_only: false });
        let v = json(&register_body("x", Some("ns"), &["dc1".into()], &spec).unwrap());
        let task = &v["Job"]["TaskGroups"][0]["Tasks"][0];
        assert_eq!(task["Driver"], "docker");
        assert_eq!(task["Config"]["image"], "busybox:1.36");
        assert_eq!(task["Config"]["entrypoint"], serde_json::json!(["/bin/sh"]));
        assert_eq!(task["Config"]["args"], serde_json::json!(["-c", "echo hi"]));
        assert_eq!(task["Config"]["volumes"], serde_json::json!(["/srv:/data:ro"]));
        assert_eq!(task["Config"]["mounts"][0]["type"], "tmpfs");
        assert_eq!(v["Job"]["Meta"]["team"], "a");
        assert_eq!(v["Job"]["Namespace"], "ns");
    }

    #[test]
    fn docker_command_replaces_entrypoint() {
        let spec = JobSpec::new("x").image("img").command(["python", "-m"]).args(["app"]);
        let v = json(&register_body("x", None, &[], &spec).unwrap());
        let cfg = &v["Job"]["TaskGroups"][0]["Tasks"][0]["Config"];
        assert_eq!(cfg["entrypoint"], serde_json::json!(["python", "-m"]));
        assert_eq!(cfg["args"], serde_json::json!(["app"]));
        assert!(v["Job"].get("Datacenters").is_none());
    }

    #[test]
    fn the_full_create_options_land_in_their_nomad_fields() {
        use crate::model::{Constraint, PullPolicy};
        let spec = JobSpec::new("train")
            .image("registry.example/train:3")
            .cpu_request("500m")
            .cpu_limit("2")
            .mem_request("1Gi")
            .mem_limit("4Gi")
            .gpus(1)
            .image_pull_policy(PullPolicy::Always)
            .privileged(true)
            .annotation("team", "ml")
            .label("app", "train")
            .node_selector("disk", "ssd")
            .constraint(Constraint::new("${attr.kernel.name}", "=", "linux"))
            .datacenter("dc2")
            .template("port = {{ env \"NOMAD_PORT_http\" }}", "local/app.conf")
            .working_dir("/work")
            .network_mode("host");
        let v = json(&register_body("train", None, &["dc1".to_string()], &spec).unwrap());
        let job = &v["Job"];
        let task = &job["TaskGroups"][0]["Tasks"][0];
        assert_eq!(job["Datacenters"], serde_json::json!(["dc2"]), "the spec's datacenters replace the agent's");
        assert_eq!(job["Meta"], serde_json::json!({"app": "train", "team": "ml"}));
        assert_eq!(job["Constraints"][0]["LTarget"], "${attr.kernel.name}");
        assert_eq!(
            job["Constraints"][1],
            serde_json::json!({"LTarget": "${meta.disk}", "RTarget": "ssd", "Operand": "="})
        );
        assert_eq!(task["Resources"]["CPU"], 500, "Nomad reserves the request");
        assert_eq!(
            (task["Resources"]["MemoryMB"].as_u64(), task["Resources"]["MemoryMaxMB"].as_u64()),
            (Some(1024), Some(4096))
        );
        assert_eq!(task["Resources"]["Devices"][0], serde_json::json!({"Name": "nvidia/gpu", "Count": 1}));
        assert_eq!(task["Config"]["privileged"], true);
        assert_eq!(task["Config"]["force_pull"], true);
        assert_eq!(task["Config"]["network_mode"], "host");
        assert_eq!(task["Config"]["work_dir"], "/work");
        assert_eq!(task["Templates"][0]["DestPath"], "local/app.conf");
    }

    #[test]
    fn kubernetes_only_options_are_refused_on_nomad() {
        let docker = || JobSpec::new("x").image("busybox");
        let exec = || JobSpec::new("x").command(["true"]);
        for (spec, field) in [
            (docker().image_pull_secret("regcred"), "image_pull_secrets"),
            (docker().active_deadline(std::time::Duration::from_secs(5)), "active_deadline"),
            (docker().ttl_after_finished(std::time::Duration::from_secs(5)), "ttl_after_finished"),
            (docker().service_account("sa"), "service_account"),
            (docker().affinity(serde_json::json!({})), "affinity"),
            (docker().toleration(serde_json::json!({"operator": "Exists"})), "tolerations"),
            (docker().security_context(serde_json::json!({"runAsUser": 1000})), "security_context"),
            (docker().container("worker"), "container"),
            (docker().image_pull_policy(crate::model::PullPolicy::Never), "image_pull_policy"),
            (exec().privileged(true), "privileged"),
            (exec().working_dir("/w"), "working_dir"),
            (docker().template("x", "/etc/x"), "templates[0].destination"),
        ] {
            match register_body("x", None, &[], &spec) {
                Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_service_job_keeps_its_replicas_running_and_rolls_out_as_deployments() {
        let ports = [crate::workload::Port::tcp("http", 80)];
        let spec = JobSpec::new("web").image("nginx:1.25");
        let v =
            json(&register("web", None, &["dc1".into()], &spec, JobKind::Service { count: 3, ports: &ports }).unwrap());
        let group = &v["Job"]["TaskGroups"][0];
        assert_eq!(v["Job"]["Type"], "service");
        assert_eq!(group["Count"], 3);
        assert!(
            group.get("RestartPolicy").is_none() && group.get("ReschedulePolicy").is_none(),
            "the server's service defaults"
        );
        assert_eq!(group["Update"]["HealthCheck"], "task_states");
        assert_eq!(group["Networks"][0]["DynamicPorts"][0], serde_json::json!({"Label": "http", "To": 80}));
        assert_eq!(group["Tasks"][0]["Config"]["ports"], serde_json::json!(["http"]));
    }

    #[test]
    fn refusals() {
        let host = JobSpec::new("x")
            .command(["/bin/true"])
            .volume(Volume { name: "d".into(), source: VolumeSource::HostPath { path: "/srv".into() } })
            .volume_mount(VolumeMount { name: "d".into(), mount_path: "/d".into(), read_only: false });
        let err = register_body("x", None, &[], &host).unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput { ref problem, .. } if problem.contains("exec driver cannot mount")),
            "{err}"
        );
        let no_cmd = JobSpec::new("x").driver(Driver::Exec);
        assert!(matches!(register_body("x", None, &[], &no_cmd), Err(Error::InvalidInput { .. })));
        let no_image = JobSpec::new("x").driver(Driver::Docker);
        assert!(matches!(register_body("x", None, &[], &no_image), Err(Error::InvalidInput { .. })));
        let env_from = JobSpec::new("x").command(["a"]).env_from(crate::model::EnvFrom::ConfigMap("c".into()));
        assert!(matches!(register_body("x", None, &[], &env_from), Err(Error::InvalidInput { .. })));
        assert!(matches!(
            register_body("a b", None, &[], &JobSpec::new("a b").command(["a"])),
            Err(Error::InvalidInput { .. })
        ));
        let bad_cpu = JobSpec::new("x").command(["a"]).cpu_limit("lots");
        assert!(register_body("x", None, &[], &bad_cpu).is_err());
    }

    #[test]
    fn claim_is_a_host_volume_for_exec() {
        let spec = JobSpec::new("x")
            .driver(Driver::Exec)
            .command(["/bin/true"])
            .volume(Volume { name: "d".into(), source: VolumeSource::Claim { name: "shared".into() } })
            .volume_mount(VolumeMount { name: "d".into(), mount_path: "/d".into(), read_only: true });
        let v = json(&register_body("x", None, &[], &spec).unwrap());
        let group = &v["Job"]["TaskGroups"][0];
        assert_eq!(group["Volumes"]["d"]["Source"], "shared");
        assert_eq!(group["Tasks"][0]["VolumeMounts"][0]["Destination"], "/d");
    }
}
