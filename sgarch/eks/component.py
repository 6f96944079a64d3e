"""The ``EksCluster`` component: an EKS cluster ready for Sourcegraph's Helm chart.

What it creates, for ``EksCluster("sg", args)``:

- ``sg-kms``: a customer-managed key (rotation on) for Kubernetes secrets and persistent volumes, unless
  ``kms_key_arn`` is given; kept on ``pulumi destroy`` because retained volumes stay encrypted with it;
- ``sg-cluster-role``, ``sg-logs`` and ``sg-cluster``: the control plane, API authentication mode with access
  entries (``sg-admin-<i>``), envelope-encrypted secrets, api/audit/authenticator logs, private endpoint;
- ``sg-node-role`` and ``sg-nodes-lt``: the node role and a launch template requiring IMDSv2 (hop limit 1,
  so pods cannot borrow the node's role) with an encrypted gp3 root volume;
- ``sg-nodes-<i>``: one AL2023 managed node group per availability zone, sized by packing the estimate;
- ``sg-<add-on>``: the managed add-ons vpc-cni, kube-proxy, eks-pod-identity-agent, coredns and
  aws-ebs-csi-driver; the EBS CSI driver gets its own role through Pod Identity (``sg-ebs-csi``);
- ``sg-k8s``: a Kubernetes provider on the cluster's kubeconfig, and through it ``sg-gp3`` (the default
  StorageClass) and ``sg-lbc`` (the AWS Load Balancer Controller with its official IAM policy, through Pod
  Identity).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from sgarch.eks import iam
from sgarch.eks.args import EksClusterArgs
from sgarch.eks.nodegroups import NodePlan
from sgarch.eks.versions import (
    EKS_CHARTS_REPOSITORY,
    LOAD_BALANCER_CONTROLLER_CHART_VERSION,
)
from sgarch.naming import child_name, merge_tags

__all__ = [
    "EBS_CSI_SERVICE_ACCOUNT",
    "LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT",
    "LOG_TYPES",
    "STORAGE_CLASS_NAME",
    "EksCluster",
    "kubeconfig_json",
]

_TYPE = "sgarch:eks:EksCluster"
LOG_TYPES = ("api", "audit", "authenticator")
STORAGE_CLASS_NAME = "ebs-gp3"
EBS_CSI_SERVICE_ACCOUNT = "ebs-csi-controller-sa"
LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT = "aws-load-balancer-controller"
_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
_BEFORE_NODES = ("vpc-cni", "kube-proxy", "eks-pod-identity-agent")
_AFTER_NODES = ("coredns", "aws-ebs-csi-driver")


def kubeconfig_json(cluster_name: str, endpoint: str, ca_data: str, region: str) -> str:
    """A kubeconfig (JSON) that authenticates with ``aws eks get-token``, so it holds no credentials."""
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "args": [
                "eks",
                "get-token",
                "--cluster-name",
                cluster_name,
                "--region",
                region,
                "--output",
                "json",
            ],
        }
    }
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}
            ],
            "users": [{"name": cluster_name, "user": user}],
            "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
            "current-context": cluster_name,
        },
        sort_keys=True,
    )


def _volume_tag_parameters(tags: dict[str, str]) -> dict[str, str]:
    # The EBS CSI driver's StorageClass tagging parameters: tagSpecification_<n> = "key=value", from 1.
    return {
        f"tagSpecification_{i}": f"{key}={value}" for i, (key, value) in enumerate(sorted(tags.items()), 1)
    }


def _nth_subnet(index: int) -> Callable[[Sequence[str]], list[str]]:
    def pick(ids: Sequence[str]) -> list[str]:
        return [ids[index]]

    return pick


class EksCluster(pulumi.ComponentResource):
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

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        plan = args.node_plan()
        super().__init__(_TYPE, name, None, opts)
        self._name = name
        self._args = args
        self._tags = merge_tags(args.tags)
        self.node_plan = plan
        self.storage_class_name = STORAGE_CLASS_NAME
        child = pulumi.ResourceOptions(parent=self)
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region

        key_arn = self._kms_key(child)
        cluster = self._cluster(key_arn, child)
        cluster_name: pulumi.Output[str] = cluster.name
        admin_grants = self._access_entries(cluster_name, child)

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

        early = {addon: self._addon(cluster_name, addon, child) for addon in _BEFORE_NODES}
        node_groups = self._node_groups(cluster_name, list(early.values()), child)
        self.node_groups = node_groups

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
                cluster_name,
                addon,
                pulumi.ResourceOptions(
                    parent=self,
                    # The controller's first volume needs its credentials and their permissions in place.
                    depends_on=[*node_groups, ebs_association, *ebs_policies]
                    if addon == "aws-ebs-csi-driver"
                    else node_groups,
                ),
            )
            for addon in _AFTER_NODES
        }

        kubeconfig = pulumi.Output.all(
            cluster_name, cluster.endpoint, cluster.certificate_authority, region
        ).apply(lambda v: kubeconfig_json(v[0], v[1] or "", (v[2] or {}).get("data") or "", v[3] or ""))
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
            opts=pulumi.ResourceOptions(
                parent=self, provider=self.provider, depends_on=[late["aws-ebs-csi-driver"]]
            ),
        )

        if args.load_balancer_controller:
            # The controller's pods need the Pod Identity agent for credentials and DNS to reach AWS.
            self._load_balancer_controller(
                cluster_name,
                region,
                [*node_groups, early["eks-pod-identity-agent"], late["coredns"]],
                child,
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

    def _n(self, *parts: str | int) -> str:
        return child_name(self._name, *parts)

    def _tagged(self, name: str) -> dict[str, str]:
        return merge_tags(self._tags, {"Name": name})

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

    def _cluster(self, key_arn: pulumi.Input[str], child: pulumi.ResourceOptions) -> aws.eks.Cluster:
        args = self._args
        name = args.cluster_name or self._name
        role = self._role("cluster-role", iam.cluster_trust_policy(), child)
        attachment = aws.iam.RolePolicyAttachment(
            self._n("cluster-policy"), role=role.name, policy_arn=iam.CLUSTER_POLICY_ARN, opts=child
        )
        # EKS writes to this exact name; creating it first lets us set retention instead of "never expire".
        logs = aws.cloudwatch.LogGroup(
            self._n("logs"),
            name=f"/aws/eks/{name}/cluster",
            retention_in_days=args.log_retention_days,
            tags=self._tagged(self._n("logs")),
            opts=child,
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
                "bootstrap_cluster_creator_admin_permissions": args.bootstrap_cluster_creator_admin,
            },
            encryption_config={"resources": ["secrets"], "provider": {"key_arn": key_arn}},
            enabled_cluster_log_types=list(LOG_TYPES),
            # Every system add-on is a managed add-on below, so none is installed unmanaged.
            bootstrap_self_managed_addons=False,
            # Extended support costs six times the standard hourly price; upgrade instead.
            upgrade_policy={"support_type": "STANDARD"},
            tags=self._tagged(self._n("cluster")),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[attachment, logs]),
        )

    def _access_entries(
        self, cluster_name: pulumi.Output[str], child: pulumi.ResourceOptions
    ) -> list[aws.eks.AccessPolicyAssociation]:
        grants = []
        for i, arn in enumerate(self._args.admin_principal_arns):
            entry = aws.eks.AccessEntry(
                self._n("admin", i),
                cluster_name=cluster_name,
                principal_arn=arn,
                type="STANDARD",
                tags=self._tagged(self._n("admin", i)),
                opts=child,
            )
            grants.append(
                aws.eks.AccessPolicyAssociation(
                    self._n("admin", i, "policy"),
                    cluster_name=cluster_name,
                    principal_arn=arn,
                    policy_arn=_ADMIN_POLICY,
                    access_scope={"type": "cluster"},
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[entry]),
                )
            )
        return grants

    def _addon(
        self, cluster_name: pulumi.Output[str], addon: str, opts: pulumi.ResourceOptions
    ) -> aws.eks.Addon:
        return aws.eks.Addon(
            self._n(addon),
            cluster_name=cluster_name,
            addon_name=addon,
            addon_version=self._args.addon_versions.get(addon),
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=self._tagged(self._n(addon)),
            opts=opts,
        )

    def _node_groups(
        self, cluster_name: pulumi.Output[str], early: list[aws.eks.Addon], child: pulumi.ResourceOptions
    ) -> list[aws.eks.NodeGroup]:
        args, plan = self._args, self.node_plan
        role = self._role("node-role", iam.node_trust_policy(), child)
        attachments = [
            aws.iam.RolePolicyAttachment(self._n("node", short), role=role.name, policy_arn=arn, opts=child)
            for short, arn in iam.NODE_POLICY_ARNS.items()
        ]
        template = aws.ec2.LaunchTemplate(
            self._n("nodes-lt"),
            description="EKS nodes: IMDSv2 only, encrypted gp3 root volume",
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",
                "http_put_response_hop_limit": 1,
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
            tag_specifications=[
                {"resource_type": kind, "tags": self._tagged(self._n("node"))}
                for kind in ("instance", "volume")
            ],
            update_default_version=True,
            tags=self._tagged(self._n("nodes-lt")),
            opts=child,
        )
        subnets = pulumi.Output.from_input(args.private_subnet_ids)
        groups = []
        for i, count in enumerate(plan.nodes_per_az):
            groups.append(
                aws.eks.NodeGroup(
                    self._n("nodes", i),
                    cluster_name=cluster_name,
                    node_role_arn=role.arn,
                    subnet_ids=subnets.apply(_nth_subnet(i)),
                    instance_types=[plan.instance_type.name],
                    ami_type="AL2023_x86_64_STANDARD",
                    capacity_type="ON_DEMAND",
                    scaling_config={"desired_size": count, "min_size": count, "max_size": count + 1},
                    update_config={"max_unavailable": 1},
                    launch_template={
                        "id": template.id,
                        "version": template.latest_version.apply(str),
                    },
                    labels={"sgarch.dev/zone-index": str(i)},
                    tags=self._tagged(self._n("nodes", i)),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[*attachments, *early]),
                )
            )
        return groups

    def _load_balancer_controller(
        self,
        cluster_name: pulumi.Output[str],
        region: pulumi.Output[str],
        depends_on: list[Any],
        child: pulumi.ResourceOptions,
    ) -> None:
        role = self._pod_identity_role("lbc", child)
        policy = aws.iam.Policy(
            self._n("lbc-policy"),
            description=f"AWS Load Balancer Controller {iam.load_balancer_controller_policy_version()} (official)",
            policy=iam.load_balancer_controller_policy(),
            tags=self._tagged(self._n("lbc-policy")),
            opts=child,
        )
        attachment = aws.iam.RolePolicyAttachment(
            self._n("lbc-policy-attachment"), role=role.name, policy_arn=policy.arn, opts=child
        )
        association = aws.eks.PodIdentityAssociation(
            self._n("lbc-pod-identity"),
            cluster_name=cluster_name,
            namespace="kube-system",
            service_account=LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT,
            role_arn=role.arn,
            tags=self._tagged(self._n("lbc-pod-identity")),
            opts=child,
        )
        k8s.helm.v3.Release(
            self._n("lbc"),
            name="aws-load-balancer-controller",
            chart="aws-load-balancer-controller",
            version=LOAD_BALANCER_CONTROLLER_CHART_VERSION,
            repository_opts={"repo": EKS_CHARTS_REPOSITORY},
            namespace="kube-system",
            values={
                "clusterName": cluster_name,
                # IMDS is out of the pods' reach (hop limit 1), so region and VPC are given, not discovered.
                "region": region,
                "vpcId": self._args.vpc_id,
                "serviceAccount": {"create": True, "name": LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT},
                **self._args.load_balancer_controller_values,
            },
            opts=pulumi.ResourceOptions(
                parent=self, provider=self.provider, depends_on=[*depends_on, association, attachment]
            ),
        )
