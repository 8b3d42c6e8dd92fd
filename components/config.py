"""The stack configuration of kong-aws: one typed model per mode, validated before any resource is declared.

Every key lives under the ``kong-aws:`` namespace of a Pulumi stack (``Pulumi.<stack>.yaml``), plus
``aws:region``. ``kong-aws:mode`` picks the model: :class:`KonnectEcsConfig` (``konnect-ecs``, the
default, as ``Pulumi.yaml`` declares) or :class:`HybridEksConfig` (``hybrid-eks``). A mode's
sections exist only in its model, so a section of the other mode is an error.

Every rule lives here once, in the models (field validators and model validators). Defaults do not:
a setting left unset is ``None`` in its section and means "the component's default", which each
component module states once (``components.ecs_task_definition.TASK_DEFINITION_DEFAULTS`` ...);
:meth:`_Section.effective` reads it where a rule needs the value that will be used.

:func:`load_stack_config` reads the raw values, validates them and returns the mode's model, or
raises :class:`ConfigError` whose lines each name the full key (``kong-aws:ecs.cpu``), the value it
got (never the value of a secret) and what is allowed, every problem at once.
"""

from __future__ import annotations

import datetime
import difflib
import functools
import ipaddress
import json
import re
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Annotated, Any, ClassVar, Literal, Optional, Union

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, SecretStr, Tag,
                      TypeAdapter, ValidationError, ValidationInfo, field_validator, model_validator)

from components import aws_facts, image_source
from components.certificates import CERTIFICATE_DEFAULTS, CertificateSlot, KeyAlgorithm
from components.ecs_service import SERVICE_DEFAULTS
from components.ecs_task_definition import TASK_DEFINITION_DEFAULTS, CpuArchitecture
from components.eks_cluster import EKS_DEFAULTS
from components.gateway_config import DECK_NAME, PROJECT_DIR, GatewayFileError, is_deck_setting, load_gateway_file
from components.kong_facts import ClusterMtls, LogLevel, RouterFlavor
from components.kong_hybrid import HYBRID_DEFAULTS
from components.kong_settings import KONG_DEFAULTS, ImageSourceKind
from components.konnect_api import (KONNECT_DEFAULTS, KonnectEndpoint, KonnectRegion, api_url_for,  # noqa: F401
                                    parse_endpoint)
from components.monitoring import MONITORING_DEFAULTS
from components.network import EGRESS_OF_NAT_GATEWAYS, NETWORK_DEFAULTS, Egress, NatGateways
from components.postgres import POSTGRES_DEFAULTS, SECURITY_GROUP_ID, PostgresMode
from components.proxy_load_balancer import LOAD_BALANCER_DEFAULTS, TlsMode
from components.rollout_gate import ROLLOUT_GATE_DEFAULTS, RolloutGateMode

NAMESPACE = "kong-aws"
#: The modes, and the one used when ``kong-aws:mode`` is not set (``Pulumi.yaml`` declares it too).
MODES = ("konnect-ecs", "hybrid-eks")
DEFAULT_MODE = "konnect-ecs"

#: The value ``python -m tools.render`` stands in for every ``secure:`` config value. A value equal
#: to it cannot be read offline, so the checks of its content are skipped (and only those).
OFFLINE_SECRET_PLACEHOLDER = "[secret]"
#: The environment variable that may hold the Konnect access token instead of kong-aws:konnectToken.
TOKEN_ENV = "KONNECT_TOKEN"

#: Seconds between a Fargate Spot interruption notice and the task's stop. Source: AWS, "AWS Fargate
#: capacity providers" (docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-capacity-providers.html):
#: "a two-minute warning" before the task is stopped.
FARGATE_SPOT_NOTICE_SECONDS = 120

#: CPU units -> memory sizes (MiB) that Fargate accepts for a Linux task. Source: AWS, "Amazon ECS
#: task definition parameters for Fargate", table "Task CPU and memory" (docs.aws.amazon.com/AmazonECS/
#: latest/developerguide/fargate-tasks-services.html#fargate-tasks-size).
FARGATE_CPU_MEMORY: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}

#: Retention periods (days) CloudWatch Logs accepts. Source: CloudWatch Logs API reference,
#: PutRetentionPolicy, parameter retentionInDays.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                      2192, 2557, 2922, 3288, 3653)

# Konnect label rules. Source: Kong docs, "Konnect labels" (developer.konghq.com/konnect-platform/
# konnect-labels/): at most 5 labels; key and value 1-63 characters, alphanumeric at both ends,
# '-', '_' and '.' between; keys must not start with a prefix reserved for Kong.
MAX_LABELS = 5
RESERVED_LABEL_PREFIXES = ("kong", "konnect", "insomnia", "mesh", "kic", "kuma", "_")


def _regex(pattern: str) -> re.Pattern:
    # Every pattern is used with fullmatch (``$`` would accept a trailing newline) and ASCII
    # classes (Python's \d and \w match any Unicode digit or letter).
    return re.compile(pattern, re.ASCII)


