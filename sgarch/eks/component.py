"""The ``EksCluster`` component: an EKS cluster ready for Sourcegraph's Helm chart.

What it creates, for ``EksCluster("sg", args)``:

- ``sg-kms``: a customer-managed key (rotation on) for Kubernetes secrets and persistent volumes, unless
  ``kms_key_arn`` is given; kept on ``pulumi destroy`` because retained volumes stay encrypted with it;
- ``sg-cluster-role``, ``sg-logs`` and ``sg-cluster``: the control plane, API authentication mode with one
  admin access entry per principal (``sg-admin-<principal id>``: ``admin_principal_arns`` and the identity
  running Pulumi, EKS's own creator bootstrap off), envelope-encrypted secrets, api/audit/authenticator logs,
  a private endpoint and, when asked, a public one limited to ``public_access_cidrs``;
- ``sg-node-role`` and ``sg-nodes-lt``: the node role and a launch template requiring IMDSv2 with hop limit 2
  (the EBS CSI driver's pods read instance metadata) and an encrypted gp3 root volume;
- ``sg-nodes-<i>-<generation>``: one AL2023 managed node group per availability zone at the cluster's
  Kubernetes version, sized by packing the estimate. The generation hashes what EKS cannot change on a
  running group (instance type, AMI and capacity type, root volume), so such a change is blue/green: new
  groups first, the old ones deleted (and drained) at the end of the update;
- ``sg-<add-on>``: the managed add-ons vpc-cni, kube-proxy, eks-pod-identity-agent, coredns and
  aws-ebs-csi-driver at EKS's default version for the cluster's Kubernetes version (unless pinned); the EBS
  CSI driver gets its own role through Pod Identity (``sg-ebs-csi``);
- ``sg-k8s``: a Kubernetes provider on the cluster's kubeconfig, and through it ``sg-gp3`` (the default
  StorageClass) and ``sg-lbc`` (the AWS Load Balancer Controller with its official IAM policy, through Pod
  Identity).
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from sgarch.component import Component
from sgarch.eks import iam
from sgarch.eks._controller import LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT, load_balancer_controller
from sgarch.eks._nodes import node_groups
from sgarch.eks.access import (
    admin_principals,
    assumed_role_arn,
    is_assumed_role_arn,
    kubeconfig_json,
    principal_id,
)
from sgarch.eks.args import EksClusterArgs
from sgarch.errors import ConfigError
from sgarch.sizing.nodegroups import NodePlan

__all__ = [
    "EBS_CSI_SERVICE_ACCOUNT",
    "LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT",
    "LOG_TYPES",
    "STORAGE_CLASS_NAME",
    "EksCluster",
    "assumed_role_arn",
    "kubeconfig_json",
]

_TYPE = "sgarch:eks:EksCluster"
LOG_TYPES = ("api", "audit", "authenticator")
STORAGE_CLASS_NAME = "ebs-gp3"
EBS_CSI_SERVICE_ACCOUNT = "ebs-csi-controller-sa"
_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
_BEFORE_NODES = ("vpc-cni", "kube-proxy", "eks-pod-identity-agent")
_AFTER_NODES = ("coredns", "aws-ebs-csi-driver")


def _volume_tag_parameters(tags: dict[str, str]) -> dict[str, str]:
    # The EBS CSI driver's StorageClass tagging parameters: tagSpecification_<n> = "key=value", from 1.
    return {
        f"tagSpecification_{i}": f"{key}={value}" for i, (key, value) in enumerate(sorted(tags.items()), 1)
    }


class EksCluster(Component):
    """An EKS cluster with node groups sized for a Sourcegraph estimate, storage and load balancing wired.

    Outputs: ``cluster_name``, ``endpoint``, ``kubeconfig`` (secret), ``kms_key_arn``,
    ``cluster_security_group_id``; plain attributes ``provider`` (a Kubernetes provider on the cluster),
    ``storage_class_name``, ``node_plan`` (the packing the node groups come from) and ``node_groups`` (one
    managed node group per zone, in zone order).
    """

    cluster_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str]
    cluster_security_group_id: pulumi.Output[str]
    provider: k8s.Provider
    storage_class_name: str
    node_plan: NodePlan
    node_groups: list[aws.eks.NodeGroup]

    ARCHITECTURE = "eks"

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        plan = args.node_plan()
        super().__init__(_TYPE, name, args, opts)
        self._args = args
        self.node_plan = plan
        self.storage_class_name = STORAGE_CLASS_NAME
        child = self._opts()
        region = aws.get_region_output(opts=self._invoke()).region

        # The caller is looked up before any resource exists: its entry's logical name depends on it.
        caller = self._caller_principal_arn() if args.bootstrap_cluster_creator_admin else None
        key_arn = self._kms_key(child)
        cluster = self._cluster(key_arn, child)
        cluster_name: pulumi.Output[str] = cluster.name
        admin_grants = self._access_entries(cluster_name, caller, child)

        sg_id = cluster.vpc_config.apply(lambda c: c.cluster_security_group_id or "")
        for i, cidr in enumerate(args.private_access_cidrs):
            aws.vpc.SecurityGroupIngressRule(
                self._n("api", i),
                security_group_id=sg_id,
                cidr_ipv4=cidr,
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                description="Kubernetes API from an allowed network",
                tags=self._tagged(self._n("api", i)),
                opts=child,
            )

        early = {addon: self._addon(cluster, addon, child) for addon in _BEFORE_NODES}
        groups = node_groups(self, cluster, list(early.values()))
        self.node_groups = groups

        ebs_role = self._pod_identity_role("ebs-csi", child)
        ebs_policies: list[pulumi.Resource] = [
            aws.iam.RolePolicyAttachment(
                self._n("ebs-csi-policy"), role=ebs_role.name, policy_arn=iam.EBS_CSI_POLICY_ARN, opts=child
            ),
            aws.iam.RolePolicy(
                self._n("ebs-csi-kms"),
                role=ebs_role.name,
                policy=pulumi.Output.from_input(key_arn).apply(iam.kms_for_ebs_policy),
                opts=child,
            ),
        ]
        ebs_association = aws.eks.PodIdentityAssociation(
            self._n("ebs-csi"),
            cluster_name=cluster_name,
            namespace="kube-system",
            service_account=EBS_CSI_SERVICE_ACCOUNT,
            role_arn=ebs_role.arn,
            tags=self._tagged(self._n("ebs-csi")),
            opts=child,
        )
        late = {
            addon: self._addon(
                cluster,
                addon,
                pulumi.ResourceOptions(
                    parent=self,
                    # The controller's first volume needs its credentials and their permissions in place.
                    depends_on=[*groups, ebs_association, *ebs_policies]
                    if addon == "aws-ebs-csi-driver"
                    else groups,
                ),
            )
            for addon in _AFTER_NODES
        }

        aws_config = pulumi.Config("aws")
        profile = args.kubeconfig_profile or aws_config.get("profile")
        role_arn = args.kubeconfig_role_arn or assumed_role_arn(
            aws_config.get_object("assumeRoles") or aws_config.get_object("assumeRole")
        )
        kubeconfig = pulumi.Output.all(
            cluster_name, cluster.endpoint, cluster.certificate_authority, region
        ).apply(
            lambda v: kubeconfig_json(
                v[0], v[1] or "", (v[2] or {}).get("data") or "", v[3] or "", profile, role_arn
            )
        )
        self.kubeconfig = pulumi.Output.secret(kubeconfig)
        # Everything sent through the provider waits for the admin access entries: without the creator's
        # bootstrap admin, they are the only way Pulumi is authorised on the cluster.
        self.provider = k8s.Provider(
            self._n("k8s"),
            kubeconfig=self.kubeconfig,
            opts=pulumi.ResourceOptions(parent=self, depends_on=admin_grants),
        )

        k8s.storage.v1.StorageClass(
            self._n("gp3"),
            metadata={
                "name": STORAGE_CLASS_NAME,
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
            provisioner="ebs.csi.aws.com",
            parameters=pulumi.Output.from_input(key_arn).apply(
                lambda arn: {
                    "type": "gp3",
                    "encrypted": "true",
                    "kmsKeyId": arn,
                    "csi.storage.k8s.io/fstype": "ext4",
                    **_volume_tag_parameters(args.volume_tags),
                }
            ),
            # Sourcegraph's repositories and databases outlive a deleted claim; EBS volumes are zonal, so
            # a volume is created only once the pod's node, and so its zone, is known.
            reclaim_policy="Retain",
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            # A StorageClass's parameters are immutable, so new volume tags or a new key replace it; the
            # name is fixed (the chart refers to it), so the old one must go first.
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=self.provider,
                depends_on=[late["aws-ebs-csi-driver"]],
                delete_before_replace=True,
            ),
        )

        if args.load_balancer_controller:
            # The controller's pods need the Pod Identity agent for credentials and DNS to reach AWS.
            load_balancer_controller(
                self, cluster_name, region, [*groups, early["eks-pod-identity-agent"], late["coredns"]]
            )

        self.cluster_name = cluster_name
        self.endpoint = cluster.endpoint
        self.kms_key_arn = pulumi.Output.from_input(key_arn)
        self.cluster_security_group_id = sg_id
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "endpoint": self.endpoint,
                "kubeconfig": self.kubeconfig,
                "kms_key_arn": self.kms_key_arn,
                "cluster_security_group_id": self.cluster_security_group_id,
            }
        )

    # -- helpers ---------------------------------------------------------------------------------------

    def _kms_key(self, child: pulumi.ResourceOptions) -> pulumi.Input[str]:
        if self._args.kms_key_arn is not None:
            return self._args.kms_key_arn
        key = aws.kms.Key(
            self._n("kms"),
            description=f"EKS secrets and persistent volumes of {self._name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=self._tagged(self._n("kms")),
            # Retained volumes outlive the stack and cannot be read without their key.
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        return key.arn

    def _role(self, short: str, trust: str, child: pulumi.ResourceOptions) -> aws.iam.Role:
        return aws.iam.Role(
            self._n(short), assume_role_policy=trust, tags=self._tagged(self._n(short)), opts=child
        )

    def _pod_identity_role(self, short: str, child: pulumi.ResourceOptions) -> aws.iam.Role:
        return self._role(f"{short}-role", iam.pod_identity_trust_policy(), child)

    def _caller_principal_arn(self) -> str:
        """The IAM ARN of the identity running Pulumi: an assumed-role session maps back to its role."""
        invoke = pulumi.InvokeOptions(parent=self)
        arn = aws.get_caller_identity(opts=invoke).arn
        if is_assumed_role_arn(arn):
            arn = aws.iam.get_session_context(arn=arn, opts=invoke).issuer_arn
        if ":sts::" in arn:
            raise ConfigError(
                "bootstrap_cluster_creator_admin",
                "used by an IAM role or user (access entries refuse STS principals)",
                arn,
                "run Pulumi as an IAM role or user, or turn bootstrap_cluster_creator_admin off and list the "
                "admins in admin_principal_arns",
            )
        return arn

    def _cluster(self, key_arn: pulumi.Input[str], child: pulumi.ResourceOptions) -> aws.eks.Cluster:
        args = self._args
        name = args.cluster_name or self._name
        role = self._role("cluster-role", iam.cluster_trust_policy(), child)
        attachment = aws.iam.RolePolicyAttachment(
            self._n("cluster-policy"), role=role.name, policy_arn=iam.CLUSTER_POLICY_ARN, opts=child
        )
        # EKS writes to this exact name; creating it first lets us set retention instead of "never expire".
        # The name is fixed, so a replacement (a new cluster name) deletes the old group first.
        logs = aws.cloudwatch.LogGroup(
            self._n("logs"),
            name=f"/aws/eks/{name}/cluster",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.log_kms_key_arn,
            tags=self._tagged(self._n("logs")),
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        return aws.eks.Cluster(
            self._n("cluster"),
            name=name,
            role_arn=role.arn,
            version=args.kubernetes_version,
            vpc_config={
                "subnet_ids": args.private_subnet_ids,
                "endpoint_private_access": True,
                "endpoint_public_access": args.endpoint_public_access,
                "public_access_cidrs": list(args.public_access_cidrs) or None,
            },
            access_config={
                "authentication_mode": "API",
                # Off: the creator's entry would live outside Pulumi's state and collide (409) with an
                # explicit entry for the same role. _access_entries declares the caller's entry instead.
                "bootstrap_cluster_creator_admin_permissions": False,
            },
            encryption_config={"resources": ["secrets"], "provider": {"key_arn": key_arn}},
            enabled_cluster_log_types=list(args.enabled_cluster_log_types),
            # Every system add-on is a managed add-on below, so none is installed unmanaged.
            bootstrap_self_managed_addons=False,
            # Extended support costs six times the standard hourly price; upgrade instead.
            upgrade_policy={"support_type": "STANDARD"},
            tags=self._tagged(self._n("cluster")),
            # The name is the user's (kubeconfigs and the controllers refer to it), so it is fixed: a change
            # EKS cannot make in place (another KMS key, a new name) deletes the old cluster first, or the
            # new one would fail with "already exists". `pulumi preview` shows it as a replacement.
            # The bootstrap flag only matters at creation, and changing it forces a replacement: clusters
            # created while sgarch still turned it on keep their cluster (see the CHANGELOG for their
            # one-time step).
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[attachment, logs],
                delete_before_replace=True,
                ignore_changes=["accessConfig.bootstrapClusterCreatorAdminPermissions"],
            ),
        )

    def _access_entries(
        self, cluster_name: pulumi.Output[str], caller: str | None, child: pulumi.ResourceOptions
    ) -> list[aws.eks.AccessPolicyAssociation]:
        grants = []
        listed = self._args.admin_principal_arns
        # Named after the principal, not its position: EKS allows one entry per principal, so an entry must
        # never be replaced by another resource for the same principal (reordering the list, adding the
        # caller to it).
        for arn in admin_principals(listed, caller):
            short = principal_id(arn)
            # Entries used to be named by position (<name>-admin-<i>); the alias keeps them, where a new
            # entry for the same principal would fail with ResourceInUseException.
            old = [listed.index(arn)] if arn in listed else []
            entry = aws.eks.AccessEntry(
                self._n("admin", short),
                cluster_name=cluster_name,
                principal_arn=arn,
                type="STANDARD",
                tags=self._tagged(self._n("admin", short)),
                opts=pulumi.ResourceOptions(
                    parent=self, aliases=[pulumi.Alias(name=self._n("admin", i)) for i in old]
                ),
            )
            grants.append(
                aws.eks.AccessPolicyAssociation(
                    self._n("admin", short, "policy"),
                    cluster_name=cluster_name,
                    principal_arn=arn,
                    policy_arn=_ADMIN_POLICY,
                    access_scope={"type": "cluster"},
                    opts=pulumi.ResourceOptions(
                        parent=self,
                        depends_on=[entry],
                        aliases=[pulumi.Alias(name=self._n("admin", i, "policy")) for i in old],
                    ),
                )
            )
        return grants

    def _addon(self, cluster: aws.eks.Cluster, addon: str, opts: pulumi.ResourceOptions) -> aws.eks.Addon:
        version: pulumi.Input[str] | None = self._args.addon_versions.get(addon)
        if version is None:
            # EKS's default version for the cluster's Kubernetes version, looked up from the cluster's own
            # output: an upgrade moves the add-ons after the control plane, never before it.
            version = aws.eks.get_addon_version_output(
                addon_name=addon,
                kubernetes_version=cluster.version,
                most_recent=False,
                opts=pulumi.InvokeOutputOptions(parent=self),
            ).version
        return aws.eks.Addon(
            self._n(addon),
            cluster_name=cluster.name,
            addon_name=addon,
            addon_version=version,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=self._tagged(self._n(addon)),
            opts=opts,
        )
