"""The two Konnect objects this project manages, through Konnect's REST API (Pulumi dynamic providers).

No official Pulumi package for Konnect can be installed from PyPI, so:

- :class:`KonnectControlPlane` adopts the control plane of a given name or creates it
  (``POST /v2/control-planes``; a 409 means the name exists). A control plane the stack creates is
  *owned*: its ``description`` is the stack's marker ``kong-aws/<project>/<stack>``
  (:func:`stack_marker`), so that a retried create which meets 409 recognises it as the stack's
  own. An owned control plane is renamed and relabelled in place (``PATCH``) and deleted with the
  stack only when ``delete_on_destroy`` says so. Any other control plane of that name is *adopted*:
  the stack never renames, relabels or deletes it, and it adopts only a control plane its data
  planes can join (:func:`check_joinable`). Its outputs ``control_plane_endpoint`` and ``telemetry_endpoint`` feed
  the data planes' cluster settings.
- :class:`PinnedDataPlaneCertificate` pins a data plane certificate
  (``POST /v2/control-planes/{id}/dp-client-certificates``, ``title`` the stack's marker) and
  unpins it on delete. A new certificate replaces the old one create-before-delete: the new one is
  pinned, the data planes roll, and only then is the old one unpinned, so running data planes keep
  their connection. A pin of the same certificate found on create is the stack's own when its
  ``title`` is the stack's marker (an interrupted update), else adopted and never unpinned.

``pulumi import`` (``read`` without a prior state) records either object as adopted.

Paths, bodies and status codes follow the Konnect Control Planes v2 and Control Planes Config v2
OpenAPI specs (../shared/reference/konnect-control-planes-subset.json and
../shared/reference/konnect/). The access token is a Pulumi secret input and output: it is stored
in the state only encrypted.

The providers run in Pulumi's dynamic provider process, which imports this module from the project
directory; they import ``httpx`` and ``tenacity`` only when they run, so declaring the resources
(and the offline render) does not pay for them.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from typing import Any, Optional, cast

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult

# Regional Konnect API hosts. Source: ../shared/reference/konnect-endpoints.json (``api_base_urls``):
# control planes are regional; ``global.api.konghq.com`` serves identity only.
class KonnectRegion(str, enum.Enum):
    """A Konnect region; its control planes live at ``https://<region>.api.konghq.com``."""

    US = "us"
    EU = "eu"
    AU = "au"
    ME = "me"
    IN = "in"
    SG = "sg"


#: The region codes, in :class:`KonnectRegion`'s order.
REGIONS = tuple(region.value for region in KonnectRegion)


#: Defaults of the Konnect settings of :class:`components.konnect_ecs.KonnectArgs`, the only place
#: they are written.
KONNECT_DEFAULTS = {"region": KonnectRegion.US, "control_plane_labels": {}, "delete_control_plane_on_destroy": False}
#: The cluster type of a control plane the stack creates: a hybrid control plane that self-managed
#: data planes join.
CLUSTER_TYPE = "CLUSTER_TYPE_CONTROL_PLANE"
#: Cluster types of a control plane the stack adopts. Of the spec's enum (Control Planes v2 2.0.2,
#: ``config.cluster_type``), only ``CLUSTER_TYPE_CONTROL_PLANE`` is a control plane self-managed
#: data planes join with their own configuration: ``K8S_INGRESS_CONTROLLER`` is configured by a
#: Kubernetes ingress controller, ``CONTROL_PLANE_GROUP`` is configured through its member control
#: planes, ``SERVERLESS``/``SERVERLESS_V1`` and ``KAFKA_NATIVE_EVENT_PROXY`` run no Kong Gateway data
#: planes of yours. ``CLUSTER_TYPE_HYBRID`` is the older name of the same kind of control plane
#: (older Kong docs and many Konnect Terraform configurations create it); it is not in the 2.0.2 enum.
JOINABLE_CLUSTER_TYPES = ("CLUSTER_TYPE_CONTROL_PLANE", "CLUSTER_TYPE_HYBRID")
AUTH_TYPE = "pinned_client_certs"
#: Every error answer of the spec is ``application/problem+json``, every other answer ``application/json``.
ACCEPT = "application/json, application/problem+json"
#: Statuses worth another try: rate limiting and the server errors the spec lists (500, 503) plus
#: the gateway errors a proxy in between may answer.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


