"""The GitHub Actions workflows: valid for GitHub, no long-lived credentials, OIDC where a cloud
role is assumed, a preview and a deployment for every example stack, and the README's test command.

The workflows cannot run here (no GitHub); these tests check what a broken workflow would get
wrong. The schema is the GitHub workflow schema that check-jsonschema vendors (used offline).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from tests.conftest import readme_test_command
from tools.mocks import PROJECT_ROOT

WORKFLOWS = PROJECT_ROOT / ".github" / "workflows"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"

#: The current major version of pulumi/actions: v7.0.0 (Node 24 runtime) was released 2026-05-01
#: (github.com/pulumi/actions pull request 1407, README switched to v7 in 1408); in July 2026
#: Pulumi's own workflows still called v7 the latest major (pulumi/pulumi-terraform-provider 107).
PULUMI_ACTIONS_MAJOR = 7

#: The secrets a workflow may read. Anything else (an AWS key pair, a Pulumi access token) would
#: be a long-lived credential stored in the repository's settings.
ALLOWED_SECRETS = {"GITHUB_TOKEN", "KONNECT_TOKEN", "SHARED_REPOSITORY_TOKEN"}
LONG_LIVED = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "PULUMI_ACCESS_TOKEN")
ROLE_ACTIONS = ("aws-actions/configure-aws-credentials", "pulumi/auth-actions")


def _load(name: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def _on(workflow: dict[str, Any]) -> dict[str, Any]:
    # PyYAML reads the bare key `on` as the boolean True (YAML 1.1); GitHub reads it as "on".
    return workflow.get("on", workflow.get(True))


def _strings(node: Any) -> Iterator[str]:
    """Every key and value in a parsed workflow that is text."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str):
                yield key
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif isinstance(node, str):
        yield node


def _steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job.get("steps", []) if s.get("uses", "").split("@")[0] == action]


def _pulumi_step(job: dict[str, Any]) -> dict[str, Any]:
    (step,) = _steps_using(job, "pulumi/actions")
    return step


def _example_stacks() -> set[str]:
    return {p.name[len("Pulumi."):-len(".yaml")] for p in PROJECT_ROOT.glob("Pulumi.*.yaml")}


def _readme_test_command() -> str:
    return readme_test_command()


def _check_jsonschema(schema: str, *files: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(CHECK_JSONSCHEMA), "--builtin-schema", schema, *map(str, files)],
                          capture_output=True, text=True, timeout=60)


WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml")) + sorted(WORKFLOWS.glob("*.yaml"))
PULL_REQUEST = _load("pull-request.yml")
DEPLOY = _load("deploy.yml")


def test_the_two_workflows_exist():
    assert {p.name for p in WORKFLOW_FILES} >= {"pull-request.yml", "deploy.yml"}


