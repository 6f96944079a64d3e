"""stacks/eks with RDS, as `sgarch plan` shows it: the rds_iam grant before the release (postgres_auth=iam, the
default) and the chart's own Secret keys (postgres_auth=secret)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from sgarch.plan import run_plan

STACK = Path(__file__).parents[2] / "stacks" / "eks"
CHART_TEMPLATE_KEYS: dict[str, Any] = yaml.safe_load(
    (Path(__file__).parents[1] / "data" / "chart-template-keys.yaml").read_text()
)


def plan_json(**config: str) -> list[dict[str, Any]]:
    resources: list[dict[str, Any]] = json.loads(run_plan(STACK, stack="example", config=config).to_json())[
        "resources"
    ]
    return resources


def test_the_release_depends_on_the_rds_iam_grant_of_every_database() -> None:
    resources = plan_json()  # Pulumi.example.yaml: postgres on, postgres_auth iam by default
    jobs = [
        r for r in resources if r["type"] == "kubernetes:batch/v1:Job" and r["name"].endswith("-iam-grant")
    ]
    assert sorted(j["name"] for j in jobs) == [
        "example-sourcegraph-codeinsights-db-iam-grant",
        "example-sourcegraph-codeintel-db-iam-grant",
        "example-sourcegraph-pgsql-iam-grant",
    ]
    (release,) = [r for r in resources if r["name"] == "example-sourcegraph-sourcegraph"]
    assert {j["urn"] for j in jobs} <= set(release["depends_on"])
    for job in jobs:
        (instance,) = [r for r in resources if r["name"] == job["name"].removesuffix("-iam-grant")]
        assert instance["urn"] in job["depends_on"]
    # The master password reaches the plan only as a secret (as does the Redis endpoint with its token).
    for secret in (r for r in resources if r["type"] == "kubernetes:core/v1:Secret"):
        key = "endpoint" if secret["name"].endswith("-connection") else "password"
        assert secret["inputs"]["stringData"] == {key: "[secret]"}


def test_secret_auth_hands_the_chart_the_keys_it_reads() -> None:
    resources = plan_json(postgres_auth="secret", postgres_password="example-only-password")
    secrets = [
        r
        for r in resources
        if r["type"] == "kubernetes:core/v1:Secret" and r["name"].endswith("-credentials")
    ]
    assert len(secrets) == 3
    for secret in secrets:
        assert set(secret["inputs"]["stringData"]) == set(CHART_TEMPLATE_KEYS["secrets"]["database_auth"])
    # No rds_iam grant Jobs (the log-retention Job runs with either auth).
    assert not [
        r for r in resources if r["type"] == "kubernetes:batch/v1:Job" and r["name"].endswith("-iam-grant")
    ]
