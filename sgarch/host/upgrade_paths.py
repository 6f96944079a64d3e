"""The upgrade table a single-node host consults at boot. Pure: no Pulumi, no AWS calls, no clock.

boot.sh compares the data volume's version marker with the pinned version. It never decides an upgrade
itself: :func:`render_upgrade_paths` runs sgarch's planner (:mod:`sgarch.upgrade`) for every release the data
could be at and writes the verdicts, so the gates live in one place, in Python. User-data
(:mod:`sgarch.host.userdata`) and the sgarch image (:mod:`sgarch.host.standalone`) both carry the table.
"""

from __future__ import annotations

from sgarch.errors import ConfigError
from sgarch.upgrade.gates import REQUIRED_STOPS
from sgarch.upgrade.plan import Arch, UpgradeKind, plan_upgrade
from sgarch.upgrade.versions import Version, known_minors, parse_version

__all__ = ["render_upgrade_paths"]


def render_upgrade_paths(sourcegraph_version: str) -> str:
    """The planner's verdict, for every release the data volume could be at, on going to ``sourcegraph_version``.

    boot.sh reads it when the version marker differs from the pinned version. Rows are runs of minor
    releases within one major (``first last action gate``); a release in no row is unknown to sgarch and
    refused. Actions:

    - ``patch``: the pinned minor itself; ``standard``: one minor up; ``rollback``: one minor down. boot.sh
      starts the pinned release, whose ``migrator up`` runs first.
    - ``multi-version``: boot.sh stops Sourcegraph and runs the pinned release's ``migrator upgrade``.
    - ``refuse``: ``gate`` forbids the jump (a required stop, a downgrade that needs a restore, a release too
      old for multi-version upgrades); its ``gate <id> <reason>`` line says why and what to do.
    - ``unchecked`` (in a ``* *`` row): sgarch does not know the pinned release, so it cannot plan; boot.sh
      takes the standard path, where ``migrator up`` refuses jumps of more than one minor itself.

    For allowed rows, ``gate`` names the checks only the host can make (``pg16-required``: boot.sh reads the
    built-in databases' ``PG_VERSION``), or ``-``. Deterministic; under 1 KB.
    """
    header = f"# sgarch upgrade planner's verdicts for data at other releases than {sourcegraph_version}.\n"
    try:
        target = parse_version(sourcegraph_version)
    except ConfigError:
        return header + "* * unchecked -\n"
    rows: list[list[str]] = []
    reasons: dict[str, str] = {}
    for major, minor in known_minors():
        action, gate = _boot_verdict(Version(major, minor, 0), target, reasons)
        last = rows[-1] if rows else None
        # known_minors lists every minor of a major in order, so a row is always a contiguous run.
        if last is not None and last[0].split(".")[0] == str(major) and last[2:] == [action, gate]:
            last[1] = f"{major}.{minor}"
        else:
            rows.append([f"{major}.{minor}", f"{major}.{minor}", action, gate])
    body = "".join(" ".join(row) + "\n" for row in rows)
    return header + body + "".join(f"gate {gid} {reasons[gid]}\n" for gid in sorted(reasons))


def _boot_verdict(start: Version, target: Version, reasons: dict[str, str]) -> tuple[str, str]:
    """What boot.sh does for data at ``start`` (any patch: gates and distances depend on the minor only)."""
    if start.series == target.series:
        return "patch", "-"
    plan = plan_upgrade(start, target, Arch.SINGLE_NODE)
    if plan.kind is UpgradeKind.ROLLBACK:
        return "rollback", "-"
    for finding in plan.gates:
        if finding.effect == "restore":
            reasons[finding.id] = (
                f"{finding.title}: restore the data volume from a snapshot taken at {target} "
                "(config data_volume_snapshot_id)"
            )
            return "refuse", finding.id
        if finding.effect == "blocks":
            reasons[finding.id] = f"{finding.title}: upgrade one minor version at a time first"
            return "refuse", finding.id
    if len(plan.path) > 2:
        # boot.sh makes one hop; the admin pins the first required stop, lets it finish, then the target.
        gate = next(g for g in REQUIRED_STOPS if g.stop == plan.path[1])
        reasons[gate.id] = f"{gate.title}: pin {gate.stop} first, then {target}"
        return "refuse", gate.id
    checks = ",".join(g.id for g in plan.gates if g.effect == "check")
    return plan.kind.value, checks or "-"
