"""A gateway file's entities applied to Konnect (components/konnect_entities.py).

The provider runs against tests/fake_konnect.py's core entities, which check every request body
and answer against the operation's schemas in Konnect's configuration spec
(../shared/reference/konnect/konnect-control-planes-config-v2.openapi.yaml) and answer unique names
and missing references as Kong does; the fixture fails a test that made it record a problem. The
provider is called as Pulumi's dynamic provider process calls it (camelCase props). The last tests
declare the component under the mocks, and plan an edit of the gateway file from two runs.
"""

from __future__ import annotations

import json
import traceback
import uuid
from functools import lru_cache
from typing import Optional

import httpx
import pytest
from pulumi.runtime import rpc

from components.gateway_config import Entity, load_gateway_file, stack_tag
from components.konnect_api import KonnectApiError
from components.konnect_entities import (
    ENTITY_KINDS, NAME_LENGTH, REPLACING, EntityProvider, KonnectGatewayConfiguration, entity_id, request_body,
    resource_name,
)
from tests.conftest import self_signed_pem
from tests.fake_konnect import TEST_TOKEN, CoreEntities, FakeKonnect
from tools.mocks import RunResult, mask_secrets, plain_values, run_program
from tools.plan import CREATE, DELETE, REPLACED_BY, UPDATE, plan

TOKEN = TEST_TOKEN
ENTITY_TYPE = "pulumi-python:dynamic/konnect:GatewayEntity"
MARKER = "kong-aws/kong-aws/test"
TAG = stack_tag("kong-aws", "test")
CORE = "/v2/control-planes/[^/]+/core-entities"



@pytest.fixture
def plane(konnect) -> str:
    return konnect.add_control_plane("kong-aws-test")["id"]


@lru_cache(maxsize=None)
def pem(name: str) -> tuple[str, str]:
    return self_signed_pem(name, days=30)


def entity(kind: str, key: str, body: dict, refs: Optional[dict] = None, explicit_id: Optional[str] = None) -> Entity:
    return Entity(kind=kind, key=key, name=key.split(":", 1)[1], body=body, refs=refs or {},
                  position=f"{kind}s[0]", explicit_id=explicit_id)


def props(fake: FakeKonnect, plane_id: str, item: Entity, ids: Optional[dict] = None, **changes) -> dict:
    """The inputs GatewayEntity registers for ``item`` (see the component test below); ``ids``:
    key -> id of the entities it references."""
    ids = ids or {}
    return {"apiUrl": fake.base_url, "token": TOKEN, "controlPlaneId": plane_id, "kind": item.kind,
            "key": item.key, "entityId": entity_id(MARKER, item), "body": {k: v for k, v in item.body.items()
                                                                       if k != "tags"},
            "refs": {f: ids[k] for f, k in item.refs.items()},
            "tags": [*item.body.get("tags", []), TAG], "ownerTag": TAG, **changes}


def konnect_error(call, *args) -> KonnectApiError:
    """The KonnectApiError ``call`` raises; its whole traceback must not hold the token."""
    with pytest.raises(KonnectApiError) as info:
        call(*args)
    text = "".join(traceback.format_exception(info.value))
    assert TOKEN not in text and TOKEN[5:] not in text
    return info.value


MOCK = entity("service", "service:mock", {"name": "mock", "url": "https://httpbin.konghq.com", "tags": ["seed-002"]})
ROUTE = entity("route", "route:mock", {"name": "mock", "paths": ["/mock"]}, {"service": "service:mock"})
MOCK_ID = entity_id(MARKER, MOCK)


# ---------------------------------------------------------------------------------------------
# The fake: it must refuse what Konnect would refuse, or the tests below prove nothing.


def test_the_fake_checks_core_entity_bodies_against_the_config_spec(konnect, plane):
    base = f"{konnect.base_url}/v2/control-planes/{plane}/core-entities"
    with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        unknown = http.put(f"{base}/services/{uuid.uuid4()}", json={"host": "a.example", "colour": "red"})
        nullable = http.put(f"{base}/services/{uuid.uuid4()}", json={"host": "a.example", "path": None})
        dangling = http.put(f"{base}/routes/{uuid.uuid4()}",
                            json={"paths": ["/x"], "service": {"id": str(uuid.uuid4())}})
        anonymous = httpx.get(f"{base}/services")
    assert [r.status_code for r in (unknown, nullable, dangling, anonymous)] == [400, 200, 400, 401]
    assert len(konnect.problems) == 1 and "colour" in konnect.problems[0] and "Service" in konnect.problems[0]
    assert "does not reference an existing 'services' entity" in dangling.text
    assert nullable.json()["port"] == 80 and nullable.json()["protocol"] == "http"  # the schema's defaults
    konnect.problems.clear()


