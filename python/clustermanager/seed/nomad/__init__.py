"""The seed's ``aioclustermanager.nomad``: ``NomadContextManager`` and ``create_nomad_caller``.

``config`` is ``{"endpoint": "HOST:PORT"}`` (plus ``token``, ``http_scheme``, ``ca``, ``skip_ssl``,
``namespace``, ``region``), or ``{"fake": FakeCluster.nomad()}`` for the in-process fake.
"""

from __future__ import annotations

from typing import Any, Dict

from .._context import NOMAD_CONSTANTS, Caller, _ContextManager


class NomadContextManager(_ContextManager):
    """``async with NomadContextManager(config) as context: cm = ClusterManager(context)``."""

    _kind = "nomad"
    _constants = NOMAD_CONSTANTS

    def _config(self) -> Dict[str, Any]:
        config = dict(self.environment)
        if "fake" not in config:
            config.setdefault("orchestrator", "nomad")
        return config


async def create_nomad_caller(environment: Dict[str, Any]) -> Caller:
    """A caller without a context manager."""
    return await NomadContextManager(environment).open()


__all__ = ["NomadContextManager", "create_nomad_caller", "Caller"]
