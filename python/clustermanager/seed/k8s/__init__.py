"""The seed's ``aioclustermanager.k8s``: ``K8SContextManager`` and ``create_k8s_caller``.

``config`` is the seed's dictionary (``auth``, ``endpoint``, ``token``, ``certificate``, ``key``,
``user``, ``credentials``, ``ca``, ``ca_file``, ``skip_ssl``, ``http_scheme``), or
``{"fake": FakeCluster.kubernetes()}`` for the in-process fake.
"""

from __future__ import annotations

from typing import Any, Dict

from .._context import K8S_CONSTANTS, Caller, _ContextManager


class K8SContextManager(_ContextManager):
    """``async with K8SContextManager(config) as context: cm = ClusterManager(context)``."""

    _kind = "k8s"
    _constants = K8S_CONSTANTS


async def create_k8s_caller(environment: Dict[str, Any]) -> Caller:
    """A caller without a context manager (the seed's helper)."""
    return await K8SContextManager(environment).open()


__all__ = ["K8SContextManager", "create_k8s_caller", "Caller"]
