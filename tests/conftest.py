"""Shared test fixtures: run the real program afresh under the mocks of tools/mocks.py.

References are read in place from ../shared/reference (next to the project checkout).
"""

from __future__ import annotations

import copy
import functools
import gc
import json
import os
import subprocess
import sys
import tempfile
import threading
from typing import Any, Callable, Optional

import pytest

# A program run under the mocks allocates a few hundred thousand short-lived objects (asyncio tasks,
# Outputs, futures), while the SDKs, the references and the per-session runs stay alive all session.
# At CPython's default thresholds (700, 10, 10) the collector walks that long-lived heap in a full
# collection dozens of times per worker (about 9 s of a 33 s run, measured with gc.callbacks);
# collecting the young generation less often and the old one rarely keeps the garbage collected at
# a fraction of that (peak memory 0.4 GB a worker, was 0.36). Set before the imports below,
# so that collection (importing the SDKs and every test module) benefits too.
gc.set_threshold(20_000, 10, 100)

from tools.mocks import PROJECT_ROOT, RunResult, main_program, run_program

REFERENCE = PROJECT_ROOT.parent / "shared" / "reference"
#: The command pulumi-language-python runs when ``typechecker: mypy`` is set (Pulumi.yaml).
MYPY = [sys.executable, "-m", "mypy", "--exclude", ".venv", "."]
#: Where the session's mypy run writes ``output`` and, when it ends, ``code`` (tests/test_typecheck.py).
MYPY_DIR_ENV = "KONG_AWS_TEST_MYPY_DIR"


def pytest_configure(config) -> None:
    """Start mypy (tests/test_typecheck.py) once per session, in the process that runs it: the
    only process, or pytest-xdist's controller, whose workers inherit where it writes."""
    if os.environ.get("PYTEST_XDIST_WORKER") or os.environ.get(MYPY_DIR_ENV):
        return
    directory = tempfile.mkdtemp(prefix="kong-aws-mypy-")
    os.environ[MYPY_DIR_ENV] = directory
    output = open(os.path.join(directory, "output"), "w")
    process = subprocess.Popen(MYPY, cwd=PROJECT_ROOT, stdout=output, stderr=subprocess.STDOUT, text=True)

    def record() -> None:
        code = process.wait()
        output.close()
        with open(os.path.join(directory, "code"), "w") as handle:
            handle.write(str(code))

    threading.Thread(target=record, daemon=True).start()

    def stop() -> None:
        # A deselected or interrupted run does not leave mypy running.
        if process.poll() is None:
            process.kill()
            process.wait()
        os.environ.pop(MYPY_DIR_ENV, None)

    config.add_cleanup(stop)
SEEDS = PROJECT_ROOT.parent / "shared" / "seeds"

#: A valid konnect-ecs configuration (structured; ``config_text`` turns it into what Pulumi hands
#: the program). Tests copy it and change one thing.
BASE_CONFIG: dict[str, Any] = {
    "aws:region": "us-west-2",
    "kong-aws:mode": "konnect-ecs",
    "kong-aws:kong": {"version": "3.10.0.1"},
    "kong-aws:konnect": {
        "controlPlaneEndpoint": "https://0123456789.us.cp0.konghq.com",
        "telemetryEndpoint": "https://0123456789.us.tp0.konghq.com",
    },
}


@functools.lru_cache(maxsize=None)
def _example_run(stack: str) -> RunResult:
    from tools.render import run_stack
    return run_stack(stack)


def example_run(stack: str) -> RunResult:
    """What the program registers for example stack ``stack`` (``Pulumi.<stack>.yaml``), run once
    per test session (a program run costs a quarter of a second); each caller gets its own copy."""
    return copy.deepcopy(_example_run(stack))


def example_render(stack: str, out) -> RunResult:
    """:func:`tools.render.render` of an example stack into ``out``, from :func:`example_run`."""
    from tools.render import write_render
    return write_render(example_run(stack), out, stack)


def config_text(config: dict[str, Any]) -> dict[str, str]:
    """Structured config -> the ``{key: text}`` map Pulumi hands a program (objects as JSON)."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}


@pytest.fixture
def base_config() -> dict[str, Any]:
    """A deep copy of :data:`BASE_CONFIG` to modify."""
    return copy.deepcopy(BASE_CONFIG)


@pytest.fixture
def run_stack() -> Callable[..., RunResult]:
    """Run ``__main__.py`` under the mocks: ``run_stack(config, secret_keys=None, stack="test")``."""

    def run(config: dict[str, Any], secret_keys: Optional[set[str]] = None, stack: str = "test") -> RunResult:
        return _cached_run(json.dumps(config, sort_keys=True), tuple(sorted(secret_keys or ())), stack,
                           os.environ.get("KONNECT_TOKEN"), _harness())

    return run


def _harness() -> tuple:
    """What a run depends on besides its config: the mock classes and top-level components as
    they are now. A test that replaces one (monkeypatch) gets a run of its own."""
    import components.hybrid_eks
    import components.konnect_ecs
    import tools.mocks

    return (id(tools.mocks.RecordingMonitor), id(tools.mocks.FakeCloud.new_resource), id(tools.mocks.FakeCloud.call),
            id(components.konnect_ecs.KonnectEcsGateway), id(components.hybrid_eks.HybridEksGateway))


_ORIGINAL_HARNESS: list[tuple] = []


@functools.lru_cache(maxsize=None)
def _run_once(config_json: str, secret_keys: tuple, stack: str, token: Optional[str], harness: tuple) -> RunResult:
    return run_program(main_program(), config_text(json.loads(config_json)), set(secret_keys) or None, stack=stack)


def _cached_run(config_json: str, secret_keys: tuple, stack: str, token: Optional[str], harness: tuple) -> RunResult:
    """A program run per distinct config (a quarter of a second each), shared by the tests of a
    worker that ask for the same; each gets its own copy. Runs under a replaced harness are not kept."""
    if not _ORIGINAL_HARNESS or harness != _ORIGINAL_HARNESS[0]:
        return run_program(main_program(), config_text(json.loads(config_json)), set(secret_keys) or None,
                           stack=stack)
    return copy.deepcopy(_run_once(config_json, secret_keys, stack, token, harness))


@pytest.fixture(scope="session")
def botocore_loader():
    """botocore's loader for the AWS API models it ships (offline)."""
    import botocore.loaders

    return botocore.loaders.create_loader()


