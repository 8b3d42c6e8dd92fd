"""The dashboard and alarms (components/monitoring.py), built under the mocks by a small program
per variant, checked against CloudWatch's API model in botocore and the dashboard body structure."""

from __future__ import annotations

import copy
import functools
import json
import re
from typing import Any

import jsonschema
import pytest

from components import metrics_agent
from components.monitoring import (MONITORING_DEFAULTS, GatewayMonitoring, dashboard_body, healthy_hosts_query,
                                   nlb_arn_suffix, resource_prefix, validate)
from components.package import with_defaults
from tests.conftest import validate_aws_request
from tools.mocks import RunResult, plain_values, run_program
from tools.plan import plan

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
TOPIC = "aws:sns/topic:Topic"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
EKS_NLB = "k8s-kong-kongdpko-0a1b2c3d4e-0123456789abcdef.elb.us-west-2.amazonaws.com"
LB_SUFFIX = "net/kong-aws-test-nlb/0123456789abcdef"
TG_SUFFIXES = ["targetgroup/kong-http/0123456789abcdef", "targetgroup/kong-https/fedcba9876543210"]
ECS = {"cluster_name": "kong-cluster", "service_name": "kong-service", "min_count": 2, "container_insights": True}
EKS = {"cluster_name": "kong-aws-test-eks", "namespace": "kong", "control_plane_release": "kong-cp",
       "data_plane_release": "kong-dp", "container_insights": True}
RDS = {"instance_identifier": "kong-aws-test-db", "allocated_storage_gib": 20}

#: AWS's dashboard body structure as a JSON schema. Source: CloudWatch API reference, "Dashboard Body
#: Structure and Syntax": a body holds a ``widgets`` array (required, 0-500) and optional ``start``,
#: ``end``, ``periodOverride`` (``auto`` | ``inherit``) and ``variables``; a widget has ``type``,
#: ``x`` (0-23), ``y`` (>= 0), ``width`` (1-24), ``height`` (1-1000) and ``properties``. A metric
#: widget's properties need ``region`` and ``metrics`` (or a ``query``); ``view`` is
#: ``timeSeries`` | ``singleValue`` | ``gauge`` | ``bar`` | ``pie`` | ``table``; ``period`` is whole
#: seconds; each ``metrics`` entry is ``[namespace, name, (dimension name, value)*, {options}?]`` or
#: ``[{expression/id/label...}]``, the options object among ``accountId, color, expression, id,
#: label, period, region, stat, visible, yAxis``. An alarm widget needs ``alarms`` (ARNs), a text
#: widget ``markdown``.
OPTIONS = {"type": "object", "additionalProperties": False, "properties": {
    "accountId": {"type": "string"}, "color": {"type": "string"}, "expression": {"type": "string"},
    "id": {"type": "string", "pattern": "^[a-z][A-Za-z0-9_]*$"}, "label": {"type": "string"},
    "period": {"type": "integer"}, "region": {"type": "string"}, "stat": {"type": "string"},
    "visible": {"type": "boolean"}, "yAxis": {"enum": ["left", "right"]}}}
METRIC_ENTRY = {"type": "array", "minItems": 1, "anyOf": [
    {"items": False, "prefixItems": [OPTIONS], "minItems": 1, "maxItems": 1,
     "contains": {"type": "object", "required": ["expression"]}},
    {"prefixItems": [{"type": "string"}, {"type": "string"}],
     "items": {"anyOf": [{"type": "string"}, OPTIONS]}, "minItems": 2}]}
