"""SGA-013: data volumes and databases are backed up."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from sgarch.policy._index import Resources, as_float
from sgarch.policy._model import Rule, Severity, Violation

if TYPE_CHECKING:
    from sgarch.testing import ResourceRecord

_VOLUME = "aws:ebs/volume:Volume"
_RDS = "aws:rds/instance:Instance"
_DLM = "aws:dlm/lifecyclePolicy:LifecyclePolicy"
_BACKUP_SELECTION = "aws:backup/selection:Selection"
_TYPES = (_VOLUME, _RDS)


def _backed_up_by_tags(resources: Resources, record: ResourceRecord) -> bool:
    tags = record.tags()
    for policy in resources.of_type(_DLM):
        if str(policy.inputs.get("state", "ENABLED")).upper() != "ENABLED":
            continue
        details = policy.inputs.get("policyDetails") or {}
        if "VOLUME" not in (details.get("resourceTypes") or ["VOLUME"]):
            continue
        target = {str(k): str(v) for k, v in (details.get("targetTags") or {}).items()}
        if target and all(tags.get(k) == v for k, v in target.items()):
            return True
    for selection in resources.of_type(_BACKUP_SELECTION):
        if resources.ids(record) & {str(arn) for arn in selection.inputs.get("resources") or []}:
            return True
        for tag in selection.inputs.get("selectionTags") or []:
            if tags.get(str(tag.get("key"))) == str(tag.get("value")):
                return True
    return False


def check(resources: Resources) -> Iterator[Violation]:
    """EBS volumes are targeted by an enabled DLM policy or AWS Backup; RDS keeps automated backups."""
    for record in resources.of_type(_VOLUME):
        if not _backed_up_by_tags(resources, record):
            yield Violation(
                record, "no Data Lifecycle Manager policy or AWS Backup selection covers the volume"
            )
    for record in resources.of_type(_RDS):
        if record.inputs.get("replicateSourceDb"):
            continue
        retention = as_float(record.inputs.get("backupRetentionPeriod"))
        if retention is not None and retention < 1:
            yield Violation(record, "automated backups are off (backup_retention_period is 0)")


RULE = Rule(
    id="SGA-013",
    title="Backups on",
    severity=Severity.HIGH,
    applies_to=_TYPES,
    cause=(
        "An EBS volume is not targeted (by tags) by an enabled Data Lifecycle Manager policy or AWS Backup "
        "selection, or an RDS instance sets backup_retention_period to 0."
    ),
    explanation=(
        "A snapshot is the only way back from a failed upgrade, a corrupted database or a deleted volume; "
        "Sourcegraph's upgrade guide asks for one before every multi-version upgrade. RDS keeps one day of "
        "backups unless told otherwise, so only an explicit 0 fires."
    ),
    fix="Tag the volume for a DLM policy (SingleNode does: sgarch:backup), and keep backup_retention_period >= 7.",
    check=check,
)
