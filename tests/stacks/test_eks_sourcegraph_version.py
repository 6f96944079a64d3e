"""``sourcegraph_version`` on EKS: it pins the chart release (and so every image), is exported, and is checked.

The stack is planned offline through ``sgarch plan``'s runner, and the Helm release's inputs are read back: the
chart version Pulumi would install, and the values, which must leave the chart's own digest-pinned image tags
alone (an ``image.tag`` or ``useGlobalTagAsDefault`` there would move the images off the pinned release).
"""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pytest
import yaml

from sgarch.errors import ConfigError
from sgarch.helm import SourcegraphReleaseArgs
from sgarch.plan import Plan, run_plan
from sgarch.refarch.eks import EksSettings
from sgarch.sizing import estimate_for_tier
from sgarch.testing import SgarchMocks, mocked_runtime
from sgarch.tiers import Tier
from sgarch.validation import build

ROOT = Path(__file__).parents[2]
EKS = ROOT / "stacks" / "eks"
POC = ROOT / "stacks" / "poc"
RELEASE = "kubernetes:helm.sh/v3:Release"
# The example stack's keys put back to "unset", as tests/stacks/test_eks_stack.py does.
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
    "tier": "XS",
}


def settings_of(**values: Any) -> EksSettings:
    """The stack's settings as ``read_settings`` builds them: a ConfigError, never pydantic's own error."""
    return build(EksSettings, None, public_access_cidrs=("203.0.113.0/24",), **values)


def sourcegraph_release(plan: Plan) -> dict[str, Any]:
    (release,) = [r for r in plan.by_type(RELEASE) if r.inputs["chart"] == "sourcegraph"]
    return release.inputs


def image_overrides(node: Any, path: str = "") -> list[str]:
    """Value paths that would override the images the chart release pins."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}" if path else str(key)
            if key in ("tag", "defaultTag", "useGlobalTagAsDefault") and ".image" in f".{path}":
                found.append(here)
            found += image_overrides(value, here)
    return found


@pytest.mark.parametrize("version", ["7.5.4453", "v7.4.2513"])
def test_the_version_pins_the_chart_and_leaves_its_image_pins_alone(version: str) -> None:
    plan = run_plan(EKS, stack="example", config={**BASE, "sourcegraph_version": version})
    release = sourcegraph_release(plan)
    assert release["version"] == version.removeprefix("v")
    values = yaml.safe_load(release["valueYamlFiles"][0].text)
    assert image_overrides(values) == []
    assert plan.exports["sourcegraph_version"] == version.removeprefix("v")


def test_the_default_is_the_one_pulumi_yaml_documents() -> None:
    documented = yaml.safe_load((EKS / "Pulumi.yaml").read_text())["config"]["sourcegraph_version"]["default"]
    plan = run_plan(EKS, stack="example", config=BASE)
    assert sourcegraph_release(plan)["version"] == str(documented)
    assert plan.exports["sourcegraph_version"] == str(documented)


def test_the_example_pins_a_release_the_stack_accepts() -> None:
    example = yaml.safe_load((EKS / "Pulumi.example.yaml").read_text())["config"]
    version = str(example["sgarch-eks:sourcegraph_version"])
    plan = run_plan(EKS, stack="example", config={"aws:region": "us-east-1"})
    assert sourcegraph_release(plan)["version"] == version


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"sourcegraph_version": "latest"},
            "sourcegraph_version must be a Sourcegraph release like 7.5.4453 (got 'latest'): use a version from "
            "Sourcegraph's releases.",
        ),
        (
            {"sourcegraph_version": "6.12.5040"},
            "sourcegraph_version must be a release of the sourcegraph Helm chart sgarch has checked (got "
            "'6.12.5040'): pick one of 7.0.0, ",
        ),
        (
            {"sourcegraph_version": "7.1.2426", "s3": True},
            "sourcegraph_version must be 7.2.0 or later with s3 (got '7.1.2426'): Sourcegraph reads the single "
            "bucket sgarch configures from 7.2.0 on; pin a later release or turn s3 off.",
        ),
    ],
)
def test_bad_versions_are_refused_before_any_resource(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings_of(**settings)
    assert str(info.value).startswith(message)


def test_a_refused_release_names_the_known_ones_and_the_newest_is_accepted() -> None:
    with pytest.raises(ConfigError) as info:
        settings_of(sourcegraph_version="7.9.0")
    known = str(info.value).split("pick one of ", 1)[1].split(";")[0].split(", ")
    assert "7.5.4453" in known
    for version in known:
        assert settings_of(sourcegraph_version=version).sourcegraph_version == version


def test_s3_from_the_single_bucket_release() -> None:
    assert settings_of(sourcegraph_version="7.2.0", s3=True).sourcegraph_version == "7.2.0"


def test_the_component_checks_its_chart_version_too() -> None:
    with pytest.raises(ConfigError) as info:
        SourcegraphReleaseArgs(
            estimate=estimate_for_tier(Tier.S), cluster_name="sg", chart_version="5.11.6271"
        )
    assert str(info.value).startswith("chart_version must be a release of the sourcegraph Helm chart")


def test_the_poc_on_eks_pins_its_sourcegraph_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SGARCH_TODAY", "2026-11-23")
    registry = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    config = {
        "runtime": "eks",
        "tier": "XS",
        "sourcegraph_version": "7.4.2513",
        "expires_on": "2027-01-31",
        "budget_emails": '["poc-owner@example.com"]',
        "record_name": "sourcegraph.poc.example.com",
        "certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/abc",
        "monthly_budget_usd": "1500",
        "image_registry": f"{registry}/docker-hub/sourcegraph",
        "load_balancer_controller_image": f"{registry}/ecr-public/eks/aws-load-balancer-controller",
        "vpc_id": "vpc-0123456789abcdef0",
        "subnet_ids": '["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]',
        "allowed_cidrs": '["10.20.0.0/16"]',
    }
    values = {f"sgarch-poc:{key}": value for key, value in config.items()} | {"aws:region": "us-east-1"}
    with mocked_runtime(SgarchMocks(), project="sgarch-poc", stack="poc", config=values) as mocks:
        mocks.run(lambda: runpy.run_path(str(POC / "__main__.py"), run_name="__main__"))
        (release,) = [r for r in mocks.by_type(RELEASE) if r.inputs["chart"] == "sourcegraph"]
    assert release.inputs["version"] == "7.4.2513"
