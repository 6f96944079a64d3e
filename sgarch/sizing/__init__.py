"""Sizing, pure logic: a Sourcegraph workload in; a tier, per-service resources and EKS node groups out."""

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
from sgarch.sizing.instances import CANDIDATE_INSTANCE_TYPES, INSTANCE_TYPES, InstanceType
from sgarch.sizing.nodegroups import DEFAULT_HEADROOM, EXTERNAL_SERVICES, NodePlan, plan_node_groups
from sgarch.sizing.packing import NodeShape, PodRequest, first_fit_decreasing
from sgarch.sizing.workload import LIMITS, Workload

__all__ = [
    "CANDIDATE_INSTANCE_TYPES",
    "DEFAULT_HEADROOM",
    "EXTERNAL_SERVICES",
    "INSTANCE_TYPES",
    "LIMITS",
    "SERVICE_ORDER",
    "Architecture",
    "Estimate",
    "InstanceType",
    "NodePlan",
    "NodeShape",
    "PodRequest",
    "ServiceEstimate",
    "Totals",
    "Workload",
    "estimate",
    "estimate_for_tier",
    "first_fit_decreasing",
    "plan_node_groups",
    "planned_tier",
    "tier_workload",
]
