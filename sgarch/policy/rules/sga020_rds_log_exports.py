"""SGA-020: RDS for PostgreSQL exports its logs to CloudWatch Logs."""

from __future__ import annotations

from collections.abc import Iterator

from sgarch.policy._index import Resources
from sgarch.policy._model import Rule, Severity, Violation

_TYPES = ("aws:rds/instance:Instance",)
REQUIRED_EXPORTS = ("postgresql", "upgrade")
"""The log types RDS for PostgreSQL can export; both are small."""


def check(resources: Resources) -> Iterator[Violation]:
    """Every PostgreSQL instance lists ``postgresql`` and ``upgrade`` in ``enabled_cloudwatch_logs_exports``."""
    for record in resources.of_type(*_TYPES):
        engine = str(record.inputs.get("engine") or "postgres")
        if engine != "postgres":
            continue
        exported = {str(t) for t in record.inputs.get("enabledCloudwatchLogsExports") or []}
        missing = [t for t in REQUIRED_EXPORTS if t not in exported]
        if missing:
            yield Violation(record, f"log types not exported to CloudWatch: {', '.join(missing)}")


RULE = Rule(
    id="SGA-020",
    title="RDS logs exported",
    severity=Severity.MEDIUM,
    applies_to=_TYPES,
    cause="An RDS for PostgreSQL instance does not export the postgresql and upgrade logs to CloudWatch.",
    explanation=(
        "Without exports, the database's logs (connections, authentication failures, slow statements, "
        "errors) live only on the instance for a few days and disappear with it. Exported, they can be "
        "searched, alarmed on and kept as long as an audit needs."
    ),
    fix="Set enabled_cloudwatch_logs_exports=['postgresql', 'upgrade'].",
    check=check,
)
