"""The typed stack config (components/config.py) and the program's refusal of bad config (__main__.py).

Most tests call :func:`load_stack_config` directly with the ``{key: text}`` map Pulumi hands the
program. A few run the whole program under the mocks and check that bad config stops it before it
declares anything: only the root ``pulumi:pulumi:Stack`` is registered.

Facts are checked against their sources, written out here rather than imported from the code under
test: AWS's Fargate CPU/memory table (Amazon ECS developer guide, "Fargate task CPU and memory"),
CloudWatch Logs' retention periods (botocore's ``logs`` model), Kong's "Konnect labels" rules
(developer.konghq.com/konnect-platform/konnect-labels/), the Konnect endpoint examples in
../shared/reference/konnect-endpoints.json, and seed 000's hand-made task definition.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any, Optional

import botocore.loaders
import pulumi
import pytest
import yaml

import tools.mocks
from components.config import ConfigError, HybridEksConfig, StackConfig, from_pulumi, load_stack_config
from tests.conftest import SEEDS, config_text, reference_json, self_signed_pem
from tools.mocks import PROJECT_ROOT, run_program
from tools.render import read_stack_config

PREFIX = "kong-aws:"
STACK = "pulumi:pulumi:Stack"


# ---------------------------------------------------------------------------------------------
# Helpers

def strip_namespace(config: dict[str, str], secret_keys=()) -> tuple[dict[str, str], set[str], Optional[str]]:
    """Full-key text config -> what ``from_pulumi`` hands ``load_stack_config``: (raw, secret keys, region)."""
    raw = {k[len(PREFIX):]: v for k, v in config.items() if k.startswith(PREFIX)}
    secrets = {k[len(PREFIX):] for k in secret_keys if k.startswith(PREFIX)}
    return raw, secrets, config.get("aws:region")


def load(config: dict[str, Any], secret_keys=()) -> StackConfig:
    """Validate structured full-key config (as ``base_config`` holds it) the way the program does."""
    raw, secrets, region = strip_namespace(config_text(config), secret_keys)
    return load_stack_config(raw, secrets, region=region)


def problems(config: dict[str, Any], secret_keys=()) -> list[str]:
    """The problem lines ``load_stack_config`` refuses ``config`` with (fails if it accepts it)."""
    with pytest.raises(ConfigError) as info:
        load(config, secret_keys)
    assert info.value.problems, "ConfigError without problems"
    return info.value.problems


def problem_for(config: dict[str, Any], key: str, secret_keys=()) -> str:
    """The one problem line that names ``key`` (the full key, e.g. ``kong-aws:ecs.cpu``)."""
    lines = [p for p in problems(config, secret_keys) if p.startswith(f"{key}: ")]
    assert len(lines) == 1, f"expected one problem for {key}, got {problems(config, secret_keys)}"
    return lines[0]


def only_problem(config: dict[str, Any], key: str, secret_keys=()) -> str:
    """Like :func:`problem_for`, and that line is the only problem."""
    lines = problems(config, secret_keys)
    assert len(lines) == 1 and lines[0].startswith(f"{key}: "), lines
    return lines[0]


def with_section(base: dict[str, Any], key: str, **settings: Any) -> dict[str, Any]:
    """``base`` with object key ``kong-aws:<key>`` updated by ``settings``."""
    section = dict(base.get(PREFIX + key, {}))
    section.update(settings)
    base[PREFIX + key] = section
    return base


# ---------------------------------------------------------------------------------------------
# Running the whole program with bad config

@pytest.fixture
def monitors(monkeypatch) -> list:
    """Every mock monitor ``run_program`` creates in this test.

    ``run_program`` returns its registrations only when the program succeeds; a subclass of
    ``RecordingMonitor`` that keeps each instance lets a test see what a failing run registered.
    """
    created: list = []

    class KeptRecordingMonitor(tools.mocks.RecordingMonitor):
        def __init__(self, mocks, prior=None):
            super().__init__(mocks, prior)
            created.append(self)

    monkeypatch.setattr(tools.mocks, "RecordingMonitor", KeptRecordingMonitor)
    return created


@pytest.fixture
def refused_run(run_stack, monitors):
    """``refused_run(config, secret_keys=None)`` -> (RunError message, types registered), the
    program having raised ``pulumi.RunError``."""

    def run(config: dict[str, Any], secret_keys: Optional[set[str]] = None) -> tuple[str, list[str]]:
        with pytest.raises(pulumi.RunError) as info:
            run_stack(config, secret_keys)
        assert len(monitors) == 1
        return str(info.value), [r.type for r in monitors[0].registrations]

    return run


def test_the_harness_sees_resources_registered_before_a_program_raises(monitors):
    # Control for the tests below: "only the Stack was registered" means something only if a
    # program that declares resources and then raises shows them.
    def program() -> None:
        pulumi.ComponentResource("kong-aws:test:Probe", "probe")
        raise pulumi.RunError("stop")

    with pytest.raises(pulumi.RunError, match="stop"):
        run_program(program, {"aws:region": "us-west-2"})
    assert [r.type for r in monitors[0].registrations] == [STACK, "kong-aws:test:Probe"]


def _no_region(config):
    del config["aws:region"]
    return config


PROGRAM_CASES = {
    "unknown-mode": lambda c: {**c, "kong-aws:mode": "konnect-eks"},
    "hybrid-eks": lambda c: {**c, "kong-aws:mode": "hybrid-eks"},
    "fargate-pair": lambda c: {**c, "kong-aws:ecs": {"cpu": 512, "memory": 512}},
    "no-region": _no_region,
    "plain-cluster-cert-key": lambda c: {
        **c, "kong-aws:clusterCert": "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----",
        "kong-aws:clusterCertKey": "-----BEGIN PRIVATE KEY-----\nTOPSECRET\n-----END PRIVATE KEY-----"},
    "several": lambda c: {**c, "kong-aws:mode": "eks", "kong-aws:kong": {"version": "latest"},
                          "kong-aws:ecs": {"cpu": 3000}, "kong-aws:ecss": {}},
    "gateway-file-missing": lambda c: {**c, "kong-aws:gateway": {"configFile": "gateway/missing.yaml"}},
}


@pytest.mark.parametrize("change", PROGRAM_CASES.values(), ids=PROGRAM_CASES.keys())
def test_program_refuses_bad_config_before_declaring_anything(refused_run, base_config, change):
    config = change(base_config)
    expected = problems(config)
    message, registered = refused_run(config)
    # The program's message is the config check's, every line of it, and nothing got declared.
    assert message == str(ConfigError(expected))
    assert registered == [STACK]
    assert "TOPSECRET" not in message


def test_program_reads_secret_keys_from_the_pulumi_runtime(base_config):
    # from_pulumi must see `--secret` on clusterCertKey (the engine's secret keys, namespaced).
    cert, key = _certificate_and_key("pkcs8")
    config = config_text({**base_config, "kong-aws:clusterCert": cert, "kong-aws:clusterCertKey": key})
    try:
        pulumi.runtime.set_all_config(config, ["kong-aws:clusterCertKey"])
        assert from_pulumi().provided_certificate.key_pem.get_secret_value() == key
        pulumi.runtime.set_all_config(config, ["kong-aws:clusterCert"])
        with pytest.raises(ConfigError) as info:
            from_pulumi()
        assert [p.split(":", 2)[1] for p in info.value.problems] == ["clusterCertKey"]
    finally:
        pulumi.runtime.set_all_config({}, [])


# ---------------------------------------------------------------------------------------------
# Mode

def test_base_config_is_valid(base_config):
    cfg = load(base_config)
    assert cfg.mode == "konnect-ecs" and cfg.region == "us-west-2" and cfg.kong.version == "3.10.0.1"


@pytest.mark.parametrize("mode", ["konnect-eks", "ecs", "Konnect-ECS", "", "hybrid"])
def test_unknown_mode_is_refused_listing_the_modes(base_config, mode):
    line = only_problem({**base_config, "kong-aws:mode": mode}, "kong-aws:mode")
    assert repr(mode) in line
    assert "konnect-ecs" in line.split(";", 1)[1]


def test_sections_of_the_other_mode_are_refused(base_config):
    # A konnect section left in a hybrid-eks stack (or the reverse) is a mistake, not a no-op.
    line = only_problem({**base_config, "kong-aws:mode": "hybrid-eks", "kong-aws:eks": {"adminRoleArns": [ADMIN_ROLE]}},
                        "kong-aws:konnect")
    assert "only mode konnect-ecs uses it" in line and "hybrid-eks" in line
    line = only_problem({**base_config, "kong-aws:postgres": {"mode": "rds"}}, "kong-aws:postgres")
    assert "only mode hybrid-eks uses it" in line


def test_mode_default_in_pulumi_yaml_is_the_model_default(base_config):
    schema = yaml.safe_load((PROJECT_ROOT / "Pulumi.yaml").read_text())["config"]["mode"]
    del base_config["kong-aws:mode"]
    assert schema["type"] == "string"
    assert load(base_config).mode == schema["default"]


# ---------------------------------------------------------------------------------------------
# Fargate CPU and memory. Source: AWS, Amazon ECS developer guide, "Fargate task CPU and memory"
# (docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size).

AWS_FARGATE = {
    256: [512, 1024, 2048],                     # 512 MiB, 1 GB, 2 GB
    512: list(range(1024, 4096 + 1, 1024)),     # 1 GB - 4 GB, 1 GB steps
    1024: list(range(2048, 8192 + 1, 1024)),    # 2 GB - 8 GB, 1 GB steps
    2048: list(range(4096, 16384 + 1, 1024)),   # 4 GB - 16 GB, 1 GB steps
    4096: list(range(8192, 30720 + 1, 1024)),   # 8 GB - 30 GB, 1 GB steps
    8192: list(range(16384, 61440 + 1, 4096)),  # 16 GB - 60 GB, 4 GB steps
    16384: list(range(32768, 122880 + 1, 8192)),  # 32 GB - 120 GB, 8 GB steps
}
VALID_PAIRS = [(cpu, mem) for cpu, mems in AWS_FARGATE.items() for mem in mems]
NEIGHBOUR_PAIRS = [(cpu, mem) for cpu, mems in AWS_FARGATE.items()
                   for mem in sorted({m + d for m in mems for d in (-1024, -512, 512, 1024)} - set(mems))
                   if mem > 0]


@pytest.mark.parametrize("cpu, memory", VALID_PAIRS)
def test_every_fargate_pair_is_accepted(base_config, cpu, memory):
    ecs = load({**base_config, "kong-aws:ecs": {"cpu": cpu, "memory": memory}}).ecs
    assert (ecs.cpu, ecs.memory) == (cpu, memory)


@pytest.mark.parametrize("cpu, memory", NEIGHBOUR_PAIRS)
def test_memory_next_to_a_fargate_size_is_refused(base_config, cpu, memory):
    line = only_problem({**base_config, "kong-aws:ecs": {"cpu": cpu, "memory": memory}}, "kong-aws:ecs.memory")
    assert line.startswith(f"kong-aws:ecs.memory: got {memory};")
    assert f"ecs.cpu {cpu}" in line
    # The sizes it lists as allowed are AWS's, all of them.
    listed = re.search(r"\(([\d, ]+)\)\s*$", line).group(1)
    assert [int(n) for n in listed.split(",")] == AWS_FARGATE[cpu]


@pytest.mark.parametrize("cpu", [0, 128, 768, 1536, 3000, 32768, -256])
def test_cpu_that_fargate_does_not_offer_is_refused_listing_the_cpu_units(base_config, cpu):
    line = only_problem({**base_config, "kong-aws:ecs": {"cpu": cpu, "memory": 2048}}, "kong-aws:ecs.cpu")
    assert line.startswith(f"kong-aws:ecs.cpu: got {cpu};")
    assert [int(n) for n in re.findall(r"\d+", line.split(";", 1)[1])] == list(AWS_FARGATE)


def test_cpu_and_memory_as_strings_like_the_task_definition_api_are_read_as_numbers(base_config):
    # Seed 000 writes "cpu": "512", "memory": "1024", as RegisterTaskDefinition takes them.
    ecs = load({**base_config, "kong-aws:ecs": {"cpu": "512", "memory": "1024"}}).ecs
    assert (ecs.cpu, ecs.memory) == (512, 1024)
    assert ecs.vcpus == 0.5


# ---------------------------------------------------------------------------------------------
# Konnect endpoints. Konnect shows them as https:// URLs; Kong wants host:443 and the host as the
# server name (../shared/reference/konnect-endpoints.json, kong_conf).

HOST = "0123456789.us.cp0.konghq.com"
TP_HOST = "0123456789.us.tp0.konghq.com"


@pytest.mark.parametrize("given", [
    HOST, f"{HOST}:443", f"https://{HOST}", f"https://{HOST}/", f"https://{HOST}:443", f"https://{HOST}:443/",
    f"HTTPS://{HOST.upper()}", HOST.upper(), f"  https://{HOST}  ",
])
def test_accepted_endpoint_forms_normalise_to_host_and_443(base_config, given):
    telemetry = given.replace("cp0", "tp0").replace("CP0", "TP0")
    cfg = load(with_section(base_config, "konnect", controlPlaneEndpoint=given, telemetryEndpoint=telemetry))
    for endpoint, host in ((cfg.konnect.control_plane_endpoint, HOST), (cfg.konnect.telemetry_endpoint, TP_HOST)):
        assert (endpoint.host, endpoint.port, endpoint.address) == (host, 443, f"{host}:443")


def test_konnect_api_endpoint_examples_become_the_kong_settings(base_config):
    fields = reference_json("konnect-endpoints.json")["control_plane_response_fields"]
    cp = fields["config.control_plane_endpoint"]["example"]
    tp = fields["config.telemetry_endpoint"]["example"]
    cfg = load(with_section(base_config, "konnect", controlPlaneEndpoint=cp, telemetryEndpoint=tp)).konnect
    cp_host, tp_host = cp.removeprefix("https://"), tp.removeprefix("https://")
    assert fields["config.control_plane_endpoint"]["kong_conf"]["cluster_control_plane"] == "<host>:443"
    assert cfg.control_plane_endpoint.address == f"{cp_host}:443"
    assert cfg.telemetry_endpoint.address == f"{tp_host}:443"


@pytest.mark.parametrize("given, allowed", [
    (f"http://{HOST}", "https"),
    (f"wss://{HOST}", "https"),
    (f"https://{HOST}/v2", "no path"),
    (f"https://{HOST}/?x=1", "no path"),
    (f"https://{HOST}#top", "no path"),
    (f"{HOST}:0", "1 to 65535"),
    (f"{HOST}:65536", "1 to 65535"),
    (f"{HOST}:https", "1 to 65535"),
    (f"{HOST}:", "1 to 65535"),
    (f"https://{HOST}:-1", "1 to 65535"),
    (f"{HOST}:\u00b2", "1 to 65535"),  # a superscript digit: str.isdigit() alone would accept it
    ("localhost", "DNS host name"),
    ("10.0.0.1", "DNS host name"),
    ("cp_0.konghq.com", "DNS host name"),
    ("https://", "DNS host name"),
    (f"https://user@{HOST}", "DNS host name"),
    ("", "DNS host name"),
])
def test_malformed_endpoint_is_refused_saying_what_is_wrong(base_config, given, allowed):
    line = only_problem(with_section(base_config, "konnect", controlPlaneEndpoint=given),
                        "kong-aws:konnect.controlPlaneEndpoint")
    assert f"got {given!r};" in line
    assert allowed in line.split(";", 1)[1]


def test_telemetry_endpoint_is_checked_like_the_control_plane_endpoint(base_config):
    line = only_problem(with_section(base_config, "konnect", telemetryEndpoint="http://x.us.tp0.konghq.com"),
                        "kong-aws:konnect.telemetryEndpoint")
    assert "'http://x.us.tp0.konghq.com'" in line and "https" in line.split(";", 1)[1]


# ---------------------------------------------------------------------------------------------
# Data plane labels. Source: Kong docs, "Konnect labels": at most 5; key and value 1-63 characters,
# alphanumeric at both ends, '-', '_', '.' between; keys must not start with kong, konnect,
# insomnia, mesh, kic, kuma or _.

def labels(base: dict, value: Any) -> dict:
    return with_section(base, "kong", dataPlaneLabels=value)


@pytest.mark.parametrize("prefix", ["kong", "konnect", "insomnia", "mesh", "kic", "kuma"])
def test_label_key_with_a_reserved_prefix_is_refused(base_config, prefix):
    key = f"{prefix}-team"
    line = only_problem(labels(base_config, {key: "payments"}), "kong-aws:kong.dataPlaneLabels")
    assert repr(key) in line and "reserved" in line


@pytest.mark.parametrize("labels_given, echoed", [
    ({"_team": "payments"}, "'_team'"),            # reserved '_' (and not alphanumeric first)
    ({"a" * 64: "v"}, repr("a" * 64)),             # key over 63 characters
    ({"team": "v" * 64}, repr("v" * 64)),          # value over 63 characters
    ({"team": ""}, "''"),                          # empty value
    ({"te am": "x"}, "'te am'"),                    # bad characters
    ({"team": "a:b"}, "'a:b'"),                    # ':' and ',' would break cluster_dp_labels
    ({"team": "a,b"}, "'a,b'"),
    ({"team/x": "y"}, "'team/x'"),
    ({"-team": "x"}, "'-team'"),                   # must start and end alphanumeric
    ({"team": "x."}, "'x.'"),
    ({"t\u00e9am": "x"}, repr("t\u00e9am")),
])
def test_malformed_label_is_refused_echoing_it(base_config, labels_given, echoed):
    line = only_problem(labels(base_config, labels_given), "kong-aws:kong.dataPlaneLabels")
    assert echoed in line.split(";", 1)[1]
    assert "63" in line


def test_more_than_five_labels_are_refused(base_config):
    six = {f"k{i}": "v" for i in range(6)}
    line = only_problem(labels(base_config, six), "kong-aws:kong.dataPlaneLabels")
    assert "5" in line.split(";", 1)[1] and "6" in line.split(";", 1)[1]


@pytest.mark.parametrize("value, text", [(2, "2"), (1.5, "1.5"), (0, "0")])
def test_label_value_given_as_a_number_is_read_as_its_text(base_config, value, text):
    # `pulumi config set --path 'kong-aws:kong.dataPlaneLabels.gen' 2` stores the number 2.
    assert load(labels(base_config, {"gen": value})).kong.data_plane_labels == {"gen": text}
    config = managed(base_config, controlPlaneLabels={"gen": value})
    assert load_with_env(config, TOKEN).konnect.control_plane_labels == {"gen": text}


@pytest.mark.parametrize("value", [True, False, {"a": "b"}, ["a"], None])
def test_label_value_that_is_not_text_is_refused_saying_how_to_quote(base_config, value):
    line = only_problem(labels(base_config, {"tier": value}), "kong-aws:kong.dataPlaneLabels.tier")
    assert f"got {json.dumps(value)};" in line
    if isinstance(value, bool):
        assert '"true"' in line and "--type string" in line  # how to give it as text


def test_labels_at_the_limits_are_accepted(base_config):
    given = {"a" * 63: "b" * 63, "created-by": "quickstart", "type": "docker-linuxdockerOS",
             "team.name_x": "Payments-EU_1.2", "region": "ap-northeast-1"}
    assert len(given) == 5
    assert load(labels(base_config, given)).kong.data_plane_labels == given


# ---------------------------------------------------------------------------------------------
# Missing and unknown keys

@pytest.mark.parametrize("change, key", [
    (lambda c: {k: v for k, v in c.items() if k != "kong-aws:kong"}, "kong-aws:kong"),
    (lambda c: {**c, "kong-aws:kong": {"routerFlavor": "expressions"}}, "kong-aws:kong.version"),
    (lambda c: {k: v for k, v in c.items() if k != "kong-aws:konnect"}, "kong-aws:konnect"),
    (lambda c: {**c, "kong-aws:konnect": {"controlPlaneEndpoint": HOST}}, "kong-aws:konnect.telemetryEndpoint"),
    (lambda c: {k: v for k, v in c.items() if k != "aws:region"}, "aws:region"),
], ids=["kong", "kong.version", "konnect", "konnect.telemetryEndpoint", "aws:region"])
def test_missing_required_key_is_named(base_config, change, key):
    line = only_problem(change(base_config), key)
    assert "required" in line


def test_konnect_is_required_in_konnect_ecs_mode_and_mode_defaults_to_it(base_config):
    del base_config["kong-aws:konnect"], base_config["kong-aws:mode"]
    line = only_problem(base_config, "kong-aws:konnect")
    assert "konnect-ecs" in line and "controlPlaneEndpoint" in line


@pytest.mark.parametrize("key", ["ecss", "Kong", "netwrok", "region", "clusterCertkey"])
def test_unknown_top_level_key_is_refused_listing_the_known_keys(base_config, key):
    line = only_problem({**base_config, PREFIX + key: "x"}, PREFIX + key)
    assert "unknown key" in line
    known = re.search(r"known keys: (.*)\)", line).group(1).split(", ")
    assert sorted(known) == sorted(["mode", "kong", "konnect", "certificate", "network", "ecs",
                                    "loadBalancer", "clusterCert", "clusterCertKey", "konnectToken",
                                    "eks", "hybrid", "postgres", "enterpriseLicense", "gateway", "gatewaySecrets",
                                    "monitoring"])


# (section, settings with a typo'd key, the typo, the key meant)
NESTED_TYPOS = [
    ("ecs", {"desiredCont": 3}, "desiredCont", "desiredCount"),
    ("ecs", {"desired_count": 3}, "desired_count", "desiredCount"),
    ("kong", {"routerFlavour": "expressions"}, "routerFlavour", "routerFlavor"),
    ("loadBalancer", {"tlsmode": "terminate"}, "tlsmode", "tlsMode"),
    ("network", {"vpcID": "vpc-0123456789abcdef0"}, "vpcID", "vpcId"),
    ("certificate", {"keyAlgo": "rsa-2048"}, "keyAlgo", "keyAlgorithm"),
    ("konnect", {"telemetryEndpint": "x.us.tp0.konghq.com"}, "telemetryEndpint", "telemetryEndpoint"),
]


@pytest.mark.parametrize("section, settings, typo, meant", NESTED_TYPOS, ids=[t[2] for t in NESTED_TYPOS])
def test_unknown_key_inside_an_object_is_refused_with_its_full_key_and_value(base_config, section, settings, typo, meant):
    line = problem_for(with_section(base_config, section, **settings), f"kong-aws:{section}.{typo}")
    assert "unknown key" in line
    assert json.dumps(settings[typo]) in line or repr(settings[typo]) in line


@pytest.mark.parametrize("section, settings, typo, meant", NESTED_TYPOS[:1] + NESTED_TYPOS[2:3])
def test_unknown_key_inside_an_object_names_the_allowed_keys(base_config, section, settings, typo, meant):
    line = problem_for(with_section(base_config, section, **settings), f"kong-aws:{section}.{typo}")
    assert meant in line


@pytest.mark.parametrize("key, text", [("ecs", "512"), ("kong", "[1, 2]"), ("network", "{not json")])
def test_object_key_that_is_not_an_object_is_refused(base_config, key, text):
    line = problem_for({**base_config, PREFIX + key: text}, PREFIX + key)
    assert "object" in line and (text in line or repr(text) in line)


# ---------------------------------------------------------------------------------------------
# Image version

DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize("version", ["3.10", "latest", "3", "3.10-ubuntu", "3.10.x", "", "sha256:abc",
                                     "sha256:" + "0123456789ABCDEF" * 4, "3.10.0.1@" + DIGEST])
def test_floating_or_malformed_version_is_refused(base_config, version):
    line = only_problem(with_section(base_config, "kong", version=version), "kong-aws:kong.version")
    assert f"got {version!r}"[:60] in line  # long values are shortened
    allowed = line.split(";", 1)[1]
    assert re.search(r"\d+\.\d+\.\d+\.\d+", allowed) and "sha256" in allowed


def test_version_written_as_a_yaml_number_is_refused(base_config):
    # `version: 3.10` in a stack file is the number 3.1, not a tag.
    line = only_problem(with_section(base_config, "kong", version=3.10), "kong-aws:kong.version")
    assert "got 3.1;" in line


@pytest.mark.parametrize("version, image_ref", [
    ("3.10.0.1", "kong/kong-gateway:3.10.0.1"),
    ("3.9.1.2", "kong/kong-gateway:3.9.1.2"),
    ("3.10.0", "kong/kong-gateway:3.10.0"),
    ("3.10.0.1-ubuntu", "kong/kong-gateway:3.10.0.1-ubuntu"),
    (DIGEST, f"kong/kong-gateway@{DIGEST}"),
])
def test_pinned_version_or_digest_is_accepted(base_config, version, image_ref):
    kong = load(with_section(base_config, "kong", version=version)).kong
    assert (kong.version, kong.image_ref) == (version, image_ref)


def test_image_with_a_tag_is_refused_pointing_at_kong_version(base_config):
    # Seed 000's image line, given whole as the repository.
    line = only_problem(with_section(base_config, "kong", image="kong/kong-gateway:3.10"), "kong-aws:kong.image")
    assert "'kong/kong-gateway:3.10'" in line and "kong-aws:kong.version" in line


# ---------------------------------------------------------------------------------------------
# Task counts

@pytest.mark.parametrize("settings, key, bounds", [
    ({"desiredCount": 1}, "kong-aws:ecs.desiredCount", (2, 6)),
    ({"desiredCount": 7}, "kong-aws:ecs.desiredCount", (2, 6)),
    ({"desiredCount": 3, "minCount": 4, "maxCount": 8}, "kong-aws:ecs.desiredCount", (4, 8)),
    ({"desiredCount": 9, "minCount": 4, "maxCount": 8}, "kong-aws:ecs.desiredCount", (4, 8)),
    ({"minCount": 5, "maxCount": 3, "desiredCount": 4}, "kong-aws:ecs.minCount", (3,)),
])
def test_desired_count_outside_min_and_max_is_refused(base_config, settings, key, bounds):
    line = only_problem(with_section(base_config, "ecs", **settings), key)
    field = key.rsplit(".", 1)[1]
    assert line.startswith(f"{key}: got {settings[field]};")
    assert set(map(str, bounds)) <= set(re.findall(r"\d+", line.split(";", 1)[1]))


@pytest.mark.parametrize("settings", [{"desiredCount": 1, "minCount": 1}, {"desiredCount": 6},
                                      {"desiredCount": 2}, {"desiredCount": 4, "minCount": 4, "maxCount": 4}])
def test_desired_count_between_min_and_max_is_accepted(base_config, settings):
    ecs = load(with_section(base_config, "ecs", **settings)).ecs
    low, desired, high = (ecs.effective(n) for n in ("min_count", "desired_count", "max_count"))
    assert low <= desired == settings["desiredCount"] <= high


# ---------------------------------------------------------------------------------------------
# Load balancer TLS

def acm_arn(region: str) -> str:
    return f"arn:aws:acm:{region}:123456789012:certificate/12345678-90ab-cdef-1234-567890abcdef"


def test_tls_terminate_without_certificate_arn_is_refused(base_config):
    line = only_problem(with_section(base_config, "loadBalancer", tlsMode="terminate"),
                        "kong-aws:loadBalancer.certificateArn")
    assert "'terminate'" in line and "required" in line


def test_tls_terminate_without_certificate_arn_names_the_certificate_arn_key(base_config):
    only_problem(with_section(base_config, "loadBalancer", tlsMode="terminate"), "kong-aws:loadBalancer.certificateArn")


def test_acm_certificate_in_another_region_is_refused(base_config):
    line = only_problem(with_section(base_config, "loadBalancer", tlsMode="terminate",
                                     certificateArn=acm_arn("eu-central-1")), "kong-aws:loadBalancer.certificateArn")
    assert "arn:aws:acm:eu-central-1:" in line and "us-west-2" in line.split(";", 1)[1]


def test_acm_certificate_in_the_stack_region_is_accepted(base_config):
    lb = load(with_section(base_config, "loadBalancer", tlsMode="terminate", certificateArn=acm_arn("us-west-2"))).load_balancer
    assert (lb.tls_mode, lb.certificate_arn) == ("terminate", acm_arn("us-west-2"))


@pytest.mark.parametrize("arn", ["arn:aws:iam::123456789012:server-certificate/kong", "not-an-arn",
                                 "arn:aws:acm:us-west-2:1234:certificate/12345678-90ab-cdef-1234-567890abcdef"])
def test_certificate_arn_that_is_not_an_acm_arn_is_refused(base_config, arn):
    line = problem_for(with_section(base_config, "loadBalancer", tlsMode="terminate", certificateArn=arn),
                       "kong-aws:loadBalancer.certificateArn")
    assert repr(arn) in line and "arn:aws:acm:" in line.split(";", 1)[1]


def test_certificate_arn_with_passthrough_is_refused(base_config):
    line = only_problem(with_section(base_config, "loadBalancer", certificateArn=acm_arn("us-west-2")),
                        "kong-aws:loadBalancer.certificateArn")
    assert repr(acm_arn("us-west-2")) in line and "terminate" in line


# ---------------------------------------------------------------------------------------------
# Existing VPC

VPC = "vpc-0123456789abcdef0"
SUBNETS = [f"subnet-0{i}23456789abcdef0" for i in range(4)]


@pytest.mark.parametrize("settings, key", [
    ({"vpcId": VPC, "privateSubnetIds": SUBNETS[:1], "publicSubnetIds": SUBNETS[2:]}, "kong-aws:network.privateSubnetIds"),
    ({"vpcId": VPC, "privateSubnetIds": [], "publicSubnetIds": SUBNETS[2:]}, "kong-aws:network.privateSubnetIds"),
    ({"vpcId": VPC, "privateSubnetIds": SUBNETS[:2], "publicSubnetIds": SUBNETS[2:3]}, "kong-aws:network.publicSubnetIds"),
    ({"vpcId": VPC, "privateSubnetIds": SUBNETS[:2]}, "kong-aws:network.publicSubnetIds"),
    ({"privateSubnetIds": SUBNETS[:2], "publicSubnetIds": SUBNETS[2:]}, "kong-aws:network.vpcId"),
])
def test_existing_vpc_with_fewer_than_two_subnets_is_refused(base_config, settings, key):
    line = only_problem(with_section(base_config, "network", **settings), key)
    field = key.rsplit(".", 1)[1]
    if field in settings:
        assert json.dumps(settings[field]) in line
    if field != "vpcId":
        assert "2" in line.split(";", 1)[1]


def test_existing_vpc_with_two_subnets_each_is_accepted(base_config):
    net = load(with_section(base_config, "network", vpcId=VPC, privateSubnetIds=SUBNETS[:2],
                            publicSubnetIds=SUBNETS[2:])).network
    assert net.existing and net.private_subnet_ids == SUBNETS[:2] and net.public_subnet_ids == SUBNETS[2:]


def test_internal_load_balancer_in_an_existing_vpc_needs_no_public_subnets(base_config):
    config = with_section(base_config, "network", vpcId=VPC, privateSubnetIds=SUBNETS[:2])
    cfg = load(with_section(config, "loadBalancer", internal=True))
    assert cfg.network.public_subnet_ids == [] and cfg.load_balancer.internal


# ---------------------------------------------------------------------------------------------
# Provided cluster certificate (clusterCert / clusterCertKey)

@functools.lru_cache(maxsize=None)
def _certificate_and_key(key_format: str) -> tuple[str, str]:
    """A real self-signed client certificate and its key, the key PEM in ``key_format``."""
    return self_signed_pem(key_format=key_format, days=1)


def with_cert(base: dict, cert: Optional[str], key: Optional[str]) -> dict:
    config = dict(base)
    if cert is not None:
        config["kong-aws:clusterCert"] = cert
    if key is not None:
        config["kong-aws:clusterCertKey"] = key
    return config


def _key_body(key_pem: str) -> str:
    return key_pem.splitlines()[1]


@pytest.mark.parametrize("key_format, header", [("pkcs8", "PRIVATE KEY"), ("ec", "EC PRIVATE KEY"),
                                                ("rsa", "RSA PRIVATE KEY")])
def test_cluster_certificate_with_a_secret_key_is_accepted(base_config, key_format, header):
    cert, key = _certificate_and_key(key_format)
    assert key.startswith(f"-----BEGIN {header}-----")
    provided = load(with_cert(base_config, cert, key), {"kong-aws:clusterCertKey"}).provided_certificate
    assert (provided.cert_pem, provided.key_pem.get_secret_value()) == (cert, key)


@pytest.mark.parametrize("secret_keys", [set(), {"kong-aws:clusterCert"}])
def test_cluster_cert_key_not_set_as_secret_is_refused_without_echoing_it(base_config, secret_keys):
    cert, key = _certificate_and_key("pkcs8")
    lines = problems(with_cert(base_config, cert, key), secret_keys)
    assert len(lines) == 1 and lines[0].startswith("kong-aws:clusterCertKey: ")
    assert "--secret" in lines[0]
    assert _key_body(key) not in str(ConfigError(lines))


@pytest.mark.parametrize("given, missing", [("cert", "kong-aws:clusterCertKey"), ("key", "kong-aws:clusterCert")])
def test_only_one_of_cluster_cert_and_key_is_refused(base_config, given, missing):
    cert, key = _certificate_and_key("ec")
    config = with_cert(base_config, cert if given == "cert" else None, key if given == "key" else None)
    lines = problems(config, {"kong-aws:clusterCertKey"})
    assert len(lines) == 1 and lines[0].startswith(f"{missing}: ") and "required" in lines[0]
    assert _key_body(key) not in lines[0]


def test_cluster_cert_key_that_is_not_a_private_key_is_refused_without_echoing_it(base_config):
    cert, key = _certificate_and_key("ec")
    lines = problems(with_cert(base_config, cert, cert), {"kong-aws:clusterCertKey"})
    assert len(lines) == 1 and lines[0].startswith("kong-aws:clusterCertKey: ") and "PRIVATE KEY" in lines[0]
    assert _key_body(cert) not in lines[0]


# ---------------------------------------------------------------------------------------------
# Log retention. Source: botocore's CloudWatch Logs model, shape Days (PutRetentionPolicy).

@functools.lru_cache(maxsize=None)
def cloudwatch_retention_days() -> list[int]:
    days = botocore.loaders.create_loader().load_service_model("logs", "service-2")["shapes"]["Days"]
    text = re.search(r"Possible values are: ([\d, and]+)\.", days["documentation"]).group(1)
    return [int(n) for n in re.findall(r"\d+", text)]


@pytest.mark.parametrize("days", cloudwatch_retention_days())
def test_every_cloudwatch_retention_period_is_accepted(base_config, days):
    assert load(with_section(base_config, "ecs", logRetentionDays=days)).ecs.log_retention_days == days


@pytest.mark.parametrize("days", sorted({d + s for d in cloudwatch_retention_days() for s in (-1, 1)}
                                        - set(cloudwatch_retention_days())))
def test_retention_period_cloudwatch_does_not_offer_is_refused_listing_them(base_config, days):
    line = only_problem(with_section(base_config, "ecs", logRetentionDays=days), "kong-aws:ecs.logRetentionDays")
    assert line.startswith(f"kong-aws:ecs.logRetentionDays: got {days};")
    assert [int(n) for n in re.findall(r"\d+", line.split(";", 1)[1])] == cloudwatch_retention_days()


# ---------------------------------------------------------------------------------------------
# Several problems at once

def test_several_problems_are_reported_together(base_config):
    config = {**base_config, "kong-aws:mode": "konnect-eks", "kong-aws:kong": {"version": "latest"},
              "kong-aws:ecs": {"cpu": 3000, "logRetentionDays": 2}, "kong-aws:loadBalancer": {"tlsMode": "terminate"},
              "kong-aws:netwrok": {}}
    del config["aws:region"]
    with pytest.raises(ConfigError) as info:
        load(config)
    keys = sorted(p.split(": ", 1)[0] for p in info.value.problems)
    assert keys == sorted(["kong-aws:netwrok", "kong-aws:mode", "aws:region", "kong-aws:kong.version",
                           "kong-aws:ecs.cpu", "kong-aws:ecs.logRetentionDays",
                           "kong-aws:loadBalancer.certificateArn"])
    assert all(f"  - {p}" in str(info.value) for p in info.value.problems)


# ---------------------------------------------------------------------------------------------
# The dev stack and seed 000

def seed_000() -> tuple[str, dict]:
    """Seed 000's text and the task definition JSON it pasted into the ECS console."""
    text = next(SEEDS.glob("000_*.txt")).read_text(encoding="utf-8")
    (block,) = re.findall(r"```json\n(.*?)\n```", text, re.S)
    return text, json.loads(block)


