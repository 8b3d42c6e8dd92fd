"""The rules of the ``kong-aws`` policy pack, as plain functions (no Pulumi runtime needed).

A resource rule is ``rule(resource_type, props, urn, config=None) -> list[str]``: the resource's
type token (``aws:ecs/taskDefinition:TaskDefinition``), its properties with camelCase keys (the
inputs as the engine receives them, or ``resources.json``'s ``inputs``), its URN, and the rule's
policy config; it returns one message per violation (empty: compliant). A stack rule is
``rule(resources, config=None) -> list[(urn, message)]`` over every resource of the stack
(:class:`StackResource`). ``policy/__main__.py`` wraps each rule in a pulumi-policy
``ResourceValidationPolicy`` or ``StackValidationPolicy``; the tests call the functions directly.

Values a rule cannot see are never violations and never appear in a message:

- secrets: ``"[secret]"`` (the offline render's mask, :data:`SECRET_MASK`), the engine's secret
  signature object, and pulumi-policy's ``Secret`` wrapper. Under the engine the Python policy SDK
  hands Analyze the *plaintext* of a secret (pulumi-policy 1.21.0 ``deserialize_properties`` without
  ``proxy_secrets``), so there a secret placed in a scanned field is checked like any value.
- unknowns: the sentinels pulumi-policy uses for values not known during a preview
  (:data:`UNKNOWN_VALUES`, from pulumi_policy/proxy.py).

Messages name the resource (URN name and type), the property path and what to do; they quote
ports, CIDRs and image references, never a value that a rule suspects to be a secret.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional

# ---------------------------------------------------------------------------------------------
# Shared vocabulary

#: How the offline render (tools/render.py) writes every secret value.
SECRET_MASK = "[secret]"
#: The engine's wire signature of a secret value (pulumi sdk/go/common/resource/properties.go,
#: copied in pulumi_policy/deserialize.py): ``{SIG_KEY: SECRET_SIG, "value": ...}``.
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
#: The sentinels of values unknown during a preview (pulumi-policy 1.21.0, pulumi_policy/proxy.py).
UNKNOWN_VALUES = frozenset({
    "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # boolean
    "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
    "04da6b54-80e4-46f7-96ec-b56ff0331ba9",  # string
    "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
    "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
    "e48ece36-62e2-4504-bad9-02848725956a",  # archive
    "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
})

#: Ports that must never be reachable from the internet, and what listens there (Kong's
#: configuration reference: admin_listen 8001/8444, admin_gui_listen 8002/8445, cluster_listen 8005,
#: cluster_telemetry_listen 8006, status_listen 8007; Kong Enterprise's portal_gui_listen 8003/8446
#: and portal_api_listen 8004/8447; this project's status_listen 8100 and the chart's TLS status
#: listener 8543; PostgreSQL's 5432).
#: tests/test_policy_ports.py checks that every Kong listener but the proxy is here
#: (components/kong_facts.py, which the pack cannot import from its own virtualenv).
SENSITIVE_PORTS: dict[int, str] = {
    8001: "Kong Admin API", 8444: "Kong Admin API (TLS)",
    8002: "Kong Manager", 8445: "Kong Manager (TLS)",
    8003: "Kong Dev Portal", 8446: "Kong Dev Portal (TLS)",
    8004: "Kong Dev Portal API", 8447: "Kong Dev Portal API (TLS)",
    8005: "Kong cluster listener", 8006: "Kong cluster telemetry listener",
    8100: "Kong status listener", 8101: "Kong metrics listener (kong-aws)", 8007: "Kong status listener (Kong's default)",
    8543: "Kong status listener (TLS, the chart's)", 5432: "PostgreSQL",
}
#: Kong's proxy listeners (proxy_listen 8000, 8443 ssl): the only Kong ports meant to be public.
KONG_PROXY_PORTS = (8000, 8443)

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
ECS_TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
ECS_SERVICE = "aws:ecs/service:Service"
#: Kubernetes kinds whose pods are checked, and where each keeps its pod spec.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template", "spec"), "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"), "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"), "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "Pod": ("spec",),
}

#: The ``kong`` chart's defaults for the values the rules read, from its values.yaml (chart 3.4.1,
#: ../shared/reference/kong-chart-values.yaml; tests/test_policy.py checks them against it). A
#: release that leaves a key out gets these.
KONG_CHART_DEFAULTS: dict[str, Any] = {
    "image": {"repository": "kong", "tag": "3.9"},
    "admin": {"enabled": False, "type": "NodePort"},
    "manager": {"enabled": True, "type": "NodePort"},
    "cluster": {"enabled": False, "type": "ClusterIP"},
    "clustertelemetry": {"enabled": False, "type": "ClusterIP"},
    # The Dev Portal services exist only with enterprise.enabled (templates/service-kong-portal*.yaml).
    "portal": {"enabled": True, "type": "NodePort"},
    "portalapi": {"enabled": True, "type": "NodePort"},
    "enterprise": {"enabled": False},
    # The chart makes no Service for the status listener ("internal-only"); an explicit type is
    # still an intent to expose it.
    "status": {"enabled": True},
    "ingressController": {"enabled": True,
                          "image": {"repository": "kong/kubernetes-ingress-controller", "tag": "3.5"}},
    # "It has no effect when autoscaling.enabled is set to true."
    "replicaCount": 1,
    "autoscaling": {"enabled": False, "minReplicas": 2},
}
#: The chart's service blocks that must stay inside the cluster, and their Kong ports.
KONG_CHART_PRIVATE_SERVICES: dict[str, tuple[int, ...]] = {
    "admin": (8001, 8444), "manager": (8002, 8445), "portal": (8003, 8446), "portalapi": (8004, 8447),
    "cluster": (8005,), "clustertelemetry": (8006,), "status": (8100, 8543),
}
#: Service blocks the chart renders only when ``enterprise.enabled`` is true.
KONG_CHART_ENTERPRISE_SERVICES = frozenset({"portal", "portalapi"})
EXPOSING_SERVICE_TYPES = ("LoadBalancer", "NodePort")

#: Default of ``two-data-planes-outside-dev``'s ``devStackPattern``: ``dev`` or ``dev-...``.
DEFAULT_DEV_STACK_PATTERN = r"dev|dev-.*"


def is_secret(value: Any) -> bool:
    """True for a secret this rule set cannot (and must not) look into: the render's mask, the
    engine's secret signature object, or a pulumi-policy ``Secret``."""
    if isinstance(value, str):
        return value == SECRET_MASK
    if isinstance(value, Mapping):
        return value.get(SIG_KEY) == SECRET_SIG
    return type(value).__name__ == "Secret" and hasattr(value, "value")


def is_unknown(value: Any) -> bool:
    """True for a value not known during a preview."""
    return isinstance(value, str) and value in UNKNOWN_VALUES


def is_opaque(value: Any) -> bool:
    """A value a rule cannot judge: a secret or an unknown."""
    return is_secret(value) or is_unknown(value)


def resource_name(urn: str) -> str:
    """The resource's name, the last part of ``urn:pulumi:<stack>::<project>::<type>::<name>``."""
    parts = urn.split("::", 3)
    return parts[3] if len(parts) == 4 else urn


def stack_of(urn: str) -> str:
    """The stack name of a URN (``urn:pulumi:<stack>::...``); "" when the URN has another form."""
    head = urn.split("::", 1)[0]
    return head[len("urn:pulumi:"):] if head.startswith("urn:pulumi:") else ""


def _who(resource_type: str, urn: str) -> str:
    return f"`{resource_name(urn)}` ({resource_type})"


