"""SGA-006: EKS clusters envelope-encrypt Kubernetes secrets with a KMS key."""

from __future__ import annotations

from collections.abc import Iterator

from sgarch.policy._index import Resources
from sgarch.policy._model import Rule, Severity, Violation

_TYPES = ("aws:eks/cluster:Cluster",)


def check(resources: Resources) -> Iterator[Violation]:
    """Every cluster has ``encryption_config`` covering ``secrets`` with a provider key."""
    for record in resources.of_type(*_TYPES):
        config = record.inputs.get("encryptionConfig") or {}
        key = (config.get("provider") or {}).get("keyArn")
        if "secrets" not in (config.get("resources") or []) or not key:
            yield Violation(
                record, "Kubernetes secrets are not envelope-encrypted with a KMS key you control"
            )


RULE = Rule(
    id="SGA-006",
    title="EKS secrets encryption",
    severity=Severity.MEDIUM,
    applies_to=_TYPES,
    cause="An EKS cluster has no encryption_config for secrets with a KMS key ARN.",
    explanation=(
        "Sourcegraph keeps database passwords, the site-config secrets and code-host tokens in Kubernetes "
        "secrets. A customer-managed KMS key adds a second layer you can audit and revoke. Medium, because "
        "EKS encrypts etcd's disks, and recent versions add default envelope encryption with an AWS-owned key."
    ),
    fix="Set encryption_config=ClusterEncryptionConfigArgs(resources=['secrets'], provider={'key_arn': key.arn}).",
    check=check,
)
