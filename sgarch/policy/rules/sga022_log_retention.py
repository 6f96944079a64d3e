"""SGA-022: CloudWatch log groups expire their logs, and keep audit logs for a year."""

from __future__ import annotations

from collections.abc import Iterator

from sgarch.policy._index import Resources, as_float
from sgarch.policy._model import Rule, Severity, Violation

_TYPES = ("aws:cloudwatch/logGroup:LogGroup",)
AUDIT_RETENTION_DAYS = 365
"""The least an audit trail (EKS control-plane logs: the audit and authenticator logs) is kept, in days."""


def _is_audit_trail(name: object) -> bool:
    # EKS writes its control-plane logs to /aws/eks/<cluster>/cluster, a name it fixes.
    return isinstance(name, str) and name.startswith("/aws/eks/") and name.endswith("/cluster")


def check(resources: Resources) -> Iterator[Violation]:
    """Every log group sets ``retention_in_days``; EKS control-plane log groups keep at least 365 days."""
    for record in resources.of_type(*_TYPES):
        days = as_float(record.inputs.get("retentionInDays"))
        if not days:
            yield Violation(record, "retention_in_days is not set, so logs are kept (and billed) forever")
        elif _is_audit_trail(record.inputs.get("name")) and days < AUDIT_RETENTION_DAYS:
            yield Violation(
                record,
                f"the EKS control-plane (audit) logs are kept {days:g} days, less than {AUDIT_RETENTION_DAYS}",
            )


RULE = Rule(
    id="SGA-022",
    title="Log retention",
    severity=Severity.HIGH,
    applies_to=_TYPES,
    cause=(
        "A CloudWatch log group keeps its logs forever, or an EKS control-plane log group keeps them for "
        "less than 365 days (the EKS stack's log_retention_days)."
    ),
    explanation=(
        "Audits (SOC 2, ISO 27001, PCI DSS) ask for a year of audit trail: the Kubernetes audit log is the "
        "record of who read a secret or changed a deployment, and an incident is often found months after "
        "it began. A log group without retention keeps everything and its storage bill grows forever."
    ),
    fix="Set retention_in_days: 365 or more for /aws/eks/<cluster>/cluster (the default), a period for others.",
    check=check,
)
