"""EKS cluster (components/eks_cluster.py): a new EKS Auto Mode cluster, or an existing one.

Each test runs a small program afresh under the mocks. The cluster's registered inputs are
checked as a CreateCluster request against botocore's EKS model, resources are linked through the
wiring the engine received (property dependencies, dependencies, provider references), and the
kubeconfig is read back from the stack output.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from typing import Any, Optional

import pulumi
import pulumi_aws as aws
import pytest
from pulumi.runtime import rpc

from components.eks_cluster import (EksCluster, EksClusterArgs, access_entries, admin_principals, cli_identity,
                                    cluster_name_for, kubeconfig_document)
from tests.conftest import config_text, validate_aws_request
from tools import mocks
from tools.mocks import ACCOUNT_ID, Registration, RunResult, main_program, mask_secrets, run_program
from tools.plan import CREATE, plan

REGION = "us-west-2"
COMPONENT = "kong-aws:index:EksCluster"
CLUSTER = "aws:eks/cluster:Cluster"
ROLE = "aws:iam/role:Role"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
KEY = "aws:kms/key:Key"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ENTRY = "aws:eks/accessEntry:AccessEntry"
ASSOCIATION = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
K8S_PROVIDER = "pulumi:providers:kubernetes"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
GET_CLUSTER = "aws:eks/getCluster:getCluster"
PRIVATE = ["subnet-0a1b2c3d4e5f60003", "subnet-0a1b2c3d4e5f60004"]
PUBLIC = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]
#: The deploying identity of the fake cloud (tools/mocks.py): an assumed-role session and its role.
DEPLOYER_SESSION = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/platform-deployer/kong-aws-offline"
DEPLOYER_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/platform-deployer"
#: The roles of the stack's config: the deploy role (admin) and the pull requests' preview role.
DEPLOY_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/kong-aws-deploy"
PREVIEW_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/kong-aws-preview"
ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
VIEW_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminViewPolicy"
MANAGED_POLICY_ARN = re.compile(r"^arn:aws:iam::aws:policy/([A-Za-z0-9]+)$")
#: The managed policy of the Container Insights agent's role (install-CloudWatch-Observability-EKS-addon.html).
AGENT_POLICY = "CloudWatchAgentServerPolicy"
OUTPUTS = ("cluster_name", "endpoint", "cluster_security_group_id", "kubeconfig", "storage_class_name",
           "load_balancer_class", "vpc_id", "subnet_ids", "pod_node_selector", "container_insights")


def _args(eks: Optional[dict], private: list[str] = PRIVATE) -> EksClusterArgs:
    """``EksClusterArgs`` from settings written as in ``kong-aws:eks`` (camelCase keys); a new
    cluster gets ``adminRoleArns`` [:data:`DEPLOY_ROLE`] unless ``eks`` says otherwise."""
    eks = dict(eks or {})
    if "clusterName" not in eks:
        eks.setdefault("adminRoleArns", [DEPLOY_ROLE])
    settings = {re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), key): value
                for key, value in eks.items()}
    return EksClusterArgs(**settings, private_subnet_ids=private, region=REGION)  # type: ignore[typeddict-item]


_RUNS: dict[tuple, RunResult] = {}
_CALL = mocks.FakeCloud.call
#: What a cached run depends on besides its arguments: tests that patch one get runs of their own.
_HARNESS = (_CALL, mocks.FakeCloud.new_resource, EksCluster, cli_identity, kubeconfig_document)


def _run(eks: Optional[dict] = None, alt_provider: bool = False, prior: Optional[RunResult] = None,
         transformation=None) -> RunResult:
    """Run one EksCluster (config ``kong-aws:eks`` = ``eks``) and export its outputs; with
    ``alt_provider`` the component is given an explicit AWS provider ``alt``; ``prior`` is an
    earlier run standing for the state; ``transformation`` is applied to the component's children.
    A plain run (none of those, the fake cloud unpatched) is made once per worker; callers get copies."""
    import components.eks_cluster as module
    harness = (mocks.FakeCloud.call, mocks.FakeCloud.new_resource, module.EksCluster, module.cli_identity,
               module.kubeconfig_document)
    if not alt_provider and prior is None and transformation is None and harness == _HARNESS:
        key = (json.dumps(eks, sort_keys=True),)
        if key not in _RUNS:
            _RUNS[key] = _run_afresh(eks)
        return copy.deepcopy(_RUNS[key])
    return _run_afresh(eks, alt_provider, prior, transformation)


def _run_afresh(eks: Optional[dict] = None, alt_provider: bool = False, prior: Optional[RunResult] = None,
                transformation=None) -> RunResult:

    def program() -> None:
        options = pulumi.ResourceOptions(transformations=[transformation] if transformation else None)
        if alt_provider:
            options = pulumi.ResourceOptions(providers=[aws.Provider("alt", region=REGION)])
        cluster = EksCluster("eks", _args(eks), options)
        for key in OUTPUTS:
            pulumi.export(key, getattr(cluster, key))
        pulumi.export("provider_urn", cluster.provider.urn)

    return run_program(program, {"aws:region": REGION}, prior=prior)


def _target(result: RunResult, reg: Registration, prop: str) -> Registration:
    urns = reg.property_dependencies.get(prop, [])
    assert len(urns) == 1, f"{reg.name}.{prop} depends on {urns}"
    return result.by_urn()[urns[0]]


def _statements(policy_json: str) -> list[dict]:
    document = json.loads(policy_json)
    assert document["Version"] == "2012-10-17"
    return document["Statement"]


def _actions(statement: dict) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def create_cluster_request(inputs: dict) -> dict[str, Any]:
    """The EKS CreateCluster request the registered ``aws.eks.Cluster`` inputs stand for."""
    vpc = inputs["vpcConfig"]
    request = {
        "name": inputs["name"],
        "version": inputs["version"],
        "roleArn": inputs["roleArn"],
        "resourcesVpcConfig": {k: vpc[k] for k in ("subnetIds", "endpointPublicAccess", "endpointPrivateAccess",
                                                   "publicAccessCidrs") if k in vpc},
        "kubernetesNetworkConfig": inputs["kubernetesNetworkConfig"],
        "logging": {"clusterLogging": [{"types": inputs["enabledClusterLogTypes"], "enabled": True}]},
        "encryptionConfig": [inputs["encryptionConfig"]],
        "accessConfig": inputs["accessConfig"],
        "bootstrapSelfManagedAddons": inputs["bootstrapSelfManagedAddons"],
        "computeConfig": inputs["computeConfig"],
        "storageConfig": inputs["storageConfig"],
        "upgradePolicy": inputs["upgradePolicy"],
    }
    return mask_secrets(request)


# --- a new EKS Auto Mode cluster ----------------------------------------------------------------

def test_cluster_is_a_valid_create_cluster_request(botocore_loader):
    result = _run({"version": "1.32", "publicAccessCidrs": ["203.0.113.0/24"]})
    request = create_cluster_request(result.one(CLUSTER).inputs)
    assert validate_aws_request(botocore_loader, "eks", "CreateCluster", request) == []
    # botocore checks lengths but not patterns: the name rule of the model, checked here.
    model = botocore_loader.load_service_model("eks", "service-2")
    assert re.match(model["shapes"]["ClusterName"]["pattern"], request["name"])
    assert request["name"] == "kong-aws-test-eks" and request["version"] == "1.32"


def test_auto_mode_compute_storage_and_load_balancing_are_enabled_together():
    result = _run()
    inputs = result.one(CLUSTER).inputs
    compute = inputs["computeConfig"]
    assert compute["enabled"] is True and compute["nodePools"] == ["general-purpose", "system"]
    assert _target(result, result.one(CLUSTER), "computeConfig").name == "eks-node-role"
    assert inputs["kubernetesNetworkConfig"] == {"elasticLoadBalancing": {"enabled": True}}
    assert inputs["storageConfig"] == {"blockStorage": {"enabled": True}}
    # Auto Mode runs the networking, DNS and proxy components itself.
    assert inputs["bootstrapSelfManagedAddons"] is False
    assert inputs["accessConfig"] == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}
    assert inputs["upgradePolicy"] == {"supportType": "STANDARD"}
    assert inputs["version"] == "1.33"  # the model's default


def test_nodes_go_to_private_subnets_only():
    vpc = _run().one(CLUSTER).inputs["vpcConfig"]
    # Auto Mode puts nodes in every cluster subnet; public ones would leave nodes exposed or cut off.
    assert vpc["subnetIds"] == PRIVATE
    assert not set(vpc["subnetIds"]) & set(PUBLIC)


@pytest.mark.parametrize("eks, public, cidrs", [
    ({}, True, ["0.0.0.0/0"]),
    ({"publicAccessCidrs": ["203.0.113.0/24", "198.51.100.7/32"]}, True, ["203.0.113.0/24", "198.51.100.7/32"]),
    ({"endpointPublicAccess": False}, False, None),
])
def test_endpoint_access_follows_config(eks, public, cidrs):
    vpc = _run(eks).one(CLUSTER).inputs["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["endpointPublicAccess"] is public
    assert vpc.get("publicAccessCidrs") == cidrs


def test_roles_trust_their_services_and_carry_the_auto_mode_policies():
    result = _run()
    roles = {r.name: r for r in result.of_type(ROLE)}
    # The third, the Container Insights agent's role, is checked with its add-on below.
    assert set(roles) == {"eks-cluster-role", "eks-node-role", "eks-container-insights-role"}

    (cluster_trust,) = _statements(roles["eks-cluster-role"].inputs["assumeRolePolicy"])
    assert cluster_trust["Effect"] == "Allow" and cluster_trust["Principal"] == {"Service": "eks.amazonaws.com"}
    assert _actions(cluster_trust) == {"sts:AssumeRole", "sts:TagSession"}
    (node_trust,) = _statements(roles["eks-node-role"].inputs["assumeRolePolicy"])
    assert node_trust["Effect"] == "Allow" and node_trust["Principal"] == {"Service": "ec2.amazonaws.com"}
    assert _actions(node_trust) == {"sts:AssumeRole"}

    attached: dict[str, set[str]] = {name: set() for name in roles}
    cluster_roles: set[str] = set()
    for attachment in result.of_type(ATTACHMENT):
        match = MANAGED_POLICY_ARN.match(attachment.inputs["policyArn"])
        assert match, attachment.inputs["policyArn"]
        role_name = _target(result, attachment, "role").name
        attached[role_name].add(match.group(1))
        if role_name != "eks-container-insights-role":
            cluster_roles.add(attachment.urn)
    assert attached == {
        "eks-cluster-role": {"AmazonEKSClusterPolicy", "AmazonEKSComputePolicy", "AmazonEKSBlockStoragePolicy",
                             "AmazonEKSLoadBalancingPolicy", "AmazonEKSNetworkingPolicy"},
        "eks-node-role": {"AmazonEKSWorkerNodeMinimalPolicy", "AmazonEC2ContainerRegistryPullOnly"},
        "eks-container-insights-role": {AGENT_POLICY},
    }
    cluster = result.one(CLUSTER)
    assert _target(result, cluster, "roleArn").name == "eks-cluster-role"
    # The roles have their permissions before EKS starts using them.
    assert cluster_roles and cluster_roles <= set(cluster.dependencies)


def test_secrets_are_encrypted_with_a_rotating_key_the_cluster_role_may_use():
    result = _run()
    cluster, key = result.one(CLUSTER), result.one(KEY)
    encryption = cluster.inputs["encryptionConfig"]
    assert encryption["resources"] == ["secrets"]
    assert _target(result, cluster, "encryptionConfig").urn == key.urn
    assert key.inputs["enableKeyRotation"] is True
    # EKS needs a symmetric encrypt/decrypt key (enable-kms.html).
    assert (key.inputs["keyUsage"], key.inputs["customerMasterKeySpec"]) == ("ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT")

    inline = result.one(ROLE_POLICY)
    assert _target(result, inline, "role").name == "eks-cluster-role"
    statements = {s["Sid"]: s for s in _statements(inline.inputs["policy"])}
    assert statements["SecretsEncryptionKey"]["Resource"] == encryption["provider"]["keyArn"]
    assert _actions(statements["SecretsEncryptionKey"]) == {"kms:Encrypt", "kms:Decrypt", "kms:ListGrants",
                                                            "kms:DescribeKey"}
    assert statements["NoUnmanagedLogGroup"]["Effect"] == "Deny"
    assert inline.urn in cluster.dependencies


def test_control_plane_logs_go_to_a_log_group_made_first():
    result = _run({"logRetentionDays": 90})
    cluster, log_group = result.one(CLUSTER), result.one(LOG_GROUP)
    assert cluster.inputs["enabledClusterLogTypes"] == ["api", "audit", "authenticator"]
    # The group EKS writes to; created first so that EKS does not make one without retention.
    assert log_group.inputs["name"] == f"/aws/eks/{cluster.inputs['name']}/cluster"
    assert log_group.inputs["retentionInDays"] == 90
    assert log_group.urn in cluster.dependencies


def test_admin_and_preview_roles_from_config_get_their_access_policies(botocore_loader):
    ops = f"arn:aws:iam::{ACCOUNT_ID}:role/teams/platform/ops"
    result = _run({"adminRoleArns": [DEPLOY_ROLE, ops], "previewRoleArns": [PREVIEW_ROLE]})
    cluster = result.one(CLUSTER)
    entries = result.of_type(ENTRY)
    assert [e.inputs["principalArn"] for e in entries] == [DEPLOY_ROLE, ops, PREVIEW_ROLE]
    # Nothing is asked about the caller: who runs Pulumi changes nothing.
    assert result.invokes == []

    policies = {_target(result, a, "principalArn").inputs["principalArn"]: a.inputs["policyArn"]
                for a in result.of_type(ASSOCIATION)}
    assert policies == {DEPLOY_ROLE: ADMIN_POLICY, ops: ADMIN_POLICY, PREVIEW_ROLE: VIEW_POLICY}
    for entry in entries:
        assert entry.inputs["type"] == "STANDARD"
        assert _target(result, entry, "clusterName").urn == cluster.urn
        request = {k: entry.inputs[k] for k in ("clusterName", "principalArn", "type")}
        assert validate_aws_request(botocore_loader, "eks", "CreateAccessEntry", request) == []
    for association in result.of_type(ASSOCIATION):
        assert association.inputs["accessScope"] == {"type": "cluster"}
        request = {k: association.inputs[k] for k in ("clusterName", "principalArn", "policyArn", "accessScope")}
        assert validate_aws_request(botocore_loader, "eks", "AssociateAccessPolicy", request) == []
    # Identified by (cluster, principal[, policy]): replaced delete-first, never created twice.
    assert all(r.options["deleteBeforeReplace"] for r in entries + result.of_type(ASSOCIATION))


def test_a_role_listed_twice_gets_one_entry():
    result = _run({"adminRoleArns": [DEPLOY_ROLE, DEPLOY_ROLE]})
    assert [e.inputs["principalArn"] for e in result.of_type(ENTRY)] == [DEPLOY_ROLE]
    assert len(result.of_type(ASSOCIATION)) == 1


def test_access_comes_from_config_only_and_refuses_sessions_and_empty_lists():
    ops = f"arn:aws:iam::{ACCOUNT_ID}:role/ops"
    user = f"arn:aws:iam::{ACCOUNT_ID}:user/alice"
    assert admin_principals([ops, DEPLOY_ROLE, ops]) == [ops, DEPLOY_ROLE]
    assert admin_principals([user]) == [user]
    assert access_entries([ops], [PREVIEW_ROLE]) == [(ops, "AmazonEKSClusterAdminPolicy"),
                                                     (PREVIEW_ROLE, "AmazonEKSAdminViewPolicy")]
    for arn in (DEPLOYER_SESSION, f"arn:aws:sts::{ACCOUNT_ID}:federated-user/bob", f"arn:aws:iam::{ACCOUNT_ID}:root"):
        with pytest.raises(ValueError, match="not an IAM role or user"):
            admin_principals([ops, arn])
    with pytest.raises(ValueError, match=r"empty.*arn:aws:iam::123456789012:role/.*kong-aws:eks.adminRoleArns"):
        admin_principals([])
    with pytest.raises(ValueError, match="both an admin and a preview role"):
        access_entries([ops], [ops])


def _session_of(role: str):
    """A FakeCloud.call that answers for ``role``'s assumed-role session instead of the default."""
    original = mocks.FakeCloud.call

    def call(self, args):
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            self.invokes.append((args.token, args.args))
            return {"id": ACCOUNT_ID, "accountId": ACCOUNT_ID, "userId": "AROAPREVIEW:gha",
                    "arn": f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role.rsplit('/', 1)[1]}/gha"}
        if args.token == "aws:iam/getSessionContext:getSessionContext":
            self.invokes.append((args.token, args.args))
            return {"id": args.args["arn"], "arn": args.args["arn"], "issuerArn": role, "issuerId": "AROAPREVIEW",
                    "issuerName": role.rsplit("/", 1)[1], "sessionName": "gha"}
        return original(self, args)

    return call


