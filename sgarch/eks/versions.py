"""Versions sgarch pins for EKS. Pure data; change them deliberately, with a CHANGELOG entry."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

__all__ = [
    "DEFAULT_KUBERNETES_VERSION",
    "EKS_CHARTS_REPOSITORY",
    "EKS_KUBERNETES_VERSIONS",
    "EKS_KUBERNETES_VERSIONS_AS_OF",
    "EKS_KUBERNETES_VERSIONS_SOURCE",
    "LOAD_BALANCER_CONTROLLER_CHART_VERSION",
    "LOAD_BALANCER_CONTROLLER_POLICY_VERSION",
    "MANAGED_ADDONS",
    "SOURCEGRAPH_CHART_REPOSITORY",
    "SOURCEGRAPH_CHART_VERSION",
    "STANDARD_SUPPORT_KUBERNETES_VERSIONS",
    "SUPPORTED_KUBERNETES_VERSIONS",
    "EksKubernetesVersion",
]

DEFAULT_KUBERNETES_VERSION = "1.35"
"""The EKS Kubernetes minor sgarch creates clusters with. Upgrade one minor at a time."""


class EksKubernetesVersion(NamedTuple):
    """One row of EKS's Kubernetes release calendar (dates in UTC)."""

    version: str
    eks_release: dt.date
    end_of_standard_support: dt.date
    end_of_extended_support: dt.date


EKS_KUBERNETES_VERSIONS_SOURCE = (
    "https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html (release calendar, 1.29 to "
    "1.34); 1.35 from https://endoflife.date/amazon-eks"
)
EKS_KUBERNETES_VERSIONS_AS_OF = dt.date(2026, 2, 14)
"""When :data:`EKS_KUBERNETES_VERSIONS` was copied from its sources. Refresh it with each new EKS minor."""

EKS_KUBERNETES_VERSIONS: tuple[EksKubernetesVersion, ...] = (
    EksKubernetesVersion("1.29", dt.date(2024, 1, 23), dt.date(2025, 3, 23), dt.date(2026, 3, 23)),
    EksKubernetesVersion("1.30", dt.date(2024, 5, 23), dt.date(2025, 7, 23), dt.date(2026, 7, 23)),
    EksKubernetesVersion("1.31", dt.date(2024, 9, 26), dt.date(2025, 11, 26), dt.date(2026, 11, 26)),
    EksKubernetesVersion("1.32", dt.date(2025, 1, 23), dt.date(2026, 3, 23), dt.date(2027, 3, 23)),
    EksKubernetesVersion("1.33", dt.date(2025, 5, 29), dt.date(2026, 7, 29), dt.date(2027, 7, 29)),
    EksKubernetesVersion("1.34", dt.date(2025, 10, 2), dt.date(2026, 12, 2), dt.date(2027, 12, 2)),
    EksKubernetesVersion("1.35", dt.date(2026, 1, 28), dt.date(2027, 3, 27), dt.date(2028, 3, 27)),
)
"""EKS's Kubernetes release calendar as of :data:`EKS_KUBERNETES_VERSIONS_AS_OF`, oldest first."""

SUPPORTED_KUBERNETES_VERSIONS: tuple[str, ...] = tuple(
    v.version for v in EKS_KUBERNETES_VERSIONS if v.end_of_extended_support > EKS_KUBERNETES_VERSIONS_AS_OF
)
"""Versions EKS creates clusters with (standard or extended support) on the calendar's date. Deliberately
tied to that date, not to today: a plan must not start failing on its own the day a version retires."""

STANDARD_SUPPORT_KUBERNETES_VERSIONS: tuple[str, ...] = tuple(
    v.version for v in EKS_KUBERNETES_VERSIONS if v.end_of_standard_support > EKS_KUBERNETES_VERSIONS_AS_OF
)
"""Versions in EKS standard support on the calendar's date. sgarch keeps clusters on the STANDARD upgrade
policy, under which EKS upgrades a control plane itself when its standard support ends."""

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
