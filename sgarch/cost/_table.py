"""The dated price table: ``prices.json`` next to this module, validated into frozen models.

Prices are data, not code: a price change is a diff to ``prices.json`` (and its ``as_of`` date), never to the
pricing logic. Every figure is an approximate public on-demand list price in USD.
"""

from __future__ import annotations

import functools
import json
from importlib import resources

from pydantic import BaseModel, ConfigDict

__all__ = ["EbsPrices", "IopsTier", "PriceTable", "RegionPrices", "load_price_table"]


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IopsTier(_Data):
    """One io2 IOPS price band: ``price`` per IOPS-month for IOPS up to ``up_to`` (None: no upper bound)."""

    up_to: int | None
    price: float


class EbsPrices(_Data):
    """EBS prices per GB-month, per provisioned IOPS-month and per provisioned MiB/s-month."""

    gp3_gb_month: float
    gp3_iops_month: float
    gp3_throughput_mibps_month: float
    gp3_free_iops: int
    gp3_free_throughput_mibps: int
    gp2_gb_month: float
    io1_gb_month: float
    io1_iops_month: float
    io2_gb_month: float
    io2_iops_tiers: tuple[IopsTier, ...]
    st1_gb_month: float
    sc1_gb_month: float
    snapshot_gb_month: float
    snapshot_archive_gb_month: float


class RegionPrices(_Data):
    """Every price sgarch uses in one region. Hourly prices are per hour, monthly ones per month."""

    ec2_instance_hourly: dict[str, float]
    ebs: EbsPrices
    nat_gateway_hourly: float
    nat_gateway_gb: float
    alb_hourly: float
    alb_lcu_hourly: float
    public_ipv4_hourly: float
    vpc_interface_endpoint_hourly_per_az: float
    vpc_interface_endpoint_gb: float
    transit_gateway_attachment_hourly: float
    transit_gateway_gb: float
    eks_cluster_hourly: float
    eks_cluster_extended_support_hourly: float
    rds_postgres_hourly: dict[str, float]
    rds_multi_az_factor: float
    rds_gp3_gb_month: float
    rds_gp3_gb_month_multi_az: float
    rds_performance_insights_free_retention_days: int
    elasticache_redis_hourly: dict[str, float]
    elasticache_valkey_discount: float
    s3_standard_gb_month: float
    cloudwatch_alarm_month: float
    cloudwatch_alarm_high_resolution_month: float
    cloudwatch_logs_ingest_gb: float
    cloudwatch_logs_store_gb_month: float
    kms_key_month: float
    secrets_manager_secret_month: float
    route53_zone_month: float


class PriceTable(_Data):
    """The whole table: when it was taken (``as_of``), where from (``source``) and the prices per region."""

    as_of: str
    version: int
    currency: str
    hours_per_month: int
    source: str
    regions: dict[str, RegionPrices]

    def region(self, name: str) -> RegionPrices | None:
        """The prices of region ``name``, or None when the table has none."""
        return self.regions.get(name)


@functools.cache
def load_price_table() -> PriceTable:
    """The price table shipped with sgarch (read once, then cached)."""
    text = resources.files("sgarch.cost").joinpath("prices.json").read_text(encoding="utf-8")
    return PriceTable.model_validate(json.loads(text))
