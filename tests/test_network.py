"""Network (components/network.py): subnet planning, and what a new or existing VPC registers.

Each test runs a small program afresh under the mocks. Resources are linked through what the
engine received (property dependencies and the ids in registered inputs), so the checks follow
the real wiring: private subnet -> route table -> NAT gateway -> public subnet -> zone.
"""

from __future__ import annotations

import ipaddress
import itertools
from typing import Optional

import pulumi
import pytest

from components.network import Egress, NatGateways, Network, NetworkArgs, resolve_egress, subnet_blocks
from tools.mocks import Registration, RunResult, run_program

REGION = "us-west-2"
COMPONENT = "kong-aws:index:Network"
VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
EIP = "aws:ec2/eip:Eip"
NAT = "aws:ec2/natGateway:NatGateway"
IGW = "aws:ec2/internetGateway:InternetGateway"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
AZ_INVOKE = "aws:index/getAvailabilityZones:getAvailabilityZones"
#: The zones the fake cloud answers for a region (tools/mocks.py FakeCloud.call).
FAKE_ZONES = {f"{REGION}{suffix}" for suffix in "abc"}


# --- subnet_blocks ------------------------------------------------------------------------------

@pytest.mark.parametrize("cidr", ["10.0.0.0/16", "172.31.0.0/20", "192.168.7.0/24"])
@pytest.mark.parametrize("count", [1, 2, 3, 6])
def test_subnet_blocks_are_equal_disjoint_and_inside_the_vpc(cidr, count):
    vpc = ipaddress.IPv4Network(cidr)
    public, private = subnet_blocks(cidr, count)
    assert len(public) == len(private) == count
    nets = [ipaddress.IPv4Network(block) for block in public + private]
    assert {n.prefixlen for n in nets} == {vpc.prefixlen + 4}
    # AWS subnets are /16 to /28.
    assert all(16 <= n.prefixlen <= 28 for n in nets)
    assert all(n.subnet_of(vpc) for n in nets)
    assert not [(a, b) for a, b in itertools.combinations(nets, 2) if a.overlaps(b)]


@pytest.mark.parametrize("cidr, count", [
    ("10.0.0.0/16", 0),
    ("10.0.0.0/16", 7),
    ("10.0.0.0/25", 2),   # /29 subnets: below the AWS minimum of /28
    ("10.0.0.1/16", 2),   # host bits set: not a network
])
def test_subnet_blocks_rejects_impossible_plans(cidr, count):
    with pytest.raises(ValueError):
        subnet_blocks(cidr, count)


# --- a new VPC ----------------------------------------------------------------------------------

def _run(args: NetworkArgs) -> RunResult:
    def program() -> None:
        network = Network("net", args)
        pulumi.export("vpcId", network.vpc_id)
        pulumi.export("publicSubnetIds", network.public_subnet_ids)
        pulumi.export("privateSubnetIds", network.private_subnet_ids)
    return run_program(program, {"aws:region": REGION})


class Wiring:
    """Follow registered references: ``target(reg, "subnetId")`` is the resource that input came from."""

    def __init__(self, result: RunResult):
        self.result = result
        self.urns = result.by_urn()

    def target(self, reg: Registration, prop: str) -> Registration:
        urns = reg.property_dependencies.get(prop, [])
        assert len(urns) == 1, f"{reg.name}.{prop} depends on {urns}"
        return self.urns[urns[0]]

    def tier(self, tier: str) -> list[Registration]:
        return [s for s in self.result.of_type(SUBNET) if s.inputs["tags"].get("kong-aws/tier") == tier]

    def route_table_of(self, subnet: Registration) -> Registration:
        found = [self.target(a, "routeTableId") for a in self.result.of_type(ASSOCIATION)
                 if self.target(a, "subnetId").urn == subnet.urn]
        assert len(found) == 1, f"{subnet.name} is associated with {len(found)} route tables"
        return found[0]

    def subnet_ids(self) -> dict[str, Registration]:
        """Subnet id (as the fake cloud answered) -> subnet, read from the associations' inputs."""
        return {a.inputs["subnetId"]: self.target(a, "subnetId") for a in self.result.of_type(ASSOCIATION)}


