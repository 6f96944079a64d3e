"""SGA-019: RDS instances keep Performance Insights and Enhanced Monitoring on."""

from __future__ import annotations

from collections.abc import Iterator

from sgarch.policy._index import Resources, as_bool, as_float
from sgarch.policy._model import Rule, Severity, Violation

_TYPES = ("aws:rds/instance:Instance",)


def check(resources: Resources) -> Iterator[Violation]:
    """Every RDS instance enables Performance Insights and sets a non-zero ``monitoring_interval`` with a
    ``monitoring_role_arn``."""
    for record in resources.of_type(*_TYPES):
        inputs = record.inputs
        if as_bool(inputs.get("performanceInsightsEnabled")) is not True:
            yield Violation(record, "Performance Insights is off")
        if not (as_float(inputs.get("monitoringInterval")) or 0) or not inputs.get("monitoringRoleArn"):
            yield Violation(
                record, "Enhanced Monitoring is off (monitoring_interval 0 or no monitoring role)"
            )


RULE = Rule(
    id="SGA-019",
    title="RDS Performance Insights and Enhanced Monitoring",
    severity=Severity.MEDIUM,
    applies_to=_TYPES,
    cause=(
        "An RDS instance does not enable Performance Insights, or does not collect Enhanced Monitoring "
        "metrics (monitoring_interval 0 or no monitoring_role_arn)."
    ),
    explanation=(
        "Slow searches and stuck migrations in Sourcegraph usually end in a database query. Performance "
        "Insights records which statements and waits used the database (7 days are free); Enhanced "
        "Monitoring shows the operating system underneath (memory, swap, I/O per process). Neither can be "
        "looked at after the fact if it was off at the time."
    ),
    fix=(
        "Set performance_insights_enabled=True (retention 7 days), monitoring_interval=60 and a "
        "monitoring_role_arn whose role trusts monitoring.rds.amazonaws.com and carries "
        "AmazonRDSEnhancedMonitoringRole."
    ),
    check=check,
)
