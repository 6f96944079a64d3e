"""Managed AWS services that replace the chart's stateful pods: RDS, ElastiCache and S3.

Each function registers its resources as children of the release component. Everything that holds data is
encrypted, private, protected (``protect``) and kept if the stack is destroyed (``retain_on_delete``);
databases also refuse deletion themselves and leave a final snapshot.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from sgarch.eks import iam
from sgarch.helm import rds_iam
from sgarch.helm.values import DATABASES
from sgarch.sizing.estimator import ServiceEstimate

__all__ = [
    "POSTGRES_EXTENSIONS",
    "RDS_INSTANCE_CLASSES",
    "REDIS_NODE_TYPES",
    "ManagedPostgres",
    "ManagedRedis",
    "aws_identifier",
    "bucket",
    "postgres",
    "postgres_instance_class",
    "redis",
    "redis_node_type",
]

Namer = Callable[..., str]
Tagger = Callable[[str], dict[str, str]]

POSTGRES_EXTENSIONS = ("citext", "hstore", "intarray", "pg_stat_statements", "pg_trgm", "pgcrypto", "vector")
"""Extensions Sourcegraph's migrations create; the parameter group allows exactly these."""

# (class, memory GiB), smallest first.
RDS_INSTANCE_CLASSES: tuple[tuple[str, int], ...] = (
    ("db.m6g.large", 8),
    ("db.m6g.xlarge", 16),
    ("db.m6g.2xlarge", 32),
    ("db.m6g.4xlarge", 64),
    ("db.m6g.8xlarge", 128),
)
REDIS_NODE_TYPES: tuple[tuple[str, float], ...] = (
    ("cache.m6g.large", 6.38),
    ("cache.m6g.xlarge", 12.93),
    ("cache.m6g.2xlarge", 26.04),
    ("cache.m6g.4xlarge", 52.26),
    ("cache.m6g.8xlarge", 103.68),
)
_GIB_PER_GB = 1e9 / 2**30

# RDS instance identifiers are at most 63 characters; the provider appends a 26-character unique suffix to
# `identifier_prefix`, so the prefix (with its trailing hyphen) gets 37.
_RDS_IDENTIFIER_PREFIX_LENGTH = 63 - 26
_REPLICATION_GROUP_ID_LENGTH = 40
_NOT_IDENTIFIER = re.compile(r"[^a-z0-9]+")


def aws_identifier(name: str, max_length: int) -> str:
    """``name`` as an RDS or ElastiCache identifier: lowercase letters, digits and single hyphens, starting
    with a letter, at most ``max_length`` characters, not ending with a hyphen.

    A name that already obeys these rules comes back unchanged, so identifiers of existing resources stay
    put. Pulumi stack names may hold capitals, ``_`` and ``.``, which these APIs reject.
    """
    text = _NOT_IDENTIFIER.sub("-", name.lower()).strip("-")
    if not text[:1].isalpha():
        text = f"sg-{text}".rstrip("-")
    return text[:max_length].rstrip("-")


def _replication_group_ids(n: Namer, shorts: Sequence[str]) -> dict[str, str]:
    ids = {short: aws_identifier(n(short), _REPLICATION_GROUP_ID_LENGTH) for short in shorts}
    if len(set(ids.values())) == len(ids):
        return ids
    # Truncation made them equal (a long stack name): shorten the shared prefix, keep each suffix whole.
    out = {}
    for short in shorts:
        room = _REPLICATION_GROUP_ID_LENGTH - len(short) - 1
        prefix = n(short).removesuffix(f"-{short}")
        out[short] = f"{aws_identifier(prefix, room)}-{short}"
    return out


def postgres_instance_class(svc: ServiceEstimate) -> str:
    """The smallest db.m6g class whose memory holds the database's estimated memory."""
    need = svc.memory_request_gb * _GIB_PER_GB
    return next((c for c, gib in RDS_INSTANCE_CLASSES if gib >= need), RDS_INSTANCE_CLASSES[-1][0])


def redis_node_type(svc: ServiceEstimate) -> str:
    """The smallest cache.m6g type whose memory holds the Redis instance's estimated memory."""
    need = svc.memory_request_gb * _GIB_PER_GB
    return next((t for t, gib in REDIS_NODE_TYPES if gib >= need), REDIS_NODE_TYPES[-1][0])


