"""The seed's API (clustermanager.seed) on the fake cluster, both orchestrators: each method's
return shape, and seed programs that run unchanged apart from their imports and config."""

import pytest

# a seed program's imports, with the `clustermanager.seed` prefix:
from clustermanager.seed.k8s import K8SContextManager
from clustermanager.seed.manager import ClusterManager
from clustermanager.seed.nomad import NomadContextManager

from clustermanager.fake import FakeCluster


def context_manager(orchestrator):
    """The seed's context manager with the config dictionary for a fresh fake cluster."""
    if orchestrator == "kubernetes":
        return K8SContextManager({"fake": FakeCluster.kubernetes()})
    return NomadContextManager({"fake": FakeCluster.nomad()})


async def test_the_seed_readme_quickstart(orchestrator):
    # The seed README's quickstart, as written there (its config dictionary aside).
    async with context_manager(orchestrator) as context:
        cm = ClusterManager(context)
        await cm.delete_namespace('aiocluster-test')
        await cm.create_namespace('aiocluster-test')
        assert await cm.get_job('aiocluster-test', 'none') is None


async def seed_program(config_manager):
    """A seed program using jobs, executions, logs, deploys and scale; returns what it saw."""
    seen = {}
    async with config_manager as context:
        cm = ClusterManager(context)
        await cm.delete_namespace('batch')
        await cm.create_namespace('batch')
        created = await cm.create_job(
            'batch', 'report', 'busybox:1.36',
            command=['sh', '-c', 'echo start; echo done'],
            cpu_limit='500m', mem_limit='64Mi', envvars={'MODE': 'full'},
            labels={'team': 'data'})
        seen['created'] = created
        seen['again'] = await cm.create_job('batch', 'report', 'busybox:1.36')
        seen['replaced'] = await cm.create_job('batch', 'report', 'busybox:1.36',
                                               command=['sh', '-c', 'echo start; echo done'], delete=True)
        seen['status'] = await cm.wait_for_job_execution_status('batch', 'report')
        seen['succeeded'] = await cm.wait_for_job('batch', 'report')
        job = await cm.get_job('batch', 'report')
        seen['job'] = (job.id, job.finished)
        jobs = await cm.list_jobs('batch')
        seen['total'] = jobs.total
        for job in jobs:
            executions = await cm.list_job_executions('batch', job.id)
            seen['done'] = executions.is_done()
            seen['failed'] = executions.has_failed_anytime()
            for execution in executions:
                seen['log'] = await cm.get_execution_log('batch', job.id, execution.id)
                lines = []
                async for line in cm.get_execution_log_watch('batch', job.id, execution.id):
                    lines.append(line)
                seen['follow'] = lines
        by_job = await cm.list_jobs_executions('batch')
        seen['by_job'] = sorted(by_job)
        seen['waiting'] = await cm.waiting_jobs('batch')
        await cm.create_deploy('batch', 'web', 'nginx:1.25', {'app': 'web'}, replicas=2)
        await cm.deploy_wait_available('batch', 'web')
        seen['scale'] = await cm.get_scale_deploy('batch', 'web')
        await cm.set_scale_deploy('batch', 'web', 3)
        deploy = await cm.get_deploy('batch', 'web')
        seen['deploy'] = deploy.id
        seen['pods'] = len(await cm.list_deploy_pods('batch', 'web'))
        seen['deleted'] = await cm.delete_deploy('batch', 'web', True)
        seen['left'] = await cm.cleanup_jobs('batch')
    return seen


async def test_a_seed_program_with_jobs_executions_logs_deploys_and_scale(orchestrator):
    seen = await seed_program(context_manager(orchestrator))
    assert seen['created'] is True and seen['again'] is False and seen['replaced'] is True
    assert seen['status'] in ('Running', 'running', 'Succeeded', 'complete')
    assert seen['succeeded'] == 1
    assert seen['job'] == ('report', True)
    assert seen['total'] == 1 and seen['done'] and not seen['failed']
    assert seen['log'] == 'start\ndone\n'
    assert seen['follow'] == [b'start\n', b'done\n']
    assert seen['by_job'] == ['report'] and seen['waiting'] == []
    assert seen['scale'] == 2 and seen['deploy'] == 'web' and seen['pods'] >= 2
    assert seen['deleted'] is True and seen['left'] == 0


async def test_each_seed_method_returns_the_seeds_shape(orchestrator):
    async with context_manager(orchestrator) as context:
        assert context.type == ('k8s' if orchestrator == 'kubernetes' else 'nomad')
        cm = ClusterManager(context)
        assert cm.caller is context
        assert await cm.create_namespace('s') is True
        assert await cm.create_namespace('s') is False
        nodes = await cm.get_nodes()
        assert nodes.total == 1 and nodes[0].id and nodes[0].hostname
        assert await cm.create_namespace('q') is True
        assert await cm.define_quota('q', '2', '1Gi') is True  # Nomad: the seed's no-op
        assert await cm.get_job('s', 'x') is None
        assert await cm.create_job('s', 'x', 'busybox:1.36', command=['sh', '-c', 'exit 2']) is True
        assert await cm.wait_for_job('s', 'x') == 0
        job = await cm.get_job('s', 'x')
        assert job.id == 'x' and job.finished is True
        assert isinstance(job._raw, dict)
        executions = await cm.list_job_executions('s', 'x')
        assert executions.has_failed_anytime() and not executions.is_done()
        assert len(executions.statuses()) == 1
        assert executions[0].internal_id == executions[0].id  # what the seed's tests fetch logs by
        assert await cm.delete_execution('s', 'x', executions[0].id) is True
        assert await cm.running_jobs('s') == []
        assert await cm.delete_job('s', 'x', wait=True) is True
        assert (await cm.list_jobs('s')).total == 0
        assert await cm.get_scale_deploy('s', 'nope') is None
        assert await cm.get_deploy('s', 'nope') is None
        assert (await cm.list_deploys('s')).total == 0
        assert await cm.delete_namespace('s') is True


