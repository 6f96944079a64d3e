"""sgarch's tags hold in every component: a user tag cannot take a reserved ``sgarch:`` key, and every AWS
resource carries ``sgarch:architecture``, ``sgarch:stack`` and ``ManagedBy`` on top of which the user's go.

The reserved keys are what cost reports and ``sgarch doctor`` find a deployment by; a user tag replacing one
would hide resources from both, so each component's Args refuse it before anything is registered, and so does
each stack.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sgarch.eks import EksCluster, EksClusterArgs
from sgarch.errors import ConfigError
from sgarch.helm import SourcegraphReleaseArgs
from sgarch.migrate.k8s.component import DataMigrationArgs
from sgarch.naming import ARCHITECTURE_TAG, MANAGED_BY_TAG, STACK_TAG
from sgarch.network import Network, NetworkArgs
from sgarch.plan import run_plan
from sgarch.single_node import SingleNode, SingleNodeArgs
from sgarch.sizing import estimate_for_tier
from sgarch.testing import SgarchMocks
from sgarch.tiers import Tier
from sgarch.validation import ComponentArgs

ROOT = Path(__file__).resolve().parents[2]
VPC = "vpc-0123456789abcdef0"
SUBNETS = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]
KEY = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"

# Each component's Args with the least they need; the tests add tags (and architecture).
MINIMAL: dict[str, tuple[Callable[..., ComponentArgs], dict[str, Any]]] = {
    "SingleNode": (SingleNodeArgs, {"vpc_id": VPC, "subnet_id": SUBNETS[0]}),
    "EksCluster": (EksClusterArgs, {"vpc_id": VPC, "private_subnet_ids": SUBNETS}),
    "Network": (NetworkArgs, {}),
    "SourcegraphRelease": (
        SourcegraphReleaseArgs,
        {"estimate": estimate_for_tier(Tier.S), "cluster_name": "sourcegraph", "vpc_cidrs": ["10.0.0.0/16"]},
    ),
    "DataMigration": (
        DataMigrationArgs,
        {
            "cluster_name": "sourcegraph",
            "kms_key_arn": KEY,
            "sourcegraph_version": "7.6.0",
            "export_uri": "s3://sgarch-migrations/exports/2026-11-23",
        },
    ),
}


@pytest.mark.parametrize("component", list(MINIMAL))
@pytest.mark.parametrize("key", ["sgarch:architecture", "sgarch:stack", "sgarch:component"])
def test_a_reserved_user_tag_is_refused(component: str, key: str) -> None:
    model, kwargs = MINIMAL[component]
    with pytest.raises(ConfigError) as error:
        model(**kwargs, tags={"team": "devx", key: "x"})
    assert str(error.value) == (
        f"tags must be free of keys starting with 'sgarch:' (got '{key}'): sgarch sets those tags itself."
    )


@pytest.mark.parametrize("component", list(MINIMAL))
def test_the_args_take_user_tags_and_an_architecture(component: str) -> None:
    model, kwargs = MINIMAL[component]
    args = model(**kwargs, tags={"team": "devx", MANAGED_BY_TAG: "platform"}, architecture="poc")
    assert args.tags == {"team": "devx", MANAGED_BY_TAG: "platform"}
    assert args.architecture == "poc"
    with pytest.raises(ConfigError) as error:
        model(**kwargs, architecture="Single Node")
    assert str(error.value).startswith("architecture must be lowercase letters, digits and '-'")


@pytest.mark.parametrize(
    ("stack", "extra"),
    [
        ("single-node", {}),
        ("eks", {}),
        ("poc", {}),
        # The POC on EKS builds other components than the single-node runtime.
        (
            "poc",
            {
                "runtime": "eks",
                "http_proxy": "",
                "proxy_cidrs": "[]",
                "allowed_cidrs": '["10.0.0.0/16"]',
                "image_registry": "123456789012.dkr.ecr.us-east-1.amazonaws.com/sourcegraph",
                "load_balancer_controller_image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/lbc",
            },
        ),
    ],
)
def test_every_stack_refuses_a_reserved_tag(
    stack: str, extra: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SGARCH_TODAY", "2026-11-23")
    tags = json.dumps({ARCHITECTURE_TAG: "x"})
    with pytest.raises(ConfigError) as error:
        run_plan(ROOT / "stacks" / stack, stack="example", config={**extra, "tags": tags})
    assert str(error.value).startswith("tags must be free of keys starting with 'sgarch:'")


def test_each_component_tags_its_resources_with_the_convention(pulumi_mocks: SgarchMocks) -> None:
    """Under mocks (stack ``test``): sgarch's tags, the user's over them (``ManagedBy`` may be replaced), then
    what the component adds; the architecture is the args' or the component's own."""
    user = {"team": "devx", MANAGED_BY_TAG: "platform"}

    def program() -> None:
        Network("net", NetworkArgs(tags=user))
        SingleNode("node", SingleNodeArgs(vpc_id=VPC, subnet_id=SUBNETS[0], tags=user, architecture="poc"))
        EksCluster("eks", EksClusterArgs(vpc_id=VPC, private_subnet_ids=SUBNETS, tags=user))

    pulumi_mocks.run(program)
    vpc = pulumi_mocks.one("aws:ec2/vpc:Vpc").tags()
    assert vpc == {ARCHITECTURE_TAG: "network", STACK_TAG: "test", **user, "Name": "net-vpc"}
    volume = pulumi_mocks.one("aws:ebs/volume:Volume").tags()
    assert {k: volume[k] for k in (ARCHITECTURE_TAG, STACK_TAG, MANAGED_BY_TAG, "team")} == {
        ARCHITECTURE_TAG: "poc",
        STACK_TAG: "test",
        **user,
    }
    assert volume["sgarch:role"] == "data" and volume["sgarch:backup"] == "test/test/node"
    cluster = pulumi_mocks.one("aws:eks/cluster:Cluster").tags()
    assert cluster == {ARCHITECTURE_TAG: "eks", STACK_TAG: "test", **user, "Name": "eks-cluster"}
    # The nodes' tags stay the user's: sgarch's own there would make a new launch template version.
    template = pulumi_mocks.one("aws:ec2/launchTemplate:LaunchTemplate").inputs
    assert [spec["tags"] for spec in template["tagSpecifications"]] == [{**user, "Name": "eks-node"}] * 2
