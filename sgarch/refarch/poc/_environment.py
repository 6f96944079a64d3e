"""``PocEnvironment``: the network, zone, certificate, runtime, expiry and budget of one POC; and ``deploy``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pulumi

from sgarch.component import Component
from sgarch.naming import (
    EKS_NODE_GROUP_NAME,
    EKS_NODE_GROUP_PART,
    LOAD_BALANCER_NAME,
    MANAGED_BY_TAG,
    MANAGED_BY_VALUE,
    S3_BUCKET_NAME,
    SCHEDULE_NAME,
    SECURITY_GROUP_NAME,
    TARGET_GROUP_NAME,
    check_autonamed,
)
from sgarch.network import check_brought_network
from sgarch.refarch.poc._eks import EKS_ENDPOINT_SERVICES, cluster_args, eks, eks_endpoints
from sgarch.refarch.poc._network import connect, network
from sgarch.refarch.poc._settings import PocSettings
from sgarch.refarch.poc._shared import ARCHITECTURE as POC_ARCHITECTURE
from sgarch.refarch.poc._shared import (
    EXPIRY_TAG,
    POC_TAG,
    PocParts,
    budget,
    certificate,
    cost_allocation_note,
    private_zone,
)
from sgarch.refarch.poc._single_node import node_args, single_node
from sgarch.tiers import TIERS
from sgarch.validation import ComponentArgs

__all__ = ["PocEnvironment", "deploy"]


class PocEnvironment(Component):
    """A private, time-boxed Sourcegraph POC.

    Outputs (``outputs`` holds them as the stack exports them): ``url``, ``expires_on``, ``tier`` and
    ``cost_allocation_tag`` (what the budget needs); with the single node ``instance_id``, ``data_volume_id``
    and ``port_forwarding`` (the Session Manager command that brings the ALB to your machine); with EKS
    ``cluster_name``, ``kubeconfig`` (secret), ``node_group_names`` and ``dns_record`` (the record to create
    once the ALB exists); with a new VPC ``transit_gateway_attachment_id`` or ``vpc_peering_connection_id``.
    """

    url: pulumi.Output[str]
    expires_on: str
    outputs: dict[str, Any]

    ARCHITECTURE = POC_ARCHITECTURE

    def __init__(
        self,
        name: str,
        settings: PocSettings,
        today: dt.date | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        expiry = settings.expiry(today)
        # The expiry goes only where it acts (the schedules) and where it is reported (the budget): a tag on
        # everything would make extending the POC update every resource, and roll every EKS node.
        poc_tags = {POC_TAG: name} | dict(settings.tags)
        # The components add sgarch's tags themselves; ManagedBy is among theirs as it always was, because the
        # EKS nodes' launch template and the StorageClass carry exactly these tags, and a change to either
        # rolls every node or replaces the StorageClass.
        component_tags = {MANAGED_BY_TAG: MANAGED_BY_VALUE} | poc_tags
        workload = settings.workload()
        eks_args = (
            cluster_args(name, settings, workload, component_tags) if settings.runtime == "eks" else None
        )
        instance_args = node_args(settings, component_tags) if eks_args is None else None
        # What runs in the VPC, so a new one spans zones that offer it. Packing the nodes also fails on a bad
        # combination before the first resource is registered.
        if eks_args is not None:
            instance_types: tuple[str, ...] = (eks_args.node_plan().instance_type.name,)
        else:
            assert instance_args is not None
            instance_type = instance_args.instance_type or TIERS[instance_args.tier].recommended_instance_type
            assert instance_type is not None  # SingleNodeArgs admits machine tiers only
            instance_types = (instance_type,)
        services = settings.endpoint_services()
        eks_services = EKS_ENDPOINT_SERVICES if eks_args is not None and services else ()
        zone_ids: pulumi.Input[list[str]] | None = None
        brought_cidrs: tuple[str, ...] = ()
        if settings.vpc_id:
            brought = check_brought_network(
                settings.vpc_id,
                settings.subnet_ids,
                min_zones=2,
                interface_endpoints=(*services, *eks_services),
                private_dns=not settings.private_zone_id,
                eks_cluster=eks_args is not None,
            )
            zone_ids = list(brought.availability_zone_ids)
            brought_cidrs = brought.vpc_cidrs
        super().__init__(
            "sgarch:refarch:PocEnvironment",
            name,
            ComponentArgs(tags=poc_tags, architecture=POC_ARCHITECTURE),
            opts,
        )
        # The POC's own resources: sgarch's tags, poc=<name> (what the budget counts) and the user's.
        tags = self._tags()

        net = network(self, name, settings, services, component_tags, instance_types, eks_services)
        links = connect(self, name, settings, net, tags)
        zone_id = private_zone(self, name, settings, net.vpc_id, tags)
        parts = PocParts(
            parent=self,
            name=name,
            settings=settings,
            net=net,
            zone_id=zone_id,
            certificate_arn=settings.certificate_arn or certificate(self, name, settings, tags),
            expiry=expiry,
            tags=tags,
            expiry_tags=self._tags({EXPIRY_TAG: expiry.isoformat()}),
        )
        self.expires_on = expiry.isoformat()
        if instance_args is not None:
            runtime = single_node(parts, instance_args)
        elif eks_args is not None:
            if eks_services:
                # Every block of a brought VPC (known from the checks); a new VPC has only its primary one.
                eks_endpoints(parts, list(brought_cidrs) or [net.vpc_cidr])
            runtime = eks(parts, eks_args)
        budget(parts)
        self.url = runtime["url"]
        self.outputs = {
            **runtime,
            "expires_on": self.expires_on,
            "cost_allocation_tag": cost_allocation_note(settings),
            "availability_zone_ids": net.availability_zone_ids if zone_ids is None else zone_ids,
            **links,
        }
        self.register_outputs(dict(self.outputs))


def deploy(name: str, settings: PocSettings, today: dt.date | None = None) -> dict[str, Any]:
    """Create the POC and return the stack outputs."""
    # Pulumi autonames these children `<name>-<part>-<7 random hex>`: the security groups (the instance's, or the
    # interface endpoints' on EKS); on EKS the node groups (`<name>-nodes-<i>-<8 hex generation>`) and their
    # scale-to-zero schedules and the release's ALB log bucket; otherwise the single node's ALB, target group and stop schedule.
    if settings.runtime == "eks":
        autonamed = [
            ("eks-endpoints-sg", SECURITY_GROUP_NAME),
            (EKS_NODE_GROUP_PART, EKS_NODE_GROUP_NAME),
            ("stop-nodes-0", SCHEDULE_NAME),
        ]
        if settings.alb_access_logs and not settings.alb_access_logs_bucket:
            autonamed.append(("sourcegraph-alb-logs", S3_BUCKET_NAME))
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
