"""Turn a :class:`Workload` into a tier and per-service resources.

The model is Sourcegraph's resource estimator (reference points per service, linear interpolation,
half-away-from-zero replica rounding, storage formulas), with four deliberate differences:

1. **Tier from users and repositories.** Upstream lets the repositories ladder overwrite the users ladder,
   so 37,000 users with one repository come out "XS". Here the larger of the two wins, and the estimate says
   which dimension decided it.
2. **Monotone in every input.** Upstream's sheet sometimes lowers a pod's resources when it adds a replica
   (precise-code-intel at an 81 GB index, searcher at 2.5M repositories), and interpolating per-pod values
   between such points can shrink a service while the workload grows. sgarch interpolates each service's
   *total* (replicas × per-pod), after taking the running maximum over the reference points, so a bigger
   workload never gets less CPU, memory or storage. Per-pod values are the total divided by the replicas.
3. **Today's chart.** ``symbols`` was folded into ``searcher`` and the zoekt services are filed by role
   (``indexedSearch`` = zoekt-webserver, ``indexedSearchIndexer`` = zoekt-indexserver).
4. **Limits never below requests.** A few reference points ask for more than their limit, which Kubernetes
   rejects; the limit is raised to the request.

Totals are rounded up: CPU to a quarter core, memory to a quarter GB, storage to a whole GB.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

from sgarch.sizing.reference_points import CURVES, Curve, Point
from sgarch.sizing.workload import Workload
from sgarch.tiers import TIERS, Tier, TierSpec, tier_for_repos, tier_for_users

__all__ = [
    "AVERAGE_REPO_GB",
    "SERVICE_ORDER",
    "SINGLETONS",
    "Architecture",
    "Estimate",
    "ServiceEstimate",
    "Totals",
    "estimate",
    "estimate_for_tier",
]


class Architecture(str, enum.Enum):
    """The reference architecture sgarch recommends."""

    SINGLE_NODE = "single-node"
    EKS = "eks"

    def __str__(self) -> str:
        return self.value


# Services in the order tables list them; names are the Helm chart's keys.
SERVICE_ORDER: tuple[str, ...] = (
    "frontend",
    "gitserver",
    "indexedSearch",
    "indexedSearchIndexer",
    "searcher",
    "syntectServer",
    "preciseCodeIntel",
    "syntacticCodeIntel",
    "worker",
    "pgsql",
    "codeIntelDB",
    "codeInsightsDB",
    "redisCache",
    "redisStore",
    "blobstore",
    "prometheus",
    "grafana",
)

# Databases, Redis and the object store run as one pod each; upstream's extra redis-cache replicas become
# a bigger single pod (the same total), since the chart cannot shard them.
SINGLETONS = frozenset(
    {
        "pgsql",
        "codeIntelDB",
        "codeInsightsDB",
        "redisCache",
        "redisStore",
        "blobstore",
        "prometheus",
        "grafana",
    }
)

_FOLDED = {"symbols": "searcher"}

_UPSTREAM_NAMES = {"codeinsights-db": "codeInsightsDB", "codeintel-db": "codeIntelDB"}

# Services without a curve still need their chart-default resources and storage so the totals are whole.
_NO_CURVE_DEFAULTS = {"grafana": (1, 0.1, 1.0, 0.5, 0.5, 2)}

_FACTOR_LABELS = {
    "engaged_users": "users",
    "average_repositories": "repositories",
    "total_repo_size_gb": "total repository size (GB)",
    "largest_repo_size_gb": "largest repository (GB)",
    "largest_index_size_gb": "largest code-intel index (GB)",
    "user_repo_sum_ratio": "(users + repositories) / 1000",
}


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
    """Which dimension set the tier: ``"users"``, ``"repos"`` or ``"users and repos"``."""
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


# --- curve evaluation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Prepared:
    """A curve made monotone: running maxima of replicas, totals (or per-pod values) and storage."""

    service: str
    factor: str
    values: tuple[float, ...]
    replicas: tuple[int, ...]
    sets_replicas: bool
    # cpu_req, cpu_lim, mem_req, mem_lim: totals when the curve sets replicas, else per pod.
    resources: tuple[tuple[float, float, float, float], ...]
    ephemeral: tuple[tuple[float, float], ...]
    storage: tuple[float, ...]
    sets_cpu: bool
    sets_memory: bool
    sets_ephemeral: bool
    sets_storage: bool


def _running_max(rows: list[tuple[float, ...]]) -> list[tuple[float, ...]]:
    out: list[tuple[float, ...]] = []
    for row in rows:
        out.append(row if not out else tuple(max(a, b) for a, b in zip(out[-1], row, strict=True)))
    return out


def _prepare(curve: Curve) -> _Prepared:
    points: tuple[Point, ...] = curve.points
    sets_replicas = any(p.replicas > 0 for p in points)
    replicas = [int(r[0]) for r in _running_max([(float(p.replicas),) for p in points])]
    res_rows: list[tuple[float, ...]] = []
    for p, r in zip(points, replicas, strict=True):
        mult = max(r, 1) if sets_replicas else 1
        res_rows.append(
            (p.cpu_request * mult, p.cpu_limit * mult, p.mem_request_gb * mult, p.mem_limit_gb * mult)
        )
    resources = _running_max(res_rows)
    ephemeral = _running_max([(p.eph_request_gb, p.eph_limit_gb) for p in points])
    storage = [row[0] for row in _running_max([(p.storage_gb,) for p in points])]
    return _Prepared(
        service=_UPSTREAM_NAMES.get(curve.service, curve.service),
        factor=curve.factor,
        values=tuple(p.value for p in points),
        replicas=tuple(replicas),
        sets_replicas=sets_replicas,
        resources=tuple((r[0], r[1], r[2], r[3]) for r in resources),
        ephemeral=tuple((e[0], e[1]) for e in ephemeral),
        storage=tuple(storage),
        sets_cpu=any(p.cpu_request or p.cpu_limit for p in points),
        sets_memory=any(p.mem_request_gb or p.mem_limit_gb for p in points),
        sets_ephemeral=any(p.eph_limit_gb > 0 for p in points),
        sets_storage=any(p.storage_gb > 0 for p in points),
    )


@cache
def _prepared_curves() -> tuple[_Prepared, ...]:
    return tuple(_prepare(c) for c in CURVES)


@dataclass(frozen=True)
class _Point:
    replicas: int
    resources: tuple[float, float, float, float]
    ephemeral: tuple[float, float]
    storage: float
    beyond: bool


def _round_half_away(x: float) -> int:
    return math.floor(abs(x) + 0.5) * (1 if x >= 0 else -1)


def _interpolate(curve: _Prepared, v: float) -> _Point:
    values = curve.values
    b = next((i for i, value in enumerate(values) if value >= v), None)
    if b is None:
        last = len(values) - 1
        return _Point(
            curve.replicas[last], curve.resources[last], curve.ephemeral[last], curve.storage[last], True
        )
    a = b - 1 if b > 0 else b
    span = values[b] - values[a]
    f = (v - values[a]) / span if span else 0.0
    f = max(f, 0.0)  # below the first point the first point applies

    def lin(x: float, y: float) -> float:
        return x + (y - x) * f

    return _Point(
        replicas=curve.replicas[a] + _round_half_away((curve.replicas[b] - curve.replicas[a]) * f),
        resources=(
            lin(curve.resources[a][0], curve.resources[b][0]),
            lin(curve.resources[a][1], curve.resources[b][1]),
            lin(curve.resources[a][2], curve.resources[b][2]),
            lin(curve.resources[a][3], curve.resources[b][3]),
        ),
        ephemeral=(
            lin(curve.ephemeral[a][0], curve.ephemeral[b][0]),
            lin(curve.ephemeral[a][1], curve.ephemeral[b][1]),
        ),
        # Upstream never interpolates storage: it takes the point below.
        storage=curve.storage[a],
        beyond=False,
    )


def _factor_value(factor: str, w: Workload) -> float:
    return {
        "engaged_users": float(w.users),
        "average_repositories": float(w.repos),
        "total_repo_size_gb": w.total_repo_gb,
        "largest_repo_size_gb": w.largest_repo,
        "largest_index_size_gb": w.largest_index_gb,
        # Integer division, as upstream.
        "user_repo_sum_ratio": float((w.users + w.repos) // 1000),
    }[factor]


@dataclass
class _Acc:
    replicas: int = 0
    cpu: tuple[float, float] | None = None
    cpu_is_total: bool = False
    memory: tuple[float, float] | None = None
    memory_is_total: bool = False
    ephemeral: tuple[float, float] | None = None
    storage: float = 0.0


def _ceil_to(x: float, step: float) -> float:
    # The small epsilon keeps 6.000000001 (float noise) from rounding up a whole step.
    return math.ceil(x / step - 1e-9) * step


def _raw_services(w: Workload, warnings: list[tuple[str, str]]) -> dict[str, _Acc]:
    acc: dict[str, _Acc] = {}
    for curve in _prepared_curves():
        v = _factor_value(curve.factor, w)
        point = _interpolate(curve, v)
        if point.beyond:
            warnings.append(
                (
                    curve.service,
                    f"{curve.service}: {_FACTOR_LABELS[curve.factor]} of {v:,g} is beyond the largest reference "
                    f"point ({curve.values[-1]:,g}); the estimate stops there, so ask Sourcegraph to confirm it",
                )
            )
        svc = acc.setdefault(curve.service, _Acc())
        if curve.sets_replicas and svc.replicas == 0:
            svc.replicas = point.replicas
        if curve.sets_cpu and svc.cpu is None:
            svc.cpu = (point.resources[0], point.resources[1])
            svc.cpu_is_total = curve.sets_replicas
        if curve.sets_memory and svc.memory is None:
            svc.memory = (point.resources[2], point.resources[3])
            svc.memory_is_total = curve.sets_replicas
        if curve.sets_ephemeral and svc.ephemeral is None:
            svc.ephemeral = point.ephemeral
        if curve.sets_storage:
            svc.storage = point.storage
    return acc


def _finish(name: str, svc: _Acc, replicas: int) -> ServiceEstimate:
    def total(pair: tuple[float, float] | None, is_total: bool) -> tuple[float, float]:
        if pair is None or replicas == 0:
            return (0.0, 0.0)
        req, lim = pair if is_total else (pair[0] * replicas, pair[1] * replicas)
        return req, max(lim, req)

    cpu = total(svc.cpu, svc.cpu_is_total)
    mem = total(svc.memory, svc.memory_is_total)
    eph = svc.ephemeral if svc.ephemeral and replicas else (0.0, 0.0)
    eph = (eph[0], max(eph[0], eph[1]))
    return ServiceEstimate(
        name=name,
        replicas=replicas,
        cpu_request=cpu[0],
        cpu_limit=cpu[1],
        memory_request_gb=mem[0],
        memory_limit_gb=mem[1],
        ephemeral_request_gb=eph[0],
        ephemeral_limit_gb=eph[1],
        storage_gb=math.ceil(svc.storage - 1e-9),
    )


def _rounded(s: ServiceEstimate) -> ServiceEstimate:
    return ServiceEstimate(
        name=s.name,
        replicas=s.replicas,
        cpu_request=_ceil_to(s.cpu_request, 0.25),
        cpu_limit=_ceil_to(s.cpu_limit, 0.25),
        memory_request_gb=_ceil_to(s.memory_request_gb, 0.25),
        memory_limit_gb=_ceil_to(s.memory_limit_gb, 0.25),
        ephemeral_request_gb=_ceil_to(s.ephemeral_request_gb, 1),
        ephemeral_limit_gb=_ceil_to(s.ephemeral_limit_gb, 1),
        storage_gb=s.storage_gb,
    )


def _merge(a: ServiceEstimate, b: ServiceEstimate, name: str) -> ServiceEstimate:
    return ServiceEstimate(
        name=name,
        replicas=max(a.replicas, b.replicas),
        cpu_request=a.cpu_request + b.cpu_request,
        cpu_limit=a.cpu_limit + b.cpu_limit,
        memory_request_gb=a.memory_request_gb + b.memory_request_gb,
        memory_limit_gb=a.memory_limit_gb + b.memory_limit_gb,
        ephemeral_request_gb=a.ephemeral_request_gb + b.ephemeral_request_gb,
        ephemeral_limit_gb=a.ephemeral_limit_gb + b.ephemeral_limit_gb,
        storage_gb=a.storage_gb + b.storage_gb,
    )


def _services(w: Workload, warnings: list[str]) -> tuple[ServiceEstimate, ...]:
    curve_warnings: list[tuple[str, str]] = []
    raw = _raw_services(w, curve_warnings)
    total_gb, largest_gb = w.total_repo_gb, w.largest_repo

    # Formulas that replace the curves' storage (upstream Calculate()).
    raw["gitserver"].storage = math.floor(total_gb * 130 / 100)
    raw["indexedSearch"].storage = math.floor(total_gb * 120 / 100 / 2)
    raw["blobstore"].storage = max(raw["blobstore"].storage if w.largest_index_gb else 1, w.largest_index_gb)
    raw["searcher"].ephemeral = (
        max(largest_gb + 0.15 * total_gb, 0.3 * total_gb),
        max(largest_gb + 0.3 * total_gb, 0.4 * total_gb),
    )
    if not w.code_insights:
        raw["codeInsightsDB"].storage = 0

    replicas = {name: 1 if name in SINGLETONS else max(svc.replicas, 1) for name, svc in raw.items()}
    # zoekt-webserver and zoekt-indexserver share the indexed-search pod.
    pod = max(replicas["indexedSearch"], replicas["indexedSearchIndexer"])
    replicas["indexedSearch"] = replicas["indexedSearchIndexer"] = pod
    if w.largest_index_gb == 0:
        replicas["preciseCodeIntel"] = 0
    if not w.syntactic_code_intel:
        replicas["syntacticCodeIntel"] = 0

    # A service the workload turns off cannot run out of reference points.
    warnings.extend(msg for svc, msg in curve_warnings if replicas.get(_FOLDED.get(svc, svc), 1) > 0)
    built = {name: _finish(name, svc, replicas[name]) for name, svc in raw.items()}
    # The chart removed symbols; searcher now does its work, so it gets symbols' resources too.
    built["searcher"] = _merge(built["searcher"], built.pop("symbols"), "searcher")
    for name, (reps, cpu_req, cpu_lim, mem_req, mem_lim, storage) in _NO_CURVE_DEFAULTS.items():
        built[name] = ServiceEstimate(
            name, reps, cpu_req * reps, cpu_lim * reps, mem_req * reps, mem_lim * reps, 0.0, 0.0, storage
        )
    return tuple(_rounded(built[name]) for name in SERVICE_ORDER)


def estimate(workload: Workload) -> Estimate:
    """Estimate the tier and resources for ``workload``. Pure and deterministic."""
    warnings: list[str] = []
    users_tier = tier_for_users(workload.users)
    repos_tier = tier_for_repos(workload.repos)
    tier = max(users_tier, repos_tier)
    if users_tier > repos_tier:
        decided_by = "users"
    elif repos_tier > users_tier:
        decided_by = "repos"
    else:
        decided_by = "users and repos"
    services = _services(workload, warnings)
    spec = TIERS[tier]
    if spec.largest_repo_gb is not None and workload.largest_repo > spec.largest_repo_gb:
        warnings.append(
            f"largest repository ({workload.largest_repo:g} GB) is above the {spec.largest_repo_gb} GB that tier "
            f"{tier} was validated with; expect slower indexing of it and watch gitserver and zoekt memory"
        )
    architecture = Architecture.EKS if tier.kubernetes_only else Architecture.SINGLE_NODE
    return Estimate(
        workload=workload,
        tier=tier,
        users_tier=users_tier,
        repos_tier=repos_tier,
        decided_by=decided_by,
        services=services,
        totals=Totals.of(services),
        recommended_architecture=architecture,
        recommended_instance_type=spec.recommended_instance_type,
        warnings=tuple(dict.fromkeys(warnings)),
    )


AVERAGE_REPO_GB = 100 / 3000
"""Average size of one repository on disk assumed by :func:`estimate_for_tier`: the estimator's defaults."""


def estimate_for_tier(tier: Tier | str) -> Estimate:
    """The estimate at the top of ``tier``: its user and repository limits, with storage to match.

    Used where a tier, not a workload, is the starting point (load-test reports, reference docs, EKS node
    plans). Repositories are assumed to average what Sourcegraph's estimator defaults imply (100 GB for
    3,000 repositories, about 33 MB each: :data:`AVERAGE_REPO_GB`), so XS carries about 167 GB and M 1.7 TB.
    The estimator gives gitserver memory in proportion to the total (about 5%), so a larger assumption makes
    every tier's plan memory-bound on gitserver alone; size a real deployment from its own workload.
    """
    from sgarch.tiers import get_tier

    spec = get_tier(tier)
    total = min(max(round(spec.max_repos * AVERAGE_REPO_GB), 1), 50_000_000)
    largest = float(spec.largest_repo_gb or 35)
    return estimate(
        Workload(users=spec.max_users, repos=spec.max_repos, total_repo_gb=total, largest_repo_gb=largest)
    )


def _fsum(values: Iterable[float]) -> float:
    return math.fsum(values)
