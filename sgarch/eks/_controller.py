"""The AWS Load Balancer Controller of an :class:`~sgarch.eks.EksCluster`: its IAM policy and role through Pod
Identity, and its Helm release (``<name>-lbc``). Registered under the cluster component; moving it here changed
no URN."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from sgarch.eks import iam
from sgarch.eks.versions import EKS_CHARTS_REPOSITORY, LOAD_BALANCER_CONTROLLER_CHART_VERSION

if TYPE_CHECKING:
    from sgarch.eks.component import EksCluster

__all__ = ["LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT", "load_balancer_controller"]

LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT = "aws-load-balancer-controller"


def load_balancer_controller(
    owner: EksCluster, cluster_name: pulumi.Output[str], region: pulumi.Output[str], depends_on: list[Any]
) -> None:
    """Install the controller on ``owner``'s cluster once ``depends_on`` (nodes, Pod Identity agent, DNS) are up."""
    child = owner._opts()
    role = owner._pod_identity_role("lbc", child)
    policy = aws.iam.Policy(
        owner._n("lbc-policy"),
        description=f"AWS Load Balancer Controller {iam.load_balancer_controller_policy_version()} (official)",
        policy=iam.load_balancer_controller_policy(),
        tags=owner._tagged(owner._n("lbc-policy")),
        opts=child,
    )
    attachment = aws.iam.RolePolicyAttachment(
        owner._n("lbc-policy-attachment"), role=role.name, policy_arn=policy.arn, opts=child
    )
    association = aws.eks.PodIdentityAssociation(
        owner._n("lbc-pod-identity"),
        cluster_name=cluster_name,
        namespace="kube-system",
        service_account=LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT,
        role_arn=role.arn,
        tags=owner._tagged(owner._n("lbc-pod-identity")),
        opts=child,
    )
    k8s.helm.v3.Release(
        owner._n("lbc"),
        name="aws-load-balancer-controller",
        chart="aws-load-balancer-controller",
        version=LOAD_BALANCER_CONTROLLER_CHART_VERSION,
        repository_opts={"repo": EKS_CHARTS_REPOSITORY},
        namespace="kube-system",
        values={
            "clusterName": cluster_name,
            # Given rather than discovered from instance metadata: nothing depends on IMDS reachability.
            "region": region,
            "vpcId": owner._args.vpc_id,
            "serviceAccount": {"create": True, "name": LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT},
            **owner._args.load_balancer_controller_values,
        },
        # The release name is fixed; should a change ever replace the release, the old one goes first.
        opts=owner._opts(
            provider=owner.provider,
            depends_on=[*depends_on, association, attachment],
            delete_before_replace=True,
        ),
    )
