"""The whole ``dev`` stack, rendered offline by ``python -m tools.render`` from Pulumi.dev.yaml.

The rendered files are checked against the real references: botocore's ECS model, Kong's
configuration reference, and the hand-made task definition of seed 000 that this stack replaces.
"""

from __future__ import annotations

import json
import re

import pytest
from pulumi.runtime import rpc

from tests.conftest import SEEDS, example_render, reference_json, validate_aws_request
from tools import render
from tools.mocks import PROJECT_ROOT, SECRET_MASK


@pytest.fixture(scope="module")
def dev(tmp_path_factory):
    """Render the dev stack once for this module: (output folder, run result)."""
    out = tmp_path_factory.mktemp("render") / "dev"
    result = example_render("dev", out)
    return out, result


def seed_000_task_definition() -> dict:
    """The task definition JSON that seed 000 pasted into the ECS console by hand."""
    text = next(SEEDS.glob("000_*.txt")).read_text()
    block = re.search(r"```json\n(\{.*?\})\n```", text, re.S).group(1)
    return json.loads(block)


def test_render_writes_the_three_artifacts(dev):
    out, _ = dev
    assert sorted(p.name for p in out.iterdir()) == ["ecs", "outputs.json", "resources.json"]
    assert [p.name for p in (out / "ecs").iterdir()] == ["kong-aws-dev-data-plane.json"]


def test_resources_json_has_one_object_per_registration_with_its_links(dev):
    out, result = dev
    resources = json.loads((out / "resources.json").read_text())
    assert len(resources) == len(result.registrations)
    urns = {r["urn"] for r in resources}
    assert len(urns) == len(resources)
    for r in resources:
        assert set(r) == {"urn", "type", "name", "parent", "custom", "inputs", "dependencies"}
        assert r["urn"].startswith("urn:pulumi:dev::kong-aws::") and r["urn"].endswith("::" + r["name"])
        assert r["parent"] is None or r["parent"] in urns
        assert set(r["dependencies"]) <= urns
    stack = [r for r in resources if r["type"] == "pulumi:pulumi:Stack"]
    assert len(stack) == 1 and stack[0]["parent"] is None
    # Every other resource sits under the stack or one of the components.
    assert all(r["parent"] for r in resources if r["type"] != "pulumi:pulumi:Stack")
    task = next(r for r in resources if r["type"] == "aws:ecs/taskDefinition:TaskDefinition")
    role = next(r for r in resources if r["type"] == "aws:iam/role:Role")
    assert role["urn"] in task["dependencies"]
    assert f":role/{role['name']}-" in task["inputs"]["executionRoleArn"]


def test_no_key_or_secret_appears_in_the_clear(dev):
    out, result = dev
    texts = [p.read_text() for p in (out / "resources.json", out / "outputs.json", *(out / "ecs").iterdir())]
    key_reg = next(r for r in result.of_type("tls:index/selfSignedCert:SelfSignedCert")
                   if r.name == "kong-data-plane-cert-cert")
    key_pem = key_reg.inputs["privateKeyPem"]["value"]  # the real key, as the engine would get it
    body = "".join(key_pem.strip().splitlines()[1:-1])
    assert len(body) > 100
    for text in texts:
        assert "PRIVATE KEY" not in text
        assert body[:64] not in text.replace("\\n", "")
    resources = json.loads(texts[0])
    version = next(r for r in resources if r["type"] == "aws:secretsmanager/secretVersion:SecretVersion")
    assert version["inputs"]["secretString"] == SECRET_MASK
    cert = next(r for r in resources if r["type"] == "tls:index/selfSignedCert:SelfSignedCert")
    assert cert["inputs"]["privateKeyPem"] == SECRET_MASK


def test_outputs_give_the_operator_what_to_check_and_pin(dev):
    out, _ = dev
    outputs = json.loads((out / "outputs.json").read_text())
    assert set(outputs) == {"proxyUrl", "proxyHttpsUrl", "curlCheck", "dashboardUrl", "ecsClusterName", "ecsServiceName",
                            "logGroupName", "controlPlaneEndpoint", "telemetryEndpoint",
                            "dataPlaneCertificatePem", "konnectPinInstructions", "imagePullWarning",
                            # manual pinning: the two certificate slots and which one the tasks present
                            "dataPlaneCertificateSha256", "dataPlaneCertificateActiveSlot",
                            "dataPlaneCertificateSlotAPem", "dataPlaneCertificateSlotASha256", "dataPlaneCertificateSlotAExpiry",
                            "dataPlaneCertificateSlotBPem", "dataPlaneCertificateSlotBSha256", "dataPlaneCertificateSlotBExpiry"}
    assert outputs["proxyUrl"].startswith("http://") and ".elb.ap-northeast-1.amazonaws.com" in outputs["proxyUrl"]
    assert outputs["curlCheck"].startswith("curl ") and outputs["proxyUrl"][7:] in outputs["curlCheck"]
    assert "no Route matched" in outputs["curlCheck"]
    # The CloudWatch console page of the stack's dashboard, in the stack's region.
    assert outputs["dashboardUrl"] == ("https://ap-northeast-1.console.aws.amazon.com/cloudwatch/home?"
                                       "region=ap-northeast-1#dashboards/dashboard/kong-aws-dev")
    assert outputs["dataPlaneCertificatePem"].startswith("-----BEGIN CERTIFICATE-----")
    assert "dp-client-certificates" in outputs["konnectPinInstructions"]
    assert outputs["logGroupName"] == "/kong-aws/dev/data-plane"


