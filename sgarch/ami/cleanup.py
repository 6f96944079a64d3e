"""Removing what a build made: every call is attempted whatever failed before it; ``sgarch ami cleanup``.

Two users share these functions:

- each step's ``cleanup`` (:mod:`sgarch.ami.steps`) removes what its ``run`` made through one
  :class:`Attempts`, so a failed delete is recorded and the next one still runs;
- ``sgarch ami cleanup --build-id ID`` finds what a build made in every region, by its ``sgarch:build-id``
  tag and the ``/sgarch-build/`` IAM path (also what a build killed before its cleanups left), and removes it.

Throttling and 5xx answers are retried (after botocore's own retries) on the build's clock; "still in use"
answers are waited out; "not found" counts as removed, so running a cleanup twice is safe. A complete image
(``sgarch:build-complete=true``, or one made before that tag existed) is a build's product, not a leftover:
``sgarch ami prune`` removes those.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from sgarch.ami.aws import (
    BUILD_COMPLETE_TAG,
    BUILD_ID_TAG,
    IAM_PATH,
    ClientFactory,
    error_code,
    for_each_region,
    image_snapshot_ids,
    is_transient,
    snapshot_description_filter,
)
from sgarch.ami.runner import BuildEvent, Clock, EventSink, wait_until
from sgarch.errors import AmiBuildError

__all__ = [
    "DELETE_CALLS",
    "GLOBAL",
    "TEMP_PREFIX",
    "Attempts",
    "CleanupError",
    "Failure",
    "Leftover",
    "cleanup_command",
    "delete_iam",
    "delete_images",
    "delete_security_groups",
    "delete_snapshots",
    "delete_volumes",
    "find_leftovers",
    "remove_leftovers",
    "terminate_instances",
]

#: Every AWS call a cleanup makes that deletes something (the fault-injection tests fail each one once).
DELETE_CALLS: tuple[str, ...] = (
    "ec2.TerminateInstances",
    "ec2.DeleteSecurityGroup",
    "ec2.DeleteVolume",
    "ec2.DeregisterImage",
    "ec2.DeleteSnapshot",
    "iam.RemoveRoleFromInstanceProfile",
    "iam.DeleteInstanceProfile",
    "iam.DeleteRolePolicy",
    "iam.DetachRolePolicy",
    "iam.DeleteRole",
)
#: The "region" of IAM resources in reports.
GLOBAL = "global"
#: Name prefix of the temporary security group, role and instance profile; the build id follows it.
TEMP_PREFIX = "sgarch-build-"
_TRANSIENT_ATTEMPTS = 6
_LIVE_STATES = ["pending", "running", "stopping", "stopped", "shutting-down"]
_GONE: Any = object()


@dataclass(frozen=True)
class Failure:
    """One cleanup call that still failed after its retries."""

    what: str
    region: str
    error: str

    def __str__(self) -> str:
        return f"{self.what} ({self.region}): {self.error}"


class CleanupError(AmiBuildError):
    """Raised by a step's cleanup after *all* its calls ran, listing the ones that failed."""

    def __init__(self, failures: Sequence[Failure]) -> None:
        self.failures = list(failures)
        super().__init__("; ".join(str(f) for f in self.failures))


class Attempts:
    """Runs cleanup calls and never stops at a failure: it retries what may pass, records what did not."""

    def __init__(self, clock: Clock, emit: EventSink | None = None) -> None:
        self.clock = clock
        self.emit = emit
        self.failures: list[Failure] = []
        self._lock = threading.Lock()

    def fail(self, what: str, region: str, exc: BaseException) -> None:
        """Record a failure (thread-safe)."""
        with self._lock:
            self.failures.append(Failure(what, region, " ".join((str(exc) or type(exc).__name__).split())))

    def call(
        self,
        what: str,
        region: str,
        fn: Callable[..., Any],
        *,
        missing: Iterable[str] = (),
        if_missing: Any = None,
        busy: Iterable[str] = (),
        busy_attempts: int = 6,
        **kwargs: Any,
    ) -> Any:
        """``fn(**kwargs)``'s result; ``if_missing`` for a ``missing`` code; None (recorded) on failure.

        Throttles and 5xx are retried with doubling delays; ``busy`` codes ("still in use") up to
        ``busy_attempts`` times, 5 s more each time up to 20 s.
        """
        missing, busy = tuple(missing), tuple(busy)
        transient = busy_count = 0
        while True:
            try:
                return fn(**kwargs)
            except ClientError as exc:
                code = error_code(exc)
                if code in missing:
                    return if_missing
                if is_transient(exc) and transient < _TRANSIENT_ATTEMPTS - 1:
                    transient += 1
                    self.clock.sleep(min(2.0**transient, 30.0))
                    continue
                if code in busy and busy_count < busy_attempts - 1:
                    busy_count += 1
                    self.clock.sleep(min(5.0 * busy_count, 20.0))
                    continue
                self.fail(what, region, exc)
                return None
            except Exception as exc:  # a connection error, or anything else: record it and go on
                self.fail(what, region, exc)
                return None

    def raise_if_failed(self) -> None:
        """Raise :class:`CleanupError` listing every failure, if there was one."""
        if self.failures:
            raise CleanupError(self.failures)


