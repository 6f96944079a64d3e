"""``FakeNetwork``: the VPCs, subnets, endpoints and zone offerings a test's stack finds in the AWS account.

The default mock answers describe a friendly account: every VPC exists with DNS on, every subnet belongs to
the VPC asked about, sits in a zone EKS accepts cluster subnets in and routes to an internet gateway, no
interface endpoint exists, and every zone offers every endpoint service and instance type. A test describes the
unfriendly parts instead::

    net = FakeNetwork()
    net.vpc("vpc-1", enable_dns_hostnames=False)
    net.subnet("subnet-a", vpc_id="vpc-1", availability_zone="us-east-1a")
    net.endpoint("vpce-1", vpc_id="vpc-1", service="ssm")
    net.without_instance_type("m6a.xlarge", "use1-az1")
    net.install(pulumi_mocks)

Ids the test did not describe keep the default answers, unless ``FakeNetwork(strict=True)``: then only the
described VPCs and subnets exist, and looking up any other fails as the provider does ("no matching ... found").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sgarch.testing._ec2_invokes import (
    EC2_INVOKES,
    filter_values,
    instance_type_offerings_result,
    route_table_result,
    vpc_endpoint_result,
    vpc_endpoint_service_result,
)
from sgarch.testing._fakes import ACCOUNT_ID, InvokeFailedError, availability_zones, fake_hex

if TYPE_CHECKING:
    from sgarch.testing._mocks import SgarchMocks

__all__ = ["FakeNetwork"]

_VPC = "aws:ec2/getVpc:getVpc"
_SUBNET = "aws:ec2/getSubnet:getSubnet"
_ROUTE_TABLE = "aws:ec2/getRouteTable:getRouteTable"
_ENDPOINT = "aws:ec2/getVpcEndpoint:getVpcEndpoint"
_SERVICE = "aws:ec2/getVpcEndpointService:getVpcEndpointService"
_OFFERINGS = "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings"


@dataclass(frozen=True)
class _Vpc:
    cidr_blocks: tuple[str, ...]
    enable_dns_support: bool
    enable_dns_hostnames: bool
    main_route: str | None


@dataclass(frozen=True)
class _Subnet:
    vpc_id: str
    availability_zone: str
    cidr_block: str
    default_route: str | None
    explicit_route_table: bool


@dataclass(frozen=True)
class _Endpoint:
    endpoint_id: str
    vpc_id: str
    service: str
    private_dns_enabled: bool
    state: str


class FakeNetwork:
    """A description of the account's network that :meth:`install` makes the mocks answer from."""

    def __init__(self, *, strict: bool = False) -> None:
        self.strict = strict
        self._vpcs: dict[str, _Vpc] = {}
        self._subnets: dict[str, _Subnet] = {}
        self._endpoints: list[_Endpoint] = []
        self._missing_services: dict[str, set[str]] = {}
        self._missing_types: dict[str, set[str]] = {}

    # -- describing the account ------------------------------------------------------------------------

    def vpc(
        self,
        vpc_id: str,
        *,
        cidr_blocks: tuple[str, ...] = ("10.0.0.0/16",),
        enable_dns_support: bool = True,
        enable_dns_hostnames: bool = True,
        main_route: str | None = None,
    ) -> FakeNetwork:
        """A VPC with these IPv4 blocks (primary first) and DNS attributes. ``main_route`` is where its main
        route table sends 0.0.0.0/0 (``igw-...``, ``nat-...``; None for nowhere)."""
        self._vpcs[vpc_id] = _Vpc(tuple(cidr_blocks), enable_dns_support, enable_dns_hostnames, main_route)
        return self

    def subnet(
        self,
        subnet_id: str,
        *,
        vpc_id: str,
        availability_zone: str,
        cidr_block: str | None = None,
        default_route: str | None = "igw",
        explicit_route_table: bool = True,
    ) -> FakeNetwork:
        """A subnet of ``vpc_id`` in zone ``availability_zone`` (a name). ``default_route`` is the target of
        0.0.0.0/0 in its route table: ``"igw"`` for an internet gateway of the VPC, an id such as
        ``nat-0abc``, or None. Without ``explicit_route_table`` it uses the VPC's main route table."""
        target = "igw-" + fake_hex("igw", vpc_id) if default_route == "igw" else default_route
        cidr = cidr_block or f"10.0.{int(fake_hex(subnet_id, length=2), 16) % 8 * 32}.0/19"
        self._subnets[subnet_id] = _Subnet(vpc_id, availability_zone, cidr, target, explicit_route_table)
        return self

    def endpoint(
        self,
        endpoint_id: str,
        *,
        vpc_id: str,
        service: str,
        private_dns_enabled: bool = True,
        state: str = "available",
    ) -> FakeNetwork:
        """An interface endpoint for ``service`` (``ssm``, ``ecr.api``...) that already exists in ``vpc_id``."""
        self._endpoints.append(_Endpoint(endpoint_id, vpc_id, service, private_dns_enabled, state))
        return self

    def without_service(self, service: str, *zones: str) -> FakeNetwork:
        """Endpoint service ``service`` is not offered in these zones (names)."""
        self._missing_services.setdefault(service, set()).update(zones)
        return self

    def without_instance_type(self, instance_type: str, *zone_ids: str) -> FakeNetwork:
        """Instance type ``instance_type`` is not offered in these zones (zone ids such as ``use1-az1``)."""
        self._missing_types.setdefault(instance_type, set()).update(zone_ids)
        return self

    def install(self, mocks: SgarchMocks) -> FakeNetwork:
        """Make ``mocks`` answer the network lookups from this description."""
        mocks.register_invoke(_VPC, self._get_vpc)
        mocks.register_invoke(_SUBNET, self._get_subnet)
        mocks.register_invoke(_ROUTE_TABLE, self._get_route_table)
        mocks.register_invoke(_ENDPOINT, self._get_vpc_endpoint)
        mocks.register_invoke(_SERVICE, self._get_vpc_endpoint_service)
        mocks.register_invoke(_OFFERINGS, self._get_instance_type_offerings)
        return self

    # -- answers ---------------------------------------------------------------------------------------

    def _get_vpc(self, args: Mapping[str, Any], region: str) -> Mapping[str, Any]:
        vpc_id = str(args.get("id") or "")
        vpc = self._vpcs.get(vpc_id)
        if vpc is None:
            if self.strict:
                raise InvokeFailedError("no matching EC2 VPC found")
            return EC2_INVOKES[_VPC](args, region)
        answer = dict(EC2_INVOKES[_VPC]({**args, "cidrBlock": vpc.cidr_blocks[0]}, region))
        answer.update(
            cidrBlockAssociations=[
                {
                    "associationId": "vpc-cidr-assoc-" + fake_hex(vpc_id, cidr),
                    "cidrBlock": cidr,
                    "state": "associated",
                }
                for cidr in vpc.cidr_blocks
            ],
            enableDnsSupport=vpc.enable_dns_support,
            enableDnsHostnames=vpc.enable_dns_hostnames,
        )
        return answer

    def _get_subnet(self, args: Mapping[str, Any], region: str) -> Mapping[str, Any]:
        subnet_id = str(args.get("id") or "")
        subnet = self._subnets.get(subnet_id)
        if subnet is None:
            if self.strict:
                raise InvokeFailedError("no matching EC2 Subnet found")
            return EC2_INVOKES[_SUBNET](args, region)
        if args.get("vpcId") and args["vpcId"] != subnet.vpc_id:
            raise InvokeFailedError("no matching EC2 Subnet found")
        names, ids = availability_zones(region)
        answer = dict(EC2_INVOKES[_SUBNET]({"id": subnet_id}, region))
        answer.update(
            vpcId=subnet.vpc_id,
            availabilityZone=subnet.availability_zone,
            availabilityZoneId=ids[names.index(subnet.availability_zone)]
            if subnet.availability_zone in names
            else f"{subnet.availability_zone}-id",
            cidrBlock=subnet.cidr_block,
            ownerId=ACCOUNT_ID,
        )
        return answer

    def _get_route_table(self, args: Mapping[str, Any], region: str) -> Mapping[str, Any]:
        subnet_id = str(args.get("subnetId") or "")
        table_id = str(args.get("routeTableId") or "")
        subnet = self._subnets.get(subnet_id)
        if subnet is not None:
            if not subnet.explicit_route_table:
                raise InvokeFailedError("no matching EC2 Route Table found")
            table = "rtb-" + fake_hex("rtb", subnet.vpc_id, subnet_id)
            return route_table_result(table, subnet.vpc_id, subnet_id, subnet.default_route, region)
        for vpc_id, vpc in self._vpcs.items():
            if table_id == "rtb-" + fake_hex("main-rtb", vpc_id):
                return route_table_result(table_id, vpc_id, "", vpc.main_route, region)
        if self.strict:
            raise InvokeFailedError("no matching EC2 Route Table found")
        return EC2_INVOKES[_ROUTE_TABLE](args, region)

    def _get_vpc_endpoint(self, args: Mapping[str, Any], region: str) -> Mapping[str, Any]:
        states = filter_values(args, "vpc-endpoint-state") or (
            [str(args["state"])] if args.get("state") else []
        )
        matches = [
            e
            for e in self._endpoints
            if (not args.get("vpcId") or e.vpc_id == args["vpcId"])
            and (not args.get("serviceName") or f"com.amazonaws.{region}.{e.service}" == args["serviceName"])
            and (not states or e.state in states)
        ]
        if not matches:
            raise InvokeFailedError("no matching EC2 VPC Endpoint found")
        if len(matches) > 1:
            raise InvokeFailedError(
                "multiple EC2 VPC Endpoints matched; use additional constraints to reduce matches to a single "
                "EC2 VPC Endpoint"
            )
        e = matches[0]
        name = f"com.amazonaws.{region}.{e.service}"
        return vpc_endpoint_result(e.endpoint_id, e.vpc_id, name, e.private_dns_enabled, e.state, region)

    def _get_vpc_endpoint_service(self, args: Mapping[str, Any], region: str) -> Mapping[str, Any]:
        service = str(
            args.get("service") or str(args.get("serviceName") or "").removeprefix(f"com.amazonaws.{region}.")
        )
        missing = self._missing_services.get(service, set())
        zones = [z for z in availability_zones(region)[0] if z not in missing]
        return vpc_endpoint_service_result(args, region, zones)

    def _get_instance_type_offerings(self, args: Mapping[str, Any], region: str) -> Mapping[str, Any]:
        names, ids = availability_zones(region)

        def offered(instance_type: str, location: str) -> bool:
            zone_id = ids[names.index(location)] if location in names else location
            return zone_id not in self._missing_types.get(instance_type, set())

        return instance_type_offerings_result(args, region, offered)
