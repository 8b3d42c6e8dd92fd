"""A self-hosted hybrid Kong on EKS: the hybrid-eks mode.

Replaces the hand-made setup of seed 002 (a cluster made by hand, a namespace, a license secret and
an openssl certificate created with kubectl, two values files applied through Argo CD): one
component, :class:`HybridEksGateway`, builds the network
(:class:`~components.network.Network`), the cluster (:class:`~components.eks_cluster.EksCluster`:
EKS Auto Mode, or an existing cluster) and, through the cluster's Kubernetes provider, Kong's
control plane with its PostgreSQL and its data planes (:class:`~components.kong_hybrid.KongHybrid`).
"""

import json
from typing import Optional, Required, TypedDict, cast

import pulumi

from components.eks_cluster import EksCluster, EksClusterArgs, EksSettings, cluster_name_for, provider_identity
from components.gateway_check import curl_check
from components.gateway_config import GatewaySettings, deck_document, load_settings, secret_env, stack_tag
from components.gateway_sync import DECK_REPOSITORY, GatewaySyncSettings
from components.image_source import ImageSource, import_statement, node_role_policy, pulled_repository
from components.kong_facts import ADMIN_HTTPS_PORT, STATUS_PATH
from components.kong_hybrid import (ADMIN_TOKEN_HEADER, ADMIN_TOKEN_KEY, HYBRID_DEFAULTS, HybridInstall, KongHybrid,
                                    KongHybridArgs)
from components.metrics_agent import MetricsAgentArgs, PodMetricsAccess, PodMetricsAccessArgs, agent_name
from components.monitoring import EksTarget, GatewayMonitoring, GatewayMonitoringArgs, MonitoringSettings, RdsTarget
from components.network import Network, NetworkArgs
from components.package import earlier_urn, type_token, with_defaults
from components.postgres import IMAGE_REPOSITORY, POSTGRES_DEFAULTS, PostgresMode, PostgresSettings


def admin_port_forward(namespace: str, admin_service: str, token_secret: str) -> str:
    """The commands that reach the Admin API, which is only inside the cluster: a kubeconfig from
    the stack, ``kubectl port-forward`` to the Admin API Service and a ``curl`` of its status; with
    RBAC (``token_secret`` not empty) the ``curl`` sends the super admin's token, read from its
    Secret when it runs (never from the stack)."""
    kubectl = "kubectl --kubeconfig kubeconfig.json"
    lines = ["pulumi stack output kubeconfig --show-secrets > kubeconfig.json && "
             f"{kubectl} port-forward -n {namespace} service/{admin_service} {ADMIN_HTTPS_PORT}:{ADMIN_HTTPS_PORT}"]
    header = ""
    if token_secret:
        lines.append(f"TOKEN=$({kubectl} get secret -n {namespace} {token_secret} "
                     f"-o jsonpath='{{.data.{ADMIN_TOKEN_KEY}}}' | base64 -d)")
        header = f' -H "{ADMIN_TOKEN_HEADER}: $TOKEN"'
    lines.append(f"curl -sk{header} https://localhost:{ADMIN_HTTPS_PORT}{STATUS_PATH}")
    return "   # then: ".join(lines)


class HybridEksGatewayArgs(HybridInstall, total=False):
    """Arguments of :class:`HybridEksGateway`: :class:`HybridInstall` and where it runs."""

    region: Required[str]
    """the AWS region (``aws:region``)"""
    network: NetworkArgs
    """a new VPC (default) or an existing one"""
    eks: EksSettings
    """a new EKS Auto Mode cluster (default) or an existing one"""
    gateway: GatewaySettings
    """the gateway file (services, routes, plugins ...), applied to the control plane by a decK Job in
    the cluster (:class:`~components.gateway_sync.GatewaySync`); with Kong's global ``prometheus``
    plugin in it, a CloudWatch agent Deployment in Kong's namespace scrapes the data planes and sends
    Kong's metrics to CloudWatch (``{name}-metrics``, :class:`~components.metrics_agent.PodMetricsAccess`;
    default none)"""
    monitoring: MonitoringSettings
    """the CloudWatch dashboard's alarms and where they notify (:class:`GatewayMonitoring`)"""