_SAFE_TEXT = re.compile(r"[A-Za-z0-9_.\-/:@+]{1,255}")


def _shown(value: Any) -> str:
    """``value`` quoted for a message when it is safe to show (short, plain, not secret-looking);
    otherwise a placeholder."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # the engine's wire format carries every number as a double
    text = str(value)
    if (not is_opaque(value) and _SAFE_TEXT.fullmatch(text) and not _KONNECT_TOKEN.search(text)
            and not _PEM_PRIVATE_KEY.search(text)):
        return f"`{text}`"
    return "(value not shown)"


def _get(mapping: Any, *path: str) -> Any:
    """``mapping[path[0]][path[1]]...`` or None when any step is missing or not a mapping."""
    for key in path:
        if not isinstance(mapping, Mapping) or is_opaque(mapping):
            return None
        mapping = mapping.get(key)
    return mapping


def _as_list(value: Any) -> list:
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return list(value)
    return []


def _as_int(value: Any) -> Optional[int]:
    """An integer from a number or a decimal string; None otherwise (bools, unknowns, text)."""
    if isinstance(value, bool) or is_opaque(value):
        return None
    if isinstance(value, (int, float)) and float(value).is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdecimal():
        return int(value.strip())
    return None


def _deep_merge(base: Any, override: Any) -> Any:
    if isinstance(base, Mapping) and isinstance(override, Mapping) and not is_opaque(override):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _deep_merge(base.get(key), value) if key in base else value
        return merged
    return base if override is None else override


def is_kong_chart(props: Mapping[str, Any]) -> bool:
    """True when a Helm release installs Kong's ``kong`` chart (``kong``, ``kong/kong`` or an OCI
    reference ending in ``/kong``)."""
    chart = props.get("chart")
    return isinstance(chart, str) and (chart == "kong" or chart.endswith("/kong"))


def helm_values(props: Mapping[str, Any]) -> Optional[dict[str, Any]]:
    """A Helm release's values as the chart sees them: for the ``kong`` chart, its defaults
    (:data:`KONG_CHART_DEFAULTS`) under the given values; for any other chart, the values given.
    None when the values are a secret or unknown as a whole (nothing to judge)."""
    values = props.get("values")
    if is_opaque(values):
        return None
    values = dict(values) if isinstance(values, Mapping) else {}
    return _deep_merge(KONG_CHART_DEFAULTS, values) if is_kong_chart(props) else values


def _pod_spec(resource_type: str, props: Mapping[str, Any]) -> Optional[Mapping[str, Any]]:
    """The pod spec of a Kubernetes workload resource, or None for any other resource."""
    if not resource_type.startswith("kubernetes:"):
        return None
    kind = resource_type.rsplit(":", 1)[-1]
    path = POD_SPEC_PATHS.get(kind)
    spec = _get(props, *path) if path else None
    return spec if isinstance(spec, Mapping) else None


def _pod_containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """``(property path, container)`` of every container and init container of a pod spec."""
    for group in ("initContainers", "containers"):
        for index, container in enumerate(_as_list(spec.get(group))):
            if isinstance(container, Mapping):
                yield f"{group}[{index}]", container


def _container_definitions(props: Mapping[str, Any]) -> Optional[list]:
    """An ECS task definition's ``containerDefinitions`` (a JSON string as an input) as a list;
    None when it is a secret, unknown or not valid JSON."""
    value = props.get("containerDefinitions")
    if is_opaque(value):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return [c for c in _as_list(value) if isinstance(c, Mapping)]


def _pod_spec_path(resource_type: str) -> str:
    return ".".join(POD_SPEC_PATHS[resource_type.rsplit(":", 1)[-1]])


# ---------------------------------------------------------------------------------------------
# 1. no-secrets-in-container-env-or-helm-values

_PEM_PRIVATE_KEY = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")
#: Konnect personal (kpat_) and system account (spat_) access tokens
#: (../shared/reference/README.md: "Auth is a bearer token (kpat_... personal, spat_... system account)").
_KONNECT_TOKEN = re.compile(r"(?<![A-Za-z0-9])[ks]pat_[A-Za-z0-9]{20,}")
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]{40,}")
#: Words of a variable name that say its value is a secret.
_SECRET_WORDS = ("PASSWORD", "PASSWD", "SECRET", "TOKEN", "KEY")
#: Last words of a name that say the value is *about* a secret, not the secret: Kong's
#: keyring_vault_kube_api_token_file, pg_oauth_token_endpoint, admin_gui_auth_password_complexity,
#: admin_gui_auth_change_password_ttl, keyring_strategy ... (Kong Gateway configuration reference,
#: ../shared/reference/kong-gateway-ee-conf/).
_NOT_SECRET_LAST_WORDS = frozenset({
    "FILE", "PATH", "DIR", "ENDPOINT", "URL", "URI", "HOST", "METHOD", "ATTEMPTS", "TTL", "COMPLEXITY",
    "STRATEGY", "ENABLED", "MOUNT", "ROLE", "NAME", "ARN", "REF", "TYPE", "LENGTH", "ALGORITHM",
})
#: Literal values that are never secrets: settings' on/off switches and empty values.
_SWITCH_VALUES = frozenset({"", "on", "off", "true", "false", "yes", "no"})
_FILE_PATH = re.compile(r"/[A-Za-z0-9_.\-/]+")
#: A Kong vault reference ({vault://aws/kong/pg-password}): Kong resolves it at run time.
_KONG_VAULT_REF = re.compile(r"\{vault://[^}]+\}")
#: A reference to a secret store entry (Secrets Manager or SSM Parameter Store ARN).
_SECRET_STORE_ARN = re.compile(r"arn:aws[a-z-]*:(?:secretsmanager|ssm):\S+")


def secret_name(name: str) -> bool:
    """True when an environment variable or Kong setting name says its value is a secret: a word
    (split at ``_``, ``-``, ``.``) is or ends with PASSWORD, PASSWD, SECRET, TOKEN or KEY
    (``KONG_PG_PASSWORD``, ``cluster_cert_key``, ``PGPASSWORD``, ``API_KEY``), unless the last word
    says the value is about a secret (``..._FILE``, ``..._ENDPOINT``, ``..._COMPLEXITY``) or the only
    secret word is a PUBLIC KEY. ``KEYRING``, ``SECRETS``, ``KEEPALIVE`` are not secret words."""
    words = [w for w in re.split(r"[_\-.]+", name.upper()) if w]
    if not words or words[-1] in _NOT_SECRET_LAST_WORDS:
        return False
    found = {secret_word for word in words for secret_word in _SECRET_WORDS if word.endswith(secret_word)}
    # A public key is no secret (SSH_PUBLIC_KEY, keyring_public_key).
    return bool(found) and not (found == {"KEY"} and "PUBLIC" in words)


def _private_key_inside(text: str) -> bool:
    """A PEM private key, as PEM text or as base64 of PEM text (Kong takes both for
    ``cluster_cert_key``: ../shared/reference/README.md)."""
    if _PEM_PRIVATE_KEY.search(text):
        return True
    if _BASE64.fullmatch(text.strip()):
        try:
            decoded = base64.b64decode("".join(text.split()), validate=True).decode("ascii", "ignore")
        except (binascii.Error, ValueError):
            return False
        return bool(_PEM_PRIVATE_KEY.search(decoded))
    return False


def _secret_content(text: str) -> Optional[str]:
    """What secret a literal string holds, by its content: a PEM private key or a Konnect token."""
    if _private_key_inside(text):
        return "a PEM private key"
    if _KONNECT_TOKEN.search(text):
        return "a Konnect access token (kpat_/spat_)"
    return None


def _harmless_literal(value: Any) -> bool:
    """A literal that cannot be a secret even under a secret-sounding name: a switch, a boolean,
    a file path (``/etc/secrets/kong-cluster-dp/tls.key``), a Kong vault reference or a secret store
    ARN."""
    if isinstance(value, bool) or value is None:
        return True
    if not isinstance(value, str):
        return False
    text = value.strip()
    return (text.lower() in _SWITCH_VALUES or bool(_FILE_PATH.fullmatch(text))
            or bool(_KONG_VAULT_REF.fullmatch(text)) or bool(_SECRET_STORE_ARN.fullmatch(text)))


def _walk_strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string inside ``value`` with its path, skipping secrets and unknowns."""
    if is_opaque(value):
        return
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _walk_strings(item, f"{path}.{key}")
    elif isinstance(value, Sequence) and not isinstance(value, bytes):
        for index, item in enumerate(value):
            yield from _walk_strings(item, f"{path}[{index}]")


