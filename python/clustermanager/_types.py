"""The typed results of the native API: frozen dataclasses (attributes, ``repr``, equality).

Each is built from the dict the Rust extension returns. ``raw`` is the server's object as it sent
it (decoded lazily, on first use, from its JSON text; ``None`` when none was read).
"""

from __future__ import annotations

import dataclasses
import enum
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Type, TypeVar

_T = TypeVar("_T")
_DEFAULTS: Dict[type, Dict[str, Any]] = {}


def _build(cls: Type[_T], d: Dict[str, Any]) -> _T:
    """``cls(**d)`` for a frozen dataclass, without its ``__init__``: a frozen dataclass sets each
    field through ``object.__setattr__``, which made building a 13-field result ~3x slower than
    filling its ``__dict__`` (a few µs of every call's overhead). ``d`` holds the fields the
    extension sends; defaults fill the rest; the result compares, hashes and prints as usual."""
    defaults = _DEFAULTS.get(cls)
    if defaults is None:
        fields = dataclasses.fields(cls)  # type: ignore[arg-type]
        defaults = {f.name: f.default for f in fields if f.default is not dataclasses.MISSING}
        _DEFAULTS[cls] = defaults
    obj = object.__new__(cls)
    attrs = obj.__dict__
    attrs.update(defaults)
    attrs.update(d)
    return obj


class Status(str, enum.Enum):
    """The unified status of a job or execution on both orchestrators (equal to its name)."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"

    def __str__(self) -> str:  # "Succeeded", not "Status.SUCCEEDED"
        return self.value


def _status(value: Optional[str]) -> Optional[Status]:
    return None if value is None else Status(value)


class _Raw:
    """Mixin: ``raw`` is the server's object, found and decoded on first use."""

    _raw_text: Any  # the extension's undecoded object (None when none was read)

    @property
    def raw(self) -> Optional[Any]:
        """The server's whole object as it sent it (a dict, decoded on first use), or ``None``
        when the value was not read from one server object."""
        cache = self.__dict__.get("_raw_cache", _MISSING)
        if cache is _MISSING:
            cache = None if self._raw_text is None else json.loads(self._raw_text.text())
            object.__setattr__(self, "_raw_cache", cache)
        return cache

    @property
    def raw_json(self) -> Optional[str]:
        """The server's object as JSON text, as it sent it (``None`` when none was read)."""
        return None if self._raw_text is None else self._raw_text.text()


_MISSING = object()


@dataclass(frozen=True)
class Reason:
    """Why a job is pending or cannot run: ``kind`` (e.g. ``"InvalidImage"``, ``"MissingDriver"``),
    the server's ``message``, whether it is ``permanent``, and its ``source``."""

    kind: str
    message: str
    permanent: bool
    source: str

    @classmethod
    def _from(cls, d: Optional[Dict[str, Any]]) -> Optional["Reason"]:
        return None if d is None else _build(cls, d)


@dataclass(frozen=True)
class Condition:
    """A Kubernetes condition (``kind`` is its ``type``)."""

    kind: str
    status: str
    reason: Optional[str] = None
    message: Optional[str] = None


@dataclass(frozen=True)
class Job(_Raw):
    """A batch job (a Kubernetes Job, a Nomad batch job)."""

    namespace: str
    name: str
    status: Optional[Status]
    raw_status: str
    active: int
    succeeded: int
    failed: int
    pending: int
    start_time: Optional[str]
    completion_time: Optional[str]
    conditions: List[Condition]
    labels: Dict[str, str]
    version: str
    deleting: bool
    pending_reason: Optional[Reason]
    exit_code: Optional[int]
    _raw_text: Any = field(default=None, repr=False, compare=False)

    @property
    def finished(self) -> bool:
        """Succeeded or failed."""
        return self.status in (Status.SUCCEEDED, Status.FAILED)

    @classmethod
    def _from(cls, d: Dict[str, Any]) -> "Job":
        d = dict(d)
        d["status"] = _status(d["status"])
        d["conditions"] = [_build(Condition, c) for c in d["conditions"]]
        d["pending_reason"] = Reason._from(d["pending_reason"])
        d["_raw_text"] = d.pop("raw")
        return _build(cls, d)


@dataclass(frozen=True)
class TaskState:
    """A container (Kubernetes) or task (Nomad) of an execution."""

    name: str
    state: str
    exit_code: Optional[int]
    reason: Optional[str]
    failed: bool
    restarts: int


@dataclass(frozen=True)
class Execution(_Raw):
    """One run of a job: a pod (Kubernetes) or an allocation (Nomad)."""

    id: str
    job_name: str
    namespace: str
    status: Optional[Status]
    raw_status: str
    node: Optional[str]
    tasks: List[TaskState]
    created: Optional[str]
    _raw_text: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def _from(cls, d: Dict[str, Any]) -> "Execution":
        d = dict(d)
        d["status"] = _status(d["status"])
        d["tasks"] = [_build(TaskState, t) for t in d["tasks"]]
        d["_raw_text"] = d.pop("raw")
        return _build(cls, d)


