"""kong-aws: Kong Gateway on AWS.

Table of contents: read and validate the stack config, build the chosen mode's components, export
the outputs. Modes (``kong-aws:mode``): ``konnect-ecs`` (Konnect data planes on ECS Fargate);
``hybrid-eks`` is planned and refused by the config check. See README.md for the config reference.
"""

import pulumi

from components.config import ConfigError, from_pulumi

try:
    config = from_pulumi()
except ConfigError as error:
    # Nothing has been declared: the error names each bad key, its value and what is allowed.
    raise pulumi.RunError(str(error)) from None

from components.certificates import CLIENT_USAGES, ClusterCertificate, ClusterCertificateArgs
from components.konnect_api import KonnectControlPlane, PinnedDataPlaneCertificate
from components.konnect_ecs import KonnectDataPlanes, KonnectDataPlanesArgs
from components.network import Network, NetworkArgs
from components.outputs import konnect_ecs_outputs

cert_cfg, net_cfg, provided, konnect = config.certificate, config.network, config.provided_certificate, config.konnect

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
    control_plane_endpoint, telemetry_endpoint = control_plane.control_plane_endpoint, control_plane.telemetry_endpoint
else:
    control_plane_endpoint = konnect.control_plane_endpoint.address
    telemetry_endpoint = konnect.telemetry_endpoint.address

network = Network("network", NetworkArgs(
    cidr_block=net_cfg.cidr_block,
    availability_zone_count=net_cfg.availability_zone_count,
    nat_gateways=net_cfg.nat_gateways,
    vpc_id=net_cfg.vpc_id,
    public_subnet_ids=net_cfg.public_subnet_ids,
    private_subnet_ids=net_cfg.private_subnet_ids,
))

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

for key, value in konnect_ecs_outputs(certificate, data_planes, control_plane_endpoint, telemetry_endpoint,
                                      control_plane, pin).items():
    pulumi.export(key, value)
