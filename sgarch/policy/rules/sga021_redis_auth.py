"""SGA-021: Redis (ElastiCache) requires authentication."""

from __future__ import annotations

from collections.abc import Iterator

from sgarch.policy._index import Resources, as_bool
from sgarch.policy._model import Rule, Severity, Violation

_TYPES = ("aws:elasticache/replicationGroup:ReplicationGroup",)


def check(resources: Resources) -> Iterator[Violation]:
    """Every Redis or Valkey replication group sets an AUTH token (``auth_token`` or ``auth_token_wo``) or
    RBAC user groups (``user_group_ids``)."""
    for record in resources.of_type(*_TYPES):
        inputs = record.inputs
        if str(inputs.get("engine") or "redis") not in ("redis", "valkey"):
            continue
        if inputs.get("authToken") or inputs.get("authTokenWo") or inputs.get("userGroupIds"):
            continue
        tls = as_bool(inputs.get("transitEncryptionEnabled")) is True
        why = "" if tls else " (AUTH also needs transit_encryption_enabled)"
        yield Violation(
            record, f"no AUTH token or user group, so anything that reaches the port is trusted{why}"
        )


RULE = Rule(
    id="SGA-021",
    title="Redis AUTH",
    severity=Severity.HIGH,
    applies_to=_TYPES,
    cause="An ElastiCache replication group sets neither an AUTH token nor RBAC user groups.",
    explanation=(
        "redis-store holds Sourcegraph's user sessions: whoever can open a connection to it can read them "
        "and sign in as any user. Security groups limit who reaches the port; an AUTH token makes the "
        "client prove it is Sourcegraph as well."
    ),
    fix=(
        "Set auth_token (with transit_encryption_enabled and auth_token_update_strategy='ROTATE' on an "
        "existing group), keep it in Secrets Manager and give Sourcegraph the rediss://:token@host:port "
        "endpoint through a Kubernetes Secret; sgarch's EKS stack does this with redis true."
    ),
    check=check,
)
