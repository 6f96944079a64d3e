"""moto set-up shared by the AMI tests and ``benchmarks/ami_build.py``.

moto gaps this works around, each on the emulator side only (the builder has no moto special cases):
- no Amazon Linux image exists unless we load one: we load a single AL2023 image owned by ``amazon``
  instead of moto's ~1,300 defaults (which cost ~2.5 s per region backend);
- AWS-managed IAM policies are not loaded by default: we load only AmazonSSMManagedInstanceCore;
- SSM ``DescribeInstanceInformation`` is not implemented: we answer it with every asked-for instance
  ``Online`` (a real agent registers within a minute of boot);
- ``CreateImage`` raises NotImplementedError for ``TagSpecifications`` of ResourceType ``snapshot``, and
  ``CopyImage`` ignores ``TagSpecifications`` altogether: we apply them as EC2 does, at creation;
- a copy's snapshot is described "Auto-created snapshot for AMI …": we use the text EC2 gives it,
  "Copied for DestinationAmi ami-NEW from SourceAmi ami-SRC for SourceSnapshot snap-…", which is what a
  user's own copy of an sgarch image carries and what the snapshot sweep must not match.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3

BASE_AMI_ID = "ami-0a1b2c3d4e5f60718"
BASE_AMI_NAME = "al2023-ami-2023.9.20251110.1-kernel-6.1-x86_64"
OLDER_AMI_ID = "ami-0ffffffffffff0001"
ARM_AMI_ID = "ami-0ffffffffffff0002"
ACCOUNT_ID = "123456789012"
#: The build region and the three copy regions of the test spec (tests/ami/conftest.py).
REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2")
SHARE_ACCOUNT = "111122223333"


def _image(ami_id: str, name: str, created: str, arch: str = "x86_64") -> dict[str, Any]:
    return {
        "ami_id": ami_id,
        "name": name,
        "description": "Amazon Linux 2023 AMI",
        "owner_id": "137112412989",
        "public": True,
        "virtualization_type": "hvm",
        "architecture": arch,
        "state": "available",
        "root_device_name": "/dev/xvda",
        "root_device_type": "ebs",
        "creation_date": created,
    }


@contextlib.contextmanager
def configured_moto() -> Iterator[None]:
    """Point moto at our AL2023 images and the one managed policy; everything is restored on exit.

    Must be entered before moto creates the backends (``mock_aws`` or a server request).
    """
    import moto.ec2.models.amis as amis
    import moto.iam.models as iam_models
    from moto.iam.aws_managed_policies import aws_managed_policies_data
    from moto.ssm.responses import SimpleSystemManagerResponse

    saved_env = {k: os.environ.get(k) for k in _ENV}
    saved_amis, saved_policies = list(amis.AMIS), iam_models.aws_managed_policies_data
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        # moto loads its module-level AMIS list when MOTO_AMIS_PATH is set (the file was read at import).
        MOTO_AMIS_PATH="loaded-by-ami_moto",
        MOTO_IAM_LOAD_MANAGED_POLICIES="true",
    )
    amis.AMIS[:] = [
        _image(BASE_AMI_ID, BASE_AMI_NAME, "2025-11-10T00:00:00.000Z"),
        _image(OLDER_AMI_ID, "al2023-ami-2023.1.20230101.0-kernel-6.1-x86_64", "2023-01-01T00:00:00.000Z"),
        _image(
            ARM_AMI_ID, "al2023-ami-2023.9.20251110.1-kernel-6.1-arm64", "2025-11-11T00:00:00.000Z", "arm64"
        ),
    ]
    policies = json.loads(aws_managed_policies_data)
    iam_models.aws_managed_policies_data = json.dumps(
        {"AmazonSSMManagedInstanceCore": policies["AmazonSSMManagedInstanceCore"]}
    )
    had_ssm_info = hasattr(SimpleSystemManagerResponse, "describe_instance_information")
    SimpleSystemManagerResponse.describe_instance_information = _describe_instance_information  # type: ignore[attr-defined]
    from moto.ec2.responses.amis import AmisResponse

    saved_create, saved_copy = AmisResponse.create_image, AmisResponse.copy_image
    AmisResponse.create_image = _create_image  # type: ignore[method-assign]
    AmisResponse.copy_image = _copy_image  # type: ignore[method-assign]
    try:
        yield
    finally:
        AmisResponse.create_image, AmisResponse.copy_image = saved_create, saved_copy  # type: ignore[method-assign]
        if not had_ssm_info:
            del SimpleSystemManagerResponse.describe_instance_information  # type: ignore[attr-defined]
        amis.AMIS[:] = saved_amis
        iam_models.aws_managed_policies_data = saved_policies
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def reset_server(url: str) -> None:
    """Empty a moto server (``POST /moto-api/reset``); backends, with our images, come back on first use."""
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10).close()


def _describe_instance_information(self: Any) -> Any:
    """moto's missing SSM action: every instance named in the ``InstanceIds`` filter is online."""
    from moto.core.responses import ActionResult

    ids = [v for f in self._get_param("Filters", []) if f["Key"] == "InstanceIds" for v in f["Values"]]
    return ActionResult(
        {
            "InstanceInformationList": [
                {"InstanceId": i, "PingStatus": "Online", "ResourceType": "EC2Instance"} for i in ids
            ]
        }
    )


