"""SingleNode under Pulumi mocks, with a brought VPC so only the component's own resources exist."""

from __future__ import annotations

from typing import Any

import pytest

from sgarch.errors import ConfigError
from sgarch.single_node.args import LoadBalancerArgs, SingleNodeArgs
from sgarch.single_node.component import SingleNode
from sgarch.sizing import Workload
from sgarch.sizing.storage import data_volume_gib
from sgarch.testing import FakeNetwork, SgarchMocks, mocked_runtime
from sgarch.tiers import TIERS, Tier, machine_tiers
from sgarch.validation import build

VPC = "vpc-0123456789abcdef0"
SUBNET = "subnet-0123456789abcdef0"

VOLUME = "aws:ebs/volume:Volume"
INSTANCE = "aws:ec2/instance:Instance"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
PREFIX_LIST = "aws:ec2/managedPrefixList:ManagedPrefixList"


def plan(mocks: SgarchMocks, **kwargs: Any) -> SingleNode:
    args = SingleNodeArgs(vpc_id=VPC, subnet_id=SUBNET, **kwargs)
    return mocks.run(lambda: SingleNode("sg", args))


@pytest.mark.parametrize("tier", machine_tiers(), ids=str)
def test_instance_and_volumes_per_tier(pulumi_mocks: SgarchMocks, tier: Tier) -> None:
    plan(pulumi_mocks, tier=tier)
    spec = TIERS[tier]
    instance = pulumi_mocks.one(INSTANCE).inputs
    assert instance["instanceType"] == spec.recommended_instance_type
    assert instance["metadataOptions"]["httpTokens"] == "required"
    assert instance["metadataOptions"]["httpPutResponseHopLimit"] == 1
    assert instance["rootBlockDevice"]["encrypted"] is True
    assert instance["rootBlockDevice"]["volumeType"] == "gp3"
    assert instance["ebsOptimized"] is True and instance["monitoring"] is True
    assert "keyName" not in instance
    assert instance["associatePublicIpAddress"] is False
    assert instance["userDataReplaceOnChange"] is True
    # volume_tags would overwrite the data volume's tags (and its backup tag) through the attachment.
    assert "volumeTags" not in instance
    assert instance["rootBlockDevice"]["tags"]["sgarch:role"] == "root"

    volume = pulumi_mocks.one(VOLUME)
    assert volume.inputs["encrypted"] is True
    assert volume.inputs["type"] == "gp3"
    assert volume.inputs["finalSnapshot"] is True
    assert volume.options.protect and volume.options.retain_on_delete
    assert spec.data_volume is not None
    assert volume.inputs["iops"] == spec.data_volume.iops
    assert volume.inputs["throughput"] == spec.data_volume.throughput_mibps
    assert volume.parent_type == "sgarch:single-node:SingleNode"

    attachment = pulumi_mocks.one("aws:ec2/volumeAttachment:VolumeAttachment")
    assert attachment.inputs["deviceName"] == "/dev/sdf"
    assert attachment.inputs["stopInstanceBeforeDetaching"] is True
    # The old attachment must go before a replacement instance can take the volume.
    assert attachment.options.delete_before_replace


def test_no_ingress_and_no_ssh_without_a_load_balancer(pulumi_mocks: SgarchMocks) -> None:
    plan(pulumi_mocks)
    assert pulumi_mocks.by_type(INGRESS) == []
    assert pulumi_mocks.by_type("aws:lb/loadBalancer:LoadBalancer") == []
    sg = pulumi_mocks.one("aws:ec2/securityGroup:SecurityGroup").inputs
    assert "ingress" not in sg or not sg["ingress"]


def test_instance_role_is_ssm_and_cloudwatch_only(pulumi_mocks: SgarchMocks) -> None:
    plan(pulumi_mocks)
    arns = sorted(
        r.inputs["policyArn"]
        for r in pulumi_mocks.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if r.name.startswith("sg-ssm") or r.name.startswith("sg-cloudwatch")
    )
    assert arns == [
        "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
        "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy",
    ]
    assert pulumi_mocks.by_type("aws:iam/rolePolicy:RolePolicy") == []