_LABEL_PART = _regex(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?")
# A Docker image version tag that names one release (3.10.0.1, 3.9.1.2-ubuntu), or a digest.
# Floating tags such as "3.10" or "latest" change under a running service and are refused.
_PINNED_TAG = _regex(r"[0-9]+\.[0-9]+\.[0-9]+(?:\.[0-9]+)?(?:-[A-Za-z0-9][A-Za-z0-9._-]*)?")
_DIGEST = _regex(r"sha256:[0-9a-f]{64}")
_IMAGE_REPOSITORY = _regex(
    r"(?:[a-z0-9.-]+(?::[0-9]{1,5})?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*")
_REGION = _regex(r"[a-z]{2}(?:-[a-z]+)+-[0-9]")
_ACM_ARN = _regex(r"arn:aws[a-z-]*:acm:([a-z0-9-]+):[0-9]{12}:certificate/[0-9a-f-]{36}")
_KMS_KEY_ARN = _regex(r"arn:aws[a-z-]*:kms:([a-z0-9-]+):[0-9]{12}:key/(?:mrk-[0-9a-f]{32}|[0-9a-f-]{36})")
_IAM_ROLE_ARN = _regex(r"arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}")
_TOKEN = _regex(r"(?:kpat|spat)_[A-Za-z0-9]{20,}")
_API_URL = _regex(r"(https?)://([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(?::([0-9]{1,5}))?/?")


class ConfigError(ValueError):
    """Stack configuration that cannot be deployed.

    ``problems`` holds one line per problem, each naming the full config key, the value and what is
    allowed; ``str(error)`` joins them under a heading.
    """

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid stack configuration:\n" + "\n".join(f"  - {p}" for p in problems))


class _Problems(ValueError):
    """What a validator found: ``(key path relative to where it runs, text)`` pairs. Pydantic keeps
    the exception in the error's ``ctx["error"]``; :func:`_problem_lines` writes each pair as
    ``<full key>: <text>``. ``inner`` carries the errors of a model whose own fields failed, when
    a model validator still checked what could be checked."""

    def __init__(self, problems: list[tuple[tuple, str]], inner: Optional[ValidationError] = None):
        self.problems = problems
        self.inner = inner
        super().__init__("; ".join(text for _, text in problems) or "invalid")


def _plain(value: Any) -> Any:
    if isinstance(value, (KeyAlgorithm, CpuArchitecture, ClusterMtls, LogLevel, RouterFlavor, KonnectRegion,
                          Egress, NatGateways, PostgresMode, TlsMode)):
        return value.value
    return value


def _show(value: Any) -> str:
    value = _plain(value)
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _context(info: Optional[ValidationInfo]) -> Mapping[str, Any]:
    return (info.context if info is not None and isinstance(info.context, Mapping) else None) or {}


def _partial(info: Optional[ValidationInfo]) -> bool:
    # Set while the rules across sections look for what validates alone: a section's own rules
    # have reported their problems already.
    return bool(_context(info).get("partial"))


def _check_secret(key: str, info: ValidationInfo, how: str) -> list[tuple[tuple, str]]:
    # Which keys were set with --secret reaches the model through the validation context; without
    # it (a model built in code), whether a value was secret is unknown and not checked.
    secret_keys = _context(info).get("secret_keys")
    if secret_keys is not None and key not in secret_keys:
        return [((), f"set in plain text; {how}")]
    return []


# ---------------------------------------------------------------------------------------------
# Value types

def _matching(pattern: re.Pattern, explain: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(explain)
        return value

    return AfterValidator(check)


def _ipv4_cidr(value: str) -> str:
    try:
        network = ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"not an IPv4 CIDR block such as 203.0.113.0/24: {exc}") from None
    return str(network)  # a bare address 203.0.113.7 becomes 203.0.113.7/32


def _retention_days(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise ValueError(f"CloudWatch Logs accepts {', '.join(map(str, LOG_RETENTION_DAYS))}")
    return value


def _label_text(value: Any) -> Any:
    # `pulumi config set --path 'kong-aws:kong.dataPlaneLabels.gen' 2` stores the number 2.
    if isinstance(value, bool):
        raise ValueError("a label is text; quote it in the stack file (gen: \"true\") or set it with "
                         "`pulumi config set --type string --path ...`")
    if isinstance(value, (int, float)):
        return str(value)
    if not isinstance(value, str):
        raise ValueError("a label is text (a string, or a number read as one), not an object or a list")
    return value


def _check_labels(labels: dict[str, str]) -> dict[str, str]:
    if len(labels) > MAX_LABELS:
        raise ValueError(f"at most {MAX_LABELS} labels are allowed, got {len(labels)}")
    for key, value in labels.items():
        for part, text in (("key", key), ("value", value)):
            if not _LABEL_PART.fullmatch(text):
                raise ValueError(
                    f"label {part} {text!r} must be 1-63 characters, start and end with a letter or "
                    "digit, and have only letters, digits, '-', '_' and '.' between")
        if key.lower().startswith(RESERVED_LABEL_PREFIXES):
            raise ValueError(f"label key {key!r} starts with a prefix reserved for Kong "
                             f"({', '.join(RESERVED_LABEL_PREFIXES)})")
    return labels


def _printable(value: str) -> str:
    if not value.isprintable():
        raise ValueError("only printable characters (no newlines or control characters)")
    return value


#: An IPv4 CIDR block (``203.0.113.0/24``, host bits clear); a single address ``203.0.113.7`` is
#: read as ``203.0.113.7/32``.
Cidr = Annotated[str, AfterValidator(_ipv4_cidr)]
#: One or more :data:`Cidr` blocks.
CidrList = Annotated[list[Cidr], Field(min_length=1)]
#: A CloudWatch Logs retention period in days (:data:`LOG_RETENTION_DAYS`).
RetentionDays = Annotated[int, AfterValidator(_retention_days)]
#: Konnect labels: text keys and values (numbers are read as their text), Konnect's label rules.
Labels = Annotated[dict[str, Annotated[str, BeforeValidator(_label_text)]], AfterValidator(_check_labels)]
#: An AWS region name (``us-west-2``).
Region = Annotated[str, _matching(_REGION, "not an AWS region name such as us-west-2")]


#: AWS resource ids (``vpc-0123456789abcdef0``, ``subnet-...``).
VpcId = Annotated[str, _matching(_regex(r"vpc-[0-9a-f]{8,17}"), "not an AWS vpc id (vpc-0123456789abcdef0)")]
SecurityGroupId = Annotated[str, _matching(SECURITY_GROUP_ID,
                                           "not an AWS security group id (sg-0123456789abcdef0)")]
SubnetId = Annotated[str, _matching(_regex(r"subnet-[0-9a-f]{8,17}"),
                                    "not an AWS subnet id (subnet-0123456789abcdef0)")]


# ---------------------------------------------------------------------------------------------
# Sections

def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class _Model(BaseModel):
    # Unknown keys are an error (a typo is not a default).
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Section(_Model):
    """A ``kong-aws:<section>`` object: camelCase keys as in stack files, given as an object or as
    the JSON text Pulumi hands the program. Fields left ``None`` take the component's default,
    from the ``component_defaults`` constants."""

    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=_camel, use_attribute_docstrings=True)

    #: The component modules' defaults constants that give this section's unset fields their value.
    component_defaults: ClassVar[tuple[Mapping[str, Any], ...]] = ()

    @classmethod
    def component_default(cls, name: str) -> Any:
        """The component's default for field ``name``; raises ``KeyError`` when it has none."""
        for defaults in cls.component_defaults:
            if name in defaults:
                return defaults[name]
        raise KeyError(name)

    def effective(self, name: str) -> Any:
        """Field ``name``'s value, or when unset the component's default (None if it has none)."""
        value = getattr(self, name)
        if value is not None:
            return value
        try:
            return self.component_default(name)
        except KeyError:
            return None

    def _given_or_default(self, name: str) -> str:
        value = getattr(self, name)
        if value is None:
            return f"not set (default {_show(self.effective(name))})"
        return f"got {_show(value)}"

    @model_validator(mode="before")
    @classmethod
    def _object(cls, data: Any) -> Any:
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError:
                raise ValueError("expected an object of settings") from None
        if not isinstance(data, (Mapping, BaseModel)):
            raise ValueError("expected an object of settings")
        return data


class KongConfig(_Section):
    """``kong-aws:kong``: the Kong Gateway node every mode runs.

    ``version`` is required: one release such as ``3.10.0.1``, or a ``sha256:`` digest. ``image``,
    ``routerFlavor``, ``logLevel`` and ``dataPlaneLabels`` (``cluster_dp_labels``, Konnect label
    rules) default to :data:`components.kong_settings.KONG_DEFAULTS`.
    """

    component_defaults: ClassVar = (KONG_DEFAULTS,)

    image: Optional[str] = None
    """image repository (an ECR repository is fine)"""
    version: str
    """one Kong Gateway release (`3.10.0.1`) or a `sha256:` digest; floating tags (`3.10`, `latest`) are refused"""
    router_flavor: Optional[RouterFlavor] = None
    """`traditional`, `traditional_compatible`, `expressions`"""
    log_level: Optional[LogLevel] = None
    """Kong's log levels, `debug` … `emerg`"""
    data_plane_labels: Optional[Labels] = None
    """konnect-ecs only (Konnect labels; hybrid-eks refuses them): `cluster_dp_labels`; at most 5; keys and values 1-63 characters, letters/digits at both ends, `-_.` between; keys must not start with `kong`, `konnect`, `insomnia`, `mesh`, `kic`, `kuma` or `_` ([Konnect labels](https://developer.konghq.com/konnect-platform/konnect-labels/)); a number is read as its text"""
    image_source: Optional[ImageSourceKind] = None
    """`direct` (pull `image` from its registry: Docker Hub, anonymously, unless `image` is an ECR or other registry URI) or `ecr-pull-through` (Docker Hub through an ECR pull through cache rule, with `dockerHubCredentialsSecretArn`)"""
    docker_hub_credentials_secret_arn: Optional[str] = None
    """`ecr-pull-through` only, and required then: a Secrets Manager secret in the stack's account and region whose name starts with `ecr-pullthroughcache/`, holding Docker Hub `username` and `accessToken`"""
    pull_through_cache_prefix: Optional[str] = None
    """`ecr-pull-through`: the ECR repository prefix of the cache, 2-30 characters (one rule per prefix in an account and region: give each stack sharing them its own)"""

    @field_validator("docker_hub_credentials_secret_arn")
    @classmethod
    def _credentials_arn(cls, value: Optional[str]) -> Optional[str]:
        if value is not None:
            image_source.parse_credentials_arn(value)
        return value

    @field_validator("pull_through_cache_prefix")
    @classmethod
    def _cache_prefix(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else image_source.check_prefix(value)

    @model_validator(mode="after")
    def _pull_through(self, info: ValidationInfo) -> "KongConfig":
        if _partial(info):
            return self
        problems: list[tuple[tuple, str]] = []
        through = ImageSourceKind(self.effective("image_source")) is ImageSourceKind.ECR_PULL_THROUGH
        if through and self.docker_hub_credentials_secret_arn is None:
            problems.append((("dockerHubCredentialsSecretArn",), "required with kong.imageSource ecr-pull-through, "
                             "not set: the ARN of a Secrets Manager secret named ecr-pullthroughcache/<name>"))
        for key, name in (("dockerHubCredentialsSecretArn", "docker_hub_credentials_secret_arn"),
                          ("pullThroughCachePrefix", "pull_through_cache_prefix")):
            if not through and getattr(self, name) is not None:
                problems.append(((key,), f"got {_show(getattr(self, name))}; only for kong.imageSource "
                                 f"ecr-pull-through (it is {ImageSourceKind(self.effective('image_source')).value}); remove it"))
        if through and image_source.docker_hub_path(self.effective("image")) is None:
            problems.append((("image",), f"{self._given_or_default('image')}; kong.imageSource ecr-pull-through "
                             "caches Docker Hub: give a Docker Hub repository, or imageSource direct for an "
                             "image already in ECR"))
        if problems:
            raise _Problems(problems)
        return self

    @field_validator("image")
    @classmethod
    def _image(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        if ":" in value.rsplit("/", 1)[-1] or "@" in value:
            raise ValueError("give the repository only; the tag goes in kong-aws:kong.version")
        if len(value) > 255 or not _IMAGE_REPOSITORY.fullmatch(value):
            raise ValueError("not a container image repository such as kong/kong-gateway")
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not ((len(value) <= 128 and _PINNED_TAG.fullmatch(value)) or _DIGEST.fullmatch(value)):
            raise ValueError("pin one release such as 3.10.0.1 (or a sha256: digest); floating "
                             "tags such as 3.10 or latest are refused")
        return value

    @property
    def image_ref(self) -> str:
        """The full image reference, ``repository:tag`` or ``repository@sha256:...``."""
        sep = "@" if self.version.startswith("sha256:") else ":"
        return f"{self.effective('image')}{sep}{self.version}"


def _in_konghq(host: str) -> bool:
    host = host.lower().rstrip(".")
    return host == "konghq.com" or host.endswith(".konghq.com")


def _konnect_host_kind(host: str) -> Optional[str]:
    """``cp0`` / ``tp0`` for a Konnect data plane endpoint host, ``api`` for a Konnect API host
    (``us.api.konghq.com``, ``global.api.konghq.com``), None for anything else (hosts outside
    konghq.com: private connectivity, proxies). Source: ../shared/reference/konnect-endpoints.json."""
    if not _in_konghq(host):
        return None
    labels = host.lower().rstrip(".").split(".")[:-2]
    if labels and labels[-1] == "api":
        return "api"
    for kind in ("cp0", "tp0"):
        if kind in labels:
            return kind
    return None


def _endpoint(value: Any) -> Any:
    if isinstance(value, str):
        return parse_endpoint(value)
    if isinstance(value, KonnectEndpoint):
        return value
    raise ValueError("give the endpoint as a string")


def _endpoint_of(kind: str, other_key: str, other_kind: str, what: str) -> AfterValidator:
    def check(endpoint: KonnectEndpoint) -> KonnectEndpoint:
        found = _konnect_host_kind(endpoint.host)
        if found == "api":
            raise ValueError(f"{endpoint.host} is the Konnect API, not a data plane endpoint; give the {what} "
                             f"Konnect shows for the control plane (<id>.<region>.{kind}.konghq.com), or "
                             "konnect.controlPlaneName to manage the control plane through the API")
        if found == other_kind:
            raise ValueError(f"a {other_kind} host is the {'telemetry' if other_kind == 'tp0' else 'control plane'} "
                             f"endpoint (konnect.{other_key}); the {what} is the {kind} host Konnect shows "
                             "beside it")
        return endpoint

    return AfterValidator(check)


ControlPlaneEndpoint = Annotated[KonnectEndpoint, BeforeValidator(_endpoint),
                                 _endpoint_of("cp0", "telemetryEndpoint", "tp0", "control plane endpoint")]
TelemetryEndpoint = Annotated[KonnectEndpoint, BeforeValidator(_endpoint),
                              _endpoint_of("tp0", "controlPlaneEndpoint", "cp0", "telemetry endpoint")]


class KonnectConfig(_Section):
    """``kong-aws:konnect``: the Konnect control plane the data planes join. Two ways:

    - managed: ``controlPlaneName`` (2-256 characters) with an access token
      (``kong-aws:konnectToken`` or ``KONNECT_TOKEN``): the stack adopts or creates the control plane
      in ``region`` (or at ``apiUrl``, an ``https://`` base URL, ``http://`` only for localhost) with
      ``controlPlaneLabels``, and pins the data plane certificate through the Konnect API; a control
      plane it created is deleted by ``pulumi destroy`` only with ``deleteControlPlaneOnDestroy``;
    - manual: ``controlPlaneEndpoint`` and ``telemetryEndpoint`` as Konnect shows them (host,
      host:443 or https:// URL), normalised by :func:`parse_endpoint`; you pin the certificate.

    Refused mix-ups: the same host for both endpoints, a ``tp0`` host as the control plane endpoint
    or a ``cp0`` host as the telemetry endpoint, a Konnect API host (``*.api.konghq.com``) as an
    endpoint, a ``cp0``/``tp0`` host as ``apiUrl``. Hosts outside konghq.com are allowed.
    """

    component_defaults: ClassVar = (KONNECT_DEFAULTS,)

    control_plane_endpoint: Optional[ControlPlaneEndpoint] = None
    """required without `controlPlaneName`: host, `host:port` or `https://` URL → `cluster_control_plane`, `cluster_server_name`"""
    telemetry_endpoint: Optional[TelemetryEndpoint] = None
    """required without `controlPlaneName`: same forms (a different host) → `cluster_telemetry_endpoint`, `cluster_telemetry_server_name`"""
    control_plane_name: Optional[Annotated[str, Field(min_length=2, max_length=256), AfterValidator(_printable)]] = None
    """manage the control plane of this name (2-256 characters) through the Konnect API; needs a token"""
    control_plane_labels: Optional[Labels] = None
    """labels of a control plane the stack creates (Konnect label rules); an adopted one keeps its own"""
    region: Optional[KonnectRegion] = None
    """Konnect region of the control plane: `us`, `eu`, `au`, `me`, `in`, `sg` (API `https://<region>.api.konghq.com`)"""
    api_url: Optional[str] = None
    """another API base URL (a proxy; `http://` only to localhost)"""
    delete_control_plane_on_destroy: Optional[bool] = None
    """with `controlPlaneName`: `pulumi destroy` deletes a control plane the stack created, with its configuration (`pulumi up` first: destroy acts on the state); `false`: it stays in Konnect; an adopted one is never deleted"""

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        match = _API_URL.fullmatch(value)
        if not match or (match.group(3) and not 0 < int(match.group(3)) < 65536):
            raise ValueError("give a base URL such as https://us.api.konghq.com (no path)")
        if match.group(1) == "http" and match.group(2) not in ("localhost", "127.0.0.1", "[::1]"):
            raise ValueError("plain http is only allowed to localhost; use https")
        if _konnect_host_kind(match.group(2)) in ("cp0", "tp0"):
            raise ValueError("a cp0/tp0 host is a data plane endpoint (konnect.controlPlaneEndpoint / "
                             "telemetryEndpoint), not the Konnect API; give https://<region>.api.konghq.com "
                             "or set konnect.region")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _one_way(self, info: ValidationInfo) -> "KonnectConfig":
        if _partial(info):
            return self
        problems = []
        cp, tp = self.control_plane_endpoint, self.telemetry_endpoint
        if self.managed:
            for key, value in (("controlPlaneEndpoint", cp), ("telemetryEndpoint", tp)):
                if value is not None:
                    problems.append(((key,), f"set, but the managed control plane ({self.control_plane_name!r}) "
                                             "gives it; remove it"))
        else:
            if self.delete_control_plane_on_destroy is not None:
                problems.append((("deleteControlPlaneOnDestroy",),
                                 f"got {_show(self.delete_control_plane_on_destroy)}, but the stack manages no "
                                 "control plane (konnect.controlPlaneName is not set): it never deletes one; remove it"))
            for key, value in (("controlPlaneEndpoint", cp), ("telemetryEndpoint", tp)):
                if value is None:
                    problems.append(((key,), "required, not set (or give konnect.controlPlaneName to manage "
                                             "the control plane)"))
            # One host for both is a mix-up at Konnect; elsewhere (a proxy) only with one port too.
            if cp is not None and tp is not None and cp.host == tp.host and (
                    cp.port == tp.port or _in_konghq(cp.host)):
                problems.append((("telemetryEndpoint",), f"got {tp.address!r}; the same host as "
                                 "konnect.controlPlaneEndpoint: Konnect's telemetry endpoint is its own (tp0) host"))
        if problems:
            raise _Problems(problems)
        return self

    @property
    def managed(self) -> bool:
        """True when the stack manages the control plane through the Konnect API."""
        return self.control_plane_name is not None

    @property
    def base_url(self) -> str:
        """The Konnect API base URL: ``apiUrl``, or the region's host."""
        return self.api_url or api_url_for(self.effective("region").value)


def _sha256(value: Any) -> Any:
    # `openssl x509 -noout -fingerprint -sha256` prints "sha256 Fingerprint=AB:CD:..."; keep the hex.
    if isinstance(value, str):
        value = value.strip().rsplit("=", 1)[-1].replace(":", "").lower()
        if not re.fullmatch(r"[0-9a-f]{64}", value):
            raise ValueError("not a SHA-256 fingerprint (64 hex digits, colons allowed, as `openssl x509 -noout "
                             "-fingerprint -sha256 -in dp.crt` prints it)")
    return value


#: A certificate's SHA-256 fingerprint, as lower-case hex without colons.
Sha256 = Annotated[str, BeforeValidator(_sha256)]


class CertificateConfig(_Section):
    """``kong-aws:certificate``: the generated cluster certificates (pulumi-tls).

    Unset fields take :data:`components.certificates.CERTIFICATE_DEFAULTS`. ``earlyRenewalDays`` is
    the window before expiry in which ``pulumi up`` replaces the certificate; it must be less than
    ``validityDays``. ``activeSlot``, ``slotGenerations`` and ``pinnedSha256`` are for mode
    konnect-ecs with manual pinning (no ``konnect.controlPlaneName``) and a generated certificate
    (no ``clusterCert``; ``pinnedSha256`` also applies to a given one); the other cases refuse them.
    """

    component_defaults: ClassVar = (CERTIFICATE_DEFAULTS,)

    key_algorithm: Optional[KeyAlgorithm] = None
    """`ecdsa-p384`, `rsa-2048`, `rsa-4096`"""
    common_name: Optional[Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_printable)]] = None
    """subject CN"""
    organization: Optional[Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_printable)]] = None
    """subject O"""
    validity_days: Optional[Annotated[int, Field(ge=1, le=3650)]] = None
    """1-3650"""
    early_renewal_days: Optional[Annotated[int, Field(ge=0)]] = None
    """less than `validityDays`; `pulumi up` replaces the certificate inside this window"""
    active_slot: Optional[CertificateSlot] = None
    """konnect-ecs, manual pinning: the slot (`a` or `b`) whose certificate the data planes present; another slot's certificate only once its fingerprint is in `pinnedSha256`"""
    slot_generations: Optional[dict[CertificateSlot, Annotated[int, Field(ge=1, le=1000000)]]] = None
    """konnect-ecs, manual pinning: a number per slot (a slot not given: 1); raising one makes `pulumi up` replace that slot's key and certificate"""
    pinned_sha256: Optional[list[Sha256]] = None
    """konnect-ecs, manual pinning: SHA-256 fingerprints of the certificates pinned in Konnect (`openssl x509 -noout -fingerprint -sha256`, colons optional); given, `pulumi up` fails rather than let the data planes present a certificate not listed"""

    @model_validator(mode="after")
    def _renewal(self, info: ValidationInfo) -> "CertificateConfig":
        if _partial(info):
            return self
        early, validity = self.effective("early_renewal_days"), self.effective("validity_days")
        if early >= validity:
            raise _Problems([(("earlyRenewalDays",), f"{self._given_or_default('early_renewal_days')}; must be "
                              f"less than certificate.validityDays ({validity})")])
        return self


