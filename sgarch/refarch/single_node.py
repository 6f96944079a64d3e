"""The single-node reference architecture: a network (created or brought) and one ``SingleNode``.

``stacks/single-node/__main__.py`` is three lines on top of :func:`deploy`; other programs can call it too.
"""

from __future__ import annotations

from typing import Literal

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
from sgarch.network import INTERFACE_ENDPOINT_SERVICES, NatStrategy, Network, NetworkArgs
from sgarch.refarch.config import WorkloadSettings, check_brought_vpc
from sgarch.single_node.args import DEFAULT_SOURCEGRAPH_VERSION, LoadBalancerArgs, SingleNodeArgs
from sgarch.single_node.component import SingleNode
from sgarch.sizing import estimate
from sgarch.tiers import Tier
from sgarch.validation import build

__all__ = ["SingleNodeSettings", "deploy"]


class SingleNodeSettings(WorkloadSettings):
    """The stack's config keys (``pulumi config set <key> <value>``). Every key is optional."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tier: str | None = None
    """XS to XL. Default: the tier the workload below needs, or XS without one."""
    sourcegraph_version: str = DEFAULT_SOURCEGRAPH_VERSION
    """Sourcegraph release. Default: the one sgarch was tested with."""
    image: Literal["sgarch", "stock"] = "sgarch"
    """sgarch (our AMI) or stock (Amazon Linux 2023, installed at first boot). Default: sgarch."""
    ami_id: str | None = None
    """An explicit AMI id. Default: looked up."""
    ami_owner: str = "self"
    """Owner of the sgarch AMI. Default: this account."""
    instance_type: str | None = None
    """Default: the tier's recommended type."""
    data_volume_gib: int | None = None
    """Default: from the workload, at least 500."""
    data_volume_snapshot_id: str | None = None
    """Create the data volume from this snapshot (POC promotion, restore)."""
    data_volume_kms_key_id: str | None = None
    """Customer KMS key ARN for the volumes. Default: the account's EBS key."""
    vpc_id: str | None = None
    """Bring your own VPC: its id, with ``subnet_ids``. Default: a new VPC."""
    subnet_ids: tuple[str, ...] = ()
    """Bring your own VPC: private subnets; the first holds the instance, all of them the internal ALB."""
    vpc_cidr: str = "10.40.0.0/16"
    """CIDR of a new VPC. Default: 10.40.0.0/16."""
    az_count: int = 2
    """Availability zones of a new VPC. Default: 2 (an ALB needs two)."""
    nat: Literal["none", "single", "one_per_az"] = "single"
    """NAT for a new VPC's private subnets. Default: one NAT gateway (the instance pulls images and clones)."""
    interface_endpoints: bool = False
    """VPC interface endpoints for SSM, ECR, logs and STS in a new VPC. Default: off (NAT covers them)."""
    certificate_arn: str | None = None
    """ACM certificate: turns on the ALB. Default: no ALB; use SSM port forwarding."""
    internet_facing: bool = False
    """Make the ALB internet-facing. Default: internal."""
    allowed_cidrs: tuple[str, ...] = ()
    """Who may reach the ALB. Default: the VPC's CIDR."""
    zone_id: str | None = None
    """Route53 zone for an alias record to the ALB."""
    record_name: str | None = None
    """Record name for the alias, such as sourcegraph.example.com."""
    alb_access_logs: bool = True
    """ALB access logs in S3. Default: on (finding SGA-023 when off, unless suppressed)."""
    alb_access_logs_bucket: str | None = None
    """Existing bucket for the ALB's access logs (SSE-S3, its policy letting ELB log delivery write).
    Default: a bucket the stack creates (private, TLS only, logs deleted after 90 days, kept on destroy)."""
    alb_deletion_protection: bool = True
    """ALB deletion protection. Default: on; turn it off (and pulumi up) before pulumi destroy."""
    alarm_topic_arn: str | None = None
    """SNS topic for alarms. Default: none."""
    snapshot_retention_days: int = 7
    """Daily data-volume snapshots to keep. Default: 7."""
    tags: dict[str, str] = Field(default_factory=dict)
    """Extra tags on every resource."""

    @model_validator(mode="after")
    def _byo_network(self) -> SingleNodeSettings:
        check_brought_vpc(self.vpc_id, self.subnet_ids, 1, "list the private subnets to use")
        # An Application Load Balancer needs subnets in at least two availability zones.
        if self.certificate_arn and self.vpc_id and len(self.subnet_ids) < 2:
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


def deploy(name: str, settings: SingleNodeSettings) -> dict[str, pulumi.Output[str] | str]:
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

    # Brought or created, the network goes through one component: a brought VPC creates nothing.
    if settings.vpc_id:
        network_args = build(
            NetworkArgs,
            None,
            vpc_id=settings.vpc_id,
            private_subnet_ids=list(settings.subnet_ids),
            tags=dict(settings.tags),
        )
    else:
        network_args = build(
            NetworkArgs,
            None,
            vpc_cidr=settings.vpc_cidr,
            az_count=settings.az_count,
            nat_strategy=NatStrategy(settings.nat),
            interface_endpoints=INTERFACE_ENDPOINT_SERVICES if settings.interface_endpoints else (),
            tags=dict(settings.tags),
        )
    network = Network(f"{name}-network", network_args)
    vpc_id: pulumi.Input[str] = network.vpc_id
    subnet_ids: pulumi.Input[list[str]] = network.private_subnet_ids
    instance_subnet: pulumi.Input[str] = (
        settings.subnet_ids[0] if settings.vpc_id else network.private_subnet_ids.apply(lambda ids: ids[0])
    )

    load_balancer = None
    if settings.certificate_arn:
        load_balancer = build(
            LoadBalancerArgs,
            None,
            certificate_arn=settings.certificate_arn,
            subnet_ids=subnet_ids,
            internet_facing=settings.internet_facing,
            allowed_cidrs=settings.allowed_cidrs,
            zone_id=settings.zone_id,
            record_name=settings.record_name,
            access_logs=settings.alb_access_logs,
            access_logs_bucket=settings.alb_access_logs_bucket,
            deletion_protection=settings.alb_deletion_protection,
        )
    node = SingleNode(
        name,
        build(
            SingleNodeArgs,
            None,
            vpc_id=vpc_id,
            subnet_id=instance_subnet,
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
        ),
    )
    return {
        "url": node.url,
        "instance_id": node.instance_id,
        "data_volume_id": node.data_volume_id,
        "tier": str(tier.value if isinstance(tier, Tier) else tier).upper(),
        "sourcegraph_version": settings.sourcegraph_version,
    }
