"""A self-hosted hybrid Kong on Kubernetes: control plane with PostgreSQL, data planes, Kong's Helm chart.

Replaces the hand-made setup of seed 002 (a namespace, an enterprise license secret and an openssl
certificate created with kubectl, two values files applied through Argo CD, a data plane that dials a
hard-coded service name): here the certificates come from pulumi-tls (``cluster_mtls pki`` by
default), every secret reaches Kong through Kubernetes Secrets, the control plane's database is
provided by :class:`components.postgres.Postgres`, and the data planes dial the service names the
control plane release really creates.

Kong's settings for both releases come from :mod:`components.kong_settings` (the module that also
builds the ECS data plane's) and are rendered as the chart's ``env:`` block.
"""

import copy
import enum
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional, Required, TypedDict, cast

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.certificates import (CLIENT_USAGES, SERVER_USAGES, CertificateSettings, ClusterCertificate,
                                     ClusterCertificateArgs)
from components.gateway_sync import (DECK_REPOSITORY, DECK_VERSION, GatewaySync, GatewaySyncArgs,
                                     GatewaySyncSettings, check_gateway)
from components.image_source import pulled_repository
from components.kong_facts import (ADMIN_HTTPS_PORT, CHART, CHART_REPOSITORY, CLUSTER_PORT, DEFAULT_CLUSTER_CN,
                                   PRIVATE_IPV4_BLOCKS, PROXY_PROTOCOL_FLAG, STATUS_PATH, STATUS_PORT, TELEMETRY_PORT,
                                   ClusterMtls, chart_service_host, chart_service_name)
from components.kong_settings import (KONG_DEFAULTS, ClusterEndpoint, KongArgs, KongNode, KubernetesSecretKey,
                                      PostgresConnection, helm_env, image_reference, kubernetes_cpu, worker_processes)
from components.metrics_agent import (AGENT_POD_LABELS, ALL_ADDRESSES, MetricsAgentArgs, agent_deployment,
                                     agent_service_account, metrics_service, stack_dimension_value)
from components.network_policy import kong_network_policies, release_deployment_labels, release_pod_labels
from components.package import type_token, with_defaults
from components.postgres import Postgres, PostgresArgs, PostgresSettings, rds_ca_bundle_pem

__all__ = ["CLUSTER_PORT", "TELEMETRY_PORT", "chart_service_host", "KongHybrid", "KongHybridArgs", "HybridInstall",
           "HybridSettings", "HYBRID_DEFAULTS"]

#: Where the chart mounts each ``secretVolumes`` entry: ``/etc/secrets/<secret name>``.
SECRET_MOUNT = "/etc/secrets"
LICENSE_SECRET = "kong-enterprise-license"
#: With a license and ``admin_rbac``: the Secret that holds the RBAC token of Kong's super admin
#: ``kong_admin`` (key ``password``: ``kong migrations bootstrap`` creates the super admin with
#: the token in ``KONG_PASSWORD``) and Kong Manager's session settings (key
#: ``admin_gui_session_conf``, which the chart's ``enterprise.rbac.session_conf_secret`` names).
#: Source: Kong's "Enable Basic Auth for Kong Manager" and "Create a Super Admin" guides
#: (developer.konghq.com/how-to/enable-basic-auth-on-kong-manager, /how-to/create-a-super-admin).
ADMIN_SECRET = "kong-admin"
ADMIN_TOKEN_KEY = "password"
SESSION_CONF_KEY = "admin_gui_session_conf"
#: With a gateway file: the TLS Secret of the Admin API's certificate (:meth:`KongHybrid._admin_certificate`).
ADMIN_TLS_SECRET = "kong-admin-tls"
#: The header that carries an RBAC token to the Admin API (Kong's RBAC guides).
ADMIN_TOKEN_HEADER = "Kong-Admin-Token"
#: Where the control plane mounts the database's CA bundle (the chart's ``extraConfigMaps``).
DATABASE_CA_MOUNT = "/etc/kong-postgres-ca"
#: The labels of pods in Kong's namespace that may use the Admin API besides the control plane's
#: own (:func:`components.network_policy.kong_network_policies`).
ADMIN_CLIENT_LABELS = {"kong-aws/admin-client": "true"}
#: Container resources of the two releases. Both releases' nginx workers follow the CPU request
#: (:func:`components.kong_settings.worker_processes`).
CONTROL_PLANE_RESOURCES = {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}}
DATA_PLANE_RESOURCES = {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "2Gi"}}
#: The subject name of a ``shared`` cluster certificate, the one Kong's hybrid guide uses.
SHARED_NAME = DEFAULT_CLUSTER_CN


class HybridSettings(TypedDict, total=False):
    """The control plane and data plane releases as a user chooses them (defaults:
    :data:`HYBRID_DEFAULTS`)."""

    namespace: str
    """Kubernetes namespace of both releases (default ``kong``)"""
    chart_version: str
    """version of the ``kong`` Helm chart from https://charts.konghq.com (default ``3.4.1``)"""
    control_plane_release: str
    """Helm release name of the control plane (default ``kong-cp``)"""
    data_plane_release: str
    """Helm release name of the data planes (default ``kong-dp``)"""
    cluster_mtls: ClusterMtls
    """``pki`` (a CA and a certificate per role, default) or ``shared`` (one certificate)"""
    control_plane_replicas: int
    """control plane replicas, 1-10 (default 2)"""
    data_plane_min_replicas: int
    """data plane replicas, the autoscaler's minimum (default 2)"""
    data_plane_max_replicas: int
    """the autoscaler's maximum (default 6); equal to the minimum: no autoscaler"""
    data_plane_cpu_target_percent: int
    """average CPU the autoscaler aims at (default 70)"""
    proxy_internal: bool
    """an internal NLB for the proxy (default false)"""
    allowed_cidrs: list[str]
    """who may reach the proxy (default all)"""
    proxy_protocol: bool
    """proxy protocol v2 from the proxy NLB to Kong's proxy listeners (default false): Kong sees the
    clients' addresses"""
    admin_rbac: bool
    """with an enterprise license: Kong RBAC on the Admin API and basic-auth on Kong Manager, the super
    admin's token in the Secret :data:`ADMIN_SECRET` (default true; without a license Kong has no RBAC)"""


