"""Price a stack's offline render: ``python -m tools.cost STACK [--json | --markdown]``.

Runs the program of ``STACK`` under the mocks (:func:`tools.render.run_stack`), then gives every
billable resource it registered a monthly estimate in USD at the stack's ``aws:region``, with the
rates of :mod:`tools.prices` and the assumptions in :data:`ASSUMPTIONS` (730 hours; data processed,
log volume and NLCU assumed). Prints a table and a total; ``--json`` prints
``{"region", "monthly_usd", "items": [{"urn", "type", "monthly_usd", "basis"}], "assumptions"}``;
``--markdown`` prints the table as a pull-request comment takes it.

``--resources PATH`` prices a render already written instead. ``--write-docs`` regenerates
``docs/costs.md`` from every example stack's committed render (``--check-docs`` exits
with status 1 when it differs). Invalid config: prints the error, exits with status 2. A region
without its own rates is priced at us-east-1's and flagged as estimated. Not priced: data transfer
out, taxes, support, Savings Plans, free tiers and Konnect's subscription.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from tools.mocks import PROJECT_ROOT, RunResult
from tools.prices import FARGATE_SPOT_FACTOR, HOURS_PER_MONTH, RATES, Rate, rates_for

DOCS = PROJECT_ROOT / "docs" / "costs.md"

#: What is assumed where the render cannot say: (key, value, text).
NAT_GB_PER_GATEWAY = 5.0
NLCU_PER_NLB = 1.0
LOG_GB_PER_GROUP = 5.0
CONTAINER_INSIGHTS_METRICS = 40
NODE_ROOT_GB = 20
NODE_VCPU_FOR_PODS = 1.7
NODE_GIB_FOR_PODS = 6.4
MIN_NODES = 2
RDS_BACKUP_FACTOR = 1.5
#: Kong's metrics through the agent (components/metrics_agent.py): requests by five status classes
#: and the latency metric, one custom metric each.
KONG_CUSTOM_METRICS = 6

ASSUMPTIONS: list[str] = [
    f"{HOURS_PER_MONTH} hours in a month; everything runs all month.",
    f"ECS services run their scaling minimum (or desiredCount without a scaler); FARGATE_SPOT tasks "
    f"cost {FARGATE_SPOT_FACTOR:.0%} of on-demand (70 % off; Spot prices float).",
    f"{NAT_GB_PER_GATEWAY:g} GB processed per NAT gateway a month (image pulls, Konnect sync, logs).",
    f"{NLCU_PER_NLB:g} NLCU per Network Load Balancer, all month (light traffic).",
    "Public IPv4: each Elastic IP, each zone of an internet-facing NLB, each task with a public IP.",
    f"{LOG_GB_PER_GROUP:g} GB ingested per CloudWatch log group a month; storage within retention left out.",
    f"Container Insights (ECS, 'enabled'): {CONTAINER_INSIGHTS_METRICS} custom metrics per cluster "
    "(cluster, service and task-family dimensions; the issue's figure of about $12), performance log "
    "events left out; 'enhanced' is priced the same and costs more.",
    f"EKS Auto Mode nodes: m5.large-sized, {NODE_VCPU_FOR_PODS:g} vCPU and {NODE_GIB_FOR_PODS:g} GiB each "
    f"for pods after system pods, at least {MIN_NODES} (two zones), enough for the pods' requests at "
    f"their minimum replicas; a {NODE_ROOT_GB} GB gp3 root volume each. Auto Mode picks the real types.",
    f"RDS backups: {RDS_BACKUP_FACTOR:g} x the allocated storage kept, the first 1 x free.",
    "CloudWatch alarms: each metric an alarm reads is an alarm metric; a Metrics Insights alarm counts one. "
    f"Kong's metrics (the prometheus plugin): {KONG_CUSTOM_METRICS} custom metrics. Container Insights on EKS "
    "(enhanced observability, billed per observation) is not priced.",
    "KMS: $1 a key-month; rotated key versions and requests left out.",
    "Not included: data transfer out ($0.09/GB in us-east-1), taxes, support, Savings Plans, free "
    "tiers, Konnect's subscription.",
]


@dataclass
class Item:
    """One priced resource: its URN and type, the monthly USD and the arithmetic behind it."""

    urn: str
    type: str
    monthly_usd: float
    basis: str


@dataclass
class Estimate:
    """A stack's estimate: ``region``, ``estimated_region`` (rates taken from us-east-1), items."""

    region: str
    estimated_region: bool
    items: list[Item] = field(default_factory=list)

    @property
    def monthly_usd(self) -> float:
        return round(sum(item.monthly_usd for item in self.items), 2)

    def as_json(self) -> dict[str, Any]:
        assumptions = list(ASSUMPTIONS)
        if self.estimated_region:
            assumptions.insert(0, f"{self.region} has no rates of its own here: priced at us-east-1's "
                                  "rates (estimated; other regions are usually 10-30 % higher).")
        return {"region": self.region, "monthly_usd": self.monthly_usd,
                "items": [{"urn": i.urn, "type": i.type, "monthly_usd": i.monthly_usd, "basis": i.basis}
                          for i in self.items],
                "assumptions": assumptions}


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _rate(value: float) -> str:
    """A rate with all its digits ($0.004445)."""
    return f"${value:g}"


