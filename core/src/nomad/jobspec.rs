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
    meta: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Group<'a> {
    name: &'static str,
    count: u32,
    tasks: [Task<'a>; 1],
    restart_policy: RestartPolicy,
    reschedule_policy: ReschedulePolicy,
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
    super::query::validate_job_id(id)?;
    if !spec.env_from.is_empty() {
        return Err(invalid(
            "env_from",
            "Nomad has no ConfigMaps or Secrets to take environment from; pass the variables with env",
        ));
    }
    let driver = driver_name(spec);
    let docker = driver == "docker";
    let mut config = TaskConfig {
        image: None,
        command: None,
        entrypoint: Vec::new(),
        args: Vec::new(),
        volumes: Vec::new(),
        mounts: Vec::new(),
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

    let cpu = spec.cpu_limit.as_deref().map(nomad_cpu).transpose()?;
    let memory_mb = spec.mem_limit.as_deref().map(nomad_memory).transpose()?;
    let resources = (cpu.is_some() || memory_mb.is_some()).then_some(Resources { cpu, memory_mb });

    let body = Register {
        job: JobBody {
            id,
            name: id,
            namespace,
            kind: "batch",
            datacenters,
            task_groups: [Group {
                name: "main",
                count: 1,
                tasks: [Task {
                    name: "main",
                    driver,
                    config,
                    resources,
                    env: spec.env.iter().map(|e| (e.name.as_str(), e.value.as_str())).collect(),
                    volume_mounts,
                }],
                restart_policy: RestartPolicy {
                    attempts: spec.backoff_limit,
                    mode: "fail",
                    interval: 24 * 3600 * 1_000_000_000,
                    delay: 1_000_000_000,
                },
                reschedule_policy: ReschedulePolicy { attempts: 0, unlimited: false },
                volumes: group_volumes,
            }],
            meta: &spec.labels,
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
