"""A gateway file's entities in a Konnect control plane, one Pulumi dynamic resource per entity.

:class:`KonnectGatewayConfiguration` declares a :class:`GatewayEntity` for every
:class:`components.gateway_config.Entity` of the stack's gateway file, so that ``pulumi preview``
lists the services, routes, plugins ... that change. :class:`EntityProvider` applies one entity
through Konnect's configuration API (../shared/reference/konnect/
konnect-control-planes-config-v2.openapi.yaml, ``/v2/control-planes/{controlPlaneId}/core-entities/...``):

- **Ids are deterministic**: the file's ``id``, else a UUID (version 5) of the stack's marker
  (:func:`components.konnect_api.stack_marker`), the kind and the entity's key
  (:func:`entity_id`). Entities are written with ``PUT /{collection}/{id}``, which the spec
  describes as "Create or Update ... using ID" (an upsert), so a create whose answer was lost and
  is tried again lands on the same entity.
- **Ownership is a tag**: every entity the stack writes carries :func:`stack_tag`
  (``kong-aws:<project>:<stack>``) besides the file's own tags. Kong refuses ``,`` and ``/`` in a
  tag (Kong/kong ``kong/db/schema/typedefs.lua``, ``validate_tag``: the list endpoints' ``tags``
  filter uses them for AND and OR, as the spec's ``PaginationTagsFilter`` says), so the tag is not
  the marker ``kong-aws/<project>/<stack>`` itself. A create that finds an entity of its id with the
  tag takes it as its own (an interrupted create); one without the tag, or an entity of the same
  unique name (a service's, route's or upstream's ``name``, a consumer's ``username``, a vault's
  ``prefix``, an SNI's ``name``, a target's ``target``, a plugin of the same name on the same
  service/route/consumer) is refused with an error and left as it is. Delete never touches an
  entity without the tag.
- **Drift**: ``read`` (``pulumi refresh``) reports Konnect's values of the fields the file declares,
  so the next ``pulumi up`` puts the file's back; an entity deleted in Konnect is forgotten.

Retries, timeouts and error explanations are those of :class:`components.konnect_api.KonnectClient`.
The access token is a secret input and output; a body with decK environment substitutions
(``${{ env "DECK_X" }}``) is a secret too, with the values substituted.
"""

import dataclasses
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Optional, Required, TypedDict
from urllib.parse import quote, urlsplit

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult

from components.gateway_config import (KINDS, PLUGIN_SCOPES, Entity, check_tag, env_names, stack_tag,
                                     substitute_env)
from components.konnect_api import KonnectApiError, KonnectClient, camel_case, snake_case, stack_marker
from components.package import type_token, with_defaults


@dataclasses.dataclass(frozen=True)
class EntityKind:
    """How the configuration API serves one kind of entity.

    ``collection``: the path under ``core-entities/`` (``services``; ``{parent}`` stands for the
    parent's id in nested paths such as ``consumers/{parent}/key-auth``). ``parent``: the reference
    field that names the parent of a nested entity (its id goes into the path, not the body).
    ``schema``: the spec's request body schema of ``PUT``. ``unique``: the field Konnect keeps
    unique and serves ``GET /{collection}/{value}`` for (the spec: "using ID or name/username/
    prefix/target"), or None.
    """

    collection: str
    schema: str
    parent: Optional[str] = None
    unique: Optional[str] = None