WIDGET = {"type": "object", "required": ["type", "x", "y", "width", "height", "properties"],
          "additionalProperties": False, "properties": {
              "type": {"enum": ["metric", "text", "log", "alarm", "explorer", "custom"]},
              "x": {"type": "integer", "minimum": 0, "maximum": 23}, "y": {"type": "integer", "minimum": 0},
              "width": {"type": "integer", "minimum": 1, "maximum": 24},
              "height": {"type": "integer", "minimum": 1, "maximum": 1000}, "properties": {"type": "object"}},
          "allOf": [
              {"if": {"properties": {"type": {"const": "metric"}}}, "then": {"properties": {"properties": {
                  "required": ["region", "metrics"], "properties": {
                      "metrics": {"type": "array", "minItems": 1, "items": METRIC_ENTRY},
                      "region": {"type": "string"}, "stat": {"type": "string"}, "title": {"type": "string"},
                      "period": {"type": "integer", "minimum": 1}, "stacked": {"type": "boolean"},
                      "view": {"enum": ["timeSeries", "singleValue", "gauge", "bar", "pie", "table"]}}}}}},
              {"if": {"properties": {"type": {"const": "alarm"}}}, "then": {"properties": {"properties": {
                  "required": ["alarms"], "properties": {"alarms": {
                      "type": "array", "minItems": 1, "items": {"type": "string", "pattern": "^arn:aws:cloudwatch:"}}}}}}},
              {"if": {"properties": {"type": {"const": "text"}}}, "then": {"properties": {"properties": {
                  "required": ["markdown"]}}}}]}
BODY_SCHEMA = {"type": "object", "required": ["widgets"], "additionalProperties": False, "properties": {
    "widgets": {"type": "array", "maxItems": 500, "items": WIDGET}, "start": {"type": "string"},
    "end": {"type": "string"}, "periodOverride": {"enum": ["auto", "inherit"]}, "variables": {"type": "array"}}}


def body_problems(body: dict) -> list[str]:
    """What is wrong with a dashboard body: schema errors, widgets past the 24th column, overlaps,
    and widget periods that are not a multiple of 60 (the body structure page: "any multiple of 60")."""
    problems = [e.message for e in jsonschema.Draft202012Validator(BODY_SCHEMA).iter_errors(body)]
    if problems:
        return problems
    cells: dict[tuple[int, int], int] = {}
    for index, widget in enumerate(body["widgets"]):
        if widget["x"] + widget["width"] > 24:
            problems.append(f"widget {index} ends past column 24")
        if widget["properties"].get("period", 60) % 60:
            problems.append(f"widget {index}: period is not a multiple of 60")
        for x in range(widget["x"], widget["x"] + widget["width"]):
            for y in range(widget["y"], widget["y"] + widget["height"]):
                if (x, y) in cells:
                    problems.append(f"widget {index} overlaps widget {cells[(x, y)]}")
                cells[(x, y)] = index
    return sorted(set(problems))


def build(**args: Any) -> RunResult:
    """A program run of one GatewayMonitoring with ``args`` (region us-west-2, stack ``test``)."""
    return _build(json.dumps(args, sort_keys=True))


@functools.lru_cache(maxsize=None)
def _cached(args_json: str) -> RunResult:
    args = json.loads(args_json)

    def program() -> None:
        GatewayMonitoring("kong-monitoring", {"region": "us-west-2", **args})

    return run_program(program, {"aws:region": "us-west-2"})


def _build(args_json: str) -> RunResult:
    return copy.deepcopy(_cached(args_json))


VARIANTS: dict[str, dict[str, Any]] = {
    "ecs": dict(load_balancer_arn_suffix=LB_SUFFIX, target_group_arn_suffixes=TG_SUFFIXES, ecs=ECS, kong_metrics=True),
    "ecs-no-insights": dict(load_balancer_arn_suffix=LB_SUFFIX, target_group_arn_suffixes=TG_SUFFIXES,
                            ecs={**ECS, "container_insights": False}),
    "eks-rds-kong": dict(load_balancer_hostname=EKS_NLB, eks=EKS, rds=RDS, kong_metrics=True,
                         alarm_emails=["ops@example.com", "oncall@example.com"]),
    "eks": dict(load_balancer_hostname=EKS_NLB, eks=EKS, alarm_topic_arn="arn:aws:sns:us-west-2:123456789012:ops"),
}


def body_of(result: RunResult) -> dict:
    return json.loads(plain_values(result.one(DASHBOARD).inputs)["dashboardBody"])


def alarms_of(result: RunResult) -> dict[str, dict]:
    """Alarms by role (the name after ``kong-aws-test-``), inputs without secret markers."""
    return {plain_values(a.inputs)["name"].removeprefix("kong-aws-test-"): plain_values(a.inputs)
            for a in result.of_type(ALARM)}


