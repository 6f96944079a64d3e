"""Data and helpers behind EKS changes: supported versions, node group generations, log retention."""

from __future__ import annotations

import pytest

from sgarch.eks.versions import (
    DEFAULT_KUBERNETES_VERSION,
    EKS_KUBERNETES_VERSIONS,
    EKS_KUBERNETES_VERSIONS_AS_OF,
    SUPPORTED_KUBERNETES_VERSIONS,
)
from sgarch.errors import ConfigError
from sgarch.sizing.nodegroups import node_group_generation
from sgarch.validation import CLOUDWATCH_LOG_RETENTION_DAYS, validate_log_retention_days


def test_release_calendar_is_consistent() -> None:
    versions = [v.version for v in EKS_KUBERNETES_VERSIONS]
    assert versions == sorted(versions, key=lambda v: tuple(map(int, v.split("."))))
    for row in EKS_KUBERNETES_VERSIONS:
        # 14 months of standard support, then 12 of extended support.
        assert row.eks_release < row.end_of_standard_support < row.end_of_extended_support
        assert row.end_of_extended_support.year == row.end_of_standard_support.year + 1
    assert DEFAULT_KUBERNETES_VERSION in SUPPORTED_KUBERNETES_VERSIONS
    assert "1.19" not in SUPPORTED_KUBERNETES_VERSIONS
    assert all(
        v.end_of_extended_support > EKS_KUBERNETES_VERSIONS_AS_OF
        for v in EKS_KUBERNETES_VERSIONS
        if v.version in SUPPORTED_KUBERNETES_VERSIONS
    )


def test_generation_changes_only_with_what_forces_a_new_node_group() -> None:
    base = node_group_generation("m6a.4xlarge", 100)
    assert base == node_group_generation("m6a.4xlarge", 100)
    assert len(base) == 8 and int(base, 16) >= 0
    others = {
        node_group_generation("m6a.8xlarge", 100),
        node_group_generation("m6a.4xlarge", 200),
        node_group_generation("m6a.4xlarge", 100, ami_type="BOTTLEROCKET_x86_64"),
        node_group_generation("m6a.4xlarge", 100, capacity_type="SPOT"),
    }
    assert base not in others and len(others) == 4


@pytest.mark.parametrize("days", CLOUDWATCH_LOG_RETENTION_DAYS)
def test_every_cloudwatch_retention_is_accepted(days: int) -> None:
    assert validate_log_retention_days(days) == days


@pytest.mark.parametrize(("days", "nearest"), [(0, 1), (45, 30), (100, 90), (366, 365), (10_000, 3653)])
def test_other_retentions_are_refused_with_the_nearest(days: int, nearest: int) -> None:
    with pytest.raises(ConfigError) as info:
        validate_log_retention_days(days, "sgarch:log_retention_days")
    message = str(info.value)
    assert message.startswith(
        "sgarch:log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7,"
    )
    assert message.endswith(f"): use {nearest}, the nearest allowed value.")
