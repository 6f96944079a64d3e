from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from sgarch.network.zones import EKS_UNSUPPORTED_ZONE_IDS
from sgarch.testing import ACCOUNT_ID, SgarchMocks, UnmockedInvokeError, mocked_runtime

STACK_URN = "urn:pulumi:test::test::pulumi:pulumi:Stack::test-test"


def test_ids_and_arns_are_plausible(pulumi_mocks: SgarchMocks) -> None:
    def program() -> None:
        vpc = aws.ec2.Vpc("net", cidr_block="10.0.0.0/16")
        aws.ec2.Subnet("net-a", vpc_id=vpc.id, cidr_block="10.0.0.0/24")
        aws.ec2.SecurityGroup("web", vpc_id=vpc.id, description="web")
        aws.ebs.Volume("data", availability_zone="us-east-1a", size=10)

    pulumi_mocks.run(program)
    vpc = pulumi_mocks.one("aws:ec2/vpc:Vpc")
    assert re.fullmatch(r"vpc-[0-9a-f]{17}", vpc.id)
    assert vpc.outputs["arn"] == f"arn:aws:ec2:us-east-1:{ACCOUNT_ID}:vpc/{vpc.id}"
    subnet = pulumi_mocks.one("aws:ec2/subnet:Subnet", "net-a")
    assert subnet.id.startswith("subnet-")
    # Dependants receive the id the mocks gave, not an empty value.
    assert subnet.inputs["vpcId"] == vpc.id
    assert subnet.outputs["availabilityZone"] == "us-east-1a"
    assert pulumi_mocks.one("aws:ec2/securityGroup:SecurityGroup").id.startswith("sg-")
    assert pulumi_mocks.one("aws:ebs/volume:Volume").id.startswith("vol-")


def test_ids_are_deterministic() -> None:
    ids = []
    for _ in range(2):
        with mocked_runtime() as mocks:
            mocks.run(lambda: aws.ec2.Vpc("net", cidr_block="10.0.0.0/16"))
            ids.append(mocks.one("aws:ec2/vpc:Vpc").id)
    assert ids[0] == ids[1]


def test_autonaming_reaches_dependants(pulumi_mocks: SgarchMocks) -> None:
    def program() -> None:
        role = aws.iam.Role("node", assume_role_policy="{}")
        aws.iam.RolePolicyAttachment("node-ssm", role=role.name, policy_arn="arn:aws:iam::aws:policy/X")
        profile = aws.iam.InstanceProfile("node", role=role.name)
        aws.lb.LoadBalancer("a-very-long-load-balancer-name-indeed", internal=True)
        aws.iam.Role("named", name="explicit", assume_role_policy="{}")
        pulumi.export("profile", profile.name)

    pulumi_mocks.run(program)
    role = pulumi_mocks.one("aws:iam/role:Role", "node")
    name = role.outputs["name"]
    assert re.fullmatch(r"node-[0-9a-f]{7}", name)
    assert "name" not in role.inputs  # the program did not set it; the provider (mock) did
    assert role.id == name
    assert role.outputs["arn"] == f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"
    assert pulumi_mocks.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment").inputs["role"] == name
    assert pulumi_mocks.one("aws:iam/instanceProfile:InstanceProfile").inputs["role"] == name
    lb = pulumi_mocks.one("aws:lb/loadBalancer:LoadBalancer")
    assert len(lb.outputs["name"]) == 32
    assert lb.outputs["dnsName"].startswith("internal-" + lb.outputs["name"])
    assert lb.id.startswith(f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT_ID}:loadbalancer/app/")
    assert pulumi_mocks.one("aws:iam/role:Role", "named").outputs["name"] == "explicit"
    assert re.fullmatch(r"node-[0-9a-f]{7}", pulumi_mocks.exports()["profile"])


