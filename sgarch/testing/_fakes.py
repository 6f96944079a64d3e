"""Plausible, deterministic AWS identifiers for the mocks: ids, ARNs, autonames and computed outputs.

Everything is derived from a hash of the resource's type and logical name, so the same program always gets
the same ids. That keeps plans and golden files stable and lets tests compare two runs.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

__all__ = [
    "ACCOUNT_ID",
    "InvokeFailedError",
    "autoname",
    "availability_zones",
    "computed_outputs",
    "fake_hex",
    "fake_id",
    "partition_for",
]

ACCOUNT_ID = "123456789012"

# EC2-style id prefixes by type token; other resources get an id derived from their name.
_ID_PREFIXES: dict[str, str] = {
    "aws:ec2/vpc:Vpc": "vpc-",
    "aws:ec2/subnet:Subnet": "subnet-",
    "aws:ec2/instance:Instance": "i-",
    "aws:ebs/volume:Volume": "vol-",
    "aws:ebs/snapshot:Snapshot": "snap-",
    "aws:ec2/securityGroup:SecurityGroup": "sg-",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "sg-",
    "aws:ec2/internetGateway:InternetGateway": "igw-",
    "aws:ec2/natGateway:NatGateway": "nat-",
    "aws:ec2/eip:Eip": "eipalloc-",
    "aws:ec2/routeTable:RouteTable": "rtb-",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc-",
    "aws:ec2/route:Route": "r-rtb-",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce-",
    "aws:ec2/launchTemplate:LaunchTemplate": "lt-",
    "aws:ec2/networkInterface:NetworkInterface": "eni-",
    "aws:ec2/keyPair:KeyPair": "key-",
    "aws:ec2/ami:Ami": "ami-",
    "aws:ec2/securityGroupRule:SecurityGroupRule": "sgrule-",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "sgr-",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "sgr-",
    "aws:ec2/volumeAttachment:VolumeAttachment": "vai-",
    "aws:dlm/lifecyclePolicy:LifecyclePolicy": "policy-",
}

# Resources whose id *is* their ARN in the AWS provider.
_ARN_IS_ID = {
    "aws:iam/policy:Policy",
    "aws:lb/loadBalancer:LoadBalancer",
    "aws:lb/targetGroup:TargetGroup",
    "aws:lb/listener:Listener",
    "aws:lb/listenerRule:ListenerRule",
    "aws:alb/loadBalancer:LoadBalancer",
    "aws:alb/targetGroup:TargetGroup",
    "aws:alb/listener:Listener",
    "aws:acm/certificate:Certificate",
    "aws:sns/topic:Topic",
}

# Resources whose id is their (auto)name in the AWS provider.
_NAME_IS_ID = {
    "aws:iam/role:Role",
    "aws:iam/instanceProfile:InstanceProfile",
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:eks/cluster:Cluster",
    "aws:s3/bucket:Bucket",
}

# Autonamed property, when it is not ``name``.
_AUTONAME_PROPERTY = {"aws:s3/bucket:Bucket": "bucket", "aws:eks/nodeGroup:NodeGroup": "nodeGroupName"}

# Names these services accept are short; the provider truncates the prefix to fit.
_NAME_MAX = {
    "aws:lb/loadBalancer:LoadBalancer": 32,
    "aws:lb/targetGroup:TargetGroup": 32,
    "aws:alb/loadBalancer:LoadBalancer": 32,
    "aws:alb/targetGroup:TargetGroup": 32,
    "aws:iam/role:Role": 64,
    "aws:s3/bucket:Bucket": 63,
    "aws:eks/nodeGroup:NodeGroup": 63,
}

# Availability zone ids use a short region code (use1-az1); the common regions are listed, the rest derive one.
_ZONE_ID_PREFIX = {
    "us-east-1": "use1",
    "us-east-2": "use2",
    "us-west-1": "usw1",
    "us-west-2": "usw2",
    "eu-west-1": "euw1",
    "eu-west-2": "euw2",
    "eu-west-3": "euw3",
    "eu-central-1": "euc1",
    "eu-north-1": "eun1",
    "ap-southeast-1": "apse1",
    "ap-southeast-2": "apse2",
    "ap-northeast-1": "apne1",
    "ap-south-1": "aps1",
    "ca-central-1": "cac1",
    "sa-east-1": "sae1",
}

# us-east-1 has six zones; most regions have three.
_ZONE_COUNT = {"us-east-1": 6, "us-west-2": 4, "ap-northeast-1": 3}

# Canonical hosted zone ids of application load balancers, for Route53 alias records.
_ALB_ZONE_IDS = {
    "us-east-1": "Z35SXDOTRQ7X7K",
    "us-east-2": "Z3AADJGX6KTTL2",
    "us-west-1": "Z368ELLRRE2KJ0",
    "us-west-2": "Z1H1FL5HABSF5",
    "eu-west-1": "Z32O12XQLNTSW2",
    "eu-central-1": "Z215JYRZR1TBD5",
}


class InvokeFailedError(Exception):
    """Raised by a handler to make the invoke fail the way the provider's does ("no matching ... found").

    The mocks turn it into an invoke failure, so the program sees the same exception as against AWS: an
    ``Exception`` whose text contains ``reason``.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def fake_hex(*parts: str, length: int = 17) -> str:
    """Deterministic lowercase hex of ``length`` characters derived from ``parts``."""
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()
    while len(digest) < length:
        digest += hashlib.sha256(digest.encode()).hexdigest()
    return digest[:length]


