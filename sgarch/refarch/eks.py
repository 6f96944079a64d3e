"""The EKS reference architecture: a network (created or brought), an ``EksCluster`` sized for the workload
and a ``SourcegraphRelease`` of the official chart, with RDS, ElastiCache and S3 as options.

``stacks/eks/__main__.py`` is three lines on top of :func:`deploy`; other programs can call it too.
"""

from __future__ import annotations

from typing import Any, Literal

import pulumi
from pydantic import ConfigDict, Field, field_validator, model_validator

from sgarch.eks import EksCluster, EksClusterArgs
from sgarch.eks.versions import DEFAULT_KUBERNETES_VERSION, SOURCEGRAPH_CHART_VERSION
from sgarch.errors import ConfigError
from sgarch.helm import SourcegraphRelease, SourcegraphReleaseArgs, excluded_services
from sgarch.helm.args import check_chart_release, check_single_bucket
from sgarch.helm.values import DATABASES
from sgarch.migrate.k8s import check_migration_keys
from sgarch.migrate.k8s.component import DataMigration, DataMigrationArgs
from sgarch.naming import (
    EKS_NODE_GROUP_NAME,
    EKS_NODE_GROUP_PART,
    IAM_ROLE_NAME,
    S3_BUCKET_NAME,
    SECURITY_GROUP_NAME,
    check_autonamed,
)
from sgarch.network import NatStrategy, Network, NetworkArgs, check_brought_network
from sgarch.refarch.config import WorkloadSettings, check_brought_vpc, check_zone_ids
from sgarch.sizing import Estimate
from sgarch.sizing.nodegroups import DEFAULT_HEADROOM
from sgarch.tiers import get_tier
from sgarch.validation import build

__all__ = ["EksSettings", "deploy"]

ARCHITECTURE = "eks"
"""The ``sgarch:architecture`` tag on every resource of the stack, the network's included."""

_ZERO_IS_UNSET = ("users", "repos", "node_count")