def test_workflows_are_valid_github_workflows():
    result = _check_jsonschema("vendor.github-workflows", *WORKFLOW_FILES)
    assert result.returncode == 0, result.stdout + result.stderr
    # Every job has a timeout: a hung `pulumi up` must not hold its stack's lock for six hours.
    result = _check_jsonschema("custom.github-workflows-require-timeout", *WORKFLOW_FILES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_broken_workflow(tmp_path):
    broken = tmp_path / "pull-request.yml"
    broken.write_text((WORKFLOWS / "pull-request.yml").read_text().replace("id-token: write", "id-token: writ", 1))
    result = _check_jsonschema("vendor.github-workflows", broken)
    assert result.returncode != 0
    assert "id-token" in result.stdout


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_no_long_lived_credentials(path):
    workflow = yaml.safe_load(path.read_text())
    strings = list(_strings(workflow))
    assert [s for s in strings if any(name in s for name in LONG_LIVED)] == []
    referenced = {m for s in strings for m in re.findall(r"secrets\.([A-Za-z_][A-Za-z0-9_]*)", s)}
    assert referenced <= ALLOWED_SECRETS
    assert not any(re.search(r"secrets\s*\[", s) for s in strings)  # no secrets['NAME'] detour
    for job in workflow["jobs"].values():
        for step in _steps_using(job, "aws-actions/configure-aws-credentials"):
            assert set(step["with"]) & {"aws-access-key-id", "aws-secret-access-key"} == set()


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_least_privilege_and_oidc_where_a_role_is_assumed(path):
    workflow = yaml.safe_load(path.read_text())
    assert workflow["permissions"] == {"contents": "read"}
    for name, job in workflow["jobs"].items():
        assumes = any(_steps_using(job, action) for action in ROLE_ACTIONS)
        permissions = job.get("permissions", {"contents": "read"})
        comments = any(s.get("with", {}).get("comment-on-pr") is True for s in _steps_using(job, "pulumi/actions"))
        expected = {"contents": "read"}
        if assumes:
            expected["id-token"] = "write"
        if comments:
            expected["pull-requests"] = "write"
        assert permissions == expected, name
        for step in _steps_using(job, "aws-actions/configure-aws-credentials"):
            assert step["with"]["role-to-assume"].startswith("${{ vars.AWS_"), name
        for step in _steps_using(job, "pulumi/auth-actions"):
            assert step["with"]["organization"] == "${{ vars.PULUMI_ORGANIZATION }}"


def test_preview_and_deploy_matrices_are_the_example_stacks():
    stacks = _example_stacks()
    assert {"dev", "dev-eks", "konnect-managed"} <= stacks
    for job in (PULL_REQUEST["jobs"]["preview"], DEPLOY["jobs"]["up"]):
        matrix = job["strategy"]["matrix"]["stack"]
        assert len(matrix) == len(set(matrix))
        assert set(matrix) == stacks
        assert job["strategy"]["fail-fast"] is False
        assert _pulumi_step(job)["with"]["stack-name"] == "${{ vars.PULUMI_ORGANIZATION }}/${{ matrix.stack }}"


def test_preview_comments_on_the_pull_request():
    assert _on(PULL_REQUEST) == {"pull_request": {"branches": ["main"]}}
    job = PULL_REQUEST["jobs"]["preview"]
    assert job["needs"] == "test"
    step = _pulumi_step(job)
    assert step["with"]["command"] == "preview"
    assert step["with"]["comment-on-pr"] is True
    assert step["with"]["github-token"] == "${{ secrets.GITHUB_TOKEN }}"
    assert step["with"]["diff"] is True
    group = job["concurrency"]["group"]
    assert "github.event.pull_request.number" in group and "matrix.stack" in group


def test_deploy_runs_up_per_stack_behind_its_environment():
    assert _on(DEPLOY) == {"push": {"branches": ["main"]}}
    job = DEPLOY["jobs"]["up"]
    assert job["needs"] == "test"
    environment = job["environment"]
    assert (environment["name"] if isinstance(environment, dict) else environment) == "${{ matrix.stack }}"
    assert _pulumi_step(job)["with"]["command"] == "up"
    assert "matrix.stack" in job["concurrency"]["group"]
    assert job["concurrency"]["cancel-in-progress"] is False


def test_only_stacks_that_manage_a_konnect_control_plane_get_the_konnect_token():
    managed = {stack for stack in _example_stacks()
               if "controlPlaneName" in (yaml.safe_load((PROJECT_ROOT / f"Pulumi.{stack}.yaml").read_text())
                                         ["config"].get("kong-aws:konnect") or {})}
    assert managed == {"konnect-managed"}
    for job in (PULL_REQUEST["jobs"]["preview"], DEPLOY["jobs"]["up"]):
        expression = _pulumi_step(job)["env"]["KONNECT_TOKEN"]
        assert "secrets.KONNECT_TOKEN" in expression
        assert set(re.findall(r"matrix\.stack == '([^']+)'", expression)) == managed


def test_test_jobs_run_the_readme_test_command_next_to_shared():
    command = _readme_test_command()
    assert PULL_REQUEST["jobs"]["test"] == DEPLOY["jobs"]["test"]
    job = PULL_REQUEST["jobs"]["test"]
    runs = [s for s in job["steps"] if s.get("run", "").strip() == command]
    assert len(runs) == 1
    # The tests read ../shared/reference: this repository and the shared one side by side.
    assert runs[0]["working-directory"] == "main"
    paths = {s["with"].get("path") for s in _steps_using(job, "actions/checkout")}
    assert paths == {"main", "shared"}
    (python,) = _steps_using(job, "actions/setup-python")
    assert python["with"] == {"python-version": "3.11", "cache": "pip",
                              "cache-dependency-path": "main/requirements-dev.txt"}


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_actions_are_pinned(path):
    workflow = yaml.safe_load(path.read_text())
    pulumi_sdk = re.search(r"^pulumi==(\S+)$", (PROJECT_ROOT / "requirements.txt").read_text(), re.M).group(1)
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            if "uses" not in step:
                continue
            action, _, ref = step["uses"].partition("@")
            # A release tag (v7.0.0, or a major tag where no release could be checked) or a SHA;
            # never a branch.
            assert re.fullmatch(r"v\d+(\.\d+\.\d+)?|[0-9a-f]{40}", ref), step["uses"]
            if action == "pulumi/actions":
                assert ref.split(".")[0] == f"v{PULUMI_ACTIONS_MAJOR}"
                # The CLI matches the SDK the program runs with.
                assert step["with"]["pulumi-version"] == pulumi_sdk


def test_previews_and_deployments_enforce_the_policy_pack():
    # The pack's folder, with its own virtualenv installed first (policy/PulumiPolicy.yaml).
    assert (PROJECT_ROOT / "policy" / "PulumiPolicy.yaml").is_file()
    for workflow, job in ((PULL_REQUEST, "preview"), (DEPLOY, "up")):
        steps = workflow["jobs"][job]["steps"]
        step = _pulumi_step(workflow["jobs"][job])
        assert step["with"]["policyPacks"] == "policy"
        install = [i for i, s in enumerate(steps) if "policy/requirements.txt" in s.get("run", "")]
        assert install and install[0] < steps.index(step)


# --- EKS access: the role a job assumes is the one the stack's config gives access to.

ACCESS_CHECK = "Check that the stack gives this job's role access to its cluster"


def _access_check(job: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    (index,) = [i for i, s in enumerate(job["steps"]) if s.get("name") == ACCESS_CHECK]
    return index, job["steps"][index]


@pytest.mark.parametrize("workflow, job, key", [(PULL_REQUEST, "preview", "previewRoleArns"),
                                                (DEPLOY, "up", "adminRoleArns")], ids=["preview", "up"])
def test_each_job_checks_that_the_role_it_assumes_has_access_to_the_cluster(workflow, job, key):
    steps = workflow["jobs"][job]["steps"]
    index, check = _access_check(workflow["jobs"][job])
    (assume,) = _steps_using(workflow["jobs"][job], "aws-actions/configure-aws-credentials")
    # The role the job assumes is the role the check looks for, in the key that gives it access.
    assert check["env"]["ROLE_ARN"] == assume["with"]["role-to-assume"]
    assert check["env"]["ROLE_KEY"] == key and check["env"]["STACK"] == "${{ matrix.stack }}"
    install = next(i for i, s in enumerate(steps) if "-r requirements.txt" in s.get("run", ""))
    assert install < index < steps.index(_pulumi_step(workflow["jobs"][job]))


@pytest.mark.parametrize("config, passes", [
    ({"kong-aws:mode": "konnect-ecs"}, True),
    ({"kong-aws:mode": "hybrid-eks", "kong-aws:eks": {"clusterName": "platform"}}, True),
    ({"kong-aws:mode": "hybrid-eks", "kong-aws:eks": {"previewRoleArns": ["arn:aws:iam::123456789012:role/ci"]}}, True),
    ({"kong-aws:mode": "hybrid-eks", "kong-aws:eks": {"previewRoleArns": ["arn:aws:iam::123456789012:role/other"]}},
     False),
    ({"kong-aws:mode": "hybrid-eks"}, False),
], ids=["konnect-ecs", "existing-cluster", "listed", "other-role", "none"])
def test_the_access_check_fails_a_stack_that_does_not_list_the_role(tmp_path, config, passes):
    _, check = _access_check(PULL_REQUEST["jobs"]["preview"])
    (tmp_path / "Pulumi.s.yaml").write_text(yaml.safe_dump({"config": {"aws:region": "us-east-1", **config}}))
    (tmp_path / ".venv").symlink_to(PROJECT_ROOT / ".venv")
    env = {"PATH": "/usr/bin:/bin", "STACK": "s", "ROLE_KEY": "previewRoleArns",
           "ROLE_ARN": "arn:aws:iam::123456789012:role/ci"}
    result = subprocess.run(["bash", "-e", "-c", check["run"]], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=60)
    assert (result.returncode == 0) is passes, result.stdout + result.stderr
    if not passes:
        assert result.stdout.startswith("::error::Pulumi.s.yaml: kong-aws:eks.previewRoleArns must list "
                                        "arn:aws:iam::123456789012:role/ci")
