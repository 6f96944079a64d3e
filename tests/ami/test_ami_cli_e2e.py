"""End to end: the real ``sgarch`` CLI against a moto server on 127.0.0.1 (build, list, prune)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from ami_moto import SHARE_ACCOUNT, Recorder

import sgarch.cli.ami as ami_cli
from sgarch.ami import ClientFactory
from sgarch.cli.app import main

COPY_REGIONS = ("us-west-2", "eu-west-1", "ap-southeast-2")


def _run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    return int(exited.value.code or 0)


def test_cli_builds_copies_shares_lists_and_prunes(
    server: str,
    spec_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    recorder = Recorder()

    def recording_factory(endpoint_url: str | None = None, **kwargs: Any) -> ClientFactory:
        return ClientFactory(endpoint_url=endpoint_url, event_hooks=recorder.hooks, **kwargs)

    monkeypatch.setattr(ami_cli, "ClientFactory", recording_factory)
    manifest_path = tmp_path / "out" / "manifest.json"
    status = _run(
        ["ami", "build", str(spec_dir), "--endpoint-url", server, "--regions", ",".join(COPY_REGIONS),
         "--manifest", str(manifest_path)]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert status == 0, out
    assert "✓ copy" in out and "✓ manifest" in out
    for region in COPY_REGIONS:
        assert f"{region}" in out

    manifest = json.loads(manifest_path.read_text())
    assert set(manifest["images"]) == {"us-east-1", *COPY_REGIONS}
    for region, image_id in manifest["images"].items():
        ec2 = boto3.client("ec2", region_name=region, endpoint_url=server)
        assert ec2.describe_images(ImageIds=[image_id])["Images"][0]["State"] == "available"
        shared = ec2.describe_image_attribute(ImageId=image_id, Attribute="launchPermission")[
            "LaunchPermissions"
        ]
        assert shared == [{"UserId": SHARE_ACCOUNT}]
        assert not [
            i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]
            if i["State"]["Name"] != "terminated"
        ]  # fmt: skip

    # What moto ignores, asserted on the requests the CLI sent.
    (launch,) = recorder.of("RunInstances")
    assert launch["MetadataOptions"]["HttpTokens"] == "required" and "KeyName" not in launch
    imds = [p["ImdsSupport"] for p in recorder.of("ModifyImageAttribute") if "ImdsSupport" in p]
    assert imds == [{"Value": "v2.0"}] * 4
    assert "AuthorizeSecurityGroupIngress" not in recorder.operations()

    # The same build again is detected and skipped.
    assert (
        _run(["ami", "build", str(spec_dir), "--endpoint-url", server, "--regions", ",".join(COPY_REGIONS)])
        == 0
    )
    assert "already holds this spec" in capsys.readouterr().out

    regions = ",".join(("us-east-1", *COPY_REGIONS))
    assert _run(["ami", "list", "--endpoint-url", server, "--regions", regions]) == 0
    listed = capsys.readouterr().out
    assert manifest["build_id"][:8] in listed and "test-image" in listed

    # prune is a dry run without --yes, then deletes images and snapshots everywhere.
    assert _run(["ami", "prune", "--keep", "0", "--endpoint-url", server, "--regions", regions]) == 0
    assert "dry run" in capsys.readouterr().out
    assert boto3.client("ec2", region_name="eu-west-1", endpoint_url=server).describe_images(Owners=["self"])[
        "Images"
    ]
    assert _run(["ami", "prune", "--keep", "0", "--yes", "--endpoint-url", server, "--regions", regions]) == 0
    assert "deleted 4 image(s) in 4 region(s)" in capsys.readouterr().out
    for region in ("us-east-1", *COPY_REGIONS):
        ec2 = boto3.client("ec2", region_name=region, endpoint_url=server)
        assert ec2.describe_images(Owners=["self"])["Images"] == []
        assert not [
            s
            for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
            if "sgarch" in str(s.get("Tags"))
        ]


def test_cli_errors_are_one_line(spec_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["ami", "build", str(spec_dir), "--regions", "us-west-2,nowhere", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == "error: --regions must be region names like eu-west-1, not 'nowhere' (got ('us-west-2', 'nowhere')): see --help for the accepted values.\n"
    )
    assert _run(["ami", "publish", str(spec_dir / "missing.json")]) == 2
    assert "MANIFEST must be an existing manifest file" in capsys.readouterr().err
    assert _run(["ami", "prune", "--keep", "-1"]) == 2
    assert capsys.readouterr().err.startswith("error: --keep must be 0 or more (got -1)")


class _Crash:
    """A step whose process dies after it: its run happens, then no cleanup of any step ever runs."""

    def __init__(self, step: Any, crash: bool) -> None:
        self.step, self.name, self.crash = step, step.name, crash

    def run(self, state: Any) -> None:
        self.step.run(state)
        if self.crash:
            raise RuntimeError("killed")

    def cleanup(self, state: Any) -> None:
        """Nothing: a killed process runs no cleanup."""


def _crashed_build(server: str, spec_dir: Path, after: str, keep_launch_cleanup: bool = False) -> str:
    from sgarch.ami import BuildOptions, build, build_steps, load_spec

    steps = [
        s if keep_launch_cleanup and s.name == "launch" else _Crash(s, s.name == after) for s in build_steps()
    ]
    events: list[Any] = []
    with pytest.raises(Exception, match="killed"):
        build(
            load_spec(spec_dir),
            BuildOptions(manifest_path=spec_dir / "crashed.json"),
            ClientFactory(endpoint_url=server),
            steps=steps,
            emit=events.append,
        )
    return next(e.message for e in events if e.step == "create-image" and e.kind == "region").split()[-1]


def _inventory(server: str) -> dict[str, Any]:
    from ami_moto import inventory

    return inventory(("us-east-1", *COPY_REGIONS), endpoint_url=server)


def test_a_rerun_after_a_crash_after_create_image_builds_and_cleanup_removes_the_crash(
    server: str, spec_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _inventory(server)
    crashed_image = _crashed_build(server, spec_dir, "create-image")
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=server)
    tags = {t["Key"]: t["Value"] for t in ec2.describe_images(ImageIds=[crashed_image])["Images"][0]["Tags"]}
    assert tags["sgarch:build-complete"] == "false"
    crashed_build = tags["sgarch:build-id"]

    regions = ",".join(COPY_REGIONS)
    manifest = tmp_path / "rerun.json"
    args = [
        "ami",
        "build",
        str(spec_dir),
        "--endpoint-url",
        server,
        "--regions",
        regions,
        "--manifest",
        str(manifest),
    ]
    assert _run(args) == 0
    out = capsys.readouterr().out
    assert "up to date" not in out and "✓ copy" in out and "✓ share" in out
    # The crashed build's instance still exists, so it may be running: it is reported, not touched.
    assert f"sgarch ami cleanup --build-id {crashed_build}" in " ".join(out.split())
    document = json.loads(manifest.read_text())
    assert document["images"]["us-east-1"] != crashed_image and set(document["images"]) == {
        "us-east-1",
        *COPY_REGIONS,
    }

    # A second rerun finds the complete build and stops there.
    assert _run(args) == 0
    assert "already holds this spec" in capsys.readouterr().out

    everywhere = ",".join(("us-east-1", *COPY_REGIONS))
    assert _run(["ami", "list", "--endpoint-url", server, "--regions", everywhere]) == 0
    listed = capsys.readouterr().out
    assert crashed_build in listed and crashed_image in listed and "remove with: sgarch ami cleanup" in listed

    cleanup = [
        "ami",
        "cleanup",
        "--build-id",
        crashed_build,
        "--endpoint-url",
        server,
        "--regions",
        everywhere,
    ]
    assert _run(cleanup) == 0
    assert "removed" in capsys.readouterr().out
    assert _run(cleanup) == 0  # twice is fine
    assert "nothing left" in capsys.readouterr().out
    after = _inventory(server)
    new = set(document["images"].values())
    for region in ("us-east-1", *COPY_REGIONS):
        assert set(after[region]["images"]) - set(before[region]["images"]) <= new
        for kind in ("instances", "security_groups", "volumes"):
            assert after[region][kind] == before[region][kind]
    assert after["iam"] == before["iam"]
    # Leave the server as the other tests expect it.
    assert (
        _run(["ami", "prune", "--keep", "0", "--yes", "--endpoint-url", server, "--regions", everywhere]) == 0
    )
    capsys.readouterr()


def test_a_rerun_removes_a_half_built_image_whose_build_is_dead(
    server: str, spec_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _inventory(server)
    crashed_image = _crashed_build(server, spec_dir, "copy", keep_launch_cleanup=True)
    everywhere = ",".join(("us-east-1", *COPY_REGIONS))
    manifest = tmp_path / "rerun.json"
    assert _run(["ami", "build", str(spec_dir), "--endpoint-url", server, "--regions", ",".join(COPY_REGIONS),
                 "--manifest", str(manifest)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "a failed build" in out and "left behind" in out
    after = _inventory(server)
    assert crashed_image not in after["us-east-1"]["images"]
    assert after["iam"] == before["iam"]
    assert (
        _run(["ami", "prune", "--keep", "0", "--yes", "--endpoint-url", server, "--regions", everywhere]) == 0
    )
    capsys.readouterr()
    assert _inventory(server) == before


def test_a_users_own_copy_survives_prune(
    server: str, spec_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    everywhere = ",".join(("us-east-1", *COPY_REGIONS))
    assert _run(["ami", "build", str(spec_dir), "--endpoint-url", server, "--regions", ",".join(COPY_REGIONS),
                 "--manifest", str(spec_dir / "m.json")]) == 0  # fmt: skip
    ours = json.loads((spec_dir / "m.json").read_text())["images"]["us-east-1"]
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=server)
    theirs = ec2.copy_image(SourceImageId=ours, SourceRegion="us-east-1", Name="my-own-copy")["ImageId"]
    # As with CopyImageTags=true: the copy carries every sgarch tag, Name included, but its own AMI name.
    source_tags = ec2.describe_images(ImageIds=[ours])["Images"][0]["Tags"]
    ec2.create_tags(Resources=[theirs], Tags=source_tags)
    (their_snapshot,) = [
        m["Ebs"]["SnapshotId"]
        for m in ec2.describe_images(ImageIds=[theirs])["Images"][0]["BlockDeviceMappings"]
    ]
    description = ec2.describe_snapshots(SnapshotIds=[their_snapshot])["Snapshots"][0]["Description"]
    assert f"from SourceAmi {ours}" in description  # what the old `*ami-X*` sweep matched

    assert (
        _run(["ami", "prune", "--keep", "0", "--yes", "--endpoint-url", server, "--regions", everywhere]) == 0
    )
    capsys.readouterr()
    assert [i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]] == [theirs]
    assert ec2.describe_snapshots(SnapshotIds=[their_snapshot])["Snapshots"]
    ec2.deregister_image(ImageId=theirs)
    ec2.delete_snapshot(SnapshotId=their_snapshot)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["ami", "cleanup", "--build-id", "nope"],
            "error: --build-id must be a build id like 0f8fad5b-d9cb-469f-a165-70867728950e (got 'nope'): "
            "copy it from the build's output or from sgarch ami list.\n",
        ),
        (
            [
                "ami",
                "cleanup",
                "--build-id",
                "0f8fad5b-d9cb-469f-a165-70867728950e",
                "--regions",
                "us-east-1,mars",
            ],
            "error: --regions must be region names like eu-west-1, comma-separated (got 'mars'): fix or drop "
            "that name.\n",
        ),
        (
            ["ami", "list", "--regions", ","],
            "error: --regions must be at least one region (got ','): name the regions, e.g. us-east-1,eu-west-1.\n",
        ),
        (
            ["ami", "publish", "m.json", "--timeout-seconds", "0"],
            "error: --timeout-seconds must be 1 or more (got 0): give the wait in seconds.\n",
        ),
    ],
)
def test_new_cli_errors_are_one_line_with_status_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(argv) == 2
    assert capsys.readouterr().err == message


def test_a_cli_build_killed_with_sigterm_cleans_up_and_exits_143(
    server: str, spec_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real process, a real signal: ``kill -TERM`` while the copies are in flight."""
    import os
    import signal
    import subprocess
    import sys
    import threading

    from moto.ec2.responses.amis import AmisResponse

    before = _inventory(server)
    copying, release = threading.Event(), threading.Event()
    copy_image = AmisResponse.copy_image

    def held_copy(self: Any) -> Any:
        # The server answers the first CopyImage only once the build has been sent SIGTERM.
        if not copying.is_set():
            copying.set()
            release.wait(timeout=30)
        return copy_image(self)

    monkeypatch.setattr(AmisResponse, "copy_image", held_copy)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOTO_", "AWS_"))}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    process = subprocess.Popen(
        [sys.executable, "-c", "from sgarch.cli import main; main()", "ami", "build", str(spec_dir),
         "--endpoint-url", server, "--regions", ",".join(COPY_REGIONS), "--manifest", str(spec_dir / "m.json")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert copying.wait(timeout=120), "the build never reached CopyImage"
        process.send_signal(signal.SIGTERM)
        release.set()
        out, _ = process.communicate(timeout=120)
    finally:
        release.set()
        if process.poll() is None:
            process.kill()
    assert process.returncode == 128 + signal.SIGTERM, out
    assert "interrupted by SIGTERM" in out and "✗ copy: interrupted by SIGTERM" in out
    assert _inventory(server) == before
    assert not (spec_dir / "m.json").exists()