@dataclass(frozen=True)
class Node(_Raw):
    """A cluster node. CPU in millicores, memory in bytes."""

    id: str
    name: str
    status: str
    ready: bool
    datacenter: Optional[str]
    eligibility: Optional[str]
    drivers: List[str]
    cpu_capacity: Optional[int]
    memory_capacity: Optional[int]
    cpu_allocatable: Optional[int]
    memory_allocatable: Optional[int]
    labels: Dict[str, str]
    _raw_text: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def _from(cls, d: Dict[str, Any]) -> "Node":
        d = dict(d)
        d["_raw_text"] = d.pop("raw")
        return _build(cls, d)


@dataclass(frozen=True)
class Workload(_Raw):
    """A Deployment or StatefulSet (Kubernetes), a service job (Nomad)."""

    name: str
    namespace: str
    uid: str
    replicas: int
    ready: int
    available: int
    updated: int
    is_available: bool
    deleting: bool
    raw_status: str
    labels: Dict[str, str]
    selector: Dict[str, str]
    _raw_text: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def _from(cls, d: Dict[str, Any]) -> "Workload":
        d = dict(d)
        d["_raw_text"] = d.pop("raw")
        return _build(cls, d)


@dataclass(frozen=True)
class Scale(_Raw):
    """``replicas``: how many there are now (the seed's ``get_scale_deploy``); ``desired``: how many are asked for."""

    name: str
    replicas: int
    desired: int
    _raw_text: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def _from(cls, d: Dict[str, Any]) -> "Scale":
        d = dict(d)
        d["_raw_text"] = d.pop("raw")
        return _build(cls, d)


@dataclass(frozen=True)
class Namespace(_Raw):
    """A namespace."""

    name: str
    phase: str
    description: Optional[str]
    _raw_text: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def _from(cls, d: Dict[str, Any]) -> "Namespace":
        d = dict(d)
        d["_raw_text"] = d.pop("raw")
        return _build(cls, d)


@dataclass(frozen=True)
class ConfigMap:
    """A ConfigMap's name, labels and data."""

    namespace: str
    name: str
    labels: Dict[str, str]
    data: Dict[str, str]


@dataclass(frozen=True)
class ServicePort:
    """A port of a Service."""

    name: str
    port: int
    target_port: int
    protocol: str
    node_port: Optional[int]


@dataclass(frozen=True)
class Service:
    """A Kubernetes Service."""

    name: str
    namespace: str
    kind: str
    cluster_ip: Optional[str]
    ports: List[ServicePort]
    selector: Dict[str, str]
    labels: Dict[str, str]

    @classmethod
    def _from(cls, d: Dict[str, Any]) -> "Service":
        d = dict(d)
        d["ports"] = [_build(ServicePort, p) for p in d["ports"]]
        return _build(cls, d)


@dataclass(frozen=True)
class Diagnosis:
    """Why a job is not running: the ``reason`` if the server says, whether an execution ``started``,
    and how many ``executions`` there are."""

    reason: Optional[Reason]
    started: bool
    executions: int

    @classmethod
    def _from(cls, d: Dict[str, Any]) -> "Diagnosis":
        return cls(Reason._from(d["reason"]), d["started"], d["executions"])


@dataclass(frozen=True)
class Progress:
    """A wait's progress: ``event`` is ``"stuck"`` (with ``reason``), ``"unstuck"``, ``"started"`` or
    ``"finished"`` (with ``status``); ``text`` says it in words."""

    event: str
    job: str
    text: str
    reason: Optional[Reason] = None
    status: Optional[Status] = None

    @classmethod
    def _from(cls, d: Dict[str, Any]) -> "Progress":
        return cls(
            event=d["event"],
            job=d.get("job", ""),
            text=d.get("text", ""),
            reason=Reason._from(d.get("reason")),
            status=_status(d.get("status")),
        )


@dataclass(frozen=True)
class WatchEvent:
    """A Kubernetes watch event: ``type`` (``ADDED``, ``MODIFIED``, ``DELETED``, ``BOOKMARK``,
    ``ERROR``) and the ``object`` as a dict."""

    type: str
    object: Optional[Dict[str, Any]]
    resource_version: Optional[str] = None
    code: Optional[int] = None


@dataclass(frozen=True)
class NomadEvent:
    """One event of Nomad's event stream: its ``topic`` (``Job``, ``Evaluation``,
    ``Allocation``, ...), ``type`` (``JobRegistered``, ``AllocationUpdated``, ...), ``key`` (the
    object's ID), ``namespace``, ``filter_keys``, Raft ``index`` and the ``payload`` as a dict."""

    topic: str
    type: str
    key: str
    namespace: str
    filter_keys: List[str]
    index: int
    payload: Any = field(repr=False, compare=False)


@dataclass(frozen=True)
class EventBatch:
    """A batch of Nomad events sharing one Raft ``index``."""

    index: int
    events: List[NomadEvent]

    @classmethod
    def _from(cls, d: Dict[str, Any]) -> "EventBatch":
        return cls(index=d["index"], events=[_build(NomadEvent, e) for e in d["events"]])
