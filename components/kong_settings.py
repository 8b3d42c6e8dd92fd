"""Kong node settings: the one place that knows which ``kong.conf`` settings a Kong node needs.

A node is described as data (:class:`KongNode`: role, cluster endpoints, certificate references,
labels, listeners, workers). :meth:`KongNode.settings` turns that description into ``kong.conf``
settings; :func:`container_environment` and :func:`helm_env` are two renderings of the same
settings (the ``KONG_*`` environment of a container, and the ``env:`` block of Kong's Helm chart).

Setting names and values follow Kong's configuration reference (../shared/reference/
kong-gateway-ee-conf/ and kong_conf_validation.json); the hybrid-mode rules enforced in
:meth:`KongNode.settings` are those of Kong 3.9 kong/conf_loader/parse.lua as distilled in
kong_conf_validation.json (``hybrid_mode_rules_parse_lua``).
"""

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Optional, Required, TypedDict, Union

from components.kong_facts import (DEFAULT_LOG_LEVEL, DEFAULT_ROUTER_FLAVOR, METRICS_PORT,  # noqa: F401
                                   PROXY_HTTP_LISTEN_FLAGS, PROXY_HTTP_PORT, PROXY_HTTPS_LISTEN_FLAGS,
                                   PROXY_HTTPS_PORT, PROXY_PROTOCOL_FLAG, REAL_IP_FROM_PROXY_PROTOCOL, STATUS_PORT,
                                   LogLevel, RouterFlavor)


class ImageSourceKind(str, enum.Enum):
    """Where the nodes pull Kong's image (:mod:`components.image_source`): ``direct`` from the registry
    ``image`` names, or ``ecr-pull-through`` (Docker Hub through an ECR pull through cache)."""

    DIRECT = "direct"
    ECR_PULL_THROUGH = "ecr-pull-through"


class KongArgs(TypedDict, total=False):
    """The Kong Gateway every node of a deployment runs (plain values: they shape the settings).

    Defaults: :data:`KONG_DEFAULTS`; ``version`` is required.
    """

    image: str
    """image repository (default ``kong/kong-gateway``; an ECR repository is fine)"""
    version: Required[str]
    """one Kong Gateway release (``3.10.0.1``) or a ``sha256:`` digest"""
    router_flavor: RouterFlavor
    """``router_flavor`` (default Kong's, ``traditional_compatible``)"""
    log_level: LogLevel
    """``log_level`` (default Kong's, ``notice``)"""
    data_plane_labels: dict[str, str]
    """``cluster_dp_labels`` of the data planes (default none)"""
    image_source: "ImageSourceKind"
    """``direct`` (default: pull ``image`` from its registry, Docker Hub unless it is a registry URI) or
    ``ecr-pull-through`` (Docker Hub images through an ECR pull through cache, :mod:`components.image_source`)"""
    docker_hub_credentials_secret_arn: str
    """``ecr-pull-through``: a Secrets Manager secret named ``ecr-pullthroughcache/...`` with Docker Hub credentials"""
    pull_through_cache_prefix: str
    """``ecr-pull-through``: the cache's ECR repository prefix (default ``docker-hub``; one rule per prefix and Region)"""


def image_reference(image: str, version: str) -> str:
    """The full image reference: ``repository:tag``, or ``repository@sha256:...`` for a digest."""
    return f"{image}@{version}" if version.startswith("sha256:") else f"{image}:{version}"


#: Defaults of :class:`KongArgs`, the only place they are written.
KONG_DEFAULTS: dict[str, Any] = {"image": "kong/kong-gateway", "router_flavor": DEFAULT_ROUTER_FLAVOR,
                           "log_level": DEFAULT_LOG_LEVEL, "data_plane_labels": {}, "image_source": ImageSourceKind.DIRECT,
                           "pull_through_cache_prefix": "docker-hub"}



@dataclass(frozen=True)
class SecretSetting:
    """A setting whose value a secret store injects (``cluster_cert_key`` from Secrets Manager).

    ``reference`` is what the platform resolves: on ECS, a Secrets Manager ``valueFrom`` ARN.
    """

    reference: str


