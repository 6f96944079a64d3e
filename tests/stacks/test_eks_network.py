"""The EKS stack's network on a real account (issue #19, items 7 and 10): a brought VPC is checked before anything
is created, and a new VPC's zones offer the node instance type."""

from __future__ import annotations

from pathlib import Path

import pytest

from sgarch.errors import ConfigError
from sgarch.plan import run_plan
from sgarch.testing import FakeNetwork, SgarchMocks

STACK = Path(__file__).parents[2] / "stacks" / "eks"
BASE = {"instance_type": "m6a.4xlarge", "postgres": "false", "redis": "false", "s3": "false"}


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


def test_new_vpc_zones_offer_the_node_type() -> None:
    mocks = SgarchMocks(region="us-east-1")
    FakeNetwork().without_instance_type("m6a.4xlarge", "use1-az2").install(mocks)
    plan = run_plan(STACK, stack="example", config=BASE, mocks=mocks)
    zones = sorted(
        r.inputs["availabilityZoneId"] for r in plan.by_type("aws:ec2/subnet:Subnet") if "-private-" in r.name
    )
    assert zones == ["use1-az1", "use1-az3"]
