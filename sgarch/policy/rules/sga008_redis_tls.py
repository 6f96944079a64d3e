"""SGA-008: Redis (ElastiCache) encrypts traffic in transit."""

from __future__ import annotations

from collections.abc import Iterator

from sgarch.policy._index import Resources, as_bool
from sgarch.policy._model import Rule, Severity, Violation

_TYPES = ("aws:elasticache/replicationGroup:ReplicationGroup", "aws:elasticache/cluster:Cluster")


def check(resources: Resources) -> Iterator[Violation]:
    """Replication groups, and Redis/Valkey clusters outside one, set ``transit_encryption_enabled``."""
    for record in resources.of_type(*_TYPES):
        inputs = record.inputs
        standalone = record.type == "aws:elasticache/cluster:Cluster"
        if standalone and (
            inputs.get("replicationGroupId") or inputs.get("engine") not in ("redis", "valkey")
        ):
            continue
        if as_bool(inputs.get("transitEncryptionEnabled")) is not True:
            yield Violation(record, "transit_encryption_enabled is not set, so Redis speaks plain text")


RULE = Rule(
    id="SGA-008",
    title="Redis TLS in transit",
    severity=Severity.HIGH,
    applies_to=_TYPES,
    cause="An ElastiCache replication group (or Redis cluster) does not set transit_encryption_enabled.",
    explanation=(
        "Sessions and cached permissions travel between Sourcegraph's pods and Redis; without TLS anything "
        "on the network path can read or alter them."
    ),
    fix="Set transit_encryption_enabled=True and point Sourcegraph at the rediss:// endpoint.",
    check=check,
)
