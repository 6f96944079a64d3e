"""``sgarch size``: turn a workload into a tier, per-service resources and storage."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from sgarch.cli.app import app
from sgarch.errors import ConfigError
from sgarch.sizing import Estimate, Workload, estimate, plan_node_groups
from sgarch.sizing.compose import render_compose_override
from sgarch.sizing.helm_values import render_helm_values
from sgarch.sizing.storage import data_volume_gib

__all__ = ["FLAG_NAMES", "estimate_to_dict", "size"]

FLAG_NAMES = {
    "users": "--users",
    "repos": "--repos",
    "total_repo_gb": "--total-repo-gb",
    "largest_repo_gb": "--largest-repo-gb",
    "largest_index_gb": "--largest-index-gb",
    "code_insights": "--no-code-insights",
    "syntactic_code_intel": "--syntactic-code-intel",
}

_FORMATS = ("table", "json", "helm", "compose")


@app.command()
def size(
    users: str = typer.Option(..., "--users", help="People who use Sourcegraph (1 to 50,000).", metavar="N"),
    repos: str = typer.Option(
        ..., "--repos", help="Repositories to clone and index (1 to 5,000,000).", metavar="N"
    ),
    total_repo_gb: str = typer.Option(
        None, "--total-repo-gb", help="Size of all repositories on disk, GB. Default: 100.", metavar="GB"
    ),
    largest_repo_gb: str = typer.Option(
        None,
        "--largest-repo-gb",
        help="Size of the largest repository, GB. Default: 5 (or the total).",
        metavar="GB",
    ),
    largest_index_gb: str = typer.Option(
        None,
        "--largest-index-gb",
        help="Largest precise code-intel (SCIP) index, GB; 0 turns precise code intel off. Default: 1.",
        metavar="GB",
    ),
    no_code_insights: bool = typer.Option(False, "--no-code-insights", help="Size without Code Insights."),
    syntactic_code_intel: bool = typer.Option(
        False,
        "--syntactic-code-intel",
        help="Also size syntactic code intel (off by default, as in the chart).",
    ),
    output_format: str = typer.Option(
        "table",
        "--format",
        help="table (for people), json, helm (chart values) or compose (override).",
        metavar="FORMAT",
    ),
) -> None:
    """Estimate the tier, per-service resources and storage for a Sourcegraph workload.

    Example: [bold]sgarch size --users 1000 --repos 80000 --total-repo-gb 800[/bold]
    """
    if output_format not in _FORMATS:
        raise ConfigError("--format", "one of " + ", ".join(_FORMATS), output_format, "pick one of them")
    workload = Workload.parse(
        names=FLAG_NAMES,
        users=users,
        repos=repos,
        total_repo_gb=total_repo_gb,
        largest_repo_gb=largest_repo_gb,
        largest_index_gb=largest_index_gb,
        code_insights=not no_code_insights,
        syntactic_code_intel=syntactic_code_intel,
    )
    est = estimate(workload)
    if output_format == "json":
        typer.echo(json.dumps(estimate_to_dict(est), indent=2))
    elif output_format == "helm":
        typer.echo(yaml.safe_dump(render_helm_values(est), sort_keys=True), nl=False)
    elif output_format == "compose":
        typer.echo(yaml.safe_dump(render_compose_override(est), sort_keys=True), nl=False)
    else:
        _print_table(est)


def estimate_to_dict(est: Estimate) -> dict[str, Any]:
    """A JSON-ready view of an estimate (stable keys, for scripts)."""
    return {
        "workload": est.workload.model_dump() | {"largest_repo_gb": est.workload.largest_repo},
        "tier": est.tier.value,
        "decided_by": est.decided_by,
        "reason": est.reason,
        "recommended_architecture": est.recommended_architecture.value,
        "recommended_instance_type": est.recommended_instance_type,
        "single_node_data_volume_gib": data_volume_gib(est.workload),
        "services": [
            {
                "name": s.name,
                "replicas": s.replicas,
                "cpu_request": s.cpu_request,
                "cpu_limit": s.cpu_limit,
                "memory_request_gb": s.memory_request_gb,
                "memory_limit_gb": s.memory_limit_gb,
                "ephemeral_limit_gb": s.ephemeral_limit_gb,
                "storage_gb": s.storage_gb,
            }
            for s in est.services
        ],
        "totals": {
            "cpu_request": est.totals.cpu_request,
            "cpu_limit": est.totals.cpu_limit,
            "memory_request_gb": est.totals.memory_request_gb,
            "memory_limit_gb": est.totals.memory_limit_gb,
            "storage_gb": est.totals.storage_gb,
        },
        "warnings": list(est.warnings),
    }


def _num(x: float) -> str:
    return f"{x:g}"


def _print_table(est: Estimate) -> None:
    # Piped output has no width; 120 columns keeps service names and numbers whole.
    console = Console() if sys.stdout.isatty() else Console(width=120)
    spec = est.tier_spec
    console.print(f"[bold]Tier {est.tier}[/bold]  {est.reason}")
    table = Table(
        title="Per-service resources: totals across replicas; CPU in cores, memory and disk in GB",
        title_justify="left",
    )
    for column in ("service", "replicas", "CPU req", "CPU lim", "mem req", "mem lim", "disk"):
        table.add_column(column, justify="left" if column == "service" else "right", no_wrap=True)
    for s in est.services:
        table.add_row(
            s.name if s.enabled else f"{s.name} (off)",
            str(s.replicas),
            _num(s.cpu_request),
            _num(s.cpu_limit),
            _num(s.memory_request_gb),
            _num(s.memory_limit_gb),
            str(s.storage_gb + int(s.ephemeral_limit_gb)) if s.name == "searcher" else str(s.storage_gb),
        )
    t = est.totals
    table.add_section()
    table.add_row(
        "[bold]total[/bold]",
        str(t.replicas),
        _num(t.cpu_request),
        _num(t.cpu_limit),
        _num(t.memory_request_gb),
        _num(t.memory_limit_gb),
        str(t.storage_gb + int(t.ephemeral_limit_gb)),
    )
    console.print(table)
    console.print(
        f"Tier capacity: up to {spec.max_users:,} users and {spec.max_repos:,} repos; "
        f"{spec.vcpu} vCPU / {spec.memory_gb} GB. Requests are a share of it; limits are upstream's figures, "
        "and memory nobody requested is page cache for gitserver and zoekt."
    )
    if est.recommended_instance_type:
        console.print(
            f"Recommended: [bold]{est.recommended_architecture}[/bold] on [bold]{est.recommended_instance_type}"
            f"[/bold] (minimum {spec.minimum_instance_type}); data volume "
            f"{data_volume_gib(est.workload):,} GiB gp3, {spec.data_volume.iops if spec.data_volume else 3000:,} "
            f"IOPS. On one machine the limits are caps the services share, not reservations."
        )
    else:
        console.print(
            f"Recommended: [bold]{est.recommended_architecture}[/bold] (Kubernetes with autoscaling); "
            f"persistent volumes {t.storage_gb:,} GB."
        )
    _print_node_groups(console, est)
    for warning in est.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")


def _print_node_groups(console: Console, est: Estimate) -> None:
    # The EKS architecture's node groups for this estimate (everything in-cluster, default headroom).
    try:
        plan = plan_node_groups(est)
    except ConfigError as exc:
        console.print(f"EKS node groups: none fit ({exc})")
        return
    itype = plan.instance_type
    console.print(
        f"EKS node groups: {plan.node_count} × {itype.name} "
        f"({' + '.join(str(n) for n in plan.nodes_per_az)} over {plan.az_count} zones), "
        f"{plan.node_count * itype.vcpu} vCPU / {plan.node_count * itype.memory_gib:,} GiB, "
        f"{plan.cpu_efficiency:.0%} of CPU and {plan.memory_efficiency:.0%} of memory requested, "
        f"about ${plan.monthly_usd:,.0f}/month on demand."
    )
    for warning in plan.warnings:
        console.print(f"[yellow]EKS:[/yellow] {warning}")
