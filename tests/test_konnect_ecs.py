"""Konnect data planes on ECS Fargate (components/konnect_ecs.py, components/proxy_load_balancer.py).

Each test runs the whole program afresh under the mocks and checks what it registered against
botocore's AWS API models and Kong's configuration reference.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import reference_json, validate_aws_request
from tools.mocks import ACCOUNT_ID, mask_secrets
from tools.render import task_definition_document, whole_numbers

TASK = "aws:ecs/taskDefinition:TaskDefinition"
SERVICE = "aws:ecs/service:Service"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SG = "aws:ec2/securityGroup:SecurityGroup"
TG = "aws:lb/targetGroup:TargetGroup"
LISTENER = "aws:lb/listener:Listener"


def container(result) -> dict:
    (definition,) = json.loads(result.one(TASK).inputs["containerDefinitions"])
    return definition


def env(result) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(result)["environment"]}


def by_name(result, typ: str) -> dict:
    return {r.name: r for r in result.of_type(typ)}


def test_task_definition_is_a_valid_register_task_definition_request(run_stack, base_config, botocore_loader):
    result = run_stack(base_config)
    doc = task_definition_document(whole_numbers(mask_secrets(result.one(TASK).inputs)))
    assert validate_aws_request(botocore_loader, "ecs", "RegisterTaskDefinition", doc) == []
    assert doc["requiresCompatibilities"] == ["FARGATE"] and doc["networkMode"] == "awsvpc"
    assert (doc["cpu"], doc["memory"]) == ("1024", "2048")  # the model's defaults


def test_every_kong_setting_exists_in_kongs_configuration_reference(run_stack, base_config):
    result = run_stack(base_config)
    known = set(reference_json("kong-gateway-ee-conf/kong-conf-index.json")["params"])
    names = list(env(result)) + [s["name"] for s in container(result)["secrets"]]
    assert names and all(n.startswith("KONG_") for n in names)
    unknown = [n for n in names if n[len("KONG_"):].lower() not in known]
    assert unknown == []


def test_certificate_and_key_come_only_from_secrets_manager(run_stack, base_config):
    result = run_stack(base_config)
    definition = container(result)
    secret = result.one("aws:secretsmanager/secret:Secret")
    version = result.one("aws:secretsmanager/secretVersion:SecretVersion")
    secret_arn = version.inputs["secretId"]
    assert secret_arn.startswith(f"arn:aws:secretsmanager:us-west-2:{ACCOUNT_ID}:secret:")
    # The secret value itself is a Pulumi secret as the engine receives it.
    assert mask_secrets(version.inputs)["secretString"] == "[secret]"
    refs = {s["name"]: s["valueFrom"] for s in definition["secrets"]}
    assert set(refs) == {"KONG_CLUSTER_CERT", "KONG_CLUSTER_CERT_KEY"}
    for name, key in (("KONG_CLUSTER_CERT", "cert"), ("KONG_CLUSTER_CERT_KEY", "key")):
        arn, json_key, stage, version_id = refs[name].rsplit(":", 3)
        assert (arn, json_key, stage) == (secret_arn, key, "")
        assert len(version_id) == 36  # pinned to the version this deployment wrote
    assert not {"KONG_CLUSTER_CERT", "KONG_CLUSTER_CERT_KEY"} & set(env(result))
    assert "PRIVATE KEY" not in result.one(TASK).inputs["containerDefinitions"]
    assert secret.inputs["recoveryWindowInDays"] == 7


def test_konnect_settings_of_the_seeds_are_set(run_stack, base_config):
    base_config["kong-aws:kong"].update(routerFlavor="expressions",
                                        dataPlaneLabels={"env": "prod", "team": "edge"})
    result = run_stack(base_config)
    values = env(result)
    minimum = reference_json("konnect-endpoints.json")["konnect_data_plane_minimum_kong_conf"]
    for setting, value in minimum.items():
        if setting.startswith("_") or setting in ("cluster_cert", "cluster_cert_key"):
            continue
        assert f"KONG_{setting.upper()}" in values, setting
        if not value.startswith("<"):
            assert values[f"KONG_{setting.upper()}"] == value, setting
    assert values["KONG_CLUSTER_CONTROL_PLANE"] == "0123456789.us.cp0.konghq.com:443"
    assert values["KONG_CLUSTER_SERVER_NAME"] == "0123456789.us.cp0.konghq.com"
    assert values["KONG_CLUSTER_TELEMETRY_ENDPOINT"] == "0123456789.us.tp0.konghq.com:443"
    assert values["KONG_CLUSTER_TELEMETRY_SERVER_NAME"] == "0123456789.us.tp0.konghq.com"
    assert values["KONG_CLUSTER_DP_LABELS"] == "env:prod,team:edge"
    assert values["KONG_ROUTER_FLAVOR"] == "expressions"
    # The status listener must be reachable from the load balancer, not Kong's 127.0.0.1 default.
    assert values["KONG_STATUS_LISTEN"] == "0.0.0.0:8100"
    assert values["KONG_ADMIN_LISTEN"] == "off"


@pytest.mark.parametrize("cpu,memory,workers", [(256, 512, "1"), (2048, 4096, "2"), (4096, 8192, "4")])
def test_nginx_workers_match_the_task_vcpus(run_stack, base_config, cpu, memory, workers):
    base_config["kong-aws:ecs"] = {"cpu": cpu, "memory": memory}
    result = run_stack(base_config)
    assert env(result)["KONG_NGINX_WORKER_PROCESSES"] == workers
    assert result.one(TASK).inputs["cpu"] == str(cpu)


def test_container_runtime_settings(run_stack, base_config, botocore_loader):
    base_config["kong-aws:ecs"] = {"stopTimeoutSeconds": 90, "logRetentionDays": 90,
                                   "cpuArchitecture": "ARM64"}
    result = run_stack(base_config)
    definition = container(result)
    assert definition["image"] == "kong/kong-gateway:3.10.0.1"
    assert definition["healthCheck"]["command"] == ["CMD", "kong", "health"]
    assert definition["stopTimeout"] == 90
    (nofile,) = definition["ulimits"]
    # Raised above Fargate's default, which botocore's ECS model documents on the Ulimit shape.
    ulimit_doc = botocore_loader.load_service_model("ecs", "service-2")["shapes"]["Ulimit"]["documentation"]
    default = int(re.search(r"default <code>nofile</code> soft limit is <code>\s*(\d+)</code>", ulimit_doc).group(1))
    assert nofile["name"] == "nofile" and nofile["softLimit"] == nofile["hardLimit"] > default
    log_group = result.one("aws:cloudwatch/logGroup:LogGroup")
    assert log_group.inputs["retentionInDays"] == 90
    options = definition["logConfiguration"]["options"]
    assert options["awslogs-group"] == log_group.inputs["name"]
    assert options["awslogs-region"] == "us-west-2"
    assert result.one(TASK).inputs["runtimePlatform"]["cpuArchitecture"] == "ARM64"
    ports = {p["containerPort"] for p in definition["portMappings"]}
    assert ports == {8000, 8443, 8100}


def _policy(result) -> dict:
    return json.loads(result.one("aws:iam/rolePolicy:RolePolicy").inputs["policy"])


def test_execution_role_reads_exactly_its_secret_and_writes_exactly_its_logs(run_stack, base_config):
    result = run_stack(base_config)
    role = result.one("aws:iam/role:Role")
    trust = json.loads(role.inputs["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == ACCOUNT_ID

    policy = _policy(result)
    secret_arn = result.one("aws:secretsmanager/secretVersion:SecretVersion").inputs["secretId"]
    log_group = result.one("aws:cloudwatch/logGroup:LogGroup").inputs["name"]
    grants = {s["Sid"]: s for s in policy["Statement"]}
    assert set(grants) == {"ReadClusterCertificate", "WriteLogs"}
    assert grants["ReadClusterCertificate"]["Action"] == ["secretsmanager:GetSecretValue"]
    assert grants["ReadClusterCertificate"]["Resource"] == [secret_arn]
    assert grants["WriteLogs"]["Resource"] == [
        f"arn:aws:logs:us-west-2:{ACCOUNT_ID}:log-group:{log_group}:log-stream:*"]
    assert all("*" not in r.split(":log-stream:")[0] for s in policy["Statement"] for r in s["Resource"])
    # No managed policy (AmazonECSTaskExecutionRolePolicy grants ECR and logs on "*").
    assert not result.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert "taskRoleArn" not in result.one(TASK).inputs  # Kong needs no AWS credentials


def test_customer_managed_key_and_ecr_image_widen_the_policy_exactly(run_stack, base_config):
    key = "arn:aws:kms:us-west-2:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    base_config["kong-aws:ecs"] = {"secretsKmsKeyArn": key}
    base_config["kong-aws:kong"]["image"] = "123456789012.dkr.ecr.us-west-2.amazonaws.com/mirror/kong-gateway"
    result = run_stack(base_config)
    assert result.one("aws:secretsmanager/secret:Secret").inputs["kmsKeyId"] == key
    grants = {s["Sid"]: s for s in _policy(result)["Statement"]}
    assert grants["DecryptClusterCertificate"]["Resource"] == [key]
    assert grants["DecryptClusterCertificate"]["Condition"]["StringEquals"]["kms:ViaService"] == \
        "secretsmanager.us-west-2.amazonaws.com"
    assert grants["EcrPull"]["Resource"] == [
        "arn:aws:ecr:us-west-2:123456789012:repository/mirror/kong-gateway"]
    assert container(result)["image"].endswith("/mirror/kong-gateway:3.10.0.1")


def test_tasks_accept_traffic_only_from_the_load_balancer(run_stack, base_config):
    base_config["kong-aws:loadBalancer"] = {"allowedCidrs": ["203.0.113.0/24", "198.51.100.0/24"]}
    result = run_stack(base_config)
    groups = by_name(result, SG)
    service = result.one(SERVICE)
    (task_sg,) = service.inputs["networkConfiguration"]["securityGroups"]
    assert service.inputs["networkConfiguration"]["assignPublicIp"] is False

    rules = result.of_type(INGRESS)
    task_rules = [r for r in rules if r.inputs["securityGroupId"] == task_sg]
    assert {r.inputs["fromPort"] for r in task_rules} == {8000, 8443, 8100}
    assert all("cidrIpv4" not in r.inputs for r in task_rules)
    nlb_sg = {r.inputs["referencedSecurityGroupId"] for r in task_rules}
    assert len(nlb_sg) == 1 and nlb_sg != {task_sg}

    nlb_rules = [r for r in rules if r.inputs["securityGroupId"] in nlb_sg]
    assert {(r.inputs["fromPort"], r.inputs["cidrIpv4"]) for r in nlb_rules} == {
        (p, c) for p in (80, 443) for c in ("203.0.113.0/24", "198.51.100.0/24")}
    # Nothing anywhere is open to the internet but the two client-facing listener ports.
    assert not [r for r in rules if r.inputs.get("cidrIpv4") == "0.0.0.0/0"]
    lb = result.one("aws:lb/loadBalancer:LoadBalancer")
    assert lb.inputs["securityGroups"] == list(nlb_sg)
    assert groups["kong-tasks"].urn in result.one(SERVICE).dependencies
    assert groups["kong-proxy-sg"].urn in lb.dependencies


def test_health_checks_use_the_status_listener_and_do_not_need_configuration(run_stack, base_config):
    result = run_stack(base_config)
    groups = result.of_type(TG)
    assert len(groups) == 2
    for group in groups:
        check = group.inputs["healthCheck"]
        assert (check["protocol"], check["port"], check["path"]) == ("HTTP", "8100", "/status")
        # /status/ready is 503 until a data plane holds configuration: ECS would kill a data plane
        # attached to a new, empty control plane in a loop.
        assert check["path"] != "/status/ready"
        assert group.inputs["targetType"] == "ip"
    assert result.one(SERVICE).inputs["healthCheckGracePeriodSeconds"] >= 30


def test_target_groups_and_listeners_are_valid_elbv2_requests(run_stack, base_config, botocore_loader):
    result = run_stack(base_config)
    for group in result.of_type(TG):
        i, check = group.inputs, group.inputs["healthCheck"]
        request = {
            "Name": "kong", "Protocol": i["protocol"], "Port": i["port"], "VpcId": i["vpcId"],
            "HealthCheckProtocol": check["protocol"], "HealthCheckPort": check["port"],
            "HealthCheckEnabled": check["enabled"], "HealthCheckPath": check["path"],
            "HealthCheckIntervalSeconds": check["interval"], "HealthCheckTimeoutSeconds": check["timeout"],
            "HealthyThresholdCount": check["healthyThreshold"],
            "UnhealthyThresholdCount": check["unhealthyThreshold"],
            "Matcher": {"HttpCode": check["matcher"]}, "TargetType": i["targetType"],
        }
        assert validate_aws_request(botocore_loader, "elbv2", "CreateTargetGroup", whole_numbers(request)) == []
    for listener in result.of_type(LISTENER):
        i = listener.inputs
        request = {"LoadBalancerArn": i["loadBalancerArn"], "Protocol": i["protocol"], "Port": i["port"],
                   "DefaultActions": [{"Type": a["type"], "TargetGroupArn": a["targetGroupArn"]}
                                      for a in i["defaultActions"]]}
        assert validate_aws_request(botocore_loader, "elbv2", "CreateListener", whole_numbers(request)) == []


def test_passthrough_forwards_80_to_8000_and_443_to_8443(run_stack, base_config):
    result = run_stack(base_config)
    routes = {}
    for listener in result.of_type(LISTENER):
        (action,) = listener.inputs["defaultActions"]
        target = [g for g in result.of_type(TG) if g.urn in listener.dependencies]
        assert len(target) == 1
        routes[listener.inputs["port"]] = (listener.inputs["protocol"], target[0].inputs["port"])
    assert routes == {80: ("TCP", 8000), 443: ("TCP", 8443)}


def test_tls_termination_uses_the_acm_certificate_and_re_encrypts(run_stack, base_config):
    arn = "arn:aws:acm:us-west-2:123456789012:certificate/1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901"
    base_config["kong-aws:loadBalancer"] = {"tlsMode": "terminate", "certificateArn": arn}
    result = run_stack(base_config)
    https = next(l for l in result.of_type(LISTENER) if l.inputs["port"] == 443)
    assert https.inputs["protocol"] == "TLS"
    assert https.inputs["certificateArn"] == arn
    assert https.inputs["sslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    assert by_name(result, TG)["kong-proxy-https"].inputs["protocol"] == "TLS"


def test_internal_load_balancer_sits_in_the_private_subnets(run_stack, base_config):
    base_config["kong-aws:loadBalancer"] = {"internal": True}
    result = run_stack(base_config)
    lb = result.one("aws:lb/loadBalancer:LoadBalancer")
    assert lb.inputs["internal"] is True
    private = {s.urn for s in result.of_type("aws:ec2/subnet:Subnet") if "private" in s.name}
    assert private and private <= set(lb.dependencies)
    assert lb.inputs["subnets"] == result.one(SERVICE).inputs["networkConfiguration"]["subnets"]


def test_service_deploys_without_losing_capacity_and_rolls_back(run_stack, base_config):
    base_config["kong-aws:ecs"] = {"desiredCount": 3, "minCount": 2, "maxCount": 8, "cpuTargetPercent": 55}
    result = run_stack(base_config)
    service = result.one(SERVICE)
    i = service.inputs
    assert i["desiredCount"] == 3
    assert i["deploymentMinimumHealthyPercent"] == 100 and i["deploymentMaximumPercent"] == 200
    assert i["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert i["waitForSteadyState"] is True
    assert service.options["ignoreChanges"] == ["desiredCount"]
    listeners = {l.urn for l in result.of_type(LISTENER)}
    assert listeners <= set(service.dependencies)  # target groups are attached before the service
    cluster = result.one("aws:ecs/cluster:Cluster")
    assert {"name": "containerInsights", "value": "enabled"} in cluster.inputs["settings"]

    target = result.one("aws:appautoscaling/target:Target")
    assert (target.inputs["minCapacity"], target.inputs["maxCapacity"]) == (2, 8)
    assert target.inputs["scalableDimension"] == "ecs:service:DesiredCount"
    assert target.inputs["resourceId"].startswith("service/kong-service-cluster-")
    policy = result.one("aws:appautoscaling/policy:Policy").inputs
    tracking = policy["targetTrackingScalingPolicyConfiguration"]
    assert policy["policyType"] == "TargetTrackingScaling"
    assert tracking["targetValue"] == 55
    assert tracking["predefinedMetricSpecification"]["predefinedMetricType"] == "ECSServiceAverageCPUUtilization"


@pytest.mark.parametrize("spot,expected", [
    (0, [("FARGATE", 1, 0)]),
    (30, [("FARGATE", 70, 1), ("FARGATE_SPOT", 30, 0)]),
])
def test_fargate_spot_share(run_stack, base_config, spot, expected):
    base_config["kong-aws:ecs"] = {"fargateSpotPercent": spot}
    result = run_stack(base_config)
    strategy = result.one(SERVICE).inputs["capacityProviderStrategies"]
    assert [(s["capacityProvider"], s["weight"], s["base"]) for s in strategy] == expected
    providers = result.one("aws:ecs/clusterCapacityProviders:ClusterCapacityProviders").inputs
    assert set(providers["capacityProviders"]) == {"FARGATE", "FARGATE_SPOT"}


def test_a_new_certificate_makes_a_new_task_definition(run_stack, base_config):
    # The certificate's hash is a Docker label, so rotation rolls the service.
    first = container(run_stack(base_config))["dockerLabels"]["kong-aws.cluster-cert-sha256"]
    base_config["kong-aws:certificate"] = {"commonName": "rotated"}
    second = container(run_stack(base_config))["dockerLabels"]["kong-aws.cluster-cert-sha256"]
    assert len(first) == 64 and first != second
