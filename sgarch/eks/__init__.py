"""EKS for Sourcegraph: the ``EksCluster`` component and the pure node sizing behind it."""

from __future__ import annotations

from sgarch.eks.args import EksClusterArgs
from sgarch.eks.component import STORAGE_CLASS_NAME, EksCluster, kubeconfig_json
from sgarch.eks.instances import CANDIDATE_INSTANCE_TYPES, INSTANCE_TYPES, InstanceType
from sgarch.eks.nodegroups import DEFAULT_HEADROOM, EXTERNAL_SERVICES, NodePlan, plan_node_groups
from sgarch.eks.packing import NodeShape, PodRequest, first_fit_decreasing

__all__ = [
    "CANDIDATE_INSTANCE_TYPES",
    "DEFAULT_HEADROOM",
    "EXTERNAL_SERVICES",
    "INSTANCE_TYPES",
    "STORAGE_CLASS_NAME",
    "EksCluster",
    "EksClusterArgs",
    "InstanceType",
    "NodePlan",
    "NodeShape",
    "PodRequest",
    "first_fit_decreasing",
    "kubeconfig_json",
    "plan_node_groups",
]
