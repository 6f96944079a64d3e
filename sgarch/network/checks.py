"""Checks of a brought VPC, run at program start so a bad network fails before any resource is created.

A stack given ``vpc_id`` and ``subnet_ids`` used to plan fine and then fail halfway through ``pulumi up`` (an
ALB refusing two subnets of one zone, an interface endpoint refusing a private DNS name another endpoint
already holds) or deploy something unreachable (an internet-facing ALB in subnets without an internet
gateway). :func:`check_brought_network` asks AWS about the VPC with synchronous lookups (the ids are plain
config strings) and raises one :class:`~sgarch.errors.ConfigError` per problem, naming the setting and the fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from sgarch.errors import ConfigError
from sgarch.network.zones import EKS_UNSUPPORTED_ZONE_IDS

__all__ = ["BroughtNetwork", "check_brought_network", "is_not_found", "live_cidr_blocks"]

# Endpoints in these states hold their private DNS names; deleted, rejected or failed ones do not.
_LIVE_ENDPOINT_STATES = ["pendingAcceptance", "pending", "available"]
# A VPC's secondary blocks in these states route traffic (or are about to).
_LIVE_CIDR_STATES = frozenset({"associated", "associating"})


@dataclass(frozen=True)
class BroughtNetwork:
    """What the checks learned about a brought VPC, for callers that size rules or pick zones from it."""

    vpc_id: str
    vpc_cidrs: tuple[str, ...]
    """The VPC's IPv4 blocks, primary first: security groups meant for "the VPC" must admit each one."""
    availability_zones: tuple[str, ...]
    """Zone name of each of ``subnet_ids``, in the same order."""
    availability_zone_ids: tuple[str, ...]
    """Zone id of each of ``subnet_ids`` (the same physical zone in every account), in the same order."""
    public_availability_zones: tuple[str, ...]
    """Zone name of each of ``public_subnet_ids``, in the same order (empty without them)."""


def is_not_found(error: Exception) -> bool:
    """Whether a failed lookup means "nothing matched" rather than a real failure (credentials, throttling).

    The AWS provider's singular data sources fail with "no matching <thing> found" when nothing matches;
    the mocks in :mod:`sgarch.testing` answer the same way.
    """
    text = str(error)
    return "no matching" in text or "query returned no results" in text


def live_cidr_blocks(vpc: Any) -> tuple[str, ...]:
    """The IPv4 blocks of a ``get_vpc`` result that carry traffic: the primary, then associated secondaries."""
    blocks = [str(vpc.cidr_block)]
    for association in vpc.cidr_block_associations or ():
        state = str(getattr(association, "state", "") or "associated")
        if state in _LIVE_CIDR_STATES and association.cidr_block not in blocks:
            blocks.append(str(association.cidr_block))
    return tuple(blocks)


