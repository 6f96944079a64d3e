"""The AMI builder: the packer ``amazon-ebs`` steps, with cleanups that remove only what this build made.

Order (each step's cleanup runs in reverse whether the build succeeded, failed or was interrupted):

==================  ========================================================  ==================================
step                run                                                       cleanup
==================  ========================================================  ==================================
pre-validate        account, regions, identical build (skip), name clash,      -
                    vCPU quota, default EBS encryption vs sharing
source-ami          ``--source-ami`` or the newest image matching the filter   -
subnet              spec's subnet or the freest default subnet                 -
security-group      temporary group, **no inbound rules**                      delete (retried)
instance-profile    temporary role + profile with AmazonSSMManagedInstanceCore  remove and delete both
launch              IMDSv2 required, no key pair, tagged volumes               terminate and wait
wait-ssm            a no-op Run Command until the agent answers                -
provision           the spec's files, then each provisioner, through SSM       -
harden              the hardening scripts, last                                -
stop                stop, then turn ENA on                                     -
create-image        CreateImage, tagged                                        on failure: deregister + snapshots
wait-image          available (timeout, backoff); tag snapshots; IMDSv2-only   -
copy                CopyImage to every copy region in parallel                 on failure: delete every copy
share               launch permissions in every region                         -
manifest            JSON: spec hash, version, AMI per region, times            on failure: remove the file
==================  ========================================================  ==================================

Every temporary resource and image is tagged ``sgarch:build-id=<uuid>``; cleanup deletes recorded ids and
anything else carrying *this* build id, never "all available volumes".
"""

from __future__ import annotations

import base64
import json
import os
import posixpath
import shlex
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from sgarch.ami.aws import (
    BUILD_ID_TAG,
    IMAGE_TAG,
    SPEC_HASH_TAG,
    VERSION_TAG,
    ClientFactory,
    delete_image,
    error_code,
    for_each_region,
    image_snapshot_ids,
    tag_list,
)
from sgarch.ami.runner import BuildEvent, Clock, EventSink, Step, SystemClock, run_steps, wait_until
from sgarch.ami.spec import (
    BUILD_WORKDIR,
    INLINE_BUDGET_BYTES,
    MAX_FILE_BYTES,
    FileRef,
    LoadedSpec,
    ScriptRef,
    VolumeSpec,
)
from sgarch.errors import AmiBuildError, ConfigError

__all__ = [
    "MANIFEST_FORMAT",
    "STEP_NAMES",
    "BuildOptions",
    "BuildPlan",
    "BuildResult",
    "BuildState",
    "build",
    "build_steps",
    "file_commands",
    "plan_build",
]

MANIFEST_FORMAT = "sgarch-ami-manifest/1"
SSM_POLICY = "policy/AmazonSSMManagedInstanceCore"
# On-demand vCPU quota of the standard families (A, C, D, H, I, M, R, T, Z), which every tier type is in.
_STANDARD_VCPU_QUOTA = "L-1216C47A"
_STANDARD_FAMILIES = tuple("acdhimrtz")
# A script travels base64-encoded like a file, so the same ceiling keeps its command within the budget.
_MAX_SCRIPT_BYTES = MAX_FILE_BYTES
_WORKDIR = BUILD_WORKDIR
# Opens every file command. umask 022: the parent directories mkdir -p creates get 0755, while existing ones
# keep their mode. The trap removes a half-written temporary file when a later line fails.
_FILE_PREAMBLE = ("set -eu", "umask 022", "tmp=", """trap 'rm -f "$tmp"' EXIT""")
# Ends the heredoc of a file's base64; "_" is not in the base64 alphabet, so no payload line can match it.
_FILE_EOF = "SGARCH_FILE"
# "Cancelling" is not terminal: the invocation still ends Cancelled (or Success, if it finished first).
_TERMINAL_COMMAND = {"Success", "Failed", "Cancelled", "TimedOut"}
# GetCommandInvocation returns only the first 24,000 characters of stdout and 8,000 of stderr.
_SSM_STDOUT_LIMIT = 24_000
# SSM Run Command needs these three endpoints; a subnet without a default route must have all of them.
_SG_DELETE_ATTEMPTS = 12
_SSM_ENDPOINTS = ("ssm", "ssmmessages", "ec2messages")
# RunInstances errors that only mean "a resource made a moment ago is not visible to EC2 yet".
_PROPAGATION_HINTS = ("iamInstanceProfile", "Invalid IAM Instance Profile")


@dataclass(frozen=True)
class BuildOptions:
    """How to run one build (the CLI flags); the spec says *what* to build."""

    source_ami: str | None = None
    """``--source-ami``: skip the filter and start from this image."""
    force: bool = False
    """``--force``: build even when an image of the same spec hash exists."""
    manifest_path: Path | None = None
    """Where the manifest goes. Default: ``<name>-<version>.manifest.json`` in the working directory."""
    check_quota: bool = True


