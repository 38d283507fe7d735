"""The way a finished call gets back to its event loop (python/src/bridge.rs): through the loop's
inbox (a socket watched with add_reader), or call_soon_threadsafe on a loop that cannot watch one
(Windows' proactor); across successive loops; with cancellation still dropping the Rust future."""

import asyncio

import pytest

import clustermanager

from clustermanager import Status
from clustermanager.fake import FakeCluster
from conftest import cancelled_wait_closes


class LoopWithoutAddReader(asyncio.SelectorEventLoop):
    """A loop that cannot watch a file descriptor, as Windows' proactor loop."""

    asked = 0

    def add_reader(self, *args):
        self.asked += 1
        raise NotImplementedError


async def create_and_wait(n: int, orchestrator: str = "nomad"):
    fake = FakeCluster.nomad() if orchestrator == "nomad" else FakeCluster.kubernetes()
    cm = await fake.connect()
    await cm.create_namespace("h")

    async def one(i):
        await cm.create_job("h", f"j{i}", image="busybox:1.36", command=["echo", str(i)])
        return await cm.wait_for_job("h", f"j{i}")  # always handed over to the runtime

    jobs = await asyncio.gather(*(one(i) for i in range(n)))
    assert [j.status for j in jobs] == [Status.SUCCEEDED] * n

    # cancelling a hand-over drops the Rust future (its shared observation and stream close)
    await cancelled_wait_closes(cm, fake, "h")
    return len(jobs)


@pytest.mark.parametrize("orchestrator", ["kubernetes", "nomad"])
def test_a_loop_without_add_reader_gets_results_through_call_soon_threadsafe(orchestrator):
    loop = LoopWithoutAddReader()
    try:
        assert loop.run_until_complete(create_and_wait(50, orchestrator)) == 50
        # a second round on the same loop (its "no inbox" is remembered, not retried each call)
        assert loop.run_until_complete(create_and_wait(5, orchestrator)) == 5
        assert loop.asked == 1
    finally:
        loop.close()


def test_successive_loops_each_get_their_results():
    # each new loop gets its own inbox; a closed loop's inbox does not take the next loop's results
    for _ in range(5):
        assert asyncio.run(create_and_wait(40)) == 40


def test_two_loops_alive_at_once_on_one_thread():
    first, second = asyncio.new_event_loop(), asyncio.new_event_loop()
    try:
        assert first.run_until_complete(create_and_wait(10)) == 10
        assert second.run_until_complete(create_and_wait(10)) == 10
        assert first.run_until_complete(create_and_wait(10)) == 10
    finally:
        first.close()
        second.close()


NODES = (
    b'{"kind":"NodeList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[{"metadata":'
    b'{"name":"n1"},"status":{"conditions":[{"type":"Ready","status":"True"}],"capacity":{"cpu":"2",'
    b'"memory":"4Gi"},"allocatable":{"cpu":"2","memory":"4Gi"}}}]}'
)


@pytest.mark.parametrize("side", ["loop", "tokio"])
async def test_a_call_over_real_io_is_answered_and_dropped_when_cancelled(side):
    """Over a socket, from the loop the manager was connected on (its calls are that loop's tasks,
    over sockets it watches) and from another loop (parked after the first poll, spawned on a
    tokio worker by its answer's readiness): answered, and a cancelled call is dropped (its
    connection closes)."""
    asked, closed = asyncio.Event(), asyncio.Event()

    async def serve(reader, writer):
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                closed.set()
                writer.close()
                return
            if head.startswith(b"GET /api/v1/nodes"):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(NODES) + NODES)
                await writer.drain()
            else:
                asked.set()  # never answered

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        config = {"endpoint": f"127.0.0.1:{port}", "http_scheme": "http"}
        if side == "loop":
            cm = await clustermanager.connect(config)
        else:
            # connected on another thread's loop: this loop's calls take tokio's connections
            connect = lambda: asyncio.run(clustermanager.connect(config))  # noqa: E731
            cm = await asyncio.get_running_loop().run_in_executor(None, connect)
        for _ in range(20):
            assert [n.name for n in await cm.get_nodes()] == ["n1"]
        nodes = await asyncio.gather(*(cm.get_nodes() for _ in range(20)))
        assert all(n[0].name == "n1" for n in nodes)
        task = asyncio.ensure_future(cm.get_job("t", "never-answered"))
        await asyncio.wait_for(asked.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(closed.wait(), 10)
        # the manager goes on
        assert [n.name for n in await cm.get_nodes()] == ["n1"]
        other = "tokio" if side == "loop" else "loop"
        assert (cm.requests_sent[side], cm.requests_sent[other], cm.requests_sent["moved_to_tokio"]) == (42, 0, 0)
    finally:
        server.close()
