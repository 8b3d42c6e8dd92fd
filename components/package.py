"""What every kong-aws component shares: its package name, type tokens, defaults and earlier URNs.

The components form one Pulumi component package, ``kong-aws`` (``PulumiPlugin.yaml`` in
``provider/``): a component's type token is ``kong-aws:index:<Class>``, the form Pulumi's Python
component provider host serves (pulumi/provider/experimental/component.py checks it).
"""

from collections.abc import Mapping
from typing import Any, Optional

import pulumi

#: The Pulumi package name of the components (and the project name of the program).
PACKAGE = "kong-aws"


def type_token(cls: type) -> str:
    """``kong-aws:index:<Class>``, the type token of component class ``cls``."""
    return f"{PACKAGE}:index:{cls.__name__}"


def with_defaults(args: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """``args`` over ``defaults``: a key given as None takes the default too (a caller passes
    an unset config value as None), so that ``0`` and ``False`` stay what they are."""
    merged = dict(defaults)
    merged.update({key: value for key, value in args.items() if value is not None})
    return merged


def earlier_urn(type_chain: str, name: str) -> str:
    """The URN a resource had in an earlier layout of this stack: ``type_chain`` is its parents'
    types and its own, joined by ``$`` (``kong-aws:konnect_ecs:KonnectDataPlanes$aws:ecs/service:Service``).

    Used as an alias, so that ``pulumi up`` after a re-parenting or a rename updates the resource
    in place instead of replacing it (Pulumi docs, "Resource option: aliases").
    """
    return (f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::{type_chain}::{name}")


def renamed_from(*urns: Optional[str]) -> pulumi.ResourceOptions:
    """Resource options with aliases to the given earlier URNs (None entries are skipped)."""
    return pulumi.ResourceOptions(aliases=[urn for urn in urns if urn])
