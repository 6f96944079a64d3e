"""SGA-023: Application load balancers write access logs and refuse deletion."""

from __future__ import annotations

from collections.abc import Iterator

from sgarch.policy._index import LOAD_BALANCERS, Resources, as_bool
from sgarch.policy._model import Rule, Severity, Violation


def check(resources: Resources) -> Iterator[Violation]:
    """Every ALB enables ``access_logs`` into a bucket and sets ``enable_deletion_protection``."""
    for record in resources.of_type(*LOAD_BALANCERS):
        inputs = record.inputs
        if str(inputs.get("loadBalancerType") or "application") != "application":
            continue
        logs = inputs.get("accessLogs") or {}
        if not (isinstance(logs, dict) and logs.get("bucket") and as_bool(logs.get("enabled")) is not False):
            yield Violation(record, "access logs are off, so who requested what is not recorded")
        if as_bool(inputs.get("enableDeletionProtection")) is not True:
            yield Violation(record, "deletion protection is off")


RULE = Rule(
    id="SGA-023",
    title="ALB access logs and deletion protection",
    severity=Severity.HIGH,
    applies_to=LOAD_BALANCERS,
    cause=(
        "An application load balancer does not write access logs to S3 (the stacks' alb_access_logs is "
        "false), or does not set enable_deletion_protection."
    ),
    explanation=(
        "The ALB's access log is the only record of every request that reached Sourcegraph from outside, "
        "with client address, path, status and TLS details: what an incident review and an auditor ask for "
        "first. Deletion protection keeps a stray destroy or console click from taking the entry point down."
    ),
    fix=(
        "Set access_logs={'bucket': ..., 'enabled': True} on a bucket whose policy lets ELB log delivery "
        "write, and enable_deletion_protection=True (both the stacks' defaults)."
    ),
    check=check,
)
