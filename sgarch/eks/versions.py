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
    "SINGLE_BUCKET_MINIMUM",
    "SOURCEGRAPH_CHART_RELEASES",
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

SOURCEGRAPH_CHART_RELEASES: tuple[str, ...] = (
    "7.0.0",
    "7.0.2178",
    "7.0.2852",
    "7.1.0",
    "7.1.2426",
    "7.2.0",
    "7.2.1943",
    "7.3.0",
    "7.3.2527",
    "7.4.0",
    "7.4.2513",
    "7.5.0",
    "7.5.4453",
    "7.6.0",
)
"""Releases of the ``sourcegraph`` chart an EKS stack's ``sourcegraph_version`` may pin, oldest first.

Each is a release tag ``v<version>`` of github.com/sourcegraph/deploy-sourcegraph-helm whose Chart.yaml has
``version`` and ``appVersion`` equal to it, and whose values.yaml pins every Sourcegraph image to the same
release by digest (``<service>.image.defaultTag: <version>@sha256:...``), so the chart version alone fixes
the images. The list is the 7.x releases: every one declares each values key sgarch sets (checked tag by
tag against the committed Helm values goldens), none runs the repo-updater or symbols services sgarch's
sizing no longer has, and all need PostgreSQL 16, which sgarch's RDS and the chart's own databases run.
Add a release here once its chart has been checked the same way."""

SINGLE_BUCKET_MINIMUM = "7.2.0"
"""The first release that keeps code-intel uploads and search-job results in the one "Sourcegraph bucket"
(``SOURCEGRAPH_UPLOAD_*``), the only object-storage settings sgarch's ``s3`` option writes (Sourcegraph's
object-storage docs: "Starting in Sourcegraph 7.2, new instances only need to configure the Sourcegraph
bucket")."""