class HybridInstall(TypedDict, total=False):
    """What a hybrid install runs, as a user chooses it: Kong, the releases, the certificates, the
    database and the license."""

    kong: Required[KongArgs]
    """the Kong Gateway both releases run"""
    hybrid: HybridSettings
    """the releases"""
    certificate: CertificateSettings
    """how the cluster certificates are generated"""
    postgres: PostgresSettings
    """the control plane's database"""
    cluster_cert_pem: pulumi.Input[str]
    """a shared cluster certificate to use instead of generating one (``cluster_mtls`` ``shared``)"""
    cluster_cert_key_pem: pulumi.Input[str]
    """its private key (kept secret)"""
    enterprise_license: pulumi.Input[str]
    """the Kong Enterprise license JSON (kept secret); none: Kong's free mode"""


class KongHybridArgs(HybridInstall, total=False):
    """Arguments of :class:`KongHybrid`: :class:`HybridInstall` and what the cluster offers. The
    cluster's Kubernetes provider reaches it through ``opts`` (``providers``)."""

    vpc_id: pulumi.Input[str]
    """RDS: the VPC"""
    private_subnet_ids: pulumi.Input[list[str]]
    """RDS: private subnets of the DB subnet group"""
    cluster_security_group_id: pulumi.Input[str]
    """RDS: the cluster security group allowed to reach the database"""
    storage_class_name: pulumi.Input[Optional[str]]
    """in-cluster PostgreSQL: the StorageClass of its volume (none: the cluster's default)"""
    load_balancer_class: pulumi.Input[str]
    """the proxy Service's load balancer class (default: none, the cluster's default)"""
    node_selector: pulumi.Input[dict[str, str]]
    """the nodeSelector of Kong's pods (default none): nodes that enforce network policies
    (:attr:`components.eks_cluster.EksCluster.pod_node_selector`)"""
    image_source_ready: pulumi.Input[str]
    """resolves once the images can be pulled (:attr:`components.image_source.ImageSource.ready`):
    what pulls is declared after it"""
    gateway_sync: GatewaySyncSettings
    """the gateway file applied to the control plane by decK from inside the cluster
    (:class:`components.gateway_sync.GatewaySync`; default none)"""
    metrics_agent: MetricsAgentArgs
    """Kong's Prometheus metrics into CloudWatch: the data planes get a metrics listener and one
    CloudWatch agent Deployment scrapes it (:meth:`KongHybrid._metrics_agent`), declared once
    ``ready`` resolves (default none)"""


#: Defaults of :class:`HybridSettings`, the only place they are written. ``chart_version`` 3.4.1 is
#: the chart in ../shared/reference/kong-chart-3.4.1 that the tests render.
HYBRID_DEFAULTS: HybridSettings = {
    "namespace": "kong", "chart_version": "3.4.1", "control_plane_release": "kong-cp",
    "data_plane_release": "kong-dp", "cluster_mtls": ClusterMtls.PKI, "control_plane_replicas": 2,
    "data_plane_min_replicas": 2, "data_plane_max_replicas": 6, "data_plane_cpu_target_percent": 70,
    # Proxy protocol off unless asked for, as on ECS (components/proxy_load_balancer.py says why).
    "proxy_internal": False, "allowed_cidrs": ["0.0.0.0/0"], "proxy_protocol": False, "admin_rbac": True}

#: The proxy Service's annotations with proxy protocol (AWS Load Balancer Controller "Service
#: annotations", honoured by EKS Auto Mode): PROXY protocol v2 on every target group, and health
#: checks over TCP on the traffic port. The NLB sends the header on health check connections too
#: (ELB docs), so the health check goes to a listener that requires it (Kong's proxy port); a TCP
#: check only needs the connection accepted. Kong's status listener stays without the flag, for
#: the kubelet's probes, which send no header.
PROXY_PROTOCOL_ANNOTATIONS = {
    "service.beta.kubernetes.io/aws-load-balancer-proxy-protocol": "*",
    "service.beta.kubernetes.io/aws-load-balancer-healthcheck-protocol": "tcp",
    "service.beta.kubernetes.io/aws-load-balancer-healthcheck-port": "traffic-port",
}


#: Types of the components before they formed one package (aliases keep their URNs).
_TYPE_BEFORE = {"Postgres": "kong-aws:postgres:Postgres", "ClusterCertificate": "kong-aws:certificates:ClusterCertificate"}


def _value(item: Any) -> Any:
    return item.value if isinstance(item, enum.Enum) else item


def _mount(secret: str, key: str) -> str:
    return f"{SECRET_MOUNT}/{secret}/{key}"


@dataclass(frozen=True)
class ClusterSecrets:
    """Names of the Kubernetes Secrets that hold the cluster certificates, by mode:
    ``pki``: a CA (``ca.crt``), a control plane and a data plane TLS secret; ``shared``: one.
    ``admin``: the Admin API's TLS secret, when the control plane presents a certificate of ours."""

    control_plane: str
    data_plane: str
    ca: Optional[str]
    admin: Optional[str] = None


def _common(kong: Mapping[str, Any], hybrid: Mapping[str, Any]) -> dict[str, Any]:
    return dict(cluster_mtls=_value(hybrid["cluster_mtls"]), router_flavor=_value(kong["router_flavor"]),
                log_level=_value(kong["log_level"]), status_port=STATUS_PORT)


def _ca_path(hybrid: Mapping[str, Any], secrets: ClusterSecrets) -> Optional[str]:
    return _mount(secrets.ca, "ca.crt") if hybrid["cluster_mtls"] == "pki" and secrets.ca else None


