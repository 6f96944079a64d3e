"""The EKS reference architecture: a network (created or brought), an ``EksCluster`` sized for the workload
and a ``SourcegraphRelease`` of the official chart, with RDS, ElastiCache and S3 as options.

``stacks/eks/__main__.py`` is three lines on top of :func:`deploy`; other programs can call it too.
"""

from __future__ import annotations

from typing import Any, Literal

import pulumi
from pydantic import ConfigDict, Field, field_validator, model_validator

from sgarch.eks import EksCluster, EksClusterArgs
from sgarch.eks.nodegroups import DEFAULT_HEADROOM
from sgarch.eks.versions import DEFAULT_KUBERNETES_VERSION
from sgarch.helm import SourcegraphRelease, SourcegraphReleaseArgs, excluded_services
from sgarch.network import NatStrategy, Network, NetworkArgs
from sgarch.refarch.config import WorkloadSettings, check_brought_vpc
from sgarch.validation import build

__all__ = ["EksSettings", "deploy"]

_ZERO_IS_UNSET = ("users", "repos", "node_count")


class EksSettings(WorkloadSettings):
    """The stack's config keys (``pulumi config set <key> <value>``). Every key is optional."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tier: str | None = None
    """XS to 3XL. Default: the tier the workload below needs, or XS without one."""
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION
    """EKS Kubernetes minor version."""
    instance_type: str | None = None
    """Node type. Default: the cheapest m6a size that packs the pods."""
    node_count: int | None = None
    """Total nodes. Default: what packing needs, at least one per zone."""
    node_headroom: float = DEFAULT_HEADROOM
    """Fraction of each node kept free. Default: 0.15."""
    admin_principal_arns: tuple[str, ...] = ()
    """IAM roles or users given cluster-admin."""
    endpoint_public_access: bool = False
    """Public Kubernetes API endpoint. Default: private only."""
    public_access_cidrs: tuple[str, ...] = ()
    """Who may reach the public endpoint; required with it."""
    private_access_cidrs: tuple[str, ...] = ()
    """Networks that may reach the private endpoint. Default: the VPC's CIDR for a new VPC."""
    vpc_id: str | None = None
    """Bring your own VPC: its id, with ``subnet_ids``. Default: a new VPC."""
    subnet_ids: tuple[str, ...] = ()
    """Bring your own VPC: private subnets, one per zone, tagged kubernetes.io/role/internal-elb=1."""
    vpc_cidr: str = "10.50.0.0/16"
    """CIDR of a new VPC."""
    az_count: int = 2
    """Zones of a new VPC (and node groups)."""
    nat: Literal["single", "one_per_az"] = "single"
    """NAT for a new VPC's private subnets."""
    certificate_arn: str | None = None
    """ACM certificate for HTTPS on the ALB. Default: HTTP only."""
    host: str | None = None
    """Host name of the ingress, such as sourcegraph.example.com."""
    internet_facing: bool = False
    """Internet-facing ALB (explicit choice). Default: internal."""
    inbound_cidrs: tuple[str, ...] = ()
    """Who may reach the ALB; required when internet-facing."""
    postgres: bool = False
    """RDS for PostgreSQL 16 instead of the in-cluster databases."""
    postgres_auth: Literal["iam", "secret"] = "iam"
    """RDS authentication: iam (no password in Pulumi) or secret (postgres_password)."""
    postgres_password: str | None = None
    """RDS master password for postgres_auth=secret (set it with --secret)."""
    redis: bool = False
    """ElastiCache instead of the in-cluster Redis."""
    s3: bool = False
    """An S3 bucket instead of blobstore."""
    tags: dict[str, str] = Field(default_factory=dict)
    """Extra tags on every AWS resource."""

    @field_validator(
        "tier",
        "total_repo_gb",
        "largest_repo_gb",
        "largest_index_gb",
        "instance_type",
        "certificate_arn",
        "host",
        "vpc_id",
        "postgres_password",
        "users",
        "repos",
        "node_count",
        mode="before",
    )
    @classmethod
    def _unset(cls, value: Any, info: Any) -> Any:
        # Pulumi treats a declared key without a default as required, so Pulumi.yaml gives optional keys
        # an "unset" default: "" for strings, 0 for the counts.
        if value == "" or (info.field_name in _ZERO_IS_UNSET and str(value) == "0"):
            return None
        return value

    @model_validator(mode="after")
    def _combination(self) -> EksSettings:
        check_brought_vpc(self.vpc_id, self.subnet_ids, 2, "list one per zone")
        return self