def test_dev_stack_is_valid_and_reproduces_seed_000():
    config, secret_keys, project = read_stack_config("dev")
    assert project == "kong-aws"
    cfg = load_stack_config(*strip_namespace(config, secret_keys)[:2], region=config.get("aws:region"))

    text, task = seed_000()
    (container,) = task["containerDefinitions"]
    env = {e["name"]: e["value"] for e in container["environment"]}
    repository, tag = container["image"].rsplit(":", 1)

    assert cfg.mode == "konnect-ecs"
    assert cfg.region == container["logConfiguration"]["options"]["awslogs-region"] == "ap-northeast-1"
    # The seed's floating 3.10 tag, pinned to the release its data plane reported running.
    running = re.search(r"^Server: kong/(\S+)-enterprise-edition$", text, re.M).group(1)
    assert cfg.kong.image is None and cfg.kong.effective("image") == repository
    assert cfg.kong.version.startswith(tag + ".")
    assert cfg.kong.version == running
    assert (cfg.ecs.cpu, cfg.ecs.memory) == (int(task["cpu"]), int(task["memory"]))
    assert cfg.kong.data_plane_labels == dict(item.split(":", 1) for item in env["KONG_CLUSTER_DP_LABELS"].split(","))
    assert cfg.kong.router_flavor == env["KONG_ROUTER_FLAVOR"]
    # Endpoints: the seed hides its control plane id; the region and service parts and the port match.
    for endpoint, address_var, name_var in (
            (cfg.konnect.control_plane_endpoint, "KONG_CLUSTER_CONTROL_PLANE", "KONG_CLUSTER_SERVER_NAME"),
            (cfg.konnect.telemetry_endpoint, "KONG_CLUSTER_TELEMETRY_ENDPOINT", "KONG_CLUSTER_TELEMETRY_SERVER_NAME")):
        seed_host, seed_port = env[address_var].rsplit(":", 1)
        assert seed_host == env[name_var]
        assert endpoint.port == int(seed_port)
        assert endpoint.host.split(".", 1)[1] == seed_host.split(".", 1)[1]


