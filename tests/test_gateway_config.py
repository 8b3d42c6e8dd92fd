"""The gateway file loader (components/gateway_config.py), checked against the references it cites:

- Konnect's configuration API spec (../shared/reference/konnect/...-config-v2.openapi.yaml): the
  distilled schemas are the spec's, and the loader's schema check agrees with jsonschema on the spec;
- Kong's routes rule (routes_subschemas.lua) and decK's file structure, through broken files that
  must be refused with their position and line.
"""

from __future__ import annotations

import functools
import json
import textwrap

import jsonschema
import pytest
import yaml

from components import gateway_config as gc
from components.gateway_config import (GatewayFileError, deck_document, load_gateway_file, route_match_problem,
                                       schema_problems, substitute_env)
from tests.conftest import REFERENCE
from tools.mocks import PROJECT_ROOT

SPEC = REFERENCE / "konnect" / "konnect-control-planes-config-v2.openapi.yaml"


@functools.cache
def spec() -> dict:
    return yaml.load(SPEC.read_text(), Loader=yaml.CSafeLoader)


def load_text(tmp_path, text: str, secret_names=frozenset()):
    (tmp_path / "gw.yaml").write_text(textwrap.dedent(text))
    return load_gateway_file("gw.yaml", root=tmp_path, secret_names=frozenset(secret_names))


def refused(tmp_path, text: str, secret_names=frozenset()) -> list[str]:
    with pytest.raises(GatewayFileError) as caught:
        load_text(tmp_path, text, secret_names)
    return caught.value.lines


# --- The examples.

def test_dev_eks_example_is_seed_002s_mock_service():
    g = load_gateway_file("gateway/dev-eks.yaml")
    assert [(e.key, dict(e.refs)) for e in g.entities] == [
        ("service:mock", {}), ("route:mock", {"service": "service:mock"}), ("plugin:prometheus@global", {})]
    service, route, prometheus = g.entities
    assert service.body == {"name": "mock", "url": "https://httpbin.konghq.com"}
    assert route.body == {"name": "mock", "paths": ["/mock"]} and route.position == "services[0].routes[0] (line 11)"
    # Field names of Kong 3.9.3 kong/plugins/prometheus/schema.lua.
    assert prometheus.body["config"] == {"status_code_metrics": True, "latency_metrics": True}
    assert g.prometheus_enabled and g.plugin_names == {"prometheus"} and g.env_names == frozenset()


def test_konnect_managed_example_is_seed_001s_rate_limited_route():
    g = load_gateway_file("gateway/konnect-managed.yaml")
    keys = {e.key: e for e in g.entities}
    assert list(keys) == ["service:gateway_service1", "route:route1", "plugin:rate-limiting@route:route1",
                          "plugin:prometheus@global"]
    assert keys["service:gateway_service1"].body["url"] == "http://httpbin.org"
    assert keys["route:route1"].body["paths"] == ["/route1"]
    limit = keys["plugin:rate-limiting@route:route1"]
    assert limit.refs == {"route": "route:route1"} and limit.body["config"] == {"minute": 3, "policy": "local"}
    assert g.prometheus_enabled


def test_prometheus_enabled_needs_a_global_enabled_plugin(tmp_path):
    base = '_format_version: "3.0"\nservices: [{name: s, host: h, routes: [{name: r, paths: [/]}]}]\n'
    assert not load_text(tmp_path, base).prometheus_enabled
    assert not load_text(tmp_path, base + "plugins: [{name: prometheus, route: r}]").prometheus_enabled
    assert not load_text(tmp_path, base + "plugins: [{name: prometheus, enabled: false}]").prometheus_enabled
    assert load_text(tmp_path, base + "plugins: [{name: prometheus}]").prometheus_enabled


# --- The distilled schemas are the spec's, and the check agrees with jsonschema.

#: Keywords of the spec's entity schemas that only annotate (they constrain nothing).
ANNOTATIONS = {"description", "example", "default", "writeOnly", "x-encrypted", "x-referenceable", "x-foreign",
               "x-go-type", "x-go-type-import"}


def test_vendored_schemas_are_the_specs():
    vendored = json.loads(gc.SCHEMAS_FILE.read_text())["schemas"]
    assert vendored == gc.entity_schemas(spec()), (
        "components/data/konnect-entity-schemas.json differs from the spec: regenerate it with entity_schemas()")


