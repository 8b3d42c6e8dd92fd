"""The policy pack (policy/): every rule passes and fails on realistic props, the pack finds nothing
in any example stack's offline render, a mutated render is caught, and the pack module loads.

The rules are plain functions (policy/rules.py) and run here without the Pulumi engine. The pack
module (policy/__main__.py) is loaded twice: under a stub of pulumi-policy in a subprocess, as the
engine runs it (always); and with the real pulumi-policy, driving its analyzer servicer with the
engine's request messages (only where pulumi-policy is installed: it is not in requirements-dev.txt,
see policy/requirements.txt).
"""

from __future__ import annotations

import copy
import json
import string
import subprocess
import sys
from dataclasses import dataclass
from typing import Any, Callable

import pytest
import yaml

from tests.conftest import REFERENCE, config_text, example_render, self_signed_pem
from tools.mocks import PROJECT_ROOT, RunResult, main_program, run_program


POLICY_DIR = PROJECT_ROOT / "policy"
sys.path.insert(0, str(POLICY_DIR))
import rules  # policy/rules.py, imported as the pack imports it

STACKS = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in PROJECT_ROOT.glob("Pulumi.*.yaml"))
#: A Konnect personal access token of the documented shape, for KONNECT_TOKEN.
TOKEN = "kpat_" + (string.ascii_letters + string.digits)[7:47]
_, PEM_KEY = self_signed_pem(key_format="ec")

TASK = "aws:ecs/taskDefinition:TaskDefinition"
SERVICE = "aws:ecs/service:Service"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
RELEASE = rules.HELM_RELEASE
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
K8S_SERVICE = "kubernetes:core/v1:Service"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
EKS = "aws:eks/cluster:Cluster"
RDS = "aws:rds/instance:Instance"

NO_SECRETS = "no-secrets-in-container-env-or-helm-values"
NOT_PUBLIC = "admin-cluster-status-postgres-not-public"
NOT_BEHIND_PUBLIC_LB = "admin-cluster-status-postgres-not-behind-public-lb"
ENCRYPTED = "secrets-encrypted"
RETENTION = "log-retention-set"
PINNED = "images-pinned"
TWO_DATA_PLANES = "two-data-planes-outside-dev"


def urn(name: str, typ: str, stack: str = "prod") -> str:
    return f"urn:pulumi:{stack}::kong-aws::{typ}::{name}"


@dataclass
class Rendered:
    """One example stack's offline render: ``resources.json`` and the run it came from."""

    entries: list[dict]
    result: RunResult


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, Rendered]:
    """Every example stack (``Pulumi.<stack>.yaml``) rendered once per session (tests/conftest.py
    ``example_render``). That a Konnect token in the environment never reaches a render is
    tests/test_stack_dev.py's ``test_every_example_stack_renders_with_no_secret_in_the_clear``."""
    out = {}
    for stack in STACKS:
        directory = tmp_path_factory.mktemp("render") / stack
        result = example_render(stack, directory)
        out[stack] = Rendered(json.loads((directory / "resources.json").read_text()), result)
    return out


def stack_resources(entries: list[dict]) -> list[rules.StackResource]:
    return [rules.stack_resource_from_render(e) for e in entries]


def findings(entries: list[dict], config=None) -> list[tuple[str, str, str]]:
    """The whole pack over a render: ``[(policy, urn, message), ...]``."""
    found = rules.check_stack(stack_resources(entries), config)
    return [(policy, u, m) for policy, items in sorted(found.items()) for u, m in items]


def mutate(entries: list[dict], typ: str, name: str, change: Callable[[dict], Any]) -> list[dict]:
    """A deep copy of ``entries`` with ``change`` applied to the inputs of resource ``name``."""
    copied = copy.deepcopy(entries)
    matches = [e for e in copied if e["type"] == typ and rules.resource_name(e["urn"]) == name]
    assert len(matches) == 1, f"{typ} {name}: {len(matches)} resources"
    change(matches[0]["inputs"])
    return copied


def edit_containers(change: Callable[[dict], Any]) -> Callable[[dict], None]:
    """A mutation of an ECS task definition's first container (``containerDefinitions`` is JSON)."""
    def apply(inputs: dict) -> None:
        containers = json.loads(inputs["containerDefinitions"])
        change(containers[0])
        inputs["containerDefinitions"] = json.dumps(containers)
    return apply


def add_env(name: str, value: str) -> Callable[[dict], None]:
    return edit_containers(lambda c: c["environment"].append({"name": name, "value": value}))


def only(found: list[tuple[str, str, str]]) -> tuple[str, str, str]:
    assert len(found) == 1, found
    return found[0]


# ---------------------------------------------------------------------------------------------
# The example stacks

def test_every_example_stack_is_rendered(rendered):
    assert {"dev", "dev-eks", "konnect-managed"} <= set(STACKS)
    types = {e["type"] for r in rendered.values() for e in r.entries}
    # Each rule has something to look at in the examples, so "no violation" is not vacuous.
    assert {TASK, SERVICE, INGRESS, LISTENER, TARGET_GROUP, LOG_GROUP, RELEASE, STATEFUL_SET, K8S_SERVICE,
            STORAGE_CLASS, EKS} <= types


@pytest.mark.parametrize("stack", STACKS)
def test_the_pack_finds_nothing_in_the_example_stacks(rendered, stack):
    assert findings(rendered[stack].entries) == []


@pytest.mark.parametrize("stack", STACKS)
def test_nothing_either_with_the_property_dependencies_the_engine_gives(rendered, stack):
    resources = [rules.StackResource(r.type, r.urn, e["inputs"], tuple(r.dependencies),
                                     {k: tuple(v) for k, v in r.property_dependencies.items()})
                 for r, e in zip(rendered[stack].result.registrations, rendered[stack].entries, strict=True)]
    assert [r.urn for r in resources] == [e["urn"] for e in rendered[stack].entries]
    assert rules.check_stack(resources) == {}


