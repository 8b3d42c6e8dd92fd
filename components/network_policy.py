"""Kubernetes NetworkPolicies for Kong's namespace in mode hybrid-eks, as plain manifests.

Pure functions: nothing here declares a resource. :func:`kong_network_policies` returns
``networking.k8s.io/v1`` NetworkPolicy manifests (dicts) that a component turns into
``pulumi_kubernetes`` resources. Without them every pod in the cluster reaches the control
plane's Admin API (8444) unauthenticated.

What the policies select, from the Kong chart 3.4.1 as this project renders it
(../shared/reference/kong-chart-3.4.1, _helpers.tpl ``kong.selectorLabels`` and ``kong.metaLabels``,
checked by tests/test_network_policy.py against the rendered templates):

- a release's Deployment pods carry ``app.kubernetes.io/name: kong``,
  ``app.kubernetes.io/instance: <release>`` and ``app.kubernetes.io/component: app`` (the
  Deployment's own selector, so they never change on upgrade);
- the control plane release's migration Jobs (``<fullname>-init-migrations``,
  ``-pre-upgrade-migrations``, ``-post-upgrade-migrations``) carry the same name and instance labels
  with ``app.kubernetes.io/component: <job>-migrations``, so name + instance selects the release's
  pods and Jobs alike.

Ports are numbers from :mod:`components.kong_facts`, not the chart's port names: the chart declares
the ``manager``, ``manager-tls`` and ``clustert-tls`` container ports only when ``enterprise.enabled``
(templates/deployment.yaml), while Kong's own defaults listen there anyway (kong.conf.default
``admin_gui_listen`` 0.0.0.0:8002/8445; the Enterprise references' ``cluster_telemetry_listen``
0.0.0.0:8006), and a named port matches only a pod that declares it. Kong Manager's ports are the chart's ``manager`` block defaults
(values.yaml ``manager.http.containerPort`` 8002, ``manager.tls.containerPort`` 8445). The data
planes' metrics listener (:data:`components.kong_facts.METRICS_PORT`) is declared by no container
port at all (it comes from ``env:``, :data:`components.kong_settings.STATUS_LISTEN`); a number
matches it all the same (NetworkPolicyPort ``port``: a numerical or named port on a pod).

Kubelet probes. Both releases probe the status listener (``status`` port,
:data:`components.kong_facts.STATUS_PORT`), and no policy here admits anything to it, because the
probes come from the pod's own node, which NetworkPolicy always lets in:

- Kubernetes API reference, NetworkPolicySpec ``ingress`` (networking.k8s.io/v1, as in 1.33):
  traffic is allowed "if the traffic source is the pod's local node"; Kubernetes docs, "Network
  Policies" (kubernetes.io/docs/concepts/services-networking/network-policies/), section "What you
  can't do with network policies (at least, not yet)": pods cannot "block access from their
  resident node".
- The Amazon VPC CNI network policy agent, which enforces policies on EKS nodes (EKS Auto Mode
  turns it on through the ``amazon-vpc-cni`` ConfigMap and a NodeClass with ``networkPolicy``,
  docs.aws.amazon.com/eks/latest/userguide/auto-net-pol.html): it puts the node's own address in
  every enforced pod's ingress map as allow-all (github.com/aws/aws-network-policy-agent,
  pkg/fwruleprocessor/fw_rule_processor.go ``ComputeMapEntriesFromEndpointRules``: "Traffic from
  the local node should always be allowed"); probes blocked in the agent's first release were
  fixed that way (aws/aws-network-policy-agent issue 56 and pull request 65,
  aws/amazon-vpc-cni-k8s issue 2571), and the same allowance was added for ClusterNetworkPolicy in
  strict mode (aws/aws-network-policy-agent issue 635, pull request 636).

A rule could not do better: a static policy cannot name each node's address, and an ``ipBlock`` of
the VPC would admit every pod too (VPC CNI pods have VPC addresses).

Port-forward. ``kubectl port-forward`` to the Admin API keeps working: the kubelet asks the
container runtime, which enters the pod's network namespace and dials ``localhost:<port>``
(containerd, internal/cri/server/sandbox_portforward_linux.go ``portForward``; kubernetes/kubernetes
issue 72488, "the actual communication with the container is done by the kubelet via the container
runtime interface", and issue 72597, "the remote IP is always set to 127.0.0.1"). That connection
stays on the pod's loopback, which NetworkPolicy cannot block (Kubernetes docs, same section:
"Pods cannot currently block localhost access") and which never crosses the pod's host-side veth
where the VPC CNI agent's eBPF programs sit (aws/aws-network-policy-agent README). The chart's
Admin API listens on all addresses (``KONG_ADMIN_LISTEN 0.0.0.0:8444``), loopback included. (Where
localhost refuses, containerd's current source dials the pod's address from the node's namespace
instead: node traffic, admitted as above.)

Egress is not restricted: data planes reach arbitrary upstreams, the control plane reaches its
database (in the cluster or RDS), and every pod resolves names through the cluster DNS. Policies
are ``policyTypes: [Ingress]`` only.
"""

