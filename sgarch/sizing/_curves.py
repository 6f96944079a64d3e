"""Read the upstream reference curves at a workload: the estimator's interpolation, made monotone. Pure.

Each curve (:mod:`sgarch.sizing.reference_points`) maps one workload factor to one service's replicas,
CPU, memory, scratch space and storage. Interpolating per-pod values between points where upstream adds a
replica and lowers the pod could shrink a service as the workload grows, so every curve is first turned
into running maxima of its *totals* (replicas × per pod) and read from those; the estimator
(:mod:`sgarch.sizing.estimator`) then applies sgarch's own rules to the readings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

from sgarch.sizing.reference_points import CURVES, Curve, Point
from sgarch.sizing.workload import Workload

__all__ = ["CurveReading", "read_curves"]

_UPSTREAM_NAMES = {"codeinsights-db": "codeInsightsDB", "codeintel-db": "codeIntelDB"}

_FACTOR_LABELS = {
    "engaged_users": "users",
    "average_repositories": "repositories",
    "total_repo_size_gb": "total repository size (GB)",
    "largest_repo_size_gb": "largest repository (GB)",
    "largest_index_size_gb": "largest code-intel index (GB)",
    "user_repo_sum_ratio": "(users + repositories) / 1000",
}


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


# zoekt-webserver's 5,000,000-repository point gives 50 replicas with 2,160/4,320 GB of memory and 8/384
# cores: totals across the replicas (43 GB and under 8 cores each), not figures per replica.
_ZOEKT_TOP_REPOS = 5_000_000
_ZOEKT_TOP_REPLICAS = 50


def _corrected(curve: Curve) -> Curve:
    if curve.service != "indexedSearch":
        return curve
    # Both zoekt-webserver curves share their points, so the CPU curve takes the memory curve's replicas
    # and, like it, counts totals across them; the top point is divided back to one replica.
    memory_curve = next(c for c in CURVES if c.service == "indexedSearch")
    replicas = {p.value: p.replicas for p in memory_curve.points}
    points = []
    for p in curve.points:
        if p.value == _ZOEKT_TOP_REPOS:
            p = p._replace(
                cpu_request=p.cpu_request / _ZOEKT_TOP_REPLICAS,
                cpu_limit=p.cpu_limit / _ZOEKT_TOP_REPLICAS,
                mem_request_gb=p.mem_request_gb / _ZOEKT_TOP_REPLICAS,
                mem_limit_gb=p.mem_limit_gb / _ZOEKT_TOP_REPLICAS,
            )
        points.append(p._replace(replicas=replicas[p.value]))
    return curve._replace(points=tuple(points))


def _prepare(curve: Curve) -> _Prepared:
    curve = _corrected(curve)
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
class CurveReading:
    """What the curves say about one service at one workload, before the estimator's own rules apply.

    CPU and memory are ``(request, limit)``: totals across the replicas when ``*_is_total`` (the curve sets
    the replica count), else per pod. The estimator overwrites some fields (storage formulas, caps).
    """

    replicas: int = 0
    cpu: tuple[float, float] | None = None
    cpu_is_total: bool = False
    memory: tuple[float, float] | None = None
    memory_is_total: bool = False
    ephemeral: tuple[float, float] | None = None
    storage: float = 0.0


def read_curves(w: Workload, warnings: list[tuple[str, str]]) -> dict[str, CurveReading]:
    """Every curve read at ``w``, by service (the upstream service names, ``symbols`` included).

    A curve read beyond its last reference point appends ``(service, message)`` to ``warnings``; the
    estimator drops the warnings of services the workload turns off.
    """
    acc: dict[str, CurveReading] = {}
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
        svc = acc.setdefault(curve.service, CurveReading())
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
