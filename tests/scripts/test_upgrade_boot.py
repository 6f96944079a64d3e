"""boot.sh's version-change logic on a fake host: standard, multi-version, rollback, refusals, failed migrator.

`docker` and `migrator` are stubs that record their argv. The docker stub plays Compose just enough: `run
... migrator ARGS` runs the `migrator` stub with ARGS (the container's entrypoint), and `up` runs `migrator
up` first (the depends_on of the frontend). So every test asserts the exact commands, in order, and what
the migrator was asked to do. Every test runs with the package script and with the copy user-data ships.

The last tests source boot.sh and compare its decision for every known release against sgarch's planner.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from host_sandbox import _RECORD, VERSION, Sandbox

from sgarch.host import render_upgrade_paths
from sgarch.upgrade.gates import REQUIRED_STOPS
from sgarch.upgrade.plan import UpgradeKind, plan_upgrade
from sgarch.upgrade.versions import Version, known_minors

# Compose as far as these tests need it; `release_seen` proves which release's files each call used (the
# volume's copy; a pull reads the host's copy of the pinned release, and happens while the volume still holds
# the old one). `pull` fails when asked to: the registry is unreachable.
DOCKER_STUB = """
release="$(cat "$STUB_ROOT/mnt/data/sourcegraph/deploy/.sgarch-release" 2>/dev/null || echo none)"
shift  # compose
while [ $# -gt 0 ]; do case "$1" in --project-name|--file) shift 2 ;; *) break ;; esac; done
verb="$1"; shift
echo "$verb $release" >>"$STUB_STATE/release_seen"
case "$verb" in
pull) [ ! -f "$STUB_STATE/pull_fails" ] || exit 1 ;;
run) while [ "$1" != migrator ]; do shift; done; shift; exec migrator "$@" ;;
up) migrator up || exit 1 ;;
config) for s in $STUB_SERVICES; do echo "$s"; done ;;
esac
"""
MIGRATOR_STUB = '[ -f "$STUB_STATE/migrator_fails_$1" ] && exit 1\nexit 0\n'
OLD_RELEASE = "7.4.1234"


def stub_compose(box: Sandbox) -> None:
    for name, body in (("docker", DOCKER_STUB), ("migrator", MIGRATOR_STUB)):
        path = box.bin / name
        path.write_text("#!/bin/bash\n" + _RECORD + body)
        path.chmod(0o755)


def old_volume(box: Sandbox, data_version: str, pinned: str = VERSION) -> None:
    """A new instance pinned to ``pinned``, with a volume an older instance ran at ``data_version``."""
    stub_compose(box)
    box.write_config(version=pinned)
    box.add_release(pinned)
    box.attach_volume()
    box.set_state("fstype", "xfs")
    box.set_state("label", "sgdata")
    deploy = box.data / "sourcegraph" / "deploy"
    (deploy / "docker-compose").mkdir(parents=True)
    (deploy / "docker-compose" / "docker-compose.yaml").write_text(f"# release {data_version}\n")
    (deploy / ".sgarch-release").write_text(f"{data_version}\n")
    (box.data / ".sourcegraph-version").write_text(f"{data_version}\n")


def postgres(box: Sandbox, major: str, *, volume: str = "pgsql", pgdata: str = "pgdata-16") -> None:
    """A built-in database's Docker volume, PGDATA one level down as in Sourcegraph's images."""
    data = box.data / "docker" / "volumes" / f"sourcegraph_{volume}" / "_data" / pgdata
    data.mkdir(parents=True, exist_ok=True)
    (data / "PG_VERSION").write_text(major + "\n")


def compose(box: Sandbox, *args: str) -> list[str]:
    """The argv boot.sh gives docker for the pinned release with the tier override."""
    project = box.data / "sourcegraph"
    return [
        "docker",
        "compose",
        "--project-name",
        "sourcegraph",
        "--file",
        f"{project}/deploy/docker-compose/docker-compose.yaml",
        "--file",
        f"{project}/sgarch-tier.override.yaml",
        *args,
    ]


UP = ("up", "--detach", "--remove-orphans")
DOWN_BY_LABEL = ["docker", "compose", "--project-name", "sourcegraph", "down", "--remove-orphans"]


def pull(box: Sandbox, version: str = VERSION) -> list[str]:
    """The pull of the pinned release's missing images, from the host's copy of the release."""
    release = box.root / "opt" / "sourcegraph" / "releases" / f"v{version}" / "docker-compose"
    return [
        "docker",
        "compose",
        "--project-name",
        "sourcegraph",
        "--file",
        f"{release}/docker-compose.yaml",
        "pull",
        "--policy",
        "missing",
        "--quiet",
    ]


def marker(box: Sandbox) -> str:
    return (box.data / ".sourcegraph-version").read_text()


def status(box: Sandbox) -> str:
    return (box.data / ".sgarch-upgrade-status").read_text()


def boot_log(box: Sandbox) -> str:
    return (box.root / "var" / "log" / "sgarch-boot.log").read_text()


def boot_ok(box: Sandbox) -> str:
    result = box.run("boot.sh")
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


# --- the paths that start Sourcegraph -------------------------------------------------------------------


def test_standard_upgrade_starts_the_new_release_and_migrator_up_runs_first(sandbox: Sandbox) -> None:
    old_volume(sandbox, OLD_RELEASE)
    out = boot_ok(sandbox)
    # The images first, while the old release runs; then `up` replaces the containers.
    assert sandbox.calls("docker") == [pull(sandbox), compose(sandbox, *UP)]
    assert sandbox.calls("migrator") == [["migrator", "up"]]
    assert f"data is at v{OLD_RELEASE}, pinned version is v{VERSION}: standard upgrade" in out
    assert marker(sandbox) == f"{VERSION}\n"
    assert status(sandbox) == f"ok: v{VERSION} (standard from v{OLD_RELEASE})\n"
    assert (sandbox.state / "release_seen").read_text() == f"pull {OLD_RELEASE}\nup {VERSION}\n"


def test_multi_version_upgrade_stops_runs_the_target_migrator_then_starts(sandbox: Sandbox) -> None:
    old_volume(sandbox, "6.5.0")
    out = boot_ok(sandbox)
    assert sandbox.calls("docker") == [
        pull(sandbox),
        compose(sandbox, "down", "--remove-orphans"),
        compose(sandbox, "run", "--rm", "migrator", "upgrade", "--from=v6.5.0", f"--to=v{VERSION}"),
        compose(sandbox, *UP),
    ]
    assert sandbox.calls("migrator") == [
        ["migrator", "upgrade", "--from=v6.5.0", f"--to=v{VERSION}"],
        ["migrator", "up"],
    ]
    # The pull happened while the volume still held the old release; every later call used the pinned
    # (target) release's compose file, so its migrator image.
    assert (sandbox.state / "release_seen").read_text().split("\n")[:-1] == [
        "pull 6.5.0",
        f"down {VERSION}",
        f"run {VERSION}",
        f"up {VERSION}",
    ]
    assert "multi-version upgrade" in out
    assert marker(sandbox) == f"{VERSION}\n"
    assert status(sandbox) == f"ok: v{VERSION} (multi-version from v6.5.0)\n"
    assert not any("--skip-drift-check" in arg for call in sandbox.calls() for arg in call)


def test_multi_version_upgrade_across_6_0_checks_postgres_16_first(sandbox: Sandbox) -> None:
    old_volume(sandbox, "5.10.3940", pinned="6.12.5040")
    for volume in ("pgsql", "codeintel-db"):
        postgres(sandbox, "16", volume=volume)
    postgres(sandbox, "12", volume="codeintel-db", pgdata="pgdata-12")  # left by the 12 -> 16 upgrade
    postgres(sandbox, "16", volume="codeinsights-db", pgdata="pgdata")
    out = boot_ok(sandbox)
    assert sandbox.calls("docker") == [
        pull(sandbox, "6.12.5040"),
        compose(sandbox, "down", "--remove-orphans"),
        compose(sandbox, "run", "--rm", "migrator", "upgrade", "--from=v5.10.3940", "--to=v6.12.5040"),
        compose(sandbox, *UP),
    ]
    for volume in ("sourcegraph_pgsql", "sourcegraph_codeintel-db", "sourcegraph_codeinsights-db"):
        assert f"{volume}: PostgreSQL 16" in out
    assert marker(sandbox) == "6.12.5040\n"


def test_one_minor_downgrade_is_a_rollback_on_the_standard_path(sandbox: Sandbox) -> None:
    old_volume(sandbox, "7.6.0")
    out = boot_ok(sandbox)
    assert sandbox.calls("docker") == [pull(sandbox), compose(sandbox, *UP)]
    assert sandbox.calls("migrator") == [["migrator", "up"]]
    assert f"data is at v7.6.0, pinned version is v{VERSION}: rollback by one minor" in out
    assert marker(sandbox) == f"{VERSION}\n"
    assert status(sandbox) == f"ok: v{VERSION} (rollback from v7.6.0)\n"


@pytest.mark.parametrize("data_version", ["7.5.1000", "7.5.9999"])
def test_patch_change_either_way_is_the_standard_path(sandbox: Sandbox, data_version: str) -> None:
    old_volume(sandbox, data_version)
    boot_ok(sandbox)
    assert sandbox.calls("docker") == [pull(sandbox), compose(sandbox, *UP)]
    assert status(sandbox) == f"ok: v{VERSION} (patch from v{data_version})\n"


def test_release_sgarch_does_not_know_takes_the_standard_path(sandbox: Sandbox) -> None:
    """A newer Sourcegraph than this sgarch knows: no plan, so migrator up's own one-minor check decides."""
    old_volume(sandbox, "7.6.0", pinned="7.9.0")
    out = boot_ok(sandbox)
    assert sandbox.calls("docker") == [pull(sandbox, "7.9.0"), compose(sandbox, *UP)]
    assert "sgarch does not know v7.9.0" in out