#: Kind (``Entity.kind``) -> how the API serves it. Source: the paths and schemas of
#: konnect-control-planes-config-v2.openapi.yaml (``PUT`` bodies; the "using ID or ..." wording of
#: each ``GET``).
ENTITY_KINDS: dict[str, EntityKind] = {
    "vault": EntityKind("vaults", "Vault", unique="prefix"),
    "ca_certificate": EntityKind("ca_certificates", "CACertificate"),
    "certificate": EntityKind("certificates", "CertificateRequest"),
    "sni": EntityKind("snis", "SNI", unique="name"),
    "upstream": EntityKind("upstreams", "Upstream", unique="name"),
    "target": EntityKind("upstreams/{parent}/targets", "TargetWithoutParents", parent="upstream", unique="target"),
    "service": EntityKind("services", "Service", unique="name"),
    "route": EntityKind("routes", "Route", unique="name"),
    "consumer": EntityKind("consumers", "Consumer", unique="username"),
    "keyauth_credential": EntityKind("consumers/{parent}/key-auth", "KeyAuthWithoutParents", parent="consumer"),
    "basicauth_credential": EntityKind("consumers/{parent}/basic-auth", "BasicAuthWithoutParents", parent="consumer"),
    "hmacauth_credential": EntityKind("consumers/{parent}/hmac-auth", "HMACAuthWithoutParents", parent="consumer"),
    "jwt_secret": EntityKind("consumers/{parent}/jwt", "JWTWithoutParents", parent="consumer"),
    "acl": EntityKind("consumers/{parent}/acls", "ACLWithoutParents", parent="consumer"),
    "plugin": EntityKind("plugins", "Plugin"),
}
assert set(ENTITY_KINDS) == set(KINDS), "every kind of a gateway file has a path"

#: Fields Konnect does not answer as they were written: a service's ``url`` is split into
#: ``protocol``, ``host``, ``port`` and ``path`` (the spec: "write-only and is not returned"), and a
#: basic-auth ``password`` is stored hashed (Kong's basic-auth plugin docs). ``read`` keeps the
#: declared value of these (the ``url`` only while its parts still match).
WRITE_ONLY = frozenset({("service", "url"), ("basicauth_credential", "password")})
#: Pages of at most this many entities (the spec's PaginationSize: default 100, maximum 1000).
PAGE_SIZE = 1000

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def entity_id(marker: str, entity: Entity) -> str:
    """The id of ``entity`` in Konnect: its ``explicit_id``, else ``uuid5`` of the stack's
    ``marker``, the kind and the key (the same for every run of the stack)."""
    if entity.explicit_id:
        return entity.explicit_id
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{marker}#{entity.kind}#{entity.key}"))


# ---------------------------------------------------------------------------------------------
# The API


def entity_path(control_plane_id: str, kind: str, refs: Mapping[str, Any], ident: Optional[str] = None) -> str:
    """``/v2/control-planes/{cp}/core-entities/{collection}[/{ident}]`` for ``kind``, the parent's
    id taken from ``refs``; ``ident`` (an id or a unique name) is URL-quoted."""
    spec = ENTITY_KINDS[kind]
    collection = spec.collection
    if spec.parent is not None:
        collection = collection.replace("{parent}", quote(str(refs[spec.parent]), safe=""))
    path = f"/v2/control-planes/{control_plane_id}/core-entities/{collection}"
    return path if ident is None else f"{path}/{quote(ident, safe='')}"


