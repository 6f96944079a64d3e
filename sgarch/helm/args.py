"""Arguments of the :class:`~sgarch.helm.SourcegraphRelease` component: validated before any resource exists."""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from sgarch.eks.versions import (
    SINGLE_BUCKET_MINIMUM,
    SOURCEGRAPH_CHART_RELEASES,
    SOURCEGRAPH_CHART_VERSION,
)
from sgarch.errors import ConfigError
from sgarch.helm.rds_iam import DEFAULT_CLIENT_IMAGE
from sgarch.migrate.k8s.jobs import DEFAULT_AWS_CLI_IMAGE
from sgarch.sizing import Estimate
from sgarch.validation import WORLD_CIDRS, ComponentArgs, StrInput, StrListInput, validate_log_retention_days

__all__ = ["SourcegraphReleaseArgs", "check_chart_release", "check_single_bucket", "excluded_services"]

_RELEASE = re.compile(r"^\d+\.\d+\.\d+$")


def _release_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def check_chart_release(value: Any, field: str) -> str:
    """``value`` as a chart release sgarch can pin (``v7.5.4453`` -> ``7.5.4453``), else a ConfigError.

    ``field`` is the name the user wrote: ``sourcegraph_version`` in a stack, ``chart_version`` in code.
    """
    text = str(value).strip().removeprefix("v")
    if not _RELEASE.match(text):
        raise ConfigError(
            field, "a Sourcegraph release like 7.5.4453", value, "use a version from Sourcegraph's releases"
        )
    if text not in SOURCEGRAPH_CHART_RELEASES:
        raise ConfigError(
            field,
            "a release of the sourcegraph Helm chart sgarch has checked",
            text,
            f"pick one of {', '.join(SOURCEGRAPH_CHART_RELEASES)}; a newer release needs a newer sgarch, whose "
            "table lists it",
        )
    return text


def check_single_bucket(version: str, s3: bool, field: str) -> None:
    """Refuse ``s3`` with a release older than :data:`SINGLE_BUCKET_MINIMUM`, which would ignore the bucket."""
    if s3 and _release_key(version) < _release_key(SINGLE_BUCKET_MINIMUM):
        raise ConfigError(
            field,
            f"{SINGLE_BUCKET_MINIMUM} or later with s3",
            version,
            f"Sourcegraph reads the single bucket sgarch configures from {SINGLE_BUCKET_MINIMUM} on; pin a later "
            "release or turn s3 off",
        )