def _default_route(route_table: Registration) -> dict:
    routes = [r for r in route_table.inputs["routes"] if r.get("cidrBlock") == "0.0.0.0/0"]
    assert len(routes) == 1, route_table.inputs["routes"]
    return routes[0]


@pytest.mark.parametrize("zones", [2, 3])
def test_per_az_nat_each_private_subnet_leaves_through_its_own_zone(zones):
    result = _run(NetworkArgs(availability_zone_count=zones, nat_gateways=NatGateways.PER_AZ))
    wiring = Wiring(result)
    public, private = wiring.tier("public"), wiring.tier("private")
    assert len(public) == len(private) == zones
    for tier in (public, private):
        azs = [s.inputs["availabilityZone"] for s in tier]
        assert len(set(azs)) == zones and set(azs) <= FAKE_ZONES
    assert {s.inputs["availabilityZone"] for s in public} == {s.inputs["availabilityZone"] for s in private}

    eips, nats = result.of_type(EIP), result.of_type(NAT)
    assert len(eips) == len(nats) == zones
    assert all(e.inputs["domain"] == "vpc" for e in eips)
    assert len({wiring.target(n, "allocationId").urn for n in nats}) == zones
    nat_zones = {wiring.target(n, "subnetId").inputs["availabilityZone"] for n in nats}
    assert len(nat_zones) == zones
    # A NAT gateway only reaches the internet from a public subnet.
    assert all(wiring.target(n, "subnetId") in public for n in nats)

    nat_ids = set()
    for subnet in private:
        route_table = wiring.route_table_of(subnet)
        route = _default_route(route_table)
        assert "gatewayId" not in route or not route["gatewayId"]
        nat = wiring.target(route_table, "routes")
        assert nat.type == NAT
        assert wiring.target(nat, "subnetId").inputs["availabilityZone"] == subnet.inputs["availabilityZone"]
        nat_ids.add(route["natGatewayId"])
    assert len(nat_ids) == zones


def test_single_nat_is_shared_by_every_private_route_table():
    result = _run(NetworkArgs(availability_zone_count=3, nat_gateways=NatGateways.SINGLE))
    wiring = Wiring(result)
    nat = result.one(NAT)
    assert len(result.of_type(EIP)) == 1
    assert wiring.target(nat, "subnetId") in wiring.tier("public")
    private = wiring.tier("private")
    assert len(private) == 3
    route_tables = [wiring.route_table_of(s) for s in private]
    assert all(wiring.target(rt, "routes").urn == nat.urn for rt in route_tables)
    assert len({_default_route(rt)["natGatewayId"] for rt in route_tables}) == 1


def test_public_subnets_route_to_the_internet_gateway_and_map_no_public_ips():
    result = _run(NetworkArgs())
    wiring = Wiring(result)
    igw = result.one(IGW)
    for subnet in wiring.tier("public"):
        route_table = wiring.route_table_of(subnet)
        assert _default_route(route_table).get("gatewayId")
        assert wiring.target(route_table, "routes").urn == igw.urn
    # Tasks sit in private subnets and the NLB gets its own addresses: no subnet hands out public IPs.
    assert [s.inputs["mapPublicIpOnLaunch"] for s in result.of_type(SUBNET)] == [False] * 4
    # NAT gateways need the internet gateway attached first.
    assert all(igw.urn in n.dependencies for n in result.of_type(NAT))


def test_vpc_block_dns_and_subnets_inside_it():
    result = _run(NetworkArgs(cidr_block="10.42.0.0/16"))
    vpc = result.one(VPC)
    assert vpc.inputs["cidrBlock"] == "10.42.0.0/16"
    assert vpc.inputs["enableDnsSupport"] is True and vpc.inputs["enableDnsHostnames"] is True
    nets = [ipaddress.IPv4Network(s.inputs["cidrBlock"]) for s in result.of_type(SUBNET)]
    assert all(n.subnet_of(ipaddress.IPv4Network("10.42.0.0/16")) for n in nets)
    assert not [(a, b) for a, b in itertools.combinations(nets, 2) if a.overlaps(b)]


def test_default_security_group_is_stripped_of_rules():
    result = _run(NetworkArgs())
    sg = result.one(DEFAULT_SG)
    assert sg.inputs["ingress"] == [] and sg.inputs["egress"] == []
    assert Wiring(result).target(sg, "vpcId").type == VPC


