"""Redaction rules, and the support bundle proven not to leak secrets fed through outputs and alarm text."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from doctor_fixtures import REGION, Patched, build_deployment, forbidden

from sgarch.cli.app import main
from sgarch.doctor import DoctorContext, redact, render_support_bundle, run_checks
from sgarch.doctor.bundle import collect_alarms
from sgarch.upgrade.outputs import load_stack_outputs

# Each secret, and a string it sits in. Every secret must vanish from the redacted text.
SECRETS = {
    "AKIAIOSFODNN7EXAMPLE": "aws_access_key_id AKIAIOSFODNN7EXAMPLE in a log line",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY": "creds wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY here",
    "hunter2": "https://admin:hunter2@git.example.com/org/repo.git",
    "dbpass123": "postgres://sg:dbpass123@pgsql:5432/sg?sslmode=disable",
    "s3cr3t-value": "PGPASSWORD=s3cr3t-value",
    "json-secret-9": '{"db_password": "json-secret-9"}',
    "sgp_0123456789abcdef0123456789abcdef01234567": "SRC_ACCESS_TOKEN sgp_0123456789abcdef0123456789abcdef01234567",
    "sgph_abcdef0123456789_deadbeefcafe": "header sgph_abcdef0123456789_deadbeefcafe",
    "f00dfeed1234567890abcd": "Authorization: token f00dfeed1234567890abcd",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig123": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig123",
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC": (
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nabc\n-----END PRIVATE KEY-----"
    ),
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789": "GITHUB_TOKEN ghp_abcdefghijklmnopqrstuvwxyz0123456789",
}

# Things support needs, which look a little like secrets and must survive.
KEEP = [
    "i-0123456789abcdef0",
    "vol-0123456789abcdef0",
    "snap-0a1b2c3d4e5f67890",
    "sgarch:sourcegraph-version=7.5.4453",
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/demo/0123456789abcdef",
    "commit 0123456789abcdef0123456789abcdef01234567",
    "https://sourcegraph.example.com",
    "the token expired",
    "m6a.2xlarge",
]


@pytest.mark.parametrize(("secret", "text"), list(SECRETS.items()), ids=list(range(len(SECRETS))))
def test_each_secret_is_redacted(secret: str, text: str) -> None:
    redacted, count = redact(text)
    assert secret not in redacted
    assert "[REDACTED" in redacted and count >= 1


@pytest.mark.parametrize("text", KEEP)
def test_ordinary_values_survive(text: str) -> None:
    assert redact(text) == (text, 0)


def test_pem_block_goes_whole() -> None:
    text = "before\n-----BEGIN RSA PRIVATE KEY-----\nAAAA\nBBBB\n-----END RSA PRIVATE KEY-----\nafter"
    assert redact(text) == ("before\n[REDACTED:pem-block]\nafter", 1)


def test_url_keeps_user_and_host() -> None:
    assert redact("postgres://sg:pw@db:5432/sg")[0] == "postgres://sg:[REDACTED:password]@db:5432/sg"


def _context(tmp_path: Path, outputs_extra: dict[str, Any], **clients: Any) -> DoctorContext:
    dep = build_deployment()
    path = dep.write(tmp_path, **outputs_extra)
    made = {name: boto3.client(name, region_name=REGION) for name in ("ec2", "ssm", "cloudwatch", "elbv2")}
    cloudwatch = made["cloudwatch"]
    cloudwatch.put_metric_alarm(
        AlarmName="demo-recover",
        MetricName="StatusCheckFailed_System",
        Namespace="AWS/EC2",
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=2,
        Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        Dimensions=[{"Name": "InstanceId", "Value": dep.instance_id}],
    )
    cloudwatch.put_metric_alarm(
        AlarmName="someone-elses-alarm",
        MetricName="CPUUtilization",
        Namespace="AWS/EC2",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=90.0,
        ComparisonOperator="GreaterThanThreshold",
        Dimensions=[{"Name": "InstanceId", "Value": "i-0ffffffffffffffff"}],
    )
    cloudwatch.set_alarm_state(
        AlarmName="demo-recover",
        StateValue="ALARM",
        StateReason=f"probe failed: {SECRETS['hunter2']} and {SECRETS['f00dfeed1234567890abcd']}",
    )
    made |= clients
    return DoctorContext(outputs=load_stack_outputs(path), region=REGION, sleep=lambda _: None, **made)


def test_bundle_redacts_secrets_from_outputs_and_alarm_text(aws: None, tmp_path: Path) -> None:
    extra = {
        "extra_env": {
            "PGPASSWORD": "s3cr3t-value",
            "SRC_TOKEN": SECRETS["sgp_0123456789abcdef0123456789abcdef01234567"],
        },
        "notes": [SECRETS[k] for k in ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")],
        "tls_key": SECRETS["MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"],
        "database_url": SECRETS["dbpass123"],
    }
    history = [
        {
            "AlarmName": "demo-recover",
            "Timestamp": datetime(2026, 8, 20, 12, 0, tzinfo=timezone.utc),
            "HistoryItemType": "StateUpdate",
            "HistorySummary": f"Alarm updated from OK to ALARM ({SECRETS['eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig123']})",
        }
    ]
    ctx = _context(tmp_path, extra)
    ctx.cloudwatch = Patched(
        ctx.cloudwatch, describe_alarm_history=lambda **_: {"AlarmHistoryItems": history}
    )
    text, count = render_support_bundle(ctx, run_checks(ctx), sgarch_version="0.1.0")
    for secret in SECRETS:
        if secret in ("sgph_abcdef0123456789_deadbeefcafe", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"):
            continue  # not fed in this test
        assert secret not in text, secret
    assert count >= 8
    # The facts support needs are all there.
    for fact in (
        "| Deployment method | sgarch single-node: Docker Compose on one EC2 instance, managed by Pulumi |",
        "| Tier | S |",
        f"| Region | {REGION} |",
        "| Instance type | m6a.2xlarge |",
        "| Sourcegraph version | 7.5.4453 (configured); data volume marker: could not check",
        "| ok | instance-state |",
        "| demo-recover | ALARM |",
        "| 2026-08-20 12:00:00 | demo-recover | StateUpdate | Alarm updated from OK to ALARM (Bearer [REDACTED:credential]) |",
        "## Steps already tried",
        "## What is wrong",
        "https://sourcegraph.example.com",
    ):
        assert fact in text, fact
    assert "someone-elses-alarm" not in text


def test_bundle_degrades_when_alarm_apis_are_missing_or_forbidden(aws: None, tmp_path: Path) -> None:
    ctx = _context(tmp_path, {})
    # moto implements DescribeAlarms but not DescribeAlarmHistory.
    report = collect_alarms(ctx)
    assert [a["AlarmName"] for a in report.alarms] == ["demo-recover"]
    assert report.history == ()
    assert report.notes and report.notes[0].startswith("could not read alarm history: this endpoint does not")

    ctx.cloudwatch = Patched(ctx.cloudwatch, describe_alarms=forbidden("DescribeAlarms"))
    text, _ = render_support_bundle(ctx, [], sgarch_version="0.1.0")
    assert "- could not read alarms: cloudwatch:DescribeAlarms is forbidden (AccessDenied)." in text


def test_cli_writes_the_bundle(aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dep = build_deployment()
    outputs = dep.write(tmp_path, url="https://admin:hunter2@sourcegraph.example.com")
    bundle = tmp_path / "support.md"
    with pytest.raises(SystemExit) as info:
        main(["doctor", "--stack-outputs", str(outputs), "--support-bundle", str(bundle)])
    out, _ = capsys.readouterr()
    assert info.value.code == 0
    assert f"support bundle written to {bundle}" in out
    text = bundle.read_text(encoding="utf-8")
    assert "hunter2" not in text and "admin:[REDACTED:password]@sourcegraph.example.com" in text
    assert text.startswith("# Sourcegraph support bundle")
