"""components/modes.py, the one place that maps stack config to component Args.

Every setting a user can give must reach the component that uses it, under the name its Args
declare, and a setting left unset must stay absent (so that the component's own default applies).
The tests set each key of a section to a value other than the default (keys that exclude each
other in separate configs), run the mapping with the gateway component replaced by a recorder, and
compare; a last test checks that together they set every key of every section.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from components import config as config_module
from components import modes
from components.config import load_stack_config

ECS = {"cpu": 2048, "memory": 6144, "cpuArchitecture": "ARM64", "logRetentionDays": 90, "stopTimeoutSeconds": 90,
       "secretsKmsKeyArn": "arn:aws:kms:us-west-2:123456789012:key/0f5c2c3a-2f0e-4a57-9d6e-0123456789ab",
       "desiredCount": 3, "minCount": 3, "maxCount": 9, "cpuTargetPercent": 50, "fargateSpotPercent": 20,
       "healthCheckGracePeriodSeconds": 120, "containerInsights": False, "rolloutGate": "ecs",
       "rolloutTimeoutSeconds": 900}
LOAD_BALANCER = {"internal": True, "tlsMode": "terminate",
                 "certificateArn": "arn:aws:acm:us-west-2:123456789012:certificate/0f5c2c3a-2f0e-4a57-9d6e-0123456789ab",
                 "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-Res-2021-06", "allowedCidrs": ["10.0.0.0/8"],
                 "deregistrationDelaySeconds": 10, "deletionProtection": True, "proxyProtocol": True}
KONG = {"image": "123456789012.dkr.ecr.us-west-2.amazonaws.com/kong", "version": "3.10.0.1",
        "routerFlavor": "expressions", "logLevel": "warn", "dataPlaneLabels": {"team": "edge"}}
#: hybrid-eks refuses data plane labels (Konnect-only).
KONG_HYBRID = {key: value for key, value in KONG.items() if key != "dataPlaneLabels"}
CERTIFICATE = {"keyAlgorithm": "rsa-4096", "commonName": "edge", "organization": "Example", "validityDays": 365,
               "earlyRenewalDays": 60}
NETWORK = {"cidrBlock": "10.20.0.0/16", "availabilityZoneCount": 3, "natGateways": "single"}
EKS = {"version": "1.32", "endpointPublicAccess": False, "publicAccessCidrs": ["203.0.113.0/24"],
       "adminRoleArns": ["arn:aws:iam::123456789012:role/platform"], "logRetentionDays": 7,
       "previewRoleArns": ["arn:aws:iam::123456789012:role/platform-preview"], "metricsServer": False,
       "containerInsights": False}
HYBRID = {"namespace": "gateway", "chartVersion": "3.4.1", "controlPlaneRelease": "edge-cp",
          "dataPlaneRelease": "edge-dp", "clusterMtls": "shared", "controlPlaneReplicas": 3,
          "dataPlaneMinReplicas": 3, "dataPlaneMaxReplicas": 12, "dataPlaneCpuTargetPercent": 55,
          "proxyInternal": True, "allowedCidrs": ["10.0.0.0/8"], "proxyProtocol": True, "adminRbac": False}
POSTGRES = {"mode": "rds", "version": "16.4", "instanceClass": "db.r7g.large", "allocatedStorageGiB": 100,
            "multiAz": False, "backupRetentionDays": 14, "deletionProtection": False, "storageGiB": 50,
            "applyImmediately": True, "logRetentionDays": 90, "sourceSecurityGroupIds": ["sg-0123456789abcdef0"]}
# The keys the configs above cannot hold with theirs: Docker Hub through the ECR cache, zones by ID
# with one NAT gateway, an existing VPC, manual certificate slots, an existing cluster.
KONG_CACHED = {"version": "3.10.0.1", "imageSource": "ecr-pull-through", "pullThroughCachePrefix": "hub",
               "dockerHubCredentialsSecretArn":
                   "arn:aws:secretsmanager:us-west-2:123456789012:secret:ecr-pullthroughcache/hub-AbCdEf"}
NETWORK_BY_ZONE_ID = {"availabilityZoneIds": ["usw2-az1", "usw2-az2"], "egress": "nat-single"}
NETWORK_EXISTING = {"vpcId": "vpc-0123456789abcdef0", "publicSubnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
                    "privateSubnetIds": ["subnet-0123456789abcdef2", "subnet-0123456789abcdef3"]}
CERTIFICATE_SLOTS = {"activeSlot": "b", "slotGenerations": {"a": 2, "b": 3}, "pinnedSha256": ["ab" * 32, "cd" * 32]}
EKS_EXISTING = {"clusterName": "platform", "storageClassName": "gp3", "loadBalancerClass": "service.k8s.aws/nlb"}
KONNECT_ENDPOINTS = {"controlPlaneEndpoint": "https://0123456789.us.cp0.konghq.com",
                     "telemetryEndpoint": "https://0123456789.us.tp0.konghq.com"}


GATEWAY = {"configFile": "gateway/dev-eks.yaml"}
MONITORING = {"alarmEmails": ["ops@example.com"], "evaluationMinutes": 10, "errorRatePercent": 2.5,
              "freeStoragePercent": 15}
MONITORING_TOPIC = {"alarmTopicArn": "arn:aws:sns:us-west-2:123456789012:ops"}


MANAGED_KONNECT = {"controlPlaneName": "kong-aws-edge", "controlPlaneLabels": {"team": "edge"}, "region": "eu",
                   "apiUrl": "https://konnect-proxy.example.com", "deleteControlPlaneOnDestroy": True}


def _load(mode: str, sections: dict[str, Any]) -> Any:
    raw = {"mode": mode, **{key: json.dumps(value) for key, value in sections.items()}}
    return load_stack_config(raw, set(), region="us-west-2", env_token=None)


def _recorded(monkeypatch, module: str, cls: str, build) -> dict:
    seen: dict = {}

    class Recorder:
        def __init__(self, name, args, opts=None):
            seen.update(args)

    monkeypatch.setattr(f"components.{module}.{cls}", Recorder)
    build()
    return seen


def _fields(section) -> dict[str, Any]:
    """A config section's fields that are set, by Python name, enums as their values."""
    out = {}
    for name in type(section).model_fields:
        value = getattr(section, name)
        # An existing VPC's subnet lists default to empty in the config: empty is unset.
        if value is not None and not (name.endswith("_subnet_ids") and value == []):
            out[name] = getattr(value, "value", value)
    return out