def _env_problem(name: str, value: Any) -> Optional[str]:
    """Why a literal environment value must not be there, or None. ``value`` is the literal (a
    ``valueFrom`` is never passed here)."""
    if is_opaque(value):
        return None
    if isinstance(value, str):
        found = _secret_content(value)
        if found:
            return found
    if secret_name(name) and not _harmless_literal(value):
        return "a literal value for a variable whose name marks a secret (PASSWORD, SECRET, TOKEN, KEY)"
    return None


_ECS_FIX = ("put it in Secrets Manager (or an SSM SecureString) and give it to the container through "
            "`secrets` (`valueFrom`), never `environment`")
_K8S_FIX = ("keep it in a Kubernetes Secret and reference it with `valueFrom.secretKeyRef` (or mount "
            "it and give a file path)")
_HELM_FIX = ("keep it in a Kubernetes Secret and give the chart `valueFrom.secretKeyRef`, or a file path "
             "from `secretVolumes`")


def no_secrets_in_container_env_or_helm_values(resource_type: str, props: Mapping[str, Any], urn: str,
                                               config: Optional[Mapping[str, Any]] = None) -> list[str]:
    """No private key, password or token in the clear where containers get their configuration.

    Checked:

    - ECS task definitions: each container's ``environment`` entries: a PEM private key (also
      base64-encoded) or a Konnect token in any value, or a literal value under a secret-sounding
      name (:func:`secret_name`) that is not a switch, a file path, a Kong vault reference or a
      secret store ARN. Any other string of the container definition (``command``, labels ...)
      holding a PEM private key or a Konnect token. ``secrets`` (``valueFrom``) entries are fine.
    - Helm releases: ``env``, ``customEnv``, ``ingressController.env`` and
      ``ingressController.customEnv`` entries as above (``valueFrom.secretKeyRef`` is fine), and any
      string of the values holding a PEM private key or a Konnect token.
    - Kubernetes workloads (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Pod):
      each container's and init container's ``env`` literal ``value`` as above, and any string of
      a container holding a PEM private key or a Konnect token.

    Not checked: Kubernetes Secrets and Secrets Manager secrets (where secrets belong), ECS
    ``environmentFiles`` (S3 objects), ``envFrom``.
    """
    messages: list[str] = []
    who = _who(resource_type, urn)

    def scan(value: Any, path: str, reported: set[str], fix: str) -> None:
        # Any string under `value` that holds a private key or a token, unless already reported.
        for where, text in _walk_strings(value, path):
            found = None if where in reported else _secret_content(text)
            if found:
                messages.append(f"{who}: `{where}` holds {found}; {fix}.")

    if resource_type == ECS_TASK_DEFINITION:
        for index, container in enumerate(_container_definitions(props) or []):
            base, reported = f"containerDefinitions[{index}]", set()
            for number, entry in enumerate(_as_list(container.get("environment"))):
                if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
                    continue
                problem = _env_problem(entry["name"], entry.get("value"))
                if problem:
                    reported.add(f"{base}.environment[{number}].value")
                    messages.append(f"{who}: `{base}.environment` entry `{entry['name']}` holds {problem}; "
                                    f"{_ECS_FIX}.")
            scan(container, base, reported, _ECS_FIX)
    elif resource_type == HELM_RELEASE:
        values = props.get("values")
        if not isinstance(values, Mapping) or is_opaque(values):
            return messages
        reported = set()
        for block in ("env", "customEnv", "ingressController.env", "ingressController.customEnv"):
            env = _get(values, *block.split("."))
            if not isinstance(env, Mapping):
                continue
            for name, value in env.items():
                if isinstance(value, Mapping):
                    continue  # valueFrom (secretKeyRef, configMapKeyRef, fieldRef); scanned below
                problem = _env_problem(str(name), value)
                if problem:
                    reported.add(f"values.{block}.{name}")
                    messages.append(f"{who}: `values.{block}.{name}` holds {problem}; {_HELM_FIX}.")
        scan(values, "values", reported, _HELM_FIX)
    else:
        spec = _pod_spec(resource_type, props)
        if spec is None:
            return messages
        base = _pod_spec_path(resource_type)
        for where, container in _pod_containers(spec):
            reported = set()
            for index, entry in enumerate(_as_list(container.get("env"))):
                if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str) or "value" not in entry:
                    continue
                problem = _env_problem(entry["name"], entry.get("value"))
                if problem:
                    reported.add(f"{base}.{where}.env[{index}].value")
                    messages.append(f"{who}: `{base}.{where}.env[{index}]` (`{entry['name']}`) holds {problem}; "
                                    f"{_K8S_FIX}.")
            scan(container, f"{base}.{where}", reported, _K8S_FIX)
    return messages


# ---------------------------------------------------------------------------------------------
# 2. admin-cluster-status-postgres-not-public (resource part)

_ALL_PROTOCOLS = ("-1", "all")
_TCP = ("tcp", "6")


def _world(cidrs: Any) -> list[str]:
    """The CIDRs among ``cidrs`` (one or a list) that cover every address (prefix length 0)."""
    found = []
    for cidr in ([cidrs] if isinstance(cidrs, str) else _as_list(cidrs)):
        if not isinstance(cidr, str) or is_opaque(cidr):
            continue
        try:
            if ipaddress.ip_network(cidr.strip(), strict=False).prefixlen == 0:
                found.append(cidr.strip())
        except ValueError:
            continue
    return found


def sensitive_ports_in(protocol: Any, from_port: Any, to_port: Any) -> list[int]:
    """The :data:`SENSITIVE_PORTS` an ingress rule of ``protocol`` (``tcp``, ``6``, ``-1``/``all``)
    from ``from_port`` to ``to_port`` admits. All protocols admit every port; TCP without ports
    is read as every port; other protocols (UDP, ICMP) admit none of them."""
    proto = str(protocol).lower().strip()
    if proto in _ALL_PROTOCOLS:
        return sorted(SENSITIVE_PORTS)
    if proto not in _TCP:
        return []
    low, high = _as_int(from_port), _as_int(to_port)
    low = 0 if low is None else low
    high = 65535 if high is None else high
    return [port for port in sorted(SENSITIVE_PORTS) if low <= port <= high]


def _ports_text(ports: Sequence[int]) -> str:
    return ", ".join(f"{port} ({SENSITIVE_PORTS[port]})" for port in ports)


_SG_FIX = ("admit these ports only from the security groups or private CIDRs that need them "
           "(the load balancer's group, the cluster's group), never 0.0.0.0/0 or ::/0")


