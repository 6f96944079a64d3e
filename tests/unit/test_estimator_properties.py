"""Properties of the estimator that must hold for every valid workload."""

from __future__ import annotations

import math
from dataclasses import fields

from hypothesis import given, settings
from hypothesis import strategies as st

from sgarch.sizing import Estimate, ServiceEstimate, Totals, Workload, estimate

_users = st.integers(1, 50_000)
_repos = st.integers(1, 5_000_000)
_total = st.floats(1, 50_000_000, allow_nan=False)
_fraction = st.floats(0, 1, allow_nan=False)
_index = st.floats(0, 1000, allow_nan=False)


@st.composite
def workloads(draw: st.DrawFn) -> Workload:
    total = draw(_total)
    return Workload(
        users=draw(_users),
        repos=draw(_repos),
        total_repo_gb=total,
        largest_repo_gb=total * draw(_fraction),
        largest_index_gb=draw(_index),
        code_insights=draw(st.booleans()),
        syntactic_code_intel=draw(st.booleans()),
    )


_FIELDS = (
    "users",
    "repos",
    "total_repo_gb",
    "largest_repo_gb",
    "largest_index_gb",
    "code_insights",
    "syntactic_code_intel",
)


@st.composite
def grown(draw: st.DrawFn) -> tuple[Workload, Workload]:
    """A workload and a copy with one input increased (staying valid)."""
    w = draw(workloads())
    field = draw(st.sampled_from(_FIELDS))
    data = w.model_dump() | {"largest_repo_gb": w.largest_repo}
    if field in ("code_insights", "syntactic_code_intel"):
        data[field] = True
    elif field == "users":
        data["users"] = draw(st.integers(w.users, 50_000))
    elif field == "repos":
        data["repos"] = draw(st.integers(w.repos, 5_000_000))
    elif field == "total_repo_gb":
        data["total_repo_gb"] = draw(st.floats(w.total_repo_gb, 50_000_000, allow_nan=False))
    elif field == "largest_repo_gb":
        data["largest_repo_gb"] = draw(st.floats(w.largest_repo, w.total_repo_gb, allow_nan=False))
    else:
        data["largest_index_gb"] = draw(st.floats(w.largest_index_gb, 1000, allow_nan=False))
    return w, Workload(**data)


_MEASURES = (
    "cpu_request",
    "cpu_limit",
    "memory_request_gb",
    "memory_limit_gb",
    "ephemeral_request_gb",
    "ephemeral_limit_gb",
    "storage_gb",
)


@settings(max_examples=300, deadline=None)
@given(grown())
def test_growing_any_input_never_lowers_the_tier(pair: tuple[Workload, Workload]) -> None:
    small, big = pair
    assert estimate(big).tier >= estimate(small).tier


@settings(max_examples=300, deadline=None)
@given(grown())
def test_growing_any_input_never_lowers_any_service(pair: tuple[Workload, Workload]) -> None:
    small, big = (estimate(w) for w in pair)
    for before, after in zip(small.services, big.services, strict=True):
        for measure in _MEASURES:
            assert getattr(after, measure) >= getattr(before, measure), (before.name, measure)
        assert after.replicas >= before.replicas, before.name


def _sum(est: Estimate, name: str) -> float:
    return math.fsum(getattr(s, name) for s in est.services)


@settings(max_examples=200, deadline=None)
@given(workloads())
def test_totals_equal_the_sum_of_services(w: Workload) -> None:
    est = estimate(w)
    for f in fields(Totals):
        assert getattr(est.totals, f.name) == _sum(est, f.name), f.name


@settings(max_examples=200, deadline=None)
@given(workloads())
def test_per_replica_times_replicas_is_the_total(w: Workload) -> None:
    for s in estimate(w).services:
        assert isinstance(s, ServiceEstimate)
        if s.replicas:
            assert math.isclose(s.cpu_request_per_replica * s.replicas, s.cpu_request)


def _capacity(w: Workload) -> tuple[int, int] | None:
    from sgarch.errors import ConfigError
    from sgarch.sizing.nodegroups import plan_node_groups

    try:
        plan = plan_node_groups(estimate(w))
    except ConfigError:
        return None  # a pod no candidate type holds (syntactic code intel on a huge repository)
    return plan.instance_type.vcpu * plan.node_count, plan.instance_type.memory_gib * plan.node_count


@settings(max_examples=300, deadline=None)
@given(grown())
def test_growing_any_input_never_shrinks_the_node_plan(pair: tuple[Workload, Workload]) -> None:
    small, big = (_capacity(w) for w in pair)
    if small is None or big is None:
        return
    assert big[0] >= small[0] and big[1] >= small[1], (small, big)