def test_rds_mode_and_a_digest_pinned_image_pass_too():
    config = {"aws:region": "us-east-1", "kong-aws:mode": "hybrid-eks",
              "kong-aws:kong": {"version": "sha256:" + "ab" * 32}, "kong-aws:postgres": {"mode": "rds"},
              "kong-aws:eks": {"adminRoleArns": ["arn:aws:iam::123456789012:role/platform-deployer"]}}
    result = run_program(main_program(), config_text(config), stack="prod-eks")
    entries = [{"type": r.type, "urn": r.urn, "inputs": r.inputs, "dependencies": r.dependencies}
               for r in result.registrations]
    assert {RDS, INGRESS} <= {e["type"] for e in entries}
    assert findings(entries) == []
    # ... and the same RDS instance, made public and unencrypted, is caught by two rules.
    name = rules.resource_name(next(e["urn"] for e in entries if e["type"] == RDS))
    bad = mutate(entries, RDS, name, lambda i: i.update(publiclyAccessible=True, storageEncrypted=False))
    assert sorted(p for p, _, _ in findings(bad)) == [NOT_PUBLIC, ENCRYPTED]


# ---------------------------------------------------------------------------------------------
# Mutated renders: each must be caught, by the right rule, naming the resource and the property.

MUTATIONS = [
    # (id, stack, type, resource name, mutation, policy, words the message must hold)
    ("ecs-env-pem", "konnect-managed", TASK, "kong-data-plane-task", add_env("KONG_CLUSTER_CERT_KEY", PEM_KEY),
     NO_SECRETS, ["kong-data-plane-task", "containerDefinitions[0].environment", "KONG_CLUSTER_CERT_KEY",
                  "PEM private key", "secrets"]),
    ("ecs-env-password", "dev", TASK, "kong-data-plane-task", add_env("KONG_PG_PASSWORD", "hunter2-Correct-Horse"),
     NO_SECRETS, ["containerDefinitions[0].environment", "KONG_PG_PASSWORD", "literal value"]),
    ("ecs-env-konnect-token", "dev", TASK, "kong-data-plane-task", add_env("KONNECT_PAT_FOR_DECK", TOKEN),
     NO_SECRETS, ["KONNECT_PAT_FOR_DECK", "Konnect access token"]),
    ("ecs-command-pem", "dev", TASK, "kong-data-plane-task",
     edit_containers(lambda c: c.update(command=["sh", "-c", f"echo '{PEM_KEY}' > /k.pem && kong start"])),
     NO_SECRETS, ["containerDefinitions[0].command[2]", "PEM private key"]),
    ("ecs-image-floating", "dev", TASK, "kong-data-plane-task",
     edit_containers(lambda c: c.update(image="kong/kong-gateway:3.10")),
     PINNED, ["containerDefinitions[0].image", "`kong/kong-gateway:3.10`", "`3.10`"]),
    ("ecs-image-untagged", "konnect-managed", TASK, "kong-data-plane-task",
     edit_containers(lambda c: c.update(image="kong/kong-gateway")), PINNED, ["containerDefinitions[0].image", "no tag"]),
    ("sg-rule-admin-open", "dev", INGRESS, "kong-proxy-in-80-0", lambda i: i.update(fromPort=8001, toPort=8001),
     NOT_PUBLIC, ["kong-proxy-in-80-0", "cidrIpv4", "0.0.0.0/0", "8001 (Kong Admin API)"]),
    ("sg-rule-all-protocols", "dev", INGRESS, "kong-proxy-in-443-0", lambda i: i.update(ipProtocol="-1"),
     NOT_PUBLIC, ["cidrIpv4", "5432 (PostgreSQL)", "8100 (Kong status listener)"]),
    ("desired-count-1-prod", "konnect-managed", SERVICE, "kong-service-service", lambda i: i.update(desiredCount=1),
     TWO_DATA_PLANES, ["kong-service-service", "desiredCount", "konnect-managed"]),
    ("desired-count-unset-prod", "konnect-managed", SERVICE, "kong-service-service", lambda i: i.pop("desiredCount"),
     TWO_DATA_PLANES, ["desiredCount", "not set (0)"]),
    ("public-nlb-to-admin", "dev", TARGET_GROUP, "kong-proxy-https", lambda i: i.update(port=8444),
     NOT_BEHIND_PUBLIC_LB, ["kong-proxy-https", "defaultActions", "kong-proxy-nlb", "8444"]),
    ("log-retention-unset", "dev", LOG_GROUP, "kong-data-plane-logs", lambda i: i.pop("retentionInDays"),
     RETENTION, ["kong-data-plane-logs", "retentionInDays", "not set"]),
    ("log-retention-0", "dev-eks", LOG_GROUP, "kong-eks-control-plane-logs", lambda i: i.update(retentionInDays=0),
     RETENTION, ["retentionInDays", "is `0`"]),
    ("helm-env-pem", "dev-eks", RELEASE, "kong-hybrid-cp", lambda i: i["values"]["env"].update(cluster_cert_key=PEM_KEY),
     NO_SECRETS, ["kong-hybrid-cp", "values.env.cluster_cert_key", "PEM private key", "secretKeyRef"]),
    ("helm-env-password", "dev-eks", RELEASE, "kong-hybrid-cp", lambda i: i["values"]["env"].update(pg_password="s3cr3t-pw"),
     NO_SECRETS, ["values.env.pg_password", "literal value"]),
    ("helm-admin-load-balancer", "dev-eks", RELEASE, "kong-hybrid-cp", lambda i: i["values"]["admin"].update(type="LoadBalancer"),
     NOT_PUBLIC, ["kong-hybrid-cp", "values.admin.type", "LoadBalancer", "8444 (Kong Admin API (TLS))", "ClusterIP"]),
    ("helm-cluster-node-port", "dev-eks", RELEASE, "kong-hybrid-cp", lambda i: i["values"]["cluster"].update(type="NodePort"),
     NOT_PUBLIC, ["values.cluster.type", "NodePort", "8005"]),
    ("helm-manager-left-to-chart", "dev-eks", RELEASE, "kong-hybrid-dp", lambda i: i["values"].pop("manager"),
     NOT_PUBLIC, ["kong-hybrid-dp", "values.manager.type", "chart's default", "8002"]),
    ("helm-image-latest", "dev-eks", RELEASE, "kong-hybrid-dp", lambda i: i["values"]["image"].update(tag="latest"),
     PINNED, ["kong-hybrid-dp", "values.image", "latest"]),
    ("helm-image-left-to-chart", "dev-eks", RELEASE, "kong-hybrid-cp", lambda i: i["values"].pop("image"),
     PINNED, ["values.image", "chart default", "`kong:3.9`"]),
    ("helm-ingress-controller-on", "dev-eks", RELEASE, "kong-hybrid-cp",
     lambda i: i["values"]["ingressController"].update(enabled=True),
     PINNED, ["values.ingressController.image", "kong/kubernetes-ingress-controller:3.5"]),
    ("statefulset-env-password", "dev-eks", STATEFUL_SET, "kong-hybrid-postgres-statefulset",
     lambda i: i["spec"]["template"]["spec"]["containers"][0]["env"].__setitem__(
         2, {"name": "POSTGRES_PASSWORD", "value": "plain-text-password"}),
     NO_SECRETS, ["kong-hybrid-postgres-statefulset", "spec.template.spec.containers[0].env[2]", "POSTGRES_PASSWORD"]),
    ("statefulset-image-major-only", "dev-eks", STATEFUL_SET, "kong-hybrid-postgres-statefulset",
     lambda i: i["spec"]["template"]["spec"]["containers"][0].update(image="postgres:17"),
     PINNED, ["spec.template.spec.containers[0].image", "`postgres:17`"]),
    ("postgres-service-load-balancer", "dev-eks", K8S_SERVICE, "kong-hybrid-postgres-service",
     lambda i: i["spec"].update(type="LoadBalancer"), NOT_PUBLIC, ["kong-hybrid-postgres-service", "spec.ports[0]", "5432"]),
    ("storage-class-unencrypted", "dev-eks", STORAGE_CLASS, "kong-eks-storage-class",
     lambda i: i["parameters"].update(encrypted="false"), ENCRYPTED, ["kong-eks-storage-class", "parameters.encrypted"]),
    ("eks-secrets-unencrypted", "dev-eks", EKS, "kong-eks-cluster", lambda i: i.pop("encryptionConfig"),
     ENCRYPTED, ["kong-eks-cluster", "encryptionConfig", "secrets"]),
]


