"""Turn k6's end-of-test summary into a verdict per search type and a pointer to what to scale.

Pure logic: a summary (the ``data`` k6 hands to ``handleSummary``) and a plan in, a :class:`Report` out, which
renders as ``report.json`` and ``report.md``.

What to scale follows which service answers what:

* literal and regexp searches: indexed search (zoekt-webserver, chart key ``indexedSearch``);
* structural and unindexed searches: searcher;
* highlight requests: syntect-server;
* GraphQL errors (HTTP 200 with an ``errors`` list): frontend;
* every search type failing under ``load`` or ``stress`` (two or more ran; highlights aside, since they only
  follow a successful search): the machine as a whole, so the next tier.

Each pointer shows the estimator's resources for that service at the tested tier next to the next tier's.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sgarch.loadtest.plan import LoadPlan
from sgarch.loadtest.profiles import THRESHOLDS, Profile, SearchType, Threshold
from sgarch.tiers import TIERS, Tier

__all__ = [
    "SERVICE_FOR",
    "SERVICE_NAMES",
    "Advice",
    "Report",
    "Row",
    "ServiceResources",
    "ThresholdResult",
    "build_report",
    "describe_threshold",
    "what_to_scale",
]

SERVICE_FOR: dict[SearchType, str] = {
    SearchType.LITERAL: "indexedSearch",
    SearchType.REGEXP: "indexedSearch",
    SearchType.STRUCTURAL: "searcher",
    SearchType.UNINDEXED: "searcher",
    SearchType.HIGHLIGHT: "syntectServer",
}
"""The service (Helm chart key) that answers each search type."""

SERVICE_NAMES: dict[str, str] = {
    "indexedSearch": "indexed search (zoekt-webserver)",
    "searcher": "searcher",
    "syntectServer": "syntect-server",
    "frontend": "frontend (sourcegraph-frontend)",
}
"""How reports name each service."""

GRAPHQL_ERROR_LIMIT = 0.1
"""GraphQL error share above which the frontend is named: the share of failures the load profile tolerates."""


@dataclass(frozen=True)
class ThresholdResult:
    """One k6 threshold and whether it held."""

    metric: str
    expression: str
    ok: bool | None
    """None when k6 did not evaluate it (the run stopped before the metric existed)."""
    description: str


@dataclass(frozen=True)
class Row:
    """The outcome of one search type (and, for the ``search`` profile, one query class)."""

    search_type: str
    query_class: str | None
    service: str
    requests: int
    success_rate: float | None
    success_threshold: float
    ttfb_median_ms: float | None
    ttfb_p95_ms: float | None
    ttfb_stat: str
    ttfb_limit_ms: int
    status: str
    """``pass``, ``fail`` or ``no requests`` (the mix never picked this type; not a failure)."""
    failed: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """``structural`` or ``structural (regular)``."""
        return self.search_type + (f" ({self.query_class})" if self.query_class else "")


@dataclass(frozen=True)
class ServiceResources:
    """The estimator's resources for one service at one tier (totals across replicas)."""

    tier: str
    replicas: int
    cpu_limit: float
    memory_limit_gb: float
    cpu_limit_per_replica: float
    memory_limit_gb_per_replica: float

    def text(self) -> str:
        """``2 × (6 CPU, 16 GB)``."""
        return (
            f"{self.replicas} × ({self.cpu_limit_per_replica:g} CPU, {self.memory_limit_gb_per_replica:g} GB)"
            f" = {self.cpu_limit:g} CPU, {self.memory_limit_gb:g} GB"
        )


@dataclass(frozen=True)
class Advice:
    """What to grow: a service (or the whole instance) and the next step."""

    service: str
    """Chart key (``searcher``) or ``instance`` for the next tier."""
    reason: str
    next_step: str
    current: ServiceResources | None = None
    next: ServiceResources | None = None


