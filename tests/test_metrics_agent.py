"""Kong's metrics into CloudWatch (components/metrics_agent.py) and its wiring in both modes.

The agent's configurations are checked for what the agent accepts and for what they do (the
relabelling is evaluated as Prometheus evaluates it); the ECS task against botocore's
RegisterTaskDefinition model; on EKS the agent's own objects and the data plane release (rendered
by Helm from the reference chart) validated against Kubernetes' schemas. Turning metrics on is a
plan the engine would carry out without cutting traffic; off, nothing changes (tests/test_golden.py
holds the rest).
"""

from __future__ import annotations

import functools
import json
import re

import pytest
import yaml

from components import metrics_agent as agent
from components.ecs_task_definition import CONTAINER_NAME
from components.kong_facts import METRICS_PORT, PROXY_PROTOCOL_FLAG, STATUS_PORT
from components.network_policy import release_deployment_labels
from tests import chart_render
from tests.conftest import example_run, validate_aws_request
from tools.mocks import PROJECT_ROOT, RunResult, plain_values, run_program
from tools.plan import CREATE, REPLACE, SAME, UPDATE, plan
from tools.render import read_stack_config, task_definition_document, whole_numbers

STACK = "kong-aws/kong-aws/test"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
RELEASE = "kubernetes:helm.sh/v3:Release"

# Facts from aws/amazon-cloudwatch-agent (v1.300071.0), kept to the keys this module uses:
# translator/config/schema.json, definitions "logsDefinition" > metrics_collected > "prometheus"
# and "emfProcessorDefinition" (both additionalProperties false), "agentDefinition".region;
# translator/translate/otel/exporter/awsemf/prometheus.go skips a declaration without
# source_labels or metric_selectors.
PROMETHEUS_KEYS = {"cluster_name", "log_group_name", "prometheus_config_path", "emf_processor",
                   "ecs_service_discovery", "disable_metric_extraction"}
EMF_PROCESSOR_KEYS = {"metric_declaration_dedup", "metric_namespace", "metric_unit", "metric_declaration"}
DECLARATION_KEYS = {"source_labels", "label_matcher", "label_separator", "metric_selectors", "dimensions"}
DECLARATION_REQUIRED = {"source_labels", "metric_selectors"}
# Kong 3.9.3 kong/plugins/prometheus/exporter.lua: the series /metrics serves (prefix kong_).
KONG_COUNTER_LABELS = ("service", "route", "code", "source", "workspace", "consumer")
KONG_HISTOGRAM_SERIES = ("kong_request_latency_ms_bucket", "kong_request_latency_ms_sum",
                         "kong_request_latency_ms_count")
# aws/amazon-cloudwatch-agent v1.300062.0 (the pinned image's version):
# service/defaultcomponents/components.go, the component types bundled (those used here, by kind);
# translator/tocwconfig/sampleConfig/prometheus_config_linux.yaml, ids the agent's own translation
# of a Prometheus scrape uses (the merged configuration must not collide with them).
BUNDLED = {"receivers": {"prometheus", "telegraf_prometheus", "otlp"}, "processors": {"cumulativetodelta", "batch"},
           "exporters": {"awsemf", "debug"}}
AGENT_OWN_IDS = {"telegraf_prometheus", "prometheus", "awsemf/prometheus", "batch/prometheus/cloudwatchlogs",
                 "metrics/prometheus/cloudwatchlogs", "agenthealth/logs", "agenthealth/statuscode", "entitystore"}
# amazon-contributing/opentelemetry-collector-contrib (aws-cwa-dev, 2024-12):
# exporter/awsemfexporter/config.go and internal/aws/awsutil/awsconfig.go (region), the
# ``mapstructure`` keys of the exporter's configuration (those near what is used here);
# exporter/awsemfexporter/metric_declaration.go, a declaration's keys (metric_name_selectors required).
AWSEMF_KEYS = {"region", "role_arn", "namespace", "log_group_name", "log_stream_name", "dimension_rollup_option",
               "metric_declarations", "metric_descriptors", "output_destination", "log_retention",
               "resource_to_telemetry_conversion", "detailed_metrics", "version"}
AWSEMF_DECLARATION_KEYS = {"dimensions", "metric_name_selectors", "label_matchers"}
# ... exporter/awsemfexporter/factory.go / config.go: the roll-up options.
ROLLUP_OPTIONS = {"NoDimensionRollup", "SingleDimensionRollupOnly", "ZeroAndSingleDimensionRollup"}