def check_brought_network(
    vpc_id: str,
    subnet_ids: Sequence[str],
    *,
    min_zones: int,
    one_subnet_per_zone: bool = True,
    interface_endpoints: Sequence[str] = (),
    private_dns: bool = False,
    public_subnet_ids: Sequence[str] = (),
    eks_cluster: bool = False,
    endpoint_setting: str = "interface_endpoints",
    field_prefix: str = "",
    opts: pulumi.InvokeOptions | None = None,
) -> BroughtNetwork:
    """Check a brought VPC before anything is created; return what was learned.

    - the VPC exists, and has DNS support and DNS hostnames when ``interface_endpoints`` are to be created
      or ``private_dns`` is asked (private DNS of interface endpoints and private hosted zones need both);
    - every subnet of ``subnet_ids`` and ``public_subnet_ids`` exists and belongs to the VPC;
    - ``subnet_ids`` span at least ``min_zones`` zones, with at most one subnet per zone when
      ``one_subnet_per_zone`` (an ALB and an interface endpoint take one subnet per zone);
    - no interface endpoint with private DNS already serves one of ``interface_endpoints`` in the VPC
      (creating a second one fails with a conflicting-domain error); ``endpoint_setting`` is the setting the
      fix tells the user to turn off;
    - ``public_subnet_ids``, when given (an internet-facing load balancer), span two zones or more, one subnet
      per zone, and each routes 0.0.0.0/0 to an internet gateway;
    - with ``eks_cluster`` (the subnets will hold an EKS cluster's control-plane interfaces), no subnet of
      ``subnet_ids`` is in a zone where EKS refuses cluster subnets (``EKS_UNSUPPORTED_ZONE_IDS``): CreateCluster
      would fail there with UnsupportedAvailabilityZoneException, after the VPC's other resources exist.

    ``field_prefix`` is put in front of the setting names in errors (``vpc_id``, ``subnet_ids``,
    ``public_subnet_ids``). ``opts`` passes a parent or a provider to the lookups. Raises ConfigError.
    """
    fields = _Fields(field_prefix, endpoint_setting)
    invoke = opts or pulumi.InvokeOptions()
    vpc = _vpc(vpc_id, fields, invoke)
    if interface_endpoints or private_dns:
        _dns_attributes(vpc, vpc_id, fields, bool(interface_endpoints))

    _no_duplicates(fields.subnets, subnet_ids)
    private = [_subnet(sid, vpc_id, fields.subnets, invoke) for sid in subnet_ids]
    _zones(private, fields.subnets, min_zones, one_subnet_per_zone, "private ")
    if eks_cluster:
        _eks_zones(private, fields.subnets)

    public: list[Any] = []
    if public_subnet_ids:
        _no_duplicates(fields.public, public_subnet_ids)
        public = [_subnet(sid, vpc_id, fields.public, invoke) for sid in public_subnet_ids]
        _zones(public, fields.public, 2, True, "public ")
        for subnet in public:
            _routes_to_internet_gateway(subnet, vpc, fields.public, invoke)

    if interface_endpoints:
        _no_conflicting_endpoints(vpc_id, interface_endpoints, fields, invoke)

    return BroughtNetwork(
        vpc_id=vpc_id,
        vpc_cidrs=live_cidr_blocks(vpc),
        availability_zones=tuple(str(s.availability_zone) for s in private),
        availability_zone_ids=tuple(str(s.availability_zone_id) for s in private),
        public_availability_zones=tuple(str(s.availability_zone) for s in public),
    )


@dataclass(frozen=True)
class _Fields:
    prefix: str
    endpoint_setting: str

    @property
    def vpc(self) -> str:
        return f"{self.prefix}vpc_id"

    @property
    def subnets(self) -> str:
        return f"{self.prefix}subnet_ids"

    @property
    def public(self) -> str:
        return f"{self.prefix}public_subnet_ids"


def _vpc(vpc_id: str, fields: _Fields, invoke: pulumi.InvokeOptions) -> Any:
    try:
        return aws.ec2.get_vpc(id=vpc_id, opts=invoke)
    except Exception as exc:
        if not is_not_found(exc):
            raise
        raise ConfigError(
            fields.vpc,
            "an existing VPC in the stack's region",
            vpc_id,
            "check the id, and that aws:region is the VPC's region",
        ) from None


def _dns_attributes(vpc: Any, vpc_id: str, fields: _Fields, endpoints: bool) -> None:
    needs = "interface endpoints with private DNS" if endpoints else "a private hosted zone"
    for attribute, value in (
        ("enableDnsSupport", vpc.enable_dns_support),
        ("enableDnsHostnames", vpc.enable_dns_hostnames),
    ):
        if not value:
            raise ConfigError(
                fields.vpc,
                f"a VPC with DNS support and DNS hostnames on ({needs} need both)",
                vpc_id,
                f"turn {attribute} on: aws ec2 modify-vpc-attribute --vpc-id {vpc_id} --{_kebab(attribute)}",
            )


def _kebab(camel: str) -> str:
    return "".join("-" + c.lower() if c.isupper() else c for c in camel)


def _no_duplicates(field: str, ids: Sequence[str]) -> None:
    if len(set(ids)) != len(ids):
        raise ConfigError(field, "free of duplicates", list(ids), "list each subnet once")


def _subnet(subnet_id: str, vpc_id: str, field: str, invoke: pulumi.InvokeOptions) -> Any:
    # Asked within the VPC first: the common case answers in one lookup, and a miss is either a subnet of
    # another VPC (named in the error) or no subnet at all.
    try:
        return aws.ec2.get_subnet(id=subnet_id, vpc_id=vpc_id, opts=invoke)
    except Exception as exc:
        if not is_not_found(exc):
            raise
    try:
        elsewhere = aws.ec2.get_subnet(id=subnet_id, opts=invoke)
    except Exception as exc:
        if not is_not_found(exc):
            raise
        raise ConfigError(
            field, f"existing subnets of {vpc_id}", subnet_id, "check the id and the stack's aws:region"
        ) from None
    raise ConfigError(
        field,
        f"subnets of {vpc_id}",
        subnet_id,
        f"it belongs to {elsewhere.vpc_id}; list only subnets of {vpc_id}, or set vpc_id to {elsewhere.vpc_id}",
    )