# ---------------------------------------------------------------------------------------------
# A control plane managed through the Konnect API (kong-aws:konnect.controlPlaneName + a token).

TOKEN = "kpat_" + "A1b2C3d4E5" * 4


def managed(base: dict[str, Any], **konnect: Any) -> dict[str, Any]:
    base[PREFIX + "konnect"] = {"controlPlaneName": "kong-aws-edge", **konnect}
    return base


def load_with_env(config: dict[str, Any], env_token=None, secret_keys=()) -> StackConfig:
    raw, secrets, region = strip_namespace(config_text(config), secret_keys)
    return load_stack_config(raw, secrets, region=region, env_token=env_token)


def env_problems(config: dict[str, Any], env_token=None, secret_keys=()) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_with_env(config, env_token, secret_keys)
    return info.value.problems


def test_managed_control_plane_takes_the_token_from_the_environment(base_config):
    stack = load_with_env(managed(base_config, region="eu", controlPlaneLabels={"team": "edge"}), TOKEN)
    assert stack.konnect.managed and stack.konnect.base_url == "https://eu.api.konghq.com"
    assert stack.konnect_token.get_secret_value() == TOKEN
    assert TOKEN not in repr(stack) and TOKEN not in str(stack)


def test_managed_control_plane_takes_the_token_from_secret_config(base_config):
    config = {**managed(base_config), PREFIX + "konnectToken": TOKEN}
    stack = load_with_env(config, None, secret_keys={PREFIX + "konnectToken"})
    assert stack.konnect_token.get_secret_value() == TOKEN


