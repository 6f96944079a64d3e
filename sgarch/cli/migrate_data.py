"""``sgarch migrate export``, ``import`` and ``abort``: the commands that move the data.

sgarch migrate export --stack-outputs old.json --bucket my-sg-migration
sgarch migrate import --to single-node --stack-outputs new.json --manifest s3://my-sg-migration/exports/i-0abc/manifest.json
sgarch migrate import --to single-node --stack-outputs new.json --manifest s3://... --finish
sgarch migrate abort --stack-outputs old.json
"""

from __future__ import annotations

import time

import typer
from rich.console import Console

from sgarch.cli.migrate import migrate_app
from sgarch.errors import ConfigError
from sgarch.migrate.manifest import Manifest, parse_s3_url
from sgarch.migrate.s3 import ensure_bucket, s3_client
from sgarch.migrate.single_node import (
    ManifestStore,
    export_single_node,
    import_single_node,
    load_export,
    maintenance,
)
from sgarch.migrate.ssm import SsmHost
from sgarch.upgrade.aws import client
from sgarch.upgrade.outputs import load_stack_outputs, resolve_region

__all__ = ["migrate_app"]

err_console = Console(stderr=True, highlight=False, soft_wrap=True)

_TARGETS = ("single-node", "eks")
_REGION_HELP = "AWS region. Default: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1."
_ENDPOINT_HELP = "Send AWS calls here (a local AWS stand-in)."


def _progress(message: str) -> None:
    err_console.print(f"{time.strftime('%H:%M:%S')} {message}", markup=False)


def _host(instance_id: str, region: str, endpoint_url: str | None, poll_seconds: float) -> SsmHost:
    return SsmHost(client("ssm", region, endpoint_url), instance_id, poll_seconds=poll_seconds)


@migrate_app.command("export")
def export(
    stack_outputs: str = typer.Option(
        ..., "--stack-outputs", metavar="FILE", help="The source single node's `pulumi stack output --json`."
    ),
    bucket: str = typer.Option(
        ...,
        "--bucket",
        metavar="NAME",
        help="The migration bucket; created (locked down) when missing, never deleted.",
    ),
    prefix: str = typer.Option(
        None, "--prefix", metavar="PREFIX", help="Where in the bucket. Default: exports/<instance id>."
    ),
    region: str = typer.Option(None, "--region", help=_REGION_HELP),
    endpoint_url: str = typer.Option(None, "--endpoint-url", metavar="URL", help=_ENDPOINT_HELP),
    kms_key_id: str = typer.Option(
        None,
        "--kms-key-id",
        metavar="KEY",
        help="KMS key for the bucket and the files. Default: the bucket's default key (aws/s3 for a new bucket).",
    ),
    row_checksums: bool = typer.Option(
        False,
        "--row-checksums",
        help="Also checksum every row of every table (reads each database once more).",
    ),
    poll_seconds: float = typer.Option(5.0, "--poll-seconds", help="Seconds between SSM status checks."),
) -> None:
    """Export a single node's three databases and blobs to S3, with a manifest; the source stays in maintenance mode.

    Needs a snapshot of the data volume from the last hour (`sgarch upgrade snapshot`). Runs through SSM: no
    SSH, no inbound port, no change to the instance role. Safe to run again: finished steps are skipped.
    `sgarch migrate abort` lifts maintenance mode.

    Example: [bold]sgarch migrate export --stack-outputs old.json --bucket my-sg-migration[/bold]
    """
    outputs = load_stack_outputs(stack_outputs)
    assert outputs.instance_id
    where = resolve_region(region)
    s3 = s3_client(where, endpoint_url)
    check = ensure_bucket(s3, bucket, where, kms_key_id)
    if check.created:
        _progress(f"created bucket {bucket} (versioned, private, SSE-KMS, TLS only)")
    store = ManifestStore(
        s3, bucket, (prefix or f"exports/{outputs.instance_id}").strip("/"), check.kms_key_id
    )
    manifest = export_single_node(
        outputs,
        host=_host(outputs.instance_id, where, endpoint_url, poll_seconds),
        ec2=client("ec2", where, endpoint_url),
        store=store,
        region=where,
        row_checksums=row_checksums,
        progress=_progress,
    )
    typer.echo(manifest.url)
    _progress(
        "next: sgarch migrate import --to single-node|eks --stack-outputs NEW.json --manifest " + manifest.url
    )