def control_plane_node(kong: Mapping[str, Any], hybrid: Mapping[str, Any], secrets: ClusterSecrets,
                       database: PostgresConnection, database_ca: Optional[str] = None,
                       rbac: bool = False) -> KongNode:
    """The control plane of a hybrid install, as configuration data: its database, its cluster
    certificate and (``pki``) the CA it verifies data planes with, read from the files the chart
    mounts from ``secrets``. ``database_ca``: the path of the CA bundle that verifies the database
    server (``pg_ssl_verify``), added to ``lua_ssl_trusted_certificate``, which is what Kong verifies
    PostgreSQL's certificate with (Kong's configuration reference, ``pg_ssl_verify``). ``rbac``: the
    super admin's token from :data:`ADMIN_SECRET` as ``KONG_PASSWORD``."""
    cert = secrets.control_plane
    trusted = ("system", database_ca) if database_ca else ("system",)
    return KongNode(role="control_plane", database="postgres", postgres=database,
                    cluster_cert=_mount(cert, "tls.crt"), cluster_cert_key=_mount(cert, "tls.key"),
                    cluster_ca_cert=_ca_path(hybrid, secrets), trusted_certificates=trusted,
                    worker_processes=worker_processes(kubernetes_cpu(CONTROL_PLANE_RESOURCES["requests"]["cpu"])),
                    super_admin_password=KubernetesSecretKey(ADMIN_SECRET, ADMIN_TOKEN_KEY) if rbac else None,
                    admin_ssl_cert=_mount(secrets.admin, "tls.crt") if secrets.admin else None,
                    admin_ssl_cert_key=_mount(secrets.admin, "tls.key") if secrets.admin else None,
                    **_common(kong, hybrid))


def data_plane_node(kong: Mapping[str, Any], hybrid: Mapping[str, Any], secrets: ClusterSecrets,
                    licensed: bool = True, metrics: bool = False) -> KongNode:
    """The data plane of a hybrid install, as configuration data.

    It dials ``<control plane release>-kong-cluster`` (8005) and, ``licensed``,
    ``-clustertelemetry`` (8006) in the namespace, verifying the control plane by that name (``pki``: Kong adds ``cluster_ca_cert``
    to ``lua_ssl_trusted_certificate`` itself, per ../shared/reference/kong_conf_validation.json) or
    by the shared certificate, listed as trusted as in the chart's hybrid example.

    With ``proxy_protocol`` its proxy listeners require the PROXY protocol header and trust the
    client address in it from :data:`components.kong_facts.PRIVATE_IPV4_BLOCKS` (the NLB's
    addresses are in the VPC, whose block this component is not given); ``proxy_listen`` itself
    comes from the chart's ``proxy`` block (:func:`data_plane_values`).

    ``metrics``: a second status listener on all addresses for the metrics agent's pod
    (``metrics_address`` :data:`components.metrics_agent.ALL_ADDRESSES`, never with proxy
    protocol), which the namespace's NetworkPolicy opens to that pod only; the probes keep the
    chart's ``status`` port.
    """
    ns, cp_release, pki = hybrid["namespace"], hybrid["control_plane_release"], hybrid["cluster_mtls"] == "pki"
    cluster_host = chart_service_host(cp_release, "cluster", ns)
    telemetry_host = chart_service_host(cp_release, "clustertelemetry", ns)
    cert = secrets.data_plane
    return KongNode(
        role="data_plane",
        cluster_cert=_mount(cert, "tls.crt"), cluster_cert_key=_mount(cert, "tls.key"),
        cluster_ca_cert=_ca_path(hybrid, secrets),
        control_plane=ClusterEndpoint(f"{cluster_host}:{CLUSTER_PORT}", cluster_host if pki else SHARED_NAME),
        telemetry=ClusterEndpoint(f"{telemetry_host}:{TELEMETRY_PORT}", telemetry_host if pki else SHARED_NAME)
        if licensed else None,
        trusted_certificates=("system",) if pki else ("system", _mount(secrets.control_plane, "tls.crt")),
        proxy_protocol=bool(hybrid["proxy_protocol"]),
        trusted_ips=PRIVATE_IPV4_BLOCKS if hybrid["proxy_protocol"] else (),
        worker_processes=worker_processes(kubernetes_cpu(DATA_PLANE_RESOURCES["requests"]["cpu"])),
        metrics_address=ALL_ADDRESSES if metrics else None,
        **_common(kong, hybrid))


def _image(kong: Mapping[str, Any]) -> dict:
    # Kong's image as the nodes pull it: through the ECR pull through cache when kong asks for one.
    repository = pulled_repository(cast(KongArgs, kong))
    if kong["version"].startswith("sha256:"):
        return {"repository": repository, "unifiedRepoTag": image_reference(repository, kong["version"])}
    return {"repository": repository, "tag": kong["version"]}


def _service(enabled: bool, **extra: Any) -> dict:
    return {"enabled": enabled, **extra}


def _pod_placement(release: str, node_selector: Optional[Mapping[str, str]]) -> dict:
    """Values that spread a release's pods over zones (required: a zone outage leaves the others
    serving; Auto Mode then starts nodes in the zones that lack pods) and over nodes (preferred),
    counting only pods of the same revision (``pod-template-hash``, so a rolling update spreads the
    new pods too), and put them on ``node_selector``'s nodes. Kubernetes docs, "Pod Topology Spread
    Constraints" (``matchLabelKeys``: beta and on by default since 1.27)."""
    selector = {"matchLabels": release_deployment_labels(release)}
    values: dict[str, Any] = {"topologySpreadConstraints": [
        {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
         "labelSelector": selector, "matchLabelKeys": ["pod-template-hash"]},
        {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
         "labelSelector": selector, "matchLabelKeys": ["pod-template-hash"]}]}
    if node_selector:
        values["nodeSelector"] = dict(node_selector)
    return values


def _enterprise(licensed: bool, rbac: bool) -> dict:
    if not licensed:
        return {"enabled": False}
    values: dict[str, Any] = {"enabled": True, "license_secret": LICENSE_SECRET}
    if rbac:
        values["rbac"] = {"enabled": True, "admin_gui_auth": "basic-auth", "session_conf_secret": ADMIN_SECRET}
    return values


