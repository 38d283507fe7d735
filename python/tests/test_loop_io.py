"""Calls over real sockets (python/src/aio): a manager's calls from the loop it was connected on go
over connections that loop drives itself; calls from any other loop or thread over tokio's; both
within one connection budget, over HTTP/1.1, TLS and HTTP/2, streams included."""

import asyncio
import gc
import json
import os
import select
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import clustermanager

DATA = os.path.join(os.path.dirname(__file__), "data")
CA = os.path.join(DATA, "ca.pem")

NODES = json.dumps(
    {
        "kind": "NodeList",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": "1"},
        "items": [
            {
                "metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}},
                "status": {
                    "conditions": [{"type": "Ready", "status": "True"}],
                    "capacity": {"cpu": "2", "memory": "4Gi"},
                    "allocatable": {"cpu": "2", "memory": "4Gi"},
                },
            }
        ],
    }
).encode()


def node_list(count: int) -> bytes:
    item = json.loads(NODES)["items"][0]
    items = [dict(item, metadata={"name": f"n{i}", "labels": {"kubernetes.io/hostname": f"n{i}"}}) for i in range(count)]
    return json.dumps({"kind": "NodeList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items}).encode()


def pod_event(kind: str, name: str) -> bytes:
    pod = {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": name, "namespace": "t", "resourceVersion": "2"}}
    return json.dumps({"type": kind, "object": pod}).encode() + b"\n"


class Server:
    """A Kubernetes-like HTTP/1.1 server on loopback, in threads of its own (so it outlives any
    event loop): the node list, and a pod watch of two events; counts connections open at once."""

    def __init__(self, tls: bool = False, nodes: bytes = NODES):
        self.lock = threading.Lock()
        self.open = self.peak = self.accepted = 0
        self.hung, self.hung_closed, self.release = threading.Event(), threading.Event(), threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                with server.lock:
                    server.open += 1
                    server.accepted += 1
                    server.peak = max(server.peak, server.open)

            def finish(self):
                with server.lock:
                    server.open -= 1
                super().finish()

            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path.startswith("/api/v1/nodes"):
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(nodes)))
                    self.end_headers()
                    self.wfile.write(nodes)
                elif self.path.startswith("/api/v1/namespaces/t/pods") and "watch=" in self.path:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for event in (pod_event("ADDED", "a"), pod_event("MODIFIED", "a")):
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                elif "/jobs" in self.path:
                    # never answered; notes when the client closes the connection (bounded: 10 s)
                    server.hung.set()
                    deadline = time.monotonic() + 10
                    while time.monotonic() < deadline and not server.release.is_set():
                        readable, _, _ = select.select([self.connection], [], [], 0.05)
                        if readable and not self.connection.recv(1, socket.MSG_PEEK):
                            server.hung_closed.set()
                            break
                    self.close_connection = True
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(os.path.join(DATA, "server.pem"), os.path.join(DATA, "server.key"))
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def config(port: int, host: str = "127.0.0.1", **extra) -> dict:
    return {"endpoint": f"{host}:{port}", "http_scheme": "http", **extra}


async def test_calls_from_the_connecting_loop_go_over_its_own_connections_within_the_budget(server):
    cm = await clustermanager.connect(config(server.port))
    for _ in range(20):
        assert [n.name for n in await cm.get_nodes()] == ["n1"]
    nodes = await asyncio.gather(*(cm.get_nodes() for _ in range(300)))
    assert all(n[0].name == "n1" for n in nodes)
    assert cm.requests_sent == {"loop": 320, "tokio": 0, "moved_to_tokio": 0}
    # at most max_connections (32) open at once, and kept alive: far fewer than 320 accepted
    assert server.peak <= 32
    assert server.accepted <= 32


async def calls_on(cm, k: int):
    for _ in range(k):
        assert [n.name for n in await cm.get_nodes()] == ["n1"]


async def connect_and_call(port: int, tasks: int, calls: int):
    """A manager connected on the running loop, after `tasks` tasks made `calls` calls each."""
    cm = await clustermanager.connect(config(port))
    await asyncio.gather(*(calls_on(cm, calls) for _ in range(tasks)))
    return cm


def test_other_loops_and_threads_go_over_tokio_s_connections(server):
    # connected on a loop that then closes: later loops still get their answers
    cm = asyncio.run(connect_and_call(server.port, 1, 1))
    asyncio.run(calls_on(cm, 5))
    assert cm.requests_sent == {"loop": 1, "tokio": 5, "moved_to_tokio": 0}

    # used from its own loop and, at the same time, from another thread's loop
    async def home_and_away():
        home = await clustermanager.connect(config(server.port))
        errors = []

        def away():
            try:
                asyncio.run(calls_on(home, 10))
            except BaseException as e:  # reported below
                errors.append(e)

        thread = threading.Thread(target=away)
        thread.start()
        await calls_on(home, 10)
        await asyncio.get_running_loop().run_in_executor(None, thread.join)
        assert not errors, errors
        assert home.requests_sent == {"loop": 10, "tokio": 10, "moved_to_tokio": 0}

    asyncio.run(home_and_away())


def test_a_closed_loop_s_connections_close_with_it(server):
    cm = asyncio.run(connect_and_call(server.port, 8, 5))
    assert server.open > 0, "kept alive for reuse while the loop lived"
    # the loop is gone (garbage-collected): nothing can drive its connections, they are closed
    gc.collect()
    deadline = time.monotonic() + 5
    while server.open and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.open == 0
    # calls from a later loop take tokio's connections, within their own budget
    asyncio.run(calls_on(cm, 3))
    assert cm.requests_sent["tokio"] == 3


def test_a_closed_loop_still_referenced_has_its_connections_closed_by_the_next_loop_s_call(server):
    first = asyncio.new_event_loop()
    try:
        cm = first.run_until_complete(connect_and_call(server.port, 8, 5))
        assert server.open > 0
    finally:
        first.close()  # closed, but `first` still refers to it: it is not collected
    # a call from another loop finds the home loop closed: its connections are closed
    asyncio.run(calls_on(cm, 1))
    deadline = time.monotonic() + 5
    while server.open > 1 and time.monotonic() < deadline:  # the new call's own connection stays
        time.sleep(0.02)
    assert server.open <= 1
    assert not first.is_running()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts file descriptors through /proc")
def test_loops_that_come_and_go_leave_no_sockets_behind(server):
    def one_loop():
        event_loop = asyncio.new_event_loop()

        cm = event_loop.run_until_complete(connect_and_call(server.port, 3, 2))
        # dropped while the loop is stopped: its connections' tasks are woken for a turn the
        # loop never runs
        del cm
        event_loop.close()
        gc.collect()

    one_loop()
    before = open_fds()
    for _ in range(20):
        one_loop()
    gc.collect()
    assert open_fds() - before < 5, "each loop's inbox and connections are closed with it"


async def test_a_caller_s_deadline_ends_a_request_the_server_never_answers(server):
    # the deadline is a tokio timer: it fires on a worker and wakes the loop through its inbox
    cm = await clustermanager.connect(config(server.port))
    started = asyncio.get_running_loop().time()
    with pytest.raises(clustermanager.Timeout):
        await cm.wait_for_job("t", "never", timeout=0.5)
    assert server.hung.is_set()
    assert asyncio.get_running_loop().time() - started < 5
    # the hung request's connection was closed, and the manager goes on
    assert await asyncio.get_running_loop().run_in_executor(None, server.hung_closed.wait, 5)
    assert [n.name for n in await cm.get_nodes()] == ["n1"]
    assert cm.requests_sent["tokio"] == 0


async def test_a_large_answer_is_decoded_on_tokio_not_on_the_loop():
    big = node_list(3000)
    assert len(big) > 256 * 1024
    s = Server(nodes=big)
    try:
        cm = await clustermanager.connect(config(s.port))
        nodes = await cm.get_nodes()
        assert [n.name for n in nodes[:2]] == ["n0", "n1"] and len(nodes) == 3000
        # sent over the loop's connection; the call then moved to a tokio worker to decode
        assert cm.requests_sent == {"loop": 1, "tokio": 0, "moved_to_tokio": 1}
        # a cancelled call is dropped wherever it is (on the loop, or moved); the manager goes on
        task = asyncio.ensure_future(cm.get_nodes())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert len(await cm.get_nodes()) == 3000
    finally:
        s.close()


async def test_a_watch_streams_over_the_loop_s_connection(server):
    cm = await clustermanager.connect(config(server.port))
    events = [(e.type, e.object["metadata"]["name"]) async for e in cm.watch("pods", "t", timeout_seconds=5)]
    assert events == [("ADDED", "a"), ("MODIFIED", "a")]
    assert cm.requests_sent == {"loop": 1, "tokio": 0, "moved_to_tokio": 0}


async def test_a_host_name_is_looked_up_and_a_closed_port_refuses():
    s = Server()
    try:
        cm = await clustermanager.connect(config(s.port, host="localhost"))
        assert [n.name for n in await cm.get_nodes()] == ["n1"]
        assert cm.requests_sent["loop"] == 1
    finally:
        s.close()
    # the port is closed now
    cm = await clustermanager.connect(config(s.port))
    with pytest.raises(clustermanager.TransportError) as refused:
        await cm.get_nodes()
    assert refused.value.transport_kind == "Connect"
    assert "cannot connect" in str(refused.value)


async def test_https_is_verified_against_the_configured_ca():
    s = Server(tls=True)
    try:
        cm = await clustermanager.connect({"endpoint": f"127.0.0.1:{s.port}", "http_scheme": "https", "ca_file": CA})
        nodes = await asyncio.gather(*(cm.get_nodes() for _ in range(50)))
        assert all(n[0].name == "n1" for n in nodes)
        assert cm.requests_sent == {"loop": 50, "tokio": 0, "moved_to_tokio": 0}
        # without the CA the server's certificate is refused
        untrusting = await clustermanager.connect({"endpoint": f"127.0.0.1:{s.port}", "http_scheme": "https"})
        with pytest.raises(clustermanager.TransportError) as refused:
            await untrusting.get_nodes()
        assert refused.value.transport_kind == "Tls"
    finally:
        s.close()


class H2Server:
    """An HTTP/2 server over TLS (ALPN `h2`) on the running loop, written with the `h2` package:
    answers the node list on every stream; counts connections and requests."""

    def __init__(self):
        self.connections = self.requests = 0

    async def start(self):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(os.path.join(DATA, "server.pem"), os.path.join(DATA, "server.key"))
        context.set_alpn_protocols(["h2"])
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", 0, ssl=context)
        return self.server.sockets[0].getsockname()[1]

    async def serve(self, reader, writer):
        import h2.config
        import h2.connection
        import h2.events

        self.connections += 1
        conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        try:
            while data := await reader.read(65536):
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        self.requests += 1
                        headers = [(":status", "200"), ("content-type", "application/json"), ("content-length", str(len(NODES)))]
                        conn.send_headers(event.stream_id, headers)
                        conn.send_data(event.stream_id, NODES, end_stream=True)
                writer.write(conn.data_to_send())
                await writer.drain()
        except (ConnectionError, ssl.SSLError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


async def test_http2_multiplexes_every_call_over_one_connection():
    pytest.importorskip("h2")
    server = H2Server()
    port = await server.start()
    try:
        cm = await clustermanager.connect({"endpoint": f"127.0.0.1:{port}", "http_scheme": "https", "ca_file": CA})
        # a cold burst: the other connects wait for the first handshake (ALPN says h2), and the
        # pool hands its connection to every request
        nodes = await asyncio.gather(*(cm.get_nodes() for _ in range(300)))
        assert all(n[0].name == "n1" for n in nodes)
        assert (server.connections, server.requests) == (1, 300)
        assert cm.requests_sent == {"loop": 300, "tokio": 0, "moved_to_tokio": 0}
    finally:
        server.server.close()


async def test_a_seed_program_s_calls_go_over_its_loop_s_connections(server):
    from clustermanager.seed.k8s import K8SContextManager
    from clustermanager.seed.manager import ClusterManager

    async with K8SContextManager({"endpoint": f"127.0.0.1:{server.port}", "http_scheme": "http"}) as context:
        cm = ClusterManager(context)
        nodes = await asyncio.gather(*(cm.get_nodes() for _ in range(20)))
        assert all(n.total == 1 for n in nodes)
    assert server.accepted <= 20