_SLOT_KEYS = (("activeSlot", "active_slot"), ("slotGenerations", "slot_generations"), ("pinnedSha256", "pinned_sha256"))


def _slot_problems(certificate: Optional[CertificateConfig], why: str,
                   keys: tuple[tuple[str, str], ...] = _SLOT_KEYS) -> list[tuple[tuple, str]]:
    """A problem for each of the certificate slot ``keys`` that is set where it cannot apply."""
    if certificate is None:
        return []
    return [(("certificate", key), f"set; {why}") for key, name in keys if getattr(certificate, name) is not None]


#: The service each mode places in the private subnets of a new VPC, whose refused zones
#: (:data:`components.aws_facts.UNSUPPORTED_ZONE_IDS`) the zone rules leave out. The top-level
#: components pass the same service to :meth:`components.network.Network.args_for_service`
#: (tests/test_network.py checks that they agree).
ZONE_SERVICE_OF_MODE: dict[str, aws_facts.ZoneService] = {"konnect-ecs": "ecs-fargate",
                                                           "hybrid-eks": "eks-control-plane"}
# An AZ ID (use1-az1); Local Zone IDs (usw2-lax1-az1) have this form too and are refused by region.
_ZONE_ID = _regex(r"[a-z]{2,}[0-9]+(?:-[a-z]+[0-9]+)?-az[0-9]+")


