"""The Kubernetes objects a hybrid-eks run puts on the cluster, as manifests (a test helper).

A hybrid-eks run registers two ``kubernetes:helm.sh/v3:Release`` resources (control plane and data
plane) and a few Kubernetes objects of its own (Secrets, the in-cluster PostgreSQL ...). This module
renders each release's chart the way Helm would install it and turns the program's own objects into
manifests, so that tests can check what the cluster would really run.

- The chart: ../shared/reference/kong-chart-3.4.1 (Kong/charts tag kong-3.4.1), rendered offline by
  Helm's Go SDK (PyPI ``helm-python-sdk``, import ``helm_python``; Helm v4 inside) for the cluster's
  Kubernetes version, as an install and as an upgrade.
- The schemas: PyPI ``kubernetes-validate`` (the Kubernetes OpenAPI schemas per version, strict:
  unknown fields are errors).

Renders are cached per (values, release name, namespace, Kubernetes version, install or upgrade,
CRDs skipped or not), so a test session renders each distinct release once; validations are
cached per manifest. Cached objects are shared: callers must not modify them (``copy.deepcopy``
first).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any, Optional

import kubernetes_validate
import kubernetes_validate.utils
import yaml

from tests.conftest import REFERENCE
from tools.mocks import FakeCloud, RunResult, plain_values
from tools.render import whole_numbers

#: The chart the releases install (Kong/charts tag kong-3.4.1, commit 694d8dc4).
CHART_DIR = REFERENCE / "kong-chart-3.4.1"
RELEASE = "kubernetes:helm.sh/v3:Release"
CLUSTER = "aws:eks/cluster:Cluster"
GET_CLUSTER = "aws:eks/getCluster:getCluster"
#: A new cluster's Kubernetes version when the program sets none (components/eks_cluster.py EKS_DEFAULTS).
DEFAULT_KUBERNETES_VERSION = "1.33"
#: Helm's hook annotation: a comma-separated list of events (helm.sh/docs "Chart Hooks").
HOOK = "helm.sh/hook"
#: The hook events Helm runs for each action; other hooks (``test``, ``pre-delete`` ...) do not run.
ACTION_HOOKS = {True: {"pre-install", "post-install"}, False: {"pre-upgrade", "post-upgrade"}}


class ChartRenderError(Exception):
    """The chart refused to render a release (a template's ``fail``, bad values): Helm's message."""


@dataclass(frozen=True)
class Rendered:
    """One release rendered by Helm for one action.

    ``manifests``: every object the chart's templates render, hooks of any event included, in
    template order (``NOTES.txt`` and empty documents left out), then the chart's ``crds/`` objects
    when Helm would install them (an install without ``skipCrds``). ``sources``: the template path
    (``kong/templates/deployment.yaml``, ``kong/crds/...``) of each manifest.
    """

    release: str
    namespace: str
    install: bool
    """True: ``helm install``; False: ``helm upgrade``"""
    kubernetes_version: str
    """``1.33``"""
    manifests: tuple[dict, ...]
    sources: tuple[str, ...]

    def applied(self) -> list[dict]:
        """The objects Helm creates for this action: those that are no hook, and the hooks of this
        action's events (pre-/post-install or pre-/post-upgrade)."""
        return [m for m in self.manifests if not hook_events(m) or hook_events(m) & ACTION_HOOKS[self.install]]


def hook_events(manifest: dict) -> set[str]:
    """The Helm hook events of ``manifest`` (empty for an ordinary object)."""
    value = ((manifest.get("metadata") or {}).get("annotations") or {}).get(HOOK, "")
    return {event.strip() for event in value.split(",") if event.strip()}


@functools.lru_cache(maxsize=1)
def _chart():
    from helm_python import Chart

    return Chart.load(CHART_DIR)


@functools.lru_cache(maxsize=1)
def chart_version() -> str:
    """The reference chart's version (``3.4.1``)."""
    return _chart().version


@functools.lru_cache(maxsize=1)
def _crd_documents() -> tuple[tuple[str, dict], ...]:
    # Helm installs crds/ before the templates on an install, never on an upgrade (helm.sh/docs
    # "Custom Resource Definitions"); skipCrds turns that off.
    return tuple((crd["filename"], doc) for crd in _chart().crds
                 for doc in yaml.load_all(crd["data"], Loader=yaml.CSafeLoader) if doc)


def release_inputs(result: RunResult) -> dict[str, dict]:
    """Release name -> the registered inputs of that ``kubernetes:helm.sh/v3:Release``, secret
    markers removed (``name``, ``namespace``, ``chart``, ``version``, ``values``, ``skipCrds`` ...)."""
    return {plain_values(r.inputs["name"]): plain_values(r.inputs) for r in result.of_type(RELEASE)}


def kubernetes_version(result: RunResult) -> str:
    """The cluster's Kubernetes minor version (``1.33``): a new cluster's ``version`` input (the
    ``aws:eks/cluster:Cluster`` the run registers; :data:`DEFAULT_KUBERNETES_VERSION` when unset),
    or what the fake cloud's ``getCluster`` answers for the existing cluster the run looked up
    (tools/mocks.py ``FakeCloud._eks_cluster_state``), else the default."""
    clusters = result.of_type(CLUSTER)
    if clusters:
        return str(plain_values(clusters[0].inputs.get("version")) or DEFAULT_KUBERNETES_VERSION)
    for call in result.calls:
        if call.token == GET_CLUSTER:
            # Asked again: the answer's version does not depend on the region.
            return str(FakeCloud("us-east-1").call(call)["version"])
    return DEFAULT_KUBERNETES_VERSION


def render(result: RunResult, release: str, install: bool) -> Rendered:
    """Render ``release`` of ``result`` as Helm would for an install (``install``) or an upgrade, for
    the cluster's Kubernetes version (:func:`kubernetes_version`). Raises :class:`ChartRenderError`
    when the chart refuses, and ``ValueError`` when the release asks for another chart than the
    reference one."""
    inputs = release_inputs(result)[release]
    if (inputs.get("chart"), inputs.get("version")) != ("kong", chart_version()):
        raise ValueError(f"{release} installs chart {inputs.get('chart')} {inputs.get('version')}, "
                         f"not the reference kong {chart_version()}")
    return render_values(json.dumps(inputs.get("values") or {}, sort_keys=True), release,
                         inputs.get("namespace") or "default", kubernetes_version(result), install,
                         bool(inputs.get("skipCrds")))


def render_all(result: RunResult) -> dict[tuple[str, bool], Rendered]:
    """Every release of ``result``, as install (``(name, True)``) and as upgrade (``(name, False)``).
    Raises :class:`ChartRenderError` for the first that does not render."""
    return {(name, install): render(result, name, install)
            for name in release_inputs(result) for install in (True, False)}


@functools.lru_cache(maxsize=None)
def render_values(values_json: str, name: str, namespace: str, version: str, install: bool,
                  skip_crds: bool) -> Rendered:
    """Render the reference chart with ``values_json`` (the values as JSON) as release ``name`` in
    ``namespace`` for Kubernetes ``version`` (``1.33``), as an install or an upgrade, the chart's
    crds/ skipped or not (Helm's ``--skip-crds``). Cached. Raises :class:`ChartRenderError`."""
    from helm_python import _native
    from helm_python.errors import HelmRenderError, HelmValuesError

    options = {"name": name, "namespace": namespace, "kube_version": f"v{version}.0",
               "is_install": install, "is_upgrade": not install}
    try:
        # Chart.render does not pass the Kubernetes version; the native call takes it.
        text = _native.call_string("helm_render", _chart()._raw(), values_json, json.dumps(options))
    except (HelmRenderError, HelmValuesError) as error:
        raise ChartRenderError(f"{name} ({'install' if install else 'upgrade'}): {error}") from None
    documents = [(path, doc) for path, body in sorted(json.loads(text).items()) if not path.endswith("NOTES.txt")
                 for doc in _documents(body)]
    if install and not skip_crds:
        documents += list(_crd_documents())
    return Rendered(name, namespace, install, version, tuple(doc for _, doc in documents),
                    tuple(path for path, _ in documents))


@functools.lru_cache(maxsize=None)
def _documents(text: str) -> tuple[dict, ...]:
    # Most templates render the same text for an install and an upgrade, and for many variants.
    return tuple(doc for doc in yaml.load_all(text, Loader=yaml.CSafeLoader) if doc)


def api_version_kind(type_token: str) -> tuple[str, str]:
    """``kubernetes:<group>/<version>:<Kind>`` -> (apiVersion, kind): ``kubernetes:core/v1:Secret``
    -> (``v1``, ``Secret``), ``kubernetes:networking.k8s.io/v1:NetworkPolicy`` ->
    (``networking.k8s.io/v1``, ``NetworkPolicy``) (pulumi-kubernetes' type tokens)."""
    match = re.fullmatch(r"kubernetes:([^/:]+)/([^/:]+):(\w+)", type_token)
    if not match:
        raise ValueError(f"{type_token!r} is not a Kubernetes object's type token")
    group, version, kind = match.groups()
    return (version if group == "core" else f"{group}/{version}"), kind


def program_manifests(result: RunResult) -> list[dict]:
    """The Kubernetes objects the program declares itself (every ``kubernetes:<group>/<version>:<Kind>``
    resource it registers; not Helm releases, not objects it only reads) as manifests: apiVersion
    and kind from the type token, the inputs (camelCase, as in a manifest) with secret markers
    removed (a Secret's ``stringData`` is plain text here) and whole numbers as ints."""
    manifests = []
    for reg in result.registrations:
        if not reg.custom or not reg.type.startswith("kubernetes:") or reg.type == RELEASE:
            continue
        api_version, kind = api_version_kind(reg.type)
        body = whole_numbers(plain_values(reg.inputs))
        if body.get("apiVersion", api_version) != api_version or body.get("kind", kind) != kind:
            raise ValueError(f"{reg.urn}: inputs say {body.get('apiVersion')} {body.get('kind')}, "
                             f"the type {api_version} {kind}")
        manifests.append({**body, "apiVersion": api_version, "kind": kind})
    return manifests


def is_custom_resource(manifest: dict) -> bool:
    """True for an object of an API group outside Kubernetes' own: Kubernetes' groups are the
    core group, the unqualified legacy ones (``apps``, ``batch``, ``policy``, ``autoscaling`` ...) and
    those ending in ``.k8s.io`` (Kubernetes API conventions, "API groups"); ``eks.amazonaws.com``
    or ``karpenter.sh`` are a CRD's."""
    group = manifest.get("apiVersion", "").rpartition("/")[0]
    return "." in group and not group.endswith(".k8s.io")


def validation_problem(manifest: dict, version: str) -> Optional[str]:
    """Why ``manifest`` does not validate strictly against Kubernetes ``version``'s (``1.33``)
    schemas (kubernetes-validate: unknown fields, wrong types, missing required fields), or None.
    A Kubernetes kind without a schema in that version is a problem; a custom resource
    (:func:`is_custom_resource`) has no schema here and is not checked (None)."""
    if is_custom_resource(manifest):
        return None
    return _validation_problem(json.dumps(manifest, sort_keys=True), version)


#: kubernetes-validate's loader of its schema files, which reads and parses them on every call.
_READ_SCHEMA = kubernetes_validate.utils.schema_contents


@functools.lru_cache(maxsize=None)
def _schema(filename: str, version: str) -> Any:
    # The files do not change: each (the 1.4 MB definitions file above all) is read once a session.
    return _READ_SCHEMA(filename, version)


@functools.lru_cache(maxsize=None)
def _validation_problem(manifest_json: str, version: str) -> Optional[str]:
    manifest = json.loads(manifest_json)
    kubernetes_validate.utils.schema_contents = _schema
    try:
        kubernetes_validate.validate(manifest, f"{version}.0", strict=True)
    except kubernetes_validate.ValidationError as error:
        return f"{'.'.join(map(str, error.path)) or '(top)'}: {error.message}"
    except kubernetes_validate.SchemaNotFoundError as error:
        return error.message
    finally:
        kubernetes_validate.utils.schema_contents = _READ_SCHEMA
    return None


def name_of(manifest: dict) -> str:
    """``Kind/name`` of a manifest, for messages."""
    return f"{manifest.get('kind')}/{(manifest.get('metadata') or {}).get('name')}"

