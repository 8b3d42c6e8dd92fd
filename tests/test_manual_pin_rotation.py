"""konnect-ecs with manual pinning: the data planes never roll onto a certificate nobody pinned.

Without a Konnect token the program cannot pin, so it keeps two certificate slots
(``kong-aws:certificate.activeSlot``, ``slotGenerations``) and lets the tasks present a certificate
only when ``kong-aws:certificate.pinnedSha256`` confirms it (components/konnect_ecs.py
``check_presented_certificate``). Each test runs the dev stack (manual pinning) twice under the mocks,
the first run standing for the engine's state (tools.mocks ``prior``), and asserts the plan
(tools.plan) or the failure.

Sources for what the engine and pulumi-tls do:
- pulumi-tls replaces a certificate on any input change, and on ``pulumi up`` inside
  ``early_renewal_hours`` of its expiry (terraform-provider-tls, internal/provider/common_cert.go
  ``modifyPlanIfCertificateReadyForRenewal``: ``ready_for_renewal`` unknown, RequiresReplace). The
  mocks replace only on changed inputs, so a test stands the renewal in by changing the recorded
  inputs of the certificate in the state: the program's are unchanged, the certificate is replaced.
- A ``replacementTrigger`` replaces a resource when it changes between two set values; one that
  appears on an upgrade does not (pulumi/pulumi#20936, tools/plan.py).
- A program that fails never registers the resources waiting on the failed value, and a failed
  update deletes nothing (Pulumi deletes replaced resources at the end of a successful update),
  so the certificate secret version and task definition in the state stay those the tasks run.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import json
import types

import pulumi
import pytest
from pulumi.runtime.settings import SETTINGS
from pulumi.runtime.stack import wait_for_rpcs
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

import tools.mocks
from components.config import ConfigError, load_stack_config
from tests.conftest import example_run
from tools.mocks import PROJECT_ROOT, RunResult, plain_values, run_program
from tools.plan import CREATE, REPLACE, SAME, UPDATE, plan
from tools.render import read_stack_config

GATEWAY = "urn:pulumi:dev::kong-aws::kong-aws:index:KonnectEcsGateway"
CERTIFICATE = "kong-aws:index:ClusterCertificate"
#: Slot a is the certificate every stack had before the slots: its URN and inputs as the program
#: registered them then (tests/golden/dev/resources.json at commit 49d4822; the key is a secret).
SLOT_A_CERT = f"{GATEWAY}${CERTIFICATE}$tls:index/selfSignedCert:SelfSignedCert::kong-data-plane-cert-cert"
SLOT_A_KEY = f"{GATEWAY}${CERTIFICATE}$tls:index/privateKey:PrivateKey::kong-data-plane-cert-key"
SLOT_A_CERT_INPUTS_BEFORE_SLOTS = {
    "subject": {"commonName": "kong_clustering"}, "isCaCertificate": False, "earlyRenewalHours": 720,
    "allowedUses": ["digital_signature", "client_auth"], "validityPeriodHours": 26280, "setSubjectKeyId": True}
SLOT_A_KEY_INPUTS_BEFORE_SLOTS = {"ecdsaCurve": "P384", "algorithm": "ECDSA"}
SLOT_B_CERT = f"{GATEWAY}${CERTIFICATE}$tls:index/selfSignedCert:SelfSignedCert::kong-data-plane-cert-b-cert"
SLOTS_SINCE = f"{GATEWAY}$tls:index/selfSignedCert:SelfSignedCert::kong-cert-slots-since"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
SERVICE = "aws:ecs/service:Service"
ROLLOUT_GATE = "pulumi-python:dynamic/ecs:RolloutGate"


def _dev(prior: RunResult | None, **certificate) -> RunResult:
    """The dev stack with ``kong-aws:certificate`` set to ``certificate`` (camelCase keys)."""
    config, secrets, project = read_stack_config("dev")
    if certificate:
        config["kong-aws:certificate"] = json.dumps(certificate)
    return run_program(PROJECT_ROOT / "__main__.py", config, secrets, project=project, stack="dev", prior=prior)


def _output(run: RunResult, key: str) -> str:
    return run.outputs[key][0]


def _task_secret(run: RunResult) -> dict:
    return json.loads(plain_values(run.one(SECRET_VERSION).inputs["secretString"]))


def _failed(monkeypatch, prior: RunResult | None, **certificate) -> tuple[str, RunResult]:
    """Run the dev stack expecting the update to fail; the error and what the program registered
    before it failed (as the engine's state now holds it: those registrations over ``prior``'s)."""
    monitors: list = []

    class Recording(tools.mocks.RecordingMonitor):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            monitors.append(self)

    monkeypatch.setattr(tools.mocks, "RecordingMonitor", Recording)
    with pytest.raises(pulumi.RunError) as error:
        _dev(prior, **certificate)
    _settle()
    monkeypatch.undo()
    registered = {r.urn: r for r in monitors[0].registrations}
    state = [registered.get(r.urn, r) for r in (prior.registrations if prior else [])]
    return str(error.value), RunResult(state, {})


def _settle() -> None:
    """Let a failed run's outstanding registrations end (they fail too), stop what is left and
    forget it, as ``pulumi.runtime.test`` does before a run; else the next run would raise the
    failed run's errors."""
    for _ in range(100):
        try:
            _sync_await(wait_for_rpcs())
            break
        except Exception:  # noqa: BLE001 each outstanding failure, once
            continue
    loop = _ensure_event_loop()
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    SETTINGS.rpc_manager.clear()
    SETTINGS.outputs.clear()
    # The outputs derived from the refused certificate hold the same error; asyncio would log each
    # as "never retrieved" when it is collected.
    loop.set_exception_handler(_quiet_refusals)


