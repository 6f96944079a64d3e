"""Record what every stack plans, so a restructure can show it changed nothing a ``pulumi up`` would act on.

For each variant below (every stack at every tier it supports, a new and a brought VPC, the options that add
or remove resources, a long stack name) the recorder plans the stack offline and keeps, per resource, its URN,
type, inputs and non-default options, and the stack's exports. Tag maps (any input named ``tags``,
``tagsAll``, ``volumeTags`` or ``defaultTags``, at any depth, launch-template tag specifications included) are
kept apart: the tag convention of issue #20 may add sgarch's own keys to them, and nothing else may change.
Strings longer than :data:`LONG` characters (user-data, kubeconfigs, rendered files) are kept as their sha256,
so a changed byte still shows while the record stays small.

Run as a script to write the record, with the code to record first on ``PYTHONPATH`` (a clean checkout of
the commit before the change, e.g. ``git worktree add --detach /tmp/base <commit>``)::

    cd /tmp/base && PYTHONPATH=$PWD python <repo>/tests/golden/structure/structure_record.py \
        --out <repo>/tests/golden/structure/record.json

``--merge`` with variant names re-records only those (after an intended change to what they plan).

``tests/golden/structure/test_structure.py`` plans the same variants with the current code and compares.
The stack folders planned are the ones beside the imported ``sgarch`` package, so a checkout of an older commit
records its own stacks.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

FORMAT = 1
TODAY = "2026-11-23"
LONG = 256
TAG_KEYS = frozenset({"tags", "tagsAll", "volumeTags", "defaultTags"})
"""Input names (as the engine sees them, camelCase) whose mapping value is a tag map."""

# A stack name people use (40 characters), which the stacks refuse up front; and the longest each one accepts.
LONG_STACK = "sourcegraph-production-eu-central-1-blue"
LONGEST_SHORT_STACK = "sourcegraph-prd"
LONGEST_EKS_STACK = "sourcegraph-production-eu-central-1"
REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
USER_TAGS = json.dumps({"cost-center": "eng 42", "ManagedBy": "platform"})
NO_WORKLOAD = {"users": "0", "repos": "0"}
BROUGHT_SUBNETS = '["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb", "subnet-0cccccccccccccccc"]'
POC_EKS = {
    "runtime": "eks",
    "http_proxy": "",
    "proxy_cidrs": "[]",
    "allowed_cidrs": '["10.0.0.0/16"]',
    "image_registry": f"{REGISTRY}/docker-hub/sourcegraph",
    "load_balancer_controller_image": f"{REGISTRY}/ecr-public/eks/aws-load-balancer-controller",
}
POC_NEW_VPC = {
    "vpc_id": "",
    "subnet_ids": "[]",
    "certificate_arn": "",
    "public_zone_id": "Z0PUBLIC0000000000",
}
SINGLE_NODE_TIERS = ("XS", "S", "M", "L", "XL")
EKS_TIERS = ("XS", "S", "M", "L", "XL", "2XL", "3XL")


def _variants() -> dict[str, tuple[str, str, dict[str, str]]]:
    """name -> (stack folder, stack name, config overrides on top of the folder's Pulumi.example.yaml)."""
    out: dict[str, tuple[str, str, dict[str, str]]] = {}
    # Every tier, sized by the tier alone (the example workloads need M, so lower tiers would be refused).
    for tier in SINGLE_NODE_TIERS:
        out[f"single-node-{tier}"] = ("single-node", "example", {"tier": tier, **NO_WORKLOAD})
        out[f"poc-{tier}"] = ("poc", "example", {"tier": tier})
    for tier in EKS_TIERS:
        out[f"eks-{tier}"] = ("eks", "example", {"tier": tier, **NO_WORKLOAD})
        out[f"poc-eks-{tier}"] = ("poc", "example", {**POC_EKS, "tier": tier})
    out.update(
        {
            # The examples as written: sized from their workloads.
            "single-node-example": ("single-node", "example", {}),
            "eks-example": ("eks", "example", {}),
            "poc-example": ("poc", "example", {}),
            "poc-eks-example": ("poc", "example", POC_EKS),
            # single-node: the example creates its VPC; bring one, and the options that add resources.
            "single-node-brought-vpc": (
                "single-node",
                "example",
                {"vpc_id": "vpc-0123456789abcdef0", "subnet_ids": BROUGHT_SUBNETS, "tags": USER_TAGS},
            ),
            "single-node-new-vpc-options": (
                "single-node",
                "example",
                {
                    "tier": "XL",
                    **NO_WORKLOAD,
                    "interface_endpoints": "true",
                    "nat": "one_per_az",
                    "zone_id": "Z0PRIVATE000000000",
                    "record_name": "sourcegraph.example.com",
                    "alarm_topic_arn": "arn:aws:sns:us-east-1:123456789012:alerts",
                    "alb_access_logs": "true",
                    "tags": USER_TAGS,
                },
            ),
            "single-node-no-alb": ("single-node", "example", {"certificate_arn": "", "tags": USER_TAGS}),
            "single-node-long-name": ("single-node", LONG_STACK, {}),
            "single-node-longest-name": ("single-node", LONGEST_SHORT_STACK, {}),
            # eks: the example creates its VPC and uses managed services; bring a VPC, keep state in-cluster.
            "eks-brought-vpc-in-cluster": (
                "eks",
                "example",
                {
                    **NO_WORKLOAD,
                    "postgres": "false",
                    "redis": "false",
                    "s3": "false",
                    "public_access_cidrs": "[]",
                    "tier": "3XL",
                    "vpc_id": "vpc-0123456789abcdef0",
                    "subnet_ids": BROUGHT_SUBNETS,
                    "tags": USER_TAGS,
                },
            ),
            "eks-tags-migrate-export": (
                "eks",
                "example",
                {
                    "tags": USER_TAGS,
                    "migrate_export": "s3://sgarch-migrations/exports/2026-11-23",
                    "migrate_kms_key_arn": (
                        "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
                    ),
                },
            ),
            "eks-long-name": ("eks", LONG_STACK, {}),
            "eks-longest-name": ("eks", LONGEST_EKS_STACK, {}),
            # poc: the example brings a VPC; create one (NAT, transit gateway, peering), on both runtimes.
            "poc-new-vpc-nat": (
                "poc",
                "example",
                {
                    **POC_NEW_VPC,
                    "nat": "true",
                    "http_proxy": "",
                    "proxy_cidrs": "[]",
                    "egress_allowlist": json.dumps(
                        [{"cidr": "140.82.112.0/20", "description": "github.com"}]
                    ),
                    "tags": USER_TAGS,
                },
            ),
            "poc-new-vpc-peered": (
                "poc",
                "example",
                {
                    **POC_NEW_VPC,
                    "peer_vpc_id": "vpc-0aaaabbbbccccdddd",
                    "allowed_cidrs": '["10.0.0.0/8"]',
                    "activate_cost_allocation_tag": "true",
                    "tags": USER_TAGS,
                },
            ),
            "poc-brought-vpc-endpoints": (
                "poc",
                "example",
                {"interface_endpoints": "true", "alb_access_logs": "true", "tags": USER_TAGS},
            ),
            "poc-eks-new-vpc": (
                "poc",
                "example",
                {
                    **POC_EKS,
                    **POC_NEW_VPC,
                    "transit_gateway_id": "tgw-0123456789abcdef0",
                    "allowed_cidrs": '["10.0.0.0/8"]',
                    "tags": USER_TAGS,
                },
            ),
            "poc-eks-brought-vpc-endpoints": ("poc", "example", {**POC_EKS, "interface_endpoints": "true"}),
            "poc-long-name": ("poc", LONG_STACK, {}),
            "poc-longest-name": ("poc", LONGEST_SHORT_STACK, {}),
            "poc-eks-long-name": ("poc", LONG_STACK, POC_EKS),
        }
    )
    return out


VARIANTS = _variants()


# --- turning a plan into its record -------------------------------------------------------------------------


def _short(value: Any) -> Any:
    """``value`` with every string longer than :data:`LONG` characters replaced by its length and sha256."""
    if isinstance(value, str) and len(value) > LONG:
        digest = hashlib.sha256(value.encode("utf-8")).hexdigest()
        return f"<{len(value)} characters, sha256 {digest}>"
    if isinstance(value, Mapping):
        return {k: _short(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_short(v) for v in value]
    return value


def split_tags(value: Any, path: str = "", found: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
    """``value`` without its tag maps, and the tag maps by path (``tags``, ``tagSpecifications[0].tags``)."""
    found = {} if found is None else found
    if isinstance(value, Mapping):
        kept = {}
        for key, inner in value.items():
            where = f"{path}.{key}" if path else str(key)
            if key in TAG_KEYS and isinstance(inner, Mapping):
                found[where] = {str(k): v for k, v in inner.items()}
            else:
                kept[key], _ = split_tags(inner, where, found)
        return kept, found
    if isinstance(value, list):
        return [split_tags(inner, f"{path}[{i}]", found)[0] for i, inner in enumerate(value)], found
    return value, found


def record_plan(plan: Any) -> dict[str, Any]:
    """The record of one :class:`sgarch.plan.Plan`: resources by URN, and the exports."""
    resources: dict[str, Any] = {}
    for _, resource in plan.ordered():
        data = plan.resource_dict(resource)
        inputs, tags = split_tags(data.pop("inputs"))
        for key in ("name", "urn", "parent"):  # all three are in the URN
            data.pop(key)
        if resource.read:  # read with `.get()`, not managed: turning one into a managed resource is a change
            data["read"] = True
        data["inputs"] = _short(inputs)
        data["tags"] = tags
        assert resource.urn not in resources, f"two resources share {resource.urn}"
        resources[resource.urn] = data
    exports = json.loads(plan.to_json())["exports"]
    return {"stack": plan.stack, "resources": resources, "exports": _short(exports)}


# --- planning -----------------------------------------------------------------------------------------------


def default_root() -> Path:
    """The checkout whose ``stacks/`` to plan: the one holding the imported ``sgarch`` package."""
    import sgarch

    return Path(sgarch.__file__).resolve().parents[1]


@contextlib.contextmanager
def _today() -> Iterator[None]:
    """POC expiry dates are checked against today; pin it so the record does not age."""
    before = os.environ.get("SGARCH_TODAY")
    os.environ["SGARCH_TODAY"] = TODAY
    try:
        yield
    finally:
        if before is None:
            del os.environ["SGARCH_TODAY"]
        else:
            os.environ["SGARCH_TODAY"] = before


def _stack_folder(root: Path, folder: str, stack: str, scratch: Path) -> Path:
    """The folder to plan: the real one for ``example``, else a copy with the example config as ``stack``."""
    source = root / "stacks" / folder
    if stack == "example":
        return source
    directory = scratch / f"{folder}-{stack}"
    if not directory.exists():
        directory.mkdir(parents=True)
        for file in ("Pulumi.yaml", "__main__.py"):
            shutil.copy(source / file, directory / file)
        shutil.copy(source / "Pulumi.example.yaml", directory / f"Pulumi.{stack}.yaml")
    return directory


def record_variant(name: str, root: Path, scratch: Path) -> dict[str, Any]:
    """Plan one variant and record it; a refusal (ConfigError) is recorded as the error, field and text."""
    from sgarch.errors import ConfigError
    from sgarch.plan import run_plan

    folder, stack, overrides = VARIANTS[name]
    with _today():
        try:
            plan = run_plan(_stack_folder(root, folder, stack, scratch), stack=stack, config=overrides)
        except ConfigError as error:
            return {"refused": {"field": error.field, "message": str(error)}}
    return record_plan(plan)


def record_all(root: Path, names: list[str] | None = None) -> dict[str, Any]:
    """Every variant's record (or those in ``names``), keyed by variant name."""
    with tempfile.TemporaryDirectory(prefix="sgarch-structure-") as scratch:
        variants = {name: record_variant(name, root, Path(scratch)) for name in names or VARIANTS}
    return {"format": FORMAT, "today": TODAY, "variants": variants}


def digest(data: Any) -> str:
    """A short, stable name for one resource's record (its canonical JSON's sha256, 16 hex digits)."""
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def pack(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record as stored: each distinct resource once under ``resources``, variants pointing at them.

    Most resources are the same at every tier; storing them once keeps the file a fifth of the size.
    """
    table: dict[str, Any] = {}
    variants: dict[str, Any] = {}
    for name, variant in record["variants"].items():
        if "resources" not in variant:
            variants[name] = variant
            continue
        urns = {}
        for urn, data in variant["resources"].items():
            key = digest(data)
            table[key] = data
            urns[urn] = key
        variants[name] = {**variant, "resources": urns}
    return {**record, "variants": variants, "resources": table}


def unpack(stored: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`pack`: each variant's resources as full records again."""
    table = stored["resources"]
    variants = {}
    for name, variant in stored["variants"].items():
        if "resources" in variant:
            variant = {**variant, "resources": {urn: table[key] for urn, key in variant["resources"].items()}}
        variants[name] = variant
    return {k: v for k, v in stored.items() if k != "resources"} | {"variants": variants}


def dumps(record: Mapping[str, Any]) -> str:
    """The record as the committed file holds it: sorted keys, one value per line, ending in a newline."""
    return json.dumps(record, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, required=True, help="where to write the record (JSON)")
    parser.add_argument("--root", type=Path, default=None, help="checkout whose stacks/ to plan")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="replace only the variants named in the existing --out file, keep the others",
    )
    parser.add_argument("variant", nargs="*", help="variants to record (default: all)")
    args = parser.parse_args(argv)
    root = args.root or default_root()
    import sgarch

    print(f"planning {root / 'stacks'} with sgarch from {Path(sgarch.__file__).parent}", file=sys.stderr)
    record = record_all(root, args.variant or None)
    if args.merge:
        kept = unpack(json.loads(args.out.read_text(encoding="utf-8")))
        record = {**kept, "variants": {**kept["variants"], **record["variants"]}}
    args.out.write_text(dumps(pack(record)), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
