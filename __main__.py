"""kong-aws: Kong Gateway on AWS.

Table of contents: read and validate the stack config (nothing is declared when it is invalid),
build the network, build the chosen mode's components, export the outputs. Modes
(``kong-aws:mode``): ``konnect-ecs`` (Kong Konnect data planes on ECS Fargate) and ``hybrid-eks``
(a self-hosted control plane with PostgreSQL and data planes on EKS). See README.md.
"""

import pulumi

from components.config import ConfigError, from_pulumi

try:
    config = from_pulumi()
except ConfigError as error:
    # Nothing has been declared: the error names each bad key, its value and what is allowed.
    raise pulumi.RunError(str(error)) from None

from components import modes
from components.network import Network, NetworkArgs

network = Network("network", NetworkArgs(
    cidr_block=config.network.cidr_block,
    availability_zone_count=config.network.availability_zone_count,
    nat_gateways=config.network.nat_gateways,
    vpc_id=config.network.vpc_id,
    public_subnet_ids=config.network.public_subnet_ids,
    private_subnet_ids=config.network.private_subnet_ids,
))

if config.mode == "konnect-ecs":
    outputs = modes.konnect_ecs(config, network)
else:
    outputs = modes.hybrid_eks(config, network)

for key, value in outputs.items():
    pulumi.export(key, value)
