"""Doctor check of the version marker: the data volume's Sourcegraph version, read on the instance through SSM."""

from __future__ import annotations

import time

from sgarch.doctor._context import DATA_MOUNT, DoctorContext, Finding, Status
from sgarch.upgrade.aws import error_code
from sgarch.upgrade.versions import Version

__all__ = ["check_version_marker"]

VERSION_MARKER = f"{DATA_MOUNT}/.sourcegraph-version"
UPGRADE_STATUS = f"{DATA_MOUNT}/.sgarch-upgrade-status"
"""Written by the boot script: ``ok: ...``, ``upgrading: ...``, ``refused: <gate>: ...`` or ``failed: ...``."""
_SEPARATOR = "--- sgarch upgrade status ---"


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
