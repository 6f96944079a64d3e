"""``sgarch doctor``: check a live single-node deployment with boto3, one finding per check.

Each check is a function ``(DoctorContext) -> Finding | list[Finding]`` in :data:`CHECKS`, with an id and
the fix in its own words. :func:`run_checks` runs them all and never lets an AWS error escape: a call IAM
forbids (AccessDenied, UnauthorizedOperation), an API the endpoint does not implement, or no credentials
turns that one check into "could not check" and the others go on.

The checks themselves live by what they look at: ``_instance`` (state, status checks, SSM), ``_network``
(world-open ports, ALB target health), ``_volume`` (the data volume and its snapshots) and
``_version_marker``; ``_context`` holds what they share.
"""

from __future__ import annotations

from collections.abc import Callable

from sgarch.doctor._context import DATA_DEVICE_NAME, DATA_MOUNT, DoctorContext, Finding, Status
from sgarch.doctor._instance import check_instance_state, check_ssm, check_status_checks
from sgarch.doctor._network import check_target_health, check_world_open_ports
from sgarch.doctor._version_marker import check_version_marker
from sgarch.doctor._volume import (
    check_disk_headroom,
    check_latest_snapshot,
    check_volume_attached,
    check_volume_encrypted,
)
from sgarch.upgrade.aws import error_code, error_message, is_forbidden

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
