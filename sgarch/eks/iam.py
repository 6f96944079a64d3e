"""IAM policy documents for EKS, as JSON strings built in Python. Pure: no Pulumi, no policy-document invoke.

Pod Identity roles trust ``pods.eks.amazonaws.com`` with ``sts:AssumeRole`` and ``sts:TagSession``; an
association then ties one role to one namespace and service account. No OIDC provider is needed.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from sgarch.eks.versions import LOAD_BALANCER_CONTROLLER_POLICY_VERSION

__all__ = [
    "EBS_CSI_POLICY_ARN",
    "NODE_POLICY_ARNS",
    "cluster_trust_policy",
    "kms_for_ebs_policy",
    "load_balancer_controller_policy",
    "load_balancer_controller_policy_version",
    "node_trust_policy",
    "pod_identity_trust_policy",
    "rds_connect_policy",
    "s3_access_policy",
    "s3_bucket_policy",
]

EBS_CSI_POLICY_ARN = "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
CLUSTER_POLICY_ARN = "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"
NODE_POLICY_ARNS: dict[str, str] = {
    "worker": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "ecr": "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    # vpc-cni runs as the node role: one less Pod Identity association to bootstrap networking.
    "cni": "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "ssm": "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
}
"""Managed policies on the node role, by the short name used in its attachments' logical names."""


def _document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, sort_keys=True)


def _service_trust(service: str) -> str:
    return _document(
        {
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }
    )


def cluster_trust_policy() -> str:
    """Trust policy of the EKS cluster role."""
    return _service_trust("eks.amazonaws.com")


def node_trust_policy() -> str:
    """Trust policy of the node role (EC2 instances)."""
    return _service_trust("ec2.amazonaws.com")


def pod_identity_trust_policy() -> str:
    """Trust policy of a role handed to pods through EKS Pod Identity."""
    return _service_trust("pods.eks.amazonaws.com")


@cache
def _load_balancer_controller_text() -> str:
    return (
        resources.files("sgarch.eks") / "data" / "aws-load-balancer-controller-iam-policy.json"
    ).read_text()


def load_balancer_controller_policy() -> str:
    """The AWS Load Balancer Controller's official IAM policy, verbatim (see ``data/README.md``)."""
    return _load_balancer_controller_text()


def load_balancer_controller_policy_version() -> str:
    """The controller release the embedded policy comes from."""
    return LOAD_BALANCER_CONTROLLER_POLICY_VERSION


def kms_for_ebs_policy(key_arn: str) -> str:
    """Let the EBS CSI driver create and attach volumes encrypted with a customer-managed key.

    Grants are limited to AWS resources (EBS attaches volumes through a grant); the data-key actions are
    what EBS needs to encrypt a new volume. The exact list follows the driver's documented KMS example.
    """
    return _document(
        {
            "Effect": "Allow",
            "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
            "Resource": [key_arn],
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        },
        {
            "Effect": "Allow",
            "Action": [
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:DescribeKey",
            ],
            "Resource": [key_arn],
        },
    )


def s3_access_policy(bucket_arn: str) -> str:
    """Read and write objects in Sourcegraph's bucket, and nothing else (no bucket management)."""
    return _document(
        {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"], "Resource": [bucket_arn]},
        {
            "Effect": "Allow",
            "Action": [
                "s3:GetObject",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            ],
            "Resource": [f"{bucket_arn}/*"],
        },
    )


def s3_bucket_policy(bucket_arn: str) -> str:
    """Deny every request to the bucket that does not use TLS."""
    return _document(
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )


def rds_connect_policy(db_user_arns: list[str]) -> str:
    """``rds-db:connect`` as the given database users (``arn:aws:rds-db:<region>:<account>:dbuser:<id>/<user>``)."""
    return _document({"Effect": "Allow", "Action": ["rds-db:connect"], "Resource": list(db_user_arns)})
