from __future__ import annotations

from typing import Any

import pytest
from chart_keys import VALUES_KEYS, key_paths

from sgarch.sizing import Workload, estimate, estimate_for_tier
from sgarch.sizing.compose import COMPOSE_SERVICES, render_compose_override
from sgarch.sizing.helm_values import render_helm_values
from sgarch.tiers import Tier, machine_tiers

VARIANTS = [estimate_for_tier(t) for t in Tier] + [
    estimate(Workload(code_insights=False)),
    estimate(Workload(largest_index_gb=0)),
    estimate(Workload(users=50000, repos=5_000_000, total_repo_gb=2_000_000, largest_repo_gb=100)),
]


@pytest.mark.parametrize("est", VARIANTS, ids=lambda e: f"{e.tier}-{e.workload.users}")
def test_helm_values_use_only_chart_keys(est: Any) -> None:
    unknown = [p for p in key_paths(render_helm_values(est), free_form=("env",)) if p not in VALUES_KEYS]
    assert unknown == []


def test_helm_values_drop_removed_services() -> None:
    values = render_helm_values(estimate(Workload()))
    assert "symbols" not in values and "repoUpdater" not in values
    assert "replicaCount" not in values["indexedSearchIndexer"]
    assert "replicaCount" not in values["pgsql"]


def test_helm_storage_is_per_replica_for_sharded_services() -> None:
    est = estimate(Workload(users=1000, repos=150_000, total_repo_gb=3000))
    values = render_helm_values(est)
    gitserver = est.service("gitserver")
    assert gitserver.replicas == 2
    assert values["gitserver"]["storageSize"] == f"{-(-gitserver.storage_gb // 2)}Gi"
    assert values["gitserver"]["replicaCount"] == 2


def test_helm_units() -> None:
    values = render_helm_values(estimate(Workload()))
    # 300 users: one frontend pod limited to 2.75 cores (a quarter-core total, rounded up); requests are the
    # XS share of upstream's figures.
    assert values["frontend"]["resources"]["limits"]["cpu"] == "2750m"
    assert values["frontend"]["resources"]["requests"]["cpu"] == "500m"
    assert values["frontend"]["resources"]["limits"]["memory"] == "5250M"
    assert values["blobstore"]["resources"]["limits"]["memory"] == "500M"
    assert values["blobstore"]["resources"]["requests"]["memory"] == "250M"
    assert values["gitserver"]["resources"]["limits"]["cpu"] == 5  # 3,000 repos: halfway from 4 to 6


def test_code_insights_off_disables_its_database() -> None:
    values = render_helm_values(estimate(Workload(code_insights=False)))
    assert values["codeInsightsDB"] == {"enabled": False}
    assert values["frontend"]["env"]["DISABLE_CODE_INSIGHTS"] == {"value": "true"}


@pytest.mark.parametrize("tier", machine_tiers(), ids=str)
def test_compose_override_names_real_services_and_fits_the_host(tier: Tier) -> None:
    est = estimate_for_tier(tier)
    override = render_compose_override(est)
    assert set(override) == {"services"}
    assert set(override["services"]) <= COMPOSE_SERVICES
    for svc in override["services"].values():
        assert set(svc) == {"cpus", "mem_limit"}
        # Docker refuses cpus above the host's CPU count.
        assert 0 < svc["cpus"] <= est.tier_spec.vcpu


def test_compose_override_leaves_disabled_services_alone() -> None:
    override = render_compose_override(estimate(Workload(largest_index_gb=0)))
    assert "precise-code-intel-worker" not in override["services"]


def test_compose_override_respects_a_smaller_host() -> None:
    override = render_compose_override(estimate_for_tier(Tier.XL), host_vcpu=8, host_memory_gb=32)
    assert max(s["cpus"] for s in override["services"].values()) == 8
