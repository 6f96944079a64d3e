"""Each policy rule fires on a deliberately insecure variant (one test per rule) and not on the defaults."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sgarch.plan import Plan, run_plan
from sgarch.policy import RULES, Finding, evaluate
from sgarch.testing import RecordedOptions, ResourceRecord

ROOT = Path(__file__).resolve().parents[2]
INSTANCE = "aws:ec2/instance:Instance"
VOLUME = "aws:ebs/volume:Volume"


# The example sizes from a workload that needs M; these plans size by tier alone.
XS = {"tier": "XS", "users": "0", "repos": "0", "total_repo_gb": "", "largest_repo_gb": ""}


@pytest.fixture(scope="module")
def plan() -> Plan:
    """The single-node example stack at XS: secure by default, the base of most insecure variants."""
    return run_plan(ROOT / "stacks" / "single-node", stack="example", config=XS)


def rec(
    type_: str, name: str, inputs: dict[str, Any], outputs: dict[str, Any] | None = None, **options: Any
) -> ResourceRecord:
    return ResourceRecord(
        type=type_,
        name=name,
        urn=f"urn:pulumi:test::test::{type_}::{name}",
        parent=None,
        custom=True,
        id=f"id-{name}",
        raw_inputs=inputs,
        outputs={"id": f"id-{name}", **(outputs or {})},
        options=RecordedOptions(**options),
    )


def changed(
    plan: Plan, type_: str, change: Callable[[dict[str, Any]], None], **options: Any
) -> list[ResourceRecord]:
    """The plan's records with the (single) resource of ``type_`` changed in place of the original."""
    out = []
    for record in plan.resources:
        if record.type == type_:
            inputs = json.loads(json.dumps(record.inputs))
            change(inputs)
            opts = dataclasses.replace(record.options, **options) if options else record.options
            record = dataclasses.replace(record, raw_inputs=inputs, options=opts)
        out.append(record)
    return out


def fired(records: list[ResourceRecord], rule_id: str) -> list[Finding]:
    return [f for f in evaluate(records) if f.rule_id == rule_id]


def test_defaults_have_no_findings(plan: Plan) -> None:
    assert evaluate(plan.resources) == []


def test_sga001_imdsv1_instance_and_template(plan: Plan) -> None:
    records = changed(plan, INSTANCE, lambda i: i["metadataOptions"].update(httpTokens="optional"))
    records.append(rec("aws:ec2/launchTemplate:LaunchTemplate", "lt", {}))
    found = fired(records, "SGA-001")
    assert [(f.resource, f.severity.value) for f in found] == [("example-instance", "high"), ("lt", "high")]
    assert "optional" in found[0].message


def test_sga002_unencrypted_volume_and_root(plan: Plan) -> None:
    records = changed(plan, VOLUME, lambda i: i.update(encrypted=False))
    records = [r for r in records if r.type != INSTANCE]
    records.append(
        rec(
            INSTANCE,
            "bare",
            {"rootBlockDevice": {"volumeSize": 30.0}, "metadataOptions": {"httpTokens": "required"}},
        )
    )
    found = fired(records, "SGA-002")
    assert [(f.resource, f.message) for f in found] == [
        ("bare", "the root volume is not encrypted"),
        ("example-data", "the volume is not encrypted"),
    ]
    default_on = [*records, rec("aws:ebs/encryptionByDefault:EncryptionByDefault", "ebs", {"enabled": True})]
    assert fired(default_on, "SGA-002") == []


def test_sga003_unencrypted_rds() -> None:
    db = rec("aws:rds/instance:Instance", "db", {"engine": "postgres", "engineVersion": "16.4"})
    assert [f.resource for f in fired([db], "SGA-003")] == ["db"]
    ok = rec("aws:rds/instance:Instance", "db", {"engine": "postgres", "storageEncrypted": True})
    assert fired([ok], "SGA-003") == []


def test_sga004_elasticache_without_at_rest_encryption() -> None:
    group = rec(
        "aws:elasticache/replicationGroup:ReplicationGroup", "redis", {"transitEncryptionEnabled": True}
    )
    assert [f.resource for f in fired([group], "SGA-004")] == ["redis"]


