"""Doctor checks of the data volume: attached where boot.sh expects it, encrypted, not full, snapshotted."""

from __future__ import annotations

from datetime import timedelta

from sgarch.doctor._context import (
    DATA_DEVICE_NAME,
    DATA_MOUNT,
    DoctorContext,
    Finding,
    Status,
    aware,
    tags_of,
)

__all__ = [
    "check_disk_headroom",
    "check_latest_snapshot",
    "check_volume_attached",
    "check_volume_encrypted",
]

#: Disk use above these percentages warns / fails (Sourcegraph grows by repositories and indexes).
DISK_WARN_PERCENT = 80.0
DISK_FAIL_PERCENT = 90.0
#: The daily DLM snapshot is late after WARN hours and missing after FAIL hours.
SNAPSHOT_WARN_HOURS = 26.0
SNAPSHOT_FAIL_HOURS = 50.0


def check_volume_attached(ctx: DoctorContext) -> Finding:
    """The data volume is attached to this instance at /dev/sdf."""
    name, vid, iid = "data-volume-attached", ctx.volume_id, ctx.instance_id
    volume = ctx.volume()
    if volume is None:
        return Finding(
            name,
            Status.FAIL,
            f"data volume {vid} does not exist in {ctx.region}.",
            "check --region; to rebuild it from a snapshot, `pulumi config set data_volume_snapshot_id <snap>` "
            "and `pulumi up`",
        )
    attached = [a for a in volume.get("Attachments", []) if a.get("State") in ("attached", "attaching")]
    attach = (
        f"aws ec2 attach-volume --volume-id {vid} --instance-id {iid} --device {DATA_DEVICE_NAME} "
        f"--region {ctx.region} (or `pulumi up`), then reboot the instance so it mounts {DATA_MOUNT}"
    )
    if not attached:
        return Finding(name, Status.FAIL, f"{vid} is not attached (state {volume.get('State')}).", attach)
    mine = [a for a in attached if a.get("InstanceId") == iid]
    if not mine:
        other = attached[0].get("InstanceId")
        return Finding(
            name,
            Status.FAIL,
            f"{vid} is attached to {other}, not to {iid}.",
            f"detach it from {other} (aws ec2 detach-volume --volume-id {vid}) and {attach}",
        )
    device = mine[0].get("Device")
    if device != DATA_DEVICE_NAME:
        return Finding(
            name,
            Status.WARN,
            f"{vid} is attached to {iid} at {device}, not {DATA_DEVICE_NAME}.",
            "boot.sh finds it by volume id on Nitro instances; `pulumi up` restores the expected device",
        )
    return Finding(name, Status.OK, f"{vid} is attached to {iid} at {DATA_DEVICE_NAME}.")


def check_volume_encrypted(ctx: DoctorContext) -> Finding:
    """The data volume is encrypted at rest."""
    name, vid = "data-volume-encrypted", ctx.volume_id
    volume = ctx.volume()
    if volume is None:
        return Finding(name, Status.SKIP, f"data volume {vid} does not exist.")
    if volume.get("Encrypted"):
        key = volume.get("KmsKeyId") or "the account's default EBS key"
        return Finding(name, Status.OK, f"{vid} is encrypted ({key}).")
    return Finding(
        name,
        Status.FAIL,
        f"{vid} is not encrypted.",
        "EBS cannot encrypt a volume in place: snapshot it (sgarch upgrade snapshot), copy the snapshot "
        f"encrypted (aws ec2 copy-snapshot --encrypted --source-region {ctx.region} --source-snapshot-id "
        "<snap>), then restore from the copy (`pulumi config set data_volume_snapshot_id <copy>`, "
        "steps in `sgarch upgrade plan`)",
    )