def test_containers_get_the_role_only_when_asked(pulumi_mocks: SgarchMocks) -> None:
    plan(pulumi_mocks, containers_use_instance_role=True)
    assert pulumi_mocks.one(INSTANCE).inputs["metadataOptions"]["httpPutResponseHopLimit"] == 2


def test_internal_alb_admits_the_vpc_and_forwards_to_port_80(pulumi_mocks: SgarchMocks) -> None:
    lb = LoadBalancerArgs(
        certificate_arn="arn:aws:acm:us-east-1:123456789012:certificate/x", subnet_ids=[SUBNET, "subnet-2"]
    )
    plan(pulumi_mocks, load_balancer=lb)
    alb = pulumi_mocks.one("aws:lb/loadBalancer:LoadBalancer").inputs
    assert alb["internal"] is True and alb["dropInvalidHeaderFields"] is True
    rules = [r.inputs for r in pulumi_mocks.by_type(INGRESS)]
    world = [r for r in rules if r.get("cidrIpv4") in ("0.0.0.0/0",)]
    assert world == []
    instance_rules = [r for r in rules if "referencedSecurityGroupId" in r]
    assert [(r["fromPort"], r["toPort"]) for r in instance_rules] == [(80, 80)]
    listeners = {r.inputs["port"]: r.inputs for r in pulumi_mocks.by_type("aws:lb/listener:Listener")}
    assert listeners[443]["protocol"] == "HTTPS" and listeners[443]["sslPolicy"].startswith(
        "ELBSecurityPolicy-TLS13"
    )
    assert listeners[80]["defaultActions"][0]["redirect"]["protocol"] == "HTTPS"
    target_group = pulumi_mocks.one("aws:lb/targetGroup:TargetGroup").inputs
    assert target_group["healthCheck"]["path"] == "/healthz"


def test_an_internal_alb_admits_every_block_of_the_vpc(pulumi_mocks: SgarchMocks) -> None:
    # A VPC with a secondary block: users (and SSM port forwarding) may come from either.
    FakeNetwork().vpc(VPC, cidr_blocks=("10.0.0.0/16", "100.64.0.0/16")).install(pulumi_mocks)
    lb = LoadBalancerArgs(
        certificate_arn="arn:aws:acm:us-east-1:123456789012:certificate/x", subnet_ids=[SUBNET, "subnet-2"]
    )
    plan(pulumi_mocks, load_balancer=lb)
    vpc_list = pulumi_mocks.one(PREFIX_LIST)
    assert sorted(e["cidr"] for e in vpc_list.inputs["entries"]) == ["10.0.0.0/16", "100.64.0.0/16"]
    alb_sg = pulumi_mocks.one("aws:ec2/securityGroup:SecurityGroup", "sg-alb")
    rules = [r.inputs for r in pulumi_mocks.by_type(INGRESS) if r.inputs["securityGroupId"] == alb_sg.id]
    assert sorted((r["fromPort"], r.get("prefixListId"), r.get("cidrIpv4")) for r in rules) == [
        (80, vpc_list.id, None),
        (443, vpc_list.id, None),
    ]


def test_an_alb_and_restricted_egress_share_the_vpcs_prefix_list(pulumi_mocks: SgarchMocks) -> None:
    lb = LoadBalancerArgs(
        certificate_arn="arn:aws:acm:us-east-1:123456789012:certificate/x", subnet_ids=[SUBNET, "subnet-2"]
    )
    plan(
        pulumi_mocks,
        load_balancer=lb,
        egress_allowlist=[{"cidr": "140.82.112.0/20"}],
        aws_endpoints_in_vpc=True,
    )
    # One list (one() fails on two), made by the egress rules and admitted by both ALB rules.
    vpc_list = pulumi_mocks.one(PREFIX_LIST)
    assert vpc_list.inputs["tags"]["sgarch:role"] == "egress"
    egress = [r.inputs.get("prefixListId") for r in pulumi_mocks.by_type(EGRESS)]
    ingress = [r.inputs.get("prefixListId") for r in pulumi_mocks.by_type(INGRESS)]
    assert vpc_list.id in egress and ingress.count(vpc_list.id) == 2


