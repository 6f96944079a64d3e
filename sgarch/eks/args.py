"""Arguments of the :class:`~sgarch.eks.EksCluster` component: validated before any resource exists."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from pydantic import Field, field_validator, model_validator

from sgarch.cost import load_price_table
from sgarch.eks.access import validate_admin_principal_arns
from sgarch.eks.versions import (
    DEFAULT_KUBERNETES_VERSION,
    EKS_KUBERNETES_VERSIONS_AS_OF,
    MANAGED_ADDONS,
    STANDARD_SUPPORT_KUBERNETES_VERSIONS,
    SUPPORTED_KUBERNETES_VERSIONS,
)
from sgarch.errors import ConfigError
from sgarch.naming import validate_tags
from sgarch.sizing import Estimate, Workload, estimate, estimate_for_tier
from sgarch.sizing.nodegroups import DEFAULT_HEADROOM, EXTERNAL_SERVICES, NodePlan, plan_node_groups
from sgarch.tiers import Tier, get_tier
from sgarch.validation import ComponentArgs, StrInput, StrListInput, validate_log_retention_days

CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
"""Every control-plane log type EKS can send to CloudWatch Logs."""

__all__ = ["CONTROL_PLANE_LOG_TYPES", "EksClusterArgs", "parse_cidrs"]

_K8S_VERSION = re.compile(r"^1\.\d{2}$")
_CLUSTER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")


def parse_cidrs(field: str, cidrs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network, ...]:
    """Each of ``cidrs`` as an IPv4 network in CIDR notation (prefix written, no host bits set).

    EKS's endpoint access lists and security-group rules take IPv4 blocks only; a bare address or a block
    with host bits set is a typo more often than a choice, so both are refused with the corrected form.
    """
    networks = []
    for cidr in cidrs:
        hint = "write them as 203.0.113.0/24 (a single address is 203.0.113.10/32)"
        try:
            if "/" not in cidr:
                raise ValueError(cidr)
            networks.append(ipaddress.IPv4Network(cidr, strict=True))
        except ValueError as exc:
            if "has host bits set" in str(exc):
                hint = f"use the network address {ipaddress.IPv4Network(cidr, strict=False)}"
            raise ConfigError(field, "IPv4 CIDR blocks such as 203.0.113.0/24", cidr, hint) from None
    return tuple(networks)


class EksClusterArgs(ComponentArgs):
    """Arguments of :class:`~sgarch.eks.EksCluster`. Plain values choose resources; ids are Pulumi inputs."""

    vpc_id: StrInput
    """The VPC of the cluster. Required (``Network.vpc_id`` or your own)."""
    private_subnet_ids: StrListInput
    """Private subnets, one per availability zone, in zone order. The control plane's network interfaces
    use all of them; node group ``i`` uses subnet ``i``. Required."""
    availability_zone_count: int = 2
    """How many of ``private_subnet_ids`` get a node group (one per zone). Default: 2, the minimum."""

    tier: Tier | None = None
    """Size tier, XS to 3XL. Default: the tier ``workload`` needs, or XS without one. With a workload, a
    tier at or above what it needs is planned as asked; a smaller one is a ConfigError naming both."""
    workload: Workload | None = None
    """The workload to size nodes for. Default: the top of ``tier`` (its limits and 100 GB of repositories)."""
    excluded_services: frozenset[str] = frozenset()
    """Sourcegraph services that run outside the cluster (RDS, ElastiCache, S3) and need no node capacity.
    Default: none, everything runs in the cluster."""
    instance_type: str | None = None
    """Node instance type. Default: the cheapest of m6a.2xlarge to m6a.16xlarge that packs the pods."""
    node_count: int | None = None
    """Total nodes over all zones. Default: what first-fit decreasing packing needs, at least one per zone."""
    node_headroom: float = DEFAULT_HEADROOM
    """Fraction of each node's pod capacity kept free. Default: 0.15."""
    root_volume_gib: int = Field(default=100, ge=20, le=16384)
    """Node root volume (gp3, encrypted with the account's EBS key): images and pod scratch space.
    Default: 100 GiB."""

    cluster_name: str | None = None
    """The EKS cluster's name. Default: the component's name. Changing it replaces the cluster."""
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION
    """Kubernetes minor version, pinned; one EKS supports (``sgarch.eks.versions``). The node groups and the
    managed add-ons follow it after the control plane. Default: the version sgarch was tested with."""
    addon_versions: dict[str, str] = Field(default_factory=dict)
    """Pinned managed add-on versions by add-on name. Default: EKS's default version of each add-on for the
    cluster's Kubernetes version, looked up on every run, so the add-ons move with ``kubernetes_version``."""
    admin_principal_arns: tuple[str, ...] = ()
    """IAM roles or users that get cluster-admin through an access entry, each principal once. Default: none
    besides the identity running Pulumi (``bootstrap_cluster_creator_admin``)."""
    bootstrap_cluster_creator_admin: bool = True
    """Give the identity running Pulumi cluster-admin, which the StorageClass and the Helm releases need,
    through an access entry sgarch declares (an assumed role counts as its role; a role that is also in
    ``admin_principal_arns`` gets one entry). EKS's own creator bootstrap stays off, so no entry exists
    outside Pulumi's state. Default: on. Turned off, the entry of the last identity that ran Pulumi goes."""
    endpoint_public_access: bool = False
    """Expose the Kubernetes API endpoint publicly, besides the private endpoint. Default: private only; run
    Pulumi and kubectl from inside the VPC (a VPN, a CI runner, SSM port forwarding). The Kubernetes
    provider runs where ``pulumi up`` runs, so a VPC created in the same run needs the public endpoint."""
    public_access_cidrs: tuple[str, ...] = ()
    """Who may reach a public endpoint (IPv4 CIDR blocks). Required with ``endpoint_public_access``; a /0
    block needs ``allow_public_api_from_anywhere``. Default: none (the endpoint is private by default)."""
    allow_public_api_from_anywhere: bool = False
    """Accept a /0 block (every address) in ``public_access_cidrs``. Default: off; the API still requires
    AWS credentials, but its exposure is a decision to write down."""
    private_access_cidrs: tuple[str, ...] = ()
    """Networks allowed to reach the private endpoint on 443 (your VPC's CIDR, a VPN range). Default: only
    the cluster's own security group (nodes and control plane)."""
    kms_key_arn: StrInput | None = None
    """Customer-managed KMS key for Kubernetes secrets and persistent volumes. Default: a new key with
    rotation on, kept when the stack is destroyed (retained volumes need it)."""
    log_retention_days: int = 365
    """Retention of the control-plane log group, one of the periods CloudWatch Logs accepts (1, 3, 5, 7, 14,
    30, 60, 90, ... 3653). Default: 365 days, the year of audit trail audits ask for (less is policy finding
    SGA-022)."""
    log_kms_key_arn: StrInput | None = None
    """KMS key encrypting the control-plane log group; its key policy must let
    ``logs.<region>.amazonaws.com`` use it. Default: CloudWatch Logs' own encryption."""
    enabled_cluster_log_types: tuple[str, ...] = ("api", "audit", "authenticator")
    """Control-plane log types sent to CloudWatch, from ``api``, ``audit``, ``authenticator``,
    ``controllerManager`` and ``scheduler``. Default: api, audit and authenticator (fewer is policy finding
    SGA-015)."""
    kubeconfig_profile: str | None = None
    """AWS CLI profile the kubeconfig's ``aws eks get-token`` uses. Default: the stack's ``aws:profile``,
    else the AWS CLI's own default (``AWS_PROFILE`` or ``default``)."""
    kubeconfig_role_arn: str | None = None
    """Role ``aws eks get-token`` assumes. Default: the last role of the stack's ``aws:assumeRoles``, so the
    kubeconfig authenticates as the identity Pulumi uses (the one with the admin access entry)."""
    load_balancer_controller: bool = True
    """Install the AWS Load Balancer Controller. Default: on (the Sourcegraph ingress needs it)."""
    load_balancer_controller_values: dict[str, Any] = Field(default_factory=dict)
    """Extra values of the controller's chart, merged over sgarch's at the top level (``image`` for a
    registry mirror, ``defaultTags`` for the load balancers it creates). Default: none."""
    volume_tags: dict[str, str] = Field(default_factory=dict)
    """Tags the EBS CSI driver puts on every volume it creates through the default StorageClass. Default:
    none (the volumes then carry only the driver's own tags)."""

    @field_validator("kubernetes_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not _K8S_VERSION.match(value):
            raise ConfigError(
                "kubernetes_version", "a Kubernetes minor such as 1.34", value, "give major.minor only"
            )
        if value not in SUPPORTED_KUBERNETES_VERSIONS:
            raise ConfigError(
                "kubernetes_version",
                f"a version EKS supports ({', '.join(SUPPORTED_KUBERNETES_VERSIONS)} as of "
                f"{EKS_KUBERNETES_VERSIONS_AS_OF.isoformat()})",
                value,
                "pick one of them, upgrading one minor at a time; a newer EKS release needs its row in "
                "sgarch/eks/versions.py",
            )
        if value not in STANDARD_SUPPORT_KUBERNETES_VERSIONS:
            prices = load_price_table().regions["us-east-1"]
            raise ConfigError(
                "kubernetes_version",
                f"a version in EKS standard support ({', '.join(STANDARD_SUPPORT_KUBERNETES_VERSIONS)} as of "
                f"{EKS_KUBERNETES_VERSIONS_AS_OF.isoformat()})",
                value,
                f"{value} is in extended support, which costs ${prices.eks_cluster_extended_support_hourly:.2f} "
                f"per cluster-hour instead of ${prices.eks_cluster_hourly:.2f} (about "
                f"${prices.eks_cluster_extended_support_hourly * 730:,.0f} instead of "
                f"${prices.eks_cluster_hourly * 730:,.0f} a month), and sgarch keeps the STANDARD upgrade policy; "
                f"upgrade to {STANDARD_SUPPORT_KUBERNETES_VERSIONS[0]}, one minor at a time",
            )
        return value

    @field_validator("tier", mode="before")
    @classmethod
    def _tier(cls, value: Any) -> Any:
        return None if value is None else get_tier(value).tier

    @field_validator("admin_principal_arns")
    @classmethod
    def _principals(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return validate_admin_principal_arns(value)

    @field_validator("public_access_cidrs", "private_access_cidrs")
    @classmethod
    def _cidrs(cls, value: tuple[str, ...], info: Any) -> tuple[str, ...]:
        parse_cidrs(info.field_name, value)
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        return validate_log_retention_days(value)

    @field_validator("enabled_cluster_log_types")
    @classmethod
    def _log_types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for log_type in value:
            if log_type not in CONTROL_PLANE_LOG_TYPES:
                raise ConfigError(
                    "enabled_cluster_log_types",
                    f"a list drawn from {', '.join(CONTROL_PLANE_LOG_TYPES)}",
                    log_type,
                    "spell the types as EKS does (controllerManager, not controller-manager)",
                )
        return tuple(dict.fromkeys(value))

    @field_validator("kubeconfig_role_arn")
    @classmethod
    def _kubeconfig_role(cls, value: str | None) -> str | None:
        if value is not None and not _ROLE_ARN.match(value):
            raise ConfigError(
                "kubeconfig_role_arn", "an IAM role ARN", value, "use arn:aws:iam::<account>:role/<name>"
            )
        return value

    @field_validator("addon_versions")
    @classmethod
    def _addons(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if name not in MANAGED_ADDONS:
                raise ConfigError(
                    "addon_versions", f"keyed by {', '.join(MANAGED_ADDONS)}", name, "check the add-on's name"
                )
        return value

    @field_validator("excluded_services")
    @classmethod
    def _excluded(cls, value: frozenset[str]) -> frozenset[str]:
        unknown = sorted(value - EXTERNAL_SERVICES)
        if unknown:
            raise ConfigError(
                "excluded_services",
                f"a subset of {', '.join(sorted(EXTERNAL_SERVICES))}",
                unknown,
                "only stateful services have a managed AWS replacement",
            )
        return value

    @model_validator(mode="after")
    def _combination(self) -> EksClusterArgs:
        validate_tags(self.volume_tags, "volume_tags")
        if self.endpoint_public_access and not self.public_access_cidrs:
            raise ConfigError(
                "public_access_cidrs",
                "set when endpoint_public_access is on",
                None,
                "list the networks that may reach the API (your office or CI egress)",
            )
        if not self.endpoint_public_access and self.public_access_cidrs:
            raise ConfigError(
                "endpoint_public_access",
                "true when public_access_cidrs is set",
                False,
                "turn the public endpoint on, or drop public_access_cidrs",
            )
        for cidr, network in zip(
            self.public_access_cidrs,
            parse_cidrs("public_access_cidrs", self.public_access_cidrs),
            strict=True,
        ):
            if network.prefixlen == 0 and not self.allow_public_api_from_anywhere:
                raise ConfigError(
                    "public_access_cidrs",
                    "networks narrower than the whole internet",
                    cidr,
                    "list the addresses that run pulumi up and kubectl (your office or CI egress, such as "
                    "203.0.113.0/24), or set allow_public_api_from_anywhere: true to open the API to every "
                    "address (it still requires AWS credentials)",
                )
        if not self.bootstrap_cluster_creator_admin and not self.admin_principal_arns:
            # Nobody could reach the API: Pulumi itself could not create the StorageClass or the releases.
            raise ConfigError(
                "admin_principal_arns",
                "set when bootstrap_cluster_creator_admin is off",
                [],
                "list the role Pulumi runs as, or keep bootstrap_cluster_creator_admin on",
            )
        if self.workload is not None and self.tier is not None:
            estimate(self.workload, tier=self.tier)  # the tier rule: ConfigError below the workload's tier
        if self.cluster_name is not None and not _CLUSTER_NAME.match(self.cluster_name):
            raise ConfigError(
                "cluster_name", "1 to 100 letters, digits, '-' and '_'", self.cluster_name, "rename it"
            )
        if not 2 <= self.availability_zone_count <= 6:
            raise ConfigError(
                "availability_zone_count", "2 to 6", self.availability_zone_count, "use two zones or more"
            )
        subnets = self.private_subnet_ids
        if isinstance(subnets, (list, tuple)) and len(subnets) < self.availability_zone_count:
            raise ConfigError(
                "private_subnet_ids",
                f"at least {self.availability_zone_count} subnets (one per zone)",
                list(subnets),
                "list a private subnet in each availability zone",
            )
        return self

    def sizing_estimate(self) -> Estimate:
        """The estimate node groups are sized for: the workload's, at ``tier`` when that is larger; else the
        top of ``tier``; else the top of XS."""
        if self.workload is not None:
            return estimate(self.workload, tier=self.tier)
        return estimate_for_tier(self.tier or Tier.XS)

    def node_plan(self) -> NodePlan:
        """Pack the estimate's pods; raises ConfigError when they cannot fit."""
        return plan_node_groups(
            self.sizing_estimate(),
            excluded_services=self.excluded_services,
            headroom=self.node_headroom,
            az_count=self.availability_zone_count,
            instance_type=self.instance_type,
            node_count=self.node_count,
        )
