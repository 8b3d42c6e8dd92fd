import enum
import ipaddress
from collections.abc import Sequence
from typing import Any, Optional, TypedDict, cast

import pulumi
import pulumi_aws as aws

from components import aws_facts
from components.aws_facts import ZoneService
from components.package import type_token, with_defaults

#: How many equal blocks the VPC range is cut into: public subnets take blocks 0-5, private
#: subnets blocks 8-13 (a /16 gives /20 subnets of 4,096 addresses).
_SUBNET_BLOCKS = 16
_PRIVATE_OFFSET = 8
MAX_AZS = 6


class Egress(str, enum.Enum):
    """How the workloads reach the internet (Konnect, the image registry, AWS APIs, upstreams).

    ``nat-per-az``: they run in the private subnets, each zone's through its own NAT gateway (an
    outage of one zone does not cut the others' outbound traffic). ``nat-single``: one NAT gateway
    in the first zone serves every private subnet (cheaper; outbound traffic of every zone depends
    on that zone). ``public-ip``: the workloads run in the public subnets with public IPv4
    addresses and reach the internet through the internet gateway; no NAT gateway, no Elastic IP.
    Their security group is then the only thing between them and the internet (konnect-ecs admits
    only the load balancer's security group). AWS charges every public IPv4 address, a task's too
    (Amazon VPC pricing, "Public IPv4 address"), but not the NAT gateway's hours and data processing.
    """

    NAT_PER_AZ = "nat-per-az"
    NAT_SINGLE = "nat-single"
    PUBLIC_IP = "public-ip"


class NatGateways(str, enum.Enum):
    """Deprecated spelling of :class:`Egress` (``nat_gateways``, ``kong-aws:network.natGateways``),
    kept so that existing stacks keep working: ``per-az`` is ``nat-per-az``, ``single`` is
    ``nat-single``."""

    PER_AZ = "per-az"
    SINGLE = "single"


#: What each deprecated :class:`NatGateways` value means as :class:`Egress`.
EGRESS_OF_NAT_GATEWAYS = {NatGateways.PER_AZ: Egress.NAT_PER_AZ, NatGateways.SINGLE: Egress.NAT_SINGLE}


class NetworkArgs(TypedDict, total=False):
    """Arguments of :class:`Network`: a new VPC (no ``vpc_id``) or an existing one.

    Defaults: :data:`NETWORK_DEFAULTS`. The shape-deciding arguments are plain values.
    """

    cidr_block: str
    """new VPC: its IPv4 block, /16 to /24 (default ``10.0.0.0/16``)"""
    availability_zone_count: int
    """new VPC: how many zones get a public and a private subnet, 2-6 (default 2), the first usable by name"""
    availability_zone_ids: list[str]
    """new VPC: instead of a count, exactly these 2-6 Availability Zone IDs (``use1-az1``), in subnet order"""
    excluded_zone_ids: list[str]
    """new VPC: AZ IDs never to use, e.g. those a service in the subnets refuses (``use1-az3``: EKS)"""
    egress: Egress
    """how the workloads reach the internet: ``nat-per-az`` (default), ``nat-single`` or ``public-ip`` (new VPC); an existing VPC: ``public-ip`` puts them in ``public_subnet_ids``, otherwise its own routes decide"""
    nat_gateways: NatGateways
    """deprecated, use ``egress``: ``per-az`` (``nat-per-az``) or ``single`` (``nat-single``)"""
    vpc_id: str
    """use this existing VPC instead of creating one"""
    public_subnet_ids: pulumi.Input[list[str]]
    """existing VPC: its public subnets (for an internet-facing load balancer)"""
    private_subnet_ids: pulumi.Input[list[str]]
    """existing VPC: its private subnets, with a route to the internet"""


#: Defaults of :class:`NetworkArgs`, the only place they are written. ``egress`` stays
#: ``nat-per-az``, what every stack had before it was a choice: a stack that sets nothing plans no
#: change, the workloads have no public address (AWS Security Hub control ECS.2 flags ECS services
#: that assign one), and both modes work (EKS Auto Mode nodes need private subnets with NAT).
NETWORK_DEFAULTS: NetworkArgs = {"cidr_block": "10.0.0.0/16", "availability_zone_count": 2,
                                 "egress": Egress.NAT_PER_AZ}