def test_parent_and_options_are_recorded(pulumi_mocks: SgarchMocks) -> None:
    class Box(pulumi.ComponentResource):
        def __init__(self, name: str) -> None:
            super().__init__("test:index:Box", name)
            aws.ebs.Volume(
                f"{name}-vol",
                availability_zone="us-east-1a",
                size=10,
                opts=pulumi.ResourceOptions(
                    parent=self, protect=True, retain_on_delete=True, ignore_changes=["tags"]
                ),
            )
            self.register_outputs({})

    pulumi_mocks.run(lambda: Box("box"))
    box = pulumi_mocks.one("test:index:Box")
    assert box.parent == STACK_URN
    assert not box.custom
    vol = pulumi_mocks.one("aws:ebs/volume:Volume")
    assert vol.parent == box.urn
    assert vol.parent_name == "box"
    assert vol.parent_type == "test:index:Box"
    assert vol.protect
    assert vol.options.non_default() == {
        "protect": True,
        "retain_on_delete": True,
        "ignore_changes": ["tags"],
    }
    assert pulumi_mocks.children(box) == [vol]


def test_common_invokes_answer_realistic_data(pulumi_mocks: SgarchMocks) -> None:
    pulumi_mocks.set_config({"aws:region": "eu-west-1"})

    def program() -> dict[str, Any]:
        ami = aws.ec2.get_ami(
            owners=["amazon"],
            most_recent=True,
            filters=[{"name": "name", "values": ["al2023-ami-2023.*-kernel-6.1-arm64"]}],
        )
        return {
            "ami": ami,
            "zones": aws.get_availability_zones(state="available"),
            "caller": aws.get_caller_identity(),
            "region": aws.get_region(),
            "partition": aws.get_partition(),
        }

    got = pulumi_mocks.run(program)
    assert re.fullmatch(r"ami-[0-9a-f]{17}", got["ami"].id)
    assert got["ami"].architecture == "arm64"
    assert got["ami"].name == "al2023-ami-2023.20240101-kernel-6.1-arm64"
    assert got["zones"].names == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    assert got["zones"].zone_ids == ["euw1-az1", "euw1-az2", "euw1-az3"]
    assert got["caller"].account_id == ACCOUNT_ID
    assert got["region"].region == "eu-west-1"
    assert got["partition"].partition == "aws"
    assert got["partition"].dns_suffix == "amazonaws.com"
    assert pulumi_mocks.invokes[0].token == "aws:ec2/getAmi:getAmi"
    assert pulumi_mocks.invoked("aws:ec2/getAmi:getAmi")[0].args["mostRecent"] is True


def test_vpc_and_subnet_lookups(pulumi_mocks: SgarchMocks) -> None:
    def program() -> dict[str, Any]:
        return {
            "vpc": aws.ec2.get_vpc(id="vpc-0123456789abcdef0"),
            "subnet": aws.ec2.get_subnet(id="subnet-0123456789abcdef0"),
            "subnets": aws.ec2.get_subnets(filters=[{"name": "vpc-id", "values": ["vpc-0123456789abcdef0"]}]),
        }

    got = pulumi_mocks.run(program)
    assert got["vpc"].id == "vpc-0123456789abcdef0"
    assert got["vpc"].cidr_block == "10.0.0.0/16"
    assert got["subnet"].id == "subnet-0123456789abcdef0"
    assert got["subnet"].availability_zone.startswith("us-east-1")
    assert len(got["subnets"].ids) == 2
    assert all(i.startswith("subnet-") for i in got["subnets"].ids)


def test_policy_document_is_rendered(pulumi_mocks: SgarchMocks) -> None:
    doc = pulumi_mocks.run(
        lambda: aws.iam.get_policy_document(
            statements=[
                {
                    "actions": ["sts:AssumeRole"],
                    "principals": [{"type": "Service", "identifiers": ["ec2.amazonaws.com"]}],
                }
            ]
        )
    )
    assert json.loads(doc.json) == {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ec2.amazonaws.com"}}
        ],
    }


def test_unknown_invoke_raises_instead_of_returning_nothing(pulumi_mocks: SgarchMocks) -> None:
    with pytest.raises(UnmockedInvokeError, match=r"invoke aws:eks/getCluster:getCluster is not mocked"):
        pulumi_mocks.run(lambda: aws.eks.get_cluster(name="nope"))