def test_every_constraining_keyword_of_the_spec_is_checked():
    found: set[str] = set()

    def walk(schema, in_properties=False):
        if isinstance(schema, dict):
            for key, value in schema.items():
                if not in_properties:
                    found.add(key)
                if in_properties or key not in ANNOTATIONS:  # an example's keys are not keywords
                    walk(value, key == "properties" and not in_properties)
        elif isinstance(schema, list):
            for item in schema:
                walk(item)

    for name in gc.SCHEMA_NAMES:
        walk(spec()["components"]["schemas"][name])
    assert found - ANNOTATIONS - gc.SCHEMA_KEYWORDS == set()


BODIES = [
    ("Service", {"name": "s", "host": "example.com", "port": 443, "protocol": "https"}),
    ("Service", {"name": "s", "host": "example.com", "hostt": "x"}),
    ("Service", {"name": "s", "host": "example.com", "port": "443"}),
    ("Service", {"name": "s", "host": "example.com", "port": 70000}),
    ("Service", {"name": "s", "protocol": "ftp", "host": "h"}),
    ("Service", {"name": "s"}),
    ("RouteJson", {"name": "r", "paths": ["/a"], "strip_path": False, "protocols": ["http"]}),
    ("RouteJson", {"name": "r", "paths": "/a"}),
    ("RouteJson", {"name": "r", "protocols": ["htp"]}),
    ("RouteJson", {"name": "r", "headers": {"x-a": ["1"], "x-b": "2"}}),
    ("RouteExpression", {"name": "r", "expression": 'http.path == "/a"', "priority": 1}),
    ("RouteExpression", {"name": "r", "expression": 'http.path == "/a"', "paths": ["/a"]}),
    ("Plugin", {"name": "cors", "config": {"origins": ["*"]}, "enabled": True}),
    ("Plugin", {"config": {}}),
    ("Plugin", {"name": "", "condition": "x" * 1025}),
    ("Plugin", {"name": "cors", "enabled": "yes"}),
    ("Consumer", {"username": "alice", "tags": ["a"]}),
    ("Consumer", {"username": "alice", "tags": "a"}),
    ("Upstream", {"name": "u", "algorithm": "round-robin", "slots": 100}),
    ("Upstream", {"name": "u", "algorithm": "random"}),
    ("Target", {"target": "10.0.0.1:80", "weight": 100}),
    ("Target", {"target": "10.0.0.1:80", "weight": 65536}),
    ("Target", {"weight": 1.5}),
    ("Certificate", {"cert": "c", "key": "k"}),
    ("Certificate", {"cert": "c"}),
    ("BasicAuth", {"username": "a", "password": "p"}),
    ("BasicAuth", {"username": "a", "password": 1}),
    ("JWT", {"algorithm": "HS256", "key": "k"}),
    ("JWT", {"algorithm": "none"}),
    ("ACL", {"group": "g"}),
    ("ACL", {"group": ["g"]}),
]


@pytest.mark.parametrize("schema_name,body", BODIES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(BODIES)])
def test_schema_check_agrees_with_jsonschema_on_the_spec(schema_name, body):
    reference = jsonschema.Draft202012Validator(spec()["components"]["schemas"][schema_name])
    expected = sorted(tuple(e.absolute_path) for e in reference.iter_errors(body))
    ours = schema_problems(body, gc.entity_schemas(spec())[schema_name])
    assert bool(ours) == bool(expected), (ours, expected)


def test_schema_check_messages():
    schema = gc.entity_schemas(spec())["Service"]
    problems = dict(schema_problems({"host": "h", "port": "443", "nme": "s", "protocol": "ftp"}, schema))
    assert problems[("port",)] == "expected an integer, got a string"
    assert problems[("nme",)].startswith("unknown field; allowed: ca_certificates, client_certificate,")
    assert problems[("protocol",)].startswith("got 'ftp'; allowed: grpc, grpcs, http, https")


# --- Kong's route rule (Kong 3.9.3 routes_subschemas.lua).

@pytest.mark.parametrize("route,problem", [
    ({"paths": ["/a"]}, None),
    ({"name": "r"}, "protocol 'https' must set one of methods, hosts, headers, paths, snis"),
    ({"protocols": ["http"], "snis": ["a.example"]}, "protocol 'http' must set one of methods, hosts, headers, paths"),
    ({"protocols": ["https"], "snis": ["a.example"]}, None),
    ({"protocols": ["grpc"], "methods": ["GET"]}, "protocol 'grpc' must set one of hosts, headers, paths"),
    ({"protocols": ["tcp"], "destinations": [{"port": 5432}]}, None),
    ({"protocols": ["tcp"], "paths": ["/a"]}, "protocol 'tcp' must set one of sources, destinations, snis"),
    ({"protocols": ["tls_passthrough"], "sources": [{"ip": "10.0.0.0/8"}]}, "protocol 'tls_passthrough' must set one of snis"),
    ({"expression": 'http.path == "/a"'}, None),
])
def test_route_match_rule(route, problem):
    found = route_match_problem(route)
    assert (found is None) if problem is None else (problem in found)


