"""SGA-002: EBS volumes, root disks and launch-template disks are encrypted."""

from __future__ import annotations

from collections.abc import Iterator

from sgarch.policy._index import Resources, as_bool
from sgarch.policy._model import Rule, Severity, Violation

_TYPES = ("aws:ebs/volume:Volume", "aws:ec2/instance:Instance", "aws:ec2/launchTemplate:LaunchTemplate")


def check(resources: Resources) -> Iterator[Violation]:
    """Volumes, instance block devices and launch-template block devices set ``encrypted``."""
    by_default = any(
        as_bool(r.inputs.get("enabled")) is not False
        for r in resources.of_type("aws:ebs/encryptionByDefault:EncryptionByDefault")
    )
    if by_default:
        return  # the account encrypts every new volume
    for record in resources.of_type(*_TYPES):
        inputs = record.inputs
        if record.type == "aws:ebs/volume:Volume":
            if as_bool(inputs.get("encrypted")) is not True:
                yield Violation(record, "the volume is not encrypted")
        elif record.type == "aws:ec2/instance:Instance":
            devices = [("root volume", inputs.get("rootBlockDevice") or {})]
            devices += [
                (str(d.get("deviceName", "a block device")), d) for d in inputs.get("ebsBlockDevices") or []
            ]
            for label, device in devices:
                if as_bool(device.get("encrypted")) is not True:
                    yield Violation(record, f"the {label} is not encrypted")
        else:
            for mapping in inputs.get("blockDeviceMappings") or []:
                ebs = mapping.get("ebs")
                if ebs is not None and as_bool(ebs.get("encrypted")) is not True:
                    yield Violation(record, f"block device {mapping.get('deviceName', '?')} is not encrypted")


RULE = Rule(
    id="SGA-002",
    title="EBS encryption at rest",
    severity=Severity.HIGH,
    applies_to=_TYPES,
    cause="An EBS volume, an instance's root or extra block device, or a launch-template disk is not encrypted.",
    explanation=(
        "The data volume holds every repository, the databases and the search index. An unencrypted volume, "
        "or a snapshot of it shared by mistake, exposes all of it; encryption costs nothing and is invisible "
        "to Sourcegraph."
    ),
    fix="Set encrypted=True (optionally with kms_key_id), or enable EBS encryption by default for the account.",
    check=check,
)