def test_users_can_register_invokes_and_resource_outputs(pulumi_mocks: SgarchMocks) -> None:
    def get_cluster(args: Mapping[str, Any], region: str) -> Mapping[str, Any]:
        return {"id": args["name"], "name": args["name"], "endpoint": f"https://{args['name']}.{region}.eks"}

    pulumi_mocks.register_invoke("aws:eks/getCluster:getCluster", get_cluster)
    pulumi_mocks.register_resource("aws:ec2/vpc:Vpc", lambda args, state: {"ownerId": "999999999999"})

    def program() -> str:
        aws.ec2.Vpc("net", cidr_block="10.0.0.0/16")
        return aws.eks.get_cluster(name="sg").endpoint

    assert pulumi_mocks.run(program) == "https://sg.us-east-1.eks"
    assert pulumi_mocks.one("aws:ec2/vpc:Vpc").outputs["ownerId"] == "999999999999"


def test_secrets_are_unwrapped_for_tests_and_redacted_for_output(pulumi_mocks: SgarchMocks) -> None:
    pulumi_mocks.run(
        lambda: aws.ssm.Parameter("pw", type="SecureString", value=pulumi.Output.secret("hunter2"))
    )
    record = pulumi_mocks.one("aws:ssm/parameter:Parameter")
    assert record.inputs["value"] == "hunter2"
    assert record.secret_inputs == frozenset({"value"})
    assert record.redacted_inputs()["value"] == "[secret]"
    assert record.redacted_inputs()["type"] == "SecureString"


def test_config_reaches_the_program(pulumi_mocks: SgarchMocks) -> None:
    pulumi_mocks.set_config(
        {"test:count": 3, "test:on": True, "test:list": ["a"]}, secret_keys=["test:count"]
    )

    def program() -> tuple[int, bool, list[str]]:
        config = pulumi.Config()
        return config.require_int("count"), config.require_bool("on"), config.require_object("list")

    assert pulumi_mocks.run(program) == (3, True, ["a"])


def test_each_test_starts_empty_first(pulumi_mocks: SgarchMocks) -> None:
    assert pulumi_mocks.resources == []
    pulumi_mocks.run(lambda: aws.ec2.Vpc("leftover", cidr_block="10.0.0.0/16"))
    assert pulumi_mocks.names("aws:ec2/vpc:Vpc") == ["leftover"]


def test_each_test_starts_empty_second(pulumi_mocks: SgarchMocks) -> None:
    # Nothing from the previous test, and the root stack is new (a second Stack would raise).
    assert pulumi_mocks.resources == []
    assert pulumi.runtime.get_config("test:count") is None
    pulumi_mocks.run(lambda: aws.ec2.Vpc("fresh", cidr_block="10.0.0.0/16"))
    assert pulumi_mocks.names("aws:ec2/vpc:Vpc") == ["fresh"]


def test_one_lists_what_exists_when_it_fails(pulumi_mocks: SgarchMocks) -> None:
    pulumi_mocks.run(lambda: aws.ec2.Vpc("net", cidr_block="10.0.0.0/16"))
    with pytest.raises(AssertionError, match=r"expected exactly one aws:ec2/subnet:Subnet, found 0; .*net"):
        pulumi_mocks.one("aws:ec2/subnet:Subnet")


@pytest.mark.parametrize("region", ["us-east-1", "us-west-1", "ca-central-1"])
def test_default_subnets_sit_where_eks_accepts_a_cluster(region: str) -> None:
    # A brought VPC's subnets serve the eks stack and the POC on EKS too; a default answer in use1-az3 would
    # make every such plan fail on the check that refuses that zone. The example's subnet-0123456789abcdef0
    # is among those the id alone would place there.
    ids = ["subnet-0123456789abcdef0", "subnet-0aaaaaaaaaaaaaaaa"] + [f"subnet-{i:017x}" for i in range(48)]
    with mocked_runtime(SgarchMocks(region=region), config={"aws:region": region}) as mocks:
        subnets = mocks.run(lambda: [aws.ec2.get_subnet(id=i) for i in ids])
        zones = mocks.run(lambda: aws.get_availability_zones(state="available"))
    names_to_ids = dict(zip(zones.names, zones.zone_ids, strict=True))
    assert {s.availability_zone_id for s in subnets}.isdisjoint(EKS_UNSUPPORTED_ZONE_IDS)
    assert all(names_to_ids[s.availability_zone] == s.availability_zone_id for s in subnets)
    # Still spread over the zones EKS accepts, so two subnets usually land in two zones.
    assert {s.availability_zone_id for s in subnets} == set(zones.zone_ids) - EKS_UNSUPPORTED_ZONE_IDS