def relabel(series: dict[str, str], rules: list[dict]) -> dict[str, str] | None:
    """Prometheus' metric relabelling of one series' labels (``__name__`` included) by ``rules``
    (``keep`` and ``replace``; regexes anchored at both ends, ``;``-joined source labels, ``${1}``
    references), or None when the series is dropped. Prometheus docs, ``<relabel_config>``."""
    labels = dict(series)
    for rule in rules:
        value = rule.get("separator", ";").join(labels.get(name, "") for name in rule.get("source_labels", []))
        match = re.fullmatch(rule.get("regex", "(.*)"), value)
        action = rule.get("action", "replace")
        if action == "keep":
            if not match:
                return None
        elif action == "replace":
            if match:
                target = re.sub(r"\$\{(\d+)\}", lambda m: match.group(int(m.group(1))) or "",
                                rule.get("replacement", "$1"))
                labels[rule["target_label"]] = target
        else:
            raise ValueError(f"relabel action {action!r} is not evaluated here")
    return labels


def _environment(container: dict, key: str) -> dict:
    return {e["name"]: e["value"] for e in container[key]}


def status_listeners(status_listen: str) -> dict[str, list[str]]:
    """Kong's ``status_listen`` as ``{address:port: [flags]}`` (a comma-separated list of
    ``<address>:<port> [flag ...]``, kong.conf.default)."""
    entries = [entry.split() for entry in status_listen.split(",")]
    return {words[0]: words[1:] for words in entries}


LOOPBACK = agent.loopback_targets()
SERVICE = agent.service_targets("kong-dp-metrics.kong.svc.cluster.local")


@pytest.mark.parametrize("targets", [LOOPBACK, SERVICE], ids=["loopback", "service"])
def test_the_scrape_reads_kongs_metrics_listener_every_minute_labelled_with_the_stack(targets):
    config = yaml.safe_load(yaml.safe_dump(agent.scrape_config(STACK, targets)))
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics" and config["global"]["scrape_interval"] == "60s"
    assert {k: v for k, v in job.items() if k.endswith("_configs") and not k.endswith("relabel_configs")} == targets
    # Every target, whatever its address, gets the Stack label (target relabelling).
    for address in ("127.0.0.1:8101", "10.0.3.7:8101"):
        assert relabel({"__address__": address}, job["relabel_configs"]) == {
            "__address__": address, agent.STACK_DIMENSION: STACK}


def test_the_targets_are_the_metrics_listener_never_the_status_listener():
    (static,) = LOOPBACK["static_configs"]
    assert static["targets"] == [f"127.0.0.1:{METRICS_PORT}"] and METRICS_PORT != STATUS_PORT
    (dns,) = SERVICE["dns_sd_configs"]
    assert (dns["type"], dns["port"], dns["names"]) == ("A", METRICS_PORT, ["kong-dp-metrics.kong.svc.cluster.local"])


@pytest.mark.parametrize("code, status_class", [("200", "2xx"), ("302", "3xx"), ("404", "4xx"), ("503", "5xx")])
def test_requests_get_their_status_class(code, status_class):
    series = {"__name__": agent.REQUESTS_METRIC, **{label: "x" for label in KONG_COUNTER_LABELS}, "code": code}
    labels = relabel(series, agent.scrape_config(STACK, LOOPBACK)["scrape_configs"][0]["metric_relabel_configs"])
    assert labels is not None and labels[agent.STATUS_CLASS_DIMENSION] == status_class


@pytest.mark.parametrize("name", ["kong_bandwidth_bytes", "kong_nginx_connections_total", *KONG_HISTOGRAM_SERIES])
def test_other_series_are_dropped_before_they_cost_log_volume(name):
    rules = agent.scrape_config(STACK, LOOPBACK)["scrape_configs"][0]["metric_relabel_configs"]
    assert relabel({"__name__": name, "code": "200"}, rules) is None


