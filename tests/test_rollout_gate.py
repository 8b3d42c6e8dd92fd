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
from tools.plan import CREATE, DELETE, REPLACE, UPDATE, plan
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


def _with_gate(stack: str, mode: str, prior=None):
    config, secrets, project = read_stack_config(stack)
    config["kong-aws:ecs"] = json.dumps({**json.loads(config.get("kong-aws:ecs", "{}")), "rolloutGate": mode})
    return run_program(PROJECT_ROOT / "__main__.py", config, secrets, project=project, stack=stack, prior=prior)


def test_switching_the_gate_off_and_back_touches_only_the_gate(monkeypatch):
    """Day 2 on a managed control plane: full -> ecs drops the Konnect check in place, -> off
    deletes the gate, and -> full creates it again; the service and what it runs stay as they are."""
    monkeypatch.setenv("KONNECT_TOKEN", "[secret]")
    full = example_run("konnect-managed")
    (gate,) = full.of_type(GATE)
    assert gate.inputs["konnect"] is not None
    ecs_only = _with_gate("konnect-managed", "ecs", prior=full)
    steps = plan(full, ecs_only)
    assert steps.changes() == {gate.urn: UPDATE} and "konnect" in steps.of_type(GATE)[0].changed
    assert ecs_only.one(GATE).inputs.get("konnect") is None
    off = _with_gate("konnect-managed", "off", prior=ecs_only)
    assert plan(ecs_only, off).changes() == {gate.urn: DELETE}
    again = _with_gate("konnect-managed", "full", prior=off)
    assert plan(off, again).changes() == {gate.urn: CREATE}


def test_the_gate_signs_through_the_stacks_profile_and_role_chain(monkeypatch, tmp_path):
    """With ``aws:profile`` and two ``aws:assumeRoles``, the ECS client is signed with the second
    role's session, got with the first role's; every STS request is checked by a Stubber against
    botocore's STS model."""
    from components import rollout_gate

    (tmp_path / "config").write_text("[profile ops]\nregion = us-west-2\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    roles = [{"roleArn": "arn:aws:iam::111111111111:role/hub", "sessionName": "ci"},
             {"roleArn": "arn:aws:iam::123456789012:role/kong-aws-deploy", "externalId": "kong"}]
    made: list[tuple[str, dict]] = []
    original = botocore.session.Session.create_client

    def create_client(self, service, region_name=None, **keys):
        assert self.profile == "ops"
        made.append((service, keys))
        client = original(self, service, region_name=region_name,
                          aws_access_key_id=keys.get("aws_access_key_id", "AKIAOFFLINE"),
                          aws_secret_access_key=keys.get("aws_secret_access_key", "offline"),
                          aws_session_token=keys.get("aws_session_token"))
        if service == "sts":
            hop = sum(1 for s, _ in made if s == "sts")
            role = roles[hop - 1]
            expected = {"RoleArn": role["roleArn"], "RoleSessionName": role.get("sessionName", "kong-aws-rollout-gate"),
                        **({"ExternalId": role["externalId"]} if "externalId" in role else {})}
            stubber = Stubber(client)
            stubber.add_response("assume_role", {"Credentials": {
                "AccessKeyId": f"ASIAHOP{hop}EXAMPLE000", "SecretAccessKey": f"secret-{hop}", "SessionToken": f"token-{hop}",
                "Expiration": STARTED}}, expected)
            stubber.activate()
            monkeypatch.setattr(client, "_stubber", stubber, raising=False)
        return client

    monkeypatch.setattr(botocore.session.Session, "create_client", create_client)
    rollout_gate._ecs_client({**PROPS, "profile": "ops", "assume_roles": roles})
    assert [(service, keys.get("aws_session_token")) for service, keys in made] == [
        ("sts", None), ("sts", "token-1"), ("ecs", "token-2")]
    assert made[-1][1]["aws_access_key_id"] == "ASIAHOP2EXAMPLE000"


def test_the_program_hands_the_gate_the_providers_settings(monkeypatch):
    config, secrets, project = read_stack_config("dev")
    roles = [{"roleArn": "arn:aws:iam::123456789012:role/kong-aws-deploy", "externalId": "kong", "durationSeconds": 900}]
    config.update({"aws:profile": "ops", "aws:assumeRoles": json.dumps(roles)})
    gate = run_program(PROJECT_ROOT / "__main__.py", config, secrets, project=project, stack="dev").one(GATE)
    assert gate.inputs["profile"] == "ops"
    assert gate.inputs["assume_roles"] == [{"roleArn": roles[0]["roleArn"], "externalId": "kong"}]


@pytest.mark.parametrize("text", ["[{", '{"roleArn": "arn:aws:iam::123456789012:role/x"}', '[{"externalId": "x"}]'])
def test_an_unusable_assume_roles_setting_is_refused_with_the_key_named(text):
    config, secrets, project = read_stack_config("dev")
    config["aws:assumeRoles"] = text
    with pytest.raises(Exception, match=r"aws:assumeRoles"):
        run_program(PROJECT_ROOT / "__main__.py", config, secrets, project=project, stack="dev")
