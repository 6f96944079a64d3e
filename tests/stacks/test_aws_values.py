"""Values, not only names: every name, description and tag sgarch sets fits the AWS API field it becomes.

The mocks accept any string, and so does ``pulumi preview``; the real APIs do not. A DLM policy description
with a colon, or a security group rule description with an apostrophe, is refused partway through
``pulumi up``. An autonamed target group whose logical name leaves no room for the provider's 7-character
suffix is refused before anything is created.

This module plans every stack offline (the example configs, a few tier and option variants, and a 40-character
stack name) and checks each value against its field. Where each value goes, and which constraints the AWS
documentation states beyond botocore's model, is data: ``tests/data/aws-field-constraints.yaml``. Patterns and
lengths from botocore are read from its service models at test time, never copied.

A resource input that looks like a name or a description (or that the provider autonames) without an entry in
that file fails the coverage test, so a new resource cannot slip past the check.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import sys
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.loaders import Loader

from sgarch.errors import ConfigError
from sgarch.plan import Plan, run_plan
from sgarch.testing import ResourceRecord
from sgarch.testing._fakes import autoname

ROOT = Path(__file__).parents[2]
DATA = ROOT / "tests" / "data" / "aws-field-constraints.yaml"
TODAY = "2026-11-23"
# A stack name people do use ("<product>-<environment>-<region>-<colour>"): 40 characters.
LONG_STACK = "sourcegraph-production-eu-central-1-blue"
# Pulumi stack names may also hold '.' and '_', which many AWS names refuse.
DOTTED_STACK = "prod_eu.v2"
# EC2 refuses a security group name starting with "sg-", and Pulumi names them "<stack>-...".
SG_STACK = "sg-prod"
# What pulumi-aws appends to an autonamed logical name, and Terraform to a `*_prefix` input (hex and digits).
AUTONAME_SUFFIX = "-0a1b2c3"
PREFIX_SUFFIX = "20261123000000000000000001"
NAME_LIKE = ("name", "description", "comment", "identifier", "prefix")

REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
USER_TAGS = json.dumps({"cost-center": "eng 42", "owner": "platform@example.com"})
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
EKS_NONE = {"users": "0", "repos": "0", "postgres": "false", "redis": "false", "s3": "false"}

# name -> (stack folder, stack name, config overrides on top of Pulumi.example.yaml)
VARIANTS: dict[str, tuple[str, str, dict[str, str]]] = {
    "single-node": ("single-node", "example", {}),
    "single-node-xl-new-vpc": (
        "single-node",
        "example",
        {
            "tier": "XL",
            "users": "0",
            "repos": "0",
            "interface_endpoints": "true",
            "zone_id": "Z0PRIVATE000000000",
            "record_name": "sourcegraph.example.com",
            "alarm_topic_arn": "arn:aws:sns:us-east-1:123456789012:alerts",
            "tags": USER_TAGS,
        },
    ),
    "single-node-long-name": ("single-node", LONG_STACK, {}),
    "single-node-no-alb-longer-name": ("single-node", f"{LONG_STACK}-canary-2026", {"certificate_arn": ""}),
    "single-node-dotted-name": ("single-node", DOTTED_STACK, {}),
    "single-node-sg-name": ("single-node", SG_STACK, {}),
    "poc": ("poc", "example", {}),
    "poc-new-vpc": (
        "poc",
        "example",
        {
            **POC_NEW_VPC,
            "nat": "true",
            "http_proxy": "",
            "proxy_cidrs": "[]",
            "egress_allowlist": json.dumps([{"cidr": "140.82.112.0/20", "description": "github.com"}]),
            "tags": USER_TAGS,
        },
    ),
    "poc-long-name": ("poc", LONG_STACK, {}),
    "poc-eks": ("poc", "example", POC_EKS),
    "poc-eks-new-vpc": (
        "poc",
        "example",
        {
            **POC_EKS,
            **POC_NEW_VPC,
            "transit_gateway_id": "tgw-0123456789abcdef0",
            "allowed_cidrs": '["10.0.0.0/8"]',
        },
    ),
    "poc-new-vpc-peered-long-name": (
        "poc",
        LONG_STACK,
        {
            **POC_NEW_VPC,
            "peer_vpc_id": "vpc-0aaaabbbbccccdddd",
            "allowed_cidrs": '["10.0.0.0/8"]',
            "activate_cost_allocation_tag": "true",
            "tags": USER_TAGS,
        },
    ),
    "poc-eks-long-name": ("poc", LONG_STACK, POC_EKS),
    "poc-dotted-name": ("poc", DOTTED_STACK, {}),
    "poc-eks-dotted-name": ("poc", DOTTED_STACK, POC_EKS),
    "eks": ("eks", "example", {}),
    "eks-3xl-brought-vpc": (
        "eks",
        "example",
        {
            **EKS_NONE,
            "public_access_cidrs": "[]",
            "tier": "3XL",
            "vpc_id": "vpc-0123456789abcdef0",
            "subnet_ids": '["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb", "subnet-0cccccccccccccccc"]',
            "tags": USER_TAGS,
        },
    ),
    "eks-long-name": ("eks", LONG_STACK, {}),
    "eks-dotted-name": ("eks", DOTTED_STACK, {}),
    "eks-sg-name": ("eks", SG_STACK, {}),
    # The migration Jobs' role and Pod Identity association (an export reads no manifest, so plans offline).
    "eks-migrate-export-long-name": (
        "eks",
        LONG_STACK,
        {
            "migrate_export": "s3://sgarch-migrations/exports/2026-11-23",
            "migrate_kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555",
        },
    ),
}


# --- constraints -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Constraint:
    """What one field accepts, and where that rule comes from (botocore shape or documentation URL)."""

    source: str
    pattern: str | None = None
    min: int | None = None
    max: int | None = None
    enum: tuple[str, ...] | None = None

    def problems(self, value: str) -> list[str]:
        found = []
        if self.min is not None and len(value) < self.min:
            found.append(f"{len(value)} characters, fewer than {self.min}")
        if self.max is not None and len(value) > self.max:
            found.append(f"{len(value)} characters, more than {self.max}")
        if self.pattern is not None and not _compile(self.pattern).fullmatch(value):
            found.append(f"does not match {self.pattern!r}")
        if self.enum is not None and value not in self.enum:
            found.append(f"not one of {list(self.enum)}")
        return [f"{p} ({self.source})" for p in found]


@functools.cache
def _service_model(service: str) -> dict[str, Any]:
    model: dict[str, Any] = Loader().load_service_model(service, "service-2")
    return model


def _shape(spec: str) -> tuple[str, dict[str, Any]]:
    """The shape behind ``"<service> <Operation> <Member.Path>"``: its name and definition.

    Lists are stepped through to their members; ``<key>``/``<value>`` step into a map.
    """
    service, operation, path = spec.split()
    model = _service_model(service)
    shapes = model["shapes"]
    name = model["operations"][operation]["input"]["shape"]
    shape = shapes[name]
    for part in path.split("."):
        while shape["type"] == "list":
            name = shape["member"]["shape"]
            shape = shapes[name]
        if part in ("<key>", "<value>"):
            name = shape[part.strip("<>")]["shape"]
        else:
            name = shape["members"][part]["shape"]
        shape = shapes[name]
    return name, shape


def botocore_constraint(spec: str) -> Constraint:
    """The pattern, lengths and enum botocore's model gives the member ``spec`` names."""
    name, shape = _shape(spec)
    if shape["type"] != "string":
        raise AssertionError(f"{spec} is a {shape['type']} ({name}), not a string")
    enum = shape.get("enum")
    return Constraint(
        source=f"botocore {spec} ({name})",
        pattern=shape.get("pattern"),
        min=shape.get("min"),
        max=shape.get("max"),
        enum=tuple(enum) if enum else None,
    )


