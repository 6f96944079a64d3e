"""check_brought_network: a brought VPC's prerequisites, asked of AWS before anything is created (issue #19, 7)."""

from __future__ import annotations

from typing import Any

import pytest

from sgarch.errors import ConfigError
from sgarch.network import BroughtNetwork, check_brought_network
from sgarch.testing import FakeNetwork, SgarchMocks


def _account(**vpc: Any) -> FakeNetwork:
    """vpc-1 with a private subnet in each of us-east-1a/b and a public one in each, routed to its gateway."""
    net = FakeNetwork(strict=True).vpc("vpc-1", **vpc)
    for zone in ("a", "b"):
        net.subnet(
            f"subnet-{zone}", vpc_id="vpc-1", availability_zone=f"us-east-1{zone}", default_route="nat-1"
        )
        net.subnet(f"subnet-p{zone}", vpc_id="vpc-1", availability_zone=f"us-east-1{zone}")
    return net


def _check(
    mocks: SgarchMocks, subnet_ids: tuple[str, ...] = ("subnet-a", "subnet-b"), **kwargs: Any
) -> BroughtNetwork:
    kwargs.setdefault("min_zones", 2)
    return mocks.run(lambda: check_brought_network("vpc-1", subnet_ids, **kwargs))


def _error(mocks: SgarchMocks, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ConfigError) as info:
        _check(mocks, *args, **kwargs)
    assert mocks.resources == []
    return str(info.value)


def test_a_sound_network_passes_and_reports_zones_and_blocks(pulumi_mocks: SgarchMocks) -> None:
    _account(cidr_blocks=("10.0.0.0/16", "100.64.0.0/16")).install(pulumi_mocks)
    found = _check(
        pulumi_mocks, interface_endpoints=("ssm", "logs"), public_subnet_ids=("subnet-pb", "subnet-pa")
    )
    assert found == BroughtNetwork(
        vpc_id="vpc-1",
        vpc_cidrs=("10.0.0.0/16", "100.64.0.0/16"),
        availability_zones=("us-east-1a", "us-east-1b"),
        availability_zone_ids=("use1-az1", "use1-az2"),
        public_availability_zones=("us-east-1b", "us-east-1a"),
    )
    # The lookups the check relies on, with the arguments the provider needs.
    (endpoint, _) = pulumi_mocks.invoked("aws:ec2/getVpcEndpoint:getVpcEndpoint")
    assert endpoint.args["serviceName"] == "com.amazonaws.us-east-1.ssm"
    assert endpoint.args["vpcEndpointType"] == "Interface"
    assert endpoint.args["vpcId"] == "vpc-1"
    tables = pulumi_mocks.invoked("aws:ec2/getRouteTable:getRouteTable")
    assert [t.args["subnetId"] for t in tables] == ["subnet-pb", "subnet-pa"]


def test_the_vpc_must_exist(pulumi_mocks: SgarchMocks) -> None:
    FakeNetwork(strict=True).install(pulumi_mocks)
    assert _error(pulumi_mocks) == (
        "vpc_id must be an existing VPC in the stack's region (got 'vpc-1'): check the id, and that aws:region is "
        "the VPC's region."
    )


@pytest.mark.parametrize(
    ("attribute", "name", "flag"),
    [
        ("enable_dns_support", "enableDnsSupport", "enable-dns-support"),
        ("enable_dns_hostnames", "enableDnsHostnames", "enable-dns-hostnames"),
    ],
)
def test_private_dns_needs_both_dns_attributes(
    pulumi_mocks: SgarchMocks, attribute: str, name: str, flag: str
) -> None:
    _account(**{attribute: False}).install(pulumi_mocks)
    assert _error(pulumi_mocks, interface_endpoints=("ssm",)) == (
        "vpc_id must be a VPC with DNS support and DNS hostnames on (interface endpoints with private DNS need "
        f"both) (got 'vpc-1'): turn {name} on: aws ec2 modify-vpc-attribute --vpc-id vpc-1 --{flag}."
    )
    assert "private hosted zone" in _error(pulumi_mocks, private_dns=True)
    # Without endpoints or a private zone, DNS attributes are the owner's business.
    _check(pulumi_mocks)


def test_every_subnet_belongs_to_the_vpc(pulumi_mocks: SgarchMocks) -> None:
    _account().subnet("subnet-x", vpc_id="vpc-2", availability_zone="us-east-1c").install(pulumi_mocks)
    assert _error(pulumi_mocks, ("subnet-a", "subnet-x")) == (
        "subnet_ids must be subnets of vpc-1 (got 'subnet-x'): it belongs to vpc-2; list only subnets of vpc-1, "
        "or set vpc_id to vpc-2."
    )
    assert _error(pulumi_mocks, ("subnet-a", "subnet-gone")).startswith(
        "subnet_ids must be existing subnets of vpc-1 (got 'subnet-gone')"
    )
    assert _error(
        pulumi_mocks, ("subnet-a",), public_subnet_ids=("subnet-pa", "subnet-x"), min_zones=1
    ).startswith("public_subnet_ids must be subnets of vpc-1 (got 'subnet-x')")


def test_one_subnet_per_zone_in_enough_zones(pulumi_mocks: SgarchMocks) -> None:
    _account().subnet("subnet-a2", vpc_id="vpc-1", availability_zone="us-east-1a").install(pulumi_mocks)
    assert _error(pulumi_mocks, ("subnet-a", "subnet-a2", "subnet-b")) == (
        "subnet_ids must be one private subnet per availability zone (a load balancer and an interface endpoint "
        "take one) (got ['subnet-a', 'subnet-a2']): both are in us-east-1a; keep one of them."
    )
    assert _error(pulumi_mocks, ("subnet-a",)) == (
        "subnet_ids must be private subnets in 2 or more availability zones (got ['subnet-a']): they span 1 "
        "(us-east-1a); add a subnet in another zone."
    )
    assert _check(pulumi_mocks, ("subnet-a", "subnet-a2"), min_zones=1, one_subnet_per_zone=False)
    assert _error(pulumi_mocks, ("subnet-a", "subnet-a")).startswith("subnet_ids must be free of duplicates")