@dataclass(frozen=True)
class KubernetesSecretKey:
    """A setting whose value a Kubernetes Secret provides: key ``key`` of Secret ``name`` (the Kong
    chart renders it as ``valueFrom.secretKeyRef``)."""

    name: str
    """the Secret's name"""
    key: str
    """the key in its data"""


@dataclass(frozen=True)
class PostgresConnection:
    """How a control plane reaches PostgreSQL: ``host``, ``port``, ``user``, ``database``, the
    ``password`` (a secret reference, never text), ``ssl`` (TLS on) and ``ssl_verify``."""

    host: str
    password: Union["SecretSetting", KubernetesSecretKey]
    port: int = 5432
    user: str = "kong"
    database: str = "kong"
    ssl: bool = False
    ssl_verify: bool = False


SettingValue = Union[str, SecretSetting, KubernetesSecretKey]

#: Settings the Kong chart renders itself from its service blocks (``admin``, ``proxy``,
#: ``status``, ``cluster``, ``clustertelemetry``, ``manager``): they stay out of its ``env:``.
#: Source: ../shared/reference/kong-chart-values.yaml, where each block declares its ports.
CHART_MANAGED_SETTINGS = frozenset({"admin_listen", "proxy_listen", "status_listen", "cluster_listen",
                                    "cluster_telemetry_listen", "admin_gui_listen", "stream_listen"})
#: The exception: a ``status_listen`` with a metrics listener (:attr:`KongNode.metrics_address`)
#: goes to ``env:``. The chart's ``status`` block renders one plain listener (and a TLS one) on one
#: port each (kong-chart-3.4.1 templates/_helpers.tpl ``kong.listen``), never a second plain port,
#: and a user ``env:`` entry overrides the chart's own (``kong.env``: ``mergeOverwrite $autoEnv
#: $userEnv``). Its first listener stays the chart's ``status`` port, which the probes name.
STATUS_LISTEN = "status_listen"


@dataclass(frozen=True)
class ClusterEndpoint:
    """An endpoint a data plane dials: ``address`` (``host:port``) and the TLS ``server_name``."""

    address: str
    server_name: str


