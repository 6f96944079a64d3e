"""``sgarch doctor``: check a live single-node deployment with boto3, one finding per check.

Each check is a function ``(DoctorContext) -> Finding | list[Finding]`` in :data:`CHECKS`, with an id and
the fix in its own words. :func:`run_checks` runs them all and never lets an AWS error escape: a call IAM
forbids (AccessDenied, UnauthorizedOperation), an API the endpoint does not implement, or no credentials
turns that one check into "could not check" and the others go on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any

from sgarch.upgrade.aws import error_code, error_message, is_forbidden
from sgarch.upgrade.outputs import StackOutputs
from sgarch.upgrade.versions import Version

__all__ = [
    "CHECKS",
    "DATA_DEVICE_NAME",
    "DATA_MOUNT",
    "DoctorContext",
    "Finding",
    "Status",
    "exit_status",
    "run_checks",
]

#: Where the single-node component attaches the data volume, and where boot.sh mounts it.
DATA_DEVICE_NAME = "/dev/sdf"
DATA_MOUNT = "/mnt/data"
VERSION_MARKER = f"{DATA_MOUNT}/.sourcegraph-version"
UPGRADE_STATUS = f"{DATA_MOUNT}/.sgarch-upgrade-status"
"""Written by the boot script: ``ok: ...``, ``upgrading: ...``, ``refused: <gate>: ...`` or ``failed: ...``."""
_SEPARATOR = "--- sgarch upgrade status ---"
#: Disk use above these percentages warns / fails (Sourcegraph grows by repositories and indexes).
DISK_WARN_PERCENT = 80.0
DISK_FAIL_PERCENT = 90.0
#: The daily DLM snapshot is late after WARN hours and missing after FAIL hours.
SNAPSHOT_WARN_HOURS = 26.0
SNAPSHOT_FAIL_HOURS = 50.0
_WORLD = ("0.0.0.0/0", "::/0")

#: Service prefix of every API the checks call, for "allow <service>:<Operation>" fixes.
_SERVICE_OF = {
    "DescribeInstances": "ec2",
    "DescribeInstanceStatus": "ec2",
    "DescribeVolumes": "ec2",
    "DescribeSecurityGroups": "ec2",
    "DescribeSnapshots": "ec2",
    "ListMetrics": "cloudwatch",
    "GetMetricStatistics": "cloudwatch",
    "DescribeAlarms": "cloudwatch",
    "DescribeAlarmHistory": "cloudwatch",
    "DescribeTargetHealth": "elasticloadbalancing",
    "DescribeInstanceInformation": "ssm",
    "SendCommand": "ssm",
    "GetCommandInvocation": "ssm",
}


class Status(str, Enum):
    """Outcome of one check; only FAIL makes ``doctor`` exit 1."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"
    UNKNOWN = "could not check"


@dataclass(frozen=True)
class Finding:
    """One line of the doctor report: the check id, its status, what was found and how to fix it."""

    check: str
    status: Status
    summary: str
    fix: str = ""

    def line(self) -> str:
        """``fail  data-volume-encrypted  vol-1 is not encrypted. Fix: ...``"""
        text = f"{self.status.value:<5}  {self.check}: {self.summary}"
        return f"{text} Fix: {self.fix}" if self.fix else text


