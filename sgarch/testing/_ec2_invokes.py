"""Answers to the EC2 network lookups (VPCs, subnets, route tables, endpoints, zones and their offerings).

The defaults describe a friendly account: every VPC exists with DNS on, every subnet belongs to the VPC asked
about, sits in a zone EKS accepts cluster subnets in and routes to an internet gateway, no interface endpoint
exists, and every zone offers every endpoint service and instance type. :class:`sgarch.testing.FakeNetwork`
describes the unfriendly parts, with the result builders below.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from sgarch.network.zones import EKS_UNSUPPORTED_ZONE_IDS
from sgarch.testing._fakes import ACCOUNT_ID, InvokeFailedError, availability_zones, fake_hex, partition_for

__all__ = [
    "EC2_INVOKES",
    "filter_values",
    "instance_type_offerings_result",
    "route_table_result",
    "vpc_endpoint_result",
    "vpc_endpoint_service_result",
]


def _get_availability_zones(args: Mapping[str, Any], region: str) -> Mapping[str, Any]:
    names, ids = availability_zones(region)
    excluded = set(args.get("excludeNames") or ())
    excluded_ids = set(args.get("excludeZoneIds") or ())
    pairs = [(n, i) for n, i in zip(names, ids, strict=True) if n not in excluded and i not in excluded_ids]
    return {
        "id": region,
        "names": [n for n, _ in pairs],
        "zoneIds": [i for _, i in pairs],
        "groupNames": [region] * len(pairs),
        "state": args.get("state"),
        "region": region,
    }


def filter_values(args: Mapping[str, Any], name: str) -> list[str]:
    for f in args.get("filters") or ():
        if f.get("name") == name:
            return [str(v) for v in f.get("values") or ()]
    return []


def _vpc_id(args: Mapping[str, Any]) -> str:
    given = args.get("id") or next(iter(filter_values(args, "vpc-id")), None)
    return str(given) if given else "vpc-" + fake_hex("default-vpc")


def _get_vpc(args: Mapping[str, Any], region: str) -> Mapping[str, Any]:
    vpc_id = _vpc_id(args)
    partition, _ = partition_for(region)
    cidr = str(args.get("cidrBlock") or "10.0.0.0/16")
    return {
        "id": vpc_id,
        "arn": f"arn:{partition}:ec2:{region}:{ACCOUNT_ID}:vpc/{vpc_id}",
        "cidrBlock": cidr,
        "cidrBlockAssociations": [
            {"associationId": "vpc-cidr-assoc-" + fake_hex(vpc_id), "cidrBlock": cidr, "state": "associated"}
        ],
        "default": bool(args.get("default")),
        "dhcpOptionsId": "dopt-" + fake_hex("dopt", vpc_id),
        "enableDnsHostnames": True,
        "enableDnsSupport": True,
        "instanceTenancy": "default",
        "mainRouteTableId": "rtb-" + fake_hex("main-rtb", vpc_id),
        "ownerId": ACCOUNT_ID,
        "state": "available",
        "tags": dict(args.get("tags") or {}),
        "region": region,
    }


def _default_subnet_zone(subnet_id: str, region: str) -> tuple[int, str]:
    """The (index, zone name) of a subnet nobody described: one of the region's zones, derived from its id.

    Never a zone where EKS refuses cluster subnets (``use1-az3``...): a brought VPC's subnets are what a user
    lists for either runtime, so the default account must suit an EKS cluster as well as a single node. A
    subnet that would land there takes the region's next zone instead. The index also picks its CIDR block.
    """
    names, ids = availability_zones(region)
    index = int(fake_hex(subnet_id, length=2), 16) % len(names)
    zone = index
    while ids[zone] in EKS_UNSUPPORTED_ZONE_IDS:
        zone = (zone + 1) % len(names)
    return index, names[zone]


def _get_subnet(args: Mapping[str, Any], region: str) -> Mapping[str, Any]:
    subnet_id = str(args.get("id") or "subnet-" + fake_hex("subnet", json.dumps(args, sort_keys=True)))
    names, ids = availability_zones(region)
    index, zone = _default_subnet_zone(subnet_id, region)
    az = str(args.get("availabilityZone") or zone)
    partition, _ = partition_for(region)
    return {
        "id": subnet_id,
        "arn": f"arn:{partition}:ec2:{region}:{ACCOUNT_ID}:subnet/{subnet_id}",
        "vpcId": str(args.get("vpcId") or _vpc_id(args)),
        "cidrBlock": str(args.get("cidrBlock") or f"10.0.{index * 32}.0/19"),
        "availabilityZone": az,
        "availabilityZoneId": ids[names.index(az)] if az in names else f"{az}-id",
        "availableIpAddressCount": 8000.0,
        "defaultForAz": False,
        "mapPublicIpOnLaunch": False,
        "ownerId": ACCOUNT_ID,
        "state": "available",
        "tags": dict(args.get("tags") or {}),
        "region": region,
    }


def _get_subnets(args: Mapping[str, Any], region: str) -> Mapping[str, Any]:
    key = json.dumps({"filters": args.get("filters"), "tags": args.get("tags")}, sort_keys=True)
    return {
        "id": region,
        "ids": ["subnet-" + fake_hex("subnets", key, str(i)) for i in range(2)],
        "filters": args.get("filters"),
        "tags": args.get("tags"),
        "region": region,
    }


def _get_route_table(args: Mapping[str, Any], region: str) -> Mapping[str, Any]:
    # Without configuration every subnet looks public: 0.0.0.0/0 goes to an internet gateway.
    # sgarch.testing.FakeNetwork describes private subnets, NAT routes and main-table fallbacks.
    vpc_id = str(args.get("vpcId") or _vpc_id(args))
    subnet_id = str(args.get("subnetId") or "")
    table_id = str(args.get("routeTableId") or "rtb-" + fake_hex("rtb", vpc_id, subnet_id))
    return route_table_result(table_id, vpc_id, subnet_id, "igw-" + fake_hex("igw", vpc_id), region)


def route_table_result(
    table_id: str, vpc_id: str, subnet_id: str, default_target: str | None, region: str
) -> Mapping[str, Any]:
    """A ``getRouteTable`` answer: the VPC's local route and, when ``default_target`` is given, 0.0.0.0/0 to it
    (``igw-``, ``nat-``, ``tgw-``, ``eni-`` or ``pcx-`` decides which route field carries it)."""
    partition, _ = partition_for(region)
    empty = {
        key: ""
        for key in (
            "carrierGatewayId",
            "coreNetworkArn",
            "destinationPrefixListId",
            "egressOnlyGatewayId",
            "gatewayId",
            "instanceId",
            "ipv6CidrBlock",
            "localGatewayId",
            "natGatewayId",
            "networkInterfaceId",
            "odbNetworkArn",
            "transitGatewayId",
            "vpcEndpointId",
            "vpcPeeringConnectionId",
        )
    }
    # The provider's data source leaves the VPC's own "local" route out of `routes`.
    routes = []
    if default_target:
        field = {"nat-": "natGatewayId", "tgw-": "transitGatewayId", "eni-": "networkInterfaceId"}.get(
            default_target[:4], "vpcPeeringConnectionId" if default_target.startswith("pcx-") else "gatewayId"
        )
        routes.append({**empty, "cidrBlock": "0.0.0.0/0", field: default_target})
    associations = (
        [
            {
                "gatewayId": "",
                "main": False,
                "routeTableAssociationId": "rtbassoc-" + fake_hex("rtbassoc", table_id, subnet_id),
                "routeTableId": table_id,
                "subnetId": subnet_id,
            }
        ]
        if subnet_id
        else []
    )
    return {
        "id": table_id,
        "arn": f"arn:{partition}:ec2:{region}:{ACCOUNT_ID}:route-table/{table_id}",
        "associations": associations,
        "filters": None,
        "gatewayId": "",
        "ownerId": ACCOUNT_ID,
        "region": region,
        "routeTableId": table_id,
        "routes": routes,
        "subnetId": subnet_id,
        "tags": {},
        "vpcId": vpc_id,
    }


def _get_vpc_endpoint(args: Mapping[str, Any], region: str) -> Mapping[str, Any]:
    # A VPC has no endpoints until FakeNetwork says so; the provider fails like this when nothing matches.
    raise InvokeFailedError("no matching EC2 VPC Endpoint found")


def vpc_endpoint_result(
    endpoint_id: str, vpc_id: str, service_name: str, private_dns_enabled: bool, state: str, region: str
) -> Mapping[str, Any]:
    """A ``getVpcEndpoint`` answer for one interface endpoint."""
    partition, suffix = partition_for(region)
    return {
        "id": endpoint_id,
        "arn": f"arn:{partition}:ec2:{region}:{ACCOUNT_ID}:vpc-endpoint/{endpoint_id}",
        "cidrBlocks": [],
        "dnsEntries": [
            {
                "dnsName": f"{endpoint_id}.{service_name.split('.')[-1]}.{region}.vpce.{suffix}",
                "hostedZoneId": "Z7HUB22UULQXV",
            }
        ],
        "dnsOptions": [
            {
                "dnsRecordIpType": "ipv4",
                "privateDnsOnlyForInboundResolverEndpoint": False,
                "privateDnsPreference": "",
                "privateDnsSpecifiedDomains": [],
            }
        ],
        "filters": None,
        "ipAddressType": "ipv4",
        "networkInterfaceIds": ["eni-" + fake_hex("vpce-eni", endpoint_id)],
        "ownerId": ACCOUNT_ID,
        "policy": "",
        "prefixListId": "",
        "privateDnsEnabled": private_dns_enabled,
        "region": region,
        "requesterManaged": False,
        "routeTableIds": [],
        "securityGroupIds": ["sg-" + fake_hex("vpce-sg", endpoint_id)],
        "serviceName": service_name,
        "serviceRegion": region,
        "state": state,
        "subnetIds": [],
        "tags": {},
        "vpcEndpointType": "Interface",
        "vpcId": vpc_id,
    }


def vpc_endpoint_service_result(args: Mapping[str, Any], region: str, zones: list[str]) -> Mapping[str, Any]:
    """A ``getVpcEndpointService`` answer for an AWS service offered in ``zones`` (names)."""
    _, suffix = partition_for(region)
    given = str(args.get("serviceName") or "")
    service = str(args.get("service") or given.removeprefix(f"com.amazonaws.{region}."))
    name = given or f"com.amazonaws.{region}.{service}"
    kind = str(args.get("serviceType") or "Interface")
    return {
        "id": fake_hex("vpce-svc", name),
        "acceptanceRequired": False,
        "arn": "",
        "availabilityZones": zones,
        "baseEndpointDnsNames": [f"{service}.{region}.vpce.{suffix}"],
        "filters": args.get("filters"),
        "managesVpcEndpoints": False,
        "owner": "amazon",
        "privateDnsName": f"{service}.{region}.{suffix}" if kind == "Interface" else "",
        "privateDnsNames": [f"{service}.{region}.{suffix}"] if kind == "Interface" else [],
        "region": region,
        "service": args.get("service"),
        "serviceId": "vpce-svc-" + fake_hex("vpce-svc-id", name),
        "serviceName": name,
        "serviceRegion": region,
        "serviceRegions": args.get("serviceRegions"),
        "serviceType": kind,
        "supportedIpAddressTypes": ["ipv4"],
        "tags": {},
        "vpcEndpointPolicySupported": True,
    }


def _get_vpc_endpoint_service(args: Mapping[str, Any], region: str) -> Mapping[str, Any]:
    return vpc_endpoint_service_result(args, region, availability_zones(region)[0])


def instance_type_offerings_result(
    args: Mapping[str, Any], region: str, offered: Callable[[str, str], bool]
) -> Mapping[str, Any]:
    """A ``getInstanceTypeOfferings`` answer: each type of the ``instance-type`` filter at each location of
    ``locationType`` (filtered by ``location``) where ``offered(instance_type, location)``."""
    names, ids = availability_zones(region)
    location_type = str(args.get("locationType") or "region")
    everywhere = {"availability-zone": names, "availability-zone-id": ids}.get(location_type, [region])
    wanted_locations = filter_values(args, "location")
    locations = [loc for loc in everywhere if not wanted_locations or loc in wanted_locations]
    types = filter_values(args, "instance-type") or ["m6a.large"]
    pairs = [(t, loc) for t in types for loc in locations if offered(t, loc)]
    return {
        "id": region,
        "filters": args.get("filters"),
        "instanceTypes": [t for t, _ in pairs],
        "locationType": args.get("locationType"),
        "locationTypes": [location_type] * len(pairs),
        "locations": [loc for _, loc in pairs],
        "region": region,
    }


def _get_instance_type_offerings(args: Mapping[str, Any], region: str) -> Mapping[str, Any]:
    return instance_type_offerings_result(args, region, lambda _type, _location: True)


EC2_INVOKES = {
    "aws:index/getAvailabilityZones:getAvailabilityZones": _get_availability_zones,
    "aws:ec2/getVpc:getVpc": _get_vpc,
    "aws:ec2/getSubnet:getSubnet": _get_subnet,
    "aws:ec2/getSubnets:getSubnets": _get_subnets,
    "aws:ec2/getRouteTable:getRouteTable": _get_route_table,
    "aws:ec2/getVpcEndpoint:getVpcEndpoint": _get_vpc_endpoint,
    "aws:ec2/getVpcEndpointService:getVpcEndpointService": _get_vpc_endpoint_service,
    "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings": _get_instance_type_offerings,
}
"""The network lookups' default answers by invoke token; part of ``DEFAULT_INVOKES``."""
