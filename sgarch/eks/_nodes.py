"""The EKS nodes: their role, the launch template and one managed node group per zone.

Registered under the :class:`~sgarch.eks.EksCluster` they belong to, with the names it gives (``<name>-node-role``,
``<name>-nodes-lt``, ``<name>-nodes-<i>-<generation>``); moving them here changed no URN.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from sgarch.eks import iam
from sgarch.naming import merge_tags
from sgarch.sizing.nodegroups import NODE_AMI_TYPE, NODE_CAPACITY_TYPE, node_group_generation

if TYPE_CHECKING:
    from sgarch.eks.component import EksCluster

__all__ = ["node_groups"]


def node_groups(
    owner: EksCluster, cluster: aws.eks.Cluster, early: list[aws.eks.Addon]
) -> list[aws.eks.NodeGroup]:
    """The node role, the launch template and the node groups of ``owner`` (in zone order).

    ``early`` are the add-ons the nodes need to become ready (the VPC CNI first of all).
    """
    args, plan = owner._args, owner.node_plan
    child = owner._opts()
    role = owner._role("node-role", iam.node_trust_policy(), child)
    attachments = [
        aws.iam.RolePolicyAttachment(owner._n("node", short), role=role.name, policy_arn=arn, opts=child)
        for short, arn in iam.NODE_POLICY_ARNS.items()
    ]
    # The nodes' own tags are the user's and a Name, without sgarch's convention tags: any change to them is
    # a new launch template version, which rolls every node of every group. Add those with the next change
    # that rolls the nodes anyway.
    node_tags = merge_tags(args.tags, {"Name": owner._n("node")})
    template = aws.ec2.LaunchTemplate(
        owner._n("nodes-lt"),
        description="EKS nodes: IMDSv2 only, encrypted gp3 root volume",
        # Hop limit 2: the EBS CSI driver's pods read instance metadata (with 1 they fall back to
        # Kubernetes metadata, which AWS documents as less accurate for volume attach limits). Pods can
        # then reach the node role; Sourcegraph's and the controllers' pods use Pod Identity instead.
        metadata_options={
            "http_endpoint": "enabled",
            "http_tokens": "required",
            "http_put_response_hop_limit": 2,
        },
        block_device_mappings=[
            {
                "device_name": "/dev/xvda",
                "ebs": {
                    "volume_size": args.root_volume_gib,
                    "volume_type": "gp3",
                    # The account's EBS key: Auto Scaling can use it without a key-policy grant.
                    "encrypted": "true",
                    "delete_on_termination": "true",
                },
            }
        ],
        tag_specifications=[{"resource_type": kind, "tags": node_tags} for kind in ("instance", "volume")],
        update_default_version=True,
        tags=owner._tagged(owner._n("nodes-lt")),
        opts=child,
    )
    subnets = pulumi.Output.from_input(args.private_subnet_ids)
    generation = node_group_generation(plan.instance_type.name, args.root_volume_gib)
    groups = []
    for i, count in enumerate(plan.nodes_per_az):
        name = owner._n("nodes", i, generation)
        groups.append(
            aws.eks.NodeGroup(
                name,
                cluster_name=cluster.name,
                # No node_group_name: Pulumi autonames it from the logical name plus a random suffix, so
                # neither a new generation nor a provider-forced replacement collides with a live group.
                # The cluster's output, not the argument: nodes are upgraded after the control plane.
                version=cluster.version,
                node_role_arn=role.arn,
                subnet_ids=subnets.apply(_nth_subnet(i)),
                instance_types=[plan.instance_type.name],
                ami_type=NODE_AMI_TYPE,
                capacity_type=NODE_CAPACITY_TYPE,
                scaling_config={"desired_size": count, "min_size": count, "max_size": count + 1},
                update_config={"max_unavailable": 1},
                launch_template={
                    "id": template.id,
                    "version": template.latest_version.apply(str),
                },
                labels={"sgarch.dev/zone-index": str(i)},
                tags=owner._tagged(name),
                # Groups used to be named <name>-nodes-<i>: the alias adopts such a group instead of
                # rotating its nodes for the rename alone (a state without it makes the alias a no-op).
                opts=owner._opts(
                    depends_on=[*attachments, *early],
                    aliases=[pulumi.Alias(name=owner._n("nodes", i))],
                ),
            )
        )
    return groups


def _nth_subnet(index: int) -> Callable[[Sequence[str]], list[str]]:
    def pick(ids: Sequence[str]) -> list[str]:
        return [ids[index]]

    return pick
