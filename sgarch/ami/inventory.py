"""``sgarch ami list`` and ``sgarch ami prune``: the images sgarch built, grouped by build, in every region.

A *build* is every image carrying one ``sgarch:build-id`` (the build-region image and its copies). Prune
keeps the newest N builds of each image family and deregisters the rest, with their snapshots, in every
region; only images tagged by sgarch are ever considered.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sgarch.ami.aws import (
    BUILD_COMPLETE_TAG,
    BUILD_ID_TAG,
    IMAGE_TAG,
    VERSION_TAG,
    ClientFactory,
    delete_image,
    for_each_region,
    image_snapshot_ids,
)
from sgarch.ami.runner import BuildEvent, EventSink
from sgarch.errors import ConfigError

__all__ = ["Build", "BuiltImage", "enabled_regions", "list_builds", "prune", "prune_plan"]


@dataclass(frozen=True)
class BuiltImage:
    """One AMI of a build in one region."""

    region: str
    image_id: str
    name: str
    state: str
    created: str
    snapshot_ids: tuple[str, ...]


@dataclass(frozen=True)
class Build:
    """All images of one build id; ``created`` is the earliest creation time among them."""

    build_id: str
    image: str
    version: str
    created: str
    images: dict[str, BuiltImage] = field(default_factory=dict)
    complete: bool = True
    """False when an image lacks ``sgarch:build-complete=true`` (a failed or running build; images made
    before that tag existed count as complete). ``prune`` leaves these to ``sgarch ami cleanup``."""

    @property
    def ami_name(self) -> str:
        """The AMI name, the same in every region."""
        return next(iter(self.images.values())).name if self.images else ""


def enabled_regions(clients: ClientFactory, region: str) -> list[str]:
    """Regions enabled for the account, asked in ``region``."""
    return sorted(r["RegionName"] for r in clients.ec2(region).describe_regions()["Regions"])


def list_builds(clients: ClientFactory, regions: Sequence[str], image: str | None = None) -> list[Build]:
    """Every sgarch-built image in ``regions`` (optionally one family), grouped by build, newest first."""
    filters: list[dict[str, Any]] = [{"Name": "tag-key", "Values": [BUILD_ID_TAG]}]
    if image:
        filters.append({"Name": f"tag:{IMAGE_TAG}", "Values": [image]})

    def scan(region: str) -> list[dict[str, Any]]:
        images: list[dict[str, Any]] = clients.ec2(region).describe_images(Owners=["self"], Filters=filters)[
            "Images"
        ]
        return images

    found = for_each_region(regions, scan)
    grouped: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for region, images in found.items():
        for item in images:
            tags = {t["Key"]: t["Value"] for t in item.get("Tags", [])}
            # A user's own copy of an sgarch image may carry its tags (CopyImageTags), but not its AMI name,
            # which sgarch also writes into the Name tag: such a copy is the user's, never part of a build.
            if tags.get("Name", item.get("Name")) != item.get("Name"):
                continue
            grouped[tags.get(BUILD_ID_TAG, "")].append((region, item))
    builds = []
    for build_id, members in grouped.items():
        tags = {t["Key"]: t["Value"] for t in members[0][1].get("Tags", [])}
        members_by_region = {
            region: BuiltImage(
                region=region,
                image_id=item["ImageId"],
                name=item.get("Name", ""),
                state=item.get("State", ""),
                created=item.get("CreationDate", ""),
                snapshot_ids=tuple(image_snapshot_ids(item)),
            )
            for region, item in sorted(members, key=lambda m: m[0])
        }
        builds.append(
            Build(
                build_id=build_id,
                image=tags.get(IMAGE_TAG, ""),
                version=tags.get(VERSION_TAG, ""),
                created=min(i.created for i in members_by_region.values()),
                images=members_by_region,
                complete=all(
                    {t["Key"]: t["Value"] for t in item.get("Tags", [])}.get(BUILD_COMPLETE_TAG, "true")
                    == "true"
                    for _, item in members
                ),
            )
        )
    # The build id breaks ties: two builds in the same second still sort the same way every time.
    return sorted(builds, key=lambda b: (b.created, b.build_id), reverse=True)


def prune_plan(builds: Sequence[Build], keep: int) -> list[Build]:
    """The builds ``prune --keep keep`` removes: all but the newest ``keep`` complete builds of each family.

    Incomplete builds are neither kept nor counted: ``sgarch ami cleanup`` removes those.
    """
    if keep < 0:
        raise ConfigError("--keep", "0 or more", keep, "give the number of builds to keep per image")
    by_family: dict[str, list[Build]] = defaultdict(list)
    for build in builds:
        if build.complete:
            by_family[build.image].append(build)
    doomed = []
    for family in sorted(by_family):
        newest_first = sorted(by_family[family], key=lambda b: (b.created, b.build_id), reverse=True)
        doomed += newest_first[keep:]
    return doomed


def prune(
    clients: ClientFactory,
    builds: Sequence[Build],
    emit: EventSink | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, list[str]]:
    """Deregister every image of ``builds`` and delete its snapshots; return region -> deleted image ids.

    ``sleep`` paces the retries of a snapshot still "in use" by the image deregistered a moment earlier.
    """
    by_region: dict[str, list[BuiltImage]] = defaultdict(list)
    for build in builds:
        for image in build.images.values():
            by_region[image.region].append(image)

    def remove(region: str) -> list[str]:
        ec2 = clients.ec2(region)
        deleted = []
        for image in by_region[region]:
            snapshots = delete_image(ec2, image.image_id, sleep=sleep)
            deleted.append(image.image_id)
            if emit is not None:
                emit(
                    BuildEvent(
                        "region",
                        "prune",
                        f"deleted {image.image_id} and {len(snapshots)} snapshot(s)",
                        region,
                    )
                )
        return deleted

    return for_each_region(sorted(by_region), remove)
