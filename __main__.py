"""kong-aws: Kong Gateway on AWS.

Table of contents: read and validate the stack config (nothing is declared when it is invalid),
build the chosen mode's component, export its outputs. Modes (``kong-aws:mode``): ``konnect-ecs``
(Kong Konnect data planes on ECS Fargate, :class:`components.konnect_ecs.KonnectEcsGateway`) and
``hybrid-eks`` (a self-hosted control plane with PostgreSQL and data planes on EKS,
:class:`components.hybrid_eks.HybridEksGateway`). See README.md.
"""

import pulumi

from components.config import ConfigError, from_pulumi

try:
    config = from_pulumi()
except ConfigError as error:
    # Nothing has been declared: the error names each bad key, its value and what is allowed.
    raise pulumi.RunError(str(error)) from None

from components import modes  # noqa: E402  (after the config check: nothing is imported for bad config)

gateway = modes.konnect_ecs(config) if config.mode == "konnect-ecs" else modes.hybrid_eks(config)

for key, value in gateway.stack_outputs().items():  # type: ignore[attr-defined]
    pulumi.export(key, value)
