"""The Network Load Balancer that carries client traffic to Kong's proxy ports."""

import enum
from typing import Any, Optional, Required, TypedDict

import pulumi
import pulumi_aws as aws

from components.kong_facts import PRIVATE_IPV4_BLOCKS, PROXY_HTTP_PORT, PROXY_HTTPS_PORT, STATUS_PATH, STATUS_PORT
from components.package import type_token, with_defaults

#: Target group health check: HTTP ``GET /status`` on Kong's status listener. ``/status`` answers
#: 200 while Kong runs, whatever configuration it holds. ``/status/ready`` answers 503 until a data
#: plane has received a non-empty configuration from its control plane (Kong docs, "Readiness
#: check"; ../shared/reference/README.md), so a data plane attached to a new, empty control plane
#: would be marked unhealthy and ECS would replace it in a loop.
HEALTH_CHECK_PATH = STATUS_PATH


class TlsMode(str, enum.Enum):
    """Where client TLS ends: at Kong (``passthrough``: 443 reaches Kong's 8443 as TCP) or at the
    NLB (``terminate``: an ACM certificate, re-encrypted to 8443)."""

    PASSTHROUGH = "passthrough"
    TERMINATE = "terminate"


class LoadBalancerSettings(TypedDict, total=False):
    """The proxy load balancer as a user chooses it (defaults: :data:`LOAD_BALANCER_DEFAULTS`)."""

    internal: bool
    """an internal NLB (default false: internet-facing)"""
    tls_mode: TlsMode
    """``passthrough`` (default) or ``terminate``"""
    certificate_arn: pulumi.Input[str]
    """ACM certificate of the TLS listener, with ``terminate`` (required then)"""
    ssl_policy: pulumi.Input[str]
    """ELB TLS policy, with ``terminate`` (default ``ELBSecurityPolicy-TLS13-1-2-2021-06``)"""
    allowed_cidrs: list[str]
    """IPv4 blocks that may reach ports 80 and 443 (default all)"""
    deregistration_delay_seconds: pulumi.Input[int]
    """seconds open connections may finish on a deregistered target (default 30)"""
    deletion_protection: pulumi.Input[bool]
    """NLB deletion protection (default false)"""
    proxy_protocol: bool
    """proxy protocol v2 on both target groups (default false): Kong sees the clients' addresses; the
    Kong tasks must then require the header on the proxy and status listeners"""


class ProxyLoadBalancerArgs(LoadBalancerSettings, total=False):
    """Arguments of :class:`ProxyLoadBalancer`: :class:`LoadBalancerSettings` and where it stands."""

    vpc_id: Required[pulumi.Input[str]]
    """the VPC"""
    subnet_ids: Required[pulumi.Input[list[str]]]
    """public subnets, or private ones when ``internal``"""
    target_security_group_id: Required[pulumi.Input[str]]
    """the Kong tasks' security group; the NLB may reach only it, on the proxy and status ports"""


#: Defaults of :class:`ProxyLoadBalancerArgs`, the only place they are written. The TLS policy is
#: ELB's TLS 1.3 + 1.2 policy (ELB docs, "Security policies for your Network Load Balancer").
#: Proxy protocol is off unless asked for: switching it on for a running stack makes the target
#: groups send the header (seconds) before the new tasks expect it (a rolling deployment), which
#: cuts every request to the old tasks meanwhile (docs/runbooks.md, "Switching proxy protocol").
#: New stacks turn it on in their stack file, as the example stacks do.
LOAD_BALANCER_DEFAULTS: dict[str, Any] = {
    "internal": False, "tls_mode": TlsMode.PASSTHROUGH, "ssl_policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "allowed_cidrs": ["0.0.0.0/0"], "deregistration_delay_seconds": 30, "deletion_protection": False,
    "proxy_protocol": False}


