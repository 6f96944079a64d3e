"""Managed AWS services that replace the chart's stateful pods: RDS, ElastiCache and S3.

Each function registers its resources as children of the release component. Everything that holds data is
encrypted, private, protected (``protect``) and kept if the stack is destroyed (``retain_on_delete``);
databases also refuse deletion themselves and leave a final snapshot.

Production defaults an auditor looks for, and how each is changed in place on an existing stack:

- RDS: Multi-AZ (a standby in a second zone; ``multi_az`` is modified in place), Performance Insights kept
  7 days (the free tier), Enhanced Monitoring every 60 s through its own role, the ``postgresql`` and
  ``upgrade`` logs exported to CloudWatch, TLS forced and connections and slow statements logged by the
  parameter group (dynamic parameters, applied without a reboot).
- ElastiCache: an AUTH token per replication group, generated once and kept in Secrets Manager; one replica
  in another zone with automatic failover. ``auth_token_update_strategy=ROTATE`` makes adding the token to
  a group created without one an in-place modification.
"""

from __future__ import annotations

import json
import re
import secrets
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from sgarch.buckets import private_bucket
from sgarch.eks import iam
from sgarch.helm import rds_iam
from sgarch.helm.values import DATABASES
from sgarch.sizing.estimator import ServiceEstimate

__all__ = [
    "POSTGRES_EXTENSIONS",
    "POSTGRES_LOG_EXPORTS",
    "POSTGRES_LOG_PARAMETERS",
    "RDS_INSTANCE_CLASSES",
    "RDS_MONITORING_INTERVAL_SECONDS",
    "RDS_MONITORING_POLICY_ARN",
    "RDS_PERFORMANCE_INSIGHTS_RETENTION_DAYS",
    "REDIS_NODE_TYPES",
    "ManagedPostgres",
    "ManagedRedis",
    "aws_identifier",
    "bucket",
    "postgres",
    "postgres_instance_class",
    "redis",
    "redis_auth_token",
    "redis_node_type",
]

Namer = Callable[..., str]
Tagger = Callable[[str], dict[str, str]]

POSTGRES_EXTENSIONS = ("citext", "hstore", "intarray", "pg_stat_statements", "pg_trgm", "pgcrypto", "vector")
"""Extensions Sourcegraph's migrations create; the parameter group allows exactly these."""

POSTGRES_LOG_EXPORTS = ("postgresql", "upgrade")
"""RDS for PostgreSQL log types exported to CloudWatch Logs (``/aws/rds/instance/<id>/<type>``)."""
POSTGRES_LOG_PARAMETERS: tuple[tuple[str, str], ...] = (
    # Statements slower than one second, in milliseconds: the slow queries worth a look, not every query.
    ("log_min_duration_statement", "1000"),
    ("log_connections", "1"),
    ("log_disconnections", "1"),
)
"""Logging parameters of the parameter group. All three are dynamic in RDS for PostgreSQL 16, so they apply
without a reboot (``apply_method=immediate``)."""
RDS_PERFORMANCE_INSIGHTS_RETENTION_DAYS = 7
"""Performance Insights retention: 7 days is the free tier (longer is 731 days or a multiple of 31)."""
RDS_MONITORING_INTERVAL_SECONDS = 60
"""Enhanced Monitoring granularity (one of 1, 5, 10, 15, 30, 60); 60 s keeps its CloudWatch Logs volume low."""
RDS_MONITORING_POLICY_ARN = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
"""The AWS-managed policy that lets RDS write Enhanced Monitoring metrics to CloudWatch Logs, and no more."""

# (class, memory GiB), smallest first. Every db.m6g class supports Performance Insights.
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
_IAM_NAME_PREFIX_LENGTH = 64 - 26
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


