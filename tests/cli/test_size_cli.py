from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from sgarch.cli.app import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 0), out, err


def test_table_names_tier_reason_and_machine(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "size", "--users", "1000", "--repos", "80000")
    assert code == 0
    assert "Tier L" in out and "Repos decided it" in out
    assert "m6a.12xlarge" in out and "gitserver" in out and "total" in out


def test_xs(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "size", "--users", "100", "--repos", "300", "--total-repo-gb", "30", "--format", "json"
    )
    assert code == 0
    data = json.loads(out)
    assert data["tier"] == "XS"
    assert data["totals"]["storage_gb"] == sum(s["storage_gb"] for s in data["services"])


def test_helm_and_compose_formats_are_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "size", "--users", "100", "--repos", "300", "--format", "helm")
    assert yaml.safe_load(out)["gitserver"]["storageSize"].endswith("Gi")
    _, out, _ = run(capsys, "size", "--users", "100", "--repos", "300", "--format", "compose")
    assert "gitserver-0" in yaml.safe_load(out)["services"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--users", "-1", "--repos", "5"],
            "error: --users must be a whole number from 1 to 50,000 (got -1)",
        ),
        (
            ["--users", "x", "--repos", "5"],
            "error: --users must be a whole number from 1 to 50,000 (got 'x')",
        ),
        (["--users", "5", "--repos", "9000000"], "error: --repos must be a whole number from 1 to 5,000,000"),
        (["--users", "5", "--repos", "5", "--format", "xml"], "error: --format must be one of table, json"),
        (["--users", "5"], "error: Missing option '--repos'"),
    ],
)
def test_bad_flags_print_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run(capsys, "size", *args)
    assert code == 2
    assert out == ""
    assert err.startswith(message)
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_installed_script_has_no_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sgarch", "size", "--users", "0", "--repos", "1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.startswith("error: --users")
