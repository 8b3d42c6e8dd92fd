"""A local stand-in for the Konnect Control Planes API, for tests/test_konnect_api.py.

:class:`FakeKonnect` serves, on 127.0.0.1 (a free port), the paths the project uses:
``GET/POST /v2/control-planes``, ``GET/PATCH/DELETE /v2/control-planes/{id}``,
``GET/POST /v2/control-planes/{id}/dp-client-certificates`` and
``GET/PUT/DELETE /v2/control-planes/{id}/dp-client-certificates/{certificateId}``.

It behaves as Konnect does where the client relies on it (401 without the bearer token, 409 for
a name that exists, 404 for unknown ids, ``{"data", "meta"}`` / ``{"item"}`` / ``{"items"}``
envelopes) and checks both directions against the JSON Schemas in
../shared/reference/konnect-control-planes-subset.json: a request body that does not validate is
answered 400, and every such body, every answer of its own that does not validate, and every
call outside the spec is kept in :attr:`FakeKonnect.problems` for the test to assert on. So is an
answer whose content type (``application/json``, or ``application/problem+json`` for every error,
as the spec has it) the request's ``Accept`` header does not admit.

Where the spec leaves behaviour open, the fake picks the plain reading and says so: a ``PATCH``
replaces the ``labels`` object it is given (the request schema has one Labels object of string
values, so a key is removed by leaving it out; :attr:`FakeKonnect.merge_labels` makes it merge
instead, to test a client against that reading); a ``PATCH`` to a name another control plane has
is answered 400 (the operation lists 400, not 409).

It also serves the Control Planes Configuration API's core entities (services, routes, plugins,
consumers and their credentials, upstreams and targets, certificates, SNIs, CA certificates,
vaults) under ``/v2/control-planes/{id}/core-entities/``, checked against
../shared/reference/konnect/konnect-control-planes-config-v2.openapi.yaml: see :class:`CoreEntities`
(:attr:`FakeKonnect.core`).

Tests script it: :meth:`FakeKonnect.fail` makes the next N answers to a path an error (429 with
``Retry-After``, 5xx, 401, 403, 404 ...), and :attr:`FakeKonnect.calls` records every request
(method, path, query, body, status answered) in order.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional
from urllib.parse import parse_qs, urlsplit

import jsonschema

#: The access token the tests' fake accepts (the ``konnect`` fixture of tests/conftest.py).
TEST_TOKEN = "kpat_" + "0123456789abcdefghijABCDEFGHIJ0123456789"

CP = r"/v2/control-planes"
ONE_CP = CP + r"/(?P<cp>[^/]+)"
CERTS = ONE_CP + r"/dp-client-certificates"
ONE_CERT = CERTS + r"/(?P<cert>[^/]+)"

#: Request body schema per (method, route); source: the subset's "schemas".
REQUEST_SCHEMAS = {
    ("POST", CP): "CreateControlPlaneRequest",
    ("PATCH", ONE_CP): "UpdateControlPlaneRequest",
    ("POST", CERTS): "DataPlaneClientCertificateRequest",
    ("PUT", ONE_CERT): "DataPlaneClientCertificateRequest",
}
#: Query parameters the spec allows on GET /v2/control-planes (deepObject ``filter``).
LIST_QUERY = re.compile(r"page\[(size|number)\]|filter\[(id|name|cluster_type)\]\[[a-z]+\]|"
                        r"filter\[cloud_gateway\]|labels|sort")


@dataclass
class Call:
    """One request as the fake received it, and the status it answered."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    authorization: Optional[str]
    status: int = 0
    accept: Optional[str] = None


@dataclass
class Fault:
    """Answer ``status`` to requests matching ``method`` / ``path`` (a regex, whole path),
    ``times`` times (None: always); with ``commit``, after doing what was asked (an answer lost
    on the way back)."""

    status: int
    times: Optional[int]
    method: Optional[str]
    path: Optional[str]
    headers: dict[str, str] = field(default_factory=dict)
    commit: bool = False

    def matches(self, method: str, path: str) -> bool:
        return (self.times is None or self.times > 0) and (self.method in (None, method)) and \
            (self.path is None or re.fullmatch(self.path, path) is not None)


_VALIDATORS: dict[int, dict[str, jsonschema.Draft202012Validator]] = {}