def deploy(name: str, settings: EksSettings) -> dict[str, Any]:
    """Create the architecture and return the stack outputs."""
    if settings.vpc_id:
        network_args = build(
            NetworkArgs,
            None,
            vpc_id=settings.vpc_id,
            private_subnet_ids=list(settings.subnet_ids),
            tags=settings.tags,
        )
        zones = len(settings.subnet_ids)
        private_access = settings.private_access_cidrs
    else:
        network_args = build(
            NetworkArgs,
            None,
            vpc_cidr=settings.vpc_cidr,
            az_count=settings.az_count,
            nat_strategy=NatStrategy(settings.nat),
            tags=settings.tags,
        )
        zones = settings.az_count
        private_access = settings.private_access_cidrs or (settings.vpc_cidr,)
    excluded = excluded_services(postgres=settings.postgres, redis=settings.redis, s3=settings.s3)
    cluster_args = build(
        EksClusterArgs,
        None,
        vpc_id="pending",
        private_subnet_ids=["pending"] * zones,
        availability_zone_count=zones,
        tier=settings.tier,
        workload=settings.workload(),
        excluded_services=excluded,
        instance_type=settings.instance_type,
        node_count=settings.node_count,
        node_headroom=settings.node_headroom,
        cluster_name=f"sourcegraph-{name}",
        kubernetes_version=settings.kubernetes_version,
        admin_principal_arns=settings.admin_principal_arns,
        endpoint_public_access=settings.endpoint_public_access,
        public_access_cidrs=settings.public_access_cidrs,
        private_access_cidrs=private_access,
        tags=settings.tags,
    )
    # Validate the whole configuration (and pack the nodes) before the first resource is registered.
    plan = cluster_args.node_plan()
    network = Network(f"{name}-network", network_args)
    cluster = EksCluster(
        name,
        cluster_args.model_copy(
            update={"vpc_id": network.vpc_id, "private_subnet_ids": network.private_subnet_ids}
        ),
    )
    password = pulumi.Output.secret(settings.postgres_password) if settings.postgres_password else None
    release = SourcegraphRelease(
        f"{name}-sourcegraph",
        build(
            SourcegraphReleaseArgs,
            None,
            estimate=plan.estimate,
            cluster_name=cluster.cluster_name,
            storage_class_name=cluster.storage_class_name,
            internet_facing=settings.internet_facing,
            certificate_arn=settings.certificate_arn,
            host=settings.host,
            inbound_cidrs=settings.inbound_cidrs,
            postgres=settings.postgres,
            postgres_auth=settings.postgres_auth,
            postgres_password=password,
            redis=settings.redis,
            s3=settings.s3,
            vpc_id=network.vpc_id,
            private_subnet_ids=network.private_subnet_ids,
            node_security_group_id=cluster.cluster_security_group_id,
            kms_key_arn=cluster.kms_key_arn,
            tags=settings.tags,
        ),
        opts=pulumi.ResourceOptions(providers=[cluster.provider], depends_on=[cluster]),
    )
    return {
        "cluster_name": cluster.cluster_name,
        "kubeconfig": cluster.kubeconfig,
        "tier": plan.estimate.tier.value,
        "instance_type": plan.instance_type.name,
        "node_count": plan.node_count,
        "nodes_per_az": list(plan.nodes_per_az),
        "monthly_compute_usd_approx": round(plan.monthly_usd),
        "namespace": release.namespace,
        "bucket_name": release.bucket_name,
        "database_endpoints": release.database_endpoints,
    }
