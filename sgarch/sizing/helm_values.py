"""Render an :class:`~sgarch.sizing.Estimate` as override values for Sourcegraph's official Helm chart.

Keys are the chart's own (``charts/sourcegraph/values.yaml``); a test checks every rendered key against the
chart's key list. ``resources`` are per pod; ``storageSize`` is per PVC, and the chart gives gitserver,
indexed-search and searcher one PVC per replica, so their size is the service's storage divided by replicas.
Databases, Redis and the object store are single pods: their resources are the service totals.
"""

from __future__ import annotations

import math
from typing import Any

from sgarch.sizing.estimator import SINGLETONS, Estimate, ServiceEstimate

__all__ = ["SCALABLE", "render_helm_values"]

# Chart keys that take replicaCount. indexedSearchIndexer shares indexedSearch's pod and has no count.
SCALABLE: frozenset[str] = frozenset(
    {
        "frontend",
        "gitserver",
        "indexedSearch",
        "searcher",
        "syntectServer",
        "preciseCodeIntel",
        "syntacticCodeIntel",
        "worker",
    }
)

# Services whose storage is split over one PVC per replica.
_SHARDED = frozenset({"gitserver", "indexedSearch"})


def render_helm_values(est: Estimate) -> dict[str, Any]:
    """Return chart values (a dict ready for ``yaml.safe_dump`` or ``helm.v3.Release(values=...)``)."""
    values: dict[str, Any] = {}
    for svc in est.services:
        block: dict[str, Any] = {}
        pods = 1 if svc.name in SINGLETONS else max(svc.replicas, 1)
        if svc.name in SCALABLE:
            block["replicaCount"] = svc.replicas
        block["resources"] = _resources(svc, pods)
        storage = _storage_gib(svc, pods)
        if storage:
            block["storageSize"] = f"{storage}Gi"
        values[svc.name] = block
    # The chart ships syntactic code intel off; a workload sized for it turns it on.
    if est.service("syntacticCodeIntel").enabled:
        values["syntacticCodeIntel"]["enabled"] = True
    else:
        values["syntacticCodeIntel"] = {"enabled": False}
    if not est.service("preciseCodeIntel").enabled:
        values["preciseCodeIntel"] = {"replicaCount": 0}
    if not est.workload.code_insights:
        values["codeInsightsDB"] = {"enabled": False}
        values["frontend"]["env"] = {"DISABLE_CODE_INSIGHTS": {"value": "true"}}
        values["worker"]["env"] = {"DISABLE_CODE_INSIGHTS": {"value": "true"}}
    return values


def _resources(svc: ServiceEstimate, pods: int) -> dict[str, Any]:
    per = 1 / pods
    return {
        "requests": {"cpu": _cpu(svc.cpu_request * per), "memory": _memory(svc.memory_request_gb * per)},
        "limits": {"cpu": _cpu(svc.cpu_limit * per), "memory": _memory(svc.memory_limit_gb * per)},
    }


def _storage_gib(svc: ServiceEstimate, pods: int) -> int:
    if svc.name == "searcher":
        # searcher's PVC is its cache (the estimator's ephemeral storage), one per replica.
        return math.ceil(svc.ephemeral_limit_gb / pods - 1e-9) if svc.ephemeral_limit_gb else 0
    if not svc.storage_gb:
        return 0
    if svc.name in _SHARDED:
        return max(math.ceil(svc.storage_gb / pods - 1e-9), 1)
    return svc.storage_gb


def _cpu(cores: float) -> str | int:
    millis = math.ceil(cores * 1000 - 1e-6)
    if millis % 1000 == 0:
        return millis // 1000
    return f"{millis}m"


def _memory(gb: float) -> str:
    megabytes = math.ceil(gb * 1000 - 1e-6)
    if megabytes % 1000 == 0:
        return f"{megabytes // 1000}G"
    return f"{megabytes}M"
