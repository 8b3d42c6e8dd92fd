"""Kong's Prometheus metrics into CloudWatch: a CloudWatch agent scrapes the data planes.

The contract with the dashboard and alarms (components/monitoring.py): Kong's ``prometheus``
plugin metrics, scraped from a status listener's ``/metrics``, land in CloudWatch namespace
:data:`METRICS_NAMESPACE` with the dimensions below.

The agent scrapes a second status listener of Kong's, :data:`components.kong_facts.METRICS_PORT`
(:attr:`components.kong_settings.KongNode.metrics_address`), which never requires the PROXY
protocol header: the first one does when the load balancer sends it on health checks, and a
scrape sends none. It writes Embedded Metric Format (EMF) log events to a log group the stack
makes; CloudWatch Logs turns them into metrics.

- ECS: an agent container in each data plane task (:func:`ecs_container`, not essential) scrapes
  ``127.0.0.1``; the listener is on loopback only.
- EKS: one agent Deployment in Kong's namespace (:func:`agent_deployment`), not a container of the
  data plane pods: a pod is Ready only when all its containers are (Kubernetes docs, "Pod
  Lifecycle", pod conditions), so a crash-looping agent in every data plane pod would take them
  all out of the load balancer, and Kubernetes has no ``essential: false``. It finds the pods
  through the DNS of a headless Service (:func:`metrics_service`); the listener is on all
  addresses, and a NetworkPolicy admits only the agent's pods (:data:`AGENT_POD_LABELS`) to it
  (:func:`components.network_policy.kong_network_policies`).

Facts, with their sources:

- Kong (Kong/kong 3.9.3 ``kong/plugins/prometheus``): ``exporter.lua`` prefixes every metric with
  ``kong_``; ``kong_http_requests_total`` is a counter with labels ``service``, ``route``,
  ``code``, ``source``, ``workspace``, ``consumer``; ``kong_request_latency_ms`` a histogram
  (``service``, ``route``, ``workspace``). ``schema.lua``: the first is exported only with
  ``status_code_metrics``, the second only with ``latency_metrics`` (both default false), see
  :data:`PLUGIN_CONFIG`. ``status_api.lua``: with the plugin enabled the status listener serves
  ``GET /metrics``.
- The agent's JSON configuration (aws/amazon-cloudwatch-agent ``translator/config/schema.json``):
  ``logs.metrics_collected.prometheus`` takes ``cluster_name``, ``log_group_name``,
  ``prometheus_config_path`` and ``emf_processor`` (``metric_namespace``, ``metric_declaration``:
  ``source_labels``, ``label_matcher``, ``metric_selectors``, ``dimensions``); a declaration
  without ``source_labels`` or ``metric_selectors`` is skipped
  (``translator/translate/otel/exporter/awsemf/prometheus.go``).
- The container reads that JSON from the environment variable ``CW_CONFIG_CONTENT``
  (``translator/cmdutil/translatorutil.go``; the image sets ``RUN_IN_CONTAINER=True``), and a
  ``prometheus_config_path`` of ``env:<VAR>`` writes that variable's text as the scrape
  configuration (``translator/util/configutil.go`` ``GetConfigPath``). AWS's ECS guide passes
  the same two variables, ``CW_CONFIG_CONTENT`` and ``PROMETHEUS_CONFIG_CONTENT`` ("Scraping
  additional Prometheus sources and importing those metrics", CloudWatch user guide).
- Metric types ("Prometheus metric type conversion by the CloudWatch agent", CloudWatch user guide;
  ``plugins/inputs/prometheus/metrics_filter.go``): gauges are sent as they are, counters and a
  summary's ``_sum``/``_count`` as the delta since the previous scrape (nothing from the first
  scrape), **histograms are dropped**, and the type is looked up by the metric's name before any
  relabelling (``metrics_type_handler.go``). Kong's latency is a histogram, so it takes a second
  path, an OpenTelemetry pipeline in the same agent (:func:`otel_config`):
- The agent (tag v1.300062.0, the version of :data:`AGENT_IMAGE`, RELEASE_NOTES "Amazon CloudWatch
  Agent 1.300062.0 (2025-11-05)"), when ``RUN_IN_CONTAINER`` is ``True``, merges the YAML in
  ``CW_OTEL_CONFIG_CONTENT`` with the collector configuration it translated from the JSON
  (``cmd/amazon-cloudwatch-agent/amazon-cloudwatch-agent.go`` ``mergeConfigs``, after
  ``cmd/start-amazon-cloudwatch-agent/path.go`` passed that file with ``-otelconfig``). The merge
  is by key (go.opentelemetry.io/collector/confmap v1.30.0, go.mod): maps are joined, a list is
  replaced, so the pipeline adds its own component ids and never sets ``service.extensions``.
  ``service/defaultcomponents/components.go`` bundles the ``prometheus`` receiver, the
  ``cumulativetodelta`` processor and the ``awsemf`` exporter.
- The collector's Prometheus receiver (amazon-contributing/opentelemetry-collector-contrib,
  ``receiver/prometheusreceiver``) turns ``_bucket``/``_sum``/``_count`` into one histogram named
  by its family, and keeps a target's labels (``Stack``) as attributes (``internal/util.go``
  drops only ``__name__``, ``job``, ``instance``, ``scheme``, ``metrics_path``, ``le``); its sums
  and counts are cumulative. ``awsemf`` (``exporter/awsemfexporter/datapoint.go``) writes a
  histogram point as a statistic set (``Sum``, ``Count``, ``Min``, ``Max``) and turns it into a
  delta only for Container Insights' receiver, hence ``cumulativetodelta`` first
  (``processor/cumulativetodeltaprocessor/processor.go``: histograms' count, sum and buckets
  become deltas, min and max are removed, so ``Min``/``Max`` read 0). CloudWatch's ``Average``
  of the set is ``Sum / SampleCount``: the mean latency of the requests in the period
  (:data:`LATENCY_STAT`); ``Minimum``/``Maximum`` mean nothing here. By default
  (``initial_value: auto``) the first scrape of a series gives no point, like the counters.
  These contrib files were read at branch aws-cwa-dev of December 2024; the agent pins commit
  c3d3976f1fa0 (2025-11-03, go.mod ``replace``), which was not at hand.
- Discovery: the agent's Prometheus (``plugins/inputs/prometheus/start.go``) and the collector's
  receiver both import ``github.com/prometheus/prometheus/discovery/install``, which registers every
  Prometheus service discovery, ``dns_sd_configs`` among them. A headless Service (``clusterIP:
  None``) answers a DNS A query with the addresses of its ready endpoints (Kubernetes docs, "DNS for
  Services and Pods"), so a pod that is not Ready is not scraped.
- Writing the EMF log events takes ``logs:PutLogEvents`` and ``logs:CreateLogStream`` (and
  ``logs:CreateLogGroup`` only when the group is missing): the agent's CloudWatch Logs client,
  amazon-contributing/opentelemetry-collector-contrib ``internal/aws/cwlogs/cwlog_client.go``.
"""

