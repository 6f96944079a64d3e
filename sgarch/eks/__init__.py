"""EKS for Sourcegraph: the ``EksCluster`` component.

The node sizing behind it is pure and lives in :mod:`sgarch.sizing`; its names are re-exported here, where
they were first published.
"""

from __future__ import annotations

from sgarch.eks.access import kubeconfig_json
from sgarch.eks.args import EksClusterArgs
from sgarch.eks.component import STORAGE_CLASS_NAME, EksCluster
from sgarch.sizing import (
    CANDIDATE_INSTANCE_TYPES,
    DEFAULT_HEADROOM,
    EXTERNAL_SERVICES,
    INSTANCE_TYPES,
    InstanceType,
    NodePlan,
    NodeShape,
    PodRequest,
    first_fit_decreasing,
    plan_node_groups,
)

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