# ---------------------------------------------------------------------------------------------
# Create, update, delete


def test_create_puts_the_declared_body_with_the_stacks_tag_and_its_references(konnect, plane):
    provider = EntityProvider()
    service = provider.create(props(konnect, plane, MOCK))
    route = provider.create(props(konnect, plane, ROUTE, {"service:mock": MOCK_ID}))
    # Deterministic ids: uuid5 of the stack's marker, the kind and the key.
    assert service.id == str(uuid.uuid5(uuid.NAMESPACE_URL, f"{MARKER}#service#service:mock")) == MOCK_ID
    puts = konnect.requests("PUT")
    assert [c.path for c in puts] == [f"/v2/control-planes/{plane}/core-entities/services/{service.id}",
                                      f"/v2/control-planes/{plane}/core-entities/routes/{route.id}"]
    # The url as the parts the spec's Service requires (host).
    assert puts[0].body == {"name": "mock", "protocol": "https", "host": "httpbin.konghq.com", "port": 443,
                            "tags": ["seed-002", TAG]}
    assert puts[1].body == {"name": "mock", "paths": ["/mock"], "service": {"id": service.id}, "tags": [TAG]}
    # Looked up by id, then by name, before writing.
    assert [(c.method, c.path.rsplit("/", 1)[-1], c.status) for c in konnect.calls[:3]] == [
        ("GET", service.id, 404), ("GET", "mock", 404), ("PUT", service.id, 200)]
    stored = konnect.core.entities(plane, "services")[service.id]
    assert (stored["host"], stored["port"], stored["protocol"]) == ("httpbin.konghq.com", 443, "https")
    assert konnect.core.entities(plane, "routes")[route.id]["service"] == {"id": service.id}
    assert route.outs["path"].endswith(f"/core-entities/routes/{route.id}") and "token" in route.outs


def test_every_kind_is_written_and_deleted_at_its_path_with_a_body_the_spec_accepts(konnect, plane):
    cert, key = pem("gateway.example.com")
    items = [
        entity("vault", "vault:env", {"name": "env", "prefix": "my-env", "config": {"prefix": "DECK_"}}),
        entity("ca_certificate", "ca_certificate:ca", {"cert": cert}),
        entity("certificate", "certificate:gw", {"cert": cert, "key": key}),
        entity("sni", "sni:gw", {"name": "gateway.example.com"}, {"certificate": "certificate:gw"}),
        entity("upstream", "upstream:up", {"name": "up.internal"}),
        entity("target", "target:up/10.0.0.1:80", {"target": "10.0.0.1:80", "weight": 50}, {"upstream": "upstream:up"}),
        MOCK, ROUTE,
        entity("consumer", "consumer:alice", {"username": "alice"}),
        entity("keyauth_credential", "keyauth_credential:alice/0", {"key": "k-1"}, {"consumer": "consumer:alice"}),
        entity("basicauth_credential", "basicauth_credential:alice/0", {"username": "alice", "password": "pw"},
               {"consumer": "consumer:alice"}),
        entity("hmacauth_credential", "hmacauth_credential:alice/0", {"username": "alice-h", "secret": "s"},
               {"consumer": "consumer:alice"}),
        entity("jwt_secret", "jwt_secret:alice/0", {"key": "iss-1", "algorithm": "HS256", "secret": "s"},
               {"consumer": "consumer:alice"}),
        entity("acl", "acl:alice/0", {"group": "gold"}, {"consumer": "consumer:alice"}),
        entity("plugin", "plugin:rate-limiting@route:mock", {"name": "rate-limiting", "config": {"minute": 3}},
               {"route": "route:mock"}),
    ]
    assert {i.kind for i in items} == set(ENTITY_KINDS)
    provider, ids, created = EntityProvider(), {}, []
    for item in items:
        result = provider.create(props(konnect, plane, item, ids))
        ids[item.key] = result.id
        created.append(result)
    assert len({c.path for c in konnect.requests("PUT")}) == len(items)
    target = konnect.core.entities(plane, "targets")[ids["target:up/10.0.0.1:80"]]
    assert target["upstream"] == {"id": ids["upstream:up"]} and target["weight"] == 50
    for result in reversed(created):  # as Pulumi deletes: dependents first
        provider.delete(result.id, result.outs)
    assert all(not bucket for bucket in konnect.core.store[plane].values())


