"""Data stores: RDS PostgreSQL (with its monitoring), ElastiCache, S3 buckets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sgarch.cost._context import PricingContext, Unpriced, as_float

if TYPE_CHECKING:
    from sgarch.testing import ResourceRecord

__all__ = ["price_bucket", "price_cache_cluster", "price_rds", "price_replication_group"]


def price_rds(ctx: PricingContext, record: ResourceRecord) -> None:
    inputs = record.inputs
    engine = str(inputs.get("engine") or "")
    if inputs.get("replicateSourceDb") and not engine:
        engine = "postgres"
    if engine != "postgres":
        raise Unpriced(f"no price for RDS engine {engine or '(unset)'}; sgarch prices PostgreSQL")
    instance_class = str(inputs.get("instanceClass") or "")
    hourly = ctx.prices.rds_postgres_hourly.get(instance_class)
    if hourly is None:
        raise Unpriced(f"no price for RDS instance class {instance_class}")
    multi_az = bool(inputs.get("multiAz"))
    factor = ctx.prices.rds_multi_az_factor if multi_az else 1.0
    layout = "Multi-AZ" if multi_az else "Single-AZ"
    ctx.add(record, f"{instance_class} PostgreSQL ({layout})", "database", ctx.hours, "h", hourly * factor)
    storage = as_float(inputs.get("allocatedStorage"))
    storage_type = str(inputs.get("storageType") or "gp2")
    if storage is None:
        raise Unpriced("allocated storage is not set")
    if storage_type not in ("gp2", "gp3"):
        ctx.unpriced(record, f"no price for RDS {storage_type} storage")
        return
    price = ctx.prices.rds_gp3_gb_month_multi_az if multi_az else ctx.prices.rds_gp3_gb_month
    ctx.add(record, f"{storage_type} storage {storage:g} GB", "database", storage, "GB-mo", price)
    _price_rds_monitoring(ctx, record)


def _price_rds_monitoring(ctx: PricingContext, record: ResourceRecord) -> None:
    """Performance Insights (free for 7 days), Enhanced Monitoring and log exports (CloudWatch Logs)."""
    inputs = record.inputs
    if inputs.get("performanceInsightsEnabled"):
        days = as_float(inputs.get("performanceInsightsRetentionPeriod")) or 7.0
        free = ctx.prices.rds_performance_insights_free_retention_days
        if days <= free:
            ctx.add(
                record, f"Performance Insights, {free} days (free tier)", "monitoring", 1, "instance-mo", 0.0
            )
        else:
            ctx.unpriced(
                record, f"no price for Performance Insights kept {days:g} days (only {free} are free)"
            )
    logs: list[tuple[str, float, str]] = []
    interval = as_float(inputs.get("monitoringInterval")) or 0.0
    if interval > 0:
        gb = ctx.assumptions.rds_enhanced_monitoring_gb_per_month * 60 / interval
        logs.append(("Enhanced Monitoring", gb, f"{gb:g} GB a month at {interval:g} s"))
    exports = inputs.get("enabledCloudwatchLogsExports") or []
    if exports:
        gb = ctx.assumptions.rds_log_export_gb_per_month
        logs.append((f"log exports ({', '.join(map(str, exports))})", gb, f"{gb:g} GB a month"))
    for item, gb, assumption in logs:
        ctx.add(
            record,
            f"{item} ingestion",
            "monitoring",
            gb,
            "GB",
            ctx.prices.cloudwatch_logs_ingest_gb,
            assumption,
        )
        ctx.add(
            record, f"{item} storage", "monitoring", gb, "GB-mo", ctx.prices.cloudwatch_logs_store_gb_month
        )


def _cache_node_price(ctx: PricingContext, record: ResourceRecord) -> tuple[str, float]:
    node_type = str(record.inputs.get("nodeType") or "")
    hourly = ctx.prices.elasticache_redis_hourly.get(node_type)
    if hourly is None:
        raise Unpriced(f"no price for ElastiCache node type {node_type}")
    engine = str(record.inputs.get("engine") or "redis")
    if engine == "valkey":
        hourly *= 1 - ctx.prices.elasticache_valkey_discount
    elif engine != "redis":
        raise Unpriced(f"no price for ElastiCache engine {engine}")
    return f"{node_type} {engine} node", hourly


def price_replication_group(ctx: PricingContext, record: ResourceRecord) -> None:
    inputs = record.inputs
    label, hourly = _cache_node_price(ctx, record)
    groups = as_float(inputs.get("numNodeGroups"))
    if groups:
        nodes = groups * ((as_float(inputs.get("replicasPerNodeGroup")) or 0.0) + 1)
    else:
        nodes = as_float(inputs.get("numCacheClusters")) or 1.0
    ctx.add(record, f"{nodes:g} × {label}", "cache", nodes * ctx.hours, "h", hourly)


def price_cache_cluster(ctx: PricingContext, record: ResourceRecord) -> None:
    if record.inputs.get("replicationGroupId"):
        return  # a member of a replication group, which is priced
    label, hourly = _cache_node_price(ctx, record)
    nodes = as_float(record.inputs.get("numCacheNodes")) or 1.0
    ctx.add(record, f"{nodes:g} × {label}", "cache", nodes * ctx.hours, "h", hourly)


def price_bucket(ctx: PricingContext, record: ResourceRecord) -> None:
    gb = ctx.assumptions.s3_gb_per_bucket
    ctx.add(
        record,
        "S3 Standard storage",
        "storage",
        gb,
        "GB-mo",
        ctx.prices.s3_standard_gb_month,
        f"{gb:g} GB stored",
    )
