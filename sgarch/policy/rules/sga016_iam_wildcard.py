"""SGA-016: no IAM policy allows every action on every resource."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sgarch.policy._index import Resources, policy_statements
from sgarch.policy._model import Rule, Severity, Violation

_POLICIES = (
    "aws:iam/policy:Policy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
)
_ATTACHMENTS = (
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
)
_ROLE = "aws:iam/role:Role"
_TYPES = _POLICIES + _ATTACHMENTS + (_ROLE,)


def _values(value: Any) -> set[str]:
    if value is None:
        return set()
    return {str(v) for v in value} if isinstance(value, (list, tuple)) else {str(value)}


def _full_admin(document: Any) -> bool:
    for statement in policy_statements(document):
        if statement.get("Effect", "Allow") != "Allow":
            continue
        if "*" in _values(statement.get("Action")) and "*" in _values(statement.get("Resource")):
            return True
    return False


def check(resources: Resources) -> Iterator[Violation]:
    """No policy document (or inline role policy) allows ``*`` on ``*``; no AdministratorAccess attachment."""
    for record in resources.of_type(*_POLICIES):
        if _full_admin(record.inputs.get("policy")):
            yield Violation(record, 'the policy allows Action "*" on Resource "*"')
    for record in resources.of_type(_ROLE):
        for inline in record.inputs.get("inlinePolicies") or []:
            if _full_admin(inline.get("policy")):
                yield Violation(record, f'inline policy {inline.get("name", "?")} allows "*" on "*"')
    for record in resources.of_type(*_ATTACHMENTS):
        if str(record.inputs.get("policyArn", "")).endswith(":policy/AdministratorAccess"):
            yield Violation(record, "attaches AdministratorAccess")


RULE = Rule(
    id="SGA-016",
    title='No IAM "*" on "*"',
    severity=Severity.CRITICAL,
    applies_to=_TYPES,
    cause='An IAM policy allows Action "*" on Resource "*", or AdministratorAccess is attached.',
    explanation=(
        "Whoever gets the role's credentials (a compromised pod, a leaked instance profile) owns the account. "
        "Sourcegraph needs a handful of actions: SSM, CloudWatch, and S3 or RDS access where configured."
    ),
    fix="List the actions and resource ARNs the workload needs, or use an AWS managed policy scoped to the task.",
    check=check,
)
