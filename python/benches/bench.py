"""What Python adds over the Rust call, measured in one run.

    python benches/bench.py [--calls N]

Four measurements:

1. **Per call, on the fake cluster** (`get_job` of a finished job, `get_nodes`): the same
   manager driven N times in a row by Rust alone (`_native.bench_rust_calls`, on the tokio runtime
   the Python calls use) and by Python (`await cm.get_job(...)`), and the native layer without the
   typed-result wrapping (`await cm._n.get_job(...)`), in interleaved blocks (medians). The
   difference per call is what Python adds. Also calls per second with 64 concurrent tasks.
2. **The hand-over alone**: a future that another task on the runtime completes (no I/O),
   awaited from Rust and from Python: the least a call that waits for an answer costs Python
   (a worker woken for it, the loop woken for its result, two turns of the loop).
3. **Per call, over loopback HTTP**: `get_nodes` against a canned Kubernetes apiserver served by a
   separate Python process on 127.0.0.1 (plain HTTP/1.1, keep-alive), the same way. Python's calls
   go over connections the event loop drives itself (`python/src/aio`), Rust's over tokio's
   (`requests_sent` in the row shows each side's count). Beside them, a minimal asyncio client
   (asyncio streams, no parsing beyond the head): the least any asyncio-based client pays.
4. **Memory for 1,000 concurrent waits**: resident memory before and while 1,000 `wait_for_job`
   tasks wait on the fake (jobs that sleep for ever in virtual time), and Python's own allocations
   (tracemalloc), then all are cancelled.

Build the extension in release mode first for numbers worth quoting:
`cd python && maturin develop --release`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from typing import Any, Awaitable, Callable, Dict, List, Tuple

import clustermanager
from clustermanager import _native
from clustermanager.fake import FakeCluster


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


BLOCKS = 10


async def interleaved(runs: Dict[str, Callable[[int], Awaitable[Any]]], n: int) -> Tuple[Dict[str, float], Dict[str, float]]:
    """Each of `runs` (given how many calls to make) run for n calls in all, in BLOCKS
    interleaved blocks (the first, the second, ..., the first, ...): wall and process CPU time
    per call in µs, each the median of its blocks, so a burst of load on the machine shifts one
    block of each kind, not one kind."""
    k = max(n // BLOCKS, 1)
    wall: Dict[str, List[float]] = {kind: [] for kind in runs}
    cpu: Dict[str, List[float]] = {kind: [] for kind in runs}
    for _ in range(BLOCKS):
        for kind, run in runs.items():
            start, c = time.perf_counter(), time.process_time()
            await run(k)
            wall[kind].append(time.perf_counter() - start)
            cpu[kind].append(time.process_time() - c)
    medians = lambda blocks: {kind: statistics.median(v) / k * 1e6 for kind, v in blocks.items()}  # noqa: E731
    return medians(wall), medians(cpu)


async def per_call(
    label: str,
    cm: clustermanager.ClusterManager,
    op: str,
    n: int,
    *args: str,
    extra: Dict[str, Callable[[int], Awaitable[Any]]] = {},
) -> dict:
    """`op` called n times by Rust alone, by the native layer and by the typed API (and by each
    of `extra`), in BLOCKS interleaved blocks (Rust, native, typed, Rust, ...): each figure is the
    median of its blocks, so a burst of load on the machine shifts one block of each kind, not one
    kind."""
    native = cm._n
    call_typed = getattr(cm, op)
    call_native = getattr(native, op)
    # warm up
    await _native.bench_rust_calls(native, op, 50, *args)
    for _ in range(50):
        await call_typed(*args)

    async def calls(call: Callable[..., Awaitable[Any]], m: int) -> None:
        for _ in range(m):
            await call(*args)

    us, cpu_us = await interleaved(
        {
            "rust": lambda k: _native.bench_rust_calls(native, op, k, *args),
            "native": lambda k: calls(call_native, k),
            "typed": lambda k: calls(call_typed, k),
            **extra,
        },
        n,
    )
    start = time.perf_counter()
    await asyncio.gather(*(calls(call_typed, n // 64) for _ in range(64)))
    concurrent = time.perf_counter() - start
    row = {
        "what": label,
        "rust_us": round(us["rust"], 1),
        "python_native_us": round(us["native"], 1),
        "python_typed_us": round(us["typed"], 1),
        "added_native_us": round(us["native"] - us["rust"], 1),
        "added_typed_us": round(us["typed"] - us["rust"], 1),
        "cpu_rust_us": round(cpu_us["rust"], 1),
        "cpu_added_native_us": round(cpu_us["native"] - cpu_us["rust"], 1),
        "cpu_added_typed_us": round(cpu_us["typed"] - cpu_us["rust"], 1),
        "python_calls_per_s_sequential": round(1e6 / us["typed"]),
        "python_calls_per_s_64_tasks": round((n // 64) * 64 / concurrent),
        **{f"{kind}_us": round(us[kind], 1) for kind in extra},
    }
    if cm.requests_sent is not None:
        # which connections each kind used: Python's calls the loop's, Rust's tokio's
        row["requests_sent"] = cm.requests_sent
    print(json.dumps(row))
    return row


async def handover(n: int) -> dict:
    """The hand-over alone, without I/O: a future another task on the runtime completes, awaited
    n times by Rust alone and from Python (interleaved blocks, medians). What a call that waits
    for its answer costs Python at least, with no server to add noise."""
    cm = await FakeCluster.kubernetes().connect()
    native = cm._n
    for _ in range(200):
        await _native.bench_handover()

    async def python(k: int) -> None:
        for _ in range(k):
            await _native.bench_handover()

    us, cpu_us = await interleaved(
        {"rust": lambda k: _native.bench_rust_calls(native, "handover", k), "python": python}, n
    )
    row = {
        "what": "hand-over to the runtime and back, no I/O",
        "rust_us": round(us["rust"], 2),
        "python_us": round(us["python"], 1),
        "added_us": round(us["python"] - us["rust"], 1),
        "cpu_added_us": round(cpu_us["python"] - cpu_us["rust"], 1),
    }
    print(json.dumps(row))
    return row


SERVER = r'''
import asyncio, json, sys
NODES = json.dumps({"kind": "NodeList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"},
    "items": [{"metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}},
               "status": {"conditions": [{"type": "Ready", "status": "True"}],
                          "capacity": {"cpu": "2", "memory": "4Gi"}, "allocatable": {"cpu": "2", "memory": "4Gi"}}}]}).encode()
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(NODES)
async def serve(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            writer.write(HEAD + NODES)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.sleep(600)  # bounded: the benchmark kills it long before
asyncio.run(main())
'''


async def loopback(n: int) -> dict:
    proc = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())
        cm = await clustermanager.connect({"endpoint": f"127.0.0.1:{port}", "http_scheme": "http"})
        reader, writer = await asyncio.open_connection("127.0.0.1", port)

        async def raw_asyncio(k: int) -> None:
            # the least an asyncio client pays for the same exchange: a request written and the
            # answer read with asyncio's streams, no parsing beyond the head
            for _ in range(k):
                writer.write(b"GET /api/v1/nodes HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                await reader.readexactly(length)

        try:
            return await per_call(
                "get_nodes over loopback HTTP/1.1", cm, "get_nodes", n, extra={"raw_asyncio_client": raw_asyncio}
            )
        finally:
            writer.close()
    finally:
        proc.kill()
        proc.wait()


async def memory_of_waits(count: int = 1000) -> dict:
    fake = FakeCluster.kubernetes()
    cm = await fake.connect()
    await cm.create_namespace("m")
    for i in range(count):
        await cm.create_job("m", f"w{i}", image="busybox:1.36", command=["sleep", "1000000000"])
    await asyncio.sleep(0.1)
    before = rss_kib()
    tracemalloc.start()
    py_before = tracemalloc.get_traced_memory()[0]
    tasks = [asyncio.ensure_future(cm.wait_for_job("m", f"w{i}")) for i in range(count)]
    while fake.open_streams == 0:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    during = rss_kib()
    py_during = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    streams = fake.open_streams
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for _ in range(100):  # the Rust futures are dropped on the runtime's threads
        if cm.shared_observations == 0:
            break
        await asyncio.sleep(0.01)
    row = {
        "what": f"{count} concurrent wait_for_job on the fake",
        "rss_before_kib": before,
        "rss_waiting_kib": during,
        "rss_per_wait_bytes": round((during - before) * 1024 / count),
        "python_heap_per_wait_bytes": round((py_during - py_before) / count),
        "open_streams_while_waiting": streams,
        "shared_observations_after_cancel": cm.shared_observations,
    }
    print(json.dumps(row))
    return row


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args()
    n = args.calls
    print(json.dumps({"python": sys.version.split()[0], "pid": os.getpid(), "calls": n}))
    k8s = FakeCluster.kubernetes()
    cm = await k8s.connect()
    await cm.create_namespace("b")
    await cm.create_job("b", "done", image="busybox:1.36", command=["echo", "x"])
    await cm.wait_for_job("b", "done")
    await per_call("get_job on the fake (Kubernetes)", cm, "get_job", n, "b", "done")
    await per_call("get_nodes on the fake (Kubernetes)", cm, "get_nodes", n)
    await handover(n)
    await loopback(n)
    await memory_of_waits()
    await asyncio.sleep(0.2)  # let the runtime finish dropping the cancelled waits


if __name__ == "__main__":
    asyncio.run(main())
