"""EKS production defaults beyond issue #16: the ALB the AWS Load Balancer Controller creates logs its requests
and refuses deletion, and the CloudWatch log groups of the RDS log exports expire.

Everything is read from the plan of ``stacks/eks`` (its example turns RDS on): the chart's rendered values,
the buckets and the Job that sets the log groups' retention.
"""

from __future__ import annotations

import json
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from sgarch.cost import estimate_cost
from sgarch.errors import ConfigError
from sgarch.helm import SourcegraphReleaseArgs
from sgarch.helm.rds_logs import RETENTION_SCRIPT
from sgarch.plan import Plan, run_plan
from sgarch.policy import Severity, evaluate
from sgarch.sizing import estimate_for_tier
from sgarch.tiers import Tier
from sgarch.validation import build

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "aws:s3/bucket:Bucket"
JOB = "kubernetes:batch/v1:Job"
ATTRIBUTES = "alb.ingress.kubernetes.io/load-balancer-attributes"


@cache
def plan(**config: str) -> Plan:
    return run_plan(ROOT / "stacks" / "eks", stack="example", config=config)


def values(result: Plan) -> dict[str, Any]:
    release = result.one("kubernetes:helm.sh/v3:Release", "example-sourcegraph-sourcegraph")
    loaded: dict[str, Any] = yaml.safe_load(release.inputs["valueYamlFiles"][0].text)
    return loaded


def attributes(result: Plan) -> dict[str, str]:
    annotation = values(result)["frontend"]["ingress"]["annotations"].get(ATTRIBUTES)
    if annotation is None:
        return {}
    return dict(pair.split("=", 1) for pair in annotation.split(","))


# --- the ALB ----------------------------------------------------------------------------------------------


def test_the_alb_logs_to_a_created_private_bucket_and_refuses_deletion() -> None:
    result = plan()
    bucket = result.one(BUCKET, "example-sourcegraph-alb-logs")
    assert attributes(result) == {
        "access_logs.s3.enabled": "true",
        "access_logs.s3.bucket": bucket.outputs["bucket"],
        "deletion_protection.enabled": "true",
    }
    assert (
        bucket.options.protect and bucket.options.retain_on_delete and bucket.inputs["forceDestroy"] is False
    )
    encryption = result.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "example-sourcegraph-alb-logs-encryption",
    )
    # ALB log delivery supports SSE-S3 only.
    assert encryption.inputs["rules"][0]["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    lifecycle = result.one(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "example-sourcegraph-alb-logs-lifecycle",
    )
    assert [r["expiration"] for r in lifecycle.inputs["rules"]] == [{"days": 90}]
    block = result.one(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "example-sourcegraph-alb-logs-public-access"
    ).inputs
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "restrictPublicBuckets"))
    policy = result.one("aws:s3/bucketPolicy:BucketPolicy", "example-sourcegraph-alb-logs-policy")
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    assert statements["AllowLoadBalancerLogDelivery"]["Principal"] == {
        "AWS": "arn:aws:iam::127311923021:root"
    }
    assert statements["AllowLoadBalancerLogDelivery"]["Resource"] == (
        f"{bucket.outputs['arn']}/AWSLogs/123456789012/*"
    )
    assert "DenyInsecureTransport" in statements
    # The controller turns logging on when it creates the ALB; AWS then checks the policy lets it write.
    release = result.one("kubernetes:helm.sh/v3:Release", "example-sourcegraph-sourcegraph")
    assert policy.urn in release.options.depends_on


def test_an_existing_bucket_is_used_and_none_is_created() -> None:
    result = plan(alb_access_logs_bucket="my-central-alb-logs")
    assert attributes(result)["access_logs.s3.bucket"] == "my-central-alb-logs"
    assert result.get(BUCKET, "example-sourcegraph-alb-logs") is None


