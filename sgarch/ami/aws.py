"""boto3 plumbing shared by the builder, ``list``/``prune`` and ``publish``.

Region work runs in parallel threads (:func:`for_each_region`); :class:`ClientFactory` hands each region
its own client.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import boto3
import botocore.config
import botocore.loaders
import botocore.session
from botocore.exceptions import ClientError

from sgarch.errors import AmiBuildError, ConfigError

__all__ = [
    "BUILD_COMPLETE_TAG",
    "BUILD_ID_TAG",
    "IAM_PATH",
    "IMAGE_TAG",
    "SPEC_HASH_TAG",
    "VERSION_TAG",
    "ClientFactory",
    "error_code",
    "for_each_region",
    "image_snapshot_ids",
    "is_transient",
    "snapshot_description_filter",
    "tag_list",
]

#: Every temporary resource and every image carries the build's uuid here; cleanup deletes nothing else.
BUILD_ID_TAG = "sgarch:build-id"
#: Image family name (the spec's ``name``); ``list`` and ``prune`` group by it.
IMAGE_TAG = "sgarch:image"
VERSION_TAG = "sgarch:version"
SPEC_HASH_TAG = "sgarch:spec-hash"
#: ``false`` from CreateImage/CopyImage on; the build's last step sets ``true``. Only a ``true`` image is built:
#: AWS finishes an image even when the build that asked for it died, so "available" proves nothing.
BUILD_COMPLETE_TAG = "sgarch:build-complete"
#: IAM path of every temporary role and instance profile; ``sgarch ami cleanup`` lists IAM by it.
IAM_PATH = "/sgarch-build/"
# Answers that mean "try again": throttling and server-side faults (botocore retries them first; cleanup
# retries again after that, because giving up leaves billable resources behind).
_TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "TooManyRequestsException",
        "InternalError",
        "InternalFailure",
        "ServiceFailure",
        "ServiceUnavailable",
        "Unavailable",
    }
)

T = TypeVar("T")
# Service models are read-only JSON; sharing one loader spares every factory from parsing the
# multi-megabyte EC2 model again (about 0.2 s each).
_LOADER = botocore.loaders.create_loader()
Hook = tuple[str, Callable[..., Any]]


class ClientFactory:
    """Creates boto3 clients, one per (service, region), shared by the threads that work on that region.

    boto3 clients are thread-safe but sessions are not, so clients are created under a lock from one
    session and cached; the parallel region copies each use their own region's client. ``endpoint_url``
    sends every call to a local emulator (``--endpoint-url``); ``event_hooks`` are ``(event_name, handler)``
    pairs registered on each new client, which is how tests read the exact request parameters.
    """

    def __init__(
        self,
        endpoint_url: str | None = None,
        profile_name: str | None = None,
        event_hooks: Sequence[Hook] = (),
        max_attempts: int = 8,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.profile_name = profile_name
        self.event_hooks = tuple(event_hooks)
        self._config = botocore.config.Config(
            retries={"mode": "standard", "max_attempts": max_attempts},
            user_agent_extra="sgarch-ami",
            max_pool_connections=32,
        )
        self._lock = threading.Lock()
        self._session: boto3.session.Session | None = None
        self._clients: dict[tuple[str, str], Any] = {}

    def client(self, service: str, region: str) -> Any:
        """The client for ``service`` in ``region`` (created on first use)."""
        key = (service, region)
        client = self._clients.get(key)
        if client is not None:
            return client
        with self._lock:
            if key not in self._clients:
                if self._session is None:
                    core = botocore.session.Session(profile=self.profile_name)
                    core.register_component("data_loader", _LOADER)
                    self._session = boto3.session.Session(botocore_session=core)
                client = self._session.client(
                    service, region_name=region, endpoint_url=self.endpoint_url, config=self._config
                )
                for event_name, handler in self.event_hooks:
                    client.meta.events.register(event_name, handler)
                self._clients[key] = client
            return self._clients[key]

    def ec2(self, region: str) -> Any:
        """EC2 client in ``region``."""
        return self.client("ec2", region)


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ``ClientError``, or "" for anything else."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def is_transient(exc: BaseException) -> bool:
    """True for a throttle or a 5xx answer: the same call may well succeed a moment later."""
    if not isinstance(exc, ClientError):
        return False
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return error_code(exc) in _TRANSIENT_CODES or status >= 500


def for_each_region(
    regions: Iterable[str],
    work: Callable[[str], T],
    *,
    cancelled: threading.Event | None = None,
) -> dict[str, T]:
    """Run ``work(region)`` for every region in parallel; return results or raise one error naming all failures.

    Every region runs to completion even when another fails, so the caller knows exactly what exists. On
    ``KeyboardInterrupt`` the ``cancelled`` event is set and in-flight work is awaited before re-raising, so
    no copy is started after cleanup has begun.
    """
    regions = list(regions)
    if not regions:
        return {}
    results: dict[str, T] = {}
    errors: dict[str, BaseException] = {}
    pool = ThreadPoolExecutor(max_workers=min(len(regions), 32), thread_name_prefix="sgarch-region")
    try:
        futures = {region: pool.submit(work, region) for region in regions}
        for region, future in futures.items():
            try:
                results[region] = future.result()
            except Exception as exc:
                errors[region] = exc
    except BaseException:
        if cancelled is not None:
            cancelled.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    if errors:
        config_errors = [e for e in errors.values() if isinstance(e, ConfigError)]
        if config_errors:
            # Bad input stays bad input (exit status 2), whichever region noticed it first.
            raise config_errors[0]
        detail = "; ".join(
            f"{region}: {' '.join(str(exc).split())}" for region, exc in sorted(errors.items())
        )
        raise AmiBuildError(f"{len(errors)} of {len(regions)} regions failed: {detail}")
    return results


def image_snapshot_ids(image: dict[str, Any]) -> list[str]:
    """Snapshot ids in an image's block device mappings."""
    return [
        m["Ebs"]["SnapshotId"]
        for m in image.get("BlockDeviceMappings", [])
        if m.get("Ebs", {}).get("SnapshotId")
    ]


def snapshot_description_filter(image_id: str) -> dict[str, Any]:
    """A DescribeSnapshots filter matching the snapshots AWS made *for* ``image_id``, and nothing else.

    AWS describes them "Created by CreateImage(i-…) for ami-X" and "Copied for DestinationAmi ami-X from
    SourceAmi ami-Y …". A pattern like ``*ami-X*`` would also match a user's own copy of ami-X ("Copied for
    DestinationAmi ami-USER from SourceAmi ami-X"), whose snapshots are not ours to delete.
    """
    return {
        "Name": "description",
        "Values": [
            f"Created by CreateImage(*) for {image_id}",
            f"Copied for DestinationAmi {image_id} from *",
        ],
    }


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """``{"k": "v"}`` as the EC2 ``[{"Key": "k", "Value": "v"}]`` form, sorted for stable requests."""
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]