@dataclass
class BuildState:
    """Everything the steps share. Resource ids are recorded the moment they exist, for cleanup."""

    loaded: LoadedSpec
    options: BuildOptions
    clients: ClientFactory
    clock: Clock
    emit: EventSink
    build_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    succeeded: bool = False
    finished_early: bool = False
    cancelled: threading.Event = field(default_factory=threading.Event)
    account_id: str = ""
    partition: str = "aws"
    existing_image_id: str | None = None
    source_image: dict[str, Any] = field(default_factory=dict)
    subnet_id: str | None = None
    vpc_id: str | None = None
    associate_public_ip: bool = False
    """The subnet routes to the internet gateway but gives no public IP: ask for one, or SSM is unreachable."""
    security_group_id: str | None = None
    iam_name: str | None = None
    instance_id: str | None = None
    images: dict[str, str] = field(default_factory=dict)
    manifest_path: Path | None = None
    spec_hash: str = field(init=False)
    """Hash of the effective spec and its scripts; identifies identical builds."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.spec_hash = self.loaded.spec_hash

    @property
    def ami_name(self) -> str:
        """``<name>-<version>-<UTC start>-<build id prefix>``: unique per build, sortable, a valid AMI name."""
        spec = self.loaded.spec
        return f"{spec.name}-{spec.sourcegraph_version}-{self.started_at:%Y%m%dT%H%M%SZ}-{self.build_id[:8]}"

    @property
    def temp_name(self) -> str:
        """Name of the temporary group, role and profile; IAM policies can scope ``sgarch-build-*``."""
        return f"sgarch-build-{self.build_id}"

    def image_tags(self) -> dict[str, str]:
        """Tags on every image and snapshot: the spec's, then sgarch's own."""
        spec = self.loaded.spec
        return {
            **spec.tags,
            "Name": self.ami_name,
            IMAGE_TAG: spec.name,
            VERSION_TAG: spec.sourcegraph_version,
            SPEC_HASH_TAG: self.spec_hash,
            BUILD_ID_TAG: self.build_id,
        }

    def temp_tags(self, what: str) -> list[dict[str, str]]:
        """Tags on temporary resources."""
        return tag_list({"Name": f"{self.temp_name} {what}", BUILD_ID_TAG: self.build_id})

    def record_image(self, region: str, image_id: str) -> None:
        """Remember an image the moment AWS returns its id (thread-safe; copies run in parallel)."""
        with self._lock:
            self.images[region] = image_id

    def wait(self, check: Callable[[], Any], what: str, timeout_seconds: int) -> Any:
        """:func:`wait_until` with the spec's polling cadence and this build's clock and cancel flag."""
        poll = self.loaded.spec.poll
        return wait_until(
            check,
            what=what,
            timeout_seconds=timeout_seconds,
            clock=self.clock,
            initial_delay_seconds=poll.initial_delay_seconds,
            max_delay_seconds=poll.max_delay_seconds,
            backoff=poll.backoff,
            cancelled=self.cancelled,
        )


@dataclass(frozen=True)
class BuildResult:
    """What a build produced. ``skipped`` means an identical image existed and nothing was built."""

    build_id: str
    ami_name: str
    images: dict[str, str]
    manifest_path: Path | None
    skipped: bool = False
    existing_image_id: str | None = None


@dataclass(frozen=True)
class BuildPlan:
    """What ``--dry-run`` shows: the build as it would run, computed without calling AWS."""

    name: str
    version: str
    spec_hash: str
    build_region: str
    copy_regions: tuple[str, ...]
    steps: tuple[str, ...]
    scripts: tuple[str, ...]
    shared_with: tuple[str, ...]
    files: tuple[str, ...] = ()
    """``destination <- source`` for each ``files`` entry, in the order they are copied."""


# --- steps --------------------------------------------------------------------------------------------------


class _NoCleanup:
    def cleanup(self, state: BuildState) -> None:
        """Nothing to undo."""


class PreValidate(_NoCleanup):
    """Refuse a build that cannot succeed, and skip one that already did (same spec hash)."""

    name = "pre-validate"

    def run(self, state: BuildState) -> None:
        """Check account, regions, existing builds, name clashes, quota and default encryption."""
        spec = state.loaded.spec
        identity = state.clients.client("sts", spec.build_region).get_caller_identity()
        state.account_id = identity["Account"]
        state.partition = identity["Arn"].split(":")[1]
        ec2 = state.clients.ec2(spec.build_region)
        enabled = {r["RegionName"] for r in ec2.describe_regions()["Regions"]}
        unknown = [r for r in spec.copy_regions if r not in enabled]
        if unknown:
            raise ConfigError(
                "copy_regions", "regions enabled in this account", unknown, "enable them or remove them"
            )
        existing = ec2.describe_images(
            Owners=["self"],
            Filters=[
                {"Name": f"tag:{IMAGE_TAG}", "Values": [spec.name]},
                {"Name": f"tag:{SPEC_HASH_TAG}", "Values": [state.spec_hash]},
                {"Name": "state", "Values": ["available"]},
            ],
        )["Images"]
        if existing and not state.options.force:
            state.existing_image_id = existing[0]["ImageId"]
            state.finished_early = True
            state.emit(
                BuildEvent(
                    "info",
                    self.name,
                    f"{existing[0]['ImageId']} ({existing[0].get('Name', '')}) already holds this spec and "
                    f"version {spec.sourcegraph_version}; skipping (use --force to rebuild)",
                )
            )
            return

        # The name carries the build id, so a clash means a reused build id; checking the build region,
        # where the name is first taken, is enough.
        clash = ec2.describe_images(Owners=["self"], Filters=[{"Name": "name", "Values": [state.ami_name]}])
        if clash["Images"]:
            raise AmiBuildError(
                f"an image named {state.ami_name} already exists ({clash['Images'][0]['ImageId']})"
            )

        def default_encryption(region: str) -> None:
            # Account-level default encryption silently applies aws/ebs, whose snapshots cannot be shared.
            client = state.clients.ec2(region)
            if client.get_ebs_encryption_by_default()["EbsEncryptionByDefault"]:
                key = client.get_ebs_default_kms_key_id()["KmsKeyId"]
                if key.endswith("alias/aws/ebs"):
                    raise ConfigError(
                        "encryption.mode",
                        "kms with a customer-managed key, or default EBS encryption off",
                        "none",
                        f"default EBS encryption in {region} uses aws/ebs, whose snapshots cannot be shared",
                    )

        shared = not spec.sharing.is_empty or spec.marketplace is not None
        if spec.encryption.mode == "none" and shared:
            for_each_region(spec.regions, default_encryption, cancelled=state.cancelled)
        if state.options.check_quota:
            self._check_quota(state)

    def _check_quota(self, state: BuildState) -> None:
        spec = state.loaded.spec
        if not spec.instance_type.startswith(_STANDARD_FAMILIES):
            return
        ec2 = state.clients.ec2(spec.build_region)
        try:
            quota = state.clients.client("service-quotas", spec.build_region).get_service_quota(
                ServiceCode="ec2", QuotaCode=_STANDARD_VCPU_QUOTA
            )["Quota"]["Value"]
        except ClientError as exc:
            # The quota API is optional (no permission, unavailable in a partition): warn, don't block.
            state.emit(BuildEvent("warning", self.name, f"vCPU quota not checked: {error_code(exc) or exc}"))
            return
        running = ec2.describe_instances(
            Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}]
        )["Reservations"]
        types = [i["InstanceType"] for r in running for i in r["Instances"]]
        standard = [t for t in types if t.startswith(_STANDARD_FAMILIES)]
        needed_types = sorted({*standard, spec.instance_type})
        vcpus = {
            t["InstanceType"]: t["VCpuInfo"]["DefaultVCpus"]
            for t in ec2.describe_instance_types(InstanceTypes=needed_types)["InstanceTypes"]
        }
        used = sum(vcpus.get(t, 0) for t in standard)
        needed = vcpus.get(spec.instance_type, 0)
        if used + needed > quota:
            raise AmiBuildError(
                f"the build needs {needed} vCPU of {spec.instance_type} but {used:g} of the {quota:g} on-demand "
                f"standard vCPU quota in {spec.build_region} are in use; request a quota increase or stop instances"
            )


class SourceAmi(_NoCleanup):
    """Resolve the image the build starts from."""

    name = "source-ami"

    def run(self, state: BuildState) -> None:
        """Use ``--source-ami`` (checked) or the newest image matching the spec's filter."""
        spec = state.loaded.spec
        ec2 = state.clients.ec2(spec.build_region)
        wanted = spec.source_ami
        if state.options.source_ami:
            try:
                images = ec2.describe_images(ImageIds=[state.options.source_ami])["Images"]
            except ClientError as exc:
                if not error_code(exc).startswith("InvalidAMIID"):
                    raise
                images = []
            if not images:
                raise ConfigError(
                    "--source-ami",
                    f"an image in {spec.build_region}",
                    state.options.source_ami,
                    "check the id",
                )
            image = images[0]
            if image.get("Architecture") != wanted.architecture:
                raise ConfigError(
                    "--source-ami",
                    f"an {wanted.architecture} image",
                    state.options.source_ami,
                    f"it is {image.get('Architecture')}",
                )
        else:
            images = ec2.describe_images(
                Owners=list(wanted.owners),
                Filters=[
                    {"Name": "name", "Values": [wanted.name]},
                    {"Name": "architecture", "Values": [wanted.architecture]},
                    {"Name": "state", "Values": ["available"]},
                ],
            )["Images"]
            if not images:
                raise AmiBuildError(
                    f"no image in {spec.build_region} matches owners={list(wanted.owners)} name={wanted.name!r} "
                    f"architecture={wanted.architecture}; fix source_ami in the spec or pass --source-ami"
                )
            image = max(images, key=lambda i: (i.get("CreationDate", ""), i["ImageId"]))
        state.source_image = image
        state.emit(BuildEvent("info", self.name, f"{image['ImageId']} {image.get('Name', '')}"))


