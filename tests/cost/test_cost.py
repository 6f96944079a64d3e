"""Cost estimates: single-node per tier against hand-computed figures, every priced type, unknown types."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from sgarch.cost import Assumptions, ebs_volume_items, estimate_cost, load_price_table, render_cost
from sgarch.single_node.args import SingleNodeArgs
from sgarch.single_node.component import SingleNode
from sgarch.testing import RecordedOptions, ResourceRecord, SgarchMocks
from sgarch.tiers import Tier

# Hand-computed from the us-east-1 price table (2026-09-20) at 730 h:
#   instance: 730 × hourly; root 50 GiB gp3 × $0.08 = $4; data 500 GiB gp3 × $0.08 = $40;
#   L/XL data: 13,000 IOPS above 3,000 × $0.005 = $65 and 875 MiB/s above 125 × $0.04 = $35;
#   snapshots: 500 GiB × (1 + 6 days × 2%) = 560 GB × $0.05 = $28; three alarms × $0.10 = $0.30.
EXPECTED_MONTHLY = {
    Tier.XS: 730 * 0.3456 + 4 + 40 + 28 + 0.30,  # 324.588
    Tier.S: 730 * 0.6912 + 4 + 40 + 28 + 0.30,  # 576.876
    Tier.M: 730 * 1.3824 + 4 + 40 + 28 + 0.30,  # 1,081.452
    Tier.L: 730 * 2.0736 + 4 + 40 + 65 + 35 + 28 + 0.30,  # 1,686.028
    Tier.XL: 730 * 4.1472 + 4 + 40 + 65 + 35 + 28 + 0.30,  # 3,199.756
}


def _single_node(mocks: SgarchMocks, tier: Tier) -> list[ResourceRecord]:
    args = SingleNodeArgs(vpc_id="vpc-0123456789abcdef0", subnet_id="subnet-0123456789abcdef0", tier=tier)
    mocks.run(lambda: SingleNode("sg", args))
    return mocks.resources


def rec(
    type_: str, name: str, inputs: dict[str, Any], outputs: dict[str, Any] | None = None
) -> ResourceRecord:
    """A recorded resource built by hand, as the engine would send it (numbers as floats)."""
    return ResourceRecord(
        type=type_,
        name=name,
        urn=f"urn:pulumi:test::test::{type_}::{name}",
        parent=None,
        custom=True,
        id=f"id-{name}",
        raw_inputs=inputs,
        outputs={"id": f"id-{name}", **(outputs or {})},
        options=RecordedOptions(),
    )


@pytest.mark.parametrize("tier", list(EXPECTED_MONTHLY), ids=str)
def test_single_node_per_tier_matches_hand_computed(pulumi_mocks: SgarchMocks, tier: Tier) -> None:
    estimate = estimate_cost(_single_node(pulumi_mocks, tier), "us-east-1")
    assert estimate.total_monthly_usd == pytest.approx(EXPECTED_MONTHLY[tier], abs=0.005)
    assert estimate.not_priced == ()
    assert estimate.as_of == "2026-09-20"
    data = {line.item: line for line in estimate.for_resource("sg-data")}
    assert data["gp3 storage 500 GiB"].monthly_usd == pytest.approx(40.0)
    assert data["snapshots"].quantity == pytest.approx(560.0)
    assert "7" in (data["snapshots"].assumption or "")


@pytest.mark.parametrize("tier", [Tier.L, Tier.XL], ids=str)
def test_gp3_data_volume_far_cheaper_than_io2_at_same_iops(pulumi_mocks: SgarchMocks, tier: Tier) -> None:
    records = _single_node(pulumi_mocks, tier)
    volume = next(r for r in records if r.type == "aws:ebs/volume:Volume")
    size, iops = volume.inputs["size"], volume.inputs["iops"]
    assert (size, iops) == (500.0, 16000.0)
    estimate = estimate_cost(records, "us-east-1")
    gp3 = sum(line.monthly_usd for line in estimate.for_resource("sg-data") if line.category == "storage")
    ebs = load_price_table().regions["us-east-1"].ebs
    io2 = sum(q * p for _, q, _, p in ebs_volume_items(ebs, "io2", size, iops, None))
    assert gp3 == pytest.approx(140.0)
    assert io2 == pytest.approx(500 * 0.125 + 16000 * 0.065)  # 1,102.50
    assert io2 > 7 * gp3


def test_io2_iops_are_priced_in_bands() -> None:
    ebs = load_price_table().regions["us-east-1"].ebs
    items = ebs_volume_items(ebs, "io2", 100, 70000, None)
    assert [(q, p) for _, q, _, p in items] == [
        (100, 0.125),
        (32000, 0.065),
        (32000, 0.0455),
        (6000, 0.03185),
    ]


def test_unknown_types_are_listed_not_priced_never_zero() -> None:
    records = [
        rec("aws:sagemaker/domain:Domain", "notebooks", {}),
        rec("aws:ec2/instance:Instance", "odd", {"instanceType": "x2iedn.32xlarge"}),
        rec("aws:kms/key:Key", "key", {}),
    ]
    estimate = estimate_cost(records, "us-east-1")
    assert [(n.resource, n.reason) for n in estimate.not_priced] == [
        ("odd", "no price for instance type x2iedn.32xlarge"),
        ("notebooks", "no price for this resource type"),
    ]
    assert estimate.total_monthly_usd == pytest.approx(1.0)  # only the KMS key
    assert estimate.for_resource("odd") == []


def test_a_customer_managed_prefix_list_is_free() -> None:
    """The POC's list of VPC CIDRs costs nothing (no VPC price covers prefix lists); not "not priced"."""
    records = [rec("aws:ec2/managedPrefixList:ManagedPrefixList", "vpc-cidrs", {"maxEntries": 5.0})]
    estimate = estimate_cost(records, "us-east-1")
    assert (estimate.lines, estimate.not_priced, estimate.free_resources) == ((), (), 1)


