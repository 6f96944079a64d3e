"""The single-node reference architecture: a network (created or brought) and one ``SingleNode``.

``stacks/single-node/__main__.py`` is three lines on top of :func:`deploy`; other programs can call it too.
"""

from __future__ import annotations

from typing import Any, Literal

import pulumi
from pydantic import ConfigDict, Field, model_validator

from sgarch.errors import ConfigError
from sgarch.naming import (
    IAM_ROLE_NAME,
    LOAD_BALANCER_NAME,
    S3_BUCKET_NAME,
    SECURITY_GROUP_NAME,
    TARGET_GROUP_NAME,
    check_autonamed,
)
from sgarch.network import (
    INTERFACE_ENDPOINT_SERVICES,
    NatStrategy,
    Network,
    NetworkArgs,
    check_brought_network,
)
from sgarch.refarch.config import WorkloadSettings, check_brought_vpc, check_zone_ids
from sgarch.single_node.args import DEFAULT_SOURCEGRAPH_VERSION, LoadBalancerArgs, SingleNodeArgs
from sgarch.single_node.component import SingleNode
from sgarch.sizing import estimate
from sgarch.tiers import TIERS, Tier
from sgarch.validation import build

__all__ = ["SingleNodeSettings", "deploy"]

ARCHITECTURE = "single-node"
"""The ``sgarch:architecture`` tag on every resource of the stack, the network's included."""