def admin_cluster_status_postgres_not_public(resource_type: str, props: Mapping[str, Any], urn: str,
                                             config: Optional[Mapping[str, Any]] = None) -> list[str]:
    """Kong's Admin API (8001/8444), Kong Manager (8002/8445), Dev Portal (8003/8446) and its API
    (8004/8447), cluster listeners (8005/8006), status listener (8100, Kong's default 8007, the
    chart's TLS 8543) and PostgreSQL (5432) are never open to the internet.

    Checked, one resource at a time:

    - ``aws:vpc/securityGroupIngressRule``: ``cidrIpv4`` / ``cidrIpv6`` of prefix length 0 with a
      protocol and port range that admits one of those ports (``ipProtocol`` ``-1`` admits all);
    - ``aws:ec2/securityGroup`` / ``aws:ec2/defaultSecurityGroup`` inline ``ingress`` and
      ``aws:ec2/securityGroupRule`` of type ``ingress``: ``cidrBlocks`` / ``ipv6CidrBlocks`` the same;
    - Kong Helm releases: ``admin``, ``manager``, ``cluster``, ``clustertelemetry``, ``status``
      services (and with ``enterprise.enabled``, ``portal`` and ``portalapi``) enabled with type
      ``LoadBalancer`` or ``NodePort`` (the chart's defaults apply to keys left out: Kong Manager,
      and with Enterprise the Dev Portal and its API, are enabled as NodePorts unless the values say
      otherwise);
    - Kubernetes Services of type ``LoadBalancer`` / ``NodePort`` with one of those ports as
      ``port``, ``targetPort`` or ``nodePort``;
    - ``aws:rds/instance`` and ``aws:rds/clusterInstance`` with ``publiclyAccessible`` true.

    Load balancer listeners need the whole stack:
    :func:`admin_cluster_status_postgres_not_behind_public_lb`. Not checked: prefix lists, wide
    CIDRs other than /0, Ingress resources, network ACLs.
    """
    who = _who(resource_type, urn)
    messages: list[str] = []
    if resource_type == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
        world = _world(props.get("cidrIpv4")) + _world(props.get("cidrIpv6"))
        ports = sensitive_ports_in(props.get("ipProtocol"), props.get("fromPort"), props.get("toPort"))
        if world and ports:
            prop = "cidrIpv4" if _world(props.get("cidrIpv4")) else "cidrIpv6"
            messages.append(f"{who}: `{prop}` {world[0]} with `ipProtocol`/`fromPort`/`toPort` admits "
                            f"{_ports_text(ports)} from the whole internet; {_SG_FIX}.")
    elif resource_type in ("aws:ec2/securityGroup:SecurityGroup", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"):
        for index, rule in enumerate(_as_list(props.get("ingress"))):
            if not isinstance(rule, Mapping):
                continue
            world = _world(rule.get("cidrBlocks")) + _world(rule.get("ipv6CidrBlocks"))
            ports = sensitive_ports_in(rule.get("protocol"), rule.get("fromPort"), rule.get("toPort"))
            if world and ports:
                messages.append(f"{who}: `ingress[{index}]` ({world[0]}) admits {_ports_text(ports)} from the "
                                f"whole internet; {_SG_FIX}.")
    elif resource_type == "aws:ec2/securityGroupRule:SecurityGroupRule":
        world = _world(props.get("cidrBlocks")) + _world(props.get("ipv6CidrBlocks"))
        ports = sensitive_ports_in(props.get("protocol"), props.get("fromPort"), props.get("toPort"))
        if props.get("type") == "ingress" and world and ports:
            messages.append(f"{who}: `cidrBlocks` {world[0]} with `protocol`/`fromPort`/`toPort` admits "
                            f"{_ports_text(ports)} from the whole internet; {_SG_FIX}.")
    elif resource_type == HELM_RELEASE and is_kong_chart(props) and helm_values(props) is not None:
        values = helm_values(props)
        for service, ports in KONG_CHART_PRIVATE_SERVICES.items():
            block = values.get(service)
            if not isinstance(block, Mapping):
                continue
            if service in KONG_CHART_ENTERPRISE_SERVICES and _get(values, "enterprise", "enabled") is not True:
                continue
            kind = block.get("type")
            if block.get("enabled") is True and kind in EXPOSING_SERVICE_TYPES:
                given = _get(props, "values", service, "type") is not None
                source = "" if given else " (the chart's default: the values leave it out)"
                messages.append(
                    f"{who}: `values.{service}.type` is {kind}{source} with `values.{service}.enabled` true, "
                    f"which exposes {_ports_text(ports)} outside the cluster; set `values.{service}.type` to "
                    f"ClusterIP (reach it with `kubectl port-forward`) or `values.{service}.enabled` to false.")
    elif resource_type.startswith("kubernetes:") and resource_type.endswith(":Service"):
        kind = _get(props, "spec", "type")
        if kind in EXPOSING_SERVICE_TYPES:
            for index, port in enumerate(_as_list(_get(props, "spec", "ports"))):
                if not isinstance(port, Mapping):
                    continue
                hits = sorted({p for p in (_as_int(port.get(k)) for k in ("port", "targetPort", "nodePort"))
                               if p in SENSITIVE_PORTS})
                if hits:
                    messages.append(f"{who}: `spec.type` {kind} exposes `spec.ports[{index}]` "
                                    f"{_ports_text(hits)} outside the cluster; make the Service ClusterIP "
                                    f"(reach it with `kubectl port-forward`).")
    elif resource_type in ("aws:rds/instance:Instance", "aws:rds/clusterInstance:ClusterInstance"):
        if props.get("publiclyAccessible") is True:
            messages.append(f"{who}: `publiclyAccessible` is true, which gives PostgreSQL a public address; "
                            f"set it to false and reach the database from inside the VPC.")
    return messages


# ---------------------------------------------------------------------------------------------
# 2b. admin-cluster-status-postgres-not-behind-public-lb (stack)

@dataclass(frozen=True)
class StackResource:
    """One resource of the stack as a stack rule sees it: ``type``, ``urn``, ``props`` (camelCase;
    under the engine the resource's outputs, offline its inputs), the URNs it depends on, and per
    property the URNs that property depends on (the engine gives them; the offline render does not)."""

    type: str
    urn: str
    props: Mapping[str, Any]
    dependencies: tuple[str, ...] = ()
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def stack_resource_from_render(entry: Mapping[str, Any]) -> StackResource:
    """A :class:`StackResource` from one object of the offline render's ``resources.json``."""
    return StackResource(type=entry["type"], urn=entry["urn"], props=entry.get("inputs") or {},
                         dependencies=tuple(entry.get("dependencies") or ()))


LOAD_BALANCER_TYPES = frozenset({"aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer"})
LISTENER_TYPES = frozenset({"aws:lb/listener:Listener", "aws:alb/listener:Listener"})
LISTENER_RULE_TYPES = frozenset({"aws:lb/listenerRule:ListenerRule", "aws:alb/listenerRule:ListenerRule"})
TARGET_GROUP_TYPES = frozenset({"aws:lb/targetGroup:TargetGroup", "aws:alb/targetGroup:TargetGroup"})


def _forwarded_arns(actions: Any) -> list[str]:
    """Target group ARNs an ELBv2 action list forwards to (``targetGroupArn`` and
    ``forward.targetGroups[].arn``), known strings only."""
    arns = []
    for action in _as_list(actions):
        if not isinstance(action, Mapping):
            continue
        candidates = [action.get("targetGroupArn")]
        candidates += [g.get("arn") for g in _as_list(_get(action, "forward", "targetGroups")) if isinstance(g, Mapping)]
        arns += [a for a in candidates if isinstance(a, str) and a and not is_opaque(a)]
    return arns


def _forwards_anywhere(actions: Any) -> bool:
    return any(isinstance(a, Mapping) and (a.get("targetGroupArn") is not None or _get(a, "forward") is not None)
               for a in _as_list(actions))


class _Stack:
    """Index of a stack's resources by URN and by known ARN, and the references between them."""

    def __init__(self, resources: Sequence[StackResource]):
        self.by_urn = {r.urn: r for r in resources}
        self.by_arn = {r.props.get("arn"): r.urn for r in resources
                       if isinstance(r.props.get("arn"), str) and not is_opaque(r.props.get("arn"))}

    def referenced(self, resource: StackResource, prop: str, arns: Sequence[str], types: frozenset,
                   any_reference: bool) -> set[str]:
        """URNs of the resources of ``types`` that ``resource.props[prop]`` points at: by ARN when
        every ARN is known and matches a resource; otherwise (offline, or a preview of new resources)
        through the property's dependencies (or, without them, all the resource's dependencies)."""
        found = {self.by_arn[a] for a in arns if a in self.by_arn and self.by_urn[self.by_arn[a]].type in types}
        if arns and len(found) == len(set(arns)):
            return found
        if not any_reference:
            return found
        candidates = resource.property_dependencies.get(prop, resource.dependencies)
        return found | {u for u in candidates if u in self.by_urn and self.by_urn[u].type in types}


def _public(load_balancer: StackResource) -> bool:
    """An ELBv2 load balancer is internet-facing unless ``internal`` is true (pulumi-aws: defaults to
    false). An unknown ``internal`` is not judged."""
    internal = load_balancer.props.get("internal")
    return not is_opaque(internal) and internal is not True and str(internal).lower() != "true"


def admin_cluster_status_postgres_not_behind_public_lb(
        resources: Sequence[StackResource], config: Optional[Mapping[str, Any]] = None) -> list[tuple[str, str]]:
    """No internet-facing load balancer forwards to Kong's Admin API, Kong Manager, cluster,
    status listener or PostgreSQL ports.

    For every listener (``aws:lb/listener``, ``aws:alb/listener``) and listener rule of an
    internet-facing load balancer (``internal`` not true): each target group it forwards to whose
    ``port`` is in :data:`SENSITIVE_PORTS`; and each ECS service that registers a container port in
    :data:`SENSITIVE_PORTS` with such a target group (ECS registers tasks on the service's
    ``loadBalancers[].containerPort``, whatever the target group's port). References are resolved by
    ARN where the props carry ARNs (under the engine, after an update), else through property
    dependencies (the engine, also in a preview) or dependencies (the offline render).

    Returns ``(urn, message)`` pairs. Not checked: load balancers not in the stack (an existing one
    given by ARN), Classic ELBs, a target group's health-check port (the load balancer's own probe).
    """
    stack = _Stack(resources)
    violations: list[tuple[str, str]] = []
    public_tg_arns: set[str] = set()
    public_tg_urns: set[str] = set()

    def check(entry: StackResource, actions: Any, prop: str, lb_names: str) -> None:
        arns = _forwarded_arns(actions)
        public_tg_arns.update(arns)
        tgs = stack.referenced(entry, prop, arns, TARGET_GROUP_TYPES, _forwards_anywhere(actions))
        public_tg_urns.update(tgs)
        for tg_urn in sorted(tgs):
            port = _as_int(stack.by_urn[tg_urn].props.get("port"))
            if port in SENSITIVE_PORTS:
                violations.append((entry.urn, (
                    f"{_who(entry.type, entry.urn)}: `{prop}` forwards from the internet-facing load balancer "
                    f"{lb_names} to target group `{resource_name(tg_urn)}` on port {port} "
                    f"({SENSITIVE_PORTS[port]}); put it behind an internal load balancer (`internal: true`) "
                    f"or none, and keep the public one to the proxy ports.")))

    public_listeners: dict[str, str] = {}
    for listener in (r for r in resources if r.type in LISTENER_TYPES):
        arn = listener.props.get("loadBalancerArn")
        lbs = stack.referenced(listener, "loadBalancerArn", [arn] if isinstance(arn, str) and not is_opaque(arn) else [],
                               LOAD_BALANCER_TYPES, True)
        public = sorted(u for u in lbs if _public(stack.by_urn[u]))
        if not public:
            continue
        names = ", ".join(f"`{resource_name(u)}`" for u in public)
        public_listeners[listener.urn] = names
        check(listener, listener.props.get("defaultActions"), "defaultActions", names)
    for rule in (r for r in resources if r.type in LISTENER_RULE_TYPES):
        arn = rule.props.get("listenerArn")
        known = [arn] if isinstance(arn, str) and not is_opaque(arn) else []
        listeners = stack.referenced(rule, "listenerArn", known, LISTENER_TYPES, True)
        public = [public_listeners[u] for u in sorted(listeners) if u in public_listeners]
        if public:
            check(rule, rule.props.get("actions"), "actions", ", ".join(sorted(set(public))))

    for service in (r for r in resources if r.type == ECS_SERVICE):
        for index, entry in enumerate(_as_list(service.props.get("loadBalancers"))):
            if not isinstance(entry, Mapping):
                continue
            port = _as_int(entry.get("containerPort"))
            if port not in SENSITIVE_PORTS:
                continue
            arn = entry.get("targetGroupArn")
            if isinstance(arn, str) and not is_opaque(arn):
                exposed = arn in public_tg_arns
            else:
                tgs = stack.referenced(service, "loadBalancers", [], TARGET_GROUP_TYPES, True)
                exposed = bool(tgs & public_tg_urns)
            if exposed:
                violations.append((service.urn, (
                    f"{_who(service.type, service.urn)}: `loadBalancers[{index}].containerPort` {port} "
                    f"({SENSITIVE_PORTS[port]}) is registered with a target group of an internet-facing load "
                    f"balancer; register only the proxy ports there.")))
    return violations


# ---------------------------------------------------------------------------------------------
# 2c. public-tasks-admit-only-the-load-balancer (stack)

SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LEGACY_SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
#: ECS resources whose tasks take ``networkConfiguration.assignPublicIp`` (awsvpc network mode).
ECS_PUBLIC_IP_TYPES = frozenset({ECS_SERVICE, "aws:ecs/taskSet:TaskSet"})


def _public_ip(network: Any) -> bool:
    """``networkConfiguration.assignPublicIp`` is true (pulumi-aws: a boolean, default false)."""
    value = _get(network, "assignPublicIp")
    return value is True or (isinstance(value, str) and value.lower() in ("true", "enabled"))


def _group_id(props: Mapping[str, Any]) -> Optional[str]:
    """A security group's id when known: ``id``, else the tail of its ``arn`` (``...:security-group/sg-...``)."""
    for value in (props.get("id"), props.get("arn")):
        if isinstance(value, str) and not is_opaque(value) and value:
            return value.rsplit("/", 1)[-1]
    return None


def public_tasks_admit_only_the_load_balancer(
        resources: Sequence[StackResource], config: Optional[Mapping[str, Any]] = None) -> list[tuple[str, str]]:
    """An ECS service or task set that gives its tasks a public IP (``networkConfiguration.
    assignPublicIp`` true) has security groups of this stack that admit nothing but the security
    groups of the stack's load balancers.

    With a public IP, the security group is all that stands between a task and the internet (the
    public subnets route to the internet gateway). Every inbound rule of each of the tasks' groups
    (``aws:vpc/securityGroupIngressRule`` and ``aws:ec2/securityGroupRule`` of type ``ingress`` for
    that group, and the group's inline ``ingress``) must name a source security group that a load
    balancer of the stack (``securityGroups``) uses; a CIDR, an IPv6 CIDR, a prefix list or
    ``self`` is a violation, as are no security groups (the VPC's default group) and groups not
    declared in the stack (nothing shows what they admit). Groups are matched by id where the props
    carry ids (``id``, ``arn``), else through property dependencies (the engine) or dependencies
    (the offline render).

    Returns ``(urn, message)`` pairs. Not checked: network ACLs, egress rules.
    """
    by_urn = {r.urn: r for r in resources}
    groups = [r for r in resources if r.type == SECURITY_GROUP]
    urn_of_id = {gid: g.urn for g in groups if (gid := _group_id(g.props)) is not None}

    def linked(entry: StackResource, prop: str, ids: Sequence[Any], types: frozenset) -> set[str]:
        known = [i for i in ids if isinstance(i, str) and not is_opaque(i)]
        found = {urn_of_id[i] for i in known if i in urn_of_id}
        if len(found) == len(known) and len(known) == len(ids):
            return found
        candidates = entry.property_dependencies.get(prop, entry.dependencies)
        return found | {u for u in candidates if u in by_urn and by_urn[u].type in types}

    sg_types = frozenset({SECURITY_GROUP})
    lb_ids: set[str] = set()
    lb_urns: set[str] = set()
    for lb in (r for r in resources if r.type in LOAD_BALANCER_TYPES):
        ids = _as_list(lb.props.get("securityGroups"))
        lb_ids.update(i for i in ids if isinstance(i, str) and not is_opaque(i))
        lb_urns |= linked(lb, "securityGroups", ids, sg_types)

    def from_load_balancer(entry: StackResource, prop: str, source: Any) -> bool:
        if isinstance(source, str) and not is_opaque(source):
            return source in lb_ids or urn_of_id.get(source) in lb_urns
        candidates = {u for u in entry.property_dependencies.get(prop, entry.dependencies)
                      if u in by_urn and by_urn[u].type == SECURITY_GROUP}
        return bool(candidates) and candidates <= lb_urns

    def rule_sources(props: Mapping[str, Any], group_key: str) -> list[tuple[str, Any]]:
        """What an inbound rule admits besides a source group: ``(property, value)`` pairs."""
        others = [(k, props.get(k)) for k in ("cidrIpv4", "cidrIpv6", "prefixListId", "cidrBlocks",
                                               "ipv6CidrBlocks", "prefixListIds")
                  if props.get(k) not in (None, [], "")]
        if props.get("self") is True:
            others.append(("self", True))
        if props.get(group_key) in (None, "") and not others:
            others.append((group_key, None))
        return others

    violations: list[tuple[str, str]] = []
    for task in (r for r in resources if r.type in ECS_PUBLIC_IP_TYPES):
        network = task.props.get("networkConfiguration")
        if not _public_ip(network):
            continue
        who = _who(task.type, task.urn)
        ids = _as_list(_get(network, "securityGroups"))
        if not ids:
            violations.append((task.urn, f"{who}: `networkConfiguration.assignPublicIp` is true and no "
                               "`securityGroups` are given (the VPC's default group); give the tasks a group that "
                               "admits only the load balancer's security group."))
            continue
        task_urns = linked(task, "networkConfiguration", ids, sg_types)
        task_ids = {i for i in ids if isinstance(i, str) and not is_opaque(i)}
        task_ids |= {gid for u in task_urns if (gid := _group_id(by_urn[u].props)) is not None}
        if not task_urns:
            violations.append((task.urn, f"{who}: `networkConfiguration.assignPublicIp` is true and its security "
                               f"groups {_shown(ids)} are not declared in this stack, so nothing shows that they "
                               "admit only the load balancer; declare them here."))
            continue
        problems: list[str] = []
        for group_urn in sorted(task_urns):
            for index, rule in enumerate(_as_list(by_urn[group_urn].props.get("ingress"))):
                if not isinstance(rule, Mapping):
                    continue
                sources = [s for s in _as_list(rule.get("securityGroups"))
                           if not from_load_balancer(by_urn[group_urn], "ingress", s)]
                others = [(k, rule.get(k)) for k in ("cidrBlocks", "ipv6CidrBlocks", "prefixListIds")
                          if rule.get(k) not in (None, [])] + ([("self", True)] if rule.get("self") is True else [])
                for key, value in others + [("securityGroups", s) for s in sources]:
                    problems.append(f"`{resource_name(group_urn)}` `ingress[{index}].{key}` {_shown(value)}")
        for rule in resources:
            if rule.type == SECURITY_GROUP_INGRESS_RULE:
                group_key = "referencedSecurityGroupId"
            elif rule.type == LEGACY_SECURITY_GROUP_RULE and rule.props.get("type") == "ingress":
                group_key = "sourceSecurityGroupId"
            else:
                continue
            owner = rule.props.get("securityGroupId")
            if isinstance(owner, str) and not is_opaque(owner):
                mine = owner in task_ids
            else:
                mine = bool(set(rule.property_dependencies.get("securityGroupId", rule.dependencies)) & task_urns)
            if not mine:
                continue
            bad = rule_sources(rule.props, group_key)
            source = rule.props.get(group_key)
            if source not in (None, "") and not from_load_balancer(rule, group_key, source):
                bad.append((group_key, source))
            problems += [f"`{resource_name(rule.urn)}` `{key}` {_shown(value)}" for key, value in bad]
        for problem in problems:
            violations.append((task.urn, (
                f"{who}: `networkConfiguration.assignPublicIp` is true, and its security group admits more than "
                f"the load balancer: {problem}; with a public IP the group must admit only the load balancer's "
                "security group (or give the tasks no public IP and a route through NAT).")))
    return violations


# ---------------------------------------------------------------------------------------------
# 3. secrets-encrypted

#: StorageClass provisioners that make EBS volumes (AWS EBS CSI driver, EKS Auto Mode's, in-tree).
EBS_PROVISIONERS = frozenset({"ebs.csi.aws.com", "ebs.csi.eks.amazonaws.com", "kubernetes.io/aws-ebs"})


def secrets_encrypted(resource_type: str, props: Mapping[str, Any], urn: str,
                      config: Optional[Mapping[str, Any]] = None) -> list[str]:
    """Where secrets and the database rest, storage is encrypted.

    Checked: ``aws:rds/instance`` and ``aws:rds/cluster`` ``storageEncrypted`` true (pulumi-aws
    defaults it to false); ``aws:eks/cluster`` ``encryptionConfig`` (or a legacy
    ``encryptionConfigs`` list) whose ``resources`` include ``secrets`` (KMS envelope encryption of
    Kubernetes Secrets); Kubernetes StorageClasses of an EBS provisioner with ``parameters.encrypted``
    ``"true"``; ``aws:ebs/volume`` ``encrypted`` true.

    Not checked: Secrets Manager secrets (always encrypted, with the AWS managed key or the given
    KMS key), CloudWatch log groups (encrypted by the service), Fargate ephemeral storage (AWS
    encrypts it), an existing EKS cluster or StorageClass given by name (not in the stack), EBS
    encryption by default at the account level, S3 buckets and ElastiCache (this program makes none).
    """
    who = _who(resource_type, urn)
    if resource_type in ("aws:rds/instance:Instance", "aws:rds/cluster:Cluster"):
        value = props.get("storageEncrypted")
        if value is not True and not is_opaque(value):
            return [f"{who}: `storageEncrypted` is {'not set' if value is None else _shown(value)} "
                    f"(storage in the clear); set it to true (and `kmsKeyId` for a customer managed key)."]
    elif resource_type == "aws:eks/cluster:Cluster":
        configs = props.get("encryptionConfig", props.get("encryptionConfigs"))
        if is_opaque(configs):
            return []
        configs = [configs] if isinstance(configs, Mapping) else _as_list(configs)
        if not any("secrets" in _as_list(c.get("resources")) for c in configs if isinstance(c, Mapping)):
            return [f"{who}: `encryptionConfig` does not encrypt `secrets`; set `encryptionConfig` with "
                    f"`resources: [\"secrets\"]` and a KMS key (`provider.keyArn`)."]
    elif resource_type.startswith("kubernetes:storage.k8s.io/") and resource_type.endswith(":StorageClass"):
        if props.get("provisioner") in EBS_PROVISIONERS:
            value = _get(props, "parameters", "encrypted")
            if not is_opaque(value) and str(value).lower() != "true":
                return [f"{who}: `parameters.encrypted` is {'not set' if value is None else _shown(value)} for "
                        f"the EBS provisioner `{props.get('provisioner')}`; set it to \"true\"."]
    elif resource_type == "aws:ebs/volume:Volume":
        value = props.get("encrypted")
        if value is not True and not is_opaque(value):
            return [f"{who}: `encrypted` is {'not set' if value is None else _shown(value)}; set it to true."]
    return []


# ---------------------------------------------------------------------------------------------
# 4. log-retention-set

def log_retention_set(resource_type: str, props: Mapping[str, Any], urn: str,
                      config: Optional[Mapping[str, Any]] = None) -> list[str]:
    """Every ``aws:cloudwatch/logGroup`` has ``retentionInDays`` > 0 (unset or 0 keeps logs
    forever, and bills for them forever)."""
    if resource_type != "aws:cloudwatch/logGroup:LogGroup":
        return []
    value = props.get("retentionInDays")
    if is_opaque(value):
        return []
    days = _as_int(value)
    if days is None or days <= 0:
        shown = "not set" if value is None else _shown(value)
        return [f"{_who(resource_type, urn)}: `retentionInDays` is {shown}, so the logs never expire; set it "
                f"to one of CloudWatch Logs' retention values (1, 3, 5, 7, 14, 30, 60, 90, ... 3653 days)."]
    return []


# ---------------------------------------------------------------------------------------------
# 5. images-pinned

_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}")
#: A release tag: three or more numeric parts, optional suffix (3.10.0.1, 3.10.0.1-ubuntu, v1.2.3, and
#: the CloudWatch agent's build numbers such as 1.300062.0b1304).
_RELEASE_TAG = re.compile(r"v?\d+\.\d+\.\d+(?:[.\-+_A-Za-z][0-9A-Za-z.\-+_]*)?")
#: Images whose releases have two numeric parts: PostgreSQL since 10 (``17.6`` is one release;
#: PostgreSQL versioning policy, https://www.postgresql.org/support/versioning/). Repository names as
#: the Docker Official Image is pulled.
TWO_PART_RELEASE_IMAGES = frozenset({"postgres", "library/postgres", "docker.io/postgres",
                                     "docker.io/library/postgres", "public.ecr.aws/docker/library/postgres"})
