"""The resource estimator: a Sourcegraph workload in, a tier and per-service resources out. Pure logic."""

from sgarch.sizing.estimator import (
    SERVICE_ORDER,
    Architecture,
    Estimate,
    ServiceEstimate,
    Totals,
    estimate,
    estimate_for_tier,
    planned_tier,
    tier_workload,
)
from sgarch.sizing.workload import LIMITS, Workload

__all__ = [
    "LIMITS",
    "SERVICE_ORDER",
    "Architecture",
    "Estimate",
    "ServiceEstimate",
    "Totals",
    "Workload",
    "estimate",
    "estimate_for_tier",
    "planned_tier",
    "tier_workload",
]