def _whole(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def put_metric_alarm(inputs: dict) -> dict:
    """The PutMetricAlarm request a registered ``aws.cloudwatch.MetricAlarm`` stands for (provider
    field -> API field, as terraform-provider-aws's aws_cloudwatch_metric_alarm maps them)."""
    def query(q: dict) -> dict:
        out: dict[str, Any] = {"Id": q["id"], "ReturnData": q["returnData"]}
        for key, field in (("expression", "Expression"), ("label", "Label")):
            if key in q:
                out[field] = q[key]
        if "period" in q:
            out["Period"] = _whole(q["period"])
        if "metric" in q:
            m = q["metric"]
            out["MetricStat"] = {"Metric": {"Namespace": m["namespace"], "MetricName": m["metricName"],
                                            "Dimensions": [{"Name": k, "Value": v} for k, v in m["dimensions"].items()]},
                                 "Period": _whole(m["period"]), "Stat": m["stat"]}
        return out

    request = {"AlarmName": inputs["name"], "AlarmDescription": inputs["alarmDescription"],
               "ActionsEnabled": inputs["actionsEnabled"], "Metrics": [query(q) for q in inputs["metricQueries"]],
               "EvaluationPeriods": _whole(inputs["evaluationPeriods"]),
               "DatapointsToAlarm": _whole(inputs["datapointsToAlarm"]), "Threshold": inputs["threshold"],
               "ComparisonOperator": inputs["comparisonOperator"], "TreatMissingData": inputs["treatMissingData"]}
    for key, field in (("alarmActions", "AlarmActions"), ("okActions", "OKActions")):
        if key in inputs:
            request[field] = inputs[key]
    return request


# --- the dashboard body --------------------------------------------------------------------------

@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_dashboard_body_has_aws_structure_and_is_a_valid_put_dashboard(variant, botocore_loader):
    result = build(**VARIANTS[variant])
    dashboard = plain_values(result.one(DASHBOARD).inputs)
    assert dashboard["dashboardName"] == "kong-aws-test"
    assert validate_aws_request(botocore_loader, "cloudwatch", "PutDashboard",
                                {"DashboardName": dashboard["dashboardName"],
                                 "DashboardBody": dashboard["dashboardBody"]}) == []
    body = json.loads(dashboard["dashboardBody"])
    assert body_problems(body) == []
    # Every metric graph is in the stack's region, and the alarm widget lists every alarm.
    widgets = body["widgets"]
    assert {w["properties"]["region"] for w in widgets if w["type"] == "metric"} == {"us-west-2"}
    (alarm_widget,) = [w for w in widgets if w["type"] == "alarm"]
    assert sorted(alarm_widget["properties"]["alarms"]) == sorted(a.outputs["arn"] for a in result.of_type(ALARM))


def test_the_structure_check_can_fail():
    body = dashboard_body("us-west-2", "t", LB_SUFFIX)
    assert body_problems(body) == []
    wide = copy.deepcopy(body)
    wide["widgets"][1]["x"] = 20
    assert any("past column 24" in p or "overlaps" in p for p in body_problems(wide))
    no_region = copy.deepcopy(body)
    del no_region["widgets"][1]["properties"]["region"]
    assert body_problems(no_region)
    bad_view = copy.deepcopy(body)
    bad_view["widgets"][1]["properties"]["view"] = "lines"
    assert body_problems(bad_view)


def _series(body: dict) -> set[tuple[str, str]]:
    """(namespace, metric) of every graphed metric, those a SEARCH finds included."""
    found = set()
    for w in body["widgets"]:
        for entry in w["properties"]["metrics"] if w["type"] == "metric" else []:
            if isinstance(entry[0], str):
                found.add((entry[0], entry[1]))
            elif "SEARCH(" in entry[0].get("expression", ""):
                search = re.search(r"\{([^,}]+),[^}]*\} MetricName=\"(\w+)\"", entry[0]["expression"])
                assert search, entry
                found.add((search.group(1), search.group(2)))
    return found


def test_what_each_dashboard_shows():
    ecs, bare, eks = (body_of(build(**VARIANTS[v])) for v in ("ecs", "ecs-no-insights", "eks-rds-kong"))
    nlb = {("AWS/NetworkELB", m) for m in ("HealthyHostCount", "UnHealthyHostCount", "NewFlowCount", "ProcessedBytes",
                                           "TCP_Client_Reset_Count", "TCP_Target_Reset_Count", "TCP_ELB_Reset_Count")}
    kong = {(metrics_agent.METRICS_NAMESPACE, m) for m in (metrics_agent.REQUESTS_METRIC, metrics_agent.LATENCY_METRIC)}
    assert _series(ecs) == nlb | kong | {("ECS/ContainerInsights", "RunningTaskCount"),
                                         ("ECS/ContainerInsights", "DesiredTaskCount"),
                                         ("AWS/ECS", "CPUUtilization"), ("AWS/ECS", "MemoryUtilization")}
    # Without Container Insights there are no task counts to graph.
    assert _series(bare) == nlb | {("AWS/ECS", "CPUUtilization"), ("AWS/ECS", "MemoryUtilization")}
    # hybrid-eks: pods, database, Kong.
    assert _series(eks) == nlb | kong | {
        ("ContainerInsights", m) for m in ("replicas_ready", "replicas_desired", "pod_cpu_utilization",
                                           "pod_memory_utilization")} | {
        ("AWS/RDS", m) for m in ("CPUUtilization", "DatabaseConnections", "FreeStorageSpace")}
    pods = [e for w in eks["widgets"] if w["type"] == "metric" for e in w["properties"]["metrics"]
            if e[0] == "ContainerInsights"]
    # The chart's Deployments (<release>-kong), as Container Insights names them (PodName).
    assert {tuple(e[2:8]) for e in pods} == {("PodName", d, "Namespace", "kong", "ClusterName", "kong-aws-test-eks")
                                             for d in ("kong-cp-kong", "kong-dp-kong")}
    requests = [e for w in ecs["widgets"] if w["type"] == "metric" for e in w["properties"]["metrics"]
                if len(e) > 1 and e[1] == metrics_agent.REQUESTS_METRIC]
    # ECS's metrics by the dimensions AWS/ECS and ECS/ContainerInsights publish (ClusterName, ServiceName).
    tasks = [e for w in ecs["widgets"] if w["type"] == "metric" for e in w["properties"]["metrics"]
             if e[0] in ("AWS/ECS", "ECS/ContainerInsights")]
    assert len(tasks) == 4 and {tuple(e[2:6]) for e in tasks} == {("ClusterName", "kong-cluster",
                                                                   "ServiceName", "kong-service")}
    stack = metrics_agent.stack_dimension_value("kong-aws", "test")
    assert {(e[2], e[3], e[4]) for e in requests} == {(metrics_agent.STACK_DIMENSION, stack,
                                                       metrics_agent.STATUS_CLASS_DIMENSION)}


# --- the alarms ------------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_alarm_is_a_valid_put_metric_alarm(variant, botocore_loader):
    for role, inputs in alarms_of(build(**VARIANTS[variant])).items():
        request = put_metric_alarm(inputs)
        assert validate_aws_request(botocore_loader, "cloudwatch", "PutMetricAlarm", request) == [], role
        # One query's result is what the alarm watches; at most 10 metrics (PutMetricAlarm docs).
        assert sum(q["ReturnData"] for q in request["Metrics"]) == 1
        assert sum("MetricStat" in q for q in request["Metrics"]) <= 10


def test_the_put_metric_alarm_check_can_fail(botocore_loader):
    inputs = alarms_of(build(**VARIANTS["ecs"]))["no-healthy-target"]
    bad = {**put_metric_alarm(inputs), "ComparisonOperator": "Below"}
    assert validate_aws_request(botocore_loader, "cloudwatch", "PutMetricAlarm", bad) != []


#: role -> (comparison, threshold, periods, missing data)
EXPECTED = {
    "ecs": {"no-healthy-target": ("LessThanThreshold", 1, 2, "breaching"),
            "tasks-below-desired": ("GreaterThanThreshold", 0, 5, "breaching"),
            "5xx-rate": ("GreaterThanThreshold", 5, 5, "notBreaching")},
    "ecs-no-insights": {"no-healthy-target": ("LessThanThreshold", 1, 2, "breaching"),
                        "tasks-below-desired": ("LessThanThreshold", 2, 5, "breaching")},
    "eks-rds-kong": {"no-healthy-target": ("LessThanThreshold", 1, 2, "breaching"),
                     "cp-pods-below-desired": ("GreaterThanThreshold", 0, 5, "breaching"),
                     "dp-pods-below-desired": ("GreaterThanThreshold", 0, 5, "breaching"),
                     "5xx-rate": ("GreaterThanThreshold", 5, 5, "notBreaching"),
                     "db-storage-low": ("LessThanThreshold", 0.1 * 20 * 1024 ** 3, 1, "missing")},
    "eks": {"no-healthy-target": ("LessThanThreshold", 1, 2, "breaching"),
            "cp-pods-below-desired": ("GreaterThanThreshold", 0, 5, "breaching"),
            "dp-pods-below-desired": ("GreaterThanThreshold", 0, 5, "breaching")},
}


@pytest.mark.parametrize("variant", sorted(EXPECTED))
def test_alarm_conditions(variant):
    alarms = alarms_of(build(**VARIANTS[variant]))
    assert {role: (a["comparisonOperator"], a["threshold"], a["evaluationPeriods"], a["treatMissingData"])
            for role, a in alarms.items()} == EXPECTED[variant]
    for a in alarms.values():
        assert a["datapointsToAlarm"] == a["evaluationPeriods"]


def test_alarm_queries_read_the_right_metrics():
    ecs = alarms_of(build(**VARIANTS["ecs"]))
    (healthy,) = ecs["no-healthy-target"]["metricQueries"]
    assert healthy["expression"] == healthy_hosts_query(LB_SUFFIX)
    # Summed over the zones and target groups: 0 only when no target is healthy anywhere.
    assert healthy["expression"] == ('SELECT SUM(HealthyHostCount) FROM SCHEMA("AWS/NetworkELB", AvailabilityZone, '
                                     f"LoadBalancer, TargetGroup) WHERE LoadBalancer = '{LB_SUFFIX}'")
    # Without Container Insights, the tasks alarm counts the http target group's healthy targets.
    (tasks_bare,) = alarms_of(build(**VARIANTS["ecs-no-insights"]))["tasks-below-desired"]["metricQueries"]
    assert tasks_bare["expression"] == healthy_hosts_query(LB_SUFFIX, TG_SUFFIXES[0])
    assert tasks_bare["expression"].endswith(f"AND TargetGroup = '{TG_SUFFIXES[0]}'")
    tasks = {q["id"]: q for q in ecs["tasks-below-desired"]["metricQueries"]}
    assert tasks["e1"]["expression"] == "desired - running"
    assert tasks["running"]["metric"]["metricName"] == "RunningTaskCount"
    assert tasks["running"]["metric"]["dimensions"] == {"ClusterName": "kong-cluster", "ServiceName": "kong-service"}
    rate = {q["id"]: q for q in ecs["5xx-rate"]["metricQueries"]}
    assert {q["metric"]["dimensions"][metrics_agent.STATUS_CLASS_DIMENSION] for q in rate.values() if "metric" in q} == {
        "1xx", "2xx", "3xx", "4xx", "5xx"}
    assert rate["e1"]["expression"].startswith("100 * FILL(r5xx, 0) / (")
    eks = alarms_of(build(**VARIANTS["eks-rds-kong"]))
    dp = {q["id"]: q for q in eks["dp-pods-below-desired"]["metricQueries"]}
    assert dp["ready"]["metric"]["namespace"] == "ContainerInsights"
    assert dp["ready"]["metric"]["dimensions"] == {"PodName": "kong-dp-kong", "Namespace": "kong",
                                                   "ClusterName": "kong-aws-test-eks"}
    storage = {q["id"]: q for q in eks["db-storage-low"]["metricQueries"]}
    assert storage["free"]["metric"]["dimensions"] == {"DBInstanceIdentifier": "kong-aws-test-db"}


def test_hybrid_reads_the_proxy_nlb_from_its_dns_name():
    result = build(**VARIANTS["eks"])
    (healthy,) = alarms_of(result)["no-healthy-target"]["metricQueries"]
    assert "WHERE LoadBalancer = 'net/k8s-kong-kongdpko-0a1b2c3d4e/0123456789abcdef'" in healthy["expression"]


def test_a_proxy_that_is_not_an_nlb_does_not_fail_the_update():
    # A classic load balancer's name (an existing cluster's in-tree controller): graphs without data.
    clb = "a1b2c3d4e5f60718293a4b5c6d7e8f90-1234567890.us-west-2.elb.amazonaws.com"
    result = build(**{**VARIANTS["eks"], "load_balancer_hostname": clb})
    (healthy,) = alarms_of(result)["no-healthy-target"]["metricQueries"]
    assert "WHERE LoadBalancer = 'net/a1b2c3d4e5f60718293a4b5c6d7e8f90-1234567890/unknown'" in healthy["expression"]


@pytest.mark.parametrize(("dns_name", "suffix"), [
    # The AWS CLI reference's create-load-balancer example: DNS name and ARN of one NLB.
    ("my-network-load-balancer-5d1b75f4f1cee11e.elb.us-west-2.amazonaws.com",
     "net/my-network-load-balancer/5d1b75f4f1cee11e"),
    ("internal-edge-0123456789abcdef.elb.eu-west-1.amazonaws.com", "net/edge/0123456789abcdef"),
    ("k8s-kong-kongdpko-0a1b2c3d4e-0123456789abcdef.elb.cn-north-1.amazonaws.com.cn",
     "net/k8s-kong-kongdpko-0a1b2c3d4e/0123456789abcdef"),
])
def test_nlb_arn_suffix_from_dns_name(dns_name, suffix):
    assert nlb_arn_suffix(dns_name) == suffix


@pytest.mark.parametrize("dns_name", [
    "my-load-balancer-424835706.us-west-2.elb.amazonaws.com",  # an ALB's (botocore elbv2 examples)
    "kong.example.com", "edge-0123456789abcdeg.elb.us-west-2.amazonaws.com"])
def test_nlb_arn_suffix_refuses_other_names(dns_name):
    with pytest.raises(ValueError, match="not a Network Load Balancer"):
        nlb_arn_suffix(dns_name)


# --- notifications -----------------------------------------------------------------------------------

def test_actions_only_with_a_topic():
    created = build(**VARIANTS["eks-rds-kong"])
    topic = created.one(TOPIC)
    assert [plain_values(s.inputs)["endpoint"] for s in created.of_type(SUBSCRIPTION)] == [
        "ops@example.com", "oncall@example.com"]
    assert {plain_values(s.inputs)["protocol"] for s in created.of_type(SUBSCRIPTION)} == {"email"}
    # Not encrypted with alias/aws/sns: CloudWatch could not publish to it.
    assert "kmsMasterKeyId" not in topic.inputs
    for inputs in alarms_of(created).values():
        assert inputs["alarmActions"] == inputs["okActions"] == [topic.outputs["arn"]]
    existing = build(**VARIANTS["eks"])
    assert existing.of_type(TOPIC) == []
    for inputs in alarms_of(existing).values():
        assert inputs["alarmActions"] == ["arn:aws:sns:us-west-2:123456789012:ops"]
    silent = build(**VARIANTS["ecs"])
    assert silent.of_type(TOPIC) == []
    for inputs in alarms_of(silent).values():
        assert "alarmActions" not in inputs and "okActions" not in inputs


def test_turning_alarm_email_on_creates_the_topic_and_updates_the_alarms_in_place():
    args = VARIANTS["ecs"]

    def program(emails: list[str]) -> Any:
        def declare() -> None:
            GatewayMonitoring("kong-monitoring", {"region": "us-west-2", **args, "alarm_emails": emails})
        return declare

    before = _cached(json.dumps(args, sort_keys=True))
    after = run_program(program(["ops@example.com"]), {"aws:region": "us-west-2"}, prior=before)
    steps = plan(before, after)
    assert steps.ops(TOPIC) == ["create"] and steps.ops(SUBSCRIPTION) == ["create"]
    assert steps.ops(ALARM) == ["update"] * 3
    assert {c for s in steps.of_type(ALARM) for c in s.changed} == {"alarmActions", "okActions"}
    assert steps.by_op("replace") == [] and steps.by_op("delete") == []


@pytest.mark.parametrize(("change", "alarms", "changed"), [
    # A longer window: the alarms that use it (tasks, 5xx) change in place.
    ({"evaluation_minutes": 10}, {"tasks-below-desired", "5xx-rate"}, {"evaluationPeriods", "datapointsToAlarm",
                                                                       "alarmDescription"}),
    ({"error_rate_percent": 2.5}, {"5xx-rate"}, {"threshold", "alarmDescription"}),
    # From the stack's topic to one of the team's: the topic and its subscription go after the
    # alarms point at the new one.
    ({"alarm_emails": [], "alarm_topic_arn": "arn:aws:sns:us-west-2:123456789012:team"},
     {"no-healthy-target", "tasks-below-desired", "5xx-rate"}, {"alarmActions", "okActions"}),
], ids=["evaluation-minutes", "error-rate", "own-topic"])
def test_changing_a_setting_updates_only_the_alarms_it_concerns(change, alarms, changed):
    args = {**VARIANTS["ecs"], "alarm_emails": ["ops@example.com"], "kong_metrics": True}

    def program(settings: dict) -> Any:
        def declare() -> None:
            GatewayMonitoring("kong-monitoring", {"region": "us-west-2", **settings})
        return declare

    before = run_program(program(args), {"aws:region": "us-west-2"})
    steps = plan(before, run_program(program({**args, **change}), {"aws:region": "us-west-2"}, prior=before))
    assert {s.urn.rsplit("::", 1)[-1].removeprefix("kong-monitoring-") for s in steps.of_type(ALARM)
            if s.op == "update"} == alarms
    assert {c for s in steps.of_type(ALARM) for c in s.changed} == changed
    assert steps.by_op("replace") == []
    assert {s.type for s in steps.by_op("delete")} == ({TOPIC, SUBSCRIPTION} if "alarm_topic_arn" in change else set())


# --- settings ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("change, message", [
    ({"ecs": ECS, "eks": EKS}, "exactly one of ecs and eks"),
    ({}, "exactly one of ecs and eks"),
    ({"ecs": ECS}, "ecs needs load_balancer_arn_suffix"),
    ({"eks": EKS}, "eks needs load_balancer_hostname"),
    ({"ecs": ECS, "load_balancer_arn_suffix": LB_SUFFIX, "alarm_emails": ["a@example.com"],
      "alarm_topic_arn": "arn:aws:sns:us-west-2:123456789012:ops"}, "exclude each other"),
    ({"ecs": ECS, "load_balancer_arn_suffix": LB_SUFFIX, "evaluation_minutes": 0}, "evaluation_minutes 0"),
    ({"ecs": ECS, "load_balancer_arn_suffix": LB_SUFFIX, "error_rate_percent": 100}, "error_rate_percent 100"),
    ({"ecs": ECS, "load_balancer_arn_suffix": LB_SUFFIX, "free_storage_percent": 0}, "free_storage_percent 0"),
])
def test_invalid_arguments_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        validate(with_defaults({"region": "us-west-2", **change}, MONITORING_DEFAULTS))  # type: ignore[arg-type]


