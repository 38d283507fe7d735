"""300 concurrent create+wait tasks from one asyncio loop, within the connection budget and in
bounded time."""

import asyncio
import time

from clustermanager import Status

# Normal: ~0.2 s with a release build, ~1-1.5 s with a debug one (`scripts/test`; Nomad ~2.5 s:
# 27 of these jobs fit the fake node at once, at Nomad's default 300 MB each, so the rest queue
# and run in waves as on a real agent), ~5 s on a machine loaded 4x. A stall of the fake's clock (a spinning wait starving the request it waits
# for: 11-17 s in a debug build) or a lost wake-up of the loop (for ever) goes past it.
BOUND_S = 15.0


async def test_300_concurrent_create_and_wait_tasks(cm, fake):
    async def one(i):
        await cm.create_job("t", f"job-{i}", image="busybox:1.36", command=["sh", "-c", f"echo {i}"])
        return await cm.wait_for_job("t", f"job-{i}")

    start = time.monotonic()
    jobs = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(300))), timeout=4 * BOUND_S)
    took = time.monotonic() - start
    assert took < BOUND_S, f"300 create+wait took {took:.1f} s (normal: ~1-1.5 s in a debug build)"
    assert len(jobs) == 300
    assert all(j.status is Status.SUCCEEDED for j in jobs)
    assert sorted(j.name for j in jobs) == sorted(f"job-{i}" for i in range(300))
    # one manager's budget: at most 32 connections at once (streams plus the request answered)
    assert fake.peak_streams <= 32
    assert cm.shared_observations == 0 and fake.open_streams == 0
