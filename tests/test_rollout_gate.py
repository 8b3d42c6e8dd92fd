"""The rollout gate (components/rollout_gate.py): `pulumi up` fails, before Pulumi deletes what a
deployment replaced, unless the new revision runs and its data planes reached Konnect.

Provider-level tests drive the real ECS client of botocore with a Stubber (every request is checked
against botocore's ECS model) and Konnect's nodes API through an httpx transport that answers with
bodies valid against Konnect's spec (../shared/reference, ``ListNodesResponse``). Program-level tests
check where the gate stands in the graph of each mode and what a certificate rotation plans.
"""

from __future__ import annotations

import datetime
import json

import botocore.session
import httpx
import jsonschema
import pytest
from botocore.stub import Stubber

from components.konnect_api import KonnectClient
from components.rollout_gate import (ROLLOUT_GATE_DEFAULTS, RolloutGateFailed, RolloutGateProvider, list_nodes,
                                     wait_for_rollout)
from tests.conftest import example_run, reference_json
from pulumi.runtime.rpc import is_rpc_secret

from tools.mocks import PROJECT_ROOT, plain_values, run_program
from tools.plan import REPLACE, UPDATE, plan
from tools.render import read_stack_config

GATE = "pulumi-python:dynamic/ecs:RolloutGate"
SERVICE = "aws:ecs/service:Service"
NODES_SCHEMA = reference_json("konnect-control-planes-subset.json")["schemas"]["ListNodesResponse"]
NEW = "arn:aws:ecs:us-west-2:123456789012:task-definition/kong-aws-dev-data-plane:8"
OLD = "arn:aws:ecs:us-west-2:123456789012:task-definition/kong-aws-dev-data-plane:7"
STARTED = datetime.datetime(2026, 12, 1, 9, 0, tzinfo=datetime.timezone.utc)
PROPS = {"region": "us-west-2", "cluster": "kong-service-cluster-1a2b3c4", "service": "kong-service-service-5d6e7f8",
         "task_definition_arn": NEW, "timeout_seconds": 300}


class Clock:
    """A clock that moves only when the gate sleeps."""

    def __init__(self, now: float = STARTED.timestamp() + 60):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _deployment(task_definition: str, state: str, running: int, desired: int = 2, reason: str = "") -> dict:
    deployment = {"id": "ecs-svc/1234567890123456789", "status": "PRIMARY", "taskDefinition": task_definition,
                  "desiredCount": desired, "runningCount": running, "pendingCount": desired - running,
                  "createdAt": STARTED, "rolloutState": state}
    if reason:
        deployment["rolloutStateReason"] = reason
    return deployment


def _ecs(answers: list[list[dict]]):
    client = botocore.session.get_session().create_client(
        "ecs", region_name="us-west-2", aws_access_key_id="AKIAOFFLINE", aws_secret_access_key="offline")
    stubber = Stubber(client)
    for deployments in answers:
        stubber.add_response("describe_services", {"services": [{"serviceName": PROPS["service"],
                                                                  "deployments": deployments}]},
                             {"cluster": PROPS["cluster"], "services": [PROPS["service"]]})
    stubber.activate()
    return client, stubber


def test_a_completed_rollout_of_the_new_revision_passes():
    client, stubber = _ecs([
        [_deployment(NEW, "IN_PROGRESS", 1), {**_deployment(OLD, "COMPLETED", 2), "status": "ACTIVE"}],
        [_deployment(NEW, "COMPLETED", 2)],
    ])
    clock = Clock()
    outs = wait_for_rollout(client, PROPS, clock=clock, sleep=clock.sleep)
    stubber.assert_no_pending_responses()
    assert outs == {"deployment_id": "ecs-svc/1234567890123456789", "running_count": 2, "connected_nodes": 0}


def test_a_rollback_by_the_circuit_breaker_fails_the_update_with_what_was_seen():
    client, _ = _ecs([[_deployment(OLD, "IN_PROGRESS", 2)]])
    clock = Clock()
    with pytest.raises(RolloutGateFailed) as error:
        wait_for_rollout(client, PROPS, clock=clock, sleep=clock.sleep)
    assert "rolled the deployment back" in str(error.value) and OLD in str(error.value) and NEW in str(error.value)


def test_a_failed_deployment_fails_the_update():
    client, _ = _ecs([[_deployment(NEW, "FAILED", 0, reason="ECS deployment circuit breaker: tasks failed to start.")]])
    clock = Clock()
    with pytest.raises(RolloutGateFailed, match="circuit breaker: tasks failed to start"):
        wait_for_rollout(client, PROPS, clock=clock, sleep=clock.sleep)


def test_a_rollout_that_does_not_finish_in_time_fails_with_the_last_state():
    polls = PROPS["timeout_seconds"] // ROLLOUT_GATE_DEFAULTS["poll_seconds"] + 1
    client, _ = _ecs([[_deployment(NEW, "IN_PROGRESS", 1)]] * polls)
    clock = Clock()
    with pytest.raises(RolloutGateFailed, match=r"timed out after 300 s .* IN_PROGRESS, 1/2 tasks running"):
        wait_for_rollout(client, PROPS, clock=clock, sleep=clock.sleep)


def _node(node_id: str, created: float, last_ping: float) -> dict:
    return {"id": node_id, "version": "3.10.0.1", "hostname": f"ip-10-0-8-{node_id[-1]}.ec2.internal",
            "last_ping": int(last_ping), "type": "kong-proxy", "created_at": int(created), "updated_at": int(last_ping),
            "config_hash": "0" * 32, "compatibility_status": {"state": "COMPATIBILITY_STATE_FULLY_COMPATIBLE"}}