@dataclass(frozen=True)
class KongNode:
    """A Kong Gateway node described as configuration data.

    - ``role``: ``data_plane``, ``control_plane`` or ``traditional``.
    - ``cluster_mtls``: ``pki`` (Konnect and the default of this project) or ``shared``.
    - ``control_plane`` / ``telemetry``: where a data plane connects (``cluster_control_plane`` /
      ``cluster_server_name``, ``cluster_telemetry_endpoint`` / ``cluster_telemetry_server_name``).
    - ``cluster_cert`` / ``cluster_cert_key``: file paths, PEM text, or :class:`SecretSetting`.
    - ``cluster_ca_cert``: the CA of ``cluster_mtls pki`` (required on a control plane in pki
      mode; a data plane of a self-hosted control plane also trusts it). Konnect data planes leave
      it unset: they verify Konnect with the system CAs.
    - ``konnect``: the node joins Kong Konnect (``konnect_mode on``, ``vitals off``, system CAs).
    - ``labels``: ``cluster_dp_labels`` (data planes only).
    - ``worker_processes``: ``nginx_worker_processes`` (None: Kong's ``auto``, which counts the
      host's CPUs, not the container's share).
    - ``status_port``: the status listener on all interfaces, for health checks (default 8100).
    - ``metrics_address``: None (default), or the address of a second status listener on
      ``metrics_port`` (default :data:`components.kong_facts.METRICS_PORT`) for a metrics agent's
      scrape of ``/metrics``: ``127.0.0.1`` for an agent in the same task (loopback only),
      ``0.0.0.0`` for an agent in another pod (a NetworkPolicy then limits who reaches it). It never
      takes the PROXY protocol flag, whatever ``status_proxy_protocol`` says: a scrape sends no header.
      ``status_listen`` is a comma-separated list of listeners (kong.conf.default).
    - ``database``: ``off`` for data planes, ``postgres`` for control planes, with ``postgres``
      (:class:`PostgresConnection`) saying where.
    - ``proxy_protocol``: both proxy listeners (8000, 8443) require a PROXY protocol header
      (``proxy_listen ... proxy_protocol``) and Kong takes the client address from it
      (``real_ip_header proxy_protocol``) when the connection comes from ``trusted_ips`` (CIDR
      blocks, required then: the load balancer's addresses). Default off: Kong's ``proxy_listen``.
    - ``status_proxy_protocol``: the status listener requires the header too (a load balancer
      with proxy protocol sends it on its health check connections as well). Default off.
    - ``super_admin_password``: ``KONG_PASSWORD``, from which ``kong migrations bootstrap`` makes
      the RBAC super admin ``kong_admin`` (Kong's "Create a Super Admin" guide); not a ``kong.conf``
      setting, only an environment variable the bootstrap reads. Nodes with a database only.
    - ``admin_ssl_cert`` / ``admin_ssl_cert_key``: the certificate and key the Admin API's TLS
      listener presents (file paths or PEM text, Kong's configuration reference); both or neither
      (none: the certificate Kong generates for itself at start). Not on data planes, which serve
      no Admin API.

    Raises ``ValueError`` from :meth:`settings` when the description breaks a rule Kong enforces
    at start-up.
    """

    role: Literal["data_plane", "control_plane", "traditional"]
    cluster_cert: Optional[SettingValue] = None
    cluster_cert_key: Optional[SettingValue] = None
    cluster_mtls: Literal["pki", "shared"] = "pki"
    cluster_ca_cert: Optional[SettingValue] = None
    control_plane: Optional[ClusterEndpoint] = None
    telemetry: Optional[ClusterEndpoint] = None
    konnect: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    worker_processes: Optional[int] = None
    status_port: int = STATUS_PORT
    metrics_address: Optional[str] = None
    metrics_port: int = METRICS_PORT
    database: Literal["off", "postgres"] = "off"
    postgres: Optional[PostgresConnection] = None
    router_flavor: str = "traditional_compatible"
    log_level: str = "notice"
    trusted_certificates: tuple[str, ...] = ("system",)
    proxy_protocol: bool = False
    trusted_ips: tuple[str, ...] = ()
    status_proxy_protocol: bool = False
    super_admin_password: Optional[SettingValue] = None
    admin_ssl_cert: Optional[SettingValue] = None
    admin_ssl_cert_key: Optional[SettingValue] = None

    def settings(self) -> dict[str, SettingValue]:
        """The node's ``kong.conf`` settings, ``{name: value}`` with Kong's lower-case names.

        Values are strings, or :class:`SecretSetting` for those a secret store provides.
        """
        self._check()
        out: dict[str, SettingValue] = {
            "role": self.role,
            "database": self.database,
            "router_flavor": self.router_flavor,
            "log_level": self.log_level,
            # Logs go to the container's streams, where the platform's log driver collects them.
            "proxy_access_log": "/dev/stdout",
            "proxy_error_log": "/dev/stderr",
            "status_error_log": "/dev/stderr",
            "status_listen": ", ".join(self._status_listeners()),
            "lua_ssl_trusted_certificate": ",".join(self.trusted_certificates),
        }
        if self.proxy_protocol:
            # Kong's default listeners with the flag added (kong.conf.default, proxy_listen).
            out["proxy_listen"] = ", ".join(
                " ".join((f"0.0.0.0:{port}", *flags, PROXY_PROTOCOL_FLAG))
                for port, flags in ((PROXY_HTTP_PORT, PROXY_HTTP_LISTEN_FLAGS),
                                    (PROXY_HTTPS_PORT, PROXY_HTTPS_LISTEN_FLAGS)))
            out["real_ip_header"] = REAL_IP_FROM_PROXY_PROTOCOL
            out["trusted_ips"] = ",".join(self.trusted_ips)
        if self.worker_processes is not None:
            out["nginx_worker_processes"] = str(self.worker_processes)
        if self.super_admin_password is not None:
            out["password"] = self.super_admin_password
        if self.admin_ssl_cert is not None:
            out["admin_ssl_cert"] = self.admin_ssl_cert
            out["admin_ssl_cert_key"] = self.admin_ssl_cert_key  # type: ignore[assignment]
        if self.postgres is not None:
            pg = self.postgres
            out.update({"pg_host": pg.host, "pg_port": str(pg.port), "pg_user": pg.user,
                        "pg_database": pg.database, "pg_password": pg.password,
                        "pg_ssl": "on" if pg.ssl else "off", "pg_ssl_verify": "on" if pg.ssl_verify else "off"})
        if self.role == "traditional":
            return out
        out["cluster_mtls"] = self.cluster_mtls
        out["cluster_cert"] = self.cluster_cert  # type: ignore[assignment]
        out["cluster_cert_key"] = self.cluster_cert_key  # type: ignore[assignment]
        if self.cluster_ca_cert is not None:
            out["cluster_ca_cert"] = self.cluster_ca_cert
        if self.role == "data_plane":
            # A data plane serves no Admin API; its configuration comes from the control plane.
            out["admin_listen"] = "off"
            if self.control_plane is not None:
                out["cluster_control_plane"] = self.control_plane.address
                out["cluster_server_name"] = self.control_plane.server_name
            if self.telemetry is not None:
                out["cluster_telemetry_endpoint"] = self.telemetry.address
                out["cluster_telemetry_server_name"] = self.telemetry.server_name
            if self.labels:
                out["cluster_dp_labels"] = ",".join(f"{k}:{v}" for k, v in self.labels.items())
        if self.konnect:
            out["konnect_mode"] = "on"
            out["vitals"] = "off"
        return out

    def _status_listeners(self) -> list[str]:
        status = f"0.0.0.0:{self.status_port}" + (f" {PROXY_PROTOCOL_FLAG}" if self.status_proxy_protocol else "")
        if self.metrics_address is None:
            return [status]
        return [status, f"{self.metrics_address}:{self.metrics_port}"]

    def _check(self) -> None:
        if self.metrics_address is not None and self.metrics_port == self.status_port:
            raise ValueError(f"the metrics listener needs a port of its own, not the status port {self.status_port}")
        if self.role in ("data_plane", "control_plane"):
            if self.cluster_cert is None or self.cluster_cert_key is None:
                raise ValueError("cluster certificate and key must be provided to use Hybrid mode")
        if self.role == "data_plane":
            if self.database != "off":
                raise ValueError('only in-memory storage can be used when role = "data_plane"')
            if self.control_plane is None:
                raise ValueError("a data plane needs the control plane endpoint (cluster_control_plane)")
        if self.role == "control_plane":
            if self.database == "off":
                raise ValueError('in-memory storage can not be used when role = "control_plane"')
            if self.labels:
                raise ValueError('cluster_dp_labels can not be used when role = "control_plane"')
            if self.cluster_mtls == "pki" and self.cluster_ca_cert is None:
                raise ValueError('cluster_ca_cert must be specified when cluster_mtls = "pki"')
        if self.database == "postgres" and self.postgres is None:
            raise ValueError("a node with database postgres needs its PostgreSQL connection")
        if self.role == "traditional" and self.labels:
            raise ValueError('cluster_dp_labels can only be used when role = "data_plane"')
        if self.konnect and self.role != "data_plane":
            raise ValueError("only data planes connect to Konnect")
        if self.worker_processes is not None and self.worker_processes < 1:
            raise ValueError("worker_processes must be at least 1")
        if self.proxy_protocol and self.role == "control_plane":
            raise ValueError("a control plane serves no proxy traffic: proxy_protocol is for data planes")
        if self.proxy_protocol and not self.trusted_ips:
            raise ValueError("proxy_protocol needs trusted_ips (the load balancer's addresses): without them Kong "
                             "ignores the client address the header carries")
        if self.super_admin_password is not None and self.database == "off":
            raise ValueError("the super admin's password is for nodes with a database (kong migrations bootstrap)")
        if (self.admin_ssl_cert is None) != (self.admin_ssl_cert_key is None):
            raise ValueError("admin_ssl_cert and admin_ssl_cert_key go together")
        if self.admin_ssl_cert is not None and self.role == "data_plane":
            raise ValueError("a data plane serves no Admin API: admin_ssl_cert is for control planes")
        if self.trusted_ips and not self.proxy_protocol:
            raise ValueError("trusted_ips is set only with proxy_protocol here")


