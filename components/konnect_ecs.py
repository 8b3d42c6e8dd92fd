"""Kong Konnect data planes on ECS Fargate, behind a Network Load Balancer.

Replaces the hand-made setup of the seeds (a task definition with the certificate and key pasted
into plain environment variables, ports 8000/8443 open to the world on one task): the cluster
certificate lives in Secrets Manager and reaches the container through ``secrets``; the tasks run
in private subnets and accept traffic only from the load balancer; the service keeps full capacity
while it deploys, rolls back a failed deployment, and scales on CPU.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_aws as aws

from components.certificates import ClusterCertificate
from components.config import EcsConfig, KongConfig, LoadBalancerConfig
from components.konnect_api import KonnectEndpoint, parse_endpoint
from components.kong_settings import (PROXY_HTTP_PORT, PROXY_HTTPS_PORT, STATUS_PORT, ClusterEndpoint,
                                      KongNode, SecretSetting, container_environment)
from components.proxy_load_balancer import ProxyLoadBalancer, ProxyLoadBalancerArgs

CONTAINER_NAME = "kong"
#: Open files per container (soft and hard). Fargate's default is 65535 (ECS API reference, Ulimit,
#: as botocore's ECS model has it); 1048576 is the ceiling AWS's Fargate task-definition guide gives
#: (not checked offline here). Kong sizes ``worker_rlimit_nofile`` and worker connections from it.
NOFILE_LIMIT = 1048576
#: The container health check: ``kong health`` exits non-zero unless Kong's nginx is running. It is
#: the HEALTHCHECK of Kong's own images and needs no tool (curl) the image may not ship.
HEALTH_CHECK = {"command": ["CMD", "kong", "health"], "interval": 15, "timeout": 10,
                "retries": 3, "startPeriod": 30}
_ECR_IMAGE = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(.+)$")


def worker_processes(cpu_units: int) -> int:
    """nginx worker processes for a task of ``cpu_units`` (1024 = 1 vCPU): one per whole vCPU,
    at least one. Kong's ``auto`` would count the Fargate host's CPUs, not the task's share."""
    return max(1, cpu_units // 1024)


def data_plane_node(kong: KongConfig, control_plane: KonnectEndpoint, telemetry: KonnectEndpoint,
                    cpu_units: int, cert_ref: str, key_ref: str) -> KongNode:
    """The Kong node a Konnect data plane on ECS runs (settings of Konnect's data plane guide:
    ../shared/reference/konnect-endpoints.json ``konnect_data_plane_minimum_kong_conf``).

    ``control_plane`` / ``telemetry``: the Konnect endpoints; ``cert_ref`` / ``key_ref``: the
    Secrets Manager ``valueFrom`` references of the cluster certificate and key.
    """
    cp, tp = control_plane, telemetry
    return KongNode(
        role="data_plane",
        cluster_mtls="pki",
        cluster_cert=SecretSetting(cert_ref),
        cluster_cert_key=SecretSetting(key_ref),
        control_plane=ClusterEndpoint(address=cp.address, server_name=cp.host),
        telemetry=ClusterEndpoint(address=tp.address, server_name=tp.host),
        konnect=True,
        labels=kong.data_plane_labels,
        worker_processes=worker_processes(cpu_units),
        router_flavor=kong.router_flavor,
        log_level=kong.log_level,
        trusted_certificates=("system",),
    )


def container_definitions(node: KongNode, image: str, log_group: str, region: str, stop_timeout: int,
                          cert_sha256: str) -> list[dict]:
    """The task's container definitions (ECS ``ContainerDefinition`` shape, camelCase keys).

    ``cert_sha256`` is written as a Docker label so that a new certificate makes a new task
    definition revision and rolls the service.
    """
    environment, secrets = container_environment(node.settings())
    return [{
        "name": CONTAINER_NAME,
        "image": image,
        "essential": True,
        "portMappings": [
            {"name": "proxy-http", "containerPort": PROXY_HTTP_PORT, "protocol": "tcp"},
            {"name": "proxy-https", "containerPort": PROXY_HTTPS_PORT, "protocol": "tcp"},
            {"name": "status", "containerPort": STATUS_PORT, "protocol": "tcp"},
        ],
        "environment": environment,
        "secrets": secrets,
        "healthCheck": HEALTH_CHECK,
        "ulimits": [{"name": "nofile", "softLimit": NOFILE_LIMIT, "hardLimit": NOFILE_LIMIT}],
        "stopTimeout": stop_timeout,
        "linuxParameters": {"initProcessEnabled": True},
        "dockerLabels": {"kong-aws.cluster-cert-sha256": cert_sha256},
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": log_group,
                "awslogs-region": region,
                "awslogs-stream-prefix": CONTAINER_NAME,
                # Never block Kong's workers on a slow log pipeline.
                "mode": "non-blocking",
                "max-buffer-size": "25m",
            },
        },
    }]


