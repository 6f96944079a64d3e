"""What the estimator answers: the recommended architecture, each service's resources and their totals.

Plain frozen data, shared by everything that renders an estimate (Helm values, the Compose override, node
plans, the CLI's tables). The rules that fill it are in :mod:`sgarch.sizing.estimator`.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from sgarch.sizing.workload import Workload
from sgarch.tiers import TIERS, Tier, TierSpec

__all__ = ["Architecture", "Estimate", "ServiceEstimate", "Totals"]


class Architecture(str, enum.Enum):
    """The reference architecture sgarch recommends."""

    SINGLE_NODE = "single-node"
    EKS = "eks"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class ServiceEstimate:
    """Resources of one service. CPU, memory and storage are **totals across all replicas**.

    Per-pod figures (what Helm's ``resources`` and Compose's ``cpus``/``mem_limit`` take) are the
    ``*_per_replica`` properties. Storage is the service's persistent volume total; ephemeral storage is
    scratch space (searcher's cache).
    """

    name: str
    replicas: int
    cpu_request: float
    cpu_limit: float
    memory_request_gb: float
    memory_limit_gb: float
    ephemeral_request_gb: float
    ephemeral_limit_gb: float
    storage_gb: int

    @property
    def enabled(self) -> bool:
        """False when the workload turns the service off (precise code intel with a 0 GB index)."""
        return self.replicas > 0

    def _per(self, total: float) -> float:
        return total / self.replicas if self.replicas else 0.0

    @property
    def cpu_request_per_replica(self) -> float:
        """CPU request of one pod, cores."""
        return self._per(self.cpu_request)

    @property
    def cpu_limit_per_replica(self) -> float:
        """CPU limit of one pod, cores."""
        return self._per(self.cpu_limit)

    @property
    def memory_request_gb_per_replica(self) -> float:
        """Memory request of one pod, GB."""
        return self._per(self.memory_request_gb)

    @property
    def memory_limit_gb_per_replica(self) -> float:
        """Memory limit of one pod, GB."""
        return self._per(self.memory_limit_gb)

    @property
    def ephemeral_limit_gb_per_replica(self) -> float:
        """Scratch space of one pod, GB."""
        return self._per(self.ephemeral_limit_gb)


@dataclass(frozen=True)
class Totals:
    """Sums over every service of an estimate."""

    cpu_request: float
    cpu_limit: float
    memory_request_gb: float
    memory_limit_gb: float
    ephemeral_request_gb: float
    ephemeral_limit_gb: float
    storage_gb: int
    replicas: int

    @classmethod
    def of(cls, services: Iterable[ServiceEstimate]) -> Totals:
        """Sum ``services``."""
        items = list(services)
        return cls(
            cpu_request=_fsum(s.cpu_request for s in items),
            cpu_limit=_fsum(s.cpu_limit for s in items),
            memory_request_gb=_fsum(s.memory_request_gb for s in items),
            memory_limit_gb=_fsum(s.memory_limit_gb for s in items),
            ephemeral_request_gb=_fsum(s.ephemeral_request_gb for s in items),
            ephemeral_limit_gb=_fsum(s.ephemeral_limit_gb for s in items),
            storage_gb=sum(s.storage_gb for s in items),
            replicas=sum(s.replicas for s in items),
        )


@dataclass(frozen=True)
class Estimate:
    """The estimator's answer for one workload."""

    workload: Workload
    tier: Tier
    users_tier: Tier
    repos_tier: Tier
    decided_by: str
    """Which dimension set the tier: ``"users"``, ``"repos"``, ``"users and repos"``, or ``"tier"`` when an
    explicit tier above what the workload needs was asked for."""
    services: tuple[ServiceEstimate, ...]
    totals: Totals
    recommended_architecture: Architecture
    recommended_instance_type: str | None
    """The EC2 type for single-node tiers; None on EKS, where node groups are sized by bin-packing."""
    warnings: tuple[str, ...] = field(default=())

    @property
    def tier_spec(self) -> TierSpec:
        """Capacity and hardware of :attr:`tier`."""
        return TIERS[self.tier]

    @property
    def reason(self) -> str:
        """One sentence on why this tier, naming the deciding dimension."""
        w = self.workload
        users = f"{w.users:,} users need {self.users_tier} (up to {TIERS[self.users_tier].max_users:,})"
        repos = f"{w.repos:,} repos need {self.repos_tier} (up to {TIERS[self.repos_tier].max_repos:,})"
        if self.decided_by == "tier":
            needed = max(self.users_tier, self.repos_tier)
            return f"Tier {self.tier} as configured; the workload alone needs {needed} ({users}; {repos})."
        if self.decided_by == "repos":
            return f"Repos decided it: {repos}; {w.users:,} users alone would be {self.users_tier}."
        if self.decided_by == "users":
            return f"Users decided it: {users}; {w.repos:,} repos alone would be {self.repos_tier}."
        return f"Users and repos agree: {users}, and {repos}."

    def service(self, name: str) -> ServiceEstimate:
        """The estimate of one service by chart key (``"gitserver"``). Raises KeyError when unknown."""
        for svc in self.services:
            if svc.name == name:
                return svc
        raise KeyError(name)


def _fsum(values: Iterable[float]) -> float:
    return math.fsum(values)
