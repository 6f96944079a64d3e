"""Monthly cost of a recorded plan: one line per priced item, every usage assumption written down.

Pure: the input is the recorded resources (what ``sgarch plan`` or the test mocks saw), the region and the
assumptions; the output is a :class:`CostEstimate`. A resource type sgarch has no price for is listed under
``not_priced``, never counted as zero; types that AWS does not charge for (VPCs, subnets, IAM, security
groups...) are counted as free.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sgarch.cost._table import EbsPrices, PriceTable, RegionPrices, load_price_table

if TYPE_CHECKING:
    from sgarch.testing import ResourceRecord

__all__ = [
    "Assumptions",
    "CostEstimate",
    "CostLine",
    "NotPriced",
    "ebs_volume_items",
    "estimate_cost",
]


@dataclass(frozen=True)
class Assumptions:
    """Usage that a plan cannot show. Each figure is printed with the estimate that uses it."""

    nat_gb_per_month: float = 100.0
    """Data each NAT gateway processes per month (image pulls, code-host clones), GB."""
    alb_lcu: float = 1.0
    """Average load-balancer capacity units an ALB bills per hour (one LCU is 25 new connections/s)."""
    s3_gb_per_bucket: float = 100.0
    """Data stored in each S3 bucket, GB (Standard class)."""
    vpc_endpoint_gb_per_month: float = 10.0
    """Data through each interface endpoint per month, GB."""
    transit_gateway_gb_per_month: float = 100.0
    """Data each transit gateway attachment sends per month (users' sessions, code-host clones), GB."""
    snapshot_daily_change_rate: float = 0.02
    """Share of a volume that changes per day, stored again by each incremental snapshot."""
    log_gb_per_month: float = 5.0
    """Logs ingested per log group per month, GB (stored for one month)."""
    rds_enhanced_monitoring_gb_per_month: float = 0.5
    """Enhanced Monitoring metrics one RDS instance sends to CloudWatch Logs per month at a 60-second
    interval, GB (one JSON document of roughly 10 KB a minute; proportionally more at shorter intervals)."""
    rds_log_export_gb_per_month: float = 1.0
    """PostgreSQL logs one RDS instance exports to CloudWatch Logs per month, GB (connections, slow
    statements, errors)."""
    default_root_volume_gib: int = 8
    """Root volume of an instance that does not size it (the AMI's), GiB, priced as gp3."""
    eks_default_disk_gib: int = 20
    """Node disk of an EKS node group without a launch template or ``disk_size`` (EKS's default), GiB."""
    eks_default_instance_type: str = "t3.medium"
    """Instance type of an EKS node group that names none (EKS's default)."""

    def describe(self) -> list[str]:
        """Every assumption as a sentence, for people."""
        rate = f"{self.snapshot_daily_change_rate:.0%}"
        return [
            "730 hours a month; on-demand prices, no savings plans, reserved instances or free tier.",
            f"Each NAT gateway processes {self.nat_gb_per_month:g} GB a month.",
            f"Each ALB averages {self.alb_lcu:g} LCU an hour.",
            f"Each S3 bucket stores {self.s3_gb_per_bucket:g} GB in S3 Standard; requests are not counted.",
            f"Each interface endpoint carries {self.vpc_endpoint_gb_per_month:g} GB a month.",
            f"EBS snapshots: the first is a full copy of the volume, then {rate} of it changes a day.",
            f"Each log group ingests {self.log_gb_per_month:g} GB a month and keeps one month.",
            f"Each RDS instance sends {self.rds_enhanced_monitoring_gb_per_month:g} GB of Enhanced Monitoring "
            f"metrics a month at a 60 s interval and exports {self.rds_log_export_gb_per_month:g} GB of logs "
            "a month (both billed as CloudWatch Logs, one month kept); 7 days of Performance Insights are free.",
            "KMS requests stay within the free 20,000 a month; RDS backups within the free 100% of storage.",
            "EKS clusters are in standard support; extended support costs six times as much.",
            "Data transfer out to the internet is not counted.",
        ]


@dataclass(frozen=True)
class CostLine:
    """One priced item of one resource: ``quantity`` units at ``unit_price_usd`` make ``monthly_usd``."""

    resource: str
    type: str
    item: str
    category: str
    quantity: float
    unit: str
    unit_price_usd: float
    monthly_usd: float
    assumption: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; money rounded to cents."""
        return {
            "resource": self.resource,
            "type": self.type,
            "item": self.item,
            "category": self.category,
            "quantity": _num(self.quantity),
            "unit": self.unit,
            "unit_price_usd": self.unit_price_usd,
            "monthly_usd": round(self.monthly_usd, 2),
            "assumption": self.assumption,
        }


@dataclass(frozen=True)
class NotPriced:
    """A resource (or part of one) sgarch cannot price, and why. It is never counted as zero."""

    resource: str
    type: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"resource": self.resource, "type": self.type, "reason": self.reason}


@dataclass(frozen=True)
class CostEstimate:
    """An approximate monthly estimate of a plan in one region, with the date of its prices."""

    region: str
    as_of: str
    source: str
    hours_per_month: int
    lines: tuple[CostLine, ...]
    not_priced: tuple[NotPriced, ...]
    free_resources: int
    assumptions: tuple[str, ...]

    @property
    def total_monthly_usd(self) -> float:
        """Sum of every priced line, in USD a month (what is not priced is not in it)."""
        return math.fsum(line.monthly_usd for line in self.lines)

    def top(self, count: int | None) -> list[CostLine]:
        """The ``count`` most expensive lines (all of them for None), most expensive first."""
        ordered = sorted(self.lines, key=lambda line: (-line.monthly_usd, line.resource, line.item))
        return ordered if count is None else ordered[:count]

    def by_category(self) -> dict[str, float]:
        """Monthly USD per category, sorted by category name."""
        totals: dict[str, float] = {}
        for line in self.lines:
            totals[line.category] = totals.get(line.category, 0.0) + line.monthly_usd
        return dict(sorted(totals.items()))

    def for_resource(self, name: str) -> list[CostLine]:
        """The lines of the resource with logical name ``name``."""
        return [line for line in self.lines if line.resource == name]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, for ``sgarch plan --json``."""
        return {
            "approximate": True,
            "region": self.region,
            "currency": "USD",
            "as_of": self.as_of,
            "source": self.source,
            "hours_per_month": self.hours_per_month,
            "total_monthly_usd": round(self.total_monthly_usd, 2),
            "lines": [line.to_dict() for line in self.top(None)],
            "not_priced": [item.to_dict() for item in self.not_priced],
            "free_resources": self.free_resources,
            "assumptions": list(self.assumptions),
        }


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 4)