def resolve_egress(args: Optional[NetworkArgs]) -> Egress:
    """The :class:`Egress` of ``args`` (None: no arguments): ``egress``, else the deprecated
    ``nat_gateways`` (:data:`EGRESS_OF_NAT_GATEWAYS`), else the default (``nat-per-az``).

    Raises ``ValueError`` when both are given and mean different things.
    """
    given: dict[str, Any] = dict(args or {})
    egress, nat = given.get("egress"), given.get("nat_gateways")
    from_nat = EGRESS_OF_NAT_GATEWAYS[NatGateways(nat)] if nat is not None else None
    if egress is not None and from_nat is not None and Egress(egress) is not from_nat:
        raise ValueError(f"egress {Egress(egress).value!r} and the deprecated nat_gateways {NatGateways(nat).value!r} "
                         "disagree; give egress only")
    if egress is not None:
        return Egress(egress)
    return from_nat or Egress(NETWORK_DEFAULTS["egress"])


def subnet_blocks(cidr_block: str, count: int) -> tuple[list[str], list[str]]:
    """Split ``cidr_block`` into ``count`` public and ``count`` private subnet ranges.

    Returns ``(public, private)`` lists of CIDR strings, all of one size (the VPC prefix + 4).
    Raises ``ValueError`` when ``count`` is outside 1-6 or the subnets would be smaller than the
    /28 that AWS allows.
    """
    if not 1 <= count <= MAX_AZS:
        raise ValueError(f"availability zone count must be 1 to {MAX_AZS}, got {count}")
    network = ipaddress.IPv4Network(cidr_block)
    if network.prefixlen + 4 > 28:
        raise ValueError(f"{cidr_block} is too small for /28 subnets (use /24 or larger)")
    blocks = list(network.subnets(prefixlen_diff=4))
    assert len(blocks) == _SUBNET_BLOCKS
    public = [str(b) for b in blocks[:count]]
    private = [str(b) for b in blocks[_PRIVATE_OFFSET:_PRIVATE_OFFSET + count]]
    return public, private


