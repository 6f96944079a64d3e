"""SGA-004: ElastiCache replication groups encrypt data at rest."""

from __future__ import annotations

from collections.abc import Iterator

from sgarch.policy._index import Resources, as_bool
from sgarch.policy._model import Rule, Severity, Violation

_TYPES = ("aws:elasticache/replicationGroup:ReplicationGroup",)


def check(resources: Resources) -> Iterator[Violation]:
    """Every replication group sets ``at_rest_encryption_enabled``."""
    for record in resources.of_type(*_TYPES):
        if as_bool(record.inputs.get("atRestEncryptionEnabled")) is not True:
            yield Violation(record, "at_rest_encryption_enabled is not set")


RULE = Rule(
    id="SGA-004",
    title="ElastiCache encryption at rest",
    severity=Severity.HIGH,
    applies_to=_TYPES,
    cause="An ElastiCache replication group does not set at_rest_encryption_enabled.",
    explanation=(
        "Sourcegraph's Redis store keeps user sessions; its snapshots and swap land on disk. At-rest "
        "encryption can only be chosen when the group is created."
    ),
    fix="Set at_rest_encryption_enabled=True (and kms_key_id for a customer-managed key).",
    check=check,
)
