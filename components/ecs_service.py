"""The ECS service of Konnect data planes, with its cluster, capacity providers and scaling.

The service keeps full capacity while it deploys (minimum healthy 100 %), rolls back a failed
deployment (circuit breaker), registers its tasks with the load balancer's target groups and scales
on CPU between ``min_count`` and ``max_count``.
"""

import json
from typing import Any, Optional, Required, TypedDict

import pulumi
import pulumi_aws as aws

from components.ecs_task_definition import CONTAINER_NAME
from components.kong_facts import PROXY_HTTP_PORT, PROXY_HTTPS_PORT
from components.package import type_token, with_defaults


class ServiceSettings(TypedDict, total=False):
    """The service's size and scaling as a user chooses them (defaults: :data:`SERVICE_DEFAULTS`)."""

    desired_count: int
    """tasks at the first deployment (default 2); scaling owns the count afterwards"""
    min_count: int
    """lowest task count of CPU target tracking (default 2)"""
    max_count: int
    """highest task count of CPU target tracking (default 6)"""
    cpu_target_percent: int
    """average CPU the scaling policy aims at, 10-90 (default 60)"""
    fargate_spot_percent: int
    """share of tasks on FARGATE_SPOT, 0-100 (default 0); with any share the first task is on FARGATE"""
    health_check_grace_period_seconds: pulumi.Input[int]
    """seconds ECS ignores load balancer health after a task starts (default 60)"""
    container_insights: bool
    """CloudWatch Container Insights on the cluster (default true): per-task CPU, memory, network and storage metrics, billed as CloudWatch custom metrics and log ingestion; the CPU scaling policy does not need it (it reads the free AWS/ECS service metric)"""


class DataPlaneServiceArgs(ServiceSettings, total=False):
    """Arguments of :class:`DataPlaneService`: :class:`ServiceSettings` and what it runs where."""

    task_definition_arn: Required[pulumi.Input[str]]
    """the task definition to run"""
    subnet_ids: Required[pulumi.Input[list[str]]]
    """subnets of the tasks"""
    security_group_ids: Required[pulumi.Input[list[str]]]
    """security groups of the tasks"""
    http_target_group_arn: Required[pulumi.Input[str]]
    """target group of Kong's proxy port 8000"""
    https_target_group_arn: Required[pulumi.Input[str]]
    """target group of Kong's proxy port 8443"""
    assign_public_ip: bool
    """give each task a public IPv4 address (default false): tasks in public subnets reach the internet through the internet gateway with it; their security groups must then admit only the load balancer"""


#: Defaults of :class:`DataPlaneServiceArgs`, the only place they are written: two tasks (two
#: zones), scaling between 2 and 6 at 60 % CPU, all on FARGATE, 60 s of load balancer grace,
#: Container Insights on (what every stack had before it was a choice), no public IPs.
SERVICE_DEFAULTS: dict[str, Any] = {
    "desired_count": 2, "min_count": 2, "max_count": 6, "cpu_target_percent": 60, "fargate_spot_percent": 0,
    "health_check_grace_period_seconds": 60, "container_insights": True, "assign_public_ip": False}


def capacity_provider_strategy(spot_percent: int) -> list[Any]:
    """FARGATE / FARGATE_SPOT weights for ``spot_percent`` (0-100) of tasks on Spot. With any
    Spot share, the first task always runs on FARGATE (``base`` 1)."""
    if spot_percent == 0:
        return [{"capacity_provider": "FARGATE", "weight": 1, "base": 0}]
    return [{"capacity_provider": "FARGATE", "weight": 100 - spot_percent, "base": 1},
            {"capacity_provider": "FARGATE_SPOT", "weight": spot_percent, "base": 0}]


