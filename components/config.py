"""The stack configuration of kong-aws: one typed model, validated before any resource is declared.

Every key lives under the ``kong-aws:`` namespace of a Pulumi stack (``Pulumi.<stack>.yaml``).
Simple keys are mirrored, with their defaults, in the ``config:`` schema of ``Pulumi.yaml``;
object keys (``kong-aws:ecs``, ``kong-aws:network`` ...) are described here only. Defaults live in
this module and nowhere else in the program.

:func:`load_stack_config` reads the raw values, validates them and returns a :class:`StackConfig`,
or raises :class:`ConfigError` whose lines each name the full key (``kong-aws:ecs.cpu``), the value
it got and what is allowed.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Optional

from components.konnect_api import KonnectEndpoint, parse_endpoint  # noqa: F401  (re-exported)
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

NAMESPACE = "kong-aws"

#: The value ``python -m tools.render`` stands in for every ``secure:`` config value. Secret values
#: equal to it are accepted without content checks, because the render cannot decrypt them.
OFFLINE_SECRET_PLACEHOLDER = "[secret]"

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

#: Kong ``router_flavor`` and ``log_level`` values. Source: ../shared/reference/kong_conf_validation.json
#: (``enums``), from Kong 3.9.3 kong/conf_loader/constants.lua.
ROUTER_FLAVORS = ("traditional", "traditional_compatible", "expressions")
LOG_LEVELS = ("debug", "info", "notice", "warn", "error", "crit", "alert", "emerg")

# Konnect label rules. Source: Kong docs, "Konnect labels" (developer.konghq.com/konnect-platform/
# konnect-labels/): at most 5 labels; key and value 1-63 characters, alphanumeric at both ends,
# '-', '_' and '.' between; keys must not start with a prefix reserved for Kong.
MAX_LABELS = 5
_LABEL_PART = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")
RESERVED_LABEL_PREFIXES = ("kong", "konnect", "insomnia", "mesh", "kic", "kuma", "_")

# A Docker image version tag that names one release (3.10.0.1, 3.9.1.2-ubuntu), or a digest.
# Floating tags such as "3.10" or "latest" change under a running service and are refused.
_PINNED_TAG = re.compile(r"^\d+\.\d+\.\d+(?:\.\d+)?(?:-[A-Za-z0-9][A-Za-z0-9._-]*)?$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_IMAGE_REPOSITORY = re.compile(
    r"^(?:[a-z0-9.-]+(?::\d+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
_ACM_ARN = re.compile(r"^arn:aws[a-z-]*:acm:([a-z0-9-]+):\d{12}:certificate/[0-9a-f-]{36}$")
_KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:([a-z0-9-]+):\d{12}:key/[0-9a-f-]{36}$")


def _ipv4_cidr(value: str) -> str:
    try:
        ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an IPv4 CIDR block: {exc}") from None
    return value


def _retention_days(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise ValueError(f"CloudWatch Logs accepts {', '.join(map(str, LOG_RETENTION_DAYS))}")
    return value


#: One or more IPv4 CIDR blocks (``203.0.113.0/24``), host bits clear; all of IPv4 by default.
CidrList = Annotated[list[Annotated[str, AfterValidator(_ipv4_cidr)]], Field(min_length=1)]
#: A CloudWatch Logs retention period in days (:data:`LOG_RETENTION_DAYS`).
RetentionDays = Annotated[int, AfterValidator(_retention_days)]


class ConfigError(ValueError):
    """Stack configuration that cannot be deployed.

    ``problems`` holds one line per problem, each naming the full config key, the value and what is
    allowed; ``str(error)`` joins them under a heading.
    """

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid stack configuration:\n" + "\n".join(f"  - {p}" for p in problems))


class _Model(BaseModel):
    # camelCase keys as in Pulumi stack files; unknown keys are an error (a typo is not a default).
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False, strict=False)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class _CamelModel(_Model):
    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=_camel, use_attribute_docstrings=True)


def _check_labels(labels: Mapping[str, str]) -> Mapping[str, str]:
    if len(labels) > MAX_LABELS:
        raise ValueError(f"at most {MAX_LABELS} labels are allowed, got {len(labels)}")
    for key, value in labels.items():
        for part, text in (("key", key), ("value", value)):
            if not isinstance(text, str) or not _LABEL_PART.match(text):
                raise ValueError(
                    f"label {part} {text!r} must be 1-63 characters, start and end with a letter or "
                    "digit, and have only letters, digits, '-', '_' and '.' between")
        if key.lower().startswith(RESERVED_LABEL_PREFIXES):
            raise ValueError(f"label key {key!r} starts with a prefix reserved for Kong "
                             f"({', '.join(RESERVED_LABEL_PREFIXES)})")
    return labels


class KongConfig(_CamelModel):
    """``kong-aws:kong``: the Kong Gateway node every mode runs.

    ``image`` (default ``kong/kong-gateway``) and ``version`` (required, one release such as
    ``3.10.0.1`` or a ``sha256:`` digest) make the container image. ``routerFlavor`` defaults to
    Kong's own default ``traditional_compatible``; ``logLevel`` to ``notice``. ``dataPlaneLabels``
    become ``cluster_dp_labels`` (Konnect label rules, at most 5).
    """

    image: str = "kong/kong-gateway"
    """image repository (an ECR repository is fine)"""
    version: str
    """one Kong Gateway release (`3.10.0.1`) or a `sha256:` digest; floating tags (`3.10`, `latest`) are refused"""
    router_flavor: Literal["traditional", "traditional_compatible", "expressions"] = "traditional_compatible"
    """`traditional`, `traditional_compatible`, `expressions`"""
    log_level: Literal["debug", "info", "notice", "warn", "error", "crit", "alert", "emerg"] = "notice"
    """Kong's log levels, `debug` … `emerg`"""
    data_plane_labels: dict[str, str] = Field(default_factory=dict)
    """`cluster_dp_labels`; at most 5; keys and values 1-63 characters, letters/digits at both ends, `-_.` between; keys must not start with `kong`, `konnect`, `insomnia`, `mesh`, `kic`, `kuma` or `_` ([Konnect labels](https://developer.konghq.com/konnect-platform/konnect-labels/))"""

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        if ":" in value.rsplit("/", 1)[-1] or "@" in value:
            raise ValueError("give the repository only; the tag goes in kong-aws:kong.version")
        if not _IMAGE_REPOSITORY.match(value):
            raise ValueError("not a container image repository such as kong/kong-gateway")
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not (_PINNED_TAG.match(value) or _DIGEST.match(value)):
            raise ValueError("pin one release such as 3.10.0.1 (or a sha256: digest); floating "
                             "tags such as 3.10 or latest are refused")
        return value

    @field_validator("data_plane_labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        return dict(_check_labels(value))

    @property
    def image_ref(self) -> str:
        """The full image reference, ``repository:tag`` or ``repository@sha256:...``."""
        sep = "@" if self.version.startswith("sha256:") else ":"
        return f"{self.image}{sep}{self.version}"


class KonnectConfig(_CamelModel):
    """``kong-aws:konnect``: the Konnect control plane the data planes join. Two ways:

    - managed: ``controlPlaneName`` (2-256 characters) with an access token
      (``kong-aws:konnectToken`` or ``KONNECT_TOKEN``): the stack adopts or creates the control plane
      in ``region`` (``us`` default, ``eu``, ``au``, ``me``, ``in``, ``sg``; or ``apiUrl``, an
      ``https://`` base URL, ``http://`` only for localhost) with ``controlPlaneLabels``, and pins the
      data plane certificate through the Konnect API;
    - manual: ``controlPlaneEndpoint`` and ``telemetryEndpoint`` as Konnect shows them (host,
      host:443 or https:// URL), normalised by :func:`parse_endpoint`; you pin the certificate.
    """

    control_plane_endpoint: Optional[KonnectEndpoint] = None
    """required without `controlPlaneName`: host, `host:port` or `https://` URL → `cluster_control_plane`, `cluster_server_name`"""
    telemetry_endpoint: Optional[KonnectEndpoint] = None
    """required without `controlPlaneName`: same forms → `cluster_telemetry_endpoint`, `cluster_telemetry_server_name`"""
    control_plane_name: Optional[Annotated[str, Field(min_length=2, max_length=256)]] = None
    """manage the control plane of this name (2-256 characters) through the Konnect API; needs a token"""
    control_plane_labels: dict[str, str] = Field(default_factory=dict)
    """labels of a control plane the stack creates (Konnect label rules); an adopted one keeps its own"""
    region: Literal["us", "eu", "au", "me", "in", "sg"] = "us"
    """Konnect region of the control plane: `us`, `eu`, `au`, `me`, `in`, `sg` (API `https://<region>.api.konghq.com`)"""
    api_url: Optional[str] = None
    """another API base URL (a proxy; `http://` only to localhost)"""

    @field_validator("control_plane_labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        return dict(_check_labels(value))

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        match = re.fullmatch(r"(https?)://([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(:\d{1,5})?/?", value)
        if not match:
            raise ValueError("give a base URL such as https://us.api.konghq.com (no path)")
        if match.group(1) == "http" and match.group(2) not in ("localhost", "127.0.0.1", "[::1]"):
            raise ValueError("plain http is only allowed to localhost; use https")
        return value.rstrip("/")

    @property
    def managed(self) -> bool:
        """True when the stack manages the control plane through the Konnect API."""
        return self.control_plane_name is not None

    @property
    def base_url(self) -> str:
        """The Konnect API base URL: ``apiUrl``, or the region's host."""
        return self.api_url or f"https://{self.region}.api.konghq.com"

    @field_validator("control_plane_endpoint", "telemetry_endpoint", mode="before")
    @classmethod
    def _endpoint(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_endpoint(value)
        raise ValueError("give the endpoint as a string")


class CertificateConfig(_CamelModel):
    """``kong-aws:certificate``: the generated cluster certificates (pulumi-tls).

    ``keyAlgorithm``: ``ecdsa-p384`` (default), ``rsa-2048`` or ``rsa-4096``. ``commonName`` defaults
    to ``kong_clustering`` (the name Kong's hybrid examples use); ``validityDays`` to 1095 (3 years,
    as in Kong's hybrid guide); ``earlyRenewalDays`` (default 30) is the window before expiry in which
    ``pulumi up`` replaces the certificate.
    """

    key_algorithm: Literal["ecdsa-p384", "rsa-2048", "rsa-4096"] = "ecdsa-p384"
    """`ecdsa-p384`, `rsa-2048`, `rsa-4096`"""
    common_name: Annotated[str, Field(min_length=1, max_length=64)] = "kong_clustering"
    """subject CN"""
    organization: Optional[Annotated[str, Field(min_length=1, max_length=64)]] = None
    """subject O"""
    validity_days: Annotated[int, Field(ge=1, le=3650)] = 1095
    """1-3650"""
    early_renewal_days: Annotated[int, Field(ge=0)] = 30
    """less than `validityDays`; `pulumi up` replaces the certificate inside this window"""


def _check_id(prefix: str, value: str) -> str:
    if not re.fullmatch(rf"{prefix}-[0-9a-f]{{8,17}}", value):
        raise ValueError(f"{value!r} is not an AWS {prefix} id ({prefix}-0123456789abcdef0)")
    return value


class NetworkConfig(_CamelModel):
    """``kong-aws:network``: a new VPC (default) or an existing one.

    New VPC: ``cidrBlock`` (default ``10.0.0.0/16``, /16 to /24), ``availabilityZoneCount`` (2-6,
    default 2) public and private subnets, and ``natGateways`` ``per-az`` (default) or ``single``.
    Existing VPC: ``vpcId`` with ``privateSubnetIds`` (at least 2, with a route to the internet
    through NAT) and ``publicSubnetIds`` (at least 2; not needed for an internal load balancer).
    """

    vpc_id: Optional[str] = None
    """use an existing VPC instead"""
    public_subnet_ids: list[str] = Field(default_factory=list)
    """with `vpcId`: ≥ 2 subnets for an internet-facing NLB"""
    private_subnet_ids: list[str] = Field(default_factory=list)
    """with `vpcId`: ≥ 2 subnets with outbound internet access (NAT) for the tasks"""
    cidr_block: str = "10.0.0.0/16"
    """new VPC's IPv4 block, /16 to /24"""
    availability_zone_count: Annotated[int, Field(ge=2, le=6)] = 2
    """2-6"""
    nat_gateways: Literal["per-az", "single"] = "per-az"
    """`per-az` or `single` (see costs below)"""

    @field_validator("vpc_id")
    @classmethod
    def _vpc(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else _check_id("vpc", value)

    @field_validator("public_subnet_ids", "private_subnet_ids")
    @classmethod
    def _subnets(cls, value: list[str]) -> list[str]:
        for item in value:
            _check_id("subnet", item)
        if len(set(value)) != len(value):
            raise ValueError("subnet ids repeat")
        return value

    @field_validator("cidr_block")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            net = ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            raise ValueError(f"not an IPv4 CIDR block: {exc}") from None
        if not 16 <= net.prefixlen <= 24:
            raise ValueError("the VPC block must be from /16 to /24")
        return value

    @property
    def existing(self) -> bool:
        """True when the stack uses an existing VPC (``vpcId`` set)."""
        return self.vpc_id is not None


class EcsConfig(_CamelModel):
    """``kong-aws:ecs``: the Fargate data plane service.

    ``cpu`` (CPU units, default 1024) and ``memory`` (MiB, default 2048) must be a pair Fargate
    accepts (:data:`FARGATE_CPU_MEMORY`). ``cpuArchitecture`` ``X86_64`` (default) or ``ARM64``.
    ``desiredCount`` (default 2) lies between ``minCount`` (default 2) and ``maxCount`` (default 6),
    the bounds of CPU target tracking at ``cpuTargetPercent`` (default 60). ``fargateSpotPercent``
    (0-100, default 0) is the share of tasks on FARGATE_SPOT. ``logRetentionDays`` (default 30) is
    one of :data:`LOG_RETENTION_DAYS`. ``stopTimeoutSeconds`` (2-120, default 60) is how long a
    stopping task may drain. ``healthCheckGracePeriodSeconds`` (default 60). ``secretsKmsKeyArn``:
    a customer managed KMS key for the certificate secret (default: the AWS managed key).
    """

    cpu: int = 1024
    """Fargate CPU units: 256, 512, 1024, 2048, 4096, 8192, 16384"""
    memory: int = 2048
    """MiB, a size Fargate accepts with that CPU ([Fargate task sizes](https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size))"""
    cpu_architecture: Literal["X86_64", "ARM64"] = "X86_64"
    """`X86_64`, `ARM64`"""
    desired_count: Annotated[int, Field(ge=1, le=1000)] = 2
    """between `minCount` and `maxCount`"""
    min_count: Annotated[int, Field(ge=1, le=1000)] = 2
    """lowest task count of CPU target tracking (1-1000)"""
    max_count: Annotated[int, Field(ge=1, le=1000)] = 6
    """highest task count of CPU target tracking (1-1000)"""
    cpu_target_percent: Annotated[int, Field(ge=10, le=90)] = 60
    """10-90"""
    fargate_spot_percent: Annotated[int, Field(ge=0, le=100)] = 0
    """0-100 % of tasks on FARGATE_SPOT (the first task always on FARGATE)"""
    log_retention_days: RetentionDays = 30
    """a CloudWatch Logs retention (1, 3, 5, 7, 14, 30, 60, 90, …, 3653)"""
    stop_timeout_seconds: Annotated[int, Field(ge=2, le=120)] = 60
    """2-120 (Fargate's maximum)"""
    health_check_grace_period_seconds: Annotated[int, Field(ge=0, le=2147483647)] = 60
    """seconds ECS ignores load balancer health after a task starts"""
    secrets_kms_key_arn: Optional[str] = None
    """a customer managed KMS key in the stack's region for the certificate secret"""

    @field_validator("cpu")
    @classmethod
    def _cpu(cls, value: int) -> int:
        if value not in FARGATE_CPU_MEMORY:
            raise ValueError(f"Fargate CPU units are one of {', '.join(map(str, FARGATE_CPU_MEMORY))}")
        return value


    @field_validator("secrets_kms_key_arn")
    @classmethod
    def _kms(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not _KMS_KEY_ARN.match(value):
            raise ValueError("not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>)")
        return value

    @property
    def vcpus(self) -> float:
        """The task's vCPUs (``cpu`` / 1024)."""
        return self.cpu / 1024


class LoadBalancerConfig(_CamelModel):
    """``kong-aws:loadBalancer``: the Network Load Balancer in front of the data planes.

    ``internal`` (default false: internet-facing). ``tlsMode`` ``passthrough`` (default: TLS on 443
    reaches Kong's 8443) or ``terminate`` (the NLB ends TLS with ``certificateArn``, an ACM
    certificate in the stack's region, and ``sslPolicy``). ``allowedCidrs`` (default
    ``["0.0.0.0/0"]``) may reach ports 80 and 443. ``deregistrationDelaySeconds`` (default 30) lets
    open connections finish before a task stops. ``deletionProtection`` (default false).
    """

    internal: bool = False
    """an internal NLB in the private subnets"""
    tls_mode: Literal["passthrough", "terminate"] = "passthrough"
    """`passthrough` (Kong ends TLS on 8443) or `terminate`"""
    certificate_arn: Optional[str] = None
    """ACM certificate in the stack's region, for `terminate`"""
    ssl_policy: str = "ELBSecurityPolicy-TLS13-1-2-2021-06"
    """for `terminate`"""
    allowed_cidrs: CidrList = Field(default_factory=lambda: ["0.0.0.0/0"])
    """IPv4 blocks that may reach 80/443"""
    deregistration_delay_seconds: Annotated[int, Field(ge=0, le=3600)] = 30
    """0-3600"""
    deletion_protection: bool = False
    """NLB deletion protection"""

    @field_validator("certificate_arn")
    @classmethod
    def _arn(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not _ACM_ARN.match(value):
            raise ValueError("not an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)")
        return value




class EksConfig(_CamelModel):
    """``kong-aws:eks``: the Kubernetes cluster of mode hybrid-eks.

    New cluster (default): EKS Auto Mode (compute, block storage and load balancing managed by EKS)
    at Kubernetes ``version`` (default ``1.33``; Auto Mode needs 1.29 or later), API endpoint
    private, and public too unless ``endpointPublicAccess`` is false, from ``publicAccessCidrs``
    (default all). The identity running ``pulumi up`` gets cluster admin through an EKS access
    entry; ``adminRoleArns`` adds more IAM roles. ``logRetentionDays`` (default 30) for the control
    plane logs. Existing cluster: ``clusterName``, with ``storageClassName`` (a class whose volumes
    work there) and ``loadBalancerClass`` (default ``service.k8s.aws/nlb``, the AWS Load Balancer
    Controller's).
    """

    cluster_name: Optional[Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[0-9A-Za-z][A-Za-z0-9\-_]*$")]] = None
    """use this existing EKS cluster"""
    version: str = "1.33"
    """Kubernetes version of a new cluster (1.29 or later, for Auto Mode)"""
    endpoint_public_access: bool = True
    """a public API endpoint besides the private one"""
    public_access_cidrs: CidrList = Field(default_factory=lambda: ["0.0.0.0/0"])
    """who may reach the public API endpoint"""
    admin_role_arns: list[str] = Field(default_factory=list)
    """more IAM roles given cluster admin"""
    log_retention_days: RetentionDays = 30
    """retention of the EKS control plane logs"""
    storage_class_name: Optional[str] = None
    """existing cluster: the storage class for in-cluster PostgreSQL"""
    load_balancer_class: Optional[str] = None
    """existing cluster: the proxy Service's load balancer class"""

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        match = re.fullmatch(r"1\.(\d{2})", value)
        if not match or int(match.group(1)) < 29:
            raise ValueError("a Kubernetes minor version such as 1.33 (EKS Auto Mode needs 1.29 or later)")
        return value


    @field_validator("admin_role_arns")
    @classmethod
    def _roles(cls, value: list[str]) -> list[str]:
        for item in value:
            if not re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+", item):
                raise ValueError(f"{item!r} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)")
        return value


    @property
    def existing(self) -> bool:
        """True when the stack uses an existing cluster (``clusterName`` set)."""
        return self.cluster_name is not None


class HybridConfig(_CamelModel):
    """``kong-aws:hybrid``: the self-hosted control plane and data planes (Kong Helm chart).

    ``namespace`` (default ``kong``); ``chartVersion`` of the ``kong`` chart from
    https://charts.konghq.com (default ``3.4.1``, the version of ../shared/reference's values);
    ``controlPlaneRelease`` / ``dataPlaneRelease`` Helm release names (``kong-cp`` / ``kong-dp``);
    ``clusterMtls`` ``pki`` (a CA and a certificate per role, default) or ``shared`` (one
    certificate); ``controlPlaneReplicas`` (default 2); data planes: ``dataPlaneMinReplicas``
    (default 2) and ``dataPlaneMaxReplicas`` (default 6; above the minimum, a HorizontalPodAutoscaler
    at ``dataPlaneCpuTargetPercent``, default 70); ``proxyInternal`` (default false: an
    internet-facing NLB) and ``allowedCidrs`` (default all) for the proxy load balancer.
    """

    namespace: Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")] = "kong"
    """Kubernetes namespace"""
    chart_version: Annotated[str, Field(pattern=r"^\d+\.\d+\.\d+$")] = "3.4.1"
    """version of the `kong` Helm chart"""
    control_plane_release: Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$")] = "kong-cp"
    """Helm release name of the control plane"""
    data_plane_release: Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$")] = "kong-dp"
    """Helm release name of the data planes (differs from the control plane's)"""
    cluster_mtls: Literal["pki", "shared"] = "pki"
    """`pki` or `shared`"""
    control_plane_replicas: Annotated[int, Field(ge=1, le=10)] = 2
    """1-10"""
    data_plane_min_replicas: Annotated[int, Field(ge=1, le=100)] = 2
    """data plane replicas, the HorizontalPodAutoscaler's minimum (1-100)"""
    data_plane_max_replicas: Annotated[int, Field(ge=1, le=100)] = 6
    """the HorizontalPodAutoscaler's maximum (1-100); equal to the minimum: no autoscaler"""
    data_plane_cpu_target_percent: Annotated[int, Field(ge=10, le=90)] = 70
    """10-90"""
    proxy_internal: bool = False
    """an internal NLB for the proxy"""
    allowed_cidrs: CidrList = Field(default_factory=lambda: ["0.0.0.0/0"])
    """who may reach the proxy"""



class PostgresConfig(_CamelModel):
    """``kong-aws:postgres``: the control plane's database.

    ``mode`` ``rds`` (default: Amazon RDS for PostgreSQL in the private subnets, reachable only from
    the cluster, encrypted, TLS required) or ``in-cluster`` (a StatefulSet of the official
    ``postgres`` image on an encrypted volume; for development). ``version``: the PostgreSQL
    release (default ``17.6``; RDS uses its major version and takes minor upgrades). RDS:
    ``instanceClass`` (default ``db.t4g.medium``), ``allocatedStorageGiB`` (default 20),
    ``multiAz`` (default true), ``backupRetentionDays`` (1-35, default 7), ``deletionProtection``
    (default true). In-cluster: ``storageGiB`` (default 20).
    """

    mode: Literal["rds", "in-cluster"] = "rds"
    """`rds` or `in-cluster`"""
    version: Annotated[str, Field(pattern=r"^\d{2}\.\d+$")] = "17.6"
    """PostgreSQL release (RDS: its major version, minor upgrades automatic)"""
    instance_class: Annotated[str, Field(pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")] = "db.t4g.medium"
    """RDS instance class"""
    allocated_storage_gib: Annotated[int, Field(ge=20, le=65536, alias="allocatedStorageGiB")] = 20
    """RDS storage (grows automatically)"""
    multi_az: bool = True
    """RDS Multi-AZ"""
    backup_retention_days: Annotated[int, Field(ge=1, le=35)] = 7
    """1-35"""
    deletion_protection: bool = True
    """RDS deletion protection"""
    storage_gib: Annotated[int, Field(ge=1, le=16384, alias="storageGiB")] = 20
    """in-cluster volume size"""

    @property
    def major_version(self) -> str:
        """The major version (``17`` for ``17.6``)."""
        return self.version.split(".")[0]


class ProvidedCertificate(_Model):
    """A cluster certificate and key given as secret config (``kong-aws:clusterCert`` and
    ``kong-aws:clusterCertKey``), as the Konnect UI's "Generate certificate" produces them."""

    cert_pem: str
    key_pem: SecretStr


class StackConfig(_Model):
    """The whole validated stack configuration (see the module docstring for the key layout)."""

    mode: Literal["konnect-ecs", "hybrid-eks"] = "konnect-ecs"
    region: str
    kong: KongConfig
    konnect: Optional[KonnectConfig]
    certificate: CertificateConfig
    provided_certificate: Optional[ProvidedCertificate]
    konnect_token: Optional[SecretStr] = None
    network: NetworkConfig
    ecs: EcsConfig
    load_balancer: LoadBalancerConfig
    eks: EksConfig = Field(default_factory=EksConfig)
    hybrid: HybridConfig = Field(default_factory=HybridConfig)
    postgres: PostgresConfig = Field(default_factory=PostgresConfig)
    enterprise_license: Optional[SecretStr] = None


# Top-level keys: (config key, StackConfig field, parsed as JSON object, default or required).
_REQUIRED = object()
_OBJECT_KEYS = {
    "kong": ("kong", _REQUIRED),
    "konnect": ("konnect", None),
    "certificate": ("certificate", {}),
    "network": ("network", {}),
    "ecs": ("ecs", {}),
    "loadBalancer": ("load_balancer", {}),
    "eks": ("eks", {}),
    "hybrid": ("hybrid", {}),
    "postgres": ("postgres", {}),
}
#: Sections that only one mode reads; giving one in the other mode is an error.
_MODE_SECTIONS = {"konnect-ecs": ("konnect", "ecs", "loadBalancer", "konnectToken"),
                  "hybrid-eks": ("eks", "hybrid", "postgres", "enterpriseLicense")}
_SECRET_KEYS = ("clusterCert", "clusterCertKey", "konnectToken", "enterpriseLicense")
#: Top-level keys that are not sections: (default, description) for the configuration reference.
TOP_LEVEL_KEYS = {
    "clusterCert": ("none", "your own cluster certificate (PEM), with `clusterCertKey`: Konnect's "
                            "generated certificate (konnect-ecs) or the shared certificate (hybrid-eks, "
                            "`hybrid.clusterMtls` `shared`)"),
    "clusterCertKey": ("none", "its private key (PEM); must be set with `--secret`"),
    "konnectToken": ("`KONNECT_TOKEN`", "Konnect personal (`kpat_`) or system account (`spat_`) token for "
                                        "`konnect.controlPlaneName`; must be set with `--secret`"),
    "enterpriseLicense": ("none (free mode)", "Kong Enterprise license JSON (hybrid-eks); must be set with "
                                              "`--secret`"),
}
#: The environment variable that may hold the Konnect access token instead of kong-aws:konnectToken.
TOKEN_ENV = "KONNECT_TOKEN"
_TOKEN = re.compile(r"^(kpat|spat)_[A-Za-z0-9]{20,}$")
_SCALAR_KEYS = ("mode",)
KNOWN_KEYS = frozenset(_OBJECT_KEYS) | frozenset(_SECRET_KEYS) | frozenset(_SCALAR_KEYS)
MODES = ("konnect-ecs", "hybrid-eks")


def _show(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _key_path(top: str, loc: tuple) -> str:
    path = f"{NAMESPACE}:{top}"
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _pydantic_problems(top: str, model: type[BaseModel], error: ValidationError) -> list[str]:
    problems = []
    allowed = sorted(f.alias or n for n, f in model.model_fields.items())
    for item in error.errors(include_url=False):
        loc = tuple(p for p in item["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "missing":
            problems.append(f"{_key_path(top, loc)}: required, not set")
        elif item["type"] == "extra_forbidden":
            near = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            hint = f"; did you mean {near[0]}?" if near else ""
            problems.append(f"{_key_path(top, loc)}: unknown key (value {_show(item['input'])}){hint} "
                            f"Known keys of {NAMESPACE}:{top}: {', '.join(allowed)}")
        else:
            problems.append(f"{_key_path(top, loc)}: got {_show(item['input'])}; {message}")
    return problems


def _looks_like_pem(text: str, kinds: tuple[str, ...]) -> bool:
    return any(f"-----BEGIN {kind}-----" in text and f"-----END {kind}-----" in text for kind in kinds)


def load_stack_config(raw: Mapping[str, str], secret_keys: frozenset[str] | set[str] = frozenset(),
                      region: Optional[str] = None, env_token: Optional[str] = None) -> StackConfig:
    """Validate raw stack config and return the typed :class:`StackConfig`.

    ``raw`` maps keys without the namespace (``mode``, ``ecs`` ...) to their string values as Pulumi
    hands them over (objects as JSON text). ``secret_keys`` names those set with ``--secret``.
    ``region`` is ``aws:region`` (required); ``env_token`` the ``KONNECT_TOKEN`` environment
    variable, used when ``konnectToken`` is not set. Defaults: see each section's model.

    Raises :class:`ConfigError` listing every problem found: unknown keys, values of the wrong type
    or out of range, missing required keys, and combinations that cannot work together.
    """
    problems: list[str] = []
    values: dict[str, Any] = {}

    for key in sorted(set(raw) - KNOWN_KEYS):
        problems.append(f"{NAMESPACE}:{key}: unknown key (known keys: {', '.join(sorted(KNOWN_KEYS))})")

    mode = raw.get("mode", StackConfig.model_fields["mode"].default)
    if mode not in MODES:
        problems.append(f"{NAMESPACE}:mode: got {_show(mode)}; allowed: {', '.join(MODES)}")
    else:
        other = next(m for m in MODES if m != mode)
        for key in _MODE_SECTIONS[other]:
            if key in raw:
                problems.append(f"{NAMESPACE}:{key}: set, but only mode {other} uses it (mode is {mode}); "
                                "remove it")
    values["mode"] = mode

    if not region:
        problems.append("aws:region: required, not set (the AWS region to deploy to, e.g. us-west-2)")
    elif not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
        problems.append(f"aws:region: got {_show(region)}; not an AWS region name such as us-west-2")
    values["region"] = region or ""

    models = {"kong": KongConfig, "konnect": KonnectConfig, "certificate": CertificateConfig,
              "network": NetworkConfig, "ecs": EcsConfig, "loadBalancer": LoadBalancerConfig,
              "eks": EksConfig, "hybrid": HybridConfig, "postgres": PostgresConfig}
    for key, (field, default) in _OBJECT_KEYS.items():
        text = raw.get(key)
        if text is None:
            if default is _REQUIRED:
                problems.append(f"{NAMESPACE}:{key}: required, not set")
                continue
            if default is None:
                values[field] = None
                continue
            data: Any = default
        else:
            try:
                data = json.loads(text)
            except (TypeError, ValueError):
                problems.append(f"{NAMESPACE}:{key}: got {_show(text)}; expected an object of settings")
                continue
        if not isinstance(data, dict):
            problems.append(f"{NAMESPACE}:{key}: got {_show(data)}; expected an object of settings")
            continue
        try:
            values[field] = models[key].model_validate(data)
        except ValidationError as error:
            problems.extend(_pydantic_problems(key, models[key], error))

    if mode == "konnect-ecs" and raw.get("konnect") is None:
        problems.append(f"{NAMESPACE}:konnect: required in mode konnect-ecs, not set (give "
                        "controlPlaneEndpoint and telemetryEndpoint as Konnect shows them, or "
                        "controlPlaneName and an access token)")
    if mode == "konnect-ecs":
        values["konnect_token"] = _konnect_token(raw, secret_keys, env_token, values.get("konnect"), problems)
    elif mode == "hybrid-eks":
        values["enterprise_license"] = _hybrid_checks(raw, secret_keys, values, problems)

    values["provided_certificate"] = _provided_certificate(raw, secret_keys, problems)

    ecs, lb, net = values.get("ecs"), values.get("load_balancer"), values.get("network")
    if isinstance(ecs, EcsConfig):
        allowed = FARGATE_CPU_MEMORY[ecs.cpu]
        if ecs.memory not in allowed:
            problems.append(f"{NAMESPACE}:ecs.memory: got {ecs.memory}; with ecs.cpu {ecs.cpu} Fargate "
                            f"accepts memory sizes (MiB) of ({', '.join(map(str, allowed))})")
        if ecs.min_count > ecs.max_count:
            problems.append(f"{NAMESPACE}:ecs.minCount: got {ecs.min_count}; must not exceed "
                            f"ecs.maxCount ({ecs.max_count})")
        elif not ecs.min_count <= ecs.desired_count <= ecs.max_count:
            problems.append(f"{NAMESPACE}:ecs.desiredCount: got {ecs.desired_count}; must lie between "
                            f"ecs.minCount ({ecs.min_count}) and ecs.maxCount ({ecs.max_count})")
        if ecs.secrets_kms_key_arn and region and _KMS_KEY_ARN.match(ecs.secrets_kms_key_arn).group(1) != region:
            problems.append(f"{NAMESPACE}:ecs.secretsKmsKeyArn: got {_show(ecs.secrets_kms_key_arn)}; "
                            f"the key must be in the stack's region {region}")
    cert = values.get("certificate")
    if isinstance(cert, CertificateConfig) and cert.early_renewal_days >= cert.validity_days:
        problems.append(f"{NAMESPACE}:certificate.earlyRenewalDays: got {cert.early_renewal_days}; must be "
                        f"less than certificate.validityDays ({cert.validity_days})")
    if isinstance(lb, LoadBalancerConfig):
        if lb.tls_mode == "terminate" and lb.certificate_arn is None:
            problems.append(f"{NAMESPACE}:loadBalancer.certificateArn: required, not set (loadBalancer.tlsMode "
                            "'terminate' needs an ACM certificate ARN)")
        if lb.tls_mode == "passthrough" and lb.certificate_arn is not None:
            problems.append(f"{NAMESPACE}:loadBalancer.certificateArn: got {_show(lb.certificate_arn)}; only "
                            "used with loadBalancer.tlsMode 'terminate' (now 'passthrough')")
    if isinstance(lb, LoadBalancerConfig) and lb.certificate_arn and region:
        if _ACM_ARN.match(lb.certificate_arn).group(1) != region:
            problems.append(f"{NAMESPACE}:loadBalancer.certificateArn: got {_show(lb.certificate_arn)}; "
                            f"an NLB uses ACM certificates of its own region {region}")
    if isinstance(net, NetworkConfig):
        if net.existing:
            if len(net.private_subnet_ids) < 2:
                problems.append(f"{NAMESPACE}:network.privateSubnetIds: got {_show(net.private_subnet_ids)}; "
                                "an existing VPC needs at least 2 private subnets in different AZs")
            needs_public = not (isinstance(lb, LoadBalancerConfig) and lb.internal)
            if needs_public and len(net.public_subnet_ids) < 2:
                problems.append(f"{NAMESPACE}:network.publicSubnetIds: got {_show(net.public_subnet_ids)}; "
                                "an internet-facing load balancer needs at least 2 public subnets")
        elif net.public_subnet_ids or net.private_subnet_ids:
            problems.append(f"{NAMESPACE}:network.vpcId: not set, but subnet ids are; give vpcId to use "
                            "an existing VPC, or no ids to create one")

    if problems:
        raise ConfigError(problems)
    return StackConfig(**values)


def _hybrid_checks(raw: Mapping[str, str], secret_keys, values: dict, problems: list[str]) -> Optional[SecretStr]:
    eks, hybrid, postgres = values.get("eks"), values.get("hybrid"), values.get("postgres")
    if isinstance(hybrid, HybridConfig):
        if hybrid.data_plane_min_replicas > hybrid.data_plane_max_replicas:
            problems.append(f"{NAMESPACE}:hybrid.dataPlaneMinReplicas: got {hybrid.data_plane_min_replicas}; "
                            f"must not exceed hybrid.dataPlaneMaxReplicas ({hybrid.data_plane_max_replicas})")
        if hybrid.control_plane_release == hybrid.data_plane_release:
            problems.append(f"{NAMESPACE}:hybrid.dataPlaneRelease: got {_show(hybrid.data_plane_release)}; "
                            "must differ from hybrid.controlPlaneRelease")
        if "clusterCert" in raw and hybrid.cluster_mtls != "shared":
            problems.append(f"{NAMESPACE}:clusterCert: set, but hybrid.clusterMtls is "
                            f"{_show(hybrid.cluster_mtls)}; a provided certificate is used as the one "
                            "shared certificate (set hybrid.clusterMtls to 'shared')")
    if isinstance(eks, EksConfig):
        if eks.existing:
            if eks.admin_role_arns:
                problems.append(f"{NAMESPACE}:eks.adminRoleArns: got {_show(eks.admin_role_arns)}; only used for a "
                                "cluster the stack creates (grant access to an existing cluster there)")
            in_cluster = isinstance(postgres, PostgresConfig) and postgres.mode == "in-cluster"
            if in_cluster and eks.storage_class_name is None:
                problems.append(f"{NAMESPACE}:eks.storageClassName: required with eks.clusterName and "
                                "postgres.mode 'in-cluster' (a storage class whose volumes work in that cluster)")
        else:
            for key, value in (("storageClassName", eks.storage_class_name),
                               ("loadBalancerClass", eks.load_balancer_class)):
                if value is not None:
                    problems.append(f"{NAMESPACE}:eks.{key}: got {_show(value)}; only used with an existing "
                                    "cluster (eks.clusterName); a new cluster uses EKS Auto Mode's")
    license_text = raw.get("enterpriseLicense")
    if license_text is None:
        return None
    if "enterpriseLicense" not in secret_keys:
        problems.append(f"{NAMESPACE}:enterpriseLicense: set in plain text; set it with "
                        f"`pulumi config set --secret {NAMESPACE}:enterpriseLicense -- \"$(cat license.json)\"`")
    if license_text != OFFLINE_SECRET_PLACEHOLDER:
        try:
            parsed = json.loads(license_text)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict) or "license" not in parsed:
            problems.append(f"{NAMESPACE}:enterpriseLicense: not a Kong license file (JSON with a "
                            "\"license\" object)")
    return SecretStr(license_text)


def _konnect_token(raw: Mapping[str, str], secret_keys, env_token: Optional[str],
                   konnect: Optional[KonnectConfig], problems: list[str]) -> Optional[SecretStr]:
    # The token's value is never echoed in an error.
    token = raw.get("konnectToken")
    managed = isinstance(konnect, KonnectConfig) and konnect.managed
    if token is not None:
        if "konnectToken" not in secret_keys:
            problems.append(f"{NAMESPACE}:konnectToken: set in plain text; set it with "
                            f"`pulumi config set --secret {NAMESPACE}:konnectToken`")
        if not managed:
            problems.append(f"{NAMESPACE}:konnectToken: set, but {NAMESPACE}:konnect.controlPlaneName is "
                            "not; give the control plane name to manage it through the Konnect API")
    elif managed:
        token = env_token or None
        if token is None:
            problems.append(f"{NAMESPACE}:konnectToken: required with konnect.controlPlaneName, not set "
                            f"(set it with --secret, or export {TOKEN_ENV})")
    if token is not None and token != OFFLINE_SECRET_PLACEHOLDER and not _TOKEN.match(token):
        problems.append(f"{NAMESPACE}:konnectToken: not a Konnect access token (a personal token starts "
                        "with kpat_, a system account token with spat_)")
    if isinstance(konnect, KonnectConfig):
        endpoints = [k for k, v in (("controlPlaneEndpoint", konnect.control_plane_endpoint),
                                    ("telemetryEndpoint", konnect.telemetry_endpoint)) if v is not None]
        if managed:
            for key in endpoints:
                problems.append(f"{NAMESPACE}:konnect.{key}: set, but the managed control plane "
                                f"({konnect.control_plane_name!r}) gives it; remove it")
        else:
            for key in ("controlPlaneEndpoint", "telemetryEndpoint"):
                if key not in endpoints:
                    problems.append(f"{NAMESPACE}:konnect.{key}: required, not set (or give "
                                    "konnect.controlPlaneName to manage the control plane)")
    return SecretStr(token) if token is not None and managed else None


def _provided_certificate(raw: Mapping[str, str], secret_keys, problems: list[str]):
    cert, key = raw.get("clusterCert"), raw.get("clusterCertKey")
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        missing = "clusterCert" if cert is None else "clusterCertKey"
        problems.append(f"{NAMESPACE}:{missing}: required when the other of clusterCert/clusterCertKey "
                        "is set (give both, or neither to generate a certificate)")
        return None
    if "clusterCertKey" not in secret_keys:
        problems.append(f"{NAMESPACE}:clusterCertKey: set in plain text; a private key must be set with "
                        "`pulumi config set --secret kong-aws:clusterCertKey`")
    offline = key == OFFLINE_SECRET_PLACEHOLDER or cert == OFFLINE_SECRET_PLACEHOLDER
    if not offline:
        if not _looks_like_pem(cert, ("CERTIFICATE",)):
            problems.append(f"{NAMESPACE}:clusterCert: not a PEM certificate (-----BEGIN CERTIFICATE-----)")
        if not _looks_like_pem(key, ("PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY")):
            problems.append(f"{NAMESPACE}:clusterCertKey: not a PEM private key (-----BEGIN PRIVATE KEY-----)")
    return ProvidedCertificate(cert_pem=cert, key_pem=SecretStr(key))


def from_pulumi() -> StackConfig:
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
