"""pre-validate: refuse a build that cannot succeed, skip one that already did, clear a half-built one."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from sgarch.ami.aws import (
    BUILD_COMPLETE_TAG,
    BUILD_ID_TAG,
    IMAGE_TAG,
    SPEC_HASH_TAG,
    error_code,
    for_each_region,
)
from sgarch.ami.cleanup import cleanup_command, find_leftovers, remove_leftovers
from sgarch.ami.runner import BuildEvent
from sgarch.ami.steps.state import BuildState, NoCleanup
from sgarch.errors import AmiBuildError, ConfigError

__all__ = ["PreValidate"]

# On-demand vCPU quota of the standard families (A, C, D, H, I, M, R, T, Z), which every tier type is in.
_STANDARD_VCPU_QUOTA = "L-1216C47A"
_STANDARD_FAMILIES = tuple("acdhimrtz")


def _tags(item: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in item.get("Tags", [])}


class PreValidate(NoCleanup):
    """Refuse a build that cannot succeed, and skip one that already did (same spec hash, marked complete)."""

    name = "pre-validate"

    def run(self, state: BuildState) -> None:
        """Check account, regions, earlier builds, name clashes, quota and default encryption."""
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
        if self._earlier_builds(state):
            return

        # The name carries the build id, so a clash means a reused build id; checking the build region,
        # where the name is first taken, is enough.
        clash = ec2.describe_images(Owners=["self"], Filters=[{"Name": "name", "Values": [state.ami_name]}])
        if clash["Images"]:
            raise AmiBuildError(
                f"an image named {state.ami_name} already exists ({clash['Images'][0]['ImageId']})"
            )
        if spec.encryption.mode == "none" and (not spec.sharing.is_empty or spec.marketplace is not None):
            for_each_region(
                spec.regions, lambda region: _default_encryption(state, region), cancelled=state.cancelled
            )
        if state.options.check_quota:
            _check_quota(state)

    def _earlier_builds(self, state: BuildState) -> bool:
        """Skip when a complete image of this spec hash exists; remove half-built ones nothing works on.

        AWS finishes an image even when the build that asked for it died, so only ``sgarch:build-complete=true``
        (set by the build's last step) counts. A half-built image whose build instance is gone belongs to a
        dead build: its leftovers are removed in every region. One whose instance still exists may belong to
        a build running right now: it is left alone, with the command that removes it.
        """
        spec = state.loaded.spec
        ec2 = state.clients.ec2(spec.build_region)
        images = ec2.describe_images(
            Owners=["self"],
            Filters=[
                {"Name": f"tag:{IMAGE_TAG}", "Values": [spec.name]},
                {"Name": f"tag:{SPEC_HASH_TAG}", "Values": [state.spec_hash]},
            ],
        )["Images"]
        complete = [
            i for i in images if _tags(i).get(BUILD_COMPLETE_TAG) == "true" and i["State"] == "available"
        ]
        if complete and not state.options.force:
            state.existing_image_id = complete[0]["ImageId"]
            state.finished_early = True
            state.info(
                self.name,
                f"{complete[0]['ImageId']} ({complete[0].get('Name', '')}) already holds this spec and version "
                f"{spec.sourcegraph_version}; skipping (use --force to rebuild)",
            )
            return True
        half_built = sorted(
            {_tags(i).get(BUILD_ID_TAG, "") for i in images if _tags(i).get(BUILD_COMPLETE_TAG) == "false"}
        )
        for build_id in filter(None, half_built):
            live = ec2.describe_instances(
                Filters=[
                    {"Name": f"tag:{BUILD_ID_TAG}", "Values": [build_id]},
                    {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]},
                ]
            )["Reservations"]
            if live:
                state.emit(
                    BuildEvent(
                        "warning",
                        self.name,
                        f"build {build_id} left a half-built image of this spec and its instance still exists "
                        f"(a build running now, or one that was killed); if none is running, remove it with: "
                        f"{cleanup_command(build_id, spec.regions)}",
                    )
                )
                continue
            leftovers = find_leftovers(state.clients, spec.regions, build_id, iam_region=spec.build_region)
            state.info(
                self.name, f"removing {len(leftovers)} resource(s) a failed build {build_id} left behind"
            )
            attempts = state.attempts()
            remove_leftovers(state.clients, leftovers, attempts, iam_region=spec.build_region)
            if attempts.failures:
                state.emit(
                    BuildEvent(
                        "warning",
                        self.name,
                        f"could not remove all of build {build_id}: "
                        f"{'; '.join(str(f) for f in attempts.failures)}; retry with: "
                        f"{cleanup_command(build_id, spec.regions)}",
                    )
                )
        return False


def _default_encryption(state: BuildState, region: str) -> None:
    """Refuse or warn about account-level default EBS encryption, which encrypts the image silently.

    With ``aws/ebs`` the snapshots cannot be shared at all; with any key Marketplace refuses the image; with
    a customer-managed key every account the image is shared with needs a grant on that key.
    """
    spec = state.loaded.spec
    client = state.clients.ec2(region)
    if not client.get_ebs_encryption_by_default()["EbsEncryptionByDefault"]:
        return
    key = client.get_ebs_default_kms_key_id()["KmsKeyId"]
    fix = f"turn it off (aws ec2 disable-ebs-encryption-by-default --region {region}) for the build"
    if key.endswith("alias/aws/ebs"):
        raise ConfigError(
            "encryption.mode",
            "kms with a customer-managed key, or default EBS encryption off",
            "none",
            f"default EBS encryption in {region} uses aws/ebs, whose snapshots cannot be shared; {fix}",
        )
    if spec.marketplace is not None:
        raise ConfigError(
            "default EBS encryption",
            f"off in {region} for a Marketplace image",
            key,
            f"Marketplace refuses encrypted snapshots and this key would encrypt the image; {fix}",
        )
    state.emit(
        BuildEvent(
            "warning",
            "pre-validate",
            f"default EBS encryption in {region} encrypts the image with {key}; every account it is shared "
            "with needs a grant on that key (kms:CreateGrant, kms:Decrypt, kms:DescribeKey) or it cannot launch it",
            region,
        )
    )


def _check_quota(state: BuildState) -> None:
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
        state.emit(BuildEvent("warning", "pre-validate", f"vCPU quota not checked: {error_code(exc) or exc}"))
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
