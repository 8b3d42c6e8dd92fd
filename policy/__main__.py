"""The ``kong-aws`` policy pack: ``pulumi preview --policy-pack policy`` (or ``pulumi up``).

Every rule lives in ``rules.py`` as a plain function; this file only wraps each in a pulumi-policy
policy (mandatory: a violation fails the preview or update) and serves them.

- Resource rules (:data:`rules.RESOURCE_RULES`) become ``ResourceValidationPolicy``: the engine
  calls them with each resource's inputs before it creates or updates it.
- Stack rules (:data:`rules.STACK_RULES`) become ``StackValidationPolicy``: called once with every
  resource of the stack (their outputs, with dependencies and property dependencies).

Props reach the rules as plain dicts and lists: pulumi-policy's unknown-checking proxies are
unwrapped (:func:`plain`), so a value unknown during a preview arrives as its sentinel string, which
the rules skip, instead of failing the whole policy with "can't run policy during preview".

The Pulumi CLI runs this file with ``runpy.run_path(<policy dir>, run_name="__main__")``
(pulumi/policy/__main__.py of the Pulumi Python SDK); imported under any other name, it only
defines :func:`build_policies` and serves nothing, so tests can load it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import (EnforcementLevel, PolicyConfigSchema, PolicyPack, ResourceValidationPolicy,
                           StackValidationPolicy)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rules  # policy/rules.py, next to this file

PACK_NAME = "kong-aws"


def _inner(container: Any) -> Any:
    # pulumi-policy's _DictProxy / _ListProxy hand out their raw container under "__target".
    try:
        return container["__target"]
    except (KeyError, TypeError, IndexError):
        return container


def plain(value: Any) -> Any:
    """``value`` (props as pulumi-policy passes them: nested unknown-checking proxies) as plain
    dicts and lists, unknown values left as their sentinel strings."""
    if isinstance(value, (str, bytes)):
        return value
    if isinstance(value, Mapping):
        inner = _inner(value)
        return {key: plain(inner[key]) for key in inner}
    if isinstance(value, Sequence):
        inner = _inner(value)
        return [plain(inner[index]) for index in range(len(inner))]
    return value


def _config(args: Any) -> dict:
    return dict(args.get_config() or {})


def resource_validation(rule: rules.Rule):
    """A pulumi-policy resource validation that runs ``rule.check`` and reports each message."""

    def validate(args, report_violation) -> None:
        for message in rule.check(args.resource_type, plain(args.props), args.urn, config=_config(args)):
            report_violation(message)

    return validate


def stack_validation(rule: rules.Rule):
    """A pulumi-policy stack validation that runs ``rule.check`` over every resource of the stack
    and reports each ``(urn, message)`` against its resource."""

    def validate(args, report_violation) -> None:
        resources = [rules.StackResource(
            type=r.resource_type, urn=r.urn, props=plain(r.props),
            dependencies=tuple(d.urn for d in r.dependencies),
            property_dependencies={k: tuple(d.urn for d in v) for k, v in r.property_dependencies.items()},
        ) for r in args.resources]
        for urn, message in rule.check(resources, config=_config(args)):
            report_violation(message, urn)

    return validate


def _schema(rule: rules.Rule):
    return PolicyConfigSchema(properties=rule.config_schema) if rule.config_schema else None


def build_policies() -> list:
    """The pack's policies, one per rule, each mandatory."""
    policies: list = [ResourceValidationPolicy(
        name=rule.name, description=rule.description, validate=resource_validation(rule),
        enforcement_level=EnforcementLevel.MANDATORY, config_schema=_schema(rule)) for rule in rules.RESOURCE_RULES]
    policies += [StackValidationPolicy(
        name=rule.name, description=rule.description, validate=stack_validation(rule),
        enforcement_level=EnforcementLevel.MANDATORY, config_schema=_schema(rule)) for rule in rules.STACK_RULES]
    return policies


if __name__ == "__main__":
    # Starts the analyzer's gRPC server and blocks (pulumi-policy's PolicyPack.__init__).
    PolicyPack(name=PACK_NAME, policies=build_policies(), enforcement_level=EnforcementLevel.MANDATORY)
