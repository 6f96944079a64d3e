"""Which EC2 instance types a single node may run on, checked before anything is created.

AWS refuses an unknown type only at RunInstances, after the network and the volume exist, and a Graviton
type would boot an x86_64 image not at all. The list of types is the installed pulumi-aws's own
(``pulumi_aws.ec2.InstanceType``, generated from the EC2 API), so it moves with the provider.
"""

from __future__ import annotations

import difflib
import functools
import re

from sgarch.errors import ConfigError
from sgarch.tiers import TierSpec

__all__ = ["check_instance_type", "known_instance_types"]

# <family><generation><attributes>.<size>, e.g. m6a.12xlarge, c7gn.large, r6idn.metal-32xl.
_NAME = re.compile(r"^(?P<family>[a-z]+)(?P<generation>\d+)(?P<attributes>[a-z-]*)\.(?P<size>[a-z0-9-]+)$")
# vCPUs of a size (EC2 instance type docs); every size below large has at most 2, far under any tier.
_SIZE_VCPUS = {"nano": 2, "micro": 2, "small": 2, "medium": 2, "large": 2, "xlarge": 4}
# GiB of memory per vCPU by family letter, where the family fixes it (c 2, m 4, r 8, x 16).
_GIB_PER_VCPU = {"c": 2, "m": 4, "r": 8, "x": 16}


@functools.cache
def known_instance_types() -> frozenset[str]:
    """Every instance type name the installed pulumi-aws knows."""
    from pulumi_aws.ec2._enums import InstanceType  # the generated enum only, not the whole SDK

    return frozenset(member.value for member in InstanceType)


def _vcpus(size: str) -> int | None:
    if size in _SIZE_VCPUS:
        return _SIZE_VCPUS[size]
    match = re.fullmatch(r"(\d+)xlarge", size)
    return 4 * int(match.group(1)) if match else None


def check_instance_type(name: str, spec: TierSpec, field: str = "instance_type") -> str:
    """``name`` when a single node of tier ``spec`` can run on it, else a ConfigError naming ``field``."""
    if name not in known_instance_types():
        close = difflib.get_close_matches(name, sorted(known_instance_types()), n=3, cutoff=0.6)
        hint = f"the closest are {', '.join(close)}" if close else "check the name in the EC2 console"
        raise ConfigError(field, "an EC2 instance type", name, hint)
    parts = _NAME.match(name)
    if parts is None:
        raise ConfigError(field, "a current-generation instance type like m6a.8xlarge", name, "pick one")
    if "g" in parts["attributes"]:
        raise ConfigError(
            field,
            "an x86_64 instance type",
            name,
            f"{name} is a Graviton (arm64) type and the image is x86_64; use {spec.minimum_instance_type} or larger",
        )
    vcpus = _vcpus(parts["size"])
    if vcpus is None or spec.min_vcpu is None:
        return name
    per_vcpu = _GIB_PER_VCPU.get(parts["family"])
    memory = vcpus * per_vcpu if per_vcpu is not None else None
    if vcpus < spec.min_vcpu or (memory is not None and spec.min_memory_gib and memory < spec.min_memory_gib):
        have = f"{vcpus} vCPU" + (f" / {memory} GiB" if memory is not None else "")
        raise ConfigError(
            field,
            f"at least {spec.min_vcpu} vCPU / {spec.min_memory_gib} GiB for tier {spec.tier.value}",
            name,
            f"{name} has {have}; the tier's minimum is {spec.minimum_instance_type}, or pick a smaller tier",
        )
    return name
