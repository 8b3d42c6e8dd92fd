"""Facts about Kong Gateway and its Helm chart that the components build on, each stated once.

Nothing here declares a resource or imports an SDK: the policy pack and the tests read the same
values. Sources:

- Kong's configuration reference (../shared/reference/kong.conf.default, Kong 3.9.3, and the
  Enterprise references in ../shared/reference/kong-gateway-ee-conf/): the default listeners
  ``proxy_listen`` 0.0.0.0:8000 / 0.0.0.0:8443 ssl, ``admin_listen`` 127.0.0.1:8001 / 8444 ssl,
  ``admin_gui_listen`` 0.0.0.0:8002 / 8445 ssl, ``cluster_listen`` 0.0.0.0:8005,
  ``cluster_telemetry_listen`` 0.0.0.0:8006, ``status_listen`` 127.0.0.1:8007; ``router_flavor``
  default ``traditional_compatible``; ``log_level`` default ``notice``.
- Kong's status API ("Health check probes", Kong docs): ``GET /status`` answers 200 while the node
  runs; ``GET /status/ready`` answers 503 until a data plane holds a non-empty configuration.
- The Kong Helm chart 3.4.1 (../shared/reference/kong-chart-3.4.1/templates/_helpers.tpl and
  values.yaml): objects are named ``<release>-kong`` (``kong.fullname``), each service
  ``<fullname>-<service block>`` (``kong.service``), e.g. seed 002's ``kong-cp-kong-cluster``.
- Kong's hybrid mode guide: the shared cluster certificate's subject ``kong_clustering``.
"""

import enum

#: Kong's proxy listeners (``proxy_listen`` default): plain HTTP and TLS.
PROXY_HTTP_PORT = 8000
PROXY_HTTPS_PORT = 8443
#: The Admin API over TLS (``admin_listen`` default ``127.0.0.1:8444 ssl``) and plain (8001).
ADMIN_HTTP_PORT = 8001
ADMIN_HTTPS_PORT = 8444
#: Kong Manager (``admin_gui_listen``), plain and TLS.
MANAGER_HTTP_PORT = 8002
MANAGER_HTTPS_PORT = 8445
#: A control plane's cluster and cluster telemetry listeners (``cluster_listen``,
#: ``cluster_telemetry_listen``), the chart's ``cluster.tls`` and ``clustertelemetry.tls`` ports.
CLUSTER_PORT = 8005
TELEMETRY_PORT = 8006
#: The Kong Manager/Dev Portal ports the chart's ``portal`` / ``portalapi`` blocks use (Enterprise).
PORTAL_PORTS = (8003, 8446)
PORTAL_API_PORTS = (8004, 8447)
#: Kong's own status listener default (``status_listen 127.0.0.1:8007``): loopback only.
KONG_DEFAULT_STATUS_PORT = 8007
#: The status listener this project opens on all interfaces so load balancers and probes can reach it.
STATUS_PORT = 8100
#: A second status listener for the CloudWatch agent's scrape of ``/metrics``
#: (components/metrics_agent.py), never with proxy protocol: :data:`STATUS_PORT` requires the
#: PROXY header when the load balancer sends it on health checks, and a scrape sends none. Its own
#: port also lets a NetworkPolicy open it to the agent alone. ``status_listen`` takes a
#: comma-separated list of listeners (kong.conf.default).
METRICS_PORT = 8101
#: The answer of a data plane with no matching route, the proof that it serves traffic (Kong's
#: router; the message the seeds' walkthroughs show after their first `curl`).
NO_ROUTE = "404 (no Route matched with those values)"
#: The chart's TLS status listener (values.yaml ``status.tls.containerPort``, off by default).
CHART_STATUS_TLS_PORT = 8543