def test_sga005_bucket_without_encryption_config() -> None:
    bucket = rec("aws:s3/bucket:Bucket", "uploads", {}, {"bucket": "uploads-1234567"})
    assert [f.severity.value for f in fired([bucket], "SGA-005")] == ["medium"]
    config = rec(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "uploads",
        {
            "bucket": "uploads-1234567",
            "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}],
        },
    )
    assert fired([bucket, config], "SGA-005") == []


def test_sga006_eks_without_secrets_encryption() -> None:
    cluster = rec("aws:eks/cluster:Cluster", "eks", {"encryptionConfig": {"resources": ["secrets"]}})
    assert [f.resource for f in fired([cluster], "SGA-006")] == ["eks"]
    ok = rec(
        "aws:eks/cluster:Cluster",
        "eks",
        {"encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": "arn:k"}}},
    )
    assert fired([ok], "SGA-006") == []


def test_sga007_http_listener_that_forwards(plan: Plan) -> None:
    def forward(inputs: dict[str, Any]) -> None:
        if inputs.get("protocol") == "HTTP":
            inputs["defaultActions"] = [{"type": "forward", "targetGroupArn": "arn:tg"}]

    found = fired(changed(plan, "aws:lb/listener:Listener", forward), "SGA-007")
    assert [f.resource for f in found] == ["example-http-redirect"]


def test_sga008_redis_without_tls() -> None:
    group = rec(
        "aws:elasticache/replicationGroup:ReplicationGroup", "redis", {"atRestEncryptionEnabled": True}
    )
    assert [f.resource for f in fired([group], "SGA-008")] == ["redis"]


def test_sga009_rds_accepting_plain_connections() -> None:
    old = rec("aws:rds/instance:Instance", "old", {"engine": "postgres", "engineVersion": "14.12"})
    group = rec(
        "aws:rds/parameterGroup:ParameterGroup",
        "pg",
        {"parameters": [{"name": "rds.force_ssl", "value": "0"}]},
        {"name": "pg-abc"},
    )
    custom = rec(
        "aws:rds/instance:Instance",
        "custom",
        {"engine": "postgres", "engineVersion": "16.4", "parameterGroupName": "pg-abc"},
    )
    new = rec("aws:rds/instance:Instance", "new", {"engine": "postgres", "engineVersion": "16.4"})
    found = fired([old, group, custom, new], "SGA-009")
    assert [f.resource for f in found] == ["custom", "old"]


def test_sga010_ssh_open_to_the_world(plan: Plan) -> None:
    group = plan.one("aws:ec2/securityGroup:SecurityGroup", "example-instance")
    ssh = rec(
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "ssh",
        {
            "securityGroupId": group.outputs["id"],
            "ipProtocol": "tcp",
            "fromPort": 22.0,
            "toPort": 22.0,
            "cidrIpv4": "0.0.0.0/0",
        },
    )
    found = fired([*plan.resources, ssh], "SGA-010")
    assert [(f.resource, f.message, f.severity.value) for f in found] == [
        ("ssh", "port 22 is open to 0.0.0.0/0", "critical")
    ]


def test_sga010_allows_https_only_on_an_explicitly_public_alb() -> None:
    public = run_plan(
        ROOT / "stacks" / "single-node",
        stack="example",
        config={**XS, "internet_facing": "true", "allowed_cidrs": '["0.0.0.0/0"]'},
    )
    assert fired(public.resources, "SGA-010") == []
    implicit = [
        dataclasses.replace(r, raw_inputs={k: v for k, v in r.inputs.items() if k != "internal"})
        if r.type == "aws:lb/loadBalancer:LoadBalancer"
        else r
        for r in public.resources
    ]
    # The stack never opens the HTTP redirect port to the world, so only 443 shows.
    assert sorted(f.message for f in fired(implicit, "SGA-010")) == ["port 443 is open to 0.0.0.0/0"]


