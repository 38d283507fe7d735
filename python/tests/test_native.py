"""The native API on the fake cluster, both orchestrators: result types, errors, streams,
progress, cancellation, bad input."""

import asyncio

import pytest

import clustermanager as cmod
from clustermanager import Status
from clustermanager.fake import FakeCluster
from conftest import cancelled_wait_closes


async def test_a_job_runs_and_says_how_it_ended(cm):
    created = await cm.create_job("t", "hello", image="busybox:1.36", command=["sh", "-c", "echo hello"])
    assert isinstance(created, cmod.Job) and created.name == "hello" and created.namespace == "t"
    job = await cm.wait_for_job("t", "hello")
    assert job.status is Status.SUCCEEDED and job.status == "Succeeded" and job.finished
    assert job.exit_code == 0
    got = await cm.get_job("t", "hello")
    assert job == got  # equality by value (the server's object takes no part)
    raw = got.raw  # the server's whole object, decoded on first use
    assert isinstance(raw, dict) and got.raw is raw
    assert (raw["metadata"]["name"] if cm.orchestrator == "kubernetes" else raw["ID"]) == "hello"
    assert got.raw_json.startswith("{")
    assert "hello" in repr(job)
    executions = await cm.list_job_executions("t", "hello")
    assert len(executions) == 1 and isinstance(executions[0], cmod.Execution)
    assert executions[0].job_name == "hello" and executions[0].status is Status.SUCCEEDED
    assert await cm.get_execution_log("t", executions[0].id) == "hello\n"
    assert [e.id for e in await cm.list_jobs_executions("t")] == [executions[0].id]
    assert [j.name for j in await cm.list_jobs("t")] == ["hello"]


async def test_a_failing_job_finishes_failed_with_its_exit_code(cm):
    await cm.create_job("t", "bad", image="busybox:1.36", command=["sh", "-c", "exit 3"])
    job = await cm.wait_for_job("t", "bad")
    assert job.status is Status.FAILED and job.exit_code == 3


async def test_log_follow_is_an_async_iterator(cm):
    await cm.create_job("t", "talk", image="busybox:1.36", command=["sh", "-c", "echo one; echo two"])
    running = await cm.wait_for_job_execution_status("t", "talk", [Status.RUNNING, Status.SUCCEEDED])
    assert isinstance(running, cmod.Execution)
    lines = [line async for line in cm.get_execution_log_watch("t", running.id)]
    assert lines == ["one", "two"]


async def test_progress_by_callback_and_by_async_iteration(cm):
    await cm.create_job("t", "p1", image="busybox:1.36", command=["echo", "x"])
    seen = []
    job = await cm.wait_for_job("t", "p1", on_progress=seen.append)
    await asyncio.sleep(0)  # callbacks run on the loop
    assert job.finished
    assert all(isinstance(p, cmod.Progress) for p in seen)
    await cm.create_job("t", "p2", image="busybox:1.36", command=["echo", "x"])
    items = [item async for item in cm.wait_for_job_progress("t", "p2")]
    assert isinstance(items[-1], cmod.Job) and items[-1].name == "p2" and items[-1].finished
    assert all(isinstance(p, cmod.Progress) for p in items[:-1])


async def test_nodes_namespaces_and_cleanup(cm):
    nodes = await cm.get_nodes()
    assert len(nodes) == 1 and isinstance(nodes[0], cmod.Node) and nodes[0].ready
    assert await cm.create_namespace("t") is False
    ns = await cm.get_namespace("t")
    assert isinstance(ns, cmod.Namespace) and ns.name == "t"
    assert "t" in [n.name for n in await cm.list_namespaces()]
    await cm.create_job("t", "a", image="busybox:1.36", command=["echo"])
    await cm.create_job("t", "b", image="busybox:1.36", command=["sleep", "1000"])
    await cm.wait_for_job("t", "a")
    assert await cm.cleanup_finished_jobs("t") == ["a"]
    assert await cm.cleanup_jobs("t") == 0
    assert await cm.delete_job("t", "b") is False
    assert await cm.delete_namespace("t") is True