class ChooseSubnet(_NoCleanup):
    """Pick where the build instance runs."""

    name = "subnet"

    def run(self, state: BuildState) -> None:
        """The spec's subnet, or the default-VPC subnet with most free IPs in an AZ offering the type."""
        spec = state.loaded.spec
        ec2 = state.clients.ec2(spec.build_region)
        if spec.subnet_id:
            subnets = ec2.describe_subnets(SubnetIds=[spec.subnet_id])["Subnets"]
        else:
            offered = {
                o["Location"]
                for o in ec2.describe_instance_type_offerings(
                    LocationType="availability-zone",
                    Filters=[{"Name": "instance-type", "Values": [spec.instance_type]}],
                )["InstanceTypeOfferings"]
            }
            subnets = [
                s
                for s in ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])[
                    "Subnets"
                ]
                if s["AvailabilityZone"] in offered
            ]
        if not subnets:
            raise AmiBuildError(
                f"no default-VPC subnet in {spec.build_region} offers {spec.instance_type}; set subnet_id in "
                "the spec to a subnet that reaches SSM"
            )
        subnet = max(subnets, key=lambda s: (s["AvailableIpAddressCount"], s["SubnetId"]))
        state.subnet_id, state.vpc_id = subnet["SubnetId"], subnet["VpcId"]
        state.emit(BuildEvent("info", self.name, f"{subnet['SubnetId']} in {subnet['AvailabilityZone']}"))
        route = _ssm_route(ec2, subnet, spec.build_region)
        if route == "internet-gateway" and not subnet.get("MapPublicIpOnLaunch", False):
            # Without a public IP an instance behind an internet gateway reaches nothing, SSM included.
            state.associate_public_ip = True
        elif route is None:
            state.emit(
                BuildEvent(
                    "warning",
                    self.name,
                    f"{subnet['SubnetId']} has no default route and no ssm, ssmmessages and ec2messages "
                    "endpoints; the SSM agent will not register unless a proxy or other route reaches SSM",
                )
            )


def _ssm_route(ec2: Any, subnet: dict[str, Any], region: str) -> str | None:
    """How an instance in ``subnet`` reaches the SSM endpoints: ``internet-gateway``, ``nat``, ``endpoints``.

    None means no way was found; the build still runs (a proxy may exist), with a warning.
    """
    tables = ec2.describe_route_tables(
        Filters=[{"Name": "association.subnet-id", "Values": [subnet["SubnetId"]]}]
    )["RouteTables"]
    if not tables:
        # A subnet without its own association uses the VPC's main route table.
        tables = ec2.describe_route_tables(
            Filters=[
                {"Name": "vpc-id", "Values": [subnet["VpcId"]]},
                {"Name": "association.main", "Values": ["true"]},
            ]
        )["RouteTables"]
    for route in (r for t in tables for r in t.get("Routes", [])):
        if route.get("DestinationCidrBlock") != "0.0.0.0/0" or route.get("State") == "blackhole":
            continue
        if str(route.get("GatewayId", "")).startswith("igw-"):
            return "internet-gateway"
        return "nat"  # a NAT gateway, NAT instance, transit gateway or peering: no public IP needed
    services = {
        e["ServiceName"].rsplit(".", 1)[-1]
        for e in ec2.describe_vpc_endpoints(
            Filters=[
                {"Name": "vpc-id", "Values": [subnet["VpcId"]]},
                {"Name": "service-name", "Values": [f"com.amazonaws.{region}.{s}" for s in _SSM_ENDPOINTS]},
            ]
        )["VpcEndpoints"]
        if e.get("State", "available").lower() == "available"
    }
    return "endpoints" if services >= set(_SSM_ENDPOINTS) else None