def test_failed_standard_upgrade_keeps_the_marker_and_records_it(sandbox: Sandbox) -> None:
    old_volume(sandbox, OLD_RELEASE)
    sandbox.set_state("migrator_fails_up")
    result = sandbox.run("boot.sh")
    assert result.returncode == 1
    assert marker(sandbox) == f"{OLD_RELEASE}\n"
    assert status(sandbox) == "failed: docker compose up exited 1\n"


def test_normal_boots_report_ok_with_the_same_status(sandbox: Sandbox) -> None:
    stub_compose(sandbox)
    sandbox.write_config()
    sandbox.add_release()
    sandbox.attach_volume()
    boot_ok(sandbox)
    assert status(sandbox) == f"ok: v{VERSION}\n"
    sandbox.reboot()
    boot_ok(sandbox)
    assert sandbox.calls("docker") == [pull(sandbox), compose(sandbox, *UP)]
    assert status(sandbox) == f"ok: v{VERSION}\n"


# --- a failed migrator ------------------------------------------------------------------------------------


def test_failed_migrator_leaves_the_marker_and_sourcegraph_down_and_a_reboot_retries(
    sandbox: Sandbox,
) -> None:
    old_volume(sandbox, "6.5.0")
    sandbox.set_state("migrator_fails_upgrade")
    result = sandbox.run("boot.sh")
    assert result.returncode == 1
    run = compose(sandbox, "run", "--rm", "migrator", "upgrade", "--from=v6.5.0", f"--to=v{VERSION}")
    down = compose(sandbox, "down", "--remove-orphans")
    assert sandbox.calls("docker") == [pull(sandbox), down, run]  # never `up`
    assert marker(sandbox) == "6.5.0\n"
    assert status(sandbox) == f"failed: migrator upgrade v6.5.0 -> v{VERSION} exited 1; reboot to retry\n"
    assert "ERROR: migrator upgrade v6.5.0 -> v7.5.4453 exited 1" in boot_log(sandbox)

    sandbox.clear_state("migrator_fails_upgrade")
    sandbox.reboot()
    boot_ok(sandbox)
    # The retry is the same command: --skip-drift-check stays the admin's decision.
    assert sandbox.calls("docker") == [pull(sandbox), down, run, compose(sandbox, *UP)]
    assert marker(sandbox) == f"{VERSION}\n"
    assert status(sandbox) == f"ok: v{VERSION} (multi-version from v6.5.0)\n"


