"""SGA-003: RDS instances and clusters encrypt their storage."""

from __future__ import annotations

from collections.abc import Iterator

from sgarch.policy._index import Resources, as_bool
from sgarch.policy._model import Rule, Severity, Violation

_TYPES = ("aws:rds/instance:Instance", "aws:rds/cluster:Cluster")


def check(resources: Resources) -> Iterator[Violation]:
    """Every RDS instance and cluster sets ``storage_encrypted``; read replicas inherit their source's."""
    for record in resources.of_type(*_TYPES):
        if record.inputs.get("replicateSourceDb"):
            continue
        if as_bool(record.inputs.get("storageEncrypted")) is not True:
            yield Violation(
                record, "storage_encrypted is not set, so the database and its snapshots are plain"
            )


RULE = Rule(
    id="SGA-003",
    title="RDS encryption at rest",
    severity=Severity.HIGH,
    applies_to=_TYPES,
    cause="An RDS instance or cluster does not set storage_encrypted.",
    explanation=(
        "Sourcegraph's databases hold user accounts, access tokens for code hosts and code-intelligence "
        "data. Encryption can only be chosen when the database is created: turning it on later means a "
        "snapshot, an encrypted copy and a restore."
    ),
    fix="Set storage_encrypted=True (and kms_key_id for a customer-managed key) before the first deploy.",
    check=check,
)