def docs_constraint(docs: Mapping[str, Any]) -> Constraint:
    """A constraint the AWS documentation states (from the data file, not from botocore)."""
    return Constraint(
        source=f"docs {docs['url']}", pattern=docs.get("pattern"), min=docs.get("min"), max=docs.get("max")
    )


# botocore's patterns are Java regular expressions; Python's `re` lacks \p{...} classes and mid-pattern flags.
_UNICODE_CLASS = re.compile(r"\\p\{(L|N|Z|all)\}")


@functools.cache
def _category_ranges(category: str) -> str:
    """A character-class body for the Unicode general category ``category`` (L, N, Z) or ``all``."""
    if category == "all":
        return r"\x00-\U0010ffff"
    parts = []
    start = None
    for code in range(sys.maxunicode + 2):
        inside = code <= sys.maxunicode and unicodedata.category(chr(code)).startswith(category)
        if inside and start is None:
            start = code
        elif not inside and start is not None:
            parts.append(f"\\U{start:08x}-\\U{code - 1:08x}")
            start = None
    return "".join(parts)


@functools.cache
def _compile(pattern: str) -> re.Pattern[str]:
    flags = 0
    if "(?i)" in pattern[1:]:
        # Java allows a flag mid-pattern (Budgets' BudgetName); applying it to the whole pattern is stricter.
        pattern, flags = pattern.replace("(?i)", ""), re.IGNORECASE
    out = []
    depth = 0
    i = 0
    while i < len(pattern):
        match = _UNICODE_CLASS.match(pattern, i)
        if match:
            body = _category_ranges(match.group(1))
            out.append(body if depth else f"[{body}]")
            i = match.end()
            continue
        char = pattern[i]
        if char == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if char == "[":
            depth += 1
        elif char == "]" and depth:
            depth -= 1
        out.append(char)
        i += 1
    return re.compile("".join(out), flags)


