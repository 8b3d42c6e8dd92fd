"""DataPlaneTaskDefinition (components/ecs_task_definition.py) on its own, under the mocks.

The whole konnect-ecs mode is checked in tests/test_konnect_ecs.py; here the component is used as a
library user would: its own Args, no stack config, checked against botocore's ECS model.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_tls as tls
import pytest
from pulumi.runtime.rpc import is_rpc_secret

from components.ecs_task_definition import (CONTAINER_NAME, TASK_DEFINITION_DEFAULTS, CpuArchitecture,
                                            DataPlaneTaskDefinition, DataPlaneTaskDefinitionArgs)
from tests.conftest import self_signed_pem, validate_aws_request
from tools.mocks import RunResult, run_program
from tools.render import task_definition_document, whole_numbers

TASK = "aws:ecs/taskDefinition:TaskDefinition"
VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
CERT, KEY = self_signed_pem()


def _run(pin: bool = False, **changes) -> RunResult:
    def program() -> None:
        # Any resource's output stands in for the pin's id (the Konnect pin is tested in test_konnect_api).
        pinned = pulumi.Output.from_input("pin-0123") if not pin else tls.PrivateKey("pin", algorithm="ECDSA", ecdsa_curve="P256").id
        args = DataPlaneTaskDefinitionArgs(
            kong={"version": "3.10.0.1", "data_plane_labels": {"team": "edge"}},
            control_plane_endpoint="https://0123456789.us.cp0.konghq.com",
            telemetry_endpoint="0123456789.us.tp0.konghq.com:443",
            cert_pem=CERT, private_key_pem=KEY, region="eu-west-1", pinned_certificate_id=pinned, **changes)
        task = DataPlaneTaskDefinition("dp", args)
        pulumi.export("arn", task.task_definition_arn)
        pulumi.export("logs", task.log_group_name)

    return run_program(program, {"aws:region": "eu-west-1"})


def _containers(result: RunResult) -> list[dict]:
    return json.loads(result.one(TASK).inputs["containerDefinitions"])


def test_defaults_make_a_valid_register_task_definition_request(botocore_loader):
    result = _run()
    inputs = whole_numbers(result.one(TASK).inputs)
    document = task_definition_document(inputs)
    assert validate_aws_request(botocore_loader, "ecs", "RegisterTaskDefinition", document) == []
    assert (document["cpu"], document["memory"]) == (str(TASK_DEFINITION_DEFAULTS["cpu"]),
                                                      str(TASK_DEFINITION_DEFAULTS["memory"]))
    assert document["runtimePlatform"]["cpuArchitecture"] == CpuArchitecture.X86_64.value
    assert document["family"] == "kong-aws-test-dp" and result.outputs["logs"][0] == "/kong-aws/test/dp"


def test_the_key_reaches_the_container_only_through_the_secret():
    result = _run()
    (container,) = _containers(result)
    assert container["name"] == CONTAINER_NAME
    assert KEY not in json.dumps(container) and "PRIVATE KEY" not in json.dumps(container)
    secrets = {s["name"]: s["valueFrom"] for s in container["secrets"]}
    assert set(secrets) == {"KONG_CLUSTER_CERT", "KONG_CLUSTER_CERT_KEY"}
    assert all(":cert::" in v or ":key::" in v for v in secrets.values())
    assert is_rpc_secret(result.one(VERSION).inputs["secretString"])


def test_the_certificate_is_stored_only_after_its_pin():
    result = _run(pin=True)
    (pin,) = result.of_type("tls:index/privateKey:PrivateKey")
    assert pin.urn in result.one(VERSION).dependencies


@pytest.mark.parametrize("cpu, workers", [(1024, "1"), (4096, "4")])
def test_cpu_decides_the_worker_count(cpu, workers):
    environment = {e["name"]: e["value"] for e in _containers(_run(cpu=cpu, memory=cpu * 2))[0]["environment"]}
    assert environment["KONG_NGINX_WORKER_PROCESSES"] == workers
    assert environment["KONG_CLUSTER_DP_LABELS"] == "team:edge"
    assert environment["KONG_CLUSTER_CONTROL_PLANE"] == "0123456789.us.cp0.konghq.com:443"


@pytest.mark.parametrize("proxy_protocol", [False, True], ids=["plain", "proxy-protocol"])
def test_the_agent_scrapes_a_loopback_listener_without_proxy_protocol(proxy_protocol):
    import yaml

    from components.kong_facts import METRICS_PORT, PROXY_PROTOCOL_FLAG, STATUS_PORT
    from components.metrics_agent import AGENT_CONTAINER, OTEL_CONFIG_ENV, SCRAPE_CONFIG_ENV

    extra = {"proxy_protocol": True, "trusted_ips": ["10.0.0.0/16"]} if proxy_protocol else {}
    kong, agent = _containers(_run(kong_metrics=True, **extra))
    assert agent["name"] == AGENT_CONTAINER
    env = {e["name"]: e["value"] for e in kong["environment"]}
    listeners = {words[0]: words[1:] for words in (entry.split() for entry in env["KONG_STATUS_LISTEN"].split(","))}
    # The load balancer's health checks keep the status listener (with the header when it sends one).
    assert (PROXY_PROTOCOL_FLAG in listeners[f"0.0.0.0:{STATUS_PORT}"]) is proxy_protocol
    scrape = yaml.safe_load({e["name"]: e["value"] for e in agent["environment"]}[SCRAPE_CONFIG_ENV])
    (target,) = scrape["scrape_configs"][0]["static_configs"][0]["targets"]
    assert target == f"127.0.0.1:{METRICS_PORT}" and listeners[target] == []
    # The latency scrape reads the same listener; the port is not published (loopback only).
    otel = yaml.safe_load({e["name"]: e["value"] for e in agent["environment"]}[OTEL_CONFIG_ENV])
    (receiver,) = otel["receivers"].values()
    assert receiver["config"]["scrape_configs"][0]["static_configs"][0]["targets"] == [target]
    assert METRICS_PORT not in {m["containerPort"] for m in kong["portMappings"]}