class EntityClient(KonnectClient):
    """:class:`KonnectClient` with the configuration API's entity operations."""

    def __enter__(self) -> "EntityClient":
        return self

    def get_entity(self, path: str, what: str) -> Optional[dict]:
        """The entity at ``path`` (an entity's path), or None when Konnect answers 404."""
        response = self.request("GET", path, expect=(200, 404), what=what)
        return None if response.status_code == 404 else response.json()

    def list_entities(self, path: str, what: str, *, tags: Optional[str] = None,
                      params: Optional[dict] = None) -> list[dict]:
        """Every entity of the collection ``path``, page by page (``size``, then the ``offset``
        each answer gives until it gives none or null), with the ``tags`` filter if given."""
        query: dict[str, Any] = {"size": PAGE_SIZE, **(params or {})}
        if tags is not None:
            query["tags"] = tags
        found: list[dict] = []
        while True:
            page = self.request("GET", path, expect=(200,), what=what, params=query).json()
            found += page.get("data") or []
            if not page.get("offset"):
                return found
            query = {**query, "offset": page["offset"]}

    def put_entity(self, path: str, body: dict, what: str, unique: Optional[str], *, secret: bool = False) -> dict:
        """``PUT`` ``body`` at ``path`` (create or replace) and return Konnect's answer. Raises
        :class:`KonnectApiError` for any other answer; when Konnect refuses a unique field (400 or
        409 that says "unique"), the error says so. With ``secret`` (a body holding secret values)
        the error carries only the status: Konnect's ``detail``/``message`` can quote the values it
        refused (Kong's unique violation names the value: Kong/kong ``kong/db/errors.lua``)."""
        response = self.request("PUT", path, json=body, expect=_ANY_STATUS, what=what)
        if response.status_code in (200, 201):
            return response.json()
        message = self._explain(_Withheld(response.status_code) if secret else response, what)
        if secret:
            message += (" Konnect's details are withheld here because the entity's body holds secret values "
                        "(env substitutions).")
        if "unique" in response.text.lower():
            field = f" ({unique} {body.get(unique)!r})" if unique and unique in body and not secret else ""
            message += (f" An entity with the same unique value{field} exists in the control plane, made outside "
                        "this stack: rename the entity in the gateway file, or delete the other one in Konnect.")
        raise KonnectApiError(message, response.status_code)

    def delete_entity(self, path: str, what: str) -> None:
        """``DELETE`` ``path``; one already gone is fine (the spec answers 204 either way). Raises
        :class:`KonnectApiError`; Konnect's 400 for an entity that others still reference without
        cascading (a service's routes, a certificate's SNIs: Kong/kong ``kong/db/errors.lua``
        ``foreign_key_violation_restricted``) is explained."""
        response = self.request("DELETE", path, expect=(204, 400, 404, 409), what=what)
        if response.status_code in (400, 409):
            message = self._explain(response, what)
            if "reference" not in response.text.lower():
                raise KonnectApiError(message, response.status_code)
            raise KonnectApiError(
                f"{message} Konnect does not delete an entity that other entities still "
                "reference. When this delete is part of a replacement (the entity's `id` changed in the gateway "
                "file while it kept its name), the old entity has to go before the new one can take the name, "
                "and that cannot happen while its routes or SNIs point at it: put the old `id` back in the "
                "gateway file, or give the entity a new name as well (the new one is then created first, the "
                "references move to it, and the old one is deleted last).", response.status_code)


#: Every HTTP status: :meth:`EntityClient.put_entity` explains the answers itself.
_ANY_STATUS = tuple(range(100, 600))


class _Withheld:
    """An answer of ``status_code`` without a body: what :meth:`KonnectClient._explain` is given
    instead of Konnect's answer when that answer may quote secret values."""

    text = ""

    def __init__(self, status_code: int):
        self.status_code = status_code

    def json(self) -> dict:
        return {}


def _client(props: dict) -> EntityClient:
    return EntityClient(props["apiUrl"], props["token"])


def _ref_ids(kind: str, refs: Mapping[str, Any]) -> dict[str, Any]:
    # Reference fields of the body: {"service": {"id": ...}}; a nested entity's parent is in its path.
    parent = ENTITY_KINDS[kind].parent
    return {field: {"id": ident} for field, ident in refs.items() if field != parent}


def request_body(props: Mapping[str, Any]) -> dict:
    """The ``PUT`` body of an entity: its declared fields, the references as ``{"id": ...}``
    objects, and its tags. A service's ``url`` is sent as ``protocol``, ``host``, ``port`` and
    ``path`` (the spec's Service requires ``host``; ``url`` is a "helper field" for those four)."""
    body = dict(props.get("body") or {})
    if props["kind"] == "service" and isinstance(body.get("url"), str):
        protocol, host, port, path = _url_parts(body.pop("url"))
        body.update({"protocol": protocol, "host": host, "port": port, **({"path": path} if path else {})})
    return {**body, **_ref_ids(props["kind"], props.get("refs") or {}), "tags": list(props.get("tags") or [])}


def _describe(props: Mapping[str, Any]) -> str:
    kind, body = props["kind"], props.get("body") or {}
    unique = ENTITY_KINDS[kind].unique
    label = body.get(unique) if unique else body.get("name")
    return f"{kind} {props.get('key') or label or props.get('entityId')!r} (id {props.get('entityId')})"


def _owned(entity: Mapping[str, Any], tag: str) -> bool:
    return tag in (entity.get("tags") or [])