# --- the data file ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One entry of the data file: where an input goes and what it must satisfy."""

    resource: str
    property: str
    constraints: tuple[Constraint, ...]
    autoname: bool = False
    lower: bool = False
    suffix: int = 0


@dataclass(frozen=True)
class TagRules:
    common: tuple[Constraint, Constraint, int | None]
    reserved_prefix: str
    by_type: Mapping[str, str]
    by_module: Mapping[str, str]
    by_path: Mapping[tuple[str, str], str]


@functools.cache
def _data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    return data


@functools.cache
def fields() -> dict[tuple[str, str], Field]:
    out: dict[tuple[str, str], Field] = {}
    for entry in _data()["fields"]:
        key = (entry["resource"], entry["property"])
        assert key not in out, f"{DATA.name}: {key} is listed twice"
        constraints = []
        if "botocore" in entry:
            constraints.append(botocore_constraint(entry["botocore"]))
        if "docs" in entry:
            constraints.append(docs_constraint(entry["docs"]))
        out[key] = Field(
            resource=entry["resource"],
            property=entry["property"],
            constraints=tuple(constraints),
            autoname=bool(entry.get("autoname")),
            lower=bool(entry.get("lower")),
            suffix=int(entry.get("suffix", 0)),
        )
    return out


@functools.cache
def ignored() -> frozenset[tuple[str, str]]:
    return frozenset((e["resource"], e["property"]) for e in _data().get("ignore", []))


@functools.cache
def tag_rules() -> TagRules:
    tags = _data()["tags"]
    return TagRules(
        common=_tag_shapes(tags["common"]),
        reserved_prefix=tags["reserved_prefix"]["prefix"],
        by_type=tags["types"],
        by_module=tags["modules"],
        by_path={(e["resource"], e["property"]): e["botocore"] for e in tags["paths"]},
    )


@functools.cache
def _tag_shapes(spec: str) -> tuple[Constraint, Constraint, int | None]:
    """(key constraint, value constraint, most tags) of a botocore tag map or tag list."""
    _, shape = _shape(spec)
    service = spec.split()[0]
    shapes = _service_model(service)["shapes"]
    most = shape.get("max")
    if shape["type"] == "map":
        key_shape, value_shape = shape["key"]["shape"], shape["value"]["shape"]
    else:
        # Tag structures call their members Key/Value, key/value or (KMS) TagKey/TagValue.
        members = {k.lower(): v["shape"] for k, v in shapes[shape["member"]["shape"]]["members"].items()}
        key_shape = members.get("key") or members["tagkey"]
        value_shape = members.get("value") or members["tagvalue"]

    def constraint(shape_name: str, what: str) -> Constraint:
        s = shapes[shape_name]
        return Constraint(
            source=f"botocore {spec} {what} ({shape_name})",
            pattern=s.get("pattern"),
            min=s.get("min"),
            max=s.get("max"),
        )

    return constraint(key_shape, "key"), constraint(value_shape, "value"), most


# --- plans ---------------------------------------------------------------------------------------------------

_PLANS: dict[str, Plan] = {}
# Variants whose stack name sgarch refuses up front, with the error; the plan is then of the longest name
# it accepts, so the limit it states is checked too.
_REFUSED: dict[str, ConfigError] = {}


