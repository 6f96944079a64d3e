"""Component arguments fail the way the README promises a user's own program: with one ConfigError.

Written as a customer's test would be: construct the Args directly, and run a component inside a
ComponentResource of their own under ``sgarch.testing``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from sgarch.eks import EksClusterArgs
from sgarch.errors import ConfigError
from sgarch.helm import SourcegraphReleaseArgs
from sgarch.network import NetworkArgs
from sgarch.single_node import LoadBalancerArgs, SingleNode, SingleNodeArgs
from sgarch.sizing import Workload, estimate_for_tier
from sgarch.testing import SgarchMocks
from sgarch.tiers import Tier

VPC = "vpc-0123456789abcdef0"
SUBNET = "subnet-0123456789abcdef0"

CASES: list[tuple[Callable[..., Any], dict[str, Any], str]] = [
    (SingleNodeArgs, {"vpc_id": VPC, "subnet_id": SUBNET, "tier": "XXXL"}, "tier must be "),
    (SingleNodeArgs, {"vpc_id": VPC, "subnet_id": SUBNET, "data_volume_gib": 50}, "data_volume_gib must be "),
    (
        SingleNodeArgs,
        {"vpc_id": VPC, "subnet_id": SUBNET, "instance_typ": "m6a.large"},
        "instance_typ must be ",
    ),
    (SingleNodeArgs, {"subnet_id": SUBNET}, "vpc_id must be set"),
    (
        LoadBalancerArgs,
        {"certificate_arn": "arn", "subnet_ids": [], "allowed_cidrs": ["10.0.0.1/8"]},
        "load_balancer.",
    ),
    (NetworkArgs, {"vpc_cidr": "10.0.0.0/8"}, "vpc_cidr must be "),
    (Workload, {"users": 0, "repos": 10}, "users must be "),
    (
        EksClusterArgs,
        {"vpc_id": VPC, "private_subnet_ids": [SUBNET], "kubernetes_version": "1.19"},
        "kubernetes_version must be ",
    ),
    (
        EksClusterArgs,
        {"vpc_id": VPC, "private_subnet_ids": [SUBNET], "log_retention_days": 45},
        "log_retention_days must be ",
    ),
    (EksClusterArgs, {"vpc_id": VPC}, "private_subnet_ids must be set"),
    (
        SourcegraphReleaseArgs,
        {"estimate": estimate_for_tier(Tier.S), "cluster_name": "c", "namespace": 7},
        "namespace must be ",
    ),
    (SourcegraphReleaseArgs, {"cluster_name": "c"}, "estimate must be set"),
]


@pytest.mark.parametrize(("model", "kwargs", "start"), CASES, ids=lambda c: getattr(c, "__name__", None))
def test_args_raise_config_error_not_pydantic(
    model: Callable[..., Any], kwargs: dict[str, Any], start: str
) -> None:
    with pytest.raises(ConfigError) as err:
        model(**kwargs)
    message = str(err.value)
    assert message.startswith(start)
    assert "\n" not in message and "pydantic" not in message
    assert isinstance(err.value, ValueError)


class Platform(pulumi.ComponentResource):
    """What a customer's own wrapper looks like: their component, sgarch's inside it."""

    def __init__(self, name: str, tier: str) -> None:
        super().__init__("acme:platform:Sourcegraph", name)
        self.node = SingleNode(
            name, SingleNodeArgs(vpc_id=VPC, subnet_id=SUBNET, tier=tier), pulumi.ResourceOptions(parent=self)
        )
        self.register_outputs({})


def test_a_users_component_sees_config_error_and_creates_nothing(pulumi_mocks: SgarchMocks) -> None:
    with pytest.raises(ConfigError, match=r"^tier must be "):
        pulumi_mocks.run(lambda: Platform("acme", tier="huge"))
    assert not [r for r in pulumi_mocks.resources if r.type.startswith("aws:")]


def test_a_users_component_with_good_args_plans(pulumi_mocks: SgarchMocks) -> None:
    pulumi_mocks.run(lambda: Platform("acme", tier="S"))
    node = pulumi_mocks.one("sgarch:single-node:SingleNode")
    assert node.parent_type == "acme:platform:Sourcegraph"
    assert pulumi_mocks.by_type("aws:ec2/instance:Instance")