def _konnect(pages: list[list[dict]]) -> tuple[KonnectClient, list[httpx.Request]]:
    """A Konnect that answers the nodes list in ``pages`` (one list per call), each body valid
    against the spec's ListNodesResponse."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = {"items": pages[min(len(seen), len(pages)) - 1], "page": {"total_count": 2}}
        jsonschema.validate(body, NODES_SCHEMA)
        return httpx.Response(200, json=body)

    return KonnectClient("https://us.api.konghq.com", "kpat_" + "x" * 40, transport=httpx.MockTransport(answer)), seen


def test_with_konnect_the_gate_waits_for_the_new_data_planes_to_ping():
    client, _ = _ecs([[_deployment(NEW, "COMPLETED", 2)]])
    clock = Clock()
    old = _node("node-old-1", STARTED.timestamp() - 86400, clock.now - 5)  # a data plane of the old revision
    konnect, requests = _konnect([[old], [old, _node("node-new-1", clock.now, clock.now)],
                                  [old, _node("node-new-1", clock.now, clock.now + 15),
                                   _node("node-new-2", clock.now + 15, clock.now + 15)]])
    outs = wait_for_rollout(client, PROPS, lambda: list_nodes(konnect, "cp-1"), clock=clock, sleep=clock.sleep)
    assert outs["connected_nodes"] == 2 and len(requests) == 3
    assert requests[0].url.path == "/v2/control-planes/cp-1/nodes"


def test_data_planes_that_never_reach_konnect_fail_the_update():
    client, _ = _ecs([[_deployment(NEW, "COMPLETED", 2)]])
    clock = Clock()
    konnect, _ = _konnect([[]])
    with pytest.raises(RolloutGateFailed, match="did not reach Konnect .* 0 of 2 connected.*pinned"):
        wait_for_rollout(client, PROPS, lambda: list_nodes(konnect, "cp-1"), clock=clock, sleep=clock.sleep)


def test_nodes_are_read_across_pages():
    pages = iter([{"items": [_node("node-1", 0, 0)], "page": {"next": "/v2/control-planes/cp-1/nodes?page%5Bafter%5D=abc"}},
                  {"items": [_node("node-2", 0, 0)], "page": {}}])
    requests: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        body = next(pages)
        jsonschema.validate(body, NODES_SCHEMA)
        return httpx.Response(200, json=body)

    client = KonnectClient("https://us.api.konghq.com", "kpat_" + "x" * 40, transport=httpx.MockTransport(answer))
    assert [n["id"] for n in list_nodes(client, "cp-1")] == ["node-1", "node-2"]
    assert requests[1].url.params["page[after]"] == "abc"


def test_any_change_is_an_update_of_the_gate_never_a_replacement():
    provider = RolloutGateProvider()
    olds = {**PROPS, "task_definition_arn": OLD, "deployment_id": "ecs-svc/1"}
    diff = provider.diff("c/s", olds, PROPS)
    assert diff.changes is True and diff.replaces == []
    assert provider.diff("c/s", {**PROPS, "deployment_id": "x"}, PROPS).changes is False


# --- where the gate stands in each mode ---------------------------------------------------------

def test_with_a_managed_control_plane_the_gate_follows_the_service_and_asks_konnect():
    result = example_run("konnect-managed")
    gate = result.one(GATE)
    service = result.one(SERVICE)
    assert service.urn in gate.dependencies
    plane = result.one("pulumi-python:dynamic/konnect:ControlPlane")
    konnect = plain_values(gate.inputs["konnect"])
    assert konnect["control_plane_id"] == plane.outputs["controlPlaneId"] and konnect["api_url"].startswith("https://")
    assert is_rpc_secret(gate.inputs["konnect"])  # the token inside keeps the whole check secret
    assert gate.inputs["task_definition_arn"] == result.one("aws:ecs/taskDefinition:TaskDefinition").outputs["arn"]


def test_without_a_managed_control_plane_the_gate_checks_the_rollout_only():
    assert example_run("dev").one(GATE).inputs.get("konnect") is None


def _rotated(stack: str, **sections):
    before = example_run(stack)
    config, secrets, project = read_stack_config(stack)
    config.update({f"kong-aws:{key}": json.dumps(value) for key, value in sections.items()})
    monkey = dict(config)
    after = run_program(PROJECT_ROOT / "__main__.py", monkey, secrets, project=project, stack=stack, prior=before)
    return before, after


def test_a_certificate_rotation_ends_with_the_gate(monkeypatch):
    """A new certificate replaces the pin, the secret version and the task definition, updates the
    service, and then the gate, which waits for the new revision: Pulumi deletes the replaced ones
    only after the last step of the update succeeded (Pulumi docs, "How Pulumi works": deletions
    of replaced resources run at the end)."""
    monkeypatch.setenv("KONNECT_TOKEN", "[secret]")
    before, after = _rotated("konnect-managed", certificate={"validityDays": 730})
    steps = plan(before, after)
    assert steps.ops("pulumi-python:dynamic/konnect:PinnedDataPlaneCertificate") == [REPLACE]
    assert steps.ops("aws:secretsmanager/secretVersion:SecretVersion") == [REPLACE]
    assert steps.ops("aws:ecs/taskDefinition:TaskDefinition") == [REPLACE]
    assert steps.ops(SERVICE) == [UPDATE]
    assert steps.ops(GATE) == [UPDATE] and "task_definition_arn" in steps.of_type(GATE)[0].changed


@pytest.mark.parametrize("mode", ["off"])
def test_the_gate_can_be_switched_off(mode, monkeypatch):
    config, secrets, project = read_stack_config("dev")
    config["kong-aws:ecs"] = json.dumps({"cpu": 512, "memory": 1024, "rolloutGate": mode})
    result = run_program(PROJECT_ROOT / "__main__.py", config, secrets, project=project, stack="dev")
    assert result.of_type(GATE) == []