def _stack_folder(folder: str, stack: str, tmp_root: Path) -> Path:
    """The stack folder to plan: the real one for ``example``, else a copy with the example config under
    ``stack`` (the runner plans stacks that have a ``Pulumi.<stack>.yaml``)."""
    source = ROOT / "stacks" / folder
    if stack == "example":
        return source
    directory = tmp_root / f"{folder}-{stack}"
    if not directory.exists():
        directory.mkdir(parents=True)
        for file in ("Pulumi.yaml", "__main__.py"):
            shutil.copy(source / file, directory / file)
        shutil.copy(source / "Pulumi.example.yaml", directory / f"Pulumi.{stack}.yaml")
    return directory


def _plan(folder: str, stack: str, overrides: dict[str, str], tmp_root: Path) -> Plan:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SGARCH_TODAY", TODAY)
        return run_plan(_stack_folder(folder, stack, tmp_root), stack=stack, config=overrides)


def plan_variant(name: str, tmp_root: Path) -> Plan:
    """Plan one variant (once per session).

    When sgarch refuses the stack name up front (a ConfigError on ``stack name``: too long, or with characters
    an autonamed child cannot hold), the error is recorded and the name it asks for is planned instead: cut to
    the length it states, or with the refused characters replaced by ``-``.
    """
    if name not in _PLANS:
        folder, stack, overrides = VARIANTS[name]
        try:
            _PLANS[name] = _plan(folder, stack, overrides, tmp_root)
        except ConfigError as error:
            if error.field != "stack name":
                raise
            _REFUSED[name] = error
            _PLANS[name] = _plan(folder, _accepted_name(stack, error), overrides, tmp_root)
    return _PLANS[name]


def _accepted_name(stack: str, error: ConfigError) -> str:
    longest = re.fullmatch(r"at most (\d+) characters", error.expected)
    if longest is not None:
        size = int(longest.group(1))
        shorter = stack[:size].rstrip("-.")
        return shorter + "x" * (size - len(shorter))
    prefix = re.fullmatch(r"a name that does not start with '(.+)'", error.expected)
    if prefix is not None:
        return f"x{stack}"
    refused = re.fullmatch(r"free of '(.+)'", error.expected)
    assert refused is not None, error
    return re.sub(f"[{re.escape(refused.group(1))}]", "-", stack)


@pytest.fixture(scope="module")
def tmp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stacks")


# --- walking a plan ------------------------------------------------------------------------------------------