def test_start_failing_after_a_migrator_upgrade_is_retried_as_a_normal_start(sandbox: Sandbox) -> None:
    old_volume(sandbox, "6.5.0")
    sandbox.set_state("migrator_fails_up")
    assert sandbox.run("boot.sh").returncode == 1
    assert marker(sandbox) == f"{VERSION}\n"  # the upgrade itself succeeded
    assert status(sandbox) == "failed: docker compose up exited 1\n"

    sandbox.clear_state("migrator_fails_up")
    sandbox.reboot()
    boot_ok(sandbox)
    assert sandbox.calls("docker") == [pull(sandbox), compose(sandbox, *UP)]  # no second `upgrade`
    assert status(sandbox) == f"ok: v{VERSION}\n"


# --- no images, no downtime ------------------------------------------------------------------------------


@pytest.mark.parametrize(("data_version", "kind"), [("6.5.0", "multi-version"), (OLD_RELEASE, "standard")])
def test_without_the_new_images_nothing_is_stopped_and_the_old_release_keeps_running(
    sandbox: Sandbox, data_version: str, kind: str
) -> None:
    old_volume(sandbox, data_version)
    sandbox.set_state("pull_fails")
    result = sandbox.run("boot.sh")
    assert result.returncode == 1
    # The pull was the only Compose call: nothing went down, no migrator ran, nothing was replaced.
    assert sandbox.calls("docker") == [pull(sandbox)]
    assert sandbox.calls("migrator") == []
    assert marker(sandbox) == f"{data_version}\n"
    # The volume keeps the copy of the release that runs.
    assert (sandbox.data / "sourcegraph" / "deploy" / ".sgarch-release").read_text() == f"{data_version}\n"
    assert status(sandbox) == (
        f"failed: could not pull the images of v{VERSION}; v{data_version} keeps running\n"
    )
    assert f"data is at v{data_version}, pinned version is v{VERSION}: {kind} upgrade" in result.stdout

    sandbox.clear_state("pull_fails")
    sandbox.reboot()
    boot_ok(sandbox)
    assert status(sandbox) == f"ok: v{VERSION} ({kind} from v{data_version})\n"


