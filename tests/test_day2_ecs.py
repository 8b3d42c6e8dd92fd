"""Day 2 on konnect-ecs: what `pulumi up` does to a running stack when the ECS service or the load
balancer changes (issue "Day-2 safety", section 3). Each test runs the dev stack, then the changed
stack with the first run as the engine's state, and reads the plan (tools/plan.py).
"""

from __future__ import annotations

import json

import pytest

from components.config import FARGATE_SPOT_NOTICE_SECONDS, ConfigError, load_stack_config
from tests.conftest import example_run
from tools.mocks import PROJECT_ROOT, RunResult, run_program
from tools.plan import REPLACE, SAME, UPDATE, plan
from tools.render import read_stack_config

SERVICE = "aws:ecs/service:Service"
NLB = "aws:lb/loadBalancer:LoadBalancer"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
LISTENER = "aws:lb/listener:Listener"
#: The dev stack's own ecs section (seed 000's task size), kept in every changed run.
DEV_ECS = {"cpu": 512, "memory": 1024}


def _changed(**sections) -> tuple[RunResult, RunResult]:
    before = example_run("dev")
    config, secrets, project = read_stack_config("dev")
    config.update({f"kong-aws:{key}": json.dumps(value) for key, value in sections.items()})
    after = run_program(PROJECT_ROOT / "__main__.py", config, secrets, project=project, stack="dev", prior=before)
    return before, after


def test_a_new_spot_share_redeploys_the_service_in_place():
    """terraform-provider-aws (pulumi_aws/ecs/service.py docstring of capacity_provider_strategies):
    "Updating this argument requires force_new_deployment = true"; without it AWS refuses the
    update. The strategy is the service's redeploy trigger, so the change is an update that rolls
    the tasks (full capacity: minimum healthy 100 %), never a new service."""
    before, after = _changed(ecs={**DEV_ECS, "fargateSpotPercent": 50})
    steps = plan(before, after)
    assert steps.ops(SERVICE) == [UPDATE]
    (service,) = steps.of_type(SERVICE)
    assert {"capacityProviderStrategies", "triggers"} <= set(service.changed)
    inputs = after.one(SERVICE).inputs
    assert inputs["forceNewDeployment"] is True and inputs["deploymentMinimumHealthyPercent"] == 100
    assert steps.ops("aws:ecs/clusterCapacityProviders:ClusterCapacityProviders") == [UPDATE]


def test_an_unchanged_spot_share_triggers_no_deployment():
    before, after = _changed(ecs=DEV_ECS)
    assert plan(before, after).ops(SERVICE) == [SAME]


def test_moving_the_load_balancer_inside_replaces_its_target_groups_with_it():
    """aws_lb: `internal` forces a new load balancer. A target group serves one load balancer, so
    the new NLB's listeners must forward to new target groups: ProxyLoadBalancer replaces them with
    the NLB (replaceWith). Pulumi creates replacements before it deletes the old resources, so the
    order is: new NLB and target groups, new listeners, the service moved onto the new target groups
    (an in-place update: ECS UpdateService takes loadBalancers), then the old listeners, target groups
    and NLB are deleted."""
    before, after = _changed(ecs=DEV_ECS, loadBalancer={"internal": True})
    steps = plan(before, after)
    assert steps.ops(NLB) == [REPLACE]
    assert steps.ops(TARGET_GROUP) == [REPLACE, REPLACE]
    assert steps.ops(LISTENER) == [REPLACE, REPLACE]
    assert steps.ops(SERVICE) == [UPDATE] and steps.of_type(SERVICE)[0].changed == ("loadBalancers",)
    assert not any(s.delete_first for s in steps.by_op(REPLACE)), "an old resource would go before its successor"
    # The order the engine follows: each new listener waits for the new NLB and its new target group,
    # and the service waits for the listeners (ProxyLoadBalancer's target group ARNs resolve through them).
    by_urn = after.by_urn()
    nlb = after.one(NLB).urn
    groups = {r.urn for r in after.of_type(TARGET_GROUP)}
    for listener in after.of_type(LISTENER):
        assert nlb in listener.dependencies and groups & set(listener.dependencies)
    service = after.one(SERVICE)
    assert {r.urn for r in after.of_type(LISTENER)} <= set(service.dependencies)
    assert all(by_urn[g].options["replaceWith"] == [nlb] for g in groups)


def _config(ecs: dict, load_balancer: dict):
    raw = {"mode": "konnect-ecs", "kong": json.dumps({"version": "3.10.0.1"}),
           "konnect": json.dumps({"controlPlaneEndpoint": "a.us.cp0.konghq.com",
                                  "telemetryEndpoint": "a.us.tp0.konghq.com"}),
           "ecs": json.dumps(ecs), "loadBalancer": json.dumps(load_balancer)}
    return load_stack_config(raw, set(), region="us-west-2", env_token=None)


@pytest.mark.parametrize("ecs, lb", [
    ({"fargateSpotPercent": 30, "stopTimeoutSeconds": 60}, {"deregistrationDelaySeconds": 90}),
    ({"fargateSpotPercent": 30, "stopTimeoutSeconds": 120}, {}),
])
def test_spot_tasks_must_drain_within_the_interruption_notice(ecs, lb):
    with pytest.raises(ConfigError) as error:
        _config(ecs, lb)
    (line,) = error.value.problems
    assert line.startswith("kong-aws:loadBalancer.deregistrationDelaySeconds: ")
    assert str(FARGATE_SPOT_NOTICE_SECONDS) in line


def test_draining_that_fits_the_notice_and_on_demand_tasks_are_accepted():
    _config({"fargateSpotPercent": 30, "stopTimeoutSeconds": 60}, {"deregistrationDelaySeconds": 60})
    _config({"stopTimeoutSeconds": 120}, {"deregistrationDelaySeconds": 300})
