"""The control plane's PostgreSQL (components/postgres.py).

Each test runs a small program afresh under the mocks: a Kubernetes provider and the component, and
checks what was registered: secrets stay secret, the RDS requests are valid for botocore's RDS
model, and the in-cluster objects are locked down. The vendored RDS CA bundle is read with real
cryptography and OpenSSL, and what an existing stack's next `pulumi up` does is read from the plan
(tools/plan.py) against what the component registered before.
"""

from __future__ import annotations

import copy
import datetime
import json
import re
import ssl
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s
import pytest
from pulumi.runtime import rpc

from components import aws_facts
from components import postgres as postgres_module
from components.postgres import (CA_CONFIG_MAP_KEY, CA_CONFIG_MAP_NAME, DB_INSTANCE_IDENTIFIER, RDS_CA_CERT_IDENTIFIER,
                                 RDS_CA_NOT_VENDORED_REGIONS, RDS_CA_ROOT_SUFFIX, PostgresMode, Postgres, PostgresArgs,
                                 data_layout, final_snapshot_identifier, instance_generation, parameter_group_family,
                                 rds_ca_bundle_pem, rds_ca_regions, rds_instance_identifier, rds_log_group_name)
from tests.conftest import PROJECT_ROOT, validate_aws_request
from tools.mocks import RunResult, mask_secrets, run_program, plain_values
from tools.plan import CREATE, DELETE, SAME, UPDATE, plan

COMPONENT = "kong-aws:index:Postgres"
PASSWORD = "random:index/randomPassword:RandomPassword"
INSTANCE = "aws:rds/instance:Instance"
SUBNET_GROUP = "aws:rds/subnetGroup:SubnetGroup"
PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
K8S_PROVIDER = "pulumi:providers:kubernetes"
SECRET = "kubernetes:core/v1:Secret"
SERVICE = "kubernetes:core/v1:Service"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"

VPC_ID = "vpc-0123456789abcdef0"
SUBNETS = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
CLUSTER_SG = "sg-0c1a2b3c4d5e6f708"
OUTPUTS = ("host", "port", "database", "user", "password_secret_name", "password_secret_key", "ssl",
           "ssl_required", "password", "ssl_verify", "ca_config_map_name", "ca_config_map_key")
# A DB snapshot identifier (RDS API reference, DeleteDBInstance FinalDBSnapshotIdentifier).
SNAPSHOT_ID = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,254}(?<!-)$")


def settings(postgres: dict[str, Any]) -> dict[str, Any]:
    """:class:`PostgresSettings` from settings written as in ``kong-aws:postgres`` (camelCase)."""
    return {re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), k.replace("GiB", "Gib")): v
            for k, v in postgres.items()}


_RUNS: dict[tuple, RunResult] = {}
#: What a cached run depends on besides its arguments: tests that patch these (or change them in
#: place) get runs of their own.
def _harness() -> tuple:
    from tools import mocks
    return (postgres_module.rds_instance_identifier, json.dumps(postgres_module.INSTANCE_IDENTITY, sort_keys=True),
            postgres_module.rds_ca_bundle_pem, tuple(sorted(postgres_module.RDS_CA_NOT_VENDORED_REGIONS)),
            json.dumps(postgres_module.POSTGRES_DEFAULTS, sort_keys=True, default=str), postgres_module.Postgres,
            mocks.FakeCloud.call, mocks.FakeCloud.new_resource)


_PATCHABLE = _harness()


def run(postgres: dict[str, Any], prior: Optional[RunResult] = None, region: str = "us-west-2",
        **overrides: Any) -> RunResult:
    """Run the component with ``kong-aws:postgres`` = ``postgres`` (camelCase, as in the stack
    file) in namespace ``kong`` of stack ``test`` in ``region``; ``overrides`` replace
    :class:`PostgresArgs` fields; ``prior`` is an earlier run standing for the state. A plain run
    (no state, no overrides, nothing patched) is made once per worker; each caller gets a copy."""
    if prior is None and not overrides and _harness() == _PATCHABLE:
        key = (json.dumps(postgres, sort_keys=True), region)
        if key not in _RUNS:
            _RUNS[key] = _run(postgres, None, region)
        return copy.deepcopy(_RUNS[key])
    return _run(postgres, prior, region, **overrides)


def _run(postgres: dict[str, Any], prior: Optional[RunResult], region: str, **overrides: Any) -> RunResult:

    def program() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}")
        fields: dict[str, Any] = dict(
            **settings(postgres), namespace="kong", vpc_id=VPC_ID, private_subnet_ids=SUBNETS,
            cluster_security_group_id=CLUSTER_SG)
        fields.update(overrides)
        database = Postgres("kong-postgres", PostgresArgs(**fields),  # type: ignore[typeddict-item]
                            opts=pulumi.ResourceOptions(providers=[provider]))
        for key in OUTPUTS:
            pulumi.export(key, getattr(database, key))

    return run_program(program, {"aws:region": region}, prior=prior)


def key(field_name: str) -> str:
    """The stack-file key of a :class:`PostgresSettings` field, e.g. ``storageGiB`` for ``storage_gib``."""
    head, *rest = field_name.split("_")
    return head + "".join("GiB" if part == "gib" else part.title() for part in rest)


#: ``value`` with every secret marker removed (what the engine would store, decrypted).
plain = plain_values


def pod_spec(result: RunResult) -> dict:
    return result.one(STATEFUL_SET).inputs["spec"]["template"]["spec"]


def container(result: RunResult) -> dict:
    (only,) = pod_spec(result)["containers"]
    return only


def env(result: RunResult) -> dict[str, dict]:
    return {e["name"]: e for e in container(result)["env"]}


# --- The password: secret from the start, everywhere it goes.

