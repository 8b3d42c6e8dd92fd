"""A CloudWatch dashboard and alarms per stack, in both modes: :class:`GatewayMonitoring`.

What each widget and alarm reads, and where that metric is documented:

- ``AWS/NetworkELB`` (ELB docs, "CloudWatch metrics for your Network Load Balancer"):
  ``HealthyHostCount`` / ``UnHealthyHostCount`` by ``LoadBalancer`` + ``TargetGroup``;
  ``NewFlowCount``, ``ProcessedBytes``, ``TCP_Client_Reset_Count``, ``TCP_Target_Reset_Count`` and
  ``TCP_ELB_Reset_Count`` by ``LoadBalancer`` (values ``net/<name>/<id>``, the ARN suffix), every 60 s.
- ``AWS/ECS`` (ECS docs, "Amazon ECS CloudWatch metrics", "service utilization"): ``CPUUtilization``
  and ``MemoryUtilization`` by ``ClusterName`` + ``ServiceName``, free, with or without Container
  Insights. ``ECS/ContainerInsights`` (CloudWatch docs, "Amazon ECS Container Insights metrics"):
  ``RunningTaskCount`` and ``DesiredTaskCount`` by the same dimensions, only with Container Insights.
- ``ContainerInsights`` on EKS (the ``amazon-cloudwatch-observability`` add-on, Container Insights
  with enhanced observability): ``replicas_desired`` and ``replicas_ready`` of a Deployment, by
  ``PodName`` (the Deployment's name) + ``Namespace`` + ``ClusterName``; ``pod_cpu_utilization`` and
  ``pod_memory_utilization`` by the same three (``PodName`` is the owning Deployment's name). Source:
  the CloudWatch agent's EMF declarations (aws/amazon-cloudwatch-agent,
  translator/translate/otel/exporter/awsemf/kubernetes.go, ``getDeploymentMetricDeclarations``, only
  with enhanced observability) and its receiver (amazon-contributing/opentelemetry-collector-contrib,
  receiver/awscontainerinsightreceiver/internal/k8sapiserver/k8sapiserver.go, ``getDeploymentMetrics``:
  ``replicas_desired`` = ``spec.replicas``, ``replicas_ready`` = ``status.readyReplicas``,
  ``PodName`` = the Deployment's name).
- ``AWS/RDS`` (RDS docs, "Amazon CloudWatch metrics for Amazon RDS"): ``CPUUtilization`` (percent),
  ``DatabaseConnections`` (count), ``FreeStorageSpace`` (bytes) by ``DBInstanceIdentifier``.
- Kong's own metrics: :mod:`components.metrics_agent`'s namespace, metric and dimension names.

Alarms are CloudWatch ``PutMetricAlarm`` requests: a metric math expression over at most 10 metrics,
or a Metrics Insights query that returns one time series (CloudWatch docs, "Alarm data queries",
"Create a CloudWatch alarm based on a Metrics Insights query"); ``SEARCH`` is for graphs only. The
hybrid-eks proxy NLB is made by the cluster from the proxy Service, so its target groups are not
known here: the healthy-target alarm is a Metrics Insights ``MIN`` over every target group of the
load balancer, in both modes.
"""

import json
import re
from typing import Any, Optional, Required, Sequence, TypedDict

import pulumi
import pulumi_aws as aws

from components.kong_facts import chart_fullname
from components.metrics_agent import (LATENCY_METRIC, LATENCY_STAT, METRICS_NAMESPACE, REQUESTS_METRIC,
                                      STACK_DIMENSION, STATUS_CLASS_DIMENSION, stack_dimension_value)
from components.package import type_token, with_defaults

