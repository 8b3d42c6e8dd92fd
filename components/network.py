import enum
import ipaddress
from typing import Optional, TypedDict

import pulumi
import pulumi_aws as aws

from components.package import type_token, with_defaults

#: How many equal blocks the VPC range is cut into: public subnets take blocks 0-5, private
#: subnets blocks 8-13 (a /16 gives /20 subnets of 4,096 addresses).
_SUBNET_BLOCKS = 16
_PRIVATE_OFFSET = 8
MAX_AZS = 6


class NatGateways(str, enum.Enum):
    """How a new VPC's private subnets reach the internet: a NAT gateway per zone (survives a zone
    outage) or a single one (cheaper, one point of failure for outbound traffic)."""

    PER_AZ = "per-az"
    SINGLE = "single"


class NetworkArgs(TypedDict, total=False):
    """Arguments of :class:`Network`: a new VPC (no ``vpc_id``) or an existing one.

    Defaults: :data:`NETWORK_DEFAULTS`. The shape-deciding arguments are plain values.
    """

    cidr_block: str
    """new VPC: its IPv4 block, /16 to /24 (default ``10.0.0.0/16``)"""
    availability_zone_count: int
    """new VPC: how many zones get a public and a private subnet, 2-6 (default 2)"""
    nat_gateways: NatGateways
    """new VPC: ``per-az`` (default) or ``single``"""
    vpc_id: str
    """use this existing VPC instead of creating one"""
    public_subnet_ids: pulumi.Input[list[str]]
    """existing VPC: its public subnets (for an internet-facing load balancer)"""
    private_subnet_ids: pulumi.Input[list[str]]
    """existing VPC: its private subnets, with a route to the internet"""


#: Defaults of :class:`NetworkArgs`, the only place they are written.
NETWORK_DEFAULTS: NetworkArgs = {"cidr_block": "10.0.0.0/16", "availability_zone_count": 2,
                                 "nat_gateways": NatGateways.PER_AZ}


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
    NAT gateway(s) so private subnets reach Konnect, container registries and AWS APIs on 443,
    and its default security group stripped of all rules. Outputs: ``vpc_id``,
    ``public_subnet_ids`` and ``private_subnet_ids`` (lists, one subnet per zone, zone order).

    Raises ``ValueError`` when the region has fewer available zones than asked for (the config
    model refuses that first for the regions it knows).
    """

    vpc_id: pulumi.Output[str]
    """the VPC's id"""
    public_subnet_ids: pulumi.Output[list[str]]
    """public subnets, one per zone, in zone order"""
    private_subnet_ids: pulumi.Output[list[str]]
    """private subnets, one per zone, in zone order"""

    def __init__(self, name: str, args: NetworkArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(type_token(Network), name, None, opts)
        settings = with_defaults(args, NETWORK_DEFAULTS)
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

    def _create(self, name: str, args: dict) -> None:
        child = pulumi.ResourceOptions(parent=self)
        zones = aws.get_availability_zones(state="available", opts=pulumi.InvokeOptions(parent=self))
        if len(zones.names) < args['availability_zone_count']:
            raise ValueError(f"the region has {len(zones.names)} available zones, "
                             f"{args['availability_zone_count']} were asked for")
        zone_names = sorted(zones.names)[: args['availability_zone_count']]
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
            if NatGateways(args["nat_gateways"]) is NatGateways.PER_AZ or index == 0:
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
            route_table = aws.ec2.RouteTable(
                f"{name}-private-rt-{index}", vpc_id=vpc.id,
                routes=[aws.ec2.RouteTableRouteArgs(
                    cidr_block="0.0.0.0/0", nat_gateway_id=nat_ids[index if len(nat_ids) > 1 else 0])],
                tags={"Name": f"{name}-private-{zone}"}, opts=child)
            aws.ec2.RouteTableAssociation(f"{name}-private-rta-{index}", subnet_id=private.id,
                                          route_table_id=route_table.id, opts=child)
            private_subnets.append(private)

        self.vpc_id = vpc.id
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public_subnets])
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private_subnets])