def partition_for(region: str) -> tuple[str, str]:
    """The (partition, DNS suffix) of a region."""
    if region.startswith("cn-"):
        return "aws-cn", "amazonaws.com.cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov", "amazonaws.com"
    return "aws", "amazonaws.com"


def availability_zones(region: str) -> tuple[list[str], list[str]]:
    """The (names, zone ids) of a region's availability zones."""
    count = _ZONE_COUNT.get(region, 3)
    prefix = _ZONE_ID_PREFIX.get(region) or "".join(p[0] for p in region.split("-")[:-1]) + region[-1]
    names = [f"{region}{chr(ord('a') + i)}" for i in range(count)]
    ids = [f"{prefix}-az{i + 1}" for i in range(count)]
    return names, ids


def _service(type_: str) -> str:
    module = type_.split(":")[1].split("/")[0]
    return {"lb": "elasticloadbalancing", "alb": "elasticloadbalancing", "cloudwatch": "cloudwatch"}.get(
        module, module
    )


def _kebab(camel: str) -> str:
    return "".join("-" + c.lower() if c.isupper() else c for c in camel).lstrip("-")


@lru_cache(maxsize=512)
def _has_name_property(type_: str) -> bool:
    """Whether the pulumi-aws resource behind ``type_`` takes a ``name`` argument (so it is autonamed)."""
    package, module_path, class_name = type_.split(":")
    if package != "aws":
        return False
    module = module_path.split("/")[0]
    try:
        mod = importlib.import_module("pulumi_aws" if module == "index" else f"pulumi_aws.{module}")
        cls = getattr(mod, class_name)
        params = inspect.signature(cls._internal_init).parameters
    except (ImportError, AttributeError, TypeError, ValueError):
        return False
    return "name" in params


def autoname(type_: str, name: str, inputs: Mapping[str, Any]) -> tuple[str, str] | None:
    """The (property, value) the provider would fill in, or None when nothing is autonamed.

    Like the real provider: ``<logical name>-<7 hex>``, or ``<namePrefix><hex>`` when a prefix is given;
    nothing when the property is already set.
    """
    prop = _AUTONAME_PROPERTY.get(type_)
    if prop is None:
        if not _has_name_property(type_):
            return None
        prop = "name"
    if inputs.get(prop):
        return None
    suffix = fake_hex(type_, name, length=7)
    prefix = inputs.get("namePrefix")
    if isinstance(prefix, str) and prefix:
        return prop, prefix + fake_hex(type_, name, length=26)
    limit = _NAME_MAX.get(type_, 128)
    base = name[: limit - len(suffix) - 1]
    value = f"{base}-{suffix}"
    if prop == "bucket":
        value = value.lower().replace("_", "-")
    return prop, value


def fake_id(type_: str, name: str, state: Mapping[str, Any], region: str) -> str:
    """The physical id AWS would give this resource."""
    if type_ in _ID_PREFIXES:
        return _ID_PREFIXES[type_] + fake_hex(type_, name)
    if type_ in _ARN_IS_ID:
        return fake_arn(type_, name, state, region)
    if type_ in _NAME_IS_ID:
        value = state.get(_AUTONAME_PROPERTY.get(type_, "name"))
        if isinstance(value, str) and value:
            return value
    if type_ == "aws:kms/key:Key":
        return _uuid(type_, name)
    return f"{name}-{fake_hex(type_, name, length=8)}"


