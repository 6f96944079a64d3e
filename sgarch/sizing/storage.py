"""Size of the single-node data volume, from the workload alone.

The volume holds everything stateful on the machine: repository clones (gitserver, about 1.3 × the repos
on disk), the zoekt index (about 0.6 ×), searcher's cache, the three Postgres databases, Redis, Prometheus and
Docker's images. The size depends on the workload and never on the tier, because an EBS volume cannot
shrink: a smaller default after a move down a tier would mean replacing the volume that holds all the data.
"""

from __future__ import annotations

import math

from sgarch.sizing.workload import Workload

__all__ = ["MIN_DATA_VOLUME_GIB", "MIN_POC_DATA_VOLUME_GIB", "data_volume_gib", "poc_data_volume_gib"]

MIN_DATA_VOLUME_GIB = 500
"""The floor: what Sourcegraph's machine images ship, and twice the 250 GiB its install script demands."""

MIN_POC_DATA_VOLUME_GIB = 100
"""The floor for a proof of concept, which runs weeks, not years, on a sample of the repositories."""

# Databases, Redis, Prometheus and container images: a fixed allowance on top of the repository data.
_FIXED_ALLOWANCE_GIB = 150
_HEADROOM = 1.25


def _needed_gib(workload: Workload) -> float:
    total = workload.total_repo_gb
    repo_data = 1.3 * total + 0.6 * total + max(workload.largest_repo + 0.3 * total, 0.4 * total)
    return (repo_data + _FIXED_ALLOWANCE_GIB + workload.largest_index_gb) * _HEADROOM


def poc_data_volume_gib(workload: Workload) -> int:
    """Data volume for a proof of concept: the same estimate, a 100 GiB floor, in 10 GiB steps.

    A POC that becomes production is promoted by snapshot; the restored volume can then grow to the
    production size, so starting small costs nothing later.
    """
    return max(MIN_POC_DATA_VOLUME_GIB, math.ceil(_needed_gib(workload) / 10) * 10)


def data_volume_gib(workload: Workload) -> int:
    """Default data volume size in GiB: repository data plus allowances, 25% headroom, at least 500 GiB.

    Rounded up to a multiple of 50 GiB so small changes in the workload do not resize the volume.
    """
    return max(MIN_DATA_VOLUME_GIB, math.ceil(_needed_gib(workload) / 50) * 50)