class EksSettings(WorkloadSettings):
    """The stack's config keys (``pulumi config set <key> <value>``). Every key is optional."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    tier: str | None = None
    """Size tier XS, S, M, L, XL, 2XL or 3XL. Default: the tier the workload needs, or XS without one; a tier
    below what the workload needs is an error, a larger one wins."""
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION
    """EKS Kubernetes minor version (one EKS supports, listed in ``sgarch/eks/versions.py``). Upgrade one
    minor at a time; node groups and managed add-ons follow it after the control plane. Default: the minor
    sgarch creates clusters with."""
    sourcegraph_version: str = SOURCEGRAPH_CHART_VERSION
    """Sourcegraph release X.Y.Z: the version of the ``sourcegraph`` Helm chart, whose images are pinned to
    the same release by digest. One of the chart releases sgarch has checked (``SOURCEGRAPH_CHART_RELEASES``
    in ``sgarch/eks/versions.py``); pin the same release as a single-node stack to move data between them
    (``sgarch migrate plan``). Default: the chart release sgarch's values were checked against."""
    instance_type: str | None = None
    """Node instance type (m5, m6i, m6a or m7i, 2xlarge to 24xlarge). Default: the cheapest m6a size that
    packs the pods."""
    node_count: int | None = None
    """Total nodes over all zones. Default: what bin-packing needs, at least one per zone (0 means not
    set)."""
    node_headroom: float = DEFAULT_HEADROOM
    """Fraction of each node's pod capacity kept free. Default: 0.15."""
    admin_principal_arns: tuple[str, ...] = ()
    """IAM role or user ARNs given cluster-admin through access entries. Default: none besides the identity
    that runs Pulumi."""
    endpoint_public_access: bool | None = None
    """Public Kubernetes API endpoint besides the private one: ``true`` or ``false``. Default: public when the
    stack creates the VPC (``pulumi up`` must reach the Kubernetes API from where it runs, and a new VPC has
    no way in yet), private only with ``vpc_id`` (run Pulumi from inside that network); ``false`` without
    ``vpc_id`` is an error."""
    public_access_cidrs: tuple[str, ...] = ()
    """IPv4 CIDR blocks that may reach the public API endpoint (the addresses running ``pulumi up`` and
    kubectl). Required when the endpoint is public, so when the stack creates the VPC; a /0 block needs
    ``allow_public_api_from_anywhere``. Default: none."""
    allow_public_api_from_anywhere: bool = False
    """Accept 0.0.0.0/0 in ``public_access_cidrs`` (the API still requires AWS credentials). Default: off."""
    private_access_cidrs: tuple[str, ...] = ()
    """Networks that may reach the private API endpoint. Default: the new VPC's CIDR; with ``vpc_id``, only
    the cluster's own security group (nodes and control plane)."""
    vpc_id: str | None = None
    """Bring your own VPC: its id, with ``subnet_ids``. Default: a new VPC."""
    subnet_ids: tuple[str, ...] = ()
    """Bring your own VPC: private subnets, one per availability zone, tagged
    kubernetes.io/role/internal-elb=1. Default: none (a new VPC's own)."""
    vpc_cidr: str = "10.50.0.0/16"
    """CIDR of a new VPC. Default: 10.50.0.0/16."""
    az_count: int = 2
    """Availability zones of a new VPC, one node group each. Default: 2."""
    availability_zone_ids: tuple[str, ...] = ()
    """Zone ids of a new VPC (``use1-az1``), as many as ``az_count``; never use1-az3, usw1-az2 or cac1-az3,
    where EKS cannot place the cluster. Default: the first zones of the region that offer the node instance
    type and can hold the cluster; pin the ``availability_zone_ids`` output here."""
    nat: Literal["single", "one_per_az"] = "single"
    """NAT for a new VPC's private subnets: ``single`` or ``one_per_az``. Default: single, one NAT gateway."""
    certificate_arn: str | None = None
    """ACM certificate ARN for HTTPS on the ALB (80 redirects to 443). Default: HTTP only."""
    host: str | None = None
    """Host name of the ingress rule, such as sourcegraph.example.com. Default: any host."""
    internet_facing: bool = False
    """Make the ALB internet-facing (an explicit choice; needs ``inbound_cidrs``). Default: internal."""
    inbound_cidrs: tuple[str, ...] = ()
    """Who may reach the ALB; required when it is internet-facing. List your users' networks when they reach
    an internal ALB through a VPN, peering or a transit gateway. Default: every IPv4 block of the VPC (the new
    VPC's ``vpc_cidr``, or all of a brought VPC's), so an internal ALB admits only the VPC."""
    alb_access_logs: bool = True
    """Access logs of the ALB in S3 (the ingress's ``load-balancer-attributes``). Default: on (finding
    SGA-023 when off, unless suppressed)."""
    alb_access_logs_bucket: str | None = None
    """Existing bucket for the ALB's access logs (SSE-S3; its policy must let Elastic Load Balancing log
    delivery write ``AWSLogs/<account>/``). Default: a bucket the stack creates (private, TLS only, logs
    deleted after 90 days, kept on destroy)."""
    alb_deletion_protection: bool = True
    """ALB deletion protection. Default: on; turn it off (and pulumi up) before pulumi destroy, or the AWS
    Load Balancer Controller cannot delete the ALB and the release's ingress never goes away."""
    postgres: bool = False
    """Amazon RDS for PostgreSQL 16 for pgsql, codeintel-db and codeinsights-db, one instance each. Default:
    off, the chart's in-cluster databases on EBS."""
    postgres_auth: Literal["iam", "secret"] = "iam"
    """RDS authentication: ``iam`` (IAM database authentication as the role ``sourcegraph``, which a Job per
    database creates and grants rds_iam before the release; the RDS-managed master password is read as a
    secret for those Jobs only) or ``secret`` (the master user with ``postgres_password``, in Kubernetes
    Secrets). Default: iam."""
    postgres_password: str | None = None
    """RDS master password for ``postgres_auth: secret``; set it with ``pulumi config set --secret``. Default:
    none."""
    postgres_multi_az: bool = True
    """RDS Multi-AZ: a standby in a second zone for each database, with automatic failover (doubles the RDS
    price; ``sgarch plan`` shows it). Changed in place. Default: on; off is policy finding SGA-018 unless
    suppressed."""
    redis: bool = False
    """ElastiCache (Redis OSS 7.1, TLS, encrypted, an AUTH token kept in Secrets Manager, a replica in a
    second zone with automatic failover) for redis-cache and redis-store. Default: off, the chart's in-cluster
    Redis."""
    s3: bool = False
    """One S3 bucket (versioned, encrypted, private) instead of blobstore, reached through Pod Identity; needs
    ``sourcegraph_version`` 7.2.0 or later. Default: off, the chart's blobstore."""
    migrate_import: str | None = None
    """Import a migration bundle, ``s3://BUCKET/PREFIX/manifest.json`` as ``sgarch migrate export`` printed
    it. While set, the release runs in maintenance mode (every Sourcegraph service at zero replicas, the
    databases and blob storage up) and Kubernetes Jobs restore each database and copy the blobs after the
    release is installed; ``pulumi up`` waits for them and fails if a SHA-256 sum or a row count differs from
    the source's. The bundle must come from the same ``sourcegraph_version``. Unset it and run ``pulumi up``
    again to start Sourcegraph on the imported data. Default: none, no import."""
    migrate_export: str | None = None
    """Export the release to ``s3://BUCKET/PREFIX`` for a single node to import: maintenance mode as above,
    then one Job dumps every database, tars the blobs and writes ``PREFIX/manifest.json`` last. Unset it to
    leave maintenance mode. Not together with ``migrate_import``. Default: none, no export."""
    migrate_kms_key_arn: str | None = None
    """ARN of the KMS key that encrypts the migration bucket; required with ``migrate_import`` or
    ``migrate_export``. The Jobs' Pod Identity role may use this key and the bundle's prefix, nothing else of
    the bucket. Default: none."""
    log_retention_days: int = 365
    """Days the control-plane log group, and with ``postgres`` the RDS log export groups, keep their logs: one
    of the periods CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653). Default: 365, a year of audit trail; less is policy finding
    SGA-022 unless suppressed."""
    log_kms_key_arn: str | None = None
    """KMS key ARN encrypting the control-plane log group and the RDS log export groups (its key policy must
    allow logs.<region>.amazonaws.com). Default: CloudWatch Logs' own encryption."""
    enabled_cluster_log_types: tuple[str, ...] = ("api", "audit", "authenticator")
    """Control-plane log types sent to CloudWatch: any of api, audit, authenticator, controllerManager,
    scheduler. Default: api, audit and authenticator (fewer is policy finding SGA-015)."""
    tags: dict[str, str] = Field(default_factory=dict)
    """Extra tags on every AWS resource (a map, set with ``pulumi config set --path``). Default: none."""

    @field_validator("sourcegraph_version", mode="before")
    @classmethod
    def _pinned_release(cls, value: Any) -> str:
        return check_chart_release(value, "sourcegraph_version")

    @field_validator("tier")
    @classmethod
    def _known_tier(cls, value: str | None) -> str | None:
        # Checked even when users and repos size the stack, so a misspelt tier never passes unnoticed.
        return None if value is None else get_tier(value).tier.value

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
        "endpoint_public_access",
        "log_kms_key_arn",
        "migrate_import",
        "migrate_export",
        "migrate_kms_key_arn",
        "alb_access_logs_bucket",
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
        check_single_bucket(self.sourcegraph_version, self.s3, "sourcegraph_version")
        check_brought_vpc(self.vpc_id, self.subnet_ids, 2, "list one per zone")
        check_migration_keys(self.migrate_import, self.migrate_export, self.migrate_kms_key_arn)
        check_zone_ids(self.availability_zone_ids, self.vpc_id, self.az_count, "az_count", eks=True)
        if not self.vpc_id and self.endpoint_public_access is False:
            raise ConfigError(
                "endpoint_public_access",
                "true when the stack creates the VPC",
                False,
                "pulumi up installs the StorageClass and the Helm releases through the Kubernetes API from where "
                "it runs, and a private-only endpoint in a VPC this run creates is out of its reach; to keep the "
                "API private, bring your own VPC (vpc_id, subnet_ids) and run Pulumi from inside it",
            )
        if self.public_endpoint and not self.public_access_cidrs:
            raise ConfigError(
                "public_access_cidrs",
                "set when the Kubernetes API endpoint is public (the default when the stack creates the VPC)",
                [],
                "list the addresses that run pulumi up and kubectl, such as 203.0.113.10/32 for your egress "
                "address; or bring your own VPC with vpc_id and subnet_ids to keep the API private",
            )
        return self

    @property
    def migrating(self) -> bool:
        """Whether a data migration runs (and the release is in maintenance mode)."""
        return bool(self.migrate_import or self.migrate_export)

    @property
    def public_endpoint(self) -> bool:
        """Whether the API endpoint is public too: ``endpoint_public_access``, else whether the VPC is new."""
        if self.endpoint_public_access is not None:
            return self.endpoint_public_access
        return not self.vpc_id