@pytest.mark.parametrize("mode", ["rds", "in-cluster"])
def test_the_password_is_secret_everywhere_and_never_plain(mode):
    result = run({"mode": mode})
    password, is_secret = result.outputs["password"]
    assert is_secret and len(password) == 32

    generated = result.one(PASSWORD)
    assert generated.inputs["length"] == 32
    assert generated.inputs["special"] is False  # nothing to quote in a libpq connection string
    assert "result" in generated.options["additionalSecretOutputs"]

    secret = result.one(SECRET)
    assert secret.inputs["type"] == "Opaque"
    assert secret.inputs["metadata"]["name"] == "kong-postgres"
    assert secret.inputs["metadata"]["namespace"] == "kong"
    assert mask_secrets(secret.inputs)["stringData"] == "[secret]"
    assert plain(secret.inputs["stringData"]) == {"password": password}

    if mode == "rds":
        instance = result.one(INSTANCE)
        assert rpc.is_rpc_secret(instance.inputs["password"])
        assert plain(instance.inputs["password"]) == password
    else:
        assert env(result)["POSTGRES_PASSWORD"] == {
            "name": "POSTGRES_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "kong-postgres", "key": "password"}}}

    # The value appears in no registered input outside a secret, and in no plain output.
    for registration in result.registrations:
        assert password not in json.dumps(mask_secrets(registration.inputs)), registration.name
    for key, (value, secret_output) in result.outputs.items():
        assert secret_output or password not in json.dumps(value), key
    assert password not in json.dumps(result.invokes)


@pytest.mark.parametrize("mode,host,tls", [
    ("rds", r"^kong-postgres-instance-[0-9a-f]+\.[0-9a-f]+\.us-west-2\.rds\.amazonaws\.com$", True),
    ("in-cluster", r"^kong-postgres\.kong\.svc\.cluster\.local$", False),
])
def test_outputs_say_how_kong_connects(mode, host, tls):
    result = run({"mode": mode})
    values = {key: value for key, (value, _) in result.outputs.items()}
    assert re.match(host, values["host"])
    assert (values["port"], values["database"], values["user"]) == (5432, "kong", "kong")
    assert (values["password_secret_name"], values["password_secret_key"]) == ("kong-postgres", "password")
    assert values["ssl"] is tls and values["ssl_required"] is tls
    # Verification needs the server's CAs: RDS's are in the ConfigMap; in-cluster there is no TLS.
    assert values["ssl_verify"] is tls
    assert (values["ca_config_map_name"], values["ca_config_map_key"]) == (
        ("kong-postgres-ca", "ca.crt") if tls else (None, None))
    assert all(not result.outputs[key][1] for key in OUTPUTS if key != "password")
    if mode == "rds":
        address = result.one(INSTANCE)
        assert values["host"].startswith(f"{address.name}-")


# --- Structure: parents, providers, no stray resources.

@pytest.mark.parametrize("mode", ["rds", "in-cluster"])
def test_children_are_parented_and_kubernetes_objects_use_the_given_provider(mode):
    result = run({"mode": mode})
    component = result.one(COMPONENT)
    (provider,) = result.of_type(K8S_PROVIDER)  # no default provider was made
    reference = f"{provider.urn}::k8s-provider-id"
    children = [r for r in result.registrations
                if r.type not in ("pulumi:pulumi:Stack", K8S_PROVIDER, COMPONENT)]
    assert children and all(r.parent == component.urn for r in children)
    assert all(r.name.startswith("kong-postgres-") for r in children)
    kubernetes = [r for r in children if r.type.startswith("kubernetes:")]
    assert kubernetes and all(r.provider == reference for r in kubernetes)


def test_rds_mode_runs_nothing_in_the_cluster_and_in_cluster_mode_nothing_in_aws():
    rds = run({"mode": "rds"})
    assert {r.type for r in rds.registrations if r.type.startswith("kubernetes:")} == {SECRET, CONFIG_MAP}
    in_cluster = run({"mode": "in-cluster"})
    assert not [r for r in in_cluster.registrations if r.type.startswith("aws:")]
    assert {r.type for r in in_cluster.registrations if r.type.startswith("kubernetes:")} == {
        SECRET, SERVICE, STATEFUL_SET, NETWORK_POLICY}


@pytest.mark.parametrize("overrides,match", [
    ({"vpc_id": None}, "vpc_id"),
    ({"private_subnet_ids": None, "cluster_security_group_id": None},
     "private_subnet_ids, cluster_security_group_id"),
])
def test_rds_without_its_network_is_refused_before_anything_is_declared(overrides, match):
    def program() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}")
        fields = dict(namespace="kong", vpc_id=VPC_ID, private_subnet_ids=SUBNETS, cluster_security_group_id=CLUSTER_SG)
        with pytest.raises(ValueError, match=match):
            Postgres("kong-postgres", PostgresArgs(**{**fields, **overrides}),  # type: ignore[typeddict-item]
                     opts=pulumi.ResourceOptions(providers=[provider]))

    result = run_program(program, {"aws:region": "us-west-2"})
    assert [r.type for r in result.registrations if r.type not in ("pulumi:pulumi:Stack", K8S_PROVIDER)] == []


def test_in_cluster_without_client_labels_is_refused():
    def program() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}")
        with pytest.raises(ValueError, match="client_pod_labels"):
            Postgres("kong-postgres", PostgresArgs(mode=PostgresMode.IN_CLUSTER, namespace="kong", client_pod_labels={}),
                     opts=pulumi.ResourceOptions(providers=[provider]))

    result = run_program(program, {"aws:region": "us-west-2"})
    assert not result.of_type(COMPONENT)


# --- RDS.

def test_rds_instance_defaults_are_private_encrypted_and_recoverable():
    result = run({"mode": "rds"})
    inputs = plain(result.one(INSTANCE).inputs)
    assert (inputs["engine"], inputs["engineVersion"], inputs["autoMinorVersionUpgrade"]) == ("postgres", "17", True)
    assert inputs["publiclyAccessible"] is False
    assert inputs["storageEncrypted"] is True and inputs["storageType"] == "gp3"
    assert inputs["allocatedStorage"] == 20 and inputs["maxAllocatedStorage"] == 80
    # The model's defaults: Multi-AZ, 7 days of backups, deletion protection.
    assert (inputs["multiAz"], inputs["backupRetentionPeriod"], inputs["deletionProtection"]) == (True, 7, True)
    assert inputs["instanceClass"] == "db.t4g.medium"
    assert (inputs["dbName"], inputs["username"], inputs["port"]) == ("kong", "kong", 5432)
    assert inputs["skipFinalSnapshot"] is False and SNAPSHOT_ID.match(inputs["finalSnapshotIdentifier"])
    assert inputs["copyTagsToSnapshot"] is True
    assert inputs["performanceInsightsEnabled"] is True
    assert inputs["enabledCloudwatchLogsExports"] == ["postgresql"]
    assert inputs["caCertIdentifier"] == "rds-ca-rsa2048-g1"
    # It sits in the component's own subnet group, security group and parameter group.
    assert inputs["dbSubnetGroupName"].startswith(result.one(SUBNET_GROUP).name + "-")
    assert inputs["parameterGroupName"].startswith(result.one(PARAMETER_GROUP).name + "-")
    (sg_id,) = inputs["vpcSecurityGroupIds"]
    assert sg_id == result.one(INGRESS).inputs["securityGroupId"] and sg_id.startswith("sg-")
    assert plain(result.one(SUBNET_GROUP).inputs)["subnetIds"] == SUBNETS


