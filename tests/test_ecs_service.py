"""DataPlaneService (components/ecs_service.py) on its own, under the mocks, with the
ProxyLoadBalancer whose target groups it registers with. (The CreateService request of the whole
mode is checked against botocore's ECS model in tests/test_konnect_ecs.py.)"""

from __future__ import annotations

import pulumi
import pytest

from components.ecs_service import SERVICE_DEFAULTS, DataPlaneService, DataPlaneServiceArgs, capacity_provider_strategy
from components.proxy_load_balancer import ProxyLoadBalancer, ProxyLoadBalancerArgs
from tools.mocks import RunResult, run_program

SERVICE = "aws:ecs/service:Service"
LISTENER = "aws:lb/listener:Listener"
TASK_DEFINITION = "arn:aws:ecs:eu-west-1:123456789012:task-definition/kong-aws-test-data-plane:7"
SUBNETS = ["subnet-0a1b2c3d4e5f60003", "subnet-0a1b2c3d4e5f60004"]


def _run(**changes) -> RunResult:
    def program() -> None:
        lb = ProxyLoadBalancer("proxy", ProxyLoadBalancerArgs(
            vpc_id="vpc-0a1b2c3d4e5f60000", subnet_ids=SUBNETS, target_security_group_id="sg-0123456789abcdef0"))
        service = DataPlaneService("dp", DataPlaneServiceArgs(
            task_definition_arn=TASK_DEFINITION, subnet_ids=SUBNETS, security_group_ids=["sg-0123456789abcdef0"],
            http_target_group_arn=lb.http_target_group_arn, https_target_group_arn=lb.https_target_group_arn,
            **changes))  # type: ignore[typeddict-item]
        pulumi.export("service", service.service_name)

    return run_program(program, {"aws:region": "eu-west-1"})


def test_service_waits_for_the_listeners_of_its_target_groups():
    result = _run()
    service = result.one(SERVICE)
    listeners = {r.urn for r in result.of_type(LISTENER)}
    assert len(listeners) == 2 and listeners <= set(service.dependencies)


def test_defaults_keep_capacity_while_deploying_and_scale_on_cpu():
    result = _run()
    inputs = result.one(SERVICE).inputs
    assert inputs["desiredCount"] == SERVICE_DEFAULTS["desired_count"]
    assert (inputs["deploymentMinimumHealthyPercent"], inputs["deploymentMaximumPercent"]) == (100, 200)
    assert inputs["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert inputs["networkConfiguration"]["assignPublicIp"] is False
    target = result.one("aws:appautoscaling/target:Target").inputs
    assert (target["minCapacity"], target["maxCapacity"]) == (SERVICE_DEFAULTS["min_count"], SERVICE_DEFAULTS["max_count"])
    assert result.one(SERVICE).options["ignoreChanges"] == ["desiredCount"]


def test_spot_share_reaches_the_service_and_the_cluster():
    result = _run(fargate_spot_percent=25)
    expected = [{"capacityProvider": s["capacity_provider"], "weight": s["weight"], "base": s["base"]}
                for s in capacity_provider_strategy(25)]
    assert result.one(SERVICE).inputs["capacityProviderStrategies"] == expected
    # The cluster's default strategy is the same, so a task started outside the service (a
    # one-off `aws ecs run-task`) shares the capacity the same way.
    cluster = result.one("aws:ecs/clusterCapacityProviders:ClusterCapacityProviders")
    assert cluster.inputs["defaultCapacityProviderStrategies"] == expected
    assert sorted(cluster.inputs["capacityProviders"]) == ["FARGATE", "FARGATE_SPOT"]


@pytest.mark.parametrize("counts", [dict(min_count=3, desired_count=2), dict(desired_count=7, max_count=6)])
def test_counts_out_of_order_are_refused_before_anything(counts):
    with pytest.raises(Exception, match="min_count <= desired_count <= max_count"):
        _run(**counts)


@pytest.mark.parametrize("on, value", [(True, "enabled"), (False, "disabled")])
def test_container_insights_reaches_the_cluster_setting(on, value):
    result = _run(container_insights=on)
    assert result.one("aws:ecs/cluster:Cluster").inputs["settings"] == [{"name": "containerInsights", "value": value}]


def test_container_insights_default_is_on():
    assert SERVICE_DEFAULTS["container_insights"] is True
    assert _run().one("aws:ecs/cluster:Cluster").inputs["settings"][0]["value"] == "enabled"


def test_public_ip_reaches_the_network_configuration():
    network = _run(assign_public_ip=True).one(SERVICE).inputs["networkConfiguration"]
    assert network["assignPublicIp"] is True and network["subnets"] == SUBNETS
