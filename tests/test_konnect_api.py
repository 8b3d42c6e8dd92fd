"""The Konnect API client and dynamic providers (components/konnect_api.py).

The providers run against tests/fake_konnect.py, a local Konnect that checks every request body
and every answer of its own against the JSON Schemas of the Konnect Control Planes v2 and Control
Planes Config v2 specs (../shared/reference/konnect-control-planes-subset.json); the fixture
fails a test that made it record a problem. Provider methods are called as Pulumi's dynamic
provider process calls them: with camelCase props dicts. The last tests run the real program under
the mocks with a managed control plane, and twice to plan a change of the Konnect settings with
tools.plan, the control plane's step decided by the provider's own ``diff`` (as the engine asks it).
"""

from __future__ import annotations

import functools
import json
import os
import re
import socket
import subprocess
import sys
import traceback
from functools import lru_cache
from typing import Optional

import httpx
import pytest
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc

from components.konnect_api import (
    JOINABLE_CLUSTER_TYPES, KONNECT_DEFAULTS, CertificateProvider, ControlPlaneProvider, KonnectApiError,
    KonnectClient, KonnectControlPlane, PinnedDataPlaneCertificate, check_joinable, stack_marker,
)
from tests.conftest import BASE_CONFIG, config_text, reference_json, self_signed_pem
from tests.fake_konnect import TEST_TOKEN, FakeKonnect
from tools.mocks import PROJECT_ROOT, FakeCloud, RunResult, main_program, mask_secrets, plain_values, run_program
from tools.plan import REPLACED_BY, UPDATE, plan

TOKEN = TEST_TOKEN
OTHER_TOKEN = "kpat_" + "ZYXWVUTSRQzyxwvutsrq9876543210ZYXWVUTSRQ"
SUBSET = reference_json("konnect-control-planes-subset.json")
CP_TYPE = "pulumi-python:dynamic/konnect:ControlPlane"
PIN_TYPE = "pulumi-python:dynamic/konnect:PinnedDataPlaneCertificate"
#: The marker of this stack's objects: project kong-aws, stack test (tools.mocks.run_program's defaults).
MARKER = "kong-aws/kong-aws/test"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


# ---------------------------------------------------------------------------------------------
# Fixtures and helpers


@lru_cache(maxsize=None)
def make_cert(common_name: str) -> str:
    """A real self-signed client certificate (PEM), as the stack's data plane certificate is."""
    return self_signed_pem(common_name, days=365)[0]


def plane_props(fake: FakeKonnect, **changes) -> dict:
    """The inputs KonnectControlPlane registers (see test_the_resources_register_camel_case_inputs...)."""
    return {"apiUrl": fake.base_url, "token": TOKEN, "name": "kong-aws-test",
            "labels": {"managed-by": "kong-aws"}, "deleteOnDestroy": False, "description": MARKER, **changes}


def cert_props(fake: FakeKonnect, plane_id: str, pem: str, **changes) -> dict:
    return {"apiUrl": fake.base_url, "token": TOKEN, "controlPlaneId": plane_id, "cert": pem, "title": MARKER,
            **changes}


def client(fake: FakeKonnect, **kwargs) -> KonnectClient:
    return KonnectClient(fake.base_url, TOKEN, **{"backoff": 0.0, **kwargs})


def konnect_error(call, *args, **kwargs) -> KonnectApiError:
    """The KonnectApiError ``call`` raises; its whole traceback text must not hold the token."""
    with pytest.raises(KonnectApiError) as info:
        call(*args, **kwargs)
    text = "".join(traceback.format_exception(info.value))
    assert TOKEN not in text and TOKEN[5:] not in text
    return info.value


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def engine_replace(provider, id_: str, olds: dict, news: dict, between=lambda: None):
    """Replace a resource as the Pulumi engine does after ``diff``: create the new one, then
    delete the old one, unless the provider asked for delete-before-replace. ``between`` runs
    where the data planes would roll."""
    diff = provider.diff(id_, olds, news)
    assert diff.changes and diff.replaces, "this change is not a replacement"
    if diff.delete_before_replace:
        provider.delete(id_, olds)
        between()
        return provider.create(news)
    created = provider.create(news)
    between()
    provider.delete(id_, olds)
    return created


# ---------------------------------------------------------------------------------------------
# The fake itself: it must catch what Konnect would reject, or the tests below prove nothing.


