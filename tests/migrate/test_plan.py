"""``sgarch migrate plan``: the steps, the gates, the downtime arithmetic and the CLI's exit statuses."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys

import pytest
from typer.main import get_command

from sgarch.cli.app import _register, app, main
from sgarch.docs._migrate import render_migrate
from sgarch.eks.versions import SOURCEGRAPH_CHART_RELEASES
from sgarch.errors import ConfigError
from sgarch.host import deploy_commits
from sgarch.migrate.k8s import eks_export_steps, eks_import_steps
from sgarch.migrate.plan import (
    DUMP_FORMAT_FLOOR,
    MODEL,
    DowntimeModel,
    MigrationPlan,
    estimate_downtime,
    plan_migration,
)
from sgarch.migrate.render import render_plan
from sgarch.upgrade.plan import plan_upgrade

SAME = ("7.5.4453", "7.5.4453")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(["migrate", "plan", *args])
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 1), out, err


# --- steps -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("source", "target"), [("single-node", "eks"), ("eks", "single-node")])
def test_steps_cover_the_whole_move_in_order(source: str, target: str) -> None:
    plan = plan_migration(source, target, *SAME, data_gb=20)
    assert plan.blocked is None
    titles = [s.title.lower() for s in plan.steps]
    order = [
        "pre-flight",
        "snapshot",
        "maintenance mode",
        "export",
        "transfer",
        "import",
        "verify",
        "dns",
        "re-enable writes",
        "clone and index",
    ]
    positions = [next(i for i, t in enumerate(titles) if word in t) for word in order]
    assert positions == sorted(positions)
    assert all(step.touches for step in plan.steps)
    commands = [c for s in plan.steps for c in s.commands]
    assert "sgarch upgrade snapshot --stack-outputs source-outputs.json" in commands
    assert (
        f'sgarch migrate import --to {target} --stack-outputs target-outputs.json --manifest "$MANIFEST"'
        in commands
    )
    assert f"pulumi -C stacks/{target} config set sourcegraph_version 7.5.4453" in commands
    # Every step after the export reads the manifest the export step names.
    export = next(s for s in plan.steps if s.title == "Export")
    assert any(c.startswith("MANIFEST=") for c in export.commands)
    # The snapshot comes before anything the source notices; downtime spans maintenance to re-enabled writes.
    first, last = plan.downtime_steps or (0, 0)
    assert "maintenance mode" in titles[first - 1] and "re-enable writes" in titles[last - 1]
    assert titles.index(next(t for t in titles if "snapshot" in t)) < first - 1


def test_the_steps_speak_each_architecture() -> None:
    to_eks = plan_migration("single-node", "eks", *SAME)
    to_node = plan_migration("eks", "single-node", *SAME)
    eks_commands = [c for s in to_eks.steps for c in s.commands]
    node_commands = [c for s in to_node.steps for c in s.commands]
    # single-node -> EKS: export through SSM, import and confirm through the EKS stack.
    assert (
        'MANIFEST=$(sgarch migrate export --stack-outputs source-outputs.json --bucket "$BUCKET")'
        in eks_commands
    )
    assert "pulumi -C stacks/eks config rm migrate_import" in eks_commands
    assert any("get ingress sourcegraph-frontend" in c for c in eks_commands)
    assert any("--show-secrets > target-outputs.json" in c for c in eks_commands)
    assert any(c.startswith("aws ssm start-session") for c in eks_commands)
    # EKS -> single-node: export through the EKS stack, import and finish through SSM.
    assert 'pulumi -C stacks/eks config set migrate_export "s3://$BUCKET/exports/eks"' in node_commands
    assert 'MANIFEST="s3://$BUCKET/exports/eks/manifest.json"' in node_commands
    assert (
        'sgarch migrate import --to single-node --stack-outputs target-outputs.json --manifest "$MANIFEST" '
        "--finish" in node_commands
    )
    assert "sgarch doctor --stack-outputs target-outputs.json" in node_commands
    assert any(c.startswith("kubectl -n sourcegraph exec statefulset/pgsql") for c in node_commands)


def sgarch_invocations(plan: MigrationPlan) -> list[list[str]]:
    """Every ``sgarch ...`` command of a plan as argv, including one inside ``VAR=$(...)``."""
    found = []
    for step in plan.steps:
        for command in step.commands:
            for match in re.finditer(r"sgarch [^)]*", command):
                found.append(shlex.split(match.group(0))[1:])
    return found


@pytest.mark.parametrize(("source", "target"), [("single-node", "eks"), ("eks", "single-node")])
def test_every_sgarch_command_in_a_plan_parses_with_the_real_cli(source: str, target: str) -> None:
    # A renamed flag in export, import, abort, snapshot or doctor fails here rather than in front of a user.
    _register()
    root = get_command(app)
    argvs = sgarch_invocations(plan_migration(source, target, *SAME))
    assert len(argvs) >= 3
    for argv in argvs:
        command, rest = root, list(argv)
        while hasattr(command, "commands"):
            command = command.commands[rest.pop(0)]
        command.make_context(argv[-1], rest)  # raises on an unknown or missing option


@pytest.mark.parametrize(("source", "target"), [("single-node", "eks"), ("eks", "single-node")])
def test_the_eks_config_keys_are_the_ones_the_eks_import_and_export_use(source: str, target: str) -> None:
    manifest = "s3://bucket/exports/eks/manifest.json"
    key = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    theirs = eks_import_steps(manifest, key) + eks_export_steps("s3://bucket/exports/eks", key)
    keys = {m[1] for s in theirs for c in s.commands if (m := re.search(r"config (?:set|rm) (\w+)", c))}
    ours = plan_migration(source, target, *SAME)
    used = {
        m[1]
        for s in ours.steps
        for c in s.commands
        if (m := re.search(r"stacks/eks config (?:set|rm) (\w+)", c))
    }
    assert used - {"sourcegraph_version", "tier"} <= keys
    assert used & keys  # the EKS side of either direction goes through those keys


def test_a_known_tier_sizes_the_target() -> None:
    plan = plan_migration("single-node", "eks", *SAME, from_tier="l")
    assert "pulumi -C stacks/eks config set tier L" in plan.steps[0].commands
    assert plan_migration("single-node", "eks", *SAME, from_tier="M", to_tier="2XL").blocked is None


# --- gates -------------------------------------------------------------------------------------------------


def test_different_releases_name_the_upgrade_to_plan_first() -> None:
    plan = plan_migration("single-node", "eks", "7.5.4453", "7.6.0")
    assert plan.steps == ()
    assert plan.blocked is not None
    assert "sgarch upgrade plan --from 7.5.4453 --to 7.6.0 --arch single-node" in plan.blocked
    assert "pulumi config set sourcegraph_version 7.5.4453" in plan.blocked
    # The named upgrade is one the upgrade planner accepts.
    assert plan_upgrade("7.5.4453", "7.6.0", "single-node").blocked is None


def test_a_target_ahead_of_the_source_is_the_side_to_move() -> None:
    plan = plan_migration("eks", "single-node", "7.5.4453", "7.4.2513")
    assert plan.blocked is not None
    assert "sgarch upgrade plan --from 7.4.2513 --to 7.5.4453 --arch single-node" in plan.blocked
    assert "never take the source back" in plan.blocked


def test_the_dump_format_floor_is_postgresql_16() -> None:
    assert str(DUMP_FORMAT_FLOOR) == "6.0.0"
    below = plan_migration("single-node", "eks", "5.11.6271", "5.11.6271")
    assert below.blocked is not None
    assert "older than 6.0.0" in below.blocked
    assert "sgarch upgrade plan --from 5.11.6271 --to " in below.blocked
    assert plan_migration("single-node", "eks", "6.0.0", "6.0.0").blocked is None


@pytest.mark.parametrize(
    ("source", "target", "from_tier", "to_tier", "reason"),
    [
        ("single-node", "eks", "L", "M", "the target tier M is smaller than the source's L"),
        ("eks", "single-node", "XL", "S", "the target tier S is smaller than the source's XL"),
        ("eks", "single-node", "2XL", None, "the source is 2XL, larger than any single machine"),
        ("eks", "single-node", "3XL", "XL", "the source is 3XL, larger than any single machine"),
    ],
)
def test_a_smaller_target_is_blocked(
    source: str, target: str, from_tier: str, to_tier: str | None, reason: str
) -> None:
    plan = plan_migration(source, target, *SAME, from_tier=from_tier, to_tier=to_tier)
    assert plan.blocked is not None and plan.blocked.startswith(reason)
    assert plan.steps == ()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"from_arch": "nomad"}, "--from must be one of single-node, eks (got 'nomad')"),
        ({"to_arch": "single-node"}, "--to must be a different architecture from --from"),
        ({"from_version": "7.5"}, "--from-version must be a Sourcegraph version like 7.5.4453"),
        ({"to_version": "8.0.0"}, "--to-version must be a released Sourcegraph version"),
        ({"data_gb": -1.0}, "--data-gb must be a size in GB, 0 or more (got -1)"),
        ({"data_gb": float("inf")}, "--data-gb must be a size in GB, 0 or more"),
        ({"from_tier": "huge"}, "--from-tier must be one of XS, S, M, L, XL, 2XL, 3XL (got 'huge')"),
        ({"from_tier": "2XL"}, "--from-tier must be a single-node tier (XS, S, M, L or XL) (got '2XL')"),
        ({"to_tier": "XL9"}, "--to-tier must be one of XS"),
    ],
)
def test_bad_input_is_a_config_error(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "from_arch": "single-node",
        "to_arch": "eks",
        "from_version": "7.5.4453",
        "to_version": "7.5.4453",
    }
    with pytest.raises(ConfigError) as info:
        plan_migration(**(args | kwargs))  # type: ignore[arg-type]
    assert str(info.value).startswith(message)


# --- downtime ----------------------------------------------------------------------------------------------


def test_downtime_follows_the_stated_rates() -> None:
    model = MODEL
    per_gb_hours = (
        1 / model.dump_gb_per_hour
        + 2 / model.transfer_gb_per_hour
        + 1 / model.restore_gb_per_hour
        + 1 / model.verify_gb_per_hour
    )
    for gb in (0, 1, 37.5, 400):
        raw = model.fixed_minutes + gb * per_gb_hours * 60
        minutes = estimate_downtime(gb).minutes
        assert minutes is not None and minutes % 5 == 0 and raw <= minutes < raw + 5
    # The sentence the plan prints names every rate it used.
    assumption = estimate_downtime(10).assumption
    for rate in (model.dump_gb_per_hour, model.transfer_gb_per_hour, model.restore_gb_per_hour):
        assert f"{rate:g} GB/h" in assumption
    assert f"{model.fixed_minutes} minutes fixed" in assumption


def test_downtime_grows_with_the_data_and_with_slower_rates() -> None:
    assert estimate_downtime(None).minutes is None
    sizes = [estimate_downtime(gb).minutes or 0 for gb in (0, 10, 100, 1000)]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]
    slow = DowntimeModel(restore_gb_per_hour=MODEL.restore_gb_per_hour / 2)
    assert (estimate_downtime(100, slow).minutes or 0) > (estimate_downtime(100).minutes or 0)


def test_the_plan_carries_the_estimate() -> None:
    plan = plan_migration("single-node", "eks", *SAME, data_gb=100)
    assert plan.downtime.minutes == estimate_downtime(100).minutes
    assert plan.downtime.reclone_hours == 6


# --- CLI ---------------------------------------------------------------------------------------------------


def test_cli_acceptance_same_release_prints_numbered_steps(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys,
        "--from",
        "single-node",
        "--to",
        "eks",
        "--from-version",
        "7.5.4453",
        "--to-version",
        "7.5.4453",
    )
    assert code == 0, err
    assert err == ""
    plan = plan_migration("single-node", "eks", *SAME)
    for number, step in enumerate(plan.steps, start=1):
        assert f"{number:>3}. {step.title}\n" in out
        for command in step.commands:
            assert f"       $ {command}\n" in out  # unwrapped, so it pastes as one line
    assert "pass --data-gb for an estimate" in out


def test_cli_with_data_gb_prints_the_estimate(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--from", "eks", "--to", "single-node", "--from-version", "7.5.4453",
                       "--to-version", "7.5.4453", "--data-gb", "40")  # fmt: skip
    assert code == 0
    minutes = estimate_downtime(40).minutes or 0
    hours, rest = divmod(minutes, 60)
    assert f"Downtime: about {hours} h {rest:02d} min for 40 GB" in out
    assert MODEL.assumption() in out


def test_cli_acceptance_different_release_exits_1_naming_the_upgrade(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(
        capsys, "--from", "single-node", "--to", "eks", "--from-version", "7.5.4453", "--to-version", "7.6.0"
    )
    assert code == 1
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: migration blocked: the two sides run different releases")
    assert "sgarch upgrade plan --from 7.5.4453 --to 7.6.0 --arch single-node" in lines[0]


def test_cli_acceptance_unknown_arch_exits_2_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "--from", "nomad", "--to", "eks", "--from-version", "7.5.4453", "--to-version", "7.5.4453"
    )
    assert code == 2
    assert err.strip().splitlines() == [
        "error: --from must be one of single-node, eks (got 'nomad'): pick one of them."
    ]
    assert "Traceback" not in out + err


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--from", "single-node", "--to", "eks", "--from-version", "7.5.4453",
                       "--to-version", "7.5.4453", "--data-gb", "12.5", "--from-tier", "M", "--format", "json")  # fmt: skip
    assert code == 0
    data = json.loads(out)
    plan = plan_migration("single-node", "eks", *SAME, data_gb=12.5, from_tier="M")
    assert data == json.loads(json.dumps(plan.to_dict()))
    assert (data["from"], data["to"], data["from_tier"], data["blocked"]) == ("single-node", "eks", "M", None)
    assert data["downtime"]["minutes"] == estimate_downtime(12.5).minutes
    assert data["downtime"]["steps"] == list(plan.downtime_steps or ())
    assert [s["title"] for s in data["steps"]] == [s.title for s in plan.steps]
    assert all({"title", "commands", "touches", "detail"} <= set(s) for s in data["steps"])


def test_cli_json_blocked_still_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--from", "eks", "--to", "single-node", "--from-version", "7.5.4453",
                         "--to-version", "7.5.4453", "--from-tier", "3XL", "--format", "json")  # fmt: skip
    assert code == 1
    assert json.loads(out)["blocked"].startswith("the source is 3XL")
    assert err.startswith("error: migration blocked: the source is 3XL")


def test_the_planner_needs_no_pulumi() -> None:
    # Pure logic: a user on a laptop without the Pulumi SDK can still plan (and the docs render it).
    code = "import sys, sgarch.migrate.plan; sys.exit('pulumi' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# --- the generated page ------------------------------------------------------------------------------------


def test_the_page_shows_what_the_planner_prints() -> None:
    page = render_migrate()
    example = plan_migration("single-node", "eks", "7.5.4453", "7.5.4453", data_gb=50, from_tier="XL")
    assert render_plan(example) in page + "\n"
    for gb in (10, 100):
        assert f"| {gb} GB | {estimate_downtime(gb).minutes} min" in page
    assert "Sourcegraph has no read-only or maintenance mode of its own" in page
    assert "## POC to single-node (promotion by snapshot)" in page
    # The releases it offers are exactly the ones both stacks accept.
    offered = re.search(r"Releases both pin, from 6\.0\.0 on: (.*)\.\n", page)
    assert offered is not None
    releases = [v.strip("`") for v in offered.group(1).split(", ")]
    assert releases == [v for v in SOURCEGRAPH_CHART_RELEASES if v in deploy_commits()]
    assert "7.5.4453" in releases
