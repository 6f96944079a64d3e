"""The POC's network: the customer's VPC as given, or a new VPC with a way in and out.

A new VPC is connected in one of three ways (the settings refuse a new VPC with none): attached to the
customer's transit gateway, peered with one of their VPCs (routes to ``routed_cidrs`` through either), or
given one NAT gateway for egress, with people coming in through SSM port forwarding.
"""

from __future__ import annotations

from collections.abc import Callable

import pulumi
import pulumi_aws as aws

from sgarch.network import NatStrategy, Network, NetworkArgs
from sgarch.refarch.poc._settings import NEW_VPC_ZONES, PocSettings
from sgarch.refarch.poc._shared import ARCHITECTURE
from sgarch.validation import build

__all__ = ["NEW_VPC_ZONES", "connect", "network"]


def network(
    parent: pulumi.Resource,
    name: str,
    settings: PocSettings,
    services: tuple[str, ...],
    tags: dict[str, str],
    instance_types: tuple[str, ...],
    own_services: tuple[str, ...] = (),
) -> Network:
    """The Network component: the brought VPC with ``services`` as interface endpoints, or a new VPC.

    A new VPC spans ``settings.availability_zone_ids``, or the first zones that offer ``services``,
    ``own_services`` (endpoints the POC creates itself, such as the EKS runtime's) and ``instance_types`` (the
    instance's, or the EKS nodes'), and with runtime eks hold the cluster's control plane. ``tags`` are the
    user's and the POC's; the component adds sgarch's own."""
    if settings.vpc_id:
        args = build(
            NetworkArgs,
            None,
            vpc_id=settings.vpc_id,
            private_subnet_ids=list(settings.subnet_ids),
            interface_endpoints=services,
            tags=tags,
            architecture=ARCHITECTURE,
        )
    else:
        args = build(
            NetworkArgs,
            None,
            vpc_cidr=settings.vpc_cidr,
            az_count=NEW_VPC_ZONES,
            availability_zone_ids=settings.availability_zone_ids or None,
            required_instance_types=instance_types,
            eks_cluster=settings.runtime == "eks",
            private_only=not settings.nat,
            nat_strategy=NatStrategy.SINGLE if settings.nat else NatStrategy.NONE,
            interface_endpoints=services,
            required_endpoint_services=own_services,
            tags=tags,
            architecture=ARCHITECTURE,
        )
    return Network(f"{name}-network", args, opts=pulumi.ResourceOptions(parent=parent))


def connect(
    parent: pulumi.Resource, name: str, settings: PocSettings, net: Network, tags: dict[str, str]
) -> dict[str, pulumi.Output[str]]:
    """Attach or peer a new VPC and route ``settings.routes()`` through it; the outputs that name the link.

    The other side is the customer's: the transit gateway's route tables must associate and propagate the
    attachment (automatic with its default route table), and their networks need a route back to
    ``vpc_cidr``; a peering connection to another account or region waits for the peer to accept it.
    """
    child = pulumi.ResourceOptions(parent=parent)
    if settings.transit_gateway_id:
        attachment = aws.ec2transitgateway.VpcAttachment(
            f"{name}-tgw",
            transit_gateway_id=settings.transit_gateway_id,
            vpc_id=net.vpc_id,
            # One subnet per zone, the private ones: the attachment's interfaces live where the instance does.
            subnet_ids=net.private_subnet_ids,
            dns_support="enable",
            tags=tags | {"Name": f"{name}-tgw"},
            opts=child,
        )
        _routes(
            parent,
            name,
            "tgw",
            settings,
            net,
            {"transit_gateway_id": settings.transit_gateway_id},
            attachment,
        )
        return {"transit_gateway_attachment_id": attachment.id}
    if settings.peer_vpc_id:
        # EC2 accepts a peering itself only inside one account and region; otherwise the peer accepts it.
        same_side = not settings.peer_owner_id and not settings.peer_region
        peering = aws.ec2.VpcPeeringConnection(
            f"{name}-peering",
            vpc_id=net.vpc_id,
            peer_vpc_id=settings.peer_vpc_id,
            peer_owner_id=settings.peer_owner_id,
            peer_region=settings.peer_region,
            auto_accept=True if same_side else None,
            tags=tags | {"Name": f"{name}-peering"},
            opts=child,
        )
        _routes(parent, name, "peering", settings, net, {"vpc_peering_connection_id": peering.id}, peering)
        return {"vpc_peering_connection_id": peering.id}
    return {}


def _routes(
    parent: pulumi.Resource,
    name: str,
    part: str,
    settings: PocSettings,
    net: Network,
    target: dict[str, pulumi.Input[str]],
    link: pulumi.Resource,
) -> None:
    # A route to an attachment that is not available yet is refused, so every route waits for the link.
    opts = pulumi.ResourceOptions(parent=parent, depends_on=[link])
    for zone in range(NEW_VPC_ZONES):
        table = net.private_route_table_ids.apply(_nth(zone))
        for index, cidr in enumerate(settings.routes()):
            aws.ec2.Route(
                f"{name}-{part}-route-{zone}-{index}",
                route_table_id=table,
                destination_cidr_block=cidr,
                opts=opts,
                **target,
            )


def _nth(index: int) -> Callable[[list[str]], str]:
    return lambda ids: ids[index]