def test_rds_sizes_and_recovery_come_from_config():
    result = run({"mode": "rds", "instanceClass": "db.m7g.large", key("allocated_storage_gib"): 50,
                  "multiAz": False, "backupRetentionDays": 14, "deletionProtection": False})
    inputs = plain(result.one(INSTANCE).inputs)
    assert inputs["instanceClass"] == "db.m7g.large"
    assert (inputs["allocatedStorage"], inputs["maxAllocatedStorage"]) == (50, 200)
    assert (inputs["multiAz"], inputs["backupRetentionPeriod"], inputs["deletionProtection"]) == (False, 14, False)


@pytest.mark.parametrize("version,family", [("16.4", "postgres16"), ("17.6", "postgres17"), ("18.1", "postgres18")])
def test_parameter_group_requires_tls_for_the_major_version(version, family):
    result = run({"mode": "rds", "version": version})
    group = plain(result.one(PARAMETER_GROUP).inputs)
    assert group["family"] == family
    assert [(p["name"], p["value"]) for p in group["parameters"]] == [("rds.force_ssl", "1")]
    assert plain(result.one(INSTANCE).inputs)["engineVersion"] == version.split(".")[0]


def test_only_the_cluster_security_group_reaches_the_database():
    result = run({"mode": "rds"})
    (rule,) = result.of_type(INGRESS)
    inputs = plain(rule.inputs)
    assert inputs.pop("securityGroupId") == plain(result.one(INSTANCE).inputs)["vpcSecurityGroupIds"][0]
    assert inputs.pop("description")
    # Only these keys: no cidrIpv4, cidrIpv6 or prefix list.
    assert inputs == {"ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432, "referencedSecurityGroupId": CLUSTER_SG}
    assert not result.of_type(EGRESS)
    group = plain(result.one(SG).inputs)
    assert group["vpcId"] == VPC_ID and "ingress" not in group and "egress" not in group
    everything = json.dumps([plain(r.inputs) for r in result.registrations])
    assert "0.0.0.0/0" not in everything and "::/0" not in everything


#: Pulumi input name -> RDS API parameter, per operation. Every input must be listed, so that a
#: new input is checked too (or deliberately listed as provider-only).
CREATE_DB_INSTANCE = {
    "identifier": "DBInstanceIdentifier",
    "engine": "Engine", "engineVersion": "EngineVersion", "autoMinorVersionUpgrade": "AutoMinorVersionUpgrade",
    "instanceClass": "DBInstanceClass", "allocatedStorage": "AllocatedStorage",
    "maxAllocatedStorage": "MaxAllocatedStorage", "storageType": "StorageType",
    "storageEncrypted": "StorageEncrypted", "multiAz": "MultiAZ", "backupRetentionPeriod": "BackupRetentionPeriod",
    "deletionProtection": "DeletionProtection", "publiclyAccessible": "PubliclyAccessible",
    "dbSubnetGroupName": "DBSubnetGroupName", "vpcSecurityGroupIds": "VpcSecurityGroupIds",
    "parameterGroupName": "DBParameterGroupName", "port": "Port", "dbName": "DBName",
    "username": "MasterUsername", "password": "MasterUserPassword", "caCertIdentifier": "CACertificateIdentifier",
    "copyTagsToSnapshot": "CopyTagsToSnapshot", "performanceInsightsEnabled": "EnablePerformanceInsights",
    "enabledCloudwatchLogsExports": "EnableCloudwatchLogsExports", "tags": "Tags",
}
DELETE_DB_INSTANCE = {"identifier": "DBInstanceIdentifier", "skipFinalSnapshot": "SkipFinalSnapshot",
                      "finalSnapshotIdentifier": "FinalDBSnapshotIdentifier"}
#: Inputs that only steer how the provider modifies the instance (ModifyDBInstance parameters).
MODIFY_DB_INSTANCE = {"identifier": "DBInstanceIdentifier",
                      "applyImmediately": "ApplyImmediately", "allowMajorVersionUpgrade": "AllowMajorVersionUpgrade",
                      "instanceClass": "DBInstanceClass", "multiAz": "MultiAZ", "engineVersion": "EngineVersion",
                      "parameterGroupName": "DBParameterGroupName"}


def api_request(inputs: dict, mapping: dict[str, str], extra: Optional[dict] = None) -> dict:
    request = dict(extra or {})
    for key, value in inputs.items():
        if key in mapping:
            if key == "tags":
                value = [{"Key": k, "Value": v} for k, v in value.items()]
            elif isinstance(value, float) and value.is_integer():
                value = int(value)
            request[mapping[key]] = value
    return request


def test_rds_requests_are_valid_for_botocores_rds_model(botocore_loader):
    result = run({"mode": "rds"})
    registration = result.one(INSTANCE)
    inputs = plain(registration.inputs)
    assert set(inputs) <= set(CREATE_DB_INSTANCE) | set(DELETE_DB_INSTANCE) | set(MODIFY_DB_INSTANCE), \
        "an input the test does not map"
    create = api_request(inputs, CREATE_DB_INSTANCE)
    assert validate_aws_request(botocore_loader, "rds", "CreateDBInstance", create) == []
    # botocore does not check the identifier's documented form; RDS keeps it lowercased.
    assert DB_INSTANCE_IDENTIFIER.fullmatch(create["DBInstanceIdentifier"])
    assert create["EnableCloudwatchLogsExports"] == ["postgresql"]
    delete = api_request(inputs, DELETE_DB_INSTANCE)
    assert validate_aws_request(botocore_loader, "rds", "DeleteDBInstance", delete) == []
    modify = api_request(inputs, MODIFY_DB_INSTANCE)
    assert validate_aws_request(botocore_loader, "rds", "ModifyDBInstance", modify) == []
    # MasterUserPassword for PostgreSQL: 8-128 printable ASCII characters except '/', '"' and '@'
    # (botocore's model documents it; its validator does not check it).
    password = create["MasterUserPassword"]
    assert 8 <= len(password) <= 128 and password.isascii() and not set(password) & set('/"@ ')

    subnets = plain(result.one(SUBNET_GROUP).inputs)
    assert validate_aws_request(botocore_loader, "rds", "CreateDBSubnetGroup", {
        "DBSubnetGroupName": create["DBSubnetGroupName"], "DBSubnetGroupDescription": subnets["description"],
        "SubnetIds": subnets["subnetIds"]}) == []
    group = plain(result.one(PARAMETER_GROUP).inputs)
    assert validate_aws_request(botocore_loader, "rds", "CreateDBParameterGroup", {
        "DBParameterGroupName": create["DBParameterGroupName"], "DBParameterGroupFamily": group["family"],
        "Description": group["description"]}) == []
    assert validate_aws_request(botocore_loader, "rds", "ModifyDBParameterGroup", {
        "DBParameterGroupName": create["DBParameterGroupName"],
        "Parameters": [{"ParameterName": p["name"], "ParameterValue": p["value"], "ApplyMethod": p["applyMethod"]}
                       for p in group["parameters"]]}) == []


@pytest.mark.parametrize("project,stack,name", [
    ("kong-aws", "prod", "kong-postgres"), ("kong-aws", "dev_1.x", "Hybrid--PG-"), ("9lives", "s", "n")])
def test_final_snapshot_identifiers_are_valid(project, stack, name):
    assert SNAPSHOT_ID.match(final_snapshot_identifier(project, stack, name))
    generation = instance_generation(postgres_module.INSTANCE_IDENTITY)
    with_generation = final_snapshot_identifier(project, stack * 300, name, generation)
    assert SNAPSHOT_ID.match(with_generation) and with_generation.endswith("-" + generation)
    assert len(with_generation) <= 255


# --- RDS changes over time: when they apply, and what replaces the instance.

def _doc(loader, operation: str, member: str) -> str:
    model = loader.load_service_model("rds", "service-2")
    shape = model["operations"][operation]["input"]["shape"]
    return " ".join(re.sub(r"<[^>]+>", " ", model["shapes"][shape]["members"][member]["documentation"]).split())


def test_rds_changes_wait_for_the_maintenance_window_unless_config_says_now(botocore_loader):
    assert plain(run({"mode": "rds"}).one(INSTANCE).inputs)["applyImmediately"] is False
    now = plain(run({"mode": "rds", "applyImmediately": True}).one(INSTANCE).inputs)
    assert now["applyImmediately"] is True
    # What the default means, in RDS's own words (botocore's model of ModifyDBInstance).
    text = _doc(botocore_loader, "ModifyDBInstance", "ApplyImmediately")
    assert "By default, this parameter is disabled" in text
    assert "changes to the DB instance are applied during the next maintenance window" in text
    for member in ("DBInstanceClass", "EngineVersion", "MultiAZ"):
        assert "next maintenance window" in _doc(botocore_loader, "ModifyDBInstance", member), member
    # A major version needs the flag (and the new family's parameter group, a new group here).
    assert "Major version upgrades must be allowed" in _doc(botocore_loader, "ModifyDBInstance",
                                                            "AllowMajorVersionUpgrade")
    assert now["allowMajorVersionUpgrade"] is True


def test_a_size_change_updates_the_instance_in_place_when_config_says():
    before = run({"mode": "rds"})
    after = run({"mode": "rds", "instanceClass": "db.m7g.large", "applyImmediately": True}, prior=before)
    steps = plan(before, after)
    (instance,) = steps.of_type(INSTANCE)
    assert instance.op == "update" and set(instance.changed) == {"instanceClass", "applyImmediately"}
    assert {urn: op for urn, op in steps.changes().items()} == {instance.urn: "update"}


def test_a_major_upgrade_makes_a_new_parameter_group_first_and_updates_the_instance():
    before = run({"mode": "rds", "version": "16.4"})
    after = run({"mode": "rds", "version": "17.6", "applyImmediately": True}, prior=before)
    steps = plan(before, after)
    (group,) = steps.of_type(PARAMETER_GROUP)
    (instance,) = steps.of_type(INSTANCE)
    # Auto-named: the new group exists before the instance moves to it and the old one goes.
    assert (group.op, group.delete_first) == ("replace", False)
    assert instance.op == "update" and {"engineVersion", "parameterGroupName"} <= set(instance.changed)


def test_a_change_that_replaces_the_instance_deletes_it_first_and_keeps_each_final_snapshot(monkeypatch):
    """storage_encrypted is ForceNew (terraform-provider-aws, internal/service/rds/instance.go).
    Delete-first: deletion protection refuses the replacement before anything changed, and an
    empty successor never runs beside the old instance. Each instance has its own final snapshot."""
    monkeypatch.setattr(postgres_module, "INSTANCE_IDENTITY",
                        {**postgres_module.INSTANCE_IDENTITY, "storage_encrypted": False})
    before = run({"mode": "rds"})
    monkeypatch.undo()
    after = run({"mode": "rds"}, prior=before)
    (instance,) = plan(before, after).of_type(INSTANCE)
    assert (instance.op, instance.delete_first) == ("replace", True) and "storageEncrypted" in instance.changed
    old, new = (plain(r.one(INSTANCE).inputs)["finalSnapshotIdentifier"] for r in (before, after))
    assert old != new and all(SNAPSHOT_ID.match(i) for i in (old, new))
    assert plain(after.one(INSTANCE).inputs)["deletionProtection"] is True


def test_parameter_group_family_refuses_a_full_version():
    with pytest.raises(ValueError):
        parameter_group_family("17.6")


# --- In-cluster.

def test_in_cluster_statefulset_runs_the_official_image_unprivileged():
    result = run({"mode": "in-cluster"})
    spec = result.one(STATEFUL_SET).inputs["spec"]
    assert spec["replicas"] == 1
    assert spec["serviceName"] == result.one(SERVICE).inputs["metadata"]["name"]
    main = container(result)
    assert main["image"] == "postgres:17.6"
    variables = env(result)
    assert variables["POSTGRES_USER"]["value"] == "kong" and variables["POSTGRES_DB"]["value"] == "kong"
    assert "value" not in variables["POSTGRES_PASSWORD"]
    assert variables["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": result.one(SECRET).inputs["metadata"]["name"], "key": "password"}
    for probe in ("readinessProbe", "livenessProbe"):
        assert main[probe]["exec"]["command"] == ["pg_isready", "-U", "kong", "-d", "kong"]
    assert set(main["resources"]) == {"requests", "limits"}
    assert {"cpu", "memory"} <= set(main["resources"]["requests"]) and "memory" in main["resources"]["limits"]
    pod = pod_spec(result)["securityContext"]
    assert (pod["runAsNonRoot"], pod["runAsUser"], pod["fsGroup"]) == (True, 999, 999)
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    own = main["securityContext"]
    assert own["allowPrivilegeEscalation"] is False and own["capabilities"] == {"drop": ["ALL"]}
    assert "hostNetwork" not in pod_spec(result)


@pytest.mark.parametrize("version,mount,pgdata", [
    ("16.10", "/var/lib/postgresql/data", "/var/lib/postgresql/data/pgdata"),
    ("17.6", "/var/lib/postgresql/data", "/var/lib/postgresql/data/pgdata"),
    ("18.1", "/var/lib/postgresql", "/var/lib/postgresql/18/docker"),
])
def test_pgdata_lives_on_the_volume_claim(version, mount, pgdata):
    assert data_layout(version.split(".")[0]) == (mount, pgdata)
    result = run({"mode": "in-cluster", "version": version, key("storage_gib"): 50}, storage_class_name="gp3-encrypted")
    spec = result.one(STATEFUL_SET).inputs["spec"]
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["storageClassName"] == "gp3-encrypted"
    assert claim["spec"]["resources"]["requests"] == {"storage": "50Gi"}
    assert container(result)["volumeMounts"] == [{"name": claim["metadata"]["name"], "mountPath": mount}]
    assert env(result)["PGDATA"]["value"] == pgdata and pgdata.startswith(mount + "/")
    assert container(result)["image"] == f"postgres:{version}"


def test_without_a_storage_class_the_claim_uses_the_clusters_default():
    result = run({"mode": "in-cluster"}, storage_class_name=None)
    (claim,) = result.one(STATEFUL_SET).inputs["spec"]["volumeClaimTemplates"]
    assert "storageClassName" not in claim["spec"]
    assert claim["spec"]["resources"]["requests"] == {"storage": "20Gi"}


def test_in_cluster_service_is_cluster_internal_and_selects_the_database_pod():
    result = run({"mode": "in-cluster"})
    spec = result.one(SERVICE).inputs["spec"]
    assert spec["type"] == "ClusterIP"
    (port,) = spec["ports"]
    assert (port["port"], port["protocol"], port["targetPort"]) == (5432, "TCP", "postgres")
    assert "nodePort" not in port
    pod_labels = result.one(STATEFUL_SET).inputs["spec"]["template"]["metadata"]["labels"]
    assert spec["selector"].items() <= pod_labels.items()
    assert container(result)["ports"][0]["name"] == "postgres"


@pytest.mark.parametrize("labels", [None, {"app.kubernetes.io/instance": "cp", "app.kubernetes.io/name": "kong"}])
def test_network_policy_admits_only_the_control_plane_pods_on_5432(labels):
    overrides = {} if labels is None else {"client_pod_labels": labels}
    result = run({"mode": "in-cluster"}, **overrides)
    policy = result.one(NETWORK_POLICY).inputs
    assert policy["metadata"]["namespace"] == "kong"
    spec = policy["spec"]
    pod_labels = result.one(STATEFUL_SET).inputs["spec"]["template"]["metadata"]["labels"]
    assert spec["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert spec["policyTypes"] == ["Ingress"]
    (rule,) = spec["ingress"]
    expected = labels or {"app.kubernetes.io/instance": "kong-cp"}
    assert rule["from"] == [{"podSelector": {"matchLabels": expected}}]  # no namespaceSelector, no ipBlock
    assert rule["ports"] == [{"protocol": "TCP", "port": 5432}]


# --- The RDS certificate authorities Kong verifies the server with (issue 10, item 4).

BUNDLE_FILE = PROJECT_ROOT / "components" / "data" / "rds-ca-bundle.pem"
ROOT_CN = re.compile(r"Amazon RDS (?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9]+) Root CA (?P<kind>RSA2048|RSA4096|ECC384) G1")


def _certificates(pem: str) -> list:
    from cryptography import x509

    return x509.load_pem_x509_certificates(pem.encode())


def _common_name(cert) -> str:
    from cryptography.x509.oid import NameOID

    (attribute,) = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attribute.value)


def test_the_vendored_bundle_holds_only_rds_root_cas_valid_today():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    text = BUNDLE_FILE.read_text()
    certs = _certificates(text)
    assert len(certs) == text.count("-----BEGIN CERTIFICATE-----") > 0  # no block left unread
    now = datetime.datetime.now(datetime.timezone.utc)  # today, not a date written down
    expired = [_common_name(c) for c in certs if not c.not_valid_before_utc <= now < c.not_valid_after_utc]
    assert not expired, f"drop these from {BUNDLE_FILE.name}: {expired}"
    for cert in certs:
        name = _common_name(cert)
        assert ROOT_CN.fullmatch(name), name
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
        assert constraints.critical and constraints.value.ca, name
        assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign, name
        # A root: issued by itself, and its signature checks out with its own key.
        assert cert.issuer == cert.subject
        cert.verify_directly_issued_by(cert)
    assert len({c.fingerprint(hashes.SHA256()) for c in certs}) == len(certs)
    # The ConfigMap's text: the same certificates, in the same order, and nothing else.
    pem = rds_ca_bundle_pem()
    assert pem.startswith("-----BEGIN CERTIFICATE-----\n") and "#" not in pem
    assert [c.tbs_certificate_bytes for c in _certificates(pem)] == [c.tbs_certificate_bytes for c in certs]


def test_each_region_has_its_rds_ca_in_the_bundle_or_is_named_as_missing():
    """The CA the instance is created with (rds-ca-rsa2048-g1) for every region the project knows,
    except those the vendored bundle predates, which are named (and where Kong does not verify)."""
    regions = set(aws_facts.AVAILABILITY_ZONES)
    covered = rds_ca_regions(RDS_CA_CERT_IDENTIFIER)
    assert RDS_CA_CERT_IDENTIFIER == "rds-ca-rsa2048-g1"
    assert regions - covered == RDS_CA_NOT_VENDORED_REGIONS
    by_subject = {_common_name(c) for c in _certificates(rds_ca_bundle_pem())}
    for region in regions - RDS_CA_NOT_VENDORED_REGIONS:
        assert f"Amazon RDS {region} Root CA RSA2048 G1" in by_subject, region
    # The other two G1 CAs RDS offers cover the same regions.
    for identifier in RDS_CA_ROOT_SUFFIX:
        assert rds_ca_regions(identifier) == covered, identifier


def test_openssl_reads_the_bundle_as_kong_reads_its_trusted_certificates():
    """Kong (OpenResty, OpenSSL) loads lua_ssl_trusted_certificate as a PEM file; OpenSSL reads the
    vendored file, comments and all, and the ConfigMap's text, as that many CAs."""
    count = len(_certificates(rds_ca_bundle_pem()))
    from_file = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    from_file.load_verify_locations(cafile=str(BUNDLE_FILE))
    from_config_map = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    from_config_map.load_verify_locations(cadata=rds_ca_bundle_pem())
    assert from_file.cert_store_stats()["x509_ca"] == from_config_map.cert_store_stats()["x509_ca"] == count


def test_the_bundle_ships_with_the_components_package():
    import tomllib

    package_data = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    relative = BUNDLE_FILE.relative_to(PROJECT_ROOT / "components")
    assert any(relative.match(pattern) for pattern in package_data["components"])


def test_rds_mode_gives_kong_the_cas_in_a_configmap():
    result = run({"mode": "rds"})
    config_map = result.one(CONFIG_MAP)
    assert config_map.inputs["metadata"]["name"] == CA_CONFIG_MAP_NAME == "kong-postgres-ca"
    assert config_map.inputs["metadata"]["namespace"] == "kong"
    assert config_map.inputs["metadata"]["labels"]["app.kubernetes.io/part-of"] == "kong"
    assert config_map.inputs["data"] == {CA_CONFIG_MAP_KEY: rds_ca_bundle_pem()} and CA_CONFIG_MAP_KEY == "ca.crt"
    assert config_map.parent == result.one(COMPONENT).urn
    assert config_map.provider == f"{result.one(K8S_PROVIDER).urn}::k8s-provider-id"
    values = {key: value for key, (value, _) in result.outputs.items()}
    assert (values["ssl_verify"], values["ca_config_map_name"], values["ca_config_map_key"]) == (
        True, "kong-postgres-ca", "ca.crt")


# One region the bundle covers and one it predates (every region's coverage is checked above
# without a program run each).
@pytest.mark.parametrize("region", ["us-west-2", *sorted(RDS_CA_NOT_VENDORED_REGIONS)[:1]])
def test_kong_verifies_the_server_where_its_ca_is_in_the_bundle(region):
    result = run({"mode": "rds"}, region=region)
    verify, _ = result.outputs["ssl_verify"]
    assert verify is (region not in RDS_CA_NOT_VENDORED_REGIONS)
    assert result.outputs["ssl"][0] is True  # TLS always; only the verification depends on the region


# --- The postgresql log group (issue 10, item 4).

def test_the_stack_makes_the_postgresql_log_group_before_the_instance():
    result = run({"mode": "rds"})
    instance, group = result.one(INSTANCE), result.one(LOG_GROUP)
    identifier = plain(instance.inputs)["identifier"]
    assert identifier == rds_instance_identifier("kong-aws", "test", "kong-postgres") == "kong-aws-test-kong-postgres"
    (export,) = plain(instance.inputs)["enabledCloudwatchLogsExports"]
    assert plain(group.inputs) == {"name": f"/aws/rds/instance/{identifier}/{export}", "retentionInDays": 30}
    assert rds_log_group_name(identifier) == group.inputs["name"]
    # Created first, so that RDS writes into it instead of making one without retention.
    assert group.urn in instance.dependencies
    assert group.parent == result.one(COMPONENT).urn
    # Both names are fixed once created (the Day 2 tests below).
    assert "identifier" in instance.options["ignoreChanges"] and "name" in group.options["ignoreChanges"]


def test_log_retention_comes_from_config():
    result = run({"mode": "rds", "logRetentionDays": 90})
    assert plain(result.one(LOG_GROUP).inputs)["retentionInDays"] == 90


def test_the_log_group_requests_are_valid_for_botocores_logs_model(botocore_loader):
    group = plain(run({"mode": "rds"}).one(LOG_GROUP).inputs)
    assert validate_aws_request(botocore_loader, "logs", "CreateLogGroup", {"logGroupName": group["name"]}) == []
    retention = {"logGroupName": group["name"], "retentionInDays": int(group["retentionInDays"])}
    assert validate_aws_request(botocore_loader, "logs", "PutRetentionPolicy", retention) == []
    model = botocore_loader.load_service_model("logs", "service-2")["shapes"]
    # botocore checks neither the name's pattern nor the allowed retention periods, which its model documents.
    assert re.fullmatch(model["LogGroupName"]["pattern"], group["name"])
    allowed = re.search(r"Possible values are: ([0-9, and]+)\.", model["Days"]["documentation"]).group(1)
    assert retention["retentionInDays"] in {int(n) for n in re.findall(r"[0-9]+", allowed)}


@pytest.mark.parametrize("project,stack,name", [
    ("kong-aws", "prod", "kong-hybrid-postgres"), ("Kong_AWS", "dev.1", "Hybrid--PG-"), ("9lives", "s", "n"),
    ("kong-aws", "a-very-long-stack-name-for-the-staging-environment", "kong-hybrid-postgres")])
def test_instance_identifiers_are_valid_for_rds(project, stack, name):
    identifier = rds_instance_identifier(project, stack, name)
    assert DB_INSTANCE_IDENTIFIER.fullmatch(identifier) and len(identifier) <= 63
    # Long names are cut, but two that differ only past the cut stay apart.
    long_stack = stack + "-" + "s" * 63
    assert rds_instance_identifier(project, long_stack + "-a", name) != \
        rds_instance_identifier(project, long_stack + "-b", name)


@pytest.mark.parametrize("settings_given,match", [
    ({"sourceSecurityGroupIds": ["sg-12345"]}, r"source_security_group_ids\[0\]"),
    ({"sourceSecurityGroupIds": ["sg-0123456789abcdef0", 7]}, r"source_security_group_ids\[1\]"),
    ({"sourceSecurityGroupIds": ["sg-0123456789abcdef0", "sg-0123456789abcdef0"]}, "twice"),
])
def test_bad_rds_settings_are_refused_before_anything_is_declared(settings_given, match):
    def program() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}")
        fields = dict(**settings(settings_given), namespace="kong", vpc_id=VPC_ID, private_subnet_ids=SUBNETS,
                      cluster_security_group_id=CLUSTER_SG)
        with pytest.raises(ValueError, match=match):
            Postgres("kong-postgres", PostgresArgs(**fields),  # type: ignore[typeddict-item]
                     opts=pulumi.ResourceOptions(providers=[provider]))

    result = run_program(program, {"aws:region": "us-west-2"})
    assert [r.type for r in result.registrations if r.type not in ("pulumi:pulumi:Stack", K8S_PROVIDER)] == []


