"""SGA-017: S3 buckets block public access."""

from __future__ import annotations

from collections.abc import Iterator

from sgarch.policy._index import Resources, as_bool
from sgarch.policy._model import Rule, Severity, Violation

_BUCKET = "aws:s3/bucket:Bucket"
_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
_TYPES = (_BUCKET,)
_SETTINGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
_PUBLIC_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read"})


def check(resources: Resources) -> Iterator[Violation]:
    """Every bucket has a public access block with all four settings on, and no public canned ACL."""
    for bucket in resources.of_type(_BUCKET):
        if str(bucket.inputs.get("acl", "")) in _PUBLIC_ACLS:
            yield Violation(bucket, f"the bucket's ACL is {bucket.inputs['acl']}")
        blocks = resources.referencing(bucket, _BLOCK, "bucket")
        if not blocks:
            yield Violation(bucket, "no BucketPublicAccessBlock covers the bucket")
            continue
        off = sorted({s for b in blocks for s in _SETTINGS if as_bool(b.inputs.get(s)) is not True})
        if off:
            yield Violation(bucket, f"public access block settings off: {', '.join(off)}")


RULE = Rule(
    id="SGA-017",
    title="S3 public access blocked",
    severity=Severity.HIGH,
    applies_to=_TYPES,
    cause="An S3 bucket has no BucketPublicAccessBlock with all four settings true, or a public canned ACL.",
    explanation=(
        "Sourcegraph's buckets hold uploads of code-intelligence indexes and search results, that is source "
        "code. A public access block turns a mistaken bucket policy or ACL into an error instead of a leak."
    ),
    fix="Add s3.BucketPublicAccessBlock(bucket=bucket.id) with block_public_acls, block_public_policy, "
    "ignore_public_acls and restrict_public_buckets all True.",
    check=check,
)