def _is_tag_map(path: str, value: Any) -> bool:
    """Whether ``value`` is a tag map (``tags``, ``targetTags``...; not ``copyTags: true``)."""
    return isinstance(value, Mapping) and path.rsplit(".", 1)[-1].lower().endswith("tags")


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (path, value) below ``value``; tag maps come out whole."""
    if isinstance(value, Mapping) and not _is_tag_map(path, value):
        for key, inner in value.items():
            yield from _leaves(inner, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for inner in value:
            yield from _leaves(inner, f"{path}[]")
    else:
        yield path, value


def _is_ignored(record: ResourceRecord, path: str) -> bool:
    return any(
        record.type == resource
        and (path == prefix or path.startswith(f"{prefix}.") or path.startswith(f"{prefix}["))
        for resource, prefix in ignored()
    )


def _name_like(path: str) -> bool:
    return path.rsplit(".", 1)[-1].replace("[]", "").lower().endswith(NAME_LIKE)


@dataclass(frozen=True)
class Value:
    """One string sgarch (or the provider, for autonames) sends to AWS."""

    record: ResourceRecord
    path: str
    value: str
    autonamed: bool = False

    def describe(self) -> str:
        how = " (autonamed)" if self.autonamed else ""
        return f"{self.record.type} {self.record.name!r} {self.path}{how} = {self.value!r}"


def name_values(plan: Plan) -> tuple[list[tuple[Value, Field]], list[str]]:
    """Every name-like value of the plan with its field, and the (type, path) pairs that have no entry."""
    table = fields()
    found: list[tuple[Value, Field]] = []
    unmapped: set[str] = set()
    for record in plan.resources:
        inputs = record.inputs
        for path, value in _leaves(inputs):
            if not path or _is_tag_map(path, value) or _is_ignored(record, path):
                continue
            field = table.get((record.type, path))
            if field is None:
                if _name_like(path):
                    unmapped.add(f"{record.type} {path}")
                continue
            if isinstance(value, str):
                text = value + PREFIX_SUFFIX[: field.suffix] if field.suffix else value
                found.append((Value(record, path, text), field))
        named = autoname(record.type, record.name, inputs) if record.custom else None
        # With a `*Prefix` input the provider appends 26 characters to it; that input has its own entry.
        if named is not None and not any(k.endswith("Prefix") and inputs[k] for k in inputs):
            prop = named[0]
            field = table.get((record.type, prop))
            if field is None or not field.autoname:
                unmapped.add(f"{record.type} {prop} (autonamed)")
                continue
            text = f"{record.name}{AUTONAME_SUFFIX}"
            found.append((Value(record, prop, text.lower() if field.lower else text, autonamed=True), field))
    return found, sorted(unmapped)


def tag_values(plan: Plan) -> tuple[list[tuple[Value, str]], list[str]]:
    """Every tag map of the plan with the botocore shape that checks it, and tag maps with no shape."""
    rules = tag_rules()
    found: list[tuple[Value, str]] = []
    unmapped: set[str] = set()
    for record in plan.resources:
        for path, value in _leaves(record.inputs):
            if not _is_tag_map(path, value) or _is_ignored(record, path) or not value:
                continue
            module = record.type.split(":")[1].split("/")[0]
            spec = (
                rules.by_path.get((record.type, path))
                or rules.by_type.get(record.type)
                or rules.by_module.get(module)
            )
            if spec is None:
                unmapped.add(f"{record.type} {path}")
                continue
            found.append((Value(record, path, json.dumps(value, sort_keys=True)), spec))
    return found, sorted(unmapped)


def _tag_problems(tags: Mapping[str, Any] | list[Any], spec: str) -> list[str]:
    rules = tag_rules()
    items: list[tuple[str, str]]
    if isinstance(tags, Mapping):
        items = [(str(k), str(v)) for k, v in tags.items()]
    else:  # a list of {key, value}
        items = [(str(t["key"]), str(t["value"])) for t in tags]
    problems = []
    for key_rule, value_rule, most in (_tag_shapes(spec), rules.common):
        if most is not None and len(items) > most:
            problems.append(f"{len(items)} tags, more than {most} ({key_rule.source})")
        for key, value in items:
            problems += [f"key {key!r}: {p}" for p in key_rule.problems(key)]
            problems += [f"value of {key!r} = {value!r}: {p}" for p in value_rule.problems(value)]
    for key, _ in items:
        if key.lower().startswith(rules.reserved_prefix):
            problems.append(f"key {key!r}: the {rules.reserved_prefix!r} prefix is reserved for AWS")
    return sorted(set(problems))


# --- tests ---------------------------------------------------------------------------------------------------

VARIANT_IDS = list(VARIANTS)


def test_the_data_file_resolves_in_botocore() -> None:
    """Every botocore reference names a real member, every docs rule has a URL and a valid pattern."""
    for field in fields().values():
        assert field.constraints, f"{field.resource} {field.property}: give botocore or docs"
        for constraint in field.constraints:
            if constraint.pattern is not None:
                _compile(constraint.pattern)
            if constraint.source.startswith("docs "):
                assert constraint.source.startswith("docs https://"), constraint
    rules = tag_rules()
    for spec in (*rules.by_type.values(), *rules.by_module.values(), *rules.by_path.values()):
        _tag_shapes(spec)


def test_the_checker_refuses_what_aws_refuses() -> None:
    """The rules read from botocore and the docs catch the values of issue #14, and let good ones through."""
    table = fields()
    dlm = table[("aws:dlm/lifecyclePolicy:LifecyclePolicy", "description")]
    assert [c.pattern for c in dlm.constraints] == ["[0-9A-Za-z _-]+"]
    assert dlm.constraints[0].problems("sgarch prod: daily snapshots")
    assert not dlm.constraints[0].problems("sgarch prod daily snapshots")
    rule = table[("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "description")]
    assert any(c.problems("To Sourcegraph's frontend") for c in rule.constraints)
    assert not any(c.problems("To the Sourcegraph frontend (port 80)") for c in rule.constraints)
    group = table[("aws:lb/targetGroup:TargetGroup", "name")]
    assert any(c.problems("sourcegraph-production-frontend-0a1b2c3") for c in group.constraints)
    key_rule, value_rule, _ = tag_rules().common
    assert not key_rule.problems("sgarch:stack") and not value_rule.problems("Zürich 2 été")
    assert value_rule.problems("it's") and key_rule.problems("a" * 129)


@pytest.mark.parametrize("variant", VARIANT_IDS)
def test_every_name_and_description_is_mapped(variant: str, tmp_root: Path) -> None:
    """Each input that looks like a name or description, and each autoname, has an entry in the data file."""
    plan = plan_variant(variant, tmp_root)
    _, unmapped = name_values(plan)
    _, untagged = tag_values(plan)
    missing = unmapped + [f"{u} (tags)" for u in untagged]
    assert missing == [], (
        f"{variant}: add these to {DATA.relative_to(ROOT)} (the AWS API field each becomes), "
        "or list them under `ignore` with the reason:\n  " + "\n  ".join(missing)
    )


@pytest.mark.parametrize("variant", VARIANT_IDS)
def test_names_and_descriptions_fit_their_aws_fields(variant: str, tmp_root: Path) -> None:
    plan = plan_variant(variant, tmp_root)
    values, _ = name_values(plan)
    offenders = sorted(
        f"{value.describe()}: {problem}"
        for value, field in values
        for constraint in field.constraints
        for problem in constraint.problems(value.value)
    )
    assert offenders == [], f"{variant} (stack {plan.stack!r}): AWS would refuse\n  " + "\n  ".join(offenders)


@pytest.mark.parametrize("variant", VARIANT_IDS)
def test_tags_fit_their_aws_fields(variant: str, tmp_root: Path) -> None:
    plan = plan_variant(variant, tmp_root)
    tags, _ = tag_values(plan)
    offenders = sorted(
        f"{value.record.type} {value.record.name!r} {value.path}: {problem}"
        for value, spec in tags
        for problem in _tag_problems(json.loads(value.value), spec)
    )
    assert offenders == [], f"{variant} (stack {plan.stack!r}): AWS would refuse\n  " + "\n  ".join(offenders)


@pytest.mark.parametrize(
    "variant",
    [
        v
        for v, (_, stack, _) in VARIANTS.items()
        if stack.startswith(LONG_STACK) or stack in (DOTTED_STACK, SG_STACK)
    ],
)
def test_an_unusual_stack_name_works_or_is_refused_before_any_resource(variant: str, tmp_root: Path) -> None:
    """A 40-character stack name, one with '.' and '_', or one starting with "sg-" either gives valid names (the tests above check the
    plan) or is refused up front saying what would work; the tests above then check a plan of that name."""
    _, stack, _ = VARIANTS[variant]
    plan = plan_variant(variant, tmp_root)
    error = _REFUSED.get(variant)
    if error is None:
        assert plan.stack == stack
        return
    message = str(error)
    assert message.startswith(f"stack name must be {error.expected} (got '{stack}'): ")
    assert "Pulumi makes" in message and message.endswith(" stack name.")
    assert plan.stack == _accepted_name(stack, error) != stack


def test_every_entry_is_used(tmp_root: Path) -> None:
    """An entry no plan reaches is stale (a resource renamed or removed): delete or fix it."""
    used: set[tuple[str, str]] = set()
    for variant in VARIANT_IDS:
        values, _ = name_values(plan_variant(variant, tmp_root))
        used |= {(v.record.type, v.path) for v, _ in values}
    stale = sorted(f"{r} {p}" for r, p in set(fields()) - used)
    assert stale == [], f"entries of {DATA.name} that no plan uses:\n  " + "\n  ".join(stale)


def test_user_text_aws_would_refuse_stops_the_plan_before_any_resource(tmp_root: Path) -> None:
    """Values users write whole (an egress rule's description, tags) are checked, not rewritten."""
    rule = json.dumps([{"cidr": "140.82.112.0/20", "description": "GitHub's git ranges"}])
    with pytest.raises(ConfigError) as info:
        _plan("poc", "example", {"http_proxy": "", "proxy_cidrs": "[]", "egress_allowlist": rule}, tmp_root)
    assert str(info.value).startswith('egress_allowlist.description must be free of "\'"')
    with pytest.raises(ConfigError) as info:
        _plan("single-node", "example", {"tags": json.dumps({"team": "R&D"})}, tmp_root)
    assert "must be letters, digits, spaces and _ . : / = + - @ only (got 'R&D')" in str(info.value)
