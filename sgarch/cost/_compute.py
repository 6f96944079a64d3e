"""Compute: EC2 instances, EKS node groups, auto scaling groups (with their launch templates' disks), EKS."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sgarch.cost._context import PricingContext, Unpriced, as_float
from sgarch.cost._ebs import add_volume, ebs_volume_items

if TYPE_CHECKING:
    from sgarch.testing import ResourceRecord

__all__ = ["price_autoscaling_group", "price_eks_cluster", "price_instance", "price_node_group"]


def price_instance(ctx: PricingContext, record: ResourceRecord) -> None:
    inputs = record.inputs
    instance_type = str(inputs.get("instanceType") or "")
    hourly = ctx.instance_hourly(instance_type)
    ctx.add(record, f"{instance_type} instance", "compute", ctx.hours, "h", hourly)
    root = inputs.get("rootBlockDevice") or {}
    size = as_float(root.get("volumeSize"))
    assumption = None
    if size is None:
        size = float(ctx.assumptions.default_root_volume_gib)
        assumption = f"root volume size from the AMI, assumed {size:g} GiB"
    add_volume(
        ctx,
        record,
        str(root.get("volumeType") or "gp3"),
        size,
        as_float(root.get("iops")),
        as_float(root.get("throughput")),
        "root ",
        assumption,
    )
    for device in inputs.get("ebsBlockDevices") or []:
        dsize = as_float(device.get("volumeSize"))
        if dsize is None:
            ctx.unpriced(record, f"EBS block device {device.get('deviceName', '?')} has no size")
            continue
        add_volume(
            ctx,
            record,
            str(device.get("volumeType") or "gp3"),
            dsize,
            as_float(device.get("iops")),
            as_float(device.get("throughput")),
            f"{device.get('deviceName', 'extra')} ",
        )


def _launch_template(ctx: PricingContext, ref: Mapping[str, Any] | None) -> ResourceRecord | None:
    if not ref:
        return None
    wanted_id, wanted_name = ref.get("id"), ref.get("name")
    for lt in ctx.by_type("aws:ec2/launchTemplate:LaunchTemplate"):
        if wanted_id and lt.outputs.get("id") == wanted_id:
            return lt
        if wanted_name and wanted_name in (lt.inputs.get("name"), lt.outputs.get("name")):
            return lt
    return None


def _template_disks(
    ctx: PricingContext, record: ResourceRecord, template: ResourceRecord, nodes: float, label: str
) -> bool:
    """Price the EBS disks a launch template gives each of ``nodes`` instances; False when it gives none."""
    found = False
    for mapping in template.inputs.get("blockDeviceMappings") or []:
        ebs = mapping.get("ebs") or {}
        size = as_float(ebs.get("volumeSize"))
        if size is None:
            continue
        found = True
        try:
            items = ebs_volume_items(
                ctx.prices.ebs,
                str(ebs.get("volumeType") or "gp3"),
                size,
                as_float(ebs.get("iops")),
                as_float(ebs.get("throughput")),
            )
        except ValueError as exc:
            raise Unpriced(str(exc)) from None
        for item, quantity, unit, price in items:
            ctx.add(record, f"{label}{item} × {nodes:g}", "storage", quantity * nodes, unit, price)
    return found


def price_node_group(ctx: PricingContext, record: ResourceRecord) -> None:
    inputs = record.inputs
    if str(inputs.get("capacityType", "ON_DEMAND")).upper() == "SPOT":
        raise Unpriced("spot capacity: prices change by the hour")
    scaling = inputs.get("scalingConfig") or {}
    nodes = as_float(scaling.get("desiredSize")) or as_float(scaling.get("minSize")) or 1.0
    template = _launch_template(ctx, inputs.get("launchTemplate"))
    types = list(inputs.get("instanceTypes") or [])
    assumption = None
    if not types and template is not None and template.inputs.get("instanceType"):
        types = [str(template.inputs["instanceType"])]
    if not types:
        types = [ctx.assumptions.eks_default_instance_type]
        assumption = f"no instance type given: EKS's default {types[0]}"
    instance_type = str(types[0])
    if len(types) > 1:
        assumption = f"priced as the first of {', '.join(map(str, types))}"
    hourly = ctx.instance_hourly(instance_type)
    ctx.add(
        record,
        f"{nodes:g} × {instance_type} node",
        "compute",
        nodes * ctx.hours,
        "h",
        hourly,
        assumption or f"desired size {nodes:g}",
    )
    if template is not None and _template_disks(ctx, record, template, nodes, "node disk "):
        return
    disk = as_float(inputs.get("diskSize")) or float(ctx.assumptions.eks_default_disk_gib)
    for item, quantity, unit, price in ebs_volume_items(ctx.prices.ebs, "gp3", disk, None, None):
        ctx.add(record, f"node disk {item} × {nodes:g}", "storage", quantity * nodes, unit, price)


def price_autoscaling_group(ctx: PricingContext, record: ResourceRecord) -> None:
    inputs = record.inputs
    nodes = as_float(inputs.get("desiredCapacity")) or as_float(inputs.get("minSize")) or 0.0
    template = _launch_template(ctx, inputs.get("launchTemplate"))
    if template is None or not template.inputs.get("instanceType"):
        raise Unpriced("instance type comes from a launch template or mixed policy sgarch cannot read")
    instance_type = str(template.inputs["instanceType"])
    ctx.add(
        record,
        f"{nodes:g} × {instance_type} instance",
        "compute",
        nodes * ctx.hours,
        "h",
        ctx.instance_hourly(instance_type),
        f"desired capacity {nodes:g}",
    )
    _template_disks(ctx, record, template, nodes, "disk ")


def price_eks_cluster(ctx: PricingContext, record: ResourceRecord) -> None:
    ctx.add(
        record,
        "EKS control plane",
        "kubernetes",
        ctx.hours,
        "h",
        ctx.prices.eks_cluster_hourly,
        "standard support; "
        f"${ctx.prices.eks_cluster_extended_support_hourly:g}/h once the version is in extended support",
    )