_HOSTNAME = re.compile(r"(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}", re.ASCII)


@dataclasses.dataclass(frozen=True)
class KonnectEndpoint:
    """A Konnect endpoint as Kong settings need it: ``host`` and ``port`` (443 unless given)."""

    host: str
    port: int = 443

    @property
    def address(self) -> str:
        """``host:port``, the form of ``cluster_control_plane`` and ``cluster_telemetry_endpoint``."""
        return f"{self.host}:{self.port}"


def parse_endpoint(value: str) -> KonnectEndpoint:
    """Normalise a Konnect endpoint as Konnect shows it.

    Accepts a bare host (``abc.us.cp0.konghq.com``), ``host:port`` or an ``https://`` URL with an
    optional port and an empty path (the form of a control plane's ``config.control_plane_endpoint``,
    see ../shared/reference/konnect-endpoints.json). Raises ``ValueError`` for anything else.
    """
    text = value.strip()
    if "://" in text:
        scheme, _, text = text.partition("://")
        if scheme.lower() != "https":
            raise ValueError("Konnect endpoints are https; give a host, host:443 or an https:// URL")
        text = text.rstrip("/")
        if "/" in text or "?" in text or "#" in text:
            raise ValueError("an endpoint URL has no path, query or fragment")
    host, sep, port_text = text.partition(":")
    port = 443
    if sep:
        if not (port_text.isascii() and port_text.isdecimal()) or not 0 < int(port_text) < 65536:
            raise ValueError(f"port {port_text!r} is not a number from 1 to 65535")
        port = int(port_text)
    if not _HOSTNAME.fullmatch(host):
        raise ValueError(f"{host!r} is not a DNS host name")
    return KonnectEndpoint(host=host.lower(), port=port)


def stack_marker(project: str, stack: str) -> str:
    """``kong-aws/<project>/<stack>``: the ``title`` of the pins a stack makes and the
    ``description`` of a control plane it creates, by which it recognises them as its own.

    Two stacks of the same project and stack name in one Konnect organization and region would
    take each other's objects for their own; give them different stack names."""
    return f"kong-aws/{project}/{stack}"


def check_joinable(plane: dict, what: str) -> None:
    """Raise :class:`KonnectApiError` unless the data planes of this stack can join ``plane`` (a
    ``ControlPlane`` as the API answers it): a cluster type of :data:`JOINABLE_CLUSTER_TYPES`,
    auth type :data:`AUTH_TYPE` and ``cloud_gateway`` false (a control plane of Dedicated Cloud
    Gateways, whose data planes Kong runs). ``what`` names the operation in the error."""
    config = plane.get("config") or {}
    cluster_type, auth_type = config.get("cluster_type"), config.get("auth_type")
    cloud_gateway = config.get("cloud_gateway") is True
    if cluster_type in JOINABLE_CLUSTER_TYPES and auth_type == AUTH_TYPE and not cloud_gateway:
        return
    raise KonnectApiError(
        f"{what}: control plane {plane.get('name')!r} is {cluster_type} with auth type {auth_type}"
        f"{' and cloud_gateway true' if cloud_gateway else ''}; data planes with pinned certificates need "
        f"{CLUSTER_TYPE} with {AUTH_TYPE} and cloud_gateway false. Choose another "
        "kong-aws:konnect.controlPlaneName (the stack then creates it), or give the endpoints of the control "
        "plane you want as kong-aws:konnect.controlPlaneEndpoint / telemetryEndpoint and pin the certificate "
        "yourself.")


