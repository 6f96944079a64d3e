"""sgarch upgrade snapshot against moto: tags, waiting with progress, reuse on a second run, RDS, failures."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sgarch.cli.app import main
from sgarch.errors import BuildError, ConfigError
from sgarch.upgrade import StackOutputs, Version, snapshot_deployment

REGION = "us-east-1"
V = Version(7, 5, 4453)


class Patched:
    def __init__(self, client: Any, **overrides: Any) -> None:
        self._client, self._overrides = client, overrides

    def __getattr__(self, name: str) -> Any:
        return self._overrides[name] if name in self._overrides else getattr(self._client, name)


def make_volume(encrypted: bool = True) -> str:
    ec2 = boto3.client("ec2", region_name=REGION)
    volume: str = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=500, Encrypted=encrypted)["VolumeId"]
    return volume


def make_db(name: str) -> str:
    boto3.client("rds", region_name=REGION).create_db_instance(
        DBInstanceIdentifier=name,
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="sg",
        MasterUserPassword="not-a-real-one",
        AllocatedStorage=20,
    )
    return name


def tags_of(snapshot_id: str) -> dict[str, str]:
    snap = boto3.client("ec2", region_name=REGION).describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"][
        0
    ]
    return {t["Key"]: t["Value"] for t in snap.get("Tags", [])}


def snap(outputs: StackOutputs, version: Version = V, **kwargs: Any) -> Any:
    kwargs.setdefault("ec2", boto3.client("ec2", region_name=REGION))
    kwargs.setdefault("rds", boto3.client("rds", region_name=REGION))
    kwargs.setdefault("sleep", lambda _: None)
    return snapshot_deployment(outputs, version, region=REGION, **kwargs)


def test_snapshots_the_volume_with_tags_and_reuses_it(aws: None) -> None:
    volume = make_volume()
    outputs = StackOutputs(instance_id="i-1", data_volume_id=volume)
    first = snap(outputs)
    assert [(r.kind, r.source_id, r.reused) for r in first] == [("ebs", volume, False)]
    tags = tags_of(first[0].snapshot_id)
    assert tags["sgarch:sourcegraph-version"] == "7.5.4453"
    assert tags["sgarch:purpose"] == "pre-upgrade"
    assert tags["sgarch:source"] == volume

    again = snap(outputs)
    assert [(r.snapshot_id, r.reused) for r in again] == [(first[0].snapshot_id, True)]
    ec2 = boto3.client("ec2", region_name=REGION)
    # Only this volume's snapshots: moto's process-wide state may hold image snapshots from other modules
    # (the AMI tests' patched images), whichever order pytest-xdist runs the modules in.
    of_volume = [{"Name": "volume-id", "Values": [volume]}]
    assert len(ec2.describe_snapshots(OwnerIds=["self"], Filters=of_volume)["Snapshots"]) == 1

    # Another version, or the same one after the reuse window, makes a new snapshot.
    other = snap(outputs, Version(7, 6, 0))
    assert other[0].snapshot_id != first[0].snapshot_id and not other[0].reused
    later = snap(outputs, now=lambda: datetime.now(timezone.utc) + timedelta(hours=2))
    assert later[0].snapshot_id not in (first[0].snapshot_id, other[0].snapshot_id)


def test_rds_instances_are_snapshotted_and_reused(aws: None) -> None:
    volume, db = make_volume(), make_db("sg-frontend")
    outputs = StackOutputs(data_volume_id=volume, rds_instance_ids=(db,))
    first = snap(outputs)
    assert [(r.kind, r.source_id, r.reused) for r in first] == [("ebs", volume, False), ("rds", db, False)]
    rds_id = first[1].snapshot_id
    assert rds_id.startswith("sgarch-pre-upgrade-sg-frontend-7-5-4453-")
    found = boto3.client("rds", region_name=REGION).describe_db_snapshots(DBSnapshotIdentifier=rds_id)
    tags = {t["Key"]: t["Value"] for t in found["DBSnapshots"][0]["TagList"]}
    assert tags == {"sgarch:purpose": "pre-upgrade", "sgarch:sourcegraph-version": "7.5.4453"}
    again = snap(outputs)
    assert [(r.snapshot_id, r.reused) for r in again] == [(first[0].snapshot_id, True), (rds_id, True)]


def test_waits_with_progress_until_completed(aws: None) -> None:
    volume = make_volume()
    ec2 = boto3.client("ec2", region_name=REGION)
    polls: list[int] = []
    states = iter([("pending", "10%"), ("pending", "55%"), ("completed", "100%")])

    def describe_snapshots(**kwargs: Any) -> dict[str, Any]:
        found: dict[str, Any] = ec2.describe_snapshots(**kwargs)
        if "SnapshotIds" in kwargs:
            state, progress = next(states)
            found["Snapshots"][0] |= {"State": state, "Progress": progress}
        return found

    slept: list[float] = []
    result = snap(
        StackOutputs(data_volume_id=volume),
        ec2=Patched(ec2, describe_snapshots=describe_snapshots),
        progress=lambda source, snapshot_id, percent: polls.append(percent),
        poll_seconds=7.0,
        sleep=slept.append,
    )
    assert polls == [10, 55, 100]
    assert slept == [7.0, 7.0]
    assert result[0].source_id == volume


def test_failed_snapshot_and_timeout_are_build_errors(aws: None) -> None:
    volume = make_volume()
    ec2 = boto3.client("ec2", region_name=REGION)

    def with_state(state: str) -> Patched:
        def describe_snapshots(**kwargs: Any) -> dict[str, Any]:
            found: dict[str, Any] = ec2.describe_snapshots(**kwargs)
            if "SnapshotIds" in kwargs:
                found["Snapshots"][0] |= {"State": state, "StateMessage": "disk on fire", "Progress": "3%"}
            return found

        return Patched(ec2, describe_snapshots=describe_snapshots)

    with pytest.raises(BuildError, match=r"snapshot snap-\w+ of vol-\w+ failed: disk on fire"):
        snap(StackOutputs(data_volume_id=volume), ec2=with_state("error"))
    with pytest.raises(BuildError, match=r"still in progress after 0 s: snap-\w+; they continue in AWS"):
        snap(StackOutputs(data_volume_id=volume), ec2=with_state("pending"), timeout_seconds=0)


def test_forbidden_create_snapshot_is_one_line(aws: None) -> None:
    volume = make_volume()

    def denied(**_: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "UnauthorizedOperation", "Message": "You are not authorized"}},
            "CreateSnapshot",
        )

    ec2 = Patched(boto3.client("ec2", region_name=REGION), create_snapshot=denied)
    with pytest.raises(BuildError) as info:
        snap(StackOutputs(data_volume_id=volume), ec2=ec2)
    assert str(info.value) == (
        "ec2:CreateSnapshot is forbidden (UnauthorizedOperation): allow ec2:CreateSnapshot for the caller's "
        "role or user"
    )


def test_missing_sources_are_config_errors(aws: None) -> None:
    with pytest.raises(ConfigError) as info:
        snap(StackOutputs(data_volume_id="vol-0123456789abcdef0"))
    assert str(info.value) == (
        "--stack-outputs data_volume_id must be an EBS volume in us-east-1 (got 'vol-0123456789abcdef0'): "
        "check --region, or refresh the file with `pulumi stack output --json`."
    )
    with pytest.raises(ConfigError, match="rds_instance_ids must be RDS instances in us-east-1"):
        snap(StackOutputs(rds_instance_ids=("nope",)))
    with pytest.raises(ConfigError, match="must be present \\(or rds_instance_ids\\)"):
        snap(StackOutputs(instance_id="i-1"))


# --- CLI -------------------------------------------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 0), out, err


def test_cli_snapshot_twice(aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    volume = make_volume()
    path = tmp_path / "outputs.json"
    path.write_text(
        json.dumps({"instance_id": "i-1", "data_volume_id": volume, "sourcegraph_version": "7.5.4453"})
    )
    code, out, err = run(capsys, "upgrade", "snapshot", "--stack-outputs", str(path), "--poll-seconds", "0")
    assert code == 0, err
    snapshot_id = out.split()[2]
    assert out == f"ebs  {volume}  {snapshot_id}  (new, sourcegraph 7.5.4453)\n"
    code, out, _ = run(capsys, "upgrade", "snapshot", "--stack-outputs", str(path), "--poll-seconds", "0")
    assert out == f"ebs  {volume}  {snapshot_id}  (reused, sourcegraph 7.5.4453)\n"


def test_cli_snapshot_needs_a_version(aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"instance_id": "i-1", "data_volume_id": make_volume()}))
    code, _, err = run(capsys, "upgrade", "snapshot", "--stack-outputs", str(path))
    assert code == 2
    assert err.strip() == (
        "error: --sourcegraph-version must be set when the stack outputs have no sourcegraph_version (got None): "
        "pass the version the data is at."
    )
    code, out, _ = run(
        capsys, "upgrade", "snapshot", "--stack-outputs", str(path), "--sourcegraph-version", "v6.12.5040"
    )
    assert code == 0 and "sourcegraph 6.12.5040" in out


def test_cli_snapshot_unreadable_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "upgrade", "snapshot", "--stack-outputs", str(tmp_path / "missing.json"))
    assert code == 2 and out == ""
    assert err.startswith("error: --stack-outputs must be a readable JSON file (No such file or directory)")


def test_one_refused_source_does_not_stop_the_others(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    volume, first, second = make_volume(), make_db("sg-frontend"), make_db("sg-codeintel")
    rds = boto3.client("rds", region_name=REGION)

    def create_db_snapshot(**kwargs: Any) -> Any:
        if kwargs["DBInstanceIdentifier"] == first:
            raise ClientError(
                {"Error": {"Code": "InvalidDBInstanceState", "Message": "injected: instance is stopped"}},
                "CreateDBSnapshot",
            )
        return rds.create_db_snapshot(**kwargs)

    def client(service: str, region: str, endpoint_url: str | None = None) -> Any:
        made = boto3.client(service, region_name=region)
        return Patched(made, create_db_snapshot=create_db_snapshot) if service == "rds" else made

    monkeypatch.setattr("sgarch.cli.upgrade.client", client)
    path = tmp_path / "outputs.json"
    path.write_text(
        json.dumps(
            {"data_volume_id": volume, "rds_instance_ids": [first, second], "sourcegraph_version": "7.5.4453"}
        )
    )
    code, out, err = run(capsys, "upgrade", "snapshot", "--stack-outputs", str(path), "--poll-seconds", "0")

    # The source listed after the refused one still got its snapshot, and so did the volume.
    (ebs,) = boto3.client("ec2", region_name=REGION).describe_snapshots(
        OwnerIds=["self"], Filters=[{"Name": "volume-id", "Values": [volume]}]
    )["Snapshots"]
    (made,) = rds.describe_db_snapshots(DBInstanceIdentifier=second, SnapshotType="manual")["DBSnapshots"]
    assert rds.describe_db_snapshots(DBInstanceIdentifier=first, SnapshotType="manual")["DBSnapshots"] == []
    assert code == 1 and out == ""
    message = " ".join(err.split())  # the progress bar may leave a blank line before it
    assert message.startswith(
        f"error: 1 of 3 snapshots failed: {first}: rds:CreateDBSnapshot failed: InvalidDBInstanceState: "
        "injected: instance is stopped; made: "
    )
    assert (
        f"{ebs['SnapshotId']} of {volume}" in message
        and f"{made['DBSnapshotIdentifier']} of {second}" in message
    )
    assert message.endswith(
        "run `sgarch upgrade snapshot` again when the cause is fixed: it reuses what was made and retries the rest"
    )


def test_a_missing_source_is_refused_before_any_snapshot_starts(aws: None) -> None:
    volume = make_volume()
    with pytest.raises(ConfigError, match="rds_instance_ids must be RDS instances in us-east-1"):
        snap(StackOutputs(data_volume_id=volume, rds_instance_ids=("nope",)))
    of_volume = [{"Name": "volume-id", "Values": [volume]}]
    assert (
        boto3.client("ec2", region_name=REGION).describe_snapshots(OwnerIds=["self"], Filters=of_volume)[
            "Snapshots"
        ]
        == []
    )