@pytest.mark.parametrize("case", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_a_mutated_render_is_caught(rendered, case):
    _, stack, typ, name, change, policy, words = case
    found = findings(mutate(rendered[stack].entries, typ, name, change))
    got_policy, got_urn, message = only(found)
    assert got_policy == policy
    # Reported against the resource itself; the stack rule reports the listener (named as its target group).
    assert rules.resource_name(got_urn) == name
    assert got_urn.split("::")[2].split("$")[-1] == (LISTENER if policy == NOT_BEHIND_PUBLIC_LB else typ)
    for word in words:
        assert word in message, message
    # The secret itself never appears in a message.
    for secret in (PEM_KEY.splitlines()[1], TOKEN, "hunter2", "s3cr3t-pw", "plain-text-password"):
        assert secret not in message


def test_one_data_plane_is_fine_in_a_dev_stack_only(rendered):
    one = mutate(rendered["dev"].entries, SERVICE, "kong-service-service", lambda i: i.update(desiredCount=1))
    assert findings(one) == []
    assert findings(one, {TWO_DATA_PLANES: {"devStackPattern": "sandbox"}})[0][0] == TWO_DATA_PLANES


def test_the_helm_data_plane_needs_two_replicas_outside_dev(rendered):
    as_prod = json.loads(json.dumps(rendered["dev-eks"].entries).replace("urn:pulumi:dev-eks::", "urn:pulumi:prod-eks::"))
    assert findings(as_prod) == []
    one = mutate(as_prod, RELEASE, "kong-hybrid-dp", lambda i: i["values"]["autoscaling"].update(minReplicas=1))
    policy, _, message = only(findings(one))
    assert policy == TWO_DATA_PLANES and "values.autoscaling.minReplicas" in message and "prod-eks" in message
    fixed = mutate(as_prod, RELEASE, "kong-hybrid-dp", lambda i: (i["values"]["autoscaling"].update(enabled=False),
                                                          i["values"].update(replicaCount=1)))
    assert "values.replicaCount" in only(findings(fixed))[2]
    # In dev-eks itself one replica is allowed.
    assert findings(mutate(rendered["dev-eks"].entries, RELEASE, "kong-hybrid-dp",
                           lambda i: i["values"]["autoscaling"].update(minReplicas=1))) == []


def test_an_internal_load_balancer_may_reach_the_admin_api(rendered):
    admin = mutate(rendered["dev"].entries, TARGET_GROUP, "kong-proxy-https", lambda i: i.update(port=8444))
    internal = mutate(admin, LOAD_BALANCER, "kong-proxy-nlb", lambda i: i.update(internal=True))
    assert findings(internal) == []


# ---------------------------------------------------------------------------------------------
# 1. no-secrets-in-container-env-or-helm-values

def task(environment: list[dict], secrets: list[dict] = (), image: str = "kong/kong-gateway:3.10.0.1") -> dict:
    return {"family": "kong", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "512",
            "memory": "1024", "containerDefinitions": json.dumps([{
                "name": "kong", "image": image, "essential": True, "environment": environment,
                "secrets": list(secrets)}])}


SECRET_REFS = [{"name": "KONG_CLUSTER_CERT", "valueFrom": "arn:aws:secretsmanager:us-west-2:123456789012:secret:c:cert::"},
               {"name": "KONG_CLUSTER_CERT_KEY", "valueFrom": "arn:aws:secretsmanager:us-west-2:123456789012:secret:c:key::"}]


@pytest.mark.parametrize("name,value", [
    ("KONG_ROLE", "data_plane"),
    ("KONG_CLUSTER_CERT_KEY", "/etc/secrets/kong-cluster-dp/tls.key"),  # a path, not a key
    ("KONG_SSL_CERT_KEY", "/run/secrets/ssl.key"),
    ("KONG_PG_PASSWORD", "{vault://aws/kong/pg-password}"),  # Kong resolves the reference
    ("KONG_KEYRING_ENABLED", "on"),
    ("KONG_KEYRING_STRATEGY", "cluster"),  # KEYRING is not KEY
    ("KONG_ADMIN_GUI_AUTH_PASSWORD_COMPLEXITY", '{"kong-preset": "min_12"}'),
    ("KONG_PG_OAUTH_TOKEN_ENDPOINT", "https://login.example.com/oauth2/token"),
    ("KONG_VAULT_HCV_KUBE_API_TOKEN_FILE", "/var/run/secrets/kubernetes.io/serviceaccount/token"),
    ("KONG_CLUSTER_CERT", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),  # public
    ("DB_SECRET_ARN", "arn:aws:secretsmanager:us-west-2:123456789012:secret:db"),
    ("KONG_PG_PASSWORD", "[secret]"),  # a Pulumi secret, masked by the render
])
def test_ecs_environment_that_is_fine(name, value):
    props = task([{"name": "KONG_ROLE", "value": "data_plane"}, {"name": name, "value": value}], SECRET_REFS)
    assert rules.no_secrets_in_container_env_or_helm_values(TASK, props, urn("dp", TASK)) == []


@pytest.mark.parametrize("name,value,what", [
    ("KONG_CLUSTER_CERT_KEY", PEM_KEY, "PEM private key"),
    ("KONG_CLUSTER_CERT_KEY", __import__("base64").b64encode(PEM_KEY.encode()).decode(), "PEM private key"),
    ("EXTRA_SETTING", PEM_KEY, "PEM private key"),  # by content, whatever the name
    ("KONNECT_TOKEN", TOKEN, "Konnect access token"),
    ("DECK_KONNECT_TOKEN", "spat_" + "x" * 40, "Konnect access token"),
    ("KONG_PG_PASSWORD", "kong", "literal value"),
    ("PGPASSWORD", "kong", "literal value"),
    ("API_KEY", "abc123", "literal value"),
    ("KONG_VAULT_HCV_TOKEN", "hvs.CAESIJ", "literal value"),
])
def test_ecs_environment_that_is_caught(name, value, what):
    props = task([{"name": name, "value": value}], SECRET_REFS)
    message = only([("", "", m) for m in
                    rules.no_secrets_in_container_env_or_helm_values(TASK, props, urn("dp", TASK))])[2]
    assert what in message and f"`{name}`" in message and "containerDefinitions[0].environment" in message
    assert value not in message and "`dp`" in message


@pytest.mark.parametrize("value", [
    "[secret]",
    {rules.SIG_KEY: rules.SECRET_SIG, "value": "hunter2"},  # the engine's wire form
    "04da6b54-80e4-46f7-96ec-b56ff0331ba9",  # unknown during a preview
])
def test_secrets_and_unknowns_are_not_judged(value):
    helm = {"chart": "kong", "values": {"env": {"pg_password": value, "role": "control_plane"}}}
    assert rules.no_secrets_in_container_env_or_helm_values(RELEASE, helm, urn("cp", RELEASE)) == []
    ecs = task([{"name": "KONG_PG_PASSWORD", "value": value}])
    assert rules.no_secrets_in_container_env_or_helm_values(TASK, ecs, urn("dp", TASK)) == []
    # The whole containerDefinitions or Helm values masked or unknown: nothing to judge, for any
    # rule (not even the chart's defaults).
    whole = value if isinstance(value, str) else "[secret]"
    assert rules.check_resource(TASK, {"containerDefinitions": whole}, urn("dp", TASK)) == {}
    assert rules.check_resource(RELEASE, {"chart": "kong", "values": whole}, urn("dp", RELEASE)) == {}


def test_a_pulumi_policy_secret_wrapper_is_not_judged():
    class Secret:  # the shape of pulumi_policy.Secret (Remediate hands these out)
        def __init__(self, value):
            self.value = value

    assert rules.is_secret(Secret(PEM_KEY))
    helm = {"chart": "kong", "values": {"env": {"pg_password": Secret("hunter2")}}}
    assert rules.no_secrets_in_container_env_or_helm_values(RELEASE, helm, urn("cp", RELEASE)) == []


def deployment(env: list[dict]) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "deck-sync", "namespace": "kong"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "deck"}}, "template": {
                "metadata": {"labels": {"app": "deck"}},
                "spec": {"containers": [{"name": "deck", "image": "kong/deck:v1.49.2", "env": env}]}}}}


