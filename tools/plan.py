"""What ``pulumi up`` would do between two runs of the program: the plan's shape, offline.

:func:`plan` compares a run with an earlier one (``tools.mocks.run_program(..., prior=earlier)``,
which keeps the outputs of unchanged resources as the engine does) and returns, per resource, the
step the engine would take, following Pulumi's documented rules ("How Pulumi works": a resource is
matched to the state by URN or alias; unchanged inputs are a *same* step; changed inputs are an
*update*, or a *replace* when a changed property cannot be updated in place; a resource the program
no longer registers is *deleted*; a replacement creates the new resource before it deletes the old
one unless ``deleteBeforeReplace`` is set).

Which properties force a replacement is the provider's knowledge; :data:`REPLACED_BY` holds it for
the resource types this program uses, each entry with its source (the Terraform AWS provider's
``ForceNew`` schema attributes, as its registry documentation marks them "(Forces new resource)";
pulumi-tls and pulumi-random replace on any input change; Kubernetes objects replace on a new
``metadata.name`` / ``metadata.namespace``). A type that is not listed is assumed updatable in place,
so a test that cares about a replacement must find its type here.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Optional

from tools.mocks import Registration, RunResult, plain_values

#: Every input forces a new resource (pulumi-tls, pulumi-random: all arguments are ForceNew).
EVERY_INPUT = frozenset({"*"})

#: Resource type -> the inputs whose change makes the engine replace the resource.
REPLACED_BY: dict[str, frozenset[str]] = {
    "tls:index/privateKey:PrivateKey": EVERY_INPUT,
    "tls:index/selfSignedCert:SelfSignedCert": EVERY_INPUT,
    "tls:index/certRequest:CertRequest": EVERY_INPUT,
    "tls:index/locallySignedCert:LocallySignedCert": EVERY_INPUT,
    "random:index/randomPassword:RandomPassword": EVERY_INPUT,
    # aws_ecs_task_definition: a revision is immutable; every argument but tags forces a new one.
    "aws:ecs/taskDefinition:TaskDefinition": frozenset({
        "family", "containerDefinitions", "cpu", "memory", "executionRoleArn", "taskRoleArn", "networkMode",
        "requiresCompatibilities", "runtimePlatform", "volumes", "placementConstraints", "ephemeralStorage",
        "pidMode", "ipcMode", "proxyConfiguration", "enableFaultInjection"}),
    # aws_secretsmanager_secret_version: secret_string forces a new version.
    "aws:secretsmanager/secretVersion:SecretVersion": frozenset({"secretId", "secretString", "secretBinary"}),
    "aws:secretsmanager/secret:Secret": frozenset({"name", "namePrefix"}),
    # aws_lb: name, internal, load_balancer_type (and subnets of a network LB, where AWS cannot
    # remove subnets in place) force a new load balancer.
    "aws:lb/loadBalancer:LoadBalancer": frozenset({"name", "namePrefix", "internal", "loadBalancerType"}),
    # aws_lb_target_group: name, port, protocol, target_type, vpc_id force a new target group.
    "aws:lb/targetGroup:TargetGroup": frozenset({"name", "namePrefix", "port", "protocol", "targetType", "vpcId"}),
    "aws:lb/listener:Listener": frozenset({"loadBalancerArn"}),
    # aws_ecs_service: name, cluster, launch_type (and the service connect/ordered placement
    # settings not used here) force a new service.
    "aws:ecs/service:Service": frozenset({"name", "cluster", "launchType", "schedulingStrategy"}),
    "aws:ecs/cluster:Cluster": frozenset({"name"}),
    "aws:cloudwatch/logGroup:LogGroup": frozenset({"name", "namePrefix"}),
    "aws:iam/role:Role": frozenset({"name", "namePrefix", "path"}),
    "aws:ec2/securityGroup:SecurityGroup": frozenset({"name", "namePrefix", "vpcId", "description"}),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": frozenset({"securityGroupId"}),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": frozenset({"securityGroupId"}),
    "aws:ec2/vpc:Vpc": frozenset({"cidrBlock", "instanceTenancy"}),
    "aws:ec2/subnet:Subnet": frozenset({"vpcId", "cidrBlock", "availabilityZone", "availabilityZoneId"}),
    "aws:ec2/natGateway:NatGateway": frozenset({"allocationId", "subnetId", "connectivityType"}),
    # aws_cloudwatch_metric_alarm: alarm_name; aws_cloudwatch_dashboard: dashboard_name; aws_sns_topic:
    # name, name_prefix, fifo_topic; aws_sns_topic_subscription: topic_arn, protocol, endpoint.
    "aws:cloudwatch/metricAlarm:MetricAlarm": frozenset({"name"}),
    "aws:cloudwatch/dashboard:Dashboard": frozenset({"dashboardName"}),
    "aws:sns/topic:Topic": frozenset({"name", "namePrefix", "fifoTopic"}),
    "aws:sns/topicSubscription:TopicSubscription": frozenset({"topic", "protocol", "endpoint"}),
    # aws_eks_cluster (terraform-provider-aws internal/service/eks/cluster.go): name, role_arn,
    # bootstrap_self_managed_addons, access_config.bootstrap_cluster_creator_admin_permissions and
    # kubernetes_network_config.ip_family / service_ipv4_cidr are ForceNew. encryption_config is not
    # (only removing it is, by CustomizeDiff; a new key is an update that changes nothing, which is why
    # components/eks_cluster.py sets replaceOnChanges on it, and why it is not listed here).
    "aws:eks/cluster:Cluster": frozenset({"name", "roleArn", "bootstrapSelfManagedAddons",
                                          "accessConfig.bootstrapClusterCreatorAdminPermissions",
                                          "kubernetesNetworkConfig.ipFamily", "kubernetesNetworkConfig.serviceIpv4Cidr"}),
    # aws_eks_access_entry: cluster_name, principal_arn, type are ForceNew (access_entry.go).
    "aws:eks/accessEntry:AccessEntry": frozenset({"clusterName", "principalArn", "type"}),
    # aws_eks_access_policy_association has no update: every argument, access_scope included, is
    # ForceNew (access_policy_association.go).
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": frozenset({"clusterName", "principalArn", "policyArn",
                                                                          "accessScope"}),
    # aws_db_instance (internal/service/rds/instance.go, v5 and later): engine, storage_encrypted,
    # kms_key_id, db_name, username, availability_zone, character_set_name, nchar_character_set_name,
    # timezone, snapshot_identifier, restore_to_point_in_time, backup_target and
    # custom_iam_instance_profile are ForceNew; identifier is not (ModifyDBInstance
    # NewDBInstanceIdentifier renames in place).
    "aws:rds/instance:Instance": frozenset({"engine", "storageEncrypted", "kmsKeyId", "dbName", "username",
                                            "availabilityZone", "characterSetName", "ncharCharacterSetName",
                                            "timezone", "snapshotIdentifier", "restoreToPointInTime", "backupTarget",
                                            "customIamInstanceProfile"}),
    "aws:rds/parameterGroup:ParameterGroup": frozenset({"name", "namePrefix", "family", "description"}),
    "aws:rds/subnetGroup:SubnetGroup": frozenset({"name", "namePrefix"}),
    "aws:kms/key:Key": frozenset({"customerMasterKeySpec", "keyUsage"}),
    "kubernetes:core/v1:Namespace": frozenset({"metadata.name"}),
    "kubernetes:core/v1:Secret": frozenset({"metadata.name", "metadata.namespace", "type"}),
    "kubernetes:helm.sh/v3:Release": frozenset({"name", "namespace"}),
    # pulumi-kubernetes provider/pkg/provider/diff.go forceNewProperties: every object's metadata.name
    # and namespace; a ConfigMap's data and binaryData (unless the provider makes ConfigMaps mutable);
    # a Job's spec.template, completions, parallelism and selector.
    "kubernetes:core/v1:ConfigMap": frozenset({"metadata.name", "metadata.namespace", "data", "binaryData"}),
    "kubernetes:batch/v1:Job": frozenset({"metadata.name", "metadata.namespace", "spec.template", "spec.completions",
                                          "spec.parallelism", "spec.selector"}),
    # The Konnect dynamic providers (components/konnect_api.py) decide in their own `diff`; these
    # are its answers for a control plane the stack owns (an adopted one is also replaced by a new
    # `name`) and for a pin. tests/test_konnect_api.py checks the two agree.
    "pulumi-python:dynamic/konnect:ControlPlane": frozenset({"apiUrl"}),
    "pulumi-python:dynamic/konnect:PinnedDataPlaneCertificate": frozenset({"apiUrl", "controlPlaneId", "cert"}),
    # components/konnect_entities.py REPLACING: another API, control plane, kind or id is another entity.
    "pulumi-python:dynamic/konnect:GatewayEntity": frozenset({"apiUrl", "controlPlaneId", "kind", "entityId"}),
    # aws_eks_addon: cluster_name and addon_name are ForceNew (internal/service/eks/addon.go);
    # aws_eks_pod_identity_association: cluster_name, namespace, service_account
    # (pod_identity_association.go); aws_iam_role_policy_attachment: role and policy_arn.
    "aws:eks/addon:Addon": frozenset({"clusterName", "addonName"}),
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": frozenset({"clusterName", "namespace", "serviceAccount"}),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": frozenset({"role", "policyArn"}),
}

SAME, UPDATE, REPLACE, CREATE, DELETE = "same", "update", "replace", "create", "delete"


@dataclass(frozen=True)
class Step:
    """What the engine does to one resource: ``op`` (same, update, replace, create, delete), the
    changed inputs (top-level names; ``metadata.name`` style for nested ones that force a
    replacement), and whether a replacement deletes first."""

    urn: str
    type: str
    op: str
    changed: tuple[str, ...] = ()
    delete_first: bool = False


@dataclass
class Plan:
    """The steps of one update, by URN of the new run (deletions by their old URN)."""

    steps: dict[str, Step] = field(default_factory=dict)

    def by_op(self, op: str) -> list[Step]:
        return [s for s in self.steps.values() if s.op == op]

    def of_type(self, typ: str) -> list[Step]:
        return [s for s in self.steps.values() if s.type == typ]

    def ops(self, typ: str) -> list[str]:
        """The operations on the resources of ``typ``, sorted."""
        return sorted(s.op for s in self.of_type(typ))

    def changes(self) -> dict[str, str]:
        """Every step that is not ``same``, as ``{urn: op}``."""
        return {urn: s.op for urn, s in self.steps.items() if s.op != SAME}


def _changed(before: Registration, after: Registration, ignored: Collection[str]) -> tuple[str, ...]:
    old, new = plain_values(before.inputs), plain_values(after.inputs)
    out = []
    for key in sorted(set(old) | set(new)):
        if key in ignored or key.startswith("__"):
            continue
        if old.get(key) != new.get(key):
            out.append(key)
            if isinstance(old.get(key), dict) and isinstance(new.get(key), dict):
                out += [f"{key}.{sub}" for sub in sorted(set(old[key]) | set(new[key]))
                        if old[key].get(sub) != new[key].get(sub)]
    return tuple(out)


def _forces_replacement(reg: Registration, changed: tuple[str, ...],
                        replaced_by: Mapping[str, Collection[str]]) -> bool:
    keys = set(replaced_by.get(reg.type, ())) | set(reg.options.get("replaceOnChanges", []))
    return bool(keys) and ("*" in keys and bool(changed) or any(c in keys for c in changed))


def _trigger_changed(before: Registration, after: Registration) -> bool:
    # The engine replaces only when both the state's and the program's trigger are set and differ:
    # a trigger that appears (an upgrade that adds one) or disappears does not replace
    # (pulumi/pulumi#20936, step_generator.go: "if Trigger goes from Null to anything, or from
    # anything to Null, it does not cause a replace"); values compare without secret markers (#22119).
    old, new = before.options.get("replacementTrigger"), after.options.get("replacementTrigger")
    return old is not None and new is not None and plain_values(old) != plain_values(new)


def forces_replacement(before: Registration, after: Registration) -> bool:
    """Whether the engine replaces ``before`` (the state) to reach ``after``: a changed input is
    one :data:`REPLACED_BY` (or the resource's ``replaceOnChanges``) names, or the resource's
    ``replacement_trigger`` option has a new value."""
    changed = _changed(before, after, after.options.get("ignoreChanges", []))
    return _trigger_changed(before, after) or bool(changed) and _forces_replacement(after, changed, REPLACED_BY)


def plan(before: RunResult, after: RunResult,
         replaced_by: Optional[Mapping[str, Collection[str]]] = None) -> Plan:
    """The steps from ``before`` (the state) to ``after`` (the new run). Component resources are
    matched like any other resource and are never replaced (they have no inputs of their own)."""
    table = REPLACED_BY if replaced_by is None else replaced_by
    old = {r.urn: r for r in before.registrations}
    result = Plan()
    claimed: set[str] = set()
    for reg in after.registrations:
        if reg.type == "pulumi:pulumi:Stack":
            continue
        match = next((old[u] for u in (reg.urn, *reg.aliases) if u in old and u not in claimed), None)
        if match is None:
            result.steps[reg.urn] = Step(reg.urn, reg.type, CREATE)
            continue
        claimed.add(match.urn)
        changed = _changed(match, reg, reg.options.get("ignoreChanges", [])) if reg.custom else ()
        if reg.custom and _trigger_changed(match, reg):
            op, changed = REPLACE, (*changed, "(replacement_trigger)")
        elif not changed:
            op = SAME
        elif _forces_replacement(reg, changed, table):
            op = REPLACE
        else:
            op = UPDATE
        result.steps[reg.urn] = Step(reg.urn, reg.type, op, changed,
                                     delete_first=op == REPLACE and bool(reg.options.get("deleteBeforeReplace")))
    # replace_with: a resource is replaced whenever one it names is (in registration order, which
    # follows dependencies: the SDK waits for those resources before registering).
    replaced = {urn for urn, step in result.steps.items() if step.op == REPLACE}
    for reg in after.registrations:
        step = result.steps.get(reg.urn)
        if step is not None and step.op in (SAME, UPDATE) and replaced & set(reg.options.get("replaceWith", [])):
            result.steps[reg.urn] = Step(reg.urn, reg.type, REPLACE, (*step.changed, "(replace_with)"),
                                         delete_first=bool(reg.options.get("deleteBeforeReplace")))
            replaced.add(reg.urn)
    for urn, reg in old.items():
        if urn not in claimed and reg.type != "pulumi:pulumi:Stack":
            result.steps[urn] = Step(urn, reg.type, DELETE)
    return result
