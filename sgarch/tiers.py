"""Sourcegraph size tiers: pure data, no Pulumi and no logic beyond lookup.

The numbers come from Sourcegraph's instance-size guide (users, repos, vCPU and memory), its AWS sizing
pages (instance types), its single-node script (minimum vCPU and memory) and the machine-image build
(largest repo and concurrent users). Where Sourcegraph's own pages disagree we use ``instance-size``:
the XS repo limit is 5,000, limits read "up to", and the L instance is ``m6a.12xlarge``.

A tier is chosen from users *and* repositories; the larger of the two wins ("if you fall between two sizes,
choose the larger"). 2XL and 3XL exist only for Kubernetes: no single EC2 instance is recommended there.

The data volume's *size* is deliberately not a tier property. It follows the workload's storage, because an
EBS volume can grow but never shrink: tying size to the tier would make a move down a tier try to shrink,
that is replace, the volume that holds every repository and database.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "TIERS",
    "DataVolumeSpec",
    "Tier",
    "TierSpec",
    "get_tier",
    "machine_tiers",
    "tier_for_repos",
    "tier_for_users",
]


class Tier(str, enum.Enum):
    """A size tier. Members compare by size: ``Tier.XS < Tier.L``."""

    XS = "XS"
    S = "S"
    M = "M"
    L = "L"
    XL = "XL"
    XXL = "2XL"
    XXXL = "3XL"

    @property
    def rank(self) -> int:
        """Position from smallest (0) to largest."""
        return _ORDER.index(self)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Tier):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Tier):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Tier):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Tier):
            return NotImplemented
        return self.rank >= other.rank

    def __str__(self) -> str:
        return self.value

    @property
    def kubernetes_only(self) -> bool:
        """True for 2XL and 3XL, which no single machine serves."""
        return self in (Tier.XXL, Tier.XXXL)

    def next(self) -> Tier | None:
        """The next larger tier, or None above 3XL."""
        return _ORDER[self.rank + 1] if self.rank + 1 < len(_ORDER) else None


_ORDER: tuple[Tier, ...] = (Tier.XS, Tier.S, Tier.M, Tier.L, Tier.XL, Tier.XXL, Tier.XXXL)


@dataclass(frozen=True)
class DataVolumeSpec:
    """Performance of the single-node data volume (EBS). Size is not here: see the module docstring.

    Every tier uses gp3. Sourcegraph's machine images gave L and XL an io2 volume at 16,000 IOPS; gp3 reaches
    the same 16,000 IOPS with provisioned IOPS and throughput. At the us-east-1 list prices of 2026, 16,000
    IOPS cost about $65 a month on gp3 (13,000 IOPS above the free 3,000 at $0.005) against about $1,040 on
    io2 ($0.065 per IOPS), and gp3 storage is $0.08 per GB-month against $0.125. Sourcegraph's I/O is
    repository reads and index writes, not the sub-millisecond latency io2 is built for, so the cheaper
    volume loses nothing that matters.
    """

    volume_type: str
    iops: int
    throughput_mibps: int


@dataclass(frozen=True)
class TierSpec:
    """Capacity and recommended hardware of one tier.

    ``max_users`` and ``max_repos`` are inclusive upper limits ("up to"). ``largest_repo_gb`` and
    ``concurrent_users`` are the figures the tier was load-tested with; ``concurrent_users`` is 20% of
    ``max_users`` and is what the load tests run as virtual users. Machine fields are None for the
    Kubernetes-only tiers.
    """

    tier: Tier
    max_users: int
    max_repos: int
    largest_repo_gb: int | None
    concurrent_users: int
    vcpu: int
    memory_gb: int
    min_vcpu: int | None
    min_memory_gib: int | None
    recommended_instance_type: str | None
    minimum_instance_type: str | None
    data_volume: DataVolumeSpec | None

    @property
    def kubernetes_only(self) -> bool:
        """True when no single machine is recommended for this tier."""
        return self.tier.kubernetes_only


_GP3_BASELINE = DataVolumeSpec(volume_type="gp3", iops=3000, throughput_mibps=125)
# Same IOPS as the io2 volume Sourcegraph shipped for L/XL; 1,000 MiB/s keeps zoekt re-indexing and
# large clones from being throughput-bound. See DataVolumeSpec for the cost reasoning.
_GP3_PROVISIONED = DataVolumeSpec(volume_type="gp3", iops=16000, throughput_mibps=1000)

TIERS: dict[Tier, TierSpec] = {
    Tier.XS: TierSpec(Tier.XS, 500, 5_000, 5, 100, 8, 32, 8, 32, "m6a.2xlarge", "m6a.2xlarge", _GP3_BASELINE),
    Tier.S: TierSpec(
        Tier.S, 1_000, 10_000, 23, 200, 16, 64, 8, 32, "m6a.4xlarge", "m6a.2xlarge", _GP3_BASELINE
    ),
    Tier.M: TierSpec(
        Tier.M, 5_000, 50_000, 23, 1_000, 32, 128, 16, 64, "m6a.8xlarge", "m6a.4xlarge", _GP3_BASELINE
    ),
    Tier.L: TierSpec(
        Tier.L, 10_000, 100_000, 35, 2_000, 48, 192, 32, 128, "m6a.12xlarge", "m6a.8xlarge", _GP3_PROVISIONED
    ),
    Tier.XL: TierSpec(
        Tier.XL,
        20_000,
        250_000,
        35,
        4_000,
        96,
        384,
        48,
        192,
        "m6a.24xlarge",
        "m6a.12xlarge",
        _GP3_PROVISIONED,
    ),
    Tier.XXL: TierSpec(Tier.XXL, 40_000, 500_000, None, 8_000, 192, 768, None, None, None, None, None),
    Tier.XXXL: TierSpec(Tier.XXXL, 50_000, 5_000_000, None, 10_000, 260, 1_000, None, None, None, None, None),
}


def get_tier(name: str | Tier) -> TierSpec:
    """Look a tier up by name (``"m"``, ``"M"``, ``"2XL"``, ``"xxl"``). Raises ConfigError when unknown."""
    from sgarch.errors import ConfigError

    if isinstance(name, Tier):
        return TIERS[name]
    key = str(name).strip().upper()
    key = {"XXL": "2XL", "XXXL": "3XL"}.get(key, key)
    for tier in _ORDER:
        if tier.value == key:
            return TIERS[tier]
    raise ConfigError(
        "tier", f"one of {', '.join(t.value for t in _ORDER)}", name, "pick the tier `sgarch size` recommends"
    )


def machine_tiers() -> tuple[Tier, ...]:
    """The tiers a single machine serves (XS to XL)."""
    return tuple(t for t in _ORDER if not t.kubernetes_only)


def tier_for_users(users: int) -> Tier:
    """The smallest tier whose user limit covers ``users``; 3XL beyond every limit."""
    for tier in _ORDER:
        if users <= TIERS[tier].max_users:
            return tier
    return Tier.XXXL


def tier_for_repos(repos: int) -> Tier:
    """The smallest tier whose repository limit covers ``repos``; 3XL beyond every limit."""
    for tier in _ORDER:
        if repos <= TIERS[tier].max_repos:
            return tier
    return Tier.XXXL
