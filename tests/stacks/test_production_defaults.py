"""Issue #16: the defaults an auditor expects are in every stack's default plan, each key that turns one
off plans fine and becomes a policy finding (``--strict`` exits 1 unless it is suppressed with a reason),
and the cost estimate counts what they add."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from sgarch.cli.app import main
from sgarch.cost import estimate_cost
from sgarch.helm.managed import RDS_MONITORING_POLICY_ARN
from sgarch.plan import Plan, run_plan
from sgarch.policy import Severity, evaluate
from sgarch.single_node.alb_logs import ELB_ACCOUNT_IDS, LOG_DELIVERY_SERVICE, delivery_policy
from sgarch.tiers import Tier

ROOT = Path(__file__).resolve().parents[2]
RDS = "aws:rds/instance:Instance"
REDIS = "aws:elasticache/replicationGroup:ReplicationGroup"
ALB = "aws:lb/loadBalancer:LoadBalancer"
BUCKET = "aws:s3/bucket:Bucket"


@cache
def plan(stack: str, **config: str) -> Plan:
    return run_plan(ROOT / "stacks" / stack, stack="example", config=config)


def policy(resource: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(resource.inputs["policy"])
    return document


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, _ = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 0), out


# --- RDS --------------------------------------------------------------------------------------------------


def test_every_database_is_multi_az_monitored_and_exports_its_logs() -> None:
    eks = plan("eks")
    instances = eks.by_type(RDS)
    assert {i.name for i in instances} == {
        "example-sourcegraph-pgsql",
        "example-sourcegraph-codeintel-db",
        "example-sourcegraph-codeinsights-db",
    }
    role = eks.one("aws:iam/role:Role", "example-sourcegraph-db-monitoring")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "monitoring.rds.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ]
    attachments = [
        a
        for a in eks.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.name == "example-sourcegraph-db-monitoring-policy"
    ]
    assert [a.inputs["policyArn"] for a in attachments] == [RDS_MONITORING_POLICY_ARN]
    # The role has nothing else: no inline policy names it.
    assert not [
        p for p in eks.by_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role.outputs["name"]
    ]
    for instance in instances:
        inputs = instance.inputs
        assert inputs["multiAz"] is True, instance.name
        assert inputs["performanceInsightsEnabled"] is True
        assert inputs["performanceInsightsRetentionPeriod"] == 7
        assert inputs["monitoringInterval"] == 60
        assert inputs["monitoringRoleArn"] == role.outputs["arn"]
        assert sorted(inputs["enabledCloudwatchLogsExports"]) == ["postgresql", "upgrade"]
        assert inputs["copyTagsToSnapshot"] is True
        assert inputs["autoMinorVersionUpgrade"] is True
        assert inputs["deletionProtection"] is True
        assert inputs["skipFinalSnapshot"] is False and inputs["finalSnapshotIdentifier"]
        # Every db.m6g class supports Performance Insights.
        assert inputs["instanceClass"].startswith("db.m6g.")


def test_the_parameter_group_forces_tls_and_logs_without_a_reboot() -> None:
    group = plan("eks").one("aws:rds/parameterGroup:ParameterGroup")
    params = {p["name"]: (p["value"], p["applyMethod"]) for p in group.inputs["parameters"]}
    assert params["rds.force_ssl"][0] == "1"
    assert params["log_min_duration_statement"] == ("1000", "immediate")
    assert params["log_connections"] == ("1", "immediate")
    assert params["log_disconnections"] == ("1", "immediate")
    # A new description would replace the group (ForceNew), and with it every instance's parameters.
    assert group.inputs["description"] == "Sourcegraph: TLS required, only the extensions Sourcegraph creates"


def test_postgres_multi_az_off_plans_costs_less_and_is_a_finding() -> None:
    on, off = plan("eks"), plan("eks", postgres_multi_az="false")
    assert {i.inputs["multiAz"] for i in off.by_type(RDS)} == {False}
    cost_on = estimate_cost(on.resources, "us-east-1").by_category()["database"]
    cost_off = estimate_cost(off.resources, "us-east-1").by_category()["database"]
    assert cost_on == pytest.approx(2 * cost_off)
    findings = [f for f in evaluate(off.resources) if f.rule_id == "SGA-018"]
    assert len(findings) == 3 and {f.severity for f in findings} == {Severity.HIGH}


# --- ElastiCache ------------------------------------------------------------------------------------------


def test_redis_has_a_stable_auth_token_a_replica_and_failover() -> None:
    eks = plan("eks")
    groups = {g.name: g for g in eks.by_type(REDIS)}
    versions = {v.name: v for v in eks.by_type("aws:secretsmanager/secretVersion:SecretVersion")}
    secrets = {s.name: s for s in eks.by_type("aws:secretsmanager/secret:Secret")}
    for short in ("redis-cache", "redis-store"):
        group = groups[f"example-sourcegraph-{short}"]
        inputs = group.inputs
        assert inputs["numCacheClusters"] == 2
        assert inputs["automaticFailoverEnabled"] is True and inputs["multiAzEnabled"] is True
        assert inputs["transitEncryptionEnabled"] is True
        assert inputs["authTokenUpdateStrategy"] == "ROTATE"
        assert "authToken" in group.secret_inputs
        token = inputs["authToken"]
        assert 16 <= len(token) <= 128 and token.isalnum()
        version = versions[f"example-sourcegraph-{short}-auth-token"]
        secret = secrets[f"example-sourcegraph-{short}-auth"]
        assert version.inputs["secretId"] == secret.outputs["id"]
        assert version.inputs["secretString"] == token and "secretString" in version.secret_inputs
        # The program draws a new token each run; only the stored one counts.
        assert tuple(version.options.ignore_changes) == ("secretString",)
        assert secret.inputs["kmsKeyId"] == inputs["kmsKeyId"]


def test_sourcegraph_gets_the_token_from_a_kubernetes_secret_never_from_values() -> None:
    eks = plan("eks")
    groups = {g.name: g for g in eks.by_type(REDIS)}
    k8s_secrets = {s.name: s for s in eks.by_type("kubernetes:core/v1:Secret")}
    release = next(
        r for r in eks.by_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "sourcegraph"
    )
    text = release.inputs["valueYamlFiles"][0].text
    values = yaml.safe_load(text)
    for key, short in (("redisCache", "redis-cache"), ("redisStore", "redis-store")):
        group = groups[f"example-sourcegraph-{short}"]
        assert values[key] == {"enabled": False, "connection": {"existingSecret": f"{short}-connection"}}
        assert group.inputs["authToken"] not in text
        secret = k8s_secrets[f"example-sourcegraph-{short}-connection"]
        assert secret.inputs["metadata"] == {"name": f"{short}-connection", "namespace": "sourcegraph"}
        assert "stringData" in secret.secret_inputs
        host = group.outputs["primaryEndpointAddress"]
        assert secret.inputs["stringData"] == {
            "endpoint": f"rediss://:{group.inputs['authToken']}@{host}:6379"
        }


# --- objects bucket ---------------------------------------------------------------------------------------


def test_the_objects_bucket_keeps_versions_for_30_days() -> None:
    eks = plan("eks")
    versioning = eks.one("aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"] == {"status": "Enabled"}
    lifecycle = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    rules = eks.one(lifecycle, "example-sourcegraph-objects-lifecycle").inputs["rules"]
    assert [r["noncurrentVersionExpiration"] for r in rules] == [{"noncurrentDays": 30}]


# --- EKS control-plane logs -------------------------------------------------------------------------------


def test_control_plane_logs_keep_a_year_by_default() -> None:
    eks = plan("eks")
    group = eks.one("aws:cloudwatch/logGroup:LogGroup")
    assert group.inputs["retentionInDays"] == 365
    assert "kmsKeyId" not in group.inputs
    cluster = eks.one("aws:eks/cluster:Cluster")
    assert cluster.inputs["enabledClusterLogTypes"] == ["api", "audit", "authenticator"]


def test_every_control_plane_log_type_and_a_kms_key_can_be_chosen() -> None:
    key = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    types = '["api","audit","authenticator","controllerManager","scheduler"]'
    eks = plan("eks", enabled_cluster_log_types=types, log_kms_key_arn=key)
    assert eks.one("aws:eks/cluster:Cluster").inputs["enabledClusterLogTypes"] == json.loads(types)
    assert eks.one("aws:cloudwatch/logGroup:LogGroup").inputs["kmsKeyId"] == key


def test_shorter_log_retention_is_a_finding() -> None:
    findings = [f for f in evaluate(plan("eks", log_retention_days="90").resources) if f.rule_id == "SGA-022"]
    assert [(f.resource, f.severity) for f in findings] == [("example-logs", Severity.HIGH)]


# --- ALBs -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["single-node", "poc"])
def test_the_alb_logs_to_a_private_tls_only_bucket_and_refuses_deletion(stack: str) -> None:
    result = plan(stack)
    alb = result.one(ALB)
    bucket = result.one(BUCKET, "example-alb-logs")
    assert alb.inputs["enableDeletionProtection"] is True
    assert alb.inputs["accessLogs"] == {"bucket": bucket.outputs["bucket"], "enabled": True}
    assert bucket.options.protect and bucket.options.retain_on_delete
    assert bucket.inputs["forceDestroy"] is False
    encryption = result.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    assert encryption.inputs["rules"][0]["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    block = result.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(
        block[k] is True
        for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    rules = result.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]
    assert [r["expiration"] for r in rules] == [{"days": 90}]
    statements = {s["Sid"]: s for s in policy(result.one("aws:s3/bucketPolicy:BucketPolicy"))["Statement"]}
    arn = bucket.outputs["arn"]
    assert statements["AllowLoadBalancerLogDelivery"] == {
        "Sid": "AllowLoadBalancerLogDelivery",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::127311923021:root"},  # us-east-1's ELB account
        "Action": "s3:PutObject",
        "Resource": f"{arn}/AWSLogs/123456789012/*",
    }
    assert statements["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    # The ALB waits for the policy: AWS checks it may write when logging is turned on.
    assert result.one("aws:s3/bucketPolicy:BucketPolicy").urn in alb.options.depends_on


def test_newer_regions_deliver_as_the_service_principal() -> None:
    arn = "arn:aws:s3:::logs"
    newer = json.loads(delivery_policy(arn, "me-central-1", "123456789012"))["Statement"][0]
    assert newer["Principal"] == {"Service": LOG_DELIVERY_SERVICE}
    older = json.loads(delivery_policy(arn, "eu-west-1", "123456789012"))["Statement"][0]
    assert older["Principal"] == {"AWS": f"arn:aws:iam::{ELB_ACCOUNT_IDS['eu-west-1']}:root"}
    china = json.loads(delivery_policy(arn, "cn-north-1", "123456789012"))["Statement"][0]
    assert china["Principal"]["AWS"].startswith("arn:aws-cn:iam::")


def test_an_existing_bucket_is_used_as_is() -> None:
    result = plan("single-node", alb_access_logs_bucket="my-central-alb-logs")
    assert result.one(ALB).inputs["accessLogs"] == {"bucket": "my-central-alb-logs", "enabled": True}
    assert result.get(BUCKET, "example-alb-logs") is None


@pytest.mark.parametrize(
    ("stack", "key"),
    [
        ("single-node", "alb_access_logs"),
        ("single-node", "alb_deletion_protection"),
        ("poc", "alb_access_logs"),
        ("poc", "alb_deletion_protection"),
    ],
)
def test_turning_an_alb_default_off_is_a_finding(stack: str, key: str) -> None:
    result = plan(stack, **{key: "false"})
    findings = [f for f in evaluate(result.resources) if f.rule_id == "SGA-023"]
    assert [(f.resource, f.severity) for f in findings] == [("example-alb", Severity.HIGH)]


# --- the policy over every tier and the CLI ---------------------------------------------------------------

TIERS = {
    "eks": list(Tier),
    "single-node": [Tier.XS, Tier.S, Tier.M, Tier.L, Tier.XL],
    "poc": [Tier.XS, Tier.S],
}


@pytest.mark.parametrize(
    ("stack", "tier"), [(s, t) for s, tiers in TIERS.items() for t in tiers], ids=lambda v: str(v)
)
def test_no_high_or_critical_finding_on_any_tier(stack: str, tier: Tier) -> None:
    config = {"tier": tier.value}
    if stack != "poc":
        # Size by tier alone: the examples' workloads would need M and up.
        config.update(users="0", repos="0", total_repo_gb="", largest_repo_gb="")
    result = run_plan(ROOT / "stacks" / stack, stack="example", config=config)
    blocking = [
        (f.rule_id, f.resource, f.message)
        for f in evaluate(result.resources)
        if f.severity >= Severity.HIGH and not f.suppressed
    ]
    assert blocking == []


def test_strict_fails_on_a_default_turned_off_unless_suppressed(capsys: pytest.CaptureFixture[str]) -> None:
    stack = str(ROOT / "stacks" / "eks")
    code, _ = run_cli(capsys, "plan", stack, "--config", "postgres_multi_az=false", "--strict")
    assert code == 1
    reason = json.dumps({"SGA-018": "a staging copy; an hour of downtime is acceptable"})
    code, out = run_cli(
        capsys,
        "plan",
        stack,
        "--config",
        "postgres_multi_az=false",
        "--config",
        f"policy_suppressions={reason}",
        "--strict",
        "--json",
    )
    assert code == 0
    findings = json.loads(out)["policy"]["findings"]
    suppressed = [f for f in findings if f["rule_id"] == "SGA-018"]
    assert len(suppressed) == 3 and all(f["suppressed"] for f in suppressed)


def test_the_default_plan_json_shows_every_default(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_cli(capsys, "plan", str(ROOT / "stacks" / "eks"), "--json", "--strict")
    assert code == 0
    resources = json.loads(out)["resources"]
    rds = [r["inputs"] for r in resources if r["type"] == RDS]
    assert rds and all(
        r["multiAz"] and r["performanceInsightsEnabled"] and r["monitoringInterval"] == 60 for r in rds
    )
    redis = [r["inputs"] for r in resources if r["type"] == REDIS]
    assert redis and all(r["authToken"] == "[secret]" and r["automaticFailoverEnabled"] for r in redis)
    items = {line["item"] for line in json.loads(out)["cost"]["lines"]}
    assert "db.m6g.large PostgreSQL (Multi-AZ)" in items
    assert {"Enhanced Monitoring ingestion", "log exports (postgresql, upgrade) ingestion"} <= items
    assert "Performance Insights, 7 days (free tier)" in items