def _kept(parent: pulumi.Resource) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(parent=parent, protect=True, retain_on_delete=True)


def _security_group(
    n: Namer,
    tagged: Tagger,
    prefix: str,
    port: int,
    vpc_id: pulumi.Input[str],
    source_sg: pulumi.Input[str],
    parent: pulumi.Resource,
) -> tuple[aws.ec2.SecurityGroup, aws.vpc.SecurityGroupIngressRule]:
    child = pulumi.ResourceOptions(parent=parent)
    group = aws.ec2.SecurityGroup(
        n(f"{prefix}-sg"),
        vpc_id=vpc_id,
        description=f"{prefix} reachable from the EKS nodes only",
        tags=tagged(n(f"{prefix}-sg")),
        opts=child,
    )
    rule = aws.vpc.SecurityGroupIngressRule(
        n(f"{prefix}-from-nodes"),
        security_group_id=group.id,
        referenced_security_group_id=source_sg,
        ip_protocol="tcp",
        from_port=port,
        to_port=port,
        description="From the EKS nodes",
        tags=tagged(n(f"{prefix}-from-nodes")),
        opts=child,
    )
    return group, rule


@dataclass
class ManagedPostgres:
    """The RDS instances by chart key, and the rule that lets the nodes' pods reach them."""

    instances: dict[str, aws.rds.Instance]
    access: aws.vpc.SecurityGroupIngressRule


def postgres(
    n: Namer,
    tagged: Tagger,
    parent: pulumi.Resource,
    *,
    services: dict[str, ServiceEstimate],
    vpc_id: pulumi.Input[str],
    subnet_ids: pulumi.Input[Sequence[str]],
    node_security_group_id: pulumi.Input[str],
    kms_key_arn: pulumi.Input[str] | None,
    instance_class: str | None,
    multi_az: bool,
    backup_retention_days: int,
    password: pulumi.Input[str] | None,
) -> ManagedPostgres:
    """One RDS for PostgreSQL 16 instance per database in ``services`` (chart key -> estimate)."""
    child = pulumi.ResourceOptions(parent=parent)
    group, access = _security_group(n, tagged, "db", 5432, vpc_id, node_security_group_id, parent)
    subnets = aws.rds.SubnetGroup(
        n("db-subnets"),
        subnet_ids=subnet_ids,
        description="Sourcegraph databases",
        tags=tagged(n("db-subnets")),
        opts=child,
    )
    params = aws.rds.ParameterGroup(
        n("pg16"),
        family="postgres16",
        description="Sourcegraph: TLS required, only the extensions Sourcegraph creates",
        parameters=[
            {"name": "rds.force_ssl", "value": "1", "apply_method": "pending-reboot"},
            {
                "name": "rds.allowed_extensions",
                "value": ",".join(POSTGRES_EXTENSIONS),
                "apply_method": "pending-reboot",
            },
        ],
        tags=tagged(n("pg16")),
        opts=child,
    )
    instances: dict[str, aws.rds.Instance] = {}
    for key, svc in services.items():
        short = DATABASES[key]
        storage = max(svc.storage_gb, 100)
        instances[key] = aws.rds.Instance(
            n(short),
            identifier_prefix=f"{aws_identifier(n(short), _RDS_IDENTIFIER_PREFIX_LENGTH - 1)}-",
            engine="postgres",
            # Major version only: RDS applies minor upgrades in the maintenance window.
            engine_version="16",
            auto_minor_version_upgrade=True,
            instance_class=instance_class or postgres_instance_class(svc),
            allocated_storage=storage,
            max_allocated_storage=storage * 4,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=kms_key_arn,
            db_name=rds_iam.DATABASE,
            username=rds_iam.MASTER_USER,
            password=password,
            manage_master_user_password=True if password is None else None,
            iam_database_authentication_enabled=True,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[group.id],
            parameter_group_name=params.name,
            publicly_accessible=False,
            multi_az=multi_az,
            backup_retention_period=backup_retention_days,
            copy_tags_to_snapshot=True,
            delete_automated_backups=False,
            deletion_protection=True,
            skip_final_snapshot=False,
            final_snapshot_identifier=f"{aws_identifier(n(short), 249)}-final",
            tags=tagged(n(short)),
            opts=_kept(parent),
        )
    return ManagedPostgres(instances, access)