def deploy(name: str, settings: EksSettings) -> dict[str, Any]:
    """Create the architecture and return the stack outputs."""
    # Pulumi autonames the node groups (`<name>-nodes-<i>-<8 hex generation>`), and the release's database
    # security groups (`<name>-sourcegraph-db-sg`, `-redis-sg`), S3 buckets (`<name>-sourcegraph-objects`,
    # `-alb-logs`) and pods' IAM role (`<name>-sourcegraph-aws-role`, for S3 or IAM database auth).
    autonamed = [(EKS_NODE_GROUP_PART, EKS_NODE_GROUP_NAME)]
    if settings.postgres or settings.redis:
        autonamed.append(("sourcegraph-db-sg", SECURITY_GROUP_NAME))
    if settings.s3:
        autonamed.append(("sourcegraph-objects", S3_BUCKET_NAME))
    if settings.alb_access_logs and not settings.alb_access_logs_bucket:
        autonamed.append(("sourcegraph-alb-logs", S3_BUCKET_NAME))
    if settings.s3 or (settings.postgres and settings.postgres_auth == "iam"):
        autonamed.append(("sourcegraph-aws-role", IAM_ROLE_NAME))
    if settings.migrating:
        autonamed.append(("migrate-role", IAM_ROLE_NAME))
    check_autonamed(name, autonamed, "stack name")
    if settings.vpc_id:
        network_args = build(
            NetworkArgs,
            None,
            vpc_id=settings.vpc_id,
            private_subnet_ids=list(settings.subnet_ids),
            tags=settings.tags,
            architecture=ARCHITECTURE,
        )
        zones = len(settings.subnet_ids)
        private_access = settings.private_access_cidrs
    else:
        network_args = build(
            NetworkArgs,
            None,
            vpc_cidr=settings.vpc_cidr,
            az_count=settings.az_count,
            availability_zone_ids=settings.availability_zone_ids or None,
            eks_cluster=True,
            nat_strategy=NatStrategy(settings.nat),
            tags=settings.tags,
            architecture=ARCHITECTURE,
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
        endpoint_public_access=settings.public_endpoint,
        public_access_cidrs=settings.public_access_cidrs,
        allow_public_api_from_anywhere=settings.allow_public_api_from_anywhere,
        private_access_cidrs=private_access,
        log_retention_days=settings.log_retention_days,
        log_kms_key_arn=settings.log_kms_key_arn,
        enabled_cluster_log_types=settings.enabled_cluster_log_types,
        tags=settings.tags,
        architecture=ARCHITECTURE,
    )
    # Validate the whole configuration (and pack the nodes) before the first resource is registered.
    plan = cluster_args.node_plan()
    brought = None
    if settings.vpc_id:
        brought = check_brought_network(settings.vpc_id, settings.subnet_ids, min_zones=2, eks_cluster=True)
    else:
        # A new VPC's zones must offer the node type: a node group in a zone without it never gets nodes.
        network_args = network_args.model_copy(update={"required_instance_types": (plan.instance_type.name,)})
    network = Network(f"{name}-network", network_args)
    # Known now for a brought VPC (the checks looked it up); the new VPC's come from its subnets.
    zone_ids = list(brought.availability_zone_ids) if brought else network.availability_zone_ids
    vpc_cidrs = list(brought.vpc_cidrs) if brought else network.vpc_cidrs
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
            chart_version=settings.sourcegraph_version,
            internet_facing=settings.internet_facing,
            certificate_arn=settings.certificate_arn,
            host=settings.host,
            inbound_cidrs=settings.inbound_cidrs,
            vpc_cidrs=vpc_cidrs,
            alb_access_logs=settings.alb_access_logs,
            alb_access_logs_bucket=settings.alb_access_logs_bucket,
            alb_deletion_protection=settings.alb_deletion_protection,
            postgres=settings.postgres,
            postgres_auth=settings.postgres_auth,
            postgres_password=password,
            postgres_multi_az=settings.postgres_multi_az,
            postgres_log_retention_days=settings.log_retention_days,
            postgres_log_kms_key_arn=settings.log_kms_key_arn,
            redis=settings.redis,
            s3=settings.s3,
            vpc_id=network.vpc_id,
            private_subnet_ids=network.private_subnet_ids,
            node_security_group_id=cluster.cluster_security_group_id,
            kms_key_arn=cluster.kms_key_arn,
            maintenance=settings.migrating,
            tags=settings.tags,
            architecture=ARCHITECTURE,
        ),
        opts=pulumi.ResourceOptions(providers=[cluster.provider], depends_on=[cluster]),
    )
    migration = _migration(name, settings, plan.estimate, cluster, release) if settings.migrating else {}
    return {
        "cluster_name": cluster.cluster_name,
        "kubeconfig": cluster.kubeconfig,
        "tier": plan.estimate.tier.value,
        "sourcegraph_version": settings.sourcegraph_version,
        "instance_type": plan.instance_type.name,
        "node_count": plan.node_count,
        "nodes_per_az": list(plan.nodes_per_az),
        "availability_zone_ids": zone_ids,
        "monthly_compute_usd_approx": round(plan.monthly_usd),
        "namespace": release.namespace,
        "bucket_name": release.bucket_name,
        "database_endpoints": release.database_endpoints,
        **migration,
    }


