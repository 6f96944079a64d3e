"""Versions sgarch pins for EKS. Pure data; change them deliberately, with a CHANGELOG entry."""

from __future__ import annotations

__all__ = [
    "DEFAULT_KUBERNETES_VERSION",
    "EKS_CHARTS_REPOSITORY",
    "LOAD_BALANCER_CONTROLLER_CHART_VERSION",
    "LOAD_BALANCER_CONTROLLER_POLICY_VERSION",
    "MANAGED_ADDONS",
    "SOURCEGRAPH_CHART_REPOSITORY",
    "SOURCEGRAPH_CHART_VERSION",
]

DEFAULT_KUBERNETES_VERSION = "1.34"
"""The EKS Kubernetes minor sgarch creates clusters with. Upgrade one minor at a time."""

MANAGED_ADDONS: tuple[str, ...] = (
    "vpc-cni",
    "kube-proxy",
    "eks-pod-identity-agent",
    "coredns",
    "aws-ebs-csi-driver",
)
"""EKS managed add-ons every cluster gets. The first three install before the nodes (networking and pod
credentials must be there when the first pod starts), the last two after (they run Deployments)."""

EKS_CHARTS_REPOSITORY = "https://aws.github.io/eks-charts"
LOAD_BALANCER_CONTROLLER_CHART_VERSION = "3.5.0"
"""Chart ``aws-load-balancer-controller``, the release whose IAM policy is in ``data/``."""
LOAD_BALANCER_CONTROLLER_POLICY_VERSION = "v3.5.0"

SOURCEGRAPH_CHART_REPOSITORY = "https://helm.sourcegraph.com/release"
SOURCEGRAPH_CHART_VERSION = "7.6.0"
"""Chart ``sourcegraph``; its values keys are the ones ``tests/data/chart-keys.txt`` lists."""