def test_sga011_instance_in_a_public_subnet(plan: Plan) -> None:
    public_subnet = plan.one("aws:ec2/subnet:Subnet", "example-network-public-0").outputs["id"]
    found = fired(
        changed(plan, INSTANCE, lambda i: i.update(subnetId=public_subnet, associatePublicIpAddress=True)),
        "SGA-011",
    )
    assert [f.message for f in found] == [
        "the instance gets a public IP address",
        "the instance is in a public subnet",
    ]


def test_sga012_volume_neither_protected_nor_snapshotted(plan: Plan) -> None:
    records = changed(plan, VOLUME, lambda i: i.pop("finalSnapshot"), protect=False, retain_on_delete=False)
    found = fired(records, "SGA-012")
    assert [f.message for f in found] == [
        "neither protect nor retain_on_delete is set; final_snapshot is not set"
    ]
    db = rec("aws:rds/instance:Instance", "db", {"skipFinalSnapshot": True}, protect=True)
    assert "no final snapshot" in fired([db], "SGA-012")[0].message


def test_sga013_volume_without_snapshot_policy(plan: Plan) -> None:
    records = [r for r in plan.resources if r.type != "aws:dlm/lifecyclePolicy:LifecyclePolicy"]
    assert [f.resource for f in fired(records, "SGA-013")] == ["example-data"]
    db = rec("aws:rds/instance:Instance", "db", {"backupRetentionPeriod": 0.0})
    assert [f.resource for f in fired([db], "SGA-013")] == ["db"]


def test_sga014_elasticache_without_snapshots() -> None:
    group = rec("aws:elasticache/replicationGroup:ReplicationGroup", "redis", {"snapshotRetentionLimit": 0.0})
    found = fired([group], "SGA-014")
    assert found[0].severity.value == "medium" and "snapshot_retention_limit is 0" in found[0].message


def test_sga015_eks_without_audit_logs() -> None:
    cluster = rec("aws:eks/cluster:Cluster", "eks", {"enabledClusterLogTypes": ["api"]})
    assert [f.message for f in fired([cluster], "SGA-015")] == [
        "control-plane log types off: audit, authenticator"
    ]