def _migration(
    name: str, settings: EksSettings, est: Estimate, cluster: EksCluster, release: SourcegraphRelease
) -> dict[str, Any]:
    """The import or export Jobs, after the release (in maintenance mode) is installed: the chart creates the
    in-cluster databases, and no Sourcegraph service runs to migrate or write them meanwhile."""
    databases = [
        short for key, short in DATABASES.items() if key != "codeInsightsDB" or est.workload.code_insights
    ]
    stored = ("pgsql", "codeIntelDB", "codeInsightsDB", "blobstore")
    migration = DataMigration(
        f"{name}-migrate",
        build(
            DataMigrationArgs,
            {
                "manifest_uri": "migrate_import",
                "export_uri": "migrate_export",
                "kms_key_arn": "migrate_kms_key_arn",
            },
            cluster_name=cluster.cluster_name,
            kms_key_arn=settings.migrate_kms_key_arn,
            sourcegraph_version=settings.sourcegraph_version,
            manifest_uri=settings.migrate_import,
            export_uri=settings.migrate_export,
            namespace=release.namespace,
            databases=tuple(databases),
            postgres=settings.postgres_auth if settings.postgres else "in-cluster",
            database_hosts=release.database_endpoints if settings.postgres else None,
            database_resource_ids=release.database_resource_ids if settings.postgres else None,
            blob_bucket=release.bucket_name if settings.s3 else None,
            storage_class_name=cluster.storage_class_name,
            # Room for every dump and the blob tar at once: the volumes they come from, in the estimate.
            export_scratch_gib=max(sum(est.service(key).storage_gb for key in stored), 20),
            tags=settings.tags,
            architecture=ARCHITECTURE,
        ),
        opts=pulumi.ResourceOptions(providers=[cluster.provider], depends_on=[release.chart]),
    )
    return {"migration_jobs": migration.job_names}
