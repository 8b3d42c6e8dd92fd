"""Day 2 across the reshape: a stack deployed with the earlier layout is updated, never replaced.

tests/data/urns-before-reshape.json holds every URN the program registered before its components
became one package (commit 00fb8ab: components at the stack's root, ``KonnectDataPlanes`` with
twenty children, type tokens ``kong-aws:<module>:<Class>``), for each example stack and a
hybrid variant with RDS and a shared certificate, as the engine names them (parent type chains, no
stack prefix; tools/mocks.py ``RecordingMonitor.make_urn``).

The engine matches a resource of the new program to one in the state by URN or by one of its
aliases (Pulumi docs, "Resource option: aliases"; inherited aliases of children follow
``inheritedChildAlias`` in pulumi/runtime/resource.py, which the recording monitor applies as
the engine does). An old URN that nothing claims would be deleted, and its new twin created: for
the NLB a new DNS name, for the EKS cluster a new cluster. So each old URN must be claimed by
exactly one resource of the new program, and by one of the same type.
"""

from __future__ import annotations

import functools
import json
import os

import pytest

from tests.conftest import PROJECT_ROOT, example_run
from tools.mocks import RunResult, run_program
from tools.render import read_stack_config

BEFORE = json.loads((PROJECT_ROOT / "tests" / "data" / "urns-before-reshape.json").read_text())
#: Variants recorded besides the example stacks: (stack file, config changes).
VARIANTS = {
    # dev as it was configured then: NAT gateways per zone (it has since chosen public-ip egress,
    # which removes them on purpose, tests/test_day2_ecs.py).
    "dev": ("dev", {"kong-aws:network": {"egress": "nat-per-az"}}),
    "dev-eks-rds-shared": ("dev-eks", {
        "kong-aws:postgres": {"mode": "rds"},
        "kong-aws:hybrid": {"namespace": "kong", "controlPlaneRelease": "kong-cp", "dataPlaneRelease": "kong-dp",
                            "clusterMtls": "shared"}}),
}


def _run(name: str) -> RunResult:
    stack, changes = VARIANTS.get(name, (name, {}))
    config, secrets, project = read_stack_config(stack, PROJECT_ROOT)
    config.update({key: json.dumps(value) for key, value in changes.items()})
    saved = os.environ.get("KONNECT_TOKEN")
    os.environ["KONNECT_TOKEN"] = "[secret]"  # what the offline render stands in for a token
    try:
        return run_program(PROJECT_ROOT / "__main__.py", config, secrets, project=project, stack=stack)
    finally:
        os.environ.pop("KONNECT_TOKEN") if saved is None else os.environ.update(KONNECT_TOKEN=saved)


def _run_once(name: str) -> RunResult:
    return example_run(name) if name not in VARIANTS else _run_variant(name)


_run_variant = functools.lru_cache(maxsize=None)(_run)


def _type(urn: str) -> str:
    return urn.split("::")[2].split("$")[-1]


@pytest.mark.parametrize("name", sorted(BEFORE))
def test_every_earlier_urn_is_claimed_by_one_resource_of_the_same_kind(name):
    result = _run_once(name)
    claims: dict[str, list[str]] = {}
    for reg in result.registrations:
        for urn in {reg.urn, *reg.aliases}:
            claims.setdefault(urn, []).append(reg.urn)
    unclaimed = [urn for urn in BEFORE[name] if urn not in claims]
    assert not unclaimed, "would be deleted and re-created:\n" + "\n".join(unclaimed)
    for urn in BEFORE[name]:
        (new,) = claims[urn]
        # Custom resources keep their type; only our components changed theirs.
        if not _type(urn).startswith("kong-aws:"):
            assert _type(new) == _type(urn), (urn, new)


