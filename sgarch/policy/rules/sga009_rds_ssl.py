"""SGA-009: RDS PostgreSQL refuses connections without SSL."""

from __future__ import annotations

import re
from collections.abc import Iterator

from sgarch.policy._index import Resources
from sgarch.policy._model import Rule, Severity, Violation

_TYPES = ("aws:rds/instance:Instance",)
_PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
# From PostgreSQL 15, RDS's default parameter group sets rds.force_ssl to 1.
_FORCED_BY_DEFAULT_FROM = 15


def _major(version: object) -> int | None:
    match = re.match(r"(\d+)", str(version or ""))
    return int(match.group(1)) if match else None


def check(resources: Resources) -> Iterator[Violation]:
    """PostgreSQL instances use a parameter group with ``rds.force_ssl=1`` (or a default one that has it)."""
    for record in resources.of_type(*_TYPES):
        inputs = record.inputs
        if inputs.get("engine") != "postgres":
            continue
        group_name = inputs.get("parameterGroupName")
        group = resources.resolve(group_name, _PARAMETER_GROUP)
        if group is not None:
            params = {str(p.get("name")): str(p.get("value")) for p in group.inputs.get("parameters") or []}
            if params.get("rds.force_ssl") != "1":
                yield Violation(record, f"parameter group {group.name} does not set rds.force_ssl to 1")
            continue
        if group_name and not str(group_name).startswith("default."):
            yield Violation(
                record, f"parameter group {group_name} is not in the plan, so SSL cannot be verified"
            )
            continue
        major = _major(inputs.get("engineVersion"))
        if major is None or major < _FORCED_BY_DEFAULT_FROM:
            shown = inputs.get("engineVersion") or "unset"
            yield Violation(
                record, f"the default parameter group of PostgreSQL {shown} accepts connections without SSL"
            )


RULE = Rule(
    id="SGA-009",
    title="RDS requires SSL",
    severity=Severity.HIGH,
    applies_to=_TYPES,
    cause="An RDS PostgreSQL instance can accept unencrypted connections (rds.force_ssl is not 1).",
    explanation=(
        "Database traffic carries every query Sourcegraph makes, including credentials. rds.force_ssl=1 "
        "makes the server refuse plain connections, so a misconfigured client fails loudly instead of "
        "silently sending data in the clear. RDS sets it by default from PostgreSQL 15."
    ),
    fix="Use PostgreSQL 15 or newer with the default parameter group, or a ParameterGroup with rds.force_ssl=1.",
    check=check,
)