def test_the_agent_config_uses_only_what_the_agent_accepts_and_declares_the_request_metric():
    config = json.loads(_environment(agent.ecs_container(STACK, "/emf", "eu-west-1", "/logs", "kong"),
                                     "environment")[agent.AGENT_CONFIG_ENV])
    assert config["agent"] == {"region": "eu-west-1"}
    prometheus = config["logs"]["metrics_collected"]["prometheus"]
    assert set(prometheus) <= PROMETHEUS_KEYS and set(prometheus["emf_processor"]) <= EMF_PROCESSOR_KEYS
    assert prometheus["prometheus_config_path"] == f"env:{agent.SCRAPE_CONFIG_ENV}"
    assert prometheus["log_group_name"] == "/emf" and "cluster_name" not in prometheus
    assert prometheus["emf_processor"]["metric_namespace"] == agent.METRICS_NAMESPACE
    (declaration,) = prometheus["emf_processor"]["metric_declaration"]
    assert DECLARATION_REQUIRED <= set(declaration) <= DECLARATION_KEYS
    assert declaration["dimensions"] == [[agent.STACK_DIMENSION, agent.STATUS_CLASS_DIMENSION]]
    # The declaration selects the kept series by its job and name, and no histogram series.
    assert declaration["source_labels"] == ["job"] and re.search(declaration["label_matcher"], agent.SCRAPE_JOB)
    selected = [name for name in (agent.REQUESTS_METRIC, *KONG_HISTOGRAM_SERIES)
                if any(re.search(s, name) for s in declaration["metric_selectors"])]
    assert selected == [agent.REQUESTS_METRIC]
    assert agent.PLUGIN_CONFIG == {"status_code_metrics": True, "latency_metrics": True}


def _otel() -> dict:
    env = _environment(agent.ecs_container(STACK, "/emf", "eu-west-1", "/logs", "kong"), "environment")
    text = env[agent.OTEL_CONFIG_ENV]
    # The collector expands ${...} in its configuration; nothing here may look like a reference.
    assert "${" not in text
    return yaml.safe_load(text)


def test_the_latency_pipeline_uses_bundled_components_and_adds_to_the_agents_own():
    config = _otel()
    (pipeline_id, pipeline), = config["service"]["pipelines"].items()
    assert set(config["service"]) == {"pipelines"}  # service.extensions is a list: merging would replace the agent's
    assert pipeline_id.startswith("metrics/")
    for kind in ("receivers", "processors", "exporters"):
        assert pipeline[kind] == list(config[kind])  # every component declared is used, and only those
        assert {i.split("/")[0] for i in config[kind]} <= BUNDLED[kind]
    ids = {*config["receivers"], *config["processors"], *config["exporters"], pipeline_id}
    assert not ids & AGENT_OWN_IDS


def test_the_latency_exporter_declares_one_metric_by_stack_in_the_emf_log_group():
    (exporter,) = _otel()["exporters"].values()
    assert set(exporter) <= AWSEMF_KEYS and exporter["dimension_rollup_option"] in ROLLUP_OPTIONS
    assert (exporter["region"], exporter["log_group_name"], exporter["namespace"]) == (
        "eu-west-1", "/emf", agent.METRICS_NAMESPACE)
    (declaration,) = exporter["metric_declarations"]
    assert set(declaration) <= AWSEMF_DECLARATION_KEYS and declaration["metric_name_selectors"]
    assert declaration["dimensions"] == [[agent.STACK_DIMENSION]]
    # The receiver names a histogram by its family: the selectors take that name, not the series'.
    names = [agent.LATENCY_METRIC, *KONG_HISTOGRAM_SERIES, agent.REQUESTS_METRIC]
    assert [n for n in names if any(re.search(s, n) for s in declaration["metric_name_selectors"])] == [
        agent.LATENCY_METRIC]
    assert agent.LATENCY_STAT == "Average"


@pytest.mark.parametrize("name", [*KONG_HISTOGRAM_SERIES, agent.REQUESTS_METRIC, "kong_upstream_latency_ms_sum",
                                  "kong_request_latency_ms_sum_other"])
def test_the_latency_scrape_keeps_only_kongs_request_latency_series(name):
    (receiver,) = _otel()["receivers"].values()
    (job,) = receiver["config"]["scrape_configs"]
    (same,) = agent.scrape_config(STACK, LOOPBACK)["scrape_configs"]
    assert (job["static_configs"], job["relabel_configs"]) == (same["static_configs"], same["relabel_configs"])
    kept = relabel({"__name__": name, "service": "s", "route": "r", "workspace": "w"}, job["metric_relabel_configs"])
    assert (kept is not None) == (name in KONG_HISTOGRAM_SERIES)


def test_the_dashboard_reads_the_latency_metric_with_its_statistic():
    from components.monitoring import dashboard_body
    body = dashboard_body("eu-west-1", "t", "net/lb/1", kong_stack=STACK)
    (widget,) = [w for w in body["widgets"] if w["properties"].get("title") == "Average latency (ms)"]
    (entry,) = widget["properties"]["metrics"]
    assert entry[:4] == [agent.METRICS_NAMESPACE, agent.LATENCY_METRIC, agent.STACK_DIMENSION, STACK]
    assert widget["properties"]["stat"] == agent.LATENCY_STAT