class SingleNodeSettings(WorkloadSettings):
    """The stack's config keys (``pulumi config set <key> <value>``). Every key is optional."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    tier: str | None = None
    """Size tier XS, S, M, L or XL. Default: the tier the workload needs, or XS without one; a tier below what
    the workload needs is an error, a larger one wins."""
    sourcegraph_version: str = DEFAULT_SOURCEGRAPH_VERSION
    """Sourcegraph release X.Y.Z. Changing it replaces the instance, never the data volume. Default: the
    release sgarch was tested with."""
    image: Literal["sgarch", "stock"] = "sgarch"
    """``sgarch`` (the sgarch AMI, with Docker and the images baked in) or ``stock`` (Amazon Linux 2023,
    installed at first boot). Default: sgarch."""
    ami_id: str | None = None
    """An explicit AMI id instead of the lookup. Default: the newest sgarch AMI of ``ami_owner`` for
    ``sourcegraph_version``, or the newest Amazon Linux 2023 AMI with ``image: stock``."""
    ami_owner: str = "self"
    """Account that owns the sgarch AMI (an account id, or ``self``). Default: self, this account."""
    instance_type: str | None = None
    """EC2 instance type. Default: the tier's recommended type."""
    data_volume_gib: int | None = None
    """Data volume size, GiB; it can only grow. Default: computed from the workload, at least 500 GiB (0 means
    not set)."""
    data_volume_snapshot_id: str | None = None
    """Create the data volume from this snapshot (POC promotion or restore). Default: an empty volume."""
    data_volume_kms_key_id: str | None = None
    """Customer KMS key ARN for the volumes. Default: the account's EBS key (encryption is always on)."""
    vpc_id: str | None = None
    """Bring your own VPC: its id, with ``subnet_ids``. Default: a new VPC."""
    subnet_ids: tuple[str, ...] = ()
    """Bring your own VPC: private subnets, one per zone; the first holds the instance, all of them an
    internal ALB. Checked before anything is created. Default: none (a new VPC's own)."""
    public_subnet_ids: tuple[str, ...] = ()
    """Bring your own VPC with an internet-facing ALB: public subnets (0.0.0.0/0 to an internet gateway), one
    per zone in two zones or more, one of them the instance's. Required then; checked before anything is
    created. Default: none."""
    vpc_cidr: str = "10.40.0.0/16"
    """CIDR of a new VPC. Default: 10.40.0.0/16."""
    az_count: int = 2
    """Availability zones of a new VPC. Default: 2 (an ALB needs two)."""
    availability_zone_ids: tuple[str, ...] = ()
    """Zone ids of a new VPC (``use1-az1``), as many as ``az_count``. Default: the first zones of the region
    that offer the instance type (and the endpoints); pin the ``availability_zone_ids`` output here."""
    nat: Literal["none", "single", "one_per_az"] = "single"
    """NAT for a new VPC's private subnets: ``none``, ``single`` or ``one_per_az``. Default: single, one NAT
    gateway (the instance pulls images and clones)."""
    interface_endpoints: bool = False
    """VPC interface endpoints for SSM, ECR, logs and STS in a new VPC. Default: off (NAT covers them)."""
    certificate_arn: str | None = None
    """ACM certificate ARN: turns on an ALB with HTTPS (internal unless ``internet_facing``). Default: no ALB;
    use SSM port forwarding."""
    internet_facing: bool = False
    """Make the ALB internet-facing (an explicit choice). Default: internal."""
    allowed_cidrs: tuple[str, ...] = ()
    """Who may reach the ALB. Default: every CIDR of the VPC, secondary ones included; an internet-facing ALB
    must name its CIDRs."""
    zone_id: str | None = None
    """Route53 hosted zone for an alias record to the ALB. Default: no record."""
    record_name: str | None = None
    """Alias record name, such as sourcegraph.example.com; required with ``zone_id``. Default: no record."""
    alb_access_logs: bool = True
    """ALB access logs in S3. Default: on (finding SGA-023 when off, unless suppressed)."""
    alb_access_logs_bucket: str | None = None
    """Existing bucket for the ALB's access logs (SSE-S3; its policy must let Elastic Load Balancing log
    delivery write ``AWSLogs/<account>/``). Default: a bucket the stack creates (private, TLS only, logs
    deleted after 90 days, kept on destroy)."""
    alb_deletion_protection: bool = True
    """ALB deletion protection. Default: on; turn it off (and pulumi up) before pulumi destroy."""
    alarm_topic_arn: str | None = None
    """SNS topic for the CPU and disk alarms. Default: none, alarms without notifications."""
    snapshot_retention_days: int = 7
    """Daily data-volume snapshots to keep. Default: 7."""
    tags: dict[str, str] = Field(default_factory=dict)
    """Extra tags on every resource (a map, set with ``pulumi config set --path``). Default: none."""

    @model_validator(mode="after")
    def _byo_network(self) -> SingleNodeSettings:
        check_brought_vpc(self.vpc_id, self.subnet_ids, 1, "list the private subnets to use")
        self._public_subnets()
        check_zone_ids(self.availability_zone_ids, self.vpc_id, self.az_count, "az_count")
        # An Application Load Balancer needs subnets in at least two availability zones.
        if self.certificate_arn and not self.internet_facing and self.vpc_id and len(self.subnet_ids) < 2:
            raise ConfigError(
                "subnet_ids",
                "two or more subnets in different zones with certificate_arn",
                list(self.subnet_ids),
                "add a private subnet in a second zone for the load balancer",
            )
        if self.certificate_arn and not self.vpc_id and self.az_count < 2:
            raise ConfigError(
                "az_count",
                "2 or more with certificate_arn",
                self.az_count,
                "the load balancer needs two zones",
            )
        return self

    @property
    def internet_facing_alb(self) -> bool:
        """Whether the stack creates an internet-facing ALB (it then sits in public subnets)."""
        return bool(self.certificate_arn and self.internet_facing)

    def _public_subnets(self) -> None:
        if self.public_subnet_ids and not self.vpc_id:
            raise ConfigError(
                "vpc_id", "set when public_subnet_ids is set", None, "give the VPC the subnets belong to"
            )
        if self.public_subnet_ids and not self.internet_facing_alb:
            raise ConfigError(
                "public_subnet_ids",
                "empty unless the load balancer is internet-facing (certificate_arn and internet_facing)",
                list(self.public_subnet_ids),
                "remove them, or turn internet_facing on",
            )
        if self.vpc_id and self.internet_facing_alb and len(self.public_subnet_ids) < 2:
            raise ConfigError(
                "public_subnet_ids",
                "two or more public subnets in different zones with internet_facing and vpc_id",
                list(self.public_subnet_ids) or None,
                "an internet-facing load balancer in private subnets answers through NAT and is unreachable; "
                "list subnets that route 0.0.0.0/0 to an internet gateway",
            )


