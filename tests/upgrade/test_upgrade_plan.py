"""The upgrade planner, table-tested with the paths and gates from Sourcegraph's upgrade docs, and its CLI."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from sgarch.cli.app import main
from sgarch.errors import ConfigError
from sgarch.upgrade import Arch, UpgradeKind, Version, parse_version, plan_upgrade


def v(text: str) -> Version:
    return parse_version(text)


# (from, to, kind, path) — path lists every version visited.
PATHS = [
    # Standard: one minor, or the next release when it is a major; patches never change the type.
    ("5.0.0", "5.1.0", "standard", ["5.0.0", "5.1.0"]),
    ("4.5.1", "5.0.6", "standard", ["4.5.1", "5.0.6"]),
    ("5.11.6271", "6.0.0", "standard", ["5.11.6271", "6.0.0"]),
    ("6.12.5040", "7.0.0", "standard", ["6.12.5040", "7.0.0"]),
    ("7.5.0", "7.5.4453", "standard", ["7.5.0", "7.5.4453"]),
    # Multi-version: more than one minor.
    ("5.0.0", "5.2.0", "multi-version", ["5.0.0", "5.2.0"]),
    ("4.4.2", "5.0.3", "multi-version", ["4.4.2", "5.0.3"]),
    ("6.4.0", "6.9.1277", "multi-version", ["6.4.0", "6.9.1277"]),
    ("3.20.0", "5.9.45", "multi-version", ["3.20.0", "5.9.45"]),
    # Gate 1: 5.9.45 and older stop at 5.11.6271 before any 6.x.
    ("5.9.45", "6.0.0", "multi-version", ["5.9.45", "5.11.6271", "6.0.0"]),
    ("5.9.45", "6.1.0", "multi-version", ["5.9.45", "5.11.6271", "6.1.0"]),
    ("5.3.0", "6.12.5040", "multi-version", ["5.3.0", "5.11.6271", "6.12.5040"]),
    ("5.9.45", "5.11.6271", "multi-version", ["5.9.45", "5.11.6271"]),
    # Already past the window: no stop.
    ("5.10.3940", "6.5.0", "multi-version", ["5.10.3940", "6.5.0"]),
    # Gate 2: PostgreSQL 12 -> 16 only runs in 5.10-6.x images; 5.x stops at 6.x before 7.x.
    ("5.11.6271", "7.0.0", "multi-version", ["5.11.6271", "6.12.5040", "7.0.0"]),
    ("5.9.0", "7.5.4453", "multi-version", ["5.9.0", "5.11.6271", "6.12.5040", "7.5.4453"]),
    ("4.0.0", "7.6.0", "multi-version", ["4.0.0", "5.11.6271", "6.12.5040", "7.6.0"]),
    ("6.0.0", "7.5.4453", "multi-version", ["6.0.0", "7.5.4453"]),
    ("6.11.5639", "7.0.0", "multi-version", ["6.11.5639", "7.0.0"]),
]


@pytest.mark.parametrize(("start", "end", "kind", "path"), PATHS)
@pytest.mark.parametrize("arch", ["single-node", "eks"])
def test_paths(start: str, end: str, kind: str, path: list[str], arch: str) -> None:
    plan = plan_upgrade(start, end, arch)
    assert plan.kind.value == kind
    assert [str(x) for x in plan.path] == path
    assert plan.blocked is None
    assert plan.steps[0].title == "Snapshot first"


def test_gates_are_reported_with_their_effect() -> None:
    plan = plan_upgrade("5.9.45", "7.5.4453", "single-node")
    assert [(g.id, g.effect) for g in plan.gates] == [
        ("pg16-migrator", "stop at 5.11.6271"),
        ("pg12-entrypoint-removed", "stop at 6.12.5040"),
        ("pg16-required", "check"),
        ("automatic-mvu-removed", "note"),
        ("retired-methods", "note"),
    ]
    titles = [s.title for s in plan.steps]
    # The PostgreSQL 16 check comes before the hop that crosses 6.0, the wait right after the stop.
    assert titles.index("Check: PostgreSQL 16 is required from 6.0.0") < titles.index(
        "Run migrator upgrade v5.11.6271 -> v6.12.5040"
    )
    assert titles.index("Wait at 5.11.6271") == titles.index("Check 5.11.6271") + 1
    assert "PostgreSQL 12 -> 16" in plan.steps[titles.index("Wait at 5.11.6271")].detail


def test_standard_upgrade_has_no_scale_down_or_migrator() -> None:
    plan = plan_upgrade("7.4.0", "7.5.4453", "single-node")
    assert [s.title for s in plan.steps] == [
        "Snapshot first",
        "Set the version to 7.5.4453 in stack config",
        "Apply with pulumi up",
        "Check 7.5.4453",
    ]
    assert plan.steps[0].commands == (
        "pulumi stack output --json > outputs.json",
        "sgarch upgrade snapshot --stack-outputs outputs.json",
    )
    assert plan.steps[1].commands == ("pulumi config set sourcegraph_version 7.5.4453",)
    assert plan.steps[2].commands == ("pulumi up",)
    assert plan.steps[3].commands[-1] == "sgarch doctor --stack-outputs outputs.json"
    assert [g.id for g in plan.gates] == []


def test_single_node_mvu_exact_compose_commands() -> None:
    plan = plan_upgrade("6.4.0", "6.9.1277", "single-node")
    titles = [s.title for s in plan.steps]
    assert titles == [
        "Snapshot first",
        "Check upgrade readiness",
        "Stop Sourcegraph (downtime starts)",
        "Run migrator upgrade v6.4.0 -> v6.9.1277",
        "Set the version to 6.9.1277 in stack config",
        "Apply with pulumi up",
        "Check 6.9.1277",
    ]
    compose = (
        "cd /mnt/data/sourcegraph && sudo docker compose --project-name sourcegraph "
        "--file deploy/docker-compose/docker-compose.yaml --file sgarch-tier.override.yaml "
        "$(test -f sgarch-env.override.yaml && echo --file sgarch-env.override.yaml)"
    )
    assert plan.steps[2].commands[-1] == f"{compose} down --remove-orphans"
    migrator = plan.steps[3].commands
    assert migrator[1] == f"{compose} --file sgarch-migrator.override.yaml up migrator"
    assert migrator[3] == "echo 6.9.1277 | sudo tee /mnt/data/.sourcegraph-version"
    assert plan.hops[0].migrator == Version(6, 9, 1277)


def test_single_node_migrator_override_is_the_documented_compose_yaml(tmp_path: object) -> None:
    # Run the printf half of the command for real and read what `tee` would write.
    plan = plan_upgrade("6.4.0", "6.9.1277", "single-node")
    printf = plan.steps[3].commands[0].split(" | sudo tee ")[0]
    written = subprocess.run(["bash", "-c", printf], check=True, capture_output=True, text=True).stdout
    assert yaml.safe_load(written) == {
        "services": {
            "migrator": {
                "image": "index.docker.io/sourcegraph/migrator:6.9.1277",
                "command": ["upgrade", "--from=v6.4.0", "--to=v6.9.1277"],
            }
        }
    }


def test_eks_mvu_exact_helm_commands() -> None:
    plan = plan_upgrade("v6.4.0", "v6.9.1277", "eks", namespace="sg")
    titles = [s.title for s in plan.steps]
    assert titles[2] == "Scale everything but the databases to 0 (downtime starts)"
    assert plan.steps[2].commands == (
        "kubectl -n sg get deployments,statefulsets -o name | grep -v -E '/(pgsql|codeintel-db|codeinsights-db)$' "
        "| xargs kubectl -n sg scale --replicas=0",
    )
    assert plan.steps[3].commands[:2] == (
        "helm repo update sourcegraph",
        'helm upgrade --install -n sg --set "migrator.args={upgrade,--from=v6.4.0,--to=v6.9.1277}" '
        "sourcegraph-migrator sourcegraph/sourcegraph-migrator --version 6.9.1277",
    )
    assert plan.steps[5].commands == ("pulumi up --refresh",)
    assert (
        plan.steps[6].commands[0]
        == "kubectl -n sg rollout status deployment/sourcegraph-frontend --timeout=30m"
    )


def test_migrator_before_6_0_for_postgres_12_hops() -> None:
    plan = plan_upgrade("5.2.0", "6.3.0", "eks")
    assert [(str(h.start), str(h.end), h.kind.value, str(h.migrator)) for h in plan.hops] == [
        ("5.2.0", "5.11.6271", "multi-version", "5.11.6271"),
        ("5.11.6271", "6.3.0", "multi-version", "6.3.0"),
    ]


@pytest.mark.parametrize(
    ("start", "end", "kind"),
    [("6.3.0", "6.2.0", "rollback"), ("6.0.0", "5.11.6271", "rollback"), ("7.5.4453", "7.5.0", "rollback")],
)
def test_one_minor_downgrade_is_a_rollback(start: str, end: str, kind: str) -> None:
    plan = plan_upgrade(start, end, "single-node")
    assert plan.kind.value == kind and plan.gates == ()
    assert plan.steps[1].commands == (f"pulumi config set sourcegraph_version {end}",)


@pytest.mark.parametrize("arch", ["single-node", "eks"])
def test_downgrade_of_more_than_one_minor_needs_a_restore(arch: str) -> None:
    plan = plan_upgrade("6.3.0", "6.1.0", arch)
    assert plan.kind is UpgradeKind.RESTORE
    assert [g.id for g in plan.gates] == ["downgrade-restore"]
    text = " ".join(c for s in plan.steps for c in s.commands)
    assert "Values=6.1.0" in text or "Value=='6.1.0'" in text
    if arch == "single-node":
        assert "pulumi config set data_volume_snapshot_id <snapshot id>" in text
        assert "pulumi up --replace '<data volume URN>'" in text
    else:
        assert "restore-db-instance-from-db-snapshot" in text


def test_mvu_below_3_20_is_blocked_but_standard_is_not() -> None:
    blocked = plan_upgrade("3.10.0", "3.30.0", "single-node")
    assert blocked.blocked and "one minor version at a time to 3.20" in blocked.blocked
    assert blocked.steps == () and blocked.gates[0].id == "mvu-minimum"
    assert plan_upgrade("3.10.0", "3.11.0", "single-node").blocked is None


def test_same_version_is_nothing_to_do() -> None:
    plan = plan_upgrade("7.5.4453", "v7.5.4453", "eks")
    assert plan.kind is UpgradeKind.NONE and plan.steps == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "6.x",
            "--from must be a Sourcegraph version like 7.5.4453 (major.minor.patch, optional leading v) (got '6.x')",
        ),
        ("6.1", "--from must be a Sourcegraph version like 7.5.4453"),
        ("6.1.2.3", "--from must be a Sourcegraph version like 7.5.4453"),
        ("", "--from must be a Sourcegraph version like 7.5.4453"),
        (
            "5.12.0",
            "--from must be a released Sourcegraph version (3.0 to 7.6) (got '5.12.0'): check the version",
        ),
        ("8.0.0", "--from must be a released Sourcegraph version (3.0 to 7.6)"),
        ("2.9.0", "--from must be a released Sourcegraph version (3.0 to 7.6)"),
    ],
)
def test_bad_versions(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        plan_upgrade(text, "7.5.4453", "single-node")
    assert str(info.value).startswith(message)


def test_bad_arch() -> None:
    with pytest.raises(ConfigError) as info:
        plan_upgrade("7.4.0", "7.5.0", "ami")
    assert str(info.value) == "--arch must be one of single-node, eks (got 'ami'): pick one of them."


def test_versions_order_and_print() -> None:
    assert v("v6.12.5040") == Version(6, 12, 5040)
    assert v("5.11.6271") < v("6.0.0") < v("6.0.1") < v("6.10.0")
    assert str(v("v7.5.4453")) == "7.5.4453" and v("7.5.4453").tag == "v7.5.4453"
    assert Arch("eks") is Arch.EKS


# --- CLI -------------------------------------------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 0), out, err


def test_cli_plan_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "upgrade", "plan", "--from", "5.9.45", "--to", "6.1.0", "--arch", "single-node"
    )
    assert code == 0
    assert out.startswith("Upgrade 5.9.45 -> 6.1.0 on single-node: multi-version (4 minor versions)\n")
    assert "Path: 5.9.45 -> 5.11.6271 -> 6.1.0" in out
    assert "[stop at 5.11.6271] pg16-migrator:" in out
    assert "  1. Snapshot first\n       $ pulumi stack output --json > outputs.json\n" in out


def test_cli_plan_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "upgrade", "plan", "--from", "6.4.0", "--to", "6.9.1277", "--arch", "eks", "--format", "json"
    )
    data = json.loads(out)
    assert code == 0
    assert (data["kind"], data["path"], data["hops"][0]["migrator"]) == (
        "multi-version",
        ["6.4.0", "6.9.1277"],
        "6.9.1277",
    )


def test_cli_plan_blocked_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "upgrade", "plan", "--from", "3.5.0", "--to", "3.25.0", "--arch", "eks")
    assert code == 1
    assert "[blocks] mvu-minimum" in out
    assert err.startswith("error: upgrade blocked: multi-version upgrades start at 3.20")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--from", "6.x", "--to", "7.0.0", "--arch", "eks"], "error: --from must be a Sourcegraph version"),
        (["--from", "6.0.0", "--to", "9.9.9", "--arch", "eks"], "error: --to must be a released Sourcegraph"),
        (
            ["--from", "6.0.0", "--to", "7.0.0", "--arch", "k3s"],
            "error: --arch must be one of single-node, eks",
        ),
        (["--from", "6.0.0", "--to", "7.0.0", "--arch", "eks", "--format", "xml"], "error: --format must be"),
    ],
)
def test_cli_plan_bad_input_exits_2(
    capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    code, out, err = run(capsys, "upgrade", "plan", *args)
    assert code == 2 and out == ""
    assert err.startswith(expected) and len(err.strip().splitlines()) == 1
