"""Render an :class:`~sgarch.sizing.Estimate` as a Docker Compose override for the single-node architecture.

The override sets ``cpus`` and ``mem_limit`` per Compose service of Sourcegraph's ``docker-compose.yaml``.
On one machine these are caps, not reservations: the services share the host and rarely peak together, so
the caps are the estimate's *limits* (totals across replicas, because Compose runs one container per
service), never more than the host has. Docker refuses to start a container whose ``cpus`` exceeds the host's
CPU count, so that cap is a correctness rule, not a nicety.
"""

from __future__ import annotations

import math
from typing import Any

from sgarch.sizing.estimator import Estimate

__all__ = ["COMPOSE_SERVICES", "SERVICE_TO_COMPOSE", "render_compose_override"]

# Every service name in Sourcegraph's docker-compose.yaml (deploy-sourcegraph-docker v7.5.x).
COMPOSE_SERVICES: frozenset[str] = frozenset(
    {
        "migrator",
        "caddy",
        "sourcegraph-frontend-0",
        "sourcegraph-frontend-internal",
        "gitserver-0",
        "zoekt-indexserver-0",
        "zoekt-webserver-0",
        "searcher-0",
        "precise-code-intel-worker",
        "worker",
        "syntactic-code-intel-worker",
        "syntect-server",
        "prometheus",
        "grafana",
        "cadvisor",
        "node-exporter",
        "pgsql",
        "pgsql-exporter",
        "codeintel-db",
        "codeintel-db-exporter",
        "codeinsights-db",
        "codeinsights-db-exporter",
        "blobstore",
        "redis-cache",
        "redis-store",
        "otel-collector",
    }
)

# Estimator service (Helm chart key) -> Compose service.
SERVICE_TO_COMPOSE: dict[str, str] = {
    "frontend": "sourcegraph-frontend-0",
    "gitserver": "gitserver-0",
    "indexedSearch": "zoekt-webserver-0",
    "indexedSearchIndexer": "zoekt-indexserver-0",
    "searcher": "searcher-0",
    "syntectServer": "syntect-server",
    "preciseCodeIntel": "precise-code-intel-worker",
    "syntacticCodeIntel": "syntactic-code-intel-worker",
    "worker": "worker",
    "pgsql": "pgsql",
    "codeIntelDB": "codeintel-db",
    "codeInsightsDB": "codeinsights-db",
    "redisCache": "redis-cache",
    "redisStore": "redis-store",
    "blobstore": "blobstore",
    "prometheus": "prometheus",
    "grafana": "grafana",
}


def render_compose_override(
    est: Estimate, host_vcpu: float | None = None, host_memory_gb: float | None = None
) -> dict[str, Any]:
    """Return the override as a dict ready for ``yaml.safe_dump``.

    ``host_vcpu`` and ``host_memory_gb`` cap every service at the machine's size. Default: the tier's
    recommended machine (8 vCPU / 32 GB for XS). Services the workload turns off are left out, so Compose
    keeps its own defaults for them.
    """
    spec = est.tier_spec
    vcpu = host_vcpu if host_vcpu is not None else float(spec.vcpu)
    memory_gb = host_memory_gb if host_memory_gb is not None else float(spec.memory_gb)
    services: dict[str, Any] = {}
    for svc in est.services:
        if not svc.enabled:
            continue
        cpus = min(max(svc.cpu_limit, 0.25), vcpu)
        memory = min(max(svc.memory_limit_gb, 0.25), memory_gb)
        services[SERVICE_TO_COMPOSE[svc.name]] = {
            "cpus": round(cpus, 2),
            "mem_limit": _memory(memory),
        }
    return {"services": dict(sorted(services.items()))}


def _memory(gb: float) -> str:
    # Docker reads "g" and "m" as GiB and MiB; the estimator's GB are treated as GiB, rounding up.
    if float(gb).is_integer():
        return f"{int(gb)}g"
    return f"{math.ceil(gb * 1024)}m"