@dataclass
class Report:
    """Everything ``report.json`` and ``report.md`` say."""

    tier: str
    profile: str
    url: str
    scale: float
    duration_scale: float
    full_size: bool
    virtual_users: int
    full_virtual_users: int
    k6_version: str
    started_at: str
    duration_seconds: float
    passed: bool
    stopped_early: bool
    stopped_in_stage: str | None
    overall_requests: int
    overall_success_rate: float | None
    http_req_failed_rate: float | None
    graphql_error_rate: float | None
    rows: list[Row] = field(default_factory=list)
    thresholds: list[ThresholdResult] = field(default_factory=list)
    what_to_scale: list[Advice] = field(default_factory=list)

    def to_json(self) -> str:
        """The report as indented JSON."""
        return json.dumps(asdict(self), indent=2, sort_keys=False) + "\n"

    def write(self, out_dir: Path) -> tuple[Path, Path]:
        """Write ``report.json`` and ``report.md`` into ``out_dir``."""
        json_path, md_path = out_dir / "report.json", out_dir / "report.md"
        json_path.write_text(self.to_json(), encoding="utf-8")
        md_path.write_text(render_markdown(self), encoding="utf-8")
        return json_path, md_path

    @property
    def scale_note(self) -> str | None:
        """A warning when the run was scaled down, so it is never mistaken for a full one."""
        if self.full_size:
            return None
        parts = []
        if self.scale != 1.0:
            parts.append(
                f"{self.virtual_users:,} of {self.full_virtual_users:,} virtual users (--scale {self.scale:g})"
            )
        if self.duration_scale != 1.0:
            parts.append(
                f"stage lengths × {self.duration_scale:g} (--duration-scale {self.duration_scale:g})"
            )
        return f"Scaled run: {', '.join(parts)}. It is not a validation of tier {self.tier}."