import copy
import json
from typing import Any, Optional, Required, TypedDict

import pulumi
import pulumi_aws as aws
import yaml

from components.kong_facts import METRICS_PORT
from components.network_policy import release_deployment_labels
from components.package import type_token, with_defaults

#: CloudWatch namespace of Kong's metrics.
METRICS_NAMESPACE = "KongGateway"
#: Dimension: the stack (``<project>/<stack>``), the same on ECS and EKS.
STACK_DIMENSION = "Stack"
#: Dimension: the HTTP status class of ``kong_http_requests_total`` (``2xx``, ``4xx``, ``5xx`` ...).
STATUS_CLASS_DIMENSION = "StatusClass"
#: Requests counted per period (from Kong's ``kong_http_requests_total``), dimensions Stack + StatusClass.
REQUESTS_METRIC = "kong_http_requests_total"
#: Kong's request latency (ms, ``kong_request_latency_ms`` histogram) as one CloudWatch metric of
#: statistic sets per scrape, dimension Stack; read it with :data:`LATENCY_STAT`.
LATENCY_METRIC = "kong_request_latency_ms"
#: The statistic that gives the mean latency per period (``Sum / SampleCount`` of the sets).
LATENCY_STAT = "Average"

#: The ``prometheus`` plugin settings that make Kong export what is collected here (schema.lua).
PLUGIN_CONFIG: dict[str, bool] = {"status_code_metrics": True, "latency_metrics": True}
#: Where Kong serves its metrics: the status listener (``status_api.lua``).
METRICS_PATH = "/metrics"
#: The address Kong's metrics listener binds on ECS (:func:`ecs_container` scrapes it): loopback,
#: which only the task's own containers share (``awsvpc``).
LOOPBACK = "127.0.0.1"
#: ... and on EKS, where the agent is another pod: all addresses (a NetworkPolicy keeps it closed).
ALL_ADDRESSES = "0.0.0.0"