def _outsider(props: Mapping[str, Any], found: Mapping[str, Any], why: str, by_id: bool = False) -> KonnectApiError:
    tag = props["ownerTag"]
    if _owned(found, tag):
        return KonnectApiError(
            f"creating {_describe(props)}: {why} (id {found.get('id')}) carries this stack's tag {tag!r} but is not "
            "the entity the stack's state records; it is left as it is. It is probably left over from a run whose "
            "state was lost: delete it in Konnect (or remove the tag there to keep it), then run `pulumi up` again.")
    # No advice to adopt it by giving the file its id: a changed id replaces the entity, and when the
    # name stays the old one is deleted first, which Konnect refuses for a service with routes.
    change = ("give the entity another id in the gateway file (or none)" if by_id
              else "rename the entity in the gateway file")
    return KonnectApiError(
        f"creating {_describe(props)}: {why} (id {found.get('id')}) exists in the control plane without this "
        f"stack's tag {tag!r}: it was made outside the stack (in Konnect or by another tool) and is left as it "
        f"is. Either {change}, or delete the other one in Konnect so that the stack creates it.")


def _conflict(client: EntityClient, props: Mapping[str, Any]) -> Optional[dict]:
    """An entity other than ``props``'s that holds its unique name or scope, or None."""
    kind, body, refs = props["kind"], props.get("body") or {}, props.get("refs") or {}
    cp, spec = props["controlPlaneId"], ENTITY_KINDS[kind]
    what = f"looking up {_describe(props)}"
    if kind == "plugin":
        same = [p for p in client.list_entities(entity_path(cp, kind, refs), what,
                                                params={"filter[name][eq]": body.get("name")})
                if p.get("name") == body.get("name") and p.get("id") != props["entityId"]
                and all((p.get(f) or {}).get("id") == refs.get(f) for f in PLUGIN_SCOPES)]
        return same[0] if same else None
    value = body.get(spec.unique) if spec.unique else None
    if not isinstance(value, str) or not value or _UUID.fullmatch(value):
        return None  # nothing to look up by (a UUID-shaped name would be read as an id)
    found = client.get_entity(entity_path(cp, kind, refs, value), what)
    return found if found is not None and found.get("id") != props["entityId"] else None


def _compose_url(remote: Mapping[str, Any]) -> str:
    port = f":{remote['port']}" if remote.get("port") is not None else ""
    return f"{remote.get('protocol')}://{remote.get('host')}{port}{remote.get('path') or ''}"


def _url_parts(url: str) -> tuple:
    parts = urlsplit(url)
    port = parts.port if parts.port is not None else {"http": 80, "https": 443, "grpc": 80,
                                                       "grpcs": 443, "ws": 80, "wss": 443}.get(parts.scheme)
    return parts.scheme, parts.hostname, port, parts.path or None


def _project(declared: Any, remote: Any) -> Any:
    # Konnect's value of what the file declares: objects field by field (Konnect fills in defaults
    # for the fields a file leaves out, e.g. a plugin's config), anything else whole.
    if isinstance(declared, Mapping) and isinstance(remote, Mapping):
        return {k: _project(v, remote.get(k)) for k, v in declared.items()}
    return remote


def observed(props: Mapping[str, Any], remote: Mapping[str, Any]) -> dict:
    """The outputs that describe ``remote`` (the entity as Konnect answers it) in the terms of
    ``props``: its values of the declared fields, its references and its tags."""
    kind, declared = props["kind"], dict(props.get("body") or {})
    body: dict[str, Any] = {}
    for field, want in declared.items():
        if kind == "service" and field == "url" and isinstance(want, str):
            body[field] = want if _url_parts(want) == _url_parts(_compose_url(remote)) else _compose_url(remote)
        elif (kind, field) in WRITE_ONLY:
            body[field] = want
        else:
            body[field] = _project(want, remote.get(field))
    parent = ENTITY_KINDS[kind].parent
    refs: dict[str, Any] = {}
    for field, ident in (props.get("refs") or {}).items():
        seen = remote.get(field)
        seen_id = seen.get("id") if isinstance(seen, Mapping) else None
        # A reference Konnect no longer has shows as None (drift); a nested entity's parent is its path.
        refs[field] = ident if field == parent and seen_id is None else seen_id
    return {**props, "body": body, "refs": refs, "tags": list(remote.get("tags") or []),
            "path": entity_path(props["controlPlaneId"], kind, props.get("refs") or {}, str(remote["id"]))}


