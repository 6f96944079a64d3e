"""Upgrading sgarch on an existing stack replaces nothing that holds data or that users point at.

``tests/golden/stateful/<stack>.json`` records, for each stack's example configuration as planned before the
production defaults of issue #16 (Multi-AZ, Performance Insights, Redis AUTH, a year of control-plane logs,
ALB access logs), every stateful or user-facing resource by URN with the inputs that force its replacement.
Today's plan must keep every one of them: same URN (logical name, type and parent), same replace-forcing
inputs. New resources and in-place changes (``multi_az``, ``auth_token`` with ``auth_token_update_strategy``,
``num_cache_clusters``, ``retention_in_days``, a parameter group's ``parameters``) are fine.

Replace-forcing inputs are the provider schema's ``ForceNew`` attributes: hashicorp/terraform-provider-aws,
which pulumi-aws bridges (``internal/service/rds/instance.go``, ``internal/service/elasticache/replication_group.go``,
``internal/service/rds/parameter_group.go``, ``internal/service/s3/bucket.go``, ``internal/service/eks/cluster.go``,
``internal/service/logs/group.go``, ``internal/service/elbv2/load_balancer.go``, ``internal/service/ec2/ebs_volume.go``).

Changing the golden means existing stacks lose that resource: do it only on purpose, with ``aliases`` or a
"Breaking" CHANGELOG entry, by running this module with ``SGARCH_ACCEPT_REPLACEMENTS=1``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from sgarch.plan import run_plan

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "stateful"

FORCES_REPLACEMENT: dict[str, tuple[str, ...]] = {
    "aws:rds/instance:Instance": (
        "identifier",
        "identifierPrefix",
        "engine",
        "dbName",
        "username",
        "kmsKeyId",
        "storageEncrypted",
        "availabilityZone",
        "characterSetName",
        "timezone",
        "snapshotIdentifier",
    ),
    "aws:rds/parameterGroup:ParameterGroup": ("name", "namePrefix", "family", "description"),
    "aws:rds/subnetGroup:SubnetGroup": ("name", "namePrefix"),
    "aws:elasticache/replicationGroup:ReplicationGroup": (
        "replicationGroupId",
        "atRestEncryptionEnabled",
        "kmsKeyId",
        "subnetGroupName",
        "port",
        "dataTieringEnabled",
        "networkType",
        "securityGroupNames",
        "snapshotArns",
        "snapshotName",
        "globalReplicationGroupId",
    ),
    "aws:s3/bucket:Bucket": ("bucket", "bucketPrefix"),
    "aws:eks/cluster:Cluster": ("name",),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "namePrefix"),
    "aws:lb/loadBalancer:LoadBalancer": ("name", "namePrefix", "internal", "loadBalancerType"),
    "aws:ebs/volume:Volume": ("availabilityZone", "encrypted", "kmsKeyId", "snapshotId"),
    "aws:kms/key:Key": ("customerMasterKeySpec", "keyUsage"),
}
"""Type token -> inputs whose change makes the provider delete and recreate the resource."""

CONFIG: dict[str, dict[str, str]] = {"eks": {}, "single-node": {}, "poc": {}}
"""Each stack's ``Pulumi.example.yaml`` as is (the EKS example turns on RDS, ElastiCache and S3)."""


def snapshot(resources: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """URN -> replace-forcing inputs of every resource of a type in :data:`FORCES_REPLACEMENT`."""
    out: dict[str, dict[str, Any]] = {}
    for resource in resources:
        keys = FORCES_REPLACEMENT.get(resource["type"])
        if keys is None:
            continue
        inputs = resource["inputs"]
        out[resource["urn"]] = {key: inputs[key] for key in keys if key in inputs}
    return out


def current(stack: str) -> dict[str, dict[str, Any]]:
    plan = run_plan(ROOT / "stacks" / stack, stack="example", config=CONFIG[stack])
    return snapshot({"type": r.type, "urn": r.urn, "inputs": r.redacted_inputs()} for r in plan.resources)


@pytest.mark.parametrize("stack", list(CONFIG))
def test_nothing_stateful_is_replaced(stack: str) -> None:
    path = GOLDEN / f"{stack}.json"
    now = current(stack)
    if os.environ.get("SGARCH_ACCEPT_REPLACEMENTS") == "1":
        path.write_text(json.dumps(now, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    before: dict[str, dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    assert before, f"{path} is empty"
    gone = sorted(set(before) - set(now))
    assert gone == [], f"{stack}: these resources would be deleted (or replaced under a new URN): {gone}"
    changed = {
        urn: {k: (v, now[urn].get(k)) for k, v in inputs.items() if now[urn].get(k) != v}
        for urn, inputs in before.items()
    }
    changed = {urn: diff for urn, diff in changed.items() if diff}
    assert changed == {}, f"{stack}: replace-forcing inputs changed (before, now): {changed}"
