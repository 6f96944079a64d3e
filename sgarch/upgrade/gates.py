"""The hard gates of Sourcegraph upgrades, as data.

Three kinds, each with an id, a title and the reason (from Sourcegraph's upgrade and PostgreSQL docs):

- :class:`RequiredStop`: a jump from below ``applies_below`` to ``applies_to_at_or_above`` or later must
  pass through a release in ``[window_low, window_high)``; the planner inserts ``stop``.
- :class:`Prerequisite`: crossing ``crossing`` is allowed, after a check the planner turns into a step.
- :class:`Note`: something the admin should know for paths that cross ``crossing``; no step.

Two rules are not version windows and live in the planner next to the data they use:
multi-version upgrades start at :data:`MVU_MINIMUM`, and going back more than one minor needs a database
restore (:data:`DOWNGRADE_RESTORE`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sgarch.upgrade.versions import Version

__all__ = [
    "DOWNGRADE_RESTORE",
    "MVU_MINIMUM",
    "NOTES",
    "PREREQUISITES",
    "REQUIRED_STOPS",
    "GateRule",
    "Note",
    "Prerequisite",
    "RequiredStop",
]


@dataclass(frozen=True)
class RequiredStop:
    """A release window every path across a boundary must visit."""

    id: str
    title: str
    why: str
    applies_below: Version
    """The gate binds paths that start below this version..."""
    applies_to_at_or_above: Version
    """...and end at or above this one."""
    window_low: Version
    """A path satisfies the gate by visiting any release in [window_low, window_high)."""
    window_high: Version
    stop: Version
    """The release the planner stops at (the latest patch of the window's newest minor)."""
    after_stop: str
    """What to wait for at the stop before going on."""

    def binds(self, start: Version, end: Version) -> bool:
        """True when a direct hop ``start -> end`` would skip this stop."""
        inside = self.window_low <= start < self.window_high
        return start < self.applies_below and end >= self.applies_to_at_or_above and not inside

    def satisfied_by(self, version: Version) -> bool:
        """True when ``version`` lies in the stop window."""
        return self.window_low <= version < self.window_high


@dataclass(frozen=True)
class Prerequisite:
    """A check that must pass before a path crosses ``crossing``."""

    id: str
    title: str
    why: str
    crossing: Version
    check: str

    def crossed(self, start: Version, end: Version) -> bool:
        """True when the upgrade goes from below ``crossing`` to ``crossing`` or later."""
        return start < self.crossing <= end


@dataclass(frozen=True)
class Note:
    """Information for paths that cross ``crossing`` (and, with ``multi_version_only``, only for MVUs)."""

    id: str
    title: str
    why: str
    crossing: Version
    multi_version_only: bool = False

    def crossed(self, start: Version, end: Version) -> bool:
        """True when the upgrade goes from below ``crossing`` to ``crossing`` or later."""
        return start < self.crossing <= end


GateRule = RequiredStop | Prerequisite | Note

REQUIRED_STOPS: tuple[RequiredStop, ...] = (
    RequiredStop(
        id="pg16-migrator",
        title="5.9.x and older must stop at 5.10.3940 or 5.11.6271 before 6.x",
        why=(
            "migrator 6.0.0 and later no longer connects to PostgreSQL 12; the 5.10+ database images upgrade "
            "PostgreSQL 12 to 16 when they first start"
        ),
        applies_below=Version(5, 10, 0),
        applies_to_at_or_above=Version(6, 0, 0),
        window_low=Version(5, 10, 0),
        window_high=Version(6, 0, 0),
        stop=Version(5, 11, 6271),
        after_stop=(
            "let the databases finish their PostgreSQL 12 -> 16 upgrade (15 minutes to a couple of hours; "
            "do not interrupt it, it can corrupt the database) and confirm Sourcegraph runs 5.11.6271"
        ),
    ),
    RequiredStop(
        id="pg12-entrypoint-removed",
        title="5.x must stop at a 6.x release before 7.x",
        why=(
            "7.0.0 removed the entrypoint that upgrades PostgreSQL 12 to 16; only 5.10-6.x images still run "
            "it, and sgarch cannot see whether your databases finished that upgrade"
        ),
        applies_below=Version(6, 0, 0),
        applies_to_at_or_above=Version(7, 0, 0),
        window_low=Version(6, 0, 0),
        window_high=Version(7, 0, 0),
        stop=Version(6, 12, 5040),
        after_stop="confirm every database reports PostgreSQL 16 (SELECT version();) before going to 7.x",
    ),
)

PREREQUISITES: tuple[Prerequisite, ...] = (
    Prerequisite(
        id="pg16-required",
        title="PostgreSQL 16 is required from 6.0.0",
        why="Sourcegraph 6.0.0 and later refuse to connect to PostgreSQL 12 or older",
        crossing=Version(6, 0, 0),
        check=(
            "Built-in databases: the 5.10+ images upgraded them (check `SELECT version();` in pgsql, "
            "codeintel-db and codeinsights-db). External databases (RDS): upgrade the engine to PostgreSQL "
            "16 first (aws rds modify-db-instance --engine-version 16.x --allow-major-version-upgrade)"
        ),
    ),
)

NOTES: tuple[Note, ...] = (
    Note(
        id="automatic-mvu-removed",
        title="Automatic multi-version upgrades are gone from 6.12.0",
        why="the frontend-driven upgrade was removed in 6.12.0; run migrator `upgrade` as the steps show",
        crossing=Version(6, 12, 0),
        multi_version_only=True,
    ),
    Note(
        id="retired-methods",
        title="7.0.0 removed the AMI (k3s) and single-container deployments",
        why=(
            "sgarch single-node runs Docker Compose and EKS runs the Helm chart, so neither is affected; "
            "an instance still on Sourcegraph's own AMI must move its data to one of them first"
        ),
        crossing=Version(7, 0, 0),
    ),
)

#: Multi-version upgrades (migrator ``upgrade``) work from this release on; older ones go one minor at a time.
MVU_MINIMUM = Version(3, 20, 0)

#: Id of the rule: going back more than one minor needs the databases restored from a snapshot.
DOWNGRADE_RESTORE = "downgrade-restore"