def test_valid_arguments_pass():
    validate(with_defaults({"region": "us-west-2", "ecs": ECS, "load_balancer_arn_suffix": LB_SUFFIX},  # type: ignore[arg-type]
                           MONITORING_DEFAULTS))


@pytest.mark.parametrize("project, stack", [("kong-aws", "dev"), ("kong-aws", "a.very.long.stack")])
def test_resource_prefix_is_a_valid_dashboard_name(project, stack):
    # PutDashboard: "can contain only alphanumerics, dash (-), and underscore (_)".
    assert re.fullmatch(r"[A-Za-z0-9_-]+", resource_prefix(project, stack))


def test_outputs():
    result = run_program(lambda: _export(GatewayMonitoring("kong-monitoring", {"region": "us-west-2",
                                                                               **VARIANTS["eks"]})),
                         {"aws:region": "us-west-2"})
    url, _ = result.outputs["dashboard_url"]
    assert url == ("https://us-west-2.console.aws.amazon.com/cloudwatch/home?region=us-west-2"
                   "#dashboards/dashboard/kong-aws-test")
    assert result.outputs["alarm_names"][0] == sorted(
        f"kong-aws-test-{r}" for r in ("no-healthy-target", "cp-pods-below-desired", "dp-pods-below-desired"))
    assert result.outputs["alarm_topic_arn"][0] == "arn:aws:sns:us-west-2:123456789012:ops"


def _export(monitoring: GatewayMonitoring) -> None:
    import pulumi
    pulumi.export("dashboard_url", monitoring.dashboard_url)
    pulumi.export("alarm_names", monitoring.alarm_names)
    pulumi.export("alarm_topic_arn", monitoring.alarm_topic_arn)