def test_update_puts_the_whole_declared_body_and_a_new_token_alone_calls_nothing(konnect, plane):
    provider = EntityProvider()
    olds = provider.create(props(konnect, plane, MOCK)).outs
    news = {**olds, "body": {"name": "mock", "url": "http://httpbin.org", "retries": 2}}
    diff = provider.diff(MOCK_ID, olds, news)
    assert diff.changes and not diff.replaces
    konnect.calls.clear()
    provider.update(MOCK_ID, olds, news)
    read, put = konnect.requests()
    assert (read.method, read.status) == ("GET", 200)  # still there and the stack's: written
    assert put.method == "PUT" and put.body == {"name": "mock", "protocol": "http", "host": "httpbin.org",
                                                "port": 80, "retries": 2, "tags": ["seed-002", TAG]}
    stored = konnect.core.entities(plane, "services")[MOCK_ID]
    assert (stored["protocol"], stored["host"], stored["port"], stored["retries"]) == ("http", "httpbin.org", 80, 2)

    konnect.calls.clear()
    renewed = {**news, "token": "kpat_" + "Z" * 40}
    konnect.tokens.add(renewed["token"])
    assert provider.diff(MOCK_ID, news, renewed).changes
    provider.update(MOCK_ID, news, renewed)
    assert konnect.calls == []


def test_delete_removes_the_stacks_entity_and_a_gone_one_is_fine(konnect, plane):
    provider = EntityProvider()
    outs = provider.create(props(konnect, plane, MOCK)).outs
    provider.delete(MOCK_ID, outs)
    assert konnect.core.entities(plane, "services") == {}
    assert konnect.requests("DELETE")[0].path.endswith(MOCK_ID)
    provider.delete(MOCK_ID, outs)  # already gone: nothing to do, no error
    assert len(konnect.requests("DELETE")) == 1


def test_an_entity_that_lost_the_tag_is_never_deleted(konnect, plane):
    provider = EntityProvider()
    outs = provider.create(props(konnect, plane, MOCK)).outs
    konnect.core.entities(plane, "services")[MOCK_ID]["tags"] = ["team-edge"]  # taken over in the UI
    provider.delete(MOCK_ID, outs)
    assert konnect.requests("DELETE") == [] and MOCK_ID in konnect.core.entities(plane, "services")


def test_an_update_of_an_entity_that_lost_the_tag_or_is_gone_is_refused(konnect, plane):
    provider = EntityProvider()
    olds = provider.create(props(konnect, plane, MOCK)).outs
    news = {**olds, "body": {**olds["body"], "retries": 2}}
    taken = konnect.core.entities(plane, "services")[MOCK_ID]
    taken["tags"] = ["team-edge"]  # taken over in the UI; `pulumi refresh` then records these tags
    refreshed = provider.read(MOCK_ID, olds).outs
    error = konnect_error(provider.update, MOCK_ID, refreshed, news)
    assert f"no longer this stack's: its tag {TAG!r} was removed in Konnect" in str(error)
    assert "Remove the entity from the gateway file" in str(error) and "put the tag back" in str(error)
    assert konnect.requests("PUT")[1:] == [] and taken["tags"] == ["team-edge"]
    assert konnect.core.entities(plane, "services")[MOCK_ID] is taken and taken.get("retries") != 2

    del konnect.core.entities(plane, "services")[MOCK_ID]
    gone = konnect_error(provider.update, MOCK_ID, olds, news)
    assert gone.status == 404 and "no longer exists in Konnect; run `pulumi refresh`" in str(gone)
    assert len(konnect.requests("PUT")) == 1 and konnect.core.entities(plane, "services") == {}


# ---------------------------------------------------------------------------------------------
# Ownership: what the stack did not make is refused and left as it is.


