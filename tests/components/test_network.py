from __future__ import annotations

from typing import Any

import pulumi
import pytest

from sgarch.errors import ConfigError
from sgarch.network import NatStrategy, Network, NetworkArgs
from sgarch.testing import FakeNetwork, ResourceRecord, SgarchMocks

VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
NAT = "aws:ec2/natGateway:NatGateway"
EIP = "aws:ec2/eip:Eip"
IGW = "aws:ec2/internetGateway:InternetGateway"
RT = "aws:ec2/routeTable:RouteTable"
ROUTE = "aws:ec2/route:Route"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


def _plan(mocks: SgarchMocks, **kwargs: Any) -> tuple[Network, dict[str, Any]]:
    def program() -> tuple[Network, dict[str, Any]]:
        net = Network("sg", NetworkArgs(**kwargs))
        outputs = {
            "vpc_id": net.vpc_id,
            "vpc_cidr": net.vpc_cidr,
            "private": net.private_subnet_ids,
            "public": net.public_subnet_ids,
            "zones": net.availability_zones,
            "zone_ids": net.availability_zone_ids,
            "vpc_cidrs": net.vpc_cidrs,
        }
        return net, outputs

    net, outputs = mocks.run(program)
    return net, mocks.resolve(outputs)


def _by_name(records: list[ResourceRecord]) -> dict[str, ResourceRecord]:
    return {r.name: r for r in records}


def test_default_network(pulumi_mocks: SgarchMocks) -> None:
    _, out = _plan(pulumi_mocks, tags={"Team": "devx"})
    component = pulumi_mocks.one("sgarch:network:Network", "sg")
    # Every child hangs off the component.
    assert {r.parent for r in pulumi_mocks.resources if r is not component} == {component.urn}

    vpc = pulumi_mocks.one(VPC, "sg-vpc")
    assert vpc.inputs["cidrBlock"] == "10.0.0.0/16"
    assert vpc.inputs["enableDnsHostnames"] is True
    assert vpc.inputs["enableDnsSupport"] is True
    # sgarch's convention (a lone Network is its own architecture), the user's tags, then the Name.
    assert vpc.tags() == {
        "sgarch:architecture": "network",
        "sgarch:stack": "test",
        "ManagedBy": "sgarch",
        "Team": "devx",
        "Name": "sg-vpc",
    }

    subnets = _by_name(pulumi_mocks.by_type(SUBNET))
    assert sorted(subnets) == ["sg-private-0", "sg-private-1", "sg-public-0", "sg-public-1"]
    assert subnets["sg-private-0"].inputs["cidrBlock"] == "10.0.0.0/19"
    assert subnets["sg-private-1"].inputs["cidrBlock"] == "10.0.32.0/19"
    assert subnets["sg-public-0"].inputs["cidrBlock"] == "10.0.64.0/22"
    # Placed by zone id, and a later lookup never moves an existing subnet.
    assert subnets["sg-private-0"].inputs["availabilityZoneId"] == "use1-az1"
    assert subnets["sg-private-1"].inputs["availabilityZoneId"] == "use1-az2"
    assert subnets["sg-public-1"].inputs["availabilityZoneId"] == "use1-az2"
    assert all("availabilityZone" not in s.inputs for s in subnets.values())
    assert all(
        set(s.options.ignore_changes) == {"availabilityZone", "availabilityZoneId"} for s in subnets.values()
    )
    assert subnets["sg-private-0"].tags()["kubernetes.io/role/internal-elb"] == "1"
    assert subnets["sg-public-1"].tags()["kubernetes.io/role/elb"] == "1"
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in subnets.values())
    assert all(s.inputs["vpcId"] == vpc.id for s in subnets.values())

    # Default NAT strategy: a single gateway in the first public subnet, used by both private tables.
    nat = pulumi_mocks.one(NAT, "sg-nat-0")
    assert nat.inputs["subnetId"] == subnets["sg-public-0"].id
    assert nat.inputs["allocationId"] == pulumi_mocks.one(EIP, "sg-nat-eip-0").id
    routes = _by_name(pulumi_mocks.by_type(ROUTE))
    assert routes["sg-public-default-route"].inputs["gatewayId"] == pulumi_mocks.one(IGW).id
    assert routes["sg-private-0-nat-route"].inputs["natGatewayId"] == nat.id
    assert routes["sg-private-1-nat-route"].inputs["natGatewayId"] == nat.id
    assert pulumi_mocks.names(RT) == ["sg-private-rt-0", "sg-private-rt-1", "sg-public-rt"]

    s3 = pulumi_mocks.one(ENDPOINT, "sg-s3")
    assert s3.inputs["serviceName"] == "com.amazonaws.us-east-1.s3"
    assert s3.inputs["vpcEndpointType"] == "Gateway"
    assert sorted(s3.inputs["routeTableIds"]) == sorted(r.id for r in pulumi_mocks.by_type(RT))
    assert pulumi_mocks.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup").inputs.get("ingress") is None

    assert out["vpc_id"] == vpc.id
    assert out["vpc_cidr"] == "10.0.0.0/16"
    assert out["private"] == [subnets["sg-private-0"].id, subnets["sg-private-1"].id]
    assert out["public"] == [subnets["sg-public-0"].id, subnets["sg-public-1"].id]
    assert out["zones"] == ["us-east-1a", "us-east-1b"]
    assert out["zone_ids"] == ["use1-az1", "use1-az2"]
    assert out["vpc_cidrs"] == ["10.0.0.0/16"]


