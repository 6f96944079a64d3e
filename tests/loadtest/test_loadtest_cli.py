"""`sgarch loadtest`: bad input is one line and exit 2; a run exits 0 or 1; the token stays secret."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from sgarch.cli.app import main
from sgarch.testing.fake_sourcegraph import FakeSourcegraph


def sgarch(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 0), out, err


@pytest.fixture(autouse=True)
def _no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    monkeypatch.setenv("SRC_ACCESS_TOKEN", "sgp_cli_test_token")


@pytest.mark.parametrize(
    ("args", "starts"),
    [
        (
            ["--url", "sourcegraph.example.com", "--tier", "M"],
            "error: --url must be an http:// or https:// URL",
        ),
        (["--url", "ftp://x.example", "--tier", "M"], "error: --url must be an http:// or https:// URL"),
        (
            ["--url", "https://x.example:99999", "--tier", "M"],
            "error: --url must be an http:// or https:// URL",
        ),
        (["--url", "https://u:p@x.example", "--tier", "M"], "error: --url must be a URL without credentials"),
        (
            ["--url", "https://x.example", "--tier", "XXXXL"],
            "error: --tier must be one of XS, S, M, L, XL, 2XL, 3XL",
        ),
        (
            ["--url", "https://x.example", "--tier", "M", "--scale", "0"],
            "error: --scale must be greater than 0",
        ),
        (
            ["--url", "https://x.example", "--tier", "M", "--scale", "1.5"],
            "error: --scale must be greater than 0",
        ),
        (
            ["--url", "https://x.example", "--tier", "M", "--scale", "-1"],
            "error: --scale must be greater than 0",
        ),
        (
            ["--url", "https://x.example", "--tier", "M", "--duration-scale", "2"],
            "error: --duration-scale must be greater than 0",
        ),
        (
            ["--url", "https://x.example", "--tier", "M", "--profile", "soak"],
            "error: --profile must be one of load",
        ),
        (
            ["--url", "https://x.example", "--tier", "M", "--queries", "/nonexistent/q.yaml"],
            "error: --queries must be a readable query file",
        ),
        (
            ["--url", "https://x.example", "--tier", "M", "--token-env", "SGARCH_TEST_UNSET_VAR"],
            "error: --token-env must be the name of a set environment variable",
        ),
        (["--url", "https://x.example", "--tier", "M"], "error: --yes must be given for a full-size run"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], starts: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = sgarch(["loadtest", "run", *args], capsys)
    assert code == 2
    assert err.startswith(starts), err
    assert err.count("\n") == 1 and "Traceback" not in err + out


def test_invalid_query_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "q.yaml"
    path.write_text("literal:\n  regular: ['x patterntype:regexp']\n", encoding="utf-8")
    code, _, err = sgarch(
        ["loadtest", "run", "--url", "https://x.example", "--tier", "M", "--queries", str(path)], capsys
    )
    assert code == 2
    assert err.startswith("error: --queries q.yaml: literal.regular must be a query without patterntype:")
    assert err.count("\n") == 1


def test_token_env_value_is_never_echoed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MY_TOKEN", "two words")
    code, out, err = sgarch(
        ["loadtest", "run", "--url", "https://x.example", "--tier", "M", "--token-env", "MY_TOKEN"], capsys
    )
    assert code == 2 and "two words" not in out + err
    assert err.startswith(
        "error: --token-env must be a variable holding one token without spaces (got 'MY_TOKEN')"
    )


def test_queries_init_writes_a_template_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "queries.yaml"
    code, out, _ = sgarch(["loadtest", "queries", "--init", str(path)], capsys)
    assert code == 0 and path.is_file() and "Wrote" in out
    code, _, err = sgarch(["loadtest", "queries", "--init", str(path)], capsys)
    assert code == 2 and err.startswith("error: --init must be a file that does not exist yet")


def test_run_end_to_end_with_a_secret_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    token = "sgp_CLI_CANARY_0d1e2f3a4b5c6d7e8f9a"
    monkeypatch.setenv("SG_LOADTEST_TOKEN", token)
    queries = tmp_path / "q.yaml"
    queries.write_text("literal:\n  regular: ['lang:go func main']\n", encoding="utf-8")
    out_dir = tmp_path / "report"
    with FakeSourcegraph(token=token) as sg:
        args = ["loadtest", "run", "--url", sg.url, "--tier", "S", "--profile", "stress", "--scale", "0.05"]
        args += ["--duration-scale", "0.05", "--token-env", "SG_LOADTEST_TOKEN", "--queries", str(queries)]
        code, out, err = sgarch([*args, "--out", str(out_dir)], capsys)
        assert sg.stats.unauthorized == 0 and sg.stats.requests["literal"] == 10
    assert code == 0, err
    assert "PASS" in out and "Scaled run: 10 of 200 virtual users" in out
    report = json.loads((out_dir / "report.json").read_text(encoding="utf-8"))
    assert (report["tier"], report["profile"], report["scale"], report["passed"]) == (
        "S",
        "stress",
        0.05,
        True,
    )
    assert [r["search_type"] for r in report["rows"]] == ["literal", "highlight"]
    for text in [out, err, *(p.read_text(encoding="utf-8") for p in out_dir.iterdir())]:
        assert token not in text


def test_a_failed_threshold_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeSourcegraph(error_rate=0.5) as sg:
        args = ["loadtest", "run", "--url", sg.url, "--tier", "XS", "--profile", "stress", "--scale", "0.1"]
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("SRC_ACCESS_TOKEN", sg.token)
            code, out, _ = sgarch([*args, "--duration-scale", "0.05", "--out", str(tmp_path / "r")], capsys)
    assert code == 1
    assert "FAIL" in out and "scale " in out


def test_selftest_reports_a_rate(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = sgarch(["loadtest", "selftest", "--vus", "5", "--seconds", "2"], capsys)
    assert code == 0, err
    assert "requests/s" in out and "k6 used" in out and "3XL" in out


@pytest.mark.parametrize("args", [["--vus", "0"], ["--seconds", "0.5"]])
def test_selftest_bounds(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = sgarch(["loadtest", "selftest", *args], capsys)
    assert code == 2 and err.startswith("error: --")