@dataclass
class DoctorContext:
    """What the checks share: the outputs, the clients, a clock and a cache of AWS answers."""

    outputs: StackOutputs
    region: str
    ec2: Any
    ssm: Any
    cloudwatch: Any
    elbv2: Any
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
    sleep: Callable[[float], None] = time.sleep
    ssm_poll_seconds: float = 2.0
    ssm_timeout_seconds: float = 60.0
    ssm_online: bool | None = None
    """Set by the ssm-reachability check; None until it ran or when it could not tell."""
    _cache: dict[str, Any] = field(default_factory=dict)

    @property
    def instance_id(self) -> str:
        """The instance from the outputs (required by ``doctor``)."""
        return self.outputs.instance_id or ""

    @property
    def volume_id(self) -> str:
        """The data volume from the outputs (required by ``doctor``)."""
        return self.outputs.data_volume_id or ""

    def _cached(self, key: str, fetch: Callable[[], Any]) -> Any:
        # Errors are cached too, so a forbidden call fails every dependent check the same way, once.
        if key not in self._cache:
            try:
                self._cache[key] = ("ok", fetch())
            except Exception as exc:
                self._cache[key] = ("error", exc)
        kind, value = self._cache[key]
        if kind == "error":
            raise value
        return value

    def instance(self) -> dict[str, Any] | None:
        """The instance description, or None when it does not exist."""

        def fetch() -> dict[str, Any] | None:
            try:
                found = self.ec2.describe_instances(InstanceIds=[self.instance_id])
            except Exception as exc:
                if error_code(exc).startswith("InvalidInstanceID"):
                    return None
                raise
            for reservation in found.get("Reservations", []):
                for instance in reservation.get("Instances", []):
                    return dict(instance)
            return None

        result: dict[str, Any] | None = self._cached("instance", fetch)
        return result

    def volume(self) -> dict[str, Any] | None:
        """The data volume description, or None when it does not exist."""

        def fetch() -> dict[str, Any] | None:
            try:
                found = self.ec2.describe_volumes(VolumeIds=[self.volume_id])
            except Exception as exc:
                if error_code(exc).startswith("InvalidVolume"):
                    return None
                raise
            volumes = found.get("Volumes", [])
            return dict(volumes[0]) if volumes else None

        result: dict[str, Any] | None = self._cached("volume", fetch)
        return result

    def state(self) -> str | None:
        """The instance state name (running, stopped...), None when it does not exist."""
        instance = self.instance()
        return None if instance is None else str(instance.get("State", {}).get("Name", "unknown"))


def _tags(resource: dict[str, Any]) -> dict[str, str]:
    return {t.get("Key", ""): t.get("Value", "") for t in resource.get("Tags", [])}


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


# --- the checks ----------------------------------------------------------------------------------------------


def check_instance_state(ctx: DoctorContext) -> Finding:
    """The instance exists, runs, and is the sgarch single-node instance."""
    name, iid = "instance-state", ctx.instance_id
    instance = ctx.instance()
    if instance is None:
        return Finding(
            name,
            Status.FAIL,
            f"instance {iid} does not exist in {ctx.region}.",
            "check --region; if it was terminated outside Pulumi, run `pulumi refresh` then `pulumi up` to "
            "create a new one on the same data volume",
        )
    state, kind = ctx.state(), instance.get("InstanceType", "unknown type")
    if state == "running":
        if _tags(instance).get("sgarch:component") != "single-node":
            return Finding(
                name,
                Status.WARN,
                f"{iid} ({kind}) is running but has no tag sgarch:component=single-node.",
                "check that --stack-outputs comes from the sgarch single-node stack",
            )
        return Finding(name, Status.OK, f"{iid} ({kind}) is running.")
    if state in ("pending", "stopping"):
        return Finding(name, Status.WARN, f"{iid} is {state}.", "wait a minute and run doctor again")
    if state == "stopped":
        return Finding(
            name,
            Status.FAIL,
            f"{iid} is stopped.",
            f"start it: aws ec2 start-instances --instance-ids {iid} --region {ctx.region} "
            "(Sourcegraph comes back up on boot)",
        )
    return Finding(
        name,
        Status.FAIL,
        f"{iid} is {state}.",
        "run `pulumi refresh` then `pulumi up`: Pulumi creates a new instance and attaches the same data volume",
    )


def check_status_checks(ctx: DoctorContext) -> Finding:
    """EC2 system and instance status checks pass."""
    name, iid = "instance-status-checks", ctx.instance_id
    state = ctx.state()
    if state != "running":
        return Finding(name, Status.SKIP, f"the instance is {state or 'missing'}.")
    found = ctx.ec2.describe_instance_status(InstanceIds=[iid], IncludeAllInstances=True)
    statuses = found.get("InstanceStatuses", [])
    if not statuses:
        return Finding(name, Status.UNKNOWN, "EC2 reported no status for the instance.")
    system = statuses[0].get("SystemStatus", {}).get("Status", "unknown")
    own = statuses[0].get("InstanceStatus", {}).get("Status", "unknown")
    if system == "ok" and own == "ok":
        return Finding(name, Status.OK, "system and instance status checks pass.")
    if "impaired" in (system, own):
        fix = (
            f"system impaired: stop and start it to move to healthy hardware (aws ec2 stop-instances "
            f"--instance-ids {iid}, then start-instances)"
            if system == "impaired"
            else f"instance impaired: read its console, aws ec2 get-console-output --instance-id {iid} "
            "--latest, then reboot it"
        )
        return Finding(name, Status.FAIL, f"system status {system}, instance status {own}.", fix)
    return Finding(
        name,
        Status.WARN,
        f"system status {system}, instance status {own}.",
        "checks initialise for a few minutes after a start; run doctor again",
    )


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
            newest = max(points, key=lambda p: _aware(p.get("Timestamp")) or end)
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