@pytest.mark.parametrize("collection,existing,item,ids", [
    ("services", {"name": "mock", "host": "ui.example"}, MOCK, {}),
    ("consumers", {"username": "alice"}, entity("consumer", "consumer:alice", {"username": "alice"}), {}),
    ("vaults", {"name": "env", "prefix": "my-env"},
     entity("vault", "vault:env", {"name": "env", "prefix": "my-env"}), {}),
    ("plugins", {"name": "rate-limiting", "config": {"minute": 100}},
     entity("plugin", "plugin:rate-limiting", {"name": "rate-limiting", "config": {"minute": 3}}), {}),
])
def test_an_entity_made_elsewhere_with_the_same_name_is_refused_and_left_untouched(konnect, plane, collection,
                                                                                     existing, item, ids):
    made = konnect.core.add(plane, collection, {**existing, "tags": ["made-in-ui"]})
    error = konnect_error(EntityProvider().create, props(konnect, plane, item, ids))
    assert "made outside the stack" in str(error) and made["id"] in str(error) and TAG in str(error)
    assert ("Either rename the entity in the gateway file, or delete the other one in Konnect so that the stack "
            "creates it.") in str(error)
    # Not the advice to adopt it by its id: a new id with the same name replaces delete-first.
    assert " id " not in str(error).split("left as it is.")[1] and "tag it" not in str(error)
    assert konnect.requests("PUT") == [] and konnect.requests("DELETE") == []
    assert konnect.core.entities(plane, collection) == {made["id"]: made}


def test_an_entity_of_the_files_id_without_the_tag_is_refused(konnect, plane):
    made = konnect.core.add(plane, "services", {"name": "legacy", "host": "ui.example"})
    item = entity("service", "service:mock", {"name": "mock", "host": "a.example"}, explicit_id=made["id"])
    error = konnect_error(EntityProvider().create, props(konnect, plane, item))
    assert f"an entity of the id {made['id']}" in str(error) and "made outside the stack" in str(error)
    assert ("Either give the entity another id in the gateway file (or none), or delete the other one in Konnect "
            "so that the stack creates it.") in str(error)
    assert konnect.requests("PUT") == [] and konnect.core.entities(plane, "services")[made["id"]] == made


def test_a_new_id_for_a_service_with_routes_stops_at_the_delete_first_with_what_to_do(konnect, plane):
    # The file gives the service an id while it keeps its name: a replacement that must delete the
    # old service first (both hold the name), which Konnect refuses while its route points at it.
    provider = EntityProvider()
    olds = provider.create(props(konnect, plane, MOCK)).outs
    provider.create(props(konnect, plane, ROUTE, {"service:mock": MOCK_ID}))
    news = {**olds, "entityId": str(uuid.uuid4())}
    assert provider.diff(MOCK_ID, olds, news).delete_before_replace
    error = konnect_error(provider.delete, MOCK_ID, olds)
    assert error.status == 400 and "an existing 'routes' entity references this 'services' entity" in str(error)
    assert "put the old `id` back in the gateway file, or give the entity a new name as well" in str(error)
    assert MOCK_ID in konnect.core.entities(plane, "services") and len(konnect.core.entities(plane, "routes")) == 1


def test_a_unique_value_konnect_refuses_on_put_is_explained(konnect, plane):
    # Credentials are not looked up before writing; Konnect's 400 says which value is taken.
    alice = entity("consumer", "consumer:alice", {"username": "alice"})
    ids = {"consumer:alice": EntityProvider().create(props(konnect, plane, alice)).id}
    konnect.core.add(plane, "key-auth", {"key": "k-1", "consumer": {"id": ids["consumer:alice"]}})
    cred = entity("keyauth_credential", "keyauth_credential:alice/0", {"key": "k-1"}, {"consumer": "consumer:alice"})
    error = konnect_error(EntityProvider().create, props(konnect, plane, cred, ids))
    assert error.status == 400 and "unique" in str(error) and "made outside this stack" in str(error)


