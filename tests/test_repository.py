"""The repository's promises: the README's commands are the ones CI runs, dependencies are pinned,
and the README's config reference names every key the config model accepts."""

from __future__ import annotations

import re

from components import config
from tests.conftest import example_run, readme_commands, readme_test_command
from tools import config_reference
from tools.mocks import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text()


def test_ci_runs_the_readme_test_command():
    test_command = readme_test_command()
    ci = (PROJECT_ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci
    assert any(c.endswith("-m tools.render dev") for c in readme_commands())


def test_dependencies_are_pinned():
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in (PROJECT_ROOT / name).read_text().splitlines():
            line = line.strip()
            if line and not line.startswith(("#", "-r ")):
                assert re.fullmatch(r"[A-Za-z0-9_.\-]+==[A-Za-z0-9_.+\-]+", line), f"{name}: {line}"


def test_readme_config_reference_is_the_generated_one():
    # The table is generated from the config model and Pulumi.yaml; editing either without
    # `python -m tools.config_reference --write` fails here.
    assert config_reference.readme_block(README) == config_reference.block()
    keys = [row[0] for row in config_reference.rows()]
    for section, model in config_reference.SECTIONS:
        for name, field in model.model_fields.items():
            assert f"kong-aws:{section}.{field.alias or name}" in keys
            assert field.description, f"{section}.{name} has no description"
    assert {k.split(":", 1)[1] for k in keys if k.count(".") == 0 and k.startswith("kong-aws:")} == \
        set(config.KNOWN_KEYS) - {s for s, _ in config_reference.SECTIONS}


def test_license_is_apache_2():
    text = (PROJECT_ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0" in text


def test_runbook_urns_and_outputs_exist_in_a_rendered_stack(tmp_path):
    from tools import render

    runbooks = (PROJECT_ROOT / "docs" / "runbooks.md").read_text()
    result = example_run("dev")
    urns = {r.urn for r in result.registrations}
    named = re.findall(r"urn:pulumi:<stack>::kong-aws::[^'\"\s]+", runbooks)
    assert named and all(u.replace("<stack>", "dev") in urns for u in named)
    # Every `pulumi stack output X` the runbooks use is an output of some example stack.
    outputs = set(result.outputs) | set(example_run("dev-eks").outputs) | set(example_run("konnect-managed").outputs)
    used = set(re.findall(r"pulumi stack output (\w+)", runbooks))
    assert used and used <= outputs, used - outputs
