"""The estimate's data: the usage assumptions, one priced line, one unpriced item, and the whole estimate."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

__all__ = ["Assumptions", "CostEstimate", "CostLine", "NotPriced", "with_assumptions"]


@dataclass(frozen=True)
class Assumptions:
    """Usage that a plan cannot show. Each figure is printed with the estimate that uses it."""

    nat_gb_per_month: float = 100.0
    """Data each NAT gateway processes per month (image pulls, code-host clones), GB."""
    alb_lcu: float = 1.0
    """Average load-balancer capacity units an ALB bills per hour (one LCU is 25 new connections/s)."""
    s3_gb_per_bucket: float = 100.0
    """Data stored in each S3 bucket, GB (Standard class)."""
    vpc_endpoint_gb_per_month: float = 10.0
    """Data through each interface endpoint per month, GB."""
    transit_gateway_gb_per_month: float = 100.0
    """Data each transit gateway attachment sends per month (users' sessions, code-host clones), GB."""
    snapshot_daily_change_rate: float = 0.02
    """Share of a volume that changes per day, stored again by each incremental snapshot."""
    log_gb_per_month: float = 5.0
    """Logs ingested per log group per month, GB (stored for one month)."""
    rds_enhanced_monitoring_gb_per_month: float = 0.5
    """Enhanced Monitoring metrics one RDS instance sends to CloudWatch Logs per month at a 60-second
    interval, GB (one JSON document of roughly 10 KB a minute; proportionally more at shorter intervals)."""
    rds_log_export_gb_per_month: float = 1.0
    """PostgreSQL logs one RDS instance exports to CloudWatch Logs per month, GB (connections, slow
    statements, errors)."""
    default_root_volume_gib: int = 8
    """Root volume of an instance that does not size it (the AMI's), GiB, priced as gp3."""
    eks_default_disk_gib: int = 20
    """Node disk of an EKS node group without a launch template or ``disk_size`` (EKS's default), GiB."""
    eks_default_instance_type: str = "t3.medium"
    """Instance type of an EKS node group that names none (EKS's default)."""

    def describe(self) -> list[str]:
        """Every assumption as a sentence, for people."""
        rate = f"{self.snapshot_daily_change_rate:.0%}"
        return [
            "730 hours a month; on-demand prices, no savings plans, reserved instances or free tier.",
            f"Each NAT gateway processes {self.nat_gb_per_month:g} GB a month.",
            f"Each ALB averages {self.alb_lcu:g} LCU an hour.",
            f"Each S3 bucket stores {self.s3_gb_per_bucket:g} GB in S3 Standard; requests are not counted.",
            f"Each interface endpoint carries {self.vpc_endpoint_gb_per_month:g} GB a month.",
            f"EBS snapshots: the first is a full copy of the volume, then {rate} of it changes a day.",
            f"Each log group ingests {self.log_gb_per_month:g} GB a month and keeps one month.",
            f"Each RDS instance sends {self.rds_enhanced_monitoring_gb_per_month:g} GB of Enhanced Monitoring "
            f"metrics a month at a 60 s interval and exports {self.rds_log_export_gb_per_month:g} GB of logs "
            "a month (both billed as CloudWatch Logs, one month kept); 7 days of Performance Insights are free.",
            "KMS requests stay within the free 20,000 a month; RDS backups within the free 100% of storage.",
            "EKS clusters are in standard support; extended support costs six times as much.",
            "Data transfer out to the internet is not counted.",
        ]


@dataclass(frozen=True)
class CostLine:
    """One priced item of one resource: ``quantity`` units at ``unit_price_usd`` make ``monthly_usd``."""

    resource: str
    type: str
    item: str
    category: str
    quantity: float
    unit: str
    unit_price_usd: float
    monthly_usd: float
    assumption: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; money rounded to cents."""
        return {
            "resource": self.resource,
            "type": self.type,
            "item": self.item,
            "category": self.category,
            "quantity": _num(self.quantity),
            "unit": self.unit,
            "unit_price_usd": self.unit_price_usd,
            "monthly_usd": round(self.monthly_usd, 2),
            "assumption": self.assumption,
        }


@dataclass(frozen=True)
class NotPriced:
    """A resource (or part of one) sgarch cannot price, and why. It is never counted as zero."""

    resource: str
    type: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"resource": self.resource, "type": self.type, "reason": self.reason}


@dataclass(frozen=True)
class CostEstimate:
    """An approximate monthly estimate of a plan in one region, with the date of its prices."""

    region: str
    as_of: str
    source: str
    hours_per_month: int
    lines: tuple[CostLine, ...]
    not_priced: tuple[NotPriced, ...]
    free_resources: int
    assumptions: tuple[str, ...]

    @property
    def total_monthly_usd(self) -> float:
        """Sum of every priced line, in USD a month (what is not priced is not in it)."""
        return math.fsum(line.monthly_usd for line in self.lines)

    def top(self, count: int | None) -> list[CostLine]:
        """The ``count`` most expensive lines (all of them for None), most expensive first."""
        ordered = sorted(self.lines, key=lambda line: (-line.monthly_usd, line.resource, line.item))
        return ordered if count is None else ordered[:count]

    def by_category(self) -> dict[str, float]:
        """Monthly USD per category, sorted by category name."""
        totals: dict[str, float] = {}
        for line in self.lines:
            totals[line.category] = totals.get(line.category, 0.0) + line.monthly_usd
        return dict(sorted(totals.items()))

    def for_resource(self, name: str) -> list[CostLine]:
        """The lines of the resource with logical name ``name``."""
        return [line for line in self.lines if line.resource == name]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, for ``sgarch plan --json``."""
        return {
            "approximate": True,
            "region": self.region,
            "currency": "USD",
            "as_of": self.as_of,
            "source": self.source,
            "hours_per_month": self.hours_per_month,
            "total_monthly_usd": round(self.total_monthly_usd, 2),
            "lines": [line.to_dict() for line in self.top(None)],
            "not_priced": [item.to_dict() for item in self.not_priced],
            "free_resources": self.free_resources,
            "assumptions": list(self.assumptions),
        }


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 4)


def with_assumptions(assumptions: Assumptions, **changes: Any) -> Assumptions:
    """A copy of ``assumptions`` with ``changes`` applied (for ``--assume``-style overrides)."""
    return replace(assumptions, **changes)
