"""stacks/poc with ``runtime: eks`` and its own interface endpoints (issue #19, items 7 and 10): a brought subnet
where EKS refuses a cluster is refused up front, the endpoints admit every block of the VPC, and a new VPC spans
only zones that offer those endpoints' services."""

from __future__ import annotations

from pathlib import Path

import pytest

from sgarch.errors import ConfigError
from sgarch.plan import Plan, run_plan
from sgarch.refarch.poc import EKS_ENDPOINT_SERVICES
from sgarch.testing import FakeNetwork, SgarchMocks

STACK = Path(__file__).parents[2] / "stacks" / "poc"
SUBNET = "aws:ec2/subnet:Subnet"
RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
EKS = {
    "tier": "XS",
    "runtime": "eks",
    "http_proxy": "",
    "proxy_cidrs": "[]",
    "image_registry": f"{REGISTRY}/docker-hub/sourcegraph",
    "load_balancer_controller_image": f"{REGISTRY}/ecr-public/eks/aws-load-balancer-controller",
}
# The example's VPC and subnets (no NAT: the POC creates its interface endpoints).
BROUGHT = {
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": '["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]',
    "allowed_cidrs": '["10.20.0.0/16"]',
}
NEW_VPC = {
    "vpc_id": "",
    "subnet_ids": "[]",
    "transit_gateway_id": "tgw-0123456789abcdef0",
    "allowed_cidrs": '["10.0.0.0/8"]',
}


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SGARCH_TODAY", "2026-11-23")


def _account(second_zone: str, *cidr_blocks: str) -> FakeNetwork:
    net = FakeNetwork(strict=True).vpc("vpc-0123456789abcdef0", cidr_blocks=cidr_blocks or ("10.20.0.0/16",))
    net.subnet("subnet-0123456789abcdef0", vpc_id="vpc-0123456789abcdef0", availability_zone="us-east-1a")
    net.subnet("subnet-0fedcba9876543210", vpc_id="vpc-0123456789abcdef0", availability_zone=second_zone)
    return net


def _plan(config: dict[str, str], net: FakeNetwork | None = None) -> tuple[Plan, SgarchMocks]:
    mocks = SgarchMocks(region="us-east-1")
    if net is not None:
        net.install(mocks)
    return run_plan(STACK, stack="example", config=config, mocks=mocks), mocks


def test_a_brought_subnet_in_a_zone_eks_refuses_is_refused() -> None:
    mocks = SgarchMocks(region="us-east-1")
    _account("us-east-1c").install(mocks)  # us-east-1c is use1-az3 in the mocks' account
    with pytest.raises(ConfigError) as info:
        run_plan(STACK, stack="example", config={**EKS, **BROUGHT}, mocks=mocks)
    assert str(info.value) == (
        "subnet_ids must be subnets in zones where EKS can place the cluster's control plane (got "
        "'subnet-0fedcba9876543210'): it is in us-east-1c (use1-az3), where EKS refuses cluster subnets; list a "
        "subnet of another zone of the VPC instead."
    )
    assert [r for r in mocks.resources if r.custom] == []


def test_the_single_node_may_use_a_brought_subnet_in_that_zone() -> None:
    plan, _ = _plan({"tier": "XS"}, _account("us-east-1c"))
    assert plan.exports["availability_zone_ids"] == ["use1-az1", "use1-az3"]


def test_the_cluster_endpoints_admit_every_block_of_a_brought_vpc() -> None:
    plan, _ = _plan({**EKS, **BROUGHT}, _account("us-east-1b", "10.20.0.0/16", "100.64.0.0/16"))
    rules = {
        r.name: r.inputs["cidrIpv4"]
        for r in plan.by_type(RULE)
        if r.name.startswith("example-eks-endpoints-")
    }
    # The first rule keeps the name it always had, so an existing POC only gains a rule.
    assert rules == {
        "example-eks-endpoints-https": "10.20.0.0/16",
        "example-eks-endpoints-https-1": "100.64.0.0/16",
    }
    group = plan.one("aws:ec2/securityGroup:SecurityGroup", "example-eks-endpoints-sg")
    endpoints = [
        r
        for r in plan.by_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        if str(r.inputs["serviceName"]).removeprefix("com.amazonaws.us-east-1.") in EKS_ENDPOINT_SERVICES
    ]
    assert len(endpoints) == len(EKS_ENDPOINT_SERVICES)
    assert all(r.inputs["securityGroupIds"] == [group.outputs["id"]] for r in endpoints)


def test_the_cluster_endpoints_admit_a_new_vpc() -> None:
    plan, _ = _plan({**EKS, **NEW_VPC})
    rules = [r for r in plan.by_type(RULE) if r.name.startswith("example-eks-endpoints-")]
    assert [(r.name, r.inputs["cidrIpv4"]) for r in rules] == [
        ("example-eks-endpoints-https", plan.one("aws:ec2/vpc:Vpc").inputs["cidrBlock"])
    ]


@pytest.mark.parametrize("service", EKS_ENDPOINT_SERVICES)
def test_a_new_vpc_spans_zones_that_offer_the_cluster_endpoints(service: str) -> None:
    # us-east-1a (use1-az1) lacks the service; use1-az3 is where EKS refuses cluster subnets.
    plan, _ = _plan({**EKS, **NEW_VPC}, FakeNetwork().without_service(service, "us-east-1a"))
    zones = [plan.one(SUBNET, f"example-network-private-{i}").inputs["availabilityZoneId"] for i in (0, 1)]
    assert zones == ["use1-az2", "use1-az4"]
    assert plan.exports["availability_zone_ids"] == ["use1-az2", "use1-az4"]


def test_a_pinned_zone_without_a_cluster_endpoint_is_refused() -> None:
    mocks = SgarchMocks(region="us-east-1")
    FakeNetwork().without_service("eks-auth", "us-east-1a").install(mocks)
    with pytest.raises(ConfigError) as info:
        run_plan(
            STACK,
            stack="example",
            config={**EKS, **NEW_VPC, "availability_zone_ids": '["use1-az1", "use1-az2"]'},
            mocks=mocks,
        )
    assert str(info.value) == (
        "availability_zone_ids must be zones that offer everything the stack needs (got 'use1-az1'): us-east-1a "
        "(use1-az1) lacks the eks-auth endpoint service; choose among use1-az2, use1-az4, use1-az5, use1-az6."
    )
    assert [r for r in mocks.resources if r.custom] == []
