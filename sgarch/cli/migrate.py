"""``sgarch migrate``: move a running Sourcegraph between single-node and EKS, with its data.

sgarch migrate plan --from single-node --to eks --from-version 7.5.4453 --to-version 7.5.4453
"""

from __future__ import annotations

import json

import typer
from rich.console import Console

from sgarch.cli.app import app
from sgarch.errors import ConfigError
from sgarch.migrate.plan import plan_migration
from sgarch.migrate.render import render_plan

__all__ = ["migrate_app"]

migrate_app = typer.Typer(
    name="migrate",
    help="Move a running Sourcegraph between single-node and EKS: plan, export, import, abort.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(migrate_app, name="migrate")

err_console = Console(stderr=True, highlight=False, soft_wrap=True)

_FORMATS = ("text", "json")


@migrate_app.command("plan")
def plan(
    from_arch: str = typer.Option(
        ..., "--from", metavar="ARCH", help="Where Sourcegraph runs now: single-node or eks."
    ),
    to_arch: str = typer.Option(..., "--to", metavar="ARCH", help="Where it moves: eks or single-node."),
    from_version: str = typer.Option(..., "--from-version", metavar="X.Y.Z", help="The source's release."),
    to_version: str = typer.Option(..., "--to-version", metavar="X.Y.Z", help="The target's release."),
    data_gb: float = typer.Option(
        None,
        "--data-gb",
        metavar="N",
        help="GB on disk of the three databases and the blobs, for the estimate.",
    ),
    from_tier: str = typer.Option(None, "--from-tier", metavar="TIER", help="The source's tier (XS to 3XL)."),
    to_tier: str = typer.Option(None, "--to-tier", metavar="TIER", help="The target's tier (XS to 3XL)."),
    output_format: str = typer.Option("text", "--format", metavar="FORMAT", help="text or json."),
) -> None:
    """Print the numbered steps that move Sourcegraph and its data between single-node and EKS.

    Exit 0 with a plan, 1 when a gate forbids the move, 2 for bad input.

    Example: [bold]sgarch migrate plan --from single-node --to eks --from-version 7.5.4453 --to-version 7.5.4453[/bold]
    """
    if output_format not in _FORMATS:
        raise ConfigError("--format", "one of " + ", ".join(_FORMATS), output_format, "pick one of them")
    result = plan_migration(from_arch, to_arch, from_version, to_version, data_gb, from_tier, to_tier)
    if output_format == "json":
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        typer.echo(render_plan(result), nl=False)
    if result.blocked:
        err_console.print(f"error: migration blocked: {result.blocked}.", markup=False)
        raise typer.Exit(1)