def _plain(mapping: dict) -> dict:
    return {key: getattr(value, "value", value) for key, value in mapping.items()}


def test_every_konnect_ecs_setting_reaches_the_gateway(monkeypatch):
    config = _load("konnect-ecs", {
        "kong": KONG, "certificate": CERTIFICATE, "network": NETWORK, "ecs": ECS, "loadBalancer": LOAD_BALANCER,
        "konnect": {"controlPlaneEndpoint": "https://0123456789.us.cp0.konghq.com",
                    "telemetryEndpoint": "https://0123456789.us.tp0.konghq.com"}})
    args = _recorded(monkeypatch, "konnect_ecs", "KonnectEcsGateway", lambda: modes.konnect_ecs(config))
    assert _plain(args["kong"]) == _fields(config.kong)
    assert _plain(args["certificate"]) == _fields(config.certificate)
    assert _plain(args["network"]) == _fields(config.network)
    assert _plain(args["ecs"]) == _fields(config.ecs)
    assert _plain(args["load_balancer"]) == _fields(config.load_balancer)
    assert args["konnect"]["control_plane_endpoint"] == "0123456789.us.cp0.konghq.com:443"
    assert args["region"] == "us-west-2"


def test_every_managed_konnect_setting_reaches_the_gateway(monkeypatch):
    config: Any = load_stack_config({"mode": "konnect-ecs", "kong": json.dumps(KONG),
                                     "konnect": json.dumps(MANAGED_KONNECT)},
                                    set(), region="us-west-2", env_token="kpat_" + "a" * 40)
    args = _recorded(monkeypatch, "konnect_ecs", "KonnectEcsGateway", lambda: modes.konnect_ecs(config))
    token = args["konnect"].pop("token")
    assert _plain(args["konnect"]) == _fields(config.konnect) and token is not None
    assert args["konnect"]["delete_control_plane_on_destroy"] is True