def _disruption_budget(min_pods: int) -> dict:
    # One pod may go at a time; with a single pod a budget would block every node drain (the chart
    # refuses to render it: templates/pdb.yaml), so there is none.
    return {"enabled": min_pods > 1, "maxUnavailable": 1}


def control_plane_values(kong: Mapping[str, Any], hybrid: Mapping[str, Any], node: KongNode, secrets: ClusterSecrets,
                         licensed: bool, cert_sha256: str, node_selector: Optional[Mapping[str, str]] = None) -> dict:
    """Helm values of the control plane release (keys as in the chart's values.yaml).

    Admin API and Kong Manager: ClusterIP services (reachable inside the cluster only, and there
    only from the release's own pods: :mod:`components.network_policy`), the Admin API over TLS.
    With a license and ``admin_rbac``, Kong RBAC (``enforce_rbac on``, Kong Manager basic-auth) and
    the super admin's token from :data:`ADMIN_SECRET` as ``KONG_PASSWORD``, which the chart hands
    to the migration Jobs too (``kong migrations bootstrap`` creates the admin with it). Proxy and
    the ingress controller off; the chart's bundled PostgreSQL off.
    """
    settings = node.settings()
    # RBAC is on when the node bootstraps a super admin (control_plane_node's ``rbac``).
    rbac = licensed and "password" in settings
    env = helm_env(settings)
    volumes = [secrets.control_plane] + ([secrets.ca] if secrets.ca else []) + ([secrets.admin] if secrets.admin else [])
    values = {
        "image": _image(kong),
        "env": env,
        "secretVolumes": volumes,
        "replicaCount": hybrid["control_plane_replicas"],
        "admin": _service(True, type="ClusterIP", http={"enabled": False},
                          tls={"enabled": True, "servicePort": ADMIN_HTTPS_PORT, "containerPort": ADMIN_HTTPS_PORT}),
        # Kong Manager and cluster telemetry are Enterprise listeners: the chart declares their
        # container ports and listen settings only with enterprise.enabled (templates/deployment.yaml,
        # _helpers.tpl), as its free-mode hybrid example has neither (example-values/
        # minimal-kong-hybrid-control.yaml), so their Services exist only with a license.
        "manager": _service(licensed, type="ClusterIP"),
        # The chart turns the Dev Portal's Services on (NodePort) whenever enterprise is enabled;
        # nothing listens behind them here (no portal_* settings), so they stay off.
        "portal": _service(False),
        "portalapi": _service(False),
        "cluster": _service(True, type="ClusterIP",
                            tls={"enabled": True, "servicePort": CLUSTER_PORT, "containerPort": CLUSTER_PORT}),
        "clustertelemetry": _service(licensed, type="ClusterIP",
                                     tls={"enabled": True, "servicePort": TELEMETRY_PORT,
                                          "containerPort": TELEMETRY_PORT}),
        "proxy": _service(False),
        "ingressController": {"enabled": False},
        "postgresql": {"enabled": False},
        "migrations": {"preUpgrade": True, "postUpgrade": True},
        "podAnnotations": {"kong-aws/cluster-cert-sha256": cert_sha256},
        "podDisruptionBudget": _disruption_budget(hybrid["control_plane_replicas"]),
        "resources": copy.deepcopy(CONTROL_PLANE_RESOURCES),
        "enterprise": _enterprise(licensed, rbac),
        **_pod_placement(hybrid["control_plane_release"], node_selector),
    }
    return values


def data_plane_values(kong: Mapping[str, Any], hybrid: Mapping[str, Any], node: KongNode, secrets: ClusterSecrets,
                      licensed: bool, cert_sha256: str, load_balancer_class: Optional[str],
                      node_selector: Optional[Mapping[str, str]] = None) -> dict:
    """Helm values of the data plane release (keys as in the chart's values.yaml).

    The proxy is an AWS NLB ``LoadBalancer`` (``loadBalancerClass`` of the cluster, internet-facing
    unless ``proxyInternal``, limited to ``allowedCidrs``); no Admin API or Manager. Probes use the
    status listener; readiness is ``/status`` because ``/status/ready`` stays 503 while the control
    plane has no configuration, which would keep a new install from ever becoming ready.

    With ``proxy_protocol`` the NLB sends PROXY protocol v2 (:data:`PROXY_PROTOCOL_ANNOTATIONS`,
    health checks over TCP on the proxy ports) and both proxy listeners require it (the chart's
    ``proxy.http.parameters`` / ``proxy.tls.parameters``, which replace its default ``[http2]``).

    The pods run Kong alone: a metrics agent is a Deployment of its own (a crash-looping container
    would make every data plane pod NotReady), and ``node``'s metrics listener, if any, reaches
    the chart as ``env.status_listen`` (:data:`components.kong_settings.STATUS_LISTEN`).
    """
    volumes = [secrets.data_plane] + ([secrets.ca] if secrets.ca else [])
    autoscale = hybrid["data_plane_max_replicas"] > hybrid["data_plane_min_replicas"]
    scheme = "internal" if hybrid["proxy_internal"] else "internet-facing"
    proxy = _service(
        True, type="LoadBalancer",
        annotations={"service.beta.kubernetes.io/aws-load-balancer-scheme": scheme,
                     "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip"},
        loadBalancerSourceRanges=list(hybrid["allowed_cidrs"]))
    if load_balancer_class:
        proxy["loadBalancerClass"] = load_balancer_class
    if hybrid["proxy_protocol"]:
        proxy["annotations"].update(PROXY_PROTOCOL_ANNOTATIONS)
        proxy["http"] = {"enabled": True, "parameters": [PROXY_PROTOCOL_FLAG]}
        proxy["tls"] = {"enabled": True, "parameters": ["http2", PROXY_PROTOCOL_FLAG]}
    probe = {"httpGet": {"path": STATUS_PATH, "port": "status", "scheme": "HTTP"},
             "initialDelaySeconds": 5, "timeoutSeconds": 5, "periodSeconds": 10, "failureThreshold": 3}
    values = {
        "image": _image(kong),
        "env": helm_env(node.settings()),
        "secretVolumes": volumes,
        "replicaCount": hybrid["data_plane_min_replicas"],
        "autoscaling": {
            "enabled": autoscale, "minReplicas": hybrid["data_plane_min_replicas"],
            "maxReplicas": hybrid["data_plane_max_replicas"],
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                "type": "Utilization", "averageUtilization": hybrid["data_plane_cpu_target_percent"]}}}],
        },
        "podDisruptionBudget": _disruption_budget(hybrid["data_plane_min_replicas"]),
        "admin": _service(False),
        "manager": _service(False),
        "portal": _service(False),
        "portalapi": _service(False),
        "proxy": proxy,
        "ingressController": {"enabled": False},
        "postgresql": {"enabled": False},
        "readinessProbe": probe,
        "livenessProbe": probe,
        "podAnnotations": {"kong-aws/cluster-cert-sha256": cert_sha256},
        "resources": copy.deepcopy(DATA_PLANE_RESOURCES),
        # RBAC guards the Admin API, which data planes do not serve.
        "enterprise": _enterprise(licensed, False),
        **_pod_placement(hybrid["data_plane_release"], node_selector),
    }
    return values


