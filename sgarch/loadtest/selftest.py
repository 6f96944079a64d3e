"""How much load this machine's k6 can generate: a short run against :class:`FakeSourcegraph`.

A load test measures the slower of two things, the instance and the load generator. The self-test runs the
``stress`` traffic mix in a closed loop (no think time) against a stand-in that answers at once, so the only
limit left is this machine: requests per second, and how much CPU k6 spent per request. The tier table then
says how many requests per second each tier's ``load`` profile asks for at its peak, and so whether this
machine can drive it.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sgarch.loadtest.plan import build_plan
from sgarch.loadtest.profiles import THINK_TIME_SECONDS, Profile, k6_duration
from sgarch.loadtest.runner import RunResult, run_plan
from sgarch.tiers import TIERS, Tier

__all__ = ["HIGHLIGHTS_PER_SEARCH", "SelfTestResult", "load_peak_requests_per_second", "measure_throughput"]

HIGHLIGHTS_PER_SEARCH = 10
"""Highlight follow-ups per search at most (``display=10``): the worst case a real instance produces."""


def load_peak_requests_per_second(tier: Tier) -> float:
    """Requests per second the ``load`` profile sends during its hold at full size, worst case.

    Each virtual user sends one search and up to ten highlight requests per iteration, and thinks for 45 s
    on average (uniform 0–60 s plus 0–30 s).
    """
    mean_think = sum(THINK_TIME_SECONDS) / 2
    return TIERS[tier].concurrent_users * (1 + HIGHLIGHTS_PER_SEARCH) / mean_think


@dataclass(frozen=True)
class SelfTestResult:
    """One self-test: what k6 sustained and what it cost."""

    vus: int
    seconds: float
    requests: int
    requests_per_second: float
    k6_cpu_percent: float
    k6_cpu_ms_per_request: float
    k6_max_rss_mb: float
    server_cpu_percent: float
    """CPU of this Python process (the stand-in) as a share of one core."""
    failed_requests: int
    run: RunResult

    def k6_cores_for(self, tier: Tier) -> float:
        """k6 CPU cores the ``load`` profile of ``tier`` would need, at this machine's cost per request."""
        return load_peak_requests_per_second(tier) * self.k6_cpu_ms_per_request / 1000


def measure_throughput(
    vus: int = 20,
    seconds: float = 10.0,
    out_dir: Path | None = None,
    *,
    latency_seconds: float = 0.0,
) -> SelfTestResult:
    """Drive :class:`FakeSourcegraph` with ``vus`` looping virtual users for ``seconds``; bounded in time."""
    from sgarch.testing.fake_sourcegraph import FakeSourcegraph

    if not 1 <= vus <= 2_000:
        raise ValueError(f"vus must be between 1 and 2000, got {vus}")
    if not 1.0 <= seconds <= 600.0:
        raise ValueError(f"seconds must be between 1 and 600, got {seconds}")
    kinds = ("literal", "regexp", "structural", "unindexed", "highlight")
    with FakeSourcegraph(latency_seconds=dict.fromkeys(kinds, latency_seconds)) as fake:
        plan = build_plan(fake.url, Tier.XS, Profile.STRESS, local_only=True)
        # Closed loop: every VU repeats the stress mix with no think time for a fixed duration.
        scenario = {
            "executor": "constant-vus",
            "vus": vus,
            "duration": k6_duration(seconds),
            "gracefulStop": "2s",
            "exec": "stress",
        }
        plan = dataclasses.replace(plan, vus=vus, extra_options={"scenarios": {"selftest": scenario}})
        cpu_before = time.process_time()
        with tempfile.TemporaryDirectory(prefix="sgarch-selftest-") as tmp:
            run = run_plan(plan, fake.token, out_dir or Path(tmp), timeout_seconds=seconds + 60)
        server_cpu = time.process_time() - cpu_before
    requests = run.report.overall_requests
    failed = sum(round(r.requests * (1 - (r.success_rate or 0))) for r in run.report.rows)
    rate = run.requests_per_second or 0.0
    return SelfTestResult(
        vus=vus,
        seconds=seconds,
        requests=requests,
        requests_per_second=rate,
        k6_cpu_percent=run.k6_cpu_percent,
        k6_cpu_ms_per_request=1000 * run.k6_cpu_seconds / requests if requests else 0.0,
        k6_max_rss_mb=run.k6_max_rss_mb,
        server_cpu_percent=100 * server_cpu / run.wall_seconds if run.wall_seconds else 0.0,
        failed_requests=failed,
        run=run,
    )
