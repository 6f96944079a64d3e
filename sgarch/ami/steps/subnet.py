"""subnet: where the build instance runs, and how it reaches SSM."""

from __future__ import annotations

from typing import Any

from sgarch.ami.runner import BuildEvent
from sgarch.ami.steps.state import BuildState, NoCleanup
from sgarch.errors import AmiBuildError

__all__ = ["ChooseSubnet"]

# SSM Run Command needs these three endpoints; a subnet without a default route must have all of them.
_SSM_ENDPOINTS = ("ssm", "ssmmessages", "ec2messages")


class ChooseSubnet(NoCleanup):
    """Pick where the build instance runs."""

    name = "subnet"

    def run(self, state: BuildState) -> None:
        """The spec's subnet, or the default-VPC subnet with most free IPs in an AZ offering the type."""
        spec = state.loaded.spec
        ec2 = state.clients.ec2(spec.build_region)
        if spec.subnet_id:
            subnets = ec2.describe_subnets(SubnetIds=[spec.subnet_id])["Subnets"]
        else:
            offered = {
                o["Location"]
                for o in ec2.describe_instance_type_offerings(
                    LocationType="availability-zone",
                    Filters=[{"Name": "instance-type", "Values": [spec.instance_type]}],
                )["InstanceTypeOfferings"]
            }
            subnets = [
                s
                for s in ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])[
                    "Subnets"
                ]
                if s["AvailabilityZone"] in offered
            ]
        if not subnets:
            raise AmiBuildError(
                f"no default-VPC subnet in {spec.build_region} offers {spec.instance_type}; set subnet_id in "
                "the spec to a subnet that reaches SSM"
            )
        subnet = max(subnets, key=lambda s: (s["AvailableIpAddressCount"], s["SubnetId"]))
        state.subnet_id, state.vpc_id = subnet["SubnetId"], subnet["VpcId"]
        state.emit(BuildEvent("info", self.name, f"{subnet['SubnetId']} in {subnet['AvailabilityZone']}"))
        route = _ssm_route(ec2, subnet, spec.build_region)
        if route == "internet-gateway" and not subnet.get("MapPublicIpOnLaunch", False):
            # Without a public IP an instance behind an internet gateway reaches nothing, SSM included.
            state.associate_public_ip = True
        elif route is None:
            state.emit(
                BuildEvent(
                    "warning",
                    self.name,
                    f"{subnet['SubnetId']} has no default route and no ssm, ssmmessages and ec2messages "
                    "endpoints; the SSM agent will not register unless a proxy or other route reaches SSM",
                )
            )


def _ssm_route(ec2: Any, subnet: dict[str, Any], region: str) -> str | None:
    """How an instance in ``subnet`` reaches the SSM endpoints: ``internet-gateway``, ``nat``, ``endpoints``.

    None means no way was found; the build still runs (a proxy may exist), with a warning.
    """
    tables = ec2.describe_route_tables(
        Filters=[{"Name": "association.subnet-id", "Values": [subnet["SubnetId"]]}]
    )["RouteTables"]
    if not tables:
        # A subnet without its own association uses the VPC's main route table.
        tables = ec2.describe_route_tables(
            Filters=[
                {"Name": "vpc-id", "Values": [subnet["VpcId"]]},
                {"Name": "association.main", "Values": ["true"]},
            ]
        )["RouteTables"]
    for route in (r for t in tables for r in t.get("Routes", [])):
        if route.get("DestinationCidrBlock") != "0.0.0.0/0" or route.get("State") == "blackhole":
            continue
        if str(route.get("GatewayId", "")).startswith("igw-"):
            return "internet-gateway"
        return "nat"  # a NAT gateway, NAT instance, transit gateway or peering: no public IP needed
    services = {
        e["ServiceName"].rsplit(".", 1)[-1]
        for e in ec2.describe_vpc_endpoints(
            Filters=[
                {"Name": "vpc-id", "Values": [subnet["VpcId"]]},
                {"Name": "service-name", "Values": [f"com.amazonaws.{region}.{s}" for s in _SSM_ENDPOINTS]},
            ]
        )["VpcEndpoints"]
        if e.get("State", "available").lower() == "available"
    }
    return "endpoints" if services >= set(_SSM_ENDPOINTS) else None
