"""``sgarch plan`` without the CLI: run a stack folder offline under mocks and get a :class:`Plan`.

from sgarch.plan import run_plan

plan = run_plan("stacks/single-node", stack="example", config={"tier": "M"})
volume = plan.one("aws:ebs/volume:Volume")
assert volume.protect and volume.inputs["encrypted"]
"""

from __future__ import annotations

from sgarch.plan._model import Plan, json_ready
from sgarch.plan._project import (
    ConfigKey,
    Project,
    ResolvedConfig,
    full_key,
    load_project,
    parse_overrides,
    resolve_config,
)
from sgarch.plan._runner import StackProgramError, run_plan

__all__ = [
    "ConfigKey",
    "Plan",
    "Project",
    "ResolvedConfig",
    "StackProgramError",
    "full_key",
    "json_ready",
    "load_project",
    "parse_overrides",
    "resolve_config",
    "run_plan",
]