#: The listener flag that makes Kong (nginx) read a PROXY protocol header (v1 or v2) before
#: anything else on every connection of that listener: ``proxy_listen`` and ``status_listen`` both
#: accept it (kong.conf.default). A connection without the header is refused; nginx has no
#: "header optional" mode.
PROXY_PROTOCOL_FLAG = "proxy_protocol"
#: ``real_ip_header`` value that takes the client address from the PROXY protocol header (it needs
#: a ``proxy_listen`` entry with :data:`PROXY_PROTOCOL_FLAG`, kong.conf.default).
REAL_IP_FROM_PROXY_PROTOCOL = "proxy_protocol"
#: The flags of Kong's default ``proxy_listen`` entries (kong.conf.default, Kong 3.9).
PROXY_HTTP_LISTEN_FLAGS = ("reuseport", "backlog=16384")
PROXY_HTTPS_LISTEN_FLAGS = ("http2", "ssl", "reuseport", "backlog=16384")
#: Private IPv4 blocks (RFC 1918 and RFC 6598's shared space, both allowed as VPC blocks): the
#: ``trusted_ips`` used when the VPC's own block is not known to the program (an existing VPC).
PRIVATE_IPV4_BLOCKS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")

#: Liveness path of the status API: 200 while Kong runs, whatever configuration it holds.
STATUS_PATH = "/status"
#: Readiness path: 503 until a data plane has a non-empty configuration.
STATUS_READY_PATH = "/status/ready"

#: The subject name of a shared cluster certificate in Kong's hybrid guide, and the default CN of
#: every cluster certificate this project generates.
DEFAULT_CLUSTER_CN = "kong_clustering"

#: The Kong Helm chart's name and repository.
CHART = "kong"
CHART_REPOSITORY = "https://charts.konghq.com"

#: Every TCP port a Kong node may listen on, by what it serves (the policy pack's list must cover it).
LISTENER_PORTS: dict[str, tuple[int, ...]] = {
    "proxy": (PROXY_HTTP_PORT, PROXY_HTTPS_PORT),
    "admin": (ADMIN_HTTP_PORT, ADMIN_HTTPS_PORT),
    "manager": (MANAGER_HTTP_PORT, MANAGER_HTTPS_PORT),
    "portal": PORTAL_PORTS,
    "portalapi": PORTAL_API_PORTS,
    "cluster": (CLUSTER_PORT,),
    "clustertelemetry": (TELEMETRY_PORT,),
    "status": (STATUS_PORT, KONG_DEFAULT_STATUS_PORT, CHART_STATUS_TLS_PORT, METRICS_PORT),
}
#: Listeners that must never be reachable from outside the cluster or the VPC.
PRIVATE_LISTENERS = ("admin", "manager", "portal", "portalapi", "cluster", "clustertelemetry", "status")


class RouterFlavor(str, enum.Enum):
    """Kong's ``router_flavor`` (../shared/reference/kong_conf_validation.json ``enums``)."""

    TRADITIONAL = "traditional"
    TRADITIONAL_COMPATIBLE = "traditional_compatible"
    EXPRESSIONS = "expressions"


class LogLevel(str, enum.Enum):
    """Kong's ``log_level`` (../shared/reference/kong_conf_validation.json ``enums``)."""

    DEBUG = "debug"
    INFO = "info"
    NOTICE = "notice"
    WARN = "warn"
    ERROR = "error"
    CRIT = "crit"
    ALERT = "alert"
    EMERG = "emerg"


class ClusterMtls(str, enum.Enum):
    """Kong's ``cluster_mtls``: ``pki`` (a CA, a certificate per role) or ``shared`` (one certificate)."""

    PKI = "pki"
    SHARED = "shared"


#: Kong's defaults for the two settings this project exposes.
DEFAULT_ROUTER_FLAVOR = RouterFlavor.TRADITIONAL_COMPATIBLE
DEFAULT_LOG_LEVEL = LogLevel.NOTICE


def chart_fullname(release: str) -> str:
    """The chart's ``kong.fullname`` of release ``release``: ``<release>-kong`` cut to 63
    characters without a trailing ``-`` (_helpers.tpl ``kong.fullname``, no overrides set)."""
    return f"{release}-{CHART}"[:63].rstrip("-")


def chart_service_name(release: str, service: str) -> str:
    """The name of the Service the chart renders for block ``service`` (``proxy``, ``admin``,
    ``cluster``, ``clustertelemetry`` ...) of release ``release``: ``<fullname>-<service>``."""
    return f"{chart_fullname(release)}-{service}"


def chart_service_host(release: str, service: str, namespace: str) -> str:
    """The cluster DNS name of :func:`chart_service_name` in ``namespace``
    (``<name>.<namespace>.svc.cluster.local``)."""
    return f"{chart_service_name(release, service)}.{namespace}.svc.cluster.local"
