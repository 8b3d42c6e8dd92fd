"""The ECS task definition of Konnect data planes, with its certificate secret, role and logs.

Replaces what the seeds paste into a task definition by hand (the certificate and key as plain
environment variables): the cluster certificate and key live in one Secrets Manager secret and
reach the container as ``secrets`` pinned to the secret's version, so a new certificate makes a
new task definition revision.
"""

import enum
import hashlib
import json
from typing import Any, Optional, Required, TypedDict, cast

import pulumi
import pulumi_aws as aws

from components.image_source import ecr_repository_arn, import_statement, pulled_repository
from components.kong_facts import PROXY_HTTP_PORT, PROXY_HTTPS_PORT, STATUS_PORT
from components.kong_settings import (KONG_DEFAULTS, ClusterEndpoint, KongArgs, KongNode, SecretSetting,
                                      container_environment, image_reference)
from components.kong_settings import worker_processes as kong_worker_processes
from components.konnect_api import KonnectEndpoint, parse_endpoint
from components.metrics_agent import ecs_container as metrics_agent_container
from components.metrics_agent import LOOPBACK, ecs_task_trust_policy, emf_policy, stack_dimension_value
from components.package import type_token, with_defaults

CONTAINER_NAME = "kong"
#: Open files per container (soft and hard). Fargate's default is 65535 (ECS API reference, Ulimit,
#: as botocore's ECS model has it); 1048576 is the ceiling AWS's Fargate task-definition guide gives
#: (not checked offline here). Kong sizes ``worker_rlimit_nofile`` and worker connections from it.
NOFILE_LIMIT = 1048576
#: The container health check: ``kong health`` exits non-zero unless Kong's nginx is running. It is
#: the HEALTHCHECK of Kong's own images and needs no tool (curl) the image may not ship.
HEALTH_CHECK = {"command": ["CMD", "kong", "health"], "interval": 15, "timeout": 10,
                "retries": 3, "startPeriod": 30}


class CpuArchitecture(str, enum.Enum):
    """The CPU architecture of the Fargate tasks (ECS ``runtimePlatform.cpuArchitecture``)."""

    X86_64 = "X86_64"
    ARM64 = "ARM64"


class TaskSettings(TypedDict, total=False):
    """The Fargate task as a user chooses it (defaults: :data:`TASK_DEFINITION_DEFAULTS`)."""

    cpu: int
    """task CPU units, 1024 = 1 vCPU (default 1024); one nginx worker per whole vCPU"""
    memory: int
    """task memory in MiB (default 2048), a size Fargate accepts with ``cpu``"""
    cpu_architecture: CpuArchitecture
    """``X86_64`` (default) or ``ARM64``"""
    log_retention_days: pulumi.Input[int]
    """days CloudWatch Logs keeps the container logs (default 30)"""
    stop_timeout_seconds: int
    """seconds a stopping task may drain, 2-120 (default 60)"""
    secrets_kms_key_arn: str
    """a customer managed KMS key for the certificate secret (default: the AWS managed key)"""


class DataPlaneTaskDefinitionArgs(TaskSettings, total=False):
    """Arguments of :class:`DataPlaneTaskDefinition`: :class:`TaskSettings` and what the container
    runs. Values that shape the container's settings (``kong``, ``cpu``) are plain; the rest may be
    outputs of other resources.
    """

    kong: Required[KongArgs]
    """the Kong Gateway image and settings"""
    control_plane_endpoint: Required[pulumi.Input[str]]
    """the Konnect control plane endpoint: host, ``host:port`` or ``https://`` URL"""
    telemetry_endpoint: Required[pulumi.Input[str]]
    """the Konnect telemetry endpoint, same forms"""
    cert_pem: Required[pulumi.Input[str]]
    """the data plane's cluster certificate, PEM, as pinned in Konnect"""
    private_key_pem: Required[pulumi.Input[str]]
    """its private key, PEM (kept secret)"""
    image_source_ready: pulumi.Input[str]
    """resolves once the image can be pulled (:attr:`components.image_source.ImageSource.ready`): the
    task definition is registered only after it"""
    pinned_certificate_id: pulumi.Input[str]
    """the id of the certificate's pin in Konnect: the certificate is stored only after the pin exists"""
    region: Required[pulumi.Input[str]]
    """the AWS region of the log group"""
    family: str
    """the task definition family (default ``<project>-<stack>-<name>``)"""
    log_group_name: str
    """the log group's name (default ``/kong-aws/<stack>/<name>``)"""
    proxy_protocol: bool
    """the load balancer sends a PROXY protocol v2 header on every connection, health checks included
    (the gateway passes its load balancer's choice; absent: off): Kong's proxy and status listeners
    then require it (:func:`data_plane_node`)"""
    trusted_ips: list[str]
    """with ``proxy_protocol``: CIDR blocks of the load balancer's addresses, Kong's ``trusted_ips``"""
    kong_metrics: bool
    """a CloudWatch agent next to Kong sends Kong's Prometheus metrics to CloudWatch
    (:mod:`components.metrics_agent`; default off: the task is as without it)"""


