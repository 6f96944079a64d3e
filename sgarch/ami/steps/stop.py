"""stop: stop the instance so the image is consistent, then turn ENA on."""

from __future__ import annotations

from sgarch.ami.steps.state import BuildState, NoCleanup

__all__ = ["Stop"]


class Stop(NoCleanup):
    """Stop the instance so the image is consistent, then turn ENA on (it can only change while stopped).

    Nothing to undo: the launch step's cleanup terminates the instance whatever its state.
    """

    name = "stop"
    changes = ("ec2.StopInstances", "ec2.ModifyInstanceAttribute")

    def run(self, state: BuildState) -> None:
        """StopInstances, wait, ModifyInstanceAttribute(EnaSupport)."""
        ec2 = state.clients.ec2(state.loaded.spec.build_region)
        ec2.stop_instances(InstanceIds=[state.instance_id])

        def stopped() -> bool | None:
            instance = ec2.describe_instances(InstanceIds=[state.instance_id])["Reservations"][0][
                "Instances"
            ][0]
            return True if instance["State"]["Name"] == "stopped" else None

        state.wait(
            stopped, f"{state.instance_id} to stop", state.loaded.spec.timeouts.instance_stopped_seconds
        )
        ec2.modify_instance_attribute(InstanceId=state.instance_id, EnaSupport={"Value": True})