class Network(pulumi.ComponentResource):
    """A VPC with public and private subnets (type ``kong-aws:index:Network``).

    A new VPC gets DNS support, an internet gateway, one public and one private subnet per zone,
    and its default security group stripped of all rules. Egress (:func:`resolve_egress`):
    ``nat-per-az`` a NAT gateway (and its Elastic IP) in each zone's public subnet, ``nat-single``
    one in the first zone, each private subnet's default route through them; ``public-ip`` no NAT
    gateway, and the private route tables' routes are no longer managed (``ignore_changes``), so
    that switching a running stack from NAT does not take the private subnets' outbound route away
    while the old tasks still run there: the route goes only with its NAT gateway, which Pulumi
    deletes after every create and update of the run (the new tasks then run in the public subnets).
    AWS then shows that route as ``blackhole``; it sends nothing anywhere. Outputs: ``vpc_id``,
    ``public_subnet_ids`` and ``private_subnet_ids`` (lists, one subnet per zone, zone order).

    Zones (new VPC): the region's Availability Zones in state ``available`` with opt-in status
    ``opt-in-not-required`` (so never a Local Zone or Wavelength Zone the account opted into),
    minus ``excluded_zone_ids``. With ``availability_zone_ids`` exactly those, in that order;
    otherwise the first ``availability_zone_count`` by zone name, the order this component has
    always used, so that a stack whose zones were all usable keeps them. Each subnet is placed with
    the zone *name* the same invoke answers for its zone ID: the ``availability_zone`` input of the
    subnets that exist stays what it was (a new value, or a switch to ``availability_zone_id``,
    would replace them). :meth:`args_for_service` adds the zones a service refuses
    (:data:`components.aws_facts.UNSUPPORTED_ZONE_IDS`).

    Raises ``ValueError`` before declaring anything when ``availability_zone_ids`` is given with
    ``availability_zone_count`` or repeats a zone, when ``egress`` and ``nat_gateways`` disagree,
    when an existing VPC gets a NAT ``egress`` (its routes decide) or ``public-ip`` without
    ``public_subnet_ids``, and at run time when fewer usable zones are left
    than asked for or a given zone ID is not a usable zone of the region (the config model refuses
    both first for the regions it knows).
    """

    vpc_id: pulumi.Output[str]
    """the VPC's id"""
    public_subnet_ids: pulumi.Output[list[str]]
    """public subnets, one per zone, in zone order"""
    private_subnet_ids: pulumi.Output[list[str]]
    """private subnets, one per zone, in zone order"""

    @staticmethod
    def args_for_service(args: Optional[NetworkArgs], *services: ZoneService) -> NetworkArgs:
        """``args`` (None: no arguments) with the zone IDs each of ``services`` refuses
        (:data:`components.aws_facts.UNSUPPORTED_ZONE_IDS`) added to ``excluded_zone_ids``, sorted.
        The top-level component that puts a service in the subnets calls this.

        Raises ``ValueError`` for ``public-ip`` egress with ``eks-control-plane``: EKS Auto Mode
        nodes run in the private subnets and reach the internet only through NAT."""
        if "eks-control-plane" in services and resolve_egress(args) is Egress.PUBLIC_IP:
            raise ValueError("egress 'public-ip' is for ECS tasks; EKS Auto Mode nodes run in the private subnets "
                             "and need 'nat-per-az' or 'nat-single'")
        merged: dict[str, Any] = dict(args or {})
        excluded: set[str] = set(merged.get("excluded_zone_ids") or ())
        for service in services:
            excluded |= aws_facts.UNSUPPORTED_ZONE_IDS[service]
        merged["excluded_zone_ids"] = sorted(excluded)
        return cast(NetworkArgs, merged)

    def __init__(self, name: str, args: NetworkArgs, opts: Optional[pulumi.ResourceOptions] = None):
        ids = args.get("availability_zone_ids")
        if ids is not None and args.get("availability_zone_count") is not None:
            raise ValueError("give availability_zone_ids or availability_zone_count, not both")
        if ids is not None and len(set(ids)) != len(ids):
            raise ValueError(f"availability_zone_ids repeats a zone: {list(ids)}")
        egress = resolve_egress(args)
        if args.get("vpc_id") is not None:
            if (args.get("egress") is not None and egress is not Egress.PUBLIC_IP) or args.get("nat_gateways") is not None:
                raise ValueError("an existing VPC's routes decide its NAT egress: give egress 'public-ip' or none")
            if egress is Egress.PUBLIC_IP and args.get("public_subnet_ids") is None:
                raise ValueError("egress 'public-ip' in an existing VPC needs public_subnet_ids")
        super().__init__(type_token(Network), name, None, opts)
        settings = with_defaults(args, NETWORK_DEFAULTS)
        settings["egress"] = egress
        if settings.get("vpc_id") is not None:
            self.vpc_id = pulumi.Output.from_input(settings["vpc_id"])
            self.public_subnet_ids = pulumi.Output.from_input(settings.get("public_subnet_ids", []))
            self.private_subnet_ids = pulumi.Output.from_input(settings.get("private_subnet_ids", []))
        else:
            self._create(name, settings)
        self.register_outputs({
            "vpcId": self.vpc_id,
            "publicSubnetIds": self.public_subnet_ids,
            "privateSubnetIds": self.private_subnet_ids,
        })

    def _zone_names(self, args: dict) -> list[str]:
        """The names of the zones to use, in subnet order (see the class docstring)."""
        # Without the filter an account's opted-in Local Zones come too, and their names sort first.
        zones = aws.get_availability_zones(
            state="available",
            filters=[aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])],
            opts=pulumi.InvokeOptions(parent=self))
        name_of = dict(zip(zones.zone_ids, zones.names))
        excluded = set(args.get("excluded_zone_ids") or ())
        given: Optional[Sequence[str]] = args.get("availability_zone_ids")
        if given is not None:
            wrong = [z for z in given if z not in name_of or z in excluded]
            if wrong:
                raise ValueError(f"availability_zone_ids {wrong} are not usable zones of the region (usable: "
                                 f"{sorted(set(name_of) - excluded)}; excluded: {sorted(excluded)})")
            return [name_of[z] for z in given]
        count = args["availability_zone_count"]
        usable = sorted(n for z, n in name_of.items() if z not in excluded)
        if len(usable) < count:
            raise ValueError(f"the region has {len(usable)} usable Availability Zones ({', '.join(usable)}; "
                             f"excluded: {', '.join(sorted(excluded)) or 'none'}), {count} were asked for")
        return usable[:count]

    def _create(self, name: str, args: dict) -> None:
        child = pulumi.ResourceOptions(parent=self)
        zone_names = self._zone_names(args)
        public_blocks, private_blocks = subnet_blocks(args['cidr_block'], len(zone_names))

        vpc = aws.ec2.Vpc(f"{name}-vpc", cidr_block=args['cidr_block'], enable_dns_hostnames=True,
                          enable_dns_support=True, tags={"Name": f"{name}-vpc"}, opts=child)
        # No rules: nothing uses the default group, and an open default group is a common finding.
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=vpc.id, ingress=[], egress=[],
                                     opts=child)
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags={"Name": f"{name}-igw"},
                                      opts=child)
        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt", vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            tags={"Name": f"{name}-public"}, opts=child)

        egress = Egress(args["egress"])
        public_subnets, private_subnets, nat_ids = [], [], []
        for index, zone in enumerate(zone_names):
            public = aws.ec2.Subnet(
                f"{name}-public-{index}", vpc_id=vpc.id, cidr_block=public_blocks[index],
                availability_zone=zone, map_public_ip_on_launch=False,
                # The role tag lets EKS (Auto Mode, or the AWS Load Balancer Controller) place
                # internet-facing load balancers here (EKS User Guide, "Tag subnets for EKS Auto Mode").
                tags={"Name": f"{name}-public-{zone}", "kong-aws/tier": "public", "kubernetes.io/role/elb": "1"},
                opts=child)
            aws.ec2.RouteTableAssociation(f"{name}-public-rta-{index}", subnet_id=public.id,
                                          route_table_id=public_rt.id, opts=child)
            public_subnets.append(public)
            if egress is Egress.NAT_PER_AZ or (egress is Egress.NAT_SINGLE and index == 0):
                eip = aws.ec2.Eip(f"{name}-nat-{index}", domain="vpc",
                                  tags={"Name": f"{name}-nat-{zone}"}, opts=child)
                nat = aws.ec2.NatGateway(
                    f"{name}-nat-{index}", allocation_id=eip.id, subnet_id=public.id,
                    tags={"Name": f"{name}-nat-{zone}"},
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]))
                nat_ids.append(nat.id)

        for index, zone in enumerate(zone_names):
            private = aws.ec2.Subnet(
                f"{name}-private-{index}", vpc_id=vpc.id, cidr_block=private_blocks[index],
                availability_zone=zone, map_public_ip_on_launch=False,
                tags={"Name": f"{name}-private-{zone}", "kong-aws/tier": "private",
                      "kubernetes.io/role/internal-elb": "1"}, opts=child)
            routes = [aws.ec2.RouteTableRouteArgs(
                cidr_block="0.0.0.0/0", nat_gateway_id=nat_ids[index if len(nat_ids) > 1 else 0])] if nat_ids else []
            route_table = aws.ec2.RouteTable(
                f"{name}-private-rt-{index}", vpc_id=vpc.id, routes=routes,
                tags={"Name": f"{name}-private-{zone}"},
                # public-ip: see the class docstring (the route to a NAT gateway goes with it, last).
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["routes"]) if not nat_ids else child)
            aws.ec2.RouteTableAssociation(f"{name}-private-rta-{index}", subnet_id=private.id,
                                          route_table_id=route_table.id, opts=child)
            private_subnets.append(private)

        self.vpc_id = vpc.id
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public_subnets])
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private_subnets])