_TWO_PART_RELEASE = re.compile(r"(\d+)\.\d+(?:-[0-9A-Za-z.\-_]+)?")


def image_problem(reference: Any) -> Optional[str]:
    """Why an image reference is not pinned to one release, or None when it is: a ``sha256``
    digest, or a tag of three or more numeric parts (``3.10.0.1``, ``1.2.3-alpine``), or for
    :data:`TWO_PART_RELEASE_IMAGES` a ``major.minor`` tag with major >= 10 (``postgres:17.6``).
    No tag (Docker pulls ``latest``), ``latest`` and floating tags (``3.10``, ``3``, ``stable``)
    are problems. Secrets and unknowns are not judged."""
    if is_opaque(reference) or not isinstance(reference, str):
        return None
    ref = reference.strip()
    if _DIGEST.search(ref):
        return None
    if not ref:
        return "is empty"
    if ":" not in ref.rsplit("/", 1)[-1]:
        return "has no tag, so Docker pulls `latest`"
    repository, tag = ref.rsplit(":", 1)
    if tag == "latest":
        return "uses the floating tag `latest`"
    if _RELEASE_TAG.fullmatch(tag):
        return None
    two_part = _TWO_PART_RELEASE.fullmatch(tag)
    if repository in TWO_PART_RELEASE_IMAGES and two_part and int(two_part.group(1)) >= 10:
        return None
    return f"has the tag `{tag}`, which is not one release (x.y.z...) and can move"


