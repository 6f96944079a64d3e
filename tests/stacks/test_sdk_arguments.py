"""Every argument the stacks pass exists in the installed pulumi-aws / pulumi-kubernetes SDKs.

Mocks accept misspelled or invented arguments without complaint; real providers reject them (or, worse,
ignore them). This walks every recorded resource of every stack and checks each input name, and the names
inside nested argument objects, against the SDK's own ``*Args`` classes.
"""

from __future__ import annotations

import importlib
import inspect
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from sgarch.plan import run_plan

ROOT = Path(__file__).parents[2]
TODAY = "2026-11-23"

VARIANTS = [
    ("single-node", {"tier": "M"}),  # the example workload needs M
    ("single-node", {"tier": "XL", "internet_facing": "true", "allowed_cidrs": '["0.0.0.0/0"]'}),
    ("poc", {}),
    (
        "poc",
        {
            "vpc_id": "",
            "subnet_ids": "[]",
            "certificate_arn": "",
            "public_zone_id": "Z0PUBLIC",
            "transit_gateway_id": "tgw-0123456789abcdef0",
            "allowed_cidrs": '["10.0.0.0/8"]',
            "private_zone_id": "Z0PRIVATE",
            "activate_cost_allocation_tag": "true",
        },
    ),
    (
        "poc",
        {
            "vpc_id": "",
            "subnet_ids": "[]",
            "peer_vpc_id": "vpc-0aaaabbbbccccdddd",
            "allowed_cidrs": '["10.0.0.0/8"]',
        },
    ),
    ("poc", {"vpc_id": "", "subnet_ids": "[]", "nat": "true"}),
    ("eks", {"tier": "M"}),  # the example workload needs M
    (
        "eks",
        {
            "tier": "M",
            "migrate_export": "s3://sgarch-migrations/exports/2026-11-23",
            "migrate_kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555",
        },
    ),
    (
        # The import Jobs (per database, blobs) and RDS with IAM auth, not only the export Job.
        "eks",
        {
            "tier": "M",
            "sourcegraph_version": "7.5.4453",
            "migrate_import": "s3://sgarch-migrations/exports/2026-11-23/manifest.json",
            "migrate_kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555",
        },
    ),
    (
        "poc",
        {
            "runtime": "eks",
            "http_proxy": "",
            "proxy_cidrs": "[]",
            "allowed_cidrs": '["10.0.0.0/16"]',
            "image_registry": "123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub/sourcegraph",
            "load_balancer_controller_image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/eks/aws-load-balancer-controller",
        },
    ),
]
_ARGS_NAME = re.compile(r"'(\w+Args)'")


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


@cache
def _args_class(type_token: str) -> type | None:
    provider, module_path, class_name = type_token.split(":")
    try:
        if provider == "aws":
            module = module_path.split("/")[0]
            package = "pulumi_aws" if module == "index" else f"pulumi_aws.{module}"
            # Each resource lives in a module named after it (pulumi_aws.s3.bucket_versioning).
            mod = importlib.import_module(f"{package}.{_snake(class_name)}")
        elif provider == "kubernetes":
            group, version = module_path.split("/")
            group = group.split(".")[0]  # helm.sh -> helm, storage.k8s.io -> storage
            mod = importlib.import_module(f"pulumi_kubernetes.{group}.{version}.{class_name}")
        else:
            return None
    except ImportError:
        return None
    # Where a nested-input class has the same name, the resource's own class is `<Name>InitArgs`.
    for name in (f"{class_name}InitArgs", f"{class_name}Args"):
        found = getattr(mod, name, None)
        if isinstance(found, type) and found.__module__ == mod.__name__:
            return found
    return None


def _parameters(cls: type) -> dict[str, str]:
    params = inspect.signature(cls.__init__).parameters  # type: ignore[misc]
    return {name: str(p.annotation) for name, p in params.items() if name not in ("self", "__self__")}


def _nested(cls: type, annotation: str) -> type | None:
    match = _ARGS_NAME.search(annotation)
    if not match:
        return None
    inputs = importlib.import_module(cls.__module__.rsplit(".", 1)[0] + "._inputs")
    found = getattr(inputs, match.group(1), None)
    return found if isinstance(found, type) else None


def _unknown(cls: type, values: dict[str, Any], path: str) -> list[str]:
    params = _parameters(cls)
    problems = []
    for key, value in values.items():
        name = _snake(key)
        if name not in params and f"{name}_" in params:
            name = f"{name}_"  # a Python keyword (a probe's `exec`) is `exec_` in the SDK
        if name not in params:
            problems.append(f"{path}{key}")
            continue
        nested = _nested(cls, params[name])
        items = value if isinstance(value, list) else [value]
        for item in items:
            if nested is not None and isinstance(item, dict):
                problems.extend(_unknown(nested, item, f"{path}{key}."))
    return problems


@pytest.mark.parametrize(("stack", "config"), VARIANTS, ids=lambda v: v if isinstance(v, str) else "")
def test_every_input_name_exists_in_the_sdk(
    monkeypatch: pytest.MonkeyPatch, stack: str, config: dict[str, str]
) -> None:
    monkeypatch.setenv("SGARCH_TODAY", TODAY)
    plan = run_plan(ROOT / "stacks" / stack, stack="example", config=config)
    checked = 0
    problems: list[str] = []
    for record in plan.resources:
        if not record.custom or record.type.startswith("pulumi:"):
            continue
        cls = _args_class(record.type)
        if cls is None:
            continue
        checked += 1
        inputs = {k: v for k, v in record.inputs.items() if not k.startswith("__")}
        problems += [f"{record.type} {record.name}: {p}" for p in _unknown(cls, inputs, "")]
    assert problems == []
    assert checked >= 15