def terminate_instances(ec2: Any, region: str, instance_ids: Iterable[str], attempts: Attempts) -> None:
    """Terminate the instances and wait until they are gone, so their security group can be deleted."""
    ids = sorted(set(instance_ids))
    if not ids:
        return
    # A just-launched id can be unknown to EC2 for a few seconds: it exists, so it is retried.
    attempts.call(
        f"terminate {', '.join(ids)}",
        region,
        ec2.terminate_instances,
        busy=("InvalidInstanceID.NotFound",),
        busy_attempts=12,
        InstanceIds=ids,
    )

    def terminated() -> bool | None:
        try:
            found = ec2.describe_instances(InstanceIds=ids)["Reservations"]
        except ClientError as exc:
            if error_code(exc) == "InvalidInstanceID.NotFound" or is_transient(exc):
                return None
            raise
        states = {i["State"]["Name"] for r in found for i in r["Instances"]}
        return True if states <= {"terminated"} else None

    try:
        wait_until(
            terminated, what=f"{', '.join(ids)} to terminate", timeout_seconds=900, clock=attempts.clock
        )
    except Exception as exc:
        attempts.fail(f"wait for {', '.join(ids)} to terminate", region, exc)


def delete_security_groups(ec2: Any, region: str, group_ids: Iterable[str], attempts: Attempts) -> None:
    """Delete the groups; a terminated instance's interface keeps one "in use" for a while, so that is waited out."""
    for group_id in sorted(set(group_ids)):
        attempts.call(
            f"delete security group {group_id}",
            region,
            ec2.delete_security_group,
            missing=("InvalidGroup.NotFound",),
            busy=("DependencyViolation",),
            busy_attempts=12,
            GroupId=group_id,
        )


def delete_volumes(ec2: Any, region: str, volume_ids: Iterable[str], attempts: Attempts) -> None:
    """Delete the volumes (a volume kept by ``delete_on_termination: false`` outlives the instance)."""
    for volume_id in sorted(set(volume_ids)):
        attempts.call(
            f"delete volume {volume_id}",
            region,
            ec2.delete_volume,
            missing=("InvalidVolume.NotFound",),
            busy=("VolumeInUse",),
            busy_attempts=12,
            VolumeId=volume_id,
        )


def delete_snapshots(ec2: Any, region: str, snapshot_ids: Iterable[str], attempts: Attempts) -> None:
    """Delete the snapshots; an image deregistered a moment ago can hold them for a few seconds."""
    for snapshot_id in sorted(set(snapshot_ids)):
        attempts.call(
            f"delete snapshot {snapshot_id}",
            region,
            ec2.delete_snapshot,
            missing=("InvalidSnapshot.NotFound",),
            busy=("InvalidSnapshot.InUse",),
            SnapshotId=snapshot_id,
        )


def delete_images(ec2: Any, region: str, image_ids: Iterable[str], attempts: Attempts) -> dict[str, set[str]]:
    """Deregister the images and delete the snapshots AWS made for them (and only those).

    Returns each image's snapshots as found, so a caller can look again at exactly those afterwards.
    """
    gone = ("InvalidAMIID.NotFound", "InvalidAMIID.Unavailable")
    found: dict[str, set[str]] = {}
    for image_id in sorted(set(image_ids)):
        snapshots = found[image_id] = set()
        described = attempts.call(
            f"describe {image_id}",
            region,
            ec2.describe_images,
            missing=gone,
            if_missing=_GONE,
            ImageIds=[image_id],
        )
        if described is not _GONE and described is not None:
            for image in described["Images"]:
                snapshots.update(image_snapshot_ids(image))
        made_for = attempts.call(
            f"find the snapshots of {image_id}",
            region,
            ec2.describe_snapshots,
            OwnerIds=["self"],
            Filters=[snapshot_description_filter(image_id)],
        )
        snapshots.update(s["SnapshotId"] for s in (made_for or {}).get("Snapshots", []))
        if described is _GONE or (described is not None and not described["Images"]):
            pass  # already deregistered; its snapshots may still be there
        elif (
            attempts.call(
                f"deregister {image_id}",
                region,
                ec2.deregister_image,
                missing=gone,
                if_missing=_GONE,
                ImageId=image_id,
            )
            is None
        ):
            # The image still holds its snapshots: deleting them could only fail "in use" after a minute of
            # retries each. They stay with the image, for the next run to remove together.
            continue
        delete_snapshots(ec2, region, snapshots, attempts)
    return found