def test_kubernetes_workload_env():
    typ = "kubernetes:apps/v1:Deployment"
    fine = deployment([{"name": "DECK_KONNECT_TOKEN", "valueFrom": {"secretKeyRef": {"name": "konnect", "key": "token"}}},
                       {"name": "DECK_KONNECT_CONTROL_PLANE_NAME", "value": "kong-aws-edge"}])
    assert rules.no_secrets_in_container_env_or_helm_values(typ, fine, urn("deck", typ)) == []
    bad = deployment([{"name": "DECK_KONNECT_TOKEN", "value": TOKEN}])
    message = only([("", "", m) for m in rules.no_secrets_in_container_env_or_helm_values(typ, bad, urn("deck", typ))])[2]
    assert "spec.template.spec.containers[0].env[0]" in message and "DECK_KONNECT_TOKEN" in message
    assert TOKEN not in message


def test_helm_custom_env_and_any_value():
    values = {"env": {"role": "data_plane", "cluster_cert_key": "/etc/secrets/kong-cluster-dp/tls.key"},
              "customEnv": {"api_token": {"valueFrom": {"secretKeyRef": {"name": "api", "key": "token"}}},
                            "client_name": "testClient"}}
    props = {"chart": "kong", "name": "kong-dp", "values": values}
    assert rules.no_secrets_in_container_env_or_helm_values(RELEASE, props, urn("dp", RELEASE)) == []
    values["customEnv"]["api_token"] = "abcd1234"
    values["certificates"] = {"cluster": {"key": PEM_KEY}}
    messages = rules.no_secrets_in_container_env_or_helm_values(RELEASE, props, urn("dp", RELEASE))
    assert len(messages) == 2
    assert "values.customEnv.api_token" in messages[0] and "values.certificates.cluster.key" in messages[1]


@pytest.mark.parametrize("name,secret", [
    ("KONG_PG_PASSWORD", True), ("pg_password", True), ("KONG_CLUSTER_CERT_KEY", True), ("PGPASSWORD", True),
    ("API_KEY", True), ("APIKEY", True), ("client-secret", True), ("KONG_VAULT_HCV_TOKEN", True),
    ("KONG_ROLE", False), ("KONG_KEYRING_ENABLED", False), ("KONG_VAULTS_LAZY_LOAD_SECRETS", False),
    ("KONG_PG_KEEPALIVE_TIMEOUT", False), ("KONG_PG_OAUTH_TOKEN_ENDPOINT", False), ("DB_PASSWORD_FILE", False),
    ("SSH_PUBLIC_KEY", False), ("KONG_ADMIN_GUI_AUTH_CHANGE_PASSWORD_TTL", False),
])
def test_secret_names(name, secret):
    assert rules.secret_name(name) is secret


# ---------------------------------------------------------------------------------------------
# 2. admin-cluster-status-postgres-not-public

SG = "aws:ec2/securityGroup:SecurityGroup"


