"""The kong-aws component package (provider/): what Pulumi programs in other languages get.

Pulumi's component analyzer (pulumi/provider/experimental/analyzer.py, the pinned SDK) infers the
package schema from the components that ``provider/__main__.py`` serves: their Args TypedDicts are
the inputs, their ``pulumi.Output`` attributes the outputs. These tests check that schema (against
the committed snapshot ``tests/data/component-schema.json`` and on the points a consumer relies on),
the provider's mapping of a program's inputs to the Python components (under Pulumi's mocks), the
plugin process itself over gRPC, the YAML examples under ``examples/`` against the schema, and the
``[project]`` table that makes ``components`` installable.

When a component's Args or outputs change on purpose, refresh the snapshot and commit it with the
change (its diff is what every consumer's generated SDK will see)::

    .venv/bin/python -m tests.test_component_package --update
"""

from __future__ import annotations

import atexit
import importlib
import importlib.metadata
import importlib.util
import inspect
import json
import os
import pkgutil
import re
import selectors
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

import pulumi
import pytest
import yaml
from packaging.requirements import Requirement
from pulumi.errors import InputPropertyError
from pulumi.provider.experimental.component import ComponentProvider

from tests.conftest import config_text
from tools.mocks import PROJECT_ROOT, main_program, mask_secrets, run_program

PROVIDER_DIR = PROJECT_ROOT / "provider"
SNAPSHOT = PROJECT_ROOT / "tests" / "data" / "component-schema.json"
EXAMPLES = sorted((PROJECT_ROOT / "examples").glob("*/Pulumi.yaml"))
REFRESH = ".venv/bin/python -m tests.test_component_package --update"


