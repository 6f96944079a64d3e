"""security-group: a temporary group with no inbound rules; the build talks to SSM outbound only."""

from __future__ import annotations

from sgarch.ami.aws import BUILD_ID_TAG
from sgarch.ami.cleanup import delete_security_groups
from sgarch.ami.steps.state import BuildState

__all__ = ["SecurityGroup"]


class SecurityGroup:
    """A temporary security group with no inbound rules: the build talks to SSM outbound only."""

    name = "security-group"
    changes = ("ec2.CreateSecurityGroup",)

    def run(self, state: BuildState) -> None:
        """Create the group, tagged at creation; its default egress rule lets SSM and downloads out."""
        ec2 = state.clients.ec2(state.loaded.spec.build_region)
        created = ec2.create_security_group(
            GroupName=state.temp_name,
            Description=f"sgarch AMI build {state.build_id}: no inbound rules",
            VpcId=state.vpc_id,
            TagSpecifications=[{"ResourceType": "security-group", "Tags": state.temp_tags("security group")}],
        )
        state.security_group_id = created["GroupId"]

    def cleanup(self, state: BuildState) -> None:
        """Delete the recorded group and any other tagged with, or named for, this build id.

        A terminated instance's network interface lingers for a while, and the group stays "in use"
        (DependencyViolation) until it is gone: that is retried for about three minutes.
        """
        region = state.loaded.spec.build_region
        ec2 = state.clients.ec2(region)
        attempts = state.attempts()
        group_ids = {state.security_group_id} if state.security_group_id else set()
        for flt in (
            {"Name": f"tag:{BUILD_ID_TAG}", "Values": [state.build_id]},
            {"Name": "group-name", "Values": [state.temp_name]},
        ):
            found = attempts.call(
                f"find the security groups of build {state.build_id}",
                region,
                ec2.describe_security_groups,
                Filters=[flt],
            )
            group_ids |= {g["GroupId"] for g in (found or {}).get("SecurityGroups", [])}
        delete_security_groups(ec2, region, group_ids, attempts)
        attempts.raise_if_failed()
