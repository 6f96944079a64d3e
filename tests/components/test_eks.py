"""EksCluster under Pulumi mocks, on a brought VPC so only the component's own resources exist."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sgarch.eks import EksCluster, EksClusterArgs
from sgarch.eks.iam import load_balancer_controller_policy
from sgarch.eks.versions import DEFAULT_KUBERNETES_VERSION
from sgarch.errors import ConfigError
from sgarch.testing import ResourceRecord, SgarchMocks, mocked_runtime
from sgarch.tiers import Tier
from sgarch.validation import build

SUBNETS = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]
CLUSTER = "aws:eks/cluster:Cluster"
ADDON = "aws:eks/addon:Addon"
ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
ACCESS_ENTRY = "aws:eks/accessEntry:AccessEntry"
ADDON_VERSION = "aws:eks/getAddonVersion:getAddonVersion"
EKS_TYPE = "sgarch:eks:EksCluster"
ADMINS = "arn:aws:iam::123456789012:role/admins"


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
    # EKS's own creator entry stays off: every admin entry is declared below, so none can collide.
    assert inputs["accessConfig"] == {
        "authenticationMode": "API",
        "bootstrapClusterCreatorAdminPermissions": False,
    }
    # Clusters created with it on must not be replaced for it: it only matters at creation.
    assert record.options.ignore_changes == ("accessConfig.bootstrapClusterCreatorAdminPermissions",)
    assert inputs["version"] == DEFAULT_KUBERNETES_VERSION
    assert inputs["bootstrapSelfManagedAddons"] is False
    assert inputs["upgradePolicy"] == {"supportType": "STANDARD"}
    assert record.parent_type == EKS_TYPE
    logs = pulumi_mocks.one("aws:cloudwatch/logGroup:LogGroup").inputs
    # A year of audit trail by default (issue #16; policy rule SGA-022).
    assert logs["name"] == "/aws/eks/sg/cluster" and logs["retentionInDays"] == 365
    grants = pulumi_mocks.by_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    # The listed role and the identity running Pulumi (the mocks' caller is an IAM user).
    assert sorted(g.inputs["principalArn"] for g in grants) == [
        ADMINS,
        "arn:aws:iam::123456789012:user/sgarch-test",
    ]
    for grant in grants:
        assert (
            grant.inputs["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
        )
        assert grant.inputs["accessScope"] == {"type": "cluster"}


def test_nodes_require_imdsv2_and_encrypted_gp3(pulumi_mocks: SgarchMocks, cluster: EksCluster) -> None:
    template = pulumi_mocks.one("aws:ec2/launchTemplate:LaunchTemplate").inputs
    # IMDSv2 only; hop limit 2 because the EBS CSI driver's pods read instance metadata.
    assert template["metadataOptions"] == {
        "httpEndpoint": "enabled",
        "httpTokens": "required",
        "httpPutResponseHopLimit": 2,
    }
    (root,) = template["blockDeviceMappings"]
    assert root["ebs"]["volumeType"] == "gp3" and root["ebs"]["encrypted"] == "true"
    groups = sorted(pulumi_mocks.by_type(NODE_GROUP), key=lambda r: r.name)
    assert [g.name.rsplit("-", 1)[0] for g in groups] == ["sg-nodes-0", "sg-nodes-1"]
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
    grants = {g.urn for g in pulumi_mocks.by_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")}
    assert len(grants) == 2
    assert grants <= set(pulumi_mocks.one("pulumi:providers:kubernetes").options.depends_on)


def test_kubeconfig_is_secret_and_credential_free(pulumi_mocks: SgarchMocks, cluster: EksCluster) -> None:
    config = json.loads(pulumi_mocks.resolve(cluster.kubeconfig))
    exec_ = config["users"][0]["user"]["exec"]
    assert exec_["command"] == "aws" and exec_["args"][:4] == ["eks", "get-token", "--cluster-name", "sg"]
    assert "--role-arn" not in exec_["args"] and not exec_.get("env")
    provider = pulumi_mocks.one("pulumi:providers:kubernetes")
    assert "kubeconfig" in provider.secret_inputs


def test_kubeconfig_authenticates_like_pulumi(pulumi_mocks: SgarchMocks) -> None:
    # Pulumi's AWS provider may use a profile and assumed roles the ambient `aws` CLI knows nothing about;
    # the Kubernetes provider's `aws eks get-token` must get the same identity, or it is not an admin.
    role = "arn:aws:iam::123456789012:role/deployer"
    pulumi_mocks.set_config(
        {
            "aws:region": "eu-west-1",
            "aws:profile": "sourcegraph-prod",
            "aws:assumeRoles": [{"roleArn": "arn:aws:iam::123456789012:role/hop"}, {"roleArn": role}],
        }
    )
    cluster = plan(pulumi_mocks, load_balancer_controller=False)
    exec_ = json.loads(pulumi_mocks.resolve(cluster.kubeconfig))["users"][0]["user"]["exec"]
    assert exec_["env"] == [{"name": "AWS_PROFILE", "value": "sourcegraph-prod"}]
    args = exec_["args"]
    assert args[args.index("--region") + 1] == "eu-west-1"
    assert args[args.index("--role-arn") + 1] == role
    # An explicit argument wins over the stack config.
    pulumi_mocks.clear()
    with mocked_runtime(SgarchMocks()) as other:
        other.set_config({"aws:profile": "sourcegraph-prod"})
        cluster = plan(
            other, kubeconfig_profile="ops", kubeconfig_role_arn=role, load_balancer_controller=False
        )
        exec_ = json.loads(other.resolve(cluster.kubeconfig))["users"][0]["user"]["exec"]
    assert exec_["env"] == [{"name": "AWS_PROFILE", "value": "ops"}]
    assert exec_["args"][exec_["args"].index("--role-arn") + 1] == role


def test_public_endpoint_refuses_the_whole_internet_unless_allowed(pulumi_mocks: SgarchMocks) -> None:
    for cidrs in (("0.0.0.0/0",), ("203.0.113.0/24", "0.0.0.0/0")):
        with pytest.raises(
            ConfigError,
            match=r"^public_access_cidrs must be networks narrower than the whole internet \(got '0.0.0.0/0'\): "
            r".*allow_public_api_from_anywhere: true",
        ):
            build(
                EksClusterArgs,
                None,
                vpc_id="vpc-1",
                private_subnet_ids=SUBNETS,
                endpoint_public_access=True,
                public_access_cidrs=cidrs,
            )
    plan(
        pulumi_mocks,
        endpoint_public_access=True,
        public_access_cidrs=("0.0.0.0/0",),
        allow_public_api_from_anywhere=True,
    )
    assert pulumi_mocks.one(CLUSTER).inputs["vpcConfig"]["publicAccessCidrs"] == ["0.0.0.0/0"]


@pytest.mark.parametrize(
    ("cidr", "fix"),
    [
        ("10.0.0.1/8", "use the network address 10.0.0.0/8"),
        ("203.0.113.10", "write them as 203.0.113.0/24"),
        ("2001:db8::/32", "write them as 203.0.113.0/24"),
        ("300.0.0.0/8", "write them as 203.0.113.0/24"),
    ],
)
@pytest.mark.parametrize("field", ["public_access_cidrs", "private_access_cidrs"])
def test_api_cidrs_are_ipv4_blocks(field: str, cidr: str, fix: str) -> None:
    with pytest.raises(ConfigError) as info:
        build(
            EksClusterArgs,
            None,
            vpc_id="vpc-1",
            private_subnet_ids=SUBNETS,
            endpoint_public_access=field == "public_access_cidrs",
            **{field: (cidr,)},
        )
    assert str(info.value).startswith(
        f"{field} must be IPv4 CIDR blocks such as 203.0.113.0/24 (got '{cidr}'): {fix}"
    )


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
            {"kubernetes_version": "1.19"},
            r"^kubernetes_version must be a version EKS supports \(1\.29, .*1\.34, 1\.35 as of 2026-02-14\) "
            r"\(got 1\.19\): pick one of them",
        ),
        (
            {"kubernetes_version": "1.30"},
            r"^kubernetes_version must be a version in EKS standard support \(1\.32, .* as of 2026-02-14\) "
            r"\(got 1\.30\): 1\.30 is in extended support, which costs \$0\.60 per cluster-hour instead of "
            r"\$0\.10 \(about \$438 instead of \$73 a month\)",
        ),
        ({"kubernetes_version": "1.99"}, r"^kubernetes_version must be a version EKS supports"),
        (
            {"enabled_cluster_log_types": ("api", "controller-manager")},
            r"^enabled_cluster_log_types must be a list drawn from api, audit, authenticator, controllerManager, "
            r"scheduler \(got 'controller-manager'\): spell the types as EKS does",
        ),
        (
            {"log_retention_days": 45},
            r"^log_retention_days must be a retention CloudWatch Logs accepts \(1, 3, 5, .*, 3653 days\) "
            r"\(got 45\): use 30",
        ),
        (
            {"admin_principal_arns": (ADMINS, "arn:aws:iam::123456789012:role/platform/Admins")},
            r"^admin_principal_arns must be a list naming each principal once "
            r"\(got 'arn:aws:iam::123456789012:role/platform/Admins'\): it is the same principal as",
        ),
        (
            {"kubeconfig_role_arn": "arn:aws:iam::123456789012:user/me"},
            r"^kubeconfig_role_arn must be an IAM role",
        ),
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


# -- issue #14: what a first real `pulumi up` and the next changes need ------------------------------------


def test_node_groups_and_addons_follow_the_cluster_version(pulumi_mocks: SgarchMocks) -> None:
    """Without a version, node groups and add-ons stay where they were created when the control plane moves."""
    plan(pulumi_mocks, kubernetes_version="1.33", addon_versions={"coredns": "v1.11.4-eksbuild.2"})
    cluster = pulumi_mocks.one(CLUSTER)
    assert cluster.inputs["version"] == "1.33"
    for group in pulumi_mocks.by_type(NODE_GROUP):
        # From the cluster's output: the nodes move after the control plane, never before it.
        assert group.inputs["version"] == cluster.outputs["version"] == "1.33"
        assert cluster.urn in group.options.depends_on
    lookups = {i.args["addonName"]: i for i in pulumi_mocks.invoked(ADDON_VERSION)}
    assert set(lookups) == {"vpc-cni", "kube-proxy", "eks-pod-identity-agent", "aws-ebs-csi-driver"}
    for lookup in lookups.values():
        assert lookup.args["kubernetesVersion"] == "1.33"
    addons = {r.inputs["addonName"]: r.inputs for r in pulumi_mocks.by_type(ADDON)}
    for name, lookup in lookups.items():
        assert addons[name]["addonVersion"] == lookup.result["version"]
    assert addons["kube-proxy"]["addonVersion"].startswith("v1.33.")
    # A pinned version still wins.
    assert addons["coredns"]["addonVersion"] == "v1.11.4-eksbuild.2"


def _plan_alone(**kwargs: Any) -> list[ResourceRecord]:
    with mocked_runtime(SgarchMocks()) as mocks:
        plan(mocks, tier=Tier.S, **kwargs)
        return mocks.resources


# Inputs EKS cannot change on an existing managed node group: the provider replaces the group when one
# differs (terraform-provider-aws marks them ForceNew), as does a new launch template id.
_NODE_GROUP_FORCE_NEW = (
    "amiType",
    "capacityType",
    "clusterName",
    "diskSize",
    "instanceTypes",
    "nodeGroupName",
    "nodeGroupNamePrefix",
    "nodeRoleArn",
    "remoteAccess",
    "subnetIds",
)


def _node_group_steps(
    before: list[ResourceRecord], after: list[ResourceRecord]
) -> tuple[set[str], set[str], set[str]]:
    """(created, deleted, replaced in place) node group URNs between two plans, as Pulumi would step them."""
    old = {r.urn: r for r in before if r.type == NODE_GROUP}
    new = {r.urn: r for r in after if r.type == NODE_GROUP}
    replaced = {
        urn
        for urn in old.keys() & new.keys()
        if any(old[urn].inputs.get(k) != new[urn].inputs.get(k) for k in _NODE_GROUP_FORCE_NEW)
        or old[urn].inputs["launchTemplate"]["id"] != new[urn].inputs["launchTemplate"]["id"]
    }
    return set(new) - set(old), set(old) - set(new), replaced


def test_instance_type_change_is_blue_green() -> None:
    """A new instance type creates new node groups first and deletes the old ones last.

    The mocks cannot run `pulumi up`, so the test compares two plans the way the engine does: a node group
    whose URN is new is *created* while the program runs; a URN that is no longer declared is *deleted*, and
    Pulumi deletes those only after every create and update has finished, i.e. once the new nodes are up.
    A replace-forcing input changing under the same URN would instead be a *replacement* of that group (all
    zones at once, and with a fixed name an "already exists" failure): that must never happen.
    """
    small = _plan_alone(instance_type="m6a.4xlarge")
    large = _plan_alone(instance_type="m6a.8xlarge")
    created, deleted, replaced = _node_group_steps(small, large)
    assert len(created) == len(deleted) == 2 and replaced == set()
    for record in large:
        if record.urn in created:
            assert record.inputs["instanceTypes"] == ["m6a.8xlarge"]
            # Autonamed: a physical name never collides with the group it succeeds.
            assert "nodeGroupName" not in record.inputs and "nodeGroupNamePrefix" not in record.inputs
            assert record.outputs["nodeGroupName"].startswith(record.name + "-")
    # The root volume is hardware too; node counts are not: more nodes scale the same groups in place.
    assert _node_group_steps(small, _plan_alone(instance_type="m6a.4xlarge", root_volume_gib=200))[2] == set()
    created, deleted, replaced = _node_group_steps(
        small, _plan_alone(instance_type="m6a.4xlarge", node_count=6)
    )
    assert created == deleted == replaced == set()
    # A Kubernetes upgrade is an in-place rolling update of the same groups (EKS drains node by node).
    created, deleted, replaced = _node_group_steps(
        small, _plan_alone(instance_type="m6a.4xlarge", kubernetes_version="1.35")
    )
    assert created == deleted == replaced == set()


def _explicit_physical_name(record: ResourceRecord) -> str | None:
    if record.type == "kubernetes:helm.sh/v3:Release":
        return record.inputs.get("name")
    if record.type.startswith("kubernetes:"):
        return (record.inputs.get("metadata") or {}).get("name")
    return record.inputs.get("name") or record.inputs.get("nodeGroupName")


def test_fixed_physical_names_are_deleted_before_replacement(pulumi_mocks: SgarchMocks) -> None:
    """A replacement creates the new resource before deleting the old one; with a fixed physical name the
    create fails with "already exists". Every name sgarch fixes therefore goes with delete_before_replace;
    everything else is autonamed by the provider."""
    cluster = plan(pulumi_mocks, tier=Tier.S)
    root = next(r for r in pulumi_mocks.resources if r.type == EKS_TYPE)
    named = {}
    for record in pulumi_mocks.descendants(root):
        name = _explicit_physical_name(record)
        if name is not None:
            named[record.type] = name
            assert record.options.delete_before_replace, f"{record.type} {record.name} is named {name!r}"
    assert named == {
        CLUSTER: "sg",
        "aws:cloudwatch/logGroup:LogGroup": "/aws/eks/sg/cluster",
        "kubernetes:storage.k8s.io/v1:StorageClass": cluster.storage_class_name,
        "kubernetes:helm.sh/v3:Release": "aws-load-balancer-controller",
    }


def test_caller_listed_as_admin_gets_one_access_entry(pulumi_mocks: SgarchMocks) -> None:
    """With EKS's creator bootstrap, a role that runs Pulumi and is also listed failed with 409."""
    pulumi_mocks.register_invoke(
        "aws:index/getCallerIdentity:getCallerIdentity",
        lambda args, region: {
            "id": "123456789012",
            "accountId": "123456789012",
            "arn": "arn:aws:sts::123456789012:assumed-role/admins/ci-run-42",
            "userId": "AROAEXAMPLE:ci-run-42",
        },
    )
    plan(pulumi_mocks, admin_principal_arns=(ADMINS,))
    assert (
        pulumi_mocks.one(CLUSTER).inputs["accessConfig"]["bootstrapClusterCreatorAdminPermissions"] is False
    )
    (entry,) = pulumi_mocks.by_type(ACCESS_ENTRY)
    assert entry.inputs["principalArn"] == ADMINS
    (session,) = pulumi_mocks.invoked("aws:iam/getSessionContext:getSessionContext")
    assert session.result["issuerArn"] == ADMINS


