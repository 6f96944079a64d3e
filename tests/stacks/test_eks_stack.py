"""stacks/eks plans offline (``sgarch plan``'s runner) for every tier, with and without each option."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sgarch.errors import ConfigError
from sgarch.plan import run_plan
from sgarch.tiers import Tier

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
    assert cluster["vpcConfig"]["endpointPublicAccess"] is False
    groups = plan.by_type("aws:eks/nodeGroup:NodeGroup")
    assert len(groups) == 2
    assert {g.inputs["instanceTypes"][0] for g in groups} == {plan.exports["instance_type"]}
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
        },
    )
    assert plan.exports["tier"] == "M" and plan.exports["instance_type"] == "m6a.4xlarge"
    assert plan.by_type("aws:ec2/vpc:Vpc") == []
    assert len(plan.by_type("aws:eks/nodeGroup:NodeGroup")) == 3
    assert plan.by_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") == []


def test_example_stack_file_plans() -> None:
    plan = run_plan(STACK, stack="example")
    assert plan.exports["cluster_name"] == "sourcegraph-example"
    assert len(plan.by_type("aws:rds/instance:Instance")) == 3


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"endpoint_public_access": "true"},
            r"^public_access_cidrs must be set when endpoint_public_access is on",
        ),
        ({"users": "10"}, r"^repos must be set together with users and repos"),
        ({"instance_type": "t3.large"}, r"^instance_type must be an instance type sgarch knows"),
        ({"node_count": "1"}, r"^node_count must be at least \d+ \(what the pods need on m6a"),
    ],
)
def test_config_errors_name_the_key(config: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        run_plan(STACK, stack="example", config={**BASE, **config})
