"""Each stack's README tells the truth about ``pulumi destroy``: what it keeps, and how to delete that.

The list comes from the plan, not from the README: every resource planned with ``protect``,
``retain_on_delete``, RDS deletion protection, a final snapshot or a ``Retain`` reclaim policy must be named
in its stack's "Teardown" section, with the command that deletes it, in an order that works:

- ``pulumi destroy`` refuses to delete a protected resource (and so deletes nothing), so the section must
  run ``pulumi state unprotect`` before ``pulumi destroy``;
- a retained resource inside a subnet group or a security group the stack deletes must go first, or
  ``pulumi destroy`` fails on that group;
- RDS deletion protection is turned off before the instance is deleted, and the final snapshot is named by
  hand (Pulumi's ``final_snapshot_identifier`` applies only when Pulumi deletes the instance);
- the KMS key is scheduled for deletion after everything it encrypts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from sgarch.plan import Plan, run_plan
from sgarch.testing import ResourceRecord

ROOT = Path(__file__).resolve().parents[2]
TODAY = "2026-11-23"
REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
POC_EKS = {
    "runtime": "eks",
    "http_proxy": "",
    "proxy_cidrs": "[]",
    "allowed_cidrs": '["10.0.0.0/16"]',
    "image_registry": f"{REGISTRY}/docker-hub/sourcegraph",
    "load_balancer_controller_image": f"{REGISTRY}/ecr-public/eks/aws-load-balancer-controller",
}
# name -> (stack folder, config overrides on top of Pulumi.example.yaml). The EKS example turns on every
# managed service, so every kind of kept resource shows up.
VARIANTS: dict[str, tuple[str, dict[str, str]]] = {
    "single-node": ("single-node", {}),
    "poc": ("poc", {}),
    "poc-eks": ("poc", POC_EKS),
    "eks": ("eks", {}),
}
# Inputs that place a resource in a subnet group or security group of the stack.
IN_THE_VPC = ("dbSubnetGroupName", "subnetGroupName", "vpcSecurityGroupIds", "securityGroupIds")


@dataclass(frozen=True)
class Kind:
    """How the README names a kind of kept resource, and the command that deletes it."""

    name: str
    delete: str


KINDS = {
    "aws:ebs/volume:Volume": Kind("EBS data volume", "aws ec2 delete-volume"),
    "aws:rds/instance:Instance": Kind("RDS instance", "aws rds delete-db-instance"),
    "aws:elasticache/replicationGroup:ReplicationGroup": Kind(
        "ElastiCache replication group", "aws elasticache delete-replication-group"
    ),
    "aws:s3/bucket:Bucket": Kind("S3 bucket", "aws s3api delete-bucket"),
    "aws:kms/key:Key": Kind("KMS key", "aws kms schedule-key-deletion"),
    # The EBS CSI driver's volumes never enter the stack; the StorageClass decides they outlive it.
    "kubernetes:storage.k8s.io/v1:StorageClass": Kind("reclaimPolicy: Retain", "aws ec2 delete-volume"),
}
KEY = "aws:kms/key:Key"

_PLANS: dict[str, Plan] = {}


def plan(variant: str) -> Plan:
    if variant not in _PLANS:
        folder, overrides = VARIANTS[variant]
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("SGARCH_TODAY", TODAY)
            _PLANS[variant] = run_plan(ROOT / "stacks" / folder, stack="example", config=overrides)
    return _PLANS[variant]


def kept(record: ResourceRecord) -> list[str]:
    """Why ``pulumi destroy`` leaves ``record`` (or what it leaves behind) in AWS; empty if nothing."""
    inputs = record.inputs
    reasons = []
    if record.options.protect:
        reasons.append("protect")
    if record.options.retain_on_delete:
        reasons.append("retain_on_delete")
    if inputs.get("deletionProtection") is True:
        reasons.append("deletion_protection")
    if inputs.get("skipFinalSnapshot") is False:
        reasons.append("final snapshot")
    if inputs.get("reclaimPolicy") == "Retain":
        reasons.append("reclaimPolicy Retain")
    return reasons


def teardown_section(readme: Path) -> str:
    """The README's "## Teardown" section, up to the next second-level heading."""
    text = readme.read_text(encoding="utf-8")
    match = re.search(r"^## Teardown\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"{readme.relative_to(ROOT)} has no '## Teardown' section"
    return match.group(1)


def code_lines(section: str) -> list[str]:
    """The lines inside the section's fenced code blocks, stripped, comments dropped."""
    lines, inside = [], False
    for line in section.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            inside = not inside
        elif inside and stripped and not stripped.startswith("#"):
            lines.append(stripped)
    return lines


def first(lines: list[str], command: str) -> int:
    """Index of the first code line running ``command``; a large number when none does."""
    return next((i for i, line in enumerate(lines) if line.startswith(command)), 10**6)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_teardown_section_names_what_destroy_keeps_and_how_to_delete_it(variant: str) -> None:
    folder, _ = VARIANTS[variant]
    readme = ROOT / "stacks" / folder / "README.md"
    section = teardown_section(readme)
    lines = code_lines(section)
    problems = []
    kept_records = [(r, kept(r)) for r in plan(variant).resources if kept(r)]
    assert kept_records, f"{variant}: nothing is kept; is the plan right?"
    for record, reasons in kept_records:
        kind = KINDS.get(record.type)
        what = f"{record.type} {record.name!r} ({', '.join(reasons)})"
        if kind is None:
            problems.append(f"{what}: add its kind to KINDS and say in the README how to delete it")
            continue
        for needed in (kind.name, kind.delete):
            if needed not in section:
                problems.append(f"{what}: the section does not mention {needed!r}")
        if "protect" in reasons and not first(lines, "pulumi state unprotect") < first(
            lines, "pulumi destroy"
        ):
            problems.append(f"{what}: run `pulumi state unprotect` before `pulumi destroy`, which refuses it")
        if "retain_on_delete" in reasons and "retainOnDelete" not in section:
            problems.append(f"{what}: say it is retainOnDelete (dropped from the stack, kept in AWS)")
        if "deletion_protection" in reasons and not (
            first(lines, "aws rds modify-db-instance") < first(lines, kind.delete)
            and "--no-deletion-protection" in section
        ):
            problems.append(
                f"{what}: turn deletion protection off (--no-deletion-protection) before deleting"
            )
        if "final snapshot" in reasons and "--final-db-snapshot-identifier" not in section:
            problems.append(f"{what}: name the final snapshot when deleting by hand")
        in_the_vpc = any(key in record.inputs for key in IN_THE_VPC)
        if (
            "retain_on_delete" in reasons
            and in_the_vpc
            and not first(lines, kind.delete) < first(lines, "pulumi destroy")
        ):
            problems.append(
                f"{what}: it sits in a subnet or security group the stack deletes; "
                f"`{kind.delete}` must come before `pulumi destroy`"
            )
        if record.type == KEY:
            others = [KINDS[r.type].delete for r, _ in kept_records if r.type in KINDS and r.type != KEY]
            last_other = max((section.rfind(c) for c in others), default=-1)
            if section.rfind(kind.delete) < last_other:
                problems.append(f"{what}: schedule the key's deletion after everything it encrypts")
    assert problems == [], f"{readme.relative_to(ROOT)}, Teardown ({variant}):\n  " + "\n  ".join(problems)


def test_the_root_readme_names_every_kept_kind() -> None:
    section = teardown_section(ROOT / "README.md")
    kinds = {r.type for variant in VARIANTS for r in plan(variant).resources if kept(r)}
    names = {
        "aws:ebs/volume:Volume": "EBS data volume",
        "aws:rds/instance:Instance": "RDS instances",
        "aws:elasticache/replicationGroup:ReplicationGroup": "ElastiCache",
        "aws:s3/bucket:Bucket": "S3 bucket",
        "aws:kms/key:Key": "KMS key",
        "kubernetes:storage.k8s.io/v1:StorageClass": "reclaimPolicy: Retain",
    }
    missing = sorted(k for k in kinds if names.get(k, k) not in section)
    assert missing == [], f"README.md, Teardown: name {missing}"
    assert "pulumi state unprotect" in section and "retainOnDelete" in section
