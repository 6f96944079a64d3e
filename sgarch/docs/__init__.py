"""Generate ``reference-architectures/`` from the code: plan every stack at every tier, price it, check it.

The same run writes the ``config:`` section of each ``stacks/<slug>/Pulumi.yaml`` from the stack's settings
model, so the config keys' descriptions are the fields' docstrings.

    python -m sgarch.docs            # write the pages (what `make docs` runs)
    python -m sgarch.docs --check    # exit 1 and name the stale pages instead

Generation is deterministic: the same code gives byte-identical pages.
"""

from __future__ import annotations

from sgarch.docs._architectures import ARCHITECTURES, Architecture, Variant
from sgarch.docs._generate import DOCS_DIR, generate_pages, stale_pages, write_pages
from sgarch.docs._mermaid import render_mermaid
from sgarch.docs._plans import DOCS_REGION, DOCS_STACK, PlannedTier, plan_stack, plan_variant
from sgarch.docs._project_files import STACK_SETTINGS, config_description, render_project_file

__all__ = [
    "ARCHITECTURES",
    "DOCS_DIR",
    "DOCS_REGION",
    "DOCS_STACK",
    "STACK_SETTINGS",
    "Architecture",
    "PlannedTier",
    "Variant",
    "config_description",
    "generate_pages",
    "plan_stack",
    "plan_variant",
    "render_mermaid",
    "render_project_file",
    "stale_pages",
    "write_pages",
]