@pytest.mark.parametrize(("strategy", "nats"), [(NatStrategy.NONE, 0), (NatStrategy.ONE_PER_AZ, 3)])
def test_nat_strategies(pulumi_mocks: SgarchMocks, strategy: NatStrategy, nats: int) -> None:
    _plan(pulumi_mocks, az_count=3, nat_strategy=strategy)
    assert len(pulumi_mocks.by_type(NAT)) == nats
    assert len(pulumi_mocks.by_type(EIP)) == nats
    # Route tables exist either way, so switching strategies never replaces them.
    assert len(pulumi_mocks.by_type(RT)) == 4
    nat_routes = [r for r in pulumi_mocks.by_type(ROUTE) if "natGatewayId" in r.inputs]
    assert len(nat_routes) == (3 if nats else 0)
    if nats == 3:
        nat_ids = {pulumi_mocks.one(NAT, f"sg-nat-{i}").id: i for i in range(3)}
        for i in range(3):
            route = pulumi_mocks.one(ROUTE, f"sg-private-{i}-nat-route")
            assert nat_ids[route.inputs["natGatewayId"]] == i


def test_private_only(pulumi_mocks: SgarchMocks) -> None:
    _, out = _plan(pulumi_mocks, private_only=True, interface_endpoints=("ssm", "ssmmessages", "ec2messages"))
    assert pulumi_mocks.names(SUBNET) == ["sg-private-0", "sg-private-1"]
    assert pulumi_mocks.by_type(IGW) == []
    assert pulumi_mocks.by_type(NAT) == []
    assert not any(r.inputs.get("destinationCidrBlock") == "0.0.0.0/0" for r in pulumi_mocks.by_type(ROUTE))
    assert out["public"] == []
    assert len(pulumi_mocks.by_type(ENDPOINT)) == 4


def test_interface_endpoints(pulumi_mocks: SgarchMocks) -> None:
    pulumi_mocks.set_config({"aws:region": "eu-west-1"})
    _, out = _plan(pulumi_mocks, interface_endpoints=("ssm", "ecr.api", "ecr.dkr"))
    sg = pulumi_mocks.one(SG, "sg-endpoints-sg")
    rule = pulumi_mocks.one(INGRESS, "sg-endpoints-https")
    assert rule.inputs["securityGroupId"] == sg.id
    assert rule.inputs["cidrIpv4"] == "10.0.0.0/16"
    assert (rule.inputs["fromPort"], rule.inputs["toPort"], rule.inputs["ipProtocol"]) == (443, 443, "tcp")
    assert len(pulumi_mocks.by_type(INGRESS)) == 1
    endpoints = _by_name(pulumi_mocks.by_type(ENDPOINT))
    assert sorted(endpoints) == ["sg-ecr-api", "sg-ecr-dkr", "sg-s3", "sg-ssm"]
    ecr = endpoints["sg-ecr-api"]
    assert ecr.inputs["serviceName"] == "com.amazonaws.eu-west-1.ecr.api"
    assert ecr.inputs["vpcEndpointType"] == "Interface"
    assert ecr.inputs["privateDnsEnabled"] is True
    assert ecr.inputs["securityGroupIds"] == [sg.id]
    assert ecr.inputs["subnetIds"] == out["private"]
    assert out["zones"] == ["eu-west-1a", "eu-west-1b"]


