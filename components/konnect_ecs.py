"""Kong Konnect data planes on ECS Fargate, behind a Network Load Balancer: the konnect-ecs mode.

Replaces the hand-made setup of the seeds (a Konnect ``docker run`` copied into a task definition,
the certificate and key pasted into plain environment variables, ports 8000/8443 open to the world
on one task): the data plane certificate is generated (or given) and, with a managed control plane,
pinned in Konnect through its API; the certificate lives in Secrets Manager; the tasks run in
private subnets and accept traffic only from the load balancer; the service keeps full capacity
while it deploys, rolls back a failed deployment, and scales on CPU.

One component, :class:`KonnectEcsGateway`, builds the whole mode from its sub-components:
:class:`~components.network.Network`, :class:`~components.certificates.ClusterCertificate`, the
Konnect control plane and pin (:mod:`components.konnect_api`),
:class:`~components.ecs_task_definition.DataPlaneTaskDefinition`,
:class:`~components.proxy_load_balancer.ProxyLoadBalancer` and
:class:`~components.ecs_service.DataPlaneService`.
"""

from typing import Optional, Required, TypedDict

import pulumi
import pulumi_aws as aws

from components.certificates import CLIENT_USAGES, CertificateSettings, ClusterCertificate, ClusterCertificateArgs
from components.ecs_service import DataPlaneService, DataPlaneServiceArgs, ServiceSettings
from components.ecs_task_definition import DataPlaneTaskDefinition, DataPlaneTaskDefinitionArgs, TaskSettings
from components.kong_facts import PROXY_HTTP_PORT, PROXY_HTTPS_PORT, STATUS_PORT
from components.kong_settings import KongArgs
from components.konnect_api import (KONNECT_DEFAULTS, KonnectControlPlane, KonnectRegion, PinnedDataPlaneCertificate,
                                    api_url_for, parse_endpoint)
from components.network import Network, NetworkArgs
from components.package import earlier_urn, type_token, with_defaults
from components.proxy_load_balancer import (LOAD_BALANCER_DEFAULTS, LoadBalancerSettings, ProxyLoadBalancer,
                                            ProxyLoadBalancerArgs)

#: What a stack without a managed control plane must do by hand.
PIN_INSTRUCTIONS = (
    "Pin dataPlaneCertificatePem in your Konnect control plane before the data planes can connect: "
    "Gateway Manager > your control plane > Data Plane Nodes > New Data Plane Node > "
    "'Use your own certificate' (pinned mode), or "
    "POST https://<region>.api.konghq.com/v2/control-planes/<control plane id>/dp-client-certificates "
    "with the body {\"cert\": \"<the PEM>\"} and an access token "
    "(`pulumi stack output dataPlaneCertificatePem`). A provided certificate from the Konnect UI "
    "is already pinned."
)
#: The answer of a data plane with no matching route, the proof that it serves traffic.
NO_ROUTE = "404 (no Route matched with those values)"


class KonnectArgs(TypedDict, total=False):
    """The Konnect control plane the data planes join, in one of two ways.

    Managed (``control_plane_name`` with ``token``): the stack adopts the control plane of that name
    or creates it, and pins the data plane certificate through the Konnect API. Manual
    (``control_plane_endpoint`` and ``telemetry_endpoint`` as Konnect shows them): the certificate
    is pinned by hand (:data:`PIN_INSTRUCTIONS`). Defaults:
    :data:`components.konnect_api.KONNECT_DEFAULTS`.
    """

    control_plane_endpoint: pulumi.Input[str]
    """manual: the control plane endpoint (host, ``host:port`` or ``https://`` URL)"""
    telemetry_endpoint: pulumi.Input[str]
    """manual: the telemetry endpoint (same forms)"""
    control_plane_name: str
    """managed: the name of the control plane to adopt or create (2-256 characters)"""
    control_plane_labels: dict[str, str]
    """managed: labels of a control plane the stack creates (default none)"""
    region: KonnectRegion
    """managed: the Konnect region (default ``us``)"""
    api_url: str
    """managed: another Konnect API base URL instead of the region's (a proxy)"""
    token: pulumi.Input[str]
    """managed: a Konnect personal (``kpat_``) or system account (``spat_``) access token (kept secret)"""


class EcsSettings(TaskSettings, ServiceSettings, total=False):
    """The Fargate tasks and their service: :class:`TaskSettings` and :class:`ServiceSettings`."""