def worker_processes(vcpus: float) -> int:
    """``nginx_worker_processes`` for a container given ``vcpus`` CPUs (a Fargate task's share, a
    Kubernetes CPU request): one worker per whole CPU, at least one. Kong's default ``auto`` counts
    the host's CPUs, not the container's share, and would start more workers than it has CPU for."""
    return max(1, int(vcpus))


def kubernetes_cpu(quantity: str) -> float:
    """A Kubernetes CPU quantity (``"1"``, ``"1.5"``, ``"500m"``) in CPUs; raises ``ValueError`` for
    another form (Kubernetes' resource quantity syntax: a decimal number, ``m`` for thousandths)."""
    text = str(quantity)
    try:
        return float(text[:-1]) / 1000 if text.endswith("m") else float(text)
    except ValueError:
        raise ValueError(f"not a Kubernetes CPU quantity: {quantity!r}") from None


def env_name(setting: str) -> str:
    """The environment variable Kong reads for ``setting`` (``KONG_`` + upper case)."""
    return "KONG_" + setting.upper()


def container_environment(settings: Mapping[str, SettingValue]) -> tuple[list[dict], list[dict]]:
    """Render settings as an ECS container's ``environment`` and ``secrets`` lists.

    Returns ``(environment, secrets)``: ``[{"name": "KONG_ROLE", "value": "data_plane"}, ...]`` and
    ``[{"name": "KONG_CLUSTER_CERT_KEY", "valueFrom": "<arn>"}, ...]``, each sorted by name. A
    :class:`SecretSetting` never lands in ``environment``.
    """
    environment, secrets = [], []
    for name, value in sorted(settings.items()):
        if isinstance(value, KubernetesSecretKey):
            raise ValueError(f"{name} comes from a Kubernetes Secret, which an ECS container cannot read")
        if isinstance(value, SecretSetting):
            secrets.append({"name": env_name(name), "valueFrom": value.reference})
        else:
            environment.append({"name": env_name(name), "value": value})
    return environment, secrets


