"""Reference points of Sourcegraph's resource estimator, as data.

Transcribed from sourcegraph/resource-estimator ``internal/scaling/references.go``
(commit 8a3f0fc, 2025-05-12).
Each curve belongs to one service and one scaling factor; its points are sorted by ``value``. Units: CPU in
cores, memory, ephemeral storage and storage in GB. A zero means "this curve does not set it", which matters
for the merge rules in :mod:`sgarch.sizing.estimator`. Curves of a service are listed in upstream order,
because the first curve that sets a value wins.

Names follow upstream, except that the two zoekt services are filed by role (``indexedSearch`` is the
webserver, ``indexedSearchIndexer`` the indexserver), as the Helm chart does; upstream swapped the labels.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["CURVES", "Curve", "Point"]


class Point(NamedTuple):
    """One reference point: the resources upstream recommends at ``value`` of the curve's factor."""

    value: float
    replicas: int
    cpu_request: float
    cpu_limit: float
    mem_request_gb: float
    mem_limit_gb: float
    eph_request_gb: float
    eph_limit_gb: float
    storage_gb: float


class Curve(NamedTuple):
    """A service's resources as a function of one workload factor."""

    service: str
    factor: str
    points: tuple[Point, ...]


# fmt: off
CURVES: tuple[Curve, ...] = (
    Curve("frontend", "engaged_users", (
        Point(1, 1, 2, 2, 2, 4, 0, 0, 0),
        Point(1000, 2, 2, 2, 2, 4, 0, 0, 0),
        Point(5000, 2, 4, 4, 3, 6, 0, 0, 0),
        Point(10000, 2, 4, 4, 3, 6, 0, 0, 0),
        Point(25000, 2, 8, 8, 24, 24, 0, 0, 0),
        Point(50000, 4, 8, 8, 48, 48, 0, 0, 0),
    )),
    Curve("gitserver", "average_repositories", (
        Point(1, 1, 2, 4, 0, 0, 0, 0, 0),
        Point(1000, 1, 2, 4, 0, 0, 0, 0, 0),
        Point(5000, 1, 3, 6, 0, 0, 0, 0, 0),
        Point(100000, 2, 4, 8, 0, 0, 0, 0, 0),
        Point(250000, 2, 6, 12, 0, 0, 0, 0, 0),
        Point(5000000, 10, 30, 30, 0, 0, 0, 0, 0),
    )),
    Curve("gitserver", "total_repo_size_gb", (
        Point(1, 0, 0, 0, 4, 4, 0, 0, 0),
        Point(100, 0, 0, 0, 5, 5, 0, 0, 0),
        Point(1000, 0, 0, 0, 50, 50, 0, 0, 0),
        Point(10000, 0, 0, 0, 500, 500, 0, 0, 0),
        Point(100000, 0, 0, 0, 5000, 5000, 0, 0, 0),
        Point(1000000, 0, 0, 0, 50000, 50000, 0, 0, 0),
        Point(50000000, 0, 0, 0, 2500000, 2500000, 0, 0, 0),
    )),
    Curve("blobstore", "largest_index_size_gb", (
        Point(1, 1, 1, 1, 0.5, 0.5, 0, 0, 1),
        Point(1000, 1, 1, 1, 1, 1, 0, 0, 1000),
    )),
    Curve("pgsql", "average_repositories", (
        Point(1, 1, 2, 4, 2, 4, 0, 0, 200),
        Point(500, 1, 4, 4, 4, 4, 0, 0, 200),
        Point(10000, 1, 4, 4, 6, 6, 0, 0, 200),
        Point(250000, 1, 8, 8, 32, 32, 0, 0, 200),
        Point(5000000, 1, 12, 12, 36, 36, 0, 0, 200),
    )),
    Curve("preciseCodeIntel", "largest_index_size_gb", (
        Point(1, 1, 0.5, 2, 2, 4, 0, 0, 0),
        Point(1, 1, 0.5, 2, 2, 4, 0, 0, 0),
        Point(7, 1, 2, 4, 8, 16, 0, 0, 0),
        Point(8, 2, 2, 4, 4, 8, 0, 0, 0),
        Point(32, 2, 2, 4, 16, 32, 0, 0, 0),
        Point(60, 2, 2, 4, 30, 60, 0, 0, 0),
        Point(61, 3, 2, 4, 20, 40, 0, 0, 0),
        Point(80, 3, 2, 4, 29, 58, 0, 0, 0),
        Point(81, 4, 2, 4, 20, 41, 0, 0, 0),
        Point(1000, 4, 2, 4, 25, 50, 0, 0, 0),
    )),
    Curve("syntacticCodeIntel", "largest_repo_size_gb", (
        Point(1, 1, 0.5, 2, 2, 4, 0, 0, 0),
        Point(4, 2, 6, 8, 4, 6, 0, 0, 0),
        Point(152, 4, 150, 160, 112, 120, 0, 0, 0),
    )),
    Curve("redisCache", "user_repo_sum_ratio", (
        Point(1, 1, 1, 1, 1, 1, 0, 0, 100),
        Point(5000, 4, 1, 1, 7, 7, 0, 0, 100),
    )),
    Curve("redisStore", "engaged_users", (
        Point(1, 1, 0.5, 1, 1, 1, 0, 0, 100),
        Point(50000, 1, 1, 1, 1, 7, 0, 0, 100),
    )),
    Curve("searcher", "average_repositories", (
        Point(1, 1, 0.5, 2, 0.5, 2, 0, 0, 0),
        Point(1000, 1, 2, 4, 4, 4, 0, 0, 0),
        Point(50000, 1, 3, 6, 8, 8, 0, 0, 0),
        Point(100000, 1, 4, 8, 12, 12, 0, 0, 0),
        Point(250000, 1, 5, 10, 16, 16, 0, 0, 0),
        Point(500000, 1, 6, 12, 20, 20, 0, 0, 0),
        Point(1000000, 2, 4, 8, 12, 12, 0, 0, 0),
        Point(2500000, 5, 2, 4, 4, 4, 0, 0, 0),
        Point(4000000, 6, 3, 6, 8, 8, 0, 0, 0),
        Point(5000000, 10, 4, 6, 8, 8, 0, 0, 0),
    )),
    Curve("searcher", "largest_repo_size_gb", (
        Point(0, 0, 0, 0, 0, 0, 0, 0, 0),
        Point(50000, 0, 0, 0, 0, 0, 50000, 50000, 0),
        Point(50000000, 0, 0, 0, 0, 0, 50000000, 50000000, 0),
    )),
    Curve("symbols", "average_repositories", (
        Point(1, 1, 0, 0, 0, 0, 0, 0, 0),
        Point(1000000, 2, 0, 0, 0, 0, 0, 0, 0),
        Point(2000000, 3, 0, 0, 0, 0, 0, 0, 0),
        Point(3000000, 4, 0, 0, 0, 0, 0, 0, 0),
        Point(4000000, 5, 0, 0, 0, 0, 0, 0, 0),
        Point(5000000, 5, 0, 0, 0, 0, 0, 0, 0),
    )),
    Curve("symbols", "average_repositories", (
        Point(1, 0, 0.5, 2, 0.5, 4, 0, 0, 0),
        Point(1000, 0, 2, 2, 2, 4, 0, 0, 0),
        Point(50000, 0, 3, 4, 8, 6, 0, 0, 0),
        Point(100000, 0, 4, 4, 12, 6, 0, 0, 0),
        Point(250000, 0, 4, 4, 16, 6, 0, 0, 0),
        Point(5000000, 0, 2, 16, 4, 64, 0, 0, 0),
    )),
    Curve("symbols", "largest_repo_size_gb", (
        Point(0, 0, 0, 0, 0, 0, 1.2, 0, 0),
        Point(50000, 0, 0, 0, 0, 0, 60000, 75000, 0),
        Point(50000000, 0, 0, 0, 0, 0, 60000000, 75000000, 0),
    )),
    Curve("syntectServer", "engaged_users", (
        Point(1, 1, 0.25, 4, 2, 6, 0, 0, 0),
        Point(25000, 1, 1, 4, 2, 6, 0, 0, 0),
        Point(50000, 1, 4, 16, 8, 18, 0, 0, 0),
        Point(500000, 1, 2, 4, 3, 6, 0, 0, 0),
    )),
    Curve("worker", "average_repositories", (
        Point(1, 1, 0.5, 2, 2, 4, 0, 0, 0),
        Point(5000000, 1, 2, 4, 4, 8, 0, 0, 0),
    )),
    Curve("indexedSearchIndexer", "average_repositories", (
        Point(1, 0, 0, 0, 4, 8, 0, 0, 0),
        Point(5000, 0, 0, 0, 4, 10, 0, 0, 0),
        Point(100000, 0, 0, 0, 8, 10, 0, 0, 0),
        Point(250000, 0, 0, 0, 8, 10, 0, 0, 0),
        Point(500000, 0, 0, 0, 8, 10, 0, 0, 0),
        Point(5000000, 0, 0, 0, 8, 10, 0, 0, 0),
    )),
    Curve("indexedSearchIndexer", "average_repositories", (
        Point(1, 0, 4, 8, 0, 0, 0, 0, 0),
        Point(5000, 0, 4, 8, 0, 0, 0, 0, 0),
        Point(100000, 0, 4, 10, 0, 0, 0, 0, 0),
        Point(250000, 0, 4, 10, 0, 0, 0, 0, 0),
        Point(500000, 0, 5, 10, 0, 0, 0, 0, 0),
        Point(5000000, 0, 8, 10, 0, 0, 0, 0, 0),
    )),
    Curve("indexedSearch", "average_repositories", (
        Point(1, 1, 0, 0, 2, 4, 0, 0, 0),
        Point(5000, 1, 0, 0, 4, 8, 0, 0, 0),
        Point(100000, 2, 0, 0, 8, 16, 0, 0, 0),
        Point(250000, 3, 0, 0, 16, 32, 0, 0, 0),
        Point(500000, 5, 0, 0, 24, 48, 0, 0, 0),
        Point(5000000, 50, 0, 0, 2160, 4320, 0, 0, 0),
    )),
    Curve("indexedSearch", "average_repositories", (
        Point(1, 0, 0.5, 2, 0, 0, 0, 0, 0),
        Point(5000, 0, 2, 4, 0, 0, 0, 0, 0),
        Point(100000, 0, 3, 6, 0, 0, 0, 0, 0),
        Point(250000, 0, 8, 16, 0, 0, 0, 0, 0),
        Point(500000, 0, 18, 36, 0, 0, 0, 0, 0),
        Point(5000000, 0, 8, 384, 0, 0, 0, 0, 0),
    )),
    Curve("codeinsights-db", "largest_index_size_gb", (
        Point(1, 1, 2, 4, 2, 4, 0, 0, 200),
        Point(1000, 1, 2, 4, 2, 4, 0, 0, 200),
    )),
    Curve("codeintel-db", "largest_index_size_gb", (
        Point(1, 1, 4, 4, 4, 4, 0, 0, 200),
        Point(1000, 1, 4, 4, 4, 4, 0, 0, 200),
    )),
    Curve("prometheus", "largest_index_size_gb", (
        Point(1, 1, 0.5, 2, 6, 6, 0, 0, 200),
        Point(1000, 1, 0.5, 2, 6, 6, 0, 0, 200),
    )),
)
# fmt: on