# Types AWS does not bill for by themselves (their cost, if any, shows up on another resource).
_FREE_TYPES = frozenset(
    {
        "aws:acm/certificate:Certificate",
        "aws:autoscaling/lifecycleHook:LifecycleHook",
        "aws:budgets/budget:Budget",
        "aws:cloudwatch/eventRule:EventRule",
        "aws:cloudwatch/eventTarget:EventTarget",
        "aws:costexplorer/costAllocationTag:CostAllocationTag",
        "aws:dlm/lifecyclePolicy:LifecyclePolicy",
        "aws:ebs/defaultKmsKey:DefaultKmsKey",
        "aws:ebs/encryptionByDefault:EncryptionByDefault",
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        "aws:ec2/egressOnlyInternetGateway:EgressOnlyInternetGateway",
        "aws:ec2/flowLog:FlowLog",
        "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/keyPair:KeyPair",
        "aws:ec2/launchTemplate:LaunchTemplate",
        "aws:ec2/mainRouteTableAssociation:MainRouteTableAssociation",
        "aws:ec2/networkAcl:NetworkAcl",
        "aws:ec2/route:Route",
        "aws:ec2/routeTable:RouteTable",
        "aws:ec2/routeTableAssociation:RouteTableAssociation",
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:ec2/securityGroupRule:SecurityGroupRule",
        "aws:ec2/subnet:Subnet",
        "aws:ec2/tag:Tag",
        "aws:ec2/volumeAttachment:VolumeAttachment",
        "aws:ec2/vpc:Vpc",
        "aws:ec2/vpcEndpointRouteTableAssociation:VpcEndpointRouteTableAssociation",
        # Peering bills only the data that crosses zones or regions, like any traffic between subnets.
        "aws:ec2/vpcPeeringConnection:VpcPeeringConnection",
        "aws:eks/accessEntry:AccessEntry",
        "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
        "aws:eks/addon:Addon",
        "aws:eks/podIdentityAssociation:PodIdentityAssociation",
        "aws:elasticache/parameterGroup:ParameterGroup",
        "aws:elasticache/subnetGroup:SubnetGroup",
        "aws:kms/alias:Alias",
        "aws:lb/listener:Listener",
        "aws:lb/listenerRule:ListenerRule",
        "aws:lb/targetGroup:TargetGroup",
        "aws:lb/targetGroupAttachment:TargetGroupAttachment",
        "aws:rds/parameterGroup:ParameterGroup",
        "aws:rds/subnetGroup:SubnetGroup",
        "aws:route53/record:Record",
        "aws:route53/zoneAssociation:ZoneAssociation",
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketVersioning:BucketVersioning",
        "aws:scheduler/schedule:Schedule",
        "aws:scheduler/scheduleGroup:ScheduleGroup",
        "aws:secretsmanager/secretVersion:SecretVersion",
        "aws:sns/topic:Topic",
        "aws:sns/topicSubscription:TopicSubscription",
        "aws:ssm/parameter:Parameter",
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    }
)
# Whole packages without an AWS bill of their own: IAM, and Kubernetes objects (they run on priced nodes).
_FREE_PREFIXES = ("aws:iam/", "kubernetes:", "random:", "tls:", "command:")