def check_world_open_ports(ctx: DoctorContext) -> list[Finding]:
    """No security group of the instance accepts traffic from 0.0.0.0/0 or ::/0, on any port."""
    name = "world-open-ports"
    instance = ctx.instance()
    if instance is None:
        return [Finding(name, Status.SKIP, "the instance does not exist.")]
    group_ids = [g["GroupId"] for g in instance.get("SecurityGroups", []) if g.get("GroupId")]
    if not group_ids:
        return [Finding(name, Status.OK, "the instance has no security groups.")]
    groups = ctx.ec2.describe_security_groups(GroupIds=group_ids).get("SecurityGroups", [])
    findings: list[Finding] = []
    for group in groups:
        gid = group.get("GroupId", "?")
        for perm in group.get("IpPermissions", []):
            cidrs = [r.get("CidrIp") for r in perm.get("IpRanges", []) if r.get("CidrIp") in _WORLD]
            cidrs += [r.get("CidrIpv6") for r in perm.get("Ipv6Ranges", []) if r.get("CidrIpv6") in _WORLD]
            for cidr in cidrs:
                findings.append(_open_rule_finding(name, gid, perm, str(cidr), ctx.region))
    if findings:
        return findings
    return [Finding(name, Status.OK, f"no ingress from 0.0.0.0/0 or ::/0 on {', '.join(group_ids)}.")]


def _open_rule_finding(name: str, gid: str, perm: dict[str, Any], cidr: str, region: str) -> Finding:
    protocol = str(perm.get("IpProtocol", "-1"))
    low, high = perm.get("FromPort"), perm.get("ToPort")
    if protocol == "-1":
        what, ports = "all traffic", ""
    elif low is None or low == high:
        what, ports = f"{protocol} port {low}", f",FromPort={low},ToPort={high}"
    else:
        what, ports = f"{protocol} ports {low}-{high}", f",FromPort={low},ToPort={high}"
    ranges = f"Ipv6Ranges=[{{CidrIpv6={cidr}}}]" if ":" in cidr else f"IpRanges=[{{CidrIp={cidr}}}]"
    fix = (
        f"aws ec2 revoke-security-group-ingress --region {region} --group-id {gid} "
        f"--ip-permissions 'IpProtocol={protocol}{ports},{ranges}'"
    )
    if protocol in ("tcp", "-1") and low is not None and low <= 22 <= (high if high is not None else low):
        fix += "; reach the instance with Session Manager (aws ssm start-session), not SSH"
    elif protocol in ("tcp", "-1"):
        fix += "; serve users through the load balancer (certificate_arn) and allowed_cidrs"
    return Finding(name, Status.FAIL, f"{gid} allows {what} from {cidr}.", fix)


def check_target_health(ctx: DoctorContext) -> Finding:
    """The instance is a healthy target of the ALB's target group (when there is a load balancer)."""
    name, iid = "alb-target-health", ctx.instance_id
    arn = ctx.outputs.target_group_arn
    if not arn:
        return Finding(name, Status.SKIP, "target_group_arn not in outputs (no load balancer).")
    described = ctx.elbv2.describe_target_health(TargetGroupArn=arn).get("TargetHealthDescriptions", [])
    mine = [d for d in described if d.get("Target", {}).get("Id") == iid]
    if not mine:
        return Finding(
            name,
            Status.FAIL,
            f"{iid} is not registered in the target group.",
            "`pulumi up` registers the current instance again",
        )
    health = mine[0].get("TargetHealth", {})
    state = health.get("State", "unknown")
    if state == "healthy":
        return Finding(name, Status.OK, f"{iid} is healthy behind the load balancer.")
    reason = " ".join(str(health.get(k, "")) for k in ("Reason", "Description")).strip()
    status = Status.WARN if state in ("initial", "draining") else Status.FAIL
    return Finding(
        name,
        status,
        f"{iid} is {state} behind the load balancer" + (f" ({reason})." if reason else "."),
        "the health check calls the frontend on port 80: on the instance, `sudo docker compose --project-name "
        "sourcegraph ps` must show sourcegraph-frontend-0 healthy; see /var/log/sgarch-boot.log",
    )


