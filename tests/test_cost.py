"""tools.cost: the estimate against hand-computed figures, the public-ip egress shape, the JSON
shape, and docs/costs.md generated from the tool."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from components.config import ConfigError
from tools import cost
from tools.mocks import PROJECT_ROOT
from tools.prices import RATES

GOLDEN = PROJECT_ROOT / "tests" / "golden"


def _dev() -> list[cost.Resource]:
    return cost.read_resources(GOLDEN / "dev" / "resources.json")


#: dev as it was shaped before issue 11 (NAT gateway per zone, x86 tasks all on FARGATE, Container
#: Insights on): the arithmetic below is written out for it.
DEV_BEFORE = {"kong-aws:network": {"egress": "nat-per-az"},
              "kong-aws:ecs": {"cpu": 512, "memory": 1024, "containerInsights": True, "cpuArchitecture": "X86_64",
                               "fargateSpotPercent": 0}}


def _by_basis(est: cost.Estimate, start: str) -> list[float]:
    return [i.monthly_usd for i in est.items if i.basis.startswith(start)]


def test_dev_before_against_hand_computed_figures():
    # ap-northeast-1, 2 tasks (scaling minimum 2) of 512 CPU units / 1024 MiB on X86_64, all
    # FARGATE; 2 NAT gateways with an Elastic IP each; an internet-facing NLB in 2 subnets;
    # 1 secret, 1 log group, Container Insights enabled.
    est = cost.price_stack("dev", DEV_BEFORE)
    assert est.region == "ap-northeast-1" and not est.estimated_region
    # Fargate: 2 x (0.5 x 0.05056 + 1 x 0.00553) x 730 = 2 x 0.03081 x 730 = 44.9826
    assert _by_basis(est, "Fargate X86_64") == [44.98]
    # NAT gateway: 0.062 x 730 + 5 GB x 0.062 = 45.26 + 0.31 = 45.57, twice
    assert _by_basis(est, "NAT gateway") == [45.57, 45.57]
    # Elastic IPs: 0.005 x 730 = 3.65 each; NLB addresses: 2 zones x 0.005 x 730 = 7.30
    assert _by_basis(est, "public IPv4 (Elastic IP)") == [3.65, 3.65]
    assert _by_basis(est, "public IPv4 of the internet-facing NLB") == [7.30]
    # NLB: (0.0243 + 1 NLCU x 0.006) x 730 = 0.0303 x 730 = 22.119
    assert _by_basis(est, "NLB:") == [22.12]
    assert _by_basis(est, "Secrets Manager") == [0.40]
    # Logs: 5 GB x 0.76 = 3.80; Container Insights: 40 metrics x 0.30 = 12.00
    assert _by_basis(est, "CloudWatch Logs") == [3.80]
    assert _by_basis(est, "Container Insights") == [12.00]
    # The dashboard, $3; the no-healthy-target alarm (a Metrics Insights query: 1 metric) and the
    # tasks alarm (running and desired tasks: 2 metrics) at $0.10 a metric.
    assert _by_basis(est, "CloudWatch dashboard") == [3.00]
    assert sorted(_by_basis(est, "CloudWatch alarm")) == [0.10, 0.20]
    # 44.98 + 2 x 45.57 + 2 x 3.65 + 7.30 + 22.12 + 0.40 + 3.80 + 12.00 + 3.00 + 0.30 = 192.34
    assert est.monthly_usd == 192.34


def test_dev_as_configured_now_is_at_most_70_dollars_with_the_same_ha_shape():
    """Issue 11: public-ip egress (no NAT gateways, the tasks' own addresses), Container Insights
    off, Graviton tasks, the second of the two tasks on FARGATE_SPOT; still two zones, two tasks."""
    est = cost.estimate(_dev(), "ap-northeast-1")
    assert not _by_basis(est, "NAT gateway") and not _by_basis(est, "public IPv4 (Elastic IP)")
    assert not _by_basis(est, "Container Insights")
    # Fargate ARM64: 2 x (0.5 x 0.04045 + 1 x 0.00442) x 730 = 35.98; one task at 30 %:
    # 35.98 x (1 - 0.5 x 0.7) = 23.39
    assert _by_basis(est, "Fargate ARM64") == [23.39]
    # the 2 tasks' addresses: 2 x 0.005 x 730 = 7.30
    assert _by_basis(est, "public IPv4 of each task") == [7.30]
    # Without Container Insights the tasks alarm reads the healthy targets (1 metric, $0.10).
    assert sorted(_by_basis(est, "CloudWatch alarm")) == [0.10, 0.10]
    # 23.39 + 7.30 + 22.12 + 7.30 + 0.40 + 3.80 + 3.00 (dashboard) + 0.20 (alarms) = 67.51
    assert est.monthly_usd == 67.51 <= 70
    service = next(r for r in _dev() if r.type == "aws:ecs/service:Service")
    assert service.inputs["desiredCount"] == 2


def test_spot_share_follows_the_capacity_provider_strategy():
    assert cost.spot_tasks([], 4) == 0
    assert cost.spot_tasks([{"capacityProvider": "FARGATE", "base": 0, "weight": 1}], 2) == 0
    # base 1 on FARGATE, then 1:3 -> 1 + 3 x 1/4 on FARGATE, 3 x 3/4 on Spot
    strategy = [{"capacityProvider": "FARGATE", "base": 1, "weight": 1},
                {"capacityProvider": "FARGATE_SPOT", "weight": 3}]
    assert cost.spot_tasks(strategy, 4) == 2.25


def test_arm64_and_spot_are_priced_at_their_rates():
    resources = []
    for r in _dev():
        inputs = copy.deepcopy(r.inputs)
        if r.type == "aws:ecs/taskDefinition:TaskDefinition":
            inputs["runtimePlatform"]["cpuArchitecture"] = "ARM64"
        if r.type == "aws:ecs/service:Service":
            inputs["capacityProviderStrategies"] = [{"capacityProvider": "FARGATE", "base": 1, "weight": 0},
                                                    {"capacityProvider": "FARGATE_SPOT", "weight": 1}]
        resources.append(cost.Resource(r.urn, r.type, r.name, inputs))
    est = cost.estimate(resources, "us-east-1")
    # per task: 0.5 x 0.03238 + 1 x 0.00356 = 0.01975 /h; 1 on-demand + 1 Spot at 30 %:
    # 1.3 x 0.01975 x 730 = 18.74275
    assert _by_basis(est, "Fargate ARM64") == [18.74]


def test_a_region_without_rates_is_flagged_as_estimated():
    est = cost.estimate(_dev(), "eu-central-1")
    assert est.estimated_region
    assert "estimated" in est.as_json()["assumptions"][0]
    assert est.monthly_usd == cost.estimate(_dev(), "us-east-1").monthly_usd


def test_every_region_has_every_rate_with_a_source():
    keys = set(RATES["us-east-1"])
    for region, rates in RATES.items():
        assert set(rates) == keys, region
        assert all(rate.source and rate.usd > 0 for rate in rates.values()), region


def test_dev_eks_prices_cluster_nodes_volumes_and_the_proxy_nlb():
    est = cost.price_render("dev-eks", GOLDEN / "dev-eks" / "resources.json")
    assert est.region == "us-east-1"
    assert _by_basis(est, "EKS cluster") == [73.00]
    # pods: CP 2 x 0.5 + DP 2 x 1 + PostgreSQL 0.25 = 3.25 vCPU -> ceil(3.25 / 1.7) = 2 nodes;
    # 2 x (0.096 + 0.01152) x 730 = 156.9792
    assert _by_basis(est, "Auto Mode nodes") == [156.98]
    assert _by_basis(est, "volume claims") == [1.60]  # 20 GiB x 0.08
    assert _by_basis(est, "NLB of the proxy Service") == [20.81]  # (0.0225 + 0.006) x 730 = 20.805
    assert _by_basis(est, "KMS") == [1.00]


def test_rds_multi_az_doubles_instance_and_storage():
    rds = cost.Resource("urn:x::db", "aws:rds/instance:Instance", "db",
                        {"instanceClass": "db.t4g.medium", "multiAz": True, "allocatedStorage": 20,
                         "backupRetentionPeriod": 7})
    est = cost.estimate([rds], "us-east-1")
    # 2 x 0.065 x 730 = 94.90; 2 x 20 x 0.115 = 4.60; backups 0.5 x 20 = 10 GB x 0.095 = 0.95
    assert [i.monthly_usd for i in est.items] == [94.90, 4.60, 0.95]


def test_json_shape(capsys):
    assert cost.main(["dev", "--resources", str(GOLDEN / "dev" / "resources.json"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"region", "monthly_usd", "items", "assumptions"}
    assert doc["monthly_usd"] == round(sum(i["monthly_usd"] for i in doc["items"]), 2)
    assert all(set(i) == {"urn", "type", "monthly_usd", "basis"} for i in doc["items"])


def test_unknown_stack_exits_2():
    assert cost.main(["no-such-stack"]) == 2


def test_docs_costs_md_is_generated_from_the_tool():
    assert cost.DOCS.read_text(encoding="utf-8") == cost.docs_text(), \
        "docs/costs.md is stale: run python -m tools.cost --write-docs"


def test_the_preview_job_posts_the_estimate_next_to_the_preview():
    workflow = yaml.safe_load((PROJECT_ROOT / ".github" / "workflows" / "pull-request.yml").read_text())
    steps = workflow["jobs"]["preview"]["steps"]
    names = [s.get("uses", "").split("@")[0] or s.get("name") for s in steps]
    cost_step = next(s for s in steps if "tools.cost" in s.get("run", ""))
    assert names.index(cost_step["name"]) > names.index("pulumi/actions")
    assert '-m tools.cost "$STACK" --markdown' in cost_step["run"]
    assert "tropical_drink" in cost_step["run"]  # finds pulumi/actions' comment to add to