def test_a_command_failing_during_an_upgrade_never_leaves_upgrading(sandbox: Sandbox) -> None:
    """`upgrading:` is written before the work; any failure after it (here install.sh, under set -e) ends the
    boot with `failed:` in its place."""
    old_volume(sandbox, "6.5.0")
    release = sandbox.root / "opt" / "sourcegraph" / "releases" / f"v{VERSION}"
    (release / ".sgarch-complete").unlink()
    (sandbox.bin / "install.sh").write_text("#!/bin/bash\nexit 1\n")
    result = sandbox.run("boot.sh")
    assert result.returncode == 1
    assert status(sandbox) == 'failed: fetch_release: "$INSTALL_SH" --version "$VERSION" exited 1\n'
    assert sandbox.calls("docker") == [] and marker(sandbox) == "6.5.0\n"


# --- refusals ---------------------------------------------------------------------------------------------

REFUSALS = [
    # (data, pinned, gate, words the reason must carry)
    (
        "5.9.45",
        VERSION,
        "pg16-migrator",
        "must stop at 5.10.3940 or 5.11.6271 before 6.x: pin 5.11.6271 first",
    ),
    ("5.9.45", "6.0.0", "pg16-migrator", "pin 5.11.6271 first, then 6.0.0"),
    ("5.11.6271", VERSION, "pg12-entrypoint-removed", "pin 6.12.5040 first, then 7.5.4453"),
    (
        "6.12.5040",
        "6.10.100",
        "downgrade-restore",
        "restore the data volume from a snapshot taken at 6.10.100",
    ),
    ("7.6.0", "7.4.1234", "downgrade-restore", "needs a database restore"),
    ("3.10.0", VERSION, "mvu-minimum", "Multi-version upgrades need 3.20 or later"),
    ("7.9.1", VERSION, "unknown-version", "sgarch does not know v7.9.1"),
    ("7.5.4453-base", VERSION, "unreadable-marker", "holds no release"),
]