def test_sga016_star_on_star_policy() -> None:
    policy = rec(
        "aws:iam/rolePolicy:RolePolicy",
        "admin",
        {
            "policy": json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
            )
        },
    )
    scoped = rec(
        "aws:iam/rolePolicy:RolePolicy",
        "scoped",
        {
            "policy": json.dumps(
                {"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}]}
            )
        },
    )
    attach = rec(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "a",
        {"policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
    )
    found = fired([policy, scoped, attach], "SGA-016")
    assert [(f.resource, f.severity.value) for f in found] == [("a", "critical"), ("admin", "critical")]


def test_sga017_bucket_without_public_access_block() -> None:
    bucket = rec("aws:s3/bucket:Bucket", "uploads", {}, {"bucket": "uploads-1234567"})
    assert [f.message for f in fired([bucket], "SGA-017")] == ["no BucketPublicAccessBlock covers the bucket"]
    settings = dict.fromkeys(
        ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"), True
    )
    block = rec(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "uploads",
        {"bucket": "uploads-1234567", **settings},
    )
    assert fired([bucket, block], "SGA-017") == []
    half = rec(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "uploads",
        {"bucket": "uploads-1234567", **settings, "blockPublicPolicy": False},
    )
    assert "blockPublicPolicy" in fired([bucket, half], "SGA-017")[0].message


def test_sga018_single_az_database() -> None:
    single = rec("aws:rds/instance:Instance", "db", {"multiAz": False})
    unset = rec("aws:rds/instance:Instance", "old", {})
    replica = rec("aws:rds/instance:Instance", "replica", {"replicateSourceDb": "db"})
    multi = rec("aws:rds/instance:Instance", "ha", {"multiAz": True})
    found = fired([single, unset, replica, multi], "SGA-018")
    assert [(f.resource, f.severity.value) for f in found] == [("db", "high"), ("old", "high")]


def test_sga019_database_without_performance_insights_or_enhanced_monitoring() -> None:
    bare = rec("aws:rds/instance:Instance", "db", {"monitoringInterval": 0.0})
    no_role = rec(
        "aws:rds/instance:Instance",
        "norole",
        {"performanceInsightsEnabled": True, "monitoringInterval": 60.0},
    )
    good = rec(
        "aws:rds/instance:Instance",
        "good",
        {"performanceInsightsEnabled": True, "monitoringInterval": 60.0, "monitoringRoleArn": "arn:role"},
    )
    found = fired([bare, no_role, good], "SGA-019")
    assert sorted((f.resource, f.message.split(" ")[0]) for f in found) == [
        ("db", "Enhanced"),
        ("db", "Performance"),
        ("norole", "Enhanced"),
    ]
    assert {f.severity.value for f in found} == {"medium"}


def test_sga020_database_without_log_exports() -> None:
    quiet = rec(
        "aws:rds/instance:Instance", "db", {"engine": "postgres", "enabledCloudwatchLogsExports": ["upgrade"]}
    )
    mysql = rec("aws:rds/instance:Instance", "other", {"engine": "mysql"})
    assert [f.message for f in fired([quiet, mysql], "SGA-020")] == [
        "log types not exported to CloudWatch: postgresql"
    ]


def test_sga021_redis_without_auth() -> None:
    open_group = rec(
        "aws:elasticache/replicationGroup:ReplicationGroup", "redis", {"transitEncryptionEnabled": True}
    )
    token = rec(
        "aws:elasticache/replicationGroup:ReplicationGroup",
        "token",
        {"transitEncryptionEnabled": True, "authToken": "x" * 32},
    )
    rbac = rec("aws:elasticache/replicationGroup:ReplicationGroup", "rbac", {"userGroupIds": ["sg-users"]})
    found = fired([open_group, token, rbac], "SGA-021")
    assert [(f.resource, f.severity.value) for f in found] == [("redis", "high")]


def test_sga022_log_group_retention() -> None:
    forever = rec("aws:cloudwatch/logGroup:LogGroup", "app", {"name": "/app"})
    short_audit = rec(
        "aws:cloudwatch/logGroup:LogGroup", "eks", {"name": "/aws/eks/sg/cluster", "retentionInDays": 90.0}
    )
    year = rec(
        "aws:cloudwatch/logGroup:LogGroup", "ok", {"name": "/aws/eks/sg/cluster", "retentionInDays": 365.0}
    )
    other = rec("aws:cloudwatch/logGroup:LogGroup", "app30", {"name": "/app", "retentionInDays": 30.0})
    found = fired([forever, short_audit, year, other], "SGA-022")
    assert [(f.resource, f.severity.value) for f in found] == [("app", "high"), ("eks", "high")]
    assert "kept 90 days" in found[1].message


def test_sga023_alb_without_access_logs_or_deletion_protection(plan: Plan) -> None:
    lb = "aws:lb/loadBalancer:LoadBalancer"
    assert fired(plan.resources, "SGA-023") == []

    def no_logs(inputs: dict[str, Any]) -> None:
        inputs.pop("accessLogs", None)

    def logs_disabled(inputs: dict[str, Any]) -> None:
        inputs["accessLogs"] = {"bucket": "logs", "enabled": False}

    def unprotected(inputs: dict[str, Any]) -> None:
        inputs["enableDeletionProtection"] = False

    for change, words in (
        (no_logs, "access logs"),
        (logs_disabled, "access logs"),
        (unprotected, "deletion"),
    ):
        found = fired(changed(plan, lb, change), "SGA-023")
        assert [(f.resource, f.severity.value) for f in found] == [("example-alb", "high")]
        assert found[0].message.startswith(words)
    network = rec(lb, "nlb", {"loadBalancerType": "network"})
    assert fired([network], "SGA-023") == []


def test_every_rule_has_a_test_above() -> None:
    tested = {name.split("_")[1].upper() for name in globals() if name.startswith("test_sga")}
    assert tested == {r.id.replace("-", "") for r in RULES}
