"""What every doctor check shares: the finding it returns, the context it reads, and the data volume's paths.

The checks live in modules by what they look at (the instance, the network, the data volume, the version
marker); :mod:`sgarch.doctor.checks` lists them in report order and runs them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from sgarch.host import DATA_DEVICE_NAME, DATA_MOUNT_POINT
from sgarch.upgrade.aws import error_code
from sgarch.upgrade.outputs import StackOutputs

__all__ = [
    "DATA_DEVICE_NAME",
    "DATA_MOUNT",
    "DoctorContext",
    "Finding",
    "Status",
    "aware",
    "tags_of",
]

# Where the single-node component attaches the data volume, and where boot.sh mounts it: the host's own
# constants, so the doctor checks what the component and the boot script do.
DATA_MOUNT = DATA_MOUNT_POINT


class Status(str, Enum):
    """Outcome of one check; only FAIL makes ``doctor`` exit 1."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"
    UNKNOWN = "could not check"


@dataclass(frozen=True)
class Finding:
    """One line of the doctor report: the check id, its status, what was found and how to fix it."""

    check: str
    status: Status
    summary: str
    fix: str = ""

    def line(self) -> str:
        """``fail  data-volume-encrypted  vol-1 is not encrypted. Fix: ...``"""
        text = f"{self.status.value:<5}  {self.check}: {self.summary}"
        return f"{text} Fix: {self.fix}" if self.fix else text


@dataclass
class DoctorContext:
    """What the checks share: the outputs, the clients, a clock and a cache of AWS answers."""

    outputs: StackOutputs
    region: str
    ec2: Any
    ssm: Any
    cloudwatch: Any
    elbv2: Any
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
    sleep: Callable[[float], None] = time.sleep
    ssm_poll_seconds: float = 2.0
    ssm_timeout_seconds: float = 60.0
    ssm_online: bool | None = None
    """Set by the ssm-reachability check; None until it ran or when it could not tell."""
    _cache: dict[str, Any] = field(default_factory=dict)

    @property
    def instance_id(self) -> str:
        """The instance from the outputs (required by ``doctor``)."""
        return self.outputs.instance_id or ""

    @property
    def volume_id(self) -> str:
        """The data volume from the outputs (required by ``doctor``)."""
        return self.outputs.data_volume_id or ""

    def _cached(self, key: str, fetch: Callable[[], Any]) -> Any:
        # Errors are cached too, so a forbidden call fails every dependent check the same way, once.
        if key not in self._cache:
            try:
                self._cache[key] = ("ok", fetch())
            except Exception as exc:
                self._cache[key] = ("error", exc)
        kind, value = self._cache[key]
        if kind == "error":
            raise value
        return value

    def instance(self) -> dict[str, Any] | None:
        """The instance description, or None when it does not exist."""

        def fetch() -> dict[str, Any] | None:
            try:
                found = self.ec2.describe_instances(InstanceIds=[self.instance_id])
            except Exception as exc:
                if error_code(exc).startswith("InvalidInstanceID"):
                    return None
                raise
            for reservation in found.get("Reservations", []):
                for instance in reservation.get("Instances", []):
                    return dict(instance)
            return None

        result: dict[str, Any] | None = self._cached("instance", fetch)
        return result

    def volume(self) -> dict[str, Any] | None:
        """The data volume description, or None when it does not exist."""

        def fetch() -> dict[str, Any] | None:
            try:
                found = self.ec2.describe_volumes(VolumeIds=[self.volume_id])
            except Exception as exc:
                if error_code(exc).startswith("InvalidVolume"):
                    return None
                raise
            volumes = found.get("Volumes", [])
            return dict(volumes[0]) if volumes else None

        result: dict[str, Any] | None = self._cached("volume", fetch)
        return result

    def state(self) -> str | None:
        """The instance state name (running, stopped...), None when it does not exist."""
        instance = self.instance()
        return None if instance is None else str(instance.get("State", {}).get("Name", "unknown"))


def tags_of(resource: dict[str, Any]) -> dict[str, str]:
    """An EC2 description's ``Tags`` list as a dict."""
    return {t.get("Key", ""): t.get("Value", "") for t in resource.get("Tags", [])}


def aware(value: Any) -> datetime | None:
    """A timestamp from boto3 as an aware UTC datetime; None when it is not a datetime (moto may omit it)."""
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
