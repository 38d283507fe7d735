"""The seed's ``ClusterManager`` (``aioclustermanager.manager.ClusterManager``): the same method
names, parameters (``**kw`` included) and return shapes, on the native API.

A seed program ports by changing its imports::

    from clustermanager.seed.k8s import K8SContextManager
    from clustermanager.seed.manager import ClusterManager

Deliberate differences from the seed are listed in MIGRATING.md ("Python: the seed's API").
"""

from __future__ import annotations

import warnings
from typing import Any, AsyncIterator, Dict, List, Optional

from .. import AlreadyExists, CannotRun, NotFound, Status, Timeout, Unsupported, _native
from .. import ClusterManager as NativeClusterManager
from ._objects import DeployList, ExecutionList, JobList, NodeList, SeedDeploy, SeedExecution, SeedJob, SeedNode

# The seed waited up to an hour for a job (its watch's timeout).
WAIT_FOR_JOB_TIMEOUT = 3660.0

# Keyword arguments the seed's Kubernetes and Nomad callers read, and ours for them.
_JOB_KW = {
    "labels": "labels",
    "annotations": "annotations",
    "privileged": "privileged",
    "imagePullPolicy": "image_pull_policy",
    "nomad_constraints": "constraints",
    "docker_network_mode": "network_mode",
    "templates": "templates",
    "datacenters": "datacenters",
    # ours, accepted too (a seed program does not pass them)
    "driver": "driver",
    "backoff_limit": "backoff_limit",
    "node_selector": "node_selector",
}

_DEPLOY_KW = dict(
    _JOB_KW,
    container="container",
    nodeSelector="node_selector",
    affinity="affinity",
    tolerations="tolerations",
    securityContext="security_context",
    readinessProbe="readiness",
    livenessProbe="liveness",
    ports="ports",
    serviceName="service_name",
    podManagementPolicy="pod_management",
    revisionHistoryLimit="revision_history_limit",
)


# Kubernetes' own JSON, which no Nomad field takes.
_KUBERNETES_ONLY = ("affinity", "tolerations", "security_context", "readiness", "liveness", "container")

# The parts of a Kubernetes probe (and of its httpGet) the native API takes, as it lists them;
# the seed passed the whole dict.
_PROBE_KEYS = tuple(_native.PROBE_KEYS)
_HTTP_GET_KEYS = tuple(_native.HTTP_GET_KEYS)


def _probe(key: str, probe: Dict[str, Any]) -> Dict[str, Any]:
    """A seed probe dict with what the native API does not take left out, with a warning."""
    dropped = sorted(k for k in probe if k not in _PROBE_KEYS)
    kept = {k: v for k, v in probe.items() if k in _PROBE_KEYS}
    http = kept.get("httpGet")
    if isinstance(http, dict):
        dropped += sorted(f"httpGet.{k}" for k in http if k not in _HTTP_GET_KEYS)
        kept["httpGet"] = {k: v for k, v in http.items() if k in _HTTP_GET_KEYS}
    if dropped:
        warnings.warn(f"clustermanager.seed: `{key}` fields {dropped} are not supported and are ignored "
                      "(Kubernetes' defaults apply)", stacklevel=4)
    return kept


async def _found(coro: Any) -> Any:
    """The seed's ``None`` on a 404."""
    try:
        return await coro
    except NotFound:
        return None