async def test_waiting_and_running_jobs(cm, fake):
    await cm.create_job("t", "long", image="busybox:1.36", command=["sleep", "1000"])
    await cm.wait_for_job_execution_status("t", "long", [Status.RUNNING])
    assert [j.name for j in await cm.running_jobs("t")] == ["long"]
    assert await cm.waiting_jobs("t") == []
    diagnosis = await cm.diagnose_job("t", "long")
    assert isinstance(diagnosis, cmod.Diagnosis) and diagnosis.started


async def test_a_nomad_job_without_room_waits_its_turn():
    # a node with room for two of these: the third is queued (its evaluation blocked on
    # memory, not a permanent reason) and runs when the first ends
    fake = FakeCluster.nomad(node_memory_mb=2048)
    cm = await fake.connect()
    for name, secs in (("first", 10), ("second", 30), ("third", 1)):
        await cm.create_job("default", name, command=["sh", "-c", f"sleep {secs}"], mem_limit="1000Mi")
    third = await cm.get_job("default", "third")
    assert third.pending_reason.kind == "ResourcesExhausted" and not third.pending_reason.permanent
    assert "memory" in third.pending_reason.message
    assert [j.name for j in await cm.waiting_jobs("default")] == ["third"]
    assert (await cm.wait_for_job("default", "third")).status is Status.SUCCEEDED
    assert (await cm.get_job("default", "second")).status is Status.RUNNING


async def test_the_fake_kubernetes_version_is_chosen_by_name():
    # a finished Job's conditions: 1.36 adds SuccessCriteriaMet before Complete, 1.19 does not
    for version, conditions in (("1.19", ["Complete"]), ("v1.36", ["SuccessCriteriaMet", "Complete"]), (None, ["SuccessCriteriaMet", "Complete"])):
        cm = await FakeCluster.kubernetes(version=version).connect()
        await cm.create_namespace("t")
        await cm.create_job("t", "v", image="busybox:1.36", command=["true"])
        job = await cm.wait_for_job("t", "v")
        assert [c.kind for c in job.conditions] == conditions, version
    with pytest.raises(ValueError, match="version"):
        FakeCluster.kubernetes(version="1.20")


async def test_deployments_and_scale(cm):
    w = await cm.create_deploy("t", "web", image="nginx:1.25", replicas=2, ports=[80], labels={"app": "web"})
    assert isinstance(w, cmod.Workload) and w.name == "web"
    available = await cm.deploy_wait_available("t", "web")
    assert available.is_available
    scale = await cm.get_scale_deploy("t", "web")
    assert isinstance(scale, cmod.Scale) and scale.replicas == 2
    assert (await cm.set_scale_deploy("t", "web", 3)).desired == 3
    assert len(await cm.list_deploy_pods("t", "web")) >= 2
    assert [d.name for d in await cm.list_deploys("t")] == ["web"]
    assert await cm.delete_deploy("t", "web", wait=True) is True


# errors: one class per kind, under ClusterManagerError


async def test_not_found_and_already_exists(cm):
    with pytest.raises(cmod.NotFound) as e:
        await cm.get_job("t", "missing")
    assert e.value.status == 404 and e.value.kind == "NotFound"
    assert isinstance(e.value, cmod.ApiError) and isinstance(e.value, cmod.ClusterManagerError)
    await cm.create_job("t", "twice", image="busybox:1.36", command=["echo"])
    with pytest.raises(cmod.AlreadyExists):
        await cm.create_job("t", "twice", image="busybox:1.36", command=["echo"])


async def test_cannot_run_says_why(orchestrator):
    if orchestrator == "kubernetes":
        fake = FakeCluster.kubernetes(missing_images=["nosuch:1"])
        image, driver = "nosuch:1", None
    else:
        fake = FakeCluster.nomad(nomad_drivers=["raw_exec"])
        image, driver = "busybox:1.36", "docker"
    cm = await fake.connect()
    await cm.create_namespace("t")
    await cm.create_job("t", "stuck", image=image, command=["echo"], driver=driver)
    with pytest.raises(cmod.CannotRun) as e:
        await cm.wait_for_job("t", "stuck", startup_deadline=60, stuck_deadline=60)
    assert e.value.job.endswith("stuck")
    assert isinstance(e.value.reason, dict) and e.value.reason["kind"] and e.value.reason["message"]


