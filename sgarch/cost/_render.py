"""Rich rendering of a :class:`~sgarch.cost.CostEstimate` for ``sgarch plan``."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sgarch.cost._model import CostEstimate

__all__ = ["format_usd", "render_cost"]


def format_usd(amount: float) -> str:
    """``1234.5`` -> ``$1,234.50``."""
    return f"${amount:,.2f}"


def render_cost(console: Console, estimate: CostEstimate, top: int | None = None) -> None:
    """Print the estimate: the ``top`` most expensive lines (all for None), the total, what is not priced,
    and every assumption behind the figures."""
    lines = estimate.top(top)
    table = Table(
        title=f"Monthly cost, approximate ({estimate.region}, prices as of {estimate.as_of})",
        show_edge=False,
        title_justify="left",
    )
    table.add_column("resource")
    table.add_column("item")
    table.add_column("quantity", justify="right")
    table.add_column("unit price", justify="right")
    table.add_column("monthly", justify="right")
    for line in lines:
        note = f" [dim]({escape(line.assumption)})[/dim]" if line.assumption else ""
        table.add_row(
            escape(line.resource),
            escape(line.item) + note,
            f"{line.quantity:,.6g} {escape(line.unit)}",
            f"${line.unit_price_usd:,.5g}",
            format_usd(line.monthly_usd),
        )
    hidden = len(estimate.lines) - len(lines)
    if hidden > 0:
        rest = sum(line.monthly_usd for line in estimate.top(None)[len(lines) :])
        table.add_row(
            "", f"[dim]{hidden} more lines (sgarch plan --cost shows all)[/dim]", "", "", format_usd(rest)
        )
    table.add_row("[bold]total[/bold]", "", "", "", f"[bold]{format_usd(estimate.total_monthly_usd)}[/bold]")
    console.print(table)
    if estimate.not_priced:
        console.print("[yellow]Not priced (not in the total):[/yellow]")
        for item in estimate.not_priced:
            console.print(f"  {escape(item.type)} {escape(item.resource)}: {escape(item.reason)}")
    if top is None:
        console.print("[dim]Assumptions:[/dim]")
        for text in estimate.assumptions:
            console.print(f"  [dim]- {escape(text)}[/dim]")
    else:
        console.print(
            f"[dim]Approximate list prices; assumptions: sgarch plan --cost. {escape(estimate.source)}[/dim]"
        )
