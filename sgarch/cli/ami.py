"""``sgarch ami``: build, list, prune and publish the sgarch machine images (see ``amis/``)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from sgarch.ami import (
    BuildEvent,
    BuildOptions,
    ClientFactory,
    SystemClock,
    build,
    enabled_regions,
    list_builds,
    load_manifest,
    load_spec,
    plan_build,
    prune,
    prune_plan,
    publish,
)
from sgarch.ami.inventory import Build
from sgarch.ami.spec import MARKETPLACE_REGION
from sgarch.cli.app import app

__all__ = ["ProgressPrinter", "ami_app"]

ami_app = typer.Typer(
    help="Build, list, prune and publish sgarch machine images (AMIs).",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(ami_app, name="ami")

console = Console(highlight=False, soft_wrap=True)

_ENDPOINT_HELP = "Send every AWS call here (a local emulator such as moto); default: AWS itself."


class ProgressPrinter:
    """Renders build events with rich: one line per step, one per region, script output dimmed."""

    def __init__(self, out: Console) -> None:
        self.out = out
        self._cleanup_header = False

    def __call__(self, event: BuildEvent) -> None:
        """Print one event (called from several threads; rich's console serialises output)."""
        took = f" [dim]({event.seconds:.1f} s)[/dim]" if event.seconds is not None else ""
        message = _escape(event.message)
        if event.kind == "step-started":
            self.out.print(f"[bold]→ {event.step}[/bold]")
        elif event.kind == "step-finished":
            self.out.print(f"[green]✓ {event.step}[/green]{took}")
        elif event.kind == "step-failed":
            self.out.print(f"[red]✗ {event.step}: {message}[/red]")
        elif event.kind == "region":
            self.out.print(f"  [cyan]{event.region:<15}[/cyan] {event.step}: {message}{took}")
        elif event.kind == "output":
            self.out.print(f"    [dim]│ {message}[/dim]")
        elif event.kind == "info":
            self.out.print(f"  {message}")
        elif event.kind == "warning":
            self.out.print(f"  [yellow]! {message}[/yellow]")
        elif event.kind == "cleanup-failed":
            self.out.print(f"[red]✗ cleanup {event.step}: {message}[/red]")
        elif event.kind == "cleanup-started" and not self._cleanup_header:
            self._cleanup_header = True
            self.out.print(
                "[bold]→ cleanup[/bold] [dim](temporary resources; images too if the build failed)[/dim]"
            )


def _escape(text: str) -> str:
    return text.replace("[", r"\[")


def _regions(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(r.strip() for r in value.split(",") if r.strip())


@ami_app.command("build")
def build_command(
    spec: str = typer.Argument(..., metavar="SPEC", help="Spec folder (holding ami.yaml) or the YAML file."),
    version: str | None = typer.Option(
        None, "--version", metavar="X.Y.Z", help="Sourcegraph version; default: the spec's."
    ),
    regions: str | None = typer.Option(
        None, "--regions", metavar="R1,R2", help="Copy regions, comma-separated; replaces the spec's list."
    ),
    source_ami: str | None = typer.Option(
        None, "--source-ami", metavar="AMI_ID", help="Start from this image instead of the spec's filter."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be built; call no AWS API."),
    force: bool = typer.Option(False, "--force", help="Build even if an image of this exact spec exists."),
    manifest: Path | None = typer.Option(
        None, "--manifest", metavar="PATH", help="Manifest path; default: <name>-<version>.manifest.json."
    ),
    endpoint_url: str | None = typer.Option(None, "--endpoint-url", metavar="URL", help=_ENDPOINT_HELP),
) -> None:
    """Build an image: launch, provision over SSM, harden, snapshot, copy, share, write the manifest."""
    loaded = load_spec(spec).with_overrides(version=version, copy_regions=_regions(regions))
    plan = plan_build(loaded)
    if dry_run:
        table = Table(title=f"{plan.name} {plan.version} (dry run)", show_header=False)
        table.add_row("spec hash", plan.spec_hash[:16])
        table.add_row("build region", plan.build_region)
        table.add_row("copy regions", ", ".join(plan.copy_regions) or "none")
        table.add_row("files", "\n".join(plan.files) or "none")
        table.add_row("scripts", "\n".join(plan.scripts))
        table.add_row("shared with", "\n".join(plan.shared_with) or "nobody")
        table.add_row("steps", " → ".join(plan.steps))
        console.print(table)
        return
    options = BuildOptions(source_ami=source_ami, force=force, manifest_path=manifest)
    clients = ClientFactory(endpoint_url=endpoint_url)
    result = build(loaded, options, clients, emit=ProgressPrinter(console), clock=SystemClock())
    if result.skipped:
        console.print(
            f"[green]up to date:[/green] {result.existing_image_id} already holds this spec; nothing built"
        )
        return
    table = Table(title=result.ami_name)
    table.add_column("Region")
    table.add_column("AMI")
    for region, image_id in result.images.items():
        table.add_row(region, image_id)
    console.print(table)
    console.print(f"manifest: {result.manifest_path}")


def _scan(
    endpoint_url: str | None, region: str, regions: str | None, image: str | None
) -> tuple[ClientFactory, list[Build]]:
    clients = ClientFactory(endpoint_url=endpoint_url)
    where = list(_regions(regions) or enabled_regions(clients, region))
    return clients, list_builds(clients, where, image)


def _builds_table(title: str, builds: list[Build]) -> Table:
    table = Table(title=title)
    for column in ("Image", "Version", "Build", "Created", "Regions", "AMI name"):
        table.add_column(column)
    for item in builds:
        table.add_row(
            item.image,
            item.version,
            item.build_id[:8],
            item.created,
            ", ".join(f"{r}:{i.image_id}" for r, i in item.images.items()),
            item.ami_name,
        )
    return table


@ami_app.command("list")
def list_command(
    image: str | None = typer.Option(None, "--image", metavar="NAME", help="Only this image family."),
    regions: str | None = typer.Option(
        None, "--regions", metavar="R1,R2", help="Regions to scan; default: every enabled region."
    ),
    region: str = typer.Option(MARKETPLACE_REGION, "--region", help="Region asked for the enabled regions."),
    endpoint_url: str | None = typer.Option(None, "--endpoint-url", metavar="URL", help=_ENDPOINT_HELP),
) -> None:
    """List the images sgarch built, one row per build, newest first."""
    _, builds = _scan(endpoint_url, region, regions, image)
    if not builds:
        console.print("no sgarch images found")
        return
    console.print(_builds_table("sgarch images", builds))


@ami_app.command("prune")
def prune_command(
    keep: int = typer.Option(
        ..., "--keep", metavar="N", help="Builds to keep per image family (newest first)."
    ),
    image: str | None = typer.Option(None, "--image", metavar="NAME", help="Only this image family."),
    yes: bool = typer.Option(
        False, "--yes", help="Really delete; without it prune only shows what would go."
    ),
    regions: str | None = typer.Option(
        None, "--regions", metavar="R1,R2", help="Regions to prune; default: every enabled region."
    ),
    region: str = typer.Option(MARKETPLACE_REGION, "--region", help="Region asked for the enabled regions."),
    endpoint_url: str | None = typer.Option(None, "--endpoint-url", metavar="URL", help=_ENDPOINT_HELP),
) -> None:
    """Deregister all but the newest N builds and delete their snapshots, in every region."""
    prune_plan([], keep)  # validates --keep before any AWS call
    clients, builds = _scan(endpoint_url, region, regions, image)
    doomed = prune_plan(builds, keep)
    if not doomed:
        console.print(f"nothing to prune: at most {keep} build(s) per image")
        return
    console.print(_builds_table("to delete" if yes else "would delete (dry run)", doomed))
    if not yes:
        console.print("dry run: pass --yes to deregister these images and delete their snapshots")
        return
    deleted = prune(clients, doomed, emit=ProgressPrinter(console))
    console.print(f"deleted {sum(len(v) for v in deleted.values())} image(s) in {len(deleted)} region(s)")


@ami_app.command("publish")
def publish_command(
    manifest: Path = typer.Argument(..., metavar="MANIFEST", help="Manifest written by sgarch ami build."),
    product_id: str | None = typer.Option(
        None, "--product-id", metavar="prod-…", help="Marketplace product; default: the spec's."
    ),
    access_role_arn: str | None = typer.Option(
        None,
        "--access-role-arn",
        metavar="ARN",
        help="Role Marketplace assumes to read the AMI; default: the spec's.",
    ),
    endpoint_url: str | None = typer.Option(None, "--endpoint-url", metavar="URL", help=_ENDPOINT_HELP),
) -> None:
    """Add the manifest's us-east-1 image as a new Marketplace product version (validate, then apply)."""
    document = load_manifest(manifest)
    clients = ClientFactory(endpoint_url=endpoint_url)
    result = publish(
        document,
        client=clients.client("marketplace-catalog", MARKETPLACE_REGION),
        clock=SystemClock(),
        product_id=product_id,
        access_role_arn=access_role_arn,
        emit=ProgressPrinter(console),
    )
    console.print(f"[green]published:[/green] change set {result.apply_change_set_id} {result.status}")