def test_internet_facing_alb_is_explicit(pulumi_mocks: SgarchMocks) -> None:
    lb = LoadBalancerArgs(
        certificate_arn="arn:aws:acm:us-east-1:123456789012:certificate/x",
        subnet_ids=["subnet-1", "subnet-2"],
        internet_facing=True,
        allowed_cidrs=("0.0.0.0/0",),
        zone_id="Z123",
        record_name="sourcegraph.example.com",
    )
    node = plan(pulumi_mocks, load_balancer=lb)
    assert pulumi_mocks.one("aws:lb/loadBalancer:LoadBalancer").inputs["internal"] is False
    world = [r.inputs for r in pulumi_mocks.by_type(INGRESS) if r.inputs.get("cidrIpv4") == "0.0.0.0/0"]
    assert sorted(r["fromPort"] for r in world) == [443]  # the HTTP redirect is never open to the world
    assert pulumi_mocks.one("aws:route53/record:Record").inputs["name"] == "sourcegraph.example.com"
    assert pulumi_mocks.resolve(node.url) == "https://sourcegraph.example.com"


def test_world_open_internal_alb_is_refused() -> None:
    with pytest.raises(ConfigError) as err:
        build(LoadBalancerArgs, None, certificate_arn="arn", subnet_ids=["s"], allowed_cidrs=("0.0.0.0/0",))
    assert str(err.value) == (
        "load_balancer.allowed_cidrs must be private ranges for an internal load balancer (got '0.0.0.0/0'): "
        "name your networks' CIDRs, or set load_balancer.internet_facing to true on purpose."
    )


