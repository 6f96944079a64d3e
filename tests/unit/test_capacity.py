"""The capacity model against Sourcegraph's tier table: EKS node plans, single-node machines and quotas."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sgarch.errors import ConfigError
from sgarch.sizing import Workload, estimate, estimate_for_tier, nodegroups
from sgarch.sizing.estimator import GITSERVER_MEMORY_CAP_GB
from sgarch.sizing.instances import INSTANCE_TYPES
from sgarch.sizing.nodegroups import EXTERNAL_SERVICES, NodePlan, plan_node_groups
from sgarch.tiers import TIERS, Tier, machine_tiers

_SMALL = (Tier.XS, Tier.S, Tier.M)
_GUIDE = INSTANCE_TYPES["m6a.4xlarge"]


def _size(plan: NodePlan) -> tuple[int, int]:
    return plan.instance_type.vcpu * plan.node_count, plan.instance_type.memory_gib * plan.node_count


@pytest.mark.parametrize("excluded", [frozenset(), EXTERNAL_SERVICES], ids=["in-cluster", "managed"])
@pytest.mark.parametrize("tier", list(Tier), ids=str)
def test_tier_plans_match_the_tier_table(tier: Tier, excluded: frozenset[str]) -> None:
    spec = TIERS[tier]
    vcpu, memory = _size(plan_node_groups(estimate_for_tier(tier), excluded_services=excluded))
    # Never less than the tier Sourcegraph load-tested; never twice it (memory in GiB against the
    # table's GB, as Sourcegraph pairs 384 GB with the 384 GiB m6a.24xlarge).
    assert vcpu >= spec.vcpu and memory >= spec.memory_gb
    if tier in _SMALL:
        # Sourcegraph's EKS guide: up to 6 x m6a.4xlarge below 2,000 users.
        assert vcpu <= 6 * _GUIDE.vcpu and memory <= 6 * _GUIDE.memory_gib
    else:
        assert vcpu <= 2 * spec.vcpu and memory <= 2 * spec.memory_gb


@pytest.mark.parametrize("tier", list(Tier), ids=str)
def test_every_node_group_stays_within_the_default_quota(tier: Tier) -> None:
    plan = plan_node_groups(estimate_for_tier(tier))
    assert max(plan.nodes_per_az) <= nodegroups.EKS_NODE_GROUP_QUOTA
    assert plan.az_count <= nodegroups.EKS_NODE_GROUPS_PER_CLUSTER_QUOTA
    assert not plan.warnings


def test_a_plan_over_the_node_group_quota_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # With one node per group, no candidate type holds 3XL (260 vCPU) on two nodes.
    monkeypatch.setattr(nodegroups, "EKS_NODE_GROUP_QUOTA", 1)
    with pytest.raises(
        ConfigError,
        match=r"^node_count must be at most 2 over 2 zones \(1 nodes per managed node group, EKS's default "
        r"quota\) \(got '\d+ × m6a\.\w+'\): .*raise 'Nodes per managed node group' in Service Quotas",
    ):
        plan_node_groups(estimate_for_tier(Tier.XXXL))


def test_more_zones_than_the_node_group_quota_is_refused() -> None:
    with pytest.raises(
        ConfigError, match=r"^availability_zone_count must be at most 30 .*'Managed node groups per cluster'"
    ):
        plan_node_groups(estimate_for_tier(Tier.XS), az_count=31)


def _single_node(tier: Tier) -> tuple[int, int]:
    instance = INSTANCE_TYPES[str(TIERS[tier].recommended_instance_type)]
    return instance.vcpu, instance.memory_gib


@pytest.mark.parametrize(
    "workload",
    [
        Workload(users=20_000, repos=250_000, total_repo_gb=8_000),  # issue #15's example: XL
        Workload(users=1_000, repos=80_000, total_repo_gb=800),
        Workload(users=1_000, repos=20_000, total_repo_gb=2_000, largest_repo_gb=20),
        Workload(users=100, repos=300, total_repo_gb=30),
    ],
    ids=["XL-8TB", "L", "M-2TB", "XS"],
)
def test_eks_plan_is_at_most_twice_the_single_node(workload: Workload) -> None:
    est = estimate(workload)
    vcpu, memory = _size(plan_node_groups(est))
    single_vcpu, single_memory = _single_node(est.tier)
    assert vcpu <= 2 * single_vcpu and memory <= 2 * single_memory


@settings(max_examples=150, deadline=None)
@given(
    users=st.integers(1, 20_000),
    repos=st.integers(1, 250_000),
    total=st.floats(1, 100_000, allow_nan=False),
    largest=st.floats(0, 35, allow_nan=False),
)
def test_eks_is_at_most_twice_the_single_node_for_machine_tiers(
    users: int, repos: int, total: float, largest: float
) -> None:
    est = estimate(
        Workload(users=users, repos=repos, total_repo_gb=total, largest_repo_gb=min(largest, total))
    )
    assert est.tier in machine_tiers()
    vcpu, memory = _size(plan_node_groups(est))
    single_vcpu, single_memory = _single_node(est.tier)
    assert single_vcpu <= vcpu <= 2 * single_vcpu and single_memory <= memory <= 2 * single_memory


def test_gitserver_requests_working_memory_not_all_data() -> None:
    # 8 TB of repositories: upstream asks 400 GB per gitserver replica; the request stops at the cap.
    est = estimate(Workload(users=20_000, repos=250_000, total_repo_gb=8_000))
    git = est.service("gitserver")
    assert git.memory_request_gb_per_replica <= GITSERVER_MEMORY_CAP_GB
    assert git.memory_limit_gb_per_replica == 400  # the page cache's room: upstream's figure
    assert git.storage_gb == 10_400  # storage still follows all the data: 1.3 x total
    assert est.totals.memory_request_gb <= TIERS[est.tier].memory_gb
