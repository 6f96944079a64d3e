"""Turn a :class:`Workload` into a tier and per-service resources.

The model is Sourcegraph's resource estimator (reference points per service, linear interpolation,
half-away-from-zero replica rounding, storage formulas), with the deliberate differences below. Sources:
sourcegraph/resource-estimator ``internal/scaling/references.go`` (commit 8a3f0fc) for the curves and
storage formulas, Sourcegraph's ``instance-size`` page for the tier table (vCPU and memory per tier).

**The tier table sets the size; the curves share it out.** Upstream reports a deployment's total CPU and
memory from the tier ladder (8 vCPU / 32 GB for XS up to 260 vCPU / 1,000 GB for 3XL), not from the sum of
its per-service figures, and those ladder figures are what Sourcegraph's load tests validated. The sums are
far off the ladder: about 32 cores of CPU requests at XS, where the tier is 8 vCPU, and gitserver's memory
curve alone asks for 5% of all repository data (800 GB for 8 TB of repositories). sgarch therefore reads
every curve as a *share*:

- **Limits** are upstream's figures: what one service may burst to (gitserver's at least twice its cap).
- **Requests**, what Kubernetes reserves, are upstream's figures scaled by one factor per tier and
  dimension, so that the workload a tier stands for (:func:`tier_workload`) requests at most
  :data:`REQUEST_SHARE` of the tier's vCPU and memory. The rest of the tier is the operating system's,
  bursts' and the page cache's. A tier's factor is the smallest any tier from it upwards needs, so factors
  never fall as the tier grows and a growing workload never gets smaller requests (:func:`request_factors`).
  In practice 3XL sets them: about 0.21 of upstream's CPU and 0.44 of its memory.
- **gitserver memory** is working memory per replica: upstream's curve (5% of all repository data, meant
  as the page cache that keeps repositories hot) is the request up to :data:`GITSERVER_MEMORY_CAP_GB` per
  replica. The rest of the curve is page cache, which Linux takes from the memory nobody requested (the
  node's unrequested memory and its headroom); the limit, which counts page cache, stays upstream's
  figure and is at least twice the cap.
- **zoekt-webserver** memory-maps its index shards, so its memory is capped the same way at
  :data:`ZOEKT_MEMORY_CAP_GB` per replica. Its last reference point (5,000,000 repositories: 50 replicas,
  2,160/4,320 GB and 8/384 cores) is read as totals across the replicas (43 GB each), as the rest of the
  curve implies; read per replica it would be 108 TB. searcher's memory follows repositories, not data;
  its data-driven figure is scratch disk (below).
- **Storage is unchanged**: gitserver 1.3 ×, zoekt 0.6 × the repository data, searcher's cache from the
  largest repository and the total, exactly upstream's formulas.

The node plans (:mod:`sgarch.sizing.nodegroups`) add the other half: a tier's nodes never offer less than the
tier's vCPU and memory. Further differences from upstream:

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
5. **An explicit tier** at or above what the workload needs is planned as asked (its request factors); one
   below it is a :class:`~sgarch.errors.ConfigError` naming both tiers (:func:`planned_tier`).

Totals are rounded up: CPU to a quarter core, memory to a quarter GB, storage to a whole GB.
"""

from __future__ import annotations

import math
from functools import cache

from sgarch.errors import ConfigError
from sgarch.sizing._curves import CurveReading, read_curves
from sgarch.sizing._results import Architecture, Estimate, ServiceEstimate, Totals
from sgarch.sizing.workload import Workload
from sgarch.tiers import TIERS, Tier, get_tier, tier_for_repos, tier_for_users

__all__ = [
    "GITSERVER_MEMORY_CAP_GB",
    "REQUEST_SHARE",
    "SERVICE_ORDER",
    "SINGLETONS",
    "TIER_ONLY_TOTAL_REPO_GB",
    "ZOEKT_MEMORY_CAP_GB",
    "Architecture",
    "Estimate",
    "ServiceEstimate",
    "Totals",
    "estimate",
    "estimate_for_tier",
    "planned_tier",
    "request_factors",
    "tier_workload",
]

REQUEST_SHARE = 0.75
"""Fraction of a tier's vCPU and memory that the requests of the workload it stands for add up to at most.
The other quarter is left to the operating system, to limits above requests and to the page cache."""

GITSERVER_MEMORY_CAP_GB = 16.0
"""Working memory requested per gitserver replica at most, GB: twice the Helm chart's default request
(8G), room for git's pack windows on the 35 GB repositories the L and XL tiers were validated with. The
limit is at least twice this. Memory beyond it serves as page cache, which needs no request."""

