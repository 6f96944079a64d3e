"""Security and monitoring: KMS keys, Secrets Manager secrets, CloudWatch alarms and log groups."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sgarch.cost._context import PricingContext, as_float

if TYPE_CHECKING:
    from sgarch.testing import ResourceRecord

__all__ = ["price_alarm", "price_kms_key", "price_log_group", "price_secret"]


def price_kms_key(ctx: PricingContext, record: ResourceRecord) -> None:
    ctx.add(record, "KMS customer-managed key", "security", 1, "key-mo", ctx.prices.kms_key_month)


def price_secret(ctx: PricingContext, record: ResourceRecord) -> None:
    ctx.add(
        record, "Secrets Manager secret", "security", 1, "secret-mo", ctx.prices.secrets_manager_secret_month
    )


def price_alarm(ctx: PricingContext, record: ResourceRecord) -> None:
    period = as_float(record.inputs.get("period"))
    if period is not None and period < 60:
        ctx.add(
            record,
            "high-resolution alarm",
            "monitoring",
            1,
            "alarm-mo",
            ctx.prices.cloudwatch_alarm_high_resolution_month,
        )
    else:
        ctx.add(record, "CloudWatch alarm", "monitoring", 1, "alarm-mo", ctx.prices.cloudwatch_alarm_month)


def price_log_group(ctx: PricingContext, record: ResourceRecord) -> None:
    gb = ctx.assumptions.log_gb_per_month
    ctx.add(
        record,
        "log ingestion",
        "monitoring",
        gb,
        "GB",
        ctx.prices.cloudwatch_logs_ingest_gb,
        f"{gb:g} GB a month",
    )
    ctx.add(record, "log storage", "monitoring", gb, "GB-mo", ctx.prices.cloudwatch_logs_store_gb_month)