class _Unpriced(Exception):
    """Raised by a pricer for a resource (or part) it cannot price."""


@dataclass
class _Context:
    prices: RegionPrices
    table: PriceTable
    assumptions: Assumptions
    records: Sequence[ResourceRecord]
    hours: int
    lines: list[CostLine] = field(default_factory=list)
    not_priced: list[NotPriced] = field(default_factory=list)

    def add(
        self,
        record: ResourceRecord,
        item: str,
        category: str,
        quantity: float,
        unit: str,
        unit_price: float,
        assumption: str | None = None,
    ) -> None:
        self.lines.append(
            CostLine(
                resource=record.name,
                type=record.type,
                item=item,
                category=category,
                quantity=quantity,
                unit=unit,
                unit_price_usd=unit_price,
                monthly_usd=quantity * unit_price,
                assumption=assumption,
            )
        )

    def unpriced(self, record: ResourceRecord, reason: str) -> None:
        self.not_priced.append(NotPriced(record.name, record.type, reason))

    def instance_hourly(self, instance_type: str) -> float:
        price = self.prices.ec2_instance_hourly.get(instance_type)
        if price is None:
            raise _Unpriced(f"no price for instance type {instance_type}")
        return price

    def by_type(self, type_: str) -> list[ResourceRecord]:
        return [r for r in self.records if r.type == type_]


