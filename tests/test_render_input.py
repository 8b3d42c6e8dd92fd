"""What ``python -m tools.render`` reads: stack files it refuses cleanly, the example stacks it
validates, and the fake cloud's availability zones (tools/render.py, tools/mocks.py).

Bad input ends in exit status 2 with the file and line or the key named, no traceback, and
nothing written.
"""

from __future__ import annotations

import shutil

import pulumi
import pulumi_aws as aws
import pytest

from components.config import ConfigError
from tools import render
from tools.mocks import PROJECT_ROOT, FakeCloud, UnknownToFakeCloud, run_program

GOOD_STACK = "config:\n  aws:region: us-west-2\n  kong-aws:kong:\n    version: 3.10.0.1\n"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder with the real Pulumi.yaml; ``project(name, text)`` writes a stack file.
    ``tools.render.main`` renders from it."""
    shutil.copy(PROJECT_ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    monkeypatch.setattr(render, "PROJECT_ROOT", tmp_path)

    def write(name: str, text: str):
        (tmp_path / f"Pulumi.{name}.yaml").write_text(text, encoding="utf-8")
        return tmp_path

    return write


# (stack file text, the line it names, words the message has)
BAD_FILES = {
    "syntax": ("config:\n  kong-aws:kong: {version: [3.10\n", "line 3", "not valid YAML"),
    "tab-indent": ("config:\n\tkong-aws:kong:\n    version: 3.10.0.1\n", "line 2", "tabs"),
    "tab-in-section": ("config:\n  kong-aws:kong:\n\t  version: 3.10.0.1\n", "line 3", "tabs"),
    "config-is-a-list": ("# comment\nconfig:\n  - kong-aws:kong\n  - aws:region\n", "line 3", "config: must be a mapping"),
    "config-is-text": ("config: kong-aws:mode=hybrid-eks\n", "line 1", "config: must be a mapping"),
    "document-is-a-list": ("- config:\n    aws:region: us-west-2\n", "line 1", "must be a mapping"),
    "document-is-text": ("aws:region=us-west-2\n", "line 1", "must be a mapping"),
}


@pytest.mark.parametrize("text, line, says", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_broken_stack_file_names_the_file_and_line(project, text, line, says):
    root = project("bad", text)
    with pytest.raises(ConfigError) as info:
        render.read_stack_config("bad", root)
    (problem,) = info.value.problems
    assert problem.startswith(f"Pulumi.bad.yaml, {line}") and says in problem


@pytest.mark.parametrize("text", [v[0] for v in BAD_FILES.values()], ids=BAD_FILES.keys())
def test_render_refuses_a_broken_stack_file_with_status_2_and_writes_nothing(project, capsys, text):
    root = project("bad", text)
    assert render.main(["bad"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: stack bad: invalid stack configuration:") and "Pulumi.bad.yaml, line" in err
    assert "Traceback" not in err and not (root / "build").exists()


def test_render_refuses_bad_config_naming_the_key_and_the_allowed_values(project, capsys):
    root = project("bad", GOOD_STACK + "  kong-aws:network:\n    availabilityZoneCount: 5\n"
                          "  kong-aws:loadBalancer:\n    tlsMode: one\n"
                          "  kong-aws:konnect:\n    controlPlaneEndpoint: us.api.konghq.com\n"
                          "    telemetryEndpoint: x.us.tp0.konghq.com\n")
    assert render.main(["bad"]) == 2
    err = capsys.readouterr().err
    assert "kong-aws:loadBalancer.tlsMode: got 'one'; Input should be 'passthrough' or 'terminate'" in err
    assert "kong-aws:network.availabilityZoneCount: got 5; region us-west-2 offers 4 Availability Zones" in err
    assert "kong-aws:konnect.controlPlaneEndpoint: got 'us.api.konghq.com'; us.api.konghq.com is the Konnect API" in err
    assert "Traceback" not in err and not (root / "build").exists()


def test_a_stack_file_without_config_or_with_a_yaml_date_is_read(project):
    root = project("empty", "# nothing yet\n")
    config, secret_keys, name = render.read_stack_config("empty", root)
    assert name == "kong-aws" and config == {"kong-aws:mode": "konnect-ecs"} and not secret_keys
    root = project("dated", GOOD_STACK + "  kong-aws:certificate:\n    organization: 2026-12-01\n")
    config, _, _ = render.read_stack_config("dated", root)
    assert config["kong-aws:certificate"] == '{"organization": "2026-12-01"}'


@pytest.mark.parametrize("stack, mode", [("dev", "konnect-ecs"), ("dev-eks", "hybrid-eks"),
                                         ("konnect-managed", "konnect-ecs")])
def test_every_example_stack_passes_the_config_check(stack, mode, monkeypatch):
    from components.config import TOKEN_ENV, load_stack_config

    monkeypatch.setenv(TOKEN_ENV, "kpat_" + "x" * 40)
    config, secret_keys, _ = render.read_stack_config(stack)
    render.validate(config, secret_keys)
    prefix = "kong-aws:"
    raw = {k[len(prefix):]: v for k, v in config.items() if k.startswith(prefix)}
    loaded = load_stack_config(raw, {k[len(prefix):] for k in secret_keys}, region=config["aws:region"],
                               env_token="kpat_" + "x" * 40)
    assert loaded.mode == mode


# ---------------------------------------------------------------------------------------------
# The fake cloud's availability zones: the region's own (components/aws_facts.py)

def _zones(region: str) -> tuple[list[str], list[str]]:
    def program():
        zones = aws.get_availability_zones(state="available")
        pulumi.export("names", zones.names)
        pulumi.export("ids", zones.zone_ids)

    result = run_program(program, {"aws:region": region})
    return result.outputs["names"][0], result.outputs["ids"][0]


def test_the_fake_cloud_answers_each_regions_own_zones_and_ids():
    assert _zones("ap-northeast-1") == (["ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"],
                                        ["apne1-az4", "apne1-az1", "apne1-az2"])
    names, ids = _zones("us-east-1")
    assert names == [f"us-east-1{c}" for c in "abcdef"] and sorted(ids) == [f"use1-az{n}" for n in range(1, 7)]
    names, ids = _zones("eu-west-2")
    assert names == ["eu-west-2a", "eu-west-2b", "eu-west-2c"] and all(i.startswith("euw2-az") for i in ids)


def test_the_fake_cloud_refuses_a_region_it_does_not_know():
    cloud = FakeCloud("xx-nowhere-1")
    with pytest.raises(UnknownToFakeCloud, match="xx-nowhere-1"):
        cloud.call(pulumi.runtime.MockCallArgs("aws:index/getAvailabilityZones:getAvailabilityZones",
                                               {"state": "available"}, ""))
