"""How much load this machine's k6 generates against FakeSourcegraph, and what it costs k6.

Runs the self-test (closed loop, no think time, the stress traffic mix) at a few virtual-user counts and
prints a markdown table: requests per second, k6's CPU (share of one core and milliseconds per request),
k6's peak memory, and the CPU of the Python stand-in. Then it turns k6's cost per request into the k6 CPU
each tier's ``load`` profile needs at its peak, and k6's memory slope into what ``stress`` needs.

    .venv/bin/python benchmarks/loadtest_selftest.py [--seconds 8] [--vus 10,50,200]

Everything runs on 127.0.0.1; on a small machine the stand-in, not k6, is usually the first limit, so the
rates are a floor for what k6 alone could send.
"""

from __future__ import annotations

import argparse
import os
import platform

from sgarch.loadtest.runner import find_k6, k6_version
from sgarch.loadtest.selftest import SelfTestResult, load_peak_requests_per_second, measure_throughput
from sgarch.tiers import TIERS, Tier


def main() -> None:
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each run (default 8)")
    parser.add_argument("--vus", default="10,50,200", help="comma-separated virtual-user counts")
    args = parser.parse_args()
    levels = [int(v) for v in args.vus.split(",") if v.strip()]

    print(
        f"k6 {k6_version(find_k6())} on {platform.machine()}, {os.cpu_count()} CPUs, {args.seconds:g} s per run\n"
    )
    print(
        "| VUs | requests | requests/s | k6 CPU (% of a core) | k6 CPU ms/request | k6 peak RSS MB | stand-in CPU % |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    results: list[SelfTestResult] = []
    for vus in levels:
        r = measure_throughput(vus, args.seconds)
        results.append(r)
        print(
            f"| {vus} | {r.requests:,} | {r.requests_per_second:,.0f} | {r.k6_cpu_percent:.0f} "
            f"| {r.k6_cpu_ms_per_request:.3f} | {r.k6_max_rss_mb:.0f} | {r.server_cpu_percent:.0f} |"
        )

    best = max(results, key=lambda r: r.requests_per_second)
    cost = max(r.k6_cpu_ms_per_request for r in results)
    first, last = results[0], results[-1]
    per_vu_mb = (
        (last.k6_max_rss_mb - first.k6_max_rss_mb) / (last.vus - first.vus) if last.vus > first.vus else 0.0
    )
    print(f"\nBest sustained rate: {best.requests_per_second:,.0f} requests/s at {best.vus} VUs.")
    print(f"k6 cost: up to {cost:.3f} ms CPU per request; about {per_vu_mb:.2f} MB per extra virtual user.\n")
    print("| Tier | VUs | load peak requests/s | k6 CPU cores at that rate | k6 memory for stress (GB) |")
    print("|---|---:|---:|---:|---:|")
    for tier in Tier:
        vus = TIERS[tier].concurrent_users
        need = load_peak_requests_per_second(tier)
        memory_gb = (first.k6_max_rss_mb + per_vu_mb * (vus - first.vus)) / 1024
        print(f"| {tier.value} | {vus:,} | {need:,.0f} | {need * cost / 1000:.2f} | {memory_gb:.1f} |")


if __name__ == "__main__":
    main()
