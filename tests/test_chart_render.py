"""The real Kong chart, rendered for what hybrid-eks runs register (tests/chart_render.py).

Each release is rendered by Helm (the reference chart, ../shared/reference/kong-chart-3.4.1) as an
install and as an upgrade for the cluster's Kubernetes version, next to the program's own Kubernetes
objects, for the example stack dev-eks and variants of tests/test_kong_hybrid.HYBRID_CONFIG. Each
test checks one thing a working hybrid needs on every variant; ``test_each_check_can_fail`` breaks
a good render in the way each check looks for and expects the check to say so.
"""

from __future__ import annotations

import base64
import copy
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional

import pytest
from cryptography import x509

from components.kong_hybrid import HYBRID_DEFAULTS
from tests import chart_render
from tests.chart_render import name_of
from tests.conftest import REFERENCE, example_run
from tests.test_kong_hybrid import HYBRID_CONFIG, LICENSE
from tools import render as stack_render
from tools.mocks import RunResult

# ---------------------------------------------------------------------------------------------
# The runs

def _variant(**sections: Any) -> dict[str, Any]:
    """HYBRID_CONFIG with ``sections`` (``hybrid={...}`` -> ``kong-aws:hybrid``) merged into its
    sections; ``eks`` replaces that section (a new cluster's keys are refused with an existing one)."""
    config = copy.deepcopy(HYBRID_CONFIG)
    for key, value in sections.items():
        full = f"kong-aws:{key}"
        merge = isinstance(value, dict) and key != "eks"
        config[full] = {**config.get(full, {}), **value} if merge else value
    return config


DIGEST = "sha256:" + "0123456789abcdef" * 4
SUBNETS = {"privateSubnetIds": ["subnet-0a000000000000001", "subnet-0a000000000000002"],
           "publicSubnetIds": ["subnet-0b000000000000001", "subnet-0b000000000000002"]}

#: variant -> (config, secret keys); None: the example stack of that name. Settings that touch
#: different parts of the render share a variant (a program run costs a quarter of a second).
VARIANTS: dict[str, Optional[tuple[dict[str, Any], set[str]]]] = {
    "dev-eks": None,
    "enterprise-license-rds": (_variant(enterpriseLicense=LICENSE, postgres={"mode": "rds"},
                                        hybrid={"adminRbac": True}),
                               {"kong-aws:enterpriseLicense"}),
    "shared-no-autoscaler": (_variant(hybrid={"clusterMtls": "shared", "dataPlaneMinReplicas": 3,
                                              "dataPlaneMaxReplicas": 3}), set()),
    "one-replica-each-existing-vpc-internal-proxy": (_variant(
        network={"vpcId": "vpc-0a1b2c3d4e5f60718", **SUBNETS},
        hybrid={"dataPlaneMinReplicas": 1, "dataPlaneMaxReplicas": 1, "controlPlaneReplicas": 1,
                "proxyInternal": True}), set()),
    "existing-cluster-image-digest": (_variant(eks={"clusterName": "platform-prod", "storageClassName": "gp3"},
                                               kong={"version": DIGEST}), set()),
}


@dataclass
class Obj:
    """One object on the cluster: who declares it (a release name or ``program``), its namespace,
    its manifest (shared with the render cache: not to be modified)."""

    origin: str
    namespace: str
    manifest: dict


@dataclass
class World:
    """What one variant puts on the cluster after an install (``install``) or an upgrade: the
    releases' applied objects and the program's own, the releases' values, which release is the
    control plane and which the data plane, and the replica settings the config asks for."""

    variant: str
    install: bool
    kubernetes_version: str
    objects: list[Obj]
    values: dict[str, dict]
    control_plane: str
    data_plane: str
    replicas: dict[str, int]
    #: (where from, manifest) of everything rendered (hooks of other actions too) and the program's
    rendered: list[tuple[str, dict]] = field(default_factory=list)


def _replicas(config: dict[str, Any]) -> dict[str, int]:
    """The replica settings of ``config`` (structured, or text as in a stack file), defaults from
    components.kong_hybrid.HYBRID_DEFAULTS."""
    hybrid = config.get("kong-aws:hybrid") or {}
    hybrid = json.loads(hybrid) if isinstance(hybrid, str) else hybrid
    keys = {"control_plane_replicas": "controlPlaneReplicas", "data_plane_min_replicas": "dataPlaneMinReplicas",
            "data_plane_max_replicas": "dataPlaneMaxReplicas"}
    defaults: dict[str, Any] = dict(HYBRID_DEFAULTS)
    return {key: int(hybrid.get(camel, defaults[key])) for key, camel in keys.items()}


_RUNS: dict[str, tuple[RunResult, dict[str, int]]] = {}
_WORLDS: dict[tuple[str, bool], World] = {}


