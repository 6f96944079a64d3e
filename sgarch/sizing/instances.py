"""EC2 instance types sgarch can size EKS node groups with, and their prices. Pure data.

Prices are us-east-1 on-demand Linux list prices as of 2026, approximate, from sgarch's dated price sheet;
every cost sgarch prints from them is labelled approximate. ``eni_max_pods`` is the VPC CNI's limit
without prefix delegation: ENIs × (IPv4 addresses per ENI − 1) + 2.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from sgarch.errors import ConfigError

__all__ = [
    "CANDIDATE_INSTANCE_TYPES",
    "HOURS_PER_MONTH",
    "INSTANCE_TYPES",
    "PRICE_SHEET_DATE",
    "InstanceType",
    "get_instance_type",
]

PRICE_SHEET_DATE = "2026"
"""When the prices below were taken (us-east-1, on-demand, Linux)."""

HOURS_PER_MONTH = 730


@dataclass(frozen=True)
class InstanceType:
    """Capacity and price of one EC2 instance type."""

    name: str
    vcpu: int
    memory_gib: int
    eni_max_pods: int
    hourly_usd: float

    @property
    def max_pods(self) -> int:
        """Pods the kubelet admits on a managed node group: the ENI limit, capped at 110 below 30 vCPUs and
        at 250 from 30 vCPUs (what EKS managed node groups configure without prefix delegation)."""
        return min(self.eni_max_pods, 110 if self.vcpu < 30 else 250)

    @property
    def monthly_usd(self) -> float:
        """Approximate on-demand price for 730 hours."""
        return self.hourly_usd * HOURS_PER_MONTH


def _family(prefix: str, prices: tuple[float, ...]) -> dict[str, InstanceType]:
    # The m5, m6i, m6a and m7i families share vCPU, memory and ENI limits size for size.
    shapes = (
        ("2xlarge", 8, 32, 58),
        ("4xlarge", 16, 64, 234),
        ("8xlarge", 32, 128, 234),
        ("12xlarge", 48, 192, 234),
        ("16xlarge", 64, 256, 737),
        ("24xlarge", 96, 384, 737),
    )
    return {
        f"{prefix}.{size}": InstanceType(f"{prefix}.{size}", vcpu, memory, pods, price)
        for (size, vcpu, memory, pods), price in zip(shapes, prices, strict=True)
    }


INSTANCE_TYPES: dict[str, InstanceType] = {
    **_family("m6a", (0.3456, 0.6912, 1.3824, 2.0736, 2.7648, 4.1472)),
    **_family("m6i", (0.384, 0.768, 1.536, 2.304, 3.072, 4.608)),
    **_family("m5", (0.384, 0.768, 1.536, 2.304, 3.072, 4.608)),
    **_family("m7i", (0.4032, 0.8064, 1.6128, 2.4192, 3.2256, 4.8384)),
}
"""Every type ``instance_type`` accepts."""

CANDIDATE_INSTANCE_TYPES: tuple[str, ...] = (
    "m6a.2xlarge",
    "m6a.4xlarge",
    "m6a.8xlarge",
    "m6a.12xlarge",
    "m6a.16xlarge",
)
"""Types the sizer chooses from when none is given: the AMD general-purpose family Sourcegraph's AWS pages
recommend, 4 GiB per vCPU, the cheapest per vCPU of the priced families."""


def get_instance_type(name: str, field: str = "instance_type") -> InstanceType:
    """Look up an instance type; ConfigError naming ``field`` when sgarch has no data for it."""
    try:
        return INSTANCE_TYPES[name]
    except KeyError:
        close = difflib.get_close_matches(name, sorted(INSTANCE_TYPES), n=3, cutoff=0.6)
        raise ConfigError(
            field,
            "an instance type sgarch knows (m5, m6i, m6a or m7i, 2xlarge to 24xlarge)",
            name,
            (f"the closest are {', '.join(close)}; " if close else "pick one of those; ")
            + "sgarch needs its vCPU, memory and pod limit to pack pods",
        ) from None
