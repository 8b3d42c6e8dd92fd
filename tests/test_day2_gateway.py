"""Day 2 of the gateway file in the example stacks: what `pulumi up` plans when a team renames a
service in it (konnect-managed), or stops managing the gateway from the stack (both modes).

Each test runs the example stack once more under the mocks, with the committed example's run as
the state, and reads the plan (tools/plan.py). The entity provider's own answers (what replaces an
entity, create-before-delete) are tested against a fake Konnect in tests/test_konnect_entities.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import yaml

from tests.conftest import example_run
from tools.mocks import PROJECT_ROOT, RunResult, run_program
from tools.plan import CREATE, DELETE, REPLACE, UPDATE, plan
from tools.render import read_stack_config

ENTITY = "pulumi-python:dynamic/konnect:GatewayEntity"
EXAMPLE_FILE = PROJECT_ROOT / "gateway" / "konnect-managed.yaml"


def _managed(monkeypatch, document: Optional[dict[str, Any]], folder: Path) -> RunResult:
    """konnect-managed with ``document`` as its gateway file (None: no gateway file), the example's
    run as the state."""
    config, secrets, project = read_stack_config("konnect-managed")
    config.pop("kong-aws:gateway")
    if document is not None:
        path = folder / "gateway.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        config["kong-aws:gateway"] = json.dumps({"configFile": str(path)})
    monkeypatch.setenv("KONNECT_TOKEN", "[secret]")
    return run_program(PROJECT_ROOT / "__main__.py", config, secrets, project=project, stack="konnect-managed",
                       prior=example_run("konnect-managed"))


def _entity_name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def test_renaming_a_service_adds_the_new_one_moves_its_route_and_deletes_the_old_one(monkeypatch, tmp_path):
    document = yaml.safe_load(EXAMPLE_FILE.read_text())
    document["services"][0]["name"] = "httpbin"
    after = _managed(monkeypatch, document, tmp_path)
    steps = plan(example_run("konnect-managed"), after)
    entities = {_entity_name(s.urn): s.op for s in steps.of_type(ENTITY) if s.op != "same"}
    # The service is keyed by its name: a new one (its own id) is created, the route (keyed by its
    # own name) is pointed at it in place, and the old service is deleted; the route's plugin and
    # the global plugin do not change.
    assert entities == {"kong-gateway-service-httpbin": CREATE, "kong-gateway-route-route1": UPDATE,
                        "kong-gateway-service-gateway_service1": DELETE}
    (route,) = [s for s in steps.of_type(ENTITY) if _entity_name(s.urn) == "kong-gateway-route-route1"]
    assert route.changed == ("refs", "refs.service")
    # The route waits for the new service, so Pulumi creates it first and deletes the old one last
    # (deletions come after every create and update of the update).
    new_service = next(r for r in after.registrations if r.name == "kong-gateway-service-httpbin")
    route_reg = next(r for r in after.registrations if r.name == "kong-gateway-route-route1")
    assert new_service.urn in route_reg.dependencies
    # Nothing else of the stack moves.
    assert {steps.steps[urn].type for urn in steps.changes()} == {ENTITY}


def test_removing_the_gateway_file_deletes_the_stacks_entities_and_rolls_the_agent_out(monkeypatch, tmp_path):
    steps = plan(example_run("konnect-managed"), _managed(monkeypatch, None, tmp_path))
    changes = steps.changes()
    deleted = sorted(steps.steps[urn].type for urn, op in changes.items() if op == DELETE)
    # The four entities and their component; the metrics agent's log group and role; the 5xx alarm.
    assert deleted == sorted([ENTITY] * 4 + ["kong-aws:index:KonnectGatewayConfiguration",
                                             "aws:cloudwatch/logGroup:LogGroup", "aws:iam/role:Role",
                                             "aws:iam/rolePolicy:RolePolicy", "aws:cloudwatch/metricAlarm:MetricAlarm"])
    # The tasks lose the agent: a new task definition revision, rolled out by the service (at full
    # capacity) and awaited by the rollout gate; never deleted before its replacement exists.
    replaced = [steps.steps[urn] for urn, op in changes.items() if op == REPLACE]
    assert [s.type for s in replaced] == ["aws:ecs/taskDefinition:TaskDefinition"]
    assert not any(s.delete_first for s in replaced)
    assert sorted(steps.steps[urn].type for urn, op in changes.items() if op == UPDATE) == sorted([
        "aws:ecs/service:Service", "pulumi-python:dynamic/ecs:RolloutGate", "aws:cloudwatch/dashboard:Dashboard"])


def test_removing_the_gateway_file_in_hybrid_eks_stops_the_sync_and_cuts_no_traffic():
    """dev-eks without its gateway file: the decK Job and everything only it needed go; both
    releases are updated in place (rolling), nothing is replaced, and the entities stay in Kong
    (README: keep the file with only `_format_version` for one `up` to delete them first)."""
    config, secrets, project = read_stack_config("dev-eks")
    config.pop("kong-aws:gateway")
    before = example_run("dev-eks")
    after = run_program(PROJECT_ROOT / "__main__.py", config, secrets, project=project, stack="dev-eks", prior=before)
    steps = plan(before, after)
    changes = steps.changes()
    assert not [urn for urn, op in changes.items() if op == REPLACE]
    assert sorted(_entity_name(urn) for urn, op in changes.items() if op == UPDATE) == [
        "kong-hybrid-cp", "kong-hybrid-dp", "kong-monitoring-dashboard"]
    deleted = {steps.steps[urn].type for urn, op in changes.items() if op == DELETE}
    assert {"kubernetes:batch/v1:Job", "kong-aws:index:GatewaySync", "kubernetes:core/v1:Secret",
            "kubernetes:apps/v1:Deployment", "aws:cloudwatch/metricAlarm:MetricAlarm"} <= deleted
    # Nothing the cluster or the database needs goes with it.
    assert not deleted & {"aws:eks/cluster:Cluster", "aws:rds/instance:Instance", "kubernetes:core/v1:Namespace",
                          "kubernetes:apps/v1:StatefulSet", "kubernetes:networking.k8s.io/v1:NetworkPolicy"}