def api_url_for(region: str) -> str:
    """``https://<region>.api.konghq.com`` for a Konnect region (``us``, ``eu`` ...).

    Raises ``ValueError`` for an unknown region."""
    if region not in REGIONS:
        raise ValueError(f"unknown Konnect region {region!r}; one of {', '.join(REGIONS)}")
    return f"https://{region}.api.konghq.com"


class KonnectApiError(Exception):
    """A Konnect API call that failed: ``status`` (HTTP status, or None when no answer came),
    and a message saying what failed and what to do."""

    def __init__(self, message: str, status: Optional[int] = None):
        super().__init__(message)
        self.status = status


_TLS: list[Any] = []


def _tls_context() -> Any:
    # httpx builds a new TLS context (reading the CA bundle, ~20 ms) per client unless given one;
    # the provider process makes a client per operation, so it builds one and keeps it.
    import httpx

    if not _TLS:
        _TLS.append(httpx.create_ssl_context())
    return _TLS[0]


class KonnectClient:
    """A small client for the Konnect Control Planes API.

    ``base_url`` is the regional host (``https://us.api.konghq.com``; paths start at ``/v2``),
    ``token`` a personal (``kpat_``) or system account (``spat_``) access token. Every call has a
    ``timeout`` (seconds, default 30) and is retried up to ``attempts`` times (default 5) on 429, 5xx
    and connection errors, waiting ``Retry-After`` when Konnect sends it, otherwise exponential
    backoff from ``backoff`` seconds (default 1) with jitter, at most 30 s. Errors raise
    :class:`KonnectApiError`.
    """

    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0, attempts: int = 5,
                 backoff: float = 1.0, transport: Any = None):
        import httpx

        self.base_url = base_url.rstrip("/")
        self.attempts = attempts
        self.backoff = backoff
        self._http = httpx.Client(
            base_url=self.base_url, timeout=timeout, transport=transport, verify=_tls_context(),
            headers={"Authorization": f"Bearer {token}", "Accept": ACCEPT,
                     "User-Agent": "kong-aws (Pulumi dynamic provider)"})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "KonnectClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- transport ------------------------------------------------------------------------------

    def _wait(self, state) -> float:
        from tenacity import wait_exponential_jitter

        outcome = state.outcome
        if outcome is not None and not outcome.failed:
            retry_after = outcome.result().headers.get("Retry-After", "")
            if retry_after.isdigit():
                return min(float(retry_after), 60.0)
        return wait_exponential_jitter(multiplier=self.backoff, max=30.0, jitter=self.backoff)(state)

    def request(self, method: str, path: str, *, expect: tuple[int, ...], what: str,
                json: Any = None, params: Optional[dict] = None):
        """Send one request (with retries) and return the ``httpx.Response`` whose status is in
        ``expect``; ``what`` names the operation in errors. Raises :class:`KonnectApiError`."""
        import httpx
        from tenacity import Retrying, retry_if_exception_type, retry_if_result, stop_after_attempt

        retrying = Retrying(
            stop=stop_after_attempt(self.attempts), wait=self._wait, reraise=True,
            retry=(retry_if_exception_type(httpx.TransportError)
                   | retry_if_result(lambda r: r.status_code in RETRY_STATUSES)),
            # After the last attempt, hand back its answer (or raise its error) to explain below
            # (tenacity has set the outcome when it calls back).
            retry_error_callback=lambda state: cast(Any, state.outcome).result())
        try:
            response = retrying(self._http.request, method, path, json=json, params=params)
        except httpx.TransportError as error:
            raise KonnectApiError(
                f"{what}: no answer from {self.base_url} after {self.attempts} attempts ({error}); check "
                "the network path to Konnect and kong-aws:konnect.region / apiUrl") from None
        if response.status_code in expect:
            return response
        raise KonnectApiError(self._explain(response, what), response.status_code)

    def _explain(self, response, what: str) -> str:
        status = response.status_code
        try:
            body = response.json()
            detail = body.get("detail") or body.get("message") or body.get("title") or ""
        except ValueError:
            detail = response.text[:200]
        detail = f" ({detail})" if detail else ""
        if status in (401, 403):
            return (f"{what}: Konnect refused the access token (HTTP {status}){detail}. Check "
                    "kong-aws:konnectToken or KONNECT_TOKEN: a personal (kpat_) or system account "
                    "(spat_) token that is valid and may manage control planes in this region.")
        if status == 404:
            return (f"{what}: not found (HTTP 404){detail}. If it was deleted outside Pulumi, run "
                    "`pulumi refresh` so that the stack forgets it (the next `pulumi up` makes it again); "
                    f"otherwise check that kong-aws:konnect.region / apiUrl ({self.base_url}) is the "
                    "region it lives in.")
        if status in RETRY_STATUSES:
            return (f"{what}: Konnect kept answering HTTP {status}{detail} after {self.attempts} "
                    "attempts; try again later.")
        return f"{what}: Konnect answered HTTP {status}{detail}."

    # -- control planes -------------------------------------------------------------------------

    def find_control_plane(self, name: str) -> Optional[dict]:
        """The control plane named exactly ``name``, or None."""
        response = self.request("GET", "/v2/control-planes", expect=(200,),
                                what=f"looking up control plane {name!r}",
                                params={"filter[name][eq]": name, "page[size]": 10})
        for plane in response.json().get("data", []):
            if plane.get("name") == name:
                return plane
        return None

    def create_or_adopt_control_plane(self, name: str, labels: dict[str, str],
                                      description: str = "") -> tuple[dict, bool]:
        """Create the control plane ``name`` (cluster type control plane, pinned client
        certificates, not for cloud gateways) with ``labels`` and ``description`` (the stack's
        marker), or, when Konnect answers 409, take the existing one.

        Returns ``(control plane, adopted)``: an existing control plane whose description is
        ``description`` is the stack's own (a create retried after its answer was lost, or an
        interrupted update), so ``adopted`` is False for it. Raises :class:`KonnectApiError`, also
        when the existing control plane is not one the data planes can join (:func:`check_joinable`)."""
        body: dict[str, Any] = {"name": name, "cluster_type": CLUSTER_TYPE, "auth_type": AUTH_TYPE,
                                "cloud_gateway": False, "labels": labels}
        if description:
            body["description"] = description
        response = self.request("POST", "/v2/control-planes", json=body, expect=(201, 409),
                                what=f"creating control plane {name!r}")
        if response.status_code == 201:
            return response.json(), False
        plane = self.find_control_plane(name)
        if plane is None:
            raise KonnectApiError(f"creating control plane {name!r}: Konnect answered 409 (exists) but "
                                  "no control plane of that name is visible to this token", 409)
        check_joinable(plane, f"adopting control plane {name!r}")
        return plane, not (description and plane.get("description") == description)

    def get_control_plane(self, plane_id: str) -> Optional[dict]:
        """The control plane ``plane_id``, or None when it no longer exists."""
        response = self.request("GET", f"/v2/control-planes/{plane_id}", expect=(200, 404),
                                what=f"reading control plane {plane_id}")
        return None if response.status_code == 404 else response.json()

    def update_control_plane(self, plane_id: str, changes: dict[str, Any]) -> dict:
        """``PATCH`` ``plane_id`` with ``changes`` (``name``, ``description``, ``labels``: fields of
        the spec's UpdateControlPlaneRequest); returns the control plane.

        ``labels`` is sent whole: the request schema types it as one Labels object of string values
        (no null to delete a key), so the labels sent are the labels wanted. Raises
        :class:`KonnectApiError`, with a hint when the new name is taken, and when the answer still
        holds a label that was not sent (a Konnect that merged the labels instead)."""
        what = f"updating control plane {plane_id}"
        response = self.request("PATCH", f"/v2/control-planes/{plane_id}", json=changes,
                                expect=(200, 400, 409), what=what)
        if response.status_code != 200:
            message = self._explain(response, what)
            if "name" in changes:
                message += (f" Renaming it to {changes['name']!r} needs a free name: if a control plane of that "
                            "name exists, rename or delete one of them; to join that one instead, remove this "
                            "control plane from the state (`pulumi state delete <its urn>`, it stays in Konnect) "
                            "and run `pulumi up` again to adopt it.")
            raise KonnectApiError(message, response.status_code)
        plane = response.json()
        if "labels" in changes:
            kept = sorted(set(plane.get("labels") or {}) - set(changes["labels"]))
            if kept:
                raise KonnectApiError(
                    f"{what}: Konnect kept the labels {kept}, which kong-aws:konnect.controlPlaneLabels no "
                    "longer has, after a PATCH that sent the labels wanted (the Control Planes API takes "
                    "`labels` whole, with string values only: there is no null to remove a key). Remove "
                    "them in Konnect (Gateway Manager > the control plane > Edit), then run `pulumi refresh`.")
        return plane

    def delete_control_plane(self, plane_id: str) -> None:
        """Delete ``plane_id``; one already gone is fine."""
        self.request("DELETE", f"/v2/control-planes/{plane_id}", expect=(204, 404),
                     what=f"deleting control plane {plane_id}")

    # -- pinned data plane certificates ---------------------------------------------------------

    def list_certificates(self, plane_id: str) -> list[dict]:
        """The data plane certificates pinned in ``plane_id``."""
        return self.request("GET", f"/v2/control-planes/{plane_id}/dp-client-certificates", expect=(200,),
                            what=f"listing pinned certificates of {plane_id}").json().get("items", [])

    def pin_certificate(self, plane_id: str, cert_pem: str, title: str = "") -> tuple[dict, bool]:
        """Pin ``cert_pem`` in ``plane_id`` with ``title`` (the stack's marker). Returns
        ``(certificate, adopted)``: a pin of this certificate that exists already (found by PEM,
        or after Konnect answers 400 or 409) is the stack's own when its title is ``title`` (a
        retried POST whose answer was lost, an interrupted update), else adopted."""
        def pinned() -> list[dict]:
            return [c for c in self.list_certificates(plane_id) if _same_pem(c.get("cert", ""), cert_pem)]

        def adopted(item: dict) -> bool:
            return not (title and item.get("title") == title)

        existing = pinned()
        if existing:
            return existing[0], adopted(existing[0])
        what = f"pinning the data plane certificate in {plane_id}"
        body = {"cert": cert_pem, **({"title": title} if title else {})}
        response = self.request("POST", f"/v2/control-planes/{plane_id}/dp-client-certificates",
                                json=body, expect=(201, 400, 409), what=what)
        if response.status_code == 201:
            return response.json()["item"], False
        # Already pinned: a retried POST whose first answer was lost, or a pin made meanwhile.
        existing = pinned()
        if not existing:
            raise KonnectApiError(self._explain(response, what), response.status_code)
        return existing[0], adopted(existing[0])

    def retitle_certificate(self, plane_id: str, cert_id: str, cert_pem: str, title: str) -> dict:
        """Set the ``title`` of pin ``cert_id`` (``PUT``, the spec's DataPlaneClientCertificateRequest
        with the same ``cert``); returns the pin."""
        return self.request("PUT", f"/v2/control-planes/{plane_id}/dp-client-certificates/{cert_id}",
                            json={"cert": cert_pem, "title": title}, expect=(200,),
                            what=f"updating pinned certificate {cert_id}").json()["item"]

    def get_certificate(self, plane_id: str, cert_id: str) -> Optional[dict]:
        """The pinned certificate ``cert_id``, or None when it is no longer pinned."""
        response = self.request("GET", f"/v2/control-planes/{plane_id}/dp-client-certificates/{cert_id}",
                                expect=(200, 404), what=f"reading pinned certificate {cert_id}")
        return None if response.status_code == 404 else response.json()["item"]

    def unpin_certificate(self, plane_id: str, cert_id: str) -> None:
        """Unpin ``cert_id``; one already gone is fine."""
        self.request("DELETE", f"/v2/control-planes/{plane_id}/dp-client-certificates/{cert_id}",
                     expect=(204, 404), what=f"unpinning certificate {cert_id}")


