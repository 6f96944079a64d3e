"""``plan_upgrade(from, to, arch)``: classify an upgrade, apply the hard gates, list the steps.

Pure: no AWS, no Pulumi, no files. The path is ``from``, every required stop (:mod:`sgarch.upgrade.gates`),
then ``to``; each hop between two versions is standard (at most one minor) or multi-version (more). Steps
are spelled out for the architecture: ``single-node`` (Docker Compose on one EC2 instance, Pulumi) or
``eks`` (the official Helm chart, Pulumi). Every hop starts with a snapshot; a multi-version hop stops
Sourcegraph, runs the latest migrator's ``upgrade``, then changes the version in stack config and runs
``pulumi up``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from itertools import pairwise
from typing import Any

from sgarch.errors import ConfigError
from sgarch.upgrade.gates import (
    DOWNGRADE_RESTORE,
    MVU_MINIMUM,
    NOTES,
    PREREQUISITES,
    REQUIRED_STOPS,
    RequiredStop,
)
from sgarch.upgrade.versions import Version, minor_distance, parse_version

__all__ = [
    "Arch",
    "GateFinding",
    "Hop",
    "Step",
    "UpgradeKind",
    "UpgradePlan",
    "parse_arch",
    "plan_path",
    "plan_upgrade",
]

#: Where boot.sh keeps the Compose project on the single-node data volume.
COMPOSE_DIR = "/mnt/data/sourcegraph"
#: The data volume's version marker; boot.sh compares it with the pinned version.
VERSION_MARKER = "/mnt/data/.sourcegraph-version"
#: docker compose as boot.sh runs it: the pinned release, the tier override and, when present, the env override.
COMPOSE = (
    f"cd {COMPOSE_DIR} && sudo docker compose --project-name sourcegraph "
    "--file deploy/docker-compose/docker-compose.yaml --file sgarch-tier.override.yaml "
    "$(test -f sgarch-env.override.yaml && echo --file sgarch-env.override.yaml)"
)
#: The three databases that stay up while a multi-version upgrade runs.
DATABASES = ("pgsql", "codeintel-db", "codeinsights-db")


class Arch(str, Enum):
    """The deployment architectures the planner writes steps for."""

    SINGLE_NODE = "single-node"
    EKS = "eks"


class UpgradeKind(str, Enum):
    """What kind of version change a plan (or one hop of it) is."""

    NONE = "none"
    STANDARD = "standard"
    MULTI_VERSION = "multi-version"
    ROLLBACK = "rollback"
    RESTORE = "restore"


@dataclass(frozen=True)
class Hop:
    """One version change on the path; ``migrator`` is the image that runs ``upgrade`` (MVU hops only)."""

    start: Version
    end: Version
    kind: UpgradeKind
    migrator: Version | None = None


@dataclass(frozen=True)
class Step:
    """One numbered step: a title, the commands to run (in order) and why or what to look for."""

    title: str
    commands: tuple[str, ...] = ()
    detail: str = ""


@dataclass(frozen=True)
class GateFinding:
    """A gate that applies to this plan and what it did: ``stop``, ``check``, ``note``, ``blocks``, ``restore``."""

    id: str
    effect: str
    title: str
    why: str


@dataclass(frozen=True)
class UpgradePlan:
    """The result of :func:`plan_upgrade`. ``blocked`` plans have a reason and no steps."""

    start: Version
    end: Version
    arch: Arch
    kind: UpgradeKind
    path: tuple[Version, ...]
    hops: tuple[Hop, ...]
    gates: tuple[GateFinding, ...]
    steps: tuple[Step, ...]
    blocked: str | None = None
    namespace: str = field(default="sourcegraph")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view with stable keys, for scripts."""
        return {
            "from": str(self.start),
            "to": str(self.end),
            "arch": self.arch.value,
            "kind": self.kind.value,
            "path": [str(v) for v in self.path],
            "hops": [
                {
                    "from": str(h.start),
                    "to": str(h.end),
                    "kind": h.kind.value,
                    "migrator": str(h.migrator) if h.migrator else None,
                }
                for h in self.hops
            ],
            "gates": [{"id": g.id, "effect": g.effect, "title": g.title, "why": g.why} for g in self.gates],
            "steps": [
                {"title": s.title, "commands": list(s.commands), "detail": s.detail} for s in self.steps
            ],
            "blocked": self.blocked,
        }


def parse_arch(value: str, field_name: str = "--arch") -> Arch:
    """``single-node`` or ``eks``; anything else is a :class:`ConfigError`."""
    try:
        return Arch(value)
    except ValueError:
        raise ConfigError(
            field_name, "one of " + ", ".join(a.value for a in Arch), value, "pick one of them"
        ) from None


