"""ProxyLoadBalancer (components/proxy_load_balancer.py) on its own, under the mocks."""

from __future__ import annotations

import json

import pulumi
import pytest

from components.kong_facts import PROXY_HTTP_PORT, PROXY_HTTPS_PORT, STATUS_PATH, STATUS_PORT
from components.proxy_load_balancer import LOAD_BALANCER_DEFAULTS, ProxyLoadBalancer, ProxyLoadBalancerArgs, TlsMode
from tests.conftest import BASE_CONFIG, validate_aws_request
from tools.mocks import RunResult, run_program
from tools.render import whole_numbers

ACM = "arn:aws:acm:eu-west-1:123456789012:certificate/0f5c2c3a-2f0e-4a57-9d6e-0123456789ab"
TARGET_SG = "sg-0123456789abcdef0"


def _run(**changes) -> RunResult:
    def program() -> None:
        lb = ProxyLoadBalancer("proxy", ProxyLoadBalancerArgs(
            vpc_id="vpc-0a1b2c3d4e5f60000", subnet_ids=["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"],
            target_security_group_id=TARGET_SG, **changes))
        pulumi.export("dns", lb.dns_name)

    return run_program(program, {"aws:region": "eu-west-1"})


def _listeners(result: RunResult) -> dict[int, dict]:
    return {r.inputs["port"]: r.inputs for r in result.of_type("aws:lb/listener:Listener")}


def test_passthrough_forwards_tcp_to_kongs_proxy_ports_and_checks_the_status_listener(botocore_loader):
    result = _run()
    groups = {r.inputs["port"]: whole_numbers(r.inputs) for r in result.of_type("aws:lb/targetGroup:TargetGroup")}
    assert set(groups) == {PROXY_HTTP_PORT, PROXY_HTTPS_PORT}
    for group in groups.values():
        assert group["protocol"] == "TCP" and group["targetType"] == "ip"
        assert (group["healthCheck"]["port"], group["healthCheck"]["path"]) == (str(STATUS_PORT), STATUS_PATH)
        assert group["deregistrationDelay"] == LOAD_BALANCER_DEFAULTS["deregistration_delay_seconds"]
    assert {port: listener["protocol"] for port, listener in _listeners(result).items()} == {80: "TCP", 443: "TCP"}
    nlb = result.one("aws:lb/loadBalancer:LoadBalancer").inputs
    request = {"Name": "proxy", "Type": nlb["loadBalancerType"],
               "Scheme": "internal" if nlb["internal"] else "internet-facing", "Subnets": nlb["subnets"],
               "SecurityGroups": nlb["securityGroups"], "IpAddressType": nlb["ipAddressType"]}
    assert validate_aws_request(botocore_loader, "elbv2", "CreateLoadBalancer", request) == []
    assert request["Scheme"] == "internet-facing" and nlb["enableCrossZoneLoadBalancing"] is True


def test_terminate_uses_the_certificate_and_policy_and_re_encrypts():
    result = _run(tls_mode=TlsMode.TERMINATE, certificate_arn=ACM)
    https = _listeners(result)[443]
    assert (https["protocol"], https["certificateArn"], https["sslPolicy"]) == (
        "TLS", ACM, LOAD_BALANCER_DEFAULTS["ssl_policy"])
    (tls_group,) = [r for r in result.of_type("aws:lb/targetGroup:TargetGroup") if r.inputs["port"] == PROXY_HTTPS_PORT]
    assert tls_group.inputs["protocol"] == "TLS"


