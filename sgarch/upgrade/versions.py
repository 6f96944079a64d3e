"""Sourcegraph versions: parsing, ordering and the list of minor releases the planner knows.

A version is ``major.minor.patch``; the patch carries the build (``6.12.5040``) and never changes the upgrade
type. The planner counts minor releases between two versions, so it needs to know which minors exist: the
release after ``5.11`` is ``6.0`` (one step, a standard upgrade), not ``5.12``. That list is data here;
add the newest minor when Sourcegraph ships one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

from sgarch.errors import ConfigError

__all__ = [
    "RELEASED_MINORS",
    "Version",
    "known_minors",
    "minor_distance",
    "minor_index",
    "newest_known_minor",
    "parse_version",
]

#: The newest minor of every major release, oldest major first: 3.0-3.43, 4.0-4.5, 5.0-5.11, 6.0-6.12,
#: 7.0-7.6 (release tags of deploy-sourcegraph-docker and the Helm chart, August 2026).
RELEASED_MINORS: tuple[tuple[int, int], ...] = ((3, 43), (4, 5), (5, 11), (6, 12), (7, 6))

_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")


@total_ordering
@dataclass(frozen=True)
class Version:
    """One Sourcegraph release, ordered by (major, minor, patch)."""

    major: int
    minor: int
    patch: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.key < other.key

    @property
    def key(self) -> tuple[int, int, int]:
        """The sort key."""
        return (self.major, self.minor, self.patch)

    @property
    def tag(self) -> str:
        """The release tag and image tag form with a leading ``v`` (``v6.9.1277``), as migrator flags take it."""
        return f"v{self}"

    @property
    def series(self) -> tuple[int, int]:
        """``(major, minor)``: the minor release this patch belongs to."""
        return (self.major, self.minor)


def known_minors() -> tuple[tuple[int, int], ...]:
    """Every known minor release in order: ``(3, 0), (3, 1), ..., (7, 6)``."""
    return tuple((major, minor) for major, newest in RELEASED_MINORS for minor in range(newest + 1))


_INDEX = {series: position for position, series in enumerate(known_minors())}


def newest_known_minor() -> tuple[int, int]:
    """The newest minor release this sgarch knows."""
    return RELEASED_MINORS[-1]


def minor_index(version: Version) -> int:
    """Position of the version's minor in the release sequence; 5.11 and 6.0 are neighbours."""
    return _INDEX[version.series]


def minor_distance(start: Version, end: Version) -> int:
    """Minor releases from ``start`` to ``end``: 1 for 5.11 -> 6.0, 0 for a patch change, negative going back."""
    return minor_index(end) - minor_index(start)


def parse_version(text: str, field: str = "version") -> Version:
    """Parse ``7.5.4453`` or ``v7.5.4453`` into a known :class:`Version`.

    Raises :class:`ConfigError` naming ``field`` (the flag or key the user wrote) for a malformed version or
    one whose minor release does not exist (``5.12.0``, ``8.0.0``).
    """
    match = _VERSION.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ConfigError(
            field,
            "a Sourcegraph version like 7.5.4453 (major.minor.patch, optional leading v)",
            text,
            "write the full release, patch included, as it appears on the releases page",
        )
    version = Version(int(match[1]), int(match[2]), int(match[3]))
    if version.series not in _INDEX:
        first, newest = known_minors()[0], newest_known_minor()
        raise ConfigError(
            field,
            f"a released Sourcegraph version ({first[0]}.{first[1]} to {newest[0]}.{newest[1]})",
            text,
            f"check the version; minor {version.major}.{version.minor} does not exist in the releases this "
            "sgarch knows (upgrade sgarch if it is newer)",
        )
    return version
