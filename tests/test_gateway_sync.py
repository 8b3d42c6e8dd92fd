"""The hybrid-eks gateway sync (components/gateway_sync.py) and the Admin API certificate it verifies.

A small program builds :class:`KongHybrid` with a gateway file under the mocks (one run per
variant, shared by the tests); what it registers is checked against Kubernetes' schemas
(kubernetes-validate), the namespace's NetworkPolicies, real X.509 verification of the Admin API's
certificate, the Kong chart rendered by Helm (tests/chart_render.py), and the plan of a second run
(tools/plan.py). decK's template rendering (Kong/go-database-reconciler pkg/file/readfile.go: the
variable's text is inserted as it is, then the file is read as YAML) is reproduced to check that
any secret text reads back unchanged.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import re
from typing import Any

import pulumi
import pytest
import yaml
from cryptography import x509
from pulumi.runtime import rpc

from components import gateway_sync
from components.gateway_config import DECK_SETTINGS, is_deck_setting
from components.gateway_sync import TOKEN_ENV, GatewaySync, check_gateway, escape, render_file, sync_args
from components.kong_hybrid import ADMIN_CLIENT_LABELS, ADMIN_TLS_SECRET, KongHybrid
from tests import chart_render
from tests.test_kong_hybrid import LICENSE
from tools.mocks import plain_values, run_program
from tools.plan import CREATE, DELETE, REPLACE, plan

JOB, CONFIG_MAP, SECRET = "kubernetes:batch/v1:Job", "kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:Secret"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
TAG = "kong-aws:kong-aws:test"
#: A secret with every character class that breaks a naive insertion into YAML.
TRICKY = 'pa"ss: #word\n\'x\' \\ ü\u2028\x07 true'
DOCUMENT = {
    "_format_version": "3.0",
    "_info": {"select_tags": [TAG]},
    "services": [{"name": "mock", "url": "https://httpbin.konghq.com", "routes": [{"name": "mock", "paths": ["/mock"]}],
                  "plugins": [{"name": "rate-limiting", "config": {"minute": 3, "policy": "local"}}]}],
    "consumers": [{"username": "ci", "keyauth_credentials": [{"key": '${{ env "DECK_CI_KEY" }}'}]}],
}


def _gateway(document: dict, key: str = TRICKY) -> dict:
    return {"document": document, "select_tag": TAG, "env": {"DECK_CI_KEY": pulumi.Output.secret(key)}}


def _program(gateway: dict, licensed: bool):
    def program() -> None:
        args: dict[str, Any] = {"kong": {"version": "3.10.0.2"}, "postgres": {"mode": "in-cluster"},
                                "node_selector": {"eks.amazonaws.com/compute-type": "auto"}, "gateway_sync": gateway}
        if licensed:
            args.update(enterprise_license=pulumi.Output.secret(LICENSE), hybrid={"admin_rbac": True})
        KongHybrid("kong", args)  # type: ignore[arg-type]
    return program


@functools.lru_cache(maxsize=None)
def _run(licensed: bool):
    return run_program(_program(_gateway(DOCUMENT), licensed), {})


def hybrid(licensed: bool = True):
    """The run of KongHybrid with the gateway file (RBAC on with the license), shared: read only."""
    return _run(licensed)


def _pod(result) -> dict:
    return plain_values(result.one(JOB).inputs)["spec"]["template"]


def _container(result) -> dict:
    (container,) = _pod(result)["spec"]["containers"]
    return container


# ---------------------------------------------------------------------------------------------
# The file decK reads

def _deck_render(text: str, environment: dict[str, str]) -> str:
    """decK's renderTemplate for the only action the loader admits: ``env "NAME"`` inserts the
    variable's text verbatim (an unset variable is an error)."""
    def action(match: re.Match) -> str:
        return environment[re.fullmatch(r'\s*env\s+"([^"]+)"\s*', match.group(1)).group(1)]  # type: ignore[union-attr]
    return re.sub(r"\$\{\{(.*?)\}\}", action, text, flags=re.S)


@pytest.mark.parametrize("secret", [TRICKY, "plain", "123", "null", "- [x]", "\U0001f600 \x85 \ufeff", ""])
def test_any_secret_reads_back_unchanged_after_decks_rendering(secret):
    document = {"_format_version": "3.0", "consumers": [{"username": "a", "keyauth_credentials": [
        {"key": '${{ env "DECK_K" }}'}, {"key": 'prefix "${{ env "DECK_K" }}" suffix'}]}]}
    # The Secret holds the escaped values (GatewaySync); decK inserts them into the file's text.
    text = _deck_render(render_file(document), {"DECK_K": escape(secret)})
    read = yaml.safe_load(text)
    assert [c["key"] for c in read["consumers"][0]["keyauth_credentials"]] == [secret, f'prefix "{secret}" suffix']