def execution_role_policy(secret_arn: str, log_group_arn: str, kms_key_arn: Optional[str],
                          image: str) -> dict:
    """The task execution role's only policy: read exactly the certificate secret (and decrypt it
    with its KMS key when one is given), write to exactly the log group, and pull the image when
    it lives in ECR. Returns an IAM policy document (dict)."""
    statements = [
        {"Sid": "ReadClusterCertificate", "Effect": "Allow",
         "Action": ["secretsmanager:GetSecretValue"], "Resource": [secret_arn]},
        {"Sid": "WriteLogs", "Effect": "Allow",
         "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": [f"{log_group_arn}:log-stream:*"]},
    ]
    if kms_key_arn:
        region = kms_key_arn.split(":")[3]
        statements.append({
            "Sid": "DecryptClusterCertificate", "Effect": "Allow", "Action": ["kms:Decrypt"],
            "Resource": [kms_key_arn],
            "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}}})
    ecr = _ECR_IMAGE.match(image)
    if ecr:
        account, region, repository = ecr.group(1), ecr.group(2), re.split(r"[:@]", ecr.group(3))[0]
        statements += [
            {"Sid": "EcrAuth", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": ["*"]},
            {"Sid": "EcrPull", "Effect": "Allow",
             "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
             "Resource": [f"arn:aws:ecr:{region}:{account}:repository/{repository}"]},
        ]
    return {"Version": "2012-10-17", "Statement": statements}


def capacity_provider_strategy(spot_percent: int) -> list[dict]:
    """FARGATE / FARGATE_SPOT weights for ``spot_percent`` (0-100) of tasks on Spot. With any
    Spot share, the first task always runs on FARGATE (``base`` 1)."""
    if spot_percent == 0:
        return [{"capacity_provider": "FARGATE", "weight": 1, "base": 0}]
    return [{"capacity_provider": "FARGATE", "weight": 100 - spot_percent, "base": 1},
            {"capacity_provider": "FARGATE_SPOT", "weight": spot_percent, "base": 0}]


@dataclass
class KonnectDataPlanesArgs:
    """Arguments of :class:`KonnectDataPlanes`.

    ``kong``, ``ecs``, ``load_balancer``: the validated config sections.
    ``control_plane_endpoint`` / ``telemetry_endpoint``: the Konnect endpoints in any form
    :func:`components.config.parse_endpoint` accepts (config text, or a managed control plane's
    ``https://`` URLs). ``certificate``: the data plane's cluster certificate (the one pinned in
    Konnect). ``pinned_by``: resources the data planes wait for (the certificate's pin in Konnect),
    so that a rotated certificate is pinned before tasks present it.
    ``vpc_id``, ``private_subnet_ids`` (tasks), ``public_subnet_ids`` (the NLB, unless internal).
    ``region``: the AWS region (logs). ``family``: the task definition family name.
    """

    kong: KongConfig
    control_plane_endpoint: pulumi.Input[str]
    telemetry_endpoint: pulumi.Input[str]
    ecs: EcsConfig
    load_balancer: LoadBalancerConfig
    certificate: ClusterCertificate
    vpc_id: pulumi.Input[str]
    private_subnet_ids: pulumi.Input[Sequence[str]]
    public_subnet_ids: pulumi.Input[Sequence[str]]
    region: str
    family: str
    pinned_by: Sequence[pulumi.Resource] = ()


class KonnectDataPlanes(pulumi.ComponentResource):
    """Konnect data planes as an ECS Fargate service (type ``kong-aws:konnect_ecs:KonnectDataPlanes``).

    Children: the certificate secret and its version, the log group, the task execution role and
    its policy, the task security group and its rules, the task definition, the ECS cluster with
    its capacity providers, a :class:`ProxyLoadBalancer`, the service, and its scaling target and
    CPU target-tracking policy.

    Outputs: ``load_balancer_dns_name``, ``cluster_name``, ``service_name``, ``log_group_name``,
    ``task_definition_arn``, ``secret_arn``.
    """

    load_balancer_dns_name: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    service_name: pulumi.Output[str]
    log_group_name: pulumi.Output[str]
    task_definition_arn: pulumi.Output[str]
    secret_arn: pulumi.Output[str]

    def __init__(self, name: str, args: KonnectDataPlanesArgs,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("kong-aws:konnect_ecs:KonnectDataPlanes", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ecs_cfg, lb_cfg = args.ecs, args.load_balancer

        # --- Certificate and key in Secrets Manager (one secret, two JSON keys).
        secret = aws.secretsmanager.Secret(
            f"{name}-cluster-cert",
            description="Kong data plane cluster certificate and key (Konnect mTLS), JSON keys cert and key",
            kms_key_id=ecs_cfg.secrets_kms_key_arn, recovery_window_in_days=7, opts=child)
        secret_string = pulumi.Output.secret(pulumi.Output.json_dumps(
            {"cert": args.certificate.cert_pem, "key": args.certificate.private_key_pem}))
        secret_version = aws.secretsmanager.SecretVersion(
            f"{name}-cluster-cert", secret_id=secret.id, secret_string=secret_string,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.pinned_by)))

        # --- Logs.
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", name=f"/kong-aws/{pulumi.get_stack()}/{name}",
            retention_in_days=ecs_cfg.log_retention_days, opts=child)

        # --- Task execution role: pull the image, read the secret, write the logs; nothing more.
        identity = aws.get_caller_identity(opts=pulumi.InvokeOptions(parent=self))
        role = aws.iam.Role(
            f"{name}-execution",
            description="ECS task execution role of the Kong data planes",
            assume_role_policy=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    # Only ECS acting for this account may assume it (confused deputy guard).
                    "Condition": {"StringEquals": {"aws:SourceAccount": identity.account_id}},
                }],
            }),
            opts=child)
        image = args.kong.image_ref
        policy = aws.iam.RolePolicy(
            f"{name}-execution",
            role=role.id,
            policy=pulumi.Output.all(secret.arn, log_group.arn).apply(
                lambda arns: json.dumps(execution_role_policy(
                    arns[0], arns[1], ecs_cfg.secrets_kms_key_arn, image))),
            opts=child)

        # --- Task security group: inbound only from the NLB (rules added below), outbound open:
        # Konnect and registries on 443, and the upstream services Kong proxies to on any port.
        task_sg = aws.ec2.SecurityGroup(
            f"{name}-tasks", vpc_id=args.vpc_id,
            description="Kong data plane tasks: inbound only from the proxy load balancer",
            tags={"Name": f"{name}-tasks"}, opts=child)
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-tasks-out", security_group_id=task_sg.id, ip_protocol="-1",
            cidr_ipv4="0.0.0.0/0", description="Konnect, image registry, AWS APIs, upstream services",
            opts=child)

        lb = ProxyLoadBalancer(f"{name}-proxy", ProxyLoadBalancerArgs(
            vpc_id=args.vpc_id,
            subnet_ids=args.private_subnet_ids if lb_cfg.internal else args.public_subnet_ids,
            target_security_group_id=task_sg.id,
            internal=lb_cfg.internal, tls_mode=lb_cfg.tls_mode,
            certificate_arn=lb_cfg.certificate_arn, ssl_policy=lb_cfg.ssl_policy,
            allowed_cidrs=lb_cfg.allowed_cidrs,
            deregistration_delay=lb_cfg.deregistration_delay_seconds,
            deletion_protection=lb_cfg.deletion_protection), opts=child)
        for port in (PROXY_HTTP_PORT, PROXY_HTTPS_PORT, STATUS_PORT):
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-tasks-in-{port}", security_group_id=task_sg.id, ip_protocol="tcp",
                from_port=port, to_port=port, referenced_security_group_id=lb.security_group_id,
                description=f"from the proxy load balancer on {port}", opts=child)

        # --- Task definition.
        def render(values: list) -> str:
            secret_arn, version_id, log_group_name, cert_sha256, cp_endpoint, tp_endpoint = values
            # valueFrom: <secret arn>:<json key>:<version stage>:<version id> (pinned version).
            node = data_plane_node(args.kong, parse_endpoint(cp_endpoint), parse_endpoint(tp_endpoint),
                                   ecs_cfg.cpu, f"{secret_arn}:cert::{version_id}",
                                   f"{secret_arn}:key::{version_id}")
            return json.dumps(container_definitions(
                node, image, log_group_name, args.region, ecs_cfg.stop_timeout_seconds, cert_sha256))

        task_definition = aws.ecs.TaskDefinition(
            f"{name}-task",
            family=args.family,
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(ecs_cfg.cpu),
            memory=str(ecs_cfg.memory),
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                operating_system_family="LINUX", cpu_architecture=ecs_cfg.cpu_architecture),
            execution_role_arn=role.arn,
            container_definitions=pulumi.Output.all(
                secret.arn, secret_version.version_id, log_group.name, args.certificate.cert_sha256,
                args.control_plane_endpoint, args.telemetry_endpoint,
            ).apply(render),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]))

        # --- Cluster and service.
        cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            settings=[aws.ecs.ClusterSettingArgs(name="containerInsights", value="enabled")],
            opts=child)
        strategy = capacity_provider_strategy(ecs_cfg.fargate_spot_percent)
        providers = aws.ecs.ClusterCapacityProviders(
            f"{name}-capacity", cluster_name=cluster.name,
            capacity_providers=["FARGATE", "FARGATE_SPOT"],
            default_capacity_provider_strategies=strategy, opts=child)

        service = aws.ecs.Service(
            f"{name}-service",
            cluster=cluster.arn,
            task_definition=task_definition.arn,
            desired_count=ecs_cfg.desired_count,
            capacity_provider_strategies=strategy,
            platform_version="LATEST",
            network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
                subnets=args.private_subnet_ids, security_groups=[task_sg.id], assign_public_ip=False),
            load_balancers=[
                aws.ecs.ServiceLoadBalancerArgs(target_group_arn=lb.http_target_group_arn,
                                                container_name=CONTAINER_NAME, container_port=PROXY_HTTP_PORT),
                aws.ecs.ServiceLoadBalancerArgs(target_group_arn=lb.https_target_group_arn,
                                                container_name=CONTAINER_NAME, container_port=PROXY_HTTPS_PORT),
            ],
            # Rolling deployment that never drops below the desired count.
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(enable=True, rollback=True),
            health_check_grace_period_seconds=ecs_cfg.health_check_grace_period_seconds,
            availability_zone_rebalancing="ENABLED",
            enable_ecs_managed_tags=True,
            propagate_tags="SERVICE",
            enable_execute_command=False,
            wait_for_steady_state=True,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[providers, *lb.listeners],
                # The scaling policy owns the running count after the first deployment.
                ignore_changes=["desiredCount"]))

        target = aws.appautoscaling.Target(
            f"{name}-scaling",
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=pulumi.Output.concat("service/", cluster.name, "/", service.name),
            min_capacity=ecs_cfg.min_count,
            max_capacity=ecs_cfg.max_count,
            opts=child)
        aws.appautoscaling.Policy(
            f"{name}-cpu",
            policy_type="TargetTrackingScaling",
            service_namespace=target.service_namespace,
            scalable_dimension=target.scalable_dimension,
            resource_id=target.resource_id,
            target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                    predefined_metric_type="ECSServiceAverageCPUUtilization"),
                target_value=float(ecs_cfg.cpu_target_percent),
                scale_out_cooldown=60,
                scale_in_cooldown=300),
            opts=child)

        self.load_balancer_dns_name = lb.dns_name
        self.cluster_name = cluster.name
        self.service_name = service.name
        self.log_group_name = log_group.name
        self.task_definition_arn = task_definition.arn
        self.secret_arn = secret.arn
        self.register_outputs({
            "loadBalancerDnsName": self.load_balancer_dns_name,
            "clusterName": self.cluster_name,
            "serviceName": self.service_name,
            "logGroupName": self.log_group_name,
            "taskDefinitionArn": self.task_definition_arn,
            "secretArn": self.secret_arn,
        })
