"""Network: NAT gateways, public IPv4 addresses, interface endpoints, transit gateway attachments, ALBs, zones."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sgarch.cost._context import PricingContext, Unpriced

if TYPE_CHECKING:
    from sgarch.testing import ResourceRecord

__all__ = [
    "price_eip",
    "price_endpoint",
    "price_load_balancer",
    "price_nat",
    "price_transit_gateway_attachment",
    "price_zone",
]


def price_nat(ctx: PricingContext, record: ResourceRecord) -> None:
    if str(record.inputs.get("connectivityType", "public")) == "private":
        label = "private NAT gateway"
    else:
        label = "NAT gateway"
    ctx.add(record, label, "network", ctx.hours, "h", ctx.prices.nat_gateway_hourly)
    gb = ctx.assumptions.nat_gb_per_month
    ctx.add(
        record,
        "NAT data processed",
        "network",
        gb,
        "GB",
        ctx.prices.nat_gateway_gb,
        f"{gb:g} GB a month through the gateway",
    )


def price_eip(ctx: PricingContext, record: ResourceRecord) -> None:
    ctx.add(record, "public IPv4 address", "network", ctx.hours, "h", ctx.prices.public_ipv4_hourly)


def price_endpoint(ctx: PricingContext, record: ResourceRecord) -> None:
    kind = str(record.inputs.get("vpcEndpointType") or "Gateway")
    if kind == "Gateway":
        return  # S3 and DynamoDB gateway endpoints are free
    if kind != "Interface":
        raise Unpriced(f"no price for {kind} endpoints")
    zones = len(record.inputs.get("subnetIds") or []) or 1
    service = str(record.inputs.get("serviceName", "")).rsplit(".", 1)[-1] or record.name
    ctx.add(
        record,
        f"interface endpoint ({service}) × {zones} AZ",
        "network",
        zones * ctx.hours,
        "h",
        ctx.prices.vpc_interface_endpoint_hourly_per_az,
    )
    gb = ctx.assumptions.vpc_endpoint_gb_per_month
    ctx.add(
        record,
        "endpoint data",
        "network",
        gb,
        "GB",
        ctx.prices.vpc_interface_endpoint_gb,
        f"{gb:g} GB a month",
    )


def price_transit_gateway_attachment(ctx: PricingContext, record: ResourceRecord) -> None:
    # The transit gateway is the customer's; this stack pays for its own attachment and the data it sends.
    ctx.add(
        record,
        "transit gateway attachment",
        "network",
        ctx.hours,
        "h",
        ctx.prices.transit_gateway_attachment_hourly,
    )
    gb = ctx.assumptions.transit_gateway_gb_per_month
    ctx.add(
        record,
        "transit gateway data processed",
        "network",
        gb,
        "GB",
        ctx.prices.transit_gateway_gb,
        f"{gb:g} GB a month sent through the attachment",
    )


def price_load_balancer(ctx: PricingContext, record: ResourceRecord) -> None:
    kind = str(record.inputs.get("loadBalancerType") or "application")
    if kind != "application":
        raise Unpriced(f"no price for {kind} load balancers")
    scheme = "internal" if record.inputs.get("internal") else "internet-facing"
    ctx.add(record, f"ALB ({scheme})", "load balancing", ctx.hours, "h", ctx.prices.alb_hourly)
    lcu = ctx.assumptions.alb_lcu
    ctx.add(
        record,
        "ALB capacity units",
        "load balancing",
        lcu * ctx.hours,
        "LCU-h",
        ctx.prices.alb_lcu_hourly,
        f"{lcu:g} LCU on average",
    )


def price_zone(ctx: PricingContext, record: ResourceRecord) -> None:
    ctx.add(record, "Route 53 hosted zone", "network", 1, "zone-mo", ctx.prices.route53_zone_month)
