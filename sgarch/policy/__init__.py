"""Security policy checks over a recorded plan: one rule per module, pure functions, written suppressions.

    from sgarch.policy import evaluate, has_blocking

    findings = evaluate(plan.resources, {"SGA-014": "redis-cache only holds recomputable data"})
    for finding in findings:
        print(finding.rule_id, finding.severity, finding.resource, finding.message)
    if has_blocking(findings, "high"):
        raise SystemExit(1)

Rules live in ``sgarch/policy/rules/`` (``SGA-001``...), each with a severity, a cause, an explanation and
a fix; ``reference-architectures/policy-rules.md`` is generated from them.
"""

from __future__ import annotations

from sgarch.policy._evaluate import SUPPRESSIONS_KEY, check_suppressions, evaluate, has_blocking, rule
from sgarch.policy._index import Resources
from sgarch.policy._model import Finding, Rule, Severity, Violation
from sgarch.policy._render import render_findings
from sgarch.policy.rules import RULES

__all__ = [
    "RULES",
    "SUPPRESSIONS_KEY",
    "Finding",
    "Resources",
    "Rule",
    "Severity",
    "Violation",
    "check_suppressions",
    "evaluate",
    "has_blocking",
    "render_findings",
    "rule",
]
