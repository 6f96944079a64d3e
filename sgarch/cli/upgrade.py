"""``sgarch upgrade``: plan an upgrade through Sourcegraph's hard gates, and snapshot before it.

sgarch upgrade plan --from 5.9.45 --to 7.5.4453 --arch single-node
sgarch upgrade snapshot --stack-outputs outputs.json
"""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn

from sgarch.cli.app import app
from sgarch.errors import ConfigError
from sgarch.upgrade.aws import client
from sgarch.upgrade.outputs import load_stack_outputs, resolve_region
from sgarch.upgrade.plan import UpgradeKind, UpgradePlan, plan_upgrade
from sgarch.upgrade.snapshot import snapshot_deployment
from sgarch.upgrade.versions import minor_distance, parse_version

__all__ = ["render_plan", "upgrade_app"]

upgrade_app = typer.Typer(
    name="upgrade",
    help="Plan Sourcegraph upgrades through the hard gates, and snapshot the data before one.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(upgrade_app, name="upgrade")

err_console = Console(stderr=True, highlight=False, soft_wrap=True)

_FORMATS = ("text", "json")


@upgrade_app.command("plan")
def plan(
    from_version: str = typer.Option(
        ..., "--from", metavar="X.Y.Z", help="The version running now (the data volume's version)."
    ),
    to_version: str = typer.Option(..., "--to", metavar="X.Y.Z", help="The version to go to."),
    arch: str = typer.Option(..., "--arch", metavar="ARCH", help="single-node or eks."),
    namespace: str = typer.Option(
        "sourcegraph", "--namespace", metavar="NS", help="eks: the namespace of the Helm release."
    ),
    output_format: str = typer.Option("text", "--format", metavar="FORMAT", help="text or json."),
) -> None:
    """Print the numbered steps from one Sourcegraph version to another, with the gates that apply.

    Exit 0 with a plan, 1 when a gate forbids the upgrade, 2 for a bad version or architecture.

    Example: [bold]sgarch upgrade plan --from 5.9.45 --to 7.5.4453 --arch single-node[/bold]
    """
    if output_format not in _FORMATS:
        raise ConfigError("--format", "one of " + ", ".join(_FORMATS), output_format, "pick one of them")
    result = plan_upgrade(from_version, to_version, arch, namespace=namespace)
    if output_format == "json":
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        typer.echo(render_plan(result), nl=False)
    if result.blocked:
        err_console.print(f"error: upgrade blocked: {result.blocked}.", markup=False)
        raise typer.Exit(1)


def render_plan(result: UpgradePlan) -> str:
    """The plan as plain text: commands unwrapped and unstyled, so they copy and paste."""
    head = f"{result.start} -> {result.end} on {result.arch.value}"
    if result.kind is UpgradeKind.NONE:
        return f"Nothing to do: {result.start} is already the target.\n"
    distance = abs(minor_distance(result.start, result.end))
    minors = f"{distance} minor version{'s' if distance != 1 else ''}"
    verb = "Downgrade" if result.end < result.start else "Upgrade"
    lines = [f"{verb} {head}: {result.kind.value} ({minors})"]
    if len(result.path) > 2:
        lines.append("Path: " + " -> ".join(str(v) for v in result.path))
    if result.gates:
        lines += ["", "Gates:"]
        lines += [f"  [{g.effect}] {g.id}: {g.title} ({g.why})." for g in result.gates]
    if result.steps and result.arch.value == "single-node" and result.kind.value == "multi-version":
        lines += [
            "",
            "On single-node the boot script can run each migrator hop for you: snapshot, then pin each stop of",
            "the path in turn (`pulumi config set sourcegraph_version <stop>`) and `pulumi up`; the new instance",
            "runs `migrator upgrade` from the data's version before it starts Sourcegraph, and refuses a jump a",
            "gate forbids (see /mnt/data/.sgarch-upgrade-status). The steps below do the same by hand.",
        ]
    if result.steps:
        lines += ["", "Steps:"]
    for number, step in enumerate(result.steps, start=1):
        lines.append(f"{number:>3}. {step.title}")
        lines += [f"       $ {command}" for command in step.commands]
        if step.detail:
            lines.append(f"       {step.detail}")
    return "\n".join(lines) + "\n"


@upgrade_app.command("snapshot")
def snapshot(
    stack_outputs: str = typer.Option(
        ..., "--stack-outputs", metavar="FILE", help="The output of `pulumi stack output --json`."
    ),
    sourcegraph_version: str = typer.Option(
        None,
        "--sourcegraph-version",
        metavar="X.Y.Z",
        help="The version the data is at, for the tag. Default: sourcegraph_version from the outputs.",
    ),
    region: str = typer.Option(
        None, "--region", help="AWS region. Default: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1."
    ),
    endpoint_url: str = typer.Option(
        None, "--endpoint-url", metavar="URL", help="Send AWS calls here (a local AWS stand-in)."
    ),
    poll_seconds: float = typer.Option(15.0, "--poll-seconds", help="Seconds between progress checks."),
) -> None:
    """Snapshot the data volume (and the RDS instances in the outputs), tag them, wait, print the ids.

    Safe to run twice: a matching snapshot from the last hour, or one still in progress, is reused.

    Example: [bold]pulumi stack output --json > outputs.json && sgarch upgrade snapshot --stack-outputs outputs.json[/bold]
    """
    outputs = load_stack_outputs(stack_outputs, require=())
    text = sourcegraph_version or outputs.sourcegraph_version
    if not text:
        raise ConfigError(
            "--sourcegraph-version",
            "set when the stack outputs have no sourcegraph_version",
            None,
            "pass the version the data is at",
        )
    version = parse_version(text, "--sourcegraph-version" if sourcegraph_version else "sourcegraph_version")
    where = resolve_region(region)
    ec2 = client("ec2", where, endpoint_url)
    rds = client("rds", where, endpoint_url) if outputs.rds_instance_ids else None

    tasks: dict[str, TaskID] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        console=err_console,
        transient=True,
    ) as bar:

        def progress(source: str, snapshot_id: str, percent: int) -> None:
            if snapshot_id not in tasks:
                tasks[snapshot_id] = bar.add_task(f"{snapshot_id} of {source}", total=100)
            bar.update(tasks[snapshot_id], completed=percent)

        results = snapshot_deployment(
            outputs,
            version,
            ec2=ec2,
            rds=rds,
            region=where,
            progress=progress,
            poll_seconds=poll_seconds,
        )
    for item in results:
        how = "reused" if item.reused else "new"
        typer.echo(f"{item.kind}  {item.source_id}  {item.snapshot_id}  ({how}, sourcegraph {version})")
