"""300 concurrent create+wait tasks from one asyncio loop, within the connection budget."""

import asyncio

from clustermanager import Status


async def test_300_concurrent_create_and_wait_tasks(cm, fake):
    async def one(i):
        await cm.create_job("t", f"job-{i}", image="busybox:1.36", command=["sh", "-c", f"echo {i}"])
        return await cm.wait_for_job("t", f"job-{i}")

    jobs = await asyncio.gather(*(one(i) for i in range(300)))
    assert len(jobs) == 300
    assert all(j.status is Status.SUCCEEDED for j in jobs)
    assert sorted(j.name for j in jobs) == sorted(f"job-{i}" for i in range(300))
    # one manager's budget: at most 32 connections at once (streams plus the request answered)
    assert fake.peak_streams <= 32
    assert cm.shared_observations == 0 and fake.open_streams == 0
