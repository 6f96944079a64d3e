"""The single-node stack's network on a real account (issue #19, items 5, 7 and 10): an internet-facing ALB in
public subnets, a brought VPC checked before anything is created, zones chosen by what they offer and pinned."""

from __future__ import annotations

from pathlib import Path

import pytest

from sgarch.errors import ConfigError
from sgarch.plan import Plan, run_plan
from sgarch.testing import FakeNetwork, SgarchMocks
from sgarch.tiers import TIERS, Tier

STACK = Path(__file__).parents[2] / "stacks" / "single-node"
LB = "aws:lb/loadBalancer:LoadBalancer"
SUBNET = "aws:ec2/subnet:Subnet"
PUBLIC = {"internet_facing": "true", "allowed_cidrs": '["203.0.113.0/24"]'}


def _account() -> FakeNetwork:
    """vpc-1: private subnets in us-east-1a/b (through NAT), public ones in us-east-1a/b/c, a NAT-routed c."""
    net = FakeNetwork(strict=True).vpc("vpc-1")
    for zone in ("a", "b"):
        net.subnet(
            f"subnet-{zone}", vpc_id="vpc-1", availability_zone=f"us-east-1{zone}", default_route="nat-1"
        )
    for zone in ("a", "b", "c"):
        net.subnet(f"subnet-p{zone}", vpc_id="vpc-1", availability_zone=f"us-east-1{zone}")
    net.subnet("subnet-a2", vpc_id="vpc-1", availability_zone="us-east-1a", default_route="nat-1")
    net.subnet("subnet-x", vpc_id="vpc-2", availability_zone="us-east-1c")
    return net


def _plan(net: FakeNetwork | None = None, **config: str) -> tuple[Plan, SgarchMocks]:
    mocks = SgarchMocks(region="us-east-1")
    if net is not None:
        net.install(mocks)
    return run_plan(STACK, stack="example", config=config, mocks=mocks), mocks


def _brought(**config: str) -> dict[str, str]:
    return {"vpc_id": "vpc-1", "subnet_ids": '["subnet-a", "subnet-b"]', **config}


def test_an_internet_facing_alb_sits_in_the_new_vpcs_public_subnets() -> None:
    plan, _ = _plan(**PUBLIC)
    public = sorted(r.id for r in plan.by_type(SUBNET) if "-network-public-" in r.name)
    lb = plan.one(LB).inputs
    assert lb["internal"] is False
    assert sorted(lb["subnets"]) == public and len(public) == 2


def test_an_internal_alb_stays_in_the_private_subnets() -> None:
    plan, _ = _plan()
    private = sorted(r.id for r in plan.by_type(SUBNET) if "-network-private-" in r.name)
    assert sorted(plan.one(LB).inputs["subnets"]) == private