HYBRID = {"aws:region": REGION, "kong-aws:mode": "hybrid-eks", "kong-aws:kong": {"version": "3.10.0.2"},
          "kong-aws:postgres": {"mode": "in-cluster"},
          "kong-aws:eks": {"adminRoleArns": [DEPLOY_ROLE], "previewRoleArns": [PREVIEW_ROLE]}}


def test_a_preview_under_the_preview_role_plans_no_change(monkeypatch):
    """The same stack run as the deploy role (the state) and then as the preview role, as a
    pull request's `pulumi preview` runs it: nothing changes, access entries included. Before,
    the caller's role got an access entry, so the preview planned to replace the deploy role's."""
    config = config_text(HYBRID)
    monkeypatch.setattr(mocks.FakeCloud, "call", _session_of(DEPLOY_ROLE))
    deployed = run_program(main_program(), config, stack="dev-eks")
    monkeypatch.setattr(mocks.FakeCloud, "call", _session_of(PREVIEW_ROLE))
    previewed = run_program(main_program(), config, stack="dev-eks", prior=deployed)
    assert plan(deployed, previewed).changes() == {}
    assert [e.inputs["principalArn"] for e in previewed.of_type(ENTRY)] == [DEPLOY_ROLE, PREVIEW_ROLE]
    # The stand-in identity is never asked for: who runs Pulumi cannot reach the plan.
    identity = {"aws:index/getCallerIdentity:getCallerIdentity", "aws:iam/getSessionContext:getSessionContext"}
    assert not [token for token, _ in deployed.invokes + previewed.invokes if token in identity]