def test_every_action_is_written_inside_quotes():
    # No converting action (`| toInt`) is written bare any more: the loader refuses them, so none reach here.
    assert render_file({"port": '${{ env "DECK_PORT" | toInt }}'}) == '{\n  "port": "${{ env "DECK_PORT" | toInt }}"\n}\n'
    assert not hasattr(gateway_sync, "referenced_env") and not hasattr(gateway_sync, "_TYPED")


def test_unescaped_secret_text_would_not_read_back():
    # The check above can fail: the same value inserted without escape() breaks the file.
    text = _deck_render(render_file({"k": '${{ env "DECK_K" }}'}), {"DECK_K": TRICKY})
    with pytest.raises(yaml.YAMLError):
        assert yaml.safe_load(text)["k"] == TRICKY


def test_the_file_is_refused_with_every_problem_before_anything_is_declared():
    bad = {"document": {"services": [], "_info": {"select_tags": ["other"]}}, "select_tag": TAG,
           "env": {"DECK_HEADERS": "x", "KEY": "y"}}
    problems = check_gateway(bad)
    assert problems == ["the gateway file is not a decK file (no _format_version)", "variable DECK_HEADERS is decK's "
                        "own setting (--headers)", "variable KEY is not named DECK_<upper-case letters, digits, _>"]
    wrong = {"document": {**DOCUMENT, "_info": {"select_tags": ["other"]}, "x": '${{ env "HOME" }}',
                          "y": '${{ env "DECK_PORT" | toInt }}'}, "select_tag": TAG, "env": {}}
    assert check_gateway(wrong) == [
        f"the file's _info.select_tags ['other'] are not the stack's tag [{TAG!r}]",
        "the file reads DECK_CI_KEY, which has no value",
        "the file has '${{ env \"HOME\" }}': only decK's ${{ env \"DECK_NAME\" }} is supported (DECK_ and "
        "upper-case letters, digits, _)",
        "the file has '${{ env \"DECK_PORT\" | toInt }}': only decK's ${{ env \"DECK_NAME\" }} is supported (DECK_ "
        "and upper-case letters, digits, _)"]
    assert check_gateway(_gateway(DOCUMENT)) == []
    # KongHybrid refuses it, before its own children.
    with pytest.raises(ValueError, match="^gateway_sync: the file reads DECK_CI_KEY, which has no value$"):
        run_program(_program({**_gateway(DOCUMENT), "env": {}}, licensed=False), {})
    # Every setting decK reads from the environment (cmd/root.go) is on the list.
    assert {"DECK_KONG_ADDR", "DECK_HEADERS", "DECK_CA_CERT", "DECK_KONG_ADMIN_TOKEN", "DECK_TLS_SKIP_VERIFY"} <= DECK_SETTINGS
    # One list, in gateway_config: gateway_sync keeps no copy of it.
    assert not hasattr(gateway_sync, "DECK_SETTINGS") and is_deck_setting("DECK_TIMEOUT")


# ---------------------------------------------------------------------------------------------
# What the cluster gets

def test_the_jobs_objects_validate_against_kubernetes():
    result = hybrid()
    manifests = chart_render.program_manifests(result)
    kinds = {m["kind"] for m in manifests}
    assert {"Job", "ConfigMap", "Secret", "NetworkPolicy"} <= kinds
    problems = [f"{chart_render.name_of(m)}: {p}" for m in manifests
                if (p := chart_render.validation_problem(m, chart_render.DEFAULT_KUBERNETES_VERSION))]
    assert problems == []
    # The check can fail: a typo in the Job is an unknown field.
    (job,) = [copy.deepcopy(m) for m in manifests if m["kind"] == "Job"]
    job["spec"]["backofLimit"] = 1
    assert chart_render.validation_problem(job, chart_render.DEFAULT_KUBERNETES_VERSION)