#: Inputs whose change makes another entity (another control plane, region, kind or id).
REPLACING = ("apiUrl", "controlPlaneId", "kind", "entityId")
#: Inputs whose change is written with a PUT.
WRITTEN = ("body", "refs", "tags", "ownerTag")


def _collides(olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
    # A replacement in the same control plane holding the same unique name or plugin scope would be
    # refused while the old entity exists: delete that first.
    kind = news.get("kind")
    if kind != olds.get("kind") or kind not in ENTITY_KINDS:
        return False
    old, new = olds.get("body") or {}, news.get("body") or {}
    if kind == "plugin":
        return old.get("name") == new.get("name") and all(
            (olds.get("refs") or {}).get(f) == (news.get("refs") or {}).get(f) for f in PLUGIN_SCOPES)
    unique = ENTITY_KINDS[kind].unique
    return unique is not None and old.get(unique) is not None and old.get(unique) == new.get(unique)


def _changed(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    changed = [k for k in (*REPLACING, "key", "token", "body", "refs", "ownerTag") if olds.get(k) != news.get(k)]
    if sorted(olds.get("tags") or []) != sorted(news.get("tags") or []):
        changed.append("tags")
    return changed


class EntityProvider(ResourceProvider):
    """CRUD of one Konnect gateway entity for :class:`GatewayEntity` (inputs: ``apiUrl``,
    ``token``, ``controlPlaneId``, ``kind``, ``key``, ``entityId``, ``body``, ``secretBody``
    (the body holds secret values: errors leave out Konnect's details), ``refs`` (reference
    field -> id), ``tags`` (with ``ownerTag``), ``ownerTag``; outputs add ``path``).

    ``update`` reads the entity first and raises :class:`KonnectApiError` when it is gone (run
    ``pulumi refresh``) or no longer carries ``ownerTag`` (it is not written)."""

    def create(self, props: dict) -> CreateResult:
        cp, kind, ident, tag = props["controlPlaneId"], props["kind"], props["entityId"], props["ownerTag"]
        path = entity_path(cp, kind, props.get("refs") or {}, ident)
        with _client(props) as client:
            existing = client.get_entity(path, f"reading {_describe(props)}")
            if existing is not None and not _owned(existing, tag):
                raise _outsider(props, existing, f"an entity of the id {ident}", by_id=True)
            if existing is None:
                other = _conflict(client, props)
                if other is not None:
                    unique = ENTITY_KINDS[kind].unique
                    raise _outsider(props, other, f"a {kind} of the same {unique or 'name and scope'}")
            # Absent, or the stack's own from a create whose answer was lost: write it.
            entity = client.put_entity(path, request_body(props), f"writing {_describe(props)}",
                                       ENTITY_KINDS[kind].unique, secret=bool(props.get("secretBody")))
        return CreateResult(ident, {**props, "path": entity_path(cp, kind, props.get("refs") or {}, entity["id"])})

    def read(self, id_: str, props: dict) -> ReadResult:
        props = {**props, "entityId": id_}
        with _client(props) as client:
            remote = client.get_entity(entity_path(props["controlPlaneId"], props["kind"], props.get("refs") or {},
                                                   id_), f"reading {_describe(props)}")
        if remote is None:
            return ReadResult(None, {})
        return ReadResult(id_, observed(props, remote))

    def diff(self, id_: str, olds: dict, news: dict) -> DiffResult:
        changed = _changed(olds, news)
        replaces = [k for k in REPLACING if k in changed]
        same_place = all(olds.get(k) == news.get(k) for k in ("apiUrl", "controlPlaneId"))
        delete_first = bool(replaces) and same_place and (
            olds.get("entityId") == news.get("entityId") or _collides(olds, news))
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=delete_first)

    def update(self, id_: str, olds: dict, news: dict) -> UpdateResult:
        path = entity_path(news["controlPlaneId"], news["kind"], news.get("refs") or {}, id_)
        if set(_changed(olds, news)) & set(WRITTEN):
            with _client(news) as client:
                # Where it is now (a nested entity's old parent), and still the stack's?
                where = entity_path(olds["controlPlaneId"], olds["kind"], olds.get("refs") or {}, id_)
                existing = client.get_entity(where, f"reading {_describe(news)}")
                if existing is None:
                    raise KonnectApiError(
                        f"updating {_describe(news)}: it no longer exists in Konnect; run `pulumi refresh` so that "
                        "the stack forgets it (the next `pulumi up` creates it again)", 404)
                if not _owned(existing, olds["ownerTag"]):
                    raise KonnectApiError(
                        f"updating {_describe(news)}: it is no longer this stack's: its tag {olds['ownerTag']!r} "
                        "was removed in Konnect, so the stack leaves it as it is. Remove the entity from the "
                        "gateway file (the stack then forgets it and does not delete it), or put the tag back on it "
                        "in Konnect to let the stack manage it again.")
                client.put_entity(path, request_body(news), f"updating {_describe(news)}",
                                  ENTITY_KINDS[news["kind"]].unique, secret=bool(news.get("secretBody")))
        return UpdateResult({**news, "path": path})

    def delete(self, id_: str, props: dict) -> None:
        path = entity_path(props["controlPlaneId"], props["kind"], props.get("refs") or {}, id_)
        with _client(props) as client:
            existing = client.get_entity(path, f"reading {_describe(props)}")
            if existing is None or not _owned(existing, props["ownerTag"]):
                return  # gone already, or not the stack's (its tag was removed in Konnect): left alone
            client.delete_entity(path, f"deleting {_describe(props)}")


class GatewayEntity(Resource, module="konnect", name="GatewayEntity"):
    """One entity of a gateway file in a Konnect control plane (type
    ``pulumi-python:dynamic/konnect:GatewayEntity``).

    ``api_url`` (the regional API), ``token`` (made secret), ``control_plane_id``, ``kind`` (of
    :data:`ENTITY_KINDS`), ``key`` (the file's key, for messages), ``entity_id`` (:func:`entity_id`),
    ``body`` (the declared fields, without ``id``, references and tags; secret when ``secret_body``,
    default False, and then errors leave out what Konnect said about it, which may quote the
    values), ``refs`` (reference field -> the referenced entity's id), ``tags`` (the file's tags and
    ``owner_tag``) and ``owner_tag`` (:func:`stack_tag`). Outputs: ``path`` (the entity's API path).

    Changes: a new ``api_url``, ``control_plane_id``, ``kind`` or ``entity_id`` replaces the entity,
    the new one created before the old one is deleted; any other change is a ``PUT`` of an entity
    that still exists and carries ``owner_tag`` (else the update fails, saying so); a new token
    alone calls nothing. When the old and the new entity would hold the same unique name or plugin
    scope in one control plane (an ``id:`` changed in the gateway file, the name kept), Konnect would
    refuse the new one while the old one exists, so the old one is deleted first. Konnect refuses
    that delete for a service that still has routes or a certificate that still has SNIs (they do
    not cascade; plugins, credentials and targets do, and are then gone until ``pulumi refresh``
    and the next ``pulumi up``): the update stops with an error, nothing deleted, that says to put
    the old ``id`` back or to rename the entity too (then nothing is deleted first).
    """

    entity_id: pulumi.Output[str]
    body: pulumi.Output[dict]
    tags: pulumi.Output[list]
    path: pulumi.Output[str]

    def __init__(self, name: str, *, api_url: str, token: pulumi.Input[str], control_plane_id: pulumi.Input[str],
                 kind: str, key: str, entity_id: str, body: pulumi.Input[Mapping[str, Any]],
                 refs: Mapping[str, str], tags: Sequence[str], owner_tag: str, secret_body: bool = False,
                 opts: Optional[pulumi.ResourceOptions] = None):
        if kind not in ENTITY_KINDS:
            raise ValueError(f"unknown entity kind {kind!r}; one of {', '.join(ENTITY_KINDS)}")
        props = {"api_url": api_url, "token": pulumi.Output.secret(token), "control_plane_id": control_plane_id,
                 "kind": kind, "key": key, "entity_id": entity_id,
                 "body": pulumi.Output.secret(body) if secret_body else body, "secret_body": bool(secret_body),
                 "refs": dict(refs), "tags": list(tags), "owner_tag": owner_tag, "path": None}
        secrets = ["token", "body"] if secret_body else ["token"]
        super().__init__(EntityProvider(), name, props, pulumi.ResourceOptions.merge(
            pulumi.ResourceOptions(additional_secret_outputs=secrets), opts))

    # Python names here, camelCase names for the engine and the provider.
    def translate_output_property(self, prop: str) -> str:
        return snake_case(prop)

    def translate_input_property(self, prop: str) -> str:
        return camel_case(prop)


# ---------------------------------------------------------------------------------------------
# The component


class KonnectGatewayConfigurationArgs(TypedDict, total=False):
    """The entities of a gateway file and the control plane they go to."""

    api_url: Required[str]
    """the regional Konnect API, ``https://<region>.api.konghq.com`` (required)"""
    token: Required[pulumi.Input[str]]
    """a Konnect access token (required; kept secret)"""
    control_plane_id: Required[pulumi.Input[str]]
    """the control plane's id (required)"""
    entities: Required[Sequence[Entity]]
    """the gateway file's entities, as components.gateway_config loads them (required)"""
    env: Mapping[str, pulumi.Input[str]]
    """``DECK_`` name -> value for the file's ``${{ env "DECK_X" }}`` substitutions (default none)"""
    tag: str
    """the tag that marks the stack's entities (default ``kong-aws:<project>:<stack>``)"""


#: Defaults of :class:`KonnectGatewayConfigurationArgs`, the only place they are written (``tag``'s
#: default depends on the stack and is computed).
GATEWAY_CONFIGURATION_DEFAULTS: dict[str, Any] = {"env": {}}


#: Longest readable part of a resource name (:func:`resource_name`); a longer key is cut.
NAME_LENGTH = 100
#: The separators of an entity key (``kind:name``, ``plugin:<name>[:<instance>]@<scope>+<scope>``,
#: ``<consumer>/<n>``): written ``-`` in a resource name.
_KEY_SEPARATORS = re.compile(r"[:@+/]")


def _digest(key: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, key).hex[:8]


def resource_name(name: str, entity: Entity) -> str:
    """The resource name of ``entity`` in the component ``name``, from its key alone (so that no
    other entity of the file can change it): ``<name>-<key>`` with the key's separators (``:``
    ``@`` ``+`` ``/``) written ``-`` (``gateway-service-mock``,
    ``gateway-plugin-rate-limiting-route-route1``, ``gateway-plugin-prometheus-global``). When that
    loses more than the separators (a character other than letters, digits, ``.``, ``_`` and
    ``-`` in a name, or a key longer than :data:`NAME_LENGTH`), the readable part is followed by
    ``-`` and 8 hex digits of ``uuid5`` of the key."""
    readable = _KEY_SEPARATORS.sub("-", entity.key)
    plain = re.sub(r"[^A-Za-z0-9._-]", "-", readable)[:NAME_LENGTH]
    return f"{name}-{plain}" if plain == readable else f"{name}-{plain}-{_digest(entity.key)}"


class KonnectGatewayConfiguration(pulumi.ComponentResource):
    """A gateway file applied to a Konnect control plane: one :class:`GatewayEntity` per entity,
    named by :func:`resource_name` (``<name>-<key>``, a function of the entity's own key, so that
    adding or removing one entity never renames another's resource), each depending on the entities it
    references (so a service is created before its routes and deleted after them).

    Output ``entity_ids``: entity key -> its id in Konnect (known before anything is created).
    Raises ``ValueError`` before declaring anything for: two entities of one key, a kind without a
    path, a reference to a key the file lacks, a nested entity (target, credential, ACL) without
    its parent, an ``env`` substitution whose ``DECK_`` name ``env`` lacks, a tag Kong refuses, two
    keys that give the same resource name (only keys that differ in separators alone, such as a
    route ``global`` and a plugin ``instance_name`` ``route``).
    """

    entity_ids: pulumi.Output[dict[str, str]]
    """entity key -> its id in Konnect"""

    def __init__(self, name: str, args: KonnectGatewayConfigurationArgs,
                 opts: Optional[pulumi.ResourceOptions] = None):
        settings = with_defaults(args, GATEWAY_CONFIGURATION_DEFAULTS)
        for required in ("api_url", "token", "control_plane_id", "entities"):
            if required not in settings:
                raise ValueError(f"KonnectGatewayConfiguration {name!r}: {required} is required")
        entities: list[Entity] = list(settings["entities"])
        env: Mapping[str, pulumi.Input[str]] = settings["env"]
        tag = check_tag(settings.get("tag") or stack_tag(pulumi.get_project(), pulumi.get_stack()))
        marker = stack_marker(pulumi.get_project(), pulumi.get_stack())
        _validate(name, entities, env)
        ids = {e.key: entity_id(marker, e) for e in entities}
        names = {e.key: resource_name(name, e) for e in entities}
        super().__init__(type_token(KonnectGatewayConfiguration), name, None, opts)

        declared: dict[str, GatewayEntity] = {}
        for entity in _ordered(entities):
            body = {k: v for k, v in entity.body.items() if k not in ("id", "tags")}
            own_tags = [str(t) for t in entity.body.get("tags") or []]
            needed = sorted(env_names(body))
            value: pulumi.Input[Mapping[str, Any]] = body
            if needed:
                value = pulumi.Output.all(*[env[n] for n in needed]).apply(_substituted(body, needed))
            declared[entity.key] = GatewayEntity(
                names[entity.key], api_url=settings["api_url"], token=settings["token"],
                control_plane_id=settings["control_plane_id"], kind=entity.kind, key=entity.key,
                entity_id=ids[entity.key], body=value, refs={f: ids[k] for f, k in entity.refs.items()},
                tags=list(dict.fromkeys([*own_tags, tag])), owner_tag=tag, secret_body=bool(needed),
                opts=pulumi.ResourceOptions(parent=self,
                                            depends_on=[declared[k] for k in dict.fromkeys(entity.refs.values())]))
        self.entity_ids = pulumi.Output.from_input(ids)
        self.register_outputs({"entity_ids": self.entity_ids})


def _substituted(body: Mapping[str, Any], names: Sequence[str]) -> Callable[[list[Any]], dict]:
    def apply(values: list[Any]) -> dict:
        return dict(substitute_env(body, dict(zip(names, values))))
    return apply


def _validate(name: str, entities: Sequence[Entity], env: Mapping[str, Any]) -> None:
    problems: list[str] = []
    keys: set[str] = set()
    named: dict[str, Entity] = {}
    for entity in entities:
        if entity.key in keys:
            problems.append(f"{entity.position}: a second entity of key {entity.key!r}")
            continue
        keys.add(entity.key)
        other = named.setdefault(resource_name(name, entity), entity)
        if other is not entity:
            problems.append(f"{entity.position}: {entity.key!r} gets the resource name of {other.key!r} "
                            f"({other.position}); rename one of them")
    for entity in entities:
        spec = ENTITY_KINDS.get(entity.kind)
        if spec is None:
            problems.append(f"{entity.position}: unknown kind {entity.kind!r}")
            continue
        for field, key in entity.refs.items():
            if key not in keys:
                problems.append(f"{entity.position}: {field} names {key!r}, which the file does not declare")
        if spec.parent is not None and spec.parent not in entity.refs:
            problems.append(f"{entity.position}: a {entity.kind} needs its {spec.parent}")
        for missing in sorted(env_names(entity.body) - set(env)):
            problems.append(f"{entity.position}: no value for {missing} (give it in the stack's secret config)")
    if problems:
        raise ValueError("the gateway file's entities cannot be applied:\n  " + "\n  ".join(problems))


def _ordered(entities: Sequence[Entity]) -> list[Entity]:
    """``entities`` with every entity after those it references (file order otherwise); raises
    ``ValueError`` for a reference cycle."""
    by_key = {e.key: e for e in entities}
    done: dict[str, Entity] = {}
    visiting: set[str] = set()

    def visit(entity: Entity) -> None:
        if entity.key in done:
            return
        if entity.key in visiting:
            raise ValueError(f"{entity.position}: references form a cycle through {entity.key!r}")
        visiting.add(entity.key)
        for key in entity.refs.values():
            visit(by_key[key])
        visiting.discard(entity.key)
        done[entity.key] = entity

    for entity in entities:
        visit(entity)
    return list(done.values())