def test_turning_either_off_writes_false_and_is_a_finding() -> None:
    # The controller changes only the attributes the annotation names: off must be written out.
    result = plan(alb_access_logs="false", alb_deletion_protection="false")
    assert attributes(result) == {"access_logs.s3.enabled": "false", "deletion_protection.enabled": "false"}
    assert result.get(BUCKET, "example-sourcegraph-alb-logs") is None
    findings = [f for f in evaluate(result.resources) if f.rule_id == "SGA-023"]
    assert sorted(f.message for f in findings) == [
        "the ingress's ALB has no deletion protection",
        "the ingress's ALB writes no access logs, so who requested what is not recorded",
    ]
    assert {(f.resource, f.severity) for f in findings} == {
        ("example-sourcegraph-sourcegraph", Severity.HIGH)
    }
    assert not [f for f in evaluate(plan().resources) if f.rule_id == "SGA-023"]


def test_the_log_bucket_is_priced_like_the_single_nodes() -> None:
    eks = estimate_cost(plan().resources, "us-east-1").for_resource("example-sourcegraph-alb-logs")
    single = run_plan(ROOT / "stacks" / "single-node", stack="example", config={})
    expected = estimate_cost(single.resources, "us-east-1").for_resource("example-alb-logs")
    assert [(line.item, line.monthly_usd) for line in eks] == [
        (line.item, line.monthly_usd) for line in expected
    ]
    assert eks and eks[0].monthly_usd > 0


# --- RDS log groups ---------------------------------------------------------------------------------------


def retention_job(result: Plan) -> Any:
    return result.one(JOB, "example-sourcegraph-rds-log-retention")


def env(job: Any) -> dict[str, str]:
    (container,) = job.inputs["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value") for e in container["env"]}