def test_children_and_invoke_belong_to_the_component():
    result = _run(NetworkArgs())
    component = result.one(COMPONENT)
    children = [r for r in result.registrations if r.type.startswith("aws:")]
    assert children and all(r.parent == component.urn for r in children)
    # Only zones that are up: a zone in another state would get subnets that cannot launch tasks.
    assert [args.get("state") for token, args in result.invokes if token == AZ_INVOKE] == ["available"]


def test_outputs_list_subnets_by_tier_in_zone_order():
    result = _run(NetworkArgs(availability_zone_count=3))
    by_id = Wiring(result).subnet_ids()
    assert result.outputs["vpcId"][0].startswith("vpc-")
    for key, tier in (("publicSubnetIds", "public"), ("privateSubnetIds", "private")):
        ids, _ = result.outputs[key]
        subnets = [by_id[i] for i in ids]
        assert [s.inputs["tags"]["kong-aws/tier"] for s in subnets] == [tier] * 3
        zones = [s.inputs["availabilityZone"] for s in subnets]
        assert zones == sorted(zones) and len(set(zones)) == 3


def test_more_zones_than_the_region_has_is_refused_before_any_aws_resource():
    errors: list[ValueError] = []

    def program() -> None:
        try:
            Network("net", NetworkArgs(availability_zone_count=4))
        except ValueError as error:
            errors.append(error)

    # eu-north-1 has three zones (components/aws_facts.py); the config model refuses this first.
    result = run_program(program, {"aws:region": "eu-north-1"})
    assert len(errors) == 1 and "3" in str(errors[0]) and "4" in str(errors[0])
    assert [r.type for r in result.registrations if r.type.startswith("aws:")] == []


# --- an existing VPC ----------------------------------------------------------------------------

def test_existing_vpc_registers_nothing_and_passes_the_ids_through():
    public = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]
    private = ["subnet-0a1b2c3d4e5f60003", "subnet-0a1b2c3d4e5f60004"]
    result = _run(NetworkArgs(vpc_id="vpc-0a1b2c3d4e5f60000", public_subnet_ids=public,
                              private_subnet_ids=private))
    assert [r.type for r in result.registrations if r.type.startswith("aws:")] == []
    assert result.outputs["vpcId"][0] == "vpc-0a1b2c3d4e5f60000"
    assert result.outputs["publicSubnetIds"][0] == public
    assert result.outputs["privateSubnetIds"][0] == private


# --- which zones (issue 9, part 5) --------------------------------------------------------------
# Which zones a new VPC uses: Availability Zones only (the fake account has opted into the Los
# Angeles Local Zones of us-west-2, whose names sort first), minus the zones the services refuse
# (components/aws_facts.py UNSUPPORTED_ZONE_IDS, with their AWS sources), or the AZ IDs given.

def _zones_of_tier(result: RunResult, tier: str) -> list[str]:
    """The zone names of a tier's subnets, in subnet (index) order."""
    subnets = sorted((s for s in result.of_type(SUBNET) if s.inputs["tags"]["kong-aws/tier"] == tier),
                     key=lambda s: int(s.name.rsplit("-", 1)[1]))
    return [s.inputs["availabilityZone"] for s in subnets]


def _run_in(region: str, args: NetworkArgs, prior: Optional[RunResult] = None) -> RunResult:
    def program() -> None:
        Network("net", args)
    return run_program(program, {"aws:region": region}, prior=prior)


def test_the_fake_account_lists_its_opted_in_local_zones_first_by_name():
    from tools.mocks import FakeCloud

    def names(**query) -> list[str]:
        return FakeCloud(REGION).call(pulumi.runtime.MockCallArgs(AZ_INVOKE, query, ""))["names"]

    # What `sorted(zones.names)[:n]` saw: the opted-in Local Zones come first ...
    assert sorted(names(state="available"))[:2] == ["us-west-2-lax-1a", "us-west-2-lax-1b"]
    # ... a group not opted into only with all_availability_zones, and the opt-in filter leaves AZs.
    assert "us-west-2-den-1a" not in names() and "us-west-2-den-1a" in names(allAvailabilityZones=True)
    only_azs = names(filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}])
    assert only_azs == [f"us-west-2{letter}" for letter in "abcd"]


