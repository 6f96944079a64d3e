"""stacks/single-node/__main__.py runs offline under the mocks for every tier it supports."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pytest

from sgarch.errors import ConfigError
from sgarch.testing import SgarchMocks, mocked_runtime
from sgarch.tiers import TIERS, Tier, machine_tiers

STACK = Path(__file__).parents[2] / "stacks" / "single-node"
PROJECT = "sgarch-single-node"


def run_stack(**config: Any) -> tuple[SgarchMocks, dict[str, Any]]:
    values = {
        f"{PROJECT}:{k}": v if isinstance(v, str) else __import__("json").dumps(v) for k, v in config.items()
    }
    values.setdefault("aws:region", "us-east-1")
    with mocked_runtime(SgarchMocks(), project=PROJECT, stack="dev", config=values) as mocks:
        mocks.run(lambda: runpy.run_path(str(STACK / "__main__.py"), run_name="__main__"))
        return mocks, mocks.exports()


@pytest.mark.parametrize("tier", machine_tiers(), ids=str)
def test_every_tier_plans_offline(tier: Tier) -> None:
    mocks, exports = run_stack(tier=tier.value)
    instance = mocks.one("aws:ec2/instance:Instance").inputs
    assert instance["instanceType"] == TIERS[tier].recommended_instance_type
    assert instance["metadataOptions"]["httpTokens"] == "required"
    assert "keyName" not in instance
    for volume in [mocks.one("aws:ebs/volume:Volume").inputs, instance["rootBlockDevice"]]:
        assert volume["encrypted"] is True
    assert mocks.one("aws:ebs/volume:Volume").options.protect
    assert exports["tier"] == tier.value
    assert set(exports) >= {"url", "instance_id", "data_volume_id"}
    # A new VPC with a private subnet for the instance and no world-open ingress anywhere.
    assert len(mocks.by_type("aws:ec2/vpc:Vpc")) == 1
    for rule in mocks.by_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"):
        assert rule.inputs.get("cidrIpv4") != "0.0.0.0/0"
    for group in mocks.by_type("aws:ec2/securityGroup:SecurityGroup"):
        for rule in group.inputs.get("ingress") or []:
            assert "0.0.0.0/0" not in (rule.get("cidrBlocks") or [])


def test_workload_picks_the_tier_and_sizes_the_volume() -> None:
    mocks, exports = run_stack(users=1000, repos=80000, total_repo_gb=800)
    assert exports["tier"] == "L"
    assert mocks.one("aws:ec2/instance:Instance").inputs["instanceType"] == "m6a.12xlarge"
    assert mocks.one("aws:ebs/volume:Volume").inputs["size"] == 2500


def test_bring_your_own_vpc_creates_no_network() -> None:
    mocks, _ = run_stack(
        vpc_id="vpc-0123456789abcdef0", subnet_ids=["subnet-0123456789abcdef0", "subnet-0fedcba987654321f"]
    )
    for kind in (
        "aws:ec2/vpc:Vpc",
        "aws:ec2/subnet:Subnet",
        "aws:ec2/natGateway:NatGateway",
        "aws:ec2/internetGateway:InternetGateway",
    ):
        assert mocks.by_type(kind) == [], kind
    assert mocks.one("aws:ec2/instance:Instance").inputs["subnetId"] == "subnet-0123456789abcdef0"


def test_internal_alb_with_certificate() -> None:
    mocks, exports = run_stack(certificate_arn="arn:aws:acm:us-east-1:123456789012:certificate/abc")
    assert mocks.one("aws:lb/loadBalancer:LoadBalancer").inputs["internal"] is True
    assert str(exports["url"]).startswith("https://")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"tier": "XXS"}, "tier must be one of XS, S, M, L, XL, 2XL, 3XL (got 'XXS')"),
        ({"tier": "3XL"}, "tier must be a single-node tier (XS, S, M, L or XL) (got '3XL')"),
        ({"vpc_id": "vpc-1"}, "subnet_ids must be set when vpc_id is set"),
        ({"users": "-4", "repos": "10"}, "users must be a whole number from 1 to 50,000 (got -4)"),
        ({"users": "40"}, "repos must be set together with users and repos"),
        (
            {"certificate_arn": "arn:aws:acm:us-east-1:1:certificate/x", "az_count": "1"},
            "az_count must be 2 or more with certificate_arn (got 1): the load balancer needs two zones.",
        ),
        (
            {"certificate_arn": "arn", "vpc_id": "vpc-1", "subnet_ids": ["subnet-1"]},
            "subnet_ids must be two or more subnets in different zones with certificate_arn (got ['subnet-1'])",
        ),
    ],
)
def test_bad_config_names_the_key(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        run_stack(**config)
    assert str(err.value).startswith(message)


# aws.ebs.Volume inputs that force a replacement.
_REPLACING = ("availabilityZone", "encrypted", "kmsKeyId", "snapshotId", "outpostArn", "multiAttachEnabled")


def test_data_safety_across_versions_tiers_and_amis() -> None:
    volumes = []
    for version in ("7.4.1000", "7.5.4453"):
        for tier in ("S", "L"):
            for ami in ("ami-0aaaaaaaaaaaaaaaa", "ami-0bbbbbbbbbbbbbbbb"):
                mocks, _ = run_stack(tier=tier, sourcegraph_version=version, ami_id=ami)
                volumes.append((mocks.one("aws:ebs/volume:Volume"), mocks.one("aws:ec2/instance:Instance")))
    base, base_instance = volumes[0]
    for volume, instance in volumes[1:]:
        assert (volume.name, volume.parent_name, volume.type) == (base.name, base.parent_name, base.type)
        assert volume.options.protect and volume.options.retain_on_delete
        for key in _REPLACING:
            assert volume.inputs.get(key) == base.inputs.get(key), key
        assert volume.inputs["size"] == base.inputs["size"]
        # Only the instance carries what changed; it is the thing that gets replaced.
        assert instance.name == base_instance.name
    assert {v.inputs["iops"] for v, _ in volumes} == {3000, 16000}
    assert {i.inputs["ami"] for _, i in volumes} == {"ami-0aaaaaaaaaaaaaaaa", "ami-0bbbbbbbbbbbbbbbb"}


def test_a_tier_below_the_workload_is_refused_one_larger_wins(capsys: pytest.CaptureFixture[str]) -> None:
    from sgarch.cli.app import main
    from sgarch.plan import run_plan

    # The example's workload (3,000 users, 20,000 repos) needs M.
    with pytest.raises(SystemExit) as exit_info:
        main(["plan", str(STACK), "--stack", "example", "--config", "tier=XS"])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 2 and out == ""
    assert err.strip().splitlines() == [
        "error: tier must be M or larger for the configured workload (got 'XS'): 3,000 users need M and "
        "20,000 repos need M; set tier to M or larger, or leave it unset to plan M."
    ]
    plan = run_plan(STACK, stack="example", config={"tier": "XL"})
    assert plan.exports["tier"] == "XL"
    assert plan.one("aws:ec2/instance:Instance").inputs["instanceType"] == "m6a.24xlarge"
    assert run_plan(STACK, stack="example").exports["tier"] == "M"


def test_a_misspelt_setting_is_refused_with_the_closest_one() -> None:
    from sgarch.plan import run_plan

    with pytest.raises(ConfigError) as err:
        run_plan(STACK, stack="example", config={"instance_typ": "m6a.large"})
    assert str(err.value) == (
        "instance_typ must be a setting of sgarch-single-node (got 'm6a.large'): did you mean instance_type? "
        "If not, remove it; Pulumi.yaml lists every setting."
    )


def test_a_misspelt_secret_setting_is_refused_without_its_value() -> None:
    from sgarch.refarch.config import read_settings
    from sgarch.refarch.single_node import SingleNodeSettings

    full = "sgarch-single-node:db_pasword"
    with (
        mocked_runtime(config={full: "hunter2"}, secret_keys=[full], project="sgarch-single-node"),
        pytest.raises(ConfigError) as err,
    ):
        read_settings(SingleNodeSettings)
    assert "hunter2" not in str(err.value)
    assert str(err.value).startswith("db_pasword must be a setting of sgarch-single-node (got '[secret]')")


def test_an_unknown_region_names_the_closest_ones() -> None:
    from sgarch.plan import run_plan

    with pytest.raises(ConfigError) as err:
        run_plan(STACK, stack="example", config={"aws:region": "us-east-7"})
    assert str(err.value) == (
        "aws:region must be an AWS region like us-east-1 (got 'us-east-7'): the closest are us-east-2, "
        "us-east-1, us-west-2."
    )
