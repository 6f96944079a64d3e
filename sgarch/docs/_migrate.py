"""``reference-architectures/migrate.md``: moving a running Sourcegraph between single-node and EKS.

Every figure and every example on the page comes from the planner (:mod:`sgarch.migrate.plan`) and the
tables the stacks check against, so the page cannot drift from what ``sgarch migrate plan`` prints.
"""

from __future__ import annotations

from sgarch.docs._render import GENERATED_NOTE
from sgarch.eks.versions import SOURCEGRAPH_CHART_RELEASES
from sgarch.host import deploy_commits
from sgarch.migrate.plan import (
    DUMP_FORMAT_FLOOR,
    MAINTENANCE_MODE,
    MODEL,
    RECLONE_USUAL_HOURS,
    abort_commands,
    estimate_downtime,
    plan_migration,
)
from sgarch.migrate.render import render_plan
from sgarch.tiers import TIERS, Tier
from sgarch.upgrade.plan import Arch
from sgarch.upgrade.versions import parse_version

__all__ = ["MIGRATE_PAGE", "render_migrate"]

MIGRATE_PAGE = "migrate.md"
"""The page's file name under ``reference-architectures/``."""

_EXAMPLE_GB = (10, 50, 100, 500)
_GROW = {"from_arch": "single-node", "to_arch": "eks", "data_gb": 50, "from_tier": "XL"}
_SHRINK = {"from_arch": "eks", "to_arch": "single-node", "data_gb": 20, "from_tier": "M", "to_tier": "M"}


def _both_releases() -> list[str]:
    """Releases both stacks can pin and the migration accepts, oldest first."""
    single_node = set(deploy_commits())
    both = [v for v in SOURCEGRAPH_CHART_RELEASES if v in single_node]
    return [v for v in both if parse_version(v) >= DUMP_FORMAT_FLOOR]


def _example(arguments: dict[str, object], version: str) -> list[str]:
    flags = [f"--from {arguments['from_arch']}", f"--to {arguments['to_arch']}"]
    flags += [f"--from-version {version}", f"--to-version {version}", f"--data-gb {arguments['data_gb']}"]
    if "from_tier" in arguments:
        flags.append(f"--from-tier {arguments['from_tier']}")
    if "to_tier" in arguments:
        flags.append(f"--to-tier {arguments['to_tier']}")
    plan = plan_migration(
        str(arguments["from_arch"]),
        str(arguments["to_arch"]),
        version,
        version,
        data_gb=float(str(arguments["data_gb"])),
        from_tier=str(arguments["from_tier"]) if "from_tier" in arguments else None,
        to_tier=str(arguments["to_tier"]) if "to_tier" in arguments else None,
    )
    return ["```console", f"$ sgarch migrate plan {' '.join(flags)}", *render_plan(plan).splitlines(), "```"]


