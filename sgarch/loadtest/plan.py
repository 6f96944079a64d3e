"""A load-test plan: everything the k6 script needs, computed in Python and handed over as one JSON file.

The plan holds no secret. The access token reaches k6 only through its environment (``SGARCH_TOKEN``), so
``plan.json`` can be kept next to the report and shared.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sgarch import __version__
from sgarch.errors import ConfigError
from sgarch.loadtest.profiles import (
    REQUEST_TIMEOUT_SECONDS,
    STRESS_MAX_SECONDS,
    THINK_TIME_SECONDS,
    Profile,
    QueryClass,
    SearchType,
    Stage,
    Threshold,
    check_scale,
    k6_duration,
    k6_thresholds,
    scaled_stages,
    search_repetitions,
    thresholds_for,
    virtual_users,
)
from sgarch.loadtest.queries import DEFAULT_QUERIES, QuerySet
from sgarch.tiers import Tier, get_tier

__all__ = ["LOOPBACK_ONLY_BLOCKLIST", "SUMMARY_TREND_STATS", "LoadPlan", "build_plan", "check_url"]

SUMMARY_TREND_STATS = ("avg", "min", "med", "max", "p(90)", "p(95)", "p(99)", "count")
"""Statistics k6 keeps for every latency metric; the report shows ``med`` and ``p(95)``."""

GRACEFUL_STOP_SECONDS = 30.0
"""Time k6 gives running iterations to finish when a stage or the run ends (scaled with the stages)."""


def _loopback_only() -> tuple[str, ...]:
    everything = ipaddress.ip_network("0.0.0.0/0")
    allowed = ipaddress.ip_network("127.0.0.0/8")
    blocked = sorted(everything.address_exclude(allowed))  # type: ignore[arg-type]
    return (*(str(n) for n in blocked), "::/0")


LOOPBACK_ONLY_BLOCKLIST: tuple[str, ...] = _loopback_only()
"""k6 ``blacklistIPs`` that leave only 127.0.0.0/8 reachable: the self-test and the tests use it, so a
mistake in a URL cannot send load anywhere else."""


def check_url(url: str, flag: str = "--url") -> str:
    """Validate the instance URL: http or https, a host, no credentials, query or fragment."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port that is not a number or is out of range
    except ValueError as exc:
        raise ConfigError(
            flag, "an http:// or https:// URL", url, "e.g. https://sourcegraph.example.com"
        ) from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            flag, "an http:// or https:// URL with a host", url, "e.g. https://sourcegraph.example.com"
        )
    if parts.username or parts.password:
        raise ConfigError(
            flag, "a URL without credentials", "<redacted>", "pass the access token with --token-env instead"
        )
    if parts.query or parts.fragment:
        raise ConfigError(flag, "a URL without a query or fragment", url, "give the instance's root URL")
    return url.rstrip("/")


