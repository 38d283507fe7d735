"""What the seed's context managers share: connect on enter, hand out a caller, close on exit."""

from __future__ import annotations

import types
from typing import Any, Dict, Optional

from .. import ClusterManager as NativeClusterManager
from .. import connect

K8S_CONSTANTS = types.SimpleNamespace(
    PENDING="Pending", RUNNING="Running", SUCCEEDED="Succeeded", FAILED="Failed", ERROR="Failed"
)
NOMAD_CONSTANTS = types.SimpleNamespace(
    PENDING="pending", RUNNING="running", SUCCEEDED="complete", FAILED="failed", ERROR="failed"
)


class Caller:
    """What the seed's context managers returned (its ``K8SCaller`` / ``NomadCaller``): give it to
    ``ClusterManager(caller)``. ``native`` is the native :class:`clustermanager.ClusterManager`."""

    def __init__(self, native: NativeClusterManager, kind: str, constants: Any, endpoint: Optional[str]) -> None:
        self.native = native
        self._type = kind
        self.constants = constants
        self.endpoint = endpoint

    @property
    def type(self) -> str:
        """``"k8s"`` or ``"nomad"``, as in the seed."""
        return self._type

    def __repr__(self) -> str:
        return f"<clustermanager.seed caller {self._type} {self.endpoint or ''}>"


class _ContextManager:
    _kind = ""
    _constants: Any = None

    def __init__(self, environment: Dict[str, Any], loop: Any = None) -> None:
        if not isinstance(environment, dict):
            raise TypeError(f"parameter `environment`: expected a dict, got {type(environment).__name__}")
        self.environment = environment
        self.loop = loop  # accepted as the seed did; the running loop is used
        self.caller: Optional[Caller] = None

    def _config(self) -> Dict[str, Any]:
        return dict(self.environment)

    async def open(self) -> Caller:
        native = await connect(self._config())
        self.caller = Caller(native, self._kind, self._constants, self.environment.get("endpoint"))
        return self.caller

    async def close(self) -> None:
        # the manager's connections close when the last reference to it goes
        self.caller = None

    async def __aenter__(self) -> Caller:
        return await self.open()

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        await self.close()
