"""tools/plan.py and the prior-state runs of tools/mocks.py: the plan's shape between two runs.

These are the instruments of the Day-2 tests, so they are tested on their own: an unchanged stack
plans nothing; a change plans an update or a replacement as REPLACED_BY says, and a replacement's
new identity reaches what depends on it.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import example_run
from tools.mocks import PROJECT_ROOT, run_program
from tools.plan import CREATE, DELETE, REPLACE, SAME, UPDATE, plan
from tools.render import read_stack_config

NLB = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


def _again(stack: str, prior, **sections):
    """Run the example stack again with the given keys changed inside their sections (the rest of
    each section as the stack file sets it)."""
    config, secrets, project = read_stack_config(stack)
    for key, value in sections.items():
        config[f"kong-aws:{key}"] = json.dumps({**json.loads(config.get(f"kong-aws:{key}", "{}")), **value})
    return run_program(PROJECT_ROOT / "__main__.py", config, secrets, project=project, stack=stack, prior=prior)


@pytest.mark.parametrize("stack", ["dev", "dev-eks"])
def test_an_unchanged_stack_plans_nothing(stack):
    before = example_run(stack)
    after = _again(stack, before)
    steps = plan(before, after)
    assert steps.changes() == {}
    assert {s.op for s in steps.steps.values()} == {SAME}
    # Generated keys and certificates are kept, as the engine keeps an unchanged resource's outputs.
    key = next(r for r in after.registrations if r.type == "tls:index/privateKey:PrivateKey")
    assert key.outputs == next(r for r in before.registrations if r.urn == key.urn).outputs


def test_an_updatable_change_is_an_update_and_touches_nothing_else():
    before = example_run("dev")
    steps = plan(before, _again("dev", before, ecs={"logRetentionDays": 90}))
    (log_group,) = steps.of_type(LOG_GROUP)
    assert steps.changes() == {log_group.urn: UPDATE}
    assert log_group.changed == ("retentionInDays",)


def test_a_replacement_gets_a_new_identity_that_its_dependents_see():
    before = example_run("dev")
    steps = plan(before, _again("dev", before, ecs={"cpu": 512, "memory": 1024}, loadBalancer={"internal": True}))
    assert steps.ops(NLB) == [REPLACE]
    # The listeners name the load balancer's ARN, which a replacement changes, so they follow it.
    assert steps.ops(LISTENER) == [REPLACE, REPLACE]
    assert all("loadBalancerArn" in s.changed for s in steps.of_type(LISTENER))


def test_resources_the_program_stops_registering_are_deleted_and_new_ones_created():
    ecs = {"cpu": 512, "memory": 1024, "containerInsights": False}
    per_az = _again("dev", None, ecs=ecs, network={"egress": "nat-per-az"})
    single = _again("dev", per_az, ecs=ecs, network={"egress": "nat-single"})
    steps = plan(per_az, single)
    assert steps.ops("aws:ec2/natGateway:NatGateway") == [DELETE, SAME]
    assert steps.ops("aws:ec2/eip:Eip") == [DELETE, SAME]
    assert not steps.by_op(CREATE)
    # And back: what the program registers again is created.
    back = plan(single, _again("dev", single, ecs=ecs, network={"egress": "nat-per-az"}))
    assert back.ops("aws:ec2/natGateway:NatGateway") == [CREATE, SAME]