@migrate_app.command("import")
def import_(
    to: str = typer.Option(
        ..., "--to", metavar="ARCH", help="single-node or eks: the target's architecture."
    ),
    stack_outputs: str = typer.Option(
        ..., "--stack-outputs", metavar="FILE", help="The TARGET stack's `pulumi stack output --json`."
    ),
    manifest_url: str = typer.Option(
        ..., "--manifest", metavar="S3_URL", help="s3://BUCKET/PREFIX/manifest.json, as export printed it."
    ),
    finish: bool = typer.Option(
        False,
        "--finish",
        help="single-node: after checking the target, leave maintenance mode (start Sourcegraph).",
    ),
    region: str = typer.Option(None, "--region", help=_REGION_HELP),
    endpoint_url: str = typer.Option(None, "--endpoint-url", metavar="URL", help=_ENDPOINT_HELP),
    kms_key_id: str = typer.Option(
        None,
        "--kms-key-id",
        metavar="KEY_ARN",
        help="eks: the bundle's KMS key ARN. Default: the manifest's.",
    ),
    namespace: str = typer.Option(
        "sourcegraph", "--namespace", metavar="NS", help="eks: the release namespace."
    ),
    stack_dir: str = typer.Option(
        "stacks/eks", "--stack-dir", metavar="DIR", help="eks: the EKS stack's folder."
    ),
    poll_seconds: float = typer.Option(5.0, "--poll-seconds", help="Seconds between SSM status checks."),
) -> None:
    """Restore an export onto a new deployment, check SHA-256 sums and row counts; the target stays in maintenance mode.

    single-node: runs through SSM, like export; the target's databases and blob store are REPLACED. Safe to
    run again. When the site looks right, run the same command with --finish. eks: prints the `pulumi config
    set` and `pulumi up` steps that run the import Jobs.

    Example: [bold]sgarch migrate import --to single-node --stack-outputs new.json --manifest s3://b/exports/i-0abc/manifest.json[/bold]
    """
    if to not in _TARGETS:
        raise ConfigError("--to", "single-node or eks", to, "pick one of them")
    bucket, key = parse_s3_url(manifest_url)
    if not key.endswith("/manifest.json"):
        raise ConfigError(
            "--manifest", "an S3 URL ending in /manifest.json", manifest_url, "copy it from export's output"
        )
    where = resolve_region(region)
    if to == "eks":
        _import_eks(stack_outputs, manifest_url, where, endpoint_url, kms_key_id, namespace, stack_dir)
        return
    outputs = load_stack_outputs(stack_outputs)
    assert outputs.instance_id
    host = _host(outputs.instance_id, where, endpoint_url, poll_seconds)
    store = ManifestStore(s3_client(where, endpoint_url), bucket, key.removesuffix("/manifest.json"))
    manifest = load_export(store, manifest_url)
    store.kms_key_id = manifest.kms_key_id
    if finish:
        _finish(host, store, manifest, outputs.instance_id)
        return
    import_single_node(outputs, manifest, host=host, store=store, progress=_progress)
    typer.echo(f"imported {manifest.url} onto {outputs.instance_id} (maintenance mode on)")
    _progress(
        "next: check the site, then: sgarch migrate import --to single-node "
        f"--stack-outputs {stack_outputs} --manifest {manifest.url} --finish"
    )


def _finish(host: SsmHost, store: ManifestStore, manifest: Manifest, target: str) -> None:
    state = manifest.imports.get(target)
    if state is None or not state.finished_at:
        raise ConfigError(
            "--finish",
            "used after a finished import",
            True,
            "run the import without --finish until it succeeds",
        )
    maintenance(host, "off", f"import-{manifest.prefix}")
    state.steps["finish"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    store.save(manifest)
    typer.echo(f"{target}: maintenance mode off; Sourcegraph starts on the imported data")
    _progress("next: point DNS (or the load balancer) at it; repositories are cloned and indexed again")


def _import_eks(
    stack_outputs: str,
    manifest_url: str,
    region: str,
    endpoint_url: str | None,
    kms_key_id: str | None,
    namespace: str,
    stack_dir: str,
) -> None:
    from sgarch.migrate.k8s import eks_import_steps

    outputs = load_stack_outputs(stack_outputs, require=())
    bucket, key = parse_s3_url(manifest_url)
    store = ManifestStore(s3_client(region, endpoint_url), bucket, key.removesuffix("/manifest.json"))
    manifest = load_export(store, manifest_url)
    if outputs.sourcegraph_version and outputs.sourcegraph_version != manifest.sourcegraph_version:
        raise ConfigError(
            "--stack-outputs sourcegraph_version",
            f"{manifest.sourcegraph_version}, the exported data's release",
            outputs.sourcegraph_version,
            f"pin the EKS stack to it first (`pulumi config set sourcegraph_version {manifest.sourcegraph_version}`)",
        )
    key_arn = kms_key_id or manifest.kms_key_id
    if not key_arn:
        raise ConfigError(
            "--kms-key-id",
            "the ARN of the bundle's KMS key",
            None,
            "the manifest names none; pass the bucket's key ARN",
        )
    steps = eks_import_steps(manifest_url, key_arn, namespace=namespace, stack_dir=stack_dir)
    lines = [f"Import {manifest_url} (Sourcegraph {manifest.sourcegraph_version}) into EKS:"]
    for number, step in enumerate(steps, start=1):
        lines.append(f"{number:>3}. {step.title}")
        lines += [f"       $ {command}" for command in step.commands]
        lines.append(f"       touches: {step.touches}")
    typer.echo("\n".join(lines))


@migrate_app.command("abort")
def abort(
    stack_outputs: str = typer.Option(
        ...,
        "--stack-outputs",
        metavar="FILE",
        help="The `pulumi stack output --json` of the node to give back.",
    ),
    region: str = typer.Option(None, "--region", help=_REGION_HELP),
    endpoint_url: str = typer.Option(None, "--endpoint-url", metavar="URL", help=_ENDPOINT_HELP),
    poll_seconds: float = typer.Option(5.0, "--poll-seconds", help="Seconds between SSM status checks."),
) -> None:
    """Lift maintenance mode on a single node: restart exactly the services export stopped, remove the page.

    Nothing else changes; the export's files stay in the bucket. An export run later takes fresh dumps
    (writes may have happened since). On an import target, this starts Sourcegraph on whatever the import
    restored so far.

    Example: [bold]sgarch migrate abort --stack-outputs old.json[/bold]
    """
    outputs = load_stack_outputs(stack_outputs, require=("instance_id",))
    assert outputs.instance_id
    host = _host(outputs.instance_id, resolve_region(region), endpoint_url, poll_seconds)
    maintenance(host, "off")
    typer.echo(f"{outputs.instance_id}: maintenance mode off")