async def test_a_job_that_cannot_run_on_nomad_without_docker_runs_with_exec():
    # the seed always asked for docker; an image-less job picks exec/raw_exec here
    async with NomadContextManager({"fake": FakeCluster.nomad(nomad_drivers=["exec", "raw_exec"])}) as context:
        cm = ClusterManager(context)
        await cm.create_namespace('n')
        assert await cm.create_job('n', 'plain', None, command=['echo', 'hi']) is True
        assert await cm.wait_for_job('n', 'plain') == 1


async def test_unknown_seed_keywords_warn_and_are_ignored(orchestrator):
    async with context_manager(orchestrator) as context:
        cm = ClusterManager(context)
        await cm.create_namespace('k')
        with pytest.warns(UserWarning, match="affinity"):
            await cm.create_job('k', 'j', 'busybox:1.36', command=['echo'], affinity={})


async def test_deploy_keywords_reach_the_kubernetes_manifest():
    # the seed's create_deploy **kw that are Kubernetes' own JSON land in the Deployment as given
    async with K8SContextManager({"fake": FakeCluster.kubernetes()}) as context:
        cm = ClusterManager(context)
        await cm.create_namespace('w')
        affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}]}]}}}
        tolerations = [{"key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoSchedule"}]
        probe = {"httpGet": {"path": "/healthz", "port": 8443, "scheme": "HTTPS",
                             "httpHeaders": [{"name": "X-Probe", "value": "1"}]}, "periodSeconds": 5,
                 "timeoutSeconds": 2, "successThreshold": 2, "terminationGracePeriodSeconds": 9}
        with pytest.warns(UserWarning, match="'terminationGracePeriodSeconds', 'httpGet.httpHeaders'"):
            created = await cm.create_deploy('w', 'web', 'nginx:1.25', {'app': 'web'}, affinity=affinity,
                                             tolerations=tolerations, securityContext={"runAsUser": 101},
                                             readinessProbe=probe)
        assert created is True
        pod = (await cm.get_deploy('w', 'web'))._raw['spec']['template']['spec']
        assert pod['affinity'] == affinity and pod['tolerations'] == tolerations
        container = pod['containers'][0]
        assert container['securityContext'] == {"runAsUser": 101}
        assert container['readinessProbe']['httpGet'] == {"path": "/healthz", "port": 8443, "scheme": "HTTPS"}
        assert container['readinessProbe']['periodSeconds'] == 5
        assert container['readinessProbe']['timeoutSeconds'] == 2
        assert container['readinessProbe']['successThreshold'] == 2


async def test_a_deploys_container_keyword_names_its_container_and_its_log_still_reads():
    async with K8SContextManager({"fake": FakeCluster.kubernetes()}) as context:
        cm = ClusterManager(context)
        await cm.create_namespace('w')
        assert await cm.create_deploy('w', 'web', 'busybox:1.36', {'app': 'web'}, command=['sh', '-c', 'echo up; sleep 100000'],
                                      container='web') is True
        template = (await cm.get_deploy('w', 'web'))._raw['spec']['template']
        assert template['spec']['containers'][0]['name'] == 'web'
        assert template['metadata']['annotations']['kubectl.kubernetes.io/default-container'] == 'web'
        await cm.deploy_wait_available('w', 'web')
        pods = await cm.list_deploy_pods('w', 'web')
        assert 'up' in await cm.get_execution_log('w', 'web', pods[0].id)


async def test_kubernetes_only_deploy_keywords_warn_on_nomad():
    async with NomadContextManager({"fake": FakeCluster.nomad()}) as context:
        cm = ClusterManager(context)
        await cm.create_namespace('w')
        with pytest.warns(UserWarning, match="tolerations"):
            assert await cm.create_deploy('w', 'web', 'nginx:1.25', {'app': 'web'}, tolerations=[]) is True


async def test_the_seeds_nomad_namespace_prefixes_on_request():
    # nomad_namespaces: "prefix": the seed's {namespace}-{job} job IDs, for agents without namespaces
    fake = FakeCluster.nomad()
    async with NomadContextManager({"fake": fake, "nomad_namespaces": "prefix"}) as context:
        cm = ClusterManager(context)
        assert await cm.create_job('team', 'report', 'busybox:1.36', command=['echo', 'hi']) is True
        assert await cm.wait_for_job('team', 'report') == 1
        assert [j.id for j in await cm.list_jobs('team')] == ['report']
    plain = await fake.connect()
    assert [j.name for j in await plain.list_jobs('default')] == ['team-report']