def test_the_job_runs_decks_sync_restricted_and_named_by_its_content():
    result = hybrid()
    job = plain_values(result.one(JOB).inputs)
    name = job["metadata"]["name"]
    assert re.fullmatch(r"kong-cp-gateway-sync-[0-9a-f]{10}", name)
    assert plain_values(result.one(CONFIG_MAP).inputs)["metadata"]["name"] == name
    assert [s for s in result.of_type(SECRET) if plain_values(s.inputs)["metadata"]["name"] == name]
    spec, pod = job["spec"], job["spec"]["template"]["spec"]
    assert spec["backoffLimit"] <= 3 and 0 < spec["activeDeadlineSeconds"] < 600
    assert "ttlSecondsAfterFinished" not in spec
    assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
    assert pod["nodeSelector"] == {"eks.amazonaws.com/compute-type": "auto"}
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    container = _container(result)
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "capabilities": {"drop": ["ALL"]}}
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    assert container["image"] == "kong/deck:v1.65.2"
    args = container["args"]
    assert args[:3] == ["gateway", "sync", "/etc/deck/kong.yaml"]
    assert args[args.index("--kong-addr") + 1] == "https://kong-cp-kong-admin.kong.svc.cluster.local:8444"
    assert args[args.index("--select-tag") + 1] == TAG
    assert "--tls-skip-verify" not in " ".join(args)
    assert args[args.index("--ca-cert-file") + 1] == "/etc/deck/ca.crt"
    assert pod["volumes"] == [{"name": "gateway-file", "configMap": {"name": name}}]


def test_the_network_policies_admit_the_jobs_pod_to_the_admin_api():
    result = hybrid()
    labels = _pod(result)["metadata"]["labels"]
    assert ADMIN_CLIENT_LABELS.items() <= labels.items()
    admitted = []
    for reg in result.of_type(POLICY):
        spec = plain_values(reg.inputs)["spec"]
        for rule in spec.get("ingress") or []:
            ports = {p["port"] for p in rule.get("ports") or []}
            peers = [p["podSelector"]["matchLabels"] for p in rule.get("from") or [] if "podSelector" in p]
            if 8444 in ports and any(peer.items() <= labels.items() for peer in peers):
                admitted.append(spec["podSelector"]["matchLabels"])
    assert admitted == [{"app.kubernetes.io/name": "kong", "app.kubernetes.io/instance": "kong-cp",
                         "app.kubernetes.io/component": "app"}]
    # Not a pod of the control plane release: no Service or policy of Kong's takes it for one.
    assert labels.get("app.kubernetes.io/instance") is None


def test_no_secret_value_outside_the_secret():
    result = hybrid()
    secret = next(r for r in result.of_type(SECRET) if plain_values(r.inputs)["metadata"]["name"]
                  == plain_values(result.one(JOB).inputs)["metadata"]["name"])
    assert rpc.is_rpc_secret(secret.inputs["stringData"])
    assert plain_values(secret.inputs)["stringData"] == {"DECK_CI_KEY": escape(TRICKY)}
    token = next(r for r in result.of_type("random:index/randomPassword:RandomPassword")
                 if r.name == "kong-admin-token").outputs["result"]
    visible = repr(plain_values([result.one(JOB).inputs, result.one(CONFIG_MAP).inputs]))
    for value in (TRICKY, escape(TRICKY), "pa\"ss", plain_values(token)):
        assert value not in visible
    env = _container(result)["env"]
    assert all("value" not in e for e in env if e["name"] != "HOME")
    assert {"name": "DECK_CI_KEY", "valueFrom": {"secretKeyRef": {"name": secret.inputs["metadata"]["name"],
                                                                  "key": "DECK_CI_KEY"}}} in plain_values(env)


def test_with_rbac_the_token_comes_from_the_admin_secret_in_a_header():
    env, args = _container(hybrid())["env"], _container(hybrid())["args"]
    assert {"name": TOKEN_ENV, "valueFrom": {"secretKeyRef": {"name": "kong-admin", "key": "password"}}} in env
    assert args[args.index("--headers") + 1] == f"Kong-Admin-Token:$({TOKEN_ENV})"
    # decK's file templates read DECK_ variables only: the token is out of the file's reach.
    assert not TOKEN_ENV.startswith("DECK_")
    free = _container(hybrid(licensed=False))
    assert "--headers" not in free["args"] and all(e["name"] != TOKEN_ENV for e in free["env"])
    assert sync_args("kong", "kong-cp", TAG, False) == free["args"]


# ---------------------------------------------------------------------------------------------
# The Admin API's certificate

def _cp_values(result) -> dict:
    return chart_render.release_inputs(result)["kong-cp"]["values"]