def test_an_existing_endpoint_with_private_dns_is_named_for_reuse(pulumi_mocks: SgarchMocks) -> None:
    net = _account().endpoint("vpce-0ssm", vpc_id="vpc-1", service="ssm")
    net.endpoint("vpce-0logs", vpc_id="vpc-1", service="logs", private_dns_enabled=False)
    net.endpoint("vpce-0gone", vpc_id="vpc-1", service="sts", state="deleted")
    net.install(pulumi_mocks)
    assert _error(pulumi_mocks, interface_endpoints=("sts", "logs", "ssm")) == (
        "interface_endpoints must be off while vpc-1 already has an interface endpoint with private DNS for ssm "
        "(got 'ssm'): reuse vpce-0ssm (its security group must admit 443 from the VPC) and turn interface_endpoints "
        "off; a second endpoint with private DNS fails with a conflicting domain."
    )
    # The setting named in the fix is the caller's, and so is the prefix of the network's keys.
    message = _error(pulumi_mocks, interface_endpoints=("ssm",), endpoint_setting="subnets_have_nat")
    assert message.startswith("subnets_have_nat must be off while vpc-1")
    FakeNetwork(strict=True).install(pulumi_mocks)
    assert _error(pulumi_mocks, field_prefix="network.").startswith("network.vpc_id must be an existing VPC")


def test_several_endpoints_for_one_service_conflict_too(pulumi_mocks: SgarchMocks) -> None:
    net = (
        _account()
        .endpoint("vpce-1", vpc_id="vpc-1", service="ssm")
        .endpoint("vpce-2", vpc_id="vpc-1", service="ssm")
    )
    net.install(pulumi_mocks)
    assert "several exist for com.amazonaws.us-east-1.ssm" in _error(
        pulumi_mocks, interface_endpoints=("ssm",)
    )


def test_public_subnets_route_to_an_internet_gateway(pulumi_mocks: SgarchMocks) -> None:
    net = _account(main_route="igw-0main")
    net.subnet("subnet-main", vpc_id="vpc-1", availability_zone="us-east-1c", explicit_route_table=False)
    net.install(pulumi_mocks)
    # subnet-b routes through NAT: an internet-facing ALB there is unreachable.
    message = _error(pulumi_mocks, public_subnet_ids=("subnet-pa", "subnet-b"))
    assert message.startswith(
        "public_subnet_ids must be subnets whose route table sends 0.0.0.0/0 to an internet gateway (igw-...) "
        "(got 'subnet-b'): its route table rtb-"
    )
    assert "sends 0.0.0.0/0 to nat-1; an internet-facing load balancer there cannot answer" in message
    # Without an association of its own, a subnet uses the VPC's main route table.
    found = _check(pulumi_mocks, public_subnet_ids=("subnet-pa", "subnet-main"))
    assert found.public_availability_zones == ("us-east-1a", "us-east-1c")
    assert _error(pulumi_mocks, public_subnet_ids=("subnet-pa", "subnet-pa")).startswith(
        "public_subnet_ids must be free of duplicates"
    )


def test_a_main_route_table_without_a_default_route_is_not_public(pulumi_mocks: SgarchMocks) -> None:
    net = _account(main_route=None)
    net.subnet("subnet-main", vpc_id="vpc-1", availability_zone="us-east-1c", explicit_route_table=False)
    net.install(pulumi_mocks)
    assert "sends 0.0.0.0/0 to nothing" in _error(
        pulumi_mocks, public_subnet_ids=("subnet-pa", "subnet-main")
    )


def test_public_subnets_need_two_zones(pulumi_mocks: SgarchMocks) -> None:
    _account().subnet("subnet-pa2", vpc_id="vpc-1", availability_zone="us-east-1a").install(pulumi_mocks)
    assert _error(pulumi_mocks, public_subnet_ids=("subnet-pa",)).startswith(
        "public_subnet_ids must be public subnets in 2 or more availability zones (got ['subnet-pa'])"
    )
    assert _error(pulumi_mocks, public_subnet_ids=("subnet-pa", "subnet-pa2")).startswith(
        "public_subnet_ids must be one public subnet per availability zone"
    )


def test_an_eks_cluster_refuses_a_subnet_in_a_zone_eks_refuses(pulumi_mocks: SgarchMocks) -> None:
    # us-east-1c is use1-az3 in the mocks' account, where CreateCluster fails with
    # UnsupportedAvailabilityZoneException: refused before anything is created, by subnet and zone id.
    _account().subnet("subnet-c", vpc_id="vpc-1", availability_zone="us-east-1c").install(pulumi_mocks)
    assert _error(pulumi_mocks, ("subnet-a", "subnet-c"), eks_cluster=True) == (
        "subnet_ids must be subnets in zones where EKS can place the cluster's control plane (got 'subnet-c'): "
        "it is in us-east-1c (use1-az3), where EKS refuses cluster subnets; list a subnet of another zone of the "
        "VPC instead."
    )
    # A single node (no EKS cluster) may use that zone.
    found = _check(pulumi_mocks, ("subnet-a", "subnet-c"))
    assert found.availability_zone_ids == ("use1-az1", "use1-az3")
    assert _check(pulumi_mocks, ("subnet-a", "subnet-b"), eks_cluster=True).availability_zone_ids == (
        "use1-az1",
        "use1-az2",
    )