def source_blocks(vpc_cidr_block: Optional[str]) -> list[str]:
    """The CIDR blocks the NLB's connections to its targets come from (client IP preservation off:
    the NLB's private addresses, one per subnet, inside the VPC): ``[vpc_cidr_block]``, or
    :data:`components.kong_facts.PRIVATE_IPV4_BLOCKS` when the VPC's block is not known here (an
    existing VPC). Kong's ``trusted_ips`` with proxy protocol; only the NLB's security group reaches
    the tasks, so no other peer of those blocks can send Kong a header."""
    return [vpc_cidr_block] if vpc_cidr_block else list(PRIVATE_IPV4_BLOCKS)


class ProxyLoadBalancer(pulumi.ComponentResource):
    """An NLB forwarding 80 -> 8000 and 443 -> 8443 (type ``kong-aws:index:ProxyLoadBalancer``).

    Targets are task IPs (``awsvpc``); both target groups check health on the status listener
    (port 8100, ``GET /status``, see :data:`HEALTH_CHECK_PATH`). The NLB has its own security group:
    ingress 80/443 from ``allowed_cidrs`` only, egress only to the tasks' group on 8000, 8443 and
    8100. Cross-zone load balancing is on. With ``proxy_protocol`` both target groups send a PROXY
    protocol v2 header on every connection, the health checks' included (ELB docs, "Target groups
    for your Network Load Balancers": "the proxy protocol header is also included in the health
    check connection"), so Kong's proxy *and* status listeners must require it
    (:func:`components.ecs_task_definition.data_plane_node`). Client IP preservation stays off: the
    source address Kong sees is the NLB's private address in its subnet, the ``trusted_ips`` Kong
    needs.

    Outputs: ``dns_name``, ``arn``, ``security_group_id``, ``http_target_group_arn``,
    ``https_target_group_arn`` (each resolves once its listener exists, so a service that
    registers targets waits for the listeners). Raises ``ValueError`` when ``tls_mode`` is ``terminate``
    without ``certificate_arn``.
    """

    dns_name: pulumi.Output[str]
    """the NLB's DNS name"""
    arn: pulumi.Output[str]
    """the NLB's ARN"""
    arn_suffix: pulumi.Output[str]
    """the NLB's ARN suffix ``net/<name>/<id>`` (CloudWatch's ``LoadBalancer`` dimension)"""
    target_group_arn_suffixes: pulumi.Output[list[str]]
    """the http and https target groups' ARN suffixes (CloudWatch's ``TargetGroup`` dimension)"""
    security_group_id: pulumi.Output[str]
    """the NLB's security group"""
    http_target_group_arn: pulumi.Output[str]
    """target group of port 8000, once its listener exists"""
    https_target_group_arn: pulumi.Output[str]
    """target group of port 8443, once its listener exists"""

    def __init__(self, name: str, args: ProxyLoadBalancerArgs,
                 opts: Optional[pulumi.ResourceOptions] = None):
        args = with_defaults(args, LOAD_BALANCER_DEFAULTS)  # type: ignore[assignment]
        terminate = TlsMode(args["tls_mode"]) is TlsMode.TERMINATE
        if terminate and not args.get("certificate_arn"):
            raise ValueError("tls_mode 'terminate' needs certificate_arn")
        super().__init__(type_token(ProxyLoadBalancer), name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        sg = aws.ec2.SecurityGroup(
            f"{name}-sg", vpc_id=args["vpc_id"],
            description="Kong proxy NLB: clients in on 80/443, out only to the Kong tasks",
            tags={"Name": f"{name}-nlb"}, opts=child)
        for port in (80, 443):
            for index, cidr in enumerate(args["allowed_cidrs"]):
                aws.vpc.SecurityGroupIngressRule(
                    f"{name}-in-{port}-{index}", security_group_id=sg.id, ip_protocol="tcp",
                    from_port=port, to_port=port, cidr_ipv4=cidr,
                    description=f"clients to the Kong proxy on {port}", opts=child)
        for port, what in ((PROXY_HTTP_PORT, "proxy http"), (PROXY_HTTPS_PORT, "proxy https"),
                           (STATUS_PORT, "status listener health checks")):
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-out-{port}", security_group_id=sg.id, ip_protocol="tcp", from_port=port,
                to_port=port, referenced_security_group_id=args["target_security_group_id"],
                description=f"to Kong tasks: {what}", opts=child)

        nlb = aws.lb.LoadBalancer(
            f"{name}-nlb", load_balancer_type="network", internal=args["internal"],
            subnets=args["subnet_ids"], security_groups=[sg.id], ip_address_type="ipv4",
            enable_cross_zone_load_balancing=True,
            enable_deletion_protection=args["deletion_protection"],
            enforce_security_group_inbound_rules_on_private_link_traffic="on",
            tags={"Name": f"{name}-nlb"}, opts=child)

        health_check = aws.lb.TargetGroupHealthCheckArgs(
            enabled=True, protocol="HTTP", port=str(STATUS_PORT), path=HEALTH_CHECK_PATH,
            matcher="200", interval=10, timeout=5, healthy_threshold=2, unhealthy_threshold=3)

        # A target group serves one load balancer. When the NLB is replaced (internal toggled, a
        # subnet removed: the inputs that force a new aws_lb), the new NLB's listeners need target
        # groups of their own, so the target groups are replaced with it (Pulumi's `replaceWith`
        # option): created before the new listeners, the service moved onto them, the old ones
        # deleted after the old listeners. Adding the option replaces nothing by itself.
        with_nlb = pulumi.ResourceOptions(parent=self, replace_with=[nlb])

        def target_group(suffix: str, port: int, protocol: str) -> aws.lb.TargetGroup:
            return aws.lb.TargetGroup(
                f"{name}-{suffix}", vpc_id=args["vpc_id"], target_type="ip", port=port,
                protocol=protocol, health_check=health_check,
                deregistration_delay=args["deregistration_delay_seconds"], preserve_client_ip="false",
                proxy_protocol_v2=bool(args["proxy_protocol"]), connection_termination=True,
                tags={"Name": f"{name}-{suffix}"}, opts=with_nlb)

        http_tg = target_group("http", PROXY_HTTP_PORT, "TCP")
        # In terminate mode the NLB re-encrypts to 8443, so Kong still sees https requests.
        https_tg = target_group("https", PROXY_HTTPS_PORT,
                                "TLS" if terminate else "TCP")

        http_listener = aws.lb.Listener(
            f"{name}-http", load_balancer_arn=nlb.arn, port=80, protocol="TCP",
            default_actions=[aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=http_tg.arn)],
            opts=child)
        tls_args = ({"certificate_arn": args["certificate_arn"], "ssl_policy": args["ssl_policy"],
                     "protocol": "TLS"} if terminate else {"protocol": "TCP"})
        https_listener = aws.lb.Listener(
            f"{name}-https", load_balancer_arn=nlb.arn, port=443, **tls_args,
            default_actions=[aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=https_tg.arn)],
            opts=child)

        self.dns_name = nlb.dns_name
        self.arn = nlb.arn
        # CloudWatch's LoadBalancer and TargetGroup dimensions (components/monitoring.py).
        self.arn_suffix = nlb.arn_suffix
        self.target_group_arn_suffixes = pulumi.Output.all(http_tg.arn_suffix, https_tg.arn_suffix)
        self.security_group_id = sg.id
        # Resolved through the listeners, so that whoever registers targets waits for them (ECS
        # refuses a target group no listener forwards to).
        self.http_target_group_arn = pulumi.Output.all(http_tg.arn, http_listener.arn).apply(lambda v: v[0])
        self.https_target_group_arn = pulumi.Output.all(https_tg.arn, https_listener.arn).apply(lambda v: v[0])
        self.register_outputs({
            "dnsName": self.dns_name,
            "arn": self.arn,
            "arnSuffix": self.arn_suffix,
            "targetGroupArnSuffixes": self.target_group_arn_suffixes,
            "securityGroupId": self.security_group_id,
            "httpTargetGroupArn": self.http_target_group_arn,
            "httpsTargetGroupArn": self.https_target_group_arn,
        })