def test_konnect_details_of_a_secret_body_are_left_out_of_errors(konnect, plane, monkeypatch):
    # Kong's unique violation names the value it refused ("UNIQUE violation detected on
    # '{key="..."}'", Kong/kong kong/db/errors.lua); the fake is made to answer so.
    write = CoreEntities._write

    def echoing(self, cp, collection, parent, body, existing, status):
        code, answer = write(self, cp, collection, parent, body, existing, status)
        if code == 400 and "unique" in json.dumps(answer):
            answer = {**answer, "message": f"UNIQUE violation detected on '{{key=\"{body.get('key')}\"}}'"}
        return code, answer

    monkeypatch.setattr(CoreEntities, "_write", echoing)
    alice = entity("consumer", "consumer:alice", {"username": "alice"})
    ids = {"consumer:alice": EntityProvider().create(props(konnect, plane, alice)).id}
    konnect.core.add(plane, "key-auth", {"key": SECRET_KEY, "consumer": {"id": ids["consumer:alice"]}})
    cred = entity("keyauth_credential", "keyauth_credential:alice/0", {"key": SECRET_KEY},
                  {"consumer": "consumer:alice"})
    plain = konnect_error(EntityProvider().create, props(konnect, plane, cred, ids))
    assert SECRET_KEY in str(plain)  # the fake does echo it: the test below can fail
    hidden = konnect_error(EntityProvider().create, props(konnect, plane, cred, ids, secretBody=True))
    text = "".join(traceback.format_exception(hidden))
    assert SECRET_KEY not in text and "alice-secret" not in text
    assert hidden.status == 400 and "keyauth_credential 'keyauth_credential:alice/0'" in str(hidden)
    assert "HTTP 400" in str(hidden) and "withheld" in str(hidden) and "holds secret values" in str(hidden)
    # An update's error too.
    olds = EntityProvider().create(props(konnect, plane, entity("keyauth_credential", "keyauth_credential:alice/1",
                                                                    {"key": "other"}, {"consumer": "consumer:alice"}),
                                         ids, secretBody=True)).outs
    hidden = konnect_error(EntityProvider().update, olds["entityId"], olds, {**olds, "body": {"key": SECRET_KEY}})
    assert SECRET_KEY not in "".join(traceback.format_exception(hidden)) and "withheld" in str(hidden)


def test_an_interrupted_create_runs_again_onto_the_same_entity(konnect, plane, sleeps):
    provider = EntityProvider()
    # Every answer to the PUT is lost, though Konnect wrote the entity: the create fails.
    konnect.fail(502, times=None, method="PUT", commit=True)
    konnect_error(provider.create, props(konnect, plane, MOCK))
    konnect.faults.clear()
    # Pulumi never recorded it; the next `pulumi up` creates it again and finds it, tagged.
    result = provider.create(props(konnect, plane, MOCK))
    assert result.id == MOCK_ID and list(konnect.core.entities(plane, "services")) == [MOCK_ID]
    assert konnect.requests("PUT")[-1].status == 200


@pytest.mark.parametrize("status", [429, 503])
def test_rate_limits_and_outages_are_retried(konnect, plane, sleeps, status):
    konnect.fail(status, times=2, method="PUT", retry_after="7" if status == 429 else None)
    result = EntityProvider().create(props(konnect, plane, MOCK))
    assert [c.status for c in konnect.requests("PUT")] == [status, status, 200]
    assert result.id in konnect.core.entities(plane, "services")
    if status == 429:
        assert sleeps == [7.0, 7.0]  # Retry-After honoured


# ---------------------------------------------------------------------------------------------
# Refresh and import


def test_refresh_shows_a_change_made_in_the_ui_and_the_next_up_puts_the_file_back(konnect, plane):
    provider = EntityProvider()
    inputs = props(konnect, plane, ROUTE, {"service:mock": MOCK_ID})
    provider.create(props(konnect, plane, MOCK))
    created = provider.create(inputs)
    stored = konnect.core.entities(plane, "routes")[created.id]
    stored.update({"paths": ["/ui"], "tags": ["made-in-ui", TAG], "strip_path": False})
    read = provider.read(created.id, created.outs)
    assert read.id == created.id
    assert read.outs["body"] == {"name": "mock", "paths": ["/ui"]}  # declared fields, Konnect's values
    assert read.outs["tags"] == ["made-in-ui", TAG] and read.outs["refs"] == {"service": MOCK_ID}
    diff = provider.diff(created.id, read.outs, inputs)
    assert diff.changes and not diff.replaces
    provider.update(created.id, read.outs, inputs)
    assert stored["paths"] != konnect.core.entities(plane, "routes")[created.id]["paths"] == ["/mock"]
    assert konnect.core.entities(plane, "routes")[created.id]["tags"] == [TAG]
    # Unchanged: the service's url reads back as declared although Konnect answers its parts.
    service = provider.read(MOCK_ID, {**props(konnect, plane, MOCK), "path": "x"})
    assert service.outs["body"]["url"] == "https://httpbin.konghq.com"
    konnect.core.entities(plane, "services")[MOCK_ID]["host"] = "other.example"
    moved = provider.read(MOCK_ID, {**props(konnect, plane, MOCK), "path": "x"})
    assert moved.outs["body"]["url"] == "https://other.example:443"