def _quiet_refusals(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    if not str(context.get("exception", "")).startswith("kong-aws:certificate.pinnedSha256:"):
        loop.default_exception_handler(context)


def _at(monkeypatch, moment: datetime.datetime) -> None:
    """Make the fake cloud's pulumi-tls issue certificates at ``moment`` (not before = then)."""

    class Then(datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return moment

    monkeypatch.setattr(tools.mocks, "datetime", types.SimpleNamespace(
        datetime=Then, timedelta=datetime.timedelta, timezone=datetime.timezone))


def _renewed_by_pulumi_tls(state: RunResult) -> RunResult:
    """``state`` as pulumi-tls sees slot a's certificate when it is inside its early renewal
    window: it will be replaced although the program's inputs did not change (see the module
    docstring for how the mocks stand this in)."""
    state = copy.deepcopy(state)
    cert = state.by_urn()[SLOT_A_CERT]
    cert.inputs["earlyRenewalHours"] = "ready_for_renewal"
    return state


def test_an_upgrade_keeps_slot_a_and_plans_no_task_definition_change():
    """dev, upgraded from the release before the slots with its config unchanged: slot a is the
    certificate it had (same URN and inputs, so pulumi-tls does not replace it, and its new
    replacementTrigger does not either), the tasks keep presenting it, and the update only
    creates slot b and the slots' start."""
    today = example_run("dev")
    cert, key = today.by_urn()[SLOT_A_CERT], today.by_urn()[SLOT_A_KEY]
    assert {k: v for k, v in plain_values(cert.inputs).items() if k != "privateKeyPem"} == \
        SLOT_A_CERT_INPUTS_BEFORE_SLOTS
    assert plain_values(key.inputs) == SLOT_A_KEY_INPUTS_BEFORE_SLOTS

    # The state of that release: no slot b, no slots' start, no replacement triggers.
    new = ("kong-data-plane-cert-b", "kong-cert-slots-since")
    earlier = copy.deepcopy(today)
    earlier.registrations = [r for r in earlier.registrations if not r.name.startswith(new)]
    for registration in earlier.registrations:
        registration.options["replacementTrigger"] = None
    after = _dev(earlier)
    steps = plan(earlier, after)
    assert steps.steps[SLOT_A_CERT].op == SAME and steps.steps[SLOT_A_KEY].op == SAME
    assert steps.ops(SECRET_VERSION) == [SAME] and steps.ops(TASK_DEFINITION) == [SAME]
    assert {urn.rsplit("::", 1)[1]: op for urn, op in steps.changes().items()} == {
        "kong-data-plane-cert-b": CREATE, "kong-data-plane-cert-b-key": CREATE, "kong-data-plane-cert-b-cert": CREATE,
        "kong-cert-slots-since-key": CREATE, "kong-cert-slots-since": CREATE}
    assert _task_secret(after)["cert"] == _output(after, "dataPlaneCertificateSlotAPem") == \
        _output(earlier, "dataPlaneCertificatePem")
    assert _output(after, "dataPlaneCertificateActiveSlot") == "a"


def test_renewing_the_inactive_slot_replaces_only_its_key_and_certificate():
    before = example_run("dev")
    after = _dev(before, slotGenerations={"b": 2})
    steps = plan(before, after)
    assert {urn.rsplit("::", 1)[1]: op for urn, op in steps.changes().items()} == {
        "kong-data-plane-cert-b-key": REPLACE, "kong-data-plane-cert-b-cert": REPLACE}
    assert "(replacement_trigger)" in steps.steps[SLOT_B_CERT].changed
    # The tasks keep slot a; slot b's new certificate is there to pin.
    assert _task_secret(after)["cert"] == _output(before, "dataPlaneCertificateSlotAPem")
    assert _output(after, "dataPlaneCertificateSlotBSha256") != _output(before, "dataPlaneCertificateSlotBSha256")


def test_switching_slots_without_the_fingerprint_fails_before_the_task_definition(monkeypatch):
    before = example_run("dev")
    slot_b = _output(before, "dataPlaneCertificateSlotBSha256")
    error, state = _failed(monkeypatch, before, activeSlot="b")
    assert error.startswith("kong-aws:certificate.pinnedSha256:")
    assert f"pulumi config set --path 'kong-aws:certificate.pinnedSha256[0]' {slot_b}" in error
    assert "Data Plane Nodes" in error and "dp-client-certificates" in error
    assert _output(before, "dataPlaneCertificateSlotBPem") in error
    # Nothing of the data path was registered, so nothing of it changes.
    assert plan(before, state).changes() == {}


def test_switching_slots_with_the_fingerprint_rolls_the_tasks_and_nothing_else():
    before = example_run("dev")
    slot_b = _output(before, "dataPlaneCertificateSlotBSha256")
    after = _dev(before, activeSlot="b", pinnedSha256=[slot_b.upper()])
    steps = plan(before, after)
    assert {s.type: s.op for s in steps.steps.values() if s.op != SAME} == {
        SECRET_VERSION: REPLACE, TASK_DEFINITION: REPLACE, SERVICE: UPDATE, ROLLOUT_GATE: UPDATE}
    assert _task_secret(after)["cert"] == _output(before, "dataPlaneCertificateSlotBPem")
    assert _output(after, "dataPlaneCertificateActiveSlot") == "b"
    assert _output(after, "dataPlaneCertificateSha256") == slot_b


def test_slot_a_renewed_by_pulumi_tls_is_refused_without_a_list(monkeypatch):
    """dev as deployed three years ago (no fingerprints listed): its certificate is inside
    earlyRenewalDays of expiry, pulumi-tls makes a new one, and the tasks do not get it."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    _at(monkeypatch, now - datetime.timedelta(days=1095 - 10))
    before = _dev(None)
    monkeypatch.undo()
    expiry = datetime.datetime.fromisoformat(_output(before, "dataPlaneCertificateSlotAExpiry"))
    assert datetime.timedelta(0) < expiry - now < datetime.timedelta(days=30)

    renewing = _renewed_by_pulumi_tls(before)
    error, state = _failed(monkeypatch, renewing)
    assert "slot a's certificate" in error and "a new one" in error and "pinnedSha256[0]" in error
    steps = plan(renewing, state)
    assert steps.steps[SLOT_A_CERT].op == REPLACE
    assert steps.ops(SECRET_VERSION) == [SAME] and steps.ops(TASK_DEFINITION) == [SAME]


@pytest.mark.parametrize("cause", ["pulumi-tls early renewal", "certificate setting changed"])
def test_the_active_slot_made_anew_is_refused_until_its_fingerprint_is_listed(monkeypatch, cause):
    first = example_run("dev")
    slot_a = _output(first, "dataPlaneCertificateSlotASha256")
    before = _dev(first, pinnedSha256=[slot_a])
    assert plan(first, before).changes() == {}
    settings = {"pinnedSha256": [slot_a]}
    if cause == "certificate setting changed":
        settings["validityDays"] = 730
        prior = before
    else:
        prior = _renewed_by_pulumi_tls(before)
    error, state = _failed(monkeypatch, prior, **settings)
    assert plan(prior, state).steps[SLOT_A_CERT].op == REPLACE
    assert plan(prior, state).ops(SECRET_VERSION) == [SAME] and plan(prior, state).ops(TASK_DEFINITION) == [SAME]
    renewed = error.split("pinnedSha256[1]' ", 1)[1].split("\n", 1)[0]
    assert renewed != slot_a and f"lists {slot_a}" in error

    # Pinned and confirmed: now the tasks roll onto it, and only the data path's revision changes.
    after = _dev(state, **{**settings, "pinnedSha256": [slot_a, renewed]})
    steps = plan(state, after)
    assert steps.steps[SLOT_A_CERT].op == SAME
    assert steps.ops(SECRET_VERSION) == [REPLACE] and steps.ops(TASK_DEFINITION) == [REPLACE]
    assert _output(after, "dataPlaneCertificateSha256") == renewed


def _config(**certificate) -> dict[str, str]:
    return {"kong": json.dumps({"version": "3.10.0.1"}), "certificate": json.dumps(certificate),
            "konnect": json.dumps({"controlPlaneEndpoint": "a.us.cp0.konghq.com",
                                   "telemetryEndpoint": "a.us.tp0.konghq.com"})}


def test_fingerprints_are_read_as_openssl_prints_them():
    stack = load_stack_config(_config(pinnedSha256=["sha256 Fingerprint=" + ":".join(["AB"] * 32)],
                                      activeSlot="b", slotGenerations={"a": 3}), region="us-west-2")
    assert stack.certificate.pinned_sha256 == ["ab" * 32]
    with pytest.raises(ConfigError) as error:
        load_stack_config(_config(pinnedSha256=["abc"], slotGenerations={"c": 1}), region="us-west-2")
    problems = "\n".join(error.value.problems)
    assert "kong-aws:certificate.pinnedSha256[0]" in problems and "SHA-256 fingerprint" in problems
    assert "kong-aws:certificate.slotGenerations.c" in problems


@pytest.mark.parametrize("raw, key", [
    ({"konnect": json.dumps({"controlPlaneName": "edge"}), "konnectToken": "kpat_" + "a" * 30},
     "kong-aws:certificate.pinnedSha256"),
    ({"mode": "hybrid-eks", "konnect": None, "eks": json.dumps({"adminRoleArns": [
        "arn:aws:iam::123456789012:role/deploy"]})}, "kong-aws:certificate.activeSlot"),
])
def test_the_slot_keys_are_refused_where_nobody_pins_by_hand(raw, key):
    config = {**_config(activeSlot="a", pinnedSha256=["ab" * 32]), **raw}
    config = {k: v for k, v in config.items() if v is not None}
    with pytest.raises(ConfigError) as error:
        load_stack_config(config, {"konnectToken"}, region="us-west-2")
    assert any(line.startswith(f"{key}: set;") for line in error.value.problems)
