"""Doctor checks of the instance itself: it exists and runs, passes EC2's status checks, and SSM reaches it."""

from __future__ import annotations

from sgarch.doctor._context import DoctorContext, Finding, Status, tags_of

__all__ = ["check_instance_state", "check_ssm", "check_status_checks"]


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
        if tags_of(instance).get("sgarch:component") != "single-node":
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
