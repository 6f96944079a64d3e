"""Run every rule over recorded resources and apply the stack's written suppressions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from sgarch.errors import ConfigError
from sgarch.policy._index import Resources
from sgarch.policy._model import Finding, Rule, Severity
from sgarch.policy.rules import RULES

if TYPE_CHECKING:
    from sgarch.testing import ResourceRecord

__all__ = ["SUPPRESSIONS_KEY", "check_suppressions", "evaluate", "has_blocking", "rule"]

SUPPRESSIONS_KEY = "policy_suppressions"
"""The stack config key holding suppressions: a map of rule id to the written reason."""


def rule(rule_id: str) -> Rule:
    """The rule with id ``rule_id`` (``"SGA-001"``); ConfigError when there is none."""
    for candidate in RULES:
        if candidate.id == rule_id:
            return candidate
    raise ConfigError(
        SUPPRESSIONS_KEY,
        f"keyed by rule ids from {RULES[0].id} to {RULES[-1].id}",
        rule_id,
        "see reference-architectures/policy-rules.md for the rules",
    )


def check_suppressions(suppressions: Mapping[str, str]) -> dict[str, str]:
    """Validate ``rule id -> reason``: known ids, non-empty written reasons. Returns them stripped."""
    checked: dict[str, str] = {}
    for rule_id, reason in suppressions.items():
        rule(str(rule_id))
        text = reason.strip() if isinstance(reason, str) else ""
        if not text:
            raise ConfigError(
                f"{SUPPRESSIONS_KEY}.{rule_id}",
                "a written reason",
                reason,
                "say why the rule does not apply to this stack, for reviewers and auditors",
            )
        checked[str(rule_id)] = text
    return checked


def evaluate(
    records: Iterable[ResourceRecord],
    suppressions: Mapping[str, str] | None = None,
    rules: Iterable[Rule] = RULES,
) -> list[Finding]:
    """Every finding of ``rules`` over ``records``, most severe first.

    Findings of a suppressed rule stay in the list, marked ``suppressed`` with the reason, so output can
    show them. Raises ConfigError for an unknown rule id or an empty reason in ``suppressions``.
    """
    reasons = check_suppressions(suppressions or {})
    resources = Resources(records)
    findings: list[Finding] = []
    for current in rules:
        for violation in current.check(resources):
            record = violation.record
            reason = reasons.get(current.id)
            findings.append(
                Finding(
                    rule_id=current.id,
                    title=current.title,
                    severity=current.severity,
                    resource_type=record.type,
                    resource=record.name,
                    urn=record.urn,
                    message=violation.message,
                    fix=current.fix,
                    suppressed=reason is not None,
                    suppression_reason=reason,
                )
            )
    findings.sort(key=lambda f: (-f.severity.rank, f.rule_id, f.resource, f.message))
    return findings


def has_blocking(findings: Iterable[Finding], threshold: Severity | str = Severity.HIGH) -> bool:
    """Whether any unsuppressed finding is at ``threshold`` or above (for ``sgarch plan --strict``)."""
    try:
        level = Severity(str(threshold).lower())
    except ValueError:
        raise ConfigError(
            "--strict", f"one of {', '.join(s.value for s in Severity)}", threshold, "pick a severity"
        ) from None
    return any(f.severity >= level and not f.suppressed for f in findings)
