"""The offline render of every example stack is the one committed under tests/golden/ (tools/golden.py).

A failure prints the unified diff. When the change is intended, ``python -m tools.golden --update``
rewrites the golden files; commit them with the change so the pull request shows it.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import example_run
from tools import golden

STACKS = golden.stacks()


@pytest.mark.parametrize("stack", STACKS)
def test_render_matches_the_golden_files(stack):
    assert golden.read_golden(stack), f"tests/golden/{stack}/ is missing: run python -m tools.golden --update {stack}"
    changes = golden.check_stack(stack, result=example_run(stack))
    assert not changes, (f"the render of {stack} differs from tests/golden/{stack}/ (if intended: "
                         f"python -m tools.golden --update {stack}):\n{changes}")


def test_every_golden_render_is_of_an_example_stack():
    assert sorted(p.name for p in golden.GOLDEN_DIR.iterdir() if p.is_dir()) == STACKS


PEM = "-----BEGIN CERTIFICATE-----\nMIIBwzCCAUmgAwIBAgIQ\nAMBAAE=\n-----END CERTIFICATE-----\n"
DIGEST = "f23e1c7f64a5873a93b16f4601f5a33f034c38f98f359eaf430213f6a512dee2"


def test_volatile_values_are_masked_wherever_they_sit():
    container_definitions = json.dumps([{"dockerLabels": {"kong-aws.cluster-cert-sha256": DIGEST},
                                         "image": f"kong/kong-gateway@sha256:{DIGEST}"}])
    masked = golden.mask({
        "certPem": PEM, "bundle": PEM + PEM.replace("CERTIFICATE", "CERTIFICATE REQUEST"),
        "annotations": {"kong-aws/cluster-cert-sha256": DIGEST},
        "containerDefinitions": container_definitions,
        "validityEndTime": "2029-11-30T08:09:06Z", "notAfter": "2029-11-30T08:09:06.123+00:00",
    })
    assert masked["certPem"] == "-----BEGIN CERTIFICATE-----[volatile]-----END CERTIFICATE-----\n"
    assert masked["bundle"].count("[volatile]") == 2 and "MII" not in masked["bundle"]
    assert masked["annotations"] == {"kong-aws/cluster-cert-sha256": "[volatile]"}
    assert json.loads(masked["containerDefinitions"]) == [{
        "dockerLabels": {"kong-aws.cluster-cert-sha256": "[volatile]"},
        "image": f"kong/kong-gateway@sha256:{DIGEST}"}]
    assert masked["validityEndTime"] == masked["notAfter"] == "[volatile]"


def test_stable_values_are_kept():
    stable = {"image": f"kong/kong-gateway@sha256:{DIGEST}", "id": DIGEST, "date": "2029-11-30",
              "ports": [8000, 8443], "labels": {"sha256-note": "not a digest"}}
    assert golden.mask(stable) == stable


def test_diff_names_the_file_and_shows_the_change():
    text = golden.diff({"resources.json": "a\nb\n", "gone.json": "x\n"},
                       {"resources.json": "a\nc\n", "new.json": "y\n"}, "dev")
    assert "--- golden/dev/resources.json\n+++ render/dev/resources.json\n" in text
    assert "-b\n+c\n" in text
    assert "+++ /dev/null" in text and "--- /dev/null" in text
