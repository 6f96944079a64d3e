"""What the build steps share: the CLI's options and the state every step reads and records into."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sgarch.ami.aws import (
    BUILD_COMPLETE_TAG,
    BUILD_ID_TAG,
    IMAGE_TAG,
    SPEC_HASH_TAG,
    VERSION_TAG,
    ClientFactory,
    tag_list,
)
from sgarch.ami.cleanup import TEMP_PREFIX, Attempts
from sgarch.ami.runner import BuildEvent, Clock, EventSink, wait_until
from sgarch.ami.spec import LoadedSpec

__all__ = ["BuildOptions", "BuildState", "NoCleanup"]


@dataclass(frozen=True)
class BuildOptions:
    """How to run one build (the CLI flags); the spec says *what* to build."""

    source_ami: str | None = None
    """``--source-ami``: skip the filter and start from this image."""
    force: bool = False
    """``--force``: build even when an image of the same spec hash exists."""
    manifest_path: Path | None = None
    """Where the manifest goes. Default: ``<name>-<version>.manifest.json`` in the working directory."""
    check_quota: bool = True


@dataclass
class BuildState:
    """Everything the steps share. Resource ids are recorded the moment they exist, for cleanup."""

    loaded: LoadedSpec
    options: BuildOptions
    clients: ClientFactory
    clock: Clock
    emit: EventSink
    build_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    succeeded: bool = False
    finished_early: bool = False
    cancelled: threading.Event = field(default_factory=threading.Event)
    account_id: str = ""
    partition: str = "aws"
    existing_image_id: str | None = None
    source_image: dict[str, Any] = field(default_factory=dict)
    subnet_id: str | None = None
    vpc_id: str | None = None
    associate_public_ip: bool = False
    """The subnet routes to the internet gateway but gives no public IP: ask for one, or SSM is unreachable."""
    security_group_id: str | None = None
    iam_name: str | None = None
    instance_id: str | None = None
    images: dict[str, str] = field(default_factory=dict)
    manifest_path: Path | None = None
    spec_hash: str = field(init=False)
    """Hash of the effective spec and its scripts; identifies identical builds."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.spec_hash = self.loaded.spec_hash

    @property
    def ami_name(self) -> str:
        """``<name>-<version>-<UTC start>-<build id prefix>``: unique per build, sortable, a valid AMI name."""
        spec = self.loaded.spec
        return f"{spec.name}-{spec.sourcegraph_version}-{self.started_at:%Y%m%dT%H%M%SZ}-{self.build_id[:8]}"

    @property
    def temp_name(self) -> str:
        """Name of the temporary group, role and profile; IAM policies can scope ``sgarch-build-*``."""
        return f"{TEMP_PREFIX}{self.build_id}"

    def image_tags(self) -> dict[str, str]:
        """Tags on every image and snapshot, from creation on: the spec's, then sgarch's own.

        ``sgarch:build-complete`` starts ``false``; the manifest step sets it ``true`` last of all.
        """
        spec = self.loaded.spec
        return {
            **spec.tags,
            "Name": self.ami_name,
            IMAGE_TAG: spec.name,
            VERSION_TAG: spec.sourcegraph_version,
            SPEC_HASH_TAG: self.spec_hash,
            BUILD_ID_TAG: self.build_id,
            BUILD_COMPLETE_TAG: "false",
        }

    def image_tag_specifications(self) -> list[dict[str, Any]]:
        """TagSpecifications of CreateImage and CopyImage: the image *and* its snapshots, at creation."""
        tags = tag_list(self.image_tags())
        return [{"ResourceType": "image", "Tags": tags}, {"ResourceType": "snapshot", "Tags": tags}]

    def temp_tags(self, what: str) -> list[dict[str, str]]:
        """Tags on temporary resources."""
        return tag_list({"Name": f"{self.temp_name} {what}", BUILD_ID_TAG: self.build_id})

    def record_image(self, region: str, image_id: str) -> None:
        """Remember an image the moment AWS returns its id (thread-safe; copies run in parallel)."""
        with self._lock:
            self.images[region] = image_id

    def attempts(self) -> Attempts:
        """A fresh cleanup recorder on this build's clock."""
        return Attempts(self.clock, self.emit)

    def wait(self, check: Callable[[], Any], what: str, timeout_seconds: int) -> Any:
        """:func:`wait_until` with the spec's polling cadence and this build's clock and cancel flag."""
        poll = self.loaded.spec.poll
        return wait_until(
            check,
            what=what,
            timeout_seconds=timeout_seconds,
            clock=self.clock,
            initial_delay_seconds=poll.initial_delay_seconds,
            max_delay_seconds=poll.max_delay_seconds,
            backoff=poll.backoff,
            cancelled=self.cancelled,
        )

    def info(self, step: str, message: str) -> None:
        """Emit an info line for ``step``."""
        self.emit(BuildEvent("info", step, message))


class NoCleanup:
    """Base of the steps that create nothing."""

    changes: tuple[str, ...] = ()
    """The AWS calls ``run`` makes that create or change something (``service.Operation``)."""

    def cleanup(self, state: BuildState) -> None:
        """Nothing to undo."""