def test_managed_control_plane_without_a_token_names_both_ways_to_give_one(base_config):
    (line,) = env_problems(managed(base_config))
    assert line.startswith("kong-aws:konnectToken: required") and "KONNECT_TOKEN" in line and "--secret" in line


def test_a_token_in_plain_text_is_refused_and_never_echoed(base_config):
    config = {**managed(base_config), PREFIX + "konnectToken": TOKEN}
    (line,) = env_problems(config)
    assert line.startswith("kong-aws:konnectToken: set in plain text") and TOKEN not in line


@pytest.mark.parametrize("token", ["abc", "kpat_short", "Bearer kpat_" + "x" * 30, "spat-" + "x" * 30])
def test_something_that_is_not_a_konnect_token_is_refused_without_echoing_it(base_config, token):
    lines = env_problems(managed(base_config), token)
    assert [l for l in lines if l.startswith("kong-aws:konnectToken: not a Konnect access token")]
    assert all(token not in l for l in lines)


def test_token_without_a_control_plane_name_is_refused(base_config):
    config = {**base_config, PREFIX + "konnectToken": TOKEN}
    (line,) = env_problems(config, secret_keys={PREFIX + "konnectToken"})
    assert line.startswith("kong-aws:konnectToken: set, but kong-aws:konnect.controlPlaneName is not")


def test_environment_token_alone_keeps_the_manual_flow(base_config):
    # A KONNECT_TOKEN exported for other stacks changes nothing for a stack with endpoints.
    stack = load_with_env(base_config, TOKEN)
    assert not stack.konnect.managed and stack.konnect_token is None
    assert stack.konnect.control_plane_endpoint.address == "0123456789.us.cp0.konghq.com:443"


def test_endpoints_are_refused_when_the_control_plane_is_managed(base_config):
    config = managed(base_config, controlPlaneEndpoint="https://0123456789.us.cp0.konghq.com")
    (line,) = env_problems(config, TOKEN)
    assert line.startswith("kong-aws:konnect.controlPlaneEndpoint: set, but the managed control plane")


@pytest.mark.parametrize("url, ok", [
    ("https://us.api.konghq.com", True), ("https://konnect-proxy.internal:8443/", True),
    ("http://127.0.0.1:18080", True), ("http://localhost:8080", True),
    ("http://konnect-proxy.internal", False), ("https://us.api.konghq.com/v2", False), ("us.api.konghq.com", False),
])
def test_api_url_override(base_config, url, ok):
    config = managed(base_config, apiUrl=url)
    if ok:
        assert load_with_env(config, TOKEN).konnect.base_url == url.rstrip("/")
    else:
        (line,) = env_problems(config, TOKEN)
        assert line.startswith("kong-aws:konnect.apiUrl: got")


@pytest.mark.parametrize("region", ["global", "US", "ap", "jp"])
def test_konnect_region_must_host_control_planes(base_config, region):
    # global.api.konghq.com serves identity only (../shared/reference/konnect-endpoints.json).
    (line,) = env_problems(managed(base_config, region=region), TOKEN)
    assert line.startswith(f"kong-aws:konnect.region: got '{region}'")
    regions = [r for r in reference_json("konnect-endpoints.json")["api_base_urls"] if r != "global"]
    assert all(f"'{r}'" in line for r in regions)