class NetworkConfig(_Section):
    """``kong-aws:network``: a new VPC (default) or an existing one.

    New VPC: ``cidrBlock`` (/16 to /24), public and private subnets in ``availabilityZoneCount``
    zones (2-6) or in the zones ``availabilityZoneIds`` names (2-6 distinct AZ IDs, not both), and
    ``egress`` (``natGateways``, its deprecated spelling, is still read: ``per-az`` is
    ``nat-per-az``, ``single`` is ``nat-single``; both set must agree); unset,
    :data:`components.network.NETWORK_DEFAULTS`. For the regions of
    :data:`components.aws_facts.AVAILABILITY_ZONES` the count must not exceed the region's zones
    that the mode's service accepts (:data:`ZONE_SERVICE_OF_MODE`), and each id must be one of
    them; a zone the service refuses is refused in any region. Existing VPC: ``vpcId`` with
    ``privateSubnetIds`` (at least 2, with a route to the internet through NAT) and
    ``publicSubnetIds`` (at least 2; not needed for an internal load balancer); the new-VPC keys
    are refused with it, and of ``egress`` only ``public-ip`` is allowed (the tasks then run in
    ``publicSubnetIds``, at least 2). Mode hybrid-eks refuses ``public-ip``.
    """

    component_defaults: ClassVar = (NETWORK_DEFAULTS,)

    vpc_id: Optional[VpcId] = None
    """use an existing VPC instead"""
    public_subnet_ids: list[SubnetId] = Field(default_factory=list)
    """with `vpcId`: ≥ 2 subnets for an internet-facing NLB"""
    private_subnet_ids: list[SubnetId] = Field(default_factory=list)
    """with `vpcId`: ≥ 2 subnets with outbound internet access (NAT) for the tasks"""
    cidr_block: Optional[str] = None
    """new VPC's IPv4 block, /16 to /24"""
    availability_zone_count: Optional[Annotated[int, Field(ge=2, le=6)]] = None
    """2-6, and at most the region's zones that the mode's service accepts (the first by name); new VPC only"""
    availability_zone_ids: Optional[Annotated[list[str], Field(min_length=2, max_length=6)]] = None
    """instead of `availabilityZoneCount`: 2-6 distinct AZ IDs of the region (`use1-az1`, the same in every account; zone names are not), in subnet order; new VPC only"""
    egress: Optional[Egress] = None
    """how the tasks reach the internet: `nat-per-az`, `nat-single` or `public-ip` (konnect-ecs only: tasks in the public subnets with public IPs, inbound only from the load balancer, no NAT gateway); see Network choices"""
    nat_gateways: Optional[NatGateways] = None
    """deprecated spelling of `egress`: `per-az` (`nat-per-az`) or `single` (`nat-single`)"""

    @field_validator("cidr_block")
    @classmethod
    def _cidr(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        try:
            net = ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            raise ValueError(f"not an IPv4 CIDR block: {exc}") from None
        if not 16 <= net.prefixlen <= 24:
            raise ValueError("the VPC block must be from /16 to /24")
        return str(net)

    @field_validator("availability_zone_ids")
    @classmethod
    def _zone_ids(cls, value: Optional[list[str]]) -> Optional[list[str]]:
        if value is None:
            return None
        names = [z for z in value if not _ZONE_ID.fullmatch(z)]
        if names:
            raise ValueError(f"{', '.join(map(repr, names))}: not an Availability Zone ID such as use1-az1 (AZ IDs "
                             "name the same zone in every account, zone names such as us-east-1a do not)")
        repeated = sorted({z for z in value if value.count(z) > 1})
        if repeated:
            raise ValueError(f"{', '.join(repeated)} given more than once; each zone gets one public and one "
                             "private subnet")
        return value

    @model_validator(mode="after")
    def _existing_or_new(self, info: ValidationInfo) -> "NetworkConfig":
        if _partial(info):
            return self
        problems = []
        if self.existing:
            if len(self.private_subnet_ids) < 2:
                problems.append((("privateSubnetIds",), f"got {_show(self.private_subnet_ids)}; an existing VPC "
                                 "needs at least 2 private subnets in different AZs"))
            for key, name in (("cidrBlock", "cidr_block"), ("availabilityZoneCount", "availability_zone_count"),
                              ("availabilityZoneIds", "availability_zone_ids"), ("natGateways", "nat_gateways")):
                if getattr(self, name) is not None:
                    problems.append(((key,), f"got {_show(getattr(self, name))}; only used for a new VPC, "
                                             "not with network.vpcId (remove one of them)"))
            if self.egress is not None and self.egress is not Egress.PUBLIC_IP:
                problems.append((("egress",), f"got {_show(self.egress)}; an existing VPC's own routes decide NAT "
                                              "egress: give 'public-ip' (tasks in publicSubnetIds) or nothing"))
            if self.egress is Egress.PUBLIC_IP and len(self.public_subnet_ids) < 2:
                problems.append((("publicSubnetIds",), f"got {_show(self.public_subnet_ids)}; egress 'public-ip' "
                                 "puts the tasks in the public subnets: give at least 2"))
        if self.egress is not None and self.nat_gateways is not None and \
                EGRESS_OF_NAT_GATEWAYS[self.nat_gateways] is not self.egress:
            problems.append((("natGateways",), f"got {_show(self.nat_gateways)} with egress {_show(self.egress)}; "
                             "natGateways is the deprecated spelling of egress: remove it"))
        if not self.existing and (self.public_subnet_ids or self.private_subnet_ids):
            problems.append((("vpcId",), "not set, but subnet ids are; give vpcId to use an existing VPC, or "
                                         "no ids to create one"))
        if not self.existing and self.availability_zone_ids is not None and self.availability_zone_count is not None:
            problems.append((("availabilityZoneIds",), f"got {_show(self.availability_zone_ids)} with "
                             f"availabilityZoneCount {self.availability_zone_count}; give one of them (the zones "
                             "are the ids given, or the first zones of the region up to the count)"))
        if problems:
            raise _Problems(problems)
        return self

    @property
    def existing(self) -> bool:
        """True when the stack uses an existing VPC (``vpcId`` set)."""
        return self.vpc_id is not None


class EcsConfig(_Section):
    """``kong-aws:ecs``: the Fargate data plane service.

    ``cpu`` (CPU units) and ``memory`` (MiB) must be a pair Fargate accepts
    (:data:`FARGATE_CPU_MEMORY`); ``desiredCount`` lies between ``minCount`` and ``maxCount``, the
    bounds of CPU target tracking. ``secretsKmsKeyArn``: a customer managed KMS key in the stack's
    region for the certificate secret. Unset fields take
    :data:`components.ecs_task_definition.TASK_DEFINITION_DEFAULTS` and
    :data:`components.ecs_service.SERVICE_DEFAULTS`.
    """

    component_defaults: ClassVar = (TASK_DEFINITION_DEFAULTS, SERVICE_DEFAULTS, ROLLOUT_GATE_DEFAULTS)

    cpu: Optional[int] = None
    """Fargate CPU units: 256, 512, 1024, 2048, 4096, 8192, 16384"""
    memory: Optional[int] = None
    """MiB, a size Fargate accepts with that CPU ([Fargate task sizes](https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size))"""
    cpu_architecture: Optional[CpuArchitecture] = None
    """`X86_64`, `ARM64`"""
    desired_count: Optional[Annotated[int, Field(ge=1, le=1000)]] = None
    """between `minCount` and `maxCount`"""
    min_count: Optional[Annotated[int, Field(ge=1, le=1000)]] = None
    """lowest task count of CPU target tracking (1-1000)"""
    max_count: Optional[Annotated[int, Field(ge=1, le=1000)]] = None
    """highest task count of CPU target tracking (1-1000)"""
    cpu_target_percent: Optional[Annotated[int, Field(ge=10, le=90)]] = None
    """10-90"""
    fargate_spot_percent: Optional[Annotated[int, Field(ge=0, le=100)]] = None
    """0-100 % of tasks on FARGATE_SPOT (the first task always on FARGATE)"""
    log_retention_days: Optional[RetentionDays] = None
    """a CloudWatch Logs retention (1, 3, 5, 7, 14, 30, 60, 90, …, 3653)"""
    stop_timeout_seconds: Optional[Annotated[int, Field(ge=2, le=120)]] = None
    """2-120 (Fargate's maximum)"""
    health_check_grace_period_seconds: Optional[Annotated[int, Field(ge=0, le=2147483647)]] = None
    """seconds ECS ignores load balancer health after a task starts"""
    container_insights: Optional[bool] = None
    """CloudWatch Container Insights on the ECS cluster (per-task metrics; about $12 a month for two tasks, see Network choices); CPU scaling does not need it"""
    secrets_kms_key_arn: Optional[str] = None
    """a customer managed KMS key in the stack's region for the certificate secret"""
    rollout_gate: Optional[RolloutGateMode] = None
    """what `pulumi up` waits for after a deployment: `full` (the new tasks run, and with `konnect.controlPlaneName` they reached Konnect), `ecs` (they run), `off` (nothing; an emergency switch)"""
    rollout_timeout_seconds: Optional[Annotated[int, Field(ge=60, le=7200)]] = None
    """60-7200: how long `pulumi up` waits for that before it fails (and keeps what the deployment replaced)"""

    @field_validator("cpu")
    @classmethod
    def _cpu(cls, value: Optional[int]) -> Optional[int]:
        if value is not None and value not in FARGATE_CPU_MEMORY:
            raise ValueError(f"Fargate CPU units are one of {', '.join(map(str, FARGATE_CPU_MEMORY))}")
        return value

    @field_validator("secrets_kms_key_arn")
    @classmethod
    def _kms(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not _KMS_KEY_ARN.fullmatch(value):
            raise ValueError("not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>)")
        return value

    @model_validator(mode="after")
    def _sizes_and_counts(self, info: ValidationInfo) -> "EcsConfig":
        if _partial(info):
            return self
        problems = []
        cpu, memory = self.effective("cpu"), self.effective("memory")
        allowed = FARGATE_CPU_MEMORY[cpu]
        if memory not in allowed:
            problems.append((("memory",), f"{self._given_or_default('memory')}; with ecs.cpu {cpu} Fargate accepts "
                                          f"memory sizes (MiB) of ({', '.join(map(str, allowed))})"))
        low, desired, high = (self.effective(n) for n in ("min_count", "desired_count", "max_count"))
        if low > high:
            problems.append((("minCount",), f"{self._given_or_default('min_count')}; must not exceed "
                                            f"ecs.maxCount ({high})"))
        elif not low <= desired <= high:
            problems.append((("desiredCount",), f"{self._given_or_default('desired_count')}; must lie between "
                                                f"ecs.minCount ({low}) and ecs.maxCount ({high})"))
        if problems:
            raise _Problems(problems)
        return self

    @property
    def vcpus(self) -> float:
        """The task's vCPUs (``cpu`` / 1024, the default's when unset)."""
        return self.effective("cpu") / 1024


class LoadBalancerConfig(_Section):
    """``kong-aws:loadBalancer``: the Network Load Balancer in front of the data planes.

    ``tlsMode`` ``passthrough`` (TLS on 443 reaches Kong's 8443) or ``terminate`` (the NLB ends TLS
    with ``certificateArn``, an ACM certificate in the stack's region, and ``sslPolicy``, one of
    ELB's predefined policies, :data:`components.aws_facts.NLB_SSL_POLICIES`). ``allowedCidrs``
    may reach ports 80 and 443. Unset fields take
    :data:`components.proxy_load_balancer.LOAD_BALANCER_DEFAULTS`.
    """

    component_defaults: ClassVar = (LOAD_BALANCER_DEFAULTS,)

    internal: Optional[bool] = None
    """an internal NLB in the private subnets"""
    tls_mode: Optional[TlsMode] = None
    """`passthrough` (Kong ends TLS on 8443) or `terminate`"""
    certificate_arn: Optional[str] = None
    """ACM certificate in the stack's region, for `terminate`"""
    ssl_policy: Optional[str] = None
    """for `terminate`: an ELB predefined security policy for NLB TLS listeners (`ELBSecurityPolicy-…`, incl. the FIPS and PQ ones)"""
    allowed_cidrs: Optional[CidrList] = None
    """IPv4 blocks that may reach 80/443; a single address `203.0.113.7` is read as `203.0.113.7/32`"""
    deregistration_delay_seconds: Optional[Annotated[int, Field(ge=0, le=3600)]] = None
    """0-3600"""
    deletion_protection: Optional[bool] = None
    """NLB deletion protection"""
    proxy_protocol: Optional[bool] = None
    """proxy protocol v2 to Kong, so Kong sees client addresses; switching it on a running stack breaks connections until the tasks have rolled (docs/runbooks.md)"""

    @field_validator("certificate_arn")
    @classmethod
    def _arn(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not _ACM_ARN.fullmatch(value):
            raise ValueError("not an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)")
        return value

    @field_validator("ssl_policy")
    @classmethod
    def _ssl_policy(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and value not in aws_facts.NLB_SSL_POLICIES:
            raise ValueError("not an ELB predefined security policy for a Network Load Balancer; one of "
                             + ", ".join(aws_facts.NLB_SSL_POLICIES))
        return value

    @model_validator(mode="after")
    def _tls(self, info: ValidationInfo) -> "LoadBalancerConfig":
        if _partial(info):
            return self
        problems = []
        mode = self.effective("tls_mode")
        if mode == TlsMode.TERMINATE and self.certificate_arn is None:
            problems.append((("certificateArn",), "required, not set (loadBalancer.tlsMode 'terminate' needs an "
                                                  "ACM certificate ARN)"))
        if mode == TlsMode.PASSTHROUGH:
            for key, value in (("certificateArn", self.certificate_arn), ("sslPolicy", self.ssl_policy)):
                if value is not None:
                    problems.append(((key,), f"got {_show(value)}; only used with loadBalancer.tlsMode "
                                             "'terminate' (now 'passthrough')"))
        if problems:
            raise _Problems(problems)
        return self


class EksConfig(_Section):
    """``kong-aws:eks``: the Kubernetes cluster of mode hybrid-eks.

    New cluster (default): EKS Auto Mode at Kubernetes ``version`` (1.29 or later), API endpoint
    private, and public too unless ``endpointPublicAccess`` is false, from ``publicAccessCidrs``.
    Access comes from config only, never from whoever runs Pulumi: ``adminRoleArns`` (required, at
    least one: the role(s) ``pulumi up`` runs as) get cluster admin, ``previewRoleArns`` (the
    role(s) ``pulumi preview`` runs as) read-only access; a role is in one list at most. Existing
    cluster: ``clusterName``, with ``storageClassName`` (a class whose volumes work there) and
    ``loadBalancerClass``; the new-cluster keys are refused with it. Unset fields take
    :data:`components.eks_cluster.EKS_DEFAULTS`.
    """

    component_defaults: ClassVar = (EKS_DEFAULTS,)

    cluster_name: Optional[Annotated[str, Field(min_length=1, max_length=100), _matching(
        _regex(r"[0-9A-Za-z][A-Za-z0-9_-]*"), "an EKS cluster name: letters, digits, '-' and '_', a letter or "
                                             "digit first")]] = None
    """use this existing EKS cluster"""
    version: Optional[str] = None
    """Kubernetes version of a new cluster (1.29 or later, for Auto Mode)"""
    endpoint_public_access: Optional[bool] = None
    """a public API endpoint besides the private one"""
    public_access_cidrs: Optional[CidrList] = None
    """who may reach the public API endpoint; a single address is read as `/32`"""
    admin_role_arns: Optional[list[str]] = None
    """new cluster, required: the IAM roles `pulumi up` runs as (the deploy roles), given cluster admin; nothing is derived from the caller"""
    preview_role_arns: Optional[list[str]] = None
    """new cluster: the IAM roles `pulumi preview` runs as, given read-only access (AmazonEKSAdminViewPolicy)"""
    log_retention_days: Optional[RetentionDays] = None
    """retention of the EKS control plane logs"""
    storage_class_name: Optional[Annotated[str, _matching(
        _regex(r"[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?"), "a Kubernetes object name (lower case, digits, "
                                                          "'-' and '.')")]] = None
    """existing cluster: the storage class for in-cluster PostgreSQL"""
    load_balancer_class: Optional[Annotated[str, _matching(
        _regex(r"(?:[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"),
        "a load balancer class such as service.k8s.aws/nlb")]] = None
    """existing cluster: the proxy Service's load balancer class"""
    metrics_server: Optional[bool] = None
    """install the EKS add-on `metrics-server`, which the data planes' autoscaler needs (default: true for a new cluster, false for an existing one)"""
    container_insights: Optional[bool] = None
    """install the EKS add-on `amazon-cloudwatch-observability` (Container Insights with enhanced observability, container logs off), which the dashboard's pod graphs and the ready-pods alarms read (default: true for a new cluster, false for an existing one, which then also needs the `eks-pod-identity-agent` add-on)"""

    @field_validator("version")
    @classmethod
    def _version(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        match = _regex(r"1\.([0-9]{2})").fullmatch(value)
        if not match or int(match.group(1)) < 29:
            raise ValueError("a Kubernetes minor version such as 1.33 (EKS Auto Mode needs 1.29 or later)")
        return value

    @field_validator("admin_role_arns", "preview_role_arns")
    @classmethod
    def _roles(cls, value: Optional[list[str]]) -> Optional[list[str]]:
        for item in value or ():
            if not _IAM_ROLE_ARN.fullmatch(item):
                hint = " (the role, not an assumed-role session)" if item.startswith("arn:aws") and ":sts:" in item else ""
                raise ValueError(f"{item!r} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>){hint}")
        return value

    @model_validator(mode="after")
    def _existing_or_new(self, info: ValidationInfo) -> "EksConfig":
        if _partial(info):
            return self
        problems = []
        if self.existing:
            for key, name in (("adminRoleArns", "admin_role_arns"), ("previewRoleArns", "preview_role_arns"),
                              ("version", "version"),
                              ("endpointPublicAccess", "endpoint_public_access"),
                              ("publicAccessCidrs", "public_access_cidrs"), ("logRetentionDays", "log_retention_days")):
                if getattr(self, name) is not None:
                    problems.append(((key,), f"got {_show(getattr(self, name))}; only used for a cluster the stack "
                                             "creates (set it on the existing cluster itself)"))
        else:
            for key, value in (("storageClassName", self.storage_class_name),
                               ("loadBalancerClass", self.load_balancer_class)):
                if value is not None:
                    problems.append(((key,), f"got {_show(value)}; only used with an existing cluster "
                                             "(eks.clusterName); a new cluster uses EKS Auto Mode's"))
            # A missing adminRoleArns is a stack-level rule (HybridEksConfig._rules): the section
            # may be absent altogether.
            both = sorted(set(self.admin_role_arns or ()) & set(self.preview_role_arns or ()))
            if both:
                problems.append((("previewRoleArns",), f"{_show(both)} also in adminRoleArns; EKS gives a principal "
                                 "one access entry (an admin can preview already)"))
        if problems:
            raise _Problems(problems)
        return self

    @property
    def existing(self) -> bool:
        """True when the stack uses an existing cluster (``clusterName`` set)."""
        return self.cluster_name is not None


_RELEASE = _matching(_regex(r"[a-z0-9](?:[-a-z0-9]{0,30}[a-z0-9])?"),
                     "a Helm release name: 1-32 lower-case letters, digits and '-', alphanumeric at both ends")


class HybridConfig(_Section):
    """``kong-aws:hybrid``: the self-hosted control plane and data planes (Kong Helm chart).

    ``clusterMtls`` ``pki`` (a CA and a certificate per role) or ``shared`` (one certificate, the
    one kong-aws:clusterCert provides if given); data planes between ``dataPlaneMinReplicas`` and
    ``dataPlaneMaxReplicas`` (above the minimum, a HorizontalPodAutoscaler at
    ``dataPlaneCpuTargetPercent``); the two release names differ. Unset fields take
    :data:`components.kong_hybrid.HYBRID_DEFAULTS`.
    """

    component_defaults: ClassVar = (HYBRID_DEFAULTS,)

    namespace: Optional[Annotated[str, _matching(_regex(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?"),
                                                 "a Kubernetes namespace: 1-63 lower-case letters, digits and "
                                                 "'-', alphanumeric at both ends")]] = None
    """Kubernetes namespace"""
    chart_version: Optional[Annotated[str, _matching(_regex(r"[0-9]+\.[0-9]+\.[0-9]+"),
                                                     "a chart version such as 3.4.1")]] = None
    """version of the `kong` Helm chart"""
    control_plane_release: Optional[Annotated[str, _RELEASE]] = None
    """Helm release name of the control plane"""
    data_plane_release: Optional[Annotated[str, _RELEASE]] = None
    """Helm release name of the data planes (differs from the control plane's)"""
    cluster_mtls: Optional[ClusterMtls] = None
    """`pki` or `shared`"""
    control_plane_replicas: Optional[Annotated[int, Field(ge=1, le=10)]] = None
    """1-10"""
    data_plane_min_replicas: Optional[Annotated[int, Field(ge=1, le=100)]] = None
    """data plane replicas, the HorizontalPodAutoscaler's minimum (1-100)"""
    data_plane_max_replicas: Optional[Annotated[int, Field(ge=1, le=100)]] = None
    """the HorizontalPodAutoscaler's maximum (1-100); equal to the minimum: no autoscaler"""
    data_plane_cpu_target_percent: Optional[Annotated[int, Field(ge=10, le=90)]] = None
    """10-90"""
    proxy_internal: Optional[bool] = None
    """an internal NLB for the proxy"""
    allowed_cidrs: Optional[CidrList] = None
    """who may reach the proxy; a single address is read as `/32`"""
    proxy_protocol: Optional[bool] = None
    """proxy protocol v2 from the proxy NLB to Kong, so Kong sees client addresses (docs/runbooks.md before switching it on a running stack)"""
    admin_rbac: Optional[bool] = None
    """with `enterpriseLicense`, and required then: Kong RBAC on the Admin API and basic-auth on Kong Manager, the super admin's token in the Secret `kong-admin` (docs/runbooks.md, 8, before turning it on for a stack made without it)"""

    @model_validator(mode="after")
    def _replicas_and_releases(self, info: ValidationInfo) -> "HybridConfig":
        if _partial(info):
            return self
        problems = []
        low, high = self.effective("data_plane_min_replicas"), self.effective("data_plane_max_replicas")
        if low > high:
            problems.append((("dataPlaneMinReplicas",), f"{self._given_or_default('data_plane_min_replicas')}; "
                                                        f"must not exceed hybrid.dataPlaneMaxReplicas ({high})"))
        if self.effective("control_plane_release") == self.effective("data_plane_release"):
            problems.append((("dataPlaneRelease",), f"{self._given_or_default('data_plane_release')}; must differ "
                             f"from hybrid.controlPlaneRelease ({self.effective('control_plane_release')!r})"))
        if problems:
            raise _Problems(problems)
        return self


class PostgresConfig(_Section):
    """``kong-aws:postgres``: the control plane's database.

    ``mode`` ``rds`` (Amazon RDS for PostgreSQL in the private subnets) or ``in-cluster`` (a
    StatefulSet of the official ``postgres`` image; for development). ``version``: the PostgreSQL
    release; with RDS its major must be one RDS offers
    (:data:`components.aws_facts.RDS_POSTGRES_MAJOR_VERSIONS`). Unset fields take
    :data:`components.postgres.POSTGRES_DEFAULTS`.
    """

    component_defaults: ClassVar = (POSTGRES_DEFAULTS,)

    mode: Optional[PostgresMode] = None
    """`rds` or `in-cluster`"""
    version: Optional[Annotated[str, _matching(_regex(r"[0-9]{2}\.[0-9]+"),
                                               "a PostgreSQL release such as 17.6")]] = None
    """PostgreSQL release (RDS: a major RDS offers, 11-18; minor upgrades automatic)"""
    instance_class: Optional[Annotated[str, _matching(_regex(r"db\.[a-z0-9]+\.[a-z0-9]+"),
                                                      "an RDS instance class such as db.t4g.medium")]] = None
    """RDS instance class"""
    allocated_storage_gib: Optional[Annotated[int, Field(ge=20, le=65536)]] = Field(None, alias="allocatedStorageGiB")
    """RDS storage (grows automatically)"""
    multi_az: Optional[bool] = None
    """RDS Multi-AZ"""
    backup_retention_days: Optional[Annotated[int, Field(ge=1, le=35)]] = None
    """1-35"""
    deletion_protection: Optional[bool] = None
    """RDS deletion protection"""
    apply_immediately: Optional[bool] = None
    """RDS: apply changes such as a new instance class, Multi-AZ or engine version at once, not in the weekly maintenance window"""
    storage_gib: Optional[Annotated[int, Field(ge=1, le=16384)]] = Field(None, alias="storageGiB")
    """in-cluster volume size"""
    log_retention_days: Optional[RetentionDays] = None
    """RDS: retention of the `postgresql` log group the stack creates"""
    source_security_group_ids: Optional[list[SecurityGroupId]] = None
    """RDS: more security groups admitted on 5432 besides the cluster security group (an existing cluster whose nodes use other groups)"""

    @model_validator(mode="after")
    def _rds_version(self, info: ValidationInfo) -> "PostgresConfig":
        if _partial(info):
            return self
        majors = aws_facts.RDS_POSTGRES_MAJOR_VERSIONS
        if self.effective("mode") == PostgresMode.RDS and int(self.major_version) not in majors:
            raise _Problems([(("version",), f"{self._given_or_default('version')}; RDS for PostgreSQL offers major "
                              f"versions {', '.join(map(str, majors))} (RDS release calendar, "
                              "components/aws_facts.py)")])
        return self

    @property
    def major_version(self) -> str:
        """The major version (``17`` for ``17.6``) of ``version`` or the default's."""
        return self.effective("version").split(".")[0]


class ProvidedCertificate(_Model):
    """A cluster certificate and key given as config (``kong-aws:clusterCert`` and, as a secret,
    ``kong-aws:clusterCertKey``), as the Konnect UI's "Generate certificate" produces them."""

    cert_pem: str
    key_pem: SecretStr


# ---------------------------------------------------------------------------------------------
# Top-level secret values

def _certificate_problems(text: str) -> list[str]:
    """What is wrong with ``text`` as the one cluster certificate; never quotes it."""
    if "PRIVATE KEY-----" in text:
        return ["holds a private key (a PRIVATE KEY block); give the certificate here and its key in "
                f"{NAMESPACE}:clusterCertKey, set with --secret"]
    blocks = re.findall(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", text, re.S)
    if not blocks:
        return ["not a PEM certificate (no complete -----BEGIN CERTIFICATE----- … -----END CERTIFICATE----- block)"]
    if len(blocks) > 1 or text.count("-----BEGIN ") > 1:
        return [f"holds {text.count('-----BEGIN ')} PEM blocks; give exactly one certificate (the data plane's), "
                "without a chain"]
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(blocks[0].encode())
    except ValueError:
        return ["the CERTIFICATE block is not an X.509 certificate (truncated or damaged?)"]
    expiry = cert.not_valid_after_utc
    if expiry <= datetime.datetime.now(datetime.timezone.utc):
        return [f"expired on {expiry:%Y-%m-%d}; generate a new certificate"]
    return []


def _load_key(text: str):
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    if not re.search(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.+?-----END [A-Z ]*PRIVATE KEY-----", text, re.S):
        return None, "not a PEM private key (-----BEGIN PRIVATE KEY-----)"
    try:
        return serialization.load_pem_private_key(text.encode(), password=None), None
    except TypeError:
        return None, "an encrypted private key; give it without a passphrase (openssl pkey -in key.pem)"
    except (ValueError, UnsupportedAlgorithm):
        return None, "the PRIVATE KEY block is not a private key (truncated or damaged?)"


def _cluster_cert(value: str) -> str:
    if value != OFFLINE_SECRET_PLACEHOLDER:
        problems = _certificate_problems(value)
        if problems:
            raise _Problems([((), p) for p in problems])
    return value


def _cluster_cert_key(value: SecretStr, info: ValidationInfo) -> SecretStr:
    problems = _check_secret("clusterCertKey", info, "a private key must be set with "
                                                     f"`pulumi config set --secret {NAMESPACE}:clusterCertKey`")
    text = value.get_secret_value()
    if text != OFFLINE_SECRET_PLACEHOLDER:
        _, problem = _load_key(text)
        if problem:
            problems.append(((), problem))
    if problems:
        raise _Problems(problems)
    return value


def _konnect_token(value: SecretStr, info: ValidationInfo) -> SecretStr:
    # The token's value is never echoed in an error.
    problems = _check_secret("konnectToken", info, f"set it with `pulumi config set --secret {NAMESPACE}:konnectToken`")
    text = value.get_secret_value()
    if text != OFFLINE_SECRET_PLACEHOLDER and not _TOKEN.fullmatch(text):
        problems.append(((), "not a Konnect access token (a personal token starts with kpat_, a system account "
                             "token with spat_)"))
    if problems:
        raise _Problems(problems)
    return value


def _enterprise_license(value: SecretStr, info: ValidationInfo) -> SecretStr:
    problems = _check_secret("enterpriseLicense", info, "set it with `pulumi config set --secret "
                                                        f"{NAMESPACE}:enterpriseLicense -- \"$(cat license.json)\"`")
    text = value.get_secret_value()
    if text != OFFLINE_SECRET_PLACEHOLDER:
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict) or not isinstance(parsed.get("license"), dict):
            problems.append(((), "not a Kong license file (JSON with a \"license\" object)"))
    if problems:
        raise _Problems(problems)
    return value


def _zone_rules(network: NetworkConfig, region: Optional[str],
                service: Optional[aws_facts.ZoneService]) -> list[tuple[tuple, str]]:
    """The zones of a new VPC against the region's zones and those ``service`` refuses."""
    refused = aws_facts.UNSUPPORTED_ZONE_IDS[service] if service else frozenset()
    who = aws_facts.ZONE_SERVICE_NAMES[service] if service else ""
    zones = aws_facts.AVAILABILITY_ZONES.get(region or "")
    ids = network.availability_zone_ids
    if ids is not None:
        known = {zid for _, zid in zones} if zones is not None else None
        lines = [f"{zid} is not an Availability Zone of region {region} (its AZ IDs: "
                 f"{', '.join(sorted(known))})" for zid in ids if known is not None and zid not in known]
        lines += [f"{zid} is a zone {who} does not run in (components/aws_facts.py UNSUPPORTED_ZONE_IDS)"
                  for zid in ids if zid in refused]
        return [(("network", "availabilityZoneIds"), f"got {_show(ids)}; " + "; ".join(lines))] if lines else []
    if zones is None:
        return []
    count = network.effective("availability_zone_count")
    usable = [(name, zid) for name, zid in zones if zid not in refused]
    if count <= len(usable):
        return []
    text = (f"{network._given_or_default('availability_zone_count')}; region {region} offers {len(zones)} "
            f"Availability Zones ({', '.join(name for name, _ in zones)})")
    if len(usable) < len(zones):
        text += (f", {len(usable)} of them usable by {who} (not "
                 f"{', '.join(zid for _, zid in zones if zid in refused)})")
    return [(("network", "availabilityZoneCount"), text)]


# ---------------------------------------------------------------------------------------------
# Gateway configuration and monitoring (both modes)



class GatewayConfig(_Section):
    """``kong-aws:gateway``: the gateway configuration (services, routes, plugins ...) the stack
    applies, as one decK file (``_format_version: "3.0"``).

    ``configFile`` is a path relative to the project directory. The file is read and validated with
    the rest of the config (:func:`components.gateway_config.load_gateway_file`): its problems are
    reported under ``kong-aws:gateway.configFile`` with the entity's position and line. Secrets in it
    are ``${{ env "DECK_NAME" }}`` with ``kong-aws:gatewaySecrets.DECK_NAME`` set, or vault references.
    """

    config_file: Optional[Annotated[str, Field(min_length=1, max_length=1024), AfterValidator(_printable)]] = None
    """none (the gateway answers 404 until configured): a decK file (`_format_version: "3.0"`), path relative to the project; applied through the Konnect API (konnect-ecs with `konnect.controlPlaneName`), a decK Job in the cluster (hybrid-eks), or validated only (manual Konnect endpoints: apply it with decK, README)"""


def _gateway_secrets(value: Any) -> Any:
    if isinstance(value, str) and value != OFFLINE_SECRET_PLACEHOLDER:
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError("expected an object of DECK_ names to values (set each with `pulumi config set "
                             f"--secret --path '{NAMESPACE}:gatewaySecrets.DECK_NAME' ...`)") from None
    if not isinstance(value, Mapping):
        raise ValueError("expected an object of DECK_ names to values (set each with `pulumi config set "
                         f"--secret --path '{NAMESPACE}:gatewaySecrets.DECK_NAME' ...`)")
    bad = [str(k) for k in value if not DECK_NAME.fullmatch(str(k))]
    if bad:
        # Names only: never a value.
        raise ValueError(f"names {', '.join(map(repr, bad))} are not DECK_ names; decK substitutes only "
                         "environment variables named DECK_ followed by upper-case letters, digits and _")
    settings = [str(k) for k in value if is_deck_setting(str(k))]
    if settings:
        raise ValueError(f"names {', '.join(map(repr, settings))} are decK's own settings (it reads DECK_<FLAG> as "
                         "its flags); name the secrets otherwise, e.g. DECK_PARTNER_KEY")
    if any(not isinstance(v, (str, int, float)) or isinstance(v, bool) for v in value.values()):
        raise ValueError("each value is text")
    return {str(k): str(v) for k, v in value.items()}


def _gateway_secrets_secret(value: dict, info: ValidationInfo) -> dict:
    problems = _check_secret("gatewaySecrets", info, "set each value with `pulumi config set --secret --path "
                                                     f"'{NAMESPACE}:gatewaySecrets.DECK_NAME' ...`")
    if problems:
        raise _Problems(problems)
    return value


#: An e-mail address for alarm notifications (SNS's email protocol); the address confirms the
#: subscription from the message SNS sends it.
_EMAIL = _regex(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")
_SNS_TOPIC_ARN = _regex(r"arn:aws[a-z-]*:sns:([a-z0-9-]+):[0-9]{12}:[A-Za-z0-9_-]{1,256}(?:\.fifo)?")
Email = Annotated[str, Field(max_length=254), _matching(_EMAIL, "not an e-mail address such as ops@example.com")]


class MonitoringConfig(_Section):
    """``kong-aws:monitoring``: the CloudWatch dashboard and alarms every stack has
    (:class:`components.monitoring.GatewayMonitoring`).

    Alarms notify ``alarmEmails`` through an SNS topic the stack makes, or ``alarmTopicArn`` (a
    topic of the stack's region); with neither they only show in the console. Unset fields take
    :data:`components.monitoring.MONITORING_DEFAULTS`.
    """

    component_defaults: ClassVar = (MONITORING_DEFAULTS,)

    alarm_emails: Optional[Annotated[list[Email], Field(max_length=10)]] = None
    """none: e-mail addresses subscribed to the alarm topic the stack makes (each confirms by e-mail)"""
    alarm_topic_arn: Optional[Annotated[str, _matching(_SNS_TOPIC_ARN, "not an SNS topic ARN "
                                                       "(arn:aws:sns:us-west-2:123456789012:alerts)")]] = None
    """none: an existing SNS topic (same region) the alarms notify instead of one made by the stack"""
    evaluation_minutes: Optional[Annotated[int, Field(ge=1, le=60)]] = None
    """minutes a condition must hold before its alarm fires: fewer running tasks or ready pods than desired, the 5xx rate (the no-healthy-target alarm fires after 2)"""
    error_rate_percent: Optional[Annotated[float, Field(gt=0, lt=100)]] = None
    """share of Kong's responses with status 5xx, in percent, that fires the 5xx alarm (needs Kong's prometheus plugin in the gateway file)"""
    free_storage_percent: Optional[Annotated[float, Field(gt=0, lt=100)]] = None
    """RDS free storage, in percent of the allocated storage, below which its alarm fires (postgres.mode rds)"""


# ---------------------------------------------------------------------------------------------
# The two modes

class _Stack(_Model):
    """What both modes have. ``aws:region`` is the field ``region``; the other keys are the
    ``kong-aws:`` keys without the namespace."""

    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=_camel)

    region: Region = Field(alias="aws:region")
    kong: KongConfig
    certificate: CertificateConfig = Field(default_factory=CertificateConfig)
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    cluster_cert: Optional[Annotated[str, AfterValidator(_cluster_cert)]] = None
    cluster_cert_key: Optional[Annotated[SecretStr, AfterValidator(_cluster_cert_key)]] = None
    gateway: GatewayConfig = Field(default_factory=GatewayConfig)
    gateway_secrets: Optional[Annotated[dict[str, SecretStr], BeforeValidator(_gateway_secrets),
                                        AfterValidator(_gateway_secrets_secret)]] = None
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)

    @property
    def gateway_file(self) -> Any:
        """The validated gateway file (:class:`components.gateway_config.GatewayFile`) named by
        ``gateway.configFile``, or None when none is."""
        if self.gateway.config_file is None:
            return None
        return _gateway_file(self.gateway.config_file, frozenset(self.gateway_secrets or ()))

    @property
    def provided_certificate(self) -> Optional[ProvidedCertificate]:
        """``clusterCert`` and ``clusterCertKey`` when given (both or neither), else None."""
        if self.cluster_cert is None or self.cluster_cert_key is None:
            return None
        return ProvidedCertificate(cert_pem=self.cluster_cert, key_pem=self.cluster_cert_key)

    # The rules across sections. They run on the validated model, and also when some fields failed,
    # on those that validate alone, so every problem is reported at once.

    @model_validator(mode="wrap")
    @classmethod
    def _across_sections(cls, data: Any, handler, info: ValidationInfo) -> Any:
        if not isinstance(data, Mapping):
            return handler(data)
        try:
            model = handler(data)
        except ValidationError as error:
            view = cls._fields_that_validate(data, info)
            raise _Problems(cls._rules(view, set(data), _context(info)), inner=error) from None
        problems = cls._rules(model, set(data), _context(info))
        if problems:
            raise _Problems(problems)
        return cls._complete(model, _context(info))

    @classmethod
    def _fields_that_validate(cls, data: Mapping, info: ValidationInfo) -> SimpleNamespace:
        context = {**_context(info), "partial": True}
        values = {}
        for name, field in cls.model_fields.items():
            key = field.alias or name
            if key in data:
                try:
                    values[name] = _field_adapter(cls, name).validate_python(data[key], context=context)
                except ValidationError:
                    values[name] = None
            else:
                values[name] = None if field.is_required() else field.get_default(call_default_factory=True)
        return SimpleNamespace(**values)

    @classmethod
    def _rules(cls, view: Any, given: set[str], context: Mapping[str, Any]) -> list[tuple[tuple, str]]:
        problems: list[tuple[tuple, str]] = []
        region, network, kong = view.region, view.network, view.kong
        secret = kong.docker_hub_credentials_secret_arn if kong is not None else None
        if region and secret and image_source.parse_credentials_arn(secret).region != region:
            problems.append((("kong", "dockerHubCredentialsSecretArn"), f"got {_show(secret)}; a pull through "
                             f"cache rule in {region} needs a secret of its own Region "
                             "(pull-through-cache-creating-rule.html)"))
        if network is not None and not network.existing:
            problems += _zone_rules(network, region, ZONE_SERVICE_OF_MODE.get(getattr(view, "mode", None) or ""))
        if network is not None and network.egress is Egress.PUBLIC_IP and getattr(view, "mode", None) == "hybrid-eks":
            problems.append((("network", "egress"), "got 'public-ip'; EKS Auto Mode nodes run in the private "
                             "subnets and reach the internet only through NAT: give 'nat-per-az' or 'nat-single'"))
        if network is not None and network.existing and len(network.public_subnet_ids) < 2 and \
                cls._proxy_is_public(view):
            problems.append((("network", "publicSubnetIds"), f"got {_show(network.public_subnet_ids)}; an "
                             "internet-facing load balancer needs at least 2 public subnets"))
        cert_given, key_given = "clusterCert" in given, "clusterCertKey" in given
        if cert_given != key_given:
            missing = "clusterCertKey" if cert_given else "clusterCert"
            problems.append(((missing,), "required when the other of clusterCert/clusterCertKey is set (give "
                                         "both, or neither to generate a certificate)"))
        elif view.cluster_cert is not None and view.cluster_cert_key is not None:
            problems += _certificate_and_key_match(view.cluster_cert, view.cluster_cert_key.get_secret_value())
        problems += _gateway_rules(view, given) + _monitoring_rules(view)
        return problems

    @classmethod
    def _proxy_is_public(cls, view: Any) -> bool:
        """Whether the mode's proxy load balancer is internet-facing (then an existing VPC needs
        public subnets). Each mode answers from its own section; unknown counts as public, the
        stricter check."""
        return True

    @classmethod
    def _complete(cls, model: Any, context: Mapping[str, Any]) -> Any:
        return model


def _monitoring_rules(view: Any) -> list[tuple[tuple, str]]:
    monitoring, problems = view.monitoring, []
    if monitoring is None:
        return []
    if monitoring.alarm_emails and monitoring.alarm_topic_arn is not None:
        problems.append((("monitoring", "alarmTopicArn"), f"got {_show(monitoring.alarm_topic_arn)} with "
                         "monitoring.alarmEmails; give one: the stack's own topic for the addresses, or your topic"))
    topic = _SNS_TOPIC_ARN.fullmatch(monitoring.alarm_topic_arn or "")
    if topic and view.region and topic.group(1) != view.region:
        problems.append((("monitoring", "alarmTopicArn"), f"got {_show(monitoring.alarm_topic_arn)}; CloudWatch "
                         f"alarms notify topics of their own region {view.region}"))
    return problems


def _gateway_rules(view: Any, given: set[str]) -> list[tuple[tuple, str]]:
    gateway = view.gateway
    config_file = gateway.config_file if gateway is not None else None
    if config_file is None:
        if "gatewaySecrets" in given:
            return [(("gatewaySecrets",), f"set, but {NAMESPACE}:gateway.configFile is not; the secrets are "
                                          "substituted into the gateway file")]
        return []
    secrets_unknown = "gatewaySecrets" in given and view.gateway_secrets is None  # reported already
    try:
        _gateway_file(config_file, frozenset(view.gateway_secrets or ()))
    except GatewayFileError as error:
        return [(("gateway", "configFile"), line) for line in error.lines
                if not (secrets_unknown and f"{NAMESPACE}:gatewaySecrets." in line)]
    return []


@functools.lru_cache(maxsize=8)
def _load_gateway_file(path: str, secret_names: frozenset[str], stamp: tuple) -> Any:
    return load_gateway_file(path, root=PROJECT_DIR, secret_names=secret_names)


def _gateway_file(path: str, secret_names: frozenset[str] = frozenset()) -> Any:
    """The gateway file ``path`` (relative to the project directory) as
    :func:`components.gateway_config.load_gateway_file` loads it, read once per content. Raises
    :class:`GatewayFileError` with every problem; an unexpected failure of the loader becomes one
    such problem too, so bad input is never a traceback."""
    full = PROJECT_DIR / path
    try:
        info = full.stat()
        stamp: tuple = (info.st_mtime_ns, info.st_size)
    except OSError:
        stamp = ()
    try:
        return _load_gateway_file(path, secret_names, stamp)
    except GatewayFileError:
        raise
    except Exception as error:  # noqa: BLE001 - a loader defect must still name the key, not crash
        raise GatewayFileError([f"{path}: could not be checked ({type(error).__name__}: {error}); this is a "
                                "defect of kong-aws, please report it with the file"]) from None


@functools.cache
def _field_adapter(model: type[BaseModel], name: str) -> TypeAdapter:
    field = model.model_fields[name]
    annotation: Any = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
    return TypeAdapter(annotation)


def _certificate_and_key_match(cert_text: str, key_text: str) -> list[tuple[tuple, str]]:
    if OFFLINE_SECRET_PLACEHOLDER in (cert_text, key_text):
        return []
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    key, problem = _load_key(key_text)
    blocks = re.findall(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", cert_text, re.S)
    if problem or not blocks:
        return []  # already reported
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    cert = x509.load_pem_x509_certificate(blocks[0].encode())
    if cert.public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
        return [(("clusterCertKey",), f"not the private key of {NAMESPACE}:clusterCert (their public keys differ)")]
    return []


class KonnectEcsConfig(_Stack):
    """Mode ``konnect-ecs``: Kong data planes on ECS Fargate joined to a Kong Konnect control plane.

    ``konnect_token`` is the access token of a managed control plane (``kong-aws:konnectToken``, or
    the ``KONNECT_TOKEN`` environment variable given to :func:`load_stack_config`), None otherwise.
    """

    mode: Literal["konnect-ecs"] = "konnect-ecs"
    konnect: KonnectConfig
    ecs: EcsConfig = Field(default_factory=EcsConfig)
    load_balancer: LoadBalancerConfig = Field(default_factory=LoadBalancerConfig)
    konnect_token: Optional[Annotated[SecretStr, AfterValidator(_konnect_token)]] = None

    @classmethod
    def _proxy_is_public(cls, view: Any) -> bool:
        return view.load_balancer is None or not view.load_balancer.effective("internal")

    @classmethod
    def _rules(cls, view: Any, given: set[str], context: Mapping[str, Any]) -> list[tuple[tuple, str]]:
        problems = super()._rules(view, given, context)
        region, konnect, ecs, lb = view.region, view.konnect, view.ecs, view.load_balancer
        kms = _KMS_KEY_ARN.fullmatch(ecs.secrets_kms_key_arn or "") if ecs is not None else None
        if region and kms and kms.group(1) != region:
            problems.append((("ecs", "secretsKmsKeyArn"), f"got {_show(ecs.secrets_kms_key_arn)}; the key must be "
                                                          f"in the stack's region {region}"))
        if ecs is not None and lb is not None and ecs.effective("fargate_spot_percent") > 0:
            # A Spot task gets its interruption notice two minutes before it is stopped; ECS drains
            # it from the target groups (deregistration delay), then stops it (stop timeout).
            drain, stop = lb.effective("deregistration_delay_seconds"), ecs.effective("stop_timeout_seconds")
            if drain + stop > FARGATE_SPOT_NOTICE_SECONDS:
                problems.append((("loadBalancer", "deregistrationDelaySeconds"),
                                 f"got {drain}; with ecs.fargateSpotPercent above 0 it and ecs.stopTimeoutSeconds "
                                 f"({stop}) must fit in the {FARGATE_SPOT_NOTICE_SECONDS} s Fargate Spot gives from "
                                 "its interruption notice, or Spot tasks are stopped with requests in flight"))
        acm = _ACM_ARN.fullmatch(lb.certificate_arn or "") if lb is not None else None
        if region and acm and acm.group(1) != region:
            problems.append((("loadBalancer", "certificateArn"), f"got {_show(lb.certificate_arn)}; an NLB uses ACM "
                                                                 f"certificates of its own region {region}"))
        if konnect is not None:
            if "konnectToken" in given and not konnect.managed:
                problems.append((("konnectToken",), f"set, but {NAMESPACE}:konnect.controlPlaneName is not; give "
                                                    "the control plane name to manage it through the Konnect API"))
            if konnect.managed and "konnectToken" not in given:
                env_token = context.get("env_token")
                if not env_token:
                    problems.append((("konnectToken",), "required with konnect.controlPlaneName, not set (set it "
                                                        f"with --secret, or export {TOKEN_ENV})"))
                elif env_token != OFFLINE_SECRET_PLACEHOLDER and not _TOKEN.fullmatch(env_token):
                    problems.append((("konnectToken",), "not a Konnect access token (a personal token starts with "
                                                        f"kpat_, a system account token with spat_); read from {TOKEN_ENV}"))
            if konnect.managed:
                problems += _slot_problems(view.certificate, "the stack pins its certificate through the Konnect "
                                           "API (konnect.controlPlaneName); certificate slots are for manual pinning")
            elif "clusterCert" in given:
                problems += _slot_problems(view.certificate, f"{NAMESPACE}:clusterCert is given and the data planes "
                                           "present it; slots hold generated certificates", _SLOT_KEYS[:2])
        return problems

    @classmethod
    def _complete(cls, model: Any, context: Mapping[str, Any]) -> Any:
        if model.konnect.managed and model.konnect_token is None:
            return model.model_copy(update={"konnect_token": SecretStr(context["env_token"])})
        return model


class HybridEksConfig(_Stack):
    """Mode ``hybrid-eks``: a self-hosted control plane with PostgreSQL and data planes on EKS.

    ``enterprise_license`` is the Kong Enterprise license (a secret), None for free mode.
    """

    mode: Literal["hybrid-eks"]
    eks: EksConfig = Field(default_factory=EksConfig)
    hybrid: HybridConfig = Field(default_factory=HybridConfig)
    postgres: PostgresConfig = Field(default_factory=lambda: PostgresConfig.model_validate({}))
    enterprise_license: Optional[Annotated[SecretStr, AfterValidator(_enterprise_license)]] = None

    @classmethod
    def _proxy_is_public(cls, view: Any) -> bool:
        return view.hybrid is None or not view.hybrid.effective("proxy_internal")

    @classmethod
    def _rules(cls, view: Any, given: set[str], context: Mapping[str, Any]) -> list[tuple[tuple, str]]:
        problems = super()._rules(view, given, context)
        eks, hybrid, postgres = view.eks, view.hybrid, view.postgres
        problems += _slot_problems(view.certificate, "only mode konnect-ecs with manual pinning uses it")
        if "clusterCert" in given and hybrid is not None and hybrid.effective("cluster_mtls") != ClusterMtls.SHARED:
            problems.append((("clusterCert",), f"set, but hybrid.clusterMtls is {hybrid._given_or_default('cluster_mtls')}; "
                                               "a provided certificate is used as the one shared certificate (set "
                                               "hybrid.clusterMtls to 'shared')"))
        if eks is not None and not eks.existing and not eks.admin_role_arns:
            found = "not set" if eks.admin_role_arns is None else "got []"
            problems.append((("eks", "adminRoleArns"), f"{found}; a new cluster needs at least one admin role, the "
                             "IAM role(s) `pulumi up` runs as, e.g. [\"arn:aws:iam::123456789012:role/kong-aws-deploy\"] "
                             "(nothing is derived from whoever runs Pulumi, so that a preview or another engineer's "
                             "`up` cannot change who is admin)"))
        if view.enterprise_license is not None and hybrid is not None and hybrid.admin_rbac is None:
            problems.append((("hybrid", "adminRbac"), "not set, with enterpriseLicense; say true (Kong RBAC on the "
                             "Admin API, for a stack whose database is new) or false: a database bootstrapped "
                             "without RBAC has no super admin, and turning RBAC on would lock everyone out of the "
                             "Admin API (docs/runbooks.md, 8)"))
        labels = view.kong.data_plane_labels if view.kong is not None else None
        if labels:
            problems.append((("kong", "dataPlaneLabels"), f"got {_show(dict(labels))}; cluster_dp_labels \"are only "
                             "compatible with hybrid mode deployments with Kong Konnect\" and do not work with a "
                             "self-hosted control plane (Kong Gateway 3.9's configuration reference): remove them in mode "
                             "hybrid-eks"))
        if eks is not None and eks.existing and "network" in given:
            problems.append((("network",), f"set with eks.clusterName {_show(eks.cluster_name)}; an existing cluster "
                             "supplies the network (its VPC, subnets and security group), and the stack creates no "
                             "VPC: remove kong-aws:network (postgres.sourceSecurityGroupIds admits other node groups)"))
        if eks is not None and eks.existing and eks.storage_class_name is None and postgres is not None and \
                postgres.effective("mode") == PostgresMode.IN_CLUSTER:
            problems.append((("eks", "storageClassName"), "required with eks.clusterName and postgres.mode "
                                                          "'in-cluster' (a storage class whose volumes work in that "
                                                          "cluster)"))
        return problems


def _mode_of(data: Any) -> str:
    """The mode whose model validates ``data``. An unknown mode is validated against the mode whose
    sections are given (its ``mode`` field then reports the unknown value), so every other
    problem is reported too."""
    if isinstance(data, BaseModel):
        return getattr(data, "mode", DEFAULT_MODE)
    mode = data.get("mode", DEFAULT_MODE) if isinstance(data, Mapping) else DEFAULT_MODE
    if mode in MODES:
        return mode
    hybrid_keys = _MODE_KEYS["hybrid-eks"] & set(data)
    return "hybrid-eks" if hybrid_keys and not _MODE_KEYS["konnect-ecs"] & set(data) else DEFAULT_MODE


#: The validated stack configuration: the model of the stack's mode.
StackConfig = Annotated[Union[Annotated[KonnectEcsConfig, Tag("konnect-ecs")],
                              Annotated[HybridEksConfig, Tag("hybrid-eks")]], Discriminator(_mode_of)]
_MODELS: dict[str, type[_Stack]] = {"konnect-ecs": KonnectEcsConfig, "hybrid-eks": HybridEksConfig}


def _keys(model: type[_Stack]) -> frozenset[str]:
    return frozenset(f.alias or n for n, f in model.model_fields.items()) - {"aws:region"}


_COMMON_KEYS = _keys(_Stack)
#: Keys (without the namespace) that only one mode reads; giving one in the other mode is an error.
_MODE_KEYS = {mode: _keys(model) - _COMMON_KEYS - {"mode"} for mode, model in _MODELS.items()}
_SECTIONS: dict[str, type[_Section]] = {
    (f.alias or n): f.annotation for model in _MODELS.values() for n, f in model.model_fields.items()
    if isinstance(f.annotation, type) and issubclass(f.annotation, _Section)}
_SECRET_KEYS = ("clusterCert", "clusterCertKey", "konnectToken", "enterpriseLicense", "gatewaySecrets")
#: Every key of the ``kong-aws:`` namespace, without it.
KNOWN_KEYS = _keys(KonnectEcsConfig) | _keys(HybridEksConfig)
#: Top-level keys that are not sections: (default, description) for the configuration reference.
TOP_LEVEL_KEYS = {
    "clusterCert": ("none", "your own cluster certificate (PEM, exactly one certificate, not expired), with "
                            "`clusterCertKey`: Konnect's generated certificate (konnect-ecs) or the shared "
                            "certificate (hybrid-eks, `hybrid.clusterMtls` `shared`)"),
    "clusterCertKey": ("none", "its private key (PEM, unencrypted, matching the certificate); must be set with "
                               "`--secret`"),
    "konnectToken": ("`KONNECT_TOKEN`", "Konnect personal (`kpat_`) or system account (`spat_`) token for "
                                        "`konnect.controlPlaneName`; must be set with `--secret`"),
    "gatewaySecrets": ("none", "values the gateway file reads as `${{ env \"DECK_NAME\" }}`, by DECK_ name "
                               "(plugin credentials, consumer keys); must be set with `--secret --path`"),
    "enterpriseLicense": ("none (free mode)", "Kong Enterprise license JSON (hybrid-eks); must be set with "
                                              "`--secret`"),
}
_ADAPTER: TypeAdapter = TypeAdapter(StackConfig)


# ---------------------------------------------------------------------------------------------
# Error lines

def _key_path(loc: tuple) -> str:
    if not loc:
        return NAMESPACE
    if loc[0] == "aws:region":
        return "aws:region"
    path = f"{NAMESPACE}:{loc[0]}"
    for part in loc[1:]:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


_REQUIRED_HINTS: dict[tuple, str] = {
    ("aws:region",): "required, not set (the AWS region to deploy to, e.g. us-west-2)",
    ("konnect",): "required in mode konnect-ecs, not set (give controlPlaneEndpoint and telemetryEndpoint as "
                  "Konnect shows them, or controlPlaneName and an access token)",
}


def _problem_lines(error: ValidationError, mode: Any, prefix: tuple = ()) -> list[str]:
    lines: list[str] = []
    for item in error.errors(include_url=False):
        loc = tuple(p for p in item["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        if not prefix and loc and loc[0] in MODES:
            loc = loc[1:]
        loc = prefix + loc
        found = (item.get("ctx") or {}).get("error")
        if isinstance(found, _Problems):
            if found.inner is not None:
                lines += _problem_lines(found.inner, mode, loc)
            lines += [f"{_key_path(loc + path)}: {text}" for path, text in found.problems]
            continue
        message = item["msg"].removeprefix("Value error, ")
        key = _key_path(loc)
        if loc == ("mode",):
            lines.append(f"{key}: got {_show(item['input'])}; allowed: {', '.join(MODES)}")
        elif item["type"] == "missing":
            lines.append(f"{key}: {_REQUIRED_HINTS.get(loc, 'required, not set')}")
        elif item["type"] == "extra_forbidden" and len(loc) == 1:
            other = next((m for m, keys in _MODE_KEYS.items() if loc[0] in keys), None)
            if other is not None and other != mode:
                lines.append(f"{key}: set, but only mode {other} uses it (mode is {mode}); remove it")
            else:
                lines.append(f"{key}: unknown key (known keys: {', '.join(sorted(KNOWN_KEYS))})")
        elif item["type"] == "extra_forbidden":
            section = _SECTIONS.get(str(loc[0]))
            allowed = sorted(f.alias or n for n, f in section.model_fields.items()) if section else []
            near = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            hint = f"; did you mean {near[0]}?" if near else ""
            lines.append(f"{key}: unknown key (value {_show(item['input'])}){hint} "
                         f"Known keys of {_key_path(loc[:-1])}: {', '.join(allowed)}")
        elif loc and loc[0] in _SECRET_KEYS:
            lines.append(f"{key}: {message}")  # never the value
        else:
            lines.append(f"{key}: got {_show(item['input'])}; {message}")
    return lines


# ---------------------------------------------------------------------------------------------
# Entry points

def load_stack_config(raw: Mapping[str, str], secret_keys: frozenset[str] | set[str] = frozenset(),
                      region: Optional[str] = None,
                      env_token: Optional[str] = None) -> Union[KonnectEcsConfig, HybridEksConfig]:
    """Validate raw stack config and return the model of its mode.

    ``raw`` maps keys without the namespace (``mode``, ``ecs`` ...) to their values as Pulumi hands
    them over (text; objects as JSON text). ``secret_keys`` names those set with ``--secret``.
    ``region`` is ``aws:region`` (required); ``env_token`` the ``KONNECT_TOKEN`` environment
    variable, used when ``konnectToken`` is not set and the control plane is managed.

    Returns a :class:`KonnectEcsConfig` or a :class:`HybridEksConfig`. Raises
    :class:`ConfigError` listing every problem found: unknown keys, values of the wrong type or out
    of range, missing required keys, and combinations that cannot work together.
    """
    data: dict[str, Any] = dict(raw)
    if region:
        data["aws:region"] = region
    context = {"secret_keys": frozenset(secret_keys), "env_token": env_token or None}
    try:
        return _ADAPTER.validate_python(data, context=context)
    except ValidationError as error:
        lines = _problem_lines(error, raw.get("mode", DEFAULT_MODE))
        raise ConfigError(list(dict.fromkeys(lines))) from None


def from_pulumi() -> Union[KonnectEcsConfig, HybridEksConfig]:
    """Read the running stack's ``kong-aws:*`` and ``aws:region`` config and validate it.

    Reads what the Pulumi language host set (and the ``PULUMI_CONFIG`` environment the CLI passes).
    Raises :class:`ConfigError` as :func:`load_stack_config` does.
    """
    import os

    from pulumi.runtime import config as runtime_config

    all_config = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    prefix = f"{NAMESPACE}:"
    raw = {k[len(prefix):]: v for k, v in all_config.items() if k.startswith(prefix)}
    secret_env = set(runtime_config.get_config_secret_keys_env())
    secret = {k for k in raw if runtime_config.is_config_secret(prefix + k) or prefix + k in secret_env}
    return load_stack_config(raw, secret, region=all_config.get("aws:region"),
                             env_token=os.environ.get(TOKEN_ENV))
