"""The benchmark's import floor (tools/bench.py) names real SDK classes and invokes; nothing is timed."""

from __future__ import annotations

import json

import pytest

from tools import bench, golden


def test_tokens_map_to_sdk_classes_and_functions():
    assert bench.sdk_symbol("aws:ecs/service:Service") == ("pulumi_aws.ecs", "Service")
    assert bench.sdk_symbol("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") == \
        ("pulumi_aws.vpc", "SecurityGroupIngressRule")
    assert bench.sdk_symbol("kubernetes:helm.sh/v3:Release") == ("pulumi_kubernetes.helm.v3", "Release")
    assert bench.sdk_symbol("tls:index/privateKey:PrivateKey") == ("pulumi_tls", "PrivateKey")
    assert bench.sdk_symbol("random:index/randomPassword:RandomPassword") == ("pulumi_random", "RandomPassword")
    assert bench.sdk_symbol("pulumi:providers:kubernetes") == ("pulumi_kubernetes", "Provider")
    assert bench.sdk_symbol("pulumi-python:dynamic/konnect:ControlPlane") == ("pulumi.dynamic", "Resource")
    assert bench.sdk_symbol("aws:index/getCallerIdentity:getCallerIdentity", invoke=True) == \
        ("pulumi_aws", "get_caller_identity")
    assert bench.sdk_symbol("aws:iam/getSessionContext:getSessionContext", invoke=True) == \
        ("pulumi_aws.iam", "get_session_context")
    assert bench.sdk_symbol("pulumi:pulumi:Stack") is None
    assert bench.sdk_symbol("kong-aws:index:Network") is None
    with pytest.raises(LookupError):
        bench.sdk_symbol("aws:ecs/noSuchThing:NoSuchThing")


def test_import_floor_of_the_dev_stack_is_a_program_that_imports():
    # The resource types of the dev stack's committed render (tests/golden/dev), and its invokes.
    types = [r["type"] for r in json.loads((golden.GOLDEN_DIR / "dev" / "resources.json").read_text())]
    code = bench.import_floor_code(types, ["aws:index/getAvailabilityZones:getAvailabilityZones",
                                           "aws:index/getCallerIdentity:getCallerIdentity"])
    assert code.startswith("import pulumi.runtime.mocks\n")
    assert "from pulumi_aws.ecs import " in code and "TaskDefinition" in code
    assert "from pulumi_aws import get_availability_zones, get_caller_identity\n" in code
    assert "kong-aws" not in code
    exec(compile(code, "<import floor of dev>", "exec"), {})
