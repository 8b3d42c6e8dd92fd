"""AWS on-demand list prices the cost estimate (:mod:`tools.cost`) uses, per region, in USD.

Each :class:`Rate` carries its unit and where the figure comes from, with a date. "from memory"
means the author's knowledge of the AWS pricing page, not re-checked against it when written
(2026-12-01); a page named as the source is a third-party summary of AWS's price list that was read
on that date. Check https://aws.amazon.com/pricing/ before budgeting: rates change.

Regions other than those in :data:`RATES` are priced at us-east-1's rates and flagged as estimated
(:func:`rates_for`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

#: Hours in the month every estimate assumes (AWS's own calculator uses 730).
HOURS_PER_MONTH = 730


@dataclass(frozen=True)
class Rate:
    """One price: ``usd`` per ``unit``; ``source`` says where the figure comes from and when."""

    usd: float
    unit: str
    source: str


_MEMORY = "from memory of the AWS pricing page, not re-checked (2026-12-01)"
_VANTAGE = "vantage.sh/blog/fargate-pricing (us-east-1 table), read 2026-12-01"
_CLOUDBURN_NAT = "cloudburn.io/blog/aws-nat-gateway-pricing (2026-02-24), read 2026-12-01"
_AWSI_NAT = "awsi.click/en/articles/nat-gateway-cost-structure-avoidance (ap-northeast-1), read 2026-12-01"
_DOCS = "docs/costs.md before the tool: cross-checked against third-party summaries dated March-June 2026"

_US_EAST_1: dict[str, Rate] = {
    "fargate_vcpu_x86": Rate(0.04048, "vCPU-hour", _VANTAGE),
    "fargate_gb_x86": Rate(0.004445, "GB-hour", _VANTAGE),
    "fargate_vcpu_arm": Rate(0.03238, "vCPU-hour", _VANTAGE),
    "fargate_gb_arm": Rate(0.00356, "GB-hour", _VANTAGE),
    "nat_hour": Rate(0.045, "NAT gateway-hour", _CLOUDBURN_NAT),
    "nat_gb": Rate(0.045, "GB processed", _CLOUDBURN_NAT),
    "ipv4_hour": Rate(0.005, "public IPv4 address-hour", _CLOUDBURN_NAT),
    "nlb_hour": Rate(0.0225, "NLB-hour", _MEMORY),
    "nlcu_hour": Rate(0.006, "NLCU-hour", _MEMORY),
    "secret_month": Rate(0.40, "secret-month", _MEMORY),
    "kms_key_month": Rate(1.00, "customer managed key-month", _MEMORY),
    "logs_gb": Rate(0.50, "GB ingested (CloudWatch Logs, standard class)", _MEMORY),
    "metric_month": Rate(0.30, "custom metric-month (first 10,000)", _MEMORY),
    "dashboard_month": Rate(3.00, "dashboard-month (beyond the free tier's 3)", _MEMORY),
    "alarm_metric_month": Rate(0.10, "standard-resolution alarm metric-month", _MEMORY),
    "eks_cluster_hour": Rate(0.10, "cluster-hour (standard support)", _DOCS),
    "ec2_m5.large_hour": Rate(0.096, "instance-hour (m5.large, Linux)", _DOCS),
    "automode_m5.large_hour": Rate(0.01152, "instance-hour (EKS Auto Mode fee, m5.large, 12 %)", _DOCS),
    "ebs_gp3_gb_month": Rate(0.08, "GB-month (EBS gp3)", _MEMORY),
    "rds_db.t4g.medium_hour": Rate(0.065, "instance-hour (RDS PostgreSQL db.t4g.medium, Single-AZ)", _MEMORY),
    "rds_db.t4g.micro_hour": Rate(0.016, "instance-hour (RDS PostgreSQL db.t4g.micro, Single-AZ)", _MEMORY),
    "rds_db.t4g.small_hour": Rate(0.032, "instance-hour (RDS PostgreSQL db.t4g.small, Single-AZ)", _MEMORY),
    "rds_gp3_gb_month": Rate(0.115, "GB-month (RDS gp3, Single-AZ)", _MEMORY),
    "rds_backup_gb_month": Rate(0.095, "GB-month (RDS backup storage beyond the database's size)", _MEMORY),
}

#: us-west-2 (Oregon) lists the same prices as us-east-1 for every rate here.
_US_WEST_2: dict[str, Rate] = {key: Rate(rate.usd, rate.unit, f"{rate.source}; Oregon = N. Virginia ({_MEMORY})")
                               for key, rate in _US_EAST_1.items()}

_AP_NORTHEAST_1: dict[str, Rate] = {
    **{key: rate for key, rate in _US_EAST_1.items()
       if key in ("ipv4_hour", "nlcu_hour", "secret_month", "kms_key_month", "metric_month", "eks_cluster_hour",
                  "dashboard_month", "alarm_metric_month")},
    "fargate_vcpu_x86": Rate(0.05056, "vCPU-hour", _MEMORY),
    "fargate_gb_x86": Rate(0.00553, "GB-hour", _MEMORY),
    "fargate_vcpu_arm": Rate(0.04045, "vCPU-hour", _MEMORY),
    "fargate_gb_arm": Rate(0.00442, "GB-hour", _MEMORY),
    "nat_hour": Rate(0.062, "NAT gateway-hour", _AWSI_NAT),
    "nat_gb": Rate(0.062, "GB processed", _AWSI_NAT),
    "nlb_hour": Rate(0.0243, "NLB-hour", _MEMORY),
    "logs_gb": Rate(0.76, "GB ingested (CloudWatch Logs, standard class)", _MEMORY),
    "ec2_m5.large_hour": Rate(0.124, "instance-hour (m5.large, Linux)", _MEMORY),
    "automode_m5.large_hour": Rate(0.01488, "instance-hour (EKS Auto Mode fee, m5.large, 12 %)", _MEMORY),
    "ebs_gp3_gb_month": Rate(0.096, "GB-month (EBS gp3)", _MEMORY),
    "rds_db.t4g.medium_hour": Rate(0.085, "instance-hour (RDS PostgreSQL db.t4g.medium, Single-AZ)", _MEMORY),
    "rds_db.t4g.micro_hour": Rate(0.021, "instance-hour (RDS PostgreSQL db.t4g.micro, Single-AZ)", _MEMORY),
    "rds_db.t4g.small_hour": Rate(0.042, "instance-hour (RDS PostgreSQL db.t4g.small, Single-AZ)", _MEMORY),
    "rds_gp3_gb_month": Rate(0.138, "GB-month (RDS gp3, Single-AZ)", _MEMORY),
    "rds_backup_gb_month": Rate(0.095, "GB-month (RDS backup storage beyond the database's size)", _MEMORY),
}

#: Rates by region. Every region has the same keys.
RATES: Mapping[str, Mapping[str, Rate]] = {
    "us-east-1": _US_EAST_1,
    "us-west-2": _US_WEST_2,
    "ap-northeast-1": _AP_NORTHEAST_1,
}

#: Share of the Fargate on-demand price a FARGATE_SPOT task costs. Spot prices float; AWS
#: advertises "up to 70 % off" (Fargate pricing page, from memory): the estimate assumes 70 % off.
FARGATE_SPOT_FACTOR = 0.30


def rates_for(region: str) -> tuple[Mapping[str, Rate], bool]:
    """``(rates, estimated)`` for ``region``: its own table, or us-east-1's with ``estimated`` True."""
    if region in RATES:
        return RATES[region], False
    return RATES["us-east-1"], True