_IMAGE_FIX = "pin a release tag (x.y.z, e.g. kong/kong-gateway:3.10.0.1) or a digest (@sha256:...)"


def _helm_image_reference(block: Mapping[str, Any]) -> Any:
    """The image a chart image block (``repository``, ``tag``, ``unifiedRepoTag``) resolves to."""
    unified = block.get("unifiedRepoTag")
    if unified:
        return unified
    repository, tag = block.get("repository"), block.get("tag")
    for part in (repository, tag):
        if is_opaque(part):
            return part
    return f"{repository}" if tag is None or tag == "" else f"{repository}:{tag}"


def images_pinned(resource_type: str, props: Mapping[str, Any], urn: str,
                  config: Optional[Mapping[str, Any]] = None) -> list[str]:
    """Container images are pinned to a release (:func:`image_problem`).

    Checked: every ECS container definition's ``image``; a Helm release's ``image`` block
    (``unifiedRepoTag``, else ``repository:tag``; for Kong's chart, with the chart's defaults, so a
    release that leaves ``image`` out runs ``kong:3.9``, and the ingress controller's image when
    the controller is enabled); every container and init container of a Kubernetes workload. Not
    checked: other image blocks of charts (``waitImage``), images of charts other than ``image``.
    """
    who = _who(resource_type, urn)
    messages: list[str] = []
    if resource_type == ECS_TASK_DEFINITION:
        for index, container in enumerate(_container_definitions(props) or []):
            problem = image_problem(container.get("image"))
            if problem:
                messages.append(f"{who}: `containerDefinitions[{index}].image` {_shown(container.get('image'))} "
                                f"{problem}; {_IMAGE_FIX}.")
    elif resource_type == HELM_RELEASE:
        values = helm_values(props)
        if values is None:
            return messages
        blocks = [("image", values.get("image"))]
        if is_kong_chart(props) and _get(values, "ingressController", "enabled") is True:
            blocks.append(("ingressController.image", _get(values, "ingressController", "image")))
        for path, block in blocks:
            if isinstance(block, str):
                reference = block  # some charts take `image: repository:tag`
            elif isinstance(block, Mapping) and not is_opaque(block):
                reference = _helm_image_reference(block)
            else:
                continue
            problem = image_problem(reference)
            if problem:
                given = "values" if _get(props, "values", *path.split(".")) is not None else "chart default"
                messages.append(f"{who}: `values.{path}` ({given}) {_shown(reference)} {problem}; set "
                                f"`values.{path}.tag` to a release or `values.{path}.unifiedRepoTag` to "
                                f"`repository@sha256:...`.")
    else:
        spec = _pod_spec(resource_type, props)
        if spec is None:
            return messages
        base = _pod_spec_path(resource_type)
        for where, container in _pod_containers(spec):
            problem = image_problem(container.get("image"))
            if problem:
                messages.append(f"{who}: `{base}.{where}.image` {_shown(container.get('image'))} {problem}; "
                                f"{_IMAGE_FIX}.")
    return messages


