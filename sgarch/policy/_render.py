"""Rich rendering of policy findings for ``sgarch plan``."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sgarch.policy._model import Finding, Severity
from sgarch.policy.rules import RULES

__all__ = ["render_findings"]

_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "dim",
}


def render_findings(console: Console, findings: Sequence[Finding]) -> None:
    """Print each finding (rule, severity, resource, what and how to fix), suppressed ones with their reason."""
    active = [f for f in findings if not f.suppressed]
    suppressed = [f for f in findings if f.suppressed]
    if not findings:
        console.print(f"[green]Policy: {len(RULES)} rules, no findings.[/green]")
        return
    table = Table(title="Policy findings", show_edge=False, title_justify="left")
    table.add_column("rule")
    table.add_column("severity")
    table.add_column("resource")
    table.add_column("finding")
    for finding in active + suppressed:
        style = "dim" if finding.suppressed else _STYLE[finding.severity]
        text = escape(finding.message)
        if finding.suppressed:
            text += f" [dim](suppressed: {escape(finding.suppression_reason or '')})[/dim]"
        else:
            text += f"\n[dim]fix: {escape(finding.fix)}[/dim]"
        table.add_row(
            f"{finding.rule_id} {escape(finding.title)}",
            f"[{style}]{finding.severity.value}[/{style}]",
            escape(finding.resource),
            text,
        )
    console.print(table)
    counts = {s: sum(1 for f in active if f.severity == s) for s in reversed(Severity)}
    summary = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
    console.print(f"Policy: {summary or 'no active findings'}; {len(suppressed)} suppressed.")