def _tag_specs(self: Any) -> tuple[dict[str, str], dict[str, str]]:
    """The image tags and the snapshot tags of a request's TagSpecifications."""
    found: dict[str, dict[str, str]] = {"image": {}, "snapshot": {}}
    for spec in self._get_param("TagSpecifications", []):
        found[spec["ResourceType"]].update({t["Key"]: t["Value"] for t in spec.get("Tags", [])})
    return found["image"], found["snapshot"]


def _create_image(self: Any) -> Any:
    """moto's CreateImage, with snapshot TagSpecifications applied (moto raises NotImplementedError)."""
    from moto.core.responses import ActionResult

    image_tags, snapshot_tags = _tag_specs(self)
    self.error_on_dryrun()
    image = self.ec2_backend.create_image(
        self._get_param("InstanceId"),
        self._get_param("Name"),
        self._get_param("Description", ""),
        tag_specifications=[
            {"ResourceType": "image", "Tags": [{"Key": k, "Value": v} for k, v in image_tags.items()]}
        ],
    )
    if snapshot_tags:
        self.ec2_backend.create_tags([image.ebs_snapshot.id], snapshot_tags)
    return ActionResult({"ImageId": image.id})


def _copy_image(self: Any) -> Any:
    """moto's CopyImage, with TagSpecifications applied and the snapshot described as EC2 describes it."""
    from moto.core.responses import ActionResult

    image_tags, snapshot_tags = _tag_specs(self)
    self.error_on_dryrun()
    source_id, source_region = self._get_param("SourceImageId"), self._get_param("SourceRegion")
    image = self.ec2_backend.copy_image(
        source_id, source_region, self._get_param("Name"), self._get_param("Description")
    )
    snapshot = image.ebs_snapshot
    snapshot.description = (
        f"Copied for DestinationAmi {image.id} from SourceAmi {source_id} for SourceSnapshot "
        f"{snapshot.id}. Task created on 1,700,000,000,000."
    )
    if image_tags:
        self.ec2_backend.create_tags([image.id], image_tags)
    if snapshot_tags:
        self.ec2_backend.create_tags([snapshot.id], snapshot_tags)
    return ActionResult({"ImageId": image.id})


_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "MOTO_AMIS_PATH",
    "MOTO_IAM_LOAD_MANAGED_POLICIES",
)


class FakeClock:
    """A clock whose sleep only advances time: waits cost no wall time. Thread-safe."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds
            self.slept.append(seconds)


@dataclass
class Recorder:
    """Records the API parameters of every call (botocore ``before-parameter-build`` hook)."""

    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def hook(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        with self._lock:
            self.calls.append(
                (model.service_model.service_name, model.name, json.loads(json.dumps(params, default=str)))
            )

    @property
    def hooks(self) -> list[tuple[str, Any]]:
        return [("before-parameter-build", self.hook)]

    def of(self, operation: str) -> list[dict[str, Any]]:
        return [params for _, name, params in self.calls if name == operation]

    def operations(self) -> set[str]:
        return {name for _, name, _ in self.calls}


def inventory(regions: Iterable[str], endpoint_url: str | None = None) -> dict[str, Any]:
    """Everything a build could leave behind, in every region (moto's own defaults excluded)."""
    found: dict[str, Any] = {}
    for region in regions:
        ec2 = boto3.client("ec2", region_name=region, endpoint_url=endpoint_url)
        instances = [
            i["InstanceId"]
            for r in ec2.describe_instances()["Reservations"]
            for i in r["Instances"]
            if i["State"]["Name"] != "terminated"
        ]
        groups = [
            g["GroupId"]
            for g in ec2.describe_security_groups()["SecurityGroups"]
            if g["GroupName"] != "default"
        ]
        images = [i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]]
        snapshots = [
            s["SnapshotId"]
            for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
            # moto files the base images' snapshots under our account; they are not ours.
            if not any(base in s.get("Description", "") for base in (BASE_AMI_ID, OLDER_AMI_ID, ARM_AMI_ID))
        ]
        keys = [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]]
        volumes = [v["VolumeId"] for v in ec2.describe_volumes()["Volumes"] if v["State"] != "deleted"]
        found[region] = {
            "instances": instances,
            "security_groups": groups,
            "images": images,
            "snapshots": snapshots,
            "key_pairs": keys,
            "volumes": volumes,
        }
    iam = boto3.client("iam", region_name="us-east-1", endpoint_url=endpoint_url)
    found["iam"] = {
        "roles": [r["RoleName"] for r in iam.list_roles()["Roles"]],
        "instance_profiles": [
            p["InstanceProfileName"] for p in iam.list_instance_profiles()["InstanceProfiles"]
        ],
    }
    return found


def empty(found: dict[str, Any]) -> bool:
    """True when ``inventory`` found nothing at all."""
    return all(not items for kinds in found.values() for items in kinds.values())
