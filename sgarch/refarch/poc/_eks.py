"""The EKS runtime of the POC: a private cluster running the official Helm chart, scaled to zero after the
expiry."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from sgarch.eks import EksCluster, EksClusterArgs
from sgarch.helm import SourcegraphRelease, SourcegraphReleaseArgs
from sgarch.naming import default_tags
from sgarch.refarch.poc._settings import PocSettings
from sgarch.refarch.poc._shared import (
    ARCHITECTURE,
    PocParts,
    allow,
    first_stop,
    scheduler_role,
    stop_schedule_expression,
)
from sgarch.sizing import Workload
from sgarch.validation import build

__all__ = [
    "CLUSTER_NAME_PREFIX",
    "EKS_ENDPOINT_SERVICES",
    "cluster_args",
    "eks",
    "eks_endpoints",
    "scale_to_zero_input",
]

EKS_ENDPOINT_SERVICES = ("ec2", "elasticloadbalancing", "eks-auth")
"""Interface endpoints an EKS POC needs on top of the single node's when there is no NAT: the VPC CNI and
the EBS CSI driver call EC2, the load balancer controller calls Elastic Load Balancing, and Pod Identity
exchanges its tokens with EKS Auth."""
CLUSTER_NAME_PREFIX = "sgarch-poc-"
"""The POC's clusters are ``sgarch-poc-<stack>``. The eks project names its own ``sourcegraph-<stack>``, so no
stack name of either project can make the other's name, in one account and region."""

_SCALE_TARGET = "arn:aws:scheduler:::aws-sdk:eks:updateNodegroupConfig"
_CLUSTER_NAMESPACE = "sourcegraph"


def cluster_args(
    name: str, settings: PocSettings, workload: Workload, tags: dict[str, str]
) -> EksClusterArgs:
    """The cluster's arguments with placeholder network ids, so they can be validated and packed first."""
    lbc_values: dict[str, Any] = {
        # The controller's own tags let the budget (poc tag) find the ALB, and carry sgarch's like every resource.
        "defaultTags": default_tags(ARCHITECTURE, pulumi.get_stack(), tags),
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
        cluster_name=f"{CLUSTER_NAME_PREFIX}{name}",
        admin_principal_arns=settings.admin_principal_arns,
        endpoint_public_access=False,
        private_access_cidrs=settings.api_access_cidrs or settings.alb_cidrs(),
        load_balancer_controller_values=lbc_values,
        volume_tags=tags,
        tags=tags,
        architecture=ARCHITECTURE,
    )


def eks(parts: PocParts, args: EksClusterArgs) -> dict[str, Any]:
    """The cluster (``args`` from :func:`cluster_args`, wired to the network), the Sourcegraph release and the
    scale-to-zero schedules; the stack outputs of this runtime."""
    name, settings, net = parts.name, parts.settings, parts.net
    cluster = EksCluster(
        name,
        args.model_copy(update={"vpc_id": net.vpc_id, "private_subnet_ids": net.private_subnet_ids}),
        opts=parts.child(),
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
            chart_version=settings.sourcegraph_version,
            image_repository=settings.image_registry,
            internet_facing=False,
            certificate_arn=parts.certificate_arn,
            host=settings.record_name,
            inbound_cidrs=settings.alb_cidrs(),
            alb_access_logs=settings.alb_access_logs,
            alb_access_logs_bucket=settings.alb_access_logs_bucket,
            alb_deletion_protection=settings.alb_deletion_protection,
            tags=args.tags,
            architecture=ARCHITECTURE,
        ),
        opts=parts.child(providers=[cluster.provider], depends_on=[cluster]),
    )
    _scale_to_zero_after_expiry(parts, cluster)
    own_zone = not settings.private_zone_id
    return {
        "url": pulumi.Output.from_input(f"https://{settings.record_name}"),
        "tier": args.sizing_estimate().tier.value,
        "cluster_name": cluster.cluster_name,
        "kubeconfig": cluster.kubeconfig,
        "node_group_names": pulumi.Output.all(*[g.node_group_name for g in cluster.node_groups]),
        "dns_record": pulumi.Output.from_input(parts.zone_id).apply(
            lambda zone: _dns_instruction(settings.record_name, zone, release.namespace, own_zone)
        ),
    }


def eks_endpoints(parts: PocParts, vpc_cidrs: Sequence[pulumi.Input[str]]) -> None:
    """The interface endpoints the cluster needs beyond the single node's (``EKS_ENDPOINT_SERVICES``),
    reachable on 443 from each of ``vpc_cidrs`` (every IPv4 block of the VPC, primary first)."""
    # Network validates its endpoint list against the single node's needs; the cluster's extra ones are the
    # POC's own wiring.
    name, net, tags, child = parts.name, parts.net, parts.tags, parts.child()
    group = aws.ec2.SecurityGroup(
        f"{name}-eks-endpoints-sg",
        vpc_id=net.vpc_id,
        description="HTTPS from inside the VPC to the interface endpoints of the EKS POC",
        tags=tags | {"Name": f"{name}-eks-endpoints-sg"},
        opts=child,
    )
    # One rule per block, as the Network's endpoints have: a node or pod in a secondary block (a common home
    # for pods) would otherwise time out on every EC2, ELB and EKS Auth call. The first keeps its old name.
    for i, cidr in enumerate(vpc_cidrs):
        rule = f"{name}-eks-endpoints-https" if i == 0 else f"{name}-eks-endpoints-https-{i}"
        aws.vpc.SecurityGroupIngressRule(
            rule,
            security_group_id=group.id,
            cidr_ipv4=cidr,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            description="HTTPS from the VPC" if i == 0 else "HTTPS from a secondary block of the VPC",
            tags=tags | {"Name": rule},
            opts=child,
        )
    region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=parts.parent)).region
    for service in EKS_ENDPOINT_SERVICES:
        endpoint = f"{name}-{service}"
        aws.ec2.VpcEndpoint(
            endpoint,
            vpc_id=net.vpc_id,
            service_name=region.apply(_service_name(service)),
            vpc_endpoint_type="Interface",
            subnet_ids=net.private_subnet_ids,
            security_group_ids=[group.id],
            private_dns_enabled=True,
            tags=tags | {"Name": endpoint},
            opts=child,
        )


def _scale_to_zero_after_expiry(parts: PocParts, cluster: EksCluster) -> None:
    name, groups = parts.name, cluster.node_groups
    role, group = scheduler_role(
        parts,
        "sgarch POC: lets EventBridge Scheduler scale the POC's node groups to zero after its expiry",
        pulumi.Output.all(*[g.arn for g in groups]).apply(
            lambda arns: allow("eks:UpdateNodegroupConfig", list(arns))
        ),
    )
    start = first_stop(parts.expiry)
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
            opts=parts.child(),
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


def _service_name(service: str) -> Callable[[str], str]:
    return lambda region: f"com.amazonaws.{region}.{service}"


def _dns_instruction(record_name: str, zone_id: str, namespace: str, own_zone: bool) -> str:
    kind = (
        "an alias A record at the zone's apex (a CNAME is not allowed there)"
        if own_zone
        else "an alias A record (or a CNAME)"
    )
    return (
        f"create {record_name} in Route53 zone {zone_id} as {kind} of the ALB named by "
        f"`kubectl -n {namespace} get ingress` once the load balancer controller has created it"
    )