def _same_pem(a: str, b: str) -> bool:
    return re.sub(r"\s", "", a) == re.sub(r"\s", "", b)


def _client(props: dict) -> KonnectClient:
    return KonnectClient(props["apiUrl"], props["token"])


def _plane_outs(props: dict, plane: dict, adopted: bool) -> dict:
    # A control plane the stack owns reports its name, description and labels as Konnect has them,
    # so a refresh shows an edit made elsewhere and the next update puts the configured ones back.
    # An adopted one keeps its own in Konnect (the stack changes nothing it does not own); the
    # state records the configured ones, so no update is ever planned for them.
    config = plane.get("config", {})
    seen = {} if adopted else {"name": plane.get("name", props.get("name")),
                               "description": plane.get("description", props.get("description")),
                               "labels": plane.get("labels") or {}}
    return {
        **props,
        "labels": props.get("labels") or {},
        **seen,
        "controlPlaneId": plane["id"],
        "controlPlaneEndpoint": config.get("control_plane_endpoint"),
        "telemetryEndpoint": config.get("telemetry_endpoint"),
        "adopted": adopted,
    }


def _imported(props: dict) -> bool:
    # `read` without a prior state (`pulumi import`, the `import` resource option) gets the
    # inputs only; a refresh gets the outputs, which always say whether the object is adopted.
    return "adopted" not in props


