from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sgarch.cli.app import main

STACKS = Path(__file__).parent.parent / "fixtures" / "stacks"
TINY = str(STACKS / "tiny")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 0), out, err


def test_tree_counts_and_exports(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "plan", TINY, "--stack", "prod")
    assert code == 0, err
    assert "tiny / prod" in out
    assert "aws:ebs/volume:Volume tiny-data [protect]" in out
    assert "size=500" in out and "encrypted=true" in out
    assert "cidrIpv4=0.0.0.0/0" in out
    lines = [line.split() for line in out.splitlines()]
    assert ["total", "│", "6"] in lines
    assert any(line[:1] == ["data_volume_id"] and line[-1].startswith("vol-") for line in lines)


def test_secret_export_is_hidden_in_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plan", TINY)
    assert code == 0
    assert "secret-placeholder" not in out
    assert any(line.split()[:3] == ["db_password", "│", "[secret]"] for line in out.splitlines())


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "plan", TINY, "--json", "--config", "volumeGib=64", "-c", "aws:region=eu-central-1"
    )
    assert code == 0
    data = json.loads(out)
    assert data["stack"] == "dev" and data["project"] == "tiny"
    volume = next(r for r in data["resources"] if r["name"] == "tiny-data")
    assert volume["inputs"]["size"] == 64
    assert volume["inputs"]["availabilityZone"] == "eu-central-1a"
    assert volume["protect"] is True
    assert all({"type", "name", "parent", "inputs"} <= set(r) for r in data["resources"])
    assert data["exports"]["db_password"] == "[secret]"


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["--stack", "prod", "--config", "volumeGib=lots"],
            "error: tiny:volumeGib must be an integer (got 'lots'): fix the --config value.",
        ),
        (
            [str(STACKS / "raises_config_error")],
            "error: raises:tier must be one of XS, S, M, L, XL (got 'XXL'): pick a single-node tier.",
        ),
    ],
)
def test_invalid_config_is_one_line_and_status_2(
    capsys: pytest.CaptureFixture[str], args: list[str], line: str
) -> None:
    argv = ["plan", *args] if args[0].startswith("/") else ["plan", TINY, *args]
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.strip().splitlines() == [line]


def test_program_bug_is_one_line_and_status_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "plan", str(STACKS / "broken"))
    assert code == 1
    assert err.strip().splitlines() == [
        "error: broken program failed at __main__.py:6: ZeroDivisionError: division by zero"
    ]


def test_installed_script_has_no_traceback() -> None:
    # Through the real entry point, in a fresh interpreter: the pulumi-aws import warnings stay hidden too.
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from sgarch.cli import main; main()",
            "plan",
            TINY,
            "--config",
            "volumeGib=x",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip() == "error: tiny:volumeGib must be an integer (got 'x'): fix the --config value."
    )


def test_error_inside_an_output_is_one_line_without_echoes() -> None:
    # Every resource that depends on the failing Output fails with it; asyncio would report each of their
    # futures with a full traceback ("Future exception was never retrieved") after the real message.
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from sgarch.cli import main; main()",
            "plan",
            str(STACKS / "raises_in_output"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "error: aws:region must be an AWS region like us-east-1 (got 'mars-north-1'): check the region name."
    ]
