"""Rendered Helm values and Compose overrides per tier, committed and compared."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import yaml

from sgarch.sizing import estimate_for_tier
from sgarch.sizing.compose import render_compose_override
from sgarch.sizing.helm_values import render_helm_values
from sgarch.tiers import Tier, machine_tiers


@pytest.mark.parametrize("tier", list(Tier), ids=str)
def test_helm_values_golden(tier: Tier, golden: Callable[[str, str], None]) -> None:
    values = render_helm_values(estimate_for_tier(tier))
    golden(f"estimates/helm-values-{tier}.yaml", yaml.safe_dump(values, sort_keys=True))


@pytest.mark.parametrize("tier", machine_tiers(), ids=str)
def test_compose_override_golden(tier: Tier, golden: Callable[[str, str], None]) -> None:
    override = render_compose_override(estimate_for_tier(tier))
    golden(f"estimates/compose-override-{tier}.yaml", yaml.safe_dump(override, sort_keys=True))
