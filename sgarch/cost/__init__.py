"""Offline monthly cost estimates of a recorded plan, from a dated price table.

    from sgarch.cost import estimate_cost

    estimate = estimate_cost(plan.resources, "us-east-1")
    print(estimate.total_monthly_usd, estimate.as_of)
    for line in estimate.top(5):
        print(line.resource, line.item, line.monthly_usd, line.assumption)

Every estimate is approximate: on-demand list prices at 730 hours a month, with each usage assumption (NAT
data, ALB capacity units, S3 storage, snapshot change rate...) printed next to the figure it drives. Resource
types without a price are listed in ``not_priced``, never counted as zero.
"""

from __future__ import annotations

from sgarch.cost._ebs import ebs_volume_items
from sgarch.cost._estimate import estimate_cost, priced_types
from sgarch.cost._model import Assumptions, CostEstimate, CostLine, NotPriced, with_assumptions
from sgarch.cost._render import format_usd, render_cost
from sgarch.cost._table import EbsPrices, IopsTier, PriceTable, RegionPrices, load_price_table

__all__ = [
    "Assumptions",
    "CostEstimate",
    "CostLine",
    "EbsPrices",
    "IopsTier",
    "NotPriced",
    "PriceTable",
    "RegionPrices",
    "ebs_volume_items",
    "estimate_cost",
    "format_usd",
    "load_price_table",
    "priced_types",
    "render_cost",
    "with_assumptions",
]