def _run(variant: str, run_stack) -> tuple[RunResult, dict[str, int]]:
    # One run per variant for this module's tests (they only read it): no copy per test.
    if variant not in _RUNS:
        spec = VARIANTS[variant]
        if spec is None:
            config = stack_render.read_stack_config(variant)[0]
            _RUNS[variant] = (example_run(variant), _replicas(config))
        else:
            _RUNS[variant] = (run_stack(spec[0], secret_keys=spec[1]), _replicas(spec[0]))
    return _RUNS[variant]


def world(variant: str, install: bool, run_stack) -> World:
    """The :class:`World` of ``variant`` after an install or an upgrade (built once per session).
    Raises chart_render.ChartRenderError when a release does not render."""
    key = (variant, install)
    if key not in _WORLDS:
        result, replicas = _run(variant, run_stack)
        objects: list[Obj] = []
        rendered: list[tuple[str, dict]] = []
        for (name, action), done in chart_render.render_all(result).items():
            if action == install:
                objects += [Obj(name, _namespace(m, done.namespace), m) for m in done.applied()]
                rendered += [(f"{name} {source}", m) for source, m in zip(done.sources, done.manifests)]
        own = chart_render.program_manifests(result)
        objects += [Obj("program", _namespace(m, "default"), m) for m in own]
        values = {name: inputs["values"] for name, inputs in chart_render.release_inputs(result).items()}
        roles = {values[name]["env"]["role"]: name for name in values}
        _WORLDS[key] = World(variant, install, chart_render.kubernetes_version(result), objects, values,
                             roles["control_plane"], roles["data_plane"], replicas,
                             rendered + [("program", m) for m in own])
    return _WORLDS[key]


def _namespace(manifest: dict, default: str) -> str:
    return (manifest.get("metadata") or {}).get("namespace") or default


@pytest.fixture(params=list(VARIANTS))
def variant(request) -> str:
    return request.param


def both(variant: str, run_stack) -> Iterator[World]:
    """The install and the upgrade of ``variant``."""
    for install in (True, False):
        yield world(variant, install, run_stack)


# ---------------------------------------------------------------------------------------------
# Pods, containers, ports, files

POD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


@dataclass
class Pod:
    """A pod as a workload's template describes it."""

    owner: Obj
    labels: dict[str, str]
    spec: dict

    def containers(self) -> list[dict]:
        return list(self.spec.get("initContainers") or []) + list(self.spec.get("containers") or [])

    def where(self, container: dict) -> str:
        return f"{self.owner.origin} {name_of(self.owner.manifest)} container {container.get('name')}"


def pods(w: World, origin: Optional[str] = None) -> list[Pod]:
    """The pods of ``w``'s workloads (of one origin, or all)."""
    found = []
    for obj in w.objects:
        if origin is not None and obj.origin != origin:
            continue
        kind, spec = obj.manifest.get("kind"), obj.manifest.get("spec") or {}
        if kind in POD_KINDS:
            template = spec.get("template") or {}
        elif kind == "CronJob":
            template = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
        elif kind == "Pod":
            template = obj.manifest
        else:
            continue
        found.append(Pod(obj, dict((template.get("metadata") or {}).get("labels") or {}), template.get("spec") or {}))
    return found


def env(container: dict) -> dict[str, dict]:
    """A container's env entries by name (the last wins, as in Kubernetes)."""
    return {e["name"]: e for e in container.get("env") or []}


def env_value(container: dict, name: str) -> Optional[str]:
    entry = env(container).get(name)
    return None if entry is None else entry.get("value")


def is_kong(container: dict) -> bool:
    """A container that runs Kong (the chart gives it Kong's ``KONG_*`` settings)."""
    return any(name.startswith("KONG_") for name in env(container))


def kong_container(pod: Pod) -> dict:
    """The Kong container of a chart pod: the one that runs Kong (not an init container)."""
    (found,) = [c for c in pod.spec.get("containers") or [] if is_kong(c)]
    return found


#: Kong's listen settings and their defaults (Kong Gateway Enterprise 3.9 configuration reference,
#: ../shared/reference/kong-gateway-ee-conf/kong_conf_properties_ee_3.9.json): a setting the chart
#: does not render still listens at its default.
_EE_PROPERTIES = json.loads((REFERENCE / "kong-gateway-ee-conf" / "kong_conf_properties_ee_3.9.json").read_text())
LISTEN_DEFAULTS = {key: ", ".join(value) if isinstance(value, list) else value
                   for key, value in _EE_PROPERTIES.items() if key.endswith("_listen")}
#: Listeners a role opens (Kong/kong kong/templates/nginx_kong.lua: the proxy server only for roles
#: traditional and data_plane; kong.conf.default "HYBRID MODE CONTROL PLANE": cluster_listen, and
#: the Enterprise cluster_telemetry_listen, on the control plane only).
ROLE_LISTENERS = {"proxy_listen": {"traditional", "data_plane"}, "stream_listen": {"traditional", "data_plane"},
                  "cluster_listen": {"control_plane"}, "cluster_telemetry_listen": {"control_plane"}}
LOOPBACK = re.compile(r"^(127\.[0-9.]+|\[::1\]|localhost)$")