def estimate_cost(
    records: Iterable[ResourceRecord],
    region: str,
    assumptions: Assumptions | None = None,
    prices: PriceTable | None = None,
) -> CostEstimate:
    """Estimate the monthly cost of ``records`` in ``region`` at 730 hours a month.

    ``assumptions`` default to :class:`Assumptions`; ``prices`` to the table shipped with sgarch. A region
    the table lacks gives an estimate with every billable resource under ``not_priced``.
    """
    table = prices or load_price_table()
    assumptions = assumptions or Assumptions()
    records = [r for r in records if r.custom and not r.read and not r.type.startswith("pulumi:")]
    region_prices = table.region(region)
    free = 0
    not_priced: list[NotPriced] = []
    ctx = None
    if region_prices is not None:
        ctx = _Context(region_prices, table, assumptions, records, table.hours_per_month)
    for record in records:
        if record.type in _FREE_TYPES or record.type.startswith(_FREE_PREFIXES):
            free += 1
            continue
        pricer = _PRICERS.get(record.type)
        if pricer is None:
            not_priced.append(NotPriced(record.name, record.type, "no price for this resource type"))
            continue
        if ctx is None:
            have = ", ".join(sorted(table.regions))
            not_priced.append(NotPriced(record.name, record.type, f"no prices for {region} (have: {have})"))
            continue
        before = len(ctx.lines)
        try:
            pricer(ctx, record)
        except _Unpriced as exc:
            del ctx.lines[before:]
            ctx.unpriced(record, str(exc))
        else:
            if len(ctx.lines) == before and not any(n.resource == record.name for n in ctx.not_priced):
                free += 1
    if ctx is not None:
        not_priced.extend(ctx.not_priced)
    lines = tuple(ctx.lines) if ctx is not None else ()
    return CostEstimate(
        region=region,
        as_of=table.as_of,
        source=table.source,
        hours_per_month=table.hours_per_month,
        lines=lines,
        not_priced=tuple(sorted(not_priced, key=lambda n: (n.type, n.resource, n.reason))),
        free_resources=free,
        assumptions=tuple(assumptions.describe()),
    )


# --- EBS -----------------------------------------------------------------------------------------------


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


def _add_volume(
    ctx: _Context,
    record: ResourceRecord,
    volume_type: str,
    size: float,
    iops: float | None,
    throughput: float | None,
    label: str = "",
    assumption: str | None = None,
) -> None:
    try:
        items = ebs_volume_items(ctx.prices.ebs, volume_type, size, iops, throughput)
    except ValueError as exc:
        raise _Unpriced(str(exc)) from None
    for item, quantity, unit, price in items:
        ctx.add(record, f"{label}{item}", "storage", quantity, unit, price, assumption)


def _price_volume(ctx: _Context, record: ResourceRecord) -> None:
    inputs = record.inputs
    size = _float(inputs.get("size"))
    if size is None:
        raise _Unpriced("the volume's size is not known until it is created (from a snapshot)")
    volume_type = str(inputs.get("type") or "gp2")
    _add_volume(ctx, record, volume_type, size, _float(inputs.get("iops")), _float(inputs.get("throughput")))
    _price_snapshots(ctx, record, size)


def _price_snapshots(ctx: _Context, record: ResourceRecord, size: float) -> None:
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
            interval_hours = _float(create.get("interval")) or 24.0
            if str(create.get("intervalUnit", "HOURS")).upper() != "HOURS":
                interval_hours = 24.0
            kept = _float((schedule.get("retainRule") or {}).get("count")) or 1.0
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


# --- compute -------------------------------------------------------------------------------------------


def _price_instance(ctx: _Context, record: ResourceRecord) -> None:
    inputs = record.inputs
    instance_type = str(inputs.get("instanceType") or "")
    hourly = ctx.instance_hourly(instance_type)
    ctx.add(record, f"{instance_type} instance", "compute", ctx.hours, "h", hourly)
    root = inputs.get("rootBlockDevice") or {}
    size = _float(root.get("volumeSize"))
    assumption = None
    if size is None:
        size = float(ctx.assumptions.default_root_volume_gib)
        assumption = f"root volume size from the AMI, assumed {size:g} GiB"
    _add_volume(
        ctx,
        record,
        str(root.get("volumeType") or "gp3"),
        size,
        _float(root.get("iops")),
        _float(root.get("throughput")),
        "root ",
        assumption,
    )
    for device in inputs.get("ebsBlockDevices") or []:
        dsize = _float(device.get("volumeSize"))
        if dsize is None:
            ctx.unpriced(record, f"EBS block device {device.get('deviceName', '?')} has no size")
            continue
        _add_volume(
            ctx,
            record,
            str(device.get("volumeType") or "gp3"),
            dsize,
            _float(device.get("iops")),
            _float(device.get("throughput")),
            f"{device.get('deviceName', 'extra')} ",
        )