def check_ssm(ctx: DoctorContext) -> Finding:
    """The SSM agent on the instance is online (Session Manager and Run Command work)."""
    name, iid = "ssm-reachability", ctx.instance_id
    found = ctx.ssm.describe_instance_information(Filters=[{"Key": "InstanceIds", "Values": [iid]}]).get(
        "InstanceInformationList", []
    )
    fix = (
        "the instance role needs AmazonSSMManagedInstanceCore and a route to SSM (the NAT gateway or "
        "interface_endpoints=true); the agent ships with Amazon Linux 2023"
    )
    if not found:
        ctx.ssm_online = False
        return Finding(name, Status.FAIL, f"{iid} is not registered with Systems Manager.", fix)
    ping = found[0].get("PingStatus", "unknown")
    ctx.ssm_online = ping == "Online"
    if ping == "Online":
        return Finding(name, Status.OK, f"the SSM agent on {iid} is online.")
    return Finding(name, Status.FAIL, f"the SSM agent on {iid} is {ping}.", fix)


def check_latest_snapshot(ctx: DoctorContext) -> Finding:
    """The data volume has a recent snapshot (the daily DLM policy, or a pre-upgrade one)."""
    name, vid = "latest-snapshot", ctx.volume_id
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        volume = ctx.volume()
    except (ClientError, BotoCoreError, NotImplementedError):
        volume = None  # the tag is a hint; the snapshot age below still counts
    tag_note = ""
    if volume is not None and "sgarch:backup" not in _tags(volume):
        tag_note = " The volume has no sgarch:backup tag, so the daily snapshot policy skips it."
    snaps = ctx.ec2.describe_snapshots(
        OwnerIds=["self"], Filters=[{"Name": "volume-id", "Values": [vid]}]
    ).get("Snapshots", [])
    done = [s for s in snaps if s.get("State") == "completed" and _aware(s.get("StartTime"))]
    fix = (
        "check the volume's sgarch:backup tag and that the DLM policy is ENABLED (aws dlm "
        "get-lifecycle-policies); take one now with `sgarch upgrade snapshot`"
    )
    if not done:
        return Finding(name, Status.FAIL, f"{vid} has no completed snapshot.{tag_note}", fix)
    newest = max(done, key=lambda s: _aware(s["StartTime"]) or ctx.now())
    age_hours = (ctx.now() - (_aware(newest["StartTime"]) or ctx.now())).total_seconds() / 3600
    summary = f"newest snapshot {newest.get('SnapshotId')} is {age_hours:.0f} h old.{tag_note}"
    if age_hours > SNAPSHOT_FAIL_HOURS:
        return Finding(name, Status.FAIL, summary, fix)
    if age_hours > SNAPSHOT_WARN_HOURS or tag_note:
        return Finding(name, Status.WARN, summary, fix)
    return Finding(name, Status.OK, summary)


def check_version_marker(ctx: DoctorContext) -> Finding:
    """The data volume's version marker matches the configured Sourcegraph version (read through SSM)."""
    name, iid = "version-marker", ctx.instance_id
    configured = ctx.outputs.sourcegraph_version
    if not configured:
        return Finding(name, Status.SKIP, "sourcegraph_version not in outputs.")
    if ctx.state() != "running":
        return Finding(name, Status.SKIP, f"the instance is {ctx.state() or 'missing'}.")
    if ctx.ssm_online is False:
        return Finding(name, Status.UNKNOWN, "SSM cannot reach the instance (see ssm-reachability).")
    read_it = f"read it yourself: aws ssm start-session --target {iid}, then cat {VERSION_MARKER}"
    output = _read_marker(ctx)
    marker, _, status = output.partition(_SEPARATOR)
    status = status.strip()
    if status.startswith(("refused:", "failed:")):
        # The boot script refused a jump a hard gate forbids, or the migrator failed: Sourcegraph is down.
        return Finding(
            name,
            Status.FAIL,
            f"the boot-time upgrade {status.split(':', 1)[0]}: {status.split(':', 1)[1].strip()}",
            f"read /var/log/sgarch-boot.log on the instance; plan the path with `sgarch upgrade plan --from "
            f"{marker.strip() or '<data version>'} --to {configured} --arch single-node`",
        )
    if not marker.strip():
        return Finding(name, Status.UNKNOWN, "the instance returned no version marker through SSM.", read_it)
    try:
        data_at = Version(*(int(p) for p in marker.strip().lstrip("v").split(".")))
        wanted = Version(*(int(p) for p in configured.strip().lstrip("v").split(".")))
    except (TypeError, ValueError):
        return Finding(name, Status.WARN, f"unexpected marker content {marker.strip()!r}.", read_it)
    if data_at == wanted:
        return Finding(name, Status.OK, f"the data is at {data_at}, as configured.")
    plan = f"sgarch upgrade plan --from {data_at} --to {wanted} --arch single-node"
    if data_at < wanted:
        return Finding(
            name,
            Status.FAIL,
            f"the data is at {data_at} but the stack runs {wanted}: the upgrade has not finished or was refused.",
            f"read /var/log/sgarch-boot.log on the instance and follow `{plan}`",
        )
    return Finding(
        name,
        Status.FAIL,
        f"the data is at {data_at}, newer than the configured {wanted} (a downgrade).",
        f"set it back (pulumi config set sourcegraph_version {data_at} && pulumi up), or follow `{plan}`",
    )