ZOEKT_MEMORY_CAP_GB = 16.0
"""Memory requested per zoekt-webserver replica at most, GB (its limit stays upstream's): upstream's own
figure at 250,000 repositories. zoekt memory-maps its index shards, so the rest is page cache."""


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

# Services without a curve still need their chart-default resources and storage so the totals are whole.
_NO_CURVE_DEFAULTS = {"grafana": (1, 0.1, 1.0, 0.5, 0.5, 2)}


def _finish(name: str, svc: CurveReading, replicas: int) -> ServiceEstimate:
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


def _ceil_to(x: float, step: float) -> float:
    # The small epsilon keeps 6.000000001 (float noise) from rounding up a whole step.
    return math.ceil(x / step - 1e-9) * step


def _rounded(s: ServiceEstimate, factors: tuple[float, float]) -> ServiceEstimate:
    return ServiceEstimate(
        name=s.name,
        replicas=s.replicas,
        cpu_request=_ceil_to(s.cpu_request * factors[0], 0.25),
        cpu_limit=_ceil_to(s.cpu_limit, 0.25),
        memory_request_gb=_ceil_to(s.memory_request_gb * factors[1], 0.25),
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


def _services(w: Workload, warnings: list[str], factors: tuple[float, float]) -> tuple[ServiceEstimate, ...]:
    curve_warnings: list[tuple[str, str]] = []
    raw = read_curves(w, curve_warnings)
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
    # gitserver's curve is per replica; what it asks beyond the cap is page cache (module docstring), which
    # the limit leaves room for.
    git_memory = raw["gitserver"].memory
    if git_memory is not None:
        raw["gitserver"].memory = (
            min(git_memory[0], GITSERVER_MEMORY_CAP_GB),
            max(git_memory[1], 2 * GITSERVER_MEMORY_CAP_GB),
        )

    replicas = {name: 1 if name in SINGLETONS else max(svc.replicas, 1) for name, svc in raw.items()}
    # zoekt-webserver and zoekt-indexserver share the indexed-search pod.
    pod = max(replicas["indexedSearch"], replicas["indexedSearchIndexer"])
    replicas["indexedSearch"] = replicas["indexedSearchIndexer"] = pod
    if w.largest_index_gb == 0:
        replicas["preciseCodeIntel"] = 0
    if not w.syntactic_code_intel:
        replicas["syntacticCodeIntel"] = 0

    # zoekt-webserver memory-maps its index shards: beyond a working set per replica, its curve is page cache.
    zoekt = raw["indexedSearch"]
    if zoekt.memory is not None and zoekt.memory_is_total:
        zoekt.memory = (min(zoekt.memory[0], ZOEKT_MEMORY_CAP_GB * pod), zoekt.memory[1])

    # A service the workload turns off cannot run out of reference points.
    warnings.extend(msg for svc, msg in curve_warnings if replicas.get(_FOLDED.get(svc, svc), 1) > 0)
    built = {name: _finish(name, svc, replicas[name]) for name, svc in raw.items()}
    # The chart removed symbols; searcher now does its work, so it gets symbols' resources too.
    built["searcher"] = _merge(built["searcher"], built.pop("symbols"), "searcher")
    for name, (reps, cpu_req, cpu_lim, mem_req, mem_lim, storage) in _NO_CURVE_DEFAULTS.items():
        built[name] = ServiceEstimate(
            name, reps, cpu_req * reps, cpu_lim * reps, mem_req * reps, mem_lim * reps, 0.0, 0.0, storage
        )
    return tuple(_rounded(built[name], factors) for name in SERVICE_ORDER)


def planned_tier(explicit: Tier | str | None, needed: Tier | None, why: str = "") -> Tier:
    """The one tier rule of every architecture: the tier to plan, from an explicit ``tier`` and the tier the
    configured workload ``needs`` (None without a workload).

    Unset, the workload's tier wins (XS without a workload). An explicit tier at or above the workload's
    wins. An explicit tier below it is a ConfigError naming both tiers; ``why`` says what needs the larger.
    """
    if explicit is None:
        return needed or Tier.XS
    tier = get_tier(explicit).tier
    if needed is not None and tier < needed:
        reason = f"{why}; " if why else ""
        raise ConfigError(
            "tier",
            f"{needed} or larger for the configured workload",
            tier.value,
            f"{reason}set tier to {needed} or larger, or leave it unset to plan {needed}",
        )
    return tier


def _needs(workload: Workload) -> tuple[Tier, Tier, Tier]:
    users_tier = tier_for_users(workload.users)
    repos_tier = tier_for_repos(workload.repos)
    return max(users_tier, repos_tier), users_tier, repos_tier


def estimate(workload: Workload, tier: Tier | str | None = None) -> Estimate:
    """Estimate the tier and resources for ``workload``. Pure and deterministic.

    ``tier`` is an explicit tier (the ``tier`` setting): at or above what the workload needs, it is planned
    instead; below it, ConfigError (:func:`planned_tier`).
    """
    warnings: list[str] = []
    needed, users_tier, repos_tier = _needs(workload)
    why = (
        f"{workload.users:,} users need {users_tier} and {workload.repos:,} repos need {repos_tier}"
        if tier is not None
        else ""
    )
    planned = planned_tier(tier, needed, why)
    if planned > needed:
        decided_by = "tier"
    elif users_tier > repos_tier:
        decided_by = "users"
    elif repos_tier > users_tier:
        decided_by = "repos"
    else:
        decided_by = "users and repos"
    services = _services(workload, warnings, request_factors(planned))
    spec = TIERS[planned]
    if spec.largest_repo_gb is not None and workload.largest_repo > spec.largest_repo_gb:
        warnings.append(
            f"largest repository ({workload.largest_repo:g} GB) is above the {spec.largest_repo_gb} GB that tier "
            f"{planned} was validated with; expect slower indexing of it and watch gitserver and zoekt memory"
        )
    architecture = Architecture.EKS if planned.kubernetes_only else Architecture.SINGLE_NODE
    return Estimate(
        workload=workload,
        tier=planned,
        users_tier=users_tier,
        repos_tier=repos_tier,
        decided_by=decided_by,
        services=services,
        totals=Totals.of(services),
        recommended_architecture=architecture,
        recommended_instance_type=spec.recommended_instance_type,
        warnings=tuple(dict.fromkeys(warnings)),
    )


TIER_ONLY_TOTAL_REPO_GB = 100.0
"""Repository data on disk, GB, assumed wherever a tier, not a workload, is the starting point: the
estimator's default total (with its default 5 GB largest repository). It is what the single node's 500 GiB
data volume floor holds with its headroom at every tier, so every architecture applies the same assumption:
disk (gitserver, zoekt, searcher, the data volume) and gitserver's working memory follow it. A real
workload's own ``total_repo_gb`` replaces it."""


def tier_workload(tier: Tier | str) -> Workload:
    """The workload a tier stands for: its user and repository limits with :data:`TIER_ONLY_TOTAL_REPO_GB`
    of repositories (the largest 5 GB, the estimator's defaults)."""
    spec = get_tier(tier)
    return Workload(users=spec.max_users, repos=spec.max_repos, total_repo_gb=TIER_ONLY_TOTAL_REPO_GB)


@cache
def _request_factors() -> dict[Tier, tuple[float, float]]:
    factors: dict[Tier, tuple[float, float]] = {}
    cpu_factor = memory_factor = 1.0
    # From the largest tier down, each tier's factor is the smallest any tier from it upwards needs: a
    # factor that grew with the tier would keep a growing workload's requests from ever shrinking.
    for tier in reversed(Tier):
        spec = TIERS[tier]
        services = _services(tier_workload(tier), [], (1.0, 1.0))
        cpu = math.fsum(s.cpu_request for s in services)
        memory = math.fsum(s.memory_request_gb for s in services)
        cpu_factor = min(cpu_factor, REQUEST_SHARE * spec.vcpu / cpu)
        memory_factor = min(memory_factor, REQUEST_SHARE * spec.memory_gb / memory)
        factors[tier] = (cpu_factor, memory_factor)
    return factors


def request_factors(tier: Tier | str) -> tuple[float, float]:
    """``(cpu, memory)``: what upstream's requests are multiplied by in ``tier``: the smallest factor that
    keeps the requests of :func:`tier_workload` within :data:`REQUEST_SHARE` of the vCPU and memory of
    ``tier`` and of every larger tier. At most 1, and never smaller in a larger tier."""
    return _request_factors()[get_tier(tier).tier]


def estimate_for_tier(tier: Tier | str) -> Estimate:
    """The estimate of :func:`tier_workload`: the tier's limits and :data:`TIER_ONLY_TOTAL_REPO_GB`.

    Used where a tier, not a workload, is the starting point (load-test reports, reference docs, EKS node
    plans). CPU and memory hardly depend on the repository data (gitserver's request is capped per replica)
    and the node plans never go below the tier table; disk follows the data. Size a real deployment from
    its own workload.
    """
    return estimate(tier_workload(tier))