#: What the component registered in mode rds before issue 10 (commit 10c9b1b), with secrets masked:
#: the state of a stack made then, as the mocks name its resources. The Day 2 test checks that the
#: code today registers exactly these inputs for them.
BEFORE_ISSUE_10 = {
    "kong-postgres-password": ("random:index/randomPassword:RandomPassword", {"length": 32.0, "special": False}),
    "kong-postgres-subnets": (SUBNET_GROUP, {"description": "Kong control plane PostgreSQL: private subnets",
                                             "subnetIds": SUBNETS}),
    "kong-postgres-access": (SG, {
        "description": "Kong control plane PostgreSQL: inbound 5432 only from the EKS cluster",
        "tags": {"Name": "kong-postgres-access"}, "vpcId": VPC_ID}),
    "kong-postgres-parameters": (PARAMETER_GROUP, {
        "description": "Kong control plane PostgreSQL: TLS required", "family": "postgres17",
        "parameters": [{"applyMethod": "immediate", "name": "rds.force_ssl", "value": "1"}]}),
    "kong-postgres-access-from-cluster": (INGRESS, {
        "description": "PostgreSQL from the EKS cluster security group", "fromPort": 5432.0, "ipProtocol": "tcp",
        "referencedSecurityGroupId": CLUSTER_SG, "securityGroupId": "sg-24f95b72f176d481c", "toPort": 5432.0}),
    "kong-postgres-instance": (INSTANCE, {
        "allocatedStorage": 20.0, "allowMajorVersionUpgrade": True, "applyImmediately": False,
        "autoMinorVersionUpgrade": True, "backupRetentionPeriod": 7.0, "caCertIdentifier": "rds-ca-rsa2048-g1",
        "copyTagsToSnapshot": True, "dbName": "kong", "dbSubnetGroupName": "kong-postgres-subnets-72cdb18",
        "deletionProtection": True, "enabledCloudwatchLogsExports": ["postgresql"], "engine": "postgres",
        "engineVersion": "17", "finalSnapshotIdentifier": "kong-aws-test-kong-postgres-final-9d846047",
        "instanceClass": "db.t4g.medium", "maxAllocatedStorage": 80.0, "multiAz": True,
        "parameterGroupName": "kong-postgres-parameters-62e09f7", "password": "[secret]",
        "performanceInsightsEnabled": True, "port": 5432.0, "publiclyAccessible": False, "skipFinalSnapshot": False,
        "storageEncrypted": True, "storageType": "gp3", "tags": {"Name": "kong-postgres"}, "username": "kong",
        "vpcSecurityGroupIds": ["sg-24f95b72f176d481c"]}),
    "kong-postgres-password-secret": (SECRET, {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque", "stringData": "[secret]",
        "metadata": {"name": "kong-postgres", "namespace": "kong", "labels": {
            "app.kubernetes.io/instance": "kong-postgres", "app.kubernetes.io/managed-by": "pulumi",
            "app.kubernetes.io/name": "postgresql", "app.kubernetes.io/part-of": "kong"}}}),
}
#: What issue 10 adds in mode rds (resource types).
NEW_IN_ISSUE_10 = {LOG_GROUP, CONFIG_MAP}


