"""clustermanager: run and watch batch work on Kubernetes and HashiCorp Nomad from asyncio.

The native API::

    import clustermanager

    cm = await clustermanager.connect_infer()          # kubeconfig, in-cluster, NOMAD_ADDR
    # or: await clustermanager.connect({"endpoint": "127.0.0.1:6443", "token": "..."})
    # or: await clustermanager.connect(clustermanager.fake.FakeCluster.kubernetes())
    await cm.create_namespace("batch")
    await cm.create_job("batch", "hello", image="busybox:1.36", command=["echo", "hello"])
    job = await cm.wait_for_job("batch", "hello")
    print(job.status, job.exit_code)

Every operation of the Rust facade is a coroutine method of :class:`ClusterManager`; results are
typed classes (:class:`Job`, :class:`Execution`, ...); every error kind is its own exception class
under :class:`ClusterManagerError`. The seed library's API (aioclustermanager) is in
:mod:`clustermanager.seed`; the in-process fake cluster for tests in :mod:`clustermanager.fake`.

The work runs in Rust, without the GIL. A manager's calls from the event loop it was connected on
run on that loop's thread over connections the loop itself watches (no thread hand-over per
call); calls from any other loop or thread run on a tokio runtime. Cancelling a task that awaits
an operation drops the Rust future (and closes its connections).
"""

from __future__ import annotations

import json
from typing import Any, AsyncIterator, Callable, Dict, List, Optional, Sequence, Union

from . import _native
from ._native import (
    AlreadyExists,
    ApiError,
    BadRequest,
    CannotRun,
    ClusterManagerError,
    ConfigError,
    Conflict,
    DecodeError,
    Forbidden,
    Gone,
    InternalError,
    Invalid,
    InvalidInput,
    NotFound,
    ProtocolError,
    ServerError,
    Timeout,
    TooManyRequests,
    TransportError,
    Unauthorized,
    Unsupported,
)
from ._types import (
    ConfigMap,
    Condition,
    Diagnosis,
    EventBatch,
    Execution,
    Job,
    Namespace,
    NomadEvent,
    Node,
    Progress,
    Reason,
    Scale,
    Service,
    ServicePort,
    Status,
    TaskState,
    WatchEvent,
    Workload,
)

__all__ = [
    "connect",
    "connect_infer",
    "connect_kubeconfig",
    "ClusterManager",
    "Status",
    "Job",
    "Execution",
    "Node",
    "Workload",
    "Scale",
    "Namespace",
    "ConfigMap",
    "Service",
    "ServicePort",
    "Condition",
    "TaskState",
    "Reason",
    "Diagnosis",
    "Progress",
    "WatchEvent",
    "EventBatch",
    "NomadEvent",
    "ClusterManagerError",
    "ApiError",
    "NotFound",
    "AlreadyExists",
    "Conflict",
    "Unauthorized",
    "Forbidden",
    "Invalid",
    "BadRequest",
    "Gone",
    "TooManyRequests",
    "ServerError",
    "Timeout",
    "CannotRun",
    "Unsupported",
    "DecodeError",
    "ConfigError",
    "InvalidInput",
    "TransportError",
    "ProtocolError",
    "InternalError",
]

_StatusLike = Union[Status, str]


def _check_str(param: str, value: Any) -> None:
    if not isinstance(value, str):
        raise TypeError(f"parameter `{param}`: expected a str, got {type(value).__name__}")


class _Stream:
    """An async iterator over a Rust stream, mapping each item; ``aclose()`` closes it."""

    __slots__ = ("_inner", "_map")

    def __init__(self, inner: Any, map_item: Callable[[Any], Any]) -> None:
        self._inner = inner
        self._map = map_item

    def __aiter__(self) -> "_Stream":
        return self

    async def __anext__(self) -> Any:
        return self._map(await self._inner.__anext__())

    async def aclose(self) -> None:
        """Close the stream and its connection now."""
        await self._inner.aclose()

    async def __aenter__(self) -> "_Stream":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()


def _wait_item(d: Dict[str, Any]) -> Union[Progress, Job]:
    if d["event"] == "result":
        return Job._from(d["job"])
    return Progress._from(d)


