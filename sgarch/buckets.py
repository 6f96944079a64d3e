"""The private S3 bucket every sgarch stack creates the same way: Sourcegraph's objects on EKS and the access
logs of the single-node, POC and EKS load balancers.

Each such bucket is protected (``protect``) and kept when the stack is destroyed (``retain_on_delete``,
``force_destroy`` off): it holds data nobody can recreate. Its settings are separate resources named
``<name>-ownership``, ``-public-access``, ``-versioning`` (when asked), ``-encryption``, ``-policy`` and
``-lifecycle``, children of ``parent``; those names are a contract (renaming one replaces it on existing
stacks), which is why the three callers share this one helper.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

__all__ = ["PrivateBucket", "private_bucket"]


@dataclass(frozen=True)
class PrivateBucket:
    """The bucket and its policy: what must exist before a service checks it may write (ELB log delivery)."""

    bucket: aws.s3.Bucket
    policy: aws.s3.BucketPolicy


def private_bucket(
    name: str,
    *,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
    policy: Callable[[pulumi.Output[str]], pulumi.Input[str]],
    lifecycle_rules: Sequence[aws.s3.BucketLifecycleConfigurationRuleArgsDict],
    bucket_key_enabled: bool | None = None,
    versioning: bool = False,
) -> PrivateBucket:
    """A bucket owned by its account (ACLs off), with every public access blocked, SSE-S3 encryption, the
    policy ``policy(bucket_arn)`` returns and ``lifecycle_rules``; versioned when ``versioning``.

    SSE-S3 rather than SSE-KMS: ALB access log delivery supports only SSE-S3, and for Sourcegraph's objects it
    spares every pod a KMS grant. ``bucket_key_enabled`` is passed as is (None leaves it unset).
    """
    child = pulumi.ResourceOptions(parent=parent)
    bucket = aws.s3.Bucket(
        name,
        force_destroy=False,
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent, protect=True, retain_on_delete=True),
    )
    aws.s3.BucketOwnershipControls(
        f"{name}-ownership", bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=child
    )
    aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=child,
    )
    if versioning:
        aws.s3.BucketVersioning(
            f"{name}-versioning", bucket=bucket.id, versioning_configuration={"status": "Enabled"}, opts=child
        )
    rule: aws.s3.BucketServerSideEncryptionConfigurationRuleArgsDict = {
        "apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}
    }
    if bucket_key_enabled is not None:
        rule["bucket_key_enabled"] = bucket_key_enabled
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption", bucket=bucket.id, rules=[rule], opts=child
    )
    bucket_policy = aws.s3.BucketPolicy(
        f"{name}-policy", bucket=bucket.id, policy=policy(bucket.arn), opts=child
    )
    aws.s3.BucketLifecycleConfiguration(
        f"{name}-lifecycle", bucket=bucket.id, rules=list(lifecycle_rules), opts=child
    )
    return PrivateBucket(bucket, bucket_policy)
