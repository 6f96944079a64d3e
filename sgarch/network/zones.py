"""Which availability zones a created VPC spans: only zones that offer what the stack will put there.

Zone *names* (``us-east-1a``) are shuffled per account; zone *ids* (``use1-az1``) name the same physical zone
everywhere, and offerings differ by physical zone: an interface endpoint service or an instance type such
as m6a can be missing from one. So zones are chosen, pinned and reported by id. :func:`choose_zones` is the
pure rule; ``find_zones`` in :mod:`sgarch.network.component` asks AWS (synchronously, before any resource is
registered) and applies it. This module imports no Pulumi, so settings and docs can use the rule and the data
without loading the Pulumi runtime.

A few zones cannot hold an EKS cluster's control plane at all (:data:`EKS_UNSUPPORTED_ZONE_IDS`); no lookup
says so, AWS only documents it, so that list is data here and :func:`check_eks_zone_ids` refuses them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sgarch.errors import ConfigError

__all__ = ["EKS_UNSUPPORTED_ZONE_IDS", "Zone", "check_eks_zone_ids", "choose_zones"]

EKS_UNSUPPORTED_ZONE_IDS = frozenset({"use1-az3", "usw1-az2", "cac1-az3"})
"""Zone ids where EKS refuses cluster subnets (CreateCluster fails with UnsupportedAvailabilityZoneException):
us-east-1's use1-az3, us-west-1's usw1-az2 and ca-central-1's cac1-az3. Source: Amazon EKS User Guide, "View
Amazon EKS networking requirements for VPC and subnets", section "Subnet requirements for clusters"
(https://docs.aws.amazon.com/eks/latest/userguide/network-reqs.html#cluster-subnets). Zone ids are unique
across regions, so one flat set serves every region."""

_EKS_LACKS = "EKS control-plane support"


@dataclass(frozen=True)
class Zone:
    """One availability zone: its account-specific name and its account-independent id."""

    name: str
    zone_id: str


def choose_zones(
    available: Sequence[Zone],
    lacking: Mapping[str, Sequence[str]],
    count: int,
    *,
    zone_ids: Sequence[str] | None = None,
    zone_names: Sequence[str] | None = None,
    eks_control_plane: bool = False,
) -> tuple[Zone, ...]:
    """The zones to use: ``zone_ids`` or ``zone_names`` when given, else the first ``count`` of ``available``
    (in the region's order) that lack nothing.

    ``lacking`` maps a zone id to what it does not offer (``"m6a.xlarge"``, ``"the ssm endpoint service"``).
    With ``eks_control_plane`` the zones of :data:`EKS_UNSUPPORTED_ZONE_IDS` lack EKS control-plane support.
    Raises ConfigError naming ``availability_zone_ids``, ``availability_zones`` or ``az_count``.
    """
    if eks_control_plane:
        unsupported = [z.zone_id for z in available if z.zone_id in EKS_UNSUPPORTED_ZONE_IDS]
        lacking = {**lacking, **{i: [*lacking.get(i, ()), _EKS_LACKS] for i in unsupported}}
    if zone_ids is not None or zone_names is not None:
        field = "availability_zone_ids" if zone_ids is not None else "availability_zones"
        by_key = {(z.zone_id if zone_ids is not None else z.name): z for z in available}
        chosen: list[Zone] = []
        for key in zone_ids if zone_ids is not None else zone_names or ():
            zone = by_key.get(key)
            if zone is None:
                raise ConfigError(
                    field,
                    f"zones of this region ({', '.join(by_key)})",
                    key,
                    "check the zone against aws ec2 describe-availability-zones",
                )
            if lacking.get(zone.zone_id):
                keys = [k for k, z in by_key.items() if not lacking.get(z.zone_id)]
                raise ConfigError(
                    field,
                    "zones that offer everything the stack needs",
                    key,
                    f"{zone.name} ({zone.zone_id}) lacks {_and(lacking[zone.zone_id])}; "
                    f"choose among {', '.join(keys) or 'none: pick another region'}",
                )
            chosen.append(zone)
        return tuple(chosen)

    good = [z for z in available if not lacking.get(z.zone_id)]
    if len(good) >= count:
        return tuple(good[:count])
    if len(good) == len(available):
        raise ConfigError(
            "az_count",
            f"at most {len(available)}, the zones available in this region",
            count,
            "lower az_count or choose another region",
        )
    missing = "; ".join(
        f"{z.name} ({z.zone_id}) lacks {_and(lacking[z.zone_id])}"
        for z in available
        if lacking.get(z.zone_id)
    )
    raise ConfigError(
        "az_count",
        f"at most {len(good)}, the zones of this region that offer everything the stack needs",
        count,
        f"{missing}: lower az_count, choose another instance type or region",
    )


def check_eks_zone_ids(field: str, zone_ids: Sequence[str]) -> None:
    """Refuse zone ids where EKS cannot place a cluster's control plane; ``field`` names the setting.

    Pure, so settings refuse such a pinned zone before any lookup; :func:`choose_zones` skips the same zones
    and :func:`sgarch.network.check_brought_network` refuses a brought subnet in one.
    """
    for zone_id in zone_ids:
        if zone_id in EKS_UNSUPPORTED_ZONE_IDS:
            raise ConfigError(
                field,
                "zones where EKS can place the cluster's control plane",
                zone_id,
                f"EKS refuses cluster subnets in {_and(sorted(EKS_UNSUPPORTED_ZONE_IDS))}; "
                "choose another zone of the region",
            )


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
