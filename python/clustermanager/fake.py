"""The in-process fake cluster (the Rust ``clustermanager-fake`` crate) for tests.

::

    from clustermanager.fake import FakeCluster

    fake = FakeCluster.kubernetes()          # or FakeCluster.nomad()
    cm = await fake.connect()                # the native API
    # the seed's API: K8SContextManager({"fake": fake}) / NomadContextManager({"fake": fake})
    fake.add_fault(status=503, retry_after=1, on=("GET", "/api/v1/nodes"))

Jobs "run" their command in virtual time: ``echo hi`` logs ``hi``, ``exit 3`` fails with exit
code 3, ``sleep 30`` takes 30 virtual seconds; waits return at once.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

from . import _native


class FakeCluster:
    """A fake Kubernetes cluster or Nomad agent; both APIs connect to it."""

    __slots__ = ("_f",)

    def __init__(self, native: "_native.FakeCluster") -> None:
        self._f = native

    @classmethod
    def kubernetes(
        cls,
        *,
        step: Optional[float] = None,
        round_trip: Optional[float] = None,
        missing_images: Optional[List[str]] = None,
        seed: Optional[int] = None,
        version: Optional[str] = None,
    ) -> "FakeCluster":
        """A fake Kubernetes cluster (one Ready node: 4 CPUs, 8 GiB). ``step``: virtual
        seconds between a job's phases; ``missing_images``: images whose pods stay in
        ``ErrImagePull``; ``version``: the kube-apiserver it behaves as, ``"1.36"`` (default)
        or ``"1.19"``."""
        return cls(_native.FakeCluster.kubernetes(step, round_trip, missing_images, seed, version))

    @classmethod
    def nomad(
        cls,
        *,
        step: Optional[float] = None,
        round_trip: Optional[float] = None,
        nomad_drivers: Optional[List[str]] = None,
        seed: Optional[int] = None,
        node_cpu_mhz: Optional[int] = None,
        node_memory_mb: Optional[int] = None,
    ) -> "FakeCluster":
        """A fake Nomad agent (Nomad 1.1 behaviour). ``nomad_drivers``: the task drivers its node
        offers (default ``raw_exec``, ``exec``, ``docker``); ``node_cpu_mhz``,
        ``node_memory_mb``: what its node offers (default 4,000 MHz and 8,192 MB). Allocations
        are placed while their asks (Nomad's default: 100 MHz, 300 MB) fit beside the live ones;
        the rest wait, their evaluation blocked, until an allocation ends."""
        return cls(_native.FakeCluster.nomad(step, round_trip, nomad_drivers, seed, node_cpu_mhz, node_memory_mb))

    def __repr__(self) -> str:
        return f"<clustermanager.fake.FakeCluster {self._f.orchestrator}>"

    @property
    def orchestrator(self) -> str:
        return self._f.orchestrator

    async def connect(self, *, prefix_namespaces: bool = False):  # -> clustermanager.ClusterManager
        """A native :class:`clustermanager.ClusterManager` on this cluster (on Nomad,
        ``prefix_namespaces`` maps namespaces onto ``{namespace}-{job}`` job IDs, as the seed did:
        the config dictionary's ``nomad_namespaces: "prefix"``)."""
        from . import ClusterManager

        return ClusterManager(await self._f.connect(prefix_namespaces))

    def seed_config(self) -> dict:
        """The configuration dictionary the seed's context managers take for this cluster."""
        return {"fake": self}

    def add_fault(
        self,
        *,
        status: Optional[int] = None,
        body: str = "",
        retry_after: Optional[int] = None,
        drop: Optional[str] = None,
        latency: Optional[float] = None,
        hang: bool = False,
        on: Optional[Tuple[str, str]] = None,
        times: Optional[int] = None,
        always: bool = False,
    ) -> None:
        """Script a fault: exactly one of ``status`` (an HTTP answer, with ``body`` and
        ``retry_after``), ``drop`` (``"connect"``, ``"tls"``, ``"io"``, ``"truncated"``),
        ``latency`` (seconds) or ``hang``; on requests matching ``on=(method, path prefix)``;
        once, ``times`` times, or ``always``."""
        self._f.add_fault(status, body, retry_after, drop, latency, hang, on, times, always)

    @property
    def pending_faults(self) -> int:
        return self._f.pending_faults

    @property
    def open_streams(self) -> int:
        """Streams (watches, follows) open now."""
        return self._f.open_streams

    @property
    def peak_streams(self) -> int:
        """The most connections the client held at once."""
        return self._f.peak_streams

    def requests(self) -> List[str]:
        """Every request received so far, as ``METHOD path?query``."""
        return self._f.requests()

    @property
    def elapsed(self) -> float:
        """Virtual seconds since the cluster was made."""
        return self._f.elapsed

    def advance(self, seconds: float) -> None:
        """Let virtual time pass."""
        self._f.advance(seconds)

    def executions(self, namespace: str) -> List[str]:
        """Pod names (Kubernetes) or allocation IDs (Nomad) of a namespace."""
        return self._f.executions(namespace)

    def set_execution_status(self, namespace: str, id: str, status: str, exit_code: int = 0) -> bool:
        """Force an execution's status, as its node would report it."""
        return self._f.set_execution_status(namespace, id, status, exit_code)


__all__ = ["FakeCluster"]