def _launch_template(ctx: _Context, ref: Mapping[str, Any] | None) -> ResourceRecord | None:
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
    ctx: _Context, record: ResourceRecord, template: ResourceRecord, nodes: float, label: str
) -> bool:
    """Price the EBS disks a launch template gives each of ``nodes`` instances; False when it gives none."""
    found = False
    for mapping in template.inputs.get("blockDeviceMappings") or []:
        ebs = mapping.get("ebs") or {}
        size = _float(ebs.get("volumeSize"))
        if size is None:
            continue
        found = True
        try:
            items = ebs_volume_items(
                ctx.prices.ebs,
                str(ebs.get("volumeType") or "gp3"),
                size,
                _float(ebs.get("iops")),
                _float(ebs.get("throughput")),
            )
        except ValueError as exc:
            raise _Unpriced(str(exc)) from None
        for item, quantity, unit, price in items:
            ctx.add(record, f"{label}{item} × {nodes:g}", "storage", quantity * nodes, unit, price)
    return found


def _price_node_group(ctx: _Context, record: ResourceRecord) -> None:
    inputs = record.inputs
    if str(inputs.get("capacityType", "ON_DEMAND")).upper() == "SPOT":
        raise _Unpriced("spot capacity: prices change by the hour")
    scaling = inputs.get("scalingConfig") or {}
    nodes = _float(scaling.get("desiredSize")) or _float(scaling.get("minSize")) or 1.0
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
    disk = _float(inputs.get("diskSize")) or float(ctx.assumptions.eks_default_disk_gib)
    for item, quantity, unit, price in ebs_volume_items(ctx.prices.ebs, "gp3", disk, None, None):
        ctx.add(record, f"node disk {item} × {nodes:g}", "storage", quantity * nodes, unit, price)


def _price_autoscaling_group(ctx: _Context, record: ResourceRecord) -> None:
    inputs = record.inputs
    nodes = _float(inputs.get("desiredCapacity")) or _float(inputs.get("minSize")) or 0.0
    template = _launch_template(ctx, inputs.get("launchTemplate"))
    if template is None or not template.inputs.get("instanceType"):
        raise _Unpriced("instance type comes from a launch template or mixed policy sgarch cannot read")
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


def _price_eks_cluster(ctx: _Context, record: ResourceRecord) -> None:
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


# --- network -------------------------------------------------------------------------------------------


def _price_nat(ctx: _Context, record: ResourceRecord) -> None:
    if str(record.inputs.get("connectivityType", "public")) == "private":
        label = "private NAT gateway"
    else:
        label = "NAT gateway"
    ctx.add(record, label, "network", ctx.hours, "h", ctx.prices.nat_gateway_hourly)
    gb = ctx.assumptions.nat_gb_per_month
    ctx.add(
        record,
        "NAT data processed",
        "network",
        gb,
        "GB",
        ctx.prices.nat_gateway_gb,
        f"{gb:g} GB a month through the gateway",
    )


def _price_eip(ctx: _Context, record: ResourceRecord) -> None:
    ctx.add(record, "public IPv4 address", "network", ctx.hours, "h", ctx.prices.public_ipv4_hourly)


def _price_endpoint(ctx: _Context, record: ResourceRecord) -> None:
    kind = str(record.inputs.get("vpcEndpointType") or "Gateway")
    if kind == "Gateway":
        return  # S3 and DynamoDB gateway endpoints are free
    if kind != "Interface":
        raise _Unpriced(f"no price for {kind} endpoints")
    zones = len(record.inputs.get("subnetIds") or []) or 1
    service = str(record.inputs.get("serviceName", "")).rsplit(".", 1)[-1] or record.name
    ctx.add(
        record,
        f"interface endpoint ({service}) × {zones} AZ",
        "network",
        zones * ctx.hours,
        "h",
        ctx.prices.vpc_interface_endpoint_hourly_per_az,
    )
    gb = ctx.assumptions.vpc_endpoint_gb_per_month
    ctx.add(
        record,
        "endpoint data",
        "network",
        gb,
        "GB",
        ctx.prices.vpc_interface_endpoint_gb,
        f"{gb:g} GB a month",
    )