class SecurityGroup:
    """A temporary security group with no inbound rules: the build talks to SSM outbound only."""

    name = "security-group"

    def run(self, state: BuildState) -> None:
        """Create the group; its default egress rule lets the SSM agent and package downloads out."""
        ec2 = state.clients.ec2(state.loaded.spec.build_region)
        created = ec2.create_security_group(
            GroupName=state.temp_name,
            Description=f"sgarch AMI build {state.build_id}: no inbound rules",
            VpcId=state.vpc_id,
            TagSpecifications=[{"ResourceType": "security-group", "Tags": state.temp_tags("security group")}],
        )
        state.security_group_id = created["GroupId"]

    def cleanup(self, state: BuildState) -> None:
        """Delete the recorded group and any other group tagged with this build id, retrying while in use."""
        ec2 = state.clients.ec2(state.loaded.spec.build_region)
        tagged = ec2.describe_security_groups(
            Filters=[{"Name": f"tag:{BUILD_ID_TAG}", "Values": [state.build_id]}]
        )["SecurityGroups"]
        group_ids = {g["GroupId"] for g in tagged} | (
            {state.security_group_id} if state.security_group_id else set()
        )
        for group_id in sorted(group_ids):
            # A terminated instance's network interface lingers for a while after "terminated", and the
            # group stays "in use" (DependencyViolation) until it is gone: retry for up to three minutes.
            for attempt in range(_SG_DELETE_ATTEMPTS):
                try:
                    ec2.delete_security_group(GroupId=group_id)
                    break
                except ClientError as exc:
                    code = error_code(exc)
                    if code == "InvalidGroup.NotFound":
                        break
                    if code != "DependencyViolation" or attempt == _SG_DELETE_ATTEMPTS - 1:
                        raise
                    state.clock.sleep(min(5.0 * (attempt + 1), 20.0))


class InstanceProfile:
    """A temporary IAM role and instance profile that let the SSM agent register, and nothing else."""

    name = "instance-profile"

    def run(self, state: BuildState) -> None:
        """Create role and profile under the ``/sgarch-build/`` path and link them."""
        iam = state.clients.client("iam", state.loaded.spec.build_region)
        state.iam_name = state.temp_name
        tags = tag_list({BUILD_ID_TAG: state.build_id})
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
        iam.create_role(
            Path="/sgarch-build/",
            RoleName=state.iam_name,
            AssumeRolePolicyDocument=json.dumps(trust),
            Description=f"sgarch AMI build {state.build_id}: SSM only, deleted after the build",
            MaxSessionDuration=3600,
            Tags=tags,
        )
        iam.attach_role_policy(
            RoleName=state.iam_name, PolicyArn=f"arn:{state.partition}:iam::aws:{SSM_POLICY}"
        )
        iam.create_instance_profile(InstanceProfileName=state.iam_name, Path="/sgarch-build/", Tags=tags)
        iam.add_role_to_instance_profile(InstanceProfileName=state.iam_name, RoleName=state.iam_name)

    def cleanup(self, state: BuildState) -> None:
        """Unlink and delete both; each call tolerates a resource that was never made."""
        if state.iam_name is None:
            return
        iam = state.clients.client("iam", state.loaded.spec.build_region)
        name = state.iam_name
        calls: list[tuple[Callable[..., Any], dict[str, str]]] = [
            (iam.remove_role_from_instance_profile, {"InstanceProfileName": name, "RoleName": name}),
            (iam.delete_instance_profile, {"InstanceProfileName": name}),
            (
                iam.detach_role_policy,
                {"RoleName": name, "PolicyArn": f"arn:{state.partition}:iam::aws:{SSM_POLICY}"},
            ),
            (iam.delete_role, {"RoleName": name}),
        ]
        for call, kwargs in calls:
            try:
                call(**kwargs)
            except ClientError as exc:
                if error_code(exc) != "NoSuchEntity":
                    raise


def _block_device(volume: VolumeSpec, device_name: str, kms_key_id: str | None) -> dict[str, Any]:
    ebs: dict[str, Any] = {
        "VolumeSize": volume.volume_size_gib,
        "VolumeType": volume.volume_type,
        "DeleteOnTermination": volume.delete_on_termination,
    }
    if volume.iops is not None:
        ebs["Iops"] = volume.iops
    if volume.throughput_mibps is not None:
        ebs["Throughput"] = volume.throughput_mibps
    if kms_key_id is not None:
        ebs["Encrypted"] = True
        ebs["KmsKeyId"] = kms_key_id
    return {"DeviceName": device_name, "Ebs": ebs}


