"""What sgarch hands Sourcegraph's chart, checked against the names the chart's templates read.

``tests/data/chart-template-keys.yaml`` keeps those names as data, each with the template file and line it
comes from (deploy-sourcegraph-helm at the pinned chart version). Mocks and ``chart-keys.txt`` cannot catch a
Secret key the templates spell differently (``pgsslmode`` against ``sslmode``): a real cluster fails the pod
with CreateContainerConfigError.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import pytest
from chart_keys import CHART_KEYS, TEMPLATE_KEYS, key_paths

from sgarch.eks.versions import SOURCEGRAPH_CHART_VERSION
from sgarch.helm import PostgresOptions, RedisOptions, S3Options, compose_values
from sgarch.helm.values import DATABASE_CLIENT_SERVICES, DATABASES, database_secret
from sgarch.sizing import estimate_for_tier
from sgarch.tiers import Tier

DATA = Path(__file__).parents[1] / "data"
CITATION = re.compile(r"^(_helpers\.tpl|_worker\.tpl|[a-z-]+/[A-Za-z.-]+\.yaml):\d+( \(.+\))?$")
HOSTS = {k: f"{k.lower()}.abcdefghijkl.us-east-1.rds.amazonaws.com" for k in DATABASES}
OPTIONS: dict[str, dict[str, Any]] = {
    "in-cluster": {},
    "rds-iam": {"postgres": PostgresOptions(hosts=HOSTS)},
    "rds-secret": {"postgres": PostgresOptions(hosts=HOSTS, auth="secret")},
    "elasticache": {"redis": RedisOptions(cache_host="cache.example", store_host="store.example")},
    "s3": {"s3": S3Options(bucket="sourcegraph-objects-0123456", region="us-east-1")},
    "all": {
        "postgres": PostgresOptions(hosts=HOSTS),
        "redis": RedisOptions(cache_host="cache.example", store_host="store.example"),
        "s3": S3Options(bucket="sourcegraph-objects-0123456", region="us-east-1"),
    },
}


def render(option: str) -> dict[str, Any]:
    return compose_values(estimate_for_tier(Tier.S), storage_class_name="ebs-gp3", **OPTIONS[option])


def test_the_data_describes_the_pinned_chart() -> None:
    assert TEMPLATE_KEYS["chart_version"] == SOURCEGRAPH_CHART_VERSION
    citations = [
        *[c for group in TEMPLATE_KEYS["secrets"].values() for c in group.values()],
        *TEMPLATE_KEYS["values"].values(),
        *[c for names in TEMPLATE_KEYS["env"].values() for c in names.values()],
    ]
    assert [c for c in citations if not CITATION.match(c)] == []


@pytest.mark.parametrize("auth", ["secret", "iam"])
def test_database_secret_holds_exactly_the_keys_the_chart_reads(auth: Literal["iam", "secret"]) -> None:
    secret = database_secret("pgsql.example", "password", PostgresOptions(hosts=HOSTS, auth=auth))
    assert set(secret) == set(TEMPLATE_KEYS["secrets"]["database_auth"])
    assert secret["sslmode"] == "require" and secret["port"] == "5432"


@pytest.mark.parametrize("option", list(OPTIONS))
def test_values_use_only_keys_the_chart_declares_or_reads(option: str) -> None:
    assert [p for p in key_paths(render(option)) if p not in CHART_KEYS] == []


@pytest.mark.parametrize("option", list(OPTIONS))
def test_env_from_values_never_repeats_a_variable_the_chart_sets(option: str) -> None:
    values = render(option)
    for key, service in values.items():
        env = service.get("env") if isinstance(service, dict) else None
        if not env:
            continue
        # Only containers whose chart-set variables were transcribed may get env from sgarch.
        assert key in TEMPLATE_KEYS["env"], key
        assert set(env) & set(TEMPLATE_KEYS["env"][key]) == set(), key


def test_external_database_auth_fields_are_the_ones_the_chart_reads() -> None:
    for option, auth in (("rds-iam", "iam"), ("rds-secret", "secret")):
        values = render(option)
        for key in DATABASES:
            paths = {f"{key}.auth.{field}" for field in values[key]["auth"]}
            assert paths <= set(TEMPLATE_KEYS["values"]), (auth, key)


def test_external_redis_uses_the_endpoint_the_chart_reads() -> None:
    values = render("elasticache")
    for key in ("redisCache", "redisStore"):
        assert {f"{key}.connection.{field}" for field in values[key]["connection"]} <= set(
            TEMPLATE_KEYS["values"]
        )
    # With `connection.existingSecret` instead, the Secret would need this key.
    assert set(TEMPLATE_KEYS["secrets"]["redis_connection"]) == {"endpoint"}


def test_rds_iam_env_reaches_every_database_client() -> None:
    values = render("rds-iam")
    for key in DATABASE_CLIENT_SERVICES:
        assert f"{key}.env" in TEMPLATE_KEYS["values"], key
        assert values[key]["env"]["PG_CONNECTION_UPDATER"] == {"value": "EC2_ROLE_CREDENTIALS"}