class KonnectEcsGatewayArgs(TypedDict, total=False):
    """Arguments of :class:`KonnectEcsGateway`."""

    kong: Required[KongArgs]
    """the Kong Gateway the data planes run"""
    konnect: Required[KonnectArgs]
    """the Konnect control plane they join"""
    region: Required[str]
    """the AWS region (``aws:region``)"""
    network: NetworkArgs
    """a new VPC (default) or an existing one"""
    certificate: CertificateSettings
    """how the data plane certificate is generated"""
    cluster_cert_pem: pulumi.Input[str]
    """use this certificate (PEM) instead of generating one, e.g. from the Konnect UI; with ``cluster_cert_key_pem``"""
    cluster_cert_key_pem: pulumi.Input[str]
    """its private key (PEM; kept secret)"""
    ecs: EcsSettings
    """the Fargate tasks and service"""
    load_balancer: LoadBalancerSettings
    """the proxy load balancer"""


_TASK_KEYS = tuple(TaskSettings.__optional_keys__)
_SERVICE_KEYS = tuple(ServiceSettings.__optional_keys__)

# The layout of kong-aws before the gateway component (each resource then sat at the stack's root or
# under KonnectDataPlanes "data-plane"); aliases keep `pulumi up` from replacing what it made then.
_BEFORE = "kong-aws:konnect_ecs:KonnectDataPlanes"


def _pick(settings: dict, keys: tuple[str, ...]) -> dict:
    return {key: settings[key] for key in keys if settings.get(key) is not None}