def test_local_zones_the_account_opted_into_are_never_chosen():
    result = _run_in(REGION, NetworkArgs(availability_zone_count=3))
    assert _zones_of_tier(result, "public") == _zones_of_tier(result, "private") == \
        ["us-west-2a", "us-west-2b", "us-west-2c"]
    (query,) = [args for token, args in result.invokes if token == AZ_INVOKE]
    assert query["state"] == "available"
    assert query["filters"] == [{"name": "opt-in-status", "values": ["opt-in-not-required"]}]


def test_zones_the_service_refuses_are_skipped_and_the_rest_keep_name_order():
    # In the fake's us-east-1 (aws_facts pairs letters and IDs in order) us-east-1c is use1-az3,
    # which the EKS control plane refuses.
    args = Network.args_for_service(NetworkArgs(availability_zone_count=3), "eks-control-plane")
    assert args["excluded_zone_ids"] == ["cac1-az3", "use1-az3", "usw1-az2"]
    result = _run_in("us-east-1", args)
    assert _zones_of_tier(result, "private") == ["us-east-1a", "us-east-1b", "us-east-1d"]
    # A caller's own exclusions are kept.
    assert Network.args_for_service({"excluded_zone_ids": ["use1-az1"]}, "ecs-fargate")["excluded_zone_ids"] == \
        ["apne1-az3", "cnn1-az4", "use1-az1", "usw1-az2"]


def test_given_zone_ids_place_each_subnet_pair_in_that_zone_in_that_order():
    result = _run_in(REGION, NetworkArgs(availability_zone_ids=["usw2-az3", "usw2-az1", "usw2-az4"]))
    # usw2-az3 is us-west-2c in the fake account (components/aws_facts.py).
    assert _zones_of_tier(result, "public") == _zones_of_tier(result, "private") == \
        ["us-west-2c", "us-west-2a", "us-west-2d"]
    wiring = Wiring(result)
    for nat in result.of_type(NAT):
        index = nat.name.rsplit("-", 1)[1]
        assert wiring.target(nat, "subnetId").name == f"net-public-{index}"


@pytest.mark.parametrize("region, args, text", [
    (REGION, NetworkArgs(availability_zone_ids=["usw2-az1", "usw2-lax1-az1"]), "['usw2-lax1-az1']"),
    ("us-east-1", NetworkArgs(availability_zone_ids=["use1-az1", "use1-az3"], excluded_zone_ids=["use1-az3"]),
     "['use1-az3']"),
    ("us-east-1", NetworkArgs(availability_zone_count=6, excluded_zone_ids=["use1-az3"]), "5 usable"),
    (REGION, NetworkArgs(availability_zone_ids=["usw2-az1", "usw2-az2"], availability_zone_count=2), "not both"),
    (REGION, NetworkArgs(availability_zone_ids=["usw2-az1", "usw2-az1"]), "repeats"),
])
def test_zones_that_cannot_be_used_stop_the_component_before_any_aws_resource(region, args, text):
    errors: list[ValueError] = []

    def program() -> None:
        try:
            Network("net", args)
        except ValueError as error:
            errors.append(error)

    result = run_program(program, {"aws:region": region})
    assert len(errors) == 1 and text in str(errors[0])
    assert [r.type for r in result.registrations if r.type.startswith("aws:")] == []


