"""NetworkPolicies of Kong's namespace (components/network_policy.py).

Checked against the real references: Kubernetes' OpenAPI schemas (kubernetes-validate, strict),
and the pods of the Kong chart 3.4.1 (../shared/reference/kong-chart-3.4.1) rendered with
helm-python-sdk from the Helm values the program registers under the mocks, plus the in-cluster
PostgreSQL StatefulSet it registers. A small evaluator of NetworkPolicy ingress semantics, written
here from the Kubernetes API reference (NetworkPolicySpec, NetworkPolicyPeer, NetworkPolicyPort),
decides who reaches which port; the tests assert the whole matrix, and that the evaluator does
fail when a policy is wrong.
"""

from __future__ import annotations

import copy
import functools
import ipaddress
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional, Union

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from components import network_policy
from components.kong_facts import (ADMIN_HTTPS_PORT, CLUSTER_PORT, LISTENER_PORTS, MANAGER_HTTP_PORT,
                                   MANAGER_HTTPS_PORT, METRICS_PORT, PROXY_HTTP_PORT, PROXY_HTTPS_PORT, STATUS_PORT,
                                   TELEMETRY_PORT)
from components.metrics_agent import AGENT_POD_LABELS, agent_deployment
from components.network_policy import kong_network_policies
from components.postgres import PORT as POSTGRES_PORT
from tests import chart_render
from tests.conftest import REFERENCE, _cached_run, _harness
from tests.test_kong_hybrid import HYBRID_CONFIG, LICENSE
from tools.mocks import plain_values

KUBERNETES_VERSION = "1.33.0"
CHART_DIR = REFERENCE / "kong-chart-3.4.1"
RELEASE = "kubernetes:helm.sh/v3:Release"
STATEFULSET = "kubernetes:apps/v1:StatefulSet"
NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
#: The labels a later gateway-config Job would carry (any non-Kong labels do for the tests).
ADMIN_CLIENT_LABELS = {"kong-aws/admin-client": "true"}
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
#: The hybrid stack of tests/test_kong_hybrid.py (in-cluster PostgreSQL, a new cluster).
BASE_CONFIG: dict[str, Any] = HYBRID_CONFIG
#: Two installs: the default release names with a license (the chart then declares the Kong
#: Manager and cluster telemetry container ports), and renamed releases in another namespace
#: without one.
SCENARIOS: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "default": ({"kong-aws:hybrid": {"namespace": "kong", "controlPlaneRelease": "kong-cp",
                                     "dataPlaneRelease": "kong-dp", "adminRbac": True},
                 "kong-aws:enterpriseLicense": LICENSE}, ("kong-aws:enterpriseLicense",)),
    "renamed": ({"kong-aws:hybrid": {"namespace": "gateway", "controlPlaneRelease": "edge-cp",
                                     "dataPlaneRelease": "edge-dp"}}, ()),
}


# ---------------------------------------------------------------------------------------------
# Who talks: pods (with their labels and container ports), the node, addresses outside the cluster.

@dataclass(frozen=True)
class Pod:
    """A pod as NetworkPolicy sees it: namespace, labels, and declared container ports
    ``(name, number, protocol)``."""

    name: str
    namespace: str
    labels: Mapping[str, str]
    ports: tuple[tuple[Optional[str], int, str], ...] = ()


@dataclass(frozen=True)
class External:
    """A source outside the cluster (a client through the NLB, or the NLB itself)."""

    ip: str


@dataclass(frozen=True)
class Node:
    """The node a target pod runs on (the kubelet's probes)."""


Source = Union[Pod, External, Node]


# ---------------------------------------------------------------------------------------------
# The evaluator (ingress only), after the Kubernetes API reference for networking.k8s.io/v1.

def selects(selector: Optional[Mapping[str, Any]], labels: Mapping[str, str]) -> bool:
    """A LabelSelector: every ``matchLabels`` pair and every ``matchExpressions`` requirement
    holds; an empty selector selects everything."""
    selector = selector or {}
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def policy_types(policy: Mapping[str, Any]) -> list[str]:
    """``spec.policyTypes``, or its default: Ingress always, Egress when there are egress rules."""
    spec = policy["spec"]
    return spec.get("policyTypes") or ["Ingress"] + (["Egress"] if spec.get("egress") else [])


