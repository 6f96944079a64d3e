"""``plan_migration(...)``: the numbered steps that move a running Sourcegraph between single-node and EKS.

Pure: no AWS, no Pulumi, no files. A migration moves the three PostgreSQL databases byte for byte (``pg_dump``
custom format, ``pg_restore``) and copies the blobs; gitserver's repositories and zoekt's indexes are not
moved but cloned and indexed again from the code hosts. It needs the same Sourcegraph release on both
sides, a target at least as large as the source, and a source recent enough that every database is
PostgreSQL 16 (:data:`DUMP_FORMAT_FLOOR`). A move that breaks one of those comes back ``blocked`` with the
reason and what to do first; bad input (an unknown architecture, a malformed version, a negative size) is a
:class:`~sgarch.errors.ConfigError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sgarch.errors import ConfigError
from sgarch.host import DEFAULT_SOURCEGRAPH_VERSION
from sgarch.migrate.downtime import (
    MODEL,
    RECLONE_USUAL_HOURS,
    DowntimeEstimate,
    DowntimeModel,
    estimate_downtime,
)
from sgarch.tiers import Tier, get_tier
from sgarch.upgrade.gates import PREREQUISITES
from sgarch.upgrade.plan import Arch, parse_arch
from sgarch.upgrade.versions import Version, parse_version

__all__ = [
    "DUMP_FORMAT_FLOOR",
    "MAINTENANCE_MODE",
    "MODEL",
    "RECLONE_USUAL_HOURS",
    "DowntimeEstimate",
    "DowntimeModel",
    "MigrationPlan",
    "MigrationStep",
    "abort_commands",
    "estimate_downtime",
    "plan_migration",
]

DUMP_FORMAT_FLOOR: Version = next(p.crossing for p in PREREQUISITES if p.id == "pg16-required")
"""The oldest source release sgarch migrates: 6.0.0, from which Sourcegraph refuses any database older than
PostgreSQL 16. From there on the export's ``pg_dump`` (run inside the source's own database containers) is
PostgreSQL 16, and so is what restores it (the target's ``postgresql-16`` images or RDS for PostgreSQL 16).
Before it, a 5.10 or 5.11 database may still be PostgreSQL 12, or halfway through the upgrade to 16 its image
runs on first start, and sgarch cannot tell which from outside."""

MAINTENANCE_MODE = (
    "Sourcegraph has no read-only or maintenance mode of its own: its documentation describes none, and its "
    "own migration and restore guides stop the instance instead. sgarch does the same: it stops every "
    "service that writes and keeps the three databases and the blob store running for the dump or the "
    "restore. On single-node the writers (both frontends, worker, gitserver, searcher, zoekt's indexer and "
    "the code-intel workers) stop and a page server from the release's caddy image answers in the "
    "frontend's place with HTTP 503 and a maintenance page; on EKS the stack runs the release with every "
    "Sourcegraph service at zero replicas, and the load balancer answers HTTP 503 while no frontend is ready"
)
"""What maintenance mode is, for the plan and the generated page."""


@dataclass(frozen=True)
class MigrationStep:
    """One numbered step: what to run (in order), what it touches, and what to look for."""

    title: str
    commands: tuple[str, ...] = ()
    touches: str = ""
    detail: str = ""
    downtime_edge: bool = False
    """Users lose (or get back) the service in this step."""


@dataclass(frozen=True)
class MigrationPlan:
    """The result of :func:`plan_migration`. A ``blocked`` plan has the reason and no steps."""

    source: Arch
    target: Arch
    source_version: Version
    target_version: Version
    source_tier: Tier | None
    target_tier: Tier | None
    downtime: DowntimeEstimate
    steps: tuple[MigrationStep, ...]
    blocked: str | None = None

    @property
    def downtime_steps(self) -> tuple[int, int] | None:
        """Numbers (from 1) of the steps where downtime starts and ends; None for a blocked plan."""
        numbers = [n for n, s in enumerate(self.steps, start=1) if s.downtime_edge]
        return (numbers[0], numbers[-1]) if len(numbers) == 2 else None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view with stable keys, for scripts."""
        return {
            "from": self.source.value,
            "to": self.target.value,
            "from_version": str(self.source_version),
            "to_version": str(self.target_version),
            "from_tier": self.source_tier.value if self.source_tier else None,
            "to_tier": self.target_tier.value if self.target_tier else None,
            "downtime": {**self.downtime.to_dict(), "steps": self.downtime_steps},
            "steps": [
                {"title": s.title, "commands": list(s.commands), "touches": s.touches, "detail": s.detail}
                for s in self.steps
            ],
            "blocked": self.blocked,
        }


def plan_migration(
    from_arch: str | Arch,
    to_arch: str | Arch,
    from_version: str | Version,
    to_version: str | Version,
    data_gb: float | None = None,
    from_tier: str | Tier | None = None,
    to_tier: str | Tier | None = None,
) -> MigrationPlan:
    """Plan moving Sourcegraph from ``from_arch`` to ``to_arch``; strings are parsed as the CLI flags.

    Raises :class:`ConfigError` for bad input (named by its flag). A move a gate forbids comes back with
    ``blocked`` set and no steps, so the caller can show why.
    """
    source = from_arch if isinstance(from_arch, Arch) else parse_arch(from_arch, "--from")
    target = to_arch if isinstance(to_arch, Arch) else parse_arch(to_arch, "--to")
    if source is target:
        raise ConfigError(
            "--to",
            f"a different architecture from --from ({', '.join(a.value for a in Arch)})",
            target.value,
            "a migration moves data between single-node and EKS; to change size or release in place, change "
            "the stack's tier or run `sgarch upgrade plan`",
        )
    start = (
        from_version if isinstance(from_version, Version) else parse_version(from_version, "--from-version")
    )
    end = to_version if isinstance(to_version, Version) else parse_version(to_version, "--to-version")
    if data_gb is not None and not (math.isfinite(data_gb) and data_gb >= 0):
        raise ConfigError(
            "--data-gb",
            "a size in GB, 0 or more",
            data_gb,
            "add up the three databases and the blobs on disk (the pre-flight step shows how)",
        )
    tier_from = _tier(from_tier, "--from-tier", source)
    tier_to = _tier(to_tier, "--to-tier", target)
    downtime = estimate_downtime(data_gb)

    def make(steps: list[MigrationStep], blocked: str | None = None) -> MigrationPlan:
        return MigrationPlan(source, target, start, end, tier_from, tier_to, downtime, tuple(steps), blocked)

    reason = _blocked(source, target, start, end, tier_from, tier_to)
    if reason:
        return make([], reason)
    return make(_steps(source, target, start, tier_from or tier_to))


def _tier(value: str | Tier | None, flag: str, arch: Arch) -> Tier | None:
    if value is None:
        return None
    try:
        tier = get_tier(value).tier
    except ConfigError as exc:
        raise ConfigError(flag, exc.expected, value, "pick the tier `sgarch size` recommends") from None
    if arch is Arch.SINGLE_NODE and tier.kubernetes_only:
        raise ConfigError(
            flag,
            "a single-node tier (XS, S, M, L or XL)",
            tier.value,
            "2XL and 3XL run on EKS only",
        )
    return tier


def _blocked(
    source: Arch, target: Arch, start: Version, end: Version, tier_from: Tier | None, tier_to: Tier | None
) -> str | None:
    if start != end:
        if start < end:
            first = (
                f"upgrade the source first (sgarch upgrade plan --from {start} --to {end} --arch {source.value}), "
                f"or pin the target at {start} (pulumi config set sourcegraph_version {start} in its stack) "
                "and upgrade after the move"
            )
        else:
            first = (
                f"bring the target up to {start} first (sgarch upgrade plan --from {end} --to {start} "
                f"--arch {target.value}; before the import it holds no data, so `pulumi config set "
                f"sourcegraph_version {start}` in its stack is that upgrade); never take the source back"
            )
        return (
            f"the two sides run different releases ({source.value} {start}, {target.value} {end}); the "
            f"databases move byte for byte, so both must run the same release: {first}"
        )
    if start < DUMP_FORMAT_FLOOR:
        return (
            f"the source runs {start}, older than {DUMP_FORMAT_FLOOR}, the first release whose databases are "
            "all PostgreSQL 16 (the only dump format sgarch moves); upgrade the source first (sgarch upgrade "
            f"plan --from {start} --to {DEFAULT_SOURCEGRAPH_VERSION} --arch {source.value}), then plan the "
            "move at that release on both sides"
        )
    if target is Arch.SINGLE_NODE and tier_from is not None and tier_from.kubernetes_only:
        return (
            f"the source is {tier_from.value}, larger than any single machine (single-node ends at XL); "
            "stay on EKS, or size the workload down before moving"
        )
    if tier_from is not None and tier_to is not None and tier_to < tier_from:
        return (
            f"the target tier {tier_to.value} is smaller than the source's {tier_from.value}; size the target "
            f"at {tier_from.value} or larger (pulumi config set tier {tier_from.value} in its stack)"
        )
    return None


# --- steps -------------------------------------------------------------------------------------------------

_OUTPUTS = {"source": "source-outputs.json", "target": "target-outputs.json"}
_EKS = "stacks/eks"
#: Where an export from EKS writes its bundle (the stack's ``migrate_export`` names the prefix).
_EKS_EXPORT_PREFIX = "exports/eks"


def _stack(arch: Arch) -> str:
    return f"stacks/{arch.value}"


def _outputs_command(arch: Arch, side: str) -> str:
    # The EKS outputs carry the kubeconfig as a secret; it holds no credentials (it runs `aws eks get-token`).
    secrets = " --show-secrets" if arch is Arch.EKS else ""
    return f"pulumi -C {_stack(arch)} stack output --json{secrets} > {_OUTPUTS[side]}"


def _kubeconfig_command(source: Arch) -> str:
    side = "source" if source is Arch.EKS else "target"
    return f"jq -r .kubeconfig {_OUTPUTS[side]} > kubeconfig.json && export KUBECONFIG=$PWD/kubeconfig.json"


def _bucket_commands(source: Arch) -> tuple[str, ...]:
    if source is Arch.SINGLE_NODE:
        return ("BUCKET=<a name for the migration bucket in the target's region>",)
    return (
        "BUCKET=<an existing bucket in the cluster's region, default encryption SSE-KMS>",
        'KMS_KEY_ARN=$(aws s3api get-bucket-encryption --bucket "$BUCKET" --query '
        "'ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.KMSMasterKeyID' "
        "--output text)",
    )


def _size_commands(arch: Arch) -> tuple[str, ...]:
    if arch is Arch.SINGLE_NODE:
        return (
            f'aws ssm start-session --target "$(jq -r .instance_id {_OUTPUTS["source"]})"',
            "sudo du -sh /mnt/data/docker/volumes/sourcegraph_{pgsql,codeintel-db,codeinsights-db,blobstore}",
        )
    return (
        "kubectl -n sourcegraph exec statefulset/pgsql -- du -sh /data",
        "kubectl -n sourcegraph exec statefulset/codeintel-db -- du -sh /data",
        "kubectl -n sourcegraph exec statefulset/codeinsights-db -- du -sh /var/lib/postgresql/data",
    )


def abort_commands(source: Arch) -> tuple[str, ...]:
    """What lifts maintenance mode on the source: the way back before DNS moves."""
    if source is Arch.SINGLE_NODE:
        return (f"sgarch migrate abort --stack-outputs {_OUTPUTS['source']}",)
    return (f"pulumi -C {_EKS} config rm migrate_export", f"pulumi -C {_EKS} up")


def _steps(source: Arch, target: Arch, version: Version, tier: Tier | None) -> list[MigrationStep]:
    size_key = f" and tier {tier.value}" if tier else ""
    tier_command = (f"pulumi -C {_stack(target)} config set tier {tier.value}",) if tier else ()
    bucket_note = (
        "export creates the bucket when it is missing (private, versioned, SSE-KMS, TLS only)"
        if source is Arch.SINGLE_NODE
        else "the bucket's default key must be a KMS key ARN: the export Job's role may use that key only"
    )
    return [
        MigrationStep(
            "Pre-flight: bring the target up at the same release",
            (
                f"pulumi -C {_stack(target)} config set sourcegraph_version {version}",
                *tier_command,
                f"pulumi -C {_stack(target)} up",
                _outputs_command(source, "source"),
                _outputs_command(target, "target"),
                _kubeconfig_command(source),
            ),
            "target: created or updated by Pulumi (still empty)",
            f"The target runs {version}{size_key} before any data moves; its stack refuses a release it cannot "
            "pin. Give it the host name and TLS certificate the source serves: the site's externalURL moves "
            "with the database.",
        ),
        MigrationStep(
            "Pre-flight: checks",
            (
                *_bucket_commands(source),
                "aws route53 list-resource-record-sets --hosted-zone-id <zone id> "
                "--query \"ResourceRecordSets[?Name=='<host name>.']\"",
                *_size_commands(source),
            ),
            "nothing (reads only)",
            f"The bucket carries the data from one side to the other; {bucket_note}. Lower the record's TTL to "
            "60 seconds a day ahead, so the switch takes effect within a minute. Add up the sizes for "
            "--data-gb (with RDS, the instances' used storage). Site admin › Updates must show no unfinished "
            "out-of-band migrations.",
        ),
        MigrationStep(
            "Snapshot the source",
            (f"sgarch upgrade snapshot --stack-outputs {_OUTPUTS['source']}",),
            "source: new snapshots (the data is not changed)",
            "The export refuses to run without a snapshot from the last hour: it is the way back if anything "
            "goes wrong.",
        ),
        MigrationStep(
            "Maintenance mode on the source (downtime starts)",
            (),
            "source: writers stopped, maintenance page served",
            f"The export in the next step does this first. {MAINTENANCE_MODE}. To end it and bring the source "
            f"back as it was: `{' && '.join(abort_commands(source))}`.",
            downtime_edge=True,
        ),
        _export_step(source),
        MigrationStep(
            "Transfer",
            ('aws s3 cp "$MANIFEST" -',),
            "nothing (reads only)",
            f"The bucket is the transfer: the target reads the same objects. The manifest must name {version} "
            "and every file with its size and SHA-256 sum.",
        ),
        _import_step(target),
        MigrationStep(
            "Verify",
            _verify_commands(target),
            "nothing (reads only)",
            "The import compares every file with the manifest's SHA-256 sum and each database's row counts "
            "with the source's before it reports success; a mismatch stops there, with the source untouched.",
        ),
        MigrationStep(
            "Switch DNS to the target",
            (
                *_address_commands(target),
                "aws route53 change-resource-record-sets --hosted-zone-id <zone id> --change-batch "
                '\'{"Changes":[{"Action":"UPSERT","ResourceRecordSet":{"Name":"<host name>","Type":"CNAME",'
                '"TTL":60,"ResourceRecords":[{"Value":"<target address>"}]}}]}\'',
            ),
            "DNS: the host name now points at the target",
            "The first command prints the target's load balancer. If the source stack owns the record "
            "(single-node zone_id and record_name), clear those keys and `pulumi up` the source first, or its "
            "next `pulumi up` points the name back; a single-node target can own it instead (set the same keys "
            "on it and `pulumi up` rather than the UPSERT).",
        ),
        _enable_step(target),
        MigrationStep(
            "Clone and index again",
            _reclone_commands(target),
            "target: gitserver clones every repository, zoekt indexes them",
            "Repositories and search indexes are not moved: they come back from the code hosts. Search is "
            "slower and incomplete until this finishes; Sourcegraph's own migration guide says it usually "
            f"takes no longer than {RECLONE_USUAL_HOURS} hours, more for very large code hosts.",
        ),
    ]


def _export_step(source: Arch) -> MigrationStep:
    if source is Arch.SINGLE_NODE:
        return MigrationStep(
            "Export",
            (f'MANIFEST=$(sgarch migrate export --stack-outputs {_OUTPUTS["source"]} --bucket "$BUCKET")',),
            "source: read only (pg_dump inside each database container, the blobs copied) and the bucket",
            "Through SSM, no SSH: pg_dump in custom format of pgsql, codeintel-db and codeinsights-db, their "
            "row counts and the blob store, uploaded with SSE-KMS next to a manifest of sizes, SHA-256 sums, "
            "the release and the source's ids. It prints the manifest's address. Safe to run again: finished "
            "steps are skipped.",
        )
    prefix = f"s3://$BUCKET/{_EKS_EXPORT_PREFIX}"
    return MigrationStep(
        "Export",
        (
            f'pulumi -C {_EKS} config set migrate_export "{prefix}"',
            f'pulumi -C {_EKS} config set migrate_kms_key_arn "$KMS_KEY_ARN"',
            f"pulumi -C {_EKS} up",
            f'MANIFEST="{prefix}/manifest.json"',
        ),
        "source: the release at zero replicas (its data only read) and the bucket",
        "pulumi up installs the release in maintenance mode and runs a Job that dumps each database with "
        "pg_dump in custom format (RDS or in-cluster), tars the blobs and writes the manifest last; pulumi up "
        "fails with the Job's last message if it fails, and running it again resumes.",
    )


def _import_step(target: Arch) -> MigrationStep:
    command = f'sgarch migrate import --to {target.value} --stack-outputs {_OUTPUTS["target"]} --manifest "$MANIFEST"'
    if target is Arch.SINGLE_NODE:
        return MigrationStep(
            "Import",
            (command,),
            "target: its databases and blob store replaced by the export's",
            "Through SSM: maintenance mode on the target, then each file downloaded and checked against its "
            "SHA-256 sum, pg_restore of each database, the blobs unpacked. The target stays in maintenance "
            "mode. Safe to run again with the same manifest.",
        )
    return MigrationStep(
        "Import",
        (command,),
        "target: its databases (RDS or in-cluster) and blob storage replaced by the export's",
        "It checks the manifest against the target's release and prints the commands that run the import: "
        "`pulumi config set migrate_import` and `migrate_kms_key_arn` in the EKS stack, then `pulumi up`, "
        "which installs the release with every service at zero replicas and waits for a Job per database "
        "(pg_restore, row counts) and one for the blobs. Run them; a failed Job fails `pulumi up`, and "
        "running it again resumes. The target stays in maintenance mode.",
    )


def _enable_step(target: Arch) -> MigrationStep:
    if target is Arch.SINGLE_NODE:
        commands: tuple[str, ...] = (
            f"sgarch migrate import --to single-node --stack-outputs {_OUTPUTS['target']} "
            '--manifest "$MANIFEST" --finish',
        )
    else:
        commands = (f"pulumi -C {_EKS} config rm migrate_import", f"pulumi -C {_EKS} up")
    return MigrationStep(
        "Re-enable writes on the target (downtime ends)",
        commands,
        "target: Sourcegraph starts on the imported data and serves users",
        "Lifts maintenance mode on the target. Leave the source in maintenance mode: nothing may write to it "
        "any more, and it stays the way back until you delete it.",
        downtime_edge=True,
    )


def _verify_commands(target: Arch) -> tuple[str, ...]:
    if target is Arch.SINGLE_NODE:
        return (f"sgarch doctor --stack-outputs {_OUTPUTS['target']}",)
    return ("kubectl -n sourcegraph get jobs", "kubectl -n sourcegraph get pods")


def _address_commands(target: Arch) -> tuple[str, ...]:
    if target is Arch.SINGLE_NODE:
        return (f"jq -r .url {_OUTPUTS['target']} | sed -e 's|^https://||'",)
    return (
        "kubectl -n sourcegraph get ingress sourcegraph-frontend "
        "-o jsonpath='{.status.loadBalancer.ingress[0].hostname}'",
    )


def _reclone_commands(target: Arch) -> tuple[str, ...]:
    if target is Arch.SINGLE_NODE:
        return ()
    return ("kubectl -n sourcegraph get pods -l app=gitserver -o wide",)
