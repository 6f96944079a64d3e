"""End to end: the real ``sgarch`` CLI against a moto server on 127.0.0.1 (build, list, prune)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from ami_moto import SHARE_ACCOUNT, Recorder, configured_moto

import sgarch.cli.ami as ami_cli
from sgarch.ami import ClientFactory
from sgarch.cli.app import main

COPY_REGIONS = ("us-west-2", "eu-west-1", "ap-southeast-2")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    with configured_moto():
        moto_server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto_server.start()
        host, port = moto_server.get_host_and_port()
        url = f"http://{host}:{port}"
        try:
            yield url
        finally:
            # Leave no emulated state (built with our patched images) behind for other test modules.
            urllib.request.urlopen(
                urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10
            ).close()
            moto_server.stop()


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
