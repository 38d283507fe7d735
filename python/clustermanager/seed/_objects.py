"""The seed's result objects (aioclustermanager's ``Job``, ``JobList``, ``ExecutionList``, ...),
built on the native typed results. Each keeps the seed's attribute names (``id``, ``finished``,
``total``, ``_raw``, ...) and also exposes the native value it wraps (``.native``)."""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional

from .._types import Execution, Job, Node, Status, Workload


class _SeedObject:
    __slots__ = ("native",)

    def __init__(self, native: Any) -> None:
        self.native = native

    @property
    def _raw(self) -> Optional[Dict[str, Any]]:
        """The server's object (decoded on first use), as the seed's ``_raw``."""
        return self.native.raw

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.native == self.native  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self.id))  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}>"  # type: ignore[attr-defined]


class SeedJob(_SeedObject):
    """A job as the seed returned it: ``id`` (its name), ``finished``, ``active``, ``_raw``."""

    native: Job

    @property
    def id(self) -> str:
        return self.native.name

    @property
    def finished(self) -> bool:
        return self.native.finished

    @property
    def active(self) -> Any:
        # the seed: False when the server leaves `status.active` out, else the count
        return self.native.active or False

    @property
    def status(self) -> Optional[str]:
        """The server's own status word (Nomad: ``pending``/``running``/``dead``)."""
        return self.native.raw_status

    @property
    def succeeded(self) -> int:
        return self.native.succeeded

    @property
    def failed(self) -> int:
        return self.native.failed

    @property
    def image(self) -> Optional[str]:
        raw = self._raw
        try:
            return raw["spec"]["template"]["spec"]["containers"][0]["image"] if raw else None
        except (KeyError, IndexError, TypeError):
            return None

    @property
    def command(self) -> Optional[List[str]]:
        raw = self._raw
        try:
            return raw["spec"]["template"]["spec"]["containers"][0]["command"] if raw else None
        except (KeyError, IndexError, TypeError):
            return None


class SeedExecution(_SeedObject):
    """An execution (pod / allocation) as the seed returned it: ``id`` (and ``internal_id``, the
    name the seed's own tests fetch logs by: the same pod name / allocation ID), ``status`` (the
    server's word: ``Running``, ``Succeeded``, ...; Nomad ``running``, ``complete``, ...),
    ``finished``, ``running``, ``failed``, ``_raw``."""

    native: Execution

    @property
    def id(self) -> str:
        return self.native.id

    @property
    def internal_id(self) -> str:
        return self.native.id

    @property
    def status(self) -> str:
        return self.native.raw_status

    @property
    def running(self) -> bool:
        return self.native.status == Status.RUNNING

    @property
    def finished(self) -> bool:
        return self.native.status in (Status.SUCCEEDED, Status.FAILED)

    @property
    def failed(self) -> bool:
        return self.native.status == Status.FAILED

    @property
    def succeeded(self) -> bool:
        return self.native.status == Status.SUCCEEDED


class SeedNode(_SeedObject):
    """A node: ``id``, ``hostname``, ``_raw``."""

    native: Node

    @property
    def id(self) -> str:
        return self.native.name

    @property
    def hostname(self) -> str:
        return self.native.labels.get("kubernetes.io/hostname", self.native.name)


class SeedDeploy(_SeedObject):
    """A Deployment / StatefulSet (Nomad: service job): ``id``, ``selector``, ``replicas``, ``_raw``."""

    native: Workload

    @property
    def id(self) -> str:
        return self.native.name

    @property
    def selector(self) -> Dict[str, str]:
        return dict(self.native.selector)

    @property
    def labels(self) -> Dict[str, str]:
        return dict(self.native.labels)

    @property
    def replicas(self) -> int:
        return self.native.replicas

    @property
    def available(self) -> bool:
        return self.native.is_available


class _SeedList:
    """A list of seed objects: iterate it, index it, ``len()``, ``.total``, ``.values()``."""

    __slots__ = ("_items",)

    def __init__(self, items: List[Any]) -> None:
        self._items = items

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, i: int) -> Any:
        return self._items[i]

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._items == self._items  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {[getattr(i, 'id', i) for i in self._items]}>"

    @property
    def total(self) -> int:
        return len(self._items)

    def values(self) -> List[Any]:
        return list(self._items)


class JobList(_SeedList):
    """The seed's job list."""


class NodeList(_SeedList):
    """The seed's node list."""


class DeployList(_SeedList):
    """The seed's deployment / statefulset list."""


class ExecutionList(_SeedList):
    """The seed's execution list, with its status questions."""

    def statuses(self) -> List[str]:
        return [e.status for e in self._items]

    def has_failed_anytime(self) -> bool:
        return any(e.failed for e in self._items)

    def is_running(self) -> bool:
        return any(e.running for e in self._items)

    def is_done(self) -> bool:
        return any(e.succeeded for e in self._items)