@dataclass
class ManagedRedis:
    """The two ElastiCache replication groups."""

    cache: aws.elasticache.ReplicationGroup
    store: aws.elasticache.ReplicationGroup


def redis(
    n: Namer,
    tagged: Tagger,
    parent: pulumi.Resource,
    *,
    services: dict[str, ServiceEstimate],
    vpc_id: pulumi.Input[str],
    subnet_ids: pulumi.Input[Sequence[str]],
    node_security_group_id: pulumi.Input[str],
    kms_key_arn: pulumi.Input[str] | None,
    node_type: str | None,
) -> ManagedRedis:
    """Two single-node, non-cluster ElastiCache for Redis OSS groups: redis-cache and redis-store."""
    child = pulumi.ResourceOptions(parent=parent)
    group, _ = _security_group(n, tagged, "redis", 6379, vpc_id, node_security_group_id, parent)
    subnets = aws.elasticache.SubnetGroup(
        n("redis-subnets"),
        subnet_ids=subnet_ids,
        description="Sourcegraph Redis",
        tags=tagged(n("redis-subnets")),
        opts=child,
    )

    group_ids = _replication_group_ids(n, ("redis-cache", "redis-store"))

    def replication_group(
        short: str, svc: ServiceEstimate, durable: bool
    ) -> aws.elasticache.ReplicationGroup:
        name = n(short)
        return aws.elasticache.ReplicationGroup(
            name,
            replication_group_id=group_ids[short],
            description=f"Sourcegraph {short}",
            engine="redis",
            engine_version="7.1",
            parameter_group_name="default.redis7",
            # Sourcegraph supports neither Redis Cluster nor Sentinel: one shard, no cluster mode.
            cluster_mode="disabled",
            num_cache_clusters=1,
            node_type=node_type or redis_node_type(svc),
            port=6379,
            transit_encryption_enabled=True,
            at_rest_encryption_enabled=True,
            kms_key_id=kms_key_arn,
            subnet_group_name=subnets.name,
            security_group_ids=[group.id],
            auto_minor_version_upgrade=True,
            # The store holds user sessions and settings worth a daily snapshot; the cache does not.
            snapshot_retention_limit=7 if durable else 0,
            final_snapshot_identifier=f"{aws_identifier(name, 249)}-final" if durable else None,
            tags=tagged(name),
            opts=_kept(parent) if durable else child,
        )

    return ManagedRedis(
        cache=replication_group("redis-cache", services["redisCache"], durable=False),
        store=replication_group("redis-store", services["redisStore"], durable=True),
    )


def bucket(n: Namer, tagged: Tagger, parent: pulumi.Resource) -> aws.s3.Bucket:
    """Sourcegraph's one bucket: private, versioned, encrypted, TLS only, old versions expire after 30 days."""
    child = pulumi.ResourceOptions(parent=parent)
    objects = aws.s3.Bucket(n("objects"), force_destroy=False, tags=tagged(n("objects")), opts=_kept(parent))
    aws.s3.BucketOwnershipControls(
        n("objects-ownership"),
        bucket=objects.id,
        rule={"object_ownership": "BucketOwnerEnforced"},
        opts=child,
    )
    aws.s3.BucketPublicAccessBlock(
        n("objects-public-access"),
        bucket=objects.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=child,
    )
    aws.s3.BucketVersioning(
        n("objects-versioning"), bucket=objects.id, versioning_configuration={"status": "Enabled"}, opts=child
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        n("objects-encryption"),
        bucket=objects.id,
        # SSE-S3: encrypted at rest without a KMS grant for every pod that reads an object.
        rules=[
            {
                "apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"},
                "bucket_key_enabled": True,
            }
        ],
        opts=child,
    )
    aws.s3.BucketPolicy(
        n("objects-policy"), bucket=objects.id, policy=objects.arn.apply(iam.s3_bucket_policy), opts=child
    )
    aws.s3.BucketLifecycleConfiguration(
        n("objects-lifecycle"),
        bucket=objects.id,
        rules=[
            {
                "id": "expire-old-versions",
                "status": "Enabled",
                "filter": {"prefix": ""},
                "noncurrent_version_expiration": {"noncurrent_days": 30},
                "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
            }
        ],
        opts=child,
    )
    return objects