class ControlPlaneProvider(ResourceProvider):
    """CRUD of a Konnect control plane for :class:`KonnectControlPlane` (inputs: ``apiUrl``,
    ``token``, ``name``, ``labels``, ``description``, ``deleteOnDestroy``).

    An owned control plane (created by the stack, ``adopted`` false) is renamed, relabelled and
    re-described in place and deleted only with ``deleteOnDestroy``; an adopted one is never
    changed: a new ``name`` then replaces the resource, i.e. adopts (or creates) the control plane
    of that name and leaves the adopted one as it was. Another ``apiUrl`` (region) replaces either."""

    def create(self, props: dict) -> CreateResult:
        with _client(props) as client:
            plane, adopted = client.create_or_adopt_control_plane(
                props["name"], props.get("labels") or {}, props.get("description") or "")
        return CreateResult(plane["id"], _plane_outs(props, plane, adopted))

    def read(self, id_: str, props: dict) -> ReadResult:
        with _client(props) as client:
            plane = client.get_control_plane(id_)
        if plane is None:
            return ReadResult(None, {})
        if _imported(props):
            check_joinable(plane, f"importing control plane {id_}")
            return ReadResult(id_, _plane_outs(props, plane, True))
        return ReadResult(id_, _plane_outs(props, plane, bool(props.get("adopted"))))

    def diff(self, id_: str, olds: dict, news: dict) -> DiffResult:
        # Another region is another control plane; for an adopted one, so is another name.
        adopted = bool(olds.get("adopted"))
        replaces = [k for k in ("apiUrl", *(("name",) if adopted else ())) if olds.get(k) != news.get(k)]
        changed = replaces + [k for k in ("name", "description", "token") if k not in replaces
                              and olds.get(k) != news.get(k)]
        if (olds.get("labels") or {}) != (news.get("labels") or {}):
            changed.append("labels")
        if bool(olds.get("deleteOnDestroy")) != bool(news.get("deleteOnDestroy")):
            changed.append("deleteOnDestroy")
        return DiffResult(changes=bool(changed), replaces=replaces, stables=["controlPlaneId"],
                          delete_before_replace=False)

    def update(self, id_: str, olds: dict, news: dict) -> UpdateResult:
        adopted = bool(olds.get("adopted"))
        changes: dict[str, Any] = {}
        if not adopted:
            labels = news.get("labels") or {}
            if news.get("name") != olds.get("name"):
                changes["name"] = news["name"]
            if news.get("description") and news.get("description") != olds.get("description"):
                changes["description"] = news["description"]
            if labels != (olds.get("labels") or {}):
                changes["labels"] = labels
        plane: Optional[dict]
        with _client(news) as client:
            if changes:
                plane = client.update_control_plane(id_, changes)
            else:
                plane = client.get_control_plane(id_)
                if plane is None:
                    raise KonnectApiError(f"control plane {id_} no longer exists; run `pulumi refresh` so that "
                                          "the stack forgets it (the next `pulumi up` creates it again)", 404)
        return UpdateResult(_plane_outs(news, plane, adopted))

    def delete(self, id_: str, props: dict) -> None:
        if props.get("adopted"):
            return  # not ours: the stack found it and leaves it as it was
        if not props.get("deleteOnDestroy"):
            return  # ours, but kept with its configuration unless config says otherwise
        with _client(props) as client:
            client.delete_control_plane(id_)