def test_the_control_plane_presents_a_certificate_the_job_verifies():
    result = hybrid()
    values = _cp_values(result)
    assert ADMIN_TLS_SECRET in values["secretVolumes"]
    assert values["env"]["admin_ssl_cert"] == f"/etc/secrets/{ADMIN_TLS_SECRET}/tls.crt"
    assert values["env"]["admin_ssl_cert_key"] == f"/etc/secrets/{ADMIN_TLS_SECRET}/tls.key"
    assert re.fullmatch(r"[0-9a-f]{64}", values["podAnnotations"]["kong-aws/admin-cert-sha256"])
    (tls_secret,) = [r for r in result.of_type(SECRET) if plain_values(r.inputs)["metadata"]["name"] == ADMIN_TLS_SECRET]
    assert tls_secret.inputs["type"] == "kubernetes.io/tls"
    server = x509.load_pem_x509_certificate(plain_values(tls_secret.inputs)["stringData"]["tls.crt"].encode())
    ca = x509.load_pem_x509_certificate(plain_values(result.one(CONFIG_MAP).inputs)["data"]["ca.crt"].encode())
    server.verify_directly_issued_by(ca)  # raises unless the CA decK gets signed it
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    host = re.match(r"https://([^:]+):", sync_args("kong", "kong-cp", TAG, True)[4]).group(1)  # type: ignore[union-attr]
    assert host in names
    assert x509.oid.ExtendedKeyUsageOID.SERVER_AUTH in server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    # The release waits for the Secret; the Job waits for the release.
    release = next(r for r in result.of_type(chart_render.RELEASE) if r.name == "kong-cp")
    assert tls_secret.urn in release.dependencies
    assert release.urn in result.one(JOB).dependencies


def test_the_rendered_control_plane_mounts_the_admin_certificate():
    rendered = chart_render.render(hybrid(), "kong-cp", install=True)
    pods = [m["spec"]["template"]["spec"] for m in rendered.applied() if m["kind"] in ("Deployment", "Job")]
    checked = 0
    for pod in pods:
        for container in pod["containers"]:
            env = {e["name"]: e.get("value") for e in container.get("env") or []}
            if "KONG_ADMIN_SSL_CERT" not in env:
                continue
            mount = next(m for m in container["volumeMounts"] if env["KONG_ADMIN_SSL_CERT"].startswith(m["mountPath"] + "/"))
            volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
            assert volume["secret"]["secretName"] == ADMIN_TLS_SECRET
            checked += 1
    assert checked >= 2  # the control plane and its migration Job(s)


def test_without_a_gateway_file_the_control_plane_is_unchanged():
    def program() -> None:
        KongHybrid("kong", {"kong": {"version": "3.10.0.2"}, "postgres": {"mode": "in-cluster"},
                            "node_selector": {"eks.amazonaws.com/compute-type": "auto"}})
    values = _cp_values(run_program(program, {}))
    assert ADMIN_TLS_SECRET not in values["secretVolumes"] and "admin_ssl_cert" not in values["env"]
    assert "kong-aws/admin-cert-sha256" not in values["podAnnotations"]


# ---------------------------------------------------------------------------------------------
# Day 2: a new file, a new secret value, the same file

def _again(gateway: dict):
    return run_program(_program(gateway, licensed=False), {}, prior=hybrid(licensed=False))


def test_the_same_file_changes_nothing():
    assert plan(hybrid(licensed=False), _again(_gateway(DOCUMENT))).changes() == {}


@pytest.mark.parametrize("change", ["file", "secret"])
def test_a_new_file_or_secret_value_is_a_new_job_created_before_the_old_is_deleted(change):
    document = copy.deepcopy(DOCUMENT)
    document["services"][0]["routes"][0]["paths"] = ["/mock", "/anything"]
    after = _again(_gateway(document) if change == "file" else _gateway(DOCUMENT, key="rotated"))
    steps = plan(hybrid(licensed=False), after)
    changed = {after.by_urn()[urn].type if urn in after.by_urn() else urn: op for urn, op in steps.changes().items()}
    assert changed == {JOB: REPLACE, CONFIG_MAP: REPLACE, SECRET: REPLACE}, steps.changes()
    assert not any(s.delete_first for s in steps.by_op(REPLACE))
    assert not steps.by_op(CREATE) and not steps.by_op(DELETE)
    old, new = (plain_values(r.one(JOB).inputs)["metadata"]["name"] for r in (hybrid(licensed=False), after))
    assert old != new
    if change == "secret":
        # The value's rotation shows only as an HMAC: not the value, not its plain hash.
        assert "rotated" not in new and hashlib.sha256(b"rotated").hexdigest()[:10] not in new