def _watch_item(d: Dict[str, Any]) -> WatchEvent:
    return WatchEvent(d["type"], d["object"], d.get("resource_version"), d.get("code"))


def _progress_callback(cb: Optional[Callable[[Progress], Any]]) -> Optional[Callable[[Dict[str, Any]], Any]]:
    if cb is None:
        return None
    if not callable(cb):
        raise TypeError(f"parameter `on_progress`: expected a callable, got {type(cb).__name__}")
    return lambda d: cb(Progress._from(d))


class ClusterManager:
    """One cluster, Kubernetes or Nomad, real or fake: the same coroutine methods for both.

    Get one from :func:`connect`, :func:`connect_infer` or ``FakeCluster.connect()``. Share one
    manager between tasks: its calls share one connection pool (at most 32 connections), and
    concurrent waits on one namespace share one watch / blocking query.
    """

    __slots__ = ("_n",)

    def __init__(self, native: "_native.Manager") -> None:
        if not isinstance(native, _native.Manager):
            raise TypeError("ClusterManager is made by clustermanager.connect(...), connect_infer() or FakeCluster.connect()")
        self._n = native

    def __repr__(self) -> str:
        return f"<clustermanager.ClusterManager {self._n.orchestrator}>"

    @property
    def orchestrator(self) -> str:
        """``"kubernetes"`` or ``"nomad"``."""
        return self._n.orchestrator

    @property
    def shared_observations(self) -> int:
        """How many shared wait observations run now (one per namespace with waits in flight)."""
        return self._n.shared_observations

    @property
    def requests_sent(self) -> Optional[Dict[str, int]]:
        """How many requests went over the event loop's own connections (``"loop"``: calls made
        from the loop the manager was connected on, which drives them itself) and over the tokio
        runtime's (``"tokio"``: calls from any other loop or thread), and how many calls moved to
        the tokio runtime to decode an answer of 256 KiB or more, which would block the loop
        (``"moved_to_tokio"``); ``None`` for the fake cluster, which sends none."""
        return self._n.requests_sent

    # namespaces and nodes

    async def create_namespace(self, name: str) -> bool:
        """Create a namespace and wait until it is usable; ``False`` if it existed."""
        return await self._n.create_namespace(name)

    async def delete_namespace(self, name: str) -> bool:
        """Delete a namespace and wait until it is gone; ``False`` if it did not exist."""
        return await self._n.delete_namespace(name)

    async def list_namespaces(self) -> List[Namespace]:
        """Every namespace of the cluster."""
        return [Namespace._from(d) for d in await self._n.list_namespaces()]

    async def get_namespace(self, name: str) -> Namespace:
        """A namespace (:class:`NotFound` if there is none)."""
        return Namespace._from(await self._n.get_namespace(name))

    async def get_nodes(self) -> List[Node]:
        """The cluster's nodes."""
        return [Node._from(d) for d in await self._n.get_nodes()]

    async def define_quota(self, namespace: str, cpu_limit: str, mem_limit: str) -> None:
        """Limit a namespace's CPU and memory (Kubernetes ResourceQuota; Nomad: :class:`Unsupported`)."""
        await self._n.define_quota(namespace, str(cpu_limit), str(mem_limit))

    # jobs

    async def create_job(self, namespace: str, name: str, image: Optional[str] = None, **spec: Any) -> Job:
        """Create a batch job. Keyword arguments: ``command``, ``args``, ``entrypoint``,
        ``cpu_limit``, ``mem_limit``, ``cpu_request``, ``mem_request``, ``env`` (dict), ``labels``,
        ``annotations``, ``node_selector``, ``backoff_limit``, ``driver`` (Nomad: ``docker``,
        ``exec``, ``raw_exec``; default: docker with an image, else exec), ``gpus``,
        ``image_pull_secrets``, ``image_pull_policy``, ``privileged``, ``active_deadline`` and
        ``ttl_after_finished`` (seconds), ``service_account``, ``working_dir``, ``constraints``,
        ``datacenters``, ``templates``, ``network_mode``, ``volumes``, ``volume_mounts``,
        ``env_from``, and Kubernetes' own ``affinity`` (dict), ``tolerations`` (list of dicts) and
        ``security_context`` (dict), sent as given; ``container``: the container's name
        (Kubernetes; default ``main``). An existing job raises :class:`AlreadyExists`."""
        _check_str("namespace", namespace)
        return Job._from(await self._n.create_job(namespace, _spec(name, image, spec)))

    async def replace_job(self, namespace: str, name: str, image: Optional[str] = None, **spec: Any) -> Job:
        """Delete the job if it exists (waiting until it is gone), then create it."""
        _check_str("namespace", namespace)
        return Job._from(await self._n.replace_job(namespace, _spec(name, image, spec)))

    async def list_jobs(self, namespace: str) -> List[Job]:
        """The jobs of a namespace."""
        return [Job._from(d) for d in await self._n.list_jobs(namespace)]

    async def get_job(self, namespace: str, name: str) -> Job:
        """One job (with ``pending_reason`` while it waits); :class:`NotFound` if there is none."""
        return Job._from(await self._n.get_job(namespace, name))

    async def delete_job(self, namespace: str, name: str, wait: bool = False, purge: bool = True) -> bool:
        """Delete a job (and its executions when ``purge``), waiting when ``wait``; ``False`` if it did not exist."""
        return await self._n.delete_job(namespace, name, wait, purge)

    async def cleanup_jobs(self, namespace: str) -> int:
        """Delete every job of the namespace, waiting for each; returns how many are left."""
        return await self._n.cleanup_jobs(namespace)

    async def cleanup_finished_jobs(self, namespace: str) -> List[str]:
        """Delete the finished jobs; returns their names."""
        return await self._n.cleanup_finished_jobs(namespace)

    async def waiting_jobs(self, namespace: str) -> List[Job]:
        """The jobs without any execution yet."""
        return [Job._from(d) for d in await self._n.waiting_jobs(namespace)]

    async def running_jobs(self, namespace: str) -> List[Job]:
        """The jobs with an execution running now."""
        return [Job._from(d) for d in await self._n.running_jobs(namespace)]

    async def wait_for_job(
        self,
        namespace: str,
        name: str,
        timeout: Optional[float] = None,
        *,
        startup_deadline: Optional[float] = None,
        stuck_deadline: Optional[float] = None,
        fail_fast: bool = True,
        on_progress: Optional[Callable[[Progress], Any]] = None,
    ) -> Job:
        """Wait until the job finished (succeeded or failed: see ``status``); returns it.

        Event-driven (a watch / blocking query shared by concurrent waits). A job that cannot run
        (an invalid image, a missing Nomad driver) raises :class:`CannotRun` with the reason;
        ``timeout`` (seconds) raises :class:`Timeout`. ``on_progress`` is called on the event loop
        with each :class:`Progress`."""
        return Job._from(
            await self._n.wait_for_job(
                namespace, name, timeout, startup_deadline, stuck_deadline, fail_fast, _progress_callback(on_progress)
            )
        )

    def wait_for_job_progress(
        self,
        namespace: str,
        name: str,
        timeout: Optional[float] = None,
        *,
        startup_deadline: Optional[float] = None,
        stuck_deadline: Optional[float] = None,
        fail_fast: bool = True,
    ) -> AsyncIterator[Union[Progress, Job]]:
        """The wait as an async iterator: :class:`Progress` events, then the finished :class:`Job`."""
        return _Stream(
            self._n.wait_for_job_stream(namespace, name, timeout, startup_deadline, stuck_deadline, fail_fast), _wait_item
        )

    async def diagnose_job(self, namespace: str, name: str) -> Diagnosis:
        """Why a job is not running, as far as the server says."""
        return Diagnosis._from(await self._n.diagnose_job(namespace, name))

    async def wait_for_job_execution_status(
        self,
        namespace: str,
        job: str,
        statuses: Sequence[_StatusLike] = (Status.RUNNING, Status.SUCCEEDED, Status.FAILED),
        timeout: Optional[float] = None,
        *,
        startup_deadline: Optional[float] = None,
        stuck_deadline: Optional[float] = None,
        fail_fast: bool = True,
        on_progress: Optional[Callable[[Progress], Any]] = None,
    ) -> Execution:
        """Wait until an execution of the job is in one of ``statuses``; returns it."""
        if isinstance(statuses, (str, Status)):
            statuses = [statuses]
        return Execution._from(
            await self._n.wait_for_job_execution_status(
                namespace,
                job,
                [str(s) for s in statuses],
                timeout,
                startup_deadline,
                stuck_deadline,
                fail_fast,
                _progress_callback(on_progress),
            )
        )

    # executions and logs

    async def list_jobs_executions(self, namespace: str) -> List[Execution]:
        """Every execution of every job of the namespace (each has ``job_name``)."""
        return [Execution._from(d) for d in await self._n.list_jobs_executions(namespace)]

    async def list_job_executions(self, namespace: str, job: str) -> List[Execution]:
        """The executions (pods / allocations) of one job."""
        return [Execution._from(d) for d in await self._n.list_job_executions(namespace, job)]

    async def delete_execution(self, namespace: str, id: str) -> bool:
        """Delete (Kubernetes) or stop (Nomad) an execution; ``False`` if it did not exist."""
        return await self._n.delete_execution(namespace, id)

    async def get_execution_log(
        self,
        namespace: str,
        id: str,
        *,
        container: Optional[str] = None,
        tail_lines: Optional[int] = None,
        since_seconds: Optional[int] = None,
        timestamps: bool = False,
        previous: bool = False,
        stderr: bool = False,
    ) -> str:
        """The log of an execution so far."""
        return await self._n.get_execution_log(namespace, id, container, tail_lines, since_seconds, timestamps, previous, stderr)

    def get_execution_log_watch(
        self,
        namespace: str,
        id: str,
        *,
        container: Optional[str] = None,
        tail_lines: Optional[int] = None,
        since_seconds: Optional[int] = None,
        timestamps: bool = False,
        stderr: bool = False,
    ) -> AsyncIterator[str]:
        """Follow an execution's log: an async iterator of lines until the log ends."""
        return _Stream(
            self._n.get_execution_log_watch(namespace, id, container, tail_lines, since_seconds, timestamps, stderr), _identity
        )

    def watch(
        self,
        resource: str,
        namespace: Optional[str] = None,
        *,
        label_selector: Optional[str] = None,
        field_selector: Optional[str] = None,
        resource_version: Optional[str] = None,
        timeout_seconds: Optional[int] = None,
    ) -> AsyncIterator[WatchEvent]:
        """Watch Kubernetes objects (``pods``, ``jobs``, ``deployments``, ``statefulsets``,
        ``configmaps``, ``services``, ``events``, ``namespaces``, ``nodes``): an async iterator of
        :class:`WatchEvent` until the server ends the stream. Nomad: :class:`Unsupported`."""
        return _Stream(
            self._n.watch(resource, namespace, label_selector, field_selector, resource_version, timeout_seconds),
            _watch_item,
        )

    def events(
        self,
        topics: Optional[Sequence[str]] = None,
        *,
        index: Optional[int] = None,
        namespace: Optional[str] = None,
        idle_timeout: Optional[float] = None,
        until_index: Optional[int] = None,
    ) -> AsyncIterator[EventBatch]:
        """Nomad's event stream: an async iterator of :class:`EventBatch`, of ``topics`` as Nomad
        spells them (``"Job"``, ``"Job:<job id>"``, ``"Allocation"``, ``"*"``; none: every
        topic), from ``index`` on, in ``namespace`` (``"*"`` for all). It ends when nothing, not
        even a heartbeat, came for ``idle_timeout`` seconds, or once a batch reached
        ``until_index``. Kubernetes: :class:`Unsupported` (use :meth:`watch`)."""
        if isinstance(topics, str):
            raise TypeError("parameter `topics`: expected a list of topics, got str")
        return _Stream(
            self._n.events(None if topics is None else list(topics), index, namespace, idle_timeout, until_index),
            EventBatch._from,
        )

    # deployments, statefulsets, scale

    async def create_deploy(self, namespace: str, name: str, image: Optional[str] = None, **spec: Any) -> Workload:
        """Create a Deployment (Nomad: a service job): the job keywords plus ``replicas``, ``ports``,
        ``readiness`` and ``liveness`` (Kubernetes probe dicts: one of ``httpGet`` (``path``,
        ``port``, ``scheme``), ``tcpSocket``, ``exec``, with ``initialDelaySeconds``,
        ``periodSeconds``, ``failureThreshold``, ``timeoutSeconds``, ``successThreshold``)."""
        return Workload._from(await self._n.create_workload("deployment", namespace, _spec(name, image, spec)))

    async def list_deploys(self, namespace: str) -> List[Workload]:
        return [Workload._from(d) for d in await self._n.list_workloads("deployment", namespace)]

    async def get_deploy(self, namespace: str, name: str) -> Workload:
        return Workload._from(await self._n.get_workload("deployment", namespace, name))

    async def delete_deploy(self, namespace: str, name: str, wait: bool = False, timeout: Optional[float] = None) -> bool:
        return await self._n.delete_workload("deployment", namespace, name, wait, timeout)

    async def deploy_wait_available(self, namespace: str, name: str, timeout: Optional[float] = None) -> Workload:
        """Wait until the Deployment is available (a failed rollout raises :class:`CannotRun`)."""
        return Workload._from(await self._n.wait_workload_available("deployment", namespace, name, timeout))

    async def list_deploy_pods(self, namespace: str, name: str) -> List[Execution]:
        return [Execution._from(d) for d in await self._n.list_workload_pods("deployment", namespace, name)]

    async def get_scale_deploy(self, namespace: str, name: str) -> Scale:
        return Scale._from(await self._n.get_workload_scale("deployment", namespace, name))

    async def set_scale_deploy(self, namespace: str, name: str, replicas: int) -> Scale:
        return Scale._from(await self._n.set_workload_scale("deployment", namespace, name, replicas))

    async def create_statefulset(self, namespace: str, name: str, image: Optional[str] = None, **spec: Any) -> Workload:
        """Create a StatefulSet: the deploy keywords plus ``service_name``, ``pod_management``, ``revision_history_limit``."""
        return Workload._from(await self._n.create_workload("statefulset", namespace, _spec(name, image, spec)))

    async def list_statefulsets(self, namespace: str) -> List[Workload]:
        return [Workload._from(d) for d in await self._n.list_workloads("statefulset", namespace)]

    async def get_statefulset(self, namespace: str, name: str) -> Workload:
        return Workload._from(await self._n.get_workload("statefulset", namespace, name))

    async def delete_statefulset(self, namespace: str, name: str, wait: bool = False, timeout: Optional[float] = None) -> bool:
        return await self._n.delete_workload("statefulset", namespace, name, wait, timeout)

    async def statefulset_wait_available(self, namespace: str, name: str, timeout: Optional[float] = None) -> Workload:
        return Workload._from(await self._n.wait_workload_available("statefulset", namespace, name, timeout))

    async def list_statefulset_pods(self, namespace: str, name: str) -> List[Execution]:
        return [Execution._from(d) for d in await self._n.list_workload_pods("statefulset", namespace, name)]

    async def get_scale_statefulset(self, namespace: str, name: str) -> Scale:
        return Scale._from(await self._n.get_workload_scale("statefulset", namespace, name))

    async def set_scale_statefulset(self, namespace: str, name: str, replicas: int) -> Scale:
        return Scale._from(await self._n.set_workload_scale("statefulset", namespace, name, replicas))

    # config maps, tfjobs, services

    async def get_config_maps(self, namespace: str, label_selector: Union[str, Dict[str, str], None] = None) -> List[ConfigMap]:
        """ConfigMaps matching a label selector (``"app=x,tier in (a,b)"`` or a dict of equalities)."""
        if isinstance(label_selector, dict):
            label_selector = ",".join(f"{k}={v}" for k, v in label_selector.items())
        return [ConfigMap(**d) for d in await self._n.get_config_maps(namespace, label_selector or "")]

    async def install_tfjobs(self) -> None:
        """Install the kubeflow TFJob CRD and wait until it is Established."""
        await self._n.install_tfjobs()

    async def create_tfjob(self, namespace: str, manifest: Dict[str, Any]) -> Dict[str, Any]:
        """Create a TFJob from its manifest (a dict)."""
        return await self._n.create_tfjob(namespace, json.dumps(manifest))

    async def get_tfjob(self, namespace: str, name: str) -> Dict[str, Any]:
        return await self._n.get_tfjob(namespace, name)

    async def delete_tfjob(self, namespace: str, name: str, wait: bool = False) -> bool:
        return await self._n.delete_tfjob(namespace, name, wait)

    async def list_tfjobs(self, namespace: str) -> List[Dict[str, Any]]:
        return await self._n.list_tfjobs(namespace)

    async def create_service(
        self,
        namespace: str,
        name: str,
        ports: Sequence[Any],
        selector: Dict[str, str],
        type: Optional[str] = None,
        labels: Optional[Dict[str, str]] = None,
    ) -> Service:
        """Create a Service; ``ports`` as ``(name, port, target_port)`` tuples or ``{"name", "port", "targetPort"}`` dicts."""
        tuples = []
        for i, p in enumerate(ports):
            if isinstance(p, dict):
                port = int(p["port"])
                tuples.append((str(p.get("name", f"p{i}")), port, int(p.get("targetPort", p.get("target_port", port)))))
            else:
                tuples.append(tuple(p))
        return Service._from(await self._n.create_service(namespace, name, tuples, selector, type, labels))

    async def get_service(self, namespace: str, name: str) -> Service:
        return Service._from(await self._n.get_service(namespace, name))

    async def delete_service(self, namespace: str, name: str) -> bool:
        return await self._n.delete_service(namespace, name)