class CertificateProvider(ResourceProvider):
    """CRUD of a pinned data plane certificate for :class:`PinnedDataPlaneCertificate` (inputs:
    ``apiUrl``, ``token``, ``controlPlaneId``, ``cert``, ``title``). A pin the stack owns is
    unpinned on delete (and so after a rotation); an adopted one stays pinned."""

    def create(self, props: dict) -> CreateResult:
        with _client(props) as client:
            item, adopted = client.pin_certificate(props["controlPlaneId"], props["cert"], props.get("title") or "")
        return CreateResult(item["id"], {**props, "certificateId": item["id"], "adopted": adopted})

    def read(self, id_: str, props: dict) -> ReadResult:
        with _client(props) as client:
            item = client.get_certificate(props["controlPlaneId"], id_)
        if item is None:
            return ReadResult(None, {})
        adopted = True if _imported(props) else bool(props.get("adopted"))
        seen = {} if adopted else {"title": item.get("title", props.get("title"))}
        return ReadResult(id_, {**props, "cert": item.get("cert", props.get("cert")), **seen,
                                "certificateId": id_, "adopted": adopted})

    def diff(self, id_: str, olds: dict, news: dict) -> DiffResult:
        # A new certificate is a new pin: created before the old one is unpinned.
        replaces = [k for k in ("apiUrl", "controlPlaneId", "cert")
                    if (not _same_pem(olds.get(k) or "", news.get(k) or "") if k == "cert"
                        else olds.get(k) != news.get(k))]
        changed = replaces + [k for k in ("token", "title") if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=replaces, stables=["certificateId"],
                          delete_before_replace=False)

    def update(self, id_: str, olds: dict, news: dict) -> UpdateResult:
        adopted = bool(olds.get("adopted"))
        if not adopted and news.get("title") and news.get("title") != olds.get("title"):
            with _client(news) as client:
                client.retitle_certificate(news["controlPlaneId"], id_, olds.get("cert") or news["cert"],
                                           news["title"])
        return UpdateResult({**news, "certificateId": id_, "adopted": adopted})

    def delete(self, id_: str, props: dict) -> None:
        if props.get("adopted"):
            return  # pinned before this stack (e.g. in the Konnect UI): leave it pinned
        with _client(props) as client:
            client.unpin_certificate(props["controlPlaneId"], id_)