def _state_before_issue_10(result: RunResult) -> RunResult:
    """``result`` as the state of a stack made before issue 10: without what it added, and with the
    instance's identifier the one Pulumi made up (``<name>-<7 hex>``, which the state keeps among the
    instance's inputs: auto-naming fills it in when the provider checks them)."""
    state = copy.deepcopy(result)
    state.registrations = [r for r in state.registrations if r.type not in NEW_IN_ISSUE_10]
    (instance,) = [r for r in state.registrations if r.type == INSTANCE]
    instance.inputs["identifier"] = instance.outputs["identifier"]
    assert re.fullmatch(r"kong-postgres-instance-[0-9a-f]{7}", instance.inputs["identifier"])
    return state


def test_an_existing_stack_keeps_its_database_and_only_gains_the_log_group_and_the_configmap():
    """Day 2: a stack made before issue 10 runs `pulumi up` with this code. Every resource it has is
    left as it is (the instance too: its auto-made identifier stays, ``ignore_changes``); the log
    group (without the runbook's import, an empty one under the new default name) and the ConfigMap
    are created, nothing is replaced or deleted."""
    state = _state_before_issue_10(run({"mode": "rds"}))
    registered = {r.name: (r.type, {k: v for k, v in plain_values(mask_secrets(r.inputs)).items()
                                    if (r.type, k) != (INSTANCE, "identifier")})
                  for r in state.registrations if r.custom and not r.type.startswith("pulumi:providers:")}
    assert registered == BEFORE_ISSUE_10, "the state derived here is not what the earlier code registered"

    after = run({"mode": "rds"}, prior=state)
    steps = plan(state, after)
    assert sorted((s.type, s.op) for s in steps.steps.values() if s.op != SAME) == \
        sorted((typ, CREATE) for typ in NEW_IN_ISSUE_10)
    (instance,) = steps.of_type(INSTANCE)
    assert instance.op == SAME and not steps.by_op(DELETE)
    # What ignore_changes prevents: without it the new identifier would rename the instance (an
    # update that moves its endpoint and reboots it; ModifyDBInstance NewDBInstanceIdentifier).
    unguarded = copy.deepcopy(after)
    unguarded.one(INSTANCE).options["ignoreChanges"] = []
    (renamed,) = plan(state, unguarded).of_type(INSTANCE)
    assert (renamed.op, renamed.changed) == (UPDATE, ("identifier",))


