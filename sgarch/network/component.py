"""The ``Network`` component: a VPC over N availability zones, or an existing VPC brought by the user.

What it creates, for ``Network("sg", NetworkArgs())``:

- ``sg-vpc``: the VPC (DNS support and DNS hostnames on, both needed by interface endpoints);
- ``sg-default-sg``: the VPC's default security group, emptied so nothing can use it by accident;
- ``sg-private-<i>`` / ``sg-public-<i>``: one private and one public subnet per zone ``i`` (0-based), placed by
  zone id (see "Zones" below);
- ``sg-igw``, ``sg-public-rt`` and its default route: only when there are public subnets;
- ``sg-private-rt-<i>``: one route table per private subnet, so switching NAT strategy changes routes,
  never route tables;
- ``sg-nat-<i>`` and ``sg-nat-eip-<i>``: one NAT gateway (``SINGLE``) or one per zone (``ONE_PER_AZ``);
- ``sg-s3``: an S3 gateway endpoint (free; image pulls and backups stay off the NAT);
- ``sg-endpoints-sg`` and ``sg-<service>``: interface endpoints, when asked, reachable on 443 from the VPC.

With ``vpc_id`` and ``private_subnet_ids`` it creates no VPC, subnet, gateway or route: only the interface
endpoints you ask for (and their security group), in your private subnets.

Zones: a created VPC spans the first ``az_count`` zones of the region that offer every interface endpoint
service it creates or ``required_endpoint_services`` names, and every type of ``required_instance_types`` (and,
with ``eks_cluster``, where EKS can place a control plane), or the zones ``availability_zone_ids`` pins.
Subnets are placed by zone id, which names the same physical zone in every account, and the ids are an
output (``availability_zone_ids``) so a stack can pin them. Once a subnet exists its zone is never changed by
a later lookup: see :meth:`Network._subnet`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pulumi
import pulumi_aws as aws

from sgarch.component import Component
from sgarch.network.args import INTERFACE_ENDPOINT_SERVICES, SSM_ENDPOINT_SERVICES, NatStrategy, NetworkArgs
from sgarch.network.checks import live_cidr_blocks
from sgarch.network.layout import NetworkLayout
from sgarch.network.zones import Zone, choose_zones

__all__ = ["INTERFACE_ENDPOINT_SERVICES", "SSM_ENDPOINT_SERVICES", "NatStrategy", "Network", "NetworkArgs"]

_TYPE = "sgarch:network:Network"
# Tags the AWS load balancer controller reads to pick subnets for internet-facing and internal ELBs.
_PUBLIC_ELB_TAG = {"kubernetes.io/role/elb": "1"}
_PRIVATE_ELB_TAG = {"kubernetes.io/role/internal-elb": "1"}


class Network(Component):
    """A VPC with private (and public) subnets over N zones, NAT and endpoints; or an existing VPC.

    Outputs: ``vpc_id``, ``vpc_cidr``, ``private_subnet_ids``, ``public_subnet_ids`` (empty when there
    are none), ``availability_zones`` and ``availability_zone_ids`` (the zones of the private subnets; empty
    for a brought VPC), ``vpc_cidrs`` (every IPv4 block of the VPC, primary first). ``private_route_table_ids`` (one per private subnet, in the same
    order; empty for a brought VPC) lets a composition add routes, such as to a transit gateway.
    """

    vpc_id: pulumi.Output[str]
    vpc_cidr: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]
    private_route_table_ids: pulumi.Output[list[str]]
    public_subnet_ids: pulumi.Output[list[str]]
    availability_zones: pulumi.Output[list[str]]
    availability_zone_ids: pulumi.Output[list[str]]
    vpc_cidrs: pulumi.Output[list[str]]

    ARCHITECTURE = "network"

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        layout = args.check()
        super().__init__(_TYPE, name, args, opts)
        self._args = args
        child = self._opts()

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
                "availability_zone_ids": self.availability_zone_ids,
                "vpc_cidrs": self.vpc_cidrs,
            }
        )

    # -- helpers ---------------------------------------------------------------------------------------

    def _adopt(self, args: NetworkArgs) -> None:
        self.vpc_id = pulumi.Output.from_input(args.vpc_id)
        if isinstance(args.vpc_id, str):
            # A plain id (the stacks' case) is looked up now, so the endpoints' security group gets one rule
            # per block of the VPC: hosts in a secondary block reach the endpoints too.
            found = aws.ec2.get_vpc(id=args.vpc_id, opts=pulumi.InvokeOptions(parent=self))
            cidrs = live_cidr_blocks(found)
            self.vpc_cidr = pulumi.Output.from_input(cidrs[0])
            self.vpc_cidrs = pulumi.Output.from_input(list(cidrs))
            self._endpoint_cidrs: list[pulumi.Input[str]] = list(cidrs)
        else:
            # An Output id is known only at deployment: the count of rules cannot depend on it, so only the
            # primary block is admitted.
            vpc = aws.ec2.get_vpc_output(id=self.vpc_id, opts=pulumi.InvokeOutputOptions(parent=self))
            self.vpc_cidr = vpc.cidr_block
            self.vpc_cidrs = vpc.apply(lambda v: list(live_cidr_blocks(v)))
            self._endpoint_cidrs = [self.vpc_cidr]
        self.private_subnet_ids = pulumi.Output.from_input(args.private_subnet_ids).apply(list)
        self.public_subnet_ids = pulumi.Output.from_input(args.public_subnet_ids or []).apply(list)
        self.availability_zones = pulumi.Output.from_input([])
        self.availability_zone_ids = pulumi.Output.from_input([])
        self.private_route_table_ids = pulumi.Output.from_input([])

    def _create(self, layout: NetworkLayout, args: NetworkArgs, child: pulumi.ResourceOptions) -> None:
        # Looked up synchronously, so a region without enough suitable zones fails before any resource.
        zones = find_zones(
            args.effective_az_count,
            endpoint_services=(*args.interface_endpoints, *args.required_endpoint_services),
            instance_types=args.required_instance_types,
            zone_ids=args.availability_zone_ids,
            zone_names=args.availability_zones,
            eks_control_plane=args.eks_cluster,
            opts=pulumi.InvokeOptions(parent=self),
        )

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
            self._subnet("private", plan.az_index, vpc, plan.cidr, zones[plan.az_index], _PRIVATE_ELB_TAG)
            for plan in layout.private
        ]
        public = [
            self._subnet("public", plan.az_index, vpc, plan.cidr, zones[plan.az_index], _PUBLIC_ELB_TAG)
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
        self.availability_zones = pulumi.Output.all(*[s.availability_zone for s in private]).apply(list)
        self.availability_zone_ids = pulumi.Output.all(*[s.availability_zone_id for s in private]).apply(list)
        self.vpc_cidrs = pulumi.Output.from_input([layout.vpc_cidr])
        self._endpoint_cidrs = [self.vpc_cidr]
        # The public route table comes first in route_tables when there is one.
        self.private_route_table_ids = pulumi.Output.all(
            *[rt.id for rt in route_tables[-len(private) :]]
        ).apply(list)

    def _subnet(
        self, kind: str, index: int, vpc: aws.ec2.Vpc, cidr: str, zone: Zone, tags: dict[str, str]
    ) -> aws.ec2.Subnet:
        name = self._n(kind, index)
        return aws.ec2.Subnet(
            name,
            vpc_id=vpc.id,
            cidr_block=cidr,
            availability_zone_id=zone.zone_id,
            # Load balancers get their own addresses; instances in public subnets should not.
            map_public_ip_on_launch=False,
            tags=self._tagged(name, tags),
            # A subnet's zone cannot change in place: a new answer from the zone lookup (a zone added to the
            # region, an offering withdrawn, or this release moving from zone names to ids) would replace the
            # subnet and everything in it: the instance, the data volume's attachment, the ALB's subnets. The
            # zone is therefore decided once, when the subnet is created. To move a VPC on purpose, replace
            # its subnets explicitly (pulumi up --replace).
            opts=pulumi.ResourceOptions(
                parent=self, ignore_changes=["availability_zone", "availability_zone_id"]
            ),
        )

    def _interface_endpoints(self, args: NetworkArgs, child: pulumi.ResourceOptions) -> None:
        sg = aws.ec2.SecurityGroup(
            self._n("endpoints-sg"),
            vpc_id=self.vpc_id,
            description="HTTPS from inside the VPC to its interface endpoints",
            tags=self._tagged(self._n("endpoints-sg")),
            opts=child,
        )
        # One rule per block of the VPC: a host in a secondary block would otherwise time out on every AWS API
        # call that private DNS sends to the endpoints. The first rule keeps its original name.
        for i, cidr in enumerate(self._endpoint_cidrs):
            rule = self._n("endpoints-https") if i == 0 else self._n("endpoints-https", i)
            aws.vpc.SecurityGroupIngressRule(
                rule,
                security_group_id=sg.id,
                cidr_ipv4=cidr,
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                description="HTTPS from the VPC" if i == 0 else "HTTPS from a secondary block of the VPC",
                tags=self._tagged(rule),
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


def find_zones(
    count: int,
    *,
    endpoint_services: Sequence[str] = (),
    instance_types: Sequence[str] = (),
    zone_ids: Sequence[str] | None = None,
    zone_names: Sequence[str] | None = None,
    eks_control_plane: bool = False,
    opts: pulumi.InvokeOptions | None = None,
) -> tuple[Zone, ...]:
    """Look up the region's zones and what each offers, then :func:`sgarch.network.zones.choose_zones`.

    ``endpoint_services`` are interface endpoint services (``ssm``, ``ecr.api``...), ``instance_types`` EC2
    types (``m6a.xlarge``); a zone must offer all of them, and with ``eks_control_plane`` also be one where
    EKS can place a cluster's control plane. The lookups live here, beside the only component that needs
    them, so that :mod:`sgarch.network.zones` stays free of Pulumi.
    """
    # Only the region's own zones: Local and Wavelength Zones (opt-in) lack services a VPC layout assumes,
    # such as NAT gateways and most instance types.
    found = aws.get_availability_zones(
        state="available",
        filters=[aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])],
        opts=opts,
    )
    available = [Zone(n, i) for n, i in zip(found.names, found.zone_ids, strict=True)]
    lacking: dict[str, list[str]] = {}
    for service in endpoint_services:
        offered = aws.ec2.get_vpc_endpoint_service(service=service, service_type="Interface", opts=opts)
        for zone in available:
            if zone.name not in offered.availability_zones:
                lacking.setdefault(zone.zone_id, []).append(f"the {service} endpoint service")
    if instance_types:
        offerings = aws.ec2.get_instance_type_offerings(
            location_type="availability-zone-id",
            filters=[
                aws.ec2.GetInstanceTypeOfferingsFilterArgs(name="instance-type", values=list(instance_types))
            ],
            opts=opts,
        )
        pairs = set(zip(offerings.instance_types, offerings.locations, strict=True))
        for zone in available:
            for instance_type in instance_types:
                if (instance_type, zone.zone_id) not in pairs:
                    lacking.setdefault(zone.zone_id, []).append(instance_type)
    return choose_zones(
        available,
        lacking,
        count,
        zone_ids=zone_ids,
        zone_names=zone_names,
        eks_control_plane=eks_control_plane,
    )


def _service_name(service: str) -> Callable[[str], str]:
    return lambda region: f"com.amazonaws.{region}.{service}"