def test_a_brought_vpcs_internet_facing_alb_uses_public_subnet_ids() -> None:
    plan, _ = _plan(_account(), **_brought(public_subnet_ids='["subnet-pb", "subnet-pa"]', **PUBLIC))
    assert plan.one(LB).inputs["subnets"] == ["subnet-pb", "subnet-pa"]
    assert plan.one("aws:ec2/instance:Instance").inputs["subnetId"] == "subnet-a"
    assert plan.by_type(SUBNET) == [] and plan.by_type("aws:ec2/vpc:Vpc") == []
    assert plan.exports["availability_zone_ids"] == ["use1-az1", "use1-az2"]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        pytest.param(
            _brought(**PUBLIC),
            "public_subnet_ids must be two or more public subnets in different zones with internet_facing and "
            "vpc_id (got None)",
            id="internet-facing-without-public-subnets",
        ),
        pytest.param(
            _brought(public_subnet_ids='["subnet-pa", "subnet-b"]', **PUBLIC),
            "public_subnet_ids must be subnets whose route table sends 0.0.0.0/0 to an internet gateway",
            id="public-subnet-through-nat",
        ),
        pytest.param(
            _brought(public_subnet_ids='["subnet-pb", "subnet-pc"]', **PUBLIC),
            "public_subnet_ids must be subnets including one in us-east-1a, the zone of the instance's subnet "
            "subnet-a (got ['subnet-pb', 'subnet-pc'])",
            id="public-subnets-miss-the-instance-zone",
        ),
        pytest.param(
            _brought(public_subnet_ids='["subnet-pa", "subnet-pb"]'),
            "public_subnet_ids must be empty unless the load balancer is internet-facing",
            id="public-subnets-for-an-internal-alb",
        ),
        pytest.param(
            _brought(subnet_ids='["subnet-a", "subnet-x"]'),
            "subnet_ids must be subnets of vpc-1 (got 'subnet-x'): it belongs to vpc-2",
            id="subnet-of-another-vpc",
        ),
        pytest.param(
            _brought(subnet_ids='["subnet-a", "subnet-a2"]'),
            "subnet_ids must be one private subnet per availability zone",
            id="two-subnets-in-one-zone-for-an-internal-alb",
        ),
        pytest.param(
            _brought(vpc_id="vpc-9"),
            "vpc_id must be an existing VPC in the stack's region (got 'vpc-9')",
            id="no-such-vpc",
        ),
        pytest.param(
            _brought(availability_zone_ids='["use1-az1", "use1-az2"]'),
            "availability_zone_ids must be unset with vpc_id",
            id="zone-ids-with-a-brought-vpc",
        ),
        pytest.param(
            {"availability_zone_ids": '["use1-az1", "use1-az2", "use1-az3"]'},
            "az_count must be 3, the number of availability_zone_ids (got 2)",
            id="zone-ids-and-az-count-disagree",
        ),
    ],
)
def test_a_bad_network_fails_before_any_resource(config: dict[str, str], message: str) -> None:
    mocks = SgarchMocks(region="us-east-1")
    _account().install(mocks)
    with pytest.raises(ConfigError) as info:
        run_plan(STACK, stack="example", config=config, mocks=mocks)
    assert str(info.value).startswith(message)
    assert [r.type for r in mocks.resources if r.custom] == []


def test_without_an_alb_one_brought_subnet_is_enough() -> None:
    plan, _ = _plan(_account(), certificate_arn="", vpc_id="vpc-1", subnet_ids='["subnet-a", "subnet-a2"]')
    assert plan.one("aws:ec2/instance:Instance").inputs["subnetId"] == "subnet-a"


def test_new_vpc_zones_offer_the_instance_type_and_are_exported() -> None:
    instance_type = TIERS[Tier.XS].recommended_instance_type
    assert instance_type is not None
    net = FakeNetwork().without_instance_type(instance_type, "use1-az1")
    plan, _ = _plan(net, tier="XS", users="0", repos="0", total_repo_gb="", largest_repo_gb="")
    zones = {r.name: r.inputs["availabilityZoneId"] for r in plan.by_type(SUBNET)}
    assert zones == {
        "example-network-private-0": "use1-az2",
        "example-network-private-1": "use1-az3",
        "example-network-public-0": "use1-az2",
        "example-network-public-1": "use1-az3",
    }
    assert plan.exports["availability_zone_ids"] == ["use1-az2", "use1-az3"]
    # A zone without the instance type cannot be pinned either.
    with pytest.raises(ConfigError, match=r"^availability_zone_ids must be zones that offer everything"):
        _plan(net, tier="XS", users="0", repos="0", availability_zone_ids='["use1-az1", "use1-az2"]')


def test_pinned_zone_ids_place_the_subnets() -> None:
    plan, _ = _plan(availability_zone_ids='["use1-az6", "use1-az4"]')
    assert plan.one(SUBNET, "example-network-private-0").inputs["availabilityZoneId"] == "use1-az6"
    assert plan.exports["availability_zone_ids"] == ["use1-az6", "use1-az4"]
