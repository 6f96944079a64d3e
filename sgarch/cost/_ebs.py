"""EBS: the priced items of one volume, and volumes with the snapshots their DLM policies keep."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sgarch.cost._context import PricingContext, Unpriced, as_float
from sgarch.cost._table import EbsPrices

if TYPE_CHECKING:
    from sgarch.testing import ResourceRecord

__all__ = ["add_volume", "ebs_volume_items", "price_volume"]


def ebs_volume_items(
    ebs: EbsPrices, volume_type: str, size_gib: float, iops: float | None, throughput_mibps: float | None
) -> list[tuple[str, float, str, float]]:
    """The priced items of one EBS volume as ``(item, quantity, unit, unit price)``.

    gp3 charges IOPS above its free 3,000 and throughput above its free 125 MiB/s; io2 charges every
    provisioned IOPS in price bands. Raises ValueError for a volume type without a price.
    """
    kind = volume_type.lower()
    items: list[tuple[str, float, str, float]] = []
    if kind == "gp3":
        items.append((f"gp3 storage {size_gib:g} GiB", size_gib, "GB-mo", ebs.gp3_gb_month))
        extra_iops = max(0.0, (iops or ebs.gp3_free_iops) - ebs.gp3_free_iops)
        if extra_iops:
            items.append((f"gp3 IOPS above {ebs.gp3_free_iops:,}", extra_iops, "IOPS-mo", ebs.gp3_iops_month))
        extra_mibps = max(
            0.0, (throughput_mibps or ebs.gp3_free_throughput_mibps) - ebs.gp3_free_throughput_mibps
        )
        if extra_mibps:
            items.append(
                (
                    f"gp3 throughput above {ebs.gp3_free_throughput_mibps} MiB/s",
                    extra_mibps,
                    "MiB/s-mo",
                    ebs.gp3_throughput_mibps_month,
                )
            )
    elif kind == "io2":
        items.append((f"io2 storage {size_gib:g} GiB", size_gib, "GB-mo", ebs.io2_gb_month))
        remaining = float(iops or 3000)
        floor = 0
        for band in ebs.io2_iops_tiers:
            width = remaining if band.up_to is None else min(remaining, band.up_to - floor)
            if width > 0:
                items.append((f"io2 IOPS {floor + 1:,}+", width, "IOPS-mo", band.price))
                remaining -= width
            floor = band.up_to or floor
            if remaining <= 0:
                break
    elif kind == "io1":
        items.append((f"io1 storage {size_gib:g} GiB", size_gib, "GB-mo", ebs.io1_gb_month))
        items.append(("io1 IOPS", float(iops or 100), "IOPS-mo", ebs.io1_iops_month))
    elif kind in ("gp2", "st1", "sc1"):
        price = {"gp2": ebs.gp2_gb_month, "st1": ebs.st1_gb_month, "sc1": ebs.sc1_gb_month}[kind]
        items.append((f"{kind} storage {size_gib:g} GiB", size_gib, "GB-mo", price))
    else:
        raise ValueError(f"no price for EBS volume type {volume_type}")
    return items


def add_volume(
    ctx: PricingContext,
    record: ResourceRecord,
    volume_type: str,
    size: float,
    iops: float | None,
    throughput: float | None,
    label: str = "",
    assumption: str | None = None,
) -> None:
    """Add the lines of one EBS volume to ``record``, each item prefixed by ``label`` (``root ``, say)."""
    try:
        items = ebs_volume_items(ctx.prices.ebs, volume_type, size, iops, throughput)
    except ValueError as exc:
        raise Unpriced(str(exc)) from None
    for item, quantity, unit, price in items:
        ctx.add(record, f"{label}{item}", "storage", quantity, unit, price, assumption)


def price_volume(ctx: PricingContext, record: ResourceRecord) -> None:
    inputs = record.inputs
    size = as_float(inputs.get("size"))
    if size is None:
        raise Unpriced("the volume's size is not known until it is created (from a snapshot)")
    volume_type = str(inputs.get("type") or "gp2")
    add_volume(
        ctx, record, volume_type, size, as_float(inputs.get("iops")), as_float(inputs.get("throughput"))
    )
    _price_snapshots(ctx, record, size)


def _price_snapshots(ctx: PricingContext, record: ResourceRecord, size: float) -> None:
    """Snapshots that Data Lifecycle Manager policies take of this volume (matched by target tags)."""
    tags = record.tags()
    rate = ctx.assumptions.snapshot_daily_change_rate
    increments = 0.0
    policies: list[str] = []
    for policy in ctx.by_type("aws:dlm/lifecyclePolicy:LifecyclePolicy"):
        inputs = policy.inputs
        if str(inputs.get("state", "ENABLED")).upper() != "ENABLED":
            continue
        details = inputs.get("policyDetails") or {}
        if "VOLUME" not in (details.get("resourceTypes") or ["VOLUME"]):
            continue
        target = {str(k): str(v) for k, v in (details.get("targetTags") or {}).items()}
        if not target or any(tags.get(k) != v for k, v in target.items()):
            continue
        for schedule in details.get("schedules") or []:
            create = schedule.get("createRule") or {}
            interval_hours = as_float(create.get("interval")) or 24.0
            if str(create.get("intervalUnit", "HOURS")).upper() != "HOURS":
                interval_hours = 24.0
            kept = as_float((schedule.get("retainRule") or {}).get("count")) or 1.0
            increments += (kept - 1) * rate * interval_hours / 24.0
            policies.append(f"{policy.name} keeps {kept:g}")
    if not policies:
        return
    stored = size * (1 + increments)
    ctx.add(
        record,
        "snapshots",
        "backup",
        stored,
        "GB-mo",
        ctx.prices.ebs.snapshot_gb_month,
        f"{'; '.join(policies)}; a full copy plus {rate:.0%} of the volume per day between snapshots",
    )