def test_explicit_zone_names_become_ids(pulumi_mocks: SgarchMocks) -> None:
    _, out = _plan(
        pulumi_mocks, availability_zones=("us-east-1c", "us-east-1f"), nat_strategy=NatStrategy.NONE
    )
    assert pulumi_mocks.one(SUBNET, "sg-private-1").inputs["availabilityZoneId"] == "use1-az6"
    assert out["zone_ids"] == ["use1-az3", "use1-az6"]


def test_zones_offer_the_endpoint_services_and_instance_types(pulumi_mocks: SgarchMocks) -> None:
    # us-east-1a lacks m6a.xlarge, us-east-1b the ssm endpoint service: today's first-two-names rule would take
    # both and fail at pulumi up (the instance or the endpoint refused in that zone).
    FakeNetwork().without_instance_type("m6a.xlarge", "use1-az1").without_service(
        "ssm", "us-east-1b"
    ).install(pulumi_mocks)
    _, out = _plan(pulumi_mocks, interface_endpoints=("ssm",), required_instance_types=("m6a.xlarge",))
    assert out["zone_ids"] == ["use1-az3", "use1-az4"]
    assert out["zones"] == ["us-east-1c", "us-east-1d"]
    assert pulumi_mocks.one(SUBNET, "sg-public-0").inputs["availabilityZoneId"] == "use1-az3"
    (offerings,) = pulumi_mocks.invoked("aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings")
    assert offerings.args["locationType"] == "availability-zone-id"
    assert offerings.args["filters"] == [{"name": "instance-type", "values": ["m6a.xlarge"]}]
    (service,) = pulumi_mocks.invoked("aws:ec2/getVpcEndpointService:getVpcEndpointService")
    assert (service.args["service"], service.args["serviceType"]) == ("ssm", "Interface")


def test_zones_offer_the_endpoint_services_a_composition_creates(pulumi_mocks: SgarchMocks) -> None:
    # The POC on EKS creates its ec2, elasticloadbalancing and eks-auth endpoints itself: the Network creates
    # none of them, yet its zones must offer them.
    FakeNetwork().without_service("eks-auth", "us-east-1a").install(pulumi_mocks)
    _, out = _plan(pulumi_mocks, required_endpoint_services=("eks-auth",))
    assert out["zone_ids"] == ["use1-az2", "use1-az3"]
    # Only the free S3 gateway endpoint: the composition creates the eks-auth endpoint, not the Network.
    endpoints = pulumi_mocks.by_type("aws:ec2/vpcEndpoint:VpcEndpoint")
    assert [r.inputs["vpcEndpointType"] for r in endpoints] == ["Gateway"]


def test_pinned_zone_ids(pulumi_mocks: SgarchMocks) -> None:
    _, out = _plan(pulumi_mocks, availability_zone_ids=("use1-az6", "use1-az4"))
    assert [pulumi_mocks.one(SUBNET, f"sg-private-{i}").inputs["availabilityZoneId"] for i in (0, 1)] == [
        "use1-az6",
        "use1-az4",
    ]
    assert out["zone_ids"] == ["use1-az6", "use1-az4"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"availability_zone_ids": ("use1-az1", "use1-az2")},
            "availability_zone_ids must be zones that offer everything the stack needs (got 'use1-az1'): "
            "us-east-1a (use1-az1) lacks m6a.xlarge; choose among use1-az2, use1-az3, use1-az4, use1-az5, use1-az6.",
        ),
        (
            {"availability_zone_ids": ("use1-az9", "use1-az2")},
            "availability_zone_ids must be zones of this region (use1-az1, use1-az2, use1-az3, use1-az4, use1-az5, "
            "use1-az6) (got 'use1-az9')",
        ),
        (
            {"az_count": 6},
            "az_count must be at most 5, the zones of this region that offer everything the stack needs (got 6): "
            "us-east-1a (use1-az1) lacks m6a.xlarge: lower az_count, choose another instance type or region.",
        ),
    ],
)
def test_zones_that_cannot_hold_the_stack_fail_before_any_resource(
    pulumi_mocks: SgarchMocks, kwargs: dict[str, Any], message: str
) -> None:
    FakeNetwork().without_instance_type("m6a.xlarge", "use1-az1").install(pulumi_mocks)
    with pytest.raises(ConfigError) as info:
        pulumi_mocks.run(
            lambda: Network("sg", NetworkArgs(required_instance_types=("m6a.xlarge",), **kwargs))
        )
    assert str(info.value) == message if message.endswith(".") else str(info.value).startswith(message)
    assert [r.type for r in pulumi_mocks.resources] == ["sgarch:network:Network"]