def _price_transit_gateway_attachment(ctx: _Context, record: ResourceRecord) -> None:
    # The transit gateway is the customer's; this stack pays for its own attachment and the data it sends.
    ctx.add(
        record,
        "transit gateway attachment",
        "network",
        ctx.hours,
        "h",
        ctx.prices.transit_gateway_attachment_hourly,
    )
    gb = ctx.assumptions.transit_gateway_gb_per_month
    ctx.add(
        record,
        "transit gateway data processed",
        "network",
        gb,
        "GB",
        ctx.prices.transit_gateway_gb,
        f"{gb:g} GB a month sent through the attachment",
    )


def _price_load_balancer(ctx: _Context, record: ResourceRecord) -> None:
    kind = str(record.inputs.get("loadBalancerType") or "application")
    if kind != "application":
        raise _Unpriced(f"no price for {kind} load balancers")
    scheme = "internal" if record.inputs.get("internal") else "internet-facing"
    ctx.add(record, f"ALB ({scheme})", "load balancing", ctx.hours, "h", ctx.prices.alb_hourly)
    lcu = ctx.assumptions.alb_lcu
    ctx.add(
        record,
        "ALB capacity units",
        "load balancing",
        lcu * ctx.hours,
        "LCU-h",
        ctx.prices.alb_lcu_hourly,
        f"{lcu:g} LCU on average",
    )


# --- data stores ---------------------------------------------------------------------------------------


def _price_rds(ctx: _Context, record: ResourceRecord) -> None:
    inputs = record.inputs
    engine = str(inputs.get("engine") or "")
    if inputs.get("replicateSourceDb") and not engine:
        engine = "postgres"
    if engine != "postgres":
        raise _Unpriced(f"no price for RDS engine {engine or '(unset)'}; sgarch prices PostgreSQL")
    instance_class = str(inputs.get("instanceClass") or "")
    hourly = ctx.prices.rds_postgres_hourly.get(instance_class)
    if hourly is None:
        raise _Unpriced(f"no price for RDS instance class {instance_class}")
    multi_az = bool(inputs.get("multiAz"))
    factor = ctx.prices.rds_multi_az_factor if multi_az else 1.0
    layout = "Multi-AZ" if multi_az else "Single-AZ"
    ctx.add(record, f"{instance_class} PostgreSQL ({layout})", "database", ctx.hours, "h", hourly * factor)
    storage = _float(inputs.get("allocatedStorage"))
    storage_type = str(inputs.get("storageType") or "gp2")
    if storage is None:
        raise _Unpriced("allocated storage is not set")
    if storage_type not in ("gp2", "gp3"):
        ctx.unpriced(record, f"no price for RDS {storage_type} storage")
        return
    price = ctx.prices.rds_gp3_gb_month_multi_az if multi_az else ctx.prices.rds_gp3_gb_month
    ctx.add(record, f"{storage_type} storage {storage:g} GB", "database", storage, "GB-mo", price)
    _price_rds_monitoring(ctx, record)


def _price_rds_monitoring(ctx: _Context, record: ResourceRecord) -> None:
    """Performance Insights (free for 7 days), Enhanced Monitoring and log exports (CloudWatch Logs)."""
    inputs = record.inputs
    if inputs.get("performanceInsightsEnabled"):
        days = _float(inputs.get("performanceInsightsRetentionPeriod")) or 7.0
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
    interval = _float(inputs.get("monitoringInterval")) or 0.0
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


def _cache_node_price(ctx: _Context, record: ResourceRecord) -> tuple[str, float]:
    node_type = str(record.inputs.get("nodeType") or "")
    hourly = ctx.prices.elasticache_redis_hourly.get(node_type)
    if hourly is None:
        raise _Unpriced(f"no price for ElastiCache node type {node_type}")
    engine = str(record.inputs.get("engine") or "redis")
    if engine == "valkey":
        hourly *= 1 - ctx.prices.elasticache_valkey_discount
    elif engine != "redis":
        raise _Unpriced(f"no price for ElastiCache engine {engine}")
    return f"{node_type} {engine} node", hourly


