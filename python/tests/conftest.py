"""Fixtures: a fresh fake cluster per test, on each orchestrator."""

import asyncio

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


async def cancelled_wait_closes(cm, fake, namespace):
    """Cancel a wait on a job that never ends; its Rust future is dropped: the shared observation
    and its stream close. (A helper for tests, not a fixture.)"""
    await cm.create_job(namespace, "forever", image="busybox:1.36", command=["sleep", "100000000"])
    task = asyncio.ensure_future(cm.wait_for_job(namespace, "forever"))
    for _ in range(400):
        if cm.shared_observations:
            break
        await asyncio.sleep(0.005)
    assert cm.shared_observations == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(400):
        if cm.shared_observations == 0 and fake.open_streams == 0:
            break
        await asyncio.sleep(0.005)
    assert cm.shared_observations == 0 and fake.open_streams == 0