def _identity(x: Any) -> Any:
    return x


def _spec(name: str, image: Optional[str], spec: Dict[str, Any]) -> str:
    _check_str("name", name)
    if image is not None:
        _check_str("image", image)
    spec["name"] = name
    spec["image"] = image
    try:
        return json.dumps(spec)
    except (TypeError, ValueError) as e:
        raise TypeError(f"a keyword argument is not a plain value (str, number, bool, list, dict): {e}") from None


async def connect(config: Any) -> ClusterManager:
    """Connect to a cluster: ``config`` is the seed's configuration dictionary (``endpoint``,
    ``auth``, ``token``, ``ca``, ``skip_ssl``, ...; ``orchestrator: "nomad"`` for a Nomad agent) or a
    :class:`clustermanager.fake.FakeCluster`. A wrong key or value type raises naming the key."""
    from .fake import FakeCluster

    if isinstance(config, FakeCluster):
        return await config.connect()
    if isinstance(config, dict) and "fake" in config:
        fake = config["fake"]
        rest = {k: v for k, v in config.items() if k != "fake"}
        prefix = rest.pop("nomad_namespaces", "native")
        if not isinstance(fake, FakeCluster) or rest or prefix not in ("native", "prefix"):
            raise ConfigError(
                "bad configuration `fake`: a clustermanager.fake.FakeCluster, alone or with "
                "`nomad_namespaces` (`native` or `prefix`)"
            )
        return await fake.connect(prefix_namespaces=prefix == "prefix")
    return ClusterManager(await _native.connect_seed(config))


async def connect_infer() -> ClusterManager:
    """Find the cluster as kubectl and the Nomad CLI do (``KUBECONFIG`` / ``~/.kube/config``, the
    in-cluster service account, ``NOMAD_ADDR``) and connect."""
    return ClusterManager(await _native.connect_infer())


async def connect_kubeconfig(context: Optional[str] = None) -> ClusterManager:
    """Connect with a context of the kubeconfig (``KUBECONFIG`` / ``~/.kube/config``; ``None``: the current one)."""
    return ClusterManager(await _native.connect_kubeconfig(context))


from . import fake  # noqa: E402  (after ClusterManager: fake.py imports it)