#: Defaults of :class:`DataPlaneTaskDefinitionArgs`, the only place they are written: 1 vCPU and
#: 2 GiB, logs kept 30 days, 60 s to drain on stop (Fargate allows up to 120 s).
TASK_DEFINITION_DEFAULTS: dict[str, Any] = {
    "cpu": 1024, "memory": 2048, "cpu_architecture": CpuArchitecture.X86_64, "log_retention_days": 30,
    "stop_timeout_seconds": 60}


def worker_processes(cpu_units: int) -> int:
    """nginx worker processes for a task of ``cpu_units`` (1024 = 1 vCPU): the rule of
    :func:`components.kong_settings.worker_processes`."""
    return kong_worker_processes(cpu_units / 1024)


def data_plane_node(kong: KongArgs, control_plane: KonnectEndpoint, telemetry: KonnectEndpoint,
                    cpu_units: int, cert_ref: str, key_ref: str, proxy_protocol: bool = False,
                    trusted_ips: tuple[str, ...] = (), metrics: bool = False) -> KongNode:
    """The Kong node a Konnect data plane on ECS runs (settings of Konnect's data plane guide:
    ../shared/reference/konnect-endpoints.json ``konnect_data_plane_minimum_kong_conf``).

    ``control_plane`` / ``telemetry``: the Konnect endpoints; ``cert_ref`` / ``key_ref``: the
    Secrets Manager ``valueFrom`` references of the cluster certificate and key.

    ``proxy_protocol`` (default off): the NLB target groups send PROXY protocol v2, so the proxy
    listeners require the header and take the client address from it when it comes from
    ``trusted_ips``; the status listener requires it too, because the NLB's health checks (HTTP on
    the status port) carry it as well ("If you enable proxy protocol, the proxy protocol header is
    also included in the health check connection", ELB docs, "Target groups for your Network Load
    Balancers", proxy protocol; observed on a health check port other than the traffic port in
    kubernetes/ingress-nginx#10982). The container's own health check (``kong health``) does not
    use the status listener.

    ``metrics`` (default off): a second status listener on loopback for the task's CloudWatch
    agent (``metrics_address`` :data:`components.metrics_agent.LOOPBACK`), without proxy protocol
    whatever ``proxy_protocol`` says, since the agent's scrape sends no header.
    """
    kong = with_defaults(kong, KONG_DEFAULTS)  # type: ignore[assignment]
    cp, tp = control_plane, telemetry
    return KongNode(
        role="data_plane",
        cluster_mtls="pki",
        cluster_cert=SecretSetting(cert_ref),
        cluster_cert_key=SecretSetting(key_ref),
        control_plane=ClusterEndpoint(address=cp.address, server_name=cp.host),
        telemetry=ClusterEndpoint(address=tp.address, server_name=tp.host),
        konnect=True,
        labels=dict(kong["data_plane_labels"]),
        worker_processes=worker_processes(cpu_units),
        router_flavor=str(getattr(kong["router_flavor"], "value", kong["router_flavor"])),
        log_level=str(getattr(kong["log_level"], "value", kong["log_level"])),
        trusted_certificates=("system",),
        proxy_protocol=proxy_protocol,
        trusted_ips=tuple(trusted_ips) if proxy_protocol else (),
        status_proxy_protocol=proxy_protocol,
        metrics_address=LOOPBACK if metrics else None,
    )