def _zones(subnets: Sequence[Any], field: str, min_zones: int, one_per_zone: bool, kind: str) -> None:
    seen: dict[str, str] = {}
    for subnet in subnets:
        zone = str(subnet.availability_zone)
        if one_per_zone and zone in seen:
            raise ConfigError(
                field,
                f"one {kind}subnet per availability zone (a load balancer and an interface endpoint take one)",
                [seen[zone], str(subnet.id)],
                f"both are in {zone}; keep one of them",
            )
        seen.setdefault(zone, str(subnet.id))
    if len(seen) < min_zones:
        raise ConfigError(
            field,
            f"{kind}subnets in {min_zones} or more availability zones",
            [str(s.id) for s in subnets],
            f"they span {len(seen)} ({', '.join(sorted(seen))}); add a subnet in another zone",
        )


def _eks_zones(subnets: Sequence[Any], field: str) -> None:
    # By zone id: the same zone name is a different physical zone in another account.
    for subnet in subnets:
        zone_id = str(subnet.availability_zone_id)
        if zone_id in EKS_UNSUPPORTED_ZONE_IDS:
            raise ConfigError(
                field,
                "subnets in zones where EKS can place the cluster's control plane",
                str(subnet.id),
                f"it is in {subnet.availability_zone} ({zone_id}), where EKS refuses cluster subnets; "
                "list a subnet of another zone of the VPC instead",
            )


def _routes_to_internet_gateway(subnet: Any, vpc: Any, field: str, invoke: pulumi.InvokeOptions) -> None:
    # A subnet without an explicit association uses the VPC's main route table.
    try:
        table = aws.ec2.get_route_table(subnet_id=str(subnet.id), opts=invoke)
    except Exception as exc:
        if not is_not_found(exc):
            raise
        table = aws.ec2.get_route_table(route_table_id=str(vpc.main_route_table_id), opts=invoke)
    default = next((r for r in table.routes or () if r.cidr_block == "0.0.0.0/0"), None)
    target = str(default.gateway_id or "") if default is not None else ""
    if not target.startswith("igw-"):
        via = _route_target(default) if default is not None else "nothing"
        raise ConfigError(
            field,
            "subnets whose route table sends 0.0.0.0/0 to an internet gateway (igw-...)",
            str(subnet.id),
            f"its route table {table.id} sends 0.0.0.0/0 to {via}; an internet-facing load balancer there cannot "
            "answer the internet: list public subnets, or make the load balancer internal",
        )


def _route_target(route: Any) -> str:
    for attribute in (
        "gateway_id",
        "nat_gateway_id",
        "transit_gateway_id",
        "network_interface_id",
        "vpc_peering_connection_id",
        "vpc_endpoint_id",
        "instance_id",
    ):
        value = getattr(route, attribute, None)
        if value:
            return str(value)
    return "an unknown target"


def _no_conflicting_endpoints(
    vpc_id: str, services: Sequence[str], fields: _Fields, invoke: pulumi.InvokeOptions
) -> None:
    region = aws.get_region(opts=invoke).region
    for service in services:
        name = f"com.amazonaws.{region}.{service}"
        try:
            found = aws.ec2.get_vpc_endpoint(
                vpc_id=vpc_id,
                service_name=name,
                vpc_endpoint_type="Interface",
                filters=[
                    aws.ec2.GetVpcEndpointFilterArgs(name="vpc-endpoint-state", values=_LIVE_ENDPOINT_STATES)
                ],
                opts=invoke,
            )
        except Exception as exc:
            if is_not_found(exc):
                continue
            if "multiple" not in str(exc):
                raise
            raise ConfigError(
                fields.endpoint_setting,
                f"off while {vpc_id} already has interface endpoints for {service}",
                service,
                f"reuse those endpoints (several exist for {name}) and turn {fields.endpoint_setting} off",
            ) from None
        if found.private_dns_enabled:
            raise ConfigError(
                fields.endpoint_setting,
                f"off while {vpc_id} already has an interface endpoint with private DNS for {service}",
                service,
                f"reuse {found.id} (its security group must admit 443 from the VPC) and turn "
                f"{fields.endpoint_setting} off; a second endpoint with private DNS fails with a conflicting domain",
            )
