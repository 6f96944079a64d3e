"""Generate ``reference-architectures/`` from the code: plan every stack at every tier, price it, check it.

    python -m sgarch.docs            # write the pages (what `make docs` runs)
    python -m sgarch.docs --check    # exit 1 and name the stale pages instead

Generation is deterministic: the same code gives byte-identical pages.
"""

from __future__ import annotations

from sgarch.docs._architectures import ARCHITECTURES, Architecture, Variant
from sgarch.docs._generate import DOCS_DIR, generate_pages, stale_pages, write_pages
from sgarch.docs._mermaid import render_mermaid
from sgarch.docs._plans import DOCS_REGION, DOCS_STACK, PlannedTier, plan_stack, plan_variant

__all__ = [
    "ARCHITECTURES",
    "DOCS_DIR",
    "DOCS_REGION",
    "DOCS_STACK",
    "Architecture",
    "PlannedTier",
    "Variant",
    "generate_pages",
    "plan_stack",
    "plan_variant",
    "render_mermaid",
    "stale_pages",
    "write_pages",
]