class KonnectControlPlane(Resource, module="konnect", name="ControlPlane"):
    """A Konnect control plane with pinned client certificates (type
    ``pulumi-python:dynamic/konnect:ControlPlane``).

    ``api_url``: the regional API (:func:`api_url_for`); ``token``: the access token (made secret);
    ``name`` (2-256 characters) and ``labels``; ``delete_on_destroy`` (default False): delete the
    control plane with the resource if the stack created it (else it stays in Konnect);
    ``description`` (default :func:`stack_marker` of this stack), by which a control plane the stack
    created is recognised as its own. Outputs: ``control_plane_id``, ``control_plane_endpoint`` and
    ``telemetry_endpoint`` (``https://`` URLs), ``adopted`` (True: the control plane existed and is
    never renamed, relabelled or deleted by the stack).
    """

    control_plane_id: pulumi.Output[str]
    control_plane_endpoint: pulumi.Output[str]
    telemetry_endpoint: pulumi.Output[str]
    adopted: pulumi.Output[bool]

    def __init__(self, name: str, *, api_url: str, token: pulumi.Input[str], control_plane_name: str,
                 labels: Optional[dict[str, str]] = None, delete_on_destroy: bool = False,
                 description: Optional[str] = None, opts: Optional[pulumi.ResourceOptions] = None):
        props = {
            "api_url": api_url, "token": pulumi.Output.secret(token), "name": control_plane_name,
            "labels": dict(labels or {}), "delete_on_destroy": bool(delete_on_destroy),
            "description": description if description is not None else _this_stack(),
            "control_plane_id": None, "control_plane_endpoint": None, "telemetry_endpoint": None, "adopted": None,
        }
        super().__init__(ControlPlaneProvider(), name, props, pulumi.ResourceOptions.merge(
            pulumi.ResourceOptions(additional_secret_outputs=["token"]), opts))

    # Python names here, camelCase names for the engine and the provider.
    def translate_output_property(self, prop: str) -> str:
        return snake_case(prop)

    def translate_input_property(self, prop: str) -> str:
        return camel_case(prop)


