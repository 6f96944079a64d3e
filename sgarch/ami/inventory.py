"""``sgarch ami list`` and ``sgarch ami prune``: the images sgarch built, grouped by build, in every region.

A *build* is every image carrying one ``sgarch:build-id`` (the build-region image and its copies). Prune
keeps the newest N builds of each image family and deregisters the rest, with their snapshots, in every
region; only images tagged by sgarch are ever considered.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sgarch.ami.aws import (
    BUILD_COMPLETE_TAG,
    BUILD_ID_TAG,
    IMAGE_TAG,
    VERSION_TAG,
    ClientFactory,
    for_each_region,
    image_snapshot_ids,
)
from sgarch.ami.cleanup import Attempts, Leftover, delete_images
from sgarch.ami.runner import BuildEvent
from sgarch.errors import ConfigError

__all__ = ["Build", "BuiltImage", "PruneResult", "enabled_regions", "list_builds", "prune", "prune_plan"]


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


@dataclass(frozen=True)
class PruneResult:
    """What :func:`prune` did: region -> image ids deleted, and what is still there after it looked again."""

    deleted: dict[str, list[str]]
    left: list[Leftover]
    """Images (a failed deregistration keeps their snapshots with them) and snapshots whose image is gone."""


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


def prune(clients: ClientFactory, builds: Sequence[Build], attempts: Attempts) -> PruneResult:
    """Deregister every image of ``builds`` and delete its snapshots, in every region, then look again.

    Every image is attempted whatever failed before it, in its region or another: a failed call is recorded
    in ``attempts`` (retried first when AWS may answer differently a moment later), as the build's cleanups
    do. The second look, at exactly the images and snapshots handled, is what the result reports as left.
    """
    by_region: dict[str, list[tuple[str, BuiltImage]]] = defaultdict(list)
    for build in builds:
        for image in build.images.values():
            by_region[image.region].append((build.build_id, image))

    def remove(region: str) -> tuple[list[str], list[Leftover]]:
        images = by_region[region]
        try:
            ec2 = clients.ec2(region)
            found = delete_images(ec2, region, [i.image_id for _, i in images], attempts)
            left = _still_there(ec2, region, images, found, attempts)
        except Exception as exc:  # recorded like any failed call, so that the other regions still go
            attempts.fail(f"prune {region}", region, exc)
            left = [Leftover(b, region, "image", i.image_id, i.name) for b, i in images]
        kept = {item.resource_id for item in left if item.kind == "image"}
        deleted = [i.image_id for _, i in images if i.image_id not in kept]
        if attempts.emit is not None and deleted:
            attempts.emit(BuildEvent("region", "prune", f"deleted {', '.join(deleted)}", region))
        return deleted, left

    done = for_each_region(sorted(by_region), remove)
    return PruneResult(
        deleted={region: ids for region, (ids, _) in done.items() if ids},
        left=sorted(item for _, left in done.values() for item in left),
    )


def _still_there(
    ec2: Any,
    region: str,
    images: Sequence[tuple[str, BuiltImage]],
    found: dict[str, set[str]],
    attempts: Attempts,
) -> list[Leftover]:
    """What still exists of ``images`` (build id, image) and their snapshots; if AWS cannot say, all of it."""
    ids = sorted(i.image_id for _, i in images)
    remaining: set[str] = set()
    for chunk in _chunks(ids):
        described = attempts.call(
            f"look again for {len(chunk)} pruned image(s)",
            region,
            ec2.describe_images,
            Owners=["self"],
            Filters=[{"Name": "image-id", "Values": chunk}],
        )
        if described is None:
            remaining.update(chunk)
        else:
            # A just-deregistered image can be listed for a little while, as "deregistered".
            remaining.update(i["ImageId"] for i in described["Images"] if i.get("State") != "deregistered")
    left = [Leftover(b, region, "image", i.image_id, i.name) for b, i in images if i.image_id in remaining]
    # A remaining image keeps its snapshots; the next prune removes them together.
    owner = {
        snapshot: (build_id, image.image_id)
        for build_id, image in images
        if image.image_id not in remaining
        for snapshot in (*image.snapshot_ids, *found.get(image.image_id, ()))
    }
    still: set[str] = set()
    for chunk in _chunks(sorted(owner)):
        listed = attempts.call(
            f"look again for {len(chunk)} pruned snapshot(s)",
            region,
            ec2.describe_snapshots,
            OwnerIds=["self"],
            Filters=[{"Name": "snapshot-id", "Values": chunk}],
        )
        still.update(chunk if listed is None else (s["SnapshotId"] for s in listed["Snapshots"]))
    left += [Leftover(owner[s][0], region, "snapshot", s, f"of {owner[s][1]}") for s in sorted(still)]
    return left


def _chunks(values: list[str], size: int = 100) -> list[list[str]]:
    """``values`` in slices of ``size``: EC2 refuses a filter with too many values (about 200, undocumented)."""
    return [values[i : i + size] for i in range(0, len(values), size)]