def test_the_policies_allow_only_writing_to_the_emf_log_group():
    arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/kong-aws/test/data-plane/kong-metrics"
    (statement,) = agent.emf_policy(arn)["Statement"]
    assert sorted(statement["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"] == [f"{arn}:log-stream:*"]
    (trust,) = agent.pod_identity_trust_policy("kong", "kong-dp-kong")["Statement"]
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert sorted(trust["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    assert trust["Condition"]["StringEquals"]["aws:RequestTag/kubernetes-service-account"] == ["kong-dp-kong"]


# ---------------------------------------------------------------------------------------------
# The modes, turned on as the lead's config will (one run per mode, shared by the tests below).

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
#: A gateway file with the seed 002 service but no prometheus plugin: Kong metrics off.
WITHOUT_PROMETHEUS = {"_format_version": "3.0", "services": [
    {"name": "mock", "url": "https://httpbin.konghq.com", "routes": [{"name": "mock", "paths": ["/mock"]}]}]}


def _run_with_gateway(stack: str, gateway_file, prior: RunResult | None = None) -> RunResult:
    """Example stack ``stack`` run with ``kong-aws:gateway.configFile`` set to ``gateway_file``."""
    config, secrets, project = read_stack_config(stack)
    config = {**config, "kong-aws:gateway": json.dumps({"configFile": str(gateway_file)})}
    return run_program(PROJECT_ROOT / "__main__.py", config, secrets, project=project, stack=stack, prior=prior)


@functools.lru_cache(maxsize=None)
def _ecs_on() -> RunResult:
    """dev (manual Konnect endpoints, no gateway file) given seed 001's file, which enables Kong's
    prometheus plugin: the file is only validated there, and the tasks get the agent."""
    return _run_with_gateway("dev", PROJECT_ROOT / "gateway" / "konnect-managed.yaml", prior=example_run("dev"))


@functools.lru_cache(maxsize=None)
def _eks_off() -> RunResult:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "gateway.yaml"
        path.write_text(json.dumps(WITHOUT_PROMETHEUS))
        return _run_with_gateway("dev-eks", path)


def _eks_on() -> RunResult:
    """dev-eks as committed: its gateway file enables Kong's prometheus plugin."""
    return example_run("dev-eks")


def _named(result: RunResult, typ: str, suffix: str):
    (found,) = [r for r in result.of_type(typ) if r.name.endswith(suffix)]
    return found


def test_off_the_task_has_one_container_and_no_task_role():
    task = example_run("dev").one(TASK)
    assert len(json.loads(task.inputs["containerDefinitions"])) == 1 and "taskRoleArn" not in task.inputs


def test_on_the_ecs_task_runs_the_agent_next_to_kong(botocore_loader):
    result = _ecs_on()
    task = result.one(TASK)
    document = task_definition_document(whole_numbers(plain_values(task.inputs)))
    assert validate_aws_request(botocore_loader, "ecs", "RegisterTaskDefinition", document) == []
    kong, sidecar = document["containerDefinitions"]
    assert (kong["name"], sidecar["name"]) == (CONTAINER_NAME, agent.AGENT_CONTAINER)
    assert kong["essential"] and not sidecar["essential"] and sidecar["image"] == agent.AGENT_IMAGE
    # HEALTHY needs a health check on the container it waits for.
    assert sidecar["dependsOn"] == [{"containerName": CONTAINER_NAME, "condition": "HEALTHY"}] and kong["healthCheck"]
    assert sidecar["logConfiguration"]["options"]["awslogs-group"] == kong["logConfiguration"]["options"]["awslogs-group"]
    # The agent scrapes a listener Kong has, on loopback, without proxy protocol.
    listeners = status_listeners(_environment(kong, "environment")["KONG_STATUS_LISTEN"])
    scrape = yaml.safe_load(_environment(sidecar, "environment")[agent.SCRAPE_CONFIG_ENV])
    (target,) = scrape["scrape_configs"][0]["static_configs"][0]["targets"]
    assert target == f"127.0.0.1:{METRICS_PORT}" and PROXY_PROTOCOL_FLAG not in listeners[target]
    emf_group = _named(result, LOG_GROUP, "-metrics")
    assert emf_group.inputs["retentionInDays"] == _named(result, LOG_GROUP, "-logs").inputs["retentionInDays"]
    config = json.loads(_environment(sidecar, "environment")[agent.AGENT_CONFIG_ENV])
    assert config["logs"]["metrics_collected"]["prometheus"]["log_group_name"] == emf_group.outputs["name"]
    otel = yaml.safe_load(_environment(sidecar, "environment")[agent.OTEL_CONFIG_ENV])
    assert [e["log_group_name"] for e in otel["exporters"].values()] == [emf_group.outputs["name"]]
    # The task role: only ECS tasks of this account, only writing to the EMF group.
    role = _named(result, ROLE, "-task-role")
    assert document["taskRoleArn"] == role.outputs["arn"]
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "ecs-tasks.amazonaws.com"} and "aws:SourceAccount" in json.dumps(trust)
    policy = json.loads(plain_values(_named(result, ROLE_POLICY, "-task-role").inputs["policy"]))
    assert policy == agent.emf_policy(emf_group.outputs["arn"])


def test_turning_metrics_on_on_ecs_adds_a_revision_and_cuts_nothing():
    steps = plan(example_run("dev"), _ecs_on())
    changes = steps.changes()
    replaced = [urn for urn, op in changes.items() if op == REPLACE]
    # A task definition revision is immutable: the new one is a new revision the service rolls to.
    assert [steps.steps[urn].type for urn in replaced] == [TASK]
    # The agent's log group and role, and the dashboard's Kong graphs with their 5xx alarm.
    assert sorted(steps.steps[urn].type for urn, op in changes.items() if op == CREATE) == sorted(
        [ROLE, LOG_GROUP, ROLE_POLICY, ALARM])
    assert {steps.steps[urn].type for urn, op in changes.items() if op == UPDATE} <= {
        "aws:ecs/service:Service", "pulumi-python:dynamic/ecs:RolloutGate", DASHBOARD}


def _program_object(result: RunResult, kind: str, name: str) -> dict:
    (found,) = [m for m in chart_render.program_manifests(result)
                if m["kind"] == kind and m["metadata"]["name"] == name]
    return found


def test_on_eks_one_agent_deployment_scrapes_the_data_planes_as_the_associated_service_account():
    result = _eks_on()
    release = next(r for r in result.of_type(RELEASE) if r.name.endswith("-dp"))
    name, namespace = plain_values(release.inputs["name"]), plain_values(release.inputs["namespace"])
    deployment = _program_object(result, "Deployment", agent.agent_name(name))
    account = _program_object(result, "ServiceAccount", agent.agent_name(name))
    service = _program_object(result, "Service", agent.metrics_service_name(name))
    for manifest in (deployment, account, service):
        assert manifest["metadata"]["namespace"] == namespace
        assert chart_render.validation_problem(manifest, chart_render.kubernetes_version(result)) is None
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"] == {"type": "Recreate"}
    template = deployment["spec"]["template"]
    assert agent.AGENT_POD_LABELS.items() <= template["metadata"]["labels"].items()
    assert selects_labels(deployment["spec"]["selector"]["matchLabels"], template["metadata"]["labels"])
    pod = template["spec"]
    (container,) = pod["containers"]
    assert container["image"] == agent.AGENT_IMAGE and container["resources"] == agent.AGENT_RESOURCES
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    # On the network-policy nodes, as the data planes.
    dp_values = plain_values(release.inputs["values"])
    assert pod["nodeSelector"] == dp_values["nodeSelector"] and pod["nodeSelector"]
    # Credentials: the Pod Identity association names the agent's own service account.
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    association = result.one(ASSOCIATION).inputs
    assert (association["namespace"], association["serviceAccount"]) == (namespace, account["metadata"]["name"])
    role = _named(result, ROLE, "-metrics-role")
    assert plain_values(association["roleArn"]) == role.outputs["arn"]
    assert json.loads(role.inputs["assumeRolePolicy"]) == agent.pod_identity_trust_policy(
        namespace, account["metadata"]["name"])
    emf_group = _named(result, LOG_GROUP, "-metrics-logs")
    env = _environment(container, "env")
    prometheus = json.loads(env[agent.AGENT_CONFIG_ENV])["logs"]["metrics_collected"]["prometheus"]
    assert prometheus["log_group_name"] == emf_group.outputs["name"] and prometheus["cluster_name"]
    otel = yaml.safe_load(env[agent.OTEL_CONFIG_ENV])
    assert [e["log_group_name"] for e in otel["exporters"].values()] == [emf_group.outputs["name"]]
    assert json.loads(plain_values(_named(result, ROLE_POLICY, "-metrics-role").inputs["policy"])) == \
        agent.emf_policy(emf_group.outputs["arn"])
    # Both scrapes look up the headless Service of the data plane pods, on its port.
    (dns,) = yaml.safe_load(env[agent.SCRAPE_CONFIG_ENV])["scrape_configs"][0]["dns_sd_configs"]
    (receiver,) = otel["receivers"].values()
    assert receiver["config"]["scrape_configs"][0]["dns_sd_configs"] == [dns]
    assert dns["names"] == [f"{service['metadata']['name']}.{namespace}.svc.cluster.local"]
    assert service["spec"]["clusterIP"] == "None" and service["spec"]["selector"] == release_deployment_labels(name)
    assert [p["port"] for p in service["spec"]["ports"]] == [dns["port"]] == [METRICS_PORT]


def selects_labels(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


def test_on_eks_the_data_plane_pods_run_kong_alone_with_a_plain_metrics_listener():
    result = _eks_on()
    release = next(r for r in result.of_type(RELEASE) if r.name.endswith("-dp"))
    name = plain_values(release.inputs["name"])
    rendered = chart_render.render(result, name, install=False)
    (deployment,) = [m for m in rendered.applied() if m["kind"] == "Deployment"]
    assert chart_render.validation_problem(deployment, rendered.kubernetes_version) is None
    pod = deployment["spec"]["template"]["spec"]
    (kong,) = pod["containers"]
    assert selects_labels(service_selector := release_deployment_labels(name),
                          deployment["spec"]["template"]["metadata"]["labels"]), service_selector
    listeners = status_listeners(_environment(kong, "env")["KONG_STATUS_LISTEN"])
    # The probes' listener is the chart's status port; the agent's is another, without proxy protocol.
    assert list(listeners) == [f"0.0.0.0:{STATUS_PORT}", f"0.0.0.0:{METRICS_PORT}"]
    assert PROXY_PROTOCOL_FLAG not in listeners[f"0.0.0.0:{METRICS_PORT}"]
    assert ("status", STATUS_PORT) in {(p["name"], p["containerPort"]) for p in kong["ports"]}
    assert kong["readinessProbe"]["httpGet"]["port"] == kong["livenessProbe"]["httpGet"]["port"] == "status"


def test_turning_metrics_on_on_eks_updates_only_the_data_plane_release():
    # Off: a gateway file without the plugin; on: the same service plus the plugin. The gateway
    # sync re-runs for the new file (its Job, ConfigMap and Secret are per content).
    after = _run_with_gateway("dev-eks", PROJECT_ROOT / "gateway" / "dev-eks.yaml", prior=_eks_off())
    steps = plan(_eks_off(), after)
    changes = steps.changes()
    sync = {"kubernetes:batch/v1:Job", "kubernetes:core/v1:ConfigMap", DASHBOARD}
    updated = [urn for urn, op in changes.items() if op == UPDATE and steps.steps[urn].type not in sync]
    assert [steps.steps[urn].type for urn in updated] == [RELEASE] and updated[0].endswith("-dp")
    # The data plane release changes by the metrics listener only (its env.status_listen).
    (before_dp,), (after_dp,) = ([plain_values(r.inputs["values"]) for r in run.of_type(RELEASE)
                                  if r.name.endswith("-dp")] for run in (_eks_off(), after))
    assert "status_listen" not in before_dp["env"]
    assert {**after_dp, "env": {k: v for k, v in after_dp["env"].items() if k != "status_listen"}} == before_dp
    created = sorted(steps.steps[urn].type for urn, op in changes.items() if op == CREATE)
    # The agent's access and its objects, and the dashboard's Kong graphs with their 5xx alarm.
    assert created == sorted([ASSOCIATION, LOG_GROUP, ROLE, ROLE_POLICY, "kong-aws:index:PodMetricsAccess", ALARM,
                              "kubernetes:apps/v1:Deployment", "kubernetes:core/v1:Service",
                              "kubernetes:core/v1:ServiceAccount"])
    replaced = {steps.steps[urn].type for urn, op in changes.items() if op == REPLACE}
    assert replaced <= sync and all(op in (CREATE, UPDATE, REPLACE) for op in changes.values())
    assert SAME in {s.op for s in steps.steps.values()}
