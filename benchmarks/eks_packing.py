"""EKS node groups per tier: what first-fit decreasing packing picks, how full it runs and what it costs.

Run: ``.venv/bin/python benchmarks/eks_packing.py``. Prints a markdown table per scenario: nodes, instance
type, requested and allocatable CPU and memory (requests include the DaemonSets on every node), packing
efficiency (requested / allocatable), approximate monthly on-demand compute cost, and the packing time.

Two scenarios: each tier's own estimate (``estimate_for_tier``: the tier's top user and repository counts,
about 33 MB per repository, the upstream estimator's default ratio), and the same tiers with 0.1 GB per
repository, to show how repository size drives gitserver memory and so the node count. Compare both with
Sourcegraph's EKS guidance (m6a.4xlarge, 3 to 6 nodes for up to 500 users). Prices: us-east-1, approximate.
"""

from __future__ import annotations

import time

from sgarch.eks.instances import INSTANCE_TYPES
from sgarch.eks.nodegroups import NodePlan, plan_node_groups
from sgarch.sizing import Estimate, Workload, estimate, estimate_for_tier
from sgarch.sizing.estimator import AVERAGE_REPO_GB
from sgarch.tiers import TIERS, Tier


def _row(tier: Tier, plan: NodePlan, seconds: float) -> str:
    gib = 1024
    return (
        f"| {tier} | {plan.node_count} | {plan.instance_type.name} "
        f"| {plan.requested_cpu_millis / 1000:,.1f} / {plan.allocatable_cpu_millis / 1000:,.1f} "
        f"| {plan.requested_memory_mib / gib:,.0f} / {plan.allocatable_memory_mib / gib:,.0f} "
        f"| {plan.cpu_efficiency:.0%} / {plan.memory_efficiency:.0%} "
        f"| ${plan.monthly_usd:,.0f} | {seconds * 1000:.1f} ms |"
    )


def _table(title: str, estimates: dict[Tier, Estimate]) -> None:
    print(f"\n### {title}\n")
    print(
        "| tier | nodes | type | CPU req / alloc (cores) | memory req / alloc (GiB) | efficiency CPU / mem | compute per month | packing time |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for tier, est in estimates.items():
        start = time.perf_counter()
        plan = plan_node_groups(est)
        print(_row(tier, plan, time.perf_counter() - start))


def main() -> None:
    """Print both tables and Sourcegraph's guidance for comparison."""
    _table(
        f"Tier estimates ({AVERAGE_REPO_GB * 1000:.0f} MB per repository)",
        {t: estimate_for_tier(t) for t in Tier},
    )
    lighter = {
        t: estimate(
            Workload(
                users=TIERS[t].max_users,
                repos=TIERS[t].max_repos,
                total_repo_gb=max(TIERS[t].max_repos * 0.1, 1),
                largest_repo_gb=min(float(TIERS[t].largest_repo_gb or 35), TIERS[t].max_repos * 0.1),
            )
        )
        for t in Tier
    }
    _table("Tier user and repository limits at 0.1 GB per repository", lighter)
    guide = INSTANCE_TYPES["m6a.4xlarge"]
    print(
        f"\nSourcegraph's EKS guidance for up to 500 users: 3 to 6 × m6a.4xlarge = "
        f"{3 * guide.vcpu} to {6 * guide.vcpu} vCPU, {3 * guide.memory_gib} to {6 * guide.memory_gib} GiB, "
        f"${3 * guide.monthly_usd:,.0f} to ${6 * guide.monthly_usd:,.0f} per month."
    )


if __name__ == "__main__":
    main()
