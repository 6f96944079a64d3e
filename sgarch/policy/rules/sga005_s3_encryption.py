"""SGA-005: S3 buckets declare their default encryption."""

from __future__ import annotations

from collections.abc import Iterator

from sgarch.policy._index import Resources
from sgarch.policy._model import Rule, Severity, Violation

_TYPES = ("aws:s3/bucket:Bucket",)
_CONFIG = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
_ALGORITHMS = frozenset({"AES256", "aws:kms", "aws:kms:dsse"})


def check(resources: Resources) -> Iterator[Violation]:
    """Every bucket has a server-side encryption configuration with a known algorithm."""
    for bucket in resources.of_type(*_TYPES):
        configs = resources.referencing(bucket, _CONFIG, "bucket")
        if not configs:
            yield Violation(bucket, "no server-side encryption configuration is declared for the bucket")
            continue
        for config in configs:
            for rule in config.inputs.get("rules") or []:
                default = rule.get("applyServerSideEncryptionByDefault") or {}
                algorithm = default.get("sseAlgorithm")
                if algorithm not in _ALGORITHMS:
                    yield Violation(bucket, f"default encryption algorithm is {algorithm!r}")


RULE = Rule(
    id="SGA-005",
    title="S3 encryption at rest",
    severity=Severity.MEDIUM,
    applies_to=_TYPES,
    cause="An S3 bucket has no BucketServerSideEncryptionConfiguration (or one with an unknown algorithm).",
    explanation=(
        "S3 encrypts new objects with S3-managed keys by default, so the data is not plain; declaring the "
        "configuration makes the choice reviewable and lets you use a KMS key whose use CloudTrail records "
        "and whose policy you control. Medium, because the AWS default already encrypts."
    ),
    fix="Add s3.BucketServerSideEncryptionConfiguration with sse_algorithm 'aws:kms' (or 'AES256').",
    check=check,
)