def peer_admits(peer: Mapping[str, Any], policy_namespace: str, source: Source,
                namespace_labels: Mapping[str, Mapping[str, str]]) -> bool:
    """A NetworkPolicyPeer: an ``ipBlock`` matches addresses (not pods); ``podSelector`` alone
    selects pods of the policy's namespace; ``namespaceSelector`` selects namespaces (all their
    pods, or those ``podSelector`` also selects)."""
    if "ipBlock" in peer:
        if not isinstance(source, External):
            return False
        address = ipaddress.ip_address(source.ip)
        block = peer["ipBlock"]
        return (address in ipaddress.ip_network(block["cidr"])
                and not any(address in ipaddress.ip_network(cidr) for cidr in block.get("except") or []))
    if not isinstance(source, Pod):
        return False
    if "namespaceSelector" in peer:
        in_namespace = selects(peer["namespaceSelector"], namespace_labels[source.namespace])
    else:
        in_namespace = source.namespace == policy_namespace
    return in_namespace and ("podSelector" not in peer or selects(peer["podSelector"], source.labels))


def port_admits(rule_port: Mapping[str, Any], target: Pod, port: int, protocol: str = "TCP") -> bool:
    """A NetworkPolicyPort: protocol (default TCP), then a number (up to ``endPort``), a name
    resolved against the target's container ports, or no port (all ports)."""
    if rule_port.get("protocol", "TCP") != protocol:
        return False
    wanted = rule_port.get("port")
    if wanted is None:
        return True
    if isinstance(wanted, str):
        return any(name == wanted and number == port and proto == protocol for name, number, proto in target.ports)
    return wanted <= port <= rule_port.get("endPort", wanted)


def allowed(policies: Sequence[Mapping[str, Any]], source: Source, target: Pod, port: int,
            namespace_labels: Mapping[str, Mapping[str, str]]) -> bool:
    """Whether ``source`` may open a TCP connection to ``target`` on ``port``: always from the
    target's node; else when no Ingress policy of the target's namespace selects the target, or
    one that does has a rule whose ``from`` (empty: everyone) and ``ports`` (empty: all) match."""
    if isinstance(source, Node):
        return True
    selecting = [p for p in policies if p["metadata"]["namespace"] == target.namespace
                 and "Ingress" in policy_types(p) and selects(p["spec"]["podSelector"], target.labels)]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get("ingress") or []:
            peers, ports = rule.get("from") or [], rule.get("ports") or []
            if peers and not any(peer_admits(peer, policy["metadata"]["namespace"], source, namespace_labels)
                                 for peer in peers):
                continue
            if ports and not any(port_admits(rule_port, target, port) for rule_port in ports):
                continue
            return True
    return False


# ---------------------------------------------------------------------------------------------
# The program's install, rendered.

def _plain(value: Any) -> Any:
    """Registered inputs as Helm would get them (tests/chart_render.py's rule): secret markers
    removed, whole floats as ints."""
    return chart_render.whole_numbers(plain_values(value))


def _container_ports(pod_spec: Mapping[str, Any]) -> tuple[tuple[Optional[str], int, str], ...]:
    return tuple((p.get("name"), int(p["containerPort"]), p.get("protocol", "TCP"))
                 for c in pod_spec.get("containers", []) for p in c.get("ports") or [])


@dataclass
class Install:
    """One run of the program, rendered: the releases' pods by role, the database pod, what the
    module is asked for, and the NetworkPolicies the program itself registers."""

    namespace: str
    control_plane_release: str
    data_plane_release: str
    pods: dict[str, Pod]
    deployments: dict[str, dict]
    postgres_selector: dict[str, str]
    namespace_labels: dict[str, dict[str, str]]
    registered_policies: list[dict] = field(default_factory=list)

    def policies(self, **overrides: Any) -> list[dict]:
        args: dict[str, Any] = dict(postgres_pod_labels=self.postgres_selector, admin_client_labels=ADMIN_CLIENT_LABELS,
                                    metrics_agent_labels=AGENT_POD_LABELS)
        args.update(overrides)
        return kong_network_policies(self.namespace, self.control_plane_release, self.data_plane_release, **args)


def _render(values: dict, release: str, namespace: str, version: str) -> list[dict]:
    # The install as tests/chart_render.py renders it (cached, shared with the chart tests); the
    # pre-/post-upgrade Jobs are rendered on an install too, so every migration Job is here.
    rendered = chart_render.render_values(json.dumps(values, sort_keys=True), release, namespace, version, True, True)
    return copy.deepcopy(list(rendered.manifests))