#: The agent's image, pinned (Amazon ECR Public ``cloudwatch-agent/cloudwatch-agent``). The image
#: is built ``FROM scratch`` (its Dockerfile): no shell, so no container health check.
AGENT_IMAGE = "public.ecr.aws/cloudwatch-agent/cloudwatch-agent:1.300062.0b1304"
#: The agent container's name, in the task and in the pod.
AGENT_CONTAINER = "cloudwatch-agent"
#: The environment variables the agent reads its configurations from (the third: its extra
#: OpenTelemetry collector configuration, ``cfg/envconfig/envconfig.go`` ``CWOtelConfigContent``).
AGENT_CONFIG_ENV = "CW_CONFIG_CONTENT"
SCRAPE_CONFIG_ENV = "PROMETHEUS_CONFIG_CONTENT"
OTEL_CONFIG_ENV = "CW_OTEL_CONFIG_CONTENT"
#: The name shared by the latency pipeline's components (``<type>/<name>`` ids, unlike the
#: agent's own ``prometheus``, ``awsemf/prometheus``, ``metrics/prometheus/cloudwatchlogs``).
LATENCY_PIPELINE = "kong_latency"
#: The log stream of the latency EMF events in the EMF log group (the agent's own are named by job).
LATENCY_LOG_STREAM = "kong-latency"
#: Seconds between scrapes; CloudWatch's standard resolution is one minute.
SCRAPE_INTERVAL_SECONDS = 60
SCRAPE_TIMEOUT_SECONDS = 10
#: The scrape job's name (the ``job`` label the declarations select on).
SCRAPE_JOB = "kong"
#: Seconds between DNS look-ups of the data plane pods (EKS): a new pod is scraped within this.
DNS_REFRESH_SECONDS = 30
#: What the agent may use: ECS CPU units (1024 = 1 vCPU) and a MiB memory reservation; the same
#: on EKS as requests, with a memory limit.
AGENT_CPU_UNITS = 64
AGENT_MEMORY_MIB = 128
AGENT_RESOURCES = {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}
#: The labels of the agent's pods on EKS, the only pods the data planes' NetworkPolicy admits to
#: their metrics listener.
AGENT_POD_LABELS = {"kong-aws/metrics-agent": "true"}
#: The name of the agent's port in the headless Service (:func:`metrics_service`).
METRICS_PORT_NAME = "metrics"


def stack_dimension_value(project: str, stack: str) -> str:
    """The :data:`STACK_DIMENSION` value of a stack's metrics: its marker ``kong-aws/<project>/<stack>``
    (:func:`components.konnect_api.stack_marker`), the same in both modes, for the agent's
    scrape label and the dashboard's and alarms' queries alike."""
    from components.konnect_api import stack_marker

    return stack_marker(project, stack)


def loopback_targets() -> dict[str, Any]:
    """The scrape targets of an agent in the data plane's task: Kong's metrics listener on
    loopback, ``127.0.0.1:``:data:`components.kong_facts.METRICS_PORT` (Prometheus ``static_configs``)."""
    return {"static_configs": [{"targets": [f"{LOOPBACK}:{METRICS_PORT}"]}]}


def service_targets(host: str) -> dict[str, Any]:
    """The scrape targets of an agent in another pod: every address the DNS name ``host`` (a
    headless Service's, :func:`metrics_service`) resolves to, on
    :data:`components.kong_facts.METRICS_PORT`, looked up every :data:`DNS_REFRESH_SECONDS`
    seconds (Prometheus ``dns_sd_configs``, type ``A``)."""
    return {"dns_sd_configs": [{"names": [host], "type": "A", "port": METRICS_PORT,
                                "refresh_interval": f"{DNS_REFRESH_SECONDS}s"}]}


