"""The single-node runtime of the POC: one instance behind an internal ALB, stopped after the expiry."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from sgarch.refarch.poc._settings import PocSettings
from sgarch.refarch.poc._shared import (
    ARCHITECTURE,
    PocParts,
    allow,
    first_stop,
    scheduler_role,
    stop_schedule_expression,
)
from sgarch.single_node.args import EgressRule, LoadBalancerArgs, SingleNodeArgs
from sgarch.single_node.component import SingleNode
from sgarch.sizing.storage import poc_data_volume_gib
from sgarch.validation import build

__all__ = ["STOP_TARGET", "node_args", "port_forwarding_command", "single_node"]

STOP_TARGET = "arn:aws:scheduler:::aws-sdk:ec2:stopInstances"
"""EC2 StopInstances through EventBridge Scheduler's universal target."""


def port_forwarding_command(instance_id: str, record_name: str) -> str:
    """The Session Manager command that brings the ALB to the user's machine on port 443.

    The SSM agent on the instance opens the connection, so ``record_name`` is resolved inside the VPC, where
    the private zone answers, and the ALB sees the VPC's own address, which it admits by default. The user
    maps ``record_name`` to 127.0.0.1 in their hosts file, so the certificate's name matches.
    """
    return (
        f"aws ssm start-session --target {instance_id} --document-name AWS-StartPortForwardingSessionToRemoteHost "
        f"--parameters host={record_name},portNumber=443,localPortNumber=443"
    )


def node_args(settings: PocSettings, tags: dict[str, str]) -> SingleNodeArgs:
    """The instance's arguments with placeholder network ids, so every check runs before the first resource."""
    workload = settings.workload()
    egress = None
    if settings.egress_allowlist:
        egress = tuple(build(EgressRule, None, **rule) for rule in settings.egress_allowlist)
    return build(
        SingleNodeArgs,
        None,
        vpc_id="pending",
        subnet_id="pending",
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
            certificate_arn="pending",
            subnet_ids=["pending"] * 2,
            internet_facing=False,
            allowed_cidrs=settings.allowed_cidrs,
            zone_id="pending",
            record_name=settings.record_name,
            access_logs=settings.alb_access_logs,
            access_logs_bucket=settings.alb_access_logs_bucket,
            deletion_protection=settings.alb_deletion_protection,
        ),
        egress_allowlist=egress,
        http_proxy=settings.http_proxy,
        no_proxy=settings.no_proxy,
        proxy_cidrs=settings.proxy_cidrs,
        aws_endpoints_in_vpc=settings.aws_endpoints_in_vpc(),
        tags=tags,
        architecture=ARCHITECTURE,
    )


def single_node(parts: PocParts, args: SingleNodeArgs) -> dict[str, Any]:
    """The SingleNode component (``args`` from :func:`node_args`, wired to the network) and its stop
    schedule; the stack outputs of this runtime."""
    settings, net = parts.settings, parts.net
    instance_subnet: pulumi.Input[str] = (
        settings.subnet_ids[0] if settings.vpc_id else net.private_subnet_ids.apply(lambda ids: ids[0])
    )
    assert args.load_balancer is not None
    load_balancer = args.load_balancer.model_copy(
        update={
            "certificate_arn": parts.certificate_arn,
            "subnet_ids": net.private_subnet_ids,
            "zone_id": parts.zone_id,
        }
    )
    node = SingleNode(
        parts.name,
        args.model_copy(
            update={"vpc_id": net.vpc_id, "subnet_id": instance_subnet, "load_balancer": load_balancer}
        ),
        opts=parts.child(),
    )
    _stop_after_expiry(parts, node)
    return {
        "url": node.url,
        "instance_id": node.instance_id,
        "data_volume_id": node.data_volume_id,
        "port_forwarding": node.instance_id.apply(
            lambda instance: port_forwarding_command(instance, settings.record_name)
        ),
        "tier": settings.planned_tier().value,
    }


def _stop_after_expiry(parts: PocParts, node: SingleNode) -> None:
    role, group = scheduler_role(
        parts,
        "sgarch POC: lets EventBridge Scheduler stop the POC instance after its expiry",
        node.instance.arn.apply(lambda arn: allow("ec2:StopInstances", arn)),
    )
    start = first_stop(parts.expiry)
    aws.scheduler.Schedule(
        f"{parts.name}-stop-after-expiry",
        group_name=group.name,
        description=f"Stop the POC instance every hour from {start[:10]}; it is never deleted",
        schedule_expression=stop_schedule_expression(),
        schedule_expression_timezone="UTC",
        start_date=start,
        flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
        target=aws.scheduler.ScheduleTargetArgs(
            arn=STOP_TARGET,
            role_arn=role.arn,
            input=node.instance_id.apply(lambda instance: json.dumps({"InstanceIds": [instance]})),
        ),
        opts=parts.child(),
    )