@pytest.mark.parametrize("name", sorted(BEFORE))
def test_only_the_new_components_are_new(name):
    """Everything registered that no earlier URN names is one of the new grouping components."""
    result = _run_once(name)
    before = set(BEFORE[name])
    fresh = sorted({r.type for r in result.registrations
                    if r.type != "pulumi:pulumi:Stack" and not ({r.urn, *r.aliases} & before)})
    # New since: the gateway, the service component and the rollout gate; in manual pinning mode
    # (dev) the second certificate slot and the certificate that records when the slots began.
    # Every stack also has its image source (kong-images: the pull-through cache rule when chosen).
    konnect_ecs = ["kong-aws:index:DataPlaneService", "kong-aws:index:ImageSource", "kong-aws:index:KonnectEcsGateway",
                   "pulumi-python:dynamic/ecs:RolloutGate"]
    slots = ["kong-aws:index:ClusterCertificate", "tls:index/privateKey:PrivateKey",
             "tls:index/selfSignedCert:SelfSignedCert"]
    hybrid = ["kong-aws:index:HybridEksGateway", "kong-aws:index:ImageSource"]
    # What a cluster needs for the releases (issue 10): the metrics-server add-on, network policy
    # nodes (the VPC CNI's ConfigMap, a NodeClass and a NodePool) and the namespace's NetworkPolicies;
    # with RDS, its CA bundle's ConfigMap and its postgresql log group.
    cluster = ["aws:eks/addon:Addon", "kubernetes:core/v1:ConfigMap", "kubernetes:eks.amazonaws.com/v1:NodeClass",
               "kubernetes:karpenter.sh/v1:NodePool", "kubernetes:networking.k8s.io/v1:NetworkPolicy"]
    # Issue 12: every stack's dashboard and alarms; with Kong's prometheus plugin in the gateway file,
    # the metrics agent's log group and role (ECS task role; EKS Pod Identity); konnect-managed's
    # entities in Konnect; hybrid-eks's Container Insights add-on (its role and policy), the decK
    # sync (Job, ConfigMap with the file, Secret) and the Admin API's CA and certificate.
    monitoring = ["aws:cloudwatch/dashboard:Dashboard", "aws:cloudwatch/metricAlarm:MetricAlarm",
                  "kong-aws:index:GatewayMonitoring"]
    ecs_metrics = ["aws:cloudwatch/logGroup:LogGroup", "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy"]
    entities = ["kong-aws:index:KonnectGatewayConfiguration", "pulumi-python:dynamic/konnect:GatewayEntity"]
    eks_issue_12 = ["aws:eks/podIdentityAssociation:PodIdentityAssociation", "aws:iam/role:Role",
                    "aws:iam/rolePolicy:RolePolicy", "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                    "aws:cloudwatch/logGroup:LogGroup", "kong-aws:index:GatewaySync", "kong-aws:index:PodMetricsAccess",
                    "kubernetes:batch/v1:Job", "kubernetes:core/v1:Secret", "kong-aws:index:ClusterCertificate",
                    # the metrics agent's Deployment, its ServiceAccount and the data planes' headless Service
                    "kubernetes:apps/v1:Deployment", "kubernetes:core/v1:ServiceAccount", "kubernetes:core/v1:Service",
                    "tls:index/certRequest:CertRequest", "tls:index/locallySignedCert:LocallySignedCert",
                    "tls:index/privateKey:PrivateKey", "tls:index/selfSignedCert:SelfSignedCert"]
    expected = {"dev": sorted(konnect_ecs + slots + monitoring),
                "konnect-managed": sorted(konnect_ecs + monitoring + ecs_metrics + entities),
                "dev-eks": sorted(set(hybrid + cluster + monitoring + eks_issue_12)),
                "dev-eks-rds-shared": sorted(set(hybrid + cluster + monitoring + eks_issue_12
                                                 + ["aws:cloudwatch/logGroup:LogGroup"]))}
    assert fresh == expected[name]


def test_an_alias_that_names_nothing_earlier_would_be_caught(monkeypatch):
    """The check above can fail: drop the network's alias and its children lose their old URNs."""
    import components.konnect_ecs as konnect_ecs

    original = konnect_ecs.earlier_urn
    monkeypatch.setattr(konnect_ecs, "earlier_urn",
                        lambda chain, name: original(chain, "renamed") if name == "network" else original(chain, name))
    result = _run("dev")
    claimed = {urn for reg in result.registrations for urn in {reg.urn, *reg.aliases}}
    assert [urn for urn in BEFORE["dev"] if urn not in claimed and "::network" in urn]
