"""The shared mock runtime (tools/mocks.py) behaves as the engine would where the tests rely on it."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_tls as tls
import pytest
from pulumi.runtime import rpc

from tools.mocks import ACCOUNT_ID, FakeCloud, UnknownToFakeCloud, mask_secrets, run_program


def test_an_unknown_invoke_fails_loudly():
    cloud = FakeCloud("us-west-2")
    with pytest.raises(UnknownToFakeCloud, match="aws:index/getRegion:getRegion"):
        cloud.call(pulumi.runtime.MockCallArgs("aws:index/getRegion:getRegion", {}, ""))


def test_known_invokes_answer_the_stacks_region_and_account():
    def program():
        zones = aws.get_availability_zones(state="available")
        pulumi.export("zones", zones.names)
        pulumi.export("account", aws.get_caller_identity().account_id)

    result = run_program(program, {"aws:region": "eu-central-1"})
    assert result.outputs["zones"][0] == ["eu-central-1a", "eu-central-1b", "eu-central-1c"]
    assert result.outputs["account"][0] == ACCOUNT_ID


def test_outputs_the_provider_marks_secret_are_secret_as_under_the_engine():
    # pulumi-tls declares privateKeyPem an additional secret output; the engine marks it secret.
    def program():
        key = tls.PrivateKey("k", algorithm="ECDSA", ecdsa_curve="P384")
        pulumi.export("key", key.private_key_pem)
        pulumi.export("public", key.public_key_pem)

    result = run_program(program, {"aws:region": "us-west-2"})
    assert result.outputs["key"][1] is True and "PRIVATE KEY" in result.outputs["key"][0]
    assert result.outputs["public"][1] is False


def test_mask_secrets_reaches_nested_values():
    value = {"a": [1, rpc.wrap_rpc_secret("s")], "b": rpc.wrap_rpc_secret({"c": 1})}
    assert mask_secrets(value) == {"a": [1, "[secret]"], "b": "[secret]"}