def test_control_plane_labels_follow_konnect_label_rules(base_config):
    (line,) = env_problems(managed(base_config, controlPlaneLabels={"konnect-x": "1"}), TOKEN)
    assert line.startswith("kong-aws:konnect.controlPlaneLabels: got")


# ---------------------------------------------------------------------------------------------
# Mode hybrid-eks

#: The admin role a new EKS cluster needs (``kong-aws:eks.adminRoleArns``).
ADMIN_ROLE = "arn:aws:iam::123456789012:role/kong-aws-deploy"


def hybrid(**sections: Any) -> dict[str, Any]:
    """A hybrid-eks stack with ``sections``; a new cluster gets ``adminRoleArns`` [:data:`ADMIN_ROLE`]
    unless ``eks`` gives its own."""
    eks = dict(sections.get("eks") or {})
    if "clusterName" not in eks:
        eks.setdefault("adminRoleArns", [ADMIN_ROLE])
    sections = {**sections, "eks": eks}
    config = {"aws:region": "us-east-1", PREFIX + "mode": "hybrid-eks", PREFIX + "kong": {"version": "3.10.0.2"}}
    config.update({PREFIX + k: v for k, v in sections.items()})
    return config


def test_hybrid_defaults_are_production_shaped():
    stack = load(hybrid())
    # Unset is None (the component's default), and those defaults are production-shaped.
    assert (stack.hybrid.cluster_mtls, stack.postgres.mode, stack.postgres.multi_az) == (None, None, None)
    assert (stack.hybrid.effective("cluster_mtls"), stack.postgres.effective("mode"),
            stack.postgres.effective("multi_az")) == ("pki", "rds", True)
    assert not stack.eks.existing and stack.hybrid.effective("chart_version") == "3.4.1"
    assert stack.enterprise_license is None


@pytest.mark.parametrize("version", ["1.28", "2.0", "1.3", "v1.33", "1.33.1"])
def test_kubernetes_version_must_be_one_auto_mode_runs(version):
    line = only_problem(hybrid(eks={"version": version}), "kong-aws:eks.version")
    assert repr(version) in line and "1.29" in line


def test_release_names_must_differ():
    line = only_problem(hybrid(hybrid={"controlPlaneRelease": "kong", "dataPlaneRelease": "kong"}),
                        "kong-aws:hybrid.dataPlaneRelease")
    assert "controlPlaneRelease" in line


def test_data_plane_replica_bounds():
    only_problem(hybrid(hybrid={"dataPlaneMinReplicas": 5, "dataPlaneMaxReplicas": 3}),
                 "kong-aws:hybrid.dataPlaneMinReplicas")


def test_existing_cluster_needs_a_storage_class_for_in_cluster_postgres_and_takes_no_admin_roles():
    lines = problems(hybrid(eks={"clusterName": "platform", "adminRoleArns": ["arn:aws:iam::123456789012:role/ops"]},
                            postgres={"mode": "in-cluster"}))
    assert sorted(l.split(":")[1].split(" ")[0] for l in lines) == ["eks.adminRoleArns", "eks.storageClassName"]


def test_storage_class_is_only_for_an_existing_cluster():
    only_problem(hybrid(eks={"storageClassName": "gp3"}), "kong-aws:eks.storageClassName")


def test_a_provided_certificate_is_the_shared_one():
    cert, key = _certificate_and_key("pkcs8")
    config = {**hybrid(), PREFIX + "clusterCert": cert, PREFIX + "clusterCertKey": key}
    line = only_problem(config, "kong-aws:clusterCert", secret_keys={PREFIX + "clusterCertKey"})
    assert "'shared'" in line
    config[PREFIX + "hybrid"] = {"clusterMtls": "shared"}
    assert load(config, secret_keys={PREFIX + "clusterCertKey"}).provided_certificate is not None


def test_license_must_be_secret_and_a_kong_license():
    text = json.dumps({"license": {"payload": {}, "signature": "s", "version": "1"}})
    assert load({**hybrid(hybrid={"adminRbac": True}), PREFIX + "enterpriseLicense": text},
                secret_keys={PREFIX + "enterpriseLicense"}).enterprise_license.get_secret_value() == text
    line = only_problem({**hybrid(hybrid={"adminRbac": True}), PREFIX + "enterpriseLicense": text}, "kong-aws:enterpriseLicense")
    assert "plain text" in line and text not in line
    line = only_problem({**hybrid(hybrid={"adminRbac": True}), PREFIX + "enterpriseLicense": "not json"}, "kong-aws:enterpriseLicense",
                        secret_keys={PREFIX + "enterpriseLicense"})
    assert "license" in line and "not json" not in line


def test_postgres_keys_are_spelled_as_documented():
    stack = load(hybrid(postgres={"allocatedStorageGiB": 50, "storageGiB": 30}))
    assert (stack.postgres.allocated_storage_gib, stack.postgres.storage_gib) == (50, 30)


# EKS access from config only (adminRoleArns, previewRoleArns) and RDS apply timing.

PREVIEW_ROLE = "arn:aws:iam::123456789012:role/kong-aws-preview"


def load_hybrid(config: dict[str, Any]) -> HybridEksConfig:
    """:func:`load` of a hybrid-eks stack, typed as its model."""
    stack = load(config)
    assert isinstance(stack, HybridEksConfig)
    return stack


@pytest.mark.parametrize("eks, found", [({}, "not set"), ({"adminRoleArns": []}, "got []"),
                                        ({"previewRoleArns": [PREVIEW_ROLE]}, "not set")])
def test_a_new_cluster_without_an_admin_role_is_refused_with_a_hint(eks, found):
    config = hybrid()
    config[PREFIX + "eks"] = eks  # no admin role added
    line = only_problem(config, "kong-aws:eks.adminRoleArns")
    assert line.startswith(f"kong-aws:eks.adminRoleArns: {found}; ")
    assert "`pulumi up`" in line and '["arn:aws:iam::123456789012:role/kong-aws-deploy"]' in line


def test_an_existing_cluster_needs_no_admin_role_and_takes_no_preview_role():
    assert load_hybrid(hybrid(eks={"clusterName": "platform"}, postgres={"mode": "rds"})).eks.admin_role_arns is None
    only_problem(hybrid(eks={"clusterName": "platform", "previewRoleArns": [PREVIEW_ROLE]}),
                 "kong-aws:eks.previewRoleArns")


def test_preview_roles_are_role_arns_and_not_admin_roles():
    stack = load_hybrid(hybrid(eks={"adminRoleArns": [ADMIN_ROLE], "previewRoleArns": [PREVIEW_ROLE]}))
    assert stack.eks.preview_role_arns == [PREVIEW_ROLE]
    line = only_problem(hybrid(eks={"previewRoleArns": ["arn:aws:sts::123456789012:assumed-role/kong-aws-preview/gha"]}),
                        "kong-aws:eks.previewRoleArns")
    assert "not an IAM role ARN" in line and "assumed-role session" in line
    line = only_problem(hybrid(eks={"adminRoleArns": [ADMIN_ROLE], "previewRoleArns": [ADMIN_ROLE]}),
                        "kong-aws:eks.previewRoleArns")
    assert ADMIN_ROLE in line and "one access entry" in line


def test_rds_changes_wait_for_the_maintenance_window_unless_apply_immediately():
    assert load_hybrid(hybrid()).postgres.effective("apply_immediately") is False
    assert load_hybrid(hybrid(postgres={"applyImmediately": True})).postgres.apply_immediately is True
    line = only_problem(hybrid(postgres={"applyImmediately": "yes please"}), "kong-aws:postgres.applyImmediately")
    assert "'yes please'" in line


def test_preview_roles_and_apply_immediately_reach_the_gateway(monkeypatch):
    from components import modes

    seen: dict = {}

    class Recorder:
        def __init__(self, name, args, opts=None):
            seen.update(args)

    monkeypatch.setattr("components.hybrid_eks.HybridEksGateway", Recorder)
    modes.hybrid_eks(load_hybrid(hybrid(eks={"adminRoleArns": [ADMIN_ROLE], "previewRoleArns": [PREVIEW_ROLE]},
                                 postgres={"applyImmediately": True})))
    assert seen["eks"] == {"admin_role_arns": [ADMIN_ROLE], "preview_role_arns": [PREVIEW_ROLE]}
    assert seen["postgres"] == {"apply_immediately": True}


# ---------------------------------------------------------------------------------------------
# One model per mode, defaults in the components

def test_each_mode_has_its_own_model_and_sections(base_config):
    ecs_stack, eks_stack = load(base_config), load(hybrid())
    assert type(ecs_stack).__name__ == "KonnectEcsConfig" and type(eks_stack).__name__ == "HybridEksConfig"
    assert not hasattr(ecs_stack, "eks") and not hasattr(ecs_stack, "postgres")
    assert not hasattr(eks_stack, "ecs") and not hasattr(eks_stack, "konnect")


@pytest.mark.parametrize("key, value, owner", [
    ("ecs", {}, "konnect-ecs"), ("loadBalancer", {}, "konnect-ecs"), ("konnect", {}, "konnect-ecs"),
    ("konnectToken", TOKEN, "konnect-ecs"), ("eks", {}, "hybrid-eks"), ("hybrid", {}, "hybrid-eks"),
    ("postgres", {}, "hybrid-eks"), ("enterpriseLicense", "{}", "hybrid-eks"),
])
def test_a_section_of_the_other_mode_names_the_mode_that_uses_it(base_config, key, value, owner):
    config = {**hybrid(), PREFIX + key: value} if owner == "konnect-ecs" else {**base_config, PREFIX + key: value}
    line = only_problem(config, PREFIX + key, secret_keys={PREFIX + key})
    assert f"only mode {owner} uses it" in line


# Fields that have no component default: unset means "not used" (an existing VPC, an ARN ...).
NO_COMPONENT_DEFAULT = {"vpc_id", "organization", "secrets_kms_key_arn", "certificate_arn", "cluster_name",
                        "storage_class_name", "load_balancer_class", "control_plane_endpoint",
                        "telemetry_endpoint", "control_plane_name", "api_url", "availability_zone_ids",
                        "docker_hub_credentials_secret_arn", "nat_gateways",
                        # default by cluster: on for a new one, off for an existing one
                        "metrics_server", "eks.container_insights",
                        # no gateway file and no topic unless given
                        "config_file", "alarm_topic_arn"}


def _sections():
    from tools.config_reference import SECTIONS
    return SECTIONS


