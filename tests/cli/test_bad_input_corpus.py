"""Bad input anywhere in the CLI: exit status 2, at most three lines, never a traceback.

Each case is something a site admin could mistype. The whole command runs, in-process through the real
entry point, so a check that happens too late (inside an Output, after an AWS call) shows up here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sgarch.cli.app import main

ROOT = Path(__file__).resolve().parents[2]
SINGLE = str(ROOT / "stacks" / "single-node")
EKS = str(ROOT / "stacks" / "eks")
POC = str(ROOT / "stacks" / "poc")
SPEC = str(ROOT / "amis" / "single-node")

CORPUS: list[list[str]] = [
    # size
    ["size", "--users", "0", "--repos", "10"],
    ["size", "--users", "lots", "--repos", "10"],
    ["size", "--users", "100", "--repos", "-5"],
    ["size", "--users", "100", "--repos", "10", "--total-repo-gb", "-1"],
    ["size", "--users", "100", "--repos", "10", "--total-repo-gb", "10", "--largest-repo-gb", "20"],
    ["size", "--users", "100", "--repos", "10", "--format", "xml"],
    ["size", "--users", "60000", "--repos", "10"],
    ["size", "--repos", "10"],
    # plan: single-node
    ["plan", SINGLE, "--config", "tier=XXL"],
    ["plan", SINGLE, "--config", "tier=2XL"],
    ["plan", SINGLE, "--config", "instance_type=m6a.3xlarge"],
    ["plan", SINGLE, "--config", "instance_type=m7g.4xlarge"],
    ["plan", SINGLE, "--config", "aws:region=mars-north-1"],
    ["plan", SINGLE, "--config", "users=many"],
    ["plan", SINGLE, "--config", "data_volume_gib=50"],
    ["plan", SINGLE, "--config", "sourcegraph_version=latest"],
    ["plan", SINGLE, "--config", "snapshot_time_utc=25:00"],
    ["plan", SINGLE, "--stack", "no-such-stack"],
    ["plan", str(ROOT / "stacks" / "no-such-arch")],
    # plan: EKS
    ["plan", EKS, "--config", "kubernetes_version=1.19"],
    ["plan", EKS, "--config", "kubernetes_version=1.34.2"],
    ["plan", EKS, "--config", "log_retention_days=45"],
    ["plan", EKS, "--config", 'public_access_cidrs=["0.0.0.0/0"]'],
    ["plan", EKS, "--config", 'public_access_cidrs=["not-a-cidr"]'],
    ["plan", EKS, "--config", "tier=huge"],
    ["plan", EKS, "--config", "instance_type=m6a.3xlarge"],
    ["plan", EKS, "--config", "aws:region=mars-north-1"],
    ["plan", EKS, "--config", "postgres_auth=magic"],
    # plan: POC
    ["plan", POC, "--config", "tier=XL9"],
    ["plan", POC, "--config", "expires_on=tomorrow"],
    ["plan", POC, "--config", "runtime=nomad"],
    ["plan", POC, "--config", "aws:region=mars-north-1"],
    # upgrade
    ["upgrade", "plan", "--from", "seven", "--to", "7.5.4453", "--arch", "single-node"],
    ["upgrade", "plan", "--from", "7.4.0", "--to", "7.5.4453", "--arch", "nomad"],
    ["upgrade", "plan", "--from", "7.4.0", "--to", "7.5.4453", "--arch", "eks", "--format", "xml"],
    ["upgrade", "snapshot", "--stack-outputs", "/nonexistent/outputs.json"],
    # loadtest
    ["loadtest", "run", "--url", "https://sourcegraph.example.com", "--tier", "XXL"],
    ["loadtest", "run", "--url", "https://sourcegraph.example.com", "--tier", "S", "--scale", "2"],
    ["loadtest", "run", "--url", "https://sourcegraph.example.com", "--tier", "S", "--profile", "soak"],
    ["loadtest", "run", "--url", "not a url", "--tier", "S"],
    # ami build
    ["ami", "build", "/nonexistent/spec", "--dry-run"],
    ["ami", "build", SPEC, "--version", "latest", "--dry-run"],
    ["ami", "build", SPEC, "--regions", "mars-north-1", "--dry-run"],
    ["ami", "build", SPEC, "--source-ami", "image-1", "--dry-run"],
    # ami cleanup
    ["ami", "cleanup", "--build-id", "bad id!", "--dry-run"],
    [
        "ami",
        "cleanup",
        "--build-id",
        "0f8fad5b-d9cb-469f-a165-70867728950e",
        "--regions",
        "mars-1",
        "--dry-run",
    ],
    ["ami", "cleanup", "--dry-run"],
    # doctor
    ["doctor", "--stack-outputs", "/nonexistent/outputs.json"],
    ["doctor", "--stack-outputs", str(ROOT / "README.md")],
]


@pytest.mark.parametrize("argv", CORPUS, ids=lambda argv: " ".join(a.replace(str(ROOT), "") for a in argv))
def test_bad_input_exits_2_in_at_most_three_lines(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    out, err = capsys.readouterr()
    assert exit_info.value.code == 2, (out + err)[-2000:]
    lines = [line for line in err.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 3, err[-2000:]
    assert "Traceback" not in out + err


def test_the_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 40
    commands = {
        " ".join(argv[:2]) if argv[0] in {"upgrade", "loadtest", "ami"} else argv[0] for argv in CORPUS
    }
    assert {"size", "plan", "upgrade plan", "loadtest run", "ami build", "ami cleanup", "doctor"} <= commands
