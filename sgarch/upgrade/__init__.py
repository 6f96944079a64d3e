"""Upgrades: version rules and the planner (pure), and pre-upgrade snapshots (boto3).

``plan_upgrade(from, to, arch)`` classifies an upgrade (standard, multi-version, rollback, restore),
applies Sourcegraph's hard gates (data in :mod:`sgarch.upgrade.gates`) and writes numbered steps for
``single-node`` or ``eks``. :func:`snapshot_deployment` makes the tagged snapshots the steps start with.
"""

from __future__ import annotations

from sgarch.upgrade.gates import NOTES, PREREQUISITES, REQUIRED_STOPS, Note, Prerequisite, RequiredStop
from sgarch.upgrade.outputs import StackOutputs, load_stack_outputs, resolve_region
from sgarch.upgrade.plan import (
    Arch,
    GateFinding,
    Hop,
    Step,
    UpgradeKind,
    UpgradePlan,
    parse_arch,
    plan_path,
    plan_upgrade,
)
from sgarch.upgrade.snapshot import SnapshotResult, snapshot_deployment
from sgarch.upgrade.versions import RELEASED_MINORS, Version, minor_distance, parse_version

__all__ = [
    "NOTES",
    "PREREQUISITES",
    "RELEASED_MINORS",
    "REQUIRED_STOPS",
    "Arch",
    "GateFinding",
    "Hop",
    "Note",
    "Prerequisite",
    "RequiredStop",
    "SnapshotResult",
    "StackOutputs",
    "Step",
    "UpgradeKind",
    "UpgradePlan",
    "Version",
    "load_stack_outputs",
    "minor_distance",
    "parse_arch",
    "parse_version",
    "plan_path",
    "plan_upgrade",
    "resolve_region",
    "snapshot_deployment",
]