def _load_provider_module() -> ModuleType:
    """``provider/__main__.py`` as a module (not as ``__main__``: the host does not start)."""
    spec = importlib.util.spec_from_file_location("kong_aws_provider", PROVIDER_DIR / "__main__.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


provider_main = _load_provider_module()
COMPONENTS: list[type[pulumi.ComponentResource]] = provider_main.COMPONENTS
PACKAGE: str = provider_main.PACKAGE


def make_provider() -> ComponentProvider:
    """The provider the plugin serves (its constructor analyzes the components and generates the
    schema)."""
    return provider_main.KongAwsProvider(COMPONENTS, PACKAGE, version=provider_main.package_version())


def token(name: str) -> str:
    return f"{PACKAGE}:index:{name}"


# The plugin process starts while the rest is collected and run (it imports the SDKs and analyzes
# the components, about a second from a cold start): the engine's view of the package, over gRPC.
# Its engine address leads nowhere: GetSchema needs no engine. It listens on 127.0.0.1 only.
_plugin: subprocess.Popen[str] | None = None
_plugin_stderr = tempfile.TemporaryFile(mode="w+")
if __name__ != "__main__":
    _plugin = subprocess.Popen(
        [sys.executable, str(PROVIDER_DIR), "127.0.0.1:1"], cwd=tempfile.gettempdir(), text=True,
        stdout=subprocess.PIPE, stderr=_plugin_stderr,
        env={**os.environ,
             "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))})


@atexit.register
def _stop_plugin() -> None:
    # A deselected or interrupted run leaves no plugin serving.
    if _plugin is not None and _plugin.poll() is None:
        _plugin.kill()
        _plugin.wait()


@pytest.fixture(scope="module")
def provider() -> ComponentProvider:
    return make_provider()


@pytest.fixture(scope="module")
def schema(provider) -> dict[str, Any]:
    return json.loads(provider.schema)


@pytest.fixture(scope="module")
def types(schema) -> dict[str, dict]:
    """Object and enum types by ``#/types/...`` reference."""
    return {f"#/types/{name}": spec for name, spec in schema["types"].items()}


def enum_values(spec: dict) -> list:
    return [member["value"] for member in spec["enum"]]


# ---------------------------------------------------------------------------------------------
# What the package serves.

def _component_classes() -> set[type]:
    found = set()
    import components
    for info in pkgutil.iter_modules(components.__path__):
        module = importlib.import_module(f"components.{info.name}")
        found |= {obj for _, obj in inspect.getmembers(module, inspect.isclass)
                  if issubclass(obj, pulumi.ComponentResource) and obj.__module__ == module.__name__}
    return found


def test_the_package_serves_every_component_and_only_components():
    assert len(set(COMPONENTS)) == len(COMPONENTS)
    assert set(COMPONENTS) == _component_classes(), "provider/__main__.py COMPONENTS misses a component"


def test_the_schema_is_the_committed_snapshot(schema):
    assert SNAPSHOT.exists(), f"{SNAPSHOT.relative_to(PROJECT_ROOT)} is missing: {REFRESH}"
    expected = json.loads(SNAPSHOT.read_text())
    changes = list(_differences(expected, schema))
    assert not changes, (f"the package schema differs from {SNAPSHOT.relative_to(PROJECT_ROOT)} "
                         f"(if intended: {REFRESH}):\n" + "\n".join(changes[:40]))


def _differences(expected: Any, actual: Any, path: str = "") -> Iterator[str]:
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(expected.keys() | actual.keys()):
            where = f"{path}/{key}"
            if key not in actual:
                yield f"- {where}"
            elif key not in expected:
                yield f"+ {where}"
            else:
                yield from _differences(expected[key], actual[key], where)
    elif expected != actual:
        yield f"~ {path}: {json.dumps(expected)[:120]} -> {json.dumps(actual)[:120]}"


def test_every_component_is_a_component_resource_of_kong_aws(schema):
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    assert (schema["name"], schema["version"]) == ("kong-aws", pyproject["project"]["version"])
    assert sorted(schema["resources"]) == sorted(token(c.__name__) for c in COMPONENTS)
    for name, resource in schema["resources"].items():
        assert resource["isComponent"] is True, name
        assert resource["description"], f"{name} has no description (the class docstring)"
    # Nothing the components take refers to another package's resources: the schema depends on none.
    assert schema["dependencies"] == []


def test_every_type_reference_resolves_and_every_type_is_used(schema, types):
    text = json.dumps(schema)
    # pulumi.json#/Any (the Helm values' leaves) is one of Pulumi's built-in types.
    refs = set(re.findall(r'"\$ref": "(#/types/[^"]+)"', text))
    assert set(re.findall(r'"\$ref": "([^#][^"]*)"', text)) == {"pulumi.json#/Any"}
    assert refs <= types.keys(), f"dangling: {sorted(refs - types.keys())}"
    assert types.keys() <= refs, f"never used: {sorted(types.keys() - refs)}"


# ---------------------------------------------------------------------------------------------
# What a consumer relies on.

def test_konnect_ecs_gateway_inputs_and_outputs(schema):
    gateway = schema["resources"][token("KonnectEcsGateway")]
    assert gateway["requiredInputs"] == ["kong", "konnect", "region"]
    inputs = gateway["inputProperties"]
    assert inputs["kong"]["$ref"] == f"#/types/{token('KongArgs')}"
    assert inputs["konnect"]["$ref"] == f"#/types/{token('KonnectArgs')}"
    assert inputs["region"]["type"] == "string"
    assert inputs["loadBalancer"]["$ref"] == f"#/types/{token('LoadBalancerSettings')}"
    assert inputs["network"]["$ref"] == f"#/types/{token('NetworkArgs')}"
    assert set(inputs) == {"kong", "konnect", "region", "network", "certificate", "clusterCertPem",
                           "clusterCertKeyPem", "ecs", "loadBalancer", "gateway", "monitoring"}
    outputs = gateway["properties"]
    always = {"proxyUrl", "proxyHttpsUrl", "curlCheck", "dashboardUrl", "ecsClusterName", "ecsServiceName", "logGroupName",
              "controlPlaneEndpoint", "telemetryEndpoint", "dataPlaneCertificatePem"}
    # Managed control plane, or manual pinning with its two certificate slots.
    by_mode = {"konnectControlPlaneId", "konnectPinnedCertificateId", "konnectPinInstructions", "imagePullWarning",
               "dataPlaneCertificateSha256", "dataPlaneCertificateActiveSlot",
                       "dataPlaneCertificateSlotAPem", "dataPlaneCertificateSlotASha256", "dataPlaneCertificateSlotAExpiry",
                       "dataPlaneCertificateSlotBPem", "dataPlaneCertificateSlotBSha256", "dataPlaneCertificateSlotBExpiry"}
    assert set(outputs) == always | by_mode
    assert set(gateway["required"]) == always, "only the managed/manual outputs may be absent"
    assert all(outputs[name]["type"] == "string" for name in outputs)


def test_hybrid_eks_gateway_inputs_and_outputs(schema):
    gateway = schema["resources"][token("HybridEksGateway")]
    assert gateway["requiredInputs"] == ["kong", "region"]
    assert {"eks", "hybrid", "postgres", "network", "enterpriseLicense", "gateway", "monitoring"} <= \
        set(gateway["inputProperties"])
    assert gateway["inputProperties"]["gateway"]["$ref"] == f"#/types/{token('GatewaySettings')}"
    assert {"proxyUrl", "curlCheck", "dashboardUrl", "adminPortForward", "kubeconfig", "eksClusterName"} <= \
        set(gateway["required"])


def test_kong_args_require_only_the_version(types):
    kong = types[f"#/types/{token('KongArgs')}"]
    assert kong["required"] == ["version"]
    props = kong["properties"]
    assert set(props) == {"version", "image", "routerFlavor", "logLevel", "dataPlaneLabels", "imageSource",
                          "dockerHubCredentialsSecretArn", "pullThroughCachePrefix"}
    assert props["version"]["type"] == "string"
    assert props["routerFlavor"]["$ref"] == f"#/types/{token('RouterFlavor')}"
    assert props["dataPlaneLabels"]["type"] == "object"
    assert props["dataPlaneLabels"]["additionalProperties"]["type"] == "string"


def test_konnect_args_offer_both_ways_to_join(types):
    konnect = types[f"#/types/{token('KonnectArgs')}"]
    assert "required" not in konnect, "managed and manual each need different fields: none is always required"
    assert {"controlPlaneEndpoint", "telemetryEndpoint", "controlPlaneName", "token",
            "region"} <= set(konnect["properties"])
    # Outputs of other resources may feed the endpoints and the token.
    assert not any(konnect["properties"][name].get("plain")
                   for name in ("controlPlaneEndpoint", "telemetryEndpoint", "token"))


_ENUMS = [
    ("TlsMode", ["passthrough", "terminate"]),
    ("NatGateways", ["per-az", "single"]),
    ("KeyAlgorithm", ["ecdsa-p384", "rsa-2048", "rsa-4096"]),
    ("CpuArchitecture", ["X86_64", "ARM64"]),
    ("ClusterMtls", ["pki", "shared"]),
    ("PostgresMode", ["rds", "in-cluster"]),
    ("KonnectRegion", ["us", "eu", "au", "me", "in", "sg"]),
    ("RouterFlavor", ["traditional", "traditional_compatible", "expressions"]),
    ("LogLevel", ["debug", "info", "notice", "warn", "error", "crit", "alert", "emerg"]),
    ("Egress", ["nat-per-az", "nat-single", "public-ip"]),
    ("RolloutGateMode", ["full", "ecs", "off"]),
    ("CertificateSlot", ["a", "b"]),
]


@pytest.mark.parametrize("name, values", _ENUMS)
def test_enum_types(types, name, values):
    spec = types[f"#/types/{token(name)}"]
    assert spec["type"] == "string"
    assert sorted(enum_values(spec)) == sorted(values)


def test_every_enum_type_is_listed_above(types):
    assert {key.rsplit(":", 1)[1] for key, spec in types.items() if "enum" in spec} == {n for n, _ in _ENUMS}


#: Inputs that carry a private key, a token or a license. The analyzer has no way to mark a schema
#: property secret (schema.py writes no ``secret``); the components make these values secrets when
#: they receive them, and each description says so, for the reader of a generated SDK.
SECRET_INPUTS = [
    ("KonnectEcsGateway", "clusterCertKeyPem"), ("KonnectArgs", "token"),
    ("HybridEksGateway", "clusterCertKeyPem"), ("HybridEksGateway", "enterpriseLicense"),
    ("KongHybrid", "clusterCertKeyPem"), ("KongHybrid", "enterpriseLicense"),
    ("ClusterCertificate", "providedKeyPem"), ("ClusterCertificate", "caPrivateKeyPem"),
    ("DataPlaneTaskDefinition", "privateKeyPem"),
]


@pytest.mark.parametrize("owner, name", SECRET_INPUTS)
def test_secret_inputs_say_they_are_kept_secret(schema, types, owner, name):
    spec = schema["resources"].get(token(owner)) or types[f"#/types/{token(owner)}"]
    props = spec.get("inputProperties") or spec["properties"]
    assert "secret" in props[name]["description"].lower()
    assert "secret" not in props[name], "the analyzer learnt to mark secrets: mark these and drop this test"


# ---------------------------------------------------------------------------------------------
# The components' own annotations, as the schema shows them.

def test_descriptions_name_only_real_type_tokens(schema):
    named = set(re.findall(r"\bkong-aws:[a-z_]+:[A-Za-z]+", json.dumps(schema)))
    real = set(schema["resources"]) | set(schema["types"])
    assert named <= real, f"descriptions name type tokens that do not exist: {sorted(named - real)}"


#: The inputs a caller must give, by component; everything else has a default or is optional.
REQUIRED_INPUTS = {
    "Network": [], "ClusterCertificate": [], "EksCluster": ["region"], "KongHybrid": ["kong"],
    "ProxyLoadBalancer": ["subnetIds", "targetSecurityGroupId", "vpcId"],
    "DataPlaneTaskDefinition": ["certPem", "controlPlaneEndpoint", "kong", "privateKeyPem", "region",
                                "telemetryEndpoint"],
    "DataPlaneService": ["httpTargetGroupArn", "httpsTargetGroupArn", "securityGroupIds", "subnetIds",
                         "taskDefinitionArn"],
    "Postgres": ["namespace"], "KonnectEcsGateway": ["kong", "konnect", "region"], "ImageSource": ["kong", "region"],
    "HybridEksGateway": ["kong", "region"],
    "GatewayMonitoring": ["region"], "PodMetricsAccess": ["clusterName", "logGroupName", "namespace", "serviceAccount"],
    "GatewaySync": ["adminCaPem", "controlPlaneRelease", "document", "image", "namespace", "podLabels", "selectTag"],
    "KonnectGatewayConfiguration": ["apiUrl", "controlPlaneId", "entities", "token"],
}


def test_required_inputs_are_exactly_those_without_which_a_component_cannot_work(schema):
    required = {name.rsplit(":", 1)[-1]: sorted(resource.get("requiredInputs", []))
                for name, resource in schema["resources"].items()}
    assert required == REQUIRED_INPUTS


# ---------------------------------------------------------------------------------------------
# The provider's Construct: a program's inputs reach the Python components.

def test_inputs_map_to_python_names_enums_and_integers(provider):
    inputs = {
        "kong": {"version": "3.10.0.1", "routerFlavor": "expressions", "dataPlaneLabels": {"env": "prod"}},
        "konnect": {"controlPlaneEndpoint": "https://0123456789.us.cp0.konghq.com",
                    "telemetryEndpoint": "https://0123456789.us.tp0.konghq.com"},
        "region": "us-west-2",
        # Numbers cross the wire as floats.
        "ecs": {"cpu": 512.0, "memory": 1024.0, "cpuArchitecture": "ARM64"},
        "loadBalancer": {"tlsMode": "terminate", "certificateArn": "arn:aws:acm:us-west-2:123456789012:certificate/x"},
        "network": {"natGateways": "single", "availabilityZoneCount": 3.0},
    }
    mapped = provider.map_inputs(inputs, provider._component_defs["KonnectEcsGateway"])
    from components.ecs_task_definition import CpuArchitecture
    from components.kong_facts import RouterFlavor
    from components.network import NatGateways
    from components.proxy_load_balancer import TlsMode
    assert mapped == {
        "kong": {"version": "3.10.0.1", "router_flavor": RouterFlavor.EXPRESSIONS,
                 "data_plane_labels": {"env": "prod"}},
        "konnect": {"control_plane_endpoint": "https://0123456789.us.cp0.konghq.com",
                    "telemetry_endpoint": "https://0123456789.us.tp0.konghq.com"},
        "region": "us-west-2",
        "ecs": {"cpu": 512, "memory": 1024, "cpu_architecture": CpuArchitecture.ARM64},
        "load_balancer": {"tls_mode": TlsMode.TERMINATE,
                          "certificate_arn": "arn:aws:acm:us-west-2:123456789012:certificate/x"},
        "network": {"nat_gateways": NatGateways.SINGLE, "availability_zone_count": 3},
    }
    assert type(mapped["ecs"]["cpu"]) is int


REQUIRED_LOAD_BALANCER_INPUTS = {"vpcId": "vpc-0a1b2c3d4e5f60000", "subnetIds": ["subnet-0a1b2c3d4e5f60001"],
                                 "targetSecurityGroupId": "sg-0123456789abcdef0"}


def test_an_integer_input_may_be_an_output_and_stays_secret(provider):
    """An integer from another resource, or a secret, arrives as an output: its value becomes an
    int when it resolves (the SDK alone fails on it with a TypeError)."""
    definition = provider._component_defs["ProxyLoadBalancer"]

    def program() -> None:
        mapped = provider.map_inputs({"deregistrationDelaySeconds": pulumi.Output.secret(45.0), "internal": True,
                                      **REQUIRED_LOAD_BALANCER_INPUTS}, definition)
        pulumi.export("delay", mapped["deregistration_delay_seconds"])
        pulumi.export("delayType", mapped["deregistration_delay_seconds"].apply(lambda v: type(v).__name__))

    run = run_program(program, {"aws:region": "us-west-2"})
    assert run.outputs["delay"] == (45, True)
    assert run.outputs["delayType"] == ("int", True)
    with pytest.raises(TypeError):
        ComponentProvider.map_input_properties(provider, {"deregistrationDelaySeconds": pulumi.Output.secret(45.0),
                                                          **REQUIRED_LOAD_BALANCER_INPUTS},
                                               definition.inputs, definition.inputs_mapping, "ProxyLoadBalancer", "")


def test_the_sdk_still_leaves_integers_as_floats(provider):
    """Why ``KongAwsProvider`` exists: when Pulumi's own provider converts integers, drop it."""
    network = provider._component_defs["Network"]
    plain = ComponentProvider.map_input_properties(provider, {"availabilityZoneCount": 3.0}, network.inputs,
                                                   network.inputs_mapping, "Network", "")
    assert type(plain["availability_zone_count"]) is float, "the SDK converts integers now: remove KongAwsProvider"


@pytest.mark.parametrize("inputs, message", [
    ({"konnect": {}, "region": "us-west-2"}, "Missing required input 'kong'"),
    ({"kong": {}, "konnect": {}, "region": "us-west-2"}, "Missing required input 'kong.version'"),
    ({"kong": {"version": "3.10.0.1"}, "konnect": {}, "region": "us-west-2", "loadBalancer": {"tlsMode": "offload"}},
     "Invalid value offload"),
    ({"kong": {"version": "3.10.0.1"}, "konnect": {}, "region": "us-west-2", "ecs": {"cpu": 512.5}},
     "'ecs.cpu' on 'KonnectEcsGateway' must be a whole number, got 512.5"),
])
def test_the_provider_refuses_what_the_schema_forbids(provider, inputs, message):
    with pytest.raises(InputPropertyError, match=re.escape(message)):
        provider.map_inputs(inputs, provider._component_defs["KonnectEcsGateway"])


def _construct(provider: ComponentProvider, resource_type: str, inputs: dict, region: str = "us-west-2"):
    """Run ``provider.construct`` as the engine would ask it, under the mocks of tools/mocks.py;
    its state becomes the stack outputs (``(value, secret)``), plus ``urn``."""

    def program() -> None:
        result = provider.construct("pkg", resource_type, inputs)
        pulumi.export("urn", result.urn)
        for key, value in result.state.items():
            pulumi.export(key, value)

    return run_program(program, {"aws:region": region})


def test_construct_an_existing_vpc_network(provider, schema):
    subnets = {"publicSubnetIds": ["subnet-0a", "subnet-0b"], "privateSubnetIds": ["subnet-1a", "subnet-1b"]}
    run = _construct(provider, token("Network"), {"vpcId": "vpc-0123456789abcdef0", **subnets})
    assert run.outputs.pop("urn") == ("urn:pulumi:test::kong-aws::kong-aws:index:Network::pkg", False)
    assert run.outputs == {"vpcId": ("vpc-0123456789abcdef0", False),
                           "publicSubnetIds": (subnets["publicSubnetIds"], False),
                           "privateSubnetIds": (subnets["privateSubnetIds"], False)}
    assert set(run.outputs) == set(schema["resources"][token("Network")]["properties"])
    assert [r.type for r in run.registrations if r.type != "pulumi:pulumi:Stack"] == [token("Network")]


def test_construct_a_certificate_keeps_its_key_secret(provider, schema):
    run = _construct(provider, token("ClusterCertificate"), {"commonName": "kong_clustering"})
    run.outputs.pop("urn")
    assert set(run.outputs) == set(schema["resources"][token("ClusterCertificate")]["properties"])
    key, key_secret = run.outputs["privateKeyPem"]
    cert, cert_secret = run.outputs["certPem"]
    assert key.startswith("-----BEGIN") and "PRIVATE KEY" in key and key_secret
    assert cert.startswith("-----BEGIN CERTIFICATE") and not cert_secret
    assert [r.type for r in run.registrations if r.parent and "ClusterCertificate::pkg" in r.parent] == [
        "tls:index/privateKey:PrivateKey", "tls:index/selfSignedCert:SelfSignedCert"]


_VOLATILE = [re.compile(r"-----BEGIN ([A-Z ]+)-----.*?-----END \1-----", re.S),
             re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})"),
             re.compile(r"\b[0-9a-f]{64}\b")]


def _registered(run) -> list[tuple[str, str, str | None, str]]:
    """What a run registered below the stack, with certificate bodies, times and digests masked
    (a certificate made a moment later differs in its validity dates)."""
    def masked(inputs: dict) -> str:
        text = json.dumps(mask_secrets(inputs), sort_keys=True)
        for pattern in _VOLATILE:
            text = pattern.sub("[volatile]", text)
        return text
    return sorted((r.urn, r.type, r.parent, masked(r.inputs))
                  for r in run.registrations if r.type != "pulumi:pulumi:Stack")


def test_a_gateway_from_another_language_is_the_gateway_this_program_builds(provider, base_config):
    """KonnectEcsGateway through the package, with inputs as a YAML or TypeScript program sends them
    (camelCase, numbers as floats), registers what this repository's program registers for the same
    stack config: same resources, same names, same inputs."""
    base_config["kong-aws:ecs"] = {"cpu": 512, "memory": 1024, "desiredCount": 3}
    base_config["kong-aws:network"] = {"availabilityZoneCount": 3}
    base_config["kong-aws:loadBalancer"] = {"tlsMode": "passthrough"}
    inputs = {"kong": {"version": base_config["kong-aws:kong"]["version"]},
              "konnect": dict(base_config["kong-aws:konnect"]), "region": base_config["aws:region"],
              "ecs": {"cpu": 512.0, "memory": 1024.0, "desiredCount": 3.0},
              "network": {"availabilityZoneCount": 3.0}, "loadBalancer": {"tlsMode": "passthrough"}}
    from components.modes import COMPONENT_NAME
    program = run_program(main_program(), config_text(base_config))

    def construct() -> None:
        provider.construct(COMPONENT_NAME, token("KonnectEcsGateway"), inputs)

    package = run_program(construct, config_text(base_config))
    assert _registered(package) == _registered(program)


# ---------------------------------------------------------------------------------------------
# The examples: YAML programs that use the package.

def _is_expression(value: Any) -> bool:
    return (isinstance(value, str) and "${" in value) or (
        isinstance(value, dict) and len(value) == 1 and next(iter(value)).lower().startswith("fn::"))


def _check_value(value: Any, spec: dict, where: str, types: dict) -> Iterator[str]:
    if _is_expression(value):
        return
    ref = spec.get("$ref")
    if ref:
        target = types[ref]
        if "enum" in target:
            if value not in enum_values(target):
                yield f"{where}: {value!r} is not one of {enum_values(target)}"
        elif not isinstance(value, dict):
            yield f"{where}: an object ({ref.rsplit(':', 1)[-1]}) is expected, got {value!r}"
        else:
            yield from _check_object(value, target["properties"], target.get("required", []), where, types)
        return
    kind = spec.get("type")
    ok = {"string": isinstance(value, str), "boolean": isinstance(value, bool),
          "integer": isinstance(value, int) and not isinstance(value, bool),
          "number": isinstance(value, (int, float)) and not isinstance(value, bool),
          "array": isinstance(value, list), "object": isinstance(value, dict)}[kind]
    if not ok:
        hint = " (YAML reads 3.10 as a number: quote it)" if kind == "string" else ""
        article = "an" if kind[0] in "aeiou" else "a"
        yield f"{where}: {article} {kind} is expected, got {value!r}{hint}"
    elif kind == "array":
        for index, item in enumerate(value):
            yield from _check_value(item, spec["items"], f"{where}[{index}]", types)
    elif kind == "object" and "additionalProperties" in spec:
        for key, item in value.items():
            yield from _check_value(item, spec["additionalProperties"], f"{where}.{key}", types)


def _check_object(values: dict, props: dict, required: list, where: str, types: dict) -> Iterator[str]:
    for name in required:
        if name not in values:
            yield f"{where}: the required {name} is missing"
    for name, value in values.items():
        if name not in props:
            yield f"{where}.{name}: not in the schema (it has {sorted(props)})"
        else:
            yield from _check_value(value, props[name], f"{where}.{name}", types)


def _read_example(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def test_example_uses_the_package_from_this_repository(path):
    program = _read_example(path)
    assert program["runtime"] == "yaml"
    assert (path.parent / program["packages"][PACKAGE]).resolve() == PROVIDER_DIR
    assert yaml.safe_load((PROVIDER_DIR / "PulumiPlugin.yaml").read_text()) == {"runtime": "python"}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def test_example_sets_only_what_the_schema_declares(path, schema, types):
    problems = _program_problems(_read_example(path), schema, types)
    assert not problems, f"{path.relative_to(PROJECT_ROOT)}:\n" + "\n".join(problems)


def test_the_example_check_finds_what_a_consumer_gets_wrong(schema, types):
    program = _read_example(PROJECT_ROOT / "examples" / "yaml-konnect-ecs" / "Pulumi.yaml")
    properties = program["resources"]["gateway"]["properties"]
    del properties["konnect"]
    properties["kong"] = {"version": 3.10, "routerFlavour": "expressions"}
    properties["loadBalancer"] = {"tlsMode": "offload"}
    properties["ecs"]["cpu"] = "512"
    program["outputs"]["url"] = "${gateway.proxyURL}"
    program["outputs"]["zone"] = "${zone}"
    assert sorted(_program_problems(program, schema, types)) == sorted([
        "gateway: the required konnect is missing",
        "gateway.kong.version: a string is expected, got 3.1 (YAML reads 3.10 as a number: quote it)",
        "gateway.kong.routerFlavour: not in the schema (it has ['dataPlaneLabels', 'dockerHubCredentialsSecretArn', "
        "'image', 'imageSource', 'logLevel', 'pullThroughCachePrefix', 'routerFlavor', 'version'])",
        "gateway.loadBalancer.tlsMode: 'offload' is not one of ['passthrough', 'terminate']",
        "gateway.ecs.cpu: an integer is expected, got '512'",
        "${gateway.proxyURL}: kong-aws:index:KonnectEcsGateway has no output proxyURL",
        "${zone} is not declared",
    ])


def _program_problems(program: dict, schema: dict, types: dict) -> list[str]:
    """What in a Pulumi YAML ``program`` does not fit the package schema: unknown types and
    properties, missing required inputs, values of the wrong type or outside an enum, outputs a
    resource does not have, and ``${name}`` references to nothing the program declares."""
    resources = program["resources"]
    ours = {name: spec for name, spec in resources.items() if spec["type"].startswith(f"{PACKAGE}:")}
    problems: list[str] = [] if ours else [f"no {PACKAGE} resource"]
    for name, spec in ours.items():
        typ = spec["type"] if spec["type"].count(":") == 2 else token(spec["type"].split(":", 1)[1])
        resource = schema["resources"].get(typ)
        if resource is None:
            problems.append(f"{name}: {spec['type']} is not a resource of the package")
            continue
        problems += _check_object(spec.get("properties", {}), resource["inputProperties"],
                                  resource["requiredInputs"], name, types)
    # Every ${resource.output} the program reads is an output of that resource.
    for ref_name, prop in re.findall(r"\$\{([A-Za-z0-9_-]+)\.([A-Za-z0-9_]+)", json.dumps(program)):
        if ref_name in ours:
            typ = ours[ref_name]["type"]
            typ = typ if typ.count(":") == 2 else token(typ.split(":", 1)[1])
            if prop not in schema["resources"][typ]["properties"]:
                problems.append(f"${{{ref_name}.{prop}}}: {typ} has no output {prop}")
    # Every ${name} is a variable, config key or resource the program declares.
    declared = set(resources) | set(program.get("variables", {})) | set(program.get("config", {}))
    for ref_name in re.findall(r"\$\{([A-Za-z0-9_:-]+)[.}]", json.dumps(program)):
        if ref_name not in declared:
            problems.append(f"${{{ref_name}}} is not declared")
    return problems


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def test_example_invokes_exist_in_the_pinned_aws_sdk(path):
    """The examples read the region with ``aws:getRegion``, at the pulumi-aws version the package
    runs with (one AWS plugin for both), and return a field that version has."""
    for variable in _read_example(path).get("variables", {}).values():
        invoke = variable.get("fn::invoke") if isinstance(variable, dict) else None
        if not invoke:
            continue
        namespace, function = invoke["function"].split(":")
        assert namespace == "aws"
        python_name = re.sub(r"(?<!^)(?=[A-Z])", "_", function).lower()
        module = importlib.import_module(f"pulumi_aws.{python_name}")
        result = getattr(module, f"{function[0].upper()}{function[1:]}Result")
        assert isinstance(inspect.getattr_static(result, invoke["return"]), property)
        assert invoke["options"]["version"] == importlib.metadata.version("pulumi-aws")


# ---------------------------------------------------------------------------------------------
# The installable package.

def test_project_table_packages_the_components_with_their_dependencies():
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    project = pyproject["project"]
    assert project["name"] == PACKAGE and project["requires-python"] == ">=3.11"
    assert pyproject["tool"]["setuptools"]["packages"] == ["components"]
    declared = {Requirement(line).name.lower().replace("_", "-"): Requirement(line)
                for line in project["dependencies"]}
    direct = [Requirement(line.split("#")[0]) for line in (PROJECT_ROOT / "requirements.in").read_text().splitlines()
              if line.split("#")[0].strip()]
    # mypy type-checks the program before `pulumi up` (Pulumi.yaml); the library does not need it.
    program_only = {"mypy"}
    missing = sorted(r.name for r in direct
                     if r.name.lower().replace("_", "-") not in declared and r.name not in program_only)
    assert not missing, f"requirements.in has {missing}, [project].dependencies does not"
    # The versions the tests run with (requirements.txt's pins) satisfy every range.
    unmet = {name: (str(req.specifier), importlib.metadata.version(name))
             for name, req in declared.items() if not req.specifier.contains(importlib.metadata.version(name))}
    assert not unmet, f"installed versions outside [project].dependencies: {unmet}"


def test_provider_requirements_install_the_pins_and_this_project():
    lines = [line.strip() for line in (PROVIDER_DIR / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert lines == ["-r ../requirements.txt", "-e .."]
    assert (PROVIDER_DIR / "../requirements.txt").resolve() == PROJECT_ROOT / "requirements.txt"


# ---------------------------------------------------------------------------------------------
# The plugin process, as Pulumi runs it (`python provider <engine address>`), over gRPC.

def test_the_plugin_serves_its_schema_over_grpc(schema):
    import grpc
    from google.protobuf import empty_pb2
    from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

    assert _plugin is not None and _plugin.stdout is not None
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(_plugin.stdout, selectors.EVENT_READ)
            ready = selector.select(timeout=60)
        port = _plugin.stdout.readline().strip() if ready else ""
        if not port:
            _plugin.kill()
            _plugin.wait()
            _plugin_stderr.seek(0)
            pytest.fail(f"the plugin did not start: {_plugin_stderr.read()[-3000:]}")
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = provider_pb2_grpc.ResourceProviderStub(channel)
            info = stub.GetPluginInfo(empty_pb2.Empty(), timeout=30)
            served = json.loads(stub.GetSchema(provider_pb2.GetSchemaRequest(version=0), timeout=30).schema)
        assert info.version == schema["version"]
        assert served == schema
    finally:
        if _plugin.poll() is None:
            _plugin.terminate()
            _plugin.wait(timeout=10)


def _update_snapshot() -> None:
    schema = json.loads(make_provider().schema)
    SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
    SNAPSHOT.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
    print(f"wrote {SNAPSHOT.relative_to(PROJECT_ROOT)}: {len(schema['resources'])} resources, "
          f"{len(schema['types'])} types")


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit(f"usage: {REFRESH}")
    _update_snapshot()


def test_every_property_is_described_inherited_fields_included(schema):
    """Settings are declared once and extended (``ProxyLoadBalancerArgs`` extends
    ``LoadBalancerSettings``); the provider finds their docstrings where they are declared, so the
    generated SDKs document every input and output."""
    undocumented = [f"{owner}.{name}"
                    for owner, spec in [*schema["resources"].items(), *schema["types"].items()]
                    for group in ("inputProperties", "properties")
                    for name, prop in spec.get(group, {}).items() if not prop.get("description")]
    assert not undocumented
