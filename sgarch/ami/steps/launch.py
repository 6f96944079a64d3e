"""launch: the build instance, IMDSv2 required, no key pair, no public SSH."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from sgarch.ami.aws import BUILD_ID_TAG, error_code
from sgarch.ami.cleanup import delete_volumes, terminate_instances
from sgarch.ami.runner import BuildEvent
from sgarch.ami.spec import VolumeSpec
from sgarch.ami.steps.state import BuildState
from sgarch.errors import AmiBuildError

__all__ = ["Launch"]

# RunInstances errors that only mean "a resource made a moment ago is not visible to EC2 yet".
_PROPAGATION_HINTS = ("iamInstanceProfile", "Invalid IAM Instance Profile")
_LIVE_STATES = ["pending", "running", "stopping", "stopped", "shutting-down"]


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
    changes = ("ec2.RunInstances",)

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
        """Terminate the recorded instance and any other carrying this build id, wait, then delete its volumes.

        Waiting lets the security group go next; volumes kept by ``delete_on_termination: false`` would
        outlive the instance, so every volume tagged with this build id goes too.
        """
        region = state.loaded.spec.build_region
        ec2 = state.clients.ec2(region)
        attempts = state.attempts()
        tag = {"Name": f"tag:{BUILD_ID_TAG}", "Values": [state.build_id]}
        found = attempts.call(
            f"find the instances of build {state.build_id}",
            region,
            ec2.describe_instances,
            Filters=[tag, {"Name": "instance-state-name", "Values": _LIVE_STATES}],
        )
        ids = {i["InstanceId"] for r in (found or {}).get("Reservations", []) for i in r["Instances"]}
        if state.instance_id:
            ids.add(state.instance_id)
        terminate_instances(ec2, region, ids, attempts)
        # In use means attached to an instance still terminating, which deletes it (delete_on_termination).
        volumes = attempts.call(
            f"find the volumes of build {state.build_id}",
            region,
            ec2.describe_volumes,
            Filters=[tag, {"Name": "status", "Values": ["available"]}],
        )
        delete_volumes(ec2, region, {v["VolumeId"] for v in (volumes or {}).get("Volumes", [])}, attempts)
        attempts.raise_if_failed()