import re
from collections.abc import Mapping

from components.kong_facts import (ADMIN_HTTPS_PORT, CHART, CLUSTER_PORT, MANAGER_HTTP_PORT, MANAGER_HTTPS_PORT,
                                   METRICS_PORT,
                                   PROXY_HTTP_PORT, PROXY_HTTPS_PORT, TELEMETRY_PORT)
from components.postgres import PORT as POSTGRES_PORT
from components.postgres import SERVICE_NAME as POSTGRES_NAME

API_VERSION = "networking.k8s.io/v1"
KIND = "NetworkPolicy"

#: The chart's pod labels (_helpers.tpl ``kong.selectorLabels``; ``kong.name`` is the chart name
#: when ``nameOverride`` is unset).
NAME_LABEL = "app.kubernetes.io/name"
INSTANCE_LABEL = "app.kubernetes.io/instance"
COMPONENT_LABEL = "app.kubernetes.io/component"
#: ``app.kubernetes.io/component`` of a release's Deployment pods.
APP_COMPONENT = "app"

#: What the control plane serves to data planes (``cluster_listen``, ``cluster_telemetry_listen``).
CLUSTER_PORTS = (CLUSTER_PORT, TELEMETRY_PORT)
#: The Admin API (TLS only, as :func:`components.kong_hybrid.control_plane_values` enables it) and
#: Kong Manager (the chart's ``manager`` block, HTTP and TLS).
ADMIN_PORTS = (ADMIN_HTTPS_PORT, MANAGER_HTTP_PORT, MANAGER_HTTPS_PORT)
#: The data planes' proxy listeners.
PROXY_PORTS = (PROXY_HTTP_PORT, PROXY_HTTPS_PORT)

#: The name of the policy that isolates every pod of the namespace for ingress.
DEFAULT_DENY_NAME = "default-deny-ingress"
#: Labels on every policy (as components/postgres.py labels its objects).
POLICY_LABELS = {"app.kubernetes.io/part-of": "kong", "app.kubernetes.io/managed-by": "pulumi"}

# RFC 1123 label: what Kubernetes requires of a namespace name; policy names are held to it too.
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_LABEL_MAX = 63


def release_pod_labels(release: str) -> dict[str, str]:
    """The labels every pod of Helm release ``release`` of the Kong chart carries, its Deployment's
    and its migration Jobs' alike: ``{app.kubernetes.io/name: kong, app.kubernetes.io/instance:
    <release>}`` (_helpers.tpl ``kong.metaLabels``)."""
    return {NAME_LABEL: CHART, INSTANCE_LABEL: release}


def release_deployment_labels(release: str) -> dict[str, str]:
    """The selector of release ``release``'s Kong Deployment: :func:`release_pod_labels` plus
    ``app.kubernetes.io/component: app`` (_helpers.tpl ``kong.selectorLabels``)."""
    return {**release_pod_labels(release), COMPONENT_LABEL: APP_COMPONENT}


def _tcp(ports: tuple[int, ...]) -> list[dict]:
    return [{"protocol": "TCP", "port": port} for port in ports]


def _pods(labels: Mapping[str, str]) -> dict:
    # A peer with a podSelector alone: pods of the policy's own namespace.
    return {"podSelector": {"matchLabels": dict(labels)}}


def _policy(name: str, namespace: str, pod_labels: Mapping[str, str], ingress: list[dict]) -> dict:
    spec: dict = {"podSelector": {"matchLabels": dict(pod_labels)} if pod_labels else {},
                  "policyTypes": ["Ingress"]}
    if ingress:
        spec["ingress"] = ingress
    return {"apiVersion": API_VERSION, "kind": KIND,
            "metadata": {"name": name, "namespace": namespace, "labels": dict(POLICY_LABELS)},
            "spec": spec}


def _is_dns_label(text: str) -> bool:
    return len(text) <= _DNS_LABEL_MAX and _DNS_LABEL.fullmatch(text) is not None