#: Seconds per datapoint of every alarm and graph: the NLB, ECS, Container Insights and RDS
#: metrics above are published every 60 s.
PERIOD_SECONDS = 60
#: HTTP status classes of Kong's request counter (``StatusClass`` values).
STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
#: The dashboard grid is 24 columns wide (CloudWatch API reference, "Dashboard Body Structure and
#: Syntax": ``x`` 0-23, ``width`` 1-24).
GRID_COLUMNS = 24
#: A Network Load Balancer's DNS name: ``[internal-]<name>-<id>.elb.<region>.amazonaws.com``, where
#: ``net/<name>/<id>`` is its ARN suffix, CloudWatch's ``LoadBalancer`` dimension (AWS CLI reference,
#: ``aws elbv2 create-load-balancer`` examples: DNSName ``my-network-load-balancer-5d1b75f4f1cee11e
#: .elb.us-west-2.amazonaws.com`` for ARN ``.../loadbalancer/net/my-network-load-balancer/5d1b75f4f1cee11e``;
#: a name may not begin with ``internal-``, CreateLoadBalancer in botocore's elbv2 model).
_NLB_DNS_NAME = re.compile(r"(?:internal-)?([A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?)-([0-9a-f]{16})"
                           r"\.elb\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?\.?", re.ASCII)

ELB_NAMESPACE = "AWS/NetworkELB"
ECS_NAMESPACE = "AWS/ECS"
ECS_INSIGHTS_NAMESPACE = "ECS/ContainerInsights"
EKS_INSIGHTS_NAMESPACE = "ContainerInsights"
RDS_NAMESPACE = "AWS/RDS"
GIB = 1024 ** 3


class MonitoringSettings(TypedDict, total=False):
    """Alarms and their notifications as a user chooses them (defaults: :data:`MONITORING_DEFAULTS`)."""

    alarm_emails: list[str]
    """addresses subscribed to a topic the stack makes (default none); each must confirm by email"""
    alarm_topic_arn: pulumi.Input[str]
    """an existing SNS topic for the alarms instead (default none); not with ``alarm_emails``"""
    evaluation_minutes: int
    """minutes a condition must hold before "fewer than desired" and the 5xx rate alarm, 1-60 (default 5)"""
    error_rate_percent: float
    """5xx responses as a percentage of all responses that raise the alarm, 0-100 exclusive (default 5)"""
    free_storage_percent: float
    """RDS free storage below this percentage of the allocated storage raises the alarm, 0-100 exclusive (default 10)"""


#: Defaults of :class:`MonitoringSettings`, the only place they are written.
MONITORING_DEFAULTS: dict[str, Any] = {
    "alarm_emails": [], "evaluation_minutes": 5, "error_rate_percent": 5.0, "free_storage_percent": 10.0}


class EcsTarget(TypedDict, total=False):
    """The konnect-ecs data planes: the ECS service and its cluster."""

    cluster_name: Required[pulumi.Input[str]]
    """the ECS cluster"""
    service_name: Required[pulumi.Input[str]]
    """the data planes' ECS service"""
    min_count: Required[int]
    """the service's lowest task count (scaling's minimum)"""
    container_insights: Required[bool]
    """whether the cluster has Container Insights (``RunningTaskCount`` / ``DesiredTaskCount`` exist only then)"""


class EksTarget(TypedDict, total=False):
    """The hybrid-eks control plane and data plane Deployments (the Kong chart's ``<release>-kong``)."""

    cluster_name: Required[pulumi.Input[str]]
    """the EKS cluster"""
    namespace: Required[pulumi.Input[str]]
    """Kong's namespace"""
    control_plane_release: Required[str]
    """the control plane's Helm release (its Deployment is ``<release>-kong``)"""
    data_plane_release: Required[str]
    """the data planes' Helm release"""
    container_insights: Required[bool]
    """whether the cluster runs Container Insights with enhanced observability (the
    ``amazon-cloudwatch-observability`` add-on): the pod graphs and ready-pods alarms need it"""


class RdsTarget(TypedDict, total=False):
    """The RDS PostgreSQL instance of the control plane (postgres mode ``rds``)."""

    instance_identifier: Required[pulumi.Input[str]]
    """the instance's identifier (``DBInstanceIdentifier``)"""
    allocated_storage_gib: Required[int]
    """its allocated storage, GiB"""


