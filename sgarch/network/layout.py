"""Pure CIDR planning for the Network component: which subnet gets which block. No Pulumi import.

Defaults, for a VPC with prefix length ``/p``:

- each **private** subnet is ``/p+3`` (an eighth of the VPC; ``/19`` = 8,187 usable addresses in a
  ``/16``): private subnets hold instances and, on EKS, one address per pod, so they get the space;
- each **public** subnet is ``/p+6`` (``/22`` = 1,019 usable in a ``/16``): only load balancers and NAT
  gateways live there;
- neither is smaller than ``/28``, AWS's smallest subnet.

Blocks are handed out largest first from the start of the VPC (private subnets, then public), which with
power-of-two sizes leaves no alignment gaps: a layout fits exactly when the sizes add up to at most the VPC.
Up to six zones fit with the defaults, and the unused tail stays free for later subnets.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass

from sgarch.errors import ConfigError

__all__ = [
    "AWS_RESERVED_ADDRESSES",
    "MAX_AZ_COUNT",
    "MAX_SUBNET_PREFIX",
    "MAX_VPC_PREFIX",
    "MIN_VPC_PREFIX",
    "NetworkLayout",
    "SubnetKind",
    "SubnetPlan",
    "plan_layout",
]

# AWS accepts VPC blocks from /16 to /28 and subnets down to /28.
MIN_VPC_PREFIX = 16
MAX_VPC_PREFIX = 28
MAX_SUBNET_PREFIX = 28
# AWS keeps the first four and the last address of every subnet.
AWS_RESERVED_ADDRESSES = 5
# No commercial region has more than six availability zones (us-east-1).
MAX_AZ_COUNT = 6

_PRIVATE_EXTRA_BITS = 3
_PUBLIC_EXTRA_BITS = 6


class SubnetKind(str, enum.Enum):
    """Public subnets route to an internet gateway; private ones at most to a NAT gateway."""

    PUBLIC = "public"
    PRIVATE = "private"


@dataclass(frozen=True)
class SubnetPlan:
    """One subnet of the layout: its kind, the index of its availability zone and its CIDR block."""

    kind: SubnetKind
    az_index: int
    cidr: str

    @property
    def network(self) -> ipaddress.IPv4Network:
        """The block as an ``ipaddress`` network."""
        return ipaddress.IPv4Network(self.cidr)

    @property
    def usable_addresses(self) -> int:
        """Addresses left for instances, load balancers and pods after AWS's five reserved ones."""
        return self.network.num_addresses - AWS_RESERVED_ADDRESSES


@dataclass(frozen=True)
class NetworkLayout:
    """The subnets of one VPC: private ones first (one per zone), then public ones (one per zone or none)."""

    vpc_cidr: str
    private: tuple[SubnetPlan, ...]
    public: tuple[SubnetPlan, ...]

    @property
    def subnets(self) -> tuple[SubnetPlan, ...]:
        """Every subnet, private first."""
        return self.private + self.public

    @property
    def free_addresses(self) -> int:
        """Addresses of the VPC no subnet uses yet."""
        used = sum(s.network.num_addresses for s in self.subnets)
        return ipaddress.IPv4Network(self.vpc_cidr).num_addresses - used


def parse_vpc_cidr(vpc_cidr: str, field: str = "vpc_cidr") -> ipaddress.IPv4Network:
    """Parse and check a VPC block: an IPv4 network address with a prefix from /16 to /28."""
    try:
        network = ipaddress.IPv4Network(vpc_cidr, strict=True)
    except ValueError as exc:
        hint = "use a network address such as 10.0.0.0/16"
        if "has host bits set" in str(exc):
            hint = f"use the network address {ipaddress.IPv4Network(vpc_cidr, strict=False)}"
        raise ConfigError(field, "an IPv4 CIDR block", vpc_cidr, hint) from None
    if not MIN_VPC_PREFIX <= network.prefixlen <= MAX_VPC_PREFIX:
        raise ConfigError(
            field,
            f"a block from /{MIN_VPC_PREFIX} to /{MAX_VPC_PREFIX}",
            vpc_cidr,
            "AWS accepts only those VPC sizes; 10.0.0.0/16 is the usual choice",
        )
    return network


def plan_layout(
    vpc_cidr: str,
    az_count: int,
    *,
    public: bool = True,
    private_prefix_length: int | None = None,
    public_prefix_length: int | None = None,
) -> NetworkLayout:
    """Lay out one private (and, when ``public``, one public) subnet per availability zone in ``vpc_cidr``.

    Raises ConfigError naming the offending argument when the block is invalid, a prefix is out of range
    or the subnets do not fit.
    """
    network = parse_vpc_cidr(vpc_cidr)
    if isinstance(az_count, bool) or not 1 <= az_count <= MAX_AZ_COUNT:
        raise ConfigError(
            "az_count", f"between 1 and {MAX_AZ_COUNT}", az_count, "pick how many zones to span"
        )
    private_len = _prefix(
        "private_subnet_prefix_length",
        private_prefix_length,
        network,
        network.prefixlen + _PRIVATE_EXTRA_BITS,
    )
    public_len = _prefix(
        "public_subnet_prefix_length", public_prefix_length, network, network.prefixlen + _PUBLIC_EXTRA_BITS
    )
    wanted = [(SubnetKind.PRIVATE, i, private_len) for i in range(az_count)]
    if public:
        wanted += [(SubnetKind.PUBLIC, i, public_len) for i in range(az_count)]
    needed = sum(2 ** (32 - length) for _, _, length in wanted)
    if needed > network.num_addresses:
        raise ConfigError(
            "vpc_cidr",
            f"large enough for {len(wanted)} subnets ({needed:,} addresses)",
            vpc_cidr,
            "use a larger block, fewer zones or longer subnet prefix lengths",
        )
    # Largest first keeps every block aligned without gaps (sizes are powers of two); the sort is stable,
    # so with equal sizes private subnets come first and zones stay in order.
    order = sorted(range(len(wanted)), key=lambda i: wanted[i][2])
    offset = int(network.network_address)
    placed: dict[int, SubnetPlan] = {}
    for i in order:
        kind, az, length = wanted[i]
        placed[i] = SubnetPlan(kind, az, f"{ipaddress.IPv4Address(offset)}/{length}")
        offset += 2 ** (32 - length)
    plans = [placed[i] for i in range(len(wanted))]
    return NetworkLayout(
        vpc_cidr=str(network),
        private=tuple(p for p in plans if p.kind is SubnetKind.PRIVATE),
        public=tuple(p for p in plans if p.kind is SubnetKind.PUBLIC),
    )


def _prefix(field: str, given: int | None, network: ipaddress.IPv4Network, default: int) -> int:
    if given is None:
        return min(default, MAX_SUBNET_PREFIX)
    if isinstance(given, bool) or not network.prefixlen <= given <= MAX_SUBNET_PREFIX:
        raise ConfigError(
            field,
            f"between {network.prefixlen} (the VPC's) and {MAX_SUBNET_PREFIX}",
            given,
            "a subnet cannot be larger than its VPC nor smaller than /28",
        )
    return given