def _service_trust(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


# ElastiCache accepts 16 to 128 printable characters, non-alphanumerics limited to !&#$^<>-; letters and
# digits also need no escaping in the rediss:// URL Sourcegraph reads.
_TOKEN_ALPHABET = string.ascii_letters + string.digits
_TOKEN_LENGTH = 64


def redis_auth_token() -> str:
    """A fresh ElastiCache AUTH token: 64 random letters and digits (about 380 bits)."""
    return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(_TOKEN_LENGTH))


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
    """One RDS for PostgreSQL 16 instance per database in ``services`` (chart key -> estimate), Multi-AZ
    unless ``multi_az`` is off, with Performance Insights, Enhanced Monitoring and log exports."""
    child = pulumi.ResourceOptions(parent=parent)
    monitoring = aws.iam.Role(
        n("db-monitoring"),
        # IAM role names hold 64 characters and the provider appends 26 to a prefix: a prefix, cut to fit,
        # keeps long stack names working (an autoname from this logical name would not fit).
        name_prefix=f"{aws_identifier(n('db-monitoring'), _IAM_NAME_PREFIX_LENGTH - 1)}-",
        assume_role_policy=_service_trust("monitoring.rds.amazonaws.com"),
        description="RDS Enhanced Monitoring of the Sourcegraph databases",
        tags=tagged(n("db-monitoring")),
        opts=child,
    )
    monitoring_policy = aws.iam.RolePolicyAttachment(
        n("db-monitoring-policy"), role=monitoring.name, policy_arn=RDS_MONITORING_POLICY_ARN, opts=child
    )
    group, access = _security_group(n, tagged, "db", 5432, vpc_id, node_security_group_id, parent)
    subnets = aws.rds.SubnetGroup(
        n("db-subnets"),
        subnet_ids=subnet_ids,
        description="Sourcegraph databases",
        tags=tagged(n("db-subnets")),
        opts=child,
    )
    logging: list[aws.rds.ParameterGroupParameterArgsDict] = [
        {"name": name, "value": value, "apply_method": "immediate"} for name, value in POSTGRES_LOG_PARAMETERS
    ]
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
            *logging,
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
            performance_insights_enabled=True,
            performance_insights_retention_period=RDS_PERFORMANCE_INSIGHTS_RETENTION_DAYS,
            performance_insights_kms_key_id=kms_key_arn,
            monitoring_interval=RDS_MONITORING_INTERVAL_SECONDS,
            monitoring_role_arn=monitoring.arn,
            enabled_cloudwatch_logs_exports=list(POSTGRES_LOG_EXPORTS),
            backup_retention_period=backup_retention_days,
            copy_tags_to_snapshot=True,
            delete_automated_backups=False,
            deletion_protection=True,
            skip_final_snapshot=False,
            final_snapshot_identifier=f"{aws_identifier(n(short), 249)}-final",
            tags=tagged(n(short)),
            opts=pulumi.ResourceOptions.merge(
                _kept(parent), pulumi.ResourceOptions(depends_on=[monitoring_policy])
            ),
        )
    return ManagedPostgres(instances, access)


@dataclass
class ManagedRedis:
    """The two ElastiCache replication groups, and the AUTH token of each (secret outputs, read from the
    Secrets Manager secret version that keeps it)."""

    cache: aws.elasticache.ReplicationGroup
    store: aws.elasticache.ReplicationGroup
    cache_auth_token: pulumi.Output[str]
    store_auth_token: pulumi.Output[str]


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
    """Two non-cluster ElastiCache for Redis OSS groups, redis-cache and redis-store: a primary and a replica
    in another zone with automatic failover, TLS and an AUTH token each."""
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

    def auth_token(short: str) -> pulumi.Output[str]:
        secret = aws.secretsmanager.Secret(
            n(short, "auth"),
            description=f"AUTH token of the Sourcegraph {short} ElastiCache replication group",
            kms_key_id=kms_key_arn,
            tags=tagged(n(short, "auth")),
            opts=child,
        )
        version = aws.secretsmanager.SecretVersion(
            n(short, "auth-token"),
            secret_id=secret.id,
            secret_string=pulumi.Output.secret(redis_auth_token()),
            # The program draws a new token on every run; only the first one is ever written. Ignoring
            # later values keeps the token, the replication group and Sourcegraph's Secret stable. Rotate
            # with `pulumi up --replace <this version's URN>` (the group then rotates in place).
            opts=pulumi.ResourceOptions(parent=parent, ignore_changes=["secretString"]),
        )
        return pulumi.Output.secret(version.secret_string.apply(lambda value: value or ""))

    def replication_group(
        short: str, svc: ServiceEstimate, durable: bool, token: pulumi.Output[str]
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
            # A primary and one replica; subnet_ids span two or more zones, so the replica lands in another.
            num_cache_clusters=2,
            automatic_failover_enabled=True,
            multi_az_enabled=True,
            node_type=node_type or redis_node_type(svc),
            port=6379,
            transit_encryption_enabled=True,
            auth_token=token,
            # Only used when the token changes on an existing group: ROTATE adds it (to a group created
            # without one, or next to the old token) in place, instead of replacing the group.
            auth_token_update_strategy="ROTATE",
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

    cache_token, store_token = auth_token("redis-cache"), auth_token("redis-store")
    return ManagedRedis(
        cache=replication_group("redis-cache", services["redisCache"], durable=False, token=cache_token),
        store=replication_group("redis-store", services["redisStore"], durable=True, token=store_token),
        cache_auth_token=cache_token,
        store_auth_token=store_token,
    )


def bucket(n: Namer, tagged: Tagger, parent: pulumi.Resource) -> aws.s3.Bucket:
    """Sourcegraph's one bucket: private, versioned, encrypted, TLS only, old versions expire after 30 days."""
    return private_bucket(
        n("objects"),
        tags=tagged(n("objects")),
        parent=parent,
        policy=lambda arn: arn.apply(iam.s3_bucket_policy),
        lifecycle_rules=[
            {
                "id": "expire-old-versions",
                "status": "Enabled",
                "filter": {"prefix": ""},
                "noncurrent_version_expiration": {"noncurrent_days": 30},
                "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
            }
        ],
        # Matters only with SSE-KMS; kept because existing buckets were created with it (no needless update).
        bucket_key_enabled=True,
        versioning=True,
    ).bucket