@pytest.mark.parametrize("section, model", _sections(), ids=[s for s, _ in _sections()])
def test_unset_fields_are_none_and_take_the_default_the_component_states(section, model):
    import components.certificates, components.ecs_service, components.ecs_task_definition, components.eks_cluster
    import components.kong_hybrid, components.kong_settings, components.konnect_api, components.network
    import components.monitoring, components.postgres, components.proxy_load_balancer, components.rollout_gate
    constants = {"kong": [components.kong_settings.KONG_DEFAULTS], "konnect": [components.konnect_api.KONNECT_DEFAULTS],
                 "certificate": [components.certificates.CERTIFICATE_DEFAULTS],
                 "network": [components.network.NETWORK_DEFAULTS],
                 "ecs": [components.ecs_task_definition.TASK_DEFINITION_DEFAULTS, components.ecs_service.SERVICE_DEFAULTS,
                         components.rollout_gate.ROLLOUT_GATE_DEFAULTS],
                 "loadBalancer": [components.proxy_load_balancer.LOAD_BALANCER_DEFAULTS],
                 "eks": [components.eks_cluster.EKS_DEFAULTS], "hybrid": [components.kong_hybrid.HYBRID_DEFAULTS],
                 "postgres": [components.postgres.POSTGRES_DEFAULTS], "gateway": [],
                 "monitoring": [components.monitoring.MONITORING_DEFAULTS]}[section]
    empty = model.model_validate({"version": "3.10.0.1"} if section == "kong" else
                                 {"controlPlaneName": "cp"} if section == "konnect" else {})
    for name, field in model.model_fields.items():
        if field.is_required() or name in ("public_subnet_ids", "private_subnet_ids"):
            continue
        # No default is written in the config model: unset is None ...
        assert field.default is None and field.default_factory is None, f"{section}.{name}"
        if name in NO_COMPONENT_DEFAULT or f"{section}.{name}" in NO_COMPONENT_DEFAULT:
            assert not any(name in c for c in constants), f"{section}.{name} has a component default"
            continue
        # ... and the effective value is the component's, from its defaults constant.
        (stated,) = [c[name] for c in constants if name in c]
        assert empty.effective(name) == stated, f"{section}.{name}"


def test_choices_are_the_components_enums(base_config):
    from components.kong_facts import RouterFlavor
    from components.proxy_load_balancer import TlsMode

    config = with_section(base_config, "kong", routerFlavor="expressions")
    config = with_section(config, "loadBalancer", tlsMode="terminate", certificateArn=acm_arn("us-west-2"))
    stack = load(config)
    assert stack.kong.router_flavor is RouterFlavor.EXPRESSIONS and stack.load_balancer.tls_mode is TlsMode.TERMINATE


def test_rules_read_the_effective_value_from_the_component_defaults(base_config):
    # cpu 4096 with memory unset: the task definition's default memory (2048 MiB) does not fit.
    line = only_problem(with_section(base_config, "ecs", cpu=4096), "kong-aws:ecs.memory")
    assert "not set (default 2048)" in line and "ecs.cpu 4096" in line
    # A control plane release named like the data planes' default release.
    line = only_problem(hybrid(hybrid={"controlPlaneRelease": "kong-dp"}), "kong-aws:hybrid.dataPlaneRelease")
    assert "not set (default 'kong-dp')" in line


# ---------------------------------------------------------------------------------------------
# A provided certificate is checked even when it is a secret; a key is never echoed

def _pem_body_lines(pem: str) -> list[str]:
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def _assert_no_pem_echoed(lines: list[str], *pems: str) -> None:
    text = str(ConfigError(lines))
    assert not [b for pem in pems for b in _pem_body_lines(pem) if b in text]


def _expired_certificate_and_key() -> tuple[str, str]:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kong_clustering")])
    start = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(start).not_valid_after(start + datetime.timedelta(days=30))
            .sign(key, hashes.SHA384()))
    return (cert.public_bytes(serialization.Encoding.PEM).decode(),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode())


BOTH_SECRET = {"kong-aws:clusterCert", "kong-aws:clusterCertKey"}


def test_a_private_key_given_as_the_certificate_is_refused_though_secret(base_config):
    cert, key = _certificate_and_key("pkcs8")
    lines = problems(with_cert(base_config, key, key), BOTH_SECRET)
    assert [l.split(": ", 1)[0] for l in lines] == ["kong-aws:clusterCert"]
    assert "private key" in lines[0] and "clusterCertKey" in lines[0]
    _assert_no_pem_echoed(lines, key)