class KongHybrid(pulumi.ComponentResource):
    """Kong hybrid mode on Kubernetes (type ``kong-aws:index:KongHybrid``).

    Children: the namespace; the cluster certificates (``pki``: a CA, a control plane certificate
    for the names data planes dial, a data plane client certificate; ``shared``: one) and their
    Secrets; the enterprise license Secret (when given) and with it the admin Secret
    (:data:`ADMIN_SECRET`, from two ``RandomPassword``; used once ``admin_rbac`` is on); :class:`Postgres`; the control plane
    Helm release; the data plane Helm release, which waits for the control plane's. Both releases
    skip the chart's CRDs (its ingress controller is off). With ``metrics_agent``, the CloudWatch
    agent's ServiceAccount, headless Service and Deployment (:meth:`_metrics_agent`).

    Outputs: ``namespace``, ``proxy_hostname`` (the proxy NLB's DNS name), ``control_plane_release``
    / ``data_plane_release`` (release names),
    ``proxy_service`` (``<release>-kong-proxy``), ``admin_service``, ``control_plane_values`` and
    ``data_plane_values`` (the Helm values, which hold no secret), ``cluster_ca_pem``,
    ``admin_token_secret``, ``gateway_sync_job``.

    With ``gateway_sync``: the Admin API's own CA and certificate in the TLS Secret
    :data:`ADMIN_TLS_SECRET`, which the control plane presents (``admin_ssl_cert``), and
    ``{name}-gateway-sync`` (:class:`components.gateway_sync.GatewaySync`), which applies the file
    once the control plane release is ready.

    Raises ``ValueError`` for a provided certificate without ``cluster_mtls`` ``shared``, for
    ``kong.data_plane_labels`` (Konnect-only) and for a gateway file decK would refuse
    (:func:`components.gateway_sync.check_gateway`).
    """

    namespace: pulumi.Output[str]
    """the Kubernetes namespace of both releases"""
    proxy_hostname: pulumi.Output[str]
    """the proxy NLB's DNS name"""
    control_plane_release: pulumi.Output[str]
    """the control plane's Helm release name"""
    data_plane_release: pulumi.Output[str]
    """the data planes' Helm release name"""
    proxy_service: pulumi.Output[str]
    """the proxy Service's name"""
    admin_service: pulumi.Output[str]
    """the Admin API Service's name (ClusterIP only)"""
    control_plane_values: pulumi.Output[dict[str, Any]]
    """the control plane release's Helm values (no secret in them)"""
    data_plane_values: pulumi.Output[dict[str, Any]]
    """the data plane release's Helm values (no secret in them)"""
    cluster_ca_pem: pulumi.Output[str]
    """the CA data planes verify the control plane with, PEM"""
    admin_token_secret: pulumi.Output[str]
    """the Secret holding the Admin API's RBAC token (key ``password``), or ``""`` without RBAC"""
    gateway_sync_job: pulumi.Output[str]
    """the Job that applied the gateway file (:class:`components.gateway_sync.GatewaySync`), or ``""`` without one"""

    def __init__(self, name: str, args: KongHybridArgs, opts: Optional[pulumi.ResourceOptions] = None):
        hybrid = with_defaults(args.get("hybrid") or {}, HYBRID_DEFAULTS)
        kong = with_defaults(args["kong"], KONG_DEFAULTS)
        provided = args.get("cluster_cert_pem") is not None
        if provided and ClusterMtls(hybrid["cluster_mtls"]) is not ClusterMtls.SHARED:
            raise ValueError("a provided certificate is the shared cluster certificate: use cluster_mtls 'shared'")
        if kong["data_plane_labels"]:
            raise ValueError("kong.data_plane_labels are Konnect labels (cluster_dp_labels), which a self-hosted "
                             "control plane does not support (Kong's configuration reference)")
        if args.get("gateway_sync") is not None and (problems := check_gateway(args["gateway_sync"])):
            raise ValueError("gateway_sync: " + "; ".join(problems))
        super().__init__(type_token(KongHybrid), name, None, opts)
        k8s_opts = pulumi.ResourceOptions(parent=self)
        ns_name = hybrid["namespace"]

        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": ns_name, "labels": {
                "app.kubernetes.io/managed-by": "pulumi",
                # The Kong chart's pods run unprivileged; refuse privileged pods in this namespace.
                "pod-security.kubernetes.io/enforce": "baseline",
                "pod-security.kubernetes.io/warn": "restricted"}},
            opts=k8s_opts)
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[namespace])

        certificates = self._certificates(name, args, hybrid)
        secrets = ClusterSecrets(control_plane="kong-cluster-cp" if hybrid["cluster_mtls"] == "pki" else "kong-cluster-cert",
                                 data_plane="kong-cluster-dp" if hybrid["cluster_mtls"] == "pki" else "kong-cluster-cert",
                                 ca="kong-cluster-ca" if hybrid["cluster_mtls"] == "pki" else None,
                                 admin=ADMIN_TLS_SECRET if args.get("gateway_sync") is not None else None)
        secret_resources = []
        for secret_name, cert in {secrets.control_plane: certificates["control_plane"],
                                  secrets.data_plane: certificates["data_plane"]}.items():
            secret_resources.append(k8s.core.v1.Secret(
                f"{name}-{secret_name}", metadata={"name": secret_name, "namespace": ns_name},
                type="kubernetes.io/tls",
                string_data={"tls.crt": cert.cert_pem, "tls.key": cert.private_key_pem}, opts=in_ns))
        if secrets.ca:
            secret_resources.append(k8s.core.v1.Secret(
                f"{name}-{secrets.ca}", metadata={"name": secrets.ca, "namespace": ns_name}, type="Opaque",
                string_data={"ca.crt": certificates["ca"].cert_pem}, opts=in_ns))
        admin_ca = self._admin_certificate(name, hybrid, in_ns, secret_resources) if secrets.admin else None
        licensed = args.get("enterprise_license") is not None
        if licensed:
            secret_resources.append(k8s.core.v1.Secret(
                f"{name}-license", metadata={"name": LICENSE_SECRET, "namespace": ns_name}, type="Opaque",
                string_data={"license": pulumi.Output.secret(args["enterprise_license"])}, opts=in_ns))
        rbac = licensed and bool(hybrid["admin_rbac"])
        if licensed:
            # Made with a license whether or not RBAC is on yet, so that a stack made before RBAC
            # can seed its super admin with this token first (docs/runbooks.md, 8).
            secret_resources.append(self._admin_secret(name, ns_name, in_ns))

        database_args = cast(PostgresArgs, {
            **(args.get("postgres") or {}), "namespace": ns_name,
            # The control plane release's pods and migration Jobs (the chart's labels).
            "client_pod_labels": release_pod_labels(hybrid["control_plane_release"]),
            **{key: args[key] for key in ("storage_class_name", "vpc_id", "private_subnet_ids",
                                          "cluster_security_group_id", "image_source_ready", "node_selector")
               if args.get(key) is not None}})
        database = Postgres(f"{name}-postgres", database_args, opts=pulumi.ResourceOptions(
            parent=self, depends_on=[namespace], aliases=[pulumi.Alias(type_=_TYPE_BEFORE["Postgres"])]))

        # Not an output (the package schema has none for it): the RDS instance the alarms watch.
        self.database = database
        policies = self._network_policies(name, hybrid, ns_name, in_ns)

        cert_hash = pulumi.Output.all(*[c.cert_sha256 for c in certificates.values()]).apply(
            lambda hashes: hashlib.sha256("".join(hashes).encode()).hexdigest())

        node_selector = pulumi.Output.from_input(args.get("node_selector") or {})

        def cp_values(values: list) -> dict:
            host, port, user, db, secret_name, secret_key, ssl, digest, selector, verify, ca_map, ca_key = values
            connection = PostgresConnection(host=host, port=int(port), user=user, database=db, ssl=bool(ssl),
                                            ssl_verify=bool(verify),
                                            password=KubernetesSecretKey(secret_name, secret_key))
            database_ca = f"{DATABASE_CA_MOUNT}/{ca_key}" if verify and ca_map else None
            node = control_plane_node(kong, hybrid, secrets, connection, database_ca, rbac)
            out = control_plane_values(kong, hybrid, node, secrets, licensed, digest, selector)
            if database_ca:
                out["extraConfigMaps"] = [{"name": ca_map, "mountPath": DATABASE_CA_MOUNT}]
                # A new bundle rolls the pods, as a new certificate does.
                out["podAnnotations"]["kong-aws/database-ca-sha256"] = hashlib.sha256(
                    rds_ca_bundle_pem().encode()).hexdigest()
            return out

        metrics = args.get("metrics_agent")

        def dp_values(values: list) -> dict:
            digest, lb_class, selector = values
            node = data_plane_node(kong, hybrid, secrets, licensed, metrics=metrics is not None)
            return data_plane_values(kong, hybrid, node, secrets, licensed, digest, lb_class, selector)

        self.control_plane_values = pulumi.Output.all(
            database.host, database.port, database.user, database.database, database.password_secret_name,
            database.password_secret_key, database.ssl, cert_hash, node_selector, database.ssl_verify,
            database.ca_config_map_name, database.ca_config_map_key).apply(cp_values)
        self.data_plane_values = pulumi.Output.all(cert_hash, args.get("load_balancer_class"),
                                                   node_selector).apply(dp_values)
        # The releases pull Kong's image: declared once the image source is ready (waited for, not used).
        ready = pulumi.Output.from_input(args.get("image_source_ready", ""))
        self.control_plane_values = pulumi.Output.all(self.control_plane_values, ready).apply(lambda v: v[0])
        self.data_plane_values = pulumi.Output.all(self.data_plane_values, ready).apply(lambda v: v[0])
        if admin_ca is not None:
            # A renewed Admin API certificate rolls the control plane, which reads it at start.
            self.control_plane_values = pulumi.Output.all(self.control_plane_values, admin_ca[1]).apply(
                lambda v: {**v[0], "podAnnotations": {**v[0]["podAnnotations"], "kong-aws/admin-cert-sha256": v[1]}})

        release_common = dict(chart=CHART, version=hybrid["chart_version"], namespace=ns_name,
                              repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=CHART_REPOSITORY),
                              atomic=True, cleanup_on_fail=True, timeout=900,
                              # The chart's CRDs serve its ingress controller, which is off here.
                              skip_crds=True)
        control_plane = k8s.helm.v3.Release(
            f"{name}-cp", name=hybrid["control_plane_release"], values=self.control_plane_values,
            **release_common,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace, database, *secret_resources, *policies]))
        data_plane = k8s.helm.v3.Release(
            f"{name}-dp", name=hybrid["data_plane_release"], values=self.data_plane_values, **release_common,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[control_plane, *secret_resources]))
        if metrics is not None:
            self._metrics_agent(name, ns_name, hybrid["data_plane_release"], metrics, node_selector, in_ns)
        # The proxy Service the chart made, read back for its load balancer's host name. Its id comes
        # from the release's status, so a preview of a new install skips the read instead of failing.
        proxy = k8s.core.v1.Service.get(
            f"{name}-proxy",
            pulumi.Output.concat(data_plane.status.namespace, "/",
                                 data_plane.status.name.apply(lambda release: chart_service_name(release, "proxy"))),
            opts=pulumi.ResourceOptions(parent=self))
        self.proxy_hostname = proxy.status.apply(
            lambda status: (status.load_balancer.ingress[0].hostname or "")
            if status and status.load_balancer and status.load_balancer.ingress else "")

        self.namespace = namespace.metadata.apply(lambda m: m["name"])
        self.control_plane_release = pulumi.Output.from_input(hybrid["control_plane_release"])
        self.data_plane_release = pulumi.Output.from_input(hybrid["data_plane_release"])
        self.proxy_service = pulumi.Output.from_input(chart_service_name(hybrid["data_plane_release"], "proxy"))
        self.admin_service = pulumi.Output.from_input(chart_service_name(hybrid["control_plane_release"], "admin"))
        self.cluster_ca_pem = certificates["ca"].cert_pem if "ca" in certificates else \
            certificates["control_plane"].cert_pem
        self.admin_token_secret = pulumi.Output.from_input(ADMIN_SECRET if rbac else "")
        self.gateway_sync_job = pulumi.Output.from_input("")
        gateway = args.get("gateway_sync")
        if gateway is not None and admin_ca is not None:
            sync = GatewaySync(f"{name}-gateway-sync", cast(GatewaySyncArgs, {
                **gateway, "namespace": ns_name, "control_plane_release": hybrid["control_plane_release"],
                "admin_ca_pem": admin_ca[0], "pod_labels": ADMIN_CLIENT_LABELS,
                **({"admin_token": KubernetesSecretKey(ADMIN_SECRET, ADMIN_TOKEN_KEY)} if rbac else {}),
                # decK's image comes the way Kong's does, once the image source is ready.
                "image": pulumi.Output.all(ready).apply(lambda _: image_reference(
                    pulled_repository(cast(KongArgs, kong), DECK_REPOSITORY), DECK_VERSION)),
                "node_selector": node_selector}),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[control_plane]))
            self.gateway_sync_job = sync.job_name
        self.register_outputs({
            "namespace": self.namespace,
            "proxyHostname": self.proxy_hostname,
            "controlPlaneRelease": self.control_plane_release,
            "dataPlaneRelease": self.data_plane_release,
            "proxyService": self.proxy_service,
            "adminService": self.admin_service,
            "controlPlaneValues": self.control_plane_values,
            "dataPlaneValues": self.data_plane_values,
            "clusterCaPem": self.cluster_ca_pem,
            "adminTokenSecret": self.admin_token_secret,
            "gatewaySyncJob": self.gateway_sync_job,
        })

    def _network_policies(self, name: str, hybrid: Mapping[str, Any], namespace: str,
                          opts: pulumi.ResourceOptions) -> "list[k8s.networking.v1.NetworkPolicy]":
        """The namespace's NetworkPolicies (:func:`components.network_policy.kong_network_policies`),
        declared before the releases. The default deny comes last and goes first: it depends on
        the policies that let traffic in, so no ``pulumi up`` ever has it alone in place. The
        in-cluster database's own policy is :class:`Postgres`'s (the control plane release's pods
        and Jobs, ``client_pod_labels``), so none is asked for here."""
        manifests = kong_network_policies(
            namespace, hybrid["control_plane_release"], hybrid["data_plane_release"],
            postgres_pod_labels=None, admin_client_labels=ADMIN_CLIENT_LABELS, metrics_agent_labels=AGENT_POD_LABELS)
        def declare(manifest: dict, options: pulumi.ResourceOptions) -> k8s.networking.v1.NetworkPolicy:
            return k8s.networking.v1.NetworkPolicy(f"{name}-policy-{manifest['metadata']['name']}",
                                                   metadata=manifest["metadata"], spec=manifest["spec"], opts=options)

        allows = [declare(m, opts) for m in manifests if m["spec"].get("ingress")]
        after = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=allows))
        return allows + [declare(m, after) for m in manifests if not m["spec"].get("ingress")]

    def _metrics_agent(self, name: str, namespace: str, release: str, metrics: MetricsAgentArgs,
                       node_selector: pulumi.Output[dict[str, str]], opts: pulumi.ResourceOptions) -> None:
        """The CloudWatch agent that scrapes the data planes of ``release``
        (:mod:`components.metrics_agent`): ``{name}-metrics-account`` (its ServiceAccount,
        :func:`~components.metrics_agent.agent_service_account`), ``{name}-metrics-service`` (the
        headless Service of the data planes' metrics listener,
        :func:`~components.metrics_agent.metrics_service`) and ``{name}-metrics-agent`` (its
        Deployment, :func:`~components.metrics_agent.agent_deployment`, on ``node_selector``'s
        nodes). The Deployment waits for ``metrics["ready"]`` (its pods would get no credentials
        before their Pod Identity association exists); nothing of the data plane release waits
        for it, so an agent that never becomes ready costs metrics, never traffic."""
        account = agent_service_account(namespace, release)
        service = metrics_service(namespace, release)
        service_account = k8s.core.v1.ServiceAccount(f"{name}-metrics-account", metadata=account["metadata"], opts=opts)
        k8s.core.v1.Service(f"{name}-metrics-service", metadata=service["metadata"], spec=service["spec"], opts=opts)
        stack = stack_dimension_value(pulumi.get_project(), pulumi.get_stack())
        # ``ready`` is waited for, not used.
        spec = pulumi.Output.all(metrics["log_group_name"], metrics["cluster_name"], node_selector,
                                 metrics.get("ready", "")).apply(
            lambda v: agent_deployment(stack, v[0], metrics["region"], v[1], namespace, release, v[2])["spec"])
        metadata = agent_deployment(stack, "", metrics["region"], "", namespace, release)["metadata"]
        k8s.apps.v1.Deployment(f"{name}-metrics-agent", metadata=metadata, spec=spec,
                               opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
                                   depends_on=[service_account])))

    def _admin_secret(self, name: str, namespace: str, opts: pulumi.ResourceOptions) -> "k8s.core.v1.Secret":
        """The Secret :data:`ADMIN_SECRET`: the super admin's RBAC token and Kong Manager's session
        settings (the session plugin's ``secret``, cookies over HTTPS only), both from
        ``pulumi_random`` and so Pulumi secrets from the start; neither reaches Helm values or outputs.
        """
        child = pulumi.ResourceOptions(parent=self)
        token = random.RandomPassword(f"{name}-admin-token", length=40, special=False, opts=child)
        session = random.RandomPassword(f"{name}-session-secret", length=40, special=False, opts=child)
        session_conf = session.result.apply(lambda secret: json.dumps({"secret": secret, "cookie_secure": True}))
        return k8s.core.v1.Secret(
            f"{name}-{ADMIN_SECRET}", metadata={"name": ADMIN_SECRET, "namespace": namespace}, type="Opaque",
            string_data=pulumi.Output.secret({ADMIN_TOKEN_KEY: token.result, SESSION_CONF_KEY: session_conf}),
            opts=opts)

    def _admin_certificate(self, name: str, hybrid: Mapping[str, Any], opts: pulumi.ResourceOptions,
                           secrets: list) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
        """The Admin API's certificate, for clients that verify it (decK): ``{name}-admin-ca``, a CA
        of its own, and ``{name}-admin-cert``, a server certificate it signs for the Admin API
        Service's names (``<svc>``, ``<svc>.<ns>``, ``<svc>.<ns>.svc``, ``<svc>.<ns>.svc.cluster.local``),
        in the TLS Secret :data:`ADMIN_TLS_SECRET` (appended to ``secrets``), which the control plane
        presents as ``admin_ssl_cert``. Clients trust the CA, so a renewed server certificate keeps
        them working (both renew as :class:`ClusterCertificate` does, 30 days before they expire). Returns (the CA's PEM, the server
        certificate's ``cert_sha256``)."""
        svc, ns = chart_service_name(hybrid["control_plane_release"], "admin"), hybrid["namespace"]
        names = [svc, f"{svc}.{ns}", f"{svc}.{ns}.svc", chart_service_host(hybrid["control_plane_release"], "admin", ns)]
        child = pulumi.ResourceOptions(parent=self)
        ca = ClusterCertificate(f"{name}-admin-ca", ClusterCertificateArgs(
            common_name="kong-aws Admin API CA", is_ca=True), opts=child)
        server = ClusterCertificate(f"{name}-admin-cert", ClusterCertificateArgs(
            common_name=names[-1], dns_names=names, ca_cert_pem=ca.cert_pem, ca_private_key_pem=ca.private_key_pem,
            usages=list(SERVER_USAGES)), opts=child)
        secrets.append(k8s.core.v1.Secret(
            f"{name}-{ADMIN_TLS_SECRET}", metadata={"name": ADMIN_TLS_SECRET, "namespace": ns},
            type="kubernetes.io/tls", string_data={"tls.crt": server.cert_pem, "tls.key": server.private_key_pem},
            opts=opts))
        return ca.cert_pem, server.cert_sha256

    def _certificates(self, name: str, args: KongHybridArgs, hybrid: Mapping[str, Any]) -> dict[str, ClusterCertificate]:
        # The subject names are the roles' own; the rest of the user's certificate settings apply to all.
        settings = {k: v for k, v in (args.get("certificate") or {}).items() if k != "common_name"}

        def certificate_args(**fields: Any) -> ClusterCertificateArgs:
            return cast(ClusterCertificateArgs, {**settings, **fields})

        child = pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(type_=_TYPE_BEFORE["ClusterCertificate"])])
        if hybrid["cluster_mtls"] == "shared":
            shared_args = certificate_args(
                common_name=SHARED_NAME, dns_names=[SHARED_NAME],
                usages=list(dict.fromkeys(SERVER_USAGES + CLIENT_USAGES)))
            if args.get("cluster_cert_pem") is not None:
                shared_args["provided_cert_pem"] = args["cluster_cert_pem"]
                shared_args["provided_key_pem"] = pulumi.Output.secret(args["cluster_cert_key_pem"])
            shared = ClusterCertificate(f"{name}-cluster-cert", shared_args, opts=child)
            return {"control_plane": shared, "data_plane": shared}
        ns, cp = hybrid["namespace"], hybrid["control_plane_release"]
        names = [chart_service_host(cp, svc, ns) for svc in ("cluster", "clustertelemetry")]
        ca = ClusterCertificate(f"{name}-cluster-ca", certificate_args(
            common_name="kong-aws cluster CA", is_ca=True), opts=child)
        control_plane = ClusterCertificate(f"{name}-cp-cert", certificate_args(
            common_name=names[0], dns_names=names, ca_cert_pem=ca.cert_pem, ca_private_key_pem=ca.private_key_pem,
            usages=list(dict.fromkeys(SERVER_USAGES + CLIENT_USAGES))), opts=child)
        data_plane = ClusterCertificate(f"{name}-dp-cert", certificate_args(
            common_name=SHARED_NAME, ca_cert_pem=ca.cert_pem, ca_private_key_pem=ca.private_key_pem,
            usages=list(CLIENT_USAGES)), opts=child)
        return {"ca": ca, "control_plane": control_plane, "data_plane": data_plane}
