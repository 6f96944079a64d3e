"""``sgarch upgrade snapshot``: snapshot the data volume (and RDS instances) before an upgrade, and wait.

Every snapshot is tagged ``sgarch:purpose=pre-upgrade`` and ``sgarch:sourcegraph-version=<version the data
is at>``, which is what ``upgrade plan`` looks for when a restore is needed. Running the command twice is
safe: a snapshot of the same source with the same tags that is still in progress, or finished within the
reuse window (one hour by default), is waited for and reported instead of making a duplicate.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sgarch.errors import BuildError, ConfigError
from sgarch.upgrade.aws import error_code, error_message, is_forbidden
from sgarch.upgrade.outputs import StackOutputs
from sgarch.upgrade.versions import Version

__all__ = [
    "PURPOSE_TAG",
    "VERSION_TAG",
    "SnapshotResult",
    "snapshot_deployment",
]

PURPOSE_TAG = "sgarch:purpose"
VERSION_TAG = "sgarch:sourcegraph-version"
PURPOSE = "pre-upgrade"

#: Progress callback: (source id, snapshot id, percent done).
ProgressFn = Callable[[str, str, int], None]


@dataclass(frozen=True)
class SnapshotResult:
    """One finished snapshot: ``kind`` is ``ebs`` or ``rds``; ``reused`` when an earlier run made it."""

    kind: str
    source_id: str
    snapshot_id: str
    reused: bool


@dataclass
class _Pending:
    kind: str
    source_id: str
    snapshot_id: str
    reused: bool
    done: bool = False
    error: str | None = None
    timed_out: bool = False


def snapshot_deployment(
    outputs: StackOutputs,
    version: Version,
    *,
    ec2: Any,
    rds: Any | None = None,
    region: str = "",
    progress: ProgressFn | None = None,
    poll_seconds: float = 15.0,
    timeout_seconds: float = 4 * 3600.0,
    reuse_window_seconds: float = 3600.0,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> list[SnapshotResult]:
    """Snapshot the data volume and every listed RDS instance, wait until all are done, return them.

    ``sleep`` and ``now`` are injectable so tests run without waiting. Raises :class:`ConfigError` when a
    source named in the outputs does not exist (wrong region or stale file), before any snapshot starts.
    A source whose snapshot cannot start, fails or times out does not stop the others: each is started and
    waited for, then one :class:`BuildError` names every source that failed, and why, with the snapshots
    that were made; a snapshot already started keeps going in AWS, and a rerun reuses it.
    """
    if not outputs.data_volume_id and not outputs.rds_instance_ids:
        raise ConfigError(
            "--stack-outputs data_volume_id",
            "present (or rds_instance_ids)",
            None,
            "the outputs name nothing to snapshot; refresh them with `pulumi stack output --json`",
        )
    if outputs.rds_instance_ids and rds is None:
        raise ValueError("an rds client is needed for rds_instance_ids")
    # Every source is looked up first: a wrong id is bad input, refused before any snapshot starts.
    if outputs.data_volume_id:
        _check_ebs(ec2, outputs.data_volume_id, region)
    for db in outputs.rds_instance_ids:
        _check_rds(rds, db, region)
    tags = {PURPOSE_TAG: PURPOSE, VERSION_TAG: str(version)}
    started = now()
    cutoff = started - timedelta(seconds=reuse_window_seconds)
    sources = [("ebs", outputs.data_volume_id)] if outputs.data_volume_id else []
    sources += [("rds", db) for db in outputs.rds_instance_ids]
    pending: list[_Pending] = []
    for kind, source in sources:
        try:
            if kind == "ebs":
                pending.append(_start_ebs(ec2, source, tags, cutoff, started))
            else:
                pending.append(_start_rds(rds, source, tags, cutoff, started))
        except BuildError as exc:  # the other sources still get their snapshot
            pending.append(_Pending(kind, source, "", reused=False, error=str(exc)))

    deadline = time.monotonic() + timeout_seconds
    while True:
        for item in pending:
            if item.done or item.error:
                continue
            try:
                percent, item.done = _poll(ec2 if item.kind == "ebs" else rds, item)
            except BuildError as exc:
                item.error = str(exc)
                continue
            if progress is not None:
                progress(item.source_id, item.snapshot_id, percent)
        waiting = [i for i in pending if not i.done and not i.error]
        if not waiting:
            break
        if time.monotonic() >= deadline:
            for item in waiting:
                item.error = f"still in progress after {timeout_seconds:g} s: {item.snapshot_id}"
                item.timed_out = True
            break
        sleep(poll_seconds)
    _raise_failures(pending)
    return [SnapshotResult(i.kind, i.source_id, i.snapshot_id, i.reused) for i in pending]


def _raise_failures(pending: Sequence[_Pending]) -> None:
    """One BuildError naming every source that failed and why, and the snapshots made; none if all were."""
    failed = [i for i in pending if i.error]
    if failed and len(pending) == 1:  # nothing else to report
        if failed[0].timed_out:
            raise BuildError(
                f"snapshots {failed[0].error}; they continue in AWS, run `sgarch upgrade snapshot` again to "
                "wait for them (it reuses them)"
            )
        raise BuildError(str(failed[0].error))
    if failed:
        made = [f"{i.snapshot_id} of {i.source_id}" for i in pending if i.done]
        raise BuildError(
            f"{len(failed)} of {len(pending)} snapshots failed: "
            + "; ".join(f"{i.source_id}: {i.error}" for i in failed)
            + f"; made: {', '.join(made) or 'none'}; run `sgarch upgrade snapshot` again when the cause is "
            "fixed: it reuses what was made and retries the rest"
        )


def _call(action: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return fn(**kwargs)
    except (ClientError, BotoCoreError) as exc:
        raise _build_error(action, exc) from None


def _build_error(action: str, exc: BaseException) -> BuildError:
    if is_forbidden(exc):
        return BuildError(
            f"{action} is forbidden ({error_code(exc)}): allow {action} for the caller's role or user"
        )
    code = error_code(exc)
    prefix = f"{code}: " if hasattr(exc, "response") else ""
    return BuildError(f"{action} failed: {prefix}{error_message(exc)}")


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _check_ebs(ec2: Any, volume_id: str, region: str) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        ec2.describe_volumes(VolumeIds=[volume_id])
    except (ClientError, BotoCoreError) as exc:
        if error_code(exc).startswith("InvalidVolume"):
            raise ConfigError(
                "--stack-outputs data_volume_id",
                f"an EBS volume in {region or 'this region'}",
                volume_id,
                "check --region, or refresh the file with `pulumi stack output --json`",
            ) from None
        raise _build_error("ec2:DescribeVolumes", exc) from None


def _start_ebs(
    ec2: Any, volume_id: str, tags: dict[str, str], cutoff: datetime, started: datetime
) -> _Pending:
    filters = [{"Name": "volume-id", "Values": [volume_id]}] + [
        {"Name": f"tag:{key}", "Values": [value]} for key, value in tags.items()
    ]
    found = _call("ec2:DescribeSnapshots", ec2.describe_snapshots, OwnerIds=["self"], Filters=filters)
    candidates = [
        s
        for s in found.get("Snapshots", [])
        if s.get("State") == "pending"
        or (s.get("State") == "completed" and (_aware(s.get("StartTime")) or cutoff) >= cutoff)
    ]
    if candidates:
        newest = max(candidates, key=lambda s: _aware(s.get("StartTime")) or cutoff)
        return _Pending("ebs", volume_id, newest["SnapshotId"], reused=True)
    stamp = started.strftime("%Y-%m-%dT%H:%MZ")
    all_tags = tags | {"Name": f"sgarch-pre-upgrade-{tags[VERSION_TAG]}-{stamp}", "sgarch:source": volume_id}
    created = _call(
        "ec2:CreateSnapshot",
        ec2.create_snapshot,
        VolumeId=volume_id,
        Description=f"sgarch pre-upgrade snapshot of the Sourcegraph data at {tags[VERSION_TAG]}",
        TagSpecifications=[
            {"ResourceType": "snapshot", "Tags": [{"Key": k, "Value": v} for k, v in all_tags.items()]}
        ],
    )
    return _Pending("ebs", volume_id, created["SnapshotId"], reused=False)


def _check_rds(rds: Any, db: str, region: str) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        rds.describe_db_instances(DBInstanceIdentifier=db)
    except (ClientError, BotoCoreError) as exc:
        if error_code(exc) in ("DBInstanceNotFound", "DBInstanceNotFoundFault"):
            raise ConfigError(
                "--stack-outputs rds_instance_ids",
                f"RDS instances in {region or 'this region'}",
                db,
                "check --region, or refresh the file with `pulumi stack output --json`",
            ) from None
        raise _build_error("rds:DescribeDBInstances", exc) from None


def _start_rds(rds: Any, db: str, tags: dict[str, str], cutoff: datetime, started: datetime) -> _Pending:
    found = _call(
        "rds:DescribeDBSnapshots", rds.describe_db_snapshots, DBInstanceIdentifier=db, SnapshotType="manual"
    )
    for snap in found.get("DBSnapshots", []):
        snap_tags = {t.get("Key"): t.get("Value") for t in snap.get("TagList", [])}
        if any(snap_tags.get(k) != v for k, v in tags.items()):
            continue
        status = snap.get("Status")
        created = _aware(snap.get("SnapshotCreateTime"))
        if status == "creating" or (status == "available" and (created is None or created >= cutoff)):
            return _Pending("rds", db, snap["DBSnapshotIdentifier"], reused=True)
    identifier = _rds_snapshot_id(db, tags[VERSION_TAG], started)
    _call(
        "rds:CreateDBSnapshot",
        rds.create_db_snapshot,
        DBSnapshotIdentifier=identifier,
        DBInstanceIdentifier=db,
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )
    return _Pending("rds", db, identifier, reused=False)


def _rds_snapshot_id(db: str, version: str, started: datetime) -> str:
    # RDS identifiers: letters, digits and single hyphens, starting with a letter, at most 255 characters.
    raw = f"sgarch-pre-upgrade-{db}-{version.replace('.', '-')}-{started.strftime('%Y%m%d%H%M%S')}"
    cleaned = "".join(ch if ch.isalnum() else "-" for ch in raw.lower())
    while "--" in cleaned:
        cleaned = cleaned.replace("--", "-")
    return cleaned.strip("-")[:255]


def _poll(client: Any, item: _Pending) -> tuple[int, bool]:
    if item.kind == "ebs":
        found = _call("ec2:DescribeSnapshots", client.describe_snapshots, SnapshotIds=[item.snapshot_id])
        snaps: Sequence[dict[str, Any]] = found.get("Snapshots", [])
        if not snaps:
            raise BuildError(f"snapshot {item.snapshot_id} of {item.source_id} disappeared while waiting")
        snap = snaps[0]
        state = snap.get("State")
        if state == "error":
            raise BuildError(
                f"snapshot {item.snapshot_id} of {item.source_id} failed: {snap.get('StateMessage', 'no reason')}"
            )
        percent = _percent(snap.get("Progress"))
        return (100, True) if state == "completed" else (percent, False)
    found = _call(
        "rds:DescribeDBSnapshots", client.describe_db_snapshots, DBSnapshotIdentifier=item.snapshot_id
    )
    snaps = found.get("DBSnapshots", [])
    if not snaps:
        raise BuildError(f"snapshot {item.snapshot_id} of {item.source_id} disappeared while waiting")
    status = snaps[0].get("Status")
    if status in {"failed", "error", "deleted"}:
        raise BuildError(f"snapshot {item.snapshot_id} of {item.source_id} ended as {status}")
    percent = _percent(snaps[0].get("PercentProgress"))
    return (100, True) if status == "available" else (percent, False)


def _percent(value: Any) -> int:
    try:
        return max(0, min(100, int(str(value).rstrip("%"))))
    except (TypeError, ValueError):
        return 0