class Launch:
    """Launch the build instance: IMDSv2 required, no key pair, no public SSH."""

    name = "launch"

    def run(self, state: BuildState) -> None:
        """RunInstances (retrying while the new instance profile propagates), then wait until running."""
        spec = state.loaded.spec
        ec2 = state.clients.ec2(spec.build_region)
        key = spec.encryption.kms_key_ids.get(spec.build_region) if spec.encryption.mode == "kms" else None
        root_device = state.source_image.get("RootDeviceName", "/dev/xvda")
        devices = [_block_device(spec.root_volume, spec.root_volume.device_name or root_device, key)]
        devices += [_block_device(v, v.device_name or "", key) for v in spec.extra_volumes]
        request: dict[str, Any] = {
            "ImageId": state.source_image["ImageId"],
            "InstanceType": spec.instance_type,
            "MinCount": 1,
            "MaxCount": 1,
            "IamInstanceProfile": {"Name": state.iam_name},
            # Hop limit 1: nothing in a container needs the build instance's credentials.
            "MetadataOptions": {
                "HttpTokens": "required",
                "HttpEndpoint": "enabled",
                "HttpPutResponseHopLimit": 1,
            },
            "BlockDeviceMappings": devices,
            "TagSpecifications": [
                {"ResourceType": "instance", "Tags": state.temp_tags("instance")},
                {"ResourceType": "volume", "Tags": state.temp_tags("volume")},
            ],
            # Same token on every retry: AWS launches at most one instance for it.
            "ClientToken": state.build_id,
        }
        if state.associate_public_ip:
            request["NetworkInterfaces"] = [
                {
                    "DeviceIndex": 0,
                    "SubnetId": state.subnet_id,
                    "Groups": [state.security_group_id],
                    "AssociatePublicIpAddress": True,
                    "DeleteOnTermination": True,
                }
            ]
        else:
            request["SubnetId"] = state.subnet_id
            request["SecurityGroupIds"] = [state.security_group_id]

        def launch() -> str | None:
            try:
                reservation = ec2.run_instances(**request)
            except ClientError as exc:
                # IAM is eventually consistent: a profile made seconds ago is "Invalid IAM Instance Profile
                # name" to EC2 for up to about a minute; the new group can be briefly unknown too.
                code, message = error_code(exc), str(exc)
                if (code == "InvalidParameterValue" and any(h in message for h in _PROPAGATION_HINTS)) or (
                    code == "InvalidGroup.NotFound"
                ):
                    state.emit(BuildEvent("info", self.name, f"not launchable yet ({code}); retrying"))
                    return None
                raise
            instance_id: str = reservation["Instances"][0]["InstanceId"]
            return instance_id

        state.instance_id = state.wait(launch, "the new instance profile to be usable", 120)
        state.emit(BuildEvent("info", self.name, state.instance_id))

        def running() -> bool | None:
            try:
                found = ec2.describe_instances(InstanceIds=[state.instance_id])["Reservations"]
            except ClientError as exc:
                # DescribeInstances is eventually consistent: a new id can be unknown for a few seconds.
                if error_code(exc) == "InvalidInstanceID.NotFound":
                    return None
                raise
            if not found:
                return None
            instance = found[0]["Instances"][0]
            status = instance["State"]["Name"]
            if status in ("terminated", "shutting-down", "stopped", "stopping"):
                reason = instance.get("StateReason", {}).get("Message", status)
                raise AmiBuildError(f"build instance {state.instance_id} is {status}: {reason}")
            return True if status == "running" else None

        state.wait(running, f"{state.instance_id} to run", spec.timeouts.instance_running_seconds)

    def cleanup(self, state: BuildState) -> None:
        """Terminate the recorded instance and any other carrying this build id; wait so the group can go."""
        ec2 = state.clients.ec2(state.loaded.spec.build_region)
        reservations = ec2.describe_instances(
            Filters=[
                {"Name": f"tag:{BUILD_ID_TAG}", "Values": [state.build_id]},
                {
                    "Name": "instance-state-name",
                    "Values": ["pending", "running", "stopping", "stopped", "shutting-down"],
                },
            ]
        )["Reservations"]
        ids = {i["InstanceId"] for r in reservations for i in r["Instances"]}
        if state.instance_id:
            ids.add(state.instance_id)
        if not ids:
            return

        def terminate() -> bool | None:
            try:
                ec2.terminate_instances(InstanceIds=sorted(ids))
            except ClientError as exc:
                # A just-launched id can be unknown to EC2 for a few seconds; it exists, so try again.
                if error_code(exc) == "InvalidInstanceID.NotFound":
                    return None
                raise
            return True

        wait_until(
            terminate,
            what="TerminateInstances to accept the instance",
            timeout_seconds=120,
            clock=state.clock,
        )

        def terminated() -> bool | None:
            try:
                found = ec2.describe_instances(InstanceIds=sorted(ids))["Reservations"]
            except ClientError as exc:
                if error_code(exc) == "InvalidInstanceID.NotFound":
                    return None
                raise
            states = {i["State"]["Name"] for r in found for i in r["Instances"]}
            return True if states <= {"terminated"} else None

        wait_until(terminated, what="the build instance to terminate", timeout_seconds=900, clock=state.clock)


def _run_command(state: BuildState, step: str, commands: list[str], what: str, timeout_seconds: int) -> str:
    """Run shell ``commands`` on the build instance through SSM; stream output; fail on a non-zero exit."""
    ssm = state.clients.client("ssm", state.loaded.spec.build_region)
    sent = ssm.send_command(
        InstanceIds=[state.instance_id],
        DocumentName="AWS-RunShellScript",
        Comment=f"sgarch {state.build_id[:8]} {what}"[:100],
        # executionTimeout (AWS-RunShellScript, default 3600 s, at most 172800 s) kills a hung script;
        # TimeoutSeconds is only how long SSM tries to deliver the command.
        Parameters={"commands": commands, "executionTimeout": [str(min(timeout_seconds, 172_800))]},
        TimeoutSeconds=max(30, min(timeout_seconds, 2_592_000)),
    )
    command_id = sent["Command"]["CommandId"]
    printed = 0

    def finished() -> dict[str, Any] | None:
        nonlocal printed
        try:
            invocation = ssm.get_command_invocation(CommandId=command_id, InstanceId=state.instance_id)
        except ClientError as exc:
            if error_code(exc) == "InvocationDoesNotExist":
                return None
            raise
        output = invocation.get("StandardOutputContent", "")
        for line in output[printed:].splitlines():
            state.emit(BuildEvent("output", step, line))
        if printed < _SSM_STDOUT_LIMIT <= len(output):
            state.emit(
                BuildEvent(
                    "warning",
                    step,
                    f"{what}: SSM returns only the first {_SSM_STDOUT_LIMIT:,} characters of output; "
                    "the rest is not shown (the exit code still decides)",
                )
            )
        printed = max(printed, len(output))
        return invocation if invocation["Status"] in _TERMINAL_COMMAND else None

    # TimeoutSeconds bounds the wait for delivery, executionTimeout the run itself; allow both.
    invocation: dict[str, Any] = state.wait(finished, what, 2 * timeout_seconds + 60)
    if invocation["Status"] != "Success":
        tail = " | ".join(invocation.get("StandardErrorContent", "").strip().splitlines()[-5:])
        raise AmiBuildError(
            f"{what} ended {invocation['Status']} with exit code {invocation.get('ResponseCode')}"
            + (f": {tail}" if tail else "")
        )
    return str(invocation.get("StandardOutputContent", ""))


def script_commands(script: ScriptRef, index: int, environment: dict[str, str]) -> list[str]:
    """Shell lines that write ``script`` to the build instance, run it with ``environment`` and delete it.

    The script travels base64-encoded inside the command, so nothing else (an S3 bucket) is needed.
    """
    if len(script.content) > _MAX_SCRIPT_BYTES:
        raise ConfigError(
            script.ref, f"at most {_MAX_SCRIPT_BYTES:,} bytes", len(script.content), "split the script"
        )
    target = f"{_WORKDIR}/{index:02d}-{script.file_name}"
    encoded = base64.b64encode(script.content).decode()
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(environment.items()))
    return [
        "set -eu",
        f"install -d -m 0700 {_WORKDIR}",
        f"base64 -d > {target} <<'SGARCH_SCRIPT'",
        *(encoded[i : i + 76] for i in range(0, len(encoded), 76)),
        "SGARCH_SCRIPT",
        f"trap 'rm -f {target}' EXIT",
        f"env {env} bash {target}" + "".join(f" {shlex.quote(a)}" for a in script.args),
    ]