@functools.lru_cache(maxsize=None)
def _install(scenario: str) -> Install:
    extra, secret_keys = SCENARIOS[scenario]
    # A program run shared with the other tests of this worker that ask for the same config.
    result = _cached_run(json.dumps({**BASE_CONFIG, **extra}, sort_keys=True), tuple(sorted(secret_keys)), "test",
                         os.environ.get("KONNECT_TOKEN"), _harness())
    releases = {r.inputs["name"]: r.inputs for r in result.of_type(RELEASE)}
    hybrid = extra["kong-aws:hybrid"]
    ns, cp, dp = hybrid["namespace"], hybrid["controlPlaneRelease"], hybrid["dataPlaneRelease"]
    pods: dict[str, Pod] = {}
    deployments: dict[str, dict] = {}
    for role, release in (("control plane", cp), ("data plane", dp)):
        assert releases[release]["namespace"] == ns
        for doc in _render(_plain(releases[release]["values"]), release, ns, chart_render.kubernetes_version(result)):
            if doc["kind"] not in ("Deployment", "Job"):
                continue
            template = doc["spec"]["template"]
            labels = template["metadata"]["labels"]
            key = role if doc["kind"] == "Deployment" else f"{role} job {labels['app.kubernetes.io/component']}"
            assert key not in pods, key
            pods[key] = Pod(doc["metadata"]["name"], ns, labels, _container_ports(template["spec"]))
            if doc["kind"] == "Deployment":
                deployments[role] = doc
    (statefulset,) = [_plain(r.inputs) for r in result.of_type(STATEFULSET)]
    template = statefulset["spec"]["template"]
    pods["postgres"] = Pod(statefulset["metadata"]["name"], ns, template["metadata"]["labels"],
                           _container_ports(template["spec"]))
    # Pods nobody invited: one in Kong's namespace, and in another namespace lookalikes wearing the
    # control plane's, the data planes' and the admin clients' labels.
    pods["stranger"] = Pod("stranger", ns, {"app": "stranger"})
    pods["admin client"] = Pod("gateway-config", ns, {**ADMIN_CLIENT_LABELS, "job-name": "gateway-config"})
    # The metrics agent's pod, with the labels its Deployment gives it (components/metrics_agent.py).
    agent = agent_deployment("stack", "/emf", "eu-west-1", "cluster", ns, dp)
    pods["metrics agent"] = Pod(agent["metadata"]["name"], ns, agent["spec"]["template"]["metadata"]["labels"])
    pods["other namespace metrics agent lookalike"] = Pod("agent-lookalike", "other", AGENT_POD_LABELS)
    pods["other namespace control plane lookalike"] = Pod("cp-lookalike", "other", pods["control plane"].labels)
    pods["other namespace data plane lookalike"] = Pod("dp-lookalike", "other", pods["data plane"].labels)
    pods["other namespace admin client lookalike"] = Pod("admin-lookalike", "other", ADMIN_CLIENT_LABELS)
    (namespace,) = [_plain(r.inputs) for r in result.of_type(NAMESPACE)]
    namespace_labels = {ns: {**namespace["metadata"].get("labels", {}), "kubernetes.io/metadata.name": ns},
                        "other": {"kubernetes.io/metadata.name": "other"}}
    registered = [_plain(r.inputs) for r in result.of_type(NETWORK_POLICY)]
    return Install(ns, cp, dp, pods, deployments, statefulset["spec"]["selector"]["matchLabels"], namespace_labels,
                   registered)


@pytest.fixture(params=sorted(SCENARIOS))
def install(request) -> Install:
    return copy.deepcopy(_install(request.param))


# ---------------------------------------------------------------------------------------------
# The matrix: who may reach which port, written from the intent (issue 10 item 3).

MIGRATION_JOBS = ("init-migrations", "pre-upgrade-migrations", "post-upgrade-migrations")
CONTROL_PLANE_SOURCES = ("control plane", *(f"control plane job {job}" for job in MIGRATION_JOBS))
ADMIN_PORTS = {ADMIN_HTTPS_PORT, MANAGER_HTTP_PORT, MANAGER_HTTPS_PORT}
#: Every port a Kong node may listen on, and the database's.
PORTS = sorted({port for ports in LISTENER_PORTS.values() for port in ports} | {POSTGRES_PORT})
TARGETS = ("control plane", "data plane", "postgres", "stranger", "admin client", "metrics agent",
           *(f"control plane job {job}" for job in MIGRATION_JOBS))


