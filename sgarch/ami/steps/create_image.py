"""create-image: CreateImage from the stopped instance, image and snapshots tagged at creation."""

from __future__ import annotations

from sgarch.ami.runner import BuildEvent
from sgarch.ami.steps.images import delete_build_images
from sgarch.ami.steps.state import BuildState

__all__ = ["CreateImage"]


class CreateImage:
    """CreateImage from the stopped instance, tagged (``sgarch:build-complete=false``) so cleanup finds it."""

    name = "create-image"
    changes = ("ec2.CreateImage",)

    def run(self, state: BuildState) -> None:
        """Create the image and record its id at once."""
        spec = state.loaded.spec
        ec2 = state.clients.ec2(spec.build_region)
        created = ec2.create_image(
            InstanceId=state.instance_id,
            Name=state.ami_name,
            Description=(spec.description or f"{spec.name} {spec.sourcegraph_version}")[:255],
            TagSpecifications=state.image_tag_specifications(),
        )
        state.record_image(spec.build_region, created["ImageId"])
        state.emit(BuildEvent("region", self.name, f"creating {created['ImageId']}", spec.build_region))

    def cleanup(self, state: BuildState) -> None:
        """On failure or interrupt only: deregister the image and delete its snapshots."""
        if not state.succeeded:
            delete_build_images(state, (state.loaded.spec.build_region,))