@dataclass(frozen=True)
class Resource:
    """What the estimate reads of a registered resource (a render's ``resources.json`` entry)."""

    urn: str
    type: str
    name: str
    inputs: dict


class _Resources:
    def __init__(self, resources: list[Resource]) -> None:
        self.registrations = resources

    def of_type(self, typ: str) -> list[Resource]:
        return [r for r in self.registrations if r.type == typ]


class _Pricer:
    def __init__(self, result: _Resources, region: str) -> None:
        self.result = result
        self.rates, self.estimated = rates_for(region)
        self.estimate = Estimate(region, self.estimated)

    def rate(self, key: str) -> float:
        return self.rates[key].usd

    def add(self, reg: Resource, usd: float, basis: str) -> None:
        self.estimate.items.append(Item(reg.urn, reg.type, round(usd + 1e-9, 2), basis))  # half-up cents

    def hourly(self, reg: Resource, key: str, count: float, what: str) -> None:
        rate = self.rate(key)
        self.add(reg, count * rate * HOURS_PER_MONTH,
                 f"{what}: {count:g} x {_rate(rate)}/h x {HOURS_PER_MONTH} h")

    # ECS -----------------------------------------------------------------------------------
    def ecs_service(self, reg: Resource) -> None:
        inputs = reg.inputs
        count = float(inputs.get("desiredCount") or 0)
        for target in self.result.of_type("aws:appautoscaling/target:Target"):
            resource_id = str(target.inputs.get("resourceId", ""))
            if resource_id.split("/")[-1].startswith(f"{reg.name}-") or resource_id.endswith(f"/{reg.name}"):
                count = float(target.inputs["minCapacity"])
        family = str(inputs.get("taskDefinition", "")).rsplit("/", 1)[-1].split(":")[0]
        task = next((t for t in self.result.of_type("aws:ecs/taskDefinition:TaskDefinition")
                     if t.inputs.get("family") == family), None)
        if task is None:
            self.add(reg, 0.0, f"task definition {family!r} not in the render: not priced")
            return
        vcpu = int(task.inputs["cpu"]) / 1024
        gb = int(task.inputs["memory"]) / 1024
        arch = ((task.inputs.get("runtimePlatform") or {}).get("cpuArchitecture") or "X86_64").upper()
        suffix = "arm" if arch == "ARM64" else "x86"
        per_task_hour = vcpu * self.rate(f"fargate_vcpu_{suffix}") + gb * self.rate(f"fargate_gb_{suffix}")
        spot = spot_tasks(self._strategy(inputs), count)
        on_demand = count - spot
        usd = (on_demand + spot * FARGATE_SPOT_FACTOR) * per_task_hour * HOURS_PER_MONTH
        self.add(reg, usd,
                 f"Fargate {arch}: {count:g} tasks x ({vcpu:g} vCPU x {_rate(self.rate(f'fargate_vcpu_{suffix}'))}"
                 f" + {gb:g} GB x {_rate(self.rate(f'fargate_gb_{suffix}'))}) x {HOURS_PER_MONTH} h"
                 + (f", {spot:g} of them on FARGATE_SPOT at {FARGATE_SPOT_FACTOR:.0%}" if spot else ""))
        if (inputs.get("networkConfiguration") or {}).get("assignPublicIp"):
            self.hourly(reg, "ipv4_hour", count, "public IPv4 of each task")

    def _strategy(self, service_inputs: dict) -> list[dict]:
        strategy = service_inputs.get("capacityProviderStrategies") or []
        if not strategy:
            for capacity in self.result.of_type("aws:ecs/clusterCapacityProviders:ClusterCapacityProviders"):
                strategy = capacity.inputs.get("defaultCapacityProviderStrategies") or []
        return list(strategy)

    def ecs_cluster(self, reg: Resource) -> None:
        settings = {s.get("name"): s.get("value") for s in reg.inputs.get("settings") or []}
        mode = settings.get("containerInsights", "disabled")
        if mode in ("enabled", "enhanced"):
            rate = self.rate("metric_month")
            self.add(reg, CONTAINER_INSIGHTS_METRICS * rate,
                     f"Container Insights ({mode}): {CONTAINER_INSIGHTS_METRICS} metrics x {_rate(rate)}/month")

    # Network ---------------------------------------------------------------------------------
    def nat_gateway(self, reg: Resource) -> None:
        hour, gb = self.rate("nat_hour"), self.rate("nat_gb")
        self.add(reg, hour * HOURS_PER_MONTH + gb * NAT_GB_PER_GATEWAY,
                 f"NAT gateway: {_rate(hour)}/h x {HOURS_PER_MONTH} h + {NAT_GB_PER_GATEWAY:g} GB x {_rate(gb)}")

    def eip(self, reg: Resource) -> None:
        self.hourly(reg, "ipv4_hour", 1, "public IPv4 (Elastic IP)")

    def load_balancer(self, reg: Resource) -> None:
        inputs = reg.inputs
        if inputs.get("loadBalancerType", "application") != "network":
            self.add(reg, 0.0, f"{inputs.get('loadBalancerType', 'application')} load balancer: no rate here, not priced")
            return
        zones = len(inputs.get("subnets") or inputs.get("subnetMappings") or [])
        self._nlb(reg, "NLB", internet_facing=not inputs.get("internal", False), zones=zones)

    def _nlb(self, reg: Resource, what: str, internet_facing: bool, zones: int) -> None:
        hour, nlcu = self.rate("nlb_hour"), self.rate("nlcu_hour")
        self.add(reg, (hour + NLCU_PER_NLB * nlcu) * HOURS_PER_MONTH,
                 f"{what}: ({_rate(hour)}/h + {NLCU_PER_NLB:g} NLCU x {_rate(nlcu)}/h) x {HOURS_PER_MONTH} h")
        if internet_facing and zones:
            self.hourly(reg, "ipv4_hour", zones, f"public IPv4 of the internet-facing {what}, one per zone")

    # Secrets, keys, logs ------------------------------------------------------------------------
    def secret(self, reg: Resource) -> None:
        rate = self.rate("secret_month")
        self.add(reg, rate, f"Secrets Manager: 1 secret x {_rate(rate)}/month")

    def kms_key(self, reg: Resource) -> None:
        rate = self.rate("kms_key_month")
        self.add(reg, rate, f"KMS customer managed key: {_rate(rate)}/month")

    def log_group(self, reg: Resource) -> None:
        rate = self.rate("logs_gb")
        self.add(reg, LOG_GB_PER_GROUP * rate, f"CloudWatch Logs: {LOG_GB_PER_GROUP:g} GB x {_rate(rate)}/GB")
        if str(reg.inputs.get("name", "")).endswith("/kong-metrics"):  # the metrics agent's EMF group
            self.kong_metrics(reg)

    def dashboard(self, reg: Resource) -> None:
        rate = self.rate("dashboard_month")
        self.add(reg, rate, f"CloudWatch dashboard: {_rate(rate)}/month")

    def metric_alarm(self, reg: Resource) -> None:
        queries = reg.inputs.get("metricQueries") or []
        metrics = sum(1 for q in queries if q.get("metric")) or 1
        rate = self.rate("alarm_metric_month")
        self.add(reg, metrics * rate, f"CloudWatch alarm: {metrics} metric(s) x {_rate(rate)}/month")

    def kong_metrics(self, reg: Resource) -> None:
        rate = self.rate("metric_month")
        self.add(reg, KONG_CUSTOM_METRICS * rate,
                 f"Kong's metrics: {KONG_CUSTOM_METRICS} custom metrics x {_rate(rate)}/month")

    # EKS, Kubernetes, RDS ---------------------------------------------------------------------
    def eks_cluster(self, reg: Resource) -> None:
        self.hourly(reg, "eks_cluster_hour", 1, "EKS cluster")
        if not (reg.inputs.get("computeConfig") or {}).get("enabled"):
            return
        cpu, gib = self._pod_requests()
        nodes = max(MIN_NODES, math.ceil(cpu / NODE_VCPU_FOR_PODS), math.ceil(gib / NODE_GIB_FOR_PODS))
        ec2, fee = self.rate("ec2_m5.large_hour"), self.rate("automode_m5.large_hour")
        self.add(reg, nodes * (ec2 + fee) * HOURS_PER_MONTH,
                 f"Auto Mode nodes for {cpu:g} vCPU / {gib:g} GiB of pod requests: {nodes} x m5.large x "
                 f"({_rate(ec2)} + {_rate(fee)} Auto Mode fee)/h x {HOURS_PER_MONTH} h")
        self._gp3(reg, nodes * NODE_ROOT_GB, f"node root volumes: {nodes} x {NODE_ROOT_GB} GB gp3")

    def _gp3(self, reg: Resource, gb: float, what: str) -> None:
        rate = self.rate("ebs_gp3_gb_month")
        self.add(reg, gb * rate, f"{what}: {gb:g} GB x {_rate(rate)}/GB-month")

    def _pod_requests(self) -> tuple[float, float]:
        cpu = gib = 0.0
        for release in self.result.of_type("kubernetes:helm.sh/v3:Release"):
            values = release.inputs.get("values") or {}
            autoscaling = values.get("autoscaling") or {}
            replicas = autoscaling.get("minReplicas") if autoscaling.get("enabled") else values.get("replicaCount", 1)
            requests = (values.get("resources") or {}).get("requests") or {}
            cpu += float(replicas or 0) * quantity(requests.get("cpu", 0))
            gib += float(replicas or 0) * quantity(requests.get("memory", 0)) / 2**30
        for workload in self.result.of_type("kubernetes:apps/v1:StatefulSet") + self.result.of_type(
                "kubernetes:apps/v1:Deployment"):
            spec = workload.inputs.get("spec") or {}
            replicas = float(spec.get("replicas", 1))
            for container in ((spec.get("template") or {}).get("spec") or {}).get("containers") or []:
                requests = (container.get("resources") or {}).get("requests") or {}
                cpu += replicas * quantity(requests.get("cpu", 0))
                gib += replicas * quantity(requests.get("memory", 0)) / 2**30
        return round(cpu, 3), round(gib, 3)

    def helm_release(self, reg: Resource) -> None:
        proxy = (reg.inputs.get("values") or {}).get("proxy") or {}
        if proxy.get("enabled", True) and proxy.get("type") == "LoadBalancer":
            scheme = (proxy.get("annotations") or {}).get("service.beta.kubernetes.io/aws-load-balancer-scheme")
            self._nlb(reg, "NLB of the proxy Service", internet_facing=scheme == "internet-facing",
                      zones=self._public_zones())

    def k8s_service(self, reg: Resource) -> None:
        spec = reg.inputs.get("spec") or {}
        if spec.get("type") == "LoadBalancer":
            scheme = ((reg.inputs.get("metadata") or {}).get("annotations") or {}).get(
                "service.beta.kubernetes.io/aws-load-balancer-scheme")
            self._nlb(reg, "NLB of a LoadBalancer Service", internet_facing=scheme == "internet-facing",
                      zones=self._public_zones())

    def _public_zones(self) -> int:
        zones = {s.inputs.get("availabilityZone") for s in self.result.of_type("aws:ec2/subnet:Subnet")
                 if (s.inputs.get("tags") or {}).get("kong-aws/tier") == "public"}
        return len(zones) or MIN_NODES

    def stateful_set(self, reg: Resource) -> None:
        spec = reg.inputs.get("spec") or {}
        replicas = float(spec.get("replicas", 1))
        gb = sum(quantity(((t.get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage", 0))
                 for t in spec.get("volumeClaimTemplates") or []) / 2**30
        if gb:
            self._gp3(reg, replicas * gb, f"volume claims: {replicas:g} x {gb:g} GiB gp3")

    def pvc(self, reg: Resource) -> None:
        storage = (((reg.inputs.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage", 0)
        self._gp3(reg, quantity(storage) / 2**30, "volume claim (gp3)")

    def ebs_volume(self, reg: Resource) -> None:
        self._gp3(reg, float(reg.inputs.get("size") or 0), f"EBS volume ({reg.inputs.get('type', 'gp3')} priced as gp3)")

    def rds_instance(self, reg: Resource) -> None:
        inputs = reg.inputs
        cls = str(inputs.get("instanceClass", ""))
        multi = 2 if inputs.get("multiAz") else 1
        key = f"rds_{cls}_hour"
        if key not in self.rates:
            self.add(reg, 0.0, f"RDS {cls}: no rate here, not priced")
        else:
            rate = self.rate(key)
            self.add(reg, multi * rate * HOURS_PER_MONTH,
                     f"RDS {cls}{' Multi-AZ' if multi == 2 else ''}: {multi} x {_rate(rate)}/h x {HOURS_PER_MONTH} h")
        gb = float(inputs.get("allocatedStorage") or 0)
        storage, backup = self.rate("rds_gp3_gb_month"), self.rate("rds_backup_gb_month")
        self.add(reg, multi * gb * storage, f"RDS storage: {multi} x {gb:g} GB x {_rate(storage)}/GB-month")
        if int(inputs.get("backupRetentionPeriod") or 0) > 0:
            billed = gb * (RDS_BACKUP_FACTOR - 1)
            self.add(reg, billed * backup, f"RDS backups: {billed:g} GB beyond the free allowance x {_rate(backup)}/GB-month")


def quantity(value: Any) -> float:
    """A Kubernetes quantity (``"500m"``, ``"1"``, ``"512Mi"``, ``"20Gi"``) as a number (cores, bytes)."""
    text = str(value).strip()
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", text)
    if not match:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    number, unit = float(match.group(1)), match.group(2)
    factors = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
               "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
    if unit not in factors:
        raise ValueError(f"unknown unit in Kubernetes quantity {value!r}")
    return number * factors[unit]


def spot_tasks(strategy: list[dict], count: float) -> float:
    """How many of ``count`` tasks a capacity provider strategy puts on FARGATE_SPOT: ``base`` tasks
    first, the rest split by ``weight`` (ECS's rule). No strategy: none."""
    if not strategy:
        return 0.0
    remaining, spot = count, 0.0
    for entry in strategy:
        base = min(float(entry.get("base") or 0), remaining)
        remaining -= base
        if entry.get("capacityProvider") == "FARGATE_SPOT":
            spot += base
    total_weight = sum(float(e.get("weight") or 0) for e in strategy)
    if total_weight and remaining:
        spot += remaining * sum(float(e.get("weight") or 0) for e in strategy
                                if e.get("capacityProvider") == "FARGATE_SPOT") / total_weight
    return spot


_HANDLERS = {
    "aws:ecs/service:Service": _Pricer.ecs_service,
    "aws:ecs/cluster:Cluster": _Pricer.ecs_cluster,
    "aws:ec2/natGateway:NatGateway": _Pricer.nat_gateway,
    "aws:ec2/eip:Eip": _Pricer.eip,
    "aws:lb/loadBalancer:LoadBalancer": _Pricer.load_balancer,
    "aws:secretsmanager/secret:Secret": _Pricer.secret,
    "aws:kms/key:Key": _Pricer.kms_key,
    "aws:cloudwatch/logGroup:LogGroup": _Pricer.log_group,
    "aws:cloudwatch/dashboard:Dashboard": _Pricer.dashboard,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _Pricer.metric_alarm,
    "aws:eks/cluster:Cluster": _Pricer.eks_cluster,
    "kubernetes:helm.sh/v3:Release": _Pricer.helm_release,
    "kubernetes:core/v1:Service": _Pricer.k8s_service,
    "kubernetes:apps/v1:StatefulSet": _Pricer.stateful_set,
    "kubernetes:core/v1:PersistentVolumeClaim": _Pricer.pvc,
    "aws:ebs/volume:Volume": _Pricer.ebs_volume,
    "aws:rds/instance:Instance": _Pricer.rds_instance,
}

#: Resource types the estimate prices.
PRICED_TYPES = frozenset(_HANDLERS)


def estimate(resources: list[Resource], region: str) -> Estimate:
    """Price every billable resource of ``resources`` at ``region``'s rates (see the module doc)."""
    pricer = _Pricer(_Resources(resources), region)
    for reg in resources:
        handler = _HANDLERS.get(reg.type)
        if handler is not None:
            handler(pricer, reg)
    return pricer.estimate


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        return {**base, **{k: _merge(base.get(k), v) for k, v in override.items()}}
    return override


def run_with_config(stack: str, overrides: Optional[Mapping[str, Any]] = None,
                    root: Path = PROJECT_ROOT) -> tuple[RunResult, str]:
    """Run ``stack``'s program as :func:`tools.render.run_stack` does, with ``overrides`` (full
    keys, ``{"kong-aws:network": {"egress": "public-ip"}}``) merged into its config: object values
    merged key by key. Returns ``(result, region)``. Raises ``ConfigError`` for bad config."""
    from tools.render import read_stack_config, run_stack

    config, _, _ = read_stack_config(stack, root)
    replaced: dict[str, str] = {}
    for key, value in (overrides or {}).items():
        current: Any = config.get(key)
        if isinstance(value, dict) and current:
            current = json.loads(current)
        merged = _merge(current, value)
        replaced[key] = merged if isinstance(merged, str) else json.dumps(merged)
    return run_stack(stack, root, replaced), {**config, **replaced}.get("aws:region", "us-east-1")


def price_stack(stack: str, overrides: Optional[Mapping[str, Any]] = None, root: Path = PROJECT_ROOT) -> Estimate:
    """The estimate of ``stack`` (with config ``overrides``, see :func:`run_with_config`)."""
    result, region = run_with_config(stack, overrides, root)
    return estimate(resources_of(result), region)


def resources_of(result: RunResult) -> list[Resource]:
    """The registrations of a run, as the estimate reads them."""
    return [Resource(r.urn, r.type, r.name, r.inputs) for r in result.registrations]


def read_resources(path: Path) -> list[Resource]:
    """A render's ``resources.json`` (``tools.render`` or ``tests/golden/<stack>/``) as resources."""
    return [Resource(r["urn"], r["type"], r["name"], r.get("inputs") or {})
            for r in json.loads(path.read_text(encoding="utf-8"))]


def stack_region(stack: str, root: Path = PROJECT_ROOT) -> str:
    """``aws:region`` of ``Pulumi.<stack>.yaml`` (us-east-1 when unset)."""
    from tools.render import read_stack_config

    config, _, _ = read_stack_config(stack, root)
    return config.get("aws:region", "us-east-1")


def price_render(stack: str, resources_json: Path, root: Path = PROJECT_ROOT) -> Estimate:
    """The estimate of a render already written (``resources_json``) at ``stack``'s region."""
    return estimate(read_resources(resources_json), stack_region(stack, root))


def _short(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def table(est: Estimate, markdown: bool = True) -> str:
    """The items and total as a Markdown table (or plain text)."""
    region = est.region + (" (rates estimated from us-east-1)" if est.estimated_region else "")
    if markdown:
        lines = [f"Region: {region}", "", "| resource | type | basis | monthly |", "|---|---|---|---:|"]
        lines += [f"| `{_short(i.urn)}` | `{i.type}` | {i.basis} | {_money(i.monthly_usd)} |" for i in est.items]
        lines.append(f"| **total** | | | **{_money(est.monthly_usd)}** |")
        return "\n".join(lines)
    width = max((len(_short(i.urn)) for i in est.items), default=8)
    lines = [f"region: {region}"]
    lines += [f"{_short(i.urn):<{width}}  {_money(i.monthly_usd):>10}  {i.basis}" for i in est.items]
    lines.append(f"{'total':<{width}}  {_money(est.monthly_usd):>10}")
    return "\n".join(lines)


def example_stacks(root: Path = PROJECT_ROOT) -> list[str]:
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


def docs_text(root: Path = PROJECT_ROOT) -> str:
    """``docs/costs.md`` as :func:`main` ``--write-docs`` writes it: from each example stack's
    committed render, ``tests/golden/<stack>/resources.json``."""
    out = ["# What the example stacks cost to run", "",
           "Generated by `python -m tools.cost --write-docs` from the committed render of each example stack",
           "(`tests/golden/<stack>/resources.json`; after `python -m tools.golden --update`, run it again);",
           "`tests/test_cost.py` fails when this file and the tool disagree. Edit the rates in",
           "`tools/prices.py` and the assumptions in `tools/cost.py`, not here. These are estimates at AWS",
           "on-demand list prices: check the pricing pages before you budget.", "",
           "## Assumptions", ""]
    out += [f"- {a}" for a in ASSUMPTIONS]
    out += ["", "## Rates", "",
            "Regions without rates of their own are priced at us-east-1's and flagged as estimated.", "",
            "| rate | unit | " + " | ".join(RATES) + " | source |", "|---|---|" + "---:|" * len(RATES) + "---|"]
    for key, first in RATES["us-east-1"].items():
        sources = sorted({RATES[r][key].source for r in RATES})
        out.append(f"| `{key}` | {first.unit} | " + " | ".join(f"${RATES[r][key].usd:g}" for r in RATES)
                   + " | " + "; ".join(sources) + " |")
    for stack in example_stacks(root):
        est = price_render(stack, root / "tests" / "golden" / stack / "resources.json", root)
        out += ["", f"## `{stack}` (Pulumi.{stack}.yaml): about {_money(est.monthly_usd)} a month", "", table(est)]
    return "\n".join(out) + "\n"


def main(argv: Optional[list[str]] = None) -> int:
    from components.config import ConfigError

    parser = argparse.ArgumentParser(prog="python -m tools.cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("stack", nargs="?", help="the stack (Pulumi.<stack>.yaml)")
    parser.add_argument("--json", action="store_true", help="print the estimate as JSON")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--resources", type=Path, metavar="PATH",
                        help="price this resources.json (a render already written) instead of rendering")
    parser.add_argument("--write-docs", action="store_true", help="regenerate docs/costs.md")
    parser.add_argument("--check-docs", action="store_true", help="exit 1 when docs/costs.md is stale")
    args = parser.parse_args(argv)
    try:
        if args.write_docs or args.check_docs:
            text = docs_text()
            if args.check_docs:
                fresh = DOCS.read_text(encoding="utf-8") == text
                print("docs/costs.md is up to date" if fresh else "docs/costs.md differs: run --write-docs")
                return 0 if fresh else 1
            DOCS.write_text(text, encoding="utf-8")
            print(f"wrote {DOCS.relative_to(PROJECT_ROOT)}")
            return 0
        if not args.stack:
            parser.error("give a stack, or --write-docs / --check-docs")
        est = price_render(args.stack, args.resources) if args.resources else price_stack(args.stack)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    except FileNotFoundError as error:
        print(error, file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(est.as_json(), indent=2))
    else:
        print(table(est, markdown=args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
