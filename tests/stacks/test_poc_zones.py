"""stacks/poc's zones (issue #19, item 10): a new VPC spans zones that offer what the POC runs there (the
instance type, or the EKS node type and a place for the cluster's control plane), pinned by id, and exported."""

from __future__ import annotations

from pathlib import Path

import pytest

from sgarch.errors import ConfigError
from sgarch.plan import Plan, run_plan
from sgarch.testing import FakeNetwork, SgarchMocks
from sgarch.tiers import TIERS, Tier

STACK = Path(__file__).parents[2] / "stacks" / "poc"
SUBNET = "aws:ec2/subnet:Subnet"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
# The example brings a VPC; these create one. NAT with the example's proxy for the single node; a transit gateway
# (the only way Pulumi reaches a private API in a new VPC) with mirrored images for EKS.
NEW_VPC = {"vpc_id": "", "subnet_ids": "[]", "tier": "XS", "nat": "true"}
NEW_VPC_EKS = {
    "vpc_id": "",
    "subnet_ids": "[]",
    "tier": "XS",
    "runtime": "eks",
    "http_proxy": "",
    "proxy_cidrs": "[]",
    "transit_gateway_id": "tgw-0123456789abcdef0",
    "allowed_cidrs": '["10.0.0.0/8"]',
    "image_registry": f"{REGISTRY}/docker-hub/sourcegraph",
    "load_balancer_controller_image": f"{REGISTRY}/ecr-public/eks/aws-load-balancer-controller",
}


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SGARCH_TODAY", "2026-11-23")


def _plan(config: dict[str, str] | None = None, net: FakeNetwork | None = None) -> tuple[Plan, SgarchMocks]:
    mocks = SgarchMocks(region="us-east-1")
    if net is not None:
        net.install(mocks)
    return run_plan(STACK, stack="example", config=config or {}, mocks=mocks), mocks


def _private_zones(plan: Plan) -> list[str]:
    return [plan.one(SUBNET, f"example-network-private-{i}").inputs["availabilityZoneId"] for i in (0, 1)]


def test_a_new_vpc_skips_zones_without_the_instance_type() -> None:
    instance_type = TIERS[Tier.XS].recommended_instance_type
    assert instance_type is not None
    plan, _ = _plan(NEW_VPC, FakeNetwork().without_instance_type(instance_type, "use1-az1"))
    assert plan.one("aws:ec2/instance:Instance").inputs["instanceType"] == instance_type
    assert _private_zones(plan) == ["use1-az2", "use1-az3"]
    assert plan.exports["availability_zone_ids"] == ["use1-az2", "use1-az3"]


def test_a_new_vpc_for_eks_skips_zones_without_the_node_type_or_the_control_plane() -> None:
    planned, _ = _plan(NEW_VPC_EKS)
    node_types = {t for g in planned.by_type(NODE_GROUP) for t in g.inputs["instanceTypes"]}
    (node_type,) = node_types
    plan, _ = _plan(NEW_VPC_EKS, FakeNetwork().without_instance_type(node_type, "use1-az1"))
    # use1-az1 lacks the node type; use1-az3 is where EKS refuses cluster subnets.
    assert _private_zones(plan) == ["use1-az2", "use1-az4"]
    assert plan.exports["availability_zone_ids"] == ["use1-az2", "use1-az4"]


@pytest.mark.parametrize("config", [NEW_VPC, NEW_VPC_EKS], ids=["single-node", "eks"])
def test_pinned_zone_ids_place_the_subnets(config: dict[str, str]) -> None:
    plan, _ = _plan({**config, "availability_zone_ids": '["use1-az6", "use1-az4"]'})
    assert _private_zones(plan) == ["use1-az6", "use1-az4"]
    assert plan.exports["availability_zone_ids"] == ["use1-az6", "use1-az4"]


def test_a_brought_vpc_exports_its_subnets_zones() -> None:
    net = FakeNetwork(strict=True).vpc("vpc-0123456789abcdef0")
    net.subnet("subnet-0123456789abcdef0", vpc_id="vpc-0123456789abcdef0", availability_zone="us-east-1b")
    net.subnet("subnet-0fedcba9876543210", vpc_id="vpc-0123456789abcdef0", availability_zone="us-east-1d")
    plan, _ = _plan(net=net)
    assert plan.exports["availability_zone_ids"] == ["use1-az2", "use1-az4"]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        pytest.param(
            {"availability_zone_ids": '["use1-az1", "use1-az2"]'},
            "availability_zone_ids must be unset with vpc_id (got ['use1-az1', 'use1-az2']): a brought VPC's "
            "zones are its subnets'.",
            id="with-a-brought-vpc",
        ),
        pytest.param(
            {**NEW_VPC, "availability_zone_ids": '["use1-az1", "use1-az2", "use1-az4"]'},
            "availability_zone_ids must be 2 zone ids, one for each zone of the new VPC (got ['use1-az1', "
            "'use1-az2', 'use1-az4']): list 2 distinct zone ids.",
            id="three-zones",
        ),
        pytest.param(
            {**NEW_VPC, "availability_zone_ids": '["us-east-1a", "us-east-1b"]'},
            "availability_zone_ids must be zone ids like use1-az1 (got 'us-east-1a')",
            id="zone-names",
        ),
        pytest.param(
            {**NEW_VPC_EKS, "availability_zone_ids": '["use1-az3", "use1-az1"]'},
            "availability_zone_ids must be zones where EKS can place the cluster's control plane (got "
            "'use1-az3'): EKS refuses cluster subnets in cac1-az3, use1-az3 and usw1-az2; choose another zone of "
            "the region.",
            id="eks-in-a-zone-eks-refuses",
        ),
    ],
)
def test_bad_zone_ids_fail_before_any_resource(config: dict[str, str], message: str) -> None:
    mocks = SgarchMocks(region="us-east-1")
    with pytest.raises(ConfigError) as info:
        run_plan(STACK, stack="example", config=config, mocks=mocks)
    assert str(info.value).startswith(message)
    assert [r for r in mocks.resources if r.custom] == []


def test_the_single_node_may_use_a_zone_eks_refuses() -> None:
    plan, _ = _plan({**NEW_VPC, "availability_zone_ids": '["use1-az3", "use1-az1"]'})
    assert _private_zones(plan) == ["use1-az3", "use1-az1"]
