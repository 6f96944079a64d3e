"""``sgarch plan``: run a stack folder offline under mocks and show what it would create."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from sgarch.cli.app import app
from sgarch.cost import estimate_cost, render_cost
from sgarch.errors import ConfigError
from sgarch.plan import Plan, full_key, json_ready, run_plan
from sgarch.policy import SUPPRESSIONS_KEY, evaluate, has_blocking, render_findings
from sgarch.testing import SECRET_PLACEHOLDER, ResourceRecord

__all__ = ["KEY_INPUTS", "plan", "render_plan"]

KEY_INPUTS = (
    "instanceType",
    "ami",
    "cidrBlock",
    "cidrIpv4",
    "availabilityZone",
    "availabilityZoneId",
    "size",
    "type",
    "iops",
    "throughput",
    "encrypted",
    "internal",
    "loadBalancerType",
    "port",
    "protocol",
    "fromPort",
    "toPort",
    "ipProtocol",
    "serviceName",
    "vpcEndpointType",
    "destinationCidrBlock",
    "domain",
    "domainName",
    "name",
    "version",
    "chart",
)
"""Inputs shown next to each resource in the tree, when present; ``--json`` has all of them."""

_MAX_VALUE = 48


@app.command("plan")
def plan(
    stack_dir: Path = typer.Argument(..., help="A stack folder (with Pulumi.yaml and __main__.py)."),
    stack: str = typer.Option(
        None,
        "--stack",
        "-s",
        help="Stack whose Pulumi.<NAME>.yaml to use. Default: the only one, else dev.",
        metavar="NAME",
    ),
    config: list[str] = typer.Option(
        None,
        "--config",
        "-c",
        help="Override a config value; repeatable (tier=M, aws:region=eu-west-1).",
        metavar="KEY=VALUE",
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print every resource (all inputs), export, cost line and finding as JSON."
    ),
    all_costs: bool = typer.Option(False, "--cost", help="Show every cost line, not only the largest five."),
    strict: bool = typer.Option(
        False, "--strict", help="Exit 1 when a policy finding of high severity or above is not suppressed."
    ),
) -> None:
    """Plan a stack offline: resources with their key inputs, counts, exports, monthly cost and policy findings.

    Needs no AWS credentials and no Pulumi CLI. Suppress a policy rule only with a written reason, in the
    stack config key [bold]policy_suppressions[/bold] (a map of rule id to reason).

    Example: [bold]sgarch plan stacks/single-node --config tier=M --cost[/bold]
    """
    result = run_plan(stack_dir, stack=stack, config=list(config or []))
    region = str(result.config.get("aws:region") or "us-east-1")
    cost = estimate_cost(result.resources, region)
    findings = evaluate(result.resources, _suppressions(result))
    result.sections["cost"] = cost.to_dict()
    result.sections["policy"] = {"findings": [f.to_dict() for f in findings]}
    if as_json:
        typer.echo(result.to_json())
    else:
        # Piped output has no width; 120 columns keeps type tokens and prices on one line.
        console = Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 120)
        render_plan(result, console)
        render_cost(console, cost, None if all_costs else 5)
        render_findings(console, findings)
    if strict and has_blocking(findings, "high"):
        raise typer.Exit(1)


def _suppressions(result: Plan) -> dict[str, str]:
    """The stack's ``policy_suppressions`` config: a map of rule id to the written reason."""
    raw = result.config.get(full_key(result.project, SUPPRESSIONS_KEY))
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ConfigError(
            SUPPRESSIONS_KEY, "a map of rule id to a written reason", raw, "for example {SGA-010: <why>}"
        )
    return {str(k): str(v) for k, v in value.items()}


def render_plan(result: Plan, console: Console) -> None:
    """Print the resource tree, the count per type and the exports."""
    root = Tree(f"[bold]{escape(result.project)}[/bold] / {escape(result.stack)}")
    nodes: list[Tree] = [root]
    for depth, record in result.ordered():
        del nodes[depth + 1 :]
        nodes.append(nodes[depth].add(_label(record)))
    console.print(root)

    counts = Table(title="Resources", show_edge=False, title_justify="left")
    counts.add_column("type")
    counts.add_column("count", justify="right")
    for type_, count in result.type_counts().items():
        counts.add_row(escape(type_), str(count))
    counts.add_row("[bold]total[/bold]", f"[bold]{len(result.resources)}[/bold]")
    console.print(counts)

    if result.exports:
        exports = Table(title="Exports", show_edge=False, title_justify="left")
        exports.add_column("name")
        exports.add_column("value")
        for key, value in sorted(result.exports.items()):
            shown = SECRET_PLACEHOLDER if key in result.secret_exports else _short(json_ready(value), 80)
            exports.add_row(escape(key), escape(shown))
        console.print(exports)


def _label(record: ResourceRecord) -> str:
    inputs = json_ready(record.redacted_inputs())
    shown = [f"{key}={_short(inputs[key])}" for key in KEY_INPUTS if key in inputs]
    flags = [name for name in record.options.non_default() if name in ("protect", "retain_on_delete")]
    style = "cyan" if record.custom else "magenta"
    label = f"[{style}]{escape(record.type)}[/{style}] [bold]{escape(record.name)}[/bold]"
    if flags:
        label += " [yellow]" + escape(" ".join(f"[{f}]" for f in flags)) + "[/yellow]"
    if shown:
        label += " [dim]" + escape(" ".join(shown)) + "[/dim]"
    return label


def _short(value: Any, limit: int = _MAX_VALUE) -> str:
    text = value if isinstance(value, str) else _compact(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _compact(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))
