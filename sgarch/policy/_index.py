"""Lookups the rules share: references between resources, public subnets, security groups of ALBs.

Everything here reads recorded inputs and outputs only; it never calls AWS.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from sgarch.validation import WORLD_CIDRS

if TYPE_CHECKING:
    from sgarch.testing import ResourceRecord

__all__ = ["WORLD_CIDRS", "Resources", "as_bool", "as_float", "policy_statements"]


SUBNET = "aws:ec2/subnet:Subnet"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ROUTE_TABLE_ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
INTERNET_GATEWAY = "aws:ec2/internetGateway:InternetGateway"
LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
LISTENERS = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")


def as_bool(value: Any) -> bool | None:
    """A recorded boolean (launch templates carry ``"true"``/``"false"`` strings); None when unset."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def as_float(value: Any) -> float | None:
    """A recorded number (floats under the engine) or None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _listify(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def policy_statements(document: Any) -> list[dict[str, Any]]:
    """The statements of an IAM policy document given as JSON text or as a dict; [] when unreadable."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return []
    if not isinstance(document, dict):
        return []
    return [s for s in _listify(document.get("Statement")) if isinstance(s, dict)]


class Resources:
    """The recorded resources a policy evaluates: real AWS resources only (no components, providers or
    resources that are only read)."""

    def __init__(self, records: Iterable[ResourceRecord]) -> None:
        self.records = [r for r in records if r.custom and not r.read and not r.type.startswith("pulumi:")]
        self._public_subnets: frozenset[str] | None = None

    def __iter__(self) -> Iterator[ResourceRecord]:
        return iter(self.records)

    def of_type(self, *types: str) -> list[ResourceRecord]:
        """Every resource of any of ``types``, in plan order."""
        return [r for r in self.records if r.type in types]

    @staticmethod
    def ids(record: ResourceRecord) -> set[str]:
        """What other resources use to refer to ``record``: its id, ARN, name (and bucket name)."""
        found = {record.id} if record.id else set()
        for key in ("id", "arn", "name", "bucket"):
            value = record.outputs.get(key)
            if isinstance(value, str) and value:
                found.add(value)
        return found

    def referencing(self, target: ResourceRecord, type_: str, field: str) -> list[ResourceRecord]:
        """Resources of ``type_`` whose input ``field`` (a value or a list) names ``target``."""
        keys = self.ids(target)
        return [r for r in self.of_type(type_) if keys & {str(v) for v in _listify(r.inputs.get(field))}]

    def resolve(self, value: Any, *types: str) -> ResourceRecord | None:
        """The resource of one of ``types`` that ``value`` (an id, ARN or name) refers to."""
        if not isinstance(value, str) or not value:
            return None
        for record in self.of_type(*types):
            if value in self.ids(record):
                return record
        return None

    # -- network ------------------------------------------------------------------------------------------

    def public_subnet_ids(self) -> frozenset[str]:
        """Subnets that map public IPs on launch or route 0.0.0.0/0 to an internet gateway."""
        if self._public_subnets is not None:
            return self._public_subnets
        igws = {i for r in self.of_type(INTERNET_GATEWAY) for i in self.ids(r)}

        def to_igw(gateway: Any) -> bool:
            return isinstance(gateway, str) and (gateway in igws or gateway.startswith("igw-"))

        public_tables: set[str] = set()
        for route in self.of_type(ROUTE):
            inputs = route.inputs
            world = {inputs.get("destinationCidrBlock"), inputs.get("destinationIpv6CidrBlock")} & WORLD_CIDRS
            if world and to_igw(inputs.get("gatewayId")):
                public_tables.add(str(inputs.get("routeTableId")))
        for table in self.of_type(ROUTE_TABLE):
            for route in table.inputs.get("routes") or []:
                if to_igw(route.get("gatewayId")) and (
                    route.get("cidrBlock") in WORLD_CIDRS or route.get("ipv6CidrBlock") in WORLD_CIDRS
                ):
                    public_tables |= self.ids(table)
        public: set[str] = set()
        for assoc in self.of_type(ROUTE_TABLE_ASSOCIATION):
            if str(assoc.inputs.get("routeTableId")) in public_tables and assoc.inputs.get("subnetId"):
                public.add(str(assoc.inputs["subnetId"]))
        for subnet in self.of_type(SUBNET):
            if as_bool(subnet.inputs.get("mapPublicIpOnLaunch")) or self.ids(subnet) & public:
                public |= self.ids(subnet)
        self._public_subnets = frozenset(public)
        return self._public_subnets

    def load_balancers_with_group(self, group_id: str) -> list[ResourceRecord]:
        """Load balancers that use security group ``group_id``."""
        return [
            lb
            for lb in self.of_type(*LOAD_BALANCERS)
            if group_id in {str(g) for g in _listify(lb.inputs.get("securityGroups"))}
        ]

    def listeners_of(self, load_balancer: ResourceRecord) -> list[ResourceRecord]:
        """Listeners attached to ``load_balancer``."""
        keys = self.ids(load_balancer)
        return [r for r in self.of_type(*LISTENERS) if str(r.inputs.get("loadBalancerArn")) in keys]
