"""sgarch doctor against moto: a healthy deployment, a faulty one, forbidden APIs, and the CLI."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from doctor_fixtures import REGION, VERSION, Deployment, Patched, build_deployment, forbidden

from sgarch.cli.app import main
from sgarch.doctor import DoctorContext, Finding, Status, exit_status, run_checks
from sgarch.upgrade.outputs import load_stack_outputs


def context(dep: Deployment, tmp_path: Path, **clients: Any) -> DoctorContext:
    outputs = load_stack_outputs(dep.write(tmp_path))
    made = {name: boto3.client(name, region_name=REGION) for name in ("ec2", "ssm", "cloudwatch", "elbv2")}
    made |= clients
    return DoctorContext(outputs=outputs, region=REGION, sleep=lambda _: None, **made)


def by_check(findings: list[Finding]) -> dict[str, list[Finding]]:
    grouped: dict[str, list[Finding]] = {}
    for finding in findings:
        grouped.setdefault(finding.check, []).append(finding)
    return grouped


def marker_ssm(text: str) -> Patched:
    ssm = boto3.client("ssm", region_name=REGION)

    def invocation(**_: Any) -> dict[str, Any]:
        return {"Status": "Success", "StandardOutputContent": text}

    return Patched(ssm, get_command_invocation=invocation)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 0), out, err


# --- healthy ---------------------------------------------------------------------------------------------


def test_healthy_deployment_passes_and_degrades_where_moto_has_no_api(aws: None, tmp_path: Path) -> None:
    dep = build_deployment()
    findings = run_checks(context(dep, tmp_path))
    found = by_check(findings)
    status = {name: items[0].status for name, items in found.items()}
    assert status == {
        "instance-state": Status.OK,
        "instance-status-checks": Status.OK,
        "data-volume-attached": Status.OK,
        "data-volume-encrypted": Status.OK,
        "data-volume-headroom": Status.OK,
        "world-open-ports": Status.OK,
        "alb-target-health": Status.OK,
        # moto implements neither DescribeInstanceInformation nor real command output.
        "ssm-reachability": Status.UNKNOWN,
        "latest-snapshot": Status.OK,
        "version-marker": Status.UNKNOWN,
    }
    assert "m6a.2xlarge" in found["instance-state"][0].summary
    assert found["data-volume-headroom"][0].summary == "/mnt/data is 42% full."
    assert f"attached to {dep.instance_id} at /dev/sdf" in found["data-volume-attached"][0].summary
    assert "no CloudWatch" not in found["ssm-reachability"][0].summary
    assert "no version marker" in found["version-marker"][0].summary
    assert exit_status(findings) == 0


def test_version_marker_matches_or_names_the_upgrade_to_finish(aws: None, tmp_path: Path) -> None:
    dep = build_deployment()
    ok = by_check(run_checks(context(dep, tmp_path, ssm=marker_ssm(f"{VERSION}\n"))))["version-marker"][0]
    assert ok.status is Status.OK and VERSION in ok.summary

    behind = by_check(run_checks(context(dep, tmp_path, ssm=marker_ssm("6.12.5040\n"))))["version-marker"][0]
    assert behind.status is Status.FAIL
    assert "the data is at 6.12.5040 but the stack runs 7.5.4453" in behind.summary
    assert "sgarch upgrade plan --from 6.12.5040 --to 7.5.4453 --arch single-node" in behind.fix

    ahead = by_check(run_checks(context(dep, tmp_path, ssm=marker_ssm("7.6.0"))))["version-marker"][0]
    assert ahead.status is Status.FAIL and "downgrade" in ahead.summary
    assert "pulumi config set sourcegraph_version 7.6.0" in ahead.fix


def test_ssm_offline_fails_and_skips_the_marker(aws: None, tmp_path: Path) -> None:
    dep = build_deployment()
    ssm = Patched(
        boto3.client("ssm", region_name=REGION),
        describe_instance_information=lambda **_: {
            "InstanceInformationList": [{"InstanceId": dep.instance_id, "PingStatus": "ConnectionLost"}]
        },
    )
    found = by_check(run_checks(context(dep, tmp_path, ssm=ssm)))
    assert found["ssm-reachability"][0].status is Status.FAIL
    assert "AmazonSSMManagedInstanceCore" in found["ssm-reachability"][0].fix
    assert found["version-marker"][0].status is Status.UNKNOWN


def test_disk_headroom_thresholds_and_missing_agent(aws: None, tmp_path: Path) -> None:
    full = by_check(run_checks(context(build_deployment(disk_used_percent=93.0), tmp_path)))
    assert full["data-volume-headroom"][0].status is Status.FAIL
    assert "data_volume_gib" in full["data-volume-headroom"][0].fix
    assert "xfs_growfs /mnt/data" in full["data-volume-headroom"][0].fix

    no_agent = by_check(run_checks(context(build_deployment(disk_used_percent=None), tmp_path)))
    headroom = no_agent["data-volume-headroom"][0]
    assert headroom.status is Status.UNKNOWN and "amazon-cloudwatch-agent" in headroom.fix


def test_old_snapshot_fails(aws: None, tmp_path: Path) -> None:
    ctx = context(build_deployment(), tmp_path)
    ctx.now = lambda: datetime.now(timezone.utc) + timedelta(days=3)
    snapshot = by_check(run_checks(ctx))["latest-snapshot"][0]
    assert snapshot.status is Status.FAIL
    assert "72 h old" in snapshot.summary and "sgarch upgrade snapshot" in snapshot.fix


# --- faulty ----------------------------------------------------------------------------------------------


def test_faulty_deployment_reports_each_problem_with_its_fix(aws: None, tmp_path: Path) -> None:
    dep = build_deployment(faulty=True)
    findings = run_checks(context(dep, tmp_path))
    found = by_check(findings)
    iid, vol, sg = dep.instance_id, dep.volume_id, dep.group_id

    state = found["instance-state"][0]
    assert (state.status, state.summary) == (Status.FAIL, f"{iid} is stopped.")
    assert f"aws ec2 start-instances --instance-ids {iid} --region {REGION}" in state.fix

    attached = found["data-volume-attached"][0]
    assert attached.status is Status.FAIL and "is not attached" in attached.summary
    assert f"aws ec2 attach-volume --volume-id {vol} --instance-id {iid} --device /dev/sdf" in attached.fix

    encrypted = found["data-volume-encrypted"][0]
    assert (encrypted.status, encrypted.summary) == (Status.FAIL, f"{vol} is not encrypted.")
    assert "copy-snapshot --encrypted" in encrypted.fix and "data_volume_snapshot_id" in encrypted.fix

    assert len(found["world-open-ports"]) == 1
    ssh = found["world-open-ports"][0]
    assert (ssh.status, ssh.summary) == (Status.FAIL, f"{sg} allows tcp port 22 from 0.0.0.0/0.")
    assert (
        f"aws ec2 revoke-security-group-ingress --region {REGION} --group-id {sg} "
        "--ip-permissions 'IpProtocol=tcp,FromPort=22,ToPort=22,IpRanges=[{CidrIp=0.0.0.0/0}]'"
    ) in ssh.fix
    assert "Session Manager" in ssh.fix

    assert found["latest-snapshot"][0].status is Status.FAIL
    target = found["alb-target-health"][0]
    assert target.status is Status.FAIL and "Target is in the stopped state" in target.summary
    assert found["instance-status-checks"][0].status is Status.SKIP
    assert found["version-marker"][0].status is Status.SKIP
    assert exit_status(findings) == 1
    for finding in findings:
        if finding.status is Status.FAIL:
            assert finding.fix, finding


def test_world_open_ipv6_and_all_traffic_rules(aws: None, tmp_path: Path) -> None:
    dep = build_deployment()
    ec2 = boto3.client("ec2", region_name=REGION)
    ec2.authorize_security_group_ingress(
        GroupId=dep.group_id,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
            {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        ],
    )
    open_rules = by_check(run_checks(context(dep, tmp_path)))["world-open-ports"]
    summaries = sorted(f.summary for f in open_rules)
    assert summaries == sorted(
        [
            f"{dep.group_id} allows tcp port 443 from ::/0.",
            f"{dep.group_id} allows all traffic from 0.0.0.0/0.",
        ]
    )
    v6 = next(f for f in open_rules if "::/0" in f.summary)
    assert "Ipv6Ranges=[{CidrIpv6=::/0}]" in v6.fix


def test_missing_instance_and_volume(aws: None, tmp_path: Path) -> None:
    dep = build_deployment()
    dep.outputs |= {"instance_id": "i-0123456789abcdef0", "data_volume_id": "vol-0123456789abcdef0"}
    found = by_check(run_checks(context(dep, tmp_path)))
    assert found["instance-state"][0].status is Status.FAIL
    assert "does not exist in us-east-1" in found["instance-state"][0].summary
    assert found["data-volume-attached"][0].status is Status.FAIL
    assert found["data-volume-encrypted"][0].status is Status.SKIP


# --- forbidden APIs --------------------------------------------------------------------------------------


def test_forbidden_calls_become_could_not_check(aws: None, tmp_path: Path) -> None:
    dep = build_deployment()
    ec2 = Patched(
        boto3.client("ec2", region_name=REGION),
        describe_volumes=forbidden("DescribeVolumes", "UnauthorizedOperation"),
    )
    cloudwatch = Patched(
        boto3.client("cloudwatch", region_name=REGION), list_metrics=forbidden("ListMetrics")
    )
    ssm = Patched(
        boto3.client("ssm", region_name=REGION),
        send_command=forbidden("SendCommand", "AccessDeniedException"),
    )
    findings = run_checks(context(dep, tmp_path, ec2=ec2, cloudwatch=cloudwatch, ssm=ssm))
    found = by_check(findings)
    for name in ("data-volume-attached", "data-volume-encrypted"):
        assert found[name][0].status is Status.UNKNOWN
        assert found[name][0].summary == "ec2:DescribeVolumes is forbidden (UnauthorizedOperation)."
        assert found[name][0].fix == "allow ec2:DescribeVolumes for the role or user running doctor"
    assert found["data-volume-headroom"][0].summary == "cloudwatch:ListMetrics is forbidden (AccessDenied)."
    assert found["version-marker"][0].summary == "ssm:SendCommand is forbidden (AccessDeniedException)."
    # The other checks still ran.
    assert found["instance-state"][0].status is Status.OK
    assert found["latest-snapshot"][0].status is Status.OK
    assert exit_status(findings) == 0


def test_no_credentials_is_could_not_check_not_a_crash(aws: None, tmp_path: Path) -> None:
    from botocore.exceptions import NoCredentialsError

    def no_credentials(**_: Any) -> Any:
        raise NoCredentialsError()

    dep = build_deployment()
    ec2 = Patched(boto3.client("ec2", region_name=REGION), describe_instances=no_credentials)
    found = by_check(run_checks(context(dep, tmp_path, ec2=ec2)))
    assert found["instance-state"][0].status is Status.UNKNOWN
    assert "Unable to locate credentials" in found["instance-state"][0].summary


# --- CLI -------------------------------------------------------------------------------------------------


def test_cli_faulty_exits_1_with_one_line_per_check(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dep = build_deployment(faulty=True)
    code, out, err = run(capsys, "doctor", "--stack-outputs", str(dep.write(tmp_path)), "--region", REGION)
    assert code == 1, err
    lines = out.splitlines()
    assert (
        f"fail   instance-state: {dep.instance_id} is stopped. Fix: start it: aws ec2 start-instances" in out
    )
    assert any(line.startswith("fail   world-open-ports:") and "port 22" in line for line in lines)
    assert lines[-1].startswith("0 ok") is False and "fail" in lines[-1]
    assert "Traceback" not in out + err


def test_cli_healthy_exits_0_and_forbidden_api_is_a_line(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    dep = build_deployment()
    import sgarch.cli.doctor as cli

    real = cli.client

    def client(service: str, region: str, endpoint_url: str | None = None) -> Any:
        made = real(service, region, endpoint_url)
        if service == "elbv2":
            return Patched(made, describe_target_health=forbidden("DescribeTargetHealth"))
        return made

    monkeypatch.setattr(cli, "client", client)
    code, out, _ = run(capsys, "doctor", "--stack-outputs", str(dep.write(tmp_path)))
    assert code == 0
    assert (
        "could not check  alb-target-health: elasticloadbalancing:DescribeTargetHealth is forbidden "
        "(AccessDenied). Fix: allow elasticloadbalancing:DescribeTargetHealth" in out
    )
    assert out.splitlines()[-1].startswith("7 ok")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "--stack-outputs must be a readable JSON file (No such file or directory)"),
        (
            "{not json",
            "--stack-outputs must be JSON (line 1: Expecting property name enclosed in double quotes)",
        ),
        ("[1, 2]", "--stack-outputs must be a JSON object of stack outputs"),
        ('{"data_volume_id": "vol-1"}', "--stack-outputs instance_id must be present (got None)"),
    ],
)
def test_cli_unusable_outputs_exit_2_on_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, expected: str
) -> None:
    path = tmp_path / "outputs.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    code, out, err = run(capsys, "doctor", "--stack-outputs", str(path))
    assert code == 2
    assert err.startswith(f"error: {expected}")
    assert len(err.strip().splitlines()) == 1 and out == ""


def test_a_refused_boot_upgrade_is_reported_with_its_gate(aws: None, tmp_path: Path) -> None:
    dep = build_deployment()
    text = (
        "5.9.45\n--- sgarch upgrade status ---\nrefused: pg16-migrator: 5.9.x must stop at 5.11.6271 first\n"
    )
    found = by_check(run_checks(context(dep, tmp_path, ssm=marker_ssm(text))))["version-marker"][0]
    assert found.status is Status.FAIL
    assert found.summary == "the boot-time upgrade refused: pg16-migrator: 5.9.x must stop at 5.11.6271 first"
    assert f"sgarch upgrade plan --from 5.9.45 --to {VERSION} --arch single-node" in (found.fix or "")