def test_adding_or_reordering_access_roles_creates_only_the_new_entries():
    """Day 2: access entries are replaced delete-first, so a change to eks.previewRoleArns that
    replaced the deploy role's entry would lock the deploy out mid-update. Adding a role creates
    its entry and association and touches nothing else; reordering the list changes nothing."""
    ops = f"arn:aws:iam::{ACCOUNT_ID}:role/ops-readonly"

    def with_preview(*roles: str) -> dict[str, str]:
        return config_text({**HYBRID, "kong-aws:eks": {"adminRoleArns": [DEPLOY_ROLE], "previewRoleArns": list(roles)}})

    before = run_program(main_program(), with_preview(PREVIEW_ROLE), stack="dev-eks")
    added = run_program(main_program(), with_preview(PREVIEW_ROLE, ops), stack="dev-eks", prior=before)
    changes = plan(before, added).changes()
    created = [r for r in added.registrations if r.urn in changes]
    assert sorted(changes.values()) == [CREATE, CREATE]
    assert sorted(r.type for r in created) == sorted([ENTRY, ASSOCIATION])
    assert all(r.inputs["principalArn"] == ops for r in created)
    reordered = run_program(main_program(), with_preview(ops, PREVIEW_ROLE), stack="dev-eks", prior=added)
    assert plan(added, reordered).changes() == {}


