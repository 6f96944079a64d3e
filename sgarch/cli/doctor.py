"""``sgarch doctor``: check a live single-node deployment, and write the support bundle.

sgarch doctor --stack-outputs outputs.json [--support-bundle support.md] [--region R] [--endpoint-url URL]
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import typer

from sgarch import __version__
from sgarch.cli.app import app
from sgarch.doctor.bundle import render_support_bundle
from sgarch.doctor.checks import DoctorContext, Status, exit_status, run_checks
from sgarch.errors import ConfigError
from sgarch.upgrade.aws import client
from sgarch.upgrade.outputs import load_stack_outputs, resolve_region

__all__ = ["doctor"]


@app.command("doctor")
def doctor(
    stack_outputs: str = typer.Option(
        ..., "--stack-outputs", metavar="FILE", help="The output of `pulumi stack output --json`."
    ),
    support_bundle: str = typer.Option(
        None,
        "--support-bundle",
        metavar="OUT.md",
        help="Also write the escalation template for support (secrets redacted) to this file.",
    ),
    region: str = typer.Option(
        None, "--region", help="AWS region. Default: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1."
    ),
    endpoint_url: str = typer.Option(
        None, "--endpoint-url", metavar="URL", help="Send AWS calls here (a local AWS stand-in)."
    ),
) -> None:
    """Check the deployment: instance, data volume, open ports, load balancer, SSM, snapshots, version.

    One line per check (ok, warn, fail, skip or "could not check") with its fix. Exit 0 when nothing
    fails, 1 otherwise, 2 for an unusable outputs file.

    Example: [bold]pulumi stack output --json > outputs.json && sgarch doctor --stack-outputs outputs.json[/bold]
    """
    outputs = load_stack_outputs(stack_outputs)
    where = resolve_region(region)
    ctx = DoctorContext(
        outputs=outputs,
        region=where,
        ec2=client("ec2", where, endpoint_url),
        ssm=client("ssm", where, endpoint_url),
        cloudwatch=client("cloudwatch", where, endpoint_url),
        elbv2=client("elbv2", where, endpoint_url),
    )
    findings = run_checks(ctx)
    for finding in findings:
        typer.echo(finding.line())
    counts = Counter(f.status for f in findings)
    typer.echo(", ".join(f"{counts[s]} {s.value}" for s in Status if counts[s]))
    if support_bundle:
        text, redacted = render_support_bundle(ctx, findings, sgarch_version=__version__)
        try:
            Path(support_bundle).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                "--support-bundle", f"a writable file ({exc.strerror})", support_bundle, "pick another path"
            ) from None
        typer.echo(f"support bundle written to {support_bundle} ({redacted} secret-looking values redacted)")
    raise typer.Exit(exit_status(findings))