@pytest.mark.parametrize(("data_version", "pinned", "gate", "reason"), REFUSALS, ids=[r[2] for r in REFUSALS])
def test_refusal_leaves_sourcegraph_down_and_the_data_untouched(
    sandbox: Sandbox, data_version: str, pinned: str, gate: str, reason: str
) -> None:
    old_volume(sandbox, data_version, pinned=pinned)
    result = sandbox.run("boot.sh")
    assert result.returncode == 2, result.stdout
    # Only the old containers dockerd restarted are stopped; nothing starts, no migrator runs.
    assert sandbox.calls("docker") == [DOWN_BY_LABEL]
    assert sandbox.calls("migrator") == [] and sandbox.calls("install.sh") == []
    assert marker(sandbox) == f"{data_version}\n"
    # The volume keeps its copy of the release it runs: bringing it back is pinning that release again.
    assert (sandbox.data / "sourcegraph" / "deploy" / ".sgarch-release").read_text() == f"{data_version}\n"
    line = status(sandbox)
    assert line.startswith(f"refused: {gate}: data is at v{data_version}, pinned v{pinned}: ")
    assert reason in line and line.count("\n") == 1
    log = boot_log(sandbox)
    assert line.strip() in log
    assert f"sgarch upgrade plan --from {data_version} --to {pinned} --arch single-node" in log


def test_postgres_12_on_the_volume_refuses_6_x(sandbox: Sandbox) -> None:
    """5.11 -> 6.0 is a standard upgrade by version, but 6.0 needs PostgreSQL 16 (the host can see it)."""
    old_volume(sandbox, "5.11.6271", pinned="6.0.0")
    postgres(sandbox, "16")
    postgres(sandbox, "12", volume="codeintel-db", pgdata="pgdata-12")
    result = sandbox.run("boot.sh")
    assert result.returncode == 2
    assert sandbox.calls("docker") == [DOWN_BY_LABEL]
    assert marker(sandbox) == "5.11.6271\n"
    assert status(sandbox) == (
        "refused: pg16-required: data is at v5.11.6271, pinned v6.0.0: sourcegraph_codeintel-db holds "
        "PostgreSQL 12, not 16: run v5.11.6271 until it upgrades\n"
    )


def test_postgres_check_without_built_in_databases_only_warns(sandbox: Sandbox) -> None:
    old_volume(sandbox, "5.11.6271", pinned="6.0.0")
    out = boot_ok(sandbox)
    assert "no built-in databases; external ones must run PostgreSQL 16" in out
    assert sandbox.calls("docker") == [pull(sandbox, "6.0.0"), compose(sandbox, *UP)]


def test_a_refused_boot_refuses_again_after_a_reboot(sandbox: Sandbox) -> None:
    old_volume(sandbox, "5.9.45")
    assert sandbox.run("boot.sh").returncode == 2
    sandbox.reboot()
    assert sandbox.run("boot.sh").returncode == 2
    assert sandbox.calls("docker") == [DOWN_BY_LABEL]
    assert marker(sandbox) == "5.9.45\n"


# --- boot.sh's decisions against the planner --------------------------------------------------------------

TARGETS = [
    "3.25.0",
    "5.9.45",
    "5.10.3940",
    "5.11.6271",
    "6.0.0",
    "6.5.0",
    "6.12.5040",
    "7.0.0",
    VERSION,
    "7.6.0",
]


def planner_verdict(data: Version, target: Version) -> str:
    """What the planner says boot.sh must do, in boot.sh's words (an independent spelling of the mapping)."""
    if data.series == target.series:
        return "patch -"
    plan = plan_upgrade(data, target, "single-node")
    if plan.kind is UpgradeKind.ROLLBACK:
        return "rollback -"
    if plan.kind is UpgradeKind.RESTORE:
        return "refuse downgrade-restore"
    if plan.blocked:
        return "refuse mvu-minimum"
    stops = {gate.stop: gate.id for gate in REQUIRED_STOPS}
    if len(plan.path) > 2:
        return f"refuse {stops[plan.path[1]]}"
    checks = ",".join(g.id for g in plan.gates if g.effect == "check") or "-"
    return f"{plan.kind.value} {checks}"