def expected(source: str, target: str, port: int) -> bool:
    if source == "node":
        return True  # the kubelet's probes; nothing else reaches the status listener
    if target == "control plane":
        if port in (CLUSTER_PORT, TELEMETRY_PORT):
            return source == "data plane"
        if port in ADMIN_PORTS:
            return source in CONTROL_PLANE_SOURCES or source == "admin client"
        return False
    if target == "data plane":
        # The metrics listener: the agent's pods only (it has no proxy protocol and no auth).
        return port in (PROXY_HTTP_PORT, PROXY_HTTPS_PORT) or (port == METRICS_PORT and source == "metrics agent")
    if target == "postgres":
        return port == POSTGRES_PORT and source in CONTROL_PLANE_SOURCES
    return False


def matrix_failures(install: Install, policies: list[dict]) -> list[str]:
    """Every (source, target, port) where the evaluator disagrees with :func:`expected`."""
    sources: dict[str, Source] = {**install.pods, "internet": External("203.0.113.7"), "node": Node()}
    failures = []
    for target in TARGETS:
        for source_name, source in sources.items():
            for port in PORTS:
                got = allowed(policies, source, install.pods[target], port, install.namespace_labels)
                if got != expected(source_name, target, port):
                    failures.append(f"{source_name} -> {target}:{port} {'allowed' if got else 'denied'}")
    return failures


def test_the_rendered_chart_has_the_pods_the_policies_are_about(install):
    assert set(install.pods) >= {"control plane", "data plane", "postgres", *CONTROL_PLANE_SOURCES}
    assert not [key for key in install.pods if key.startswith("data plane job")]


def test_who_reaches_which_port(install):
    # What the program registers, alone (the module's own output is checked against it elsewhere).
    policies = install.registered_policies
    assert matrix_failures(install, policies) == []


def test_the_matrix_spot_checks(install):
    policies = install.policies()
    pods = install.pods

    def reach(source: Source, target: str, port: int) -> bool:
        return allowed(policies, source, pods[target], port, install.namespace_labels)

    assert reach(pods["data plane"], "control plane", CLUSTER_PORT)
    assert reach(pods["data plane"], "control plane", TELEMETRY_PORT)
    for outsider in ("stranger", "data plane", "other namespace control plane lookalike",
                     "other namespace admin client lookalike"):
        assert not reach(pods[outsider], "control plane", ADMIN_HTTPS_PORT), outsider
    assert not reach(External("203.0.113.7"), "control plane", ADMIN_HTTPS_PORT)
    for insider in (*CONTROL_PLANE_SOURCES, "admin client"):
        assert reach(pods[insider], "control plane", ADMIN_HTTPS_PORT), insider
    for anyone in (pods["stranger"], pods["other namespace data plane lookalike"], External("198.51.100.1")):
        assert reach(anyone, "data plane", PROXY_HTTP_PORT) and reach(anyone, "data plane", PROXY_HTTPS_PORT)
    assert not reach(pods["stranger"], "postgres", POSTGRES_PORT)
    assert not reach(pods["data plane"], "postgres", POSTGRES_PORT)
    assert all(reach(pods[source], "postgres", POSTGRES_PORT) for source in CONTROL_PLANE_SOURCES)
    for target in ("control plane", "data plane"):
        assert not reach(pods["stranger"], target, STATUS_PORT)
        assert reach(Node(), target, STATUS_PORT)
    assert reach(pods["metrics agent"], "data plane", METRICS_PORT)
    assert not reach(pods["metrics agent"], "data plane", STATUS_PORT)
    for outsider in ("stranger", "control plane", "other namespace metrics agent lookalike"):
        assert not reach(pods[outsider], "data plane", METRICS_PORT), outsider
    assert not reach(External("203.0.113.7"), "data plane", METRICS_PORT)


def test_without_postgres_the_database_policy_is_left_out(install):
    policies = install.policies(postgres_pod_labels=None)
    assert [p["metadata"]["name"] for p in policies] == [
        "default-deny-ingress", f"{install.control_plane_release}-ingress", f"{install.data_plane_release}-ingress"]
    # The default deny still isolates the database's pod (RDS mode has none; any pod stays closed).
    assert not allowed(policies, install.pods["control plane"], install.pods["postgres"], POSTGRES_PORT,
                       install.namespace_labels)


# ---------------------------------------------------------------------------------------------
# The evaluator can fail.