def test_task_definition_file_is_accepted_by_register_task_definition(dev, botocore_loader):
    out, _ = dev
    doc = json.loads((out / "ecs" / "kong-aws-dev-data-plane.json").read_text())
    assert validate_aws_request(botocore_loader, "ecs", "RegisterTaskDefinition", doc) == []


def test_dev_task_definition_does_everything_seed_000_did_by_hand_and_fixes_its_shortcuts(dev):
    out, _ = dev
    ours = json.loads((out / "ecs" / "kong-aws-dev-data-plane.json").read_text())
    seed = seed_000_task_definition()
    (seed_container,), (container,) = seed["containerDefinitions"], ours["containerDefinitions"]
    seed_env = {e["name"]: e["value"] for e in seed_container["environment"]}
    env = {e["name"]: e["value"] for e in container["environment"]}
    secrets = {s["name"] for s in container["secrets"]}

    # The seed's shortcut: certificate and key in plain environment variables. Ours: secrets only.
    assert {"KONG_CLUSTER_CERT", "KONG_CLUSTER_CERT_KEY"} <= set(seed_env)
    assert secrets == {"KONG_CLUSTER_CERT", "KONG_CLUSTER_CERT_KEY"} and not secrets & set(env)
    for name, value in seed_env.items():
        if name in secrets:
            continue
        assert name in env, f"{name} of seed 000 is missing"
        if "xxxxxxxx" not in value:  # the seed's endpoints are redacted; ours are the stack's
            assert env[name] == value, name
    for name in ("KONG_CLUSTER_CONTROL_PLANE", "KONG_CLUSTER_TELEMETRY_ENDPOINT"):
        assert env[name].endswith(":443") and ".konghq.com" in env[name]

    assert (ours["cpu"], ours["memory"]) == (seed["cpu"], seed["memory"])
    assert ours["requiresCompatibilities"] == seed["requiresCompatibilities"]
    assert ours["networkMode"] == seed["networkMode"]
    assert container["image"].startswith(seed_container["image"] + ".")  # 3.10 -> a pinned 3.10.x
    assert container["logConfiguration"]["options"]["awslogs-region"] == \
        seed_container["logConfiguration"]["options"]["awslogs-region"]
    assert {p["containerPort"] for p in seed_container["portMappings"]} <= \
        {p["containerPort"] for p in container["portMappings"]}


def test_every_rendered_kong_setting_is_in_the_reference(dev):
    out, _ = dev
    (container,) = json.loads((out / "ecs" / "kong-aws-dev-data-plane.json").read_text())["containerDefinitions"]
    known = set(reference_json("kong-gateway-ee-conf/kong-conf-index.json")["params"])
    names = [e["name"] for e in container["environment"]] + [s["name"] for s in container["secrets"]]
    assert [n for n in names if n[5:].lower() not in known] == []


def test_the_command_line_prints_a_table_and_refuses_bad_config(tmp_path, monkeypatch, capsys):
    assert render.main(["dev", "--out", str(tmp_path / "ok")]) == 0
    table = capsys.readouterr().out
    assert re.search(r"^aws:ecs/service:Service\s+1$", table, re.M)
    assert re.search(r"^total\s+\d+$", table, re.M)

    # A copy of the project with a stack file whose CPU/memory pair Fargate refuses.
    root = tmp_path / "project"
    root.mkdir()
    (root / "Pulumi.yaml").write_text((PROJECT_ROOT / "Pulumi.yaml").read_text())
    bad = (PROJECT_ROOT / "Pulumi.dev.yaml").read_text().replace("memory: 1024", "memory: 512")
    (root / "Pulumi.bad.yaml").write_text(bad)
    monkeypatch.setattr(render, "PROJECT_ROOT", root)
    out = tmp_path / "bad"
    assert render.main(["bad", "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert "kong-aws:ecs.memory" in error and "512" in error and "1024" in error
    assert not out.exists()
    assert render.main(["missing"]) == 2


@pytest.mark.parametrize("stack", sorted(p.name[len("Pulumi."):-len(".yaml")]
                                         for p in PROJECT_ROOT.glob("Pulumi.*.yaml")))
def test_every_example_stack_renders_with_no_secret_in_the_clear(stack, tmp_path, monkeypatch, botocore_loader):
    token = "kpat_" + "Zx9Yw8Vu7T" * 4
    monkeypatch.setenv("KONNECT_TOKEN", token)
    result = render.render(stack, tmp_path / stack)
    out = tmp_path / stack
    files = [out / "resources.json", out / "outputs.json",
             *sorted(p for d in ("ecs", "helm") if (out / d).is_dir() for p in (out / d).iterdir())]
    for path in files:
        text = path.read_text()
        assert "PRIVATE KEY" not in text and token not in text, path.name
    for path in sorted((out / "ecs").glob("*.json")):
        assert validate_aws_request(botocore_loader, "ecs", "RegisterTaskDefinition",
                                    json.loads(path.read_text())) == []
    # Inputs the program marked secret are masked, whatever resource carries them.
    resources = json.loads(files[0].read_text())
    by_urn = {r["urn"]: r for r in resources}
    for reg in result.registrations:
        for key, value in reg.inputs.items():
            if rpc.is_rpc_secret(value):
                assert by_urn[reg.urn]["inputs"][key] == SECRET_MASK, (reg.urn, key)