def _uuid(*parts: str) -> str:
    h = fake_hex(*parts, length=32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def fake_arn(type_: str, name: str, state: Mapping[str, Any], region: str) -> str:
    """A well-formed ARN for the resource, in the region's partition and the mock account."""
    partition, _ = partition_for(region)
    head = f"arn:{partition}"
    res_name = str(state.get("name") or name)
    if type_ in ("aws:iam/role:Role", "aws:iam/instanceProfile:InstanceProfile", "aws:iam/policy:Policy"):
        kind = {"Role": "role", "InstanceProfile": "instance-profile", "Policy": "policy"}[
            type_.split(":")[2]
        ]
        path = str(state.get("path") or "/")
        return f"{head}:iam::{ACCOUNT_ID}:{kind}{path}{res_name}"
    if type_ in ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer"):
        kind = "net" if state.get("loadBalancerType") == "network" else "app"
        return f"{head}:elasticloadbalancing:{region}:{ACCOUNT_ID}:loadbalancer/{kind}/{res_name}/{fake_hex(name, length=16)}"
    if type_ in ("aws:lb/targetGroup:TargetGroup", "aws:alb/targetGroup:TargetGroup"):
        return f"{head}:elasticloadbalancing:{region}:{ACCOUNT_ID}:targetgroup/{res_name}/{fake_hex(name, length=16)}"
    if type_ in ("aws:lb/listener:Listener", "aws:alb/listener:Listener"):
        return (
            f"{head}:elasticloadbalancing:{region}:{ACCOUNT_ID}:listener/app/{name}/"
            f"{fake_hex('lb', name, length=16)}/{fake_hex(name, length=16)}"
        )
    if type_ == "aws:acm/certificate:Certificate":
        return f"{head}:acm:{region}:{ACCOUNT_ID}:certificate/{_uuid(type_, name)}"
    if type_ == "aws:sns/topic:Topic":
        return f"{head}:sns:{region}:{ACCOUNT_ID}:{res_name}"
    if type_ == "aws:kms/key:Key":
        return f"{head}:kms:{region}:{ACCOUNT_ID}:key/{_uuid(type_, name)}"
    if type_ == "aws:cloudwatch/metricAlarm:MetricAlarm":
        return f"{head}:cloudwatch:{region}:{ACCOUNT_ID}:alarm:{res_name}"
    if type_ == "aws:cloudwatch/logGroup:LogGroup":
        return f"{head}:logs:{region}:{ACCOUNT_ID}:log-group:{res_name}"
    if type_ == "aws:s3/bucket:Bucket":
        return f"{head}:s3:::{state.get('bucket') or res_name}"
    if type_ == "aws:eks/cluster:Cluster":
        return f"{head}:eks:{region}:{ACCOUNT_ID}:cluster/{res_name}"
    if type_ == "aws:eks/nodeGroup:NodeGroup":
        group = state.get("nodeGroupName") or name
        return f"{head}:eks:{region}:{ACCOUNT_ID}:nodegroup/{state.get('clusterName')}/{group}/{_uuid(type_, name)}"
    short = _kebab(type_.split(":")[2])
    if type_ in _ID_PREFIXES:
        return f"{head}:{_service(type_)}:{region}:{ACCOUNT_ID}:{short}/{_ID_PREFIXES[type_]}{fake_hex(type_, name)}"
    return f"{head}:{_service(type_)}:{region}:{ACCOUNT_ID}:{short}/{res_name}"


def computed_outputs(
    type_: str, name: str, state: Mapping[str, Any], id_: str, region: str
) -> dict[str, Any]:
    """Outputs AWS computes for this resource type (ids, ARNs, DNS names), without overriding inputs."""
    zones, zone_ids = availability_zones(region)
    _, dns_suffix = partition_for(region)
    out: dict[str, Any] = {"arn": id_ if type_ in _ARN_IS_ID else fake_arn(type_, name, state, region)}
    if type_.startswith("aws:"):
        out["region"] = region
        out["tagsAll"] = dict(state.get("tags") or {})
    az = state.get("availabilityZone") or zones[0]
    if not state.get("availabilityZone") and state.get("availabilityZoneId") in zone_ids:
        # Placed by zone id (a Subnet's availability_zone_id): AWS reports the zone's name too.
        az = zones[zone_ids.index(state["availabilityZoneId"])]
    if type_ == "aws:ec2/vpc:Vpc":
        out.update(
            defaultSecurityGroupId="sg-" + fake_hex("default-sg", name),
            defaultRouteTableId="rtb-" + fake_hex("main-rtb", name),
            mainRouteTableId="rtb-" + fake_hex("main-rtb", name),
            defaultNetworkAclId="acl-" + fake_hex("acl", name),
            dhcpOptionsId="dopt-" + fake_hex("dopt", name),
            ownerId=ACCOUNT_ID,
        )
    elif type_ == "aws:ec2/subnet:Subnet":
        out.update(
            availabilityZone=az,
            availabilityZoneId=zone_ids[zones.index(az)] if az in zones else f"{az}-id",
            ownerId=ACCOUNT_ID,
        )
    elif type_ == "aws:ec2/instance:Instance":
        ip = f"10.0.{int(fake_hex(name, length=2), 16) % 250}.{int(fake_hex('ip', name, length=2), 16) % 250 + 4}"
        out.update(
            availabilityZone=az,
            privateIp=ip,
            privateDns=f"ip-{ip.replace('.', '-')}.ec2.internal",
            primaryNetworkInterfaceId="eni-" + fake_hex("eni", name),
            instanceState="running",
            ownerId=ACCOUNT_ID,
        )
    elif type_ == "aws:ebs/volume:Volume":
        out.update(availabilityZone=az)
    elif type_ in (
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    ):
        out.update(ownerId=ACCOUNT_ID)
    elif type_ == "aws:ec2/eip:Eip":
        out.update(allocationId=id_, publicIp=f"203.0.113.{int(fake_hex(name, length=2), 16) % 254 + 1}")
    elif type_ == "aws:ec2/natGateway:NatGateway":
        out.update(publicIp=f"198.51.100.{int(fake_hex(name, length=2), 16) % 254 + 1}")
    elif type_ in ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer"):
        lb_name = str(state.get("name") or name)
        internal = "internal-" if state.get("internal") else ""
        digits = int(fake_hex(name, length=8), 16) % 10**10
        out.update(
            dnsName=f"{internal}{lb_name}-{digits}.{region}.elb.{dns_suffix}",
            zoneId=_ALB_ZONE_IDS.get(region, "Z35SXDOTRQ7X7K"),
            arnSuffix=id_.split(":loadbalancer/", 1)[-1],
        )
    elif type_ in ("aws:lb/targetGroup:TargetGroup", "aws:alb/targetGroup:TargetGroup"):
        out.update(arnSuffix=id_.rsplit(":", 1)[-1])
    elif type_ in ("aws:iam/role:Role", "aws:iam/instanceProfile:InstanceProfile", "aws:iam/policy:Policy"):
        out.update(uniqueId="AROA" + fake_hex(name, length=17).upper(), createDate="2024-01-01T00:00:00Z")
        if type_ == "aws:iam/policy:Policy":
            out.update(policyId="ANPA" + fake_hex(name, length=17).upper())
    elif type_ == "aws:acm/certificate:Certificate":
        domains = [state.get("domainName"), *(state.get("subjectAlternativeNames") or [])]
        out.update(
            status="ISSUED",
            domainValidationOptions=[
                {
                    "domainName": d,
                    "resourceRecordName": f"_{fake_hex(str(d), length=32)}.{d}.",
                    "resourceRecordType": "CNAME",
                    "resourceRecordValue": f"_{fake_hex('v', str(d), length=32)}.acm-validations.aws.",
                }
                for d in dict.fromkeys(domains)
                if d
            ],
        )
    elif type_ == "aws:kms/key:Key":
        out.update(keyId=id_)
    elif type_ == "aws:route53/zone:Zone":
        out.update(
            zoneId="Z0" + fake_hex(name, length=18).upper(),
            nameServers=[f"ns-{i}.awsdns-{i:02d}.org" for i in range(1, 5)],
        )
    elif type_ == "aws:route53/record:Record":
        out.update(fqdn=str(state.get("name") or name))
    elif type_ == "aws:s3/bucket:Bucket":
        bucket = str(state.get("bucket") or id_)
        out.update(
            bucketDomainName=f"{bucket}.s3.{dns_suffix}",
            bucketRegionalDomainName=f"{bucket}.s3.{region}.{dns_suffix}",
        )
    elif type_ == "aws:ec2/launchTemplate:LaunchTemplate":
        out.update(latestVersion=1.0, defaultVersion=1.0)
    elif type_ == "aws:elasticache/replicationGroup:ReplicationGroup":
        # ElastiCache's form for a group with cluster mode off: master.<id>.<hash>.<region code>.cache.<suffix>.
        group = str(state.get("replicationGroupId") or name).lower()
        host = f"{group}.{fake_hex('elasticache', name, length=6)}.{region}.cache.{dns_suffix}"
        out.update(primaryEndpointAddress=f"master.{host}", readerEndpointAddress=f"replica.{host}")
    elif type_ == "aws:rds/instance:Instance":
        prefix = str(state.get("identifierPrefix") or "")
        identifier = str(state.get("identifier") or f"{prefix}{fake_hex('rds', name, length=26)}")
        address = f"{identifier}.{fake_hex('rds-host', length=12)}.{region}.rds.{dns_suffix}"
        out.update(
            identifier=identifier,
            address=address,
            endpoint=f"{address}:5432",
            port=5432.0,
            resourceId="db-" + fake_hex("rds-resource", name, length=26).upper(),
        )
        if state.get("manageMasterUserPassword"):
            # RDS keeps the master password in a secret of its own, named rds!db-<uuid>.
            secret = f"rds!db-{_uuid(type_, name)}"
            out["masterUserSecrets"] = [
                {
                    "secretArn": f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:{secret}-{fake_hex(name, length=6)}",
                    "kmsKeyId": f"arn:aws:kms:{region}:{ACCOUNT_ID}:alias/aws/secretsmanager",
                    "secretStatus": "active",
                }
            ]
    return {k: v for k, v in out.items() if k not in state}
