"""Properties of every plan: paths only move forward and never skip a required stop."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from sgarch.upgrade import REQUIRED_STOPS, UpgradeKind, Version, minor_distance, plan_upgrade
from sgarch.upgrade.gates import MVU_MINIMUM
from sgarch.upgrade.versions import known_minors

versions = st.builds(
    lambda series, patch: Version(series[0], series[1], patch),
    st.sampled_from(known_minors()),
    st.integers(min_value=0, max_value=9999),
)
archs = st.sampled_from(["single-node", "eks"])


@settings(max_examples=400, deadline=None)
@given(versions, versions, archs)
def test_upgrade_paths_only_move_forward_and_visit_every_required_stop(
    start: Version, end: Version, arch: str
) -> None:
    plan = plan_upgrade(start, end, arch)
    if end <= start:
        return
    path = plan.path
    assert path[0] == start and path[-1] == end
    assert all(a < b for a, b in pairwise(path)), path
    # The documented stops, spelled out independently of the gate data.
    if start < Version(5, 10, 0) and end >= Version(6, 0, 0):
        assert any(Version(5, 10, 0) <= x < Version(6, 0, 0) for x in path), path
    if start < Version(6, 0, 0) and end >= Version(7, 0, 0):
        assert any(Version(6, 0, 0) <= x < Version(7, 0, 0) for x in path), path
    # No hop skips a stop window...
    for a, b in pairwise(path):
        for gate in REQUIRED_STOPS:
            assert not gate.binds(a, b), (gate.id, a, b)
    # ...so every gate that binds the whole jump is satisfied by a version on the path.
    for gate in REQUIRED_STOPS:
        if gate.binds(start, end):
            assert any(gate.satisfied_by(x) for x in path), (gate.id, path)
    # Hops are typed by their minor distance, and only multi-version hops run migrator upgrade.
    for hop in plan.hops:
        distance = minor_distance(hop.start, hop.end)
        assert hop.kind is (UpgradeKind.MULTI_VERSION if distance > 1 else UpgradeKind.STANDARD)
        assert (hop.migrator is not None) == (hop.kind is UpgradeKind.MULTI_VERSION)
        if hop.migrator is not None and hop.end < Version(6, 0, 0):
            assert hop.migrator < Version(6, 0, 0)  # a 6.x migrator cannot reach PostgreSQL 12
    assert plan.kind is (
        UpgradeKind.STANDARD if minor_distance(start, end) <= 1 else UpgradeKind.MULTI_VERSION
    )


@settings(max_examples=300, deadline=None)
@given(versions, versions, archs)
def test_steps_follow_the_hops_in_order(start: Version, end: Version, arch: str) -> None:
    plan = plan_upgrade(start, end, arch)
    mvu_too_old = any(h.kind is UpgradeKind.MULTI_VERSION and h.start < MVU_MINIMUM for h in plan.hops)
    if end > start:
        assert (plan.blocked is not None) == mvu_too_old
    if plan.blocked or end <= start:
        return
    titles = [s.title for s in plan.steps]
    assert titles[0] == "Snapshot first"
    position = 0
    for hop in plan.hops:
        # Each hop: snapshot, [scale down, migrator], version change, pulumi up, checks; in that order.
        version_step = titles.index(f"Set the version to {hop.end} in stack config", position)
        if hop.kind is UpgradeKind.MULTI_VERSION:
            migrator = titles.index(f"Run migrator upgrade {hop.start.tag} -> {hop.end.tag}", position)
            down = max(i for i in range(position, migrator) if "downtime starts" in titles[i])
            assert position < down < migrator < version_step
        assert titles[version_step + 1] == "Apply with pulumi up"
        assert titles[version_step + 2] == f"Check {hop.end}"
        position = version_step + 3


@settings(max_examples=200, deadline=None)
@given(versions, versions, archs)
def test_downgrades_roll_back_one_minor_or_restore(start: Version, end: Version, arch: str) -> None:
    if end >= start:
        return
    plan = plan_upgrade(start, end, arch)
    assert plan.blocked is None and plan.path == (start, end)
    expected = UpgradeKind.ROLLBACK if minor_distance(start, end) >= -1 else UpgradeKind.RESTORE
    assert plan.kind is expected
    assert plan.steps[0].title == "Snapshot first"