@dataclass(frozen=True)
class Listener:
    setting: str
    port: int
    ssl: bool
    default: bool
    """not set: Kong's default"""


def listeners(container: dict) -> list[Listener]:
    """Where a Kong container accepts connections from other pods: each ``*_listen`` setting (its
    ``KONG_*_LISTEN`` env, else Kong's default) of its role, without loopback addresses."""
    role = env_value(container, "KONG_ROLE") or "traditional"
    found = []
    for setting, default in LISTEN_DEFAULTS.items():
        if role not in ROLE_LISTENERS.get(setting, {role}):
            continue
        value = env_value(container, f"KONG_{setting.upper()}")
        for entry in (default if value is None else value).split(","):
            words = entry.split()
            if not words or words[0] == "off":
                continue
            host, _, port = words[0].rpartition(":")
            if not LOOPBACK.match(host):
                found.append(Listener(setting, int(port), "ssl" in words[1:], value is None))
    return found


def container_port(container: dict, port: Any) -> Optional[int]:
    """The number ``port`` (a name or a number) stands for among ``container``'s declared ports."""
    for declared in container.get("ports") or []:
        if (isinstance(port, str) and declared.get("name") == port) or declared.get("containerPort") == port:
            return int(declared["containerPort"])
    return None


def selects(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def services(w: World) -> list[Obj]:
    return [o for o in w.objects if o.manifest.get("kind") == "Service"]


def declared_data(w: World, kind: str) -> dict[tuple[str, str], dict[str, str]]:
    """(namespace, name) -> {key: text} of every Secret or ConfigMap ``kind`` on the cluster (the
    program's and the charts'), plus what Kubernetes puts in each namespace itself
    (``kube-root-ca.crt``)."""
    found: dict[tuple[str, str], dict[str, str]] = {}
    for obj in w.objects:
        m = obj.manifest
        if m.get("kind") != kind:
            continue
        data = {k: base64.b64decode(v).decode(errors="replace") for k, v in (m.get("data") or {}).items()} \
            if kind == "Secret" else dict(m.get("data") or {})
        data.update(m.get("stringData") or {})
        if m.get("type") == "kubernetes.io/service-account-token":
            data.update(dict.fromkeys(("token", "ca.crt", "namespace"), ""))
        found[(obj.namespace, m["metadata"]["name"])] = data
    if kind == "ConfigMap":
        for namespace in {o.namespace for o in w.objects}:
            found.setdefault((namespace, "kube-root-ca.crt"), {"ca.crt": ""})
    return found


#: Kong settings whose value names files (kong.conf.default: cluster_cert, cluster_cert_key,
#: cluster_ca_cert, ssl_cert, ssl_cert_key, admin_ssl_cert ..., lua_ssl_trusted_certificate,
#: declarative_config; Enterprise license_path). Each takes a comma-separated list; an entry may
#: also be PEM text or, for lua_ssl_trusted_certificate, ``system``.
PATH_SETTING = re.compile(r"^KONG_(\w+_CERT|\w+_CERT_KEY|\w+_CA_CERT|LUA_SSL_TRUSTED_CERTIFICATE|"
                          r"DECLARATIVE_CONFIG|LICENSE_PATH)$")
#: Where the chart mounts ``secretVolumes`` (templates/_helpers.tpl ``kong.volumeMounts``).
SECRET_MOUNTS = "/etc/secrets/"


def file_settings(container: dict) -> list[tuple[str, str]]:
    """(setting, path) for each file a Kong container's settings name."""
    found = []
    for name, entry in env(container).items():
        value = entry.get("value")
        if not isinstance(value, str) or not (PATH_SETTING.match(name) or value.startswith(SECRET_MOUNTS)):
            continue
        found += [(name, part.strip()) for part in value.split(",") if part.strip().startswith("/")]
    return found


def resolve_file(w: World, pod: Pod, container: dict, path: str) -> tuple[Optional[str], Optional[str]]:
    """What file ``path`` is in ``container``: (its text, None), or (None, why it is missing). A
    file comes from a volumeMount of the container whose volume is a Secret, ConfigMap or a
    projection of them that has the key."""
    mounts = [m for m in container.get("volumeMounts") or []
              if path == m["mountPath"] or path.startswith(m["mountPath"].rstrip("/") + "/")]
    if not mounts:
        return None, f"{path} is under no volumeMount of the container"
    mount = max(mounts, key=lambda m: len(m["mountPath"]))
    volume = next((v for v in pod.spec.get("volumes") or [] if v["name"] == mount["name"]), None)
    if volume is None:
        return None, f"{path}: volumeMount {mount['name']} has no volume in the pod"
    relative = mount.get("subPath") or path[len(mount["mountPath"].rstrip("/")) + 1:]
    sources = []
    if "secret" in volume:
        sources = [("Secret", volume["secret"].get("secretName"), volume["secret"].get("items"))]
    elif "configMap" in volume:
        sources = [("ConfigMap", volume["configMap"].get("name"), volume["configMap"].get("items"))]
    elif "projected" in volume:
        sources = [(kind, s[key].get("name"), s[key].get("items")) for s in volume["projected"].get("sources") or []
                   for kind, key in (("Secret", "secret"), ("ConfigMap", "configMap")) if key in s]
    else:
        return None, f"{path}: volume {volume['name']} is {sorted(set(volume) - {'name'})}, holds no such file"
    for kind, name, items in sources:
        key = next((i["key"] for i in items if i["path"] == relative), None) if items else relative
        data = declared_data(w, kind).get((pod.owner.namespace, name))
        if key is not None and data is not None and key in data:
            return data[key], None
    return None, f"{path}: no {' or '.join(f'{k} {n}' for k, n, _ in sources)} in {pod.owner.namespace} has key {relative}"


# ---------------------------------------------------------------------------------------------
# The checks: each returns its problems, empty when the world is as a working hybrid needs

def validation_problems(w: World) -> list[str]:
    """Manifests that do not validate strictly against the cluster's Kubernetes version."""
    problems = []
    for source, manifest in w.rendered:
        problem = chart_render.validation_problem(manifest, w.kubernetes_version)
        if problem:
            problems.append(f"{source} {name_of(manifest)}: {problem}")
    return problems


def reference_problems(w: World) -> list[str]:
    """Secrets and ConfigMaps (and their keys) that pods or the enterprise license reference but
    nobody declares."""
    declared = {"Secret": declared_data(w, "Secret"), "ConfigMap": declared_data(w, "ConfigMap")}
    problems = []

    def need(kind: str, namespace: str, name: str, key: Optional[str], where: str) -> None:
        data = declared[kind].get((namespace, name))
        if data is None:
            problems.append(f"{where}: {kind} {namespace}/{name} is not declared")
        elif key is not None and key not in data:
            problems.append(f"{where}: {kind} {namespace}/{name} has no key {key!r} (has {sorted(data)})")

    for pod in pods(w):
        ns = pod.owner.namespace
        where = f"{pod.owner.origin} {name_of(pod.owner.manifest)}"
        for secret in pod.spec.get("imagePullSecrets") or []:
            need("Secret", ns, secret["name"], None, where)
        for container in pod.containers():
            at = pod.where(container)
            for entry in container.get("env") or []:
                source = entry.get("valueFrom") or {}
                for kind, key in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                    if key in source:
                        need(kind, ns, source[key]["name"], source[key]["key"], f"{at} env {entry['name']}")
            for entry in container.get("envFrom") or []:
                for kind, key in (("Secret", "secretRef"), ("ConfigMap", "configMapRef")):
                    if key in entry:
                        need(kind, ns, entry[key]["name"], None, f"{at} envFrom")
        for volume in pod.spec.get("volumes") or []:
            refs = []
            if "secret" in volume:
                refs.append(("Secret", volume["secret"]["secretName"], volume["secret"].get("items")))
            if "configMap" in volume:
                refs.append(("ConfigMap", volume["configMap"]["name"], volume["configMap"].get("items")))
            for source in (volume.get("projected") or {}).get("sources") or []:
                for kind, key in (("Secret", "secret"), ("ConfigMap", "configMap")):
                    if key in source:
                        refs.append((kind, source[key]["name"], source[key].get("items")))
            for kind, name, items in refs:
                for key in [i["key"] for i in items or []] or [None]:
                    need(kind, ns, name, key, f"{where} volume {volume['name']}")
    for release, values in w.values.items():
        license_secret = (values.get("enterprise") or {}).get("license_secret")
        if license_secret:
            namespace = next(o.namespace for o in w.objects if o.origin == release)
            need("Secret", namespace, license_secret, "license", f"{release} enterprise.license_secret")
    return problems


def file_problems(w: World) -> list[str]:
    """Files that Kong containers' settings name but that no mounted Secret or ConfigMap holds."""
    problems = []
    for pod in pods(w):
        if pod.owner.origin == "program":
            continue
        for container in pod.containers():
            for setting, path in file_settings(container):
                _, problem = resolve_file(w, pod, container, path)
                if problem:
                    problems.append(f"{pod.where(container)} {setting}: {problem}")
    return problems


def _release_pod(w: World, release: str) -> Pod:
    (pod,) = [p for p in pods(w, release) if p.owner.manifest["kind"] == "Deployment"]
    return pod


def _service_port_problems(w: World, service: Obj, port: dict) -> list[str]:
    """Why ``port`` of ``service`` reaches no listener: no pod selected, a targetPort that is no
    declared container port of a selected pod, or a Kong container that does not listen there."""
    spec = service.manifest.get("spec") or {}
    where = f"{service.origin} {name_of(service.manifest)} port {port.get('name') or port['port']}"
    selected = [p for p in pods(w) if p.owner.namespace == service.namespace
                and selects(spec.get("selector") or {}, p.labels)]
    if not selected:
        return [f"{where}: selects no pod (selector {spec.get('selector')})"]
    target = port.get("targetPort", port["port"])
    problems = []
    for pod in selected:
        resolved = [(c, container_port(c, target)) for c in pod.spec.get("containers") or []]
        resolved = [(c, n) for c, n in resolved if n is not None]
        if not resolved:
            # Say whether Kong listens there all the same (a setting's default) or nothing does.
            heard = [f"{l.setting}{' (its default)' if l.default else ''}" for c in pod.spec.get("containers") or []
                     if is_kong(c) for l in listeners(c) if l.port == target]
            # A number reaches a port the container listens on whether or not it declares it
            # (Kubernetes API reference, Container ``ports``: "Not specifying a port here DOES NOT
            # prevent that port from being exposed"): the metrics listener, which the chart cannot
            # declare (its status block renders one port).
            if heard and isinstance(target, int) and service.origin == "program":
                continue
            problems.append(f"{where}: targetPort {target} is no container port of {pod.owner.origin} "
                            f"{name_of(pod.owner.manifest)}"
                            + (f"; Kong listens there by {', '.join(dict.fromkeys(heard))}" if heard else ""))
        for container, number in resolved:
            if is_kong(container) and number not in {l.port for l in listeners(container)}:
                problems.append(f"{where}: {pod.where(container)} declares port {number} but Kong listens on "
                                f"{sorted({l.port for l in listeners(container)})}")
    return problems


def endpoint_problems(w: World) -> list[str]:
    """The data plane's control plane and telemetry endpoints: Services of the control plane
    release, at that namespace and port, selecting its pods, reaching a port it listens on; with
    pki, names its certificate covers."""
    dp = kong_container(_release_pod(w, w.data_plane))
    cp_pod = _release_pod(w, w.control_plane)
    cp = kong_container(cp_pod)
    problems, hosts = [], []
    # Telemetry is an Enterprise listener: the chart sets cluster_telemetry_listen (and declares the
    # port) only with enterprise.enabled, and then the data plane must dial it; without, it must not.
    telemetry = bool(env_value(cp, "KONG_CLUSTER_TELEMETRY_LISTEN"))
    for setting in ("KONG_CLUSTER_CONTROL_PLANE", "KONG_CLUSTER_TELEMETRY_ENDPOINT"):
        value = env_value(dp, setting)
        wanted = setting == "KONG_CLUSTER_CONTROL_PLANE" or telemetry
        if not value:
            if wanted:
                problems.append(f"data plane: {setting} not set")
            continue
        if not wanted:
            problems.append(f"data plane: {setting} {value}, but the control plane has no telemetry listener")
            continue
        host, _, port = value.rpartition(":")
        hosts.append(host)
        match = re.fullmatch(r"([a-z0-9-]+)\.([a-z0-9-]+)\.svc(\.cluster\.local)?", host)
        if not match or not port.isdigit():
            problems.append(f"data plane: {setting} {value} is not <service>.<namespace>.svc[.cluster.local]:<port>")
            continue
        name, namespace = match.group(1), match.group(2)
        found = [s for s in services(w) if s.origin == w.control_plane and s.namespace == namespace
                 and s.manifest["metadata"]["name"] == name]
        if not found:
            problems.append(f"data plane: {setting} {value}: the control plane release renders no Service "
                            f"{namespace}/{name}")
            continue
        ports = [p for p in found[0].manifest["spec"].get("ports") or [] if p["port"] == int(port)]
        if not ports:
            problems.append(f"data plane: {setting} {value}: Service {name} has no port {port}")
            continue
        if not selects(found[0].manifest["spec"].get("selector") or {}, cp_pod.labels):
            problems.append(f"data plane: {setting} {value}: Service {name} does not select the control plane pods")
        problems += [f"data plane: {setting} {value}: {p}" for p in _service_port_problems(w, found[0], ports[0])]
    if env_value(cp, "KONG_CLUSTER_MTLS") == "pki":
        cert_path = env_value(cp, "KONG_CLUSTER_CERT") or ""
        pem, problem = resolve_file(w, cp_pod, cp, cert_path)
        if problem or not pem:
            return problems + [f"control plane certificate: {problem}"]
        cert = x509.load_pem_x509_certificate(pem.encode())
        try:
            names = set(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                        .get_values_for_type(x509.DNSName))
        except x509.ExtensionNotFound:
            names = set()
        wanted = hosts + [v for v in (env_value(dp, "KONG_CLUSTER_SERVER_NAME"),
                                      env_value(dp, "KONG_CLUSTER_TELEMETRY_SERVER_NAME")) if v]
        problems += [f"control plane certificate ({cert_path}) does not cover {name} (has {sorted(names)})"
                     for name in dict.fromkeys(wanted) if name not in names]
    return problems


def service_problems(w: World) -> list[str]:
    """Service ports that reach nothing that listens."""
    problems = []
    for service in services(w):
        spec = service.manifest.get("spec") or {}
        if spec.get("type") == "ExternalName":
            continue
        for port in spec.get("ports") or []:
            problems += _service_port_problems(w, service, port)
    return problems


def exposure_problems(w: World) -> list[str]:
    """Anything reachable from outside the cluster except the data plane proxy."""
    proxy = f"{w.data_plane}-kong-proxy"
    problems, exposed = [], []
    for obj in w.objects:
        m, spec = obj.manifest, obj.manifest.get("spec") or {}
        if m.get("kind") == "Ingress":
            problems.append(f"{obj.origin} {name_of(m)}: an Ingress")
        if m.get("kind") == "Service" and (spec.get("type") in ("LoadBalancer", "NodePort") or spec.get("externalIPs")):
            exposed.append((obj.origin, m["metadata"]["name"]))
    problems += [f"{origin} Service/{name} is reachable from outside the cluster"
                 for origin, name in exposed if (origin, name) != (w.data_plane, proxy)]
    if (w.data_plane, proxy) not in exposed:
        problems.append(f"{w.data_plane} Service/{proxy} is not a LoadBalancer")
    for pod in pods(w):
        if pod.spec.get("hostNetwork"):
            problems.append(f"{pod.owner.origin} {name_of(pod.owner.manifest)}: hostNetwork")
        for container in pod.containers():
            problems += [f"{pod.where(container)}: hostPort {p['hostPort']}" for p in container.get("ports") or []
                         if p.get("hostPort")]
    return problems


def probe_problems(w: World) -> list[str]:
    """Probes aimed at a port the container does not listen on (or with the wrong scheme)."""
    problems = []
    for pod in pods(w):
        for container in pod.containers():
            for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
                probe = container.get(kind) or {}
                action = next((probe[a] for a in ("httpGet", "tcpSocket", "grpc") if a in probe), None)
                if action is None:
                    continue
                where = f"{pod.where(container)} {kind}"
                number = action["port"] if isinstance(action["port"], int) else container_port(container, action["port"])
                if number is None:
                    problems.append(f"{where}: port {action['port']} is not a port of the container")
                    continue
                if is_kong(container):
                    listening = [l for l in listeners(container) if l.port == number]
                    if not listening:
                        problems.append(f"{where}: Kong does not listen on {number}")
                    elif "httpGet" in probe and (probe["httpGet"].get("scheme", "HTTP") == "HTTPS") != listening[0].ssl:
                        problems.append(f"{where}: scheme {probe['httpGet'].get('scheme', 'HTTP')} on "
                                        f"{listening[0].setting} port {number}")
                elif container_port(container, number) is None:
                    problems.append(f"{where}: port {number} is not a declared port of the container")
    return problems


#: The migrations each action runs (templates/migrations*.yaml): ``kong migrations bootstrap`` on an
#: install; ``up`` before and ``finish`` after an upgrade (values.yaml migrations.preUpgrade/postUpgrade).
MIGRATIONS = {True: {"bootstrap"}, False: {"up", "finish"}}


def _database_settings(container: dict) -> dict[str, dict]:
    settings = {k: v for k, v in env(container).items() if k == "KONG_DATABASE" or k.startswith("KONG_PG_")}
    if (settings.get("KONG_PG_SSL_VERIFY") or {}).get("value") == "on":
        # Kong verifies PostgreSQL's certificate against lua_ssl_trusted_certificate.
        settings["KONG_LUA_SSL_TRUSTED_CERTIFICATE"] = env(container).get("KONG_LUA_SSL_TRUSTED_CERTIFICATE", {})
    return settings


def migration_problems(w: World) -> list[str]:
    """Migration Jobs missing, or connecting to the database otherwise than the control plane."""
    problems = []
    for release in (w.control_plane, w.data_plane):
        pod = _release_pod(w, release)
        node = kong_container(pod)
        wanted = _database_settings(node)
        jobs = [(p, c) for p in pods(w, release) if p.owner.manifest["kind"] == "Job"
                for c in p.spec.get("containers") or [] if "migrations" in (c.get("args") or [])]
        if (wanted.get("KONG_DATABASE") or {}).get("value", "off") == "off":
            problems += [f"{p.where(c)}: migrations for a release without a database" for p, c in jobs]
            continue
        ran = {c["args"][c["args"].index("migrations") + 1] for _, c in jobs}
        if ran != MIGRATIONS[w.install]:
            problems.append(f"{release} {'install' if w.install else 'upgrade'}: migrations {sorted(ran)}, "
                            f"expected {sorted(MIGRATIONS[w.install])}")
        for job, container in jobs:
            got = _database_settings(container)
            for name in sorted(set(wanted) | set(got)):
                if wanted.get(name) != got.get(name):
                    problems.append(f"{job.where(container)} {name}: {got.get(name)}, the control plane has "
                                    f"{wanted.get(name)}")
            for setting, path in file_settings(container):
                if setting in wanted:
                    _, problem = resolve_file(w, job, container, path)
                    if problem:
                        problems.append(f"{job.where(container)} {setting}: {problem}")
    return problems


def _scaled(value: Any, total: int) -> int:
    # Kubernetes rounds a PodDisruptionBudget percentage up (intstr.GetScaledValueFromIntOrPercent).
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(total * int(value[:-1]) / 100)
    return int(value)


def scaling_problems(w: World) -> list[str]:
    """Replicas, HorizontalPodAutoscalers and PodDisruptionBudgets that disagree with the config,
    or a budget that blocks every eviction or allows evicting the last pod."""
    problems = []
    wanted = {w.control_plane: (w.replicas["control_plane_replicas"],) * 2,
              w.data_plane: (w.replicas["data_plane_min_replicas"], w.replicas["data_plane_max_replicas"])}
    for release, (low, high) in wanted.items():
        objs = [o.manifest for o in w.objects if o.origin == release]
        (deployment,) = [m for m in objs if m["kind"] == "Deployment"]
        hpas = [m for m in objs if m["kind"] == "HorizontalPodAutoscaler"]
        pdbs = [m for m in objs if m["kind"] == "PodDisruptionBudget"]
        if low == high:
            if hpas:
                problems.append(f"{release}: a HorizontalPodAutoscaler for a fixed {low} replicas")
            if deployment["spec"].get("replicas", 1) != low:
                problems.append(f"{release}: Deployment replicas {deployment['spec'].get('replicas', 1)}, config {low}")
        elif len(hpas) != 1:
            problems.append(f"{release}: {len(hpas)} HorizontalPodAutoscalers for {low}-{high} replicas")
        for hpa in hpas:
            spec = hpa["spec"]
            if (spec.get("minReplicas", 1), spec["maxReplicas"]) != (low, high):
                problems.append(f"{release}: HPA {spec.get('minReplicas', 1)}-{spec['maxReplicas']}, config {low}-{high}")
            if spec["scaleTargetRef"].get("name") != deployment["metadata"]["name"]:
                problems.append(f"{release}: HPA scales {spec['scaleTargetRef']}")
        pods_kept = min(low, hpas[0]["spec"].get("minReplicas", 1)) if hpas else deployment["spec"].get("replicas", 1)
        if pods_kept <= 1 and pdbs:
            problems.append(f"{release}: a PodDisruptionBudget with {pods_kept} pod (no disruption can keep one up)")
        for pdb in pdbs if pods_kept > 1 else []:
            spec = pdb["spec"]
            allowed = _scaled(spec["maxUnavailable"], pods_kept) if "maxUnavailable" in spec \
                else pods_kept - _scaled(spec.get("minAvailable", 0), pods_kept)
            if not 1 <= allowed <= pods_kept - 1:
                budget = {k: spec[k] for k in ("maxUnavailable", "minAvailable") if k in spec}
                problems.append(f"{release}: PodDisruptionBudget {budget} allows {allowed} of {pods_kept} pods out")
            if not selects(spec["selector"].get("matchLabels") or {}, _release_pod(w, release).labels):
                problems.append(f"{release}: PodDisruptionBudget selects no pod of the release")
    return problems


def crd_problems(w: World) -> list[str]:
    """CustomResourceDefinitions the releases install (the chart's crds/ are the ingress
    controller's, which both releases turn off)."""
    return [f"{o.origin} installs {name_of(o.manifest)}" for o in w.objects
            if o.manifest.get("kind") == "CustomResourceDefinition"]


# ---------------------------------------------------------------------------------------------
# The tests: one property each, every variant, install and upgrade

def _check(variant: str, run_stack, check: Callable[[World], list[str]]) -> None:
    """Fail with the problems ``check`` finds in the install and the upgrade of ``variant`` (or
    with Helm's message when a release does not render); the list is the report, no traceback."""
    problems = []
    try:
        for w in both(variant, run_stack):
            problems += [f"{'install' if w.install else 'upgrade'}: {p}" for p in check(w)]
    except chart_render.ChartRenderError as error:
        problems.append(f"the chart does not render {error}")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


#: What a working hybrid needs, one property per check (each check's docstring says what it reads):
#: 1. both releases render as install and upgrade and every manifest, the chart's and the program's
#: own, validates strictly for the cluster's Kubernetes version; 2. the Secrets, ConfigMaps and keys
#: pods and the license reference exist; 3. the files Kong settings name are mounted; 4. the data
#: plane dials Services of the control plane release that reach it, by names its certificate
#: covers; 5. no Service exposes a port nothing listens on; 6. only the data plane proxy is reachable
#: from outside; 7. probes hit listeners, with their scheme; 8. migration Jobs run with the control
#: plane's database settings; 9. PodDisruptionBudget, HorizontalPodAutoscaler and replicas agree with
#: the config; 10. no release installs the chart's CRDs.
CHECKS = [validation_problems, reference_problems, file_problems, endpoint_problems, service_problems,
          exposure_problems, probe_problems, migration_problems, scaling_problems, crd_problems]


@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__.removesuffix("_problems") for c in CHECKS])
def test_a_working_hybrid(variant, run_stack, check):
    _check(variant, run_stack, check)