def accepts(accept: Optional[str], content_type: str) -> bool:
    """Whether an ``Accept`` header admits ``content_type`` (RFC 9110 12.5.1: no header admits
    anything; ``type/*`` and ``*/*`` ranges; a range with ``q=0`` refuses)."""
    if accept is None:
        return True
    kind = content_type.split("/")[0]
    for part in accept.split(","):
        media, *params = [p.strip() for p in part.split(";")]
        if any(p.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000") for p in params):
            continue
        if media in (content_type, f"{kind}/*", "*/*"):
            return True
    return False


def _validators(schemas: dict, spec_paths: dict) -> dict[str, jsonschema.Draft202012Validator]:
    """One Draft 2020-12 validator per schema (with format checks), built once per run."""
    key = id(schemas)
    if key not in _VALIDATORS:
        checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
        validators = {}
        for name, schema in schemas.items():
            jsonschema.Draft202012Validator.check_schema(schema)
            validators[name] = jsonschema.Draft202012Validator(schema, format_checker=checker)
        # Konnect's standard error body (status, title, instance, detail), from the spec.
        error = spec_paths["/v2/control-planes"]["post"]["responses"]["409"]["content"][
            "application/problem+json"]["schema"]["allOf"][0]
        validators["Error"] = jsonschema.Draft202012Validator(error)
        _VALIDATORS[key] = validators
    return _VALIDATORS[key]


def read_body(call: "Call", raw: bytes, expects_body: bool, content_type: str, problems: list) -> Optional[str]:
    """Parse a request's ``raw`` body into ``call.body``. Returns the message of the 400 answer when
    the body is not JSON or the operation takes none (and records the problem), else None; a JSON
    body sent with another Content-Type is recorded but accepted."""
    if not raw:
        return None
    try:
        call.body = json.loads(raw)
    except ValueError:
        problems.append(f"{call.method} {call.path}: body is not JSON")
        return "body is not JSON"
    if not expects_body:
        problems.append(f"{call.method} {call.path}: a body where the spec has none")
        return "unexpected body"
    if not content_type.startswith("application/json"):
        problems.append(f"{call.method} {call.path}: Content-Type {content_type!r}")
    return None


class FakeKonnect:
    """The fake Konnect API. ``token``: the bearer tokens it accepts (:attr:`tokens`, a set the
    test may change); ``schemas``: the subset's ``schemas`` object; ``spec_paths``: its ``paths``
    (for the standard error body). Start with :meth:`start`, stop with :meth:`stop`; it also stops
    by itself after ``max_lifetime`` seconds."""

    def __init__(self, token: str, schemas: dict, spec_paths: dict, *, region: str = "us",
                 max_lifetime: float = 120.0):
        self.tokens = {token}
        self.region = region
        self.max_lifetime = max_lifetime
        self.control_planes: dict[str, dict] = {}
        self.certificates: dict[str, dict[str, dict]] = {}
        self.calls: list[Call] = []
        self.problems: list[str] = []
        self.faults: list[Fault] = []
        #: PATCH merges ``labels`` into the control plane's instead of replacing them.
        self.merge_labels = False
        self._lock = threading.Lock()
        self._validators = _validators(schemas, spec_paths)
        #: The configuration API's entities (``/core-entities/...``), see :class:`CoreEntities`.
        self.core = CoreEntities(self)
        self._server: Optional[ThreadingHTTPServer] = None
        self._timer: Optional[threading.Timer] = None

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self._server is not None, "not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeKonnect":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                fake._handle(self)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _any

            def log_message(self, *args: Any) -> None:
                pass  # the test reads fake.calls instead

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01},
                         daemon=True, name="fake-konnect").start()
        # Never outlive a test run, even if the fixture's teardown is not reached.
        self._timer = threading.Timer(self.max_lifetime, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.cancel()
        if server is not None:
            server.shutdown()
            server.server_close()

    # -- scripting -------------------------------------------------------------------------------

    def fail(self, status: int, *, times: Optional[int] = 1, method: Optional[str] = None,
             path: Optional[str] = None, retry_after: Optional[str] = None, commit: bool = False) -> None:
        """Answer the next ``times`` requests (None: all) matching ``method`` and ``path`` (a regex
        for the whole path) with ``status``, and ``Retry-After: retry_after`` when given. With
        ``commit`` the request takes effect first, as when a proxy loses Konnect's answer."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        with self._lock:
            self.faults.append(Fault(status, times, method, path, headers, commit))

    def add_control_plane(self, name: str, *, cluster_type: str = "CLUSTER_TYPE_CONTROL_PLANE",
                          auth_type: str = "pinned_client_certs", labels: Optional[dict[str, str]] = None,
                          description: str = "", cloud_gateway: bool = False) -> dict:
        """A control plane that exists before the test (e.g. made in the Konnect UI)."""
        with self._lock:
            return self._new_control_plane(name, cluster_type, auth_type, labels or {}, description, cloud_gateway)

    def add_certificate(self, plane_id: str, pem: str, title: Optional[str] = None) -> dict:
        """A certificate pinned before the test (with ``title`` if given)."""
        with self._lock:
            return self._new_certificate(plane_id, pem, title)

    def requests(self, method: Optional[str] = None, path: Optional[str] = None) -> list[Call]:
        """The recorded calls, optionally only those of ``method`` and ``path`` (regex)."""
        return [c for c in self.calls if method in (None, c.method)
                and (path is None or re.fullmatch(path, c.path))]

    # -- state -----------------------------------------------------------------------------------

    def _new_control_plane(self, name: str, cluster_type: str, auth_type: str, labels: dict,
                           description: str = "", cloud_gateway: bool = False) -> dict:
        plane_id = str(uuid.uuid4())
        prefix = uuid.UUID(plane_id).hex[:10]
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        plane = {
            "id": plane_id, "name": name, "description": description, "labels": dict(labels),
            "config": {
                "control_plane_endpoint": f"https://{prefix}.{self.region}.cp0.konghq.com",
                "telemetry_endpoint": f"https://{prefix}.{self.region}.tp0.konghq.com",
                "cluster_type": cluster_type, "auth_type": auth_type,
                "cloud_gateway": cloud_gateway, "proxy_urls": [],
            },
            "created_at": now, "updated_at": now,
        }
        self.control_planes[plane_id] = plane
        self.certificates[plane_id] = {}
        return json.loads(json.dumps(plane))

    def _new_certificate(self, plane_id: str, pem: str, title: Optional[str] = None) -> dict:
        now = int(time.time())
        item = {"id": str(uuid.uuid4()), "cert": pem, "created_at": now, "updated_at": now,
                **({"title": title} if title is not None else {})}
        self.certificates[plane_id][item["id"]] = item
        return dict(item)

    # -- HTTP ------------------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        with self._lock:
            call = Call(handler.command, url.path, parse_qs(url.query, keep_blank_values=True), None,
                        handler.headers.get("Authorization"), accept=handler.headers.get("Accept"))
            self.calls.append(call)
            status, headers, body = self._answer(call, raw, handler.headers.get("Content-Type", ""))
            call.status = status
            # Core-entity answers say their own type (Kong's errors are application/json).
            answered = headers.pop("Content-Type", None) or (
                "application/json" if status < 400 else "application/problem+json")
            if body is not None and not accepts(call.accept, answered):
                self.problems.append(f"{call.method} {call.path}: answered {status} as {answered}, which "
                                     f"Accept: {call.accept} does not admit")
        payload = b"" if body is None else json.dumps(body).encode()
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        if body is not None:
            handler.send_header("Content-Type", answered)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _error(self, status: int, detail: str, headers: Optional[dict] = None):
        titles = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
                  405: "Method Not Allowed", 409: "Conflict", 429: "Too Many Requests",
                  500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
                  504: "Gateway Timeout"}
        body = {"status": status, "title": titles.get(status, "Error"),
                "instance": f"konnect:trace:{uuid.uuid4().int % 10 ** 18}", "detail": detail}
        self._check("Error", body, f"error body {status}")
        return status, headers or {}, body

    def _check(self, schema: str, body: Any, where: str) -> list[str]:
        errors = [f"{where}: {e.json_path}: {e.message}" for e in self._validators[schema].iter_errors(body)]
        self.problems.extend(errors)
        return errors

    def _route(self, method: str, path: str):
        known = False
        for route, allowed in ((CP, ("GET", "POST")), (ONE_CP, ("GET", "PATCH", "DELETE")),
                               (CERTS, ("GET", "POST")), (ONE_CERT, ("GET", "PUT", "DELETE"))):
            match = re.fullmatch(route, path)
            if match:
                known = True
                if method in allowed:
                    return route, match.groupdict()
        return (None, {"known": known})

    def _answer(self, call: Call, raw: bytes, content_type: str):
        if CORE.match(call.path):
            return self.core.answer(call, raw, content_type)
        route, params = self._route(call.method, call.path)
        if route is None:
            self.problems.append(f"{call.method} {call.path}: not in the spec subset")
            return self._error(405 if params["known"] else 404, "no such operation")
        # Konnect authenticates first: no valid bearer token, no other answer.
        if call.authorization not in {f"Bearer {t}" for t in self.tokens}:
            return self._error(401, "A valid token is required")
        schema = REQUEST_SCHEMAS.get((call.method, route))
        refused = read_body(call, raw, schema is not None, content_type, self.problems)
        if refused:
            return self._error(400, refused)
        if not raw and schema is not None:
            self.problems.append(f"{call.method} {call.path}: no body; the spec requires {schema}")
            return self._error(400, "body required")
        if schema is not None and self._check(schema, call.body, f"{call.method} {call.path} request"):
            return self._error(400, f"body does not match {schema}")
        if route == CP and call.method == "GET":
            bad = [k for k in call.query if not LIST_QUERY.fullmatch(k)]
            if bad:
                self.problems.append(f"GET {call.path}: query parameters {bad} not in the spec")
        operation = getattr(self, "_" + call.method.lower() + "_" + {
            CP: "control_planes", ONE_CP: "control_plane", CERTS: "certificates", ONE_CERT: "certificate",
        }[route])
        for fault in self.faults:
            if fault.matches(call.method, call.path):
                if fault.times is not None:
                    fault.times -= 1
                if fault.commit:
                    operation(call, **params)
                return self._error(fault.status, "injected by the test", fault.headers)
        return operation(call, **params)

    def _ok(self, status: int, schema: str, body: Any):
        self._check(schema, body, f"answer {status} as {schema}")
        return status, {}, body

    # control planes

    def _get_control_planes(self, call: Call):
        planes = list(self.control_planes.values())
        for key, values in call.query.items():
            match = re.fullmatch(r"filter\[(\w+)\]\[eq\]", key)
            if match:
                planes = [p for p in planes if p.get(match.group(1)) == values[-1]]
        size = int(call.query.get("page[size]", ["100"])[-1])
        number = int(call.query.get("page[number]", ["1"])[-1])
        page = planes[(number - 1) * size:number * size]
        return self._ok(200, "ListControlPlanesResponse", {
            "data": page, "meta": {"page": {"number": number, "size": size, "total": len(planes)}}})

    def _post_control_planes(self, call: Call):
        body = call.body
        if any(p["name"] == body["name"] for p in self.control_planes.values()):
            return self._error(409, "Control Plane with provided name already exists.")
        plane = self._new_control_plane(body["name"], body.get("cluster_type", "CLUSTER_TYPE_CONTROL_PLANE"),
                                        body.get("auth_type", "pinned_client_certs"), body.get("labels") or {},
                                        body.get("description", ""), body.get("cloud_gateway", False))
        return self._ok(201, "CreateControlPlaneResponse", plane)

    def _get_control_plane(self, call: Call, cp: str):
        if cp not in self.control_planes:
            return self._error(404, f"control plane {cp} not found")
        return self._ok(200, "ControlPlane", self.control_planes[cp])

    def _patch_control_plane(self, call: Call, cp: str):
        if cp not in self.control_planes:
            return self._error(404, f"control plane {cp} not found")
        plane = self.control_planes[cp]
        name = call.body.get("name")
        if name is not None and any(p["name"] == name for i, p in self.control_planes.items() if i != cp):
            return self._error(400, "Control Plane with provided name already exists.")
        for key in ("name", "description"):
            if key in call.body:
                plane[key] = call.body[key]
        if "labels" in call.body:
            plane["labels"] = {**plane["labels"], **call.body["labels"]} if self.merge_labels \
                else dict(call.body["labels"])
        plane["updated_at"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        return self._ok(200, "ControlPlane", plane)

    def _delete_control_plane(self, call: Call, cp: str):
        if cp not in self.control_planes:
            return self._error(404, f"control plane {cp} not found")
        del self.control_planes[cp]
        del self.certificates[cp]
        return 204, {}, None

    # pinned data plane certificates

    def _get_certificates(self, call: Call, cp: str):
        if cp not in self.control_planes:
            return self._error(404, f"control plane {cp} not found")
        return self._ok(200, "ListDataPlaneCertificatesResponse",
                        {"items": list(self.certificates[cp].values())})

    def _post_certificates(self, call: Call, cp: str):
        from cryptography import x509

        if cp not in self.control_planes:
            return self._error(404, f"control plane {cp} not found")
        pem = call.body["cert"]
        try:
            x509.load_pem_x509_certificate(pem.encode())
        except ValueError:
            self.problems.append(f"POST {call.path}: cert is not a PEM certificate")
            return self._error(400, "cert is not a valid certificate")
        squash = lambda s: re.sub(r"\s", "", s)  # noqa: E731
        if any(squash(c["cert"]) == squash(pem) for c in self.certificates[cp].values()):
            return self._error(409, "certificate already pinned")
        item = self._new_certificate(cp, pem, call.body.get("title"))
        return self._ok(201, "DataPlaneClientCertificateResponse", {"item": item})

    def _get_certificate(self, call: Call, cp: str, cert: str):
        if cert not in self.certificates.get(cp, {}):
            return self._error(404, f"certificate {cert} not found")
        return self._ok(200, "DataPlaneClientCertificateResponse", {"item": self.certificates[cp][cert]})

    def _put_certificate(self, call: Call, cp: str, cert: str):
        if cert not in self.certificates.get(cp, {}):
            return self._error(404, f"certificate {cert} not found")
        item = self.certificates[cp][cert]
        item.update({"cert": call.body["cert"], "updated_at": int(time.time()),
                     **({"title": call.body["title"]} if "title" in call.body else {})})
        return self._ok(200, "DataPlaneClientCertificateResponse", {"item": dict(item)})

    def _delete_certificate(self, call: Call, cp: str, cert: str):
        if cert not in self.certificates.get(cp, {}):
            return self._error(404, f"certificate {cert} not found")
        del self.certificates[cp][cert]
        return 204, {}, None


# ---------------------------------------------------------------------------------------------
# The Control Planes Configuration API's core entities (tests/test_konnect_entities.py).

#: The spec of the configuration API (OpenAPI 3.1), read in place.
CONFIG_SPEC = "konnect/konnect-control-planes-config-v2.openapi.yaml"
CORE = re.compile(ONE_CP + r"/core-entities/.*")
#: Collections the fake serves: top-level ones, and nested ones with their parent field.
TOP = ("services", "routes", "plugins", "consumers", "upstreams", "certificates", "snis", "ca_certificates", "vaults")
NESTED = {"key-auth": ("consumers", "consumer"), "basic-auth": ("consumers", "consumer"),
          "hmac-auth": ("consumers", "consumer"), "jwt": ("consumers", "consumer"),
          "acls": ("consumers", "consumer"), "targets": ("upstreams", "upstream")}
#: The field ``GET``/``PUT /{collection}/{x}`` also takes instead of an id (the spec's "using ID or
#: name/username/prefix/target" wording).
LOOKUP = {"services": "name", "routes": "name", "upstreams": "name", "consumers": "username", "snis": "name",
          "vaults": "prefix", "targets": "target"}
#: Fields Kong keeps unique per collection (Kong's entity schemas): single fields, or tuples of
#: fields unique together (a plugin per name and scope, an ACL group per consumer, a target per upstream).
UNIQUE: dict[str, tuple] = {
    "services": ("name",), "routes": ("name",), "upstreams": ("name",), "consumers": ("username", "custom_id"),
    "snis": ("name",), "vaults": ("prefix",), "key-auth": ("key",), "basic-auth": ("username",),
    "hmac-auth": ("username",), "jwt": ("key",), "acls": (("consumer", "group"),),
    "targets": (("upstream", "target"),), "plugins": (("name", "service", "route", "consumer"), "instance_name"),
}
#: Foreign keys: (child collection, field) -> parent collection, and whether deleting the parent
#: deletes the child (Kong's schemas: plugins, credentials and targets cascade; a service with
#: routes or a certificate with SNIs is refused, Kong/kong kong/db/errors.lua
#: ``foreign_key_violation_restricted``).
FOREIGN = {("routes", "service"): ("services", False), ("snis", "certificate"): ("certificates", False),
           ("plugins", "service"): ("services", True), ("plugins", "route"): ("routes", True),
           ("plugins", "consumer"): ("consumers", True), ("targets", "upstream"): ("upstreams", True),
           **{(c, "consumer"): ("consumers", True) for c in ("key-auth", "basic-auth", "hmac-auth", "jwt", "acls")}}
_UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_CONFIG: dict[str, Any] = {}


def _nullable(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable: true`` (which the 3.1 spec still uses, and which JSON Schema
    2020-12 would ignore, refusing null) as JSON Schema: ``null`` added to ``type`` and ``enum``,
    or ``anyOf [..., null]`` around a schema without a type. Konnect answers ``null`` for unset
    fields of these (the spec's descriptions: "If set to `null` ..."), so null is accepted."""
    if isinstance(node, list):
        return [_nullable(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") is True:
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*types, "null"] if "null" not in types else types
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def config_spec() -> dict:
    """The configuration API spec with ``nullable`` converted (:func:`_nullable`), read once."""
    if not _CONFIG:
        import yaml

        from tests.conftest import REFERENCE

        with open(REFERENCE / CONFIG_SPEC) as handle:
            spec = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        _CONFIG["spec"] = _nullable(spec)
        _CONFIG["validators"] = {}
        # Path templates of the core entities as regexes, for the operation a request is.
        _CONFIG["paths"] = [(re.compile("/v2" + re.sub(r"\{[^/]+\}", "[^/]+", p)), p)
                            for p in spec["paths"] if "/core-entities/" in p]
    return _CONFIG["spec"]


def config_validator(schema: dict) -> jsonschema.Draft202012Validator:
    """A validator of ``schema`` (a schema of the converted spec, with ``$ref`` into its
    ``components``), built once per schema."""
    spec = config_spec()
    key = json.dumps(schema, sort_keys=True)
    cache = _CONFIG["validators"]
    if key not in cache:
        root = {**schema, "components": spec["components"]}
        checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
        cache[key] = jsonschema.Draft202012Validator(root, format_checker=checker)
    return cache[key]


def _ref_name(schema: Optional[dict]) -> Optional[str]:
    return schema["$ref"].rsplit("/", 1)[-1] if schema and "$ref" in schema else None


class CoreEntities:
    """The fake's ``/v2/control-planes/{id}/core-entities/...``: the collections of :data:`TOP`
    and :data:`NESTED` (list with ``size``/``offset``/``tags``/``filter[name][eq]``, ``POST``, and
    ``GET``/``PUT``/``DELETE`` of one entity), every request and answer body checked against the
    operation's schemas in the configuration spec (:func:`config_spec`; a request outside it is a
    problem). It answers as Kong's Admin API does where the spec is silent: ``PUT`` creates or
    replaces the whole entity (fields left out take the schema's defaults), a unique field or a
    missing foreign entity is answered 400 ``{"code": 3, "message": "data constraint error",
    "details": [...]}`` (the spec lists no error for it; the body is the one Kong's kong-operator
    recognises as a conflict, controller/konnect/ops/ops_errors.go), errors are application/json
    (the spec's HTTP401Error), 401 ``{"message", "status"}``, 404 ``{"message": "Not found"}``, a
    ``DELETE`` of nothing is 204. A list's last page has neither ``offset`` nor ``next`` (the spec
    types both as strings, so it cannot answer null). A service's ``url`` is stored as
    ``protocol``/``host``/``port``/``path`` (the spec: "write-only and is not returned").

    Entities: :attr:`store` ``{control plane id: {collection: {id: entity}}}``; tests add
    entities made elsewhere with :meth:`add`.
    """

    def __init__(self, fake: "FakeKonnect"):
        self.fake = fake
        self.store: dict[str, dict[str, dict[str, dict]]] = {}
        #: Entities per list page unless the request asks for fewer.
        self.page_size = 100

    # -- scripting -------------------------------------------------------------------------------

    def add(self, plane_id: str, collection: str, entity: dict) -> dict:
        """An entity that exists before the test (e.g. made in Konnect's UI); an ``id`` is made
        if it has none. Returns a copy."""
        with self.fake._lock:
            item = self._complete(collection, {"id": str(uuid.uuid4()), **entity}, None)
            self._bucket(plane_id, collection)[item["id"]] = item
            return json.loads(json.dumps(item))

    def entities(self, plane_id: str, collection: str) -> dict[str, dict]:
        """The entities of ``collection`` in ``plane_id`` by id (the fake's own dict)."""
        return self._bucket(plane_id, collection)

    # -- HTTP ------------------------------------------------------------------------------------

    def answer(self, call: Call, raw: bytes, content_type: str):
        fake = self.fake
        config_spec()
        template = next((t for rx, t in _CONFIG["paths"] if rx.fullmatch(call.path)), None)
        operation = config_spec()["paths"].get(template, {}).get(call.method.lower()) if template else None
        match = self._match(call.path)
        if operation is None or match is None:
            fake.problems.append(f"{call.method} {call.path}: not a core-entity operation of the spec the fake serves")
            return self._kong_error(404 if template is None else 405, "Not found")
        if call.authorization not in {f"Bearer {t}" for t in fake.tokens}:
            body = {"message": "Unauthorized", "status": 401}
            self._check(config_spec()["components"]["schemas"]["GatewayUnauthorizedError"], body, "401 answer")
            return 401, {"Content-Type": "application/json"}, body
        request_schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        refused = read_body(call, raw, request_schema is not None, content_type, fake.problems)
        if refused:
            return self._kong_error(400, refused)
        if raw:
            where = f"{call.method} {call.path} request ({_ref_name(request_schema)})"
            if self._check(request_schema, call.body, where):
                return self._kong_error(400, "schema violation")
        elif request_schema is not None and operation.get("requestBody", {}).get("required"):
            fake.problems.append(f"{call.method} {call.path}: no body; the spec requires one")
            return self._kong_error(400, "body required")
        allowed = {self._parameter(p)["name"] for p in operation.get("parameters", [])
                   if self._parameter(p).get("in") == "query"}
        bad = sorted(set(call.query) - allowed)
        if bad:
            fake.problems.append(f"{call.method} {call.path}: query parameters {bad} not in the spec")
        cp, collection, parent, ident = match
        for fault in fake.faults:
            if fault.matches(call.method, call.path):
                if fault.times is not None:
                    fault.times -= 1
                if fault.commit:
                    self._dispatch(call, cp, collection, parent, ident, operation)
                return self._kong_error(fault.status, "injected by the test", dict(fault.headers))
        return self._dispatch(call, cp, collection, parent, ident, operation)

    def _dispatch(self, call: Call, cp: str, collection: str, parent: Optional[str], ident: Optional[str],
                  operation: dict):
        if cp not in self.fake.control_planes:
            return self._kong_error(404, "Not found")
        if parent is not None:
            parent_collection = NESTED[collection][0]
            found = self._find(cp, parent_collection, parent, None)
            if found is None:
                return self._kong_error(404, "Not found")
            parent = found["id"]
        handler = {("GET", False): self._list, ("POST", False): self._post, ("GET", True): self._get,
                   ("PUT", True): self._put, ("DELETE", True): self._delete}[(call.method, ident is not None)]
        status, body = handler(call, cp, collection, parent, ident)
        if status >= 400:
            return self._kong_error(status, body)
        if body is not None:
            schema = operation["responses"][str(status)]["content"]["application/json"]["schema"]
            self._check(schema, body, f"answer {status} to {call.method} {call.path}")
        return status, {}, body

    def _list(self, call, cp, collection, parent, ident):
        items = [e for e in self._bucket(cp, collection).values() if self._under(collection, e, parent)]
        tags = call.query.get("tags", [None])[-1]
        if tags:
            wanted = re.split(r"[,/]", tags)
            every = "," in tags or "/" not in tags
            items = [e for e in items if (all if every else any)(t in (e.get("tags") or []) for t in wanted)]
        name = call.query.get("filter[name][eq]", [None])[-1]
        if name is not None:
            items = [e for e in items if e.get("username" if collection == "consumers" else "name") == name]
        size = int(call.query.get("size", [str(self.page_size)])[-1])
        start = int(call.query.get("offset", ["0"])[-1] or 0)
        page: dict[str, Any] = {"data": items[start:start + size]}
        if start + size < len(items):
            page["offset"] = str(start + size)
            page["next"] = f"{call.path}?size={size}&offset={start + size}"
        return 200, page

    def _post(self, call, cp, collection, parent, ident):
        return self._write(cp, collection, parent, {"id": str(uuid.uuid4()), **call.body}, None, 201)

    def _get(self, call, cp, collection, parent, ident):
        found = self._find(cp, collection, ident, parent)
        return (404, "Not found") if found is None else (200, found)

    def _put(self, call, cp, collection, parent, ident):
        existing = self._find(cp, collection, ident, parent)
        body = dict(call.body)
        if existing is not None:
            body["id"] = existing["id"]
        elif _UUID_TEXT.fullmatch(ident):
            body["id"] = ident
        else:  # a new entity named in the path
            body.update({"id": str(uuid.uuid4()), LOOKUP[collection]: ident})
        return self._write(cp, collection, parent, body, existing, 200)

    def _delete(self, call, cp, collection, parent, ident):
        found = self._find(cp, collection, ident, parent)
        if found is None:
            return 204, None
        for (child, field), (parent_collection, cascade) in FOREIGN.items():
            if parent_collection != collection:
                continue
            refs = [i for i, e in self._bucket(cp, child).items() if (e.get(field) or {}).get("id") == found["id"]]
            if refs and not cascade:
                return 400, f"an existing '{child}' entity references this '{collection}' entity"
            for i in refs:
                del self._bucket(cp, child)[i]
        del self._bucket(cp, collection)[found["id"]]
        return 204, None

    # -- state -----------------------------------------------------------------------------------

    def _write(self, cp, collection, parent, body, existing, status):
        if parent is not None:
            body[NESTED[collection][1]] = {"id": parent}
        for (child, field), (parent_collection, _) in FOREIGN.items():
            ref = (body.get(field) or {}).get("id") if child == collection else None
            if ref is not None and self._find(cp, parent_collection, ref, None) is None:
                return 400, self._constraint(field, f"the foreign key '{{id=\"{ref}\"}}' does not reference an "
                                                    f"existing '{parent_collection}' entity.")
        item = self._complete(collection, body, existing)
        for unique in UNIQUE.get(collection, ()):
            fields = unique if isinstance(unique, tuple) else (unique,)
            value = [json.dumps(item.get(f), sort_keys=True) for f in fields]
            if item.get(fields[0]) is None:
                continue
            for other in self._bucket(cp, collection).values():
                if other["id"] != item["id"] and [json.dumps(other.get(f), sort_keys=True) for f in fields] == value:
                    return 400, self._constraint(fields[-1], f"{fields[-1]} (type: unique) constraint failed")
        self._bucket(cp, collection)[item["id"]] = item
        return status, json.loads(json.dumps(item))

    def _complete(self, collection: str, body: dict, existing: Optional[dict]) -> dict:
        """``body`` as Kong stores it: the schema's defaults for what it leaves out, a service's
        ``url`` split, timestamps (``created_at`` kept on a replace)."""
        item = dict(body)
        if collection == "services" and item.get("url"):
            parts = urlsplit(item.pop("url"))
            item.update({"protocol": parts.scheme, "host": parts.hostname,
                         "port": parts.port or {"https": 443, "grpcs": 443, "wss": 443}.get(parts.scheme, 80),
                         "path": parts.path or None})
        for field, schema in self._properties(collection, item).items():
            if field not in item and isinstance(schema, dict) and "default" in schema:
                item[field] = schema["default"]
        now = int(time.time())
        item["created_at"] = existing["created_at"] if existing else now
        if "updated_at" in self._properties(collection, item):
            item["updated_at"] = now
        return item

    def _properties(self, collection: str, item: dict) -> dict:
        schemas = config_spec()["components"]["schemas"]
        name = {"services": "Service", "plugins": "Plugin", "consumers": "Consumer", "upstreams": "Upstream",
                "certificates": "Certificate", "snis": "SNI", "ca_certificates": "CACertificate", "vaults": "Vault",
                "targets": "Target", "key-auth": "KeyAuth", "basic-auth": "BasicAuth", "hmac-auth": "HMACAuth",
                "jwt": "JWT", "acls": "ACL",
                "routes": "RouteExpression" if "expression" in item else "RouteJson"}[collection]
        return schemas[name].get("properties", {})

    def _bucket(self, cp: str, collection: str) -> dict[str, dict]:
        return self.store.setdefault(cp, {}).setdefault(collection, {})

    def _under(self, collection: str, entity: dict, parent: Optional[str]) -> bool:
        return parent is None or (entity.get(NESTED[collection][1]) or {}).get("id") == parent

    def _find(self, cp: str, collection: str, ident: str, parent: Optional[str]) -> Optional[dict]:
        bucket = self._bucket(cp, collection)
        found = bucket.get(ident)
        if found is None and collection in LOOKUP and not _UUID_TEXT.fullmatch(ident):
            found = next((e for e in bucket.values() if e.get(LOOKUP[collection]) == ident
                          and self._under(collection, e, parent)), None)
        if found is None or not self._under(collection, found, parent):
            return None
        return json.loads(json.dumps(found))

    def _match(self, path: str) -> Optional[tuple[str, str, Optional[str], Optional[str]]]:
        top = re.fullmatch(ONE_CP + r"/core-entities/(?P<c>%s)(?:/(?P<i>[^/]+))?" % "|".join(TOP), path)
        if top:
            return top.group("cp"), top.group("c"), None, _unquote(top.group("i"))
        nested = re.fullmatch(ONE_CP + r"/core-entities/(?P<pc>consumers|upstreams)/(?P<p>[^/]+)/(?P<c>%s)"
                              r"(?:/(?P<i>[^/]+))?" % "|".join(NESTED), path)
        if nested and NESTED[nested.group("c")][0] == nested.group("pc"):
            return nested.group("cp"), nested.group("c"), _unquote(nested.group("p")), _unquote(nested.group("i"))
        return None

    def _parameter(self, parameter: dict) -> dict:
        name = _ref_name(parameter)
        return config_spec()["components"]["parameters"][name] if name else parameter

    def _check(self, schema: dict, body: Any, where: str) -> list[str]:
        errors = [f"{where}: {e.json_path}: {e.message}" for e in config_validator(schema).iter_errors(body)]
        self.fake.problems.extend(errors)
        return errors

    @staticmethod
    def _constraint(field: str, message: str) -> dict:
        return {"code": 3, "message": "data constraint error", "details": [
            {"@type": "type.googleapis.com/kong.admin.model.v1.ErrorDetail", "type": "ERROR_TYPE_REFERENCE",
             "field": field, "messages": [message]}]}

    @staticmethod
    def _kong_error(status: int, body: Any, headers: Optional[dict] = None):
        answer = body if isinstance(body, dict) else {"message": body}
        return status, {**(headers or {}), "Content-Type": "application/json"}, answer


def _unquote(text: Optional[str]) -> Optional[str]:
    from urllib.parse import unquote
    return None if text is None else unquote(text)
