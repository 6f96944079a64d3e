"""The downtime model of a migration: how long Sourcegraph is down while its data moves, from its size.

Pure arithmetic over stated rates. The rates are assumptions, not measurements, and say so wherever they are
shown (the plan and the generated page): a rehearsal from a snapshot is the real measurement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["MODEL", "RECLONE_USUAL_HOURS", "DowntimeEstimate", "DowntimeModel", "estimate_downtime"]

RECLONE_USUAL_HOURS = 6
"""Sourcegraph's own guide to moving data between deployments (``deploy/docker-compose/migrate``): after the
databases move, repositories are cloned again and indexes rebuilt, and "usually this process will not take
longer than 6 hours"; searches are slow or incomplete meanwhile."""


@dataclass(frozen=True)
class DowntimeModel:
    """The assumptions behind the downtime estimate. Rates are per GB of data as it sits on disk (what
    ``pg_database_size`` and ``du`` report), indexes included: the dump leaves indexes out and the restore
    rebuilds them, which is why restoring is the slowest part."""

    dump_gb_per_hour: float = 100.0
    """``pg_dump`` in custom format, one database at a time: compression on one core, not the disk, sets the
    pace (the smallest single-node data volume, gp3 at its 125 MiB/s baseline, reads about 440 GB an hour)."""
    transfer_gb_per_hour: float = 200.0
    """Each of the two copies through S3 (the source uploads, the target downloads), same region."""
    restore_gb_per_hour: float = 50.0
    """``pg_restore``: loading the rows, then building every index and checking every foreign key again."""
    verify_gb_per_hour: float = 400.0
    """Recomputing the manifest's SHA-256 sums on the target (row counts take seconds)."""
    fixed_minutes: int = 30
    """Stopping the writers and serving the maintenance page (5), starting Sourcegraph on the target after the
    restore (15) and switching DNS with a 60-second TTL (10)."""

    @property
    def minutes_per_gb(self) -> float:
        """Minutes of downtime each GB adds: dump, two transfers, restore and verification."""
        hours = (
            1 / self.dump_gb_per_hour
            + 2 / self.transfer_gb_per_hour
            + 1 / self.restore_gb_per_hour
            + 1 / self.verify_gb_per_hour
        )
        return hours * 60

    def assumption(self) -> str:
        """The model in one sentence, for the plan and the page."""
        return (
            f"pg_dump at {self.dump_gb_per_hour:g} GB/h, S3 upload and download at "
            f"{self.transfer_gb_per_hour:g} GB/h each, pg_restore at {self.restore_gb_per_hour:g} GB/h, "
            f"checksums at {self.verify_gb_per_hour:g} GB/h, plus {self.fixed_minutes} minutes fixed "
            f"({self.fixed_minutes} min + {self.minutes_per_gb:.2f} min per GB on disk); assumptions, not "
            "measurements: time a rehearsal from a snapshot and scale"
        )


MODEL = DowntimeModel()
"""The model every plan uses."""


@dataclass(frozen=True)
class DowntimeEstimate:
    """Downtime (maintenance mode on to writes back on) for ``data_gb``; ``minutes`` is None without a size."""

    data_gb: float | None
    minutes: int | None
    assumption: str
    reclone_hours: int = RECLONE_USUAL_HOURS

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "data_gb": self.data_gb,
            "minutes": self.minutes,
            "assumption": self.assumption,
            "reclone_usual_max_hours": self.reclone_hours,
        }


def estimate_downtime(data_gb: float | None, model: DowntimeModel = MODEL) -> DowntimeEstimate:
    """Minutes of downtime for ``data_gb`` GB (databases and blobs on disk), rounded up to 5 minutes."""
    if data_gb is None:
        return DowntimeEstimate(None, None, model.assumption())
    minutes = model.fixed_minutes + data_gb * model.minutes_per_gb
    return DowntimeEstimate(data_gb, int(math.ceil(minutes / 5) * 5), model.assumption())