def scrape_config(stack: str, targets: dict[str, Any]) -> dict[str, Any]:
    """The Prometheus scrape configuration: Kong's metrics listener (:data:`METRICS_PATH`) at
    ``targets`` (:func:`loopback_targets` or :func:`service_targets`) every
    :data:`SCRAPE_INTERVAL_SECONDS` seconds.

    ``stack``: the stack's marker (:func:`components.konnect_api.stack_marker`), set on every
    target as the label :data:`STACK_DIMENSION`. Kept series: ``kong_http_requests_total`` only (the
    rest would be log volume without a metric), each given :data:`STATUS_CLASS_DIMENSION` from its
    ``code`` (``503`` -> ``5xx``). Returns a dict in Prometheus' ``<scrape_config>`` shape.
    """
    return {
        "global": {"scrape_interval": f"{SCRAPE_INTERVAL_SECONDS}s", "scrape_timeout": f"{SCRAPE_TIMEOUT_SECONDS}s"},
        "scrape_configs": [{
            "job_name": SCRAPE_JOB,
            "metrics_path": METRICS_PATH,
            "scheme": "http",
            **copy.deepcopy(targets),
            # No source label: the empty value matches the default regex, so every target gets it.
            "relabel_configs": [{"target_label": STACK_DIMENSION, "replacement": stack, "action": "replace"}],
            "metric_relabel_configs": [
                {"source_labels": ["__name__"], "regex": REQUESTS_METRIC, "action": "keep"},
                {"source_labels": ["code"], "regex": "([1-5])[0-9][0-9]", "target_label": STATUS_CLASS_DIMENSION,
                 "replacement": "${1}xx", "action": "replace"},
            ],
        }],
    }


def agent_config(log_group_name: str, region: str, cluster_name: Optional[str] = None) -> dict[str, Any]:
    """The CloudWatch agent's JSON configuration: the Prometheus scrape of :func:`scrape_config`
    (read from :data:`SCRAPE_CONFIG_ENV`) into EMF log events in ``log_group_name``, region
    ``region`` (set, not detected: Fargate has no instance metadata), one declaration:
    :data:`REQUESTS_METRIC` of job :data:`SCRAPE_JOB` in :data:`METRICS_NAMESPACE` with dimensions
    [[:data:`STACK_DIMENSION`, :data:`STATUS_CLASS_DIMENSION`]]. ``cluster_name``: the EKS
    cluster, recorded as the agent's ``cluster_name`` (absent on ECS). Returns a dict."""
    prometheus: dict[str, Any] = {
        "log_group_name": log_group_name,
        "prometheus_config_path": f"env:{SCRAPE_CONFIG_ENV}",
        "emf_processor": {
            "metric_namespace": METRICS_NAMESPACE,
            "metric_declaration": [{
                "source_labels": ["job"],
                "label_matcher": f"^{SCRAPE_JOB}$",
                "dimensions": [[STACK_DIMENSION, STATUS_CLASS_DIMENSION]],
                "metric_selectors": [f"^{REQUESTS_METRIC}$"],
            }],
        },
    }
    if cluster_name:
        prometheus["cluster_name"] = cluster_name
    return {"agent": {"region": region}, "logs": {"metrics_collected": {"prometheus": prometheus}}}


def latency_scrape_config(stack: str, targets: dict[str, Any]) -> dict[str, Any]:
    """The scrape of :func:`scrape_config` (same targets, interval and ``Stack`` label) keeping
    only the series of Kong's latency histogram :data:`LATENCY_METRIC` (``_bucket``, ``_sum``,
    ``_count``). Returns a dict in Prometheus' ``<scrape_config>`` shape."""
    config = scrape_config(stack, targets)
    (job,) = config["scrape_configs"]
    job["metric_relabel_configs"] = [
        {"source_labels": ["__name__"], "regex": f"{LATENCY_METRIC}_(bucket|sum|count)", "action": "keep"}]
    return config


def otel_config(stack: str, log_group_name: str, region: str, targets: dict[str, Any]) -> dict[str, Any]:
    """The OpenTelemetry collector configuration the agent merges with its own (module
    docstring): pipeline ``metrics/``:data:`LATENCY_PIPELINE` from the ``prometheus`` receiver
    (:func:`latency_scrape_config` of ``targets``) through ``cumulativetodelta`` to ``awsemf``, which writes EMF
    events to ``log_group_name`` (stream :data:`LATENCY_LOG_STREAM`) in region ``region`` (set:
    Fargate has no instance metadata) declaring :data:`LATENCY_METRIC` in
    :data:`METRICS_NAMESPACE` with dimensions [[:data:`STACK_DIMENSION`]], no roll-up. Keys as
    in the agent's own translation (``translator/tocwconfig/sampleConfig/prometheus_config_linux.yaml``).
    Returns a dict."""
    name = LATENCY_PIPELINE
    return {
        "receivers": {f"prometheus/{name}": {"config": latency_scrape_config(stack, targets)}},
        "processors": {f"cumulativetodelta/{name}": {}},
        "exporters": {f"awsemf/{name}": {
            "region": region,
            "namespace": METRICS_NAMESPACE,
            "log_group_name": log_group_name,
            "log_stream_name": LATENCY_LOG_STREAM,
            "dimension_rollup_option": "NoDimensionRollup",
            "metric_declarations": [{"dimensions": [[STACK_DIMENSION]],
                                     "metric_name_selectors": [f"^{LATENCY_METRIC}$"]}],
        }},
        "service": {"pipelines": {f"metrics/{name}": {
            "receivers": [f"prometheus/{name}"], "processors": [f"cumulativetodelta/{name}"],
            "exporters": [f"awsemf/{name}"]}}},
    }