def plan_path(start: Version, end: Version) -> tuple[Version, ...]:
    """``start``, every required stop in order, ``end``: the versions an upgrade visits.

    A stop is inserted only when the hop from the current version would skip its window; a path that
    already starts inside a window is left alone. Only meaningful for ``start < end``.
    """
    path = [start]
    for gate in sorted(REQUIRED_STOPS, key=lambda g: g.stop):
        if gate.binds(path[-1], end):
            path.append(gate.stop)
    path.append(end)
    return tuple(path)


def plan_upgrade(
    start: str | Version,
    end: str | Version,
    arch: str | Arch,
    *,
    namespace: str = "sourcegraph",
) -> UpgradePlan:
    """Plan going from ``start`` to ``end`` on ``arch``; strings are parsed (``--from``/``--to``/``--arch``).

    Raises :class:`ConfigError` for malformed or unknown versions and an unknown architecture. A plan a
    gate forbids outright comes back with ``blocked`` set (and no steps) rather than as an exception, so
    the caller can show the gate.
    """
    begin = start if isinstance(start, Version) else parse_version(start, "--from")
    target = end if isinstance(end, Version) else parse_version(end, "--to")
    where = arch if isinstance(arch, Arch) else parse_arch(arch)
    distance = minor_distance(begin, target)

    def make(
        kind: UpgradeKind,
        path: tuple[Version, ...],
        hops: tuple[Hop, ...],
        gates: list[GateFinding],
        steps: list[Step],
        blocked: str | None = None,
    ) -> UpgradePlan:
        return UpgradePlan(
            begin, target, where, kind, path, hops, tuple(gates), tuple(steps), blocked, namespace
        )

    if begin == target:
        return make(UpgradeKind.NONE, (begin,), (), [], [])
    if target < begin:
        if distance >= -1:
            hop = Hop(begin, target, UpgradeKind.ROLLBACK)
            return make(
                UpgradeKind.ROLLBACK, (begin, target), (hop,), [], _rollback_steps(where, hop, namespace)
            )
        restore = GateFinding(
            DOWNGRADE_RESTORE,
            "restore",
            "Going back more than one minor version needs a database restore",
            "the database schema is backward compatible with the previous minor release only",
        )
        hop = Hop(begin, target, UpgradeKind.RESTORE)
        return make(
            UpgradeKind.RESTORE, (begin, target), (hop,), [restore], _restore_steps(where, hop, namespace)
        )

    path = plan_path(begin, target)
    hops = tuple(_hop(a, b) for a, b in pairwise(path))
    kind = UpgradeKind.STANDARD if distance <= 1 else UpgradeKind.MULTI_VERSION
    gates = [
        GateFinding(g.id, f"stop at {g.stop}", g.title, g.why) for g in REQUIRED_STOPS if g.stop in path[1:-1]
    ]
    gates += [GateFinding(p.id, "check", p.title, p.why) for p in PREREQUISITES if p.crossed(begin, target)]
    gates += [
        GateFinding(n.id, "note", n.title, n.why)
        for n in NOTES
        if n.crossed(begin, target) and (kind is UpgradeKind.MULTI_VERSION or not n.multi_version_only)
    ]
    too_old = next((h for h in hops if h.kind is UpgradeKind.MULTI_VERSION and h.start < MVU_MINIMUM), None)
    if too_old is not None:
        reason = (
            f"multi-version upgrades start at {MVU_MINIMUM.major}.{MVU_MINIMUM.minor}; "
            f"upgrade {too_old.start} one minor version at a time to {MVU_MINIMUM.major}.{MVU_MINIMUM.minor} "
            "first (standard upgrades), then plan again"
        )
        gates.insert(
            0,
            GateFinding(
                "mvu-minimum",
                "blocks",
                "Multi-version upgrades need 3.20 or later",
                "migrator starts at 3.20",
            ),
        )
        return make(kind, path, hops, gates, [], blocked=reason)
    return make(kind, path, hops, gates, _upgrade_steps(where, hops, namespace))


def _hop(start: Version, end: Version) -> Hop:
    if minor_distance(start, end) <= 1:
        return Hop(start, end, UpgradeKind.STANDARD)
    # The hop's own release is the newest migrator that is safe everywhere: a 6.x migrator cannot reach the
    # PostgreSQL 12 databases a hop ending in 5.x still has.
    return Hop(start, end, UpgradeKind.MULTI_VERSION, migrator=end)


# --- steps -------------------------------------------------------------------------------------------------

_SNAPSHOT_COMMANDS = (
    "pulumi stack output --json > outputs.json",
    "sgarch upgrade snapshot --stack-outputs outputs.json",
)


