"""The policy rules, one per module (cdk-nag style), collected in id order."""

from __future__ import annotations

from sgarch.policy._model import Rule
from sgarch.policy.rules import (
    sga001_imdsv2,
    sga002_ebs_encryption,
    sga003_rds_encryption,
    sga004_elasticache_encryption,
    sga005_s3_encryption,
    sga006_eks_secrets_encryption,
    sga007_alb_https_only,
    sga008_redis_tls,
    sga009_rds_ssl,
    sga010_open_ingress,
    sga011_private_compute,
    sga012_stateful_retention,
    sga013_backups,
    sga014_elasticache_backups,
    sga015_eks_control_plane_logs,
    sga016_iam_wildcard,
    sga017_s3_public_access,
    sga018_rds_multi_az,
    sga019_rds_performance_insights,
    sga020_rds_log_exports,
    sga021_redis_auth,
    sga022_log_retention,
    sga023_alb_access_logs,
)

__all__ = ["RULES"]

RULES: tuple[Rule, ...] = tuple(
    sorted(
        (
            sga001_imdsv2.RULE,
            sga002_ebs_encryption.RULE,
            sga003_rds_encryption.RULE,
            sga004_elasticache_encryption.RULE,
            sga005_s3_encryption.RULE,
            sga006_eks_secrets_encryption.RULE,
            sga007_alb_https_only.RULE,
            sga008_redis_tls.RULE,
            sga009_rds_ssl.RULE,
            sga010_open_ingress.RULE,
            sga011_private_compute.RULE,
            sga012_stateful_retention.RULE,
            sga013_backups.RULE,
            sga014_elasticache_backups.RULE,
            sga015_eks_control_plane_logs.RULE,
            sga016_iam_wildcard.RULE,
            sga017_s3_public_access.RULE,
            sga018_rds_multi_az.RULE,
            sga019_rds_performance_insights.RULE,
            sga020_rds_log_exports.RULE,
            sga021_redis_auth.RULE,
            sga022_log_retention.RULE,
            sga023_alb_access_logs.RULE,
        ),
        key=lambda rule: rule.id,
    )
)
"""Every rule, sorted by id."""
