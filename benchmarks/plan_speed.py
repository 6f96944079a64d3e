"""How long `sgarch plan` takes: one cold plan of stacks/single-node (in a fresh process, as a user runs it)
and a warm plan of every single-node tier in one process. Target: one plan under 3 s on a 2-core machine.

Run: .venv/bin/python benchmarks/plan_speed.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STACK = ROOT / "stacks" / "single-node"
TIERS = ("XS", "S", "M", "L", "XL")


def cold_plan_seconds(runs: int = 3) -> list[float]:
    """Wall time of `sgarch plan stacks/single-node` as a new process (imports included)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "sgarch", "plan", str(STACK), "--json"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        times.append(time.perf_counter() - start)
    return times


def _tier(tier: str) -> dict[str, str]:
    # The example's workload needs M; "0" unsets users and repos so every tier can be planned on its own.
    return {"tier": tier, "users": "0", "repos": "0"}


def warm_tier_plans() -> tuple[float, dict[str, tuple[float, int]]]:
    """Plan every tier in one process after imports; returns the total and per-tier (seconds, resources)."""
    from sgarch.plan import run_plan

    run_plan(STACK, config=_tier("XS"))  # warm imports and caches
    per_tier: dict[str, tuple[float, int]] = {}
    start = time.perf_counter()
    for tier in TIERS:
        t0 = time.perf_counter()
        plan = run_plan(STACK, config=_tier(tier))
        per_tier[tier] = (time.perf_counter() - t0, len(plan.resources))
    return time.perf_counter() - start, per_tier


def main() -> None:
    cold = cold_plan_seconds()
    print(
        f"cold plan (new process, {len(cold)} runs): median {statistics.median(cold):.2f} s, "
        f"min {min(cold):.2f} s, max {max(cold):.2f} s  (target < 3 s)"
    )
    total, per_tier = warm_tier_plans()
    for tier, (seconds, count) in per_tier.items():
        print(f"  warm plan tier {tier:>2}: {seconds * 1000:6.0f} ms, {count} resources")
    print(f"every tier XS-XL in one process: {total:.2f} s")


if __name__ == "__main__":
    main()
