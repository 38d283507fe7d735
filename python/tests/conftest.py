"""Fixtures: a fresh fake cluster per test, on each orchestrator."""

import pytest

import clustermanager
from clustermanager.fake import FakeCluster


@pytest.fixture(params=["kubernetes", "nomad"])
def orchestrator(request):
    return request.param


@pytest.fixture
def fake(orchestrator):
    return FakeCluster.kubernetes() if orchestrator == "kubernetes" else FakeCluster.nomad()


@pytest.fixture
async def cm(fake):
    manager = await fake.connect()
    assert isinstance(manager, clustermanager.ClusterManager)
    await manager.create_namespace("t")
    return manager