def test_the_fake_rejects_and_records_what_konnect_would_reject(konnect):
    with httpx.Client(base_url=konnect.base_url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        too_short = http.post("/v2/control-planes", json={"name": "x"})
        bad_type = http.post("/v2/control-planes", json={"name": "ok", "cluster_type": "HYBRID"})
        no_cert = http.post(f"/v2/control-planes/{konnect.add_control_plane('cp')['id']}/dp-client-certificates",
                            json={"pem": make_cert("a")})
        anonymous = httpx.get(konnect.base_url + "/v2/control-planes")
    assert [r.status_code for r in (too_short, bad_type, no_cert, anonymous)] == [400, 400, 400, 401]
    assert len(konnect.problems) == 3
    assert "$.name" in konnect.problems[0] and "$.cluster_type" in konnect.problems[1]
    assert "'cert' is a required property" in konnect.problems[2]
    konnect.problems.clear()  # recorded as they should be; the fixture would fail this test otherwise


# ---------------------------------------------------------------------------------------------
# Control plane


def test_create_posts_a_valid_body_and_returns_the_new_control_plane(konnect):
    result = ControlPlaneProvider().create(plane_props(konnect))
    (post,) = konnect.requests("POST")
    # The body the spec's CreateControlPlaneRequest accepts (the fake checked it) with pinned certificates.
    assert post.body == {"name": "kong-aws-test", "cluster_type": "CLUSTER_TYPE_CONTROL_PLANE",
                         "auth_type": "pinned_client_certs", "cloud_gateway": False,
                         "labels": {"managed-by": "kong-aws"}, "description": MARKER}
    assert post.status == 201 and post.authorization == f"Bearer {TOKEN}"
    # Konnect's error answers are application/problem+json (every error response of the spec).
    assert {t.strip() for t in post.accept.split(",")} == {"application/json", "application/problem+json"}
    (plane,) = konnect.control_planes.values()
    assert UUID.match(result.id) and result.id == plane["id"]
    assert result.outs["controlPlaneId"] == plane["id"]
    assert result.outs["controlPlaneEndpoint"] == plane["config"]["control_plane_endpoint"]
    assert result.outs["telemetryEndpoint"] == plane["config"]["telemetry_endpoint"]
    assert result.outs["controlPlaneEndpoint"].startswith("https://")
    assert result.outs["adopted"] is False and result.outs["labels"] == {"managed-by": "kong-aws"}


def test_create_adopts_an_existing_control_plane_of_the_same_name_and_delete_leaves_it(konnect):
    existing = konnect.add_control_plane("kong-aws-test", labels={"team": "edge"})
    konnect.add_control_plane("kong-aws-test-2")  # a near namesake that must not be taken
    provider = ControlPlaneProvider()
    result = provider.create(plane_props(konnect))
    assert result.id == existing["id"] and result.outs["adopted"] is True
    assert result.outs["controlPlaneEndpoint"] == existing["config"]["control_plane_endpoint"]
    # The 409 is what makes it look the name up, by exact name.
    assert [(c.method, c.path, c.status) for c in konnect.calls] == [
        ("POST", "/v2/control-planes", 409), ("GET", "/v2/control-planes", 200)]
    assert konnect.calls[1].query["filter[name][eq]"] == ["kong-aws-test"]

    konnect.calls.clear()
    provider.delete(result.id, result.outs)
    assert konnect.requests("DELETE") == [] and existing["id"] in konnect.control_planes


def test_an_adopted_control_plane_keeps_its_own_labels(konnect):
    # The stack does not relabel what it did not create: no PATCH, now or on a label change.
    existing = konnect.add_control_plane("kong-aws-test", labels={"team": "edge"})
    provider = ControlPlaneProvider()
    created = provider.create(plane_props(konnect))
    assert created.outs["adopted"] is True and created.outs["labels"] == {"managed-by": "kong-aws"}
    news = {**created.outs, "labels": {"managed-by": "kong-aws", "tier": "gold"}}
    assert provider.diff(created.id, created.outs, news).changes is True
    updated = provider.update(created.id, created.outs, news)
    assert konnect.requests("PATCH") == []
    assert konnect.control_planes[existing["id"]]["labels"] == {"team": "edge"}
    assert updated.outs["labels"] == news["labels"] and updated.outs["adopted"] is True


#: Every cluster type of the spec (ControlPlane.config.cluster_type) but the one data planes join.
OTHER_CLUSTER_TYPES = [t for t in SUBSET["schemas"]["ControlPlane"]["properties"]["config"]["properties"][
    "cluster_type"]["enum"] if t not in JOINABLE_CLUSTER_TYPES]


def test_the_spec_lists_the_cluster_type_data_planes_join_and_five_others():
    assert len(OTHER_CLUSTER_TYPES) == 5 and "CLUSTER_TYPE_K8S_INGRESS_CONTROLLER" in OTHER_CLUSTER_TYPES
    # CLUSTER_TYPE_HYBRID, the older name, is accepted although the 2.0.2 enum does not list it.
    check_joinable({"name": "old", "config": {"cluster_type": "CLUSTER_TYPE_HYBRID",
                                              "auth_type": "pinned_client_certs", "cloud_gateway": False}}, "x")


@pytest.mark.parametrize("cluster_type,auth_type,cloud_gateway", [
    ("CLUSTER_TYPE_CONTROL_PLANE", "pki_client_certs", False),
    ("CLUSTER_TYPE_CONTROL_PLANE", "pinned_client_certs", True),  # Dedicated Cloud Gateways: Kong's data planes
    *[(t, "pinned_client_certs", False) for t in OTHER_CLUSTER_TYPES],
])
def test_create_refuses_to_adopt_a_control_plane_of_another_kind(konnect, cluster_type, auth_type, cloud_gateway):
    konnect.add_control_plane("kong-aws-test", cluster_type=cluster_type, auth_type=auth_type,
                              cloud_gateway=cloud_gateway, description=MARKER)  # even one that says it is ours
    error = konnect_error(ControlPlaneProvider().create, plane_props(konnect))
    message = str(error)
    # Says what it found, what is needed and which setting to change.
    assert cluster_type in message and auth_type in message and ("cloud_gateway true" in message) is cloud_gateway
    assert "CLUSTER_TYPE_CONTROL_PLANE" in message and "pinned_client_certs" in message
    assert "cloud_gateway false" in message
    assert "kong-aws:konnect.controlPlaneName" in message and "kong-aws:konnect.controlPlaneEndpoint" in message
    assert konnect.requests("PATCH") == [] and konnect.requests("DELETE") == []


def test_create_fails_clearly_when_409_names_a_control_plane_the_token_cannot_see(konnect):
    konnect.fail(409, method="POST", path="/v2/control-planes")
    error = konnect_error(ControlPlaneProvider().create, plane_props(konnect))
    assert error.status == 409 and "no control plane of that name is visible" in str(error)


def test_read_returns_the_control_plane_and_an_empty_id_once_it_is_gone(konnect):
    provider = ControlPlaneProvider()
    created = provider.create(plane_props(konnect))
    konnect.control_planes[created.id]["labels"] = {"edited": "in-the-ui"}  # drift Pulumi must see
    read = provider.read(created.id, created.outs)
    assert read.id == created.id and read.outs["labels"] == {"edited": "in-the-ui"}
    assert read.outs["controlPlaneEndpoint"] == created.outs["controlPlaneEndpoint"]
    assert read.outs["adopted"] is False

    del konnect.control_planes[created.id]
    gone = provider.read(created.id, created.outs)
    assert not gone.id  # the engine drops it from the state (`pulumi refresh`)


@pytest.mark.parametrize("adopted,change,replaces,changes", [
    (False, {"name": "kong-aws-other"}, [], True),  # renamed in place (PATCH name)
    (True, {"name": "kong-aws-other"}, ["name"], True),  # another control plane to adopt (or create)
    (False, {"apiUrl": "https://eu.api.konghq.com"}, ["apiUrl"], True),
    (True, {"apiUrl": "https://eu.api.konghq.com"}, ["apiUrl"], True),
    (False, {"labels": {"managed-by": "someone-else"}}, [], True),
    (False, {"labels": {}}, [], True),
    (False, {"token": OTHER_TOKEN}, [], True),
    (False, {"deleteOnDestroy": True}, [], True),
    (False, {"description": "kong-aws/kong-aws/renamed"}, [], True),
    (False, {}, [], False),
    (True, {}, [], False),
])
def test_control_plane_diff(konnect, adopted, change, replaces, changes):
    olds = {**plane_props(konnect), "controlPlaneId": "7f9fd312-a987-4628-b4c5-bb4f4fddd5f7", "adopted": adopted}
    diff = ControlPlaneProvider().diff(olds["controlPlaneId"], olds, plane_props(konnect, **change))
    assert bool(diff.changes) is changes and sorted(diff.replaces or []) == replaces
    # A new control plane exists before the old one goes, so data planes always have one.
    assert diff.delete_before_replace is False
    assert konnect.calls == []  # diff is offline


def test_update_patches_the_labels(konnect):
    provider = ControlPlaneProvider()
    created = provider.create(plane_props(konnect))
    news = plane_props(konnect, labels={"managed-by": "kong-aws", "env": "prod"})
    updated = provider.update(created.id, created.outs, news)
    (patch,) = konnect.requests("PATCH")
    assert patch.path == f"/v2/control-planes/{created.id}"
    assert patch.body == {"labels": {"managed-by": "kong-aws", "env": "prod"}}  # UpdateControlPlaneRequest
    assert konnect.control_planes[created.id]["labels"] == {"managed-by": "kong-aws", "env": "prod"}
    assert updated.outs["labels"] == {"managed-by": "kong-aws", "env": "prod"}
    assert updated.outs["controlPlaneId"] == created.id and updated.outs["adopted"] is False


def test_update_of_the_token_alone_uses_the_new_token_and_patches_nothing(konnect):
    provider = ControlPlaneProvider()
    created = provider.create(plane_props(konnect))
    konnect.tokens = {OTHER_TOKEN}  # the old token was revoked
    updated = provider.update(created.id, created.outs, plane_props(konnect, token=OTHER_TOKEN))
    assert konnect.requests("PATCH") == []
    assert konnect.calls[-1].authorization == f"Bearer {OTHER_TOKEN}" and konnect.calls[-1].status == 200
    assert updated.outs["token"] == OTHER_TOKEN


def test_delete_with_delete_on_destroy_deletes_and_one_already_gone_is_fine(konnect):
    provider = ControlPlaneProvider()
    created = provider.create(plane_props(konnect, deleteOnDestroy=True))
    provider.delete(created.id, created.outs)
    assert created.id not in konnect.control_planes
    provider.delete(created.id, created.outs)  # e.g. deleted in the UI meanwhile: 404, no error
    assert [(c.method, c.status) for c in konnect.requests("DELETE")] == [("DELETE", 204), ("DELETE", 404)]
    assert konnect.requests("DELETE")[0].path == f"/v2/control-planes/{created.id}"


# ---------------------------------------------------------------------------------------------
# Pinned data plane certificate


@pytest.fixture
def plane(konnect) -> dict:
    return konnect.add_control_plane("kong-aws-test")


def test_pin_posts_the_pem_and_keeps_the_certificate_id(konnect, plane):
    pem = make_cert("kong-dp-a")
    result = CertificateProvider().create(cert_props(konnect, plane["id"], pem))
    (post,) = konnect.requests("POST")
    assert post.path == f"/v2/control-planes/{plane['id']}/dp-client-certificates"
    # DataPlaneClientCertificateRequest: the spec's `title` names the stack that pinned it.
    assert post.body == {"cert": pem, "title": "kong-aws/kong-aws/test"} and post.status == 201
    (pinned,) = konnect.certificates[plane["id"]].values()
    assert pinned["title"] == MARKER
    assert result.id == pinned["id"] == result.outs["certificateId"]
    assert result.outs["adopted"] is False and result.outs["cert"] == pem


def test_an_already_pinned_certificate_is_adopted_and_stays_pinned_on_delete(konnect, plane):
    pem = make_cert("kong-dp-a")
    # Pinned in the Konnect UI, which may store it with other line endings.
    existing = konnect.add_certificate(plane["id"], pem.replace("\n", "\r\n"))
    provider = CertificateProvider()
    result = provider.create(cert_props(konnect, plane["id"], pem))
    assert result.id == existing["id"] and result.outs["adopted"] is True
    assert konnect.requests("POST") == []
    provider.delete(result.id, result.outs)
    assert konnect.requests("DELETE") == [] and existing["id"] in konnect.certificates[plane["id"]]


def test_delete_unpins_and_one_already_unpinned_is_fine(konnect, plane):
    provider = CertificateProvider()
    result = provider.create(cert_props(konnect, plane["id"], make_cert("kong-dp-a")))
    provider.delete(result.id, result.outs)
    assert konnect.certificates[plane["id"]] == {}
    provider.delete(result.id, result.outs)
    path = f"/v2/control-planes/{plane['id']}/dp-client-certificates/{result.id}"
    assert [(c.path, c.status) for c in konnect.requests("DELETE")] == [(path, 204), (path, 404)]


def test_read_of_a_pin_and_of_one_unpinned_elsewhere(konnect, plane):
    provider = CertificateProvider()
    result = provider.create(cert_props(konnect, plane["id"], make_cert("kong-dp-a")))
    read = provider.read(result.id, result.outs)
    assert read.id == result.id and read.outs["certificateId"] == result.id
    del konnect.certificates[plane["id"]][result.id]
    assert not provider.read(result.id, result.outs).id


@pytest.mark.parametrize("change,replaces,changes", [
    ({"cert": make_cert("kong-dp-b")}, ["cert"], True),
    ({"controlPlaneId": "0b0b0b0b-0000-4000-8000-000000000000"}, ["controlPlaneId"], True),
    ({"cert": make_cert("kong-dp-a").replace("\n", "\r\n")}, [], False),  # same certificate
    ({"token": OTHER_TOKEN}, [], True),
    ({"title": "kong-aws/kong-aws/renamed"}, [], True),
    ({}, [], False),
])
def test_pin_diff(konnect, change, replaces, changes):
    plane_id = "7f9fd312-a987-4628-b4c5-bb4f4fddd5f7"
    olds = {**cert_props(konnect, plane_id, make_cert("kong-dp-a")), "certificateId": "c1", "adopted": False}
    diff = CertificateProvider().diff("c1", olds, cert_props(konnect, plane_id, make_cert("kong-dp-a"), **change))
    assert bool(diff.changes) is changes and sorted(diff.replaces or []) == replaces
    assert diff.delete_before_replace is False  # the new pin first, or running data planes drop


def test_a_token_change_updates_the_pin_in_place(konnect, plane):
    provider = CertificateProvider()
    created = provider.create(cert_props(konnect, plane["id"], make_cert("kong-dp-a")))
    updated = provider.update(created.id, created.outs, cert_props(konnect, plane["id"], make_cert("kong-dp-a"),
                                                                    token=OTHER_TOKEN))
    assert updated.outs["certificateId"] == created.id and updated.outs["token"] == OTHER_TOKEN
    assert len(konnect.certificates[plane["id"]]) == 1


def test_rotation_pins_the_new_certificate_before_unpinning_the_old(konnect, plane):
    provider = CertificateProvider()
    old_pem, new_pem = make_cert("kong-dp-a"), make_cert("kong-dp-b")
    old = provider.create(cert_props(konnect, plane["id"], old_pem))
    pinned_while_rolling: list[set[str]] = []

    def data_planes_roll():
        with client(konnect) as konnect_client:
            pinned_while_rolling.append({c["id"] for c in konnect_client.list_certificates(plane["id"])})

    new = engine_replace(provider, old.id, old.outs, cert_props(konnect, plane["id"], new_pem), data_planes_roll)

    calls = konnect.calls
    post_new = next(i for i, c in enumerate(calls) if c.method == "POST" and c.body["cert"] == new_pem)
    delete_old = next(i for i, c in enumerate(calls) if c.method == "DELETE" and c.path.endswith(old.id))
    assert post_new < delete_old
    # While the data planes roll, both certificates are pinned: old tasks and new tasks connect.
    assert pinned_while_rolling == [{old.id, new.id}]
    assert set(konnect.certificates[plane["id"]]) == {new.id}


# ---------------------------------------------------------------------------------------------
# Owned and adopted objects: rename, destroy, ownership after interruptions, labels, import


def test_renaming_an_owned_control_plane_patches_its_name_and_keeps_it(konnect):
    provider = ControlPlaneProvider()
    created = provider.create(plane_props(konnect))
    news = plane_props(konnect, name="kong-aws-renamed")
    diff = provider.diff(created.id, created.outs, news)
    assert diff.changes and not diff.replaces  # an update: no new control plane, no delete of this one
    updated = provider.update(created.id, created.outs, news)
    (patch,) = konnect.requests("PATCH")
    assert patch.body == {"name": "kong-aws-renamed"} and patch.status == 200  # UpdateControlPlaneRequest.name
    assert konnect.control_planes[created.id]["name"] == "kong-aws-renamed" and len(konnect.control_planes) == 1
    assert updated.outs["name"] == "kong-aws-renamed" and updated.outs["adopted"] is False
    assert updated.outs["controlPlaneEndpoint"] == created.outs["controlPlaneEndpoint"]  # data planes unaffected
    assert [c.status for c in konnect.requests("POST")] == [201] and konnect.requests("DELETE") == []


def test_renaming_an_owned_control_plane_to_a_taken_name_fails_and_says_what_to_do(konnect):
    provider = ControlPlaneProvider()
    created = provider.create(plane_props(konnect))
    other = konnect.add_control_plane("kong-aws-taken")
    error = konnect_error(provider.update, created.id, created.outs, plane_props(konnect, name="kong-aws-taken"))
    assert error.status == 400 and "kong-aws-taken" in str(error)
    assert "`pulumi state delete" in str(error) and "adopt" in str(error)
    assert konnect.control_planes[created.id]["name"] == "kong-aws-test"
    assert konnect.control_planes[other["id"]]["name"] == "kong-aws-taken"


@pytest.mark.parametrize("other_exists", [True, False])
def test_a_new_name_for_an_adopted_control_plane_takes_that_one_and_leaves_the_adopted_one(konnect, other_exists):
    """An adopted control plane is not the stack's to rename: another name means another control
    plane. The engine replaces the resource: create adopts the control plane of the new name (or
    creates it, then owned), and delete of the adopted one does nothing."""
    adopted = konnect.add_control_plane("kong-aws-test", labels={"team": "edge"})
    other = konnect.add_control_plane("kong-aws-other") if other_exists else None
    provider = ControlPlaneProvider()
    first = provider.create(plane_props(konnect))
    assert first.outs["adopted"] is True
    second = engine_replace(provider, first.id, first.outs, plane_props(konnect, name="kong-aws-other"))
    assert konnect.requests("PATCH") == [] and konnect.requests("DELETE") == []
    assert konnect.control_planes[adopted["id"]]["name"] == "kong-aws-test"  # as it was
    assert konnect.control_planes[adopted["id"]]["labels"] == {"team": "edge"}
    if other is not None:
        assert second.id == other["id"] and second.outs["adopted"] is True
    else:
        assert konnect.control_planes[second.id]["name"] == "kong-aws-other" and second.outs["adopted"] is False


def test_destroy_leaves_an_owned_control_plane_unless_config_says_delete(konnect):
    provider = ControlPlaneProvider()
    created = provider.create(plane_props(konnect))
    assert created.outs["deleteOnDestroy"] is False  # the default: KONNECT_DEFAULTS
    assert KONNECT_DEFAULTS["delete_control_plane_on_destroy"] is False
    provider.delete(created.id, created.outs)
    assert konnect.requests("DELETE") == [] and created.id in konnect.control_planes

    # Turning it on is an update of the state alone; the next destroy deletes.
    news = plane_props(konnect, deleteOnDestroy=True)
    diff = provider.diff(created.id, created.outs, news)
    assert diff.changes and not diff.replaces
    updated = provider.update(created.id, created.outs, news)
    assert konnect.requests("PATCH") == [] and updated.outs["deleteOnDestroy"] is True
    provider.delete(created.id, updated.outs)
    assert [(c.path, c.status) for c in konnect.requests("DELETE")] == [(f"/v2/control-planes/{created.id}", 204)]


def test_delete_on_destroy_never_deletes_an_adopted_control_plane(konnect):
    existing = konnect.add_control_plane("kong-aws-test")
    provider = ControlPlaneProvider()
    adopted = provider.create(plane_props(konnect, deleteOnDestroy=True))
    provider.delete(adopted.id, adopted.outs)
    assert konnect.requests("DELETE") == [] and existing["id"] in konnect.control_planes


def test_a_create_retried_into_409_keeps_the_control_plane_it_made(konnect, sleeps):
    # The first POST creates the control plane but its answer is lost; the retry meets 409.
    konnect.fail(502, method="POST", path="/v2/control-planes", commit=True)
    provider = ControlPlaneProvider()
    result = provider.create(plane_props(konnect, deleteOnDestroy=True))
    assert [c.status for c in konnect.requests("POST")] == [502, 409]
    (plane,) = konnect.control_planes.values()
    assert plane["description"] == MARKER and result.id == plane["id"]
    assert result.outs["adopted"] is False  # the stack's own: renamed, relabelled, deleted as configured
    provider.delete(result.id, result.outs)
    assert konnect.control_planes == {}


def test_a_control_plane_of_the_name_described_by_another_stack_is_adopted(konnect):
    konnect.add_control_plane("kong-aws-test", description="kong-aws/kong-aws/other-stack")
    assert ControlPlaneProvider().create(plane_props(konnect)).outs["adopted"] is True


def test_an_owned_control_plane_from_before_the_marker_gets_it_in_place(konnect):
    # State written before the stack described its control planes: no description input.
    provider = ControlPlaneProvider()
    created = provider.create({k: v for k, v in plane_props(konnect).items() if k != "description"})
    olds = {k: v for k, v in created.outs.items() if k != "description"}
    news = plane_props(konnect)
    assert provider.diff(created.id, olds, news).replaces == []
    provider.update(created.id, olds, news)
    assert konnect.requests("PATCH")[-1].body == {"description": MARKER}
    assert konnect.control_planes[created.id]["description"] == MARKER


def test_labels_removed_from_config_are_removed_in_konnect(konnect):
    provider = ControlPlaneProvider()
    created = provider.create(plane_props(konnect, labels={"env": "prod", "team": "edge"}))
    one = provider.update(created.id, created.outs, plane_props(konnect, labels={"env": "prod"}))
    provider.update(created.id, one.outs, plane_props(konnect, labels={}))
    # The whole Labels object each time (the request schema's labels: string values, no null).
    assert [c.body for c in konnect.requests("PATCH")] == [{"labels": {"env": "prod"}}, {"labels": {}}]
    assert konnect.control_planes[created.id]["labels"] == {}


def test_a_konnect_that_merged_the_labels_is_reported_not_recorded(konnect):
    # Were Konnect to merge instead, a removed label would survive; the update must not claim success.
    provider = ControlPlaneProvider()
    created = provider.create(plane_props(konnect, labels={"env": "prod", "team": "edge"}))
    konnect.merge_labels = True
    error = konnect_error(provider.update, created.id, created.outs, plane_props(konnect, labels={"env": "prod"}))
    assert "['team']" in str(error) and "kong-aws:konnect.controlPlaneLabels" in str(error)
    assert "`pulumi refresh`" in str(error)


def test_import_records_an_adopted_control_plane(konnect):
    existing = konnect.add_control_plane("kong-aws-test", labels={"team": "edge"}, description=MARKER)
    provider = ControlPlaneProvider()
    # `pulumi import` / the import option: read with the program's inputs and no prior state.
    read = provider.read(existing["id"], plane_props(konnect, deleteOnDestroy=True))
    assert read.id == existing["id"] and read.outs["adopted"] is True
    assert read.outs["controlPlaneEndpoint"] == existing["config"]["control_plane_endpoint"]
    # From then on it is treated as adopted: no relabel, no rename in place, no delete.
    news = plane_props(konnect, labels={"env": "prod"}, deleteOnDestroy=True)
    provider.update(existing["id"], read.outs, news)
    assert provider.diff(existing["id"], read.outs, plane_props(konnect, name="x-other")).replaces == ["name"]
    provider.delete(existing["id"], read.outs)
    assert konnect.requests("PATCH") == [] and konnect.requests("DELETE") == []
    assert konnect.control_planes[existing["id"]]["labels"] == {"team": "edge"}


def test_import_refuses_a_control_plane_the_data_planes_cannot_join(konnect):
    existing = konnect.add_control_plane("kong-aws-test", cloud_gateway=True)
    error = konnect_error(ControlPlaneProvider().read, existing["id"], plane_props(konnect))
    assert "cloud_gateway true" in str(error) and existing["id"] in str(error)


def test_a_refresh_keeps_ownership_as_recorded(konnect):
    provider = ControlPlaneProvider()
    created = provider.create(plane_props(konnect))
    assert provider.read(created.id, created.outs).outs["adopted"] is False


def test_a_pin_found_under_the_stacks_title_is_its_own_and_unpinned_by_the_next_rotation(konnect, plane):
    # An interrupted update: the pin was made, the state never heard of it. The next create finds it.
    old_pem, new_pem = make_cert("kong-dp-a"), make_cert("kong-dp-b")
    earlier = konnect.add_certificate(plane["id"], old_pem, title=MARKER)
    provider = CertificateProvider()
    old = provider.create(cert_props(konnect, plane["id"], old_pem))
    assert old.id == earlier["id"] and old.outs["adopted"] is False and konnect.requests("POST") == []
    new = engine_replace(provider, old.id, old.outs, cert_props(konnect, plane["id"], new_pem))
    assert set(konnect.certificates[plane["id"]]) == {new.id}  # the old key is no longer trusted


def test_a_pin_found_under_another_title_is_adopted(konnect, plane):
    pem = make_cert("kong-dp-a")
    existing = konnect.add_certificate(plane["id"], pem, title="pinned by hand")
    provider = CertificateProvider()
    result = provider.create(cert_props(konnect, plane["id"], pem))
    assert result.outs["adopted"] is True
    provider.delete(result.id, result.outs)
    assert existing["id"] in konnect.certificates[plane["id"]]


def test_a_pin_whose_answer_was_lost_is_the_stacks_own(konnect, plane, sleeps):
    konnect.fail(502, method="POST", path=r"/v2/control-planes/[^/]+/dp-client-certificates", commit=True)
    result = CertificateProvider().create(cert_props(konnect, plane["id"], make_cert("kong-dp-a")))
    assert [c.status for c in konnect.requests("POST")] == [502, 409]
    assert result.outs["adopted"] is False


def test_import_records_an_adopted_pin(konnect, plane):
    pem = make_cert("kong-dp-a")
    existing = konnect.add_certificate(plane["id"], pem, title=MARKER)
    provider = CertificateProvider()
    read = provider.read(existing["id"], cert_props(konnect, plane["id"], pem))
    assert read.id == existing["id"] and read.outs["adopted"] is True
    provider.delete(existing["id"], read.outs)
    assert existing["id"] in konnect.certificates[plane["id"]]


def test_an_owned_pin_from_before_the_title_gets_it_in_place(konnect, plane):
    pem = make_cert("kong-dp-a")
    provider = CertificateProvider()
    created = provider.create({k: v for k, v in cert_props(konnect, plane["id"], pem).items() if k != "title"})
    olds = {k: v for k, v in created.outs.items() if k != "title"}
    news = cert_props(konnect, plane["id"], pem)
    diff = provider.diff(created.id, olds, news)
    assert diff.changes and not diff.replaces
    provider.update(created.id, olds, news)
    (put,) = konnect.requests("PUT")
    assert put.body == {"cert": pem, "title": MARKER} and put.status == 200  # DataPlaneClientCertificateRequest
    assert konnect.certificates[plane["id"]][created.id]["title"] == MARKER


# ---------------------------------------------------------------------------------------------
# Retries


@pytest.mark.parametrize("retry_after,waited", [("0", 0.0), ("7", 7.0)])
def test_429_waits_what_retry_after_says_then_succeeds(konnect, plane, sleeps, retry_after, waited):
    konnect.fail(429, times=2, method="GET", path=f"/v2/control-planes/{plane['id']}", retry_after=retry_after)
    # A large backoff: only Retry-After can explain the waits.
    with client(konnect, backoff=20.0) as konnect_client:
        assert konnect_client.get_control_plane(plane["id"])["id"] == plane["id"]
    assert [c.status for c in konnect.calls] == [429, 429, 200]
    assert sleeps == [waited, waited]


def test_503_twice_then_success(konnect, plane, sleeps):
    konnect.fail(503, times=2, method="GET")
    with client(konnect) as konnect_client:
        assert konnect_client.list_certificates(plane["id"]) == []
    assert [c.status for c in konnect.calls] == [503, 503, 200]
    assert len(sleeps) == 2


def test_a_rate_limited_create_is_retried_and_makes_one_control_plane(konnect):
    konnect.fail(429, times=1, method="POST", path="/v2/control-planes", retry_after="0")
    result = ControlPlaneProvider().create(plane_props(konnect))
    posts = konnect.requests("POST")
    assert [p.status for p in posts] == [429, 201] and posts[0].body == posts[1].body
    assert result.outs["adopted"] is False and list(konnect.control_planes) == [result.id]


@pytest.mark.parametrize("attempts", [2, 4])
def test_a_server_error_forever_stops_after_the_configured_attempts(konnect, plane, sleeps, attempts):
    konnect.fail(500, times=None, path=f"/v2/control-planes/{plane['id']}")
    with client(konnect, attempts=attempts) as konnect_client, pytest.raises(Exception):
        konnect_client.get_control_plane(plane["id"])
    assert [c.status for c in konnect.calls] == [500] * attempts


@pytest.mark.parametrize("status", [429, 500, 503])
def test_retries_exhausted_on_a_status_raise_konnect_api_error(konnect, plane, sleeps, status):
    konnect.fail(status, times=None, path=f"/v2/control-planes/{plane['id']}")
    with client(konnect, attempts=3) as konnect_client:
        error = konnect_error(konnect_client.get_control_plane, plane["id"])
    assert error.status == status and f"HTTP {status}" in str(error) and "3 attempts" in str(error)


def test_a_pin_whose_first_answer_was_lost_is_not_an_error(konnect, plane, sleeps):
    # The first POST pins the certificate but its answer never arrives; the retry then gets 409.
    konnect.fail(502, method="POST", path=r"/v2/control-planes/[^/]+/dp-client-certificates", commit=True)
    pem = make_cert("kong-dp-a")
    with client(konnect) as konnect_client:
        item, _ = konnect_client.pin_certificate(plane["id"], pem)
    assert [c.status for c in konnect.requests("POST")] == [502, 409]
    assert list(konnect.certificates[plane["id"]]) == [item["id"]]


def test_no_answer_is_retried_then_reported(sleeps):
    url = f"http://127.0.0.1:{closed_port()}"
    with KonnectClient(url, TOKEN, backoff=0.0, attempts=3) as konnect_client:
        error = konnect_error(konnect_client.get_control_plane, "7f9fd312-a987-4628-b4c5-bb4f4fddd5f7")
    assert error.status is None
    assert "no answer" in str(error) and url in str(error) and "3 attempts" in str(error)
    assert len(sleeps) == 2  # connection errors are retried like 5xx


# ---------------------------------------------------------------------------------------------
# Errors that need a person: they say what to check, and never show the token.


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_token_names_where_the_token_comes_from(konnect, status):
    if status == 401:
        konnect.tokens = {OTHER_TOKEN}  # Konnect does not know ours
    else:
        konnect.fail(403, times=None)  # known, but may not manage control planes
    error = konnect_error(ControlPlaneProvider().create, plane_props(konnect))
    assert error.status == status and f"HTTP {status}" in str(error)
    assert "kong-aws:konnectToken" in str(error) and "KONNECT_TOKEN" in str(error)
    assert len(konnect.calls) == 1  # not worth retrying


def test_not_found_names_the_region_and_api_url(konnect):
    missing = "0b0b0b0b-0000-4000-8000-000000000000"
    olds = {**plane_props(konnect), "controlPlaneId": missing, "adopted": False}
    error = konnect_error(ControlPlaneProvider().update, missing, olds,
                          plane_props(konnect, labels={"env": "prod"}))
    assert error.status == 404 and missing in str(error) and "`pulumi refresh`" in str(error)
    assert "kong-aws:konnect.region" in str(error) and konnect.base_url in str(error)
    pin_error = konnect_error(CertificateProvider().create, cert_props(konnect, missing, make_cert("kong-dp-a")))
    assert pin_error.status == 404 and konnect.base_url in str(pin_error)


@pytest.mark.parametrize("scenario", ["401", "403", "404", "400", "409", "other kind", "no answer"])
def test_the_token_never_appears_in_an_error(konnect, scenario):
    props = plane_props(konnect)
    if scenario == "401":
        konnect.tokens = set()
    elif scenario in ("403", "400", "409"):
        konnect.fail(int(scenario), times=None)
    elif scenario == "404":
        props = cert_props(konnect, "0b0b0b0b-0000-4000-8000-000000000000", make_cert("kong-dp-a"))
    elif scenario == "other kind":
        konnect.add_control_plane("kong-aws-test", auth_type="pki_client_certs")
    else:
        props["apiUrl"] = f"http://127.0.0.1:{closed_port()}"
        with KonnectClient(props["apiUrl"], TOKEN, backoff=0.0, attempts=1) as konnect_client:
            konnect_error(konnect_client.get_control_plane, "7f9fd312-a987-4628-b4c5-bb4f4fddd5f7")
        return
    provider = CertificateProvider() if scenario == "404" else ControlPlaneProvider()
    error = konnect_error(provider.create, props)  # asserts the token is absent from the traceback
    assert TOKEN not in repr(error.args)


# ---------------------------------------------------------------------------------------------
# Pulumi's own serialization: the engine runs the providers from their dill pickle.

_RUN_SERIALIZED = """
import base64, json, sys
import dill

job = json.load(sys.stdin)
planes = dill.loads(base64.b64decode(job["plane_provider"]))
pins = dill.loads(base64.b64decode(job["pin_provider"]))
plane = planes.create(job["plane"])
pin = pins.create({**job["pin"], "controlPlaneId": plane.id})
print(json.dumps({"plane": [plane.id, plane.outs], "pin": [pin.id, pin.outs]}))
"""


def test_serialized_providers_work_in_a_fresh_process_started_in_the_project(konnect):
    pem = make_cert("kong-dp-a")
    job = {"plane_provider": serialize_provider(ControlPlaneProvider()),
           "pin_provider": serialize_provider(CertificateProvider()),
           "plane": plane_props(konnect), "pin": {"apiUrl": konnect.base_url, "token": TOKEN, "cert": pem}}
    # Only what the dynamic provider process has: the project directory as cwd, no test paths.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", _RUN_SERIALIZED], input=json.dumps(job), cwd=PROJECT_ROOT,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    (plane,) = konnect.control_planes.values()
    assert out["plane"][0] == plane["id"] and out["plane"][1]["adopted"] is False
    (pinned,) = konnect.certificates[plane["id"]].values()
    assert out["pin"][0] == pinned["id"] and pinned["cert"] == pem
    assert [(c.method, c.status) for c in konnect.calls] == [("POST", 201), ("GET", 200), ("POST", 201)]


def test_declaring_the_resources_does_not_import_the_http_client():
    # The offline render and every preview declare these resources; only the provider needs httpx.
    probe = "import sys, components.konnect_api; print(sorted({'httpx', 'tenacity'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, "[]"), done.stderr


# ---------------------------------------------------------------------------------------------
# The resources under the offline mocks, alone and in the program with a managed control plane.


def test_the_resources_register_camel_case_inputs_and_make_a_plain_token_secret():
    pem = make_cert("kong-dp-a")

    def program():
        plane = KonnectControlPlane("cp", api_url="https://eu.api.konghq.com", token=TOKEN,
                                    control_plane_name="kong-aws-test", labels={"env": "prod"})
        PinnedDataPlaneCertificate("pin", api_url="https://eu.api.konghq.com", token=TOKEN,
                                   control_plane_id=plane.control_plane_id, cert=pem)

    result = run_program(program, {"aws:region": "us-west-2"})
    plane, pin = result.one(CP_TYPE), result.one(PIN_TYPE)
    # The providers read exactly these keys.
    assert {"apiUrl", "token", "name", "labels", "deleteOnDestroy", "description"} <= set(plane.inputs)
    assert "api_url" not in plane.inputs
    assert {"apiUrl", "token", "controlPlaneId", "cert", "title"} <= set(pin.inputs)
    assert plane.inputs["labels"] == {"env": "prod"} and pin.inputs["cert"] == pem
    # Kept unless config says otherwise; both objects carry the stack's marker.
    assert plane.inputs["deleteOnDestroy"] is False
    assert plane.inputs["description"] == pin.inputs["title"] == stack_marker("kong-aws", "test") == MARKER
    # Secret even when the caller hands in a plain string.
    assert rpc.is_rpc_secret(plane.inputs["token"]) and rpc.is_rpc_secret(pin.inputs["token"])




@pytest.fixture
def managed(run_stack, base_config, monkeypatch):
    """The program with a managed control plane (token from KONNECT_TOKEN): ``(result, answers)``,
    ``answers`` being what the mock Konnect resources answered, by type."""
    answers: dict[str, dict] = {}
    original = FakeCloud.new_resource

    def recording(self, args):
        rid, state = original(self, args)
        if args.typ in (CP_TYPE, PIN_TYPE):
            answers[args.typ] = state
        return rid, state

    monkeypatch.setattr(FakeCloud, "new_resource", recording)
    monkeypatch.setenv("KONNECT_TOKEN", TOKEN)
    base_config["kong-aws:konnect"] = {"controlPlaneName": "kong-aws-test"}
    return run_stack(base_config), answers


def test_both_konnect_resources_get_the_token_only_as_a_secret(managed):
    result, _ = managed
    for typ in (CP_TYPE, PIN_TYPE):
        registration = result.one(typ)
        assert rpc.is_rpc_secret(registration.inputs["token"]), typ
        assert rpc.unwrap_rpc_secret(registration.inputs["token"]) == TOKEN
        assert "token" in registration.options["additionalSecretOutputs"]  # stays secret in the state
        assert registration.inputs["apiUrl"] == "https://us.api.konghq.com"
    everything = json.dumps([mask_secrets(r.inputs) for r in result.registrations], default=str)
    assert TOKEN not in everything and TOKEN not in json.dumps(result.outputs, default=str)
    assert result.one(CP_TYPE).inputs["name"] == "kong-aws-test"


def test_the_pinned_certificate_is_the_exported_data_plane_certificate(managed):
    result, answers = managed
    pin = result.one(PIN_TYPE)
    pem, _ = result.outputs["dataPlaneCertificatePem"]
    assert "BEGIN CERTIFICATE" in pem and pin.inputs["cert"] == pem
    assert pin.inputs["controlPlaneId"] == answers[CP_TYPE]["controlPlaneId"]
    assert result.outputs["konnectPinnedCertificateId"][0] == answers[PIN_TYPE]["certificateId"]


def test_data_planes_join_the_managed_control_planes_endpoints(managed):
    result, answers = managed
    (definition,) = json.loads(result.one("aws:ecs/taskDefinition:TaskDefinition").inputs["containerDefinitions"])
    env = {e["name"]: e["value"] for e in definition["environment"]}
    control_plane = answers[CP_TYPE]["controlPlaneEndpoint"]
    telemetry = answers[CP_TYPE]["telemetryEndpoint"]
    assert re.fullmatch(r"https://[0-9a-f]{10}\.us\.cp0\.konghq\.com", control_plane)
    host, telemetry_host = control_plane.removeprefix("https://"), telemetry.removeprefix("https://")
    assert env["KONG_CLUSTER_CONTROL_PLANE"] == f"{host}:443"
    assert env["KONG_CLUSTER_SERVER_NAME"] == host
    assert env["KONG_CLUSTER_TELEMETRY_ENDPOINT"] == f"{telemetry_host}:443"
    assert result.outputs["controlPlaneEndpoint"][0] == f"{host}:443"
    assert "konnectPinInstructions" not in result.outputs  # the stack pins it itself


def test_the_certificate_secret_waits_for_the_pin(managed):
    result, _ = managed
    pin = result.one(PIN_TYPE)
    version = result.one("aws:secretsmanager/secretVersion:SecretVersion")
    # A rotated certificate reaches tasks only after Konnect trusts it.
    assert pin.urn in version.dependencies
    assert result.one(CP_TYPE).urn in pin.dependencies


# ---------------------------------------------------------------------------------------------
# Two runs of the program: what `pulumi up` plans for a change of the Konnect settings. For a
# dynamic provider the engine asks the provider's own `diff` whether a change replaces; the plan
# below uses its answer for the control plane (tools.plan.REPLACED_BY holds it for owned planes).


def test_the_plan_table_agrees_with_the_providers_diff(konnect):
    plane_id = "7f9fd312-a987-4628-b4c5-bb4f4fddd5f7"
    olds = {**plane_props(konnect), "controlPlaneId": plane_id, "adopted": False}
    other = {"apiUrl": "https://eu.api.konghq.com", "token": OTHER_TOKEN, "name": "kong-aws-other",
             "labels": {"env": "prod"}, "deleteOnDestroy": True, "description": "kong-aws/kong-aws/other"}
    assert set(other) == set(plane_props(konnect))  # every input of the control plane
    replaced = {k for k, v in other.items() if ControlPlaneProvider().diff(plane_id, olds, {**olds, k: v}).replaces}
    assert replaced == REPLACED_BY[CP_TYPE]

    pem = make_cert("kong-dp-a")
    olds = {**cert_props(konnect, plane_id, pem), "certificateId": "c1", "adopted": False}
    other = {"apiUrl": "https://eu.api.konghq.com", "token": OTHER_TOKEN, "controlPlaneId": "0b0b0b0b",
             "cert": make_cert("kong-dp-b"), "title": "kong-aws/kong-aws/other"}
    assert set(other) == set(cert_props(konnect, plane_id, pem))
    replaced = {k for k, v in other.items() if CertificateProvider().diff("c1", olds, {**olds, k: v}).replaces}
    assert replaced == REPLACED_BY[PIN_TYPE]


def _managed_run(konnect: dict, prior: Optional[RunResult] = None) -> RunResult:
    """The program with ``kong-aws:konnect`` set to ``konnect`` and a token, after ``prior``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KONNECT_TOKEN", TOKEN)
        return run_program(main_program(), config_text({**BASE_CONFIG, "kong-aws:konnect": konnect}), prior=prior)


_MANAGED = {"controlPlaneName": "kong-aws-test", "controlPlaneLabels": {"managed-by": "kong-aws"}}


@functools.lru_cache(maxsize=None)
def _managed_before() -> RunResult:
    return _managed_run(_MANAGED)


@pytest.mark.parametrize("change,changed", [
    ({"controlPlaneName": "kong-aws-renamed"}, ("name",)),
    ({"deleteControlPlaneOnDestroy": True}, ("deleteOnDestroy",)),
    ({"controlPlaneLabels": {}}, ("labels", "labels.managed-by")),
])
def test_a_konnect_setting_change_plans_an_update_of_the_control_plane_alone(change, changed):
    before = _managed_before()
    after = _managed_run({**_MANAGED, **change}, before)
    old, new = before.one(CP_TYPE), after.one(CP_TYPE)
    diff = ControlPlaneProvider().diff(old.id, plain_values(old.outputs), plain_values(new.inputs))
    steps = plan(before, after, {**REPLACED_BY, CP_TYPE: frozenset(diff.replaces or ())})
    # No new control plane (so no delete of the old one with its configuration), nothing else moves.
    assert steps.changes() == {new.urn: UPDATE} and steps.steps[new.urn].changed == changed


def test_delete_control_plane_on_destroy_without_a_managed_control_plane_is_a_config_error():
    from components.config import ConfigError, load_stack_config
    konnect = {"controlPlaneEndpoint": "a.us.cp0.konghq.com", "telemetryEndpoint": "a.us.tp0.konghq.com",
               "deleteControlPlaneOnDestroy": True}
    with pytest.raises(ConfigError) as info:
        load_stack_config({"mode": "konnect-ecs", "kong": json.dumps({"version": "3.10.0.1"}),
                           "konnect": json.dumps(konnect)}, set(), region="us-west-2", env_token=None)
    (problem,) = info.value.problems
    assert problem.startswith("kong-aws:konnect.deleteControlPlaneOnDestroy: got true")
    assert "controlPlaneName" in problem