async def test_timeout(cm):
    await cm.create_job("t", "slow", image="busybox:1.36", command=["sleep", "10000"])
    with pytest.raises(cmod.Timeout) as e:
        await cm.wait_for_job("t", "slow", timeout=5)
    assert e.value.what


async def test_unsupported(cm, orchestrator):
    if orchestrator == "nomad":
        with pytest.raises(cmod.Unsupported) as e:
            await cm.define_quota("t", "2", "1Gi")
        assert e.value.orchestrator == "Nomad" and e.value.hint
    else:
        await cm.define_quota("t", "2", "1Gi")
        with pytest.raises(cmod.Unsupported):
            await (await FakeCluster.nomad().connect()).get_config_maps("t")


@pytest.mark.parametrize(
    "status,cls",
    [
        (400, cmod.BadRequest),
        (401, cmod.Unauthorized),
        (403, cmod.Forbidden),
        (409, cmod.Conflict),
        (410, cmod.Gone),
        (422, cmod.Invalid),
        (429, cmod.TooManyRequests),
        (500, cmod.ServerError),
    ],
)
async def test_each_http_error_kind(fake, orchestrator, status, cls):
    cm = await fake.connect()
    path = "/api/v1/nodes" if orchestrator == "kubernetes" else "/v1/nodes"
    fake.add_fault(status=status, on=("GET", path), always=True)
    with pytest.raises(cls) as e:
        await cm.get_nodes()
    assert e.value.status == status


async def test_transport_error(fake, orchestrator):
    cm = await fake.connect()
    path = "/api/v1/nodes" if orchestrator == "kubernetes" else "/v1/nodes"
    fake.add_fault(drop="connect", on=("GET", path), always=True)
    with pytest.raises(cmod.TransportError) as e:
        await cm.get_nodes()
    assert e.value.transport_kind == "Connect"


async def test_a_503_with_retry_after_is_retried(fake, orchestrator):
    cm = await fake.connect()
    path = "/api/v1/nodes" if orchestrator == "kubernetes" else "/v1/nodes"
    fake.add_fault(status=503, retry_after=1, on=("GET", path))
    assert len(await cm.get_nodes()) == 1
    assert fake.pending_faults == 0


async def test_config_errors_name_the_key():
    with pytest.raises(cmod.ConfigError) as e:
        await cmod.connect({"endpoint": "127.0.0.1:6443", "tokne": "x"})
    assert e.value.key == "tokne"
    with pytest.raises(TypeError, match="skip_ssl"):
        await cmod.connect({"endpoint": "127.0.0.1:6443", "skip_ssl": ["yes"]})
    with pytest.raises(TypeError, match="config"):
        await cmod.connect(["not", "a", "dict"])


async def test_wrong_argument_types_name_the_parameter(cm):
    with pytest.raises(TypeError, match="command"):
        await cm.create_job("t", "x", image="busybox", command=42)
    with pytest.raises(TypeError, match="unexpected keyword argument `colour`"):
        await cm.create_job("t", "x", image="busybox", colour="red")
    with pytest.raises(ValueError, match="image_pull_policy"):
        await cm.create_job("t", "x", image="busybox", image_pull_policy="Sometimes")
    with pytest.raises(TypeError, match="namespace"):
        await cm.get_job(1, "x")
    with pytest.raises(ValueError, match="statuses"):
        await cm.wait_for_job_execution_status("t", "x", ["Sleeping"])
    with pytest.raises(ValueError, match="timeout"):
        await cm.wait_for_job("t", "x", timeout=-1)
    with pytest.raises(TypeError, match="on_progress"):
        await cm.wait_for_job("t", "x", on_progress=3)
    with pytest.raises(TypeError, match="tolerations"):
        await cm.create_job("t", "x", image="busybox", tolerations=["gpu"])
    with pytest.raises(ValueError, match="readiness"):
        await cm.create_deploy("t", "x", image="busybox", readiness={"grpc": {"port": 9000}})