class DataPlaneService(pulumi.ComponentResource):
    """Konnect data planes as an ECS Fargate service (type ``kong-aws:index:DataPlaneService``).

    Children: ``{name}-cluster`` (an ECS cluster; its ``containerInsights`` setting ``enabled`` or
    ``disabled`` as ``container_insights`` says), ``{name}-capacity`` (its
    FARGATE and FARGATE_SPOT capacity providers, :func:`capacity_provider_strategy`),
    ``{name}-service`` (public IPs only with ``assign_public_ip``; a change of subnets or of
    ``assign_public_ip`` is an in-place update that redeploys, as ECS UpdateService takes a
    ``networkConfiguration``; rolling deployments that never drop below the desired
    count, circuit breaker with rollback, availability zone rebalancing, ECS Exec off, waits for a
    steady state; ``desiredCount`` ignored after creation because the scaling policy owns it),
    ``{name}-scaling`` and ``{name}-cpu`` (CPU target tracking: out after 60 s, in after 300 s).

    ECS refuses a target group that no listener forwards to: give target group ARNs that resolve
    only once their listeners exist (as :class:`ProxyLoadBalancer`'s do).

    Outputs: ``cluster_name``, ``cluster_arn``, ``service_name``.
    Raises ``ValueError`` unless ``min_count`` <= ``desired_count`` <= ``max_count``.
    """

    cluster_name: pulumi.Output[str]
    """the ECS cluster's name"""
    cluster_arn: pulumi.Output[str]
    """the ECS cluster's ARN"""
    service_name: pulumi.Output[str]
    """the ECS service's name"""

    def __init__(self, name: str, args: DataPlaneServiceArgs, opts: Optional[pulumi.ResourceOptions] = None):
        settings = with_defaults(args, SERVICE_DEFAULTS)
        if not settings["min_count"] <= settings["desired_count"] <= settings["max_count"]:
            raise ValueError("DataPlaneService needs min_count <= desired_count <= max_count")
        super().__init__(type_token(DataPlaneService), name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            settings=[aws.ecs.ClusterSettingArgs(
                name="containerInsights", value="enabled" if settings["container_insights"] else "disabled")],
            opts=child)
        strategy = capacity_provider_strategy(int(settings["fargate_spot_percent"]))
        providers = aws.ecs.ClusterCapacityProviders(
            f"{name}-capacity", cluster_name=cluster.name,
            capacity_providers=["FARGATE", "FARGATE_SPOT"],
            default_capacity_provider_strategies=strategy, opts=child)

        service = aws.ecs.Service(
            f"{name}-service",
            cluster=cluster.arn,
            task_definition=settings["task_definition_arn"],
            desired_count=settings["desired_count"],
            capacity_provider_strategies=strategy,
            platform_version="LATEST",
            network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
                subnets=settings["subnet_ids"], security_groups=settings["security_group_ids"],
                assign_public_ip=bool(settings["assign_public_ip"])),
            load_balancers=[
                aws.ecs.ServiceLoadBalancerArgs(target_group_arn=settings["http_target_group_arn"],
                                                container_name=CONTAINER_NAME, container_port=PROXY_HTTP_PORT),
                aws.ecs.ServiceLoadBalancerArgs(target_group_arn=settings["https_target_group_arn"],
                                                container_name=CONTAINER_NAME, container_port=PROXY_HTTPS_PORT),
            ],
            # Rolling deployment that never drops below the desired count.
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(enable=True, rollback=True),
            health_check_grace_period_seconds=settings["health_check_grace_period_seconds"],
            availability_zone_rebalancing="ENABLED",
            enable_ecs_managed_tags=True,
            propagate_tags="SERVICE",
            enable_execute_command=False,
            # ECS accepts a new capacity provider strategy only with a new deployment: the provider
            # docs of `capacity_provider_strategies` say updating it "requires force_new_deployment =
            # true", and `force_new_deployment` wants `triggers`. The strategy as a trigger makes a
            # Spot share change an in-place update that redeploys (rolling, full capacity), never a
            # new service (pulumi_aws/ecs/service.py docstrings, terraform-provider-aws aws_ecs_service).
            force_new_deployment=True,
            triggers={"capacity-provider-strategy": json.dumps(strategy, sort_keys=True)},
            wait_for_steady_state=True,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[providers],
                # The scaling policy owns the running count after the first deployment.
                ignore_changes=["desiredCount"]))

        target = aws.appautoscaling.Target(
            f"{name}-scaling",
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=pulumi.Output.concat("service/", cluster.name, "/", service.name),
            min_capacity=settings["min_count"],
            max_capacity=settings["max_count"],
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
                target_value=float(settings["cpu_target_percent"]),
                scale_out_cooldown=60,
                scale_in_cooldown=300),
            opts=child)

        self.cluster_name = cluster.name
        self.cluster_arn = cluster.arn
        self.service_name = service.name
        self.register_outputs({
            "clusterName": self.cluster_name,
            "clusterArn": self.cluster_arn,
            "serviceName": self.service_name,
        })
