"""EksCluster under Pulumi mocks, on a brought VPC so only the component's own resources exist."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sgarch.eks import EksCluster, EksClusterArgs
from sgarch.eks.iam import load_balancer_controller_policy
from sgarch.errors import ConfigError
from sgarch.testing import SgarchMocks
from sgarch.tiers import Tier
from sgarch.validation import build

SUBNETS = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]
CLUSTER = "aws:eks/cluster:Cluster"
ADDON = "aws:eks/addon:Addon"
ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
EKS_TYPE = "sgarch:eks:EksCluster"


def plan(mocks: SgarchMocks, **kwargs: Any) -> EksCluster:
    args = EksClusterArgs(vpc_id="vpc-0123456789abcdef0", private_subnet_ids=SUBNETS, **kwargs)
    return mocks.run(lambda: EksCluster("sg", args))


@pytest.fixture
def cluster(pulumi_mocks: SgarchMocks) -> EksCluster:
    return plan(pulumi_mocks, tier=Tier.S, admin_principal_arns=("arn:aws:iam::123456789012:role/admins",))


def test_cluster_is_private_encrypted_and_logged(pulumi_mocks: SgarchMocks, cluster: EksCluster) -> None:
    record = pulumi_mocks.one(CLUSTER)
    inputs = record.inputs
    key = pulumi_mocks.one("aws:kms/key:Key")
    assert inputs["encryptionConfig"] == {
        "resources": ["secrets"],
        "provider": {"keyArn": key.outputs["arn"]},
    }
    assert key.inputs["enableKeyRotation"] is True and key.options.retain_on_delete
    assert inputs["enabledClusterLogTypes"] == ["api", "audit", "authenticator"]
    assert inputs["vpcConfig"]["endpointPrivateAccess"] is True
    assert inputs["vpcConfig"]["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in inputs["vpcConfig"]
    assert inputs["accessConfig"] == {
        "authenticationMode": "API",
        "bootstrapClusterCreatorAdminPermissions": True,
    }
    assert inputs["version"] == "1.34"
    assert inputs["bootstrapSelfManagedAddons"] is False
    assert inputs["upgradePolicy"] == {"supportType": "STANDARD"}
    assert record.parent_type == EKS_TYPE
    logs = pulumi_mocks.one("aws:cloudwatch/logGroup:LogGroup").inputs
    assert logs["name"] == "/aws/eks/sg/cluster" and logs["retentionInDays"] == 90
    admin = pulumi_mocks.one("aws:eks/accessPolicyAssociation:AccessPolicyAssociation").inputs
    assert admin["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
    assert admin["accessScope"] == {"type": "cluster"}


def test_nodes_require_imdsv2_and_encrypted_gp3(pulumi_mocks: SgarchMocks, cluster: EksCluster) -> None:
    template = pulumi_mocks.one("aws:ec2/launchTemplate:LaunchTemplate").inputs
    assert template["metadataOptions"] == {
        "httpEndpoint": "enabled",
        "httpTokens": "required",
        "httpPutResponseHopLimit": 1,
    }
    (root,) = template["blockDeviceMappings"]
    assert root["ebs"]["volumeType"] == "gp3" and root["ebs"]["encrypted"] == "true"
    groups = sorted(pulumi_mocks.by_type(NODE_GROUP), key=lambda r: r.name)
    assert [g.name for g in groups] == ["sg-nodes-0", "sg-nodes-1"]
    plan_ = cluster.node_plan
    for i, group in enumerate(groups):
        inputs = group.inputs
        assert inputs["amiType"] == "AL2023_x86_64_STANDARD"
        assert inputs["subnetIds"] == [SUBNETS[i]]
        assert inputs["instanceTypes"] == [plan_.instance_type.name]
        assert inputs["scalingConfig"]["desiredSize"] == plan_.nodes_per_az[i]
        assert inputs["launchTemplate"]["id"].startswith("lt-")
    policies = sorted(
        r.inputs["policyArn"].rsplit("/", 1)[-1]
        for r in pulumi_mocks.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if r.name.startswith("sg-node-")
    )
    assert policies == [
        "AmazonEC2ContainerRegistryReadOnly",
        "AmazonEKSWorkerNodePolicy",
        "AmazonEKS_CNI_Policy",
        "AmazonSSMManagedInstanceCore",
    ]


def test_addons_and_pod_identity(pulumi_mocks: SgarchMocks, cluster: EksCluster) -> None:
    addons = sorted(r.inputs["addonName"] for r in pulumi_mocks.by_type(ADDON))
    assert addons == ["aws-ebs-csi-driver", "coredns", "eks-pod-identity-agent", "kube-proxy", "vpc-cni"]
    associations = {
        (r.inputs["namespace"], r.inputs["serviceAccount"]): r for r in pulumi_mocks.by_type(ASSOCIATION)
    }
    assert set(associations) == {
        ("kube-system", "ebs-csi-controller-sa"),
        ("kube-system", "aws-load-balancer-controller"),
    }
    roles = {r.outputs["arn"]: r for r in pulumi_mocks.by_type("aws:iam/role:Role")}
    for association in associations.values():
        trust = json.loads(roles[association.inputs["roleArn"]].inputs["assumeRolePolicy"])
        assert trust["Statement"][0]["Principal"] == {"Service": "pods.eks.amazonaws.com"}
        assert trust["Statement"][0]["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    ebs = associations[("kube-system", "ebs-csi-controller-sa")]
    ebs_policies = [
        r.inputs["policyArn"]
        for r in pulumi_mocks.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if r.name == "sg-ebs-csi-policy"
    ]
    assert ebs_policies == ["arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"]
    assert ebs.parent_type == EKS_TYPE
    # The EBS CSI add-on waits for its association and for the nodes.
    csi = next(r for r in pulumi_mocks.by_type(ADDON) if r.inputs["addonName"] == "aws-ebs-csi-driver")
    assert ebs.urn in csi.options.depends_on


def test_default_storage_class(pulumi_mocks: SgarchMocks, cluster: EksCluster) -> None:
    sc = pulumi_mocks.one("kubernetes:storage.k8s.io/v1:StorageClass").inputs
    key_arn = pulumi_mocks.one("aws:kms/key:Key").outputs["arn"]
    assert sc["provisioner"] == "ebs.csi.aws.com"
    assert sc["parameters"] == {
        "type": "gp3",
        "encrypted": "true",
        "kmsKeyId": key_arn,
        "csi.storage.k8s.io/fstype": "ext4",
    }
    assert sc["reclaimPolicy"] == "Retain"
    assert sc["volumeBindingMode"] == "WaitForFirstConsumer"
    assert sc["allowVolumeExpansion"] is True
    assert sc["metadata"]["annotations"] == {"storageclass.kubernetes.io/is-default-class": "true"}
    assert sc["metadata"]["name"] == cluster.storage_class_name


def test_load_balancer_controller(pulumi_mocks: SgarchMocks, cluster: EksCluster) -> None:
    release = pulumi_mocks.one("kubernetes:helm.sh/v3:Release").inputs
    assert release["chart"] == "aws-load-balancer-controller"
    assert release["version"] == "3.5.0"
    assert release["repositoryOpts"] == {"repo": "https://aws.github.io/eks-charts"}
    assert release["namespace"] == "kube-system"
    assert release["values"] == {
        "clusterName": "sg",
        "region": "us-east-1",
        "vpcId": "vpc-0123456789abcdef0",
        "serviceAccount": {"create": True, "name": "aws-load-balancer-controller"},
    }
    policy = pulumi_mocks.one("aws:iam/policy:Policy").inputs
    assert json.loads(policy["policy"]) == json.loads(load_balancer_controller_policy())
    assert "v3.5.0" in policy["description"]
    actions = {a for s in json.loads(policy["policy"])["Statement"] for a in _list(s["Action"])}
    assert {"elasticloadbalancing:CreateLoadBalancer", "ec2:CreateSecurityGroup"} <= actions


def test_real_aws_ordering(pulumi_mocks: SgarchMocks, cluster: EksCluster) -> None:
    addons = {r.inputs["addonName"]: r for r in pulumi_mocks.by_type(ADDON)}
    groups = [g.urn for g in pulumi_mocks.by_type(NODE_GROUP)]
    # Networking, kube-proxy and pod credentials exist before the first node joins; the rest after.
    for group in pulumi_mocks.by_type(NODE_GROUP):
        for name in ("vpc-cni", "kube-proxy", "eks-pod-identity-agent"):
            assert addons[name].urn in group.options.depends_on
    for name in ("coredns", "aws-ebs-csi-driver"):
        assert set(groups) <= set(addons[name].options.depends_on)
    # The EBS CSI controller starts with its role's permissions attached, not only its association.
    ebs_policies = {
        pulumi_mocks.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "sg-ebs-csi-policy").urn,
        pulumi_mocks.one("aws:iam/rolePolicy:RolePolicy", "sg-ebs-csi-kms").urn,
    }
    assert ebs_policies <= set(addons["aws-ebs-csi-driver"].options.depends_on)
    # The controller's pods need nodes, DNS, the Pod Identity agent, their association and its policy.
    release = pulumi_mocks.one("kubernetes:helm.sh/v3:Release")
    wanted = {
        *groups,
        addons["coredns"].urn,
        addons["eks-pod-identity-agent"].urn,
        pulumi_mocks.one(ASSOCIATION, "sg-lbc-pod-identity").urn,
        pulumi_mocks.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "sg-lbc-policy-attachment").urn,
    }
    assert wanted <= set(release.options.depends_on)
    storage_class = pulumi_mocks.one("kubernetes:storage.k8s.io/v1:StorageClass")
    assert addons["aws-ebs-csi-driver"].urn in storage_class.options.depends_on
    # Every Kubernetes object waits for the admin access entries through the provider.
    grant = pulumi_mocks.one("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    assert grant.urn in pulumi_mocks.one("pulumi:providers:kubernetes").options.depends_on


def test_kubeconfig_is_secret_and_credential_free(pulumi_mocks: SgarchMocks, cluster: EksCluster) -> None:
    config = json.loads(pulumi_mocks.resolve(cluster.kubeconfig))
    exec_ = config["users"][0]["user"]["exec"]
    assert exec_["command"] == "aws" and exec_["args"][:4] == ["eks", "get-token", "--cluster-name", "sg"]
    provider = pulumi_mocks.one("pulumi:providers:kubernetes")
    assert "kubeconfig" in provider.secret_inputs


def test_public_endpoint_needs_cidrs(pulumi_mocks: SgarchMocks) -> None:
    with pytest.raises(
        ConfigError, match=r"^public_access_cidrs must be set when endpoint_public_access is on \(got None\)"
    ):
        build(
            EksClusterArgs,
            None,
            vpc_id="vpc-1",
            private_subnet_ids=SUBNETS,
            endpoint_public_access=True,
        )
    plan(pulumi_mocks, endpoint_public_access=True, public_access_cidrs=("203.0.113.0/24",))
    vpc = pulumi_mocks.one(CLUSTER).inputs["vpcConfig"]
    assert vpc["endpointPublicAccess"] is True and vpc["publicAccessCidrs"] == ["203.0.113.0/24"]


def test_given_key_and_api_cidrs(pulumi_mocks: SgarchMocks) -> None:
    key = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    plan(pulumi_mocks, kms_key_arn=key, private_access_cidrs=("10.0.0.0/16",), load_balancer_controller=False)
    assert pulumi_mocks.by_type("aws:kms/key:Key") == []
    assert pulumi_mocks.one(CLUSTER).inputs["encryptionConfig"]["provider"]["keyArn"] == key
    rule = pulumi_mocks.one("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").inputs
    assert (rule["cidrIpv4"], rule["fromPort"], rule["toPort"]) == ("10.0.0.0/16", 443, 443)
    assert pulumi_mocks.by_type("kubernetes:helm.sh/v3:Release") == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kubernetes_version": "1.34.2"}, r"^kubernetes_version must be a Kubernetes minor such as 1.34"),
        (
            {"admin_principal_arns": ("arn:aws:sts::1:assumed-role/x/y",)},
            r"^admin_principal_arns must be IAM role",
        ),
        ({"addon_versions": {"cilium": "1"}}, r"^addon_versions must be keyed by vpc-cni"),
        ({"availability_zone_count": 3}, r"^private_subnet_ids must be at least 3 subnets"),
        ({"excluded_services": frozenset({"frontend"})}, r"^excluded_services must be a subset of"),
        (
            {"bootstrap_cluster_creator_admin": False},
            r"^admin_principal_arns must be set when bootstrap_cluster_creator_admin is off \(got \[\]\)",
        ),
    ],
)
def test_invalid_args(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build(EksClusterArgs, None, vpc_id="vpc-1", private_subnet_ids=SUBNETS, **kwargs)


def _list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)