def test_backups_and_alarms(pulumi_mocks: SgarchMocks) -> None:
    plan(pulumi_mocks, snapshot_retention_days=14, alarm_topic_arn="arn:aws:sns:us-east-1:123456789012:ops")
    policy = pulumi_mocks.one("aws:dlm/lifecyclePolicy:LifecyclePolicy").inputs
    details = policy["policyDetails"]
    # The project and stack of the runtime (pulumi_mocks: test/test), then the component's name.
    assert details["targetTags"] == {"sgarch:backup": "test/test/sg"}
    assert details["schedules"][0]["retainRule"]["count"] == 14
    assert pulumi_mocks.one(VOLUME).tags()["sgarch:backup"] == "test/test/sg"
    alarms = {r.name: r.inputs for r in pulumi_mocks.by_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert alarms["sg-recover"]["alarmActions"][0] == "arn:aws:automate:us-east-1:ec2:recover"
    assert alarms["sg-cpu"]["alarmActions"] == ["arn:aws:sns:us-east-1:123456789012:ops"]
    assert alarms["sg-data-disk"]["dimensions"]["path"] == "/mnt/data"


def test_data_volume_size_follows_the_workload_not_the_tier(pulumi_mocks: SgarchMocks) -> None:
    workload = Workload(users=100, repos=100, total_repo_gb=2000)
    plan(pulumi_mocks, tier=Tier.XL, workload=workload)
    # (1.3 + 0.6 + 0.4) x 2,000 GB of repositories + 151 GB, with 25% headroom, in 50 GiB steps.
    assert pulumi_mocks.one(VOLUME).inputs["size"] == data_volume_gib(workload) == 5950


def test_snapshot_restore(pulumi_mocks: SgarchMocks) -> None:
    plan(pulumi_mocks, data_volume_snapshot_id="snap-0123456789abcdef0")
    assert pulumi_mocks.one(VOLUME).inputs["snapshotId"] == "snap-0123456789abcdef0"


def test_explicit_ami_and_instance_type_win(pulumi_mocks: SgarchMocks) -> None:
    plan(pulumi_mocks, ami_id="ami-0123456789abcdef0", instance_type="m7i.4xlarge")
    instance = pulumi_mocks.one(INSTANCE).inputs
    assert instance["ami"] == "ami-0123456789abcdef0" and instance["instanceType"] == "m7i.4xlarge"
    assert not pulumi_mocks.invoked("aws:ec2/getAmi:getAmi")


def test_sgarch_ami_is_looked_up_by_name_version_and_owner(pulumi_mocks: SgarchMocks) -> None:
    plan(pulumi_mocks, sourcegraph_version="7.5.4453", ami_owner="111122223333")
    (call,) = pulumi_mocks.invoked("aws:ec2/getAmi:getAmi")
    assert call.args["owners"] == ["111122223333"]
    names = [f["values"] for f in call.args["filters"] if f["name"] == "name"]
    assert names == [["sourcegraph-single-node-7.5.4453-*"]]


def test_the_lookup_finds_what_the_ami_builder_names() -> None:
    from pathlib import Path

    import yaml

    from sgarch.single_node.args import AMI_NAME_PREFIX

    spec = yaml.safe_load((Path(__file__).parents[2] / "amis" / "single-node" / "ami.yaml").read_text())
    assert spec["name"] == AMI_NAME_PREFIX


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"tier": "2XL"},
            "tier must be a single-node tier (XS, S, M, L or XL) (got '2XL'): use the EKS architecture for 2XL and 3XL.",
        ),
        (
            {"sourcegraph_version": "latest"},
            "sourcegraph_version must be a release like 7.5.4453 (got 'latest')",
        ),
        ({"data_volume_gib": 50}, "data_volume_gib must be from 100 to 65,536 (got 50)"),
        ({"data_volume_snapshot_id": "snapshot-1"}, "data_volume_snapshot_id must be a snapshot id"),
        (
            {"image": "stock", "sourcegraph_version": "7.6.0"},
            "sourcegraph_version must be a release sgarch has a pinned deploy-sourcegraph-docker commit for "
            "(got '7.6.0'): pick one of them (newest 7.5.4453)",
        ),
    ],
)
def test_bad_arguments_fail_before_any_resource(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        build(SingleNodeArgs, None, vpc_id=VPC, subnet_id=SUBNET, **kwargs)
    assert str(err.value).startswith(message)


# Inputs of aws.ebs.Volume that force a replacement (provider schema: ForceNew).
_REPLACING = ("availabilityZone", "encrypted", "kmsKeyId", "snapshotId", "outpostArn", "multiAttachEnabled")


def _volume_under(**kwargs: Any) -> tuple[str, str | None, dict[str, Any]]:
    from sgarch.testing import mocked_runtime

    with mocked_runtime(SgarchMocks()) as mocks:
        plan(mocks, **kwargs)
        volume = mocks.one(VOLUME)
        return volume.name, volume.parent_name, volume.inputs


def test_upgrades_and_resizes_never_replace_the_data_volume() -> None:
    variants = [
        {"tier": Tier.S, "sourcegraph_version": "7.4.1000", "ami_id": "ami-0aaaaaaaaaaaaaaaa"},
        {"tier": Tier.S, "sourcegraph_version": "7.5.4453", "ami_id": "ami-0aaaaaaaaaaaaaaaa"},
        {"tier": Tier.L, "sourcegraph_version": "7.5.4453", "ami_id": "ami-0bbbbbbbbbbbbbbbb"},
        {"tier": Tier.XS, "sourcegraph_version": "7.4.1000", "ami_id": "ami-0bbbbbbbbbbbbbbbb"},
    ]
    seen = [_volume_under(**v) for v in variants]
    first_name, first_parent, first_inputs = seen[0]
    for name, parent, inputs in seen[1:]:
        assert (name, parent) == (first_name, first_parent)
        for key in _REPLACING:
            assert inputs.get(key) == first_inputs.get(key), key
        # Size never follows the tier; only IOPS and throughput do, and those change in place.
        assert inputs["size"] == first_inputs["size"]
    assert {s[2]["iops"] for s in seen} == {3000, 16000}


def test_size_changes_only_when_asked() -> None:
    _, _, default = _volume_under(tier=Tier.M)
    _, _, grown = _volume_under(tier=Tier.M, data_volume_gib=900)
    assert default["size"] == 500 and grown["size"] == 900


def test_a_computed_size_is_never_updated_but_an_explicit_one_is(pulumi_mocks: SgarchMocks) -> None:
    plan(pulumi_mocks, workload=Workload(users=100, repos=100, total_repo_gb=2000))
    assert pulumi_mocks.one(VOLUME).options.ignore_changes == ("size",)
    with mocked_runtime(SgarchMocks()) as explicit:
        plan(explicit, data_volume_gib=900)
        assert explicit.one(VOLUME).options.ignore_changes == ()


@pytest.mark.parametrize("tier", machine_tiers(), ids=str)
def test_user_data_is_the_golden_renderer_output(pulumi_mocks: SgarchMocks, tier: Tier) -> None:
    from sgarch.host import UserDataConfig, render_user_data
    from sgarch.sizing import estimate_for_tier
    from sgarch.sizing.compose import render_compose_override

    plan(pulumi_mocks, tier=tier)
    volume_id = pulumi_mocks.one(VOLUME).id
    spec = TIERS[tier]
    expected = render_user_data(
        UserDataConfig(
            sourcegraph_version="7.5.4453",
            compose_override=render_compose_override(
                estimate_for_tier(tier), float(spec.vcpu), float(spec.memory_gb)
            ),
            data_volume_id=volume_id,
            region="us-east-1",
        )
    )
    assert pulumi_mocks.one(INSTANCE).inputs["userData"] == expected


def test_ipv6_ranges_use_the_ipv6_field(pulumi_mocks: SgarchMocks) -> None:
    lb = LoadBalancerArgs(
        certificate_arn="arn:aws:acm:us-east-1:123456789012:certificate/x",
        subnet_ids=["subnet-1", "subnet-2"],
        internet_facing=True,
        allowed_cidrs=("0.0.0.0/0", "::/0"),
    )
    plan(pulumi_mocks, load_balancer=lb)
    rules = [r.inputs for r in pulumi_mocks.by_type(INGRESS) if "referencedSecurityGroupId" not in r.inputs]
    assert sorted((r.get("cidrIpv4", ""), r.get("cidrIpv6", ""), r["fromPort"]) for r in rules) == [
        ("", "::/0", 443),
        ("0.0.0.0/0", "", 443),
    ]


def test_stock_instance_gets_the_pinned_commit_of_its_release(pulumi_mocks: SgarchMocks) -> None:
    # install.sh refuses a release whose tag is not at this commit; the sgarch image carries its release.
    plan(pulumi_mocks, image="stock", sourcegraph_version="7.5.4453")
    user_data = pulumi_mocks.one(INSTANCE).inputs["userData"]
    assert "SGARCH_DEPLOY_COMMIT=d4187d0c31e4fccc6b0edca3287b51b7e521853b" in user_data


@pytest.mark.parametrize(
    ("tier", "instance_type", "message"),
    [
        (
            "S",
            "m6a.3xlarge",
            "instance_type must be an EC2 instance type (got 'm6a.3xlarge'): the closest are m6a",
        ),
        (
            "M",
            "m6a.2xlarge",
            "instance_type must be at least 16 vCPU / 64 GiB for tier M (got 'm6a.2xlarge')",
        ),
        (
            "L",
            "c6a.8xlarge",
            "instance_type must be at least 32 vCPU / 128 GiB for tier L (got 'c6a.8xlarge')",
        ),
        ("S", "m7g.4xlarge", "instance_type must be an x86_64 instance type (got 'm7g.4xlarge')"),
        ("XS", "t3.micro", "instance_type must be at least 8 vCPU / 32 GiB for tier XS (got 't3.micro')"),
    ],
)
def test_instance_type_is_checked_before_any_resource(tier: str, instance_type: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        SingleNodeArgs(vpc_id=VPC, subnet_id=SUBNET, tier=tier, instance_type=instance_type)
    assert str(err.value).startswith(message)


@pytest.mark.parametrize(
    ("tier", "instance_type"), [("L", "m6a.8xlarge"), ("M", "r6i.4xlarge"), ("XL", "m7i.48xlarge")]
)
def test_instance_type_at_or_above_the_tier_minimum_is_accepted(tier: str, instance_type: str) -> None:
    assert (
        SingleNodeArgs(vpc_id=VPC, subnet_id=SUBNET, tier=tier, instance_type=instance_type).instance_type
        == instance_type
    )
