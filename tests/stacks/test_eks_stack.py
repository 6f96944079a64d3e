"""stacks/eks plans offline (``sgarch plan``'s runner) for every tier, with and without each option."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sgarch.cli.app import main
from sgarch.eks.versions import DEFAULT_KUBERNETES_VERSION
from sgarch.errors import ConfigError
from sgarch.plan import run_plan
from sgarch.sizing.instances import INSTANCE_TYPES
from sgarch.sizing.nodegroups import EKS_NODE_GROUP_QUOTA, EKS_NODE_GROUPS_PER_CLUSTER_QUOTA
from sgarch.tiers import TIERS, Tier

STACK = Path(__file__).parents[2] / "stacks" / "eks"
# The stack folder ships only Pulumi.example.yaml; these overrides put its keys back to "unset".
BASE = {
    "aws:region": "us-east-1",
    "users": "0",
    "repos": "0",
    "total_repo_gb": "",
    "largest_repo_gb": "",
    "certificate_arn": "",
    "host": "",
    "admin_principal_arns": "[]",
    "postgres": "false",
    "redis": "false",
    "s3": "false",
}
OPTIONS = {
    "none": {},
    "postgres": {"postgres": "true"},
    "redis": {"redis": "true"},
    "s3": {"s3": "true"},
    "all": {"postgres": "true", "redis": "true", "s3": "true"},
}


@pytest.mark.parametrize("option", list(OPTIONS))
@pytest.mark.parametrize("tier", list(Tier), ids=str)
def test_every_tier_and_option_plans_offline(tier: Tier, option: str) -> None:
    plan = run_plan(STACK, stack="example", config={**BASE, "tier": tier.value, **OPTIONS[option]})
    assert plan.exports["tier"] == tier.value
    assert plan.exports["node_count"] == sum(plan.exports["nodes_per_az"]) >= 2
    assert "kubeconfig" in plan.secret_exports
    cluster = plan.one("aws:eks/cluster:Cluster").inputs
    # A new VPC: the API is private and public, the public side limited to the example's range.
    assert cluster["vpcConfig"]["endpointPrivateAccess"] is True
    assert cluster["vpcConfig"]["endpointPublicAccess"] is True
    assert cluster["vpcConfig"]["publicAccessCidrs"] == ["203.0.113.0/24"]
    groups = plan.by_type("aws:eks/nodeGroup:NodeGroup")
    assert len(groups) == 2
    assert {g.inputs["instanceTypes"][0] for g in groups} == {plan.exports["instance_type"]}
    assert {g.inputs["version"] for g in groups} == {cluster["version"]}
    releases = {r.inputs["chart"]: r for r in plan.by_type("kubernetes:helm.sh/v3:Release")}
    assert set(releases) == {"aws-load-balancer-controller", "sourcegraph"}
    values = yaml.safe_load(releases["sourcegraph"].inputs["valueYamlFiles"][0].text)
    postgres, redis, s3 = (option in (name, "all") for name in ("postgres", "redis", "s3"))
    assert (values["pgsql"].get("enabled") is False) == postgres
    assert (values["redisCache"].get("enabled") is False) == redis
    assert (values.get("blobstore", {}).get("enabled") is False) == s3
    assert len(plan.by_type("aws:rds/instance:Instance")) == (3 if postgres else 0)
    assert len(plan.by_type("aws:elasticache/replicationGroup:ReplicationGroup")) == (2 if redis else 0)
    # A new VPC, and the API reachable from it only.
    assert len(plan.by_type("aws:ec2/vpc:Vpc")) == 1
    api = plan.one("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "example-api-0").inputs
    assert api["cidrIpv4"] == "10.50.0.0/16"


def test_workload_and_brought_vpc() -> None:
    plan = run_plan(
        STACK,
        stack="example",
        config={
            **BASE,
            "users": "1000",
            "repos": "20000",
            "total_repo_gb": "2000",
            "vpc_id": "vpc-0123456789abcdef0",
            "subnet_ids": '["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb", "subnet-0cccccccccccccccc"]',
            "instance_type": "m6a.4xlarge",
            "public_access_cidrs": "[]",
        },
    )
    assert plan.exports["tier"] == "M" and plan.exports["instance_type"] == "m6a.4xlarge"
    assert plan.by_type("aws:ec2/vpc:Vpc") == []
    # The operator runs Pulumi inside their own network: the API stays private.
    vpc_config = plan.one("aws:eks/cluster:Cluster").inputs["vpcConfig"]
    assert vpc_config["endpointPublicAccess"] is False and "publicAccessCidrs" not in vpc_config
    assert len(plan.by_type("aws:eks/nodeGroup:NodeGroup")) == 3
    assert plan.by_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") == []


def test_example_stack_file_plans() -> None:
    plan = run_plan(STACK, stack="example")
    assert plan.exports["cluster_name"] == "sourcegraph-example"
    assert len(plan.by_type("aws:rds/instance:Instance")) == 3
    # What a first `pulumi up` from the operator's machine needs: an API it can reach, from its range only,
    # node groups at the cluster's version, and nodes whose pods (the EBS CSI driver) can read IMDSv2.
    cluster = plan.one("aws:eks/cluster:Cluster").inputs
    assert cluster["vpcConfig"]["endpointPublicAccess"] is True
    assert cluster["vpcConfig"]["endpointPrivateAccess"] is True
    assert cluster["vpcConfig"]["publicAccessCidrs"] == ["203.0.113.0/24"]
    assert {g.inputs["version"] for g in plan.by_type("aws:eks/nodeGroup:NodeGroup")} == {
        DEFAULT_KUBERNETES_VERSION
    }
    options = plan.one("aws:ec2/launchTemplate:LaunchTemplate").inputs["metadataOptions"]
    assert (options["httpTokens"], options["httpPutResponseHopLimit"]) == ("required", 2)


def test_brought_vpc_may_open_the_api_too() -> None:
    plan = run_plan(
        STACK,
        stack="example",
        config={
            **BASE,
            "vpc_id": "vpc-0123456789abcdef0",
            "subnet_ids": '["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]',
            "endpoint_public_access": "true",
            "public_access_cidrs": '["198.51.100.7/32"]',
        },
    )
    vpc_config = plan.one("aws:eks/cluster:Cluster").inputs["vpcConfig"]
    assert vpc_config["endpointPublicAccess"] is True and vpc_config["publicAccessCidrs"] == [
        "198.51.100.7/32"
    ]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"public_access_cidrs": "[]"},
            r"^public_access_cidrs must be set when the Kubernetes API endpoint is public \(the default when the "
            r"stack creates the VPC\) \(got \[\]\): list the addresses that run pulumi up and kubectl",
        ),
        (
            {"endpoint_public_access": "false"},
            r"^endpoint_public_access must be true when the stack creates the VPC \(got False\): .*bring your "
            r"own VPC \(vpc_id, subnet_ids\)",
        ),
        (
            {"public_access_cidrs": '["0.0.0.0/0"]'},
            r"^public_access_cidrs must be networks narrower than the whole internet \(got '0.0.0.0/0'\): "
            r".*allow_public_api_from_anywhere: true",
        ),
        (
            {"public_access_cidrs": '["203.0.113.7/24"]'},
            r"^public_access_cidrs must be IPv4 CIDR blocks such as 203.0.113.0/24 \(got '203.0.113.7/24'\): "
            r"use the network address 203.0.113.0/24",
        ),
        ({"kubernetes_version": "1.19"}, r"^kubernetes_version must be a version EKS supports"),
        ({"users": "10"}, r"^repos must be set together with users and repos"),
        ({"instance_type": "t3.large"}, r"^instance_type must be an instance type sgarch knows"),
        (
            {"instance_type": "m6a.3xlarge"},
            r"^instance_type must be an instance type sgarch knows .* \(got 'm6a\.3xlarge'\): the closest are m6a\.",
        ),
        ({"node_count": "1"}, r"^node_count must be at least \d+ \(what the pods need on m6a"),
    ],
)
def test_config_errors_name_the_key(config: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        run_plan(STACK, stack="example", config={**BASE, **config})


# The example file's workload cleared ("0" and "" mean unset); its managed services stay on.
TIER_ONLY = {"users": "0", "repos": "0", "total_repo_gb": "", "largest_repo_gb": ""}


@pytest.mark.parametrize("tier", list(Tier), ids=str)
def test_tier_only_node_groups_match_the_tier_table(tier: Tier) -> None:
    plan = run_plan(STACK, stack="example", config={**TIER_ONLY, "tier": tier.value})
    assert plan.exports["tier"] == tier.value
    groups = plan.by_type("aws:eks/nodeGroup:NodeGroup")
    sizes = [
        (g.inputs["scalingConfig"]["desiredSize"], INSTANCE_TYPES[g.inputs["instanceTypes"][0]])
        for g in groups
    ]
    assert all(count <= EKS_NODE_GROUP_QUOTA for count, _ in sizes)
    assert len(groups) <= EKS_NODE_GROUPS_PER_CLUSTER_QUOTA
    vcpu = sum(count * itype.vcpu for count, itype in sizes)
    memory_gib = sum(count * itype.memory_gib for count, itype in sizes)
    spec = TIERS[tier]
    assert vcpu >= spec.vcpu and memory_gib >= spec.memory_gb
    if tier in (Tier.XS, Tier.S, Tier.M):
        assert vcpu <= 96 and memory_gib <= 384  # 6 x m6a.4xlarge, Sourcegraph's EKS guide
    else:
        assert vcpu <= 2 * spec.vcpu and memory_gib <= 2 * spec.memory_gb


def test_a_tier_below_the_workload_is_refused_one_larger_wins(capsys: pytest.CaptureFixture[str]) -> None:
    # The example's workload (1,000 users, 20,000 repos) needs M.
    with pytest.raises(SystemExit) as exit_info:
        main(["plan", str(STACK), "--stack", "example", "--config", "tier=XS"])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 2 and out == ""
    assert err.strip().splitlines() == [
        "error: tier must be M or larger for the configured workload (got 'XS'): 1,000 users need S and "
        "20,000 repos need M; set tier to M or larger, or leave it unset to plan M."
    ]
    plan = run_plan(STACK, stack="example", config={"tier": "XL"})
    assert plan.exports["tier"] == "XL"
    vcpu = plan.exports["node_count"] * INSTANCE_TYPES[plan.exports["instance_type"]].vcpu
    assert vcpu >= TIERS[Tier.XL].vcpu
    assert run_plan(STACK, stack="example").exports["tier"] == "M"