def test_region_without_prices_lists_every_billable_resource() -> None:
    records = [rec("aws:kms/key:Key", "key", {}), rec("aws:ec2/vpc:Vpc", "vpc", {})]
    estimate = estimate_cost(records, "ap-south-1")
    assert estimate.lines == ()
    assert [n.resource for n in estimate.not_priced] == ["key"]
    assert "ap-south-1" in estimate.not_priced[0].reason
    assert estimate.free_resources == 1


def test_regions_differ_where_aws_prices_differ() -> None:
    records = [
        rec(
            "aws:ec2/instance:Instance",
            "i",
            {"instanceType": "m6a.2xlarge", "rootBlockDevice": {"volumeSize": 50.0}},
        )
    ]
    east, west, ireland = (
        estimate_cost(records, r).total_monthly_usd for r in ("us-east-1", "us-west-2", "eu-west-1")
    )
    assert east == west == pytest.approx(730 * 0.3456 + 50 * 0.08)
    assert ireland == pytest.approx(730 * 0.3888 + 50 * 0.088)


def test_eks_rds_cache_and_network_types_are_priced() -> None:
    records = [
        rec("aws:eks/cluster:Cluster", "eks", {"version": "1.34"}),
        rec(
            "aws:ec2/launchTemplate:LaunchTemplate",
            "nodes",
            {
                "blockDeviceMappings": [
                    {"deviceName": "/dev/xvda", "ebs": {"volumeSize": 100.0, "volumeType": "gp3"}}
                ]
            },
            {"id": "lt-0123"},
        ),
        rec(
            "aws:eks/nodeGroup:NodeGroup",
            "ng",
            {
                "instanceTypes": ["m6a.4xlarge"],
                "scalingConfig": {"desiredSize": 3.0},
                "launchTemplate": {"id": "lt-0123", "version": "1"},
            },
        ),
        rec(
            "aws:rds/instance:Instance",
            "db",
            {
                "engine": "postgres",
                "instanceClass": "db.m6g.large",
                "multiAz": True,
                "allocatedStorage": 100.0,
                "storageType": "gp3",
            },
        ),
        rec(
            "aws:elasticache/replicationGroup:ReplicationGroup",
            "redis",
            {"nodeType": "cache.m6g.large", "numCacheClusters": 2.0, "engine": "valkey"},
        ),
        rec("aws:s3/bucket:Bucket", "uploads", {}),
        rec(
            "aws:ec2/vpcEndpoint:VpcEndpoint",
            "ssm",
            {
                "vpcEndpointType": "Interface",
                "serviceName": "com.amazonaws.us-east-1.ssm",
                "subnetIds": ["a", "b"],
            },
        ),
        rec("aws:ec2/vpcEndpoint:VpcEndpoint", "s3", {"vpcEndpointType": "Gateway"}),
        rec("aws:ec2/natGateway:NatGateway", "nat", {}),
        rec("aws:lb/loadBalancer:LoadBalancer", "alb", {"loadBalancerType": "application", "internal": True}),
        rec("aws:budgets/budget:Budget", "budget", {}),
        rec("aws:scheduler/schedule:Schedule", "stop", {}),
        rec("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "uploads", {}),
    ]
    estimate = estimate_cost(records, "us-east-1")
    by = {
        name: sum(line.monthly_usd for line in estimate.for_resource(name))
        for name in {r.name for r in records}
    }
    assert by["eks"] == pytest.approx(73.0)
    assert by["ng"] == pytest.approx(3 * 730 * 0.6912 + 3 * 100 * 0.08)
    assert by["db"] == pytest.approx(730 * 0.159 * 2 + 100 * 0.23)
    assert by["redis"] == pytest.approx(2 * 730 * 0.149 * 0.8)
    assert by["uploads"] == pytest.approx(100 * 0.023)
    assert by["ssm"] == pytest.approx(2 * 730 * 0.01 + 10 * 0.01)
    assert by["s3"] == 0.0 and by["budget"] == 0.0 and by["stop"] == 0.0
    assert by["nat"] == pytest.approx(730 * 0.045 + 100 * 0.045)
    assert by["alb"] == pytest.approx(730 * 0.0225 + 730 * 0.008)
    assert estimate.not_priced == ()
    assert estimate.free_resources == 5  # launch template, gateway endpoint, budget, schedule, access block
    assumptions = [line.assumption for line in estimate.lines if line.assumption]
    assert "100 GB a month through the gateway" in assumptions
    assert "1 LCU on average" in assumptions


def test_assumptions_change_the_figures_they_drive() -> None:
    records = [rec("aws:s3/bucket:Bucket", "b", {})]
    estimate = estimate_cost(records, "us-east-1", Assumptions(s3_gb_per_bucket=1000))
    assert estimate.total_monthly_usd == pytest.approx(23.0)
    assert any("1000 GB in S3" in text for text in estimate.assumptions)


def test_to_dict_is_json_with_lines_total_and_date(pulumi_mocks: SgarchMocks) -> None:
    data = json.loads(json.dumps(estimate_cost(_single_node(pulumi_mocks, Tier.XS), "us-east-1").to_dict()))
    assert data["total_monthly_usd"] == 324.59
    assert data["as_of"] == "2026-09-20" and data["approximate"] is True
    assert data["lines"][0] == {
        "resource": "sg-instance",
        "type": "aws:ec2/instance:Instance",
        "item": "m6a.2xlarge instance",
        "category": "compute",
        "quantity": 730,
        "unit": "h",
        "unit_price_usd": 0.3456,
        "monthly_usd": 252.29,
        "assumption": None,
    }
    assert data["not_priced"] == []


def test_render_shows_top_lines_total_and_rest(pulumi_mocks: SgarchMocks) -> None:
    console = Console(record=True, width=200)
    render_cost(console, estimate_cost(_single_node(pulumi_mocks, Tier.XS), "us-east-1"), top=2)
    text = console.export_text()
    assert "$252.29" in text and "$324.59" in text
    assert "more lines (sgarch plan --cost shows all)" in text


@given(
    size=st.integers(min_value=1, max_value=16384),
    iops=st.integers(min_value=3000, max_value=16000),
    more=st.integers(min_value=1, max_value=1000),
)
def test_gp3_cost_grows_with_size_and_iops(size: int, iops: int, more: int) -> None:
    ebs = load_price_table().regions["us-east-1"].ebs

    def cost(s: int, i: int) -> float:
        return sum(q * p for _, q, _, p in ebs_volume_items(ebs, "gp3", s, i, None))

    assert cost(size + more, iops) > cost(size, iops)
    assert cost(size, iops + more) > cost(size, iops)
    assert cost(size, iops) < sum(q * p for _, q, _, p in ebs_volume_items(ebs, "io2", size, iops, None))


def test_rds_monitoring_is_priced_as_cloudwatch_logs_and_performance_insights_free_for_7_days() -> None:
    base = {
        "engine": "postgres",
        "instanceClass": "db.m6g.large",
        "allocatedStorage": 100.0,
        "storageType": "gp3",
        "multiAz": True,
    }
    monitored = {
        **base,
        "performanceInsightsEnabled": True,
        "performanceInsightsRetentionPeriod": 7.0,
        "monitoringInterval": 60.0,
        "enabledCloudwatchLogsExports": ["postgresql", "upgrade"],
    }
    plain = estimate_cost([rec("aws:rds/instance:Instance", "db", base)], "us-east-1")
    est = estimate_cost([rec("aws:rds/instance:Instance", "db", monitored)], "us-east-1")
    extra = {line.item: line.monthly_usd for line in est.lines}.items() - {
        line.item: line.monthly_usd for line in plain.lines
    }.items()
    assert dict(extra) == pytest.approx(
        {
            "Performance Insights, 7 days (free tier)": 0.0,
            "Enhanced Monitoring ingestion": 0.5 * 0.5,
            "Enhanced Monitoring storage": 0.5 * 0.03,
            "log exports (postgresql, upgrade) ingestion": 1.0 * 0.5,
            "log exports (postgresql, upgrade) storage": 1.0 * 0.03,
        }
    )
    # Multi-AZ doubles the instance and the storage price.
    single = estimate_cost([rec("aws:rds/instance:Instance", "db", {**base, "multiAz": False})], "us-east-1")
    assert plain.total_monthly_usd == pytest.approx(2 * single.total_monthly_usd)
    # Every second instead of every minute: 60 times the metrics. A longer Performance Insights retention is
    # not free and has no price here, so it is listed, never counted as zero.
    busy = {**monitored, "monitoringInterval": 1.0, "performanceInsightsRetentionPeriod": 731.0}
    est = estimate_cost([rec("aws:rds/instance:Instance", "db", busy)], "us-east-1")
    assert est.for_resource("db") and [n.reason for n in est.not_priced] == [
        "no price for Performance Insights kept 731 days (only 7 are free)"
    ]
    ingest = next(line for line in est.lines if line.item == "Enhanced Monitoring ingestion")
    assert ingest.quantity == pytest.approx(30.0)