def kong_network_policies(namespace: str, control_plane_release: str, data_plane_release: str, *,
                          postgres_pod_labels: Mapping[str, str] | None,
                          admin_client_labels: Mapping[str, str],
                          metrics_agent_labels: Mapping[str, str]) -> list[dict]:
    """The NetworkPolicies of Kong's namespace ``namespace``, as manifests.

    ``control_plane_release`` and ``data_plane_release``: the Helm release names of the two
    installs of the Kong chart in ``namespace``. ``postgres_pod_labels``: the pod labels (or the
    selector) of the in-cluster PostgreSQL StatefulSet (:class:`components.postgres.Postgres`, mode
    ``in-cluster``), or None when the database is elsewhere (RDS). ``admin_client_labels``: labels
    of the pods in ``namespace`` allowed to call the Admin API besides the control plane's own.
    ``metrics_agent_labels``: labels of the metrics agent's pods in ``namespace``
    (:data:`components.metrics_agent.AGENT_POD_LABELS`), the only pods allowed to the data planes'
    metrics listener.

    Returns a list of dicts ``{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
    "metadata": {"name", "namespace", "labels"}, "spec": {...}}``, every one ``policyTypes:
    [Ingress]`` (egress is not restricted: data planes reach arbitrary upstreams), in this order:

    1. ``default-deny-ingress``: every pod in the namespace, no ingress rule, so a pod no other
       policy selects accepts nothing (the node's probes aside, see the module docstring).
    2. ``<control_plane_release>-ingress``: the control plane's Deployment pods accept TCP
       8005/8006 (cluster, cluster telemetry) from the data plane release's Deployment pods, and
       TCP 8444 (Admin API), 8002/8445 (Kong Manager) from the control plane release's own pods and
       migration Jobs and from pods carrying ``admin_client_labels``.
    3. ``<data_plane_release>-ingress``: the data planes' Deployment pods accept TCP 8000/8443
       (proxy) from anywhere (the proxy NLB has IP targets: it sends client or NLB addresses,
       health checks included), and TCP 8101 (the metrics listener,
       :data:`components.kong_facts.METRICS_PORT`) from pods carrying ``metrics_agent_labels``. The
       rule stands whether metrics are on or not: nothing listens there when they are off, and
       turning them on leaves the policies alone.
    4. With ``postgres_pod_labels``, ``kong-postgres-ingress``: the database accepts TCP 5432 from
       the control plane release's pods and migration Jobs.

    The status listener (8100) gets no rule: the kubelet's probes come from the pod's node, which
    NetworkPolicy and the VPC CNI network policy agent always let in.

    Selectors match labels, which any pod in the namespace may set on itself: these policies keep
    out other namespaces and pods that do not claim Kong's labels, not a workload that can create
    pods in ``namespace`` with them.

    Raises ``ValueError`` (all problems in one message) when ``namespace`` is not an RFC 1123 label,
    the two releases are the same, a policy name would not be an RFC 1123 label or would repeat,
    ``admin_client_labels`` or ``metrics_agent_labels`` is empty (an empty selector admits every
    pod in the namespace) or is carried by the data planes' pods, or ``postgres_pod_labels`` is given empty (it would select every
    pod in the namespace).
    """
    problems = []
    if not _is_dns_label(namespace):
        problems.append(f"namespace {namespace!r} is not an RFC 1123 label")
    if control_plane_release == data_plane_release:
        problems.append(f"control_plane_release and data_plane_release are both {control_plane_release!r}")
    admin_clients = dict(admin_client_labels)
    data_plane_pods = release_deployment_labels(data_plane_release)
    if not admin_clients:
        problems.append("admin_client_labels is empty: it would admit every pod in the namespace to the Admin API")
    elif admin_clients.items() <= data_plane_pods.items():
        problems.append(f"admin_client_labels {admin_clients} are labels of the data plane pods {data_plane_pods}")
    metrics_agents = dict(metrics_agent_labels)
    if not metrics_agents:
        problems.append("metrics_agent_labels is empty: it would admit every pod in the namespace to the metrics "
                        "listener")
    elif metrics_agents.items() <= data_plane_pods.items():
        problems.append(f"metrics_agent_labels {metrics_agents} are labels of the data plane pods {data_plane_pods}")
    if postgres_pod_labels is not None and not postgres_pod_labels:
        problems.append("postgres_pod_labels is empty: it would select every pod in the namespace")

    control_plane = release_pod_labels(control_plane_release)
    policies = [
        _policy(DEFAULT_DENY_NAME, namespace, {}, []),
        _policy(f"{control_plane_release}-ingress", namespace, release_deployment_labels(control_plane_release), [
            {"from": [_pods(data_plane_pods)], "ports": _tcp(CLUSTER_PORTS)},
            {"from": [_pods(control_plane), _pods(admin_clients)], "ports": _tcp(ADMIN_PORTS)},
        ]),
        # No "from": every source, inside the cluster or out.
        _policy(f"{data_plane_release}-ingress", namespace, data_plane_pods, [
            {"ports": _tcp(PROXY_PORTS)},
            {"from": [_pods(metrics_agents)], "ports": _tcp((METRICS_PORT,))},
        ]),
    ]
    if postgres_pod_labels:
        policies.append(_policy(f"{POSTGRES_NAME}-ingress", namespace, postgres_pod_labels, [
            {"from": [_pods(control_plane)], "ports": _tcp((POSTGRES_PORT,))},
        ]))

    names = [policy["metadata"]["name"] for policy in policies]
    problems += [f"policy name {name!r} is not an RFC 1123 label" for name in names if not _is_dns_label(name)]
    problems += [f"policy name {name!r} repeats" for name in sorted({n for n in names if names.count(n) > 1})]
    if problems:
        raise ValueError("kong_network_policies: " + "; ".join(problems))
    return policies
