"""Monthly cost of a recorded plan: one line per priced item, every usage assumption written down.

Pure: the input is the recorded resources (what ``sgarch plan`` or the test mocks saw), the region and the
assumptions; the output is a :class:`CostEstimate`. A resource type sgarch has no price for is listed under
``not_priced``, never counted as zero; types that AWS does not charge for (VPCs, subnets, IAM, security
groups...) are counted as free.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from sgarch.cost._compute import price_autoscaling_group, price_eks_cluster, price_instance, price_node_group
from sgarch.cost._context import PricingContext, Unpriced
from sgarch.cost._datastores import price_bucket, price_cache_cluster, price_rds, price_replication_group
from sgarch.cost._ebs import price_volume
from sgarch.cost._model import Assumptions, CostEstimate, NotPriced
from sgarch.cost._network import (
    price_eip,
    price_endpoint,
    price_load_balancer,
    price_nat,
    price_transit_gateway_attachment,
    price_zone,
)
from sgarch.cost._security_monitoring import price_alarm, price_kms_key, price_log_group, price_secret
from sgarch.cost._table import PriceTable, load_price_table

if TYPE_CHECKING:
    from sgarch.testing import ResourceRecord

__all__ = ["estimate_cost", "priced_types"]


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
        # Customer-managed prefix lists have no charge (Amazon VPC pricing bills none); a rule that refers
        # to one only counts its max_entries against the security group's rule quota.
        "aws:ec2/managedPrefixList:ManagedPrefixList",
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
        ctx = PricingContext(region_prices, table, assumptions, records, table.hours_per_month)
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
        except Unpriced as exc:
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


_PRICERS: dict[str, Callable[[PricingContext, ResourceRecord], None]] = {
    "aws:autoscaling/group:Group": price_autoscaling_group,
    "aws:cloudwatch/logGroup:LogGroup": price_log_group,
    "aws:cloudwatch/metricAlarm:MetricAlarm": price_alarm,
    "aws:ebs/volume:Volume": price_volume,
    "aws:ec2/eip:Eip": price_eip,
    "aws:ec2/instance:Instance": price_instance,
    "aws:ec2/natGateway:NatGateway": price_nat,
    "aws:ec2/vpcEndpoint:VpcEndpoint": price_endpoint,
    "aws:ec2transitgateway/vpcAttachment:VpcAttachment": price_transit_gateway_attachment,
    "aws:eks/cluster:Cluster": price_eks_cluster,
    "aws:eks/nodeGroup:NodeGroup": price_node_group,
    "aws:elasticache/cluster:Cluster": price_cache_cluster,
    "aws:elasticache/replicationGroup:ReplicationGroup": price_replication_group,
    "aws:kms/key:Key": price_kms_key,
    "aws:alb/loadBalancer:LoadBalancer": price_load_balancer,
    "aws:lb/loadBalancer:LoadBalancer": price_load_balancer,
    "aws:rds/instance:Instance": price_rds,
    "aws:route53/zone:Zone": price_zone,
    "aws:s3/bucket:Bucket": price_bucket,
    "aws:secretsmanager/secret:Secret": price_secret,
}
"""Resource types sgarch prices, by type token."""


def priced_types() -> list[str]:
    """Every type token with a price (for documentation)."""
    return sorted(_PRICERS)
