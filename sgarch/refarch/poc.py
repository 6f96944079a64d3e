"""The POC reference architecture: a private, time-boxed Sourcegraph inside the customer's own VPC.

Generalised from enterprise proofs of concept: nothing is reachable from the internet, admins come in through
SSM Session Manager, users through an internal ALB with HTTPS and a private DNS name, the instance is stopped
(never deleted) after an expiry date, a budget e-mails at 80% and 100% of a monthly limit, and the data
volume can be promoted to production by snapshot.

With ``runtime: eks`` the same network, certificate, private zone, budget and expiry wrap an EKS cluster
(private API endpoint, the smallest node plan for the tier) running the official Helm chart with in-cluster
databases; after the expiry its node groups are scaled to zero instead of an instance being stopped.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Callable
from typing import Any, Literal

import pulumi
import pulumi_aws as aws
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from sgarch.eks import EksCluster, EksClusterArgs
from sgarch.errors import ConfigError
from sgarch.helm import SourcegraphRelease, SourcegraphReleaseArgs
from sgarch.naming import (
    EKS_NODE_GROUP_NAME,
    EKS_NODE_GROUP_PART,
    LOAD_BALANCER_NAME,
    S3_BUCKET_NAME,
    SCHEDULE_NAME,
    SECURITY_GROUP_NAME,
    TARGET_GROUP_NAME,
    check_autonamed,
)
from sgarch.network import INTERFACE_ENDPOINT_SERVICES, NatStrategy, Network, NetworkArgs
from sgarch.refarch.config import check_brought_vpc
from sgarch.single_node.args import DEFAULT_SOURCEGRAPH_VERSION, EgressRule, LoadBalancerArgs, SingleNodeArgs
from sgarch.single_node.component import SingleNode
from sgarch.sizing import Workload, estimate
from sgarch.sizing.compose import COMPOSE_SERVICES
from sgarch.sizing.estimator import planned_tier
from sgarch.sizing.storage import poc_data_volume_gib
from sgarch.tiers import Tier
from sgarch.validation import build

__all__ = [
    "EKS_ENDPOINT_SERVICES",
    "EXPIRY_TAG",
    "PocEnvironment",
    "PocSettings",
    "deploy",
    "scale_to_zero_input",
    "stop_schedule_expression",
]

EXPIRY_TAG = "expires-on"
POC_TAG = "poc"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# EC2 stopInstances and EKS updateNodegroupConfig through EventBridge Scheduler's universal target.
_STOP_TARGET = "arn:aws:scheduler:::aws-sdk:ec2:stopInstances"
_SCALE_TARGET = "arn:aws:scheduler:::aws-sdk:eks:updateNodegroupConfig"
EKS_ENDPOINT_SERVICES = ("ec2", "elasticloadbalancing", "eks-auth")
"""Interface endpoints an EKS POC needs on top of the single node's when there is no NAT: the VPC CNI and
the EBS CSI driver call EC2, the load balancer controller calls Elastic Load Balancing, and Pod Identity
exchanges its tokens with EKS Auth."""
_CLUSTER_NAMESPACE = "sourcegraph"


class PocSettings(BaseModel):
    """Config keys of ``stacks/poc`` (``pulumi config set <key> <value>``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    expires_on: str
    """Required. The last day of the POC (YYYY-MM-DD, UTC). From the next day the instance is stopped every
    hour; it is never deleted."""
    budget_emails: tuple[str, ...]
    """Required. Who gets the budget alerts at 80% and 100% of ``monthly_budget_usd``."""
    monthly_budget_usd: float = 1000
    """The monthly cost limit the alerts measure against. Default: $1,000."""
    tier: str | None = None
    """XS to 3XL (XL at most on the single node). Default: the tier the workload needs, XS for the default
    POC workload. A tier below what the configured workload needs is an error; a larger one wins."""
    runtime: Literal["single-node", "eks"] = "single-node"
    """Where Sourcegraph runs: ``single-node`` (one instance, Docker Compose) or ``eks`` (an EKS cluster with
    a private API endpoint and the official Helm chart, databases in the cluster). Default: single-node."""
    users: int | None = None
    """Workload for sizing (with ``repos``). Default: a small POC: 50 users, 500 repos, 50 GB."""
    repos: int | None = None
    """Workload: repositories in the POC."""
    total_repo_gb: float | None = None
    """Workload: size of those repositories on disk, GB."""
    sourcegraph_version: str = DEFAULT_SOURCEGRAPH_VERSION
    """Sourcegraph release. Default: the one sgarch was tested with."""
    image: Literal["sgarch", "stock"] = "sgarch"
    """sgarch (images baked in, so no internet is needed to start) or stock. Default: sgarch."""
    ami_id: str | None = None
    """An explicit AMI id. Default: the sgarch AMI for the version."""
    ami_owner: str = "self"
    """Owner of the sgarch AMI. Default: this account."""
    vpc_id: str | None = None
    """The customer's VPC (the usual case), with ``subnet_ids``. Default: a new private-only VPC."""
    subnet_ids: tuple[str, ...] = ()
    """Private subnets in at least two AZs; the first holds the instance."""
    subnets_have_nat: bool = False
    """Whether the given subnets route to a NAT gateway. Default: no, so interface endpoints are created."""
    vpc_cidr: str = "10.50.0.0/16"
    """CIDR of a new private-only VPC. Default: 10.50.0.0/16."""
    interface_endpoints: bool | None = None
    """VPC interface endpoints (SSM, ECR, logs, STS; with runtime eks also EC2, Elastic Load Balancing and EKS
    Auth). Default: on when there is no NAT."""
    certificate_arn: str | None = None
    """ACM certificate for the ALB. Default: issue one for ``record_name``, validated in ``public_zone_id``."""
    public_zone_id: str | None = None
    """Public Route53 zone used only to validate an issued certificate (DNS validation)."""
    record_name: str
    """Required. The private DNS name users open, such as sourcegraph.poc.example.com."""
    private_zone_id: str | None = None
    """Private hosted zone for ``record_name``. Default: a new private zone for its parent domain."""
    allowed_cidrs: tuple[str, ...] = ()
    """Networks that may reach the ALB. Default: the VPC's CIDR."""
    alb_access_logs: bool = True
    """ALB access logs in S3. Default: on (finding SGA-023 when off, unless suppressed)."""
    alb_access_logs_bucket: str | None = None
    """Existing bucket for the ALB's access logs (SSE-S3, its policy letting ELB log delivery write).
    Default: a bucket the stack creates (private, TLS only, logs deleted after 90 days, kept on destroy)."""
    alb_deletion_protection: bool = True
    """ALB deletion protection. Default: on; at the end of the POC turn it off (and pulumi up) before pulumi destroy."""
    egress_allowlist: tuple[dict[str, Any], ...] = ()
    """Code hosts the instance may reach: ``[{cidr, from_port, to_port, description}]``. Default: any."""
    http_proxy: str | None = None
    """HTTP(S) proxy for reaching code hosts, passed to Sourcegraph (HTTP_PROXY and HTTPS_PROXY)."""
    no_proxy: tuple[str, ...] = ()
    """Extra NO_PROXY entries; sgarch already adds the host, the metadata service and Sourcegraph's services."""
    tags: dict[str, str] = {}
    """Extra tags on every resource."""
    image_registry: str | None = None
    """runtime eks: registry prefix of Sourcegraph's images inside your network, such as an ECR pull-through
    cache of Docker Hub (``<account>.dkr.ecr.<region>.amazonaws.com/docker-hub/sourcegraph``). Required when
    the subnets have no NAT. Default: Docker Hub. Single-node ignores it (its AMI has the images)."""
    load_balancer_controller_image: str | None = None
    """runtime eks: repository of the AWS Load Balancer Controller image inside your network, such as an ECR
    pull-through cache of public.ecr.aws (``.../ecr-public/eks/aws-load-balancer-controller``). Required
    when the subnets have no NAT. Default: public.ecr.aws. Single-node ignores it."""
    admin_principal_arns: tuple[str, ...] = ()
    """runtime eks: IAM roles or users given cluster-admin. Default: only the identity that runs Pulumi."""
    api_access_cidrs: tuple[str, ...] = ()
    """runtime eks: networks that may reach the private Kubernetes API on 443 (where Pulumi and kubectl run).
    Default: the ALB's networks (``allowed_cidrs``, or the new VPC's CIDR)."""

    @field_validator("budget_emails")
    @classmethod
    def _emails(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ConfigError(
                "budget_emails", "at least one e-mail address", list(value), "list who gets the budget alerts"
            )
        for address in value:
            if not _EMAIL.match(address):
                raise ConfigError("budget_emails", "e-mail addresses", address, "fix the address")
        return value

    @field_validator("monthly_budget_usd")
    @classmethod
    def _budget(cls, value: float) -> float:
        if value <= 0:
            raise ConfigError(
                "monthly_budget_usd", "a positive amount in USD", value, "set the monthly limit"
            )
        return value

    @model_validator(mode="after")
    def _combinations(self) -> PocSettings:
        check_brought_vpc(self.vpc_id, self.subnet_ids, 2, "the internal ALB needs two AZs")
        if not self.certificate_arn and not self.public_zone_id:
            raise ConfigError(
                "certificate_arn",
                "set, or public_zone_id set to issue one",
                None,
                "give an ACM certificate ARN, or a public Route53 zone to validate a new certificate in",
            )
        if self.runtime == "eks":
            self._eks_combinations()
        elif self.image == "stock" and not (self.subnets_have_nat or self.http_proxy):
            raise ConfigError(
                "image",
                "sgarch when the subnets have neither NAT nor a proxy",
                self.image,
                "a stock AMI downloads Docker and Sourcegraph at first boot; use the sgarch AMI, or set http_proxy",
            )
        if (self.users is None) != (self.repos is None):
            raise ConfigError(
                "repos" if self.repos is None else "users",
                "set together with users and repos",
                None,
                "give both",
            )
        return self

    def _eks_combinations(self) -> None:
        unused = {
            "egress_allowlist": self.egress_allowlist,
            "http_proxy": self.http_proxy,
            "ami_id": self.ami_id,
        }
        for key, value in unused.items():
            if value:
                raise ConfigError(
                    key,
                    "unset with runtime eks",
                    list(value) if isinstance(value, tuple) else value,
                    "it applies to the single node only; with eks, pods reach code hosts through the "
                    "subnets' own routes (NAT, transit gateway, VPN)",
                )
        has_nat = bool(self.vpc_id) and self.subnets_have_nat
        if not has_nat:
            for key in ("image_registry", "load_balancer_controller_image"):
                if not getattr(self, key):
                    raise ConfigError(
                        key,
                        "set with runtime eks when the subnets have no NAT",
                        None,
                        "nodes pull container images at run time: mirror them into ECR (a pull-through "
                        "cache) and give its repository, or use subnets with NAT",
                    )
        if self.vpc_id and not self.allowed_cidrs:
            raise ConfigError(
                "allowed_cidrs",
                "set with runtime eks and vpc_id",
                [],
                "list your VPC's CIDR or your users' networks; the load balancer controller would otherwise "
                "open the internal ALB to 0.0.0.0/0",
            )

    def expiry(self, today: dt.date | None = None) -> dt.date:
        """``expires_on`` as a date, checked to be in the future and at most a year away.

        ``today`` defaults to the ``SGARCH_TODAY`` environment variable (YYYY-MM-DD), which makes generated
        docs and tests reproducible, or else the current UTC date.
        """
        today = today or _today()
        try:
            day = dt.date.fromisoformat(self.expires_on)
        except ValueError:
            raise ConfigError(
                "expires_on", "a date like 2026-12-31", self.expires_on, "write it as YYYY-MM-DD"
            ) from None
        if day < today:
            raise ConfigError(
                "expires_on",
                f"today ({today.isoformat()}) or later",
                self.expires_on,
                "a POC needs an end date in the future",
            )
        if day > today + dt.timedelta(days=366):
            raise ConfigError(
                "expires_on",
                "at most a year away",
                self.expires_on,
                "a POC is time-boxed; promote it to production instead",
            )
        return day

    def planned_tier(self) -> Tier:
        """The tier to plan: ``tier`` if set and at least what :meth:`workload` needs, else what it needs.
        Raises ConfigError for a ``tier`` below the workload's."""
        if self.users is None:
            # The default POC workload is not configured: an explicit tier always wins over it.
            return planned_tier(self.tier, None) if self.tier else estimate(self.workload()).tier
        return estimate(self.workload(), tier=self.tier).tier

    def workload(self) -> Workload:
        """The POC workload: the configured one, or 50 users, 500 repos and 50 GB."""
        if self.users is not None and self.repos is not None:
            return Workload.parse(users=self.users, repos=self.repos, total_repo_gb=self.total_repo_gb)
        return Workload(users=50, repos=500, total_repo_gb=self.total_repo_gb or 50)


def _today() -> dt.date:
    pinned = os.environ.get("SGARCH_TODAY")
    if pinned:
        try:
            return dt.date.fromisoformat(pinned)
        except ValueError:
            raise ConfigError(
                "SGARCH_TODAY", "a date like 2026-11-23", pinned, "unset it or fix the date"
            ) from None
    return dt.datetime.now(dt.timezone.utc).date()


def stop_schedule_expression() -> str:
    """Every hour, so an instance someone starts again after the expiry is stopped again."""
    return "cron(0 * * * ? *)"


def _no_proxy(extra: tuple[str, ...]) -> str:
    base = ["localhost", "127.0.0.1", "169.254.169.254", ".internal", *sorted(COMPOSE_SERVICES)]
    return ",".join(dict.fromkeys([*base, *extra]))


class PocEnvironment(pulumi.ComponentResource):
    """A private, time-boxed Sourcegraph POC.

    Outputs (``outputs`` holds them as the stack exports them): ``url`` and ``expires_on``; with the single
    node ``instance_id`` and ``data_volume_id``; with EKS ``cluster_name``, ``kubeconfig`` (secret),
    ``node_group_names`` and ``dns_record`` (the record to create once the ALB exists).
    """

    url: pulumi.Output[str]
    expires_on: str
    instance_id: pulumi.Output[str] | None
    data_volume_id: pulumi.Output[str] | None
    outputs: dict[str, Any]

    def __init__(
        self,
        name: str,
        settings: PocSettings,
        today: dt.date | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        expiry = settings.expiry(today)
        tags = {POC_TAG: name, EXPIRY_TAG: expiry.isoformat(), "ManagedBy": "sgarch"} | dict(settings.tags)
        workload = settings.workload()
        cluster_args = _cluster_args(name, settings, workload, tags) if settings.runtime == "eks" else None
        if cluster_args is not None:
            # Pack the nodes (and fail on a bad combination) before the first resource is registered.
            cluster_args.node_plan()
        super().__init__("sgarch:refarch:PocEnvironment", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        has_nat = settings.subnets_have_nat if settings.vpc_id else False
        endpoints = settings.interface_endpoints if settings.interface_endpoints is not None else not has_nat
        if settings.vpc_id:
            network_args = build(
                NetworkArgs,
                None,
                vpc_id=settings.vpc_id,
                private_subnet_ids=list(settings.subnet_ids),
                interface_endpoints=INTERFACE_ENDPOINT_SERVICES if endpoints else (),
                tags=tags,
            )
        else:
            network_args = build(
                NetworkArgs,
                None,
                vpc_cidr=settings.vpc_cidr,
                az_count=2,
                private_only=True,
                nat_strategy=NatStrategy.NONE,
                interface_endpoints=INTERFACE_ENDPOINT_SERVICES if endpoints else (),
                tags=tags,
            )
        network = Network(f"{name}-network", network_args, opts=child)

        zone_id = self._private_zone(name, settings, network.vpc_id, tags)
        certificate_arn = settings.certificate_arn or self._certificate(name, settings, tags)
        self.expires_on = expiry.isoformat()
        if cluster_args is None:
            self._single_node(name, settings, network, zone_id, certificate_arn, expiry, tags)
        else:
            if endpoints:
                self._eks_endpoints(name, network, tags)
            self._eks(name, settings, cluster_args, network, zone_id, certificate_arn, expiry, tags)
        self._budget(name, settings, tags)
        self.register_outputs(dict(self.outputs))

    def _single_node(
        self,
        name: str,
        settings: PocSettings,
        network: Network,
        zone_id: pulumi.Input[str],
        certificate_arn: pulumi.Input[str],
        expiry: dt.date,
        tags: dict[str, str],
    ) -> None:
        workload = settings.workload()
        egress = None
        if settings.egress_allowlist:
            egress = tuple(build(EgressRule, None, **rule) for rule in settings.egress_allowlist)
        env: dict[str, str] = {}
        if settings.http_proxy:
            env = {
                "HTTP_PROXY": settings.http_proxy,
                "HTTPS_PROXY": settings.http_proxy,
                "NO_PROXY": _no_proxy(settings.no_proxy),
            }
        instance_subnet: pulumi.Input[str] = (
            settings.subnet_ids[0]
            if settings.vpc_id
            else network.private_subnet_ids.apply(lambda ids: ids[0])
        )
        node = SingleNode(
            name,
            build(
                SingleNodeArgs,
                None,
                vpc_id=network.vpc_id,
                subnet_id=instance_subnet,
                tier=settings.planned_tier(),
                workload=workload,
                sourcegraph_version=settings.sourcegraph_version,
                image=settings.image,
                ami_id=settings.ami_id,
                ami_owner=settings.ami_owner,
                data_volume_gib=poc_data_volume_gib(workload),
                load_balancer=build(
                    LoadBalancerArgs,
                    None,
                    certificate_arn=certificate_arn,
                    subnet_ids=network.private_subnet_ids,
                    internet_facing=False,
                    allowed_cidrs=settings.allowed_cidrs,
                    zone_id=zone_id,
                    record_name=settings.record_name,
                    access_logs=settings.alb_access_logs,
                    access_logs_bucket=settings.alb_access_logs_bucket,
                    deletion_protection=settings.alb_deletion_protection,
                ),
                egress_allowlist=egress,
                extra_env=env,
                tags=tags,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self._stop_after_expiry(name, node, expiry, tags)
        self.url = node.url
        self.instance_id = node.instance_id
        self.data_volume_id = node.data_volume_id
        self.outputs = {
            "url": self.url,
            "instance_id": self.instance_id,
            "data_volume_id": self.data_volume_id,
            "expires_on": self.expires_on,
            "tier": settings.planned_tier().value,
        }

    def _eks(
        self,
        name: str,
        settings: PocSettings,
        cluster_args: EksClusterArgs,
        network: Network,
        zone_id: pulumi.Input[str],
        certificate_arn: pulumi.Input[str],
        expiry: dt.date,
        tags: dict[str, str],
    ) -> None:
        cluster = EksCluster(
            name,
            cluster_args.model_copy(
                update={"vpc_id": network.vpc_id, "private_subnet_ids": network.private_subnet_ids}
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        release = SourcegraphRelease(
            f"{name}-sourcegraph",
            build(
                SourcegraphReleaseArgs,
                None,
                estimate=cluster.node_plan.estimate,
                cluster_name=cluster.cluster_name,
                storage_class_name=cluster.storage_class_name,
                namespace=_CLUSTER_NAMESPACE,
                image_repository=settings.image_registry,
                internet_facing=False,
                certificate_arn=certificate_arn,
                host=settings.record_name,
                inbound_cidrs=_alb_cidrs(settings),
                tags=tags,
            ),
            opts=pulumi.ResourceOptions(parent=self, providers=[cluster.provider], depends_on=[cluster]),
        )
        self._scale_to_zero_after_expiry(name, cluster, expiry, tags)
        self.url = pulumi.Output.from_input(f"https://{settings.record_name}")
        self.instance_id = None
        self.data_volume_id = None
        self.outputs = {
            "url": self.url,
            "expires_on": self.expires_on,
            "tier": cluster_args.sizing_estimate().tier.value,
            "cluster_name": cluster.cluster_name,
            "kubeconfig": cluster.kubeconfig,
            "node_group_names": pulumi.Output.all(*[g.node_group_name for g in cluster.node_groups]),
            "dns_record": pulumi.Output.from_input(zone_id).apply(
                lambda zone: _dns_instruction(settings.record_name, zone, release.namespace)
            ),
        }

    def _eks_endpoints(self, name: str, network: Network, tags: dict[str, str]) -> None:
        # Network validates its endpoint list against the single node's needs; the cluster's extra ones
        # are the POC's own wiring.
        child = pulumi.ResourceOptions(parent=self)
        group = aws.ec2.SecurityGroup(
            f"{name}-eks-endpoints-sg",
            vpc_id=network.vpc_id,
            description="HTTPS from inside the VPC to the interface endpoints of the EKS POC",
            tags=tags | {"Name": f"{name}-eks-endpoints-sg"},
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-eks-endpoints-https",
            security_group_id=group.id,
            cidr_ipv4=network.vpc_cidr,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            description="HTTPS from the VPC",
            tags=tags | {"Name": f"{name}-eks-endpoints-https"},
            opts=child,
        )
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region
        for service in EKS_ENDPOINT_SERVICES:
            endpoint = f"{name}-{service}"
            aws.ec2.VpcEndpoint(
                endpoint,
                vpc_id=network.vpc_id,
                service_name=region.apply(_service_name(service)),
                vpc_endpoint_type="Interface",
                subnet_ids=network.private_subnet_ids,
                security_group_ids=[group.id],
                private_dns_enabled=True,
                tags=tags | {"Name": endpoint},
                opts=child,
            )

    def _private_zone(
        self, name: str, settings: PocSettings, vpc_id: pulumi.Input[str], tags: dict[str, str]
    ) -> pulumi.Input[str]:
        if settings.private_zone_id:
            return settings.private_zone_id
        parent_domain = settings.record_name.split(".", 1)[-1]
        zone = aws.route53.Zone(
            f"{name}-private-zone",
            name=parent_domain,
            comment=f"sgarch POC {name}: private names for Sourcegraph",
            vpcs=[aws.route53.ZoneVpcArgs(vpc_id=vpc_id)],
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return zone.zone_id

    def _certificate(self, name: str, settings: PocSettings, tags: dict[str, str]) -> pulumi.Output[str]:
        child = pulumi.ResourceOptions(parent=self)
        certificate = aws.acm.Certificate(
            f"{name}-certificate",
            domain_name=settings.record_name,
            validation_method="DNS",
            tags=tags,
            opts=child,
        )
        option = certificate.domain_validation_options[0]
        record = aws.route53.Record(
            f"{name}-certificate-validation",
            zone_id=settings.public_zone_id or "",
            name=option.resource_record_name,
            type=option.resource_record_type,
            records=[option.resource_record_value],
            ttl=60,
            allow_overwrite=True,
            opts=child,
        )
        validation = aws.acm.CertificateValidation(
            f"{name}-certificate",
            certificate_arn=certificate.arn,
            validation_record_fqdns=[record.fqdn],
            opts=child,
        )
        return validation.certificate_arn

    def _scheduler_role(
        self, name: str, description: str, policy: pulumi.Output[str], tags: dict[str, str]
    ) -> tuple[aws.iam.Role, aws.scheduler.ScheduleGroup]:
        child = pulumi.ResourceOptions(parent=self)
        trust = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "scheduler.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        )
        role = aws.iam.Role(
            f"{name}-stop", assume_role_policy=trust, description=description, tags=tags, opts=child
        )
        aws.iam.RolePolicy(f"{name}-stop", role=role.name, policy=policy, opts=child)
        group = aws.scheduler.ScheduleGroup(f"{name}-expiry", tags=tags, opts=child)
        return role, group

    def _stop_after_expiry(self, name: str, node: SingleNode, expiry: dt.date, tags: dict[str, str]) -> None:
        role, group = self._scheduler_role(
            name,
            "sgarch POC: lets EventBridge Scheduler stop the POC instance after its expiry",
            node.instance.arn.apply(lambda arn: _allow("ec2:StopInstances", arn)),
            tags,
        )
        start = _first_stop(expiry)
        aws.scheduler.Schedule(
            f"{name}-stop-after-expiry",
            group_name=group.name,
            description=f"Stop the POC instance every hour from {start[:10]}; it is never deleted",
            schedule_expression=stop_schedule_expression(),
            schedule_expression_timezone="UTC",
            start_date=start,
            flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
            target=aws.scheduler.ScheduleTargetArgs(
                arn=_STOP_TARGET,
                role_arn=role.arn,
                input=node.instance_id.apply(lambda instance: json.dumps({"InstanceIds": [instance]})),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _scale_to_zero_after_expiry(
        self, name: str, cluster: EksCluster, expiry: dt.date, tags: dict[str, str]
    ) -> None:
        groups = cluster.node_groups
        role, group = self._scheduler_role(
            name,
            "sgarch POC: lets EventBridge Scheduler scale the POC's node groups to zero after its expiry",
            pulumi.Output.all(*[g.arn for g in groups]).apply(
                lambda arns: _allow("eks:UpdateNodegroupConfig", list(arns))
            ),
            tags,
        )
        start = _first_stop(expiry)
        for i, node_group in enumerate(groups):
            aws.scheduler.Schedule(
                f"{name}-stop-nodes-{i}",
                group_name=group.name,
                description=(
                    f"Scale node group {i} of the POC to zero every hour from {start[:10]}; "
                    "nothing is deleted, the control plane keeps running"
                ),
                schedule_expression=stop_schedule_expression(),
                schedule_expression_timezone="UTC",
                start_date=start,
                flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
                target=aws.scheduler.ScheduleTargetArgs(
                    arn=_SCALE_TARGET,
                    role_arn=role.arn,
                    input=pulumi.Output.all(
                        node_group.cluster_name, node_group.node_group_name, node_group.scaling_config
                    ).apply(lambda v: scale_to_zero_input(v[0], v[1], _max_size(v[2]))),
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )

    def _budget(self, name: str, settings: PocSettings, tags: dict[str, str]) -> None:
        aws.budgets.Budget(
            f"{name}-budget",
            budget_type="COST",
            time_unit="MONTHLY",
            limit_amount=f"{settings.monthly_budget_usd:.2f}",
            limit_unit="USD",
            # Counts what carries the POC tag; activate `poc` as a cost allocation tag (see README).
            cost_filters=[
                aws.budgets.BudgetCostFilterArgs(name="TagKeyValue", values=[f"user:{POC_TAG}${name}"])
            ],
            notifications=[
                aws.budgets.BudgetNotificationArgs(
                    comparison_operator="GREATER_THAN",
                    notification_type="ACTUAL",
                    threshold=threshold,
                    threshold_type="PERCENTAGE",
                    subscriber_email_addresses=list(settings.budget_emails),
                )
                for threshold in (80, 100)
            ],
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )


def deploy(name: str, settings: PocSettings, today: dt.date | None = None) -> dict[str, Any]:
    """Create the POC and return the stack outputs."""
    # Pulumi autonames these children `<name>-<part>-<7 random hex>`: the security groups (the instance's, or the
    # interface endpoints' on EKS); on EKS the node groups (`<name>-nodes-<i>-<8 hex generation>`) and their
    # scale-to-zero schedules; otherwise the single node's ALB, target group and stop schedule.
    if settings.runtime == "eks":
        autonamed = [
            ("eks-endpoints-sg", SECURITY_GROUP_NAME),
            (EKS_NODE_GROUP_PART, EKS_NODE_GROUP_NAME),
            ("stop-nodes-0", SCHEDULE_NAME),
        ]
    else:
        autonamed = [
            ("instance", SECURITY_GROUP_NAME),
            ("alb", LOAD_BALANCER_NAME),
            ("frontend", TARGET_GROUP_NAME),
            ("stop-after-expiry", SCHEDULE_NAME),
        ]
        if settings.alb_access_logs and not settings.alb_access_logs_bucket:
            autonamed.append(("alb-logs", S3_BUCKET_NAME))
    check_autonamed(name, autonamed, "stack name")
    return PocEnvironment(name, settings, today).outputs


def _service_name(service: str) -> Callable[[str], str]:
    return lambda region: f"com.amazonaws.{region}.{service}"


def _first_stop(expiry: dt.date) -> str:
    start = dt.datetime.combine(expiry + dt.timedelta(days=1), dt.time(0, 0), tzinfo=dt.timezone.utc)
    return start.strftime("%Y-%m-%dT%H:%M:%SZ")


def _allow(action: str, resource: str | list[str]) -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]}
    )


def scale_to_zero_input(cluster_name: str, node_group_name: str, max_size: float) -> str:
    """The EKS ``UpdateNodegroupConfig`` request that scales one node group to zero nodes.

    Member names are the API's own (botocore's ``eks`` model); ``maxSize`` must stay at least 1, so the
    group keeps its own maximum and only the minimum and desired sizes drop to zero.
    """
    return json.dumps(
        {
            "clusterName": cluster_name,
            "nodegroupName": node_group_name,
            "scalingConfig": {"minSize": 0, "maxSize": max(1, int(max_size)), "desiredSize": 0},
        }
    )


def _max_size(scaling_config: Any) -> float:
    # An output type from the engine, a plain dict from mocks or a preview.
    if isinstance(scaling_config, dict):
        return float(scaling_config.get("max_size") or scaling_config.get("maxSize") or 1)
    return float(getattr(scaling_config, "max_size", None) or 1)


def _alb_cidrs(settings: PocSettings) -> tuple[str, ...]:
    # The settings validator requires allowed_cidrs with vpc_id, so a new VPC is the only fallback.
    return settings.allowed_cidrs or (settings.vpc_cidr,)


def _dns_instruction(record_name: str, zone_id: str, namespace: str) -> str:
    return (
        f"create {record_name} in Route53 zone {zone_id} as an alias (or CNAME) of the ALB named by "
        f"`kubectl -n {namespace} get ingress` once the load balancer controller has created it"
    )


def _cluster_args(
    name: str, settings: PocSettings, workload: Workload, tags: dict[str, str]
) -> EksClusterArgs:
    """The cluster's arguments with placeholder network ids, so they can be validated and packed first."""
    lbc_values: dict[str, Any] = {
        # The controller's own tags let the budget (poc tag) and the expiry review find the ALB.
        "defaultTags": dict(tags),
        # An internal POC ALB uses neither WAF nor Shield; off, the controller never calls those APIs.
        "enableShield": False,
        "enableWaf": False,
        "enableWafv2": False,
    }
    if settings.load_balancer_controller_image:
        lbc_values["image"] = {"repository": settings.load_balancer_controller_image}
    return build(
        EksClusterArgs,
        None,
        vpc_id="pending",
        private_subnet_ids=["pending"] * 2,
        availability_zone_count=2,
        tier=settings.planned_tier(),
        workload=workload,
        cluster_name=f"sourcegraph-{name}",
        admin_principal_arns=settings.admin_principal_arns,
        endpoint_public_access=False,
        private_access_cidrs=settings.api_access_cidrs or _alb_cidrs(settings),
        load_balancer_controller_values=lbc_values,
        volume_tags=tags,
        tags=tags,
    )