def _snapshot_step(arch: Arch, hop: Hop, first: bool) -> Step:
    detail = (
        f"Tags the snapshots sgarch:sourcegraph-version={hop.start}; safe to run again. "
        "Rehearse on a clone restored from it when you can."
    )
    if arch is Arch.EKS:
        detail += (
            " It snapshots the RDS instances in the outputs; snapshot the EBS volumes behind in-cluster "
            f"{', '.join(DATABASES)} PVCs too."
        )
    title = "Snapshot first" if first else f"Snapshot again at {hop.start}"
    return Step(title, _SNAPSHOT_COMMANDS, detail)


def _readiness_step() -> Step:
    return Step(
        "Check upgrade readiness",
        (),
        "Site admin › Updates must show no schema drift and no unfinished out-of-band migrations.",
    )


def _version_step(hop: Hop) -> Step:
    return Step(
        f"Set the version to {hop.end} in stack config",
        (f"pulumi config set sourcegraph_version {hop.end}",),
    )


def _up_step(arch: Arch, hop: Hop) -> Step:
    if arch is Arch.SINGLE_NODE:
        return Step(
            "Apply with pulumi up",
            ("pulumi up",),
            f"Replaces the instance; the new one mounts the same data volume, starts {hop.end} and its "
            "migrator `up` runs before the frontend.",
        )
    if hop.kind is UpgradeKind.MULTI_VERSION:
        return Step(
            "Apply with pulumi up",
            ("pulumi up --refresh",),
            f"Upgrades the Helm release to {hop.end}; --refresh lets Pulumi see the scaled-down workloads "
            "and scale them back up.",
        )
    return Step(
        "Apply with pulumi up",
        ("pulumi up",),
        f"Upgrades the Helm release to {hop.end}; the frontend's migrator init container runs `up`.",
    )


def _check_step(arch: Arch, version: Version, namespace: str) -> Step:
    if arch is Arch.SINGLE_NODE:
        return Step(
            f"Check {version}",
            ("pulumi stack output --json > outputs.json", "sgarch doctor --stack-outputs outputs.json"),
            f"doctor compares the data volume's version marker with {version}. Site admin › Updates must "
            f"show {version} and no schema drift.",
        )
    return Step(
        f"Check {version}",
        (
            f"kubectl -n {namespace} rollout status deployment/sourcegraph-frontend --timeout=30m",
            f"kubectl -n {namespace} get pods",
        ),
        f"Every pod Running or Completed. Site admin › Updates must show {version} and no schema drift.",
    )


def _scale_down_step(arch: Arch, namespace: str) -> Step:
    if arch is Arch.SINGLE_NODE:
        return Step(
            "Stop Sourcegraph (downtime starts)",
            (
                'aws ssm start-session --target "$(pulumi stack output instance_id)"',
                f"{COMPOSE} down --remove-orphans",
            ),
            "Run the second command in the Session Manager shell on the instance; the same shell runs the "
            "migrator next.",
        )
    keep = "|".join(DATABASES)
    return Step(
        "Scale everything but the databases to 0 (downtime starts)",
        (
            f"kubectl -n {namespace} get deployments,statefulsets -o name | grep -v -E '/({keep})$' "
            f"| xargs kubectl -n {namespace} scale --replicas=0",
        ),
        f"Every Deployment and StatefulSet except {', '.join(DATABASES)}.",
    )


def _migrator_step(arch: Arch, hop: Hop, namespace: str) -> Step:
    assert hop.migrator is not None  # only multi-version hops get here
    start, end, image = hop.start, hop.end, hop.migrator
    if arch is Arch.SINGLE_NODE:
        override = f"{COMPOSE_DIR}/sgarch-migrator.override.yaml"
        return Step(
            f"Run migrator upgrade {start.tag} -> {end.tag}",
            (
                "printf '%s\\n' 'services:' '  migrator:' "
                f"'    image: index.docker.io/sourcegraph/migrator:{image}' "
                f"\"    command: ['upgrade', '--from={start.tag}', '--to={end.tag}']\" | sudo tee {override}",
                f"{COMPOSE} --file sgarch-migrator.override.yaml up migrator",
                f"{COMPOSE} --file sgarch-migrator.override.yaml down --remove-orphans && sudo rm {override}",
                f"echo {end} | sudo tee {VERSION_MARKER}",
            ),
            f"migrator {image} (or any newer release) must exit with code 0 before you go on; add "
            "'--dry-run' to the command to rehearse, '--skip-drift-check' when retrying. The marker tells "
            f"the next boot the data is at {end}.",
        )
    return Step(
        f"Run migrator upgrade {start.tag} -> {end.tag}",
        (
            "helm repo update sourcegraph",
            f'helm upgrade --install -n {namespace} --set "migrator.args={{upgrade,--from={start.tag},'
            f'--to={end.tag}}}" sourcegraph-migrator sourcegraph/sourcegraph-migrator --version {image}',
            f"kubectl -n {namespace} logs -f $(kubectl -n {namespace} get jobs -o name | grep /migrator- "
            "| tail -n 1)",
            f"helm uninstall -n {namespace} sourcegraph-migrator",
        ),
        f"The migrator chart {image} (or any newer release) runs a Job that must complete before you go "
        "on; '--skip-drift-check' helps when retrying.",
    )