class SourcegraphReleaseArgs(ComponentArgs):
    """Arguments of :class:`~sgarch.helm.SourcegraphRelease`. Every managed-service option is off by default."""

    estimate: Estimate
    """The estimate to render resources from: ``EksCluster.node_plan.estimate``, so replicas match the
    packing the nodes were sized with. Required."""
    cluster_name: StrInput
    """The EKS cluster, for Pod Identity associations. Required."""
    storage_class_name: str = "ebs-gp3"
    """StorageClass of every volume. Default: the one ``EksCluster`` creates."""
    namespace: str = "sourcegraph"
    """Namespace of the release (created). Default: ``sourcegraph``."""
    chart_version: str = SOURCEGRAPH_CHART_VERSION
    """Version of the ``sourcegraph`` chart, which is also the Sourcegraph release: each chart release pins
    every image to its own version by digest. One of ``SOURCEGRAPH_CHART_RELEASES``; ``s3`` needs 7.2.0 or
    later. Default: the version sgarch's values were checked against."""
    image_repository: str | None = None
    """Registry prefix of every Sourcegraph image (the chart's ``sourcegraph.image.repository``), such as
    a mirror inside your network. Default: the chart's, Docker Hub (``index.docker.io/sourcegraph``)."""
    maintenance: bool = False
    """Scale every Sourcegraph service (frontend, gitserver, searcher, indexed search, workers) to zero and
    keep the databases, Redis and blob storage running, for a data migration (``sgarch.migrate.k8s``). Users
    get no answer from the load balancer meanwhile. Default: off."""
    timeout_seconds: int = 1200
    """How long Helm waits for the release to become ready. Default: 20 minutes (volumes, image pulls)."""

    internet_facing: bool = False
    """Make the ALB internet-facing. Default: internal, reachable from the VPC and networks routed to it."""
    certificate_arn: StrInput | None = None
    """ACM certificate: turns on HTTPS on 443 and redirects 80 to it. Default: HTTP only."""
    host: str | None = None
    """Host name of the ingress rule (``sourcegraph.example.com``). Default: any host."""
    inbound_cidrs: tuple[str, ...] = ()
    """Who may reach the ALB (the ingress's ``alb.ingress.kubernetes.io/inbound-cidrs``). Required for an
    internet-facing ALB. Default: ``vpc_cidrs``, so an internal ALB admits only its VPC; without either, the
    controller would open it to 0.0.0.0/0 (every network routed to the VPC), so one of them is required."""
    vpc_cidrs: StrListInput | None = None
    """Every IPv4 block of the cluster's VPC (``Network.vpc_cidrs``): whom an internal ALB admits when
    ``inbound_cidrs`` is empty. Default: none."""
    alb_access_logs: bool | None = None
    """Access logs of the ALB (set through the ingress's ``load-balancer-attributes``): true writes them to
    ``alb_access_logs_bucket``, or to a bucket the component creates (``<name>-alb-logs``: SSE-S3, the only
    encryption ALB log delivery supports, public access blocked, TLS only, logs deleted after 90 days, kept
    when the stack is destroyed); false turns them off, a policy finding (SGA-023) unless suppressed.
    Default: none, the ALB's setting is left as it is (off on a new ALB); ``stacks/eks`` sets true."""
    alb_access_logs_bucket: str | None = None
    """Name of an existing bucket for the ALB's access logs, in the ALB's region, SSE-S3, whose policy lets
    Elastic Load Balancing log delivery write ``AWSLogs/<account id>/``. Default: a bucket created for them."""
    alb_deletion_protection: bool | None = None
    """ALB deletion protection: AWS, and the AWS Load Balancer Controller, refuse to delete the ALB (so the
    release cannot be uninstalled) until it is turned off again. False is a policy finding (SGA-023).
    Default: none, left as it is (off on a new ALB); ``stacks/eks`` sets true."""

    postgres: bool = False
    """Run pgsql, codeintel-db and codeinsights-db on Amazon RDS for PostgreSQL 16, one instance each.
    Default: off (in-cluster databases on EBS)."""
    postgres_auth: Literal["iam", "secret"] = "iam"
    """``iam``: IAM database authentication (``PG_CONNECTION_UPDATER=EC2_ROLE_CREDENTIALS``) as the role
    ``sourcegraph``, which a Job per database creates and grants ``rds_iam`` before the chart is installed;
    RDS manages the master password in Secrets Manager, and Pulumi reads it (as a secret) only to hand it
    to those Jobs. ``secret``: the master user ``sg`` with the password in ``postgres_password``, handed to
    the chart in Kubernetes Secrets. Default: iam."""
    postgres_password: StrInput | None = None
    """Master password of the RDS instances; required with ``postgres_auth=secret`` (pass a secret).
    Default: none."""
    postgres_client_image: str | None = None
    """Image with ``psql`` (PostgreSQL 16) for the Jobs that grant ``rds_iam`` with ``postgres_auth=iam``.
    Default: Docker Hub's ``postgres:16-alpine``; required with ``image_repository``, whose nodes may not
    reach Docker Hub."""
    postgres_instance_class: str | None = None
    """RDS instance class for all three. Default: the smallest db.m6g class holding each database's memory."""
    postgres_multi_az: bool = True
    """A synchronous standby in a second zone that RDS fails over to (doubles the instance and storage
    price). Default: on; turning it off is a policy finding (SGA-018) unless suppressed."""
    postgres_backup_retention_days: int = Field(default=7, ge=7, le=35)
    """Automated backups kept, 7 to 35 days. Default: 7."""
    postgres_log_retention_days: int | None = None
    """Days the CloudWatch log groups of the RDS log exports (``/aws/rds/instance/<id>/postgresql`` and
    ``upgrade``) keep their logs: one of the periods CloudWatch Logs accepts. A Job (``rds_logs.py``) creates
    the groups RDS has not and sets the retention on all of them, so existing stacks get it too. Default: none,
    RDS's own groups, which keep logs forever (``stacks/eks`` passes its ``log_retention_days``)."""
    postgres_log_kms_key_arn: StrInput | None = None
    """KMS key encrypting those log groups (its key policy must allow ``logs.<region>.amazonaws.com``).
    Default: CloudWatch Logs' own encryption."""
    aws_cli_image: str | None = None
    """AWS CLI v2 image of the Job that sets that retention. Default: AWS's on ECR Public
    (``public.ecr.aws/aws-cli/aws-cli``); required with ``image_repository``, whose nodes may not reach it."""

    redis: bool = False
    """Run redis-cache and redis-store on ElastiCache (Redis OSS 7.1, cluster mode off, TLS, encrypted, an
    AUTH token kept in Secrets Manager, a replica in a second zone with automatic failover), one
    replication group each. Default: off."""
    redis_node_type: str | None = None
    """ElastiCache node type for both. Default: the smallest cache.m6g type holding each one's memory."""

    s3: bool = False
    """Store Sourcegraph's objects in one S3 bucket (versioned, encrypted, public access blocked) instead
    of blobstore. Default: off."""

    vpc_id: StrInput | None = None
    """VPC for RDS and ElastiCache. Required with ``postgres`` or ``redis``. Default: none."""
    private_subnet_ids: StrListInput | None = None
    """Private subnets for RDS and ElastiCache. Required with ``postgres`` or ``redis``. Default: none."""
    node_security_group_id: StrInput | None = None
    """Security group of the nodes (EKS's cluster security group) allowed to reach RDS and ElastiCache.
    Required with ``postgres`` or ``redis``. Default: none."""
    kms_key_arn: StrInput | None = None
    """Key encrypting RDS and ElastiCache storage. Default: the services' AWS-managed keys."""

    @field_validator("chart_version", mode="before")
    @classmethod
    def _chart_release(cls, value: Any) -> str:
        return check_chart_release(value, "chart_version")

    @field_validator("postgres_log_retention_days")
    @classmethod
    def _log_retention(cls, value: int | None) -> int | None:
        return None if value is None else validate_log_retention_days(value, "postgres_log_retention_days")

    @field_validator("inbound_cidrs")
    @classmethod
    def _cidrs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr)
            except ValueError:
                raise ConfigError("inbound_cidrs", "CIDRs", cidr, "write them as 10.0.0.0/8") from None
        return value

    @model_validator(mode="after")
    def _combination(self) -> SourcegraphReleaseArgs:
        check_single_bucket(self.chart_version, self.s3, "chart_version")
        if self.internet_facing and not self.inbound_cidrs:
            raise ConfigError(
                "inbound_cidrs",
                "set when the load balancer is internet-facing",
                None,
                "list who may connect (0.0.0.0/0 for everyone, on purpose)",
            )
        if not self.internet_facing and any(c in WORLD_CIDRS for c in self.inbound_cidrs):
            raise ConfigError(
                "inbound_cidrs",
                "private ranges for an internal load balancer",
                ",".join(self.inbound_cidrs),
                "name your networks, or set internet_facing to true on purpose",
            )
        if self.postgres and self.postgres_auth == "secret" and self.postgres_password is None:
            raise ConfigError(
                "postgres_password",
                "set when postgres_auth is secret",
                None,
                "pulumi config set --secret postgres_password <password>, or use postgres_auth iam",
            )
        if (
            self.postgres
            and self.postgres_auth == "iam"
            and self.image_repository is not None
            and self.postgres_client_image is None
        ):
            raise ConfigError(
                "postgres_client_image",
                "set when image_repository is set and postgres_auth is iam",
                None,
                f"mirror {DEFAULT_CLIENT_IMAGE} next to the Sourcegraph images and name it here",
            )
        if (
            self.postgres
            and self.postgres_log_retention_days is not None
            and self.image_repository is not None
            and self.aws_cli_image is None
        ):
            raise ConfigError(
                "aws_cli_image",
                "set when image_repository and postgres_log_retention_days are set",
                None,
                f"mirror {DEFAULT_AWS_CLI_IMAGE} next to the Sourcegraph images and name it here",
            )
        if self.postgres or self.redis:
            for field in ("vpc_id", "private_subnet_ids", "node_security_group_id"):
                if getattr(self, field) is None:
                    option = "postgres" if self.postgres else "redis"
                    raise ConfigError(field, f"set with {option}", None, "pass the cluster's network")
        if not self.internet_facing and not self.inbound_cidrs and self.vpc_cidrs is None:
            raise ConfigError(
                "inbound_cidrs",
                "set, or vpc_cidrs, for an internal load balancer",
                None,
                "pass the VPC's blocks (Network.vpc_cidrs) or your networks; the AWS Load Balancer Controller "
                "would otherwise admit 0.0.0.0/0",
            )
        return self

    def excluded_services(self) -> frozenset[str]:
        """Chart services the options move out of the cluster."""
        return excluded_services(postgres=self.postgres, redis=self.redis, s3=self.s3)


def excluded_services(*, postgres: bool, redis: bool, s3: bool) -> frozenset[str]:
    """Chart services that managed AWS services replace, so the nodes need no room for them."""
    out: set[str] = set()
    if postgres:
        out |= {"pgsql", "codeIntelDB", "codeInsightsDB"}
    if redis:
        out |= {"redisCache", "redisStore"}
    if s3:
        out.add("blobstore")
    return frozenset(out)
