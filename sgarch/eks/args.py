"""Arguments of the :class:`~sgarch.eks.EksCluster` component: validated before any resource exists."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sgarch.eks.nodegroups import DEFAULT_HEADROOM, EXTERNAL_SERVICES, NodePlan, plan_node_groups
from sgarch.eks.versions import DEFAULT_KUBERNETES_VERSION, MANAGED_ADDONS
from sgarch.errors import ConfigError
from sgarch.naming import validate_tags
from sgarch.sizing import Estimate, Workload, estimate, estimate_for_tier
from sgarch.tiers import Tier, get_tier
from sgarch.validation import StrInput, StrListInput

__all__ = ["EksClusterArgs"]

_K8S_VERSION = re.compile(r"^1\.\d{2}$")
_CLUSTER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
_PRINCIPAL = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/.+$")


class EksClusterArgs(BaseModel):
    """Arguments of :class:`~sgarch.eks.EksCluster`. Plain values choose resources; ids are Pulumi inputs."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    vpc_id: StrInput
    """The VPC of the cluster. Required (``Network.vpc_id`` or your own)."""
    private_subnet_ids: StrListInput
    """Private subnets, one per availability zone, in zone order. The control plane's network interfaces
    use all of them; node group ``i`` uses subnet ``i``. Required."""
    availability_zone_count: int = 2
    """How many of ``private_subnet_ids`` get a node group (one per zone). Default: 2, the minimum."""

    tier: Tier | None = None
    """Size tier, XS to 3XL, used when no ``workload`` is given. Default: XS."""
    workload: Workload | None = None
    """The workload to size nodes for. Default: the top of ``tier``."""
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
    """Kubernetes minor version, pinned. Default: the version sgarch was tested with."""
    addon_versions: dict[str, str] = Field(default_factory=dict)
    """Pinned managed add-on versions by add-on name. Default: EKS's default version for the cluster's
    Kubernetes version when the add-on is created; it then stays until you pin one here."""
    admin_principal_arns: tuple[str, ...] = ()
    """IAM roles or users that get cluster-admin through an access entry. Default: none besides the
    identity that creates the cluster."""
    bootstrap_cluster_creator_admin: bool = True
    """Give the identity running Pulumi cluster-admin, which the Helm releases need. Default: on. It is
    fixed at creation: changing it replaces the cluster."""
    endpoint_public_access: bool = False
    """Expose the Kubernetes API endpoint publicly. Default: private only; run Pulumi and kubectl from
    inside the VPC (a VPN, a CI runner, SSM port forwarding)."""
    public_access_cidrs: tuple[str, ...] = ()
    """Who may reach a public endpoint. Required with ``endpoint_public_access``."""
    private_access_cidrs: tuple[str, ...] = ()
    """Networks allowed to reach the private endpoint on 443 (your VPC's CIDR, a VPN range). Default: only
    the cluster's own security group (nodes and control plane)."""
    kms_key_arn: StrInput | None = None
    """Customer-managed KMS key for Kubernetes secrets and persistent volumes. Default: a new key with
    rotation on, kept when the stack is destroyed (retained volumes need it)."""
    log_retention_days: int = 90
    """Retention of the control-plane log group (api, audit, authenticator). Default: 90 days."""
    load_balancer_controller: bool = True
    """Install the AWS Load Balancer Controller. Default: on (the Sourcegraph ingress needs it)."""
    load_balancer_controller_values: dict[str, Any] = Field(default_factory=dict)
    """Extra values of the controller's chart, merged over sgarch's at the top level (``image`` for a
    registry mirror, ``defaultTags`` for the load balancers it creates). Default: none."""
    volume_tags: dict[str, str] = Field(default_factory=dict)
    """Tags the EBS CSI driver puts on every volume it creates through the default StorageClass. Default:
    none (the volumes then carry only the driver's own tags)."""
    tags: dict[str, str] = Field(default_factory=dict)
    """Tags on every AWS resource. Default: none."""

    @field_validator("kubernetes_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not _K8S_VERSION.match(value):
            raise ConfigError(
                "kubernetes_version", "a Kubernetes minor such as 1.34", value, "give major.minor only"
            )
        return value

    @field_validator("tier", mode="before")
    @classmethod
    def _tier(cls, value: Any) -> Any:
        return None if value is None else get_tier(value).tier

    @field_validator("admin_principal_arns")
    @classmethod
    def _principals(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for arn in value:
            if not _PRINCIPAL.match(arn):
                raise ConfigError(
                    "admin_principal_arns",
                    "IAM role or user ARNs",
                    arn,
                    "use arn:aws:iam::<account>:role/<name>, not an STS assumed-role ARN",
                )
        return value

    @field_validator("public_access_cidrs", "private_access_cidrs")
    @classmethod
    def _cidrs(cls, value: tuple[str, ...], info: Any) -> tuple[str, ...]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr)
            except ValueError:
                raise ConfigError(info.field_name, "IPv4 CIDRs", cidr, "write them as 10.0.0.0/8") from None
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
        validate_tags(self.tags)
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
        if not self.bootstrap_cluster_creator_admin and not self.admin_principal_arns:
            # Nobody could reach the API: Pulumi itself could not create the StorageClass or the releases.
            raise ConfigError(
                "admin_principal_arns",
                "set when bootstrap_cluster_creator_admin is off",
                [],
                "list the role Pulumi runs as, or keep bootstrap_cluster_creator_admin on",
            )
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
        if self.log_retention_days < 1:
            raise ConfigError(
                "log_retention_days", "at least 1", self.log_retention_days, "90 is a good start"
            )
        return self

    def sizing_estimate(self) -> Estimate:
        """The estimate node groups are sized for (workload first, then tier, then XS)."""
        if self.workload is not None:
            return estimate(self.workload)
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