def test_every_export_group_of_every_instance_gets_the_stacks_retention() -> None:
    result = plan()
    instances = result.by_type("aws:rds/instance:Instance")
    job = retention_job(result)
    expected = {
        f"/aws/rds/instance/{i.outputs['identifier']}/{kind}"
        for i in instances
        for kind in ("postgresql", "upgrade")
    }
    assert set(env(job)["SGARCH_LOG_GROUPS"].split()) == expected and len(expected) == 6
    assert env(job)["SGARCH_RETENTION_DAYS"] == "365"
    assert env(job)["SGARCH_KMS_KEY_ARN"] == ""
    # The Job runs as its own service account, whose role may touch these groups and nothing else.
    spec = job.inputs["spec"]["template"]["spec"]
    association = result.one(
        "aws:eks/podIdentityAssociation:PodIdentityAssociation",
        "example-sourcegraph-pod-identity-sgarch-rds-log-retention",
    )
    assert association.inputs["serviceAccount"] == spec["serviceAccountName"]
    role = result.one("aws:iam/role:Role", "example-sourcegraph-rds-logs-role")
    assert association.inputs["roleArn"] == role.outputs["arn"]
    policy = json.loads(
        result.one("aws:iam/rolePolicy:RolePolicy", "example-sourcegraph-rds-logs-policy").inputs["policy"]
    )
    (statement,) = policy["Statement"]
    assert sorted(statement["Action"]) == [
        "logs:AssociateKmsKey",
        "logs:CreateLogGroup",
        "logs:PutRetentionPolicy",
    ]
    assert sorted(statement["Resource"]) == sorted(
        f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/rds/instance/{i.outputs['identifier']}/*"
        for i in instances
    )


def test_the_instances_keep_their_identifier_prefix() -> None:
    # A fixed identifier would let a LogGroup be declared before the instance, and replace every database.
    for instance in plan().by_type("aws:rds/instance:Instance"):
        assert instance.inputs["identifierPrefix"].startswith(instance.name)
        assert "identifier" not in instance.inputs


def test_retention_and_key_follow_the_stack_settings() -> None:
    key = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    job = retention_job(plan(log_retention_days="731", log_kms_key_arn=key))
    assert env(job)["SGARCH_RETENTION_DAYS"] == "731"
    assert env(job)["SGARCH_KMS_KEY_ARN"] == key


def test_no_job_without_rds() -> None:
    assert plan(postgres="false").get(JOB, "example-sourcegraph-rds-log-retention") is None


def test_a_retention_cloudwatch_refuses_is_an_error() -> None:
    with pytest.raises(ConfigError, match="postgres_log_retention_days must be a retention CloudWatch Logs"):
        build(
            SourcegraphReleaseArgs,
            None,
            estimate=estimate_for_tier(Tier.XS),
            cluster_name="sg",
            vpc_cidrs=["10.0.0.0/16"],
            postgres_log_retention_days=45,
        )


def test_a_mirrored_registry_needs_a_mirrored_aws_cli() -> None:
    with pytest.raises(ConfigError, match="aws_cli_image must be set when image_repository"):
        build(
            SourcegraphReleaseArgs,
            None,
            estimate=estimate_for_tier(Tier.XS),
            cluster_name="sg",
            vpc_cidrs=["10.0.0.0/16"],
            postgres=True,
            postgres_client_image="registry.example.com/postgres:16-alpine",
            image_repository="registry.example.com/sourcegraph",
            postgres_log_retention_days=365,
            vpc_id="vpc-1",
            private_subnet_ids=["subnet-1"],
            node_security_group_id="sg-1",
        )


# --- the Job's script, run against a fake AWS CLI -----------------------------------------------------------

FAKE_AWS = """\
#!/bin/sh
echo "$*" >> "$CALLS"
case "$2" in
  create-log-group) case " $EXISTING " in *" $4 "*) echo "ResourceAlreadyExistsException" >&2; exit 254;; esac;;
  put-retention-policy) [ -n "${FAIL_RETENTION:-}" ] && { echo "AccessDenied" >&2; exit 254; };;
esac
exit 0
"""


def run_script(tmp_path: Path, existing: str, kms: str = "", fail: bool = False) -> tuple[int, list[str]]:
    fake = tmp_path / "aws"
    fake.write_text(FAKE_AWS)
    fake.chmod(0o755)
    calls = tmp_path / "calls"
    calls.touch()
    environment = {
        "PATH": f"{tmp_path}:/usr/bin:/bin",
        "CALLS": str(calls),
        "EXISTING": existing,
        "SGARCH_LOG_GROUPS": "/aws/rds/instance/db-1/postgresql /aws/rds/instance/db-1/upgrade",
        "SGARCH_RETENTION_DAYS": "365",
        "SGARCH_KMS_KEY_ARN": kms,
    }
    if fail:
        environment["FAIL_RETENTION"] = "1"
    done = subprocess.run(
        ["/bin/sh", "-c", RETENTION_SCRIPT, "rds-log-retention"], env=environment, capture_output=True
    )
    return done.returncode, calls.read_text().splitlines()


def test_the_script_creates_missing_groups_and_sets_retention_on_existing_ones(tmp_path: Path) -> None:
    code, calls = run_script(tmp_path, existing="/aws/rds/instance/db-1/postgresql", kms="arn:key")
    assert code == 0
    assert calls == [
        "logs create-log-group --log-group-name /aws/rds/instance/db-1/postgresql --kms-key-id arn:key",
        "logs associate-kms-key --log-group-name /aws/rds/instance/db-1/postgresql --kms-key-id arn:key",
        "logs put-retention-policy --log-group-name /aws/rds/instance/db-1/postgresql --retention-in-days 365",
        "logs create-log-group --log-group-name /aws/rds/instance/db-1/upgrade --kms-key-id arn:key",
        "logs put-retention-policy --log-group-name /aws/rds/instance/db-1/upgrade --retention-in-days 365",
    ]


def test_the_script_without_a_key(tmp_path: Path) -> None:
    code, calls = run_script(tmp_path, existing="/aws/rds/instance/db-1/upgrade")
    assert code == 0 and not [c for c in calls if "kms" in c]
    assert [c.split()[1] for c in calls] == ["create-log-group", "put-retention-policy"] * 2


def test_the_script_stops_when_the_retention_cannot_be_set(tmp_path: Path) -> None:
    code, calls = run_script(tmp_path, existing="", fail=True)
    assert code == 1
    assert calls[-1].startswith(
        "logs put-retention-policy --log-group-name /aws/rds/instance/db-1/postgresql"
    )
