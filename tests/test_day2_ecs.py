"""Day 2 on konnect-ecs: what `pulumi up` does to a running stack when the ECS service or the load
balancer changes (issue "Day-2 safety", section 3). Each test runs the dev stack, then the changed
stack with the first run as the engine's state, and reads the plan (tools/plan.py).
"""

from __future__ import annotations

import json
from typing import Optional

import pytest

from components.config import FARGATE_SPOT_NOTICE_SECONDS, ConfigError, load_stack_config
from tests.conftest import example_run
from tools.mocks import PROJECT_ROOT, RunResult, run_program
from tools.plan import DELETE, REPLACE, SAME, UPDATE, plan
from tools.render import read_stack_config

SERVICE = "aws:ecs/service:Service"
NLB = "aws:lb/loadBalancer:LoadBalancer"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
LISTENER = "aws:lb/listener:Listener"
#: The dev stack's own ecs section (seed 000's task size), kept in every changed run.
DEV_ECS = {"cpu": 512, "memory": 1024, "containerInsights": False, "cpuArchitecture": "ARM64",
           "fargateSpotPercent": 100}


def _changed(**sections) -> tuple[RunResult, RunResult]:
    before = example_run("dev")
    return before, _dev_sections(prior=before, **sections)


def _dev_sections(prior: Optional[RunResult] = None, **sections) -> RunResult:
    """The dev stack with ``sections`` (camelCase config sections) replacing its own."""
    config, secrets, project = read_stack_config("dev")
    config.update({f"kong-aws:{key}": json.dumps(value) for key, value in sections.items()})
    return run_program(PROJECT_ROOT / "__main__.py", config, secrets, project=project, stack="dev", prior=prior)


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
    # (With proxy protocol, Kong trusts the load balancer's subnets: a new task definition too.)
    assert steps.ops(SERVICE) == [UPDATE] and "loadBalancers" in steps.of_type(SERVICE)[0].changed
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


# --- Switching proxy protocol on a running stack (issue 11, item 2) -------------------------------

TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"


def _dev_with(load_balancer: dict, prior: RunResult | None = None) -> RunResult:
    config, secrets, project = read_stack_config("dev")
    config["kong-aws:loadBalancer"] = json.dumps(load_balancer)
    return run_program(PROJECT_ROOT / "__main__.py", config, secrets, project=project, stack="dev", prior=prior)


@pytest.mark.parametrize("before_on", [False, True])
def test_switching_proxy_protocol_flips_the_target_groups_before_the_tasks_roll(before_on):
    """The one-step switch, read from the plan: both target groups are updated in place (the
    proxy_protocol_v2 attribute, seconds) and the task definition is replaced (Kong's listeners),
    which the service then rolls out (minutes). The service depends on the target groups, so the
    engine finishes the attribute update before the rollout starts: from then until the new tasks
    are healthy, the old tasks get connections they cannot read (the header when they expect none,
    or none when they expect it) and fail the health checks too. No order inside one update avoids
    that window (an NLB listener forwards to one target group; nginx has no optional proxy_protocol),
    so docs/runbooks.md ("Switching proxy protocol") describes the switch as planned downtime of
    one rollout, or a move to a second stack. The update does converge: the new tasks and the
    target groups agree, so the deployment's health checks pass and the circuit breaker does not
    roll back."""
    before = _dev_with({"proxyProtocol": before_on})
    after = _dev_with({"proxyProtocol": not before_on}, prior=before)
    steps = plan(before, after)
    assert steps.ops(TARGET_GROUP) == [UPDATE, UPDATE]
    assert all(s.changed == ("proxyProtocolV2",) for s in steps.of_type(TARGET_GROUP))
    assert steps.ops(TASK_DEFINITION) == [REPLACE]
    assert steps.ops(SERVICE) == [UPDATE] and "taskDefinition" in steps.of_type(SERVICE)[0].changed
    assert steps.ops(NLB) == [SAME] and steps.ops(LISTENER) == [SAME, SAME]
    # Exactly these, and the rollout gate that waits for the new revision (docs/runbooks.md step 2).
    assert steps.ops("pulumi-python:dynamic/ecs:RolloutGate") == [UPDATE]
    assert sorted(steps.changes().values()) == sorted([UPDATE, UPDATE, REPLACE, UPDATE, UPDATE])
    # The order: the service waits for the target groups; the task definition does not, so the
    # engine may register the new revision at any time, but the rollout (the service update) comes
    # only after the attribute has changed.
    service = after.one(SERVICE)
    groups = {g.urn for g in after.of_type(TARGET_GROUP)}
    assert groups <= set(service.dependencies)
    assert after.one(TASK_DEFINITION).urn in service.dependencies
    assert not groups & set(after.one(TASK_DEFINITION).dependencies)
    env = {e["name"]: e["value"]
           for e in json.loads(after.one(TASK_DEFINITION).inputs["containerDefinitions"])[0]["environment"]}
    assert ("KONG_REAL_IP_HEADER" in env) is (not before_on)


