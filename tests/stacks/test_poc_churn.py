"""stacks/poc over its life: a budget that counts, names no other stack takes, an expiry that moves alone.

Plans come from ``sgarch plan``'s planner (:func:`sgarch.plan.run_plan`) on ``Pulumi.example.yaml``; every
assertion reads the planned resources.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sgarch.plan import Plan, run_plan

ROOT = Path(__file__).parents[2]
POC = ROOT / "stacks" / "poc"
EKS = ROOT / "stacks" / "eks"
TODAY = "2026-11-23"
REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
ON_EKS = {
    "runtime": "eks",
    "http_proxy": "",
    "proxy_cidrs": "[]",
    "allowed_cidrs": '["10.0.0.0/16"]',
    "image_registry": f"{REGISTRY}/docker-hub/sourcegraph",
    "load_balancer_controller_image": f"{REGISTRY}/ecr-public/eks/aws-load-balancer-controller",
}
NEW_VPC_ON_TGW = {
    "vpc_id": "",
    "subnet_ids": "[]",
    "transit_gateway_id": "tgw-0123456789abcdef0",
    "allowed_cidrs": '["10.0.0.0/8"]',
}
# Where the expiry may show: the schedules (their group's tag, their start date) and the budget's tag.
EXPIRY_TYPES = {
    "aws:scheduler/schedule:Schedule",
    "aws:scheduler/scheduleGroup:ScheduleGroup",
    "aws:budgets/budget:Budget",
}


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SGARCH_TODAY", TODAY)


def _inputs(plan: Plan) -> dict[str, Any]:
    return {r.urn: plan.resource_dict(r)["inputs"] for r in plan.resources}


@pytest.mark.parametrize(
    "config",
    [{}, ON_EKS, ON_EKS | NEW_VPC_ON_TGW],
    ids=["single-node", "eks", "eks-new-vpc"],
)
def test_extending_the_expiry_changes_only_the_schedules_and_the_budget(config: dict[str, str]) -> None:
    before = _inputs(run_plan(POC, stack="example", config=config | {"expires_on": "2027-01-31"}))
    after = _inputs(run_plan(POC, stack="example", config=config | {"expires_on": "2027-03-31"}))
    assert before.keys() == after.keys()  # nothing created or deleted
    changed = {urn.split("::")[-2].rsplit("$", 1)[-1] for urn in before if before[urn] != after[urn]}
    assert changed == EXPIRY_TYPES


def test_the_poc_cluster_is_never_named_like_an_eks_stack_cluster() -> None:
    # The same stack name in both projects, one account and region: two different clusters.
    poc = run_plan(POC, stack="example", config=ON_EKS)
    eks = run_plan(EKS, stack="example", config={"tier": "M"})
    (poc_cluster,) = poc.by_type("aws:eks/cluster:Cluster")
    (eks_cluster,) = eks.by_type("aws:eks/cluster:Cluster")
    assert poc_cluster.inputs["name"] != eks_cluster.inputs["name"]
    assert "poc" in poc_cluster.inputs["name"] and poc.exports["cluster_name"] == poc_cluster.inputs["name"]
    # No stack name of the eks project makes the POC's name: they differ before the stack name starts.
    eks_prefix = eks_cluster.inputs["name"].removesuffix("example")
    assert not poc_cluster.inputs["name"].startswith(eks_prefix)


def test_the_budget_counts_this_region_and_this_stack() -> None:
    for region in ("us-east-1", "eu-west-1"):
        plan = run_plan(POC, stack="example", config={"aws:region": region})
        (budget,) = plan.by_type("aws:budgets/budget:Budget")
        filters = {f["name"]: f["values"] for f in budget.inputs["costFilters"]}
        assert filters == {"TagKeyValue": ["user:poc$example"], "Region": [region]}


def test_cost_allocation_tag_is_activated_only_on_request_and_kept_on_destroy() -> None:
    plan = run_plan(POC, stack="example")
    assert plan.by_type("aws:costexplorer/costAllocationTag:CostAllocationTag") == []
    assert "payer" in plan.exports["cost_allocation_tag"]
    plan = run_plan(POC, stack="example", config={"activate_cost_allocation_tag": "true"})
    (tag,) = plan.by_type("aws:costexplorer/costAllocationTag:CostAllocationTag")
    assert tag.inputs == {"tagKey": "poc", "status": "Active"}
    # Other POC stacks of the account count on the same tag: destroying this one must leave it active.
    assert tag.options.retain_on_delete is True
    (budget,) = plan.by_type("aws:budgets/budget:Budget")
    assert tag.urn in budget.options.depends_on


def test_the_private_zone_answers_the_record_only() -> None:
    plan = run_plan(POC, stack="example")
    (zone,) = plan.by_type("aws:route53/zone:Zone")
    (record,) = plan.by_type("aws:route53/record:Record")
    # Never the parent domain (poc.example.com), which would hide the customer's other names in the VPC.
    assert zone.inputs["name"] == record.inputs["name"] == "sourcegraph.poc.example.com"
    assert record.inputs["type"] == "A" and record.inputs["aliases"]


def test_your_private_zone_is_associated_with_a_new_vpc() -> None:
    plan = run_plan(POC, stack="example", config=NEW_VPC_ON_TGW | {"private_zone_id": "Z0PRIVATE00000000"})
    assert plan.by_type("aws:route53/zone:Zone") == []
    (association,) = plan.by_type("aws:route53/zoneAssociation:ZoneAssociation")
    (vpc,) = plan.by_type("aws:ec2/vpc:Vpc")
    assert association.inputs["zoneId"] == "Z0PRIVATE00000000"
    assert association.inputs["vpcId"] in {vpc.outputs.get("id"), vpc.id}
    (record,) = plan.by_type("aws:route53/record:Record")
    assert record.inputs["zoneId"] == "Z0PRIVATE00000000"
    # In your own VPC, your zone is already associated: the stack leaves it alone.
    plan = run_plan(POC, stack="example", config={"private_zone_id": "Z0PRIVATE00000000"})
    assert plan.by_type("aws:route53/zoneAssociation:ZoneAssociation") == []


@pytest.mark.parametrize(
    "way_in",
    [
        NEW_VPC_ON_TGW,
        NEW_VPC_ON_TGW | {"transit_gateway_id": "", "peer_vpc_id": "vpc-0aaaabbbbccccdddd"},
        {"vpc_id": "", "subnet_ids": "[]", "nat": "true"},
    ],
    ids=["transit-gateway", "peering", "nat"],
)
def test_every_way_in_is_priced(way_in: dict[str, str]) -> None:
    from sgarch.cost import estimate_cost

    plan = run_plan(POC, stack="example", config=way_in | {"activate_cost_allocation_tag": "true"})
    cost = estimate_cost(plan.resources, "us-east-1")
    # The resources of the ways in, the zone association and the tag each have a price (zero for some).
    mine = {
        "aws:ec2transitgateway/vpcAttachment:VpcAttachment",
        "aws:ec2/vpcPeeringConnection:VpcPeeringConnection",
        "aws:costexplorer/costAllocationTag:CostAllocationTag",
        "aws:route53/zoneAssociation:ZoneAssociation",
        "aws:ec2/route:Route",
    }
    assert {item.type for item in cost.not_priced} & mine == set()
    items = {line.item for line in cost.lines}
    if way_in.get("transit_gateway_id"):
        assert {"transit gateway attachment", "transit gateway data processed"} <= items
    if "nat" in way_in:
        assert "NAT gateway" in items