class HybridEksGateway(pulumi.ComponentResource):
    """Kong Gateway in hybrid mode on EKS (type ``kong-aws:index:HybridEksGateway``): the whole
    hybrid-eks mode.

    Children: ``{name}-network`` (:class:`Network`; none with an existing cluster, whose VPC and
    subnets the database uses), ``{name}-eks`` (:class:`EksCluster`; a new cluster is named
    ``<project>-<stack>-eks``) and ``{name}-hybrid`` (:class:`KongHybrid`, given the cluster's
    Kubernetes provider and the node selector of its network-policy nodes; with a ``gateway`` file
    it also runs the decK Job that applies it), ``{name}-monitoring`` (:class:`GatewayMonitoring`:
    the dashboard and alarms) and, with Kong's ``prometheus`` plugin in the gateway file,
    ``{name}-metrics`` (the CloudWatch access of the metrics agent's pods).

    Raises ``ValueError`` when ``network`` is given with an existing cluster, and
    :class:`components.gateway_config.GatewayFileError` (a ``ValueError``) for a ``gateway`` file
    that does not load or validate, before anything is declared.

    Outputs (stack outputs of the mode, see :meth:`stack_outputs`): ``proxy_hostname`` /
    ``proxy_url`` (the data planes' NLB), ``curl_check``, ``dashboard_url``, ``admin_port_forward``
    (how to reach the Admin API, which is only inside the cluster), ``eks_cluster_name``, ``kubeconfig`` (secret),
    ``namespace``, ``control_plane_release`` / ``data_plane_release`` and
    ``cluster_ca_certificate_pem``.
    """

    proxy_hostname: pulumi.Output[str]
    """the proxy NLB's DNS name"""
    proxy_url: pulumi.Output[str]
    """http:// URL of the proxy"""
    curl_check: pulumi.Output[str]
    """a command that proves traffic flows: the upstream's answer through a route of the gateway file
    (and a rate limit's 429), or without one Kong's 404 (:func:`components.gateway_check.curl_check`)"""
    dashboard_url: pulumi.Output[str]
    """the stack's CloudWatch dashboard (:class:`components.monitoring.GatewayMonitoring`)"""
    admin_port_forward: pulumi.Output[str]
    """how to reach the Admin API, which is only inside the cluster"""
    eks_cluster_name: pulumi.Output[str]
    """the EKS cluster"""
    kubeconfig: pulumi.Output[str]
    """a kubeconfig for the cluster, JSON (secret)"""
    namespace: pulumi.Output[str]
    """the Kubernetes namespace"""
    control_plane_release: pulumi.Output[str]
    """the control plane's Helm release"""
    data_plane_release: pulumi.Output[str]
    """the data planes' Helm release"""
    cluster_ca_certificate_pem: pulumi.Output[str]
    """the cluster CA (pki) or shared certificate, PEM"""
    image_pull_warning: Optional[pulumi.Output[str]]
    """images come from Docker Hub anonymously: its pull limit (:class:`ImageSource`)"""

    def __init__(self, name: str, args: HybridEksGatewayArgs, opts: Optional[pulumi.ResourceOptions] = None):
        # The kubeconfig signs as the default AWS provider does (aws:profile, aws:assumeRoles); a
        # setting it cannot follow is refused before anything is declared.
        identity = provider_identity()
        gateway_file = load_settings(args.get("gateway"))
        kong_metrics = gateway_file is not None and gateway_file.prometheus_enabled
        super().__init__(type_token(HybridEksGateway), name, None, opts)

        # Before this component, Network "network", EksCluster "eks" and KongHybrid "kong" sat at the
        # stack's root; the aliases keep `pulumi up` from replacing what they made.
        def child(before: str) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, aliases=[before])

        # Where the nodes pull Kong's image, the in-cluster PostgreSQL's (Docker Hub's ``postgres``) and decK's.
        postgres = cast(PostgresSettings, dict(args.get("postgres") or {}))
        in_cluster = PostgresMode(with_defaults(postgres, POSTGRES_DEFAULTS)["mode"]) is PostgresMode.IN_CLUSTER
        pulled = [IMAGE_REPOSITORY] if in_cluster else []
        if gateway_file is not None:
            pulled.append(DECK_REPOSITORY)  # the gateway sync Job's decK
        images = ImageSource(f"{name}-images", {"kong": args["kong"], "region": args["region"],
                                                "docker_hub_repositories": pulled},
                             opts=pulumi.ResourceOptions(parent=self))
        cache_import = import_statement(args["kong"], pulled)

        eks = cast(EksClusterArgs, {
            **(args.get("eks") or {}), **identity, "region": args["region"],
            "new_cluster_name": cluster_name_for(pulumi.get_project(), pulumi.get_stack(), "eks")})
        existing = eks.get("cluster_name") is not None
        if existing:
            # The cluster supplies the network: its VPC and subnets hold the database too.
            if args.get("network"):
                raise ValueError("network is set with an existing cluster (eks.cluster_name), which supplies the "
                                 "network: give one of them")
        else:
            network = Network(f"{name}-network", Network.args_for_service(args.get("network"), "eks-control-plane"),
                              opts=child(earlier_urn("kong-aws:network:Network", "network")))
            eks["private_subnet_ids"] = network.private_subnet_ids
        if cache_import is not None and not existing:
            # Auto Mode nodes fill the cache; an existing cluster's node role is its owner's (README).
            eks["node_role_policy"] = json.dumps(node_role_policy(cache_import))
        cluster = EksCluster(f"{name}-eks", eks, opts=child(earlier_urn("kong-aws:eks:EksCluster", "eks")))

        # The database's network: the new VPC's private subnets, or the existing cluster's VPC and subnets.
        vpc_id, subnet_ids = (cluster.vpc_id, cluster.subnet_ids) if existing else \
            (network.vpc_id, network.private_subnet_ids)
        hybrid_args = KongHybridArgs(
            kong=args["kong"], vpc_id=vpc_id, private_subnet_ids=subnet_ids,
            cluster_security_group_id=cluster.cluster_security_group_id,
            storage_class_name=cluster.storage_class_name, load_balancer_class=cluster.load_balancer_class,
            node_selector=cluster.pod_node_selector)
        for key in HybridInstall.__optional_keys__:
            if args.get(key) is not None:
                hybrid_args[key] = args[key]  # type: ignore[literal-required]
        if in_cluster:
            hybrid_args["postgres"] = cast(PostgresSettings, {
                **postgres, "image_repository": pulled_repository(args["kong"], IMAGE_REPOSITORY)})
        hybrid_args["image_source_ready"] = images.ready
        if gateway_file is not None:
            tag = stack_tag(pulumi.get_project(), pulumi.get_stack())
            hybrid_args["gateway_sync"] = GatewaySyncSettings(
                document=deck_document(gateway_file, tag), select_tag=tag, env=dict(secret_env(args.get("gateway"))))
        if kong_metrics:
            hybrid_args["metrics_agent"] = self._metrics(name, args, cluster.cluster_name)
        kong = KongHybrid(f"{name}-hybrid", hybrid_args, opts=pulumi.ResourceOptions(
            parent=self, providers=[cluster.provider],
            aliases=[earlier_urn("kong-aws:hybrid_eks:KongHybrid", "kong")]))

        host = kong.proxy_hostname
        self.proxy_hostname = host
        self.proxy_url = pulumi.Output.concat("http://", host)
        settings = with_defaults(args.get("hybrid") or {}, HYBRID_DEFAULTS)
        document = gateway_file.document if gateway_file is not None else None
        self.curl_check = host.apply(lambda h: curl_check(h, document, int(settings["data_plane_max_replicas"])))
        database = kong.database
        watched = cast(GatewayMonitoringArgs, {
            **(args.get("monitoring") or {}), "region": args["region"], "load_balancer_hostname": host,
            "eks": EksTarget(cluster_name=cluster.cluster_name, namespace=kong.namespace,
                             control_plane_release=settings["control_plane_release"],
                             data_plane_release=settings["data_plane_release"],
                             container_insights=cluster.container_insights),
            "kong_metrics": kong_metrics})
        if database.rds_instance_identifier is not None and database.rds_allocated_storage_gib is not None:
            watched["rds"] = RdsTarget(instance_identifier=database.rds_instance_identifier,
                                       allocated_storage_gib=database.rds_allocated_storage_gib)
        monitoring = GatewayMonitoring(f"{name}-monitoring", watched, opts=pulumi.ResourceOptions(parent=self))
        self.dashboard_url = monitoring.dashboard_url
        self.admin_port_forward = pulumi.Output.all(kong.namespace, kong.admin_service, kong.admin_token_secret).apply(
            lambda v: admin_port_forward(*v))
        self.eks_cluster_name = cluster.cluster_name
        self.kubeconfig = pulumi.Output.secret(cluster.kubeconfig)
        self.namespace = kong.namespace
        self.control_plane_release = kong.control_plane_release
        self.data_plane_release = kong.data_plane_release
        self.cluster_ca_certificate_pem = kong.cluster_ca_pem
        self.image_pull_warning = images.image_pull_warning
        self.register_outputs(self.stack_outputs())

    def _metrics(self, name: str, args: HybridEksGatewayArgs, cluster_name: pulumi.Output[str]) -> MetricsAgentArgs:
        """``{name}-metrics``: the EMF log group, the metrics agent's role and its EKS Pod Identity
        association with the agent's service account (:func:`components.metrics_agent.agent_name`
        of the data plane release); returns where the agent sends the metrics. The Pod Identity
        Agent runs on EKS Auto Mode nodes; an existing cluster needs the ``eks-pod-identity-agent``
        add-on (README)."""
        hybrid = with_defaults(args.get("hybrid") or {}, HYBRID_DEFAULTS)
        access = PodMetricsAccess(f"{name}-metrics", PodMetricsAccessArgs(
            cluster_name=cluster_name, namespace=hybrid["namespace"],
            service_account=agent_name(hybrid["data_plane_release"]),
            log_group_name=f"/kong-aws/{pulumi.get_stack()}/{hybrid['data_plane_release']}/kong-metrics"),
            opts=pulumi.ResourceOptions(parent=self))
        return MetricsAgentArgs(log_group_name=access.log_group_name, region=args["region"],
                                cluster_name=cluster_name, ready=access.ready)

    def stack_outputs(self) -> dict[str, pulumi.Output]:
        """The outputs an operator needs after ``pulumi up``, by stack output name (camelCase);
        only ``kubeconfig`` is secret."""
        return {
            "proxyHostname": self.proxy_hostname,
            "proxyUrl": self.proxy_url,
            "curlCheck": self.curl_check,
            "dashboardUrl": self.dashboard_url,
            "adminPortForward": self.admin_port_forward,
            "eksClusterName": self.eks_cluster_name,
            "kubeconfig": self.kubeconfig,
            "namespace": self.namespace,
            "controlPlaneRelease": self.control_plane_release,
            "dataPlaneRelease": self.data_plane_release,
            "clusterCaCertificatePem": self.cluster_ca_certificate_pem,
            **({"imagePullWarning": self.image_pull_warning} if self.image_pull_warning is not None else {}),
        }