def agent_environment(stack: str, log_group_name: str, region: str, targets: dict[str, Any],
                      cluster_name: Optional[str] = None) -> list[dict[str, str]]:
    """The agent container's environment, ``[{"name", "value"}]`` (ECS and Kubernetes both take
    this shape): :data:`AGENT_CONFIG_ENV` (:func:`agent_config` as JSON),
    :data:`SCRAPE_CONFIG_ENV` (:func:`scrape_config` of ``targets`` as YAML) and
    :data:`OTEL_CONFIG_ENV` (:func:`otel_config` of the same as YAML). None holds a secret."""
    return [
        {"name": AGENT_CONFIG_ENV,
         "value": json.dumps(agent_config(log_group_name, region, cluster_name), sort_keys=True)},
        {"name": SCRAPE_CONFIG_ENV, "value": yaml.safe_dump(scrape_config(stack, targets), sort_keys=True)},
        {"name": OTEL_CONFIG_ENV,
         "value": yaml.safe_dump(otel_config(stack, log_group_name, region, targets), sort_keys=True)},
    ]


def emf_policy(log_group_arn: str) -> dict[str, Any]:
    """The agent's only permissions, an IAM policy document: create log streams in and put log
    events to the EMF log group ``log_group_arn`` (``arn:aws:logs:...:log-group:<name>``). Not
    ``logs:CreateLogGroup``: the stack makes the group, with its retention."""
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "WriteKongMetrics", "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": [f"{log_group_arn}:log-stream:*"]}]}


def ecs_container(stack: str, log_group_name: str, region: str, container_log_group: str,
                  kong_container: str) -> dict[str, Any]:
    """The agent's ECS container definition (``ContainerDefinition``, camelCase keys).

    Not essential: a failed agent costs metrics, never traffic (an essential container's exit
    stops the task); ECS restarts it instead (``restartPolicy``). It starts once
    ``kong_container`` is healthy (``dependsOn`` ``HEALTHY``: Kong serves ``/metrics`` by then)
    and, depending on it, stops before it. It scrapes Kong's metrics listener on loopback
    (:func:`loopback_targets`; the Kong node's ``metrics_address`` is :data:`LOOPBACK`). It reserves :data:`AGENT_CPU_UNITS` and
    :data:`AGENT_MEMORY_MIB` of the task's; its own output goes to ``container_log_group``
    (stream prefix :data:`AGENT_CONTAINER`), its metrics to ``log_group_name``.
    """
    return {
        "name": AGENT_CONTAINER,
        "image": AGENT_IMAGE,
        "essential": False,
        "restartPolicy": {"enabled": True},
        "cpu": AGENT_CPU_UNITS,
        "memoryReservation": AGENT_MEMORY_MIB,
        "environment": agent_environment(stack, log_group_name, region, loopback_targets()),
        "dependsOn": [{"containerName": kong_container, "condition": "HEALTHY"}],
        "readonlyRootFilesystem": False,
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {"awslogs-group": container_log_group, "awslogs-region": region,
                        "awslogs-stream-prefix": AGENT_CONTAINER, "mode": "non-blocking",
                        "max-buffer-size": "4m"},
        },
    }


def agent_name(data_plane_release: str) -> str:
    """The name of the EKS agent's Deployment and ServiceAccount for data plane release
    ``data_plane_release``: ``<release>-metrics-agent``."""
    return f"{data_plane_release}-metrics-agent"


def metrics_service_name(data_plane_release: str) -> str:
    """The name of the headless Service of the data planes' metrics listener: ``<release>-metrics``
    (the chart names its own Services ``<release>-kong-<block>``)."""
    return f"{data_plane_release}-metrics"


