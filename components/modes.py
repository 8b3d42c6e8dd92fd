"""The one place that maps the validated stack config to component arguments.

Each function builds its mode's top-level component from the config model of that mode
(:mod:`components.config`). A config value left unset reaches the component as absent, so the
component's own default applies (defaults are written only next to each component's Args). A
mode's modules are imported only when it is chosen, so a ``konnect-ecs`` stack does not load the
Kubernetes SDK.
"""

from typing import Any, Union

import pulumi

from components.config import PROJECT_DIR, HybridEksConfig, KonnectEcsConfig

AnyMode = Union[KonnectEcsConfig, HybridEksConfig]

#: The name of the top-level component in this program. Its children are named ``kong-<role>``.
COMPONENT_NAME = "kong"


def _given(section: Any, *fields: str) -> dict[str, Any]:
    """The ``fields`` of a config section that are set (not None), by name."""
    return {name: value for name in fields if (value := getattr(section, name, None)) is not None}


def _secret(value: Any) -> pulumi.Output[str]:
    """A pydantic ``SecretStr`` as a Pulumi secret."""
    return pulumi.Output.secret(value.get_secret_value())


def kong_args(config: AnyMode) -> dict[str, Any]:
    """``kong-aws:kong`` as :class:`components.kong_settings.KongArgs`."""
    return _given(config.kong, "image", "version", "router_flavor", "log_level", "data_plane_labels", "image_source",
                  "docker_hub_credentials_secret_arn", "pull_through_cache_prefix")


def certificate_settings(config: AnyMode) -> dict[str, Any]:
    """``kong-aws:certificate`` as the certificate settings of either mode (the certificate slot
    keys, konnect-ecs only, are added by :func:`konnect_ecs`)."""
    return _given(config.certificate, "common_name", "organization", "key_algorithm", "validity_days",
                  "early_renewal_days")


def network_args(config: AnyMode) -> dict[str, Any]:
    """``kong-aws:network`` as :class:`components.network.NetworkArgs` (empty subnet lists are unset)."""
    args = _given(config.network, "cidr_block", "availability_zone_count", "availability_zone_ids", "egress",
                  "nat_gateways", "vpc_id")
    for key in ("public_subnet_ids", "private_subnet_ids"):
        if getattr(config.network, key, None):
            args[key] = list(getattr(config.network, key))
    return args


def gateway_args(config: AnyMode) -> dict[str, Any]:
    """``kong-aws:gateway`` and ``kong-aws:gatewaySecrets`` as
    :class:`components.gateway_config.GatewaySettings` (the file by its absolute path; the secrets as
    Pulumi secrets), or empty without a gateway file."""
    if config.gateway.config_file is None:
        return {}
    secrets = {name: _secret(value) for name, value in (config.gateway_secrets or {}).items()}
    return {"gateway": {"config_file": str(PROJECT_DIR / config.gateway.config_file),
                        **({"secrets": secrets} if secrets else {})}}


def monitoring_args(config: AnyMode) -> dict[str, Any]:
    """``kong-aws:monitoring`` as :class:`components.monitoring.MonitoringSettings`."""
    return _given(config.monitoring, "alarm_emails", "alarm_topic_arn", "evaluation_minutes", "error_rate_percent",
                  "free_storage_percent")


