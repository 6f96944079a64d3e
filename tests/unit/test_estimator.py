from __future__ import annotations

import math

import pytest

from sgarch.sizing import SERVICE_ORDER, Architecture, Workload, estimate, estimate_for_tier
from sgarch.sizing.estimator import request_factors
from sgarch.tiers import TIERS, Tier


def test_repos_decide_l_for_1000_users_and_80000_repos() -> None:
    est = estimate(Workload(users=1000, repos=80000))
    assert est.tier is Tier.L
    assert est.decided_by == "repos"
    assert est.reason.startswith("Repos decided it: 80,000 repos need L")
    assert est.recommended_instance_type == "m6a.12xlarge"


def test_small_workload_is_xs() -> None:
    est = estimate(Workload(users=100, repos=300, total_repo_gb=30))
    assert est.tier is Tier.XS
    assert est.decided_by == "users and repos"
    assert est.recommended_architecture is Architecture.SINGLE_NODE


def test_users_alone_can_decide() -> None:
    # Upstream labels this XS (repos overwrite users); the larger tier wins here.
    est = estimate(Workload(users=37000, repos=1, total_repo_gb=1))
    assert est.tier is Tier.XXL and est.decided_by == "users"
    assert est.recommended_architecture is Architecture.EKS
    assert est.recommended_instance_type is None


_USER_EDGES = [(spec.max_users, spec.tier) for spec in TIERS.values() if spec.tier is not Tier.XXXL]
_REPO_EDGES = [(spec.max_repos, spec.tier) for spec in TIERS.values() if spec.tier is not Tier.XXXL]


@pytest.mark.parametrize(("limit", "tier"), _USER_EDGES, ids=lambda x: str(x))
def test_every_user_boundary_both_sides(limit: int, tier: Tier) -> None:
    assert estimate(Workload(users=limit, repos=1, total_repo_gb=1)).tier is tier
    above = estimate(Workload(users=limit + 1, repos=1, total_repo_gb=1))
    assert above.tier is tier.next() and above.decided_by == "users"


@pytest.mark.parametrize(("limit", "tier"), _REPO_EDGES, ids=lambda x: str(x))
def test_every_repo_boundary_both_sides(limit: int, tier: Tier) -> None:
    assert estimate(Workload(users=1, repos=limit)).tier is tier
    above = estimate(Workload(users=1, repos=limit + 1))
    assert above.tier is tier.next() and above.decided_by == "repos"


def test_services_follow_the_chart_and_fold_symbols_into_searcher() -> None:
    est = estimate(Workload())
    assert tuple(s.name for s in est.services) == SERVICE_ORDER
    assert "symbols" not in SERVICE_ORDER


def test_frontend_worked_example_at_3000_users() -> None:
    # Between the 1,000- and 5,000-user points: 2 replicas, 3 cores each, memory limit 5 GB each. Limits
    # are upstream's figures; requests are the same figures times the tier's request factors.
    est = estimate(Workload(users=3000, repos=10))
    frontend = est.service("frontend")
    assert frontend.replicas == 2
    assert frontend.cpu_limit_per_replica == 3
    assert frontend.memory_limit_gb_per_replica == 5
    cpu_factor, _ = request_factors(est.tier)
    assert frontend.cpu_request == math.ceil(6 * cpu_factor * 4) / 4


def test_storage_formulas() -> None:
    est = estimate(Workload(users=10, repos=10, total_repo_gb=1000, largest_repo_gb=20, largest_index_gb=40))
    assert est.service("gitserver").storage_gb == 1300  # 1.3 x total
    assert est.service("indexedSearch").storage_gb == 600  # 0.6 x total
    assert est.service("blobstore").storage_gb == 40  # the largest index
    searcher = est.service("searcher")
    # max(largest + 0.3 total, 0.4 total) = 400, plus symbols' cache (about 1.5 x largest) folded in.
    assert searcher.ephemeral_limit_gb >= 400


def test_code_insights_off_drops_its_storage() -> None:
    on = estimate(Workload(code_insights=True)).service("codeInsightsDB")
    off = estimate(Workload(code_insights=False)).service("codeInsightsDB")
    assert on.storage_gb == 200 and off.storage_gb == 0


def test_zero_index_turns_precise_code_intel_off() -> None:
    est = estimate(Workload(largest_index_gb=0))
    assert not est.service("preciseCodeIntel").enabled
    assert est.service("preciseCodeIntel").cpu_request == 0


def test_limits_never_below_requests() -> None:
    for tier in Tier:
        for s in estimate_for_tier(tier).services:
            assert s.cpu_limit >= s.cpu_request
            assert s.memory_limit_gb >= s.memory_request_gb
            assert s.ephemeral_limit_gb >= s.ephemeral_request_gb


def test_singletons_run_one_pod() -> None:
    est = estimate(Workload(users=50000, repos=5_000_000, total_repo_gb=1_000_000))
    for name in ("pgsql", "codeIntelDB", "codeInsightsDB", "redisCache", "redisStore", "blobstore"):
        assert est.service(name).replicas == 1


def test_warning_beyond_the_last_reference_point() -> None:
    est = estimate(
        Workload(users=10, repos=10, total_repo_gb=1000, largest_repo_gb=200, syntactic_code_intel=True)
    )
    assert any("syntacticCodeIntel" in w and "beyond the largest reference point" in w for w in est.warnings)
    assert not estimate(Workload()).warnings


def test_warning_when_largest_repo_exceeds_the_tier() -> None:
    est = estimate(Workload(users=10, repos=10, total_repo_gb=100, largest_repo_gb=30))
    assert est.tier is Tier.XS
    assert any("above the 5 GB that tier XS was validated with" in w for w in est.warnings)


def test_estimate_for_tier_lands_in_that_tier() -> None:
    for tier in Tier:
        assert estimate_for_tier(tier).tier is tier


def test_disabled_services_raise_no_warnings() -> None:
    est = estimate(Workload(users=10, repos=10, total_repo_gb=1000, largest_repo_gb=200))
    assert not any("syntacticCodeIntel" in w for w in est.warnings)
    assert not est.service("syntacticCodeIntel").enabled


def test_one_tier_rule_in_the_estimate_and_every_args() -> None:
    from sgarch.eks.args import EksClusterArgs
    from sgarch.errors import ConfigError
    from sgarch.single_node.args import SingleNodeArgs
    from sgarch.validation import build

    workload = Workload(users=1000, repos=20_000)  # needs M
    message = r"^tier must be M or larger for the configured workload \(got 'XS'\): 1,000 users need S"
    with pytest.raises(ConfigError, match=message):
        estimate(workload, tier="XS")
    with pytest.raises(ConfigError, match=message):
        SingleNodeArgs(vpc_id="vpc-1", subnet_id="subnet-1", tier="XS", workload=workload)
    with pytest.raises(ConfigError, match=message):
        build(
            EksClusterArgs, None, vpc_id="vpc-1", private_subnet_ids=["a", "b"], tier="XS", workload=workload
        )
    above = estimate(workload, tier="XL")
    assert above.tier is Tier.XL and above.decided_by == "tier"
    assert above.reason.startswith("Tier XL as configured; the workload alone needs M")
    assert SingleNodeArgs(vpc_id="vpc-1", subnet_id="subnet-1", workload=workload).tier is Tier.M
    assert SingleNodeArgs(vpc_id="vpc-1", subnet_id="subnet-1", tier="L", workload=workload).tier is Tier.L
    args = build(
        EksClusterArgs, None, vpc_id="vpc-1", private_subnet_ids=["a", "b"], tier="2XL", workload=workload
    )
    assert args.sizing_estimate().tier is Tier.XXL
