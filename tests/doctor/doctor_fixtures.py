"""A single-node deployment built in moto (in-process): healthy or with the classic mistakes."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

REGION = "us-east-1"
VERSION = "7.5.4453"


@dataclass
class Deployment:
    instance_id: str
    volume_id: str
    group_id: str
    target_group_arn: str
    outputs: dict[str, Any] = field(default_factory=dict)

    def write(self, directory: Path, **extra: Any) -> Path:
        path = directory / "outputs.json"
        path.write_text(json.dumps(self.outputs | extra), encoding="utf-8")
        return path


_NAMES = itertools.count()


def build_deployment(*, faulty: bool = False, disk_used_percent: float | None = 42.0) -> Deployment:
    """Healthy: running, tagged, encrypted volume at /dev/sdf, private SG, a snapshot, an ALB target.

    Faulty: the instance is stopped, the volume detached and unencrypted, SSH open to the world, no snapshot.
    """
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"][0]
    name = f"demo{next(_NAMES)}"
    group = ec2.create_security_group(GroupName=f"{name}-instance", Description="demo", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}
        ],
    )
    if faulty:
        ec2.authorize_security_group_ingress(
            GroupId=group,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
            ],
        )
    instance = ec2.run_instances(
        ImageId="ami-12345678",
        MinCount=1,
        MaxCount=1,
        InstanceType="m6a.2xlarge",
        SubnetId=subnet["SubnetId"],
        SecurityGroupIds=[group],
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [
                    {"Key": "sgarch:component", "Value": "single-node"},
                    {"Key": "Name", "Value": "demo"},
                ],
            }
        ],
    )["Instances"][0]
    iid = instance["InstanceId"]
    volume = ec2.create_volume(
        AvailabilityZone=subnet["AvailabilityZone"],
        Size=500,
        VolumeType="gp3",
        Encrypted=not faulty,
        TagSpecifications=[
            {
                "ResourceType": "volume",
                "Tags": [
                    {"Key": "sgarch:component", "Value": "single-node"},
                    {"Key": "sgarch:backup", "Value": "demo"},
                ],
            }
        ],
    )["VolumeId"]
    if not faulty:
        ec2.attach_volume(VolumeId=volume, InstanceId=iid, Device="/dev/sdf")
        ec2.create_snapshot(VolumeId=volume, Description="daily")
    elb = boto3.client("elbv2", region_name=REGION)
    target_group = elb.create_target_group(
        Name=name, Protocol="HTTP", Port=80, VpcId=vpc, TargetType="instance"
    )["TargetGroups"][0]["TargetGroupArn"]
    elb.register_targets(TargetGroupArn=target_group, Targets=[{"Id": iid, "Port": 80}])
    if disk_used_percent is not None:
        boto3.client("cloudwatch", region_name=REGION).put_metric_data(
            Namespace="CWAgent",
            MetricData=[
                {
                    "MetricName": "disk_used_percent",
                    "Dimensions": [
                        {"Name": "InstanceId", "Value": iid},
                        {"Name": "path", "Value": "/mnt/data"},
                        {"Name": "device", "Value": "nvme1n1"},
                        {"Name": "fstype", "Value": "xfs"},
                    ],
                    "Value": disk_used_percent,
                    "Unit": "Percent",
                }
            ],
        )
    if faulty:
        ec2.stop_instances(InstanceIds=[iid])
    outputs = {
        "instance_id": iid,
        "data_volume_id": volume,
        "url": "https://sourcegraph.example.com",
        "tier": "S",
        "sourcegraph_version": VERSION,
        "target_group_arn": target_group,
    }
    return Deployment(iid, volume, group, target_group, outputs)


class Patched:
    """A boto3 client with some methods replaced; everything else goes to the real (moto) client."""

    def __init__(self, client: Any, **overrides: Callable[..., Any]) -> None:
        self._client = client
        self._overrides = overrides

    def __getattr__(self, name: str) -> Any:
        if name in self._overrides:
            return self._overrides[name]
        return getattr(self._client, name)


def forbidden(operation: str, code: str = "AccessDenied") -> Callable[..., Any]:
    """A client method that fails the way IAM denies a call."""

    def call(**_: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": code, "Message": f"User is not authorized to perform {operation}"}}, operation
        )

    return call
