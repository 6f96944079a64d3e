"""``sgarch ami``: build, list, prune, clean up after and publish the sgarch machine images (see ``amis/``)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from sgarch.ami import (
    BuildEvent,
    BuildOptions,
    ClientFactory,
    Interrupted,
    Leftover,
    SystemClock,
    build,
    cleanup_command,
    enabled_regions,
    find_leftovers,
    list_builds,
    load_manifest,
    load_spec,
    plan_build,
    prune,
    prune_plan,
    publish,
    remove_leftovers,
)
from sgarch.ami.cleanup import GLOBAL, Attempts
from sgarch.ami.inventory import Build
from sgarch.ami.publish import DEFAULT_TIMEOUT_SECONDS
from sgarch.ami.spec import MARKETPLACE_REGION
from sgarch.cli.app import app
from sgarch.errors import AmiBuildError, ConfigError

__all__ = ["ProgressPrinter", "ami_app"]

ami_app = typer.Typer(
    help="Build, list, prune, clean up after and publish sgarch machine images (AMIs).",
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


_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_AMI_ID = re.compile(r"^ami-([0-9a-f]{8}|[0-9a-f]{17})$")
_BUILD_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _regions(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(r.strip() for r in value.split(",") if r.strip())


def _checked_regions(value: str | None) -> tuple[str, ...] | None:
    """``--regions`` of the commands that scan: refused before any AWS call when a name is not a region."""
    regions = _regions(value)
    for region in regions or ():
        if not _REGION.match(region):
            raise ConfigError(
                "--regions", "region names like eu-west-1, comma-separated", region, "fix or drop that name"
            )
    if regions == ():
        raise ConfigError(
            "--regions", "at least one region", value, "name the regions, e.g. us-east-1,eu-west-1"
        )
    return regions


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
    if source_ami is not None and not _AMI_ID.match(source_ami):
        raise ConfigError(
            "--source-ami",
            "an AMI id like ami-0123456789abcdef0",
            source_ami,
            "copy the id from aws ec2 describe-images, or leave the flag out to use the spec's filter",
        )
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
    try:
        result = build(loaded, options, clients, emit=ProgressPrinter(console), clock=SystemClock())
    except Interrupted as exc:
        # SIGTERM/SIGHUP: the cleanups have run; exit the way a shell reports death by that signal.
        console.print(f"[red]interrupted by {exc}; the build's cleanups ran[/red]")
        raise typer.Exit(128 + exc.signum) from None
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
    where = list(_checked_regions(regions) or enabled_regions(clients, region))
    return clients, list_builds(clients, where, image)


def _print_leftovers(title: str, leftovers: list[Leftover]) -> None:
    """One line per resource, ids whole (a table would cut them in a narrow terminal)."""
    console.print(f"[bold]{title}[/bold]")
    for item in leftovers:
        detail = f" {_escape(item.detail)}" if item.detail else ""
        console.print(f"  {item.build_id}  {item.region:<15} {item.kind:<17} {item.resource_id}{detail}")


def _builds_table(title: str, builds: list[Build]) -> Table:
    table = Table(title=title)
    for column in ("Image", "Version", "Build", "Created", "Regions", "AMI name"):
        table.add_column(column)
    for item in builds:
        table.add_row(
            item.image,
            item.version,
            item.build_id[:8] + ("" if item.complete else " (incomplete)"),
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
    """List the images sgarch built, one row per build, newest first; then what builds left behind."""
    clients, builds = _scan(endpoint_url, region, regions, image)
    if not builds:
        console.print("no sgarch images found")
    else:
        console.print(_builds_table("sgarch images", builds))
    where = sorted({r for b in builds for r in b.images} | set(_checked_regions(regions) or ()))
    where = where or enabled_regions(clients, region)
    leftovers = find_leftovers(clients, where, iam_region=region)
    if image:
        # Temporary resources carry no image name; keep those of the listed builds.
        wanted = {b.build_id for b in builds}
        leftovers = [item for item in leftovers if item.build_id in wanted]
    if not leftovers:
        console.print("no build left anything behind")
        return
    _print_leftovers("left behind by failed (or still running) builds:", leftovers)
    for build_id in sorted({item.build_id for item in leftovers}):
        regions_of = sorted({item.region for item in leftovers if item.build_id == build_id} - {"global"})
        console.print(f"remove with: {cleanup_command(build_id, regions_of or [region])}")


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
    attempts = Attempts(SystemClock(), ProgressPrinter(console))
    result = prune(clients, doomed, attempts)
    count = sum(len(ids) for ids in result.deleted.values())
    console.print(f"deleted {count} image(s) in {len(result.deleted)} region(s)")
    problems = "; ".join(str(f) for f in attempts.failures)
    if not result.left:
        if problems:
            console.print(f"[yellow]! errors on the way, but nothing is left: {_escape(problems)}[/yellow]")
        return
    # An image left is removed, with its snapshots, by the same prune; a snapshot whose image is gone
    # is no longer found by prune (nor by cleanup, if it predates snapshot tags), so it gets its own command.
    again = _prune_again(keep, image, _checked_regions(regions), region)
    commands = [again] if any(item.kind == "image" for item in result.left) else []
    commands += [
        f"aws ec2 delete-snapshot --region {item.region} --snapshot-id {item.resource_id}"
        for item in result.left
        if item.kind == "snapshot"
    ]
    _print_leftovers("left behind:", result.left)
    for command in commands:
        console.print(f"remove with: {command}")
    items = ", ".join(f"{item.kind} {item.resource_id} ({item.region})" for item in result.left)
    raise AmiBuildError(
        f"prune left {items} ({problems or 'no error reported'}); remove with: {'; '.join(commands)}"
    )


def _prune_again(keep: int, image: str | None, regions: tuple[str, ...] | None, region: str) -> str:
    """The prune command as given, with --yes: it finds what is left of the same builds and removes it."""
    words = ["sgarch", "ami", "prune", "--keep", str(keep)]
    if image:
        words += ["--image", image]
    if regions:
        words += ["--regions", ",".join(regions)]
    elif region != MARKETPLACE_REGION:
        words += ["--region", region]
    return shlex.join([*words, "--yes"])


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
    timeout_seconds: int = typer.Option(
        DEFAULT_TIMEOUT_SECONDS,
        "--timeout-seconds",
        metavar="S",
        help="How long to wait for each change set (the AMI scan can take hours); a rerun resumes waiting.",
    ),
    endpoint_url: str | None = typer.Option(None, "--endpoint-url", metavar="URL", help=_ENDPOINT_HELP),
) -> None:
    """Add the manifest's us-east-1 image as a new Marketplace product version (validate, then apply).

    Safe to rerun: a change set still running from an earlier run is waited for, not started again.
    """
    if timeout_seconds < 1:
        raise ConfigError("--timeout-seconds", "1 or more", timeout_seconds, "give the wait in seconds")
    document = load_manifest(manifest)
    clients = ClientFactory(endpoint_url=endpoint_url)
    result = publish(
        document,
        client=clients.client("marketplace-catalog", MARKETPLACE_REGION),
        clock=SystemClock(),
        product_id=product_id,
        access_role_arn=access_role_arn,
        emit=ProgressPrinter(console),
        timeout_seconds=timeout_seconds,
    )
    console.print(f"[green]published:[/green] change set {result.apply_change_set_id} {result.status}")


@ami_app.command("cleanup")
def cleanup_cli(
    build_id: str = typer.Option(
        ...,
        "--build-id",
        metavar="ID",
        help="The build's id (printed by build and list; the sgarch:build-id tag).",
    ),
    regions: str | None = typer.Option(
        None, "--regions", metavar="R1,R2", help="Regions to clean; default: every enabled region."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what the build left; remove nothing."),
    region: str = typer.Option(
        MARKETPLACE_REGION, "--region", help="Region asked for the enabled regions and used for IAM."
    ),
    endpoint_url: str | None = typer.Option(None, "--endpoint-url", metavar="URL", help=_ENDPOINT_HELP),
) -> None:
    """Remove everything a build left: instances, groups, volumes, incomplete images, snapshots, IAM.

    Found by the build's tag and the /sgarch-build/ IAM path, also after a build was killed. Safe to run
    twice; complete images are kept (sgarch ami prune removes those). A build still running is not told
    apart from a dead one: use --dry-run first.
    """
    if not _BUILD_ID.match(build_id):
        raise ConfigError(
            "--build-id",
            "a build id like 0f8fad5b-d9cb-469f-a165-70867728950e",
            build_id,
            "copy it from the build's output or from sgarch ami list",
        )
    clients = ClientFactory(endpoint_url=endpoint_url)
    where = list(_checked_regions(regions) or enabled_regions(clients, region))
    found = find_leftovers(clients, where, build_id, iam_region=region)
    if not found:
        console.print(f"nothing left by build {build_id} in {len(where)} region(s)")
        return
    _print_leftovers("would remove (dry run):" if dry_run else "removing:", found)
    if dry_run:
        console.print("dry run: run again without --dry-run to remove these")
        return
    attempts = Attempts(SystemClock(), ProgressPrinter(console))
    remove_leftovers(clients, found, attempts, iam_region=region)
    try:
        left = find_leftovers(clients, where, build_id, iam_region=region)
    except Exception as exc:  # the look can fail as the removal did: then count everything as left
        attempts.fail("look again for what is left", ",".join(where), exc)
        left = found
    if attempts.failures or left:
        problems = "; ".join(str(f) for f in attempts.failures) or "no error reported"
        ids = ", ".join(f"{item.kind} {item.resource_id} ({item.region})" for item in left) or "nothing"
        again = cleanup_command(build_id, sorted({i.region for i in left} - {GLOBAL}) or where)
        if left:
            _print_leftovers("left behind:", left)
            console.print(f"remove with: {again}")
        raise AmiBuildError(f"cleanup of build {build_id} left {ids} ({problems}); remove with: {again}")
    console.print(f"[green]removed {len(found)} resource(s)[/green] of build {build_id}")
