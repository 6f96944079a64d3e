"""Answers to the invokes (data sources) sgarch and typical stacks call, with realistic data.

Each handler takes the invoke's arguments (camelCase, as the engine sends them) and the region, and returns
the result (camelCase too). Handlers are plain functions so users can add their own with
:meth:`sgarch.testing.SgarchMocks.register_invoke`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from sgarch.testing._ec2_invokes import EC2_INVOKES
from sgarch.testing._ec2_invokes import filter_values as _filter_values
from sgarch.testing._fakes import ACCOUNT_ID, InvokeFailedError, fake_hex, partition_for
from sgarch.testing._s3_invokes import S3_INVOKES

__all__ = ["DEFAULT_INVOKES", "InvokeFailedError", "InvokeHandler"]

InvokeHandler = Callable[[Mapping[str, Any], str], Mapping[str, Any]]
"""``handler(args, region) -> result``; args and result use camelCase property names."""


# Canonical's and Amazon's AMI owner ids; a filter on either gets a matching owner back.
_AMAZON_OWNER = "137112412989"


def _get_caller_identity(args: Mapping[str, Any], region: str) -> Mapping[str, Any]:
    partition, _ = partition_for(region)
    return {
        "id": ACCOUNT_ID,
        "accountId": ACCOUNT_ID,
        "arn": f"arn:{partition}:iam::{ACCOUNT_ID}:user/sgarch-test",
        "userId": "AIDA" + fake_hex("caller", length=17).upper(),
    }


def _get_session_context(args: Mapping[str, Any], region: str) -> Mapping[str, Any]:
    # Like the provider: an STS assumed-role session maps to its IAM role; any other ARN passes through.
    arn = str(args.get("arn") or "")
    head, _, resource = arn.partition(":assumed-role/")
    if resource and head.startswith("arn:") and ":sts::" in head:
        role, _, session = resource.partition("/")
        partition, account = head.split(":")[1], head.split(":")[4]
        issuer = f"arn:{partition}:iam::{account}:role/{role}"
        return {
            "id": arn,
            "arn": arn,
            "issuerArn": issuer,
            "issuerId": "AROA" + fake_hex("role", issuer, length=17).upper(),
            "issuerName": role,
            "sessionName": session,
        }
    return {"id": arn, "arn": arn, "issuerArn": arn, "issuerId": "", "issuerName": "", "sessionName": ""}


# Plausible EKS add-on versions (an add-on's default for a recent Kubernetes minor); kube-proxy's version
# follows the Kubernetes minor it is asked for, as the real ones do.
_ADDON_VERSIONS = {
    "vpc-cni": "v1.20.4-eksbuild.1",
    "coredns": "v1.12.3-eksbuild.1",
    "eks-pod-identity-agent": "v1.3.8-eksbuild.2",
    "aws-ebs-csi-driver": "v1.48.0-eksbuild.2",
}


def _get_addon_version(args: Mapping[str, Any], region: str) -> Mapping[str, Any]:
    name = str(args.get("addonName"))
    kubernetes = str(args.get("kubernetesVersion"))
    if name == "kube-proxy":
        version = f"v{kubernetes}.0-eksbuild.{2 if args.get('mostRecent') else 1}"
    else:
        version = _ADDON_VERSIONS.get(name, "v1.0.0-eksbuild.1")
    return {
        "id": name,
        "addonName": name,
        "kubernetesVersion": kubernetes,
        "mostRecent": args.get("mostRecent"),
        "version": version,
        "region": region,
    }


def _get_region(args: Mapping[str, Any], region: str) -> Mapping[str, Any]:
    wanted = str(args.get("region") or args.get("name") or region)
    _, suffix = partition_for(wanted)
    return {
        "id": wanted,
        "name": wanted,
        "region": wanted,
        "endpoint": f"ec2.{wanted}.{suffix}",
        "description": wanted,
    }


def _get_partition(args: Mapping[str, Any], region: str) -> Mapping[str, Any]:
    partition, suffix = partition_for(region)
    reverse = ".".join(reversed(suffix.split(".")))
    return {"id": partition, "partition": partition, "dnsSuffix": suffix, "reverseDnsPrefix": reverse}


def _get_ami(args: Mapping[str, Any], region: str) -> Mapping[str, Any]:
    names = _filter_values(args, "name")
    owners = [str(o) for o in args.get("owners") or ()]
    # A wildcard in the name filter stands for the build date, as in real AMI names.
    name = (names[0] if names else str(args.get("nameRegex") or "mock-ami")).replace("*", "20240101")
    archs = _filter_values(args, "architecture")
    arch = archs[0] if archs else ("arm64" if "arm64" in name else "x86_64")
    owner = next((o for o in owners if o.isdigit()), _AMAZON_OWNER)
    image_id = "ami-" + fake_hex("ami", name, *owners)
    partition, _ = partition_for(region)
    return {
        "id": image_id,
        "imageId": image_id,
        "arn": f"arn:{partition}:ec2:{region}::image/{image_id}",
        "name": name,
        "description": name,
        "architecture": arch,
        "ownerId": owner,
        "owners": owners,
        "imageOwnerAlias": "amazon" if owner == _AMAZON_OWNER else None,
        "creationDate": "2024-01-01T00:00:00.000Z",
        "state": "available",
        "public": owner == _AMAZON_OWNER,
        "mostRecent": args.get("mostRecent"),
        "filters": args.get("filters"),
        "rootDeviceName": "/dev/xvda",
        "rootDeviceType": "ebs",
        "rootSnapshotId": "snap-" + fake_hex("ami-root", name),
        "virtualizationType": "hvm",
        "hypervisor": "xen",
        "enaSupport": True,
        "sriovNetSupport": "simple",
        "bootMode": "uefi-preferred",
        "imdsSupport": "v2.0",
        "imageType": "machine",
        "platformDetails": "Linux/UNIX",
        "usageOperation": "RunInstances",
        "blockDeviceMappings": [
            {
                "deviceName": "/dev/xvda",
                "ebs": {
                    "volume_size": "8",
                    "volume_type": "gp3",
                    "encrypted": "false",
                    "snapshot_id": "snap-" + fake_hex("ami-root", name),
                },
                "noDevice": "",
                "virtualName": "",
            }
        ],
        "productCodes": [],
        "tags": {},
        "region": region,
    }


def _get_zone(args: Mapping[str, Any], region: str) -> Mapping[str, Any]:
    name = str(args.get("name") or "example.com").rstrip(".") + "."
    zone_id = str(args.get("zoneId") or "Z0" + fake_hex("zone", name, length=18).upper())
    return {
        "id": zone_id,
        "zoneId": zone_id,
        "name": name,
        "privateZone": bool(args.get("privateZone")),
        "arn": f"arn:aws:route53:::hostedzone/{zone_id}",
        "nameServers": [f"ns-{i}.awsdns-{i:02d}.org" for i in range(1, 5)],
        "resourceRecordSetCount": 2.0,
        "tags": {},
        "callerReference": fake_hex("ref", name),
        "comment": "",
        "primaryNameServer": "ns-1.awsdns-01.org",
        "linkedServiceDescription": "",
        "linkedServicePrincipal": "",
    }


def _get_parameter(args: Mapping[str, Any], region: str) -> Mapping[str, Any]:
    name = str(args.get("name"))
    # Amazon's public parameters under /aws/service/ami-* hold AMI ids (the stock Amazon Linux lookup).
    value = "ami-" + fake_hex("ssm", name) if "/ami-" in name or "/ami/" in name else f"mock-value-of-{name}"
    return {
        "id": name,
        "name": name,
        "arn": f"arn:aws:ssm:{region}:{ACCOUNT_ID}:parameter{name if name.startswith('/') else '/' + name}",
        "type": "String",
        "value": value,
        "insecureValue": value,
        "version": 1.0,
        "withDecryption": args.get("withDecryption", True),
    }


def _get_policy_document(args: Mapping[str, Any], region: str) -> Mapping[str, Any]:
    # The real provider renders the document locally; this covers the statement fields sgarch uses.
    statements = []
    for s in args.get("statements") or ():
        out: dict[str, Any] = {}
        if s.get("sid"):
            out["Sid"] = s["sid"]
        out["Effect"] = s.get("effect") or "Allow"
        for key, aws_key in (("actions", "Action"), ("notActions", "NotAction")):
            if s.get(key):
                values = list(s[key])
                out[aws_key] = values[0] if len(values) == 1 else values
        for key, aws_key in (("resources", "Resource"), ("notResources", "NotResource")):
            if s.get(key):
                values = list(s[key])
                out[aws_key] = values[0] if len(values) == 1 else values
        if s.get("principals"):
            principals: dict[str, Any] = {}
            for p in s["principals"]:
                ids = list(p.get("identifiers") or ())
                principals[p["type"]] = ids[0] if len(ids) == 1 else ids
            out["Principal"] = principals
        if s.get("conditions"):
            conditions: dict[str, dict[str, Any]] = {}
            for c in s["conditions"]:
                vals = list(c.get("values") or ())
                conditions.setdefault(c["test"], {})[c["variable"]] = vals[0] if len(vals) == 1 else vals
            out["Condition"] = conditions
        statements.append(out)
    document = json.dumps({"Version": args.get("version") or "2012-10-17", "Statement": statements}, indent=2)
    return {
        "id": fake_hex("policy", document),
        "json": document,
        "minifiedJson": json.dumps(json.loads(document)),
    }


def _get_secret_version(args: Mapping[str, Any], region: str) -> Mapping[str, Any]:
    secret_id = str(args.get("secretId"))
    arn = (
        secret_id
        if secret_id.startswith("arn:")
        else f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:{secret_id}"
    )
    stage = str(args.get("versionStage") or "AWSCURRENT")
    # Shaped like the secrets RDS manages for master users; never a real credential.
    value = json.dumps({"username": "sg", "password": "mock-" + fake_hex("password", secret_id, length=24)})
    return {
        "id": f"{arn}|{stage}",
        "arn": arn,
        "secretId": secret_id,
        "secretString": value,
        "secretBinary": "",
        "versionId": fake_hex("version", secret_id, length=32),
        "versionStage": stage,
        "versionStages": [stage],
        "createdDate": "2024-01-01T00:00:00Z",
        "region": region,
    }


def _get_managed_prefix_list(args: Mapping[str, Any], region: str) -> Mapping[str, Any]:
    # AWS-managed lists (com.amazonaws.<region>.s3 and the like) by name; the entries are placeholders.
    name = str(
        args.get("name") or next(iter(_filter_values(args, "prefix-list-name")), f"com.amazonaws.{region}.s3")
    )
    list_id = str(args.get("id") or "pl-" + fake_hex("prefix-list", name, length=8))
    partition, _ = partition_for(region)
    return {
        "id": list_id,
        "arn": f"arn:{partition}:ec2:{region}:aws:prefix-list/{list_id}",
        "addressFamily": "IPv4",
        "entries": [{"cidr": "52.216.0.0/15", "description": ""}],
        "maxEntries": 0,
        "name": name,
        "ownerId": "AWS",
        "tags": {},
        "version": 1,
        "region": region,
    }


DEFAULT_INVOKES: dict[str, InvokeHandler] = {
    **EC2_INVOKES,
    **S3_INVOKES,
    "aws:ec2/getManagedPrefixList:getManagedPrefixList": _get_managed_prefix_list,
    "aws:ec2/getAmi:getAmi": _get_ami,
    "aws:index/getCallerIdentity:getCallerIdentity": _get_caller_identity,
    "aws:iam/getSessionContext:getSessionContext": _get_session_context,
    "aws:eks/getAddonVersion:getAddonVersion": _get_addon_version,
    "aws:index/getRegion:getRegion": _get_region,
    "aws:index/getPartition:getPartition": _get_partition,
    "aws:route53/getZone:getZone": _get_zone,
    "aws:ssm/getParameter:getParameter": _get_parameter,
    "aws:iam/getPolicyDocument:getPolicyDocument": _get_policy_document,
    "aws:secretsmanager/getSecretVersion:getSecretVersion": _get_secret_version,
}
"""Invoke tokens the mocks answer out of the box. Any other token raises UnmockedInvokeError."""