def test_an_entity_deleted_in_konnect_is_forgotten_on_refresh(konnect, plane):
    provider = EntityProvider()
    created = provider.create(props(konnect, plane, MOCK))
    del konnect.core.entities(plane, "services")[MOCK_ID]
    assert provider.read(MOCK_ID, created.outs).id is None


def test_import_reads_an_entity_by_id(konnect, plane):
    made = konnect.core.add(plane, "services", {"name": "mock", "host": "httpbin.konghq.com", "protocol": "https",
                                                "port": 443, "tags": ["made-in-ui"]})
    inputs = {k: v for k, v in props(konnect, plane, MOCK).items() if k != "entityId"}
    read = EntityProvider().read(made["id"], inputs)
    assert read.id == made["id"] and read.outs["entityId"] == made["id"]
    assert read.outs["body"]["url"] == "https://httpbin.konghq.com" and read.outs["tags"] == ["made-in-ui"]


# ---------------------------------------------------------------------------------------------
# diff


def test_diff_replaces_for_another_place_or_id_and_deletes_first_only_on_a_name_collision(konnect):
    olds = {**props(konnect, "cp-1", MOCK), "path": "p"}
    assert set(REPLACING) == {"apiUrl", "controlPlaneId", "kind", "entityId"}
    other_plane = EntityProvider().diff(MOCK_ID, olds, {**olds, "controlPlaneId": "cp-2"})
    assert other_plane.replaces == ["controlPlaneId"] and not other_plane.delete_before_replace
    same_name = EntityProvider().diff(MOCK_ID, olds, {**olds, "entityId": str(uuid.uuid4())})
    assert same_name.replaces == ["entityId"] and same_name.delete_before_replace
    renamed = {**olds, "entityId": str(uuid.uuid4()), "body": {**olds["body"], "name": "mock2"}}
    assert not EntityProvider().diff(MOCK_ID, olds, renamed).delete_before_replace
    body = EntityProvider().diff(MOCK_ID, olds, {**olds, "body": {**olds["body"], "retries": 1}})
    assert body.changes and not body.replaces
    assert not EntityProvider().diff(MOCK_ID, olds, {**olds, "tags": list(reversed(olds["tags"]))}).changes
    assert request_body(olds)["tags"] == ["seed-002", TAG] and "url" not in request_body(olds)


# ---------------------------------------------------------------------------------------------
# The component under the mocks, and the plan of a gateway file edit


SEED_001 = [
    entity("service", "service:gateway_service1", {"name": "gateway_service1", "url": "http://httpbin.org"}),
    entity("route", "route:route1", {"name": "route1", "paths": ["/route1"]}, {"service": "service:gateway_service1"}),
    entity("plugin", "plugin:rate-limiting@route:route1", {"name": "rate-limiting", "config": {"minute": 3}},
           {"route": "route:route1"}),
    entity("consumer", "consumer:alice", {"username": "alice"}),
    entity("keyauth_credential", "keyauth_credential:alice/0", {"key": '${{ env "DECK_ALICE_KEY" }}'},
           {"consumer": "consumer:alice"}),
]
SECRET_KEY = "alice-secret-key-4711"


def _configuration(entities: list[Entity]):
    def program() -> None:
        import pulumi
        gateway = KonnectGatewayConfiguration("gateway", {
            "api_url": "https://us.api.konghq.com", "token": TOKEN, "control_plane_id": "cp-1",
            "entities": entities, "env": {"DECK_ALICE_KEY": pulumi.Output.secret(SECRET_KEY)}})
        pulumi.export("entityIds", gateway.entity_ids)
    return program


_RUNS: dict[str, RunResult] = {}


def _run(entities: list[Entity], prior: Optional[RunResult] = None) -> RunResult:
    """The component declared for ``entities`` under the mocks, after ``prior``; a run is made once."""
    label = repr((entities, id(prior)))
    if label not in _RUNS:
        _RUNS[label] = run_program(_configuration(entities), {"aws:region": "us-west-2"}, prior=prior)
    return _RUNS[label]


