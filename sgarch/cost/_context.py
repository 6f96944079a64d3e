"""What every pricer shares: the region's prices, the assumptions, the other records, and the lines so far.

A pricer is ``(PricingContext, ResourceRecord) -> None``: it adds lines with :meth:`PricingContext.add`, or
raises :class:`Unpriced` when it cannot price the resource (then :func:`sgarch.cost.estimate_cost` drops the
lines it already added and lists the resource under ``not_priced``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sgarch.cost._model import Assumptions, CostLine, NotPriced
from sgarch.cost._table import PriceTable, RegionPrices

if TYPE_CHECKING:
    from sgarch.testing import ResourceRecord

__all__ = ["PricingContext", "Unpriced", "as_float"]


class Unpriced(Exception):
    """Raised by a pricer for a resource (or part) it cannot price."""


@dataclass
class PricingContext:
    """One estimate in progress: the pricers read the prices and the other records, and append lines here."""

    prices: RegionPrices
    table: PriceTable
    assumptions: Assumptions
    records: Sequence[ResourceRecord]
    hours: int
    lines: list[CostLine] = field(default_factory=list)
    not_priced: list[NotPriced] = field(default_factory=list)

    def add(
        self,
        record: ResourceRecord,
        item: str,
        category: str,
        quantity: float,
        unit: str,
        unit_price: float,
        assumption: str | None = None,
    ) -> None:
        """Add ``quantity`` ``unit`` at ``unit_price`` USD as one line of ``record``."""
        self.lines.append(
            CostLine(
                resource=record.name,
                type=record.type,
                item=item,
                category=category,
                quantity=quantity,
                unit=unit,
                unit_price_usd=unit_price,
                monthly_usd=quantity * unit_price,
                assumption=assumption,
            )
        )

    def unpriced(self, record: ResourceRecord, reason: str) -> None:
        """List a part of ``record`` as not priced while its other lines stay (an extra EBS device, say)."""
        self.not_priced.append(NotPriced(record.name, record.type, reason))

    def instance_hourly(self, instance_type: str) -> float:
        """The on-demand hourly price of ``instance_type``; raises :class:`Unpriced` when the table lacks it."""
        price = self.prices.ec2_instance_hourly.get(instance_type)
        if price is None:
            raise Unpriced(f"no price for instance type {instance_type}")
        return price

    def by_type(self, type_: str) -> list[ResourceRecord]:
        """The plan's records of ``type_`` (DLM policies for a volume, launch templates for a node group)."""
        return [r for r in self.records if r.type == type_]


def as_float(value: Any) -> float | None:
    """A recorded input as a number; None when it is unset, a bool, or not a number (an unknown output)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