def test_inline_security_group_ingress():
    props = {"vpcId": "vpc-1", "description": "kong", "ingress": [
        {"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]},
        {"protocol": "tcp", "fromPort": 8001, "toPort": 8001, "cidrBlocks": ["10.0.0.0/16"]},
        {"protocol": "tcp", "fromPort": 5432, "toPort": 5432, "securityGroups": ["sg-eks"]}]}
    assert rules.admin_cluster_status_postgres_not_public(SG, props, urn("kong", SG)) == []
    props["ingress"].append({"protocol": "tcp", "fromPort": 8000, "toPort": 8100, "ipv6CidrBlocks": ["::/0"]})
    message = only([("", "", m) for m in rules.admin_cluster_status_postgres_not_public(SG, props, urn("kong", SG))])[2]
    assert "`ingress[3]`" in message and "::/0" in message
    assert "8001" in message and "8002" in message and "8005" in message and "8100" in message
    assert "5432" not in message and "8444" not in message


def test_vpc_ingress_rule_ipv6_and_udp():
    base = {"securityGroupId": "sg-1", "ipProtocol": "tcp", "fromPort": 8444, "toPort": 8445, "cidrIpv6": "::/0"}
    assert "`cidrIpv6`" in rules.admin_cluster_status_postgres_not_public(INGRESS, base, urn("r", INGRESS))[0]
    assert rules.admin_cluster_status_postgres_not_public(INGRESS, {**base, "ipProtocol": "udp"}, urn("r", INGRESS)) == []
    assert rules.admin_cluster_status_postgres_not_public(
        INGRESS, {**base, "cidrIpv6": None, "referencedSecurityGroupId": "sg-2"}, urn("r", INGRESS)) == []


def test_legacy_security_group_rule():
    typ = "aws:ec2/securityGroupRule:SecurityGroupRule"
    props = {"type": "ingress", "protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"],
             "securityGroupId": "sg-1"}
    assert "cidrBlocks" in rules.admin_cluster_status_postgres_not_public(typ, props, urn("r", typ))[0]
    assert rules.admin_cluster_status_postgres_not_public(typ, {**props, "type": "egress"}, urn("r", typ)) == []


def test_stack_rule_by_arn_after_an_update_and_through_listener_rules():
    """Under the engine after ``pulumi up`` the props are outputs with ARNs; a listener rule may
    forward too; ECS registers its containerPort whatever the target group's port."""
    lb_arn, listener_arn = "arn:aws:elasticloadbalancing:::loadbalancer/app/pub/1", "arn:aws:elasticloadbalancing:::listener/app/pub/1/2"
    proxy_tg, admin_tg = "arn:aws:elasticloadbalancing:::targetgroup/proxy/3", "arn:aws:elasticloadbalancing:::targetgroup/admin/4"
    typ_rule = "aws:lb/listenerRule:ListenerRule"
    resources = [
        rules.StackResource(LOAD_BALANCER, urn("pub", LOAD_BALANCER), {"arn": lb_arn, "internal": False}),
        rules.StackResource(LISTENER, urn("https", LISTENER), {"arn": listener_arn, "loadBalancerArn": lb_arn, "port": 443,
                            "defaultActions": [{"type": "forward", "targetGroupArn": proxy_tg}]}),
        rules.StackResource(TARGET_GROUP, urn("proxy", TARGET_GROUP), {"arn": proxy_tg, "port": 8000}),
        rules.StackResource(TARGET_GROUP, urn("admin", TARGET_GROUP), {"arn": admin_tg, "port": 8000}),
        rules.StackResource(typ_rule, urn("admin-path", typ_rule), {"listenerArn": listener_arn, "actions": [
            {"type": "forward", "forward": {"targetGroups": [{"arn": admin_tg, "weight": 1}]}}]}),
        rules.StackResource(SERVICE, urn("kong", SERVICE), {"desiredCount": 2, "loadBalancers": [
            {"targetGroupArn": proxy_tg, "containerName": "kong", "containerPort": 8000},
            {"targetGroupArn": admin_tg, "containerName": "kong", "containerPort": 8001}]}),
    ]
    (where, message), = rules.admin_cluster_status_postgres_not_behind_public_lb(resources)
    assert where == urn("kong", SERVICE) and "loadBalancers[1].containerPort" in message and "8001" in message
    resources[0] = rules.StackResource(LOAD_BALANCER, urn("pub", LOAD_BALANCER), {"arn": lb_arn, "internal": True})
    assert rules.admin_cluster_status_postgres_not_behind_public_lb(resources) == []


def test_stack_rule_in_a_preview_through_property_dependencies():
    """In a preview of new resources ARNs are unknown: the property dependencies link them."""
    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    lb, tg_proxy, tg_status = urn("nlb", LOAD_BALANCER), urn("proxy", TARGET_GROUP), urn("status", TARGET_GROUP)
    resources = [
        rules.StackResource(LOAD_BALANCER, lb, {"arn": unknown, "loadBalancerType": "network"}),
        rules.StackResource(TARGET_GROUP, tg_proxy, {"arn": unknown, "port": 8000}),
        rules.StackResource(TARGET_GROUP, tg_status, {"arn": unknown, "port": 8100}),
        rules.StackResource(LISTENER, urn("http", LISTENER),
                            {"loadBalancerArn": unknown, "port": 80, "defaultActions": [{"type": "forward", "targetGroupArn": unknown}]},
                            dependencies=(lb, tg_proxy, tg_status),
                            property_dependencies={"loadBalancerArn": (lb,), "defaultActions": (tg_proxy,)}),
    ]
    assert rules.admin_cluster_status_postgres_not_behind_public_lb(resources) == []
    resources[3] = rules.StackResource(resources[3].type, resources[3].urn, resources[3].props, resources[3].dependencies,
                                       {"loadBalancerArn": (lb,), "defaultActions": (tg_status,)})
    (where, message), = rules.admin_cluster_status_postgres_not_behind_public_lb(resources)
    assert where == urn("http", LISTENER) and "`status`" in message and "8100 (Kong status listener)" in message


def test_kubernetes_service_exposure():
    props = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kong-admin", "namespace": "kong"},
             "spec": {"type": "ClusterIP", "ports": [{"name": "admin-tls", "port": 8444, "targetPort": 8444}]}}
    assert rules.admin_cluster_status_postgres_not_public(K8S_SERVICE, props, urn("admin", K8S_SERVICE)) == []
    props["spec"]["type"] = "NodePort"
    assert "`spec.ports[0]`" in rules.admin_cluster_status_postgres_not_public(K8S_SERVICE, props, urn("admin", K8S_SERVICE))[0]
    proxy = {"spec": {"type": "LoadBalancer", "ports": [{"port": 443, "targetPort": 8443}]}}
    assert rules.admin_cluster_status_postgres_not_public(K8S_SERVICE, proxy, urn("proxy", K8S_SERVICE)) == []