def deploy(name: str, settings: SingleNodeSettings) -> dict[str, Any]:
    """Create the architecture and return the stack outputs (url, instance_id, data_volume_id, ...)."""
    # Pulumi autonames these children `<name>-<part>-<7 random hex>`: SingleNode's security group and IAM roles
    # (`-instance`, `-snapshots`) and, with a certificate, its ALB and target group.
    autonamed = [("instance", SECURITY_GROUP_NAME), ("snapshots", IAM_ROLE_NAME)]
    if settings.certificate_arn:
        autonamed += [("alb", LOAD_BALANCER_NAME), ("frontend", TARGET_GROUP_NAME)]
        if settings.alb_access_logs and not settings.alb_access_logs_bucket:
            autonamed.append(("alb-logs", S3_BUCKET_NAME))
    check_autonamed(name, autonamed, "stack name")
    workload = settings.workload()
    if settings.tier is not None:
        tier: str | Tier = settings.tier
    else:
        tier = estimate(workload).tier if workload else Tier.XS

    # Every argument is validated, and a brought VPC checked, before the first resource is registered; the
    # network's ids replace the placeholders afterwards.
    load_balancer = None
    if settings.certificate_arn:
        load_balancer = build(
            LoadBalancerArgs,
            None,
            certificate_arn=settings.certificate_arn,
            subnet_ids=["pending"],
            internet_facing=settings.internet_facing,
            allowed_cidrs=settings.allowed_cidrs,
            zone_id=settings.zone_id,
            record_name=settings.record_name,
            access_logs=settings.alb_access_logs,
            access_logs_bucket=settings.alb_access_logs_bucket,
            deletion_protection=settings.alb_deletion_protection,
        )
    node_args = build(
        SingleNodeArgs,
        None,
        vpc_id="pending",
        subnet_id="pending",
        tier=tier,
        workload=workload,
        sourcegraph_version=settings.sourcegraph_version,
        image=settings.image,
        ami_id=settings.ami_id,
        ami_owner=settings.ami_owner,
        instance_type=settings.instance_type,
        data_volume_gib=settings.data_volume_gib,
        data_volume_snapshot_id=settings.data_volume_snapshot_id,
        data_volume_kms_key_id=settings.data_volume_kms_key_id,
        load_balancer=load_balancer,
        alarm_topic_arn=settings.alarm_topic_arn,
        snapshot_retention_days=settings.snapshot_retention_days,
        tags=dict(settings.tags),
        architecture=ARCHITECTURE,
    )
    instance_type = node_args.instance_type or TIERS[node_args.tier].recommended_instance_type
    assert instance_type is not None  # SingleNodeArgs admits machine tiers only

    network, zone_ids = _network(name, settings, instance_type)
    if load_balancer is not None:
        # An internet-facing ALB answers from public subnets; in private ones its replies would leave through
        # NAT from another address and never reach the client.
        alb_subnets = network.public_subnet_ids if settings.internet_facing else network.private_subnet_ids
        load_balancer = load_balancer.model_copy(update={"subnet_ids": alb_subnets})
    instance_subnet: pulumi.Input[str] = (
        settings.subnet_ids[0] if settings.vpc_id else network.private_subnet_ids.apply(lambda ids: ids[0])
    )
    node = SingleNode(
        name,
        node_args.model_copy(
            update={"vpc_id": network.vpc_id, "subnet_id": instance_subnet, "load_balancer": load_balancer}
        ),
    )
    return {
        "url": node.url,
        "instance_id": node.instance_id,
        "data_volume_id": node.data_volume_id,
        "tier": str(tier.value if isinstance(tier, Tier) else tier).upper(),
        "sourcegraph_version": settings.sourcegraph_version,
        "availability_zone_ids": zone_ids,
    }


def _network(
    name: str, settings: SingleNodeSettings, instance_type: str
) -> tuple[Network, pulumi.Input[list[str]]]:
    """The stack's network and the ids of its private subnets' zones: a brought VPC checked against what the
    stack puts in it, or a new VPC whose zones offer the instance type. Brought or created, it goes through
    one component; a brought VPC creates nothing but the endpoints asked for."""
    if not settings.vpc_id:
        network = Network(
            f"{name}-network",
            build(
                NetworkArgs,
                None,
                vpc_cidr=settings.vpc_cidr,
                az_count=settings.az_count,
                availability_zone_ids=settings.availability_zone_ids or None,
                required_instance_types=(instance_type,),
                nat_strategy=NatStrategy(settings.nat),
                interface_endpoints=INTERFACE_ENDPOINT_SERVICES if settings.interface_endpoints else (),
                tags=dict(settings.tags),
                architecture=ARCHITECTURE,
            ),
        )
        return network, network.availability_zone_ids
    internal_alb = bool(settings.certificate_arn) and not settings.internet_facing
    brought = check_brought_network(
        settings.vpc_id,
        settings.subnet_ids,
        # The subnets of an internal ALB: two zones, one subnet each; otherwise only the first one is used.
        min_zones=2 if internal_alb else 1,
        one_subnet_per_zone=internal_alb,
        public_subnet_ids=settings.public_subnet_ids if settings.internet_facing_alb else (),
    )
    instance_zone = brought.availability_zones[0]
    if settings.internet_facing_alb and instance_zone not in brought.public_availability_zones:
        raise ConfigError(
            "public_subnet_ids",
            f"subnets including one in {instance_zone}, the zone of the instance's subnet {settings.subnet_ids[0]}",
            list(settings.public_subnet_ids),
            "a load balancer sends traffic only to targets in its own zones; add a public subnet in that zone",
        )
    network = Network(
        f"{name}-network",
        build(
            NetworkArgs,
            None,
            vpc_id=settings.vpc_id,
            private_subnet_ids=list(settings.subnet_ids),
            public_subnet_ids=list(settings.public_subnet_ids) or None,
            tags=dict(settings.tags),
            architecture=ARCHITECTURE,
        ),
    )
    return network, list(brought.availability_zone_ids)