def konnect_ecs(config: KonnectEcsConfig) -> pulumi.ComponentResource:
    """Mode konnect-ecs: a :class:`components.konnect_ecs.KonnectEcsGateway` from the config."""
    from components.konnect_ecs import KonnectEcsGateway, KonnectEcsGatewayArgs

    konnect = config.konnect
    konnect_args: dict[str, Any] = _given(konnect, "control_plane_name", "control_plane_labels", "region", "api_url",
                                          "delete_control_plane_on_destroy")
    if konnect.control_plane_endpoint is not None:
        konnect_args["control_plane_endpoint"] = konnect.control_plane_endpoint.address
    if konnect.telemetry_endpoint is not None:
        konnect_args["telemetry_endpoint"] = konnect.telemetry_endpoint.address
    if config.konnect_token is not None:
        konnect_args["token"] = _secret(config.konnect_token)
    args = KonnectEcsGatewayArgs(
        kong=kong_args(config),  # type: ignore[typeddict-item]
        konnect=konnect_args,  # type: ignore[typeddict-item]
        region=config.region,
        network=network_args(config),  # type: ignore[typeddict-item]
        certificate={**certificate_settings(config),  # type: ignore[typeddict-item]
                     **_given(config.certificate, "active_slot", "slot_generations", "pinned_sha256")},
        ecs=_given(config.ecs, "cpu", "memory", "cpu_architecture", "log_retention_days",  # type: ignore[typeddict-item]
                   "stop_timeout_seconds", "secrets_kms_key_arn", "desired_count", "min_count", "max_count",
                   "cpu_target_percent", "fargate_spot_percent", "health_check_grace_period_seconds",
                   "container_insights", "rollout_gate", "rollout_timeout_seconds"),
        load_balancer=_given(config.load_balancer, "internal", "tls_mode", "certificate_arn",  # type: ignore[typeddict-item]
                             "ssl_policy", "allowed_cidrs", "deregistration_delay_seconds", "deletion_protection",
                             "proxy_protocol"),
    )
    provided = config.provided_certificate
    if provided is not None:
        args["cluster_cert_pem"] = provided.cert_pem
        args["cluster_cert_key_pem"] = _secret(provided.key_pem)
    args.update(gateway_args(config))  # type: ignore[typeddict-item]
    args["monitoring"] = monitoring_args(config)  # type: ignore[typeddict-item]
    return KonnectEcsGateway(COMPONENT_NAME, args)


def hybrid_eks(config: HybridEksConfig) -> pulumi.ComponentResource:
    """Mode hybrid-eks: a :class:`components.hybrid_eks.HybridEksGateway` from the config."""
    from components.hybrid_eks import HybridEksGateway, HybridEksGatewayArgs

    args = HybridEksGatewayArgs(
        kong=kong_args(config),  # type: ignore[typeddict-item]
        region=config.region,
        network=network_args(config),  # type: ignore[typeddict-item]
        certificate=certificate_settings(config),  # type: ignore[typeddict-item]
        eks=_given(config.eks, "cluster_name", "version", "endpoint_public_access",  # type: ignore[typeddict-item]
                   "public_access_cidrs", "admin_role_arns", "preview_role_arns", "log_retention_days",
                   "storage_class_name", "load_balancer_class", "metrics_server",
                   "container_insights"),
        hybrid=_given(config.hybrid, "namespace", "chart_version", "control_plane_release",  # type: ignore[typeddict-item]
                      "data_plane_release", "cluster_mtls", "control_plane_replicas", "data_plane_min_replicas",
                      "data_plane_max_replicas", "data_plane_cpu_target_percent", "proxy_internal",
                      "allowed_cidrs", "proxy_protocol", "admin_rbac"),
        postgres=_given(config.postgres, "mode", "version", "instance_class",  # type: ignore[typeddict-item]
                        "allocated_storage_gib", "multi_az", "backup_retention_days", "deletion_protection",
                        "apply_immediately", "storage_gib", "log_retention_days", "source_security_group_ids"),
    )
    provided = config.provided_certificate
    if provided is not None:
        args["cluster_cert_pem"] = provided.cert_pem
        args["cluster_cert_key_pem"] = _secret(provided.key_pem)
    if config.enterprise_license is not None:
        args["enterprise_license"] = _secret(config.enterprise_license)
    args.update(gateway_args(config))  # type: ignore[typeddict-item]
    args["monitoring"] = monitoring_args(config)  # type: ignore[typeddict-item]
    return HybridEksGateway(COMPONENT_NAME, args)
