"""SGA-015: EKS control-plane logs (api, audit, authenticator) go to CloudWatch."""

from __future__ import annotations

from collections.abc import Iterator

from sgarch.policy._index import Resources
from sgarch.policy._model import Rule, Severity, Violation

_TYPES = ("aws:eks/cluster:Cluster",)
REQUIRED_LOG_TYPES = ("api", "audit", "authenticator")
"""The log types terraform-aws-eks enables by default, and the least an incident review needs."""


def check(resources: Resources) -> Iterator[Violation]:
    """Every cluster enables at least the api, audit and authenticator log types."""
    for record in resources.of_type(*_TYPES):
        enabled = set(record.inputs.get("enabledClusterLogTypes") or [])
        missing = [t for t in REQUIRED_LOG_TYPES if t not in enabled]
        if missing:
            yield Violation(record, f"control-plane log types off: {', '.join(missing)}")


RULE = Rule(
    id="SGA-015",
    title="EKS control-plane logs on",
    severity=Severity.MEDIUM,
    applies_to=_TYPES,
    cause="An EKS cluster does not enable the api, audit and authenticator control-plane logs.",
    explanation=(
        "The audit log is the only record of who read a secret or changed a deployment; the authenticator "
        "log shows which IAM identity signed in. Without them an incident cannot be reconstructed."
    ),
    fix="Set enabled_cluster_log_types=['api', 'audit', 'authenticator'] (and a retention on the log group).",
    check=check,
)