def _upgrade_steps(arch: Arch, hops: tuple[Hop, ...], namespace: str) -> list[Step]:
    steps: list[Step] = []
    stops: dict[Version, RequiredStop] = {g.stop: g for g in REQUIRED_STOPS}
    for number, hop in enumerate(hops):
        steps.append(_snapshot_step(arch, hop, first=number == 0))
        steps += [
            Step(f"Check: {p.title}", (), p.check) for p in PREREQUISITES if p.crossed(hop.start, hop.end)
        ]
        if hop.kind is UpgradeKind.MULTI_VERSION:
            steps += [
                _readiness_step(),
                _scale_down_step(arch, namespace),
                _migrator_step(arch, hop, namespace),
            ]
        steps += [_version_step(hop), _up_step(arch, hop), _check_step(arch, hop.end, namespace)]
        if hop.end in stops and hop is not hops[-1]:
            wait = stops[hop.end].after_stop
            steps.append(Step(f"Wait at {hop.end}", (), wait[0].upper() + wait[1:] + "."))
    return steps


def _rollback_steps(arch: Arch, hop: Hop, namespace: str) -> list[Step]:
    return [
        _snapshot_step(arch, hop, first=True),
        Step(
            f"Set the version back to {hop.end} in stack config",
            (f"pulumi config set sourcegraph_version {hop.end}",),
            "The database schema stays readable by the previous minor release, so no database change is "
            "needed (the same as `helm rollback` for one version).",
        ),
        Step("Apply with pulumi up", ("pulumi up",)),
        _check_step(arch, hop.end, namespace),
    ]


def _restore_steps(arch: Arch, hop: Hop, namespace: str) -> list[Step]:
    steps = [_snapshot_step(arch, hop, first=True)]
    no_snapshot = (
        f"No snapshot at {hop.end}? Then the data cannot go back without loss; Sourcegraph's emergency path "
        "is `migrator downgrade`, one minor version at a time (talk to support first)."
    )
    if arch is Arch.SINGLE_NODE:
        steps += [
            Step(
                f"Find the data volume snapshot taken at {hop.end}",
                (
                    "aws ec2 describe-snapshots --owner-ids self --filters "
                    "Name=tag:sgarch:purpose,Values=pre-upgrade "
                    f"Name=tag:sgarch:sourcegraph-version,Values={hop.end} "
                    "--query 'Snapshots[].[SnapshotId,StartTime,VolumeId]' --output table",
                ),
                no_snapshot,
            ),
            Step(
                "Restore the data volume from it",
                (
                    "pulumi config set data_volume_snapshot_id <snapshot id>",
                    f"pulumi config set sourcegraph_version {hop.end}",
                    "pulumi stack --show-urns | grep aws:ebs/volume:Volume",
                    "pulumi state unprotect '<data volume URN>'",
                    "pulumi up --replace '<data volume URN>'",
                ),
                "The current volume is retained, not deleted: delete it yourself once the restored one "
                "checks out.",
            ),
        ]
    else:
        steps += [
            Step(
                f"Find the database snapshots taken at {hop.end}",
                (
                    "aws rds describe-db-snapshots --snapshot-type manual --query "
                    f"\"DBSnapshots[?TagList[?Key=='sgarch:sourcegraph-version' && Value=='{hop.end}']]"
                    '.[DBSnapshotIdentifier,DBInstanceIdentifier,SnapshotCreateTime]" --output table',
                ),
                no_snapshot + " In-cluster databases: use the snapshots of their PVC volumes.",
            ),
            Step(
                "Restore every database from them",
                (
                    "aws rds restore-db-instance-from-db-snapshot --db-instance-identifier <new id> "
                    "--db-snapshot-identifier <snapshot id>",
                    f"pulumi config set sourcegraph_version {hop.end}",
                    "pulumi up --refresh",
                ),
                "Point the stack's database endpoints at the restored instances before `pulumi up`.",
            ),
        ]
    steps.append(_check_step(arch, hop.end, namespace))
    return steps
