"""Kong node settings (components/kong_settings.py) and the Konnect data plane of konnect_ecs.py,
checked against Kong's and Konnect's own references in ../shared/reference:

- kong-gateway-ee-conf/kong-conf-index.json: every Kong Gateway Enterprise setting name,
- kong_conf_validation.json: Kong's enums and the hybrid-mode rules of conf_loader/parse.lua,
- konnect-endpoints.json: the settings Konnect's data plane guide requires,
- botocore's ECS model: the shape of a container's environment and secrets.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from urllib.parse import urlsplit

import pytest

from components.kong_settings import (ClusterEndpoint, KongNode, KubernetesSecretKey, PostgresConnection,
                                      SecretSetting, container_environment, env_name, helm_env)
from components.ecs_task_definition import data_plane_node, worker_processes
from components.kong_facts import PROXY_HTTP_PORT, PROXY_HTTPS_PORT, STATUS_PORT, LogLevel, RouterFlavor
from components.konnect_api import parse_endpoint
from tests.conftest import BASE_CONFIG, REFERENCE, reference_json

VALIDATION = reference_json("kong_conf_validation.json")
KONG_PARAMS = set(reference_json("kong-gateway-ee-conf/kong-conf-index.json")["params"])
KONNECT = reference_json("konnect-endpoints.json")
HYBRID_RULES = VALIDATION["hybrid_mode_rules_parse_lua"]

SECRET_ARN = "arn:aws:secretsmanager:us-west-2:123456789012:secret:data-plane-cluster-cert-AbCdEf"
CERT_REF = f"{SECRET_ARN}:cert::0f5c2c3a-2f0e-4a57-9d6e-0123456789ab"
KEY_REF = f"{SECRET_ARN}:key::0f5c2c3a-2f0e-4a57-9d6e-0123456789ab"
LABELS = {"env": "prod", "team": "edge"}


def _konnect_data_plane(cpu_units: int = 2048, labels=LABELS) -> KongNode:
    kong = {**BASE_CONFIG["kong-aws:kong"], "data_plane_labels": labels}
    return data_plane_node(kong, *_konnect_endpoints(), cpu_units, CERT_REF, KEY_REF)  # type: ignore[arg-type]


def _konnect_endpoints():
    konnect = BASE_CONFIG["kong-aws:konnect"]
    return parse_endpoint(konnect["controlPlaneEndpoint"]), parse_endpoint(konnect["telemetryEndpoint"])


def _self_hosted_data_plane(**changes) -> KongNode:
    node = KongNode(
        role="data_plane", cluster_cert="/etc/secrets/kong-cluster-cert/tls.crt",
        cluster_cert_key="/etc/secrets/kong-cluster-cert/tls.key",
        control_plane=ClusterEndpoint("kong-cp-cluster.kong.svc:8005", "kong-cp-cluster.kong.svc"),
        telemetry=ClusterEndpoint("kong-cp-telemetry.kong.svc:8006", "kong-cp-telemetry.kong.svc"),
        labels={"region": "us-west-2"}, worker_processes=2)
    return dataclasses.replace(node, **changes)


def _control_plane(**changes) -> KongNode:
    # cluster_mtls shared: a pki control plane also needs cluster_ca_cert (tested below).
    node = KongNode(role="control_plane", database="postgres", cluster_mtls="shared",
                    cluster_cert="/etc/secrets/kong-cluster-cert/tls.crt",
                    cluster_cert_key="/etc/secrets/kong-cluster-cert/tls.key", postgres=PG)
    return dataclasses.replace(node, **changes)


def _traditional(**changes) -> KongNode:
    return dataclasses.replace(KongNode(role="traditional", database="postgres", worker_processes=4,
                                        postgres=PG), **changes)


PG = PostgresConnection(host="kong-postgres.kong.svc.cluster.local",
                        password=KubernetesSecretKey("kong-postgres", "password"))


NODES = {
    "konnect-data-plane": _konnect_data_plane,
    "self-hosted-data-plane": _self_hosted_data_plane,
    "control-plane": _control_plane,
    "traditional": _traditional,
}


def _rule(when: str, rule_text: str) -> dict:
    """The one reference hybrid rule for ``when`` whose rule text contains ``rule_text``."""
    found = [r for r in HYBRID_RULES if r["when"] == when and rule_text in r["rule"]]
    assert len(found) == 1, (when, rule_text, found)
    return found[0]


# --- names and values against Kong's configuration reference ------------------------------------

@pytest.mark.parametrize("node", NODES)
def test_every_setting_is_a_kong_setting(node):
    unknown = set(NODES[node]().settings()) - KONG_PARAMS
    assert not unknown, f"not in Kong's configuration reference: {sorted(unknown)}"


@pytest.mark.parametrize("node", NODES)
def test_enum_settings_take_values_kong_accepts(node):
    settings = NODES[node]().settings()
    checked = set(settings) & set(VALIDATION["enums"])
    # role and database are always produced; a node without them would fall back to Kong's defaults.
    assert {"role", "database", "router_flavor", "log_level"} <= checked
    if settings["role"] != "traditional":
        assert "cluster_mtls" in checked
    for name in checked:
        assert settings[name] in VALIDATION["enums"][name], (name, settings[name])


@pytest.mark.parametrize("field, choices", [("router_flavor", RouterFlavor), ("log_level", LogLevel)])
def test_every_configurable_router_flavor_and_log_level_reaches_kong_as_valid(field, choices):
    # The choices are Kong's own enum, in full.
    assert {c.value for c in choices} == set(VALIDATION["enums"][field])
    for choice in choices:
        kong = {"version": "3.10.0.1", field: choice}
        setting = data_plane_node(kong, *_konnect_endpoints(), 1024, CERT_REF, KEY_REF).settings()[field]  # type: ignore[arg-type]
        assert setting == choice.value


def test_env_names_follow_kongs_mapping():
    # "role -> KONG_ROLE, cluster_mtls -> KONG_CLUSTER_MTLS, nginx_http_ssl_protocols <- KONG_..."
    pairs = re.findall(r"(\w+) <?-+>? (KONG_\w+)", VALIDATION["env_var_mapping"])
    assert len(pairs) >= 3
    for setting, env in pairs:
        assert env_name(setting) == env
    settings = _konnect_data_plane().settings()
    environment, secrets = container_environment(settings)
    assert sorted(e["name"] for e in environment + secrets) == sorted("KONG_" + s.upper() for s in settings)


# --- the Konnect data plane ---------------------------------------------------------------------

def test_konnect_data_plane_has_konnects_minimum_settings():
    settings = _konnect_data_plane().settings()
    minimum = {k: v for k, v in KONNECT["konnect_data_plane_minimum_kong_conf"].items() if not k.startswith("_")}
    missing = set(minimum) - set(settings)
    assert not missing, f"missing from the Konnect data plane: {sorted(missing)}"

    konnect = BASE_CONFIG["kong-aws:konnect"]
    endpoints = {"<control_plane_endpoint host>": urlsplit(konnect["controlPlaneEndpoint"]).hostname,
                 "<telemetry_endpoint host>": urlsplit(konnect["telemetryEndpoint"]).hostname}
    for name, template in minimum.items():
        if name in ("cluster_cert", "cluster_cert_key"):
            continue  # a PEM or path: checked as secrets below
        expected = template
        for placeholder, host in endpoints.items():
            expected = expected.replace(placeholder, host)
        assert "<" not in expected, (name, template)
        assert settings[name] == expected, name
    assert settings["cluster_control_plane"] == "0123456789.us.cp0.konghq.com:443"
    assert settings["cluster_server_name"] == "0123456789.us.cp0.konghq.com"


def test_konnect_env_vars_match_konnects_list():
    note = KONNECT["konnect_data_plane_env_vars_note"]
    expected = set(re.findall(r"KONG_[A-Z_]+", note.split(".")[0]))
    environment, secrets = container_environment(_konnect_data_plane().settings())
    assert expected - {e["name"] for e in environment + secrets} == set()


def test_konnect_data_plane_certificate_and_key_only_travel_as_secrets(botocore_loader):
    environment, secrets = container_environment(_konnect_data_plane().settings())
    assert {s["name"]: s["valueFrom"] for s in secrets} == {
        "KONG_CLUSTER_CERT": CERT_REF, "KONG_CLUSTER_CERT_KEY": KEY_REF}
    names = {e["name"] for e in environment}
    assert not names & {"KONG_CLUSTER_CERT", "KONG_CLUSTER_CERT_KEY"}
    assert not [e for e in environment if SECRET_ARN in str(e["value"]) or isinstance(e["value"], SecretSetting)]

    # The entries are ECS KeyValuePair / Secret shapes; ECS environment values are strings.
    shapes = botocore_loader.load_service_model("ecs", "service-2")["shapes"]
    for entries, shape in ((environment, shapes["KeyValuePair"]), (secrets, shapes["Secret"])):
        for entry in entries:
            assert set(entry) <= set(shape["members"]) and set(shape.get("required", [])) <= set(entry)
    assert all(isinstance(e["value"], str) for e in environment)


def test_any_secret_setting_goes_to_secrets_never_environment():
    parameter = "arn:aws:ssm:us-west-2:123456789012:parameter/kong/cluster-cert-key"
    node = _self_hosted_data_plane(cluster_cert_key=SecretSetting(parameter))
    environment, secrets = container_environment(node.settings())
    assert secrets == [{"name": "KONG_CLUSTER_CERT_KEY", "valueFrom": parameter}]
    assert {"name": "KONG_CLUSTER_CERT", "value": "/etc/secrets/kong-cluster-cert/tls.crt"} in environment


def test_cluster_dp_labels_are_key_colon_value_pairs():
    labels = {"env": "prod", "team": "edge", "tier": "gold"}
    value = _konnect_data_plane(labels=labels).settings()["cluster_dp_labels"]
    assert value.count(",") == 2
    assert dict(pair.split(":", 1) for pair in value.split(",")) == labels


def test_no_labels_means_no_cluster_dp_labels():
    assert "cluster_dp_labels" not in _konnect_data_plane(labels={}).settings()


@pytest.mark.parametrize("cpu_units, workers", [(256, 1), (512, 1), (1024, 1), (2048, 2), (4096, 4), (8192, 8)])
def test_worker_processes_count_whole_vcpus(cpu_units, workers):
    assert worker_processes(cpu_units) == workers
    # Kong's "auto" would count the Fargate host's CPUs; the task's share must be explicit.
    assert _konnect_data_plane(cpu_units).settings()["nginx_worker_processes"] == str(workers)


def test_worker_processes_below_one_is_refused():
    with pytest.raises(ValueError):
        _traditional(worker_processes=0).settings()


# --- Kong's hybrid-mode rules (kong_conf_validation.json, from parse.lua) -----------------------

@pytest.mark.parametrize("node, when, rule_text", [
    pytest.param(lambda: _self_hosted_data_plane(database="postgres"),
                 "role = data_plane", "database = off", id="data-plane-with-postgres"),
    pytest.param(lambda: _control_plane(database="off"),
                 "role = control_plane", "database != off", id="control-plane-in-memory"),
    pytest.param(lambda: _control_plane(labels={"env": "prod"}),
                 "role = control_plane", "cluster_dp_labels", id="control-plane-with-labels"),
    pytest.param(lambda: _self_hosted_data_plane(cluster_cert=None),
                 "role in {control_plane, data_plane}", "must both be set", id="data-plane-without-cert"),
    pytest.param(lambda: _self_hosted_data_plane(cluster_cert_key=None),
                 "role in {control_plane, data_plane}", "must both be set", id="data-plane-without-key"),
    pytest.param(lambda: _control_plane(cluster_cert=None),
                 "role in {control_plane, data_plane}", "must both be set", id="control-plane-without-cert"),
])
def test_hybrid_rules_raise_kongs_error(node, when, rule_text):
    with pytest.raises(ValueError) as raised:
        node().settings()
    assert str(raised.value) == _rule(when, rule_text)["error"]


def test_pki_control_plane_without_ca_certificate_is_refused():
    with pytest.raises(ValueError) as raised:
        _control_plane(cluster_mtls="pki").settings()
    assert str(raised.value) == _rule("role = control_plane and cluster_mtls = pki", "cluster_ca_cert")["error"]


def test_labels_on_a_traditional_node_are_refused():
    with pytest.raises(ValueError) as raised:
        _traditional(labels={"env": "prod"}).settings()
    assert str(raised.value) == _rule("role = traditional", "cluster_dp_labels")["error"]


@pytest.mark.parametrize("node", ["konnect-data-plane", "self-hosted-data-plane", "control-plane"])
def test_listeners_kong_requires_are_not_turned_off(node):
    """Rules "<listener> must not be empty/off" for the node's role hold for what is produced
    (a setting left out keeps Kong's default listener)."""
    built = NODES[node]()
    settings = built.settings()
    applied = 0
    for rule in HYBRID_RULES:
        found = re.fullmatch(r"(\w+) must not be empty/off", rule["rule"])
        if found and rule["when"] == f"role = {built.role}":
            applied += 1
            assert settings.get(found.group(1), "default") not in ("", "off"), rule["error"]
    assert applied >= 1


def test_konnect_only_for_data_planes():
    with pytest.raises(ValueError):
        _control_plane(konnect=True).settings()


def test_data_plane_serves_no_admin_api_and_control_plane_keeps_it():
    assert _konnect_data_plane().settings()["admin_listen"] == "off"
    assert _control_plane().settings().get("admin_listen") != "off"


# --- the Helm rendering -------------------------------------------------------------------------

def test_helm_env_is_the_same_settings_without_prefix():
    settings = _self_hosted_data_plane().settings()
    env = helm_env(settings)
    # Listeners are the chart's (its admin/status/cluster blocks render them); the rest is identical.
    assert env == {k: v for k, v in settings.items() if not k.endswith("_listen")}
    assert {k for k in settings if k.endswith("_listen")} == {"admin_listen", "status_listen"}
    assert not [k for k in env if k.startswith("KONG_") or k != k.lower()]
    # Kong's Konnect Helm guide sets these same keys in env: (reference values-dp.yaml).
    docs_env = KONNECT["helm_values_dp_from_docs"]["env"]
    konnect_env = helm_env(dataclasses.replace(
        _konnect_data_plane(), cluster_cert=docs_env["cluster_cert"],
        cluster_cert_key=docs_env["cluster_cert_key"]).settings())
    for key in ("role", "database", "konnect_mode", "vitals", "cluster_mtls", "lua_ssl_trusted_certificate",
                "cluster_cert", "cluster_cert_key"):
        assert konnect_env[key] == docs_env[key], key


def test_helm_env_refuses_secret_settings():
    node = _self_hosted_data_plane(cluster_cert_key=SecretSetting(KEY_REF))
    with pytest.raises(ValueError, match="cluster_cert_key"):
        helm_env(node.settings())
    with pytest.raises(ValueError):
        helm_env(_konnect_data_plane().settings())


def test_control_plane_database_password_stays_a_secret_reference():
    settings = _control_plane().settings()
    for key, value in (("pg_host", PG.host), ("pg_port", "5432"), ("pg_user", "kong"), ("pg_database", "kong"),
                       ("pg_ssl", "off")):
        assert settings[key] == value and key in KONG_PARAMS
    env = helm_env(settings)
    assert env["pg_password"] == {"valueFrom": {"secretKeyRef": {"name": "kong-postgres", "key": "password"}}}
    with pytest.raises(ValueError, match="pg_password"):
        container_environment(settings)  # an ECS container cannot read a Kubernetes Secret


def test_control_plane_without_a_database_connection_is_refused():
    with pytest.raises(ValueError, match="PostgreSQL"):
        _control_plane(postgres=None).settings()


# --- proxy protocol (real client addresses behind an NLB) ----------------------------------------

TRUSTED = ("10.0.0.0/16",)


def _listen_flags(setting: str) -> set[str]:
    """The listen flags kong.conf.default documents for ``setting`` (its "- `flag`" bullets, with
    ``backlog=N`` as ``backlog``)."""
    text = (REFERENCE / "kong.conf.default").read_text()
    block = text.split(f"\n#{setting} = ", 1)[1]
    block = re.split(r"\n#[a-z_]+ = ", block, maxsplit=1)[0]
    return {flag.split("=")[0] for flag in re.findall(r"- `([a-z0-9_]+(?:=N)?)`", block)}


def _entries(value: str) -> list[tuple[str, list[str]]]:
    return [(parts[0], parts[1:]) for parts in (entry.split() for entry in value.split(","))]


def test_the_documented_flag_reader_can_fail():
    assert {"ssl", "http2", "proxy_protocol", "reuseport", "backlog"} <= _listen_flags("proxy_listen")
    assert _listen_flags("status_listen") == {"ssl", "http2", "proxy_protocol"}
    assert "deferred" not in _listen_flags("status_listen")


@pytest.mark.parametrize("node", ["konnect-data-plane", "self-hosted-data-plane"])
def test_proxy_protocol_listeners_and_real_ip_settings_are_kongs(node):
    if node == "konnect-data-plane":
        settings = data_plane_node({"version": "3.10.0.1"}, *_konnect_endpoints(), 1024, CERT_REF, KEY_REF,  # type: ignore[arg-type]
                                   proxy_protocol=True, trusted_ips=TRUSTED).settings()
    else:
        settings = _self_hosted_data_plane(proxy_protocol=True, trusted_ips=TRUSTED).settings()
    assert set(settings) - KONG_PARAMS == set()
    proxy = _entries(str(settings["proxy_listen"]))
    assert [(address, "ssl" in flags) for address, flags in proxy] == [
        (f"0.0.0.0:{PROXY_HTTP_PORT}", False), (f"0.0.0.0:{PROXY_HTTPS_PORT}", True)]
    for _, flags in proxy:
        assert "proxy_protocol" in flags
        assert {f.split("=")[0] for f in flags} <= _listen_flags("proxy_listen")
    # kong.conf.default, real_ip_header: "proxy_protocol" needs a proxy_listen entry with the flag.
    assert settings["real_ip_header"] == "proxy_protocol"
    assert str(settings["trusted_ips"]).split(",") == list(TRUSTED)
    for block in str(settings["trusted_ips"]).split(","):
        ipaddress.ip_network(block)
    status_address, status_flags = _entries(str(settings["status_listen"]))[0]
    assert status_address == f"0.0.0.0:{STATUS_PORT}" and set(status_flags) <= _listen_flags("status_listen")
    # The NLB's health checks carry the header: the ECS status listener requires it. The Helm data
    # plane keeps a plain status listener for the kubelet's probes (its NLB checks the proxy port).
    assert ("proxy_protocol" in status_flags) is (node == "konnect-data-plane")


@pytest.mark.parametrize("node", NODES)
def test_without_proxy_protocol_kong_keeps_its_own_listeners(node):
    settings = NODES[node]().settings()
    assert not {"proxy_listen", "real_ip_header", "trusted_ips", "real_ip_recursive"} & set(settings)
    assert settings["status_listen"] == f"0.0.0.0:{STATUS_PORT}"


def test_proxy_protocol_needs_the_load_balancers_addresses_and_a_data_plane():
    with pytest.raises(ValueError, match="trusted_ips"):
        _self_hosted_data_plane(proxy_protocol=True).settings()
    with pytest.raises(ValueError, match="only with proxy_protocol"):
        _self_hosted_data_plane(trusted_ips=TRUSTED).settings()
    with pytest.raises(ValueError, match="control plane"):
        _control_plane(proxy_protocol=True, trusted_ips=TRUSTED).settings()
    assert _traditional(proxy_protocol=True, trusted_ips=TRUSTED).settings()["real_ip_header"] == "proxy_protocol"


def test_helm_env_leaves_the_proxy_listener_to_the_chart_but_keeps_real_ip_settings():
    env = helm_env(_self_hosted_data_plane(proxy_protocol=True, trusted_ips=TRUSTED).settings())
    assert "proxy_listen" not in env and "status_listen" not in env
    assert (env["real_ip_header"], env["trusted_ips"]) == ("proxy_protocol", "10.0.0.0/16")


def test_the_super_admin_password_reaches_the_bootstrap_from_its_secret_only():
    token = KubernetesSecretKey("kong-admin", "password")
    env = helm_env(_traditional(super_admin_password=token).settings())
    # KONG_PASSWORD is what `kong migrations bootstrap` reads (Kong's "Create a Super Admin" guide).
    assert env_name("password") == "KONG_PASSWORD"
    assert env["password"] == {"valueFrom": {"secretKeyRef": {"name": "kong-admin", "key": "password"}}}
    assert "password" not in _traditional().settings()
    with pytest.raises(ValueError, match="nodes with a database"):
        dataclasses.replace(_konnect_data_plane(), super_admin_password=token).settings()


# --- the metrics listener (components/metrics_agent.py scrapes it) -----------------------------

@pytest.mark.parametrize("proxy_protocol", [False, True], ids=["plain", "proxy-protocol"])
@pytest.mark.parametrize("node", ["konnect-data-plane", "self-hosted-data-plane"])
def test_the_metrics_listener_never_takes_proxy_protocol(node, proxy_protocol):
    from components.kong_facts import METRICS_PORT
    if node == "konnect-data-plane":
        made = data_plane_node({"version": "3.10.0.1"}, *_konnect_endpoints(), 1024, CERT_REF, KEY_REF,  # type: ignore[arg-type]
                               proxy_protocol=proxy_protocol, trusted_ips=TRUSTED if proxy_protocol else (),
                               metrics=True)
        address = "127.0.0.1"
    else:
        address = "0.0.0.0"
        made = _self_hosted_data_plane(proxy_protocol=proxy_protocol, trusted_ips=TRUSTED if proxy_protocol else (),
                                       status_proxy_protocol=proxy_protocol, metrics_address=address)
    settings = made.settings()
    assert set(settings) - KONG_PARAMS == set()
    (status_address, status_flags), (metrics_address, metrics_flags) = _entries(str(settings["status_listen"]))
    assert (status_address, metrics_address) == (f"0.0.0.0:{STATUS_PORT}", f"{address}:{METRICS_PORT}")
    assert ("proxy_protocol" in status_flags) is proxy_protocol and metrics_flags == []
    # Rendered as every setting is: the container's KONG_STATUS_LISTEN, and the chart's env:, which
    # overrides the one listener its status block can render.
    if node == "self-hosted-data-plane":
        assert helm_env(settings)["status_listen"] == settings["status_listen"]
    else:
        environment, _ = container_environment(settings)
        assert {"name": "KONG_STATUS_LISTEN", "value": settings["status_listen"]} in environment


def test_without_a_metrics_listener_the_status_listener_stays_the_charts():
    assert "status_listen" not in helm_env(_self_hosted_data_plane().settings())
    with pytest.raises(ValueError, match="port of its own"):
        _self_hosted_data_plane(metrics_address="0.0.0.0", metrics_port=STATUS_PORT).settings()
