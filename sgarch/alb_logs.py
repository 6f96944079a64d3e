"""The S3 bucket an Application Load Balancer writes its access logs to, and the policy that lets it.

ALB access logs support only SSE-S3 (Amazon S3-managed keys) on the destination bucket, not SSE-KMS
(https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html). The bucket
policy names who delivers the logs, which depends on the region:

- regions available before August 2022 deliver from an Elastic Load Balancing account of that region
  (:data:`ELB_ACCOUNT_IDS`);
- newer regions deliver as the service principal ``logdelivery.elasticloadbalancing.amazonaws.com``.

:func:`delivery_policy` is pure; :func:`log_bucket` registers the bucket and its settings. Shared by the
single-node and POC ALBs (``aws.lb.LoadBalancer.access_logs``) and the EKS ALB the AWS Load Balancer
Controller creates (the ingress's ``load-balancer-attributes``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_aws as aws

from sgarch.buckets import PrivateBucket, private_bucket

__all__ = [
    "ELB_ACCOUNT_IDS",
    "LOG_DELIVERY_SERVICE",
    "LOG_EXPIRATION_DAYS",
    "delivery_policy",
    "log_bucket",
]

ELB_ACCOUNT_IDS: dict[str, str] = {
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-northeast-1": "582318560864",
    "ap-northeast-2": "600734575887",
    "ap-northeast-3": "383597477331",
    "ap-south-1": "718504428378",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-southeast-3": "589379963580",
    "ca-central-1": "985666609251",
    "cn-north-1": "638102146993",
    "cn-northwest-1": "037604701340",
    "eu-central-1": "054676820928",
    "eu-north-1": "897822967062",
    "eu-south-1": "635631232127",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-west-3": "009996457667",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-gov-east-1": "190560391635",
    "us-gov-west-1": "048591011584",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
}
"""Elastic Load Balancing account per region available before August 2022, whose root the bucket policy
trusts to deliver access logs. Sources: the "Attach a bucket policy" tables of
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html, as
transcribed by hashicorp/terraform-provider-aws ``internal/service/elb/service_account_data_source.go``
(``accountIDPerRegionMap``). Regions not listed use :data:`LOG_DELIVERY_SERVICE`."""

LOG_DELIVERY_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"
"""The service principal that delivers access logs in regions available from August 2022 on."""

LOG_EXPIRATION_DAYS = 90
"""Access logs older than this are deleted by the bucket's lifecycle rule."""

Namer = Callable[[str], str]


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def delivery_policy(bucket_arn: str, region: str, account_id: str) -> str:
    """The bucket policy: ELB log delivery in ``region`` may put objects under ``AWSLogs/<account_id>/``,
    and every request without TLS is denied."""
    elb_account = ELB_ACCOUNT_IDS.get(region)
    principal: dict[str, Any] = (
        {"AWS": f"arn:{_partition(region)}:iam::{elb_account}:root"}
        if elb_account
        else {"Service": LOG_DELIVERY_SERVICE}
    )
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AllowLoadBalancerLogDelivery",
                    "Effect": "Allow",
                    "Principal": principal,
                    "Action": "s3:PutObject",
                    "Resource": f"{bucket_arn}/AWSLogs/{account_id}/*",
                },
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ],
        }
    )


def log_bucket(n: Namer, tags: dict[str, str], parent: pulumi.Resource) -> PrivateBucket:
    """``n("alb-logs")``, a bucket for ALB access logs (:func:`sgarch.buckets.private_bucket`: SSE-S3, public
    access blocked, protected and kept on destroy) whose policy lets the region's ELB log delivery write and
    denies requests without TLS; logs expire after :data:`LOG_EXPIRATION_DAYS` days.

    The ALB must wait for the returned ``policy``: AWS checks it may write when logging is turned on.
    """
    invoke = pulumi.InvokeOutputOptions(parent=parent)
    region = aws.get_region_output(opts=invoke).region
    account = aws.get_caller_identity_output(opts=invoke).account_id

    def policy(bucket_arn: pulumi.Output[str]) -> pulumi.Output[str]:
        return pulumi.Output.all(bucket_arn, region, account).apply(
            lambda parts: delivery_policy(str(parts[0]), str(parts[1]), str(parts[2]))
        )

    return private_bucket(
        n("alb-logs"),
        tags=tags,
        parent=parent,
        policy=policy,
        lifecycle_rules=[
            {
                "id": "expire-access-logs",
                "status": "Enabled",
                "filter": {"prefix": ""},
                "expiration": {"days": LOG_EXPIRATION_DAYS},
                "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
            }
        ],
    )
