"""The EKS stack's network on a real account (issue #19, items 7 and 10): a brought VPC is checked before anything
is created, a new VPC's zones offer the node instance type and can hold the cluster (and can be pinned by id),
and the internal ALB admits only the VPC unless told otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sgarch.errors import ConfigError
from sgarch.plan import Plan, run_plan
from sgarch.testing import FakeNetwork, SgarchMocks

STACK = Path(__file__).parents[2] / "stacks" / "eks"
SUBNET = "aws:ec2/subnet:Subnet"
RELEASE = "kubernetes:helm.sh/v3:Release"
BASE = {"instance_type": "m6a.4xlarge", "postgres": "false", "redis": "false", "s3": "false"}


def _brought(vpc_id: str) -> dict[str, str]:
    return {"vpc_id": vpc_id, "subnet_ids": '["subnet-a", "subnet-b"]', "public_access_cidrs": "[]"}


def test_a_brought_vpc_with_two_subnets_in_one_zone_is_refused() -> None:
    mocks = SgarchMocks(region="us-east-1")
    net = FakeNetwork(strict=True).vpc("vpc-1")
    net.subnet("subnet-a", vpc_id="vpc-1", availability_zone="us-east-1a")
    net.subnet("subnet-a2", vpc_id="vpc-1", availability_zone="us-east-1a")
    net.install(mocks)
    config = {
        **BASE,
        "vpc_id": "vpc-1",
        "subnet_ids": '["subnet-a", "subnet-a2"]',
        "public_access_cidrs": "[]",
    }
    with pytest.raises(ConfigError, match=r"^subnet_ids must be one private subnet per availability zone"):
        run_plan(STACK, stack="example", config=config, mocks=mocks)
    assert [r for r in mocks.resources if r.custom] == []


def test_a_brought_subnet_in_a_zone_eks_refuses_is_refused() -> None:
    mocks = SgarchMocks(region="us-east-1")
    net = FakeNetwork(strict=True).vpc("vpc-1")
    net.subnet("subnet-a", vpc_id="vpc-1", availability_zone="us-east-1a")
    net.subnet("subnet-b", vpc_id="vpc-1", availability_zone="us-east-1c")  # use1-az3
    net.install(mocks)
    with pytest.raises(ConfigError) as info:
        run_plan(STACK, stack="example", config={**BASE, **_brought("vpc-1")}, mocks=mocks)
    assert str(info.value) == (
        "subnet_ids must be subnets in zones where EKS can place the cluster's control plane (got 'subnet-b'): "
        "it is in us-east-1c (use1-az3), where EKS refuses cluster subnets; list a subnet of another zone of the "
        "VPC instead."
    )
    assert [r for r in mocks.resources if r.custom] == []


def test_new_vpc_zones_offer_the_node_type() -> None:
    mocks = SgarchMocks(region="us-east-1")
    FakeNetwork().without_instance_type("m6a.4xlarge", "use1-az2").install(mocks)
    plan = run_plan(STACK, stack="example", config=BASE, mocks=mocks)
    zones = sorted(
        r.inputs["availabilityZoneId"] for r in plan.by_type("aws:ec2/subnet:Subnet") if "-private-" in r.name
    )
    # use1-az2 lacks the node type; use1-az3, next in the region's order, is where EKS refuses cluster subnets.
    assert zones == ["use1-az1", "use1-az4"]
    assert plan.exports["availability_zone_ids"] == ["use1-az1", "use1-az4"]


def test_pinned_zone_ids_place_the_subnets() -> None:
    plan = run_plan(
        STACK, stack="example", config={**BASE, "availability_zone_ids": '["use1-az6", "use1-az4"]'}
    )
    zones = [plan.one(SUBNET, f"example-network-private-{i}").inputs["availabilityZoneId"] for i in (0, 1)]
    assert zones == ["use1-az6", "use1-az4"]
    assert plan.exports["availability_zone_ids"] == ["use1-az6", "use1-az4"]


def test_a_brought_vpcs_zones_are_exported() -> None:
    mocks = SgarchMocks(region="us-east-1")
    net = FakeNetwork(strict=True).vpc("vpc-1")
    net.subnet("subnet-a", vpc_id="vpc-1", availability_zone="us-east-1a")
    net.subnet("subnet-b", vpc_id="vpc-1", availability_zone="us-east-1b")
    net.install(mocks)
    plan = run_plan(STACK, stack="example", config={**BASE, **_brought("vpc-1")}, mocks=mocks)
    assert plan.exports["availability_zone_ids"] == ["use1-az1", "use1-az2"]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        pytest.param(
            {"availability_zone_ids": '["use1-az1", "use1-az3"]'},
            "availability_zone_ids must be zones where EKS can place the cluster's control plane (got "
            "'use1-az3'): EKS refuses cluster subnets in cac1-az3, use1-az3 and usw1-az2; choose another zone of "
            "the region.",
            id="a-zone-eks-refuses",
        ),
        pytest.param(
            {"availability_zone_ids": '["use1-az1", "use1-az2", "use1-az4"]'},
            "az_count must be 3, the number of availability_zone_ids (got 2): set az_count to 3, or list 2 zone "
            "ids.",
            id="more-zones-than-az-count",
        ),
        pytest.param(
            {"availability_zone_ids": '["us-east-1a", "us-east-1b"]'},
            "availability_zone_ids must be zone ids like use1-az1 (got 'us-east-1a'): zone ids name the same "
            "zone in every account, names do not: aws ec2 describe-availability-zones lists each zone's ZoneId.",
            id="zone-names",
        ),
        pytest.param(
            {**_brought("vpc-0123456789abcdef0"), "availability_zone_ids": '["use1-az1", "use1-az2"]'},
            "availability_zone_ids must be unset with vpc_id (got ['use1-az1', 'use1-az2']): a brought VPC's "
            "zones are its subnets'.",
            id="with-a-brought-vpc",
        ),
    ],
)
def test_bad_zone_ids_fail_before_any_resource(config: dict[str, str], message: str) -> None:
    mocks = SgarchMocks(region="us-east-1")
    with pytest.raises(ConfigError) as info:
        run_plan(STACK, stack="example", config={**BASE, **config}, mocks=mocks)
    assert str(info.value) == message
    assert [r for r in mocks.resources if r.custom] == []


def test_the_internal_alb_admits_only_the_new_vpc_by_default() -> None:
    plan = run_plan(STACK, stack="example", config=BASE)
    assert _inbound_cidrs(plan) == "10.50.0.0/16"


def test_the_internal_alb_admits_every_block_of_a_brought_vpc() -> None:
    mocks = SgarchMocks(region="us-east-1")
    net = FakeNetwork(strict=True).vpc("vpc-1", cidr_blocks=("10.20.0.0/16", "100.64.0.0/16"))
    net.subnet("subnet-a", vpc_id="vpc-1", availability_zone="us-east-1a")
    net.subnet("subnet-b", vpc_id="vpc-1", availability_zone="us-east-1b")
    net.install(mocks)
    plan = run_plan(STACK, stack="example", config={**BASE, **_brought("vpc-1")}, mocks=mocks)
    assert _inbound_cidrs(plan) == "10.20.0.0/16,100.64.0.0/16"


def test_listed_inbound_cidrs_replace_the_vpcs() -> None:
    plan = run_plan(STACK, stack="example", config={**BASE, "inbound_cidrs": '["10.0.0.0/8"]'})
    assert _inbound_cidrs(plan) == "10.0.0.0/8"


def _inbound_cidrs(plan: Plan) -> Any:
    """The ingress annotation the AWS Load Balancer Controller builds the ALB's security group from."""
    (values_file,) = plan.one(RELEASE, "example-sourcegraph-sourcegraph").inputs["valueYamlFiles"]
    values = yaml.safe_load(values_file.text)
    return values["frontend"]["ingress"]["annotations"].get("alb.ingress.kubernetes.io/inbound-cidrs")
