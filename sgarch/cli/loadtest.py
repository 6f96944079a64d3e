"""`sgarch loadtest`: prove a deployed tier holds its load, and say what to grow when it does not.

sgarch loadtest run --url https://sourcegraph.example.com --tier M [--profile load|stress|search]
sgarch loadtest queries --init queries.yaml
sgarch loadtest selftest
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from sgarch.cli.app import app
from sgarch.errors import ConfigError
from sgarch.loadtest.plan import LoadPlan, build_plan
from sgarch.loadtest.profiles import Profile
from sgarch.loadtest.queries import load_queries, write_template
from sgarch.loadtest.report import SERVICE_NAMES, Report
from sgarch.loadtest.runner import Progress, find_k6, read_token, run_plan
from sgarch.tiers import Tier

loadtest_app = typer.Typer(
    name="loadtest",
    help="Validate a deployed tier with k6: run a profile, read the report, learn what to scale.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(loadtest_app, name="loadtest")

console = Console(highlight=False, soft_wrap=True)


def _confirm(plan: LoadPlan, yes: bool) -> None:
    """A full-size run is real load on a real instance: ask first, or refuse without a terminal."""
    if yes or plan.profile is Profile.SEARCH or plan.scale < 1.0:
        return
    if not sys.stdin.isatty():
        raise ConfigError(
            "--yes",
            "given for a full-size run without a terminal",
            False,
            "add --yes to confirm, or --scale 0.1 for a smoke run",
        )
    prompt = f"Send {plan.vus:,} virtual users ({plan.profile.value} profile, tier {plan.tier.value}) to {plan.url}?"
    if not typer.confirm(prompt, default=False):
        raise typer.Exit(1)


def _progress_line(progress: Progress) -> str:
    def num(value: int | None) -> str:
        return "–" if value is None else f"{value:,}"

    return (
        f"[bold]{progress.stage}[/bold] · {progress.elapsed_seconds:5.0f} s · {num(progress.vus)} VUs · "
        f"{num(progress.requests)} requests · {num(progress.failures)} failed"
    )


def _print_report(report: Report, out_dir: Path) -> None:
    if report.scale_note:
        console.print(f"[yellow]{report.scale_note}[/yellow]")
    table = Table(title=f"Tier {report.tier}, profile {report.profile}")
    for column in ("Search type", "Requests", "Success", "TTFB median", "TTFB p95", "Limit", "Result"):
        table.add_column(column, justify="right" if column not in ("Search type", "Result") else "left")
    for row in report.rows:
        success = "–" if row.success_rate is None else f"{row.success_rate * 100:.1f}%"
        med = "–" if row.ttfb_median_ms is None else f"{row.ttfb_median_ms:,.0f} ms"
        p95 = "–" if row.ttfb_p95_ms is None else f"{row.ttfb_p95_ms:,.0f} ms"
        style = {"pass": "green", "fail": "red"}.get(row.status, "dim")
        table.add_row(
            row.label,
            f"{row.requests:,}",
            f"{success} (> {row.success_threshold * 100:g}%)",
            med,
            p95,
            f"{row.ttfb_stat} < {row.ttfb_limit_ms:,} ms",
            f"[{style}]{row.status}[/{style}]",
        )
    console.print(table)
    for advice in report.what_to_scale:
        name = SERVICE_NAMES.get(advice.service, "the instance")
        console.print(f"[red]scale {name}[/red]: {advice.reason}. Next step: {advice.next_step}.")
    verdict = "[green]PASS[/green]" if report.passed else "[red]FAIL[/red]"
    console.print(f"{verdict}: report in {out_dir / 'report.md'} and {out_dir / 'report.json'}")


@loadtest_app.command("run")
def run(
    url: str = typer.Option(..., "--url", help="Root URL of the Sourcegraph instance."),
    tier: str = typer.Option(
        ..., "--tier", help="The tier the instance was sized for (XS, S, M, L, XL, 2XL, 3XL)."
    ),
    profile: str = typer.Option("load", "--profile", help="load (ramp, hold, ramp down), stress or search."),
    token_env: str = typer.Option(
        "SRC_ACCESS_TOKEN", "--token-env", help="Environment variable that holds a Sourcegraph access token."
    ),
    scale: float = typer.Option(1.0, "--scale", help="Share of the tier's virtual users, 0 < F ≤ 1."),
    duration_scale: float = typer.Option(
        1.0, "--duration-scale", help="Multiplies stage lengths, 0 < F ≤ 1."
    ),
    queries: Path | None = typer.Option(
        None, "--queries", help="Your own query file (see `queries --init`)."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Report directory. Default: ./sgarch-loadtest/<time>."
    ),
    yes: bool = typer.Option(False, "--yes", help="Skip the confirmation of a full-size run."),
) -> None:
    """Run a load-test profile against an instance and write report.json and report.md.

    Exit status: 0 every threshold passed, 1 a threshold failed, 2 bad input.
    """
    query_set = load_queries(queries) if queries is not None else None
    plan = build_plan(url, tier, profile, scale=scale, duration_scale=duration_scale, queries=query_set)
    token = read_token(token_env)
    k6 = find_k6()
    _confirm(plan, yes)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out_dir = out or Path("sgarch-loadtest") / f"{stamp}-{plan.tier.value}-{plan.profile.value}"
    console.print(
        f"Running [bold]{plan.profile.value}[/bold] for tier {plan.tier.value}: {plan.vus:,} virtual users, "
        f"up to {plan.planned_seconds:,.0f} s, against {plan.url}"
    )
    with Live(console=console, transient=True, refresh_per_second=4) as live:
        result = run_plan(plan, token, out_dir, on_progress=lambda p: live.update(_progress_line(p)), k6=k6)
    _print_report(result.report, out_dir)
    raise typer.Exit(result.exit_code)


@loadtest_app.command("queries")
def queries_cmd(
    init: Path = typer.Option(..., "--init", help="Write a commented query template to this new file."),
) -> None:
    """Write a commented template of the query file that `run --queries` takes."""
    path = write_template(init)
    console.print(f"Wrote {path}; edit it and pass it with `sgarch loadtest run --queries {path}`.")


@loadtest_app.command("selftest")
def selftest(
    vus: int = typer.Option(20, "--vus", help="Looping virtual users (1–2000)."),
    seconds: float = typer.Option(10.0, "--seconds", help="Length of the run (1–600 s)."),
) -> None:
    """Measure how much load this machine's k6 can generate, against a local stand-in on 127.0.0.1."""
    from sgarch.loadtest.selftest import load_peak_requests_per_second, measure_throughput

    if not 1 <= vus <= 2_000:
        raise ConfigError("--vus", "between 1 and 2,000", vus, "the self-test needs only a few dozen")
    if not 1.0 <= seconds <= 600.0:
        raise ConfigError("--seconds", "between 1 and 600", seconds, "10 s is enough for a stable rate")
    find_k6()
    console.print(f"Self-test: {vus} virtual users for {seconds:g} s against a stand-in on 127.0.0.1 ...")
    result = measure_throughput(vus, seconds)
    console.print(
        f"Sustained {result.requests_per_second:,.0f} requests/s ({result.requests:,} requests, "
        f"{result.failed_requests} failed). k6 used {result.k6_cpu_percent:.0f}% of one core "
        f"({result.k6_cpu_ms_per_request:.3f} ms CPU per request, peak memory {result.k6_max_rss_mb:.0f} MB); "
        f"the stand-in used {result.server_cpu_percent:.0f}%."
    )
    table = Table(title="Can this machine drive the load profile?")
    for column in ("Tier", "Virtual users", "Peak requests/s", "k6 CPU cores needed", "Verdict"):
        table.add_column(column, justify="left" if column in ("Tier", "Verdict") else "right")
    from sgarch.tiers import TIERS

    for tier in Tier:
        need = load_peak_requests_per_second(tier)
        cores = result.k6_cores_for(tier)
        ok = need <= result.requests_per_second
        table.add_row(
            tier.value,
            f"{TIERS[tier].concurrent_users:,}",
            f"{need:,.0f}",
            f"{cores:.2f}",
            "[green]yes[/green]" if ok else "[yellow]above what was measured here[/yellow]",
        )
    console.print(table)
    console.print(
        "Peak requests/s assumes every search returns 10 results, each highlighted. k6 also needs memory per "
        "virtual user: check the stress profile's users against this machine's memory."
    )