@pytest.mark.parametrize("mode, service", [("konnect-ecs", "ecs-fargate"), ("hybrid-eks", "eks-control-plane")])
def test_each_mode_keeps_the_zones_of_the_service_in_its_private_subnets_out(monkeypatch, mode, service):
    # konnect-ecs runs Fargate tasks in the private subnets; hybrid-eks gives them to the EKS control
    # plane. The gateway and the config rules (components/config.py) must name the same service.
    from components import config as config_module
    from components import modes
    from components.aws_facts import UNSUPPORTED_ZONE_IDS
    from components.config import load_stack_config

    seen: dict = {}

    class Stop(Exception):
        pass

    class Recorder(Network):
        def __init__(self, name, args, opts=None):
            seen.update(args)
            raise Stop

    module = "konnect_ecs" if mode == "konnect-ecs" else "hybrid_eks"
    monkeypatch.setattr(f"components.{module}.Network", Recorder)
    raw = {"mode": mode, "kong": '{"version": "3.10.0.1"}', "network": '{"availabilityZoneCount": 3}'}
    if mode == "hybrid-eks":
        raw["eks"] = '{"adminRoleArns": ["arn:aws:iam::123456789012:role/kong-aws-deploy"]}'
    if mode == "konnect-ecs":
        raw["konnect"] = '{"controlPlaneEndpoint": "a.us.cp0.konghq.com", "telemetryEndpoint": "a.us.tp0.konghq.com"}'
    stack = load_stack_config(raw, set(), region="us-east-1")

    def program() -> None:
        try:
            (modes.konnect_ecs if mode == "konnect-ecs" else modes.hybrid_eks)(stack)  # type: ignore[arg-type]
        except Stop:
            pass

    run_program(program, {"aws:region": "us-east-1"})
    assert seen["availability_zone_count"] == 3
    assert seen["excluded_zone_ids"] == sorted(UNSUPPORTED_ZONE_IDS[service])
    assert config_module.ZONE_SERVICE_OF_MODE[mode] == service


# --- day 2: the example stacks keep their subnets -----------------------------------------------

def _golden_run(stack: str) -> RunResult:
    """The committed render of ``stack`` (tests/golden) as the state the engine holds. The renders
    are refreshed with ``tools.golden --update``, so this is the state of the last refresh: the test
    below guards the network against a later change; it cannot replay the earlier change of method
    (zones chosen by name), whose renders were refreshed with it."""
    import json

    from tools.golden import GOLDEN_DIR
    from tools.mocks import Registration

    rows = json.loads((GOLDEN_DIR / stack / "resources.json").read_text())
    return RunResult([Registration(urn=r["urn"], type=r["type"], name=r["name"], parent=r.get("parent"),
                                   custom=r["custom"], inputs=r["inputs"], dependencies=r["dependencies"],
                                   property_dependencies={}, options={}) for r in rows], {})


@pytest.mark.parametrize("stack", ["dev", "dev-eks", "konnect-managed"])
def test_example_stacks_plan_no_change_to_their_network(stack):
    from tests.conftest import example_run
    from tools.plan import SAME, plan

    before, after = _golden_run(stack), example_run(stack)
    steps = [s for s in plan(before, after).steps.values() if "$kong-aws:index:Network" in s.urn]
    # VPC, default group, gateway, route tables and associations, 4 subnets (and with NAT egress
    # EIPs and NAT gateways; dev uses public-ip, tests/test_day2_ecs.py plans the switch).
    assert len([s for s in steps if s.type == SUBNET]) == 4 and len(steps) >= 15
    assert {s.urn: s.op for s in steps if s.op != SAME} == {}


def test_a_stack_in_a_zone_its_service_refuses_moves_only_those_subnets():
    # A network made by the old choice (sorted names, nothing excluded) in us-east-1 with three zones
    # had its third pair in us-east-1c = use1-az3, where an EKS cluster cannot be created. The new
    # choice moves that pair to us-east-1d: its subnets and their NAT gateway are replaced (a
    # subnet's zone cannot change in place; tools.plan REPLACED_BY), the other zones stay.
    from tools.plan import REPLACE, SAME, plan

    old = _run_in("us-east-1", NetworkArgs(availability_zone_count=3))
    assert _zones_of_tier(old, "private")[2] == "us-east-1c"
    new = _run_in("us-east-1", Network.args_for_service(NetworkArgs(availability_zone_count=3), "eks-control-plane"),
                  prior=old)
    steps = plan(old, new).steps.values()
    replaced = sorted(s.urn.rsplit("::", 1)[1] for s in steps if s.op == REPLACE)
    assert replaced == ["net-nat-2", "net-private-2", "net-public-2"]
    assert all(s.op == SAME for s in steps if s.urn.rsplit("-", 1)[1] in ("0", "1"))


