"""components/image_source.py: Docker Hub directly (with a warning) or through an ECR pull through cache.

The rule is checked against botocore's ECR model; the rewritten image references of Kong (both
modes) and the in-cluster PostgreSQL (hybrid-eks) against AWS's Docker Hub naming (``library/`` for
official images); the task execution role and the Auto Mode node role get the cache-filling actions
on exactly the cache repositories they pull.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from components.config import ConfigError, load_stack_config
from components.image_source import docker_hub_path, ecr_repository_arn
from tests.test_kong_hybrid import HYBRID_CONFIG, values

RULE = "aws:ecr/pullThroughCacheRule:PullThroughCacheRule"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ACCOUNT = "210987654321"
CREDENTIALS = f"arn:aws:secretsmanager:{{region}}:{ACCOUNT}:secret:ecr-pullthroughcache/docker-hub-AbCdEf"
IMPORT = ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"]


def _through(config: dict[str, Any], **kong: Any) -> dict[str, Any]:
    config = copy.deepcopy(config)
    config["kong-aws:kong"] = {**config["kong-aws:kong"], "imageSource": "ecr-pull-through",
                               "dockerHubCredentialsSecretArn": CREDENTIALS.format(region=config["aws:region"]), **kong}
    return config


def _statements(result, name_part: str) -> list[dict]:
    (policy,) = [r for r in result.of_type(ROLE_POLICY) if name_part in r.name]
    return json.loads(policy.inputs["policy"])["Statement"]


def _importers(statements: list[dict]) -> list[dict]:
    return [s for s in statements if set(s["Action"]) & set(IMPORT)]


def test_docker_hub_paths_follow_awss_naming():
    assert docker_hub_path("postgres") == "library/postgres"
    assert docker_hub_path("kong/kong-gateway") == "kong/kong-gateway"
    assert docker_hub_path("docker.io/library/postgres") == "library/postgres"
    assert docker_hub_path("123456789012.dkr.ecr.us-west-2.amazonaws.com/kong") is None
    assert docker_hub_path("ghcr.io/kong/kong") is None


@pytest.mark.parametrize("region", ["us-west-2", "cn-north-1", "us-gov-west-1"])
def test_an_ecr_image_names_its_repository_in_the_regions_partition(region, botocore_loader):
    """The partition and host suffix come from botocore's endpoints data (its regionRegex and
    dnsSuffix per partition), not from the code under test."""
    (partition,) = [p for p in botocore_loader.load_data("endpoints")["partitions"]
                    if re.match(p["regionRegex"], region)]
    expected = f"arn:{partition['partition']}:ecr:{region}:123456789012:repository/team/kong-gateway"
    for ref in (":3.10.0.2", "@sha256:" + "0" * 64, ""):
        image = f"123456789012.dkr.ecr.{region}.{partition['dnsSuffix']}/team/kong-gateway{ref}"
        assert ecr_repository_arn(image) == expected
    assert ecr_repository_arn("kong/kong-gateway:3.10.0.2") is None


def test_the_rule_is_a_valid_create_pull_through_cache_rule_request(run_stack, base_config, botocore_loader):
    from tests.conftest import validate_aws_request

    result = run_stack(_through(base_config, pullThroughCachePrefix="hub"))
    inputs = result.one(RULE).inputs
    request = {"ecrRepositoryPrefix": inputs["ecrRepositoryPrefix"], "upstreamRegistryUrl": inputs["upstreamRegistryUrl"],
               "credentialArn": inputs["credentialArn"]}
    assert validate_aws_request(botocore_loader, "ecr", "CreatePullThroughCacheRule", request) == []
    assert request == {"ecrRepositoryPrefix": "hub", "upstreamRegistryUrl": "registry-1.docker.io",
                       "credentialArn": CREDENTIALS.format(region="us-west-2")}
    # The check can fail: a prefix botocore's model refuses.
    assert validate_aws_request(botocore_loader, "ecr", "CreatePullThroughCacheRule", {**request, "ecrRepositoryPrefix": "h"})


def test_ecs_pulls_kong_through_the_cache_with_exactly_the_needed_permissions(run_stack, base_config):
    result = run_stack(_through(base_config))
    (container,) = json.loads(result.one(TASK).inputs["containerDefinitions"])
    registry = f"{ACCOUNT}.dkr.ecr.us-west-2.amazonaws.com"
    assert container["image"] == f"{registry}/docker-hub/kong/kong-gateway:3.10.0.1"
    repository = f"arn:aws:ecr:us-west-2:{ACCOUNT}:repository/docker-hub/kong/kong-gateway"
    statements = _statements(result, "data-plane-execution")
    ecr = {s["Sid"]: (sorted(s["Action"]), s["Resource"]) for s in statements if s["Action"][0].startswith("ecr:")}
    assert ecr == {
        "EcrAuth": (["ecr:GetAuthorizationToken"], ["*"]),
        "EcrPull": (sorted(["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]),
                    [repository]),
        "EcrPullThroughCacheImport": (sorted(IMPORT), [repository]),
    }
    assert "imagePullWarning" not in result.outputs


def test_hybrid_nodes_pull_kong_and_postgres_through_the_cache(run_stack):
    result = run_stack(_through(HYBRID_CONFIG))
    registry = f"{ACCOUNT}.dkr.ecr.ap-northeast-1.amazonaws.com/docker-hub"
    for release in ("kong-cp", "kong-dp"):
        assert values(result, release)["image"]["repository"] == f"{registry}/kong/kong-gateway"
    (statefulset,) = result.of_type("kubernetes:apps/v1:StatefulSet")
    (container,) = statefulset.inputs["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"{registry}/library/postgres:17.6"
    # The Auto Mode node role: AmazonEC2ContainerRegistryPullOnly pulls; this policy fills exactly the two repositories.
    (statement,) = _statements(result, "node-role-policy")
    arn = f"arn:aws:ecr:ap-northeast-1:{ACCOUNT}:repository/docker-hub"
    assert sorted(statement["Action"]) == sorted(IMPORT)
    assert statement["Resource"] == [f"{arn}/kong/kong-gateway", f"{arn}/library/postgres"]
    assert "imagePullWarning" not in result.outputs
    # Nothing pulls before the rule exists: both releases and the database wait on it.
    rule = result.one(RULE).urn
    releases = result.of_type("kubernetes:helm.sh/v3:Release")
    assert len(releases) == 2
    for resource in (*releases, statefulset):
        assert rule in resource.dependencies, resource.name


def test_without_a_cache_nothing_is_granted_and_the_stack_warns(run_stack, base_config):
    for config, images in ((base_config, "kong/kong-gateway is"), (HYBRID_CONFIG, "kong/kong-gateway and postgres are")):
        result = run_stack(config)
        assert result.of_type(RULE) == []
        assert not [r for r in result.of_type(ROLE_POLICY) if "node-role-policy" in r.name]
        execution = [s for r in result.of_type(ROLE_POLICY) if "execution" in r.name
                     for s in json.loads(r.inputs["policy"])["Statement"]]
        assert _importers(execution) == []
        warning = result.outputs["imagePullWarning"]
        warning = warning[0] if isinstance(warning, tuple) else warning
        assert warning.startswith(images) and "docs.docker.com" in warning


def test_an_image_already_in_ecr_needs_no_cache_and_no_warning(run_stack, base_config):
    base_config["kong-aws:kong"]["image"] = "123456789012.dkr.ecr.us-west-2.amazonaws.com/kong"
    result = run_stack(base_config)
    assert result.of_type(RULE) == [] and "imagePullWarning" not in result.outputs


def _problems(kong: dict[str, Any]) -> list[str]:
    raw = {"mode": "konnect-ecs", "kong": json.dumps({"version": "3.10.0.1", **kong}),
           "konnect": json.dumps({"controlPlaneEndpoint": "https://0123456789.us.cp0.konghq.com",
                                  "telemetryEndpoint": "https://0123456789.us.tp0.konghq.com"})}
    with pytest.raises(ConfigError) as caught:
        load_stack_config(raw, set(), region="us-west-2", env_token=None)
    return caught.value.problems


@pytest.mark.parametrize("kong, key, text", [
    ({"imageSource": "ecr-pull-through"}, "dockerHubCredentialsSecretArn", "required"),
    ({"imageSource": "ecr-pull-through", "dockerHubCredentialsSecretArn":
      f"arn:aws:secretsmanager:us-west-2:{ACCOUNT}:secret:dockerhub-AbCdEf"}, "dockerHubCredentialsSecretArn",
     "must start with ecr-pullthroughcache/"),
    ({"imageSource": "ecr-pull-through", "dockerHubCredentialsSecretArn": "arn:aws:iam::123456789012:role/x"},
     "dockerHubCredentialsSecretArn", "not a Secrets Manager secret ARN"),
    ({"dockerHubCredentialsSecretArn": CREDENTIALS.format(region="us-west-2")}, "dockerHubCredentialsSecretArn",
     "only for kong.imageSource ecr-pull-through"),
    ({"imageSource": "ecr-pull-through", "dockerHubCredentialsSecretArn": CREDENTIALS.format(region="us-west-2"),
      "pullThroughCachePrefix": "Hub!"}, "pullThroughCachePrefix", "2-30 characters"),
    ({"imageSource": "ecr-pull-through", "dockerHubCredentialsSecretArn": CREDENTIALS.format(region="us-west-2"),
      "image": "123456789012.dkr.ecr.us-west-2.amazonaws.com/kong"}, "image", "caches Docker Hub"),
])
def test_bad_pull_through_settings_are_refused_with_the_key_named(kong, key, text):
    (problem,) = _problems(kong)
    assert problem.startswith(f"kong-aws:kong.{key}: ") and text in problem


def test_a_secret_of_another_region_is_refused_before_anything_is_declared(run_stack, base_config):
    config = _through(base_config, dockerHubCredentialsSecretArn=CREDENTIALS.format(region="eu-west-1"))
    with pytest.raises(Exception, match=r"kong-aws:kong\.dockerHubCredentialsSecretArn: got .*eu-west-1.*"
                                          r"needs a secret of its own Region"):
        run_stack(config)


def test_switching_a_running_stack_to_the_cache_rolls_the_tasks_and_deletes_nothing(base_config):
    """Day 2: a stack that pulled from Docker Hub turns the cache on. The rule is created and the
    role policy updated before the new task definition revision (the task definition depends on
    the image source), the service rolls onto it, and nothing is deleted but the replaced revision."""
    from tests.conftest import config_text
    from tools.mocks import main_program, run_program
    from tools.plan import CREATE, DELETE, REPLACE, UPDATE, plan

    before = run_program(main_program(), config_text(base_config), stack="test")
    after = run_program(main_program(), config_text(_through(base_config)), stack="test", prior=before)
    steps = plan(before, after)
    assert steps.ops(RULE) == [CREATE]
    assert steps.ops(TASK) == [REPLACE] and not any(s.delete_first for s in steps.of_type(TASK))
    assert steps.ops("aws:ecs/service:Service") == [UPDATE]
    assert steps.ops("aws:iam/rolePolicy:RolePolicy") == [UPDATE]
    assert not steps.by_op(DELETE)
    rule, task = after.one(RULE), after.one(TASK)
    assert rule.urn in task.dependencies, "the new revision must wait for the rule it pulls through"