class KonnectEcsGateway(pulumi.ComponentResource):
    """Kong Gateway data planes of a Kong Konnect control plane, on ECS Fargate (type
    ``kong-aws:index:KonnectEcsGateway``): the whole konnect-ecs mode.

    Children: ``{name}-network`` (:class:`Network`), ``{name}-data-plane-cert`` (the data plane's
    cluster certificate, client usages, or the one given), with a managed control plane
    ``{name}-konnect-control-plane`` and ``{name}-konnect-pinned-cert`` (the pin), then
    ``{name}-data-plane`` (:class:`DataPlaneTaskDefinition`: its certificate secret waits for the
    pin), ``{name}-tasks`` (the tasks' security group: outbound anywhere, inbound only from the load
    balancer on 8000, 8443 and 8100), ``{name}-proxy`` (:class:`ProxyLoadBalancer`) and
    ``{name}-service`` (:class:`DataPlaneService`, in the private subnets).

    Outputs (stack outputs of the mode, see :meth:`stack_outputs`): ``proxy_url``,
    ``proxy_https_url``, ``curl_check``, ``ecs_cluster_name``, ``ecs_service_name``,
    ``log_group_name``, ``control_plane_endpoint`` / ``telemetry_endpoint`` (``host:port``, as the
    Kong settings use them), ``data_plane_certificate_pem`` (public); with a managed control plane
    ``konnect_control_plane_id`` and ``konnect_pinned_certificate_id``, else
    ``konnect_pin_instructions``.

    Raises ``ValueError`` when ``konnect`` has neither a ``control_plane_name`` with a ``token`` nor
    both endpoints.
    """

    proxy_url: pulumi.Output[str]
    """http:// URL of the proxy load balancer"""
    proxy_https_url: pulumi.Output[str]
    """https:// URL of the proxy load balancer"""
    curl_check: pulumi.Output[str]
    """a command whose 404 answer proves a data plane serves traffic"""
    ecs_cluster_name: pulumi.Output[str]
    """the ECS cluster"""
    ecs_service_name: pulumi.Output[str]
    """the ECS service"""
    log_group_name: pulumi.Output[str]
    """the data planes' log group"""
    control_plane_endpoint: pulumi.Output[str]
    """cluster_control_plane, host:port"""
    telemetry_endpoint: pulumi.Output[str]
    """cluster_telemetry_endpoint, host:port"""
    data_plane_certificate_pem: pulumi.Output[str]
    """the data plane certificate, PEM (public; pin it when the stack does not)"""
    konnect_control_plane_id: Optional[pulumi.Output[str]]
    """managed control plane: its id"""
    konnect_pinned_certificate_id: Optional[pulumi.Output[str]]
    """managed control plane: the pin's id"""
    konnect_pin_instructions: Optional[pulumi.Output[str]]
    """manual control plane: how to pin the certificate"""

    def __init__(self, name: str, args: KonnectEcsGatewayArgs, opts: Optional[pulumi.ResourceOptions] = None):
        konnect = with_defaults(args["konnect"], KONNECT_DEFAULTS)
        managed = konnect.get("control_plane_name") is not None
        if managed and konnect.get("token") is None:
            raise ValueError("a managed Konnect control plane (control_plane_name) needs a token")
        if not managed and (konnect.get("control_plane_endpoint") is None or konnect.get("telemetry_endpoint") is None):
            raise ValueError("give konnect.control_plane_name and token, or both Konnect endpoints")
        super().__init__(type_token(KonnectEcsGateway), name, None, opts)
        ecs: dict = dict(args.get("ecs") or {})
        lb_settings: dict = dict(args.get("load_balancer") or {})

        def child(*before: str) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, aliases=list(before))

        network = Network(f"{name}-network", dict(args.get("network") or {}),  # type: ignore[arg-type]
                          opts=child(earlier_urn("kong-aws:network:Network", "network")))

        cert_args = ClusterCertificateArgs(**(args.get("certificate") or {}), usages=list(CLIENT_USAGES))
        if args.get("cluster_cert_pem") is not None:
            cert_args["provided_cert_pem"] = args["cluster_cert_pem"]
            cert_args["provided_key_pem"] = pulumi.Output.secret(args["cluster_cert_key_pem"])
        certificate = ClusterCertificate(
            f"{name}-data-plane-cert", cert_args,
            opts=child(earlier_urn("kong-aws:certificates:ClusterCertificate", "data-plane-cert")))

        control_plane: Optional[KonnectControlPlane] = None
        pin: Optional[PinnedDataPlaneCertificate] = None
        if managed:
            api_url = konnect.get("api_url") or api_url_for(KonnectRegion(konnect["region"]).value)
            token = pulumi.Output.secret(konnect["token"])
            control_plane = KonnectControlPlane(
                f"{name}-konnect-control-plane", api_url=api_url, token=token,
                control_plane_name=konnect["control_plane_name"], labels=konnect["control_plane_labels"],
                opts=child(earlier_urn("pulumi-python:dynamic/konnect:ControlPlane", "konnect-control-plane")))
            pin = PinnedDataPlaneCertificate(
                f"{name}-konnect-pinned-cert", api_url=api_url, token=token,
                control_plane_id=control_plane.control_plane_id, cert=certificate.cert_pem,
                opts=child(earlier_urn("pulumi-python:dynamic/konnect:PinnedDataPlaneCertificate",
                                       "konnect-pinned-cert")))
            control_plane_endpoint: pulumi.Input[str] = control_plane.control_plane_endpoint
            telemetry_endpoint: pulumi.Input[str] = control_plane.telemetry_endpoint
        else:
            control_plane_endpoint = konnect["control_plane_endpoint"]
            telemetry_endpoint = konnect["telemetry_endpoint"]

        task_args = DataPlaneTaskDefinitionArgs(
            kong=args["kong"], control_plane_endpoint=control_plane_endpoint,
            telemetry_endpoint=telemetry_endpoint, cert_pem=certificate.cert_pem,
            private_key_pem=certificate.private_key_pem, region=args["region"],
            family=f"{pulumi.get_project()}-{pulumi.get_stack()}-data-plane",
            log_group_name=f"/kong-aws/{pulumi.get_stack()}/data-plane", **_pick(ecs, _TASK_KEYS))
        if pin is not None:
            task_args["pinned_certificate_id"] = pin.certificate_id
        task_definition = DataPlaneTaskDefinition(
            f"{name}-data-plane", task_args, opts=child(earlier_urn(_BEFORE, "data-plane")))

        # Inbound only from the NLB (rules below), outbound open: Konnect and registries on 443, and
        # the upstream services Kong proxies to on any port.
        task_sg = aws.ec2.SecurityGroup(
            f"{name}-tasks", vpc_id=network.vpc_id,
            description="Kong data plane tasks: inbound only from the proxy load balancer",
            tags={"Name": f"{name}-tasks"},
            opts=child(earlier_urn(f"{_BEFORE}$aws:ec2/securityGroup:SecurityGroup", "data-plane-tasks")))
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-tasks-out", security_group_id=task_sg.id, ip_protocol="-1",
            cidr_ipv4="0.0.0.0/0", description="Konnect, image registry, AWS APIs, upstream services",
            opts=child(earlier_urn(f"{_BEFORE}$aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
                                   "data-plane-tasks-out")))

        internal = bool(with_defaults(lb_settings, LOAD_BALANCER_DEFAULTS)["internal"])
        load_balancer = ProxyLoadBalancer(f"{name}-proxy", ProxyLoadBalancerArgs(
            **lb_settings,
            vpc_id=network.vpc_id,
            subnet_ids=network.private_subnet_ids if internal else network.public_subnet_ids,
            target_security_group_id=task_sg.id),
            opts=child(earlier_urn(f"{_BEFORE}$kong-aws:load_balancer:ProxyLoadBalancer", "data-plane-proxy")))
        for port in (PROXY_HTTP_PORT, PROXY_HTTPS_PORT, STATUS_PORT):
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-tasks-in-{port}", security_group_id=task_sg.id, ip_protocol="tcp",
                from_port=port, to_port=port, referenced_security_group_id=load_balancer.security_group_id,
                description=f"from the proxy load balancer on {port}",
                opts=child(earlier_urn(f"{_BEFORE}$aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
                                       f"data-plane-tasks-in-{port}")))

        # The service's children sat directly under KonnectDataPlanes before; each keeps its URN.
        before = {f"{name}-service-{role}": earlier_urn(f"{_BEFORE}${typ}", f"data-plane-{role}") for role, typ in (
            ("cluster", "aws:ecs/cluster:Cluster"),
            ("capacity", "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders"),
            ("service", "aws:ecs/service:Service"), ("scaling", "aws:appautoscaling/target:Target"),
            ("cpu", "aws:appautoscaling/policy:Policy"))}

        def keep_earlier_urn(resource_args: pulumi.ResourceTransformationArgs):
            urn = before.get(resource_args.name)
            if urn is None:
                return None
            return pulumi.ResourceTransformationResult(
                resource_args.props, pulumi.ResourceOptions.merge(resource_args.opts, pulumi.ResourceOptions(aliases=[urn])))

        service = DataPlaneService(f"{name}-service", DataPlaneServiceArgs(
            task_definition_arn=task_definition.task_definition_arn,
            subnet_ids=network.private_subnet_ids, security_group_ids=pulumi.Output.all(task_sg.id),
            http_target_group_arn=load_balancer.http_target_group_arn,
            https_target_group_arn=load_balancer.https_target_group_arn, **_pick(ecs, _SERVICE_KEYS)),
            opts=pulumi.ResourceOptions(parent=self, transformations=[keep_earlier_urn]))

        dns = load_balancer.dns_name
        self.proxy_url = pulumi.Output.concat("http://", dns)
        self.proxy_https_url = pulumi.Output.concat("https://", dns)
        self.curl_check = pulumi.Output.concat("curl -si http://", dns, f"/ | head -n 1   # expect {NO_ROUTE}")
        self.ecs_cluster_name = service.cluster_name
        self.ecs_service_name = service.service_name
        self.log_group_name = task_definition.log_group_name
        self.control_plane_endpoint = pulumi.Output.from_input(control_plane_endpoint).apply(
            lambda e: parse_endpoint(e).address)
        self.telemetry_endpoint = pulumi.Output.from_input(telemetry_endpoint).apply(
            lambda e: parse_endpoint(e).address)
        self.data_plane_certificate_pem = certificate.cert_pem
        self.konnect_control_plane_id = control_plane.control_plane_id if control_plane else None
        self.konnect_pinned_certificate_id = pin.certificate_id if pin else None
        self.konnect_pin_instructions = None if managed else pulumi.Output.from_input(PIN_INSTRUCTIONS)
        self.register_outputs(self.stack_outputs())

    def stack_outputs(self) -> dict[str, pulumi.Output]:
        """The outputs an operator needs after ``pulumi up``, by stack output name (camelCase);
        none of them is secret."""
        outputs = {
            "proxyUrl": self.proxy_url,
            "proxyHttpsUrl": self.proxy_https_url,
            "curlCheck": self.curl_check,
            "ecsClusterName": self.ecs_cluster_name,
            "ecsServiceName": self.ecs_service_name,
            "logGroupName": self.log_group_name,
            "controlPlaneEndpoint": self.control_plane_endpoint,
            "telemetryEndpoint": self.telemetry_endpoint,
            "dataPlaneCertificatePem": self.data_plane_certificate_pem,
            "konnectControlPlaneId": self.konnect_control_plane_id,
            "konnectPinnedCertificateId": self.konnect_pinned_certificate_id,
            "konnectPinInstructions": self.konnect_pin_instructions,
        }
        return {key: value for key, value in outputs.items() if value is not None}
