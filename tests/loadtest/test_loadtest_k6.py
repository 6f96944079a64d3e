"""The real k6 binary against FakeSourcegraph on 127.0.0.1, every run scaled down to seconds."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sgarch.loadtest import QuerySet
from sgarch.loadtest import runner as runner_module
from sgarch.loadtest.runner import RunResult, script_path
from sgarch.testing.fake_sourcegraph import FakeSourcegraph

RunK6 = Callable[..., RunResult]
K6_DIR = script_path().parent


def test_no_shipped_script_imports_anything_remote() -> None:
    scripts = sorted(K6_DIR.glob("*.js"))
    assert {p.name for p in scripts} == {"main.js", "sourcegraph.js"}
    imports: list[str] = []
    for path in scripts:
        text = path.read_text(encoding="utf-8")
        imports += re.findall(r"""^\s*import\s+(?:[^'"]*?\s+from\s+)?['"]([^'"]+)['"]""", text, re.MULTILINE)
        assert "require(" not in text
        assert not re.search(r"\bimport\s*\(", text), "dynamic imports are not allowed"
        # Reading files: only the plan the runner wrote.
        assert re.findall(r"\bopen\(([^)]*)\)", text) in ([], ["__ENV.SGARCH_PLAN"])
    assert imports, "the import scan found nothing; the regex is broken"
    assert sorted(set(imports)) == ["./sourcegraph.js", "k6", "k6/http", "k6/metrics"]
    assert all(i == "k6" or i.startswith(("k6/", "./")) for i in imports)


def _rows(result: RunResult) -> dict[str, Any]:
    data = json.loads((result.out_dir / "report.json").read_text(encoding="utf-8"))
    return {
        r["search_type"] + (f"/{r['query_class']}" if r["query_class"] else ""): r for r in data["rows"]
    } | {"_report": data}


def test_fast_stand_in_passes_the_load_profile(fake: FakeSourcegraph, run_k6: RunK6) -> None:
    result = run_k6(fake, "load", scale=0.1, duration_scale=0.02)
    rows = _rows(result)
    report = rows.pop("_report")
    assert result.exit_code == 0 and result.k6_exit_code == 0 and report["passed"] is True
    assert (
        report["virtual_users"] == 10 and report["full_virtual_users"] == 100 and report["full_size"] is False
    )
    assert report["k6_version"].startswith("v1.")
    assert {r["status"] for r in rows.values()} <= {"pass", "no requests"}
    # VUs 1-6 and 10 search literally, 7-8 use regexp, every stream match is highlighted.
    for name in ("literal", "regexp", "highlight"):
        assert rows[name]["requests"] > 0 and rows[name]["success_rate"] == 1.0, name
    assert rows["highlight"]["requests"] >= 2 * rows["literal"]["requests"]
    assert fake.stats.total >= report["overall_requests"]
    assert report["what_to_scale"] == []
    assert {p.name for p in result.out_dir.iterdir()} == {
        "plan.json",
        "summary.json",
        "k6.log",
        "report.json",
        "report.md",
    }


def test_fast_stand_in_passes_every_search_type_and_class(fake: FakeSourcegraph, run_k6: RunK6) -> None:
    result = run_k6(fake, "search", duration_scale=0.02)
    rows = _rows(result)
    rows.pop("_report")
    assert result.exit_code == 0
    assert sorted(rows) == sorted(
        f"{t}/{c}" for t in ("literal", "regexp", "structural", "unindexed") for c in ("regular", "expensive")
    )
    assert all(r["status"] == "pass" and r["requests"] >= 1 for r in rows.values())
    assert all(r["ttfb_p95_ms"] is not None and r["ttfb_p95_ms"] < 1_000 for r in rows.values())


def test_slow_structural_fails_and_points_to_searcher(run_k6: RunK6) -> None:
    queries = QuerySet.model_validate(
        {
            "literal": {"regular": ["lang:go func main"]},
            "structural": {"regular": ["lang:go fmt.Errorf(:[args])"]},
        }
    )
    with FakeSourcegraph(latency_seconds={"structural": 3.7}) as sg:
        result = run_k6(sg, "search", duration_scale=0.02, queries=queries)
    rows = _rows(result)
    report = rows.pop("_report")
    assert result.exit_code == 1 and result.k6_exit_code == 99 and report["passed"] is False
    assert rows["structural/regular"]["status"] == "fail"
    assert rows["structural/regular"]["ttfb_p95_ms"] >= 3_500
    assert rows["literal/regular"]["status"] == "pass"
    assert [a["service"] for a in report["what_to_scale"]] == ["searcher"]
    md = (result.out_dir / "report.md").read_text(encoding="utf-8")
    assert "**searcher**: structural failed: structural (regular) p95 time to first byte < 3.5 s" in md


def test_twenty_percent_errors_fail_the_success_rate(run_k6: RunK6) -> None:
    with FakeSourcegraph(error_rate=0.2, seed=7) as sg:
        result = run_k6(sg, "stress", scale=0.3, duration_scale=0.05)
        assert sg.stats.errors > 0
    report = _rows(result)["_report"]
    assert result.exit_code == 1
    failed = {(t["metric"], t["expression"]) for t in report["thresholds"] if t["ok"] is False}
    assert ("checks", "rate>0.9") in failed
    assert 0.7 < report["overall_success_rate"] < 0.9
    assert ("http_req_failed", "rate<=0.5") not in failed
    md = (result.out_dir / "report.md").read_text(encoding="utf-8")
    assert "| overall success rate > 90% | `checks: rate>0.9` | FAIL |" in md


@pytest.mark.parametrize(("scale", "passes"), [(0.05, True), (0.4, False)])
def test_capacity_below_and_above(run_k6: RunK6, scale: float, passes: bool) -> None:
    kinds = ("literal", "regexp", "structural", "unindexed", "highlight")
    # A full second per request keeps 40 virtual users overlapping even when a busy machine starts them late.
    with FakeSourcegraph(capacity=10, latency_seconds=dict.fromkeys(kinds, 1.0)) as sg:
        result = run_k6(sg, "stress", scale=scale, duration_scale=0.05)
        rejected = sg.stats.rejected
    report = _rows(result)["_report"]
    assert report["virtual_users"] == (5 if passes else 40)
    if passes:
        assert result.exit_code == 0 and rejected == 0
    else:
        assert result.exit_code == 1 and rejected >= 10
        advice = report["what_to_scale"][0]
        # Normally every search type fails and the advice is the next tier. On a busy machine k6 may start
        # the virtual users late enough that one type squeaks through; then a service is named instead.
        assert advice["service"] in ("instance", "indexedSearch", "searcher", "syntectServer", "frontend")
        if advice["service"] == "instance":
            assert advice["next_step"] == "move to tier S: m6a.4xlarge (16 vCPU / 64 GB)"


def test_token_is_in_no_argv_log_or_report(monkeypatch: pytest.MonkeyPatch, run_k6: RunK6) -> None:
    token = "sgp_CANARY_7f3a9c0e5b1d4f2a8c6e0b9d3f7a1c5e"
    argvs: list[list[str]] = []
    real_popen = subprocess.Popen

    def spy(args: list[str], *a: Any, **kw: Any) -> Any:
        argvs.append(list(args))
        return real_popen(args, *a, **kw)

    monkeypatch.setattr(runner_module.subprocess, "Popen", spy)
    with FakeSourcegraph(token=token) as sg:
        result = run_k6(sg, "stress", scale=0.05, duration_scale=0.05)
        assert sg.stats.unauthorized == 0 and sg.stats.total > 0  # k6 did receive it, via the environment
    assert result.exit_code == 0
    assert argvs and all(token not in arg for argv in argvs for arg in argv)
    files = [p for p in result.out_dir.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"k6.log", "report.json", "report.md", "plan.json", "summary.json"}
    for path in files:
        assert token not in path.read_text(encoding="utf-8", errors="replace"), path.name
        assert token[4:20] not in path.read_text(encoding="utf-8", errors="replace"), path.name


def test_k6_overrunning_its_limit_is_stopped(tmp_path: Path) -> None:
    from sgarch.loadtest import LoadTestError, build_plan, run_plan

    with FakeSourcegraph(latency_seconds={"literal": 5.0, "regexp": 5.0}) as sg:
        plan = build_plan(sg.url, "XS", "stress", scale=0.02, duration_scale=0.05, local_only=True)
        with pytest.raises(LoadTestError, match=r"^k6 ran past its 1 s limit and was stopped"):
            run_plan(plan, sg.token, tmp_path / "out", timeout_seconds=1.0)
