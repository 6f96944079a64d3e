"""EKS node groups per tier against Sourcegraph's tier table: what the sizer plans, how full it runs.

Run: ``.venv/bin/python benchmarks/eks_packing.py``. For each tier's own estimate (``estimate_for_tier``: the
tier's user and repository limits and 100 GB of repositories, the estimator's default) it prints a markdown table: node type ×
count, the nodes' vCPU and GiB, their ratio to the tier's documented vCPU and RAM (the plan must stay
between 1.0× and 2.0×; up to 6 × m6a.4xlarge for XS to M), packing efficiency (requests, DaemonSets
included, over the kubelet's allocatable), the largest node group against EKS's quota of 450 nodes, the
approximate monthly on-demand compute cost and the packing time. A second table does the same with every
stateful service on RDS, ElastiCache and S3. Prices: us-east-1, approximate.
"""

from __future__ import annotations

import time

from sgarch.sizing import estimate_for_tier
from sgarch.sizing.instances import INSTANCE_TYPES
from sgarch.sizing.nodegroups import EKS_NODE_GROUP_QUOTA, EXTERNAL_SERVICES, NodePlan, plan_node_groups
from sgarch.tiers import TIERS, Tier


def _row(tier: Tier, plan: NodePlan, seconds: float) -> str:
    spec = TIERS[tier]
    itype = plan.instance_type
    vcpu, gib = itype.vcpu * plan.node_count, itype.memory_gib * plan.node_count
    return (
        f"| {tier} | {plan.node_count} × {itype.name} | {vcpu:,} / {gib:,} | {spec.vcpu} / {spec.memory_gb} "
        f"| {vcpu / spec.vcpu:.2f}× / {gib / spec.memory_gb:.2f}× "
        f"| {plan.cpu_efficiency:.0%} / {plan.memory_efficiency:.0%} "
        f"| {max(plan.nodes_per_az)} / {EKS_NODE_GROUP_QUOTA} | ${plan.monthly_usd:,.0f} | {seconds * 1000:.1f} ms |"
    )


def _table(title: str, excluded: frozenset[str]) -> None:
    print(f"\n### {title}\n")
    print(
        "| tier | nodes | vCPU / GiB | documented vCPU / GB | ratio vCPU / memory | efficiency CPU / mem "
        "| largest group / quota | compute per month | packing time |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for tier in Tier:
        est = estimate_for_tier(tier)
        start = time.perf_counter()
        plan = plan_node_groups(est, excluded_services=excluded)
        print(_row(tier, plan, time.perf_counter() - start))


def main() -> None:
    """Print both tables and Sourcegraph's EKS guidance for comparison."""
    _table("Everything in the cluster", frozenset())
    _table("Databases, Redis and blobstore on RDS, ElastiCache and S3", EXTERNAL_SERVICES)
    guide = INSTANCE_TYPES["m6a.4xlarge"]
    print(
        f"\nSourcegraph's EKS guidance up to 2,000 users: 3 to 10 × m6a.4xlarge = {3 * guide.vcpu} to "
        f"{10 * guide.vcpu} vCPU, {3 * guide.memory_gib} to {10 * guide.memory_gib} GiB, "
        f"${3 * guide.monthly_usd:,.0f} to ${10 * guide.monthly_usd:,.0f} per month."
    )


if __name__ == "__main__":
    main()