def test_the_component_declares_one_entity_each_with_references_resolved_and_secrets_kept():
    result = _run(SEED_001)
    registered = {r.name: r for r in result.of_type(ENTITY_TYPE)}
    assert sorted(registered) == ["gateway-consumer-alice", "gateway-keyauth_credential-alice-0",
                                  "gateway-plugin-rate-limiting-route-route1", "gateway-route-route1",
                                  "gateway-service-gateway_service1"]
    ids = result.outputs["entityIds"][0]
    route, service = registered["gateway-route-route1"], registered["gateway-service-gateway_service1"]
    assert route.inputs["refs"] == {"service": ids["service:gateway_service1"]}
    assert service.urn in route.dependencies  # created before, deleted after the route
    assert service.inputs["tags"] == [TAG] and service.inputs["ownerTag"] == TAG
    assert service.inputs["entityId"] == ids["service:gateway_service1"] == entity_id(MARKER, SEED_001[0])
    credential = registered["gateway-keyauth_credential-alice-0"]
    assert rpc.is_rpc_secret(credential.inputs["body"])
    assert plain_values(credential.inputs["body"]) == {"key": SECRET_KEY}
    assert "body" in credential.options["additionalSecretOutputs"]
    for reg in registered.values():
        assert rpc.is_rpc_secret(reg.inputs["token"]) and "token" in reg.options["additionalSecretOutputs"]
    everything = json.dumps([mask_secrets(r.inputs) for r in result.registrations], default=str)
    assert TOKEN not in everything and SECRET_KEY not in everything


def test_a_bad_reference_or_a_missing_env_value_is_refused_before_anything_is_declared():
    dangling = entity("route", "route:r", {"paths": ["/r"]}, {"service": "service:nope"})
    orphan = entity("keyauth_credential", "keyauth_credential:x/0", {"key": '${{ env "DECK_OTHER" }}'})
    with pytest.raises(ValueError) as info:
        _run([dangling, orphan, SEED_001[4]])
    problems = str(info.value).splitlines()[1:]
    assert [p.strip() for p in problems] == [
        "routes[0]: service names 'service:nope', which the file does not declare",
        "keyauth_credentials[0]: a keyauth_credential needs its consumer",
        "keyauth_credentials[0]: no value for DECK_OTHER (give it in the stack's secret config)",
        "keyauth_credentials[0]: consumer names 'consumer:alice', which the file does not declare"]


def test_a_gateway_file_edit_plans_only_the_entities_that_change():
    before = _run(SEED_001)
    renamed = entity("service", "service:httpbin", {"name": "httpbin", "url": "http://httpbin.org"})
    route1 = entity("route", "route:route1", {"name": "route1", "paths": ["/route1"]}, {"service": "service:httpbin"})
    route2 = entity("route", "route:route2", {"name": "route2", "paths": ["/route2"]}, {"service": "service:httpbin"})
    after = _run([renamed, route1, route2, *SEED_001[3:]], before)
    steps = plan(before, after, {**REPLACED_BY, ENTITY_TYPE: frozenset(REPLACING)})
    by_name = {urn.rsplit("::", 1)[-1]: op for urn, op in steps.changes().items()}
    assert by_name == {"gateway-service-httpbin": CREATE, "gateway-route-route2": CREATE,
                       "gateway-route-route1": UPDATE, "gateway-service-gateway_service1": DELETE,
                       "gateway-plugin-rate-limiting-route-route1": DELETE}
    route = {r.name: r for r in after.of_type(ENTITY_TYPE)}["gateway-route-route1"]
    assert steps.steps[route.urn].changed == ("refs", "refs.service")
    new_service = {r.name: r for r in after.of_type(ENTITY_TYPE)}["gateway-service-httpbin"]
    # The route moves to the new service (so the old one, deleted at the end, has no route left).
    assert new_service.urn in route.dependencies


