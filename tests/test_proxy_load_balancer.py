"""ProxyLoadBalancer (components/proxy_load_balancer.py) on its own, under the mocks."""

from __future__ import annotations

import pulumi
import pytest

from components.kong_facts import PROXY_HTTP_PORT, PROXY_HTTPS_PORT, STATUS_PATH, STATUS_PORT
from components.proxy_load_balancer import LOAD_BALANCER_DEFAULTS, ProxyLoadBalancer, ProxyLoadBalancerArgs, TlsMode
from tests.conftest import validate_aws_request
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