def test_an_existing_stack_whose_log_group_was_imported_only_gets_its_retention_set():
    """The runbook's way (docs/runbooks.md, 7): the group RDS made for the instance is imported
    before the first `pulumi up` with this code. Its name stays the instance's (``ignore_changes``),
    the retention is set, and the instance is left as it is."""
    state = _state_before_issue_10(run({"mode": "rds"}))
    existing = state.one(INSTANCE).inputs["identifier"]
    after = run({"mode": "rds"}, prior=state)
    imported = copy.deepcopy(after.one(LOG_GROUP))
    # What `pulumi import` records: the group as CloudWatch Logs describes it, without retention.
    imported.inputs = {"name": f"/aws/rds/instance/{existing}/postgresql", "retentionInDays": 0}
    state.registrations.append(imported)
    after = run({"mode": "rds"}, prior=state)
    steps = plan(state, after)
    (group,) = steps.of_type(LOG_GROUP)
    assert (group.op, group.changed) == (UPDATE, ("retentionInDays",))
    assert steps.ops(INSTANCE) == [SAME] and sorted(steps.changes().values()) == [CREATE, UPDATE]  # + the ConfigMap


def test_a_new_naming_rule_renames_neither_the_instance_nor_its_log_group(monkeypatch):
    """A stack made with this code, then a different default identifier (a renamed stack or project
    gives one, or a later rule): nothing changes. Without ``ignore_changes`` the group would be
    replaced, deleted with its events, and the instance renamed."""
    before = run({"mode": "rds"})
    monkeypatch.setattr(postgres_module, "rds_instance_identifier", lambda project, stack, name: "kong-renamed")
    after = run({"mode": "rds"}, prior=before)
    assert plain(after.one(LOG_GROUP).inputs)["name"] == "/aws/rds/instance/kong-renamed/postgresql"
    assert plan(before, after).changes() == {}
    unguarded = copy.deepcopy(after)
    unguarded.one(LOG_GROUP).options["ignoreChanges"] = []
    assert plan(before, unguarded).ops(LOG_GROUP) == ["replace"]


