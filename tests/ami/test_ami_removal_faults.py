"""``sgarch ami prune`` and ``sgarch ami cleanup`` when one delete keeps failing: the rest still goes.

Each case makes images (each with its snapshot, tagged as a build tags them) in two regions of a moto server
on 127.0.0.1, refuses one call for one resource (403, which is not retried), runs the real CLI, and then
reads the server: only the refused resource (with what it holds) is left, the output names it with the
command that removes it, the exit status is 1, and that command, run without the fault, removes it.
"""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest
from ami_moto import BASE_AMI_ID
from botocore.exceptions import ClientError

import sgarch.cli.ami as ami_cli
from sgarch.ami import BUILD_COMPLETE_TAG, BUILD_ID_TAG, ClientFactory
from sgarch.ami.aws import IMAGE_TAG, VERSION_TAG
from sgarch.cli.app import main

REGIONS = ("us-east-1", "us-west-2")


def _make_image(endpoint: str, region: str, build_id: str, *, complete: bool) -> tuple[str, str]:
    """One image of ``build_id`` in ``region`` and its snapshot, tagged as a build tags them."""
    ec2 = boto3.client("ec2", region_name=region, endpoint_url=endpoint)
    instance = ec2.run_instances(ImageId=BASE_AMI_ID, MinCount=1, MaxCount=1, InstanceType="t3.micro")[
        "Instances"
    ][0]["InstanceId"]
    tags = {
        BUILD_ID_TAG: build_id,
        IMAGE_TAG: "test-image",
        VERSION_TAG: "7.5.4453",
        BUILD_COMPLETE_TAG: "true" if complete else "false",
    }
    image_id = ec2.create_image(
        InstanceId=instance,
        Name=f"test-image-{build_id}",
        TagSpecifications=[
            {"ResourceType": "image", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]},
            {"ResourceType": "snapshot", "Tags": [{"Key": BUILD_ID_TAG, "Value": build_id}]},
        ],
    )["ImageId"]
    ec2.terminate_instances(InstanceIds=[instance])
    (snapshot_id,) = [
        m["Ebs"]["SnapshotId"]
        for m in ec2.describe_images(ImageIds=[image_id])["Images"][0]["BlockDeviceMappings"]
    ]
    return image_id, snapshot_id


def _existing(endpoint: str, made: list[tuple[str, str, str, str]]) -> set[str]:
    """Which of the images and snapshots in ``made`` (build id, region, image, snapshot) the server holds."""
    found: set[str] = set()
    for region in REGIONS:
        ec2 = boto3.client("ec2", region_name=region, endpoint_url=endpoint)
        found |= {i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]}
        found |= {s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
    return found & {resource for _, _, image, snapshot in made for resource in (image, snapshot)}


def _make_builds(endpoint: str, count: int, *, complete: bool) -> list[tuple[str, str, str, str]]:
    """``count`` builds with an image in each region: (build id, region, image, snapshot) for each image."""
    made = []
    for _ in range(count):
        build_id = str(uuid.uuid4())
        for region in REGIONS:
            made.append((build_id, region, *_make_image(endpoint, region, build_id, complete=complete)))
    return made


def _refuse(operation: str, param: str, resource_id: str) -> tuple[str, Any]:
    """A hook refusing ``operation`` on ``resource_id`` only, every time, as a missing permission would."""

    def hook(params: dict[str, Any], **_: Any) -> None:
        if params.get(param) == resource_id:
            raise ClientError(
                {
                    "Error": {"Code": "UnauthorizedOperation", "Message": f"injected for {resource_id}"},
                    "ResponseMetadata": {"HTTPStatusCode": 403},
                },
                operation,
            )

    return (f"before-parameter-build.ec2.{operation}", hook)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), " ".join(out.split()), err


def _with_hooks(monkeypatch: pytest.MonkeyPatch, hooks: list[tuple[str, Any]]) -> None:
    def factory(endpoint_url: str | None = None, **kwargs: Any) -> ClientFactory:
        return ClientFactory(endpoint_url=endpoint_url, event_hooks=hooks, **kwargs)

    monkeypatch.setattr(ami_cli, "ClientFactory", factory)


@pytest.mark.parametrize("refused", ["DeregisterImage", "DeleteSnapshot"])
def test_prune_removes_every_other_image_and_names_the_one_left(
    endpoint: str, refused: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    made = _make_builds(endpoint, 3, complete=True)
    # A region's images are handled in id order: the refused one comes first, every other one after it.
    build_id, _, image, snapshot = min((m for m in made if m[1] == "us-east-1"), key=lambda m: m[2])
    kind, target, param = (
        ("image", image, "ImageId") if refused == "DeregisterImage" else ("snapshot", snapshot, "SnapshotId")
    )
    _with_hooks(monkeypatch, [_refuse(refused, param, target)])
    everywhere = ",".join(REGIONS)
    argv = ["ami", "prune", "--keep", "0", "--yes", "--regions", everywhere, "--endpoint-url", endpoint]

    status, out, err = _run(argv, capsys)

    # A refused deregistration keeps the image's snapshot with it; a refused snapshot outlives its image.
    assert _existing(endpoint, made) == ({image, snapshot} if kind == "image" else {snapshot})
    assert status == 1
    assert f"deleted {5 if kind == 'image' else 6} image(s) in 2 region(s)" in out
    command = (
        f"sgarch ami prune --keep 0 --regions {everywhere} --yes"
        if kind == "image"
        else f"aws ec2 delete-snapshot --region us-east-1 --snapshot-id {snapshot}"
    )
    assert f"left behind: {build_id} us-east-1 {kind} {target}" in out
    assert f"remove with: {command}" in out
    assert err.startswith(f"error: prune left {kind} {target} (us-east-1) (")
    assert f"injected for {target}" in err
    assert " ".join(err.split()).endswith(f"remove with: {command}")

    # The command named removes what is left (the CLI's own here; boto3 stands in for the AWS CLI's).
    monkeypatch.undo()
    if kind == "image":
        assert _run(argv, capsys)[0] == 0
    else:
        boto3.client("ec2", region_name="us-east-1", endpoint_url=endpoint).delete_snapshot(
            SnapshotId=snapshot
        )
    assert _existing(endpoint, made) == set()


def test_cleanup_removes_every_other_resource_and_names_the_one_left(
    endpoint: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    made = _make_builds(endpoint, 1, complete=False)
    build_id = made[0][0]
    # A second half-made image of the same build in the first region, so that one is refused before another.
    made.append((build_id, "us-east-1", *_make_image(endpoint, "us-east-1", build_id, complete=False)))
    _, _, image, snapshot = min((m for m in made if m[1] == "us-east-1"), key=lambda m: m[2])
    _with_hooks(monkeypatch, [_refuse("DeregisterImage", "ImageId", image)])
    argv = [
        "ami",
        "cleanup",
        "--build-id",
        build_id,
        "--regions",
        ",".join(REGIONS),
        "--endpoint-url",
        endpoint,
    ]

    status, out, err = _run(argv, capsys)

    assert _existing(endpoint, made) == {image, snapshot}
    assert status == 1
    command = f"sgarch ami cleanup --build-id {build_id} --regions us-east-1"
    assert f"left behind: {build_id} us-east-1 image {image}" in out
    assert f"remove with: {command}" in out
    assert err.startswith(f"error: cleanup of build {build_id} left image {image} (us-east-1) (")
    assert " ".join(err.split()).endswith(f"remove with: {command}")

    monkeypatch.undo()
    assert _run([*command.split()[1:], "--endpoint-url", endpoint], capsys)[0] == 0
    assert _existing(endpoint, made) == set()