def delete_iam(iam: Any, names: Iterable[str], attempts: Attempts, policy_arns: Sequence[str] = ()) -> None:
    """Delete temporary instance profiles and roles of these names, with everything attached to them.

    ``policy_arns`` are detached even when listing the role's policies fails.
    """
    for name in sorted(set(names)):
        profile = attempts.call(
            f"read instance profile {name}",
            GLOBAL,
            iam.get_instance_profile,
            missing=("NoSuchEntity",),
            if_missing=_GONE,
            InstanceProfileName=name,
        )
        if profile is not _GONE:
            roles = [r["RoleName"] for r in profile["InstanceProfile"]["Roles"]] if profile else [name]
            for role in roles:
                attempts.call(
                    f"remove role {role} from instance profile {name}",
                    GLOBAL,
                    iam.remove_role_from_instance_profile,
                    missing=("NoSuchEntity",),
                    InstanceProfileName=name,
                    RoleName=role,
                )
            attempts.call(
                f"delete instance profile {name}",
                GLOBAL,
                iam.delete_instance_profile,
                missing=("NoSuchEntity",),
                InstanceProfileName=name,
            )
        inline = attempts.call(
            f"list the inline policies of role {name}",
            GLOBAL,
            iam.list_role_policies,
            missing=("NoSuchEntity",),
            if_missing=_GONE,
            RoleName=name,
        )
        if inline is _GONE:
            continue
        for policy_name in (inline or {}).get("PolicyNames", []):
            attempts.call(
                f"delete policy {policy_name} of role {name}",
                GLOBAL,
                iam.delete_role_policy,
                missing=("NoSuchEntity",),
                RoleName=name,
                PolicyName=policy_name,
            )
        attached = attempts.call(
            f"list the policies attached to role {name}",
            GLOBAL,
            iam.list_attached_role_policies,
            missing=("NoSuchEntity",),
            RoleName=name,
        )
        arns = {p["PolicyArn"] for p in (attached or {}).get("AttachedPolicies", [])}
        for arn in sorted(arns | (set(policy_arns) if attached is None else set())):
            attempts.call(
                f"detach {arn} from role {name}",
                GLOBAL,
                iam.detach_role_policy,
                missing=("NoSuchEntity",),
                RoleName=name,
                PolicyArn=arn,
            )
        attempts.call(
            f"delete role {name}", GLOBAL, iam.delete_role, missing=("NoSuchEntity",), RoleName=name
        )


@dataclass(frozen=True, order=True)
class Leftover:
    """One resource a build made that still exists; ``region`` is ``global`` for IAM."""

    build_id: str
    region: str
    kind: str
    """``instance``, ``security-group``, ``volume``, ``image``, ``snapshot``, ``instance-profile`` or ``role``."""
    resource_id: str
    detail: str = ""


def _tags(item: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in item.get("Tags", [])}


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in client.get_paginator(operation).paginate(**kwargs):
        items.extend(page[key])
    return items