def test_clients_reach_only_80_and_443_and_the_nlb_reaches_only_the_targets():
    result = _run(allowed_cidrs=["203.0.113.0/24", "198.51.100.7/32"])
    ingress = sorted((int(r.inputs["fromPort"]), r.inputs["cidrIpv4"])
                     for r in result.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"))
    assert ingress == [(80, "198.51.100.7/32"), (80, "203.0.113.0/24"), (443, "198.51.100.7/32"),
                       (443, "203.0.113.0/24")]
    egress = result.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
    assert sorted(r.inputs["fromPort"] for r in egress) == [PROXY_HTTP_PORT, STATUS_PORT, PROXY_HTTPS_PORT]
    assert all(r.inputs["referencedSecurityGroupId"] == TARGET_SG for r in egress)


def test_terminate_without_a_certificate_is_refused_before_anything():
    with pytest.raises(Exception, match="certificate_arn"):
        _run(tls_mode=TlsMode.TERMINATE)


# --- proxy protocol -------------------------------------------------------------------------------

def test_proxy_protocol_v2_is_off_by_default_and_on_both_target_groups_when_chosen():
    # Off by default: switching it on under running tasks cuts requests (components/proxy_load_balancer.py).
    assert LOAD_BALANCER_DEFAULTS["proxy_protocol"] is False
    for changes, expected in (({}, False), ({"proxy_protocol": True}, True)):
        groups = _run(**changes).of_type("aws:lb/targetGroup:TargetGroup")
        assert len(groups) == 2
        for group in groups:
            assert group.inputs["proxyProtocolV2"] is expected
            # Client IP preservation stays off: Kong sees the NLB's own address, the one it trusts.
            assert group.inputs["preserveClientIp"] == "false"
    tls = _run(tls_mode=TlsMode.TERMINATE, certificate_arn=ACM, proxy_protocol=True).of_type("aws:lb/targetGroup:TargetGroup")
    assert all(g.inputs["proxyProtocolV2"] is True for g in tls)


def test_source_blocks_are_the_vpcs_or_the_private_ranges():
    from components.kong_facts import PRIVATE_IPV4_BLOCKS
    from components.proxy_load_balancer import source_blocks
    assert source_blocks("10.42.0.0/16") == ["10.42.0.0/16"]
    assert source_blocks(None) == list(PRIVATE_IPV4_BLOCKS)


def _kong_listeners(result: RunResult) -> dict[int, list[str]]:
    """Port -> flags of every listener of the Kong container the stack registers (its KONG_*
    environment, or Kong's default proxy_listen when the stack sets none)."""
    (task,) = result.of_type("aws:ecs/taskDefinition:TaskDefinition")
    env = {e["name"]: e["value"] for e in json.loads(task.inputs["containerDefinitions"])[0]["environment"]}
    listen = env.get("KONG_PROXY_LISTEN", f"0.0.0.0:{PROXY_HTTP_PORT} reuseport backlog=16384, "
                                          f"0.0.0.0:{PROXY_HTTPS_PORT} http2 ssl reuseport backlog=16384")
    listeners = {}
    for entry in f"{listen}, {env['KONG_STATUS_LISTEN']}".split(","):
        address, *flags = entry.split()
        listeners[int(address.rsplit(":", 1)[1])] = flags
    return listeners


@pytest.mark.parametrize("proxy_protocol", [True, False])
def test_every_port_the_nlb_connects_to_expects_the_header_exactly_when_it_is_sent(proxy_protocol):
    """Traffic and health checks alike: the ELB docs say the header is "also included in the health
    check connection", so the status listener (port 8100, the health checks' port) needs the flag
    whenever the target group has proxy protocol, as the proxy listeners do."""
    from tests.conftest import config_text
    from tools.mocks import PROJECT_ROOT
    config = {**BASE_CONFIG, "kong-aws:loadBalancer": {"proxyProtocol": proxy_protocol}}
    result = run_program(PROJECT_ROOT / "__main__.py", config_text(config))
    kong = _kong_listeners(result)
    for group in result.of_type("aws:lb/targetGroup:TargetGroup"):
        sent = group.inputs["proxyProtocolV2"]
        assert sent is proxy_protocol
        for port in (group.inputs["port"], int(group.inputs["healthCheck"]["port"])):
            assert ("proxy_protocol" in kong[port]) is sent, (port, kong[port])
    (task,) = result.of_type("aws:ecs/taskDefinition:TaskDefinition")
    env = {e["name"]: e["value"] for e in json.loads(task.inputs["containerDefinitions"])[0]["environment"]}
    if proxy_protocol:
        # A new VPC: the NLB's addresses are in its block (network.cidrBlock, default 10.0.0.0/16).
        assert (env["KONG_REAL_IP_HEADER"], env["KONG_TRUSTED_IPS"]) == ("proxy_protocol", "10.0.0.0/16")
    else:
        assert "KONG_REAL_IP_HEADER" not in env and "KONG_TRUSTED_IPS" not in env