def test_every_hybrid_eks_setting_reaches_the_gateway(monkeypatch):
    config = _load("hybrid-eks", {"kong": KONG_HYBRID, "certificate": CERTIFICATE, "network": NETWORK, "eks": EKS,
                                  "hybrid": HYBRID, "postgres": POSTGRES})
    args = _recorded(monkeypatch, "hybrid_eks", "HybridEksGateway", lambda: modes.hybrid_eks(config))
    for key in ("kong", "certificate", "network", "eks", "hybrid", "postgres"):
        assert _plain(args[key]) == _fields(getattr(config, key)), key


@pytest.mark.parametrize("sections", [
    {"kong": KONG_CACHED, "network": NETWORK_BY_ZONE_ID, "certificate": CERTIFICATE_SLOTS},
    {"kong": KONG, "network": NETWORK_EXISTING},
], ids=["cache-zone-ids-slots", "existing-vpc"])
def test_the_konnect_ecs_settings_that_exclude_others_reach_the_gateway(monkeypatch, sections):
    config = _load("konnect-ecs", {**sections, "konnect": KONNECT_ENDPOINTS})
    args = _recorded(monkeypatch, "konnect_ecs", "KonnectEcsGateway", lambda: modes.konnect_ecs(config))
    for key in sections:
        assert _plain(args[key]) == _fields(getattr(config, key)), key


def test_an_existing_clusters_settings_reach_the_gateway(monkeypatch):
    config = _load("hybrid-eks", {"kong": KONG_HYBRID, "eks": EKS_EXISTING, "postgres": {"mode": "in-cluster"}})
    args = _recorded(monkeypatch, "hybrid_eks", "HybridEksGateway", lambda: modes.hybrid_eks(config))
    assert _plain(args["eks"]) == _fields(config.eks) == {"cluster_name": "platform", "storage_class_name": "gp3",
                                                          "load_balancer_class": "service.k8s.aws/nlb"}


@pytest.mark.parametrize("mode", ["konnect-ecs", "hybrid-eks"])
@pytest.mark.parametrize("monitoring", [MONITORING, MONITORING_TOPIC], ids=["emails", "topic"])
def test_the_gateway_file_its_secrets_and_monitoring_reach_the_gateway(monkeypatch, mode, monitoring):
    sections = {"kong": KONG_HYBRID, "gateway": GATEWAY, "monitoring": monitoring,
                "gatewaySecrets": {"DECK_UNUSED": "s3cret"},
                **({"konnect": KONNECT_ENDPOINTS} if mode == "konnect-ecs" else {"eks": EKS})}
    raw = {"mode": mode, **{key: json.dumps(value) for key, value in sections.items()}}
    config: Any = load_stack_config(raw, {"gatewaySecrets"}, region="us-west-2", env_token=None)
    module, cls, build = (("konnect_ecs", "KonnectEcsGateway", modes.konnect_ecs) if mode == "konnect-ecs"
                          else ("hybrid_eks", "HybridEksGateway", modes.hybrid_eks))
    args = _recorded(monkeypatch, module, cls, lambda: build(config))
    assert args["gateway"]["config_file"] == str(config_module.PROJECT_DIR / "gateway" / "dev-eks.yaml")
    assert set(args["gateway"]["secrets"]) == {"DECK_UNUSED"}
    assert all(isinstance(v, pulumi.Output) for v in args["gateway"]["secrets"].values())
    assert _plain(args["monitoring"]) == _fields(config.monitoring)