def test_brought_vpc_endpoints_admit_every_block_of_the_vpc(pulumi_mocks: SgarchMocks) -> None:
    FakeNetwork().vpc("vpc-1", cidr_blocks=("10.0.0.0/16", "100.64.0.0/16")).install(pulumi_mocks)
    _, out = _plan(
        pulumi_mocks, vpc_id="vpc-1", private_subnet_ids=["subnet-a"], interface_endpoints=("ssm",)
    )
    sg = pulumi_mocks.one(SG, "sg-endpoints-sg")
    rules = {r.name: r.inputs for r in pulumi_mocks.by_type(INGRESS)}
    assert {name: rule["cidrIpv4"] for name, rule in rules.items()} == {
        "sg-endpoints-https": "10.0.0.0/16",
        "sg-endpoints-https-1": "100.64.0.0/16",
    }
    assert all(rule["securityGroupId"] == sg.id and rule["fromPort"] == 443 for rule in rules.values())
    assert out["vpc_cidrs"] == ["10.0.0.0/16", "100.64.0.0/16"]


def test_bring_your_own_vpc_creates_no_network(pulumi_mocks: SgarchMocks) -> None:
    _, out = _plan(
        pulumi_mocks,
        vpc_id="vpc-0123456789abcdef0",
        private_subnet_ids=["subnet-a", "subnet-b"],
        public_subnet_ids=pulumi.Output.from_input(["subnet-c"]),
        interface_endpoints=("ssm",),
    )
    for type_ in (VPC, SUBNET, NAT, EIP, IGW, RT, ROUTE):
        assert pulumi_mocks.by_type(type_) == []
    assert out == {
        "vpc_id": "vpc-0123456789abcdef0",
        "vpc_cidr": "10.0.0.0/16",
        "private": ["subnet-a", "subnet-b"],
        "public": ["subnet-c"],
        "zones": [],
        "zone_ids": [],
        "vpc_cidrs": ["10.0.0.0/16"],
    }
    ssm = pulumi_mocks.one(ENDPOINT)
    assert ssm.inputs["vpcId"] == "vpc-0123456789abcdef0"
    assert ssm.inputs["subnetIds"] == ["subnet-a", "subnet-b"]
    assert pulumi_mocks.one(INGRESS).inputs["cidrIpv4"] == "10.0.0.0/16"