# ---------------------------------------------------------------------------------------------
# 3. secrets-encrypted (RDS is covered by test_rds_mode_and_a_digest_pinned_image_pass_too)

def test_ebs_volume_and_rds_cluster():
    volume = "aws:ebs/volume:Volume"
    assert rules.secrets_encrypted(volume, {"availabilityZone": "us-east-1a", "size": 20, "encrypted": True}, urn("v", volume)) == []
    assert "`encrypted` is not set" in rules.secrets_encrypted(volume, {"availabilityZone": "us-east-1a", "size": 20},
                                                               urn("v", volume))[0]
    cluster = "aws:rds/cluster:Cluster"
    assert "storageEncrypted" in rules.secrets_encrypted(cluster, {"engine": "aurora-postgresql"}, urn("c", cluster))[0]


def test_legacy_eks_encryption_configs_list_and_other_provisioners():
    assert rules.secrets_encrypted(EKS, {"encryptionConfigs": [{"resources": ["secrets"],
                                                                "provider": {"keyArn": "arn:aws:kms:::key/1"}}]},
                                   urn("eks", EKS)) == []
    efs = {"provisioner": "efs.csi.aws.com", "parameters": {"provisioningMode": "efs-ap"}}
    assert rules.secrets_encrypted(STORAGE_CLASS, efs, urn("efs", STORAGE_CLASS)) == []


# ---------------------------------------------------------------------------------------------
# 5. images-pinned

@pytest.mark.parametrize("image,pinned", [
    ("kong/kong-gateway:3.10.0.1", True), ("kong/kong-gateway:3.10.0.1-ubuntu", True),
    ("123456789012.dkr.ecr.us-west-2.amazonaws.com/kong:3.10.0.1", True),
    ("registry.local:5000/kong/kong-gateway:3.10.0.2", True), ("kong/deck:v1.49.2", True),
    ("kong/kong-gateway@sha256:" + "0" * 64, True), ("kong/kong-gateway:3.10@sha256:" + "f" * 64, True),
    ("postgres:17.6", True), ("postgres:17.6-bookworm", True),
    ("kong/kong-gateway:3.10", False), ("kong/kong-gateway:3", False), ("kong/kong-gateway:latest", False),
    ("kong/kong-gateway", False), ("registry.local:5000/kong", False), ("postgres:17", False),
    ("postgres:9.6", False), ("kong/kong-gateway:3.10.x", False), ("kong:stable", False),
])
def test_image_references(image, pinned):
    assert (rules.image_problem(image) is None) is pinned


def test_helm_unified_repo_tag_and_other_charts():
    digest = {"chart": "kong", "values": {"image": {"repository": "kong/kong-gateway",
                                                    "unifiedRepoTag": "kong/kong-gateway@sha256:" + "1" * 64},
                                          "ingressController": {"enabled": False}}}
    assert rules.images_pinned(RELEASE, digest, urn("dp", RELEASE)) == []
    # Left on (the chart's default), the ingress controller runs the chart's floating tag.
    del digest["values"]["ingressController"]
    assert "kong/kubernetes-ingress-controller:3.5" in only(
        [("", "", m) for m in rules.images_pinned(RELEASE, digest, urn("dp", RELEASE))])[2]
    other = {"chart": "external-dns", "values": {"image": {"repository": "registry.k8s.io/external-dns", "tag": "v0.14"}}}
    assert "`values.image`" in rules.images_pinned(RELEASE, other, urn("dns", RELEASE))[0]
    assert rules.images_pinned(RELEASE, {"chart": "cert-manager", "values": {}}, urn("cm", RELEASE)) == []


# ---------------------------------------------------------------------------------------------
# 6. two-data-planes-outside-dev

@pytest.mark.parametrize("stack,dev", [("dev", True), ("dev-eks", True), ("dev-alice", True), ("devops", False),
                                       ("prod", False), ("staging-dev", False)])
def test_dev_stacks(stack, dev):
    assert rules.is_dev_stack(urn("svc", SERVICE, stack)) is dev
    assert bool(rules.two_data_planes_outside_dev(SERVICE, {"desiredCount": 1}, urn("svc", SERVICE, stack))) is not dev


def test_daemon_services_and_control_planes_are_not_counted():
    assert rules.two_data_planes_outside_dev(SERVICE, {"schedulingStrategy": "DAEMON"}, urn("agent", SERVICE)) == []
    cp = {"chart": "kong", "values": {"env": {"role": "control_plane"}, "replicaCount": 1}}
    assert rules.two_data_planes_outside_dev(RELEASE, cp, urn("cp", RELEASE)) == []
    dp = {"chart": "kong", "values": {"env": {"role": "data_plane"}}}
    assert "chart's default" in rules.two_data_planes_outside_dev(RELEASE, dp, urn("dp", RELEASE))[0]


# ---------------------------------------------------------------------------------------------
# Facts the rules take from elsewhere

def test_kong_chart_defaults_are_the_charts():
    chart = yaml.safe_load((REFERENCE / "kong-chart-values.yaml").read_text())

    def check(ours: Any, theirs: Any, path: str) -> None:
        if isinstance(ours, dict):
            for key, value in ours.items():
                check(value, theirs[key], f"{path}.{key}")
        else:
            assert ours == theirs, path

    check(rules.KONG_CHART_DEFAULTS, chart, "values")
    assert chart["admin"]["tls"]["servicePort"] == 8444 and chart["admin"]["http"]["servicePort"] == 8001
    assert chart["cluster"]["tls"]["servicePort"] == 8005 and chart["clustertelemetry"]["tls"]["servicePort"] == 8006
    assert chart["status"]["http"]["containerPort"] == 8100


def test_rule_names_are_unique_and_every_rule_has_a_description():
    names = [r.name for r in rules.RESOURCE_RULES + rules.STACK_RULES]
    assert len(names) == len(set(names)) == 8 and all(r.description for r in rules.RESOURCE_RULES + rules.STACK_RULES)