def test_without_a_gateway_file_no_gateway_reaches_the_gateway(monkeypatch):
    config = _load("hybrid-eks", {"kong": KONG_HYBRID, "eks": EKS})
    args = _recorded(monkeypatch, "hybrid_eks", "HybridEksGateway", lambda: modes.hybrid_eks(config))
    assert "gateway" not in args and args["monitoring"] == {}


def test_the_tests_above_set_every_key_of_every_section():
    """So that a key added to the config cannot go unchecked by the mapping tests."""
    given: dict[str, set[str]] = {}
    for name, value in [("kong", KONG), ("kong", KONG_CACHED), ("certificate", CERTIFICATE),
                        ("certificate", CERTIFICATE_SLOTS), ("network", NETWORK), ("network", NETWORK_BY_ZONE_ID),
                        ("network", NETWORK_EXISTING), ("ecs", ECS), ("loadBalancer", LOAD_BALANCER), ("eks", EKS),
                        ("eks", EKS_EXISTING), ("hybrid", HYBRID), ("postgres", POSTGRES),
                        ("konnect", KONNECT_ENDPOINTS), ("konnect", MANAGED_KONNECT), ("gateway", GATEWAY),
                        ("monitoring", MONITORING), ("monitoring", MONITORING_TOPIC)]:
        given.setdefault(name, set()).update(value)
    for mode in (config_module.KonnectEcsConfig, config_module.HybridEksConfig):
        for field in mode.model_fields.values():
            section = next((t for t in (field.annotation, *getattr(field.annotation, "__args__", ()))
                            if isinstance(t, type) and hasattr(t, "model_fields")), None)
            if section is not None:
                keys = {f.alias or n for n, f in section.model_fields.items()}
                assert keys - given[field.alias] == set(), field.alias


def test_unset_settings_stay_absent_so_component_defaults_apply(monkeypatch):
    config = _load("konnect-ecs", {"kong": {"version": "3.10.0.1"},
                                   "konnect": {"controlPlaneEndpoint": "a.us.cp0.konghq.com",
                                               "telemetryEndpoint": "a.us.tp0.konghq.com"}})
    args = _recorded(monkeypatch, "konnect_ecs", "KonnectEcsGateway", lambda: modes.konnect_ecs(config))
    assert args["kong"] == {"version": "3.10.0.1"}
    assert args["ecs"] == {} and args["load_balancer"] == {} and args["network"] == {} and args["certificate"] == {}


@pytest.mark.parametrize("section, args_type", [
    ("KongConfig", "components.kong_settings.KongArgs"),
    ("KonnectConfig", "components.konnect_ecs.KonnectArgs"),
    ("CertificateConfig", "components.certificates.CertificateSettings"),
    ("NetworkConfig", "components.network.NetworkArgs"),
    ("EcsConfig", "components.konnect_ecs.EcsSettings"),
    ("LoadBalancerConfig", "components.proxy_load_balancer.LoadBalancerSettings"),
    ("EksConfig", "components.eks_cluster.EksSettings"),
    ("HybridConfig", "components.kong_hybrid.HybridSettings"),
    ("PostgresConfig", "components.postgres.PostgresSettings"),
    ("GatewayConfig", "components.gateway_config.GatewaySettings"),
    ("MonitoringConfig", "components.monitoring.MonitoringSettings"),
])
def test_each_config_section_has_a_component_field_of_the_same_name(section, args_type):
    module, name = args_type.rsplit(".", 1)
    args = getattr(__import__(module, fromlist=[name]), name)
    keys = set(args.__required_keys__ | args.__optional_keys__)
    assert set(getattr(config_module, section).model_fields) <= keys
