from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sgarch.errors import ConfigError
from sgarch.network.layout import SubnetKind, plan_layout


@pytest.mark.parametrize(
    ("vpc", "azs", "public", "private_cidrs", "public_cidrs"),
    [
        ("10.0.0.0/16", 2, True, ["10.0.0.0/19", "10.0.32.0/19"], ["10.0.64.0/22", "10.0.68.0/22"]),
        (
            "10.0.0.0/16",
            3,
            True,
            ["10.0.0.0/19", "10.0.32.0/19", "10.0.64.0/19"],
            ["10.0.96.0/22", "10.0.100.0/22", "10.0.104.0/22"],
        ),
        ("10.0.0.0/16", 2, False, ["10.0.0.0/19", "10.0.32.0/19"], []),
        ("172.16.0.0/20", 1, True, ["172.16.0.0/23"], ["172.16.2.0/26"]),
        # Small VPCs clamp both subnet sizes at /28, AWS's smallest.
        ("10.1.0.0/26", 2, True, ["10.1.0.0/28", "10.1.0.16/28"], ["10.1.0.32/28", "10.1.0.48/28"]),
    ],
)
def test_default_layouts(
    vpc: str, azs: int, public: bool, private_cidrs: list[str], public_cidrs: list[str]
) -> None:
    layout = plan_layout(vpc, azs, public=public)
    assert [s.cidr for s in layout.private] == private_cidrs
    assert [s.cidr for s in layout.public] == public_cidrs
    assert [s.az_index for s in layout.private] == list(range(azs))
    assert all(s.kind is SubnetKind.PRIVATE for s in layout.private)


def test_usable_addresses_and_free_space() -> None:
    layout = plan_layout("10.0.0.0/16", 2)
    assert layout.private[0].usable_addresses == 8192 - 5
    assert layout.public[0].usable_addresses == 1024 - 5
    assert layout.free_addresses == 65536 - 2 * 8192 - 2 * 1024


def test_explicit_prefix_lengths_win() -> None:
    layout = plan_layout("10.0.0.0/16", 2, private_prefix_length=20, public_prefix_length=24)
    assert [s.cidr for s in layout.subnets] == ["10.0.0.0/20", "10.0.16.0/20", "10.0.32.0/24", "10.0.33.0/24"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"vpc_cidr": "10.0.0.1/16", "az_count": 2},
            "vpc_cidr must be an IPv4 CIDR block (got '10.0.0.1/16'): use the network address 10.0.0.0/16.",
        ),
        (
            {"vpc_cidr": "banana", "az_count": 2},
            "vpc_cidr must be an IPv4 CIDR block (got 'banana'): use a network address such as 10.0.0.0/16.",
        ),
        (
            {"vpc_cidr": "10.0.0.0/8", "az_count": 2},
            "vpc_cidr must be a block from /16 to /28 (got '10.0.0.0/8'): "
            "AWS accepts only those VPC sizes; 10.0.0.0/16 is the usual choice.",
        ),
        ({"vpc_cidr": "10.0.0.0/16", "az_count": 0}, "az_count must be between 1 and 6 (got 0)"),
        ({"vpc_cidr": "10.0.0.0/16", "az_count": 7}, "az_count must be between 1 and 6 (got 7)"),
        (
            {"vpc_cidr": "10.0.0.0/27", "az_count": 2},
            "vpc_cidr must be large enough for 4 subnets (64 addresses) (got '10.0.0.0/27')",
        ),
        (
            {"vpc_cidr": "10.0.0.0/16", "az_count": 2, "private_prefix_length": 29},
            "private_subnet_prefix_length must be between 16 (the VPC's) and 28 (got 29)",
        ),
        (
            {"vpc_cidr": "10.0.0.0/16", "az_count": 2, "public_prefix_length": 15},
            "public_subnet_prefix_length must be between 16 (the VPC's) and 28 (got 15)",
        ),
    ],
)
def test_invalid_input_names_the_field(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        plan_layout(**kwargs)  # type: ignore[arg-type]
    assert str(info.value).startswith(message)


@st.composite
def layout_requests(draw: st.DrawFn) -> dict[str, object]:
    vpc_prefix = draw(st.integers(16, 28))
    base = draw(st.integers(0, 2**32 - 1)) >> (32 - vpc_prefix) << (32 - vpc_prefix)
    request: dict[str, object] = {
        "vpc_cidr": f"{ipaddress.IPv4Address(base)}/{vpc_prefix}",
        "az_count": draw(st.integers(1, 6)),
        "public": draw(st.booleans()),
    }
    if draw(st.booleans()):
        request["private_prefix_length"] = draw(st.integers(vpc_prefix, 28))
    if draw(st.booleans()):
        request["public_prefix_length"] = draw(st.integers(vpc_prefix, 28))
    return request


def _sizes(request: dict[str, object]) -> int:
    vpc_prefix = int(str(request["vpc_cidr"]).split("/")[1])
    private = request.get("private_prefix_length") or min(vpc_prefix + 3, 28)
    public = request.get("public_prefix_length") or min(vpc_prefix + 6, 28)
    count = int(str(request["az_count"]))
    total = count * 2 ** (32 - int(str(private)))
    if request["public"]:
        total += count * 2 ** (32 - int(str(public)))
    return total


@settings(max_examples=300, deadline=None)
@given(layout_requests())
def test_layout_properties(request: dict[str, object]) -> None:
    vpc = ipaddress.IPv4Network(str(request["vpc_cidr"]))
    fits = _sizes(request) <= vpc.num_addresses
    try:
        layout = plan_layout(**request)  # type: ignore[arg-type]
    except ConfigError as exc:
        # It refuses only when the subnets really do not fit: no space is lost to alignment.
        assert not fits
        assert exc.field == "vpc_cidr"
        return
    assert fits
    nets = [s.network for s in layout.subnets]
    azs = int(str(request["az_count"]))
    assert len(layout.private) == azs
    assert len(layout.public) == (azs if request["public"] else 0)
    for net in nets:
        assert net.subnet_of(vpc)
        assert net.prefixlen <= 28
    for i, a in enumerate(nets):
        for b in nets[i + 1 :]:
            assert not a.overlaps(b)
    # Enough addresses: every subnet keeps at least AWS's 16-address minimum, private at least public.
    assert all(s.usable_addresses >= 11 for s in layout.subnets)
    if layout.public and "private_prefix_length" not in request and "public_prefix_length" not in request:
        assert layout.private[0].usable_addresses >= layout.public[0].usable_addresses
