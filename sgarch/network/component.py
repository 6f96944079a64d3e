"""The ``Network`` component: a VPC over N availability zones, or an existing VPC brought by the user.

What it creates, for ``Network("sg", NetworkArgs())``:

- ``sg-vpc``: the VPC (DNS support and DNS hostnames on, both needed by interface endpoints);
- ``sg-default-sg``: the VPC's default security group, emptied so nothing can use it by accident;
- ``sg-private-<i>`` / ``sg-public-<i>``: one private and one public subnet per zone ``i`` (0-based);
- ``sg-igw``, ``sg-public-rt`` and its default route: only when there are public subnets;
- ``sg-private-rt-<i>``: one route table per private subnet, so switching NAT strategy changes routes,
  never route tables;
- ``sg-nat-<i>`` and ``sg-nat-eip-<i>``: one NAT gateway (``SINGLE``) or one per zone (``ONE_PER_AZ``);
- ``sg-s3``: an S3 gateway endpoint (free; image pulls and backups stay off the NAT);
- ``sg-endpoints-sg`` and ``sg-<service>``: interface endpoints, when asked, reachable on 443 from the VPC.

With ``vpc_id`` and ``private_subnet_ids`` it creates no VPC, subnet, gateway or route: only the interface
endpoints you ask for (and their security group), in your private subnets.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws
from pydantic import Field, model_validator

from sgarch.errors import ConfigError
from sgarch.naming import child_name, merge_tags, validate_tags
from sgarch.network.layout import MAX_AZ_COUNT, NetworkLayout, plan_layout
from sgarch.validation import ArgsModel

__all__ = ["INTERFACE_ENDPOINT_SERVICES", "SSM_ENDPOINT_SERVICES", "NatStrategy", "Network", "NetworkArgs"]

INTERFACE_ENDPOINT_SERVICES = (
    "ssm",
    "ssmmessages",
    "ec2messages",
    "ecr.api",
    "ecr.dkr",
    "logs",
    "monitoring",
    "sts",
)
"""Interface endpoints the Network can create (AWS service names after ``com.amazonaws.<region>.``).
``monitoring`` is CloudWatch metrics: without NAT, the instance's CloudWatch agent publishes the data-disk
metric its alarm watches through it."""

SSM_ENDPOINT_SERVICES = ("ssm", "ssmmessages", "ec2messages")
"""The three endpoints Session Manager needs to reach instances in subnets without NAT."""

_TYPE = "sgarch:network:Network"
# Tags the AWS load balancer controller reads to pick subnets for internet-facing and internal ELBs.
_PUBLIC_ELB_TAG = {"kubernetes.io/role/elb": "1"}
_PRIVATE_ELB_TAG = {"kubernetes.io/role/internal-elb": "1"}
# Fields that only shape a VPC sgarch creates; with vpc_id they would silently do nothing.
_LAYOUT_FIELDS = (
    "vpc_cidr",
    "az_count",
    "availability_zones",
    "private_subnet_prefix_length",
    "public_subnet_prefix_length",
    "private_only",
    "nat_strategy",
)


class NatStrategy(str, enum.Enum):
    """How private subnets reach the internet.

    ``NONE``: they do not (use interface endpoints); ``SINGLE``: one NAT gateway for all zones (cheap, one
    zone's outage cuts egress); ``ONE_PER_AZ``: one per zone (survives a zone outage, costs N times more).
    """

    NONE = "none"
    SINGLE = "single"
    ONE_PER_AZ = "one_per_az"


class NetworkArgs(ArgsModel):
    """Arguments of :class:`Network`. Fields that choose resources are plain values; ids are Pulumi inputs."""

    vpc_cidr: str = "10.0.0.0/16"
    """The VPC's IPv4 block, /16 to /28. Default: ``10.0.0.0/16``."""

    az_count: int = Field(default=2)
    """How many availability zones to span, 1 to 6. Default: 2, the first two available zones."""

    availability_zones: tuple[str, ...] | None = None
    """Zone names to use instead of the first ``az_count`` available ones. Default: looked up."""

    private_subnet_prefix_length: int | None = None
    """Prefix length of each private subnet. Default: the VPC's plus 3 (``/19`` in a ``/16``)."""

    public_subnet_prefix_length: int | None = None
    """Prefix length of each public subnet. Default: the VPC's plus 6 (``/22`` in a ``/16``)."""

    private_only: bool = False
    """No public subnets, no internet gateway and no NAT: nothing in the VPC is reachable from or reaches
    the internet. Default: off."""

    nat_strategy: NatStrategy | None = None
    """NAT for private subnets. Default: ``SINGLE`` (one gateway, about $33 a month), ``NONE`` when
    ``private_only``."""

    s3_gateway_endpoint: bool = True
    """Create the S3 gateway endpoint (free) on every route table. Default: on; off for a brought VPC."""

    interface_endpoints: tuple[str, ...] = ()
    """Interface endpoints to create, from ``INTERFACE_ENDPOINT_SERVICES``, with private DNS and a
    security group allowing 443 from the VPC only. Default: none (each costs about $7 a month per zone)."""

    vpc_id: Any = None
    """``pulumi.Input[str]``: an existing VPC to use instead of creating one. Default: create a VPC."""

    private_subnet_ids: Any = None
    """``pulumi.Input[Sequence[str]]``: private subnets of ``vpc_id``; required with it."""

    public_subnet_ids: Any = None
    """``pulumi.Input[Sequence[str]]``: public subnets of ``vpc_id``. Default: none."""

    tags: dict[str, str] = Field(default_factory=dict)
    """Tags for every resource, on top of which each gets a ``Name``. Default: none."""

    @property
    def bring_your_own(self) -> bool:
        """Whether an existing VPC is used."""
        return self.vpc_id is not None

    @property
    def effective_nat_strategy(self) -> NatStrategy:
        """The NAT strategy after defaults: ``NONE`` for private-only or brought VPCs, else ``SINGLE``."""
        if self.bring_your_own or self.private_only:
            return NatStrategy.NONE
        return self.nat_strategy or NatStrategy.SINGLE

    @property
    def effective_az_count(self) -> int:
        """How many zones the created VPC spans."""
        return len(self.availability_zones) if self.availability_zones is not None else self.az_count

    @model_validator(mode="after")
    def _valid_when_built(self) -> NetworkArgs:
        # The README promises a ConfigError from the Args themselves, not only once Network runs.
        self.check()
        return self

    def check(self) -> NetworkLayout | None:
        """Validate the combination of fields; return the subnet layout (None for a brought VPC).

        Raises ConfigError naming the first offending field. :class:`Network` calls this before it
        registers anything.
        """
        validate_tags(self.tags)
        for service in self.interface_endpoints:
            if service not in INTERFACE_ENDPOINT_SERVICES:
                raise ConfigError(
                    "interface_endpoints",
                    f"a subset of {', '.join(INTERFACE_ENDPOINT_SERVICES)}",
                    service,
                    "remove it or check its spelling",
                )
        if len(set(self.interface_endpoints)) != len(self.interface_endpoints):
            raise ConfigError(
                "interface_endpoints", "free of duplicates", list(self.interface_endpoints), "list each once"
            )
        if self.bring_your_own:
            self._check_bring_your_own()
            return None
        if self.private_subnet_ids is not None or self.public_subnet_ids is not None:
            field = "private_subnet_ids" if self.private_subnet_ids is not None else "public_subnet_ids"
            raise ConfigError("vpc_id", f"set when {field} is", None, "give the VPC the subnets belong to")
        if self.private_only and self.nat_strategy not in (None, NatStrategy.NONE):
            raise ConfigError(
                "nat_strategy",
                "none with private_only",
                self.nat_strategy.value if self.nat_strategy else None,
                "a private-only VPC has no public subnet to hold a NAT gateway",
            )
        if self.availability_zones is not None:
            zones = list(self.availability_zones)
            if not 1 <= len(zones) <= MAX_AZ_COUNT or len(set(zones)) != len(zones):
                raise ConfigError(
                    "availability_zones",
                    f"1 to {MAX_AZ_COUNT} distinct zone names",
                    zones,
                    "list each zone once",
                )
            if "az_count" in self.model_fields_set and self.az_count != len(zones):
                raise ConfigError(
                    "az_count",
                    f"{len(zones)} (the number of availability_zones) or unset",
                    self.az_count,
                    "drop az_count when listing zones",
                )
        return plan_layout(
            self.vpc_cidr,
            self.effective_az_count,
            public=not self.private_only,
            private_prefix_length=self.private_subnet_prefix_length,
            public_prefix_length=self.public_subnet_prefix_length,
        )

    def _check_bring_your_own(self) -> None:
        ids = self.private_subnet_ids
        if ids is None or (isinstance(ids, (list, tuple)) and len(ids) == 0):
            raise ConfigError(
                "private_subnet_ids",
                "at least one subnet id with vpc_id",
                ids,
                "list the VPC's private subnets",
            )
        for field in _LAYOUT_FIELDS:
            if field in self.model_fields_set:
                raise ConfigError(
                    field, "unset with vpc_id", getattr(self, field), "it shapes only a VPC sgarch creates"
                )
        if "s3_gateway_endpoint" in self.model_fields_set and self.s3_gateway_endpoint:
            raise ConfigError(
                "s3_gateway_endpoint",
                "false with vpc_id",
                True,
                "sgarch does not know a brought VPC's route tables; add the endpoint to your VPC yourself",
            )


class Network(pulumi.ComponentResource):
    """A VPC with private (and public) subnets over N zones, NAT and endpoints; or an existing VPC.

    Outputs: ``vpc_id``, ``vpc_cidr``, ``private_subnet_ids``, ``public_subnet_ids`` (empty when there
    are none) and ``availability_zones``.
    """

    vpc_id: pulumi.Output[str]
    vpc_cidr: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]
    public_subnet_ids: pulumi.Output[list[str]]
    availability_zones: pulumi.Output[list[str]]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        layout = args.check()
        super().__init__(_TYPE, name, None, opts)
        self._name = name
        self._args = args
        self._tags = validate_tags(args.tags)
        child = pulumi.ResourceOptions(parent=self)

        if layout is None:
            self._adopt(args)
        else:
            self._create(layout, args, child)

        if args.interface_endpoints:
            self._interface_endpoints(args, child)

        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "vpc_cidr": self.vpc_cidr,
                "private_subnet_ids": self.private_subnet_ids,
                "public_subnet_ids": self.public_subnet_ids,
                "availability_zones": self.availability_zones,
            }
        )

    # -- helpers ---------------------------------------------------------------------------------------

    def _n(self, *parts: str | int) -> str:
        return child_name(self._name, *parts)

    def _tagged(self, name: str, *extra: dict[str, str]) -> dict[str, str]:
        return merge_tags(self._tags, *extra, {"Name": name})

    def _adopt(self, args: NetworkArgs) -> None:
        self.vpc_id = pulumi.Output.from_input(args.vpc_id)
        vpc = aws.ec2.get_vpc_output(id=self.vpc_id, opts=pulumi.InvokeOutputOptions(parent=self))
        self.vpc_cidr = vpc.cidr_block
        self.private_subnet_ids = pulumi.Output.from_input(args.private_subnet_ids).apply(list)
        self.public_subnet_ids = pulumi.Output.from_input(args.public_subnet_ids or []).apply(list)
        self.availability_zones = pulumi.Output.from_input([])

    def _create(self, layout: NetworkLayout, args: NetworkArgs, child: pulumi.ResourceOptions) -> None:
        zones: pulumi.Output[list[str]]
        if args.availability_zones is not None:
            zones = pulumi.Output.from_input(list(args.availability_zones))
        else:
            count = args.effective_az_count
            # Only the region's own zones: Local and Wavelength Zones (opt-in) lack services a VPC layout
            # assumes, such as NAT gateways and most instance types.
            found = aws.get_availability_zones_output(
                state="available",
                filters=[
                    aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])
                ],
                opts=pulumi.InvokeOutputOptions(parent=self),
            )
            zones = found.names.apply(lambda names: _first_zones(names, count))

        vpc = aws.ec2.Vpc(
            self._n("vpc"),
            cidr_block=layout.vpc_cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags=self._tagged(self._n("vpc")),
            opts=child,
        )
        # An empty default security group: AWS's default one allows all traffic between its members.
        aws.ec2.DefaultSecurityGroup(
            self._n("default-sg"), vpc_id=vpc.id, tags=self._tagged(self._n("default-sg")), opts=child
        )

        private = [
            aws.ec2.Subnet(
                self._n("private", plan.az_index),
                vpc_id=vpc.id,
                cidr_block=plan.cidr,
                availability_zone=zones[plan.az_index],
                map_public_ip_on_launch=False,
                tags=self._tagged(self._n("private", plan.az_index), _PRIVATE_ELB_TAG),
                opts=child,
            )
            for plan in layout.private
        ]
        public = [
            aws.ec2.Subnet(
                self._n("public", plan.az_index),
                vpc_id=vpc.id,
                cidr_block=plan.cidr,
                availability_zone=zones[plan.az_index],
                # Load balancers get their own addresses; instances in public subnets should not.
                map_public_ip_on_launch=False,
                tags=self._tagged(self._n("public", plan.az_index), _PUBLIC_ELB_TAG),
                opts=child,
            )
            for plan in layout.public
        ]

        route_tables: list[aws.ec2.RouteTable] = []
        igw: aws.ec2.InternetGateway | None = None
        if public:
            igw = aws.ec2.InternetGateway(
                self._n("igw"), vpc_id=vpc.id, tags=self._tagged(self._n("igw")), opts=child
            )
            public_rt = aws.ec2.RouteTable(
                self._n("public-rt"), vpc_id=vpc.id, tags=self._tagged(self._n("public-rt")), opts=child
            )
            aws.ec2.Route(
                self._n("public-default-route"),
                route_table_id=public_rt.id,
                destination_cidr_block="0.0.0.0/0",
                gateway_id=igw.id,
                opts=child,
            )
            for i, subnet in enumerate(public):
                aws.ec2.RouteTableAssociation(
                    self._n("public", i, "rta"), subnet_id=subnet.id, route_table_id=public_rt.id, opts=child
                )
            route_tables.append(public_rt)

        nat_strategy = args.effective_nat_strategy
        nat_count = {NatStrategy.NONE: 0, NatStrategy.SINGLE: 1, NatStrategy.ONE_PER_AZ: len(public)}[
            nat_strategy
        ]
        nats: list[aws.ec2.NatGateway] = []
        for i in range(nat_count):
            eip = aws.ec2.Eip(
                self._n("nat-eip", i), domain="vpc", tags=self._tagged(self._n("nat-eip", i)), opts=child
            )
            nats.append(
                aws.ec2.NatGateway(
                    self._n("nat", i),
                    allocation_id=eip.id,
                    subnet_id=public[i].id,
                    connectivity_type="public",
                    tags=self._tagged(self._n("nat", i)),
                    # A public NAT gateway needs the internet gateway attached first; nothing else orders them.
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw] if igw is not None else []),
                )
            )

        for i, subnet in enumerate(private):
            rt = aws.ec2.RouteTable(
                self._n("private-rt", i),
                vpc_id=vpc.id,
                tags=self._tagged(self._n("private-rt", i)),
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                self._n("private", i, "rta"), subnet_id=subnet.id, route_table_id=rt.id, opts=child
            )
            if nats:
                aws.ec2.Route(
                    self._n("private", i, "nat-route"),
                    route_table_id=rt.id,
                    destination_cidr_block="0.0.0.0/0",
                    nat_gateway_id=nats[i if len(nats) > 1 else 0].id,
                    opts=child,
                )
            route_tables.append(rt)

        if args.s3_gateway_endpoint:
            region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region
            aws.ec2.VpcEndpoint(
                self._n("s3"),
                vpc_id=vpc.id,
                service_name=region.apply(lambda r: f"com.amazonaws.{r}.s3"),
                vpc_endpoint_type="Gateway",
                route_table_ids=[rt.id for rt in route_tables],
                tags=self._tagged(self._n("s3")),
                opts=child,
            )

        self.vpc_id = vpc.id
        self.vpc_cidr = vpc.cidr_block
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private]).apply(list)
        self.public_subnet_ids = (
            pulumi.Output.all(*[s.id for s in public]).apply(list) if public else pulumi.Output.from_input([])
        )
        self.availability_zones = zones

    def _interface_endpoints(self, args: NetworkArgs, child: pulumi.ResourceOptions) -> None:
        sg = aws.ec2.SecurityGroup(
            self._n("endpoints-sg"),
            vpc_id=self.vpc_id,
            description="HTTPS from inside the VPC to its interface endpoints",
            tags=self._tagged(self._n("endpoints-sg")),
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            self._n("endpoints-https"),
            security_group_id=sg.id,
            cidr_ipv4=self.vpc_cidr,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            description="HTTPS from the VPC",
            tags=self._tagged(self._n("endpoints-https")),
            opts=child,
        )
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region
        for service in args.interface_endpoints:
            name = self._n(service.replace(".", "-"))
            aws.ec2.VpcEndpoint(
                name,
                vpc_id=self.vpc_id,
                service_name=region.apply(_service_name(service)),
                vpc_endpoint_type="Interface",
                subnet_ids=self.private_subnet_ids,
                security_group_ids=[sg.id],
                private_dns_enabled=True,
                tags=self._tagged(name),
                opts=child,
            )


def _service_name(service: str) -> Callable[[str], str]:
    return lambda region: f"com.amazonaws.{region}.{service}"


def _first_zones(names: Sequence[str], count: int) -> list[str]:
    if len(names) < count:
        raise ConfigError(
            "az_count",
            f"at most {len(names)}, the zones available in this region",
            count,
            "lower az_count or choose another region",
        )
    return list(names[:count])