# ---------------------------------------------------------------------------------------------
# 6. two-data-planes-outside-dev

def is_dev_stack(urn: str, config: Optional[Mapping[str, Any]] = None) -> bool:
    """True when the URN's stack name fully matches the ``devStackPattern`` config value (a Python
    regular expression; default :data:`DEFAULT_DEV_STACK_PATTERN`: ``dev`` or ``dev-...``)."""
    pattern = str((config or {}).get("devStackPattern", DEFAULT_DEV_STACK_PATTERN))
    try:
        return re.fullmatch(pattern, stack_of(urn)) is not None
    except re.error as error:
        raise ValueError(f"two-data-planes-outside-dev: devStackPattern {pattern!r} is not a regular "
                         f"expression: {error}") from error


def two_data_planes_outside_dev(resource_type: str, props: Mapping[str, Any], urn: str,
                                config: Optional[Mapping[str, Any]] = None) -> list[str]:
    """Outside dev stacks, at least two data planes, so one can fail or be replaced.

    Checked: ``aws:ecs/service`` ``desiredCount`` >= 2 (pulumi-aws: unset means 0; DAEMON services
    are skipped); Kong Helm releases whose ``env.role`` is ``data_plane``: with
    ``autoscaling.enabled``, ``autoscaling.minReplicas`` >= 2, else ``replicaCount`` >= 2 (the
    chart's values.yaml: replicaCount "has no effect when autoscaling.enabled is set to true";
    chart defaults apply: replicaCount 1, minReplicas 2). Stacks matching ``devStackPattern``
    (:func:`is_dev_stack`) are exempt.
    """
    if is_dev_stack(urn, config):
        return []
    who = _who(resource_type, urn)
    stack = stack_of(urn)
    if resource_type == ECS_SERVICE:
        if props.get("schedulingStrategy") == "DAEMON":
            return []
        value = props.get("desiredCount")
        if is_opaque(value):
            return []
        count = _as_int(value)
        if count is None or count < 2:
            shown = "not set (0)" if value is None else _shown(value)
            return [f"{who}: `desiredCount` is {shown} in stack `{stack}`; run at least 2 data planes outside "
                    f"dev stacks (kong-aws:ecs.desiredCount and minCount)."]
    elif resource_type == HELM_RELEASE and is_kong_chart(props):
        values = helm_values(props)
        if values is None or _get(values, "env", "role") != "data_plane":
            return []
        if _get(values, "autoscaling", "enabled") is True:
            value = _get(values, "autoscaling", "minReplicas")
            count = _as_int(value)
            if not is_opaque(value) and (count is None or count < 2):
                return [f"{who}: `values.autoscaling.minReplicas` is {_shown(value)} in stack `{stack}`; set it to at "
                        f"least 2 outside dev stacks (kong-aws:hybrid.dataPlaneMinReplicas)."]
        else:
            value = values.get("replicaCount")
            count = _as_int(value)
            if not is_opaque(value) and (count is None or count < 2):
                given = "" if _get(props, "values", "replicaCount") is not None else " (the chart's default)"
                return [f"{who}: `values.replicaCount` is {_shown(value)}{given} in stack `{stack}`; set it to at least "
                        f"2 outside dev stacks (kong-aws:hybrid.dataPlaneMinReplicas)."]
    return []


