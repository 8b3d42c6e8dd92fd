"""Hybrid Kong on EKS (components/hybrid_eks.py), run whole under the mocks.

Checked against the real references: the Kong chart's values.yaml (every key we set exists there),
Kong's configuration reference, the service names seed 002 saw in a real install, and a real TLS
handshake between the certificates Kong would mount.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import socket
import ssl
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pulumi.runtime import rpc

from components.kong_hybrid import CLUSTER_PORT, TELEMETRY_PORT, chart_service_host
from tests import chart_render
from tests.conftest import REFERENCE, SEEDS, config_text, example_render, reference_json
from tools import render
from tools import mocks
from tools.mocks import mask_secrets

RELEASE = "kubernetes:helm.sh/v3:Release"
SECRET = "kubernetes:core/v1:Secret"
CHART_VALUES_TEXT = (REFERENCE / "kong-chart-values.yaml").read_text()
CHART_VALUES = yaml.safe_load(CHART_VALUES_TEXT)
KONG_PARAMS = set(reference_json("kong-gateway-ee-conf/kong-conf-index.json")["params"])
ENUMS = reference_json("kong_conf_validation.json")["enums"]
LICENSE = json.dumps({"license": {"payload": {"customer": "Example", "license_key": "TOPSECRET-LICENSE-KEY"},
                                  "signature": "0123abcd", "version": "1"}})

HYBRID_CONFIG: dict[str, Any] = {
    "aws:region": "ap-northeast-1",
    "kong-aws:mode": "hybrid-eks",
    "kong-aws:kong": {"version": "3.10.0.2"},
    "kong-aws:postgres": {"mode": "in-cluster"},
    "kong-aws:eks": {"adminRoleArns": ["arn:aws:iam::123456789012:role/platform-deployer"]},
}


@pytest.fixture
def hybrid_config() -> dict[str, Any]:
    return copy.deepcopy(HYBRID_CONFIG)


def licensed(config: dict[str, Any], admin_rbac: bool = True) -> tuple[dict[str, Any], set[str]]:
    """``config`` with an enterprise license (seed 002's setup) and ``hybrid.adminRbac`` (required
    with one), and the secret keys to run it with."""
    hybrid = {**config.get("kong-aws:hybrid", {}), "adminRbac": admin_rbac}
    return {**config, "kong-aws:enterpriseLicense": LICENSE, "kong-aws:hybrid": hybrid}, {"kong-aws:enterpriseLicense"}


def releases(result) -> dict[str, dict]:
    """Release name -> registered inputs (secrets still marked)."""
    return {r.inputs["name"]: r.inputs for r in result.of_type(RELEASE)}


def values(result, release: str) -> dict:
    return releases(result)[release]["values"]


def secret_data(result, name: str) -> dict[str, str]:
    """The real (unmasked) stringData of the Kubernetes Secret ``name``, as Kong would mount it."""
    (reg,) = [r for r in result.of_type(SECRET) if r.inputs["metadata"]["name"] == name]
    data = rpc.unwrap_rpc_secret(reg.inputs["stringData"])
    return {k: rpc.unwrap_rpc_secret(v) for k, v in data.items()}


# ---------------------------------------------------------------------------------------------
# The chart's values.yaml

def _commented_key_exists(path: tuple[str, ...]) -> bool:
    """values.yaml documents some keys only as comments (``# license_secret: ...``) under their
    parent section; accept those when the comment sits inside the parent's block."""
    parent, key = path[:-1], path[-1]
    lines = CHART_VALUES_TEXT.splitlines()
    start, indent = 0, -2
    for part in parent:
        indent += 2
        for i in range(start, len(lines)):
            if re.match(rf"^{' ' * indent}{re.escape(part)}:", lines[i]):
                start = i + 1
                break
        else:
            return False
    for line in lines[start:]:
        if line.strip() and not line.startswith(" " * (indent + 2)) and not line.lstrip().startswith("#"):
            break  # left the parent's block
        if re.match(rf"^\s*#\s*{re.escape(key)}:", line):
            return True
    return False


def unknown_chart_keys(ours: Any, chart: Any, path: tuple[str, ...] = ()) -> list[str]:
    """Key paths of ``ours`` that the chart's values.yaml does not have. A chart map that is empty
    (``{}``) or that holds free-form entries (env, annotations) takes any key; list items are
    compared with the chart's first example item."""
    problems = []
    if isinstance(ours, dict):
        free_form = path and (path[-1] in ("env", "annotations", "podAnnotations", "labels")
                              or (isinstance(chart, dict) and not chart))
        if free_form:
            return []
        if not isinstance(chart, dict):
            return [".".join(path) + " (not a map in the chart)"]
        for key, value in ours.items():
            if key in chart:
                problems += unknown_chart_keys(value, chart[key], path + (key,))
            elif not _commented_key_exists(path + (key,)):
                problems.append(".".join(path + (key,)))
    elif isinstance(ours, list) and isinstance(chart, list) and chart and isinstance(ours[0], dict):
        for item in ours:
            problems += unknown_chart_keys(item, chart[0], path + ("[]",))
    return problems


@pytest.mark.parametrize("release", ["kong-cp", "kong-dp"])
def test_every_value_we_set_is_a_key_of_the_charts_values(run_stack, hybrid_config, release):
    result = run_stack(hybrid_config)
    ours = values(result, release)
    assert ours and unknown_chart_keys(ours, CHART_VALUES) == []


def test_the_key_check_can_fail():
    # A misplaced key (proxy.tls under admin.http) and a typo are both caught.
    assert unknown_chart_keys({"admin": {"http": {"tls": True}}, "proxi": {}}, CHART_VALUES) == [
        "admin.http.tls", "proxi"]
    assert _commented_key_exists(("enterprise", "license_secret"))
    assert not _commented_key_exists(("enterprise", "licence_secret"))


def test_releases_install_the_pinned_kong_chart_from_kongs_repository(run_stack, hybrid_config):
    result = run_stack(hybrid_config)
    chart = yaml.safe_load((REFERENCE / "kong-chart-Chart.yaml").read_text())
    for inputs in releases(result).values():
        assert inputs["chart"] == chart["name"] == "kong"
        assert inputs["version"] == chart["version"]  # the default pins the reference version
        assert inputs["repositoryOpts"]["repo"] == "https://charts.konghq.com"
        assert inputs["namespace"] == "kong"


# ---------------------------------------------------------------------------------------------
# Kong settings

@pytest.mark.parametrize("release,role", [("kong-cp", "control_plane"), ("kong-dp", "data_plane")])
def test_env_is_kong_settings_with_values_kong_accepts(run_stack, hybrid_config, release, role):
    env = values(run_stack(hybrid_config), release)["env"]
    assert env["role"] == role
    assert [k for k in env if k not in KONG_PARAMS] == []
    for key, value in env.items():
        if key in ENUMS:
            assert value in ENUMS[key], key


def test_control_plane_settings(run_stack, hybrid_config):
    result = run_stack(hybrid_config)
    cp = values(result, "kong-cp")
    env = cp["env"]
    assert (env["database"], env["cluster_mtls"]) == ("postgres", "pki")
    assert env["cluster_cert"] == "/etc/secrets/kong-cluster-cp/tls.crt"
    assert env["cluster_ca_cert"] == "/etc/secrets/kong-cluster-ca/ca.crt"
    assert set(cp["secretVolumes"]) == {"kong-cluster-cp", "kong-cluster-ca"}
    # The password reaches Kong from its Secret, never as a value.
    assert env["pg_password"] == {"valueFrom": {"secretKeyRef": {"name": "kong-postgres", "key": "password"}}}
    postgres_service = next(r for r in result.of_type("kubernetes:core/v1:Service"))
    assert env["pg_host"] == f"{postgres_service.inputs['metadata']['name']}.kong.svc.cluster.local"
    assert cp["cluster"]["enabled"] and cp["cluster"]["tls"]["enabled"]
    # Free mode: no Enterprise listeners, so no Services for them (the chart declares neither port).
    assert cp["clustertelemetry"]["enabled"] is False and cp["manager"]["enabled"] is False
    assert "cluster_telemetry_endpoint" not in values(result, "kong-dp")["env"]
    enterprise = values(run_stack(*licensed(hybrid_config)), "kong-cp")
    assert enterprise["clustertelemetry"]["enabled"] and enterprise["clustertelemetry"]["tls"]["enabled"]
    assert enterprise["manager"]["enabled"] and enterprise["manager"]["type"] == "ClusterIP"
    assert cp["proxy"]["enabled"] is False and cp["ingressController"]["enabled"] is False
    assert cp["postgresql"]["enabled"] is False  # the bundled bitnami subchart
    assert cp["migrations"] == {"preUpgrade": True, "postUpgrade": True}


def test_data_plane_dials_exactly_the_services_the_control_plane_release_creates(run_stack, hybrid_config):
    result = run_stack(*licensed(hybrid_config))
    cp, env = whole(values(result, "kong-cp")), values(result, "kong-dp")["env"]
    # Seed 002's data plane values name the services of its real install (releases kong-cp, kong-dp
    # in namespace kong); our derived names must be those.
    seed = next(SEEDS.glob("002_*.txt")).read_text()
    seed_cp = re.search(r"cluster_control_plane: (\S+)", seed).group(1)
    seed_tp = re.search(r"cluster_telemetry_endpoint: (\S+)", seed).group(1)
    assert env["cluster_control_plane"] == seed_cp
    assert env["cluster_telemetry_endpoint"] == seed_tp
    assert seed_cp.endswith(f":{cp['cluster']['tls']['servicePort']}")
    assert seed_tp.endswith(f":{cp['clustertelemetry']['tls']['servicePort']}")
    # pki: the data plane verifies the control plane by that very name, against the cluster CA it
    # mounts (Kong adds cluster_ca_cert to its trusted certificates in pki mode).
    assert env["cluster_server_name"] == seed_cp.rsplit(":", 1)[0]
    assert env["cluster_ca_cert"] == "/etc/secrets/kong-cluster-ca/ca.crt"
    assert "kong-cluster-ca" in values(result, "kong-dp")["secretVolumes"]


def test_renamed_releases_keep_the_data_plane_pointed_at_the_control_plane(run_stack, hybrid_config):
    hybrid_config["kong-aws:hybrid"] = {"namespace": "gateway", "controlPlaneRelease": "edge-cp",
                                        "dataPlaneRelease": "edge-dp"}
    result = run_stack(*licensed(hybrid_config))
    env = values(result, "edge-dp")["env"]
    assert env["cluster_control_plane"] == f"{chart_service_host('edge-cp', 'cluster', 'gateway')}:{CLUSTER_PORT}"
    assert env["cluster_control_plane"] == f"edge-cp-kong-cluster.gateway.svc.cluster.local:{CLUSTER_PORT}"
    assert env["cluster_telemetry_endpoint"].startswith("edge-cp-kong-clustertelemetry.gateway.svc.")
    assert env["cluster_telemetry_endpoint"].endswith(f":{TELEMETRY_PORT}")
    assert releases(result)["edge-dp"]["namespace"] == "gateway"


def test_data_plane_release_waits_for_the_control_plane_release(run_stack, hybrid_config):
    result = run_stack(hybrid_config)
    by_name = {r.inputs["name"]: r for r in result.of_type(RELEASE)}
    assert by_name["kong-cp"].urn in by_name["kong-dp"].dependencies
    # Depending on the database component means waiting for each of its resources.
    (database,) = [r.urn for r in result.registrations if r.type == "kong-aws:index:Postgres"]
    parts = {r.urn for r in result.registrations if r.parent == database and r.custom}
    assert parts and parts <= set(by_name["kong-cp"].dependencies)


def test_data_plane_proxy_probes_scaling_and_disruption_budget(run_stack, hybrid_config):
    hybrid_config["kong-aws:hybrid"] = {"dataPlaneMinReplicas": 3, "dataPlaneMaxReplicas": 9,
                                        "allowedCidrs": ["203.0.113.0/24"]}
    dp = values(run_stack(hybrid_config), "kong-dp")
    assert dp["proxy"]["type"] == "LoadBalancer" and dp["proxy"]["loadBalancerClass"] == "eks.amazonaws.com/nlb"
    assert dp["proxy"]["annotations"]["service.beta.kubernetes.io/aws-load-balancer-scheme"] == "internet-facing"
    assert dp["proxy"]["loadBalancerSourceRanges"] == ["203.0.113.0/24"]
    assert dp["admin"]["enabled"] is False and dp["manager"]["enabled"] is False
    assert dp["env"]["database"] == "off"
    assert (dp["autoscaling"]["enabled"], dp["autoscaling"]["minReplicas"], dp["autoscaling"]["maxReplicas"]) == (True, 3, 9)
    assert dp["replicaCount"] == 3 and dp["resources"]["requests"]["cpu"]  # HPA needs requests
    assert dp["podDisruptionBudget"]["enabled"] is True
    chart_status_port = CHART_VALUES["status"]["http"]["containerPort"]
    for probe in (dp["readinessProbe"], dp["livenessProbe"]):
        # On the status listener; readiness not /status/ready, which stays 503 while the control
        # plane has no configuration and would keep a new install from ever being ready.
        assert probe["httpGet"]["port"] == "status" and probe["httpGet"]["path"] == "/status"
    assert chart_status_port == 8100


def test_admin_api_and_postgres_are_not_exposed_outside_the_cluster(run_stack, hybrid_config):
    result = run_stack(hybrid_config)
    cp = values(result, "kong-cp")
    for service in ("admin", "manager", "cluster", "clustertelemetry"):
        assert cp[service]["type"] == "ClusterIP", service
    assert cp["admin"]["http"]["enabled"] is False and cp["admin"]["tls"]["enabled"] is True
    for reg in result.of_type("kubernetes:core/v1:Service"):
        assert reg.inputs["spec"].get("type", "ClusterIP") == "ClusterIP"
    # Nothing but the data planes' proxy is a LoadBalancer.
    exposed = [(name, svc) for name, v in releases(result).items() for svc, block in v["values"].items()
               if isinstance(block, dict) and block.get("type") in ("LoadBalancer", "NodePort")]
    assert exposed == [("kong-dp", "proxy")]


def test_rds_is_private_and_requires_tls(run_stack, hybrid_config):
    hybrid_config["kong-aws:postgres"] = {"mode": "rds"}
    result = run_stack(hybrid_config)
    instance = result.one("aws:rds/instance:Instance").inputs
    assert instance["publiclyAccessible"] is False and instance["storageEncrypted"] is True
    env = values(result, "kong-cp")["env"]
    assert env["pg_ssl"] == "on" and env["pg_host"].endswith(".rds.amazonaws.com")
    rules = result.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert rules and all("cidrIpv4" not in r.inputs for r in rules)


def test_license_is_only_in_its_secret(run_stack, hybrid_config):
    result = run_stack(*licensed(hybrid_config))
    for name in ("kong-cp", "kong-dp"):
        enterprise = values(result, name)["enterprise"]
        assert (enterprise["enabled"], enterprise["license_secret"]) == (True, "kong-enterprise-license")
    assert secret_data(result, "kong-enterprise-license")["license"] == LICENSE
    masked = json.dumps([mask_secrets(r.inputs) for r in result.registrations])
    assert "TOPSECRET-LICENSE-KEY" not in masked


def test_with_a_license_the_admin_api_enforces_rbac_with_a_token_kept_in_a_secret(run_stack, hybrid_config):
    result = run_stack(*licensed(hybrid_config))
    cp, dp = values(result, "kong-cp"), values(result, "kong-dp")
    assert cp["enterprise"]["rbac"] == {"enabled": True, "admin_gui_auth": "basic-auth", "session_conf_secret": "kong-admin"}
    # The super admin's token reaches `kong migrations bootstrap` as KONG_PASSWORD, from the Secret.
    assert cp["env"]["password"] == {"valueFrom": {"secretKeyRef": {"name": "kong-admin", "key": "password"}}}
    assert "rbac" not in dp["enterprise"] and "password" not in dp["env"]
    admin = secret_data(result, "kong-admin")
    token, session = admin["password"], json.loads(admin["admin_gui_session_conf"])
    assert len(token) >= 32 and token.isalnum()
    assert len(session["secret"]) >= 32 and session["cookie_secure"] is True and session["secret"] != token
    (reg,) = [r for r in result.of_type(SECRET) if r.inputs["metadata"]["name"] == "kong-admin"]
    assert rpc.is_rpc_secret(reg.inputs["stringData"])
    generators = result.of_type("random:index/randomPassword:RandomPassword")
    made = [g for g in generators if g.urn in reg.property_dependencies["stringData"]]
    assert len(made) == 2 and all((g.inputs["length"], g.inputs["special"]) == (40, False) for g in made)
    cp_release = next(r for r in result.of_type(RELEASE) if r.inputs["name"] == "kong-cp")
    assert reg.urn in cp_release.dependencies  # the token exists before bootstrap reads it
    # Neither value is anywhere else: not in Helm values, other inputs or the stack's outputs.
    elsewhere = json.dumps([mask_secrets(r.inputs) for r in result.registrations if r is not reg] +
                           [mask_secrets(result.outputs)], default=str)
    assert token not in elsewhere and session["secret"] not in elsewhere
    command = result.outputs["adminPortForward"][0]
    assert "get secret -n kong kong-admin -o jsonpath='{.data.password}'" in command
    assert 'curl -sk -H "Kong-Admin-Token: $TOKEN" https://localhost:8444/status' in command


@pytest.mark.parametrize("with_license", [False, True])
def test_no_rbac_without_a_license_or_when_turned_off(run_stack, hybrid_config, with_license):
    # Without a license adminRbac keeps its default (true) and still means nothing.
    result = run_stack(*licensed(hybrid_config, admin_rbac=False)) if with_license else run_stack(hybrid_config)
    cp = values(result, "kong-cp")
    assert "rbac" not in cp["enterprise"] and "password" not in cp["env"]
    # With a license the token's Secret exists all the same, to seed a super admin before RBAC is on.
    assert len([r for r in result.of_type(SECRET) if r.inputs["metadata"]["name"] == "kong-admin"]) == int(with_license)
    assert "Kong-Admin-Token" not in result.outputs["adminPortForward"][0]


def test_a_disruption_budget_only_when_a_pod_can_stay_up(run_stack, hybrid_config):
    # One data plane at the least (autoscaled up to 4): no budget; two control planes: a budget. One
    # pod without an autoscaler, and min == max, are rendered by tests/test_chart_render.py.
    hybrid_config["kong-aws:hybrid"] = {"dataPlaneMinReplicas": 1, "dataPlaneMaxReplicas": 4,
                                        "controlPlaneReplicas": 2}
    result = run_stack(hybrid_config)
    assert values(result, "kong-dp")["podDisruptionBudget"] == {"enabled": False, "maxUnavailable": 1}
    assert values(result, "kong-cp")["podDisruptionBudget"] == {"enabled": True, "maxUnavailable": 1}
    assert values(run_stack(HYBRID_CONFIG), "kong-dp")["podDisruptionBudget"]["enabled"] is True  # default 2-6


def test_pods_spread_over_zones_and_nodes_on_the_network_policy_pool(run_stack, hybrid_config):
    result = run_stack(hybrid_config)
    (pool,) = result.of_type("kubernetes:karpenter.sh/v1:NodePool")
    for release in ("kong-cp", "kong-dp"):
        placement = values(result, release)
        assert placement["nodeSelector"] == {"karpenter.sh/nodepool": pool.inputs["metadata"]["name"]}
        zone, host = placement["topologySpreadConstraints"]
        assert (zone["topologyKey"], zone["whenUnsatisfiable"]) == ("topology.kubernetes.io/zone", "DoNotSchedule")
        assert (host["topologyKey"], host["whenUnsatisfiable"]) == ("kubernetes.io/hostname", "ScheduleAnyway")
        # The selector picks the release's own pods, as the chart labels them.
        (deployment,) = [m for m in chart_render.render(result, release, True).applied() if m["kind"] == "Deployment"]
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        for constraint in (zone, host):
            assert constraint["maxSkew"] == 1 and constraint["matchLabelKeys"] == ["pod-template-hash"]
            assert constraint["labelSelector"]["matchLabels"].items() <= pod_labels.items()
            assert constraint["labelSelector"]["matchLabels"]["app.kubernetes.io/instance"] == release
    # The pool exists before the releases' pods ask for it.
    assert all(pool.urn in r.dependencies or pool.urn in sum(r.property_dependencies.values(), [])
               for r in result.of_type(RELEASE))


def test_releases_skip_the_charts_crds(run_stack, hybrid_config):
    assert all(r["skipCrds"] is True for r in releases(run_stack(hybrid_config)).values())


def test_nginx_workers_follow_the_pods_cpu_request(run_stack, hybrid_config):
    result = run_stack(hybrid_config)
    dp, cp = values(result, "kong-dp"), values(result, "kong-cp")
    # One CPU (data plane) and half of one (control plane): one nginx worker each, not Kong's
    # `auto`, which counts the node's CPUs.
    assert (dp["resources"]["requests"]["cpu"], dp["env"]["nginx_worker_processes"]) == ("1", "1")
    assert (cp["resources"]["requests"]["cpu"], cp["env"]["nginx_worker_processes"]) == ("500m", "1")


@pytest.mark.parametrize("quantity, cpus, workers", [("1", 1.0, 1), ("500m", 0.5, 1), ("2.5", 2.5, 2),
                                                     ("1500m", 1.5, 1), ("4", 4.0, 4)])
def test_kubernetes_cpu_quantities_and_their_workers(quantity, cpus, workers):
    from components.kong_settings import kubernetes_cpu, worker_processes
    assert kubernetes_cpu(quantity) == cpus
    assert worker_processes(cpus) == workers


@pytest.mark.parametrize("quantity", ["", "one", "1Gi", "m"])
def test_a_cpu_quantity_kubernetes_would_refuse_is_refused(quantity):
    from components.kong_settings import kubernetes_cpu
    with pytest.raises(ValueError, match="not a Kubernetes CPU quantity"):
        kubernetes_cpu(quantity)


def test_an_existing_cluster_supplies_the_network_of_the_database(run_stack, hybrid_config):
    hybrid_config["kong-aws:eks"] = {"clusterName": "platform-prod"}
    hybrid_config["kong-aws:postgres"] = {"mode": "rds"}
    result = run_stack(hybrid_config)
    assert not [r for r in result.registrations if r.type.startswith("aws:ec2/") and r.type !=
                "aws:ec2/securityGroup:SecurityGroup"], "no VPC, subnets, NAT gateways or routes of our own"
    assert result.of_type("kong-aws:index:Network") == []
    cluster = next(args for token, args in result.invokes if token == "aws:eks/getCluster:getCluster")
    state = mocks.FakeCloud("ap-northeast-1")._eks_cluster_state(cluster["name"])["vpcConfig"]
    (group,) = result.of_type("aws:ec2/securityGroup:SecurityGroup")
    assert group.inputs["vpcId"] == state["vpcId"]
    assert sorted(result.one("aws:rds/subnetGroup:SubnetGroup").inputs["subnetIds"]) == sorted(state["subnetIds"])


def test_without_a_license_kong_runs_free(run_stack, hybrid_config):
    result = run_stack(hybrid_config)
    assert values(result, "kong-cp")["enterprise"] == {"enabled": False}
    assert not [r for r in result.of_type(SECRET) if r.inputs["metadata"]["name"] == "kong-enterprise-license"]


def test_every_kubernetes_object_uses_the_clusters_provider(run_stack, hybrid_config):
    result = run_stack(hybrid_config)
    (provider,) = result.of_type("pulumi:providers:kubernetes")
    kube = [r for r in result.registrations if r.type.startswith("kubernetes:")]
    assert kube and all(r.provider and r.provider.startswith(provider.urn + "::") for r in kube)
    assert rpc.is_rpc_secret(provider.inputs["kubeconfig"])


def test_a_new_certificate_rolls_the_pods(run_stack, hybrid_config):
    first = values(run_stack(hybrid_config), "kong-dp")["podAnnotations"]["kong-aws/cluster-cert-sha256"]
    hybrid_config["kong-aws:certificate"] = {"validityDays": 365}
    second = values(run_stack(hybrid_config), "kong-dp")["podAnnotations"]["kong-aws/cluster-cert-sha256"]
    assert len(first) == 64 and first != second


# ---------------------------------------------------------------------------------------------
# Certificates: a real TLS handshake with what Kong would mount

def _handshake(server_files: dict, client_files: dict, server_name: str) -> tuple[str, x509.Certificate]:
    """Run a TLS 1.2+ handshake on loopback: the server (control plane) requires a client
    certificate and verifies it with ``server_files['ca']``; the client (data plane) verifies the
    server by ``server_name`` with ``client_files['ca']``. Returns (server name seen, client cert)."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for side, files in (("server", server_files), ("client", client_files)):
            for kind, pem in files.items():
                path = Path(tmp) / f"{side}-{kind}.pem"
                path.write_text(pem)
                paths[(side, kind)] = str(path)
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=paths[("server", "ca")])
        server_ctx.verify_mode = ssl.CERT_REQUIRED
        server_ctx.load_cert_chain(paths[("server", "cert")], paths[("server", "key")])
        client_ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=paths[("client", "ca")])
        client_ctx.load_cert_chain(paths[("client", "cert")], paths[("client", "key")])

        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(10)
        seen: dict = {}

        def serve():
            conn, _ = listener.accept()
            try:
                with server_ctx.wrap_socket(conn, server_side=True) as tls:
                    seen["peer"] = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
                    tls.sendall(b"ok")
            except (ssl.SSLError, OSError) as error:  # the client refused us: reported client-side
                seen["error"] = error
                conn.close()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            with socket.create_connection(listener.getsockname(), timeout=10) as raw:
                with client_ctx.wrap_socket(raw, server_hostname=server_name) as tls:
                    assert tls.recv(2) == b"ok"
        finally:
            thread.join(10)
            listener.close()
        return server_name, seen["peer"]


def test_pki_handshake_data_plane_verifies_control_plane_by_name_and_back(run_stack, hybrid_config):
    result = run_stack(*licensed(hybrid_config))
    cp, dp, ca = secret_data(result, "kong-cluster-cp"), secret_data(result, "kong-cluster-dp"), \
        secret_data(result, "kong-cluster-ca")["ca.crt"]
    env = values(result, "kong-dp")["env"]
    server_name = env["cluster_server_name"]
    _, peer = _handshake({"cert": cp["tls.crt"], "key": cp["tls.key"], "ca": ca},
                         {"cert": dp["tls.crt"], "key": dp["tls.key"], "ca": ca}, server_name)
    assert peer.public_bytes(serialization.Encoding.PEM).decode() == dp["tls.crt"]
    # The telemetry endpoint's name is on the control plane certificate too.
    san = x509.load_pem_x509_certificate(cp["tls.crt"].encode()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert env["cluster_telemetry_server_name"] in san
    # Keys are ECDSA P-384 by default, as in seed 002's openssl command (secp384r1).
    key = x509.load_pem_x509_certificate(dp["tls.crt"].encode()).public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp384r1"


def test_pki_handshake_fails_for_the_wrong_name(run_stack, hybrid_config):
    result = run_stack(hybrid_config)
    cp, dp, ca = secret_data(result, "kong-cluster-cp"), secret_data(result, "kong-cluster-dp"), \
        secret_data(result, "kong-cluster-ca")["ca.crt"]
    with pytest.raises(ssl.SSLError):
        _handshake({"cert": cp["tls.crt"], "key": cp["tls.key"], "ca": ca},
                   {"cert": dp["tls.crt"], "key": dp["tls.key"], "ca": ca}, "kong-dp-kong-proxy.kong.svc")


def test_shared_certificate_handshake(run_stack, hybrid_config):
    hybrid_config["kong-aws:hybrid"] = {"clusterMtls": "shared"}
    result = run_stack(hybrid_config)
    shared = secret_data(result, "kong-cluster-cert")
    env = values(result, "kong-dp")["env"]
    assert env["cluster_mtls"] == "shared" and env["cluster_server_name"] == "kong_clustering"
    assert env["lua_ssl_trusted_certificate"].endswith("/etc/secrets/kong-cluster-cert/tls.crt")
    files = {"cert": shared["tls.crt"], "key": shared["tls.key"], "ca": shared["tls.crt"]}
    _handshake(files, files, "kong_clustering")


# ---------------------------------------------------------------------------------------------
# The dev-eks example stack and its render

def test_dev_eks_renders_values_files_without_secrets(tmp_path):
    result = example_render("dev-eks", tmp_path / "dev-eks")
    helm = tmp_path / "dev-eks" / "helm"
    assert sorted(p.name for p in helm.iterdir()) == ["kong-cp.values.yaml", "kong-dp.values.yaml"]
    password = next(rpc.unwrap_rpc_secret(r.inputs["stringData"])["password"]
                    for r in result.of_type(SECRET) if r.inputs["metadata"]["name"] == "kong-postgres")
    for path in [*helm.iterdir(), tmp_path / "dev-eks" / "resources.json", tmp_path / "dev-eks" / "outputs.json"]:
        text = path.read_text()
        assert "PRIVATE KEY" not in text and rpc.unwrap_rpc_secret(password) not in text, path.name
    cp = yaml.safe_load((helm / "kong-cp.values.yaml").read_text())
    assert cp == whole(values(result, "kong-cp"))
    outputs = json.loads((tmp_path / "dev-eks" / "outputs.json").read_text())
    assert outputs["kubeconfig"] == "[secret]"
    assert outputs["proxyHostname"].endswith(".elb.us-east-1.amazonaws.com")
    assert "port-forward -n kong service/kong-cp-kong-admin" in outputs["adminPortForward"]


def whole(value: Any) -> Any:
    return render.whole_numbers(mask_secrets(value))


def test_dev_eks_reproduces_seed_002(tmp_path):
    seed = next(SEEDS.glob("002_*.txt")).read_text()
    config, secrets, _ = render.read_stack_config("dev-eks")
    kong = json.loads(config["kong-aws:kong"])
    hybrid = json.loads(config["kong-aws:hybrid"])
    # The seed's proxy load balancer answered at <name>.<region>.elb.amazonaws.com.
    assert re.search(r"\.([a-z]{2}-[a-z]+-\d)\.elb\.amazonaws\.com", seed).group(1) == config["aws:region"]
    seed_tags = set(re.findall(r'tag: "([\d.]+)"', seed))
    assert seed_tags == {kong["version"]}  # the seed's Kong Gateway release, 3.10.0.2
    assert re.search(r"kubectl create namespace (\S+)", seed).group(1) == hybrid["namespace"]
    assert re.search(r"name: (kong-cp)\n", seed) and hybrid["controlPlaneRelease"] == "kong-cp"
    assert re.search(r"name: (kong-dp)\n", seed) and hybrid["dataPlaneRelease"] == "kong-dp"
    # The seed's certificate: EC secp384r1, 1095 days, CN kong_clustering: our defaults.
    assert "secp384r1" in seed and "-days 1095" in seed
    from components.certificates import CERTIFICATE_DEFAULTS
    assert (CERTIFICATE_DEFAULTS["key_algorithm"], CERTIFICATE_DEFAULTS["validity_days"]) == ("ecdsa-p384", 1095)
    assert json.loads(config["kong-aws:postgres"])["mode"] == "in-cluster"  # the seed ran PostgreSQL in the cluster


# ---------------------------------------------------------------------------------------------
# Proxy protocol (real client addresses)

PROXY_PROTOCOL = "service.beta.kubernetes.io/aws-load-balancer-proxy-protocol"


def _chart_listen(block: dict, chart_block: dict) -> str:
    """``proxy_listen`` as the chart renders it from a ``proxy`` block (_helpers.tpl
    ``kong.listen``/``kong.singleListen``: address:port, the parameters, ``ssl`` appended for tls)."""
    entries = []
    for name, extra in (("http", []), ("tls", ["ssl"])):
        merged = {**chart_block[name], **block.get(name, {})}
        if merged["enabled"]:
            params = list(dict.fromkeys([*(merged.get("parameters") or []), *extra]))
            entries.append(" ".join([f"0.0.0.0:{merged['containerPort']}", *params]))
    return ", ".join(entries)


@pytest.mark.parametrize("proxy_protocol", [True, False])
def test_proxy_protocol_on_the_nlb_matches_kongs_proxy_listeners(run_stack, hybrid_config, proxy_protocol):
    hybrid_config["kong-aws:hybrid"] = {"proxyProtocol": proxy_protocol}
    dp = values(run_stack(hybrid_config), "kong-dp")
    assert unknown_chart_keys(dp, CHART_VALUES) == []
    annotations, env = dp["proxy"]["annotations"], dp["env"]
    listen = _chart_listen(dp["proxy"], CHART_VALUES["proxy"])
    entries = [entry.split() for entry in listen.split(", ")]
    assert [e[0] for e in entries] == ["0.0.0.0:8000", "0.0.0.0:8443"]
    if proxy_protocol:
        assert annotations[PROXY_PROTOCOL] == "*"
        assert all("proxy_protocol" in e for e in entries) and "http2" in entries[1] and "ssl" in entries[1]
        # Health checks carry the header too: TCP on the traffic port, a listener that expects it.
        assert annotations["service.beta.kubernetes.io/aws-load-balancer-healthcheck-protocol"] == "tcp"
        assert annotations["service.beta.kubernetes.io/aws-load-balancer-healthcheck-port"] == "traffic-port"
        assert (env["real_ip_header"], env["trusted_ips"]) == ("proxy_protocol", "10.0.0.0/8,172.16.0.0/12,"
                                                                                "192.168.0.0/16,100.64.0.0/10")
    else:
        assert PROXY_PROTOCOL not in annotations
        assert not any("proxy_protocol" in e for e in entries)
        assert "real_ip_header" not in env and "trusted_ips" not in env
    # The kubelet's probes send no header: the status listener never requires one.
    assert not (CHART_VALUES["status"]["http"].get("parameters") or []) and "status" not in dp
    assert [k for k in env if k not in KONG_PARAMS] == []


def test_switching_proxy_protocol_on_updates_the_data_plane_release_only(run_stack):
    """Day 2 (docs/runbooks.md, "Switching proxy protocol"): the switch is one in-place update of
    the kong-dp release, which carries both the Service annotation the controller applies to the
    NLB and Kong's listeners; the control plane, the database and the certificates stay."""
    from tests.conftest import config_text
    from tools.mocks import main_program, run_program
    from tools.plan import UPDATE, plan

    before = run_stack(HYBRID_CONFIG)  # the state: the run other tests of this worker share
    switched = {**HYBRID_CONFIG, "kong-aws:hybrid": {"proxyProtocol": True}}
    after = run_program(main_program(), config_text(switched), prior=before)
    (dp,) = [r for r in after.of_type(RELEASE) if r.inputs["name"] == "kong-dp"]
    assert plan(before, after).changes() == {dp.urn: UPDATE}


# ---------------------------------------------------------------------------------------------
# The database's TLS, and who may reach what inside the cluster

def test_rds_server_certificate_is_verified_with_the_mounted_ca_bundle(run_stack, hybrid_config):
    from components.postgres import CA_CONFIG_MAP_KEY, CA_CONFIG_MAP_NAME, rds_ca_bundle_pem
    hybrid_config["kong-aws:postgres"] = {"mode": "rds"}
    result = run_stack(hybrid_config)
    cp = values(result, "kong-cp")
    assert (cp["env"]["pg_ssl"], cp["env"]["pg_ssl_verify"]) == ("on", "on")
    (mount,) = cp["extraConfigMaps"]
    assert mount["name"] == CA_CONFIG_MAP_NAME
    trusted = cp["env"]["lua_ssl_trusted_certificate"].split(",")
    assert trusted == ["system", f"{mount['mountPath']}/{CA_CONFIG_MAP_KEY}"]
    (config_map,) = [r for r in result.of_type("kubernetes:core/v1:ConfigMap")
                     if r.inputs["metadata"]["name"] == CA_CONFIG_MAP_NAME]
    assert config_map.inputs["metadata"]["namespace"] == "kong"
    assert config_map.inputs["data"][CA_CONFIG_MAP_KEY] == rds_ca_bundle_pem()
    # A new bundle rolls the control plane: the pods carry the hash of what the ConfigMap holds.
    digest = hashlib.sha256(config_map.inputs["data"][CA_CONFIG_MAP_KEY].encode()).hexdigest()
    assert cp["podAnnotations"]["kong-aws/database-ca-sha256"] == digest


def test_in_cluster_postgres_has_no_tls_to_verify(run_stack, hybrid_config):
    cp = values(run_stack(hybrid_config), "kong-cp")
    assert (cp["env"]["pg_ssl"], cp["env"]["pg_ssl_verify"]) == ("off", "off")
    assert "extraConfigMaps" not in cp and cp["env"]["lua_ssl_trusted_certificate"] == "system"


@pytest.mark.parametrize("postgres", ["in-cluster", "rds"])
def test_network_policies_are_declared_before_the_releases_and_deny_comes_last(run_stack, hybrid_config, postgres):
    from components.metrics_agent import AGENT_POD_LABELS
    from components.network_policy import DEFAULT_DENY_NAME, kong_network_policies
    hybrid_config["kong-aws:postgres"] = {"mode": postgres}
    result = run_stack(hybrid_config)
    from components.network_policy import release_pod_labels
    policies = {r.inputs["metadata"]["name"]: r for r in result.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")}
    # The in-cluster database's policy is its component's own: the control plane release's pods and Jobs.
    database_policy = policies.pop("kong-postgres", None)
    assert (database_policy is not None) is (postgres == "in-cluster")
    if database_policy is not None:
        (rule,) = database_policy.inputs["spec"]["ingress"]
        assert rule["from"] == [{"podSelector": {"matchLabels": release_pod_labels("kong-cp")}}]
    expected = kong_network_policies("kong", "kong-cp", "kong-dp", admin_client_labels={"kong-aws/admin-client": "true"},
                                     postgres_pod_labels=None, metrics_agent_labels=AGENT_POD_LABELS)
    assert {m["metadata"]["name"]: m["spec"] for m in expected} == {n: r.inputs["spec"] for n, r in policies.items()}
    deny = policies.pop(DEFAULT_DENY_NAME)
    assert {r.urn for r in policies.values()} <= set(deny.dependencies)
    cp_release = next(r for r in result.of_type(RELEASE) if r.inputs["name"] == "kong-cp")
    assert {r.urn for r in [deny, *policies.values()]} <= set(cp_release.dependencies)



def test_in_cluster_postgres_runs_on_the_network_policy_pool_too(run_stack, hybrid_config):
    result = run_stack(hybrid_config)
    (pool,) = result.of_type("kubernetes:karpenter.sh/v1:NodePool")
    (database,) = result.of_type("kubernetes:apps/v1:StatefulSet")
    assert database.inputs["spec"]["template"]["spec"]["nodeSelector"] == {
        "karpenter.sh/nodepool": pool.inputs["metadata"]["name"]}


def test_turning_rbac_on_for_a_licensed_stack_updates_the_control_plane_release_only(run_stack):
    """Day 2 (docs/runbooks.md, 8): a licensed stack that ran with adminRbac false already has the
    token's Secret (its super admin was seeded with it); turning RBAC on changes only kong-cp."""
    from tools.mocks import main_program, run_program
    from tools.plan import UPDATE, plan

    config, secrets = licensed(HYBRID_CONFIG, admin_rbac=False)
    before = run_stack(config, secrets)  # shared with the test of adminRbac false
    after = run_program(main_program(), config_text({**config, "kong-aws:hybrid": {"adminRbac": True}}), secrets,
                        prior=before)
    (cp,) = [r for r in after.of_type(RELEASE) if r.inputs["name"] == "kong-cp"]
    assert plan(before, after).changes() == {cp.urn: UPDATE}


def test_the_components_refuse_what_the_config_refuses():
    """Callers of the component package reach the components without the config layer."""
    from components.hybrid_eks import HybridEksGateway
    from components.kong_hybrid import KongHybrid
    from tools.mocks import run_program

    def labelled() -> None:
        KongHybrid("kong", {"kong": {"version": "3.10.0.2", "data_plane_labels": {"env": "dev"}}})

    def existing_with_network() -> None:
        HybridEksGateway("kong", {"kong": {"version": "3.10.0.2"}, "region": "us-east-1",
                                  "eks": {"cluster_name": "platform-prod"}, "network": {"cidr_block": "10.1.0.0/16"}})

    for program, message in ((labelled, "Konnect labels"), (existing_with_network, "supplies the network")):
        with pytest.raises(Exception, match=message):
            run_program(program, {"aws:region": "us-east-1"})


# Day 2: each option this issue added, toggled between two `pulumi up`s, planned from the first run.
_EXISTING = {"clusterName": "platform-prod", "storageClassName": "gp3"}
DAY2 = {
    # Down to one data plane: its PodDisruptionBudget goes with the data plane release's update only.
    "one-data-plane": ({}, {"kong-aws:hybrid": {"dataPlaneMinReplicas": 1, "dataPlaneMaxReplicas": 1}},
                       [("kubernetes:helm.sh/v3:Release", "update")]),
    # The add-on asked for on an existing cluster: created, nothing else touched.
    "metrics-server-on-existing-cluster": (
        {"kong-aws:eks": _EXISTING}, {"kong-aws:eks": {**_EXISTING, "metricsServer": True}},
        [("aws:eks/addon:Addon", "create")]),
    # A new retention: the log group updated in place, the database untouched.
    "rds-log-retention": ({"kong-aws:postgres": {"mode": "rds"}},
                          {"kong-aws:postgres": {"mode": "rds", "logRetentionDays": 90}},
                          [("aws:cloudwatch/logGroup:LogGroup", "update")]),
}


@pytest.mark.parametrize("name", sorted(DAY2))
def test_toggling_an_option_plans_only_its_own_change(run_stack, hybrid_config, name):
    from tools.mocks import main_program, run_program
    from tools.plan import plan

    before_changes, after_changes, expected = DAY2[name]
    before_config = {**hybrid_config, **before_changes}
    before = run_stack(before_config)
    after = run_program(main_program(), config_text({**before_config, **after_changes}), prior=before)
    by_urn = {r.urn: r for r in after.registrations}
    assert sorted((by_urn[urn].type, change) for urn, change in plan(before, after).changes().items()) == expected


def test_adding_a_license_replaces_and_deletes_nothing(run_stack, hybrid_config):
    """The license Secret, the admin Secret and its two generators are created, the releases
    updated (enterprise on, RBAC on, the Enterprise Services), nothing replaced or deleted."""
    from tools.mocks import main_program, run_program
    from tools.plan import plan

    before = run_stack(hybrid_config)
    config, secrets = licensed(hybrid_config)
    after = run_program(main_program(), config_text(config), secrets, prior=before)
    by_urn = {r.urn: r for r in after.registrations}
    assert sorted((by_urn[urn].type, change) for urn, change in plan(before, after).changes().items()) == [
        ("kubernetes:core/v1:Secret", "create"), ("kubernetes:core/v1:Secret", "create"),
        ("kubernetes:helm.sh/v3:Release", "update"), ("kubernetes:helm.sh/v3:Release", "update"),
        ("random:index/randomPassword:RandomPassword", "create"),
        ("random:index/randomPassword:RandomPassword", "create")]