@pytest.mark.parametrize("damage", ["cut", "cut-keep-end", "two", "chain-and-key-order"])
def test_a_damaged_certificate_is_refused_without_echoing_it(base_config, damage):
    cert, key = _certificate_and_key("pkcs8")
    other, _ = _certificate_and_key("ec")
    body = cert.strip().splitlines()
    given = {"cut": "\n".join(body[: len(body) // 2]),
             "cut-keep-end": "\n".join(body[: len(body) // 2] + body[-1:]),
             "two": cert + other,
             "chain-and-key-order": other + cert}[damage]
    line = only_problem(with_cert(base_config, given, key), "kong-aws:clusterCert", BOTH_SECRET)
    assert ("PEM" in line or "X.509" in line)
    _assert_no_pem_echoed([line], cert, other)


def test_an_expired_certificate_is_refused_naming_its_expiry(base_config):
    cert, key = _expired_certificate_and_key()
    line = only_problem(with_cert(base_config, cert, key), "kong-aws:clusterCert", BOTH_SECRET)
    assert "expired on 2020-01-31" in line


def test_a_key_that_is_not_the_certificates_is_refused(base_config):
    cert, _ = _certificate_and_key("pkcs8")
    _, other_key = _certificate_and_key("rsa")
    line = only_problem(with_cert(base_config, cert, other_key), "kong-aws:clusterCertKey", BOTH_SECRET)
    assert "public keys differ" in line
    _assert_no_pem_echoed([line], other_key)


def test_an_encrypted_key_is_refused(base_config):
    from cryptography.hazmat.primitives import serialization

    cert, key = _certificate_and_key("pkcs8")
    encrypted = serialization.load_pem_private_key(key.encode(), None).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase")).decode()
    line = only_problem(with_cert(base_config, cert, encrypted), "kong-aws:clusterCertKey", BOTH_SECRET)
    assert "encrypted" in line


def test_only_a_value_the_offline_render_cannot_read_goes_unchecked(base_config):
    from components.config import OFFLINE_SECRET_PLACEHOLDER

    cert, key = _certificate_and_key("pkcs8")
    # The certificate is the placeholder: nothing to read; the key is still checked.
    assert load(with_cert(base_config, OFFLINE_SECRET_PLACEHOLDER, key), BOTH_SECRET).provided_certificate
    only_problem(with_cert(base_config, OFFLINE_SECRET_PLACEHOLDER, cert), "kong-aws:clusterCertKey", BOTH_SECRET)
    # The key is the placeholder: the certificate is still read.
    assert load(with_cert(base_config, cert, OFFLINE_SECRET_PLACEHOLDER), BOTH_SECRET).provided_certificate
    only_problem(with_cert(base_config, key, OFFLINE_SECRET_PLACEHOLDER), "kong-aws:clusterCert", BOTH_SECRET)


# ---------------------------------------------------------------------------------------------
# Patterns match the whole value, with ASCII digits only

@pytest.mark.parametrize("key, value", [
    ("kong.version", "3.10.0.1\n"), ("kong.version", "\uff13.\uff11\uff10.\uff10.\uff11"),
    ("kong.version", "3.1\u0660.0.1"), ("kong.version", " 3.10.0.1"), ("kong.image", "kong/kong-gateway\n"),
    ("network.vpcId", "vpc-0123456789abcdef0\n"), ("network.cidrBlock", "10.0.0.0/1\uff16"),
    ("loadBalancer.certificateArn",
     "arn:aws:acm:us-west-2:\uff11\uff12\uff13456789012:certificate/12345678-90ab-cdef-1234-567890abcdef"),
    ("ecs.secretsKmsKeyArn", "arn:aws:kms:us-west-2:123456789012:key/12345678-90ab-cdef-1234-567890abcdef\n"),
])
def test_a_konnect_ecs_value_with_a_trailing_newline_or_non_ascii_digits_is_refused(base_config, key, value):
    section, field = key.split(".")
    config = with_section(base_config, section, **{field: value})
    if key == "loadBalancer.certificateArn":
        config = with_section(config, section, tlsMode="terminate")
    assert problem_for(config, PREFIX + key).startswith(f"{PREFIX}{key}: got {value!r};")


@pytest.mark.parametrize("key, value", [
    ("eks.version", "1.\uff13\uff13"), ("eks.version", "1.33\n"), ("eks.clusterName", "platform\n"),
    ("postgres.version", "\uff11\uff17.6"), ("postgres.version", "17.6\n"), ("postgres.instanceClass", "db.t4g.medium\n"),
    ("hybrid.namespace", "kong\n"), ("hybrid.chartVersion", "3.4.1\n"), ("hybrid.chartVersion", "\uff13.4.1"),
    ("hybrid.controlPlaneRelease", "kong-cp\n"), ("eks.adminRoleArns", ["arn:aws:iam::123456789012:role/ops\n"]),
    ("eks.adminRoleArns", ["arn:aws:iam::123456789012:role/\u00e9quipe"]),
])
def test_a_hybrid_eks_value_with_a_trailing_newline_or_non_ascii_digits_is_refused(key, value):
    section, field = key.split(".")
    line = problem_for(hybrid(**{section: {field: value}}), PREFIX + key)
    assert line.startswith(f"{PREFIX}{key}: got {json.dumps(value) if isinstance(value, list) else repr(value)};")


@pytest.mark.parametrize("label", [{"team\n": "x"}, {"team": "x\n"}, {"t\u0663": "x"}])
def test_a_label_with_a_trailing_newline_is_refused(base_config, label):
    only_problem(labels(base_config, label), "kong-aws:kong.dataPlaneLabels")


@pytest.mark.parametrize("region", ["us-west-2\n", "us-west-\uff12", " us-west-2"])
def test_a_region_with_a_trailing_newline_or_non_ascii_digit_is_refused(base_config, region):
    line = only_problem({**base_config, "aws:region": region}, "aws:region")
    assert repr(region) in line


def test_a_token_with_a_trailing_newline_is_refused(base_config):
    config = {**managed(base_config), PREFIX + "konnectToken": TOKEN + "\n"}
    (line,) = env_problems(config, secret_keys={PREFIX + "konnectToken"})
    assert line.startswith("kong-aws:konnectToken: not a Konnect access token") and TOKEN not in line


def test_config_module_uses_no_partial_match_and_no_unicode_classes():
    # re.match / `$` accept a trailing newline; pydantic's pattern= and Python's \\d take any digit.
    source = (PROJECT_ROOT / "components" / "config.py").read_text()
    assert not re.search(r"\.match\(|\bpattern=|\$\"", source)
    for literal in re.findall(r'_regex\(r"([^"]*)"\)', source):
        assert "$" not in literal and not literal.startswith("^"), literal


# ---------------------------------------------------------------------------------------------
# CIDR lists: a bare address is a /32

def test_a_bare_address_in_a_cidr_list_becomes_a_32(base_config):
    stack = load(with_section(base_config, "loadBalancer", allowedCidrs=["203.0.113.7", "198.51.100.0/24"]))
    assert stack.load_balancer.allowed_cidrs == ["203.0.113.7/32", "198.51.100.0/24"]
    stack = load(hybrid(eks={"publicAccessCidrs": ["192.0.2.1"]}, hybrid={"allowedCidrs": ["192.0.2.9"]}))
    assert stack.eks.public_access_cidrs == ["192.0.2.1/32"] and stack.hybrid.allowed_cidrs == ["192.0.2.9/32"]


@pytest.mark.parametrize("cidr", ["203.0.113.7/24", "203.0.113.0/33", "\uff12\uff10\uff13.0.113.7", "2001:db8::/32", ""])
def test_a_cidr_that_is_not_an_ipv4_block_is_refused(base_config, cidr):
    line = only_problem(with_section(base_config, "loadBalancer", allowedCidrs=[cidr]),
                        "kong-aws:loadBalancer.allowedCidrs[0]")
    assert f"got {cidr!r};" in line and "IPv4 CIDR" in line


# ---------------------------------------------------------------------------------------------
# Konnect endpoints: the certain mix-ups

def endpoints(base: dict, cp: str, tp: str) -> dict:
    return with_section(base, "konnect", controlPlaneEndpoint=cp, telemetryEndpoint=tp)


@pytest.mark.parametrize("cp, tp, says", [
    (HOST, f"https://{HOST}", "a cp0 host is the control plane endpoint"),
    ("dp.us.konghq.com", "dp.us.konghq.com:8443", "same host"),   # within konghq.com, whatever the port
])
def test_the_same_host_for_both_endpoints_is_refused(base_config, cp, tp, says):
    line = only_problem(endpoints(base_config, cp, tp), "kong-aws:konnect.telemetryEndpoint")
    assert says in line


def test_a_telemetry_host_as_control_plane_endpoint_is_refused(base_config):
    line = only_problem(endpoints(base_config, TP_HOST, TP_HOST.replace("0123", "9999")),
                        "kong-aws:konnect.controlPlaneEndpoint")
    assert "tp0" in line and "telemetryEndpoint" in line


def test_a_control_plane_host_as_telemetry_endpoint_is_refused(base_config):
    line = only_problem(endpoints(base_config, HOST, HOST.replace("0123", "9999")),
                        "kong-aws:konnect.telemetryEndpoint")
    assert "cp0" in line and "controlPlaneEndpoint" in line


@pytest.mark.parametrize("api", ["us.api.konghq.com", "https://global.api.konghq.com", "eu.api.konghq.com:443",
                                 "https://api.konghq.com/"])
@pytest.mark.parametrize("key", ["controlPlaneEndpoint", "telemetryEndpoint"])
def test_a_konnect_api_host_as_an_endpoint_is_refused(base_config, api, key):
    line = only_problem(with_section(base_config, "konnect", **{key: api}), f"kong-aws:konnect.{key}")
    assert "Konnect API" in line and "controlPlaneName" in line


@pytest.mark.parametrize("url", [f"https://{HOST}", f"https://{TP_HOST}:443"])
def test_a_data_plane_host_as_api_url_is_refused(base_config, url):
    (line,) = env_problems(managed(base_config, apiUrl=url), TOKEN)
    assert line.startswith("kong-aws:konnect.apiUrl: got") and "not the Konnect API" in line


@pytest.mark.parametrize("cp, tp", [
    ("konnect-cp.proxy.internal", "konnect-tp.proxy.internal"),
    ("konnect.proxy.internal:8443", "konnect.proxy.internal:9443"),   # one proxy, a port per endpoint
    ("cp.example.com", "https://tp.example.com:443"),
])
def test_endpoints_outside_konghq_com_stay_allowed(base_config, cp, tp):
    konnect = load(endpoints(base_config, cp, tp)).konnect
    assert konnect.control_plane_endpoint.host != konnect.telemetry_endpoint.host or \
        konnect.control_plane_endpoint.port != konnect.telemetry_endpoint.port


def test_one_host_and_port_for_both_endpoints_is_refused_outside_konghq_com_too(base_config):
    only_problem(endpoints(base_config, "konnect.proxy.internal", "konnect.proxy.internal:443"),
                 "kong-aws:konnect.telemetryEndpoint")


# ---------------------------------------------------------------------------------------------
# Availability zones. Source of the counts: AWS, "AWS Regions and Availability Zones"
# (components/aws_facts.py states the table's source and date).

@pytest.mark.parametrize("region, count", [("us-west-1", 3), ("ap-northeast-1", 4), ("eu-central-1", 4),
                                           ("us-east-2", 6)])
def test_more_zones_than_the_region_offers_is_refused_naming_its_zones(base_config, region, count):
    from components.aws_facts import AVAILABILITY_ZONES

    config = with_section({**base_config, "aws:region": region}, "network", availabilityZoneCount=count)
    line = only_problem(config, "kong-aws:network.availabilityZoneCount")
    zones = [name for name, _ in AVAILABILITY_ZONES[region]]
    assert line.startswith(f"kong-aws:network.availabilityZoneCount: got {count};")
    assert f"offers {len(zones)}" in line and all(z in line for z in zones)


@pytest.mark.parametrize("region, count", [("us-west-1", 2), ("ap-northeast-1", 3), ("us-east-1", 6),
                                           ("us-west-2", 4), ("xx-future-1", 6)])
def test_as_many_zones_as_the_region_offers_is_accepted(base_config, region, count):
    # A region the table does not know (a new one) is not checked here.
    config = with_section({**base_config, "aws:region": region}, "network", availabilityZoneCount=count)
    assert load(config).network.availability_zone_count == count


@pytest.mark.parametrize("settings", [{"availabilityZoneCount": 3}, {"cidrBlock": "10.1.0.0/16"},
                                      {"natGateways": "single"}])
def test_new_vpc_settings_with_an_existing_vpc_are_refused_not_ignored(base_config, settings):
    config = with_section(base_config, "network", vpcId=VPC, privateSubnetIds=SUBNETS[:2],
                          publicSubnetIds=SUBNETS[2:], **settings)
    (key,) = settings
    line = only_problem(config, f"kong-aws:network.{key}")
    assert "vpcId" in line


def test_zone_table_is_consistent():
    from components.aws_facts import AVAILABILITY_ZONES, zones_of

    for region, zones in AVAILABILITY_ZONES.items():
        names, ids = [n for n, _ in zones], [i for _, i in zones]
        assert len(zones) >= 2 and len(set(names)) == len(names) and len(set(ids)) == len(ids), region
        assert all(re.fullmatch(re.escape(region) + "[a-z]", n) for n in names), region
        prefix = ids[0].split("-az")[0]
        assert all(re.fullmatch(re.escape(prefix) + r"-az[0-9]+", i) for i in ids), region
        assert prefix[-1] == region[-1], region  # the AZ ID ends its prefix with the region's number
    assert zones_of("ap-northeast-1") == (("ap-northeast-1a", "apne1-az4"), ("ap-northeast-1c", "apne1-az1"),
                                          ("ap-northeast-1d", "apne1-az2"))
    assert sorted(i for _, i in zones_of("us-east-1")) == [f"use1-az{n}" for n in range(1, 7)]
    with pytest.raises(KeyError, match="xx-nowhere-1"):
        zones_of("xx-nowhere-1")


# ---------------------------------------------------------------------------------------------
# PostgreSQL versions RDS offers, ELB TLS policies

@pytest.mark.parametrize("version", ["10.23", "10.5", "96.1", "19.0"])
def test_a_postgres_major_rds_does_not_offer_is_refused(version):
    line = only_problem(hybrid(postgres={"version": version}), "kong-aws:postgres.version")
    assert line.startswith(f"kong-aws:postgres.version: got {version!r};") and "16, 17" in line


@pytest.mark.parametrize("version", ["13.20", "16.4", "17.6"])
def test_a_postgres_major_rds_offers_is_accepted(version):
    assert load(hybrid(postgres={"version": version})).postgres.major_version == version.split(".")[0]


def test_in_cluster_postgres_is_not_bound_to_the_rds_calendar():
    assert load(hybrid(postgres={"mode": "in-cluster", "version": "10.23"})).postgres.major_version == "10"


@pytest.mark.parametrize("policy", ["ELBSecurityPolicy-TLS13-1-2-2021-06", "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09",
                                    "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04", "ELBSecurityPolicy-2016-08"])
def test_elb_predefined_tls_policies_are_accepted(base_config, policy):
    config = with_section(base_config, "loadBalancer", tlsMode="terminate", certificateArn=acm_arn("us-west-2"),
                          sslPolicy=policy)
    assert load(config).load_balancer.ssl_policy == policy


@pytest.mark.parametrize("policy", ["ELBSecurityPolicy-TLS13-1-2-2021-07", "TLS13", "elbsecuritypolicy-2016-08",
                                    "ELBSecurityPolicy-TLS13-1-2-2021-06\n"])
def test_a_tls_policy_that_is_not_an_elb_predefined_one_is_refused(base_config, policy):
    config = with_section(base_config, "loadBalancer", tlsMode="terminate", certificateArn=acm_arn("us-west-2"),
                          sslPolicy=policy)
    line = only_problem(config, "kong-aws:loadBalancer.sslPolicy")
    assert repr(policy) in line and "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09" in line.split(";", 1)[1]


def test_a_tls_policy_with_passthrough_is_refused_not_ignored(base_config):
    line = only_problem(with_section(base_config, "loadBalancer", sslPolicy="ELBSecurityPolicy-2016-08"),
                        "kong-aws:loadBalancer.sslPolicy")
    assert "terminate" in line


def test_new_cluster_settings_with_an_existing_cluster_are_refused():
    line = only_problem(hybrid(eks={"clusterName": "platform", "version": "1.33"}), "kong-aws:eks.version")
    assert "a cluster the stack creates" in line


# ---------------------------------------------------------------------------------------------
# Zones the services accept, and zones given by AZ ID (issue 9, part 5). Sources, written out here:
# Amazon EKS User Guide, "View Amazon EKS networking requirements for VPC and subnets" (subnets for
# clusters "can't reside in" use1-az3, usw1-az2, cac1-az3); Amazon ECS Developer Guide, "AWS
# Fargate Regions" (us-west-1: usw1-az1 & usw1-az3 only; ap-northeast-1: apne1-az1, apne1-az2 &
# apne1-az4 only).

def test_zone_tables_hold_what_eks_and_fargate_document():
    from components.aws_facts import UNSUPPORTED_ZONE_IDS

    assert UNSUPPORTED_ZONE_IDS["eks-control-plane"] == {"use1-az3", "usw1-az2", "cac1-az3"}
    fargate_only = {"us-west-1": ({"usw1-az1", "usw1-az3"}, {"usw1-az1", "usw1-az2", "usw1-az3"}),
                    "ap-northeast-1": ({"apne1-az1", "apne1-az2", "apne1-az4"}, {f"apne1-az{n}" for n in range(1, 5)})}
    for region, (runs, every) in fargate_only.items():
        assert every - runs <= UNSUPPORTED_ZONE_IDS["ecs-fargate"], region
        assert not runs & UNSUPPORTED_ZONE_IDS["ecs-fargate"], region


#: A new cluster's admin role, so that the zone rules are the only ones a hybrid stack here meets.
ADMIN = {"adminRoleArns": ["arn:aws:iam::123456789012:role/kong-aws-deploy"]}


def test_hybrid_eks_zone_count_counts_only_zones_eks_accepts():
    # us-east-1 has six zones; the EKS control plane refuses use1-az3, so five are usable.
    line = only_problem(hybrid(network={"availabilityZoneCount": 6}, eks=ADMIN),
                        "kong-aws:network.availabilityZoneCount")
    assert line.startswith("kong-aws:network.availabilityZoneCount: got 6; region us-east-1 offers 6")
    assert "5 of them usable by the Amazon EKS control plane" in line and "use1-az3" in line
    assert load(hybrid(network={"availabilityZoneCount": 5}, eks=ADMIN)).network.availability_zone_count == 5


def test_konnect_ecs_takes_every_zone_fargate_runs_in(base_config):
    # Fargate runs in all six zones of us-east-1 (the EKS exclusion does not apply to this mode).
    config = with_section({**base_config, "aws:region": "us-east-1"}, "network", availabilityZoneCount=6)
    assert load(config).network.availability_zone_count == 6


def test_zone_ids_are_accepted_in_the_order_given(base_config):
    config = with_section({**base_config, "aws:region": "us-east-1"}, "network",
                          availabilityZoneIds=["use1-az6", "use1-az3", "use1-az1"])
    assert load(config).network.availability_zone_ids == ["use1-az6", "use1-az3", "use1-az1"]


def test_a_zone_id_the_mode_refuses_is_named():
    line = only_problem(hybrid(network={"availabilityZoneIds": ["use1-az1", "use1-az3"]}, eks=ADMIN),
                        "kong-aws:network.availabilityZoneIds")
    assert "use1-az3 is a zone the Amazon EKS control plane does not run in" in line and "use1-az1 " not in line


@pytest.mark.parametrize("region, ids, wrong", [
    ("us-west-2", ["usw2-az1", "use1-az1"], "use1-az1"),          # another region's zone
    ("us-west-2", ["usw2-az1", "usw2-lax1-az1"], "usw2-lax1-az1"),  # a Local Zone, not an Availability Zone
    ("ap-northeast-1", ["apne1-az1", "apne1-az3"], "apne1-az3"),   # constrained: not offered to new accounts
])
def test_a_zone_id_the_region_does_not_offer_is_named_with_the_regions_ids(base_config, region, ids, wrong):
    from components.aws_facts import AVAILABILITY_ZONES

    config = with_section({**base_config, "aws:region": region}, "network", availabilityZoneIds=ids)
    line = only_problem(config, "kong-aws:network.availabilityZoneIds")
    assert f"{wrong} is not an Availability Zone of region {region}" in line
    assert all(zid in line for _, zid in AVAILABILITY_ZONES[region])


@pytest.mark.parametrize("ids, text", [
    (["us-west-2a", "usw2-az2"], "'us-west-2a': not an Availability Zone ID such as use1-az1"),
    (["usw2-az1", "usw2-az1"], "usw2-az1 given more than once"),
    (["usw2-az1"], "at least 2"),
    ([f"use1-az{n}" for n in range(1, 8)], "at most 6"),
])
def test_zone_ids_must_be_2_to_6_distinct_ids(base_config, ids, text):
    line = only_problem(with_section(base_config, "network", availabilityZoneIds=ids),
                        "kong-aws:network.availabilityZoneIds")
    assert text in line


def test_zone_ids_with_a_count_are_refused_not_ignored(base_config):
    config = with_section(base_config, "network", availabilityZoneIds=["usw2-az1", "usw2-az2"], availabilityZoneCount=2)
    line = only_problem(config, "kong-aws:network.availabilityZoneIds")
    assert "with availabilityZoneCount 2; give one of them" in line


def test_zone_ids_with_an_existing_vpc_are_refused_not_ignored(base_config):
    config = with_section(base_config, "network", vpcId=VPC, privateSubnetIds=SUBNETS[:2],
                          publicSubnetIds=SUBNETS[2:], availabilityZoneIds=["usw2-az1", "usw2-az2"])
    line = only_problem(config, "kong-aws:network.availabilityZoneIds")
    assert "only used for a new VPC, not with network.vpcId" in line


def test_zone_ids_of_a_region_the_table_does_not_know_are_left_to_the_cloud(base_config):
    config = with_section({**base_config, "aws:region": "xx-future-1"}, "network",
                          availabilityZoneIds=["xxf1-az1", "xxf1-az2"])
    assert load(config).network.availability_zone_ids == ["xxf1-az1", "xxf1-az2"]


def test_data_plane_labels_are_refused_in_hybrid_eks_and_say_why(base_config):
    config = hybrid(kong={"version": "3.10.0.2", "dataPlaneLabels": {"env": "dev"}})
    line = only_problem(config, "kong-aws:kong.dataPlaneLabels")
    assert '{"env": "dev"}' in line and "Konnect" in line and "self-hosted" in line
    # The same labels are fine where Konnect reads them.
    assert load(with_section(base_config, "kong", dataPlaneLabels={"env": "dev"})).kong.data_plane_labels


@pytest.mark.parametrize("network", [{"vpcId": "vpc-0123456789abcdef0", "privateSubnetIds": [
    "subnet-0123456789abcdef0", "subnet-0123456789abcdef1"], "publicSubnetIds": [
    "subnet-0123456789abcdef2", "subnet-0123456789abcdef3"]}, {"egress": "nat-single"}, {}])
def test_an_existing_cluster_refuses_network_settings(network):
    config = hybrid(eks={"clusterName": "platform-prod"}, network=network)
    line = only_problem(config, "kong-aws:network")
    assert "'platform-prod'" in line and "supplies the network" in line


def test_an_existing_cluster_without_network_settings_is_accepted():
    assert load(hybrid(eks={"clusterName": "platform-prod"})).eks.existing


def test_a_license_needs_an_explicit_admin_rbac_choice():
    license_key = PREFIX + "enterpriseLicense"
    licence = json.dumps({"license": {"payload": {"license_key": "K"}, "signature": "s", "version": "1"}})
    line = only_problem({**hybrid(), license_key: licence}, "kong-aws:hybrid.adminRbac", secret_keys={license_key})
    assert "lock everyone out" in line and "runbooks.md, 8" in line
    for choice in (True, False):
        assert load({**hybrid(hybrid={"adminRbac": choice}), license_key: licence},
                    secret_keys={license_key}).hybrid.admin_rbac is choice
    assert load(hybrid()).hybrid.admin_rbac is None  # free mode: no choice to make


# ---------------------------------------------------------------------------------------------
# The gateway file and its secrets, and monitoring (issue 12)

BROKEN_GATEWAY = """_format_version: "3.0"
services:
  - name: orders
    url: http://orders.internal
    routes:
      - name: orders
        pathz: [/orders]
consumers:
  - username: partner
    keyauth_credentials:
      - key: ${{ env "DECK_PARTNER_KEY" }}
"""


def test_a_bad_gateway_file_is_refused_under_its_key_with_position_and_line(base_config, tmp_path):
    path = tmp_path / "gateway.yaml"
    path.write_text(BROKEN_GATEWAY)
    lines = problems({**base_config, "kong-aws:gateway": {"configFile": str(path)}})
    mine = [line for line in lines if line.startswith("kong-aws:gateway.configFile: ")]
    assert len(mine) == len(lines) >= 2, lines
    # The unknown field, where it is; and the secret the file reads, which config does not give.
    assert any("services[0].routes[0].pathz" in line and "line 7" in line and "unknown field" in line for line in mine)
    assert any("kong-aws:gatewaySecrets.DECK_PARTNER_KEY" in line for line in mine)


def test_the_gateway_files_secret_given_the_file_is_accepted(base_config, tmp_path):
    path = tmp_path / "gateway.yaml"
    path.write_text(BROKEN_GATEWAY.replace("pathz", "paths"))
    config = {**base_config, "kong-aws:gateway": {"configFile": str(path)},
              "kong-aws:gatewaySecrets": {"DECK_PARTNER_KEY": "TOPSECRET"}}
    loaded: Any = load(config, secret_keys={"kong-aws:gatewaySecrets"})
    assert [e.key for e in loaded.gateway_file.entities] == [
        "service:orders", "route:orders", "consumer:partner", "keyauth_credential:partner/DECK_PARTNER_KEY"]
    assert loaded.gateway_secrets["DECK_PARTNER_KEY"].get_secret_value() == "TOPSECRET"


@pytest.mark.parametrize(("secrets", "secret_keys", "expected"), [
    ({"DECK_PARTNER_KEY": "TOPSECRET"}, (), "set in plain text"),
    ({"partner_key": "TOPSECRET"}, ("kong-aws:gatewaySecrets",), "not DECK_ names"),
    ("TOPSECRET", ("kong-aws:gatewaySecrets",), "expected an object of DECK_ names"),
    ({"DECK_HEADERS": "TOPSECRET"}, ("kong-aws:gatewaySecrets",), "decK's own settings"),
])
def test_gateway_secrets_must_be_secret_deck_names_and_never_shown(base_config, tmp_path, secrets, secret_keys,
                                                                    expected):
    path = tmp_path / "gateway.yaml"
    path.write_text(BROKEN_GATEWAY.replace("pathz", "paths"))
    config = {**base_config, "kong-aws:gateway": {"configFile": str(path)}, "kong-aws:gatewaySecrets": secrets}
    line = problem_for(config, "kong-aws:gatewaySecrets", secret_keys)
    assert expected in line and "TOPSECRET" not in "\n".join(problems(config, secret_keys))


def test_gateway_secrets_without_a_gateway_file_are_refused(base_config):
    line = only_problem({**base_config, "kong-aws:gatewaySecrets": {"DECK_A": "x"}}, "kong-aws:gatewaySecrets",
                        secret_keys={"kong-aws:gatewaySecrets"})
    assert "gateway.configFile is not" in line


@pytest.mark.parametrize(("monitoring", "key", "expected"), [
    ({"alarmEmails": ["ops@example.com"], "alarmTopicArn": "arn:aws:sns:us-west-2:123456789012:ops"},
     "kong-aws:monitoring.alarmTopicArn", "give one"),
    ({"alarmTopicArn": "arn:aws:sns:eu-west-1:123456789012:ops"}, "kong-aws:monitoring.alarmTopicArn",
     "of their own region us-west-2"),
    ({"alarmEmails": ["ops(at)example.com"]}, "kong-aws:monitoring.alarmEmails[0]", "not an e-mail address"),
    ({"evaluationMinutes": 0}, "kong-aws:monitoring.evaluationMinutes", "greater than or equal to 1"),
    ({"errorRatePercent": 100}, "kong-aws:monitoring.errorRatePercent", "less than 100"),
])
def test_monitoring_settings_are_checked(base_config, monitoring, key, expected):
    line = only_problem({**base_config, "kong-aws:monitoring": monitoring}, key)
    assert expected in line