def _copy_files(state: BuildState, step: str, files: tuple[FileRef, ...]) -> None:
    """Place ``files`` on the build instance in as few SSM commands as :func:`file_commands` packs them."""
    for file in files:
        state.emit(BuildEvent("info", step, f"copying {file.ref} to {file.destination} (mode {file.mode})"))
    batches = file_commands(files)
    for number, commands in enumerate(batches, start=1):
        what = f"copying files ({number} of {len(batches)})"
        _run_command(state, step, commands, what, state.loaded.spec.timeouts.provision_seconds)


def file_commands(files: Sequence[FileRef], budget: int = INLINE_BUDGET_BYTES) -> list[list[str]]:
    """Shell lines of the SSM commands that place ``files``, in order, packed into as few commands as fit.

    A command takes files while its lines stay within ``budget`` characters, so ten small files cost one
    round trip instead of ten. A file that cannot share gets a command of its own; spec loading has already
    refused any whose base64 alone exceeds the budget, so no command outgrows the SendCommand limit.
    """
    batches: list[list[str]] = []
    used = 0
    for file in files:
        lines = _file_lines(file)
        cost = _size(lines)
        if not batches or used + cost > budget:
            batches.append(list(_FILE_PREAMBLE))
            used = _size(_FILE_PREAMBLE)
        batches[-1].extend(lines)
        used += cost
    return batches


def _size(lines: Sequence[str]) -> int:
    """Characters the lines take in a command, newlines included."""
    return sum(len(line) + 1 for line in lines)


def _file_lines(file: FileRef) -> list[str]:
    """Shell lines that replace ``file.destination`` atomically with ``file.content``, owned by root.

    The content is decoded into a temporary file in the destination's own directory (same file system, so
    ``mv`` is a rename): a reader sees the old file or the new one, never half of one, and never with the
    wrong mode. ``mktemp`` creates it 0600; ``chown`` goes before ``chmod`` because changing an owner clears
    set-id bits. ``mv -T`` fails rather than moving the file into a directory that has the destination's name.
    """
    directory, name = posixpath.split(file.destination)
    template = posixpath.join(directory, f".{name}.sgarch-XXXXXX")
    encoded = base64.b64encode(file.content).decode()
    return [
        f"mkdir -p {shlex.quote(directory)}",
        f"tmp=$(mktemp {shlex.quote(template)})",
        f"""base64 -d > "$tmp" <<'{_FILE_EOF}'""",
        *(encoded[i : i + 76] for i in range(0, len(encoded), 76)),
        _FILE_EOF,
        'chown root:root "$tmp"',
        f'chmod {file.mode} "$tmp"',
        f'mv -f -T "$tmp" {shlex.quote(file.destination)}',
    ]


def _script_environment(state: BuildState) -> dict[str, str]:
    spec = state.loaded.spec
    return {
        **spec.environment,
        "SOURCEGRAPH_VERSION": spec.sourcegraph_version,
        # The name install.sh of the single-node architecture reads when no --version is given.
        "SGARCH_SOURCEGRAPH_VERSION": spec.sourcegraph_version,
        "SGARCH_IMAGE_BUILD": "1",
        "SGARCH_IMAGE_NAME": spec.name,
    }


class WaitForSsm(_NoCleanup):
    """Wait until the SSM agent is online, then prove it runs commands with a no-op."""

    name = "wait-ssm"

    def run(self, state: BuildState) -> None:
        """Poll DescribeInstanceInformation for ``PingStatus=Online``, then run ``true`` through Run Command.

        SendCommand to an instance whose agent has not registered fails with ``InvalidInstanceId``; to one
        whose agent is registered but not connected it is accepted and then times out undelivered, so the
        ping status is checked first.
        """
        ssm = state.clients.client("ssm", state.loaded.spec.build_region)
        timeout = state.loaded.spec.timeouts.ssm_ready_seconds

        def online() -> bool | None:
            found = ssm.describe_instance_information(
                Filters=[{"Key": "InstanceIds", "Values": [state.instance_id]}]
            )["InstanceInformationList"]
            return True if any(i.get("PingStatus") == "Online" for i in found) else None

        state.wait(
            online,
            f"the SSM agent on {state.instance_id} to come online (check that the subnet reaches SSM)",
            timeout,
        )

        def accepted() -> str | None:
            try:
                sent = ssm.send_command(
                    InstanceIds=[state.instance_id],
                    DocumentName="AWS-RunShellScript",
                    Comment=f"sgarch {state.build_id[:8]} ready check",
                    Parameters={"commands": ["true"], "executionTimeout": ["60"]},
                    TimeoutSeconds=60,
                )
            except ClientError as exc:
                if error_code(exc) == "InvalidInstanceId":
                    return None
                raise
            command_id: str = sent["Command"]["CommandId"]
            return command_id

        command_id = state.wait(accepted, "the SSM agent to accept commands", timeout)

        def done() -> str | None:
            try:
                status: str = ssm.get_command_invocation(CommandId=command_id, InstanceId=state.instance_id)[
                    "Status"
                ]
            except ClientError as exc:
                if error_code(exc) == "InvocationDoesNotExist":
                    return None
                raise
            return status if status in _TERMINAL_COMMAND else None

        status = state.wait(done, "the SSM ready check", timeout)
        if status != "Success":
            raise AmiBuildError(f"the SSM ready check on {state.instance_id} ended {status}")


class Provision(_NoCleanup):
    """Copy the spec's files, then run its provisioners in order; the first non-zero exit fails the build."""

    name = "provision"
    scripts_field = "provisioners"

    def files(self, state: BuildState) -> tuple[FileRef, ...]:
        """The files this step places before its scripts: all of them, so the first provisioner sees them."""
        return state.loaded.files

    def scripts(self, state: BuildState) -> tuple[ScriptRef, ...]:
        """The scripts this step runs."""
        return state.loaded.provisioners

    def run(self, state: BuildState) -> None:
        """Send the files, then each script, through SSM and wait for each command."""
        files = self.files(state)
        if files:
            _copy_files(state, self.name, files)
        environment = _script_environment(state)
        for index, script in enumerate(self.scripts(state)):
            state.emit(BuildEvent("info", self.name, f"running {script.ref}"))
            commands = script_commands(script, index, environment)
            _run_command(
                state, self.name, commands, script.file_name, state.loaded.spec.timeouts.provision_seconds
            )


