"""SGA-014: ElastiCache replication groups keep snapshots."""

from __future__ import annotations

from collections.abc import Iterator

from sgarch.policy._index import Resources, as_float
from sgarch.policy._model import Rule, Severity, Violation

_TYPES = ("aws:elasticache/replicationGroup:ReplicationGroup",)


def check(resources: Resources) -> Iterator[Violation]:
    """Every replication group keeps at least one daily snapshot and names a final snapshot."""
    for record in resources.of_type(*_TYPES):
        missing = []
        if (as_float(record.inputs.get("snapshotRetentionLimit")) or 0) < 1:
            missing.append("no automatic snapshots (snapshot_retention_limit is 0)")
        if not record.inputs.get("finalSnapshotIdentifier"):
            missing.append("no final snapshot on deletion")
        if missing:
            yield Violation(record, "; ".join(missing))


RULE = Rule(
    id="SGA-014",
    title="ElastiCache backups",
    severity=Severity.MEDIUM,
    applies_to=_TYPES,
    cause="An ElastiCache replication group has snapshot_retention_limit 0 or no final_snapshot_identifier.",
    explanation=(
        "Sourcegraph's redis-store keeps user sessions and some settings; losing it signs everyone out. "
        "redis-cache only holds what Sourcegraph can recompute, so suppressing this rule for a cache-only "
        "group, with that reason, is fine. Medium for that reason."
    ),
    fix="Set snapshot_retention_limit (for example 7) and final_snapshot_identifier.",
    check=check,
)