def check_disk_headroom(ctx: DoctorContext) -> Finding:
    """Free space on the data volume, from the CloudWatch agent's disk_used_percent metric."""
    name, iid = "data-volume-headroom", ctx.instance_id
    dimensions = [{"Name": "InstanceId", "Value": iid}, {"Name": "path", "Value": DATA_MOUNT}]
    listed = ctx.cloudwatch.list_metrics(
        Namespace="CWAgent", MetricName="disk_used_percent", Dimensions=dimensions
    ).get("Metrics", [])
    agent_fix = (
        "the CloudWatch agent publishes CWAgent disk_used_percent; check it runs on the instance "
        "(systemctl status amazon-cloudwatch-agent)"
    )
    if not listed:
        return Finding(
            name, Status.UNKNOWN, f"no CWAgent disk_used_percent metric for path={DATA_MOUNT}.", agent_fix
        )
    end = ctx.now()
    used: float | None = None
    for metric in listed:
        points = ctx.cloudwatch.get_metric_statistics(
            Namespace="CWAgent",
            MetricName="disk_used_percent",
            Dimensions=metric.get("Dimensions", dimensions),
            StartTime=end - timedelta(hours=1),
            # Past "now", so the current, still-filling period is included.
            EndTime=end + timedelta(minutes=5),
            Period=300,
            Statistics=["Maximum"],
        ).get("Datapoints", [])
        if points:
            newest = max(points, key=lambda p: aware(p.get("Timestamp")) or end)
            value = float(newest.get("Maximum", 0.0))
            used = value if used is None else max(used, value)
    if used is None:
        return Finding(name, Status.UNKNOWN, "no disk_used_percent datapoints in the last hour.", agent_fix)
    grow = (
        "grow the volume: `pulumi config set data_volume_gib <larger>` and `pulumi up` (gp3 grows online), "
        f"then `sudo xfs_growfs {DATA_MOUNT}` on the instance"
    )
    summary = f"{DATA_MOUNT} is {used:.0f}% full."
    if used >= DISK_FAIL_PERCENT:
        return Finding(name, Status.FAIL, summary, grow)
    if used >= DISK_WARN_PERCENT:
        return Finding(name, Status.WARN, summary, grow)
    return Finding(name, Status.OK, summary)


def check_latest_snapshot(ctx: DoctorContext) -> Finding:
    """The data volume has a recent snapshot (the daily DLM policy, or a pre-upgrade one)."""
    name, vid = "latest-snapshot", ctx.volume_id
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        volume = ctx.volume()
    except (ClientError, BotoCoreError, NotImplementedError):
        volume = None  # the tag is a hint; the snapshot age below still counts
    tag_note = ""
    if volume is not None and "sgarch:backup" not in tags_of(volume):
        tag_note = " The volume has no sgarch:backup tag, so the daily snapshot policy skips it."
    snaps = ctx.ec2.describe_snapshots(
        OwnerIds=["self"], Filters=[{"Name": "volume-id", "Values": [vid]}]
    ).get("Snapshots", [])
    done = [s for s in snaps if s.get("State") == "completed" and aware(s.get("StartTime"))]
    fix = (
        "check the volume's sgarch:backup tag and that the DLM policy is ENABLED (aws dlm "
        "get-lifecycle-policies); take one now with `sgarch upgrade snapshot`"
    )
    if not done:
        return Finding(name, Status.FAIL, f"{vid} has no completed snapshot.{tag_note}", fix)
    newest = max(done, key=lambda s: aware(s["StartTime"]) or ctx.now())
    age_hours = (ctx.now() - (aware(newest["StartTime"]) or ctx.now())).total_seconds() / 3600
    summary = f"newest snapshot {newest.get('SnapshotId')} is {age_hours:.0f} h old.{tag_note}"
    if age_hours > SNAPSHOT_FAIL_HOURS:
        return Finding(name, Status.FAIL, summary, fix)
    if age_hours > SNAPSHOT_WARN_HOURS or tag_note:
        return Finding(name, Status.WARN, summary, fix)
    return Finding(name, Status.OK, summary)