def _gateway_file(folder, routes: list[str]) -> list[Entity]:
    """The entities components.gateway_config loads from a file of service s1 with ``routes``,
    each with a rate-limiting plugin (as the loader names them: the plugin's name only)."""
    import yaml
    document = {"_format_version": "3.0", "services": [{"name": "s1", "url": "http://httpbin.org", "routes": [
        {"name": r, "paths": [f"/{r}"], "plugins": [{"name": "rate-limiting", "config": {"minute": 3}}]}
        for r in routes]}]}
    path = folder / f"gateway-{'-'.join(routes)}.yaml"
    path.write_text(yaml.safe_dump(document))
    return list(load_gateway_file(path.name, root=folder).entities)


def test_a_second_plugin_of_the_same_name_only_adds_its_own_resources_and_removing_it_only_deletes_them(tmp_path):
    one, two = _gateway_file(tmp_path, ["route1"]), _gateway_file(tmp_path, ["route1", "route2"])
    assert {e.name for e in two if e.kind == "plugin"} == {"rate-limiting"}  # the names that collided
    replaced = {**REPLACED_BY, ENTITY_TYPE: frozenset(REPLACING)}
    before = _run(one)
    added = _run(two, before)
    steps = plan(before, added, replaced)
    assert {urn.rsplit("::", 1)[-1]: op for urn, op in steps.changes().items()} == {
        "gateway-route-route2": CREATE, "gateway-plugin-rate-limiting-route-route2": CREATE}
    removed = plan(added, _run(one, added), replaced)
    assert {urn.rsplit("::", 1)[-1]: op for urn, op in removed.changes().items()} == {
        "gateway-route-route2": DELETE, "gateway-plugin-rate-limiting-route-route2": DELETE}


def test_resource_names_come_from_the_key_alone(tmp_path):
    odd = entity("consumer", "consumer:al ice", {"username": "al ice"})
    assert resource_name("gw", odd) == f"gw-consumer-al-ice-{uuid.uuid5(uuid.NAMESPACE_URL, odd.key).hex[:8]}"
    assert resource_name("gw", entity("target", "target:up/10.0.0.1:80", {})) == "gw-target-up-10.0.0.1-80"
    assert resource_name("gw", entity("plugin", "plugin:prometheus@global", {})) == "gw-plugin-prometheus-global"
    long_key = entity("route", "route:" + "r" * 200, {})
    assert len(resource_name("gw", long_key)) == len("gw-") + NAME_LENGTH + 9
    # The same entity keeps its resource name whatever else the file holds.
    one, two = _gateway_file(tmp_path, ["route1"]), _gateway_file(tmp_path, ["route1", "route2"])
    names = [{r.name for r in _run(f).of_type(ENTITY_TYPE)} for f in (one, two)]
    assert "gateway-plugin-rate-limiting-route-route1" in names[0] & names[1]


def test_two_keys_of_one_resource_name_are_refused_before_anything_is_declared():
    instance = entity("plugin", "plugin:key-auth:route@global", {"name": "key-auth", "instance_name": "route"})
    scoped = entity("plugin", "plugin:key-auth@route:global", {"name": "key-auth"}, {"route": "route:global"})
    route = entity("route", "route:global", {"name": "global", "paths": ["/g"]})
    with pytest.raises(ValueError) as info:
        _run([route, instance, scoped])
    assert ("'plugin:key-auth@route:global' gets the resource name of 'plugin:key-auth:route@global' "
            "(plugins[0]); rename one of them") in str(info.value)


def test_rotating_a_gateway_secret_rewrites_only_its_credential_in_place():
    """kong-aws:gatewaySecrets.DECK_ALICE_KEY set anew: the key-auth credential that reads it is
    updated (a PUT at the same id), its consumer and every other entity stay as they are."""
    def program(key: str):
        def declare() -> None:
            import pulumi
            KonnectGatewayConfiguration("gateway", {
                "api_url": "https://us.api.konghq.com", "token": TOKEN, "control_plane_id": "cp-1",
                "entities": SEED_001, "env": {"DECK_ALICE_KEY": pulumi.Output.secret(key)}})
        return declare

    before = _run(SEED_001)
    after = run_program(program("rotated-" + SECRET_KEY), {"aws:region": "us-west-2"}, prior=before)
    steps = plan(before, after)
    assert {urn.rsplit("::", 1)[-1]: op for urn, op in steps.changes().items()} == {
        "gateway-keyauth_credential-alice-0": UPDATE}
    (credential,) = [s for s in steps.of_type(ENTITY_TYPE) if s.op == UPDATE]
    assert credential.changed == ("body", "body.key")