def _price_replication_group(ctx: _Context, record: ResourceRecord) -> None:
    inputs = record.inputs
    label, hourly = _cache_node_price(ctx, record)
    groups = _float(inputs.get("numNodeGroups"))
    if groups:
        nodes = groups * ((_float(inputs.get("replicasPerNodeGroup")) or 0.0) + 1)
    else:
        nodes = _float(inputs.get("numCacheClusters")) or 1.0
    ctx.add(record, f"{nodes:g} × {label}", "cache", nodes * ctx.hours, "h", hourly)


def _price_cache_cluster(ctx: _Context, record: ResourceRecord) -> None:
    if record.inputs.get("replicationGroupId"):
        return  # a member of a replication group, which is priced
    label, hourly = _cache_node_price(ctx, record)
    nodes = _float(record.inputs.get("numCacheNodes")) or 1.0
    ctx.add(record, f"{nodes:g} × {label}", "cache", nodes * ctx.hours, "h", hourly)


def _price_bucket(ctx: _Context, record: ResourceRecord) -> None:
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


# --- security and monitoring ---------------------------------------------------------------------------


def _price_kms_key(ctx: _Context, record: ResourceRecord) -> None:
    ctx.add(record, "KMS customer-managed key", "security", 1, "key-mo", ctx.prices.kms_key_month)


def _price_secret(ctx: _Context, record: ResourceRecord) -> None:
    ctx.add(
        record, "Secrets Manager secret", "security", 1, "secret-mo", ctx.prices.secrets_manager_secret_month
    )


def _price_alarm(ctx: _Context, record: ResourceRecord) -> None:
    period = _float(record.inputs.get("period"))
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


def _price_log_group(ctx: _Context, record: ResourceRecord) -> None:
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


def _price_zone(ctx: _Context, record: ResourceRecord) -> None:
    ctx.add(record, "Route 53 hosted zone", "network", 1, "zone-mo", ctx.prices.route53_zone_month)


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


_PRICERS: dict[str, Callable[[_Context, ResourceRecord], None]] = {
    "aws:autoscaling/group:Group": _price_autoscaling_group,
    "aws:cloudwatch/logGroup:LogGroup": _price_log_group,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _price_alarm,
    "aws:ebs/volume:Volume": _price_volume,
    "aws:ec2/eip:Eip": _price_eip,
    "aws:ec2/instance:Instance": _price_instance,
    "aws:ec2/natGateway:NatGateway": _price_nat,
    "aws:ec2/vpcEndpoint:VpcEndpoint": _price_endpoint,
    "aws:ec2transitgateway/vpcAttachment:VpcAttachment": _price_transit_gateway_attachment,
    "aws:eks/cluster:Cluster": _price_eks_cluster,
    "aws:eks/nodeGroup:NodeGroup": _price_node_group,
    "aws:elasticache/cluster:Cluster": _price_cache_cluster,
    "aws:elasticache/replicationGroup:ReplicationGroup": _price_replication_group,
    "aws:kms/key:Key": _price_kms_key,
    "aws:alb/loadBalancer:LoadBalancer": _price_load_balancer,
    "aws:lb/loadBalancer:LoadBalancer": _price_load_balancer,
    "aws:rds/instance:Instance": _price_rds,
    "aws:route53/zone:Zone": _price_zone,
    "aws:s3/bucket:Bucket": _price_bucket,
    "aws:secretsmanager/secret:Secret": _price_secret,
}
"""Resource types sgarch prices, by type token."""


def priced_types() -> list[str]:
    """Every type token with a price (for documentation)."""
    return sorted(_PRICERS)


def with_assumptions(assumptions: Assumptions, **changes: Any) -> Assumptions:
    """A copy of ``assumptions`` with ``changes`` applied (for ``--assume``-style overrides)."""
    return replace(assumptions, **changes)