def container_definitions(node: KongNode, image: str, log_group: str, region: str, stop_timeout: int,
                          cert_sha256: str, sidecars: tuple[dict, ...] = ()) -> list[dict]:
    """The task's container definitions (ECS ``ContainerDefinition`` shape, camelCase keys): Kong,
    then ``sidecars`` as given (the metrics agent, :func:`components.metrics_agent.ecs_container`).

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
    }, *sidecars]


def execution_role_policy(secret_arn: str, log_group_arn: str, kms_key_arn: Optional[str],
                          image: str, cache_import: Optional[dict] = None) -> dict:
    """The task execution role's only policy: read exactly the certificate secret (and decrypt it
    with its KMS key when one is given), write to exactly the log group, and pull the image when
    it lives in ECR. ``cache_import``: the statement that lets the role fill an ECR pull through
    cache with the image (:func:`components.image_source.import_statement`), added as given.
    Returns an IAM policy document (dict)."""
    statements: list[dict] = [
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
    repository_arn = ecr_repository_arn(image)
    if repository_arn:
        statements += [
            {"Sid": "EcrAuth", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": ["*"]},
            {"Sid": "EcrPull", "Effect": "Allow",
             "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
             "Resource": [repository_arn]},
        ]
    if cache_import is not None:
        statements.append(cache_import)
    return {"Version": "2012-10-17", "Statement": statements}


class DataPlaneTaskDefinition(pulumi.ComponentResource):
    """The Fargate task definition of Konnect data planes (type ``kong-aws:index:DataPlaneTaskDefinition``).

    Children: ``{name}-cluster-cert`` (a Secrets Manager secret with JSON keys ``cert`` and
    ``key``, 7 days' recovery window, and its version, stored only after ``pinned_certificate_id``
    exists), ``{name}-logs`` (the log group), ``{name}-execution`` (the task execution role, which
    only ECS acting for this account may assume, and its one policy,
    :func:`execution_role_policy`) and ``{name}-task`` (the task definition: one container
    :data:`CONTAINER_NAME` from :func:`container_definitions`, Linux on Fargate, ``awsvpc``). With
    ``kong_metrics`` also ``{name}-metrics`` and ``{name}-task-role`` (:meth:`_metrics`), and the
    task runs the CloudWatch agent next to Kong (:func:`components.metrics_agent.ecs_container`)
    with that role; without it the task has no task role and one container, as before.

    Outputs: ``task_definition_arn``, ``family``, ``secret_arn``, ``log_group_name``,
    ``execution_role_arn``, ``metrics_log_group_name`` (with ``kong_metrics``).
    """

    task_definition_arn: pulumi.Output[str]
    """the task definition revision's ARN"""
    family: pulumi.Output[str]
    """its family"""
    secret_arn: pulumi.Output[str]
    """the Secrets Manager secret holding the certificate and key"""
    log_group_name: pulumi.Output[str]
    """the containers' log group"""
    execution_role_arn: pulumi.Output[str]
    """the task execution role"""
    metrics_log_group_name: Optional[pulumi.Output[str]]
    """with ``kong_metrics``: the log group of Kong's metrics (EMF), else None"""

    def __init__(self, name: str, args: DataPlaneTaskDefinitionArgs,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(type_token(DataPlaneTaskDefinition), name, None, opts)
        settings = with_defaults(args, TASK_DEFINITION_DEFAULTS)
        child = pulumi.ResourceOptions(parent=self)
        kong = with_defaults(settings["kong"], KONG_DEFAULTS)
        kms_key_arn: Optional[str] = settings.get("secrets_kms_key_arn")
        # Kong's image as the tasks pull it: through the ECR pull through cache when kong asks for one.
        image = image_reference(pulled_repository(cast(KongArgs, kong)), kong["version"])
        cache_import = import_statement(cast(KongArgs, kong))

        # --- Certificate and key in Secrets Manager (one secret, two JSON keys).
        secret = aws.secretsmanager.Secret(
            f"{name}-cluster-cert",
            description="Kong data plane cluster certificate and key (Konnect mTLS), JSON keys cert and key",
            kms_key_id=kms_key_arn, recovery_window_in_days=7, opts=child)
        # Waiting on the pin's id orders the version after the pin: a rotated certificate is pinned
        # in Konnect before any task can read it.
        pinned = pulumi.Output.from_input(settings.get("pinned_certificate_id", ""))
        document = pulumi.Output.json_dumps({"cert": settings["cert_pem"], "key": settings["private_key_pem"]})
        secret_string: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.all(document, pinned).apply(lambda values: str(values[0])))
        secret_version = aws.secretsmanager.SecretVersion(
            f"{name}-cluster-cert", secret_id=secret.id, secret_string=secret_string, opts=child)

        # --- Logs.
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", name=settings.get("log_group_name", f"/kong-aws/{pulumi.get_stack()}/{name}"),
            retention_in_days=settings["log_retention_days"], opts=child)

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
        policy = aws.iam.RolePolicy(
            f"{name}-execution",
            role=role.id,
            policy=pulumi.Output.all(secret.arn, log_group.arn).apply(
                lambda arns: json.dumps(execution_role_policy(arns[0], arns[1], kms_key_arn, image, cache_import))),
            opts=child)

        metrics = self._metrics(name, settings, identity.account_id, log_group) if settings.get("kong_metrics") else None

        cpu, stop_timeout = int(settings["cpu"]), int(settings["stop_timeout_seconds"])
        proxy_protocol = bool(settings.get("proxy_protocol", False))
        trusted_ips = tuple(settings.get("trusted_ips") or ())

        def render(values: list) -> str:
            secret_arn, version_id, log_group_name, cert_pem, cp_endpoint, tp_endpoint, region, *emf_group = values
            # valueFrom: <secret arn>:<json key>:<version stage>:<version id> (pinned version).
            node = data_plane_node(cast(KongArgs, kong), parse_endpoint(cp_endpoint), parse_endpoint(tp_endpoint), cpu,
                                   f"{secret_arn}:cert::{version_id}", f"{secret_arn}:key::{version_id}",
                                   proxy_protocol, trusted_ips, metrics=bool(emf_group))
            cert_sha256 = hashlib.sha256(cert_pem.encode()).hexdigest()
            sidecars = tuple(metrics_agent_container(
                stack_dimension_value(pulumi.get_project(), pulumi.get_stack()), emf_group[0], region, log_group_name,
                CONTAINER_NAME) for _ in emf_group)
            return json.dumps(container_definitions(node, image, log_group_name, region, stop_timeout,
                                                    cert_sha256, sidecars))

        task_definition = aws.ecs.TaskDefinition(
            f"{name}-task",
            family=settings.get("family", f"{pulumi.get_project()}-{pulumi.get_stack()}-{name}"),
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(cpu),
            memory=str(settings["memory"]),
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                operating_system_family="LINUX",
                cpu_architecture=CpuArchitecture(settings["cpu_architecture"]).value),
            execution_role_arn=role.arn,
            task_role_arn=metrics[1].arn if metrics else None,
            container_definitions=pulumi.Output.all(
                # Waited for, not used: the image can be pulled once this resolves.
                pulumi.Output.from_input(settings.get("image_source_ready", "")),
                secret.arn, secret_version.version_id, log_group.name, settings["cert_pem"],
                settings["control_plane_endpoint"], settings["telemetry_endpoint"], settings["region"],
                *([metrics[0].name] if metrics else []),
            ).apply(lambda values: render(values[1:])),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy, *(metrics[2:] if metrics else [])]))

        self.metrics_log_group_name = metrics[0].name if metrics else None
        self.task_definition_arn = task_definition.arn
        self.family = task_definition.family
        self.secret_arn = secret.arn
        self.log_group_name = log_group.name
        self.execution_role_arn = role.arn
        self.register_outputs({
            "taskDefinitionArn": self.task_definition_arn,
            "family": self.family,
            "secretArn": self.secret_arn,
            "logGroupName": self.log_group_name,
            "executionRoleArn": self.execution_role_arn,
            **({"metricsLogGroupName": self.metrics_log_group_name} if self.metrics_log_group_name is not None else {}),
        })

    def _metrics(self, name: str, settings: dict, account_id: str, logs: aws.cloudwatch.LogGroup
                 ) -> tuple[aws.cloudwatch.LogGroup, aws.iam.Role, aws.iam.RolePolicy]:
        """With ``kong_metrics``: ``{name}-metrics`` (the EMF log group, next to the containers'
        and with their retention) and ``{name}-task-role`` (the task role, which only ECS acting for
        this account may assume, and its one policy, :func:`components.metrics_agent.emf_policy`).
        Returns (log group, role, policy)."""
        child = pulumi.ResourceOptions(parent=self)
        emf_logs = aws.cloudwatch.LogGroup(
            f"{name}-metrics", name=logs.name.apply(lambda group: f"{group}/kong-metrics"),
            retention_in_days=settings["log_retention_days"], opts=child)
        role = aws.iam.Role(
            f"{name}-task-role", description="ECS task role of the Kong data planes: the CloudWatch agent's metrics",
            assume_role_policy=json.dumps(ecs_task_trust_policy(account_id)), opts=child)
        policy = aws.iam.RolePolicy(
            f"{name}-task-role", role=role.id,
            policy=emf_logs.arn.apply(lambda arn: json.dumps(emf_policy(arn))), opts=child)
        return emf_logs, role, policy