async def test_cancelling_a_wait_drops_the_rust_future(cm, fake):
    await cancelled_wait_closes(cm, fake, "t")


async def test_closing_a_log_follow_closes_its_stream(cm, fake):
    await cm.create_job("t", "chatty", image="busybox:1.36", command=["sh", "-c", "echo a; sleep 100000; echo b"])
    e = await cm.wait_for_job_execution_status("t", "chatty", [Status.RUNNING])
    follow = cm.get_execution_log_watch("t", e.id)
    assert await follow.__anext__() == "a"
    assert fake.open_streams == 1
    await follow.aclose()
    assert fake.open_streams == 0
    with pytest.raises(StopAsyncIteration):
        await follow.__anext__()


async def test_kubernetes_watch(fake, orchestrator):
    cm = await fake.connect()
    if orchestrator == "nomad":
        with pytest.raises(cmod.Unsupported):
            cm.watch("pods", "default")
        return
    await cm.create_namespace("w")
    await cm.create_job("w", "seen", image="busybox:1.36", command=["echo"])
    events = cm.watch("jobs", "w", timeout_seconds=5)
    first = await events.__anext__()
    assert isinstance(first, cmod.WatchEvent) and first.type == "ADDED"
    assert first.object["metadata"]["name"] == "seen"
    await events.aclose()


async def test_nomad_event_stream(fake, orchestrator):
    cm = await fake.connect()
    if orchestrator == "kubernetes":
        with pytest.raises(cmod.Unsupported):
            cm.events(["Job"])
        return
    await cm.create_namespace("e")
    await cm.create_job("e", "told", image="busybox:1.36", command=["echo"])
    await cm.wait_for_job("e", "told")
    with pytest.raises(TypeError, match="topics"):
        cm.events("Job")
    seen = []
    async with cm.events(["Job:told"], index=0, namespace="e") as batches:
        async for batch in batches:
            assert isinstance(batch, cmod.EventBatch) and batch.index > 0
            seen += [(e.topic, e.key) for e in batch.events]
    assert seen and all(s == ("Job", "told") for s in seen), seen


async def test_fake_cluster_connects_through_the_config_dictionary(fake):
    cm = await cmod.connect({"fake": fake})
    assert cm.orchestrator == fake.orchestrator
    with pytest.raises(cmod.ConfigError):
        await cmod.connect({"fake": fake, "endpoint": "x"})


async def test_invalid_input_is_refused_before_anything_is_sent(cm, fake):
    sent = len(fake.requests())
    with pytest.raises(cmod.InvalidInput) as e:
        await cm.create_job("t", "q", image="busybox:1.36", command=["echo"], cpu_limit="lots")
    assert "cpu" in e.value.field and e.value.problem
    assert len(fake.requests()) == sent


async def test_an_answer_that_does_not_decode(fake, orchestrator):
    cm = await fake.connect()
    path = "/api/v1/nodes" if orchestrator == "kubernetes" else "/v1/nodes"
    fake.add_fault(status=200, body="this is not JSON", on=("GET", path))
    with pytest.raises(cmod.DecodeError) as e:
        await cm.get_nodes()
    assert "this is not JSON" in e.value.excerpt


def test_results_built_without_init_equal_those_built_with_it():
    from clustermanager._types import _build

    fields = dict(kind="QuotaExhausted", message="no room", permanent=False, source="FailedCreate")
    built, made = _build(cmod.Reason, fields), cmod.Reason(**fields)
    assert built == made and repr(built) == repr(made) and hash(built) == hash(made)
    node = dict(id="n", name="n", status="ready", ready=True, datacenter=None, eligibility=None, drivers=[],
                cpu_capacity=1, memory_capacity=2, cpu_allocatable=1, memory_allocatable=2, labels={})
    built = _build(cmod.Node, node)
    assert built == cmod.Node(**node) and built.raw is None, "the defaulted _raw_text is filled in"
    with pytest.raises(AttributeError):
        built.name = "other"  # still frozen
