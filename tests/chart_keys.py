"""The official chart's key names, as tests check sgarch's Helm values against them.

``chart-keys.txt`` lists every key path of the chart's values.yaml; ``chart-template-keys.yaml`` adds the
value paths its templates read that values.yaml does not declare (with file and line).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).parent / "data"

VALUES_KEYS = frozenset(
    line.strip()
    for line in (DATA / "chart-keys.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
)
"""Every key path of the chart's values.yaml."""

TEMPLATE_KEYS: dict[str, Any] = yaml.safe_load((DATA / "chart-template-keys.yaml").read_text())
"""What the chart's templates read, by kind (``values``, Secret keys, env names), with citations."""

CHART_KEYS = VALUES_KEYS | frozenset(TEMPLATE_KEYS["values"])
"""Every value path the chart knows: declared in values.yaml or read by a template."""


def key_paths(
    node: dict[str, Any], free_form: tuple[str, ...] = ("env", "annotations"), prefix: str = ""
) -> list[str]:
    """Every key path of ``node``, not descending into maps whose keys the chart leaves free (env, annotations)."""
    paths = []
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else key
        paths.append(path)
        if isinstance(value, dict) and key not in free_form:
            paths.extend(key_paths(value, free_form, path))
    return paths