class PinnedDataPlaneCertificate(Resource, module="konnect", name="PinnedDataPlaneCertificate"):
    """A data plane certificate pinned in a Konnect control plane (type
    ``pulumi-python:dynamic/konnect:PinnedDataPlaneCertificate``).

    ``api_url``, ``token`` (made secret), ``control_plane_id``, ``cert`` (PEM) and ``title``
    (default :func:`stack_marker` of this stack; the spec's DataPlaneClientCertificateRequest has a
    ``title``). Outputs: ``certificate_id``, ``adopted`` (True: the certificate was pinned before,
    under another title, and stays pinned). A changed ``cert`` replaces the pin create-before-delete.
    """

    certificate_id: pulumi.Output[str]
    adopted: pulumi.Output[bool]

    def __init__(self, name: str, *, api_url: str, token: pulumi.Input[str],
                 control_plane_id: pulumi.Input[str], cert: pulumi.Input[str], title: Optional[str] = None,
                 opts: Optional[pulumi.ResourceOptions] = None):
        props = {"api_url": api_url, "token": pulumi.Output.secret(token), "control_plane_id": control_plane_id,
                 "cert": cert, "title": title if title is not None else _this_stack(),
                 "certificate_id": None, "adopted": None}
        super().__init__(CertificateProvider(), name, props, pulumi.ResourceOptions.merge(
            pulumi.ResourceOptions(additional_secret_outputs=["token"]), opts))

    # Python names here, camelCase names for the engine and the provider.
    def translate_output_property(self, prop: str) -> str:
        return snake_case(prop)

    def translate_input_property(self, prop: str) -> str:
        return camel_case(prop)


def _this_stack() -> str:
    return stack_marker(pulumi.get_project(), pulumi.get_stack())


def snake_case(name: str) -> str:
    """``controlPlaneId`` -> ``control_plane_id``: an underscore before each capital, all lower case
    (the engine's camelCase property names as the SDK's Python names)."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def camel_case(name: str) -> str:
    """``control_plane_id`` -> ``controlPlaneId``; a name that starts with ``_`` (the SDK's reserved
    names such as ``__provider``) is returned as it is."""
    if name.startswith("_"):
        return name  # reserved names such as __provider
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)
