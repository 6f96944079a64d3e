"""Plan every stack folder that exists and render the pages under ``reference-architectures/``.

Also renders the single-node image's per-tier compose overrides and upgrade table (``amis/single-node/``),
which come from the same estimator and planner and must not drift from them either, and the ``config:``
section of each ``stacks/<slug>/Pulumi.yaml``, whose descriptions are the settings models' field docstrings.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from sgarch.docs._architectures import ARCHITECTURES, Architecture
from sgarch.docs._migrate import MIGRATE_PAGE, render_migrate
from sgarch.docs._plans import PlannedTier, plan_stack, plan_variant
from sgarch.docs._project_files import project_files
from sgarch.docs._render import render_architecture, render_policy_rules, render_readme
from sgarch.host import IMAGE_SOURCE_DIR, standalone_image_files

__all__ = ["DOCS_DIR", "generate_pages", "stale_pages", "write_pages"]

DOCS_DIR = "reference-architectures"
"""Where the pages live, relative to the repository root."""

_OWNED_ELSEWHERE = ("validate-your-tier.md",)


def generate_pages(root: Path) -> dict[str, str]:
    """Every generated page as ``{path relative to root: markdown}``; a page per stack folder that exists."""
    pages: dict[str, str] = {}
    planned_pages: list[tuple[Architecture, list[PlannedTier]]] = []
    for arch in ARCHITECTURES:
        stack_dir = root / "stacks" / arch.slug
        if not (stack_dir / "Pulumi.yaml").is_file():
            continue
        planned = plan_stack(stack_dir, arch.docs_config, arch.tiers)
        variants = [
            (v.label, plan_variant(stack_dir, planned[0], arch.docs_config, v.config, v.label))
            for v in arch.variants
        ]
        pages[f"{DOCS_DIR}/{arch.slug}.md"] = render_architecture(arch, planned, variants)
        planned_pages.append((arch, planned))
    links = [
        f"[{name}]({name}) to load-test a deployed tier"
        for name in _OWNED_ELSEWHERE
        if (root / DOCS_DIR / name).is_file()
    ]
    links.insert(
        0, "[policy-rules.md](policy-rules.md): what each security rule checks and how to suppress one"
    )
    # Moving data needs both ends: the page exists when both stack folders do.
    if {"single-node", "eks"} <= {arch.slug for arch, _ in planned_pages}:
        pages[f"{DOCS_DIR}/{MIGRATE_PAGE}"] = render_migrate()
        links.insert(
            1, f"[{MIGRATE_PAGE}]({MIGRATE_PAGE}): move a running Sourcegraph between single-node and EKS"
        )
    pages[f"{DOCS_DIR}/README.md"] = render_readme(planned_pages, links)
    pages[f"{DOCS_DIR}/policy-rules.md"] = render_policy_rules()
    # Not pages, but generated from the same code: what the single-node image needs to boot on its own.
    spec_file = root / IMAGE_SOURCE_DIR / "ami.yaml"
    if spec_file.is_file():
        version = str(yaml.safe_load(spec_file.read_text(encoding="utf-8"))["sourcegraph_version"])
        for name, text in standalone_image_files(version.removeprefix("v")).items():
            pages[f"{IMAGE_SOURCE_DIR}/{name}"] = text
    pages.update(project_files(root))
    return dict(sorted(pages.items()))


def write_pages(root: Path) -> list[str]:
    """Write every generated page under ``root``; return the paths that changed."""
    # The project files first: the pages plan the stacks with the defaults those files declare.
    changed = _write(root, project_files(root))
    return changed + [path for path in _write(root, generate_pages(root)) if path not in changed]


def _write(root: Path, pages: dict[str, str]) -> list[str]:
    changed = []
    for relative, text in pages.items():
        path = root / relative
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(relative)
    return changed


def stale_pages(root: Path) -> list[str]:
    """Pages whose committed text differs from what the code generates (missing pages included)."""
    stale = []
    for relative, text in generate_pages(root).items():
        path = root / relative
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(relative)
    return stale