def test_a_new_cluster_role_replaces_the_cluster_delete_first():
    """The cluster has a fixed name: its replacement deletes the old cluster first (EKS refuses a
    second cluster of that name). The role itself is auto-named: created first."""

    def older_role(args: pulumi.ResourceTransformationArgs):
        if args.type_ == ROLE and args.name == "eks-cluster-role":
            return pulumi.ResourceTransformationResult({**args.props, "path": "/legacy/"}, args.opts)
        return None

    before = _run(transformation=older_role)
    after = _run(prior=before)
    steps = plan(before, after)
    (cluster,) = steps.of_type(CLUSTER)
    assert (cluster.op, cluster.delete_first) == ("replace", True) and "roleArn" in cluster.changed
    role = next(s for s in steps.of_type(ROLE) if s.urn.endswith("::eks-cluster-role"))
    assert (role.op, role.delete_first) == ("replace", False)


def test_a_new_secrets_key_replaces_the_cluster_delete_first():
    """EKS cannot change a cluster's encryption key and the provider would plan an update that
    does nothing (terraform-provider-aws cluster.go associates only a first encryption config), so
    the cluster asks for a replacement when its key changes."""

    def older_key(args: pulumi.ResourceTransformationArgs):
        if args.type_ == KEY:
            return pulumi.ResourceTransformationResult({**args.props, "key_usage": "GENERATE_VERIFY_MAC",
                                                        "customer_master_key_spec": "HMAC_256"}, args.opts)
        return None

    before = _run(transformation=older_key)
    after = _run(prior=before)
    steps = plan(before, after)
    (cluster,) = steps.of_type(CLUSTER)
    assert (cluster.op, cluster.delete_first, cluster.changed[0]) == ("replace", True, "encryptionConfig")
    assert after.one(CLUSTER).options["replaceOnChanges"] == ["encryptionConfig"]


