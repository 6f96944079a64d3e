"""copy: CopyImage to every copy region in parallel, image and snapshots tagged at creation."""

from __future__ import annotations

from typing import Any

from sgarch.ami import aws
from sgarch.ami.runner import BuildEvent
from sgarch.ami.steps.images import delete_build_images, finish_image
from sgarch.ami.steps.state import BuildState
from sgarch.errors import AmiBuildError

__all__ = ["CopyToRegions"]


class CopyToRegions:
    """Copy the image to every copy region in parallel, one client per region and thread."""

    name = "copy"
    changes = ("ec2.CopyImage", "ec2.ModifyImageAttribute")

    def run(self, state: BuildState) -> None:
        """CopyImage everywhere at once, then wait for each copy; one failed region fails the build."""
        spec = state.loaded.spec
        source_id = state.images[spec.build_region]

        def copy(region: str) -> str:
            if state.cancelled.is_set():
                raise AmiBuildError("cancelled")
            ec2 = state.clients.ec2(region)
            started = state.clock.monotonic()
            request: dict[str, Any] = {
                "SourceImageId": source_id,
                "SourceRegion": spec.build_region,
                "Name": state.ami_name,
                "Description": (spec.description or f"{spec.name} {spec.sourcegraph_version}")[:255],
                "TagSpecifications": state.image_tag_specifications(),
                "ClientToken": f"{state.build_id}-{region}"[:64],
            }
            if spec.encryption.mode == "kms":
                request["Encrypted"] = True
                request["KmsKeyId"] = spec.encryption.kms_key_ids[region]
            image_id: str = ec2.copy_image(**request)["ImageId"]
            state.record_image(region, image_id)
            state.emit(BuildEvent("region", self.name, f"copying {image_id}", region))
            finish_image(state, region, image_id, spec.timeouts.copy_available_seconds)
            state.emit(
                BuildEvent(
                    "region", self.name, f"available {image_id}", region, state.clock.monotonic() - started
                )
            )
            return image_id

        # Looked up on the module at call time, so the benchmark can swap in a serial version.
        aws.for_each_region(spec.copy_regions, copy, cancelled=state.cancelled)

    def cleanup(self, state: BuildState) -> None:
        """On failure or interrupt only: delete every copy (recorded, tagged or named) in every copy region."""
        if not state.succeeded:
            delete_build_images(state, state.loaded.spec.copy_regions)
