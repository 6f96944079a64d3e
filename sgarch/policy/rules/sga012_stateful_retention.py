"""SGA-012: stateful resources survive a `pulumi destroy` or a replacement, with a final snapshot."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from sgarch.policy._index import Resources, as_bool
from sgarch.policy._model import Rule, Severity, Violation

if TYPE_CHECKING:
    from sgarch.testing import ResourceRecord

_VOLUME = "aws:ebs/volume:Volume"
_RDS = "aws:rds/instance:Instance"
_BUCKET = "aws:s3/bucket:Bucket"
_TYPES = (_VOLUME, _RDS, _BUCKET)


def _kept(record: ResourceRecord) -> bool:
    return record.options.protect or record.options.retain_on_delete


def check(resources: Resources) -> Iterator[Violation]:
    """Data volumes, databases and buckets are protected or retained; volumes and databases snapshot last."""
    for record in resources.of_type(_VOLUME):
        missing = []
        if not _kept(record):
            missing.append("neither protect nor retain_on_delete is set")
        if as_bool(record.inputs.get("finalSnapshot")) is not True:
            missing.append("final_snapshot is not set")
        if missing:
            yield Violation(record, "; ".join(missing))
    for record in resources.of_type(_RDS):
        missing = []
        if not (_kept(record) or as_bool(record.inputs.get("deletionProtection"))):
            missing.append("neither protect, retain_on_delete nor deletion_protection is set")
        if as_bool(record.inputs.get("skipFinalSnapshot")) or not record.inputs.get(
            "finalSnapshotIdentifier"
        ):
            missing.append("no final snapshot (set final_snapshot_identifier, skip_final_snapshot=False)")
        if missing:
            yield Violation(record, "; ".join(missing))
    for record in resources.of_type(_BUCKET):
        if not _kept(record) or as_bool(record.inputs.get("forceDestroy")):
            yield Violation(
                record, "the bucket can be deleted with its objects (protect or retain it, no force_destroy)"
            )


RULE = Rule(
    id="SGA-012",
    title="Stateful resources protected or retained",
    severity=Severity.HIGH,
    applies_to=_TYPES,
    cause=(
        "An EBS volume, RDS instance or S3 bucket lacks protect or retain_on_delete (or deletion_protection), "
        "or a volume or database would be deleted without a final snapshot."
    ),
    explanation=(
        "A renamed resource, a changed replacement-forcing input or a stray `pulumi destroy` deletes what it "
        "holds. Protection stops the engine; retention keeps the cloud resource when Pulumi forgets it; the "
        "final snapshot is the last line of defence."
    ),
    fix="Pass ResourceOptions(protect=True, retain_on_delete=True) and set final_snapshot / final_snapshot_identifier.",
    check=check,
)