def helm_env(settings: Mapping[str, SettingValue]) -> dict[str, Union[str, dict]]:
    """Render settings as the Kong Helm chart's ``env:`` block (keys without the ``KONG_`` prefix).

    A :class:`KubernetesSecretKey` becomes ``{"valueFrom": {"secretKeyRef": {"name", "key"}}}``, so
    the value stays in its Secret. Listener settings (:data:`CHART_MANAGED_SETTINGS`) are left to
    the chart's service blocks, except a ``status_listen`` of more than one listener
    (:data:`STATUS_LISTEN`). Raises ``ValueError`` for a :class:`SecretSetting`: a chart value
    is not a secret store.
    """
    out: dict[str, Union[str, dict]] = {}
    for name, value in sorted(settings.items()):
        beyond_chart = name == STATUS_LISTEN and isinstance(value, str) and "," in value
        if name in CHART_MANAGED_SETTINGS and not beyond_chart:
            continue
        if isinstance(value, SecretSetting):
            raise ValueError(f"{name} comes from a secret store; give the chart a Kubernetes Secret or a file path")
        if isinstance(value, KubernetesSecretKey):
            out[name] = {"valueFrom": {"secretKeyRef": {"name": value.name, "key": value.key}}}
        else:
            out[name] = value
    return out