def bash_verdicts(script: Path, table: Path, versions: list[str]) -> dict[str, str]:
    """Source boot.sh (which then runs nothing) and ask decide_upgrade about each version, in one process."""
    loop = 'for v in "$@"; do DATA_VERSION="$v"; decide_upgrade; echo "$v $UPGRADE $GATE"; done'
    result = subprocess.run(
        ["bash", "-c", f'source "{script}"; {loop}', "verdicts", *versions],
        env={"PATH": "/usr/bin:/bin", "SGARCH_ROOT": str(table.parent), "SGARCH_UPGRADE_PATHS": str(table)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in result.stdout.splitlines()}


@pytest.mark.parametrize("target", TARGETS)
def test_boot_decides_like_the_planner_for_every_known_release(
    sandbox: Sandbox, target: str, tmp_path: Path
) -> None:
    table = tmp_path / "upgrade-paths"
    table.write_text(render_upgrade_paths(target))
    pinned = Version(*(int(part) for part in target.split(".")))
    data = [Version(major, minor, patch) for major, minor in known_minors() for patch in (0, 9999)]
    data = [version for version in data if version != pinned]
    got = bash_verdicts(sandbox.tmp / "boot.sh", table, [str(v) for v in data] + ["4.6.0", "8.0.0", "2.9.9"])
    for version in data:
        assert got[str(version)] == planner_verdict(version, pinned), f"{version} -> {target}"
    # Releases that never existed (or that this sgarch does not know) are refused, not guessed.
    assert {got[v] for v in ("4.6.0", "8.0.0", "2.9.9")} == {"refuse unknown-version"}
    assert not (tmp_path / "var").exists()  # sourcing ran nothing


def test_the_tables_cover_every_hard_gate() -> None:
    """Across the targets, boot.sh meets every gate of REFERENCE (e) that versions alone decide."""
    gates = set()
    for target in TARGETS:
        for row in render_upgrade_paths(target).splitlines():
            fields = row.split(" ")
            if len(fields) == 4 and not row.startswith("#"):
                gates.update(fields[3].split(","))
    assert gates - {"-"} == {
        "pg16-migrator",  # 5.9.45 and older must stop at 5.10.3940 or 5.11.6271 before 6.x
        "pg12-entrypoint-removed",  # a PostgreSQL 12 install goes through 6.x before 7.x
        "pg16-required",  # PostgreSQL 16 from 6.0 (checked on the host)
        "downgrade-restore",  # more than one minor back needs a restore
        "mvu-minimum",  # migrator upgrade starts at 3.20
    }


def test_table_for_the_golden_version() -> None:
    assert render_upgrade_paths(VERSION).splitlines()[1:] == [
        "3.0 3.19 refuse mvu-minimum",
        "3.20 3.43 refuse pg16-migrator",
        "4.0 4.5 refuse pg16-migrator",
        "5.0 5.9 refuse pg16-migrator",
        "5.10 5.11 refuse pg12-entrypoint-removed",
        "6.0 6.12 multi-version -",
        "7.0 7.3 multi-version -",
        "7.4 7.4 standard -",
        "7.5 7.5 patch -",
        "7.6 7.6 rollback -",
        "gate mvu-minimum Multi-version upgrades need 3.20 or later: upgrade one minor version at a time first",
        "gate pg12-entrypoint-removed 5.x must stop at a 6.x release before 7.x: pin 6.12.5040 first, "
        "then 7.5.4453",
        "gate pg16-migrator 5.9.x and older must stop at 5.10.3940 or 5.11.6271 before 6.x: pin 5.11.6271 "
        "first, then 7.5.4453",
    ]


def test_unknown_target_gets_a_wildcard_row() -> None:
    assert render_upgrade_paths("7.9.0").splitlines()[1:] == ["* * unchecked -"]