def test_an_unchanged_proxy_protocol_choice_changes_nothing():
    before = _dev_with({"proxyProtocol": False})
    after = _dev_with({}, prior=before)  # the default is off (existing stacks keep what they have)
    steps = plan(before, after)
    assert steps.ops(TARGET_GROUP) == [SAME, SAME] and steps.ops(TASK_DEFINITION) == [SAME]
    assert steps.ops(SERVICE) == [SAME]


# --- egress (issue 11): a running NAT stack switched to public-ip ------------------------------------

NAT = "aws:ec2/natGateway:NatGateway"
EIP = "aws:ec2/eip:Eip"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
SUBNET = "aws:ec2/subnet:Subnet"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


def _subnet_tiers(run: RunResult) -> dict[str, str]:
    """Subnet id (as the fake cloud answered) -> tier, through the route table associations."""
    by_urn = run.by_urn()
    return {a.inputs["subnetId"]: by_urn[a.property_dependencies["subnetId"][0]].inputs["tags"]["kong-aws/tier"]
            for a in run.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")}


def test_public_ip_tasks_sit_in_the_public_subnets_behind_only_the_load_balancer():
    run = example_run("dev")
    network = run.one(SERVICE).inputs["networkConfiguration"]
    assert network["assignPublicIp"] is True
    tiers = _subnet_tiers(run)
    assert [tiers[s] for s in network["subnets"]] == ["public", "public"]
    assert run.of_type(NAT) == [] and run.of_type(EIP) == []
    (task_group,) = network["securityGroups"]
    nlb_groups = run.one(NLB).inputs["securityGroups"]
    inbound = [r.inputs for r in run.of_type(INGRESS) if r.inputs["securityGroupId"] == task_group]
    assert len(inbound) == 3 and all(r["referencedSecurityGroupId"] in nlb_groups for r in inbound)
    assert not any(k in r for r in inbound for k in ("cidrIpv4", "cidrIpv6", "prefixListId"))


def test_switching_a_running_nat_stack_to_public_ip_moves_the_tasks_before_the_nat_goes():
    """Day 2: dev as it ran before (egress nat-per-az, tasks in the private subnets), then dev as it
    is now. The VPC, subnets, load balancer and task security group stay; the service is updated in
    place (ECS UpdateService takes a networkConfiguration), a rolling deployment at full capacity
    (minimum healthy 100 %) that starts the new tasks in the public subnets before it stops the old
    ones, and `pulumi up` waits for it (waitForSteadyState, then the rollout gate). The private
    route tables are not updated (their routes are ignored with public-ip), so the old tasks keep
    their NAT route while they drain; the NAT gateways and their addresses are deleted, and Pulumi
    runs the deletions of resources a program no longer declares after every create and update."""
    before = _dev_sections(ecs=DEV_ECS, network={"egress": "nat-per-az"})
    after = _dev_sections(prior=before, ecs=DEV_ECS, network={"egress": "public-ip"})
    steps = plan(before, after)
    assert steps.ops(SERVICE) == [UPDATE]
    assert {c.split(".")[0] for c in steps.of_type(SERVICE)[0].changed} == {"networkConfiguration"}
    assert after.one(SERVICE).inputs["deploymentMinimumHealthyPercent"] == 100
    assert after.one(SERVICE).inputs["waitForSteadyState"] is True
    assert steps.ops(NAT) == [DELETE, DELETE] and steps.ops(EIP) == [DELETE, DELETE]
    assert set(steps.ops(ROUTE_TABLE)) == {SAME}
    for typ in (SUBNET, "aws:ec2/vpc:Vpc", NLB, TARGET_GROUP, LISTENER, SECURITY_GROUP, INGRESS):
        assert set(steps.ops(typ)) == {SAME}, typ
    # And back: the NAT gateways come again and the private routes are managed again.
    back = plan(after, _dev_sections(prior=after, ecs=DEV_ECS, network={"egress": "nat-per-az"}))
    assert back.ops(NAT) == ["create", "create"] and set(back.ops(ROUTE_TABLE)) >= {UPDATE}
    assert back.ops(SERVICE) == [UPDATE]


def test_the_deprecated_nat_gateways_key_plans_no_change():
    """A stack that kept `natGateways: per-az` (or set nothing) plans what it had."""
    before = _dev_sections(ecs=DEV_ECS, network={"egress": "nat-per-az"})
    for network in ({"natGateways": "per-az"}, {}):
        steps = plan(before, _dev_sections(prior=before, ecs=DEV_ECS, network=network))
        assert {s.op for s in steps.steps.values()} == {SAME}, network


def test_toggling_container_insights_is_an_in_place_cluster_update():
    before, after = _changed(ecs={**DEV_ECS, "containerInsights": True})
    steps = plan(before, after)
    (cluster,) = steps.of_type("aws:ecs/cluster:Cluster")
    # The dashboard graphs the task counts Container Insights adds, and the tasks alarm reads them
    # instead of the healthy targets: both updated in place.
    (dashboard,) = steps.of_type("aws:cloudwatch/dashboard:Dashboard")
    (alarm,) = [s for s in steps.of_type("aws:cloudwatch/metricAlarm:MetricAlarm") if s.urn.endswith("-below-desired")]
    watching = {dashboard.urn: UPDATE, alarm.urn: UPDATE}
    assert steps.changes() == {cluster.urn: UPDATE, **watching}
    assert after.one("aws:ecs/cluster:Cluster").inputs["settings"] == [{"name": "containerInsights",
                                                                        "value": "enabled"}]
    # And back off: the same updates.
    off = plan(after, _dev_sections(prior=after, ecs=DEV_ECS))
    assert off.changes() == {cluster.urn: UPDATE, **watching}


def test_a_kong_upgrade_replaces_the_task_definition_and_rolls_the_service_only():
    """docs/runbooks.md, "Upgrading Kong" (konnect-ecs): a new kong.version plans a new task
    definition revision (the image), a service update that rolls onto it, and the rollout gate
    waiting for it; nothing else, and nothing deleted first."""
    config, _, _ = read_stack_config("dev")
    kong = {**json.loads(config["kong-aws:kong"]), "version": "3.10.0.7"}
    before = example_run("dev")
    steps = plan(before, _dev_sections(prior=before, kong=kong))
    assert sorted(steps.changes().values()) == sorted([REPLACE, UPDATE, UPDATE])
    assert steps.ops(TASK_DEFINITION) == [REPLACE] and not steps.of_type(TASK_DEFINITION)[0].delete_first
    assert steps.ops(SERVICE) == [UPDATE] and steps.ops("pulumi-python:dynamic/ecs:RolloutGate") == [UPDATE]
