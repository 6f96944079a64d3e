"""The report: verdict per search type from k6's summary, and what to scale from the estimator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sgarch.loadtest import LoadPlan, build_plan, build_report
from sgarch.loadtest.report import describe_threshold, render_markdown
from sgarch.sizing import estimate_for_tier
from sgarch.tiers import Tier

URL = "http://127.0.0.1:1"


def summary_for(
    plan: LoadPlan,
    *,
    failing: tuple[str, ...] = (),
    counts: dict[str, tuple[int, int]] | None = None,
    graphql_error_rate: float | None = None,
    duration_ms: float | None = None,
) -> dict[str, Any]:
    """A k6 summary for ``plan``: thresholds whose selector is in ``failing`` crossed; ``counts`` per row."""
    metrics: dict[str, Any] = {}
    for t in plan.thresholds:
        entry = metrics.setdefault(
            t.selector, {"type": "rate" if t.metric != "http_req_waiting" else "trend"}
        )
        entry.setdefault("thresholds", {})[t.expression] = {"ok": t.selector not in failing}
    total_pass = total_fail = 0
    for search_type, query_class in plan.rows:
        key = search_type.value + (f",query_class:{query_class.value}" if query_class else "")
        passes, fails = (counts or {}).get(search_type.value, (10, 0))
        total_pass, total_fail = total_pass + passes, total_fail + fails
        rate = passes / (passes + fails) if passes + fails else 0
        metrics[f"checks{{search_type:{key}}}"]["values"] = {"passes": passes, "fails": fails, "rate": rate}
        slow = f"http_req_waiting{{search_type:{key}}}" in failing
        metrics[f"http_req_waiting{{search_type:{key}}}"]["values"] = {
            "med": 40_000.0 if slow else 120.0,
            "p(95)": 45_000.0 if slow else 300.0,
            "count": passes + fails,
        }
    all_count = total_pass + total_fail
    metrics["checks"]["values"] = {"passes": total_pass, "fails": total_fail, "rate": total_pass / all_count}
    metrics["http_req_failed"]["values"] = {"rate": total_fail / all_count}
    if graphql_error_rate is not None:
        metrics["graphql_errors"] = {"type": "rate", "values": {"rate": graphql_error_rate}}
    planned = sum(s.seconds for s in plan.stages) * 1000
    return {"metrics": metrics, "state": {"testRunDurationMs": duration_ms or planned}}


def report_of(plan: LoadPlan, **kwargs: Any) -> Any:
    return build_report(
        plan, summary_for(plan, **kwargs), k6_version="v1.1.0", started_at="2026-01-01T00:00:00+00:00"
    )


def test_a_passing_run_has_no_advice_and_every_row_passes() -> None:
    plan = build_plan(URL, "M", "load")
    report = report_of(plan)
    assert report.passed and report.what_to_scale == []
    assert [(r.search_type, r.status) for r in report.rows] == [
        ("literal", "pass"),
        ("regexp", "pass"),
        ("structural", "pass"),
        ("unindexed", "pass"),
        ("highlight", "pass"),
    ]
    literal = report.rows[0]
    assert (literal.requests, literal.success_rate, literal.ttfb_median_ms, literal.ttfb_p95_ms) == (
        10,
        1.0,
        120.0,
        300.0,
    )
    assert (literal.ttfb_stat, literal.ttfb_limit_ms, literal.success_threshold) == ("median", 5_500, 0.9)
    assert report.scale_note is None and report.full_size


def test_slow_structural_points_to_searcher_with_both_tiers_resources() -> None:
    plan = build_plan(URL, "M", "search")
    report = report_of(plan, failing=("http_req_waiting{search_type:structural,query_class:regular}",))
    assert not report.passed
    failed = [r for r in report.rows if r.status == "fail"]
    assert [(r.search_type, r.query_class) for r in failed] == [("structural", "regular")]
    assert failed[0].failed == ("structural (regular) p95 time to first byte < 3.5 s",)
    (advice,) = report.what_to_scale
    assert advice.service == "searcher"
    assert advice.reason.startswith("structural failed")
    now, nxt = estimate_for_tier(Tier.M).service("searcher"), estimate_for_tier(Tier.L).service("searcher")
    assert advice.current is not None and advice.next is not None
    assert (advice.current.tier, advice.current.cpu_limit, advice.current.memory_limit_gb) == (
        "M",
        now.cpu_limit,
        now.memory_limit_gb,
    )
    assert (advice.next.tier, advice.next.replicas, advice.next.cpu_limit) == (
        "L",
        nxt.replicas,
        nxt.cpu_limit,
    )
    assert "tier L plans" in advice.next_step


@pytest.mark.parametrize(
    ("search_type", "service"),
    [
        ("literal", "indexedSearch"),
        ("regexp", "indexedSearch"),
        ("unindexed", "searcher"),
        ("highlight", "syntectServer"),
    ],
)
def test_each_search_type_points_to_its_service(search_type: str, service: str) -> None:
    plan = build_plan(URL, "S", "stress")
    report = report_of(plan, failing=(f"checks{{search_type:{search_type}}}",), counts={search_type: (5, 5)})
    assert [a.service for a in report.what_to_scale] == [service]


def test_same_resources_at_the_next_tier_say_so() -> None:
    # syntect-server is planned identically for XS and S.
    plan = build_plan(URL, "XS", "stress")
    report = report_of(plan, failing=("checks{search_type:highlight}",))
    (advice,) = report.what_to_scale
    assert advice.current is not None and advice.next is not None
    assert advice.current.cpu_limit == advice.next.cpu_limit
    assert "tier S plans the same for syntect-server" in advice.next_step


def test_everything_failing_under_load_means_the_next_tier() -> None:
    plan = build_plan(URL, "M", "load")
    everything = tuple(t.selector for t in plan.thresholds)
    report = report_of(plan, failing=everything, duration_ms=70_000)
    first = report.what_to_scale[0]
    assert first.service == "instance"
    assert first.next_step == "move to tier L: m6a.12xlarge (48 vCPU / 192 GB)"
    assert "stopped early during 'hold'" in first.reason
    assert report.stopped_early and report.stopped_in_stage == "hold"
    assert {a.service for a in report.what_to_scale[1:]} == {"indexedSearch", "searcher", "syntectServer"}


@pytest.mark.parametrize(
    ("tier", "step"),
    [
        ("XL", "move to tier 2XL: EKS with autoscaling (192 vCPU / 768 GB)"),
        ("3XL", "3XL is the largest tier: add nodes and replicas on EKS"),
    ],
)
def test_next_tier_at_the_top(tier: str, step: str) -> None:
    plan = build_plan(URL, tier, "stress")
    report = report_of(plan, failing=tuple(t.selector for t in plan.thresholds))
    assert report.what_to_scale[0].next_step == step


def test_graphql_errors_point_to_frontend() -> None:
    plan = build_plan(URL, "L", "load")
    report = report_of(plan, failing=("checks{search_type:highlight}",), graphql_error_rate=0.3)
    services = [a.service for a in report.what_to_scale]
    assert services == ["frontend", "syntectServer"]
    assert report.what_to_scale[0].reason == "30.0% of GraphQL requests returned errors"


def test_only_an_overall_threshold_failing_points_to_frontend() -> None:
    plan = build_plan(URL, "M", "stress")
    report = report_of(plan, failing=("checks",))
    (advice,) = report.what_to_scale
    assert advice.service == "frontend"
    assert advice.reason.startswith("overall success rate > 90% failed")


def test_rows_without_requests_are_reported_not_failed() -> None:
    plan = build_plan(URL, "XS", "stress")
    report = report_of(plan, counts={"structural": (0, 0)})
    row = next(r for r in report.rows if r.search_type == "structural")
    assert (row.status, row.requests, row.success_rate, row.ttfb_median_ms) == ("no requests", 0, None, None)
    assert report.passed


def test_scaled_runs_say_so_in_both_files(tmp_path: Path) -> None:
    plan = build_plan(URL, "M", "load", scale=0.05, duration_scale=0.1)
    report = report_of(plan)
    json_path, md_path = report.write(tmp_path)
    data = json.loads(json_path.read_text(encoding="utf-8"))
    assert (data["scale"], data["duration_scale"], data["full_size"], data["virtual_users"]) == (
        0.05,
        0.1,
        False,
        50,
    )
    assert data["full_virtual_users"] == 1_000
    assert (data["tier"], data["profile"], data["url"], data["k6_version"]) == ("M", "load", URL, "v1.1.0")
    assert data["started_at"] == "2026-01-01T00:00:00+00:00"
    md = md_path.read_text(encoding="utf-8")
    assert "Scaled run: 50 of 1,000 virtual users (--scale 0.05), stage lengths × 0.1" in md
    assert "It is not a validation of tier M." in md
    assert md == render_markdown(report)
    assert "| literal | 10 | 100.0% (> 90%) | 120 ms | 300 ms | median < 5.5 s | PASS |" in md


def test_threshold_descriptions() -> None:
    plan = build_plan(URL, "M", "search")
    words = {t.selector + " " + t.expression: describe_threshold(t) for t in plan.thresholds}
    assert words["checks rate>0.99"] == "overall success rate > 99%"
    assert words["http_req_failed rate<=0.1"] == "failed HTTP requests ≤ 10%"
    key = "http_req_waiting{search_type:unindexed,query_class:expensive} p(95)<50000"
    assert words[key] == "unindexed (expensive) p95 time to first byte < 50 s"
