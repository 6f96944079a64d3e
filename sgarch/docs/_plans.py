"""Plan a stack folder's example stack at every tier it supports, then price and check each plan."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sgarch.cost import CostEstimate, estimate_cost
from sgarch.errors import ConfigError
from sgarch.plan import Plan, full_key, load_project, run_plan
from sgarch.policy import Finding, evaluate
from sgarch.tiers import Tier

__all__ = ["DOCS_REGION", "DOCS_STACK", "PlannedTier", "plan_stack", "plan_variant"]

DOCS_REGION = "us-east-1"
"""The region every generated page is planned and priced in."""


@dataclass(frozen=True)
class PlannedTier:
    """One planned configuration of a stack: its tier (None for stacks without tiers), plan, cost, findings."""

    label: str
    tier: Tier | None
    plan: Plan
    cost: CostEstimate
    findings: tuple[Finding, ...]


def _plan(stack_dir: Path, config: dict[str, str], label: str, tier: Tier | None) -> PlannedTier:
    plan = run_plan(stack_dir, stack=DOCS_STACK, config=config)
    suppressions = _suppressions(plan)
    return PlannedTier(
        label=label,
        tier=tier,
        plan=plan,
        cost=estimate_cost(plan.resources, DOCS_REGION),
        findings=tuple(evaluate(plan.resources, suppressions)),
    )


def _suppressions(plan: Plan) -> dict[str, str]:
    raw = plan.config.get(full_key(plan.project, "policy_suppressions"))
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ConfigError("policy_suppressions", "a map of rule id to reason", raw, "see policy-rules.md")
    return {str(k): str(v) for k, v in value.items()}


DOCS_STACK = "example"
"""Every page is planned from the stack folder's ``Pulumi.example.yaml``, the file users copy."""


def _base_config(stack_dir: Path, extra: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    project = load_project(stack_dir)
    config = {"aws:region": DOCS_REGION}
    config.update({full_key(project.name, k): v for k, v in extra.items()})
    return project.name, config


def plan_stack(
    stack_dir: Path, extra: Mapping[str, str] | None = None, tiers: Sequence[str] | None = None
) -> list[PlannedTier]:
    """Plan ``stack_dir`` (its example stack, with ``extra`` config on top) at every tier in ``tiers``.

    Without ``tiers``, every tier the program accepts (XS to 3XL): a tier is unsupported when the program
    rejects it with a ConfigError on ``tier``; any other error propagates. A stack that declares no
    ``tier`` key is planned once.
    """
    project = load_project(stack_dir)
    name, config = _base_config(stack_dir, extra or {})
    tier_key = full_key(name, "tier")
    if tier_key not in project.declared:
        return [_plan(stack_dir, config, "default", None)]
    planned = []
    for tier in Tier:
        if tiers is not None and tier.value not in tiers:
            continue
        try:
            planned.append(_plan(stack_dir, {**config, tier_key: tier.value}, tier.value, tier))
        except ConfigError as exc:
            if tiers is not None or exc.field.split(":")[-1] != "tier":
                raise
    if not planned:
        raise ConfigError(tier_key, "accepted for at least one tier", None, "check the stack's tier handling")
    return planned


def plan_variant(
    stack_dir: Path, base: PlannedTier, extra: Mapping[str, str], variant: Mapping[str, str], label: str
) -> PlannedTier:
    """Plan ``stack_dir`` like ``base`` (same tier and ``extra``) with ``variant`` config on top."""
    name, config = _base_config(stack_dir, {**extra, **variant})
    if base.tier is not None:
        config[full_key(name, "tier")] = base.tier.value
    return _plan(stack_dir, config, label, base.tier)
