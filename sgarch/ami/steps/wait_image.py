"""wait-image: wait for the build-region image, then require IMDSv2 on it."""

from __future__ import annotations

from sgarch.ami.runner import BuildEvent
from sgarch.ami.steps.images import finish_image
from sgarch.ami.steps.state import BuildState, NoCleanup

__all__ = ["WaitForImage"]


class WaitForImage(NoCleanup):
    """Wait for the build-region image, then require IMDSv2 on it (create-image's cleanup deletes it)."""

    name = "wait-image"
    changes = ("ec2.ModifyImageAttribute",)

    def run(self, state: BuildState) -> None:
        """Poll with backoff up to ``timeouts.image_available_seconds``."""
        spec = state.loaded.spec
        image_id = state.images[spec.build_region]
        finish_image(state, spec.build_region, image_id, spec.timeouts.image_available_seconds)
        state.emit(BuildEvent("region", self.name, f"available {image_id}", spec.build_region))
