"""The two deployment modes, each as the components it builds from the validated config.

Each function declares its mode's components and returns the stack outputs (see
:mod:`components.outputs`). A mode's modules are imported only when it is chosen, so a
``konnect-ecs`` stack does not load the Kubernetes SDK.
"""

from __future__ import annotations

import pulumi

from components.config import StackConfig
from components.network import Network


def konnect_ecs(config: StackConfig, network: Network) -> dict[str, pulumi.Output]:
    """Konnect data planes on ECS Fargate: the data plane certificate, the Konnect control plane
    and the pin of the certificate when the stack manages them (``konnect.controlPlaneName``), and
    the data plane service."""
    from components.certificates import CLIENT_USAGES, ClusterCertificate, ClusterCertificateArgs
    from components.konnect_api import KonnectControlPlane, PinnedDataPlaneCertificate
    from components.konnect_ecs import KonnectDataPlanes, KonnectDataPlanesArgs
    from components.outputs import konnect_ecs_outputs

    cert_cfg, provided, konnect = config.certificate, config.provided_certificate, config.konnect
    certificate = ClusterCertificate("data-plane-cert", ClusterCertificateArgs(
        common_name=cert_cfg.common_name,
        organization=cert_cfg.organization,
        usages=CLIENT_USAGES,
        key_algorithm=cert_cfg.key_algorithm,
        validity_hours=cert_cfg.validity_days * 24,
        early_renewal_hours=cert_cfg.early_renewal_days * 24,
        provided_cert_pem=provided.cert_pem if provided else None,
        provided_key_pem=pulumi.Output.secret(provided.key_pem.get_secret_value()) if provided else None,
    ))

    control_plane = pin = None
    if konnect.managed:
        # The Konnect API adopts or creates the control plane and pins the data plane certificate.
        token = pulumi.Output.secret(config.konnect_token.get_secret_value())
        control_plane = KonnectControlPlane(
            "konnect-control-plane", api_url=konnect.base_url, token=token,
            control_plane_name=konnect.control_plane_name, labels=konnect.control_plane_labels)
        pin = PinnedDataPlaneCertificate(
            "konnect-pinned-cert", api_url=konnect.base_url, token=token,
            control_plane_id=control_plane.control_plane_id, cert=certificate.cert_pem)
        control_plane_endpoint = control_plane.control_plane_endpoint
        telemetry_endpoint = control_plane.telemetry_endpoint
    else:
        control_plane_endpoint = konnect.control_plane_endpoint.address
        telemetry_endpoint = konnect.telemetry_endpoint.address

    data_planes = KonnectDataPlanes("data-plane", KonnectDataPlanesArgs(
        kong=config.kong,
        control_plane_endpoint=control_plane_endpoint,
        telemetry_endpoint=telemetry_endpoint,
        ecs=config.ecs,
        load_balancer=config.load_balancer,
        certificate=certificate,
        vpc_id=network.vpc_id,
        private_subnet_ids=network.private_subnet_ids,
        public_subnet_ids=network.public_subnet_ids,
        region=config.region,
        family=f"{pulumi.get_project()}-{pulumi.get_stack()}-data-plane",
        pinned_by=[pin] if pin else [],
    ))
    return konnect_ecs_outputs(certificate, data_planes, control_plane_endpoint, telemetry_endpoint,
                               control_plane, pin)


def hybrid_eks(config: StackConfig, network: Network) -> dict[str, pulumi.Output]:
    """A self-hosted hybrid Kong on EKS: the cluster (or an existing one), then the control plane
    with its PostgreSQL and the data planes, installed with Kong's Helm chart."""
    from components.eks_cluster import EksCluster, EksClusterArgs
    from components.kong_hybrid import KongHybrid, KongHybridArgs
    from components.outputs import hybrid_eks_outputs

    cluster = EksCluster("eks", EksClusterArgs(
        config=config.eks, vpc_id=network.vpc_id, private_subnet_ids=network.private_subnet_ids,
        public_subnet_ids=network.public_subnet_ids, region=config.region))
    license_text = config.enterprise_license
    kong = KongHybrid("kong", KongHybridArgs(
        kong=config.kong, hybrid=config.hybrid, certificate=config.certificate, postgres=config.postgres,
        provider=cluster.provider, vpc_id=network.vpc_id, private_subnet_ids=network.private_subnet_ids,
        cluster_security_group_id=cluster.cluster_security_group_id, region=config.region,
        storage_class_name=cluster.storage_class_name, load_balancer_class=cluster.load_balancer_class,
        provided_certificate=config.provided_certificate,
        enterprise_license=pulumi.Output.secret(license_text.get_secret_value()) if license_text else None))
    return hybrid_eks_outputs(config, cluster, kong)