class Harden(Provision):
    """Run the hardening scripts after every provisioner: no keys, no passwords, no logs, clean cloud-init."""

    name = "harden"

    def files(self, state: BuildState) -> tuple[FileRef, ...]:
        """None: the provision step has placed them all."""
        return ()

    def scripts(self, state: BuildState) -> tuple[ScriptRef, ...]:
        """The spec's hardening scripts."""
        return state.loaded.hardening


class Stop(_NoCleanup):
    """Stop the instance so the image is consistent, then turn ENA on (it can only change while stopped)."""

    name = "stop"

    def run(self, state: BuildState) -> None:
        """StopInstances, wait, ModifyInstanceAttribute(EnaSupport)."""
        ec2 = state.clients.ec2(state.loaded.spec.build_region)
        ec2.stop_instances(InstanceIds=[state.instance_id])

        def stopped() -> bool | None:
            instance = ec2.describe_instances(InstanceIds=[state.instance_id])["Reservations"][0][
                "Instances"
            ][0]
            return True if instance["State"]["Name"] == "stopped" else None

        state.wait(
            stopped, f"{state.instance_id} to stop", state.loaded.spec.timeouts.instance_stopped_seconds
        )
        ec2.modify_instance_attribute(InstanceId=state.instance_id, EnaSupport={"Value": True})


def _delete_build_images(state: BuildState, regions: tuple[str, ...]) -> None:
    """Delete this build's images (recorded, tagged with its id, or bearing its name) and their snapshots."""

    def sweep(region: str) -> None:
        ec2 = state.clients.ec2(region)
        tagged = ec2.describe_images(
            Owners=["self"], Filters=[{"Name": f"tag:{BUILD_ID_TAG}", "Values": [state.build_id]}]
        )["Images"]
        # By name as well: a copy interrupted between CopyImage and its tags carries only the build's name.
        named = ec2.describe_images(Owners=["self"], Filters=[{"Name": "name", "Values": [state.ami_name]}])[
            "Images"
        ]
        image_ids = {i["ImageId"] for i in (*tagged, *named)}
        if region in state.images:
            image_ids.add(state.images[region])
        for image_id in sorted(image_ids):
            snapshots = delete_image(ec2, image_id, sleep=state.clock.sleep)
            state.emit(
                BuildEvent(
                    "region", "cleanup", f"deleted {image_id} and {len(snapshots)} snapshot(s)", region
                )
            )
        snapshots = ec2.describe_snapshots(
            OwnerIds=["self"], Filters=[{"Name": f"tag:{BUILD_ID_TAG}", "Values": [state.build_id]}]
        )["Snapshots"]
        for snapshot in snapshots:
            ec2.delete_snapshot(SnapshotId=snapshot["SnapshotId"])

    for_each_region(regions, sweep)


def _finish_image(state: BuildState, region: str, image_id: str, timeout_seconds: int) -> None:
    """Wait until ``image_id`` is available, tag its snapshots and make it IMDSv2-only."""
    ec2 = state.clients.ec2(region)

    def available() -> dict[str, Any] | None:
        try:
            images = ec2.describe_images(ImageIds=[image_id])["Images"]
        except ClientError as exc:
            # A brand-new id can be unknown to DescribeImages for a moment.
            if error_code(exc) == "InvalidAMIID.NotFound":
                return None
            raise
        if not images:
            return None
        image: dict[str, Any] = images[0]
        if image["State"] in ("failed", "error", "invalid", "deregistered"):
            reason = image.get("StateReason", {}).get("Message", "")
            raise AmiBuildError(f"{image_id} in {region} is {image['State']}: {reason}")
        return image if image["State"] == "available" else None

    image = state.wait(available, f"{image_id} to be available in {region}", timeout_seconds)
    # The image is tagged again with its snapshots in one call: idempotent in AWS, and emulators ignore
    # TagSpecifications on CopyImage; cleanup and prune find images and snapshots by these tags.
    ec2.create_tags(Resources=[image_id, *image_snapshot_ids(image)], Tags=tag_list(state.image_tags()))
    # IMDSv2-only cannot be undone, so it is set on finished images only; Marketplace requires it.
    ec2.modify_image_attribute(ImageId=image_id, ImdsSupport={"Value": "v2.0"})


class CreateImage:
    """CreateImage from the stopped instance, tagged so that cleanup and ``prune`` can find it."""

    name = "create-image"

    def run(self, state: BuildState) -> None:
        """Create the image and record its id at once."""
        spec = state.loaded.spec
        ec2 = state.clients.ec2(spec.build_region)
        created = ec2.create_image(
            InstanceId=state.instance_id,
            Name=state.ami_name,
            Description=(spec.description or f"{spec.name} {spec.sourcegraph_version}")[:255],
            TagSpecifications=[{"ResourceType": "image", "Tags": tag_list(state.image_tags())}],
        )
        state.record_image(spec.build_region, created["ImageId"])
        state.emit(BuildEvent("region", self.name, f"creating {created['ImageId']}", spec.build_region))

    def cleanup(self, state: BuildState) -> None:
        """On failure or interrupt only: deregister the image and delete its snapshots."""
        if not state.succeeded:
            _delete_build_images(state, (state.loaded.spec.build_region,))


class WaitForImage(_NoCleanup):
    """Wait for the build-region image, then tag its snapshots and require IMDSv2 on it."""

    name = "wait-image"

    def run(self, state: BuildState) -> None:
        """Poll with backoff up to ``timeouts.image_available_seconds``."""
        spec = state.loaded.spec
        image_id = state.images[spec.build_region]
        _finish_image(state, spec.build_region, image_id, spec.timeouts.image_available_seconds)
        state.emit(BuildEvent("region", self.name, f"available {image_id}", spec.build_region))