# ---------------------------------------------------------------------------------------------
# Each check can fail: a render broken in the way it looks for

def _find(w: World, kind: str, name: str) -> dict:
    return next(o.manifest for o in w.objects if o.manifest.get("kind") == kind and o.manifest["metadata"]["name"] == name)


def _kong(w: World, release: str) -> dict:
    return kong_container(_release_pod(w, release))


def _set_env(container: dict, name: str, value: str) -> None:
    next(e for e in container["env"] if e["name"] == name)["value"] = value


def _break_validation(w: World) -> None:
    next(m for _, m in w.rendered if m["kind"] == "Deployment")["spec"]["replica"] = 2  # a typo


def _break_reference(w: World) -> None:
    _kong(w, w.control_plane)["env"].append(
        {"name": "KONG_PG_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "kong-postgres", "key": "passwd"}}})


def _break_file(w: World) -> None:
    _set_env(_kong(w, w.data_plane), "KONG_CLUSTER_CA_CERT", "/etc/secrets/kong-cluster-ca/tls.crt")


def _break_endpoint(w: World) -> None:
    _find(w, "Service", f"{w.control_plane}-kong-cluster")["spec"]["ports"][0]["port"] = 8015


def _break_service(w: World) -> None:
    _set_env(_kong(w, w.control_plane), "KONG_ADMIN_LISTEN", "127.0.0.1:8444 http2 ssl")


def _break_exposure(w: World) -> None:
    _find(w, "Service", f"{w.control_plane}-kong-admin")["spec"]["type"] = "NodePort"


def _break_probe(w: World) -> None:
    _kong(w, w.data_plane)["readinessProbe"]["httpGet"]["port"] = "proxy-tls"  # HTTP on the TLS proxy port


def _break_migration(w: World) -> None:
    job = next(p for p in pods(w, w.control_plane) if p.owner.manifest["kind"] == "Job")
    _set_env(kong_container(job), "KONG_PG_HOST", "elsewhere.kong.svc")


def _break_scaling(w: World) -> None:
    _find(w, "HorizontalPodAutoscaler", f"{w.data_plane}-kong")["spec"]["maxReplicas"] = 5


def _break_crds(w: World) -> None:
    w.objects.append(Obj(w.data_plane, "kong", {"apiVersion": "apiextensions.k8s.io/v1",
                                                "kind": "CustomResourceDefinition", "metadata": {"name": "x"}}))


BREAKS = [(validation_problems, _break_validation, "'replica' was unexpected"),
          (reference_problems, _break_reference, "has no key 'passwd'"),
          (file_problems, _break_file, "has key tls.crt"),
          (endpoint_problems, _break_endpoint, "has no port 8005"),
          (service_problems, _break_service, "declares port 8444 but Kong listens"),
          (exposure_problems, _break_exposure, "kong-cp-kong-admin is reachable"),
          (probe_problems, _break_probe, "scheme HTTP on proxy_listen port 8443"),
          (migration_problems, _break_migration, "KONG_PG_HOST"),
          (scaling_problems, _break_scaling, "config 2-6"),
          (crd_problems, _break_crds, "CustomResourceDefinition/x")]


@pytest.mark.parametrize("check,breaks,message", BREAKS, ids=[c.__name__ for c, _, _ in BREAKS])
def test_each_check_can_fail(run_stack, check, breaks, message):
    # The enterprise variant's upgrade: every check passes on it before the break (asserted; in
    # free mode the control plane's manager and telemetry ports are not declared) and fails after.
    good = world("enterprise-license-rds", False, run_stack)
    broken = copy.deepcopy(good)
    breaks(broken)
    assert check(good) == []
    assert any(message in problem for problem in check(broken)), check(broken)


def _dev_eks_values(release: str) -> dict:
    return chart_render.release_inputs(example_run("dev-eks"))[release]["values"]


def test_a_release_the_chart_refuses_is_reported():
    # The chart's pdb.yaml fails a budget for one replica without autoscaling.
    values = copy.deepcopy(_dev_eks_values("kong-dp"))
    values.update(replicaCount=1, autoscaling={"enabled": False}, podDisruptionBudget={"enabled": True,
                                                                                       "maxUnavailable": 1})
    with pytest.raises(chart_render.ChartRenderError, match=r"pdb\.yaml.*replicaCount: 1"):
        chart_render.render_values(json.dumps(values), "kong-dp", "kong", "1.33", True, True)


def test_helm_installs_the_charts_crds_on_an_install_unless_skipped():
    values = json.dumps(_dev_eks_values("kong-cp"))

    def crds(install: bool, skip: bool) -> list[str]:
        done = chart_render.render_values(values, "kong-cp", "kong", "1.33", install, skip)
        return [m["metadata"]["name"] for m in done.applied() if m["kind"] == "CustomResourceDefinition"]

    # crds/custom-resource-definitions.yaml: the ingress controller's 12 CRDs (KongPlugin ...); the
    # template custom-resource-definitions.yaml adds none (installCRDs unset, nothing to look up).
    installed = crds(True, False)
    assert len(installed) == 12 and all(n.endswith(".configuration.konghq.com") for n in installed)
    assert "kongplugins.configuration.konghq.com" in installed
    assert crds(True, True) == crds(False, False) == []