class GatewayMonitoringArgs(MonitoringSettings, total=False):
    """Arguments of :class:`GatewayMonitoring`: :class:`MonitoringSettings` and what to watch."""

    region: Required[str]
    """the AWS region (``aws:region``), written into every graph"""
    load_balancer_arn_suffix: pulumi.Input[str]
    """konnect-ecs: the proxy NLB's ARN suffix (``net/<name>/<id>``, ``aws.lb.LoadBalancer.arn_suffix``)"""
    target_group_arn_suffixes: pulumi.Input[Sequence[str]]
    """konnect-ecs: the NLB's target groups' ARN suffixes (``targetgroup/<name>/<id>``)"""
    load_balancer_hostname: pulumi.Input[str]
    """hybrid-eks: the proxy NLB's DNS name, as the proxy Service's status has it (the cluster makes
    the NLB, so the stack knows it only by that name; :func:`nlb_arn_suffix`)"""
    ecs: EcsTarget
    """konnect-ecs: the data planes' service (exactly one of ``ecs`` and ``eks``)"""
    eks: EksTarget
    """hybrid-eks: the cluster and the releases"""
    rds: RdsTarget
    """the RDS instance, when there is one"""
    kong_metrics: bool
    """Kong's ``prometheus`` plugin metrics reach CloudWatch (:mod:`components.metrics_agent`): request
    and latency graphs and the 5xx rate alarm (default false)"""