class CopyToRegions:
    """Copy the image to every copy region in parallel, one client per region and thread."""

    name = "copy"

    def run(self, state: BuildState) -> None:
        """CopyImage everywhere at once, then wait for each copy; one failed region fails the build."""
        spec = state.loaded.spec
        source_id = state.images[spec.build_region]
        tags = tag_list(state.image_tags())

        def copy(region: str) -> str:
            if state.cancelled.is_set():
                raise AmiBuildError("cancelled")
            ec2 = state.clients.ec2(region)
            started = state.clock.monotonic()
            request: dict[str, Any] = {
                "SourceImageId": source_id,
                "SourceRegion": spec.build_region,
                "Name": state.ami_name,
                "Description": (spec.description or f"{spec.name} {spec.sourcegraph_version}")[:255],
                "TagSpecifications": [{"ResourceType": "image", "Tags": tags}],
                "ClientToken": f"{state.build_id}-{region}"[:64],
            }
            if spec.encryption.mode == "kms":
                request["Encrypted"] = True
                request["KmsKeyId"] = spec.encryption.kms_key_ids[region]
            image_id: str = ec2.copy_image(**request)["ImageId"]
            state.record_image(region, image_id)
            state.emit(BuildEvent("region", self.name, f"copying {image_id}", region))
            _finish_image(state, region, image_id, spec.timeouts.copy_available_seconds)
            state.emit(
                BuildEvent(
                    "region", self.name, f"available {image_id}", region, state.clock.monotonic() - started
                )
            )
            return image_id

        for_each_region(spec.copy_regions, copy, cancelled=state.cancelled)

    def cleanup(self, state: BuildState) -> None:
        """On failure or interrupt only: delete every copy (recorded or tagged) in every copy region."""
        if not state.succeeded:
            _delete_build_images(state, state.loaded.spec.copy_regions)


class Share(_NoCleanup):
    """Grant launch permissions to the spec's accounts, organizations and OUs in every region."""

    name = "share"

    def run(self, state: BuildState) -> None:
        """ModifyImageAttribute(LaunchPermission) per region, in parallel."""
        sharing = state.loaded.spec.sharing
        if sharing.is_empty:
            return
        grants = [
            *({"UserId": a} for a in sharing.account_ids),
            *({"OrganizationArn": a} for a in sharing.organization_arns),
            *({"OrganizationalUnitArn": a} for a in sharing.organizational_unit_arns),
        ]

        def share(region: str) -> None:
            state.clients.ec2(region).modify_image_attribute(
                ImageId=state.images[region], LaunchPermission={"Add": grants}
            )
            state.emit(BuildEvent("region", self.name, f"shared with {len(grants)} principal(s)", region))

        for_each_region(state.loaded.spec.regions, share, cancelled=state.cancelled)


class WriteManifest:
    """Write the manifest ``publish`` and the single-node stack read: which AMI is where."""

    name = "manifest"

    def run(self, state: BuildState) -> None:
        """Write atomically (temporary file, then rename)."""
        spec = state.loaded.spec
        path = state.options.manifest_path or Path(f"{spec.name}-{spec.sourcegraph_version}.manifest.json")
        finished = datetime.now(timezone.utc)
        document = {
            "format": MANIFEST_FORMAT,
            "name": spec.name,
            "ami_name": state.ami_name,
            "sourcegraph_version": spec.sourcegraph_version,
            "spec_hash": state.spec_hash,
            "build_id": state.build_id,
            "build_region": spec.build_region,
            "images": {region: state.images[region] for region in spec.regions},
            "source_ami": {
                "image_id": state.source_image["ImageId"],
                "name": state.source_image.get("Name", ""),
                "region": spec.build_region,
            },
            "started_at": state.started_at.isoformat(timespec="seconds"),
            "finished_at": finished.isoformat(timespec="seconds"),
            "build_time_seconds": round((finished - state.started_at).total_seconds(), 1),
            "sharing": spec.sharing.model_dump(mode="json"),
            "encryption": spec.encryption.mode,
            "marketplace": spec.marketplace.model_dump(mode="json") if spec.marketplace else None,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(partial, path)
        state.manifest_path = path

    def cleanup(self, state: BuildState) -> None:
        """On failure the images are gone, so a manifest naming them must go too."""
        if not state.succeeded and state.manifest_path is not None:
            state.manifest_path.unlink(missing_ok=True)


def build_steps() -> list[Step[BuildState]]:
    """The build's steps, in order. Tests wrap single steps to inject faults."""
    return [
        PreValidate(),
        SourceAmi(),
        ChooseSubnet(),
        SecurityGroup(),
        InstanceProfile(),
        Launch(),
        WaitForSsm(),
        Provision(),
        Harden(),
        Stop(),
        CreateImage(),
        WaitForImage(),
        CopyToRegions(),
        Share(),
        WriteManifest(),
    ]


STEP_NAMES: tuple[str, ...] = tuple(step.name for step in build_steps())


def plan_build(loaded: LoadedSpec) -> BuildPlan:
    """The build as ``--dry-run`` shows it; no AWS calls."""
    spec = loaded.spec
    return BuildPlan(
        name=spec.name,
        version=spec.sourcegraph_version,
        spec_hash=loaded.spec_hash,
        build_region=spec.build_region,
        copy_regions=spec.copy_regions,
        steps=STEP_NAMES,
        scripts=tuple(s.ref for s in (*loaded.provisioners, *loaded.hardening)),
        files=tuple(f"{f.destination} <- {f.ref}" for f in loaded.files),
        shared_with=(
            *spec.sharing.account_ids,
            *spec.sharing.organization_arns,
            *spec.sharing.organizational_unit_arns,
        ),
    )


def build(
    loaded: LoadedSpec,
    options: BuildOptions,
    clients: ClientFactory,
    *,
    emit: EventSink | None = None,
    clock: Clock | None = None,
    steps: list[Step[BuildState]] | None = None,
    build_id: str | None = None,
) -> BuildResult:
    """Build the image described by ``loaded``; see the module docstring for the steps.

    Raises :class:`AmiBuildError` after cleanups when a step fails, :class:`ConfigError` for bad input found
    on the way, and re-raises ``KeyboardInterrupt`` after cleanups.
    """
    state = BuildState(
        loaded=loaded, options=options, clients=clients, clock=clock or SystemClock(), emit=emit or _ignore
    )
    if build_id is not None:
        state.build_id = build_id
    run_steps(steps if steps is not None else build_steps(), state, state.emit, state.clock)
    return BuildResult(
        build_id=state.build_id,
        ami_name=state.ami_name,
        images=dict(state.images),
        manifest_path=state.manifest_path,
        skipped=state.existing_image_id is not None,
        existing_image_id=state.existing_image_id,
    )


def _ignore(event: BuildEvent) -> None:
    """Default event sink."""
