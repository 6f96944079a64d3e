"""manifest: write which AMI is where, then mark every image complete, the very last thing a build does."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

from sgarch.ami import aws
from sgarch.ami.aws import BUILD_COMPLETE_TAG
from sgarch.ami.steps.state import BuildState

__all__ = ["MANIFEST_FORMAT", "WriteManifest"]

MANIFEST_FORMAT = "sgarch-ami-manifest/1"


class WriteManifest:
    """Write the manifest ``publish`` and the single-node stack read, then tag every image complete.

    ``sgarch:build-complete=true`` is set last, after everything else succeeded: an image without it is not
    a build's product, whatever its state, and a rerun of the same spec does not stop at it.
    """

    name = "manifest"
    changes = ("ec2.CreateTags",)

    def run(self, state: BuildState) -> None:
        """Write atomically (temporary file, then rename), then tag the images in every region."""
        spec = state.loaded.spec
        path = state.options.manifest_path or Path(f"{spec.name}-{spec.sourcegraph_version}.manifest.json")
        finished = datetime.now(timezone.utc)
        document = {
            "format": MANIFEST_FORMAT,
            "name": spec.name,
            "ami_name": state.ami_name,
            "sourcegraph_version": spec.sourcegraph_version,
            "spec_hash": state.spec_hash,
            "build_id": state.build_id,
            "build_region": spec.build_region,
            "images": {region: state.images[region] for region in spec.regions},
            "source_ami": {
                "image_id": state.source_image["ImageId"],
                "name": state.source_image.get("Name", ""),
                "region": spec.build_region,
            },
            "started_at": state.started_at.isoformat(timespec="seconds"),
            "finished_at": finished.isoformat(timespec="seconds"),
            "build_time_seconds": round((finished - state.started_at).total_seconds(), 1),
            "sharing": spec.sharing.model_dump(mode="json"),
            "encryption": spec.encryption.mode,
            "marketplace": spec.marketplace.model_dump(mode="json") if spec.marketplace else None,
        }
        # Recorded first: an interrupt between the rename and the next line must not leave the file behind.
        state.manifest_path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(partial, path)

        def complete(region: str) -> None:
            state.clients.ec2(region).create_tags(
                Resources=[state.images[region]], Tags=[{"Key": BUILD_COMPLETE_TAG, "Value": "true"}]
            )

        aws.for_each_region(spec.regions, complete, cancelled=state.cancelled)

    def cleanup(self, state: BuildState) -> None:
        """On failure the images are gone, so a manifest naming them must go too."""
        if not state.succeeded and state.manifest_path is not None:
            state.manifest_path.unlink(missing_ok=True)
            state.manifest_path.with_name(state.manifest_path.name + ".partial").unlink(missing_ok=True)