def test_bring_your_own_vpc_without_endpoints_registers_only_the_component(pulumi_mocks: SgarchMocks) -> None:
    _plan(pulumi_mocks, vpc_id="vpc-1", private_subnet_ids=["subnet-a"])
    assert [r.type for r in pulumi_mocks.resources] == ["sgarch:network:Network"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"az_count": 7}, "az_count must be between 1 and 6 (got 7)"),
        ({"vpc_cidr": "10.0.0.0/33"}, "vpc_cidr must be an IPv4 CIDR block (got '10.0.0.0/33')"),
        ({"vpc_id": "vpc-1"}, "private_subnet_ids must be at least one subnet id with vpc_id (got None)"),
        ({"vpc_id": "vpc-1", "private_subnet_ids": []}, "private_subnet_ids must be at least one subnet id"),
        (
            {"vpc_id": "vpc-1", "private_subnet_ids": ["s"], "vpc_cidr": "10.1.0.0/16"},
            "vpc_cidr must be unset with vpc_id (got '10.1.0.0/16'): it shapes only a VPC sgarch creates.",
        ),
        (
            {"vpc_id": "vpc-1", "private_subnet_ids": ["s"], "s3_gateway_endpoint": True},
            "s3_gateway_endpoint must be false with vpc_id (got True)",
        ),
        ({"private_subnet_ids": ["s"]}, "vpc_id must be set when private_subnet_ids is (got None)"),
        (
            {"private_only": True, "nat_strategy": NatStrategy.SINGLE},
            "nat_strategy must be none with private_only (got 'single')",
        ),
        ({"interface_endpoints": ("ssm", "ec2")}, "interface_endpoints must be a subset of ssm, ssmmessages"),
        ({"interface_endpoints": ("ssm", "ssm")}, "interface_endpoints must be free of duplicates"),
        (
            {"availability_zones": ("us-east-1a",), "az_count": 2},
            "az_count must be 1 (the number of availability_zones) or unset (got 2)",
        ),
        ({"availability_zones": ("a", "a")}, "availability_zones must be 1 to 6 distinct zone names"),
        (
            {"availability_zone_ids": ("use1-az1",) * 2},
            "availability_zone_ids must be 1 to 6 distinct zone ids",
        ),
        (
            {"availability_zones": ("us-east-1a",), "availability_zone_ids": ("use1-az1",)},
            "availability_zones must be unset with availability_zone_ids",
        ),
        (
            {"vpc_id": "vpc-1", "private_subnet_ids": ["s"], "required_instance_types": ("m6a.large",)},
            "required_instance_types must be unset with vpc_id",
        ),
        (
            {"vpc_id": "vpc-1", "private_subnet_ids": ["s"], "required_endpoint_services": ("ec2",)},
            "required_endpoint_services must be unset with vpc_id",
        ),
        ({"tags": {"sgarch:stack": "x"}}, "tags must be free of keys starting with 'sgarch:'"),
    ],
)
def test_invalid_args_fail_before_any_resource(
    pulumi_mocks: SgarchMocks, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        pulumi_mocks.run(lambda: Network("sg", NetworkArgs(**kwargs)))
    assert str(info.value).startswith(message)
    assert pulumi_mocks.resources == []


def test_too_many_zones_for_the_region(pulumi_mocks: SgarchMocks) -> None:
    pulumi_mocks.set_config({"aws:region": "eu-west-1"})
    with pytest.raises(ConfigError, match=r"^az_count must be at most 3, the zones available in this region"):
        _plan(pulumi_mocks, az_count=4)


def test_args_are_frozen_and_strict() -> None:
    args = NetworkArgs()
    with pytest.raises(ValueError, match="frozen"):
        args.az_count = 3  # type: ignore[misc]
    with pytest.raises(ConfigError, match=r"^azs must be a known setting \(got 3\): remove it"):
        NetworkArgs(azs=3)  # type: ignore[call-arg]
    assert args.effective_nat_strategy is NatStrategy.SINGLE
    assert NetworkArgs(private_only=True).effective_nat_strategy is NatStrategy.NONE


def test_nat_waits_for_the_internet_gateway_and_zones_exclude_local_zones(pulumi_mocks: SgarchMocks) -> None:
    pulumi_mocks.run(lambda: Network("net", NetworkArgs(nat_strategy=NatStrategy.ONE_PER_AZ)))
    igw = pulumi_mocks.one("aws:ec2/internetGateway:InternetGateway")
    for nat in pulumi_mocks.by_type("aws:ec2/natGateway:NatGateway"):
        assert igw.urn in nat.options.depends_on
    (call,) = pulumi_mocks.invoked("aws:index/getAvailabilityZones:getAvailabilityZones")
    assert {"name": "opt-in-status", "values": ["opt-in-not-required"]} in call.args["filters"]


def test_a_vpc_for_an_eks_cluster_skips_zones_eks_refuses(pulumi_mocks: SgarchMocks) -> None:
    FakeNetwork().without_instance_type("m6a.4xlarge", "use1-az2").install(pulumi_mocks)
    _, out = _plan(pulumi_mocks, required_instance_types=("m6a.4xlarge",), eks_cluster=True)
    # use1-az2 lacks the node type; use1-az3, next in the region's order, cannot hold the control plane.
    assert out["zone_ids"] == ["use1-az1", "use1-az4"]
    assert [pulumi_mocks.one(SUBNET, f"sg-private-{i}").inputs["availabilityZoneId"] for i in (0, 1)] == [
        "use1-az1",
        "use1-az4",
    ]


def test_a_vpc_without_an_eks_cluster_may_use_those_zones(pulumi_mocks: SgarchMocks) -> None:
    _, out = _plan(pulumi_mocks, availability_zone_ids=("use1-az3", "use1-az1"))
    assert out["zone_ids"] == ["use1-az3", "use1-az1"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"availability_zone_ids": ("use1-az1", "use1-az3"), "eks_cluster": True},
            "availability_zone_ids must be zones where EKS can place the cluster's control plane (got 'use1-az3')",
        ),
        (
            {"vpc_id": "vpc-1", "private_subnet_ids": ["s"], "eks_cluster": True},
            "eks_cluster must be unset with vpc_id (got True)",
        ),
    ],
)
def test_eks_zone_rules_fail_before_any_resource(
    pulumi_mocks: SgarchMocks, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        pulumi_mocks.run(lambda: Network("sg", NetworkArgs(**kwargs)))
    assert str(info.value).startswith(message)
    assert pulumi_mocks.resources == []