# --- More security groups admitted to the database (issue 10, item 4).

EXTRA_GROUPS = ["sg-0aaaaaaaaaaaaaaaa", "sg-0bbbbbbbbbbbbbbbb", "sg-1234abcd"]


def test_each_source_security_group_gets_its_own_rule_on_5432(botocore_loader):
    result = run({"mode": "rds", "sourceSecurityGroupIds": EXTRA_GROUPS})
    group_id = plain(result.one(INSTANCE).inputs)["vpcSecurityGroupIds"][0]
    rules = {r.name: plain(r.inputs) for r in result.of_type(INGRESS)}
    assert set(rules) == {"kong-postgres-access-from-cluster",
                          *(f"kong-postgres-access-from-{g}" for g in EXTRA_GROUPS)}
    for rule in rules.values():
        assert (rule["securityGroupId"], rule["ipProtocol"], rule["fromPort"], rule["toPort"]) == \
            (group_id, "tcp", 5432, 5432)
        assert set(rule) == {"securityGroupId", "ipProtocol", "fromPort", "toPort", "referencedSecurityGroupId",
                             "description"}  # no CIDR, no prefix list
        request = {"GroupId": rule["securityGroupId"], "IpPermissions": [{
            "IpProtocol": rule["ipProtocol"], "FromPort": int(rule["fromPort"]), "ToPort": int(rule["toPort"]),
            "UserIdGroupPairs": [{"GroupId": rule["referencedSecurityGroupId"], "Description": rule["description"]}]}]}
        assert validate_aws_request(botocore_loader, "ec2", "AuthorizeSecurityGroupIngress", request) == []
    assert sorted(r["referencedSecurityGroupId"] for r in rules.values()) == sorted([CLUSTER_SG, *EXTRA_GROUPS])
    # The group's own description is left as it was: a new one would replace the group.
    assert plain(result.one(SG).inputs)["description"] == BEFORE_ISSUE_10["kong-postgres-access"][1]["description"]


def test_reordering_the_source_security_groups_changes_nothing_and_a_new_one_adds_one_rule():
    before = run({"mode": "rds", "sourceSecurityGroupIds": EXTRA_GROUPS})
    reordered = run({"mode": "rds", "sourceSecurityGroupIds": list(reversed(EXTRA_GROUPS))}, prior=before)
    assert plan(before, reordered).changes() == {}

    added = run({"mode": "rds", "sourceSecurityGroupIds": [*EXTRA_GROUPS, "sg-0cccccccccccccccc"]}, prior=before)
    steps = plan(before, added)
    assert [(s.type, s.op, s.urn.rsplit("::", 1)[1]) for s in steps.steps.values() if s.op != SAME] == [
        (INGRESS, CREATE, "kong-postgres-access-from-sg-0cccccccccccccccc")]

    removed = run({"mode": "rds", "sourceSecurityGroupIds": EXTRA_GROUPS[1:]}, prior=before)
    assert [(s.op, s.urn.rsplit("::", 1)[1]) for s in plan(before, removed).steps.values() if s.op != SAME] == [
        (DELETE, f"kong-postgres-access-from-{EXTRA_GROUPS[0]}")]
