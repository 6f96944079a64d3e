"""wait-ssm: wait until the SSM agent is online, then prove it runs commands with a no-op."""

from __future__ import annotations

from botocore.exceptions import ClientError

from sgarch.ami.aws import error_code
from sgarch.ami.steps.commands import TERMINAL_COMMAND
from sgarch.ami.steps.state import BuildState, NoCleanup
from sgarch.errors import AmiBuildError

__all__ = ["WaitForSsm"]


class WaitForSsm(NoCleanup):
    """Wait until the SSM agent is online, then prove it runs commands with a no-op."""

    name = "wait-ssm"
    changes = ("ssm.SendCommand",)

    def run(self, state: BuildState) -> None:
        """Poll DescribeInstanceInformation for ``PingStatus=Online``, then run ``true`` through Run Command.

        SendCommand to an instance whose agent has not registered fails with ``InvalidInstanceId``; to one
        whose agent is registered but not connected it is accepted and then times out undelivered, so the
        ping status is checked first.
        """
        ssm = state.clients.client("ssm", state.loaded.spec.build_region)
        timeout = state.loaded.spec.timeouts.ssm_ready_seconds

        def online() -> bool | None:
            found = ssm.describe_instance_information(
                Filters=[{"Key": "InstanceIds", "Values": [state.instance_id]}]
            )["InstanceInformationList"]
            return True if any(i.get("PingStatus") == "Online" for i in found) else None

        state.wait(
            online,
            f"the SSM agent on {state.instance_id} to come online (check that the subnet reaches SSM)",
            timeout,
        )

        def accepted() -> str | None:
            try:
                sent = ssm.send_command(
                    InstanceIds=[state.instance_id],
                    DocumentName="AWS-RunShellScript",
                    Comment=f"sgarch {state.build_id[:8]} ready check",
                    Parameters={"commands": ["true"], "executionTimeout": ["60"]},
                    TimeoutSeconds=60,
                )
            except ClientError as exc:
                if error_code(exc) == "InvalidInstanceId":
                    return None
                raise
            command_id: str = sent["Command"]["CommandId"]
            return command_id

        command_id = state.wait(accepted, "the SSM agent to accept commands", timeout)

        def done() -> str | None:
            try:
                status: str = ssm.get_command_invocation(CommandId=command_id, InstanceId=state.instance_id)[
                    "Status"
                ]
            except ClientError as exc:
                if error_code(exc) == "InvocationDoesNotExist":
                    return None
                raise
            return status if status in TERMINAL_COMMAND else None

        status = state.wait(done, "the SSM ready check", timeout)
        if status != "Success":
            raise AmiBuildError(f"the SSM ready check on {state.instance_id} ended {status}")