def render_migrate() -> str:
    """The page: both directions, what moves, the gates, maintenance mode, the downtime model, rollback."""
    releases = _both_releases()
    version = releases[-1]
    xl = TIERS[Tier.XL]
    out = [
        GENERATED_NOTE,
        "",
        "# Moving between single-node and EKS",
        "",
        "`sgarch migrate` moves a running Sourcegraph, with its data, from the single-node architecture to EKS "
        "or back. Customers outgrow one machine: past the XL tier "
        f"({xl.max_users:,} users or {xl.max_repos:,} repositories) a single node must move to EKS. Others "
        "move the other way to cut cost. Start with the plan, which checks the gates below and prints every "
        "step with its exact command:",
        "",
        "```sh",
        f"sgarch migrate plan --from single-node --to eks --from-version {version} --to-version {version} "
        "--data-gb 50",
        "```",
        "",
        "It exits 0 with the steps, 1 when a gate forbids the move (one line saying why and what to do "
        "first), and 2 for bad input. `--format json` prints the same plan for scripts.",
        "",
        "## What moves and what is rebuilt",
        "",
        "| Data | How it gets to the target |",
        "|---|---|",
        "| `pgsql`, `codeintel-db`, `codeinsights-db`: users, settings, site configuration, code-host "
        "connections, batch changes, code-intel metadata, insights | moved byte for byte: `pg_dump` in custom "
        "format inside the source's own database containers (so the versions match), `pg_restore` on the "
        "target, row counts and SHA-256 sums checked |",
        "| Blobs: precise code-intel uploads, search-job results | copied: blobstore on single-node, blobstore "
        "or the S3 bucket (`s3`) on EKS |",
        "| Repositories (gitserver) | cloned again from the code hosts |",
        "| Search indexes (zoekt) | built again from the cloned repositories |",
        "| Redis (sessions, caches) | not moved: it holds nothing that cannot be recreated; users sign in again |",
        "| Metrics (Prometheus, Grafana) | not moved |",
        "",
        f"Cloning and indexing again happen after the target serves users: Sourcegraph's own migration guide "
        f'says this "usually will not take longer than {RECLONE_USUAL_HOURS} hours", and search is slower and '
        "incomplete meanwhile. Copying repositories and indexes instead is out of scope.",
        "",
        "## Gates",
        "",
        "`sgarch migrate plan` refuses a move (exit 1) when:",
        "",
        "- **The two sides run different releases.** The databases move byte for byte, so both must run the "
        "same release. The plan names the upgrade to run first (`sgarch upgrade plan ... --arch <side>`): the "
        "side that is behind moves up, and the source is never taken back.",
        f"- **The source is older than {DUMP_FORMAT_FLOOR}.** From {DUMP_FORMAT_FLOOR} Sourcegraph refuses any "
        "database older than PostgreSQL 16, so the dump is written by PostgreSQL 16 and restored by PostgreSQL "
        "16 (the target's `postgresql-16` images or RDS for PostgreSQL 16). Before it, a 5.10 or 5.11 "
        "database may still be PostgreSQL 12, or halfway through the upgrade its image runs on first start, "
        "and sgarch cannot tell which from outside.",
        "- **The target is smaller than the source** (`--from-tier`, `--to-tier`), or the source is 2XL or "
        "3XL and the target is single-node, which ends at XL.",
        "",
        "Both stacks must also be able to pin the release: single-node through its table of "
        "deploy-sourcegraph-docker releases, EKS through its table of Helm chart releases (the EKS stack's "
        "`sourcegraph_version` key sets the chart version, and each chart release pins every image to its own "
        f"version by digest). Releases both pin, from {DUMP_FORMAT_FLOOR} on: "
        + ", ".join(f"`{v}`" for v in releases)
        + ".",
        "",
        "## Maintenance mode",
        "",
        MAINTENANCE_MODE + ".",
        "",
        "No one writes to either side while the data moves: the export turns maintenance mode on before it "
        "dumps anything, and the import leaves the target in it until you re-enable writes.",
        "",
        "- **Single-node:** `sgarch migrate export` turns it on, through SSM; `sgarch migrate abort "
        "--stack-outputs FILE` lifts it (restarting exactly the services the export stopped), and `sgarch "
        "migrate import ... --finish` lifts it on a target once the import has been checked. A reboot ends it "
        "too, and an export run again then takes fresh dumps.",
        "- **EKS:** the stack's `migrate_export` or `migrate_import` key turns it on at the next `pulumi up`; "
        "removing the key and running `pulumi up` again lifts it.",
        "",
        "## Downtime",
        "",
        "Downtime runs from maintenance mode on the source to writes re-enabled on the target. The plan "
        "estimates it from `--data-gb` (the three databases and the blobs as they sit on disk) with this "
        "model. The rates are **assumptions**, chosen to err long, not measurements: rehearse the export and "
        "import on a copy restored from a snapshot, time it, and scale.",
        "",
        "| Part | Assumed rate |",
        "|---|---|",
        f"| `pg_dump` (custom format, one database at a time) | {MODEL.dump_gb_per_hour:g} GB/h |",
        f"| S3 upload from the source, download to the target | {MODEL.transfer_gb_per_hour:g} GB/h each |",
        f"| `pg_restore` (rows, then every index and foreign key) | {MODEL.restore_gb_per_hour:g} GB/h |",
        f"| SHA-256 sums checked on the target | {MODEL.verify_gb_per_hour:g} GB/h |",
        f"| Fixed: stop the writers, start the target, switch DNS (60 s TTL) | {MODEL.fixed_minutes} min |",
        "",
        f"That is {MODEL.fixed_minutes} minutes plus {MODEL.minutes_per_gb:.2f} minutes per GB, rounded up to "
        "5 minutes:",
        "",
        "| Data on disk | Downtime |",
        "|---|---|",
    ]
    for gb in _EXAMPLE_GB:
        minutes = estimate_downtime(gb).minutes or 0
        out.append(f"| {gb} GB | {minutes} min ({minutes / 60:.1f} h) |")
    out += [
        "",
        f"Cloning and indexing again come after and are not downtime (up to about {RECLONE_USUAL_HOURS} hours "
        "of degraded search, see above).",
        "",
        "## Single-node to EKS",
        "",
        f"An XL single node growing out of its tier, {_GROW['data_gb']} GB of databases and blobs:",
        "",
        *_example(_GROW, version),
        "",
        "## EKS to single-node",
        "",
        f"An M cluster moving to one machine to cut cost, {_SHRINK['data_gb']} GB:",
        "",
        *_example(_SHRINK, version),
        "",
        "## Rolling back",
        "",
        "- **The source is never deleted or changed**, except for maintenance mode. The export only reads it; "
        "every step can be run again, keyed by the manifest.",
        "- **Before DNS moves:** lift maintenance mode on the source and it serves users as before: "
        + " or ".join(
            f"`{' && '.join(abort_commands(arch))}` ({arch.value})" for arch in (Arch.SINGLE_NODE, Arch.EKS)
        )
        + ". The target can be destroyed, or imported into again.",
        "- **After DNS moves:** point the record back at the source (the same `aws route53 "
        "change-resource-record-sets` UPSERT with the source's address) and lift its maintenance mode. "
        "Anything written on the target since is not copied back; to keep it, migrate in the other direction "
        "instead.",
        "- **If the source itself is damaged:** restore it from the snapshot the plan takes first (see "
        "`sgarch upgrade plan` for restoring a data volume or RDS snapshot).",
        "",
        "## POC to single-node (promotion by snapshot)",
        "",
        "A POC on a single node does not need `sgarch migrate`: its whole data volume, repositories and "
        "indexes included, becomes production's.",
        "",
        "```sh",
        "pulumi -C stacks/poc stack output --json > poc-outputs.json",
        "sgarch upgrade snapshot --stack-outputs poc-outputs.json",
        "pulumi -C stacks/single-node config set data_volume_snapshot_id <the snapshot id it printed>",
        "pulumi -C stacks/single-node config set sourcegraph_version <the POC's sourcegraph_version>",
        "pulumi -C stacks/single-node config set tier <tier>",
        "pulumi -C stacks/single-node up",
        "```",
        "",
        "The new data volume is created from the snapshot, and the boot script finds the data and starts "
        "Sourcegraph with it; nothing is cloned again. Tear the POC down once production checks out (see "
        "[poc.md](poc.md)). A POC on EKS (`runtime: eks`) is not promoted this way: its data lives in the "
        "cluster's volumes, which sgarch does not move; point a `stacks/eks` stack at the same VPC and start "
        "it fresh.",
        "",
    ]
    return "\n".join(out)
