"""The migration plan as plain text, as ``sgarch migrate plan`` prints it and the generated page shows it.

Commands stay unwrapped and unstyled, one to a line after ``$``, so they copy and paste.
"""

from __future__ import annotations

from sgarch.migrate.plan import MigrationPlan

__all__ = ["render_plan"]


def render_plan(result: MigrationPlan) -> str:
    """The numbered steps with their commands, what each touches, and the downtime estimate.

    A blocked plan renders as nothing: the caller prints the reason on its own line.
    """
    if result.blocked:
        return ""
    lines = [
        f"Migrate {result.source.value} -> {result.target.value} at {result.source_version}{_tiers(result)}"
    ]
    downtime = result.downtime
    first, last = result.downtime_steps or (0, 0)
    window = f"steps {first} to {last}"
    if downtime.minutes is not None:
        lines.append(
            f"Downtime: about {_duration(downtime.minutes)} for {downtime.data_gb:g} GB ({window}), then up "
            f"to {downtime.reclone_hours} h of degraded search."
        )
    else:
        lines.append(f"Downtime: pass --data-gb for an estimate ({window}).")
    lines.append(f"Model: {downtime.assumption}.")
    lines += ["", "Steps:"]
    for number, step in enumerate(result.steps, start=1):
        lines.append(f"{number:>3}. {step.title}")
        lines += [f"       $ {command}" for command in step.commands]
        if step.touches:
            lines.append(f"       Touches: {step.touches}.")
        if step.detail:
            lines.append(f"       {step.detail}")
    return "\n".join(lines) + "\n"


def _tiers(result: MigrationPlan) -> str:
    if result.source_tier and result.target_tier:
        return f", tier {result.source_tier} -> {result.target_tier}"
    if result.source_tier:
        return f", source tier {result.source_tier}"
    if result.target_tier:
        return f", target tier {result.target_tier}"
    return ""


def _duration(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h {rest:02d} min" if rest else f"{hours} h"