def _agent_selector(data_plane_release: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": AGENT_CONTAINER, "app.kubernetes.io/instance": agent_name(data_plane_release)}


def agent_service_account(namespace: str, data_plane_release: str) -> dict[str, Any]:
    """The agent's ServiceAccount manifest (``v1``), :func:`agent_name` in ``namespace``: the
    account its EKS Pod Identity association names (:class:`PodMetricsAccess`). No Kubernetes role
    is bound to it: DNS discovery needs none."""
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": agent_name(data_plane_release), "namespace": namespace,
                         "labels": _agent_selector(data_plane_release)}}


def metrics_service(namespace: str, data_plane_release: str) -> dict[str, Any]:
    """The headless Service (``v1``, ``clusterIP: None``) :func:`metrics_service_name` in
    ``namespace``: the data plane release's Deployment pods
    (:func:`components.network_policy.release_deployment_labels`) on
    :data:`components.kong_facts.METRICS_PORT`, for the agent's DNS discovery
    (:func:`service_targets`). Headless: nothing is load-balanced, every ready pod is a target."""
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": metrics_service_name(data_plane_release), "namespace": namespace,
                         "labels": _agent_selector(data_plane_release)},
            "spec": {"clusterIP": "None", "selector": release_deployment_labels(data_plane_release),
                     "ports": [{"name": METRICS_PORT_NAME, "port": METRICS_PORT, "targetPort": METRICS_PORT,
                                "protocol": "TCP"}]}}


def agent_deployment(stack: str, log_group_name: str, region: str, cluster_name: str, namespace: str,
                     data_plane_release: str, node_selector: Optional[dict[str, str]] = None) -> dict[str, Any]:
    """The EKS agent's Deployment manifest (``apps/v1``), :func:`agent_name` in ``namespace``.

    One replica, replaced with ``Recreate``: two agents at once would each send the same counters'
    deltas, counting requests twice. Its pods carry :data:`AGENT_POD_LABELS` (the NetworkPolicy's
    key to the metrics listener), run as :func:`agent_service_account` (AWS credentials from EKS
    Pod Identity) on ``node_selector``'s nodes (the network-policy nodes: elsewhere the policy
    would not be enforced and the agent's own traffic could be refused) with
    :data:`AGENT_RESOURCES`, and scrape the pods behind :func:`metrics_service`
    (:func:`service_targets`), writing to ``log_group_name`` in ``region``; ``cluster_name`` is
    recorded in the agent's configuration.

    Security: no capabilities, no privilege escalation, the runtime's default seccomp profile. Not
    ``runAsNonRoot``: the image (``FROM scratch``, no ``USER``: its Dockerfile,
    ``amazon-cloudwatch-container-insights/cloudwatch-agent-dockerfile/source/Dockerfile``) runs as
    root, and the agent writes its translated configuration under /opt/aws/amazon-cloudwatch-agent,
    owned by root in the image; hence no read-only root filesystem either. The namespace's
    ``baseline`` Pod Security level allows that. The agent's service account token stays mounted
    (Kubernetes' default) so as not to get in the way of EKS Pod Identity.
    """
    selector = _agent_selector(data_plane_release)
    host = f"{metrics_service_name(data_plane_release)}.{namespace}.svc.cluster.local"
    pod_spec: dict[str, Any] = {
        "serviceAccountName": agent_name(data_plane_release),
        "enableServiceLinks": False,
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{
            "name": AGENT_CONTAINER,
            "image": AGENT_IMAGE,
            "env": agent_environment(stack, log_group_name, region, service_targets(host), cluster_name),
            "resources": copy.deepcopy(AGENT_RESOURCES),
            "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        }],
    }
    if node_selector:
        pod_spec["nodeSelector"] = dict(node_selector)
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": agent_name(data_plane_release), "namespace": namespace, "labels": dict(selector)},
            "spec": {"replicas": 1, "strategy": {"type": "Recreate"}, "selector": {"matchLabels": dict(selector)},
                     "template": {"metadata": {"labels": {**selector, **AGENT_POD_LABELS}}, "spec": pod_spec}}}


def ecs_task_trust_policy(account_id: str) -> dict[str, Any]:
    """Trust policy of the task role: ECS tasks of account ``account_id`` only."""
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}}}]}