def resource_prefix(project: str, stack: str) -> str:
    """``<project>-<stack>`` with anything but letters, digits, ``-`` and ``_`` replaced by ``-``: the
    dashboard's name (PutDashboard: "can contain only alphanumerics, dash (-), and underscore (_)")
    and the start of every alarm's name."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"{project}-{stack}")


def nlb_arn_suffix(dns_name: str) -> str:
    """The ARN suffix ``net/<name>/<id>`` (CloudWatch's ``LoadBalancer`` dimension) of the Network
    Load Balancer whose DNS name is ``dns_name`` (:data:`_NLB_DNS_NAME`). Raises ``ValueError`` for a
    name that is not an NLB's."""
    found = _NLB_DNS_NAME.fullmatch(dns_name.strip().lower())
    if found is None:
        raise ValueError(f"{dns_name!r} is not a Network Load Balancer's DNS name "
                         "(<name>-<16 hex digits>.elb.<region>.amazonaws.com)")
    return f"net/{found.group(1)}/{found.group(2)}"


def dashboard_url(region: str, name: str) -> str:
    """The CloudWatch console page of dashboard ``name`` in ``region``."""
    return f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#dashboards/dashboard/{name}"


def healthy_hosts_query(load_balancer: str, target_group: Optional[str] = None) -> str:
    """Metrics Insights, one series: the healthy targets of NLB ``load_balancer`` (its ARN suffix),
    summed over its Availability Zones (the ``AvailabilityZone, LoadBalancer, TargetGroup`` series)
    and over its target groups, or of ``target_group`` only. Summing the zones' counts does not depend
    on how the zone-less series aggregates them: a per-zone count is what a zone's load balancer
    node sees (NLB cross-zone load balancing is off by default, ELB guide "Cross-zone load
    balancing for target groups"). A sum of 0 means no target group of the NLB (or ``target_group``)
    has a healthy target in any zone."""
    where = f"LoadBalancer = '{load_balancer}'" + (f" AND TargetGroup = '{target_group}'" if target_group else "")
    return (f'SELECT SUM(HealthyHostCount) FROM SCHEMA("{ELB_NAMESPACE}", AvailabilityZone, LoadBalancer, '
            f"TargetGroup) WHERE {where}")


def error_rate_expression() -> str:
    """Metric math over the ids ``r1xx`` ... ``r5xx``: 5xx responses as a percentage of all. An
    absent class counts 0 (``FILL``); no request at all leaves the datapoint empty (0/0)."""
    classes = [f"FILL(r{c}, 0)" for c in STATUS_CLASSES]
    return f"100 * FILL(r5xx, 0) / ({' + '.join(classes)})"


def validate(args: GatewayMonitoringArgs) -> None:
    """Raise ``ValueError`` for arguments that cannot make a dashboard: not exactly one of ``ecs`` /
    ``eks``; no load balancer, or the wrong kind for the mode; ``alarm_emails`` with
    ``alarm_topic_arn``; ``evaluation_minutes``, ``error_rate_percent`` or ``free_storage_percent``
    out of range."""
    problems = []
    if ("ecs" in args) == ("eks" in args):
        problems.append("exactly one of ecs and eks is needed")
    if "ecs" in args and "load_balancer_arn_suffix" not in args:
        problems.append("ecs needs load_balancer_arn_suffix")
    if "eks" in args and "load_balancer_hostname" not in args:
        problems.append("eks needs load_balancer_hostname")
    if args.get("alarm_emails") and args.get("alarm_topic_arn") is not None:
        problems.append("alarm_emails and alarm_topic_arn exclude each other")
    if not 1 <= int(args["evaluation_minutes"]) <= 60:
        problems.append(f"evaluation_minutes {args['evaluation_minutes']!r} is not 1-60")
    for key in ("error_rate_percent", "free_storage_percent"):
        if not 0 < float(args[key]) < 100:
            problems.append(f"{key} {args[key]!r} is not between 0 and 100")
    if problems:
        raise ValueError("GatewayMonitoring: " + "; ".join(problems))


def _metric(namespace: str, name: str, dimensions: dict[str, str], **options: Any) -> list:
    """One entry of a metric widget's ``metrics`` array: namespace, name, dimension pairs, options."""
    entry: list = [namespace, name]
    for key, value in dimensions.items():
        entry += [key, value]
    return entry + ([options] if options else [])


def _widget(title: str, metrics: list, region: str, stat: str = "Sum", **properties: Any) -> dict:
    return {"type": "metric", "properties": {
        "title": title, "metrics": metrics, "region": region, "stat": stat, "period": PERIOD_SECONDS,
        "view": "timeSeries", **properties}}


def _text(markdown: str) -> dict:
    return {"type": "text", "properties": {"markdown": markdown}}


def layout(rows: list[list[dict]], height: int = 6) -> list[dict]:
    """Widgets placed row by row on the 24-column grid: each row's widgets share its width equally."""
    placed, y = [], 0
    for row in rows:
        width = GRID_COLUMNS // len(row)
        for index, widget in enumerate(row):
            h = 2 if widget["type"] == "text" else height
            placed.append({**widget, "x": index * width, "y": y, "width": width, "height": h})
        y += max(2 if w["type"] == "text" else height for w in row)
    return placed


def dashboard_body(region: str, title: str, load_balancer: str,
                   ecs: Optional[dict] = None, eks: Optional[dict] = None, rds: Optional[dict] = None,
                   kong_stack: Optional[str] = None, alarm_arns: Sequence[str] = ()) -> dict:
    """The dashboard as CloudWatch's dashboard body (a dict; ``json.dumps`` it for PutDashboard).

    ``load_balancer``: the NLB's ARN suffix (its target groups, in every zone, are found by ``SEARCH``:
    hybrid-eks does not know them). ``ecs``: ``cluster_name``,
    ``service_name``, ``container_insights``; ``eks``: ``cluster_name``, ``namespace``,
    ``deployments`` (``{"control plane": name, "data plane": name}``); ``rds``:
    ``instance_identifier``; ``kong_stack``: the ``Stack`` dimension of Kong's metrics, or None
    without them; ``alarm_arns``: shown in an alarm status widget.
    """
    lb = {"LoadBalancer": load_balancer}

    def hosts(metric: str) -> list:
        # Every target group in every zone (hybrid-eks: the cluster names the target groups).
        search = (f"SEARCH('{{{ELB_NAMESPACE},AvailabilityZone,LoadBalancer,TargetGroup}} MetricName=\"{metric}\" "
                  f"LoadBalancer=\"{load_balancer}\"', 'Minimum', {PERIOD_SECONDS})")
        return [[{"expression": search, "id": metric.lower(), "label": metric}]]

    healthy, unhealthy = hosts("HealthyHostCount"), hosts("UnHealthyHostCount")
    rows: list[list[dict]] = [
        [_text(f"# {title}\nKong Gateway: proxy load balancer, data planes"
               + (", database" if rds else "") + (", Kong requests" if kong_stack else ""))],
        [_widget("Healthy targets", healthy, region, "Minimum"),
         _widget("Unhealthy targets", unhealthy, region, "Maximum")],
        [_widget("New flows", [_metric(ELB_NAMESPACE, "NewFlowCount", lb)], region),
         _widget("Processed bytes", [_metric(ELB_NAMESPACE, "ProcessedBytes", lb)], region),
         _widget("TCP resets", [_metric(ELB_NAMESPACE, m, lb) for m in
                                ("TCP_Client_Reset_Count", "TCP_Target_Reset_Count", "TCP_ELB_Reset_Count")], region)],
    ]
    if ecs is not None:
        service = {"ClusterName": ecs["cluster_name"], "ServiceName": ecs["service_name"]}
        if ecs["container_insights"]:
            tasks = _widget("Running vs desired tasks",
                            [_metric(ECS_INSIGHTS_NAMESPACE, m, service) for m in ("RunningTaskCount", "DesiredTaskCount")],
                            region, "Average")
        else:
            tasks = _text("Running and desired tasks need Container Insights on the ECS cluster "
                          "(`kong-aws:ecs.containerInsights`).")
        rows.append([tasks,
                     _widget("Task CPU %", [_metric(ECS_NAMESPACE, "CPUUtilization", service)], region, "Average"),
                     _widget("Task memory %", [_metric(ECS_NAMESPACE, "MemoryUtilization", service)], region, "Average")])
    if eks is not None:
        def pods(metric: str, role: str, name: str, **options: Any) -> list:
            return _metric(EKS_INSIGHTS_NAMESPACE, metric, {"PodName": name, "Namespace": eks["namespace"],
                                                            "ClusterName": eks["cluster_name"]},
                           label=f"{role} {metric}", **options)
        deployments = eks["deployments"]
        if not eks["container_insights"]:
            rows.append([_text("Ready and desired pods and pod CPU and memory need Container Insights on the EKS "
                               "cluster (`kong-aws:eks.containerInsights`).")])
        else:
            rows.append([
                _widget("Ready vs desired pods", [pods(m, role, name) for role, name in deployments.items()
                                                  for m in ("replicas_ready", "replicas_desired")], region, "Average"),
                _widget("Pod CPU %", [pods("pod_cpu_utilization", role, name) for role, name in deployments.items()],
                        region, "Average"),
                _widget("Pod memory %", [pods("pod_memory_utilization", role, name)
                                         for role, name in deployments.items()], region, "Average")])
    if rds is not None:
        db = {"DBInstanceIdentifier": rds["instance_identifier"]}
        rows.append([_widget("Database CPU %", [_metric(RDS_NAMESPACE, "CPUUtilization", db)], region, "Average"),
                     _widget("Database connections", [_metric(RDS_NAMESPACE, "DatabaseConnections", db)], region,
                             "Average"),
                     _widget("Database free storage (bytes)", [_metric(RDS_NAMESPACE, "FreeStorageSpace", db)], region,
                             "Minimum")])
    if kong_stack is not None:
        requests = [_metric(METRICS_NAMESPACE, REQUESTS_METRIC, {STACK_DIMENSION: kong_stack,
                                                                 STATUS_CLASS_DIMENSION: c}, id=f"r{c}", label=c)
                    for c in STATUS_CLASSES]
        rate = [*[_metric(METRICS_NAMESPACE, REQUESTS_METRIC, {STACK_DIMENSION: kong_stack, STATUS_CLASS_DIMENSION: c},
                          id=f"r{c}", visible=False) for c in STATUS_CLASSES],
                [{"expression": error_rate_expression(), "id": "rate", "label": "5xx %"}]]
        kong = {STACK_DIMENSION: kong_stack}
        # One metric of statistic sets: its Average is Sum / SampleCount (metrics_agent.otel_config).
        latency = [_metric(METRICS_NAMESPACE, LATENCY_METRIC, kong, label="average latency (ms)")]
        rows.append([_widget("Requests by status class", requests, region, stacked=True),
                     _widget("5xx rate %", rate, region),
                     _widget("Average latency (ms)", latency, region, LATENCY_STAT)])
    if alarm_arns:
        rows.append([{"type": "alarm", "properties": {"title": "Alarms", "alarms": list(alarm_arns)}}])
    return {"start": "-PT6H", "periodOverride": "inherit", "widgets": layout(rows)}


class GatewayMonitoring(pulumi.ComponentResource):
    """A CloudWatch dashboard and alarms for one stack (type ``kong-aws:index:GatewayMonitoring``).

    Children: ``{name}-dashboard`` (named :func:`resource_prefix`, :func:`dashboard_body`) and the
    alarms, each named ``<prefix>-<role>`` and each acting (alarm and OK) on the topic when there is
    one, with no action otherwise:

    - ``{name}-no-healthy-target``: the NLB's healthy targets, all zones and target groups, < 1 for
      2 minutes (:func:`healthy_hosts_query`); missing data is breaching (the NLB publishes every
      minute while it exists: silence means it or its target groups are gone).
    - ``{name}-tasks-below-desired`` (ecs): with Container Insights, ``DesiredTaskCount -
      RunningTaskCount`` > 0; without it, the healthy targets of the http target group (all zones)
      < ``min_count``; for
      ``evaluation_minutes``. Missing data is breaching (no report from the service is no running task we can see).
    - ``{name}-cp-pods-below-desired`` / ``{name}-dp-pods-below-desired`` (eks with Container
      Insights): ``replicas_desired
      - replicas_ready`` > 0 for ``evaluation_minutes``; missing data is breaching (likewise).
    - ``{name}-5xx-rate`` (``kong_metrics``): :func:`error_rate_expression` > ``error_rate_percent``
      for ``evaluation_minutes``; missing data is not breaching (no request is no error).
    - ``{name}-db-storage-low`` (``rds``): ``FreeStorageSpace`` < ``free_storage_percent`` of the
      allocated storage for 5 minutes; missing data keeps the state (an unreachable instance is
      another failure than a full disk).

    With ``alarm_emails``: ``{name}-alarms``, an SNS topic, and ``{name}-email-<i>`` subscriptions
    (each address must confirm). The topic is not KMS-encrypted: CloudWatch may publish to an
    encrypted topic only when the key's policy lets ``cloudwatch.amazonaws.com`` use it, which the
    AWS managed key ``alias/aws/sns`` does not and cannot (SNS docs, "Enable compatibility between
    event sources from AWS services and encrypted topics"); alarm notifications carry alarm names and
    metric values only. A team that needs an encrypted topic passes its own as ``alarm_topic_arn``.

    hybrid-eks: the proxy NLB's ARN suffix comes from its DNS name (:func:`nlb_arn_suffix`), which
    the proxy Service's status reports once the cluster has made it.

    Outputs: ``dashboard_name``, ``dashboard_url``, ``alarm_names`` (sorted), ``alarm_topic_arn``
    (None without a topic). Raises ``ValueError`` as :func:`validate` says.
    """

    dashboard_name: pulumi.Output[str]
    """the dashboard's name"""
    dashboard_url: pulumi.Output[str]
    """the dashboard's page in the CloudWatch console"""
    alarm_names: pulumi.Output[list[str]]
    """the alarms' names"""
    alarm_topic_arn: Optional[pulumi.Output[str]]
    """the topic the alarms notify, or None"""

    def __init__(self, name: str, args: GatewayMonitoringArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = with_defaults(args, MONITORING_DEFAULTS)  # type: ignore[assignment]
        validate(args)
        super().__init__(type_token(GatewayMonitoring), name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        prefix = resource_prefix(pulumi.get_project(), pulumi.get_stack())
        region = args["region"]
        minutes = int(args["evaluation_minutes"])

        topic_arn: Optional[pulumi.Output[str]] = None
        if args["alarm_emails"]:
            topic = aws.sns.Topic(f"{name}-alarms", name=f"{prefix}-alarms", opts=child)
            for index, email in enumerate(args["alarm_emails"]):
                aws.sns.TopicSubscription(f"{name}-email-{index}", topic=topic.arn, protocol="email",
                                          endpoint=email, opts=child)
            topic_arn = topic.arn
        elif args.get("alarm_topic_arn") is not None:
            topic_arn = pulumi.Output.from_input(args["alarm_topic_arn"])
        actions: Optional[list[pulumi.Output[str]]] = [topic_arn] if topic_arn is not None else None

        if "eks" in args:
            def suffix(host: str) -> str:
                # A proxy that is not an NLB (an existing cluster's own load balancer controller)
                # leaves the load balancer graphs and the healthy-target alarm without data; it
                # does not fail the update.
                try:
                    return nlb_arn_suffix(host)
                except ValueError as error:
                    pulumi.log.warn(f"{error}: the dashboard's load balancer graphs and the no-healthy-target "
                                    "alarm will have no data", resource=self)
                    return f"net/{host.split('.', 1)[0]}/unknown"

            load_balancer: pulumi.Output[str] = pulumi.Output.from_input(args["load_balancer_hostname"]).apply(suffix)
            target_groups: Optional[pulumi.Output] = None
        else:
            load_balancer = pulumi.Output.from_input(args["load_balancer_arn_suffix"])
            target_groups = pulumi.Output.from_input(args.get("target_group_arn_suffixes", []))

        alarms: list[aws.cloudwatch.MetricAlarm] = []

        def alarm(role: str, description: str, queries: list, threshold: float, comparison: str,
                  periods: int, missing: str) -> None:
            alarms.append(aws.cloudwatch.MetricAlarm(
                f"{name}-{role}", name=f"{prefix}-{role}", alarm_description=description,
                metric_queries=queries, threshold=threshold, comparison_operator=comparison,
                evaluation_periods=periods, datapoints_to_alarm=periods, treat_missing_data=missing,
                actions_enabled=True, alarm_actions=actions, ok_actions=actions, opts=child))

        def stat(query_id: str, namespace: str, metric: str, dimensions: dict, statistic: str,
                 period: int = PERIOD_SECONDS) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
            return aws.cloudwatch.MetricAlarmMetricQueryArgs(
                id=query_id, return_data=False, metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                    namespace=namespace, metric_name=metric, dimensions=dimensions, stat=statistic, period=period))

        def expression(text: pulumi.Input[str], label: str, **extra: Any) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
            return aws.cloudwatch.MetricAlarmMetricQueryArgs(id="e1", expression=text, label=label, return_data=True,
                                                             **extra)

        healthy = expression(load_balancer.apply(healthy_hosts_query), "healthy targets",
                             period=PERIOD_SECONDS)
        alarm("no-healthy-target", "The proxy NLB has no healthy Kong target in any zone.",
              [healthy], 1, "LessThanThreshold", 2, "breaching")

        ecs, eks = args.get("ecs"), args.get("eks")
        deployments: dict[str, str] = {}
        if ecs is not None:
            service = {"ClusterName": ecs["cluster_name"], "ServiceName": ecs["service_name"]}
            if ecs["container_insights"]:
                alarm("tasks-below-desired", f"Fewer ECS tasks running than desired for {minutes} minutes.",
                      [stat("running", ECS_INSIGHTS_NAMESPACE, "RunningTaskCount", service, "Average"),
                       stat("desired", ECS_INSIGHTS_NAMESPACE, "DesiredTaskCount", service, "Average"),
                       expression("desired - running", "tasks missing")],
                      0, "GreaterThanThreshold", minutes, "breaching")
            else:
                alarm("tasks-below-desired",
                      f"Fewer healthy Kong targets than the service's minimum of {ecs['min_count']} tasks for "
                      f"{minutes} minutes (Container Insights is off).",
                      [expression(pulumi.Output.all(load_balancer, target_groups).apply(
                                  lambda v: healthy_hosts_query(v[0], v[1][0] if v[1] else None)),
                                  "healthy targets of the http target group", period=PERIOD_SECONDS)],
                      ecs["min_count"], "LessThanThreshold", minutes, "breaching")
        if eks is not None:
            deployments = {"control plane": chart_fullname(eks["control_plane_release"]),
                           "data plane": chart_fullname(eks["data_plane_release"])}
            for role, short in (("control plane", "cp"), ("data plane", "dp")) if eks["container_insights"] else ():
                pods = {"PodName": deployments[role], "Namespace": eks["namespace"], "ClusterName": eks["cluster_name"]}
                alarm(f"{short}-pods-below-desired", f"Fewer {role} pods ready than desired for {minutes} minutes.",
                      [stat("ready", EKS_INSIGHTS_NAMESPACE, "replicas_ready", pods, "Minimum"),
                       stat("desired", EKS_INSIGHTS_NAMESPACE, "replicas_desired", pods, "Maximum"),
                       expression("desired - ready", "pods not ready")],
                      0, "GreaterThanThreshold", minutes, "breaching")
        kong_stack = stack_dimension_value(pulumi.get_project(), pulumi.get_stack()) if args.get("kong_metrics") else None
        if kong_stack is not None:
            alarm("5xx-rate", f"More than {args['error_rate_percent']} % of Kong's responses are 5xx for "
                              f"{minutes} minutes.",
                  [*[stat(f"r{c}", METRICS_NAMESPACE, REQUESTS_METRIC,
                          {STACK_DIMENSION: kong_stack, STATUS_CLASS_DIMENSION: c}, "Sum") for c in STATUS_CLASSES],
                   expression(error_rate_expression(), "5xx %")],
                  float(args["error_rate_percent"]), "GreaterThanThreshold", minutes, "notBreaching")
        rds = args.get("rds")
        if rds is not None:
            floor = float(args["free_storage_percent"]) / 100 * rds["allocated_storage_gib"] * GIB
            alarm("db-storage-low", f"Less than {args['free_storage_percent']} % of the database's "
                                    f"{rds['allocated_storage_gib']} GiB free.",
                  [stat("free", RDS_NAMESPACE, "FreeStorageSpace", {"DBInstanceIdentifier": rds["instance_identifier"]},
                        "Minimum", 300),
                   expression("free", "free storage (bytes)")],
                  floor, "LessThanThreshold", 1, "missing")

        def body(values: list) -> str:
            lb, ecs_names, eks_names, db, arns = values
            return json.dumps(dashboard_body(
                region, prefix, lb,
                ecs={**ecs_names, "container_insights": ecs["container_insights"]} if ecs is not None else None,
                eks={**eks_names, "deployments": deployments, "container_insights": eks["container_insights"]}
                if eks is not None else None,
                rds={"instance_identifier": db} if db is not None else None,
                kong_stack=kong_stack, alarm_arns=sorted(arns)), sort_keys=True)

        dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard", dashboard_name=prefix,
            dashboard_body=pulumi.Output.all(
                load_balancer,
                pulumi.Output.all(cluster_name=ecs["cluster_name"], service_name=ecs["service_name"])
                if ecs is not None else None,
                pulumi.Output.all(cluster_name=eks["cluster_name"], namespace=eks["namespace"])
                if eks is not None else None,
                rds["instance_identifier"] if rds is not None else None,
                pulumi.Output.all(*[a.arn for a in alarms])).apply(body),
            opts=child)

        self.dashboard_name = dashboard.dashboard_name
        self.dashboard_url = dashboard.dashboard_name.apply(lambda n: dashboard_url(region, n))
        self.alarm_names = pulumi.Output.all(*[a.name for a in alarms]).apply(sorted)
        self.alarm_topic_arn = topic_arn
        self.register_outputs({
            "dashboardName": self.dashboard_name,
            "dashboardUrl": self.dashboard_url,
            "alarmNames": self.alarm_names,
            "alarmTopicArn": self.alarm_topic_arn,
        })
