"""choose_zones: the pure rule behind a created VPC's zones (issue #19, item 10)."""

from __future__ import annotations

import pytest

from sgarch.errors import ConfigError
from sgarch.network.zones import EKS_UNSUPPORTED_ZONE_IDS, Zone, check_eks_zone_ids, choose_zones

ZONES = [Zone(f"us-east-1{c}", f"use1-az{i}") for i, c in zip((4, 6, 1, 2), "abcd", strict=True)]


@pytest.mark.parametrize(
    ("lacking", "count", "expected"),
    [
        ({}, 2, ["use1-az4", "use1-az6"]),
        ({"use1-az4": ["m6a.xlarge"]}, 2, ["use1-az6", "use1-az1"]),
        ({"use1-az6": ["the ssm endpoint service"], "use1-az1": ["m6a.xlarge"]}, 2, ["use1-az4", "use1-az2"]),
        ({"use1-az4": []}, 1, ["use1-az4"]),
    ],
)
def test_the_first_zones_that_lack_nothing_in_region_order(
    lacking: dict[str, list[str]], count: int, expected: list[str]
) -> None:
    assert [z.zone_id for z in choose_zones(ZONES, lacking, count)] == expected


def test_pinned_zones_keep_their_order_and_names_map_to_ids() -> None:
    assert choose_zones(ZONES, {}, 2, zone_ids=["use1-az2", "use1-az4"]) == (ZONES[3], ZONES[0])
    assert choose_zones(ZONES, {}, 2, zone_names=["us-east-1c"]) == (ZONES[2],)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"count": 4, "lacking": {"use1-az1": ["m6a.xlarge", "the logs endpoint service"]}},
            "az_count must be at most 3, the zones of this region that offer everything the stack needs (got 4): "
            "us-east-1c (use1-az1) lacks m6a.xlarge and the logs endpoint service: lower az_count, choose another "
            "instance type or region.",
        ),
        (
            {"count": 5, "lacking": {}},
            "az_count must be at most 4, the zones available in this region (got 5): lower az_count or choose "
            "another region.",
        ),
        (
            {"count": 2, "lacking": {"use1-az6": ["m6a.xlarge"]}, "zone_names": ["us-east-1b"]},
            "availability_zones must be zones that offer everything the stack needs (got 'us-east-1b'): us-east-1b "
            "(use1-az6) lacks m6a.xlarge; choose among us-east-1a, us-east-1c, us-east-1d.",
        ),
        (
            {"count": 2, "lacking": {}, "zone_ids": ["use1-az3"]},
            "availability_zone_ids must be zones of this region (use1-az4, use1-az6, use1-az1, use1-az2) (got "
            "'use1-az3'): check the zone against aws ec2 describe-availability-zones.",
        ),
    ],
)
def test_zones_that_cannot_be_had_name_the_fix(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        choose_zones(ZONES, **kwargs)  # type: ignore[arg-type]
    assert str(info.value) == message


# EKS refuses cluster subnets in a few documented zones (network-reqs.html#cluster-subnets); use1-az3 is one.
EKS_ZONES = [Zone(f"us-east-1{c}", f"use1-az{i}") for i, c in zip((1, 3, 2, 4), "abcd", strict=True)]


def test_an_eks_cluster_skips_zones_that_cannot_hold_its_control_plane() -> None:
    assert [z.zone_id for z in choose_zones(EKS_ZONES, {}, 2)] == ["use1-az1", "use1-az3"]
    chosen = choose_zones(EKS_ZONES, {"use1-az2": ["m6a.xlarge"]}, 2, eks_control_plane=True)
    assert [z.zone_id for z in chosen] == ["use1-az1", "use1-az4"]


def test_an_eks_cluster_cannot_pin_such_a_zone_by_name_or_count_past_it() -> None:
    with pytest.raises(ConfigError) as info:
        choose_zones(EKS_ZONES, {}, 2, zone_names=["us-east-1b"], eks_control_plane=True)
    assert str(info.value) == (
        "availability_zones must be zones that offer everything the stack needs (got 'us-east-1b'): us-east-1b "
        "(use1-az3) lacks EKS control-plane support; choose among us-east-1a, us-east-1c, us-east-1d."
    )
    with pytest.raises(
        ConfigError, match=r"^az_count must be at most 3, .*\(use1-az3\) lacks EKS control-plane"
    ):
        choose_zones(EKS_ZONES, {}, 4, eks_control_plane=True)


@pytest.mark.parametrize("zone_id", sorted(EKS_UNSUPPORTED_ZONE_IDS))
def test_check_eks_zone_ids_names_the_setting_and_the_zone(zone_id: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_eks_zone_ids("availability_zone_ids", ["use1-az1", zone_id])
    assert str(info.value) == (
        f"availability_zone_ids must be zones where EKS can place the cluster's control plane (got '{zone_id}'): "
        "EKS refuses cluster subnets in cac1-az3, use1-az3 and usw1-az2; choose another zone of the region."
    )
    check_eks_zone_ids("availability_zone_ids", ["use1-az1", "usw1-az1", "cac1-az4"])