def find_leftovers(
    clients: ClientFactory, regions: Sequence[str], build_id: str | None = None, *, iam_region: str
) -> list[Leftover]:
    """What builds left in ``regions`` and in IAM: one build's (``build_id``) or every build's.

    Found by the build tag (instances, groups, volumes, incomplete images, snapshots no image of ours uses),
    by name (a group interrupted between its creation and its tags cannot be: groups are tagged at creation,
    but the name is checked too) and by the IAM path. A build that is running right now shows up as well.
    """
    tag_filter = (
        {"Name": f"tag:{BUILD_ID_TAG}", "Values": [build_id]}
        if build_id
        else {"Name": "tag-key", "Values": [BUILD_ID_TAG]}
    )
    group_name = f"{TEMP_PREFIX}{build_id or '*'}"

    def scan(region: str) -> list[Leftover]:
        ec2 = clients.ec2(region)
        found: list[Leftover] = []
        instances = _pages(
            ec2,
            "describe_instances",
            "Reservations",
            Filters=[tag_filter, {"Name": "instance-state-name", "Values": _LIVE_STATES}],
        )
        for reservation in instances:
            for instance in reservation["Instances"]:
                owner = _tags(instance).get(BUILD_ID_TAG, "")
                found.append(
                    Leftover(owner, region, "instance", instance["InstanceId"], instance["State"]["Name"])
                )
        groups = {
            g["GroupId"]: g
            for flt in (tag_filter, {"Name": "group-name", "Values": [group_name]})
            for g in _pages(ec2, "describe_security_groups", "SecurityGroups", Filters=[flt])
        }
        for group in groups.values():
            owner = _tags(group).get(BUILD_ID_TAG) or group["GroupName"].removeprefix(TEMP_PREFIX)
            found.append(Leftover(owner, region, "security-group", group["GroupId"], group["GroupName"]))
        for volume in _pages(ec2, "describe_volumes", "Volumes", Filters=[tag_filter]):
            found.append(
                Leftover(_tags(volume)[BUILD_ID_TAG], region, "volume", volume["VolumeId"], volume["State"])
            )
        images = ec2.describe_images(Owners=["self"], Filters=[tag_filter])["Images"]
        used: set[str] = set()
        for image in images:
            tags = _tags(image)
            used.update(image_snapshot_ids(image))
            if tags.get(BUILD_COMPLETE_TAG) == "false":
                found.append(
                    Leftover(tags[BUILD_ID_TAG], region, "image", image["ImageId"], image.get("Name", ""))
                )
        for snapshot in _pages(
            ec2, "describe_snapshots", "Snapshots", OwnerIds=["self"], Filters=[tag_filter]
        ):
            if snapshot["SnapshotId"] not in used:
                found.append(
                    Leftover(_tags(snapshot)[BUILD_ID_TAG], region, "snapshot", snapshot["SnapshotId"])
                )
        return found

    leftovers = [item for items in for_each_region(regions, scan).values() for item in items]
    iam = clients.client("iam", iam_region)
    for kind, operation, key, name_key in (
        ("instance-profile", "list_instance_profiles", "InstanceProfiles", "InstanceProfileName"),
        ("role", "list_roles", "Roles", "RoleName"),
    ):
        for item in _pages(iam, operation, key, PathPrefix=IAM_PATH):
            name = item[name_key]
            owner = name.removeprefix(TEMP_PREFIX)
            if name.startswith(TEMP_PREFIX) and (build_id is None or owner == build_id):
                leftovers.append(Leftover(owner, GLOBAL, kind, name))
    return sorted(set(leftovers))


def remove_leftovers(
    clients: ClientFactory, leftovers: Sequence[Leftover], attempts: Attempts, *, iam_region: str
) -> None:
    """Remove ``leftovers``: instances first (their groups and volumes wait for them), IAM last.

    Every region runs in parallel and every call is attempted; failures end up in ``attempts``.
    """
    by_region: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for item in leftovers:
        by_region[item.region][item.kind].add(item.resource_id)
    iam_names = by_region.pop(GLOBAL, {})

    def remove(region: str) -> None:
        kinds = by_region[region]
        try:
            ec2 = clients.ec2(region)
            terminate_instances(ec2, region, kinds["instance"], attempts)
            delete_security_groups(ec2, region, kinds["security-group"], attempts)
            delete_volumes(ec2, region, kinds["volume"], attempts)
            delete_images(ec2, region, kinds["image"], attempts)
            delete_snapshots(ec2, region, kinds["snapshot"], attempts)
        except Exception as exc:  # recorded, so that the other regions and IAM are still cleaned
            attempts.fail(f"clean up {region}", region, exc)
        if attempts.emit is not None:
            count = sum(len(ids) for ids in kinds.values())
            attempts.emit(BuildEvent("region", "cleanup", f"{count} resource(s) handled", region))

    for_each_region(sorted(by_region), remove)
    names = set(iam_names.get("instance-profile", set())) | set(iam_names.get("role", set()))
    if names:
        delete_iam(clients.client("iam", iam_region), names, attempts)


def cleanup_command(build_id: str, regions: Sequence[str]) -> str:
    """The exact command that removes what ``build_id`` left in ``regions``."""
    return f"sgarch ami cleanup --build-id {build_id} --regions {','.join(regions)}"
