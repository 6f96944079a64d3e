"""The IAM policy of the migration Jobs' role: the bundle's prefix, its KMS key, and what the release needs.

Pure: JSON strings built in Python (no policy-document invoke). Least privilege, statement by statement:

- the bundle: ``s3:ListBucket`` on the bucket only for keys under the prefix; an import may
  ``s3:GetObject`` under the prefix, an export ``s3:PutObject`` (and finish or abort its multipart uploads);
- the bundle's key: ``kms:Decrypt`` to read; ``kms:GenerateDataKey`` too to write (S3 asks for a data key
  per object, and ``kms:Decrypt`` when it completes a multipart upload);
- the release's own bucket, when Sourcegraph keeps blobs in S3: write for an import, read for an export;
- ``rds-db:connect`` as the role Sourcegraph logs in as, when the release uses IAM database authentication.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["migration_policy", "partition_of"]


def partition_of(arn: str) -> str:
    """The partition an ARN names (``aws``, ``aws-cn``, ``aws-us-gov``)."""
    return arn.split(":", 2)[1]


def migration_policy(
    *,
    bucket: str,
    prefix: str,
    kms_key_arn: str,
    write: bool,
    release_bucket: str | None = None,
    db_user_arns: list[str] | None = None,
) -> str:
    """The role's policy for a bundle at ``s3://bucket/prefix`` (``write``: an export)."""
    partition = partition_of(kms_key_arn)
    s3 = f"arn:{partition}:s3:::"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ListBundle",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [f"{s3}{bucket}"],
            "Condition": {"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}},
        },
        {
            "Sid": "WriteBundle" if write else "ReadBundle",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
            if write
            else ["s3:GetObject"],
            "Resource": [f"{s3}{bucket}/{prefix}/*"],
        },
        {
            "Sid": "BundleKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"] if write else ["kms:Decrypt"],
            "Resource": [kms_key_arn],
        },
    ]
    if release_bucket:
        statements.append(
            {
                "Sid": "ListBlobs",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [f"{s3}{release_bucket}"],
            }
        )
        statements.append(
            {
                "Sid": "ReadBlobs" if write else "WriteBlobs",
                "Effect": "Allow",
                "Action": ["s3:GetObject"] if write else ["s3:PutObject", "s3:AbortMultipartUpload"],
                "Resource": [f"{s3}{release_bucket}/*"],
            }
        )
    if db_user_arns:
        statements.append(
            {
                "Sid": "DatabaseLogin",
                "Effect": "Allow",
                "Action": ["rds-db:connect"],
                "Resource": list(db_user_arns),
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)