ALLOW_ALL: dict[str, Any] = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                             "metadata": {"name": "allow-all", "namespace": "NAMESPACE"},
                             "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{}]}}


def test_an_allow_all_policy_breaks_the_matrix(install):
    allow_all = copy.deepcopy(ALLOW_ALL)
    allow_all["metadata"]["namespace"] = install.namespace
    failures = matrix_failures(install, install.policies() + [allow_all])
    assert f"stranger -> control plane:{ADMIN_HTTPS_PORT} allowed" in failures
    assert f"stranger -> postgres:{POSTGRES_PORT} allowed" in failures


@pytest.mark.parametrize("name, broken", [
    ("default-deny-ingress", "stranger -> stranger:8000 allowed"),
    ("cp-ingress", f"data plane -> control plane:{CLUSTER_PORT} denied"),
    ("dp-ingress", f"internet -> data plane:{PROXY_HTTPS_PORT} denied"),
    ("dp-ingress", f"metrics agent -> data plane:{METRICS_PORT} denied"),
    ("kong-postgres-ingress", f"control plane -> postgres:{POSTGRES_PORT} denied"),
])
def test_each_policy_is_needed(install, name, broken):
    name = {"cp-ingress": f"{install.control_plane_release}-ingress",
            "dp-ingress": f"{install.data_plane_release}-ingress"}.get(name, name)
    # Ours alone (without the program's own database policy, components/postgres.py).
    kept = [p for p in install.policies() if p["metadata"]["name"] != name]
    assert len(kept) == len(install.policies()) - 1
    assert broken in matrix_failures(install, kept)


def test_evaluator_reads_selectors_peers_and_ports():
    target = Pod("t", "a", {"role": "db", "tier": "x"}, (("pg", 5432, "TCP"), ("dns", 53, "UDP")))
    labels = {"a": {"kubernetes.io/metadata.name": "a"}, "b": {"kubernetes.io/metadata.name": "b", "team": "blue"}}
    policy = {"metadata": {"namespace": "a"}, "spec": {
        "podSelector": {"matchExpressions": [{"key": "role", "operator": "In", "values": ["db"]},
                                             {"key": "gone", "operator": "DoesNotExist"}]},
        "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "blue"}},
                               "podSelector": {"matchLabels": {"app": "api"}}}],
                     "ports": [{"port": "pg"}]},
                    {"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}],
                     "ports": [{"port": 6000, "endPort": 6010}]}]}}
    assert allowed([policy], Pod("s", "b", {"app": "api"}), target, 5432, labels)
    assert not allowed([policy], Pod("s", "b", {"app": "web"}), target, 5432, labels)
    assert not allowed([policy], Pod("s", "a", {"app": "api"}), target, 5432, labels)  # namespace a is not blue
    assert not allowed([policy], Pod("s", "b", {"app": "api"}), target, 5433, labels)
    assert allowed([policy], External("10.2.3.4"), target, 6005, labels)
    assert not allowed([policy], External("10.1.3.4"), target, 6005, labels)
    assert not allowed([policy], External("10.2.3.4"), target, 6011, labels)
    assert not allowed([policy], Pod("s", "a", {}), target, 6005, labels)  # an ipBlock is not a pod peer
    assert allowed([policy], Pod("s", "a", {}), Pod("u", "a", {"role": "web"}), 1, labels)  # not selected
    egress_only = {"metadata": {"namespace": "a"}, "spec": {"podSelector": {}, "policyTypes": ["Egress"]}}
    assert allowed([egress_only], Pod("s", "a", {}), target, 5432, labels)
    deny = {"metadata": {"namespace": "a"}, "spec": {"podSelector": {}}}
    assert not allowed([deny], Pod("s", "a", {}), target, 5432, labels)
    assert allowed([deny], Node(), target, 5432, labels)


# ---------------------------------------------------------------------------------------------
# The manifests.

def test_every_manifest_validates_strictly_against_the_kubernetes_schema(install):
    for policy in install.policies() + install.policies(postgres_pod_labels=None):
        kubernetes_validate.validate(policy, KUBERNETES_VERSION, strict=True)


def test_the_schema_check_can_fail(install):
    policy = install.policies()[1]
    policy["spec"]["ingress"][0]["ports"][0]["portNumber"] = CLUSTER_PORT
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(policy, KUBERNETES_VERSION, strict=True)