def test_zone_ids_in_their_old_order_keep_the_other_pairs_in_place():
    # The left-out zone first: by count every later pair would shift; by ids only the first moves.
    from tools.plan import REPLACE, SAME, plan

    old = _run_in("us-east-1", NetworkArgs(availability_zone_ids=["use1-az3", "use1-az1"]))
    new = _run_in("us-east-1", Network.args_for_service(NetworkArgs(availability_zone_ids=["use1-az4", "use1-az1"]),
                                                        "eks-control-plane"), prior=old)
    steps = {s.urn.rsplit("::", 1)[1]: s.op for s in plan(old, new).steps.values() if s.type in (SUBNET, NAT)}
    assert steps == {"net-public-0": REPLACE, "net-private-0": REPLACE, "net-nat-0": REPLACE,
                     "net-public-1": SAME, "net-private-1": SAME, "net-nat-1": SAME}


# --- egress (issue 11) ----------------------------------------------------------------------------

def test_public_ip_egress_has_no_nat_gateway_and_no_elastic_ip():
    result = _run(NetworkArgs(availability_zone_count=2, egress=Egress.PUBLIC_IP))
    wiring = Wiring(result)
    assert result.of_type(NAT) == [] and result.of_type(EIP) == []
    for subnet in wiring.tier("public"):
        assert wiring.target(wiring.route_table_of(subnet), "routes").urn == result.one(IGW).urn
    for subnet in wiring.tier("private"):
        route_table = wiring.route_table_of(subnet)
        # No default route, and a route a NAT stack had is left to go with its NAT gateway.
        assert route_table.inputs.get("routes", []) == []
        assert route_table.options["ignoreChanges"] == ["routes"]


@pytest.mark.parametrize("args, nats", [
    (NetworkArgs(availability_zone_count=3, egress=Egress.NAT_SINGLE), 1),
    (NetworkArgs(availability_zone_count=3, egress=Egress.NAT_PER_AZ), 3),
    (NetworkArgs(availability_zone_count=3), 3),
])
def test_nat_egress_counts_and_route_tables_stay_managed(args, nats):
    result = _run(args)
    assert len(result.of_type(NAT)) == len(result.of_type(EIP)) == nats
    assert all("ignoreChanges" not in rt.options or not rt.options["ignoreChanges"]
               for rt in result.of_type(ROUTE_TABLE))


@pytest.mark.parametrize("args, egress", [
    ({}, Egress.NAT_PER_AZ), ({"nat_gateways": "single"}, Egress.NAT_SINGLE),
    ({"nat_gateways": "per-az"}, Egress.NAT_PER_AZ), ({"egress": "public-ip"}, Egress.PUBLIC_IP),
    ({"egress": "nat-single", "nat_gateways": "single"}, Egress.NAT_SINGLE),
])
def test_the_deprecated_nat_gateways_still_decides_when_egress_is_not_given(args, egress):
    assert resolve_egress(args) is egress


def test_the_deprecated_key_renders_what_egress_renders():
    old = _run(NetworkArgs(availability_zone_count=2, nat_gateways=NatGateways.SINGLE))
    new = _run(NetworkArgs(availability_zone_count=2, egress=Egress.NAT_SINGLE))
    assert len(old.of_type(NAT)) == 1
    assert sorted((r.urn, repr(r.inputs)) for r in old.registrations) == \
        sorted((r.urn, repr(r.inputs)) for r in new.registrations)


@pytest.mark.parametrize("args, match", [
    ({"egress": "public-ip", "nat_gateways": "single"}, "disagree"),
    ({"vpc_id": "vpc-0a1b2c3d4e5f60000", "private_subnet_ids": ["subnet-1", "subnet-2"], "egress": "nat-single"},
     "existing VPC"),
    ({"vpc_id": "vpc-0a1b2c3d4e5f60000", "private_subnet_ids": ["subnet-1", "subnet-2"], "egress": "public-ip"},
     "public_subnet_ids"),
])
def test_impossible_egress_is_refused_before_anything(args, match):
    with pytest.raises(Exception, match=match):
        _run(NetworkArgs(**args))


def test_eks_refuses_public_ip_egress():
    with pytest.raises(ValueError, match="EKS Auto Mode"):
        Network.args_for_service(NetworkArgs(egress=Egress.PUBLIC_IP), "eks-control-plane")
    assert Network.args_for_service(NetworkArgs(egress=Egress.PUBLIC_IP), "ecs-fargate")["egress"] is Egress.PUBLIC_IP
