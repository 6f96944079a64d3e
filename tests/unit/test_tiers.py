from __future__ import annotations

import itertools

import pytest

from sgarch.errors import ConfigError
from sgarch.tiers import TIERS, Tier, get_tier, machine_tiers, tier_for_repos, tier_for_users


@pytest.mark.parametrize(
    ("users", "tier"),
    [
        (1, Tier.XS),
        (500, Tier.XS),
        (501, Tier.S),
        (1000, Tier.S),
        (1001, Tier.M),
        (5000, Tier.M),
        (5001, Tier.L),
        (10000, Tier.L),
        (10001, Tier.XL),
        (20000, Tier.XL),
        (20001, Tier.XXL),
        (40000, Tier.XXL),
        (40001, Tier.XXXL),
        (50000, Tier.XXXL),
    ],
)
def test_user_boundaries(users: int, tier: Tier) -> None:
    assert tier_for_users(users) is tier


@pytest.mark.parametrize(
    ("repos", "tier"),
    [
        (1, Tier.XS),
        (5000, Tier.XS),
        (5001, Tier.S),
        (10000, Tier.S),
        (10001, Tier.M),
        (50000, Tier.M),
        (50001, Tier.L),
        (100000, Tier.L),
        (100001, Tier.XL),
        (250000, Tier.XL),
        (250001, Tier.XXL),
        (500000, Tier.XXL),
        (500001, Tier.XXXL),
        (5_000_000, Tier.XXXL),
    ],
)
def test_repo_boundaries(repos: int, tier: Tier) -> None:
    assert tier_for_repos(repos) is tier


def test_tiers_are_ordered_and_grow() -> None:
    specs = [TIERS[t] for t in Tier]
    for small, big in itertools.pairwise(specs):
        assert small.tier < big.tier
        assert small.max_users < big.max_users and small.max_repos < big.max_repos
        assert small.vcpu < big.vcpu and small.memory_gb < big.memory_gb


def test_machine_tiers_have_hardware_and_k8s_tiers_do_not() -> None:
    assert machine_tiers() == (Tier.XS, Tier.S, Tier.M, Tier.L, Tier.XL)
    for tier in Tier:
        spec = TIERS[tier]
        assert (spec.recommended_instance_type is None) == tier.kubernetes_only
        assert (spec.data_volume is None) == tier.kubernetes_only


def test_concurrent_users_are_twenty_percent() -> None:
    for spec in TIERS.values():
        assert spec.concurrent_users * 5 == spec.max_users


def test_large_tiers_use_provisioned_gp3_not_io2() -> None:
    for tier in (Tier.L, Tier.XL):
        vol = TIERS[tier].data_volume
        assert vol is not None and vol.volume_type == "gp3" and vol.iops == 16000


def test_get_tier_accepts_aliases_and_rejects_unknown() -> None:
    assert get_tier("m").tier is Tier.M
    assert get_tier("xxl").tier is Tier.XXL
    with pytest.raises(ConfigError) as err:
        get_tier("XXS")
    assert str(err.value) == (
        "tier must be one of XS, S, M, L, XL, 2XL, 3XL (got 'XXS'): pick the tier `sgarch size` recommends."
    )
