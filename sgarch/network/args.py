"""``NetworkArgs``: what the ``Network`` component builds, validated before anything is registered.

Split from the component so each file stays short; import both from :mod:`sgarch.network`.
"""

from __future__ import annotations

import enum
from typing import Any

from pydantic import Field, model_validator

from sgarch.errors import ConfigError
from sgarch.network.layout import MAX_AZ_COUNT, NetworkLayout, plan_layout
from sgarch.network.zones import check_eks_zone_ids
from sgarch.validation import ComponentArgs

__all__ = ["INTERFACE_ENDPOINT_SERVICES", "SSM_ENDPOINT_SERVICES", "NatStrategy", "NetworkArgs"]

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

# Fields that only shape a VPC sgarch creates; with vpc_id they would silently do nothing.
_LAYOUT_FIELDS = (
    "vpc_cidr",
    "az_count",
    "availability_zones",
    "availability_zone_ids",
    "required_instance_types",
    "required_endpoint_services",
    "eks_cluster",
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


class NetworkArgs(ComponentArgs):
    """Arguments of :class:`Network`. Fields that choose resources are plain values; ids are Pulumi inputs."""

    vpc_cidr: str = "10.0.0.0/16"
    """The VPC's IPv4 block, /16 to /28. Default: ``10.0.0.0/16``."""

    az_count: int = Field(default=2)
    """How many availability zones to span, 1 to 6. Default: 2, the first two available zones."""

    availability_zones: tuple[str, ...] | None = None
    """Zone names to use instead of the first ``az_count`` suitable ones. Names differ between accounts;
    prefer ``availability_zone_ids``. Default: looked up."""

    availability_zone_ids: tuple[str, ...] | None = None
    """Zone ids (``use1-az1``) to use instead of the first ``az_count`` suitable ones: pin the
    ``availability_zone_ids`` output of a first ``pulumi up`` here to keep a stack's zones explicit.
    Default: looked up."""

    required_instance_types: tuple[str, ...] = ()
    """EC2 instance types the stack will run in this VPC: zones that do not offer one of them are skipped.
    Default: none (every zone qualifies)."""

    required_endpoint_services: tuple[str, ...] = ()
    """Interface endpoint services (``ec2``, ``eks-auth``...) the stack will create endpoints for itself in this
    VPC, besides ``interface_endpoints``: zones that do not offer one of them are skipped, since an endpoint
    cannot have an interface in such a zone. Default: none."""

    eks_cluster: bool = False
    """The private subnets will hold an EKS cluster's control-plane interfaces: zones where EKS cannot place
    them (``EKS_UNSUPPORTED_ZONE_IDS``, such as use1-az3) are skipped, and refused in
    ``availability_zone_ids``. Default: off."""

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
    """``pulumi.Input[Sequence[str]]``: private subnets of ``vpc_id``; required with it.
    Default: none (a created VPC gets its own)."""

    public_subnet_ids: Any = None
    """``pulumi.Input[Sequence[str]]``: public subnets of ``vpc_id``. Default: none."""

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
        for zones in (self.availability_zone_ids, self.availability_zones):
            if zones is not None:
                return len(zones)
        return self.az_count

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
        if self.availability_zones is not None and self.availability_zone_ids is not None:
            raise ConfigError(
                "availability_zones",
                "unset with availability_zone_ids",
                list(self.availability_zones),
                "pin zones by id only; ids name the same zone in every account",
            )
        for field in ("availability_zone_ids", "availability_zones"):
            given = getattr(self, field)
            if given is None:
                continue
            zones = list(given)
            kind = "ids" if field == "availability_zone_ids" else "names"
            if not 1 <= len(zones) <= MAX_AZ_COUNT or len(set(zones)) != len(zones):
                raise ConfigError(
                    field, f"1 to {MAX_AZ_COUNT} distinct zone {kind}", zones, "list each zone once"
                )
            if self.eks_cluster and field == "availability_zone_ids":
                check_eks_zone_ids(field, zones)
            if "az_count" in self.model_fields_set and self.az_count != len(zones):
                raise ConfigError(
                    "az_count",
                    f"{len(zones)} (the number of {field}) or unset",
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