def test_default_storage_class_uses_auto_mode_block_storage():
    result = _run()
    storage_class = result.one(STORAGE_CLASS)
    inputs = storage_class.inputs
    assert inputs["provisioner"] == "ebs.csi.eks.amazonaws.com"
    assert inputs["parameters"] == {"type": "gp3", "encrypted": "true"}
    assert inputs["volumeBindingMode"] == "WaitForFirstConsumer"
    assert inputs["reclaimPolicy"] == "Delete"
    assert inputs["metadata"]["annotations"] == {"storageclass.kubernetes.io/is-default-class": "true"}
    assert inputs["allowedTopologies"] == [{"matchLabelExpressions": [
        {"key": "eks.amazonaws.com/compute-type", "values": ["auto"]}]}]
    assert result.outputs["storage_class_name"] == (inputs["metadata"]["name"], False)
    assert result.outputs["load_balancer_class"] == ("eks.amazonaws.com/nlb", False)


def test_kubeconfig_is_secret_and_execs_aws_eks_get_token():
    result = _run()
    text, secret = result.outputs["kubeconfig"]
    assert secret is True
    kubeconfig = json.loads(text)
    name, endpoint = result.outputs["cluster_name"][0], result.outputs["endpoint"][0]
    assert endpoint.startswith("https://") and endpoint.endswith(f".{REGION}.eks.amazonaws.com")
    (cluster,) = kubeconfig["clusters"]
    assert cluster["cluster"]["server"] == endpoint
    assert "BEGIN CERTIFICATE" in base64.b64decode(cluster["cluster"]["certificate-authority-data"]).decode()
    (user,) = kubeconfig["users"]
    exec_ = user["user"]["exec"]
    assert exec_["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert exec_["command"] == "aws"
    assert exec_["args"][:6] == ["eks", "get-token", "--cluster-name", name, "--region", REGION]
    assert kubeconfig["current-context"] == kubeconfig["contexts"][0]["name"]
    assert "token" not in user["user"]
    assert result.outputs["cluster_security_group_id"][0].startswith("sg-")


def test_kubernetes_provider_uses_the_secret_kubeconfig_and_waits_for_access():
    result = _run({"adminRoleArns": [DEPLOY_ROLE], "previewRoleArns": [PREVIEW_ROLE]})
    provider = result.one(K8S_PROVIDER)
    assert rpc.is_rpc_secret(provider.inputs["kubeconfig"])
    assert rpc.unwrap_rpc_secret(provider.inputs["kubeconfig"]) == result.outputs["kubeconfig"][0]
    access = {r.urn for r in result.of_type(ENTRY) + result.of_type(ASSOCIATION)}
    assert len(access) == 4 and access <= set(provider.dependencies)
    # ``provider`` is that provider, a child of the component.
    assert result.outputs["provider_urn"][0] == provider.urn
    assert provider.parent == result.one(COMPONENT).urn


def test_every_kubernetes_object_uses_the_clusters_provider():
    result = _run()
    provider = result.one(K8S_PROVIDER)
    objects = [r for r in result.registrations if r.type.startswith("kubernetes:")]
    assert objects and all(r.provider and r.provider.startswith(provider.urn + "::") for r in objects)


@pytest.mark.parametrize("eks", [{}, {"clusterName": "platform-prod"}])
def test_children_and_invokes_belong_to_the_component(eks):
    result = _run(eks, alt_provider=True)
    component = result.one(COMPONENT)
    alt = result.one("pulumi:providers:aws")
    children = [r for r in result.registrations if r.type not in ("pulumi:pulumi:Stack", COMPONENT)
                and r.urn != alt.urn]
    assert children and all(r.parent == component.urn for r in children)
    # An invoke parented to the component inherits its providers, as its AWS children do (a new
    # cluster makes none: nothing is asked about the caller).
    assert bool(result.calls) == ("clusterName" in eks)
    assert all((c.provider or "").startswith(alt.urn + "::") for c in result.calls)
    assert all((r.provider or "").startswith(alt.urn + "::") for r in children if r.type.startswith("aws:"))


@pytest.mark.parametrize("eks, private, message", [
    ({"storageClassName": "gp2"}, PRIVATE, "storage_class_name"),
    ({"loadBalancerClass": "service.k8s.aws/nlb"}, PRIVATE, "load_balancer_class"),
    ({"clusterName": "platform-prod", "adminRoleArns": [DEPLOYER_ROLE]}, PRIVATE, "admin_role_arns"),
    ({"clusterName": "platform-prod", "previewRoleArns": [PREVIEW_ROLE]}, PRIVATE, "preview_role_arns"),
    ({}, PRIVATE[:1], "at least two availability zones"),
    ({"adminRoleArns": []}, PRIVATE, "admin_role_arns is empty"),
    ({"adminRoleArns": [DEPLOYER_SESSION]}, PRIVATE, "not an IAM role or user"),
    ({"previewRoleArns": [DEPLOY_ROLE]}, PRIVATE, "both an admin and a preview role"),
])
def test_settings_that_cannot_work_are_refused_before_anything(eks, private, message):
    errors: list[ValueError] = []

    def program() -> None:
        try:
            EksCluster("eks", _args(eks, private))
        except ValueError as error:
            errors.append(error)

    result = run_program(program, {"aws:region": REGION})
    assert len(errors) == 1 and message in str(errors[0])
    assert [r.type for r in result.registrations] == ["pulumi:pulumi:Stack"]
    assert result.invokes == []


@pytest.mark.parametrize("project, stack, name", [
    ("kong-aws", "dev.eu", "eks"),
    ("kong-aws", "s" * 120, "eks"),
    ("_proj", "dev", "eks"),
])
def test_cluster_names_follow_the_eks_rule(botocore_loader, project, stack, name):
    pattern = botocore_loader.load_service_model("eks", "service-2")["shapes"]["ClusterName"]["pattern"]
    cluster_name = cluster_name_for(project, stack, name)
    assert re.fullmatch(pattern, cluster_name) and 1 <= len(cluster_name) <= 100
    assert cluster_name != cluster_name_for(project, stack + "x", name)


def test_kubeconfig_document_names_one_cluster_context_and_user():
    doc = kubeconfig_document("c1", "https://example.eks.amazonaws.com", "Q0E=", "eu-west-1")
    assert doc["kind"] == "Config" and doc["apiVersion"] == "v1"
    assert [c["name"] for c in doc["clusters"]] == [u["name"] for u in doc["users"]] == ["c1"]
    exec_ = doc["users"][0]["user"]["exec"]
    assert exec_["args"][-4:] == ["--region", "eu-west-1", "--output", "json"]
    # Without a profile or a role, the CLI signs with the credentials it finds, as the provider does.
    assert "env" not in exec_


#: ``aws eks get-token``'s own options (AWS CLI reference, eks get-token) and the global ones used.
GET_TOKEN_OPTIONS = {"--cluster-name", "--role-arn", "--cluster-id"}
GLOBAL_OPTIONS = {"--region", "--output", "--profile"}


@pytest.mark.parametrize("eks", [{}, {"clusterName": "platform-prod"}])
def test_kubeconfig_signs_as_the_aws_providers_profile_and_role(eks):
    result = _run({**eks, "awsProfile": "kong-deploy", "awsRoleArn": DEPLOY_ROLE})
    exec_ = json.loads(result.outputs["kubeconfig"][0])["users"][0]["user"]["exec"]
    args = exec_["args"]
    assert args[:2] == ["eks", "get-token"]
    options = dict(zip(args[2::2], args[3::2]))
    assert set(options) <= GET_TOKEN_OPTIONS | GLOBAL_OPTIONS and len(args) == 2 + 2 * len(options)
    assert options["--role-arn"] == DEPLOY_ROLE and options["--profile"] == "kong-deploy"
    assert options["--region"] == REGION and options["--output"] == "json"
    assert exec_["env"] == [{"name": "AWS_PROFILE", "value": "kong-deploy"}]


def test_cli_identity_follows_aws_profile_and_one_assumed_role():
    assert cli_identity(None, None) == {}
    assert cli_identity("ops", None) == {"aws_profile": "ops"}
    assert cli_identity(None, "[]") == {}
    # A session name only names the session; EKS maps the session to its role.
    roles = json.dumps([{"roleArn": DEPLOY_ROLE, "sessionName": "pulumi", "duration": "1h"}])
    assert cli_identity("ops", roles) == {"aws_profile": "ops", "aws_role_arn": DEPLOY_ROLE}


@pytest.mark.parametrize("roles, message", [
    ([{"roleArn": DEPLOY_ROLE, "externalId": "x-123"}], r"aws:assumeRoles\[0\].externalId.*aws:profile"),
    ([{"roleArn": PREVIEW_ROLE}, {"roleArn": DEPLOY_ROLE}], "a chain of 2 roles.*aws:profile"),
    ([{"sessionName": "s"}], r"aws:assumeRoles\[0\].roleArn"),
    ("not json", "aws:assumeRoles: not JSON"),
])
def test_an_assumed_role_the_cli_cannot_reproduce_is_refused(roles, message):
    with pytest.raises(ValueError, match=message):
        cli_identity(None, roles if isinstance(roles, str) else json.dumps(roles))


def test_the_stacks_aws_profile_and_assumed_role_reach_the_kubeconfig():
    config = config_text({**HYBRID, "aws:profile": "kong-deploy",
                          "aws:assumeRoles": [{"roleArn": DEPLOY_ROLE, "sessionName": "pulumi"}]})
    result = run_program(main_program(), config, stack="dev-eks")
    text, secret = result.outputs["kubeconfig"]
    exec_ = json.loads(text)["users"][0]["user"]["exec"]
    assert secret and exec_["args"][-4:] == ["--role-arn", DEPLOY_ROLE, "--profile", "kong-deploy"]
    assert exec_["env"] == [{"name": "AWS_PROFILE", "value": "kong-deploy"}]


# --- an existing cluster -------------------------------------------------------------------------

def test_existing_cluster_is_looked_up_and_nothing_is_created():
    result = _run({"clusterName": "platform-prod", "storageClassName": "gp3-encrypted"})
    assert [r.type for r in result.registrations if r.type.startswith("aws:")] == []
    assert result.of_type(STORAGE_CLASS) == []
    assert [args for token, args in result.invokes if token == GET_CLUSTER] == [{"name": "platform-prod"}]
    # No identity lookup: an existing cluster gets no access entries.
    assert [token for token, _ in result.invokes] == [GET_CLUSTER]

    assert result.outputs["cluster_name"][0] == "platform-prod"
    assert result.outputs["storage_class_name"] == ("gp3-encrypted", False)
    assert result.outputs["load_balancer_class"] == ("service.k8s.aws/nlb", False)
    kubeconfig, secret = result.outputs["kubeconfig"]
    assert secret is True
    doc = json.loads(kubeconfig)
    assert doc["clusters"][0]["cluster"]["server"] == result.outputs["endpoint"][0]
    assert doc["users"][0]["user"]["exec"]["args"][:4] == ["eks", "get-token", "--cluster-name", "platform-prod"]
    assert result.outputs["cluster_security_group_id"][0].startswith("sg-")
    assert result.one(K8S_PROVIDER).dependencies == []


def test_existing_cluster_without_a_storage_class_and_with_its_own_load_balancer_class():
    result = _run({"clusterName": "platform-prod", "loadBalancerClass": "example.com/nlb"})
    assert result.outputs["storage_class_name"] == (None, False)
    assert result.outputs["load_balancer_class"] == ("example.com/nlb", False)


# --- what the releases need: metrics-server, network policy, the cluster's own network ----------

ADDON = "aws:eks/addon:Addon"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
NODE_CLASS = "kubernetes:eks.amazonaws.com/v1:NodeClass"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"


def _addon_request(inputs: dict) -> dict:
    """The CreateAddon request a registered ``aws.eks.Addon`` stands for."""
    return {"clusterName": inputs["clusterName"], "addonName": inputs["addonName"],
            "resolveConflicts": inputs["resolveConflictsOnCreate"]}


#: Both add-ons off for a new cluster, and on for an existing one: one run each serves both add-ons' tests.
NEW_WITHOUT_ADDONS = {"metricsServer": False, "containerInsights": False}
EXISTING_WITH_ADDONS = {"clusterName": "platform-prod", "metricsServer": True, "containerInsights": True}


def _addons(result: RunResult, addon_name: str) -> list[Registration]:
    return [a for a in result.of_type(ADDON) if a.inputs["addonName"] == addon_name]


@pytest.mark.parametrize("eks, installed", [
    (None, True), (NEW_WITHOUT_ADDONS, False),
    ({"clusterName": "platform-prod"}, False), (EXISTING_WITH_ADDONS, True)])
def test_metrics_server_add_on_on_new_clusters_and_on_request(botocore_loader, eks, installed):
    result = _run(eks)
    addons = _addons(result, "metrics-server")
    assert len(addons) == int(installed)
    for addon in addons:
        assert addon.inputs["addonName"] == "metrics-server"
        # Never takes over a Metrics Server someone else installed, nor settings someone changed.
        assert (addon.inputs["resolveConflictsOnCreate"], addon.inputs["resolveConflictsOnUpdate"]) == ("NONE", "PRESERVE")
        update = {"clusterName": addon.inputs["clusterName"], "addonName": "metrics-server",
                  "resolveConflicts": addon.inputs["resolveConflictsOnUpdate"]}
        assert validate_aws_request(botocore_loader, "eks", "UpdateAddon", update) == []
        # On a new cluster, after the access entries (the deploy role may then act on the cluster).
        entries = {r.urn for r in result.of_type(ENTRY)}
        assert entries <= set(addon.dependencies)
        assert validate_aws_request(botocore_loader, "eks", "CreateAddon", _addon_request(addon.inputs)) == []
        expected = (eks or {}).get("clusterName") or result.one(CLUSTER).inputs["name"]
        assert addon.inputs["clusterName"] == expected


CONTAINER_INSIGHTS = "amazon-cloudwatch-observability"


def _container_insights(result: RunResult) -> tuple[Registration, Registration, Registration]:
    """The Container Insights add-on, the role its pod identity association names, and that
    role's one policy attachment."""
    (addon,) = _addons(result, CONTAINER_INSIGHTS)
    role = _target(result, addon, "podIdentityAssociations")
    (attachment,) = [a for a in result.of_type(ATTACHMENT) if _target(result, a, "role").urn == role.urn]
    return addon, role, attachment


@pytest.mark.parametrize("eks, installed", [
    (None, True), (NEW_WITHOUT_ADDONS, False),
    ({"clusterName": "platform-prod"}, False), (EXISTING_WITH_ADDONS, True)])
def test_container_insights_on_new_clusters_and_on_request(botocore_loader, eks, installed):
    result = _run(eks)
    assert result.outputs["container_insights"] == (installed, False)
    assert len(_addons(result, CONTAINER_INSIGHTS)) == int(installed)
    roles = [r for r in result.of_type(ROLE) if "pods.eks.amazonaws.com" in r.inputs["assumeRolePolicy"]]
    assert len(roles) == int(installed)
    if not installed:
        return
    addon, role, attachment = _container_insights(result)
    assert roles == [role]
    request = {key: addon.inputs[key] for key in ("clusterName", "addonName", "configurationValues",
                                                  "podIdentityAssociations")}
    request["resolveConflicts"] = addon.inputs["resolveConflictsOnCreate"]
    assert validate_aws_request(botocore_loader, "eks", "CreateAddon", request) == []
    update = {**request, "resolveConflicts": addon.inputs["resolveConflictsOnUpdate"]}
    assert validate_aws_request(botocore_loader, "eks", "UpdateAddon", update) == []
    # Never takes over a CloudWatch agent someone installed, nor settings someone changed.
    assert (request["resolveConflicts"], update["resolveConflicts"]) == ("NONE", "PRESERVE")
    expected = (eks or {}).get("clusterName") or result.one(CLUSTER).inputs["name"]
    assert addon.inputs["clusterName"] == expected
    # The agent's service account gets the role through EKS Pod Identity.
    assert request["podIdentityAssociations"] == [{"serviceAccount": "cloudwatch-agent",
                                                   "roleArn": role.outputs["arn"]}]
    # The agent starts with its permissions, and on a new cluster after the access entries.
    assert attachment.urn in addon.dependencies
    assert {r.urn for r in result.of_type(ENTRY)} <= set(addon.dependencies)


def test_container_insights_configuration_keeps_enhanced_metrics_and_drops_container_logs():
    (addon,) = _addons(_run(), CONTAINER_INSIGHTS)
    values = json.loads(addon.inputs["configurationValues"])
    # The add-on's keys (install-CloudWatch-Observability-EKS-addon.html): the agent's own configuration
    # with the enhanced Container Insights metrics the alarms read, and Fluent Bit's container logs off.
    assert values == {"agent": {"config": {"logs": {"metrics_collected": {
                          "kubernetes": {"enhanced_container_insights": True}}}}},
                      "containerLogs": {"enabled": False}}


@pytest.mark.parametrize("eks, partition", [
    (None, "aws"),
    ({"adminRoleArns": [f"arn:aws-cn:iam::{ACCOUNT_ID}:role/kong-aws-deploy"]}, "aws-cn"),
    (EXISTING_WITH_ADDONS, "aws-us-gov"),
])
def test_the_agent_role_trusts_pod_identity_and_has_the_agent_policy_of_its_partition(monkeypatch, eks, partition):
    if partition == "aws-us-gov":
        # An existing cluster's partition comes from its ARN.
        found = mocks.FakeCloud._eks_cluster_state

        def in_gov_cloud(self, cluster_name: str) -> dict:
            state = found(self, cluster_name)
            return {**state, "arn": state["arn"].replace("arn:aws:", "arn:aws-us-gov:")}

        monkeypatch.setattr(mocks.FakeCloud, "_eks_cluster_state", in_gov_cloud)
        result = _run_afresh(eks)
    else:
        result = _run(eks)
    _, role, attachment = _container_insights(result)
    (trust,) = _statements(role.inputs["assumeRolePolicy"])
    assert trust["Effect"] == "Allow" and trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert _actions(trust) == {"sts:AssumeRole", "sts:TagSession"}
    assert "Condition" not in trust
    assert attachment.inputs["policyArn"] == f"arn:{partition}:iam::aws:policy/{AGENT_POLICY}"


def test_turning_container_insights_on_for_an_existing_cluster_only_adds_it():
    """Day 2: an existing cluster's owner turns container_insights on. The add-on, its role and
    the role's policy attachment are created; nothing else changes."""
    before = _run({"clusterName": "platform-prod"})
    after = _run({"clusterName": "platform-prod", "containerInsights": True}, prior=before)
    changes = plan(before, after).changes()
    assert sorted(changes.values()) == [CREATE] * 3
    created = {r.urn: r for r in after.registrations if r.urn in changes}
    assert sorted(r.type for r in created.values()) == sorted([ADDON, ROLE, ATTACHMENT])
    addon, role, attachment = _container_insights(after)
    assert {addon.urn, role.urn, attachment.urn} == set(created)


def test_a_new_cluster_enforces_network_policy_on_the_pool_kong_runs_on():
    result = _run()
    (controller,) = result.of_type(CONFIG_MAP)
    assert controller.inputs["metadata"] == {"name": "amazon-vpc-cni", "namespace": "kube-system"}
    assert controller.inputs["data"] == {"enable-network-policy-controller": "true"}
    node_class, pool = result.one(NODE_CLASS), result.one(NODE_POOL)
    spec = node_class.inputs["spec"]
    assert spec["networkPolicy"] == "DefaultAllow"
    # Where the built-in node class puts nodes: the cluster's private subnets, its security group and node role.
    assert spec["subnetSelectorTerms"] == [{"id": subnet} for subnet in PRIVATE]
    (node_role,) = [r for r in result.of_type(ROLE) if "ec2.amazonaws.com" in r.inputs["assumeRolePolicy"]]
    # The same role the cluster's compute config names (EKS made its access entry with the cluster).
    cluster = result.one(CLUSTER)
    assert node_role.urn in cluster.property_dependencies["computeConfig"]
    assert node_role.urn in node_class.property_dependencies["spec"]
    assert spec["securityGroupSelectorTerms"] == [{"id": result.outputs["cluster_security_group_id"][0]}]
    template = pool.inputs["spec"]["template"]["spec"]
    # What the built-in general-purpose pool takes (set-builtin-node-pools.html): amd64 on-demand c/m/r, gen 5+.
    assert sorted((r["key"], r["operator"], tuple(r["values"])) for r in template["requirements"]) == [
        ("eks.amazonaws.com/instance-category", "In", ("c", "m", "r")),
        ("eks.amazonaws.com/instance-generation", "Gt", ("4",)),
        ("karpenter.sh/capacity-type", "In", ("on-demand",)),
        ("kubernetes.io/arch", "In", ("amd64",))]
    assert template["nodeClassRef"] == {"group": "eks.amazonaws.com", "kind": "NodeClass",
                                        "name": node_class.inputs["metadata"]["name"]}
    assert node_class.urn in pool.dependencies and controller.urn in node_class.dependencies
    assert result.outputs["pod_node_selector"] == ({"karpenter.sh/nodepool": pool.inputs["metadata"]["name"]}, False)


def test_an_existing_cluster_supplies_its_network_and_gets_no_node_pool():
    result = _run({"clusterName": "platform-prod"})
    assert result.of_type(NODE_CLASS) == result.of_type(NODE_POOL) == result.of_type(CONFIG_MAP) == []
    assert result.outputs["pod_node_selector"] == ({}, False)
    found = mocks.FakeCloud(REGION)._eks_cluster_state("platform-prod")["vpcConfig"]
    assert result.outputs["vpc_id"][0] == found["vpcId"]
    assert result.outputs["subnet_ids"][0] == sorted(found["subnetIds"])