def _ms(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 1000:
        return f"{value:,.0f} ms"
    return f"{value / 1000:,.2f}".rstrip("0").rstrip(".") + " s"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def describe_threshold(t: Threshold) -> str:
    """A threshold in words: ``structural success rate > 90%``, ``literal (regular) p95 TTFB < 2 s``."""
    tags = dict(t.tags)
    who = tags.get("search_type", "overall")
    if "query_class" in tags:
        who += f" ({tags['query_class']})"
    if t.metric == "http_req_failed":
        return f"failed HTTP requests ≤ {float(t.expression.split('<=')[1]) * 100:g}%"
    if t.metric == "checks":
        return f"{who} success rate > {float(t.expression.split('>')[1]) * 100:g}%"
    stat, limit = t.expression.split("<")
    stat_name = {"med": "median", "p(95)": "p95"}.get(stat, stat)
    return f"{who} {stat_name} time to first byte < {_ms(float(limit))}"


def _metric(summary: dict[str, Any], selector: str) -> dict[str, Any]:
    metric = summary.get("metrics", {}).get(selector)
    return metric if isinstance(metric, dict) else {}


def _threshold_ok(summary: dict[str, Any], t: Threshold) -> bool | None:
    result = _metric(summary, t.selector).get("thresholds", {}).get(t.expression)
    return None if result is None else bool(result.get("ok"))


def _rate(metric: dict[str, Any]) -> tuple[int, float | None]:
    values = metric.get("values", {})
    count = int(values.get("passes", 0)) + int(values.get("fails", 0))
    return count, (float(values["rate"]) if count and "rate" in values else None)


def build_report(plan: LoadPlan, summary: dict[str, Any], *, k6_version: str, started_at: str) -> Report:
    """The report of one finished run."""
    spec = THRESHOLDS[plan.profile]
    results = [
        ThresholdResult(t.selector, t.expression, _threshold_ok(summary, t), describe_threshold(t))
        for t in plan.thresholds
    ]
    rows: list[Row] = []
    for search_type, query_class in plan.rows:
        tags: tuple[tuple[str, str], ...] = (("search_type", search_type.value),)
        if query_class is not None:
            tags += (("query_class", query_class.value),)
        mine = [(t, r) for t, r in zip(plan.thresholds, results, strict=True) if t.tags == tags]
        selector = Threshold("checks", "", tags).selector.removeprefix("checks")
        requests, success = _rate(_metric(summary, "checks" + selector))
        waiting = _metric(summary, "http_req_waiting" + selector).get("values", {})
        failed = tuple(r.description for _, r in mine if r.ok is False)
        status = "no requests" if requests == 0 else ("fail" if failed else "pass")
        rows.append(
            Row(
                search_type=search_type.value,
                query_class=query_class.value if query_class else None,
                service=SERVICE_FOR[search_type],
                requests=requests,
                success_rate=success,
                success_threshold=spec.success_for(search_type),
                ttfb_median_ms=float(waiting["med"]) if requests and "med" in waiting else None,
                ttfb_p95_ms=float(waiting["p(95)"]) if requests and "p(95)" in waiting else None,
                ttfb_stat="median" if spec.ttfb_stat == "med" else "p95",
                ttfb_limit_ms=spec.ttfb_ms[(search_type, query_class)],
                status=status,
                failed=failed,
            )
        )
    overall_requests, overall_success = _rate(_metric(summary, "checks"))
    failed_rate = _metric(summary, "http_req_failed").get("values", {}).get("rate")
    graphql = _metric(summary, "graphql_errors").get("values", {}).get("rate")
    duration = float(summary.get("state", {}).get("testRunDurationMs", 0.0)) / 1000
    stopped_early, stage = _stopped_early(plan, duration)
    report = Report(
        tier=plan.tier.value,
        profile=plan.profile.value,
        url=plan.url,
        scale=plan.scale,
        duration_scale=plan.duration_scale,
        full_size=plan.full_size,
        virtual_users=plan.vus,
        full_virtual_users=plan.full_vus,
        k6_version=k6_version,
        started_at=started_at,
        duration_seconds=round(duration, 3),
        passed=all(r.ok is not False for r in results),
        stopped_early=stopped_early,
        stopped_in_stage=stage,
        overall_requests=overall_requests,
        overall_success_rate=overall_success,
        http_req_failed_rate=None if failed_rate is None else float(failed_rate),
        graphql_error_rate=None if graphql is None else float(graphql),
        rows=rows,
        thresholds=results,
    )
    report.what_to_scale = what_to_scale(report)
    return report


def _stopped_early(plan: LoadPlan, duration: float) -> tuple[bool, str | None]:
    """Whether an aborting threshold cut a ``load`` run short, and in which stage."""
    if plan.profile is not Profile.LOAD:
        return False, None
    elapsed = 0.0
    total = sum(s.seconds for s in plan.stages)
    if duration >= total - 0.5:
        return False, None
    for stage in plan.stages:
        elapsed += stage.seconds
        if duration < elapsed:
            return True, stage.name
    return True, plan.stages[-1].name


def _resources(tier: Tier, service: str) -> ServiceResources:
    from sgarch.sizing import estimate_for_tier

    svc = estimate_for_tier(tier).service(service)
    return ServiceResources(
        tier=tier.value,
        replicas=svc.replicas,
        cpu_limit=svc.cpu_limit,
        memory_limit_gb=svc.memory_limit_gb,
        cpu_limit_per_replica=round(svc.cpu_limit_per_replica, 2),
        memory_limit_gb_per_replica=round(svc.memory_limit_gb_per_replica, 2),
    )


def _service_advice(tier: Tier, service: str, reason: str) -> Advice:
    current = _resources(tier, service)
    nxt_tier = tier.next()
    name = SERVICE_NAMES[service]
    if nxt_tier is None:
        step = f"add {name} replicas beyond the {tier.value} plan ({current.text()}); there is no larger tier"
        return Advice(service, reason, step, current, None)
    nxt = _resources(nxt_tier, service)
    same = (nxt.replicas, nxt.cpu_limit, nxt.memory_limit_gb) == (
        current.replicas,
        current.cpu_limit,
        current.memory_limit_gb,
    )
    if same:
        step = (
            f"tier {nxt_tier.value} plans the same for {name} ({current.text()}), so add a replica or raise "
            f"its CPU limit beyond the estimate"
        )
    else:
        step = (
            f"give {name} the resources tier {nxt_tier.value} plans for it ({nxt.text()}) instead of tier "
            f"{tier.value}'s ({current.text()})"
        )
    return Advice(service, reason, step, current, nxt)


def _tier_advice(tier: Tier, reason: str) -> Advice:
    nxt_tier = tier.next()
    if nxt_tier is None:
        return Advice("instance", reason, f"{tier.value} is the largest tier: add nodes and replicas on EKS")
    spec = TIERS[nxt_tier]
    where = spec.recommended_instance_type or "EKS with autoscaling"
    step = f"move to tier {nxt_tier.value}: {where} ({spec.vcpu} vCPU / {spec.memory_gb} GB)"
    return Advice("instance", reason, step)


def what_to_scale(report: Report) -> list[Advice]:
    """Name the likely bottleneck of a failed run and the next step; empty for a passed run."""
    if report.passed:
        return []
    tier = Tier(report.tier)
    advice: list[Advice] = []
    ran = [r for r in report.rows if r.status != "no requests"]
    failing = [r for r in ran if r.status == "fail"]
    # Highlights only follow successful searches, late in an iteration, so they can pass while every search
    # fails; "everything failing" is judged on the searches.
    searches = [r for r in ran if r.search_type != SearchType.HIGHLIGHT.value]
    all_failed = len(searches) >= 2 and all(r.status == "fail" for r in searches)
    if report.profile != Profile.SEARCH.value and all_failed:
        when = f" (stopped early during '{report.stopped_in_stage}')" if report.stopped_early else ""
        advice.append(
            _tier_advice(
                tier, f"every search type failed as load rose to {report.virtual_users:,} users{when}"
            )
        )
    if report.graphql_error_rate is not None and report.graphql_error_rate > GRAPHQL_ERROR_LIMIT:
        advice.append(
            _service_advice(
                tier, "frontend", f"{_pct(report.graphql_error_rate)} of GraphQL requests returned errors"
            )
        )
    by_service: dict[str, list[Row]] = {}
    for row in failing:
        by_service.setdefault(row.service, []).append(row)
    for service, rows in by_service.items():
        labels = ", ".join(dict.fromkeys(r.search_type for r in rows))
        details = "; ".join(f for r in rows for f in r.failed)
        advice.append(_service_advice(tier, service, f"{labels} failed: {details}"))
    if not advice:
        # Only an overall threshold failed: errors spread over every type point at the entry point.
        overall = "; ".join(t.description for t in report.thresholds if t.ok is False) or "a threshold failed"
        advice.append(_service_advice(tier, "frontend", f"{overall} failed, spread over every search type"))
    return advice


def render_markdown(report: Report) -> str:
    """``report.md``: verdict, run facts, results per search type, what to scale, every threshold."""
    verdict = "PASS" if report.passed else "FAIL"
    out = [f"# Load test: tier {report.tier}, profile {report.profile}: {verdict}", ""]
    if report.scale_note:
        out += [f"> **{report.scale_note}**", ""]
    out += [
        "| | |",
        "|---|---|",
        f"| URL | {report.url} |",
        f"| Tier | {report.tier} |",
        f"| Profile | {report.profile} |",
        f"| Virtual users | {report.virtual_users:,} (tier: {report.full_virtual_users:,}) |",
        f"| Scale | {report.scale:g} (virtual users), {report.duration_scale:g} (stage lengths) |",
        f"| k6 | {report.k6_version} |",
        f"| Started | {report.started_at} |",
        f"| Duration | {report.duration_seconds:.1f} s |",
        f"| Requests | {report.overall_requests:,}, {_pct(report.overall_success_rate)} succeeded |",
    ]
    if report.stopped_early:
        out.append(f"| Stopped early | during '{report.stopped_in_stage}' (a threshold aborted the run) |")
    out += [
        "",
        "## Results by search type",
        "",
        "| Search type | Requests | Success (needs) | TTFB median | TTFB p95 | TTFB limit | Result |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in report.rows:
        out.append(
            f"| {r.label} | {r.requests:,} | {_pct(r.success_rate)} (> {r.success_threshold * 100:g}%) "
            f"| {_ms(r.ttfb_median_ms)} | {_ms(r.ttfb_p95_ms)} | {r.ttfb_stat} < {_ms(r.ttfb_limit_ms)} "
            f"| {r.status.upper() if r.status != 'no requests' else 'no requests'} |"
        )
    if report.what_to_scale:
        out += ["", "## What to scale", ""]
        for a in report.what_to_scale:
            name = SERVICE_NAMES.get(a.service, "the instance")
            out.append(f"- **{name}**: {a.reason}. Next step: {a.next_step}.")
        tables = [a for a in report.what_to_scale if a.current is not None]
        if tables:
            out += ["", "| Service | Tier | Replicas | CPU limit (total) | Memory limit (total) |"]
            out.append("|---|---|---:|---:|---:|")
            for a in tables:
                for res in (a.current, a.next):
                    if res is not None:
                        out.append(
                            f"| {a.service} | {res.tier} | {res.replicas} | {res.cpu_limit:g} "
                            f"| {res.memory_limit_gb:g} GB |"
                        )
    out += ["", "## Thresholds", "", "| Threshold | k6 expression | Result |", "|---|---|---|"]
    for t in report.thresholds:
        result = {True: "pass", False: "FAIL", None: "not evaluated"}[t.ok]
        out.append(f"| {t.description} | `{t.metric}: {t.expression}` | {result} |")
    return "\n".join(out) + "\n"