def pod_identity_trust_policy(namespace: str, service_account: str) -> dict[str, Any]:
    """Trust policy of a role for EKS Pod Identity: ``pods.eks.amazonaws.com`` may assume it and
    tag the session (``sts:AssumeRole``, ``sts:TagSession``), only for pods of ``service_account``
    in ``namespace`` (the session tags Pod Identity sets). Source: Amazon EKS user guide, "Create
    IAM role with trust policy required by EKS Pod Identity"."""
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:TagSession"],
        "Condition": {"StringEquals": {"aws:RequestTag/kubernetes-namespace": [namespace],
                                       "aws:RequestTag/kubernetes-service-account": [service_account]}}}]}


class MetricsAgentArgs(TypedDict, total=False):
    """Where the EKS agent (:func:`agent_deployment`) sends Kong's metrics
    (:attr:`components.kong_hybrid.KongHybridArgs.metrics_agent`)."""

    log_group_name: Required[pulumi.Input[str]]
    """the EMF log group (:attr:`PodMetricsAccess.log_group_name`)"""
    region: Required[str]
    """its AWS region"""
    cluster_name: Required[pulumi.Input[str]]
    """the EKS cluster"""
    ready: pulumi.Input[str]
    """resolves once the agent's pods can get credentials (:attr:`PodMetricsAccess.ready`)"""


#: Defaults of :class:`PodMetricsAccessArgs`: EMF events kept 30 days (as the ECS logs).
POD_METRICS_DEFAULTS: dict[str, Any] = {"log_retention_days": 30}


class PodMetricsAccessArgs(TypedDict, total=False):
    """Arguments of :class:`PodMetricsAccess`."""

    cluster_name: Required[pulumi.Input[str]]
    """the EKS cluster of the agent's pods"""
    namespace: Required[str]
    """their namespace"""
    service_account: Required[str]
    """their service account (:func:`agent_name` of the data plane release)"""
    log_group_name: Required[str]
    """the EMF log group to make"""
    log_retention_days: pulumi.Input[int]
    """days CloudWatch Logs keeps the EMF events (default: :data:`POD_METRICS_DEFAULTS`)"""


class PodMetricsAccess(pulumi.ComponentResource):
    """What the EKS agent's pods need on AWS (type ``kong-aws:index:PodMetricsAccess``).

    Children: ``{name}-logs`` (the EMF log group, with retention), ``{name}-role`` (a role only EKS
    Pod Identity may assume, for ``service_account`` in ``namespace``:
    :func:`pod_identity_trust_policy`) with its one policy (:func:`emf_policy`), and
    ``{name}-pod-identity`` (the association of the service account with the role). Pods get the
    credentials from the EKS Pod Identity Agent, which EKS Auto Mode runs on its nodes ("Set up
    the Amazon EKS Pod Identity Agent", Amazon EKS user guide); an existing cluster without Auto
    Mode needs the ``eks-pod-identity-agent`` add-on. Pods made before the association have no
    credentials: :attr:`ready` resolves once it exists, so that the release is declared after it.

    Outputs: ``log_group_name``, ``role_arn``, ``ready`` (the association's id).
    """

    log_group_name: pulumi.Output[str]
    """the EMF log group"""
    role_arn: pulumi.Output[str]
    """the agent pods' role"""
    ready: pulumi.Output[str]
    """resolves once the association exists"""

    def __init__(self, name: str, args: PodMetricsAccessArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(type_token(PodMetricsAccess), name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = with_defaults(args, POD_METRICS_DEFAULTS)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", name=settings["log_group_name"], retention_in_days=settings["log_retention_days"],
            opts=child)
        role = aws.iam.Role(
            f"{name}-role", description="CloudWatch agent of the Kong data planes' metrics (EKS Pod Identity)",
            assume_role_policy=json.dumps(pod_identity_trust_policy(args["namespace"], args["service_account"])),
            opts=child)
        policy = aws.iam.RolePolicy(
            f"{name}-role", role=role.id, policy=log_group.arn.apply(lambda arn: json.dumps(emf_policy(arn))),
            opts=child)
        association = aws.eks.PodIdentityAssociation(
            f"{name}-pod-identity", cluster_name=args["cluster_name"], namespace=args["namespace"],
            service_account=args["service_account"], role_arn=role.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]))
        self.log_group_name = log_group.name
        self.role_arn = role.arn
        self.ready = association.id
        self.register_outputs({"logGroupName": self.log_group_name, "roleArn": self.role_arn, "ready": self.ready})