def _read_marker(ctx: DoctorContext) -> str:
    sent = ctx.ssm.send_command(
        InstanceIds=[ctx.instance_id],
        DocumentName="AWS-RunShellScript",
        Comment="sgarch doctor: read the Sourcegraph version marker",
        TimeoutSeconds=60,
        Parameters={
            "commands": [
                f"cat {VERSION_MARKER}",
                f"echo '{_SEPARATOR}'",
                f"cat {UPGRADE_STATUS} 2>/dev/null || true",
            ]
        },
    )
    command_id = sent["Command"]["CommandId"]
    deadline = time.monotonic() + ctx.ssm_timeout_seconds
    while True:
        try:
            result = ctx.ssm.get_command_invocation(CommandId=command_id, InstanceId=ctx.instance_id)
        except Exception as exc:
            # Right after send_command the invocation may not exist yet.
            if error_code(exc) != "InvocationDoesNotExist":
                raise
            result = {"Status": "Pending"}
        status = result.get("Status")
        if status not in ("Pending", "InProgress", "Delayed"):
            return str(result.get("StandardOutputContent") or "") if status == "Success" else ""
        if time.monotonic() >= deadline:
            return ""
        ctx.sleep(ctx.ssm_poll_seconds)


CheckFn = Callable[[DoctorContext], "Finding | list[Finding]"]

#: Every check, in report order: (id, function). SSM reachability runs before the marker check it informs.
CHECKS: tuple[tuple[str, CheckFn], ...] = (
    ("instance-state", check_instance_state),
    ("instance-status-checks", check_status_checks),
    ("data-volume-attached", check_volume_attached),
    ("data-volume-encrypted", check_volume_encrypted),
    ("data-volume-headroom", check_disk_headroom),
    ("world-open-ports", check_world_open_ports),
    ("alb-target-health", check_target_health),
    ("ssm-reachability", check_ssm),
    ("latest-snapshot", check_latest_snapshot),
    ("version-marker", check_version_marker),
)


def could_not_check(name: str, exc: BaseException) -> Finding:
    """The finding for a check whose AWS call failed: forbidden, not implemented, no credentials..."""
    operation = getattr(exc, "operation_name", "") or ""
    action = f"{_SERVICE_OF.get(operation, 'aws')}:{operation}" if operation else "an AWS call"
    if is_forbidden(exc):
        return Finding(
            name,
            Status.UNKNOWN,
            f"{action} is forbidden ({error_code(exc)}).",
            f"allow {action} for the role or user running doctor",
        )
    if isinstance(exc, NotImplementedError):
        return Finding(
            name, Status.UNKNOWN, f"this endpoint does not implement the API ({error_message(exc)})."
        )
    return Finding(name, Status.UNKNOWN, f"{action} failed: {error_code(exc)}: {error_message(exc)}.")


def run_checks(ctx: DoctorContext, checks: tuple[tuple[str, CheckFn], ...] = CHECKS) -> list[Finding]:
    """Run every check; an AWS error becomes that check's "could not check" finding, never an exception."""
    from botocore.exceptions import BotoCoreError, ClientError

    findings: list[Finding] = []
    for name, check in checks:
        try:
            result = check(ctx)
        except (ClientError, BotoCoreError, NotImplementedError) as exc:
            result = could_not_check(name, exc)
        findings.extend(result if isinstance(result, list) else [result])
    return findings


def exit_status(findings: list[Finding]) -> int:
    """0 when nothing failed, 1 otherwise ("could not check" is not a failure)."""
    return 1 if any(f.status is Status.FAIL for f in findings) else 0
