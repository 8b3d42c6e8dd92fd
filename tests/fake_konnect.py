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
            answered = "application/json" if status < 400 else "application/problem+json"
            if body is not None and not accepts(call.accept, answered):
                self.problems.append(f"{call.method} {call.path}: answered {status} as {answered}, which "
                                     f"Accept: {call.accept} does not admit")
        payload = b"" if body is None else json.dumps(body).encode()
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        if body is not None:
            content_type = "application/json" if status < 400 else "application/problem+json"
            handler.send_header("Content-Type", content_type)
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
        route, params = self._route(call.method, call.path)
        if route is None:
            self.problems.append(f"{call.method} {call.path}: not in the spec subset")
            return self._error(405 if params["known"] else 404, "no such operation")
        # Konnect authenticates first: no valid bearer token, no other answer.
        if call.authorization not in {f"Bearer {t}" for t in self.tokens}:
            return self._error(401, "A valid token is required")
        schema = REQUEST_SCHEMAS.get((call.method, route))
        if raw:
            try:
                call.body = json.loads(raw)
            except ValueError:
                self.problems.append(f"{call.method} {call.path}: body is not JSON")
                return self._error(400, "body is not JSON")
            if schema is None:
                self.problems.append(f"{call.method} {call.path}: a body where the spec has none")
                return self._error(400, "unexpected body")
            if not content_type.startswith("application/json"):
                self.problems.append(f"{call.method} {call.path}: Content-Type {content_type!r}")
        elif schema is not None:
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