def test_policy_project_file():
    project = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    assert project["runtime"] == {"name": "python", "options": {"virtualenv": ".venv"}}
    assert project["version"]
    pins = [line for line in (POLICY_DIR / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert "pulumi_policy==1.21.0" in pins and all("==" in p for p in pins)
    gitignore = (PROJECT_ROOT / ".gitignore").read_text().splitlines()
    assert ".venv/" in gitignore  # also ignores policy/.venv


# ---------------------------------------------------------------------------------------------
# The pack module

STUB = '''
"""A stand-in for pulumi_policy that records what the pack builds instead of serving it."""
import enum, json, sys

class EnforcementLevel(enum.Enum):
    ADVISORY = "advisory"
    MANDATORY = "mandatory"

class PolicyConfigSchema:
    def __init__(self, properties, required=None):
        self.properties = properties

class _Policy:
    def __init__(self, name, description, validate, enforcement_level=None, config_schema=None):
        self.name, self.description, self.validate = name, description, validate
        self.enforcement_level, self.config_schema = enforcement_level, config_schema

class ResourceValidationPolicy(_Policy):
    pass

class StackValidationPolicy(_Policy):
    pass

class PolicyPack:
    def __init__(self, name, policies, enforcement_level=None):
        sys.modules["pulumi_policy"].PACK = (name, policies, enforcement_level)
'''

DRIVER = '''
import json, runpy, sys, types
import pulumi_policy
runpy.run_path(sys.argv[1], run_name="__main__")   # as pulumi/policy/__main__.py runs a pack
name, policies, level = pulumi_policy.PACK
reports = {}
args = types.SimpleNamespace(
    resource_type="aws:cloudwatch/logGroup:LogGroup", props={"name": "/kong"},
    urn="urn:pulumi:prod::kong-aws::aws:cloudwatch/logGroup:LogGroup::logs", get_config=lambda: {},
    resources=[types.SimpleNamespace(resource_type="aws:ecs/service:Service", props={"desiredCount": 2},
                                     urn="urn:pulumi:prod::kong-aws::aws:ecs/service:Service::svc",
                                     dependencies=[], property_dependencies={})])
for policy in policies:
    policy.validate(args, lambda message, urn=None: reports.setdefault(policy.name, []).append(message))
print(json.dumps({"name": name, "level": level.value, "reports": reports, "policies": [
    {"name": p.name, "kind": type(p).__name__, "level": p.enforcement_level.value,
     "config": p.config_schema.properties if p.config_schema else None} for p in policies]}))
'''


def test_the_pack_module_runs_as_the_engine_runs_it(tmp_path):
    stub = tmp_path / "stub" / "pulumi_policy"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text(STUB)
    done = subprocess.run([sys.executable, "-c", DRIVER, str(POLICY_DIR)], check=False, capture_output=True,
                          text=True, cwd=tmp_path, env={"PYTHONPATH": str(stub.parent), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert done.returncode == 0, done.stderr
    pack = json.loads(done.stdout)
    assert pack["name"] == "kong-aws" and pack["level"] == "mandatory"
    assert [(p["name"], p["kind"]) for p in pack["policies"]] == (
        [(r.name, "ResourceValidationPolicy") for r in rules.RESOURCE_RULES]
        + [(r.name, "StackValidationPolicy") for r in rules.STACK_RULES])
    assert {p["level"] for p in pack["policies"]} == {"mandatory"}
    assert next(p["config"] for p in pack["policies"] if p["name"] == TWO_DATA_PLANES)["devStackPattern"]["default"] == "dev|dev-.*"
    # The wrappers route a rule's messages to report_violation: a log group without retention.
    assert list(pack["reports"]) == [RETENTION] and "retentionInDays" in pack["reports"][RETENTION][0]


# --- With the real pulumi-policy (requirements-dev.txt pins it).

def load_pack():
    """policy/__main__.py under another module name: defines build_policies, serves nothing."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("kong_aws_policy_pack", POLICY_DIR / "__main__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def servicer():
    """pulumi-policy's analyzer servicer with the pack's policies: what the engine talks to."""
    import pulumi_policy
    from pulumi_policy.policy import _PolicyAnalyzerServicer

    pack = load_pack()
    policies = pack.build_policies()
    assert all(isinstance(p, (pulumi_policy.ResourceValidationPolicy, pulumi_policy.StackValidationPolicy))
               for p in policies)
    return _PolicyAnalyzerServicer(pack.PACK_NAME, "0.1.0", policies, pulumi_policy.EnforcementLevel.MANDATORY)


def struct(props: dict):
    from google.protobuf import json_format, struct_pb2

    return json_format.ParseDict(props, struct_pb2.Struct())


def analyze(servicer, registration) -> list:
    from pulumi.runtime.proto import analyzer_pb2

    request = analyzer_pb2.AnalyzeRequest(type=registration.type, urn=registration.urn, name=registration.name,
                                          properties=struct(registration.inputs))
    return list(servicer.Analyze(request, None).diagnostics)


def analyze_stack(servicer, registrations) -> list:
    from pulumi.runtime.proto import analyzer_pb2

    resources = [analyzer_pb2.AnalyzerResource(
        type=r.type, urn=r.urn, name=r.name, properties=struct(r.inputs), parent=r.parent or "",
        dependencies=r.dependencies,
        propertyDependencies={k: analyzer_pb2.AnalyzerPropertyDependencies(urns=v)
                              for k, v in r.property_dependencies.items() if v})
        for r in registrations]
    return list(servicer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=resources), None).diagnostics)


def test_the_real_sdk_describes_the_pack(servicer):
    from pulumi.runtime.proto import analyzer_pb2

    info = servicer.GetAnalyzerInfo(None, None)
    assert info.name == "kong-aws" and info.supportsConfig
    assert {p.name: p.enforcementLevel for p in info.policies} == {
        r.name: analyzer_pb2.MANDATORY for r in rules.RESOURCE_RULES + rules.STACK_RULES}
    assert {p.name: p.policy_type for p in info.policies}[NOT_BEHIND_PUBLIC_LB] == analyzer_pb2.POLICY_TYPE_STACK


def test_the_real_sdk_finds_nothing_in_the_example_stacks(servicer, rendered):
    """The engine's messages, built from what each stack registers: secrets in the engine's wire
    form (pulumi-policy hands the policies their plaintext), property dependencies included."""
    for stack in STACKS:
        registrations = rendered[stack].result.registrations
        assert [d.message for r in registrations for d in analyze(servicer, r)] == []
        assert [d.message for d in analyze_stack(servicer, registrations)] == []


def test_the_real_sdk_reports_a_violation(servicer, rendered):
    from pulumi.runtime.proto import analyzer_pb2

    registration = copy.deepcopy(next(r for r in rendered["konnect-managed"].result.registrations if r.type == SERVICE))
    registration.inputs["desiredCount"] = 1
    (diagnostic,) = analyze(servicer, registration)
    assert diagnostic.policyName == TWO_DATA_PLANES and diagnostic.enforcementLevel == analyzer_pb2.MANDATORY
    assert "`desiredCount` is `1` in stack `konnect-managed`" in diagnostic.message  # not 1.0: numbers come as doubles
    assert diagnostic.urn == ""  # the engine attaches the resource
    # A policy config may call every stack a dev stack.
    config = analyzer_pb2.ConfigureAnalyzerRequest(policyConfig={TWO_DATA_PLANES: analyzer_pb2.PolicyConfig(
        enforcementLevel=analyzer_pb2.MANDATORY, properties=struct({"devStackPattern": ".*"}))})
    servicer.Configure(config, None)
    try:
        assert analyze(servicer, registration) == []
    finally:
        servicer.Configure(analyzer_pb2.ConfigureAnalyzerRequest(), None)


def test_the_real_sdk_stack_policy_in_a_preview(servicer, rendered):
    """A preview of a new stack: ARNs unknown; the property dependencies still link the listener
    to its load balancer and target group."""
    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    registrations = copy.deepcopy(rendered["dev"].result.registrations)
    for r in registrations:
        if r.type == LISTENER:
            r.inputs["loadBalancerArn"] = unknown
            r.inputs["defaultActions"][0]["targetGroupArn"] = unknown
        if r.type == TARGET_GROUP and r.name == "kong-proxy-https":
            r.inputs["port"] = 8444
    (diagnostic,) = analyze_stack(servicer, registrations)
    assert diagnostic.policyName == NOT_BEHIND_PUBLIC_LB and diagnostic.urn.endswith("::kong-proxy-https")
    assert diagnostic.urn.split("::")[2].endswith("aws:lb/listener:Listener")


# ---------------------------------------------------------------------------------------------
# public-tasks-admit-only-the-load-balancer (issue 11, egress public-ip)

PUBLIC_TASKS = "public-tasks-admit-only-the-load-balancer"


def test_the_dev_stack_runs_public_tasks_that_the_rule_accepts(rendered):
    """dev uses egress public-ip: the service gives its tasks public IPs, and the pack (this rule
    included) finds nothing, so a test of the rule's violations below is not vacuous."""
    (service,) = [e for e in rendered["dev"].entries if e["type"] == SERVICE]
    assert service["inputs"]["networkConfiguration"]["assignPublicIp"] is True
    assert findings(rendered["dev"].entries) == []


@pytest.mark.parametrize("change, words", [
    (lambda i: (i.pop("referencedSecurityGroupId"), i.update(cidrIpv4="0.0.0.0/0")),
     ["kong-tasks-in-8000", "cidrIpv4", "0.0.0.0/0"]),
    (lambda i: i.update(referencedSecurityGroupId="sg-00000000000000001"),
     ["kong-tasks-in-8000", "referencedSecurityGroupId", "sg-00000000000000001"]),
    (lambda i: i.update(cidrIpv6="::/0"), ["kong-tasks-in-8000", "cidrIpv6"]),
])
def test_a_public_task_whose_group_admits_more_than_the_load_balancer_is_refused(rendered, change, words):
    entries = mutate(rendered["dev"].entries, INGRESS, "kong-tasks-in-8000", change)
    policy, got_urn, message = only(findings(entries))
    assert policy == PUBLIC_TASKS
    assert rules.resource_name(got_urn) == "kong-service-service"
    for word in words + ["assignPublicIp"]:
        assert word in message, message


def test_the_same_group_on_private_tasks_is_left_to_the_other_rules(rendered):
    entries = mutate(rendered["dev"].entries, INGRESS, "kong-tasks-in-8000",
                     lambda i: (i.pop("referencedSecurityGroupId"), i.update(cidrIpv4="10.0.0.0/8")))
    assert only(findings(entries))[0] == PUBLIC_TASKS
    private = mutate(entries, SERVICE, "kong-service-service",
                     lambda i: i["networkConfiguration"].update(assignPublicIp=False))
    assert findings(private) == []


def test_public_tasks_without_groups_or_with_groups_outside_the_stack_are_refused(rendered):
    none = mutate(rendered["dev"].entries, SERVICE, "kong-service-service",
                  lambda i: i["networkConfiguration"].update(securityGroups=[]))
    assert "default group" in only(findings(none))[2]
    outside = copy.deepcopy(rendered["dev"].entries)
    (service,) = [e for e in outside if e["type"] == SERVICE]
    service["inputs"]["networkConfiguration"]["securityGroups"] = ["sg-0fffffffffffffff0"]
    service["dependencies"] = [d for d in service["dependencies"] if SG not in d]
    assert "not declared in this stack" in only(findings(outside))[2]


def test_public_tasks_by_id_under_the_engine_and_inline_ingress():
    """After an update the engine gives ids (here through ``arn``); an inline rule counts too."""
    lb_sg = rules.StackResource(SG, urn("lb-sg", SG), {"arn": "arn:aws:ec2:us-west-2:1:security-group/sg-lb"})
    task_sg = rules.StackResource(SG, urn("task-sg", SG), {
        "arn": "arn:aws:ec2:us-west-2:1:security-group/sg-task",
        "ingress": [{"fromPort": 8000, "toPort": 8000, "protocol": "tcp", "securityGroups": ["sg-lb"]}]})
    nlb = rules.StackResource(LOAD_BALANCER, urn("nlb", LOAD_BALANCER), {"securityGroups": ["sg-lb"]})
    service = rules.StackResource(SERVICE, urn("svc", SERVICE), {
        "networkConfiguration": {"assignPublicIp": True, "securityGroups": ["sg-task"], "subnets": ["subnet-1"]}})
    assert rules.public_tasks_admit_only_the_load_balancer([lb_sg, task_sg, nlb, service]) == []
    wide = rules.StackResource(SG, task_sg.urn, {**task_sg.props, "ingress": [
        {"fromPort": 8000, "toPort": 8000, "protocol": "tcp", "cidrBlocks": ["0.0.0.0/0"]}]})
    ((who, message),) = rules.public_tasks_admit_only_the_load_balancer([lb_sg, wide, nlb, service])
    assert who == service.urn and "ingress[0].cidrBlocks" in message