# --- Broken files: each refused with its position, line and what is allowed.

GOOD = """\
_format_version: "3.0"
services:
  - name: mock
    url: https://httpbin.konghq.com
    routes:
      - name: mock
        paths: [/mock]
"""

BROKEN = {
    "unknown field": (GOOD.replace("        paths: [/mock]", "        paths: [/mock]\n        pathz: [/x]"),
                      "services[0].routes[0].pathz (route 'mock', line 8): unknown field; allowed: created_at,"),
    "wrong type": (GOOD.replace("paths: [/mock]", "paths: /mock"),
                   "services[0].routes[0].paths (route 'mock', line 7): expected an array, got a string"),
    "route matches nothing": (GOOD.replace("        paths: [/mock]", "        strip_path: false"),
                              "services[0].routes[0] (route 'mock', line 6): a route with protocol 'https' must set "
                              "one of methods, hosts, headers, paths, snis"),
    "unknown service": (GOOD + "routes:\n  - name: other\n    paths: [/o]\n    service: {name: mok}\n",
                        "routes[0].service (route 'other', line 11): no service with name 'mok' in this file; "
                        "services: mock"),
    "plugin scope by unknown name": (GOOD + "plugins:\n  - name: cors\n    route: nope\n",
                                     "plugins[0].route (plugin 'cors', line 10): no route with name or id 'nope'"),
    "duplicate name": (GOOD + "  - name: mock\n    host: example.com\n",
                       "services[1] (service 'mock', line 8): duplicate service 'mock': services[0] (line 3) has "
                       "the same key 'service:mock'"),
    "name required": (GOOD.replace("      - name: mock\n        paths", "      - paths"),
                      "services[0].routes[0] (line 6): 'name' is required on a route"),
    "unknown plugin": (GOOD + "plugins:\n  - name: rate-limitng\n",
                       "plugins[0].name (plugin 'rate-limitng', line 9): 'rate-limitng' is not a plugin Kong bundles "
                       "(did you mean 'rate-limiting'?)"),
    "env name not a secret": (GOOD + "consumers:\n  - username: alice\n    keyauth_credentials:\n"
                              "      - key: ${{ env \"DECK_ALICE_KEY\" }}\n",
                              "consumers[0].keyauth_credentials[0].key (line 11): DECK_ALICE_KEY is not set: set it "
                              "with `pulumi config set --secret --path 'kong-aws:gatewaySecrets.DECK_ALICE_KEY' ...`"),
    "other template": (GOOD.replace("url: https://httpbin.konghq.com", 'url: ${{ toBool "x" }}'),
                       "services[0].url (line 4): got '${{ toBool \"x\" }}'; only decK's ${{ env \"DECK_NAME\" }} "
                       "is supported"),
    "converting template": (GOOD.replace("url: https://httpbin.konghq.com", 'port: ${{ env "DECK_K" | toInt }}'),
                            "services[0].port (line 4): got '${{ env \"DECK_K\" | toInt }}'; only decK's"),
    "decK's own setting": (GOOD + "consumers:\n  - username: alice\n    keyauth_credentials:\n"
                                  "      - key: ${{ env \"DECK_HEADERS\" }}\n",
                           "consumers[0].keyauth_credentials[0].key (line 11): DECK_HEADERS is decK's own setting "
                           "(--headers), which decK would read as its configuration"),
    "vault reference where Kong does not resolve it": (
        GOOD + "consumers:\n  - username: alice\n    basicauth_credentials:\n"
               "      - {username: alice, password: '{vault://aws/alice/password}'}\n",
        "consumers[0].basicauth_credentials[0].password (basicauth credential 'alice/alice', line 11): Kong does not "
        "resolve vault references in this field"),
    "format version missing": (GOOD.replace('_format_version: "3.0"\n', ""),
                               "gw.yaml: (top level) (line 1): _format_version is missing; write _format_version: \"3.0\""),
    "format version a number": (GOOD.replace('"3.0"', "3.0"),
                                "_format_version (line 1): got 3.0; expected \"3.0\" (quote it: YAML reads 3.0 as "
                                "a number)"),
    "format version old": (GOOD.replace('"3.0"', '"1.1"'), "_format_version (line 1): got '1.1'; expected \"3.0\""),
    "select_tags given": (GOOD + "_info:\n  select_tags: [mine]\n",
                          "_info (line 8): not allowed: the stack sets _info.select_tags"),
    "unsupported top level": (GOOD + "consumer_groups: []\n", "consumer_groups (line 8): not supported here"),
    "duplicate YAML key": (GOOD.replace("    url:", "    host: a\n    host: b\n    url:"),
                           "services[0].host (line 5): duplicate key in this mapping"),
    "certificate without id": ('_format_version: "3.0"\ncertificates:\n  - cert: c\n    key: ${{ env "DECK_K" }}\n',
                               "certificates[0] (line 3): 'id' is required on a certificate"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_file_is_refused_with_position_and_line(tmp_path, case):
    text, expected = BROKEN[case]
    lines = refused(tmp_path, text, {"DECK_K"})
    assert any(line.startswith("gw.yaml: ") and expected in line for line in lines), lines


def test_the_good_base_of_the_broken_files_loads(tmp_path):
    # Each broken file is the good one plus one change: the change is what is refused.
    assert [e.key for e in load_text(tmp_path, GOOD).entities] == ["service:mock", "route:mock"]


def test_every_problem_is_reported_at_once(tmp_path):
    text = GOOD.replace("paths: [/mock]", "paths: /mock") + "plugins:\n  - name: nope\n"
    assert len(refused(tmp_path, text)) == 2


PLAIN_SECRETS = {
    "key-auth key": ("consumers:\n  - username: alice\n    keyauth_credentials:\n      - key: {secret}\n",
                     "consumers[0].keyauth_credentials[0].key", "DECK_ALICE_0_KEY"),
    "certificate key": ("certificates:\n  - id: 6f1b8f5e-0000-4000-8000-000000000001\n    cert: c\n    key: {secret}\n",
                        "certificates[0].key", "or a vault reference {vault://<prefix>/<path>}"),
    "plugin redis password": ("plugins:\n  - name: rate-limiting\n    config:\n      minute: 3\n      policy: redis\n"
                              "      redis:\n        host: r\n        password: {secret}\n",
                              "plugins[0].config.redis.password", "DECK_RATE_LIMITING_PASSWORD"),
    "plugin header": ("plugins:\n  - name: http-log\n    config:\n      http_endpoint: https://logs.example\n"
                      "      headers:\n        Authorization: {secret}\n",
                      "plugins[0].config.headers.Authorization", "--secret --path 'kong-aws:gatewaySecrets."),
}


@pytest.mark.parametrize("case", list(PLAIN_SECRETS))
def test_plain_text_secret_is_refused_without_showing_it(tmp_path, case):
    text, position, advice = PLAIN_SECRETS[case]
    secret = "s3cr3t-Value-42"
    lines = refused(tmp_path, '_format_version: "3.0"\n' + text.replace("{secret}", secret))
    assert any(line.startswith(f"gw.yaml: {position} (") and "a secret in plain text" in line and advice in line
               for line in lines), lines
    assert secret not in "\n".join(lines)
    # The same file with the secret as decK's env substitution loads.
    g = load_text(tmp_path, '_format_version: "3.0"\n' + text.replace("{secret}", '${{ env "DECK_S" }}'), {"DECK_S"})
    assert g.env_names == {"DECK_S"}


def test_vault_reference_accepted_where_kong_resolves_it(tmp_path):
    g = load_text(tmp_path, '_format_version: "3.0"\ncertificates:\n  - id: c1\n    cert: c\n'
                            '    key: "{vault://aws/tls/key}"\n')
    assert g.entities[0].body["key"] == "{vault://aws/tls/key}"


@pytest.mark.parametrize("text,message", [
    ("services: [", "gw.yaml (line 2, column 1): not valid YAML"),
    ("- a\n- b\n", "gw.yaml: expected a mapping with _format_version: \"3.0\" (decK's file format), got a list"),
    ("", "gw.yaml: expected a mapping with _format_version: \"3.0\" (decK's file format), got an empty file"),
])
def test_malformed_file_is_an_error_not_a_traceback(tmp_path, text, message):
    lines = refused(tmp_path, text)
    assert len(lines) == 1 and lines[0].startswith(message), lines


def test_missing_file(tmp_path):
    with pytest.raises(GatewayFileError) as caught:
        load_gateway_file("gateway/none.yaml", root=tmp_path)
    assert caught.value.lines == [f"gateway/none.yaml: no such file (the path is relative to the project "
                                  f"directory {tmp_path})"]


# --- Entities: keys, references, order.

FULL = """\
_format_version: "3.0"
plugins:
  - name: key-auth
    service: 0d5e1f2a-0000-4000-8000-000000000001
  - name: acl
    route: orders
    consumer: alice
    config: {allow: [ops]}
  - name: prometheus
consumers:
  - username: alice
    keyauth_credentials:
      - key: ${{ env "DECK_ALICE_KEY" }}
    acls:
      - group: ops
    plugins:
      - name: rate-limiting
        instance_name: alice-limit
        config: {minute: 10}
routes:
  - name: orders
    paths: [/orders]
    service: {name: orders}
services:
  - name: orders
    id: 0d5e1f2a-0000-4000-8000-000000000001
    host: orders.upstream
    client_certificate: c1
upstreams:
  - name: orders.upstream
    targets:
      - target: 10.0.1.10:8080
certificates:
  - id: c1
    cert: c
    key: "{vault://aws/tls/key}"
    snis:
      - name: api.example.com
ca_certificates:
  - cert: ca
vaults:
  - name: aws
    prefix: aws
    config: {region: us-east-1}
"""


def test_entities_in_dependency_order_with_keys_and_refs(tmp_path):
    g = load_text(tmp_path, FULL, {"DECK_ALICE_KEY"})
    ca_key = "ca_certificate:" + __import__("hashlib").sha256(b"ca").hexdigest()
    assert [(e.key, dict(e.refs)) for e in g.entities] == [
        ("vault:aws", {}),
        (ca_key, {}),
        ("certificate:c1", {}),
        ("sni:api.example.com", {"certificate": "certificate:c1"}),
        ("upstream:orders.upstream", {}),
        ("target:orders.upstream/10.0.1.10:8080", {"upstream": "upstream:orders.upstream"}),
        ("service:orders", {"client_certificate": "certificate:c1"}),
        ("route:orders", {"service": "service:orders"}),
        ("consumer:alice", {}),
        ("keyauth_credential:alice/DECK_ALICE_KEY", {"consumer": "consumer:alice"}),
        ("acl:alice/ops", {"consumer": "consumer:alice"}),
        ("plugin:rate-limiting:alice-limit@consumer:alice", {"consumer": "consumer:alice"}),
        ("plugin:key-auth@service:orders", {"service": "service:orders"}),
        ("plugin:acl@route:orders+consumer:alice", {"route": "route:orders", "consumer": "consumer:alice"}),
        ("plugin:prometheus@global", {}),
    ]
    assert [e.kind for e in g.entities] == sorted((e.kind for e in g.entities), key=gc.KINDS.index)
    by_key = {e.key: e for e in g.entities}
    # Bodies: no id, no reference fields, no nested lists.
    assert by_key["service:orders"].body == {"name": "orders", "host": "orders.upstream"}
    assert by_key["service:orders"].explicit_id == "0d5e1f2a-0000-4000-8000-000000000001"
    assert by_key["certificate:c1"].body == {"cert": "c", "key": "{vault://aws/tls/key}"}
    assert by_key["consumer:alice"].body == {"username": "alice"}
    assert by_key["route:orders"].body == {"name": "orders", "paths": ["/orders"]}
    assert g.env_names == {"DECK_ALICE_KEY"}
    assert g.plugin_names == {"key-auth", "acl", "prometheus", "rate-limiting"}


# --- What the appliers use.

def test_substitute_env_replaces_every_placeholder_in_a_copy():
    body = {"config": {"redis": {"password": '${{ env "DECK_R" }}'}, "list": ['a-${{env "DECK_X"}}-b', 3]}}
    out = substitute_env(body, {"DECK_R": "pw", "DECK_X": "x"})
    assert out == {"config": {"redis": {"password": "pw"}, "list": ["a-x-b", 3]}}
    assert body["config"]["redis"]["password"] == '${{ env "DECK_R" }}'
    with pytest.raises(KeyError, match="DECK_R"):
        substitute_env(body, {"DECK_X": "x"})


def test_deck_document_adds_the_stacks_select_tag_and_keeps_placeholders(tmp_path):
    g = load_text(tmp_path, FULL, {"DECK_ALICE_KEY"})
    document = deck_document(g, "kong-aws:kong-aws/dev")
    assert document["_info"] == {"select_tags": ["kong-aws:kong-aws/dev"]}
    assert document["consumers"][0]["keyauth_credentials"][0]["key"] == '${{ env "DECK_ALICE_KEY" }}'
    assert "_info" not in g.document and {k: v for k, v in document.items() if k != "_info"} == g.document
    # decK's own file schema (go-database-reconciler's kong_json_schema.json) allows _info.select_tags.
    assert set(document) <= set(gc._TOP_LEVEL) | {"_info"}


def test_examples_are_in_the_project():
    assert (PROJECT_ROOT / "gateway" / "dev-eks.yaml").is_file()
    assert (PROJECT_ROOT / "gateway" / "konnect-managed.yaml").is_file()


# --- Credentials keep their keys when another is removed (finding: keyed by list index).

CREDENTIALS = """\
_format_version: "3.0"
consumers:
  - username: alice
    keyauth_credentials:
      - key: ${{ env "DECK_ALICE_OLD" }}
      - key: ${{ env "DECK_ALICE_NEW" }}
      - id: 7d1c0000-0000-4000-8000-000000000001
        key: ${{ env "DECK_ALICE_ID" }}
      - {}
    basicauth_credentials:
      - {username: alice-old, password: '${{ env "DECK_ALICE_OLD" }}'}
      - {username: alice-new, password: '${{ env "DECK_ALICE_NEW" }}'}
    hmacauth_credentials:
      - {username: alice-h1, secret: '${{ env "DECK_ALICE_OLD" }}'}
      - {username: alice-h2, secret: '${{ env "DECK_ALICE_NEW" }}'}
    jwt_secrets:
      - {key: issuer-old, secret: '${{ env "DECK_ALICE_OLD" }}'}
      - {key: issuer-new, secret: '${{ env "DECK_ALICE_NEW" }}'}
    acls:
      - group: old
      - group: new
"""
CREDENTIAL_SECRETS = {"DECK_ALICE_OLD", "DECK_ALICE_NEW", "DECK_ALICE_ID"}


def _credential_keys(g) -> list[str]:
    return [e.key for e in g.entities if e.kind not in ("consumer",)]


def test_credentials_are_keyed_by_what_identifies_them(tmp_path):
    assert _credential_keys(load_text(tmp_path, CREDENTIALS, CREDENTIAL_SECRETS)) == [
        "keyauth_credential:alice/DECK_ALICE_OLD", "keyauth_credential:alice/DECK_ALICE_NEW",
        "keyauth_credential:alice/id:7d1c0000-0000-4000-8000-000000000001",
        "keyauth_credential:alice/#3",  # a key Kong generates: nothing stable but the position
        "basicauth_credential:alice/alice-old", "basicauth_credential:alice/alice-new",
        "hmacauth_credential:alice/alice-h1", "hmacauth_credential:alice/alice-h2",
        "jwt_secret:alice/issuer-old", "jwt_secret:alice/issuer-new", "acl:alice/old", "acl:alice/new"]


def test_removing_the_first_credential_keeps_the_others_keys(tmp_path):
    before = set(_credential_keys(load_text(tmp_path, CREDENTIALS, CREDENTIAL_SECRETS)))
    # Each list loses its first item: what stays keeps its key (so its id: no unique violation).
    after_text = "\n".join(line for line in CREDENTIALS.splitlines()
                           if "OLD" not in line and "group: old" not in line) + "\n"
    after = set(_credential_keys(load_text(tmp_path, after_text, CREDENTIAL_SECRETS)))
    assert after - before == {"keyauth_credential:alice/#2"}  # only the positional one moves
    assert {k for k in before - after if "#" not in k} == {
        "keyauth_credential:alice/DECK_ALICE_OLD", "basicauth_credential:alice/alice-old",
        "hmacauth_credential:alice/alice-h1", "jwt_secret:alice/issuer-old", "acl:alice/old"}


@pytest.mark.parametrize("kind,raw,suffix", [
    ("keyauth_credential", {"key": "{vault://aws/k}"}, "vault:" + __import__("hashlib").sha256(b"{vault://aws/k}").hexdigest()[:12]),
    ("keyauth_credential", {"key": '${{ env "DECK_B" }}${{ env "DECK_A" }}'}, "DECK_A+DECK_B"),
    ("keyauth_credential", {"key": 5}, "#4"),
    ("jwt_secret", {"secret": "s"}, "#4"),
    ("acl", {"id": "x", "group": "g"}, "id:x"),
])
def test_credential_suffix(kind, raw, suffix):
    assert gc.credential_suffix(kind, raw, 4) == suffix


def test_two_credentials_on_one_secret_are_refused(tmp_path):
    text = CREDENTIALS.replace("DECK_ALICE_NEW", "DECK_ALICE_OLD")
    lines = refused(tmp_path, text, CREDENTIAL_SECRETS)
    assert any(line.startswith("gw.yaml: consumers[0].keyauth_credentials[1] (keyauth credential "
                               "'alice/DECK_ALICE_OLD', line 6): duplicate keyauth credential") for line in lines), lines


# --- Wrong shapes at every level are problem lines, never another exception.

SHAPES = """\
_format_version: "3.0"
services:
  - name: s
    host: h
    routes:
      - name: r
        paths: [/r]
        plugins: [{name: cors, config: {}}]
    plugins: [{name: cors}]
routes: [{name: r2, paths: [/x], service: {name: s}, plugins: [{name: cors}]}]
consumers:
  - username: a
    plugins: [{name: cors}]
    keyauth_credentials: [{key: '${{ env "DECK_K" }}'}]
    basicauth_credentials: [{username: u, password: '${{ env "DECK_K" }}'}]
    hmacauth_credentials: [{username: u, secret: '${{ env "DECK_K" }}'}]
    jwt_secrets: [{key: i, secret: '${{ env "DECK_K" }}'}]
    acls: [{group: g}]
plugins: [{name: key-auth, route: r2}]
upstreams: [{name: u, targets: [{target: "a:1"}]}]
certificates: [{id: c, cert: c, key: '${{ env "DECK_K" }}', snis: [{name: x}]}]
ca_certificates: [{cert: c}]
vaults: [{name: aws, prefix: p}]
"""
WRONG_SHAPES = (5, "x", None, [], {}, [5], [[1]], {"a": 1}, [{"name": {"a": 1}}])


def _containers(value, path=()):
    if isinstance(value, (dict, list)) and path:
        yield path
    for key, item in (value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()):
        yield from _containers(item, (*path, key))


def test_wrong_shapes_at_every_level_are_problem_lines(tmp_path):
    base = yaml.safe_load(SHAPES)
    load_text(tmp_path, SHAPES, {"DECK_K"})  # the base loads
    tried = 0
    line_form = __import__("re").compile(r"gw\.yaml: \S.* \((?:.+, )?line \d+\): \S")
    for path in _containers(base):
        for wrong in WRONG_SHAPES:
            document = json.loads(json.dumps(base))
            parent = functools.reduce(lambda v, k: v[k], path[:-1], document)
            parent[path[-1]] = wrong
            (tmp_path / "gw.yaml").write_text(json.dumps(document))  # JSON is YAML
            try:
                load_gateway_file("gw.yaml", root=tmp_path, secret_names=frozenset({"DECK_K"}))
            except GatewayFileError as error:
                assert error.lines and all(line_form.match(line) for line in error.lines), (path, wrong, error.lines)
            tried += 1
    assert tried > 250
    lines = refused(tmp_path, SHAPES.replace("consumers:\n  - username: a", "consumers: 5\nx:\n  - username: a"),
                    {"DECK_K"})
    assert "gw.yaml: consumers (line 11): expected a list, got an integer" in lines, lines


# --- Values that pass the schema but that Kong refuses.

@pytest.mark.parametrize("text,expected", [
    (GOOD.replace("https://httpbin.konghq.com", "http://x:99999"),
     "services[0].url (service 'mock', line 4): got the port '99999'; allowed: a number from 0 to 65535"),
    (GOOD.replace("https://httpbin.konghq.com", "http://x:port"), "got the port 'port'"),
    (GOOD.replace("https://httpbin.konghq.com", "ftp://x"),
     "services[0].url (service 'mock', line 4): got the scheme 'ftp'; allowed: grpc, grpcs, http, https, tcp"),
    (GOOD.replace("https://httpbin.konghq.com", "httpbin.konghq.com"), "got the scheme ''"),
    (GOOD.replace("https://httpbin.konghq.com", "http:///path"), "services[0].url (service 'mock', line 4): no host"),
    (GOOD.replace("https://httpbin.konghq.com", "'http://[::1'"), "services[0].url (service 'mock', line 4): not a URL"),
    (GOOD + "upstreams:\n  - name: u\n    targets:\n      - target: null\n",
     "upstreams[0].targets[0] (target 'u/None', line 11): 'target' is required"),
    (GOOD.replace("        paths: [/mock]", "        paths: [/mock]\n        tags: [ok, 'a,b', a/b]"),
     "services[0].routes[0].tags[1] (route 'mock', line 8): got 'a,b'; Kong's tags are printable characters other "
     "than ',' and '/'"),
    (GOOD.replace("        paths: [/mock]", "        paths: [/mock]\n        tags: [ok, 'a,b', a/b]"),
     "services[0].routes[0].tags[2] (route 'mock', line 8): got 'a/b'"),
    # Non-secret values are shown, with what is allowed.
    (GOOD.replace("https://httpbin.konghq.com", "https://h\n    port: '443'"),
     "services[0].port (service 'mock', line 5): expected an integer, got a string '443'"),
    (GOOD.replace("https://httpbin.konghq.com", "https://h\n    retries: 70000"),
     "services[0].retries (service 'mock', line 5): got 70000; must be at most 32767"),
])
def test_values_kong_refuses_are_refused_with_their_position(tmp_path, text, expected):
    lines = refused(tmp_path, text)
    assert any(line.startswith("gw.yaml: ") and expected in line for line in lines), lines


def test_a_secret_fields_wrong_value_is_not_shown(tmp_path):
    text = ('_format_version: "3.0"\nconsumers:\n  - username: a\n    basicauth_credentials:\n'
            "      - {username: a, password: 987654321}\n")
    lines = refused(tmp_path, text)
    assert any("basicauth_credentials[0].password" in line and "expected a string, got an integer" in line
               for line in lines), lines
    assert "987654321" not in "\n".join(lines)
    problems = schema_problems({"config": {"password": 12345, "port": "x"}}, {"properties": {"config": {
        "properties": {"password": {"type": "string"}, "port": {"type": "integer"}}}}},
        secret=lambda p: gc._secret_position("plugin", p))
    assert problems == [(("config", "password"), "expected a string, got an integer"),
                        (("config", "port"), "expected an integer, got a string 'x'")]


# --- A secret after an authentication scheme word.

@pytest.mark.parametrize("value,accepted", [
    ('${{ env "DECK_T" }}', True),
    ('Bearer ${{ env "DECK_T" }}', True),
    ('  bearer   ${{ env "DECK_T" }} ', True),
    ('Basic ${{ env "DECK_U" }}${{ env "DECK_T" }}', True),
    ('Token ${{env "DECK_T"}}', True),
    ("Bearer abc", False),
    ('abc ${{ env "DECK_T" }}', False),
    ('Bearer ${{ env "DECK_T" }}-x', False),
    ('Bearer: ${{ env "DECK_T" }}', False),
    ('Bearer ${{ env "deck_t" }}', False),
    ('Bearer', False),
])
def test_is_secret_form(value, accepted):
    assert gc.is_secret_form(value) is accepted


def test_an_authorization_header_with_a_scheme_word_loads(tmp_path):
    text = ('_format_version: "3.0"\nplugins:\n  - name: http-log\n    config:\n      http_endpoint: https://l\n'
            '      headers:\n        Authorization: \'Bearer ${{ env "DECK_T" }}\'\n')
    assert load_text(tmp_path, text, {"DECK_T"}).env_names == {"DECK_T"}
    lines = refused(tmp_path, text.replace('${{ env "DECK_T" }}', "abc123"), {"DECK_T"})
    assert any("plugins[0].config.headers.Authorization" in line and "a secret in plain text" in line
               for line in lines) and "abc123" not in "\n".join(lines)


# --- What the loader leaves to Kong: plugin config contents.

def test_plugin_config_contents_are_left_to_kong(tmp_path):
    # Documented limit (module docstring): Kong checks config against the plugin's schema on apply.
    g = load_text(tmp_path, '_format_version: "3.0"\nplugins:\n  - name: cors\n    config: {originz: 5}\n')
    assert g.entities[0].body["config"] == {"originz": 5}
    assert "What is not checked: the contents of a plugin's ``config``" in gc.__doc__


# --- decK's settings, templates and env names: one place.

def test_deck_settings_are_refused_and_exported():
    assert gc.is_deck_setting("DECK_HEADERS") and gc.is_deck_setting("DECK_KONG_ADDR")
    assert gc.is_deck_setting("DECK_TIMEOUT") and not gc.is_deck_setting("DECK_ALICE_KEY")


def test_templates_and_env_names_walk_keys_and_values():
    value = {"a": ['x ${{ env "DECK_A" }} y', 3], '${{ env "DECK_K" }}': {"b": '${{ toBool "x" }} ${{ env'}}
    assert gc.env_names(value) == {"DECK_A", "DECK_K"}
    assert list(gc.templates(value)) == [
        (("a", 0), '${{ env "DECK_A" }}', "DECK_A"), (('${{ env "DECK_K" }}',), '${{ env "DECK_K" }}', "DECK_K"),
        (('${{ env "DECK_K" }}', "b"), '${{ toBool "x" }}', None), (('${{ env "DECK_K" }}', "b"), "${{ env", None)]
    # One regex for an action, one tuple of plugin scopes.
    assert not hasattr(gc, "_TEMPLATE") and not hasattr(gc, "_PLUGIN_SCOPES")
