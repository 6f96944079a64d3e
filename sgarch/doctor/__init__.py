"""Diagnostics for a live deployment: ``sgarch doctor`` checks and the support bundle.

:func:`run_checks` turns a :class:`DoctorContext` (stack outputs plus boto3 clients) into findings, one per
check, each ok / warn / fail / skip / "could not check" with its fix. :func:`render_support_bundle` writes
the escalation template, redacted by :func:`redact`.
"""

from __future__ import annotations

from sgarch.doctor.bundle import AlarmReport, collect_alarms, render_support_bundle
from sgarch.doctor.checks import CHECKS, DoctorContext, Finding, Status, exit_status, run_checks
from sgarch.doctor.redact import REDACTION_RULES, RedactionRule, redact

__all__ = [
    "CHECKS",
    "REDACTION_RULES",
    "AlarmReport",
    "DoctorContext",
    "Finding",
    "RedactionRule",
    "Status",
    "collect_alarms",
    "exit_status",
    "redact",
    "render_support_bundle",
    "run_checks",
]