def test_caller_not_listed_gets_its_own_entry_from_its_role(pulumi_mocks: SgarchMocks) -> None:
    pulumi_mocks.register_invoke(
        "aws:index/getCallerIdentity:getCallerIdentity",
        lambda args, region: {
            "id": "123456789012",
            "accountId": "123456789012",
            "arn": "arn:aws:sts::123456789012:assumed-role/deployer/session",
            "userId": "AROAEXAMPLE:session",
        },
    )
    plan(pulumi_mocks, admin_principal_arns=(ADMINS,))
    entries = sorted(r.inputs["principalArn"] for r in pulumi_mocks.by_type(ACCESS_ENTRY))
    # The role, never the STS session ARN, which access entries refuse.
    assert entries == [ADMINS, "arn:aws:iam::123456789012:role/deployer"]
    # Logical names follow the principal, not its position: reordering the list changes nothing.
    names = {r.name for r in pulumi_mocks.by_type(ACCESS_ENTRY)}
    with mocked_runtime(SgarchMocks()) as other:
        other.register_invoke(
            "aws:index/getCallerIdentity:getCallerIdentity",
            lambda args, region: {"id": "1", "accountId": "123456789012", "arn": ADMINS, "userId": "x"},
        )
        plan(other, admin_principal_arns=("arn:aws:iam::123456789012:role/deployer", ADMINS))
        assert {r.name for r in other.by_type(ACCESS_ENTRY)} == names


def test_no_entry_for_the_caller_when_turned_off(pulumi_mocks: SgarchMocks) -> None:
    plan(pulumi_mocks, bootstrap_cluster_creator_admin=False, admin_principal_arns=(ADMINS,))
    assert [r.inputs["principalArn"] for r in pulumi_mocks.by_type(ACCESS_ENTRY)] == [ADMINS]
    assert pulumi_mocks.invoked("aws:index/getCallerIdentity:getCallerIdentity") == []
