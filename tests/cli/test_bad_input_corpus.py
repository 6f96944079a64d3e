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
    ["plan", SINGLE, "--config", 'availability_zone_ids=["use1-az9", "use1-az1"]'],
    [
        "plan",
        SINGLE,
        "--config",
        "internet_facing=true",
        "--config",
        "vpc_id=vpc-1",
        "--config",
        'subnet_ids=["subnet-1"]',
    ],
    ["plan", SINGLE, "--config", 'public_subnet_ids=["subnet-1", "subnet-2"]'],
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
    ["plan", EKS, "--config", 'availability_zone_ids=["use1-az1", "use1-az3"]'],
    ["plan", EKS, "--config", 'availability_zone_ids=["us-east-1a", "us-east-1b"]'],
    # plan: POC
    ["plan", POC, "--config", "tier=XL9"],
    ["plan", POC, "--config", "expires_on=tomorrow"],
    ["plan", POC, "--config", "runtime=nomad"],
    ["plan", POC, "--config", "aws:region=mars-north-1"],
    ["plan", POC, "--config", 'availability_zone_ids=["use1-az1", "use1-az2"]'],
    # A new VPC without a way in, or with one that cannot work.
    ["plan", POC, "--config", "vpc_id=", "--config", "subnet_ids=[]"],
    [
        "plan",
        POC,
        "--config",
        "vpc_id=",
        "--config",
        "subnet_ids=[]",
        "--config",
        "transit_gateway_id=tgw-nope",
    ],
    [
        "plan",
        POC,
        "--config",
        "vpc_id=",
        "--config",
        "subnet_ids=[]",
        "--config",
        'routed_cidrs=["fd00::/8"]',
    ],
    ["plan", POC, "--config", "transit_gateway_id=tgw-0123456789abcdef0"],
    ["plan", POC, "--config", "http_proxy=http://proxy.corp.example.com:3128", "--config", "proxy_cidrs=[]"],
    # upgrade
    ["upgrade", "plan", "--from", "seven", "--to", "7.5.4453", "--arch", "single-node"],
    ["upgrade", "plan", "--from", "7.4.0", "--to", "7.5.4453", "--arch", "nomad"],
    ["upgrade", "plan", "--from", "7.4.0", "--to", "7.5.4453", "--arch", "eks", "--format", "xml"],
    ["upgrade", "snapshot", "--stack-outputs", "/nonexistent/outputs.json"],
    # migrate plan
    [
        "migrate",
        "plan",
        "--from",
        "nomad",
        "--to",
        "eks",
        "--from-version",
        "7.5.4453",
        "--to-version",
        "7.5.4453",
    ],
    [
        "migrate",
        "plan",
        "--from",
        "eks",
        "--to",
        "eks",
        "--from-version",
        "7.5.4453",
        "--to-version",
        "7.5.4453",
    ],
    [
        "migrate",
        "plan",
        "--from",
        "single-node",
        "--to",
        "eks",
        "--from-version",
        "7.5",
        "--to-version",
        "7.5.4453",
    ],
    [
        "migrate",
        "plan",
        "--from",
        "single-node",
        "--to",
        "eks",
        "--from-version",
        "7.5.4453",
        "--to-version",
        "8.0.0",
    ],
    [
        "migrate",
        "plan",
        "--from",
        "single-node",
        "--to",
        "eks",
        "--from-version",
        "7.5.4453",
        "--to-version",
        "7.5.4453",
        "--data-gb",
        "-10",
    ],
    [
        "migrate",
        "plan",
        "--from",
        "eks",
        "--to",
        "single-node",
        "--from-version",
        "7.5.4453",
        "--to-version",
        "7.5.4453",
        "--to-tier",
        "3XL",
    ],
    [
        "migrate",
        "plan",
        "--from",
        "single-node",
        "--to",
        "eks",
        "--from-version",
        "7.5.4453",
        "--to-version",
        "7.5.4453",
        "--from-tier",
        "huge",
    ],
    [
        "migrate",
        "plan",
        "--from",
        "single-node",
        "--to",
        "eks",
        "--from-version",
        "7.5.4453",
        "--to-version",
        "7.5.4453",
        "--format",
        "xml",
    ],
    # plan: EKS sourcegraph_version
    ["plan", EKS, "--config", "sourcegraph_version=latest"],
    ["plan", EKS, "--config", "sourcegraph_version=6.12.5040"],
    ["plan", EKS, "--config", "sourcegraph_version=7.1.0", "--config", "s3=true"],
    ["plan", EKS, "--config", "migrate_import=s3://bucket/manifest.json", "--config", "migrate_kms_key_arn="],
    ["plan", EKS, "--config", "migrate_export=s3://bucket/exports/one"],
    [
        "plan",
        EKS,
        "--config",
        "migrate_export=s3://bucket/x",
        "--config",
        "migrate_kms_key_arn=alias/migrations",
    ],
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
        " ".join(argv[:2]) if argv[0] in {"upgrade", "loadtest", "ami", "migrate"} else argv[0]
        for argv in CORPUS
    }
    assert {
        "size",
        "plan",
        "upgrade plan",
        "migrate plan",
        "loadtest run",
        "ami build",
        "ami cleanup",
        "doctor",
    } <= commands
