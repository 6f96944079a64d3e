"""EKS chart values per tier and option, and the node plans behind them, committed and compared.

Regenerate with ``make golden`` (``SGARCH_UPDATE_GOLDEN=1``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml
from chart_keys import CHART_KEYS, key_paths

from sgarch.helm import (
    IngressOptions,
    PostgresOptions,
    RedisOptions,
    S3Options,
    compose_values,
    excluded_services,
)
from sgarch.helm.values import redis_endpoint
from sgarch.sizing import estimate_for_tier
from sgarch.sizing.nodegroups import NodePlan, plan_node_groups
from sgarch.tiers import Tier

# values.yaml's keys, plus the paths the templates read that values.yaml does not declare (gitserver.env).
# Maps whose keys are free-form in the chart: environment variables and Kubernetes annotations.
HOSTS = {
    k: f"{k.lower()}.abcdefghijkl.us-east-1.rds.amazonaws.com"
    for k in ("pgsql", "codeIntelDB", "codeInsightsDB")
}
CERT = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
OPTIONS: dict[str, dict[str, Any]] = {
    "in-cluster": {},
    "rds-iam": {"postgres": PostgresOptions(hosts=HOSTS)},
    "rds-secret": {"postgres": PostgresOptions(hosts=HOSTS, auth="secret")},
    "elasticache": {
        "redis": RedisOptions(
            cache_host="cache.example.use1.cache.amazonaws.com",
            store_host="store.example.use1.cache.amazonaws.com",
        )
    },
    "s3": {"s3": S3Options(bucket="sourcegraph-objects-0123456", region="us-east-1")},
}


def node_plan(tier: Tier, option: str) -> NodePlan:
    opts = OPTIONS[option]
    excluded = excluded_services(postgres="postgres" in opts, redis="redis" in opts, s3="s3" in opts)
    return plan_node_groups(estimate_for_tier(tier), excluded_services=excluded)


def render(tier: Tier, option: str) -> dict[str, Any]:
    ingress = IngressOptions(certificate_arn=CERT, host="sourcegraph.example.com")
    return compose_values(
        node_plan(tier, option).estimate, storage_class_name="ebs-gp3", ingress=ingress, **OPTIONS[option]
    )


CASES = [(t, "in-cluster") for t in Tier] + [(Tier.S, o) for o in OPTIONS if o != "in-cluster"]


@pytest.mark.parametrize(("tier", "option"), CASES, ids=lambda v: str(v))
def test_eks_helm_values_golden(tier: Tier, option: str, golden: Callable[[str, str], None]) -> None:
    values = render(tier, option)
    assert [p for p in key_paths(values) if p not in CHART_KEYS] == []
    golden(f"eks/helm-values-{tier}-{option}.yaml", yaml.safe_dump(values, sort_keys=True))


@pytest.mark.parametrize("tier", list(Tier), ids=str)
def test_eks_node_plan_golden(tier: Tier, golden: Callable[[str, str], None]) -> None:
    plan = node_plan(tier, "in-cluster")
    summary = {
        "instance_type": plan.instance_type.name,
        "node_count": plan.node_count,
        "nodes_per_az": list(plan.nodes_per_az),
        "requested_cpu_millis": plan.requested_cpu_millis,
        "requested_memory_mib": plan.requested_memory_mib,
        "allocatable_cpu_millis": plan.allocatable_cpu_millis,
        "allocatable_memory_mib": plan.allocatable_memory_mib,
        "resharded": [list(r) for r in plan.resharded],
        "monthly_usd_approx": round(plan.monthly_usd, 2),
    }
    golden(f"eks/node-plan-{tier}.yaml", yaml.safe_dump(summary, sort_keys=True))


def test_external_postgres_disables_databases_and_sets_auth() -> None:
    values = render(Tier.S, "rds-iam")
    for key in ("pgsql", "codeIntelDB", "codeInsightsDB"):
        assert values[key] == {
            "enabled": False,
            "auth": {
                "host": HOSTS[key],
                "port": "5432",
                "database": "sg",
                # The role the grant Job creates; the master user `sg` keeps its password.
                "user": "sourcegraph",
                "password": "",
                "sslmode": "require",
            },
        }
    assert render(Tier.S, "rds-secret")["codeIntelDB"] == {
        "enabled": False,
        "auth": {"existingSecret": "codeintel-db-credentials"},
    }


def test_s3_disables_blobstore_and_redis_uses_tls() -> None:
    assert render(Tier.S, "s3")["blobstore"] == {"enabled": False}
    redis = render(Tier.S, "elasticache")
    # The endpoint carries the AUTH token, so it lives in a Kubernetes Secret, not in the values.
    assert redis["redisStore"] == {
        "enabled": False,
        "connection": {"existingSecret": "redis-store-connection"},
    }
    assert redis_endpoint("store.example.use1.cache.amazonaws.com", 6379, "t0ken") == (
        "rediss://:t0ken@store.example.use1.cache.amazonaws.com:6379"
    )
    plain = compose_values(
        estimate_for_tier(Tier.S),
        storage_class_name="ebs-gp3",
        redis=RedisOptions(cache_host="cache.example", store_host="store.example", auth=False),
    )
    assert plain["redisStore"]["connection"] == {"endpoint": "rediss://store.example:6379"}


def test_values_replicas_match_the_packing() -> None:
    plan = node_plan(Tier.L, "in-cluster")
    values = compose_values(plan.estimate, storage_class_name="ebs-gp3")
    gitserver_pods = [p for p in plan.pods if p.service == "gitserver"]
    assert values["gitserver"]["replicaCount"] == len(gitserver_pods) > 1
