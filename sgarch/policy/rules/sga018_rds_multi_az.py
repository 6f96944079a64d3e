"""SGA-018: RDS instances keep a standby in a second availability zone (Multi-AZ)."""

from __future__ import annotations

from collections.abc import Iterator

from sgarch.policy._index import Resources, as_bool
from sgarch.policy._model import Rule, Severity, Violation

_TYPES = ("aws:rds/instance:Instance",)


def check(resources: Resources) -> Iterator[Violation]:
    """Every RDS instance that is not a read replica sets ``multi_az``."""
    for record in resources.of_type(*_TYPES):
        if record.inputs.get("replicateSourceDb"):
            continue
        if as_bool(record.inputs.get("multiAz")) is not True:
            yield Violation(
                record, "multi_az is off, so losing one availability zone takes the database down"
            )


RULE = Rule(
    id="SGA-018",
    title="RDS Multi-AZ",
    severity=Severity.HIGH,
    applies_to=_TYPES,
    cause="An RDS instance does not set multi_az (the EKS stack's postgres_multi_az is false).",
    explanation=(
        "Sourcegraph stops when pgsql or codeintel-db is unreachable. A Single-AZ instance is down for the "
        "length of a zone outage, a host failure or a maintenance reboot; with Multi-AZ, RDS fails over to "
        "a synchronous standby in another zone in a minute or two. Multi-AZ doubles the instance and storage "
        "price, which sgarch plan shows; a test or demo stack may suppress this rule with a written reason."
    ),
    fix="Set multi_az=True (the EKS stack: postgres_multi_az true, the default); RDS changes it in place.",
    check=check,
)
