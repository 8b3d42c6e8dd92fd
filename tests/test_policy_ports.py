"""The policy pack knows every Kong listener the components know (components/kong_facts.py).

The pack runs from policy/ in its own virtualenv and cannot import the project, so policy/rules.py
keeps its own port lists; these tests prove they cover ``kong_facts.LISTENER_PORTS`` and that the
pack refuses to expose every port of ``kong_facts.PRIVATE_LISTENERS``, and only those.
"""

from __future__ import annotations

import sys

import pytest

from components import kong_facts
from tools.mocks import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "policy"))
import rules  # noqa: E402  (policy/rules.py, imported as the pack imports it)

PRIVATE_PORTS = sorted({p for name in kong_facts.PRIVATE_LISTENERS for p in kong_facts.LISTENER_PORTS[name]})
PUBLIC_PORTS = sorted({p for name, ports in kong_facts.LISTENER_PORTS.items()
                       if name not in kong_facts.PRIVATE_LISTENERS for p in ports})
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SERVICE = "kubernetes:core/v1:Service"


def urn(name: str, typ: str) -> str:
    return f"urn:pulumi:prod::kong-aws::{typ}::{name}"


def refused(typ: str, props: dict) -> list[str]:
    return rules.admin_cluster_status_postgres_not_public(typ, props, urn("x", typ))


def test_every_listener_port_is_in_a_policy_list():
    for name, ports in kong_facts.LISTENER_PORTS.items():
        for port in ports:
            assert port in rules.SENSITIVE_PORTS or port in rules.KONG_PROXY_PORTS, f"{name} {port}"
    assert sorted(rules.KONG_PROXY_PORTS) == PUBLIC_PORTS == [kong_facts.PROXY_HTTP_PORT, kong_facts.PROXY_HTTPS_PORT]


def test_every_private_listener_port_is_sensitive_and_no_proxy_port_is():
    assert set(PRIVATE_PORTS) <= set(rules.SENSITIVE_PORTS), set(PRIVATE_PORTS) - set(rules.SENSITIVE_PORTS)
    assert not set(PUBLIC_PORTS) & set(rules.SENSITIVE_PORTS)


def test_every_private_listener_is_a_chart_service_the_policy_keeps_inside():
    for name in kong_facts.PRIVATE_LISTENERS:
        chart_ports = rules.KONG_CHART_PRIVATE_SERVICES.get(name)
        assert chart_ports, f"the chart's `{name}` service block is not checked"
        assert set(chart_ports) <= set(kong_facts.LISTENER_PORTS[name]), name
        assert set(chart_ports) <= set(rules.SENSITIVE_PORTS), name


@pytest.mark.parametrize("port", PRIVATE_PORTS)
def test_a_private_port_open_to_the_world_is_refused(port):
    rule = {"cidrIpv4": "0.0.0.0/0", "ipProtocol": "tcp", "fromPort": port, "toPort": port}
    messages = refused(INGRESS, rule)
    assert len(messages) == 1 and str(port) in messages[0]
    service = {"spec": {"type": "NodePort", "ports": [{"port": port, "targetPort": port}]}}
    assert refused(SERVICE, service)


@pytest.mark.parametrize("port", PUBLIC_PORTS)
def test_a_proxy_port_open_to_the_world_is_allowed(port):
    assert refused(INGRESS, {"cidrIpv4": "0.0.0.0/0", "ipProtocol": "tcp", "fromPort": port, "toPort": port}) == []


def test_dev_portal_services_of_an_enterprise_release_are_refused_by_the_charts_defaults():
    # The chart enables `portal` and `portalapi` as NodePorts, and renders them only for Enterprise.
    licensed = {"chart": "kong", "values": {"enterprise": {"enabled": True}, "manager": {"type": "ClusterIP"}}}
    messages = refused(rules.HELM_RELEASE, licensed)
    assert [m for m in messages if "values.portal.type" in m and "8003" in m and "8446" in m]
    assert [m for m in messages if "values.portalapi.type" in m and "8004" in m and "8447" in m]
    closed = {"chart": "kong", "values": {**licensed["values"], "portal": {"enabled": False},
                                          "portalapi": {"type": "ClusterIP"}}}
    assert refused(rules.HELM_RELEASE, closed) == []
    free = {"chart": "kong", "values": {"manager": {"type": "ClusterIP"}}}
    assert refused(rules.HELM_RELEASE, free) == []


def test_the_listener_ports_are_those_of_kongs_references():
    """kong_facts.LISTENER_PORTS (which the policy lists must cover) holds every port Kong's
    kong.conf.default gives a listener by default and every containerPort of the chart's
    values.yaml, both read from ../shared/reference."""
    import re

    import yaml

    from tests.conftest import REFERENCE

    conf = (REFERENCE / "kong.conf.default").read_text()
    kong_names = {"proxy": "proxy", "admin": "admin", "admin_gui": "manager", "cluster": "cluster",
                  "status": "status"}
    for setting, name in kong_names.items():
        (line,) = re.findall(rf"^#{setting}_listen = (.+)$", conf, re.M)
        ports = {int(port) for port in re.findall(r":(\d+)", line)}
        assert ports <= set(kong_facts.LISTENER_PORTS[name]), (setting, ports)
    chart = yaml.safe_load((REFERENCE / "kong-chart-values.yaml").read_text())
    for name, ports in kong_facts.LISTENER_PORTS.items():
        block = chart[name]
        container_ports = {(block.get(kind) or {}).get("containerPort") for kind in ("http", "tls")} - {None}
        assert container_ports <= set(ports), (name, container_ports)