# ---------------------------------------------------------------------------------------------
# The pack

@dataclass(frozen=True)
class Rule:
    """A policy: ``name`` (unique in the pack), ``description`` (the pack shows it above each
    message), ``check`` (a resource or stack rule function), and its ``config_schema`` (JSON schema
    ``properties`` for the policy's config, or None)."""

    name: str
    description: str
    check: Callable[..., list]
    config_schema: Optional[dict[str, dict[str, Any]]] = None


RESOURCE_RULES: tuple[Rule, ...] = (
    Rule("no-secrets-in-container-env-or-helm-values",
         "No private key, password or token in the clear in ECS container environment, Helm values "
         "or Kubernetes container env: secrets reach containers from Secrets Manager or Kubernetes Secrets "
         "by reference.",
         no_secrets_in_container_env_or_helm_values),
    Rule("admin-cluster-status-postgres-not-public",
         "Kong's Admin API (8001/8444), Kong Manager (8002/8445), Dev Portal (8003/8446, 8004/8447), cluster "
         "listeners (8005/8006), status listener (8100, 8007, 8543) and PostgreSQL (5432) are never reachable from "
         "the internet.",
         admin_cluster_status_postgres_not_public),
    Rule("secrets-encrypted",
         "RDS storage, EKS Secrets (KMS envelope encryption), EBS StorageClasses and EBS volumes are encrypted.",
         secrets_encrypted),
    Rule("log-retention-set",
         "Every CloudWatch log group has a retention period (retentionInDays > 0).",
         log_retention_set),
    Rule("images-pinned",
         "Container images are pinned to one release (x.y.z...) or a sha256 digest: no latest, no missing "
         "tag, no floating minor such as 3.10.",
         images_pinned),
    Rule("two-data-planes-outside-dev",
         "Outside dev stacks, Kong runs at least two data planes (ECS desiredCount, Helm replicaCount / "
         "autoscaling.minReplicas).",
         two_data_planes_outside_dev,
         {"devStackPattern": {
             "type": "string", "default": DEFAULT_DEV_STACK_PATTERN,
             "description": "Python regular expression; stacks whose whole name matches it are dev stacks."}}),
)

STACK_RULES: tuple[Rule, ...] = (
    Rule("admin-cluster-status-postgres-not-behind-public-lb",
         "No internet-facing load balancer forwards to Kong's Admin API, Kong Manager, cluster listeners, "
         "status listener or PostgreSQL.",
         admin_cluster_status_postgres_not_behind_public_lb),
    Rule("public-tasks-admit-only-the-load-balancer",
         "ECS tasks with a public IP have security groups that admit nothing but the load balancer's "
         "security group.",
         public_tasks_admit_only_the_load_balancer),
)


def check_resource(resource_type: str, props: Mapping[str, Any], urn: str,
                   config: Optional[Mapping[str, Mapping[str, Any]]] = None) -> dict[str, list[str]]:
    """Every resource rule over one resource: ``{policy name: messages}`` for the rules that found
    something. ``config`` maps a policy name to its config."""
    found = {}
    for rule in RESOURCE_RULES:
        messages = rule.check(resource_type, props, urn, config=(config or {}).get(rule.name))
        if messages:
            found[rule.name] = messages
    return found


def check_stack(resources: Sequence[StackResource],
                config: Optional[Mapping[str, Mapping[str, Any]]] = None) -> dict[str, list[tuple[str, str]]]:
    """The whole pack over a stack: every resource rule over each resource and every stack rule over
    the list. Returns ``{policy name: [(urn, message), ...]}`` for the rules that found something."""
    found: dict[str, list[tuple[str, str]]] = {}
    for resource in resources:
        for name, messages in check_resource(resource.type, resource.props, resource.urn, config).items():
            found.setdefault(name, []).extend((resource.urn, m) for m in messages)
    for rule in STACK_RULES:
        violations = rule.check(resources, config=(config or {}).get(rule.name))
        if violations:
            found.setdefault(rule.name, []).extend(violations)
    return found