@dataclass(frozen=True)
class LoadPlan:
    """One run, fully decided: tier, profile, scale, stages, thresholds and queries."""

    url: str
    tier: Tier
    profile: Profile
    scale: float
    duration_scale: float
    vus: int
    full_vus: int
    stages: tuple[Stage, ...]
    thresholds: tuple[Threshold, ...]
    queries: QuerySet
    rows: tuple[tuple[SearchType, QueryClass | None], ...]
    think_time_seconds: tuple[float, float]
    repetitions: int
    local_only: bool = False
    extra_options: dict[str, Any] = field(default_factory=dict)

    @property
    def full_size(self) -> bool:
        """True when neither the virtual users nor the stage lengths are scaled down."""
        return self.scale == 1.0 and self.duration_scale == 1.0

    @property
    def planned_seconds(self) -> float:
        """The longest the scenario may run (stages plus k6's graceful stop)."""
        return sum(s.seconds for s in self.stages) + 2 * self._graceful_seconds

    @property
    def _graceful_seconds(self) -> float:
        return max(1.0, GRACEFUL_STOP_SECONDS * self.duration_scale)

    def k6_options(self) -> dict[str, Any]:
        """The ``options`` object the k6 script exports."""
        graceful = k6_duration(self._graceful_seconds)
        scenario: dict[str, Any]
        if self.profile is Profile.LOAD:
            scenario = {
                "executor": "ramping-vus",
                "startVUs": 0,
                "stages": [{"duration": k6_duration(s.seconds), "target": s.target_vus} for s in self.stages],
                "gracefulRampDown": graceful,
                "gracefulStop": graceful,
                "exec": "load",
            }
        elif self.profile is Profile.STRESS:
            scenario = {
                "executor": "per-vu-iterations",
                "vus": self.vus,
                "iterations": 1,
                "maxDuration": k6_duration(self.stages[0].seconds),
                "gracefulStop": graceful,
                "exec": "stress",
            }
        else:
            scenario = {
                "executor": "shared-iterations",
                "vus": 1,
                "iterations": self.repetitions,
                "maxDuration": k6_duration(self.stages[0].seconds),
                "gracefulStop": graceful,
                "exec": "search",
            }
        abort_delay = self.stages[0].seconds if self.profile is Profile.LOAD else STRESS_MAX_SECONDS
        options: dict[str, Any] = {
            "scenarios": {self.profile.value: scenario},
            "thresholds": k6_thresholds(self.thresholds, abort_delay),
            "summaryTrendStats": list(SUMMARY_TREND_STATS),
            "userAgent": f"sgarch-loadtest/{__version__}",
            "setupTimeout": "30s",
            "teardownTimeout": "30s",
        }
        if self.local_only:
            options["blacklistIPs"] = list(LOOPBACK_ONLY_BLOCKLIST)
        options.update(self.extra_options)
        return options

    def to_k6(self, summary_path: Path) -> dict[str, Any]:
        """The plan file the k6 script reads (no secrets)."""
        return {
            "url": self.url,
            "profile": self.profile.value,
            "options": self.k6_options(),
            "queries": self.queries.for_k6(),
            "think_time_seconds": list(self.think_time_seconds),
            "request_timeout": k6_duration(REQUEST_TIMEOUT_SECONDS),
            "summary_path": str(summary_path),
        }

    def write(self, path: Path, summary_path: Path) -> Path:
        """Write the plan file for k6."""
        path.write_text(json.dumps(self.to_k6(summary_path), indent=2) + "\n", encoding="utf-8")
        return path


def build_plan(
    url: str,
    tier: Tier | str,
    profile: Profile | str = Profile.LOAD,
    *,
    scale: float = 1.0,
    duration_scale: float = 1.0,
    queries: QuerySet | None = None,
    local_only: bool = False,
) -> LoadPlan:
    """Decide a run. Raises :class:`ConfigError` (naming the CLI flag) for any bad input."""
    url = check_url(url)
    try:
        spec = get_tier(tier)
    except ConfigError as exc:
        raise exc.renamed({"tier": "--tier"}) from None
    prof = _profile(profile)
    scale = check_scale(scale, "--scale")
    duration_scale = check_scale(duration_scale, "--duration-scale")
    queries = queries or DEFAULT_QUERIES
    vus = virtual_users(spec, prof, scale)
    rows: tuple[tuple[SearchType, QueryClass | None], ...]
    if prof is Profile.SEARCH:
        rows = tuple(queries.rows())
    else:
        rows = (*((t, None) for t in queries.search_types()), (SearchType.HIGHLIGHT, None))
    think = (0.0, 0.0)
    if prof is Profile.LOAD:
        think = (THINK_TIME_SECONDS[0] * duration_scale, THINK_TIME_SECONDS[1] * duration_scale)
    return LoadPlan(
        url=url,
        tier=spec.tier,
        profile=prof,
        scale=scale,
        duration_scale=duration_scale,
        vus=vus,
        full_vus=virtual_users(spec, prof, 1.0),
        stages=scaled_stages(prof, vus, duration_scale),
        thresholds=thresholds_for(prof, rows),
        queries=queries,
        rows=rows,
        think_time_seconds=think,
        repetitions=search_repetitions(duration_scale),
        local_only=local_only,
    )


def _profile(value: Profile | str) -> Profile:
    if isinstance(value, Profile):
        return value
    try:
        return Profile(str(value).strip().lower())
    except ValueError:
        raise ConfigError(
            "--profile", f"one of {', '.join(p.value for p in Profile)}", value, "load is the default"
        ) from None