def reference_json(relative: str) -> Any:
    """Load a JSON file from ../shared/reference."""
    return json.loads((REFERENCE / relative).read_text())


def validate_aws_request(loader, service: str, operation: str, params: dict) -> list[str]:
    """Check ``params`` against botocore's model of ``service``'s ``operation`` input.

    Returns the problems found (empty when valid): botocore's own checks (unknown and missing
    parameters, types, lengths, ranges) plus enum membership, which botocore does not check.
    """
    import botocore.model
    import botocore.validate

    model = botocore.model.ServiceModel(loader.load_service_model(service, "service-2"), service)
    shape = model.operation_model(operation).input_shape
    report = botocore.validate.ParamValidator().validate(params, shape)
    problems = [line for line in report.generate_report().splitlines() if line.strip()] if report.has_errors() else []

    def enums(value: Any, shape, path: str) -> None:
        if shape.type_name == "structure" and isinstance(value, dict):
            for key, item in value.items():
                if key in shape.members:
                    enums(item, shape.members[key], f"{path}.{key}")
        elif shape.type_name == "list" and isinstance(value, list):
            for index, item in enumerate(value):
                enums(item, shape.member, f"{path}[{index}]")
        elif shape.type_name == "map" and isinstance(value, dict):
            for key, item in value.items():
                enums(item, shape.value, f"{path}.{key}")
        elif shape.type_name == "string" and shape.enum and value not in shape.enum:
            problems.append(f"{path}: {value!r} is not one of {shape.enum}")

    enums(params, shape, operation)
    return problems


def self_signed_pem(common_name: str = "kong_clustering", key_format: str = "pkcs8",
                    days: int = 30) -> tuple[str, str]:
    """A real self-signed certificate and its private key, both PEM, as the Konnect UI or openssl
    make them: ECDSA P-384 with the key in ``pkcs8`` (``PRIVATE KEY``) or ``ec`` (``EC PRIVATE KEY``)
    form, or RSA 2048 (``rsa``: ``RSA PRIVATE KEY``); valid for ``days`` from now."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID

    key = (rsa.generate_private_key(public_exponent=65537, key_size=2048) if key_format == "rsa"
           else ec.generate_private_key(ec.SECP384R1()))
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=days)).sign(key, hashes.SHA384()))
    private_format = (serialization.PrivateFormat.PKCS8 if key_format == "pkcs8"
                      else serialization.PrivateFormat.TraditionalOpenSSL)
    key_pem = key.private_bytes(serialization.Encoding.PEM, private_format, serialization.NoEncryption()).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem


def readme_commands() -> list[str]:
    """The shell commands of README.md's ```bash blocks, one per non-empty line."""
    import re

    readme = (PROJECT_ROOT / "README.md").read_text()
    return [line.strip() for block in re.findall(r"```bash\n(.*?)```", readme, re.S)
            for line in block.splitlines() if line.strip()]


def readme_test_command() -> str:
    """The README's test command (the one CI runs): the line that ends in ``-m pytest``."""
    return next(c for c in readme_commands() if c.endswith("-m pytest"))


def pytest_collection_finish(session) -> None:
    # The SDKs the tests import make a large, long-lived heap; every garbage collection of the
    # oldest generation would walk it again. Set it aside once collected (gc.freeze; the thresholds
    # at the top of this module keep such collections rare afterwards).
    gc.collect()
    gc.freeze()
    # The harness as the tests found it, before any test replaced a part of it (_cached_run).
    _ORIGINAL_HARNESS[:] = [_harness()]


@functools.lru_cache(maxsize=None)
def konnect_subset() -> Any:
    """../shared/reference/konnect-control-planes-subset.json, read once per session (the fake
    Konnect builds its schema validators once per subset object). Read only."""
    return reference_json("konnect-control-planes-subset.json")


@pytest.fixture
def konnect():
    """A fresh fake Konnect on 127.0.0.1 (tests/fake_konnect.py) that accepts
    :data:`tests.fake_konnect.TEST_TOKEN`; fails the test if it saw a request or gave an answer
    outside the spec."""
    from tests.fake_konnect import TEST_TOKEN, FakeKonnect

    subset = konnect_subset()
    fake = FakeKonnect(TEST_TOKEN, subset["schemas"], subset["paths"]).start()
    try:
        yield fake
    finally:
        fake.stop()
    assert fake.problems == [], "requests or answers outside the Konnect spec"


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """The waits tenacity asks for between attempts (seconds), recorded instead of slept."""
    import types

    import tenacity

    waited: list[float] = []
    monkeypatch.setattr(tenacity.nap, "time", types.SimpleNamespace(sleep=waited.append))
    return waited