class ClusterManager:
    """The seed's cluster manager over a caller from ``K8SContextManager`` / ``NomadContextManager``."""

    def __init__(self, caller: Any) -> None:
        self._caller = caller
        self._const = caller.constants
        self._cm: NativeClusterManager = caller.native

    @property
    def caller(self) -> Any:
        return self._caller

    @property
    def native(self) -> NativeClusterManager:
        """The native :class:`clustermanager.ClusterManager` underneath."""
        return self._cm

    @property
    def _nomad(self) -> bool:
        return self._cm.orchestrator == "nomad"

    # namespaces, nodes, quotas

    async def create_namespace(self, namespace: str) -> bool:
        return await self._cm.create_namespace(namespace)

    async def delete_namespace(self, namespace: str) -> bool:
        return await self._cm.delete_namespace(namespace)

    async def get_nodes(self) -> NodeList:
        return NodeList([SeedNode(n) for n in await self._cm.get_nodes()])

    async def define_quota(self, name: str, cpu_limit: Any = None, mem_limit: Any = None) -> bool:
        try:
            await self._cm.define_quota(name, "" if cpu_limit is None else str(cpu_limit), "" if mem_limit is None else str(mem_limit))
        except Unsupported:
            pass  # the seed's Nomad quota was a no-op that returned True
        return True

    # jobs

    def _job_spec(self, image: Any, command: Any, args: Any, cpu_limit: Any, mem_limit: Any, envvars: Any,
                  volumes: Any, volumeMounts: Any, envFrom: Any, entrypoint: Any, kw: Dict[str, Any],
                  table: Dict[str, str]) -> Dict[str, Any]:
        spec: Dict[str, Any] = {
            "command": command,
            "args": args,
            "cpu_limit": None if cpu_limit is None else str(cpu_limit),
            "mem_limit": self._memory(mem_limit),
            "env": {str(k): str(v) for k, v in (envvars or {}).items()},
            "volumes": volumes,
            "volume_mounts": volumeMounts,
            "env_from": envFrom,
            "entrypoint": entrypoint,
        }
        if "pullSecrets" in kw and kw["pullSecrets"] is not None:
            secrets = kw["pullSecrets"]
            spec["image_pull_secrets"] = [secrets] if isinstance(secrets, str) else list(secrets)
        for key, value in kw.items():
            if key == "pullSecrets":
                continue
            ours = table.get(key)
            if ours is None:
                warnings.warn(f"clustermanager.seed: keyword argument `{key}` is not supported and is ignored", stacklevel=3)
                continue
            if self._nomad and ours in _KUBERNETES_ONLY:
                # the seed's Nomad caller never read them
                warnings.warn(f"clustermanager.seed: keyword argument `{key}` is Kubernetes-only and is ignored on Nomad",
                              stacklevel=3)
                continue
            if ours in ("readiness", "liveness") and isinstance(value, dict):
                value = _probe(key, value)
            spec[ours] = value
        return spec

    def _memory(self, mem_limit: Any) -> Optional[str]:
        if mem_limit is None:
            return None
        # the seed passed a Nomad memory limit as MemoryMB unchanged: a bare number means MB there
        if self._nomad and (isinstance(mem_limit, (int, float)) or str(mem_limit).isdigit()):
            return f"{int(mem_limit)}Mi"
        return str(mem_limit)

    async def create_job(self, namespace: str, name: str, image: str, command: Any = None, args: Any = None,
                         cpu_limit: Any = None, mem_limit: Any = None, envvars: Any = {},  # noqa: B006 (the seed's signature)
                         volumes: Any = None, volumeMounts: Any = None, envFrom: Any = None, entrypoint: Any = None,
                         delete: bool = False, timeout: Any = 30, wait: bool = True, **kw: Any) -> bool:
        spec = self._job_spec(image, command, args, cpu_limit, mem_limit, envvars, volumes, volumeMounts, envFrom,
                              entrypoint, kw, _JOB_KW)
        try:
            if delete:
                await self._cm.replace_job(namespace, name, image, **spec)
            else:
                await self._cm.create_job(namespace, name, image, **spec)
        except AlreadyExists:
            return False
        return True

    async def list_jobs(self, namespace: str) -> JobList:
        return JobList([SeedJob(j) for j in await self._cm.list_jobs(namespace)])

    async def get_job(self, namespace: str, name: str) -> Optional[SeedJob]:
        job = await _found(self._cm.get_job(namespace, name))
        return None if job is None else SeedJob(job)

    async def delete_job(self, namespace: str, name: str, wait: bool = False, purge: bool = True) -> bool:
        await self._cm.delete_job(namespace, name, wait=wait, purge=purge)
        return True

    async def cleanup_jobs(self, namespace: str) -> int:
        return await self._cm.cleanup_jobs(namespace)

    async def wait_for_job(self, namespace: str, name: str) -> Optional[int]:
        """Wait until the job finished; the number of its executions that succeeded (the seed's
        ``status.succeeded``; Nomad: 1 or 0), ``None`` after an hour."""
        try:
            job = await self._cm.wait_for_job(namespace, name, WAIT_FOR_JOB_TIMEOUT)
        except Timeout:
            return None
        except CannotRun:
            return 0
        if self._nomad:
            return 1 if job.status == Status.SUCCEEDED else 0
        return job.succeeded

    async def list_jobs_executions(self, namespace: str) -> Dict[str, ExecutionList]:
        jobs = await self._cm.list_jobs(namespace)
        result: Dict[str, List[SeedExecution]] = {j.name: [] for j in jobs}
        if jobs:
            for e in await self._cm.list_jobs_executions(namespace):
                if e.job_name in result:
                    result[e.job_name].append(SeedExecution(e))
        return {k: ExecutionList(v) for k, v in result.items()}

    async def list_job_executions(self, namespace: str, job_id: str) -> ExecutionList:
        return ExecutionList([SeedExecution(e) for e in await self._cm.list_job_executions(namespace, job_id)])

    async def get_execution_log(self, namespace: str, job_id: str, execution_id: str) -> Optional[str]:
        return await _found(self._cm.get_execution_log(namespace, execution_id))

    async def get_execution_log_watch(self, namespace: str, job_id: str, execution_id: str) -> AsyncIterator[bytes]:
        """The followed log, line by line as the seed yielded them: ``bytes`` ending in ``b"\\n"``."""
        async with self._cm.get_execution_log_watch(namespace, execution_id) as lines:  # type: ignore[attr-defined]
            async for line in lines:
                yield line.encode() + b"\n"

    async def delete_execution(self, namespace: str, job_id: str, execution_id: str, purge: bool = True) -> bool:
        await self._cm.delete_execution(namespace, execution_id)
        return True

    async def wait_for_job_execution_status(self, namespace: str, name: str) -> str:
        """Wait until an execution runs or ended; the seed's constant for it (``RUNNING``,
        ``SUCCEEDED`` or ``ERROR``)."""
        execution = await self._cm.wait_for_job_execution_status(
            namespace, name, [Status.RUNNING, Status.SUCCEEDED, Status.FAILED], fail_fast=False
        )
        if execution.status == Status.FAILED:
            return self._const.ERROR
        if execution.status == Status.RUNNING:
            return self._const.RUNNING
        return self._const.SUCCEEDED

    async def waiting_jobs(self, namespace: str) -> List[str]:
        return [j.name for j in await self._cm.waiting_jobs(namespace)]

    async def running_jobs(self, namespace: str) -> List[str]:
        return [j.name for j in await self._cm.running_jobs(namespace)]

    # scale

    async def get_scale_deploy(self, namespace: str, name: str) -> Optional[int]:
        scale = await _found(self._cm.get_scale_deploy(namespace, name))
        return None if scale is None else scale.replicas

    async def set_scale_deploy(self, namespace: str, name: str, scale: int) -> Dict[str, Any]:
        return _scale_object(await self._cm.set_scale_deploy(namespace, name, int(scale)), namespace)

    async def get_scale_statefulset(self, namespace: str, name: str) -> Optional[int]:
        scale = await _found(self._cm.get_scale_statefulset(namespace, name))
        return None if scale is None else scale.replicas

    async def set_scale_statefulset(self, namespace: str, name: str, scale: int) -> Dict[str, Any]:
        return _scale_object(await self._cm.set_scale_statefulset(namespace, name, int(scale)), namespace)

    # deployments and statefulsets

    async def _create_workload(self, kind: str, namespace: str, name: str, image: str, labels: Any, command: Any,
                               args: Any, cpu_limit: Any, mem_limit: Any, envvars: Any, volumes: Any,
                               volumeMounts: Any, envFrom: Any, entrypoint: Any, replicas: int, delete: bool,
                               timeout: Any, wait: bool, kw: Dict[str, Any]) -> bool:
        spec = self._job_spec(image, command, args, cpu_limit, mem_limit, envvars, volumes, volumeMounts, envFrom,
                              entrypoint, kw, _DEPLOY_KW)
        spec["labels"] = dict(labels or {}, **(spec.get("labels") or {}))
        spec["replicas"] = replicas
        native = self._cm
        get = native.get_deploy if kind == "deployment" else native.get_statefulset
        create = native.create_deploy if kind == "deployment" else native.create_statefulset
        delete_ = native.delete_deploy if kind == "deployment" else native.delete_statefulset
        exists = await _found(get(namespace, name))
        if exists is not None and delete:
            await delete_(namespace, name, wait=True)
            exists = None
        if exists is not None:
            return False
        try:
            await create(namespace, name, image, **spec)
        except AlreadyExists:
            return False
        return True

    async def create_deploy(self, namespace: str, name: str, image: str, labels: Any, command: Any = None,
                            args: Any = None, cpu_limit: Any = None, mem_limit: Any = None, envvars: Any = {},  # noqa: B006
                            volumes: Any = None, volumeMounts: Any = None, envFrom: Any = None, entrypoint: Any = None,
                            replicas: int = 1, delete: bool = False, timeout: Any = 30, wait: bool = True,
                            **kw: Any) -> bool:
        return await self._create_workload("deployment", namespace, name, image, labels, command, args, cpu_limit,
                                           mem_limit, envvars, volumes, volumeMounts, envFrom, entrypoint, replicas,
                                           delete, timeout, wait, kw)

    async def create_statefulset(self, namespace: str, name: str, image: str, labels: Any, command: Any = None,
                                 args: Any = None, cpu_limit: Any = None, mem_limit: Any = None, envvars: Any = {},  # noqa: B006
                                 volumes: Any = None, volumeMounts: Any = None, envFrom: Any = None,
                                 entrypoint: Any = None, replicas: int = 1, delete: bool = False, timeout: Any = 30,
                                 wait: bool = True, **kw: Any) -> bool:
        return await self._create_workload("statefulset", namespace, name, image, labels, command, args, cpu_limit,
                                           mem_limit, envvars, volumes, volumeMounts, envFrom, entrypoint, replicas,
                                           delete, timeout, wait, kw)

    async def list_deploys(self, namespace: str) -> DeployList:
        return DeployList([SeedDeploy(w) for w in await self._cm.list_deploys(namespace)])

    async def get_deploy(self, namespace: str, name: str) -> Optional[SeedDeploy]:
        w = await _found(self._cm.get_deploy(namespace, name))
        return None if w is None else SeedDeploy(w)

    async def delete_deploy(self, namespace: str, name: str, wait: bool = False, timeout: Any = 60) -> bool:
        await self._cm.delete_deploy(namespace, name, wait=wait, timeout=timeout)
        return True

    async def deploy_wait_available(self, namespace: str, name: str, timeout: Any = 60) -> None:
        try:
            await self._cm.deploy_wait_available(namespace, name, timeout)
        except Timeout:
            pass  # the seed's wait ended silently at its timeout

    async def list_deploy_pods(self, namespace: str, name: str) -> ExecutionList:
        return ExecutionList([SeedExecution(e) for e in await self._cm.list_deploy_pods(namespace, name)])

    async def list_statefulsets(self, namespace: str) -> DeployList:
        return DeployList([SeedDeploy(w) for w in await self._cm.list_statefulsets(namespace)])

    async def get_statefulset(self, namespace: str, name: str) -> Optional[SeedDeploy]:
        w = await _found(self._cm.get_statefulset(namespace, name))
        return None if w is None else SeedDeploy(w)

    async def delete_statefulset(self, namespace: str, name: str, wait: bool = False, timeout: Any = 60) -> bool:
        await self._cm.delete_statefulset(namespace, name, wait=wait, timeout=timeout)
        return True

    async def statefulset_wait_available(self, namespace: str, name: str, timeout: Any = 60) -> None:
        try:
            await self._cm.statefulset_wait_available(namespace, name, timeout)
        except Timeout:
            pass

    async def list_statefulset_pods(self, namespace: str, name: str) -> ExecutionList:
        return ExecutionList([SeedExecution(e) for e in await self._cm.list_statefulset_pods(namespace, name)])

    # Kubernetes only

    async def install_tfjobs(self, namespace: Any = None, cloud: Any = None, install_helm: bool = False) -> None:
        await self._cm.install_tfjobs()

    async def create_tfjob(self, namespace: str, name: str, image: str, command: Any = None, args: Any = None,
                           cpu_limit: Any = None, mem_limit: Any = None, envvars: Any = {},  # noqa: B006
                           workers: int = 1, ps: int = 1, masters: int = 1, tb_gs: Any = None, delete: bool = False,
                           **kw: Any) -> bool:
        exist = await _found(self._cm.get_tfjob(namespace, name))
        if exist is not None and delete:
            await self._cm.delete_tfjob(namespace, name, wait=True)
            exist = None
        if exist is not None:
            return False
        container: Dict[str, Any] = {"name": "tensorflow", "image": image}
        if command is not None:
            container["command"] = command
        if args is not None:
            container["args"] = args
        limits = {k: str(v) for k, v in (("cpu", cpu_limit), ("memory", mem_limit)) if v is not None}
        if limits:
            container["resources"] = {"limits": limits}
        if envvars:
            container["env"] = [{"name": str(k), "value": str(v)} for k, v in envvars.items()]

        def replica(n: int) -> Dict[str, Any]:
            return {"replicas": n, "restartPolicy": "Never", "template": {"spec": {"containers": [container]}}}

        specs = {k: replica(n) for k, n in (("Chief", masters), ("PS", ps), ("Worker", workers)) if n}
        manifest = {"apiVersion": "kubeflow.org/v1", "kind": "TFJob", "metadata": {"name": name},
                    "spec": {"tfReplicaSpecs": specs}}
        await self._cm.create_tfjob(namespace, manifest)
        return True

    async def get_tfjob(self, namespace: str, name: str) -> Optional[Dict[str, Any]]:
        return await _found(self._cm.get_tfjob(namespace, name))

    async def delete_tfjob(self, namespace: str, name: str, wait: bool = False) -> bool:
        await self._cm.delete_tfjob(namespace, name, wait=wait)
        return True

    async def list_tfjobs(self, namespace: str) -> List[Dict[str, Any]]:
        return await self._cm.list_tfjobs(namespace)

    async def get_config_maps(self, namespace: str, labels: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
        """The seed returned the server's ConfigMapList: ``{"items": [...]}``."""
        maps = await self._cm.get_config_maps(namespace, labels or {})
        return {
            "kind": "ConfigMapList",
            "items": [
                {"metadata": {"name": m.name, "namespace": m.namespace, "labels": dict(m.labels)}, "data": dict(m.data)}
                for m in maps
            ],
        }


def _scale_object(scale: Any, namespace: str) -> Dict[str, Any]:
    """The seed returned the patched Scale object: its raw form when read, else the same fields."""
    if scale.raw is not None:
        return scale.raw
    return {
        "kind": "Scale",
        "metadata": {"name": scale.name, "namespace": namespace},
        "spec": {"replicas": scale.desired},
        "status": {"replicas": scale.replicas},
    }