def test_names_are_unique_dns_labels_and_do_not_clash_with_the_programs_own(install):
    policies = install.policies()
    names = [p["metadata"]["name"] for p in policies]
    assert len(names) == len(set(names)) == 4
    assert all(len(name) <= 63 and DNS_LABEL.fullmatch(name) for name in names)
    assert all(p["metadata"]["namespace"] == install.namespace for p in policies)
    # A policy of the same name that the program registers must be this one (once it is wired in).
    ours = {p["metadata"]["name"]: p for p in policies}
    for registered in install.registered_policies:
        name = registered["metadata"]["name"]
        if name in ours:
            assert registered["spec"] == ours[name]["spec"], name


def test_only_ingress_is_restricted(install):
    for policy in install.policies():
        assert policy["spec"]["policyTypes"] == ["Ingress"]
        assert "egress" not in policy["spec"]


# ---------------------------------------------------------------------------------------------
# Ports and probes, against the chart.

def test_every_port_a_policy_opens_is_one_the_licensed_pod_declares():
    install = _install("default")
    for role in ("control plane", "data plane", "postgres"):
        pod = install.pods[role]
        declared = {number for _, number, _ in pod.ports}
        selecting = [p for p in install.policies()
                     if p["spec"]["podSelector"] and selects(p["spec"]["podSelector"], pod.labels)]
        assert len(selecting) == 1, role
        opened = {port["port"] for rule in selecting[0]["spec"]["ingress"] for port in rule["ports"]}
        # The metrics listener comes from env:, not a chart port block: opened by number only.
        assert opened and opened - {METRICS_PORT} <= declared, (role, opened - declared)
        assert METRICS_PORT not in declared


def test_kong_manager_ports_are_the_charts_manager_defaults():
    chart_values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    manager = chart_values["manager"]
    chart_ports = (manager["http"]["containerPort"], manager["tls"]["containerPort"])
    assert chart_ports == (MANAGER_HTTP_PORT, MANAGER_HTTPS_PORT)
    assert {MANAGER_HTTP_PORT, MANAGER_HTTPS_PORT} <= set(network_policy.ADMIN_PORTS)


def test_probes_use_the_status_listener_that_only_the_node_reaches(install):
    for role, deployment in install.deployments.items():
        (kong,) = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "proxy"]
        for probe in ("readinessProbe", "livenessProbe"):
            assert kong[probe]["httpGet"]["port"] == "status", (role, probe)
        assert ("status", STATUS_PORT, "TCP") in install.pods[role].ports
        for policy in install.policies():
            for rule in policy["spec"].get("ingress") or []:
                assert "ports" in rule and all(p["port"] != STATUS_PORT for p in rule["ports"])


def test_selectors_are_the_charts_deployment_selectors(install):
    for role, release in (("control plane", install.control_plane_release), ("data plane", install.data_plane_release)):
        selector = install.deployments[role]["spec"]["selector"]["matchLabels"]
        assert network_policy.release_deployment_labels(release) == selector


# ---------------------------------------------------------------------------------------------
# Arguments refused.

@pytest.mark.parametrize("args, message", [
    (dict(namespace="Kong_NS"), "namespace 'Kong_NS' is not an RFC 1123 label"),
    (dict(data_plane_release="kong-cp"), "are both 'kong-cp'"),
    (dict(admin_client_labels={}), "admin_client_labels is empty"),
    (dict(admin_client_labels={"app.kubernetes.io/instance": "kong-dp"}), "are labels of the data plane pods"),
    (dict(postgres_pod_labels={}), "postgres_pod_labels is empty"),
    (dict(metrics_agent_labels={}), "metrics_agent_labels is empty"),
    (dict(metrics_agent_labels={"app.kubernetes.io/component": "app"}), "are labels of the data plane pods"),
    (dict(control_plane_release="kong-postgres"), "policy name 'kong-postgres-ingress' repeats"),
    (dict(control_plane_release="edge.cp"), "policy name 'edge.cp-ingress' is not an RFC 1123 label"),
])
def test_bad_arguments_are_refused(args, message):
    call: dict[str, Any] = dict(namespace="kong", control_plane_release="kong-cp", data_plane_release="kong-dp",
                                postgres_pod_labels={"app.kubernetes.io/name": "postgresql"},
                                admin_client_labels=ADMIN_CLIENT_LABELS, metrics_agent_labels=AGENT_POD_LABELS)
    call.update(args)
    with pytest.raises(ValueError, match=re.escape(message)):
        kong_network_policies(call.pop("namespace"), call.pop("control_plane_release"),
                              call.pop("data_plane_release"), **call)
