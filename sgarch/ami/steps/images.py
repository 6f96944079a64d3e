"""What the image steps share: waiting for an image to finish, and deleting a failed build's images."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from sgarch.ami.aws import BUILD_ID_TAG, error_code, for_each_region
from sgarch.ami.cleanup import delete_images, delete_snapshots
from sgarch.ami.runner import BuildEvent
from sgarch.ami.steps.state import BuildState
from sgarch.errors import AmiBuildError

__all__ = ["delete_build_images", "finish_image"]


def delete_build_images(state: BuildState, regions: tuple[str, ...]) -> None:
    """Delete this build's images (recorded, tagged with its id, or bearing its name) and their snapshots.

    Every region is swept and every call attempted; the failures are raised together at the end.
    """
    attempts = state.attempts()

    def sweep(region: str) -> None:
        ec2 = state.clients.ec2(region)
        image_ids = {state.images[region]} if region in state.images else set()
        # By name as well: the one thing an image has even if its tags never arrived.
        for flt in (
            {"Name": f"tag:{BUILD_ID_TAG}", "Values": [state.build_id]},
            {"Name": "name", "Values": [state.ami_name]},
        ):
            found = attempts.call(
                f"find the images of build {state.build_id}",
                region,
                ec2.describe_images,
                Owners=["self"],
                Filters=[flt],
            )
            image_ids |= {i["ImageId"] for i in (found or {}).get("Images", [])}
        delete_images(ec2, region, image_ids, attempts)
        if image_ids:
            state.emit(BuildEvent("region", "cleanup", f"deleted {', '.join(sorted(image_ids))}", region))
        snapshots = attempts.call(
            f"find the snapshots of build {state.build_id}",
            region,
            ec2.describe_snapshots,
            OwnerIds=["self"],
            Filters=[{"Name": f"tag:{BUILD_ID_TAG}", "Values": [state.build_id]}],
        )
        delete_snapshots(
            ec2, region, {s["SnapshotId"] for s in (snapshots or {}).get("Snapshots", [])}, attempts
        )

    for_each_region(regions, sweep)
    attempts.raise_if_failed()


def finish_image(state: BuildState, region: str, image_id: str, timeout_seconds: int) -> None:
    """Wait until ``image_id`` is available, then make it IMDSv2-only (which cannot be undone)."""
    ec2 = state.clients.ec2(region)

    def available() -> dict[str, Any] | None:
        try:
            images = ec2.describe_images(ImageIds=[image_id])["Images"]
        except ClientError as exc:
            # A brand-new id can be unknown to DescribeImages for a moment.
            if error_code(exc) == "InvalidAMIID.NotFound":
                return None
            raise
        if not images:
            return None
        image: dict[str, Any] = images[0]
        if image["State"] in ("failed", "error", "invalid", "deregistered"):
            reason = image.get("StateReason", {}).get("Message", "")
            raise AmiBuildError(f"{image_id} in {region} is {image['State']}: {reason}")
        return image if image["State"] == "available" else None

    state.wait(available, f"{image_id} to be available in {region}", timeout_seconds)
    # Set on finished images only; Marketplace requires it.
    ec2.modify_image_attribute(ImageId=image_id, ImdsSupport={"Value": "v2.0"})
